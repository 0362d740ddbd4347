//! What a tool handler receives besides its arguments: the instance it acts
//! on, limits, the shared state, progress reporting and cancellation.

use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::Object;
use rmcp::RoleServer;
use rmcp::model::{ProgressNotificationParam, ProgressToken};
use rmcp::service::Peer;
use tokio_util::sync::CancellationToken;

use crate::api::generated::management::types::ProjectRef;
use crate::config::{Instance, Limits};
use crate::db::backend::{Backend, ManagementTarget, RemoteLimits};
use crate::db::rpc::RpcClient;
use crate::result::ToolError;
use crate::server::State;
use crate::spill::SpillStore;

#[derive(Clone)]
pub struct Call {
    pub state: Arc<State>,
    pub instance: Instance,
    pub tool: &'static str,
    /// Effective timeout of this call (the caller's `timeout_secs`, else the default).
    pub timeout: Duration,
    /// True when the server runs in read-only mode.
    pub read_only: bool,
    pub cancel: CancellationToken,
    progress: Option<(Peer<RoleServer>, ProgressToken)>,
}

impl Call {
    pub fn new(
        state: Arc<State>,
        instance: Instance,
        tool: &'static str,
        timeout: Duration,
        cancel: CancellationToken,
        progress: Option<(Peer<RoleServer>, ProgressToken)>,
    ) -> Self {
        let read_only = state.config.read_only;
        Self {
            state,
            instance,
            tool,
            timeout,
            read_only,
            cancel,
            progress,
        }
    }

    pub fn limits(&self) -> &Limits {
        &self.state.config.limits
    }

    pub fn spill(&self) -> &SpillStore {
        &self.state.spill
    }

    /// A pooled connection to this call's instance.
    pub async fn db(&self) -> Result<Object, ToolError> {
        self.state.pools.get(&self.instance).await
    }

    /// The SQL path of this call: the pooled direct connection when a
    /// database (or pooler) URL is configured; else the Management API for a
    /// cloud project with an access token; else the REST RPC
    /// `public.execute_sql` when a Supabase URL and service role key are set.
    pub async fn sql(&self) -> Result<Backend, ToolError> {
        let inst = &self.instance;
        if inst.db_url.is_some() || inst.pooler_url.is_some() {
            let db = self.db().await?;
            return Ok(if self.state.pools.is_pooled(inst) {
                Backend::Pooled(db)
            } else {
                Backend::Direct(db)
            });
        }
        let limits = RemoteLimits {
            timeout: self.timeout,
            max_bytes: self.limits().max_remote_result_bytes,
        };
        if inst.access_token.is_some() {
            return self.management_backend(limits);
        }
        if inst.supabase_url.is_some() && inst.service_role_key.is_some() {
            let rpc =
                RpcClient::for_instance(inst, self.state.config.redactor.clone(), self.timeout)?;
            return Ok(Backend::Rest(rpc, limits));
        }
        // Nothing configured: the pool's error says what to set.
        Ok(Backend::Direct(self.db().await?))
    }

    /// SQL through the Management API for this call's cloud project.
    pub fn management_backend(&self, limits: RemoteLimits) -> Result<Backend, ToolError> {
        let inst = &self.instance;
        let Some(r) = inst.project_ref.as_deref() else {
            let allowed = self.state.config.allowed_projects();
            if !allowed.is_empty() {
                return Err(ToolError::invalid(
                    "`project_id` is required: this server acts on several projects",
                )
                .suggestion(format!(
                    "Pass project_id as one of: {}.",
                    allowed.join(", ")
                )));
            }
            return Err(ToolError::new(
                crate::result::ErrorCode::NotConfigured,
                format!(
                    "instance `{}` has an access token but no project to run SQL on",
                    inst.name
                ),
            )
            .suggestion(
                "Start the server with --project-ref <ref> (or a database URL with --db-url).",
            ));
        };
        let project = parse_project_ref(r)?;
        let api = self.state.clients.management(inst)?;
        Ok(Backend::Management(
            ManagementTarget { api, project },
            limits,
        ))
    }

    /// Sends a progress notification when the client asked for progress.
    pub async fn progress(&self, done: u64, total: Option<u64>, message: impl Into<String>) {
        if let Some((peer, token)) = &self.progress {
            let mut p = ProgressNotificationParam::new(token.clone(), done as f64)
                .with_message(message.into());
            if let Some(t) = total {
                p = p.with_total(t as f64);
            }
            if let Err(e) = peer.notify_progress(p).await {
                tracing::debug!("progress notification not delivered: {e}");
            }
        }
    }
}

/// Forwards the figures of a long-running operation (reported from any
/// thread, as often as it likes) to the client as progress notifications,
/// one at a time and only when a figure changes: MCP progress must grow
/// with each notification.
pub struct ProgressForwarder<T> {
    tx: tokio::sync::watch::Sender<T>,
    task: tokio::task::JoinHandle<()>,
}

impl<T: Copy + PartialEq + Send + Sync + 'static> ProgressForwarder<T> {
    /// Starts forwarding for `call`; `describe` turns a figure into
    /// (progress, total, message).
    pub fn start<F>(call: &Call, initial: T, describe: F) -> Self
    where
        F: Fn(T) -> (u64, Option<u64>, String) + Send + 'static,
    {
        let (tx, mut rx) = tokio::sync::watch::channel(initial);
        let call = call.clone();
        let task = tokio::spawn(async move {
            while rx.changed().await.is_ok() {
                let figure = *rx.borrow();
                let (done, total, message) = describe(figure);
                call.progress(done, total, message).await;
            }
        });
        ProgressForwarder { tx, task }
    }

    /// The latest figure.
    pub fn update(&self, figure: T) {
        self.tx
            .send_if_modified(|cur| std::mem::replace(cur, figure) != figure);
    }

    /// Waits until the last figure is sent.
    pub async fn finish(self) {
        drop(self.tx);
        let _ = self.task.await;
    }
}

/// A project ref given by the caller or the configuration, checked.
pub fn parse_project_ref(r: &str) -> Result<ProjectRef, ToolError> {
    r.parse().map_err(|_| {
        ToolError::invalid(format!("`{r}` is not a project ref"))
            .suggestion("A project ref is 20 lowercase letters, as in https://<ref>.supabase.co.")
    })
}
