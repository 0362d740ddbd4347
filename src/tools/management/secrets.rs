//! Edge function secrets of a cloud project: listing them by name (never
//! their values), creating or overwriting them, and deleting them.
//!
//! A value to set comes from a file or an environment variable on the
//! server's machine, so it never passes through the model; a plain `value`
//! argument is accepted for convenience and is sent as-is. Either way the
//! value is registered with the redactor, never echoed, and refused when it
//! carries one of the server's own credentials.

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::common::{
    ProjectArgs, Source, SourceError, admit_secret, api, api_error, args_of, check_value,
    project_label, project_ref, read_secret,
};
use crate::api::CallOptions;
use crate::api::ManagementApi;
use crate::api::generated::management::types::{
    CreateSecretBody, CreateSecretBodyItem, DeleteSecretsBody, ProjectRef, SecretResponse,
};
use crate::groups::Group;
use crate::result::{ErrorCode, ToolError, ToolOutput};
use crate::secret::Secret;
use crate::server::call::Call;
use crate::tools::{Kind, Scope, ToolDef, tool};

/// Longest secret name and value the API accepts.
const MAX_NAME_CHARS: usize = 256;
const MAX_VALUE_CHARS: usize = 24_576;
/// Most secrets one call sets or deletes.
const MAX_SECRETS: usize = 100;
/// Names the platform keeps for itself.
const RESERVED_PREFIX: &str = "SUPABASE_";

pub fn tools() -> Vec<ToolDef> {
    vec![
        tool("list_secrets", Group::Management, Kind::Read)
            .title("List secrets")
            .description("Names and update times of a cloud project's edge function secrets; never values.")
            .scope(Scope::Project)
            .handler(list_secrets),
        tool("set_secrets", Group::Management, Kind::Write)
            .title("Set secrets")
            .description("Create or overwrite edge function secrets from a file, env var or value; never echoed.")
            .idempotent(true)
            .scope(Scope::Project)
            .handler(set_secrets),
        tool("delete_secrets", Group::Management, Kind::Destructive)
            .title("Delete secrets")
            .description("Delete edge function secrets by name.")
            .scope(Scope::Project)
            .assess(assess_delete)
            .handler(delete_secrets),
    ]
}

// ---------------------------------------------------------------------------
// Arguments

// One secret to set: its name and exactly one source of its value.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SecretInput {
    /// Name, e.g. STRIPE_API_KEY (not starting with SUPABASE_).
    pub name: String,
    /// File on the server's machine holding the value (one trailing newline dropped).
    #[serde(default)]
    pub value_file: Option<String>,
    /// Environment variable of the server process holding the value.
    #[serde(default)]
    pub value_env: Option<String>,
    /// The value itself: sent as-is, never shown back; prefer value_file or value_env.
    #[serde(default)]
    pub value: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SetArgs {
    /// Project ref (20 lowercase letters).
    #[serde(default)]
    pub project_id: Option<String>,
    /// Secrets to create or overwrite.
    pub secrets: Vec<SecretInput>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeleteArgs {
    /// Project ref (20 lowercase letters).
    #[serde(default)]
    pub project_id: Option<String>,
    /// Names of the secrets to delete.
    pub names: Vec<String>,
}

// ---------------------------------------------------------------------------
// Checks

/// A secret name: not empty, at most 256 characters, no `=` or control
/// characters, not in the platform's reserved `SUPABASE_` space.
fn check_name(raw: &str) -> Result<String, ToolError> {
    let n = raw.trim();
    if n.is_empty() {
        return Err(ToolError::invalid("a secret name is empty")
            .suggestion("Name each secret, e.g. STRIPE_API_KEY."));
    }
    if n.chars().count() > MAX_NAME_CHARS {
        return Err(ToolError::invalid(format!(
            "secret name `{}…` is longer than {MAX_NAME_CHARS} characters",
            n.chars().take(20).collect::<String>()
        ))
        .suggestion("Use a shorter name."));
    }
    if n.chars()
        .any(|c| c.is_control() || c == '=' || c.is_whitespace())
    {
        return Err(ToolError::invalid(format!(
            "secret name `{}` contains spaces, `=` or control characters",
            n.escape_debug()
        ))
        .suggestion("Secrets become environment variables: use letters, digits and underscores, e.g. STRIPE_API_KEY."));
    }
    if n.to_ascii_uppercase().starts_with(RESERVED_PREFIX) {
        return Err(ToolError::invalid(format!(
            "secret name `{n}` starts with SUPABASE_, which the platform reserves"
        ))
        .reason("SUPABASE_URL, SUPABASE_ANON_KEY, SUPABASE_SERVICE_ROLE_KEY and the like are set for every function already")
        .suggestion("Choose a name without the SUPABASE_ prefix."));
    }
    Ok(n.to_owned())
}

/// Where one input's value comes from.
enum ValueFrom {
    Source(Source),
    Given,
}

impl ValueFrom {
    fn label(&self) -> &'static str {
        match self {
            ValueFrom::Source(Source::Env(_)) => "env",
            ValueFrom::Source(Source::File(_)) => "file",
            ValueFrom::Given => "value",
        }
    }
}

fn check_inputs(inputs: &[SecretInput]) -> Result<Vec<(String, ValueFrom)>, ToolError> {
    if inputs.is_empty() {
        return Err(ToolError::invalid("`secrets` is empty").suggestion(
            "Pass at least one secret, e.g. [{\"name\": \"STRIPE_API_KEY\", \"value_env\": \"STRIPE_API_KEY\"}].",
        ));
    }
    if inputs.len() > MAX_SECRETS {
        return Err(ToolError::invalid(format!(
            "{} secrets at once; at most {MAX_SECRETS} are accepted",
            inputs.len()
        ))
        .suggestion("Split them over several calls."));
    }
    let mut out: Vec<(String, ValueFrom)> = Vec::new();
    for s in inputs {
        let name = check_name(&s.name)?;
        if out.iter().any(|(n, _)| *n == name) {
            return Err(
                ToolError::invalid(format!("secret `{name}` is given twice"))
                    .suggestion("Name each secret once."),
            );
        }
        let from = match (&s.value_file, &s.value_env, &s.value) {
            (Some(f), None, None) => ValueFrom::Source(Source::File(f.trim().to_owned())),
            (None, Some(e), None) => ValueFrom::Source(Source::Env(e.trim().to_owned())),
            (None, None, Some(_)) => ValueFrom::Given,
            (None, None, None) => {
                return Err(ToolError::invalid(format!("secret `{name}` has no value source"))
                    .suggestion("Give one of value_file (a file on the server's machine), value_env (an environment variable of the server) or value."));
            }
            _ => {
                return Err(ToolError::invalid(format!(
                    "secret `{name}` has more than one of value_file, value_env and value"
                ))
                .suggestion("Give exactly one source per secret."));
            }
        };
        if let ValueFrom::Source(Source::File(p) | Source::Env(p)) = &from
            && p.is_empty()
        {
            return Err(ToolError::invalid(format!(
                "secret `{name}`: the {} is empty",
                if from.label() == "env" {
                    "variable name"
                } else {
                    "file path"
                }
            ))
            .suggestion("Name the environment variable or the file that holds the value."));
        }
        out.push((name, from));
    }
    Ok(out)
}

fn source_error(name: &str, e: SourceError) -> ToolError {
    let suggestion = match e {
        SourceError::OwnCredential => {
            "A function secret must not copy this server's access token, keys or database password: that would hand them to code the project runs. Use a credential made for the function."
        }
        SourceError::EnvMissing(_) | SourceError::BadEnvName(_) | SourceError::EnvNotText(_) => {
            "Set the variable in the environment the MCP server starts with (its client configuration), then restart the server; or use value_file."
        }
        _ => {
            "Check the file on the server's machine: it must be a readable text file of at most 24576 characters."
        }
    };
    ToolError::invalid(format!("secret `{name}`: {e}")).suggestion(suggestion)
}

async fn existing(
    api: &ManagementApi,
    project: &ProjectRef,
) -> Result<Vec<SecretResponse>, ToolError> {
    api.idempotent(|c| c.v1_list_all_secrets(project))
        .await
        .map_err(api_error)
}

// ---------------------------------------------------------------------------
// Handlers

async fn list_secrets(call: Call, a: ProjectArgs) -> Result<ToolOutput, ToolError> {
    let project = project_ref(&call, a.project_id.as_deref())?;
    let api = api(&call)?;
    let mut list = existing(&api, &project).await?;
    list.sort_by(|a, b| a.name.cmp(&b.name));
    // Only names and times: not even the digest the API sends as `value`.
    let secrets: Vec<Value> = list
        .iter()
        .map(|s| json!({"name": s.name, "updated_at": s.updated_at}))
        .collect();
    let out = ToolOutput::untrusted(json!({
        "project_id": project.as_str(),
        "count": secrets.len(),
        "secrets": secrets,
    }));
    Ok(if list.is_empty() {
        out.warn("the project has no edge function secrets (the SUPABASE_* variables every function gets are not listed)")
    } else {
        out
    })
}

async fn set_secrets(call: Call, mut a: SetArgs) -> Result<ToolOutput, ToolError> {
    let project = project_ref(&call, a.project_id.as_deref())?;
    let plan = check_inputs(&a.secrets)?;
    // Read every value before anything is sent: all or nothing.
    let mut values: Vec<Secret> = Vec::with_capacity(plan.len());
    for ((name, from), input) in plan.iter().zip(a.secrets.iter_mut()) {
        let value = match from {
            ValueFrom::Source(source) => read_secret(&call, source, MAX_VALUE_CHARS)
                .await
                .map_err(|e| source_error(name, e))?,
            ValueFrom::Given => {
                let v = Secret::new(input.value.take().unwrap_or_default());
                check_value(&v, MAX_VALUE_CHARS).map_err(|e| source_error(name, e))?;
                admit_secret(&call, &v).map_err(|e| source_error(name, e))?;
                v
            }
        };
        values.push(value);
    }
    let api = api(&call)?;
    let before: Vec<String> = existing(&api, &project)
        .await?
        .into_iter()
        .map(|s| s.name)
        .collect();
    let mut items = Vec::with_capacity(plan.len());
    for ((name, _), value) in plan.iter().zip(&values) {
        let item: CreateSecretBodyItem = serde_json::from_value(json!({
            "name": name,
            "value": value.expose(),
        }))
        .map_err(|_| {
            ToolError::invalid(format!(
                "secret `{name}` is not accepted by the API's rules"
            ))
            .suggestion(
                "Names must not start with SUPABASE_; values have at most 24576 characters.",
            )
        })?;
        items.push(item);
    }
    let body = CreateSecretBody(items);
    let result = api
        .call_with(CallOptions::idempotent(), |c| {
            c.v1_bulk_create_secrets(&project, &body)
        })
        .await;
    drop(body);
    drop(values);
    result.map_err(api_error)?;
    let set: Vec<Value> = plan
        .iter()
        .map(|(name, from)| {
            json!({
                "name": name,
                "source": from.label(),
                "action": if before.contains(name) { "updated" } else { "created" },
            })
        })
        .collect();
    let overwritten = plan.iter().filter(|(n, _)| before.contains(n)).count();
    let mut out = ToolOutput::trusted(json!({
        "project_id": project.as_str(),
        "count": set.len(),
        "secrets": set,
        "next_step": "Functions read a secret with Deno.env.get(\"NAME\"); list_secrets shows the names. Values are never shown.",
    }));
    if overwritten > 0 {
        out = out.warn(format!(
            "{overwritten} existing secret(s) were overwritten; their old values are gone"
        ));
    }
    Ok(out)
}

fn delete_names(a: &DeleteArgs) -> Result<Vec<String>, ToolError> {
    if a.names.is_empty() {
        return Err(ToolError::invalid("`names` is empty")
            .suggestion("Name the secrets to delete; list_secrets shows them."));
    }
    if a.names.len() > MAX_SECRETS {
        return Err(ToolError::invalid(format!(
            "{} names at once; at most {MAX_SECRETS} are accepted",
            a.names.len()
        ))
        .suggestion("Split them over several calls."));
    }
    let mut out: Vec<String> = Vec::new();
    for n in &a.names {
        let n = n.trim();
        if n.is_empty() {
            return Err(ToolError::invalid("a name in `names` is empty")
                .suggestion("list_secrets shows the names."));
        }
        if !out.iter().any(|x| x == n) {
            out.push(n.to_owned());
        }
    }
    Ok(out)
}

fn assess_delete(args: &Map<String, Value>) -> Option<String> {
    let a: DeleteArgs = args_of(args)?;
    let names = delete_names(&a).ok()?;
    Some(format!(
        "delete the edge function secrets {} of {}: functions reading them get nothing from then on, and the values cannot be recovered",
        names.join(", "),
        project_label(a.project_id.as_deref())
    ))
}

async fn delete_secrets(call: Call, a: DeleteArgs) -> Result<ToolOutput, ToolError> {
    let project = project_ref(&call, a.project_id.as_deref())?;
    let names = delete_names(&a)?;
    let api = api(&call)?;
    let current: Vec<String> = existing(&api, &project)
        .await?
        .into_iter()
        .map(|s| s.name)
        .collect();
    let (found, missing): (Vec<String>, Vec<String>) =
        names.into_iter().partition(|n| current.contains(n));
    if found.is_empty() {
        return Err(ToolError::new(
            ErrorCode::NotFound,
            format!("no secret named {} in this project", missing.join(", ")),
        )
        .suggestion("list_secrets shows the secrets that exist; names are case-sensitive."));
    }
    let body = DeleteSecretsBody(found.clone());
    api.call_with(CallOptions::idempotent(), |c| {
        c.v1_bulk_delete_secrets(&project, &body)
    })
    .await
    .map_err(api_error)?;
    let mut out = ToolOutput::trusted(json!({
        "project_id": project.as_str(),
        "deleted": found,
        "not_found": missing,
    }));
    if !missing.is_empty() {
        out = out.warn(format!("not found, so not deleted: {}", missing.join(", ")));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inputs(v: Value) -> Vec<SecretInput> {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn names_are_checked() {
        assert_eq!(check_name(" STRIPE_KEY ").unwrap(), "STRIPE_KEY");
        assert!(check_name("").is_err());
        assert!(check_name("SUPABASE_URL").is_err());
        assert!(check_name("supabase_url").is_err());
        assert!(check_name("A=B").is_err());
        assert!(check_name("A B").is_err());
        assert!(check_name(&"A".repeat(257)).is_err());
    }

    #[test]
    fn each_secret_needs_exactly_one_source() {
        let ok = check_inputs(&inputs(json!([
            {"name": "A", "value_env": "A_VAR"},
            {"name": "B", "value_file": "/tmp/b"},
            {"name": "C", "value": "v"}
        ])))
        .unwrap();
        let labels: Vec<&str> = ok.iter().map(|(_, f)| f.label()).collect();
        assert_eq!(labels, vec!["env", "file", "value"]);
        assert!(check_inputs(&inputs(json!([{"name": "A"}]))).is_err());
        assert!(
            check_inputs(&inputs(
                json!([{"name": "A", "value": "x", "value_env": "Y"}])
            ))
            .is_err()
        );
        assert!(check_inputs(&inputs(json!([{"name": "A", "value_env": " "}]))).is_err());
        assert!(
            check_inputs(&inputs(
                json!([{"name": "A", "value": "x"}, {"name": "A", "value": "y"}])
            ))
            .is_err()
        );
        assert!(check_inputs(&inputs(json!([]))).is_err());
    }

    #[test]
    fn deletions_name_what_goes() {
        let args = json!({"names": ["A", "B", "A"]});
        let text = assess_delete(args.as_object().unwrap()).unwrap();
        assert!(text.contains("A, B of the project"), "{text}");
        let args = json!({"names": []});
        assert!(assess_delete(args.as_object().unwrap()).is_none());
    }
}
