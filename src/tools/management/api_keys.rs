//! API keys of a cloud project: listing them, creating a publishable or
//! secret key, and deleting (revoking) one.
//!
//! Publishable keys and the legacy anon key are meant for client code and
//! are shown whole. Secret keys and the legacy service_role key are always
//! masked (the first 6 characters and `…`): the server has no setting that
//! reveals them, it never asks the API to reveal them, and any full value
//! the API sends is registered with the redactor. The value of a new secret
//! key is shown only in the dashboard (Project Settings > API Keys).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::common::{
    ProjectArgs, api, api_error, api_keys_page, args_of, mask, project_label, project_ref,
};
use crate::api::CallOptions;
use crate::api::generated::management::types::{
    ApiKeyResponse, ApiKeyResponseType, CreateApiKeyBody, CreateApiKeyBodyType,
};
use crate::groups::Group;
use crate::result::{ToolError, ToolOutput};
use crate::secret::{Redactor, Secret};
use crate::server::call::Call;
use crate::tools::development::is_client_key;
use crate::tools::{Kind, Scope, ToolDef, tool};

/// Name rules of the API: 4 to 64 characters, lowercase letters, digits, `_`.
const MIN_NAME: usize = 4;
const MAX_NAME: usize = 64;
const MAX_DESCRIPTION: usize = 1_000;
const MAX_REASON: usize = 1_000;

pub fn tools() -> Vec<ToolDef> {
    vec![
        tool("list_api_keys", Group::Management, Kind::Read)
            .title("List API keys")
            .description("A cloud project's API keys; secret and service_role keys are masked.")
            .scope(Scope::Project)
            .handler(list_api_keys),
        tool("create_api_key", Group::Management, Kind::Write)
            .title("Create an API key")
            .description("Create a publishable or secret API key; a secret key's value is shown only in the dashboard.")
            .scope(Scope::Project)
            .handler(create_api_key),
        tool("delete_api_key", Group::Management, Kind::Destructive)
            .title("Delete an API key")
            .description("Delete (revoke) an API key by id; clients using it are refused from then on.")
            .scope(Scope::Project)
            .assess(assess_delete)
            .handler(delete_api_key),
    ]
}

// The kind of key to create.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
#[schemars(inline)]
pub enum KeyType {
    Publishable,
    Secret,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateArgs {
    /// Project ref (20 lowercase letters).
    #[serde(default)]
    pub project_id: Option<String>,
    /// publishable (safe in client code) or secret (server-side, bypasses RLS).
    pub r#type: KeyType,
    /// 4-64 lowercase letters, digits or underscores, e.g. backend_worker.
    pub name: String,
    /// What the key is for.
    #[serde(default)]
    pub description: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeleteArgs {
    /// Project ref (20 lowercase letters).
    #[serde(default)]
    pub project_id: Option<String>,
    /// Key id (a UUID, from list_api_keys).
    pub id: String,
    /// Mark the key as leaked.
    #[serde(default)]
    pub was_compromised: Option<bool>,
    /// Why it is deleted, kept with the key's record.
    #[serde(default)]
    pub reason: Option<String>,
}

/// A key as the tools show it: secret keys masked, never revealed.
fn key_json(redactor: &Redactor, k: &ApiKeyResponse) -> Value {
    let client = is_client_key(k);
    let value = k.api_key.as_deref().unwrap_or("");
    let shown = if client || value.is_empty() {
        json!(k.api_key)
    } else {
        redactor.add(&Secret::new(value));
        json!(mask(value))
    };
    let kind = match k.type_ {
        Some(ApiKeyResponseType::Publishable) => "publishable",
        Some(ApiKeyResponseType::Secret) => "secret",
        Some(ApiKeyResponseType::Legacy) | None => "legacy",
    };
    let mut m = Map::new();
    m.insert("id".into(), json!(k.id));
    m.insert("name".into(), json!(k.name));
    m.insert("type".into(), json!(kind));
    m.insert("api_key".into(), shown);
    m.insert("masked".into(), json!(!client && !value.is_empty()));
    if let Some(d) = &k.description {
        m.insert("description".into(), json!(d));
    }
    if let Some(t) = &k.secret_jwt_template {
        m.insert("secret_jwt_template".into(), json!(t));
    }
    if let Some(t) = k.inserted_at {
        m.insert("inserted_at".into(), json!(t.to_rfc3339()));
    }
    if let Some(t) = k.updated_at {
        m.insert("updated_at".into(), json!(t.to_rfc3339()));
    }
    Value::Object(m)
}

async fn list_api_keys(call: Call, a: ProjectArgs) -> Result<ToolOutput, ToolError> {
    let project = project_ref(&call, a.project_id.as_deref())?;
    let api = api(&call)?;
    // Never `reveal`: the answer itself keeps secret keys masked.
    let keys = api
        .idempotent(|c| c.v1_get_project_api_keys(&project, None))
        .await
        .map_err(api_error)?;
    let redactor = &call.state.config.redactor;
    let list: Vec<Value> = keys.iter().map(|k| key_json(redactor, k)).collect();
    let masked = list.iter().filter(|k| k["masked"] == true).count();
    let mut data = json!({
        "project_id": project.as_str(),
        "count": list.len(),
        "keys": list,
    });
    if masked > 0 {
        data["note"] = json!(format!(
            "Secret and service_role keys are masked; copy them from {}",
            api_keys_page(&project)
        ));
    }
    Ok(ToolOutput::untrusted(data))
}

fn check_key_name(raw: &str) -> Result<String, ToolError> {
    let n = raw.trim();
    let first_ok = n
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_');
    let rest_ok = n
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    let len = n.chars().count();
    if !first_ok || !rest_ok || !(MIN_NAME..=MAX_NAME).contains(&len) {
        return Err(ToolError::invalid(format!("`name` `{n}` is not a valid key name"))
            .suggestion("Use 4 to 64 lowercase letters, digits and underscores, starting with a letter or underscore, e.g. backend_worker."));
    }
    Ok(n.to_owned())
}

async fn create_api_key(call: Call, a: CreateArgs) -> Result<ToolOutput, ToolError> {
    let project = project_ref(&call, a.project_id.as_deref())?;
    let name = check_key_name(&a.name)?;
    let description = a
        .description
        .as_deref()
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .map(str::to_owned);
    if description
        .as_deref()
        .is_some_and(|d| d.chars().count() > MAX_DESCRIPTION)
    {
        return Err(ToolError::invalid(format!(
            "`description` is longer than {MAX_DESCRIPTION} characters"
        ))
        .suggestion("Shorten the description."));
    }
    let body = CreateApiKeyBody {
        description,
        name: name
            .parse()
            .map_err(|e| ToolError::invalid(format!("`name` is not accepted: {e}")))?,
        secret_jwt_template: None,
        type_: match a.r#type {
            KeyType::Publishable => CreateApiKeyBodyType::Publishable,
            KeyType::Secret => CreateApiKeyBodyType::Secret,
        },
    };
    let api = api(&call)?;
    let key = api
        .call_with(CallOptions::once(), |c| {
            c.v1_create_project_api_key(&project, None, &body)
        })
        .await
        .map_err(api_error)?;
    let shown = key_json(&call.state.config.redactor, &key);
    let next_step = match a.r#type {
        KeyType::Publishable => "A publishable key is safe in client code (browsers, apps); access still follows row-level security.".to_owned(),
        KeyType::Secret => format!(
            "The key's value is not shown here: reveal and copy it at {} and store it where the server-side code reads it (e.g. set_secrets with value_env). Never ship it in client code.",
            api_keys_page(&project)
        ),
    };
    Ok(ToolOutput::untrusted(json!({
        "project_id": project.as_str(),
        "key": shown,
        "next_step": next_step,
    })))
}

fn parse_id(raw: &str) -> Result<uuid::Uuid, ToolError> {
    raw.trim().parse().map_err(|_| {
        ToolError::invalid(format!("`id` `{}` is not an API key id", raw.trim())).suggestion(
            "Pass the id list_api_keys shows (a UUID). The legacy anon and service_role keys cannot be deleted; they are turned off in the dashboard.",
        )
    })
}

fn assess_delete(args: &Map<String, Value>) -> Option<String> {
    let a: DeleteArgs = args_of(args)?;
    let id = parse_id(&a.id).ok()?;
    Some(format!(
        "delete API key {id} of {}: every client or server using it is refused from then on, and it cannot be restored",
        project_label(a.project_id.as_deref())
    ))
}

async fn delete_api_key(call: Call, a: DeleteArgs) -> Result<ToolOutput, ToolError> {
    let project = project_ref(&call, a.project_id.as_deref())?;
    let id = parse_id(&a.id)?;
    let reason = a.reason.as_deref().map(str::trim).filter(|r| !r.is_empty());
    if reason.is_some_and(|r| r.chars().count() > MAX_REASON) {
        return Err(
            ToolError::invalid(format!("`reason` is longer than {MAX_REASON} characters"))
                .suggestion("Shorten the reason."),
        );
    }
    let api = api(&call)?;
    let key = api
        .call_with(CallOptions::once(), |c| {
            c.v1_delete_project_api_key(&project, &id, reason, None, a.was_compromised)
        })
        .await
        .map_err(api_error)?;
    let mut out = ToolOutput::untrusted(json!({
        "project_id": project.as_str(),
        "deleted": key_json(&call.state.config.redactor, &key),
    }));
    if a.was_compromised == Some(true) {
        out = out.warn("a leaked key may already have been used: check the project's logs (get_logs) for requests made with it");
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(v: Value) -> ApiKeyResponse {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn secret_keys_are_masked_and_registered() {
        let r = Redactor::new();
        let k = key(
            json!({"id": "x", "name": "default", "type": "secret", "api_key": "sb_secret_abcdefghijklmnop"}),
        );
        let v = key_json(&r, &k);
        assert_eq!(v["api_key"], "sb_sec…");
        assert_eq!(v["masked"], true);
        assert!(r.leaks("sb_secret_abcdefghijklmnop"));
        let k = key(
            json!({"id": "y", "name": "default", "type": "publishable", "api_key": "sb_publishable_abcdefgh"}),
        );
        let v = key_json(&r, &k);
        assert_eq!(v["api_key"], "sb_publishable_abcdefgh");
        assert_eq!(v["masked"], false);
        // A legacy service_role JWT is never shown.
        let k = key(
            json!({"name": "service_role", "type": "legacy", "api_key": "eyJhbGciOiJIUzI1NiJ9.eyJyb2xlIjoic2VydmljZV9yb2xlIn0.sig"}),
        );
        assert_eq!(key_json(&r, &k)["api_key"], "eyJhbG…");
    }

    #[test]
    fn key_names_and_ids_are_checked() {
        assert_eq!(
            check_key_name(" backend_worker ").unwrap(),
            "backend_worker"
        );
        for bad in ["abc", "Backend", "1abc", "with-dash", &"a".repeat(65)] {
            assert!(check_key_name(bad).is_err(), "{bad}");
        }
        assert!(parse_id("0b6f8c2e-3d4a-4c2b-9a1e-6f7d8e9a0b1c").is_ok());
        assert!(parse_id("service_role").is_err());
    }
}
