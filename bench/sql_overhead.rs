//! SQL overhead benchmark: what `execute_sql` through the MCP server (the
//! release binary over stdio) costs on top of PostgreSQL itself.
//!
//! 1. `SELECT 1`: median of N `execute_sql` calls versus median of N raw
//!    round trips with tokio-postgres in this process, and the overhead
//!    (target < 1 ms).
//! 2. 100,000 rows: `execute_sql` (rows converted to JSON and spilled to a
//!    file) versus `psql -c ... > /dev/null` (target: no slower).
//!
//! Run with `cargo bench --bench sql_overhead` (PostgreSQL from
//! `DATABASE_URL`, default `postgres://postgres@127.0.0.1:5432/postgres`).
//! Options after `--`: `--calls N` (default 300), `--runs N` (default 5).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use supabase_mcp::mcp_client::StdioClient;
use supabase_mcp::pg::testdb::TestDb;

const ROWS_QUERY: &str = "select g as id, 'row number ' || g as label, g % 7 = 0 as lucky, \
     (g * 1.5)::numeric as amount, now() as ts from generate_series(1, 100000) g";

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n == 0 {
        return f64::NAN;
    }
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

async fn call(client: &mut StdioClient, query: &str) -> Value {
    let r = client
        .call(
            "execute_sql",
            json!({ "query": query, "timeout_secs": 300 }),
        )
        .await
        .expect("execute_sql call");
    assert_eq!(
        r["structuredContent"]["status"], "ok",
        "execute_sql failed: {r}"
    );
    r
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let calls = arg("--calls", 300).max(200);
    let runs = arg("--runs", 5).max(1);
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_supabase-mcp"));
    let db = TestDb::new().await.expect("test database");
    let data_dir = tempfile::tempdir().expect("temp dir");
    let args: Vec<String> = vec![
        "serve".into(),
        "--data-dir".into(),
        data_dir.path().display().to_string(),
        "--db-url".into(),
        db.url.clone(),
        "--rate-limit".into(),
        "1000000".into(),
    ];
    let remove: Vec<String> = std::env::vars()
        .map(|(k, _)| k)
        .filter(|k| k.starts_with("SUPABASE_") || k == "DATABASE_URL")
        .collect();
    let mut client = StdioClient::spawn_with(
        &bin,
        &args,
        &[("RUST_LOG".into(), "warn".into())],
        &remove,
        true,
    )
    .expect("start the server");
    client.timeout = Duration::from_secs(600);
    client.initialize().await.expect("initialize");

    // 1. SELECT 1: server versus raw round trips.
    for _ in 0..20 {
        call(&mut client, "SELECT 1").await;
    }
    let mut server = Vec::with_capacity(calls);
    for _ in 0..calls {
        let t = Instant::now();
        call(&mut client, "SELECT 1").await;
        server.push(ms(t.elapsed()));
    }
    let (raw_client, conn) = tokio_postgres::connect(&db.url, tokio_postgres::NoTls)
        .await
        .expect("raw connection");
    tokio::spawn(conn);
    for _ in 0..20 {
        raw_client
            .simple_query("SELECT 1")
            .await
            .expect("raw query");
    }
    let mut raw = Vec::with_capacity(calls);
    for _ in 0..calls {
        let t = Instant::now();
        raw_client
            .simple_query("SELECT 1")
            .await
            .expect("raw query");
        raw.push(ms(t.elapsed()));
    }
    let server_med = median(&mut server);
    let raw_med = median(&mut raw);
    let overhead = server_med - raw_med;

    // 2. 100,000 rows: server versus psql.
    call(&mut client, ROWS_QUERY).await;
    let mut big = Vec::with_capacity(runs);
    let mut spilled = 0u64;
    for _ in 0..runs {
        let t = Instant::now();
        let r = call(&mut client, ROWS_QUERY).await;
        big.push(ms(t.elapsed()));
        spilled = r["structuredContent"]["data"]["row_count"]
            .as_u64()
            .unwrap_or(0);
    }
    let big_med = median(&mut big);
    let mut psql_times = Vec::with_capacity(runs);
    let psql_ok = std::process::Command::new("psql")
        .arg("--version")
        .output()
        .is_ok();
    if psql_ok {
        for _ in 0..=runs {
            let t = Instant::now();
            let status = std::process::Command::new("psql")
                .args(["-X", "-q", &db.url, "-c", ROWS_QUERY])
                .stdout(std::process::Stdio::null())
                .status()
                .expect("run psql");
            assert!(status.success(), "psql failed");
            psql_times.push(ms(t.elapsed()));
        }
        psql_times.remove(0); // warm-up
    }
    let psql_med = median(&mut psql_times);

    println!("SQL overhead benchmark ({calls} calls, {runs} runs; medians)");
    println!();
    println!("  SELECT 1 through execute_sql (stdio) {server_med:>9.3} ms");
    println!("  SELECT 1 raw tokio-postgres          {raw_med:>9.3} ms");
    println!(
        "  overhead                             {overhead:>9.3} ms   target < 1 ms: {} (ratio {:.2})",
        if overhead < 1.0 { "met" } else { "MISSED" },
        overhead / 1.0
    );
    println!();
    println!(
        "  100,000 rows through execute_sql     {big_med:>9.1} ms   ({spilled} rows, spilled to a file)"
    );
    if psql_ok {
        let ratio = big_med / psql_med;
        println!("  100,000 rows psql -c > /dev/null     {psql_med:>9.1} ms");
        println!(
            "  ratio server / psql                  {ratio:>9.2}      target <= 1: {}",
            if ratio <= 1.0 { "met" } else { "MISSED" }
        );
    } else {
        println!("  psql not found: the comparison with psql was skipped");
    }
    drop(client);
    drop(db);
}
