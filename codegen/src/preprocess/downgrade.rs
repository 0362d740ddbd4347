//! OpenAPI 3.1 / JSON Schema 2020-12 to OpenAPI 3.0 rewrites: the version
//! string, `type` arrays, `null` members of unions, `const`, `examples`,
//! numeric exclusive bounds, and keywords 3.0 does not have.

use serde_json::{Map, Value, json};

use super::{Report, Rewrite};

/// Keywords that OpenAPI 3.0 schemas do not have and progenitor cannot use.
const DROPPED_KEYWORDS: [&str; 13] = [
    "$schema",
    "$id",
    "$comment",
    "propertyNames",
    "patternProperties",
    "unevaluatedProperties",
    "dependentRequired",
    "dependentSchemas",
    "contentMediaType",
    "contentEncoding",
    "if",
    "then",
    "else",
];

/// Sets `openapi` to 3.0.3 unless it already is a 3.0.x version.
pub(super) fn version(doc: &mut Value, report: &mut Report) {
    let Some(obj) = doc.as_object_mut() else {
        return;
    };
    let current = obj.get("openapi").and_then(Value::as_str).unwrap_or("");
    if !current.trim().starts_with("3.0.") {
        obj.insert("openapi".to_string(), json!("3.0.3"));
        report.bump(Rewrite::OpenApiVersion);
    }
}

/// Rewrites one schema object in place (children are visited by the walker).
pub(super) fn schema(map: &mut Map<String, Value>, report: &mut Report) {
    // A union member merged into this schema may itself carry 3.1 forms,
    // so repeat until stable (bounded: each round removes a union).
    for _ in 0..8 {
        if !nullable_union(map, report) {
            break;
        }
    }
    type_array(map, report);
    if let Some(value) = map.remove("const") {
        map.entry("enum").or_insert_with(|| json!([value]));
        report.bump(Rewrite::Const);
    }
    if let Some(examples) = map.remove("examples") {
        if let Some(first) = examples.as_array().and_then(|a| a.first()) {
            map.entry("example").or_insert_with(|| first.clone());
        }
        report.bump(Rewrite::Examples);
    }
    exclusive_bound(map, "exclusiveMinimum", "minimum", report);
    exclusive_bound(map, "exclusiveMaximum", "maximum", report);
    let mut dropped = 0;
    for key in DROPPED_KEYWORDS {
        if map.remove(key).is_some() {
            dropped += 1;
        }
    }
    report.add(Rewrite::DroppedKeyword, dropped);
}

fn is_null_schema(v: &Value) -> bool {
    v.get("type").and_then(Value::as_str) == Some("null")
        || v.get("enum") == Some(&json!([null]))
        || v.get("const") == Some(&Value::Null)
}

/// `anyOf`/`oneOf` with a `{type: null}` member: drop the member and set `nullable`.
/// A single remaining inline member is merged into the parent; a single `$ref`
/// becomes `allOf: [$ref]` (3.0 ignores siblings of `$ref`).
fn nullable_union(map: &mut Map<String, Value>, report: &mut Report) -> bool {
    for key in ["anyOf", "oneOf"] {
        let Some(Value::Array(members)) = map.get(key) else {
            continue;
        };
        if !members.iter().any(is_null_schema) {
            continue;
        }
        let rest: Vec<Value> = members
            .iter()
            .filter(|m| !is_null_schema(m))
            .cloned()
            .collect();
        map.remove(key);
        map.insert("nullable".to_string(), Value::Bool(true));
        report.bump(Rewrite::NullableUnion);
        match rest.len() {
            0 => {}
            1 => {
                let only = rest.into_iter().next().unwrap_or_default();
                merge_member(map, only);
            }
            _ => {
                map.insert(key.to_string(), Value::Array(rest));
            }
        }
        return true;
    }
    false
}

fn merge_member(map: &mut Map<String, Value>, member: Value) {
    let Value::Object(member) = member else {
        return;
    };
    if member.contains_key("$ref") {
        match map.get_mut("allOf").and_then(Value::as_array_mut) {
            Some(all) => all.push(Value::Object(member)),
            None => {
                map.insert("allOf".to_string(), json!([member]));
            }
        }
        return;
    }
    for (k, v) in member {
        if k == "nullable" {
            continue;
        }
        map.entry(k).or_insert(v);
    }
}

/// `type: ["string", "null"]` → `type: string, nullable: true`; several
/// non-null types become an `anyOf` of single-typed schemas.
fn type_array(map: &mut Map<String, Value>, report: &mut Report) {
    match map.get("type") {
        Some(Value::Array(types)) => {
            let names: Vec<String> = types
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect();
            let nullable = names.iter().any(|t| t == "null");
            let rest: Vec<String> = names.into_iter().filter(|t| t != "null").collect();
            map.remove("type");
            match rest.as_slice() {
                [] => {}
                [one] => {
                    map.insert("type".to_string(), json!(one));
                }
                many => {
                    if !map.contains_key("anyOf") {
                        let members: Vec<Value> = many.iter().map(|t| json!({"type": t})).collect();
                        map.insert("anyOf".to_string(), Value::Array(members));
                    }
                }
            }
            if nullable {
                map.insert("nullable".to_string(), Value::Bool(true));
            }
            report.bump(Rewrite::TypeArray);
        }
        Some(Value::String(t)) if t == "null" => {
            map.remove("type");
            map.insert("nullable".to_string(), Value::Bool(true));
            map.entry("enum").or_insert_with(|| json!([null]));
            report.bump(Rewrite::TypeArray);
        }
        _ => {}
    }
}

/// Numeric `exclusiveMinimum: n` → `minimum: n, exclusiveMinimum: true`; a
/// boolean flag without its bound (which progenitor cannot convert) is removed.
fn exclusive_bound(map: &mut Map<String, Value>, key: &str, bound: &str, report: &mut Report) {
    match map.get(key) {
        Some(Value::Number(n)) => {
            let n = n.clone();
            map.insert(bound.to_string(), Value::Number(n));
            map.insert(key.to_string(), Value::Bool(true));
            report.bump(Rewrite::ExclusiveBound);
        }
        Some(Value::Bool(_)) if !map.contains_key(bound) => {
            map.remove(key);
            report.bump(Rewrite::ExclusiveBound);
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(v: Value) -> (Value, Report) {
        let mut v = v;
        let mut report = Report::default();
        if let Some(m) = v.as_object_mut() {
            schema(m, &mut report);
        }
        (v, report)
    }

    #[test]
    fn version_is_downgraded_once() {
        let mut doc = json!({"openapi": "3.1.0"});
        let mut r = Report::default();
        version(&mut doc, &mut r);
        assert_eq!(doc["openapi"], "3.0.3");
        version(&mut doc, &mut r);
        assert_eq!(r.count(Rewrite::OpenApiVersion), 1);
    }

    #[test]
    fn type_arrays_become_nullable() {
        let (v, r) = run(json!({"type": ["null", "integer"]}));
        assert_eq!(v, json!({"type": "integer", "nullable": true}));
        assert_eq!(r.count(Rewrite::TypeArray), 1);
        let (v, _) = run(json!({"type": ["string", "integer"]}));
        assert_eq!(
            v,
            json!({"anyOf": [{"type": "string"}, {"type": "integer"}]})
        );
        let (v, _) = run(json!({"type": "null"}));
        assert_eq!(v, json!({"nullable": true, "enum": [null]}));
    }

    #[test]
    fn null_union_members_become_nullable() {
        let (v, r) = run(
            json!({"anyOf": [{"type": "string", "format": "uuid"}, {"type": "null"}], "description": "d"}),
        );
        assert_eq!(
            v,
            json!({"description": "d", "nullable": true, "type": "string", "format": "uuid"})
        );
        assert_eq!(r.count(Rewrite::NullableUnion), 1);

        let (v, _) = run(json!({"oneOf": [{"$ref": "#/components/schemas/A"}, {"type": "null"}]}));
        assert_eq!(
            v,
            json!({"nullable": true, "allOf": [{"$ref": "#/components/schemas/A"}]})
        );

        let (v, _) =
            run(json!({"anyOf": [{"type": "string"}, {"type": "integer"}, {"type": "null"}]}));
        assert_eq!(
            v,
            json!({"nullable": true, "anyOf": [{"type": "string"}, {"type": "integer"}]})
        );

        // A merged member that is itself 3.1-shaped is rewritten too.
        let (v, _) =
            run(json!({"anyOf": [{"type": ["string", "null"], "const": "x"}, {"type": "null"}]}));
        assert_eq!(
            v,
            json!({"nullable": true, "type": "string", "enum": ["x"]})
        );
    }

    #[test]
    fn const_and_examples() {
        let (v, r) = run(json!({"const": "a", "examples": ["x", "y"]}));
        assert_eq!(v, json!({"enum": ["a"], "example": "x"}));
        assert_eq!(r.count(Rewrite::Const), 1);
        assert_eq!(r.count(Rewrite::Examples), 1);
    }

    #[test]
    fn exclusive_bounds() {
        let (v, r) = run(json!({"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 10}));
        assert_eq!(
            v,
            json!({"type": "number", "minimum": 0, "exclusiveMinimum": true, "maximum": 10, "exclusiveMaximum": true})
        );
        assert_eq!(r.count(Rewrite::ExclusiveBound), 2);
        let (v, _) = run(json!({"type": "number", "exclusiveMinimum": true}));
        assert_eq!(v, json!({"type": "number"}));
        let (v, r) = run(json!({"type": "number", "minimum": 1, "exclusiveMinimum": true}));
        assert_eq!(
            v,
            json!({"type": "number", "minimum": 1, "exclusiveMinimum": true})
        );
        assert!(r.is_clean());
    }

    #[test]
    fn unsupported_keywords_are_dropped() {
        let (v, r) = run(json!({
            "type": "object",
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "propertyNames": {"pattern": "^a"},
            "patternProperties": {"^a": {"type": "string"}}
        }));
        assert_eq!(v, json!({"type": "object"}));
        assert_eq!(r.count(Rewrite::DroppedKeyword), 3);
    }
}
