//! Final check before generation: deserialises the rewritten document into
//! `openapiv3::OpenAPI` and looks for the shapes progenitor 0.15 would reject
//! with a panic (`todo!`, `assert!`), reporting all of them with locations.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use openapiv3::{
    OpenAPI, Parameter, ParameterSchemaOrContent, PathStyle, QueryStyle, ReferenceOr, RequestBody,
    Response, StatusCode,
};
use serde_json::Value;

/// Why a document cannot be generated from.
#[derive(Debug, thiserror::Error)]
pub enum ValidationError {
    /// The `openapi` field is not 3.0.x.
    #[error("unsupported OpenAPI version `{0}` (progenitor needs 3.0.x)")]
    Version(String),
    /// The document does not match the OpenAPI 3.0 structure.
    #[error("not a valid OpenAPI 3.0 document at `{path}`: {message}")]
    Structure {
        /// Location in the document.
        path: String,
        /// Deserialiser message.
        message: String,
    },
    /// Operations progenitor would reject or panic on.
    #[error("{} problem(s) progenitor cannot handle:\n{}", .0.len(), Problems(.0))]
    Problems(Vec<Problem>),
}

/// One problem, located by operation where possible.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// `METHOD /path (operationId)` or another location.
    pub location: String,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.location, self.message)
    }
}

struct Problems<'a>(&'a [Problem]);

impl fmt::Display for Problems<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for p in self.0 {
            writeln!(f, "  - {p}")?;
        }
        Ok(())
    }
}

/// Validates a rewritten document and returns it as an `OpenAPI` value.
pub fn validate(doc: &Value) -> Result<OpenAPI, ValidationError> {
    let version = doc.get("openapi").and_then(Value::as_str).unwrap_or("");
    if !version.trim().starts_with("3.0.") {
        return Err(ValidationError::Version(version.to_string()));
    }
    let spec: OpenAPI =
        serde_path_to_error::deserialize(doc).map_err(|e| ValidationError::Structure {
            path: e.path().to_string(),
            message: e.inner().to_string(),
        })?;
    let problems = check(&spec);
    if problems.is_empty() {
        Ok(spec)
    } else {
        Err(ValidationError::Problems(problems))
    }
}

fn resolve<'a, T>(
    item: &'a ReferenceOr<T>,
    lookup: impl Fn(&str) -> Option<&'a ReferenceOr<T>>,
) -> Option<&'a T> {
    let mut current = item;
    for _ in 0..8 {
        match current {
            ReferenceOr::Item(t) => return Some(t),
            ReferenceOr::Reference { reference } => {
                let name = reference.rsplit('/').next()?;
                current = lookup(name)?;
            }
        }
    }
    None
}

/// Path template parameter names, e.g. `/a/{b}/{c}` → `[b, c]`.
fn template_names(path: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = path;
    while let Some(start) = rest.find('{') {
        let after = &rest[start + 1..];
        match after.find('}') {
            Some(end) => {
                names.push(after[..end].to_string());
                rest = &after[end + 1..];
            }
            None => break,
        }
    }
    names
}

fn check(spec: &OpenAPI) -> Vec<Problem> {
    let mut problems = Vec::new();
    let components = spec.components.as_ref();
    let param_lookup = |name: &str| components.and_then(|c| c.parameters.get(name));
    let body_lookup = |name: &str| components.and_then(|c| c.request_bodies.get(name));
    let response_lookup = |name: &str| components.and_then(|c| c.responses.get(name));
    let mut ids: BTreeMap<String, String> = BTreeMap::new();

    for (path, item) in &spec.paths.paths {
        let ReferenceOr::Item(item) = item else {
            problems.push(Problem {
                location: path.clone(),
                message: "path item is a $ref".to_string(),
            });
            continue;
        };
        for (method, op) in item.iter() {
            let id = op.operation_id.clone().unwrap_or_default();
            let location = format!("{} {} ({})", method.to_ascii_uppercase(), path, id);
            let mut problem = |message: String| {
                problems.push(Problem {
                    location: location.clone(),
                    message,
                })
            };
            if id.is_empty() {
                problem("missing operationId".to_string());
            } else if let Some(previous) = ids.insert(id.clone(), location.clone()) {
                problem(format!("operationId also used by {previous}"));
            }

            // Parameters: operation-level entries override path-level ones by name.
            let mut params: BTreeMap<String, &Parameter> = BTreeMap::new();
            for p in item.parameters.iter().chain(op.parameters.iter()) {
                match resolve(p, param_lookup) {
                    Some(p) => {
                        params.insert(p.parameter_data_ref().name.clone(), p);
                    }
                    None => problem("parameter $ref does not resolve".to_string()),
                }
            }
            let template: BTreeSet<String> = template_names(path).into_iter().collect();
            let mut declared_path: BTreeSet<String> = BTreeSet::new();
            for (name, p) in &params {
                if let ParameterSchemaOrContent::Content(_) = p.parameter_data_ref().format {
                    problem(format!(
                        "parameter `{name}` uses `content` instead of `schema`"
                    ));
                }
                match p {
                    Parameter::Path {
                        parameter_data,
                        style,
                    } => {
                        declared_path.insert(name.clone());
                        if !parameter_data.required {
                            problem(format!("path parameter `{name}` must be required"));
                        }
                        if !matches!(style, PathStyle::Simple) {
                            problem(format!("path parameter `{name}` has a non-simple style"));
                        }
                    }
                    Parameter::Query { style, .. } => {
                        if !matches!(style, QueryStyle::Form) {
                            problem(format!("query parameter `{name}` has a non-form style"));
                        }
                    }
                    Parameter::Header { .. } => {}
                    Parameter::Cookie { .. } => {
                        problem(format!("cookie parameter `{name}` is not supported"));
                    }
                }
            }
            for missing in template.difference(&declared_path) {
                problem(format!("path parameter `{missing}` is not declared"));
            }
            for extra in declared_path.difference(&template) {
                problem(format!("path parameter `{extra}` is not in the path"));
            }

            if let Some(body) = &op.request_body {
                match resolve(body, body_lookup) {
                    Some(body) => check_body(body, &mut problem),
                    None => problem("requestBody $ref does not resolve".to_string()),
                }
            }

            let mut success_kinds: BTreeSet<String> = BTreeSet::new();
            let has_success_range = op.responses.responses.contains_key(&StatusCode::Range(2));
            let mut all: Vec<(String, &ReferenceOr<Response>)> = op
                .responses
                .responses
                .iter()
                .map(|(code, r)| (code.to_string(), r))
                .collect();
            if let Some(default) = &op.responses.default {
                all.push(("default".to_string(), default));
            }
            for (code, response) in all {
                let Some(response) = resolve(response, response_lookup) else {
                    problem(format!("response {code} $ref does not resolve"));
                    continue;
                };
                let json = response
                    .content
                    .iter()
                    .find(|(k, _)| *k == "application/json" || k.starts_with("application/json;"));
                if let Some((_, media)) = json {
                    if media.schema.is_none() {
                        problem(format!("response {code}: JSON content without a schema"));
                    }
                    if !media.encoding.is_empty() {
                        problem(format!("response {code}: JSON content with an encoding"));
                    }
                }
                let success = code == "101"
                    || code.starts_with('2')
                    || (code == "default" && !has_success_range);
                if !success {
                    continue;
                }
                let kind = if code == "101" {
                    "upgrade".to_string()
                } else if let Some((_, media)) = json {
                    format!(
                        "json {}",
                        serde_json::to_string(&media.schema).unwrap_or_default()
                    )
                } else if response.content.is_empty() {
                    "none".to_string()
                } else {
                    "raw".to_string()
                };
                success_kinds.insert(kind);
            }
            if success_kinds.len() > 1 {
                problem(format!(
                    "success responses have {} different types (progenitor allows one): {}",
                    success_kinds.len(),
                    success_kinds
                        .iter()
                        .map(|k| k.chars().take(80).collect::<String>())
                        .collect::<Vec<_>>()
                        .join(" | ")
                ));
            }
        }
    }
    problems
}

fn check_body(body: &RequestBody, problem: &mut dyn FnMut(String)) {
    if body.content.len() > 1 {
        let types: Vec<&str> = body.content.keys().map(String::as_str).collect();
        problem(format!(
            "request body offers {} media types ({}); progenitor accepts one",
            types.len(),
            types.join(", ")
        ));
        return;
    }
    let Some((media_type, media)) = body.content.first() else {
        return;
    };
    let base = media_type.split(';').next().unwrap_or_default().trim();
    let supported = [
        "application/json",
        "application/octet-stream",
        "application/x-www-form-urlencoded",
        "text/plain",
        "text/x-markdown",
    ];
    if !supported.contains(&base) {
        problem(format!(
            "request body media type {media_type} is not supported"
        ));
    }
    if media.schema.is_none() {
        problem("request body without a schema".to_string());
    }
    if !media.encoding.is_empty() {
        problem("request body with an encoding".to_string());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn doc(paths: Value) -> Value {
        json!({"openapi": "3.0.3", "info": {"title": "t", "version": "1"}, "paths": paths})
    }

    fn problems(paths: Value) -> Vec<String> {
        match validate(&doc(paths)) {
            Ok(_) => Vec::new(),
            Err(ValidationError::Problems(p)) => p.iter().map(ToString::to_string).collect(),
            Err(other) => vec![other.to_string()],
        }
    }

    #[test]
    fn rejects_31_and_bad_structure() {
        let mut d = doc(json!({}));
        d["openapi"] = json!("3.1.0");
        assert!(matches!(validate(&d), Err(ValidationError::Version(_))));
        let d = doc(json!({"/a": {"get": {"responses": {"200": {"description": 5}}}}}));
        let err = validate(&d).unwrap_err().to_string();
        assert!(err.contains("paths"), "{err}");
    }

    #[test]
    fn finds_operation_problems() {
        let p = problems(json!({
            "/a/{id}": {"get": {
                "responses": {"200": {"description": "ok"}}
            }},
            "/b": {"post": {
                "operationId": "b",
                "parameters": [{"name": "c", "in": "cookie", "schema": {"type": "string"}}],
                "requestBody": {"content": {
                    "application/json": {"schema": {}},
                    "multipart/form-data": {"schema": {}}
                }},
                "responses": {
                    "200": {"description": "ok", "content": {"application/json": {"schema": {"type": "string"}}}},
                    "204": {"description": "none"}
                }
            }},
            "/c": {"get": {"operationId": "b", "responses": {}}}
        }));
        let all = p.join("\n");
        assert!(all.contains("GET /a/{id} (): missing operationId"), "{all}");
        assert!(all.contains("path parameter `id` is not declared"), "{all}");
        assert!(all.contains("cookie parameter `c`"), "{all}");
        assert!(all.contains("2 media types"), "{all}");
        assert!(all.contains("2 different types"), "{all}");
        assert!(
            all.contains("operationId also used by POST /b (b)"),
            "{all}"
        );
    }

    #[test]
    fn accepts_a_plain_document() {
        assert!(problems(json!({"/a/{id}": {"get": {
            "operationId": "a",
            "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}],
            "responses": {
                "200": {"description": "ok", "content": {"application/json": {"schema": {"type": "string"}}}},
                "201": {"description": "ok", "content": {"application/json": {"schema": {"type": "string"}}}}
            }
        }}}))
        .is_empty());
    }
}
