//! `replication_status`: replication slots with the WAL each retains and
//! its lag (bytes, and time from `pg_stat_replication` while a consumer is
//! connected), WAL senders, and the settings that bound them. Inactive slots
//! holding WAL are flagged with the statement that drops them; nothing is
//! ever dropped here.

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::json;

use crate::result::{ToolError, ToolOutput};
use crate::server::call::Call;
use crate::tools::introspect::{col, plural, put};

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplicationStatusArgs {}

/// Rounds seconds to 0.001.
fn ms(v: Option<f64>) -> Option<f64> {
    v.map(|x| (x.max(0.0) * 1000.0).round() / 1000.0)
}

/// `1.5 GB`-style size.
fn human(b: i64) -> String {
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

pub(super) async fn replication_status(
    call: Call,
    _a: ReplicationStatusArgs,
) -> Result<ToolOutput, ToolError> {
    let db = call.sql().await?;
    let settings = db
        .query_one(
            "SELECT current_setting('wal_level') AS wal_level, \
               current_setting('max_replication_slots')::int4 AS max_slots, \
               current_setting('max_wal_senders')::int4 AS max_senders, \
               current_setting('max_slot_wal_keep_size') AS keep_size, \
               coalesce((SELECT setting::int8 FROM pg_settings WHERE name = 'max_slot_wal_keep_size'), -1) AS keep_size_mb, \
               pg_is_in_recovery() AS in_recovery, \
               CASE WHEN pg_is_in_recovery() THEN NULL ELSE pg_current_wal_lsn()::text END AS current_lsn",
            &[],
        )
        .await?;
    let slots = db
        .query(
            "SELECT s.slot_name::text AS name, s.plugin::text AS plugin, s.slot_type::text AS kind, \
               s.database::text AS database, s.active, s.active_pid, s.temporary, \
               s.restart_lsn::text AS restart_lsn, s.confirmed_flush_lsn::text AS confirmed_flush_lsn, \
               s.wal_status::text AS wal_status, s.safe_wal_size::int8 AS safe_wal_size, \
               CASE WHEN pg_is_in_recovery() OR s.restart_lsn IS NULL THEN NULL \
                    ELSE pg_wal_lsn_diff(pg_current_wal_lsn(), s.restart_lsn)::int8 END AS retained_bytes, \
               CASE WHEN pg_is_in_recovery() OR coalesce(s.confirmed_flush_lsn, r.replay_lsn, s.restart_lsn) IS NULL THEN NULL \
                    ELSE pg_wal_lsn_diff(pg_current_wal_lsn(), coalesce(s.confirmed_flush_lsn, r.replay_lsn, s.restart_lsn))::int8 END AS lag_bytes, \
               extract(epoch FROM r.write_lag)::float8 AS write_lag, \
               extract(epoch FROM r.flush_lag)::float8 AS flush_lag, \
               extract(epoch FROM r.replay_lag)::float8 AS replay_lag, \
               r.application_name::text AS consumer, r.state::text AS sender_state, \
               format('SELECT pg_drop_replication_slot(%L);', s.slot_name) AS drop_sql \
             FROM pg_replication_slots s LEFT JOIN pg_stat_replication r ON r.pid = s.active_pid \
             ORDER BY 1",
            &[],
        )
        .await?;
    let senders = db
        .query(
            "SELECT r.pid, r.application_name::text AS application, coalesce(host(r.client_addr), 'local') AS client, \
               r.state::text AS state, r.sync_state::text AS sync_state, \
               CASE WHEN pg_is_in_recovery() OR r.replay_lsn IS NULL THEN NULL \
                    ELSE pg_wal_lsn_diff(pg_current_wal_lsn(), r.replay_lsn)::int8 END AS lag_bytes, \
               extract(epoch FROM r.replay_lag)::float8 AS replay_lag, \
               (SELECT s.slot_name::text FROM pg_replication_slots s WHERE s.active_pid = r.pid LIMIT 1) AS slot \
             FROM pg_stat_replication r ORDER BY 2, 1",
            &[],
        )
        .await?;

    let wal_level: String = col(&settings, "wal_level")?;
    let max_slots: i32 = col(&settings, "max_slots")?;
    let keep_mb: i64 = col(&settings, "keep_size_mb")?;
    let mut warnings = Vec::new();
    let mut out_slots = Vec::with_capacity(slots.len());
    let mut inactive_holding = 0usize;
    for r in &slots {
        let name: String = col(r, "name")?;
        let active: bool = col(r, "active")?;
        let retained: Option<i64> = col(r, "retained_bytes")?;
        let wal_status: Option<String> = col(r, "wal_status")?;
        let drop_sql: String = col(r, "drop_sql")?;
        let mut s = json!({
            "name": name,
            "type": col::<String>(r, "kind")?,
            "active": active,
            "temporary": col::<bool>(r, "temporary")?,
            "restart_lsn": col::<Option<String>>(r, "restart_lsn")?,
            "confirmed_flush_lsn": col::<Option<String>>(r, "confirmed_flush_lsn")?,
            "retained_wal_bytes": retained,
            "lag_bytes": col::<Option<i64>>(r, "lag_bytes")?,
        });
        put(&mut s, "plugin", col::<Option<String>>(r, "plugin")?);
        put(&mut s, "database", col::<Option<String>>(r, "database")?);
        put(&mut s, "active_pid", col::<Option<i32>>(r, "active_pid")?);
        put(&mut s, "wal_status", wal_status.clone());
        put(
            &mut s,
            "safe_wal_size_bytes",
            col::<Option<i64>>(r, "safe_wal_size")?,
        );
        if let Some(consumer) = col::<Option<String>>(r, "consumer")? {
            s["consumer"] = json!({
                "application": consumer,
                "state": col::<Option<String>>(r, "sender_state")?,
                "write_lag_seconds": ms(col(r, "write_lag")?),
                "flush_lag_seconds": ms(col(r, "flush_lag")?),
                "replay_lag_seconds": ms(col(r, "replay_lag")?),
            });
        }
        if wal_status.as_deref() == Some("lost") {
            warnings.push(format!(
                "slot `{name}` lost WAL it still needed: its consumer can no longer resume and must resynchronize; drop the slot: {drop_sql}"
            ));
            s["drop_sql"] = json!(drop_sql);
        } else if !active && retained.is_some_and(|b| b > 0) {
            inactive_holding += 1;
            let held = retained.map(human).unwrap_or_default();
            warnings.push(format!(
                "slot `{name}` is inactive and holds {held} of WAL, which keeps growing until its consumer returns. \
                 If that consumer is gone, drop the slot: {drop_sql}"
            ));
            s["warning"] = json!(format!(
                "inactive, holds {held} of WAL; PostgreSQL cannot remove that WAL until the slot advances or is dropped"
            ));
            s["drop_sql"] = json!(drop_sql);
        } else if wal_status.as_deref() == Some("unreserved") {
            warnings.push(format!(
                "slot `{name}` is about to lose WAL it needs (wal_status unreserved): its consumer is far behind"
            ));
        }
        out_slots.push(s);
    }
    let mut out_senders = Vec::with_capacity(senders.len());
    for r in &senders {
        let mut s = json!({
            "pid": col::<i32>(r, "pid")?,
            "application": col::<Option<String>>(r, "application")?,
            "client": col::<String>(r, "client")?,
            "state": col::<Option<String>>(r, "state")?,
            "sync_state": col::<Option<String>>(r, "sync_state")?,
            "lag_bytes": col::<Option<i64>>(r, "lag_bytes")?,
            "replay_lag_seconds": ms(col(r, "replay_lag")?),
        });
        put(&mut s, "slot", col::<Option<String>>(r, "slot")?);
        out_senders.push(s);
    }

    if wal_level != "logical" {
        warnings.push(format!(
            "wal_level is `{wal_level}`: logical replication slots, and so Realtime's database changes, need `logical` \
             (ALTER SYSTEM SET wal_level = logical, then restart PostgreSQL)"
        ));
    }
    let used = slots.len() as i64;
    if max_slots > 0 && used >= i64::from(max_slots) {
        warnings.push(format!(
            "all {max_slots} replication slots are in use: new subscribers (Realtime, replicas) cannot create one; \
             drop unused slots or raise max_replication_slots (restart needed)"
        ));
    }
    if keep_mb < 0 && inactive_holding > 0 {
        warnings.push(
            "max_slot_wal_keep_size is unlimited (-1): an abandoned slot can fill the disk; consider a limit, e.g. \
             ALTER SYSTEM SET max_slot_wal_keep_size = '10GB'; SELECT pg_reload_conf();"
                .into(),
        );
    }
    let mut settings_out = json!({
        "wal_level": wal_level,
        "max_replication_slots": max_slots,
        "max_wal_senders": col::<i32>(&settings, "max_senders")?,
        "max_slot_wal_keep_size": col::<String>(&settings, "keep_size")?,
    });
    if keep_mb >= 0 {
        settings_out["max_slot_wal_keep_size_bytes"] = json!(keep_mb.saturating_mul(1024 * 1024));
    }
    let mut data = json!({
        "settings": settings_out,
        "in_recovery": col::<bool>(&settings, "in_recovery")?,
        "current_wal_lsn": col::<Option<String>>(&settings, "current_lsn")?,
        "slots": out_slots,
        "slots_used": used,
        "senders": out_senders,
    });
    if inactive_holding > 0 {
        data["inactive_slots_holding_wal"] = json!(inactive_holding);
        data["note"] = json!(format!(
            "{} shown with drop_sql; nothing was dropped. Drop a slot only once its consumer is gone for good.",
            plural(inactive_holding, "inactive slot is", "inactive slots are")
        ));
    }
    let mut out = ToolOutput::untrusted(data);
    out.warnings = warnings;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_seconds() {
        assert_eq!(human(512), "512 B");
        assert_eq!(human(3 * 1024 * 1024), "3.0 MB");
        assert_eq!(ms(Some(1.23456)), Some(1.235));
        assert_eq!(ms(Some(-1.0)), Some(0.0));
        assert_eq!(ms(None), None);
    }
}
