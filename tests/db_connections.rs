//! Database connections: TLS modes against a throwaway TLS cluster,
//! classified failures (wrong password, refused, unknown host `db`, too many
//! connections, missing database, TLS required, timeout), pooled-mode
//! detection, `application_name`, the `execute_sql` helper function and its
//! REST client, and `test_connection` end to end. No message may contain a
//! secret.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::*;
use serde_json::{Value, json};
use supabase_mcp::cli::Options;
use supabase_mcp::config::{Config, Instance};
use supabase_mcp::db::connstr::{ConnParams, PooledReason};
use supabase_mcp::db::pool::Source;
use supabase_mcp::db::probe::{FailureKind, Target, TargetReport, probe_postgres};
use supabase_mcp::db::rpc::{RpcClient, RpcError};
use supabase_mcp::db::{Pools, SslMode};
use supabase_mcp::pg::testdb::TestDb;
use supabase_mcp::pg::{ClusterOptions, TempCluster};
use supabase_mcp::secret::{Redactor, Secret};
use tokio_postgres::NoTls;
use wiremock::matchers::{body_json, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const PROBE: Duration = Duration::from_secs(10);

/// The default instance of a configuration with this database URL.
fn instance(db_url: &str) -> (Instance, Redactor) {
    let opts = Options {
        db_url: Some(db_url.to_owned()),
        ..Options::default()
    };
    let mut cfg = Config::resolve(&opts, None).unwrap();
    (cfg.instances.remove(0), cfg.redactor)
}

async fn probe(url: &str) -> TargetReport {
    let redactor = Redactor::new();
    probe_postgres(Target::Direct, &Secret::new(url), &redactor, PROBE).await
}

/// Asserts that no string of `v` contains `secret`.
fn assert_clean(v: &impl serde::Serialize, secret: &str) {
    let text = serde_json::to_string(v).unwrap();
    assert!(!text.contains(secret), "secret leaked: {text}");
}

fn kind(r: &TargetReport) -> FailureKind {
    r.error
        .as_ref()
        .map(|e| e.kind)
        .unwrap_or_else(|| panic!("expected a failure: {}", serde_json::to_string(r).unwrap()))
}

/// A free TCP port on 127.0.0.1 with nothing listening.
fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind(("127.0.0.1", 0)).unwrap();
    l.local_addr().unwrap().port()
}

/// An admin client over the cluster's Unix socket (unaffected by pg_hba host rules).
async fn socket_client(cluster: &TempCluster) -> tokio_postgres::Client {
    let p = ConnParams {
        host: cluster.dir().display().to_string(),
        port: cluster.port(),
        user: Some("postgres".into()),
        dbname: Some("postgres".into()),
        sslmode: SslMode::Disable,
        ..ConnParams::default()
    };
    let (client, conn) = p.to_pg_config().connect(NoTls).await.unwrap();
    tokio::spawn(async move {
        let _ = conn.await;
    });
    client
}

/// Replaces pg_hba.conf and reloads the configuration.
async fn set_hba(cluster: &TempCluster, admin: &tokio_postgres::Client, rules: &str) {
    std::fs::write(cluster.data_dir().join("pg_hba.conf"), rules).unwrap();
    admin
        .batch_execute("SELECT pg_reload_conf()")
        .await
        .unwrap();
}

/// Polls `f` until it is true (the postmaster reloads asynchronously).
async fn eventually<F, Fut>(what: &str, cluster: &TempCluster, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(15);
    while !f().await {
        if Instant::now() > deadline {
            let log = std::fs::read_to_string(cluster.log_path()).unwrap_or_default();
            panic!("{what} did not happen; server log:\n{log}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CA and a server certificate for `DNS:localhost` only (so 127.0.0.1
/// does not match the name); returns the CA certificate path.
fn make_certs(dir: &Path) -> PathBuf {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.crt",
            "-days",
            "2",
            "-subj",
            "/CN=smcp test CA",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ],
    );
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
            "-subj",
            "/CN=localhost",
        ],
    );
    std::fs::write(
        dir.join("ext.cnf"),
        "subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.crt",
            "-days",
            "2",
            "-extfile",
            "ext.cnf",
        ],
    );
    dir.join("ca.crt")
}

/// Copies `src` into the cluster directory, owned by the server's user.
fn install(cluster: &TempCluster, src: &Path, name: &str, mode: u32) -> PathBuf {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let dest = cluster.dir().join(name);
    std::fs::copy(src, &dest).unwrap();
    let meta = std::fs::metadata(cluster.dir()).unwrap();
    std::os::unix::fs::chown(&dest, Some(meta.uid()), Some(meta.gid())).unwrap();
    std::fs::set_permissions(&dest, std::fs::Permissions::from_mode(mode)).unwrap();
    dest
}

#[tokio::test(flavor = "multi_thread")]
async fn tls_modes_against_a_tls_server() {
    let cluster = TempCluster::start(ClusterOptions::default()).await.unwrap();
    let certs = tempfile::tempdir().unwrap();
    let ca = make_certs(certs.path());
    let crt = install(
        &cluster,
        &certs.path().join("server.crt"),
        "server.crt",
        0o644,
    );
    let key = install(
        &cluster,
        &certs.path().join("server.key"),
        "server.key",
        0o600,
    );
    let admin = socket_client(&cluster).await;
    for sql in [
        format!("ALTER SYSTEM SET ssl_cert_file = '{}'", crt.display()),
        format!("ALTER SYSTEM SET ssl_key_file = '{}'", key.display()),
        "ALTER SYSTEM SET ssl = on".to_owned(),
        "SELECT pg_reload_conf()".to_owned(),
    ] {
        admin.batch_execute(&sql).await.unwrap();
    }
    let port = cluster.port();
    let url =
        |host: &str, query: &str| format!("postgres://postgres@{host}:{port}/postgres?{query}");
    eventually("TLS on", &cluster, || async {
        probe(&url("127.0.0.1", "sslmode=require")).await.ok
    })
    .await;

    // require: encrypted, no verification; our backend shows ssl = true.
    let (mut inst_tls, redactor) = instance(&url("127.0.0.1", "sslmode=require"));
    inst_tls.name = "tls".into();
    let pools = Pools::new(2, redactor);
    let (conn, info) = pools.get_with_info(&inst_tls).await.unwrap();
    assert_eq!(info.sslmode, SslMode::Require);
    assert!(!info.pooled);
    let row = conn
        .query_one(
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            &[],
        )
        .await
        .unwrap();
    assert!(row.get::<_, bool>(0));

    // prefer (the default) uses TLS when offered; disable does not.
    let r = probe(&url("127.0.0.1", "application_name=x")).await;
    assert!(r.ok && r.tls == Some(true), "{r:?}");
    let r = probe(&url("127.0.0.1", "sslmode=disable")).await;
    assert!(r.ok && r.tls == Some(false), "{r:?}");

    // verify-full: trusted CA and matching name.
    let ca = ca.display().to_string();
    let r = probe(&url(
        "localhost",
        &format!("sslmode=verify-full&sslrootcert={ca}"),
    ))
    .await;
    assert!(r.ok && r.tls == Some(true), "{r:?}");
    // 127.0.0.1 is not in the certificate: verify-full fails, verify-ca passes.
    let r = probe(&url(
        "127.0.0.1",
        &format!("sslmode=verify-full&sslrootcert={ca}"),
    ))
    .await;
    assert_eq!(kind(&r), FailureKind::TlsCertificate, "{r:?}");
    assert!(r.error.unwrap().fix.contains("verify-ca"));
    let r = probe(&url(
        "127.0.0.1",
        &format!("sslmode=verify-ca&sslrootcert={ca}"),
    ))
    .await;
    assert!(r.ok && r.tls == Some(true), "{r:?}");
    // require with a root certificate verifies the chain, like libpq.
    let r = probe(&url(
        "127.0.0.1",
        &format!("sslmode=require&sslrootcert={ca}"),
    ))
    .await;
    assert!(r.ok, "{r:?}");
    // The system roots do not know the test CA.
    let r = probe(&url("localhost", "sslmode=verify-full&sslrootcert=system")).await;
    assert_eq!(kind(&r), FailureKind::TlsCertificate, "{r:?}");
    assert!(r.reachable);
    // An unreadable root file is a setup error, before any connection.
    let r = probe(&url(
        "localhost",
        "sslmode=verify-full&sslrootcert=/nonexistent/ca.pem",
    ))
    .await;
    assert_eq!(kind(&r), FailureKind::TlsSetup, "{r:?}");

    // Only TLS connections allowed: sslmode=disable is refused and explained.
    set_hba(
        &cluster,
        &admin,
        "local all all trust\nhostssl all all 127.0.0.1/32 trust\n",
    )
    .await;
    eventually("hostssl-only rules", &cluster, || async {
        !probe(&url("127.0.0.1", "sslmode=disable")).await.ok
    })
    .await;
    let r = probe(&url("127.0.0.1", "sslmode=disable")).await;
    assert_eq!(kind(&r), FailureKind::TlsRequired, "{r:?}");
    assert!(r.reachable);
    let e = r.error.unwrap();
    assert!(e.message.contains("no encryption"), "{}", e.message);
    assert!(e.fix.contains("sslmode=require"), "{}", e.fix);
    // The pool explains it the same way.
    let (mut inst, redactor) = instance(&url("127.0.0.1", "sslmode=disable"));
    inst.name = "plain".into();
    let err = Pools::new(1, redactor).get(&inst).await.unwrap_err();
    assert!(
        err.suggestion
            .as_deref()
            .unwrap_or("")
            .contains("only accepts TLS"),
        "{err}"
    );
    assert!(probe(&url("127.0.0.1", "sslmode=require")).await.ok);

    // Cancelling a query goes over TLS too (NoTls would be refused here).
    let slow = pools.get(&inst_tls).await.unwrap();
    let token = slow.cancel_token();
    let running =
        tokio::spawn(async move { slow.simple_query("SELECT pg_sleep(30)").await.map(|_| ()) });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let started = Instant::now();
    pools.cancel(&inst_tls, &token).await.unwrap();
    let err = running.await.unwrap().unwrap_err();
    assert_eq!(
        err.code(),
        Some(&tokio_postgres::error::SqlState::QUERY_CANCELED)
    );
    assert!(started.elapsed() < Duration::from_secs(10));
    drop(conn);
    drop(admin);
    cluster.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn authentication_failures_are_classified_without_secrets() {
    let cluster = TempCluster::start(ClusterOptions::default()).await.unwrap();
    let admin = socket_client(&cluster).await;
    admin
        .batch_execute(
            "ALTER ROLE postgres PASSWORD 'Admin-Pass-314'; \
             CREATE ROLE app_user LOGIN PASSWORD 'Right-Pass-123' CONNECTION LIMIT 1;",
        )
        .await
        .unwrap();
    set_hba(
        &cluster,
        &admin,
        "local all all trust\nhost all all 127.0.0.1/32 scram-sha-256\n",
    )
    .await;
    let port = cluster.port();
    let url = |user: &str, pw: Option<&str>, db: &str| match pw {
        Some(pw) => format!("postgres://{user}:{pw}@127.0.0.1:{port}/{db}"),
        None => format!("postgres://{user}@127.0.0.1:{port}/{db}"),
    };
    eventually("password authentication", &cluster, || async {
        kind_or_ok(&probe(&url("postgres", None, "postgres")).await)
            == Some(FailureKind::PasswordMissing)
    })
    .await;

    // Wrong password: classified, with the POSTGRES_PASSWORD volume advice.
    let r = probe(&url("postgres", Some("Wrong-Pass-271"), "postgres")).await;
    assert_eq!(kind(&r), FailureKind::WrongPassword, "{r:?}");
    assert!(r.reachable);
    assert!(r.error.as_ref().unwrap().fix.contains("POSTGRES_PASSWORD"));
    assert!(r.endpoint.contains("***"));
    assert_clean(&r, "Wrong-Pass-271");
    // The pool gives the same advice, still without the password.
    let (inst, redactor) = instance(&url("postgres", Some("Wrong-Pass-271"), "postgres"));
    let err = Pools::new(1, redactor).get(&inst).await.unwrap_err();
    assert!(
        err.suggestion
            .as_deref()
            .unwrap()
            .contains("POSTGRES_PASSWORD"),
        "{err}"
    );
    assert!(!err.to_text().contains("Wrong-Pass-271"));

    // Missing database.
    let r = probe(&url("postgres", Some("Admin-Pass-314"), "no_such_db")).await;
    assert_eq!(kind(&r), FailureKind::DatabaseMissing, "{r:?}");
    assert!(r.error.as_ref().unwrap().fix.contains("no_such_db"));
    assert_clean(&r, "Admin-Pass-314");

    // The right password works; the server offers no TLS, so prefer is plain.
    let r = probe(&url("app_user", Some("Right-Pass-123"), "postgres")).await;
    assert!(r.ok, "{r:?}");
    assert_eq!(r.role.as_deref(), Some("app_user"));
    assert_eq!(r.tls, Some(false));
    assert_eq!(r.superuser, Some(false));
    assert!(r.latency_ms.is_some());
    assert_clean(&r, "Right-Pass-123");
    // sslmode=require against a server without TLS.
    let r = probe(&format!(
        "{}?sslmode=require",
        url("app_user", Some("Right-Pass-123"), "postgres")
    ))
    .await;
    assert_eq!(kind(&r), FailureKind::TlsUnavailable, "{r:?}");

    // Too many connections: app_user has CONNECTION LIMIT 1, and one is held.
    let held = ConnParams::parse(&url("app_user", Some("Right-Pass-123"), "postgres"))
        .unwrap()
        .to_pg_config()
        .connect(NoTls)
        .await
        .unwrap();
    let r = probe(&url("app_user", Some("Right-Pass-123"), "postgres")).await;
    assert_eq!(kind(&r), FailureKind::TooManyConnections, "{r:?}");
    assert!(r.error.as_ref().unwrap().message.contains("53300"));
    assert_clean(&r, "Right-Pass-123");
    drop(held);
    drop(admin);
    cluster.stop().await.unwrap();
}

fn kind_or_ok(r: &TargetReport) -> Option<FailureKind> {
    r.error.as_ref().map(|e| e.kind)
}

#[tokio::test(flavor = "multi_thread")]
async fn refused_unknown_host_missing_database_and_timeout() {
    let port = closed_port();
    let r = probe(&format!(
        "postgres://postgres:Sekr1t-pw-1@127.0.0.1:{port}/postgres"
    ))
    .await;
    assert_eq!(kind(&r), FailureKind::ConnectionRefused, "{r:?}");
    assert!(!r.reachable);
    assert!(r.error.as_ref().unwrap().fix.contains(&port.to_string()));
    assert_clean(&r, "Sekr1t-pw-1");

    // `db` is the Docker service name: it does not resolve out here.
    let r = probe("postgres://postgres:Sekr1t-pw-2@db:5432/postgres").await;
    assert_eq!(kind(&r), FailureKind::DockerHostname, "{r:?}");
    assert!(r.error.as_ref().unwrap().fix.contains("localhost"));
    assert_clean(&r, "Sekr1t-pw-2");

    let r = probe("postgres://postgres@127.0.0.1:5432/smcp_no_such_database").await;
    assert_eq!(kind(&r), FailureKind::DatabaseMissing, "{r:?}");

    // A server that accepts TCP and never answers.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let silent = listener.local_addr().unwrap().port();
    let hold = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((s, _)) = listener.accept().await {
            open.push(s);
        }
    });
    let start = Instant::now();
    let r = probe_postgres(
        Target::Direct,
        &Secret::new(format!("postgres://postgres@127.0.0.1:{silent}/postgres")),
        &Redactor::new(),
        Duration::from_secs(1),
    )
    .await;
    assert_eq!(kind(&r), FailureKind::Timeout, "{r:?}");
    assert!(start.elapsed() < Duration::from_secs(5));
    hold.abort();

    // An unparseable URL never echoes its password.
    let r = probe("postgres://postgres:Sekr1t-pw-3@h:notaport/postgres").await;
    assert_eq!(kind(&r), FailureKind::InvalidUrl, "{r:?}");
    assert_clean(&r, "Sekr1t-pw-3");
}

#[tokio::test(flavor = "multi_thread")]
async fn pools_name_themselves_and_flag_pooled_endpoints() {
    let db = TestDb::new().await.unwrap();
    let (inst, redactor) = instance(&db.url);
    let pools = Pools::new(2, redactor.clone());
    assert!(!pools.is_pooled(&inst));
    let (conn, info) = pools.get_with_info(&inst).await.unwrap();
    assert_eq!(info.source, Source::DbUrl);
    assert!(!info.pooled);
    let row = conn
        .query_one(
            "SELECT application_name FROM pg_stat_activity WHERE pid = pg_backend_pid()",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "supabase-mcp");
    let seen: i64 = db
        .client()
        .await
        .unwrap()
        .query_one(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'supabase-mcp' AND datname = $1",
            &[&db.name],
        )
        .await
        .unwrap()
        .get(0);
    assert!(seen >= 1);
    drop(conn);

    // Only a pooler URL: the pool uses it and says it is pooled.
    let mut pooled = inst.clone();
    pooled.name = "pooled".into();
    pooled.db_url = None;
    pooled.pooler_url = Some(Secret::new(format!("{}?pgbouncer=true", db.url)));
    assert!(pools.is_pooled(&pooled));
    let (conn, info) = pools.get_with_info(&pooled).await.unwrap();
    assert_eq!(info.source, Source::PoolerUrl);
    assert_eq!(info.pooled_reason, Some(PooledReason::PgbouncerFlag));
    // Unnamed statements work through any pooler.
    let rows = conn.simple_query("SELECT 1").await.unwrap();
    assert!(!rows.is_empty());

    // Detected from the URL alone, without connecting.
    let mut supavisor = inst.clone();
    supavisor.db_url = Some(Secret::new(
        "postgres://postgres.abcdefghijklmnopqrst:pw@aws-0-eu-central-1.pooler.supabase.com:6543/postgres",
    ));
    let info = pools.conn_info(&supavisor).unwrap();
    assert!(info.pooled);
    assert_eq!(info.pooled_reason, Some(PooledReason::Port));
    assert!(!info.endpoint.contains(":pw@"));

    // Pool errors are classified too, and scrubbed.
    let mut refused = inst.clone();
    refused.name = "refused".into();
    refused.db_url = Some(Secret::new(format!(
        "postgres://postgres:Pool-Secret-9@127.0.0.1:{}/postgres",
        closed_port()
    )));
    let err = pools.get(&refused).await.unwrap_err();
    assert_eq!(
        serde_json::to_value(err.code).unwrap(),
        json!("connection_failed")
    );
    assert!(
        err.suggestion
            .as_deref()
            .unwrap()
            .contains("Nothing listens"),
        "{err}"
    );
    assert!(!err.to_text().contains("Pool-Secret-9"));
}

#[tokio::test(flavor = "multi_thread")]
async fn execute_sql_function_is_provisioned_and_locked_down() {
    let db = TestDb::new().await.unwrap();
    let admin = db.client().await.unwrap();
    let mut s = Server::start(Some(db), &[]).await;

    // sql_only: returns the SQL and changes nothing (after confirmation).
    let r = s
        .call("provision_execute_sql", json!({"sql_only": true}))
        .await;
    assert_eq!(status(&r), "confirmation_required", "{r}");
    let token = data(&r)["confirmation_token"].as_str().unwrap().to_owned();
    let r = s
        .call(
            "provision_execute_sql",
            json!({"sql_only": true, "confirmation_token": token}),
        )
        .await;
    assert_eq!(status(&r), "ok", "{r}");
    assert_eq!(data(&r)["created"], false);
    assert!(
        data(&r)["sql"]
            .as_str()
            .unwrap()
            .contains("security definer")
    );
    let exists: bool = admin
        .query_one(
            "SELECT to_regprocedure('public.execute_sql(text, boolean)') IS NOT NULL",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(!exists);

    let r = s.call("provision_execute_sql", json!({})).await;
    let token = data(&r)["confirmation_token"].as_str().unwrap().to_owned();
    let r = s
        .call(
            "provision_execute_sql",
            json!({"confirmation_token": token}),
        )
        .await;
    assert_eq!(status(&r), "ok", "{r}");
    assert_eq!(data(&r)["created"], true);
    assert_eq!(
        data(&r)["execute_privileges"],
        json!({"service_role": true, "anon": false, "authenticated": false})
    );

    let privs = admin
        .query_one(
            "SELECT has_function_privilege('anon', 'public.execute_sql(text, boolean)', 'EXECUTE'), \
                    has_function_privilege('authenticated', 'public.execute_sql(text, boolean)', 'EXECUTE'), \
                    has_function_privilege('service_role', 'public.execute_sql(text, boolean)', 'EXECUTE'), \
                    (SELECT prosecdef FROM pg_proc WHERE oid = 'public.execute_sql(text, boolean)'::regprocedure), \
                    (SELECT proconfig FROM pg_proc WHERE oid = 'public.execute_sql(text, boolean)'::regprocedure)",
            &[],
        )
        .await
        .unwrap();
    assert!(!privs.get::<_, bool>(0), "anon may not execute");
    assert!(!privs.get::<_, bool>(1), "authenticated may not execute");
    assert!(privs.get::<_, bool>(2), "service_role may execute");
    assert!(privs.get::<_, bool>(3), "security definer");
    assert_eq!(
        privs.get::<_, Vec<String>>(4),
        vec!["search_path=\"\"".to_owned()]
    );

    // As service_role: rows come back as JSON; read_only blocks writes.
    admin
        .batch_execute(
            "CREATE TABLE public.rpc_t (id int primary key, name text); SET ROLE service_role",
        )
        .await
        .unwrap();
    let call = |q: &str, ro: bool| {
        let q = q.to_owned();
        let admin = &admin;
        async move {
            admin
                .query_one("SELECT public.execute_sql($1, $2)::text", &[&q, &ro])
                .await
                .map(|r| serde_json::from_str::<Value>(r.get::<_, &str>(0)).unwrap())
        }
    };
    assert_eq!(
        call("select 1 as a, 'x' as b union all select 2, 'y';", true)
            .await
            .unwrap(),
        json!([{"a": 1, "b": "x"}, {"a": 2, "b": "y"}])
    );
    let err = call("insert into rpc_t values (1, 'a')", true)
        .await
        .unwrap_err();
    assert!(
        format!("{:?}", err).contains("read-only transaction"),
        "{err:?}"
    );
    assert_eq!(
        call("insert into rpc_t values (1, 'a'), (2, 'b')", false)
            .await
            .unwrap(),
        json!([{"rows_affected": 2}])
    );
    assert_eq!(
        call(
            "update rpc_t set name = 'c' where id = 2 returning id, name",
            false
        )
        .await
        .unwrap(),
        json!([{"id": 2, "name": "c"}])
    );
    assert_eq!(
        call("select count(*) as n from rpc_t", true).await.unwrap(),
        json!([{"n": 2}])
    );
    assert_eq!(call("select 1 where false", true).await.unwrap(), json!([]));
    // The read-only transaction cannot be switched back.
    let err = call(
        "select set_config('transaction_read_only', 'off', true)",
        true,
    )
    .await
    .unwrap_err();
    assert!(format!("{err:?}").contains("read-only"), "{err:?}");
    // anon may not call it at all.
    admin
        .batch_execute("RESET ROLE; SET ROLE anon")
        .await
        .unwrap();
    let err = call("select 1", true).await.unwrap_err();
    assert!(format!("{err:?}").contains("permission denied"), "{err:?}");
}

const SERVICE_KEY: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJyb2xlIjoic2VydmljZV9yb2xlIiwiaXNzIjoic3VwYWJhc2UifQ.c2lnbmF0dXJlLXNlY3JldC1wYXJ0";

#[tokio::test]
async fn rpc_client_sends_the_key_and_surfaces_errors_without_it() {
    let server = MockServer::start().await;
    let rpc = "/rest/v1/rpc/execute_sql";
    let bearer = format!("Bearer {SERVICE_KEY}");
    Mock::given(method("POST"))
        .and(path(rpc))
        .and(header("apikey", SERVICE_KEY))
        .and(header("authorization", bearer.as_str()))
        .and(header("content-type", "application/json"))
        .and(body_json(
            json!({"query": "select 1 as a", "read_only": true}),
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([{"a": 1}])))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(rpc))
        .and(body_json(json!({"query": "selec 1", "read_only": false})))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "code": "42601",
            "message": format!("syntax error at or near \"selec\" (sent with {SERVICE_KEY})"),
            "details": null,
            "hint": null
        })))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(rpc))
        .and(body_json(json!({"query": "missing", "read_only": true})))
        .respond_with(ResponseTemplate::new(404).set_body_json(json!({
            "code": "PGRST202",
            "message": "Could not find the function public.execute_sql(query, read_only) in the schema cache",
        })))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(rpc))
        .and(body_json(json!({"query": "object", "read_only": true})))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"a": 1})))
        .mount(&server)
        .await;

    let redactor = Redactor::new();
    let key = Secret::new(SERVICE_KEY);
    let client = RpcClient::new(
        &server.uri(),
        &key,
        redactor.clone(),
        Duration::from_secs(5),
    )
    .unwrap();
    assert_eq!(client.endpoint(), format!("{}{rpc}", server.uri()));
    assert_eq!(
        client
            .execute_sql("select 1 as a", true, 1 << 20)
            .await
            .unwrap(),
        vec![json!({"a": 1})]
    );

    let err = client
        .execute_sql("selec 1", false, 1 << 20)
        .await
        .unwrap_err();
    match &err {
        RpcError::Query { status, code, .. } => {
            assert_eq!(*status, 400);
            assert_eq!(code.as_deref(), Some("42601"));
        }
        other => panic!("{other:?}"),
    }
    assert!(err.to_string().contains("syntax error"));
    assert!(!err.to_string().contains(SERVICE_KEY), "{err}");
    let tool_err = err.to_tool_error();
    assert!(!tool_err.to_text().contains(SERVICE_KEY));
    assert_eq!(serde_json::to_value(tool_err.code).unwrap(), "query_failed");

    let err = client
        .execute_sql("missing", true, 1 << 20)
        .await
        .unwrap_err();
    assert!(matches!(err, RpcError::NotProvisioned { .. }), "{err:?}");
    assert!(
        err.to_tool_error()
            .suggestion
            .unwrap()
            .contains("provision_execute_sql")
    );
    let err = client
        .execute_sql("object", true, 1 << 20)
        .await
        .unwrap_err();
    assert!(matches!(err, RpcError::Unexpected { .. }), "{err:?}");

    // A wrong key: 401 from the gateway, no key in the message.
    let other = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(rpc))
        .respond_with(
            ResponseTemplate::new(401)
                .set_body_json(json!({"message": "Invalid authentication credentials"})),
        )
        .mount(&other)
        .await;
    let client =
        RpcClient::new(&other.uri(), &key, redactor.clone(), Duration::from_secs(5)).unwrap();
    let err = client
        .execute_sql("select 1", true, 1 << 20)
        .await
        .unwrap_err();
    assert!(
        matches!(err, RpcError::Unauthorized { status: 401, .. }),
        "{err:?}"
    );
    assert_eq!(
        serde_json::to_value(err.to_tool_error().code).unwrap(),
        "permission_denied"
    );

    // Nothing listening: a transport error, without the key.
    let client = RpcClient::new(
        &format!("http://127.0.0.1:{}", closed_port()),
        &key,
        redactor,
        Duration::from_secs(5),
    )
    .unwrap();
    let err = client
        .execute_sql("select 1", true, 1 << 20)
        .await
        .unwrap_err();
    assert!(matches!(err, RpcError::Transport { .. }), "{err:?}");
    assert!(!format!("{err} {err:?}").contains(SERVICE_KEY));
}

#[tokio::test(flavor = "multi_thread")]
async fn test_connection_end_to_end() {
    let db = TestDb::new().await.unwrap();
    // Trust authentication ignores the password, so it can be a marker.
    let password = "E2e-Db-Pass-8812";
    let db_url = db
        .url
        .replacen("postgres@", &format!("postgres:{password}@"), 1);
    assert!(db_url.contains(password));
    let rest = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/rest/v1/"))
        .and(header("apikey", SERVICE_KEY))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"swagger": "2.0"})))
        .mount(&rest)
        .await;
    Mock::given(method("POST"))
        .and(path("/rest/v1/rpc/execute_sql"))
        .and(header("apikey", SERVICE_KEY))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!([{"server_version": "15.8", "db_tls": false}])),
        )
        .mount(&rest)
        .await;
    let uri = rest.uri();
    let mut s = Server::start(
        None,
        &[
            "--db-url",
            &db_url,
            "--supabase-url",
            &uri,
            "--service-role-key",
            SERVICE_KEY,
        ],
    )
    .await;
    let tools = s.tools().await;
    let t = tools
        .iter()
        .find(|t| t["name"] == "test_connection")
        .expect("test_connection listed");
    assert_eq!(t["annotations"]["readOnlyHint"], true);
    assert!(t["description"].as_str().unwrap().len() < 250);

    let r = s.call("test_connection", json!({})).await;
    assert_eq!(status(&r), "ok", "{r}");
    let whole = r.to_string();
    assert!(!whole.contains(password), "{whole}");
    assert!(!whole.contains(SERVICE_KEY), "{whole}");
    let targets = data(&r)["targets"].as_array().unwrap().clone();
    assert_eq!(targets.len(), 2, "{r}");
    let direct = &targets[0];
    assert_eq!(direct["target"], "direct");
    assert_eq!(direct["ok"], true, "{direct}");
    assert_eq!(direct["role"], "postgres");
    assert!(direct["server_version"].as_str().unwrap().starts_with("15"));
    assert!(direct["tls"].is_boolean());
    assert_eq!(direct["pooled"], false);
    assert_eq!(direct["supabase_schemas"], true);
    assert!(direct["endpoint"].as_str().unwrap().contains("***"));
    let rest_t = &targets[1];
    assert_eq!(rest_t["target"], "rest");
    assert_eq!(rest_t["ok"], true, "{rest_t}");
    assert_eq!(rest_t["rpc_execute_sql"], true);
    assert_eq!(rest_t["role"], "service_role");
    assert_eq!(rest_t["tls"], false);
    assert_eq!(data(&r)["recommended"], "direct");
    drop(s);

    // Broken settings: host `db` from outside Docker, a rejected key.
    let wrong_key = "wrong-service-key-4471";
    let broken = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/rest/v1/"))
        .respond_with(
            ResponseTemplate::new(401)
                .set_body_json(json!({"message": "Invalid authentication credentials"})),
        )
        .mount(&broken)
        .await;
    let buri = broken.uri();
    let mut s = Server::start(
        None,
        &[
            "--db-url",
            "postgres://postgres:Docker-Pass-5521@db:5432/postgres",
            "--supabase-url",
            &buri,
            "--service-role-key",
            wrong_key,
        ],
    )
    .await;
    let r = s.call("test_connection", json!({})).await;
    assert_eq!(status(&r), "ok", "{r}");
    let whole = r.to_string();
    assert!(!whole.contains("Docker-Pass-5521"), "{whole}");
    assert!(!whole.contains(wrong_key), "{whole}");
    let targets = data(&r)["targets"].as_array().unwrap();
    assert_eq!(targets[0]["error"]["kind"], "docker_hostname", "{r}");
    assert!(
        targets[0]["error"]["fix"]
            .as_str()
            .unwrap()
            .contains("localhost")
    );
    assert_eq!(targets[1]["error"]["kind"], "key_rejected", "{r}");
    assert!(data(&r)["recommended"].is_null());
    assert!(
        !r["structuredContent"]["warnings"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    drop(db);
}

#[test]
fn doctor_uses_the_same_checks() {
    let mut c = Command::new(bin());
    for (k, _) in std::env::vars() {
        if k.starts_with("SUPABASE_") || k == "DATABASE_URL" || k.starts_with("DOKPLOY_") {
            c.env_remove(k);
        }
    }
    let out = c
        .args([
            "doctor",
            "--db-url",
            "postgres://postgres:Doctor-Pass-731@db:5432/postgres",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success());
    assert!(text.contains("FAIL") && text.contains("database"), "{text}");
    assert!(text.contains("Docker network"), "{text}");
    assert!(!text.contains("Doctor-Pass-731"), "{text}");
}
