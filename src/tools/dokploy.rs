//! The `dokploy` group: Supabase instances deployed on Dokploy: listing,
//! deploying, environment updates with versions and rollback, domains,
//! health, logs and restarts (the generated Dokploy client).

use super::ToolDef;

pub fn tools() -> Vec<ToolDef> {
    Vec::new()
}
