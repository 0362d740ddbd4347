//! `fix_env` and `convert_protocols`: fixes applied to a copy of the `.env`
//! (`<file>.fixed` unless `out` says otherwise); in place only with
//! `in_place: true`, after confirmation, with a backup copy kept. Results
//! show the changes with secrets masked.

use std::path::{Path, PathBuf};

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::{env_path, files_error, read_env, refuse_read_only};
use crate::result::{ToolError, ToolOutput};
use crate::selfhosted::files::{self, PRIVATE_MODE};
use crate::selfhosted::fix::{self, FixError, Outcome, Selection};
use crate::selfhosted::rules::RULES;
use crate::selfhosted::{EnvFile, Report, jwt, validate};
use crate::server::call::Call;

fn flag(args: &Map<String, Value>, name: &str) -> bool {
    args.get(name).and_then(Value::as_bool) == Some(true)
}

/// `fix_env` in place needs confirmation.
pub(super) fn assess_in_place(args: &Map<String, Value>) -> Option<String> {
    (flag(args, "in_place") && !flag(args, "dry_run"))
        .then(|| "rewrites the .env in place (a backup copy is kept next to it)".to_owned())
}

/// `convert_protocols` writing in place needs confirmation.
pub(super) fn assess_convert(args: &Map<String, Value>) -> Option<String> {
    (flag(args, "in_place") && flag(args, "apply"))
        .then(|| "rewrites the .env's URLs in place (a backup copy is kept next to it)".to_owned())
}

fn fix_error(e: FixError, report: &Report) -> ToolError {
    let fixable: Vec<&str> = report
        .findings
        .iter()
        .filter(|f| f.fixable)
        .map(|f| f.id.as_str())
        .collect();
    let suggestion = match &e {
        FixError::UnknownRule(_) => format!("Known rules: {}.", RULES.join(", ")),
        FixError::UnknownId(_) | FixError::NothingSelected if fixable.is_empty() => {
            "This file has no finding fix_env can fix; validate_env lists the findings.".to_owned()
        }
        FixError::UnknownId(_) | FixError::NothingSelected => format!(
            "Pass `all: true`, or ids from validate_env; fixable here: {}.",
            fixable.join(", ")
        ),
        FixError::Secrets(_) | FixError::Jwt(_) => "Try again; nothing was written.".to_owned(),
    };
    ToolError::invalid(e.to_string()).suggestion(suggestion)
}

/// Writes the fixed text; returns the path written and the backup made.
fn write(
    path: &Path,
    fixed: &EnvFile,
    out: Option<&str>,
    in_place: bool,
    overwrite: bool,
) -> Result<(PathBuf, Option<PathBuf>), ToolError> {
    if in_place {
        let backup = files::backup(path).map_err(files_error)?;
        files::write_atomic(path, &fixed.render(), true, files::mode_of(path))
            .map_err(files_error)?;
        return Ok((path.to_owned(), Some(backup)));
    }
    let target = match out.map(str::trim).filter(|o| !o.is_empty()) {
        Some(o) => PathBuf::from(o),
        None => files::sibling(path, ".fixed"),
    };
    if target == path {
        return Err(ToolError::invalid("`out` is the file itself").suggestion(
            "Use `in_place: true` to change the file itself (it needs confirmation).",
        ));
    }
    files::write_atomic(&target, &fixed.render(), overwrite, PRIVATE_MODE).map_err(files_error)?;
    Ok((target, None))
}

fn outcome_json(path: &Path, o: &Outcome, written: Option<(PathBuf, Option<PathBuf>)>) -> Value {
    let target = written
        .as_ref()
        .map(|(p, _)| p.display().to_string())
        .unwrap_or_else(|| files::sibling(path, ".fixed").display().to_string());
    let after = validate(&o.file, &Default::default());
    json!({
        "path": path.display().to_string(),
        "written_to": written.as_ref().map(|(p, _)| p.display().to_string()),
        "backup": written.as_ref().and_then(|(_, b)| b.as_ref()).map(|b| b.display().to_string()),
        "applied": o.applied,
        "skipped": o.skipped,
        "changes": o.changes,
        "diff": fix::diff_text(&path.display().to_string(), &target, &o.changes),
        "notes": o.notes,
        "remaining": {
            "summary": after.summary,
            "findings": after.findings.iter().map(|f| json!({"id": f.id, "severity": f.severity})).collect::<Vec<_>>(),
        },
    })
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FixArgs {
    /// The .env file (default: the server's --env-file).
    #[serde(default)]
    pub path: Option<String>,
    /// Finding ids from validate_env, e.g. http_url:SITE_URL.
    #[serde(default)]
    pub ids: Vec<String>,
    /// Rules whose findings to fix, e.g. dokploy_broken_keys.
    #[serde(default)]
    pub rules: Vec<String>,
    /// Fix every finding that can be fixed automatically.
    #[serde(default)]
    pub all: bool,
    /// Where to write the fixed copy (default: <path>.fixed).
    #[serde(default)]
    pub out: Option<String>,
    /// Replace `out` if it exists.
    #[serde(default)]
    pub overwrite: bool,
    /// Change the file itself (needs confirmation; a backup copy is kept).
    #[serde(default)]
    pub in_place: bool,
    /// Only show the changes; write nothing.
    #[serde(default)]
    pub dry_run: bool,
    /// Validity of re-signed keys in years (default 5).
    #[serde(default)]
    #[schemars(range(min = 1, max = 50))]
    pub years: Option<u32>,
}

fn exclusive(out: Option<&str>, in_place: bool) -> Result<(), ToolError> {
    if in_place && out.is_some() {
        return Err(
            ToolError::invalid("`out` and `in_place` exclude each other")
                .suggestion("Drop one of them."),
        );
    }
    Ok(())
}

pub(super) async fn fix_env(call: Call, a: FixArgs) -> Result<ToolOutput, ToolError> {
    exclusive(a.out.as_deref(), a.in_place)?;
    let path = env_path(&call, a.path.as_deref())?;
    let file = read_env(&path)?;
    let report = validate(&file, &Default::default());
    let sel = Selection {
        ids: a.ids,
        rules: a.rules,
        all: a.all,
    };
    let o = fix::apply(&file, &report, &sel, a.years.unwrap_or(jwt::DEFAULT_YEARS))
        .map_err(|e| fix_error(e, &report))?;
    if o.changes.is_empty() {
        let mut out = ToolOutput::trusted(outcome_json(&path, &o, None));
        out = out.warn("Nothing to change: no file was written.");
        return Ok(out);
    }
    if a.dry_run {
        return Ok(ToolOutput::trusted(outcome_json(&path, &o, None))
            .warn("Dry run: nothing was written."));
    }
    let written = write(&path, &o.file, a.out.as_deref(), a.in_place, a.overwrite)?;
    Ok(ToolOutput::trusted(outcome_json(&path, &o, Some(written))))
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConvertArgs {
    /// The .env file (default: the server's --env-file).
    #[serde(default)]
    pub path: Option<String>,
    /// Write the change (default: only show it).
    #[serde(default)]
    pub apply: bool,
    /// Where to write (default: <path>.fixed).
    #[serde(default)]
    pub out: Option<String>,
    /// Replace `out` if it exists.
    #[serde(default)]
    pub overwrite: bool,
    /// Change the file itself (needs confirmation; a backup copy is kept).
    #[serde(default)]
    pub in_place: bool,
}

pub(super) async fn convert_protocols(call: Call, a: ConvertArgs) -> Result<ToolOutput, ToolError> {
    exclusive(a.out.as_deref(), a.in_place)?;
    let path = env_path(&call, a.path.as_deref())?;
    let file = read_env(&path)?;
    let report = validate(&file, &Default::default());
    if !report.findings.iter().any(|f| f.rule == "http_url") {
        return Ok(ToolOutput::trusted(json!({
            "path": path.display().to_string(),
            "changes": [],
            "message": "Every public URL already uses https:// (http:// remains only for local hosts).",
        })));
    }
    let sel = Selection {
        rules: vec!["http_url".into()],
        ..Default::default()
    };
    let o =
        fix::apply(&file, &report, &sel, jwt::DEFAULT_YEARS).map_err(|e| fix_error(e, &report))?;
    if !a.apply {
        return Ok(ToolOutput::trusted(outcome_json(&path, &o, None))
            .warn("Not written yet: call again with `apply: true` to write the change."));
    }
    refuse_read_only(&call, "`apply`")?;
    let written = write(&path, &o.file, a.out.as_deref(), a.in_place, a.overwrite)?;
    Ok(ToolOutput::trusted(outcome_json(&path, &o, Some(written))))
}
