//! Operation-level rewrites: dropping HEAD/OPTIONS/TRACE, naming operations,
//! applying an allowlist, reducing request bodies to one supported media
//! type, and making every error response raw bytes.

use std::collections::{BTreeMap, BTreeSet};

use heck::ToSnakeCase;
use serde_json::{Map, Value, json};

use super::walk::{METHODS, resolve_local};
use super::{DroppedOperation, Report, Rewrite, operation_key};

/// Methods progenitor cannot generate sensibly: reqwest has no `options`, and
/// HEAD responses declare bodies that never arrive.
const DROPPED_METHODS: [&str; 3] = ["head", "options", "trace"];

/// Request body media types progenitor supports besides JSON.
const OTHER_BODY_TYPES: [&str; 4] = [
    "application/octet-stream",
    "application/x-www-form-urlencoded",
    "text/plain",
    "text/x-markdown",
];

fn base_media_type(media: &str) -> &str {
    media.split(';').next().unwrap_or(media).trim()
}

fn is_json(media: &str) -> bool {
    base_media_type(media) == "application/json"
}

/// Removes HEAD, OPTIONS and TRACE operations (and path items left empty).
pub(super) fn drop_methods(doc: &mut Value, report: &mut Report) {
    let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) else {
        return;
    };
    for item in paths.values_mut() {
        if let Some(item) = item.as_object_mut() {
            for m in DROPPED_METHODS {
                if item.remove(m).is_some() {
                    report.bump(Rewrite::DroppedMethod);
                }
            }
        }
    }
    remove_empty_paths(paths);
}

fn remove_empty_paths(paths: &mut Map<String, Value>) {
    paths.retain(|_, item| {
        item.as_object()
            .is_none_or(|item| item.keys().any(|k| METHODS.contains(&k.as_str())))
    });
}

/// A readable operationId from method and path: `get /admin/users/{user_id}`
/// becomes `get_admin_users_user_id`; `{*}` becomes `wildcard`.
pub fn synthesise_operation_id(method: &str, path: &str) -> String {
    let mut parts = vec![method.to_ascii_lowercase()];
    for segment in path.split('/').filter(|s| !s.is_empty()) {
        let segment = segment.trim_start_matches('{').trim_end_matches('}');
        let segment = if segment == "*" { "wildcard" } else { segment };
        let snake = segment.to_snake_case();
        if !snake.is_empty() {
            parts.push(snake);
        }
    }
    parts.join("_")
}

/// Applies configured names, and synthesises ids for operations without one.
pub(super) fn operation_ids(
    doc: &mut Value,
    names: &BTreeMap<String, String>,
    report: &mut Report,
) {
    let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) else {
        return;
    };
    let mut taken: BTreeSet<String> = BTreeSet::new();
    for item in paths.values() {
        for (method, op) in item.as_object().into_iter().flatten() {
            if !METHODS.contains(&method.as_str()) {
                continue;
            }
            if let Some(id) = op.get("operationId").and_then(Value::as_str) {
                taken.insert(id.to_string());
            }
        }
    }
    for (path, item) in paths.iter_mut() {
        let Some(item) = item.as_object_mut() else {
            continue;
        };
        for (method, op) in item.iter_mut() {
            if !METHODS.contains(&method.as_str()) {
                continue;
            }
            let Some(op) = op.as_object_mut() else {
                continue;
            };
            let current = op
                .get("operationId")
                .and_then(Value::as_str)
                .filter(|s| !s.trim().is_empty())
                .map(str::to_string);
            if let Some(name) = names.get(&operation_key(method, path)) {
                if current.as_deref() != Some(name) {
                    op.insert("operationId".to_string(), json!(name));
                    taken.insert(name.clone());
                    report.bump(Rewrite::RenamedOperationId);
                }
                continue;
            }
            if current.is_some() {
                continue;
            }
            let base = synthesise_operation_id(method, path);
            let mut id = base.clone();
            let mut n = 2;
            while taken.contains(&id) {
                id = format!("{base}_{n}");
                n += 1;
            }
            taken.insert(id.clone());
            op.insert("operationId".to_string(), json!(id));
            report.bump(Rewrite::SynthesisedOperationId);
        }
    }
}

/// Keeps only operations named in `list` (by operationId or `METHOD /path`).
pub(super) fn allowlist(doc: &mut Value, list: &[String], report: &mut Report) {
    let wanted: BTreeSet<String> = list
        .iter()
        .map(|entry| normalise_entry(entry))
        .filter(|e| !e.is_empty())
        .collect();
    let mut matched: BTreeSet<String> = BTreeSet::new();
    let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) else {
        return;
    };
    for (path, item) in paths.iter_mut() {
        let Some(item) = item.as_object_mut() else {
            continue;
        };
        item.retain(|method, op| {
            if !METHODS.contains(&method.as_str()) {
                return true;
            }
            let key = operation_key(method, path);
            let id = op
                .get("operationId")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            let keep = if wanted.contains(&key) {
                matched.insert(key);
                true
            } else if wanted.contains(&id) {
                matched.insert(id);
                true
            } else {
                false
            };
            if !keep {
                report.bump(Rewrite::NotAllowlisted);
            }
            keep
        });
    }
    remove_empty_paths(paths);
    for entry in wanted.difference(&matched) {
        report
            .notes
            .push(format!("allowlist entry `{entry}` matched no operation"));
    }
}

/// An allowlist line is either an operationId or `METHOD /path`.
fn normalise_entry(entry: &str) -> String {
    let entry = entry.split('#').next().unwrap_or_default().trim();
    match entry.split_once(char::is_whitespace) {
        Some((method, path))
            if METHODS.contains(&method.to_ascii_lowercase().as_str())
                && path.trim().starts_with('/') =>
        {
            operation_key(method, path.trim())
        }
        _ => entry.to_string(),
    }
}

/// Reduces each request body to one media type: `application/json` when
/// offered, else a single other type progenitor supports. Operations whose
/// body cannot be expressed (multipart, several non-JSON types) are dropped.
pub(super) fn request_bodies(doc: &mut Value, report: &mut Report) {
    let snapshot = doc.clone();
    let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) else {
        return;
    };
    for (path, item) in paths.iter_mut() {
        let Some(item) = item.as_object_mut() else {
            continue;
        };
        let mut drop_methods: Vec<String> = Vec::new();
        for (method, op) in item.iter_mut() {
            if !METHODS.contains(&method.as_str()) {
                continue;
            }
            let Some(body) = op.get_mut("requestBody") else {
                continue;
            };
            if let Some(reference) = body.get("$ref").and_then(Value::as_str)
                && let Some(target) = resolve_local(&snapshot, reference)
            {
                *body = target.clone();
            }
            let Some(content) = body.get_mut("content").and_then(Value::as_object_mut) else {
                continue;
            };
            if content.len() > 1
                && let Some(key) = content.keys().find(|k| is_json(k)).cloned()
            {
                content.retain(|k, _| *k == key);
                report.bump(Rewrite::JsonOnlyBody);
            }
            let supported = match content.keys().next() {
                None => true,
                Some(only) if content.len() == 1 => {
                    is_json(only) || OTHER_BODY_TYPES.contains(&base_media_type(only))
                }
                Some(_) => false,
            };
            if !supported {
                let types: Vec<&str> = content.keys().map(String::as_str).collect();
                report.dropped.push(DroppedOperation {
                    method: method.to_ascii_uppercase(),
                    path: path.clone(),
                    reason: format!("request body {} is not supported", types.join(", ")),
                });
                report.bump(Rewrite::UnsupportedBody);
                drop_methods.push(method.clone());
                continue;
            }
            for media in content.values_mut() {
                if let Some(media) = media.as_object_mut()
                    && media.remove("encoding").is_some()
                {
                    report.bump(Rewrite::DroppedEncoding);
                }
            }
        }
        for m in drop_methods {
            item.remove(&m);
        }
    }
    remove_empty_paths(paths);
}

fn is_success(code: &str) -> bool {
    code.starts_with('2') || code == "101"
}

/// Makes every non-2xx response raw bytes (progenitor allows one error type
/// per operation, and a body-less error response would discard the body),
/// and removes `default` where a 2xx response exists (progenitor counts it as
/// both success and error).
pub(super) fn responses(doc: &mut Value, report: &mut Report) {
    let raw =
        json!({"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}});
    let snapshot = doc.clone();
    let is_raw = |response: &Value| {
        let target = match response.get("$ref").and_then(Value::as_str) {
            Some(reference) => resolve_local(&snapshot, reference),
            None => Some(response),
        };
        target.and_then(|t| t.get("content")) == Some(&raw)
    };
    super::walk::for_each_operation(doc, &mut |_, _, op| {
        let Some(responses) = op.get_mut("responses").and_then(Value::as_object_mut) else {
            return;
        };
        let has_success = responses.keys().any(|k| is_success(k));
        if has_success && responses.remove("default").is_some() {
            report.bump(Rewrite::DroppedDefaultResponse);
        }
        for (code, response) in responses.iter_mut() {
            if code == "default" {
                continue;
            }
            if is_success(code) {
                json_response_fixes(response, report);
                continue;
            }
            if is_raw(response) {
                continue;
            }
            let description = response
                .get("description")
                .and_then(Value::as_str)
                .filter(|d| !d.is_empty())
                .unwrap_or("error")
                .to_string();
            *response = json!({"description": description, "content": raw.clone()});
            report.bump(Rewrite::RawErrorResponse);
        }
    });
}

/// Inline JSON success responses must have a schema and no `encoding`.
fn json_response_fixes(response: &mut Value, report: &mut Report) {
    let Some(content) = response.get_mut("content").and_then(Value::as_object_mut) else {
        return;
    };
    for (media, body) in content.iter_mut() {
        if !is_json(media) {
            continue;
        }
        let Some(body) = body.as_object_mut() else {
            continue;
        };
        if body.remove("encoding").is_some() {
            report.bump(Rewrite::DroppedEncoding);
        }
        if !body.contains_key("schema") {
            body.insert("schema".to_string(), json!({}));
            report.bump(Rewrite::MissingResponseSchema);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(paths: Value) -> Value {
        json!({"openapi": "3.0.3", "paths": paths})
    }

    #[test]
    fn head_and_options_are_dropped() {
        let mut d = doc(json!({
            "/a": {"head": {}, "get": {}},
            "/b": {"options": {}, "parameters": []}
        }));
        let mut r = Report::default();
        drop_methods(&mut d, &mut r);
        assert_eq!(d["paths"], json!({"/a": {"get": {}}}));
        assert_eq!(r.count(Rewrite::DroppedMethod), 2);
    }

    #[test]
    fn operation_ids_are_synthesised_and_unique() {
        let mut d = doc(json!({
            "/admin/users/{user_id}": {"get": {}, "put": {"operationId": "keep"}},
            "/object/{bucketName}/{*}": {"post": {}},
            "/x-y": {"get": {}},
            "/x_y": {"get": {}}
        }));
        let mut r = Report::default();
        operation_ids(&mut d, &BTreeMap::new(), &mut r);
        let p = &d["paths"];
        assert_eq!(
            p["/admin/users/{user_id}"]["get"]["operationId"],
            "get_admin_users_user_id"
        );
        assert_eq!(p["/admin/users/{user_id}"]["put"]["operationId"], "keep");
        assert_eq!(
            p["/object/{bucketName}/{*}"]["post"]["operationId"],
            "post_object_bucket_name_wildcard"
        );
        assert_eq!(p["/x-y"]["get"]["operationId"], "get_x_y");
        assert_eq!(p["/x_y"]["get"]["operationId"], "get_x_y_2");
        assert_eq!(r.count(Rewrite::SynthesisedOperationId), 4);
    }

    #[test]
    fn configured_names_win() {
        let mut d = doc(json!({"/object/{bucketName}/{*}": {"delete": {"operationId": "x"}}}));
        let names = BTreeMap::from([(
            operation_key("delete", "/object/{bucket}/{wildcard}"),
            "delete_object".to_string(),
        )]);
        let mut r = Report::default();
        operation_ids(&mut d, &names, &mut r);
        assert_eq!(
            d["paths"]["/object/{bucketName}/{*}"]["delete"]["operationId"],
            "delete_object"
        );
        assert_eq!(r.count(Rewrite::RenamedOperationId), 1);
    }

    #[test]
    fn allowlist_keeps_named_operations() {
        let mut d = doc(json!({
            "/a": {"get": {"operationId": "get_a"}, "post": {"operationId": "post_a"}},
            "/b/{id}": {"get": {"operationId": "get_b"}},
            "/c": {"get": {"operationId": "get_c"}}
        }));
        let mut r = Report::default();
        let list = [
            "get_a".to_string(),
            "GET /b/{other}  # by path".to_string(),
            "nope".to_string(),
        ];
        allowlist(&mut d, &list, &mut r);
        assert_eq!(
            d["paths"],
            json!({"/a": {"get": {"operationId": "get_a"}}, "/b/{id}": {"get": {"operationId": "get_b"}}})
        );
        assert_eq!(r.count(Rewrite::NotAllowlisted), 2);
        assert_eq!(r.notes.len(), 1);
    }

    #[test]
    fn request_bodies_keep_json_and_drop_multipart() {
        let mut d = json!({
            "paths": {
                "/f": {"post": {"requestBody": {"content": {
                    "application/vnd.denoland.eszip": {"schema": {"type": "string", "format": "binary"}},
                    "application/json": {"schema": {"type": "object"}}
                }}}},
                "/deploy": {"post": {"requestBody": {"content": {
                    "multipart/form-data": {"schema": {"type": "object"}}
                }}}, "get": {}},
                "/upload": {"put": {"requestBody": {"$ref": "#/components/requestBodies/Up"}}},
                "/raw": {"put": {"requestBody": {"content": {
                    "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
                }}}}
            },
            "components": {"requestBodies": {"Up": {"content": {"multipart/form-data": {}}}}}
        });
        let mut r = Report::default();
        request_bodies(&mut d, &mut r);
        let p = &d["paths"];
        assert_eq!(
            p["/f"]["post"]["requestBody"]["content"],
            json!({"application/json": {"schema": {"type": "object"}}})
        );
        assert_eq!(p["/deploy"], json!({"get": {}}));
        assert!(p.get("/upload").is_none());
        assert!(p["/raw"]["put"].is_object());
        assert_eq!(r.count(Rewrite::JsonOnlyBody), 1);
        assert_eq!(r.count(Rewrite::UnsupportedBody), 2);
        assert_eq!(r.dropped.len(), 2);
        assert_eq!(r.dropped[0].method, "POST");
    }

    #[test]
    fn error_responses_become_raw() {
        let mut d = doc(json!({"/a": {"get": {"responses": {
            "200": {"description": "ok", "content": {"application/json": {}}},
            "401": {"$ref": "#/components/responses/Unauthorized"},
            "4XX": {"description": "bad", "content": {"application/json": {"schema": {"type": "object"}}}},
            "500": {"description": "boom"},
            "default": {"description": "other"}
        }}}}));
        let mut r = Report::default();
        responses(&mut d, &mut r);
        let resp = &d["paths"]["/a"]["get"]["responses"];
        assert!(resp.get("default").is_none());
        for code in ["401", "4XX", "500"] {
            assert_eq!(
                resp[code]["content"]["application/octet-stream"]["schema"]["format"],
                "binary"
            );
        }
        assert_eq!(resp["4XX"]["description"], "bad");
        assert_eq!(
            resp["200"]["content"]["application/json"]["schema"],
            json!({})
        );
        assert_eq!(r.count(Rewrite::RawErrorResponse), 3);
        assert_eq!(r.count(Rewrite::DroppedDefaultResponse), 1);
        assert_eq!(r.count(Rewrite::MissingResponseSchema), 1);

        // Running again changes nothing; a $ref to a raw response is kept.
        d["paths"]["/a"]["get"]["responses"]["403"] = json!({"$ref": "#/components/responses/Raw"});
        d["components"] = json!({"responses": {"Raw": {"description": "raw", "content": {
            "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
        }}}});
        let mut again = Report::default();
        responses(&mut d, &mut again);
        assert!(again.is_clean());
    }

    #[test]
    fn lone_default_response_is_kept() {
        let mut d = doc(json!({"/a": {"get": {"responses": {"default": {"description": "x"}}}}}));
        let mut r = Report::default();
        responses(&mut d, &mut r);
        assert!(d["paths"]["/a"]["get"]["responses"]["default"].is_object());
        assert!(r.is_clean());
    }
}
