//! The backup manifest: one JSON file (`manifest.json`) per destination
//! directory recording every backup stored there (what was dumped, how it
//! was stored, its size and SHA-256). This module owns the file format,
//! entry ids, atomic saves, the cross-process lock for read-modify-write
//! updates, look-ups by id or id prefix, filtered listing, and `check`, which
//! compares the manifest with the files in the directory.
//!
//! Rules kept here:
//! - a missing manifest is an empty one; a corrupted manifest is an error
//!   that names the file and how to recover, and is never replaced;
//! - a save writes a temporary file in the same directory, fsyncs it, renames
//!   it over `manifest.json` and fsyncs the directory, so readers see either
//!   the old or the new manifest, never a partial one;
//! - [`Manifest::update`] holds an exclusive lock on `.manifest.lock` (std's
//!   `File::lock`, i.e. `flock` on Unix) across load, change and save, so
//!   concurrent writers in one or several processes lose no entries. Advisory
//!   locks may not work on some network file systems;
//! - unknown fields are ignored on read and kept on write (`extra`), so an
//!   older binary updating a manifest written by a newer one drops nothing;
//!   `version` changes only when the format changes incompatibly;
//! - no key or passphrase is ever stored, only an optional fingerprint of a
//!   high-entropy key (see [`key_fingerprint`]).

use std::collections::{BTreeMap, HashSet};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Component, Path, PathBuf};

use chrono::{DateTime, Utc};
use rand::Rng;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// The manifest's file name inside a destination directory.
pub const MANIFEST_FILE: &str = "manifest.json";
/// The lock file taken by [`Manifest::update`]; created once, never removed
/// (removing a lock file while another process waits on it breaks the lock).
pub const LOCK_FILE: &str = ".manifest.lock";
/// The manifest format version this binary reads and writes.
pub const MANIFEST_VERSION: u32 = 1;
/// Prefix of the temporary files of an atomic save.
const TEMP_PREFIX: &str = ".manifest.json.tmp-";

#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("cannot {action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "the backup manifest {path} is corrupted ({reason}); it was left unchanged. \
         Restore it from a copy, or move it aside (e.g. rename it to manifest.json.corrupt) \
         so the next backup starts a new manifest: the backup files stay in place and \
         `check` lists them as orphans"
    )]
    Corrupt { path: PathBuf, reason: String },
    #[error(
        "the backup manifest {path} has format version {found}, this supabase-mcp reads \
         version {supported}: upgrade supabase-mcp to use this destination"
    )]
    UnsupportedVersion {
        path: PathBuf,
        found: u32,
        supported: u32,
    },
    #[error("cannot encode the manifest: {0}")]
    Encode(serde_json::Error),
    #[error("no backup with id or id prefix `{0}`")]
    NotFound(String),
    #[error("id prefix `{prefix}` matches {} backups ({}); give more characters", matches.len(), matches.join(", "))]
    Ambiguous {
        prefix: String,
        matches: Vec<String>,
    },
    #[error("a backup with id `{0}` is already in the manifest")]
    Duplicate(String),
    #[error("backup entry `{id}` is not valid: {reason}")]
    InvalidEntry { id: String, reason: String },
}

/// What a backup contains.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Kind {
    /// Schema and data of the whole database.
    Full,
    /// Schema only (`pg_dump --schema-only`).
    Schema,
    /// Data only (`pg_dump --data-only`).
    Data,
    /// Part of the database, by schema and table patterns.
    Subset(Subset),
    /// A physical base backup of the whole cluster (`pg_basebackup`, tar
    /// format), the starting point of a point-in-time recovery. Its WAL
    /// facts are in [`Entry::base_info`].
    Base,
}

/// The WAL facts of a [`Kind::Base`] backup, stored under the entry's
/// `base` key (read with [`Entry::base_info`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BaseInfo {
    /// `START WAL LOCATION` of `backup_label`, e.g. `0/2000028`.
    pub start_lsn: String,
    /// The WAL segment holding the start location, e.g. `000000010000000000000002`.
    pub start_wal_file: String,
    /// `START TIMELINE` of `backup_label`.
    pub timeline: u32,
    /// `START TIME` of `backup_label`, as written there (server time zone).
    pub start_time_text: String,
    /// When the backup started (UTC, from `backup_label` when it is in UTC,
    /// else the server's clock just before it).
    pub start_time: DateTime<Utc>,
    /// The end of the backup's WAL range (`End-LSN` of `backup_manifest`),
    /// where recovery becomes consistent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_lsn: Option<String>,
    /// The server's clock right after the backup finished: a recovery
    /// target must not be earlier.
    pub stop_time: DateTime<Utc>,
    /// The first and last WAL segments stored inside the backup (`-X fetch`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wal_included: Option<(String, String)>,
    /// `wal_segment_size` of the server, in bytes.
    pub wal_segment_size: u64,
    /// The container format of the stored stream (`tar`).
    pub format: String,
}

/// The selection of a [`Kind::Subset`] backup, as given to pg_dump.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subset {
    #[serde(default)]
    pub include_schemas: Vec<String>,
    #[serde(default)]
    pub exclude_schemas: Vec<String>,
    #[serde(default)]
    pub include_tables: Vec<String>,
    #[serde(default)]
    pub exclude_tables: Vec<String>,
}

/// pg_dump's output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DumpFormat {
    Custom,
    Plain,
}

/// An installed extension at backup time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Extension {
    pub name: String,
    pub version: String,
}

/// How the stored file is encrypted. Never holds a key or a passphrase.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "algorithm")]
pub enum Encryption {
    #[serde(rename = "none")]
    None,
    #[serde(rename = "aes-256-gcm")]
    Aes256Gcm {
        kdf: Kdf,
        /// [`key_fingerprint`] of a high-entropy key; absent for passphrases.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        key_fingerprint: Option<String>,
    },
}

/// Where the encryption key came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kdf {
    /// Derived from a passphrase with Argon2id (salt stored in the file).
    Argon2id,
    /// Read from a key file.
    Keyfile,
}

/// One backup in the manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// `YYYYMMDDTHHMMSSZ-xxxxxx`, see [`new_id`]; sorts by creation time.
    pub id: String,
    /// The configured instance name.
    pub instance: String,
    pub database: String,
    /// When the dump started, UTC.
    pub created_at: DateTime<Utc>,
    pub kind: Kind,
    pub format: DumpFormat,
    /// `server_version` of the dumped server, e.g. `17.4`.
    pub server_version: String,
    /// `pg_dump --version`, e.g. `17.4`.
    pub pg_dump_version: String,
    #[serde(default)]
    pub extensions: Vec<Extension>,
    /// Bytes pg_dump produced, before compression and encryption.
    pub raw_bytes: u64,
    /// Bytes of the stored file.
    pub stored_bytes: u64,
    /// SHA-256 of the stored file, lowercase hex.
    pub sha256: String,
    /// The stored file's name inside the destination directory (one plain
    /// path component: no directories, no `..`).
    pub file: String,
    /// Row counts at backup time, by `schema.table`.
    #[serde(default)]
    pub row_counts: BTreeMap<String, i64>,
    /// `zstd:3`, `gzip:6` or `none`.
    pub compression: String,
    pub encryption: Encryption,
    #[serde(default)]
    pub tags: Vec<String>,
    /// Whether the roles (`pg_dumpall --roles-only`) are included.
    #[serde(default)]
    pub includes_roles: bool,
    /// Fields written by a newer version, kept as they are.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The key of [`BaseInfo`] among an entry's fields.
const BASE_KEY: &str = "base";

impl Entry {
    /// The WAL facts of a base backup (`None` for other kinds, or when the
    /// stored value does not parse).
    pub fn base_info(&self) -> Option<BaseInfo> {
        let v = self.extra.get(BASE_KEY)?;
        serde_json::from_value(v.clone()).ok()
    }

    /// Stores the WAL facts of a base backup (the `base` field).
    pub fn set_base_info(&mut self, info: &BaseInfo) -> Result<(), ManifestError> {
        let v = serde_json::to_value(info).map_err(ManifestError::Encode)?;
        self.extra.insert(BASE_KEY.to_owned(), v);
        Ok(())
    }

    /// Checks what later code relies on: a safe id and file name, a
    /// well-formed digest and fingerprint.
    pub fn validate(&self) -> Result<(), ManifestError> {
        let invalid = |reason: String| ManifestError::InvalidEntry {
            id: self.id.clone(),
            reason,
        };
        if !is_valid_id(&self.id) {
            return Err(invalid(
                "the id must be 1 to 64 characters of A-Z, a-z, 0-9, `-` and `_`".into(),
            ));
        }
        if !is_plain_file_name(&self.file) {
            return Err(invalid(format!(
                "file `{}` must be a plain file name inside the destination directory",
                self.file
            )));
        }
        if self.file == MANIFEST_FILE || self.file == LOCK_FILE || is_temp_file_name(&self.file) {
            return Err(invalid(format!(
                "file `{}` is a reserved or temporary name",
                self.file
            )));
        }
        if !is_lower_hex(&self.sha256, 64) {
            return Err(invalid("sha256 must be 64 lowercase hex characters".into()));
        }
        if let Encryption::Aes256Gcm {
            key_fingerprint: Some(fp),
            ..
        } = &self.encryption
            && !(is_lower_hex(fp, fp.len()) && (16..=64).contains(&fp.len()))
        {
            return Err(invalid(
                "key_fingerprint must be 16 to 64 lowercase hex characters".into(),
            ));
        }
        Ok(())
    }
}

/// A filter for [`Manifest::list`]; `None` fields match everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    pub instance: Option<String>,
    pub database: Option<String>,
    /// Entries carrying this tag.
    pub tag: Option<String>,
    /// Created at or after this time.
    pub since: Option<DateTime<Utc>>,
    /// Created at or before this time.
    pub until: Option<DateTime<Utc>>,
}

impl Filter {
    pub fn matches(&self, e: &Entry) -> bool {
        self.instance.as_ref().is_none_or(|i| *i == e.instance)
            && self.database.as_ref().is_none_or(|d| *d == e.database)
            && self.tag.as_ref().is_none_or(|t| e.tags.contains(t))
            && self.since.is_none_or(|s| e.created_at >= s)
            && self.until.is_none_or(|u| e.created_at <= u)
    }
}

/// An entry whose stored file has another size than recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SizeMismatch {
    pub id: String,
    pub file: String,
    pub expected: u64,
    pub actual: u64,
}

/// An entry whose stored file is absent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Missing {
    pub id: String,
    pub file: String,
}

/// The result of [`Manifest::check`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CheckReport {
    /// Entries whose file is not in the directory.
    pub missing: Vec<Missing>,
    /// Regular files no entry references (the manifest, its lock file and
    /// temporary files excluded; see [`is_temp_file_name`]), sorted.
    pub orphans: Vec<String>,
    /// Entries whose file size differs from `stored_bytes`.
    pub size_mismatches: Vec<SizeMismatch>,
}

impl CheckReport {
    pub fn is_clean(&self) -> bool {
        self.missing.is_empty() && self.orphans.is_empty() && self.size_mismatches.is_empty()
    }
}

/// The manifest of one destination directory.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub version: u32,
    #[serde(default)]
    pub entries: Vec<Entry>,
    /// Fields written by a newer version, kept as they are.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Default for Manifest {
    fn default() -> Self {
        Self {
            version: MANIFEST_VERSION,
            entries: Vec::new(),
            extra: Map::new(),
        }
    }
}

impl Manifest {
    /// The manifest's path inside `dir`.
    pub fn path(dir: &Path) -> PathBuf {
        dir.join(MANIFEST_FILE)
    }

    /// Reads `dir/manifest.json`. A missing file is an empty manifest; an
    /// unreadable or corrupted one is an error (the file is left alone).
    pub fn load(dir: &Path) -> Result<Manifest, ManifestError> {
        let path = Self::path(dir);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Manifest::default()),
            Err(source) => {
                return Err(ManifestError::Io {
                    action: "read the backup manifest",
                    path,
                    source,
                });
            }
        };
        Self::parse(&bytes, &path)
    }

    fn parse(bytes: &[u8], path: &Path) -> Result<Manifest, ManifestError> {
        let corrupt = |reason: String| ManifestError::Corrupt {
            path: path.to_path_buf(),
            reason,
        };
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(corrupt("the file is empty".into()));
        }
        // Look at the version first so a newer format gets the right error
        // even when its entries no longer parse.
        let raw: Value = serde_json::from_slice(bytes).map_err(|e| corrupt(e.to_string()))?;
        let version = match raw.get("version") {
            Some(v) => v
                .as_u64()
                .and_then(|v| u32::try_from(v).ok())
                .ok_or_else(|| corrupt("`version` is not a positive integer".into()))?,
            None => return Err(corrupt("`version` is missing".into())),
        };
        if version > MANIFEST_VERSION {
            return Err(ManifestError::UnsupportedVersion {
                path: path.to_path_buf(),
                found: version,
                supported: MANIFEST_VERSION,
            });
        }
        if version == 0 {
            return Err(corrupt("`version` is 0".into()));
        }
        let manifest: Manifest = serde_json::from_value(raw).map_err(|e| corrupt(e.to_string()))?;
        let mut seen = HashSet::new();
        for e in &manifest.entries {
            if !seen.insert(e.id.as_str()) {
                return Err(corrupt(format!("backup id `{}` appears twice", e.id)));
            }
        }
        Ok(manifest)
    }

    /// The manifest's bytes exactly as [`Manifest::save`] writes them
    /// (pretty JSON and a final newline), for destinations that store the
    /// manifest elsewhere than in a local directory.
    pub fn to_json(&self) -> Result<Vec<u8>, ManifestError> {
        let mut json = serde_json::to_vec_pretty(self).map_err(ManifestError::Encode)?;
        json.push(b'\n');
        Ok(json)
    }

    /// Parses manifest bytes with the checks of [`Manifest::load`] (format
    /// version, duplicate ids). `origin` names where the bytes came from
    /// (a path or a URL) in errors.
    pub fn from_json(bytes: &[u8], origin: &Path) -> Result<Manifest, ManifestError> {
        Self::parse(bytes, origin)
    }

    /// Writes `dir/manifest.json` atomically: a temporary file in `dir`,
    /// fsync, rename over the manifest, fsync of `dir`. Does not lock: to
    /// change a manifest other writers may change too, use [`Manifest::update`].
    pub fn save(&self, dir: &Path) -> Result<(), ManifestError> {
        let mut json = serde_json::to_vec_pretty(self).map_err(ManifestError::Encode)?;
        json.push(b'\n');
        let mut suffix = [0u8; 8];
        rand::rng().fill(&mut suffix);
        let tmp = dir.join(format!("{TEMP_PREFIX}{}", hex::encode(suffix)));
        let result = write_and_rename(&tmp, &Self::path(dir), &json);
        if result.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        result?;
        sync_dir(dir)
    }

    /// Read-modify-write under an exclusive lock on `dir/.manifest.lock`:
    /// loads the manifest, runs `change`, and saves it when `change` returns
    /// `Ok` and changed something. Writers in this or other processes wait
    /// for each other, so none loses another's entries.
    pub fn update<T>(
        dir: &Path,
        change: impl FnOnce(&mut Manifest) -> Result<T, ManifestError>,
    ) -> Result<T, ManifestError> {
        let _lock = lock_dir(dir)?;
        let before = Self::load(dir)?;
        let mut manifest = before.clone();
        let out = change(&mut manifest)?;
        if manifest != before {
            manifest.save(dir)?;
        }
        Ok(out)
    }

    /// Adds `entry` to the manifest in `dir` under the lock.
    pub fn add_to(dir: &Path, entry: Entry) -> Result<(), ManifestError> {
        Self::update(dir, |m| m.add(entry))
    }

    /// Removes the entry with exactly this id from the manifest in `dir`
    /// under the lock, returning it. Does not delete the stored file.
    pub fn remove_from(dir: &Path, id: &str) -> Result<Entry, ManifestError> {
        Self::update(dir, |m| m.remove(id))
    }

    /// Adds an entry after validating it; ids must be unique.
    pub fn add(&mut self, entry: Entry) -> Result<(), ManifestError> {
        entry.validate()?;
        if self.entries.iter().any(|e| e.id == entry.id) {
            return Err(ManifestError::Duplicate(entry.id));
        }
        self.entries.push(entry);
        Ok(())
    }

    /// The entry with this exact id, else the one entry whose id starts with
    /// `id_or_prefix`. Several matches are an [`ManifestError::Ambiguous`]
    /// error listing them.
    pub fn get(&self, id_or_prefix: &str) -> Result<&Entry, ManifestError> {
        if id_or_prefix.is_empty() {
            return Err(ManifestError::NotFound(String::new()));
        }
        if let Some(e) = self.entries.iter().find(|e| e.id == id_or_prefix) {
            return Ok(e);
        }
        let matches: Vec<&Entry> = self
            .entries
            .iter()
            .filter(|e| e.id.starts_with(id_or_prefix))
            .collect();
        match matches.as_slice() {
            [] => Err(ManifestError::NotFound(id_or_prefix.to_string())),
            [one] => Ok(one),
            many => {
                let mut ids: Vec<String> = many.iter().map(|e| e.id.clone()).collect();
                ids.sort();
                Err(ManifestError::Ambiguous {
                    prefix: id_or_prefix.to_string(),
                    matches: ids,
                })
            }
        }
    }

    /// Removes the entry with exactly this id (no prefixes: resolve one with
    /// [`Manifest::get`] first) and returns it.
    pub fn remove(&mut self, id: &str) -> Result<Entry, ManifestError> {
        let pos = self
            .entries
            .iter()
            .position(|e| e.id == id)
            .ok_or_else(|| ManifestError::NotFound(id.to_string()))?;
        Ok(self.entries.remove(pos))
    }

    /// Entries matching `filter`, oldest first (ties by id).
    pub fn list(&self, filter: &Filter) -> Vec<&Entry> {
        let mut out: Vec<&Entry> = self.entries.iter().filter(|e| filter.matches(e)).collect();
        out.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        out
    }

    /// Loads the manifest of `dir` and compares it with the directory.
    pub fn check(dir: &Path) -> Result<CheckReport, ManifestError> {
        Self::load(dir)?.check_against(dir)
    }

    /// Compares this manifest with the files in `dir`: entries whose file is
    /// missing, files of the wrong size, and regular files nothing references.
    pub fn check_against(&self, dir: &Path) -> Result<CheckReport, ManifestError> {
        let mut report = CheckReport::default();
        for e in &self.entries {
            let path = dir.join(&e.file);
            match std::fs::metadata(&path) {
                Ok(meta) if meta.is_file() => {
                    if meta.len() != e.stored_bytes {
                        report.size_mismatches.push(SizeMismatch {
                            id: e.id.clone(),
                            file: e.file.clone(),
                            expected: e.stored_bytes,
                            actual: meta.len(),
                        });
                    }
                }
                Ok(_) => report.missing.push(Missing {
                    id: e.id.clone(),
                    file: e.file.clone(),
                }),
                Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                    report.missing.push(Missing {
                        id: e.id.clone(),
                        file: e.file.clone(),
                    });
                }
                Err(source) => {
                    return Err(ManifestError::Io {
                        action: "inspect backup file",
                        path,
                        source,
                    });
                }
            }
        }
        // A backup's companion files (its roles, `extra.roles_file`) belong to it.
        let referenced: HashSet<&str> = self
            .entries
            .iter()
            .flat_map(|e| {
                std::iter::once(e.file.as_str())
                    .chain(e.extra.get("roles_file").and_then(Value::as_str))
            })
            .collect();
        let io = |source, path: &Path| ManifestError::Io {
            action: "list the backup directory",
            path: path.to_path_buf(),
            source,
        };
        for item in std::fs::read_dir(dir).map_err(|e| io(e, dir))? {
            let item = item.map_err(|e| io(e, dir))?;
            let is_file = item.file_type().map_err(|e| io(e, &item.path()))?.is_file();
            let name = item.file_name().to_string_lossy().into_owned();
            if !is_file
                || name == MANIFEST_FILE
                || name == LOCK_FILE
                || is_temp_file_name(&name)
                || referenced.contains(name.as_str())
            {
                continue;
            }
            report.orphans.push(name);
        }
        report.orphans.sort();
        Ok(report)
    }
}

/// A new entry id for a backup created at `created_at`:
/// `YYYYMMDDTHHMMSSZ-` and 6 random lowercase hex digits. Ids sort by time
/// (to the second); the random part separates backups of the same second.
pub fn new_id(created_at: DateTime<Utc>) -> String {
    let mut bytes = [0u8; 3];
    rand::rng().fill(&mut bytes);
    format!(
        "{}-{}",
        created_at.format("%Y%m%dT%H%M%SZ"),
        hex::encode(bytes)
    )
}

/// Whether `id` is acceptable as an entry id: 1 to 64 characters of ASCII
/// letters, digits, `-` and `_`.
pub fn is_valid_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Files `check` never reports as orphans because they are in progress:
/// hidden files (a leading `.`, e.g. the manifest's own temporary files) and
/// names ending in `.tmp` or `.partial`. Backup writers should write under
/// such a name and rename when complete.
pub fn is_temp_file_name(name: &str) -> bool {
    name.starts_with('.') || name.ends_with(".tmp") || name.ends_with(".partial")
}

/// A fingerprint of a **high-entropy** key (a key file's key, or a key
/// derived by Argon2id), safe to store: 16 hex digits of a domain-separated
/// SHA-256. Never pass a passphrase: a fast hash of a passphrase can be
/// brute-forced offline.
pub fn key_fingerprint(key: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(b"supabase-mcp backup key fingerprint v1\0");
    h.update(key);
    hex::encode(&h.finalize()[..8])
}

fn is_lower_hex(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

fn is_plain_file_name(name: &str) -> bool {
    let mut components = Path::new(name).components();
    matches!(
        (components.next(), components.next()),
        (Some(Component::Normal(c)), None) if c == name
    ) && !name.contains(['/', '\\'])
}

fn write_and_rename(tmp: &Path, target: &Path, bytes: &[u8]) -> Result<(), ManifestError> {
    let io = |action, path: &Path| {
        let path = path.to_path_buf();
        move |source| ManifestError::Io {
            action,
            path,
            source,
        }
    };
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(tmp)
        .map_err(io("create the temporary manifest", tmp))?;
    file.write_all(bytes)
        .map_err(io("write the temporary manifest", tmp))?;
    file.sync_all()
        .map_err(io("flush the temporary manifest", tmp))?;
    drop(file);
    std::fs::rename(tmp, target).map_err(io("replace the backup manifest", target))
}

fn sync_dir(dir: &Path) -> Result<(), ManifestError> {
    #[cfg(unix)]
    {
        let io = |source| ManifestError::Io {
            action: "flush the backup directory",
            path: dir.to_path_buf(),
            source,
        };
        File::open(dir).map_err(io)?.sync_all().map_err(io)?;
    }
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// Held while a read-modify-write runs; closing the file releases the lock.
struct DirLock {
    _file: File,
}

fn lock_dir(dir: &Path) -> Result<DirLock, ManifestError> {
    let path = dir.join(LOCK_FILE);
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(|source| ManifestError::Io {
            action: "open the manifest lock file",
            path: path.clone(),
            source,
        })?;
    file.lock().map_err(|source| ManifestError::Io {
        action: "lock the manifest lock file",
        path,
        source,
    })?;
    Ok(DirLock { _file: file })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use std::sync::Arc;

    fn at(secs: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_790_000_000 + secs, 0).single().unwrap()
    }

    fn entry(id: &str, file: &str, stored_bytes: u64) -> Entry {
        Entry {
            id: id.to_string(),
            instance: "prod".into(),
            database: "postgres".into(),
            created_at: at(0),
            kind: Kind::Full,
            format: DumpFormat::Custom,
            server_version: "17.4".into(),
            pg_dump_version: "17.4".into(),
            extensions: vec![],
            raw_bytes: stored_bytes * 3,
            stored_bytes,
            sha256: "ab".repeat(32),
            file: file.to_string(),
            row_counts: BTreeMap::new(),
            compression: "zstd:3".into(),
            encryption: Encryption::None,
            tags: vec![],
            includes_roles: false,
            extra: Map::new(),
        }
    }

    fn rich_entry() -> Entry {
        let mut e = entry(
            "20261125T173000Z-a1b2c3",
            "prod-postgres.dump.zst.enc",
            1234,
        );
        e.created_at = Utc.with_ymd_and_hms(2026, 11, 25, 17, 30, 0).unwrap();
        e.kind = Kind::Subset(Subset {
            include_schemas: vec!["public".into()],
            exclude_schemas: vec![],
            include_tables: vec![],
            exclude_tables: vec!["public.audit_log".into()],
        });
        e.extensions = vec![Extension {
            name: "pgcrypto".into(),
            version: "1.3".into(),
        }];
        e.row_counts = BTreeMap::from([("public.users".into(), 42), ("public.todos".into(), 7)]);
        e.encryption = Encryption::Aes256Gcm {
            kdf: Kdf::Keyfile,
            key_fingerprint: Some(key_fingerprint(&[7u8; 32])),
        };
        e.tags = vec!["nightly".into()];
        e.includes_roles = true;
        e
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|d| d.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn missing_manifest_is_empty() {
        let dir = tempfile::tempdir().unwrap();
        let m = Manifest::load(dir.path()).unwrap();
        assert!(m.entries.is_empty());
        assert_eq!(m.version, MANIFEST_VERSION);
    }

    #[test]
    fn save_load_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let mut m = Manifest::default();
        m.add(rich_entry()).unwrap();
        m.add(entry("20261126T010000Z-000001", "b.dump", 5))
            .unwrap();
        m.save(dir.path()).unwrap();
        let back = Manifest::load(dir.path()).unwrap();
        assert_eq!(back, m);
        let text = std::fs::read_to_string(Manifest::path(dir.path())).unwrap();
        let json: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(json["version"], 1);
        let e = &json["entries"][0];
        assert_eq!(e["created_at"], "2026-11-25T17:30:00Z");
        assert_eq!(e["kind"]["type"], "subset");
        assert_eq!(e["kind"]["exclude_tables"][0], "public.audit_log");
        assert_eq!(e["encryption"]["algorithm"], "aes-256-gcm");
        assert_eq!(e["encryption"]["kdf"], "keyfile");
        assert_eq!(e["row_counts"]["public.users"], 42);
        assert_eq!(json["entries"][1]["encryption"]["algorithm"], "none");
    }

    #[test]
    fn unknown_fields_survive_an_update() {
        let dir = tempfile::tempdir().unwrap();
        let mut m = Manifest::default();
        m.add(entry("a1", "a.dump", 1)).unwrap();
        let mut json = serde_json::to_value(&m).unwrap();
        json["future_top"] = Value::from("keep me");
        json["entries"][0]["future_field"] = Value::from(3);
        std::fs::write(
            Manifest::path(dir.path()),
            serde_json::to_vec(&json).unwrap(),
        )
        .unwrap();
        Manifest::add_to(dir.path(), entry("b2", "b.dump", 1)).unwrap();
        let text = std::fs::read_to_string(Manifest::path(dir.path())).unwrap();
        let back: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(back["future_top"], "keep me");
        assert_eq!(back["entries"][0]["future_field"], 3);
        assert_eq!(back["entries"].as_array().unwrap().len(), 2);
    }

    #[test]
    fn atomic_save_leaves_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let mut m = Manifest::default();
        m.add(entry("a1", "a.dump", 1)).unwrap();
        m.save(dir.path()).unwrap();
        m.add(entry("b2", "b.dump", 1)).unwrap();
        m.save(dir.path()).unwrap();
        assert_eq!(names(dir.path()), vec![MANIFEST_FILE.to_string()]);
        assert_eq!(Manifest::load(dir.path()).unwrap().entries.len(), 2);
    }

    #[test]
    fn failed_save_removes_its_temp_file_and_keeps_target() {
        let dir = tempfile::tempdir().unwrap();
        // A non-empty directory where the manifest should be: rename fails.
        let blocker = Manifest::path(dir.path());
        std::fs::create_dir(&blocker).unwrap();
        std::fs::write(blocker.join("x"), b"x").unwrap();
        let err = Manifest::default().save(dir.path()).unwrap_err();
        assert!(matches!(err, ManifestError::Io { .. }), "{err}");
        assert_eq!(names(dir.path()), vec![MANIFEST_FILE.to_string()]);
        assert!(blocker.join("x").exists());
    }

    #[test]
    fn corrupted_manifest_is_a_clear_error_and_is_not_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let path = Manifest::path(dir.path());
        let garbage = b"{\"version\": 1, \"entries\": [ {\"id\": ";
        std::fs::write(&path, garbage).unwrap();
        let err = Manifest::load(dir.path()).unwrap_err();
        assert!(matches!(err, ManifestError::Corrupt { .. }), "{err:?}");
        let msg = err.to_string();
        assert!(msg.contains(&path.display().to_string()), "{msg}");
        assert!(msg.contains("move it aside"), "{msg}");
        // An update must fail too and leave the bytes alone.
        let err = Manifest::add_to(dir.path(), entry("a1", "a.dump", 1)).unwrap_err();
        assert!(matches!(err, ManifestError::Corrupt { .. }));
        assert_eq!(std::fs::read(&path).unwrap(), garbage);
    }

    #[test]
    fn empty_wrong_shape_and_duplicate_manifests_are_corrupt() {
        let dir = tempfile::tempdir().unwrap();
        let path = Manifest::path(dir.path());
        let mut dup = Manifest::default();
        dup.entries.push(entry("a1", "a.dump", 1));
        dup.entries.push(entry("a1", "b.dump", 1));
        for bad in [
            String::new(),
            "[]".to_string(),
            r#"{"entries": []}"#.to_string(),
            r#"{"version": 1, "entries": [{"id": "x"}]}"#.to_string(),
            serde_json::to_string(&dup).unwrap(),
        ] {
            std::fs::write(&path, &bad).unwrap();
            let err = Manifest::load(dir.path()).unwrap_err();
            assert!(
                matches!(err, ManifestError::Corrupt { .. }),
                "{bad}: {err:?}"
            );
        }
    }

    #[test]
    fn newer_version_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            Manifest::path(dir.path()),
            r#"{"version": 2, "entries": "a new shape"}"#,
        )
        .unwrap();
        let err = Manifest::load(dir.path()).unwrap_err();
        assert!(
            matches!(err, ManifestError::UnsupportedVersion { found: 2, .. }),
            "{err:?}"
        );
    }

    #[test]
    fn concurrent_adds_lose_nothing() {
        let dir = Arc::new(tempfile::tempdir().unwrap());
        let threads = 8;
        let per_thread = 12;
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let dir = Arc::clone(&dir);
                std::thread::spawn(move || {
                    for i in 0..per_thread {
                        let id = format!("t{t}-{i}");
                        Manifest::add_to(dir.path(), entry(&id, &format!("{id}.dump"), 1)).unwrap();
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        let m = Manifest::load(dir.path()).unwrap();
        assert_eq!(m.entries.len(), threads * per_thread);
        let ids: HashSet<&str> = m.entries.iter().map(|e| e.id.as_str()).collect();
        assert_eq!(ids.len(), threads * per_thread);
        // Only the manifest and its lock file remain.
        assert_eq!(
            names(dir.path()),
            vec![LOCK_FILE.to_string(), MANIFEST_FILE.to_string()]
        );
    }

    #[test]
    fn update_that_fails_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        Manifest::add_to(dir.path(), entry("a1", "a.dump", 1)).unwrap();
        let err = Manifest::update(dir.path(), |m| {
            m.entries.clear();
            Err::<(), _>(ManifestError::NotFound("x".into()))
        })
        .unwrap_err();
        assert!(matches!(err, ManifestError::NotFound(_)));
        assert_eq!(Manifest::load(dir.path()).unwrap().entries.len(), 1);
    }

    #[test]
    fn get_by_id_and_prefix_and_ambiguity() {
        let mut m = Manifest::default();
        for id in [
            "20261125T173000Z-a1b2c3",
            "20261125T173000Z-a1ffff",
            "20261126T000000Z-000000",
        ] {
            m.add(entry(id, &format!("{id}.dump"), 1)).unwrap();
        }
        assert_eq!(
            m.get("20261125T173000Z-a1b2c3").unwrap().id,
            "20261125T173000Z-a1b2c3"
        );
        assert_eq!(m.get("20261126").unwrap().id, "20261126T000000Z-000000");
        assert_eq!(
            m.get("20261125T173000Z-a1f").unwrap().id,
            "20261125T173000Z-a1ffff"
        );
        match m.get("20261125T173000Z-a1") {
            Err(ManifestError::Ambiguous { matches, .. }) => assert_eq!(
                matches,
                vec!["20261125T173000Z-a1b2c3", "20261125T173000Z-a1ffff"]
            ),
            other => panic!("expected ambiguity, got {other:?}"),
        }
        let msg = m.get("2026").unwrap_err().to_string();
        assert!(msg.contains("matches 3 backups"), "{msg}");
        assert!(matches!(m.get("2027"), Err(ManifestError::NotFound(_))));
        assert!(matches!(m.get(""), Err(ManifestError::NotFound(_))));
    }

    #[test]
    fn exact_id_wins_over_longer_ids_sharing_it_as_prefix() {
        let mut m = Manifest::default();
        m.add(entry("abc", "1.dump", 1)).unwrap();
        m.add(entry("abcd", "2.dump", 1)).unwrap();
        assert_eq!(m.get("abc").unwrap().file, "1.dump");
    }

    #[test]
    fn add_rejects_duplicates_and_unsafe_entries() {
        let mut m = Manifest::default();
        m.add(entry("a1", "a.dump", 1)).unwrap();
        assert!(matches!(
            m.add(entry("a1", "other.dump", 1)),
            Err(ManifestError::Duplicate(_))
        ));
        for file in [
            "../x.dump",
            "sub/x.dump",
            "/abs.dump",
            "",
            ".",
            "..",
            MANIFEST_FILE,
            ".hidden",
            "x.partial",
        ] {
            let err = m.add(entry("b2", file, 1)).unwrap_err();
            assert!(
                matches!(err, ManifestError::InvalidEntry { .. }),
                "{file}: {err:?}"
            );
        }
        let mut bad_sha = entry("c3", "c.dump", 1);
        bad_sha.sha256 = "AB".repeat(32);
        assert!(m.add(bad_sha).is_err());
        assert!(m.add(entry("bad id!", "d.dump", 1)).is_err());
        let mut bad_fp = entry("e5", "e.dump", 1);
        bad_fp.encryption = Encryption::Aes256Gcm {
            kdf: Kdf::Argon2id,
            key_fingerprint: Some("correct horse battery staple".into()),
        };
        assert!(m.add(bad_fp).is_err());
        assert_eq!(m.entries.len(), 1);
    }

    #[test]
    fn remove_needs_the_exact_id() {
        let dir = tempfile::tempdir().unwrap();
        Manifest::add_to(dir.path(), entry("abc123", "a.dump", 1)).unwrap();
        assert!(matches!(
            Manifest::remove_from(dir.path(), "abc"),
            Err(ManifestError::NotFound(_))
        ));
        let removed = Manifest::remove_from(dir.path(), "abc123").unwrap();
        assert_eq!(removed.file, "a.dump");
        assert!(Manifest::load(dir.path()).unwrap().entries.is_empty());
    }

    #[test]
    fn list_filters_and_sorts() {
        let mut m = Manifest::default();
        let mut specs = vec![
            ("e3", "prod", "postgres", 300, vec!["nightly"]),
            ("e1", "prod", "postgres", 100, vec![]),
            ("e2", "prod", "app", 200, vec!["nightly", "pre-migration"]),
            ("e4", "staging", "postgres", 400, vec!["nightly"]),
        ];
        for (id, inst, db, t, tags) in specs.drain(..) {
            let mut e = entry(id, &format!("{id}.dump"), 1);
            e.instance = inst.into();
            e.database = db.into();
            e.created_at = at(t);
            e.tags = tags.into_iter().map(String::from).collect();
            m.add(e).unwrap();
        }
        let ids = |f: Filter| -> Vec<String> { m.list(&f).iter().map(|e| e.id.clone()).collect() };
        assert_eq!(ids(Filter::default()), vec!["e1", "e2", "e3", "e4"]);
        assert_eq!(
            ids(Filter {
                instance: Some("prod".into()),
                ..Filter::default()
            }),
            vec!["e1", "e2", "e3"]
        );
        assert_eq!(
            ids(Filter {
                database: Some("postgres".into()),
                tag: Some("nightly".into()),
                ..Filter::default()
            }),
            vec!["e3", "e4"]
        );
        assert_eq!(
            ids(Filter {
                since: Some(at(200)),
                until: Some(at(300)),
                ..Filter::default()
            }),
            vec!["e2", "e3"]
        );
        assert!(
            ids(Filter {
                tag: Some("weekly".into()),
                ..Filter::default()
            })
            .is_empty()
        );
    }

    #[test]
    fn check_finds_missing_orphans_and_size_mismatches() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::write(d.join("ok.dump"), b"12345").unwrap();
        std::fs::write(d.join("short.dump"), b"12").unwrap();
        std::fs::write(d.join("stray.dump"), b"x").unwrap();
        std::fs::write(d.join("another-stray.sql"), b"x").unwrap();
        std::fs::write(d.join(".manifest.json.tmp-0011"), b"x").unwrap();
        std::fs::write(d.join("inflight.dump.partial"), b"x").unwrap();
        std::fs::create_dir(d.join("subdir")).unwrap();
        for (id, file, size) in [
            ("ok1", "ok.dump", 5),
            ("short1", "short.dump", 5),
            ("gone1", "gone.dump", 9),
        ] {
            Manifest::add_to(d, entry(id, file, size)).unwrap();
        }
        let report = Manifest::check(d).unwrap();
        assert_eq!(
            report.missing,
            vec![Missing {
                id: "gone1".into(),
                file: "gone.dump".into()
            }]
        );
        assert_eq!(report.orphans, vec!["another-stray.sql", "stray.dump"]);
        assert_eq!(
            report.size_mismatches,
            vec![SizeMismatch {
                id: "short1".into(),
                file: "short.dump".into(),
                expected: 5,
                actual: 2
            }]
        );
        assert!(!report.is_clean());

        std::fs::remove_file(d.join("stray.dump")).unwrap();
        std::fs::remove_file(d.join("another-stray.sql")).unwrap();
        std::fs::write(d.join("short.dump"), b"12345").unwrap();
        std::fs::write(d.join("gone.dump"), b"123456789").unwrap();
        assert!(Manifest::check(d).unwrap().is_clean());
    }

    #[test]
    fn ids_sort_by_time_and_are_valid() {
        let a = new_id(Utc.with_ymd_and_hms(2026, 11, 25, 17, 30, 0).unwrap());
        let b = new_id(Utc.with_ymd_and_hms(2026, 11, 25, 17, 30, 1).unwrap());
        assert!(a.starts_with("20261125T173000Z-"), "{a}");
        assert_eq!(a.len(), "20261125T173000Z-".len() + 6);
        assert!(is_lower_hex(&a[17..], 6), "{a}");
        assert!(a < b);
        assert!(is_valid_id(&a));
        let same = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let ids: HashSet<String> = (0..50).map(|_| new_id(same)).collect();
        assert!(ids.len() > 45, "random part repeats too often");
    }

    #[test]
    fn key_fingerprint_is_stable_short_and_key_dependent() {
        let a = key_fingerprint(&[1u8; 32]);
        assert_eq!(a, key_fingerprint(&[1u8; 32]));
        assert_ne!(a, key_fingerprint(&[2u8; 32]));
        assert!(is_lower_hex(&a, 16));
        // Domain-separated: not a plain SHA-256 prefix of the key.
        assert_ne!(a, hex::encode(&Sha256::digest([1u8; 32])[..8]));
    }

    #[test]
    fn base_backups_round_trip_and_old_entries_have_no_base_info() {
        let dir = tempfile::tempdir().unwrap();
        let mut e = entry("20261125T180000Z-0000aa", "prod-cluster.base.tar.zst", 10);
        e.kind = Kind::Base;
        let info = BaseInfo {
            start_lsn: "0/2000028".into(),
            start_wal_file: "000000010000000000000002".into(),
            timeline: 1,
            start_time_text: "2026-11-25 18:00:00 UTC".into(),
            start_time: at(0),
            stop_lsn: Some("0/2000100".into()),
            stop_time: at(5),
            wal_included: Some((
                "000000010000000000000002".into(),
                "000000010000000000000002".into(),
            )),
            wal_segment_size: 16 * 1024 * 1024,
            format: "tar".into(),
        };
        e.set_base_info(&info).unwrap();
        let mut m = Manifest::default();
        m.add(e).unwrap();
        m.add(entry("20261125T170000Z-0000bb", "old.dump", 5))
            .unwrap();
        m.save(dir.path()).unwrap();
        let text = std::fs::read_to_string(Manifest::path(dir.path())).unwrap();
        let json: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(json["entries"][0]["kind"]["type"], "base");
        assert_eq!(json["entries"][0]["base"]["start_lsn"], "0/2000028");
        assert!(json["entries"][1].get("base").is_none(), "{text}");
        let back = Manifest::load(dir.path()).unwrap();
        assert_eq!(back.entries[0].base_info(), Some(info));
        assert_eq!(back.entries[1].base_info(), None);
    }
}
