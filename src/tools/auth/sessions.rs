//! `list_sessions` and `revoke_sessions`: the Auth admin API lists no
//! sessions, so both read and change `auth.sessions` through the
//! instance's SQL path. Revoking deletes the sessions (their refresh tokens
//! go with them) and the user's refresh tokens that belong to no session;
//! refresh token values are never read.

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};

use super::common::{Via, json_rows, parse_uuid, user_id};
use crate::result::{ToolError, ToolOutput};
use crate::server::call::Call;

/// Default and largest number of sessions listed.
const DEFAULT_LIMIT: u32 = 50;
const MAX_LIMIT: u32 = 500;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListArgs {
    /// Only this user's sessions (default: every user's).
    #[serde(default)]
    pub user_id: Option<String>,
    /// Most sessions returned, most recently used first (default 50, max 500).
    #[serde(default)]
    pub limit: Option<u32>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RevokeArgs {
    pub user_id: String,
    /// Only this session (default: every session of the user).
    #[serde(default)]
    pub session_id: Option<String>,
}

pub async fn list_sessions(call: Call, a: ListArgs) -> Result<ToolOutput, ToolError> {
    let user = a.user_id.as_deref().map(user_id).transpose()?;
    let limit = a.limit.unwrap_or(DEFAULT_LIMIT);
    if limit == 0 || limit > MAX_LIMIT {
        return Err(
            ToolError::invalid(format!("`limit` must be between 1 and {MAX_LIMIT}"))
                .suggestion("Narrow the list with user_id instead."),
        );
    }
    let db = call.sql().await?;
    let uid = user.map(|u| u.to_string());
    let limit = i64::from(limit);
    let rows = json_rows(
        &db,
        "SELECT json_build_object('id', s.id, 'user_id', s.user_id, 'email', u.email, \
           'created_at', s.created_at, 'updated_at', s.updated_at, 'refreshed_at', s.refreshed_at, \
           'not_after', s.not_after, 'aal', s.aal, 'factor_id', s.factor_id, \
           'user_agent', s.user_agent, 'ip', host(s.ip), \
           'active_refresh_tokens', (SELECT count(*) FROM auth.refresh_tokens r \
                                     WHERE r.session_id = s.id AND NOT coalesce(r.revoked, false)), \
           '_total', count(*) OVER ())::text AS j \
         FROM auth.sessions s LEFT JOIN auth.users u ON u.id = s.user_id \
         WHERE ($1::text IS NULL OR s.user_id = $1::text::uuid) \
         ORDER BY coalesce(s.refreshed_at AT TIME ZONE 'UTC', s.updated_at, s.created_at) DESC NULLS LAST, s.id \
         LIMIT $2::int8",
        &[&uid, &limit],
        false,
    )
    .await?;
    let mut total = 0;
    let sessions: Vec<Value> = rows
        .into_iter()
        .map(|mut r| {
            if let Some(m) = r.as_object_mut() {
                total = m.remove("_total").and_then(|v| v.as_i64()).unwrap_or(0);
            }
            r
        })
        .collect();
    let mut out = ToolOutput::untrusted(json!({
        "via": Via::Sql.as_str(),
        "user_id": uid,
        "count": sessions.len(),
        "total": total,
        "sessions": sessions,
    }));
    if total > sessions.len() as i64 {
        out = out.warn(format!(
            "{} of {total} sessions shown; pass user_id or a larger limit",
            sessions.len()
        ));
    }
    Ok(out)
}

pub async fn revoke_sessions(call: Call, a: RevokeArgs) -> Result<ToolOutput, ToolError> {
    let user = user_id(&a.user_id)?;
    let session = a
        .session_id
        .as_deref()
        .map(|s| parse_uuid("session_id", s, "list_sessions shows the session ids."))
        .transpose()?;
    let db = call.sql().await?;
    let uid = user.to_string();
    let sid = session.map(|s| s.to_string());
    let rows = json_rows(
        &db,
        "WITH s AS (DELETE FROM auth.sessions WHERE user_id = $1::text::uuid \
                      AND ($2::text IS NULL OR id = $2::text::uuid) RETURNING id), \
              r AS (DELETE FROM auth.refresh_tokens WHERE user_id = $1::text AND session_id IS NULL \
                      AND $2::text IS NULL RETURNING id) \
         SELECT json_build_object('sessions', (SELECT count(*) FROM s), \
                                  'tokens', (SELECT count(*) FROM r))::text AS j",
        &[&uid, &sid],
        true,
    )
    .await?;
    let counts = rows.into_iter().next().unwrap_or(Value::Null);
    let sessions = counts.get("sessions").and_then(Value::as_i64).unwrap_or(0);
    let tokens = counts.get("tokens").and_then(Value::as_i64).unwrap_or(0);
    let mut out = ToolOutput::trusted(json!({
        "via": Via::Sql.as_str(),
        "user_id": uid,
        "session_id": sid,
        "sessions_revoked": sessions,
        "loose_refresh_tokens_revoked": tokens,
        "note": "Revoked sessions cannot be refreshed; access tokens already issued stay valid until they expire (JWT expiry, one hour by default).",
    }));
    if sessions == 0 && tokens == 0 {
        out = out.warn(match &sid {
            Some(s) => format!("user {uid} has no session {s}; list_sessions shows its sessions"),
            None => format!("user {uid} had no sessions"),
        });
    }
    Ok(out)
}
