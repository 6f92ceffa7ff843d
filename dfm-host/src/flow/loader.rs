//! Reading a flow file's YAML tree: every key checked, every mistake
//! reported with its line, before names are resolved.

use std::collections::BTreeMap;
use std::path::Path;

use super::expr::Value;
use super::model::{Context, Flow, FlowError, Resources};
use super::original;
use super::yaml::{self, Node};

pub(super) struct Loader<'a> {
    pub(super) file: &'a Path,
    pub(super) context: &'a Context<'a>,
}

/// A task as written, before names are resolved.
pub(super) struct RawTask<'n> {
    pub(super) short: String,
    pub(super) line: usize,
    pub(super) root: bool,
    pub(super) desc: String,
    pub(super) shell: Option<(String, usize)>,
    pub(super) run: Option<&'n Node>,
    pub(super) needs: Vec<(String, usize)>,
    pub(super) params: BTreeMap<String, (Value, usize)>,
    pub(super) message: Option<&'n Node>,
    pub(super) uses: Option<(String, usize)>,
    pub(super) resources: Resources,
    pub(super) iff: Option<&'n Node>,
}

type Entries<'n> = &'n [(Node, Node)];

impl<'a> Loader<'a> {
    pub(super) fn error(&self, line: usize, message: impl Into<String>) -> FlowError {
        FlowError {
            file: self.file.to_path_buf(),
            line: Some(line),
            message: message.into(),
            theirs: None,
        }
    }

    /// The flow uses `feature`, which the original runs and dfm's engine
    /// does not.
    pub(super) fn theirs(&self, line: usize, feature: String) -> FlowError {
        FlowError {
            file: self.file.to_path_buf(),
            line: Some(line),
            message: format!(
                "{feature}: a feature of the original dv-flow-mgr that dfm's own engine does not run"
            ),
            theirs: Some(feature),
        }
    }

    fn map<'n>(&self, node: &'n Node, what: &str) -> Result<Entries<'n>, FlowError> {
        match node {
            Node::Map { entries, .. } => Ok(entries),
            other => Err(self.error(
                other.line(),
                format!("{what} must be a mapping, not {}", other.kind()),
            )),
        }
    }

    fn seq<'n>(&self, node: &'n Node, what: &str) -> Result<&'n [Node], FlowError> {
        match node {
            Node::Seq { items, .. } => Ok(items),
            n if n.is_null() => Ok(&[]),
            other => Err(self.error(
                other.line(),
                format!("{what} must be a list, not {}", other.kind()),
            )),
        }
    }

    pub(super) fn string(&self, node: &Node, what: &str) -> Result<String, FlowError> {
        match node {
            Node::Scalar { value, .. } => Ok(value.clone()),
            other => Err(self.error(
                other.line(),
                format!("{what} must be a string, not {}", other.kind()),
            )),
        }
    }

    /// Checks keys against `allowed`; returns (key, value) pairs. A key
    /// the original accepts there (`theirs`) is its feature, not a mistake.
    fn keys<'n>(
        &self,
        entries: Entries<'n>,
        what: &str,
        allowed: &[&str],
        theirs: &[&str],
    ) -> Result<Vec<(&'n str, &'n Node)>, FlowError> {
        let mut seen = Vec::new();
        for (key, value) in entries {
            let name = key
                .as_str()
                .ok_or_else(|| self.error(key.line(), format!("keys of {what} must be strings")))?;
            if !allowed.contains(&name) && original::accepts(theirs, name) {
                return Err(self.theirs(key.line(), format!("'{name}' in {what}")));
            }
            if !allowed.contains(&name) {
                return Err(self.error(
                    key.line(),
                    format!(
                        "unknown key '{name}' in {what} (allowed: {})",
                        allowed.join(", ")
                    ),
                ));
            }
            if seen.iter().any(|(k, _)| *k == name) {
                return Err(self.error(key.line(), format!("'{name}' appears twice in {what}")));
            }
            seen.push((name, value));
        }
        Ok(seen)
    }

    pub(super) fn flow(&self, text: &str) -> Result<Flow, FlowError> {
        let root = yaml::parse(text)
            .map_err(|e| self.error(e.line, format!("invalid YAML: {}", e.message)))?
            .ok_or_else(|| self.error(1, "the file is empty; it needs a 'package:' mapping"))?;
        // Ours or the original's, decided before any check of dfm's subset.
        if let Some((line, feature)) = original::first_feature(&root) {
            if let Some((at, extension)) = original::first_extension(&root) {
                return Err(self.error(
                    at,
                    format!(
                        "{extension}, dfm's extension, but the flow also uses {feature} (line {line}), \
                         which only the original's engine runs, and the original refuses the \
                         extension: give the task a resource class whose licenses \
                         runner.resource_classes names instead"
                    ),
                ));
            }
            return Err(self.theirs(line, feature));
        }
        let top = self.keys(
            self.map(&root, "the flow file")?,
            "the flow file",
            &["package"],
            original::TOP,
        )?;
        let Some((_, package)) = top.first() else {
            return Err(self.error(root.line(), "the flow file needs a 'package:' mapping"));
        };
        let package_line = package.line();
        let fields = self.keys(
            self.map(package, "package")?,
            "package",
            &["name", "desc", "with", "tasks"],
            original::PACKAGE,
        )?;
        let mut name = None;
        let mut package_params = BTreeMap::new();
        let mut raw_tasks = Vec::new();
        for (key, value) in fields {
            match key {
                "name" => name = Some(self.string(value, "package name")?),
                "with" => package_params = self.params(value, "package 'with'")?,
                "tasks" => {
                    for item in self.seq(value, "tasks")? {
                        raw_tasks.push(self.raw_task(item)?);
                    }
                }
                _ => {}
            }
        }
        let package = name.ok_or_else(|| self.error(package_line, "package needs a 'name'"))?;
        self.apply_package_overrides(&mut package_params)?;
        self.resolve(package, package_params, raw_tasks)
    }

    fn params(
        &self,
        node: &Node,
        what: &str,
    ) -> Result<BTreeMap<String, (Value, usize)>, FlowError> {
        let mut params = BTreeMap::new();
        for (key, value) in self.map(node, what)? {
            let name = self.string(key, "parameter name")?;
            let param = match value {
                // `{type, value}` (with either); any other mapping is a map value.
                Node::Map { entries, .. } if is_definition(entries) => {
                    let fields = self.keys(
                        entries,
                        &format!("parameter '{name}'"),
                        &["type", "value", "desc"],
                        original::PARAM,
                    )?;
                    let mut kind = None;
                    let mut raw = None;
                    for (k, v) in fields {
                        match k {
                            "type" => kind = Some(self.string(v, "parameter type")?),
                            "value" => raw = Some(v),
                            _ => {}
                        }
                    }
                    let raw = raw.ok_or_else(|| {
                        self.error(value.line(), format!("parameter '{name}' needs a 'value'"))
                    })?;
                    self.typed(raw, kind.as_deref(), &name)?
                }
                other => self.typed(other, None, &name)?,
            };
            params.insert(name, (param, value.line()));
        }
        Ok(params)
    }

    fn typed(&self, node: &Node, kind: Option<&str>, name: &str) -> Result<Value, FlowError> {
        match (node, kind) {
            (Node::Seq { .. } | Node::Map { .. }, None | Some("list") | Some("map")) => {
                if let (Node::Seq { .. }, Some("map")) | (Node::Map { .. }, Some("list")) =
                    (node, kind)
                {
                    return Err(self.error(
                        node.line(),
                        format!(
                            "parameter '{name}' is of type {}, but its value is {}",
                            kind.unwrap_or_default(),
                            node.kind()
                        ),
                    ));
                }
                Ok(self.plain(node))
            }
            (Node::Scalar { .. }, _) => self.scalar(node, kind, name),
            (_, Some(kind)) => Err(self.error(
                node.line(),
                format!("parameter '{name}' is of type {kind}: it must be a single value"),
            )),
        }
    }

    /// A list or map value, each scalar in it as YAML reads it.
    fn plain(&self, node: &Node) -> Value {
        match node {
            Node::Scalar { value, plain, .. } if *plain => infer(value),
            Node::Scalar { value, .. } => Value::Str(value.clone()),
            Node::Seq { items, .. } => Value::List(items.iter().map(|i| self.plain(i)).collect()),
            Node::Map { entries, .. } => Value::Map(
                entries
                    .iter()
                    .map(|(k, v)| (k.as_str().unwrap_or_default().to_string(), self.plain(v)))
                    .collect(),
            ),
        }
    }

    fn scalar(&self, node: &Node, kind: Option<&str>, name: &str) -> Result<Value, FlowError> {
        let Node::Scalar { value, plain, line } = node else {
            return Err(self.error(
                node.line(),
                format!("parameter '{name}' must be a single value"),
            ));
        };
        let bad = |what: &str| {
            self.error(
                *line,
                format!("parameter '{name}': '{value}' is not {what}"),
            )
        };
        match kind {
            None if *plain => Ok(infer(value)),
            // A bare string is an accepted form of a list or a map.
            None | Some("str") | Some("string") | Some("list") | Some("map") => {
                Ok(Value::Str(value.clone()))
            }
            Some("int") => value.parse().map(Value::Int).map_err(|_| bad("an int")),
            Some("float") => value.parse().map(Value::Float).map_err(|_| bad("a float")),
            Some("bool") => match value.as_str() {
                "true" | "True" => Ok(Value::Bool(true)),
                "false" | "False" => Ok(Value::Bool(false)),
                _ => Err(bad("a bool (true or false)")),
            },
            Some(other) => Err(self.error(
                *line,
                format!(
                    "parameter '{name}': unknown type '{other}' (use str, int, float, bool, list or map)"
                ),
            )),
        }
    }

    fn raw_task<'n>(&self, node: &'n Node) -> Result<RawTask<'n>, FlowError> {
        const KEYS: &[&str] = &[
            "name", "root", "desc", "shell", "run", "needs", "with", "uses", "tags", "iff", "scope",
        ];
        let line = node.line();
        let fields = self.keys(self.map(node, "a task")?, "a task", KEYS, original::TASK)?;
        let mut task = RawTask {
            short: String::new(),
            line,
            root: false,
            desc: String::new(),
            shell: None,
            run: None,
            needs: Vec::new(),
            params: BTreeMap::new(),
            message: None,
            uses: None,
            resources: Resources::default(),
            iff: None,
        };
        let mut named = false;
        for (key, value) in &fields {
            match *key {
                "name" | "root" => {
                    if named {
                        return Err(self
                            .error(value.line(), "a task has either 'name' or 'root', not both"));
                    }
                    named = true;
                    task.short = self.string(value, "task name")?;
                    task.root |= *key == "root";
                }
                "desc" => task.desc = self.string(value, "desc")?,
                "shell" => task.shell = Some((self.string(value, "shell")?, value.line())),
                "run" => task.run = Some(value),
                "needs" => {
                    for need in self.seq(value, "needs")? {
                        task.needs.push((self.string(need, "a need")?, need.line()));
                    }
                }
                "with" => {}
                "uses" => task.uses = Some((self.string(value, "uses")?, value.line())),
                "tags" => task.resources = self.tags(value)?,
                "iff" => task.iff = Some(value),
                "scope" => match self.string(value, "scope")?.as_str() {
                    "root" => task.root = true,
                    "export" | "local" => {}
                    other => {
                        return Err(self.error(
                            value.line(),
                            format!("unknown scope '{other}' (use root, export or local)"),
                        ))
                    }
                },
                _ => {}
            }
        }
        if !named {
            return Err(self.error(line, "a task needs a 'name' (or 'root')"));
        }
        if task.short.is_empty()
            || task.short.contains(char::is_whitespace)
            || task.short.contains('/')
        {
            return Err(self.error(line, format!("'{}' is not a valid task name", task.short)));
        }
        if let Some((_, with)) = fields.iter().find(|(k, _)| *k == "with") {
            let what = format!("'with' of task '{}'", task.short);
            task.params = self.params(with, &what)?;
            if let Node::Map { entries, .. } = with {
                task.message = entries
                    .iter()
                    .find(|(k, _)| k.as_str() == Some("msg"))
                    .map(|(_, v)| v);
            }
        }
        Ok(task)
    }

    fn tags(&self, node: &Node) -> Result<Resources, FlowError> {
        let mut resources = Resources::default();
        for tag in self.seq(node, "tags")? {
            let entries = self.map(tag, "a tag")?;
            let tags = self.keys(entries, "a tag", &["std.ResourceTag"], original::ANY_TAG)?;
            for (_, value) in tags {
                let fields = self.keys(
                    self.map(value, "std.ResourceTag")?,
                    "std.ResourceTag",
                    &[
                        "resource_class",
                        "cores",
                        "memory",
                        "queue",
                        "walltime",
                        "licenses",
                    ],
                    &[],
                )?;
                for (key, v) in fields {
                    if key == "licenses" {
                        resources.licenses = self.licenses(v)?;
                        continue;
                    }
                    let text = self.string(v, key)?;
                    match key {
                        "resource_class" => resources.resource_class = text,
                        "cores" => {
                            resources.cores = Some(text.parse().map_err(|_| {
                                self.error(
                                    v.line(),
                                    format!("cores must be a whole number, not '{text}'"),
                                )
                            })?)
                        }
                        "memory" => resources.memory = Some(text),
                        "queue" => resources.queue = Some(text),
                        _ => resources.walltime = Some(text),
                    }
                }
            }
        }
        Ok(resources)
    }
}

impl Loader<'_> {
    /// `licenses: {name: tokens}` of a `std.ResourceTag` (dfm's extension).
    fn licenses(&self, node: &Node) -> Result<BTreeMap<String, u32>, FlowError> {
        let mut licenses = BTreeMap::new();
        for (key, value) in self.map(node, "licenses")? {
            let name = key.as_str().unwrap_or_default().to_string();
            let text = self.string(value, &name)?;
            let tokens = text
                .parse::<u32>()
                .ok()
                .filter(|t| *t >= 1)
                .ok_or_else(|| {
                    self.error(
                        value.line(),
                        format!(
                            "licenses.{name} must be a whole number of tokens from 1, not '{text}'"
                        ),
                    )
                })?;
            licenses.insert(name, tokens);
        }
        Ok(licenses)
    }
}

/// Whether a parameter's mapping defines it (`{type, value}`, with
/// either) rather than being its value.
fn is_definition(entries: &[(Node, Node)]) -> bool {
    entries
        .iter()
        .any(|(key, _)| matches!(key.as_str(), Some("type" | "value")))
}

/// A plain YAML scalar's value.
pub(super) fn infer(text: &str) -> Value {
    match text {
        "true" | "True" => Value::Bool(true),
        "false" | "False" => Value::Bool(false),
        _ => text
            .parse::<i64>()
            .map(Value::Int)
            .or_else(|_| text.parse::<f64>().map(Value::Float))
            .unwrap_or_else(|_| Value::Str(text.to_string())),
    }
}
