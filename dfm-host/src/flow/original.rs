//! What the original dv-flow-mgr's flow files may hold (its JSON schema,
//! `share/dv.flow.schema.json` of 1.20), so that a flow dfm's own engine
//! does not run is told apart from a mistake: the first is handed to
//! dv-flow-mgr's engine (`dfm run`), the second reported with its line.
//! `tests/upstream_flows.rs` checks these lists against the installed
//! schema.

use super::yaml::Node;

/// Top-level keys of a flow file (`PackageDef` or `FragmentDef`).
pub const TOP: &[&str] = &["package", "fragment"];

/// `PackageDef`'s keys.
pub const PACKAGE: &[&str] = &[
    "configs",
    "desc",
    "doc",
    "filters",
    "fragments",
    "imports",
    "name",
    "overrides",
    "package-map",
    "tags",
    "tasks",
    "type",
    "types",
    "uses",
    "with",
];

/// `TaskDef`'s keys.
pub const TASK: &[&str] = &[
    "abstract",
    "body",
    "cache",
    "consumes",
    "control",
    "desc",
    "doc",
    "elaborate",
    "examples",
    "export",
    "feeds",
    "iff",
    "let",
    "local",
    "max_failures",
    "name",
    "needs",
    "on_error",
    "override",
    "passthrough",
    "produces",
    "pytask",
    "requires",
    "root",
    "run",
    "rundir",
    "scope",
    "set",
    "shell",
    "strategy",
    "summary",
    "tags",
    "uptodate",
    "uses",
    "with",
];

/// `ParamDef`'s keys.
pub const PARAM: &[&str] = &[
    "append",
    "cli",
    "desc",
    "doc",
    "path-append",
    "path-prepend",
    "prepend",
    "type",
    "value",
    "values",
];

/// A tag may be of any type the original's packages define.
pub const ANY_TAG: &[&str] = &["*"];

/// Whether the original accepts `key` where `theirs` lists what it does.
pub fn accepts(theirs: &[&str], key: &str) -> bool {
    theirs == ANY_TAG || theirs.contains(&key)
}

/// The first feature of the original's that `root` (a flow file's tree)
/// uses and dfm's engine does not run, with its line: looked for in the
/// whole file before any check that only dfm's subset makes, so that a
/// flow the original accepts is never refused for a detail of that subset.
pub(super) fn first_feature(root: &Node) -> Option<(usize, String)> {
    let top = entries(root)?;
    for (key, value) in top {
        let name = key.as_str()?;
        if name != "package" {
            if accepts(TOP, name) {
                return Some((key.line(), format!("'{name}' in the flow file")));
            }
            continue;
        }
        let package = entries(value)?;
        if let Some(found) = foreign_key(package, "package", OURS_PACKAGE, PACKAGE) {
            return Some(found);
        }
        for (key, value) in package {
            match key.as_str() {
                Some("with") => {
                    if let Some(found) = in_params(value) {
                        return Some(found);
                    }
                }
                Some("tasks") => {
                    if let Node::Seq { items, .. } = value {
                        if let Some(found) = items.iter().find_map(in_task) {
                            return Some(found);
                        }
                    }
                }
                _ => {}
            }
        }
    }
    None
}

/// The first of dfm's own extensions that `root` uses, which the original
/// refuses (`licenses` in a `std.ResourceTag`), with its line: a flow that
/// must go to the original's engine cannot use them.
pub(super) fn first_extension(root: &Node) -> Option<(usize, String)> {
    let top = entries(root)?;
    let package = top
        .iter()
        .find(|(key, _)| key.as_str() == Some("package"))
        .and_then(|(_, value)| entries(value))?;
    let tasks = package
        .iter()
        .find(|(key, _)| key.as_str() == Some("tasks"))
        .map(|(_, value)| value)?;
    let Node::Seq { items, .. } = tasks else {
        return None;
    };
    for task in items {
        let Some(fields) = entries(task) else {
            continue;
        };
        let name = fields
            .iter()
            .find(|(k, _)| matches!(k.as_str(), Some("name" | "root")))
            .and_then(|(_, v)| v.as_str())
            .unwrap_or_default();
        let tags = fields
            .iter()
            .filter(|(key, _)| key.as_str() == Some("tags"))
            .filter_map(|(_, value)| match value {
                Node::Seq { items, .. } => Some(items),
                _ => None,
            })
            .flatten();
        for tag in tags.filter_map(entries) {
            let resource = tag
                .iter()
                .filter(|(key, _)| key.as_str() == Some("std.ResourceTag"))
                .filter_map(|(_, value)| entries(value))
                .flatten();
            for (key, _) in resource {
                if key.as_str() == Some("licenses") {
                    return Some((
                        key.line(),
                        format!("task '{name}' names 'licenses' in its std.ResourceTag"),
                    ));
                }
            }
        }
    }
    None
}

/// What dfm's engine reads of a package and a task.
const OURS_PACKAGE: &[&str] = &["name", "desc", "with", "tasks"];
const OURS_TASK: &[&str] = &[
    "name", "root", "desc", "shell", "run", "needs", "with", "uses", "tags", "iff", "scope",
];
const OURS_PARAM: &[&str] = &["type", "value", "desc"];

fn in_task(task: &Node) -> Option<(usize, String)> {
    let fields = entries(task)?;
    if let Some(found) = foreign_key(fields, "a task", OURS_TASK, TASK) {
        return Some(found);
    }
    let name = fields
        .iter()
        .find(|(k, _)| matches!(k.as_str(), Some("name" | "root")))
        .and_then(|(_, v)| v.as_str())
        .unwrap_or_default();
    for (key, value) in fields {
        let feature = match (key.as_str(), value.as_str()) {
            (Some("uses"), Some(uses)) if uses != "std.Message" => format!("'uses: {uses}'"),
            (Some("shell"), Some(shell)) if !dfm_wire::SHELLS.contains(&shell) => {
                format!("'shell: {shell}'")
            }
            (Some("with"), _) => match in_params(value) {
                Some(found) => return Some(found),
                None => continue,
            },
            (Some("tags"), _) => {
                let Node::Seq { items, .. } = value else {
                    continue;
                };
                let foreign = items
                    .iter()
                    .filter_map(entries)
                    .find_map(|tag| foreign_key(tag, "a tag", &["std.ResourceTag"], ANY_TAG));
                match foreign {
                    Some(found) => return Some(found),
                    None => continue,
                }
            }
            _ => continue,
        };
        return Some((value.line(), format!("task '{name}': {feature}")));
    }
    None
}

fn in_params(with: &Node) -> Option<(usize, String)> {
    entries(with)?.iter().find_map(|(key, value)| {
        let definition = entries(value)?;
        let name = key.as_str().unwrap_or_default();
        foreign_key(
            definition,
            &format!("parameter '{name}'"),
            OURS_PARAM,
            PARAM,
        )
    })
}

/// The first key of `fields` that dfm does not read and the original does.
fn foreign_key(
    fields: &[(Node, Node)],
    what: &str,
    ours: &[&str],
    theirs: &[&str],
) -> Option<(usize, String)> {
    fields.iter().find_map(|(key, _)| {
        let name = key.as_str()?;
        (!ours.contains(&name) && accepts(theirs, name))
            .then(|| (key.line(), format!("'{name}' in {what}")))
    })
}

fn entries(node: &Node) -> Option<&[(Node, Node)]> {
    match node {
        Node::Map { entries, .. } => Some(entries),
        _ => None,
    }
}
