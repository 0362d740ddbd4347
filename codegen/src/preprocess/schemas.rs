//! Schema-shape rewrites for typify: properties whose Rust field names would
//! collide, enums whose Rust variant names would collide, and empty closed
//! objects (which would reject every real response).

use std::collections::{BTreeMap, BTreeSet};

use heck::{ToPascalCase, ToSnakeCase};
use serde_json::{Map, Value};

use super::{Report, Rewrite};

/// Approximates typify's identifier sanitising so collisions are predicted
/// the way typify will meet them.
fn sanitise(input: &str, pascal: bool) -> String {
    let cleaned: String = input
        .replace('\'', "")
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    if pascal {
        cleaned.to_pascal_case()
    } else {
        cleaned.to_snake_case()
    }
}

/// Drops properties whose snake_case name collides with a sibling's,
/// keeping the one already in snake_case (else the first). A dropped
/// property may still arrive, so `additionalProperties: false` goes too.
pub(super) fn snake_case_collisions(schema: &mut Map<String, Value>, report: &mut Report) {
    let Some(props) = schema.get("properties").and_then(Value::as_object) else {
        return;
    };
    let mut groups: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for name in props.keys() {
        groups
            .entry(sanitise(name, false))
            .or_default()
            .push(name.clone());
    }
    let mut drop: BTreeSet<String> = BTreeSet::new();
    for (snake, names) in groups {
        if names.len() < 2 {
            continue;
        }
        let keep = names
            .iter()
            .find(|n| **n == snake)
            .unwrap_or(&names[0])
            .clone();
        drop.extend(names.into_iter().filter(|n| *n != keep));
    }
    if drop.is_empty() {
        return;
    }
    if let Some(props) = schema.get_mut("properties").and_then(Value::as_object_mut) {
        props.retain(|k, _| !drop.contains(k));
    }
    if let Some(required) = schema.get_mut("required").and_then(Value::as_array_mut) {
        required.retain(|r| r.as_str().is_none_or(|r| !drop.contains(r)));
    }
    if schema.get("additionalProperties") == Some(&Value::Bool(false)) {
        schema.remove("additionalProperties");
    }
    report.add(Rewrite::SnakeCaseCollision, drop.len());
}

/// Removes an `enum` whose values map to the same Rust variant name
/// (`true`, `"True"`), leaving a plain string (or untyped) schema.
pub(super) fn enum_case_collisions(schema: &mut Map<String, Value>, report: &mut Report) {
    let Some(values) = schema.get("enum").and_then(Value::as_array) else {
        return;
    };
    let mut seen: BTreeSet<String> = BTreeSet::new();
    let mut collides = false;
    let mut all_strings = true;
    for v in values.iter().filter(|v| !v.is_null()) {
        let name = match v {
            Value::String(s) => sanitise(s, true),
            other => {
                all_strings = false;
                sanitise(&other.to_string(), true)
            }
        };
        if !seen.insert(name) {
            collides = true;
        }
    }
    if !collides {
        return;
    }
    schema.remove("enum");
    if all_strings {
        schema
            .entry("type")
            .or_insert_with(|| Value::String("string".to_string()));
    }
    report.bump(Rewrite::EnumCaseCollision);
}

/// `{type: object, properties: {}, additionalProperties: false}` → `{}`.
pub(super) fn empty_closed_object(schema: &mut Map<String, Value>, report: &mut Report) {
    let closed = schema.get("additionalProperties") == Some(&Value::Bool(false));
    let object_or_untyped = schema
        .get("type")
        .is_none_or(|t| t == &Value::String("object".to_string()));
    let no_properties = schema
        .get("properties")
        .is_none_or(|p| p.as_object().is_some_and(Map::is_empty));
    let structural = [
        "allOf",
        "anyOf",
        "oneOf",
        "$ref",
        "patternProperties",
        "enum",
    ]
    .iter()
    .any(|k| schema.contains_key(*k));
    if !(closed && object_or_untyped && no_properties) || structural {
        return;
    }
    let keep: Map<String, Value> = ["description", "title", "nullable"]
        .iter()
        .filter_map(|k| schema.get(*k).map(|v| (k.to_string(), v.clone())))
        .collect();
    *schema = keep;
    report.bump(Rewrite::EmptyClosedObject);
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn apply(f: fn(&mut Map<String, Value>, &mut Report), v: Value) -> (Value, Report) {
        let mut v = v;
        let mut r = Report::default();
        if let Some(m) = v.as_object_mut() {
            f(m, &mut r);
        }
        (v, r)
    }

    #[test]
    fn snake_case_collision_keeps_snake_name() {
        let (v, r) = apply(
            snake_case_collisions,
            json!({
                "type": "object",
                "properties": {"connectionString": {"type": "string"}, "connection_string": {"type": "string"}, "other": {}},
                "required": ["connectionString", "other"],
                "additionalProperties": false
            }),
        );
        assert_eq!(
            v,
            json!({
                "type": "object",
                "properties": {"connection_string": {"type": "string"}, "other": {}},
                "required": ["other"]
            })
        );
        assert_eq!(r.count(Rewrite::SnakeCaseCollision), 1);

        let (v, _) = apply(
            snake_case_collisions,
            json!({"properties": {"Id": {}, "id": {}}}),
        );
        assert_eq!(v, json!({"properties": {"id": {}}}));

        let (_, r) = apply(
            snake_case_collisions,
            json!({"properties": {"a": {}, "b": {}}, "additionalProperties": false}),
        );
        assert!(r.is_clean());
    }

    #[test]
    fn enum_case_collision_is_loosened() {
        let (v, r) = apply(
            enum_case_collisions,
            json!({"enum": [true, false, "True", "False"]}),
        );
        assert_eq!(v, json!({}));
        assert_eq!(r.count(Rewrite::EnumCaseCollision), 1);

        let (v, _) = apply(
            enum_case_collisions,
            json!({"type": "string", "enum": ["a-b", "a_b", "c"]}),
        );
        assert_eq!(v, json!({"type": "string"}));

        let (_, r) = apply(
            enum_case_collisions,
            json!({"type": "string", "enum": ["active", "inactive", null]}),
        );
        assert!(r.is_clean());
    }

    #[test]
    fn empty_closed_object_becomes_any() {
        let (v, r) = apply(
            empty_closed_object,
            json!({"type": "object", "properties": {}, "additionalProperties": false}),
        );
        assert_eq!(v, json!({}));
        assert_eq!(r.count(Rewrite::EmptyClosedObject), 1);

        let (_, r) = apply(
            empty_closed_object,
            json!({"type": "object", "properties": {"a": {}}, "additionalProperties": false}),
        );
        assert!(r.is_clean());
        let (_, r) = apply(empty_closed_object, json!({"type": "object"}));
        assert!(r.is_clean());
    }
}
