//! PostgreSQL notices (`RAISE NOTICE`, warnings) for the call that caused
//! them.
//!
//! `tokio_postgres` delivers notices on the `Connection`, which the pool's
//! connection task consumes, so a `Client` never sees them. [`NoticeConnect`]
//! is a `deadpool_postgres::Connect` that keeps reading the connection the
//! same way and routes notices to the call that is listening on it. Pools
//! built with `Manager::from_connect(config, NoticeConnect::new(tls), ..)`
//! capture notices; with any other pool, [`Capture::start`] returns `None`.
//!
//! Routing needs no connection identity: a call starts a [`Capture`], sends
//! [`Capture::marker_sql`] first (a notice carrying the capture's id), and the
//! connection task that sees the marker sends the following notices to that
//! capture until it is dropped.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};

use futures::future::{BoxFuture, poll_fn};
use rand::Rng;
use serde::Serialize;
use tokio::task::JoinHandle;
use tokio_postgres::tls::{MakeTlsConnect, TlsConnect};
use tokio_postgres::{AsyncMessage, Socket};

/// Prefix of the marker notice.
const MARKER: &str = "supabase-mcp:capture:";
/// Most notices kept per call.
const MAX_NOTICES: usize = 200;
/// Longest message kept.
const MAX_MESSAGE: usize = 4000;

/// Set once a connection routes notices.
static ENABLED: AtomicBool = AtomicBool::new(false);

type Sink = Arc<Mutex<Vec<Notice>>>;
/// Live captures by id.
type Registry = Mutex<HashMap<String, Weak<Mutex<Vec<Notice>>>>>;

fn registry() -> &'static Registry {
    static REGISTRY: std::sync::OnceLock<Registry> = std::sync::OnceLock::new();
    REGISTRY.get_or_init(|| Mutex::new(HashMap::new()))
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// One notice, as returned to the caller.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Notice {
    /// `NOTICE`, `WARNING`, `INFO`...
    pub severity: String,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

/// Notices routed to one call while it is alive.
#[derive(Debug)]
pub struct Capture {
    id: String,
    sink: Sink,
}

impl Capture {
    /// Starts capturing, or `None` when no connection routes notices.
    pub fn start() -> Option<Capture> {
        if !ENABLED.load(Ordering::Relaxed) {
            return None;
        }
        let mut bytes = [0u8; 12];
        rand::rng().fill(&mut bytes);
        let id = hex::encode(bytes);
        let sink: Sink = Arc::new(Mutex::new(Vec::new()));
        lock(registry()).insert(id.clone(), Arc::downgrade(&sink));
        Some(Capture { id, sink })
    }

    /// SQL to run first on the connection: it binds the connection to this capture.
    pub fn marker_sql(&self) -> String {
        format!(
            "DO $smcp_marker$ BEGIN RAISE NOTICE '{MARKER}{}'; END $smcp_marker$",
            self.id
        )
    }

    /// The notices received so far.
    pub fn take(&self) -> Vec<Notice> {
        std::mem::take(&mut *lock(&self.sink))
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        lock(registry()).remove(&self.id);
    }
}

/// A `deadpool_postgres::Connect` that routes notices to [`Capture`]s.
#[derive(Debug, Clone)]
pub struct NoticeConnect<T> {
    tls: T,
}

impl<T> NoticeConnect<T> {
    pub fn new(tls: T) -> Self {
        Self { tls }
    }
}

impl<T> deadpool_postgres::Connect for NoticeConnect<T>
where
    T: MakeTlsConnect<Socket> + Clone + Sync + Send + 'static,
    T::Stream: Sync + Send,
    T::TlsConnect: Sync + Send,
    <T::TlsConnect as TlsConnect<Socket>>::Future: Send,
{
    fn connect(
        &self,
        pg_config: &tokio_postgres::Config,
    ) -> BoxFuture<'_, Result<(tokio_postgres::Client, JoinHandle<()>), tokio_postgres::Error>>
    {
        let tls = self.tls.clone();
        let pg_config = pg_config.clone();
        Box::pin(async move {
            let (client, mut connection) = pg_config.connect(tls).await?;
            ENABLED.store(true, Ordering::Relaxed);
            let task = tokio::spawn(async move {
                let mut current: Weak<Mutex<Vec<Notice>>> = Weak::new();
                loop {
                    match poll_fn(|cx| connection.poll_message(cx)).await {
                        Some(Ok(AsyncMessage::Notice(n))) => route(&n, &mut current),
                        Some(Ok(_)) => {}
                        Some(Err(e)) => {
                            tracing::warn!("database connection error: {e}");
                            break;
                        }
                        None => break,
                    }
                }
            });
            Ok((client, task))
        })
    }
}

fn route(n: &tokio_postgres::error::DbError, current: &mut Weak<Mutex<Vec<Notice>>>) {
    if let Some(id) = n.message().strip_prefix(MARKER) {
        *current = lock(registry()).get(id).cloned().unwrap_or_default();
        return;
    }
    let Some(sink) = current.upgrade() else {
        return;
    };
    let mut v = lock(&sink);
    if v.len() >= MAX_NOTICES {
        return;
    }
    v.push(Notice {
        severity: n.severity().to_owned(),
        message: truncate(n.message()),
        detail: n.detail().map(truncate),
        hint: n.hint().map(truncate),
    });
}

fn truncate(s: &str) -> String {
    if s.len() <= MAX_MESSAGE {
        return s.to_owned();
    }
    let mut end = MAX_MESSAGE;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}
