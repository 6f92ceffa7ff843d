//! The flow-file loader (YAML, checks, `${{ }}` expressions) and the
//! expression evaluator on its own: Ok or Err, never a panic or a hang.
//!
//! Lines of the input starting with `#-D name=value` (YAML comments) become
//! `-D` overrides, so that the fuzzer reaches the override code too.
#![no_main]

use std::collections::BTreeMap;
use std::path::Path;

use dfm_host::flow::expr::{self, Scope, Value};
use dfm_host::flow::{parse, Context};
use libfuzzer_sys::fuzz_target;

struct Names;

impl Scope for Names {
    fn lookup(&self, name: &str) -> Option<Value> {
        match name {
            "seed" => Some(Value::Int(3)),
            "ratio" => Some(Value::Float(0.5)),
            "mode" => Some(Value::Str("fast".into())),
            "debug" => Some(Value::Bool(false)),
            "n" => Some(Value::Str("12".into())),
            "env.HOME" => Some(Value::Str("/home/u".into())),
            _ => None,
        }
    }

    fn known(&self) -> Vec<String> {
        ["seed", "ratio", "mode", "debug", "n", "env.HOME"]
            .map(String::from)
            .to_vec()
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let overrides: Vec<(String, String)> = text
        .lines()
        .filter_map(|l| l.strip_prefix("#-D "))
        .filter_map(|d| d.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let env = BTreeMap::from([
        ("USER".to_string(), "ada".to_string()),
        ("HOME".to_string(), "/home/ada".to_string()),
    ]);
    let context = Context {
        overrides: &overrides,
        rundir_base: Path::new("/work/rundir"),
        env: &env,
    };
    if let Ok(flow) = parse(Path::new("/src/flow.dv"), text, &context) {
        // What `dfm run` does next with a loaded flow.
        let all: Vec<usize> = (0..flow.tasks.len()).collect();
        let order = flow.closure(&all);
        assert_eq!(order.len(), flow.tasks.len());
        for task in &flow.tasks {
            let _ = flow.resolve(&task.name);
            assert!(task.name.starts_with(&format!("{}.", flow.package)));
        }
    }
    let _ = expr::expand(text, &Names);
    let _ = expr::eval(text, &Names);
});
