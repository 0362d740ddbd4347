//! The subcommands beyond `serve`: `doctor`, `tools`, `demo`, and
//! `serve --demo`.

mod common;

use std::process::Command;

use serde_json::json;
use supabase_mcp::pg::testdb::TestDb;

fn cmd() -> Command {
    let mut c = Command::new(common::bin());
    for (k, _) in std::env::vars() {
        if k.starts_with("SUPABASE_") || k == "DATABASE_URL" || k.starts_with("DOKPLOY_") {
            c.env_remove(k);
        }
    }
    c
}

#[tokio::test(flavor = "multi_thread")]
async fn doctor_reports_a_healthy_database() {
    let db = TestDb::new().await.unwrap();
    let out = cmd()
        .args(["doctor", "--db-url", &db.url])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("[ ok ] default / database") && text.contains("PostgreSQL 15"),
        "{text}"
    );
}

#[test]
fn doctor_explains_failures_without_leaking_the_password() {
    // Port 9 (discard) is closed on this machine.
    let out = cmd()
        .args([
            "doctor",
            "--db-url",
            "postgres://postgres:Sekr1t-pass-99@127.0.0.1:9/postgres",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success());
    assert!(text.contains("FAIL") && text.contains("fix:"), "{text}");
    assert!(text.to_lowercase().contains("refused"), "{text}");
    assert!(!text.contains("Sekr1t-pass-99"), "{text}");
    let out = cmd().args(["doctor"]).output().unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("nothing to connect to"));
}

#[test]
fn tools_command_lists_tools_and_token_cost() {
    let out = cmd().args(["tools"]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    assert!(
        text.contains("execute_sql") && text.contains("tokens"),
        "{text}"
    );
    let out = cmd()
        .args(["tools", "--json", "--read-only"])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        v["tools"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["annotations"]["readOnlyHint"] == true)
    );
}

#[test]
fn demo_runs_end_to_end_and_cleans_up() {
    let out = cmd().arg("demo").output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    for step in [
        "initialize",
        "list_tables",
        "describe_table",
        "execute_sql",
        "confirmation_required",
        "Done.",
    ] {
        assert!(stdout.contains(step), "missing {step}: {stdout}");
    }
    assert!(stderr.contains("removing the cluster"));
}

#[tokio::test(flavor = "multi_thread")]
async fn serve_demo_keeps_a_database_for_a_client() {
    let dir = tempfile::tempdir().unwrap();
    let args: Vec<String> = [
        "serve",
        "--demo",
        "--data-dir",
        dir.path().to_str().unwrap(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let mut c = common::spawn_clean(&common::bin(), &args, &common::clean_env());
    c.timeout = std::time::Duration::from_secs(120);
    c.initialize().await.unwrap();
    let r = c
        .call("list_tables", json!({"schemas": ["public"]}))
        .await
        .unwrap();
    assert!(r.to_string().contains("profiles"), "{r}");
    let status = c.shutdown().await.unwrap();
    assert!(status.success());
}

/// The official Supabase MCP server's default tools/list (29 tools) is
/// 21,698 bytes; ours, with more tools, must cost less context.
#[test]
fn default_tools_list_costs_less_than_the_official_servers() {
    // Without configuration, and as the official server is measured: cloud
    // mode with an access token and no project (account tools listed,
    // `project_id` on the project tools).
    for cloud in [false, true] {
        let mut c = cmd();
        if cloud {
            c.env(
                "SUPABASE_ACCESS_TOKEN",
                "sbp_0123456789abcdef0123456789abcdef01234567",
            );
        }
        let out = c.args(["tools", "--json"]).output().unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let size = serde_json::to_string(&v).unwrap().len();
        let count = v["tools"].as_array().map_or(0, Vec::len);
        assert!(
            size < 21_698,
            "default tools/list (cloud: {cloud}) is {size} bytes"
        );
        assert!(count > 29, "only {count} tools by default (cloud: {cloud})");
    }
}
