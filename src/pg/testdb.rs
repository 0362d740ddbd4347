//! Throwaway Supabase-like databases for tests.
//!
//! Owns [`TestDb`]: each instance is a fresh database cloned from a template
//! database that has the fixture of [`crate::fixture`] loaded, and is dropped
//! again when the `TestDb` goes out of scope (also when the test panics).
//!
//! * The server is the one of `DATABASE_URL` (default
//!   `postgres://postgres@127.0.0.1:5432/postgres`); the role must be a
//!   superuser (it creates roles, databases and publications).
//! * Templates are named `supabase_mcp_template_v<fingerprint>` (plus
//!   `_sample` with the sample data), where the fingerprint changes with the
//!   fixture SQL, so a changed fixture gets a new template and checkouts with
//!   different fixtures can share one server. They are built once, under a
//!   PostgreSQL advisory lock, and marked `IS_TEMPLATE` with connections
//!   disallowed. To remove an old one:
//!   `ALTER DATABASE <name> IS_TEMPLATE false; DROP DATABASE <name>;`.
//! * Test databases are named `smcp_test_<unix time>_<pid>_<counter>_<random>`.
//!   The first `TestDb` of a process drops leftovers older than an hour whose
//!   process is gone (for example after the test binary was killed).
//! * Everything works from any tokio runtime: no connection is kept across
//!   calls, and `Drop` runs the cleanup on its own thread and runtime.

use std::collections::BTreeSet;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio_postgres::Client;
use tokio_postgres::error::SqlState;

use super::{connect, describe_error, quote_ident};
use crate::fixture::{self, FixtureError};

/// Admin connection used when `DATABASE_URL` is not set.
pub const DEFAULT_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";
/// Prefix of every database created by [`TestDb`].
pub const TEST_DB_PREFIX: &str = "smcp_test_";
/// Prefix of the template databases.
pub const TEMPLATE_PREFIX: &str = "supabase_mcp_template_v";
/// Leftover test databases older than this are dropped when their process is gone.
pub const STALE_AFTER: Duration = Duration::from_secs(60 * 60);

/// Bump when the way templates are built changes (not the fixture itself:
/// that is covered by [`fixture::fingerprint`]).
const HARNESS_VERSION: u64 = 1;
/// Advisory lock key ("smcptpl" + 1) serializing template builds.
const TEMPLATE_LOCK_KEY: i64 = 0x736d_6370_7470_6c01;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const TEMPLATE_LOCK_TIMEOUT: Duration = Duration::from_secs(180);
const DROP_TIMEOUT: Duration = Duration::from_secs(60);

static COUNTER: AtomicU64 = AtomicU64::new(0);
static SWEPT: AtomicBool = AtomicBool::new(false);
static READY_TEMPLATES: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());

/// Failure to create, use or drop a test database.
#[derive(Debug, thiserror::Error)]
pub enum TestDbError {
    /// The admin URL could not be parsed.
    #[error(
        "invalid admin database URL {url:?}: {reason}; set DATABASE_URL to a URL like {DEFAULT_ADMIN_URL}"
    )]
    InvalidAdminUrl {
        /// The URL, password removed.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Connecting failed.
    #[error(
        "could not connect to {url}: {detail}; make sure PostgreSQL is running and reachable, \
         or set DATABASE_URL to a superuser connection URL"
    )]
    Connect {
        /// The URL, password removed.
        url: String,
        /// Server or driver message.
        detail: String,
        /// Underlying driver error.
        #[source]
        source: tokio_postgres::Error,
    },
    /// A statement run by the harness failed.
    #[error("{action} failed: {detail}; the DATABASE_URL role must be a superuser")]
    Query {
        /// What the harness was doing.
        action: String,
        /// Server or driver message.
        detail: String,
        /// Underlying driver error.
        #[source]
        source: tokio_postgres::Error,
    },
    /// Loading the fixture into a new template failed.
    #[error("building template database {template} failed: {source}")]
    Fixture {
        /// Template being built.
        template: String,
        /// Underlying fixture error.
        #[source]
        source: FixtureError,
    },
    /// Something took too long.
    #[error("timed out after {after:?} while {action}; check the server load and retry")]
    Timeout {
        /// What the harness was doing.
        action: String,
        /// How long it waited.
        after: Duration,
    },
    /// The cleanup runtime could not be created.
    #[error("could not start a runtime to drop database {name}: {source}; drop it by hand")]
    Runtime {
        /// Database that was to be dropped.
        name: String,
        /// Underlying I/O error.
        #[source]
        source: std::io::Error,
    },
}

/// What [`TestDb::create`] builds.
#[derive(Debug, Clone, Default)]
pub struct TestDbOptions {
    /// Also load `fixtures/sample_data.sql`.
    pub sample_data: bool,
    /// Admin connection URL; `None` reads `DATABASE_URL`, then
    /// [`DEFAULT_ADMIN_URL`].
    pub admin_url: Option<String>,
}

/// A fresh Supabase-like database, dropped when this value is dropped.
#[derive(Debug)]
pub struct TestDb {
    /// Connection URL of the database (same credentials as the admin URL).
    pub url: String,
    /// Database name.
    pub name: String,
    admin_url: String,
    dropped: bool,
}

impl TestDb {
    /// A new database with the Supabase fixture loaded, without sample data.
    pub async fn new() -> Result<TestDb, TestDbError> {
        Self::create(TestDbOptions::default()).await
    }

    /// A new database with the Supabase fixture and the sample data loaded.
    pub async fn with_sample_data() -> Result<TestDb, TestDbError> {
        Self::create(TestDbOptions {
            sample_data: true,
            admin_url: None,
        })
        .await
    }

    /// A new database as described by `options`.
    pub async fn create(options: TestDbOptions) -> Result<TestDb, TestDbError> {
        let admin_url = options.admin_url.unwrap_or_else(admin_url_from_env);
        validate_url(&admin_url)?;
        let admin = connect_to(&admin_url).await?;

        if !SWEPT.swap(true, Ordering::SeqCst)
            && let Err(error) = sweep_stale_databases(&admin, STALE_AFTER).await
        {
            tracing::warn!(%error, "could not sweep leftover test databases");
        }

        let template = ensure_template(&admin, &admin_url, options.sample_data).await?;
        let name = unique_name();
        let sql = format!(
            "CREATE DATABASE {} TEMPLATE {}",
            quote_ident(&name),
            quote_ident(&template)
        );
        let mut attempt = 0;
        loop {
            attempt += 1;
            match admin.batch_execute(&sql).await {
                Ok(()) => break,
                // The template is briefly busy (e.g. a backend still exiting).
                Err(error) if error.code() == Some(&SqlState::OBJECT_IN_USE) && attempt < 20 => {
                    tokio::time::sleep(Duration::from_millis(250)).await;
                }
                Err(source) => {
                    return Err(query_error(
                        format!("creating database {name} from template {template}"),
                        source,
                    ));
                }
            }
        }
        let url = replace_database(&admin_url, &name);
        Ok(TestDb {
            url,
            name,
            admin_url,
            dropped: false,
        })
    }

    /// A new client connected to this database as the admin role. The
    /// connection runs on the current runtime.
    pub async fn client(&self) -> Result<Client, TestDbError> {
        connect_to(&self.url).await
    }

    /// Connection URL of this database as another role (trust or peer
    /// authentication assumed; the admin password is dropped).
    pub fn url_as(&self, user: &str) -> String {
        replace_user(&self.url, user)
    }

    /// The admin connection URL this database was created through.
    pub fn admin_url(&self) -> &str {
        &self.admin_url
    }

    /// Drops the database now, reporting errors (dropping the value does the
    /// same, best effort).
    pub async fn drop_database(mut self) -> Result<(), TestDbError> {
        self.dropped = true;
        match tokio::time::timeout(DROP_TIMEOUT, drop_db(&self.admin_url, &self.name)).await {
            Ok(result) => result,
            Err(_) => Err(TestDbError::Timeout {
                action: format!("dropping database {}", self.name),
                after: DROP_TIMEOUT,
            }),
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if self.dropped {
            return;
        }
        self.dropped = true;
        let admin_url = self.admin_url.clone();
        let name = self.name.clone();
        let worker = std::thread::Builder::new()
            .name("smcp-testdb-drop".into())
            .spawn(move || drop_db_blocking(&admin_url, &name));
        let outcome = match worker {
            Ok(handle) => match handle.join() {
                Ok(result) => result.map_err(|e| e.to_string()),
                Err(_) => Err("the cleanup thread panicked".to_string()),
            },
            Err(error) => Err(format!("could not spawn the cleanup thread: {error}")),
        };
        if let Err(error) = outcome {
            tracing::warn!(database = %self.name, %error, "could not drop test database");
            eprintln!(
                "warning: could not drop test database {}: {error} (it will be swept after {} minutes)",
                self.name,
                STALE_AFTER.as_secs() / 60
            );
        }
    }
}

/// The admin URL: `DATABASE_URL`, or [`DEFAULT_ADMIN_URL`].
pub fn admin_url_from_env() -> String {
    std::env::var("DATABASE_URL")
        .ok()
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_ADMIN_URL.to_string())
}

/// Name of the template database for the current fixture.
pub fn template_name(sample_data: bool) -> String {
    let hash =
        fixture::fingerprint(sample_data) ^ HARNESS_VERSION.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    if sample_data {
        format!("{TEMPLATE_PREFIX}{hash:016x}_sample")
    } else {
        format!("{TEMPLATE_PREFIX}{hash:016x}")
    }
}

/// Drops `smcp_test_*` databases older than `max_age` whose creating process
/// is no longer running. Returns the names dropped.
pub async fn sweep_stale_databases(
    admin: &Client,
    max_age: Duration,
) -> Result<Vec<String>, TestDbError> {
    let rows = admin
        .query(
            "SELECT datname FROM pg_catalog.pg_database WHERE starts_with(datname, $1)",
            &[&TEST_DB_PREFIX],
        )
        .await
        .map_err(|e| query_error("listing leftover test databases".into(), e))?;
    let now = unix_now();
    let mut dropped = Vec::new();
    for row in rows {
        let name: String = row.get(0);
        let Some((created, pid)) = parse_test_db_name(&name) else {
            continue;
        };
        if now.saturating_sub(created) < max_age.as_secs() || process_alive(pid) {
            continue;
        }
        let sql = format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            quote_ident(&name)
        );
        match admin.batch_execute(&sql).await {
            Ok(()) => dropped.push(name),
            Err(error) => {
                tracing::debug!(database = %name, error = %describe_error(&error), "could not sweep");
            }
        }
    }
    Ok(dropped)
}

/// Makes sure the template for `sample_data` exists, building it if needed.
async fn ensure_template(
    admin: &Client,
    admin_url: &str,
    sample_data: bool,
) -> Result<String, TestDbError> {
    let template = template_name(sample_data);
    if template_known(&template) {
        return Ok(template);
    }
    if !database_exists(admin, &template).await? {
        let lock = admin.query("SELECT pg_advisory_lock($1)", &[&TEMPLATE_LOCK_KEY]);
        match tokio::time::timeout(TEMPLATE_LOCK_TIMEOUT, lock).await {
            Ok(Ok(_)) => {}
            Ok(Err(source)) => {
                return Err(query_error("taking the template build lock".into(), source));
            }
            Err(_) => {
                return Err(TestDbError::Timeout {
                    action: format!("waiting for another process to build {template}"),
                    after: TEMPLATE_LOCK_TIMEOUT,
                });
            }
        }
        let built = build_template_locked(admin, admin_url, &template, sample_data).await;
        // Closing the connection would release it too; unlock for tidiness.
        if let Err(error) = admin
            .query("SELECT pg_advisory_unlock($1)", &[&TEMPLATE_LOCK_KEY])
            .await
        {
            tracing::debug!(error = %describe_error(&error), "advisory unlock failed");
        }
        built?;
    }
    if let Ok(mut known) = READY_TEMPLATES.lock() {
        known.insert(template.clone());
    }
    Ok(template)
}

fn template_known(template: &str) -> bool {
    READY_TEMPLATES
        .lock()
        .map(|known| known.contains(template))
        .unwrap_or(false)
}

/// Builds `template` (caller holds the advisory lock): load the fixture into
/// `<template>_build`, then rename it, so a half-built template is never
/// visible under the final name.
async fn build_template_locked(
    admin: &Client,
    admin_url: &str,
    template: &str,
    sample_data: bool,
) -> Result<(), TestDbError> {
    if database_exists(admin, template).await? {
        return Ok(());
    }
    let build = format!("{template}_build");
    let run = |sql: String, action: String| async move {
        admin
            .batch_execute(&sql)
            .await
            .map_err(|e| query_error(action, e))
    };
    run(
        format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            quote_ident(&build)
        ),
        format!("dropping the stale partial template {build}"),
    )
    .await?;
    run(
        format!(
            "CREATE DATABASE {} TEMPLATE template0 ENCODING 'UTF8'",
            quote_ident(&build)
        ),
        format!("creating template database {build}"),
    )
    .await?;
    {
        let client = connect_to(&replace_database(admin_url, &build)).await?;
        fixture::load(&client, sample_data)
            .await
            .map_err(|source| TestDbError::Fixture {
                template: template.to_string(),
                source,
            })?;
    }
    run(
        format!(
            "ALTER DATABASE {} RENAME TO {}",
            quote_ident(&build),
            quote_ident(template)
        ),
        format!("renaming {build} to {template}"),
    )
    .await?;
    run(
        format!(
            "ALTER DATABASE {} WITH IS_TEMPLATE true ALLOW_CONNECTIONS false",
            quote_ident(template)
        ),
        format!("marking {template} as a template"),
    )
    .await?;
    Ok(())
}

async fn database_exists(admin: &Client, name: &str) -> Result<bool, TestDbError> {
    let row = admin
        .query_opt(
            "SELECT 1 FROM pg_catalog.pg_database WHERE datname = $1",
            &[&name],
        )
        .await
        .map_err(|e| query_error(format!("looking up database {name}"), e))?;
    Ok(row.is_some())
}

async fn drop_db(admin_url: &str, name: &str) -> Result<(), TestDbError> {
    let admin = connect_to(admin_url).await?;
    admin
        .batch_execute(&format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            quote_ident(name)
        ))
        .await
        .map_err(|e| query_error(format!("dropping database {name}"), e))
}

/// Drops `name` from a thread that is not inside any runtime.
fn drop_db_blocking(admin_url: &str, name: &str) -> Result<(), TestDbError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|source| TestDbError::Runtime {
            name: name.to_string(),
            source,
        })?;
    runtime.block_on(async {
        match tokio::time::timeout(DROP_TIMEOUT, drop_db(admin_url, name)).await {
            Ok(result) => result,
            Err(_) => Err(TestDbError::Timeout {
                action: format!("dropping database {name}"),
                after: DROP_TIMEOUT,
            }),
        }
    })
}

async fn connect_to(url: &str) -> Result<Client, TestDbError> {
    connect(url, CONNECT_TIMEOUT)
        .await
        .map_err(|source| TestDbError::Connect {
            url: redact(url),
            detail: describe_error(&source),
            source,
        })
}

fn query_error(action: String, source: tokio_postgres::Error) -> TestDbError {
    TestDbError::Query {
        action,
        detail: describe_error(&source),
        source,
    }
}

fn validate_url(url: &str) -> Result<(), TestDbError> {
    url.parse::<tokio_postgres::Config>()
        .map(|_| ())
        .map_err(|e| TestDbError::InvalidAdminUrl {
            url: redact(url),
            reason: describe_error(&e),
        })
}

fn is_url(conn: &str) -> bool {
    conn.starts_with("postgres://") || conn.starts_with("postgresql://")
}

/// `conn` with its database replaced by `database`.
fn replace_database(conn: &str, database: &str) -> String {
    if is_url(conn)
        && let Ok(mut url) = url::Url::parse(conn)
    {
        url.set_path(&format!("/{database}"));
        return url.to_string();
    }
    // key=value form: a later key overrides an earlier one.
    format!("{conn} dbname={}", quote_conninfo(database))
}

/// `conn` connecting as `user`, without password.
fn replace_user(conn: &str, user: &str) -> String {
    if is_url(conn)
        && let Ok(mut url) = url::Url::parse(conn)
        && url.set_username(user).is_ok()
        && url.set_password(None).is_ok()
    {
        return url.to_string();
    }
    format!("{conn} user={} password=''", quote_conninfo(user))
}

fn quote_conninfo(value: &str) -> String {
    format!("'{}'", value.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// `url` without its password, for messages.
fn redact(conn: &str) -> String {
    if is_url(conn)
        && let Ok(mut url) = url::Url::parse(conn)
    {
        if url.password().is_some() {
            let _ = url.set_password(Some("***"));
        }
        return url.to_string();
    }
    conn.split_whitespace()
        .map(|kv| {
            if kv.starts_with("password=") {
                "password=***"
            } else {
                kv
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn unique_name() -> String {
    let counter = COUNTER.fetch_add(1, Ordering::Relaxed);
    let random: u32 = rand::random();
    format!(
        "{TEST_DB_PREFIX}{}_{}_{counter}_{random:08x}",
        unix_now(),
        std::process::id()
    )
}

/// `(created unix time, pid)` from a test database name.
fn parse_test_db_name(name: &str) -> Option<(u64, u32)> {
    let mut parts = name.strip_prefix(TEST_DB_PREFIX)?.split('_');
    let created = parts.next()?.parse().ok()?;
    let pid = parts.next()?.parse().ok()?;
    Some((created, pid))
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn process_alive(pid: u32) -> bool {
    if pid == std::process::id() {
        return true;
    }
    if std::path::Path::new("/proc/self").exists() {
        return std::path::Path::new(&format!("/proc/{pid}")).exists();
    }
    std::process::Command::new("kill")
        .args(["-0", &pid.to_string()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        let name = unique_name();
        assert!(name.len() < 63, "{name}");
        let (created, pid) = parse_test_db_name(&name).unwrap();
        assert_eq!(pid, std::process::id());
        assert!(created.abs_diff(unix_now()) < 5);
        assert_eq!(parse_test_db_name("smcp_test_x"), None);
        assert!(template_name(true).len() < 63);
        assert_ne!(template_name(true), template_name(false));
    }

    #[test]
    fn rewrites_urls() {
        assert_eq!(
            replace_database("postgres://postgres@127.0.0.1:5432/postgres", "db1"),
            "postgres://postgres@127.0.0.1:5432/db1"
        );
        assert_eq!(
            replace_database("postgresql://u:p@h/x?sslmode=disable", "db1"),
            "postgresql://u:p@h/db1?sslmode=disable"
        );
        assert_eq!(
            replace_database("host=localhost user=postgres", "db1"),
            "host=localhost user=postgres dbname='db1'"
        );
        assert_eq!(
            replace_user("postgres://postgres:secret@127.0.0.1:5432/db1", "anon"),
            "postgres://anon@127.0.0.1:5432/db1"
        );
        assert_eq!(redact("postgres://u:secret@h/db"), "postgres://u:***@h/db");
        assert_eq!(redact("host=h password=secret"), "host=h password=***");
    }
}
