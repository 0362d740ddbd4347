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
            .description("Applied migrations and local files side by side: applied, pending, missing_locally or modified.")
            .read_only_capable()
            .handler(list_migrations),
        tool("apply_migration", Group::Database, Kind::Write)
            .title("Apply a migration")
            .description("Apply SQL as a migration, recorded in supabase_migrations.schema_migrations in the same transaction.")
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

async fn list_migrations(call: Call, _a: ListArgs) -> Result<ToolOutput, ToolError> {
    let (local, ignored) = local(&call)?;
    let c = session(&call).await?;
    let applied = history::read(&c).await.map_err(history_error)?;
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
    /// Version (digits), e.g. a local file's; default: now (YYYYMMDDHHMMSS).
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
    let ordered = transfer::dependency_order(&src, &tables)
        .await
        .map_err(|e| ToolError::new(ErrorCode::QueryFailed, e.to_string()))?;
    let bytes = std::sync::atomic::AtomicU64::new(0);
    let total = ordered.len() as u64;
    let mut reports = Vec::new();
    for (i, t) in ordered.iter().enumerate() {
        call.progress(i as u64, Some(total), format!("copying {t}"))
            .await;
        match transfer::copy_table(&src, &dst, t, conflict, &bytes).await {
            Ok(r) => reports.push(r),
            Err(e) => {
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
        }
    }
    call.progress(total, Some(total), "done").await;
    let unverified: Vec<&str> = reports
        .iter()
        .filter(|r| !r.verified)
        .map(|r| r.table.as_str())
        .collect();
    let mut out = ToolOutput::untrusted(json!({
        "target": target_name,
        "conflict": conflict,
        "tables": reports,
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
    let mut schema_copied = false;
    let mut schema_job: Option<SchemaJob> = None;
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
        call.progress(0, None, "copying the schema").await;
        let version: String = src
            .query_one("SHOW server_version_num", &[])
            .await
            .map_err(|e| ToolError::new(ErrorCode::QueryFailed, crate::pg::describe_error(&e)))?
            .get(0);
        let major = version.trim().parse::<u32>().unwrap_or(0) / 10000;
        let tools =
            crate::backup::pgtools::find(call.state.config.backup.pg_bin_dir.as_deref(), major)
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
            .find(|i| i.name == a.target)
        {
            Some(inst) => inst
                .db_url
                .as_ref()
                .map(|u| u.expose().to_owned())
                .unwrap_or_default(),
            None => a.target.clone(),
        };
        let dst_params = crate::db::connstr::ConnParams::parse(&dst_url)
            .map_err(|e| ToolError::invalid(e.to_string()))?;
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
        schema_job = Some(SchemaJob {
            tools,
            src: src_params,
            dst: dst_params,
            schemas: schemas.clone(),
            existing,
            work: call.state.config.data_dir.join("transfers"),
        });
    }
    if let Some(job) = &schema_job
        && !cp.schema_done
    {
        run_schema(&call, job, "pre-data").await?;
        cp.schema_done = true;
        cp.save(&checkpoint_path).map_err(q)?;
        schema_copied = true;
    }
    let tables = transfer::tables_of(&src, &schemas).await.map_err(q)?;
    let ordered = transfer::dependency_order(&src, &tables).await.map_err(q)?;
    let total = ordered.len() as u64;
    let bytes = std::sync::atomic::AtomicU64::new(0);
    let mut skipped = Vec::new();
    let mut pending = std::collections::VecDeque::new();
    for t in &ordered {
        let name = t.to_string();
        if cp.tables_done.contains(&name) {
            skipped.push(name);
        } else {
            pending.push_back(t.clone());
        }
    }
    // Without foreign keys on the target yet (the schema's constraints come
    // after the data), two tables load at a time, the largest first; with
    // them (data_only), one at a time in dependency order.
    let parallel = !a.data_only;
    if parallel {
        let mut sized = Vec::new();
        for t in pending.drain(..) {
            let size: i64 = src
                .query_one(
                    "SELECT coalesce(pg_relation_size(to_regclass($1)), 0)",
                    &[&format!(
                        "\"{}\".\"{}\"",
                        t.schema.replace('"', "\"\""),
                        t.table.replace('"', "\"\"")
                    )],
                )
                .await
                .map(|r| r.get(0))
                .unwrap_or(0);
            sized.push((size, t));
        }
        sized.sort_by_key(|x| std::cmp::Reverse(x.0));
        pending.extend(sized.into_iter().map(|(_, t)| t));
    }
    let shared = tokio::sync::Mutex::new(Shared {
        pending,
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
    let first = copy_worker(
        &call,
        &src,
        &dst,
        conflict,
        &bytes,
        &shared,
        &checkpoint_path,
        total,
    );
    match &second {
        Some((s2, d2)) => {
            let other = copy_worker(
                &call,
                s2,
                d2,
                conflict,
                &bytes,
                &shared,
                &checkpoint_path,
                total,
            );
            tokio::join!(first, other);
        }
        None => first.await,
    }
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
    if !a.data_only && !cp.post_done {
        let job = match schema_job {
            Some(job) => job,
            None => schema_job_for(&call, &a.target, &schemas, Vec::new()).await?,
        };
        call.progress(total, Some(total), "creating indexes and constraints")
            .await;
        run_schema(&call, &job, "post-data").await?;
        cp.post_done = true;
        cp.save(&checkpoint_path).map_err(q)?;
    }
    call.progress(total, Some(total), "done").await;
    let _ = std::fs::remove_file(&checkpoint_path);
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

/// Copies tables from the shared queue until it is empty or a copy failed.
#[allow(clippy::too_many_arguments)]
async fn copy_worker(
    call: &Call,
    src: &tokio_postgres::Client,
    dst: &tokio_postgres::Client,
    conflict: crate::transfer::Conflict,
    bytes: &std::sync::atomic::AtomicU64,
    shared: &tokio::sync::Mutex<Shared>,
    checkpoint_path: &std::path::Path,
    total: u64,
) {
    loop {
        let t = {
            let mut s = shared.lock().await;
            if s.failure.is_some() {
                return;
            }
            match s.pending.pop_front() {
                Some(t) => t,
                None => return,
            }
        };
        let done = shared.lock().await.checkpoint.tables_done.len() as u64;
        call.progress(done, Some(total), format!("copying {t}"))
            .await;
        let r = crate::transfer::copy_table(src, dst, &t, conflict, bytes).await;
        let mut s = shared.lock().await;
        match r {
            Ok(report) => {
                s.reports.push(report);
                s.checkpoint.tables_done.push(t.to_string());
                if let Err(e) = s.checkpoint.save(checkpoint_path) {
                    s.failure.get_or_insert((t.to_string(), e.to_string()));
                }
            }
            Err(e) => {
                s.failure.get_or_insert((t.to_string(), e.to_string()));
            }
        }
    }
}
