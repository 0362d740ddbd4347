//! The environment of a Supabase compose service: `dokploy_update_env`
//! (read, merge, check with the self-hosted rules, save the old block as a
//! version, write, optionally redeploy), `dokploy_env_versions` and
//! `dokploy_rollback`. Dokploy replaces the whole block on every write, so
//! every change starts from the block in place and keeps all other lines.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::common::{
    Compose, api, args_of, check_id, compose, redeploy, register_secrets, write_env,
};
use super::envdiff::{self, Change};
use super::versions::{self, Store, VersionError};
use crate::api::DokployApi;
use crate::groups::Group;
use crate::result::{ErrorCode, ToolError, ToolOutput};
use crate::secret::Secret;
use crate::selfhosted::jwt;
use crate::selfhosted::mask::{is_secret_var, shown};
use crate::selfhosted::{EnvFile, Options, validate};
use crate::server::call::Call;
use crate::tools::management::common::{Source, parse_source, read_secret};
use crate::tools::{Kind, ToolDef, tool};

/// Most variables one call changes.
const MAX_CHANGES: usize = 200;
/// Longest value accepted.
const MAX_VALUE_CHARS: usize = 32_768;

pub fn tools() -> Vec<ToolDef> {
    vec![
        tool("dokploy_update_env", Group::Dokploy, Kind::Write)
            .title("Update Supabase env on Dokploy")
            .description("Set or unset variables of a Supabase compose service's env: merged, checked, old env saved as a version; secrets only via values_from.")
            .assess(assess_update)
            .handler(update_env),
        tool("dokploy_env_versions", Group::Dokploy, Kind::Read)
            .title("Saved env versions")
            .description("Saved env versions of a compose service: time and the variables each later change touched.")
            .read_only_capable()
            .handler(env_versions),
        tool("dokploy_rollback", Group::Dokploy, Kind::Write)
            .title("Roll back Supabase env")
            .description("Restore a saved env version of a compose service and redeploy; dry_run shows the diff.")
            .assess(assess_rollback)
            .handler(rollback),
    ]
}

// ---------------------------------------------------------------------------
// Arguments

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateArgs {
    /// Compose service id (dokploy_list_instances).
    pub compose_id: String,
    /// Variables to set: {"SITE_URL": "https://app.example.com"}; not secrets (use values_from).
    #[serde(default)]
    pub set: BTreeMap<String, String>,
    /// Variables to set from the server's machine: {"SMTP_PASS": "env:NAME" or "file:/path"}.
    #[serde(default)]
    pub values_from: BTreeMap<String, String>,
    /// Variables to remove.
    #[serde(default)]
    pub unset: Vec<String>,
    /// Sign new ANON_KEY and SERVICE_ROLE_KEY with a changed JWT_SECRET.
    #[serde(default)]
    pub resign_keys: bool,
    /// Queue a redeployment afterwards (containers only see the change then).
    #[serde(default)]
    pub redeploy: bool,
    /// Write even if the change adds errors to the env check.
    #[serde(default)]
    pub allow_new_errors: bool,
    /// Only show the diff and the check; change nothing.
    #[serde(default)]
    pub dry_run: bool,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VersionsArgs {
    /// Compose service id.
    pub compose_id: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RollbackArgs {
    /// Compose service id.
    pub compose_id: String,
    /// Version name from dokploy_env_versions, e.g. 20250101T120000123Z.
    pub version: String,
    /// Queue a redeployment after restoring (default true).
    #[serde(default = "yes")]
    pub redeploy: bool,
    /// Only show the diff; change nothing.
    #[serde(default)]
    pub dry_run: bool,
}

fn yes() -> bool {
    true
}

// ---------------------------------------------------------------------------
// Checks

/// Shortest plain secret registered with the redactor before it is refused.
const MIN_SCRUBBED_CHARS: usize = 4;

/// True when a value to set is a secret: a secret variable's value, or a
/// URL carrying a password.
fn holds_secret(name: &str, value: &str) -> bool {
    if value.is_empty() {
        return false;
    }
    is_secret_var(name)
        || url::Url::parse(value).is_ok_and(|u| u.password().is_some_and(|p| !p.is_empty()))
}

/// A variable name as Compose accepts it.
fn check_name(raw: &str) -> Result<String, ToolError> {
    let n = raw.trim();
    let ok = !n.is_empty()
        && n.len() <= 256
        && !n.starts_with(|c: char| c.is_ascii_digit())
        && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !ok {
        return Err(ToolError::invalid(format!(
            "`{}` is not an environment variable name",
            n.escape_debug()
        ))
        .suggestion(
            "Use letters, digits and underscores, not starting with a digit, e.g. SITE_URL.",
        ));
    }
    Ok(n.to_owned())
}

/// The variables a change touches, each once: (set, from sources, unset).
struct Plan {
    set: Vec<(String, String)>,
    from: Vec<(String, Source)>,
    unset: Vec<String>,
}

fn plan(a: &UpdateArgs) -> Result<Plan, ToolError> {
    let mut seen: Vec<String> = Vec::new();
    let mut take = |n: &str| -> Result<String, ToolError> {
        let n = check_name(n)?;
        if seen.contains(&n) {
            return Err(ToolError::invalid(format!("`{n}` is named twice"))
                .suggestion("Name each variable in only one of set, values_from and unset."));
        }
        seen.push(n.clone());
        Ok(n)
    };
    let mut p = Plan {
        set: Vec::new(),
        from: Vec::new(),
        unset: Vec::new(),
    };
    for (k, v) in &a.set {
        let k = take(k)?;
        if v.chars().count() > MAX_VALUE_CHARS {
            return Err(ToolError::invalid(format!(
                "the value of `{k}` is longer than {MAX_VALUE_CHARS} characters"
            ))
            .suggestion("Pass a shorter value."));
        }
        if holds_secret(&k, v) {
            return Err(ToolError::invalid(format!(
                "`{k}` holds a secret and cannot be passed as a plain value"
            ))
            .reason("a value in the arguments passes through the conversation and its logs")
            .suggestion(format!(
                "Put it in an environment variable of the server or a file on its machine and pass values_from: {{\"{k}\": \"env:NAME\"}} or {{\"{k}\": \"file:/path\"}}."
            )));
        }
        if v.contains('\0') {
            return Err(
                ToolError::invalid(format!("the value of `{k}` contains a NUL character"))
                    .suggestion("Remove it; environment values are text."),
            );
        }
        p.set.push((k, v.clone()));
    }
    for (k, v) in &a.values_from {
        let k = take(k)?;
        let Some(src) = parse_source(v) else {
            return Err(ToolError::invalid(format!("values_from `{k}` is neither env:NAME nor file:PATH"))
                .suggestion("Name an environment variable of the server (env:SMTP_PASS) or a file on its machine (file:/run/secrets/smtp)."));
        };
        p.from.push((k, src));
    }
    for k in &a.unset {
        let k = take(k)?;
        p.unset.push(k);
    }
    if p.set.is_empty() && p.from.is_empty() && p.unset.is_empty() && !a.resign_keys {
        return Err(ToolError::invalid("nothing to change")
            .suggestion("Pass set, values_from or unset (or resign_keys: true)."));
    }
    if p.set.len() + p.from.len() + p.unset.len() > MAX_CHANGES {
        return Err(
            ToolError::invalid(format!("more than {MAX_CHANGES} variables at once"))
                .suggestion("Split the change over several calls."),
        );
    }
    Ok(p)
}

fn assess_update(args: &Map<String, Value>) -> Option<String> {
    let a: UpdateArgs = args_of(args)?;
    if a.dry_run {
        return None;
    }
    let p = plan(&a).ok()?;
    let mut parts: Vec<String> = p
        .set
        .iter()
        .map(|(k, v)| format!("{k} = {}", shown(k, v)))
        .collect();
    parts.extend(
        p.from
            .iter()
            .map(|(k, s)| format!("{k} from the {}", s.describe())),
    );
    parts.extend(p.unset.iter().map(|k| format!("remove {k}")));
    if a.resign_keys {
        parts.push("new ANON_KEY and SERVICE_ROLE_KEY".to_owned());
    }
    Some(format!(
        "change the environment of the running compose service `{}`: {}{} (the current env is saved as a version first; dry_run: true shows the full diff)",
        a.compose_id.trim(),
        parts.join("; "),
        if a.redeploy {
            ", then redeploy it"
        } else {
            "; containers see it after the next redeploy"
        },
    ))
}

fn assess_rollback(args: &Map<String, Value>) -> Option<String> {
    let a: RollbackArgs = args_of(args)?;
    if a.dry_run {
        return None;
    }
    Some(format!(
        "replace the environment of compose service `{}` with saved version {}{} (the current env is saved as a version first; dry_run: true shows the diff)",
        a.compose_id.trim(),
        a.version.trim(),
        if a.redeploy { " and redeploy it" } else { "" },
    ))
}

fn version_error(e: VersionError) -> ToolError {
    match e {
        VersionError::NotFound(_) | VersionError::BadName(_) => {
            ToolError::new(ErrorCode::NotFound, e.to_string()).suggestion(
                "dokploy_env_versions lists the saved versions of this compose service.",
            )
        }
        VersionError::Io { .. } | VersionError::TooLarge(_) => {
            ToolError::new(ErrorCode::Io, e.to_string())
                .suggestion("Check that the data directory (--data-dir) is writable and has space.")
        }
    }
}

// ---------------------------------------------------------------------------
// The shared write path

/// What writing a new environment did.
pub struct Applied {
    pub changes: Vec<Change>,
    pub saved_version: String,
    pub warnings: Vec<String>,
    pub redeployed: bool,
}

/// The check of a new environment against the one in place.
pub struct Checked {
    pub changes: Vec<Change>,
    pub new_errors: Vec<crate::selfhosted::Finding>,
    pub warnings: Vec<String>,
}

pub fn check(before: &str, after: &str, deployed: bool) -> Checked {
    let (b, f) = (EnvFile::parse(before), EnvFile::parse(after));
    let changes = envdiff::diff(&b, &f);
    let opts = Options::default();
    let new_errors = envdiff::new_errors(&validate(&b, &opts), &validate(&f, &opts));
    let warnings = envdiff::breaking(&changes, deployed);
    Checked {
        changes,
        new_errors,
        warnings,
    }
}

/// Saves the block in place as a version, writes `after` and queues a
/// redeployment when asked.
pub async fn apply(
    call: &Call,
    api: &DokployApi,
    c: &Compose,
    after: &str,
    checked: Checked,
    redeploy_after: Option<&str>,
) -> Result<Applied, ToolError> {
    let store = Store::new(&call.state.config.data_dir, &c.id);
    let (saved_version, _) = store.save(&c.env).map_err(version_error)?;
    write_env(api, &c.id, after).await?;
    let mut warnings = checked.warnings;
    let mut redeployed = false;
    if let Some(title) = redeploy_after {
        match redeploy(api, &c.id, title).await {
            Ok(()) => redeployed = true,
            Err(e) => warnings.push(format!(
                "the env was written but the redeployment could not be queued ({}); run dokploy_restart_service",
                e.message
            )),
        }
    }
    Ok(Applied {
        changes: checked.changes,
        saved_version,
        warnings,
        redeployed,
    })
}

fn findings_json(f: &[crate::selfhosted::Finding]) -> Vec<Value> {
    f.iter()
        .map(|f| json!({"id": f.id, "variable": f.variable, "message": f.message, "fix": f.fix}))
        .collect()
}

fn refuse_new_errors(f: &[crate::selfhosted::Finding]) -> ToolError {
    let list: Vec<String> = f
        .iter()
        .map(|f| format!("{}: {}", f.id, f.message))
        .collect();
    ToolError::invalid(format!(
        "the change would add {} error(s) to the env check",
        f.len()
    ))
    .reason(list.join("; "))
    .suggestion("Fix the values (dry_run: true shows the whole check), or pass allow_new_errors: true to write anyway.")
}

// ---------------------------------------------------------------------------
// Handlers

async fn update_env(call: Call, a: UpdateArgs) -> Result<ToolOutput, ToolError> {
    // A secret given as a plain argument is registered with the redactor
    // before anything else, so even the refusal's audit entry cannot show it.
    for (k, v) in &a.set {
        if holds_secret(k, v) && v.chars().count() >= MIN_SCRUBBED_CHARS {
            call.state.config.redactor.add(&Secret::new(v.clone()));
        }
    }
    let id = check_id("compose_id", &a.compose_id)?;
    let p = plan(&a)?;
    // Values first, so nothing is read from Dokploy for a call that cannot run.
    let mut values: Vec<(String, Secret)> = Vec::new();
    for (k, v) in &p.set {
        values.push((k.clone(), Secret::new(v.clone())));
    }
    for (k, src) in &p.from {
        let v = read_secret(&call, src, MAX_VALUE_CHARS).await.map_err(|e| {
            ToolError::invalid(format!("`{k}`: {e}"))
                .suggestion("Set the variable in the server's environment or check the file on its machine.")
        })?;
        values.push((k.clone(), v));
    }
    let api = api(&call)?;
    let c = compose(&call, &api, &id).await?;
    let before = EnvFile::parse(&c.env);
    let mut file = EnvFile::parse(&envdiff::remove_vars(&c.env, &p.unset));
    for (k, v) in &values {
        file.set(k, v.expose());
    }
    let mut notes = Vec::new();
    let secret_changed = values.iter().any(|(k, _)| k == "JWT_SECRET");
    if a.resign_keys {
        let Some(secret) = file
            .value("JWT_SECRET")
            .map(str::to_owned)
            .filter(|s| !s.is_empty())
        else {
            return Err(
                ToolError::invalid("resign_keys needs a JWT_SECRET in the env")
                    .suggestion("Set JWT_SECRET (values_from) in the same call."),
            );
        };
        let (anon, service) = jwt::sign_pair(secret.as_bytes(), jwt::DEFAULT_YEARS)
            .map_err(|e| ToolError::internal(format!("cannot sign the keys: {e}")))?;
        for (k, v) in [("ANON_KEY", anon), ("SERVICE_ROLE_KEY", service)] {
            let s = Secret::new(v);
            call.state.config.redactor.add(&s);
            file.set(k, s.expose());
        }
        notes.push("ANON_KEY and SERVICE_ROLE_KEY were signed anew with JWT_SECRET; clients need the new keys (read them from Dokploy's env tab)".to_owned());
    } else if secret_changed {
        notes.push("JWT_SECRET changes: pass resign_keys: true to sign matching keys".to_owned());
    }
    register_secrets(&call, &file);
    let after = file.render();
    let checked = check(&c.env, &after, c.deployed);
    drop(before);
    if checked.changes.is_empty() {
        return Ok(ToolOutput::trusted(json!({
            "compose_id": id,
            "changed": false,
            "changes": [],
        }))
        .warn("the env already has these values; nothing was written"));
    }
    if a.dry_run {
        let mut out = ToolOutput::trusted(json!({
            "compose_id": id,
            "dry_run": true,
            "changes": checked.changes,
            "new_errors": findings_json(&checked.new_errors),
        }));
        for w in checked.warnings.iter().chain(&notes) {
            out = out.warn(w.clone());
        }
        return Ok(out);
    }
    if !checked.new_errors.is_empty() && !a.allow_new_errors {
        return Err(refuse_new_errors(&checked.new_errors));
    }
    let new_errors = findings_json(&checked.new_errors);
    let applied = apply(
        &call,
        &api,
        &c,
        &after,
        checked,
        a.redeploy.then_some("Environment update"),
    )
    .await?;
    let mut out = ToolOutput::trusted(json!({
        "compose_id": id,
        "changed": true,
        "changes": applied.changes,
        "new_errors": new_errors,
        "saved_version": applied.saved_version,
        "redeployed": applied.redeployed,
        "next_step": if applied.redeployed {
            "dokploy_monitor_health shows when the containers are back; dokploy_rollback restores the saved version"
        } else {
            "the containers see the change after a redeploy (dokploy_restart_service); dokploy_rollback restores the saved version"
        },
    }));
    for w in applied.warnings.iter().chain(&notes) {
        out = out.warn(w.clone());
    }
    Ok(out)
}

async fn env_versions(call: Call, a: VersionsArgs) -> Result<ToolOutput, ToolError> {
    let id = check_id("compose_id", &a.compose_id)?;
    let store = Store::new(&call.state.config.data_dir, &id);
    let list = store.list().map_err(version_error)?;
    if list.is_empty() {
        return Ok(ToolOutput::trusted(json!({"compose_id": id, "count": 0, "versions": []}))
            .warn("no saved versions: one is saved before every dokploy_update_env, dokploy_rollback or dokploy_manage_domain change"));
    }
    let api = api(&call)?;
    let current = compose(&call, &api, &id).await?.env;
    // Each version is compared with what replaced it: the next newer one,
    // and for the newest the env in place now.
    let mut newer = EnvFile::parse(&current);
    let mut versions = Vec::new();
    for v in &list {
        let text = store.read(v).map_err(version_error)?;
        let file = EnvFile::parse(&text);
        register_secrets(&call, &file);
        versions.push(json!({
            "version": v,
            "saved_at": versions::time_of(v),
            "variables": file.assignments().count(),
            "changed_since": envdiff::changed_names(&file, &newer),
        }));
        newer = file;
    }
    Ok(ToolOutput::trusted(json!({
        "compose_id": id,
        "count": versions.len(),
        "versions": versions,
        "kept": versions::KEEP,
        "directory": store.dir().display().to_string(),
    })))
}

async fn rollback(call: Call, a: RollbackArgs) -> Result<ToolOutput, ToolError> {
    let id = check_id("compose_id", &a.compose_id)?;
    let store = Store::new(&call.state.config.data_dir, &id);
    let target = store.read(&a.version).map_err(version_error)?;
    register_secrets(&call, &EnvFile::parse(&target));
    let api = api(&call)?;
    let c = compose(&call, &api, &id).await?;
    let checked = check(&c.env, &target, c.deployed);
    if checked.changes.is_empty() {
        return Ok(ToolOutput::trusted(json!({
            "compose_id": id,
            "version": a.version.trim(),
            "changed": false,
            "changes": [],
        }))
        .warn("the env in place already equals this version; nothing was written"));
    }
    if a.dry_run {
        let mut out = ToolOutput::trusted(json!({
            "compose_id": id,
            "version": a.version.trim(),
            "dry_run": true,
            "changes": checked.changes,
            "new_errors": findings_json(&checked.new_errors),
        }));
        for w in &checked.warnings {
            out = out.warn(w.clone());
        }
        return Ok(out);
    }
    let applied = apply(
        &call,
        &api,
        &c,
        &target,
        checked,
        a.redeploy.then_some("Environment rollback"),
    )
    .await?;
    let mut out = ToolOutput::trusted(json!({
        "compose_id": id,
        "version": a.version.trim(),
        "changed": true,
        "changes": applied.changes,
        "saved_version": applied.saved_version,
        "redeployed": applied.redeployed,
    }));
    for w in applied.warnings {
        out = out.warn(w);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(v: Value) -> UpdateArgs {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn plain_secrets_are_recognised() {
        assert!(holds_secret("SMTP_PASS", "x"));
        assert!(holds_secret("DATABASE_URL", "postgres://u:pw@h/db"));
        assert!(!holds_secret("DATABASE_URL", "postgres://u@h/db"));
        assert!(!holds_secret("SITE_URL", "https://a.example"));
        assert!(!holds_secret("SMTP_PASS", ""));
        assert!(
            plan(&args(
                json!({"compose_id": "c", "set": {"JWT_SECRET": "abc"}})
            ))
            .is_err()
        );
    }

    #[test]
    fn plans_are_checked() {
        assert!(plan(&args(json!({"compose_id": "c"}))).is_err());
        assert!(plan(&args(json!({"compose_id": "c", "set": {"1A": "x"}}))).is_err());
        assert!(
            plan(&args(
                json!({"compose_id": "c", "set": {"A": "x"}, "unset": ["A"]})
            ))
            .is_err()
        );
        assert!(
            plan(&args(
                json!({"compose_id": "c", "values_from": {"A": "plain"}})
            ))
            .is_err()
        );
        let p = plan(&args(json!({"compose_id": "c", "set": {"A": "1"}, "values_from": {"B": "env:X"}, "unset": ["C"]}))).unwrap();
        assert_eq!((p.set.len(), p.from.len(), p.unset.len()), (1, 1, 1));
    }

    #[test]
    fn confirmations_mask_secrets_and_skip_dry_runs() {
        let a = json!({"compose_id": "c1", "set": {"SITE_URL": "https://a.example"}, "values_from": {"JWT_SECRET": "env:NEW_JWT"}});
        let text = assess_update(a.as_object().unwrap()).unwrap();
        assert!(text.contains("SITE_URL = https://a.example"), "{text}");
        assert!(!text.contains("hunter2"), "{text}");
        assert!(text.contains("environment variable NEW_JWT"), "{text}");
        let plain = json!({"compose_id": "c1", "set": {"SMTP_PASS": "hunter2-very-secret"}});
        assert!(assess_update(plain.as_object().unwrap()).is_none());
        let d = json!({"compose_id": "c1", "set": {"A": "1"}, "dry_run": true});
        assert!(assess_update(d.as_object().unwrap()).is_none());
        let r = json!({"compose_id": "c1", "version": "v"});
        assert!(
            assess_rollback(r.as_object().unwrap())
                .unwrap()
                .contains("redeploy")
        );
    }
}
