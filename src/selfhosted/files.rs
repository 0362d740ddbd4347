//! Writing `.env` files safely: the text goes to a temporary file in the
//! same directory (mode 0600, synced) that is renamed over the target, so a
//! file is never seen half-written; an existing target is kept unless the
//! caller allows replacing it. Backups before an in-place change. Secret
//! files (a JWT secret) are read here too.

use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum FilesError {
    #[error("{0} already exists")]
    Exists(String),
    #[error("cannot write {path}: {message}")]
    Write { path: String, message: String },
    #[error("{0} has no file name")]
    NoName(String),
    #[error("cannot use {path} as a secret file: {message}")]
    SecretFile { path: String, message: String },
}

fn write_err(path: &Path, e: std::io::Error) -> FilesError {
    FilesError::Write {
        path: path.display().to_string(),
        message: e.to_string(),
    }
}

/// Mode of files holding secrets.
pub const PRIVATE_MODE: u32 = 0o600;

/// Writes `text` to `path` atomically with `mode` (Unix permissions).
/// Fails when `path` exists and `replace` is false.
pub fn write_atomic(path: &Path, text: &str, replace: bool, mode: u32) -> Result<(), FilesError> {
    if !replace && path.exists() {
        return Err(FilesError::Exists(path.display().to_string()));
    }
    let name = path
        .file_name()
        .ok_or_else(|| FilesError::NoName(path.display().to_string()))?
        .to_string_lossy()
        .into_owned();
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    };
    let suffix: u64 = rand::random();
    let tmp = dir.join(format!(".{name}.tmp-{suffix:016x}"));
    let result = (|| {
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(mode);
        }
        let mut f = opts.open(&tmp).map_err(|e| write_err(path, e))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            // The umask may have narrowed or widened nothing else: set it exactly.
            f.set_permissions(std::fs::Permissions::from_mode(mode))
                .map_err(|e| write_err(path, e))?;
        }
        f.write_all(text.as_bytes())
            .map_err(|e| write_err(path, e))?;
        f.sync_all().map_err(|e| write_err(path, e))?;
        if !replace && path.exists() {
            return Err(FilesError::Exists(path.display().to_string()));
        }
        std::fs::rename(&tmp, path).map_err(|e| write_err(path, e))
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// The permission bits of an existing file (0600 when unknown).
pub fn mode_of(path: &Path) -> u32 {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(m) = std::fs::metadata(path) {
            return m.permissions().mode() & 0o777;
        }
    }
    PRIVATE_MODE
}

/// Copies `path` to `<path>.bak-<UTC timestamp>` (0600) and returns the copy's path.
pub fn backup(path: &Path) -> Result<PathBuf, FilesError> {
    let text = std::fs::read_to_string(path).map_err(|e| write_err(path, e))?;
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ");
    let mut name = path.as_os_str().to_owned();
    name.push(format!(".bak-{stamp}"));
    let target = PathBuf::from(name);
    write_atomic(&target, &text, false, PRIVATE_MODE)?;
    Ok(target)
}

/// Largest secret file read.
const MAX_SECRET_FILE: u64 = 64 * 1024;

/// Reads a secret from a file: its `JWT_SECRET` when the file is a `.env`,
/// else the whole text, trimmed.
pub fn read_secret(path: &Path) -> Result<crate::secret::Secret, FilesError> {
    let bad = |message: String| FilesError::SecretFile {
        path: path.display().to_string(),
        message,
    };
    let meta = std::fs::metadata(path).map_err(|e| bad(e.to_string()))?;
    if meta.len() > MAX_SECRET_FILE {
        return Err(bad("larger than 64 KiB".into()));
    }
    let text = std::fs::read_to_string(path).map_err(|e| bad(e.to_string()))?;
    if let Some(v) = super::EnvFile::parse(&text)
        .resolved_value("JWT_SECRET")
        .filter(|v| !v.is_empty())
    {
        return Ok(crate::secret::Secret::new(v));
    }
    let s = text.trim();
    if s.is_empty() {
        return Err(bad("it is empty".into()));
    }
    Ok(crate::secret::Secret::new(s))
}

/// `<path><suffix>` (e.g. `.env` → `.env.fixed`).
pub fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_private_files_and_keeps_existing_ones() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("out.env");
        write_atomic(&p, "A=1\n", false, PRIVATE_MODE).unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "A=1\n");
        assert_eq!(mode_of(&p), 0o600);
        let e = write_atomic(&p, "A=2\n", false, PRIVATE_MODE).unwrap_err();
        assert!(matches!(e, FilesError::Exists(_)));
        write_atomic(&p, "A=2\n", true, 0o640).unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "A=2\n");
        assert_eq!(mode_of(&p), 0o640);
        // No temporary file is left behind.
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1);
        let b = backup(&p).unwrap();
        assert!(b.display().to_string().contains("out.env.bak-"));
        assert_eq!(std::fs::read_to_string(b).unwrap(), "A=2\n");
        assert_eq!(sibling(&p, ".fixed"), dir.path().join("out.env.fixed"));
    }

    #[test]
    fn secret_files() {
        let dir = tempfile::tempdir().unwrap();
        let plain = dir.path().join("secret");
        std::fs::write(&plain, "  abc-secret-value\n").unwrap();
        assert_eq!(read_secret(&plain).unwrap().expose(), "abc-secret-value");
        let env = dir.path().join(".env");
        std::fs::write(&env, "# x\nJWT_SECRET='from-dotenv-value'\nOTHER=1\n").unwrap();
        assert_eq!(read_secret(&env).unwrap().expose(), "from-dotenv-value");
        let empty = dir.path().join("empty");
        std::fs::write(&empty, "\n").unwrap();
        let e = read_secret(&empty).unwrap_err().to_string();
        assert!(e.contains("empty"));
        assert!(read_secret(&dir.path().join("missing")).is_err());
    }
}
