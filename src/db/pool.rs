//! Connection pools, one per instance, created on first use (so `initialize`
//! never touches the network). Connections identify themselves as
//! `application_name=supabase-mcp`, use TLS as the URL's `sslmode` says
//! (see [`super::tls`]), and go to the database URL, or to the pooler URL
//! when there is no database URL.
//!
//! [`ConnInfo::pooled`] tells tool code when the endpoint is a
//! transaction-mode pooler (port 6543, a `postgres.<tenant>` user): there,
//! named prepared statements and session state do not survive between
//! transactions, so queries must use the simple-query protocol or unnamed
//! statements (`query_typed`, `simple_query`), never `prepare`.

use std::collections::HashMap;
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod, Runtime};
use serde::Serialize;
use tokio::sync::Mutex;
use tokio_postgres::CancelToken;
use tokio_postgres_rustls::MakeRustlsConnect;

use super::connstr::{ConnParams, PooledReason, SslMode};
use super::probe::{APPLICATION_NAME, FailureKind, classify_text, diagnose_pg, fix_for};
use super::tls;
use crate::config::Instance;
use crate::result::{ErrorCode, ToolError};
use crate::secret::{Redactor, Secret};

/// Which configured URL a pool connects to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// `db_url` (`--db-url`).
    DbUrl,
    /// `pooler_url`, used when there is no `db_url`.
    PoolerUrl,
}

/// What a pool connects to; available without connecting.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConnInfo {
    pub source: Source,
    /// The URL, password masked.
    pub endpoint: String,
    /// A transaction-mode pooler: use no named prepared statements.
    pub pooled: bool,
    pub pooled_reason: Option<PooledReason>,
    pub sslmode: SslMode,
}

#[derive(Clone)]
struct Entry {
    pool: Pool,
    info: ConnInfo,
    params: ConnParams,
    tls: MakeRustlsConnect,
}

impl std::fmt::Debug for Entry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Entry")
            .field("info", &self.info)
            .finish_non_exhaustive()
    }
}

#[derive(Debug)]
pub struct Pools {
    size: usize,
    redactor: Redactor,
    pools: Mutex<HashMap<String, Entry>>,
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
        self.get_with_info(inst).await.map(|(conn, _)| conn)
    }

    /// A connection to `inst`'s database, and what it is connected to.
    pub async fn get_with_info(&self, inst: &Instance) -> Result<(Object, ConnInfo), ToolError> {
        let entry = self.entry(inst).await?;
        match entry.pool.get().await {
            Ok(conn) => Ok((conn, entry.info)),
            Err(e) => Err(self.pool_error(&inst.name, &entry, &e)),
        }
    }

    /// What `inst`'s pool connects to, without connecting.
    pub fn conn_info(&self, inst: &Instance) -> Result<ConnInfo, ToolError> {
        resolve(inst, &self.redactor).map(|(info, _)| info)
    }

    /// True when `inst`'s connections go through a transaction-mode pooler
    /// (false when nothing is configured or the URL is invalid).
    pub fn is_pooled(&self, inst: &Instance) -> bool {
        self.conn_info(inst).map(|i| i.pooled).unwrap_or(false)
    }

    /// Cancels the query running on the connection `token` came from, with
    /// the pool's TLS settings (`cancel_query(NoTls)` fails against servers
    /// that require TLS, and whenever sslmode is require or stricter).
    pub async fn cancel(&self, inst: &Instance, token: &CancelToken) -> Result<(), ToolError> {
        let entry = self.entry(inst).await?;
        token.cancel_query(entry.tls).await.map_err(|e| {
            let d = diagnose_pg(&e, &entry.params);
            ToolError::new(
                ErrorCode::ConnectionFailed,
                format!("cannot cancel the query on instance `{}`", inst.name),
            )
            .reason(self.redactor.scrub(&d.message))
            .suggestion(self.redactor.scrub(&d.fix))
        })
    }

    async fn entry(&self, inst: &Instance) -> Result<Entry, ToolError> {
        let mut pools = self.pools.lock().await;
        if let Some(e) = pools.get(&inst.name) {
            return Ok(e.clone());
        }
        let (info, params) = resolve(inst, &self.redactor)?;
        let tls = tls::connector(&params).map_err(|e| {
            ToolError::new(
                ErrorCode::NotConfigured,
                format!(
                    "the TLS settings of instance `{}` cannot be used",
                    inst.name
                ),
            )
            .reason(self.redactor.scrub(&e.to_string()))
            .suggestion(fix_for(FailureKind::TlsSetup, &params))
        })?;
        let mut pg = params.to_pg_config();
        pg.application_name(APPLICATION_NAME);
        if pg.get_connect_timeout().is_none() {
            pg.connect_timeout(Duration::from_secs(10));
        }
        // NoticeConnect hands server notices to the call running on the connection.
        let mgr = Manager::from_connect(
            pg,
            crate::sql::notices::NoticeConnect::new(tls.clone()),
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
        let entry = Entry {
            pool,
            info,
            params,
            tls,
        };
        pools.insert(inst.name.clone(), entry.clone());
        Ok(entry)
    }

    fn pool_error(
        &self,
        instance: &str,
        entry: &Entry,
        e: &deadpool_postgres::PoolError,
    ) -> ToolError {
        use deadpool_postgres::{PoolError, TimeoutType};
        let (reason, fix) = match e {
            PoolError::Backend(pg) => {
                let d = diagnose_pg(pg, &entry.params);
                (d.message, d.fix)
            }
            PoolError::Timeout(TimeoutType::Wait) => (
                format!(
                    "all {} connections of the pool stayed busy for 30s",
                    self.size
                ),
                "Wait for running queries to finish or cancel them, or raise --pool-size."
                    .to_owned(),
            ),
            PoolError::Timeout(_) => (
                format!(
                    "no answer from {}:{} in time",
                    entry.params.host, entry.params.port
                ),
                fix_for(FailureKind::Timeout, &entry.params),
            ),
            other => {
                let text = other.to_string();
                let kind = classify_text(&text.to_ascii_lowercase(), &entry.params.host);
                (text, fix_for(kind, &entry.params))
            }
        };
        ToolError::new(
            ErrorCode::ConnectionFailed,
            format!("cannot connect to the database of instance `{instance}`"),
        )
        .reason(self.redactor.scrub(&reason))
        .suggestion(self.redactor.scrub(&fix))
    }
}

/// The URL a pool for `inst` uses, parsed.
fn resolve(inst: &Instance, redactor: &Redactor) -> Result<(ConnInfo, ConnParams), ToolError> {
    let (source, url): (Source, &Secret) = match (&inst.db_url, &inst.pooler_url) {
        (Some(u), _) => (Source::DbUrl, u),
        (None, Some(u)) => (Source::PoolerUrl, u),
        (None, None) => {
            return Err(ToolError::new(
                ErrorCode::NotConfigured,
                format!("instance `{}` has no database URL", inst.name),
            )
            .suggestion(
                "Pass --db-url postgres://user:password@host:5432/postgres (or set SUPABASE_DB_URL / DATABASE_URL), \
                 or --env-file pointing at your Supabase .env.",
            ));
        }
    };
    let params = ConnParams::parse(url.expose()).map_err(|e| {
        ToolError::new(
            ErrorCode::NotConfigured,
            format!("the database URL of instance `{}` is not valid", inst.name),
        )
        .reason(redactor.scrub(&e.to_string()))
        .suggestion(fix_for(FailureKind::InvalidUrl, &ConnParams::default()))
    })?;
    if let Some(pw) = &params.password {
        redactor.add(pw);
    }
    let info = ConnInfo {
        source,
        endpoint: params.masked(),
        pooled: params.is_pooled(),
        pooled_reason: params.pooled_reason(),
        sslmode: params.sslmode,
    };
    Ok((info, params))
}

/// The database's own message when there is one, else the driver's with
/// its causes.
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
