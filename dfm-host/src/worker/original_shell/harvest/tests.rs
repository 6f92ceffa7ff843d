//! The expected values are what dv-flow-mgr 1.20's `harvest_outputs` gave
//! for the same files in its worker (`mkDataItem` of its std package).

use super::*;

fn rundir(name: &str, files: &[(&str, &str)]) -> String {
    let dir = std::env::temp_dir().join(format!("dfm-harvest-{}-{name}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).expect("scratch dir");
    for (file, text) in files {
        fs::write(dir.join(file), text).expect("scratch file");
    }
    dir.display().to_string()
}

fn dumps(values: &[Json]) -> Vec<String> {
    values.iter().map(Json::dumps).collect()
}

#[test]
fn filesets_env_markers_and_memento_read_as_the_original_does() {
    let dir = rundir(
        "all",
        &[
            (
                OUTPUT_FILE,
                "{\"type\":\"std.FileSet\",\"basedir\":\".\",\"files\":[\"a.v\"]}\n\n  \
                 {\"type\":\"std.FileSet\",\"name\":\"n\",\"filetype\":\"v\"}\n[1]\n{\"files\":[]}\n",
            ),
            (ENV_FILE, "X=1\nM<<EOF\nl1\nl2\nEOF\n\nbad line\nX=2=3\n"),
            (PATH_FILE, "/p\n  \n /q \n"),
            (
                MARKERS_FILE,
                "{\"msg\":\"hi\",\"severity\":\"warning\",\"loc\":{\"path\":\"f\",\"line\":3}}\n\
                 {\"msg\":\"m\",\"severity\":\"odd\"}\n\"text\"\n",
            ),
            (MEMENTO_OUT, " {\"m\": 2}\n"),
        ],
    );
    let found = harvest(&dir, "p.t").expect("all plain");
    assert_eq!(
        dumps(&found.output),
        vec![
            format!(
                r#"{{"src":"p.t","seq":0,"type":"std.FileSet","filetype":"","basedir":"{dir}","files":["a.v"],"incdirs":[],"defines":[],"attributes":[]}}"#
            ),
            r#"{"src":"p.t","seq":1,"type":"std.FileSet","filetype":"v","basedir":"","files":[],"incdirs":[],"defines":[],"attributes":[]}"#.to_string(),
            r#"{"src":"p.t","seq":"","vals":{"X":"2=3","M":"l1\nl2"},"append_path":{},"prepend_path":{"PATH":"/p:/q"},"type":"std.Env"}"#.to_string(),
        ]
    );
    assert_eq!(
        dumps(&found.markers),
        vec![
            r#"{"msg":"DFM_OUTPUT line 4 is not a JSON object","severity":"warning","loc":null}"#,
            r#"{"msg":"DFM_OUTPUT line 5 missing 'type'","severity":"warning","loc":null}"#,
            r#"{"msg":"hi","severity":"warning","loc":{"path":"f","line":3,"pos":-1}}"#,
            r#"{"msg":"m","severity":"info","loc":null}"#,
            r#"{"msg":"Invalid marker format: text","severity":"warning","loc":null}"#,
        ]
    );
    assert_eq!(
        found.memento.map(|m| m.dumps()).as_deref(),
        Some(r#"{"m":2}"#)
    );
}

#[test]
fn nothing_handed_back_is_nothing() {
    let dir = rundir(
        "none",
        &[(OUTPUT_FILE, ""), (ENV_FILE, ""), (PATH_FILE, "")],
    );
    assert_eq!(
        harvest(&dir, "t"),
        Ok(Harvest {
            output: Vec::new(),
            markers: Vec::new(),
            memento: None
        })
    );
}

#[test]
fn what_only_the_original_reads_is_left_to_it() {
    let cases = [
        (OUTPUT_FILE, "{\"type\":\"hdlsim.SimArgs\"}\n"),
        (OUTPUT_FILE, "{\"type\": 5}\n"),
        (OUTPUT_FILE, "not json\n"),
        (ENV_FILE, "A=1\r\nB=2\n"),
        (MARKERS_FILE, "{\"msg\": 5}\n"),
        (MARKERS_FILE, "{\"msg\": \"m\", \"loc\": null}\n"),
        (
            MARKERS_FILE,
            "{\"msg\": \"m\", \"loc\": {\"path\": \"p\", \"line\": \"3\"}}\n",
        ),
        (MEMENTO_OUT, "{"),
    ];
    for (i, (file, text)) in cases.into_iter().enumerate() {
        let dir = rundir(&format!("python{i}"), &[(file, text)]);
        assert!(harvest(&dir, "t").is_err(), "{file}: {text}");
    }
}
