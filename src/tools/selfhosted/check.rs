//! `validate_env` and `validate_project_name`.

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::json;

use super::{env_path, read_env};
use crate::result::{ToolError, ToolOutput};
use crate::selfhosted::project_name;
use crate::selfhosted::{Options, Severity, validate};
use crate::server::call::Call;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ValidateEnvArgs {
    /// The .env file (default: the server's --env-file).
    #[serde(default)]
    pub path: Option<String>,
    /// Also check this project name (the Dokploy application name).
    #[serde(default)]
    pub project_name: Option<String>,
    /// Leave out findings below this severity: error, warning or info (default).
    #[serde(default)]
    pub min_severity: Option<String>,
}

pub(super) async fn validate_env(call: Call, a: ValidateEnvArgs) -> Result<ToolOutput, ToolError> {
    let min = match a.min_severity.as_deref() {
        None => Severity::Info,
        Some(s) => Severity::parse(s).ok_or_else(|| {
            ToolError::invalid(format!("`min_severity` {s} is not known"))
                .suggestion("Use error, warning or info.")
        })?,
    };
    let path = env_path(&call, a.path.as_deref())?;
    let file = read_env(&path)?;
    let mut report = validate(
        &file,
        &Options {
            project_name: a.project_name,
            now: None,
        },
    );
    report.findings.retain(|f| f.severity <= min);
    let report = crate::selfhosted::Report::new(report.findings);
    let fixable: Vec<&str> = report
        .findings
        .iter()
        .filter(|f| f.fixable)
        .map(|f| f.id.as_str())
        .collect();
    let next = if report.findings.is_empty() {
        "Nothing to fix.".to_owned()
    } else if fixable.is_empty() {
        "The findings need values only you can give; see each `fix`.".to_owned()
    } else {
        format!(
            "fix_env with `all: true` (or `ids`) writes a fixed copy; {} finding(s) can be fixed automatically.",
            fixable.len()
        )
    };
    Ok(ToolOutput::trusted(json!({
        "path": path.display().to_string(),
        "valid": report.valid,
        "summary": report.summary,
        "findings": report.findings,
        "next_step": next,
    })))
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProjectNameArgs {
    /// The project name to check.
    pub name: String,
}

pub(super) async fn validate_project_name(
    _call: Call,
    a: ProjectNameArgs,
) -> Result<ToolOutput, ToolError> {
    if a.name.chars().count() > 255 {
        return Err(ToolError::invalid("`name` is longer than 255 characters")
            .suggestion("Give the project name only."));
    }
    let c = project_name::check(&a.name);
    Ok(ToolOutput::trusted(json!({
        "name": c.name,
        "valid": c.valid,
        "problems": c.problems,
        "suggestion": c.suggestion,
        "rules": format!(
            "lowercase letters, digits and hyphens; starts with a letter; no trailing or double hyphen; at most {} characters; not one of: {}",
            project_name::MAX_LEN,
            project_name::RESERVED.join(", ")
        ),
        "affects": project_name::IMPACT,
    })))
}
