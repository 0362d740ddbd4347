//! Shared helpers for the API client tests: loads the project's OpenAPI
//! documents from `specs/` and checks a request received by a
//! `wiremock::MockServer` against the operation it claims to be (method,
//! path template, query parameters, JSON body), plus small header and
//! configuration helpers.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::Value;
use supabase_mcp::api::{ApiConfig, RetryPolicy};
use wiremock::Request;

/// A distinctive secret: tests make the mock server echo it back and then
/// check that it never shows up in errors.
pub const SECRET: &str = "sk-test-0123456789-very-distinctive-secret";

/// Fast retries and short timeouts so the tests run quickly.
pub fn fast_config() -> ApiConfig {
    ApiConfig::default()
        .with_timeout(Duration::from_secs(5))
        .with_slow_timeout(Duration::from_secs(10))
        .with_transfer_timeout(Duration::from_secs(10))
        .with_retry(RetryPolicy {
            max_attempts: 3,
            initial_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_millis(40),
            max_retry_after: Duration::from_secs(1),
        })
}

/// Asserts header `name` has exactly one value, equal to `expected`.
pub fn assert_header(req: &Request, name: &str, expected: &str) {
    let values: Vec<_> = req.headers.get_all(name).iter().collect();
    assert_eq!(
        values.len(),
        1,
        "expected one '{name}' header, got {values:?}"
    );
    assert_eq!(
        values[0].to_str().unwrap(),
        expected,
        "header '{name}' of {} {}",
        req.method,
        req.url
    );
}

pub fn assert_no_header(req: &Request, name: &str) {
    assert!(
        req.headers.get(name).is_none(),
        "unexpected '{name}' header on {} {}",
        req.method,
        req.url
    );
}

/// Asserts `text` does not contain the test secret.
pub fn assert_no_secret(what: &str, text: &str) {
    assert!(!text.contains(SECRET), "{what} leaks the secret: {text}");
}

/// One of the project's OpenAPI documents.
pub struct Spec {
    name: String,
    doc: Value,
}

impl Spec {
    /// Loads `specs/<name>.yaml`, for example `Spec::load("supabase-auth")`.
    pub fn load(name: &str) -> Spec {
        let path = format!("{}/specs/{name}.yaml", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let yaml: serde_yaml::Value =
            serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
        Spec {
            name: name.to_owned(),
            doc: yaml_to_json(yaml),
        }
    }

    /// Follows a local `$ref` (`#/components/...`), if `v` is one.
    fn resolve<'a>(&'a self, v: &'a Value) -> &'a Value {
        match v.get("$ref").and_then(Value::as_str) {
            Some(r) => {
                let pointer = r
                    .strip_prefix('#')
                    .unwrap_or_else(|| panic!("{}: external $ref {r}", self.name));
                self.doc
                    .pointer(pointer)
                    .unwrap_or_else(|| panic!("{}: dangling $ref {r}", self.name))
            }
            None => v,
        }
    }

    /// Finds an operation by operationId. Ids are compared ignoring case and
    /// punctuation, so the generated client's `v1_list_all_projects` finds
    /// the spec's `v1-list-all-projects`.
    fn operation(&self, operation_id: &str) -> (String, String, &Value, &Value) {
        let want = normalize_id(operation_id);
        let paths = self.doc["paths"].as_object().expect("spec has paths");
        let mut found = Vec::new();
        for (template, item) in paths {
            let Some(item_map) = item.as_object() else {
                continue;
            };
            for (method, op) in item_map {
                if let Some(id) = op.get("operationId").and_then(Value::as_str)
                    && normalize_id(id) == want
                {
                    found.push((template.clone(), method.to_uppercase(), op, item));
                }
            }
        }
        assert_eq!(
            found.len(),
            1,
            "{}: operationId '{operation_id}' should match exactly one operation",
            self.name
        );
        found.remove(0)
    }

    /// All parameters of an operation (path-level ones included), resolved.
    fn parameters<'a>(&'a self, op: &'a Value, item: &'a Value) -> Vec<&'a Value> {
        let mut out = Vec::new();
        for list in [item.get("parameters"), op.get("parameters")]
            .into_iter()
            .flatten()
        {
            for p in list.as_array().expect("parameters is a list") {
                out.push(self.resolve(p));
            }
        }
        out
    }

    /// Checks `req` against operation `operation_id`: method, path (after
    /// `prefix`, the part of the base URL before the spec's paths), query
    /// parameters and JSON body. Returns the path parameters, decoded.
    pub fn check(
        &self,
        operation_id: &str,
        req: &Request,
        prefix: &str,
    ) -> BTreeMap<String, String> {
        let (template, method, op, item) = self.operation(operation_id);
        let ctx = format!("{} {operation_id} ({method} {template})", self.name);
        assert_eq!(req.method.as_str(), method, "{ctx}: method");

        // Path.
        let path = req
            .url
            .path()
            .strip_prefix(prefix)
            .unwrap_or_else(|| panic!("{ctx}: path {} lacks prefix {prefix}", req.url.path()));
        let params = self.parameters(op, item);
        let declared = |location: &str| -> Vec<(String, bool)> {
            params
                .iter()
                .filter(|p| p["in"] == location)
                .map(|p| {
                    (
                        p["name"].as_str().expect("parameter name").to_owned(),
                        p["required"].as_bool().unwrap_or(false),
                    )
                })
                .collect()
        };
        let path_declared = declared("path");
        let want: Vec<&str> = template.split('/').collect();
        let got: Vec<&str> = path.split('/').collect();
        assert_eq!(
            want.len(),
            got.len(),
            "{ctx}: path {path} does not have the template's segments"
        );
        let mut values = BTreeMap::new();
        for (w, g) in want.iter().zip(&got) {
            if let Some(name) = w.strip_prefix('{').and_then(|n| n.strip_suffix('}')) {
                assert!(
                    path_declared.iter().any(|(n, _)| n == name),
                    "{ctx}: path parameter {name} is not declared"
                );
                let decoded = percent_decode(g);
                assert!(!decoded.is_empty(), "{ctx}: empty path parameter {name}");
                values.insert(name.to_owned(), decoded);
            } else {
                assert_eq!(w, g, "{ctx}: path {path}");
            }
        }

        // Query.
        let query_declared = declared("query");
        let sent: Vec<String> = req.url.query_pairs().map(|(k, _)| k.into_owned()).collect();
        for name in &sent {
            assert!(
                query_declared.iter().any(|(n, _)| n == name),
                "{ctx}: query parameter '{name}' is not in the spec"
            );
        }
        for (name, required) in &query_declared {
            if *required {
                assert!(
                    sent.contains(name),
                    "{ctx}: required query parameter '{name}' missing"
                );
            }
        }

        // Body.
        match op.get("requestBody").map(|b| self.resolve(b)) {
            None => assert!(
                req.body.is_empty(),
                "{ctx}: the spec declares no body but one was sent"
            ),
            Some(body_spec) => {
                let schema = body_spec
                    .pointer("/content/application~1json/schema")
                    .unwrap_or_else(|| panic!("{ctx}: request body is not application/json"));
                assert!(
                    !req.body.is_empty(),
                    "{ctx}: the spec declares a body, none was sent"
                );
                let content_type = req
                    .headers
                    .get("content-type")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default();
                assert!(
                    content_type.starts_with("application/json"),
                    "{ctx}: content-type {content_type}"
                );
                let body: Value = serde_json::from_slice(&req.body)
                    .unwrap_or_else(|e| panic!("{ctx}: body is not JSON: {e}"));
                self.check_object(&ctx, self.resolve(schema), &body);
            }
        }
        values
    }

    /// Required properties present, no property the schema does not name
    /// (unless it allows additional properties). `$ref`s are followed one
    /// level, `allOf` parts are merged.
    fn check_object(&self, ctx: &str, schema: &Value, body: &Value) {
        let mut properties = serde_json::Map::new();
        let mut required = Vec::new();
        let mut open = false;
        let parts: Vec<&Value> = match schema.get("allOf").and_then(Value::as_array) {
            Some(all) => all.iter().map(|s| self.resolve(s)).collect(),
            None => vec![schema],
        };
        let mut is_object = false;
        for part in parts {
            if let Some(p) = part.get("properties").and_then(Value::as_object) {
                properties.extend(p.clone());
                is_object = true;
            }
            if let Some(r) = part.get("required").and_then(Value::as_array) {
                required.extend(r.iter().filter_map(Value::as_str).map(str::to_owned));
            }
            if part.get("type") == Some(&Value::String("object".into())) {
                is_object = true;
            }
            match part.get("additionalProperties") {
                Some(Value::Bool(false)) | None => {}
                Some(_) => open = true,
            }
        }
        if !is_object {
            return;
        }
        let map = body
            .as_object()
            .unwrap_or_else(|| panic!("{ctx}: body should be a JSON object, got {body}"));
        for r in &required {
            assert!(
                map.contains_key(r),
                "{ctx}: required body property '{r}' missing"
            );
        }
        if !properties.is_empty() && !open {
            for k in map.keys() {
                assert!(
                    properties.contains_key(k),
                    "{ctx}: body property '{k}' is not in the schema"
                );
            }
        }
    }
}

fn normalize_id(id: &str) -> String {
    id.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

fn percent_decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("x={}", s.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

fn yaml_to_json(v: serde_yaml::Value) -> Value {
    match v {
        serde_yaml::Value::Null => Value::Null,
        serde_yaml::Value::Bool(b) => Value::Bool(b),
        serde_yaml::Value::Number(n) => serde_json::to_value(n).unwrap_or(Value::Null),
        serde_yaml::Value::String(s) => Value::String(s),
        serde_yaml::Value::Sequence(items) => {
            Value::Array(items.into_iter().map(yaml_to_json).collect())
        }
        serde_yaml::Value::Mapping(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| {
                    let key = match k {
                        serde_yaml::Value::String(s) => s,
                        other => serde_yaml::to_string(&other)
                            .unwrap_or_default()
                            .trim()
                            .to_owned(),
                    };
                    (key, yaml_to_json(v))
                })
                .collect(),
        ),
        serde_yaml::Value::Tagged(t) => yaml_to_json(t.value),
    }
}

/// Splits a `multipart/form-data` body into (headers, content) per part.
pub fn multipart_parts(content_type: &str, body: &[u8]) -> Vec<(String, Vec<u8>)> {
    let boundary = content_type
        .split(';')
        .find_map(|p| p.trim().strip_prefix("boundary="))
        .expect("multipart boundary")
        .trim_matches('"');
    let delimiter = format!("--{boundary}");
    let mut parts = Vec::new();
    let mut rest = body;
    while let Some(pos) = find(rest, delimiter.as_bytes()) {
        rest = &rest[pos + delimiter.len()..];
        if rest.starts_with(b"--") {
            break;
        }
        let rest_trim = rest.strip_prefix(b"\r\n").unwrap_or(rest);
        let end = find(rest_trim, delimiter.as_bytes()).expect("closing boundary");
        let part = &rest_trim[..end];
        let part = part.strip_suffix(b"\r\n").unwrap_or(part);
        let split = find(part, b"\r\n\r\n").expect("part headers");
        parts.push((
            String::from_utf8_lossy(&part[..split]).into_owned(),
            part[split + 4..].to_vec(),
        ));
        rest = rest_trim;
    }
    parts
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}
