//! The `selfhosted` group: checks and fixes for a self-hosted Supabase `.env`,
//! JWT keys and secrets, over [`crate::selfhosted`]. A `.env` path defaults
//! to the server's `--env-file`. No tool result holds a secret: generated
//! values go only into files written with mode 0600, and values are shown
//! masked.

mod check;
mod connection;
mod fix;
mod generate;
mod keys;

use std::path::PathBuf;

use super::{Kind, ToolDef, tool};
use crate::groups::Group;
use crate::result::{ErrorCode, ToolError};
use crate::selfhosted::EnvFile;
use crate::selfhosted::envfile::EnvFileError;
use crate::selfhosted::files::FilesError;
use crate::server::call::Call;

pub fn tools() -> Vec<ToolDef> {
    vec![
        tool("validate_env", Group::Selfhosted, Kind::Read)
            .title("Check a self-hosted .env")
            .description("Check a Supabase .env: secrets, JWT keys, https URLs, SMTP, required and fixed variables, project name.")
            .handler(check::validate_env),
        tool("validate_project_name", Group::Selfhosted, Kind::Read)
            .title("Check a project name")
            .description("Check a self-hosted project name and suggest a valid one.")
            .handler(check::validate_project_name),
        tool("decode_jwt", Group::Selfhosted, Kind::Read)
            .title("Decode a JWT")
            .description("Show a JWT's header and claims (no verification); the token is never echoed.")
            .handler(keys::decode_jwt),
        tool("verify_jwt", Group::Selfhosted, Kind::Read)
            .title("Verify a JWT")
            .description("Verify a key's HS256 signature with JWT_SECRET (from a file, variable or .env) and its claims.")
            .handler(keys::verify_jwt),
        tool("generate_secrets", Group::Selfhosted, Kind::Write)
            .title("Generate a .env with new secrets")
            .description("Write a new .env (0600) with random secrets and signed keys; returns names, never values.")
            .handler(generate::generate_secrets),
        tool("fix_env", Group::Selfhosted, Kind::Write)
            .title("Fix a .env")
            .description("Apply fixes of validate_env findings to a copy of the .env (in place needs confirmation).")
            .assess(fix::assess_in_place)
            .handler(fix::fix_env),
        tool("convert_protocols", Group::Selfhosted, Kind::Write)
            .title("Switch URLs to https")
            .description("Show, then with apply write, the http:// to https:// change of a .env's public URLs.")
            .read_only_capable()
            .assess(fix::assess_convert)
            .handler(fix::convert_protocols),
        tool("build_connection_strings", Group::Selfhosted, Kind::Write)
            .title("Build connection strings")
            .description("Direct and pooled connection strings from a .env, inside Docker and outside; password as a placeholder.")
            .read_only_capable()
            .idempotent(true)
            .handler(connection::build_connection_strings),
    ]
}

/// The `.env` a call is about: `path`, else the server's `--env-file`.
pub(super) fn env_path(call: &Call, path: Option<&str>) -> Result<PathBuf, ToolError> {
    if let Some(p) = path.map(str::trim).filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(p));
    }
    call.instance.env_file.clone().ok_or_else(|| {
        ToolError::new(
            ErrorCode::NotConfigured,
            "no .env file given and the server has none configured",
        )
        .suggestion("Pass `path` (the .env of the Supabase Docker setup), or start the server with --env-file.")
    })
}

pub(super) fn read_env(path: &std::path::Path) -> Result<EnvFile, ToolError> {
    EnvFile::read(path).map_err(|e| {
        let code = match &e {
            EnvFileError::Read { message, .. } if message.contains("No such file") => {
                ErrorCode::NotFound
            }
            EnvFileError::Read { .. } => ErrorCode::Io,
            _ => ErrorCode::InvalidArguments,
        };
        ToolError::new(code, e.to_string())
            .suggestion("Give the path of the Supabase .env file (relative paths are relative to the server's working directory).")
    })
}

pub(super) fn files_error(e: FilesError) -> ToolError {
    match e {
        FilesError::Exists(p) => ToolError::invalid(format!("{p} already exists"))
            .reason("existing files are never replaced unless asked")
            .suggestion("Choose another `out` path, or pass `overwrite: true`."),
        other => ToolError::new(ErrorCode::Io, other.to_string())
            .suggestion("Check that the directory exists and is writable."),
    }
}

/// Refuses writes in read-only mode (for tools that also read).
pub(super) fn refuse_read_only(call: &Call, what: &str) -> Result<(), ToolError> {
    if call.read_only {
        return Err(ToolError::new(
            ErrorCode::ReadOnly,
            format!("{what} writes a file and the server runs read-only"),
        )
        .suggestion(
            "Call it without the writing option, or restart the server without --read-only.",
        ));
    }
    Ok(())
}
