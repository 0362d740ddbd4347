//! The `dokploy` group: Supabase instances deployed on Dokploy: listing,
//! deploying, environment updates with saved versions and rollback, restarts, logs,
//! health and domains (the generated Dokploy client).
//!
//! Every change to a running service is confirmed first. The environment
//! block Dokploy holds carries the instance's secrets: its values are
//! registered with the redactor as soon as it is read, results show them
//! masked, and the block is only ever written to Dokploy or to a saved
//! version (0600) in the data directory.

mod common;
mod deploy;
mod domain;
mod env;
mod envdiff;
mod list;
mod ops;
mod versions;

use super::ToolDef;

pub fn tools() -> Vec<ToolDef> {
    let mut v = Vec::new();
    v.extend(list::tools());
    v.extend(env::tools());
    v.extend(ops::tools());
    v.extend(domain::tools());
    v.extend(deploy::tools());
    v
}
