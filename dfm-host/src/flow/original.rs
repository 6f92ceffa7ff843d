//! What the original dv-flow-mgr's flow files may hold (its JSON schema,
//! `share/dv.flow.schema.json` of 1.20), so that a flow dfm's own engine
//! does not run is told apart from a mistake: the first is handed to
//! dv-flow-mgr's engine (`dfm run`), the second reported with its line.
//! `tests/upstream_flows.rs` checks these lists against the installed
//! schema.

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
