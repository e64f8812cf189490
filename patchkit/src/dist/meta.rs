//! Reading and minimally editing a distribution's META.json and META.yml.
//!
//! Reading takes only what identification needs (top-level `name` and
//! `version`). Editing adds or replaces one top-level key, `x_patchkit`,
//! and touches nothing else: every other key keeps its value *as written*
//! (`version: 1.30` stays `1.30`, not `1.3`), its order, its indentation.
//!
//! Why hand-written: serde_json and YAML crates parse into values and
//! re-emit them, which reformats the file and rewrites numbers; and the
//! toolchain's YAML reader (CPAN::Meta::YAML, a YAML::Tiny fork) reads only
//! a block-style subset, which general YAML emitters do not promise to stay
//! inside. So the JSON side splices text at member boundaries found by a
//! small scanner (after serde_json has validated the whole document), and
//! the YAML side appends a block that only uses what CPAN::Meta::YAML reads:
//! block maps and sequences, single-quoted strings, no flow `{…}`/`[…]`.

use serde_json::Value;

/// The key patchkit owns in META files.
pub const KEY: &str = "x_patchkit";

/// Top-level `name` and `version` of a META.json document.
pub fn json_name_version(data: &[u8]) -> Result<(String, String), String> {
    let doc: serde_json::Map<String, Value> =
        serde_json::from_slice(data).map_err(|e| format!("not a JSON object ({e})"))?;
    let name = match doc.get("name") {
        Some(Value::String(s)) => s.clone(),
        _ => return Err("no string \"name\"".into()),
    };
    let version = match doc.get("version") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => return Err("no \"version\"".into()),
    };
    Ok((name, version))
}

/// Top-level `name` and `version` of a META.yml document (only the plain
/// `key: scalar` lines at column 0 are looked at).
pub fn yml_name_version(data: &[u8]) -> Result<(String, String), String> {
    let text = std::str::from_utf8(data).map_err(|_| "not UTF-8".to_string())?;
    let mut name = None;
    let mut version = None;
    for line in text.lines() {
        if let Some(v) = line.strip_prefix("name:") {
            name = Some(unquote_yaml(v.trim()));
        } else if let Some(v) = line.strip_prefix("version:") {
            version = Some(unquote_yaml(v.trim()));
        }
    }
    match (name, version) {
        (Some(n), Some(v)) if !n.is_empty() && !v.is_empty() => Ok((n, v)),
        _ => Err("no top-level name and version".into()),
    }
}

fn unquote_yaml(v: &str) -> String {
    let v = v.split(" #").next().unwrap_or(v).trim();
    if let Some(inner) = v.strip_prefix('\'').and_then(|s| s.strip_suffix('\'')) {
        inner.replace("''", "'")
    } else if let Some(inner) = v.strip_prefix('"').and_then(|s| s.strip_suffix('"')) {
        inner.to_string()
    } else {
        v.to_string()
    }
}

/// The `x_patchkit` value of a META.json document, if present.
pub fn json_get_x_patchkit(data: &[u8]) -> Result<Option<Value>, String> {
    let doc: serde_json::Map<String, Value> =
        serde_json::from_slice(data).map_err(|e| format!("not a JSON object ({e})"))?;
    Ok(doc.get(KEY).cloned())
}

/// The first key that appears twice in one object of the JSON document
/// `data`, at any depth; `None` when every object's keys are distinct (or
/// the text is not JSON, which the readers report themselves).
///
/// serde_json, like JSON::PP, silently keeps one of two duplicate keys;
/// which one differs between readers and between reading and splicing, so
/// a document with duplicates is refused rather than interpreted.
pub fn duplicate_key(data: &[u8]) -> Option<String> {
    let mut de = serde_json::Deserializer::from_slice(data);
    match serde::Deserialize::deserialize(&mut de) {
        Ok(NoDuplicates) => None,
        Err(e) => {
            let msg = e.to_string();
            msg.strip_prefix(DUPLICATE)
                .map(|rest| rest.rsplit_once(" at line ").map_or(rest, |(key, _)| key))
                .map(str::to_string)
        }
    }
}

/// The prefix of the error [`NoDuplicates`] raises.
const DUPLICATE: &str = "duplicate key ";

/// A JSON value walked only to find duplicate keys.
struct NoDuplicates;

impl<'de> serde::Deserialize<'de> for NoDuplicates {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(NoDuplicatesVisitor)
    }
}

struct NoDuplicatesVisitor;

impl<'de> serde::de::Visitor<'de> for NoDuplicatesVisitor {
    type Value = NoDuplicates;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<NoDuplicates, A::Error> {
        let mut seen = std::collections::HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            if !seen.insert(key.clone()) {
                return Err(serde::de::Error::custom(format!("{DUPLICATE}{key}")));
            }
            map.next_value::<NoDuplicates>()?;
        }
        Ok(NoDuplicates)
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<NoDuplicates, A::Error> {
        while seq.next_element::<NoDuplicates>()?.is_some() {}
        Ok(NoDuplicates)
    }

    fn visit_bool<E>(self, _: bool) -> Result<NoDuplicates, E> {
        Ok(NoDuplicates)
    }
    fn visit_i64<E>(self, _: i64) -> Result<NoDuplicates, E> {
        Ok(NoDuplicates)
    }
    fn visit_u64<E>(self, _: u64) -> Result<NoDuplicates, E> {
        Ok(NoDuplicates)
    }
    fn visit_f64<E>(self, _: f64) -> Result<NoDuplicates, E> {
        Ok(NoDuplicates)
    }
    fn visit_str<E>(self, _: &str) -> Result<NoDuplicates, E> {
        Ok(NoDuplicates)
    }
    fn visit_unit<E>(self) -> Result<NoDuplicates, E> {
        Ok(NoDuplicates)
    }
}

/// A top-level member of a JSON object: byte spans of the key (with its
/// quotes) and of the value.
struct Member {
    key: String,
    key_start: usize,
    value_start: usize,
    value_end: usize,
}

/// Scan the top-level object of an already-validated JSON text.
fn top_level_members(text: &[u8]) -> Result<(usize, Vec<Member>), String> {
    let bad = || "unexpected JSON layout".to_string();
    let mut i = skip_ws(text, 0);
    if text.get(i) != Some(&b'{') {
        return Err(bad());
    }
    i += 1;
    let mut members = Vec::new();
    loop {
        i = skip_ws(text, i);
        match text.get(i) {
            Some(b'}') => return Ok((i, members)),
            Some(b',') => {
                i += 1;
                continue;
            }
            Some(b'"') => {}
            _ => return Err(bad()),
        }
        let key_start = i;
        let key_end = skip_string(text, i).ok_or_else(bad)?;
        let key: String = serde_json::from_slice(&text[key_start..key_end]).map_err(|_| bad())?;
        i = skip_ws(text, key_end);
        if text.get(i) != Some(&b':') {
            return Err(bad());
        }
        let value_start = skip_ws(text, i + 1);
        let value_end = skip_value(text, value_start).ok_or_else(bad)?;
        members.push(Member {
            key,
            key_start,
            value_start,
            value_end,
        });
        i = value_end;
    }
}

fn skip_ws(text: &[u8], mut i: usize) -> usize {
    while matches!(text.get(i), Some(b' ' | b'\t' | b'\n' | b'\r')) {
        i += 1;
    }
    i
}

/// `i` is at an opening quote; returns the index after the closing one.
fn skip_string(text: &[u8], mut i: usize) -> Option<usize> {
    i += 1;
    while let Some(&b) = text.get(i) {
        match b {
            b'\\' => i += 2,
            b'"' => return Some(i + 1),
            _ => i += 1,
        }
    }
    None
}

/// `i` is at the start of a value; returns the index after it.
fn skip_value(text: &[u8], mut i: usize) -> Option<usize> {
    match text.get(i)? {
        b'"' => skip_string(text, i),
        b'{' | b'[' => {
            let mut depth = 0usize;
            while let Some(&b) = text.get(i) {
                match b {
                    b'"' => {
                        i = skip_string(text, i)?;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return Some(i + 1);
                        }
                    }
                    _ => {}
                }
                i += 1;
            }
            None
        }
        _ => {
            while let Some(&b) = text.get(i) {
                if matches!(b, b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r') {
                    break;
                }
                i += 1;
            }
            Some(i)
        }
    }
}

/// META.json with `x_patchkit` set to `value` (added as the last member, or
/// replaced in place), every other byte kept.
pub fn json_set_x_patchkit(data: &[u8], value: &Value) -> Result<Vec<u8>, String> {
    // Validate the whole document first: the scanner trusts its input.
    let _: serde_json::Map<String, Value> =
        serde_json::from_slice(data).map_err(|e| format!("not a JSON object ({e})"))?;
    let (close, members) = top_level_members(data)?;
    // Follow the file's own style: the indentation of its first key and
    // JSON::PP's `"key" : value` spacing when the file uses it.
    let indent = members
        .first()
        .map(|m| {
            let line_start = data[..m.key_start]
                .iter()
                .rposition(|b| *b == b'\n')
                .map_or(0, |p| p + 1);
            let prefix = &data[line_start..m.key_start];
            // Only a run of blanks is an indentation: in a one-line
            // document (`{"name": …}`) the key follows `{`, which must not
            // be copied in front of every line we write (found by the
            // `meta` fuzz target).
            if prefix.iter().all(|b| *b == b' ' || *b == b'\t') {
                String::from_utf8_lossy(prefix).into_owned()
            } else {
                "   ".to_string()
            }
        })
        .unwrap_or_else(|| "   ".to_string());
    let colon = match members.first() {
        Some(m)
            if data[m.key_start..m.value_start]
                .windows(3)
                .any(|w| w == b"\" :") =>
        {
            " : "
        }
        _ => ": ",
    };
    let rendered = pretty_indented(value, &indent)?;
    let mut out = Vec::with_capacity(data.len() + rendered.len() + 32);
    if let Some(m) = members.iter().find(|m| m.key == KEY) {
        out.extend_from_slice(&data[..m.value_start]);
        out.extend_from_slice(rendered.as_bytes());
        out.extend_from_slice(&data[m.value_end..]);
        return Ok(out);
    }
    match members.last() {
        Some(last) => {
            out.extend_from_slice(&data[..last.value_end]);
            out.extend_from_slice(format!(",\n{indent}\"{KEY}\"{colon}{rendered}").as_bytes());
            out.extend_from_slice(&data[last.value_end..]);
        }
        None => {
            out.extend_from_slice(&data[..close]);
            out.extend_from_slice(format!("\n{indent}\"{KEY}\"{colon}{rendered}\n").as_bytes());
            out.extend_from_slice(&data[close..]);
        }
    }
    Ok(out)
}

fn pretty_indented(value: &Value, indent: &str) -> Result<String, String> {
    let pretty = serde_json::to_string_pretty(value).map_err(|e| e.to_string())?;
    let mut out = String::new();
    for (i, line) in pretty.lines().enumerate() {
        if i > 0 {
            out.push('\n');
            out.push_str(indent);
        }
        out.push_str(line);
    }
    Ok(out)
}

/// META.yml with the `x_patchkit` block replaced or appended; the rest of
/// the file is kept byte for byte.
pub fn yml_set_x_patchkit(data: &[u8], value: &Value) -> Result<Vec<u8>, String> {
    let text = std::str::from_utf8(data).map_err(|_| "META.yml is not UTF-8".to_string())?;
    // Drop an existing block: its key line at column 0 and every following
    // indented (or blank) line.
    let mut kept = String::with_capacity(text.len());
    let mut in_block = false;
    for line in text.split_inclusive('\n') {
        if line.starts_with(&format!("{KEY}:")) {
            in_block = true;
            continue;
        }
        if in_block && (line.starts_with(' ') || line.trim().is_empty()) {
            continue;
        }
        in_block = false;
        kept.push_str(line);
    }
    let mut block = format!("{KEY}:\n");
    emit_yaml(value, 1, &mut block)?;
    // Keep a document-end marker last, if the file has one.
    let (body, tail) = match kept.trim_end().rsplit_once('\n') {
        Some((body, "...")) => (format!("{body}\n"), "...\n"),
        _ => (kept.clone(), ""),
    };
    let mut out = body;
    if !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
    out.push_str(&block);
    out.push_str(tail);
    Ok(out.into_bytes())
}

/// Emit `value` (an object) as block YAML at `level` (2 spaces a level).
fn emit_yaml(value: &Value, level: usize, out: &mut String) -> Result<(), String> {
    let pad = "  ".repeat(level);
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                if is_empty_container(v) {
                    continue; // CPAN::Meta::YAML has no block form for empties
                }
                match v {
                    Value::Object(_) | Value::Array(_) => {
                        out.push_str(&format!("{pad}{k}:\n"));
                        emit_yaml(v, level + 1, out)?;
                    }
                    scalar => out.push_str(&format!("{pad}{k}: {}\n", yaml_scalar(scalar))),
                }
            }
        }
        Value::Array(items) => {
            for item in items {
                match item {
                    Value::Object(map) => {
                        // "- k: v" then the other keys aligned under k.
                        let mut first = true;
                        for (k, v) in map {
                            if is_empty_container(v) {
                                continue;
                            }
                            let lead = if first {
                                format!("{pad}- ")
                            } else {
                                format!("{pad}  ")
                            };
                            first = false;
                            match v {
                                Value::Object(_) | Value::Array(_) => {
                                    out.push_str(&format!("{lead}{k}:\n"));
                                    emit_yaml(v, level + 2, out)?;
                                }
                                scalar => {
                                    out.push_str(&format!("{lead}{k}: {}\n", yaml_scalar(scalar)))
                                }
                            }
                        }
                    }
                    Value::Array(_) => return Err("nested lists are not emitted".into()),
                    scalar => out.push_str(&format!("{pad}- {}\n", yaml_scalar(scalar))),
                }
            }
        }
        _ => return Err("x_patchkit must be an object".into()),
    }
    Ok(())
}

fn is_empty_container(v: &Value) -> bool {
    matches!(v, Value::Object(m) if m.is_empty()) || matches!(v, Value::Array(a) if a.is_empty())
}

fn yaml_scalar(v: &Value) -> String {
    match v {
        Value::String(s) => format!("'{}'", s.replace('\'', "''")),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        _ => "~".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const META_JSON: &str = "{\n   \"abstract\" : \"x\",\n   \"name\" : \"Foo\",\n   \"version\" : 1.30,\n   \"prereqs\" : {\n      \"runtime\" : {}\n   }\n}\n";

    #[test]
    fn json_insertion_keeps_every_other_byte() {
        let v = json!({"applied": [{"id": "X-1"}]});
        let out = json_set_x_patchkit(META_JSON.as_bytes(), &v).unwrap();
        let text = String::from_utf8(out.clone()).unwrap();
        assert!(text.starts_with(&META_JSON[..META_JSON.rfind("\n}").unwrap()]));
        assert!(text.contains("\"version\" : 1.30,"));
        assert!(text.contains("\n   \"x_patchkit\" : {"));
        assert_eq!(json_get_x_patchkit(&out).unwrap(), Some(v));
        // Replacing keeps one key.
        let v2 = json!({"applied": [{"id": "X-2"}]});
        let out2 = json_set_x_patchkit(&out, &v2).unwrap();
        assert_eq!(json_get_x_patchkit(&out2).unwrap(), Some(v2));
        assert_eq!(String::from_utf8(out2).unwrap().matches(KEY).count(), 1);
    }

    #[test]
    fn json_refuses_non_objects_and_handles_empty() {
        assert!(json_set_x_patchkit(b"[1]", &json!({})).is_err());
        // A one-line document stays valid JSON.
        let one =
            json_set_x_patchkit(br#"{"name": "Foo", "version": "1.0"}"#, &json!({"a": 1})).unwrap();
        assert_eq!(json_get_x_patchkit(&one).unwrap(), Some(json!({"a": 1})));
        assert!(json_set_x_patchkit(b"{", &json!({})).is_err());
        let out = json_set_x_patchkit(b"{}", &json!({"a": "b"})).unwrap();
        assert_eq!(json_get_x_patchkit(&out).unwrap(), Some(json!({"a": "b"})));
    }

    #[test]
    fn duplicate_keys_are_found_at_any_depth() {
        assert_eq!(duplicate_key(br#"{"a":1,"b":2}"#), None);
        assert_eq!(duplicate_key(br#"{"a":1,"a":2}"#).as_deref(), Some("a"));
        assert_eq!(
            duplicate_key(br#"{"x":[{"k":1,"k":1}]}"#).as_deref(),
            Some("k")
        );
        assert_eq!(duplicate_key(b"not json"), None);
    }

    #[test]
    fn yml_block_replaces_and_keeps_the_rest() {
        let yml = "---\nname: Foo\nversion: 1.30\nx_patchkit:\n  old: 'y'\nx_other: 1\n";
        let out = yml_set_x_patchkit(
            yml.as_bytes(),
            &json!({"applied": [{"id": "X-1", "files": ["a"]}], "tool": "patchkit", "none": []}),
        )
        .unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(
            text,
            "---\nname: Foo\nversion: 1.30\nx_other: 1\nx_patchkit:\n  applied:\n    - id: 'X-1'\n      files:\n        - 'a'\n  tool: 'patchkit'\n"
        );
        assert_eq!(
            yml_name_version(text.as_bytes()).unwrap(),
            ("Foo".into(), "1.30".into())
        );
    }
}
