//! `auth_audit_log`: the Auth service's own audit trail, newest first and
//! bounded, from `auth.audit_log_entries` when SQL reaches the database,
//! else from the admin API's audit endpoint (filtered page by page).
//! Credential fields of an entry's traits are dropped.

use std::num::NonZeroU64;

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};

use super::common::{
    Via, api_configured, json_rows, not_configured, scrub, sql_configured, time, user_id,
};
use crate::api::generated::auth::types::AuditLogEntry;
use crate::result::{ToolError, ToolOutput};
use crate::server::call::Call;

const DEFAULT_LIMIT: u32 = 50;
const MAX_LIMIT: u32 = 500;
/// Entries read per API page, and the most read while filtering.
const API_PAGE: u32 = 100;
const MAX_API_ENTRIES: usize = 5_000;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AuditArgs {
    /// Only this action, e.g. login, logout, user_signedup, user_deleted, token_refreshed.
    #[serde(default)]
    pub action: Option<String>,
    /// Only entries whose actor or subject is this user.
    #[serde(default)]
    pub user_id: Option<String>,
    /// From this time (date or RFC 3339).
    #[serde(default)]
    pub since: Option<String>,
    /// Before this time.
    #[serde(default)]
    pub until: Option<String>,
    /// Most entries (default 50, max 500).
    #[serde(default)]
    pub limit: Option<u32>,
}

struct Filter {
    action: Option<String>,
    user: Option<String>,
    since: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
    limit: u32,
}

impl Filter {
    fn parse(a: &AuditArgs) -> Result<Filter, ToolError> {
        let action = a
            .action
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_ascii_lowercase);
        if let Some(x) = &action
            && !x.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            return Err(ToolError::invalid(format!("`{x}` is not an action name"))
                .suggestion("Use a name such as login, logout, user_signedup, user_deleted."));
        }
        let user = a
            .user_id
            .as_deref()
            .map(user_id)
            .transpose()?
            .map(|u| u.to_string());
        let since = a.since.as_deref().map(|t| time("since", t)).transpose()?;
        let until = a.until.as_deref().map(|t| time("until", t)).transpose()?;
        if let (Some(s), Some(u)) = (since, until)
            && s >= u
        {
            return Err(ToolError::invalid("`since` is not before `until`")
                .suggestion("Swap the two times."));
        }
        let limit = a.limit.unwrap_or(DEFAULT_LIMIT);
        if limit == 0 || limit > MAX_LIMIT {
            return Err(
                ToolError::invalid(format!("`limit` must be between 1 and {MAX_LIMIT}"))
                    .suggestion("Narrow the window with since/until instead."),
            );
        }
        Ok(Filter {
            action,
            user,
            since,
            until,
            limit,
        })
    }

    fn matches(&self, e: &AuditLogEntry) -> bool {
        let p = e.payload.as_ref();
        let action_ok = self
            .action
            .as_deref()
            .is_none_or(|a| p.and_then(|p| p.action.as_deref()) == Some(a));
        let user_ok = self.user.as_deref().is_none_or(|u| {
            p.is_some_and(|p| {
                p.actor_id.as_deref() == Some(u)
                    || p.traits.get("user_id").and_then(Value::as_str) == Some(u)
            })
        });
        let since_ok = self
            .since
            .is_none_or(|t| e.created_at.is_some_and(|c| c >= t));
        let until_ok = self
            .until
            .is_none_or(|t| e.created_at.is_some_and(|c| c < t));
        action_ok && user_ok && since_ok && until_ok
    }
}

/// One entry as a result shows it.
fn entry(id: Value, created_at: Value, ip: Value, payload: Option<&Value>) -> Value {
    let get = |k: &str| {
        payload
            .and_then(|p| p.get(k))
            .cloned()
            .unwrap_or(Value::Null)
    };
    let mut traits = get("traits");
    scrub(&mut traits);
    json!({
        "id": id,
        "created_at": created_at,
        "ip_address": ip,
        "action": get("action"),
        "actor_id": get("actor_id"),
        "actor_username": get("actor_username"),
        "log_type": get("log_type"),
        "traits": traits,
    })
}

pub async fn auth_audit_log(call: Call, a: AuditArgs) -> Result<ToolOutput, ToolError> {
    let f = Filter::parse(&a)?;
    if sql_configured(&call) {
        from_sql(&call, &f).await
    } else if api_configured(&call) {
        from_api(&call, &f).await
    } else {
        Err(not_configured(&call))
    }
}

async fn from_sql(call: &Call, f: &Filter) -> Result<ToolOutput, ToolError> {
    let db = call.sql().await?;
    let since = f.since.map(|t| t.to_rfc3339());
    let until = f.until.map(|t| t.to_rfc3339());
    let limit = i64::from(f.limit) + 1;
    let rows = json_rows(
        &db,
        "SELECT json_build_object('id', e.id, 'created_at', e.created_at, 'ip_address', e.ip_address, \
           'payload', e.payload)::text AS j \
         FROM auth.audit_log_entries e \
         WHERE ($1::text IS NULL OR e.payload->>'action' = $1::text) \
           AND ($2::text IS NULL OR e.payload->>'actor_id' = $2::text \
                OR e.payload->'traits'->>'user_id' = $2::text) \
           AND ($3::text IS NULL OR e.created_at >= $3::text::timestamptz) \
           AND ($4::text IS NULL OR e.created_at < $4::text::timestamptz) \
         ORDER BY e.created_at DESC NULLS LAST, e.id LIMIT $5::int8",
        &[&f.action, &f.user, &since, &until, &limit],
        false,
    )
    .await?;
    let more = rows.len() > f.limit as usize;
    let entries: Vec<Value> = rows
        .iter()
        .take(f.limit as usize)
        .map(|r| {
            let g = |k: &str| r.get(k).cloned().unwrap_or(Value::Null);
            entry(g("id"), g("created_at"), g("ip_address"), r.get("payload"))
        })
        .collect();
    Ok(result(Via::Sql, entries, more))
}

async fn from_api(call: &Call, f: &Filter) -> Result<ToolOutput, ToolError> {
    let api = call.state.clients.auth(&call.instance)?;
    let mut found: Vec<AuditLogEntry> = Vec::new();
    let mut read = 0usize;
    let mut page = 1u64;
    let more;
    loop {
        let batch = api
            .idempotent(|c| {
                c.admin_list_audit_log(NonZeroU64::new(page), NonZeroU64::new(u64::from(API_PAGE)))
            })
            .await
            .map_err(ToolError::from)?;
        let n = batch.len();
        read += n;
        found.extend(batch.into_iter().filter(|e| f.matches(e)));
        if found.len() > f.limit as usize {
            more = true;
            break;
        }
        if n < API_PAGE as usize || read >= MAX_API_ENTRIES {
            more = n == API_PAGE as usize;
            break;
        }
        page += 1;
    }
    found.sort_by_key(|e| std::cmp::Reverse(e.created_at));
    let entries: Vec<Value> = found
        .iter()
        .take(f.limit as usize)
        .map(|e| {
            let payload = e
                .payload
                .as_ref()
                .and_then(|p| serde_json::to_value(p).ok());
            entry(
                json!(e.id),
                json!(e.created_at),
                json!(e.ip_address),
                payload.as_ref(),
            )
        })
        .collect();
    let mut out = result(Via::Api, entries, more);
    if read >= MAX_API_ENTRIES && !more {
        out = out.warn(format!(
            "only the newest {MAX_API_ENTRIES} entries were searched; with a database URL the filter runs in SQL over the whole log"
        ));
    }
    Ok(out)
}

fn result(via: Via, entries: Vec<Value>, more: bool) -> ToolOutput {
    ToolOutput::untrusted(json!({
        "via": via.as_str(),
        "count": entries.len(),
        "has_more": more,
        "entries": entries,
    }))
}
