//! Removes component schemas no remaining operation refers to (used with an
//! allowlist, since progenitor emits a type for every component schema).

use std::collections::BTreeSet;

use serde_json::Value;

use super::walk::for_each_ref;
use super::{Report, Rewrite};

const SCHEMAS_PREFIX: &str = "#/components/schemas/";

fn schema_name(reference: &str) -> Option<String> {
    let name = reference.strip_prefix(SCHEMAS_PREFIX)?;
    let name = name.split('/').next()?;
    Some(name.replace("~1", "/").replace("~0", "~"))
}

/// Drops every `components.schemas` entry not reachable from the paths or
/// from other (non-schema) components.
pub(super) fn unused_schemas(doc: &mut Value, report: &mut Report) {
    let mut reachable: BTreeSet<String> = BTreeSet::new();
    let mut queue: Vec<String> = Vec::new();
    let mut note = |r: &str| {
        if let Some(name) = schema_name(r) {
            queue.push(name);
        }
    };
    if let Some(paths) = doc.get("paths") {
        for_each_ref(paths, &mut note);
    }
    if let Some(components) = doc.get("components").and_then(Value::as_object) {
        for (kind, items) in components {
            if kind != "schemas" {
                for_each_ref(items, &mut note);
            }
        }
    }
    let schemas = doc
        .pointer("/components/schemas")
        .cloned()
        .unwrap_or(Value::Null);
    while let Some(name) = queue.pop() {
        if !reachable.insert(name.clone()) {
            continue;
        }
        if let Some(schema) = schemas.get(&name) {
            for_each_ref(schema, &mut |r| {
                if let Some(n) = schema_name(r) {
                    queue.push(n);
                }
            });
        }
    }
    if let Some(schemas) = doc
        .pointer_mut("/components/schemas")
        .and_then(Value::as_object_mut)
    {
        let before = schemas.len();
        schemas.retain(|name, _| reachable.contains(name));
        report.add(Rewrite::PrunedSchema, before - schemas.len());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keeps_transitively_used_schemas() {
        let mut doc = json!({
            "paths": {"/a": {"get": {"responses": {"200": {"content": {"application/json": {
                "schema": {"$ref": "#/components/schemas/A"}
            }}}}}}},
            "components": {
                "schemas": {
                    "A": {"properties": {"b": {"$ref": "#/components/schemas/B"}}},
                    "B": {"type": "string"},
                    "C": {"type": "string"},
                    "D": {"type": "string"}
                },
                "responses": {"R": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/D"}}}}}
            }
        });
        let mut r = Report::default();
        unused_schemas(&mut doc, &mut r);
        let names: Vec<&String> = doc["components"]["schemas"]
            .as_object()
            .unwrap()
            .keys()
            .collect();
        assert_eq!(names, ["A", "B", "D"]);
        assert_eq!(r.count(Rewrite::PrunedSchema), 1);
    }
}
