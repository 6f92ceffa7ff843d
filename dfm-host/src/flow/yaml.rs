//! A YAML tree that remembers the line of every node, so that flow-file
//! errors can say where to look. Built from yaml-rust2's event parser.

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    /// `plain` is false for quoted and block scalars, which are always
    /// strings.
    Scalar {
        value: String,
        plain: bool,
        line: usize,
    },
    Seq {
        items: Vec<Node>,
        line: usize,
    },
    Map {
        entries: Vec<(Node, Node)>,
        line: usize,
    },
}

impl Node {
    pub fn line(&self) -> usize {
        match self {
            Node::Scalar { line, .. } | Node::Seq { line, .. } | Node::Map { line, .. } => *line,
        }
    }

    /// A plain `~`, `null` or empty scalar.
    pub fn is_null(&self) -> bool {
        matches!(self, Node::Scalar { value, plain: true, .. } if matches!(value.as_str(), "" | "~" | "null" | "Null" | "NULL"))
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Node::Scalar { value, .. } => Some(value),
            _ => None,
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Node::Scalar { .. } => "a scalar",
            Node::Seq { .. } => "a list",
            Node::Map { .. } => "a mapping",
        }
    }
}

/// An error at a line of the document.
#[derive(Debug, Clone, PartialEq)]
pub struct YamlError {
    pub line: usize,
    pub message: String,
}

/// Parses the first document of `text`; `None` for an empty document.
pub fn parse(text: &str) -> Result<Option<Node>, YamlError> {
    let mut builder = Builder::default();
    let mut parser = Parser::new_from_str(text);
    parser.load(&mut builder, false).map_err(|e| YamlError {
        line: e.marker().line(),
        message: e.info().to_string(),
    })?;
    if let Some(error) = builder.error {
        return Err(error);
    }
    Ok(builder.root)
}

#[derive(Default)]
struct Builder {
    stack: Vec<Partial>,
    root: Option<Node>,
    error: Option<YamlError>,
}

enum Partial {
    Seq(Vec<Node>, usize),
    Map(Vec<(Node, Node)>, Option<Node>, usize),
}

impl Builder {
    fn push_node(&mut self, node: Node) {
        match self.stack.last_mut() {
            None => {
                if self.root.is_none() {
                    self.root = Some(node);
                }
            }
            Some(Partial::Seq(items, _)) => items.push(node),
            Some(Partial::Map(entries, key, _)) => match key.take() {
                None => *key = Some(node),
                Some(k) => entries.push((k, node)),
            },
        }
    }
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, event: Event, mark: Marker) {
        let line = mark.line();
        match event {
            Event::Scalar(value, style, _, _) => self.push_node(Node::Scalar {
                value,
                plain: style == TScalarStyle::Plain,
                line,
            }),
            Event::SequenceStart(_, _) => self.stack.push(Partial::Seq(Vec::new(), line)),
            Event::MappingStart(_, _) => self.stack.push(Partial::Map(Vec::new(), None, line)),
            Event::SequenceEnd | Event::MappingEnd => {
                let node = match self.stack.pop() {
                    Some(Partial::Seq(items, line)) => Node::Seq { items, line },
                    Some(Partial::Map(entries, _, line)) => Node::Map { entries, line },
                    None => return,
                };
                self.push_node(node);
            }
            Event::Alias(_) if self.error.is_none() => {
                self.error = Some(YamlError {
                    line,
                    message: "YAML aliases (*name) are not supported in flow files".into(),
                });
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nodes_know_their_lines() {
        let text = "package:\n  name: demo\n  tasks:\n  - name: a\n    run: |\n      echo hi\n";
        let root = parse(text).expect("parse").expect("document");
        let Node::Map { entries, line } = &root else {
            panic!("not a map: {root:?}");
        };
        assert_eq!(*line, 1);
        let Node::Map {
            entries: package, ..
        } = &entries[0].1
        else {
            panic!("package");
        };
        assert_eq!(package[0].1.as_str(), Some("demo"));
        assert_eq!(package[0].1.line(), 2);
        let Node::Seq { items, .. } = &package[1].1 else {
            panic!("tasks");
        };
        assert_eq!(items[0].line(), 4);
        let Node::Map { entries: task, .. } = &items[0] else {
            panic!("task");
        };
        assert_eq!(task[1].1.as_str(), Some("echo hi\n"));
    }

    #[test]
    fn syntax_errors_have_lines() {
        let error = parse("a: [1, 2\nb: 3\n").expect_err("unclosed list");
        assert!(error.line >= 1, "{error:?}");
        assert_eq!(parse("").expect("empty"), None);
    }
}
