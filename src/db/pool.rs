//! Connection pools, one per instance, created on first use (so `initialize`
//! never touches the network). Connections identify themselves as
//! `application_name=supabase-mcp`.

use std::collections::HashMap;
use std::str::FromStr;
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod, Runtime};
use tokio::sync::Mutex;

use crate::config::Instance;
use crate::result::{ErrorCode, ToolError};
use crate::secret::Redactor;

#[derive(Debug)]
pub struct Pools {
    size: usize,
    redactor: Redactor,
    pools: Mutex<HashMap<String, Pool>>,
}

impl Pools {
    pub fn new(size: usize, redactor: Redactor) -> Self {
        Self {
            size,
            redactor,
            pools: Mutex::new(HashMap::new()),
        }
    }

    /// A connection to `inst`'s database.
    pub async fn get(&self, inst: &Instance) -> Result<Object, ToolError> {
        let pool = self.pool(inst).await?;
        pool.get().await.map_err(|e| {
            let msg = match &e {
                deadpool_postgres::PoolError::Backend(pg) => describe_pg_error(pg),
                deadpool_postgres::PoolError::Timeout(_) => {
                    "timed out waiting for a database connection".to_owned()
                }
                other => other.to_string(),
            };
            connection_error(&inst.name, &self.redactor.scrub(&msg))
        })
    }

    async fn pool(&self, inst: &Instance) -> Result<Pool, ToolError> {
        let mut pools = self.pools.lock().await;
        if let Some(p) = pools.get(&inst.name) {
            return Ok(p.clone());
        }
        let Some(url) = &inst.db_url else {
            return Err(ToolError::new(
                ErrorCode::NotConfigured,
                format!("instance `{}` has no database URL", inst.name),
            )
            .suggestion(
                "Pass --db-url postgres://user:password@host:5432/postgres (or set SUPABASE_DB_URL / DATABASE_URL), \
                 or --env-file pointing at your Supabase .env.",
            ));
        };
        let mut pg = tokio_postgres::Config::from_str(url.expose()).map_err(|e| {
            ToolError::new(ErrorCode::NotConfigured, format!("the database URL of instance `{}` is not valid", inst.name))
                .reason(self.redactor.scrub(&e.to_string()))
                .suggestion("Use the form postgres://user:password@host:port/database; percent-encode special characters in the password.")
        })?;
        pg.application_name("supabase-mcp");
        if pg.get_connect_timeout().is_none() {
            pg.connect_timeout(Duration::from_secs(10));
        }
        let mgr = Manager::from_config(
            pg,
            tokio_postgres::NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(mgr)
            .max_size(self.size)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(Duration::from_secs(30)))
            .create_timeout(Some(Duration::from_secs(15)))
            .build()
            .map_err(|e| ToolError::internal(format!("cannot create the connection pool: {e}")))?;
        pools.insert(inst.name.clone(), pool.clone());
        Ok(pool)
    }
}

/// The database's own message when there is one, else the driver's.
pub fn describe_pg_error(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => db.message().to_owned(),
        None => {
            let mut s = e.to_string();
            let mut src = std::error::Error::source(e);
            while let Some(inner) = src {
                s.push_str(": ");
                s.push_str(&inner.to_string());
                src = inner.source();
            }
            s
        }
    }
}

/// A connection failure with the most likely fix.
pub fn connection_error(instance: &str, reason: &str) -> ToolError {
    let lower = reason.to_ascii_lowercase();
    let suggestion = if lower.contains("password authentication failed") {
        "Check the password in the database URL. On self-hosted Supabase, POSTGRES_PASSWORD only applies when the \
         database volume is first created: if you changed it later, use the old password or reset it with ALTER ROLE."
    } else if lower.contains("connection refused") {
        "Nothing listens at that host and port: check the database is running and the port (5432 direct, 6543 pooled)."
    } else if lower.contains("failed to lookup") || lower.contains("name or service not known") {
        "The host name does not resolve. `db` only works inside the Docker network: from outside use localhost or the server's address."
    } else if lower.contains("too many") {
        "The server has no free connection slots: close idle clients, lower --pool-size, or use the pooler port (6543)."
    } else if lower.contains("ssl") || lower.contains("tls") {
        "The server requires TLS; TLS connections arrive with the connection tools."
    } else if lower.contains("timed out") || lower.contains("timeout") {
        "The server did not answer in time: check the host, port and any firewall between you."
    } else {
        "Run `supabase-mcp doctor` for a step-by-step check of the connection."
    };
    ToolError::new(
        ErrorCode::ConnectionFailed,
        format!("cannot connect to the database of instance `{instance}`"),
    )
    .reason(reason)
    .suggestion(suggestion)
}
