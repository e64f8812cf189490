//! OLPC canonical JSON, byte-for-byte as securesystemslib's
//! `formats.encode_canonical` writes it, because TUF signatures are made
//! over these bytes and python-tuf must reach the same ones.
//!
//! The rules (securesystemslib `_encode_canonical`):
//! - objects: keys sorted by Unicode code point, `{"a":1,"b":2}`, no
//!   whitespace anywhere;
//! - strings: only `"` and `\` are escaped (with a backslash); every other
//!   character, control characters and non-ASCII included, is written as
//!   raw UTF-8;
//! - numbers: integers only; a float (anything serde_json did not read as
//!   an integer) is an error, as Python's encoder raises on `float`;
//! - `true`, `false`, `null` as usual.
//!
//! serde_json is built with `preserve_order` in this workspace, so the key
//! order of a `Value::Object` is insertion order: we sort here ourselves
//! instead of relying on the map type.

use serde_json::Value;

use crate::Error;

/// The canonical JSON bytes of `value` (see the module docs for the rules).
///
/// # Errors
/// [`Error::CanonicalFloat`] when the value holds a non-integer number.
pub fn canonical_json(value: &Value) -> Result<Vec<u8>, Error> {
    let mut out = Vec::new();
    write_value(value, &mut out)?;
    Ok(out)
}

fn write_value(value: &Value, out: &mut Vec<u8>) -> Result<(), Error> {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(n) => {
            // serde_json keeps integers as i64/u64; anything else is a float,
            // which canonical JSON cannot represent unambiguously.
            if let Some(i) = n.as_i64() {
                out.extend_from_slice(i.to_string().as_bytes());
            } else if let Some(u) = n.as_u64() {
                out.extend_from_slice(u.to_string().as_bytes());
            } else {
                return Err(Error::CanonicalFloat(n.to_string()));
            }
        }
        Value::String(s) => write_string(s, out),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_value(item, out)?;
            }
            out.push(b']');
        }
        Value::Object(map) => {
            // Rust's `str` ordering is byte-wise over UTF-8, which is the same
            // as ordering by code point, which is what Python's `sorted()` does.
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            out.push(b'{');
            for (i, (key, item)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_string(key, out);
                out.push(b':');
                write_value(item, out)?;
            }
            out.push(b'}');
        }
    }
    Ok(())
}

fn write_string(s: &str, out: &mut Vec<u8>) {
    out.push(b'"');
    for byte in s.bytes() {
        // Multi-byte UTF-8 sequences never contain these two ASCII bytes, so
        // escaping byte-wise is exact.
        if byte == b'"' || byte == b'\\' {
            out.push(b'\\');
        }
        out.push(byte);
    }
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn canon(v: Value) -> String {
        String::from_utf8(canonical_json(&v).unwrap()).unwrap()
    }

    #[test]
    fn canonical_json_table() {
        let cases: Vec<(Value, &str)> = vec![
            (json!(null), "null"),
            (json!(true), "true"),
            (json!(false), "false"),
            (json!(0), "0"),
            (json!(-17), "-17"),
            (json!(u64::MAX), "18446744073709551615"),
            (json!(i64::MIN), "-9223372036854775808"),
            (json!(""), r#""""#),
            (json!("plain"), r#""plain""#),
            (json!("q\"uote"), r#""q\"uote""#),
            (json!("back\\slash"), r#""back\\slash""#),
            // Control characters and `/` are written raw, not as \n or \u000a.
            (json!("line\nbreak\ttab/"), "\"line\nbreak\ttab/\""),
            (json!("\u{1}"), "\"\u{1}\""),
            // Non-ASCII is raw UTF-8, never \u escapes.
            (json!("caf\u{e9} \u{1F600}"), "\"caf\u{e9} \u{1F600}\""),
            (json!([]), "[]"),
            (json!({}), "{}"),
            (json!([1, "a", [null]]), r#"[1,"a",[null]]"#),
            (json!({"b": 1, "a": 2}), r#"{"a":2,"b":1}"#),
            (
                json!({"z": {"y": [1, 2], "x": false}, "a": "b"}),
                r#"{"a":"b","z":{"x":false,"y":[1,2]}}"#,
            ),
            // Code-point order: uppercase before lowercase, "_" (0x5F) between,
            // "é" (U+00E9) after ASCII, astral plane last.
            (
                json!({"b": 0, "a": 0, "B": 0, "_type": 0, "\u{e9}": 0, "\u{1F600}": 0, "\u{ff}": 0}),
                "{\"B\":0,\"_type\":0,\"a\":0,\"b\":0,\"\u{e9}\":0,\"\u{ff}\":0,\"\u{1F600}\":0}",
            ),
            // Escapes in keys too.
            (json!({"k\"": "v\\"}), r#"{"k\"":"v\\"}"#),
        ];
        for (value, expected) in cases {
            assert_eq!(canon(value.clone()), expected, "for {value}");
        }
    }

    #[test]
    fn canonical_json_sorts_even_with_preserve_order() {
        let v: Value = serde_json::from_str(r#"{"zz": 1, "aa": {"d": 1, "c": 2}}"#).unwrap();
        assert_eq!(canon(v), r#"{"aa":{"c":2,"d":1},"zz":1}"#);
    }

    #[test]
    fn canonical_json_refuses_floats() {
        let err = canonical_json(&json!({"a": [1.5]})).unwrap_err();
        assert!(matches!(err, Error::CanonicalFloat(_)));
        assert!(err.to_string().contains("1.5"));
        let v: Value = serde_json::from_str("1.0").unwrap();
        assert!(canonical_json(&v).is_err());
    }

    #[test]
    fn canonical_json_of_tuf_key_matches_securesystemslib() {
        // Reference bytes produced by
        // securesystemslib.formats.encode_canonical({"keytype": "ed25519",
        //   "scheme": "ed25519", "keyval": {"public": "ab"}})
        let v = json!({"scheme": "ed25519", "keyval": {"public": "ab"}, "keytype": "ed25519"});
        assert_eq!(
            canon(v),
            r#"{"keytype":"ed25519","keyval":{"public":"ab"},"scheme":"ed25519"}"#
        );
    }
}
