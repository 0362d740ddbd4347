//! The MCP server: shared state, the rmcp `ServerHandler`, the catalog of
//! visible tools and the pipeline every tool call goes through.

pub mod call;
pub mod catalog;
pub mod clients;
pub mod handler;
pub mod pipeline;

use std::sync::Arc;

use crate::audit::AuditLog;
use crate::config::Config;
use crate::confirm::Confirmations;
use crate::db::Pools;
use crate::ratelimit::RateLimiter;
use crate::spill::SpillStore;

pub use catalog::{Catalog, CatalogError};
pub use handler::McpServer;

/// Everything a tool call may need, shared by all calls and sessions.
#[derive(Debug)]
pub struct State {
    pub config: Config,
    pub catalog: Catalog,
    pub pools: Pools,
    pub spill: SpillStore,
    pub audit: AuditLog,
    pub rate: RateLimiter,
    pub confirmations: Confirmations,
    /// HTTP API clients, built per instance on first use.
    pub clients: clients::Clients,
}

impl State {
    /// Builds the state. Touches neither network nor database.
    pub fn new(config: Config) -> Result<Arc<State>, CatalogError> {
        let catalog = Catalog::build(&config)?;
        Ok(Self::with_catalog(config, catalog))
    }

    /// Builds the state around an explicit catalog.
    pub fn with_catalog(config: Config, catalog: Catalog) -> Arc<State> {
        let spill = SpillStore::new(config.data_dir.join("results"), config.limits.spill_max_age);
        let audit = AuditLog::new(
            config.audit.enabled.then(|| config.audit.path.clone()),
            config.redactor.clone(),
        );
        Arc::new(State {
            pools: Pools::new(config.limits.pool_size, config.redactor.clone()),
            rate: RateLimiter::new(config.limits.rate_limit_per_minute),
            confirmations: Confirmations::new(config.limits.confirmation_ttl),
            clients: clients::Clients::new(
                crate::api::ApiConfig::default(),
                config.redactor.clone(),
            ),
            catalog,
            spill,
            audit,
            config,
        })
    }
}

#[cfg(test)]
mod tests;
