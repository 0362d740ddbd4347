//! Tools of the `database` group that watch a running database: activity
//! statistics, connections, an overall health check, and index advice.
//!
//! All of them only read the statistics views (`pg_stat_*`, `pg_locks`,
//! `pg_replication_slots`...). Recommendations are text: nothing here runs
//! DDL. Query texts of other sessions are truncated to 200 characters and
//! string literals are masked when the query looks like it carries a secret;
//! this server's own backend is never reported.

use std::time::Instant;

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};

use super::introspect::{
    DefaultSchemas, MAX_LIMIT, check_schemas, col, fetch_page, page, plural, put, schema_filter,
};
use super::{Kind, ToolDef, tool};
use crate::db::backend::{Backend, SqlRow};
use crate::groups::Group;
use crate::result::{ErrorCode, ToolError, ToolOutput};
use crate::server::call::Call;

pub fn tools() -> Vec<ToolDef> {
    vec![
        tool("database_stats", Group::Database, Kind::Read)
            .title("Database stats")
            .description("Size, cache hit ratios, deadlocks, temp files, dead rows, longest queries.")
            .handler(database_stats),
        tool("monitor_connections", Group::Database, Kind::Read)
            .title("Monitor connections")
            .description("Connections vs max_connections by role, application, client, state.")
            .handler(monitor_connections),
        tool("health_check", Group::Database, Kind::Read)
            .title("Health check")
            .description("Latency, replication lag, blocked locks, old transactions, wraparound.")
            .handler(health_check),
        tool("index_advice", Group::Database, Kind::Read)
            .title("Index advice")
            .description("Unused/duplicate indexes, unindexed foreign keys, seq-scanned tables, top queries.")
            .handler(index_advice),
    ]
}

/// Longest query text returned for another session.
const QUERY_CHARS: i32 = 200;

/// A query text for output: masked when it may carry a secret.
fn query_text(row: &SqlRow, column: &str) -> Result<Option<String>, ToolError> {
    Ok(col::<Option<String>>(row, column)?.map(|q| mask_literals(&q)))
}

/// Replaces the contents of string literals with `***` when the statement
/// mentions a password, secret, token or key.
pub(crate) fn mask_literals(query: &str) -> String {
    let lower = query.to_ascii_lowercase();
    if !["password", "secret", "token", "key"]
        .iter()
        .any(|w| lower.contains(w))
    {
        return query.to_owned();
    }
    let mut out = String::with_capacity(query.len());
    let mut in_literal = false;
    for ch in query.chars() {
        if ch == '\'' {
            in_literal = !in_literal;
            out.push(ch);
            if in_literal {
                out.push_str("***");
            }
        } else if !in_literal {
            out.push(ch);
        }
    }
    out
}

/// Rounds a ratio to 4 decimals.
fn round4(v: Option<f64>) -> Option<f64> {
    v.map(|x| (x * 10_000.0).round() / 10_000.0)
}

/// Rounds seconds to 0.1 (clock skew between statements never makes them negative).
fn secs(v: Option<f64>) -> Option<f64> {
    v.map(|x| {
        if x > 0.0 {
            (x * 10.0).round() / 10.0
        } else {
            0.0
        }
    })
}

// ---------------------------------------------------------------------------
// database_stats
// ---------------------------------------------------------------------------

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DatabaseStatsArgs {}

async fn database_stats(call: Call, _a: DatabaseStatsArgs) -> Result<ToolOutput, ToolError> {
    let db = call.sql().await?;
    let row = db
        .query_one(
            "SELECT current_database()::text AS name, pg_database_size(current_database()) AS size_bytes, \
               pg_size_pretty(pg_database_size(current_database())) AS size, \
               d.xact_commit, d.xact_rollback, d.deadlocks, d.temp_files, d.temp_bytes, d.conflicts, \
               d.stats_reset::text AS stats_reset, \
               d.blks_hit::float8 / nullif((d.blks_hit + d.blks_read)::float8, 0) AS overall_ratio, \
               (SELECT sum(heap_blks_hit)::float8 / nullif((sum(heap_blks_hit) + sum(heap_blks_read))::float8, 0) \
                  FROM pg_statio_user_tables) AS heap_ratio, \
               (SELECT sum(idx_blks_hit)::float8 / nullif((sum(idx_blks_hit) + sum(idx_blks_read))::float8, 0) \
                  FROM pg_statio_user_indexes) AS index_ratio \
             FROM pg_stat_database d WHERE d.datname = current_database()",
            &[],
        )
        .await?;
    let bloat = db
        .query(
            "SELECT schemaname::text AS schema, relname::text AS tbl, n_live_tup AS live, n_dead_tup AS dead, \
               n_dead_tup::float8 / nullif((n_live_tup + n_dead_tup)::float8, 0) AS dead_ratio, \
               pg_total_relation_size(relid) AS size_bytes, \
               greatest(last_vacuum, last_autovacuum)::text AS last_vacuum \
             FROM pg_stat_user_tables WHERE n_dead_tup > 0 ORDER BY n_dead_tup DESC, 1, 2 LIMIT 10",
            &[],
        )
        .await?;
    let long = db
        .query(
            "SELECT pid, usename::text AS role, datname::text AS database, state, \
               extract(epoch FROM now() - query_start)::float8 AS seconds, wait_event_type, \
               left(query, $1::int4) AS query, length(query) > $1::int4 AS truncated \
             FROM pg_stat_activity \
             WHERE state = 'active' AND pid <> pg_backend_pid() AND backend_type = 'client backend' AND query_start IS NOT NULL \
             ORDER BY query_start LIMIT 5",
            &[&QUERY_CHARS],
        )
        .await?;

    let mut tables = Vec::with_capacity(bloat.len());
    for r in &bloat {
        let mut t = json!({
            "schema": col::<String>(r, "schema")?,
            "table": col::<String>(r, "tbl")?,
            "live_rows": col::<i64>(r, "live")?,
            "dead_rows": col::<i64>(r, "dead")?,
            "dead_ratio": round4(col::<Option<f64>>(r, "dead_ratio")?),
            "size_bytes": col::<i64>(r, "size_bytes")?,
        });
        put(
            &mut t,
            "last_vacuum",
            col::<Option<String>>(r, "last_vacuum")?,
        );
        tables.push(t);
    }
    let mut queries = Vec::with_capacity(long.len());
    for r in &long {
        let mut q = json!({
            "pid": col::<i32>(r, "pid")?,
            "role": col::<Option<String>>(r, "role")?,
            "database": col::<Option<String>>(r, "database")?,
            "state": col::<Option<String>>(r, "state")?,
            "seconds": secs(col::<Option<f64>>(r, "seconds")?),
            "query": query_text(r, "query")?,
        });
        put(
            &mut q,
            "waiting_on",
            col::<Option<String>>(r, "wait_event_type")?,
        );
        if col::<Option<bool>>(r, "truncated")? == Some(true) {
            q["truncated"] = json!(true);
        }
        queries.push(q);
    }
    let heap = round4(col::<Option<f64>>(&row, "heap_ratio")?);
    let index = round4(col::<Option<f64>>(&row, "index_ratio")?);
    let mut out = ToolOutput::untrusted(json!({
        "database": col::<String>(&row, "name")?,
        "size_bytes": col::<i64>(&row, "size_bytes")?,
        "size": col::<String>(&row, "size")?,
        "cache_hit_ratio": {
            "heap": heap,
            "index": index,
            "overall": round4(col::<Option<f64>>(&row, "overall_ratio")?),
        },
        "transactions": {
            "commits": col::<i64>(&row, "xact_commit")?,
            "rollbacks": col::<i64>(&row, "xact_rollback")?,
        },
        "deadlocks": col::<i64>(&row, "deadlocks")?,
        "temp_files": col::<i64>(&row, "temp_files")?,
        "temp_bytes": col::<i64>(&row, "temp_bytes")?,
        "conflicts": col::<i64>(&row, "conflicts")?,
        "stats_reset": col::<Option<String>>(&row, "stats_reset")?,
        "dead_rows_top_tables": tables,
        "longest_running_queries": queries,
    }));
    for (what, ratio) in [("table", heap), ("index", index)] {
        if let Some(r) = ratio
            && r < 0.99
        {
            out = out.warn(format!(
                "The {what} cache hit ratio is {:.1}% (below 99%): the working set may not fit in memory; \
                 look for large sequential scans (index_advice) or a larger compute size.",
                r * 100.0
            ));
        }
    }
    Ok(out)
}

// ---------------------------------------------------------------------------
// monitor_connections
// ---------------------------------------------------------------------------

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MonitorConnectionsArgs {
    /// Groups to skip.
    #[serde(default)]
    pub offset: Option<u32>,
    /// Default 100, max 1000.
    #[serde(default)]
    pub limit: Option<u32>,
}

/// Idle-in-transaction sessions older than this get a recommendation.
const IDLE_TX_WARN_SECS: f64 = 300.0;

async fn monitor_connections(
    call: Call,
    a: MonitorConnectionsArgs,
) -> Result<ToolOutput, ToolError> {
    let page = page(a.offset, a.limit)?;
    let db = call.sql().await?;
    let summary = db
        .query_one(
            "SELECT count(*) AS total, \
               count(*) FILTER (WHERE usename IS NULL OR state IS NULL) AS hidden, \
               count(*) FILTER (WHERE state LIKE 'idle in transaction%' AND now() - state_change > make_interval(secs => $1::float8)) AS idle_tx_old, \
               current_setting('max_connections')::int4 AS max_connections, \
               current_setting('superuser_reserved_connections')::int4 AS superuser_reserved, \
               coalesce(current_setting('reserved_connections', true), '0')::int4 AS reserved, \
               current_setting('idle_in_transaction_session_timeout') AS idle_tx_timeout \
             FROM pg_stat_activity WHERE backend_type = 'client backend'",
            &[&IDLE_TX_WARN_SECS],
        )
        .await?;
    let states = db
        .query(
            "SELECT coalesce(state, 'unknown') AS state, count(*) AS n FROM pg_stat_activity \
             WHERE backend_type = 'client backend' GROUP BY 1 ORDER BY 2 DESC, 1",
            &[],
        )
        .await?;
    let base = "SELECT coalesce(usename::text, 'unknown') AS role, coalesce(application_name, '') AS application, \
           coalesce(host(client_addr), 'local') AS client, coalesce(state, 'unknown') AS state, count(*) AS n, \
           max(extract(epoch FROM now() - state_change))::float8 AS longest_in_state \
         FROM pg_stat_activity WHERE backend_type = 'client backend' GROUP BY 1, 2, 3, 4";
    let (groups, total_groups) = fetch_page(
        &db,
        base,
        "q.n DESC, q.role, q.application, q.client, q.state",
        &[],
        page,
    )
    .await?;
    let idle = db
        .query_opt(
            "SELECT pid, usename::text AS role, application_name, coalesce(host(client_addr), 'local') AS client, \
               datname::text AS database, extract(epoch FROM now() - state_change)::float8 AS seconds, \
               extract(epoch FROM now() - xact_start)::float8 AS transaction_seconds, left(query, $1::int4) AS query \
             FROM pg_stat_activity WHERE state LIKE 'idle in transaction%' AND backend_type = 'client backend' \
             ORDER BY state_change LIMIT 1",
            &[&QUERY_CHARS],
        )
        .await?;

    let total: i64 = col(&summary, "total")?;
    let max: i32 = col(&summary, "max_connections")?;
    let su_reserved: i32 = col(&summary, "superuser_reserved")?;
    let reserved: i32 = col(&summary, "reserved")?;
    let available = i64::from((max - su_reserved - reserved).max(1));
    let percent = (total as f64 * 1000.0 / available as f64).round() / 10.0;
    let idle_tx_old: i64 = col(&summary, "idle_tx_old")?;
    let idle_tx_timeout: String = col(&summary, "idle_tx_timeout")?;
    let hidden: i64 = col(&summary, "hidden")?;

    let mut by_state = serde_json::Map::new();
    for r in &states {
        by_state.insert(col::<String>(r, "state")?, json!(col::<i64>(r, "n")?));
    }
    let mut items = Vec::with_capacity(groups.len());
    for r in &groups {
        items.push(json!({
            "role": col::<String>(r, "role")?,
            "application": col::<String>(r, "application")?,
            "client": col::<String>(r, "client")?,
            "state": col::<String>(r, "state")?,
            "count": col::<i64>(r, "n")?,
            "longest_in_state_seconds": secs(col::<Option<f64>>(r, "longest_in_state")?),
        }));
    }
    let longest_idle = match &idle {
        Some(r) => json!({
            "pid": col::<i32>(r, "pid")?,
            "role": col::<Option<String>>(r, "role")?,
            "application": col::<Option<String>>(r, "application_name")?,
            "client": col::<String>(r, "client")?,
            "database": col::<Option<String>>(r, "database")?,
            "idle_seconds": secs(col::<Option<f64>>(r, "seconds")?),
            "transaction_seconds": secs(col::<Option<f64>>(r, "transaction_seconds")?),
            "last_query": query_text(r, "query")?,
        }),
        None => Value::Null,
    };

    let mut recommendations = Vec::new();
    if percent >= 80.0 {
        recommendations.push(format!(
            "Connections are at {percent}% of the {available} available: lower the pool size of your poolers and app servers, \
             or connect through the pooler (Supavisor, port 6543, transaction mode) instead of directly."
        ));
    }
    if idle_tx_old > 0 {
        recommendations.push(format!(
            "{} idle in transaction for over 5 minutes: they hold locks and block vacuum. Fix the client that leaves transactions open, \
             and set idle_in_transaction_session_timeout (now `{idle_tx_timeout}`), e.g. ALTER ROLE <role> SET idle_in_transaction_session_timeout = '60s';",
            plural(idle_tx_old as usize, "session is", "sessions are")
        ));
    }
    let idle_count = by_state.get("idle").and_then(Value::as_i64).unwrap_or(0);
    if total >= 20 && idle_count * 2 > total {
        recommendations.push(format!(
            "{idle_count} of {total} connections are idle: reduce the minimum/idle size of connection pools, or share one pooler."
        ));
    }
    if hidden > 0 {
        recommendations.push(format!(
            "{} belong to other roles and their details are hidden: grant pg_read_all_stats to the connected role to see them.",
            plural(hidden as usize, "connection", "connections")
        ));
    }
    let mut data = page.wrap("groups", items, total_groups);
    data["total"] = json!(total);
    data["total_groups"] = json!(total_groups);
    data["max_connections"] = json!(max);
    data["reserved_connections"] = json!(su_reserved + reserved);
    data["available"] = json!(available);
    data["usage_percent"] = json!(percent);
    data["by_state"] = Value::Object(by_state);
    data["longest_idle_in_transaction"] = longest_idle;
    data["idle_in_transaction_session_timeout"] = json!(idle_tx_timeout);
    data["recommendations"] = json!(recommendations);
    Ok(ToolOutput::untrusted(data))
}

// ---------------------------------------------------------------------------
// health_check
// ---------------------------------------------------------------------------

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HealthCheckArgs {}

/// Overall status, worst wins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Health {
    Ok,
    Warning,
    Critical,
}

struct Verdict {
    status: Health,
    reasons: Vec<String>,
}

impl Verdict {
    fn raise(&mut self, level: Health, reason: String) {
        self.status = self.status.max(level);
        self.reasons.push(reason);
    }
    fn label(&self) -> &'static str {
        match self.status {
            Health::Ok => "ok",
            Health::Warning => "warning",
            Health::Critical => "critical",
        }
    }
}

/// 2^31: transaction ids wrap around after this many.
const XID_LIMIT: f64 = 2_147_483_648.0;

async fn health_check(call: Call, _a: HealthCheckArgs) -> Result<ToolOutput, ToolError> {
    let started = Instant::now();
    let db = match call.sql().await {
        Ok(db) => db,
        Err(e) if e.code == ErrorCode::NotConfigured => return Err(e),
        Err(e) => {
            let mut data = json!({
                "status": "critical",
                "reasons": [format!("the database is unreachable: {}", e.message)],
                "reachable": false,
                "error": e.reason,
            });
            put(&mut data, "suggestion", e.suggestion);
            return Ok(ToolOutput::untrusted(data));
        }
    };
    let connect_ms = started.elapsed().as_secs_f64() * 1000.0;
    let ping = Instant::now();
    db.query("SELECT 1", &[]).await?;
    let latency_ms = (ping.elapsed().as_secs_f64() * 10_000.0).round() / 10.0;

    let mut verdict = Verdict {
        status: Health::Ok,
        reasons: Vec::new(),
    };
    if latency_ms > 1000.0 {
        verdict.raise(Health::Warning, format!("`select 1` took {latency_ms} ms"));
    }

    let info = db
        .query_one(
            "SELECT current_setting('server_version') AS version, current_setting('server_version_num')::int4 AS version_num, \
               pg_postmaster_start_time()::text AS started_at, \
               extract(epoch FROM now() - pg_postmaster_start_time())::float8 AS uptime, pg_is_in_recovery() AS in_recovery, \
               CASE WHEN pg_is_in_recovery() THEN extract(epoch FROM now() - pg_last_xact_replay_timestamp())::float8 END AS replay_delay, \
               (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend') AS connections, \
               current_setting('max_connections')::int4 AS max_connections, \
               current_setting('superuser_reserved_connections')::int4 AS reserved",
            &[],
        )
        .await?;
    let in_recovery: bool = col(&info, "in_recovery")?;
    let connections: i64 = col(&info, "connections")?;
    let max_connections: i32 = col(&info, "max_connections")?;
    let available = i64::from((max_connections - col::<i32>(&info, "reserved")?).max(1));
    let usage = connections as f64 * 100.0 / available as f64;
    if usage >= 95.0 {
        verdict.raise(
            Health::Critical,
            format!("{connections} of {available} connections in use"),
        );
    } else if usage >= 80.0 {
        verdict.raise(
            Health::Warning,
            format!("{connections} of {available} connections in use"),
        );
    }
    let replay_delay = secs(col::<Option<f64>>(&info, "replay_delay")?);
    if let Some(d) = replay_delay
        && d > 60.0
    {
        verdict.raise(
            Health::Warning,
            format!("this replica last replayed a transaction {d} s ago"),
        );
    }

    // Replication slots and the WAL they hold back.
    let slot_rows = db
        .query(
            "SELECT slot_name::text AS name, slot_type AS kind, active, database::text AS database, wal_status, \
               CASE WHEN pg_is_in_recovery() OR restart_lsn IS NULL THEN NULL \
                    ELSE pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::int8 END AS retained_bytes \
             FROM pg_replication_slots ORDER BY 1",
            &[],
        )
        .await?;
    let mut slots = Vec::with_capacity(slot_rows.len());
    for r in &slot_rows {
        let name: String = col(r, "name")?;
        let active: bool = col(r, "active")?;
        let retained: Option<i64> = col(r, "retained_bytes")?;
        let wal_status: Option<String> = col(r, "wal_status")?;
        if wal_status.as_deref() == Some("lost") {
            verdict.raise(
                Health::Critical,
                format!("replication slot `{name}` has lost WAL it needed"),
            );
        } else if !active {
            verdict.raise(
                Health::Warning,
                format!(
                    "replication slot `{name}` is inactive and retains {} of WAL; drop it if its consumer is gone",
                    retained.map(human_bytes).unwrap_or_else(|| "some".into())
                ),
            );
        }
        let mut s = json!({"name": name, "type": col::<String>(r, "kind")?, "active": active, "retained_wal_bytes": retained});
        put(&mut s, "database", col::<Option<String>>(r, "database")?);
        put(&mut s, "wal_status", wal_status);
        slots.push(s);
    }
    let replica_rows = db
        .query(
            "SELECT application_name, coalesce(host(client_addr), 'local') AS client, state, sync_state, \
               extract(epoch FROM replay_lag)::float8 AS replay_lag, \
               CASE WHEN pg_is_in_recovery() OR replay_lsn IS NULL THEN NULL \
                    ELSE pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::int8 END AS lag_bytes \
             FROM pg_stat_replication ORDER BY 1",
            &[],
        )
        .await?;
    let mut replicas = Vec::with_capacity(replica_rows.len());
    for r in &replica_rows {
        let app: String = col(r, "application_name")?;
        let lag = secs(col::<Option<f64>>(r, "replay_lag")?);
        if let Some(l) = lag
            && l > 60.0
        {
            verdict.raise(
                Health::Warning,
                format!("replica `{app}` lags {l} s behind"),
            );
        }
        replicas.push(json!({
            "application": app,
            "client": col::<String>(r, "client")?,
            "state": col::<Option<String>>(r, "state")?,
            "sync_state": col::<Option<String>>(r, "sync_state")?,
            "replay_lag_seconds": lag,
            "lag_bytes": col::<Option<i64>>(r, "lag_bytes")?,
        }));
    }

    // Sessions waiting on a lock held by another session.
    let blocked_rows = db
        .query(
            "SELECT a.pid, pg_blocking_pids(a.pid) AS blocked_by, a.usename::text AS role, a.datname::text AS database, \
               extract(epoch FROM now() - coalesce((SELECT min(l.waitstart) FROM pg_locks l WHERE l.pid = a.pid AND NOT l.granted), \
                                                   a.query_start))::float8 AS waiting, \
               left(a.query, $1::int4) AS query \
             FROM pg_stat_activity a WHERE a.pid <> pg_backend_pid() AND cardinality(pg_blocking_pids(a.pid)) > 0 \
             ORDER BY waiting DESC NULLS LAST LIMIT 20",
            &[&QUERY_CHARS],
        )
        .await?;
    let mut blocked = Vec::with_capacity(blocked_rows.len());
    let mut blockers: Vec<i32> = Vec::new();
    let mut longest_wait = 0.0f64;
    for r in &blocked_rows {
        let by: Vec<i32> = col(r, "blocked_by")?;
        for p in &by {
            if !blockers.contains(p) {
                blockers.push(*p);
            }
        }
        let waiting = secs(col::<Option<f64>>(r, "waiting")?);
        longest_wait = longest_wait.max(waiting.unwrap_or(0.0));
        blocked.push(json!({
            "pid": col::<i32>(r, "pid")?,
            "blocked_by": by,
            "role": col::<Option<String>>(r, "role")?,
            "database": col::<Option<String>>(r, "database")?,
            "waiting_seconds": waiting,
            "query": query_text(r, "query")?,
        }));
    }
    let blocker_rows = db
        .query(
            "SELECT pid, usename::text AS role, state, extract(epoch FROM now() - xact_start)::float8 AS transaction_seconds, \
               left(query, $2::int4) AS query \
             FROM pg_stat_activity WHERE pid = ANY($1::int4[]) ORDER BY pid",
            &[&blockers, &QUERY_CHARS],
        )
        .await?;
    let mut blocking = Vec::with_capacity(blocker_rows.len());
    for r in &blocker_rows {
        blocking.push(json!({
            "pid": col::<i32>(r, "pid")?,
            "role": col::<Option<String>>(r, "role")?,
            "state": col::<Option<String>>(r, "state")?,
            "transaction_seconds": secs(col::<Option<f64>>(r, "transaction_seconds")?),
            "query": query_text(r, "query")?,
        }));
    }
    if !blocked.is_empty() {
        let level = if longest_wait > 300.0 {
            Health::Critical
        } else {
            Health::Warning
        };
        verdict.raise(
            level,
            format!(
                "{} blocked by locks (longest wait {longest_wait} s); see `blocked` and `blocking`",
                plural(blocked.len(), "session is", "sessions are")
            ),
        );
    }

    // Transactions open for more than 5 minutes.
    let old_rows = db
        .query(
            "SELECT pid, usename::text AS role, datname::text AS database, state, application_name, \
               extract(epoch FROM now() - xact_start)::float8 AS seconds, left(query, $1::int4) AS query \
             FROM pg_stat_activity \
             WHERE xact_start < now() - interval '5 minutes' AND pid <> pg_backend_pid() AND backend_type = 'client backend' \
             ORDER BY xact_start LIMIT 10",
            &[&QUERY_CHARS],
        )
        .await?;
    let mut old = Vec::with_capacity(old_rows.len());
    for r in &old_rows {
        old.push(json!({
            "pid": col::<i32>(r, "pid")?,
            "role": col::<Option<String>>(r, "role")?,
            "database": col::<Option<String>>(r, "database")?,
            "state": col::<Option<String>>(r, "state")?,
            "application": col::<Option<String>>(r, "application_name")?,
            "seconds": secs(col::<Option<f64>>(r, "seconds")?),
            "query": query_text(r, "query")?,
        }));
    }
    if !old.is_empty() {
        verdict.raise(
            Health::Warning,
            format!(
                "{} open for more than 5 minutes: they hold locks and keep vacuum from cleaning up",
                plural(old.len(), "transaction is", "transactions are")
            ),
        );
    }

    // Transaction id wraparound: the oldest unfrozen xid of any database.
    let wrap = db
        .query_one(
            "SELECT datname::text AS database, age(datfrozenxid)::int8 AS xid_age FROM pg_database \
             ORDER BY age(datfrozenxid) DESC LIMIT 1",
            &[],
        )
        .await?;
    let xid_age: i64 = col(&wrap, "xid_age")?;
    let wrap_db: String = col(&wrap, "database")?;
    let wrap_percent = (xid_age as f64 * 1000.0 / XID_LIMIT).round() / 10.0;
    if wrap_percent >= 80.0 {
        verdict.raise(
            Health::Critical,
            format!("database `{wrap_db}` is at {wrap_percent}% of transaction id wraparound: VACUUM (FREEZE) it now"),
        );
    } else if wrap_percent >= 50.0 {
        verdict.raise(
            Health::Warning,
            format!("database `{wrap_db}` is at {wrap_percent}% of transaction id wraparound: check that autovacuum keeps up"),
        );
    }

    Ok(ToolOutput::untrusted(json!({
        "status": verdict.label(),
        "reasons": verdict.reasons,
        "reachable": true,
        "latency_ms": latency_ms,
        "connect_ms": (connect_ms * 10.0).round() / 10.0,
        "version": col::<String>(&info, "version")?,
        "version_num": col::<i32>(&info, "version_num")?,
        "started_at": col::<String>(&info, "started_at")?,
        "uptime_seconds": col::<f64>(&info, "uptime")?.round(),
        "in_recovery": in_recovery,
        "replay_delay_seconds": replay_delay,
        "connections": {"used": connections, "available": available, "max_connections": max_connections},
        "replication_slots": slots,
        "replicas": replicas,
        "blocked": blocked,
        "blocking": blocking,
        "old_transactions": old,
        "wraparound": {"database": wrap_db, "xid_age": xid_age, "percent": wrap_percent},
    })))
}

/// `1.5 GB`-style size.
fn human_bytes(b: i64) -> String {
    const UNITS: [&str; 5] = ["B", "kB", "MB", "GB", "TB"];
    let mut v = b as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{b} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

// ---------------------------------------------------------------------------
// index_advice
// ---------------------------------------------------------------------------

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IndexAdviceArgs {
    /// Default: user schemas.
    #[serde(default)]
    #[schemars(example = ["public"])]
    pub schemas: Option<Vec<String>>,
    /// Most items per section (default 20, at most 1000).
    #[serde(default)]
    pub limit: Option<u32>,
}

/// Tables with at least this many rows and sequential scans are reported.
const SEQ_MIN_ROWS: i64 = 10_000;
const SEQ_MIN_SCANS: i64 = 50;

async fn index_advice(call: Call, a: IndexAdviceArgs) -> Result<ToolOutput, ToolError> {
    let limit = page(None, Some(a.limit.unwrap_or(20)))?.limit;
    let db = call.sql().await?;
    check_schemas(&db, a.schemas.as_ref()).await?;
    let scope = schema_filter(1, DefaultSchemas::User);
    let mut warnings = Vec::new();
    let mut truncated = |section: &str, shown: usize, total: i64| {
        if (shown as i64) < total {
            warnings.push(format!(
                "{section}: {shown} of {total} shown; pass a larger `limit` (at most {MAX_LIMIT}) to see more"
            ));
        }
    };

    // Indexes never scanned that enforce nothing.
    let rows = db
        .query(
            &format!(
                "SELECT n.nspname::text AS schema, c.relname::text AS tbl, ic.relname::text AS name, \
                   pg_relation_size(i.indexrelid) AS size_bytes, pg_get_indexdef(i.indexrelid) AS definition, \
                   format('DROP INDEX %I.%I;', n.nspname, ic.relname) AS fix, \
                   (SELECT min(k.conname::text) FROM pg_constraint k WHERE k.contype = 'f' AND k.conrelid = i.indrelid \
                      AND (string_to_array(i.indkey::text, ' ')::int2[])[1:cardinality(k.conkey)] @> k.conkey) AS supports_fk, \
                   count(*) OVER () AS total \
                 FROM pg_stat_user_indexes s JOIN pg_index i ON i.indexrelid = s.indexrelid \
                   JOIN pg_class ic ON ic.oid = i.indexrelid JOIN pg_class c ON c.oid = i.indrelid \
                   JOIN pg_namespace n ON n.oid = c.relnamespace \
                 WHERE s.idx_scan = 0 AND NOT i.indisunique AND NOT i.indisprimary AND i.indisvalid \
                   AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid) AND {scope} \
                 ORDER BY size_bytes DESC, 1, 2, 3 LIMIT $2"
            ),
            &[&a.schemas, &limit],
        )
        .await?;
    let mut unused = Vec::with_capacity(rows.len());
    let mut total = 0;
    for r in &rows {
        total = col::<i64>(r, "total")?;
        let mut u = json!({
            "schema": col::<String>(r, "schema")?,
            "table": col::<String>(r, "tbl")?,
            "index": col::<String>(r, "name")?,
            "size_bytes": col::<i64>(r, "size_bytes")?,
            "definition": col::<String>(r, "definition")?,
        });
        match col::<Option<String>>(r, "supports_fk")? {
            Some(fk) => {
                u["advice"] = json!(format!(
                    "keep: it backs foreign key `{fk}` (deletes and updates of referenced rows use it)"
                ))
            }
            None => u["fix"] = json!(col::<String>(r, "fix")?),
        }
        unused.push(u);
    }
    truncated("unused_indexes", unused.len(), total);

    // Indexes with the same table, columns, operator classes, method, expressions and predicate.
    let rows = db
        .query(
            &format!(
                "SELECT n.nspname::text AS schema, c.relname::text AS tbl, \
                   array_agg(ic.relname::text ORDER BY (k.oid IS NOT NULL) DESC, i.indisprimary DESC, i.indisunique DESC, ic.relname) AS names, \
                   array_agg(k.oid IS NOT NULL ORDER BY (k.oid IS NOT NULL) DESC, i.indisprimary DESC, i.indisunique DESC, ic.relname) AS constrained, \
                   array_agg(format('DROP INDEX %I.%I;', n.nspname, ic.relname) ORDER BY (k.oid IS NOT NULL) DESC, i.indisprimary DESC, i.indisunique DESC, ic.relname) AS drops, \
                   min(pg_get_indexdef(i.indexrelid)) AS definition, \
                   count(*) OVER () AS total \
                 FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid JOIN pg_class c ON c.oid = i.indrelid \
                   JOIN pg_namespace n ON n.oid = c.relnamespace \
                   LEFT JOIN pg_constraint k ON k.conindid = i.indexrelid AND k.conrelid = i.indrelid \
                 WHERE {scope} \
                 GROUP BY n.nspname, c.relname, i.indrelid, i.indkey::text, i.indclass::text, i.indcollation::text, ic.relam, \
                   coalesce(pg_get_expr(i.indexprs, i.indrelid), ''), coalesce(pg_get_expr(i.indpred, i.indrelid), '') \
                 HAVING count(*) > 1 ORDER BY 1, 2, 3 LIMIT $2"
            ),
            &[&a.schemas, &limit],
        )
        .await?;
    let mut duplicates = Vec::with_capacity(rows.len());
    let mut total = 0;
    for r in &rows {
        total = col::<i64>(r, "total")?;
        let schema: String = col(r, "schema")?;
        let names: Vec<String> = col(r, "names")?;
        let constrained: Vec<bool> = col(r, "constrained")?;
        let drops: Vec<String> = col(r, "drops")?;
        let keep = names.first().cloned().unwrap_or_default();
        let fix: Vec<String> = drops
            .into_iter()
            .zip(&constrained)
            .skip(1)
            .filter(|(_, c)| !**c)
            .map(|(d, _)| d)
            .collect();
        let mut d = json!({
            "schema": schema,
            "table": col::<String>(r, "tbl")?,
            "indexes": names,
            "definition": col::<String>(r, "definition")?,
            "keep": keep,
            "fix": fix,
        });
        if constrained.iter().skip(1).any(|c| *c) {
            d["advice"] = json!(
                "some duplicates back constraints: drop those constraints (ALTER TABLE ... DROP CONSTRAINT) instead of the index"
            );
        }
        duplicates.push(d);
    }
    truncated("duplicate_indexes", duplicates.len(), total);

    // Foreign keys whose columns do not lead any full (non-partial) index.
    let rows = db
        .query(
            &format!(
                "SELECT n.nspname::text AS schema, c.relname::text AS tbl, k.conname::text AS name, \
                   pg_get_constraintdef(k.oid) AS definition, \
                   ARRAY(SELECT a.attname::text FROM unnest(k.conkey) WITH ORDINALITY u(attnum, ord) \
                         JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = u.attnum ORDER BY u.ord) AS columns, \
                   format('CREATE INDEX ON %I.%I (%s);', n.nspname, c.relname, \
                          (SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY u.ord) FROM unnest(k.conkey) WITH ORDINALITY u(attnum, ord) \
                           JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = u.attnum)) AS fix, \
                   greatest(c.reltuples, 0)::int8 AS rows_estimate, \
                   count(*) OVER () AS total \
                 FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace \
                 WHERE k.contype = 'f' AND k.conparentid = 0 AND {scope} \
                   AND NOT EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = k.conrelid AND i.indpred IS NULL \
                     AND (string_to_array(i.indkey::text, ' ')::int2[])[1:cardinality(k.conkey)] @> k.conkey) \
                 ORDER BY rows_estimate DESC, 1, 2, 3 LIMIT $2"
            ),
            &[&a.schemas, &limit],
        )
        .await?;
    let mut fks = Vec::with_capacity(rows.len());
    let mut total = 0;
    for r in &rows {
        total = col::<i64>(r, "total")?;
        fks.push(json!({
            "schema": col::<String>(r, "schema")?,
            "table": col::<String>(r, "tbl")?,
            "constraint": col::<String>(r, "name")?,
            "definition": col::<String>(r, "definition")?,
            "columns": col::<Vec<String>>(r, "columns")?,
            "rows_estimate": col::<i64>(r, "rows_estimate")?,
            "fix": col::<String>(r, "fix")?,
        }));
    }
    truncated("foreign_keys_without_index", fks.len(), total);

    // Large tables read mostly by sequential scans.
    let rows = db
        .query(
            &format!(
                "SELECT s.schemaname::text AS schema, s.relname::text AS tbl, s.seq_scan, s.seq_tup_read, \
                   coalesce(s.idx_scan, 0) AS idx_scan, s.n_live_tup AS live_rows, pg_total_relation_size(s.relid) AS size_bytes, \
                   count(*) OVER () AS total \
                 FROM pg_stat_user_tables s JOIN pg_namespace n ON n.nspname = s.schemaname \
                 WHERE s.seq_scan >= $3 AND s.n_live_tup >= $4 AND s.seq_scan > coalesce(s.idx_scan, 0) AND {scope} \
                 ORDER BY s.seq_tup_read DESC, 1, 2 LIMIT $2"
            ),
            &[&a.schemas, &limit, &SEQ_MIN_SCANS, &SEQ_MIN_ROWS],
        )
        .await?;
    let mut seq = Vec::with_capacity(rows.len());
    let mut total = 0;
    for r in &rows {
        total = col::<i64>(r, "total")?;
        let schema: String = col(r, "schema")?;
        let table: String = col(r, "tbl")?;
        seq.push(json!({
            "advice": format!(
                "find the queries that scan {schema}.{table} (top_queries, or EXPLAIN) and index the columns of their WHERE and JOIN clauses"
            ),
            "schema": schema,
            "table": table,
            "seq_scans": col::<i64>(r, "seq_scan")?,
            "rows_read_by_seq_scans": col::<i64>(r, "seq_tup_read")?,
            "index_scans": col::<i64>(r, "idx_scan")?,
            "live_rows": col::<i64>(r, "live_rows")?,
            "size_bytes": col::<i64>(r, "size_bytes")?,
        }));
    }
    truncated("seq_scan_heavy_tables", seq.len(), total);

    let (top_queries, statements_note) = top_queries(&db).await?;
    let stats_reset: Option<String> = db
        .query_one(
            "SELECT stats_reset::text AS reset FROM pg_stat_database WHERE datname = current_database()",
            &[],
        )
        .await
        .and_then(|r| col(&r, "reset"))?;

    let mut data = json!({
        "unused_indexes": unused,
        "duplicate_indexes": duplicates,
        "foreign_keys_without_index": fks,
        "seq_scan_heavy_tables": seq,
        "top_queries": top_queries,
        "notes": [
            format!(
                "Usage counts are since {}; an index unused here may still serve a replica or a rare job.",
                stats_reset.as_deref().unwrap_or("the statistics were last reset")
            ),
            "Statements are advice, never executed. On large busy tables run CREATE/DROP INDEX CONCURRENTLY, outside a transaction.",
        ],
    });
    if let Some(n) = statements_note {
        data["pg_stat_statements"] = json!(n);
    }
    let mut out = ToolOutput::untrusted(data);
    out.warnings = warnings;
    Ok(out)
}

/// The 5 statements with the most total execution time, when
/// pg_stat_statements is installed and loaded; else a note saying why not.
async fn top_queries(db: &Backend) -> Result<(Vec<Value>, Option<String>), ToolError> {
    let schema = db
        .query_opt(
            "SELECT quote_ident(n.nspname) AS schema FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace \
             WHERE e.extname = 'pg_stat_statements'",
            &[],
        )
        .await?;
    let Some(schema) = schema else {
        return Ok((
            Vec::new(),
            Some("not installed; to see the costliest queries run: CREATE EXTENSION pg_stat_statements WITH SCHEMA extensions;".into()),
        ));
    };
    let schema: String = col(&schema, "schema")?;
    let sql = format!(
        "SELECT left(query, {QUERY_CHARS}) AS query, calls, total_exec_time, mean_exec_time, rows \
         FROM {schema}.pg_stat_statements \
         WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) \
         ORDER BY total_exec_time DESC LIMIT 5"
    );
    let rows = match db.query(&sql, &[]).await {
        Ok(rows) => rows,
        Err(e) => {
            return Ok((
                Vec::new(),
                Some(format!(
                    "installed but not readable: {} (it must be in shared_preload_libraries, and the role needs pg_read_all_stats to see every query)",
                    e.reason.as_deref().unwrap_or(&e.message)
                )),
            ));
        }
    };
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        out.push(json!({
            "query": query_text(r, "query")?,
            "calls": col::<i64>(r, "calls")?,
            "total_ms": (col::<f64>(r, "total_exec_time")? * 10.0).round() / 10.0,
            "mean_ms": (col::<f64>(r, "mean_exec_time")? * 100.0).round() / 100.0,
            "rows": col::<i64>(r, "rows")?,
        }));
    }
    Ok((out, None))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_are_masked_only_when_secret_like() {
        assert_eq!(
            mask_literals("select * from t where a = 'x'"),
            "select * from t where a = 'x'"
        );
        assert_eq!(
            mask_literals("ALTER ROLE app PASSWORD 'hunter2'"),
            "ALTER ROLE app PASSWORD '***'"
        );
        assert_eq!(
            mask_literals("select vault.create_secret('abc', 'name"),
            "select vault.create_secret('***', '***"
        );
    }

    #[test]
    fn byte_sizes() {
        assert_eq!(human_bytes(10), "10 B");
        assert_eq!(human_bytes(1536), "1.5 kB");
        assert_eq!(human_bytes(3 * 1024 * 1024 * 1024), "3.0 GB");
    }
}
