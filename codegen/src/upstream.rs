//! Generating a client from an unmodified upstream document: the options
//! that restrict it to an allowlist or to the operations of our own spec
//! (reusing our operationIds), and the generation itself.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

use crate::document::{self, DocumentError};
use crate::generate::{self, GenerateError, Tokens};
use crate::preprocess::walk::METHODS;
use crate::preprocess::{Options, operation_key};

/// Errors raised while generating from an upstream document.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    /// A document or allowlist could not be read.
    #[error(transparent)]
    Document(#[from] DocumentError),
    /// Generation failed.
    #[error(transparent)]
    Generate(#[from] GenerateError),
}

/// Parses an allowlist: one operationId or `METHOD /path` per line; `#` starts a comment.
pub fn parse_allowlist(text: &str) -> Vec<String> {
    text.lines()
        .map(|l| l.split('#').next().unwrap_or_default().trim())
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

/// Options that keep only the operations of our spec and give them our operationIds.
pub fn options_from_ours(ours: &Value) -> Options {
    let mut allowlist = Vec::new();
    let mut operation_names = BTreeMap::new();
    for (path, item) in ours
        .get("paths")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        for (method, op) in item.as_object().into_iter().flatten() {
            if !METHODS.contains(&method.as_str()) {
                continue;
            }
            let key = operation_key(method, path);
            if let Some(id) = op.get("operationId").and_then(Value::as_str) {
                operation_names.insert(key.clone(), id.to_string());
            }
            allowlist.push(key);
        }
    }
    Options {
        allowlist: Some(allowlist),
        operation_names,
    }
}

/// Loads an upstream document (JSON or YAML, OpenAPI 3.0 or 3.1) and generates a client.
pub fn generate(label: &str, path: &Path, options: &Options) -> Result<Tokens, UpstreamError> {
    let doc = document::load(path)?;
    Ok(generate::generate_document(label, doc, options)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn allowlist_lines() {
        let list = parse_allowlist("# header\nget_a\n\n  GET /b/{id}  # trailing\n");
        assert_eq!(list, ["get_a", "GET /b/{id}"]);
    }

    #[test]
    fn options_follow_our_spec() {
        let ours = json!({"paths": {"/object/{bucket}/{wildcard}": {
            "delete": {"operationId": "delete_object"},
            "parameters": []
        }}});
        let o = options_from_ours(&ours);
        assert_eq!(o.allowlist, Some(vec!["DELETE /object/{}/{}".to_string()]));
        assert_eq!(
            o.operation_names
                .get("DELETE /object/{}/{}")
                .map(String::as_str),
            Some("delete_object")
        );
    }
}
