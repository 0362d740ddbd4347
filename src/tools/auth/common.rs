//! What the `auth` tools share: choosing the path (the Auth admin API, or
//! SQL on the `auth` schema), running SQL whose rows are JSON objects on any
//! backend, argument checks (user ids, emails, times, page sizes) and the
//! scrubbing of fields that must never leave the server.

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{Map, Value};
use tokio_postgres::types::ToSql;

use crate::api::{ApiError, AuthApi};
use crate::db::backend::{Backend, Param, inline_params};
use crate::result::{ErrorCode, ToolError};
use crate::server::call::Call;
use crate::sql::run::pg_error;

/// The instance id GoTrue writes on every row of a single-tenant project.
pub const INSTANCE_ID: &str = "00000000-0000-0000-0000-000000000000";
/// Default page size of the list tools.
pub const DEFAULT_PER_PAGE: u32 = 50;
/// Largest page size the list tools accept.
pub const MAX_PER_PAGE: u32 = 1000;
/// Most users read through the API when a filter needs every page.
pub const MAX_SCAN_USERS: usize = 10_000;

/// Which path a result came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    Api,
    Sql,
}

impl Via {
    pub fn as_str(self) -> &'static str {
        match self {
            Via::Api => "api",
            Via::Sql => "sql",
        }
    }
}

/// How one call reaches the Auth data.
pub enum AuthPath {
    Api(AuthApi),
    Sql(Backend),
}

/// True when a Supabase URL and a service role key are configured.
pub fn api_configured(call: &Call) -> bool {
    call.instance.supabase_url.is_some() && call.instance.service_role_key.is_some()
}

/// True when SQL can reach the database without the Auth gateway: a
/// database or pooler URL, or a cloud project with an access token.
pub fn sql_configured(call: &Call) -> bool {
    let i = &call.instance;
    i.db_url.is_some()
        || i.pooler_url.is_some()
        || (i.access_token.is_some() && i.project_ref.is_some())
}

/// The API when it is configured, else SQL on the `auth` schema.
pub async fn choose(call: &Call) -> Result<AuthPath, ToolError> {
    if api_configured(call) {
        return Ok(AuthPath::Api(call.state.clients.auth(&call.instance)?));
    }
    if sql_configured(call) {
        return Ok(AuthPath::Sql(call.sql().await?));
    }
    Err(not_configured(call))
}

/// Neither the Auth API nor a database is configured.
pub fn not_configured(call: &Call) -> ToolError {
    ToolError::new(
        ErrorCode::NotConfigured,
        format!(
            "instance `{}` has neither the Auth API nor a database connection",
            call.instance.name
        ),
    )
    .suggestion(
        "Pass --supabase-url and --service-role-key (the Auth admin API), or --db-url (SQL on the auth schema).",
    )
}

/// The SQL path to fall back on when the API could not be reached at all;
/// the API's error otherwise.
pub async fn fallback(call: &Call, err: ApiError) -> Result<Backend, ToolError> {
    if matches!(err, ApiError::Connection { .. }) && sql_configured(call) {
        tracing::info!("Auth API unreachable; using SQL on the auth schema");
        return call.sql().await;
    }
    Err(ToolError::from(err))
}

/// The warning a result carries when it fell back to SQL.
pub const FALLBACK_WARNING: &str =
    "the Auth API could not be reached; the auth schema was read or written with SQL instead";

/// Runs `sql`, whose rows have one text column `j` holding a JSON object,
/// on any backend; `write` lets it change data.
pub async fn json_rows(
    db: &Backend,
    sql: &str,
    params: &[&dyn Param],
    write: bool,
) -> Result<Vec<Value>, ToolError> {
    let texts: Vec<String> = match db {
        Backend::Direct(conn) => {
            let bound: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p.as_sql()).collect();
            let rows = conn.query(sql, &bound).await.map_err(|e| sql_error(&e))?;
            rows.iter()
                .map(|r| r.try_get::<_, String>("j"))
                .collect::<Result<_, _>>()
                .map_err(|e| ToolError::internal(format!("unexpected row: {e}")))?
        }
        Backend::Pooled(conn) if write => {
            let literals: Vec<String> = params.iter().map(|p| p.literal()).collect();
            let sql = inline_params(sql, &literals)?;
            let messages = conn.simple_query(&sql).await.map_err(|e| sql_error(&e))?;
            messages
                .iter()
                .filter_map(|m| match m {
                    tokio_postgres::SimpleQueryMessage::Row(r) => r.get("j").map(str::to_owned),
                    _ => None,
                })
                .collect()
        }
        Backend::Pooled(_) => {
            let rows = db.query(sql, params).await?;
            rows.iter()
                .map(|r| r.get::<String>("j"))
                .collect::<Result<_, _>>()?
        }
        _ => {
            let literals: Vec<String> = params.iter().map(|p| p.literal()).collect();
            let sql = inline_params(sql, &literals)?;
            let rows = db.remote_rows(&sql, !write).await?;
            rows.into_iter()
                .map(|r| match r.get("j") {
                    Some(Value::String(s)) => Ok(s.clone()),
                    Some(v @ Value::Object(_)) => Ok(v.to_string()),
                    _ => Err(ToolError::new(
                        ErrorCode::ApiError,
                        "the SQL result has no `j` column",
                    )),
                })
                .collect::<Result<_, _>>()?
        }
    };
    texts
        .iter()
        .map(|t| {
            serde_json::from_str(t).map_err(|_| ToolError::internal("a row is not valid JSON"))
        })
        .collect()
}

/// A database error of an auth statement, with the next step for the
/// usual causes.
fn sql_error(e: &tokio_postgres::Error) -> ToolError {
    let mut err = pg_error(e);
    if let Some(db) = e.as_db_error() {
        match db.code().code() {
            "23505" => {
                err.message =
                    "a user with this email address or phone number already exists".into();
                err = err.suggestion(
                    "Use get_auth_user to find the existing user, or pick another address.",
                );
            }
            "42P01" | "3F000" => {
                err = err.suggestion(
                    "The auth schema is missing or incomplete: this database is not a Supabase database (or Auth never started on it).",
                );
            }
            "42883" => {
                err = err.suggestion(
                    "pgcrypto is not installed: run CREATE EXTENSION pgcrypto WITH SCHEMA extensions; (Supabase ships it).",
                );
            }
            "42501" => {
                err = err.suggestion(
                    "Connect as postgres or supabase_auth_admin: the auth schema belongs to supabase_auth_admin.",
                );
            }
            _ => {}
        }
    }
    err
}

/// A checked user id (a UUID).
pub fn user_id(raw: &str) -> Result<uuid::Uuid, ToolError> {
    parse_uuid("user_id", raw, "list_auth_users shows each user's id.")
}

/// A checked UUID argument.
pub fn parse_uuid(what: &str, raw: &str, hint: &str) -> Result<uuid::Uuid, ToolError> {
    raw.trim().parse::<uuid::Uuid>().map_err(|_| {
        ToolError::invalid(format!("`{what}` is not a UUID"))
            .reason(format!("`{}` cannot be read as one", short(raw)))
            .suggestion(hint.to_owned())
    })
}

/// At most 60 characters of a value, for messages.
fn short(raw: &str) -> String {
    let s: String = raw.chars().take(60).collect();
    if s.len() < raw.len() {
        format!("{s}…")
    } else {
        s
    }
}

/// A checked email address (lowercased, as GoTrue stores it).
pub fn email(raw: &str) -> Result<String, ToolError> {
    let e = raw.trim().to_lowercase();
    let valid = e.len() <= 255
        && !e.chars().any(|c| c.is_whitespace() || c.is_control())
        && e.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && !domain.is_empty() && !domain.contains('@')
        });
    if !valid {
        return Err(
            ToolError::invalid(format!("`{}` is not an email address", short(raw)))
                .suggestion("Pass an address such as ada@example.com."),
        );
    }
    Ok(e)
}

/// A checked phone number in E.164 form (`+` optional, digits only).
pub fn phone(raw: &str) -> Result<String, ToolError> {
    let p: String = raw
        .trim()
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '(' | ')'))
        .collect();
    let digits = p.strip_prefix('+').unwrap_or(&p);
    if digits.len() < 6 || digits.len() > 15 || !digits.chars().all(|c| c.is_ascii_digit()) {
        return Err(
            ToolError::invalid(format!("`{}` is not a phone number", short(raw)))
                .suggestion("Pass an E.164 number such as +14155550123."),
        );
    }
    Ok(digits.to_owned())
}

/// A point in time: RFC 3339 or a date (midnight UTC).
pub fn time(what: &str, raw: &str) -> Result<DateTime<Utc>, ToolError> {
    let raw = raw.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(raw) {
        return Ok(t.with_timezone(&Utc));
    }
    if let Ok(d) = NaiveDate::parse_from_str(raw, "%Y-%m-%d")
        && let Some(t) = d.and_hms_opt(0, 0, 0)
    {
        return Ok(t.and_utc());
    }
    Err(ToolError::invalid(format!("`{what}` is not a time"))
        .reason(format!("`{}` is neither RFC 3339 nor a date", short(raw)))
        .suggestion("Pass 2024-05-01 or 2024-05-01T10:00:00Z."))
}

/// Checked page number (from 1) and page size.
pub fn paging(page: Option<u32>, per_page: Option<u32>) -> Result<(u32, u32), ToolError> {
    let page = page.unwrap_or(1);
    let per_page = per_page.unwrap_or(DEFAULT_PER_PAGE);
    if page == 0 {
        return Err(
            ToolError::invalid("`page` starts at 1").suggestion("Pass page: 1 for the first page.")
        );
    }
    if per_page == 0 || per_page > MAX_PER_PAGE {
        return Err(
            ToolError::invalid(format!("`per_page` must be between 1 and {MAX_PER_PAGE}"))
                .suggestion("Use a smaller page and ask for the next one with page."),
        );
    }
    Ok((page, per_page))
}

/// Key names whose values are credentials: they are dropped from every
/// object a result shows (metadata, identity data, audit traits).
pub fn is_secret_key(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    k.contains("password")
        || k.contains("token")
        || k.contains("secret")
        || k.contains("recovery_code")
        || k == "otp"
        || k.ends_with("_otp")
        || k.ends_with("hash")
}

/// Removes credential fields at every depth of `v`.
pub fn scrub(v: &mut Value) {
    match v {
        Value::Object(m) => {
            m.retain(|k, _| !is_secret_key(k));
            m.values_mut().for_each(scrub);
        }
        Value::Array(a) => a.iter_mut().for_each(scrub),
        _ => {}
    }
}

/// A JSON object argument (metadata); `null` means none.
pub fn object_arg(what: &str, v: Option<Value>) -> Result<Option<Map<String, Value>>, ToolError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(m)) => Ok(Some(m)),
        Some(_) => Err(
            ToolError::invalid(format!("`{what}` must be a JSON object")).suggestion(format!(
                "Pass {what} as an object, e.g. {{\"plan\": \"pro\"}}."
            )),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_are_checked() {
        assert!(user_id("6a1f7a3e-8f1e-4a8b-9d3c-0b5e2f4a1c77").is_ok());
        assert!(user_id("nope").is_err());
        assert_eq!(email(" Ada@Example.com ").unwrap(), "ada@example.com");
        assert!(email("ada").is_err());
        assert!(email("a@b@c").is_err());
        assert_eq!(phone("+1 415-555-0123").unwrap(), "14155550123");
        assert!(phone("12ab").is_err());
        assert!(time("t", "2024-05-01").is_ok());
        assert!(time("t", "2024-05-01T10:00:00Z").is_ok());
        assert!(time("t", "yesterday").is_err());
        assert_eq!(paging(None, None).unwrap(), (1, DEFAULT_PER_PAGE));
        assert!(paging(Some(0), None).is_err());
        assert!(paging(None, Some(MAX_PER_PAGE + 1)).is_err());
    }

    #[test]
    fn scrub_removes_credentials_everywhere() {
        let mut v = serde_json::json!({"name": "a", "provider_token": "x",
            "nested": [{"password": "p", "ok": 1, "hashed_token": "h"}], "encrypted_password": "e"});
        scrub(&mut v);
        assert_eq!(v, serde_json::json!({"name": "a", "nested": [{"ok": 1}]}));
    }
}
