//! `dokploy_list_instances`: the Supabase compose services across every
//! project and environment the API key sees, recognised by name, compose
//! file or environment, with their deployment status.

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};

use super::common::{api, api_error, check_id, s, shape_error};
use crate::groups::Group;
use crate::result::{ToolError, ToolOutput};
use crate::server::call::Call;
use crate::tools::{Kind, ToolDef, tool};

pub fn tools() -> Vec<ToolDef> {
    vec![
        tool("dokploy_list_instances", Group::Dokploy, Kind::Read)
            .title("List Supabase on Dokploy")
            .description(
                "Supabase compose services across Dokploy projects and environments, with status.",
            )
            .read_only_capable()
            .handler(list_instances),
    ]
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListArgs {
    /// Only services on this remote server (Dokploy server id).
    #[serde(default)]
    pub server_id: Option<String>,
}

/// Why a compose service counts as Supabase, if it does.
pub fn supabase_signal(c: &Value) -> Option<&'static str> {
    let file = s(c, "composeFile");
    if file.contains("supabase/postgres")
        || file.contains("supabase/gotrue")
        || file.contains("supabase/studio")
    {
        return Some("compose_file");
    }
    let env = s(c, "env");
    if env.contains("JWT_SECRET=") && env.contains("ANON_KEY=") && env.contains("SERVICE_ROLE_KEY=")
    {
        return Some("environment");
    }
    let named = |k: &str| s(c, k).to_ascii_lowercase().contains("supabase");
    if named("name") || named("appName") {
        return Some("name");
    }
    None
}

/// Every compose service of a project listing, with its project and
/// environment names (projects before environments existed held their
/// compose services directly).
fn composes(projects: &[Value]) -> Vec<(String, String, &Value)> {
    let mut out = Vec::new();
    for p in projects {
        let pname = s(p, "name").to_owned();
        if let Some(list) = p.get("compose").and_then(Value::as_array) {
            out.extend(list.iter().map(|c| (pname.clone(), String::new(), c)));
        }
        for e in p
            .get("environments")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let ename = s(e, "name").to_owned();
            for c in e
                .get("compose")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                out.push((pname.clone(), ename.clone(), c));
            }
        }
    }
    out
}

async fn list_instances(call: Call, a: ListArgs) -> Result<ToolOutput, ToolError> {
    let server = a
        .server_id
        .as_deref()
        .map(|x| check_id("server_id", x))
        .transpose()?;
    let api = api(&call)?;
    let v = api
        .idempotent(|c| c.project_all())
        .await
        .map_err(api_error)?;
    let Value::Array(projects) = v else {
        return Err(shape_error("the project list is not a JSON array"));
    };
    let all = composes(&projects);
    let mut instances = Vec::new();
    let mut others = 0usize;
    for (project, environment, c) in &all {
        let on_server = c.get("serverId").and_then(Value::as_str);
        if let Some(want) = &server
            && on_server != Some(want.as_str())
        {
            continue;
        }
        let Some(signal) = supabase_signal(c) else {
            others += 1;
            continue;
        };
        instances.push(json!({
            "compose_id": s(c, "composeId"),
            "name": s(c, "name"),
            "app_name": s(c, "appName"),
            "project": project,
            "environment": environment,
            "status": s(c, "composeStatus"),
            "server_id": on_server,
            "detected_by": signal,
            "created_at": c.get("createdAt"),
        }));
    }
    let mut out = ToolOutput::untrusted(json!({
        "count": instances.len(),
        "instances": instances,
        "other_compose_services": others,
        "projects": projects.len(),
    }));
    if instances.is_empty() {
        out = out.warn("no Supabase compose service found; dokploy_deploy_supabase creates one");
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn supabase_is_recognised() {
        assert_eq!(
            supabase_signal(&json!({"composeFile": "image: supabase/postgres:15"})),
            Some("compose_file")
        );
        assert_eq!(
            supabase_signal(&json!({"env": "JWT_SECRET=x\nANON_KEY=y\nSERVICE_ROLE_KEY=z"})),
            Some("environment")
        );
        assert_eq!(
            supabase_signal(&json!({"name": "My Supabase"})),
            Some("name")
        );
        assert_eq!(supabase_signal(&json!({"name": "wordpress"})), None);
    }

    #[test]
    fn environments_and_legacy_projects_are_walked() {
        let p = vec![
            json!({"name": "a", "compose": [{"composeId": "c1"}]}),
            json!({"name": "b", "environments": [{"name": "prod", "compose": [{"composeId": "c2"}]}]}),
        ];
        let all = composes(&p);
        assert_eq!(all.len(), 2);
        assert_eq!(all[1].1, "prod");
    }
}
