//! The `management` group: Management API areas the official server does not
//! expose, for one cloud project: service health and Postgres upgrades, the
//! custom hostname, Data API (PostgREST), pooler, network and SSL
//! settings, edge function secrets and API keys.
//!
//! Every setting change is confirmed first (it applies to the whole project);
//! deletions are destructive. Secret values never pass through a result:
//! the JWT secret and secret API keys are masked, function
//! secrets are listed by name only, and secret values to set are read from a
//! file or an environment variable of the server.

mod api_keys;
pub(crate) mod common;
mod database_config;
mod network;
mod secrets;
mod status;

use super::ToolDef;

pub fn tools() -> Vec<ToolDef> {
    let mut v = Vec::new();
    v.extend(status::tools());
    v.extend(database_config::tools());
    v.extend(network::tools());
    v.extend(secrets::tools());
    v.extend(api_keys::tools());
    v
}
