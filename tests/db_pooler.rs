//! Pooled mode against a real transaction-mode pooler: each test starts its
//! own PgBouncer (`pool_mode = transaction`, two server connections per
//! database) in front of a fresh test database and connects the server with
//! `?pgbouncer=true`. Many client sessions then share two server
//! connections, so anything that relies on a named prepared statement
//! surviving past its transaction fails with "prepared statement ... does not
//! exist" or "... already exists".
//!
//! PgBouncer must be installed (`.ci/run` installs it): without it these
//! tests fail, they do not skip.

mod common;

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use serde_json::{Value, json};
use supabase_mcp::db::connstr::ConnParams;
use supabase_mcp::pg::testdb::TestDb;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{ChildStdin, ChildStdout};
use tokio_postgres::types::Type;
use tokio_postgres::{NoTls, SimpleQueryMessage};

/// Concurrent calls per burst: far more than PgBouncer's server connections.
const BURST: i64 = 30;
/// PgBouncer's `default_pool_size`: server connections per database.
const SERVER_CONNS: u32 = 2;
/// The MCP server's `--pool-size`: client connections to PgBouncer.
const CLIENT_CONNS: &str = "10";

// ---------------------------------------------------------------------------
// PgBouncer
// ---------------------------------------------------------------------------

/// The pgbouncer binary: on PATH, or where Debian installs it.
fn pgbouncer_bin() -> PathBuf {
    let on_path = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default();
    on_path
        .into_iter()
        .chain(["/usr/sbin".into(), "/usr/local/sbin".into(), "/usr/local/bin".into()])
        .map(|dir| dir.join("pgbouncer"))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "pgbouncer is not installed (not on PATH, not in /usr/sbin): these tests need a real \
                 transaction-mode pooler. Install it (Debian/Ubuntu: apt-get install pgbouncer; \
                 .ci/run does) and run them again."
            )
        })
}

/// Whether this process runs as root (PgBouncer refuses to).
fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .map(|ids| ids.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false)
}

/// uid and gid of `nobody`, who runs PgBouncer when the tests run as root.
fn nobody_ids() -> (u32, u32) {
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap();
    passwd
        .lines()
        .map(|l| l.split(':').collect::<Vec<_>>())
        .find(|f| f.first() == Some(&"nobody"))
        .and_then(|f| Some((f.get(2)?.parse().ok()?, f.get(3)?.parse().ok()?)))
        .expect("running as root, PgBouncer needs the user `nobody`")
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind(("127.0.0.1", 0)).unwrap();
    l.local_addr().unwrap().port()
}

/// A PgBouncer process in transaction mode in front of the test server;
/// killed when dropped.
struct Bouncer {
    child: Child,
    port: u16,
    user: String,
    dir: tempfile::TempDir,
}

impl Drop for Bouncer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Bouncer {
    /// Starts PgBouncer with `pool_size` server connections per database,
    /// forwarding every database to the server of `db`, and waits until it
    /// accepts connections.
    async fn start(db: &TestDb, pool_size: u32) -> Bouncer {
        let bin = pgbouncer_bin();
        let upstream = ConnParams::parse(&db.url).unwrap();
        let user = upstream.user_or_default().to_owned();
        let mut last_log = String::new();
        for _attempt in 0..5 {
            let dir = tempfile::tempdir().unwrap();
            let port = free_port();
            let quote = |s: &str| s.replace('"', "\"\"");
            std::fs::write(
                dir.path().join("users.txt"),
                format!(
                    "\"{}\" \"{}\"\n",
                    quote(&user),
                    quote(upstream.password.as_ref().map(|p| p.expose()).unwrap_or(""))
                ),
            )
            .unwrap();
            let ini = format!(
                "[databases]\n\
                 * = host={host} port={upstream_port}\n\
                 \n\
                 [pgbouncer]\n\
                 listen_addr = 127.0.0.1\n\
                 listen_port = {port}\n\
                 unix_socket_dir =\n\
                 auth_type = trust\n\
                 auth_file = {auth}\n\
                 admin_users = {user}\n\
                 pool_mode = transaction\n\
                 default_pool_size = {pool_size}\n\
                 min_pool_size = 0\n\
                 reserve_pool_size = 0\n\
                 max_client_conn = 1000\n\
                 server_reset_query =\n\
                 ignore_startup_parameters = extra_float_digits,options\n",
                host = upstream.host,
                upstream_port = upstream.port,
                auth = dir.path().join("users.txt").display(),
            );
            let ini_path = dir.path().join("pgbouncer.ini");
            std::fs::write(&ini_path, ini).unwrap();
            let log_path = dir.path().join("pgbouncer.log");
            let log = std::fs::File::create(&log_path).unwrap();
            let mut cmd = Command::new(&bin);
            if is_root() {
                let (uid, gid) = nobody_ids();
                for p in [
                    dir.path().to_path_buf(),
                    ini_path.clone(),
                    dir.path().join("users.txt"),
                ] {
                    std::os::unix::fs::chown(&p, Some(uid), Some(gid)).unwrap();
                }
                cmd.args(["-u", "nobody"]);
            }
            let child = cmd
                .arg(&ini_path)
                .stdin(Stdio::null())
                .stdout(log.try_clone().unwrap())
                .stderr(log)
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
            let mut b = Bouncer {
                child,
                port,
                user: user.clone(),
                dir,
            };
            match b.wait_ready().await {
                Ok(()) => return b,
                Err(log) if log.contains("in use") => last_log = log, // port taken meanwhile: retry
                Err(log) => panic!("PgBouncer did not start; its log:\n{log}"),
            }
        }
        panic!("PgBouncer did not start on a free port; its last log:\n{last_log}");
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("pgbouncer.log")).unwrap_or_default()
    }

    /// Waits until the admin console answers; `Err(log)` when PgBouncer exited.
    async fn wait_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("(exited: {status})\n{}", self.log()));
            }
            if self.admin_query("SHOW VERSION").await.is_ok() {
                return Ok(());
            }
            if Instant::now() > deadline {
                panic!(
                    "PgBouncer does not accept connections on port {}; its log:\n{}",
                    self.port,
                    self.log()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn config(&self, dbname: &str) -> tokio_postgres::Config {
        let mut c = tokio_postgres::Config::new();
        c.host("127.0.0.1")
            .port(self.port)
            .user(&self.user)
            .dbname(dbname)
            .connect_timeout(Duration::from_secs(5));
        c
    }

    /// A plain client through PgBouncer.
    async fn connect(&self, dbname: &str) -> tokio_postgres::Client {
        let (client, conn) = self
            .config(dbname)
            .connect(NoTls)
            .await
            .unwrap_or_else(|e| panic!("connecting through PgBouncer: {e}\n{}", self.log()));
        tokio::spawn(async move {
            let _ = conn.await;
        });
        client
    }

    /// Rows of an admin console command (`SHOW POOLS`...), as column → value.
    async fn admin_query(&self, sql: &str) -> Result<Vec<HashMap<String, String>>, String> {
        let (client, conn) = self
            .config("pgbouncer")
            .connect(NoTls)
            .await
            .map_err(|e| e.to_string())?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        let msgs = client.simple_query(sql).await.map_err(|e| e.to_string())?;
        Ok(msgs
            .iter()
            .filter_map(|m| match m {
                SimpleQueryMessage::Row(r) => Some(
                    r.columns()
                        .iter()
                        .enumerate()
                        .map(|(i, c)| (c.name().to_owned(), r.get(i).unwrap_or("").to_owned()))
                        .collect(),
                ),
                _ => None,
            })
            .collect())
    }

    /// The database URL the MCP server gets: through PgBouncer, flagged as
    /// a transaction-mode pooler.
    fn url(&self, db: &TestDb) -> String {
        format!(
            "postgres://{}@127.0.0.1:{}/{}?pgbouncer=true",
            self.user, self.port, db.name
        )
    }

    /// (client connections, server connections) of the pool for `dbname`.
    async fn pool_counts(&self, dbname: &str) -> (u32, u32) {
        let rows = self.admin_query("SHOW POOLS").await.unwrap();
        let row = rows
            .iter()
            .find(|r| r.get("database").map(String::as_str) == Some(dbname))
            .unwrap_or_else(|| panic!("no pool for {dbname}: {rows:?}"));
        let n = |k: &str| -> u32 { row.get(k).and_then(|v| v.parse().ok()).unwrap_or(0) };
        (
            n("cl_active") + n("cl_waiting"),
            n("sv_active") + n("sv_idle") + n("sv_used") + n("sv_tested") + n("sv_login"),
        )
    }
}

// ---------------------------------------------------------------------------
// An MCP session with many calls in flight
// ---------------------------------------------------------------------------

/// `supabase-mcp serve` over stdio. Unlike [`Server`], it keeps every
/// response, so many calls can be in flight at once.
struct Session {
    _child: tokio::process::Child,
    stdin: ChildStdin,
    lines: Lines<BufReader<ChildStdout>>,
    next_id: i64,
    _data_dir: tempfile::TempDir,
}

impl Session {
    async fn start(db_url: &str, extra: &[&str]) -> Session {
        let data_dir = tempfile::tempdir().unwrap();
        let mut cmd = tokio::process::Command::new(bin());
        for (k, _) in std::env::vars() {
            if k.starts_with("SUPABASE_") || k == "DATABASE_URL" || k.starts_with("DOKPLOY_") {
                cmd.env_remove(k);
            }
        }
        cmd.args(["serve", "--data-dir"])
            .arg(data_dir.path())
            .args(["--db-url", db_url])
            .args(extra)
            .envs(clean_env())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(if std::env::var_os("SMCP_TEST_STDERR").is_some() {
                Stdio::inherit()
            } else {
                Stdio::null()
            })
            .kill_on_drop(true);
        let mut child = cmd.spawn().unwrap();
        let stdin = child.stdin.take().unwrap();
        let lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut s = Session {
            _child: child,
            stdin,
            lines,
            next_id: 1,
            _data_dir: data_dir,
        };
        let id = s
            .send(
                "initialize",
                json!({"protocolVersion": "2025-11-25", "capabilities": {},
                       "clientInfo": {"name": "db_pooler", "version": "1"}}),
            )
            .await;
        s.responses(&[id]).await;
        s.write(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
            .await;
        s
    }

    async fn write(&mut self, msg: &Value) {
        let mut line = msg.to_string();
        line.push('\n');
        self.stdin.write_all(line.as_bytes()).await.unwrap();
        self.stdin.flush().await.unwrap();
    }

    async fn send(&mut self, method: &str, params: Value) -> i64 {
        let id = self.next_id;
        self.next_id += 1;
        self.write(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}))
            .await;
        id
    }

    /// The results of the requests `ids`, in that order.
    async fn responses(&mut self, ids: &[i64]) -> Vec<Value> {
        let mut got: HashMap<i64, Value> = HashMap::new();
        let deadline = Duration::from_secs(120);
        tokio::time::timeout(deadline, async {
            while ids.iter().any(|id| !got.contains_key(id)) {
                let line = self
                    .lines
                    .next_line()
                    .await
                    .unwrap()
                    .expect("the server closed stdout");
                if line.trim().is_empty() {
                    continue;
                }
                let v: Value = serde_json::from_str(&line).unwrap();
                if let Some(id) = v.get("id").and_then(Value::as_i64) {
                    assert!(v.get("error").is_none(), "protocol error: {v}");
                    got.insert(id, v["result"].clone());
                }
            }
        })
        .await
        .unwrap_or_else(|_| panic!("no answer to all of {ids:?} within {deadline:?}"));
        ids.iter().map(|id| got.remove(id).unwrap()).collect()
    }

    async fn call(&mut self, tool: &str, args: Value) -> Value {
        self.call_all(vec![(tool, args)]).await.remove(0)
    }

    /// Sends all calls at once, then waits for every result.
    async fn call_all(&mut self, calls: Vec<(&str, Value)>) -> Vec<Value> {
        let mut ids = Vec::with_capacity(calls.len());
        for (tool, args) in calls {
            ids.push(
                self.send("tools/call", json!({"name": tool, "arguments": args}))
                    .await,
            );
        }
        self.responses(&ids).await
    }
}

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

async fn server_version_num(admin: &tokio_postgres::Client) -> i32 {
    admin
        .query_one("select current_setting('server_version_num')::int", &[])
        .await
        .unwrap()
        .get(0)
}

/// A number as `execute_sql` returns it: a JSON number when the column
/// type is known, else the text PostgreSQL sent.
fn num(typed: bool, n: i64) -> Value {
    if typed {
        json!(n)
    } else {
        json!(n.to_string())
    }
}

fn types(r: &Value) -> Vec<Value> {
    data(r)["columns"]
        .as_array()
        .unwrap_or_else(|| panic!("no columns: {r}"))
        .iter()
        .map(|c| c["type"].clone())
        .collect()
}

fn warnings(r: &Value) -> String {
    r["structuredContent"]["warnings"].to_string()
}

async fn setup_items(db: &TestDb) -> tokio_postgres::Client {
    let admin = db.client().await.unwrap();
    admin
        .batch_execute(
            "create table public.pooled_items (id int primary key, label text not null, qty int not null default 0);
             comment on table public.pooled_items is 'rows for the pooler test';
             create index pooled_items_label on public.pooled_items (label);
             insert into public.pooled_items select g, 'item ' || g, g * 10 from generate_series(1, 100) g;
             analyze public.pooled_items;",
        )
        .await
        .unwrap();
    admin
}

/// Prepared statements left on PgBouncer's server connections for `dbname`
/// (`name (sql)` or `name (protocol)`): two clients each hold a
/// transaction, so together they see both server connections.
async fn leftover_statements(bouncer: &Bouncer, dbname: &str) -> Vec<String> {
    assert_eq!(SERVER_CONNS, 2);
    let first_text = |msgs: Vec<SimpleQueryMessage>| -> Vec<String> {
        msgs.into_iter()
            .filter_map(|m| match m {
                SimpleQueryMessage::Row(r) => r.get(0).map(str::to_owned),
                _ => None,
            })
            .collect()
    };
    let clients = [bouncer.connect(dbname).await, bouncer.connect(dbname).await];
    for c in &clients {
        c.batch_execute("BEGIN").await.unwrap();
    }
    let mut pids = Vec::new();
    let mut names = Vec::new();
    for c in &clients {
        pids.extend(first_text(
            c.simple_query("select pg_backend_pid()::text")
                .await
                .unwrap(),
        ));
        names.extend(first_text(
            c.simple_query(
                "select name || case when from_sql then ' (sql)' else ' (protocol)' end \
                 from pg_prepared_statements",
            )
            .await
            .unwrap(),
        ));
    }
    for c in &clients {
        c.batch_execute("ROLLBACK").await.unwrap();
    }
    assert!(
        pids.len() == 2 && pids[0] != pids[1],
        "both server connections were inspected: {pids:?}"
    );
    names
}

// ---------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------

/// The control: this PgBouncer really is a transaction-mode pooler that
/// breaks named prepared statements, so the tests below prove something.
#[tokio::test(flavor = "multi_thread")]
async fn this_pooler_breaks_named_prepared_statements() {
    let db = TestDb::new().await.unwrap();
    let bouncer = Bouncer::start(&db, SERVER_CONNS).await;
    let a = bouncer.connect(&db.name).await;
    let b = bouncer.connect(&db.name).await;
    // A named statement, parsed on the one server connection there is...
    let stmt = a.prepare("select $1::int + 1").await.unwrap();
    // ...which another client's transaction now holds...
    b.batch_execute("BEGIN").await.unwrap();
    // ...so the next use runs on a second server connection that never saw it.
    let err = a.query(&stmt, &[&1i32]).await.unwrap_err();
    let msg = err.as_db_error().map(|e| e.message().to_owned());
    assert!(
        msg.as_deref()
            .is_some_and(|m| m.contains("prepared statement") && m.contains("does not exist")),
        "expected 'prepared statement ... does not exist', got {err:?}"
    );
    b.batch_execute("ROLLBACK").await.unwrap();
    // The statement stays on the server connection it was parsed on.
    let left = leftover_statements(&bouncer, &db.name).await;
    assert!(left.iter().any(|l| l.ends_with("(protocol)")), "{left:?}");
    // Unnamed statements (query_typed) and simple queries work on any server connection.
    let row = a
        .query_typed_one("select $1::int + 1", &[(&41i32, Type::INT4)])
        .await
        .unwrap();
    assert_eq!(row.get::<_, i32>(0), 42);
}

/// Why `execute_sql` does not run user SQL with `query_typed` on a pooler
/// before PostgreSQL 16: the driver resolves a result column of a
/// non-built-in type (enum, domain, extension type) with its own *named*
/// statement, cached per client, which the next transaction may not find.
#[tokio::test(flavor = "multi_thread")]
async fn query_typed_looks_up_user_types_with_named_statements() {
    let db = TestDb::new().await.unwrap();
    let admin = db.client().await.unwrap();
    admin
        .batch_execute(
            "create type public.mood as enum ('ok', 'sad'); create type public.color as enum ('red')",
        )
        .await
        .unwrap();
    let bouncer = Bouncer::start(&db, SERVER_CONNS).await;
    let a = bouncer.connect(&db.name).await;
    let b = bouncer.connect(&db.name).await;
    let c = bouncer.connect(&db.name).await;
    // b holds one server connection; a's type lookup is prepared on the other.
    b.batch_execute("BEGIN").await.unwrap();
    let rows = a
        .query_typed("select 'ok'::public.mood", &[])
        .await
        .unwrap();
    assert_eq!(rows[0].columns()[0].type_().name(), "mood");
    // c takes that one, b lets go of the first: a's next lookup lands there.
    c.batch_execute("BEGIN").await.unwrap();
    b.batch_execute("ROLLBACK").await.unwrap();
    let err = a
        .query_typed("select 'red'::public.color", &[])
        .await
        .unwrap_err();
    let msg = err.as_db_error().map(|e| e.message().to_owned());
    assert!(
        msg.as_deref()
            .is_some_and(|m| m.contains("prepared statement") && m.contains("does not exist")),
        "expected 'prepared statement ... does not exist', got {err:?}"
    );
    c.batch_execute("ROLLBACK").await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn execute_sql_through_pgbouncer_in_transaction_mode() {
    let db = TestDb::with_sample_data().await.unwrap();
    let admin = setup_items(&db).await;
    let version = server_version_num(&admin).await;
    // Before PostgreSQL 16 the result types of an SQL-level prepared
    // statement cannot be read (pg_prepared_statements.result_types is
    // new in 16), so on a pooler values come back as text, with a warning.
    let typed = version >= 160_000;
    let bouncer = Bouncer::start(&db, SERVER_CONNS).await;
    let mut s = Session::start(
        &bouncer.url(&db),
        &["--pool-size", CLIENT_CONNS, "--rate-limit", "1000"],
    )
    .await;

    // test_connection sees the pooler.
    let r = s.call("test_connection", json!({})).await;
    assert_eq!(status(&r), "ok", "{r}");
    let direct = &data(&r)["targets"][0];
    assert_eq!(direct["ok"], true, "{r}");
    assert_eq!(direct["pooled"], true, "{r}");
    assert_eq!(direct["role"], "postgres", "{r}");

    // A burst of parameterized reads, half of them read-only: more calls
    // than client connections, more client connections than server ones.
    let calls = (1..=BURST)
        .map(|i| {
            (
                "execute_sql",
                json!({
                    "query": "select id, label, qty * $2::int as scaled from public.pooled_items where id = $1::int",
                    "params": [i, 3],
                    "read_only": i % 2 == 0,
                }),
            )
        })
        .collect();
    let results = s.call_all(calls).await;
    for (i, r) in (1..=BURST).zip(&results) {
        assert_eq!(status(r), "ok", "call {i}: {r}\n{}", bouncer.log());
        let d = data(r);
        assert_eq!(d["row_count"], 1, "{r}");
        assert_eq!(
            d["rows"][0],
            json!({"id": num(typed, i), "label": format!("item {i}"), "scaled": num(typed, i * 30)}),
            "{r}"
        );
        assert_eq!(
            d["commands"],
            json!([{"statement": 1, "command": "SELECT", "rows": 1}])
        );
        assert_eq!(d["read_only"], i % 2 == 0);
        if typed {
            assert_eq!(
                types(r),
                [json!("integer"), json!("text"), json!("integer")]
            );
        } else {
            assert_eq!(types(r), [Value::Null, Value::Null, Value::Null], "{r}");
            assert!(
                warnings(r)
                    .contains("column types are not available through the transaction pooler"),
                "{r}"
            );
        }
    }
    // The sessions really were multiplexed.
    let (clients, servers) = bouncer.pool_counts(&db.name).await;
    assert!(servers <= SERVER_CONNS, "{servers} server connections");
    assert!(
        clients > servers,
        "{clients} client connections shared {servers} server connections"
    );

    // A burst of parameterized writes with RETURNING, every third one
    // failing on a bad value (the error path must deallocate too).
    let calls = (1..=BURST)
        .map(|i| {
            let qty = if i % 3 == 0 { json!("many") } else { json!(i) };
            (
                "execute_sql",
                json!({
                    "query": "insert into public.pooled_items (id, label, qty) values ($1, $2, $3) returning id, label",
                    "params": [1000 + i, format!("new {i}"), qty],
                }),
            )
        })
        .collect();
    let results = s.call_all(calls).await;
    for (i, r) in (1..=BURST).zip(&results) {
        if i % 3 == 0 {
            assert_eq!(error_code(r), "query_failed", "insert {i}: {r}");
            assert!(
                text(r).contains("invalid input syntax for type integer"),
                "{r}"
            );
            continue;
        }
        assert_eq!(status(r), "ok", "insert {i}: {r}\n{}", bouncer.log());
        assert_eq!(
            data(r)["rows"][0],
            json!({"id": num(typed, 1000 + i), "label": format!("new {i}")}),
            "{r}"
        );
        assert_eq!(
            data(r)["commands"],
            json!([{"statement": 1, "command": "INSERT", "rows": 1}])
        );
    }
    let row = admin
        .query_one(
            "select count(*), sum(qty)::int8 from public.pooled_items where id > 1000",
            &[],
        )
        .await
        .unwrap();
    let good: Vec<i64> = (1..=BURST).filter(|i| i % 3 != 0).collect();
    assert_eq!(
        row.get::<_, i64>(0),
        good.len() as i64,
        "every good insert committed, no bad one"
    );
    assert_eq!(row.get::<_, i64>(1), good.iter().sum::<i64>());

    // Several statements in one call: one transaction, one entry each.
    let r = s
        .call(
            "execute_sql",
            json!({"query": "insert into public.pooled_items (id, label) values (2001, 'a'), (2002, 'b');
                             update public.pooled_items set qty = 7 where id > 2000;
                             select id, qty, label from public.pooled_items where id > 2000 order by id"}),
        )
        .await;
    assert_eq!(status(&r), "ok", "{r}");
    assert_eq!(
        data(&r)["commands"],
        json!([
            {"statement": 1, "command": "INSERT", "rows": 2},
            {"statement": 2, "command": "UPDATE", "rows": 2},
            {"statement": 3, "command": "SELECT", "rows": 2},
        ])
    );
    // Only single statements are typed; a batch's rows are text everywhere.
    assert_eq!(
        data(&r)["rows"],
        json!([
            {"id": "2001", "qty": "7", "label": "a"},
            {"id": "2002", "qty": "7", "label": "b"},
        ]),
        "{r}"
    );
    // A failing statement rolls the whole call back.
    let r = s
        .call(
            "execute_sql",
            json!({"query": "delete from public.pooled_items where id = 2001; select 1/0"}),
        )
        .await;
    assert!(is_error(&r), "{r}");
    assert!(text(&r).contains("statement 2 of 2"), "{r}");
    assert!(text(&r).contains("division by zero"), "{r}");
    let r = s
        .call(
            "execute_sql",
            json!({"query": "select count(*) as n from public.pooled_items where id > 2000", "read_only": true}),
        )
        .await;
    assert_eq!(status(&r), "ok", "{r}");
    assert_eq!(data(&r)["rows"][0]["n"], num(typed, 2), "{r}");
    // A single statement without parameters also runs through SQL PREPARE.
    let r = s
        .call(
            "execute_sql",
            json!({"query": "select count(*) as n, sum(qty) as total from public.pooled_items where id <= 100"}),
        )
        .await;
    assert_eq!(status(&r), "ok", "{r}");
    assert_eq!(data(&r)["rows"][0]["n"], num(typed, 100), "{r}");
    assert_eq!(data(&r)["rows"][0]["total"], num(typed, 50_500), "{r}");

    // Nothing was left prepared on either server connection.
    let left = leftover_statements(&bouncer, &db.name).await;
    assert!(left.is_empty(), "prepared statements left behind: {left:?}");
}

/// The catalog and monitoring tools one call at a time, and `explain_query`
/// (which runs through the same SQL runner as `execute_sql`) in a burst.
#[tokio::test(flavor = "multi_thread")]
async fn introspection_and_monitoring_through_pgbouncer() {
    let db = TestDb::with_sample_data().await.unwrap();
    let _admin = setup_items(&db).await;
    let bouncer = Bouncer::start(&db, SERVER_CONNS).await;
    let mut s = Session::start(
        &bouncer.url(&db),
        &["--pool-size", CLIENT_CONNS, "--rate-limit", "1000"],
    )
    .await;
    let check = |name: &str, r: &Value, log: &str| {
        assert_eq!(status(r), "ok", "{name}: {r}\npgbouncer log:\n{log}");
    };

    let r = s.call("list_schemas", json!({})).await;
    check("list_schemas", &r, &bouncer.log());
    assert!(r.to_string().contains("\"public\""), "{r}");

    let r = s.call("list_tables", json!({"schemas": ["public"]})).await;
    check("list_tables", &r, &bouncer.log());
    assert!(r.to_string().contains("pooled_items"), "{r}");

    let r = s
        .call(
            "describe_table",
            json!({"schema": "public", "table": "pooled_items"}),
        )
        .await;
    check("describe_table", &r, &bouncer.log());
    let whole = r.to_string();
    for want in [
        "label",
        "qty",
        "pooled_items_label",
        "rows for the pooler test",
    ] {
        assert!(whole.contains(want), "describe_table lacks {want}: {r}");
    }

    let r = s.call("database_stats", json!({})).await;
    check("database_stats", &r, &bouncer.log());
    assert!(r.to_string().contains(&db.name), "{r}");

    let r = s.call("monitor_connections", json!({})).await;
    check("monitor_connections", &r, &bouncer.log());

    let calls = (1..=BURST)
        .map(|i| {
            (
                "explain_query",
                json!({"query": "select * from public.pooled_items where id = $1", "params": [i], "analyze": true}),
            )
        })
        .collect();
    let results = s.call_all(calls).await;
    for (i, r) in (1..=BURST).zip(&results) {
        check(&format!("explain_query {i}"), r, &bouncer.log());
        assert_eq!(data(r)["summary"]["actual_rows"], 1.0, "{r}");
        assert_eq!(
            data(r)["plan"][0]["Plan"]["Relation Name"],
            "pooled_items",
            "{r}"
        );
    }
}

/// The catalog and monitoring tools in a burst: with named prepared
/// statements they would fail with `prepared statement "sN" does not exist`;
/// in pooled mode they run as simple-protocol statements.
#[tokio::test(flavor = "multi_thread")]
async fn introspection_and_monitoring_under_load_through_pgbouncer() {
    let db = TestDb::with_sample_data().await.unwrap();
    let _admin = setup_items(&db).await;
    let bouncer = Bouncer::start(&db, SERVER_CONNS).await;
    let mut s = Session::start(
        &bouncer.url(&db),
        &["--pool-size", CLIENT_CONNS, "--rate-limit", "1000"],
    )
    .await;
    let mut calls: Vec<(&str, Value)> = Vec::new();
    for _ in 0..5 {
        calls.push(("list_tables", json!({"schemas": ["public"]})));
        calls.push((
            "describe_table",
            json!({"schema": "public", "table": "pooled_items"}),
        ));
        calls.push(("list_schemas", json!({})));
        calls.push(("database_stats", json!({})));
        calls.push(("monitor_connections", json!({})));
        calls.push(("test_connection", json!({})));
    }
    let names: Vec<String> = calls.iter().map(|(n, _)| n.to_string()).collect();
    let results = s.call_all(calls).await;
    let failed: Vec<String> = names
        .iter()
        .zip(&results)
        .filter(|(_, r)| status(r) != "ok")
        .map(|(n, r)| format!("{n}: {}", text(r)))
        .collect();
    assert!(
        failed.is_empty(),
        "{} of {} concurrent calls failed:\n{}",
        failed.len(),
        names.len(),
        failed.join("\n")
    );
    let left = leftover_statements(&bouncer, &db.name).await;
    assert!(left.is_empty(), "prepared statements left behind: {left:?}");
}
