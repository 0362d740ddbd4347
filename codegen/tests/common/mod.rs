//! Helpers shared by the integration tests: locating the workspace and the
//! unmodified upstream documents kept beside the repository.

#![allow(dead_code)]

use std::path::PathBuf;

use codegen::Api;

/// The workspace root.
pub fn root() -> PathBuf {
    codegen::output::workspace_root()
}

/// The folder of upstream documents: `$SUPABASE_MCP_UPSTREAM_SPECS`, else
/// `../shared/specs` beside the repository. `None` (with a printed note) when absent.
pub fn upstream_dir() -> Option<PathBuf> {
    let dir = match std::env::var_os("SUPABASE_MCP_UPSTREAM_SPECS") {
        Some(dir) => PathBuf::from(dir),
        None => root().join("..").join("shared").join("specs"),
    };
    if dir.is_dir() {
        Some(dir)
    } else {
        println!(
            "note: skipping, no upstream documents at {} (set SUPABASE_MCP_UPSTREAM_SPECS)",
            dir.display()
        );
        None
    }
}

/// The upstream document for an API, if present.
pub fn upstream_file(api: Api) -> Option<PathBuf> {
    let path = upstream_dir()?.join(api.upstream_file());
    if path.is_file() {
        Some(path)
    } else {
        println!("note: skipping {api}, {} is missing", path.display());
        None
    }
}

/// Our spec for an API, if present.
pub fn our_spec(api: Api) -> Option<PathBuf> {
    let path = root().join(api.spec_path());
    if path.is_file() {
        Some(path)
    } else {
        println!("note: skipping {api}, {} is missing", path.display());
        None
    }
}
