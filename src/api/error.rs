//! The one error type of the API client layer, [`ApiError`]: turns every way
//! an HTTP call can fail (generated-client errors, reqwest errors, timeouts,
//! unreadable responses, local file problems) into a status, a short message
//! taken from the response body and a suggestion, with every configured
//! secret scrubbed out. Also maps it onto the tool-facing [`ToolError`].

use std::fmt;
use std::time::Duration;

use futures::StreamExt;
use reqwest::StatusCode;
use reqwest::header::{HeaderMap, RETRY_AFTER};
use supabase_mcp_generated::progenitor_client::{ByteStream, Error as ProgenitorError};

use crate::result::{ErrorCode, ToolError};
use crate::secret::Redactor;

/// Longest message kept from a response body, in characters.
const MESSAGE_CHARS: usize = 300;
/// Most bytes read from an error body; the rest is dropped unread.
const ERROR_BODY_LIMIT: usize = 64 * 1024;

const TIMEOUT_SUGGESTION: &str = "The service may be slow or overloaded: retry later, or raise \
     the API timeout in the configuration for long operations.";

/// Which remote API a call went to. Used in messages and suggestions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    Management,
    Auth,
    Storage,
    Dokploy,
}

impl Service {
    pub fn name(self) -> &'static str {
        match self {
            Service::Management => "Supabase Management API",
            Service::Auth => "Supabase Auth API",
            Service::Storage => "Supabase Storage API",
            Service::Dokploy => "Dokploy API",
        }
    }

    /// The setting that holds this service's credential.
    pub fn credential_setting(self) -> &'static str {
        match self {
            Service::Management => "SUPABASE_ACCESS_TOKEN",
            Service::Auth | Service::Storage => "SUPABASE_SERVICE_ROLE_KEY",
            Service::Dokploy => "DOKPLOY_API_KEY",
        }
    }
}

impl fmt::Display for Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A failed API call. Every text field has been scrubbed of configured
/// secrets; no variant ever holds request headers.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The service answered with an error status.
    #[error("{service} answered HTTP {status}: {message}. {suggestion}")]
    Status {
        service: Service,
        status: u16,
        message: String,
        suggestion: String,
        /// Wait requested by the service (`Retry-After`), if any.
        retry_after: Option<Duration>,
    },
    /// The call did not finish in time.
    #[error("the {service} did not answer in time: {message}. {suggestion}")]
    Timeout {
        service: Service,
        message: String,
        suggestion: String,
    },
    /// The service could not be reached at all.
    #[error("could not reach the {service}: {message}. {suggestion}")]
    Connection {
        service: Service,
        message: String,
        suggestion: String,
    },
    /// The service answered, but not with something the client can use.
    #[error("the {service} sent a response that could not be used: {message}. {suggestion}")]
    InvalidResponse {
        service: Service,
        status: Option<u16>,
        message: String,
        suggestion: String,
    },
    /// The request could not be built from the given arguments.
    #[error("invalid request for the {service}: {message}")]
    InvalidRequest { service: Service, message: String },
    /// The client is configured wrongly (bad URL, unusable credential).
    #[error("the {service} client is not configured correctly: {message}")]
    Config { service: Service, message: String },
    /// A local file could not be read or written during an upload or download.
    #[error("{message}")]
    Io { service: Service, message: String },
}

impl ApiError {
    /// HTTP status of the response, when there was one.
    pub fn status(&self) -> Option<u16> {
        match self {
            ApiError::Status { status, .. } => Some(*status),
            ApiError::InvalidResponse { status, .. } => *status,
            _ => None,
        }
    }

    pub fn service(&self) -> Service {
        match self {
            ApiError::Status { service, .. }
            | ApiError::Timeout { service, .. }
            | ApiError::Connection { service, .. }
            | ApiError::InvalidResponse { service, .. }
            | ApiError::InvalidRequest { service, .. }
            | ApiError::Config { service, .. }
            | ApiError::Io { service, .. } => *service,
        }
    }

    /// The short cause: the message from the response body, or what failed.
    pub fn message(&self) -> String {
        match self {
            ApiError::Status { message, .. }
            | ApiError::Connection { message, .. }
            | ApiError::InvalidResponse { message, .. }
            | ApiError::InvalidRequest { message, .. }
            | ApiError::Config { message, .. }
            | ApiError::Io { message, .. }
            | ApiError::Timeout { message, .. } => message.clone(),
        }
    }

    /// What to do about it.
    pub fn suggestion(&self) -> String {
        match self {
            ApiError::Status { suggestion, .. }
            | ApiError::Timeout { suggestion, .. }
            | ApiError::Connection { suggestion, .. }
            | ApiError::InvalidResponse { suggestion, .. } => suggestion.clone(),
            ApiError::InvalidRequest { .. } => {
                "Check the arguments against the message and try again.".to_owned()
            }
            ApiError::Config { service, .. } => format!(
                "Check the {service} URL and {} in the configuration.",
                service.credential_setting()
            ),
            ApiError::Io { .. } => {
                "Check that the local path exists and is readable/writable.".to_owned()
            }
        }
    }

    /// Wait the service asked for before retrying (`Retry-After`).
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            ApiError::Status { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// True for the statuses worth retrying: 429 and 503.
    pub fn is_retryable(&self) -> bool {
        matches!(self.status(), Some(429 | 503)) && matches!(self, ApiError::Status { .. })
    }

    /// An invalid-argument error, for tool code that validates inputs before a
    /// call (for example a project ref that is not 20 lowercase letters).
    pub fn invalid_request(service: Service, message: impl fmt::Display) -> Self {
        ApiError::InvalidRequest {
            service,
            message: message.to_string(),
        }
    }

    pub(crate) fn config(service: Service, message: impl Into<String>) -> Self {
        ApiError::Config {
            service,
            message: message.into(),
        }
    }

    pub(crate) fn io(service: Service, what: &str, err: &std::io::Error, r: &Redactor) -> Self {
        ApiError::Io {
            service,
            message: r.scrub(&format!("{what}: {err}")),
        }
    }

    pub(crate) fn timeout(service: Service, after: Duration) -> Self {
        ApiError::Timeout {
            service,
            message: format!("no complete answer within {} s", after.as_secs_f32()),
            suggestion: TIMEOUT_SUGGESTION.to_owned(),
        }
    }

    /// Builds the error for an error status from its headers and body bytes.
    pub(crate) fn from_status_body(
        service: Service,
        status: StatusCode,
        headers: &HeaderMap,
        body: &[u8],
        redactor: &Redactor,
    ) -> Self {
        let retry_after = parse_retry_after(headers);
        let message = redactor.scrub(&body_message(body, status));
        if status.is_redirection() {
            let target = headers
                .get(reqwest::header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .map(|l| redactor.scrub(&truncate_chars(l, 120)))
                .unwrap_or_else(|| "an unnamed address".to_owned());
            return ApiError::InvalidResponse {
                service,
                status: Some(status.as_u16()),
                message: format!("HTTP {} redirect to {target}", status.as_u16()),
                suggestion: "Redirects are not followed, so credentials never go to another \
                             address; set the configured URL to the final address (for example \
                             https:// instead of http://)."
                    .to_owned(),
            };
        }
        if status.is_success() || status.is_informational() {
            return ApiError::InvalidResponse {
                service,
                status: Some(status.as_u16()),
                message: format!(
                    "unexpected HTTP {} for this call ({message})",
                    status.as_u16()
                ),
                suggestion: "The service may run a different version than the client expects; \
                             check the service version."
                    .to_owned(),
            };
        }
        ApiError::Status {
            service,
            status: status.as_u16(),
            suggestion: suggestion_for(service, status.as_u16(), retry_after),
            message,
            retry_after,
        }
    }

    /// Reads an error response (at most 64 KiB of its body) into an error.
    pub(crate) async fn from_response(
        service: Service,
        response: reqwest::Response,
        redactor: &Redactor,
    ) -> Self {
        let status = response.status();
        let headers = response.headers().clone();
        let body = read_limited(
            response
                .bytes_stream()
                .map(|r| r.map_err(|e| e.to_string())),
            ERROR_BODY_LIMIT,
        )
        .await;
        Self::from_status_body(service, status, &headers, &body, redactor)
    }

    /// Converts a reqwest error (no response, or a body that broke off).
    pub(crate) fn from_reqwest(service: Service, err: reqwest::Error, redactor: &Redactor) -> Self {
        let status = err.status().map(|s| s.as_u16());
        let (timeout, connect, request, builder) = (
            err.is_timeout(),
            err.is_connect(),
            err.is_request(),
            err.is_builder(),
        );
        let message = redactor.scrub(&error_chain(&err.without_url()));
        if timeout {
            ApiError::Timeout {
                service,
                message,
                suggestion: TIMEOUT_SUGGESTION.to_owned(),
            }
        } else if connect || (request && status.is_none()) {
            ApiError::Connection {
                service,
                message,
                suggestion: "Check the service URL in the configuration, that the service is \
                             running, and the network (DNS, proxy, firewall)."
                    .to_owned(),
            }
        } else if builder {
            ApiError::InvalidRequest { service, message }
        } else {
            ApiError::InvalidResponse {
                service,
                status,
                message,
                suggestion: "The connection may have dropped mid-response; retry the call."
                    .to_owned(),
            }
        }
    }

    /// Converts an error from a generated client, reading the error body.
    pub async fn from_progenitor<E: ErrorBody>(
        service: Service,
        err: ProgenitorError<E>,
        redactor: &Redactor,
    ) -> Self {
        match err {
            ProgenitorError::ErrorResponse(rv) => {
                let status = rv.status();
                let headers = rv.headers().clone();
                let body = rv.into_inner().read_body(ERROR_BODY_LIMIT).await;
                Self::from_status_body(service, status, &headers, &body, redactor)
            }
            ProgenitorError::UnexpectedResponse(response) => {
                Self::from_response(service, response, redactor).await
            }
            ProgenitorError::CommunicationError(e)
            | ProgenitorError::InvalidUpgrade(e)
            | ProgenitorError::ResponseBodyError(e) => Self::from_reqwest(service, e, redactor),
            ProgenitorError::InvalidResponsePayload(bytes, e) => {
                // Neither the body nor the values the parser quotes are
                // shown: an answer may hold secrets the redactor does not know.
                ApiError::InvalidResponse {
                    service,
                    status: None,
                    message: redactor.scrub(&format!(
                        "the response body ({} bytes) does not match the expected shape ({})",
                        bytes.len(),
                        without_quoted_values(&e.to_string())
                    )),
                    suggestion: "The service may run a different version than the client \
                                 expects; check the service version."
                        .to_owned(),
                }
            }
            ProgenitorError::InvalidRequest(m) | ProgenitorError::Custom(m) => {
                ApiError::InvalidRequest {
                    service,
                    message: redactor.scrub(&m),
                }
            }
        }
    }
}

/// The body of an error response as the generated clients hand it over:
/// raw bytes ([`ByteStream`]) or nothing (`()`).
pub trait ErrorBody: Send {
    /// Reads at most `limit` bytes of the body.
    fn read_body(self, limit: usize) -> impl std::future::Future<Output = Vec<u8>> + Send;
}

impl ErrorBody for ByteStream {
    fn read_body(self, limit: usize) -> impl std::future::Future<Output = Vec<u8>> + Send {
        read_limited(
            self.into_inner().map(|r| r.map_err(|e| e.to_string())),
            limit,
        )
    }
}

impl ErrorBody for () {
    fn read_body(self, _limit: usize) -> impl std::future::Future<Output = Vec<u8>> + Send {
        std::future::ready(Vec::new())
    }
}

async fn read_limited<S, B>(stream: S, limit: usize) -> Vec<u8>
where
    S: futures::Stream<Item = Result<B, String>> + Send,
    B: AsRef<[u8]>,
{
    let mut out = Vec::new();
    let mut stream = std::pin::pin!(stream);
    while let Some(chunk) = stream.next().await {
        let Ok(chunk) = chunk else { break };
        let chunk = chunk.as_ref();
        let room = limit.saturating_sub(out.len());
        out.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if out.len() >= limit {
            break;
        }
    }
    out
}

/// The short message of an error body: a JSON `message`/`msg`/
/// `error_description`/`error` field when there is one, else the start of
/// the text, else the status's reason phrase.
fn body_message(body: &[u8], status: StatusCode) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if let Ok(json) = serde_json::from_str::<serde_json::Value>(text)
        && let Some(m) = json_message(&json, 0)
    {
        let m = collapse_whitespace(&m);
        return truncate_chars(m.strip_suffix('.').unwrap_or(&m), MESSAGE_CHARS);
    }
    if text.is_empty() {
        return status
            .canonical_reason()
            .unwrap_or("no details given")
            .to_owned();
    }
    truncate_chars(&collapse_whitespace(text), MESSAGE_CHARS)
}

fn json_message(v: &serde_json::Value, depth: u8) -> Option<String> {
    if depth > 2 {
        return None;
    }
    match v {
        serde_json::Value::Object(map) => {
            for key in ["message", "msg", "error_description", "error"] {
                match map.get(key) {
                    Some(serde_json::Value::String(s)) if !s.trim().is_empty() => {
                        return Some(s.clone());
                    }
                    Some(inner @ (serde_json::Value::Object(_) | serde_json::Value::Array(_))) => {
                        if let Some(m) = json_message(inner, depth + 1) {
                            return Some(m);
                        }
                    }
                    _ => {}
                }
            }
            None
        }
        serde_json::Value::Array(items) => items.first().and_then(|i| json_message(i, depth + 1)),
        _ => None,
    }
}

fn collapse_whitespace(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A parser message with the contents of its double-quoted values left out
/// (`invalid type: string "…", expected u64`); field names, in backticks,
/// stay.
pub fn without_quoted_values(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut quoted = false;
    for c in message.chars() {
        if c == '"' {
            if quoted {
                out.push('…');
            }
            quoted = !quoted;
            out.push(c);
        } else if !quoted {
            out.push(c);
        }
    }
    out
}

fn truncate_chars(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((idx, _)) => format!("{}…", &s[..idx]),
        None => s.to_owned(),
    }
}

/// A reqwest error with its causes, which hold the useful part
/// ("connection refused", "dns error").
fn error_chain(err: &dyn std::error::Error) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

/// `Retry-After` as seconds or as an HTTP date.
pub(crate) fn parse_retry_after(headers: &HeaderMap) -> Option<Duration> {
    let raw = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = raw.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = chrono::DateTime::parse_from_rfc2822(raw).ok()?;
    let wait = when.signed_duration_since(chrono::Utc::now());
    Some(wait.to_std().unwrap_or(Duration::ZERO))
}

fn suggestion_for(service: Service, status: u16, retry_after: Option<Duration>) -> String {
    match status {
        400 | 422 => "The service rejected the request as invalid; check the arguments against \
                      the message."
            .to_owned(),
        401 => match service {
            Service::Management => "The access token was rejected. Check SUPABASE_ACCESS_TOKEN: \
                 create a personal access token at https://supabase.com/dashboard/account/tokens."
                .to_owned(),
            Service::Auth | Service::Storage => "The service role key was rejected. Check \
                 SUPABASE_SERVICE_ROLE_KEY: it is under Project Settings > API keys in the \
                 dashboard, or SERVICE_ROLE_KEY in a self-hosted instance's .env."
                .to_owned(),
            Service::Dokploy => "The API key was rejected. Check DOKPLOY_API_KEY: generate a key \
                 in Dokploy under Settings > Profile > API/CLI."
                .to_owned(),
        },
        402 => "The organization's plan does not allow this (a plan limit was reached); \
                upgrade the plan or free up resources."
            .to_owned(),
        403 => match service {
            Service::Auth | Service::Storage => "The key is not allowed to do this: use the \
                 service role key (not the anon key), and check row-level security and bucket \
                 policies."
                .to_owned(),
            _ => format!(
                "The credential is valid but not allowed to do this: check the permissions of \
                 {} and whether the plan includes this feature.",
                service.credential_setting()
            ),
        },
        404 => "Nothing was found there: check the project ref and the ids or names passed, \
                and that the configured URL points at the right instance."
            .to_owned(),
        405 => "The service does not offer this call at that address; check the configured \
                URL and the service version."
            .to_owned(),
        408 | 504 => "The service timed out; retry later.".to_owned(),
        409 => "The request conflicts with the current state (it may already exist, or another \
                operation is in progress); check the current state before retrying."
            .to_owned(),
        413 => "The request is too large for the service; send less data at once.".to_owned(),
        429 => match retry_after {
            Some(d) => format!(
                "Rate limited by the service; wait {} s and retry.",
                d.as_secs().max(1)
            ),
            None => "Rate limited by the service; wait a little and retry later.".to_owned(),
        },
        500..=599 => match service {
            Service::Dokploy => "The service had a problem; retry later, and check the Dokploy \
                 server's logs if it persists."
                .to_owned(),
            _ => "The service had a problem; retry later, and check https://status.supabase.com \
                  (or the self-hosted instance's logs) if it persists."
                .to_owned(),
        },
        _ => "Check the message, the arguments and the configuration, then retry.".to_owned(),
    }
}

/// The message of a tool error made from an HTTP status error.
fn status_message(service: Service, status: u16) -> String {
    format!("The {service} request failed with HTTP {status}")
}

/// Whether `e` is the Management API answering 404 (not a check of ours).
pub fn is_management_not_found(e: &ToolError) -> bool {
    e.code == ErrorCode::NotFound && e.message == status_message(Service::Management, 404)
}

impl From<ApiError> for ToolError {
    fn from(err: ApiError) -> Self {
        let code = match (&err, err.status()) {
            (ApiError::Status { .. }, Some(404)) => ErrorCode::NotFound,
            (ApiError::Status { .. }, Some(401 | 403)) => ErrorCode::PermissionDenied,
            (ApiError::Status { .. }, Some(429)) => ErrorCode::RateLimited,
            (ApiError::Status { .. }, Some(408 | 504)) | (ApiError::Timeout { .. }, _) => {
                ErrorCode::Timeout
            }
            (ApiError::Connection { .. }, _) => ErrorCode::ConnectionFailed,
            (ApiError::InvalidRequest { .. }, _) => ErrorCode::InvalidArguments,
            (ApiError::Config { .. }, _) => ErrorCode::NotConfigured,
            (ApiError::Io { .. }, _) => ErrorCode::Io,
            _ => ErrorCode::ApiError,
        };
        let service = err.service();
        let message = match &err {
            ApiError::Status { status, .. } => status_message(service, *status),
            ApiError::Timeout { .. } => format!("The {service} request timed out"),
            ApiError::Connection { .. } => format!("Could not reach the {service}"),
            ApiError::InvalidResponse { .. } => {
                format!("The {service} sent a response that could not be used")
            }
            ApiError::InvalidRequest { .. } => format!("Invalid request for the {service}"),
            ApiError::Config { .. } => format!("The {service} client is not configured correctly"),
            ApiError::Io { .. } => "A local file operation failed".to_owned(),
        };
        ToolError::new(code, message)
            .reason(err.message())
            .suggestion(err.suggestion())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parser_messages_lose_their_quoted_values() {
        assert_eq!(
            without_quoted_values(
                r#"invalid type: string "sb_secret_x", expected u64 at line 1 column 9"#
            ),
            r#"invalid type: string "…", expected u64 at line 1 column 9"#
        );
        assert_eq!(
            without_quoted_values("missing field `with_data` at line 1 column 280"),
            "missing field `with_data` at line 1 column 280"
        );
    }

    #[test]
    fn message_prefers_json_fields() {
        let s = StatusCode::NOT_FOUND;
        assert_eq!(
            body_message(br#"{"message":"Project not found"}"#, s),
            "Project not found"
        );
        assert_eq!(
            body_message(br#"{"msg":"User not found","code":404}"#, s),
            "User not found"
        );
        assert_eq!(
            body_message(
                br#"{"error":"invalid_grant","error_description":"bad token"}"#,
                s
            ),
            "bad token"
        );
        assert_eq!(
            body_message(br#"{"error":{"message":"nested."}}"#, s),
            "nested"
        );
        assert_eq!(body_message(b"", s), "Not Found");
        assert_eq!(body_message(b"  plain\n text ", s), "plain text");
        let long = "x".repeat(1000);
        assert_eq!(
            body_message(long.as_bytes(), s).chars().count(),
            MESSAGE_CHARS + 1
        );
    }

    #[test]
    fn retry_after_parses_seconds_and_dates() {
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, "7".parse().unwrap());
        assert_eq!(parse_retry_after(&h), Some(Duration::from_secs(7)));
        h.insert(
            RETRY_AFTER,
            "Wed, 21 Oct 2015 07:28:00 GMT".parse().unwrap(),
        );
        assert_eq!(parse_retry_after(&h), Some(Duration::ZERO));
        h.insert(RETRY_AFTER, "soon".parse().unwrap());
        assert_eq!(parse_retry_after(&h), None);
    }

    #[test]
    fn status_errors_map_to_tool_codes() {
        let r = Redactor::new();
        let e = |code: u16| {
            ApiError::from_status_body(
                Service::Management,
                StatusCode::from_u16(code).unwrap(),
                &HeaderMap::new(),
                b"{}",
                &r,
            )
        };
        assert_eq!(ToolError::from(e(404)).code, ErrorCode::NotFound);
        assert_eq!(ToolError::from(e(401)).code, ErrorCode::PermissionDenied);
        assert_eq!(ToolError::from(e(403)).code, ErrorCode::PermissionDenied);
        assert_eq!(ToolError::from(e(429)).code, ErrorCode::RateLimited);
        assert_eq!(ToolError::from(e(504)).code, ErrorCode::Timeout);
        assert_eq!(ToolError::from(e(500)).code, ErrorCode::ApiError);
        assert_eq!(ToolError::from(e(200)).code, ErrorCode::ApiError);
        assert!(e(503).is_retryable());
        assert!(!e(500).is_retryable());
    }
}
