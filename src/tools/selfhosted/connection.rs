//! `build_connection_strings`: URLs with a password placeholder; the real
//! ones only in a 0600 file when `password_file` is given.

use std::path::PathBuf;

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::json;

use super::{env_path, files_error, read_env, refuse_read_only};
use crate::result::{ErrorCode, ToolError, ToolOutput};
use crate::selfhosted::connstrings::{self, PLACEHOLDER};
use crate::selfhosted::files::{self, PRIVATE_MODE};
use crate::server::call::Call;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConnArgs {
    /// The .env file (default: the server's --env-file).
    #[serde(default)]
    pub path: Option<String>,
    /// Domain or IP for connections from outside Docker (default: the host of SUPABASE_PUBLIC_URL).
    #[serde(default)]
    pub host: Option<String>,
    /// Also write the URLs with the real password to this file (0600); the result still shows none.
    #[serde(default)]
    pub password_file: Option<String>,
    /// Replace `password_file` if it exists.
    #[serde(default)]
    pub overwrite: bool,
}

pub(super) async fn build_connection_strings(
    call: Call,
    a: ConnArgs,
) -> Result<ToolOutput, ToolError> {
    if let Some(h) = &a.host
        && (h.contains(['/', '@', ' ']) || h.is_empty())
    {
        return Err(
            ToolError::invalid(format!("`host` {h} is not a host name or IP"))
                .suggestion("Give only the host, e.g. db.example.com or 203.0.113.5."),
        );
    }
    let path = env_path(&call, a.path.as_deref())?;
    let file = read_env(&path)?;
    let c = connstrings::build(&file, a.host.as_deref());
    let mut written = None;
    if let Some(pf) = &a.password_file {
        refuse_read_only(&call, "`password_file`")?;
        let password = file
            .resolved_value("POSTGRES_PASSWORD")
            .filter(|p| !p.is_empty())
            .ok_or_else(|| {
                ToolError::new(
                    ErrorCode::NotFound,
                    format!("POSTGRES_PASSWORD is not set in {}", path.display()),
                )
                .suggestion("Set POSTGRES_PASSWORD (generate_secrets or fix_env make one).")
            })?;
        let mut text =
            String::from("# Connection strings with the database password: keep private.\n");
        for s in &c.strings {
            text.push_str(&format!(
                "{}={}\n",
                s.name.to_ascii_uppercase(),
                connstrings::with_password(s, &password)
            ));
        }
        let target = PathBuf::from(pf);
        files::write_atomic(&target, &text, a.overwrite, PRIVATE_MODE).map_err(files_error)?;
        written = Some(target.display().to_string());
    }
    Ok(ToolOutput::trusted(json!({
        "path": path.display().to_string(),
        "password_placeholder": PLACEHOLDER,
        "strings": c.strings,
        "external_host": c.external_host,
        "external_host_from": c.external_host_from,
        "notes": c.notes,
        "password_file": written,
    })))
}
