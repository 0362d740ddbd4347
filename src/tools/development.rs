//! The `development` group: project URLs and keys for building apps (more
//! tools arrive with the cloud and development features).

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::json;

use super::{Kind, Scope, ToolDef, tool};
use crate::config::Mode;
use crate::groups::Group;
use crate::result::{ErrorCode, ToolError, ToolOutput};
use crate::server::call::Call;

pub fn tools() -> Vec<ToolDef> {
    vec![
        tool("get_project_url", Group::Development, Kind::Read)
            .title("Get project URL")
            .description("Get the API URL of a project (cloud: https://<ref>.supabase.co) or of the self-hosted instance.")
            .scope(Scope::Project)
            .handler(get_project_url),
    ]
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProjectArgs {
    /// Project ref (20 lowercase letters and digits). Optional for self-hosted instances.
    #[serde(default)]
    pub project_id: Option<String>,
}

async fn get_project_url(call: Call, a: ProjectArgs) -> Result<ToolOutput, ToolError> {
    if let Some(r) = a
        .project_id
        .as_deref()
        .or(call.instance.project_ref.as_deref())
    {
        if r.len() != 20
            || !r
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        {
            return Err(ToolError::invalid(format!("`{r}` is not a project ref"))
                .suggestion("A project ref is 20 lowercase letters and digits, as in https://<ref>.supabase.co."));
        }
        return Ok(ToolOutput::trusted(
            json!({"project_id": r, "url": format!("https://{r}.supabase.co")}),
        ));
    }
    match (&call.instance.supabase_url, call.instance.mode) {
        (Some(u), _) => Ok(ToolOutput::trusted(json!({"url": u}))),
        (None, Mode::Cloud) => Err(ToolError::invalid("`project_id` is required in cloud mode")
            .suggestion("Pass project_id, or start the server with --project-ref.")),
        (None, Mode::SelfHosted) => Err(ToolError::new(
            ErrorCode::NotConfigured,
            "no Supabase URL is configured for this instance",
        )
        .suggestion(
            "Pass --supabase-url (or SUPABASE_URL), or --env-file with SUPABASE_PUBLIC_URL.",
        )),
    }
}
