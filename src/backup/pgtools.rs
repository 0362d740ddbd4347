//! Finding PostgreSQL's client programs (`pg_dump`, `pg_restore`, `psql`;
//! optionally `pg_dumpall`, `pg_basebackup`, `pg_receivewal`, `pg_waldump`)
//! in a version that can talk to a given server, and reading
//! their versions. A `pg_dump` older than the server refuses to dump it, so
//! the choice is made (and explained) before anything runs.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use tokio::process::Command;

use crate::pg::cluster::versioned_dirs;

#[derive(Debug, thiserror::Error)]
pub enum PgToolsError {
    #[error(
        "no {program} found (searched {searched}); install the PostgreSQL client \
         (e.g. `apt install postgresql-client-{major}`) or pass --pg-bin-dir"
    )]
    NotFound {
        program: &'static str,
        searched: String,
        major: u32,
    },
    #[error(
        "{program} {found} is older than the PostgreSQL {server} server and cannot dump it; \
         install the client of version {server} or newer (e.g. `apt install postgresql-client-{server}`) \
         or pass --pg-bin-dir with such a client's bin directory"
    )]
    TooOld {
        program: &'static str,
        found: String,
        server: u32,
    },
    #[error("cannot run {path}: {message}")]
    Run { path: String, message: String },
}

/// One client program and its version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PgTool {
    pub path: PathBuf,
    /// Full version text, e.g. `15.19`.
    pub version: String,
    pub major: u32,
}

/// The client programs a backup or restore uses, all from one directory.
#[derive(Debug, Clone)]
pub struct PgTools {
    pub pg_dump: PgTool,
    pub pg_restore: PgTool,
    pub psql: PgTool,
    pub pg_dumpall: Option<PgTool>,
    /// Physical base backups and WAL archiving (see `basebackup`, `wal`).
    pub pg_basebackup: Option<PgTool>,
    pub pg_receivewal: Option<PgTool>,
    /// Reads WAL segments (the last commit time of an archive).
    pub pg_waldump: Option<PgTool>,
}

/// `"pg_dump (PostgreSQL) 15.19 (Debian 15.19-0+deb12u1)"` → (`15.19`, 15);
/// `"... 9.6.24"` → (`9.6.24`, 9).
pub fn parse_version(text: &str) -> Option<(String, u32)> {
    let word = text
        .split_whitespace()
        .find(|w| w.chars().next().is_some_and(|c| c.is_ascii_digit()))?;
    let version: String = word
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    let mut parts = version.split('.');
    // 9.6 and older count as 9, as server_version_num / 10000 does.
    let major: u32 = parts.next()?.parse().ok()?;
    Some((version, major))
}

/// `server_version_num` (e.g. 150019) → major version (15).
pub fn server_major(version_num: i64) -> u32 {
    (version_num / 10_000) as u32
}

async fn version_of(path: &Path) -> Result<PgTool, PgToolsError> {
    let out = Command::new(path)
        .arg("--version")
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .await
        .map_err(|e| PgToolsError::Run {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
    let text = String::from_utf8_lossy(&out.stdout);
    let (version, major) = parse_version(&text).ok_or_else(|| PgToolsError::Run {
        path: path.display().to_string(),
        message: format!("unexpected --version output `{}`", text.trim()),
    })?;
    Ok(PgTool {
        path: path.to_path_buf(),
        version,
        major,
    })
}

/// `dir/name` with its version, when it exists.
async fn optional(dir: &Path, name: &str) -> Result<Option<PgTool>, PgToolsError> {
    let path = dir.join(name);
    if path.is_file() {
        Ok(Some(version_of(&path).await?))
    } else {
        Ok(None)
    }
}

/// Directories that may hold client programs: `explicit` alone when given;
/// else the versioned package directories (highest first), then `PATH`.
fn candidate_dirs(explicit: Option<&Path>) -> Vec<PathBuf> {
    if let Some(dir) = explicit {
        return vec![dir.to_path_buf()];
    }
    let mut dirs: Vec<PathBuf> = Vec::new();
    for (base, prefix) in [
        ("/usr/lib/postgresql", ""),
        ("/usr", "pgsql-"),
        ("/opt/homebrew/opt", "postgresql@"),
        ("/usr/local/opt", "postgresql@"),
    ] {
        dirs.extend(
            versioned_dirs(Path::new(base), prefix)
                .into_iter()
                .map(|d| d.join("bin")),
        );
    }
    if let Some(path) = std::env::var_os("PATH") {
        dirs.extend(std::env::split_paths(&path));
    }
    dirs
}

/// Finds `pg_dump`, `pg_restore` and `psql` of one directory whose
/// `pg_dump` is at least `server_major`. A directory whose `pg_dump` is
/// older is reported as [`PgToolsError::TooOld`] when nothing newer exists.
pub async fn find(explicit: Option<&Path>, server_major: u32) -> Result<PgTools, PgToolsError> {
    let dirs = candidate_dirs(explicit);
    let mut too_old: Option<PgTool> = None;
    for dir in &dirs {
        let dump = dir.join("pg_dump");
        if !dump.is_file() {
            continue;
        }
        let pg_dump = version_of(&dump).await?;
        if pg_dump.major < server_major {
            if too_old.as_ref().is_none_or(|t| t.major < pg_dump.major) {
                too_old = Some(pg_dump);
            }
            continue;
        }
        let restore = dir.join("pg_restore");
        let psql = dir.join("psql");
        if !restore.is_file() || !psql.is_file() {
            continue;
        }
        return Ok(PgTools {
            pg_restore: version_of(&restore).await?,
            psql: version_of(&psql).await?,
            pg_dumpall: optional(dir, "pg_dumpall").await?,
            pg_basebackup: optional(dir, "pg_basebackup").await?,
            pg_receivewal: optional(dir, "pg_receivewal").await?,
            pg_waldump: optional(dir, "pg_waldump").await?,
            pg_dump,
        });
    }
    match too_old {
        Some(t) => Err(PgToolsError::TooOld {
            program: "pg_dump",
            found: format!("{} ({})", t.version, t.path.display()),
            server: server_major,
        }),
        None => Err(PgToolsError::NotFound {
            program: "pg_dump",
            searched: if dirs.is_empty() {
                "nothing".to_owned()
            } else {
                dirs.iter()
                    .map(|d| d.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            },
            major: server_major.max(15),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_parsed() {
        assert_eq!(
            parse_version("pg_dump (PostgreSQL) 15.19 (Debian 15.19-0+deb12u1)"),
            Some(("15.19".into(), 15))
        );
        assert_eq!(
            parse_version("pg_restore (PostgreSQL) 17.2"),
            Some(("17.2".into(), 17))
        );
        assert_eq!(
            parse_version("psql (PostgreSQL) 12beta1"),
            Some(("12".into(), 12))
        );
        assert_eq!(parse_version("nothing here"), None);
        assert_eq!(server_major(150019), 15);
        assert_eq!(server_major(170002), 17);
    }

    #[tokio::test]
    async fn an_old_pg_dump_is_refused_with_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["pg_dump", "pg_restore", "psql"] {
            let p = dir.path().join(name);
            std::fs::write(&p, "#!/bin/sh\necho \"$0 (PostgreSQL) 12.4\"\n").unwrap();
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        let err = find(Some(dir.path()), 15).await.unwrap_err();
        let text = err.to_string();
        assert!(matches!(err, PgToolsError::TooOld { .. }), "{text}");
        assert!(text.contains("12.4"), "{text}");
        assert!(text.contains("postgresql-client-15"), "{text}");
        let ok = find(Some(dir.path()), 12).await.unwrap();
        assert_eq!(ok.pg_dump.major, 12);
        assert!(ok.pg_dumpall.is_none());
        let missing = find(Some(&dir.path().join("nope")), 15).await.unwrap_err();
        assert!(matches!(missing, PgToolsError::NotFound { .. }));
    }

    #[tokio::test]
    async fn the_local_client_is_found() {
        let tools = find(None, 15).await.unwrap();
        assert!(tools.pg_dump.major >= 15);
        assert_eq!(tools.pg_dump.path.parent(), tools.pg_restore.path.parent());
    }
}
