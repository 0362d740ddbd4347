//! Migration tools over [`crate::migrations`]: `list_migrations` and
//! `apply_migration` (group `database`, named and shaped as the official
//! server's, plus local files), and `apply_pending_migrations`,
//! `create_migration`, `dry_run_migration`, `rollback_migration`,
//! `validate_migrations` and `repair_migration_history` (group
//! `migrations`).
//!
//! Local files live in the configured migrations directory; the applied
//! history is the Supabase CLI's `supabase_migrations.schema_migrations`.
//! Runs need a direct (session) connection: the migration lock is a
//! session-level advisory lock, and the connection is taken out of the
//! pool for the run, so a cancelled run closes it and releases the lock.

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;
use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::{Kind, ToolDef, tool};
use crate::groups::Group;
use crate::migrations::apply::{self, ApplyError, ApplyOptions, Migration, TxMode};
use crate::migrations::files::{self, DownStyle, FilesError, MigrationFile, version_key};
use crate::migrations::history::{self, Applied, HistoryError};
use crate::result::{ErrorCode, ToolError, ToolOutput};
use crate::server::call::Call;

/// How long a run waits for another run's migration lock.
const LOCK_WAIT: Duration = Duration::from_secs(30);

pub fn tools() -> Vec<ToolDef> {
    vec![
        tool("list_migrations", Group::Database, Kind::Read)
            .title("List migrations")
            .description("Applied migrations and local files: applied, pending, missing_locally or modified.")
            .read_only_capable()
            .handler(list_migrations),
        tool("apply_migration", Group::Database, Kind::Write)
            .title("Apply a migration")
            .description("Apply SQL as a migration, recorded in supabase_migrations.schema_migrations.")
            .long_running()
            .assess(assess_apply)
            .handler(apply_migration),
        tool("apply_pending_migrations", Group::Migrations, Kind::Write)
            .title("Apply pending migration files")
            .description("Apply the local migration files not yet in the history, in version order (up to `to_version`). Each runs in a transaction with its history row (`mode: batch`: all in one), under a lock so two runs never interleave. Needs confirmation.")
            .long_running()
            .assess(|_| Some("applies every pending migration file, which may change or drop schema and data".into()))
            .handler(apply_pending_migrations),
        tool("create_migration", Group::Migrations, Kind::Write)
            .title("Create a migration file")
            .description("Write supabase/migrations/<version>_<name>.sql (version: now as YYYYMMDDHHMMSS unless given) with optional SQL and a down migration (a trailing comment block the Supabase CLI ignores, or a companion file in down/).")
            .handler(create_migration),
        tool("dry_run_migration", Group::Migrations, Kind::Write)
            .title("Try a migration")
            .description("Run SQL (or a pending local file) in a transaction that is always rolled back: the schema objects it would add, change or remove, statements that take heavy locks, and any error with line and column. Nothing is kept.")
            .handler(dry_run_migration),
        tool("rollback_migration", Group::Migrations, Kind::Destructive)
            .title("Roll back migrations")
            .description("Revert the last `last` applied migrations (default 1), or every one after `to_version`, newest first, by running their down migrations; each runs in a transaction with the removal of its history row. Needs confirmation.")
            .handler(rollback_migration),
        tool("validate_migrations", Group::Migrations, Kind::Read)
            .title("Validate migrations")
            .description("Check the local files against the history: syntax of pending files (line and column), duplicate versions, pending files older than the newest applied one, missing dependencies, applied files modified since, applied versions missing locally.")
            .read_only_capable()
            .handler(validate_migrations),
        tool("copy_table_data", Group::Migrations, Kind::Write)
            .title("Copy table data to another database")
            .description("Stream tables' rows into the same tables of another instance or database URL (COPY, binary where safe), referenced tables first, each in one target transaction; then row counts and checksums compared and owned sequences set. `conflict`: error (default), overwrite, skip or merge by primary key.")
            .long_running()
            .assess(assess_copy)
            .handler(copy_table_data),
        tool("migrate_instance", Group::Migrations, Kind::Write)
            .title("Copy a database to another instance")
            .description("Schema (pg_dump --schema-only restored in one transaction) and data (as copy_table_data, referenced tables first) of the user schemas, or `schemas`, into another instance or database URL, after checking versions, extensions, roles and encoding. A checkpoint lets a failed run resume where it stopped.")
            .long_running()
            .assess(assess_copy)
            .handler(migrate_instance),
        tool("repair_migration_history", Group::Migrations, Kind::Destructive)
            .title("Repair the migration history")
            .description("Mark versions applied (recording the local file's statements) or reverted (removing their rows) without running anything, as `supabase migration repair` does. Needs confirmation.")
            .handler(repair_migration_history),
    ]
}

pub(super) fn files_error(e: FilesError) -> ToolError {
    let code = match &e {
        FilesError::DirMissing { .. } => ErrorCode::NotFound,
        _ => ErrorCode::InvalidArguments,
    };
    ToolError::new(code, e.to_string())
}

fn history_error(e: HistoryError) -> ToolError {
    match e {
        HistoryError::Locked { .. } => ToolError::new(ErrorCode::QueryFailed, e.to_string())
            .suggestion("Wait for the other run to finish and try again; if it is stuck, end that backend with pg_terminate_backend(pid)."),
        HistoryError::Db { .. } => ToolError::new(ErrorCode::QueryFailed, e.to_string()),
    }
}

fn apply_error(e: ApplyError) -> ToolError {
    match e {
        ApplyError::Syntax {
            ref suggestion, ..
        } => {
            let s = suggestion.clone();
            let t = ToolError::invalid(e.to_string()).reason("nothing was run");
            match s {
                Some(s) => t.suggestion(s),
                None => t.suggestion("Fix the SQL at that position and run again."),
            }
        }
        ApplyError::Dependency { .. } => ToolError::invalid(e.to_string())
            .reason("nothing was run")
            .suggestion("Apply the migration it needs first, or include it in the same run."),
        ApplyError::AlreadyApplied(_) => ToolError::invalid(e.to_string())
            .suggestion("Use another version (or none, for a new timestamp); list_migrations shows the history."),
        ApplyError::TxControl { .. } => ToolError::invalid(e.to_string())
            .reason("nothing was run")
            .suggestion("Remove the BEGIN/COMMIT/ROLLBACK statements: each migration runs in its own transaction."),
        ApplyError::NeedsOwnRun { .. } => ToolError::invalid(e.to_string())
            .reason("nothing was run")
            .suggestion("Use mode `each`, or apply that migration on its own."),
        ApplyError::Failed(f) => {
            let mut reason = match &f.position {
                Some(p) => format!(
                    "statement {} at line {}, column {}: {}",
                    f.statement, p.line, p.column, f.text
                ),
                None => format!("statement {}: {}", f.statement, f.text),
            };
            match f.ran_statements {
                Some(n) => reason.push_str(&format!(
                    "; this migration ran outside a transaction, so its first {n} statement(s) stay applied and it is not recorded"
                )),
                None => reason.push_str("; its changes were rolled back and it is not recorded"),
            }
            if !f.applied.is_empty() {
                reason.push_str(&format!(
                    "; applied before it in this run and kept: {}",
                    f.applied.join(", ")
                ));
            }
            ToolError::new(
                ErrorCode::QueryFailed,
                format!(
                    "migration {} ({}) failed: {}",
                    f.version, f.name, f.message
                ),
            )
            .reason(reason)
            .suggestion("Fix the statement and apply again; dry_run_migration tries it without keeping anything.")
        }
        ApplyError::History(h) => history_error(h),
        ApplyError::Db { .. } | ApplyError::Fingerprint(_) | ApplyError::Catalog(_) => {
            ToolError::new(ErrorCode::QueryFailed, e.to_string())
        }
    }
}

/// A connection of its own for a migration run (see the module docs).
pub(super) async fn session(call: &Call) -> Result<deadpool_postgres::ClientWrapper, ToolError> {
    if call.instance.db_url.is_none() && call.instance.pooler_url.is_none() {
        return Err(ToolError::new(
            ErrorCode::NotConfigured,
            format!(
                "instance `{}` has no database URL: migrations run on a direct connection",
                call.instance.name
            ),
        )
        .suggestion("Start the server with --db-url (the direct connection string, port 5432)."));
    }
    if call.state.pools.is_pooled(&call.instance) {
        return Err(ToolError::new(
            ErrorCode::NotConfigured,
            "migrations need a session connection, and this instance's connection goes through a transaction pooler",
        )
        .reason("the migration lock and statements that run outside a transaction do not survive a transaction-mode pooler")
        .suggestion("Give the direct database URL (port 5432, not the pooler's 6543) with --db-url."));
    }
    Ok(deadpool_postgres::Object::take(call.db().await?))
}

/// The SQL safety rails of `execute_sql`, for migration SQL: forbidden
/// statements (server files, programs, privilege escalation) are refused
/// unless the server allows them, and COPY from the client cannot run.
fn guard(call: &Call, sql: &str) -> Result<(), ToolError> {
    let cls = crate::sql::classify::classify(sql);
    if cls.error.is_some() || cls.statements.is_empty() {
        // The migration's own parse reports syntax errors with positions.
        return Ok(());
    }
    crate::sql::run::check_with(&cls, false, None, call.state.config.allow_forbidden_sql)
}

/// Applying destructive SQL needs confirmation.
fn assess_apply(args: &Map<String, Value>) -> Option<String> {
    let q = args.get("query").and_then(Value::as_str)?;
    crate::sql::classify::classify(q).destructive_reason()
}

pub(super) fn dir(call: &Call) -> PathBuf {
    call.state.config.migrations_dir.clone()
}

/// The local files; a missing directory is an empty list.
fn local(call: &Call) -> Result<(Vec<MigrationFile>, Vec<String>), ToolError> {
    match files::scan_dir(&dir(call)) {
        Ok(v) => Ok(v),
        Err(FilesError::DirMissing { .. }) => Ok((Vec::new(), Vec::new())),
        Err(e) => Err(files_error(e)),
    }
}

fn migration_of(f: &MigrationFile) -> Migration {
    Migration {
        version: f.version.clone(),
        name: f.name.clone(),
        sql: f.up.clone(),
        requires: f.requires.clone(),
    }
}

#[derive(Debug, Serialize)]
struct Row {
    version: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    /// applied | pending | missing_locally | modified
    status: &'static str,
    local_file: bool,
    has_down: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    requires: Vec<String>,
}

/// Applied and local side by side, in version order.
fn side_by_side(local: &[MigrationFile], applied: &[Applied]) -> Vec<Row> {
    let mut all: BTreeMap<(usize, String), Row> = BTreeMap::new();
    for f in local {
        all.insert(
            (f.version.len(), f.version.clone()),
            Row {
                version: f.version.clone(),
                name: Some(f.name.clone()),
                status: "pending",
                local_file: true,
                has_down: f.down.is_some(),
                requires: f.requires.clone(),
            },
        );
    }
    for a in applied {
        let key = (a.version.len(), a.version.clone());
        match all.get_mut(&key) {
            Some(row) => {
                let file = local.iter().find(|f| f.version == a.version);
                let modified = file.is_some_and(|f| {
                    !a.statements.is_empty()
                        && files::checksum_statements(&a.statements) != f.checksum
                });
                row.status = if modified { "modified" } else { "applied" };
            }
            None => {
                all.insert(
                    key,
                    Row {
                        version: a.version.clone(),
                        name: a.name.clone(),
                        status: "missing_locally",
                        local_file: false,
                        has_down: false,
                        requires: Vec::new(),
                    },
                );
            }
        }
    }
    all.into_values().collect()
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListArgs {}

/// Whether this call's instance has no database URL but a remote SQL path
/// (the Management API for a cloud project, or the REST RPC): migrations
/// then go through it as single SQL texts.
fn remote_only(call: &Call) -> bool {
    let i = &call.instance;
    i.db_url.is_none()
        && i.pooler_url.is_none()
        && (i.access_token.is_some() || (i.supabase_url.is_some() && i.service_role_key.is_some()))
}

/// The history read through a remote SQL path (see [`remote_only`]).
async fn remote_history(call: &Call) -> Result<Vec<Applied>, ToolError> {
    let backend = call.sql().await?;
    let exists = backend
        .remote_rows(
            "SELECT to_regclass('supabase_migrations.schema_migrations') IS NOT NULL AS present",
            true,
        )
        .await?;
    let present = exists
        .first()
        .and_then(|r| r.get("present"))
        .and_then(Value::as_bool)
        .unwrap_or(false);
    if !present {
        return Ok(Vec::new());
    }
    let rows = backend
        .remote_rows(
            "SELECT version, to_jsonb(m) ->> 'name' AS name,
                    CASE WHEN jsonb_typeof(to_jsonb(m) -> 'statements') = 'array'
                         THEN to_jsonb(m) -> 'statements' ELSE '[]'::jsonb END AS statements
             FROM supabase_migrations.schema_migrations m
             ORDER BY length(version), version",
            true,
        )
        .await?;
    Ok(rows
        .iter()
        .filter_map(|r| {
            Some(Applied {
                version: r.get("version")?.as_str()?.to_owned(),
                name: r.get("name").and_then(Value::as_str).map(str::to_owned),
                statements: r
                    .get("statements")
                    .and_then(Value::as_array)
                    .map(|a| {
                        a.iter()
                            .filter_map(Value::as_str)
                            .map(str::to_owned)
                            .collect()
                    })
                    .unwrap_or_default(),
            })
        })
        .collect())
}

async fn list_migrations(call: Call, _a: ListArgs) -> Result<ToolOutput, ToolError> {
    let (local, ignored) = local(&call)?;
    let applied = if remote_only(&call) {
        remote_history(&call).await?
    } else {
        let c = session(&call).await?;
        history::read(&c).await.map_err(history_error)?
    };
    let rows = side_by_side(&local, &applied);
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for r in &rows {
        *counts.entry(r.status).or_default() += 1;
    }
    let mut out = ToolOutput::untrusted(json!({
        "migrations_dir": dir(&call).display().to_string(),
        "counts": counts,
        "migrations": rows,
    }));
    if !ignored.is_empty() {
        out = out.warn(format!(
            "files in the migrations directory that are not migrations (<version>_<name>.sql) were ignored: {}",
            ignored.join(", ")
        ));
    }
    Ok(out)
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ApplyArgs {
    /// Migration name (snake_case).
    pub name: String,
    /// The SQL.
    pub query: String,
    /// Digits, e.g. a local file's (default: now).
    #[serde(default)]
    pub version: Option<String>,
    /// Also write the migration file.
    #[serde(default)]
    pub save_file: bool,
}

async fn apply_migration(call: Call, a: ApplyArgs) -> Result<ToolOutput, ToolError> {
    let name = files::sanitize_name(&a.name).map_err(files_error)?;
    let version = match &a.version {
        Some(v) => {
            files::check_version(v).map_err(files_error)?;
            v.clone()
        }
        None => files::new_version(chrono::Utc::now()),
    };
    if a.query.trim().is_empty() {
        return Err(ToolError::invalid("`query` is empty")
            .suggestion("Pass the migration's SQL in `query`."));
    }
    guard(&call, &a.query)?;
    let f = files::parse_text(&version, &name, &dir(&call), &a.query, None).map_err(files_error)?;
    if remote_only(&call) {
        return apply_remote(&call, &f, a.save_file).await;
    }
    let c = session(&call).await?;
    let steps = apply::apply(
        &c,
        &[migration_of(&f)],
        &ApplyOptions {
            mode: TxMode::Each,
            lock_wait: LOCK_WAIT,
        },
    )
    .await
    .map_err(apply_error)?;
    let mut out = json!({ "applied": steps });
    if a.save_file {
        let path = files::write_new(
            &dir(&call),
            &f.version,
            &f.name,
            &f.up,
            None,
            DownStyle::Block,
        )
        .map_err(|e| {
            files_error(e).reason(format!(
                "migration {} was applied and recorded, but its file was not written",
                f.version
            ))
        })?;
        out["file"] = json!(path.display().to_string());
    }
    Ok(ToolOutput::untrusted(out))
}

/// `apply_migration` without a database URL: the migration, the lock and
/// its history row as one SQL text through the remote SQL path, so either
/// all of it is kept or none of it.
async fn apply_remote(
    call: &Call,
    f: &MigrationFile,
    save_file: bool,
) -> Result<ToolOutput, ToolError> {
    let m = migration_of(f);
    let applied = remote_history(call).await?;
    if applied.iter().any(|h| h.version == m.version) {
        return Err(apply_error(ApplyError::AlreadyApplied(m.version.clone())));
    }
    for r in &m.requires {
        if !applied.iter().any(|h| &h.version == r) {
            return Err(apply_error(ApplyError::Dependency {
                version: m.version.clone(),
                missing: r.clone(),
            }));
        }
    }
    let script = apply::remote_script(&m).map_err(apply_error)?;
    let backend = call.sql().await?;
    let started = std::time::Instant::now();
    backend.remote_rows(&script.sql, false).await.map_err(|e| {
        let reason = e.reason.clone().unwrap_or_default();
        e.reason(format!(
            "{reason} (migration {} ran as one transaction: nothing of it was kept and it is not in the history)",
            m.version
        ).trim_start().to_owned())
    })?;
    let mut out = json!({
        "applied": [{
            "version": m.version,
            "name": m.name,
            "statements": script.statements.len(),
            "transactional": true,
            "duration_ms": u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            "notes": script.notes,
        }],
        "via": backend.kind().as_str(),
    });
    if save_file {
        let path = files::write_new(
            &dir(call),
            &f.version,
            &f.name,
            &f.up,
            None,
            DownStyle::Block,
        )
        .map_err(|e| {
            files_error(e).reason(format!(
                "migration {} was applied and recorded, but its file was not written",
                f.version
            ))
        })?;
        out["file"] = json!(path.display().to_string());
    }
    Ok(ToolOutput::untrusted(out))
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PendingArgs {
    /// Stop after this version.
    #[serde(default)]
    pub to_version: Option<String>,
    /// `each` (default): a transaction per migration; `batch`: one for all.
    #[serde(default)]
    pub mode: Option<String>,
}

async fn apply_pending_migrations(call: Call, a: PendingArgs) -> Result<ToolOutput, ToolError> {
    let mode = match a.mode.as_deref() {
        None | Some("each") => TxMode::Each,
        Some("batch") => TxMode::Batch,
        Some(other) => {
            return Err(ToolError::invalid(format!("unknown mode `{other}`"))
                .suggestion("Use `each` or `batch`."));
        }
    };
    if let Some(t) = &a.to_version {
        files::check_version(t).map_err(files_error)?;
    }
    let (local, _) = local(&call)?;
    let c = session(&call).await?;
    let applied: HashSet<String> = history::read(&c)
        .await
        .map_err(history_error)?
        .into_iter()
        .map(|h| h.version)
        .collect();
    let list: Vec<Migration> = local
        .iter()
        .filter(|f| !applied.contains(&f.version))
        .filter(|f| {
            a.to_version
                .as_deref()
                .is_none_or(|t| version_key(&f.version) <= version_key(t))
        })
        .map(migration_of)
        .collect();
    for m in &list {
        guard(&call, &m.sql).map_err(|e| {
            let r = format!("in migration {}; nothing was run", m.version);
            e.reason(r)
        })?;
    }
    if list.is_empty() {
        return Ok(ToolOutput::untrusted(json!({
            "applied": [],
            "message": "nothing pending",
        })));
    }
    let steps = apply::apply(
        &c,
        &list,
        &ApplyOptions {
            mode,
            lock_wait: LOCK_WAIT,
        },
    )
    .await
    .map_err(apply_error)?;
    Ok(ToolOutput::untrusted(json!({ "applied": steps })))
}

#[derive(Debug, Clone, Copy, Deserialize, JsonSchema, Default)]
#[serde(rename_all = "lowercase")]
pub enum DownStyleArg {
    /// A trailing `/* migrate:down ... */` block in the file (default).
    #[default]
    Block,
    /// A companion file `down/<version>_<name>.sql`.
    File,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateArgs {
    /// Migration name (made snake_case).
    pub name: String,
    /// The SQL of the migration (default: empty, to fill in).
    #[serde(default)]
    pub sql: Option<String>,
    /// The SQL that reverts it.
    #[serde(default)]
    pub down: Option<String>,
    /// Version (digits); default now as YYYYMMDDHHMMSS.
    #[serde(default)]
    pub version: Option<String>,
    /// Where the down migration goes: `block` (default) or `file`.
    #[serde(default)]
    pub down_style: DownStyleArg,
}

async fn create_migration(call: Call, a: CreateArgs) -> Result<ToolOutput, ToolError> {
    let name = files::sanitize_name(&a.name).map_err(files_error)?;
    let version = match &a.version {
        Some(v) => {
            files::check_version(v).map_err(files_error)?;
            v.clone()
        }
        None => files::new_version(chrono::Utc::now()),
    };
    let up = a.sql.unwrap_or_default();
    if !up.trim().is_empty()
        && let Err(e) = pg_query::parse(&up, 0)
    {
        let d = crate::sql::syntax::diagnose(&up, &e.to_string());
        return Err(ToolError::invalid(format!(
            "the migration's SQL does not parse at line {}, column {}: {}",
            d.line, d.column, d.message
        ))
        .suggestion(
            d.suggestion
                .unwrap_or_else(|| "Fix the SQL and create the migration again.".into()),
        ));
    }
    let style = match a.down_style {
        DownStyleArg::Block => DownStyle::Block,
        DownStyleArg::File => DownStyle::File,
    };
    let path = files::write_new(&dir(&call), &version, &name, &up, a.down.as_deref(), style)
        .map_err(files_error)?;
    Ok(ToolOutput::trusted(json!({
        "version": version,
        "name": name,
        "path": path.display().to_string(),
        "has_down": a.down.is_some(),
    })))
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DryRunArgs {
    /// SQL to try.
    #[serde(default)]
    pub query: Option<String>,
    /// Or a local migration file's version.
    #[serde(default)]
    pub version: Option<String>,
}

async fn dry_run_migration(call: Call, a: DryRunArgs) -> Result<ToolOutput, ToolError> {
    let m = match (&a.query, &a.version) {
        (Some(q), None) => Migration {
            version: "dry_run".into(),
            name: "dry_run".into(),
            sql: q.clone(),
            requires: Vec::new(),
        },
        (None, Some(v)) => {
            let (local, _) = local(&call)?;
            let f = local.iter().find(|f| &f.version == v).ok_or_else(|| {
                ToolError::new(
                    ErrorCode::NotFound,
                    format!("no local migration file with version {v}"),
                )
                .suggestion("list_migrations shows the local files.")
            })?;
            migration_of(f)
        }
        _ => {
            return Err(ToolError::invalid("give either `query` or `version`"));
        }
    };
    guard(&call, &m.sql)?;
    let c = session(&call).await?;
    let report = apply::dry_run(&c, &m).await.map_err(apply_error)?;
    Ok(ToolOutput::untrusted(
        serde_json::to_value(report).unwrap_or(Value::Null),
    ))
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RollbackArgs {
    /// How many of the newest applied migrations to revert (default 1).
    #[serde(default)]
    pub last: Option<u32>,
    /// Or revert every applied migration newer than this version.
    #[serde(default)]
    pub to_version: Option<String>,
}

async fn rollback_migration(call: Call, a: RollbackArgs) -> Result<ToolOutput, ToolError> {
    if a.last.is_some() && a.to_version.is_some() {
        return Err(ToolError::invalid(
            "give either `last` or `to_version`, not both",
        ));
    }
    if a.last == Some(0) {
        return Err(ToolError::invalid("`last` must be at least 1"));
    }
    let (local, _) = local(&call)?;
    let c = session(&call).await?;
    let applied = history::read(&c).await.map_err(history_error)?;
    let mut newest_first: Vec<&Applied> = applied.iter().collect();
    newest_first.reverse();
    let chosen: Vec<&Applied> = match &a.to_version {
        Some(t) => {
            files::check_version(t).map_err(files_error)?;
            if !applied.iter().any(|h| &h.version == t) {
                return Err(ToolError::new(
                    ErrorCode::NotFound,
                    format!("version {t} is not in the applied history"),
                )
                .suggestion("list_migrations shows the applied versions."));
            }
            newest_first
                .into_iter()
                .filter(|h| version_key(&h.version) > version_key(t))
                .collect()
        }
        None => newest_first
            .into_iter()
            .take(a.last.unwrap_or(1) as usize)
            .collect(),
    };
    if chosen.is_empty() {
        return Ok(ToolOutput::untrusted(
            json!({"reverted": [], "message": "nothing to roll back"}),
        ));
    }
    let mut downs = Vec::new();
    let mut without = Vec::new();
    for h in &chosen {
        match local
            .iter()
            .find(|f| f.version == h.version)
            .and_then(|f| f.down.clone().map(|d| (f, d)))
        {
            Some((f, down)) => downs.push(Migration {
                version: f.version.clone(),
                name: f.name.clone(),
                sql: down,
                requires: Vec::new(),
            }),
            None => without.push(h.version.clone()),
        }
    }
    if !without.is_empty() {
        let missing = without.join(", ");
        // Offer the differ's inverse as a proposal; never run it.
        let proposal = match super::schema_diff::proposed_inverse(&call, &without).await {
            Ok(Some(plan)) => Some(plan),
            Ok(None) => None,
            Err(e) => {
                tracing::info!(error = %e.message, "no inverse proposal for the rollback");
                None
            }
        };
        let Some(plan) = proposal else {
            return Err(ToolError::invalid(format!("no down migration for {missing}"))
                .reason("nothing was rolled back: a migration without a down migration cannot be reverted automatically")
                .suggestion("Add a down migration to the file (a trailing `/* migrate:down ... */` block, or down/<version>_<name>.sql), then roll back again."));
        };
        return Ok(ToolOutput::untrusted(json!({
            "reverted": [],
            "no_down_migration": without,
            "proposed_inverse": plan.script(),
            "proposed_steps": plan.steps.len(),
            "proposed_destructive_steps": plan.destructive_count(),
            "message": "nothing was rolled back: these migrations have no down migration. `proposed_inverse` is the schema diff from the database with them applied back to the database without them (local files on a scratch database); review it, add it as the down migration, then roll back again.",
        }))
        .warn(format!("nothing was rolled back: no down migration for {missing}; a generated inverse is proposed, not run")));
    }
    for d in &downs {
        guard(&call, &d.sql)?;
    }
    let steps = apply::revert(&c, &downs, LOCK_WAIT)
        .await
        .map_err(apply_error)?;
    Ok(ToolOutput::untrusted(json!({ "reverted": steps })))
}

#[derive(Debug, Serialize)]
struct Problem {
    /// error | warning
    severity: &'static str,
    version: String,
    problem: String,
}

async fn validate_migrations(call: Call, _a: ListArgs) -> Result<ToolOutput, ToolError> {
    let mut problems = Vec::new();
    let (local, ignored) = match files::scan_dir(&dir(&call)) {
        Ok(v) => v,
        Err(FilesError::DirMissing { .. }) => (Vec::new(), Vec::new()),
        Err(e) => {
            // Duplicates and unreadable files are problems of the set.
            problems.push(Problem {
                severity: "error",
                version: String::new(),
                problem: e.to_string(),
            });
            (Vec::new(), Vec::new())
        }
    };
    let c = session(&call).await?;
    let applied = history::read(&c).await.map_err(history_error)?;
    let applied_set: HashSet<&str> = applied.iter().map(|h| h.version.as_str()).collect();
    let newest_applied = applied
        .iter()
        .map(|h| h.version.as_str())
        .max_by_key(|v| version_key(v));
    let local_versions: HashSet<&str> = local.iter().map(|f| f.version.as_str()).collect();
    for f in &local {
        let pending = !applied_set.contains(f.version.as_str());
        if pending {
            if let Err(e) = pg_query::parse(&f.up, 0) {
                let d = crate::sql::syntax::diagnose(&f.up, &e.to_string());
                problems.push(Problem {
                    severity: "error",
                    version: f.version.clone(),
                    problem: format!(
                        "syntax error at line {}, column {}: {}",
                        d.line, d.column, d.message
                    ),
                });
            }
            if let Some(n) = newest_applied
                && version_key(&f.version) < version_key(n)
            {
                problems.push(Problem {
                    severity: "warning",
                    version: f.version.clone(),
                    problem: format!("pending, but older than the newest applied migration {n}: it would run out of order"),
                });
            }
            for r in &f.requires {
                if !applied_set.contains(r.as_str()) && !local_versions.contains(r.as_str()) {
                    problems.push(Problem {
                        severity: "error",
                        version: f.version.clone(),
                        problem: format!("requires {r}, which is neither applied nor a local file"),
                    });
                } else if !applied_set.contains(r.as_str())
                    && version_key(r) > version_key(&f.version)
                {
                    problems.push(Problem {
                        severity: "error",
                        version: f.version.clone(),
                        problem: format!("requires {r}, which comes after it in version order"),
                    });
                }
            }
        }
    }
    for row in side_by_side(&local, &applied) {
        match row.status {
            "modified" => problems.push(Problem {
                severity: "warning",
                version: row.version.clone(),
                problem: "the local file differs from the statements recorded when it was applied"
                    .into(),
            }),
            "missing_locally" => problems.push(Problem {
                severity: "warning",
                version: row.version.clone(),
                problem: "applied, but there is no local file for it".into(),
            }),
            _ => {}
        }
    }
    let errors = problems.iter().filter(|p| p.severity == "error").count();
    let mut out = ToolOutput::untrusted(json!({
        "valid": errors == 0,
        "errors": errors,
        "warnings": problems.len() - errors,
        "problems": problems,
        "local_files": local.len(),
        "applied": applied.len(),
    }));
    if !ignored.is_empty() {
        out = out.warn(format!(
            "ignored (not <version>_<name>.sql): {}",
            ignored.join(", ")
        ));
    }
    Ok(out)
}

#[derive(Debug, Clone, Copy, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum RepairStatus {
    /// Record the versions as applied (from their local files).
    Applied,
    /// Remove the versions from the history.
    Reverted,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RepairArgs {
    /// The versions to mark.
    pub versions: Vec<String>,
    /// `applied` or `reverted`.
    pub status: RepairStatus,
}

async fn repair_migration_history(call: Call, a: RepairArgs) -> Result<ToolOutput, ToolError> {
    if a.versions.is_empty() {
        return Err(ToolError::invalid("`versions` is empty"));
    }
    for v in &a.versions {
        files::check_version(v).map_err(files_error)?;
    }
    let (local, _) = local(&call)?;
    let c = session(&call).await?;
    history::lock(&c, LOCK_WAIT).await.map_err(history_error)?;
    let r = repair_locked(&c, &a, &local).await;
    history::unlock(&c).await;
    r
}

async fn repair_locked(
    c: &tokio_postgres::Client,
    a: &RepairArgs,
    local: &[MigrationFile],
) -> Result<ToolOutput, ToolError> {
    history::ensure(c).await.map_err(history_error)?;
    let applied: HashSet<String> = history::read(c)
        .await
        .map_err(history_error)?
        .into_iter()
        .map(|h| h.version)
        .collect();
    let mut changed = Vec::new();
    let mut unchanged = Vec::new();
    c.batch_execute("BEGIN")
        .await
        .map_err(|e| ToolError::new(ErrorCode::QueryFailed, crate::pg::describe_error(&e)))?;
    let r: Result<(), ToolError> = async {
        for v in &a.versions {
            match a.status {
                RepairStatus::Applied if applied.contains(v) => unchanged.push(v.clone()),
                RepairStatus::Applied => {
                    let (name, statements) = match local.iter().find(|f| &f.version == v) {
                        Some(f) => (
                            f.name.clone(),
                            files::split_statements(&f.up).map_err(files_error)?,
                        ),
                        None => {
                            return Err(ToolError::new(
                                ErrorCode::NotFound,
                                format!("no local migration file with version {v}"),
                            )
                            .reason("nothing was changed")
                            .suggestion("Create the file first (create_migration with that version), or check the version."));
                        }
                    };
                    history::record(c, v, &name, &statements)
                        .await
                        .map_err(history_error)?;
                    changed.push(v.clone());
                }
                RepairStatus::Reverted => {
                    if history::remove(c, v).await.map_err(history_error)? {
                        changed.push(v.clone());
                    } else {
                        unchanged.push(v.clone());
                    }
                }
            }
        }
        Ok(())
    }
    .await;
    if let Err(e) = r {
        let _ = c.batch_execute("ROLLBACK").await;
        return Err(e);
    }
    c.batch_execute("COMMIT")
        .await
        .map_err(|e| ToolError::new(ErrorCode::QueryFailed, crate::pg::describe_error(&e)))?;
    Ok(ToolOutput::untrusted(json!({
        "status": match a.status { RepairStatus::Applied => "applied", RepairStatus::Reverted => "reverted" },
        "changed": changed,
        "unchanged": unchanged,
    })))
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CopyArgs {
    /// Where to copy to: a configured instance's name or a database URL.
    pub target: String,
    /// Tables (`table` or `schema.table`); referenced tables are copied first.
    pub tables: Vec<String>,
    /// Rows already in a target table: `error` (default), `overwrite`, `skip` or `merge` (by primary key).
    #[serde(default)]
    pub conflict: Option<String>,
}

/// Overwriting or merging changes rows in the target: confirmation.
fn assess_copy(args: &Map<String, Value>) -> Option<String> {
    match args.get("conflict").and_then(Value::as_str) {
        Some("overwrite") => Some("replaces every row of the target tables".into()),
        Some("merge") => Some("updates existing rows of the target tables".into()),
        _ => None,
    }
}

/// A connection to `target`: a configured instance's database, or a URL.
pub(super) async fn connect_target(
    call: &Call,
    target: &str,
) -> Result<(tokio_postgres::Client, String), ToolError> {
    let url = match call
        .state
        .config
        .instances
        .iter()
        .find(|i| i.name == target)
    {
        Some(inst) => inst
            .db_url
            .as_ref()
            .map(|u| u.expose().to_owned())
            .ok_or_else(|| {
                ToolError::new(
                    ErrorCode::NotConfigured,
                    format!("instance `{target}` has no database URL"),
                )
            })?,
        None if target.starts_with("postgres://") || target.starts_with("postgresql://") => {
            target.to_owned()
        }
        None => {
            return Err(ToolError::invalid(format!(
                "`{}` is neither a configured instance nor a database URL",
                call.state.config.redactor.scrub(target)
            ))
            .suggestion("Give an instance name from list_instances or a postgres:// URL."));
        }
    };
    let params = crate::db::connstr::ConnParams::parse(&url)
        .map_err(|e| ToolError::invalid(format!("invalid target URL: {e}")))?;
    let tls = crate::db::tls::connector(&params)
        .map_err(|e| ToolError::new(ErrorCode::ConnectionFailed, e.to_string()))?;
    let (client, conn) = params.to_pg_config().connect(tls).await.map_err(|e| {
        ToolError::new(ErrorCode::ConnectionFailed, "cannot connect to the target")
            .reason(crate::pg::describe_error(&e))
    })?;
    tokio::spawn(conn);
    Ok((client, params.masked()))
}

/// The cluster's system identifier and the database name.
pub(super) async fn identity(c: &tokio_postgres::Client) -> Option<String> {
    c.query_one(
        "SELECT system_identifier::text || '/' || current_database() FROM pg_control_system()",
        &[],
    )
    .await
    .ok()
    .map(|r| r.get(0))
}

async fn copy_table_data(call: Call, a: CopyArgs) -> Result<ToolOutput, ToolError> {
    use crate::transfer::{self, Conflict, TableName};
    let conflict: Conflict = a
        .conflict
        .as_deref()
        .unwrap_or("error")
        .parse()
        .map_err(|e: transfer::TransferError| ToolError::invalid(e.to_string()))?;
    if a.tables.is_empty() {
        return Err(ToolError::invalid("`tables` is empty").suggestion("Name the tables to copy."));
    }
    let tables = a
        .tables
        .iter()
        .map(|t| TableName::parse(t))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ToolError::invalid(e.to_string()))?;
    let src = session(&call).await?;
    let (dst, target_name) = connect_target(&call, &a.target).await?;
    if identity(&src).await.is_some() && identity(&src).await == identity(&dst).await {
        return Err(
            ToolError::invalid("the target is the source database itself")
                .suggestion("Give another instance or database URL as `target`."),
        );
    }
    let q = |e: transfer::TransferError| ToolError::new(ErrorCode::QueryFailed, e.to_string());
    let ordered = transfer::dependency_order(&src, &tables).await.map_err(q)?;
    let sizes = transfer::table_sizes(&src, &ordered).await.map_err(q)?;
    let mut progress = TransferProgress::new(
        ordered.iter().map(ToString::to_string).zip(sizes).collect(),
        &[],
    );
    let bytes = std::sync::atomic::AtomicU64::new(0);
    let (events, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let work = async {
        let events = events;
        let mut reports = Vec::new();
        for t in &ordered {
            let name = t.to_string();
            let observe = |f: transfer::Figures| {
                let _ = events.send(TransferEvent::Figures(name.clone(), f));
            };
            match transfer::copy_table_observed(&src, &dst, t, conflict, &bytes, &observe).await {
                Ok(r) => {
                    let _ = events.send(TransferEvent::Finished(r.clone()));
                    reports.push(r);
                }
                Err(e) => return Err((reports, t.clone(), e)),
            }
        }
        Ok(reports)
    };
    let report = async {
        while let Some(ev) = rx.recv().await {
            progress.apply(&call, ev).await;
        }
    };
    let (result, ()) = tokio::join!(work, report);
    let reports = match result {
        Ok(reports) => reports,
        Err((reports, t, e)) => {
            let done: Vec<String> = reports.iter().map(|r| r.table.clone()).collect();
            return Err(ToolError::new(ErrorCode::QueryFailed, e.to_string())
                .reason(if done.is_empty() {
                    format!("nothing was copied; {t} is as it was on the target")
                } else {
                    format!(
                        "{t} is as it was on the target; copied before it: {}",
                        done.join(", ")
                    )
                })
                .suggestion("Fix the cause and copy the remaining tables again."));
        }
    };
    progress.send(&call, "done".to_owned()).await;
    let unverified: Vec<&str> = reports
        .iter()
        .filter(|r| !r.verified)
        .map(|r| r.table.as_str())
        .collect();
    let mut out = ToolOutput::untrusted(json!({
        "target": target_name,
        "conflict": conflict,
        "tables": reports,
        "rows": reports.iter().map(|r| r.rows_read).sum::<i64>(),
        "bytes": bytes.load(std::sync::atomic::Ordering::Relaxed),
    }));
    if !unverified.is_empty() {
        out = out.warn(format!(
            "after copying, the target differs from the source in: {} (rows written concurrently, or triggers on the target)",
            unverified.join(", ")
        ));
    }
    Ok(out)
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MigrateArgs {
    /// Where to copy to: a configured instance's name or a database URL.
    pub target: String,
    /// Schemas to copy (default: every user schema, not the Supabase-managed ones).
    #[serde(default)]
    pub schemas: Vec<String>,
    /// Copy only the data (the schema already exists on the target).
    #[serde(default)]
    pub data_only: bool,
    /// Rows already in a target table: `error` (default), `overwrite`, `skip` or `merge`.
    #[serde(default)]
    pub conflict: Option<String>,
    /// Start over instead of resuming from the checkpoint of an earlier run.
    #[serde(default)]
    pub restart: bool,
}

async fn migrate_instance(call: Call, a: MigrateArgs) -> Result<ToolOutput, ToolError> {
    use crate::transfer::{self, Checkpoint, Conflict};
    use sha2::Digest;
    let conflict: Conflict = a
        .conflict
        .as_deref()
        .unwrap_or("error")
        .parse()
        .map_err(|e: transfer::TransferError| ToolError::invalid(e.to_string()))?;
    let q = |e: transfer::TransferError| ToolError::new(ErrorCode::QueryFailed, e.to_string());
    let src = session(&call).await?;
    let (dst, target_name) = connect_target(&call, &a.target).await?;
    let (src_id, dst_id) = (identity(&src).await, identity(&dst).await);
    if src_id.is_some() && src_id == dst_id {
        return Err(
            ToolError::invalid("the target is the source database itself")
                .suggestion("Give another instance or database URL as `target`."),
        );
    }
    let schemas: Vec<String> = if a.schemas.is_empty() {
        let managed: Vec<String> = crate::backup::service::SUPABASE_MANAGED
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
        src.query(
            "SELECT nspname::text FROM pg_namespace
             WHERE nspname NOT LIKE 'pg\\_%' AND nspname <> 'information_schema' AND NOT (nspname = ANY($1))
               AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_namespace'::regclass
                               AND d.objid = pg_namespace.oid AND d.deptype = 'e')
             ORDER BY 1",
            &[&managed],
        )
        .await
        .map_err(|e| ToolError::new(ErrorCode::QueryFailed, crate::pg::describe_error(&e)))?
        .iter()
        .map(|r| r.get(0))
        .collect()
    } else {
        a.schemas.clone()
    };
    if schemas.is_empty() {
        return Err(ToolError::invalid("there are no user schemas to copy")
            .suggestion("Name them in `schemas`."));
    }
    let problems = transfer::compatibility(&src, &dst, &schemas)
        .await
        .map_err(q)?;
    let errors: Vec<&str> = problems
        .iter()
        .filter(|p| p.severity == "error")
        .map(|p| p.problem.as_str())
        .collect();
    if !errors.is_empty() {
        return Err(ToolError::invalid("the target cannot take this database")
            .reason(format!("nothing was copied: {}", errors.join("; ")))
            .suggestion("Fix these on the target (install the extension, create the role, ...) and run again."));
    }
    let key = {
        let mut h = sha2::Sha256::new();
        h.update(format!(
            "{src_id:?}|{dst_id:?}|{}|{}",
            schemas.join(","),
            a.data_only
        ));
        hex::encode(h.finalize())
    };
    let checkpoint_path = call
        .state
        .config
        .data_dir
        .join("transfers")
        .join(format!("{}.json", &key[..16]));
    let mut cp = if a.restart {
        Checkpoint::default()
    } else {
        Checkpoint::load(&checkpoint_path, &key).unwrap_or_default()
    };
    let resumed = !cp.tables_done.is_empty() || cp.schema_done;
    cp.key = key;
    // The tables and their sizes on the source: the order of the copy and
    // the total of the progress (by bytes).
    let tables = transfer::tables_of(&src, &schemas).await.map_err(q)?;
    let ordered = transfer::dependency_order(&src, &tables).await.map_err(q)?;
    let sizes = transfer::table_sizes(&src, &ordered).await.map_err(q)?;
    let total = ordered.len() as u64;
    let mut skipped = Vec::new();
    let mut pending = Vec::new();
    for (t, size) in ordered.iter().zip(&sizes) {
        let name = t.to_string();
        if cp.tables_done.contains(&name) {
            skipped.push(name);
        } else {
            pending.push((*size, t.clone()));
        }
    }
    // Tables an interrupted run started and did not finish: copied again
    // from the start.
    let restarted: Vec<String> = cp
        .tables_started
        .iter()
        .filter(|t| !cp.tables_done.contains(t))
        .cloned()
        .collect();
    let mut progress = TransferProgress::new(
        ordered.iter().map(ToString::to_string).zip(sizes).collect(),
        &skipped,
    );
    let mut schema_copied = false;
    let mut schema_job: Option<SchemaJob> = None;
    if !a.data_only && !cp.schema_done && cp.schema_started {
        // A run stopped around the schema step: its transaction committed
        // (the tables are there) or left nothing (the target was checked
        // empty before it started).
        let there: i64 = dst
            .query_one(
                "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                 WHERE n.nspname = ANY($1) AND c.relkind IN ('r', 'p', 'v', 'm')",
                &[&schemas],
            )
            .await
            .map_err(|e| ToolError::new(ErrorCode::QueryFailed, crate::pg::describe_error(&e)))?
            .get(0);
        if there > 0 {
            cp.schema_done = true;
            cp.save(&checkpoint_path).map_err(q)?;
        }
    }
    if !a.data_only && !cp.schema_done {
        let existing: i64 = dst
            .query_one(
                "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                 WHERE n.nspname = ANY($1) AND c.relkind IN ('r', 'p', 'v', 'm')",
                &[&schemas],
            )
            .await
            .map_err(|e| ToolError::new(ErrorCode::QueryFailed, crate::pg::describe_error(&e)))?
            .get(0);
        if existing > 0 {
            return Err(ToolError::invalid(format!(
                "the target already has {existing} tables or views in {}",
                schemas.join(", ")
            ))
            .reason("nothing was copied: creating the schema over existing objects would fail")
            .suggestion(
                "Use data_only: true to copy only the data, or a target without these schemas.",
            ));
        }
        progress
            .send(
                &call,
                format!("copying the schema of {}", schemas.join(", ")),
            )
            .await;
        let existing: Vec<String> = dst
            .query(
                "SELECT nspname::text FROM pg_namespace WHERE nspname = ANY($1)",
                &[&schemas],
            )
            .await
            .map_err(|e| ToolError::new(ErrorCode::QueryFailed, crate::pg::describe_error(&e)))?
            .iter()
            .map(|r| r.get(0))
            .collect();
        let job = schema_job_for(&call, &a.target, &schemas, existing).await?;
        cp.schema_started = true;
        cp.save(&checkpoint_path).map_err(q)?;
        run_schema(&call, &job, "pre-data").await?;
        cp.schema_done = true;
        cp.save(&checkpoint_path).map_err(q)?;
        schema_copied = true;
        schema_job = Some(job);
    }
    // Without foreign keys on the target yet (the schema's constraints come
    // after the data), two tables load at a time, the largest first; with
    // them (data_only), one at a time in dependency order.
    let parallel = !a.data_only;
    if parallel {
        pending.sort_by_key(|x| std::cmp::Reverse(x.0));
    }
    let shared = tokio::sync::Mutex::new(Shared {
        pending: pending.into_iter().map(|(_, t)| t).collect(),
        checkpoint: cp,
        reports: Vec::new(),
        failure: None,
    });
    let second = if parallel && total > 1 {
        Some((
            session(&call).await?,
            connect_target(&call, &a.target).await?.0,
        ))
    } else {
        None
    };
    let bytes = std::sync::atomic::AtomicU64::new(0);
    let (events, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let work = async {
        let events = events;
        let first = copy_worker(
            &src,
            &dst,
            conflict,
            &bytes,
            &shared,
            &checkpoint_path,
            &events,
        );
        match &second {
            Some((s2, d2)) => {
                let other =
                    copy_worker(s2, d2, conflict, &bytes, &shared, &checkpoint_path, &events);
                tokio::join!(first, other);
            }
            None => first.await,
        }
    };
    let report = async {
        while let Some(ev) = rx.recv().await {
            progress.apply(&call, ev).await;
        }
    };
    tokio::join!(work, report);
    let Shared {
        checkpoint: mut cp,
        reports,
        failure,
        ..
    } = shared.into_inner();
    if let Some((t, e)) = failure {
        return Err(ToolError::new(ErrorCode::QueryFailed, e)
            .reason(format!(
                "{t} is as it was on the target; {} of {total} tables are copied and recorded in the checkpoint",
                cp.tables_done.len()
            ))
            .suggestion("Fix the cause and run migrate_instance again with the same arguments: it resumes with this table."));
    }
    if !a.data_only && !cp.post_done && cp.post_started {
        // A run stopped around the indexes-and-constraints step: one
        // transaction, so either all of them are on the target or none.
        let theirs = crate::transfer::index_and_constraint_count(&src, &schemas)
            .await
            .map_err(q)?;
        let ours = crate::transfer::index_and_constraint_count(&dst, &schemas)
            .await
            .map_err(q)?;
        if ours >= theirs {
            cp.post_done = true;
            cp.save(&checkpoint_path).map_err(q)?;
        }
    }
    if !a.data_only && !cp.post_done {
        let job = match schema_job {
            Some(job) => job,
            None => schema_job_for(&call, &a.target, &schemas, Vec::new()).await?,
        };
        progress
            .send(&call, "creating indexes and constraints".to_owned())
            .await;
        cp.post_started = true;
        cp.save(&checkpoint_path).map_err(q)?;
        run_schema(&call, &job, "post-data").await?;
        cp.post_done = true;
        cp.save(&checkpoint_path).map_err(q)?;
    }
    progress.send(&call, "done".to_owned()).await;
    let _ = std::fs::remove_file(&checkpoint_path);
    let _ = std::fs::remove_file(checkpoint_path.with_extension("partial"));
    let unverified: Vec<String> = reports
        .iter()
        .filter(|r| !r.verified)
        .map(|r| r.table.clone())
        .collect();
    let mut out = ToolOutput::untrusted(json!({
        "target": target_name,
        "schemas": schemas,
        "schema_copied": schema_copied,
        "resumed": resumed,
        "skipped_tables": skipped,
        "restarted_tables": restarted,
        "tables": reports,
        "rows": reports.iter().map(|r| r.rows_read).sum::<i64>(),
        "bytes": bytes.load(std::sync::atomic::Ordering::Relaxed),
    }));
    for p in problems.iter().filter(|p| p.severity == "warning") {
        out = out.warn(p.problem.clone());
    }
    if !unverified.is_empty() {
        out = out.warn(format!(
            "after copying, the target differs from the source in: {}",
            unverified.join(", ")
        ));
    }
    Ok(out)
}

/// What a schema copy needs (see `transfer::copy_schema`).
struct SchemaJob {
    tools: crate::backup::pgtools::PgTools,
    src: crate::db::connstr::ConnParams,
    dst: crate::db::connstr::ConnParams,
    schemas: Vec<String>,
    existing: Vec<String>,
    work: PathBuf,
}

/// The programs and connections of a schema copy to `target`.
async fn schema_job_for(
    call: &Call,
    target: &str,
    schemas: &[String],
    existing: Vec<String>,
) -> Result<SchemaJob, ToolError> {
    let src = session(call).await?;
    let version: String = src
        .query_one("SHOW server_version_num", &[])
        .await
        .map_err(|e| ToolError::new(ErrorCode::QueryFailed, crate::pg::describe_error(&e)))?
        .get(0);
    let major = version.trim().parse::<u32>().unwrap_or(0) / 10000;
    let tools = crate::backup::pgtools::find(call.state.config.backup.pg_bin_dir.as_deref(), major)
        .await
        .map_err(|e| ToolError::new(ErrorCode::NotConfigured, e.to_string()))?;
    let src_params = crate::db::connstr::ConnParams::parse(
        call.instance
            .db_url
            .as_ref()
            .map(|u| u.expose())
            .unwrap_or_default(),
    )
    .map_err(|e| ToolError::invalid(e.to_string()))?;
    let dst_url = match call
        .state
        .config
        .instances
        .iter()
        .find(|i| i.name == target)
    {
        Some(inst) => inst
            .db_url
            .as_ref()
            .map(|u| u.expose().to_owned())
            .unwrap_or_default(),
        None => target.to_owned(),
    };
    let dst_params = crate::db::connstr::ConnParams::parse(&dst_url)
        .map_err(|e| ToolError::invalid(e.to_string()))?;
    Ok(SchemaJob {
        tools,
        src: src_params,
        dst: dst_params,
        schemas: schemas.to_vec(),
        existing,
        work: call.state.config.data_dir.join("transfers"),
    })
}

/// Runs one section of a schema copy on a blocking thread.
async fn run_schema(call: &Call, job: &SchemaJob, section: &'static str) -> Result<(), ToolError> {
    let (tools, src, dst) = (job.tools.clone(), job.src.clone(), job.dst.clone());
    let (schemas, existing, work) = (job.schemas.clone(), job.existing.clone(), job.work.clone());
    tokio::task::spawn_blocking(move || {
        crate::transfer::copy_schema(
            &tools,
            &src,
            &dst,
            &schemas,
            &existing,
            Some(section),
            &work,
        )
    })
    .await
    .map_err(|e| ToolError::internal(e.to_string()))?
    .map_err(|e| {
        ToolError::new(
            ErrorCode::QueryFailed,
            call.state.config.redactor.scrub(&e.to_string()),
        )
    })
}

/// The state two table copiers share.
struct Shared {
    pending: std::collections::VecDeque<crate::transfer::TableName>,
    checkpoint: crate::transfer::Checkpoint,
    reports: Vec<crate::transfer::TableReport>,
    /// The first table that failed, and why: the others stop taking tables.
    failure: Option<(String, String)>,
}

/// Copies tables from the shared queue until it is empty or a copy failed,
/// telling `events` how each goes. A table is recorded as started in the
/// checkpoint before its rows can be committed (for conflict `error`, once
/// it is checked empty on the target), and as done once it is verified.
async fn copy_worker(
    src: &tokio_postgres::Client,
    dst: &tokio_postgres::Client,
    conflict: crate::transfer::Conflict,
    bytes: &std::sync::atomic::AtomicU64,
    shared: &tokio::sync::Mutex<Shared>,
    checkpoint_path: &std::path::Path,
    events: &tokio::sync::mpsc::UnboundedSender<TransferEvent>,
) {
    use crate::transfer::{self, Conflict};
    loop {
        let (t, was_started) = {
            let mut s = shared.lock().await;
            if s.failure.is_some() {
                return;
            }
            match s.pending.pop_front() {
                Some(t) => {
                    let started = s.checkpoint.tables_started.contains(&t.to_string());
                    (t, started)
                }
                None => return,
            }
        };
        let name = t.to_string();
        let mut how = conflict;
        let mut record = !was_started;
        if conflict == Conflict::Error {
            // Rows in a table the interrupted run had started are that
            // run's (it checked the table empty first): replaced. Rows in
            // any other table are refused by the copy.
            match transfer::count_rows(dst, &t).await {
                Ok(0) => {}
                Ok(_) if was_started => how = Conflict::Overwrite,
                Ok(_) => record = false,
                Err(e) => {
                    shared
                        .lock()
                        .await
                        .failure
                        .get_or_insert((name, e.to_string()));
                    return;
                }
            }
        }
        if record {
            let mut s = shared.lock().await;
            s.checkpoint.tables_started.push(name.clone());
            if let Err(e) = s.checkpoint.save(checkpoint_path) {
                s.failure.get_or_insert((name.clone(), e.to_string()));
                return;
            }
        }
        let observe = |f: transfer::Figures| {
            let _ = events.send(TransferEvent::Figures(name.clone(), f));
        };
        let r = transfer::copy_table_observed(src, dst, &t, how, bytes, &observe).await;
        let mut s = shared.lock().await;
        match r {
            Ok(report) => {
                let _ = events.send(TransferEvent::Finished(report.clone()));
                s.reports.push(report);
                s.checkpoint.tables_done.push(name.clone());
                s.checkpoint.tables_started.retain(|x| *x != name);
                if let Err(e) = s.checkpoint.save(checkpoint_path) {
                    s.failure.get_or_insert((name, e.to_string()));
                }
            }
            Err(e) => {
                s.failure.get_or_insert((name, e.to_string()));
            }
        }
    }
}

/// What the table copies of a transfer tell its progress reporter.
enum TransferEvent {
    /// A table's figures while it is copied or read back.
    Figures(String, crate::transfer::Figures),
    /// A table is copied (and checked).
    Finished(crate::transfer::TableReport),
}

/// A transfer's progress, sent as MCP progress notifications: the value is
/// the bytes copied (the `COPY` streams' byte count; a table already done
/// by an earlier run counts with its size), the total the source's table
/// sizes (`pg_table_size`, at least a page a table), corrected by the
/// figures as they come in (a finished table counts with the bytes it
/// took, a running one with at least the bytes it took so far): the
/// percentage only grows. Every notification's value is above the last
/// one's, as MCP requires; the message names the table and its rows and
/// bytes.
struct TransferProgress {
    /// Each table's estimated size.
    estimates: std::collections::HashMap<String, u64>,
    /// Tables being copied: rows and bytes copied so far.
    running: BTreeMap<String, (u64, u64)>,
    /// Bytes of the tables done (their estimate for those skipped).
    finished: u64,
    /// Estimated bytes of the tables not done (running or waiting).
    unfinished: u64,
    tables_done: usize,
    tables_total: usize,
    /// The value of the last notification.
    last: Option<u64>,
}

impl TransferProgress {
    /// Smallest estimate of a table (an empty table still takes a step).
    const MIN_ESTIMATE: u64 = 8192;

    fn new(sizes: Vec<(String, u64)>, skipped: &[String]) -> Self {
        let estimates: std::collections::HashMap<String, u64> = sizes
            .into_iter()
            .map(|(t, n)| (t, n.max(Self::MIN_ESTIMATE)))
            .collect();
        let finished = skipped.iter().filter_map(|t| estimates.get(t)).sum::<u64>();
        let all = estimates.values().sum::<u64>();
        TransferProgress {
            tables_total: estimates.len(),
            tables_done: skipped.len(),
            unfinished: all.saturating_sub(finished),
            finished,
            estimates,
            running: BTreeMap::new(),
            last: None,
        }
    }

    fn estimate(&self, table: &str) -> u64 {
        self.estimates
            .get(table)
            .copied()
            .unwrap_or(Self::MIN_ESTIMATE)
    }

    /// Bytes done and the estimated total.
    fn figures(&self) -> (u64, u64) {
        let running: u64 = self.running.values().map(|(_, b)| b).sum();
        let over: u64 = self
            .running
            .iter()
            .map(|(t, (_, b))| b.saturating_sub(self.estimate(t)))
            .sum();
        (
            self.finished + running,
            self.finished + self.unfinished + over,
        )
    }

    fn percent(&self) -> u64 {
        let (done, total) = self.figures();
        if self.tables_done == self.tables_total {
            100
        } else {
            done.saturating_mul(100)
                .checked_div(total)
                .map_or(0, |p| p.min(99))
        }
    }

    fn overall(&self) -> String {
        format!(
            "{}% overall, {} of {} tables done",
            self.percent(),
            self.tables_done,
            self.tables_total
        )
    }

    /// The value and total of the next notification: the bytes done, or
    /// one more than the last value when they did not grow.
    fn step(&mut self) -> (u64, u64) {
        let (done, total) = self.figures();
        let value = match self.last {
            Some(last) if done <= last => last + 1,
            _ => done,
        };
        self.last = Some(value);
        (value, total.max(value))
    }

    /// Sends `message` with the current figures.
    async fn send(&mut self, call: &Call, message: String) {
        let (value, total) = self.step();
        call.progress(value, Some(total), message).await;
    }

    async fn apply(&mut self, call: &Call, ev: TransferEvent) {
        let message = self.note(ev);
        self.send(call, message).await;
    }

    /// Takes `ev` into the figures; the message that tells it.
    fn note(&mut self, ev: TransferEvent) -> String {
        use crate::transfer::{Stage, human_bytes};
        match ev {
            TransferEvent::Figures(table, f) => match f.stage {
                Stage::Copying => {
                    self.running.insert(table.clone(), (f.rows, f.bytes));
                    let estimate = self.estimate(&table);
                    let of_table = if f.bytes < estimate {
                        format!(
                            " ({}% of ~{})",
                            f.bytes * 100 / estimate,
                            human_bytes(estimate)
                        )
                    } else {
                        String::new()
                    };
                    format!(
                        "{table}: {} rows, {} copied{of_table}; {}",
                        f.rows,
                        human_bytes(f.bytes),
                        self.overall()
                    )
                }
                Stage::Verifying => format!(
                    "{table}: checking the copy, {} rows read back; {}",
                    f.rows,
                    self.overall()
                ),
            },
            TransferEvent::Finished(r) => {
                self.running.remove(&r.table);
                self.unfinished = self.unfinished.saturating_sub(self.estimate(&r.table));
                self.finished += r.bytes;
                self.tables_done += 1;
                format!(
                    "{}: {} rows, {} copied, {}; {}",
                    r.table,
                    r.rows_read,
                    human_bytes(r.bytes),
                    if r.verified {
                        "verified"
                    } else {
                        "differs from the source after the copy"
                    },
                    self.overall()
                )
            }
        }
    }
}

#[cfg(test)]
mod transfer_progress_tests {
    use super::*;
    use crate::transfer::{Figures, Stage, TableReport};

    fn finished(table: &str, rows: i64, bytes: u64) -> TransferEvent {
        TransferEvent::Finished(TableReport {
            table: table.into(),
            format: "binary",
            rows_read: rows,
            bytes,
            target_rows_before: 0,
            target_rows_after: rows,
            verified: true,
            sequences_set: Vec::new(),
            duration_ms: 1,
        })
    }

    fn copying(table: &str, rows: u64, bytes: u64) -> TransferEvent {
        TransferEvent::Figures(
            table.into(),
            Figures {
                stage: Stage::Copying,
                rows,
                bytes,
            },
        )
    }

    #[test]
    fn progress_is_by_bytes_and_only_grows() {
        // a: estimated below what it takes, b: above, c: empty, d: done
        // by an earlier run.
        let mut p = TransferProgress::new(
            vec![
                ("s.a".into(), 100_000),
                ("s.b".into(), 400_000),
                ("s.c".into(), 0),
                ("s.d".into(), 500_000),
            ],
            &["s.d".to_owned()],
        );
        let (v0, t0) = p.step();
        assert_eq!((v0, t0), (500_000, 1_008_192));
        let mut messages = Vec::new();
        let mut last = (v0, 0);
        for ev in [
            copying("s.b", 10, 100_000),
            copying("s.a", 50, 90_000),
            copying("s.a", 100, 180_000),
            TransferEvent::Figures(
                "s.a".into(),
                Figures {
                    stage: Stage::Verifying,
                    rows: 20,
                    bytes: 30_000,
                },
            ),
            finished("s.a", 120, 200_000),
            copying("s.b", 20, 200_000),
            finished("s.b", 30, 300_000),
            finished("s.c", 0, 21),
        ] {
            messages.push(p.note(ev));
            let (value, total) = p.step();
            let percent = p.percent();
            assert!(value > last.0, "{messages:?}");
            assert!(percent >= last.1, "{messages:?}");
            assert!(total >= value);
            last = (value, percent);
        }
        assert_eq!(last.1, 100);
        assert_eq!(p.figures(), (1_000_021, 1_000_021));
        assert_eq!(
            messages[1],
            "s.a: 50 rows, 87.9 kB copied (90% of ~97.7 kB); 68% overall, 1 of 4 tables done"
        );
        assert!(
            messages[2].starts_with("s.a: 100 rows, 175.8 kB copied; "),
            "{}",
            messages[2]
        );
        assert!(messages[3].starts_with("s.a: checking the copy, 20 rows read back; "));
        assert_eq!(
            messages[4],
            "s.a: 120 rows, 195.3 kB copied, verified; 72% overall, 2 of 4 tables done"
        );
        assert!(
            messages[7].ends_with("100% overall, 4 of 4 tables done"),
            "{}",
            messages[7]
        );
    }
}
