//! A whole session with every kind of secret configured: no secret may
//! appear in stderr logs, tool results or the audit log.

mod common;

use std::process::Stdio;

use common::*;
use serde_json::json;
use supabase_mcp::pg::testdb::TestDb;
use tokio::io::AsyncReadExt;

#[tokio::test(flavor = "multi_thread")]
async fn no_secret_leaks_anywhere() {
    let db = TestDb::new().await.unwrap();
    // Trust authentication ignores the password, so a secret one can be configured.
    let password = "Pw-0f-the-db-7731";
    let url = db
        .url
        .replacen("postgres@", &format!("postgres:{password}@"), 1);
    assert!(url.contains(password), "{url}");
    let secrets = [
        password,
        "service-role-key-secret-8842",
        "anon-key-secret-1193",
        "sbp_access_token_secret_5521",
        "dokploy-key-secret-7710",
        "http-token-secret-0000000",
    ];
    let dir = tempfile::tempdir().unwrap();
    let args: Vec<String> = [
        "serve",
        "--data-dir",
        dir.path().to_str().unwrap(),
        "--db-url",
        &url,
        "--supabase-url",
        "http://127.0.0.1:9",
        "--service-role-key",
        secrets[1],
        "--anon-key",
        secrets[2],
        "--access-token",
        secrets[3],
        "--dokploy-url",
        "http://127.0.0.1:9",
        "--dokploy-api-key",
        secrets[4],
        "--http-token",
        secrets[5],
        "--log-level",
        "trace",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let mut cmd = tokio::process::Command::new(bin());
    cmd.args(&args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .env_remove("RUST_LOG")
        .kill_on_drop(true);
    // Drive the session with our client on the child's pipes.
    let mut child = cmd.spawn().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let stderr_task = tokio::spawn(async move {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s).await;
        s
    });
    let mut client = supabase_mcp::mcp_client::StdioClient::from_child(child).unwrap();
    client.initialize().await.unwrap();
    let mut results = Vec::new();
    results.push(client.list_tools().await.unwrap());
    for (tool, args) in [
        ("list_instances", json!({})),
        (
            "execute_sql",
            json!({"query": format!("select '{}' as a, '{}' as b", secrets[1], password)}),
        ),
        (
            "execute_sql",
            json!({"query": format!("select * from \"{}\"", secrets[3])}),
        ),
        (
            "execute_sql",
            json!({"query": format!("alter role postgres password '{password}'; select 1"), "read_only": true}),
        ),
        (
            "execute_sql",
            json!({"query": format!("drop table \"{}\"", secrets[2])}),
        ),
        ("get_project_url", json!({})),
        ("describe_table", json!({"table": secrets[4]})),
    ] {
        results.push(client.call(tool, args).await.unwrap());
    }
    client.shutdown().await.unwrap();
    let logs = stderr_task.await.unwrap();
    let audit = std::fs::read_to_string(dir.path().join("audit.jsonl")).unwrap();
    assert!(audit.lines().count() >= 4, "{audit}");
    let all_results = results
        .iter()
        .map(|r| r.to_string())
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        all_results.contains("[redacted]"),
        "values echoed from the database are scrubbed"
    );
    for s in secrets {
        assert!(!logs.contains(s), "secret {s} in logs");
        assert!(!all_results.contains(s), "secret {s} in results");
        assert!(!audit.contains(s), "secret {s} in audit log");
    }
}
