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
