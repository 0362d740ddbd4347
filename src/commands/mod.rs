//! Subcommands for humans and scripts beyond `serve`: `doctor`, `tools`,
//! `demo`, `backup`, `restore`, `migrate`. They share the server's code paths.

pub mod backup;
pub mod demo;
pub mod doctor;
pub mod env;
pub mod login;
pub mod migrate;
pub mod tools;

use std::sync::Arc;

use serde_json::{Map, Value, json};

use crate::config::Config;
use crate::groups::Group;
use crate::server::State;
use crate::server::catalog::CatalogError;
use crate::server::pipeline::{self, Incoming};

/// The server state with `group` switched on (a subcommand runs the tools
/// of its group whatever the configured groups are).
pub(crate) fn state_with(mut config: Config, group: Group) -> Result<Arc<State>, CatalogError> {
    if !config.groups.contains(&group) {
        config.groups.push(group);
    }
    State::new(config)
}

/// One tool call through the server's own pipeline (validation,
/// confirmation, audit log, secret scrubbing): the result envelope.
pub(crate) async fn run_tool(state: &Arc<State>, tool: &str, args: Map<String, Value>) -> Value {
    match pipeline::run(state, tool, Some(args), Incoming::detached()).await {
        Some(r) => r.structured_content.unwrap_or(Value::Null),
        None => json!({
            "status": "error",
            "error": {
                "code": "internal",
                "message": format!("this build has no tool `{tool}`"),
                "suggestion": "Report this as a bug: the command and the tool registry disagree.",
            }
        }),
    }
}
