//! Just enough JSON for the load benchmark: its figures as a tree written out with `--json`, and
//! a string value picked out of a server's answer by its key. Not a parser: the answers it reads
//! are the registry's own, and each key it asks for is one whose first occurrence is the one
//! wanted.

use std::fmt::Write as _;

/// A JSON value, objects keeping the order their keys were put in.
#[derive(Debug, Clone, PartialEq)]
pub enum Json {
    Null,
    Number(f64),
    Text(String),
    List(Vec<Json>),
    Object(Vec<(String, Json)>),
}

impl Json {
    pub fn object() -> Self {
        Self::Object(Vec::new())
    }

    /// Sets `key` (replacing its value if it is there already).
    pub fn set(&mut self, key: &str, value: impl Into<Json>) {
        if let Self::Object(fields) = self {
            let value = value.into();
            match fields.iter_mut().find(|(k, _)| k == key) {
                Some((_, old)) => *old = value,
                None => fields.push((key.to_owned(), value)),
            }
        }
    }

    /// `self` with `key` set, for building objects in one expression.
    pub fn with(mut self, key: &str, value: impl Into<Json>) -> Self {
        self.set(key, value);
        self
    }

    /// The value of `key`, if this is an object that has it.
    pub fn get(&self, key: &str) -> Option<&Json> {
        match self {
            Self::Object(fields) => fields.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    pub fn get_mut(&mut self, key: &str) -> Option<&mut Json> {
        match self {
            Self::Object(fields) => fields.iter_mut().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The number at `key` (0 when there is none, as the report prints a missing figure).
    pub fn num(&self, key: &str) -> f64 {
        match self.get(key) {
            Some(Self::Number(n)) => *n,
            _ => 0.0,
        }
    }

    /// The object's fields in order (none for anything else).
    pub fn fields(&self) -> &[(String, Json)] {
        match self {
            Self::Object(fields) => fields,
            _ => &[],
        }
    }

    /// Written out with two spaces an indent level.
    pub fn pretty(&self) -> String {
        let mut out = String::new();
        self.write(&mut out, 0);
        out
    }

    fn write(&self, out: &mut String, depth: usize) {
        let pad = |out: &mut String, depth: usize| out.push_str(&"  ".repeat(depth));
        match self {
            Self::Null => out.push_str("null"),
            Self::Number(n) if n.is_finite() => {
                let _ = write!(out, "{n}");
            }
            Self::Number(_) => out.push_str("null"),
            Self::Text(text) => quote(out, text),
            Self::List(items) if items.is_empty() => out.push_str("[]"),
            Self::List(items) => {
                out.push_str("[\n");
                for (i, item) in items.iter().enumerate() {
                    pad(out, depth + 1);
                    item.write(out, depth + 1);
                    out.push_str(if i + 1 < items.len() { ",\n" } else { "\n" });
                }
                pad(out, depth);
                out.push(']');
            }
            Self::Object(fields) if fields.is_empty() => out.push_str("{}"),
            Self::Object(fields) => {
                out.push_str("{\n");
                for (i, (key, value)) in fields.iter().enumerate() {
                    pad(out, depth + 1);
                    quote(out, key);
                    out.push_str(": ");
                    value.write(out, depth + 1);
                    out.push_str(if i + 1 < fields.len() { ",\n" } else { "\n" });
                }
                pad(out, depth);
                out.push('}');
            }
        }
    }
}

impl From<f64> for Json {
    fn from(n: f64) -> Self {
        Self::Number(n)
    }
}

impl From<usize> for Json {
    fn from(n: usize) -> Self {
        Self::Number(n as f64)
    }
}

impl From<&str> for Json {
    fn from(text: &str) -> Self {
        Self::Text(text.to_owned())
    }
}

impl From<Option<f64>> for Json {
    fn from(n: Option<f64>) -> Self {
        n.map_or(Self::Null, Self::Number)
    }
}

impl From<Vec<f64>> for Json {
    fn from(ns: Vec<f64>) -> Self {
        Self::List(ns.into_iter().map(Self::Number).collect())
    }
}

fn quote(out: &mut String, text: &str) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// The first string value of `key` in a JSON text (no escapes inside it: the values asked for
/// are certificate numbers and URLs).
pub fn string_at<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    let quoted = format!("\"{key}\"");
    let after = &text[text.find(&quoted)? + quoted.len()..];
    let after = after.trim_start().strip_prefix(':')?.trim_start();
    let value = after.strip_prefix('"')?;
    Some(&value[..value.find('"')?])
}

/// The first number or `true`/`false` value of `key` in a JSON text, as written.
pub fn scalar_at<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    let quoted = format!("\"{key}\"");
    let after = &text[text.find(&quoted)? + quoted.len()..];
    let after = after.trim_start().strip_prefix(':')?.trim_start();
    let end = after
        .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '+')))
        .unwrap_or(after.len());
    Some(&after[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_found_by_their_key() {
        let page = r#"{"items": [{"certificate_number":"FDXE-J5BM-RRNV-PEDM","level":"gold"}]}"#;
        assert_eq!(
            string_at(page, "certificate_number"),
            Some("FDXE-J5BM-RRNV-PEDM")
        );
        assert_eq!(string_at(page, "missing"), None);
        let bench = r#"{"verified":true,"per_second":812.5,"runs":4062}"#;
        assert_eq!(scalar_at(bench, "verified"), Some("true"));
        assert_eq!(scalar_at(bench, "per_second"), Some("812.5"));
    }

    #[test]
    fn figures_are_written_as_json() {
        let figures = Json::object()
            .with("awards", 10_000usize)
            .with("database", "sqlite")
            .with("p50_ms", None::<f64>)
            .with("ratios", vec![0.5, 1.25]);
        assert_eq!(
            figures.pretty(),
            "{\n  \"awards\": 10000,\n  \"database\": \"sqlite\",\n  \"p50_ms\": null,\n  \
             \"ratios\": [\n    0.5,\n    1.25\n  ]\n}"
        );
    }
}
