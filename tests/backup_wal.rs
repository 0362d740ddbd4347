//! Incremental backups by WAL archiving and point-in-time recovery, against
//! real PostgreSQL clusters (`TempCluster`, whose pg_hba.conf allows
//! replication): a base backup and the archiver through the MCP server, a
//! recovery to a moment between two batches checked by starting PostgreSQL
//! on the prepared directory; and the plan's refusals (a gap, a target
//! before the first base backup or past the archive, a wrong passphrase, a
//! non-empty directory), what reachability says when WAL is not reachable.
//!
//! When the tests run as root, PostgreSQL runs as `nobody` (as in
//! `TempCluster`): the test then hands the prepared directory and the
//! archive to that user. Every wait is a poll with a bounded deadline.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use common::*;
use serde_json::{Value, json};
use supabase_mcp::backup::basebackup::{self, BaseBackupRequest};
use supabase_mcp::backup::crypt::KeySource;
use supabase_mcp::backup::pgtools;
use supabase_mcp::backup::wal::{self, ArchiverOptions, PlanRequest, WalArchiver, WalError};
use supabase_mcp::cli::Options;
use supabase_mcp::config::Config;
use supabase_mcp::db::connstr::ConnParams;
use supabase_mcp::pg::cluster::find_binaries;
use supabase_mcp::pg::{ClusterOptions, TempCluster};
use tokio_util::sync::CancellationToken;

const PASS: &str = "a long and secret backup passphrase";

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status").is_ok_and(|s| {
        s.lines()
            .find_map(|l| l.strip_prefix("Uid:"))
            .and_then(|r| r.split_whitespace().nth(1))
            == Some("0")
    })
}

/// uid and gid of `nobody` (the user TempCluster runs PostgreSQL as under root).
fn nobody() -> (u32, u32) {
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap();
    for line in passwd.lines() {
        let f: Vec<&str> = line.split(':').collect();
        if f[0] == "nobody" {
            return (f[2].parse().unwrap(), f[3].parse().unwrap());
        }
    }
    panic!("no nobody user");
}

/// A working directory under /tmp that PostgreSQL's user can traverse.
fn work_dir() -> tempfile::TempDir {
    let d = tempfile::Builder::new()
        .prefix("smcp-wal-")
        .tempdir_in("/tmp")
        .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(d.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    d
}

/// Lets PostgreSQL's user read the archive and own the prepared directory.
fn hand_over(archive: &Path, data_dir: &Path) {
    if !is_root() {
        return;
    }
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(archive, std::fs::Permissions::from_mode(0o755)).unwrap();
    for f in std::fs::read_dir(archive).unwrap() {
        let p = f.unwrap().path();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    let (uid, gid) = nobody();
    fn chown_all(p: &Path, uid: u32, gid: u32) {
        std::os::unix::fs::lchown(p, Some(uid), Some(gid)).unwrap();
        if p.is_dir() && !p.is_symlink() {
            for f in std::fs::read_dir(p).unwrap() {
                chown_all(&f.unwrap().path(), uid, gid);
            }
        }
    }
    chown_all(data_dir, uid, gid);
}

async fn start_cluster() -> TempCluster {
    TempCluster::start(ClusterOptions::default()).await.unwrap()
}

async fn client(url: &str) -> tokio_postgres::Client {
    supabase_mcp::pg::connect(url, Duration::from_secs(10))
        .await
        .unwrap()
}

/// The server's clock, RFC 3339 in UTC.
async fn server_now(c: &tokio_postgres::Client) -> DateTime<Utc> {
    let row = c
        .query_one(
            "SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')",
            &[],
        )
        .await
        .unwrap();
    let s: String = row.get(0);
    s.parse().unwrap()
}

/// Finishes the current WAL segment and returns its name.
async fn switch_wal(c: &tokio_postgres::Client) -> String {
    c.query_one("SELECT pg_walfile_name(pg_switch_wal())", &[])
        .await
        .unwrap()
        .get(0)
}

/// Waits until the archive holds the complete segment `name`.
async fn wait_archived(archive: &Path, name: &str) {
    let deadline = Instant::now() + Duration::from_secs(90);
    while !archive.join(name).is_file() {
        assert!(
            Instant::now() < deadline,
            "segment {name} was not archived in {}: {:?}",
            archive.display(),
            std::fs::read_dir(archive)
                .map(|d| d.flatten().map(|e| e.file_name()).collect::<Vec<_>>())
                .ok()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A PostgreSQL started on a prepared data directory.
struct Recovered {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl Recovered {
    fn start(data_dir: &Path, log: PathBuf) -> Recovered {
        let bins = find_binaries(None).unwrap();
        let port = std::net::TcpListener::bind(("127.0.0.1", 0))
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let out = std::fs::File::create(&log).unwrap();
        let err = out.try_clone().unwrap();
        let mut cmd = Command::new(&bins.postgres);
        cmd.arg("-D")
            .arg(data_dir)
            .arg("-p")
            .arg(port.to_string())
            .arg("-c")
            .arg("listen_addresses=127.0.0.1")
            .arg("-c")
            .arg(format!("unix_socket_directories={}", data_dir.display()))
            .current_dir(data_dir)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .env_remove("PGDATA")
            .env_remove("PGPORT");
        if is_root() {
            use std::os::unix::process::CommandExt;
            let (uid, gid) = nobody();
            cmd.uid(uid).gid(gid);
        }
        Recovered {
            child: cmd.spawn().unwrap(),
            port,
            log,
        }
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until recovery ended and the server accepts writes.
    async fn wait_promoted(&mut self) -> tokio_postgres::Client {
        let url = format!("postgres://postgres@127.0.0.1:{}/postgres", self.port);
        let deadline = Instant::now() + Duration::from_secs(180);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!(
                    "the recovered server exited ({status}):\n{}",
                    self.log_text()
                );
            }
            if let Ok(c) = supabase_mcp::pg::connect(&url, Duration::from_secs(2)).await
                && let Ok(row) = c.query_one("SELECT pg_is_in_recovery()", &[]).await
                && !row.get::<_, bool>(0)
            {
                return c;
            }
            assert!(
                Instant::now() < deadline,
                "recovery did not finish:\n{}",
                self.log_text()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    fn stop(mut self) {
        let _ = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.child.try_wait().unwrap().is_none() {
            if Instant::now() > deadline {
                let _ = self.child.kill();
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.wait();
    }
}

fn ok(r: &Value) -> Value {
    assert_eq!(status(r), "ok", "{r}");
    data(r).clone()
}

async fn count(c: &tokio_postgres::Client, batch: &str) -> i64 {
    c.query_one(
        "SELECT count(*) FROM public.events WHERE batch = $1",
        &[&batch],
    )
    .await
    .unwrap()
    .get(0)
}

#[tokio::test(flavor = "multi_thread")]
async fn pitr_recovers_to_the_target_time() {
    let cluster = start_cluster().await;
    let db = client(&cluster.url()).await;
    db.batch_execute("CREATE TABLE public.events (id int, batch text)")
        .await
        .unwrap();
    let work = work_dir();
    let backups = work.path().join("backups");
    let archive = work.path().join("wal");
    let url = cluster.url();
    let (b, a) = (backups.display().to_string(), archive.display().to_string());
    let mut s = Server::start_with_env(
        None,
        &[
            "--features",
            "backups",
            "--db-url",
            &url,
            "--backup-dir",
            &b,
            "--wal-archive-dir",
            &a,
        ],
        &[("SUPABASE_MCP_BACKUP_PASSPHRASE", PASS)],
    )
    .await;
    s.client.timeout = Duration::from_secs(300);

    // serve starts the archiver once it finds WAL reachable.
    let deadline = Instant::now() + Duration::from_secs(90);
    let status_data = loop {
        let d = ok(&s.call("wal_archive_status", json!({})).await);
        if d["serve_archiving"]["running"] == json!(true) {
            break d;
        }
        assert!(
            Instant::now() < deadline,
            "serve did not start archiving: {d}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(status_data["reachable"], json!(true), "{status_data}");
    assert_eq!(status_data["serve_archiving"]["configured"], json!(true));

    let d = ok(&s
        .call(
            "create_base_backup",
            json!({"compression": "zstd", "tags": ["pitr"]}),
        )
        .await);
    let base = &d["backup"];
    let base_id = base["id"].as_str().unwrap().to_owned();
    assert_eq!(base["kind"]["type"], "base", "{d}");
    assert_eq!(base["encryption"]["algorithm"], "aes-256-gcm", "{d}");
    assert_eq!(base["compression"], "zstd:3");
    assert!(
        base["base"]["start_wal_file"].as_str().unwrap().len() == 24,
        "{d}"
    );
    assert!(base["base"]["stop_lsn"].is_string(), "{d}");
    assert_eq!(d["archiving"], json!(true), "{d}");
    let stored = std::fs::read(d["path"].as_str().unwrap()).unwrap();
    assert!(
        !stored.windows(10).any(|w| w == b"PG_VERSION"),
        "the file must be encrypted"
    );

    // The base backup verifies; restore_backup refuses it and says what to use.
    let v = ok(&s.call("verify_backup", json!({"id": base_id})).await);
    assert_eq!(v["ok"], json!(true), "{v}");
    let r = s
        .call(
            "restore_backup",
            json!({"id": base_id, "new_database": "nope"}),
        )
        .await;
    assert!(is_error(&r), "{r}");
    assert!(text(&r).contains("plan_pitr"), "{r}");

    db.batch_execute("INSERT INTO public.events SELECT g, 'A' FROM generate_series(1, 100) g")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let target = server_now(&db).await;
    db.batch_execute("INSERT INTO public.events SELECT g, 'B' FROM generate_series(1, 50) g")
        .await
        .unwrap();
    let seg = switch_wal(&db).await;
    wait_archived(&archive, &seg).await;

    let t = target.to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    let p = ok(&s.call("plan_pitr", json!({"target_time": t})).await);
    let plan = &p["plan"];
    assert_eq!(plan["base_backup"]["id"], base_id.as_str(), "{p}");
    assert_eq!(plan["wal"]["confirmed_by_waldump"], json!(true), "{p}");
    assert_eq!(plan["wal"]["last_segment"], seg.as_str(), "{p}");
    assert!(
        plan["auto_conf"]
            .as_str()
            .unwrap()
            .contains("recovery_target_action = 'promote'"),
        "{p}"
    );
    assert!(plan["steps"].as_array().unwrap().len() >= 5, "{p}");

    let restored = work.path().join("restored");
    let r = ok(&s
        .call(
            "prepare_pitr",
            json!({"target_time": t, "data_dir": restored.display().to_string()}),
        )
        .await);
    assert_eq!(r["prepared"]["base_backup"], base_id.as_str(), "{r}");
    assert!(restored.join("recovery.signal").is_file());
    assert!(restored.join("PG_VERSION").is_file());

    // The archive status sees the segments and the last commit.
    let st = ok(&s.call("wal_archive_status", json!({})).await);
    assert!(st["archive"]["segments"].as_u64().unwrap() >= 1, "{st}");
    assert!(st["archive"]["last_commit"].is_string(), "{st}");

    hand_over(&archive, &restored);
    let mut pg = Recovered::start(&restored, work.path().join("recovered.log"));
    let rc = pg.wait_promoted().await;
    let (a_rows, b_rows) = (count(&rc, "A").await, count(&rc, "B").await);
    let log = pg.log_text();
    drop(rc);
    pg.stop();
    assert_eq!(a_rows, 100, "batch A is before the target\n{log}");
    assert_eq!(b_rows, 0, "batch B is after the target\n{log}");
    assert!(log.contains("recovery stopping before commit"), "{log}");

    let _ = s.client.shutdown().await;
    // serve stopped the archiver, and the audit log says when it ran.
    let audit = std::fs::read_to_string(s.data_dir.path().join("audit.jsonl")).unwrap();
    let events: Vec<Value> = audit
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["tool"] == "wal_archiver")
        .collect();
    assert!(
        events.iter().any(|e| e["arguments"]["event"] == "started"),
        "{audit}"
    );
    assert!(
        events.iter().any(|e| e["arguments"]["event"] == "stopped"),
        "{audit}"
    );
    drop(db);
    cluster.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn the_plan_refuses_what_cannot_be_recovered() {
    let cluster = start_cluster().await;
    let db = client(&cluster.url()).await;
    db.batch_execute("CREATE TABLE public.events (id int, batch text)")
        .await
        .unwrap();
    let work = work_dir();
    let backups = work.path().join("backups");
    let archive = work.path().join("wal");
    let config = Config::resolve(
        &Options {
            db_url: Some(cluster.url()),
            backup_dir: Some(backups.clone()),
            backup_passphrase: Some(PASS.into()),
            data_dir: Some(work.path().join("data")),
            ..Options::default()
        },
        None,
    )
    .unwrap();
    let cfg = &config.backup;
    let conn = ConnParams::parse(&cluster.url()).unwrap();
    let tools = pgtools::find(None, 15).await.unwrap();
    let waldump = tools.pg_waldump.as_ref().map(|t| t.path.clone());
    let archiver = WalArchiver::start(
        ArchiverOptions::new(
            tools.pg_receivewal.as_ref().unwrap().path.clone(),
            conn.clone(),
            archive.clone(),
            "test_archive".into(),
        ),
        |_| {},
    )
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !archiver.status().running {
        assert!(Instant::now() < deadline, "{:?}", archiver.status());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let entry = basebackup::create_base_backup(
        cfg,
        "default",
        &conn,
        &BaseBackupRequest {
            compression: "zstd".parse().unwrap(),
            encrypt: true,
            tags: vec![],
        },
        &CancellationToken::new(),
        |_| {},
    )
    .await
    .unwrap();
    let info = entry.base_info().unwrap();

    // Four segments, each with a commit; times between them.
    let mut times = Vec::new();
    let mut segs = Vec::new();
    for i in 0..4i32 {
        db.execute("INSERT INTO public.events VALUES ($1, 'x')", &[&i])
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
        times.push(server_now(&db).await);
        let seg = switch_wal(&db).await;
        wait_archived(&archive, &seg).await;
        segs.push(seg);
    }
    let key = KeySource::passphrase(PASS).unwrap();
    let stop = AtomicBool::new(false);
    let plan_at = |target: DateTime<Utc>, dir: &Path| {
        wal::plan_pitr(
            &PlanRequest {
                backup_dir: &backups,
                archive_dir: dir,
                instance: Some("default"),
                target,
                key: Some(&key),
                pg_waldump: waldump.as_deref(),
                now: Utc::now(),
            },
            &stop,
        )
    };

    // A good plan: from the base backup to the segment after times[2].
    let plan = plan_at(times[2], &archive).unwrap();
    assert_eq!(plan.base_backup.id, entry.id);
    assert!(plan.wal.confirmed_by_waldump, "{plan:?}");
    assert_eq!(plan.wal.last_segment, segs[3], "{plan:?}");

    // Before the first base backup.
    let e = plan_at(info.start_time - chrono::TimeDelta::hours(1), &archive).unwrap_err();
    assert!(matches!(e, WalError::TargetBeforeBase { .. }), "{e}");
    assert!(e.to_string().contains(&entry.id), "{e}");

    // After the end of the archive: nothing ended after this moment is archived.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let late = server_now(&db).await;
    let e = plan_at(late, &archive).unwrap_err();
    assert!(matches!(e, WalError::TargetAfterArchive { .. }), "{e}");
    assert!(
        e.to_string().contains("past the end of the WAL archive"),
        "{e}"
    );

    // A gap: a copy of the archive without a segment the plan needs.
    let gapped = work.path().join("gapped");
    std::fs::create_dir(&gapped).unwrap();
    for f in std::fs::read_dir(&archive).unwrap() {
        let p = f.unwrap().path();
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        if name.len() == 24 {
            std::fs::copy(&p, gapped.join(&name)).unwrap();
        }
    }
    let in_base = info
        .wal_included
        .as_ref()
        .map(|(_, b)| b.clone())
        .unwrap_or_default();
    let missing = segs
        .iter()
        .find(|s| **s > in_base && **s < plan.wal.last_segment)
        .unwrap()
        .clone();
    std::fs::remove_file(gapped.join(&missing)).unwrap();
    let e = plan_at(times[2], &gapped).unwrap_err();
    assert!(matches!(e, WalError::MissingSegment { .. }), "{e}");
    assert!(e.to_string().contains(&missing), "{e}");
    assert!(
        wal::tool_error(e)
            .suggestion
            .unwrap()
            .contains("base backup")
    );

    // A wrong passphrase: nothing is left behind.
    let wrong = KeySource::passphrase("not the passphrase at all").unwrap();
    let target_dir = work.path().join("pitr-wrong-key");
    let e = wal::prepare_pitr(&plan, &target_dir, Some(&wrong), &stop).unwrap_err();
    assert!(matches!(e, WalError::WrongKey { .. }), "{e}");
    assert!(!target_dir.exists(), "the directory it created is removed");
    let e = wal::plan_pitr(
        &PlanRequest {
            backup_dir: &backups,
            archive_dir: &archive,
            instance: Some("default"),
            target: times[2],
            key: Some(&wrong),
            pg_waldump: waldump.as_deref(),
            now: Utc::now(),
        },
        &stop,
    )
    .unwrap_err();
    assert!(matches!(e, WalError::WrongKey { .. }), "{e}");

    // A non-empty directory is refused and left as it was.
    let busy = work.path().join("busy");
    std::fs::create_dir(&busy).unwrap();
    std::fs::write(busy.join("keep.txt"), b"mine").unwrap();
    let e = wal::prepare_pitr(&plan, &busy, Some(&key), &stop).unwrap_err();
    assert!(matches!(e, WalError::NotEmpty { .. }), "{e}");
    assert_eq!(std::fs::read(busy.join("keep.txt")).unwrap(), b"mine");

    // The right key into an empty directory works.
    let empty = work.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let p = wal::prepare_pitr(&plan, &empty, Some(&key), &stop).unwrap();
    assert!(p.files > 10, "{p:?}");
    let auto = std::fs::read_to_string(empty.join("postgresql.auto.conf")).unwrap();
    assert!(
        auto.contains("recovery_target_timeline = 'latest'"),
        "{auto}"
    );

    // The archive listing: segments, no gap, the partial one.
    let mut l = wal::list_archive(&archive, None).unwrap();
    assert!(l.gaps.is_empty(), "{l:?}");
    assert!(l.partial.is_some(), "{l:?}");
    if let Some(w) = &waldump {
        wal::find_last_commit(&mut l, w).unwrap();
        assert!(l.last_commit.is_some_and(|t| t > times[2]), "{l:?}");
    }

    let st = archiver.stop().await;
    assert!(st.stopped && !st.running, "{st:?}");
    drop(db);
    cluster.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn reachability_says_plainly_why_wal_is_not_reachable() {
    let cluster = start_cluster().await;
    let db = client(&cluster.url()).await;
    db.batch_execute("CREATE ROLE app LOGIN").await.unwrap();
    let tools = pgtools::find(None, 15).await.unwrap();
    let psql = tools.psql.path.clone();

    let admin = ConnParams::parse(&cluster.url()).unwrap();
    let r = wal::reachability(&admin, Some(&psql), Some("nothing_here")).await;
    assert!(r.reachable, "{r:?}");
    assert!(r.replication_connection.as_ref().unwrap().ok, "{r:?}");
    assert!(!r.slot.as_ref().unwrap().exists);

    let app = ConnParams::parse(&format!(
        "postgres://app@127.0.0.1:{}/postgres",
        cluster.port()
    ))
    .unwrap();
    let r = wal::reachability(&app, Some(&psql), None).await;
    assert!(!r.reachable, "{r:?}");
    assert!(
        r.reasons
            .iter()
            .any(|x| x.contains("role app lacks the REPLICATION attribute")),
        "{r:?}"
    );
    assert!(
        r.suggestion
            .as_ref()
            .unwrap()
            .contains("ALTER ROLE \"app\" WITH REPLICATION"),
        "{r:?}"
    );

    // With REPLICATION, but pg_hba.conf without replication lines.
    db.batch_execute("ALTER ROLE app WITH REPLICATION")
        .await
        .unwrap();
    let hba = cluster.data_dir().join("pg_hba.conf");
    let text = std::fs::read_to_string(&hba).unwrap();
    let kept: String = text
        .lines()
        .filter(|l| !l.contains("replication"))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&hba, kept).unwrap();
    db.batch_execute("SELECT pg_reload_conf()").await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let r = loop {
        let r = wal::reachability(&app, Some(&psql), None).await;
        if !r.reachable || Instant::now() > deadline {
            break r;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(!r.reachable, "{r:?}");
    assert!(
        r.reasons
            .iter()
            .any(|x| x.contains("pg_hba.conf refuses replication")),
        "{r:?}"
    );
    drop(db);
    cluster.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn cloud_urls_are_not_reachable_and_say_what_to_use() {
    let url = "postgres://postgres:pw@db.abcdefghijklmnopqrst.supabase.co:5432/postgres";
    let r = wal::reachability(&ConnParams::parse(url).unwrap(), None, None).await;
    assert!(!r.reachable && r.cloud && !r.connected, "{r:?}");
    assert!(
        r.reasons[0].contains("does not expose physical replication"),
        "{r:?}"
    );
    assert!(
        r.suggestion
            .as_ref()
            .unwrap()
            .contains("restore_cloud_pitr"),
        "{r:?}"
    );

    // Through the tools: the status says so; a base backup is refused.
    let work = work_dir();
    let b = work.path().join("b").display().to_string();
    let mut s = Server::start(
        None,
        &["--features", "backups", "--db-url", url, "--backup-dir", &b],
    )
    .await;
    let d = ok(&s.call("wal_archive_status", json!({})).await);
    assert_eq!(d["reachable"], json!(false), "{d}");
    assert_eq!(d["reachability"]["cloud"], json!(true), "{d}");
    assert!(
        d["suggestion"]
            .as_str()
            .unwrap()
            .contains("list_cloud_backups"),
        "{d}"
    );
    let r = s.call("create_base_backup", json!({})).await;
    assert!(is_error(&r), "{r}");
    assert!(text(&r).contains("not reachable"), "{r}");
    let r = s
        .call("plan_pitr", json!({"target_time": "2020-01-01T00:00:00Z"}))
        .await;
    assert!(is_error(&r), "{r}");
    assert!(text(&r).contains("no base backup"), "{r}");
    let _ = s.client.shutdown().await;

    // The commands: a plan without a base backup fails plainly; `backup wal`
    // refuses a cloud URL instead of waiting.
    for args in [
        vec![
            "backup",
            "pitr-plan",
            "--target-time",
            "2020-01-01T00:00:00Z",
        ],
        vec!["backup", "wal"],
    ] {
        let mut cmd = std::process::Command::new(bin());
        for (k, _) in std::env::vars() {
            if k.starts_with("SUPABASE_") || k == "DATABASE_URL" {
                cmd.env_remove(k);
            }
        }
        let out = cmd
            .args(&args)
            .args(["--db-url", url, "--backup-dir", &b])
            .arg("--data-dir")
            .arg(work.path().join("data"))
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(!out.status.success(), "{args:?}: {text}");
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["status"], "error", "{v}");
        let msg = v["error"].to_string();
        assert!(
            msg.contains("no base backup") || msg.contains("not reachable"),
            "{args:?}: {v}"
        );
    }
}
