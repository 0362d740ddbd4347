//! Saved environments of a compose service: before every change the block
//! that was in place is written to `<data dir>/dokploy/<compose id>/
//! env-<UTC time>.env` (0600, atomically), the newest [`KEEP`] are kept,
//! and a version is named by its time stamp.

use std::path::{Path, PathBuf};

use crate::selfhosted::files::{PRIVATE_MODE, write_atomic};

/// How many versions are kept per compose service.
pub const KEEP: usize = 20;
const PREFIX: &str = "env-";
const SUFFIX: &str = ".env";
/// Largest saved environment read back.
const MAX_BYTES: u64 = 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum VersionError {
    #[error("cannot use {path}: {message}")]
    Io { path: String, message: String },
    #[error("there is no saved version `{0}`")]
    NotFound(String),
    #[error("`{0}` is not a version name (versions look like 20250101T120000123Z)")]
    BadName(String),
    #[error("the saved version {0} is larger than 1 MiB")]
    TooLarge(String),
}

fn io(path: &Path, e: impl std::fmt::Display) -> VersionError {
    VersionError::Io {
        path: path.display().to_string(),
        message: e.to_string(),
    }
}

/// The versions of one compose service.
pub struct Store {
    dir: PathBuf,
}

impl Store {
    /// `compose_id` must be a checked id (no path separators).
    pub fn new(data_dir: &Path, compose_id: &str) -> Store {
        Store {
            dir: data_dir.join("dokploy").join(compose_id),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn path_of(&self, version: &str) -> PathBuf {
        self.dir.join(format!("{PREFIX}{version}{SUFFIX}"))
    }

    /// Saves `text` as a new version and drops the oldest beyond [`KEEP`];
    /// returns the version's name and path.
    pub fn save(&self, text: &str) -> Result<(String, PathBuf), VersionError> {
        create_private_dir(&self.dir)?;
        let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%S%3fZ").to_string();
        let mut version = stamp.clone();
        let mut n = 1;
        while self.path_of(&version).exists() {
            version = format!("{stamp}-{n}");
            n += 1;
        }
        let path = self.path_of(&version);
        write_atomic(&path, text, false, PRIVATE_MODE).map_err(|e| io(&path, e))?;
        self.prune(KEEP)?;
        Ok((version, path))
    }

    /// Every version, newest first.
    pub fn list(&self) -> Result<Vec<String>, VersionError> {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io(&self.dir, e)),
        };
        let mut out: Vec<String> = entries
            .filter_map(Result::ok)
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                let v = name.strip_prefix(PREFIX)?.strip_suffix(SUFFIX)?.to_owned();
                valid_name(&v).then_some(v)
            })
            .collect();
        out.sort_by_key(|v| std::cmp::Reverse(order_key(v)));
        Ok(out)
    }

    /// The text of a version.
    pub fn read(&self, version: &str) -> Result<String, VersionError> {
        let v = version.trim();
        if !valid_name(v) {
            return Err(VersionError::BadName(v.to_owned()));
        }
        let path = self.path_of(v);
        let meta = match std::fs::metadata(&path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(VersionError::NotFound(v.to_owned()));
            }
            Err(e) => return Err(io(&path, e)),
        };
        if meta.len() > MAX_BYTES {
            return Err(VersionError::TooLarge(v.to_owned()));
        }
        std::fs::read_to_string(&path).map_err(|e| io(&path, e))
    }

    fn prune(&self, keep: usize) -> Result<(), VersionError> {
        for old in self.list()?.into_iter().skip(keep) {
            let p = self.path_of(&old);
            std::fs::remove_file(&p).map_err(|e| io(&p, e))?;
        }
        Ok(())
    }
}

/// `20250101T120000123Z` with an optional `-<n>` for versions saved in the
/// same millisecond.
fn valid_name(v: &str) -> bool {
    let (stamp, n) = match v.split_once('-') {
        Some((s, n)) => (s, Some(n)),
        None => (v, None),
    };
    let stamp_ok = stamp.len() == 19
        && stamp.ends_with('Z')
        && stamp.as_bytes()[8] == b'T'
        && stamp
            .chars()
            .enumerate()
            .all(|(i, c)| i == 8 || i == 18 || c.is_ascii_digit());
    stamp_ok
        && n.is_none_or(|n| !n.is_empty() && n.len() < 6 && n.chars().all(|c| c.is_ascii_digit()))
}

fn order_key(v: &str) -> (String, u32) {
    match v.split_once('-') {
        Some((s, n)) => (s.to_owned(), n.parse().unwrap_or(0)),
        None => (v.to_owned(), 0),
    }
}

/// The time of a version, ISO 8601.
pub fn time_of(version: &str) -> Option<String> {
    let stamp = version.split('-').next()?;
    chrono::NaiveDateTime::parse_from_str(stamp, "%Y%m%dT%H%M%S%3fZ")
        .ok()
        .map(|t| {
            t.and_utc()
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
        })
}

/// Creates `dir` (and its parents) readable by the owner only.
pub(super) fn create_private_dir(dir: &Path) -> Result<(), VersionError> {
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        b.mode(0o700);
    }
    b.create(dir).map_err(|e| io(dir, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_saved_listed_read_and_pruned() {
        let tmp = tempfile::tempdir().unwrap();
        let store = Store::new(tmp.path(), "cmp1");
        assert!(store.list().unwrap().is_empty());
        let mut names = Vec::new();
        for i in 0..(KEEP + 3) {
            let (v, path) = store.save(&format!("A={i}\n")).unwrap();
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
                assert_eq!(mode, 0o600);
            }
            names.push(v);
        }
        let list = store.list().unwrap();
        assert_eq!(list.len(), KEEP);
        assert_eq!(list[0], *names.last().unwrap());
        assert_eq!(store.read(&list[0]).unwrap(), format!("A={}\n", KEEP + 2));
        assert!(matches!(
            store.read(&names[0]),
            Err(VersionError::NotFound(_))
        ));
        assert!(matches!(store.read("../x"), Err(VersionError::BadName(_))));
        assert!(time_of(&list[0]).unwrap().ends_with('Z'));
    }

    #[test]
    fn names_are_checked() {
        assert!(valid_name("20250101T120000123Z"));
        assert!(valid_name("20250101T120000123Z-2"));
        assert!(!valid_name("20250101T120000123Z-"));
        assert!(!valid_name("2025010XT120000123Z"));
        assert!(!valid_name("../../etc/passwd"));
        assert_eq!(
            time_of("20250101T120000123Z").unwrap(),
            "2025-01-01T12:00:00.123Z"
        );
    }
}
