//! SQL over the Supabase REST API (PostgREST) for instances that have a
//! Supabase URL and service role key but no database URL: [`RpcClient`]
//! calls `POST <supabase_url>/rest/v1/rpc/execute_sql` with
//! `{"query": ..., "read_only": ...}` and gets the rows back as JSON.
//!
//! The helper function does not exist on a fresh instance;
//! [`EXECUTE_SQL_FUNCTION`] is the SQL that creates it (run by the
//! `provision_execute_sql` tool over a direct connection, or by the user in
//! the SQL editor).

use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderValue};
use serde_json::{Value, json};

use crate::config::Instance;
use crate::result::{ErrorCode, ToolError};
use crate::secret::{Redactor, Secret};

/// The SQL that creates `public.execute_sql(query text, read_only boolean
/// default true) returns jsonb`: security definer with an empty
/// `search_path`, read-only transaction unless `read_only => false`, rows
/// returned as a JSON array (statements without rows give
/// `[{"rows_affected": n}]`). Only `service_role` may execute it; PostgREST
/// is told to reload its schema cache.
pub const EXECUTE_SQL_FUNCTION: &str = r#"-- supabase-mcp: run SQL through the REST API (service role only).
create or replace function public.execute_sql(query text, read_only boolean default true)
returns jsonb
language plpgsql
security definer
set search_path = ''
as $function$
declare
  body text := pg_catalog.regexp_replace(query, '[[:space:];]+$', '');
  result jsonb;
  plan json;
  affected bigint;
begin
  if read_only then
    set transaction read only;
  end if;
  -- Unqualified names in the caller's query resolve as in the SQL editor.
  perform pg_catalog.set_config('search_path', 'public, extensions', true);
  begin
    execute 'with t as (' || body || ') select coalesce(pg_catalog.jsonb_agg(pg_catalog.to_jsonb(t)), ''[]''::jsonb) from t'
      into result;
  exception when syntax_error or feature_not_supported then
    if body ~* '^[[:space:]]*explain[[:space:]]*[(].*format[[:space:]]+json' then
      -- EXPLAIN (FORMAT JSON ...) returns one json row.
      execute body into plan;
      return pg_catalog.jsonb_build_array(pg_catalog.jsonb_build_object('QUERY PLAN', plan));
    end if;
    -- Not a row-returning statement (DDL, INSERT without RETURNING, ...).
    execute body;
    get diagnostics affected = row_count;
    result := pg_catalog.jsonb_build_array(pg_catalog.jsonb_build_object('rows_affected', affected));
  end;
  return result;
end;
$function$;

revoke all on function public.execute_sql(text, boolean) from public, anon, authenticated;
grant execute on function public.execute_sql(text, boolean) to service_role;
comment on function public.execute_sql(text, boolean) is
  'supabase-mcp: runs SQL for the service role over the REST API; read-only unless read_only => false';
notify pgrst, 'reload schema';
"#;

/// A failed RPC call. Messages never contain the service role key.
#[derive(Debug, Clone, thiserror::Error, PartialEq)]
pub enum RpcError {
    #[error(
        "the Supabase URL `{0}` is not a valid http(s) URL; use e.g. http://localhost:8000 or https://<ref>.supabase.co"
    )]
    InvalidUrl(String),
    #[error(
        "the service role key cannot be sent as an HTTP header (it contains invalid characters); copy it again from the .env / dashboard"
    )]
    InvalidKey,
    #[error("cannot reach {url}: {message}")]
    Transport { url: String, message: String },
    #[error("the request to {url} timed out after {secs}s")]
    Timeout { url: String, secs: u64 },
    #[error(
        "the function public.execute_sql does not exist on this instance (HTTP 404): {message}"
    )]
    NotProvisioned { message: String },
    #[error("the service role key was rejected (HTTP {status}): {message}")]
    Unauthorized { status: u16, message: String },
    #[error("the query failed (HTTP {status}): {message}")]
    Query {
        status: u16,
        /// SQLSTATE or PostgREST error code.
        code: Option<String>,
        message: String,
        hint: Option<String>,
    },
    #[error("the result is larger than {max_mib} MiB")]
    TooLarge { max_mib: usize },
    #[error("unexpected answer from {url} (HTTP {status}): {message}")]
    Unexpected {
        url: String,
        status: u16,
        message: String,
    },
}

impl RpcError {
    /// The tool error for this failure, with what to do next.
    pub fn to_tool_error(&self) -> ToolError {
        let (code, message, suggestion) = match self {
            RpcError::InvalidUrl(_) | RpcError::InvalidKey => (
                ErrorCode::NotConfigured,
                "the REST API settings are not usable",
                "Fix --supabase-url / --service-role-key (self-hosted: SUPABASE_PUBLIC_URL and SERVICE_ROLE_KEY from the .env).",
            ),
            RpcError::Transport { .. } | RpcError::Timeout { .. } => (
                ErrorCode::ConnectionFailed,
                "cannot reach the Supabase REST API",
                "Check that the gateway (Kong) runs and --supabase-url is right (self-hosted default http://localhost:8000); run test_connection for details.",
            ),
            RpcError::NotProvisioned { .. } => (
                ErrorCode::NotConfigured,
                "SQL over the REST API needs the helper function public.execute_sql",
                "Run the provision_execute_sql tool (it creates the function, or gives the SQL to paste into the SQL editor), then retry.",
            ),
            RpcError::Unauthorized { .. } => (
                ErrorCode::PermissionDenied,
                "the REST API refused the service role key",
                "Use the service_role key (not the anon key) of this instance; it must be signed with the instance's JWT_SECRET.",
            ),
            RpcError::Query { .. } => (
                ErrorCode::QueryFailed,
                "the query failed",
                "Check the SQL; in read-only calls, writes fail with `cannot execute ... in a read-only transaction`.",
            ),
            RpcError::TooLarge { .. } => (
                ErrorCode::QueryFailed,
                "the result is too large to read over the REST API",
                "Select fewer rows or columns (add LIMIT), raise --max-remote-result-mb, or configure a database URL (--db-url) so results stream and spill to a file.",
            ),
            RpcError::Unexpected { .. } => (
                ErrorCode::ApiError,
                "the REST API gave an unexpected answer",
                "Check that --supabase-url points at the Supabase gateway (it serves /rest/v1/).",
            ),
        };
        ToolError::new(code, message)
            .reason(self.to_string())
            .suggestion(suggestion)
    }
}

/// Calls `public.execute_sql` through PostgREST with the service role key.
#[derive(Clone)]
pub struct RpcClient {
    http: reqwest::Client,
    base: String,
    redactor: Redactor,
    timeout: Duration,
}

impl std::fmt::Debug for RpcClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RpcClient")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

impl RpcClient {
    /// A client for `supabase_url` (e.g. `http://localhost:8000`). The key is
    /// added to `redactor` so it is scrubbed from every message.
    pub fn new(
        supabase_url: &str,
        service_role_key: &Secret,
        redactor: Redactor,
        timeout: Duration,
    ) -> Result<RpcClient, RpcError> {
        let base = supabase_url.trim().trim_end_matches('/').to_owned();
        match url::Url::parse(&base) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => {}
            _ => return Err(RpcError::InvalidUrl(base)),
        }
        redactor.add(service_role_key);
        let key = service_role_key.expose();
        let mut apikey = HeaderValue::from_str(key).map_err(|_| RpcError::InvalidKey)?;
        apikey.set_sensitive(true);
        let mut bearer =
            HeaderValue::from_str(&format!("Bearer {key}")).map_err(|_| RpcError::InvalidKey)?;
        bearer.set_sensitive(true);
        let mut headers = HeaderMap::new();
        headers.insert("apikey", apikey);
        headers.insert(AUTHORIZATION, bearer);
        let http = reqwest::Client::builder()
            .default_headers(headers)
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .build()
            .map_err(|e| RpcError::Transport {
                url: base.clone(),
                message: redactor.scrub(&e.to_string()),
            })?;
        Ok(RpcClient {
            http,
            base,
            redactor,
            timeout,
        })
    }

    /// The client of `inst`, when it has a Supabase URL and a service role key.
    pub fn for_instance(
        inst: &Instance,
        redactor: Redactor,
        timeout: Duration,
    ) -> Result<RpcClient, ToolError> {
        match (&inst.supabase_url, &inst.service_role_key) {
            (Some(url), Some(key)) => {
                RpcClient::new(url, key, redactor, timeout).map_err(|e| e.to_tool_error())
            }
            _ => Err(ToolError::new(
                ErrorCode::NotConfigured,
                format!(
                    "instance `{}` has neither a database URL nor a Supabase URL with a service role key",
                    inst.name
                ),
            )
            .suggestion(
                "Pass --db-url postgres://..., or --supabase-url with --service-role-key (then run provision_execute_sql once).",
            )),
        }
    }

    /// `<supabase_url>/rest/v1/rpc/execute_sql`.
    pub fn endpoint(&self) -> String {
        format!("{}/rest/v1/rpc/execute_sql", self.base)
    }

    /// The Supabase URL this client talks to.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// `GET <supabase_url>/rest/v1/` with the key: the HTTP status (200 when
    /// PostgREST is reachable and accepts the key).
    pub async fn rest_root(&self) -> Result<u16, RpcError> {
        let url = format!("{}/rest/v1/", self.base);
        let resp = self
            .http
            .get(&url)
            .timeout(self.timeout)
            .send()
            .await
            .map_err(|e| self.transport(&url, &e))?;
        Ok(resp.status().as_u16())
    }

    /// Runs `query` (read-only unless `read_only` is false) and returns its
    /// rows. A result body larger than `max_bytes` is an error, never read whole.
    pub async fn execute_sql(
        &self,
        query: &str,
        read_only: bool,
        max_bytes: usize,
    ) -> Result<Vec<Value>, RpcError> {
        let url = self.endpoint();
        let mut resp = self
            .http
            .post(&url)
            .header(CONTENT_TYPE, "application/json")
            .timeout(self.timeout)
            .json(&json!({"query": query, "read_only": read_only}))
            .send()
            .await
            .map_err(|e| self.transport(&url, &e))?;
        let status = resp.status();
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(|e| self.transport(&url, &e))? {
            if body.len() + chunk.len() > max_bytes {
                return Err(RpcError::TooLarge {
                    max_mib: max_bytes / (1024 * 1024),
                });
            }
            body.extend_from_slice(&chunk);
        }
        if status.is_success() {
            return match serde_json::from_slice::<Value>(&body) {
                Ok(Value::Array(rows)) => Ok(rows),
                Ok(other) => Err(RpcError::Unexpected {
                    url,
                    status: status.as_u16(),
                    message: format!("expected a JSON array of rows, got {}", kind_of(&other)),
                }),
                Err(e) => Err(RpcError::Unexpected {
                    url,
                    status: status.as_u16(),
                    message: format!("the body is not JSON ({e})"),
                }),
            };
        }
        Err(self.error_from(&url, status, &String::from_utf8_lossy(&body)))
    }

    fn transport(&self, url: &str, e: &reqwest::Error) -> RpcError {
        if e.is_timeout() {
            return RpcError::Timeout {
                url: url.to_owned(),
                secs: self.timeout.as_secs(),
            };
        }
        let mut message = e.to_string();
        let mut src = std::error::Error::source(e);
        while let Some(inner) = src {
            message.push_str(": ");
            message.push_str(&inner.to_string());
            src = inner.source();
        }
        RpcError::Transport {
            url: url.to_owned(),
            message: self.redactor.scrub(&message),
        }
    }

    fn error_from(&self, url: &str, status: StatusCode, body: &str) -> RpcError {
        let parsed: Option<Value> = serde_json::from_str(body).ok();
        let field = |k: &str| {
            parsed
                .as_ref()
                .and_then(|v| v.get(k))
                .and_then(Value::as_str)
                .map(|s| self.redactor.scrub(s))
        };
        let code = field("code");
        let message = field("message")
            .or_else(|| field("msg"))
            .or_else(|| field("error"))
            .unwrap_or_else(|| {
                let mut b: String = body.chars().take(300).collect();
                if b.trim().is_empty() {
                    b = status.canonical_reason().unwrap_or("no message").to_owned();
                }
                self.redactor.scrub(&b)
            });
        let s = status.as_u16();
        match (s, code.as_deref()) {
            (404, Some("PGRST202")) => RpcError::NotProvisioned { message },
            (401 | 403, _) => RpcError::Unauthorized { status: s, message },
            (400..=599, Some(_)) => RpcError::Query {
                status: s,
                code,
                message,
                hint: field("hint"),
            },
            _ => RpcError::Unexpected {
                url: url.to_owned(),
                status: s,
                message,
            },
        }
    }
}

/// `a string`, `an object`...: what a JSON value is, for messages.
pub(crate) fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The `role` claim of a Supabase API key (a JWT), read without verifying
/// the signature: enough to tell an anon key from a service role key.
pub fn jwt_role(key: &str) -> Option<String> {
    let payload = key.split('.').nth(1)?;
    let bytes = base64url_decode(payload)?;
    let v: Value = serde_json::from_slice(&bytes).ok()?;
    v.get("role").and_then(Value::as_str).map(str::to_owned)
}

fn base64url_decode(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let mut buf = 0u32;
    let mut bits = 0u32;
    for c in s.bytes().filter(|&c| c != b'=') {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' | b'+' => 62,
            b'_' | b'/' => 63,
            _ => return None,
        } as u32;
        buf = (buf << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((buf >> bits) as u8);
            buf &= (1 << bits) - 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_role_claim() {
        // {"alg":"HS256","typ":"JWT"} . {"role":"service_role","iss":"supabase"} . sig
        let key = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJyb2xlIjoic2VydmljZV9yb2xlIiwiaXNzIjoic3VwYWJhc2UifQ.c2ln";
        assert_eq!(jwt_role(key).as_deref(), Some("service_role"));
        assert_eq!(jwt_role("sb_secret_abc"), None);
        assert_eq!(jwt_role("a.!!!.c"), None);
    }

    #[test]
    fn rejects_bad_urls_and_keys() {
        let r = Redactor::new();
        let t = Duration::from_secs(5);
        assert_eq!(
            RpcClient::new("localhost:8000", &Secret::new("k"), r.clone(), t).unwrap_err(),
            RpcError::InvalidUrl("localhost:8000".into())
        );
        assert_eq!(
            RpcClient::new("http://h", &Secret::new("bad\nkey"), r, t).unwrap_err(),
            RpcError::InvalidKey
        );
    }

    #[test]
    fn the_function_sql_has_the_safety_rails() {
        let sql = EXECUTE_SQL_FUNCTION;
        assert!(sql.contains("security definer"));
        assert!(sql.contains("set search_path = ''"));
        assert!(sql.contains("set transaction read only"));
        assert!(sql.contains("from public, anon, authenticated"));
        assert!(sql.contains("to service_role"));
    }
}
