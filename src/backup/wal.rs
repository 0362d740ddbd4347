//! Incremental backups by WAL archiving, and point-in-time recovery plans.
//!
//! This module owns:
//! - [`reachability`]: whether the replication protocol (and so WAL) is
//!   reachable on an instance, and if not, why, in plain words: a managed
//!   cloud host (decided without connecting), a role without REPLICATION,
//!   `wal_level = minimal`, `max_wal_senders = 0` or all in use, no
//!   replication slots, or a `pg_hba.conf` that refuses replication
//!   connections (checked with `IDENTIFY_SYSTEM` over a replication
//!   connection);
//! - [`WalArchiver`]: `pg_receivewal` into an archive directory through a
//!   physical replication slot (created first, so the server keeps the WAL
//!   the archiver has not received yet), restarted with backoff when it
//!   exits, stopped cleanly with SIGINT; [`spawn_for_serve`] runs one while
//!   `serve` runs, logging to stderr and the audit log;
//! - [`list_archive`]: the segments present, timelines, gaps, the
//!   `.partial` segment being written, and the time covered (file times,
//!   and the last commit found by `pg_waldump`);
//! - [`plan_pitr`]: the checked plan of a point-in-time recovery: which
//!   base backup, which WAL range, the exact `postgresql.auto.conf`
//!   settings and the ordered steps; every failed check is an error that
//!   names what is missing and what to do;
//! - [`prepare_pitr`]: a data directory that recovers to the target when
//!   started (base backup extracted, `recovery.signal`, the settings).
//!
//! Segments are named `TTTTTTTTXXXXXXXXYYYYYYYY` (timeline, then the segment
//! number split by `0x1_0000_0000 / wal_segment_size`). Only complete
//! segments are used for recovery; `.partial` is the one still streaming.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fs;
use std::io::{self, BufRead, Read};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, NaiveDateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};
use tokio::io::AsyncBufReadExt;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::basebackup::{self, BaseBackupError};
use super::crypt::KeySource;
use super::manifest::{Encryption, Kind, Manifest, ManifestError};
use super::pgtools;
use super::pipeline::{self, PipelineError};
use super::service;
use crate::config::BackupConfig;
use crate::db::connstr::ConnParams;
use crate::result::{ErrorCode, ToolError};
use crate::server::State;

/// The archiver's replication slot unless configured otherwise.
pub const DEFAULT_SLOT: &str = "supabase_mcp_wal";
/// PostgreSQL's default `wal_segment_size`.
pub const DEFAULT_SEGMENT_SIZE: u64 = 16 * 1024 * 1024;
/// What to do on Supabase's cloud platform.
pub const CLOUD_SUGGESTION: &str = "Supabase's cloud platform does not expose physical replication, so WAL cannot be archived from here: use list_cloud_backups (the project's backups and PITR window) and restore_cloud_pitr (point-in-time restore with the PITR add-on). Logical backups (backup_database) still work over the direct connection.";
/// The signal file that makes PostgreSQL start in targeted recovery.
pub const SIGNAL_FILE: &str = "recovery.signal";
/// The largest clock difference assumed between the database server and
/// the archive's file system.
const CLOCK_SKEW: TimeDelta = TimeDelta::minutes(5);
/// Segments `pg_waldump` reads at most while looking for the target.
const WALDUMP_LIMIT: usize = 512;

#[derive(Debug, thiserror::Error)]
pub enum WalError {
    #[error("cannot read the WAL archive {path}: {message}")]
    Archive { path: String, message: String },
    #[error("the backup manifest cannot be read: {0}")]
    Manifest(#[from] ManifestError),
    #[error(
        "there is no base backup{scope}: a point-in-time recovery replays WAL forward from a physical base backup"
    )]
    NoBaseBackup { scope: String },
    #[error(
        "{target} is before the first base backup ({id}, finished at {stop}): WAL can only be replayed forward from a base backup"
    )]
    TargetBeforeBase {
        target: String,
        id: String,
        stop: String,
    },
    #[error("{target} is in the future (it is now {now})")]
    TargetInFuture { target: String, now: String },
    #[error("base backup {id} cannot be used: {message}")]
    BadEntry { id: String, message: String },
    #[error("the file of base backup {id} ({path}) is missing")]
    BaseFileMissing { id: String, path: String },
    #[error(
        "base backup {id}: the file's SHA-256 is {actual}, the manifest says {expected}: the file was changed or replaced"
    )]
    BaseHash {
        id: String,
        expected: String,
        actual: String,
    },
    #[error("base backup {id} is encrypted, and no backup key is configured")]
    KeyNeeded { id: String },
    #[error("base backup {id} cannot be decrypted: {message}")]
    WrongKey { id: String, message: String },
    #[error(
        "WAL segment {segment} is missing from the archive {dir}: replay from base backup {base} cannot get past it (the archive has {before} and then {after})"
    )]
    MissingSegment {
        segment: String,
        dir: String,
        base: String,
        before: String,
        after: String,
    },
    #[error(
        "{target} is past the end of the WAL archive {dir}: {detail}; recovery stops at the first transaction that ended after the target, and none is archived yet"
    )]
    TargetAfterArchive {
        target: String,
        dir: String,
        detail: String,
    },
    #[error(
        "the archive path {0} cannot be written into restore_command safely (it contains a quote, `\\`, `$`, `%`, a backquote or a line break)"
    )]
    UnsafeArchivePath(String),
    #[error("{path} is not an empty directory: prepare_pitr writes only into a new or empty one")]
    NotEmpty { path: String },
    #[error("cannot prepare {path}: {message}")]
    Prepare { path: String, message: String },
    #[error("{0}")]
    Base(#[from] BaseBackupError),
    #[error(
        "replication slot name `{0}` is not valid: use 1 to 63 lowercase letters, digits and underscores"
    )]
    Slot(String),
    #[error("cancelled")]
    Cancelled,
}

impl WalError {
    fn code(&self) -> ErrorCode {
        match self {
            WalError::NoBaseBackup { .. }
            | WalError::BaseFileMissing { .. }
            | WalError::MissingSegment { .. } => ErrorCode::NotFound,
            WalError::TargetBeforeBase { .. }
            | WalError::TargetInFuture { .. }
            | WalError::TargetAfterArchive { .. }
            | WalError::KeyNeeded { .. }
            | WalError::WrongKey { .. }
            | WalError::NotEmpty { .. }
            | WalError::UnsafeArchivePath(_)
            | WalError::Slot(_) => ErrorCode::InvalidArguments,
            WalError::Cancelled => ErrorCode::Cancelled,
            _ => ErrorCode::Io,
        }
    }

    /// What to do about it.
    pub fn suggestion(&self) -> &'static str {
        match self {
            WalError::Archive { .. } => {
                "Check the WAL archive directory (--wal-archive-dir) exists and is readable."
            }
            WalError::Manifest(_) => {
                "The manifest is in the backup directory (--backup-dir); restore it from a copy or move it aside."
            }
            WalError::NoBaseBackup { .. } => {
                "Take one with create_base_backup (with the WAL archiver running), then plan from a moment after it."
            }
            WalError::TargetBeforeBase { .. } => {
                "Pick a target after the first base backup finished (list_backups shows them), or restore a logical backup made before it (restore_backup)."
            }
            WalError::TargetInFuture { .. } => "Pick a moment in the past.",
            WalError::BadEntry { .. }
            | WalError::BaseHash { .. }
            | WalError::BaseFileMissing { .. } => {
                "Use another base backup: take a new one with create_base_backup, and check the backup storage."
            }
            WalError::KeyNeeded { .. } | WalError::WrongKey { .. } => {
                "Start the server with the --backup-passphrase or --backup-key-file the base backup was made with."
            }
            WalError::MissingSegment { .. } => {
                "That WAL was never archived (the archiver was not running) or was removed; recovery cannot cross the gap. Pick a target before the gap, or take a new base backup (create_base_backup) with the archiver running and recover from it."
            }
            WalError::TargetAfterArchive { .. } => {
                "Pick an earlier target, or wait until newer WAL is archived: a segment is archived once full; on the server, SELECT pg_switch_wal() finishes the current one (with the archiver running)."
            }
            WalError::UnsafeArchivePath(_) => {
                "Move the WAL archive to a plain path (letters, digits, `/`, `-`, `_`, `.`, spaces) and set --wal-archive-dir."
            }
            WalError::NotEmpty { .. } => {
                "Give a new or empty directory; never the data directory of a running server."
            }
            WalError::Prepare { .. } => {
                "Check free space and permissions of the target directory; what was written was removed."
            }
            WalError::Base(_) => {
                "The base backup is damaged or the key is wrong; what was written was removed. Verify it with verify_backup or use another base backup."
            }
            WalError::Slot(_) => "Set a slot name such as supabase_mcp_wal.",
            WalError::Cancelled => "Run it again when needed.",
        }
    }
}

/// A [`WalError`] as a tool error with its suggestion.
pub fn tool_error(e: WalError) -> ToolError {
    let s = e.suggestion();
    ToolError::new(e.code(), e.to_string()).suggestion(s)
}

/// WAL archiving in `serve` (`[backup.wal]`, `--wal-archive-dir`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalConfig {
    pub archive_dir: PathBuf,
    /// The physical replication slot the archiver streams through.
    pub slot: String,
    /// The instance to archive (default: the first).
    pub instance: Option<String>,
}

/// Checks a replication slot name (PostgreSQL's own rule).
pub fn valid_slot(name: &str) -> Result<(), WalError> {
    if (1..=63).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    {
        Ok(())
    } else {
        Err(WalError::Slot(name.to_owned()))
    }
}

/// The WAL archive directory: the configured one, else `<backup dir>/wal`.
pub fn archive_dir(cfg: &BackupConfig) -> PathBuf {
    cfg.wal
        .as_ref()
        .map(|w| w.archive_dir.clone())
        .unwrap_or_else(|| cfg.dir.join("wal"))
}

/// The configured slot name, else [`DEFAULT_SLOT`].
pub fn slot_name(cfg: &BackupConfig) -> String {
    cfg.wal
        .as_ref()
        .map(|w| w.slot.clone())
        .unwrap_or_else(|| DEFAULT_SLOT.to_owned())
}

// ---------------------------------------------------------------- LSNs and segments

/// `0/2000028` → 0x2000028.
pub fn parse_lsn(s: &str) -> Option<u64> {
    let (hi, lo) = s.trim().split_once('/')?;
    let hi = u64::from_str_radix(hi, 16).ok()?;
    let lo = u64::from_str_radix(lo, 16).ok()?;
    (hi <= u32::MAX as u64 && lo <= u32::MAX as u64).then_some((hi << 32) | lo)
}

fn segments_per_id(segment_size: u64) -> u64 {
    0x1_0000_0000 / segment_size.max(1)
}

fn valid_segment_size(size: u64) -> bool {
    size.is_power_of_two() && (1 << 20..=1 << 30).contains(&size)
}

/// A WAL segment: timeline and segment number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SegmentId {
    pub timeline: u32,
    pub segno: u64,
}

impl SegmentId {
    /// Parses a 24-hex-digit segment file name.
    pub fn parse(name: &str, segment_size: u64) -> Option<SegmentId> {
        if name.len() != 24 || !name.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let timeline = u32::from_str_radix(&name[..8], 16).ok()?;
        let log = u64::from_str_radix(&name[8..16], 16).ok()?;
        let seg = u64::from_str_radix(&name[16..], 16).ok()?;
        let per = segments_per_id(segment_size);
        (seg < per).then_some(SegmentId {
            timeline,
            segno: log * per + seg,
        })
    }

    /// The segment holding `lsn` on `timeline`.
    pub fn of_lsn(timeline: u32, lsn: u64, segment_size: u64) -> SegmentId {
        SegmentId {
            timeline,
            segno: lsn / segment_size.max(1),
        }
    }

    /// The file name.
    pub fn name(&self, segment_size: u64) -> String {
        let per = segments_per_id(segment_size);
        format!(
            "{:08X}{:08X}{:08X}",
            self.timeline,
            self.segno / per,
            self.segno % per
        )
    }
}

// ---------------------------------------------------------------- connections

/// Why `conn` is a managed Supabase cloud endpoint (no physical
/// replication), decided from the host and user alone, without connecting.
pub fn cloud_reason(conn: &ConnParams) -> Option<String> {
    let host = conn.host.to_ascii_lowercase();
    let platform = [
        ".supabase.co",
        ".supabase.com",
        ".supabase.net",
        ".supabase.red",
    ]
    .iter()
    .any(|d| host.ends_with(d));
    if platform {
        let what = if host.contains(".pooler.") {
            "a Supabase cloud pooler (Supavisor)"
        } else {
            "a Supabase cloud project's database"
        };
        return Some(format!(
            "{} is {what}: the platform does not expose physical replication (no REPLICATION role, no replication connections), so WAL is not reachable from outside",
            conn.host
        ));
    }
    if conn
        .user
        .as_deref()
        .and_then(|u| u.strip_prefix("postgres."))
        .is_some_and(|t| t.len() == 20)
    {
        return Some(format!(
            "user {} connects through Supabase's Supavisor pooler, which does not carry replication connections",
            conn.user_or_default()
        ));
    }
    None
}

/// Arguments and environment of a replication program (`pg_basebackup`,
/// `pg_receivewal`): host, port and user, never the password (it is in
/// `PGPASSWORD`); no database name (their `--dbname` is a connection string).
pub fn replication_connection(conn: &ConnParams) -> (Vec<String>, Vec<(String, String)>) {
    let (args, env) = pipeline::connection(conn);
    (
        args.into_iter()
            .filter(|a| !a.starts_with("--dbname="))
            .collect(),
        env,
    )
}

/// A SQL connection with the instance's TLS settings.
pub(crate) async fn connect(conn: &ConnParams) -> Result<tokio_postgres::Client, String> {
    let tls = crate::db::tls::connector(conn).map_err(|e| e.to_string())?;
    let mut config = conn.to_pg_config();
    config.connect_timeout(Duration::from_secs(10));
    let (client, connection) = config
        .connect(tls)
        .await
        .map_err(|e| crate::pg::describe_error(&e))?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!("WAL check connection closed: {e}");
        }
    });
    Ok(client)
}

// ---------------------------------------------------------------- reachability

/// The server settings that decide whether WAL can be streamed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerFacts {
    pub user: String,
    pub replication_role: bool,
    pub superuser: bool,
    pub wal_level: String,
    pub max_wal_senders: i64,
    pub wal_senders_in_use: i64,
    pub max_replication_slots: i64,
}

/// Reasons (with their fixes) the server refuses WAL streaming, from its settings.
pub fn diagnose(f: &ServerFacts) -> Vec<(String, String)> {
    let mut out = Vec::new();
    if !f.replication_role && !f.superuser {
        out.push((
            format!(
                "role {} lacks the REPLICATION attribute (rolreplication is false), so it cannot open replication connections",
                f.user
            ),
            format!(
                "As a superuser: ALTER ROLE \"{}\" WITH REPLICATION; or connect as a role that has it.",
                f.user.replace('"', "\"\"")
            ),
        ));
    }
    if f.wal_level == "minimal" {
        out.push((
            "wal_level is minimal: the server writes too little WAL to archive or replicate"
                .to_owned(),
            "Set wal_level = replica (in postgresql.conf or ALTER SYSTEM) and restart the server."
                .to_owned(),
        ));
    }
    if f.max_wal_senders == 0 {
        out.push((
            "max_wal_senders is 0: the server accepts no replication connections".to_owned(),
            "Set max_wal_senders = 10 (or at least 2) and restart the server.".to_owned(),
        ));
    } else if f.wal_senders_in_use >= f.max_wal_senders {
        out.push((
            format!(
                "all {} WAL senders (max_wal_senders) are in use",
                f.max_wal_senders
            ),
            "Raise max_wal_senders and restart, or stop another replication client.".to_owned(),
        ));
    }
    if f.max_replication_slots == 0 {
        out.push((
            "max_replication_slots is 0: the archiver cannot hold WAL on the server with a slot"
                .to_owned(),
            "Set max_replication_slots = 10 (or at least 1) and restart the server.".to_owned(),
        ));
    }
    out
}

/// A plain reason and fix for a failed replication connection.
pub fn interpret_replication_error(stderr: &str, user: &str) -> (String, String) {
    let s = stderr.to_ascii_lowercase();
    if s.contains("pg_hba.conf") {
        (
            format!("pg_hba.conf refuses replication connections for user {user} from this host"),
            format!(
                "Add a line such as `host replication {user} <this machine's address>/32 scram-sha-256` to pg_hba.conf and reload the server (SELECT pg_reload_conf())."
            ),
        )
    } else if s.contains("superuser or replication role")
        || s.contains("permission denied to start wal sender")
    {
        (
            format!("role {user} lacks the REPLICATION attribute"),
            format!("As a superuser: ALTER ROLE \"{user}\" WITH REPLICATION;"),
        )
    } else if s.contains("max_wal_senders") {
        (
            "no WAL sender is free (max_wal_senders)".to_owned(),
            "Raise max_wal_senders and restart, or stop another replication client.".to_owned(),
        )
    } else if s.contains("password authentication failed") || s.contains("no password supplied") {
        (
            format!("the replication connection was refused: wrong or missing password for {user}"),
            "Put the password in --db-url.".to_owned(),
        )
    } else {
        let tail: String = stderr.trim().chars().take(600).collect();
        (
            format!("the replication connection failed: {tail}"),
            "Check that the server accepts replication connections from this host (pg_hba.conf, max_wal_senders, a role with REPLICATION).".to_owned(),
        )
    }
}

/// `IDENTIFY_SYSTEM` over a replication connection.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ReplicationCheck {
    pub ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub system_identifier: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeline: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub xlogpos: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The archiver's slot on the server.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SlotInfo {
    pub name: String,
    pub exists: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub active: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub restart_lsn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wal_status: Option<String>,
}

/// Whether WAL is reachable, and why not.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Reachability {
    pub reachable: bool,
    /// Plain sentences: why WAL is not reachable.
    pub reasons: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suggestion: Option<String>,
    /// A managed cloud endpoint (decided without connecting).
    pub cloud: bool,
    pub connected: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replication_role: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wal_level: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_wal_senders: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wal_senders_in_use: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_replication_slots: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_version_num: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wal_segment_size: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replication_connection: Option<ReplicationCheck>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub slot: Option<SlotInfo>,
}

impl Reachability {
    fn refuse(mut self, reason: String, fix: String) -> Self {
        self.reachable = false;
        self.reasons.push(reason);
        self.suggestion = Some(match self.suggestion.take() {
            Some(s) => format!("{s} {fix}"),
            None => fix,
        });
        self
    }
}

/// Checks whether WAL can be streamed from `conn`: the cloud test first
/// (no connection), then the server's settings over SQL, then (with
/// `psql`) `IDENTIFY_SYSTEM` over a replication connection, which is what
/// `pg_hba.conf` decides. `slot` adds the slot's state.
pub async fn reachability(
    conn: &ConnParams,
    psql: Option<&Path>,
    slot: Option<&str>,
) -> Reachability {
    let r = Reachability::default();
    if let Some(reason) = cloud_reason(conn) {
        let mut r = r.refuse(reason, CLOUD_SUGGESTION.to_owned());
        r.cloud = true;
        return r;
    }
    let client = match connect(conn).await {
        Ok(c) => c,
        Err(e) => {
            return r.refuse(
                format!("cannot connect to {}:{}: {e}", conn.host, conn.port),
                "Check --db-url (a direct connection, port 5432) and that the server runs.".into(),
            );
        }
    };
    let mut r = Reachability {
        connected: true,
        ..r
    };
    let row = client
        .query_one(
            "SELECT current_user::text, \
               COALESCE((SELECT rolreplication FROM pg_roles WHERE rolname = current_user), false), \
               COALESCE((SELECT rolsuper FROM pg_roles WHERE rolname = current_user), false), \
               current_setting('wal_level'), current_setting('max_wal_senders')::int8, \
               current_setting('max_replication_slots')::int8, \
               (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'walsender'), \
               current_setting('server_version'), current_setting('server_version_num')::int8, \
               (SELECT setting::int8 FROM pg_settings WHERE name = 'wal_segment_size')",
            &[],
        )
        .await;
    let row = match row {
        Ok(row) => row,
        Err(e) => {
            return r.refuse(
                format!(
                    "cannot read the server's replication settings: {}",
                    crate::pg::describe_error(&e)
                ),
                "Connect as a role that can read pg_settings and pg_roles.".into(),
            );
        }
    };
    let facts = ServerFacts {
        user: row.get(0),
        replication_role: row.get(1),
        superuser: row.get(2),
        wal_level: row.get(3),
        max_wal_senders: row.get(4),
        max_replication_slots: row.get(5),
        wal_senders_in_use: row.get(6),
    };
    r.user = Some(facts.user.clone());
    r.replication_role = Some(facts.replication_role || facts.superuser);
    r.wal_level = Some(facts.wal_level.clone());
    r.max_wal_senders = Some(facts.max_wal_senders);
    r.wal_senders_in_use = Some(facts.wal_senders_in_use);
    r.max_replication_slots = Some(facts.max_replication_slots);
    r.server_version = Some(row.get(7));
    r.server_version_num = Some(row.get(8));
    r.wal_segment_size = row
        .get::<_, Option<i64>>(9)
        .and_then(|s| u64::try_from(s).ok());
    if let Some(name) = slot {
        let found = client
            .query_opt(
                "SELECT active, restart_lsn::text, wal_status FROM pg_replication_slots \
                 WHERE slot_name = $1 AND slot_type = 'physical'",
                &[&name],
            )
            .await;
        r.slot = Some(match found {
            Ok(Some(s)) => SlotInfo {
                name: name.to_owned(),
                exists: true,
                active: s.get(0),
                restart_lsn: s.get(1),
                wal_status: s.get(2),
            },
            _ => SlotInfo {
                name: name.to_owned(),
                exists: false,
                ..Default::default()
            },
        });
    }
    let problems = diagnose(&facts);
    r.reachable = true;
    for (reason, fix) in problems {
        r = r.refuse(reason, fix);
    }
    if r.reachable
        && let Some(psql) = psql
    {
        let check = identify_system(psql, conn).await;
        if !check.ok {
            let (reason, fix) =
                interpret_replication_error(check.error.as_deref().unwrap_or(""), &facts.user);
            r = r.refuse(reason, fix);
        }
        r.replication_connection = Some(check);
    }
    r
}

/// Runs `IDENTIFY_SYSTEM` over a physical replication connection with `psql`.
pub async fn identify_system(psql: &Path, conn: &ConnParams) -> ReplicationCheck {
    let (mut args, env) = replication_connection(conn);
    args.extend(
        [
            "--no-password",
            "-X",
            "-A",
            "-t",
            "-c",
            "IDENTIFY_SYSTEM",
            "--dbname=replication=true",
        ]
        .map(String::from),
    );
    let out = tokio::process::Command::new(psql)
        .args(&args)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .env_remove("PGSERVICE")
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output();
    let out = match tokio::time::timeout(Duration::from_secs(30), out).await {
        Ok(Ok(o)) => o,
        Ok(Err(e)) => {
            return ReplicationCheck {
                error: Some(format!("cannot run {}: {e}", psql.display())),
                ..Default::default()
            };
        }
        Err(_) => {
            return ReplicationCheck {
                error: Some("no answer within 30 s".into()),
                ..Default::default()
            };
        }
    };
    let text = String::from_utf8_lossy(&out.stdout);
    let fields: Vec<&str> = text.trim().split('|').collect();
    if out.status.success() && fields.len() >= 3 {
        ReplicationCheck {
            ok: true,
            system_identifier: Some(fields[0].to_owned()),
            timeline: fields[1].parse().ok(),
            xlogpos: Some(fields[2].to_owned()),
            error: None,
        }
    } else {
        ReplicationCheck {
            error: Some(String::from_utf8_lossy(&out.stderr).trim().to_owned()),
            ..Default::default()
        }
    }
}

// ---------------------------------------------------------------- archive listing

/// One file of the archive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ArchivedSegment {
    pub name: String,
    #[serde(skip)]
    pub id: SegmentId,
    pub bytes: u64,
    /// The file's modification time (when its last byte was written).
    pub modified: DateTime<Utc>,
}

/// Complete segments of one timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TimelineRange {
    pub timeline: u32,
    pub first: String,
    pub last: String,
    pub segments: u64,
}

/// Segments missing between two archived ones of a timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Gap {
    pub timeline: u32,
    pub first_missing: String,
    pub last_missing: String,
    pub count: u64,
}

/// What the archive directory holds.
#[derive(Debug, Clone, Serialize)]
pub struct ArchiveListing {
    pub dir: String,
    pub exists: bool,
    pub segment_size: u64,
    /// Complete segments.
    pub segments: u64,
    pub timelines: Vec<TimelineRange>,
    pub gaps: Vec<Gap>,
    /// The segment `pg_receivewal` is writing (not usable for recovery yet).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub partial: Option<ArchivedSegment>,
    pub history_files: Vec<String>,
    /// Other files, not used (at most 20 named).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ignored: Vec<String>,
    /// When the oldest and newest complete segments were written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oldest_written: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub newest_written: Option<DateTime<Utc>>,
    /// The last transaction end found in the newest complete segments (pg_waldump).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_commit: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_commit_segment: Option<String>,
    /// Complete segments, oldest first.
    #[serde(skip)]
    pub complete: Vec<ArchivedSegment>,
}

fn modified(meta: &fs::Metadata) -> DateTime<Utc> {
    meta.modified()
        .map(DateTime::<Utc>::from)
        .unwrap_or(DateTime::<Utc>::UNIX_EPOCH)
}

/// Lists the archive directory `dir`. `segment_size` is the server's
/// `wal_segment_size` when known; else it is read from the files' sizes.
pub fn list_archive(dir: &Path, segment_size: Option<u64>) -> Result<ArchiveListing, WalError> {
    let mut listing = ArchiveListing {
        dir: dir.display().to_string(),
        exists: dir.is_dir(),
        segment_size: segment_size.unwrap_or(DEFAULT_SEGMENT_SIZE),
        segments: 0,
        timelines: Vec::new(),
        gaps: Vec::new(),
        partial: None,
        history_files: Vec::new(),
        ignored: Vec::new(),
        oldest_written: None,
        newest_written: None,
        last_commit: None,
        last_commit_segment: None,
        complete: Vec::new(),
    };
    if !listing.exists {
        return Ok(listing);
    }
    let err = |e: io::Error| WalError::Archive {
        path: dir.display().to_string(),
        message: e.to_string(),
    };
    let mut complete: Vec<(String, u64, DateTime<Utc>)> = Vec::new();
    let mut partials: Vec<(String, u64, DateTime<Utc>)> = Vec::new();
    let mut ignored = 0usize;
    for item in fs::read_dir(dir).map_err(err)? {
        let item = item.map_err(err)?;
        let meta = item.metadata().map_err(err)?;
        if !meta.is_file() {
            continue;
        }
        let name = item.file_name().to_string_lossy().into_owned();
        let hex24 = |s: &str| s.len() == 24 && s.bytes().all(|b| b.is_ascii_hexdigit());
        if hex24(&name) {
            complete.push((name.to_uppercase(), meta.len(), modified(&meta)));
        } else if let Some(base) = name.strip_suffix(".partial")
            && hex24(base)
        {
            partials.push((base.to_uppercase(), meta.len(), modified(&meta)));
        } else if name.len() == 16
            && name.ends_with(".history")
            && name[..8].bytes().all(|b| b.is_ascii_hexdigit())
        {
            listing.history_files.push(name);
        } else {
            ignored += 1;
            if listing.ignored.len() < 20 {
                listing.ignored.push(name);
            }
        }
    }
    if ignored > listing.ignored.len() {
        listing
            .ignored
            .push(format!("... and {} more", ignored - listing.ignored.len()));
    }
    listing.history_files.sort();
    if segment_size.is_none() {
        let mut counts: BTreeMap<u64, usize> = BTreeMap::new();
        for (_, len, _) in complete.iter().chain(&partials) {
            if valid_segment_size(*len) {
                *counts.entry(*len).or_default() += 1;
            }
        }
        if let Some((size, _)) = counts.iter().max_by_key(|(_, n)| **n) {
            listing.segment_size = *size;
        }
    }
    let seg = listing.segment_size;
    let to_segment = |(name, bytes, modified): (String, u64, DateTime<Utc>)| {
        SegmentId::parse(&name, seg).map(|id| ArchivedSegment {
            name,
            id,
            bytes,
            modified,
        })
    };
    let mut segs: Vec<ArchivedSegment> = complete.into_iter().filter_map(to_segment).collect();
    segs.sort_by_key(|s| s.id);
    listing.partial = partials
        .into_iter()
        .filter_map(to_segment)
        .max_by_key(|s| s.id);
    let mut by_tli: BTreeMap<u32, Vec<&ArchivedSegment>> = BTreeMap::new();
    for s in &segs {
        by_tli.entry(s.id.timeline).or_default().push(s);
    }
    for (tli, list) in &by_tli {
        if let (Some(first), Some(last)) = (list.first(), list.last()) {
            listing.timelines.push(TimelineRange {
                timeline: *tli,
                first: first.name.clone(),
                last: last.name.clone(),
                segments: list.len() as u64,
            });
        }
        for w in list.windows(2) {
            let (a, b) = (w[0].id.segno, w[1].id.segno);
            if b > a + 1 {
                let name = |segno| {
                    SegmentId {
                        timeline: *tli,
                        segno,
                    }
                    .name(seg)
                };
                listing.gaps.push(Gap {
                    timeline: *tli,
                    first_missing: name(a + 1),
                    last_missing: name(b - 1),
                    count: b - a - 1,
                });
            }
        }
    }
    listing.segments = segs.len() as u64;
    listing.oldest_written = segs.iter().map(|s| s.modified).min();
    listing.newest_written = segs.iter().map(|s| s.modified).max();
    listing.complete = segs;
    Ok(listing)
}

/// Fills in the last transaction end of the archive: `pg_waldump` on the
/// newest complete segments (up to 4, newest first) of the newest timeline.
pub fn find_last_commit(listing: &mut ArchiveListing, pg_waldump: &Path) -> Result<(), WalError> {
    let dir = PathBuf::from(&listing.dir);
    let newest_tli = listing.complete.last().map(|s| s.id.timeline);
    let candidates: Vec<String> = listing
        .complete
        .iter()
        .rev()
        .filter(|s| Some(s.id.timeline) == newest_tli)
        .take(4)
        .map(|s| s.name.clone())
        .collect();
    for name in candidates {
        let times = commit_times(pg_waldump, &dir, &name)?;
        if let Some(t) = times.into_iter().max() {
            listing.last_commit = Some(t);
            listing.last_commit_segment = Some(name);
            return Ok(());
        }
    }
    Ok(())
}

/// The time of a transaction's end in a `pg_waldump` line (commit or abort,
/// prepared or not), printed in UTC (`TZ=UTC`).
pub fn parse_commit_time(line: &str) -> Option<DateTime<Utc>> {
    let (_, desc) = line.split_once("desc: ")?;
    let kind = desc.split_whitespace().next()?;
    if !matches!(
        kind.trim_end_matches(';'),
        "COMMIT" | "ABORT" | "COMMIT_PREPARED" | "ABORT_PREPARED"
    ) {
        return None;
    }
    let end = desc.find(" UTC")?;
    let mut words = desc[..end].rsplit(' ');
    let time = words.next()?;
    let date = words.next()?;
    NaiveDateTime::parse_from_str(&format!("{date} {time}"), "%Y-%m-%d %H:%M:%S%.f")
        .ok()
        .map(|n| n.and_utc())
}

/// The end times of the transactions recorded in segment `name` of `dir`.
pub fn commit_times(
    pg_waldump: &Path,
    dir: &Path,
    name: &str,
) -> Result<Vec<DateTime<Utc>>, WalError> {
    let program_err = |message: String| WalError::Archive {
        path: dir.join(name).display().to_string(),
        message,
    };
    let mut child = std::process::Command::new(pg_waldump)
        .arg(format!("--path={}", dir.display()))
        .arg("--rmgr=Transaction")
        .arg(name)
        .env("TZ", "UTC")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| program_err(format!("cannot run {}: {e}", pg_waldump.display())))?;
    let stderr = child.stderr.take().map(|mut e| {
        std::thread::spawn(move || {
            let mut s = String::new();
            let _ = e.read_to_string(&mut s);
            s
        })
    });
    let mut times = Vec::new();
    if let Some(out) = child.stdout.take() {
        for line in io::BufReader::new(out).lines() {
            let Ok(line) = line else { break };
            if let Some(t) = parse_commit_time(&line) {
                times.push(t);
            }
        }
    }
    let status = child
        .wait()
        .map_err(|e| program_err(format!("pg_waldump: {e}")))?;
    let text = stderr.and_then(|h| h.join().ok()).unwrap_or_default();
    // pg_waldump reports the end of valid WAL as an error; what it printed still counts.
    if !status.success()
        && times.is_empty()
        && !text.contains("invalid record length")
        && !text.contains("could not find a valid record")
    {
        return Err(program_err(format!(
            "pg_waldump failed ({status}): {}",
            text.trim().chars().take(500).collect::<String>()
        )));
    }
    Ok(times)
}

// ---------------------------------------------------------------- the archiver

/// How to run [`WalArchiver`].
#[derive(Debug, Clone)]
pub struct ArchiverOptions {
    pub pg_receivewal: PathBuf,
    pub conn: ConnParams,
    pub archive_dir: PathBuf,
    pub slot: String,
    /// First wait before a restart; doubled after each quick failure.
    pub min_backoff: Duration,
    pub max_backoff: Duration,
}

impl ArchiverOptions {
    pub fn new(
        pg_receivewal: PathBuf,
        conn: ConnParams,
        archive_dir: PathBuf,
        slot: String,
    ) -> Self {
        Self {
            pg_receivewal,
            conn,
            archive_dir,
            slot,
            min_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(60),
        }
    }

    /// `pg_receivewal` arguments (streaming into the archive through the slot).
    pub fn receive_args(&self) -> (Vec<String>, Vec<(String, String)>) {
        let (mut args, env) = replication_connection(&self.conn);
        args.extend([
            format!("--directory={}", self.archive_dir.display()),
            format!("--slot={}", self.slot),
            "--no-password".to_owned(),
            // Flush every write and report it at once: what the server
            // may recycle is on disk here.
            "--synchronous".to_owned(),
            // Exit on connection errors: the archiver restarts it with backoff.
            "--no-loop".to_owned(),
            "--verbose".to_owned(),
        ]);
        (args, env)
    }

    /// `pg_receivewal` arguments that create the slot if it is missing.
    pub fn create_slot_args(&self) -> (Vec<String>, Vec<(String, String)>) {
        let (mut args, env) = replication_connection(&self.conn);
        args.extend([
            "--create-slot".to_owned(),
            "--if-not-exists".to_owned(),
            format!("--slot={}", self.slot),
            "--no-password".to_owned(),
        ]);
        (args, env)
    }
}

/// What happened to the archiver (for logs and the audit log).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum ArchiverEvent {
    Started {
        pid: u32,
    },
    SlotFailed {
        error: String,
        retry_in_secs: u64,
    },
    Exited {
        status: String,
        error: String,
        ran_secs: u64,
        restart_in_secs: u64,
    },
    Stopped,
}

/// The archiver's state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ArchiverStatus {
    pub archive_dir: String,
    pub slot: String,
    /// `pg_receivewal` is running now.
    pub running: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
    pub started_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub running_since: Option<DateTime<Utc>>,
    pub restarts: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error_at: Option<DateTime<Utc>>,
    pub stopped: bool,
}

type Shared = Arc<Mutex<ArchiverStatus>>;

/// Archivers running in this process (what `wal_archive_status` reports).
static RUNNING: Mutex<Vec<Shared>> = Mutex::new(Vec::new());

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The archivers running in this process.
pub fn running_archivers() -> Vec<ArchiverStatus> {
    lock(&RUNNING).iter().map(|s| lock(s).clone()).collect()
}

/// `pg_receivewal` kept running into an archive directory.
pub struct WalArchiver {
    status: Shared,
    cancel: CancellationToken,
    task: JoinHandle<()>,
}

impl WalArchiver {
    /// Creates the archive directory (mode 0700) and starts the archiver
    /// loop on the current runtime. `on_event` hears every start, exit and
    /// stop.
    pub fn start<E>(opts: ArchiverOptions, on_event: E) -> Result<WalArchiver, WalError>
    where
        E: Fn(&ArchiverEvent) + Send + Sync + 'static,
    {
        valid_slot(&opts.slot)?;
        create_private_dir(&opts.archive_dir).map_err(|e| WalError::Archive {
            path: opts.archive_dir.display().to_string(),
            message: e.to_string(),
        })?;
        let status: Shared = Arc::new(Mutex::new(ArchiverStatus {
            archive_dir: opts.archive_dir.display().to_string(),
            slot: opts.slot.clone(),
            started_at: Some(Utc::now()),
            ..Default::default()
        }));
        lock(&RUNNING).push(status.clone());
        let cancel = CancellationToken::new();
        let task = tokio::spawn(archive_loop(opts, status.clone(), cancel.clone(), on_event));
        Ok(WalArchiver {
            status,
            cancel,
            task,
        })
    }

    pub fn status(&self) -> ArchiverStatus {
        lock(&self.status).clone()
    }

    /// Stops `pg_receivewal` (SIGINT: it flushes and exits) and the loop.
    pub async fn stop(self) -> ArchiverStatus {
        self.cancel.cancel();
        if tokio::time::timeout(Duration::from_secs(30), self.task)
            .await
            .is_err()
        {
            tracing::warn!("the WAL archiver did not stop within 30 s");
        }
        let status = self.status.clone();
        lock(&RUNNING).retain(|s| !Arc::ptr_eq(s, &status));
        lock(&status).clone()
    }
}

fn create_private_dir(dir: &Path) -> io::Result<()> {
    fs::create_dir_all(dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

fn tail(lines: &Mutex<VecDeque<String>>) -> String {
    let l = lock(lines);
    l.iter().cloned().collect::<Vec<_>>().join("\n")
}

/// Runs a program to its end with a time limit; returns its stderr on failure.
async fn run_to_end(
    program: &Path,
    args: &[String],
    env: &[(String, String)],
) -> Result<(), String> {
    let out = tokio::process::Command::new(program)
        .args(args)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .env_remove("PGSERVICE")
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output();
    match tokio::time::timeout(Duration::from_secs(60), out).await {
        Ok(Ok(o)) if o.status.success() => Ok(()),
        Ok(Ok(o)) => Err(format!(
            "{} ({})",
            String::from_utf8_lossy(&o.stderr).trim(),
            o.status
        )),
        Ok(Err(e)) => Err(format!("cannot run {}: {e}", program.display())),
        Err(_) => Err("no answer within 60 s".into()),
    }
}

/// Asks a process to stop with SIGINT (`kill -INT`); false when that failed.
async fn interrupt(pid: u32) -> bool {
    tokio::process::Command::new("kill")
        .args(["-INT", &pid.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .await
        .map(|s| s.success())
        .unwrap_or(false)
}

/// Waits `d`, or less when cancelled; true when cancelled.
async fn pause(cancel: &CancellationToken, d: Duration) -> bool {
    tokio::select! {
        _ = cancel.cancelled() => true,
        _ = tokio::time::sleep(d) => false,
    }
}

async fn archive_loop<E>(
    opts: ArchiverOptions,
    status: Shared,
    cancel: CancellationToken,
    on_event: E,
) where
    E: Fn(&ArchiverEvent) + Send + Sync + 'static,
{
    let mut backoff = opts.min_backoff;
    let set_error = |msg: &str| {
        let mut s = lock(&status);
        s.last_error = Some(msg.to_owned());
        s.last_error_at = Some(Utc::now());
    };
    'outer: while !cancel.is_cancelled() {
        let (args, env) = opts.create_slot_args();
        if let Err(e) = run_to_end(&opts.pg_receivewal, &args, &env).await {
            set_error(&e);
            on_event(&ArchiverEvent::SlotFailed {
                error: e,
                retry_in_secs: backoff.as_secs(),
            });
            if pause(&cancel, backoff).await {
                break;
            }
            backoff = (backoff * 2).min(opts.max_backoff);
            continue;
        }
        let (args, env) = opts.receive_args();
        let spawned = tokio::process::Command::new(&opts.pg_receivewal)
            .args(&args)
            .envs(env.iter().map(|(k, v)| (k, v)))
            .env_remove("PGSERVICE")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn();
        let mut child = match spawned {
            Ok(c) => c,
            Err(e) => {
                let msg = format!("cannot start {}: {e}", opts.pg_receivewal.display());
                set_error(&msg);
                on_event(&ArchiverEvent::Exited {
                    status: "not started".into(),
                    error: msg,
                    ran_secs: 0,
                    restart_in_secs: backoff.as_secs(),
                });
                if pause(&cancel, backoff).await {
                    break;
                }
                backoff = (backoff * 2).min(opts.max_backoff);
                continue;
            }
        };
        let pid = child.id().unwrap_or(0);
        let lines: Arc<Mutex<VecDeque<String>>> = Arc::new(Mutex::new(VecDeque::new()));
        let reader = child.stderr.take().map(|err| {
            let lines = lines.clone();
            tokio::spawn(async move {
                let mut it = tokio::io::BufReader::new(err).lines();
                while let Ok(Some(line)) = it.next_line().await {
                    tracing::debug!("pg_receivewal: {line}");
                    let mut l = lock(&lines);
                    l.push_back(line);
                    if l.len() > 20 {
                        l.pop_front();
                    }
                }
            })
        });
        let started = Instant::now();
        {
            let mut s = lock(&status);
            s.running = true;
            s.pid = Some(pid);
            s.running_since = Some(Utc::now());
        }
        on_event(&ArchiverEvent::Started { pid });
        let exit = tokio::select! {
            r = child.wait() => Some(r),
            _ = cancel.cancelled() => None,
        };
        let exit = match exit {
            Some(r) => r,
            None => {
                // Stop: SIGINT makes pg_receivewal flush what it has and exit.
                if !interrupt(pid).await {
                    let _ = child.start_kill();
                }
                match tokio::time::timeout(Duration::from_secs(15), child.wait()).await {
                    Ok(_) => {}
                    Err(_) => {
                        let _ = child.start_kill();
                        let _ = child.wait().await;
                    }
                }
                if let Some(r) = reader {
                    let _ = tokio::time::timeout(Duration::from_secs(2), r).await;
                }
                let mut s = lock(&status);
                s.running = false;
                s.pid = None;
                s.running_since = None;
                break 'outer;
            }
        };
        if let Some(r) = reader {
            let _ = tokio::time::timeout(Duration::from_secs(2), r).await;
        }
        let ran = started.elapsed();
        if ran >= Duration::from_secs(60) {
            backoff = opts.min_backoff;
        }
        let status_text = match &exit {
            Ok(s) => s.to_string(),
            Err(e) => e.to_string(),
        };
        let text = tail(&lines);
        let error = if text.is_empty() {
            "no error output".to_owned()
        } else {
            text.lines()
                .filter(|l| {
                    !l.contains("finished segment") && !l.contains("starting log streaming")
                })
                .collect::<Vec<_>>()
                .join("; ")
        };
        {
            let mut s = lock(&status);
            s.running = false;
            s.pid = None;
            s.running_since = None;
            s.restarts += 1;
            s.last_error = Some(format!("pg_receivewal exited ({status_text}): {error}"));
            s.last_error_at = Some(Utc::now());
        }
        on_event(&ArchiverEvent::Exited {
            status: status_text,
            error,
            ran_secs: ran.as_secs(),
            restart_in_secs: backoff.as_secs(),
        });
        if pause(&cancel, backoff).await {
            break;
        }
        backoff = (backoff * 2).min(opts.max_backoff);
    }
    lock(&status).stopped = true;
    on_event(&ArchiverEvent::Stopped);
}

// ---------------------------------------------------------------- serve

fn audit(state: &State, instance: &str, args: serde_json::Value, outcome: Result<(), String>) {
    let entry = crate::audit::Entry {
        ts: Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        instance,
        tool: "wal_archiver",
        arguments: args,
        outcome: if outcome.is_ok() { "ok" } else { "error" },
        error_code: outcome.err(),
        duration_ms: 0,
    };
    if let Err(e) = state.audit.record(entry) {
        tracing::warn!("{e}");
    }
}

/// Runs the WAL archiver of `wal` while `serve` runs: checks that WAL is
/// reachable (retrying every 5 minutes, saying why not), then keeps
/// `pg_receivewal` running until `cancel`. Starts, exits and stops go to
/// the log (stderr) and the audit log as `wal_archiver`.
pub fn spawn_for_serve(
    state: Arc<State>,
    wal: WalConfig,
    cancel: CancellationToken,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let base = json!({"archive_dir": wal.archive_dir.display().to_string(), "slot": wal.slot});
        let with = |event: &str| {
            let mut v = base.clone();
            v["event"] = json!(event);
            v
        };
        let Some(inst) = state.config.instance(wal.instance.as_deref()).cloned() else {
            tracing::warn!("WAL archiving: no instance {:?}", wal.instance);
            audit(
                &state,
                "",
                with("not_started"),
                Err("no such instance".into()),
            );
            return;
        };
        let conn = match service::direct_params(&inst) {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!("WAL archiving is off: {}", e.message);
                audit(&state, &inst.name, with("not_started"), Err(e.message));
                return;
            }
        };
        if let Some(reason) = cloud_reason(&conn) {
            tracing::warn!(
                "WAL archiving is off: WAL is not reachable: {reason}. {CLOUD_SUGGESTION}"
            );
            audit(&state, &inst.name, with("not_started"), Err(reason));
            return;
        }
        let cfg = &state.config.backup;
        let tools = match pgtools::find(cfg.pg_bin_dir.as_deref(), 0).await {
            Ok(t) => t,
            Err(e) => {
                tracing::warn!("WAL archiving is off: {e}");
                audit(&state, &inst.name, with("not_started"), Err(e.to_string()));
                return;
            }
        };
        let Some(receivewal) = tools.pg_receivewal.clone() else {
            let msg = format!(
                "pg_receivewal is not installed next to {}; install the full PostgreSQL client or pass --pg-bin-dir",
                tools.pg_dump.path.display()
            );
            tracing::warn!("WAL archiving is off: {msg}");
            audit(&state, &inst.name, with("not_started"), Err(msg));
            return;
        };
        let mut said = String::new();
        loop {
            let r = reachability(&conn, Some(&tools.psql.path), Some(&wal.slot)).await;
            if r.reachable {
                break;
            }
            let why = r.reasons.join("; ");
            if why != said {
                tracing::warn!(
                    "WAL archiving waits: WAL is not reachable: {why}. {} (checking again every 5 minutes)",
                    r.suggestion.clone().unwrap_or_default()
                );
                audit(&state, &inst.name, with("not_reachable"), Err(why.clone()));
                said = why;
            }
            if pause(&cancel, Duration::from_secs(300)).await {
                return;
            }
        }
        let opts = ArchiverOptions::new(
            receivewal.path,
            conn,
            wal.archive_dir.clone(),
            wal.slot.clone(),
        );
        let (st, name) = (state.clone(), inst.name.clone());
        let events = with("");
        let archiver = WalArchiver::start(opts, move |e: &ArchiverEvent| {
            let mut args = events.clone();
            if let Ok(serde_json::Value::Object(m)) = serde_json::to_value(e) {
                for (k, v) in m {
                    args[k] = v;
                }
            }
            match e {
                ArchiverEvent::Started { pid } => {
                    tracing::info!("WAL archiver started (pg_receivewal pid {pid})");
                    audit(&st, &name, args, Ok(()));
                }
                ArchiverEvent::SlotFailed {
                    error,
                    retry_in_secs,
                } => {
                    tracing::warn!(
                        "WAL archiver: cannot create the replication slot: {error}; retrying in {retry_in_secs}s"
                    );
                    audit(&st, &name, args, Err(error.clone()));
                }
                ArchiverEvent::Exited {
                    status,
                    error,
                    restart_in_secs,
                    ..
                } => {
                    tracing::warn!(
                        "WAL archiver: pg_receivewal exited ({status}): {error}; restarting in {restart_in_secs}s"
                    );
                    audit(&st, &name, args, Err(error.clone()));
                }
                ArchiverEvent::Stopped => {
                    tracing::info!("WAL archiver stopped");
                    audit(&st, &name, args, Ok(()));
                }
            }
        });
        let archiver = match archiver {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!("WAL archiving is off: {e}");
                audit(&state, &inst.name, with("not_started"), Err(e.to_string()));
                return;
            }
        };
        cancel.cancelled().await;
        archiver.stop().await;
    })
}

// ---------------------------------------------------------------- the plan

/// One `postgresql.auto.conf` setting (the value unquoted).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Setting {
    pub name: String,
    pub value: String,
}

/// The base backup a plan starts from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedBase {
    pub id: String,
    pub file: String,
    pub path: String,
    pub created_at: DateTime<Utc>,
    pub stop_time: DateTime<Utc>,
    pub start_lsn: String,
    pub start_wal_file: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop_lsn: Option<String>,
    pub timeline: u32,
    pub server_version: String,
    pub sha256: String,
    pub stored_bytes: u64,
    pub raw_bytes: u64,
    pub encrypted: bool,
}

/// The WAL a plan replays.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedWal {
    pub timeline: u32,
    pub first_segment: String,
    pub last_segment: String,
    pub segments: u64,
    /// The part stored inside the base backup.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from_base_backup: Option<(String, String)>,
    /// The part read from the archive by `restore_command`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from_archive: Option<(String, String)>,
    /// The first transaction end after the target (where replay stops).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stops_at_transaction_ending: Option<DateTime<Utc>>,
    /// Whether `pg_waldump` confirmed that the WAL reaches past the target.
    pub confirmed_by_waldump: bool,
}

/// A checked point-in-time recovery plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PitrPlan {
    pub target_time: DateTime<Utc>,
    pub base_backup: PlannedBase,
    pub wal: PlannedWal,
    pub archive_dir: String,
    /// Appended to `postgresql.auto.conf`.
    pub settings: Vec<Setting>,
    /// The exact lines appended.
    pub auto_conf: String,
    /// Created empty in the data directory.
    pub signal_file: String,
    /// What to do, in order (`<DATA_DIR>` and `<PORT>` to fill in).
    pub steps: Vec<String>,
    /// What was checked.
    pub checks: Vec<String>,
    pub warnings: Vec<String>,
}

/// What [`plan_pitr`] needs.
#[derive(Debug, Clone, Copy)]
pub struct PlanRequest<'a> {
    /// The backup directory (its manifest lists the base backups).
    pub backup_dir: &'a Path,
    pub archive_dir: &'a Path,
    /// Only base backups of this instance.
    pub instance: Option<&'a str>,
    pub target: DateTime<Utc>,
    /// The key of encrypted base backups (checked against the file).
    pub key: Option<&'a KeySource>,
    /// To find the transaction ends in segments; without it the file times decide.
    pub pg_waldump: Option<&'a Path>,
    pub now: DateTime<Utc>,
}

/// `recovery_target_time` as PostgreSQL reads it.
pub fn target_literal(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S%.6f+00").to_string()
}

fn conf_quote(v: &str) -> String {
    format!("'{}'", v.replace('\'', "''"))
}

/// `restore_command` copying segments out of `archive` (an absolute,
/// plain path).
pub fn restore_command(archive: &Path) -> Result<String, WalError> {
    let s = archive.display().to_string();
    if !archive.is_absolute()
        || s.chars()
            .any(|c| matches!(c, '\'' | '"' | '\\' | '$' | '`' | '%' | '\n' | '\r'))
    {
        return Err(WalError::UnsafeArchivePath(s));
    }
    Ok(format!("cp \"{s}/%f\" \"%p\""))
}

fn sha256_of(path: &Path, cancel: &AtomicBool) -> io::Result<(String, u64)> {
    let mut f = fs::File::open(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut n_total = 0u64;
    loop {
        if cancel.load(Ordering::Relaxed) {
            return Err(io::Error::new(io::ErrorKind::Interrupted, "cancelled"));
        }
        let n = match f.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        h.update(&buf[..n]);
        n_total += n as u64;
    }
    Ok((hex::encode(h.finalize()), n_total))
}

/// Checks and returns the plan of a recovery to `req.target` (see the
/// module docs). Blocking: hashes the base backup and reads segments.
pub fn plan_pitr(req: &PlanRequest<'_>, cancel: &AtomicBool) -> Result<PitrPlan, WalError> {
    let target = req.target;
    let rfc = |t: DateTime<Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    if target > req.now {
        return Err(WalError::TargetInFuture {
            target: rfc(target),
            now: rfc(req.now),
        });
    }
    let manifest = Manifest::load(req.backup_dir)?;
    let mut bases: Vec<_> = manifest
        .entries
        .iter()
        .filter(|e| e.kind == Kind::Base && req.instance.is_none_or(|i| e.instance == i))
        .filter_map(|e| e.base_info().map(|b| (e, b)))
        .collect();
    bases.sort_by_key(|(e, b)| (b.stop_time, e.id.clone()));
    let Some((first, first_info)) = bases.first() else {
        return Err(WalError::NoBaseBackup {
            scope: req
                .instance
                .map(|i| format!(" of instance {i}"))
                .unwrap_or_default(),
        });
    };
    let Some((entry, info)) = bases.iter().rev().find(|(_, b)| b.stop_time <= target) else {
        return Err(WalError::TargetBeforeBase {
            target: rfc(target),
            id: first.id.clone(),
            stop: rfc(first_info.stop_time),
        });
    };
    let mut checks = vec![format!(
        "base backup {} finished at {}, before the target",
        entry.id,
        rfc(info.stop_time)
    )];
    let mut warnings = Vec::new();
    let bad = |message: String| WalError::BadEntry {
        id: entry.id.clone(),
        message,
    };

    // The file and its hash.
    let path = req.backup_dir.join(&entry.file);
    let path = path.canonicalize().unwrap_or(path);
    if !path.is_file() {
        return Err(WalError::BaseFileMissing {
            id: entry.id.clone(),
            path: path.display().to_string(),
        });
    }
    let (sha, size) = sha256_of(&path, cancel).map_err(|e| {
        if cancel.load(Ordering::Relaxed) {
            WalError::Cancelled
        } else {
            bad(format!("cannot read {}: {e}", path.display()))
        }
    })?;
    if sha != entry.sha256 {
        return Err(WalError::BaseHash {
            id: entry.id.clone(),
            expected: entry.sha256.clone(),
            actual: sha,
        });
    }
    checks.push(format!(
        "the file {} is there ({size} bytes) and its SHA-256 matches the manifest",
        entry.file
    ));
    let encrypted = matches!(entry.encryption, Encryption::Aes256Gcm { .. });
    if encrypted {
        let Some(key) = req.key else {
            return Err(WalError::KeyNeeded {
                id: entry.id.clone(),
            });
        };
        match pipeline::open_stored(&path, Some(key)) {
            Ok(_) => checks.push("the configured key decrypts it".into()),
            Err(PipelineError::Crypt(e)) => {
                return Err(WalError::WrongKey {
                    id: entry.id.clone(),
                    message: e.to_string(),
                });
            }
            Err(e) => return Err(bad(e.to_string())),
        }
    }

    // The WAL chain.
    let seg_size = info.wal_segment_size;
    if !valid_segment_size(seg_size) {
        return Err(bad(format!("wal_segment_size {seg_size} is not valid")));
    }
    let start = SegmentId::parse(&info.start_wal_file, seg_size).ok_or_else(|| {
        bad(format!(
            "start segment `{}` is not a segment name",
            info.start_wal_file
        ))
    })?;
    let tli = start.timeline;
    let in_base = info.wal_included.as_ref().and_then(|(a, b)| {
        let a = SegmentId::parse(a, seg_size)?;
        let b = SegmentId::parse(b, seg_size)?;
        (a.timeline == tli && b.timeline == tli).then_some((a.segno, b.segno))
    });
    let listing = list_archive(req.archive_dir, Some(seg_size))?;
    let archive_dir = req
        .archive_dir
        .canonicalize()
        .unwrap_or_else(|_| req.archive_dir.to_path_buf());
    let archived: BTreeMap<u64, &ArchivedSegment> = listing
        .complete
        .iter()
        .filter(|s| s.id.timeline == tli)
        .map(|s| (s.id.segno, s))
        .collect();
    if listing.complete.iter().any(|s| s.id.timeline > tli) {
        warnings.push(format!(
            "the archive also holds a later timeline than {tli} (a promotion happened): this plan replays timeline {tli} only"
        ));
    }
    let name = |segno: u64| {
        SegmentId {
            timeline: tli,
            segno,
        }
        .name(seg_size)
    };
    let newest = archived.keys().next_back().copied();
    let mut segno = start.segno;
    let mut from_archive: Option<(u64, u64)> = None;
    let mut waldumped = 0usize;
    let mut confirmed = false;
    let mut stop_at = None;
    let mut last_present: Option<u64> = None;
    loop {
        if cancel.load(Ordering::Relaxed) {
            return Err(WalError::Cancelled);
        }
        let base_has = in_base.is_some_and(|(a, b)| (a..=b).contains(&segno));
        match archived.get(&segno) {
            Some(seg) => {
                from_archive = Some(match from_archive {
                    Some((a, _)) => (a, segno),
                    None => (segno, segno),
                });
                // Records are older than the file's last write.
                let reaches = if seg.modified + CLOCK_SKEW < target {
                    false
                } else if let Some(waldump) = req.pg_waldump.filter(|_| waldumped < WALDUMP_LIMIT) {
                    waldumped += 1;
                    match commit_times(waldump, &listing_dir(&listing), &seg.name) {
                        Ok(times) => match times.into_iter().filter(|t| *t > target).min() {
                            Some(t) => {
                                confirmed = true;
                                stop_at = Some(t);
                                true
                            }
                            None => false,
                        },
                        Err(e) => {
                            warnings.push(format!("pg_waldump could not read {}: {e}", seg.name));
                            seg.modified > target + CLOCK_SKEW
                        }
                    }
                } else {
                    seg.modified > target + CLOCK_SKEW
                };
                if reaches {
                    break;
                }
            }
            None if base_has => {}
            None => {
                if newest.is_none_or(|n| segno > n) {
                    let detail = match (newest, listing.last_commit_segment.as_ref()) {
                        (None, _) => format!(
                            "it holds no complete segment of timeline {tli} from {} on",
                            name(start.segno)
                        ),
                        (Some(n), _) => {
                            let seg = archived.get(&n);
                            format!(
                                "its newest complete segment of timeline {tli} is {} (written {}), and no transaction in the WAL up to it ended after the target",
                                name(n),
                                seg.map(|s| rfc(s.modified)).unwrap_or_default()
                            )
                        }
                    };
                    return Err(WalError::TargetAfterArchive {
                        target: rfc(target),
                        dir: archive_dir.display().to_string(),
                        detail,
                    });
                }
                let after = archived
                    .range(segno..)
                    .next()
                    .map(|(n, _)| name(*n))
                    .unwrap_or_default();
                return Err(WalError::MissingSegment {
                    segment: name(segno),
                    dir: archive_dir.display().to_string(),
                    base: entry.id.clone(),
                    before: last_present.map(name).unwrap_or_else(|| "nothing".into()),
                    after,
                });
            }
        }
        last_present = Some(segno);
        segno += 1;
    }
    let last = segno;
    checks.push(format!(
        "every segment of timeline {tli} from {} to {} is in the base backup or the archive",
        name(start.segno),
        name(last)
    ));
    if confirmed {
        checks.push(format!(
            "pg_waldump finds a transaction ending at {} in {}, after the target: replay stops there",
            stop_at.map(rfc).unwrap_or_default(),
            name(last)
        ));
    } else {
        warnings.push(format!(
            "not confirmed with pg_waldump: segment {} was written after the target, so it should hold a later transaction; if recovery ends with `recovery ended before configured recovery target was reached`, archive more WAL (SELECT pg_switch_wal()) and start again",
            name(last)
        ));
    }

    let command = restore_command(&archive_dir)?;
    let settings = vec![
        Setting {
            name: "restore_command".into(),
            value: command,
        },
        Setting {
            name: "recovery_target_time".into(),
            value: target_literal(target),
        },
        Setting {
            name: "recovery_target_action".into(),
            value: "promote".into(),
        },
        Setting {
            name: "recovery_target_timeline".into(),
            value: "latest".into(),
        },
    ];
    let mut auto_conf = format!(
        "\n# Point-in-time recovery prepared by supabase-mcp: base backup {}, target {}\n",
        entry.id,
        rfc(target)
    );
    for s in &settings {
        auto_conf.push_str(&format!("{} = {}\n", s.name, conf_quote(&s.value)));
    }
    let major = entry
        .server_version
        .split('.')
        .next()
        .unwrap_or(&entry.server_version)
        .to_owned();
    let steps = vec![
        format!(
            "Choose an empty directory <DATA_DIR> on a disk with room for about {} bytes, owned by the user that runs PostgreSQL {major}.",
            entry.raw_bytes
        ),
        format!(
            "Extract base backup {} ({}) into it: decrypt, decompress, untar (prepare_pitr does steps 2 to 5).",
            entry.id, entry.file
        ),
        format!("Append to <DATA_DIR>/postgresql.auto.conf:{auto_conf}"),
        format!("Create the empty file <DATA_DIR>/{SIGNAL_FILE}."),
        "chmod 0700 <DATA_DIR> (PostgreSQL refuses a data directory others can read).".into(),
        format!(
            "Start PostgreSQL {major} on it: pg_ctl -D <DATA_DIR> -o \"-p <PORT>\" -l <DATA_DIR>/recovery.log start. It replays WAL {} to {} (copied from {} by restore_command), stops before the first transaction that ended after {}, and promotes.",
            name(start.segno),
            name(last),
            archive_dir.display(),
            rfc(target)
        ),
        "Wait until SELECT pg_is_in_recovery() returns false; the log says `recovery stopping before commit of transaction ...` and `database system is ready to accept connections`.".into(),
        "Check the data, then point clients at the new server (the original keeps running untouched); take a new base backup of it if it is to stay.".into(),
    ];
    Ok(PitrPlan {
        target_time: target,
        base_backup: PlannedBase {
            id: entry.id.clone(),
            file: entry.file.clone(),
            path: path.display().to_string(),
            created_at: entry.created_at,
            stop_time: info.stop_time,
            start_lsn: info.start_lsn.clone(),
            start_wal_file: info.start_wal_file.clone(),
            stop_lsn: info.stop_lsn.clone(),
            timeline: tli,
            server_version: entry.server_version.clone(),
            sha256: entry.sha256.clone(),
            stored_bytes: entry.stored_bytes,
            raw_bytes: entry.raw_bytes,
            encrypted,
        },
        wal: PlannedWal {
            timeline: tli,
            first_segment: name(start.segno),
            last_segment: name(last),
            segments: last - start.segno + 1,
            from_base_backup: info.wal_included.clone(),
            from_archive: from_archive.map(|(a, b)| (name(a), name(b))),
            stops_at_transaction_ending: stop_at,
            confirmed_by_waldump: confirmed,
        },
        archive_dir: archive_dir.display().to_string(),
        settings,
        auto_conf,
        signal_file: SIGNAL_FILE.into(),
        steps,
        checks,
        warnings,
    })
}

fn listing_dir(l: &ArchiveListing) -> PathBuf {
    PathBuf::from(&l.dir)
}

// ---------------------------------------------------------------- prepare

/// What [`prepare_pitr`] wrote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Prepared {
    pub data_dir: String,
    pub base_backup: String,
    pub target_time: DateTime<Utc>,
    pub files: u64,
    pub raw_bytes: u64,
    /// Files written besides the backup's (`postgresql.auto.conf`,
    /// `recovery.signal`, and minimal configuration files the backup lacked).
    pub written: Vec<String>,
    pub start_command: String,
    pub warnings: Vec<String>,
}

fn is_root() -> bool {
    fs::read_to_string("/proc/self/status").is_ok_and(|s| {
        s.lines()
            .find_map(|l| l.strip_prefix("Uid:"))
            .and_then(|r| r.split_whitespace().nth(1).map(|u| u == "0"))
            .unwrap_or(false)
    })
}

/// Makes `data_dir` (new or empty) a data directory that recovers to the
/// plan's target when started: the base backup extracted (its hash checked
/// as it streams), `recovery.signal`, the settings appended to
/// `postgresql.auto.conf`, mode 0700. On failure everything it wrote is
/// removed (and the directory too when it created it).
pub fn prepare_pitr(
    plan: &PitrPlan,
    data_dir: &Path,
    key: Option<&KeySource>,
    cancel: &AtomicBool,
) -> Result<Prepared, WalError> {
    let shown = data_dir.display().to_string();
    let created = match fs::metadata(data_dir) {
        Ok(m) if m.is_dir() => {
            let mut items = fs::read_dir(data_dir).map_err(|e| WalError::Prepare {
                path: shown.clone(),
                message: e.to_string(),
            })?;
            if items.next().is_some() {
                return Err(WalError::NotEmpty { path: shown });
            }
            false
        }
        Ok(_) => return Err(WalError::NotEmpty { path: shown }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            fs::create_dir_all(data_dir).map_err(|e| WalError::Prepare {
                path: shown.clone(),
                message: e.to_string(),
            })?;
            true
        }
        Err(e) => {
            return Err(WalError::Prepare {
                path: shown,
                message: e.to_string(),
            });
        }
    };
    let result = write_data_dir(plan, data_dir, key, cancel);
    if result.is_err() {
        if created {
            let _ = fs::remove_dir_all(data_dir);
        } else if let Ok(items) = fs::read_dir(data_dir) {
            for item in items.flatten() {
                let p = item.path();
                let _ = if p.is_dir() && !p.is_symlink() {
                    fs::remove_dir_all(&p)
                } else {
                    fs::remove_file(&p)
                };
            }
        }
    }
    result
}

fn write_data_dir(
    plan: &PitrPlan,
    data_dir: &Path,
    key: Option<&KeySource>,
    cancel: &AtomicBool,
) -> Result<Prepared, WalError> {
    let b = &plan.base_backup;
    let path = Path::new(&b.path);
    if !path.is_file() {
        return Err(WalError::BaseFileMissing {
            id: b.id.clone(),
            path: b.path.clone(),
        });
    }
    if b.encrypted && key.is_none() {
        return Err(WalError::KeyNeeded { id: b.id.clone() });
    }
    let x = match basebackup::extract(path, key, Some(&b.sha256), data_dir, cancel) {
        Ok(x) => x,
        Err(BaseBackupError::Pipeline(PipelineError::Crypt(e))) => {
            return Err(WalError::WrongKey {
                id: b.id.clone(),
                message: e.to_string(),
            });
        }
        Err(BaseBackupError::Pipeline(PipelineError::Cancelled)) => {
            return Err(WalError::Cancelled);
        }
        Err(BaseBackupError::Pipeline(PipelineError::HashMismatch { expected, actual })) => {
            return Err(WalError::BaseHash {
                id: b.id.clone(),
                expected,
                actual,
            });
        }
        Err(e) => return Err(e.into()),
    };
    if x.contents.label.start_wal_file != b.start_wal_file {
        return Err(WalError::BadEntry {
            id: b.id.clone(),
            message: format!(
                "its backup_label starts at {}, the manifest says {}",
                x.contents.label.start_wal_file, b.start_wal_file
            ),
        });
    }
    let io_err = |p: &Path, e: io::Error| WalError::Prepare {
        path: p.display().to_string(),
        message: e.to_string(),
    };
    let mut written = Vec::new();
    let mut warnings = Vec::new();
    let auto = data_dir.join("postgresql.auto.conf");
    {
        use std::io::Write;
        let mut f = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&auto)
            .map_err(|e| io_err(&auto, e))?;
        f.write_all(plan.auto_conf.as_bytes())
            .and_then(|_| f.sync_all())
            .map_err(|e| io_err(&auto, e))?;
    }
    written.push("postgresql.auto.conf".to_owned());
    let signal = data_dir.join(SIGNAL_FILE);
    fs::write(&signal, b"").map_err(|e| io_err(&signal, e))?;
    written.push(SIGNAL_FILE.to_owned());
    // Packaged clusters (Debian, the Supabase image) keep their configuration
    // outside the data directory; PostgreSQL does not start without it.
    for (file, content) in [
        (
            "postgresql.conf",
            "# Written by supabase-mcp prepare_pitr: the base backup had no postgresql.conf.\n\
             # Defaults apply; settings for the recovery are in postgresql.auto.conf.\n",
        ),
        (
            "pg_hba.conf",
            "# Written by supabase-mcp prepare_pitr: the base backup had no pg_hba.conf.\n\
             local   all   all                  peer\n\
             host    all   all   127.0.0.1/32   scram-sha-256\n\
             host    all   all   ::1/128        scram-sha-256\n",
        ),
        ("pg_ident.conf", "# Written by supabase-mcp prepare_pitr.\n"),
    ] {
        let p = data_dir.join(file);
        if !p.exists() {
            fs::write(&p, content).map_err(|e| io_err(&p, e))?;
            written.push(file.to_owned());
            warnings.push(format!(
                "the base backup had no {file} (the source keeps it outside the data directory); a minimal one was written: review it, or start with -c config_file=..."
            ));
        }
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(data_dir, fs::Permissions::from_mode(0o700))
            .map_err(|e| io_err(data_dir, e))?;
    }
    if is_root() {
        warnings.push(format!(
            "this ran as root: PostgreSQL refuses to run as root, so give the directory to its user first (chown -R postgres: {})",
            data_dir.display()
        ));
    }
    let dir_text = data_dir.display().to_string();
    Ok(Prepared {
        data_dir: dir_text.clone(),
        base_backup: b.id.clone(),
        target_time: plan.target_time,
        files: x.files,
        raw_bytes: x.contents.raw_bytes,
        written,
        start_command: format!(
            "pg_ctl -D '{dir_text}' -o \"-p <PORT>\" -l '{dir_text}/recovery.log' start"
        ),
        warnings,
    })
}

/// Distinct timelines in the archive (for reports).
pub fn timelines(listing: &ArchiveListing) -> BTreeSet<u32> {
    listing.timelines.iter().map(|t| t.timeline).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backup::manifest::{BaseInfo, DumpFormat, Entry};
    use chrono::TimeZone;

    const SEG: u64 = DEFAULT_SEGMENT_SIZE;

    #[test]
    fn segment_names_and_lsns() {
        let s = SegmentId::parse("000000010000000000000002", SEG).unwrap();
        assert_eq!(
            s,
            SegmentId {
                timeline: 1,
                segno: 2
            }
        );
        assert_eq!(s.name(SEG), "000000010000000000000002");
        let high = SegmentId::parse("0000000200000001000000FF", SEG).unwrap();
        assert_eq!(high.segno, 256 + 255);
        assert_eq!(
            SegmentId {
                timeline: 2,
                segno: 256
            }
            .name(SEG),
            "000000020000000100000000"
        );
        // 64 MiB segments: 64 per 4 GiB.
        let big = 64 * 1024 * 1024;
        assert_eq!(
            SegmentId::parse("00000001000000010000003F", big)
                .unwrap()
                .segno,
            127
        );
        assert_eq!(SegmentId::parse("000000010000000100000040", big), None);
        assert_eq!(SegmentId::parse("00000001000000000000000", SEG), None);
        assert_eq!(SegmentId::parse("00000001000000000000000G", SEG), None);
        assert_eq!(parse_lsn("0/2000028"), Some(0x2000028));
        assert_eq!(parse_lsn("1/0"), Some(1 << 32));
        assert_eq!(parse_lsn("x"), None);
        assert_eq!(
            SegmentId::of_lsn(1, 0x3016368, SEG).name(SEG),
            "000000010000000000000003"
        );
    }

    #[test]
    fn cloud_hosts_are_recognised_without_connecting() {
        for url in [
            "postgres://postgres:pw@db.abcdefghijklmnopqrst.supabase.co:5432/postgres",
            "postgres://postgres.abcdefghijklmnopqrst:pw@aws-0-eu-central-1.pooler.supabase.com:5432/postgres",
        ] {
            let c = ConnParams::parse(url).unwrap();
            let r = cloud_reason(&c).unwrap();
            assert!(r.contains("does not expose physical replication"), "{r}");
        }
        let tenant =
            ConnParams::parse("postgres://postgres.abcdefghijklmnopqrst:pw@10.0.0.1:5432/postgres")
                .unwrap();
        assert!(cloud_reason(&tenant).is_some());
        let local = ConnParams::parse("postgres://postgres@127.0.0.1:5432/postgres").unwrap();
        assert_eq!(cloud_reason(&local), None);
    }

    #[test]
    fn replication_programs_get_no_database_argument() {
        let c = ConnParams::parse("postgres://app:s3cret@db.example:5433/app").unwrap();
        let (args, env) = replication_connection(&c);
        assert!(
            args.iter()
                .all(|a| !a.starts_with("--dbname") && !a.contains("s3cret"))
        );
        assert!(args.contains(&"--port=5433".to_owned()));
        assert!(env.contains(&("PGPASSWORD".to_owned(), "s3cret".to_owned())));
        let o = ArchiverOptions::new("/x/pg_receivewal".into(), c, "/arch".into(), "s".into());
        let (a, _) = o.receive_args();
        for want in [
            "--directory=/arch",
            "--slot=s",
            "--no-loop",
            "--synchronous",
            "--no-password",
        ] {
            assert!(a.contains(&want.to_owned()), "{want} in {a:?}");
        }
        let (a, _) = o.create_slot_args();
        assert!(
            a.contains(&"--create-slot".to_owned()) && a.contains(&"--if-not-exists".to_owned())
        );
    }

    #[test]
    fn settings_are_diagnosed_plainly() {
        let ok = ServerFacts {
            user: "postgres".into(),
            replication_role: true,
            superuser: false,
            wal_level: "replica".into(),
            max_wal_senders: 10,
            wal_senders_in_use: 1,
            max_replication_slots: 10,
        };
        assert!(diagnose(&ok).is_empty());
        let bad = ServerFacts {
            user: "app".into(),
            replication_role: false,
            wal_level: "minimal".into(),
            max_wal_senders: 0,
            max_replication_slots: 0,
            ..ok.clone()
        };
        let text: Vec<String> = diagnose(&bad)
            .into_iter()
            .map(|(r, f)| format!("{r} => {f}"))
            .collect();
        let all = text.join("\n");
        assert_eq!(text.len(), 4, "{all}");
        assert!(
            all.contains("role app lacks the REPLICATION attribute"),
            "{all}"
        );
        assert!(all.contains("wal_level is minimal"), "{all}");
        assert!(all.contains("max_wal_senders is 0"), "{all}");
        assert!(all.contains("max_replication_slots is 0"), "{all}");
        let full = ServerFacts {
            wal_senders_in_use: 10,
            ..ok
        };
        assert!(diagnose(&full)[0].0.contains("in use"));

        let (r, f) = interpret_replication_error(
            "psql: error: connection to server at \"127.0.0.1\", port 5432 failed: FATAL:  no pg_hba.conf entry for replication connection from host \"127.0.0.1\", user \"app\", no encryption",
            "app",
        );
        assert!(r.contains("pg_hba.conf refuses replication"), "{r}");
        assert!(f.contains("host replication app"), "{f}");
        let (r, _) = interpret_replication_error(
            "FATAL:  must be superuser or replication role to start walsender",
            "app",
        );
        assert!(r.contains("lacks the REPLICATION"), "{r}");
    }

    #[test]
    fn waldump_lines_give_transaction_ends() {
        let c = "rmgr: Transaction len (rec/tot):    405/   405, tx:        724, lsn: 0/04000028, prev 0/03016368, desc: COMMIT 2026-11-25 22:16:51.350881 UTC; inval msgs: catcache 80";
        assert_eq!(
            parse_commit_time(c).unwrap().to_rfc3339(),
            "2026-11-25T22:16:51.350881+00:00"
        );
        let a = "rmgr: Transaction len (rec/tot): 34/34, tx: 9, lsn: 0/1, prev 0/0, desc: ABORT 2026-11-25 22:16:52.000001 UTC";
        assert!(parse_commit_time(a).is_some());
        let p = "rmgr: Transaction len (rec/tot): 34/34, tx: 9, lsn: 0/1, prev 0/0, desc: COMMIT_PREPARED 731: 2026-11-25 22:16:53 UTC;";
        assert_eq!(
            parse_commit_time(p).unwrap().to_rfc3339(),
            "2026-11-25T22:16:53+00:00"
        );
        let other = "rmgr: Transaction len (rec/tot): 385/385, tx: 724, lsn: 0/030161A0, prev 0/03016158, desc: INVALIDATION ; inval msgs: catcache 80";
        assert_eq!(parse_commit_time(other), None);
        assert_eq!(parse_commit_time("rmgr: XLOG desc: SWITCH"), None);
    }

    fn at(secs: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_790_000_000 + secs, 0).single().unwrap()
    }

    /// An archive file whose mtime is `secs`.
    fn segment(dir: &Path, name: &str, secs: i64, len: u64) {
        let p = dir.join(name);
        let f = fs::File::create(&p).unwrap();
        f.set_len(len).unwrap();
        f.set_modified(std::time::SystemTime::from(at(secs)))
            .unwrap();
    }

    #[test]
    fn archives_are_listed_with_gaps_timelines_and_the_partial_segment() {
        let dir = tempfile::tempdir().unwrap();
        let missing = list_archive(&dir.path().join("nope"), None).unwrap();
        assert!(!missing.exists);
        assert_eq!(missing.segments, 0);
        for (n, t) in [
            ("000000010000000000000003", 10),
            ("000000010000000000000004", 20),
            ("000000010000000000000007", 40),
            ("000000020000000000000007", 50),
        ] {
            segment(dir.path(), n, t, SEG);
        }
        segment(dir.path(), "000000020000000000000008.partial", 60, SEG);
        segment(dir.path(), "00000002.history", 45, 40);
        segment(dir.path(), "notes.txt", 1, 3);
        let l = list_archive(dir.path(), None).unwrap();
        assert_eq!(l.segment_size, SEG);
        assert_eq!(l.segments, 4);
        assert_eq!(l.timelines.len(), 2);
        assert_eq!(l.timelines[0].first, "000000010000000000000003");
        assert_eq!(l.timelines[0].last, "000000010000000000000007");
        assert_eq!(
            l.gaps,
            vec![Gap {
                timeline: 1,
                first_missing: "000000010000000000000005".into(),
                last_missing: "000000010000000000000006".into(),
                count: 2
            }]
        );
        assert_eq!(l.partial.as_ref().unwrap().name, "000000020000000000000008");
        assert_eq!(l.history_files, vec!["00000002.history"]);
        assert_eq!(l.ignored, vec!["notes.txt"]);
        assert_eq!(l.oldest_written, Some(at(10)));
        assert_eq!(l.newest_written, Some(at(50)));
        assert_eq!(timelines(&l).len(), 2);
    }

    /// A manifest with one unencrypted base backup (stop at `stop`) whose
    /// WAL starts at segment 2, and segment 2 inside it.
    fn with_base(dir: &Path, stop: i64) -> String {
        let file = "i-cluster-x.base.tar";
        fs::write(dir.join(file), b"not really a tar").unwrap();
        let sha = hex::encode(Sha256::digest(b"not really a tar"));
        let mut e = Entry {
            id: "20261125T000000Z-000001".into(),
            instance: "default".into(),
            database: "(cluster)".into(),
            created_at: at(stop - 5),
            kind: Kind::Base,
            format: DumpFormat::Plain,
            server_version: "15.8".into(),
            pg_dump_version: "15.8".into(),
            extensions: vec![],
            raw_bytes: 100,
            stored_bytes: 16,
            sha256: sha,
            file: file.into(),
            row_counts: Default::default(),
            compression: "none".into(),
            encryption: Encryption::None,
            tags: vec![],
            includes_roles: false,
            extra: Default::default(),
        };
        e.set_base_info(&BaseInfo {
            start_lsn: "0/2000028".into(),
            start_wal_file: "000000010000000000000002".into(),
            timeline: 1,
            start_time_text: String::new(),
            start_time: at(stop - 5),
            stop_lsn: Some("0/2000100".into()),
            stop_time: at(stop),
            wal_included: Some((
                "000000010000000000000002".into(),
                "000000010000000000000002".into(),
            )),
            wal_segment_size: SEG,
            format: "tar".into(),
        })
        .unwrap();
        Manifest::add_to(dir, e.clone()).unwrap();
        e.id
    }

    #[test]
    fn plans_are_checked() {
        let backups = tempfile::tempdir().unwrap();
        let archive = tempfile::tempdir().unwrap();
        let stop = AtomicBool::new(false);
        let req = |target: i64| PlanRequest {
            backup_dir: backups.path(),
            archive_dir: archive.path(),
            instance: None,
            target: at(target),
            key: None,
            pg_waldump: None,
            now: at(100_000),
        };
        let e = plan_pitr(&req(500), &stop).unwrap_err();
        assert!(matches!(e, WalError::NoBaseBackup { .. }), "{e}");
        let id = with_base(backups.path(), 100);
        for (n, t) in [
            ("000000010000000000000003", 200),
            ("000000010000000000000004", 300),
            ("000000010000000000000005", 2000),
        ] {
            segment(archive.path(), n, t, SEG);
        }
        let e = plan_pitr(&req(50), &stop).unwrap_err();
        assert!(matches!(e, WalError::TargetBeforeBase { .. }), "{e}");
        assert!(e.to_string().contains(&id), "{e}");
        let e = plan_pitr(&req(200_000), &stop).unwrap_err();
        assert!(matches!(e, WalError::TargetInFuture { .. }), "{e}");
        let e = plan_pitr(&req(5000), &stop).unwrap_err();
        assert!(matches!(e, WalError::TargetAfterArchive { .. }), "{e}");

        // Without pg_waldump the file times decide: the segment written
        // well after the target ends the range.
        let p = plan_pitr(&req(1000), &stop).unwrap();
        assert_eq!(p.base_backup.id, id);
        assert_eq!(p.wal.first_segment, "000000010000000000000002");
        assert_eq!(p.wal.last_segment, "000000010000000000000005");
        assert_eq!(
            p.wal.from_archive,
            Some((
                "000000010000000000000003".into(),
                "000000010000000000000005".into()
            ))
        );
        assert!(!p.wal.confirmed_by_waldump);
        assert!(!p.warnings.is_empty());
        let names: Vec<&str> = p.settings.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "restore_command",
                "recovery_target_time",
                "recovery_target_action",
                "recovery_target_timeline"
            ]
        );
        assert!(
            p.auto_conf.contains("recovery_target_action = 'promote'"),
            "{}",
            p.auto_conf
        );
        assert!(p.auto_conf.contains(&format!(
            "recovery_target_time = '{}'",
            target_literal(at(1000))
        )));
        assert!(
            p.auto_conf.contains("restore_command = 'cp \""),
            "{}",
            p.auto_conf
        );

        // A gap before the target.
        fs::remove_file(archive.path().join("000000010000000000000004")).unwrap();
        let e = plan_pitr(&req(1000), &stop).unwrap_err();
        assert!(matches!(e, WalError::MissingSegment { .. }), "{e}");
        assert!(e.to_string().contains("000000010000000000000004"), "{e}");

        // A changed base backup file.
        fs::write(backups.path().join("i-cluster-x.base.tar"), b"changed").unwrap();
        let e = plan_pitr(&req(1000), &stop).unwrap_err();
        assert!(matches!(e, WalError::BaseHash { .. }), "{e}");
        fs::remove_file(backups.path().join("i-cluster-x.base.tar")).unwrap();
        let e = plan_pitr(&req(1000), &stop).unwrap_err();
        assert!(matches!(e, WalError::BaseFileMissing { .. }), "{e}");
        let te = tool_error(e);
        assert!(te.suggestion.is_some());
    }

    #[test]
    fn restore_commands_refuse_unsafe_paths() {
        assert_eq!(
            restore_command(Path::new("/srv/wal archive")).unwrap(),
            "cp \"/srv/wal archive/%f\" \"%p\""
        );
        for bad in [
            "relative/wal",
            "/srv/it's",
            "/srv/$HOME",
            "/srv/a%b",
            "/srv/a\"b",
        ] {
            assert!(restore_command(Path::new(bad)).is_err(), "{bad}");
        }
        assert_eq!(conf_quote("it's"), "'it''s'");
        assert_eq!(target_literal(at(0)), "2026-09-21 14:13:20.000000+00");
    }

    #[test]
    fn prepare_refuses_a_non_empty_directory() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("x"), b"1").unwrap();
        let plan: PitrPlan = serde_json::from_value(json!({
            "target_time": "2026-11-25T00:00:00Z",
            "base_backup": {"id": "a", "file": "f", "path": "/nonexistent", "created_at": "2026-11-25T00:00:00Z",
              "stop_time": "2026-11-25T00:00:00Z", "start_lsn": "0/1", "start_wal_file": "000000010000000000000001",
              "timeline": 1, "server_version": "15", "sha256": "00", "stored_bytes": 1, "raw_bytes": 1, "encrypted": false},
            "wal": {"timeline": 1, "first_segment": "a", "last_segment": "b", "segments": 1, "confirmed_by_waldump": false},
            "archive_dir": "/a", "settings": [], "auto_conf": "", "signal_file": "recovery.signal",
            "steps": [], "checks": [], "warnings": []
        }))
        .unwrap();
        let stop = AtomicBool::new(false);
        let e = prepare_pitr(&plan, dir.path(), None, &stop).unwrap_err();
        assert!(matches!(e, WalError::NotEmpty { .. }), "{e}");
        assert!(
            dir.path().join("x").is_file(),
            "nothing of the user's is removed"
        );
        // A missing base file: the directory it created is removed again.
        let fresh = dir.path().join("new");
        let e = prepare_pitr(&plan, &fresh, None, &stop).unwrap_err();
        assert!(matches!(e, WalError::BaseFileMissing { .. }), "{e}");
        assert!(!fresh.exists());
    }

    #[test]
    fn the_archive_is_configured_by_flag_or_file() {
        use crate::cli::Options;
        use crate::config::Config;
        let dir = tempfile::tempdir().unwrap();
        let none = Config::resolve(
            &Options {
                backup_dir: Some(dir.path().join("b")),
                ..Options::default()
            },
            None,
        )
        .unwrap();
        assert_eq!(none.backup.wal, None);
        assert_eq!(archive_dir(&none.backup), dir.path().join("b").join("wal"));
        assert_eq!(slot_name(&none.backup), DEFAULT_SLOT);

        let file = dir.path().join("c.toml");
        fs::write(
            &file,
            "[backup.wal]\narchive_dir = \"/srv/wal\"\nslot = \"nightly_wal\"\ninstance = \"default\"\n",
        )
        .unwrap();
        let from_file = Config::resolve(
            &Options {
                config: Some(file.clone()),
                ..Options::default()
            },
            None,
        )
        .unwrap();
        let w = from_file.backup.wal.unwrap();
        assert_eq!(w.archive_dir, PathBuf::from("/srv/wal"));
        assert_eq!(w.slot, "nightly_wal");
        let flag = Config::resolve(
            &Options {
                config: Some(file.clone()),
                wal_archive_dir: Some("/mnt/wal".into()),
                ..Options::default()
            },
            None,
        )
        .unwrap();
        assert_eq!(
            flag.backup.wal.unwrap().archive_dir,
            PathBuf::from("/mnt/wal")
        );

        fs::write(
            &file,
            "[backup.wal]\narchive_dir = \"/srv/wal\"\nslot = \"Bad-Slot\"\n",
        )
        .unwrap();
        let e = Config::resolve(
            &Options {
                config: Some(file),
                ..Options::default()
            },
            None,
        )
        .unwrap_err();
        assert!(e.to_string().contains("Bad-Slot"), "{e}");
    }
}
