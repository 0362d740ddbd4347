//! End-to-end tests of the monitoring tools (`database_stats`,
//! `monitor_connections`, `health_check`, `index_advice`) against a real
//! test database, with extra sessions opened by the test itself.

mod common;

use std::future::Future;
use std::time::{Duration, Instant};

use common::*;
use serde_json::{Value, json};
use supabase_mcp::pg::testdb::TestDb;
use tokio_postgres::{Client, NoTls};

const TOOLS: [&str; 4] = [
    "database_stats",
    "monitor_connections",
    "health_check",
    "index_advice",
];

fn ok(r: &Value) -> &Value {
    assert_eq!(status(r), "ok", "{r}");
    data(r)
}

fn items<'a>(d: &'a Value, key: &str) -> &'a Vec<Value> {
    d[key]
        .as_array()
        .unwrap_or_else(|| panic!("no `{key}` array in {d}"))
}

/// A connection to the server's test database, with an application name.
async fn connect(s: &Server, application: &str) -> Client {
    let mut cfg: tokio_postgres::Config = s.db.as_ref().unwrap().url.parse().unwrap();
    cfg.application_name(application);
    let (client, conn) = cfg.connect(NoTls).await.unwrap();
    tokio::spawn(conn);
    client
}

async fn pid(c: &Client) -> i32 {
    c.query_one("SELECT pg_backend_pid()", &[])
        .await
        .unwrap()
        .get(0)
}

/// Calls `tool` until `check` accepts its data (statistics reach shared
/// memory with a delay) or 30 s pass.
async fn call_until<F>(s: &mut Server, tool: &str, args: Value, check: F) -> Value
where
    F: Fn(&Value) -> bool,
{
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let r = s.call(tool, args.clone()).await;
        if check(ok(&r)) || Instant::now() > deadline {
            return r;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Waits until `cond` holds, checking every 100 ms for at most 10 s.
async fn wait_for<F, Fut>(what: &str, cond: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(10);
    while !cond().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// True when session `pid` waits on a lock.
async fn waits_on_lock(observer: &Client, pid: i32) -> bool {
    observer
        .query_one(
            "SELECT coalesce(bool_or(wait_event_type = 'Lock'), false) FROM pg_stat_activity WHERE pid = $1",
            &[&pid],
        )
        .await
        .unwrap()
        .get(0)
}

#[tokio::test(flavor = "multi_thread")]
async fn tools_are_listed_read_only_with_short_descriptions() {
    let mut s = Server::start(None, &[]).await;
    let tools = s.tools().await;
    for name in TOOLS {
        let t = tools
            .iter()
            .find(|t| t["name"] == name)
            .unwrap_or_else(|| panic!("{name} not listed"));
        assert_eq!(t["annotations"]["readOnlyHint"], true, "{name}");
        let d = t["description"].as_str().unwrap();
        assert!(d.len() <= 250, "{name}: description of {} chars", d.len());
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn database_stats_reports_dead_rows_and_long_running_queries() {
    let db = TestDb::new().await.unwrap();
    let name = db.name.clone();
    let mut s = Server::start(Some(db), &[]).await;
    {
        // Closing the session flushes its statistics.
        let c = connect(&s, "smcp-churn").await;
        c.batch_execute(
            "CREATE TABLE public.churn (id int) WITH (autovacuum_enabled = false); \
             INSERT INTO public.churn SELECT generate_series(1, 1000); \
             DELETE FROM public.churn WHERE id <= 600;",
        )
        .await
        .unwrap();
    }
    let r = call_until(&mut s, "database_stats", json!({}), |d| {
        d["dead_rows_top_tables"].as_array().is_some_and(|t| {
            t.iter()
                .any(|t| t["table"] == "churn" && t["dead_rows"] == 600)
        })
    })
    .await;
    let d = ok(&r);
    let churn = items(d, "dead_rows_top_tables")
        .iter()
        .find(|t| t["table"] == "churn")
        .unwrap_or_else(|| panic!("churn not reported: {d}"));
    assert_eq!(churn["schema"], "public");
    assert_eq!(churn["dead_rows"], 600);
    assert_eq!(churn["live_rows"], 400);
    assert_eq!(churn["dead_ratio"], 0.6);
    assert_eq!(d["database"], name.as_str());
    assert!(d["size_bytes"].as_i64().unwrap() > 0);
    assert!(d["transactions"]["commits"].as_i64().unwrap() > 0);
    for k in ["deadlocks", "temp_files", "temp_bytes", "conflicts"] {
        assert!(d[k].is_i64(), "{k}: {d}");
    }
    assert!(
        d["cache_hit_ratio"].get("heap").is_some() && d["cache_hit_ratio"].get("index").is_some()
    );

    // A query that keeps running while the tool looks.
    let sleeper = connect(&s, "smcp-sleeper").await;
    let sleeper_pid = pid(&sleeper).await;
    let observer = connect(&s, "smcp-observer").await;
    let sleeping = tokio::spawn(async move {
        sleeper
            .simple_query("SELECT pg_sleep(4) /* smcp long query */")
            .await
            .map(|_| ())
    });
    wait_for("the sleeper to run", || async {
        observer
            .query_one(
                "SELECT count(*) FROM pg_stat_activity WHERE pid = $1 AND state = 'active'",
                &[&sleeper_pid],
            )
            .await
            .unwrap()
            .get::<_, i64>(0)
            == 1
    })
    .await;
    let r = s.call("database_stats", json!({})).await;
    let d = ok(&r);
    let queries = items(d, "longest_running_queries");
    assert!(queries.len() <= 5);
    let q = queries
        .iter()
        .find(|q| q["pid"] == sleeper_pid)
        .unwrap_or_else(|| panic!("sleeper not reported: {d}"));
    assert!(q["query"].as_str().unwrap().contains("pg_sleep(4)"), "{q}");
    assert_eq!(q["state"], "active");
    assert!(q["seconds"].as_f64().unwrap() >= 0.0);
    assert!(
        queries.iter().all(|q| !q["query"]
            .as_str()
            .unwrap_or("")
            .contains("pg_stat_activity")),
        "the tool's own query is never reported: {queries:?}"
    );
    sleeping.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn monitor_connections_sees_a_second_named_connection() {
    let mut s = Server::start(Some(TestDb::new().await.unwrap()), &[]).await;
    let app = format!("smcp-monitor-{}", std::process::id());
    let c = connect(&s, &app).await;
    c.batch_execute("BEGIN; SELECT 1").await.unwrap();
    let max: String = c
        .query_one("SHOW max_connections", &[])
        .await
        .unwrap()
        .get(0);

    let r = s.call("monitor_connections", json!({"limit": 1000})).await;
    let d = ok(&r);
    let group = items(d, "groups")
        .iter()
        .find(|g| g["application"] == app.as_str())
        .unwrap_or_else(|| panic!("{app} not grouped: {d}"));
    assert_eq!(group["state"], "idle in transaction");
    assert_eq!(group["count"], 1);
    assert_eq!(group["role"], "postgres");
    assert_eq!(group["client"], "127.0.0.1");
    assert!(
        items(d, "groups")
            .iter()
            .any(|g| g["application"] == "supabase-mcp" && g["state"] == "active"),
        "the server's own connection is counted: {d}"
    );
    assert_eq!(d["max_connections"], max.parse::<i64>().unwrap());
    assert!(d["total"].as_i64().unwrap() >= 2);
    assert!(d["by_state"]["idle in transaction"].as_i64().unwrap() >= 1);
    assert!(d["usage_percent"].as_f64().unwrap() > 0.0);
    assert!(d["available"].as_i64().unwrap() < d["max_connections"].as_i64().unwrap());
    assert!(d["longest_idle_in_transaction"]["pid"].is_i64(), "{d}");
    assert!(d["recommendations"].is_array());

    // Groups are paginated.
    let r = s.call("monitor_connections", json!({"limit": 1})).await;
    let d = ok(&r);
    assert_eq!(items(d, "groups").len(), 1);
    assert!(d["total_groups"].as_i64().unwrap() >= 2);
    assert_eq!(d["next_offset"], 1);

    c.batch_execute("ROLLBACK").await.unwrap();
    let r = s.call("monitor_connections", json!({"limit": 1001})).await;
    assert_eq!(error_code(&r), "invalid_arguments", "{r}");
}

#[tokio::test(flavor = "multi_thread")]
async fn health_check_reports_a_blocked_lock() {
    let mut s = Server::start(Some(TestDb::new().await.unwrap()), &[]).await;
    let r = s.call("health_check", json!({})).await;
    let d = ok(&r);
    let observer = connect(&s, "smcp-observer").await;
    let version: String = observer
        .query_one("SHOW server_version", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(d["version"], version.as_str());
    assert_eq!(d["reachable"], true);
    assert_eq!(d["in_recovery"], false);
    assert!(d["uptime_seconds"].as_f64().unwrap() > 0.0);
    assert!(d["latency_ms"].as_f64().unwrap() >= 0.0);
    assert!(d["wraparound"]["percent"].as_f64().unwrap() < 50.0);
    assert!(d["replication_slots"].is_array() && d["replicas"].is_array());
    assert!(["ok", "warning", "critical"].contains(&d["status"].as_str().unwrap()));

    observer
        .batch_execute("CREATE TABLE public.contended (id int)")
        .await
        .unwrap();
    let holder = connect(&s, "smcp-holder").await;
    let holder_pid = pid(&holder).await;
    holder
        .batch_execute("BEGIN; LOCK TABLE public.contended IN ACCESS EXCLUSIVE MODE")
        .await
        .unwrap();
    let waiter = connect(&s, "smcp-waiter").await;
    let waiter_pid = pid(&waiter).await;
    let waiting = tokio::spawn(async move {
        waiter
            .batch_execute(
                "SET lock_timeout = '20s'; BEGIN; LOCK TABLE public.contended IN ACCESS SHARE MODE; COMMIT",
            )
            .await
    });
    wait_for("the waiter to block", || {
        waits_on_lock(&observer, waiter_pid)
    })
    .await;

    let r = s.call("health_check", json!({})).await;
    let d = ok(&r);
    assert_ne!(d["status"], "ok", "{d}");
    let reasons = d["reasons"].to_string();
    assert!(reasons.contains("blocked by locks"), "{reasons}");
    let blocked = items(d, "blocked")
        .iter()
        .find(|b| b["pid"] == waiter_pid)
        .unwrap_or_else(|| panic!("waiter not reported: {d}"));
    assert_eq!(blocked["blocked_by"], json!([holder_pid]));
    assert!(
        blocked["query"].as_str().unwrap().contains("LOCK TABLE"),
        "{blocked}"
    );
    let blocking = items(d, "blocking")
        .iter()
        .find(|b| b["pid"] == holder_pid)
        .unwrap_or_else(|| panic!("holder not reported: {d}"));
    assert_eq!(blocking["state"], "idle in transaction");

    holder.batch_execute("ROLLBACK").await.unwrap();
    waiting.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn health_check_reports_an_unreachable_database_as_critical() {
    let mut s = Server::start(
        None,
        &["--db-url", "postgres://postgres@127.0.0.1:1/postgres"],
    )
    .await;
    let r = s.call("health_check", json!({})).await;
    let d = ok(&r);
    assert_eq!(d["status"], "critical");
    assert_eq!(d["reachable"], false);
    assert!(
        d["reasons"][0].as_str().unwrap().contains("unreachable"),
        "{d}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn index_advice_finds_unindexed_fks_duplicates_unused_and_seq_scans() {
    let mut s = Server::start(Some(TestDb::with_sample_data().await.unwrap()), &[]).await;
    {
        let c = connect(&s, "smcp-setup").await;
        c.batch_execute(
            "CREATE TABLE public.parent (id bigint PRIMARY KEY); \
             CREATE TABLE public.child (id bigint PRIMARY KEY, parent_id bigint REFERENCES public.parent (id), note text); \
             CREATE TABLE public.dup (id int, email text); \
             CREATE INDEX dup_email_a ON public.dup (email); \
             CREATE INDEX dup_email_b ON public.dup (email); \
             CREATE INDEX dup_email_lower ON public.dup (lower(email)); \
             CREATE TABLE public.big (id int, v int) WITH (autovacuum_enabled = false); \
             INSERT INTO public.big SELECT g, g FROM generate_series(1, 12000) g;",
        )
        .await
        .unwrap();
        for _ in 0..60 {
            c.simple_query("SELECT count(*) FROM public.big WHERE v > 5")
                .await
                .unwrap();
        }
    }
    let r = call_until(&mut s, "index_advice", json!({}), |d| {
        d["seq_scan_heavy_tables"]
            .as_array()
            .is_some_and(|t| t.iter().any(|t| t["table"] == "big"))
    })
    .await;
    let d = ok(&r);

    let fks = items(d, "foreign_keys_without_index");
    let child = fks
        .iter()
        .find(|f| f["table"] == "child")
        .unwrap_or_else(|| panic!("child FK not reported: {d}"));
    assert_eq!(child["columns"], json!(["parent_id"]));
    assert_eq!(child["fix"], "CREATE INDEX ON public.child (parent_id);");
    let comments = fks
        .iter()
        .find(|f| f["table"] == "comments")
        .unwrap_or_else(|| panic!("comments.author_id not reported: {d}"));
    assert_eq!(
        comments["fix"],
        "CREATE INDEX ON public.comments (author_id);"
    );
    // Covered foreign keys are not reported.
    assert!(fks.iter().all(|f| f["table"] != "posts"), "{fks:?}");
    assert!(
        fks.iter().all(|f| f["columns"] != json!(["post_id"])),
        "{fks:?}"
    );

    let dups = items(d, "duplicate_indexes");
    assert_eq!(dups.len(), 1, "{dups:?}");
    assert_eq!(dups[0]["table"], "dup");
    assert_eq!(dups[0]["indexes"], json!(["dup_email_a", "dup_email_b"]));
    assert_eq!(dups[0]["keep"], "dup_email_a");
    assert_eq!(dups[0]["fix"], json!(["DROP INDEX public.dup_email_b;"]));

    let unused = items(d, "unused_indexes");
    let lower = unused
        .iter()
        .find(|u| u["index"] == "dup_email_lower")
        .unwrap_or_else(|| panic!("dup_email_lower not reported: {d}"));
    assert_eq!(lower["fix"], "DROP INDEX public.dup_email_lower;");
    let fk_index = unused
        .iter()
        .find(|u| u["index"] == "posts_author_id_idx")
        .unwrap_or_else(|| panic!("posts_author_id_idx not reported: {d}"));
    assert!(fk_index.get("fix").is_none(), "{fk_index}");
    assert!(
        fk_index["advice"].as_str().unwrap().starts_with("keep"),
        "{fk_index}"
    );
    assert!(
        unused.iter().all(|u| u["index"] != "posts_pkey"),
        "primary keys are never unused"
    );

    let big = items(d, "seq_scan_heavy_tables")
        .iter()
        .find(|t| t["table"] == "big")
        .unwrap_or_else(|| panic!("big not reported: {d}"));
    assert!(big["seq_scans"].as_i64().unwrap() >= 60, "{big}");
    assert_eq!(big["live_rows"], 12000);

    assert_eq!(d["top_queries"], json!([]));
    assert!(
        d["pg_stat_statements"]
            .as_str()
            .unwrap()
            .contains("not installed"),
        "{d}"
    );

    // Installed but not preloaded: said plainly, no failure.
    s.db.as_ref()
        .unwrap()
        .client()
        .await
        .unwrap()
        .batch_execute("CREATE EXTENSION pg_stat_statements WITH SCHEMA extensions")
        .await
        .unwrap();
    let r = s
        .call("index_advice", json!({"schemas": ["public"], "limit": 1}))
        .await;
    let d = ok(&r);
    let note = d["pg_stat_statements"].as_str().unwrap_or("");
    let loaded = note.is_empty();
    assert!(
        loaded || note.contains("shared_preload_libraries"),
        "{note}"
    );
    assert!(items(d, "foreign_keys_without_index").len() <= 1);
    let w = r["structuredContent"]["warnings"].to_string();
    assert!(
        w.contains("foreign_keys_without_index: 1 of 2 shown"),
        "{w}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn arguments_are_validated() {
    let mut s = Server::start(Some(TestDb::new().await.unwrap()), &[]).await;
    for tool in TOOLS {
        let r = s.call(tool, json!({"bogus": 1})).await;
        assert_eq!(error_code(&r), "invalid_arguments", "{tool}");
        assert!(text(&r).contains("bogus"), "{tool}: {}", text(&r));
    }
    let r = s.call("index_advice", json!({"schemas": ["nope"]})).await;
    assert_eq!(error_code(&r), "not_found", "{r}");
    assert!(text(&r).contains("list_schemas"));
    let r = s.call("index_advice", json!({"limit": 5000})).await;
    assert_eq!(error_code(&r), "invalid_arguments", "{r}");
    let r = s.call("monitor_connections", json!({"limit": 0})).await;
    assert_eq!(error_code(&r), "invalid_arguments", "{r}");
}
