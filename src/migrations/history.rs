//! The applied-migrations history, kept where and how the Supabase CLI
//! keeps it: `supabase_migrations.schema_migrations (version text primary
//! key, statements text[], name text)`. Other columns the platform adds
//! (`created_by`, `idempotency_key`) are left alone.
//!
//! Also the advisory lock that makes two appliers (this server, another
//! instance of it) take turns: a session-level lock on one key, taken with
//! a bounded wait so a stuck applier gives a clear error instead of a hang.

use std::time::{Duration, Instant};

use serde::Serialize;
use tokio_postgres::Client;

/// The advisory lock key every applier takes (`hashtext` is not stable
/// across versions, so a constant).
pub const LOCK_KEY: i64 = 0x5355_5041_4d49_4752; // "SUPAMIGR"

#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    #[error("{what}: {message}")]
    Db { what: &'static str, message: String },
    #[error(
        "another migration run holds the migration lock (backend pid {holder}) and did not finish within {waited_s} s"
    )]
    Locked { holder: String, waited_s: u64 },
}

fn db(what: &'static str) -> impl FnOnce(tokio_postgres::Error) -> HistoryError {
    move |e| HistoryError::Db {
        what,
        message: crate::pg::describe_error(&e),
    }
}

/// One row of the history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Applied {
    pub version: String,
    pub name: Option<String>,
    /// The statements recorded when it was applied (empty when the row was
    /// written without them, e.g. by a repair).
    pub statements: Vec<String>,
}

/// Creates the schema and table if they are missing, and the columns the
/// CLI added over time.
pub async fn ensure(c: &Client) -> Result<(), HistoryError> {
    c.batch_execute(
        "CREATE SCHEMA IF NOT EXISTS supabase_migrations;
         CREATE TABLE IF NOT EXISTS supabase_migrations.schema_migrations (version text NOT NULL PRIMARY KEY);
         ALTER TABLE supabase_migrations.schema_migrations ADD COLUMN IF NOT EXISTS statements text[];
         ALTER TABLE supabase_migrations.schema_migrations ADD COLUMN IF NOT EXISTS name text;",
    )
    .await
    .map_err(db("cannot create the migration history table"))
}

/// The history in version order (numeric order for digit versions); empty
/// when the table does not exist yet.
pub async fn read(c: &Client) -> Result<Vec<Applied>, HistoryError> {
    let exists: bool = c
        .query_one(
            "SELECT to_regclass('supabase_migrations.schema_migrations') IS NOT NULL",
            &[],
        )
        .await
        .map_err(db("cannot look for the migration history table"))?
        .get(0);
    if !exists {
        return Ok(Vec::new());
    }
    // The columns may be missing in a table an old CLI created.
    let rows = c
        .query(
            "SELECT version, to_jsonb(m) ->> 'name',
                    ARRAY(SELECT jsonb_array_elements_text(CASE WHEN jsonb_typeof(to_jsonb(m) -> 'statements') = 'array'
                                                                THEN to_jsonb(m) -> 'statements' ELSE '[]'::jsonb END))
             FROM supabase_migrations.schema_migrations m
             ORDER BY length(version), version",
            &[],
        )
        .await
        .map_err(db("cannot read the migration history"))?;
    Ok(rows
        .iter()
        .map(|r| Applied {
            version: r.get(0),
            name: r.get(1),
            statements: r.get(2),
        })
        .collect())
}

/// Records `version` as applied.
pub async fn record(
    c: &Client,
    version: &str,
    name: &str,
    statements: &[String],
) -> Result<(), HistoryError> {
    c.execute(
        "INSERT INTO supabase_migrations.schema_migrations (version, name, statements) VALUES ($1, $2, $3)",
        &[&version, &name, &statements],
    )
    .await
    .map_err(db("cannot record the migration in the history"))?;
    Ok(())
}

/// Removes `version` from the history; false when it was not there.
pub async fn remove(c: &Client, version: &str) -> Result<bool, HistoryError> {
    let n = c
        .execute(
            "DELETE FROM supabase_migrations.schema_migrations WHERE version = $1",
            &[&version],
        )
        .await
        .map_err(db("cannot remove the migration from the history"))?;
    Ok(n > 0)
}

/// Takes the session-level migration lock, waiting up to `wait`.
pub async fn lock(c: &Client, wait: Duration) -> Result<(), HistoryError> {
    let started = Instant::now();
    loop {
        let got: bool = c
            .query_one("SELECT pg_try_advisory_lock($1)", &[&LOCK_KEY])
            .await
            .map_err(db("cannot take the migration lock"))?
            .get(0);
        if got {
            return Ok(());
        }
        if started.elapsed() >= wait {
            let holder = c
                .query_opt(
                    "SELECT pid::text FROM pg_locks WHERE locktype = 'advisory' AND granted
                       AND ((classid::bigint << 32) | objid::bigint) = $1 LIMIT 1",
                    &[&LOCK_KEY],
                )
                .await
                .ok()
                .flatten()
                .map(|r| r.get::<_, String>(0))
                .unwrap_or_else(|| "unknown".into());
            return Err(HistoryError::Locked {
                holder,
                waited_s: wait.as_secs(),
            });
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Releases the migration lock (a closed session releases it as well).
pub async fn unlock(c: &Client) {
    let _ = c
        .query_one("SELECT pg_advisory_unlock($1)", &[&LOCK_KEY])
        .await;
}
