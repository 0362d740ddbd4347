//! Tests of the Supabase-like fixture, the `TestDb` harness and `TempCluster`,
//! against a real PostgreSQL server (`DATABASE_URL`, default
//! `postgres://postgres@127.0.0.1:5432/postgres`) and local server binaries.

use std::collections::BTreeSet;
use std::time::Duration;

use supabase_mcp::fixture;
use supabase_mcp::pg::testdb::{admin_url_from_env, sweep_stale_databases};
use supabase_mcp::pg::{self, ClusterError, ClusterOptions, TempCluster, TestDb, quote_ident};
use tokio_postgres::Client;

const ROLES: &[&str] = &[
    "anon",
    "authenticated",
    "service_role",
    "supabase_admin",
    "supabase_auth_admin",
    "supabase_storage_admin",
    "authenticator",
    "supabase_read_only_user",
    "supabase_realtime_admin",
    "pgbouncer",
    "dashboard_user",
];

const SCHEMAS: &[&str] = &[
    "auth",
    "storage",
    "realtime",
    "extensions",
    "graphql_public",
    "vault",
    "supabase_migrations",
];

const TABLES: &[&str] = &[
    "auth.users",
    "auth.identities",
    "auth.sessions",
    "auth.refresh_tokens",
    "auth.audit_log_entries",
    "auth.mfa_factors",
    "auth.schema_migrations",
    "storage.buckets",
    "storage.objects",
    "storage.migrations",
    "supabase_migrations.schema_migrations",
    "realtime.schema_migrations",
    "realtime.subscription",
    "realtime.messages",
    "vault.secrets",
];

async fn admin() -> Client {
    pg::connect(&admin_url_from_env(), Duration::from_secs(10))
        .await
        .expect("connect to the admin database (is PostgreSQL running? set DATABASE_URL)")
}

async fn database_exists(name: &str) -> bool {
    admin()
        .await
        .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&name])
        .await
        .unwrap()
        .is_some()
}

async fn count(client: &Client, sql: &str) -> i64 {
    client.query_one(sql, &[]).await.unwrap().get(0)
}

async fn strings(client: &Client, sql: &str) -> BTreeSet<String> {
    client
        .query(sql, &[])
        .await
        .unwrap()
        .iter()
        .map(|row| row.get::<_, String>(0))
        .collect()
}

async fn assert_supabase_objects(client: &Client) {
    let roles = strings(client, "SELECT rolname::text FROM pg_roles").await;
    for role in ROLES {
        assert!(roles.contains(*role), "role {role} missing");
    }
    let row = client
        .query_one(
            "SELECT (SELECT rolbypassrls FROM pg_roles WHERE rolname = 'service_role'),
                    (SELECT rolcanlogin FROM pg_roles WHERE rolname = 'anon'),
                    (SELECT rolcanlogin AND NOT rolinherit FROM pg_roles WHERE rolname = 'authenticator'),
                    (SELECT rolcreaterole AND rolcreatedb AND rolreplication AND rolbypassrls
                       FROM pg_roles WHERE rolname = 'supabase_admin'),
                    pg_has_role('authenticator', 'anon', 'MEMBER'),
                    pg_has_role('authenticator', 'authenticated', 'MEMBER'),
                    pg_has_role('authenticator', 'service_role', 'MEMBER'),
                    pg_has_role('supabase_read_only_user', 'pg_read_all_data', 'MEMBER')",
            &[],
        )
        .await
        .unwrap();
    for i in 0..8 {
        let expected = i != 1;
        assert_eq!(row.get::<_, bool>(i), expected, "role attribute check #{i}");
    }

    let schemas = strings(client, "SELECT nspname::text FROM pg_namespace").await;
    for schema in SCHEMAS {
        assert!(schemas.contains(*schema), "schema {schema} missing");
    }
    let owners = strings(
        client,
        "SELECT nspname || ':' || pg_get_userbyid(nspowner) FROM pg_namespace
         WHERE nspname IN ('auth', 'storage')",
    )
    .await;
    assert!(owners.contains("auth:supabase_auth_admin"), "{owners:?}");
    assert!(
        owners.contains("storage:supabase_storage_admin"),
        "{owners:?}"
    );

    let tables = strings(
        client,
        "SELECT schemaname || '.' || tablename FROM pg_tables",
    )
    .await;
    for table in TABLES {
        assert!(tables.contains(*table), "table {table} missing");
    }
    let user_columns = strings(
        client,
        "SELECT column_name::text FROM information_schema.columns
         WHERE table_schema = 'auth' AND table_name = 'users'",
    )
    .await;
    for column in [
        "id",
        "instance_id",
        "aud",
        "role",
        "email",
        "encrypted_password",
        "email_confirmed_at",
        "invited_at",
        "confirmation_token",
        "recovery_token",
        "last_sign_in_at",
        "raw_app_meta_data",
        "raw_user_meta_data",
        "is_super_admin",
        "created_at",
        "updated_at",
        "phone",
        "phone_confirmed_at",
        "banned_until",
        "deleted_at",
        "is_anonymous",
        "is_sso_user",
    ] {
        assert!(user_columns.contains(column), "auth.users.{column} missing");
    }
    let migration_columns = strings(
        client,
        "SELECT column_name::text FROM information_schema.columns
         WHERE table_schema = 'supabase_migrations' AND table_name = 'schema_migrations'",
    )
    .await;
    for column in [
        "version",
        "statements",
        "name",
        "created_by",
        "idempotency_key",
    ] {
        assert!(
            migration_columns.contains(column),
            "schema_migrations.{column} missing"
        );
    }

    let functions = strings(
        client,
        "SELECT n.nspname || '.' || p.proname FROM pg_proc p
         JOIN pg_namespace n ON n.oid = p.pronamespace
         WHERE n.nspname IN ('auth', 'storage')",
    )
    .await;
    for function in [
        "auth.uid",
        "auth.role",
        "auth.jwt",
        "auth.email",
        "storage.foldername",
        "storage.filename",
        "storage.extension",
    ] {
        assert!(functions.contains(function), "function {function} missing");
    }

    let available = strings(
        client,
        "SELECT name::text FROM pg_available_extensions WHERE name IN ('pgcrypto', 'uuid-ossp')",
    )
    .await;
    let installed = strings(
        client,
        "SELECT e.extname::text FROM pg_extension e
         JOIN pg_namespace n ON n.oid = e.extnamespace WHERE n.nspname = 'extensions'",
    )
    .await;
    assert_eq!(available, installed);

    assert_eq!(
        count(
            client,
            "SELECT count(*) FROM pg_publication WHERE pubname = 'supabase_realtime'"
        )
        .await,
        1
    );
    assert_eq!(
        count(
            client,
            "SELECT count(*) FROM pg_publication_tables WHERE pubname = 'supabase_realtime'"
        )
        .await,
        0
    );

    let rls = strings(
        client,
        "SELECT n.nspname || '.' || c.relname FROM pg_class c
         JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relrowsecurity",
    )
    .await;
    for table in ["auth.users", "storage.objects", "storage.buckets"] {
        assert!(rls.contains(table), "RLS not enabled on {table}");
    }

    // Default privileges: tables created later in public are granted to the API roles.
    client
        .batch_execute("CREATE TABLE public.grant_probe (id int)")
        .await
        .unwrap();
    let row = client
        .query_one(
            "SELECT has_table_privilege('anon', 'public.grant_probe', 'SELECT'),
                    has_table_privilege('authenticated', 'public.grant_probe', 'INSERT'),
                    has_table_privilege('service_role', 'public.grant_probe', 'DELETE'),
                    has_schema_privilege('anon', 'public', 'USAGE'),
                    has_table_privilege('anon', 'auth.users', 'SELECT')",
            &[],
        )
        .await
        .unwrap();
    assert!(row.get::<_, bool>(0) && row.get::<_, bool>(1) && row.get::<_, bool>(2));
    assert!(row.get::<_, bool>(3));
    assert!(!row.get::<_, bool>(4), "anon must not read auth.users");
    client
        .batch_execute("DROP TABLE public.grant_probe")
        .await
        .unwrap();

    // auth helpers read the PostgREST claims.
    let row = client
        .query_one(
            "SELECT set_config('request.jwt.claims',
                 '{\"sub\": \"11111111-1111-4111-8111-111111111111\", \"role\": \"authenticated\"}', false),
                 auth.uid()::text, auth.role(), auth.jwt() ->> 'role',
                 storage.foldername('a/b/c.png')::text, storage.filename('a/b/c.png'),
                 storage.extension('a/b/c.png')",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(
        row.get::<_, String>(1),
        "11111111-1111-4111-8111-111111111111"
    );
    assert_eq!(row.get::<_, String>(2), "authenticated");
    assert_eq!(row.get::<_, String>(3), "authenticated");
    assert_eq!(row.get::<_, String>(4), "{a,b}");
    assert_eq!(row.get::<_, String>(5), "c.png");
    assert_eq!(row.get::<_, String>(6), "png");
    client
        .batch_execute("RESET request.jwt.claims")
        .await
        .unwrap();
}

async fn assert_sample_data(client: &Client) {
    for (sql, expected) in [
        ("SELECT count(*) FROM auth.users", 3),
        ("SELECT count(*) FROM auth.identities", 3),
        ("SELECT count(*) FROM public.profiles", 3),
        ("SELECT count(*) FROM public.posts", 5),
        ("SELECT count(*) FROM public.comments", 6),
        ("SELECT count(*) FROM public.published_posts", 3),
        ("SELECT count(*) FROM storage.buckets", 2),
        ("SELECT count(*) FROM storage.objects", 3),
        (
            "SELECT count(*) FROM supabase_migrations.schema_migrations",
            1,
        ),
    ] {
        assert_eq!(count(client, sql).await, expected, "{sql}");
    }
}

#[tokio::test]
async fn test_db_has_supabase_roles_schemas_tables_and_publication() {
    let db = TestDb::new().await.unwrap();
    assert!(db.name.starts_with("smcp_test_"));
    assert!(db.url.ends_with(&format!("/{}", db.name)), "{}", db.url);
    let client = db.client().await.unwrap();
    let current: String = client
        .query_one("SELECT current_database()::text", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(current, db.name);
    assert_supabase_objects(&client).await;
    // No sample data unless asked for.
    assert_eq!(count(&client, "SELECT count(*) FROM auth.users").await, 0);
    let profiles: Option<String> = client
        .query_one("SELECT to_regclass('public.profiles')::text", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(profiles, None);
}

#[tokio::test]
async fn test_db_with_sample_data_has_the_sample_app() {
    let db = TestDb::with_sample_data().await.unwrap();
    let client = db.client().await.unwrap();
    assert_supabase_objects(&client).await;
    assert_sample_data(&client).await;

    // Row level security as an API role.
    let (anon, bob) = {
        client
            .batch_execute("BEGIN; SET LOCAL ROLE anon")
            .await
            .unwrap();
        let anon = count(&client, "SELECT count(*) FROM public.posts").await;
        client
            .batch_execute(
                "SET LOCAL ROLE authenticated;
                 SELECT set_config('request.jwt.claims',
                     '{\"sub\": \"22222222-2222-4222-8222-222222222222\", \"role\": \"authenticated\"}', true)",
            )
            .await
            .unwrap();
        let bob = count(&client, "SELECT count(*) FROM public.posts").await;
        let updated = client
            .execute(
                "UPDATE public.profiles SET website = 'https://bob.example.com'",
                &[],
            )
            .await
            .unwrap();
        assert_eq!(updated, 1, "bob may update only his own profile");
        client.batch_execute("ROLLBACK").await.unwrap();
        (anon, bob)
    };
    assert_eq!(anon, 3, "anon sees published posts only");
    assert_eq!(bob, 4, "bob also sees his archived post");
}

#[tokio::test]
async fn dropping_a_test_db_drops_the_database() {
    let db = TestDb::new().await.unwrap();
    let name = db.name.clone();
    let client = db.client().await.unwrap();
    client.batch_execute("SELECT 1").await.unwrap();
    assert!(database_exists(&name).await);
    // Dropped even with an open connection.
    drop(db);
    assert!(!database_exists(&name).await);

    let db = TestDb::new().await.unwrap();
    let name = db.name.clone();
    db.drop_database().await.unwrap();
    assert!(!database_exists(&name).await);
}

#[tokio::test]
async fn test_db_is_dropped_when_the_test_panics() {
    // A panicking task on this runtime.
    let (tx, rx) = tokio::sync::oneshot::channel();
    let task = tokio::spawn(async move {
        let db = TestDb::new().await.unwrap();
        tx.send(db.name.clone()).unwrap();
        panic!("simulated test failure");
    });
    let err = task.await.unwrap_err();
    assert!(err.is_panic());
    let name = rx.await.unwrap();
    assert!(!database_exists(&name).await, "{name} survived a panic");

    // A panicking test on its own thread and runtime, like a failing #[tokio::test].
    let (tx, rx) = std::sync::mpsc::channel();
    let joined = tokio::task::spawn_blocking(move || {
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                let db = TestDb::new().await.unwrap();
                tx.send(db.name.clone()).unwrap();
                let _client = db.client().await.unwrap();
                panic!("simulated test failure");
            })
        })
        .join()
    })
    .await
    .unwrap();
    assert!(joined.is_err());
    let name = rx.recv().unwrap();
    assert!(!database_exists(&name).await, "{name} survived a panic");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_test_dbs_are_distinct() {
    let (a, b, c) = tokio::join!(TestDb::new(), TestDb::new(), TestDb::with_sample_data());
    let (a, b, c) = (a.unwrap(), b.unwrap(), c.unwrap());
    let names: BTreeSet<&str> = [&a.name, &b.name, &c.name]
        .into_iter()
        .map(String::as_str)
        .collect();
    assert_eq!(names.len(), 3);
    let (ca, cb) = (a.client().await.unwrap(), b.client().await.unwrap());
    ca.batch_execute("CREATE TABLE public.only_in_a (id int)")
        .await
        .unwrap();
    let in_b: Option<String> = cb
        .query_one("SELECT to_regclass('public.only_in_a')::text", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(in_b, None);
    let names: Vec<String> = [&a, &b, &c].iter().map(|d| d.name.clone()).collect();
    drop((a, b, c));
    for name in names {
        assert!(!database_exists(&name).await);
    }
}

#[tokio::test]
async fn loading_the_fixture_again_is_idempotent() {
    let db = TestDb::with_sample_data().await.unwrap();
    let client = db.client().await.unwrap();
    let roles_before = strings(&client, "SELECT rolname::text FROM pg_roles").await;
    fixture::load(&client, true).await.unwrap();
    fixture::load(&client, false).await.unwrap();
    fixture::load(&client, true).await.unwrap();
    let roles_after = strings(&client, "SELECT rolname::text FROM pg_roles").await;
    for role in ROLES {
        assert!(roles_after.contains(*role));
    }
    assert_eq!(
        roles_before
            .iter()
            .filter(|r| ROLES.contains(&r.as_str()))
            .count(),
        roles_after
            .iter()
            .filter(|r| ROLES.contains(&r.as_str()))
            .count()
    );
    assert_supabase_objects(&client).await;
    assert_sample_data(&client).await;
}

#[tokio::test]
async fn sweeper_drops_stale_databases_of_dead_processes() {
    let admin = admin().await;
    let tag: u32 = rand::random();
    // pid above the Linux maximum (2^22): never alive.
    let stale = format!("smcp_test_1000_4294967_{tag}_deadbeef");
    let ours = format!("smcp_test_1000_{}_{tag}_cafebabe", std::process::id());
    for name in [&stale, &ours] {
        admin
            .batch_execute(&format!("CREATE DATABASE {}", quote_ident(name)))
            .await
            .unwrap();
    }
    let dropped = sweep_stale_databases(&admin, Duration::from_secs(3600))
        .await
        .unwrap();
    assert!(!database_exists(&stale).await);
    assert!(!dropped.contains(&ours));
    assert!(
        database_exists(&ours).await,
        "a live process's database was swept"
    );
    admin
        .batch_execute(&format!(
            "DROP DATABASE {} WITH (FORCE)",
            quote_ident(&ours)
        ))
        .await
        .unwrap();
}

fn port_open(port: u16) -> bool {
    std::net::TcpStream::connect_timeout(
        &std::net::SocketAddr::from(([127, 0, 0, 1], port)),
        Duration::from_secs(1),
    )
    .is_ok()
}

#[tokio::test]
async fn temp_cluster_starts_loads_the_fixture_and_stops() {
    let cluster = TempCluster::start(ClusterOptions::default()).await.unwrap();
    let dir = cluster.dir().to_path_buf();
    let port = cluster.port();
    assert!(dir.is_dir());
    assert!(port_open(port));
    assert_eq!(
        cluster.url(),
        format!("postgres://postgres@127.0.0.1:{port}/postgres")
    );

    let client = cluster.client().await.unwrap();
    let one: i32 = client.query_one("SELECT 1", &[]).await.unwrap().get(0);
    assert_eq!(one, 1);

    // Fresh cluster: no Supabase roles yet, so concurrent loads race on
    // creating them; all must succeed.
    let names = ["race_a", "race_b", "race_c", "race_d"];
    for name in names {
        client
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .unwrap();
    }
    let loads = names.map(|name| {
        let url = cluster.url_for(name);
        tokio::spawn(async move {
            let c = pg::connect(&url, Duration::from_secs(10)).await.unwrap();
            fixture::load(&c, false).await
        })
    });
    for load in loads {
        load.await.unwrap().unwrap();
    }

    cluster.load_fixture().await.unwrap();
    assert_supabase_objects(&client).await;
    assert_sample_data(&client).await;
    drop(client);

    cluster.stop().await.unwrap();
    assert!(!dir.exists(), "{} still exists", dir.display());
    assert!(!port_open(port), "port {port} still open");
}

#[tokio::test]
async fn temp_cluster_is_cleaned_up_on_drop() {
    let cluster = TempCluster::start(ClusterOptions::default()).await.unwrap();
    let dir = cluster.dir().to_path_buf();
    let port = cluster.port();
    let _client = cluster.client().await.unwrap();
    drop(cluster);
    assert!(!dir.exists(), "{} still exists", dir.display());
    assert!(!port_open(port), "port {port} still open");
}

#[tokio::test]
async fn temp_cluster_stop_after_ctrl_c_reached_the_server() {
    let cluster = TempCluster::start(ClusterOptions::default()).await.unwrap();
    let dir = cluster.dir().to_path_buf();
    let port = cluster.port();
    let pid = cluster.server_pid().unwrap();
    // What a terminal Ctrl-C does to the process group.
    let status = std::process::Command::new("kill")
        .args(["-INT", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    cluster.stop().await.unwrap();
    assert!(!dir.exists(), "{} still exists", dir.display());
    assert!(!port_open(port), "port {port} still open");
}

/// Processes whose command line mentions `needle`.
fn processes_mentioning(needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        if let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) {
            let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            if cmdline.contains(needle) {
                found.push(cmdline);
            }
        }
    }
    found
}

#[tokio::test]
async fn temp_cluster_start_timeout_leaves_nothing_behind() {
    let result = TempCluster::start(ClusterOptions {
        start_timeout: Duration::ZERO,
        ..ClusterOptions::default()
    })
    .await;
    let log = match result {
        Err(ClusterError::StartTimeout { log, .. }) => log,
        // The server happened to accept the very first connection attempt.
        Ok(cluster) => {
            let log = cluster.log_path().display().to_string();
            cluster.stop().await.unwrap();
            log
        }
        Err(other) => panic!("unexpected error: {other}"),
    };
    let dir = std::path::Path::new(&log).parent().unwrap();
    assert!(!dir.exists(), "{} still exists", dir.display());
    let leftovers = processes_mentioning(&dir.display().to_string());
    assert!(leftovers.is_empty(), "orphan processes: {leftovers:?}");
}

#[tokio::test]
async fn temp_cluster_reports_missing_binaries() {
    let empty = tempfile::tempdir().unwrap();
    let err = TempCluster::start(ClusterOptions {
        bin_dir: Some(empty.path().to_path_buf()),
        ..ClusterOptions::default()
    })
    .await
    .unwrap_err();
    assert!(
        matches!(err, ClusterError::BinariesNotFound { .. }),
        "{err}"
    );
    let message = err.to_string();
    assert!(message.contains("apt install postgresql"), "{message}");
    assert!(message.contains("postgresql-server"), "{message}");
    assert!(message.contains("brew install postgresql@16"), "{message}");
}
