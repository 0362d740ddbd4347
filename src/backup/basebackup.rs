//! Physical base backups: the starting point of a point-in-time recovery.
//!
//! This module owns `pg_basebackup -D - -Ft -X fetch` streamed through the
//! backup pipeline (compression, optional AES-256-GCM, a temporary file
//! renamed only once verified), the verification of a stored base backup
//! (hash, decryption, decompression, and a tar stream holding `PG_VERSION`,
//! `backup_label` and `global/pg_control`), the reading of its WAL facts
//! (`backup_label`, the `WAL-Ranges` of `backup_manifest`, the WAL segments
//! it includes), the [`manifest`](super::manifest) entry of kind
//! [`Kind::Base`], and the streamed extraction into a data directory that
//! [`wal::prepare_pitr`](super::wal::prepare_pitr) uses.
//!
//! A base backup needs the replication protocol: a role with REPLICATION,
//! `wal_level` replica or logical, a free WAL sender and a `pg_hba.conf`
//! line for replication connections. Supabase's cloud platform does not
//! expose it; [`super::wal::reachability`] says so before anything runs.

use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use chrono::{DateTime, NaiveDateTime, Utc};
use tokio_util::sync::CancellationToken;

use super::compress::Compression;
use super::crypt::{EncryptOptions, KeySource};
use super::manifest::{self, BaseInfo, DumpFormat, Encryption, Entry, Extension, Kind, Manifest};
use super::pgtools;
use super::pipeline::{self, PipelineError};
use super::service;
use super::wal;
use crate::config::BackupConfig;
use crate::db::connstr::ConnParams;
use crate::result::{ErrorCode, ToolError};

/// The `database` of base backup entries: a base backup holds every
/// database of the cluster, and retention groups it on its own.
pub const CLUSTER_DATABASE: &str = "(cluster)";
/// Largest `backup_label` read.
const LABEL_LIMIT: u64 = 64 * 1024;
/// Largest `backup_manifest` read for its WAL range.
const MANIFEST_LIMIT: u64 = 256 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum BaseBackupError {
    #[error("{0}")]
    Pipeline(#[from] PipelineError),
    #[error("the base backup has no `{0}`: it is not a complete pg_basebackup of a data directory")]
    MissingMember(&'static str),
    #[error("the base backup's backup_label cannot be read: {0}")]
    Label(String),
    #[error("the base backup's tar stream is damaged: {0}")]
    Tar(String),
    #[error("the base backup holds `{0}`, a path outside the data directory")]
    UnsafePath(String),
    #[error("cannot write {path}: {message}")]
    Write { path: String, message: String },
}

impl From<BaseBackupError> for PipelineError {
    fn from(e: BaseBackupError) -> Self {
        match e {
            BaseBackupError::Pipeline(p) => p,
            BaseBackupError::Write { path, message } => PipelineError::Write { path, message },
            other => PipelineError::Damaged(other.to_string()),
        }
    }
}

/// The facts of `backup_label`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupLabel {
    /// `START WAL LOCATION`, e.g. `0/2000028`.
    pub start_lsn: String,
    /// The segment of the start location, e.g. `000000010000000000000002`.
    pub start_wal_file: String,
    pub checkpoint_lsn: Option<String>,
    /// `START TIME` as written (e.g. `2026-11-25 22:16:46 UTC`).
    pub start_time_text: String,
    /// `START TIME` in UTC when its zone is UTC or GMT.
    pub start_time_utc: Option<DateTime<Utc>>,
    pub timeline: u32,
    pub label: Option<String>,
}

/// Parses `backup_label`.
pub fn parse_label(text: &str) -> Result<BackupLabel, BaseBackupError> {
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name).map(|v| v.trim().to_owned()))
    };
    let start = field("START WAL LOCATION:")
        .ok_or_else(|| BaseBackupError::Label("no START WAL LOCATION line".into()))?;
    // `0/2000028 (file 000000010000000000000002)`
    let (lsn, rest) = start
        .split_once(' ')
        .ok_or_else(|| BaseBackupError::Label(format!("START WAL LOCATION `{start}`")))?;
    let file = rest
        .trim()
        .strip_prefix("(file ")
        .and_then(|r| r.strip_suffix(')'))
        .filter(|f| f.len() == 24 && f.bytes().all(|b| b.is_ascii_hexdigit()))
        .ok_or_else(|| BaseBackupError::Label(format!("START WAL LOCATION `{start}`")))?;
    if wal::parse_lsn(lsn).is_none() {
        return Err(BaseBackupError::Label(format!("start location `{lsn}`")));
    }
    let timeline: u32 = match field("START TIMELINE:") {
        Some(t) => t
            .parse()
            .map_err(|_| BaseBackupError::Label(format!("START TIMELINE `{t}`")))?,
        // Older servers: the timeline is the first 8 digits of the file name.
        None => u32::from_str_radix(&file[..8], 16)
            .map_err(|_| BaseBackupError::Label(format!("file `{file}`")))?,
    };
    let start_time_text = field("START TIME:").unwrap_or_default();
    let start_time_utc = ["UTC", "GMT"].iter().find_map(|zone| {
        let t = start_time_text.strip_suffix(zone)?.trim();
        NaiveDateTime::parse_from_str(t, "%Y-%m-%d %H:%M:%S")
            .ok()
            .map(|n| n.and_utc())
    });
    Ok(BackupLabel {
        start_lsn: lsn.to_owned(),
        start_wal_file: file.to_uppercase(),
        checkpoint_lsn: field("CHECKPOINT LOCATION:"),
        start_time_text,
        start_time_utc,
        timeline,
        label: field("LABEL:"),
    })
}

/// The last `End-LSN` of the `WAL-Ranges` of a `backup_manifest`.
pub fn manifest_end_lsn(json: &[u8]) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(json).ok()?;
    v.get("WAL-Ranges")?
        .as_array()?
        .last()?
        .get("End-LSN")?
        .as_str()
        .map(str::to_owned)
}

/// What a base backup's tar stream holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseContents {
    pub label: BackupLabel,
    /// From `backup_manifest` (absent before PostgreSQL 13).
    pub stop_lsn: Option<String>,
    /// The first and last WAL segments under `pg_wal/`.
    pub wal_included: Option<(String, String)>,
    /// Tar members.
    pub members: u64,
    /// Bytes of the tar stream.
    pub raw_bytes: u64,
}

/// Counts the bytes read.
struct Counting<R> {
    inner: R,
    bytes: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.bytes.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// A member's path inside the data directory: no leading `./`, no trailing `/`.
fn member_path(raw: &Path) -> String {
    let s = raw.to_string_lossy();
    let s = s.trim_start_matches("./");
    s.trim_end_matches('/').to_owned()
}

fn is_wal_segment_name(name: &str) -> bool {
    name.len() == 24 && name.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Gathers [`BaseContents`] while a tar stream is read member by member.
#[derive(Default)]
struct Inspector {
    pg_version: bool,
    pg_control: bool,
    label: Option<String>,
    manifest_stop: Option<String>,
    wal: Vec<String>,
    members: u64,
}

impl Inspector {
    fn see<R: Read>(&mut self, path: &str, entry: &mut tar::Entry<'_, R>) -> io::Result<()> {
        self.members += 1;
        match path {
            "PG_VERSION" => self.pg_version = true,
            "global/pg_control" => self.pg_control = true,
            "backup_label" => {
                let mut text = String::new();
                entry.take(LABEL_LIMIT).read_to_string(&mut text)?;
                self.label = Some(text);
            }
            "backup_manifest" => {
                let mut json = Vec::new();
                entry.take(MANIFEST_LIMIT).read_to_end(&mut json)?;
                self.manifest_stop = manifest_end_lsn(&json);
            }
            p => {
                if let Some(name) = p.strip_prefix("pg_wal/")
                    && is_wal_segment_name(name)
                {
                    self.wal.push(name.to_uppercase());
                }
            }
        }
        Ok(())
    }

    fn finish(mut self, raw_bytes: u64) -> Result<BaseContents, BaseBackupError> {
        if !self.pg_version {
            return Err(BaseBackupError::MissingMember("PG_VERSION"));
        }
        if !self.pg_control {
            return Err(BaseBackupError::MissingMember("global/pg_control"));
        }
        let Some(text) = self.label else {
            return Err(BaseBackupError::MissingMember("backup_label"));
        };
        let label = parse_label(&text)?;
        self.wal.sort();
        let wal_included = match (self.wal.first(), self.wal.last()) {
            (Some(a), Some(b)) => Some((a.clone(), b.clone())),
            _ => None,
        };
        Ok(BaseContents {
            label,
            stop_lsn: self.manifest_stop,
            wal_included,
            members: self.members,
            raw_bytes,
        })
    }
}

fn tar_error(e: io::Error) -> BaseBackupError {
    // Errors of the decryptor and decompressor travel through the tar reader.
    match super::crypt::CryptError::from(e) {
        super::crypt::CryptError::Io(e) => BaseBackupError::Tar(e.to_string()),
        other => BaseBackupError::Pipeline(PipelineError::Crypt(other)),
    }
}

/// Reads the rest of `reader` (the tar end padding), so the file is read to
/// its end and its digest published.
fn drain(reader: &mut dyn Read, cancel: &AtomicBool) -> Result<(), BaseBackupError> {
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        if cancel.load(Ordering::Relaxed) {
            return Err(PipelineError::Cancelled.into());
        }
        match reader.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(tar_error(e)),
        }
    }
}

/// The stored file's digest after a complete read, checked against `expected`.
fn check_digest(
    done: &Arc<std::sync::Mutex<Option<(String, u64)>>>,
    expected: Option<&str>,
) -> Result<(String, u64), BaseBackupError> {
    let (sha256, stored) = done.lock().ok().and_then(|d| d.clone()).ok_or_else(|| {
        BaseBackupError::Pipeline(PipelineError::Damaged(
            "the file was not read to its end".into(),
        ))
    })?;
    if let Some(expected) = expected
        && expected != sha256
    {
        return Err(PipelineError::HashMismatch {
            expected: expected.to_owned(),
            actual: sha256,
        }
        .into());
    }
    Ok((sha256, stored))
}

/// What [`verify_base_file`] found.
#[derive(Debug, Clone)]
pub struct VerifiedBase {
    pub contents: BaseContents,
    pub sha256: String,
    pub stored_bytes: u64,
    pub encrypted: bool,
}

impl VerifiedBase {
    /// The pipeline's summary of a verified file.
    pub fn summary(&self) -> pipeline::Verified {
        pipeline::Verified {
            sha256: self.sha256.clone(),
            stored_bytes: self.stored_bytes,
            raw_bytes: self.contents.raw_bytes,
            encrypted: self.encrypted,
            toc_entries: Some(self.contents.members),
        }
    }
}

/// Re-reads a stored base backup end to end: every chunk decrypted and
/// authenticated, decompressed, the tar stream parsed to its end, the
/// required members present, and the SHA-256 of the stored bytes.
pub fn verify_base_file(
    path: &Path,
    key: Option<&KeySource>,
    expected_sha256: Option<&str>,
    cancel: &AtomicBool,
) -> Result<VerifiedBase, BaseBackupError> {
    let (reader, done, encrypted) = pipeline::open_stored(path, key)?;
    let raw = Arc::new(AtomicU64::new(0));
    let mut archive = tar::Archive::new(Counting {
        inner: reader,
        bytes: raw.clone(),
    });
    let mut seen = Inspector::default();
    for entry in archive.entries().map_err(tar_error)? {
        if cancel.load(Ordering::Relaxed) {
            return Err(PipelineError::Cancelled.into());
        }
        let mut entry = entry.map_err(tar_error)?;
        let path = member_path(&entry.path().map_err(tar_error)?);
        seen.see(&path, &mut entry).map_err(tar_error)?;
    }
    let mut rest = archive.into_inner();
    drain(&mut rest, cancel)?;
    let (sha256, stored_bytes) = check_digest(&done, expected_sha256)?;
    let contents = seen.finish(raw.load(Ordering::Relaxed))?;
    Ok(VerifiedBase {
        contents,
        sha256,
        stored_bytes,
        encrypted,
    })
}

/// What [`extract`] wrote.
#[derive(Debug, Clone)]
pub struct Extracted {
    pub contents: BaseContents,
    pub files: u64,
}

/// Streams a stored base backup (decrypt → decompress → untar) into the
/// existing, empty directory `dest`, checking the same things as
/// [`verify_base_file`]. On error, what was written stays: the caller
/// removes it.
pub fn extract(
    path: &Path,
    key: Option<&KeySource>,
    expected_sha256: Option<&str>,
    dest: &Path,
    cancel: &AtomicBool,
) -> Result<Extracted, BaseBackupError> {
    let (reader, done, _) = pipeline::open_stored(path, key)?;
    let raw = Arc::new(AtomicU64::new(0));
    let mut archive = tar::Archive::new(Counting {
        inner: reader,
        bytes: raw.clone(),
    });
    archive.set_preserve_permissions(true);
    archive.set_preserve_mtime(true);
    archive.set_overwrite(false);
    let mut seen = Inspector::default();
    let mut files = 0u64;
    for entry in archive.entries().map_err(tar_error)? {
        if cancel.load(Ordering::Relaxed) {
            return Err(PipelineError::Cancelled.into());
        }
        let mut entry = entry.map_err(tar_error)?;
        let raw_path = entry.path().map_err(tar_error)?.into_owned();
        let rel = member_path(&raw_path);
        // The label and manifest are read for their facts, then written from memory.
        if rel == "backup_label" || rel == "backup_manifest" {
            let mut bytes = Vec::new();
            (&mut entry)
                .take(MANIFEST_LIMIT)
                .read_to_end(&mut bytes)
                .map_err(tar_error)?;
            seen.members += 1;
            if rel == "backup_label" {
                seen.label = Some(String::from_utf8_lossy(&bytes).into_owned());
            } else {
                seen.manifest_stop = manifest_end_lsn(&bytes);
            }
            let target = dest.join(&rel);
            std::fs::write(&target, &bytes).map_err(|e| BaseBackupError::Write {
                path: target.display().to_string(),
                message: e.to_string(),
            })?;
            files += 1;
            continue;
        }
        seen.see(&rel, &mut entry).map_err(tar_error)?;
        let unpacked = entry.unpack_in(dest).map_err(|e| BaseBackupError::Write {
            path: dest.join(&rel).display().to_string(),
            message: e.to_string(),
        })?;
        if !unpacked {
            return Err(BaseBackupError::UnsafePath(raw_path.display().to_string()));
        }
        files += 1;
    }
    let mut rest = archive.into_inner();
    drain(&mut rest, cancel)?;
    check_digest(&done, expected_sha256)?;
    let contents = seen.finish(raw.load(Ordering::Relaxed))?;
    Ok(Extracted { contents, files })
}

/// Command-line arguments and environment of `pg_basebackup` writing one
/// tar stream to stdout (the password only in the environment).
pub fn basebackup_args(conn: &ConnParams, label: &str) -> (Vec<String>, Vec<(String, String)>) {
    let (mut args, env) = wal::replication_connection(conn);
    args.extend(
        [
            "--pgdata=-",
            "--format=tar",
            "--wal-method=fetch",
            "--checkpoint=fast",
            "--no-password",
        ]
        .map(String::from),
    );
    args.push(format!("--label={label}"));
    (args, env)
}

/// What to back up and how.
#[derive(Debug, Clone, Default)]
pub struct BaseBackupRequest {
    pub compression: Compression,
    pub encrypt: bool,
    pub tags: Vec<String>,
}

fn err(code: ErrorCode, message: impl Into<String>) -> ToolError {
    ToolError::new(code, message)
}

fn pipeline_error(e: PipelineError) -> ToolError {
    let suggestion = match &e {
        PipelineError::Program { .. } => {
            "Read pg_basebackup's message; run wal_archive_status to check that the replication protocol is reachable. Nothing was kept."
        }
        PipelineError::Write { .. } => {
            "Check free space and permissions of the backup directory (--backup-dir)."
        }
        PipelineError::Cancelled => "Run it again when needed.",
        PipelineError::Crypt(_) | PipelineError::KeyNeeded => {
            "Use the passphrase or key file the backup was made with."
        }
        _ => "The stored file is damaged or incomplete; nothing was kept. Run it again.",
    };
    ToolError::new(ErrorCode::Io, e.to_string()).suggestion(suggestion)
}

/// Runs `f` on a blocking thread; `cancel` sets its stop flag and the byte
/// counter is reported through `progress` every second.
pub(crate) async fn run_blocking<T, F, P>(
    cancel: &CancellationToken,
    progress: &P,
    f: F,
) -> Result<T, ToolError>
where
    T: Send + 'static,
    F: FnOnce(&AtomicBool, &AtomicU64) -> T + Send + 'static,
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
                return r.map_err(|e| ToolError::internal(format!("the backup thread failed: {e}")));
            }
            _ = cancel.cancelled(), if !stop.load(Ordering::Relaxed) => {
                stop.store(true, Ordering::Relaxed);
            }
            _ = tick.tick() => progress(bytes.load(Ordering::Relaxed)),
        }
    }
}

/// Microseconds since the epoch (the server's clock) as a time.
fn from_micros(us: i64) -> DateTime<Utc> {
    DateTime::<Utc>::from_timestamp_micros(us).unwrap_or(DateTime::<Utc>::UNIX_EPOCH)
}

/// Takes a base backup of the cluster behind `conn` into the backup
/// directory of `cfg`, verifies it, and records it in the manifest (kind
/// [`Kind::Base`], the WAL facts in its `base` field). `instance` names the
/// configured instance in the entry. A failure leaves neither a file nor an
/// entry.
pub async fn create_base_backup<F>(
    cfg: &BackupConfig,
    instance: &str,
    conn: &ConnParams,
    req: &BaseBackupRequest,
    cancel: &CancellationToken,
    progress: F,
) -> Result<Entry, ToolError>
where
    F: Fn(u64) + Send + Sync,
{
    for t in &req.tags {
        if t.is_empty() || t.len() > 64 || t.contains(['\n', '\0']) {
            return Err(ToolError::invalid(format!("tag `{t}` is not valid"))
                .suggestion("Tags are short labels such as `nightly` or `before-migration`."));
        }
    }
    if let Some(reason) = wal::cloud_reason(conn) {
        return Err(err(
            ErrorCode::NotConfigured,
            "a base backup needs the replication protocol, which this server does not offer",
        )
        .reason(reason)
        .suggestion(wal::CLOUD_SUGGESTION));
    }
    let keyed = if req.encrypt {
        Some(service::configured_key(cfg)?.ok_or_else(|| {
            ToolError::invalid("encryption was asked for, but no backup key is configured")
                .suggestion("Start the server with --backup-passphrase (or SUPABASE_MCP_BACKUP_PASSPHRASE) or --backup-key-file.")
        })?)
    } else {
        None
    };
    let kdf = keyed.as_ref().map(|(_, k)| *k);
    let key = keyed.map(|(k, _)| k);
    let dir = service::backup_dir(cfg)?;

    let client = wal::connect(conn).await.map_err(|e| {
        err(
            ErrorCode::ConnectionFailed,
            "cannot connect to the database",
        )
        .reason(e)
        .suggestion("Check --db-url (a direct connection, port 5432) and that the server runs.")
    })?;
    let q = |e: tokio_postgres::Error| crate::sql::run::pg_error(&e);
    let row = client
        .query_one(
            "SELECT current_setting('server_version_num')::int8, current_setting('server_version'), \
             (SELECT setting::int8 FROM pg_settings WHERE name = 'wal_segment_size'), \
             (extract(epoch FROM clock_timestamp()) * 1000000)::int8",
            &[],
        )
        .await
        .map_err(q)?;
    let (server_num, server_version, seg_size): (i64, String, i64) =
        (row.get(0), row.get(1), row.get(2));
    let before = from_micros(row.get(3));
    let extensions: Vec<Extension> = client
        .query(
            "SELECT extname::text, extversion FROM pg_extension ORDER BY 1",
            &[],
        )
        .await
        .map_err(q)?
        .iter()
        .map(|r| Extension {
            name: r.get(0),
            version: r.get(1),
        })
        .collect();
    let tools = pgtools::find(cfg.pg_bin_dir.as_deref(), pgtools::server_major(server_num))
        .await
        .map_err(|e| err(ErrorCode::NotConfigured, e.to_string()))?;
    let Some(basebackup) = tools.pg_basebackup.clone() else {
        return Err(err(
            ErrorCode::NotConfigured,
            format!(
                "pg_basebackup is not installed next to {}",
                tools.pg_dump.path.display()
            ),
        )
        .suggestion("Install the full PostgreSQL client package (it ships pg_basebackup), or pass --pg-bin-dir."));
    };
    let reach = wal::reachability(conn, Some(&tools.psql.path), None).await;
    if !reach.reachable {
        return Err(err(
            ErrorCode::PermissionDenied,
            "a base backup needs the replication protocol, and it is not reachable",
        )
        .reason(reach.reasons.join("; "))
        .suggestion(
            reach
                .suggestion
                .clone()
                .unwrap_or_else(|| "Run wal_archive_status for details.".into()),
        ));
    }

    let created_at = Utc::now();
    let id = manifest::new_id(created_at);
    let codec = req.compression.codec().extension();
    let enc = if kdf.is_some() { ".enc" } else { "" };
    let file = format!(
        "{}-cluster-{id}.base.tar{codec}{enc}",
        service::safe(instance)
    );
    let final_path = dir.join(&file);
    let (args, env) = basebackup_args(conn, &format!("supabase-mcp {id}"));
    let verified = run_blocking(cancel, &progress, {
        let final_path = final_path.clone();
        let compression = req.compression;
        let program = basebackup.path.clone();
        move |stop: &AtomicBool, bytes: &AtomicU64| -> Result<VerifiedBase, PipelineError> {
            let k = key.as_ref().map(|k| (k, EncryptOptions::default()));
            let w = pipeline::write_program_output(
                &program,
                &args,
                &env,
                &compression,
                k,
                &final_path,
                stop,
                bytes,
            )?;
            match verify_base_file(&w.temp, key.as_ref(), Some(&w.sha256), stop) {
                Ok(v) => {
                    pipeline::commit(&w.temp, &final_path)?;
                    Ok(v)
                }
                Err(e) => {
                    let _ = std::fs::remove_file(&w.temp);
                    Err(e.into())
                }
            }
        }
    })
    .await?
    .map_err(pipeline_error)?;
    let remove = || {
        let _ = std::fs::remove_file(&final_path);
    };
    let stop_time = match client
        .query_one(
            "SELECT (extract(epoch FROM clock_timestamp()) * 1000000)::int8",
            &[],
        )
        .await
    {
        Ok(r) => from_micros(r.get(0)),
        Err(e) => {
            remove();
            return Err(q(e));
        }
    };
    let label = &verified.contents.label;
    let info = BaseInfo {
        start_lsn: label.start_lsn.clone(),
        start_wal_file: label.start_wal_file.clone(),
        timeline: label.timeline,
        start_time_text: label.start_time_text.clone(),
        start_time: label.start_time_utc.unwrap_or(before),
        stop_lsn: verified.contents.stop_lsn.clone(),
        stop_time,
        wal_included: verified.contents.wal_included.clone(),
        wal_segment_size: u64::try_from(seg_size).unwrap_or(wal::DEFAULT_SEGMENT_SIZE),
        format: "tar".into(),
    };
    let mut entry = Entry {
        id,
        instance: instance.to_owned(),
        database: CLUSTER_DATABASE.to_owned(),
        created_at,
        kind: Kind::Base,
        // The manifest's format field knows pg_dump formats only; the
        // container (tar) is in the `base` field.
        format: DumpFormat::Plain,
        server_version,
        pg_dump_version: basebackup.version.clone(),
        extensions,
        raw_bytes: verified.contents.raw_bytes,
        stored_bytes: verified.stored_bytes,
        sha256: verified.sha256.clone(),
        file,
        row_counts: Default::default(),
        compression: req.compression.to_string(),
        encryption: match kdf {
            None => Encryption::None,
            Some(kdf) => Encryption::Aes256Gcm {
                kdf,
                key_fingerprint: None,
            },
        },
        tags: req.tags.clone(),
        includes_roles: false,
        extra: Default::default(),
    };
    if let Err(e) = entry.set_base_info(&info) {
        remove();
        return Err(ToolError::internal(e.to_string()));
    }
    let (dir2, e2) = (dir.clone(), entry.clone());
    let added = tokio::task::spawn_blocking(move || Manifest::add_to(&dir2, e2))
        .await
        .map_err(|e| ToolError::internal(e.to_string()))?;
    if let Err(e) = added {
        remove();
        return Err(
            err(ErrorCode::Io, format!("cannot record the base backup: {e}"))
                .suggestion("Check the backup directory's manifest (list_backups)."),
        );
    }
    Ok(entry)
}

/// The path of an entry's stored file.
pub fn stored_path(cfg: &BackupConfig, entry: &Entry) -> PathBuf {
    cfg.dir.join(&entry.file)
}

#[cfg(test)]
mod tests {
    use super::*;

    const LABEL: &str = "START WAL LOCATION: 0/2000028 (file 000000010000000000000002)\n\
CHECKPOINT LOCATION: 0/2000060\nBACKUP METHOD: streamed\nBACKUP FROM: primary\n\
START TIME: 2026-11-25 22:16:46 UTC\nLABEL: pg_basebackup base backup\nSTART TIMELINE: 1\n";

    #[test]
    fn labels_are_parsed() {
        let l = parse_label(LABEL).unwrap();
        assert_eq!(l.start_lsn, "0/2000028");
        assert_eq!(l.start_wal_file, "000000010000000000000002");
        assert_eq!(l.timeline, 1);
        assert_eq!(l.checkpoint_lsn.as_deref(), Some("0/2000060"));
        assert_eq!(
            l.start_time_utc.unwrap().to_rfc3339(),
            "2026-11-25T22:16:46+00:00"
        );
        let cet = parse_label(&LABEL.replace(" UTC", " CET")).unwrap();
        assert_eq!(cet.start_time_utc, None);
        assert_eq!(cet.start_time_text, "2026-11-25 22:16:46 CET");
        assert!(parse_label("LABEL: x\n").is_err());
        assert!(parse_label("START WAL LOCATION: 0/2 (file nothex)\n").is_err());
        let old =
            parse_label("START WAL LOCATION: 0/3000028 (file 000000020000000000000003)\n").unwrap();
        assert_eq!(old.timeline, 2);
    }

    #[test]
    fn manifest_wal_range_end() {
        let json = br#"{"PostgreSQL-Backup-Manifest-Version": 1, "Files": [],
            "WAL-Ranges": [{ "Timeline": 1, "Start-LSN": "0/2000028", "End-LSN": "0/2000100" }]}"#;
        assert_eq!(manifest_end_lsn(json).as_deref(), Some("0/2000100"));
        assert_eq!(manifest_end_lsn(b"{}"), None);
        assert_eq!(manifest_end_lsn(b"not json"), None);
    }

    fn tar_of(members: &[(&str, &[u8])]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (name, data) in members {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(0o600);
            h.set_cksum();
            b.append_data(&mut h, name, *data).unwrap();
        }
        b.into_inner().unwrap()
    }

    fn store(dir: &Path, tar: &[u8], key: Option<&KeySource>) -> (PathBuf, String) {
        let src = dir.join("src.tar");
        std::fs::write(&src, tar).unwrap();
        let final_path = dir.join("b.base.tar.zst");
        let k = key.map(|k| (k, EncryptOptions::default()));
        let w = pipeline::write_program_output(
            Path::new("/bin/cat"),
            &[src.display().to_string()],
            &[],
            &Compression::default(),
            k,
            &final_path,
            &AtomicBool::new(false),
            &AtomicU64::new(0),
        )
        .unwrap();
        pipeline::commit(&w.temp, &final_path).unwrap();
        (final_path, w.sha256)
    }

    #[test]
    fn a_stored_tar_is_verified_and_extracted() {
        let dir = tempfile::tempdir().unwrap();
        let manifest = br#"{"WAL-Ranges": [{"Timeline": 1, "Start-LSN": "0/2000028", "End-LSN": "0/2000100"}]}"#;
        let tar = tar_of(&[
            ("backup_label", LABEL.as_bytes()),
            ("PG_VERSION", b"15\n"),
            ("global/pg_control", &[0u8; 512]),
            ("./pg_wal/000000010000000000000002", &[1u8; 64]),
            ("base/1/1259", &[2u8; 100]),
            ("backup_manifest", manifest),
        ]);
        let key = KeySource::key_bytes(&[7u8; 32]).unwrap();
        let (path, sha) = store(dir.path(), &tar, Some(&key));
        let stop = AtomicBool::new(false);
        let v = verify_base_file(&path, Some(&key), Some(&sha), &stop).unwrap();
        assert!(v.encrypted);
        assert_eq!(v.contents.label.start_wal_file, "000000010000000000000002");
        assert_eq!(v.contents.stop_lsn.as_deref(), Some("0/2000100"));
        assert_eq!(
            v.contents.wal_included,
            Some((
                "000000010000000000000002".into(),
                "000000010000000000000002".into()
            ))
        );
        assert_eq!(v.contents.members, 6);

        let bad = verify_base_file(&path, Some(&key), Some(&"0".repeat(64)), &stop).unwrap_err();
        assert!(bad.to_string().contains("SHA-256"), "{bad}");
        let wrong = KeySource::key_bytes(&[8u8; 32]).unwrap();
        let bad = verify_base_file(&path, Some(&wrong), None, &stop).unwrap_err();
        assert!(bad.to_string().contains("wrong passphrase or key"), "{bad}");
        assert!(matches!(
            verify_base_file(&path, None, None, &stop),
            Err(BaseBackupError::Pipeline(PipelineError::KeyNeeded))
        ));

        let out = dir.path().join("data");
        std::fs::create_dir(&out).unwrap();
        let x = extract(&path, Some(&key), Some(&sha), &out, &stop).unwrap();
        assert_eq!(x.files, 6);
        assert_eq!(std::fs::read(out.join("PG_VERSION")).unwrap(), b"15\n");
        assert!(out.join("pg_wal/000000010000000000000002").is_file());
        assert_eq!(
            std::fs::read_to_string(out.join("backup_label")).unwrap(),
            LABEL
        );
    }

    #[test]
    fn incomplete_or_unsafe_archives_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let tar = tar_of(&[("PG_VERSION", b"15\n"), ("global/pg_control", &[0u8; 8])]);
        let (path, _) = store(dir.path(), &tar, None);
        let stop = AtomicBool::new(false);
        let e = verify_base_file(&path, None, None, &stop).unwrap_err();
        assert!(
            matches!(e, BaseBackupError::MissingMember("backup_label")),
            "{e}"
        );

        // A member escaping the directory (written by hand: tar::Builder refuses `..`).
        let mut raw = tar_of(&[("PG_VERSION", b"15\n")]);
        let name = b"../escaped";
        raw[..100].fill(0);
        raw[..name.len()].copy_from_slice(name);
        let mut h = tar::Header::from_byte_slice(&raw[..512]).clone();
        h.set_cksum();
        raw[..512].copy_from_slice(h.as_bytes());
        let sub = dir.path().join("src");
        std::fs::create_dir(&sub).unwrap();
        let (path, _) = store(&sub, &raw, None);
        let out = dir.path().join("out");
        std::fs::create_dir(&out).unwrap();
        let e = extract(&path, None, None, &out, &stop).unwrap_err();
        assert!(matches!(e, BaseBackupError::UnsafePath(_)), "{e}");
        assert!(!dir.path().join("escaped").exists());
    }
}
