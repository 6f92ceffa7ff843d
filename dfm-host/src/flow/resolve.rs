//! From tasks as written to the flow: names and needs resolved, `-D`
//! overrides applied, `${{ }}` expanded, `iff` decided.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use dfm_wire::SHELLS;

use super::expr::{self, Scope, Value};
use super::graph::{find_cycle, list_or_none};
use super::loader::{infer, Loader, RawTask};
use super::model::{Action, Flow, FlowError, Task};
use super::yaml::Node;

impl Loader<'_> {
    pub(super) fn apply_package_overrides(
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
                        theirs: None,
                    })
                }
            }
        }
        Ok(())
    }

    pub(super) fn resolve(
        &self,
        package: String,
        package_params: BTreeMap<String, (Value, usize)>,
        raw: Vec<RawTask<'_>>,
    ) -> Result<Flow, FlowError> {
        let index = self.index(&raw)?;
        let overrides = self.overrides_by_task(&index, &package)?;
        let srcdir = self.file.parent().unwrap_or(Path::new(".")).to_path_buf();
        let mut tasks = Vec::with_capacity(raw.len());
        for (i, task) in raw.iter().enumerate() {
            let needs = self.needs(task, &index, &raw, &package)?;
            let params = self.task_params(task, overrides.get(&i).map(Vec::as_slice))?;
            let name = format!("{package}.{}", task.short);
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

    /// Each task's position by its short name; a name defined twice is an
    /// error.
    fn index(&self, raw: &[RawTask<'_>]) -> Result<HashMap<String, usize>, FlowError> {
        let mut index: HashMap<String, usize> = HashMap::new();
        for (i, task) in raw.iter().enumerate() {
            if index.insert(task.short.clone(), i).is_some() {
                return Err(
                    self.error(task.line, format!("task '{}' is defined twice", task.short))
                );
            }
        }
        Ok(index)
    }

    /// The `-D TASK.PARAM=VALUE` overrides, by task position; one that
    /// names no task of the package is an error.
    fn overrides_by_task(
        &self,
        index: &HashMap<String, usize>,
        package: &str,
    ) -> Result<HashMap<usize, Vec<(String, String)>>, FlowError> {
        let prefix = format!("{package}.");
        let mut by_task: HashMap<usize, Vec<(String, String)>> = HashMap::new();
        for (name, value) in self.context.overrides {
            let Some((task, param)) = name.rsplit_once('.') else {
                continue;
            };
            let short = task.strip_prefix(&prefix).unwrap_or(task);
            let i = *index.get(short).ok_or_else(|| FlowError {
                file: self.file.to_path_buf(),
                line: None,
                message: format!("-D {name}={value}: no task '{task}' in package '{package}'"),
                theirs: None,
            })?;
            by_task
                .entry(i)
                .or_default()
                .push((param.to_string(), value.clone()));
        }
        Ok(by_task)
    }

    /// The positions of the tasks `task` needs, each a task of the package.
    fn needs(
        &self,
        task: &RawTask<'_>,
        index: &HashMap<String, usize>,
        raw: &[RawTask<'_>],
        package: &str,
    ) -> Result<Vec<usize>, FlowError> {
        let prefix = format!("{package}.");
        task.needs
            .iter()
            .map(|(need, line)| {
                let short = need.strip_prefix(&prefix).unwrap_or(need);
                index.get(short).copied().ok_or_else(|| {
                    self.error(
                        *line,
                        format!(
                            "task '{}' needs '{need}', which is not a task of package '{package}' (tasks: {})",
                            task.short,
                            list_or_none(raw.iter().map(|t| &t.short))
                        ),
                    )
                })
            })
            .collect()
    }

    /// The task's parameters, with the `-D` overrides applied; an override
    /// of a parameter it does not have is an error.
    fn task_params(
        &self,
        task: &RawTask<'_>,
        overrides: Option<&[(String, String)]>,
    ) -> Result<BTreeMap<String, Value>, FlowError> {
        let mut params: BTreeMap<String, Value> = task
            .params
            .iter()
            .map(|(k, (v, _))| (k.clone(), v.clone()))
            .collect();
        for (param, value) in overrides.into_iter().flatten() {
            let current = params.get(param).cloned().ok_or_else(|| FlowError {
                file: self.file.to_path_buf(),
                line: None,
                message: format!(
                    "-D {}.{param}={value}: task '{}' has no parameter '{param}' (it has: {})",
                    task.short,
                    task.short,
                    list_or_none(params.keys())
                ),
                theirs: None,
            })?;
            params.insert(param.clone(), override_value(&current, value));
        }
        Ok(params)
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
                return Err(self.theirs(*line, format!("task '{}': 'uses: {uses}'", task.short)));
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
                    expr::expand(&text, scope)
                        .map_err(|e| self.error(node.line(), e.to_string()))?
                }
                None => String::new(),
            };
            return Ok(Action::Message(msg));
        }
        let shell = match &task.shell {
            Some((shell, line)) => {
                if !SHELLS.contains(&shell.as_str()) {
                    return Err(
                        self.theirs(*line, format!("task '{}': 'shell: {shell}'", task.short))
                    );
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
