//! Running migrations: applying (each in its own transaction or all in
//! one), trying one in a transaction that is rolled back (dry run), and
//! reverting with down migrations; always under the migration lock, with
//! the history row written in the same transaction as the change.
//!
//! Every migration is parsed with PostgreSQL's parser before anything runs:
//! a syntax error, a missing dependency, or a statement that cannot run in
//! a transaction block mixed into a one-transaction batch stops the run
//! before the database is touched. Statements that cannot run in a
//! transaction (`CREATE INDEX CONCURRENTLY`, `VACUUM`, ...) make their
//! migration run statement by statement in autocommit, which the report
//! says; a failure there names the statements that did run. A leading
//! `BEGIN` and trailing `COMMIT` in a file are dropped (the migration gets
//! its own transaction anyway); any other transaction control is refused.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use pg_query::NodeEnum;
use serde::Serialize;
use tokio_postgres::Client;
use tokio_postgres::error::ErrorPosition;

use super::history::{self, HistoryError};
use crate::backup::fingerprint::{self, Difference};
use crate::sql::syntax;

/// A migration to run.
#[derive(Debug, Clone)]
pub struct Migration {
    pub version: String,
    pub name: String,
    pub sql: String,
    /// Versions that must be applied before it.
    pub requires: Vec<String>,
}

/// How a batch uses transactions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TxMode {
    /// Each migration in its own transaction: the ones before a failure stay.
    #[default]
    Each,
    /// All in one transaction: a failure leaves nothing.
    Batch,
}

/// Where in a migration's text something is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Position {
    pub line: usize,
    pub column: usize,
}

/// Why a run stopped.
#[derive(Debug, Clone, Serialize)]
pub struct Failure {
    pub version: String,
    pub name: String,
    /// 1-based index of the failing statement in the migration.
    pub statement: usize,
    /// Its text (shortened).
    pub text: String,
    pub position: Option<Position>,
    pub message: String,
    /// Versions committed before the failure (mode `each`).
    pub applied: Vec<String>,
    /// The failing migration ran outside a transaction: these statements
    /// of it did run and stay.
    pub ran_statements: Option<usize>,
}

#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error("migration {version}: syntax error at line {}, column {}: {message}", .position.line, .position.column)]
    Syntax {
        version: String,
        position: Position,
        message: String,
        suggestion: Option<String>,
    },
    #[error(
        "migration {version} needs {missing}, which is neither applied nor earlier in this run"
    )]
    Dependency { version: String, missing: String },
    #[error("migration {0} is already applied")]
    AlreadyApplied(String),
    #[error("migration {version}: transaction control at line {} (only a leading BEGIN and a trailing COMMIT are allowed)", .position.line)]
    TxControl { version: String, position: Position },
    #[error(
        "migration {version} cannot run inside a transaction ({reason}), so it cannot be part of a one-transaction batch"
    )]
    NeedsOwnRun { version: String, reason: String },
    #[error("migration {} failed at statement {}: {}", .0.version, .0.statement, .0.message)]
    Failed(Box<Failure>),
    #[error("{0}")]
    History(#[from] HistoryError),
    #[error("{what}: {message}")]
    Db { what: &'static str, message: String },
    #[error("{0}")]
    Fingerprint(#[from] fingerprint::FingerprintError),
    /// Reading the catalog for the dry run's schema diff failed.
    #[error(transparent)]
    Catalog(#[from] crate::schema::SchemaError),
}

fn db(what: &'static str) -> impl FnOnce(tokio_postgres::Error) -> ApplyError {
    move |e| ApplyError::Db {
        what,
        message: crate::pg::describe_error(&e),
    }
}

/// One statement of a migration.
#[derive(Debug, Clone)]
struct Statement {
    start: usize,
    end: usize,
    /// Why it cannot run in a transaction block, if it cannot.
    autocommit: Option<&'static str>,
    /// `BEGIN`/`START TRANSACTION` (`Some(true)`) or `COMMIT`/`END`
    /// (`Some(false)`); other transaction control is `Some(false)` too.
    tx: Option<bool>,
}

/// A migration ready to run.
#[derive(Debug, Clone)]
struct Prepared<'a> {
    m: &'a Migration,
    statements: Vec<Statement>,
    /// Why it runs without a transaction, if it does.
    autocommit: Option<&'static str>,
    notes: Vec<String>,
}

fn position_of(text: &str, byte: usize) -> Position {
    let mut byte = byte.min(text.len());
    while !text.is_char_boundary(byte) {
        byte -= 1;
    }
    let before = &text[..byte];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map(|i| i + 1).unwrap_or(0);
    Position {
        line,
        column: before[line_start..].chars().count() + 1,
    }
}

/// Why `node` cannot run inside a transaction block.
fn needs_autocommit(node: &NodeEnum, server_version: i32) -> Option<&'static str> {
    match node {
        NodeEnum::IndexStmt(s) if s.concurrent => Some("CREATE INDEX CONCURRENTLY"),
        NodeEnum::DropStmt(s) if s.concurrent => Some("DROP INDEX CONCURRENTLY"),
        NodeEnum::ReindexStmt(s)
            if s.params.iter().any(|p| {
                matches!(&p.node, Some(NodeEnum::DefElem(d)) if d.defname.eq_ignore_ascii_case("concurrently"))
            }) =>
        {
            Some("REINDEX CONCURRENTLY")
        }
        NodeEnum::VacuumStmt(s) if s.is_vacuumcmd => Some("VACUUM"),
        NodeEnum::CreatedbStmt(_) => Some("CREATE DATABASE"),
        NodeEnum::DropdbStmt(_) => Some("DROP DATABASE"),
        NodeEnum::AlterSystemStmt(_) => Some("ALTER SYSTEM"),
        NodeEnum::CreateTableSpaceStmt(_) => Some("CREATE TABLESPACE"),
        NodeEnum::DropTableSpaceStmt(_) => Some("DROP TABLESPACE"),
        NodeEnum::CreateSubscriptionStmt(_) => Some("CREATE SUBSCRIPTION"),
        NodeEnum::DropSubscriptionStmt(_) => Some("DROP SUBSCRIPTION"),
        NodeEnum::AlterEnumStmt(s) if s.old_val.is_empty() && server_version < 120_000 => {
            Some("ALTER TYPE ... ADD VALUE before PostgreSQL 12")
        }
        _ => None,
    }
}

/// The statements of a migration, each with what it needs.
fn parse(m: &Migration, server_version: i32) -> Result<Vec<Statement>, ApplyError> {
    let sql = m.sql.as_str();
    match pg_query::parse(sql, 0) {
        Ok(parsed) => Ok(parsed
            .protobuf
            .stmts
            .iter()
            .filter_map(|raw| {
                let node = raw.stmt.as_ref()?.node.as_ref()?;
                let start = usize::try_from(raw.stmt_location)
                    .unwrap_or(0)
                    .min(sql.len());
                let end = match usize::try_from(raw.stmt_len) {
                    Ok(0) | Err(_) => sql.len(),
                    Ok(n) => (start + n).min(sql.len()),
                };
                let tx = match node {
                    NodeEnum::TransactionStmt(t) => Some(matches!(
                        pg_query::protobuf::TransactionStmtKind::try_from(t.kind),
                        Ok(pg_query::protobuf::TransactionStmtKind::TransStmtBegin
                            | pg_query::protobuf::TransactionStmtKind::TransStmtStart)
                    )),
                    _ => None,
                };
                Some(Statement {
                    start,
                    end,
                    autocommit: needs_autocommit(node, server_version),
                    tx,
                })
            })
            .collect()),
        Err(pg_query::Error::Parse(message)) => {
            let d = syntax::diagnose(sql, &message);
            Err(ApplyError::Syntax {
                version: m.version.clone(),
                position: Position {
                    line: d.line,
                    column: d.column,
                },
                message: d.message,
                suggestion: d.suggestion,
            })
        }
        // Too deep for the parse tree decoder: split by the scanner and
        // run each piece as an ordinary statement.
        Err(_) => {
            let pieces = pg_query::split_with_scanner(sql).map_err(|e| ApplyError::Syntax {
                version: m.version.clone(),
                position: Position { line: 1, column: 1 },
                message: e.to_string(),
                suggestion: None,
            })?;
            let base = sql.as_ptr() as usize;
            Ok(pieces
                .into_iter()
                .map(|p| {
                    let start = (p.as_ptr() as usize).saturating_sub(base);
                    Statement {
                        start,
                        end: start + p.len(),
                        autocommit: None,
                        tx: None,
                    }
                })
                .collect())
        }
    }
}

fn prepare(m: &Migration, server_version: i32) -> Result<Prepared<'_>, ApplyError> {
    let mut statements = parse(m, server_version)?;
    let mut notes = Vec::new();
    let n = statements.len();
    if n >= 2 && statements[0].tx == Some(true) && statements[n - 1].tx == Some(false) {
        let last = statements.pop();
        statements.remove(0);
        if last.is_some() {
            notes.push(
                "its own BEGIN and COMMIT were left out: the migration runs in the transaction this run gives it".into(),
            );
        }
    }
    if let Some(s) = statements.iter().find(|s| s.tx.is_some()) {
        return Err(ApplyError::TxControl {
            version: m.version.clone(),
            position: position_of(&m.sql, s.start),
        });
    }
    let autocommit = statements.iter().find_map(|s| s.autocommit);
    if let Some(reason) = autocommit {
        notes.push(format!(
            "ran outside a transaction, statement by statement, because of {reason}"
        ));
    }
    Ok(Prepared {
        m,
        statements,
        autocommit,
        notes,
    })
}

/// The server's version number (`150004`).
pub async fn server_version(c: &Client) -> Result<i32, ApplyError> {
    let v: String = c
        .query_one("SHOW server_version_num", &[])
        .await
        .map_err(db("cannot read the server version"))?
        .get(0);
    Ok(v.trim().parse().unwrap_or(0))
}

/// What one applied migration did.
#[derive(Debug, Clone, Serialize)]
pub struct Step {
    pub version: String,
    pub name: String,
    pub statements: usize,
    pub transactional: bool,
    pub duration_ms: u64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// Options of [`apply`].
#[derive(Debug, Clone)]
pub struct ApplyOptions {
    pub mode: TxMode,
    /// How long to wait for another run's lock.
    pub lock_wait: Duration,
}

/// Checks a run before anything is touched: parses every migration, and
/// checks versions against the history and dependencies.
fn check<'a>(
    list: &'a [Migration],
    applied: &HashSet<String>,
    mode: TxMode,
    server_version: i32,
) -> Result<Vec<Prepared<'a>>, ApplyError> {
    let mut seen: HashSet<&str> = HashSet::new();
    let mut out = Vec::with_capacity(list.len());
    for m in list {
        if applied.contains(&m.version) || !seen.insert(m.version.as_str()) {
            return Err(ApplyError::AlreadyApplied(m.version.clone()));
        }
        for r in &m.requires {
            let earlier_in_run = seen.contains(r.as_str()) && r != &m.version;
            if !applied.contains(r) && !earlier_in_run {
                return Err(ApplyError::Dependency {
                    version: m.version.clone(),
                    missing: r.clone(),
                });
            }
        }
        let p = prepare(m, server_version)?;
        if mode == TxMode::Batch
            && list.len() > 1
            && let Some(reason) = p.autocommit
        {
            return Err(ApplyError::NeedsOwnRun {
                version: m.version.clone(),
                reason: reason.to_owned(),
            });
        }
        out.push(p);
    }
    Ok(out)
}

/// Runs the statements of `p`; on failure, the failure (without `applied`).
async fn run_statements(c: &Client, p: &Prepared<'_>) -> Result<(), Box<Failure>> {
    for (i, s) in p.statements.iter().enumerate() {
        let text = &p.m.sql[s.start..s.end];
        if let Err(e) = c.batch_execute(text).await {
            let position = e
                .as_db_error()
                .and_then(|d| d.position())
                .and_then(|pos| match pos {
                    ErrorPosition::Original(n) => Some(*n as usize),
                    ErrorPosition::Internal { .. } => None,
                })
                .map(|n| {
                    let off = text
                        .char_indices()
                        .nth(n.saturating_sub(1))
                        .map(|(b, _)| b)
                        .unwrap_or(0);
                    position_of(&p.m.sql, s.start + off)
                })
                .or_else(|| Some(position_of(&p.m.sql, s.start + leading_space(text))));
            return Err(Box::new(Failure {
                version: p.m.version.clone(),
                name: p.m.name.clone(),
                statement: i + 1,
                text: shorten(text.trim()),
                position,
                message: crate::pg::describe_error(&e),
                applied: Vec::new(),
                ran_statements: p.autocommit.map(|_| i),
            }));
        }
    }
    Ok(())
}

fn leading_space(text: &str) -> usize {
    text.len() - text.trim_start().len()
}

fn shorten(s: &str) -> String {
    const MAX: usize = 400;
    if s.chars().count() <= MAX {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(MAX).collect();
    out.push('…');
    out
}

/// The statements the history records for `p`.
fn recorded(p: &Prepared<'_>) -> Vec<String> {
    p.statements
        .iter()
        .map(|s| {
            let t = p.m.sql[s.start..s.end].trim();
            t.strip_suffix(';').unwrap_or(t).trim().to_owned()
        })
        .filter(|t| !t.is_empty())
        .collect()
}

/// One migration as a single SQL text for a remote SQL endpoint (the
/// Management API's `database/query`), which runs a multi-statement text
/// in one implicit transaction: the migration lock (transaction-level),
/// the history table, the migration's statements and its history row.
/// Either all of it stays or none of it does.
#[derive(Debug, Clone)]
pub struct RemoteScript {
    pub sql: String,
    /// The statements recorded in the history.
    pub statements: Vec<String>,
    pub notes: Vec<String>,
}

/// Builds the [`RemoteScript`] of `m`. A migration with a statement that
/// cannot run in a transaction (e.g. `CREATE INDEX CONCURRENTLY`) is
/// refused: a remote text always runs in one.
pub fn remote_script(m: &Migration) -> Result<RemoteScript, ApplyError> {
    // Cloud projects run PostgreSQL 15 or newer.
    let p = prepare(m, 150_000)?;
    if let Some(reason) = p.autocommit {
        return Err(ApplyError::NeedsOwnRun {
            version: m.version.clone(),
            reason: format!(
                "{reason}; without a direct database connection a migration runs as one transaction"
            ),
        });
    }
    let statements = recorded(&p);
    let lit = |s: &str| crate::db::backend::quote_text(s);
    let array = if statements.is_empty() {
        "ARRAY[]::text[]".to_owned()
    } else {
        format!(
            "ARRAY[{}]::text[]",
            statements
                .iter()
                .map(|s| lit(s))
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    let mut sql = format!(
        "SELECT pg_advisory_xact_lock({key});\n\
         CREATE SCHEMA IF NOT EXISTS supabase_migrations;\n\
         CREATE TABLE IF NOT EXISTS supabase_migrations.schema_migrations (version text NOT NULL PRIMARY KEY);\n\
         ALTER TABLE supabase_migrations.schema_migrations ADD COLUMN IF NOT EXISTS statements text[];\n\
         ALTER TABLE supabase_migrations.schema_migrations ADD COLUMN IF NOT EXISTS name text;\n",
        key = history::LOCK_KEY
    );
    for s in &statements {
        sql.push_str(s);
        // On its own line: a trailing line comment must not swallow it.
        sql.push_str("\n;\n");
    }
    sql.push_str(&format!(
        "INSERT INTO supabase_migrations.schema_migrations (version, name, statements) VALUES ({}, {}, {array});\n",
        lit(&m.version),
        lit(&m.name)
    ));
    Ok(RemoteScript {
        sql,
        statements,
        notes: p.notes,
    })
}

/// Applies `list` in order (see the module docs). The migration lock is
/// held for the whole run and released on every path.
pub async fn apply(
    c: &Client,
    list: &[Migration],
    opts: &ApplyOptions,
) -> Result<Vec<Step>, ApplyError> {
    history::lock(c, opts.lock_wait).await?;
    let r = apply_locked(c, list, opts).await;
    history::unlock(c).await;
    r
}

async fn apply_locked(
    c: &Client,
    list: &[Migration],
    opts: &ApplyOptions,
) -> Result<Vec<Step>, ApplyError> {
    history::ensure(c).await?;
    let applied: HashSet<String> = history::read(c)
        .await?
        .into_iter()
        .map(|a| a.version)
        .collect();
    let version = server_version(c).await?;
    let prepared = check(list, &applied, opts.mode, version)?;
    let mut steps = Vec::new();
    if opts.mode == TxMode::Batch && prepared.len() > 1 {
        c.batch_execute("BEGIN")
            .await
            .map_err(db("cannot start the transaction"))?;
        for p in &prepared {
            let started = Instant::now();
            let done = match run_statements(c, p).await {
                Ok(()) => history::record(c, &p.m.version, &p.m.name, &recorded(p))
                    .await
                    .map_err(ApplyError::from),
                Err(f) => Err(ApplyError::Failed(f)),
            };
            if let Err(e) = done {
                let _ = c.batch_execute("ROLLBACK").await;
                return Err(e);
            }
            steps.push(step(p, started, true));
        }
        if let Err(e) = c.batch_execute("COMMIT").await {
            let _ = c.batch_execute("ROLLBACK").await;
            return Err(db("cannot commit the migrations")(e));
        }
        return Ok(steps);
    }
    for p in &prepared {
        let started = Instant::now();
        let committed: Vec<String> = steps.iter().map(|s: &Step| s.version.clone()).collect();
        if p.autocommit.is_some() {
            if let Err(mut f) = run_statements(c, p).await {
                f.applied = committed;
                return Err(ApplyError::Failed(f));
            }
            history::record(c, &p.m.version, &p.m.name, &recorded(p)).await?;
            steps.push(step(p, started, false));
            continue;
        }
        c.batch_execute("BEGIN")
            .await
            .map_err(db("cannot start the transaction"))?;
        let done = match run_statements(c, p).await {
            Ok(()) => history::record(c, &p.m.version, &p.m.name, &recorded(p))
                .await
                .map_err(ApplyError::from),
            Err(mut f) => {
                f.applied = committed;
                Err(ApplyError::Failed(f))
            }
        };
        if let Err(e) = done {
            let _ = c.batch_execute("ROLLBACK").await;
            return Err(e);
        }
        c.batch_execute("COMMIT")
            .await
            .map_err(db("cannot commit the migration"))?;
        steps.push(step(p, started, true));
    }
    Ok(steps)
}

fn step(p: &Prepared<'_>, started: Instant, transactional: bool) -> Step {
    Step {
        version: p.m.version.clone(),
        name: p.m.name.clone(),
        statements: p.statements.len(),
        transactional,
        duration_ms: started.elapsed().as_millis() as u64,
        notes: p.notes.clone(),
    }
}

/// A statement that takes heavy locks or rewrites or scans a table.
#[derive(Debug, Clone, Serialize)]
pub struct LockWarning {
    pub statement: usize,
    pub position: Position,
    pub warning: String,
    /// Estimated rows of the table concerned, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub table_rows: Option<i64>,
}

/// What [`dry_run`] found.
#[derive(Debug, Clone, Serialize)]
pub struct DryRun {
    pub version: String,
    pub ok: bool,
    pub statements: usize,
    /// Schema objects the migration would add, change or remove
    /// (`"<kind> <name>"`).
    pub added: Vec<String>,
    pub changed: Vec<String>,
    pub removed: Vec<String>,
    /// The schema diff from before to after, as the SQL that would make
    /// the same change (empty when nothing changed or the run failed).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub schema_diff: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub lock_warnings: Vec<LockWarning>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure: Option<Failure>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// Runs `m` in a transaction that is always rolled back, and reports the
/// schema objects it changes, its lock-heavy statements and its failure.
/// Statements that cannot run in a transaction are skipped (and named).
pub async fn dry_run(c: &Client, m: &Migration) -> Result<DryRun, ApplyError> {
    let version = server_version(c).await?;
    let mut p = prepare(m, version)?;
    let mut notes = std::mem::take(&mut p.notes);
    notes.retain(|n| !n.starts_with("ran outside"));
    let skipped: Vec<&'static str> = p.statements.iter().filter_map(|s| s.autocommit).collect();
    if !skipped.is_empty() {
        notes.push(format!(
            "not tried (cannot run in a transaction): {}; checked for syntax only",
            skipped.join(", ")
        ));
    }
    p.statements.retain(|s| s.autocommit.is_none());
    p.autocommit = None;
    let lock_warnings = lock_warnings(c, m).await;
    c.batch_execute("BEGIN")
        .await
        .map_err(db("cannot start the transaction"))?;
    let r = dry_run_in_tx(c, &p).await;
    let _ = c.batch_execute("ROLLBACK").await;
    let (before_after, failure) = r?;
    let (mut added, mut changed, mut removed) = (Vec::new(), Vec::new(), Vec::new());
    let mut schema_diff = String::new();
    if let Some((before, after, plan)) = before_after {
        if !plan.is_empty() {
            schema_diff = plan.script();
        }
        for d in fingerprint::compare(&before, &after) {
            match d {
                Difference::Extra(k) => added.push(k),
                Difference::Changed(k) => changed.push(k),
                Difference::Missing(k) => removed.push(k),
            }
        }
    }
    Ok(DryRun {
        version: m.version.clone(),
        ok: failure.is_none(),
        statements: p.statements.len() + skipped.len(),
        added,
        changed,
        removed,
        schema_diff,
        lock_warnings,
        failure,
        notes,
    })
}

type BeforeAfter = Option<(
    fingerprint::Fingerprint,
    fingerprint::Fingerprint,
    crate::schema::Plan,
)>;

async fn dry_run_in_tx(
    c: &Client,
    p: &Prepared<'_>,
) -> Result<(BeforeAfter, Option<Failure>), ApplyError> {
    let scope = fingerprint::Scope::default();
    let before = fingerprint::take(c, &scope).await?;
    let schema_scope = crate::schema::Scope::user();
    let catalog_before = crate::schema::introspect::load_in_transaction(c, &schema_scope).await?;
    if let Err(f) = run_statements(c, p).await {
        return Ok((None, Some(*f)));
    }
    let after = fingerprint::take(c, &scope).await?;
    let catalog_after = crate::schema::introspect::load_in_transaction(c, &schema_scope).await?;
    let plan = crate::schema::diff(&catalog_before, &catalog_after);
    Ok((Some((before, after, plan)), None))
}

/// Rows PostgreSQL estimates for a table, when it exists.
async fn estimated_rows(c: &Client, rel: &pg_query::protobuf::RangeVar) -> Option<i64> {
    let name = if rel.schemaname.is_empty() {
        quote(&rel.relname)
    } else {
        format!("{}.{}", quote(&rel.schemaname), quote(&rel.relname))
    };
    c.query_opt(
        "SELECT greatest(reltuples, 0)::bigint FROM pg_class WHERE oid = to_regclass($1)",
        &[&name],
    )
    .await
    .ok()
    .flatten()
    .map(|r| r.get(0))
}

fn quote(ident: &str) -> String {
    format!("\"{}\"", ident.replace('"', "\"\""))
}

/// Statements that lock a table for long: rewrites, full scans under an
/// exclusive lock, index builds that block writes.
async fn lock_warnings(c: &Client, m: &Migration) -> Vec<LockWarning> {
    let mut out = Vec::new();
    let Ok(parsed) = pg_query::parse(&m.sql, 0) else {
        return out;
    };
    for (i, raw) in parsed.protobuf.stmts.iter().enumerate() {
        let Some(node) = raw.stmt.as_ref().and_then(|s| s.node.as_ref()) else {
            continue;
        };
        let start = usize::try_from(raw.stmt_location).unwrap_or(0);
        let text = m.sql.get(start..).unwrap_or("");
        let position = position_of(&m.sql, start + leading_space(text));
        let mut warn = |warning: String, table_rows: Option<i64>| {
            out.push(LockWarning {
                statement: i + 1,
                position: position.clone(),
                warning,
                table_rows,
            })
        };
        match node {
            NodeEnum::IndexStmt(s) if !s.concurrent => {
                let rows = match &s.relation {
                    Some(r) => estimated_rows(c, r).await,
                    None => None,
                };
                warn(
                    "CREATE INDEX without CONCURRENTLY blocks writes to the table while the index builds; use CREATE INDEX CONCURRENTLY (in a migration of its own) on a table in use".into(),
                    rows,
                );
            }
            NodeEnum::AlterTableStmt(s) => {
                let rows = match &s.relation {
                    Some(r) => estimated_rows(c, r).await,
                    None => None,
                };
                for cmd in &s.cmds {
                    let Some(NodeEnum::AlterTableCmd(cmd)) = &cmd.node else {
                        continue;
                    };
                    use pg_query::protobuf::AlterTableType as T;
                    let kind = T::try_from(cmd.subtype).ok();
                    let text = match kind {
                        Some(T::AtAddColumn) if volatile_default(cmd) => Some(
                            "ADD COLUMN with a volatile default (e.g. now(), random(), gen_random_uuid()) rewrites the whole table under an ACCESS EXCLUSIVE lock; add the column without a default, then backfill in batches",
                        ),
                        Some(T::AtAlterColumnType) => Some(
                            "ALTER COLUMN ... TYPE usually rewrites the table and its indexes under an ACCESS EXCLUSIVE lock",
                        ),
                        Some(T::AtSetNotNull) => Some(
                            "SET NOT NULL scans the whole table under an ACCESS EXCLUSIVE lock; add a CHECK (col IS NOT NULL) NOT VALID constraint, VALIDATE it, then SET NOT NULL",
                        ),
                        Some(T::AtAddConstraint) if !not_valid(cmd) => Some(
                            "ADD CONSTRAINT checks every existing row while holding a lock; add it NOT VALID, then VALIDATE CONSTRAINT in a later migration",
                        ),
                        _ => None,
                    };
                    if let Some(t) = text {
                        warn(t.into(), rows);
                    }
                }
            }
            NodeEnum::VacuumStmt(s) if s.is_vacuumcmd && has_option(&s.options, "full") => warn(
                "VACUUM FULL rewrites the table under an ACCESS EXCLUSIVE lock".into(),
                None,
            ),
            NodeEnum::ClusterStmt(_) => warn(
                "CLUSTER rewrites the table under an ACCESS EXCLUSIVE lock".into(),
                None,
            ),
            NodeEnum::RefreshMatViewStmt(s) if !s.concurrent => warn(
                "REFRESH MATERIALIZED VIEW without CONCURRENTLY blocks reads of the view while it runs".into(),
                None,
            ),
            NodeEnum::LockStmt(_) => warn("explicit LOCK TABLE".into(), None),
            NodeEnum::TruncateStmt(_) => warn(
                "TRUNCATE takes an ACCESS EXCLUSIVE lock and removes every row".into(),
                None,
            ),
            _ => {}
        }
    }
    out
}

fn has_option(options: &[pg_query::protobuf::Node], name: &str) -> bool {
    options.iter().any(
        |o| matches!(&o.node, Some(NodeEnum::DefElem(d)) if d.defname.eq_ignore_ascii_case(name)),
    )
}

fn not_valid(cmd: &pg_query::protobuf::AlterTableCmd) -> bool {
    match cmd.def.as_ref().and_then(|d| d.node.as_ref()) {
        Some(NodeEnum::Constraint(c)) => {
            c.skip_validation || {
                use pg_query::protobuf::ConstrType as C;
                // Primary keys and unique constraints build an index instead.
                matches!(
                    C::try_from(c.contype).ok(),
                    Some(C::ConstrPrimary | C::ConstrUnique)
                )
            }
        }
        _ => true,
    }
}

/// The added column has a default that is not a constant.
fn volatile_default(cmd: &pg_query::protobuf::AlterTableCmd) -> bool {
    let Some(NodeEnum::ColumnDef(col)) = cmd.def.as_ref().and_then(|d| d.node.as_ref()) else {
        return false;
    };
    col.constraints.iter().any(|c| match &c.node {
        Some(NodeEnum::Constraint(k)) => {
            use pg_query::protobuf::ConstrType as C;
            C::try_from(k.contype).ok() == Some(C::ConstrDefault)
                && k.raw_expr
                    .as_ref()
                    .and_then(|e| e.node.as_ref())
                    .is_some_and(|e| !matches!(e, NodeEnum::AConst(_) | NodeEnum::TypeCast(_)))
        }
        _ => false,
    })
}

/// Reverts applied migrations, newest first: each down migration runs in a
/// transaction with the removal of its history row, under the lock.
/// `downs` pairs each version with its down SQL; all are parsed first.
pub async fn revert(
    c: &Client,
    downs: &[Migration],
    lock_wait: Duration,
) -> Result<Vec<Step>, ApplyError> {
    history::lock(c, lock_wait).await?;
    let r = revert_locked(c, downs).await;
    history::unlock(c).await;
    r
}

async fn revert_locked(c: &Client, downs: &[Migration]) -> Result<Vec<Step>, ApplyError> {
    let version = server_version(c).await?;
    let applied: HashSet<String> = history::read(c)
        .await?
        .into_iter()
        .map(|a| a.version)
        .collect();
    let mut prepared = Vec::new();
    for m in downs {
        if !applied.contains(&m.version) {
            return Err(ApplyError::Db {
                what: "cannot roll back",
                message: format!("migration {} is not applied", m.version),
            });
        }
        prepared.push(prepare(m, version)?);
    }
    let mut steps: Vec<Step> = Vec::new();
    for p in &prepared {
        let started = Instant::now();
        let committed: Vec<String> = steps.iter().map(|s| s.version.clone()).collect();
        let tx = p.autocommit.is_none();
        if tx {
            c.batch_execute("BEGIN")
                .await
                .map_err(db("cannot start the transaction"))?;
        }
        let done = match run_statements(c, p).await {
            Ok(()) => history::remove(c, &p.m.version)
                .await
                .map(|_| ())
                .map_err(ApplyError::from),
            Err(mut f) => {
                f.applied = committed;
                Err(ApplyError::Failed(f))
            }
        };
        if let Err(e) = done {
            if tx {
                let _ = c.batch_execute("ROLLBACK").await;
            }
            return Err(e);
        }
        if tx {
            c.batch_execute("COMMIT")
                .await
                .map_err(db("cannot commit the rollback"))?;
        }
        steps.push(step(p, started, tx));
    }
    Ok(steps)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(sql: &str) -> Migration {
        Migration {
            version: "1".into(),
            name: "t".into(),
            sql: sql.into(),
            requires: vec![],
        }
    }

    #[test]
    fn statements_that_need_autocommit_are_found() {
        let mig = m("CREATE TABLE t (id int);\nCREATE INDEX CONCURRENTLY i ON t (id);");
        let p = prepare(&mig, 150000).unwrap();
        assert_eq!(p.statements.len(), 2);
        assert_eq!(p.autocommit, Some("CREATE INDEX CONCURRENTLY"));
        for (sql, why) in [
            ("VACUUM t", "VACUUM"),
            ("DROP INDEX CONCURRENTLY i", "DROP INDEX CONCURRENTLY"),
            ("REINDEX (CONCURRENTLY) TABLE t", "REINDEX CONCURRENTLY"),
            ("CREATE DATABASE x", "CREATE DATABASE"),
        ] {
            assert_eq!(
                prepare(&m(sql), 150000).unwrap().autocommit,
                Some(why),
                "{sql}"
            );
        }
        // ADD VALUE runs in a transaction from PostgreSQL 12 on.
        let sql = "ALTER TYPE mood ADD VALUE 'meh'";
        assert_eq!(prepare(&m(sql), 150000).unwrap().autocommit, None);
        assert!(prepare(&m(sql), 110000).unwrap().autocommit.is_some());
        assert_eq!(prepare(&m("ANALYZE t"), 150000).unwrap().autocommit, None);
    }

    #[test]
    fn own_begin_and_commit_are_dropped_other_transaction_control_is_refused() {
        let mig = m("BEGIN;\nCREATE TABLE t (id int);\nCOMMIT;");
        let p = prepare(&mig, 150000).unwrap();
        assert_eq!(p.statements.len(), 1);
        assert!(!p.notes.is_empty());
        let e = prepare(
            &m("CREATE TABLE t (id int);\nCOMMIT;\nCREATE TABLE u (id int);"),
            150000,
        )
        .unwrap_err();
        match e {
            ApplyError::TxControl { position, .. } => assert_eq!(position.line, 2),
            other => panic!("{other}"),
        }
    }

    #[test]
    fn syntax_errors_give_line_and_column() {
        let e = prepare(&m("CREATE TABLE t (id int);\n\nSELEC 1;"), 150000).unwrap_err();
        match e {
            ApplyError::Syntax { position, .. } => {
                assert_eq!(position, Position { line: 3, column: 1 })
            }
            other => panic!("{other}"),
        }
    }

    #[test]
    fn a_batch_checks_dependencies_and_versions_before_running() {
        let a = Migration {
            version: "2".into(),
            requires: vec!["1".into()],
            ..m("SELECT 1")
        };
        let e = check(
            std::slice::from_ref(&a),
            &HashSet::new(),
            TxMode::Each,
            150000,
        )
        .unwrap_err();
        assert!(matches!(e, ApplyError::Dependency { .. }), "{e}");
        let applied = HashSet::from(["1".to_owned()]);
        assert!(check(std::slice::from_ref(&a), &applied, TxMode::Each, 150000).is_ok());
        let first = m("SELECT 1");
        assert!(
            check(
                &[first.clone(), a.clone()],
                &HashSet::new(),
                TxMode::Each,
                150000
            )
            .is_ok()
        );
        let e = check(
            &[a.clone(), first.clone()],
            &HashSet::new(),
            TxMode::Each,
            150000,
        )
        .unwrap_err();
        assert!(matches!(e, ApplyError::Dependency { .. }), "{e}");
        let e = check(std::slice::from_ref(&first), &applied, TxMode::Each, 150000).unwrap_err();
        assert!(matches!(e, ApplyError::AlreadyApplied(_)), "{e}");
        let conc = Migration {
            version: "3".into(),
            ..m("CREATE INDEX CONCURRENTLY i ON t (id)")
        };
        let e = check(
            &[first.clone(), conc.clone()],
            &HashSet::new(),
            TxMode::Batch,
            150000,
        )
        .unwrap_err();
        assert!(matches!(e, ApplyError::NeedsOwnRun { .. }), "{e}");
        assert!(check(&[conc], &HashSet::new(), TxMode::Batch, 150000).is_ok());
    }

    #[test]
    fn positions_count_lines_and_characters() {
        let t = "ab\ncdé\nfg";
        assert_eq!(position_of(t, 0), Position { line: 1, column: 1 });
        assert_eq!(position_of(t, 3), Position { line: 2, column: 1 });
        assert_eq!(
            position_of(t, t.find('f').unwrap()),
            Position { line: 3, column: 1 }
        );
        assert_eq!(position_of(t, 5), Position { line: 2, column: 3 });
        // Inside a character: its start.
        assert_eq!(position_of(t, 6), Position { line: 2, column: 3 });
        assert_eq!(position_of(t, 99), Position { line: 3, column: 3 });
    }
}
