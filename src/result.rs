//! The one result shape every tool returns: status, data, warnings, and for
//! failures an error with code, reason and suggestion.

use serde::Serialize;
use serde_json::Value;

/// Machine-readable error codes. Stable: clients may match on them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    InvalidArguments,
    NotConfigured,
    ReadOnly,
    ConfirmationRequired,
    RateLimited,
    Timeout,
    Cancelled,
    ConnectionFailed,
    QueryFailed,
    NotFound,
    PermissionDenied,
    ApiError,
    Io,
    Internal,
}

/// A tool failure as the caller sees it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ToolError {
    pub code: ErrorCode,
    /// What went wrong, in one sentence.
    pub message: String,
    /// Why it went wrong (the underlying cause, e.g. the database's message).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// What to do next.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suggestion: Option<String>,
}

impl ToolError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            reason: None,
            suggestion: None,
        }
    }

    pub fn reason(mut self, reason: impl Into<String>) -> Self {
        self.reason = Some(reason.into());
        self
    }

    pub fn suggestion(mut self, suggestion: impl Into<String>) -> Self {
        self.suggestion = Some(suggestion.into());
        self
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidArguments, message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Internal, message)
    }

    /// Human-readable form used as the text content of an error result.
    pub fn to_text(&self) -> String {
        let mut out = format!("Error: {}", self.message);
        if let Some(r) = &self.reason {
            out.push_str("\nReason: ");
            out.push_str(r);
        }
        if let Some(s) = &self.suggestion {
            out.push_str("\nSuggestion: ");
            out.push_str(s);
        }
        out
    }
}

impl std::fmt::Display for ToolError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_text())
    }
}

/// What a tool hands back on success, before the server applies the output
/// budget and the untrusted-data boundary.
#[derive(Debug, Default)]
pub struct ToolOutput {
    pub data: Value,
    pub warnings: Vec<String>,
    /// True when `data` holds content that came from a database, logs or a
    /// remote API and must be fenced as untrusted.
    pub untrusted: bool,
}

impl ToolOutput {
    pub fn trusted(data: Value) -> Self {
        Self {
            data,
            warnings: Vec::new(),
            untrusted: false,
        }
    }

    pub fn untrusted(data: Value) -> Self {
        Self {
            data,
            warnings: Vec::new(),
            untrusted: true,
        }
    }

    pub fn warn(mut self, warning: impl Into<String>) -> Self {
        self.warnings.push(warning.into());
        self
    }
}

/// Status of a result envelope.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Ok,
    Error,
    ConfirmationRequired,
}

/// The JSON envelope sent as `structuredContent`.
#[derive(Debug, Serialize)]
pub struct Envelope {
    pub status: Status,
    #[serde(skip_serializing_if = "Value::is_null")]
    pub data: Value,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ToolError>,
}

/// JSON schema of [`Envelope`], used as `outputSchema` for every tool.
pub fn envelope_schema(data_schema: Option<Value>) -> serde_json::Map<String, Value> {
    let mut data = data_schema.unwrap_or_else(|| serde_json::json!({}));
    // `$ref`s inside the data schema point at `#/$defs/...`: the definitions
    // must sit at the root of the envelope schema.
    let defs = data.as_object_mut().and_then(|o| o.remove("$defs"));
    let schema = serde_json::json!({
        "type": "object",
        "properties": {
            "status": {"type": "string", "enum": ["ok", "error", "confirmation_required"]},
            "data": data,
            "warnings": {"type": "array", "items": {"type": "string"}},
            "error": {"type": "object", "properties": {
                "code": {"type": "string"}, "message": {"type": "string"},
                "reason": {"type": "string"}, "suggestion": {"type": "string"}}}
        },
        "required": ["status"]
    });
    match schema {
        Value::Object(mut map) => {
            if let Some(defs) = defs {
                map.insert("$defs".into(), defs);
            }
            map
        }
        _ => serde_json::Map::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_definitions_move_to_the_root() {
        let data = serde_json::json!({"type": "object", "properties": {"x": {"$ref": "#/$defs/X"}}, "$defs": {"X": {"type": "string"}}});
        let s = envelope_schema(Some(data));
        assert!(s["$defs"]["X"].is_object());
        assert!(s["properties"]["data"].get("$defs").is_none());
    }

    #[test]
    fn error_text_has_reason_and_suggestion() {
        let e = ToolError::new(ErrorCode::QueryFailed, "Query execution failed")
            .reason("syntax error at or near \"SELCT\"")
            .suggestion("Check the SQL syntax.");
        assert_eq!(
            e.to_text(),
            "Error: Query execution failed\nReason: syntax error at or near \"SELCT\"\nSuggestion: Check the SQL syntax."
        );
        let v = serde_json::to_value(&e).unwrap();
        assert_eq!(v["code"], "query_failed");
    }
}
