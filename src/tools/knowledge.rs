//! `explain_error` (group `docs`): the cause and fix of a PostgreSQL,
//! PostgREST, Supabase Auth or Storage error, looked up offline in
//! [`crate::knowledge`] by code or from a pasted message.

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::json;

use super::{Kind, ToolDef, tool};
use crate::groups::Group;
use crate::knowledge;
use crate::result::{ErrorCode, ToolError, ToolOutput};
use crate::server::call::Call;

/// Longest `code` accepted.
const MAX_CODE_CHARS: usize = 200;
/// Longest `message` accepted.
const MAX_MESSAGE_CHARS: usize = 20_000;

pub fn tools() -> Vec<ToolDef> {
    vec![
        tool("explain_error", Group::Docs, Kind::Read)
            .title("Explain error")
            .description(
                "Cause and fix of a Postgres/PostgREST/Auth/Storage error code or message.",
            )
            .read_only_capable()
            .handler(explain_error),
    ]
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExplainArgs {
    pub code: Option<String>,
    pub message: Option<String>,
}

async fn explain_error(_call: Call, a: ExplainArgs) -> Result<ToolOutput, ToolError> {
    let code = a.code.as_deref().map(str::trim).filter(|c| !c.is_empty());
    let message = a.message.as_deref().filter(|m| !m.trim().is_empty());
    if code.is_none() && message.is_none() {
        return Err(ToolError::invalid("give `code`, `message` or both")
            .suggestion("Pass the error's code (e.g. `42501`, `PGRST116`, `invalid_credentials`) or paste its message."));
    }
    if code.is_some_and(|c| c.chars().count() > MAX_CODE_CHARS) {
        return Err(ToolError::invalid(format!(
            "`code` is longer than {MAX_CODE_CHARS} characters"
        ))
        .suggestion("Pass only the code in `code`, and the text in `message`."));
    }
    if message.is_some_and(|m| m.chars().count() > MAX_MESSAGE_CHARS) {
        return Err(ToolError::invalid(format!(
            "`message` is longer than {MAX_MESSAGE_CHARS} characters"
        ))
        .suggestion("Paste only the error's own lines, not a whole log."));
    }
    let matches = knowledge::explain(code, message);
    if matches.is_empty() {
        return Err(not_found(code, message));
    }
    Ok(ToolOutput::trusted(json!({ "matches": matches })))
}

/// A miss: what the code's SQLSTATE class says, when it has one, and where
/// to look next.
fn not_found(code: Option<&str>, message: Option<&str>) -> ToolError {
    let what = match (code, message) {
        (Some(c), _) => format!("error code `{c}` is not in the offline table"),
        _ => "no known error code or phrase was recognised in the message; it is not in the offline table".to_owned(),
    };
    let mut e = ToolError::new(ErrorCode::NotFound, what);
    if let Some(class) = code.and_then(knowledge::sqlstate_class) {
        e = e.reason(format!(
            "as a PostgreSQL SQLSTATE its class ({}) is: {class}",
            code.and_then(|c| c.get(..2))
                .unwrap_or_default()
                .to_ascii_uppercase()
        ));
    }
    e.suggestion(
        "Search the docs with search_docs (e.g. the code or the message's key words); for database errors, get_logs with service `postgres` shows the full error with its DETAIL and HINT; pass the message too if you only gave the code.",
    )
}
