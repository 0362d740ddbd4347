//! End-to-end tests of the Streamable HTTP transport: bearer token, Host and
//! Origin checks, and a full initialize → tools/list → tools/call exchange.

mod common;

use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

const TOKEN: &str = "test-token-0123456789abcdef";

struct HttpServer {
    child: Child,
    url: String,
    _dir: tempfile::TempDir,
}

async fn start(extra: &[&str]) -> HttpServer {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(common::bin());
    cmd.args([
        "serve",
        "--http",
        "--port",
        "0",
        "--data-dir",
        dir.path().to_str().unwrap(),
    ])
    .args(extra)
    .env("SUPABASE_MCP_HTTP_TOKEN", TOKEN)
    .env("RUST_LOG", "warn")
    .stdin(Stdio::null())
    .stdout(Stdio::null())
    .stderr(Stdio::piped())
    .kill_on_drop(true);
    for (k, _) in std::env::vars() {
        if k.starts_with("SUPABASE_") && k != "SUPABASE_MCP_HTTP_TOKEN" || k == "DATABASE_URL" {
            cmd.env_remove(k);
        }
    }
    let mut child = cmd.spawn().unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let url = tokio::time::timeout(Duration::from_secs(20), async {
        while let Some(l) = lines.next_line().await.unwrap() {
            if let Some(u) = l.strip_prefix("supabase-mcp listening on ") {
                return u.to_owned();
            }
        }
        panic!("server exited before listening");
    })
    .await
    .unwrap();
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    HttpServer {
        child,
        url,
        _dir: dir,
    }
}

fn init_body() -> Value {
    json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}}})
}

fn post(c: &reqwest::Client, url: &str, body: &Value) -> reqwest::RequestBuilder {
    c.post(url)
        .header("accept", "application/json, text/event-stream")
        .header("content-type", "application/json")
        .body(body.to_string())
}

/// The JSON-RPC message in a JSON or SSE response body.
fn message(body: &str) -> Value {
    if let Ok(v) = serde_json::from_str(body) {
        return v;
    }
    body.lines()
        .filter_map(|l| l.strip_prefix("data:"))
        .filter_map(|d| serde_json::from_str::<Value>(d.trim()).ok())
        .find(|v| v.get("id").is_some())
        .unwrap_or(Value::Null)
}

#[tokio::test(flavor = "multi_thread")]
async fn bearer_token_is_required() {
    let s = start(&[]).await;
    let c = reqwest::Client::new();
    let r = post(&c, &s.url, &init_body()).send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(r.headers()["www-authenticate"], "Bearer");
    let r = post(&c, &s.url, &init_body())
        .bearer_auth("wrong-token-0123456789")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = post(&c, &s.url, &init_body())
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    drop(s.child);
}

#[tokio::test(flavor = "multi_thread")]
async fn host_and_origin_are_checked() {
    let s = start(&[]).await;
    let c = reqwest::Client::new();
    let r = post(&c, &s.url, &init_body())
        .bearer_auth(TOKEN)
        .header("host", "evil.example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403, "foreign Host must be refused");
    let r = post(&c, &s.url, &init_body())
        .bearer_auth(TOKEN)
        .header("origin", "https://evil.example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403, "foreign Origin must be refused");
}

#[tokio::test(flavor = "multi_thread")]
async fn full_session_over_http() {
    let s = start(&[]).await;
    let c = reqwest::Client::new();
    let r = post(&c, &s.url, &init_body())
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let session = r
        .headers()
        .get("mcp-session-id")
        .map(|v| v.to_str().unwrap().to_owned());
    let init = message(&r.text().await.unwrap());
    assert_eq!(init["result"]["serverInfo"]["name"], "supabase-mcp");
    assert_eq!(init["result"]["protocolVersion"], "2025-06-18");
    let with_session = |b: reqwest::RequestBuilder| {
        let b = b
            .bearer_auth(TOKEN)
            .header("mcp-protocol-version", "2025-06-18");
        match &session {
            Some(id) => b.header("mcp-session-id", id),
            None => b,
        }
    };
    let r = with_session(post(
        &c,
        &s.url,
        &json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
    ))
    .send()
    .await
    .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    let r = with_session(post(
        &c,
        &s.url,
        &json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}),
    ))
    .send()
    .await
    .unwrap();
    let list = message(&r.text().await.unwrap());
    assert!(
        list["result"]["tools"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["name"] == "execute_sql")
    );
    let r = with_session(post(
        &c,
        &s.url,
        &json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {"name": "list_instances", "arguments": {}}}),
    ))
    .send()
    .await
    .unwrap();
    let call = message(&r.text().await.unwrap());
    assert_eq!(
        call["result"]["structuredContent"]["status"], "ok",
        "{call}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn http_without_token_refuses_to_start() {
    let out = std::process::Command::new(common::bin())
        .args(["serve", "--http", "--port", "0"])
        .env_remove("SUPABASE_MCP_HTTP_TOKEN")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("SUPABASE_MCP_HTTP_TOKEN"));
    let out = std::process::Command::new(common::bin())
        .args([
            "serve",
            "--http",
            "--http-no-auth",
            "--bind",
            "0.0.0.0",
            "--port",
            "0",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("loopback"));
}
