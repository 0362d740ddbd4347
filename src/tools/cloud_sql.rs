//! SQL through the Management API (`POST /v1/projects/{ref}/database/query`)
//! for cloud instances without a direct database URL.

use serde_json::Value;

use crate::api::generated::management::types::{ProjectRef, V1RunQueryBody};
use crate::result::{ErrorCode, ToolError};
use crate::server::call::Call;

/// True when SQL for this call must go through the Management API.
pub fn uses_management_api(call: &Call) -> bool {
    call.instance.db_url.is_none() && call.instance.access_token.is_some()
}

/// Runs `sql` on the call's cloud project and returns the result rows.
pub async fn query(
    call: &Call,
    project_ref: Option<&str>,
    sql: &str,
    read_only: bool,
) -> Result<Vec<Value>, ToolError> {
    let Some(r) = project_ref.or(call.instance.project_ref.as_deref()) else {
        return Err(
            ToolError::invalid("no project to run the SQL on").suggestion(
                "Start the server with --project-ref, or configure a database URL (--db-url).",
            ),
        );
    };
    let project: ProjectRef = r.parse().map_err(|_| {
        ToolError::invalid(format!("`{r}` is not a project ref"))
            .suggestion("A project ref is 20 lowercase letters, as in https://<ref>.supabase.co.")
    })?;
    let body = V1RunQueryBody {
        parameters: Vec::new(),
        query: sql.parse().map_err(|_| {
            ToolError::invalid("the query is empty").suggestion("Pass the SQL to run.")
        })?,
        read_only: Some(read_only),
    };
    let api = call.state.clients.management(&call.instance)?;
    let value = api
        .call(|c| c.v1_run_a_query(&project, &body))
        .await
        .map_err(ToolError::from)?;
    match value {
        Value::Array(rows) => Ok(rows),
        Value::Null => Ok(Vec::new()),
        other => Err(ToolError::new(
            ErrorCode::ApiError,
            "the Management API answered the query with an unexpected shape",
        )
        .reason(format!(
            "expected a JSON array of rows, got {}",
            kind(&other)
        ))),
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Object(_) => "an object",
        Value::String(_) => "a string",
        Value::Number(_) => "a number",
        Value::Bool(_) => "a boolean",
        _ => "something else",
    }
}
