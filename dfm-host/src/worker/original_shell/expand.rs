//! `${{ }}` in a shell step's body, as the original's `ShellCallable`
//! (1.20) expands it: `re.sub(r"\$\{\{\s*([^}]+?)\s*\}\}", ...)` where the
//! token, stripped, is `rundir` (the task's rundir), a parameter's name or
//! `this.<name>` (`str()` of its value); anything else is left as
//! `${{ token }}`.

use crate::data_out::pyjson::Json;

/// Why the original's code must expand this body: a token names
/// something of the parameters' namespace object other than a parameter,
/// which only Python can show.
#[derive(Debug, PartialEq)]
pub struct NotPlain(pub String);

/// The body with its tokens expanded.
pub fn expand(body: &str, params: &[(String, Json)], rundir: &str) -> Result<String, NotPlain> {
    let mut out = String::with_capacity(body.len());
    let mut rest = body;
    while let Some(at) = rest.find("${{") {
        let after = &rest[at + 3..];
        match token_at(after) {
            Some((token, used)) => {
                out.push_str(&rest[..at]);
                out.push_str(&resolve(token, params, rundir)?);
                rest = &after[used..];
            }
            None => {
                // No match here: the search goes on from the next character.
                let next = at + 1;
                out.push_str(&rest[..next]);
                rest = &rest[next..];
            }
        }
    }
    out.push_str(rest);
    Ok(out)
}

/// The token of `${{` + `after`, stripped, and how much of `after` the
/// match took; `None` where the pattern does not match. The group takes no
/// `}` and at least one character, so it ends at the first `}`, which must
/// be the first of `}}`.
fn token_at(after: &str) -> Option<(&str, usize)> {
    let close = after.find('}')?;
    if close == 0 || !after[close + 1..].starts_with('}') {
        return None;
    }
    Some((after[..close].trim(), close + 2))
}

fn resolve(token: &str, params: &[(String, Json)], rundir: &str) -> Result<String, NotPlain> {
    if token == "rundir" {
        return Ok(rundir.to_string());
    }
    let param = |name: &str| -> Result<Option<String>, NotPlain> {
        if let Some((_, value)) = params.iter().rev().find(|(key, _)| key == name) {
            return Ok(Some(value.python_str()));
        }
        // The namespace's own attributes: its `model_dump` shim, dunders.
        if name == "model_dump" || (name.starts_with("__") && name.ends_with("__")) {
            return Err(NotPlain(name.to_string()));
        }
        Ok(None)
    };
    if let Some(value) = param(token)? {
        return Ok(value);
    }
    if let Some(name) = token.strip_prefix("this.") {
        if let Some(value) = param(name)? {
            return Ok(value);
        }
    }
    Ok(format!("${{{{ {token} }}}}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params() -> Vec<(String, Json)> {
        vec![
            ("a".into(), Json::Int("1".into())),
            ("s".into(), Json::Str("x y".into())),
            (
                "l".into(),
                Json::Array(vec![Json::Str("tb".into()), Json::Bool(true)]),
            ),
        ]
    }

    #[test]
    fn expands_as_shell_callable_does() {
        let cases = [
            ("echo ${{ a }}", "echo 1"),
            ("echo ${{a}}${{  s  }}", "echo 1x y"),
            ("echo ${{ this.l }}", "echo ['tb', True]"),
            ("cd ${{ rundir }}", "cd /r"),
            (
                "echo ${{ nope }} ${{ this.nope }}",
                "echo ${{ nope }} ${{ this.nope }}",
            ),
            ("echo ${{ env.HOME }}", "echo ${{ env.HOME }}"),
            ("echo ${{ }}", "echo ${{  }}"),
            ("echo ${{}} ${{ a } }}", "echo ${{}} ${{ a } }}"),
            ("echo $${{ a }} ${{ ${{ a }}", "echo $1 ${{ ${{ a }}"),
            ("no tokens", "no tokens"),
            ("echo ${{ a }", "echo ${{ a }"),
        ];
        for (body, expected) in cases {
            assert_eq!(
                expand(body, &params(), "/r").as_deref(),
                Ok(expected),
                "{body}"
            );
        }
    }

    #[test]
    fn namespace_attributes_are_left_to_python() {
        assert!(expand("${{ model_dump }}", &params(), "/r").is_err());
        assert!(expand("${{ this.__dict__ }}", &params(), "/r").is_err());
    }
}
