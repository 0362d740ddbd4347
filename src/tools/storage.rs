//! The `storage` group's tools for a project's Storage service: buckets,
//! objects, signed URLs, policies and metrics (Storage API, or SQL on the
//! `storage` schema where the API cannot be reached).

use super::ToolDef;

pub fn tools() -> Vec<ToolDef> {
    Vec::new()
}
