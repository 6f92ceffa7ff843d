//! `${{ ... }}` expressions in flow files: names (`seed`, `rundir`,
//! `env.HOME`), string, number and boolean literals, comparisons
//! (`== != < <= > >=`), `!`, `&&`, `||` and parentheses.

use std::fmt;

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    /// A `list` parameter (`top: [tb]`).
    List(Vec<Value>),
    /// A `map` parameter, keys in the order written.
    Map(Vec<(String, Value)>),
}

/// As the original's `${{ }}` shows a value in-process: a list as
/// `[tb, dut]`, a map as `{k: v, n: 2}`.
impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Str(s) => f.write_str(s),
            Value::Int(i) => write!(f, "{i}"),
            Value::Float(x) => write!(f, "{x}"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::List(items) => {
                f.write_str("[")?;
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{item}")?;
                }
                f.write_str("]")
            }
            Value::Map(pairs) => {
                f.write_str("{")?;
                for (i, (key, value)) in pairs.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{key}: {value}")?;
                }
                f.write_str("}")
            }
        }
    }
}

impl Value {
    /// The value of its `DFM_PARAM_<NAME>` variable: a list or map as
    /// compact JSON (as the original's data_io writes it), anything else as
    /// shown.
    pub fn env_value(&self) -> String {
        match self {
            Value::List(_) | Value::Map(_) => self.to_json().to_string(),
            other => other.to_string(),
        }
    }

    fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as Json;
        match self {
            Value::Str(s) => Json::String(s.clone()),
            Value::Int(i) => Json::from(*i),
            Value::Float(x) => Json::from(*x),
            Value::Bool(b) => Json::Bool(*b),
            Value::List(items) => Json::Array(items.iter().map(Value::to_json).collect()),
            Value::Map(pairs) => Json::Object(
                pairs
                    .iter()
                    .map(|(k, v)| (k.clone(), v.to_json()))
                    .collect(),
            ),
        }
    }
}

impl Value {
    fn truthy(&self) -> Result<bool, ExprError> {
        match self {
            Value::Bool(b) => Ok(*b),
            Value::Str(s) if s == "true" => Ok(true),
            Value::Str(s) if s == "false" => Ok(false),
            other => Err(ExprError::NotBoolean(other.to_string())),
        }
    }

    fn as_number(&self) -> Option<f64> {
        match self {
            Value::Int(i) => Some(*i as f64),
            Value::Float(x) => Some(*x),
            Value::Str(s) => s.parse().ok(),
            Value::Bool(_) | Value::List(_) | Value::Map(_) => None,
        }
    }
}

/// What is wrong with an expression. `expr` is the expression as written.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ExprError {
    #[error("'{0}' is not a boolean")]
    NotBoolean(String),
    #[error("'${{{{' without a closing '}}}}' in: {0}")]
    Unclosed(String),
    #[error("unexpected '{found}' in expression '{expr}'")]
    Unexpected { found: String, expr: String },
    #[error("unterminated string in expression '{0}'")]
    UnterminatedString(String),
    #[error("empty expression")]
    Empty,
    #[error("expression '{0}' nests more than {MAX_DEPTH} deep")]
    TooDeep(String),
    #[error("expression '{0}' ends too early")]
    EndsEarly(String),
    #[error("'{0}' is not a number")]
    NotNumber(String),
    #[error("unknown name '{name}' in expression (known: {known})")]
    UnknownName { name: String, known: String },
    #[error("missing ')' in expression '{0}'")]
    MissingParen(String),
    #[error("cannot order '{left}' and '{right}': '{op}' needs numbers")]
    Unordered {
        left: String,
        right: String,
        op: String,
    },
}

/// What names mean where an expression is evaluated.
pub trait Scope {
    fn lookup(&self, name: &str) -> Option<Value>;
    /// Names to suggest when one is unknown.
    fn known(&self) -> Vec<String>;
}

/// Replaces every `${{ expr }}` in `template` with its value.
pub fn expand(template: &str, scope: &dyn Scope) -> Result<String, ExprError> {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(start) = rest.find("${{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 3..];
        let end = after
            .find("}}")
            .ok_or_else(|| ExprError::Unclosed(first_line(&rest[start..]).to_string()))?;
        out.push_str(&eval(&after[..end], scope)?.to_string());
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or(s)
}

/// Evaluates one expression.
pub fn eval(source: &str, scope: &dyn Scope) -> Result<Value, ExprError> {
    let tokens = tokenize(source)?;
    let mut parser = ExprParser {
        tokens,
        pos: 0,
        depth: 0,
        scope,
        source,
    };
    let value = parser.or()?;
    match parser.tokens.get(parser.pos) {
        None => Ok(value),
        Some(token) => Err(ExprError::Unexpected {
            found: token.to_string(),
            expr: source.trim().to_string(),
        }),
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Name(String),
    Str(String),
    Num(String),
    Op(&'static str),
}

impl fmt::Display for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Token::Name(s) | Token::Num(s) => f.write_str(s),
            Token::Str(s) => write!(f, "\"{s}\""),
            Token::Op(op) => f.write_str(op),
        }
    }
}

const OPERATORS: &[&str] = &["==", "!=", "<=", ">=", "&&", "||", "<", ">", "!", "(", ")"];

fn tokenize(source: &str) -> Result<Vec<Token>, ExprError> {
    let mut tokens = Vec::new();
    let chars: Vec<char> = source.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '"' || c == '\'' {
            let end = chars[i + 1..]
                .iter()
                .position(|&d| d == c)
                .ok_or_else(|| ExprError::UnterminatedString(source.trim().to_string()))?;
            tokens.push(Token::Str(chars[i + 1..i + 1 + end].iter().collect()));
            i += end + 2;
        } else if c.is_ascii_digit()
            || (c == '-' && chars.get(i + 1).is_some_and(char::is_ascii_digit))
        {
            let start = i;
            i += 1;
            while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.') {
                i += 1;
            }
            tokens.push(Token::Num(chars[start..i].iter().collect()));
        } else if c.is_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len()
                && (chars[i].is_alphanumeric() || chars[i] == '_' || chars[i] == '.')
            {
                i += 1;
            }
            tokens.push(Token::Name(chars[start..i].iter().collect()));
        } else {
            let rest: String = chars[i..].iter().take(2).collect();
            let op = OPERATORS
                .iter()
                .find(|op| rest.starts_with(**op))
                .ok_or_else(|| ExprError::Unexpected {
                    found: c.to_string(),
                    expr: source.trim().to_string(),
                })?;
            tokens.push(Token::Op(op));
            i += op.len();
        }
    }
    if tokens.is_empty() {
        return Err(ExprError::Empty);
    }
    Ok(tokens)
}

/// How deeply `(` and `!` may nest. The parser recurses once per level,
/// so without a bound a long run of `(` overflows the stack and aborts.
const MAX_DEPTH: usize = 64;

struct ExprParser<'a> {
    tokens: Vec<Token>,
    pos: usize,
    /// Open `(` and `!` around the current position.
    depth: usize,
    scope: &'a dyn Scope,
    source: &'a str,
}

impl ExprParser<'_> {
    fn nest(&mut self) -> Result<(), ExprError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(ExprError::TooDeep(self.expr()));
        }
        Ok(())
    }

    /// The expression as written, for errors.
    fn expr(&self) -> String {
        self.source.trim().to_string()
    }

    fn eat(&mut self, op: &str) -> bool {
        let found = matches!(self.tokens.get(self.pos), Some(Token::Op(o)) if *o == op);
        if found {
            self.pos += 1;
        }
        found
    }

    fn or(&mut self) -> Result<Value, ExprError> {
        let mut value = self.and()?;
        while self.eat("||") {
            let right = self.and()?;
            value = Value::Bool(value.truthy()? || right.truthy()?);
        }
        Ok(value)
    }

    fn and(&mut self) -> Result<Value, ExprError> {
        let mut value = self.not()?;
        while self.eat("&&") {
            let right = self.not()?;
            value = Value::Bool(value.truthy()? && right.truthy()?);
        }
        Ok(value)
    }

    fn not(&mut self) -> Result<Value, ExprError> {
        if self.eat("!") {
            self.nest()?;
            let value = !self.not()?.truthy()?;
            self.depth -= 1;
            return Ok(Value::Bool(value));
        }
        self.comparison()
    }

    fn comparison(&mut self) -> Result<Value, ExprError> {
        let left = self.primary()?;
        for op in ["==", "!=", "<=", ">=", "<", ">"] {
            if self.eat(op) {
                let right = self.primary()?;
                return compare(&left, op, &right).map(Value::Bool);
            }
        }
        Ok(left)
    }

    fn primary(&mut self) -> Result<Value, ExprError> {
        let token = self
            .tokens
            .get(self.pos)
            .cloned()
            .ok_or_else(|| ExprError::EndsEarly(self.expr()))?;
        self.pos += 1;
        match token {
            Token::Str(s) => Ok(Value::Str(s)),
            Token::Num(n) => n
                .parse::<i64>()
                .map(Value::Int)
                .or_else(|_| n.parse::<f64>().map(Value::Float))
                .map_err(|_| ExprError::NotNumber(n)),
            Token::Name(name) if name == "true" => Ok(Value::Bool(true)),
            Token::Name(name) if name == "false" => Ok(Value::Bool(false)),
            Token::Name(name) => self.scope.lookup(&name).ok_or_else(|| {
                let mut known = self.scope.known();
                known.sort();
                ExprError::UnknownName {
                    name: name.clone(),
                    known: known.join(", "),
                }
            }),
            Token::Op("(") => {
                self.nest()?;
                let value = self.or()?;
                self.depth -= 1;
                if !self.eat(")") {
                    return Err(ExprError::MissingParen(self.expr()));
                }
                Ok(value)
            }
            Token::Op(op) => Err(ExprError::Unexpected {
                found: op.to_string(),
                expr: self.expr(),
            }),
        }
    }
}

fn compare(left: &Value, op: &str, right: &Value) -> Result<bool, ExprError> {
    if let (Some(a), Some(b)) = (left.as_number(), right.as_number()) {
        if !matches!((left, right), (Value::Str(_), Value::Str(_))) {
            return Ok(match op {
                "==" => a == b,
                "!=" => a != b,
                "<" => a < b,
                "<=" => a <= b,
                ">" => a > b,
                _ => a >= b,
            });
        }
    }
    let (a, b) = (left.to_string(), right.to_string());
    match op {
        "==" => Ok(a == b),
        "!=" => Ok(a != b),
        _ => Err(ExprError::Unordered {
            left: a,
            right: b,
            op: op.to_string(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    struct Map(BTreeMap<&'static str, Value>);

    impl Scope for Map {
        fn lookup(&self, name: &str) -> Option<Value> {
            self.0.get(name).cloned()
        }
        fn known(&self) -> Vec<String> {
            self.0.keys().map(|k| k.to_string()).collect()
        }
    }

    fn scope() -> Map {
        Map(BTreeMap::from([
            ("seed", Value::Int(3)),
            ("mode", Value::Str("fast".into())),
            ("env.HOME", Value::Str("/home/u".into())),
            ("debug", Value::Bool(false)),
        ]))
    }

    #[test]
    fn expands_names_in_text() {
        let s = scope();
        assert_eq!(
            expand("sim --seed ${{ seed }} ${{env.HOME}}/x", &s).expect("expand"),
            "sim --seed 3 /home/u/x"
        );
        assert_eq!(
            expand("no expressions", &s).expect("expand"),
            "no expressions"
        );
    }

    #[test]
    fn evaluates_conditions() {
        let s = scope();
        let cases = [
            ("mode == 'fast'", true),
            ("mode != \"fast\"", false),
            ("seed > 2 && !debug", true),
            ("seed < 2 || (debug || mode == 'fast')", true),
            ("seed == 3.0", true),
            ("true", true),
        ];
        for (expr, expected) in cases {
            assert_eq!(eval(expr, &s), Ok(Value::Bool(expected)), "{expr}");
        }
    }

    #[test]
    fn bad_expressions_say_why() {
        let s = scope();
        let cases = [
            ("sede", "unknown name 'sede'"),
            ("seed ==", "ends too early"),
            ("seed @ 1", "unexpected '@'"),
            ("(seed", "missing ')'"),
            ("'abc", "unterminated string"),
            ("mode < 'x'", "needs numbers"),
            ("", "empty expression"),
        ];
        for (expr, expected) in cases {
            let error = eval(expr, &s).expect_err(expr).to_string();
            assert!(error.contains(expected), "{expr}: {error}");
        }
        let error = expand("echo ${{ seed", &s)
            .expect_err("unclosed")
            .to_string();
        assert!(error.contains("without a closing"), "{error}");
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_stack_overflow() {
        // Found while writing the flow_parse fuzz target: each '(' or '!' was one more
        // level of recursion, so a long run of them aborted the process.
        let s = scope();
        for n in [MAX_DEPTH + 1, 100_000] {
            let parens = "(".repeat(n) + "seed" + &")".repeat(n);
            let error = eval(&parens, &s).expect_err("too deep").to_string();
            assert!(error.contains("nests more than"), "{error}");
            let nots = "!".repeat(n) + "debug";
            let error = eval(&nots, &s).expect_err("too deep").to_string();
            assert!(error.contains("nests more than"), "{error}");
        }
        let ok = "(".repeat(MAX_DEPTH) + "seed" + &")".repeat(MAX_DEPTH);
        assert_eq!(eval(&ok, &s), Ok(Value::Int(3)));
        assert_eq!(eval(&"!".repeat(MAX_DEPTH - 1), &s).ok(), None);
        let nots = "!".repeat(MAX_DEPTH) + "debug";
        assert_eq!(eval(&nots, &s), Ok(Value::Bool(false)));
        // Sequential groups do not add up.
        let flat = vec!["(seed == 3)"; 200].join(" && ");
        assert_eq!(eval(&flat, &s), Ok(Value::Bool(true)));
    }
}
