//! Streamable HTTP: `/mcp` behind a constant-time bearer-token check, with
//! Host validation against DNS rebinding and an Origin allow-list. Binds
//! 127.0.0.1 unless told otherwise.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::Request;
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use subtle::ConstantTimeEq;
use tokio_util::sync::CancellationToken;

use crate::secret::Secret;
use crate::server::{McpServer, State};

#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error(
        "--http needs a bearer token: set SUPABASE_MCP_HTTP_TOKEN (or --http-token, or [http] token in the config file) to a random string of at least 16 characters, e.g. `openssl rand -hex 32`"
    )]
    NoToken,
    #[error("--http-no-auth is only allowed on a loopback address, not `{0}`")]
    NoAuthOnPublicAddress(String),
    #[error("invalid bind address `{0}`: {1}")]
    Bind(String, String),
    #[error("cannot listen on {0}: {1} (is the port in use? pick another with --port)")]
    Listen(String, std::io::Error),
    #[error("HTTP server failed: {0}")]
    Serve(std::io::Error),
}

/// Options beyond the config file.
#[derive(Debug, Clone, Default)]
pub struct HttpOptions {
    /// Accept requests without a bearer token (loopback only; for local test suites).
    pub no_auth: bool,
}

/// The axum router for `/mcp`, with authentication when a token is given.
pub fn router(
    state: Arc<State>,
    token: Option<Secret>,
    port: u16,
    ct: CancellationToken,
) -> Router {
    let http = &state.config.http;
    let mut hosts: Vec<String> = ["localhost", "127.0.0.1", "::1", "[::1]"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    for h in ["localhost", "127.0.0.1", "[::1]"] {
        hosts.push(format!("{h}:{port}"));
    }
    hosts.extend(http.allowed_hosts.iter().cloned());
    let mut origins: Vec<String> = vec![
        format!("http://localhost:{port}"),
        format!("http://127.0.0.1:{port}"),
    ];
    origins.extend(http.allowed_origins.iter().cloned());
    let mut cfg = StreamableHttpServerConfig::default()
        .with_allowed_hosts(hosts)
        .with_allowed_origins(origins);
    cfg.cancellation_token = ct;
    let st = state.clone();
    let service = StreamableHttpService::new(
        move || Ok(McpServer::new(st.clone())),
        LocalSessionManager::default().into(),
        cfg,
    );
    let router = Router::new().nest_service("/mcp", service);
    match token {
        Some(t) => router.layer(middleware::from_fn(move |req: Request, next: Next| {
            let t = t.clone();
            async move { check_bearer(&t, req, next).await }
        })),
        None => router,
    }
}

async fn check_bearer(token: &Secret, req: Request, next: Next) -> Response {
    let presented = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .unwrap_or("");
    let ok: bool = presented.as_bytes().ct_eq(token.expose().as_bytes()).into();
    if ok {
        next.run(req).await
    } else {
        (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer")],
            "missing or wrong bearer token\n",
        )
            .into_response()
    }
}

fn is_loopback(bind: &str) -> bool {
    bind == "localhost"
        || bind
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Serves until Ctrl-C / SIGTERM. Prints the address on stderr.
pub async fn serve(state: Arc<State>, opts: HttpOptions) -> Result<(), HttpError> {
    let http = state.config.http.clone();
    let token = if opts.no_auth {
        if !is_loopback(&http.bind) {
            return Err(HttpError::NoAuthOnPublicAddress(http.bind));
        }
        None
    } else {
        Some(http.token.clone().ok_or(HttpError::NoToken)?)
    };
    let host = if http.bind == "localhost" {
        "127.0.0.1"
    } else {
        http.bind.as_str()
    };
    let addr: SocketAddr = format!("{host}:{}", http.port)
        .parse()
        .or_else(|_| format!("[{host}]:{}", http.port).parse())
        .map_err(|e: std::net::AddrParseError| HttpError::Bind(http.bind.clone(), e.to_string()))?;
    if !is_loopback(&http.bind) {
        tracing::warn!(
            "listening on non-loopback address {addr}: anyone who can reach it and knows the token controls this server"
        );
    }
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| HttpError::Listen(addr.to_string(), e))?;
    let local = listener.local_addr().unwrap_or(addr);
    let port = local.port();
    let ct = CancellationToken::new();
    let app = router(state, token, port, ct.clone());
    eprintln!("supabase-mcp listening on http://{local}/mcp");
    axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            shutdown_signal().await;
            ct.cancel();
        })
        .await
        .map_err(HttpError::Serve)
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}
