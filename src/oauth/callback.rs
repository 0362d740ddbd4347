//! The loopback redirect listener: a small HTTP server on 127.0.0.1 that
//! receives the browser's redirect after consent, checks `state`, and hands
//! back the authorization code or the reason there is none. Also the check of
//! a redirect's parameters, shared with the pasted-code mode.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{Html, IntoResponse, Response};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::pkce::state_matches;
use crate::secret::Secret;

/// Path of the default redirect URI, `http://127.0.0.1:<port>/callback`.
pub const CALLBACK_PATH: &str = "/callback";

#[derive(Debug, thiserror::Error)]
pub enum CallbackError {
    #[error(
        "cannot listen on {addr} for the browser's redirect ({source}); choose another port \
         with --callback-port, or leave --callback-port out to use a free one"
    )]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error(
        "the redirect URI `{uri}` cannot be served by the loopback listener ({reason}); use one \
         like http://127.0.0.1:PORT/callback (or http://localhost:PORT/...), or --no-listen to \
         paste the code instead"
    )]
    BadRedirectUri { uri: String, reason: String },
    #[error(
        "the sign-in answer carried a `state` that this sign-in did not send ({what}), so it \
         was refused: it may come from an older attempt or from another site; run \
         `supabase-mcp login` again and use the newest URL"
    )]
    StateMismatch { what: &'static str },
    #[error(
        "the consent was declined (access_denied{detail}); run `supabase-mcp login` again and \
         approve the app, or ask an owner of the organization to allow it"
    )]
    AccessDenied { detail: String },
    #[error(
        "the authorization server answered `{error}`{detail}; check the OAuth app (its callback \
         URLs must include the redirect URI, and the client id must be its id) and run \
         `supabase-mcp login` again"
    )]
    Authorization { error: String, detail: String },
    #[error(
        "the sign-in answer has no authorization code; paste the whole address the browser was \
         sent to (it contains `code=`), or run `supabase-mcp login` again"
    )]
    MissingCode,
    #[error(
        "no sign-in answer arrived within {}; open the printed URL in a browser that can reach \
         this machine (or use --no-listen with --redirect-uri and paste the code), or allow \
         more time with --timeout",
        human_duration(*.0)
    )]
    Timeout(Duration),
    #[error("the redirect listener stopped unexpectedly ({0}); run `supabase-mcp login` again")]
    Server(String),
}

/// "5 min", "90 s".
pub fn human_duration(d: Duration) -> String {
    let secs = d.as_secs();
    if secs >= 60 && secs.is_multiple_of(60) {
        format!("{} min", secs / 60)
    } else if secs == 0 {
        format!("{} ms", d.as_millis())
    } else {
        format!("{secs} s")
    }
}

/// Checks a redirect's query parameters against the `state` this sign-in
/// sent and returns the code.
///
/// A code is only accepted with the matching state. An error answer without
/// any state is reported as that error (it grants nothing).
pub fn evaluate(
    params: &HashMap<String, String>,
    expected_state: &str,
) -> Result<Secret, CallbackError> {
    let returned = params.get("state").map(String::as_str);
    match returned {
        Some(s) if !state_matches(expected_state, s) => {
            return Err(CallbackError::StateMismatch { what: "it differs" });
        }
        None if params.contains_key("code") => {
            return Err(CallbackError::StateMismatch {
                what: "none was returned",
            });
        }
        _ => {}
    }
    if let Some(error) = params.get("error").filter(|e| !e.is_empty()) {
        let detail = params
            .get("error_description")
            .filter(|d| !d.trim().is_empty())
            .map(|d| {
                let d: String = d.chars().take(200).collect();
                format!(": {d}")
            })
            .unwrap_or_default();
        return Err(if error == "access_denied" {
            CallbackError::AccessDenied { detail }
        } else {
            CallbackError::Authorization {
                error: error.chars().take(80).collect(),
                detail,
            }
        });
    }
    match params.get("code").filter(|c| !c.trim().is_empty()) {
        Some(code) => Ok(Secret::new(code.trim())),
        None => Err(CallbackError::MissingCode),
    }
}

/// The redirect URI to serve: the default on 127.0.0.1, or one the user
/// registered with the app.
#[derive(Debug, Clone)]
pub enum RedirectTarget {
    /// `http://127.0.0.1:<port>/callback`; port 0 (or none) picks a free one.
    Loopback { port: Option<u16> },
    /// An explicit loopback URI such as `http://localhost:8976/auth`.
    Uri(String),
}

/// A bound listener, ready before the URL is shown.
#[derive(Debug)]
pub struct Listener {
    listener: tokio::net::TcpListener,
    redirect_uri: String,
    path: String,
}

impl Listener {
    pub async fn bind(target: &RedirectTarget) -> Result<Self, CallbackError> {
        match target {
            RedirectTarget::Loopback { port } => {
                let addr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port.unwrap_or(0));
                let listener = bind(addr).await?;
                let port = listener
                    .local_addr()
                    .map_err(|e| CallbackError::Server(e.to_string()))?
                    .port();
                Ok(Self {
                    listener,
                    redirect_uri: format!("http://127.0.0.1:{port}{CALLBACK_PATH}"),
                    path: CALLBACK_PATH.to_owned(),
                })
            }
            RedirectTarget::Uri(uri) => {
                let (addr, path) = loopback_address(uri)?;
                Ok(Self {
                    listener: bind(addr).await?,
                    redirect_uri: uri.trim().to_owned(),
                    path,
                })
            }
        }
    }

    /// The redirect URI, exactly as it goes into the authorization URL and
    /// the token request.
    pub fn redirect_uri(&self) -> &str {
        &self.redirect_uri
    }

    /// Serves until the first sign-in answer (or `timeout`) and returns its
    /// code. Other paths get 404; a request to the path with none of `code`,
    /// `error`, `state` is answered 400 and the wait goes on.
    pub async fn wait(
        self,
        expected_state: &str,
        timeout: Duration,
    ) -> Result<Secret, CallbackError> {
        let (tx, mut rx) = mpsc::channel(1);
        let shared = Arc::new(Shared {
            expected_state: expected_state.to_owned(),
            path: self.path,
            done: AtomicBool::new(false),
            tx,
        });
        let app = Router::new().fallback(handle).with_state(shared);
        let stop = CancellationToken::new();
        let mut server = tokio::spawn(
            axum::serve(self.listener, app)
                .with_graceful_shutdown(stop.clone().cancelled_owned())
                .into_future(),
        );
        let outcome = tokio::time::timeout(timeout, rx.recv()).await;
        stop.cancel();
        // Let the answer page reach the browser, then stop for good.
        if tokio::time::timeout(Duration::from_secs(2), &mut server)
            .await
            .is_err()
        {
            server.abort();
        }
        match outcome {
            Err(_) => Err(CallbackError::Timeout(timeout)),
            Ok(None) => Err(CallbackError::Server("the listener closed".to_owned())),
            Ok(Some(result)) => result,
        }
    }
}

async fn bind(addr: SocketAddr) -> Result<tokio::net::TcpListener, CallbackError> {
    tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| CallbackError::Bind { addr, source })
}

/// Where to listen for an explicit redirect URI: http, a loopback host, an
/// explicit port, no query.
fn loopback_address(uri: &str) -> Result<(SocketAddr, String), CallbackError> {
    let bad = |reason: &str| CallbackError::BadRedirectUri {
        uri: uri.to_owned(),
        reason: reason.to_owned(),
    };
    let url = url::Url::parse(uri.trim()).map_err(|e| bad(&e.to_string()))?;
    if url.scheme() != "http" {
        return Err(bad("it must start with http://"));
    }
    let ip = match url.host() {
        Some(url::Host::Domain(d)) if d.eq_ignore_ascii_case("localhost") => {
            IpAddr::V4(Ipv4Addr::LOCALHOST)
        }
        Some(url::Host::Ipv4(ip)) if ip.is_loopback() => IpAddr::V4(ip),
        Some(url::Host::Ipv6(ip)) if ip == Ipv6Addr::LOCALHOST => IpAddr::V6(ip),
        _ => return Err(bad("its host must be 127.0.0.1, localhost or [::1]")),
    };
    let Some(port) = url.port() else {
        return Err(bad("it needs an explicit port"));
    };
    if url.query().is_some() || url.fragment().is_some() {
        return Err(bad("it must not have a query or fragment"));
    }
    Ok((SocketAddr::new(ip, port), url.path().to_owned()))
}

struct Shared {
    expected_state: String,
    path: String,
    done: AtomicBool,
    tx: mpsc::Sender<Result<Secret, CallbackError>>,
}

async fn handle(State(shared): State<Arc<Shared>>, method: Method, uri: Uri) -> Response {
    if method != Method::GET || uri.path() != shared.path {
        return page(
            StatusCode::NOT_FOUND,
            "Not found",
            "Nothing is served here.",
        );
    }
    let params: HashMap<String, String> =
        url::form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes())
            .into_owned()
            .collect();
    if !["code", "error", "state"]
        .iter()
        .any(|k| params.contains_key(*k))
    {
        return page(
            StatusCode::BAD_REQUEST,
            "Waiting for Supabase",
            "This address only receives the answer of the Supabase sign-in.",
        );
    }
    if shared.done.swap(true, Ordering::SeqCst) {
        return page(
            StatusCode::CONFLICT,
            "Already finished",
            "This sign-in has already received its answer. Return to the terminal.",
        );
    }
    let outcome = evaluate(&params, &shared.expected_state);
    let ok = outcome.is_ok();
    let _ = shared.tx.try_send(outcome);
    if ok {
        page(
            StatusCode::OK,
            "Signed in",
            "supabase-mcp received the authorization. You can close this tab and return to the \
             terminal.",
        )
    } else {
        page(
            StatusCode::BAD_REQUEST,
            "Sign-in not completed",
            "supabase-mcp did not get an authorization. The terminal says why and what to do.",
        )
    }
}

fn page(status: StatusCode, title: &str, text: &str) -> Response {
    let body = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>{title}</title></head>\
         <body style=\"font-family:sans-serif;margin:3em\"><h1>{title}</h1><p>{text}</p>\
         </body></html>"
    );
    let mut response = (status, Html(body)).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn a_code_needs_the_matching_state() {
        let code = evaluate(&params(&[("code", "c1"), ("state", "s1")]), "s1").unwrap();
        assert_eq!(code.expose(), "c1");
        assert!(matches!(
            evaluate(&params(&[("code", "c1"), ("state", "s2")]), "s1"),
            Err(CallbackError::StateMismatch { .. })
        ));
        assert!(matches!(
            evaluate(&params(&[("code", "c1")]), "s1"),
            Err(CallbackError::StateMismatch { .. })
        ));
        assert!(matches!(
            evaluate(&params(&[("state", "s1")]), "s1"),
            Err(CallbackError::MissingCode)
        ));
    }

    #[test]
    fn error_answers() {
        let err = evaluate(
            &params(&[
                ("error", "access_denied"),
                ("error_description", "The user said no"),
                ("state", "s1"),
            ]),
            "s1",
        )
        .unwrap_err();
        assert!(matches!(err, CallbackError::AccessDenied { .. }));
        assert!(err.to_string().contains("The user said no"), "{err}");
        let err = evaluate(&params(&[("error", "invalid_request")]), "s1").unwrap_err();
        assert!(matches!(err, CallbackError::Authorization { .. }), "{err}");
        // A forged error with a wrong state is a state mismatch.
        let err =
            evaluate(&params(&[("error", "access_denied"), ("state", "x")]), "s1").unwrap_err();
        assert!(matches!(err, CallbackError::StateMismatch { .. }));
    }

    #[test]
    fn explicit_redirect_uris() {
        let (addr, path) = loopback_address("http://localhost:8976/auth/cb").unwrap();
        assert_eq!(addr.to_string(), "127.0.0.1:8976");
        assert_eq!(path, "/auth/cb");
        let (addr, _) = loopback_address("http://[::1]:9000/").unwrap();
        assert_eq!(addr.port(), 9000);
        for bad in [
            "https://127.0.0.1:1/x",
            "http://example.com:80/x",
            "http://127.0.0.1/x",
            "http://127.0.0.1:1/x?a=b",
            "nonsense",
        ] {
            assert!(loopback_address(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn durations_read_well() {
        assert_eq!(human_duration(Duration::from_secs(300)), "5 min");
        assert_eq!(human_duration(Duration::from_secs(90)), "90 s");
        assert_eq!(human_duration(Duration::from_millis(300)), "300 ms");
    }

    #[tokio::test]
    async fn listener_serves_one_answer() {
        let listener = Listener::bind(&RedirectTarget::Loopback { port: None })
            .await
            .unwrap();
        let uri = listener.redirect_uri().to_owned();
        assert!(uri.starts_with("http://127.0.0.1:") && uri.ends_with(CALLBACK_PATH));
        let waiter =
            tokio::spawn(async move { listener.wait("st", Duration::from_secs(10)).await });
        let client = reqwest::Client::new();
        let other = client
            .get(uri.replace(CALLBACK_PATH, "/favicon.ico"))
            .send()
            .await
            .unwrap();
        assert_eq!(other.status(), 404);
        let empty = client.get(&uri).send().await.unwrap();
        assert_eq!(empty.status(), 400);
        let ok = client
            .get(format!("{uri}?code=abc&state=st"))
            .send()
            .await
            .unwrap();
        assert_eq!(ok.status(), 200);
        let body = ok.text().await.unwrap();
        assert!(body.contains("close this tab") && !body.contains("abc"));
        assert_eq!(waiter.await.unwrap().unwrap().expose(), "abc");
    }

    #[tokio::test]
    async fn listener_times_out() {
        let listener = Listener::bind(&RedirectTarget::Loopback { port: None })
            .await
            .unwrap();
        let err = listener
            .wait("st", Duration::from_millis(200))
            .await
            .unwrap_err();
        assert!(matches!(err, CallbackError::Timeout(_)));
        assert!(err.to_string().contains("--timeout"), "{err}");
    }
}
