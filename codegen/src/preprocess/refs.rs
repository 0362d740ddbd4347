//! `$ref` repairs inside schemas: references to response objects (a spec bug
//! progenitor panics on) are replaced by the response's schema, and external
//! or dangling references become `{}` (any JSON value).

use serde_json::{Map, Value};

use super::walk::{for_each_schema, resolve_local};
use super::{Report, Rewrite};

const RESPONSES_PREFIX: &str = "#/components/responses/";

/// The schema a response object carries: its JSON media type's, else the first one's.
fn response_schema(response: &Value) -> Value {
    let Some(content) = response.get("content").and_then(Value::as_object) else {
        return Value::Object(Map::new());
    };
    content
        .iter()
        .find(|(k, _)| k.starts_with("application/json"))
        .or_else(|| content.iter().next())
        .and_then(|(_, media)| media.get("schema"))
        .cloned()
        .unwrap_or_else(|| Value::Object(Map::new()))
}

/// Replaces schema `$ref`s to `#/components/responses/X` with X's schema.
pub(super) fn response_refs(doc: &mut Value, report: &mut Report) {
    let snapshot = doc.clone();
    for_each_schema(doc, &mut |schema| {
        // Bounded: a response schema could itself be such a reference.
        for _ in 0..4 {
            let Some(reference) = schema.get("$ref").and_then(Value::as_str) else {
                return;
            };
            if !reference.starts_with(RESPONSES_PREFIX) {
                return;
            }
            let replacement = resolve_local(&snapshot, reference)
                .map(response_schema)
                .unwrap_or_else(|| Value::Object(Map::new()));
            schema.clear();
            if let Value::Object(m) = replacement {
                schema.extend(m);
            }
            report.bump(Rewrite::ResponseRefInSchema);
        }
    });
}

/// Replaces external `$ref`s and local ones whose target is missing with `{}`.
pub(super) fn dangling_refs(doc: &mut Value, report: &mut Report) {
    let snapshot = doc.clone();
    for_each_schema(doc, &mut |schema| {
        let Some(reference) = schema.get("$ref").and_then(Value::as_str) else {
            return;
        };
        let kind = if !reference.starts_with('#') {
            Rewrite::ExternalRef
        } else if resolve_local(&snapshot, reference).is_none() {
            Rewrite::UnresolvedRef
        } else {
            return;
        };
        schema.clear();
        report.bump(kind);
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn schema_refs_to_responses_are_resolved() {
        let mut doc = json!({
            "paths": {"/a": {"delete": {"responses": {"401": {"content": {"application/json": {
                "schema": {"$ref": "#/components/responses/Unauthorized"}
            }}}}}}},
            "components": {
                "responses": {"Unauthorized": {"content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/Error"}
                }}}},
                "schemas": {"Error": {"type": "object"}}
            }
        });
        let mut r = Report::default();
        response_refs(&mut doc, &mut r);
        assert_eq!(
            doc["paths"]["/a"]["delete"]["responses"]["401"]["content"]["application/json"]["schema"],
            json!({"$ref": "#/components/schemas/Error"})
        );
        assert_eq!(r.count(Rewrite::ResponseRefInSchema), 1);
    }

    #[test]
    fn external_and_dangling_refs_become_any() {
        let mut doc = json!({
            "components": {"schemas": {
                "A": {"type": "object", "properties": {
                    "ext": {"$ref": "https://schemas.example.com/body.json"},
                    "gone": {"$ref": "#/components/schemas/Gone"},
                    "ok": {"$ref": "#/components/schemas/B"}
                }},
                "B": {"type": "string"}
            }},
            "paths": {}
        });
        let mut r = Report::default();
        dangling_refs(&mut doc, &mut r);
        let props = &doc["components"]["schemas"]["A"]["properties"];
        assert_eq!(props["ext"], json!({}));
        assert_eq!(props["gone"], json!({}));
        assert_eq!(props["ok"], json!({"$ref": "#/components/schemas/B"}));
        assert_eq!(r.count(Rewrite::ExternalRef), 1);
        assert_eq!(r.count(Rewrite::UnresolvedRef), 1);
    }
}
