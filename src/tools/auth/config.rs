//! Auth settings. A cloud project's are read through the Management API
//! (every secret masked) and changed by field name, checked against the
//! field names and types of the Management API before anything is sent; a
//! self-hosted instance's are its `.env` variables ([`super::env_config`]).
//! Secret fields (SMTP password, provider secrets, hook secrets, SMS
//! keys...) are never taken as plain arguments: their values are read on the server from an environment
//! variable or a file, and never shown back.

use std::collections::BTreeMap;

use reqwest::Method;
use schemars::JsonSchema;
use serde::Deserialize;
use serde::de::{self, Visitor};
use serde_json::{Map, Value, json};
use zeroize::Zeroize;

use crate::api::CallOptions;
use crate::api::generated::management::types::UpdateAuthConfigBody;
use crate::groups::Group;
use crate::result::{ToolError, ToolOutput};
use crate::secret::{Redactor, Secret};
use crate::server::call::Call;
use crate::tools::management::common::{
    HIDDEN, Source, api, args_of, brief, parse_source, project_label, project_ref, read_secret,
    send_json, shape_error,
};
use crate::tools::{Kind, Scope, ToolDef, tool};

/// Longest value read from a file or an environment variable (email
/// templates are the longest settings).
const MAX_SOURCE_CHARS: usize = 100_000;
/// Close field names offered for a misspelt one.
const MAX_SUGGESTIONS: usize = 5;

pub fn tools() -> Vec<ToolDef> {
    vec![
        tool("get_auth_config", Group::Auth, Kind::Read)
            .title("Get Auth settings")
            .description("Auth settings (providers, email, SMS, hooks; self-hosted: the .env); secrets masked.")
            .scope(Scope::Project)
            .open_world()
            .handler(get_auth_config),
        tool("update_auth_config", Group::Auth, Kind::Write)
            .title("Update Auth settings")
            .description("Change Auth settings by field name; secret fields are read from env vars or files.")
            .idempotent(true)
            .scope(Scope::Project)
            .open_world()
            .assess(assess_update)
            .handler(update_auth_config),
    ]
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GetArgs {
    /// Project ref (20 lowercase letters).
    #[serde(default)]
    pub project_id: Option<String>,
    /// Only fields whose name contains this text, e.g. smtp or external_google.
    #[serde(default)]
    pub filter: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateArgs {
    /// Project ref (20 lowercase letters).
    #[serde(default)]
    pub project_id: Option<String>,
    /// Fields to change, named as get_auth_config shows them, e.g. {"site_url": "https://x.com"}.
    #[serde(default)]
    pub config: Map<String, Value>,
    /// Fields read on the server, e.g. {"smtp_pass": "env:SMTP_PASS"} or "file:/path"; secrets go here.
    #[serde(default)]
    pub values_from: BTreeMap<String, String>,
}

// ---------------------------------------------------------------------------
// Field names

/// The field names of a struct that derives `Deserialize` (what serde
/// passes to `deserialize_struct`), so the generated body type is the one
/// list of valid names.
fn struct_fields<'de, T: Deserialize<'de>>() -> &'static [&'static str] {
    struct Probe<'a>(&'a mut &'static [&'static str]);
    impl<'de> de::Deserializer<'de> for Probe<'_> {
        type Error = de::value::Error;
        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
            Err(de::Error::custom("not a struct"))
        }
        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _name: &'static str,
            fields: &'static [&'static str],
            _visitor: V,
        ) -> Result<V::Value, Self::Error> {
            *self.0 = fields;
            Err(de::Error::custom("fields read"))
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
            bytes byte_buf option unit unit_struct newtype_struct seq tuple
            tuple_struct map enum identifier ignored_any
        }
    }
    let mut fields: &'static [&'static str] = &[];
    let _ = T::deserialize(Probe(&mut fields));
    fields
}

/// Every field an update may name.
fn update_fields() -> &'static [&'static str] {
    struct_fields::<UpdateAuthConfigBody>()
}

/// Whether a field holds a secret: provider and captcha secrets, hook
/// secrets, the SMTP password, SMS provider keys and tokens, test OTPs.
pub(super) fn is_secret_field(name: &str) -> bool {
    let k = name.to_ascii_lowercase();
    k.contains("secret")
        || k.contains("private_key")
        || k.ends_with("_pass")
        || k.ends_with("password")
        || k.ends_with("_key")
        || k.ends_with("_token")
        || k == "sms_test_otp"
}

/// Known names close to a misspelt one.
fn similar(name: &str) -> Vec<&'static str> {
    let lower = name.to_ascii_lowercase();
    let parts: Vec<&str> = lower.split('_').filter(|p| p.len() > 2).collect();
    let mut scored: Vec<(usize, &'static str)> = update_fields()
        .iter()
        .map(|f| {
            let shared = parts.iter().filter(|p| f.contains(**p)).count();
            let bonus = usize::from(f.contains(lower.as_str()) || lower.contains(f));
            (shared * 2 + bonus * 3, *f)
        })
        .filter(|(s, _)| *s > 0)
        .collect();
    scored.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(b.1)));
    scored
        .into_iter()
        .take(MAX_SUGGESTIONS)
        .map(|(_, f)| f)
        .collect()
}

fn unknown_field(where_: &str, name: &str) -> ToolError {
    let close = similar(name);
    let hint = if close.is_empty() {
        "get_auth_config lists every field name.".to_owned()
    } else {
        format!(
            "Close names: {}. get_auth_config lists every field.",
            close.join(", ")
        )
    };
    ToolError::invalid(format!("`{where_}.{name}` is not an Auth setting")).suggestion(hint)
}

/// Masks every secret field of an Auth configuration in place; returns the
/// names of the secrets that are set. Their values are registered with the
/// redactor so nothing else can show them either.
fn mask_config(redactor: &Redactor, config: &mut Map<String, Value>) -> Vec<String> {
    let mut hidden = Vec::new();
    for (k, v) in config.iter_mut() {
        if !is_secret_field(k) {
            continue;
        }
        let set = match v {
            Value::Null => false,
            Value::String(s) => {
                redactor.add(&Secret::new(s.as_str()));
                !s.is_empty()
            }
            _ => true,
        };
        if set {
            *v = json!(HIDDEN);
            hidden.push(k.clone());
        }
    }
    hidden.sort();
    hidden
}

fn zeroize_strings(v: &mut Value) {
    match v {
        Value::String(s) => s.zeroize(),
        Value::Array(a) => a.iter_mut().for_each(zeroize_strings),
        Value::Object(m) => m.values_mut().for_each(zeroize_strings),
        _ => {}
    }
}

// ---------------------------------------------------------------------------
// get_auth_config

async fn get_auth_config(call: Call, a: GetArgs) -> Result<ToolOutput, ToolError> {
    if super::env_config::applies(&call) {
        return super::env_config::get(&call, a.filter.as_deref());
    }
    let project = project_ref(&call, a.project_id.as_deref())?;
    let filter = a
        .filter
        .as_deref()
        .map(|f| f.trim().to_ascii_lowercase())
        .filter(|f| !f.is_empty());
    let api = api(&call)?;
    let answer = send_json(
        &api,
        Method::GET,
        &["v1", "projects", project.as_str(), "config", "auth"],
        None,
        CallOptions::idempotent(),
    )
    .await?;
    let Value::Object(mut config) = answer else {
        return Err(shape_error("the Auth settings are not a JSON object"));
    };
    let hidden = mask_config(&call.state.config.redactor, &mut config);
    let shown: BTreeMap<String, Value> = config
        .into_iter()
        .filter(|(k, _)| filter.as_deref().is_none_or(|f| k.contains(f)))
        .collect();
    let count = shown.len();
    let hidden: Vec<String> = hidden
        .into_iter()
        .filter(|k| shown.contains_key(k))
        .collect();
    let mut out = ToolOutput::untrusted(json!({
        "project_id": project.as_str(),
        "count": count,
        "config": shown,
        "secrets_set": hidden,
        "note": "Secret fields show (hidden) when set and null when not; their values are never returned.",
    }));
    if count == 0
        && let Some(f) = &filter
    {
        out = out.warn(format!(
            "no field name contains `{f}`; try a shorter filter (e.g. smtp, external, hook, sms, mfa)"
        ));
    }
    Ok(out)
}

// ---------------------------------------------------------------------------
// update_auth_config

/// A checked change, before any secret is read.
struct Plan {
    config: Map<String, Value>,
    sources: Vec<(String, Source)>,
    changes: Vec<String>,
    warnings: Vec<String>,
}

/// Checks one field value against the generated body type.
fn check_type(name: &str, value: &Value) -> Result<(), String> {
    let mut one = Map::new();
    one.insert(name.to_owned(), value.clone());
    serde_json::from_value::<UpdateAuthConfigBody>(Value::Object(one))
        .map(|_| ())
        .map_err(|e| e.to_string())
}

fn risks(config: &Map<String, Value>) -> Vec<String> {
    let mut w = Vec::new();
    let is = |k: &str, v: Value| config.get(k) == Some(&v);
    if is("disable_signup", json!(true)) {
        w.push("sign-ups are turned off: nobody new can create an account".to_owned());
    }
    if is("mailer_autoconfirm", json!(true)) {
        w.push("email addresses are no longer confirmed: anyone can sign up with an address they do not own".to_owned());
    }
    if is("external_email_enabled", json!(false)) {
        w.push("email sign-in is turned off for every user".to_owned());
    }
    if let Some(n) = config.get("password_min_length").and_then(Value::as_i64)
        && n < 8
    {
        w.push(format!(
            "a minimum password length of {n} allows weak passwords; 8 or more is advised"
        ));
    }
    if config.contains_key("site_url") {
        w.push(
            "redirects after sign-in and the links in Auth emails now use the new site URL"
                .to_owned(),
        );
    }
    w
}

fn plan(a: &UpdateArgs) -> Result<Plan, ToolError> {
    if a.config.is_empty() && a.values_from.is_empty() {
        return Err(ToolError::invalid("nothing to change: `config` and `values_from` are empty")
            .suggestion("Pass the fields to change, e.g. config: {\"site_url\": \"https://app.example.com\"}, or values_from: {\"smtp_pass\": \"env:SMTP_PASS\"}."));
    }
    let fields = update_fields();
    let mut changes = Vec::new();
    for (name, value) in &a.config {
        if !fields.contains(&name.as_str()) {
            return Err(unknown_field("config", name));
        }
        if is_secret_field(name) {
            return Err(ToolError::invalid(format!(
                "`config.{name}` is a secret; secrets are not taken as plain arguments"
            ))
            .reason("arguments are seen by the model and kept in logs; a secret must not pass through them")
            .suggestion(format!(
                "Put the value in an environment variable of the server or a file on its machine and pass values_from: {{\"{name}\": \"env:VAR_NAME\"}} (or \"file:/path\")."
            )));
        }
        if value.is_null() {
            return Err(ToolError::invalid(format!("`config.{name}` is null"))
                .suggestion("Pass the value the setting should have; null is not sent."));
        }
        check_type(name, value).map_err(|e| {
            ToolError::invalid(format!("`config.{name}` is not valid: {e}"))
                .suggestion("get_auth_config shows each field's current value and type.")
        })?;
        changes.push(format!("{name} → {}", brief(value)));
    }
    let mut sources = Vec::new();
    for (name, raw) in &a.values_from {
        if !fields.contains(&name.as_str()) {
            return Err(unknown_field("values_from", name));
        }
        if a.config.contains_key(name) {
            return Err(
                ToolError::invalid(format!("`{name}` is in both config and values_from"))
                    .suggestion("Give each field once."),
            );
        }
        if check_type(name, &json!("text")).is_err() && check_type(name, &json!("")).is_err() {
            return Err(
                ToolError::invalid(format!("`values_from.{name}` is not a text field"))
                    .suggestion(format!("Pass {name} in config instead.")),
            );
        }
        let Some(source) = parse_source(raw) else {
            return Err(ToolError::invalid(format!(
                "`values_from.{name}` is `{raw}`, which names no source"
            ))
            .suggestion(
                "Write env:VARIABLE (an environment variable of the server) or file:/path/to/file.",
            ));
        };
        changes.push(format!("{name} ← {} (value not shown)", source.describe()));
        sources.push((name.clone(), source));
    }
    Ok(Plan {
        config: a.config.clone(),
        sources,
        changes,
        warnings: risks(&a.config),
    })
}

/// Every valid change asks first: it changes sign-in for every user.
fn assess_update(args: &Map<String, Value>) -> Option<String> {
    let a: UpdateArgs = args_of(args)?;
    let p = plan(&a).ok()?;
    let mut text = format!(
        "change the Auth settings of {} (sign-in for every user): {}",
        project_label(a.project_id.as_deref()),
        p.changes.join("; ")
    );
    for w in &p.warnings {
        text.push_str(&format!(". WARNING: {w}"));
    }
    Some(text)
}

async fn update_auth_config(call: Call, a: UpdateArgs) -> Result<ToolOutput, ToolError> {
    // A secret passed as a plain argument is refused below; its value is
    // registered first so the audit entry of the refused call cannot show it.
    for (k, v) in &a.config {
        if is_secret_field(k)
            && let Some(s) = v.as_str()
        {
            call.state.config.redactor.add(&Secret::new(s));
        }
    }
    if super::env_config::applies(&call) {
        let plan = plan(&a)?;
        return super::env_config::update(&call, &a.config, &a.values_from, plan.warnings);
    }
    let project = project_ref(&call, a.project_id.as_deref())?;
    let plan = plan(&a)?;
    let mut body = plan.config.clone();
    for (name, source) in &plan.sources {
        let value = if is_secret_field(name) {
            read_secret(&call, source, MAX_SOURCE_CHARS).await
        } else {
            source.read(MAX_SOURCE_CHARS).await
        }
        .map_err(|e| {
            ToolError::invalid(format!("could not read `values_from.{name}`: {e}")).suggestion(
                "Check the variable or file on the server's machine (the server reads it, not the client).",
            )
        })?;
        let v = json!(value.expose());
        if check_type(name, &v).is_err() {
            return Err(ToolError::invalid(format!(
                "the value read for `{name}` is not valid for that field (it is not shown)"
            ))
            .suggestion("Check the format the field expects in the Supabase Auth documentation."));
        }
        body.insert(name.clone(), v);
    }
    // The body exactly as the API types it (only the fields given).
    let typed: UpdateAuthConfigBody =
        serde_json::from_value(Value::Object(body.clone())).map_err(|_| {
            ToolError::invalid("the settings do not form a valid Auth update")
                .suggestion("Check each field against get_auth_config.")
        })?;
    zeroize_strings(&mut Value::Object(body));
    let mut send = serde_json::to_value(&typed).unwrap_or(Value::Null);
    drop(typed);
    let api = api(&call)?;
    let result = send_json(
        &api,
        Method::PATCH,
        &["v1", "projects", project.as_str(), "config", "auth"],
        Some(&send),
        CallOptions::idempotent(),
    )
    .await;
    let updated: Vec<String> = send
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    zeroize_strings(&mut send);
    let answer = result?;
    let mut now = Map::new();
    if let Value::Object(mut config) = answer {
        mask_config(&call.state.config.redactor, &mut config);
        for k in &updated {
            if let Some(v) = config.remove(k) {
                now.insert(k.clone(), v);
            }
        }
    }
    let mut out = ToolOutput::untrusted(json!({
        "project_id": project.as_str(),
        "updated": updated,
        "changes": plan.changes,
        "now": now,
        "next_step": "get_auth_config shows every setting now in effect.",
    }));
    for w in plan.warnings {
        out = out.warn(w);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::generated::management::types::AuthConfigResponse;

    fn args(v: Value) -> UpdateArgs {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn field_names_come_from_the_generated_types() {
        let f = update_fields();
        assert!(f.len() > 200, "{}", f.len());
        for name in [
            "site_url",
            "smtp_pass",
            "external_google_enabled",
            "jwt_exp",
        ] {
            assert!(f.contains(&name), "{name}");
        }
        assert!(struct_fields::<AuthConfigResponse>().len() >= f.len());
    }

    #[test]
    fn secret_fields_are_recognised() {
        let secrets: Vec<&str> = struct_fields::<AuthConfigResponse>()
            .iter()
            .copied()
            .filter(|f| is_secret_field(f))
            .collect();
        for s in [
            "smtp_pass",
            "external_google_secret",
            "hook_send_email_secrets",
            "sms_twilio_auth_token",
            "sms_vonage_api_key",
            "sms_messagebird_access_key",
            "security_captcha_secret",
            "nimbus_oauth_client_secret",
            "sms_test_otp",
        ] {
            assert!(secrets.contains(&s), "{s}");
        }
        for s in [
            "password_min_length",
            "passkey_enabled",
            "hook_custom_access_token_uri",
            "rate_limit_token_refresh",
            "external_google_client_id",
            "smtp_user",
        ] {
            assert!(!is_secret_field(s), "{s}");
        }
        // Every provider's secret is covered.
        for f in struct_fields::<AuthConfigResponse>() {
            if f.starts_with("external_") && f.ends_with("_secret") {
                assert!(secrets.contains(f), "{f}");
            }
        }
    }

    #[test]
    fn plans_check_names_types_and_secrets() {
        let p = plan(&args(
            json!({"config": {"site_url": "https://a.example", "disable_signup": true}}),
        ))
        .unwrap();
        assert_eq!(p.changes.len(), 2);
        assert!(p.warnings.iter().any(|w| w.contains("sign-ups")));
        let e = plan(&args(json!({"config": {"site_ur": "x"}})))
            .err()
            .unwrap();
        assert!(e.message.contains("not an Auth setting"), "{}", e.message);
        assert!(e.suggestion.unwrap().contains("site_url"));
        let e = plan(&args(json!({"config": {"disable_signup": "yes"}})))
            .err()
            .unwrap();
        assert!(e.message.contains("disable_signup"), "{}", e.message);
        let e = plan(&args(json!({"config": {"smtp_pass": "hunter22"}})))
            .err()
            .unwrap();
        assert!(e.message.contains("secret"), "{}", e.message);
        assert!(!e.to_text().contains("hunter22"));
        let e = plan(&args(json!({"config": {"site_url": null}})))
            .err()
            .unwrap();
        assert!(e.message.contains("null"));
        let e = plan(&args(json!({"config": {"site_url": "a,b"}})))
            .err()
            .unwrap();
        assert!(e.message.contains("site_url"), "{}", e.message);
        assert!(plan(&args(json!({}))).is_err());
        let p = plan(&args(
            json!({"values_from": {"smtp_pass": "env:SMTP_PASS"}}),
        ))
        .unwrap();
        assert_eq!(
            p.sources,
            vec![("smtp_pass".to_owned(), Source::Env("SMTP_PASS".into()))]
        );
        assert!(plan(&args(json!({"values_from": {"smtp_pass": "hunter2"}}))).is_err());
        assert!(plan(&args(json!({"values_from": {"disable_signup": "env:X"}}))).is_err());
        assert!(plan(&args(json!({"values_from": {"smtp_passwd": "env:X"}}))).is_err());
    }

    #[test]
    fn masking_hides_set_secrets_only_and_registers_them() {
        let r = Redactor::new();
        let Value::Object(mut m) = json!({"smtp_pass": "pw-value", "external_github_secret": null,
            "hook_send_sms_secrets": "", "site_url": "https://x"})
        else {
            unreachable!()
        };
        let hidden = mask_config(&r, &mut m);
        assert_eq!(hidden, vec!["smtp_pass"]);
        assert_eq!(m["smtp_pass"], HIDDEN);
        assert_eq!(m["external_github_secret"], Value::Null);
        assert_eq!(m["hook_send_sms_secrets"], "");
        assert_eq!(m["site_url"], "https://x");
        assert!(r.leaks("the password is pw-value"));
    }
}
