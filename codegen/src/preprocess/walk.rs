//! Traversal helpers: visiting every operation and every schema of a document.
//!
//! Rewrites must only touch JSON Schema objects (a property called `const`
//! or `examples` is data, not a keyword), so schemas are found by following
//! the places OpenAPI allows them rather than by scanning every object.

use serde_json::{Map, Value};

/// HTTP methods that may appear as keys of a path item.
pub const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// Callback receiving `(path, method, operation)`.
pub type OperationVisitor<'a> = dyn FnMut(&str, &str, &mut Map<String, Value>) + 'a;

/// Calls `f(path, method, operation)` for every operation of the document.
pub fn for_each_operation(doc: &mut Value, f: &mut OperationVisitor<'_>) {
    let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) else {
        return;
    };
    for (path, item) in paths.iter_mut() {
        let Some(item) = item.as_object_mut() else {
            continue;
        };
        for (method, op) in item.iter_mut() {
            if !METHODS.contains(&method.as_str()) {
                continue;
            }
            if let Some(op) = op.as_object_mut() {
                f(path, method, op);
            }
        }
    }
}

/// Calls `f` on every schema object in the document, parents before children.
/// `f` may rewrite the object in place; its (new) children are then visited.
pub fn for_each_schema(doc: &mut Value, f: &mut dyn FnMut(&mut Map<String, Value>)) {
    if let Some(components) = doc.get_mut("components").and_then(Value::as_object_mut) {
        if let Some(schemas) = components.get_mut("schemas").and_then(Value::as_object_mut) {
            for schema in schemas.values_mut() {
                walk_schema(schema, f);
            }
        }
        for kind in ["parameters", "headers"] {
            if let Some(items) = components.get_mut(kind).and_then(Value::as_object_mut) {
                for item in items.values_mut() {
                    walk_parameter(item, f);
                }
            }
        }
        if let Some(items) = components
            .get_mut("responses")
            .and_then(Value::as_object_mut)
        {
            for item in items.values_mut() {
                walk_response(item, f);
            }
        }
        if let Some(items) = components
            .get_mut("requestBodies")
            .and_then(Value::as_object_mut)
        {
            for item in items.values_mut() {
                walk_content(item, f);
            }
        }
    }
    let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) else {
        return;
    };
    for item in paths.values_mut() {
        let Some(item) = item.as_object_mut() else {
            continue;
        };
        if let Some(params) = item.get_mut("parameters").and_then(Value::as_array_mut) {
            for p in params {
                walk_parameter(p, f);
            }
        }
        for (method, op) in item.iter_mut() {
            if !METHODS.contains(&method.as_str()) {
                continue;
            }
            let Some(op) = op.as_object_mut() else {
                continue;
            };
            if let Some(params) = op.get_mut("parameters").and_then(Value::as_array_mut) {
                for p in params {
                    walk_parameter(p, f);
                }
            }
            if let Some(body) = op.get_mut("requestBody") {
                walk_content(body, f);
            }
            if let Some(responses) = op.get_mut("responses").and_then(Value::as_object_mut) {
                for r in responses.values_mut() {
                    walk_response(r, f);
                }
            }
        }
    }
}

fn walk_parameter(param: &mut Value, f: &mut dyn FnMut(&mut Map<String, Value>)) {
    if let Some(schema) = param.get_mut("schema") {
        walk_schema(schema, f);
    }
    walk_content(param, f);
}

fn walk_response(response: &mut Value, f: &mut dyn FnMut(&mut Map<String, Value>)) {
    walk_content(response, f);
    if let Some(headers) = response.get_mut("headers").and_then(Value::as_object_mut) {
        for h in headers.values_mut() {
            walk_parameter(h, f);
        }
    }
}

/// Visits the schemas under `content.<media type>.schema` of a body, response or parameter.
fn walk_content(holder: &mut Value, f: &mut dyn FnMut(&mut Map<String, Value>)) {
    if let Some(content) = holder.get_mut("content").and_then(Value::as_object_mut) {
        for media in content.values_mut() {
            if let Some(schema) = media.get_mut("schema") {
                walk_schema(schema, f);
            }
        }
    }
}

/// Keywords whose value is a map of name to schema.
const SCHEMA_MAPS: [&str; 5] = [
    "properties",
    "patternProperties",
    "$defs",
    "definitions",
    "dependentSchemas",
];
/// Keywords whose value is a list of schemas.
const SCHEMA_LISTS: [&str; 4] = ["allOf", "anyOf", "oneOf", "prefixItems"];
/// Keywords whose value is a single schema.
const SCHEMA_SINGLES: [&str; 9] = [
    "items",
    "additionalProperties",
    "not",
    "contains",
    "propertyNames",
    "if",
    "then",
    "else",
    "unevaluatedProperties",
];

/// Visits one schema and, recursively, its sub-schemas.
pub fn walk_schema(schema: &mut Value, f: &mut dyn FnMut(&mut Map<String, Value>)) {
    let Some(map) = schema.as_object_mut() else {
        return;
    };
    f(map);
    for key in SCHEMA_MAPS {
        if let Some(children) = map.get_mut(key).and_then(Value::as_object_mut) {
            for child in children.values_mut() {
                walk_schema(child, f);
            }
        }
    }
    for key in SCHEMA_LISTS {
        if let Some(children) = map.get_mut(key).and_then(Value::as_array_mut) {
            for child in children {
                walk_schema(child, f);
            }
        }
    }
    for key in SCHEMA_SINGLES {
        match map.get_mut(key) {
            Some(Value::Array(children)) => {
                for child in children {
                    walk_schema(child, f);
                }
            }
            Some(child @ Value::Object(_)) => walk_schema(child, f),
            _ => {}
        }
    }
}

/// Calls `f` on every string value of a `$ref` key anywhere below `value`.
pub fn for_each_ref(value: &Value, f: &mut dyn FnMut(&str)) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                if k == "$ref" {
                    if let Some(s) = v.as_str() {
                        f(s);
                    }
                } else {
                    for_each_ref(v, f);
                }
            }
        }
        Value::Array(items) => {
            for v in items {
                for_each_ref(v, f);
            }
        }
        _ => {}
    }
}

/// Looks up a local reference (`#/a/b`) in `doc`.
pub fn resolve_local<'a>(doc: &'a Value, reference: &str) -> Option<&'a Value> {
    let pointer = reference.strip_prefix('#')?;
    if pointer.is_empty() {
        return Some(doc);
    }
    doc.pointer(pointer)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn visits_nested_schemas_but_not_property_names() {
        let mut doc = json!({
            "components": {"schemas": {"A": {
                "type": "object",
                "properties": {"const": {"type": "string"}, "list": {"items": {"type": "integer"}}}
            }}},
            "paths": {"/x": {"get": {
                "parameters": [{"name": "q", "in": "query", "schema": {"type": "string"}}],
                "responses": {"200": {"content": {"application/json": {"schema": {"anyOf": [{"type": "string"}]}}}}}
            }}}
        });
        let mut seen = Vec::new();
        for_each_schema(&mut doc, &mut |m| {
            seen.push(
                m.get("type")
                    .and_then(Value::as_str)
                    .unwrap_or("-")
                    .to_string(),
            )
        });
        assert_eq!(
            seen,
            ["object", "string", "-", "integer", "string", "-", "string"]
        );
    }

    #[test]
    fn resolves_local_pointers() {
        let doc = json!({"components": {"schemas": {"a/b": {"type": "string"}}}});
        assert!(resolve_local(&doc, "#/components/schemas/a~1b").is_some());
        assert!(resolve_local(&doc, "#/components/schemas/c").is_none());
        assert!(resolve_local(&doc, "other.json#/x").is_none());
    }
}
