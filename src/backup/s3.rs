//! S3-compatible object storage as a backup destination: AWS S3, MinIO,
//! Backblaze B2, Cloudflare R2, Supabase Storage's S3 endpoint and others,
//! through the `object_store` crate. This module owns the destination's
//! configuration ([`S3Config`]: an `s3://bucket/prefix` URL, endpoint,
//! region, keys), streamed uploads and downloads of backup files, listing,
//! sizes and deletion of the objects under the prefix, the manifest object
//! (`<prefix>/manifest.json`, the same format as [`Manifest`] on disk) with
//! its concurrent read-modify-write, and the translation of S3 failures into
//! errors that say what to do ([`S3Error`]).
//!
//! Rules kept here:
//! - a file is never held in memory whole: an upload reads it in parts of
//!   [`PART_SIZE`] (larger for files over 156 GiB, as S3 allows 10,000
//!   parts) with at most [`PARTS_IN_FLIGHT`] parts read or uploading at
//!   once; a download streams to disk;
//! - an object appears only complete: a file up to one part goes up in one
//!   PUT, a larger one in a multipart upload that is completed only after
//!   every part arrived and the file still had the size it had at the
//!   start; on any failure the multipart upload is aborted (when the upload
//!   future is dropped, the abort is spawned), so no object and no parts are
//!   left. If the abort itself fails the error says so: a bucket lifecycle
//!   rule that aborts incomplete multipart uploads cleans up after that;
//! - a download is written to a hidden temporary file
//!   (`.<name>.<random>.partial`) in the target's directory, fsynced and
//!   renamed over the target once every byte arrived; it is removed on any
//!   failure or cancellation;
//! - the manifest is updated by read-modify-write with a conditional PUT:
//!   `If-Match` with the e-tag that was read, `If-None-Match: *` when there
//!   was no manifest. A precondition failure means another writer got there
//!   first: reload, apply the change again, retry (with jittered backoff, at
//!   most [`MANIFEST_ATTEMPTS`] times), so concurrent writers lose nothing;
//! - **fallback for servers without conditional writes.** Whether the
//!   server enforces `If-Match`/`If-None-Match` is probed once per
//!   destination on a scratch object (`.conditional-write-probe-*`, deleted
//!   afterwards); some S3-compatible servers ignore the headers and would
//!   overwrite silently. Without them, updates are serialized inside this
//!   process (one lock per endpoint, bucket and prefix), and after each
//!   write the manifest is read back: if the change is missing (another
//!   process overwrote it), it is applied again. That keeps every entry
//!   written by this process, but two processes or machines updating the
//!   same manifest at the same instant can still lose an entry (the backup
//!   file stays in the bucket and shows up as an orphan in a listing);
//!   a warning is logged when the fallback is chosen;
//! - no secret in errors, logs or `Debug` output: keys are [`Secret`]s, and
//!   every message from the server or the HTTP stack is scrubbed of both
//!   keys before an error keeps it.

use std::collections::HashMap;
use std::error::Error as StdError;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex, PoisonError};
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::StreamExt;
use object_store::aws::{AmazonS3, AmazonS3Builder, S3ConditionalPut};
use object_store::client::{HttpError, HttpErrorKind};
use object_store::path::Path as ObjectPath;
use object_store::{
    ClientOptions, GetOptions, MultipartUpload, ObjectStore, ObjectStoreExt, PutMode, PutOptions,
    PutPayload, RetryConfig, UpdateVersion,
};
use rand::Rng;
use serde::Serialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufWriter};
use tokio::task::JoinSet;

use super::manifest::{MANIFEST_FILE, Manifest, ManifestError};
use crate::secret::{Redactor, Secret};

/// Size of each part of a multipart upload (the last one is smaller).
pub const PART_SIZE: usize = 16 * 1024 * 1024;
/// Parts read or uploading at once; memory use is at most this many parts.
pub const PARTS_IN_FLIGHT: usize = 2;
/// Attempts of one manifest update before giving up on contention.
pub const MANIFEST_ATTEMPTS: u32 = 30;
/// S3's limit on the number of parts of one object.
const MAX_PARTS: u64 = 10_000;
const DEFAULT_REGION: &str = "us-east-1";
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest server message kept in an error.
const DETAIL_LIMIT: usize = 600;
/// Prefix of the scratch objects of the conditional-write probe.
const PROBE_PREFIX: &str = ".conditional-write-probe-";
/// How long a failed upload waits for its other parts before aborting.
const SETTLE_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
pub enum S3Error {
    #[error("invalid S3 destination: {0}")]
    Config(String),
    #[error(
        "`{name}` is not a valid object name ({reason}): use a relative name without empty, \
         `.` or `..` segments"
    )]
    InvalidName { name: String, reason: String },
    #[error(
        "bucket `{bucket}` does not exist at {endpoint}: check the bucket name in the URL, the \
         endpoint and the region, or create the bucket"
    )]
    BucketNotFound { bucket: String, endpoint: String },
    #[error("{location} does not exist")]
    NotFound { location: String },
    #[error(
        "{endpoint} denied access to {location} ({reason}): check that the access key id and \
         secret access key are right and that this key may {verb} objects in bucket `{bucket}`"
    )]
    AccessDenied {
        endpoint: String,
        location: String,
        reason: String,
        verb: &'static str,
        bucket: String,
    },
    #[error(
        "{endpoint} rejected the request signature (SignatureDoesNotMatch): the secret access \
         key is wrong, or `{region}` is not the bucket's region; check both"
    )]
    SignatureMismatch { endpoint: String, region: String },
    #[error(
        "{endpoint} does not know this access key id ({code}): check the access key id, and \
         that the endpoint belongs to the provider that issued the key"
    )]
    UnknownAccessKey { endpoint: String, code: String },
    #[error(
        "bucket `{bucket}` is not in region `{region}` ({detail}): set the bucket's region \
         (for AWS, leave the endpoint unset so it follows the region)"
    )]
    WrongRegion {
        bucket: String,
        region: String,
        detail: String,
    },
    #[error(
        "cannot reach the S3 endpoint {endpoint} ({detail}): check the endpoint URL and port, \
         the network, and that the server is running"
    )]
    Unreachable { endpoint: String, detail: String },
    #[error(
        "the connection to the S3 endpoint {endpoint} broke ({detail}): check the network and \
         the server, then retry"
    )]
    ConnectionLost { endpoint: String, detail: String },
    #[error(
        "the S3 endpoint {endpoint} did not answer in time ({detail}): check the network and \
         the server, then retry"
    )]
    Timeout { endpoint: String, detail: String },
    #[error("cannot {action} {path}: {source}")]
    Local {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{path} changed while it was being uploaded ({expected} bytes at the start, {actual} \
         read): upload a file that nothing writes to"
    )]
    FileChanged {
        path: PathBuf,
        expected: u64,
        actual: u64,
    },
    #[error("uploading `{name}` to {location} failed and nothing was stored: {cause}{cleanup}")]
    UploadFailed {
        name: String,
        location: String,
        cause: Box<S3Error>,
        /// Empty, or what could not be cleaned up and how to do it.
        cleanup: String,
    },
    #[error(
        "the download of {location} ended after {received} of {expected} bytes and no file was \
         written: retry the download"
    )]
    Truncated {
        location: String,
        received: u64,
        expected: u64,
    },
    #[error("{0}")]
    Manifest(#[from] ManifestError),
    #[error(
        "the manifest {location} changed under this update {attempts} times in a row: too many \
         writers at once; retry later"
    )]
    ManifestContention { location: String, attempts: u32 },
    #[error("S3 {verb} of {location} failed: {detail}")]
    Request {
        verb: &'static str,
        location: String,
        detail: String,
    },
}

impl S3Error {
    /// The underlying error of an [`S3Error::UploadFailed`]; `self` otherwise.
    pub fn root_cause(&self) -> &S3Error {
        match self {
            S3Error::UploadFailed { cause, .. } => cause.root_cause(),
            other => other,
        }
    }
}

/// Where backups go: an S3 bucket and a prefix inside it, the server and
/// the keys. `Debug` never shows the keys.
#[derive(Debug, Clone)]
pub struct S3Config {
    /// `s3://bucket` or `s3://bucket/prefix/inside`.
    pub url: String,
    /// The server's URL, e.g. `https://s3.us-west-004.backblazeb2.com`,
    /// `http://127.0.0.1:9000` (MinIO) or
    /// `https://<project-ref>.supabase.co/storage/v1/s3`; `None` for AWS.
    pub endpoint: Option<String>,
    /// The bucket's region; `us-east-1` when unset.
    pub region: Option<String>,
    pub access_key_id: Secret,
    pub secret_access_key: Secret,
    /// Allows an `http://` endpoint (backups then cross the network
    /// unencrypted unless they are encrypted themselves).
    pub allow_http: bool,
    /// Path-style requests (`endpoint/bucket/key`) instead of
    /// virtual-hosted ones (`bucket.endpoint/key`). MinIO, Supabase Storage
    /// and most self-hosted servers need it; it is implied when the
    /// endpoint's host is an IP address or `localhost`.
    pub force_path_style: bool,
    /// Retries of one request after a connection error, a timeout or a 5xx
    /// answer, with exponential backoff.
    pub max_retries: usize,
    /// Time limit of one request other than a download: one part of an
    /// upload, a listing, a manifest read or write.
    pub request_timeout: Duration,
    /// A download fails (after its retries) when no byte arrived for this
    /// long; its total time is not limited.
    pub stall_timeout: Duration,
}

impl Default for S3Config {
    fn default() -> Self {
        Self {
            url: String::new(),
            endpoint: None,
            region: None,
            access_key_id: Secret::default(),
            secret_access_key: Secret::default(),
            allow_http: false,
            force_path_style: false,
            max_retries: 5,
            request_timeout: Duration::from_secs(10 * 60),
            stall_timeout: Duration::from_secs(2 * 60),
        }
    }
}

/// An object under the destination's prefix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ObjectInfo {
    /// The name relative to the prefix (as given to [`S3Destination::upload_file`]).
    pub name: String,
    pub size: u64,
    pub last_modified: DateTime<Utc>,
    /// The server's entity tag; a multipart object's ends in `-<parts>` on most servers.
    pub e_tag: Option<String>,
}

/// The version of the manifest object that was read, for a conditional write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectVersion {
    pub e_tag: Option<String>,
    pub version: Option<String>,
}

/// What a request was doing, for error messages.
#[derive(Debug, Clone, Copy)]
enum Op {
    List,
    Read,
    Write,
    Delete,
}

impl Op {
    fn verb(self) -> &'static str {
        match self {
            Op::List => "list",
            Op::Read => "read",
            Op::Write => "write",
            Op::Delete => "delete",
        }
    }
}

/// A bucket and prefix on an S3-compatible server.
pub struct S3Destination {
    store: AmazonS3,
    /// The same, without a limit on a request's total time, for downloads.
    download_store: AmazonS3,
    bucket: String,
    /// `None` for the bucket's root.
    prefix: Option<ObjectPath>,
    /// The endpoint as configured (or AWS's for the region), for messages.
    endpoint: String,
    region: String,
    redactor: Redactor,
    /// Whether the server enforces conditional writes, probed once.
    conditional: tokio::sync::OnceCell<bool>,
    /// Manifest writes that lost a race and were retried.
    conflicts: AtomicU64,
}

impl fmt::Debug for S3Destination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Destination")
            .field("url", &self.url())
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .finish_non_exhaustive()
    }
}

impl S3Destination {
    /// Checks the configuration and builds the client. Touches no network.
    pub fn new(config: &S3Config) -> Result<Self, S3Error> {
        let (bucket, prefix) = parse_url(&config.url)?;
        if config.access_key_id.is_empty() {
            return Err(S3Error::Config(
                "the access key id is empty: set the S3 access key id".into(),
            ));
        }
        if config.secret_access_key.is_empty() {
            return Err(S3Error::Config(
                "the secret access key is empty: set the S3 secret access key".into(),
            ));
        }
        let region = match config.region.as_deref().map(str::trim) {
            None | Some("") => DEFAULT_REGION.to_owned(),
            Some(r) if r.chars().any(|c| c.is_whitespace() || c == '/') => {
                return Err(S3Error::Config(format!(
                    "region `{r}` is not a region name (e.g. us-east-1)"
                )));
            }
            Some(r) => r.to_owned(),
        };
        let redactor = Redactor::new();
        redactor.add(&config.secret_access_key);
        redactor.add(&config.access_key_id);

        let (endpoint, virtual_hosted, display) = match &config.endpoint {
            None => (
                None,
                !config.force_path_style,
                format!("https://s3.{region}.amazonaws.com"),
            ),
            Some(e) => {
                let (endpoint, virtual_hosted) = endpoint_url(e, &bucket, config)?;
                (
                    Some(endpoint),
                    virtual_hosted,
                    e.trim().trim_end_matches('/').to_owned(),
                )
            }
        };
        let retry = RetryConfig {
            max_retries: config.max_retries,
            ..RetryConfig::default()
        };
        let build = |options: ClientOptions| {
            let mut builder = AmazonS3Builder::new()
                .with_bucket_name(&bucket)
                .with_region(&region)
                .with_access_key_id(config.access_key_id.expose())
                .with_secret_access_key(config.secret_access_key.expose())
                .with_client_options(options.with_allow_http(config.allow_http))
                .with_virtual_hosted_style_request(virtual_hosted)
                .with_retry(retry.clone())
                .with_conditional_put(S3ConditionalPut::ETagMatch);
            if let Some(endpoint) = &endpoint {
                builder = builder.with_endpoint(endpoint);
            }
            builder
                .build()
                .map_err(|e| S3Error::Config(redactor.scrub(&e.to_string())))
        };
        let store = build(
            ClientOptions::new()
                .with_timeout(config.request_timeout)
                .with_connect_timeout(CONNECT_TIMEOUT),
        )?;
        // A download may take hours: no limit on the whole request, only on
        // a stall.
        let download_store = build(
            ClientOptions::new()
                .with_timeout_disabled()
                .with_read_timeout(config.stall_timeout)
                .with_connect_timeout(CONNECT_TIMEOUT),
        )?;
        Ok(Self {
            store,
            download_store,
            bucket,
            prefix,
            endpoint: display,
            region,
            redactor,
            conditional: tokio::sync::OnceCell::new(),
            conflicts: AtomicU64::new(0),
        })
    }

    /// `s3://bucket/prefix`.
    pub fn url(&self) -> String {
        match &self.prefix {
            Some(p) => format!("s3://{}/{p}", self.bucket),
            None => format!("s3://{}", self.bucket),
        }
    }

    /// The endpoint requests go to (AWS's for the region when none was set).
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Manifest writes that found the manifest changed by another writer and
    /// were applied again.
    pub fn manifest_conflicts(&self) -> u64 {
        self.conflicts.load(Ordering::Relaxed)
    }

    /// Checks that the endpoint answers, the bucket exists and the keys may
    /// list it (one listing request).
    pub async fn check(&self) -> Result<(), S3Error> {
        let mut objects = self.store.list(self.prefix.as_ref());
        match objects.next().await {
            Some(Err(e)) => Err(self.error(Op::List, None, e)),
            _ => Ok(()),
        }
    }

    /// Uploads `local` as `name` (relative to the prefix), streaming it in
    /// parts. `progress` gets the bytes stored so far after each part.
    /// Returns the bytes uploaded. On failure nothing is stored.
    pub async fn upload_file(
        &self,
        local: &Path,
        name: &str,
        progress: impl Fn(u64),
    ) -> Result<u64, S3Error> {
        let path = self.object_path(name)?;
        let local_err = |action| {
            let path = local.to_path_buf();
            move |source| S3Error::Local {
                action,
                path,
                source,
            }
        };
        let mut file = tokio::fs::File::open(local)
            .await
            .map_err(local_err("open the file to upload"))?;
        let len = file
            .metadata()
            .await
            .map_err(local_err("read the size of"))?
            .len();
        let part_size = part_size_for(len);
        let failed = |cause: S3Error, cleanup: String| S3Error::UploadFailed {
            name: name.to_owned(),
            location: self.location(name),
            cause: Box::new(cause),
            cleanup,
        };

        if len <= part_size as u64 {
            // One request; S3 stores a PUT atomically.
            let data = read_up_to(&mut file, local, part_size + 1, len as usize + 1).await?;
            if data.len() as u64 != len {
                return Err(failed(
                    S3Error::FileChanged {
                        path: local.to_path_buf(),
                        expected: len,
                        actual: data.len() as u64,
                    },
                    String::new(),
                ));
            }
            self.store
                .put_opts(&path, PutPayload::from(data), PutOptions::default())
                .await
                .map_err(|e| failed(self.error(Op::Write, Some(name), e), String::new()))?;
            progress(len);
            return Ok(len);
        }

        let upload = self
            .store
            .put_multipart(&path)
            .await
            .map_err(|e| failed(self.error(Op::Write, Some(name), e), String::new()))?;
        let mut pending = PendingUpload(Some(upload));
        let result = match pending.0.as_mut() {
            Some(upload) => {
                match self
                    .send_parts(
                        &mut file,
                        local,
                        len,
                        part_size,
                        upload.as_mut(),
                        name,
                        &progress,
                    )
                    .await
                {
                    Ok(()) => upload
                        .complete()
                        .await
                        .map(|_| ())
                        .map_err(|e| self.error(Op::Write, Some(name), e)),
                    Err(e) => Err(e),
                }
            }
            None => Ok(()),
        };
        let Some(mut upload) = pending.0.take() else {
            return Ok(len);
        };
        match result {
            Ok(()) => Ok(len),
            Err(cause) => {
                let cleanup = match upload.abort().await {
                    Ok(()) => String::new(),
                    Err(e) => format!(
                        "; removing the parts already uploaded failed too ({}): they are not \
                         visible as an object but use storage until removed; a lifecycle rule \
                         on the bucket that aborts incomplete multipart uploads removes them",
                        self.error(Op::Delete, Some(name), e)
                    ),
                };
                Err(failed(cause, cleanup))
            }
        }
    }

    /// Reads `file` part by part and uploads the parts, at most
    /// [`PARTS_IN_FLIGHT`] at a time, until the end of the file. On failure
    /// the parts still uploading are given [`SETTLE_TIMEOUT`] to finish, so
    /// the server is not writing one of them while the upload is aborted.
    #[allow(clippy::too_many_arguments)]
    async fn send_parts(
        &self,
        file: &mut tokio::fs::File,
        local: &Path,
        len: u64,
        part_size: usize,
        upload: &mut dyn MultipartUpload,
        name: &str,
        progress: &impl Fn(u64),
    ) -> Result<(), S3Error> {
        let mut tasks: JoinSet<Result<u64, object_store::Error>> = JoinSet::new();
        let result = self
            .send_parts_with(
                &mut tasks, file, local, len, part_size, upload, name, progress,
            )
            .await;
        if result.is_err() {
            let settle = async { while tasks.join_next().await.is_some() {} };
            let _ = tokio::time::timeout(SETTLE_TIMEOUT, settle).await;
        }
        result
    }

    #[allow(clippy::too_many_arguments)]
    async fn send_parts_with(
        &self,
        tasks: &mut JoinSet<Result<u64, object_store::Error>>,
        file: &mut tokio::fs::File,
        local: &Path,
        len: u64,
        part_size: usize,
        upload: &mut dyn MultipartUpload,
        name: &str,
        progress: &impl Fn(u64),
    ) -> Result<(), S3Error> {
        let mut read = 0u64;
        let mut stored = 0u64;
        loop {
            // Wait for a free slot before reading, so at most
            // PARTS_IN_FLIGHT parts are in memory.
            while tasks.len() >= PARTS_IN_FLIGHT {
                stored += self.join_part(tasks, name).await?;
                progress(stored);
            }
            let data = read_up_to(file, local, part_size, part_size).await?;
            let n = data.len() as u64;
            read += n;
            if read > len {
                break;
            }
            if n > 0 {
                let part = upload.put_part(PutPayload::from(data));
                tasks.spawn(async move { part.await.map(|()| n) });
            }
            if n < part_size as u64 {
                break;
            }
        }
        if read != len {
            return Err(S3Error::FileChanged {
                path: local.to_path_buf(),
                expected: len,
                actual: read,
            });
        }
        while !tasks.is_empty() {
            stored += self.join_part(tasks, name).await?;
            progress(stored);
        }
        Ok(())
    }

    async fn join_part(
        &self,
        tasks: &mut JoinSet<Result<u64, object_store::Error>>,
        name: &str,
    ) -> Result<u64, S3Error> {
        match tasks.join_next().await {
            Some(Ok(Ok(n))) => Ok(n),
            Some(Ok(Err(e))) => Err(self.error(Op::Write, Some(name), e)),
            Some(Err(e)) => Err(S3Error::Request {
                verb: Op::Write.verb(),
                location: self.location(name),
                detail: format!("the part upload task failed: {e}"),
            }),
            None => Ok(0),
        }
    }

    /// Downloads `name` to `local`, streaming it through a temporary file
    /// in the same directory that replaces `local` only when complete.
    /// Returns the bytes written.
    pub async fn download_file(&self, name: &str, local: &Path) -> Result<u64, S3Error> {
        let path = self.object_path(name)?;
        let Some(file_name) = local.file_name() else {
            return Err(S3Error::Local {
                action: "download to",
                path: local.to_path_buf(),
                source: std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    "the target must be a file path",
                ),
            });
        };
        let dir = match local.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let result = self
            .download_store
            .get_opts(&path, GetOptions::default())
            .await
            .map_err(|e| self.error(Op::Read, Some(name), e))?;
        let expected = result.range.end.saturating_sub(result.range.start);
        let mut random = [0u8; 6];
        rand::rng().fill(&mut random);
        let temp = dir.join(format!(
            ".{}.{}.partial",
            file_name.to_string_lossy(),
            hex::encode(random)
        ));
        let local_err = |action, path: &Path| {
            let path = path.to_path_buf();
            move |source| S3Error::Local {
                action,
                path,
                source,
            }
        };
        let file = tokio::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temp)
            .await
            .map_err(local_err("create the download file", &temp))?;
        let guard = TempFile(Some(temp.clone()));
        let mut out = BufWriter::with_capacity(1 << 20, file);
        let mut stream = result.into_stream();
        let mut received = 0u64;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| self.error(Op::Read, Some(name), e))?;
            out.write_all(&chunk)
                .await
                .map_err(local_err("write the download file", &temp))?;
            received += chunk.len() as u64;
        }
        out.flush()
            .await
            .map_err(local_err("write the download file", &temp))?;
        let file = out.into_inner();
        file.sync_all()
            .await
            .map_err(local_err("flush the download file", &temp))?;
        drop(file);
        if received != expected {
            return Err(S3Error::Truncated {
                location: self.location(name),
                received,
                expected,
            });
        }
        tokio::fs::rename(&temp, local)
            .await
            .map_err(local_err("move the download into place at", local))?;
        guard.disarm();
        sync_dir(&dir).await?;
        Ok(received)
    }

    /// Deletes `name`. Deleting an object that does not exist is not an
    /// error (as in S3 itself).
    pub async fn delete(&self, name: &str) -> Result<(), S3Error> {
        let path = self.object_path(name)?;
        match self.store.delete(&path).await {
            Ok(()) => Ok(()),
            Err(e) => match self.error(Op::Delete, Some(name), e) {
                S3Error::NotFound { .. } => Ok(()),
                other => Err(other),
            },
        }
    }

    /// Every object under the prefix (at any depth), sorted by name.
    pub async fn list(&self) -> Result<Vec<ObjectInfo>, S3Error> {
        let mut objects = self.store.list(self.prefix.as_ref());
        let mut out = Vec::new();
        while let Some(meta) = objects.next().await {
            let meta = meta.map_err(|e| self.error(Op::List, None, e))?;
            out.push(ObjectInfo {
                name: self.relative_name(&meta.location),
                size: meta.size,
                last_modified: meta.last_modified,
                e_tag: meta.e_tag,
            });
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// The size of `name` in bytes.
    pub async fn size(&self, name: &str) -> Result<u64, S3Error> {
        let path = self.object_path(name)?;
        match self.store.head(&path).await {
            Ok(meta) => Ok(meta.size),
            Err(e) => {
                let err = self.error(Op::Read, Some(name), e);
                Err(self.refine_bodiless(err).await)
            }
        }
    }

    /// Reads the manifest. A missing manifest is an empty one (and no
    /// version); a corrupted one is an error.
    pub async fn load_manifest(&self) -> Result<(Manifest, Option<ObjectVersion>), S3Error> {
        let path = self.object_path(MANIFEST_FILE)?;
        let result = match self.store.get_opts(&path, GetOptions::default()).await {
            Ok(r) => r,
            Err(e) => {
                return match self.error(Op::Read, Some(MANIFEST_FILE), e) {
                    S3Error::NotFound { .. } => Ok((Manifest::default(), None)),
                    other => Err(other),
                };
            }
        };
        let version = ObjectVersion {
            e_tag: result.meta.e_tag.clone(),
            version: result.meta.version.clone(),
        };
        let bytes = result
            .bytes()
            .await
            .map_err(|e| self.error(Op::Read, Some(MANIFEST_FILE), e))?;
        let origin = PathBuf::from(self.location(MANIFEST_FILE));
        let manifest = Manifest::from_json(&bytes, &origin)?;
        Ok((manifest, Some(version)))
    }

    /// Read-modify-write of the manifest: loads it, runs `change`, and
    /// writes it back when `change` returned `Ok` and changed something.
    /// The write is conditional on the manifest being unchanged since it was
    /// read; when another writer changed it, `change` runs again on the new
    /// manifest. See the module documentation for servers without
    /// conditional writes.
    pub async fn update_manifest<T>(
        &self,
        mut change: impl FnMut(&mut Manifest) -> Result<T, ManifestError>,
    ) -> Result<T, S3Error> {
        if self.supports_conditional_writes().await? {
            self.update_conditional(&mut change).await
        } else {
            self.update_fallback(&mut change).await
        }
    }

    /// Whether the server enforces `If-Match` and `If-None-Match` on PUT
    /// (probed once on a scratch object, then remembered).
    pub async fn supports_conditional_writes(&self) -> Result<bool, S3Error> {
        self.conditional
            .get_or_try_init(|| self.probe_conditional_writes())
            .await
            .copied()
    }

    async fn update_conditional<T>(
        &self,
        change: &mut impl FnMut(&mut Manifest) -> Result<T, ManifestError>,
    ) -> Result<T, S3Error> {
        let path = self.object_path(MANIFEST_FILE)?;
        for attempt in 1..=MANIFEST_ATTEMPTS {
            let (before, version) = self.load_manifest().await?;
            let mut after = before.clone();
            let out = change(&mut after)?;
            if after == before {
                return Ok(out);
            }
            let mode = match version {
                None => PutMode::Create,
                Some(ObjectVersion {
                    e_tag: Some(e_tag),
                    version,
                }) => PutMode::Update(UpdateVersion {
                    e_tag: Some(e_tag),
                    version,
                }),
                // No e-tag to condition on: the server is not fit for it.
                Some(ObjectVersion { e_tag: None, .. }) => {
                    return self.update_fallback(change).await;
                }
            };
            let payload = PutPayload::from(after.to_json()?);
            match self.store.put_opts(&path, payload, mode.into()).await {
                Ok(_) => return Ok(out),
                Err(
                    object_store::Error::Precondition { .. }
                    | object_store::Error::AlreadyExists { .. },
                ) => {
                    self.conflicts.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(backoff(attempt)).await;
                }
                Err(e) => return Err(self.error(Op::Write, Some(MANIFEST_FILE), e)),
            }
        }
        Err(S3Error::ManifestContention {
            location: self.location(MANIFEST_FILE),
            attempts: MANIFEST_ATTEMPTS,
        })
    }

    /// The fallback without conditional writes: serialized in this process,
    /// verified by reading back.
    async fn update_fallback<T>(
        &self,
        change: &mut impl FnMut(&mut Manifest) -> Result<T, ManifestError>,
    ) -> Result<T, S3Error> {
        let lock = process_lock(&format!("{}|{}", self.endpoint, self.url()));
        let _held = lock.lock().await;
        let path = self.object_path(MANIFEST_FILE)?;
        for attempt in 1..=MANIFEST_ATTEMPTS {
            let (before, _) = self.load_manifest().await?;
            let mut after = before.clone();
            let out = change(&mut after)?;
            if after == before {
                return Ok(out);
            }
            let payload = PutPayload::from(after.to_json()?);
            self.store
                .put_opts(&path, payload, PutOptions::default())
                .await
                .map_err(|e| self.error(Op::Write, Some(MANIFEST_FILE), e))?;
            let (stored, _) = self.load_manifest().await?;
            if change_is_in(&before, &after, &stored) {
                return Ok(out);
            }
            self.conflicts.fetch_add(1, Ordering::Relaxed);
            tokio::time::sleep(backoff(attempt)).await;
        }
        Err(S3Error::ManifestContention {
            location: self.location(MANIFEST_FILE),
            attempts: MANIFEST_ATTEMPTS,
        })
    }

    /// Creates a scratch object twice with `If-None-Match: *` and
    /// overwrites it with a wrong `If-Match`: a server that enforces both
    /// refuses the second and third write.
    async fn probe_conditional_writes(&self) -> Result<bool, S3Error> {
        let mut random = [0u8; 8];
        rand::rng().fill(&mut random);
        let name = format!("{PROBE_PREFIX}{}", hex::encode(random));
        let path = self.object_path(&name)?;
        let put = |mode: PutMode| {
            self.store
                .put_opts(&path, PutPayload::from_static(b"probe\n"), mode.into())
        };
        let verdict = async {
            let created = match put(PutMode::Create).await {
                Ok(r) => r,
                Err(e) if refuses_conditions(&e) => return Ok(false),
                Err(e) => return Err(self.error(Op::Write, Some(&name), e)),
            };
            if created.e_tag.is_none() {
                return Ok(false);
            }
            match put(PutMode::Create).await {
                Err(object_store::Error::AlreadyExists { .. }) => {}
                Ok(_) => return Ok(false),
                Err(e) if refuses_conditions(&e) => return Ok(false),
                Err(e) => return Err(self.error(Op::Write, Some(&name), e)),
            }
            let stale = UpdateVersion {
                e_tag: Some("\"00000000000000000000000000000000\"".into()),
                version: None,
            };
            match put(PutMode::Update(stale)).await {
                Err(object_store::Error::Precondition { .. }) => Ok(true),
                Ok(_) => Ok(false),
                Err(e) if refuses_conditions(&e) => Ok(false),
                Err(e) => Err(self.error(Op::Write, Some(&name), e)),
            }
        }
        .await;
        if let Err(e) = self.store.delete(&path).await {
            tracing::warn!(
                "could not delete the scratch object {}: {}",
                self.location(&name),
                self.error(Op::Delete, Some(&name), e)
            );
        }
        if let Ok(false) = verdict {
            tracing::warn!(
                "the S3 server at {} does not enforce conditional writes: manifest updates to {} \
                 are serialized in this process only, and two processes updating it at the same \
                 moment can lose an entry",
                self.endpoint,
                self.url()
            );
        }
        verdict
    }

    /// A code-less 404 or 403 (a HEAD answer has no body) made precise by a
    /// listing, whose answer names the problem.
    async fn refine_bodiless(&self, err: S3Error) -> S3Error {
        let vague = matches!(err, S3Error::NotFound { .. })
            || matches!(&err, S3Error::AccessDenied { reason, .. } if reason.starts_with("HTTP"));
        if !vague {
            return err;
        }
        match self.check().await {
            Err(
                e @ (S3Error::BucketNotFound { .. }
                | S3Error::SignatureMismatch { .. }
                | S3Error::UnknownAccessKey { .. }
                | S3Error::WrongRegion { .. }),
            ) => e,
            _ => err,
        }
    }

    fn object_path(&self, name: &str) -> Result<ObjectPath, S3Error> {
        let invalid = |reason: &str| S3Error::InvalidName {
            name: name.to_owned(),
            reason: reason.to_owned(),
        };
        if name.is_empty() {
            return Err(invalid("it is empty"));
        }
        if name.starts_with('/') || name.ends_with('/') {
            return Err(invalid("it starts or ends with `/`"));
        }
        let full = match &self.prefix {
            Some(p) => format!("{p}/{name}"),
            None => name.to_owned(),
        };
        ObjectPath::parse(&full).map_err(|e| invalid(&e.to_string()))
    }

    fn relative_name(&self, location: &ObjectPath) -> String {
        let full = location.as_ref();
        match &self.prefix {
            Some(p) => full
                .strip_prefix(p.as_ref())
                .and_then(|rest| rest.strip_prefix('/'))
                .unwrap_or(full)
                .to_owned(),
            None => full.to_owned(),
        }
    }

    /// `s3://bucket/prefix/name` (or the destination's URL).
    fn location(&self, name: &str) -> String {
        format!("{}/{name}", self.url())
    }

    /// Turns an `object_store` error into one that says what to do, with
    /// both keys scrubbed from every message kept.
    fn error(&self, op: Op, name: Option<&str>, e: object_store::Error) -> S3Error {
        let location = match name {
            Some(n) => self.location(n),
            None => self.url(),
        };
        let text = self.redactor.scrub(&e.to_string());
        let code = s3_code(&text);
        if let Some(kind) = http_error_kind(&e) {
            let detail = self.redactor.scrub(&root_message(&e));
            let endpoint = self.endpoint.clone();
            match kind {
                HttpErrorKind::Connect => return S3Error::Unreachable { endpoint, detail },
                HttpErrorKind::Timeout => return S3Error::Timeout { endpoint, detail },
                HttpErrorKind::Request | HttpErrorKind::Interrupted => {
                    return S3Error::ConnectionLost { endpoint, detail };
                }
                _ => {}
            }
        }
        let wrong_region = |detail: String| S3Error::WrongRegion {
            bucket: self.bucket.clone(),
            region: self.region.clone(),
            detail,
        };
        match code.as_deref() {
            Some("NoSuchBucket") => {
                return S3Error::BucketNotFound {
                    bucket: self.bucket.clone(),
                    endpoint: self.endpoint.clone(),
                };
            }
            Some("NoSuchKey") => return S3Error::NotFound { location },
            Some("SignatureDoesNotMatch") => {
                return S3Error::SignatureMismatch {
                    endpoint: self.endpoint.clone(),
                    region: self.region.clone(),
                };
            }
            Some(c @ ("InvalidAccessKeyId" | "InvalidKeyId" | "NotSignedUp" | "InvalidToken")) => {
                return S3Error::UnknownAccessKey {
                    endpoint: self.endpoint.clone(),
                    code: c.to_owned(),
                };
            }
            Some(
                c @ ("AuthorizationHeaderMalformed"
                | "PermanentRedirect"
                | "IllegalLocationConstraintException"),
            ) => return wrong_region(c.to_owned()),
            Some(c @ ("AccessDenied" | "AllAccessDisabled" | "AccountProblem" | "Forbidden")) => {
                return S3Error::AccessDenied {
                    endpoint: self.endpoint.clone(),
                    location,
                    reason: c.to_owned(),
                    verb: op.verb(),
                    bucket: self.bucket.clone(),
                };
            }
            _ => {}
        }
        if text.contains("incorrectly configured region") {
            return wrong_region("the server redirected the request".into());
        }
        match e {
            object_store::Error::NotFound { .. } => S3Error::NotFound { location },
            object_store::Error::PermissionDenied { .. }
            | object_store::Error::Unauthenticated { .. } => S3Error::AccessDenied {
                endpoint: self.endpoint.clone(),
                location,
                reason: match &e {
                    object_store::Error::Unauthenticated { .. } => "HTTP 401".into(),
                    _ => "HTTP 403".into(),
                },
                verb: op.verb(),
                bucket: self.bucket.clone(),
            },
            _ => S3Error::Request {
                verb: op.verb(),
                location,
                detail: match (code, xml_field(&text, "Message")) {
                    (Some(code), Some(message)) => format!("{code}: {message}"),
                    (Some(code), None) => code,
                    _ => truncate(text, DETAIL_LIMIT),
                },
            },
        }
    }
}

/// Aborts a multipart upload that was neither completed nor aborted when
/// dropped (e.g. the upload future was cancelled).
struct PendingUpload(Option<Box<dyn MultipartUpload>>);

impl Drop for PendingUpload {
    fn drop(&mut self) {
        if let Some(mut upload) = self.0.take()
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            runtime.spawn(async move {
                let _ = upload.abort().await;
            });
        }
    }
}

/// Removes a temporary file when dropped, unless disarmed.
struct TempFile(Option<PathBuf>);

impl TempFile {
    fn disarm(mut self) {
        self.0 = None;
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if let Some(path) = self.0.take() {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// Bucket and prefix of an `s3://bucket/prefix` URL.
fn parse_url(url: &str) -> Result<(String, Option<ObjectPath>), S3Error> {
    let url = url.trim();
    let Some(rest) = url.strip_prefix("s3://") else {
        return Err(S3Error::Config(format!(
            "`{url}` is not an S3 URL: write it as s3://bucket or s3://bucket/prefix"
        )));
    };
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    let bucket_ok = (3..=63).contains(&bucket.len())
        && bucket
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'));
    if !bucket_ok {
        return Err(S3Error::Config(format!(
            "`{bucket}` in `{url}` is not a bucket name: 3 to 63 letters, digits, `.`, `-` or `_`"
        )));
    }
    let prefix = prefix.trim_matches('/');
    let prefix = if prefix.is_empty() {
        None
    } else {
        Some(ObjectPath::parse(prefix).map_err(|e| {
            S3Error::Config(format!(
                "the prefix `{prefix}` in `{url}` is not valid ({e}): use segments separated by \
                 single `/`, without `.` or `..`"
            ))
        })?)
    };
    Ok((bucket.to_owned(), prefix))
}

/// The endpoint to give `object_store` and whether requests are
/// virtual-hosted (the bucket in the host name).
fn endpoint_url(
    endpoint: &str,
    bucket: &str,
    config: &S3Config,
) -> Result<(String, bool), S3Error> {
    let endpoint = endpoint.trim();
    let bad = |why: &str| S3Error::Config(format!("endpoint `{endpoint}` {why}"));
    let parsed = url::Url::parse(endpoint).map_err(|e| {
        bad(&format!(
            "is not a URL ({e}): write it as https://host[:port]"
        ))
    })?;
    match parsed.scheme() {
        "https" => {}
        "http" if config.allow_http => {}
        "http" => {
            return Err(bad(
                "uses http: use https, or allow http explicitly (backups then cross the network \
                 unencrypted unless they are encrypted themselves)",
            ));
        }
        other => {
            return Err(bad(&format!(
                "has scheme `{other}`: use https:// or http://"
            )));
        }
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        // Not echoed: the user part may hold a key.
        return Err(S3Error::Config(
            "the endpoint URL contains a user name or password: give the keys as the access key \
             id and secret access key, not in the URL"
                .into(),
        ));
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(bad(
            "has a query or fragment: give only scheme, host, port and path",
        ));
    }
    let Some(host) = parsed.host() else {
        return Err(bad("has no host"));
    };
    let path_style = config.force_path_style
        || matches!(host, url::Host::Ipv4(_) | url::Host::Ipv6(_))
        || parsed.host_str() == Some("localhost");
    if path_style {
        return Ok((endpoint.trim_end_matches('/').to_owned(), false));
    }
    let mut virtual_hosted = parsed.clone();
    let host = format!("{bucket}.{host}");
    virtual_hosted
        .set_host(Some(&host))
        .map_err(|e| bad(&format!("cannot take the bucket as a subdomain ({e})")))?;
    Ok((
        virtual_hosted.as_str().trim_end_matches('/').to_owned(),
        true,
    ))
}

/// The part size for a file of `len` bytes: [`PART_SIZE`], or larger (in
/// whole MiB) to stay within S3's 10,000 parts.
fn part_size_for(len: u64) -> usize {
    const MIB: u64 = 1024 * 1024;
    let needed = len.div_ceil(MAX_PARTS).div_ceil(MIB) * MIB;
    usize::try_from(needed.max(PART_SIZE as u64)).unwrap_or(usize::MAX)
}

/// Reads until `limit` bytes or the end of the file.
async fn read_up_to(
    file: &mut tokio::fs::File,
    path: &Path,
    limit: usize,
    capacity: usize,
) -> Result<Vec<u8>, S3Error> {
    let mut buf = Vec::with_capacity(capacity.min(limit));
    (&mut *file)
        .take(limit as u64)
        .read_to_end(&mut buf)
        .await
        .map_err(|source| S3Error::Local {
            action: "read the file to upload",
            path: path.to_path_buf(),
            source,
        })?;
    Ok(buf)
}

async fn sync_dir(dir: &Path) -> Result<(), S3Error> {
    #[cfg(unix)]
    {
        let io = |source| S3Error::Local {
            action: "flush the directory",
            path: dir.to_path_buf(),
            source,
        };
        tokio::fs::File::open(dir)
            .await
            .map_err(io)?
            .sync_all()
            .await
            .map_err(io)?;
    }
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// Jittered backoff before the next attempt of a manifest update.
fn backoff(attempt: u32) -> Duration {
    let cap = (20 * u64::from(attempt)).min(500);
    Duration::from_millis(rand::rng().random_range(5..=cap.max(5)))
}

/// Whether `stored` holds what `change` did to `before` (giving `after`):
/// the entries it added or modified, and none of those it removed.
fn change_is_in(before: &Manifest, after: &Manifest, stored: &Manifest) -> bool {
    let find = |m: &Manifest, id: &str| m.entries.iter().position(|e| e.id == id);
    let written = after.entries.iter().all(|e| {
        let unchanged = find(before, &e.id).is_some_and(|i| before.entries[i] == *e);
        unchanged || find(stored, &e.id).is_some_and(|i| stored.entries[i] == *e)
    });
    let removed = before
        .entries
        .iter()
        .filter(|e| find(after, &e.id).is_none())
        .all(|e| find(stored, &e.id).is_none());
    written && removed && (after.extra == before.extra || stored.extra == after.extra)
}

static FALLBACK_LOCKS: LazyLock<Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>> =
    LazyLock::new(Default::default);

/// The in-process lock of one manifest, for the fallback.
fn process_lock(key: &str) -> Arc<tokio::sync::Mutex<()>> {
    let mut locks = FALLBACK_LOCKS
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    Arc::clone(locks.entry(key.to_owned()).or_default())
}

/// Whether the server answered a conditional PUT by refusing the condition
/// headers themselves (rather than the request).
fn refuses_conditions(e: &object_store::Error) -> bool {
    if matches!(e, object_store::Error::NotImplemented { .. }) {
        return true;
    }
    let text = e.to_string();
    text.contains("501 Not Implemented")
        || matches!(
            s3_code(&text).as_deref(),
            Some("NotImplemented" | "InvalidArgument" | "InvalidRequest")
        )
}

/// The `<Code>` of an S3 XML error body inside an error message.
fn s3_code(text: &str) -> Option<String> {
    xml_field(text, "Code")
}

/// The text of the first `<tag>…</tag>` in `text`, truncated.
fn xml_field(text: &str, tag: &str) -> Option<String> {
    let open = format!("<{tag}>");
    let start = text.find(&open)? + open.len();
    let len = text[start..].find(&format!("</{tag}>"))?;
    let value = text[start..start + len].trim();
    (!value.is_empty()).then(|| truncate(value.to_owned(), DETAIL_LIMIT))
}

/// The kind of the transport error behind `e`, if any.
fn http_error_kind(e: &object_store::Error) -> Option<HttpErrorKind> {
    let mut current: Option<&(dyn StdError + 'static)> = Some(e);
    while let Some(err) = current {
        if let Some(http) = err.downcast_ref::<HttpError>() {
            return Some(http.kind());
        }
        current = err.source();
    }
    None
}

/// The innermost cause's message (e.g. `Connection refused (os error 111)`).
fn root_message(e: &(dyn StdError + 'static)) -> String {
    let mut current = e;
    while let Some(next) = current.source() {
        current = next;
    }
    truncate(current.to_string(), DETAIL_LIMIT)
}

fn truncate(mut text: String, limit: usize) -> String {
    if text.len() > limit {
        let mut end = limit;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        text.push('…');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(url: &str) -> S3Config {
        S3Config {
            url: url.into(),
            access_key_id: "AKIAEXAMPLEKEY".into(),
            secret_access_key: "very-secret-value-123".into(),
            ..S3Config::default()
        }
    }

    #[test]
    fn urls_parse_into_bucket_and_prefix() {
        let (b, p) = parse_url("s3://my-bucket").unwrap();
        assert_eq!((b.as_str(), p), ("my-bucket", None));
        let (b, p) = parse_url("s3://my-bucket/a/b/").unwrap();
        assert_eq!(b, "my-bucket");
        assert_eq!(p.unwrap().as_ref(), "a/b");
        for bad in [
            "my-bucket",
            "https://x/y",
            "s3://",
            "s3://ab",
            "s3://bad bucket/x",
        ] {
            assert!(matches!(parse_url(bad), Err(S3Error::Config(_))), "{bad}");
        }
        assert!(parse_url("s3://bucket/a//b").is_err());
        assert!(parse_url("s3://bucket/a/../b").is_err());
    }

    #[test]
    fn endpoints_choose_the_request_style() {
        let mut c = config("s3://bkt");
        c.allow_http = true;
        let (e, v) = endpoint_url("http://127.0.0.1:9000/", "bkt", &c).unwrap();
        assert_eq!((e.as_str(), v), ("http://127.0.0.1:9000", false));
        let (e, v) = endpoint_url("https://s3.eu.example.com", "bkt", &c).unwrap();
        assert_eq!((e.as_str(), v), ("https://bkt.s3.eu.example.com", true));
        c.force_path_style = true;
        let (e, v) = endpoint_url("https://ref.supabase.co/storage/v1/s3", "bkt", &c).unwrap();
        assert_eq!(
            (e.as_str(), v),
            ("https://ref.supabase.co/storage/v1/s3", false)
        );
        c.allow_http = false;
        let err = endpoint_url("http://minio:9000", "bkt", &c).unwrap_err();
        assert!(err.to_string().contains("allow http"), "{err}");
        let err = endpoint_url("https://user:hunter22@host", "bkt", &c).unwrap_err();
        assert!(!err.to_string().contains("hunter22"), "{err}");
    }

    #[test]
    fn new_refuses_missing_keys_and_hides_them_in_debug() {
        let mut c = config("s3://bucket/p");
        c.secret_access_key = Secret::default();
        assert!(matches!(S3Destination::new(&c), Err(S3Error::Config(_))));
        let c = config("s3://bucket/p");
        let d = S3Destination::new(&c).unwrap();
        let shown = format!("{d:?} {c:?}");
        assert!(!shown.contains("very-secret-value-123"), "{shown}");
        assert!(!shown.contains("AKIAEXAMPLEKEY"), "{shown}");
        assert_eq!(d.url(), "s3://bucket/p");
        assert_eq!(d.endpoint(), "https://s3.us-east-1.amazonaws.com");
    }

    #[test]
    fn object_names_are_checked_and_prefixed() {
        let d = S3Destination::new(&config("s3://bucket/backups")).unwrap();
        assert_eq!(d.object_path("a.dump").unwrap().as_ref(), "backups/a.dump");
        for bad in ["", "/a", "a/", "a//b", "../a", "a/./b"] {
            assert!(
                matches!(d.object_path(bad), Err(S3Error::InvalidName { .. })),
                "{bad}"
            );
        }
        let loc = ObjectPath::parse("backups/x/y.dump").unwrap();
        assert_eq!(d.relative_name(&loc), "x/y.dump");
    }

    #[test]
    fn part_size_grows_only_past_ten_thousand_parts() {
        assert_eq!(part_size_for(0), PART_SIZE);
        assert_eq!(part_size_for(40 << 20), PART_SIZE);
        assert_eq!(part_size_for(10_000 * PART_SIZE as u64), PART_SIZE);
        let big = 10_000 * PART_SIZE as u64 + 1;
        assert_eq!(part_size_for(big), PART_SIZE + (1 << 20));
        assert!(big.div_ceil(part_size_for(big) as u64) <= MAX_PARTS);
    }

    #[test]
    fn s3_codes_are_found_in_messages() {
        let text = "Server returned non-2xx status code: 403 Forbidden: <?xml version=\"1.0\"?>\
                    <Error><Code>SignatureDoesNotMatch</Code><Message>x</Message></Error>";
        assert_eq!(s3_code(text).as_deref(), Some("SignatureDoesNotMatch"));
        assert_eq!(xml_field(text, "Message").as_deref(), Some("x"));
        assert_eq!(s3_code("no body"), None);
        assert_eq!(truncate("ééé".into(), 3), "é…");
    }
}
