//! The tool catalog as clients see it (names, descriptions, annotations and
//! input schemas of every tool of every group), pinned by a snapshot: a
//! change to any tool's interface shows up as a reviewed diff.

mod common;

use std::process::Command;

#[test]
fn every_tools_interface_is_pinned() {
    let mut c = Command::new(common::bin());
    for (k, _) in std::env::vars() {
        if k.starts_with("SUPABASE_") || k == "DATABASE_URL" || k.starts_with("DOKPLOY_") {
            c.env_remove(k);
        }
    }
    let out = c
        .args(["--features", "all", "tools", "--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    insta::assert_json_snapshot!("tools_list_all_groups", v);
}

/// The official Supabase MCP server's tools (0.13.0, every group): name,
/// required parameters, other parameters. Its users' prompts and agent
/// skills call these; each must work here unchanged.
const OFFICIAL: &[(&str, &[&str], &[&str])] = &[
    ("search_docs", &["graphql_query"], &[]),
    ("list_organizations", &[], &[]),
    ("get_organization", &["id"], &[]),
    ("list_projects", &[], &[]),
    ("get_project", &["id"], &[]),
    ("get_cost", &["type", "organization_id"], &[]),
    ("confirm_cost", &["type", "recurrence", "amount"], &[]),
    (
        "create_project",
        &["name", "region", "organization_id", "confirm_cost_id"],
        &[],
    ),
    ("pause_project", &["project_id"], &[]),
    ("restore_project", &["project_id"], &[]),
    ("list_tables", &["project_id", "schemas", "verbose"], &[]),
    ("list_extensions", &["project_id"], &[]),
    ("list_migrations", &["project_id"], &[]),
    ("apply_migration", &["project_id", "name", "query"], &[]),
    ("execute_sql", &["project_id", "query"], &[]),
    ("get_logs", &["project_id", "service"], &[]),
    (
        "query_logs",
        &["project_id", "sql"],
        &["iso_timestamp_start", "iso_timestamp_end"],
    ),
    ("get_advisors", &["project_id", "type"], &[]),
    ("get_project_url", &["project_id"], &[]),
    ("get_publishable_keys", &["project_id"], &[]),
    ("generate_typescript_types", &["project_id"], &[]),
    ("list_edge_functions", &["project_id"], &[]),
    ("get_edge_function", &["project_id", "function_slug"], &[]),
    (
        "deploy_edge_function",
        &[
            "project_id",
            "name",
            "entrypoint_path",
            "verify_jwt",
            "files",
        ],
        &["import_map_path"],
    ),
    (
        "create_branch",
        &["project_id", "name", "confirm_cost_id"],
        &[],
    ),
    ("list_branches", &["project_id"], &[]),
    ("delete_branch", &["branch_id"], &[]),
    ("merge_branch", &["branch_id"], &[]),
    ("reset_branch", &["branch_id"], &["migration_version"]),
    ("rebase_branch", &["branch_id"], &[]),
    ("list_storage_buckets", &["project_id"], &[]),
    ("get_storage_config", &["project_id"], &[]),
    ("update_storage_config", &["project_id", "config"], &[]),
];

/// Every official tool exists under its name, accepts every parameter the
/// official one has, and requires nothing the official one does not pass
/// (`project_id` may be optional here: it falls back to the configured
/// project).
#[test]
fn every_official_tool_exists_with_compatible_parameters() {
    let mut c = Command::new(common::bin());
    for (k, _) in std::env::vars() {
        if k.starts_with("SUPABASE_") || k == "DATABASE_URL" || k.starts_with("DOKPLOY_") {
            c.env_remove(k);
        }
    }
    let out = c
        .args(["--mode", "cloud", "--features", "all", "tools", "--json"])
        .env(
            "SUPABASE_ACCESS_TOKEN",
            "sbp_0123456789abcdef0123456789abcdef01234567",
        )
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let tools = v["tools"].as_array().unwrap();
    assert!(tools.len() > OFFICIAL.len(), "{} tools", tools.len());
    for (name, required, optional) in OFFICIAL {
        let t = tools
            .iter()
            .find(|t| t["name"] == *name)
            .unwrap_or_else(|| panic!("official tool {name} is missing"));
        let props = t["inputSchema"]["properties"].as_object().unwrap();
        for p in required.iter().chain(optional.iter()) {
            assert!(props.contains_key(*p), "{name} has no parameter `{p}`: {t}");
        }
        let ours: Vec<&str> = t["inputSchema"]["required"]
            .as_array()
            .map(|r| r.iter().filter_map(|x| x.as_str()).collect())
            .unwrap_or_default();
        for p in ours {
            assert!(
                required.contains(&p),
                "{name} requires `{p}`, which the official tool does not: {t}"
            );
        }
    }
}
