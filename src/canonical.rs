//! JSON in the canonical form of RFC 8785 (the JSON Canonicalization Scheme), written in one
//! pass over a `serde_json::Value`: the bytes an event is stored and hashed as, and those an
//! eddsa-jcs-2022 signature covers. Members are ordered by their names' UTF-16 code units,
//! strings escaped as ECMAScript's `JSON.stringify` escapes them (the same set serde_json
//! escapes), and whole numbers up to 2^53 written as their digits. A number of any other kind
//! (a fraction, an exponent, a whole number past 2^53, which RFC 8785 spells as its nearest
//! double) sends the whole value to the general canonicaliser, `serde_json_canonicalizer`, which
//! gives the same bytes for every value and is the test's reference; it is several times slower
//! (each member is written into a buffer of its own and its name parsed again), and the
//! registry's documents hold no such number.

use serde::Serialize;
use serde_json::Value;

/// The canonical bytes of `value` (anything serde can write as JSON).
pub(crate) fn to_vec(value: &impl Serialize) -> Vec<u8> {
    let value = serde_json::to_value(value).expect("a value with string keys always serialises");
    of_value(&value)
}

/// The canonical bytes of a JSON value.
pub(crate) fn of_value(value: &Value) -> Vec<u8> {
    let mut out = Vec::with_capacity(512);
    match write(&mut out, value) {
        Ok(()) => out,
        Err(Spelled) => serde_json_canonicalizer::to_vec(value)
            .expect("a serde_json value holds no NaN or infinity, so it always canonicalises"),
    }
}

/// A number whose canonical spelling is the general canonicaliser's to give.
struct Spelled;

/// The largest whole number a double holds exactly, with every whole number below it.
const EXACT: u64 = 1 << 53;

fn write(out: &mut Vec<u8>, value: &Value) -> Result<(), Spelled> {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(n) => {
            if let Some(u) = n.as_u64().filter(|u| *u <= EXACT) {
                out.extend_from_slice(u.to_string().as_bytes());
            } else if let Some(i) = n.as_i64().filter(|i| i.unsigned_abs() <= EXACT) {
                out.extend_from_slice(i.to_string().as_bytes());
            } else {
                return Err(Spelled);
            }
        }
        Value::String(s) => write_string(out, s),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write(out, item)?;
            }
            out.push(b']');
        }
        Value::Object(members) => {
            let mut members: Vec<(&String, &Value)> = members.iter().collect();
            // By UTF-16 code units (RFC 8785, 3.2.3); for names of the Basic Multilingual
            // Plane alone, as a map orders them, this changes nothing.
            if members.iter().any(|(name, _)| !name.is_ascii()) {
                members.sort_by(|a, b| a.0.encode_utf16().cmp(b.0.encode_utf16()));
            } else {
                members.sort_unstable_by(|a, b| a.0.cmp(b.0));
            }
            out.push(b'{');
            for (i, (name, member)) in members.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_string(out, name);
                out.push(b':');
                write(out, member)?;
            }
            out.push(b'}');
        }
    }
    Ok(())
}

/// A JSON string as RFC 8785 writes it: `"` and `\` escaped, the control characters as `\b`,
/// `\t`, `\n`, `\f`, `\r` or `\u00xx` (lower-case hex), everything else as itself.
fn write_string(out: &mut Vec<u8>, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let escape: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            0x08 => b"\\b",
            0x09 => b"\\t",
            0x0a => b"\\n",
            0x0c => b"\\f",
            0x0d => b"\\r",
            0x00..=0x1f => &[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[(b >> 4) as usize],
                HEX[(b & 0xf) as usize],
            ],
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        out.extend_from_slice(escape);
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a test that unwraps fails loudly, which is what a test should do
pub(crate) mod tests {
    use super::*;
    use serde_json::json;

    fn reference(value: &Value) -> Vec<u8> {
        serde_json_canonicalizer::to_vec(value).unwrap()
    }

    #[test]
    fn rfc_8785_examples_are_written_as_the_rfc_writes_them() {
        // RFC 8785, 3.2.3: members ordered by UTF-16 code units, not by code points.
        let sorting = json!({
            "\u{20ac}": "Euro Sign", "\r": "Carriage Return", "\u{fb33}": "Hebrew Letter Dalet With Dagesh",
            "1": "One", "\u{1f600}": "Emoji: Grinning Face", "\u{0080}": "Control",
            "\u{00f6}": "Latin Small Letter O With Diaeresis"
        });
        let written = String::from_utf8(of_value(&sorting)).unwrap();
        let mut at = 0;
        for name in [
            "\\r",
            "1",
            "\u{0080}",
            "\u{00f6}",
            "\u{20ac}",
            "\u{1f600}",
            "\u{fb33}",
        ] {
            let found = written[at..].find(&format!("\"{name}\"")).unwrap();
            at += found + 1;
        }
        assert_eq!(of_value(&sorting), reference(&sorting));
        let escapes = json!({"s": "\u{7f}\u{1}\u{1f}\"\\/\t\n\u{8}\u{c}\r é"});
        assert_eq!(
            String::from_utf8(of_value(&escapes)).unwrap(),
            "{\"s\":\"\u{7f}\\u0001\\u001f\\\"\\\\/\\t\\n\\b\\f\\r é\"}"
        );
    }

    /// A value built from `seed`: nested objects and arrays, names and strings of every kind
    /// of character (controls, quotes, non-ASCII, beyond the Basic Multilingual Plane), and
    /// numbers of every kind (small, past 2^53, negative, fractions, exponents).
    pub(crate) fn value(seed: &mut u64, depth: u32) -> Value {
        fn next(seed: &mut u64) -> u64 {
            *seed ^= *seed << 13;
            *seed ^= *seed >> 7;
            *seed ^= *seed << 17;
            *seed
        }
        const CHARS: [&str; 12] = [
            "a",
            "Z",
            "0",
            "\"",
            "\\",
            "\u{1}",
            "\n",
            "\u{7f}",
            "é",
            "\u{20ac}",
            "\u{1f600}",
            "\u{fb33}",
        ];
        let text = |seed: &mut u64| -> String {
            (0..next(seed) % 6)
                .map(|_| CHARS[(next(seed) % CHARS.len() as u64) as usize])
                .collect()
        };
        let kind = if depth == 0 {
            next(seed) % 5
        } else {
            next(seed) % 7
        };
        match kind {
            0 => Value::Null,
            1 => Value::Bool(next(seed).is_multiple_of(2)),
            2 => Value::String(text(seed)),
            3 => match next(seed) % 6 {
                0 => json!(next(seed) % 1000),
                1 => json!(-((next(seed) % 1000) as i64)),
                2 => json!(EXACT + next(seed) % 3 - 1),
                3 => json!(next(seed)),
                4 => json!((next(seed) % 10_000) as f64 / 7.0),
                _ => json!(1e21 * (next(seed) % 5) as f64),
            },
            4 => json!(next(seed) as i64),
            5 => Value::Array(
                (0..next(seed) % 4)
                    .map(|_| value(seed, depth - 1))
                    .collect(),
            ),
            _ => Value::Object(
                (0..next(seed) % 5)
                    .map(|_| (text(seed), value(seed, depth - 1)))
                    .collect(),
            ),
        }
    }

    #[test]
    fn every_value_is_written_as_the_general_canonicaliser_writes_it() {
        let mut seed = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..5_000 {
            let v = value(&mut seed, 4);
            assert_eq!(
                String::from_utf8(of_value(&v)).unwrap(),
                String::from_utf8(reference(&v)).unwrap(),
                "{v}"
            );
        }
    }
}
