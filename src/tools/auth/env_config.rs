//! The Auth settings of a self-hosted instance: the variables of its `.env`
//! that the Auth container reads (site URL, redirect URLs, JWT expiry,
//! sign-up switches, SMTP, mailer paths, `GOTRUE_*` overrides), shown with
//! secrets masked. Changes are never written here: the result names the
//! variables to set and how to apply them.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use crate::config::Mode;
use crate::result::{ErrorCode, ToolError, ToolOutput};
use crate::selfhosted::EnvFile;
use crate::selfhosted::mask::{is_secret_var, shown};
use crate::server::call::Call;

/// Variables the Auth service of the self-hosted stack reads.
const AUTH_VARS: &[&str] = &[
    "SITE_URL",
    "ADDITIONAL_REDIRECT_URLS",
    "API_EXTERNAL_URL",
    "JWT_EXPIRY",
    "JWT_SECRET",
    "DISABLE_SIGNUP",
    "ENABLE_ANONYMOUS_USERS",
];
/// Prefixes of Auth variables.
const AUTH_PREFIXES: &[&str] = &[
    "GOTRUE_",
    "SMTP_",
    "MAILER_",
    "ENABLE_EMAIL_",
    "ENABLE_PHONE_",
    "EXTERNAL_",
    "SMS_",
];

/// Settings named as the Management API names them, and the variable of
/// the self-hosted `.env` that holds each.
const FIELD_VARS: &[(&str, &str)] = &[
    ("site_url", "SITE_URL"),
    ("uri_allow_list", "ADDITIONAL_REDIRECT_URLS"),
    ("jwt_exp", "JWT_EXPIRY"),
    ("disable_signup", "DISABLE_SIGNUP"),
    ("external_email_enabled", "ENABLE_EMAIL_SIGNUP"),
    ("mailer_autoconfirm", "ENABLE_EMAIL_AUTOCONFIRM"),
    ("external_phone_enabled", "ENABLE_PHONE_SIGNUP"),
    ("sms_autoconfirm", "ENABLE_PHONE_AUTOCONFIRM"),
    ("external_anonymous_users_enabled", "ENABLE_ANONYMOUS_USERS"),
    ("smtp_admin_email", "SMTP_ADMIN_EMAIL"),
    ("smtp_host", "SMTP_HOST"),
    ("smtp_port", "SMTP_PORT"),
    ("smtp_user", "SMTP_USER"),
    ("smtp_pass", "SMTP_PASS"),
    ("smtp_sender_name", "SMTP_SENDER_NAME"),
    ("mailer_urlpaths_invite", "MAILER_URLPATHS_INVITE"),
    (
        "mailer_urlpaths_confirmation",
        "MAILER_URLPATHS_CONFIRMATION",
    ),
    ("mailer_urlpaths_recovery", "MAILER_URLPATHS_RECOVERY"),
    (
        "mailer_urlpaths_email_change",
        "MAILER_URLPATHS_EMAIL_CHANGE",
    ),
];

/// How to apply a changed `.env` to the Auth container.
const RESTART: &str = "docker compose up -d auth";

/// True when the call's instance is self-hosted (its settings are its `.env`).
pub fn applies(call: &Call) -> bool {
    call.instance.mode == Mode::SelfHosted
}

/// True for a variable the Auth service reads.
pub fn is_auth_var(name: &str) -> bool {
    AUTH_VARS.contains(&name) || AUTH_PREFIXES.iter().any(|p| name.starts_with(p))
}

/// The `.env` variable of a setting name.
pub fn var_for(field: &str) -> String {
    FIELD_VARS
        .iter()
        .find(|(f, _)| *f == field)
        .map(|(_, v)| (*v).to_owned())
        .unwrap_or_else(|| format!("GOTRUE_{}", field.to_ascii_uppercase()))
}

fn read_env(call: &Call) -> Result<(String, EnvFile), ToolError> {
    let Some(path) = &call.instance.env_file else {
        return Err(ToolError::new(
            ErrorCode::NotConfigured,
            format!(
                "instance `{}` is self-hosted but no .env file is configured",
                call.instance.name
            ),
        )
        .reason("a self-hosted instance keeps its Auth settings in the .env of its Docker stack")
        .suggestion("Start the server with --env-file /path/to/supabase/docker/.env."));
    };
    let env = EnvFile::read(path).map_err(|e| {
        ToolError::new(ErrorCode::Io, e.to_string())
            .suggestion("Check that the file exists and the server may read it.")
    })?;
    Ok((path.display().to_string(), env))
}

/// `get_auth_config` on a self-hosted instance.
pub fn get(call: &Call, filter: Option<&str>) -> Result<ToolOutput, ToolError> {
    let (path, env) = read_env(call)?;
    let filter = filter
        .map(|f| f.trim().to_ascii_uppercase())
        .filter(|f| !f.is_empty());
    let resolved = env.resolved();
    let mut config = BTreeMap::new();
    let mut secrets_set = Vec::new();
    for a in env.assignments() {
        if !is_auth_var(&a.key) || filter.as_deref().is_some_and(|f| !a.key.contains(f)) {
            continue;
        }
        let value = resolved
            .get(&a.key)
            .cloned()
            .unwrap_or_else(|| a.value.clone());
        if is_secret_var(&a.key) {
            call.state
                .config
                .redactor
                .add(&crate::secret::Secret::new(value.as_str()));
            if !value.is_empty() {
                secrets_set.push(a.key.clone());
            }
        }
        config.insert(a.key.clone(), Value::from(shown(&a.key, &value)));
    }
    let count = config.len();
    let mut out = ToolOutput::untrusted(json!({
        "via": "env_file",
        "env_file": path,
        "count": count,
        "config": config,
        "secrets_set": secrets_set,
        "note": "Variables the Auth container reads; secret values show only their first characters and length.",
    }));
    if count == 0 {
        out = out.warn(match filter {
            Some(f) => format!("no Auth variable name contains `{f}`; try SMTP, MAILER or SITE"),
            None => {
                "the .env holds no Auth variables; is it the .env of the Supabase Docker stack?"
                    .to_owned()
            }
        });
    }
    Ok(out)
}

/// `update_auth_config` on a self-hosted instance: which variables to set.
pub fn update(
    call: &Call,
    config: &Map<String, Value>,
    values_from: &BTreeMap<String, String>,
    warnings: Vec<String>,
) -> Result<ToolOutput, ToolError> {
    let (path, env) = read_env(call)?;
    let mut changes = Vec::new();
    for (field, value) in config {
        let var = var_for(field);
        let text = match value {
            Value::String(s) => s.clone(),
            Value::Array(items) => items
                .iter()
                .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
                .collect::<Vec<_>>()
                .join(","),
            other => other.to_string(),
        };
        let current = env.value(&var).map(|v| shown(&var, v));
        changes.push(json!({
            "setting": field,
            "variable": var,
            "set_to": shown(&var, &text),
            "current": current,
            "in_file": current.is_some(),
        }));
    }
    for (field, source) in values_from {
        let var = var_for(field);
        let current = env.value(&var).map(|v| shown(&var, v));
        changes.push(json!({
            "setting": field,
            "variable": var,
            "set_to": format!("the value of {} (not shown)", source.trim()),
            "current": current,
            "in_file": current.is_some(),
        }));
    }
    let mut out = ToolOutput::untrusted(json!({
        "via": "env_file",
        "env_file": path,
        "applied": false,
        "changes": changes,
        "next_steps": [
            format!("Set these variables in {path} (edit the file, or use fix_env for the secrets it manages)."),
            format!("Restart the Auth container so it reads them: {RESTART}."),
            "Check the result with get_auth_config.",
        ],
        "note": "On a self-hosted instance the settings live in the .env of the Docker stack; this tool does not edit it.",
    }));
    for w in warnings {
        out = out.warn(w);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_map_to_variables() {
        assert_eq!(var_for("site_url"), "SITE_URL");
        assert_eq!(var_for("uri_allow_list"), "ADDITIONAL_REDIRECT_URLS");
        assert_eq!(var_for("password_min_length"), "GOTRUE_PASSWORD_MIN_LENGTH");
        assert!(is_auth_var("SMTP_PASS"));
        assert!(is_auth_var("GOTRUE_MAILER_SECURE_EMAIL_CHANGE_ENABLED"));
        assert!(is_auth_var("JWT_EXPIRY"));
        assert!(!is_auth_var("POSTGRES_PASSWORD"));
        assert!(!is_auth_var("ANON_KEY"));
    }
}
