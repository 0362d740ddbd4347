//! `generate_secrets`: a new `.env` with random secrets and signed keys,
//! written with mode 0600. The result names what was written; values never
//! leave the file.

use std::path::PathBuf;

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::json;

use super::{files_error, read_env};
use crate::result::{ToolError, ToolOutput};
use crate::selfhosted::files::{self, PRIVATE_MODE};
use crate::selfhosted::jwt;
use crate::selfhosted::template::{self, Options};
use crate::selfhosted::{Severity, validate};
use crate::server::call::Call;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GenerateArgs {
    /// Where to write the new .env (must not exist).
    pub out: String,
    /// An existing .env to copy, with its secrets replaced (default: the built-in template).
    #[serde(default)]
    pub base: Option<String>,
    /// Public domain of the instance: SUPABASE_PUBLIC_URL and API_EXTERNAL_URL become https://<domain>.
    #[serde(default)]
    pub domain: Option<String>,
    /// URL of the application users sign in to (SITE_URL).
    #[serde(default)]
    pub site_url: Option<String>,
    /// Project name, used as POOLER_TENANT_ID.
    #[serde(default)]
    pub project_name: Option<String>,
    /// Validity of ANON_KEY and SERVICE_ROLE_KEY in years (default 5).
    #[serde(default)]
    #[schemars(range(min = 1, max = 50))]
    pub years: Option<u32>,
}

pub(super) async fn generate_secrets(
    _call: Call,
    a: GenerateArgs,
) -> Result<ToolOutput, ToolError> {
    let out = PathBuf::from(a.out.trim());
    if a.out.trim().is_empty() {
        return Err(
            ToolError::invalid("`out` is empty").suggestion("Give the path of the new .env.")
        );
    }
    let base = match &a.base {
        Some(b) => Some(read_env(&PathBuf::from(b))?),
        None => None,
    };
    let opts = Options {
        base,
        domain: a.domain,
        site_url: a.site_url,
        years: a.years.unwrap_or(jwt::DEFAULT_YEARS),
        project_name: a.project_name,
    };
    let g = template::generate(&opts).map_err(|e| {
        ToolError::invalid(e.to_string()).suggestion("Correct the argument and call again.")
    })?;
    files::write_atomic(&out, &g.file.render(), false, PRIVATE_MODE).map_err(files_error)?;
    let report = validate(&g.file, &Default::default());
    let open: Vec<&str> = report
        .findings
        .iter()
        .filter(|f| f.severity != Severity::Info)
        .map(|f| f.id.as_str())
        .collect();
    let mut next = vec!["Keep the file private: it holds every secret of the instance.".to_owned()];
    if !open.is_empty() {
        next.push(format!(
            "Still to set by hand (validate_env shows why): {}.",
            open.join(", ")
        ));
    }
    next.push("Deploy with it before the database volume exists: a new POSTGRES_PASSWORD does not change an existing database.".to_owned());
    Ok(ToolOutput::trusted(json!({
        "path": out.display().to_string(),
        "mode": "0600",
        "based_on": a.base.unwrap_or_else(|| "the built-in template".to_owned()),
        "generated": g.generated,
        "set": g.set,
        "keys": g.keys,
        "check": report.summary,
        "next_steps": next,
    })))
}
