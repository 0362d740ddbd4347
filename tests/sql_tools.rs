//! The SQL tools end to end: `validate_sql`, `explain_query`, and
//! `execute_sql`'s parameters, column types, timing, commands, notices,
//! large results in bounded memory, and timeouts that stop the server-side
//! query.

mod common;

use std::time::{Duration, Instant};

use common::*;
use serde_json::{Value, json};
use supabase_mcp::pg::testdb::TestDb;

fn vm_hwm_kb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn validate_sql_without_a_database() {
    let mut s = Server::start(None, &[]).await;
    let r = s
        .call(
            "validate_sql",
            json!({"query": "select 1;\nSELCT id FROM public.posts"}),
        )
        .await;
    assert_eq!(status(&r), "ok", "{r}");
    let d = data(&r);
    assert_eq!(d["valid"], false);
    assert_eq!(d["level"], "invalid");
    assert_eq!(d["error"]["line"], 2);
    assert_eq!(d["error"]["column"], 1);
    assert_eq!(d["error"]["near"], "SELCT");
    assert!(
        d["error"]["suggestion"]
            .as_str()
            .unwrap()
            .contains("did you mean SELECT"),
        "{d}"
    );
    let r = s
        .call(
            "validate_sql",
            json!({"query": "select id\n  from public.posts\n where title = 'x"}),
        )
        .await;
    let d = data(&r);
    assert_eq!(
        (d["error"]["line"].clone(), d["error"]["column"].clone()),
        (json!(3), json!(16)),
        "{d}"
    );
    assert!(d["error"]["suggestion"].as_str().unwrap().contains("quote"));
    let r = s
        .call(
            "validate_sql",
            json!({"query": "select count(*) from (select 1 as x"}),
        )
        .await;
    assert!(
        data(&r)["error"]["suggestion"]
            .as_str()
            .unwrap()
            .contains("not closed"),
        "{r}"
    );
    let r = s
        .call(
            "validate_sql",
            json!({"query": "select * from public.posts; delete from public.posts; copy public.posts to program 'x'"}),
        )
        .await;
    let d = data(&r);
    assert_eq!(d["valid"], true);
    assert_eq!(d["level"], "forbidden");
    let levels: Vec<&str> = d["statements"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["level"].as_str().unwrap())
        .collect();
    assert_eq!(levels, ["read", "destructive", "forbidden"]);
    assert_eq!(d["statements"][1]["kind"], "DELETE");
    assert!(
        d["statements"][1]["reason"]
            .as_str()
            .unwrap()
            .contains("without WHERE")
    );
}

async fn big_table(admin: &tokio_postgres::Client) {
    admin
        .batch_execute(
            "create table public.big as select g as id, g % 100 as x, md5(g::text) as pad from generate_series(1, 50000) g;
             analyze public.big;
             create table public.canary (id serial primary key, v text);",
        )
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn explain_query_summarizes_the_plan() {
    let db = TestDb::with_sample_data().await.unwrap();
    let admin = db.client().await.unwrap();
    big_table(&admin).await;
    let mut s = Server::start(Some(db), &[]).await;
    let r = s
        .call(
            "explain_query",
            json!({"query": "select b.id, p.title from public.big b left join public.posts p on p.id = b.id where b.x = $1", "params": [5], "analyze": true, "buffers": true}),
        )
        .await;
    assert_eq!(status(&r), "ok", "{r}");
    let sum = &data(&r)["summary"];
    assert!(sum["total_cost"].as_f64().unwrap() > 0.0, "{sum}");
    assert!(sum["estimated_rows"].as_f64().unwrap() > 0.0);
    assert_eq!(sum["actual_rows"], 500.0, "{sum}");
    assert!(sum["execution_time_ms"].as_f64().is_some());
    let nodes = sum["costliest_nodes"].as_array().unwrap();
    assert!(!nodes.is_empty() && nodes.len() <= 3);
    assert!(nodes[0]["node_type"].is_string() && nodes[0]["self_time_ms"].is_number());
    let scans = sum["seq_scans_on_big_tables"].as_array().unwrap();
    assert_eq!(scans.len(), 1, "{sum}");
    assert_eq!(scans[0]["relation"], "public.big");
    assert!(scans[0]["filter"].as_str().unwrap().contains("x"));
    assert!(data(&r)["plan"][0]["Plan"].is_object());
    // Without analyze: estimates only, and no confirmation for a write.
    let r = s
        .call(
            "explain_query",
            json!({"query": "delete from public.big where x = 1"}),
        )
        .await;
    assert_eq!(status(&r), "ok", "{r}");
    assert!(data(&r)["summary"].get("actual_rows").is_none());
    let r = s
        .call("explain_query", json!({"query": "select 1; select 2"}))
        .await;
    assert_eq!(error_code(&r), "invalid_arguments");
}

#[tokio::test(flavor = "multi_thread")]
async fn explain_analyze_of_a_write_needs_confirmation_and_leaves_no_row() {
    let db = TestDb::with_sample_data().await.unwrap();
    let admin = db.client().await.unwrap();
    big_table(&admin).await;
    let mut s = Server::start(Some(db), &[]).await;
    let args = json!({"query": "insert into public.canary (v) values ('x')", "analyze": true});
    let r = s.call("explain_query", args.clone()).await;
    assert_eq!(status(&r), "confirmation_required", "{r}");
    assert!(data(&r)["action"].as_str().unwrap().contains("rolled back"));
    let mut confirmed = args.clone();
    confirmed["confirmation_token"] = data(&r)["confirmation_token"].clone();
    let r = s.call("explain_query", confirmed).await;
    assert_eq!(status(&r), "ok", "{r}");
    assert_eq!(data(&r)["summary"]["actual_rows"], 0.0);
    assert_eq!(data(&r)["plan"][0]["Plan"]["Node Type"], "ModifyTable");
    let n: i64 = admin
        .query_one("select count(*) from public.canary", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 0, "the insert was rolled back");
    // Read-only servers refuse it outright.
    let db = TestDb::with_sample_data().await.unwrap();
    let mut s = Server::start(Some(db), &["--read-only"]).await;
    let r = s
        .call(
            "explain_query",
            json!({"query": "delete from public.posts where id = 1", "analyze": true}),
        )
        .await;
    assert_eq!(error_code(&r), "read_only", "{r}");
    let r = s
        .call(
            "explain_query",
            json!({"query": "select * from public.posts", "analyze": true}),
        )
        .await;
    assert_eq!(status(&r), "ok", "{r}");
}

#[tokio::test(flavor = "multi_thread")]
async fn execute_sql_params_types_commands_and_timing() {
    let db = TestDb::with_sample_data().await.unwrap();
    let admin = db.client().await.unwrap();
    admin
        .batch_execute("create table public.canary (id serial primary key, v text, j jsonb)")
        .await
        .unwrap();
    let mut s = Server::start(Some(db), &[]).await;
    let r = s
        .call(
            "execute_sql",
            json!({
                "query": "select $1::int + 1 as n, $2::text as t, $3::jsonb as j, $4::text is null as missing, $5::numeric as big, now() as ts",
                "params": [41, "it's", {"a": [1, 2]}, null, "12345678901234567890.5"]
            }),
        )
        .await;
    assert_eq!(status(&r), "ok", "{r}");
    let d = data(&r);
    assert_eq!(
        d["rows"][0]
            .as_object()
            .unwrap()
            .iter()
            .filter(|(k, _)| *k != "ts")
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect::<serde_json::Map<String, Value>>(),
        json!({"n": 42, "t": "it's", "j": {"a": [1, 2]}, "missing": true, "big": "12345678901234567890.5"})
            .as_object()
            .unwrap()
            .clone()
    );
    let types: Vec<&str> = d["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        [
            "integer",
            "text",
            "jsonb",
            "boolean",
            "numeric",
            "timestamp with time zone"
        ]
    );
    assert!(d["duration_ms"].as_f64().unwrap() >= 0.0);
    assert_eq!(
        d["commands"],
        json!([{"statement": 1, "command": "SELECT", "rows": 1}])
    );
    // Parameters in a write, with RETURNING; types are inferred from the target columns.
    let r = s
        .call(
            "execute_sql",
            json!({"query": "insert into public.canary (v, j) values ($1, $2) returning id, v, j", "params": ["x'; drop table public.canary; --", [1]]}),
        )
        .await;
    assert_eq!(status(&r), "ok", "{r}");
    assert_eq!(data(&r)["rows"][0]["v"], "x'; drop table public.canary; --");
    assert_eq!(data(&r)["rows"][0]["j"], json!([1]));
    assert_eq!(data(&r)["columns"][0]["type"], "integer");
    assert_eq!(data(&r)["commands"][0]["command"], "INSERT");
    assert_eq!(data(&r)["commands"][0]["rows"], 1);
    // Several statements: one command entry each, the last result set returned.
    let r = s
        .call(
            "execute_sql",
            json!({"query": "insert into public.canary (v) values ('a'), ('b'); update public.canary set v = 'c' where v = 'a'; select id, v, id from public.canary order by id"}),
        )
        .await;
    assert_eq!(status(&r), "ok", "{r}");
    let cmds: Vec<(String, Value)> = data(&r)["commands"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["command"].as_str().unwrap().to_owned(), c["rows"].clone()))
        .collect();
    assert_eq!(
        cmds,
        [
            ("INSERT".to_owned(), json!(2)),
            ("UPDATE".to_owned(), json!(1)),
            ("SELECT".to_owned(), json!(3))
        ]
    );
    assert_eq!(
        data(&r)["rows"][2]["id_2"],
        "3",
        "duplicate names renamed: {r}"
    );
    // Mismatched parameters are refused before reaching the database.
    let r = s
        .call(
            "execute_sql",
            json!({"query": "select $1::int, $2::int", "params": [1]}),
        )
        .await;
    assert_eq!(error_code(&r), "invalid_arguments", "{r}");
    // Errors name the statement and position.
    let r = s
        .call(
            "execute_sql",
            json!({"query": "select 1;\nselect nope from public.canary"}),
        )
        .await;
    let t = text(&r);
    assert!(t.contains("statement 2 of 2"), "{t}");
    assert!(t.contains("line 2, column 8"), "{t}");
}

#[tokio::test(flavor = "multi_thread")]
async fn notices_are_captured_by_the_runner() {
    use supabase_mcp::sql::notices::NoticeConnect;
    use supabase_mcp::sql::run::{self, ExecOptions};
    let db = TestDb::new().await.unwrap();
    let cfg: tokio_postgres::Config = db.url.parse().unwrap();
    let mgr = deadpool_postgres::Manager::from_connect(
        cfg,
        NoticeConnect::new(tokio_postgres::NoTls),
        deadpool_postgres::ManagerConfig::default(),
    );
    let pool = deadpool_postgres::Pool::builder(mgr)
        .max_size(2)
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let opts = ExecOptions {
        read_only: false,
        timeout: Duration::from_secs(10),
        params: None,
        pooled: false,
        canceller: std::sync::Arc::new(|_| Box::pin(async {})),
        spill: supabase_mcp::spill::SpillStore::new(dir.path().to_owned(), Duration::from_secs(60)),
        format: supabase_mcp::spill::Format::Jsonl,
        max_rows: 100,
        budget: 100_000,
    };
    let progress = |_n: u64| -> futures::future::BoxFuture<'static, ()> { Box::pin(async {}) };
    let cancel = tokio_util::sync::CancellationToken::new();
    for word in ["hi", "again"] {
        let sql = format!(
            "do $$ begin raise notice '{word}'; raise warning 'careful' using hint = 'h'; end $$; select 1 as one"
        );
        let cls = supabase_mcp::sql::classify::classify(&sql);
        let out = run::execute(
            pool.get().await.unwrap(),
            &sql,
            &cls,
            &opts,
            &cancel,
            &progress,
        )
        .await
        .unwrap();
        let notices = out.notices.unwrap();
        assert_eq!(notices.len(), 2, "{notices:?}");
        assert_eq!(notices[0].severity, "NOTICE");
        assert_eq!(notices[0].message, word);
        assert_eq!(notices[1].severity, "WARNING");
        assert_eq!(notices[1].hint.as_deref(), Some("h"));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn notices_reach_execute_sql() {
    let db = TestDb::new().await.unwrap();
    let mut s = Server::start(Some(db), &[]).await;
    let r = s
        .call(
            "execute_sql",
            json!({"query": "do $$ begin raise notice 'hi'; end $$"}),
        )
        .await;
    assert_eq!(status(&r), "ok", "{r}");
    assert_eq!(data(&r)["notices"][0]["message"], "hi", "{r}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_million_rows_spill_in_bounded_memory() {
    let db = TestDb::new().await.unwrap();
    let mut s = Server::start(Some(db), &[]).await;
    s.client.timeout = Duration::from_secs(600);
    let pid = s.client.pid().unwrap();
    // The server's own footprint first (a debug build maps more code), so
    // the check is on what the million rows add.
    let warm = s
        .call("execute_sql", json!({"query": "select 1 as one"}))
        .await;
    assert_eq!(status(&warm), "ok", "{warm}");
    let base = vm_hwm_kb(pid);
    let started = Instant::now();
    let r = s
        .call(
            "execute_sql",
            json!({"query": "select g as id, 'row number ' || g as label, g % 7 = 0 as lucky from generate_series(1, 1000000) g", "timeout_secs": 600}),
        )
        .await;
    assert_eq!(status(&r), "ok", "{r}");
    let d = data(&r);
    assert_eq!(d["row_count"], 1_000_000);
    assert_eq!(d["truncated"], true);
    let path = d["spill"]["path"].as_str().unwrap();
    let file = std::fs::File::open(path).unwrap();
    let lines = std::io::BufRead::lines(std::io::BufReader::new(file)).count();
    assert_eq!(lines, 1_000_000);
    let hwm = vm_hwm_kb(pid);
    eprintln!(
        "1,000,000 rows in {:?}, server peak RSS {} kB ({} kB before the query)",
        started.elapsed(),
        hwm,
        base
    );
    assert!(
        hwm - base < 25 * 1024,
        "the query added {} kB to the peak RSS ({base} kB before, {hwm} kB after)",
        hwm - base
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn timeout_cancels_the_query_on_the_server() {
    let db = TestDb::new().await.unwrap();
    let admin = db.client().await.unwrap();
    let mut s = Server::start(Some(db), &[]).await;
    let started = Instant::now();
    let r = s
        .call(
            "execute_sql",
            json!({"query": "select pg_sleep(30) /* smcp-timeout-test */", "timeout_secs": 1}),
        )
        .await;
    assert_eq!(error_code(&r), "timeout", "{r}");
    assert!(started.elapsed() < Duration::from_secs(10));
    let mut running = 1;
    for _ in 0..50 {
        running = admin
            .query_one(
                "select count(*) from pg_stat_activity where query like '%smcp-timeout-test%' \
                 and state = 'active' and pid <> pg_backend_pid()",
                &[],
            )
            .await
            .unwrap()
            .get::<_, i64>(0);
        if running == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(running, 0, "the query still runs on the server");
    // The server keeps working.
    let r = s
        .call("execute_sql", json!({"query": "select 1 as one"}))
        .await;
    assert_eq!(data(&r)["rows"][0]["one"], 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn forbidden_sql_needs_the_flag() {
    use supabase_mcp::pg::testdb::TestDb;
    let db = TestDb::new().await.unwrap();
    let url = db.url.clone();
    let mut s = common::Server::start(Some(db), &[]).await;
    let q = serde_json::json!({"query": "select length(pg_read_file('PG_VERSION')) > 0 as ok"});
    let r = s.call("execute_sql", q.clone()).await;
    assert_eq!(common::error_code(&r), "permission_denied", "{r}");
    assert!(common::text(&r).contains("--allow-forbidden-sql"));
    drop(s);
    let db2 = TestDb::new().await.unwrap();
    let _ = url;
    let mut s = common::Server::start(Some(db2), &["--allow-forbidden-sql"]).await;
    let r = s.call("execute_sql", q).await;
    assert_eq!(common::status(&r), "ok", "{r}");
}
