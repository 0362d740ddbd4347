//! `dokploy_deploy_supabase`: a new Supabase instance on Dokploy. The
//! project name is checked first; every secret and both API keys are made
//! here (the self-hosted generator, never Dokploy's), written to a 0600
//! file whose path is returned, and set as the compose service's env; then
//! the domain, the deployment, and a bounded wait for it with progress.
//! A failure removes what was created, or says exactly what is left.

use std::path::PathBuf;
use std::time::Duration;

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::common::{
    api, api_error, args_of, body, check_id, param, register_secrets, s, shape_error, write_env,
};
use super::domain::{check_host, check_site_url};
use super::ops::wait_for_deployment;
use super::versions::create_private_dir;
use crate::api::generated::dokploy::types;
use crate::api::{CallOptions, DokployApi};
use crate::groups::Group;
use crate::result::{ErrorCode, ToolError, ToolOutput};
use crate::selfhosted::files::{PRIVATE_MODE, write_atomic};
use crate::selfhosted::template::{self, Options};
use crate::selfhosted::{EnvFile, connstrings, project_name};
use crate::server::call::Call;
use crate::tools::{Kind, ToolDef, tool};

/// The Dokploy template that holds Supabase's compose file.
const TEMPLATE_ID: &str = "supabase";
const DEFAULT_WAIT_SECS: u64 = 600;
const MAX_WAIT_SECS: u64 = 1800;

pub fn tools() -> Vec<ToolDef> {
    vec![
        tool("dokploy_deploy_supabase", Group::Dokploy, Kind::Write)
            .title("Deploy Supabase on Dokploy")
            .description("Create a Dokploy project with Supabase from the template: secrets and keys generated locally (saved to a 0600 file), domain, deploy, wait.")
            .long_running()
            .assess(assess_deploy)
            .handler(deploy_supabase),
    ]
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeployArgs {
    /// Project name: lowercase letters, digits and hyphens, e.g. acme-prod.
    pub project_name: String,
    /// Public host name for the API and Studio, e.g. supabase.example.com.
    #[serde(default)]
    pub domain: Option<String>,
    /// The app's address (SITE_URL); default the domain's URL.
    #[serde(default)]
    pub site_url: Option<String>,
    /// Remote server to deploy on (Dokploy server id); default the Dokploy host.
    #[serde(default)]
    pub server_id: Option<String>,
    /// Seconds to wait for the deployment (default 600, at most 1800).
    #[serde(default)]
    pub wait_secs: Option<u64>,
    /// Keep what was created when something fails (default: remove it).
    #[serde(default)]
    pub keep_on_failure: bool,
}

fn assess_deploy(args: &Map<String, Value>) -> Option<String> {
    let a: DeployArgs = args_of(args)?;
    // A name that cannot be used is refused by the handler without asking.
    check_name(&a.project_name).ok()?;
    Some(format!(
        "create the Dokploy project `{}` with a Supabase compose service{}, set freshly generated secrets, and deploy it (containers start and use disk on the server)",
        a.project_name.trim(),
        a.domain
            .as_deref()
            .map(|d| format!(" served at https://{}", d.trim().to_ascii_lowercase()))
            .unwrap_or_default()
    ))
}

/// What exists on Dokploy so far.
#[derive(Default)]
struct Created {
    project_id: Option<String>,
    environment_id: Option<String>,
    compose_id: Option<String>,
    domain_id: Option<String>,
}

impl Created {
    fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(p) = &self.project_id {
            parts.push(format!("project {p}"));
        }
        if let Some(c) = &self.compose_id {
            parts.push(format!("compose service {c}"));
        }
        if let Some(d) = &self.domain_id {
            parts.push(format!("domain {d}"));
        }
        if parts.is_empty() {
            "nothing".to_owned()
        } else {
            parts.join(", ")
        }
    }
}

fn check_name(raw: &str) -> Result<String, ToolError> {
    let name = raw.trim();
    let c = project_name::check(name);
    if !c.valid {
        let mut e = ToolError::invalid(format!(
            "`{}` cannot be a project name",
            name.escape_debug()
        ))
        .reason(c.problems.join("; "));
        e = match c.suggestion {
            Some(sug) => e.suggestion(format!(
                "Use lowercase letters, digits and hyphens, e.g. `{sug}`."
            )),
            None => e.suggestion("Use lowercase letters, digits and hyphens, e.g. acme-prod."),
        };
        return Err(e);
    }
    Ok(name.to_owned())
}

async fn deploy_supabase(call: Call, a: DeployArgs) -> Result<ToolOutput, ToolError> {
    let name = check_name(&a.project_name)?;
    let domain = a
        .domain
        .as_deref()
        .map(|d| check_host(Some(d)))
        .transpose()?;
    let site_url = check_site_url(a.site_url.as_deref())?;
    let server = a
        .server_id
        .as_deref()
        .map(|x| check_id("server_id", x))
        .transpose()?;
    let wait = a.wait_secs.unwrap_or(DEFAULT_WAIT_SECS);
    if wait == 0 || wait > MAX_WAIT_SECS {
        return Err(ToolError::invalid(format!("wait_secs must be between 1 and {MAX_WAIT_SECS}"))
            .suggestion("A first deployment pulls every image and takes several minutes; 600 is a good wait."));
    }
    let api = api(&call)?;
    let projects = api
        .idempotent(|c| c.project_all())
        .await
        .map_err(api_error)?;
    if projects
        .as_array()
        .is_some_and(|l| l.iter().any(|p| s(p, "name") == name))
    {
        return Err(
            ToolError::invalid(format!("a Dokploy project named `{name}` exists already"))
                .suggestion(
                    "Pick another name, or manage the existing one (dokploy_list_instances).",
                ),
        );
    }
    call.progress(0, Some(5), "creating the project").await;
    let mut created = Created::default();
    let steps = run(
        &call,
        &api,
        &name,
        domain.as_deref(),
        site_url.as_deref(),
        server.as_deref(),
        wait,
        &mut created,
    )
    .await;
    match steps {
        Ok(out) => Ok(out),
        Err(e) if e.code == ErrorCode::Timeout || a.keep_on_failure => Err(e.suggestion(format!(
            "Left on Dokploy: {}. It may still come up: dokploy_monitor_health shows its state; the secrets file holds its keys.",
            created.describe()
        ))),
        Err(e) => {
            let left = undo(&api, &created).await;
            let suffix = match left {
                None => format!("Everything created was removed ({}); fix the cause and run it again.", created.describe()),
                Some(left) => format!("Removing what was created failed: {left} still exists; delete it in Dokploy before trying again."),
            };
            Err(e.suggestion(suffix))
        }
    }
}

#[allow(clippy::too_many_arguments)]
async fn run(
    call: &Call,
    api: &DokployApi,
    name: &str,
    domain: Option<&str>,
    site_url: Option<&str>,
    server: Option<&str>,
    wait: u64,
    created: &mut Created,
) -> Result<ToolOutput, ToolError> {
    let b: types::ProjectCreateBody = body(
        "project.create",
        json!({"name": name, "description": "Supabase (supabase-mcp)"}),
    )?;
    let p = api
        .call(|c| c.project_create(&b))
        .await
        .map_err(api_error)?;
    let project_id = first_str(&p, &["/projectId", "/project/projectId"])
        .ok_or_else(|| shape_error("the new project has no projectId"))?;
    created.project_id = Some(project_id.clone());
    let environment_id = match first_str(
        &p,
        &[
            "/environment/environmentId",
            "/environments/0/environmentId",
        ],
    ) {
        Some(e) => e,
        None => {
            let envs = api
                .idempotent(|c| c.environment_by_project_id(&project_id))
                .await
                .map_err(api_error)?;
            first_str(&envs, &["/0/environmentId"])
                .ok_or_else(|| shape_error("the new project has no environment"))?
        }
    };
    created.environment_id = Some(environment_id.clone());

    call.progress(1, Some(5), "creating the Supabase compose service")
        .await;
    let mut t = json!({"environmentId": environment_id, "id": TEMPLATE_ID});
    if let Some(sv) = server {
        t["serverId"] = json!(sv);
    }
    let tb: types::ComposeDeployTemplateBody = body("compose.deployTemplate", t)?;
    let made = api
        .call_with(CallOptions::once().slow(), |c| {
            c.compose_deploy_template(&tb)
        })
        .await
        .map_err(api_error)?;
    let compose_id = match first_str(&made, &["/composeId", "/compose/composeId"]) {
        Some(c) => c,
        None => {
            let eid: types::EnvironmentOneEnvironmentId = param("environmentId", &environment_id)?;
            let env = api
                .idempotent(|c| c.environment_one(&eid))
                .await
                .map_err(api_error)?;
            first_str(&env, &["/compose/0/composeId"])
                .ok_or_else(|| shape_error("the template created no compose service"))?
        }
    };
    created.compose_id = Some(compose_id.clone());

    // The template's env only as a base: every secret is replaced here.
    let cid: types::ComposeOneComposeId = param("compose_id", &compose_id)?;
    let current = api
        .idempotent(|c| c.compose_one(&cid))
        .await
        .map_err(api_error)?;
    let base = current
        .get("env")
        .and_then(Value::as_str)
        .filter(|e| e.contains('='))
        .map(EnvFile::parse);
    register_secrets(call, base.as_ref().unwrap_or(&EnvFile::parse("")));
    let generated = template::generate(&Options {
        base,
        domain: domain.map(str::to_owned),
        site_url: site_url
            .map(str::to_owned)
            .or_else(|| domain.map(|d| format!("https://{d}"))),
        project_name: Some(name.to_owned()),
        ..Options::default()
    })
    .map_err(|e| ToolError::invalid(format!("cannot generate the env: {e}")))?;
    register_secrets(call, &generated.file);
    let text = generated.file.render();
    let secrets_file = save_secrets(call, name, &text)?;
    write_env(api, &compose_id, &text).await?;

    if let Some(d) = domain {
        call.progress(2, Some(5), "adding the domain").await;
        let db: types::DomainCreateBody = body(
            "domain.create",
            json!({
                "host": d, "path": "/", "port": 8000, "https": true,
                "certificateType": "letsencrypt", "serviceName": "kong",
                "domainType": "compose", "composeId": compose_id,
            }),
        )?;
        let dom = api
            .call(|c| c.domain_create(&db))
            .await
            .map_err(api_error)?;
        created.domain_id = first_str(&dom, &["/domainId"]);
    }

    call.progress(3, Some(5), "deploying").await;
    let before = super::ops::known_deployments(api, &compose_id).await?;
    let deb: types::ComposeDeployBody = body(
        "compose.deploy",
        json!({"composeId": compose_id, "title": "Supabase first deployment"}),
    )?;
    api.call_with(CallOptions::once().slow(), |c| c.compose_deploy(&deb))
        .await
        .map_err(api_error)?;
    let deployment =
        wait_for_deployment(call, api, &compose_id, &before, Duration::from_secs(wait)).await?;
    call.progress(5, Some(5), "deployed").await;

    let conn = connstrings::build(&generated.file, domain);
    let api_url = domain.map(|d| format!("https://{d}"));
    Ok(ToolOutput::trusted(json!({
        "status": "deployed",
        "project_id": project_id,
        "environment_id": environment_id,
        "compose_id": compose_id,
        "domain_id": created.domain_id,
        "api_url": api_url,
        "studio_url": api_url,
        "deployment": deployment,
        "keys": generated.keys,
        "connections": conn.strings,
        "secrets_file": secrets_file.display().to_string(),
        "next_step": "the secrets file (0600) holds JWT_SECRET, ANON_KEY, SERVICE_ROLE_KEY, POSTGRES_PASSWORD and the dashboard login; move it to a password manager. dokploy_monitor_health shows the containers.",
    })))
}

fn first_str(v: &Value, pointers: &[&str]) -> Option<String> {
    pointers
        .iter()
        .find_map(|p| v.pointer(p).and_then(Value::as_str))
        .filter(|x| !x.is_empty())
        .map(str::to_owned)
}

fn save_secrets(call: &Call, name: &str, text: &str) -> Result<PathBuf, ToolError> {
    let dir = call
        .state
        .config
        .data_dir
        .join("dokploy")
        .join("deployments");
    let io = |e: String| {
        ToolError::new(ErrorCode::Io, format!("cannot save the generated secrets: {e}"))
            .suggestion("Check that the data directory (--data-dir) is writable; nothing secret was sent before this.")
    };
    create_private_dir(&dir).map_err(|e| io(e.to_string()))?;
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ");
    let path = dir.join(format!("{name}-{stamp}.env"));
    write_atomic(&path, text, false, PRIVATE_MODE).map_err(|e| io(e.to_string()))?;
    Ok(path)
}

/// Removes what was created, newest first; `Some(what is left)` on failure.
async fn undo(api: &DokployApi, created: &Created) -> Option<String> {
    let mut left = Vec::new();
    if let Some(c) = &created.compose_id {
        let ok = match body::<types::ComposeDeleteBody>(
            "compose.delete",
            json!({"composeId": c, "deleteVolumes": true}),
        ) {
            Ok(b) => api.call(|cl| cl.compose_delete(&b)).await.is_ok(),
            Err(_) => false,
        };
        if !ok {
            left.push(format!("compose service {c}"));
        }
    }
    if let Some(p) = &created.project_id {
        let ok = match body::<types::ProjectRemoveBody>("project.remove", json!({"projectId": p})) {
            Ok(b) => api.call(|cl| cl.project_remove(&b)).await.is_ok(),
            Err(_) => false,
        };
        if !ok {
            left.push(format!("project {p}"));
        }
    }
    (!left.is_empty()).then(|| left.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked_with_a_suggestion() {
        assert_eq!(check_name(" acme-prod ").unwrap(), "acme-prod");
        let e = check_name("My_Project").unwrap_err();
        assert!(e.suggestion.unwrap_or_default().contains('`'));
        assert!(check_name("").is_err());
    }

    #[test]
    fn ids_are_found_in_either_shape() {
        let v = json!({"project": {"projectId": "p1"}, "environment": {"environmentId": "e1"}});
        assert_eq!(
            first_str(&v, &["/projectId", "/project/projectId"]).as_deref(),
            Some("p1")
        );
        assert_eq!(
            first_str(&v, &["/environment/environmentId"]).as_deref(),
            Some("e1")
        );
        assert_eq!(first_str(&json!({"projectId": ""}), &["/projectId"]), None);
    }
}
