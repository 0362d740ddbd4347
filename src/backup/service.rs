//! Backups and restores of a configured instance, end to end: what the
//! tools and the `backup` / `restore` commands call.
//!
//! A backup opens a `REPEATABLE READ` transaction on the instance, exports
//! its snapshot and counts rows in it, so `pg_dump --snapshot` and the
//! manifest's row counts see the same data; then runs the pipeline to a
//! temporary file, verifies it, moves it into place and records it in the
//! manifest. A failure at any step leaves neither a file nor an entry.
//!
//! A restore checks the entry and the target first (server version,
//! extensions; the file's hash before overwriting an existing database),
//! streams the file into `pg_restore`/`psql`, drops a database it created
//! when the restore fails (unless asked to keep it), and compares the
//! restored tables' row counts with the manifest.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use chrono::Utc;
use tokio_util::sync::CancellationToken;

use super::compress::Compression;
use super::crypt::{EncryptOptions, KeySource};
use super::fingerprint::{self, Difference, Fingerprint};
use super::manifest::{
    self, DumpFormat, Encryption, Entry, Extension, Kdf, Kind, Manifest, Subset,
};
use super::pgtools;
use super::pipeline::{self, DumpSpec, Format, RestoreSpec};
use crate::config::{BackupConfig, Instance};
use crate::db::connstr::ConnParams;
use crate::pg::quote_ident;
use crate::result::{ErrorCode, ToolError};
use crate::server::State;

/// Schemas of Supabase's services, left out with `exclude_supabase_managed`.
/// Schemas that hold extensions (`extensions`, `graphql`, `vault`, `net`,
/// `cron`, `pgsodium`...) stay: pg_dump still writes `CREATE EXTENSION ...
/// WITH SCHEMA <schema>`, which needs them on restore.
pub const SUPABASE_MANAGED: &[&str] = &[
    "auth",
    "storage",
    "realtime",
    "_realtime",
    "graphql_public",
    "supabase_functions",
    "supabase_migrations",
    "_analytics",
    "_supavisor",
];

/// What to back up and how.
#[derive(Debug, Clone, Default)]
pub struct BackupRequest {
    pub schema_only: bool,
    pub data_only: bool,
    pub schemas: Vec<String>,
    pub exclude_schemas: Vec<String>,
    pub tables: Vec<String>,
    pub exclude_tables: Vec<String>,
    pub exclude_supabase_managed: bool,
    pub format: Format,
    pub compression: Compression,
    pub encrypt: bool,
    pub tags: Vec<String>,
    /// Also save the roles (`pg_dumpall --roles-only --no-role-passwords`).
    pub include_roles: bool,
}

/// How to restore.
#[derive(Debug, Clone, Default)]
pub struct RestoreRequest {
    pub id: String,
    /// Create this database and restore into it; `None` restores into the
    /// instance's own database (overwriting: `clean`).
    pub new_database: Option<String>,
    pub clean: bool,
    pub no_owner: bool,
    pub jobs: u32,
    /// Keep a newly created database when the restore fails.
    pub keep_on_failure: bool,
    /// Only restore these schemas (custom format).
    pub schemas: Vec<String>,
    /// First create the roles saved with the backup (existing ones are kept).
    pub restore_roles: bool,
}

/// What a restore did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RestoreReport {
    pub id: String,
    pub database: String,
    pub created_database: bool,
    pub raw_bytes: u64,
    pub tables_checked: usize,
    /// Schema objects compared with the backup's fingerprint (0 when the
    /// backup has none: data-only, table subsets, older backups).
    pub schema_objects_checked: usize,
    pub duration_ms: u64,
    /// Where the time went: `checks` (before the restore), `spool` (the
    /// temporary copy of a parallel restore), `restore` (pg_restore or
    /// psql, including the spool), `validation` (row counts and schema).
    pub timings_ms: BTreeMap<&'static str, u64>,
    pub warnings: Vec<String>,
}

/// A PostgreSQL error as a tool error.
fn pg(e: tokio_postgres::Error) -> ToolError {
    crate::sql::run::pg_error(&e)
}

/// The client programs for a server of major version `major`.
async fn find_tools(dir: Option<&Path>, major: u32) -> Result<pgtools::PgTools, ToolError> {
    pgtools::find(dir, major)
        .await
        .map_err(|e| err(ErrorCode::NotConfigured, e.to_string()))
}

fn err(code: ErrorCode, message: impl Into<String>) -> ToolError {
    ToolError::new(code, message)
}

fn pipeline_error(e: pipeline::PipelineError) -> ToolError {
    use pipeline::PipelineError as P;
    let suggestion = match &e {
        P::KeyNeeded => {
            "Start the server with --backup-passphrase (SUPABASE_MCP_BACKUP_PASSPHRASE) or --backup-key-file, as when the backup was made."
        }
        P::Crypt(_) => {
            "Use the passphrase or key file the backup was made with; if it is right, the file was altered: use another backup."
        }
        P::Damaged(_) | P::HashMismatch { .. } => {
            "The file is damaged or was replaced: use another backup (list_backups) and check the storage."
        }
        P::Program { .. } => "Read the program's message above; nothing half-done was kept.",
        P::Write { .. } => {
            "Check free space and permissions of the backup directory (--backup-dir)."
        }
        P::Cancelled => "Run it again when needed.",
        _ => "Check that the PostgreSQL client programs are installed (or pass --pg-bin-dir).",
    };
    ToolError::new(ErrorCode::Io, e.to_string()).suggestion(suggestion)
}

/// The key for new backups, from the configuration.
pub fn configured_key(cfg: &BackupConfig) -> Result<Option<(KeySource, Kdf)>, ToolError> {
    if let Some(p) = &cfg.passphrase {
        let k = KeySource::passphrase(p.expose()).map_err(|e| ToolError::invalid(e.to_string()))?;
        return Ok(Some((k, Kdf::Argon2id)));
    }
    if let Some(f) = &cfg.key_file {
        let k = KeySource::key_file(f).map_err(|e| {
            ToolError::invalid(e.to_string())
                .suggestion("Create a key with `openssl rand -hex 32 > backup.key` and pass --backup-key-file backup.key.")
        })?;
        return Ok(Some((k, Kdf::Keyfile)));
    }
    Ok(None)
}

/// The instance's direct connection (backups need one: `pg_dump` cannot
/// work through a transaction pooler or an HTTP API).
pub fn direct_params(inst: &Instance) -> Result<ConnParams, ToolError> {
    let Some(url) = &inst.db_url else {
        return Err(err(
            ErrorCode::NotConfigured,
            format!("instance `{}` has no database URL; backups run pg_dump over a direct connection", inst.name),
        )
        .suggestion("Pass --db-url postgres://postgres:PASSWORD@HOST:5432/postgres (port 5432, not the 6543 pooler)."));
    };
    let params = ConnParams::parse(url.expose())
        .map_err(|e| ToolError::invalid(format!("the database URL is not valid: {e}")))?;
    if let Some(reason) = params.pooled_reason() {
        return Err(ToolError::invalid(format!(
            "backups need a direct connection, and this URL goes through a transaction pooler ({})",
            reason.describe()
        ))
        .suggestion("Use the direct connection string (port 5432) for --db-url."));
    }
    Ok(params)
}

/// The backup directory, created if needed.
pub fn backup_dir(cfg: &BackupConfig) -> Result<PathBuf, ToolError> {
    std::fs::create_dir_all(&cfg.dir).map_err(|e| {
        err(
            ErrorCode::Io,
            format!(
                "cannot create the backup directory {}: {e}",
                cfg.dir.display()
            ),
        )
        .suggestion("Choose a writable directory with --backup-dir.")
    })?;
    Ok(cfg.dir.clone())
}

fn valid_names(list: &[String], what: &str) -> Result<(), ToolError> {
    for n in list {
        if n.trim().is_empty() || n.starts_with('-') || n.contains('\0') {
            return Err(
                ToolError::invalid(format!("`{n}` is not a valid {what} name"))
                    .suggestion("Give plain names such as `public` or `public.orders`."),
            );
        }
    }
    Ok(())
}

/// Makes a backup of `inst` and records it. `progress` gets the raw bytes
/// dumped so far, about once a second.
pub async fn create_backup<F>(
    state: &Arc<State>,
    inst: &Instance,
    req: &BackupRequest,
    cancel: &CancellationToken,
    progress: F,
) -> Result<Entry, ToolError>
where
    F: Fn(u64) + Send + Sync,
{
    if req.schema_only && req.data_only {
        return Err(
            ToolError::invalid("`schema_only` and `data_only` exclude each other")
                .suggestion("Pick one, or neither for a full backup."),
        );
    }
    for (list, what) in [
        (&req.schemas, "schema"),
        (&req.exclude_schemas, "schema"),
        (&req.tables, "table"),
        (&req.exclude_tables, "table"),
    ] {
        valid_names(list, what)?;
    }
    for t in &req.tags {
        if t.is_empty() || t.len() > 64 || t.contains(['\n', '\0']) {
            return Err(ToolError::invalid(format!("tag `{t}` is not valid"))
                .suggestion("Tags are short labels such as `nightly` or `before-migration`."));
        }
    }
    let cfg = &state.config.backup;
    let keyed = if req.encrypt {
        Some(configured_key(cfg)?.ok_or_else(|| {
            ToolError::invalid("encryption was asked for, but no backup key is configured")
                .suggestion("Start the server with --backup-passphrase (or SUPABASE_MCP_BACKUP_PASSPHRASE) or --backup-key-file.")
        })?)
    } else {
        None
    };
    let kdf = keyed.as_ref().map(|(_, k)| *k);
    let key = keyed.map(|(k, _)| k);
    let conn = direct_params(inst)?;
    let dir = backup_dir(cfg)?;

    // The snapshot transaction: row counts and pg_dump see the same data.
    let db = state.pools.get(inst).await?;
    db.batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        .await
        .map_err(pg)?;
    let result = async {
        let row = db
            .query_one(
                "SELECT pg_export_snapshot() AS snap, current_setting('server_version_num')::int8 AS num, \
                 current_setting('server_version') AS ver, current_database()::text AS db, \
                 pg_database_size(current_database()) AS size",
                &[],
            )
            .await
            .map_err(pg)?;
        let database_bytes: i64 = row.get("size");
        let snapshot: String = row.get("snap");
        let server_num: i64 = row.get("num");
        let server_version: String = row.get("ver");
        let database: String = row.get("db");
        let tools = find_tools(cfg.pg_bin_dir.as_deref(), pgtools::server_major(server_num)).await?;
        let extensions: Vec<Extension> = db
            .query("SELECT extname::text, extversion FROM pg_extension ORDER BY 1", &[])
            .await
            .map_err(pg)?
            .iter()
            .map(|r| Extension {
                name: r.get(0),
                version: r.get(1),
            })
            .collect();
        let mut exclude_schemas = req.exclude_schemas.clone();
        if req.exclude_supabase_managed {
            exclude_schemas.extend(SUPABASE_MANAGED.iter().map(|s| (*s).to_owned()));
        }
        let spec = DumpSpec {
            schema_only: req.schema_only,
            data_only: req.data_only,
            format: req.format,
            schemas: req.schemas.clone(),
            exclude_schemas: exclude_schemas.clone(),
            tables: req.tables.clone(),
            exclude_tables: req.exclude_tables.clone(),
            snapshot: Some(snapshot),
        };
        let created_at = Utc::now();
        let id = manifest::new_id(created_at);
        let ext = match req.format {
            Format::Custom => "dump",
            Format::Plain => "sql",
        };
        let codec = req.compression.codec().extension();
        let enc = if kdf.is_some() { ".enc" } else { "" };
        let file = format!("{}-{}-{id}.{ext}{codec}{enc}", safe(&inst.name), safe(&database));
        let final_path = dir.join(&file);
        let roles_file = req
            .include_roles
            .then(|| format!("{}-{}-{id}.roles.sql{codec}{enc}", safe(&inst.name), safe(&database)));
        let roles_path = roles_file.as_ref().map(|f| dir.join(f));
        // The row counts run in the snapshot transaction while pg_dump
        // reads the same snapshot; a failed count stops the dump.
        let dump_cancel = cancel.child_token();
        let counting = async {
            let counted = if req.schema_only {
                Ok(BTreeMap::new())
            } else {
                count_rows(&db, &req.schemas, &exclude_schemas, &req.tables, &req.exclude_tables).await
            };
            if counted.is_err() {
                dump_cancel.cancel();
            }
            // The schema fingerprint, in the same snapshot, for backups that
            // hold whole schemas; a restore compares the restored schema with it.
            let schema = if counted.is_ok() && !req.data_only && req.tables.is_empty() && req.exclude_tables.is_empty() {
                let scope = fingerprint::Scope {
                    schemas: req.schemas.clone(),
                    exclude_schemas: exclude_schemas.clone(),
                };
                match fingerprint::take(&db, &scope).await {
                    Ok(f) => Some(f),
                    Err(e) => {
                        tracing::warn!("backup without a schema fingerprint: {e}");
                        None
                    }
                }
            } else {
                None
            };
            counted.map(|c| (c, schema))
        };
        let dumping = run_blocking_with_progress(&dump_cancel, &progress, {
            let tools = tools.clone();
            let conn = conn.clone();
            let compression = req.compression;
            let final_path = final_path.clone();
            let roles_path = roles_path.clone();
            move |stop: &AtomicBool, bytes: &AtomicU64| {
                let k = key.as_ref().map(|k| (k, EncryptOptions::default()));
                let v = pipeline::write_verified_backup(&tools, &conn, &spec, &compression, k, &final_path, stop, bytes);
                match v {
                    Ok((w, _)) => {
                        if let Some(roles_path) = &roles_path {
                            let Some(dumpall) = &tools.pg_dumpall else {
                                let _ = std::fs::remove_file(&w.temp);
                                return Err(pipeline::PipelineError::Spawn {
                                    program: "pg_dumpall".into(),
                                    message: format!("not found next to {}", tools.pg_dump.path.display()),
                                });
                            };
                            let (mut args, env) = pipeline::connection(&conn);
                            // pg_dumpall's --dbname is a connection string; --database is the name.
                            for a in args.iter_mut() {
                                if let Some(db) = a.strip_prefix("--dbname=") {
                                    *a = format!("--database={db}");
                                }
                            }
                            args.extend(["--roles-only", "--no-role-passwords", "--no-password"].map(String::from));
                            let r = pipeline::write_program_output(
                                &dumpall.path, &args, &env, &compression, k, roles_path, stop, &AtomicU64::new(0),
                            );
                            match r {
                                Ok(rw) => pipeline::commit(&rw.temp, roles_path)?,
                                Err(e) => {
                                    let _ = std::fs::remove_file(&w.temp);
                                    return Err(e);
                                }
                            }
                        }
                        pipeline::commit(&w.temp, &final_path)?;
                        Ok(w)
                    }
                    Err(e) => Err(e),
                }
            }
        });
        let (row_counts, written) = tokio::join!(counting, dumping);
        let row_counts = match (row_counts, written) {
            (Ok(counts), Ok(w)) => (counts, w),
            (Err(e), written) => {
                if written.is_ok() {
                    let _ = std::fs::remove_file(&final_path);
                    if let Some(r) = &roles_path {
                        let _ = std::fs::remove_file(r);
                    }
                }
                return Err(e);
            }
            (Ok(_), Err(e)) => return Err(e),
        };
        let ((row_counts, schema_fingerprint), written) = row_counts;
        let kind = if req.schema_only {
            Kind::Schema
        } else if req.data_only {
            Kind::Data
        } else if req.schemas.is_empty()
            && req.tables.is_empty()
            && exclude_schemas.is_empty()
            && req.exclude_tables.is_empty()
        {
            Kind::Full
        } else {
            Kind::Subset(Subset {
                include_schemas: req.schemas.clone(),
                exclude_schemas,
                include_tables: req.tables.clone(),
                exclude_tables: req.exclude_tables.clone(),
            })
        };
        let entry = Entry {
            id,
            instance: inst.name.clone(),
            database,
            created_at,
            kind,
            format: DumpFormat::from(req.format),
            server_version,
            pg_dump_version: tools.pg_dump.version.clone(),
            extensions,
            raw_bytes: written.raw_bytes,
            stored_bytes: written.stored_bytes,
            sha256: written.sha256,
            file,
            row_counts,
            compression: req.compression.to_string(),
            encryption: match kdf {
                None => Encryption::None,
                Some(kdf) => Encryption::Aes256Gcm {
                    kdf,
                    key_fingerprint: None,
                },
            },
            tags: req.tags.clone(),
            includes_roles: roles_file.is_some(),
            extra: {
                let mut m = serde_json::Map::new();
                if let Some(f) = &roles_file {
                    m.insert("roles_file".into(), serde_json::Value::String(f.clone()));
                }
                // The database's size on disk: what a restore needs free.
                m.insert("database_bytes".into(), serde_json::Value::from(database_bytes.max(0)));
                if let Some(f) = &schema_fingerprint
                    && let Ok(v) = serde_json::to_value(&f.objects)
                {
                    m.insert(SCHEMA_FINGERPRINT.into(), v);
                }
                m
            },
        };
        let dir2 = dir.clone();
        let e2 = entry.clone();
        let added = tokio::task::spawn_blocking(move || Manifest::add_to(&dir2, e2))
            .await
            .map_err(|e| ToolError::internal(e.to_string()))?;
        if let Err(e) = added {
            let _ = std::fs::remove_file(&final_path);
            if let Some(r) = &roles_path {
                let _ = std::fs::remove_file(r);
            }
            return Err(err(ErrorCode::Io, format!("cannot record the backup: {e}")));
        }
        Ok(entry)
    }
    .await;
    let _ = db.batch_execute("COMMIT").await;
    result
}

/// Row counts of the tables a dump covers, in the current transaction.
async fn count_rows(
    db: &tokio_postgres::Client,
    schemas: &[String],
    exclude_schemas: &[String],
    tables: &[String],
    exclude_tables: &[String],
) -> Result<BTreeMap<String, i64>, ToolError> {
    let rows = db
        .query(
            "SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname) AS q, n.nspname::text AS s, c.relname::text AS t \
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition \
               AND n.nspname NOT LIKE 'pg\\_%' AND n.nspname <> 'information_schema' \
               AND (cardinality($1::text[]) = 0 OR n.nspname = ANY($1)) \
               AND NOT (n.nspname = ANY($2)) \
             ORDER BY 2, 3",
            &[&schemas, &exclude_schemas],
        )
        .await
        .map_err(pg)?;
    let mut out = BTreeMap::new();
    for r in rows {
        let (q, s, t): (String, String, String) = (r.get(0), r.get(1), r.get(2));
        let full = format!("{s}.{t}");
        let named = |list: &[String]| list.iter().any(|x| *x == full || *x == t);
        if (!tables.is_empty() && !named(tables)) || named(exclude_tables) {
            continue;
        }
        let n: i64 = db
            .query_one(&format!("SELECT count(*) FROM {q}"), &[])
            .await
            .map_err(pg)?
            .get(0);
        out.insert(full, n);
    }
    Ok(out)
}

/// `s` as a file-name part: ASCII letters, digits and `_`, at most 40.
pub(crate) fn safe(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .take(40)
        .collect()
}

/// Runs `f` on a blocking thread; the caller's cancellation sets its stop
/// flag, and its byte counter is reported through `progress` every second.
async fn run_blocking_with_progress<T, F, P>(
    cancel: &CancellationToken,
    progress: &P,
    f: F,
) -> Result<T, ToolError>
where
    T: Send + 'static,
    F: FnOnce(&AtomicBool, &AtomicU64) -> Result<T, pipeline::PipelineError> + Send + 'static,
    P: Fn(u64),
{
    let stop = Arc::new(AtomicBool::new(false));
    let bytes = Arc::new(AtomicU64::new(0));
    let (s2, b2) = (stop.clone(), bytes.clone());
    let mut task = tokio::task::spawn_blocking(move || f(&s2, &b2));
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            r = &mut task => {
                let r = r
                    .map_err(|e| ToolError::internal(format!("the backup thread failed: {e}")))?
                    .map_err(pipeline_error);
                if r.is_ok() {
                    // The final figure, however short the run.
                    progress(bytes.load(Ordering::Relaxed));
                }
                return r;
            }
            _ = cancel.cancelled(), if !stop.load(Ordering::Relaxed) => {
                stop.store(true, Ordering::Relaxed);
            }
            _ = tick.tick() => progress(bytes.load(Ordering::Relaxed)),
        }
    }
}

/// The manifest of the backup directory.
pub fn load_manifest(cfg: &BackupConfig) -> Result<Manifest, ToolError> {
    Manifest::load(&cfg.dir).map_err(|e| {
        err(ErrorCode::Io, e.to_string())
            .suggestion("The manifest is in the backup directory (--backup-dir); restore it from a copy or move it aside.")
    })
}

/// The entry `id` (or unique prefix).
pub fn find_entry(cfg: &BackupConfig, id: &str) -> Result<Entry, ToolError> {
    let m = load_manifest(cfg)?;
    m.get(id).cloned().map_err(|e| {
        err(ErrorCode::NotFound, e.to_string()).suggestion("List the backups with list_backups.")
    })
}

fn key_for(entry: &Entry, cfg: &BackupConfig) -> Result<Option<KeySource>, ToolError> {
    match entry.encryption {
        Encryption::None => Ok(None),
        Encryption::Aes256Gcm { .. } => match configured_key(cfg)? {
            Some((k, _)) => Ok(Some(k)),
            None => Err(ToolError::invalid(format!("backup {} is encrypted and no key is configured", entry.id))
                .suggestion("Start the server with the --backup-passphrase or --backup-key-file the backup was made with.")),
        },
    }
}

/// Re-reads a stored backup: hash, decryption, decompression, archive.
pub async fn verify_backup(
    state: &Arc<State>,
    id: &str,
    cancel: &CancellationToken,
) -> Result<(Entry, pipeline::Verified), ToolError> {
    let cfg = &state.config.backup;
    let entry = local_or_fetched(cfg, id).await?;
    let path = cfg.dir.join(&entry.file);
    if !path.is_file() {
        return Err(err(
            ErrorCode::NotFound,
            format!(
                "the file of backup {} ({}) is missing",
                entry.id,
                path.display()
            ),
        )
        .suggestion("Remove the entry with delete_backup, or put the file back."));
    }
    let key = key_for(&entry, cfg)?;
    if entry.kind == Kind::Base {
        let sha = entry.sha256.clone();
        let v =
            run_blocking_with_progress(cancel, &|_| {}, move |stop: &AtomicBool, _: &AtomicU64| {
                super::basebackup::verify_base_file(&path, key.as_ref(), Some(&sha), stop)
                    .map(|v| v.summary())
                    .map_err(pipeline::PipelineError::from)
            })
            .await?;
        return Ok((entry, v));
    }
    let tools = find_tools(cfg.pg_bin_dir.as_deref(), 0).await?;
    let format = Format::from(entry.format);
    let sha = entry.sha256.clone();
    let v = run_blocking_with_progress(cancel, &|_| {}, move |stop: &AtomicBool, _: &AtomicU64| {
        pipeline::verify_file(&path, key.as_ref(), format, Some(&sha), &tools, stop)
    })
    .await?;
    Ok((entry, v))
}

/// How far a restore is, reported about once a second.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RestoreProgress {
    /// Archive bytes read (decrypted and decompressed) so far.
    pub bytes: u64,
    /// The archive's size, from the manifest.
    pub total_bytes: u64,
    /// Tables whose data is restored (custom format).
    pub tables_done: u64,
    /// Tables the backup holds rows of.
    pub tables_total: u64,
}

/// Restores a backup (see the module docs).
pub async fn restore_backup<F>(
    state: &Arc<State>,
    inst: &Instance,
    req: &RestoreRequest,
    cancel: &CancellationToken,
    progress: F,
) -> Result<RestoreReport, ToolError>
where
    F: Fn(RestoreProgress) + Send + Sync,
{
    let started = std::time::Instant::now();
    let cfg = &state.config.backup;
    let entry = local_or_fetched(cfg, &req.id).await?;
    if entry.kind == Kind::Base {
        return Err(ToolError::invalid(format!(
            "backup {} is a physical base backup of the whole cluster; restore_backup restores logical (pg_dump) backups only",
            entry.id
        ))
        .suggestion("Use plan_pitr with a target time to get the checked recovery plan, then prepare_pitr to write a data directory that recovers to it."));
    }
    let path = cfg.dir.join(&entry.file);
    if !path.is_file() {
        return Err(err(
            ErrorCode::NotFound,
            format!(
                "the file of backup {} ({}) is missing",
                entry.id,
                path.display()
            ),
        )
        .suggestion("Pick another backup (list_backups)."));
    }
    let key = key_for(&entry, cfg)?;
    let mut conn = direct_params(inst)?;
    let db = state.pools.get(inst).await?;
    let row = db
        .query_one(
            "SELECT current_setting('server_version_num')::int8, current_database()::text",
            &[],
        )
        .await
        .map_err(pg)?;
    let (server_num, current_db): (i64, String) = (row.get(0), row.get(1));
    let mut warnings = Vec::new();
    let backup_major = pgtools::parse_version(&entry.server_version)
        .map(|(_, m)| m)
        .unwrap_or(0);
    let target_major = pgtools::server_major(server_num);
    if backup_major > target_major {
        return Err(ToolError::invalid(format!(
            "backup {} comes from PostgreSQL {}; the target runs {}",
            entry.id, entry.server_version, target_major
        ))
        .suggestion("Restore into a server of the same or a newer major version."));
    }
    let available: Vec<String> = db
        .query("SELECT name::text FROM pg_available_extensions", &[])
        .await
        .map_err(pg)?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let missing: Vec<String> = entry
        .extensions
        .iter()
        .filter(|e| !available.contains(&e.name))
        .map(|e| e.name.clone())
        .collect();
    if !missing.is_empty() {
        return Err(ToolError::invalid(format!(
            "the target server lacks extensions the backup uses: {}",
            missing.join(", ")
        ))
        .suggestion("Install them on the target server first (they must appear in pg_available_extensions)."));
    }
    let tools = find_tools(cfg.pg_bin_dir.as_deref(), target_major).await?;
    let format = Format::from(entry.format);
    valid_names(&req.schemas, "schema")?;
    if !req.schemas.is_empty() && format != Format::Custom {
        return Err(
            ToolError::invalid("restoring selected schemas needs a custom-format backup")
                .suggestion("Restore the whole plain-format backup, or make a custom-format one."),
        );
    }

    let jobs = req.jobs.max(1);
    let spool_needed = (format == Format::Custom && jobs > 1).then_some(entry.raw_bytes);
    check_disk(&db, &conn, &entry, &cfg.dir, spool_needed, &mut warnings).await?;

    let (database, created) = match &req.new_database {
        Some(name) => {
            if name.is_empty() || name.len() > 63 || name.contains(['"', '\0']) {
                return Err(
                    ToolError::invalid(format!("`{name}` is not a valid database name"))
                        .suggestion("Use up to 63 characters without double quotes."),
                );
            }
            let exists: bool = db
                .query_one(
                    "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)",
                    &[name],
                )
                .await
                .map_err(pg)?
                .get(0);
            if exists {
                return Err(err(
                    ErrorCode::InvalidArguments,
                    format!("database `{name}` already exists"),
                )
                .suggestion("Pick another name, or drop it first."));
            }
            db.batch_execute(&format!("CREATE DATABASE \"{name}\""))
                .await
                .map_err(pg)?;
            // While it is restored, its sessions commit without waiting for
            // the WAL flush (many small DDL commits); reset afterwards, and
            // that reset's own (synchronous) commit flushes everything
            // written before it, so a restore reported done is durable.
            db.batch_execute(&format!(
                "ALTER DATABASE \"{name}\" SET synchronous_commit = off"
            ))
            .await
            .map_err(pg)?;
            (name.clone(), true)
        }
        None => {
            // Overwriting: check the file completely before touching anything.
            let (_, _) = verify_backup(state, &entry.id, cancel).await?;
            (current_db.clone(), false)
        }
    };
    conn.dbname = Some(database.clone());
    if !req.schemas.is_empty() {
        // pg_restore --schema restores the objects of a schema, not the schema itself.
        let made = create_schemas(&conn, &req.schemas).await;
        if let Err(e) = made {
            if created && !req.keep_on_failure {
                drop_database(&db, &database).await;
            }
            return Err(e);
        }
    }
    if req.restore_roles {
        let Some(roles) = entry.extra.get("roles_file").and_then(|v| v.as_str()) else {
            return Err(
                ToolError::invalid(format!("backup {} has no roles saved", entry.id))
                    .suggestion("Make backups with include_roles to restore roles with them."),
            );
        };
        let roles_path = cfg.dir.join(roles);
        let spec = RestoreSpec {
            continue_on_error: true,
            ..Default::default()
        };
        let (tools2, conn2) = (tools.clone(), conn.clone());
        let key2 = key_for(&entry, cfg)?;
        let out =
            run_blocking_with_progress(cancel, &|_| {}, move |stop: &AtomicBool, _: &AtomicU64| {
                pipeline::restore_file(
                    &roles_path,
                    key2.as_ref(),
                    Format::Plain,
                    None,
                    &tools2,
                    &conn2,
                    &spec,
                    stop,
                )
            })
            .await;
        match out {
            Ok(r) if !r.warnings.is_empty() => warnings.push(format!(
                "roles: {}",
                r.warnings.chars().take(1000).collect::<String>()
            )),
            Ok(_) => {}
            Err(e) => {
                if created && !req.keep_on_failure {
                    drop_database(&db, &database).await;
                }
                return Err(e);
            }
        }
    }
    // Validation after the restore: row counts against the manifest.
    let expected: BTreeMap<String, i64> = entry
        .row_counts
        .iter()
        .filter(|(t, _)| {
            req.schemas.is_empty()
                || t.split_once('.')
                    .is_some_and(|(s, _)| req.schemas.iter().any(|x| x == s))
        })
        .map(|(t, n)| (t.clone(), *n))
        .collect();
    let read = Arc::new(AtomicU64::new(0));
    let tables_done = Arc::new(AtomicU64::new(0));
    let spec = RestoreSpec {
        clean: req.clean || (!created && format == Format::Custom),
        no_owner: req.no_owner,
        no_privileges: false,
        jobs,
        schemas: req.schemas.clone(),
        spool_dir: Some(cfg.dir.clone()),
        continue_on_error: false,
        progress: Some(read.clone()),
        tables_done: Some(tables_done.clone()),
    };
    let report_progress = |_: u64| {
        progress(RestoreProgress {
            bytes: read.load(Ordering::Relaxed),
            total_bytes: entry.raw_bytes,
            tables_done: tables_done.load(Ordering::Relaxed),
            tables_total: expected.len() as u64,
        })
    };
    let sha = entry.sha256.clone();
    let mut timings_ms = BTreeMap::new();
    timings_ms.insert("checks", started.elapsed().as_millis() as u64);
    let restore_started = std::time::Instant::now();
    let result = run_blocking_with_progress(cancel, &report_progress, {
        let tools = tools.clone();
        let conn = conn.clone();
        move |stop: &AtomicBool, _: &AtomicU64| {
            pipeline::restore_file(
                &path,
                key.as_ref(),
                format,
                Some(&sha),
                &tools,
                &conn,
                &spec,
                stop,
            )
        }
    })
    .await;
    if created
        && let Err(e) = db
            .batch_execute(&format!(
                "ALTER DATABASE \"{database}\" RESET synchronous_commit"
            ))
            .await
    {
        warnings.push(format!(
            "could not reset synchronous_commit on `{database}` after the restore: {}",
            crate::pg::describe_error(&e)
        ));
    }
    let mut params =
        ConnParams::parse(inst.db_url.as_ref().map(|u| u.expose()).unwrap_or_default())
            .map_err(|e| ToolError::invalid(e.to_string()))?;
    params.dbname = Some(database.clone());
    let restored = match result {
        Ok(r) => r,
        Err(e) => {
            // What the target holds now, for the report and the retry.
            let so_far = restored_so_far(&params, &expected).await;
            let (kept, retry) = if created && !req.keep_on_failure {
                drop_database(&db, &database).await;
                (
                    format!(
                        "the new database `{database}` was dropped, so nothing half-restored is left"
                    ),
                    "Fix the cause above and run the same restore again.".to_owned(),
                )
            } else if created {
                (
                    format!("the new database `{database}` was kept as it is"),
                    format!(
                        "Drop `{database}` (or pick another new_database) and run the restore again."
                    ),
                )
            } else {
                (
                    format!("the database `{database}` holds a partial restore"),
                    "Fix the cause above and run the same restore again: it drops and recreates the backup's objects (clean), so it can be retried as often as needed.".to_owned(),
                )
            };
            let reason = match (&e.reason, so_far) {
                (Some(r), Some(s)) => format!("{r}; before it stopped, {s}; {kept}"),
                (None, Some(s)) => format!("before it stopped, {s}; {kept}"),
                (Some(r), None) => format!("{r}; {kept}"),
                (None, None) => kept,
            };
            let suggestion = match &e.suggestion {
                Some(s) => format!("{s} {retry}"),
                None => retry,
            };
            return Err(e.reason(reason).suggestion(suggestion));
        }
    };
    timings_ms.insert("restore", restore_started.elapsed().as_millis() as u64);
    timings_ms.insert("spool", restored.spool_ms);
    let validation_started = std::time::Instant::now();
    if !restored.warnings.is_empty() {
        warnings.push(restored.warnings.chars().take(2000).collect());
    }
    let tables_checked = expected.len();
    if !expected.is_empty() {
        let check = count_restored(&params, &expected, jobs).await;
        match check {
            Ok(diff) if diff.is_empty() => {}
            Ok(diff) => {
                return Err(err(
                    ErrorCode::QueryFailed,
                    format!(
                        "the restored data differs from the backup in {} table(s)",
                        diff.len()
                    ),
                )
                .reason(diff.join("; "))
                .suggestion(
                    "Check the restore messages; restore into a new, empty database to compare.",
                ));
            }
            Err(e) => warnings.push(format!("row counts not compared: {}", e.message)),
        }
    }
    let schema_objects_checked =
        check_schema(&entry, &params, &req.schemas, created, &mut warnings).await?;
    Ok(RestoreReport {
        id: entry.id,
        database,
        created_database: created,
        raw_bytes: restored.raw_bytes,
        tables_checked,
        schema_objects_checked,
        duration_ms: started.elapsed().as_millis() as u64,
        timings_ms: {
            timings_ms.insert(
                "validation",
                validation_started.elapsed().as_millis() as u64,
            );
            timings_ms
        },
        warnings,
    })
}

/// The manifest key of a backup's schema fingerprint.
pub const SCHEMA_FINGERPRINT: &str = "schema_fingerprint";

/// The schema fingerprint a backup recorded, if any.
pub fn recorded_fingerprint(entry: &Entry) -> Option<Fingerprint> {
    let objects = entry.extra.get(SCHEMA_FINGERPRINT)?;
    serde_json::from_value(objects.clone())
        .ok()
        .map(|objects| Fingerprint { objects })
}

/// Compares the restored schema with the backup's fingerprint: an object
/// missing or defined differently is an error; one the backup does not
/// have is an error in a new database and a warning in an overwritten one
/// (where it may have been there before). Returns the number of objects
/// compared.
async fn check_schema(
    entry: &Entry,
    params: &ConnParams,
    schemas: &[String],
    created: bool,
    warnings: &mut Vec<String>,
) -> Result<usize, ToolError> {
    let Some(expected) = recorded_fingerprint(entry) else {
        return Ok(0);
    };
    let expected = expected.restrict(schemas);
    let exclude_schemas = match &entry.kind {
        Kind::Subset(s) => s.exclude_schemas.clone(),
        _ => Vec::new(),
    };
    let include = match &entry.kind {
        Kind::Subset(s) if schemas.is_empty() => s.include_schemas.clone(),
        _ => schemas.to_vec(),
    };
    let scope = fingerprint::Scope {
        schemas: include,
        exclude_schemas,
    };
    let actual = match connect_to(params).await {
        Ok(c) => fingerprint::take(&c, &scope).await,
        Err(e) => {
            warnings.push(format!("schema not compared: {}", e.message));
            return Ok(0);
        }
    };
    let actual = match actual {
        Ok(a) => a.restrict(schemas),
        Err(e) => {
            warnings.push(format!("schema not compared: {e}"));
            return Ok(0);
        }
    };
    let mut errors = Vec::new();
    for d in fingerprint::compare(&expected, &actual) {
        match d {
            Difference::Extra(_) if !created => warnings.push(format!(
                "{d} (not in the backup; it may have been in the database before)"
            )),
            d => errors.push(d.to_string()),
        }
    }
    if !errors.is_empty() {
        let shown: Vec<&str> = errors.iter().map(String::as_str).collect();
        return Err(err(
            ErrorCode::QueryFailed,
            format!(
                "the restored schema differs from the backup in {} object(s)",
                errors.len()
            ),
        )
        .reason(list_some(&shown, 20))
        .suggestion("Check the restore messages; restore into a new, empty database to compare."));
    }
    Ok(expected.objects.len())
}

/// "k of n tables restored completely (...), the others empty or
/// missing", from the target's row counts; `None` when it cannot tell.
async fn restored_so_far(params: &ConnParams, expected: &BTreeMap<String, i64>) -> Option<String> {
    if expected.is_empty() || expected.len() > 5_000 {
        return None;
    }
    let counted = count_tables(params, expected, 2).await.ok()?;
    let (mut complete, mut partial, mut absent) = (0usize, Vec::new(), Vec::new());
    for (table, got) in &counted {
        let want = expected.get(table).copied().unwrap_or_default();
        match got {
            Ok(got) if *got == want => complete += 1,
            Ok(got) if *got > 0 => partial.push(format!("{table} ({got} of {want} rows)")),
            _ => absent.push(table.as_str()),
        }
    }
    let mut out = format!(
        "{complete} of {} tables were restored completely",
        expected.len()
    );
    if !partial.is_empty() {
        out.push_str(&format!(
            ", {} partly: {}",
            partial.len(),
            list_some(&partial.iter().map(String::as_str).collect::<Vec<_>>(), 5)
        ));
    }
    if !absent.is_empty() {
        out.push_str(&format!(
            ", {} are empty or missing: {}",
            absent.len(),
            list_some(&absent, 5)
        ));
    }
    Some(out)
}

/// The first `max` items of a list, and how many more.
fn list_some(items: &[&str], max: usize) -> String {
    let shown = items
        .iter()
        .take(max)
        .copied()
        .collect::<Vec<_>>()
        .join(", ");
    match items.len() {
        n if n > max => format!("{shown} and {} more", n - max),
        _ => shown,
    }
}

/// Free bytes on the file system holding `path` (or its nearest existing
/// ancestor).
fn free_bytes(path: &Path) -> Option<u64> {
    let mut p = path;
    while !p.exists() {
        p = p.parent()?;
    }
    let s = rustix::fs::statvfs(p).ok()?;
    Some(s.f_bavail.saturating_mul(s.f_frsize))
}

fn mib(n: u64) -> String {
    format!("{:.1} MiB", n as f64 / (1024.0 * 1024.0))
}

/// Refuses a restore that cannot fit: the spool of a parallel restore
/// needs the archive's size in the backup directory, and a database
/// server on this machine needs room for the data (the database's size at
/// backup time, or the archive's size when that was not recorded).
async fn check_disk(
    db: &tokio_postgres::Client,
    conn: &ConnParams,
    entry: &Entry,
    spool_dir: &Path,
    spool_needed: Option<u64>,
    warnings: &mut Vec<String>,
) -> Result<(), ToolError> {
    const MARGIN: u64 = 64 << 20;
    if let Some(need) = spool_needed
        && let Some(free) = free_bytes(spool_dir)
        && free < need + MARGIN
    {
        return Err(err(
            ErrorCode::Io,
            format!(
                "not enough free space in {} for the parallel restore's temporary copy of the archive: it needs {}, {} are free",
                spool_dir.display(),
                mib(need + MARGIN),
                mib(free)
            ),
        )
        .suggestion("Free space there, or restore with jobs = 1, which streams the archive without a temporary copy. Nothing was changed."));
    }
    let need = entry
        .extra
        .get("database_bytes")
        .and_then(|v| v.as_u64())
        .unwrap_or(entry.raw_bytes);
    let h = conn.host.as_str();
    let local =
        h.is_empty() || h.starts_with('/') || matches!(h, "localhost" | "127.0.0.1" | "::1");
    let data_dir: Option<String> = if local {
        db.query_opt(
            "SELECT setting FROM pg_settings WHERE name = 'data_directory'",
            &[],
        )
        .await
        .ok()
        .flatten()
        .map(|r| r.get(0))
    } else {
        None
    };
    match data_dir.map(PathBuf::from).filter(|d| d.is_dir()) {
        Some(dir) => {
            if let Some(free) = free_bytes(&dir)
                && free < need + MARGIN
            {
                return Err(err(
                    ErrorCode::Io,
                    format!(
                        "not enough free space for the database server's data ({}): the backup holds about {}, {} are free",
                        dir.display(),
                        mib(need),
                        mib(free)
                    ),
                )
                .suggestion("Free space on the database server's disk, or restore selected schemas only. Nothing was changed."));
            }
        }
        None => warnings.push(
            "free space on the database server was not checked: it is not on this machine (or its data_directory is not readable)".into(),
        ),
    }
    Ok(())
}

/// A connection to `params` with the instance's TLS settings.
async fn connect_to(params: &ConnParams) -> Result<tokio_postgres::Client, ToolError> {
    let tls = crate::db::tls::connector(params)
        .map_err(|e| err(ErrorCode::ConnectionFailed, e.to_string()))?;
    let mut config = params.to_pg_config();
    config.connect_timeout(Duration::from_secs(10));
    let (client, connection) = config.connect(tls).await.map_err(pg)?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!("restore check connection closed: {e}");
        }
    });
    Ok(client)
}

async fn create_schemas(conn: &ConnParams, schemas: &[String]) -> Result<(), ToolError> {
    let client = connect_to(conn).await?;
    for s in schemas {
        client
            .batch_execute(&format!(
                "CREATE SCHEMA IF NOT EXISTS \"{}\"",
                s.replace('"', "\"\"")
            ))
            .await
            .map_err(pg)?;
    }
    Ok(())
}

async fn drop_database(db: &tokio_postgres::Client, name: &str) {
    if let Err(e) = db
        .batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
        .await
    {
        tracing::warn!("could not drop the half-restored database {name}: {e}");
    }
}

/// `table: expected n, found m` for every table whose count differs.
async fn count_restored(
    params: &ConnParams,
    expected: &BTreeMap<String, i64>,
    jobs: u32,
) -> Result<Vec<String>, ToolError> {
    let counted = count_tables(params, expected, jobs).await?;
    Ok(counted
        .into_iter()
        .filter_map(|(table, got)| {
            let want = expected.get(&table).copied().unwrap_or_default();
            match got {
                Ok(got) if got == want => None,
                Ok(got) => Some(format!("{table}: expected {want} rows, found {got}")),
                Err(e) => Some(format!("{table}: {e}")),
            }
        })
        .collect())
}

/// The row count of each `schema.table` in `expected` now (or why it could
/// not be read), over `jobs` connections at once, largest tables first.
async fn count_tables(
    params: &ConnParams,
    expected: &BTreeMap<String, i64>,
    jobs: u32,
) -> Result<BTreeMap<String, Result<i64, String>>, ToolError> {
    let mut tables: Vec<(&String, &i64)> = expected.iter().collect();
    tables.sort_by(|a, b| b.1.cmp(a.1));
    let n = (jobs.clamp(1, 8) as usize).min(tables.len().max(1));
    let mut lanes: Vec<Vec<&String>> = vec![Vec::new(); n];
    for (i, (t, _)) in tables.into_iter().enumerate() {
        lanes[i % n].push(t);
    }
    let counted = futures::future::join_all(lanes.into_iter().map(|lane| async move {
        let client = connect_to(params).await?;
        let mut out = Vec::new();
        for table in lane {
            let Some((s, t)) = table.split_once('.') else {
                continue;
            };
            let q = format!("SELECT count(*) FROM {}.{}", quote_ident(s), quote_ident(t));
            let got = match client.query_one(&q, &[]).await {
                Ok(r) => Ok(r.get::<_, i64>(0)),
                Err(e) => Err(crate::sql::run::pg_error(&e).message),
            };
            out.push((table.clone(), got));
        }
        Ok::<_, ToolError>(out)
    }))
    .await;
    let mut all = BTreeMap::new();
    for lane in counted {
        all.extend(lane?);
    }
    Ok(all)
}

fn s3_error(e: super::s3::S3Error) -> ToolError {
    err(ErrorCode::ApiError, format!("S3 storage: {e}")).suggestion(
        "Check --backup-s3-url, the endpoint, region and keys; the local copy is unaffected.",
    )
}

/// The S3 storage, when configured.
pub fn offsite(cfg: &BackupConfig) -> Result<Option<super::s3::S3Destination>, ToolError> {
    match &cfg.s3 {
        None => Ok(None),
        Some(c) => super::s3::S3Destination::new(c).map(Some).map_err(s3_error),
    }
}

/// Copies a recorded backup to the S3 storage and records it in the S3
/// manifest; returns the object's URL. `None` when no S3 storage is set.
pub async fn copy_offsite(cfg: &BackupConfig, entry: &Entry) -> Result<Option<String>, ToolError> {
    let Some(dest) = offsite(cfg)? else {
        return Ok(None);
    };
    dest.upload_file(&cfg.dir.join(&entry.file), &entry.file, |_| {})
        .await
        .map_err(s3_error)?;
    let e = entry.clone();
    dest.update_manifest(move |m| match m.add(e.clone()) {
        Ok(()) | Err(manifest::ManifestError::Duplicate(_)) => Ok(()),
        Err(other) => Err(other),
    })
    .await
    .map_err(s3_error)?;
    Ok(Some(format!(
        "{}/{}",
        dest.url().trim_end_matches('/'),
        entry.file
    )))
}

/// The entry `id` with its file present locally: from the local manifest,
/// or downloaded from the S3 storage (and then recorded locally).
pub async fn local_or_fetched(cfg: &BackupConfig, id: &str) -> Result<Entry, ToolError> {
    let local = find_entry(cfg, id);
    if let Ok(e) = &local
        && cfg.dir.join(&e.file).is_file()
    {
        return local;
    }
    let Some(dest) = offsite(cfg)? else {
        return local;
    };
    let (m, _) = dest.load_manifest().await.map_err(s3_error)?;
    let entry = match m.get(id) {
        Ok(e) => e.clone(),
        Err(_) => return local,
    };
    backup_dir(cfg)?;
    dest.download_file(&entry.file, &cfg.dir.join(&entry.file))
        .await
        .map_err(s3_error)?;
    let (dir, e2) = (cfg.dir.clone(), entry.clone());
    tokio::task::spawn_blocking(move || {
        Manifest::update(&dir, |m| match m.add(e2) {
            Ok(()) | Err(manifest::ManifestError::Duplicate(_)) => Ok(()),
            Err(other) => Err(other),
        })
    })
    .await
    .map_err(|e| ToolError::internal(e.to_string()))?
    .map_err(|e| err(ErrorCode::Io, e.to_string()))?;
    Ok(entry)
}

/// Entries of the S3 manifest.
pub async fn offsite_entries(cfg: &BackupConfig) -> Result<Vec<Entry>, ToolError> {
    let Some(dest) = offsite(cfg)? else {
        return Err(err(
            ErrorCode::NotConfigured,
            "no S3 backup storage is configured",
        )
        .suggestion("Pass --backup-s3-url with the S3 keys (see the README)."));
    };
    let (m, _) = dest.load_manifest().await.map_err(s3_error)?;
    Ok(m.entries)
}

/// Removes a backup from the S3 storage (object and S3 manifest entry).
pub async fn delete_offsite(cfg: &BackupConfig, entry: &Entry) -> Result<bool, ToolError> {
    let Some(dest) = offsite(cfg)? else {
        return Ok(false);
    };
    let id = entry.id.clone();
    let known = dest
        .update_manifest(move |m| match m.remove(&id) {
            Ok(_) => Ok(true),
            Err(manifest::ManifestError::NotFound(_)) => Ok(false),
            Err(other) => Err(other),
        })
        .await
        .map_err(s3_error)?;
    dest.delete(&entry.file).await.map_err(s3_error)?;
    Ok(known)
}

/// Removes a backup's file and its manifest entry.
pub fn delete_backup(cfg: &BackupConfig, id: &str) -> Result<Entry, ToolError> {
    let entry = find_entry(cfg, id)?;
    let removed = Manifest::remove_from(&cfg.dir, &entry.id)
        .map_err(|e| err(ErrorCode::Io, e.to_string()))?;
    if let Some(r) = removed.extra.get("roles_file").and_then(|v| v.as_str()) {
        let _ = std::fs::remove_file(cfg.dir.join(r));
    }
    let path: &Path = &cfg.dir.join(&removed.file);
    match std::fs::remove_file(path) {
        Ok(()) => Ok(removed),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(removed),
        Err(e) => Err(err(
            ErrorCode::Io,
            format!(
                "the entry was removed but not the file {}: {e}",
                path.display()
            ),
        )),
    }
}
