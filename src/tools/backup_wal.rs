//! The point-in-time recovery tools of the `backups` group:
//! `create_base_backup`, `wal_archive_status`, `plan_pitr` and
//! `prepare_pitr`, over [`crate::backup::basebackup`] and
//! [`crate::backup::wal`]. WAL archiving itself runs in `serve`
//! (`--wal-archive-dir`) or `backup wal`, not as a tool. Keys never pass
//! through tool arguments.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64};

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};

use super::backups::parse_compression;
use super::{Kind, ToolDef, tool};
use crate::backup::basebackup::{self, BaseBackupRequest};
use crate::backup::crypt::KeySource;
use crate::backup::pgtools::{self, PgTools};
use crate::backup::service;
use crate::backup::wal::{self, PitrPlan, PlanRequest, Reachability};
use crate::config::{Instance, Mode};
use crate::db::connstr::ConnParams;
use crate::groups::Group;
use crate::result::{ErrorCode, ToolError, ToolOutput};
use crate::server::call::{Call, ProgressForwarder};

pub fn tools() -> Vec<ToolDef> {
    vec![
        tool("create_base_backup", Group::Backups, Kind::Write)
            .title("Take a physical base backup")
            .description("pg_basebackup of the whole cluster (tar, WAL included) streamed through zstd/gzip and AES-256-GCM (when a backup key is configured and `encrypt`) into the backup directory, verified (hash, tar members, backup_label) and recorded with its WAL start/stop. The starting point of plan_pitr. Needs the replication protocol (not on Supabase cloud).")
            .long_running()
            .handler(create_base_backup),
        tool("wal_archive_status", Group::Backups, Kind::Read)
            .title("WAL archive status")
            .description("Whether WAL is reachable on the instance (and plainly why not: cloud platform, no REPLICATION role, wal_level, max_wal_senders, pg_hba.conf), whether serve is archiving it, and what the archive holds: segments per timeline, gaps, the partial segment, time covered and the last archived commit.")
            .handler(wal_archive_status),
        tool("plan_pitr", Group::Backups, Kind::Read)
            .title("Plan a point-in-time recovery")
            .description("The checked plan to recover the cluster to `target_time`: the base backup (file present, hash right, key works), the WAL range (no gap, reaching past the target), the exact postgresql.auto.conf settings (restore_command, recovery_target_time, recovery_target_action = 'promote', recovery_target_timeline = 'latest'), recovery.signal and the ordered steps. A failed check says what is missing and what to do.")
            .long_running()
            .handler(plan_pitr),
        tool("prepare_pitr", Group::Backups, Kind::Write)
            .title("Prepare a point-in-time recovery")
            .description("Checks the plan for `target_time`, then writes a new data directory (`data_dir`, new or empty) from the base backup with recovery.signal and the recovery settings: starting PostgreSQL on it recovers to the target and promotes. Never touches the running server; removes what it wrote on failure.")
            .long_running()
            .handler(prepare_pitr),
    ]
}

/// Why the instance's WAL cannot be reached before any connection, if so:
/// no database URL, or a managed cloud host.
fn unreachable_by_config(inst: &Instance) -> Option<Reachability> {
    let refuse = |reason: String, suggestion: &str, cloud: bool| Reachability {
        reasons: vec![reason],
        suggestion: Some(suggestion.to_owned()),
        cloud,
        ..Default::default()
    };
    let Some(url) = &inst.db_url else {
        return Some(if inst.mode == Mode::Cloud {
            refuse(
                format!(
                    "instance `{}` is a Supabase cloud project reached through the Management API: the platform does not expose physical replication",
                    inst.name
                ),
                wal::CLOUD_SUGGESTION,
                true,
            )
        } else {
            refuse(
                format!("instance `{}` has no database URL", inst.name),
                "Pass --db-url postgres://USER:PASSWORD@HOST:5432/postgres (a direct connection, as a role with REPLICATION).",
                false,
            )
        });
    };
    let params = ConnParams::parse(url.expose()).ok()?;
    wal::cloud_reason(&params).map(|r| refuse(r, wal::CLOUD_SUGGESTION, true))
}

/// The direct connection of the call's instance, refusing what cannot
/// carry replication.
fn replication_params(call: &Call) -> Result<ConnParams, ToolError> {
    if let Some(r) = unreachable_by_config(&call.instance) {
        return Err(ToolError::new(
            ErrorCode::NotConfigured,
            "WAL is not reachable on this instance",
        )
        .reason(r.reasons.join("; "))
        .suggestion(r.suggestion.unwrap_or_default()));
    }
    service::direct_params(&call.instance)
}

/// The client programs (newest installed, or --pg-bin-dir).
async fn client_tools(call: &Call) -> Result<PgTools, ToolError> {
    pgtools::find(call.state.config.backup.pg_bin_dir.as_deref(), 0)
        .await
        .map_err(|e| ToolError::new(ErrorCode::NotConfigured, e.to_string()))
}

fn configured_key(call: &Call) -> Result<Option<KeySource>, ToolError> {
    Ok(service::configured_key(&call.state.config.backup)?.map(|(k, _)| k))
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BaseBackupArgs {
    /// `zstd` (default, level 3), `zstd:19`, `gzip:6`, `none`.
    #[serde(default)]
    pub compression: Option<String>,
    /// Encrypt with the configured backup key (default: when one is configured).
    #[serde(default)]
    pub encrypt: Option<bool>,
    /// Labels to find the backup by.
    #[serde(default)]
    pub tags: Vec<String>,
}

async fn create_base_backup(call: Call, a: BaseBackupArgs) -> Result<ToolOutput, ToolError> {
    let cfg = call.state.config.backup.clone();
    let key_configured = cfg.passphrase.is_some() || cfg.key_file.is_some();
    let req = BaseBackupRequest {
        compression: parse_compression(a.compression.as_deref())?,
        encrypt: a.encrypt.unwrap_or(key_configured),
        tags: a.tags,
    };
    let conn = replication_params(&call)?;
    let started = std::time::Instant::now();
    let progress = ProgressForwarder::start(&call, 0u64, |n| {
        (n, None, format!("{} MiB copied", n / (1024 * 1024)))
    });
    let result =
        basebackup::create_base_backup(&cfg, &call.instance.name, &conn, &req, &call.cancel, |n| {
            progress.update(n)
        })
        .await;
    progress.finish().await;
    let entry = result?;
    let archive = wal::archive_dir(&cfg);
    let archiving = wal::running_archivers()
        .into_iter()
        .any(|s| s.running && Path::new(&s.archive_dir) == archive);
    let mut out = ToolOutput::trusted(json!({
        "backup": serde_json::to_value(&entry).unwrap_or(Value::Null),
        "path": cfg.dir.join(&entry.file).display().to_string(),
        "verified": true,
        "wal_archive": archive.display().to_string(),
        "archiving": archiving,
        "duration_ms": started.elapsed().as_millis() as u64,
    }));
    if !archiving {
        out = out.warn(
            "no WAL archiver runs in this server: a point-in-time recovery past this backup needs the WAL after it; start serve with --wal-archive-dir (or run `supabase-mcp backup wal`)",
        );
    }
    if !req.encrypt {
        out = out.warn(if key_configured {
            "not encrypted (`encrypt: false`)"
        } else {
            "not encrypted: start the server with --backup-passphrase or --backup-key-file to encrypt backups"
        });
    }
    Ok(out)
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WalStatusArgs {
    /// Read the newest segments with pg_waldump for the last archived commit (default true).
    #[serde(default)]
    pub last_commit: Option<bool>,
}

async fn wal_archive_status(call: Call, a: WalStatusArgs) -> Result<ToolOutput, ToolError> {
    let cfg = call.state.config.backup.clone();
    let archive = wal::archive_dir(&cfg);
    let slot = wal::slot_name(&cfg);
    let mut warnings = Vec::new();
    let tools = match client_tools(&call).await {
        Ok(t) => Some(t),
        Err(e) => {
            warnings.push(format!("PostgreSQL client programs: {}", e.message));
            None
        }
    };
    let reach = match unreachable_by_config(&call.instance) {
        Some(r) => r,
        None => {
            let conn = service::direct_params(&call.instance)?;
            wal::reachability(
                &conn,
                tools.as_ref().map(|t| t.psql.path.as_path()),
                Some(&slot),
            )
            .await
        }
    };
    let waldump = tools
        .as_ref()
        .and_then(|t| t.pg_waldump.as_ref())
        .map(|t| t.path.clone());
    let want_commit = a.last_commit.unwrap_or(true);
    let seg = reach.wal_segment_size;
    let dir = archive.clone();
    let listing = tokio::task::spawn_blocking(move || {
        let mut l = wal::list_archive(&dir, seg)?;
        let mut note = None;
        if want_commit {
            match &waldump {
                Some(w) => {
                    if let Err(e) = wal::find_last_commit(&mut l, w) {
                        note = Some(e.to_string());
                    }
                }
                None => {
                    note = Some("pg_waldump is not installed: the last commit is not known".into())
                }
            }
        }
        Ok::<_, wal::WalError>((l, note))
    })
    .await
    .map_err(|e| ToolError::internal(e.to_string()))?
    .map_err(wal::tool_error)?;
    let (listing, note) = listing;
    warnings.extend(note);
    let running: Vec<Value> = wal::running_archivers()
        .into_iter()
        .filter(|s| Path::new(&s.archive_dir) == archive)
        .map(|s| serde_json::to_value(s).unwrap_or(Value::Null))
        .collect();
    let archiving = running.iter().any(|s| s["running"] == json!(true));
    if reach.reachable && cfg.wal.is_none() {
        warnings.push("WAL is reachable but serve is not archiving it: start serve with --wal-archive-dir (or [backup.wal] archive_dir), or run `supabase-mcp backup wal`".into());
    }
    if !listing.gaps.is_empty() {
        warnings.push(format!(
            "the archive has {} gap(s): recovery cannot cross one; take a new base backup after the last gap",
            listing.gaps.len()
        ));
    }
    let mut out = ToolOutput::trusted(json!({
        "reachable": reach.reachable,
        "reasons": reach.reasons,
        "suggestion": reach.suggestion,
        "reachability": serde_json::to_value(&reach).unwrap_or(Value::Null),
        "serve_archiving": {
            "configured": cfg.wal.is_some(),
            "running": archiving,
            "archivers": running,
        },
        "archive": serde_json::to_value(&listing).unwrap_or(Value::Null),
    }));
    for w in warnings {
        out = out.warn(w);
    }
    Ok(out)
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PlanArgs {
    /// The moment to recover to (RFC 3339, e.g. 2026-11-25T08:00:00Z).
    #[schemars(with = "DateTime<Utc>")]
    pub target_time: String,
}

/// The `target_time` argument, with an error that shows the expected form.
fn target_time(text: &str) -> Result<DateTime<Utc>, ToolError> {
    DateTime::parse_from_rfc3339(text.trim())
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| {
            ToolError::invalid(format!("`target_time` `{text}` is not an RFC 3339 time: {e}"))
                .suggestion("Give a date, time and zone, e.g. 2026-11-25T08:00:00Z or 2026-11-25T09:00:00+01:00.")
        })
}

/// Checks and builds the plan on a blocking thread.
async fn checked_plan(call: &Call, target: DateTime<Utc>) -> Result<PitrPlan, ToolError> {
    let cfg = call.state.config.backup.clone();
    let key = configured_key(call)?;
    let waldump = match client_tools(call).await {
        Ok(t) => t.pg_waldump.map(|t| t.path),
        Err(_) => None,
    };
    let instance = call.instance.name.clone();
    basebackup::run_blocking(
        &call.cancel,
        &|_| {},
        move |stop: &AtomicBool, _: &AtomicU64| {
            let archive = wal::archive_dir(&cfg);
            wal::plan_pitr(
                &PlanRequest {
                    backup_dir: &cfg.dir,
                    archive_dir: &archive,
                    instance: Some(&instance),
                    target,
                    key: key.as_ref(),
                    pg_waldump: waldump.as_deref(),
                    now: Utc::now(),
                },
                stop,
            )
        },
    )
    .await?
    .map_err(wal::tool_error)
}

async fn plan_pitr(call: Call, a: PlanArgs) -> Result<ToolOutput, ToolError> {
    let plan = checked_plan(&call, target_time(&a.target_time)?).await?;
    let mut out = ToolOutput::trusted(json!({
        "ok": true,
        "plan": serde_json::to_value(&plan).unwrap_or(Value::Null),
        "next_step": "prepare_pitr with the same target_time and an empty data_dir writes the data directory; then start PostgreSQL on it.",
    }));
    for w in &plan.warnings {
        out = out.warn(w.clone());
    }
    Ok(out)
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PrepareArgs {
    /// The moment to recover to (RFC 3339, e.g. 2026-11-25T08:00:00Z).
    #[schemars(with = "DateTime<Utc>")]
    pub target_time: String,
    /// Absolute path of a new or empty directory to write the data directory into.
    pub data_dir: String,
}

async fn prepare_pitr(call: Call, a: PrepareArgs) -> Result<ToolOutput, ToolError> {
    let dir = PathBuf::from(&a.data_dir);
    if a.data_dir.trim().is_empty() || !dir.is_absolute() || a.data_dir.contains('\0') {
        return Err(ToolError::invalid(format!(
            "`data_dir` {} is not an absolute path",
            a.data_dir
        ))
        .suggestion(
            "Give an absolute path to a new or empty directory, e.g. /var/lib/postgresql/pitr.",
        ));
    }
    let plan = checked_plan(&call, target_time(&a.target_time)?).await?;
    let key = configured_key(&call)?;
    let p2 = plan.clone();
    let prepared = basebackup::run_blocking(
        &call.cancel,
        &|_| {},
        move |stop: &AtomicBool, _: &AtomicU64| wal::prepare_pitr(&p2, &dir, key.as_ref(), stop),
    )
    .await?
    .map_err(wal::tool_error)?;
    let mut out = ToolOutput::trusted(json!({
        "prepared": serde_json::to_value(&prepared).unwrap_or(Value::Null),
        "plan": serde_json::to_value(&plan).unwrap_or(Value::Null),
        "next_step": format!(
            "Start PostgreSQL {} on it: {} — it replays WAL {} to {} and promotes at {}.",
            plan.base_backup.server_version,
            prepared.start_command,
            plan.wal.first_segment,
            plan.wal.last_segment,
            wal::target_literal(plan.target_time),
        ),
    }));
    for w in plan.warnings.iter().chain(&prepared.warnings) {
        out = out.warn(w.clone());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_running_and_kinds() {
        for t in tools() {
            let long = t.name != "wal_archive_status";
            assert_eq!(t.long_running, long, "{}", t.name);
            let read = matches!(t.name, "wal_archive_status" | "plan_pitr");
            assert_eq!(t.kind == Kind::Read, read, "{}", t.name);
            assert_eq!(t.group, Group::Backups);
        }
    }

    #[test]
    fn target_times_are_rfc3339_with_a_clear_error_otherwise() {
        let t = target_time("2026-11-25T09:00:00+01:00").unwrap();
        assert_eq!(t.to_rfc3339(), "2026-11-25T08:00:00+00:00");
        for bad in ["yesterday", "2026-11-25", "2026-11-25 08:00:00"] {
            let e = target_time(bad).unwrap_err();
            assert_eq!(e.code, ErrorCode::InvalidArguments, "{bad}");
            assert!(e.message.contains(bad), "{}", e.message);
            assert!(
                e.suggestion
                    .as_deref()
                    .unwrap_or("")
                    .contains("2026-11-25T08:00:00Z")
            );
        }
    }
}
