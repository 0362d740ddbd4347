//! The byte pipelines of a backup and a restore, run on blocking threads:
//!
//! - [`write_backup`]: `pg_dump` stdout → [`compress`] → [`crypt`]
//!   (optional) → SHA-256 and byte count → a temporary file next to the
//!   destination (a name starting with `.` and ending in `.partial`).
//!   The caller verifies it ([`verify_file`]) and moves it into place with
//!   [`commit`]; on any failure the temporary file is removed.
//!   [`write_verified_backup`] does both at once: a second thread re-reads
//!   the temporary file while it grows and verifies it as [`verify_file`]
//!   would, so the check costs no second pass after the dump.
//! - [`verify_file`]: re-reads a stored file, checking its hash, that it
//!   decrypts (every chunk authenticated, none missing) and decompresses,
//!   and that `pg_restore --list` accepts a custom-format archive.
//! - [`restore_file`]: the file → decryption → decompression → `pg_restore`
//!   (custom format) or `psql` (plain), streamed through stdin; a parallel
//!   restore (`jobs > 1`) first spools the archive to a temporary file,
//!   because `pg_restore -j` cannot read stdin.
//!
//! Passwords reach the PostgreSQL programs through `PGPASSWORD`, never the
//! command line. Memory stays bounded by the stage buffers.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;

use sha2::{Digest, Sha256};

use super::compress::{self, Compression};
use super::crypt::{self, EncryptOptions, EncryptWriter, KeySource};
use super::custom_archive::OffsetRecorder;
use super::manifest::DumpFormat;
use super::pgtools::PgTools;
use super::readahead::ReadAhead;
use super::tail::{Tail, TailReader, TailWriter};
use crate::db::connstr::ConnParams;

mod staged;

/// Bytes moved per read.
const BUF: usize = 1 << 20;
/// Stderr kept from a PostgreSQL program for error messages.
const STDERR_TAIL: usize = 8 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error("cannot start {program}: {message}")]
    Spawn { program: String, message: String },
    #[error("{program} failed ({status}): {stderr}")]
    Program {
        program: String,
        status: String,
        stderr: String,
    },
    #[error("cannot write the backup file {path}: {message}")]
    Write { path: String, message: String },
    #[error("cannot read the backup file {path}: {message}")]
    Read { path: String, message: String },
    #[error("{0}")]
    Crypt(#[from] crypt::CryptError),
    #[error("{0}")]
    Compress(#[from] compress::CompressError),
    #[error("the backup file is damaged: {0}")]
    Damaged(String),
    #[error(
        "the backup file's SHA-256 is {actual}, the manifest says {expected}: the file was changed or replaced"
    )]
    HashMismatch { expected: String, actual: String },
    #[error("this backup is encrypted: pass the passphrase or the key file it was made with")]
    KeyNeeded,
    #[error("cancelled")]
    Cancelled,
}

/// What `pg_dump` writes.
#[derive(Debug, Clone, Default)]
pub struct DumpSpec {
    pub schema_only: bool,
    pub data_only: bool,
    pub format: Format,
    pub schemas: Vec<String>,
    pub exclude_schemas: Vec<String>,
    pub tables: Vec<String>,
    pub exclude_tables: Vec<String>,
    /// A snapshot exported by a transaction that stays open during the dump.
    pub snapshot: Option<String>,
}

/// Archive format (mirrors the manifest's).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Format {
    #[default]
    Custom,
    Plain,
}

impl From<Format> for DumpFormat {
    fn from(f: Format) -> Self {
        match f {
            Format::Custom => DumpFormat::Custom,
            Format::Plain => DumpFormat::Plain,
        }
    }
}

impl From<DumpFormat> for Format {
    fn from(f: DumpFormat) -> Self {
        match f {
            DumpFormat::Custom => Format::Custom,
            DumpFormat::Plain => Format::Plain,
        }
    }
}

/// The result of [`write_backup`].
#[derive(Debug, Clone)]
pub struct Written {
    /// The temporary file holding the backup.
    pub temp: PathBuf,
    pub raw_bytes: u64,
    pub stored_bytes: u64,
    pub sha256: String,
}

/// Command-line arguments and environment that connect a PostgreSQL
/// program to `conn` (the password only in the environment).
pub fn connection(conn: &ConnParams) -> (Vec<String>, Vec<(String, String)>) {
    let mut args = vec![
        format!("--host={}", conn.host),
        format!("--port={}", conn.port),
        format!("--username={}", conn.user_or_default()),
    ];
    if let Some(db) = &conn.dbname {
        args.push(format!("--dbname={db}"));
    }
    let mut env = vec![
        ("PGAPPNAME".to_owned(), "supabase-mcp".to_owned()),
        ("PGSSLMODE".to_owned(), conn.sslmode.name().to_owned()),
        ("PGCONNECT_TIMEOUT".to_owned(), "10".to_owned()),
    ];
    if let Some(p) = &conn.password {
        env.push(("PGPASSWORD".to_owned(), p.expose().to_owned()));
    }
    if let Some(root) = &conn.sslrootcert {
        env.push(("PGSSLROOTCERT".to_owned(), root.clone()));
    }
    if let Some(options) = &conn.options {
        env.push(("PGOPTIONS".to_owned(), options.clone()));
    }
    (args, env)
}

/// `pg_dump` arguments for `spec` (output to stdout, no compression of its own).
pub fn dump_args(spec: &DumpSpec) -> Vec<String> {
    let mut args = vec![
        match spec.format {
            Format::Custom => "--format=custom".to_owned(),
            Format::Plain => "--format=plain".to_owned(),
        },
        "--no-password".to_owned(),
    ];
    if spec.format == Format::Custom {
        args.push("--compress=0".to_owned());
    }
    if spec.schema_only {
        args.push("--schema-only".to_owned());
    }
    if spec.data_only {
        args.push("--data-only".to_owned());
    }
    for s in &spec.schemas {
        args.push(format!("--schema={s}"));
    }
    for s in &spec.exclude_schemas {
        args.push(format!("--exclude-schema={s}"));
    }
    for t in &spec.tables {
        args.push(format!("--table={t}"));
    }
    for t in &spec.exclude_tables {
        args.push(format!("--exclude-table={t}"));
    }
    if let Some(s) = &spec.snapshot {
        args.push(format!("--snapshot={s}"));
    }
    args
}

/// Counts and hashes what passes through.
struct Hashing<W> {
    inner: W,
    hash: Sha256,
    bytes: u64,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hash.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hash.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }
}

/// The encryption stage, present or not.
enum Sink<W: Write> {
    Plain(W),
    Encrypted(Box<EncryptWriter<W>>),
}

impl<W: Write> Write for Sink<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Sink::Plain(w) => w.write(buf),
            Sink::Encrypted(w) => w.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Sink::Plain(w) => w.flush(),
            Sink::Encrypted(w) => w.flush(),
        }
    }
}

impl<W: Write> Sink<W> {
    fn finish(self) -> Result<W, PipelineError> {
        match self {
            Sink::Plain(w) => Ok(w),
            Sink::Encrypted(w) => Ok(w.finish()?),
        }
    }
}

/// Keeps the last [`STDERR_TAIL`] bytes of a program's stderr.
fn collect_stderr(child: &mut Child) -> Option<JoinHandle<String>> {
    let mut err = child.stderr.take()?;
    Some(std::thread::spawn(move || {
        let mut tail: Vec<u8> = Vec::new();
        let mut buf = [0u8; 4096];
        while let Ok(n) = err.read(&mut buf) {
            if n == 0 {
                break;
            }
            tail.extend_from_slice(&buf[..n]);
            if tail.len() > 2 * STDERR_TAIL {
                tail.drain(..tail.len() - STDERR_TAIL);
            }
        }
        let start = tail.len().saturating_sub(STDERR_TAIL);
        String::from_utf8_lossy(&tail[start..]).trim().to_owned()
    }))
}

/// What a restore program's verbose stderr says: its messages other than
/// the progress lines (the last [`STDERR_TAIL`] bytes), with each restored
/// table's data counted in `items` as it completes.
fn collect_restore_stderr(child: &mut Child, items: Arc<AtomicU64>) -> Option<JoinHandle<String>> {
    let err = child.stderr.take()?;
    Some(std::thread::spawn(move || {
        let mut kept = String::new();
        let mut line: Vec<u8> = Vec::with_capacity(256);
        let mut reader = io::BufReader::new(err);
        let mut buf = [0u8; 4096];
        let handle = |line: &[u8], kept: &mut String| {
            let text = String::from_utf8_lossy(line);
            match restore_message(&text) {
                Message::DataDone => {
                    items.fetch_add(1, Ordering::Relaxed);
                }
                Message::Progress => {}
                Message::Other => {
                    kept.push_str(text.trim_end());
                    kept.push('\n');
                    if kept.len() > 2 * STDERR_TAIL {
                        let cut = kept.len() - STDERR_TAIL;
                        let cut = (cut..kept.len())
                            .find(|i| kept.is_char_boundary(*i))
                            .unwrap_or(kept.len());
                        kept.drain(..cut);
                    }
                }
            }
        };
        while let Ok(n) = reader.read(&mut buf) {
            if n == 0 {
                break;
            }
            for &b in &buf[..n] {
                if b == b'\n' {
                    handle(&line, &mut kept);
                    line.clear();
                } else if line.len() < 4096 {
                    line.push(b);
                }
            }
        }
        if !line.is_empty() {
            handle(&line, &mut kept);
        }
        kept.trim().to_owned()
    }))
}

/// The kinds of line a verbose `pg_restore` prints.
#[derive(Debug, PartialEq, Eq)]
enum Message {
    /// A table's (or the large objects') data is restored.
    DataDone,
    /// Another progress line ("creating TABLE ...").
    Progress,
    /// An error, warning, detail, or anything else: kept for the report.
    Other,
}

fn restore_message(line: &str) -> Message {
    let Some(rest) = line.strip_prefix("pg_restore: ") else {
        return Message::Other;
    };
    if ["error:", "warning:", "detail:", "hint:", "while "]
        .iter()
        .any(|p| rest.starts_with(p))
    {
        return Message::Other;
    }
    // Parallel: "finished item 3456 TABLE DATA public t001";
    // one job: "processing data for table \"public.t001\"".
    let data_done = rest
        .strip_prefix("finished item ")
        .is_some_and(|r| r.contains(" TABLE DATA ") || r.contains(" BLOBS "))
        || rest.starts_with("processing data for table ")
        || rest.starts_with("restored ");
    if data_done {
        Message::DataDone
    } else {
        Message::Progress
    }
}

fn join_stderr(h: Option<JoinHandle<String>>) -> String {
    h.and_then(|h| h.join().ok()).unwrap_or_default()
}

fn spawn(
    program: &Path,
    args: &[String],
    env: &[(String, String)],
    stdin: Stdio,
    stdout: Stdio,
) -> Result<Child, PipelineError> {
    Command::new(program)
        .args(args)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .env_remove("PGSERVICE")
        // Messages in English: the restore's progress lines are parsed.
        .env_remove("LANGUAGE")
        .env("LC_MESSAGES", "C")
        .envs(std::env::var_os("LC_ALL").map(|_| ("LC_ALL", "C")))
        .stdin(stdin)
        .stdout(stdout)
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| PipelineError::Spawn {
            program: program.display().to_string(),
            message: e.to_string(),
        })
}

fn program_failed(
    program: &Path,
    status: std::process::ExitStatus,
    stderr: String,
) -> PipelineError {
    PipelineError::Program {
        program: program
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        status: status.to_string(),
        stderr: if stderr.is_empty() {
            "no error output".to_owned()
        } else {
            stderr
        },
    }
}

/// The temporary name of `final_path` (same directory, hidden, `.partial`).
pub fn temp_path(final_path: &Path) -> PathBuf {
    let name = final_path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "backup".to_owned());
    final_path.with_file_name(format!(".{name}.partial"))
}

/// Runs `pg_dump` and writes its output, compressed and (with `key`)
/// encrypted, to the temporary name of `final_path`. `progress` counts the
/// raw bytes read so far. On error the temporary file is removed and
/// `pg_dump` is killed.
#[allow(clippy::too_many_arguments)]
pub fn write_backup(
    tools: &PgTools,
    conn: &ConnParams,
    spec: &DumpSpec,
    compression: &Compression,
    key: Option<(&KeySource, EncryptOptions)>,
    final_path: &Path,
    cancel: &AtomicBool,
    progress: &AtomicU64,
) -> Result<Written, PipelineError> {
    let (mut args, env) = connection(conn);
    args.extend(dump_args(spec));
    write_program_output(
        &tools.pg_dump.path,
        &args,
        &env,
        compression,
        key,
        final_path,
        cancel,
        progress,
    )
}

/// Runs `program` and writes its stdout like [`write_backup`] does (e.g.
/// `pg_dumpall --roles-only`).
#[allow(clippy::too_many_arguments)]
pub fn write_program_output(
    program: &Path,
    args: &[String],
    env: &[(String, String)],
    compression: &Compression,
    key: Option<(&KeySource, EncryptOptions)>,
    final_path: &Path,
    cancel: &AtomicBool,
    progress: &AtomicU64,
) -> Result<Written, PipelineError> {
    write_checked(
        program,
        args,
        env,
        compression,
        key,
        final_path,
        None,
        cancel,
        progress,
    )
    .map(|(w, _)| w)
}

/// Runs `pg_dump` like [`write_backup`] and verifies the file while it is
/// being written: a second thread reads the temporary file back as it
/// grows ([`super::tail`]) and checks it exactly as [`verify_file`] does
/// (SHA-256 of the stored bytes, every chunk decrypted, decompressed,
/// `pg_restore --list` for custom format). The result is a complete,
/// verified temporary file, or an error and no file.
#[allow(clippy::too_many_arguments)]
pub fn write_verified_backup(
    tools: &PgTools,
    conn: &ConnParams,
    spec: &DumpSpec,
    compression: &Compression,
    key: Option<(&KeySource, EncryptOptions)>,
    final_path: &Path,
    cancel: &AtomicBool,
    progress: &AtomicU64,
) -> Result<(Written, Verified), PipelineError> {
    let (mut args, env) = connection(conn);
    args.extend(dump_args(spec));
    let (written, verified) = write_checked(
        &tools.pg_dump.path,
        &args,
        &env,
        compression,
        key,
        final_path,
        Some((spec.format, tools)),
        cancel,
        progress,
    )?;
    match verified {
        Some(v) => Ok((written, v)),
        None => {
            let _ = fs::remove_file(&written.temp);
            Err(PipelineError::Damaged("the file was not verified".into()))
        }
    }
}

/// Runs `program` into the temporary file of `final_path`, verifying it as
/// it is written when `verify` is given. On any failure the temporary file
/// is removed.
#[allow(clippy::too_many_arguments)]
fn write_checked(
    program: &Path,
    args: &[String],
    env: &[(String, String)],
    compression: &Compression,
    key: Option<(&KeySource, EncryptOptions)>,
    final_path: &Path,
    verify: Option<(Format, &PgTools)>,
    cancel: &AtomicBool,
    progress: &AtomicU64,
) -> Result<(Written, Option<Verified>), PipelineError> {
    let temp = temp_path(final_path);
    let write_err = |e: io::Error| PipelineError::Write {
        path: temp.display().to_string(),
        message: e.to_string(),
    };
    let file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&temp)
        .map_err(write_err)?;
    let reread = match verify {
        Some(_) => match File::open(&temp) {
            Ok(f) => Some(f),
            Err(e) => {
                let _ = fs::remove_file(&temp);
                return Err(PipelineError::Read {
                    path: temp.display().to_string(),
                    message: e.to_string(),
                });
            }
        },
        None => None,
    };
    let tail = Tail::new();
    let result = std::thread::scope(|scope| {
        let verifier = match (verify, reread) {
            (Some((format, tools)), Some(reread)) => {
                let tail = tail.clone();
                let key = key.as_ref().map(|(k, _)| *k);
                Some(scope.spawn(move || {
                    let source = io::BufReader::with_capacity(BUF, TailReader::new(reread, tail));
                    let (reader, done, encrypted) = decode_stream(source, key, false)?;
                    verify_stream(reader, done, encrypted, format, None, tools, cancel)
                }))
            }
            _ => None,
        };
        let written = run_program_into(
            program,
            args,
            env,
            compression,
            key,
            file,
            &temp,
            &tail,
            cancel,
            progress,
        );
        match &written {
            Ok(_) => tail.finish(),
            Err(_) => tail.abandon(),
        }
        let verified = verifier.map(|h| {
            h.join().unwrap_or_else(|_| {
                Err(PipelineError::Damaged(
                    "the verification thread stopped unexpectedly".into(),
                ))
            })
        });
        let written = written?;
        match verified {
            None => Ok((written, None)),
            Some(Err(e)) => Err(e),
            Some(Ok(v)) if v.sha256 != written.sha256 || v.stored_bytes != written.stored_bytes => {
                Err(PipelineError::HashMismatch {
                    expected: written.sha256.clone(),
                    actual: v.sha256,
                })
            }
            Some(Ok(v)) => Ok((written, Some(v))),
        }
    });
    if result.is_err() {
        let _ = fs::remove_file(&temp);
    }
    result
}

/// Runs `program` and pumps its stdout into `file`; kills it on error.
#[allow(clippy::too_many_arguments)]
fn run_program_into(
    program: &Path,
    args: &[String],
    env: &[(String, String)],
    compression: &Compression,
    key: Option<(&KeySource, EncryptOptions)>,
    file: File,
    temp: &Path,
    tail: &Arc<Tail>,
    cancel: &AtomicBool,
    progress: &AtomicU64,
) -> Result<Written, PipelineError> {
    let mut child = spawn(program, args, env, Stdio::null(), Stdio::piped())?;
    let stderr = collect_stderr(&mut child);
    let result = pump_dump(
        &mut child,
        compression,
        key,
        file,
        temp,
        tail,
        cancel,
        progress,
    );
    match result {
        Ok(w) => match child.wait() {
            Ok(status) if status.success() => {
                let _ = join_stderr(stderr);
                Ok(w)
            }
            Ok(status) => Err(program_failed(program, status, join_stderr(stderr))),
            Err(e) => Err(PipelineError::Spawn {
                program: program.display().to_string(),
                message: e.to_string(),
            }),
        },
        Err(e) => {
            let _ = child.kill();
            let status = child.wait();
            let text = join_stderr(stderr);
            match (e, status) {
                (PipelineError::Cancelled, _) => Err(PipelineError::Cancelled),
                // A broken pipe on our side means the program died: its error says why.
                (_, Ok(status)) if !status.success() && !text.is_empty() => {
                    Err(program_failed(program, status, text))
                }
                (e, _) => Err(e),
            }
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn pump_dump(
    child: &mut Child,
    compression: &Compression,
    key: Option<(&KeySource, EncryptOptions)>,
    file: File,
    temp: &Path,
    tail: &Arc<Tail>,
    cancel: &AtomicBool,
    progress: &AtomicU64,
) -> Result<Written, PipelineError> {
    let write_err = |e: io::Error| PipelineError::Write {
        path: temp.display().to_string(),
        message: e.to_string(),
    };
    let hashing = Hashing {
        inner: BufWriter::with_capacity(BUF, TailWriter::new(file, tail.clone())),
        hash: Sha256::new(),
        bytes: 0,
    };
    let sink = match key {
        Some((k, options)) => {
            Sink::Encrypted(Box::new(EncryptWriter::with_options(hashing, k, &options)?))
        }
        None => Sink::Plain(hashing),
    };
    let mut encoder = compress::encoder(compression, sink)?;
    let mut out = child.stdout.take().ok_or_else(|| PipelineError::Spawn {
        program: "pg_dump".into(),
        message: "no stdout".into(),
    })?;
    let mut buf = vec![0u8; BUF];
    let mut raw: u64 = 0;
    loop {
        if cancel.load(Ordering::Relaxed) {
            return Err(PipelineError::Cancelled);
        }
        let n = match out.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                return Err(PipelineError::Spawn {
                    program: "pg_dump".into(),
                    message: format!("reading its output: {e}"),
                });
            }
        };
        raw += n as u64;
        progress.store(raw, Ordering::Relaxed);
        encoder.write_all(&buf[..n]).map_err(write_err)?;
    }
    let sink = encoder.finish().map_err(write_err)?;
    let mut hashing = sink.finish()?;
    hashing.flush().map_err(write_err)?;
    let file = hashing
        .inner
        .into_inner()
        .map_err(|e| write_err(e.into_error()))?
        .into_file();
    file.sync_all().map_err(write_err)?;
    Ok(Written {
        temp: temp.to_path_buf(),
        raw_bytes: raw,
        stored_bytes: hashing.bytes,
        sha256: hex::encode(hashing.hash.finalize()),
    })
}

/// Moves a verified temporary file to its final name and makes the rename
/// durable.
pub fn commit(temp: &Path, final_path: &Path) -> Result<(), PipelineError> {
    let err = |e: io::Error| PipelineError::Write {
        path: final_path.display().to_string(),
        message: e.to_string(),
    };
    fs::rename(temp, final_path).map_err(err)?;
    if let Some(dir) = final_path.parent()
        && let Ok(d) = File::open(dir)
    {
        let _ = d.sync_all();
    }
    Ok(())
}

/// What [`verify_file`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub sha256: String,
    pub stored_bytes: u64,
    pub raw_bytes: u64,
    pub encrypted: bool,
    /// Entries in the archive's table of contents (custom format).
    pub toc_entries: Option<u64>,
}

/// Opens a stored backup as a stream of the raw `pg_dump` output, hashing
/// the stored bytes as they are read.
fn open_decoded(
    path: &Path,
    key: Option<&KeySource>,
) -> Result<(Box<dyn Read + Send>, FileDigest, bool), PipelineError> {
    let file = File::open(path).map_err(|e| PipelineError::Read {
        path: path.display().to_string(),
        message: e.to_string(),
    })?;
    let (decoded, done, encrypted) =
        decode_stream(io::BufReader::with_capacity(BUF, file), key, true)?;
    // Decompression on its own thread too: reading, hashing and decrypting
    // run on one core, decompressing on another, and the consumer on a third.
    Ok((Box::new(ReadAhead::new(decoded, 2)), done, encrypted))
}

/// The raw `pg_dump` output of the stored bytes `source`: decrypted when
/// they are encrypted (told by their first bytes), then decompressed; the
/// stored bytes are hashed on the way.
fn decode_stream<R: Read + Send + 'static>(
    mut source: R,
    key: Option<&KeySource>,
    read_ahead: bool,
) -> Result<(Box<dyn Read + Send>, FileDigest, bool), PipelineError> {
    let mut prefix = [0u8; 16];
    let mut n = 0;
    while n < prefix.len() {
        match source.read(&mut prefix[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(damaged(e)),
        }
    }
    let encrypted = crypt::is_encrypted(&prefix[..n]);
    let done = Arc::new(std::sync::Mutex::new(None));
    let hashing = HashingReader {
        inner: io::Cursor::new(prefix[..n].to_vec()).chain(source),
        hash: Some(Sha256::new()),
        bytes: 0,
        done: done.clone(),
    };
    let plain: Box<dyn Read + Send> = if encrypted {
        let Some(k) = key else {
            return Err(PipelineError::KeyNeeded);
        };
        Box::new(crypt::DecryptReader::new(hashing, k)?)
    } else {
        Box::new(hashing)
    };
    let plain: Box<dyn Read + Send> = if read_ahead {
        Box::new(ReadAhead::new(plain, 2))
    } else {
        plain
    };
    let decoded = compress::decoder_detect(plain)?;
    Ok((Box::new(decoded), done, encrypted))
}

/// SHA-256 (hex) and size of a file, published when it has been read to the end.
type FileDigest = Arc<std::sync::Mutex<Option<(String, u64)>>>;

/// Hashes what is read and publishes the digest at end of input.
struct HashingReader<R> {
    inner: R,
    hash: Option<Sha256>,
    bytes: u64,
    done: FileDigest,
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(h) = &mut self.hash {
            h.update(&buf[..n]);
            self.bytes += n as u64;
            if n == 0
                && !buf.is_empty()
                && let Some(h) = self.hash.take()
                && let Ok(mut d) = self.done.lock()
            {
                *d = Some((hex::encode(h.finalize()), self.bytes));
            }
        }
        Ok(n)
    }
}

fn damaged(e: io::Error) -> PipelineError {
    // The decryptor and decompressor report damage as io::Errors.
    match crypt::CryptError::from(e) {
        crypt::CryptError::Io(e) => PipelineError::Damaged(e.to_string()),
        other => PipelineError::Crypt(other),
    }
}

/// What a failed write to the sink of [`drain_into`] means.
#[derive(Clone, Copy)]
enum SinkFailure<'a> {
    /// A program's stdin closed (it exited early): keep reading to the end
    /// so the whole file is still checked; its exit status says why.
    Ignore,
    /// The file at this path could not be written (a full disk): an error.
    Fail(&'a Path),
}

/// Reads all of `reader` into `sink` (see [`SinkFailure`] for a sink that
/// stops accepting). Returns the raw byte count.
fn drain_into(
    reader: &mut dyn Read,
    sink: &mut dyn Write,
    cancel: &AtomicBool,
    on_failure: SinkFailure<'_>,
) -> Result<u64, PipelineError> {
    let check = |r: io::Result<()>| match (r, on_failure) {
        (Err(e), SinkFailure::Fail(path)) => Err(Some(PipelineError::Write {
            path: path.display().to_string(),
            message: e.to_string(),
        })),
        (Err(_), SinkFailure::Ignore) => Err(None),
        (Ok(()), _) => Ok(()),
    };
    let mut buf = vec![0u8; BUF];
    let mut total = 0u64;
    let mut sink_open = true;
    loop {
        if cancel.load(Ordering::Relaxed) {
            return Err(PipelineError::Cancelled);
        }
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(damaged(e)),
        };
        total += n as u64;
        if sink_open {
            match check(sink.write_all(&buf[..n])) {
                Ok(()) => {}
                Err(Some(e)) => return Err(e),
                Err(None) => sink_open = false,
            }
        }
    }
    if sink_open && let Err(Some(e)) = check(sink.flush()) {
        return Err(e);
    }
    Ok(total)
}

/// Checks a stored backup end to end (see the module docs).
pub fn verify_file(
    path: &Path,
    key: Option<&KeySource>,
    format: Format,
    expected_sha256: Option<&str>,
    tools: &PgTools,
    cancel: &AtomicBool,
) -> Result<Verified, PipelineError> {
    let (reader, done, encrypted) = open_decoded(path, key)?;
    verify_stream(
        reader,
        done,
        encrypted,
        format,
        expected_sha256,
        tools,
        cancel,
    )
}

/// Checks a decoded backup stream: reads it to the end (every chunk
/// authenticated and decompressed) through `pg_restore --list` (custom
/// format) or a look at its first lines (plain), then compares the hash
/// of the stored bytes.
fn verify_stream(
    mut reader: Box<dyn Read + Send>,
    done: FileDigest,
    encrypted: bool,
    format: Format,
    expected_sha256: Option<&str>,
    tools: &PgTools,
    cancel: &AtomicBool,
) -> Result<Verified, PipelineError> {
    let mut toc_entries = None;
    let raw_bytes = match format {
        Format::Custom => {
            let mut child = spawn(
                &tools.pg_restore.path,
                &["--list".to_owned()],
                &[],
                Stdio::piped(),
                Stdio::piped(),
            )?;
            let stderr = collect_stderr(&mut child);
            let mut stdout = child.stdout.take();
            let lister = std::thread::spawn(move || {
                let mut text = String::new();
                if let Some(out) = stdout.as_mut() {
                    let _ = out.read_to_string(&mut text);
                }
                text.lines()
                    .filter(|l| !l.starts_with(';') && !l.trim().is_empty())
                    .count() as u64
            });
            let mut stdin = child.stdin.take();
            let raw = match stdin.as_mut() {
                Some(s) => drain_into(&mut reader, s, cancel, SinkFailure::Ignore),
                None => drain_into(&mut reader, &mut io::sink(), cancel, SinkFailure::Ignore),
            };
            drop(stdin);
            let status = child.wait();
            let count = lister.join().unwrap_or(0);
            let raw = raw?;
            match status {
                Ok(s) if s.success() => toc_entries = Some(count),
                Ok(s) => {
                    return Err(PipelineError::Damaged(format!(
                        "pg_restore --list rejects the archive ({s}): {}",
                        join_stderr(stderr)
                    )));
                }
                Err(e) => {
                    return Err(PipelineError::Spawn {
                        program: "pg_restore".into(),
                        message: e.to_string(),
                    });
                }
            }
            raw
        }
        Format::Plain => {
            let mut head = Vec::new();
            let mut sink = HeadSink {
                head: &mut head,
                limit: 512,
            };
            let raw = drain_into(&mut reader, &mut sink, cancel, SinkFailure::Ignore)?;
            let text = String::from_utf8_lossy(&head);
            if !text.contains("PostgreSQL database dump") {
                return Err(PipelineError::Damaged(
                    "the file does not start like a plain-format pg_dump".into(),
                ));
            }
            raw
        }
    };
    let (sha256, stored_bytes) = done
        .lock()
        .ok()
        .and_then(|d| d.clone())
        .ok_or_else(|| PipelineError::Damaged("the file was not read to its end".into()))?;
    if let Some(expected) = expected_sha256
        && expected != sha256
    {
        return Err(PipelineError::HashMismatch {
            expected: expected.to_owned(),
            actual: sha256,
        });
    }
    Ok(Verified {
        sha256,
        stored_bytes,
        raw_bytes,
        encrypted,
        toc_entries,
    })
}

/// Keeps the first `limit` bytes written.
struct HeadSink<'a> {
    head: &'a mut Vec<u8>,
    limit: usize,
}

impl Write for HeadSink<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let room = self.limit.saturating_sub(self.head.len());
        self.head.extend_from_slice(&buf[..room.min(buf.len())]);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The spool of a parallel restore: the file, and the archive's data
/// offsets seen on the way.
struct RecordingSpool<W: Write> {
    file: io::BufWriter<W>,
    offsets: OffsetRecorder,
}

impl<W: Write> Write for RecordingSpool<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.file.write(buf)?;
        self.offsets.feed(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

/// How to restore.
#[derive(Debug, Clone, Default)]
pub struct RestoreSpec {
    /// Drop objects before recreating them (`--clean --if-exists`).
    pub clean: bool,
    /// Do not restore ownership (`--no-owner`).
    pub no_owner: bool,
    /// Do not restore grants (`--no-privileges`).
    pub no_privileges: bool,
    /// Parallel jobs for a custom-format archive (1 = stream through stdin).
    pub jobs: u32,
    /// Only these schemas (custom format).
    pub schemas: Vec<String>,
    /// Where a parallel restore spools the archive.
    pub spool_dir: Option<PathBuf>,
    /// Plain format: keep going after a failed statement (its error is in
    /// the warnings), e.g. for roles that already exist.
    pub continue_on_error: bool,
    /// Counts the archive's bytes as they are read.
    pub progress: Option<Arc<AtomicU64>>,
    /// Counts the tables whose data is restored (custom format).
    pub tables_done: Option<Arc<AtomicU64>>,
}

/// A writer that counts what passes through it.
struct Counted<'a, W: Write> {
    inner: W,
    count: Option<&'a AtomicU64>,
}

impl<W: Write> Write for Counted<'_, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        if let Some(c) = self.count {
            c.fetch_add(n as u64, Ordering::Relaxed);
        }
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// What [`restore_file`] did.
#[derive(Debug, Clone)]
pub struct Restored {
    pub raw_bytes: u64,
    pub warnings: String,
    /// Time spent writing the temporary copy of a parallel restore (the
    /// restore runs alongside it, see `staged`).
    pub spool_ms: u64,
    /// Data loaders that ran while the copy was written (0 when the
    /// restore waited for the whole copy, or streamed without one).
    pub loaders: usize,
}

/// Restores a stored backup into the database of `conn`.
#[allow(clippy::too_many_arguments)]
pub fn restore_file(
    path: &Path,
    key: Option<&KeySource>,
    format: Format,
    expected_sha256: Option<&str>,
    tools: &PgTools,
    conn: &ConnParams,
    spec: &RestoreSpec,
    cancel: &AtomicBool,
) -> Result<Restored, PipelineError> {
    let (mut reader, done, _) = open_decoded(path, key)?;
    let (conn_args, env) = connection(conn);
    let mut args: Vec<String> = conn_args;
    let program = match format {
        Format::Custom => {
            args.push("--exit-on-error".into());
            args.push("--no-password".into());
            args.push("--verbose".into());
            if spec.clean {
                args.push("--clean".into());
                args.push("--if-exists".into());
            }
            if spec.no_owner {
                args.push("--no-owner".into());
            }
            if spec.no_privileges {
                args.push("--no-privileges".into());
            }
            for s in &spec.schemas {
                args.push(format!("--schema={s}"));
            }
            &tools.pg_restore.path
        }
        Format::Plain => {
            args.extend(
                [
                    "-X",
                    "-q",
                    "-v",
                    if spec.continue_on_error {
                        "ON_ERROR_STOP=0"
                    } else {
                        "ON_ERROR_STOP=1"
                    },
                    "--no-password",
                    "-f",
                    "-",
                ]
                .map(String::from),
            );
            &tools.psql.path
        }
    };
    let mut spooled_bytes = 0u64;
    let spool_started = std::time::Instant::now();
    let spool = if format == Format::Custom && spec.jobs > 1 {
        let dir = spec
            .spool_dir
            .clone()
            .or_else(|| path.parent().map(Path::to_path_buf))
            .unwrap_or_else(std::env::temp_dir);
        let spool = dir.join(format!(".restore-{}.partial", std::process::id()));
        let f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&spool)
            .map_err(|e| PipelineError::Write {
                path: spool.display().to_string(),
                message: e.to_string(),
            })?;
        if !spec.clean {
            // Restore while the archive arrives (see `staged`).
            let staged = staged::Staged {
                program,
                args: &args,
                env: &env,
                jobs: spec.jobs,
                spool: &spool,
                progress: spec.progress.as_deref(),
                tables_done: spec.tables_done.clone().unwrap_or_default(),
            };
            let result = staged::run(&mut reader, f, &staged, cancel);
            let _ = fs::remove_file(&spool);
            let outcome = result?;
            return finish_restore(
                Restored {
                    raw_bytes: outcome.spooled,
                    warnings: outcome.warnings,
                    spool_ms: outcome.spool_ms,
                    loaders: outcome.loaders,
                },
                expected_sha256,
                &done,
            );
        }
        let mut sink = RecordingSpool {
            file: io::BufWriter::with_capacity(BUF, f),
            offsets: OffsetRecorder::new(),
        };
        let mut counted = Counted {
            inner: &mut sink,
            count: spec.progress.as_deref(),
        };
        let spooled = match drain_into(&mut reader, &mut counted, cancel, SinkFailure::Fail(&spool))
        {
            Ok(n) => n,
            Err(e) => {
                let _ = fs::remove_file(&spool);
                return Err(e);
            }
        };
        let RecordingSpool { file, offsets } = sink;
        let mut f = match file.into_inner() {
            Ok(f) => f,
            Err(e) => {
                let _ = fs::remove_file(&spool);
                return Err(PipelineError::Write {
                    path: spool.display().to_string(),
                    message: e.error().to_string(),
                });
            }
        };
        // Data offsets make `pg_restore -j` seek straight to each table's
        // data; without them (an archive it does not know) it scans.
        if let Err(e) = offsets.patch(&mut f) {
            tracing::debug!("restoring without data offsets: {e}");
        }
        spooled_bytes = spooled;
        args.push(format!("--jobs={}", spec.jobs));
        args.push(spool.display().to_string());
        Some(spool)
    } else {
        None
    };
    let spool_ms = if spool.is_some() {
        spool_started.elapsed().as_millis() as u64
    } else {
        0
    };
    let result = run_restore(
        program,
        &args,
        &env,
        spool.is_none(),
        &mut reader,
        spec,
        cancel,
    );
    if let Some(s) = &spool {
        let _ = fs::remove_file(s);
    }
    let (streamed, warnings) = result?;
    finish_restore(
        Restored {
            raw_bytes: streamed.max(spooled_bytes),
            warnings,
            spool_ms,
            loaders: 0,
        },
        expected_sha256,
        &done,
    )
}

/// The report of a restore that ran, once the stored file's hash (known
/// now that it was read to its end) matches the manifest's.
fn finish_restore(
    restored: Restored,
    expected_sha256: Option<&str>,
    done: &FileDigest,
) -> Result<Restored, PipelineError> {
    let read = done.lock().ok().and_then(|d| d.clone());
    if let (Some(expected), Some((actual, _))) = (expected_sha256, read)
        && expected != actual
    {
        return Err(PipelineError::HashMismatch {
            expected: expected.to_owned(),
            actual,
        });
    }
    Ok(restored)
}

fn run_restore(
    program: &Path,
    args: &[String],
    env: &[(String, String)],
    through_stdin: bool,
    reader: &mut dyn Read,
    spec: &RestoreSpec,
    cancel: &AtomicBool,
) -> Result<(u64, String), PipelineError> {
    let stdin = if through_stdin {
        Stdio::piped()
    } else {
        Stdio::null()
    };
    let mut child = spawn(program, args, env, stdin, Stdio::null())?;
    let items = spec.tables_done.clone().unwrap_or_default();
    let stderr = collect_restore_stderr(&mut child, items);
    let mut raw = 0;
    if through_stdin {
        let mut input = child.stdin.take();
        let r = match input.as_mut() {
            Some(i) => drain_into(
                reader,
                &mut Counted {
                    inner: i,
                    count: spec.progress.as_deref(),
                },
                cancel,
                SinkFailure::Ignore,
            ),
            None => Ok(0),
        };
        drop(input);
        match r {
            Ok(n) => raw = n,
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                let _ = join_stderr(stderr);
                return Err(e);
            }
        }
    }
    let status = child.wait().map_err(|e| PipelineError::Spawn {
        program: program.display().to_string(),
        message: e.to_string(),
    })?;
    let text = join_stderr(stderr);
    if !status.success() {
        return Err(program_failed(program, status, text));
    }
    Ok((raw, text))
}

/// [`open_decoded`] for the other backup kinds (`basebackup`): the decoded
/// stream, the stored file's (SHA-256, size) once read to its end, and
/// whether it is encrypted.
pub(crate) fn open_stored(
    path: &Path,
    key: Option<&KeySource>,
) -> Result<(Box<dyn Read + Send>, FileDigest, bool), PipelineError> {
    open_decoded(path, key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_stay_out_of_arguments() {
        let conn =
            ConnParams::parse("postgres://app:s3cret@db.example:5433/app?sslmode=require").unwrap();
        let (args, env) = connection(&conn);
        assert!(args.iter().all(|a| !a.contains("s3cret")), "{args:?}");
        assert!(args.contains(&"--port=5433".to_owned()));
        assert!(env.contains(&("PGPASSWORD".to_owned(), "s3cret".to_owned())));
        assert!(env.contains(&("PGSSLMODE".to_owned(), "require".to_owned())));
    }

    #[test]
    fn dump_arguments_follow_the_spec() {
        let spec = DumpSpec {
            schema_only: true,
            exclude_schemas: vec!["auth".into()],
            tables: vec!["public.t".into()],
            snapshot: Some("00000003-1".into()),
            ..Default::default()
        };
        let args = dump_args(&spec);
        for a in [
            "--format=custom",
            "--compress=0",
            "--schema-only",
            "--exclude-schema=auth",
            "--table=public.t",
            "--snapshot=00000003-1",
        ] {
            assert!(args.contains(&a.to_owned()), "{a} missing in {args:?}");
        }
        let plain = dump_args(&DumpSpec {
            format: Format::Plain,
            ..Default::default()
        });
        assert!(!plain.iter().any(|a| a.starts_with("--compress")));
    }

    #[test]
    fn temp_names_are_hidden_partials() {
        let t = temp_path(Path::new("/b/x.dump.zst"));
        assert_eq!(t, Path::new("/b/.x.dump.zst.partial"));
        assert!(super::super::manifest::is_temp_file_name(
            &t.file_name().unwrap().to_string_lossy()
        ));
    }
}
