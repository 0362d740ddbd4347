//! What the `dokploy` tools share: the Dokploy client of a call, API errors
//! that never quote an answer (a compose answer holds its whole `.env`),
//! checked ids, the compose service as the tools read it, and the requests
//! that write its environment or queue a redeployment.

use std::str::FromStr;

use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

use crate::api::{ApiError, CallOptions, DokployApi};
use crate::result::{ErrorCode, ToolError};
use crate::secret::Secret;
use crate::selfhosted::EnvFile;
use crate::selfhosted::mask::is_secret_var;
use crate::server::call::Call;

/// Longest id accepted for a compose service, project, domain or container.
const MAX_ID_CHARS: usize = 128;
/// Shortest secret value registered with the redactor (shorter ones would
/// scrub ordinary words from results).
const MIN_REDACTED_CHARS: usize = 8;

pub fn api(call: &Call) -> Result<DokployApi, ToolError> {
    call.state.clients.dokploy(&call.instance)
}

/// The tool error of a failed call. An answer of the wrong shape is
/// reported without the excerpt the client layer quotes: compose answers
/// carry the service's environment, secrets included.
pub fn api_error(e: ApiError) -> ToolError {
    match e {
        ApiError::InvalidResponse {
            service,
            status,
            suggestion,
            ..
        } => ToolError::from(ApiError::InvalidResponse {
            service,
            status,
            message: "the answer does not have the expected shape (its content is not shown: it may hold secrets)".to_owned(),
            suggestion,
        }),
        other => ToolError::from(other),
    }
}

/// An answer that cannot be used, described without its content.
pub fn shape_error(what: &str) -> ToolError {
    ToolError::new(
        ErrorCode::ApiError,
        "Dokploy sent an answer that could not be used",
    )
    .reason(format!(
        "{what} (its content is not shown: it may hold secrets)"
    ))
    .suggestion("Check that --dokploy-url points at a Dokploy instance (v0.20 or newer) and retry.")
}

/// A Dokploy id given by the caller: letters, digits, `-`, `_` and `.`.
pub fn check_id(what: &str, raw: &str) -> Result<String, ToolError> {
    let id = raw.trim();
    if id.is_empty() {
        return Err(ToolError::invalid(format!("`{what}` is empty"))
            .suggestion("dokploy_list_instances shows the ids of the Supabase compose services."));
    }
    if id.chars().count() > MAX_ID_CHARS
        || !id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        || id.starts_with('.')
    {
        return Err(ToolError::invalid(format!(
            "`{what}` `{}` is not a Dokploy id",
            id.escape_debug()
        ))
        .reason("Dokploy ids are letters, digits, `-`, `_` and `.`")
        .suggestion("dokploy_list_instances shows the ids of the Supabase compose services."));
    }
    Ok(id.to_owned())
}

/// A generated parameter type from a checked string.
pub fn param<T: FromStr>(what: &str, s: &str) -> Result<T, ToolError> {
    s.parse().map_err(|_| {
        ToolError::invalid(format!("`{what}` is not accepted by the Dokploy API"))
            .suggestion("Check the value against the tool's input schema.")
    })
}

/// A generated request body from JSON.
pub fn body<T: DeserializeOwned>(what: &str, v: Value) -> Result<T, ToolError> {
    serde_json::from_value(v).map_err(|e| {
        ToolError::invalid(format!(
            "the {what} request is not accepted by the Dokploy API's rules"
        ))
        .reason(format!("near line {}, column {}", e.line(), e.column()))
        .suggestion("Check the values given (lengths, ports, names).")
    })
}

/// The arguments of a call as `A`, for confirmation checks (`None` when
/// they do not parse: the handler then refuses them without asking).
pub fn args_of<A: DeserializeOwned>(args: &Map<String, Value>) -> Option<A> {
    serde_json::from_value(Value::Object(args.clone())).ok()
}

/// A string field of a JSON object ("" when missing).
pub fn s<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or("")
}

/// A compose service as the tools need it.
#[derive(Debug, Clone)]
pub struct Compose {
    pub id: String,
    pub name: String,
    pub app_name: String,
    /// `idle`, `running`, `done` or `error`.
    pub status: String,
    pub server_id: Option<String>,
    /// The environment block (empty when none is set).
    pub env: String,
    /// True once it has been deployed at least once (volumes exist).
    pub deployed: bool,
}

impl Compose {
    pub fn from_value(id: &str, v: &Value) -> Result<Compose, ToolError> {
        if !v.is_object() {
            return Err(shape_error("the compose service is not a JSON object"));
        }
        let env = match v.get("env") {
            Some(Value::String(t)) => t.clone(),
            Some(Value::Null) | None => String::new(),
            Some(_) => return Err(shape_error("the compose service's `env` is not text")),
        };
        let status = s(v, "composeStatus").to_owned();
        let deployed = status == "done"
            || status == "error"
            || v.get("deployments")
                .and_then(Value::as_array)
                .is_some_and(|d| !d.is_empty());
        Ok(Compose {
            id: id.to_owned(),
            name: s(v, "name").to_owned(),
            app_name: s(v, "appName").to_owned(),
            status,
            server_id: v
                .get("serverId")
                .and_then(Value::as_str)
                .filter(|x| !x.is_empty())
                .map(str::to_owned),
            env,
            deployed,
        })
    }
}

/// Reads a compose service; its secret values are registered with the
/// redactor before anything else happens with them.
pub async fn compose(call: &Call, api: &DokployApi, id: &str) -> Result<Compose, ToolError> {
    let typed = param("compose_id", id)?;
    let v = api
        .idempotent(|c| c.compose_one(&typed))
        .await
        .map_err(|e| not_found_hint(api_error(e), id))?;
    let c = Compose::from_value(id, &v)?;
    register_secrets(call, &EnvFile::parse(&c.env));
    Ok(c)
}

fn not_found_hint(e: ToolError, id: &str) -> ToolError {
    if e.code == ErrorCode::NotFound {
        e.suggestion(format!(
            "No compose service `{id}` is visible to this API key; dokploy_list_instances shows the ones there are."
        ))
    } else {
        e
    }
}

/// Registers every secret value of an environment with the redactor, so
/// no result, error, log line or audit entry can show it.
pub fn register_secrets(call: &Call, file: &EnvFile) {
    let redactor = &call.state.config.redactor;
    for a in file.assignments() {
        if is_secret_var(&a.key) && a.value.chars().count() >= MIN_REDACTED_CHARS {
            redactor.add(&Secret::new(a.value.clone()));
        }
    }
}

/// Replaces the compose service's whole environment block.
pub async fn write_env(api: &DokployApi, id: &str, text: &str) -> Result<(), ToolError> {
    let b: crate::api::generated::dokploy::types::ComposeUpdateBody =
        body("compose.update", json!({"composeId": id, "env": text}))?;
    api.call_with(CallOptions::idempotent(), |c| c.compose_update(&b))
        .await
        .map_err(api_error)?;
    Ok(())
}

/// Queues a redeployment (the compose file is pulled again and the
/// containers recreated with the current environment).
pub async fn redeploy(api: &DokployApi, id: &str, title: &str) -> Result<(), ToolError> {
    let b: crate::api::generated::dokploy::types::ComposeRedeployBody =
        body("compose.redeploy", json!({"composeId": id, "title": title}))?;
    api.call_with(CallOptions::once().slow(), |c| c.compose_redeploy(&b))
        .await
        .map_err(api_error)?;
    Ok(())
}

/// The deployments of a compose service, newest first.
pub async fn deployments(api: &DokployApi, id: &str) -> Result<Vec<Value>, ToolError> {
    let typed = param("compose_id", id)?;
    let v = api
        .idempotent(|c| c.deployment_all_by_compose(&typed))
        .await
        .map_err(api_error)?;
    let Value::Array(mut list) = v else {
        return Err(shape_error("the deployment list is not a JSON array"));
    };
    list.sort_by(|a, b| s(b, "createdAt").cmp(s(a, "createdAt")));
    Ok(list)
}

/// The containers of a compose service (by its app name).
pub async fn containers(api: &DokployApi, c: &Compose) -> Result<Vec<Value>, ToolError> {
    use crate::api::generated::dokploy::types::DockerGetContainersByAppNameMatchAppType as AppType;
    if c.app_name.is_empty() {
        return Err(shape_error("the compose service has no app name"));
    }
    let name = param("appName", &c.app_name)?;
    let server = c.server_id.as_deref();
    let v = api
        .idempotent(|cl| {
            cl.docker_get_containers_by_app_name_match(&name, Some(AppType::DockerCompose), server)
        })
        .await
        .map_err(api_error)?;
    match v {
        Value::Array(list) => Ok(list),
        Value::Null => Ok(Vec::new()),
        _ => Err(shape_error("the container list is not a JSON array")),
    }
}

/// The Supabase service a container belongs to: Compose names containers
/// `<app>-<service>-<n>` (or `<app>_<service>_<n>`); the template names
/// them `supabase-<service>` as well.
pub fn service_of(container_name: &str, app_name: &str) -> String {
    let n = container_name.trim_start_matches('/');
    let rest = n
        .strip_prefix(app_name)
        .map(|r| r.trim_start_matches(['-', '_']))
        .unwrap_or(n);
    let mut parts: Vec<&str> = rest.split(['-', '_']).collect();
    if parts.len() > 1
        && parts
            .last()
            .is_some_and(|p| p.chars().all(|c| c.is_ascii_digit()))
    {
        parts.pop();
    }
    if parts.first() == Some(&"supabase") && parts.len() > 1 {
        parts.remove(0);
    }
    parts.join("-")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_checked() {
        assert_eq!(check_id("compose_id", " abc-D_1.2 ").unwrap(), "abc-D_1.2");
        assert!(check_id("compose_id", "").is_err());
        assert!(check_id("compose_id", "../etc").is_err());
        assert!(check_id("compose_id", "a/b").is_err());
        assert!(check_id("compose_id", ".hidden").is_err());
        assert!(check_id("compose_id", &"a".repeat(129)).is_err());
    }

    #[test]
    fn services_come_from_container_names() {
        assert_eq!(service_of("/sb-abc123-kong-1", "sb-abc123"), "kong");
        assert_eq!(service_of("sb-abc123_db_1", "sb-abc123"), "db");
        assert_eq!(service_of("supabase-studio", "other"), "studio");
        assert_eq!(service_of("sb-abc123-supabase-auth-1", "sb-abc123"), "auth");
    }

    #[test]
    fn compose_answers_are_read() {
        let c = Compose::from_value(
            "c1",
            &json!({"name": "sb", "appName": "sb-1", "composeStatus": "done", "env": "A=1", "serverId": null}),
        )
        .unwrap();
        assert!(c.deployed);
        assert_eq!(c.env, "A=1");
        assert_eq!(c.server_id, None);
        let c = Compose::from_value("c1", &json!({"composeStatus": "idle", "env": null})).unwrap();
        assert!(!c.deployed);
        assert_eq!(c.env, "");
        assert!(Compose::from_value("c1", &json!([])).is_err());
        assert!(Compose::from_value("c1", &json!({"env": 3})).is_err());
    }
}
