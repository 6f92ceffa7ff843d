//! Flow files: the subset of the original's format that `dfm run` runs.
//!
//! ```yaml
//! package:
//!   name: demo
//!   with: {seed: {type: int, value: 1}}
//!   tasks:
//!   - name: build
//!     run: make
//!   - root: test          # `root: NAME` is `name: NAME` + `scope: root`
//!     needs: [build]
//!     run: ./sim --seed ${{ seed }}
//!     tags: [{std.ResourceTag: {resource_class: large}}]
//! ```
//!
//! Loading checks everything before anything runs: unknown keys, unknown
//! tasks in `needs`, cycles, bad expressions. Errors name the file and line.

pub mod expr;
mod yaml;

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};

use expr::{Scope, Value};
use yaml::Node;

use dfm_wire::SHELLS;

/// Root file names, in the order they are looked for.
pub const ROOT_FILES: &[&str] = &["flow.dv", "flow.yaml", "flow.yml"];

#[derive(Debug, Clone, PartialEq)]
pub struct FlowError {
    pub file: PathBuf,
    pub line: Option<usize>,
    pub message: String,
}

impl fmt::Display for FlowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{line}: {}", self.file.display(), self.message),
            None => write!(f, "{}: {}", self.file.display(), self.message),
        }
    }
}

impl std::error::Error for FlowError {}

#[derive(Debug, Clone, PartialEq)]
pub struct Flow {
    pub file: PathBuf,
    /// The folder of the flow file.
    pub srcdir: PathBuf,
    pub package: String,
    pub tasks: Vec<Task>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Task {
    /// `pkg.task`.
    pub name: String,
    pub desc: String,
    pub line: usize,
    pub root: bool,
    pub action: Action,
    /// Indexes into [`Flow::tasks`].
    pub needs: Vec<usize>,
    pub params: BTreeMap<String, Value>,
    pub resources: Resources,
    /// False when `iff` says the task is off.
    pub enabled: bool,
    pub rundir: PathBuf,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    Shell {
        shell: String,
        body: String,
    },
    /// `uses: std.Message`: prints `msg`.
    Message(String),
}

/// A `std.ResourceTag`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Resources {
    pub resource_class: String,
    pub cores: Option<u32>,
    pub memory: Option<String>,
    pub queue: Option<String>,
    pub walltime: Option<String>,
}

/// Everything outside the file that the flow depends on.
pub struct Context<'a> {
    /// `-D name=value` / `-D task.name=value`.
    pub overrides: &'a [(String, String)],
    /// Rundirs go under `<base>/<pkg>.<task>/`.
    pub rundir_base: &'a Path,
    pub env: &'a BTreeMap<String, String>,
}

/// Finds the root flow file, searching up from `start`.
pub fn find_root_file(start: &Path) -> Option<PathBuf> {
    let mut dir = Some(start);
    while let Some(d) = dir {
        for name in ROOT_FILES {
            let candidate = d.join(name);
            if candidate.is_file() {
                return Some(candidate);
            }
        }
        dir = d.parent();
    }
    None
}

pub fn load(file: &Path, context: &Context<'_>) -> Result<Flow, FlowError> {
    let text = std::fs::read_to_string(file).map_err(|e| FlowError {
        file: file.to_path_buf(),
        line: None,
        message: format!("cannot read: {e}"),
    })?;
    parse(file, &text, context)
}

pub fn parse(file: &Path, text: &str, context: &Context<'_>) -> Result<Flow, FlowError> {
    Loader { file, context }.flow(text)
}

struct Loader<'a> {
    file: &'a Path,
    context: &'a Context<'a>,
}

/// A task as written, before names are resolved.
struct RawTask<'n> {
    short: String,
    line: usize,
    root: bool,
    desc: String,
    shell: Option<(String, usize)>,
    run: Option<&'n Node>,
    needs: Vec<(String, usize)>,
    params: BTreeMap<String, (Value, usize)>,
    message: Option<&'n Node>,
    uses: Option<(String, usize)>,
    resources: Resources,
    iff: Option<&'n Node>,
}

type Entries<'n> = &'n [(Node, Node)];

impl<'a> Loader<'a> {
    fn error(&self, line: usize, message: impl Into<String>) -> FlowError {
        FlowError {
            file: self.file.to_path_buf(),
            line: Some(line),
            message: message.into(),
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

    fn string(&self, node: &Node, what: &str) -> Result<String, FlowError> {
        match node {
            Node::Scalar { value, .. } => Ok(value.clone()),
            other => Err(self.error(
                other.line(),
                format!("{what} must be a string, not {}", other.kind()),
            )),
        }
    }

    /// Checks keys against `allowed`; returns (key, value) pairs.
    fn keys<'n>(
        &self,
        entries: Entries<'n>,
        what: &str,
        allowed: &[&str],
    ) -> Result<Vec<(&'n str, &'n Node)>, FlowError> {
        let mut seen = Vec::new();
        for (key, value) in entries {
            let name = key
                .as_str()
                .ok_or_else(|| self.error(key.line(), format!("keys of {what} must be strings")))?;
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

    fn flow(&self, text: &str) -> Result<Flow, FlowError> {
        let root = yaml::parse(text)
            .map_err(|e| self.error(e.line, format!("invalid YAML: {}", e.message)))?
            .ok_or_else(|| self.error(1, "the file is empty; it needs a 'package:' mapping"))?;
        let top = self.keys(
            self.map(&root, "the flow file")?,
            "the flow file",
            &["package"],
        )?;
        let Some((_, package)) = top.first() else {
            return Err(self.error(root.line(), "the flow file needs a 'package:' mapping"));
        };
        let package_line = package.line();
        let fields = self.keys(
            self.map(package, "package")?,
            "package",
            &["name", "desc", "with", "tasks"],
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
                Node::Map { entries, .. } => {
                    let fields = self.keys(
                        entries,
                        &format!("parameter '{name}'"),
                        &["type", "value", "desc"],
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
                scalar @ Node::Scalar { .. } => self.typed(scalar, None, &name)?,
                other => {
                    return Err(self.error(
                        other.line(),
                        format!(
                            "parameter '{name}' must be a value or {{type, value}}, not {}",
                            other.kind()
                        ),
                    ))
                }
            };
            params.insert(name, (param, value.line()));
        }
        Ok(params)
    }

    fn typed(&self, node: &Node, kind: Option<&str>, name: &str) -> Result<Value, FlowError> {
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
            None | Some("str") | Some("string") => Ok(Value::Str(value.clone())),
            Some("int") => value.parse().map(Value::Int).map_err(|_| bad("an int")),
            Some("float") => value.parse().map(Value::Float).map_err(|_| bad("a float")),
            Some("bool") => match value.as_str() {
                "true" | "True" => Ok(Value::Bool(true)),
                "false" | "False" => Ok(Value::Bool(false)),
                _ => Err(bad("a bool (true or false)")),
            },
            Some(other) => Err(self.error(
                *line,
                format!("parameter '{name}': unknown type '{other}' (use str, int, float or bool)"),
            )),
        }
    }

    fn raw_task<'n>(&self, node: &'n Node) -> Result<RawTask<'n>, FlowError> {
        const KEYS: &[&str] = &[
            "name", "root", "desc", "shell", "run", "needs", "with", "uses", "tags", "iff", "scope",
        ];
        let line = node.line();
        let fields = self.keys(self.map(node, "a task")?, "a task", KEYS)?;
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
            for (_, value) in self.keys(entries, "a tag", &["std.ResourceTag"])? {
                let fields = self.keys(
                    self.map(value, "std.ResourceTag")?,
                    "std.ResourceTag",
                    &["resource_class", "cores", "memory", "queue", "walltime"],
                )?;
                for (key, v) in fields {
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

    fn apply_package_overrides(
        &self,
        params: &mut BTreeMap<String, (Value, usize)>,
    ) -> Result<(), FlowError> {
        for (name, value) in self.context.overrides {
            if name.contains('.') {
                continue; // a task parameter, applied with its task
            }
            match params.get_mut(name) {
                Some((current, _)) => *current = override_value(current, value),
                None => {
                    return Err(FlowError {
                        file: self.file.to_path_buf(),
                        line: None,
                        message: format!(
                            "-D {name}={value}: the package has no parameter '{name}' (it has: {})",
                            list_or_none(params.keys())
                        ),
                    })
                }
            }
        }
        Ok(())
    }

    fn resolve(
        &self,
        package: String,
        package_params: BTreeMap<String, (Value, usize)>,
        raw: Vec<RawTask<'_>>,
    ) -> Result<Flow, FlowError> {
        let mut index: HashMap<String, usize> = HashMap::new();
        for (i, task) in raw.iter().enumerate() {
            if index.insert(task.short.clone(), i).is_some() {
                return Err(
                    self.error(task.line, format!("task '{}' is defined twice", task.short))
                );
            }
        }
        let qualified = |short: &str| format!("{package}.{short}");
        let prefix = format!("{package}.");
        let mut task_overrides: HashMap<usize, Vec<(String, String)>> = HashMap::new();
        for (name, value) in self.context.overrides {
            let Some((task, param)) = name.rsplit_once('.') else {
                continue;
            };
            let short = task.strip_prefix(&prefix).unwrap_or(task);
            let i = *index.get(short).ok_or_else(|| FlowError {
                file: self.file.to_path_buf(),
                line: None,
                message: format!("-D {name}={value}: no task '{task}' in package '{package}'"),
            })?;
            task_overrides
                .entry(i)
                .or_default()
                .push((param.to_string(), value.clone()));
        }

        let srcdir = self.file.parent().unwrap_or(Path::new(".")).to_path_buf();
        let mut tasks = Vec::with_capacity(raw.len());
        for (i, task) in raw.iter().enumerate() {
            let mut needs = Vec::new();
            for (need, line) in &task.needs {
                let short = need.strip_prefix(&prefix).unwrap_or(need);
                let j = *index.get(short).ok_or_else(|| {
                    self.error(
                        *line,
                        format!(
                            "task '{}' needs '{need}', which is not a task of package '{package}' (tasks: {})",
                            task.short,
                            list_or_none(raw.iter().map(|t| &t.short))
                        ),
                    )
                })?;
                needs.push(j);
            }
            let mut params: BTreeMap<String, Value> = task
                .params
                .iter()
                .map(|(k, (v, _))| (k.clone(), v.clone()))
                .collect();
            for (param, value) in task_overrides.get(&i).into_iter().flatten() {
                let current = params.get(param).cloned().ok_or_else(|| FlowError {
                    file: self.file.to_path_buf(),
                    line: None,
                    message: format!(
                        "-D {}.{param}={value}: task '{}' has no parameter '{param}' (it has: {})",
                        task.short,
                        task.short,
                        list_or_none(params.keys())
                    ),
                })?;
                params.insert(param.clone(), override_value(&current, value));
            }
            let name = qualified(&task.short);
            let rundir = self.context.rundir_base.join(&name);
            let scope = TaskScope {
                task: &params,
                package: &package_params,
                rundir: &rundir,
                srcdir: &srcdir,
                env: self.context.env,
            };
            let enabled = match task.iff {
                None => true,
                Some(node) => self.condition(node, &scope)?,
            };
            let action = self.action(task, &scope)?;
            tasks.push(Task {
                name,
                desc: task.desc.clone(),
                line: task.line,
                root: task.root,
                action,
                needs,
                params,
                resources: task.resources.clone(),
                enabled,
                rundir,
            });
        }
        let flow = Flow {
            file: self.file.to_path_buf(),
            srcdir,
            package,
            tasks,
        };
        if let Some(cycle) = find_cycle(&flow) {
            let names: Vec<&str> = cycle.iter().map(|&i| flow.tasks[i].name.as_str()).collect();
            return Err(self.error(
                flow.tasks[cycle[0]].line,
                format!(
                    "dependency cycle: {}; remove one of these needs",
                    names.join(" -> ")
                ),
            ));
        }
        Ok(flow)
    }

    fn condition(&self, node: &Node, scope: &TaskScope<'_>) -> Result<bool, FlowError> {
        let text = self.string(node, "iff")?;
        let source = text
            .trim()
            .strip_prefix("${{")
            .and_then(|s| s.strip_suffix("}}"))
            .unwrap_or(&text);
        match expr::eval(source, scope) {
            Ok(Value::Bool(b)) => Ok(b),
            Ok(Value::Str(s)) if s == "true" || s == "false" => Ok(s == "true"),
            Ok(other) => Err(self.error(
                node.line(),
                format!("iff must be true or false, but '{source}' is '{other}'"),
            )),
            Err(e) => Err(self.error(node.line(), format!("bad iff: {e}"))),
        }
    }

    fn action(&self, task: &RawTask<'_>, scope: &TaskScope<'_>) -> Result<Action, FlowError> {
        if let Some((uses, line)) = &task.uses {
            if uses != "std.Message" {
                return Err(self.error(
                    *line,
                    format!(
                        "task '{}': unknown 'uses: {uses}' (dfm runs shell tasks and std.Message)",
                        task.short
                    ),
                ));
            }
            if task.run.is_some() {
                return Err(self.error(
                    *line,
                    format!("task '{}' has both 'uses' and 'run'", task.short),
                ));
            }
            let msg = match task.message {
                Some(node) => {
                    let text = match node {
                        Node::Map { entries, .. } => entries
                            .iter()
                            .find(|(k, _)| k.as_str() == Some("value"))
                            .and_then(|(_, v)| v.as_str())
                            .unwrap_or_default()
                            .to_string(),
                        other => self.string(other, "msg")?,
                    };
                    expr::expand(&text, scope).map_err(|e| self.error(node.line(), e))?
                }
                None => String::new(),
            };
            return Ok(Action::Message(msg));
        }
        let shell = match &task.shell {
            Some((shell, line)) => {
                if !SHELLS.contains(&shell.as_str()) {
                    return Err(self.error(
                        *line,
                        format!(
                            "task '{}': shell '{shell}' is not supported (use one of {})",
                            task.short,
                            SHELLS.join(", ")
                        ),
                    ));
                }
                shell.clone()
            }
            None => "bash".to_string(),
        };
        let body = match task.run {
            Some(node) => {
                let text = self.string(node, "run")?;
                expr::expand(&text, scope).map_err(|e| {
                    self.error(
                        node.line(),
                        format!("in 'run' of task '{}': {e}", task.short),
                    )
                })?
            }
            None => String::new(),
        };
        Ok(Action::Shell { shell, body })
    }
}

fn list_or_none<S: AsRef<str>>(items: impl Iterator<Item = S>) -> String {
    let names: Vec<String> = items.map(|s| s.as_ref().to_string()).collect();
    if names.is_empty() {
        "none".to_string()
    } else {
        names.join(", ")
    }
}

/// A plain YAML scalar's value.
fn infer(text: &str) -> Value {
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

/// A `-D` value, typed like the parameter it replaces where it can be.
fn override_value(current: &Value, text: &str) -> Value {
    match (current, infer(text)) {
        (Value::Str(_), _) => Value::Str(text.to_string()),
        (_, inferred) => inferred,
    }
}

struct TaskScope<'a> {
    task: &'a BTreeMap<String, Value>,
    package: &'a BTreeMap<String, (Value, usize)>,
    rundir: &'a Path,
    srcdir: &'a Path,
    env: &'a BTreeMap<String, String>,
}

impl Scope for TaskScope<'_> {
    fn lookup(&self, name: &str) -> Option<Value> {
        if let Some(var) = name.strip_prefix("env.") {
            return self.env.get(var).map(|v| Value::Str(v.clone()));
        }
        match name {
            "rundir" => Some(Value::Str(self.rundir.display().to_string())),
            "srcdir" => Some(Value::Str(self.srcdir.display().to_string())),
            _ => self
                .task
                .get(name)
                .cloned()
                .or_else(|| self.package.get(name).map(|(v, _)| v.clone())),
        }
    }

    fn known(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .task
            .keys()
            .chain(self.package.keys())
            .cloned()
            .collect();
        names.extend(["rundir", "srcdir", "env.<VAR>"].map(String::from));
        names
    }
}

/// A dependency cycle, as task indexes, if there is one. Iterative: a long
/// chain of `needs` must not overflow the stack.
fn find_cycle(flow: &Flow) -> Option<Vec<usize>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Active,
        Done,
    }
    let mut marks = vec![Mark::New; flow.tasks.len()];
    for root in 0..flow.tasks.len() {
        if marks[root] != Mark::New {
            continue;
        }
        // The current path, each task with the index of its next need.
        let mut path: Vec<(usize, usize)> = vec![(root, 0)];
        marks[root] = Mark::Active;
        while let Some(&mut (task, ref mut next)) = path.last_mut() {
            let Some(&need) = flow.tasks[task].needs.get(*next) else {
                marks[task] = Mark::Done;
                path.pop();
                continue;
            };
            *next += 1;
            match marks[need] {
                Mark::Active => {
                    let start = path.iter().position(|&(t, _)| t == need).unwrap_or(0);
                    let mut cycle: Vec<usize> = path[start..].iter().map(|&(t, _)| t).collect();
                    cycle.push(need);
                    return Some(cycle);
                }
                Mark::New => {
                    marks[need] = Mark::Active;
                    path.push((need, 0));
                }
                Mark::Done => {}
            }
        }
    }
    None
}

impl Flow {
    /// Resolves a task name given on the command line: exactly
    /// (`pkg.task` or `task`), else by unique suffix.
    pub fn resolve(&self, given: &str) -> Result<usize, String> {
        if let Some(i) = self.tasks.iter().position(|t| t.name == given) {
            return Ok(i);
        }
        let short = |t: &Task| t.name[self.package.len() + 1..].to_string();
        if let Some(i) = self.tasks.iter().position(|t| short(t) == given) {
            return Ok(i);
        }
        let matches: Vec<usize> = (0..self.tasks.len())
            .filter(|&i| self.tasks[i].name.ends_with(given))
            .collect();
        match matches.as_slice() {
            [i] => Ok(*i),
            [] => Err(format!(
                "no task '{given}' in {} (root tasks: {})",
                self.file.display(),
                list_or_none(self.root_tasks().map(|t| &t.name))
            )),
            many => Err(format!(
                "'{given}' is ambiguous: it could be {}",
                many.iter()
                    .map(|&i| self.tasks[i].name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        }
    }

    pub fn root_tasks(&self) -> impl Iterator<Item = &Task> {
        self.tasks.iter().filter(|t| t.root)
    }

    /// The tasks to run for `selected`, with everything they need, in
    /// dependency order.
    pub fn closure(&self, selected: &[usize]) -> Vec<usize> {
        // Iterative post-order: needs before the tasks that need them.
        let mut seen = vec![false; self.tasks.len()];
        let mut order = Vec::new();
        for &root in selected {
            if seen[root] {
                continue;
            }
            seen[root] = true;
            let mut stack: Vec<(usize, usize)> = vec![(root, 0)];
            while let Some(&mut (task, ref mut next)) = stack.last_mut() {
                match self.tasks[task].needs.get(*next) {
                    Some(&need) => {
                        *next += 1;
                        if !seen[need] {
                            seen[need] = true;
                            stack.push((need, 0));
                        }
                    }
                    None => {
                        order.push(task);
                        stack.pop();
                    }
                }
            }
        }
        order
    }
}

#[cfg(test)]
mod tests;
