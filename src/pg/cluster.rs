//! Throwaway local PostgreSQL cluster for the `demo` command.
//!
//! Owns [`TempCluster`]: it finds the PostgreSQL server binaries, runs
//! `initdb` into a fresh temporary directory, starts `postgres` on a free
//! loopback port (trust authentication, user `postgres`, Unix socket inside
//! the temporary directory, durability off for speed), and removes
//! everything again on [`TempCluster::stop`] or drop.
//!
//! The server runs as a child process in the caller's process group, so a
//! Ctrl-C in the terminal shuts it down too (and [`TempCluster::stop`] or
//! drop still removes the directory). When running as root, PostgreSQL
//! (which refuses to run as root) is run as the `nobody` user.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use tokio_postgres::Client;

use super::{connect, describe_error};
use crate::fixture::{self, FixtureError};

/// How to install the server binaries, shown when they are missing.
const INSTALL_HINT: &str = "install the PostgreSQL server: Debian/Ubuntu `sudo apt install postgresql`, \
     Fedora/RHEL `sudo dnf install postgresql-server`, macOS `brew install postgresql@16`; \
     or put the directory that contains `initdb` on PATH";

/// Failure to start, use or stop a [`TempCluster`].
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// `initdb`, `pg_ctl` or `postgres` could not be found.
    #[error(
        "PostgreSQL server binaries (initdb, pg_ctl, postgres) not found; searched {searched}; {INSTALL_HINT}"
    )]
    BinariesNotFound {
        /// Places that were searched.
        searched: String,
    },
    /// Running as root, but there is no unprivileged user to run PostgreSQL as.
    #[error(
        "running as root, and no `nobody` user was found to run PostgreSQL as ({detail}); \
         PostgreSQL refuses to run as root: run this command as a regular user"
    )]
    NoUnprivilegedUser {
        /// What the lookup found.
        detail: String,
    },
    /// A filesystem or process operation failed.
    #[error("{action} failed: {source}")]
    Io {
        /// What was being done.
        action: String,
        /// Underlying I/O error.
        #[source]
        source: io::Error,
    },
    /// `initdb` failed.
    #[error("initdb failed ({status}): {output}; {hint}")]
    Initdb {
        /// Exit status.
        status: ExitStatus,
        /// Tail of its output.
        output: String,
        /// What to try next.
        hint: String,
    },
    /// The server exited during startup.
    #[error(
        "PostgreSQL exited during startup ({status}); last lines of {log}:\n{log_tail}\n\
         fix the problem reported above and retry"
    )]
    Exited {
        /// Exit status.
        status: ExitStatus,
        /// Server log file.
        log: String,
        /// Last lines of the server log.
        log_tail: String,
    },
    /// The server did not accept connections in time.
    #[error(
        "PostgreSQL did not accept connections within {after:?}; last lines of {log}:\n{log_tail}\n\
         retry with a longer start timeout if the machine is busy"
    )]
    StartTimeout {
        /// How long it waited.
        after: Duration,
        /// Server log file.
        log: String,
        /// Last lines of the server log.
        log_tail: String,
    },
    /// Connecting to the running cluster failed.
    #[error("could not connect to the temporary cluster at {url}: {detail}; check {log}")]
    Connect {
        /// Connection URL.
        url: String,
        /// Server or driver message.
        detail: String,
        /// Server log file.
        log: String,
        /// Underlying driver error.
        #[source]
        source: tokio_postgres::Error,
    },
    /// Loading the fixture failed.
    #[error("loading the fixture into the temporary cluster failed: {source}")]
    Fixture {
        /// Underlying fixture error.
        #[source]
        source: FixtureError,
    },
    /// Stopping the server failed; it was killed instead.
    #[error("PostgreSQL did not stop cleanly ({detail}); it was killed and {dir} removed")]
    Stop {
        /// What went wrong.
        detail: String,
        /// Temporary directory.
        dir: String,
    },
}

/// Settings for [`TempCluster::start`].
#[derive(Debug, Clone)]
pub struct ClusterOptions {
    /// Directory containing `initdb`, `pg_ctl` and `postgres`; `None`
    /// searches for them (see [`find_binaries`]).
    pub bin_dir: Option<PathBuf>,
    /// Where to create the temporary directory; `None` uses the system
    /// temporary directory.
    pub parent_dir: Option<PathBuf>,
    /// TCP port on 127.0.0.1; `None` picks a free one.
    pub port: Option<u16>,
    /// How long to wait for the server to accept connections.
    pub start_timeout: Duration,
}

impl Default for ClusterOptions {
    fn default() -> Self {
        ClusterOptions {
            bin_dir: None,
            parent_dir: None,
            port: None,
            start_timeout: Duration::from_secs(60),
        }
    }
}

/// Locations of the PostgreSQL server binaries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PgBinaries {
    /// Directory holding all three.
    pub bin_dir: PathBuf,
    /// `initdb`.
    pub initdb: PathBuf,
    /// `pg_ctl`.
    pub pg_ctl: PathBuf,
    /// `postgres`.
    pub postgres: PathBuf,
}

impl PgBinaries {
    fn in_dir(dir: &Path) -> Option<PgBinaries> {
        let exe = |name: &str| dir.join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
        let bins = PgBinaries {
            bin_dir: dir.to_path_buf(),
            initdb: exe("initdb"),
            pg_ctl: exe("pg_ctl"),
            postgres: exe("postgres"),
        };
        (bins.initdb.is_file() && bins.pg_ctl.is_file() && bins.postgres.is_file()).then_some(bins)
    }
}

/// Finds `initdb`, `pg_ctl` and `postgres` (all in one directory): in
/// `explicit` if given; else on `PATH`; else in the usual package locations
/// (`/usr/lib/postgresql/<version>/bin` and similar, highest version first);
/// else in `pg_config --bindir`.
pub fn find_binaries(explicit: Option<&Path>) -> Result<PgBinaries, ClusterError> {
    let mut searched: Vec<String> = Vec::new();
    if let Some(dir) = explicit {
        return PgBinaries::in_dir(dir).ok_or_else(|| ClusterError::BinariesNotFound {
            searched: dir.display().to_string(),
        });
    }
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            if let Some(bins) = PgBinaries::in_dir(&dir) {
                return Ok(bins);
            }
        }
        searched.push("PATH".into());
    }
    let patterns: [(&str, &str, &str); 6] = [
        ("/usr/lib/postgresql", "", "bin"),
        ("/usr", "pgsql-", "bin"),
        ("/opt/homebrew/opt", "postgresql@", "bin"),
        ("/usr/local/opt", "postgresql@", "bin"),
        ("/Applications/Postgres.app/Contents/Versions", "", "bin"),
        ("/usr/local", "pgsql-", "bin"),
    ];
    for (base, prefix, suffix) in patterns {
        searched.push(format!("{base}/{prefix}*/{suffix}"));
        for dir in versioned_dirs(Path::new(base), prefix) {
            if let Some(bins) = PgBinaries::in_dir(&dir.join(suffix)) {
                return Ok(bins);
            }
        }
    }
    for dir in [
        "/opt/homebrew/bin",
        "/usr/local/pgsql/bin",
        "/usr/pgsql/bin",
    ] {
        searched.push(dir.into());
        if let Some(bins) = PgBinaries::in_dir(Path::new(dir)) {
            return Ok(bins);
        }
    }
    searched.push("`pg_config --bindir`".into());
    if let Ok(out) = Command::new("pg_config")
        .arg("--bindir")
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        && out.status.success()
    {
        let dir = String::from_utf8_lossy(&out.stdout).trim().to_string();
        if let Some(bins) = PgBinaries::in_dir(Path::new(&dir)) {
            return Ok(bins);
        }
    }
    Err(ClusterError::BinariesNotFound {
        searched: searched.join(", "),
    })
}

/// Subdirectories of `base` named `<prefix><version>`, highest version first.
pub(crate) fn versioned_dirs(base: &Path, prefix: &str) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(base) else {
        return Vec::new();
    };
    let mut found: Vec<(Vec<u64>, PathBuf)> = entries
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let name = entry.file_name().to_string_lossy().into_owned();
            let version = name.strip_prefix(prefix)?;
            let key = version_key(version)?;
            Some((key, entry.path()))
        })
        .collect();
    found.sort_by(|a, b| b.0.cmp(&a.0));
    found.into_iter().map(|(_, path)| path).collect()
}

/// `"16"` → `[16]`, `"9.6"` → `[9, 6]`, `"latest"` → `[u64::MAX]`.
fn version_key(version: &str) -> Option<Vec<u64>> {
    if version == "latest" {
        return Some(vec![u64::MAX]);
    }
    version.split('.').map(|p| p.parse().ok()).collect()
}

/// A running throwaway PostgreSQL cluster. Stopped and deleted by
/// [`TempCluster::stop`], or best effort on drop.
#[derive(Debug)]
pub struct TempCluster {
    dir: PathBuf,
    data_dir: PathBuf,
    log_path: PathBuf,
    port: u16,
    bins: PgBinaries,
    run_as: Option<(u32, u32)>,
    child: Option<Child>,
    cleaned: bool,
}

impl TempCluster {
    /// Creates and starts a cluster; returns once it accepts connections.
    /// On any error, whatever was started or created is removed again.
    pub async fn start(options: ClusterOptions) -> Result<TempCluster, ClusterError> {
        let bins = find_binaries(options.bin_dir.as_deref())?;
        let run_as = if is_root() {
            Some(unprivileged_ids()?)
        } else {
            None
        };
        let dir = create_private_dir(options.parent_dir.as_deref(), run_as)?;
        // From here on, dropping `cluster` cleans up.
        let mut cluster = TempCluster {
            data_dir: dir.join("data"),
            log_path: dir.join("postgres.log"),
            dir,
            port: 0,
            bins,
            run_as,
            child: None,
            cleaned: false,
        };
        cluster.initdb().await?;
        let mut attempt = 0;
        loop {
            attempt += 1;
            cluster.port = match options.port {
                Some(port) => port,
                None => free_port()?,
            };
            cluster.spawn_server()?;
            match cluster.wait_ready(options.start_timeout).await {
                Ok(()) => return Ok(cluster),
                // Someone else grabbed the port between probing and binding.
                Err(ClusterError::Exited { ref log_tail, .. })
                    if options.port.is_none()
                        && attempt < 4
                        && (log_tail.contains("could not bind")
                            || log_tail.contains("already in use")) =>
                {
                    continue;
                }
                Err(error) => return Err(error),
            }
        }
    }

    /// `postgres://postgres@127.0.0.1:<port>/postgres`.
    pub fn url(&self) -> String {
        self.url_for("postgres")
    }

    /// URL of another database of this cluster, as user `postgres`.
    pub fn url_for(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    /// TCP port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The temporary directory holding the data directory, socket and log.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The data directory.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The server log file.
    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// Process id of the running server (the postmaster), if running.
    pub fn server_pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// The binaries in use.
    pub fn binaries(&self) -> &PgBinaries {
        &self.bins
    }

    /// A client connected to the `postgres` database; the connection runs on
    /// the current runtime.
    pub async fn client(&self) -> Result<Client, ClusterError> {
        let url = self.url();
        connect(&url, Duration::from_secs(10))
            .await
            .map_err(|source| ClusterError::Connect {
                detail: describe_error(&source),
                url,
                log: self.log_path.display().to_string(),
                source,
            })
    }

    /// Loads the Supabase fixture and the sample data into the `postgres`
    /// database.
    pub async fn load_fixture(&self) -> Result<(), ClusterError> {
        let client = self.client().await?;
        fixture::load(&client, true)
            .await
            .map_err(|source| ClusterError::Fixture { source })
    }

    /// Stops the server (fast shutdown) and removes the temporary directory.
    pub async fn stop(mut self) -> Result<(), ClusterError> {
        self.cleaned = true;
        let mut problem = None;
        if let Some(mut child) = self.child.take() {
            // SIGINT is a fast shutdown. If a Ctrl-C already reached the
            // server, it is shutting down anyway and only its exit matters.
            self.signal(&mut child, "INT");
            if !wait_exit_async(&mut child, Duration::from_secs(30)).await {
                problem = Some("it ignored a fast shutdown request for 30s".to_string());
                self.signal(&mut child, "QUIT");
                if !wait_exit_async(&mut child, Duration::from_secs(5)).await {
                    let _ = child.kill();
                }
            }
            let _ = child.wait();
        }
        let removed = tokio::fs::remove_dir_all(&self.dir).await;
        if let Err(source) = removed
            && source.kind() != io::ErrorKind::NotFound
        {
            return Err(ClusterError::Io {
                action: format!("removing {}", self.dir.display()),
                source,
            });
        }
        match problem {
            Some(detail) => Err(ClusterError::Stop {
                detail,
                dir: self.dir.display().to_string(),
            }),
            None => Ok(()),
        }
    }

    async fn initdb(&self) -> Result<(), ClusterError> {
        let mut cmd = self.command(&self.bins.initdb);
        cmd.arg("-D").arg(&self.data_dir).args([
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--locale=C",
            "-N",
        ]);
        let output = tokio::process::Command::from(cmd)
            .kill_on_drop(true)
            .output()
            .await
            .map_err(|source| ClusterError::Io {
                action: format!("running {}", self.bins.initdb.display()),
                source,
            })?;
        if output.status.success() {
            return Ok(());
        }
        let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
        text.push_str(&String::from_utf8_lossy(&output.stderr));
        let hint = match self.run_as {
            Some((uid, _)) => format!(
                "PostgreSQL runs as uid {uid} (`nobody`) because this process is root; that user \
                 must be able to reach {}: choose a parent directory it can traverse",
                self.dir.display()
            ),
            None => format!("check that {} is writable", self.dir.display()),
        };
        Err(ClusterError::Initdb {
            status: output.status,
            output: tail_lines(&text, 15),
            hint,
        })
    }

    fn spawn_server(&mut self) -> Result<(), ClusterError> {
        let log = File::options()
            .create(true)
            .append(true)
            .open(&self.log_path)
            .map_err(|source| ClusterError::Io {
                action: format!("creating {}", self.log_path.display()),
                source,
            })?;
        let log_err = log.try_clone().map_err(|source| ClusterError::Io {
            action: format!("opening {}", self.log_path.display()),
            source,
        })?;
        let mut cmd = self.command(&self.bins.postgres);
        cmd.arg("-D")
            .arg(&self.data_dir)
            .arg("-p")
            .arg(self.port.to_string())
            .arg("-k")
            .arg(&self.dir)
            .args([
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                "fsync=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "full_page_writes=off",
                "-c",
                "wal_level=logical",
                "-c",
                "max_connections=50",
                "-c",
                "shared_buffers=32MB",
                "-c",
                "logging_collector=off",
            ])
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(log_err));
        let child = cmd.spawn().map_err(|source| ClusterError::Io {
            action: format!("starting {}", self.bins.postgres.display()),
            source,
        })?;
        self.child = Some(child);
        Ok(())
    }

    async fn wait_ready(&mut self, timeout: Duration) -> Result<(), ClusterError> {
        let deadline = Instant::now() + timeout;
        let url = self.url();
        loop {
            let exited = match self.child.as_mut() {
                Some(child) => child.try_wait().map_err(|source| ClusterError::Io {
                    action: "checking the PostgreSQL process".into(),
                    source,
                })?,
                None => None,
            };
            if let Some(status) = exited {
                self.child = None;
                return Err(ClusterError::Exited {
                    status,
                    log: self.log_path.display().to_string(),
                    log_tail: self.log_tail(),
                });
            }
            if let Ok(client) = connect(&url, Duration::from_secs(2)).await
                && client.simple_query("SELECT 1").await.is_ok()
            {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(ClusterError::StartTimeout {
                    after: timeout,
                    log: self.log_path.display().to_string(),
                    log_tail: self.log_tail(),
                });
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn log_tail(&self) -> String {
        match std::fs::read(&self.log_path) {
            Ok(bytes) => tail_lines(&String::from_utf8_lossy(&bytes), 20),
            Err(error) => format!("(could not read the log: {error})"),
        }
    }

    /// A command for a PostgreSQL binary, run as the unprivileged user when
    /// needed, in the temporary directory, with no PG* environment leaking in.
    fn command(&self, program: &Path) -> Command {
        let mut cmd = Command::new(program);
        cmd.current_dir(&self.dir)
            .stdin(Stdio::null())
            .env_remove("PGDATA")
            .env_remove("PGPORT")
            .env_remove("PGHOST")
            .env_remove("PGOPTIONS");
        #[cfg(unix)]
        if let Some((uid, gid)) = self.run_as {
            use std::os::unix::process::CommandExt;
            cmd.uid(uid).gid(gid);
        }
        cmd
    }

    /// Sends `signal` (a `pg_ctl kill` signal name) to the server if it is
    /// still running. `pg_ctl kill` works on every platform and needs no
    /// PID file, so this also works while the server is still starting.
    fn signal(&self, child: &mut Child, signal: &str) {
        if !matches!(child.try_wait(), Ok(None)) {
            return;
        }
        let sent = self
            .command(&self.bins.pg_ctl)
            .args(["kill", signal, &child.id().to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        if !sent {
            let _ = child.kill();
        }
    }

    /// Best-effort synchronous cleanup for `Drop`: immediate shutdown
    /// (SIGQUIT), then SIGKILL if needed, then remove the directory.
    fn cleanup_blocking(&mut self) {
        if let Some(mut child) = self.child.take() {
            self.signal(&mut child, "QUIT");
            if !wait_exit_blocking(&mut child, Duration::from_secs(10)) {
                let _ = child.kill();
            }
            let _ = child.wait();
        }
        if let Err(error) = std::fs::remove_dir_all(&self.dir)
            && error.kind() != io::ErrorKind::NotFound
        {
            tracing::warn!(dir = %self.dir.display(), %error, "could not remove the temporary cluster directory");
        }
    }
}

/// Whether `child` exited within `timeout` (polling, without blocking the runtime).
async fn wait_exit_async(child: &mut Child, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        match child.try_wait() {
            Ok(Some(_)) | Err(_) => return true,
            Ok(None) if Instant::now() >= deadline => return false,
            Ok(None) => tokio::time::sleep(Duration::from_millis(25)).await,
        }
    }
}

/// Whether `child` exited within `timeout`.
fn wait_exit_blocking(child: &mut Child, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        match child.try_wait() {
            Ok(Some(_)) | Err(_) => return true,
            Ok(None) if Instant::now() >= deadline => return false,
            Ok(None) => std::thread::sleep(Duration::from_millis(25)),
        }
    }
}

impl Drop for TempCluster {
    fn drop(&mut self) {
        if !self.cleaned {
            self.cleaned = true;
            self.cleanup_blocking();
        }
    }
}

fn tail_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

fn free_port() -> Result<u16, ClusterError> {
    let listener =
        std::net::TcpListener::bind(("127.0.0.1", 0)).map_err(|source| ClusterError::Io {
            action: "finding a free port on 127.0.0.1".into(),
            source,
        })?;
    listener
        .local_addr()
        .map(|addr| addr.port())
        .map_err(|source| ClusterError::Io {
            action: "finding a free port on 127.0.0.1".into(),
            source,
        })
}

/// Creates `<parent>/smcp-pg-<pid>-<random>` with mode 0700, owned by
/// `run_as` when given.
fn create_private_dir(
    parent: Option<&Path>,
    run_as: Option<(u32, u32)>,
) -> Result<PathBuf, ClusterError> {
    let parent = match parent {
        Some(p) => p.to_path_buf(),
        None => {
            let tmp = std::env::temp_dir();
            // Unix socket paths are limited to ~100 bytes.
            if cfg!(unix) && tmp.as_os_str().len() > 60 {
                PathBuf::from("/tmp")
            } else {
                tmp
            }
        }
    };
    let name = format!(
        "smcp-pg-{}-{:08x}",
        std::process::id(),
        rand::random::<u32>()
    );
    let dir = parent.join(name);
    std::fs::create_dir(&dir).map_err(|source| ClusterError::Io {
        action: format!("creating {}", dir.display()),
        source,
    })?;
    let restrict = || -> io::Result<()> {
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))?;
            if let Some((uid, gid)) = run_as {
                std::os::unix::fs::chown(&dir, Some(uid), Some(gid))?;
            }
        }
        #[cfg(not(unix))]
        let _ = run_as;
        Ok(())
    };
    if let Err(source) = restrict() {
        let _ = std::fs::remove_dir_all(&dir);
        return Err(ClusterError::Io {
            action: format!("setting ownership and permissions of {}", dir.display()),
            source,
        });
    }
    Ok(dir)
}

/// Whether the effective user is root.
fn is_root() -> bool {
    if !cfg!(unix) {
        return false;
    }
    if let Ok(status) = std::fs::read_to_string("/proc/self/status") {
        for line in status.lines() {
            if let Some(rest) = line.strip_prefix("Uid:") {
                // real, effective, saved, filesystem
                return rest.split_whitespace().nth(1) == Some("0");
            }
        }
    }
    Command::new("id")
        .arg("-u")
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .map(|out| String::from_utf8_lossy(&out.stdout).trim() == "0")
        .unwrap_or(false)
}

/// uid and gid of `nobody`.
fn unprivileged_ids() -> Result<(u32, u32), ClusterError> {
    if let Ok(passwd) = std::fs::read_to_string("/etc/passwd") {
        for line in passwd.lines() {
            let fields: Vec<&str> = line.split(':').collect();
            if fields.first() == Some(&"nobody")
                && let (Some(Ok(uid)), Some(Ok(gid))) = (
                    fields.get(2).map(|f| f.parse::<u32>()),
                    fields.get(3).map(|f| f.parse::<u32>()),
                )
            {
                return Ok((uid, gid));
            }
        }
    }
    let id = |flag: &str| -> Option<u32> {
        let out = Command::new("id")
            .args([flag, "nobody"])
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .output()
            .ok()?;
        String::from_utf8_lossy(&out.stdout).trim().parse().ok()
    };
    match (id("-u"), id("-g")) {
        (Some(uid), Some(gid)) if uid != 0 => Ok((uid, gid)),
        _ => Err(ClusterError::NoUnprivilegedUser {
            detail: "neither /etc/passwd nor `id nobody` has it".into(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_sort_numerically() {
        let mut keys = ["9.6", "16", "15", "latest"]
            .iter()
            .map(|v| version_key(v).unwrap())
            .collect::<Vec<_>>();
        keys.sort();
        assert_eq!(keys, vec![vec![9, 6], vec![15], vec![16], vec![u64::MAX]]);
        assert_eq!(version_key("main"), None);
    }

    #[test]
    fn tails() {
        assert_eq!(tail_lines("a\nb\nc\n", 2), "b\nc");
        assert_eq!(tail_lines("", 2), "");
    }
}
