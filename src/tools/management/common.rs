//! What the `management` tools share: the project argument, the Management
//! API client of a call, API errors that never quote a response body (it may
//! hold secrets), JSON requests the generated client cannot express, masking,
//! and reading secret values from a file or an environment variable.

use std::path::PathBuf;

use reqwest::Method;
use reqwest::header::ACCEPT;
use schemars::JsonSchema;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::api::generated::management::types::ProjectRef;
use crate::api::{ApiError, CallOptions, ManagementApi, with_retry};
use crate::result::{ErrorCode, ToolError};
use crate::secret::Secret;
use crate::server::call::{Call, parse_project_ref};

/// Largest JSON answer read from a settings endpoint.
const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;
/// Characters of a masked key that stay visible.
const MASK_VISIBLE: usize = 6;
/// What a set secret shows instead of its value.
pub const HIDDEN: &str = "(hidden)";

// The arguments of a tool that only needs the project.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProjectArgs {
    /// Project ref (20 lowercase letters).
    #[serde(default)]
    pub project_id: Option<String>,
}

/// The project of a call: the argument, else the project the server is scoped to.
pub fn project_ref(call: &Call, given: Option<&str>) -> Result<ProjectRef, ToolError> {
    let Some(r) = given.or(call.instance.project_ref.as_deref()) else {
        return Err(ToolError::invalid("`project_id` is required").suggestion(
            "Pass project_id (list_projects shows the refs), or start the server with --project-ref.",
        ));
    };
    parse_project_ref(r.trim())
}

/// How a project is named in a confirmation, before the call runs.
pub fn project_label(given: Option<&str>) -> String {
    match given.map(str::trim) {
        Some(p) if !p.is_empty() => format!("project `{p}`"),
        _ => "the project".to_owned(),
    }
}

/// The arguments of a call as `A`, for confirmation checks (`None` when
/// they do not parse: the handler then refuses them without asking).
pub fn args_of<A: DeserializeOwned>(args: &Map<String, Value>) -> Option<A> {
    serde_json::from_value(Value::Object(args.clone())).ok()
}

pub fn api(call: &Call) -> Result<ManagementApi, ToolError> {
    call.state.clients.management(&call.instance)
}

/// The tool error of a failed call. An answer of the wrong shape is
/// reported without the excerpt the client layer quotes: settings answers
/// hold secrets (JWT secret, provider secrets, keys).
pub fn api_error(e: ApiError) -> ToolError {
    match e {
        ApiError::InvalidResponse {
            service,
            status,
            suggestion,
            ..
        } => ToolError::from(ApiError::InvalidResponse {
            service,
            status,
            message: "the answer does not have the expected shape (its content is not shown: it may hold secrets)".to_owned(),
            suggestion,
        }),
        other => ToolError::from(other),
    }
}

/// An answer that cannot be used, described without its content.
pub fn shape_error(what: &str) -> ToolError {
    ToolError::new(
        ErrorCode::ApiError,
        "The Supabase Management API sent a response that could not be used",
    )
    .reason(format!(
        "{what} (its content is not shown: it may hold secrets)"
    ))
    .suggestion(
        "The API may have changed; retry, and check that --api-url points at the Supabase Management API.",
    )
}

/// Sends a JSON request by hand (for bodies the generated client cannot
/// express, and answers read as free JSON) with the client's credentials,
/// time limit and retries; returns the answer's JSON (`Null` when empty).
pub async fn send_json(
    api: &ManagementApi,
    method: Method,
    segments: &[&str],
    body: Option<&Value>,
    options: CallOptions,
) -> Result<Value, ToolError> {
    let url = api.url_with(segments.iter().copied());
    let limit = api.timeout_for(options);
    let service = api.service();
    let bytes = with_retry(&api.config().retry, options.idempotent, || {
        let url = url.clone();
        let method = method.clone();
        async move {
            tokio::time::timeout(limit, async {
                let mut request = api
                    .http()
                    .request(method, url)
                    .header(ACCEPT, "application/json");
                if let Some(b) = body {
                    request = request.json(b);
                }
                let response = api.send(request).await?;
                api.read_capped(response, MAX_BODY_BYTES).await
            })
            .await
            .unwrap_or_else(|_| Err(ApiError::timeout(service, limit)))
        }
    })
    .await
    .map_err(api_error)?;
    let Some(bytes) = bytes else {
        return Err(shape_error(&format!(
            "the answer is larger than {} MiB",
            MAX_BODY_BYTES / (1024 * 1024)
        )));
    };
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Null);
    }
    serde_json::from_slice(&bytes).map_err(|e| {
        shape_error(&format!(
            "the answer is not JSON (line {}, column {})",
            e.line(),
            e.column()
        ))
    })
}

/// Reads a free-JSON answer as a generated type, without quoting it on failure.
pub fn typed<T: DeserializeOwned>(v: Value) -> Result<T, ToolError> {
    serde_json::from_value(v).map_err(|e| {
        shape_error(&format!(
            "the answer does not have the expected fields or types (near line {}, column {})",
            e.line(),
            e.column()
        ))
    })
}

/// A secret shown by its first characters only: `sb_sec…`.
pub fn mask(value: &str) -> String {
    let visible: String = value.chars().take(MASK_VISIBLE).collect();
    if value.chars().count() <= MASK_VISIBLE {
        "…".to_owned()
    } else {
        format!("{visible}…")
    }
}

/// A short, single-line rendering of a value for a confirmation or summary.
pub fn brief(v: &Value) -> String {
    let text = v.to_string();
    if text.chars().count() > 60 {
        format!("{}…", text.chars().take(60).collect::<String>())
    } else {
        text
    }
}

/// Where a project's API keys are shown in the dashboard.
pub fn api_keys_page(project: &ProjectRef) -> String {
    format!(
        "https://supabase.com/dashboard/project/{}/settings/api-keys",
        project.as_str()
    )
}

/// Why a secret value could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("the environment variable name `{0}` is not valid")]
    BadEnvName(String),
    #[error("the environment variable `{0}` is not set in the server's environment")]
    EnvMissing(String),
    #[error("the environment variable `{0}` does not hold UTF-8 text")]
    EnvNotText(String),
    #[error("cannot read `{path}`: {reason}")]
    File { path: String, reason: String },
    #[error("`{0}` is not a regular file")]
    NotAFile(String),
    #[error("`{0}` does not hold UTF-8 text")]
    FileNotText(String),
    #[error("the value is empty")]
    Empty,
    #[error("the value is longer than {0} characters")]
    TooLong(usize),
    #[error("the value contains one of this server's own credentials")]
    OwnCredential,
}

/// Where a secret value comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// An environment variable of the server process.
    Env(String),
    /// A file on the server's machine.
    File(String),
}

impl Source {
    /// What a summary says about it (never the value).
    pub fn describe(&self) -> String {
        match self {
            Source::Env(n) => format!("environment variable {n}"),
            Source::File(p) => format!("file {p}"),
        }
    }

    /// Reads the value: at most `max_chars` characters, not empty, UTF-8,
    /// one trailing line break dropped (files usually end with one).
    pub async fn read(&self, max_chars: usize) -> Result<Secret, SourceError> {
        let mut value = match self {
            Source::Env(name) => {
                if name.is_empty() || name.contains(['=', '\0']) {
                    return Err(SourceError::BadEnvName(name.clone()));
                }
                match std::env::var(name) {
                    Ok(v) => v,
                    Err(std::env::VarError::NotPresent) => {
                        return Err(SourceError::EnvMissing(name.clone()));
                    }
                    Err(std::env::VarError::NotUnicode(_)) => {
                        return Err(SourceError::EnvNotText(name.clone()));
                    }
                }
            }
            Source::File(raw) => read_file(raw, max_chars).await?,
        };
        if value.ends_with("\r\n") {
            value.truncate(value.len() - 2);
        } else if value.ends_with('\n') {
            value.truncate(value.len() - 1);
        }
        let secret = Secret::new(value);
        check_value(&secret, max_chars)?;
        Ok(secret)
    }
}

/// A value to send: not empty and not too long.
pub fn check_value(value: &Secret, max_chars: usize) -> Result<(), SourceError> {
    if value.is_empty() {
        return Err(SourceError::Empty);
    }
    if value.expose().chars().count() > max_chars {
        return Err(SourceError::TooLong(max_chars));
    }
    Ok(())
}

fn expand_home(raw: &str) -> PathBuf {
    if let Some(rest) = raw.strip_prefix("~/")
        && let Some(home) = std::env::var_os("HOME")
    {
        return PathBuf::from(home).join(rest);
    }
    PathBuf::from(raw)
}

async fn read_file(raw: &str, max_chars: usize) -> Result<String, SourceError> {
    use tokio::io::AsyncReadExt;
    let path = expand_home(raw.trim());
    let err = |e: std::io::Error| SourceError::File {
        path: raw.to_owned(),
        reason: e.to_string(),
    };
    let meta = tokio::fs::metadata(&path).await.map_err(err)?;
    if !meta.is_file() {
        return Err(SourceError::NotAFile(raw.to_owned()));
    }
    // A character is at most 4 bytes; 2 more for a trailing line break.
    let cap = (max_chars * 4 + 2) as u64;
    let file = tokio::fs::File::open(&path).await.map_err(err)?;
    let mut bytes = Vec::new();
    file.take(cap + 1)
        .read_to_end(&mut bytes)
        .await
        .map_err(err)?;
    if bytes.len() as u64 > cap {
        return Err(SourceError::TooLong(max_chars));
    }
    String::from_utf8(bytes).map_err(|_| SourceError::FileNotText(raw.to_owned()))
}

/// Parses `env:NAME` or `file:PATH`.
pub fn parse_source(raw: &str) -> Option<Source> {
    let raw = raw.trim();
    if let Some(n) = raw.strip_prefix("env:") {
        let n = n.trim();
        return (!n.is_empty()).then(|| Source::Env(n.to_owned()));
    }
    if let Some(p) = raw.strip_prefix("file:") {
        let p = p.trim();
        return (!p.is_empty()).then(|| Source::File(p.to_owned()));
    }
    None
}

/// Reads a secret value and makes sure it can never show up anywhere: a
/// value holding one of the server's own credentials is refused (a secret
/// would carry it to code the project runs), and the value is registered
/// with the redactor.
pub async fn read_secret(
    call: &Call,
    source: &Source,
    max_chars: usize,
) -> Result<Secret, SourceError> {
    let value = source.read(max_chars).await?;
    admit_secret(call, &value)?;
    Ok(value)
}

/// Refuses a value holding a server credential and registers the value
/// with the redactor, so no result, error or log line can show it.
pub fn admit_secret(call: &Call, value: &Secret) -> Result<(), SourceError> {
    let redactor = &call.state.config.redactor;
    if redactor.leaks(value.expose()) {
        return Err(SourceError::OwnCredential);
    }
    redactor.add(value);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_keep_six_characters() {
        assert_eq!(mask("sb_secret_abcdefghijkl"), "sb_sec…");
        assert_eq!(mask("short"), "…");
        assert_eq!(mask("eyJhbGciOiJIUzI1NiJ9.x.y"), "eyJhbG…");
    }

    #[test]
    fn sources_parse() {
        assert_eq!(
            parse_source("env:SMTP_PASS"),
            Some(Source::Env("SMTP_PASS".into()))
        );
        assert_eq!(
            parse_source(" file: /run/secrets/x "),
            Some(Source::File("/run/secrets/x".into()))
        );
        assert_eq!(parse_source("env:"), None);
        assert_eq!(parse_source("hunter2"), None);
    }

    #[tokio::test]
    async fn files_lose_one_trailing_newline_and_are_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s");
        std::fs::write(&p, "line1\nline2\n\n").unwrap();
        let s = Source::File(p.display().to_string());
        assert_eq!(s.read(100).await.unwrap().expose(), "line1\nline2\n");
        std::fs::write(&p, "x".repeat(11)).unwrap();
        assert!(matches!(s.read(10).await, Err(SourceError::TooLong(10))));
        std::fs::write(&p, "\n").unwrap();
        assert!(matches!(s.read(10).await, Err(SourceError::Empty)));
        std::fs::write(&p, [0xff, 0xfe]).unwrap();
        assert!(matches!(s.read(10).await, Err(SourceError::FileNotText(_))));
        let d = Source::File(dir.path().display().to_string());
        assert!(matches!(d.read(10).await, Err(SourceError::NotAFile(_))));
        let missing = Source::Env("SMCP_TEST_SURELY_UNSET_VARIABLE".into());
        assert!(matches!(
            missing.read(10).await,
            Err(SourceError::EnvMissing(_))
        ));
        let bad = Source::Env("A=B".into());
        assert!(matches!(
            bad.read(10).await,
            Err(SourceError::BadEnvName(_))
        ));
    }
}
