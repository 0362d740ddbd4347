//! `supabase-mcp login` / `logout` and the stored OAuth login, against a
//! mock authorization server: the PKCE flow through the loopback listener
//! (the test follows the redirect itself), the requests to
//! `/v1/oauth/token` and `/v1/oauth/revoke` (checked against the facts of
//! the Management API's OAuth endpoints: form-encoded token requests with
//! the client authenticated by HTTP Basic, a JSON revoke body), the failure
//! cases, refreshing, the 0600 file, the token the Management client sends,
//! and that no token ever shows up in output.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chrono::Utc;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use supabase_mcp::api::ApiConfig;
use supabase_mcp::cli::Options;
use supabase_mcp::config::Config;
use supabase_mcp::oauth::callback::{CallbackError, RedirectTarget};
use supabase_mcp::oauth::flow::{AuthorizeOptions, FlowError, LoopbackLogin, PastedLogin};
use supabase_mcp::oauth::{
    ClientAuth, EndpointError, Endpoints, Login, OAuthApp, StoreChoice, TokenStore,
};
use supabase_mcp::secret::Secret;
use supabase_mcp::server::clients::Clients;
use url::Url;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const CLIENT_ID: &str = "66666666-6666-4666-8666-666666666666";
const CLIENT_SECRET: &str = "sba_client_secret_0123456789_distinct";
const ACCESS: &str = "sbp_oauth_access_token_first_0001";
const REFRESH: &str = "sbp_oauth_refresh_token_first_0001";
const ACCESS_2: &str = "sbp_oauth_access_token_second_0002";
const REFRESH_2: &str = "sbp_oauth_refresh_token_second_0002";
const PAT: &str = "sbp_personal_access_token_0003_distinct";
const CODE: &str = "auth-code-from-the-consent-page";

fn app(server: &MockServer, auth: ClientAuth) -> OAuthApp {
    OAuthApp::new(
        &server.uri(),
        CLIENT_ID,
        Some(Secret::new(CLIENT_SECRET)),
        auth,
    )
    .unwrap()
}

fn endpoints(server: &MockServer, auth: ClientAuth) -> Endpoints {
    Endpoints::new(app(server, auth), Duration::from_secs(5)).unwrap()
}

fn token_body(access: &str, refresh: &str, expires_in: u64) -> Value {
    json!({
        "access_token": access,
        "refresh_token": refresh,
        "expires_in": expires_in,
        "token_type": "Bearer",
    })
}

async fn mount_token(server: &MockServer, response: ResponseTemplate) {
    Mock::given(method("POST"))
        .and(path("/v1/oauth/token"))
        .respond_with(response)
        .mount(server)
        .await;
}

async fn requests_to(server: &MockServer, p: &str) -> Vec<Request> {
    server
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.url.path() == p)
        .collect()
}

fn query(url: &Url) -> HashMap<String, String> {
    url.query_pairs().into_owned().collect()
}

fn form(req: &Request) -> HashMap<String, String> {
    url::form_urlencoded::parse(&req.body)
        .into_owned()
        .collect()
}

fn header(req: &Request, name: &str) -> Option<String> {
    req.headers
        .get(name)
        .map(|v| v.to_str().unwrap().to_owned())
}

/// Follows the redirect the authorization server would send.
async fn redirect(redirect_uri: &str, params: &[(&str, &str)]) -> reqwest::StatusCode {
    let mut url = Url::parse(redirect_uri).unwrap();
    url.query_pairs_mut().extend_pairs(params.iter().copied());
    reqwest::get(url).await.unwrap().status()
}

/// Checks a token request: POST, form-encoded, client in HTTP Basic.
fn check_token_request_basic(req: &Request) {
    assert_eq!(req.method.as_str(), "POST");
    assert_eq!(req.url.path(), "/v1/oauth/token");
    assert!(
        header(req, "content-type")
            .unwrap()
            .starts_with("application/x-www-form-urlencoded")
    );
    let expected = format!(
        "Basic {}",
        STANDARD.encode(format!("{CLIENT_ID}:{CLIENT_SECRET}"))
    );
    assert_eq!(
        header(req, "authorization").as_deref(),
        Some(expected.as_str())
    );
    let f = form(req);
    assert_eq!(f.get("client_id").map(String::as_str), Some(CLIENT_ID));
    assert!(
        !f.contains_key("client_secret"),
        "secret in the body: {f:?}"
    );
    // Only fields of the token request body exist.
    for key in f.keys() {
        assert!(
            [
                "grant_type",
                "client_id",
                "client_secret",
                "code",
                "code_verifier",
                "redirect_uri",
                "refresh_token",
                "resource",
                "scope"
            ]
            .contains(&key.as_str()),
            "unknown form field {key}"
        );
    }
}

async fn start_loopback(server: &MockServer, auth: ClientAuth) -> LoopbackLogin {
    LoopbackLogin::start(
        endpoints(server, auth),
        &RedirectTarget::Loopback { port: None },
        &AuthorizeOptions::default(),
    )
    .await
    .unwrap()
}

#[tokio::test]
async fn loopback_login_exchanges_the_code_with_pkce() {
    let server = MockServer::start().await;
    mount_token(
        &server,
        ResponseTemplate::new(201).set_body_json(token_body(ACCESS, REFRESH, 86400)),
    )
    .await;
    let pending = start_loopback(&server, ClientAuth::Basic).await;
    let url = pending.authorize_url().clone();
    let redirect_uri = pending.redirect_uri().to_owned();

    // The authorization URL (GET /v1/oauth/authorize).
    assert!(url.as_str().starts_with(&server.uri()));
    assert_eq!(url.path(), "/v1/oauth/authorize");
    let q = query(&url);
    assert_eq!(q["client_id"], CLIENT_ID);
    assert_eq!(q["response_type"], "code");
    assert_eq!(q["redirect_uri"], redirect_uri);
    assert!(redirect_uri.starts_with("http://127.0.0.1:") && redirect_uri.ends_with("/callback"));
    assert_eq!(q["code_challenge_method"], "S256");
    assert_eq!(q["code_challenge"].len(), 43);
    assert!(q["state"].len() >= 32);
    assert!(!url.as_str().contains(CLIENT_SECRET));
    assert!(!q.contains_key("code_verifier"));

    let waiter = tokio::spawn(pending.finish(Duration::from_secs(10)));
    let status = redirect(&redirect_uri, &[("code", CODE), ("state", &q["state"])]).await;
    assert_eq!(status, 200);
    let tokens = waiter.await.unwrap().unwrap();
    assert_eq!(tokens.access_token.expose(), ACCESS);
    assert_eq!(tokens.refresh_token.unwrap().expose(), REFRESH);
    assert_eq!(tokens.expires_in, Some(86400));

    let reqs = requests_to(&server, "/v1/oauth/token").await;
    assert_eq!(reqs.len(), 1);
    check_token_request_basic(&reqs[0]);
    let f = form(&reqs[0]);
    assert_eq!(f["grant_type"], "authorization_code");
    assert_eq!(f["code"], CODE);
    assert_eq!(f["redirect_uri"], redirect_uri);
    let verifier = &f["code_verifier"];
    assert!((43..=128).contains(&verifier.len()));
    assert_eq!(
        URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes())),
        q["code_challenge"],
        "the verifier does not match the S256 challenge"
    );
}

#[tokio::test]
async fn body_client_authentication_sends_the_secret_as_form_fields() {
    let server = MockServer::start().await;
    mount_token(
        &server,
        ResponseTemplate::new(200).set_body_json(token_body(ACCESS, REFRESH, 3600)),
    )
    .await;
    let pending = start_loopback(&server, ClientAuth::Body).await;
    let state = query(pending.authorize_url())["state"].clone();
    let redirect_uri = pending.redirect_uri().to_owned();
    let waiter = tokio::spawn(pending.finish(Duration::from_secs(10)));
    redirect(&redirect_uri, &[("code", CODE), ("state", &state)]).await;
    waiter.await.unwrap().unwrap();
    let req = &requests_to(&server, "/v1/oauth/token").await[0];
    assert!(header(req, "authorization").is_none());
    let f = form(req);
    assert_eq!(f["client_id"], CLIENT_ID);
    assert_eq!(f["client_secret"], CLIENT_SECRET);
}

#[tokio::test]
async fn a_state_mismatch_is_refused_before_any_token_request() {
    let server = MockServer::start().await;
    mount_token(
        &server,
        ResponseTemplate::new(201).set_body_json(token_body(ACCESS, REFRESH, 3600)),
    )
    .await;
    let pending = start_loopback(&server, ClientAuth::Basic).await;
    let redirect_uri = pending.redirect_uri().to_owned();
    let waiter = tokio::spawn(pending.finish(Duration::from_secs(10)));
    let status = redirect(&redirect_uri, &[("code", CODE), ("state", "forged-state")]).await;
    assert_eq!(status, 400);
    let err = waiter.await.unwrap().unwrap_err();
    assert!(
        matches!(
            err,
            FlowError::Callback(CallbackError::StateMismatch { .. })
        ),
        "{err}"
    );
    let text = err.to_string();
    assert!(
        text.contains("state") && text.contains("supabase-mcp login` again"),
        "{text}"
    );
    assert!(requests_to(&server, "/v1/oauth/token").await.is_empty());
}

#[tokio::test]
async fn a_declined_consent_says_so() {
    let server = MockServer::start().await;
    let pending = start_loopback(&server, ClientAuth::Basic).await;
    let state = query(pending.authorize_url())["state"].clone();
    let redirect_uri = pending.redirect_uri().to_owned();
    let waiter = tokio::spawn(pending.finish(Duration::from_secs(10)));
    redirect(
        &redirect_uri,
        &[
            ("error", "access_denied"),
            ("error_description", "The user denied the request"),
            ("state", &state),
        ],
    )
    .await;
    let err = waiter.await.unwrap().unwrap_err();
    assert!(
        matches!(err, FlowError::Callback(CallbackError::AccessDenied { .. })),
        "{err}"
    );
    let text = err.to_string();
    assert!(
        text.contains("declined") && text.contains("denied the request"),
        "{text}"
    );
    assert!(requests_to(&server, "/v1/oauth/token").await.is_empty());
}

#[tokio::test]
async fn no_answer_times_out() {
    let server = MockServer::start().await;
    let pending = start_loopback(&server, ClientAuth::Basic).await;
    let started = std::time::Instant::now();
    let err = pending
        .finish(Duration::from_millis(300))
        .await
        .unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(
        matches!(err, FlowError::Callback(CallbackError::Timeout(_))),
        "{err}"
    );
    assert!(err.to_string().contains("--timeout"), "{err}");
}

#[tokio::test]
async fn a_fixed_port_is_used_and_a_busy_one_explained() {
    let server = MockServer::start().await;
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = busy.local_addr().unwrap().port();
    let err = LoopbackLogin::start(
        endpoints(&server, ClientAuth::Basic),
        &RedirectTarget::Loopback { port: Some(port) },
        &AuthorizeOptions::default(),
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("--callback-port"), "{err}");
    drop(busy);
    let pending = LoopbackLogin::start(
        endpoints(&server, ClientAuth::Basic),
        &RedirectTarget::Loopback { port: Some(port) },
        &AuthorizeOptions {
            organization_slug: Some("acme".into()),
        },
    )
    .await
    .unwrap();
    assert_eq!(
        pending.redirect_uri(),
        format!("http://127.0.0.1:{port}/callback")
    );
    assert_eq!(query(pending.authorize_url())["organization_slug"], "acme");
}

async fn exchange_error(response: ResponseTemplate) -> EndpointError {
    let server = MockServer::start().await;
    mount_token(&server, response).await;
    let pending = PastedLogin::start(
        endpoints(&server, ClientAuth::Basic),
        "https://app.example.com/cb",
        &AuthorizeOptions::default(),
    )
    .unwrap();
    match pending.finish(CODE).await.unwrap_err() {
        FlowError::Endpoint(e) => e,
        other => panic!("unexpected {other}"),
    }
}

#[tokio::test]
async fn token_endpoint_failures_say_what_to_do() {
    let err = exchange_error(
        ResponseTemplate::new(401)
            .set_body_json(json!({"error": "invalid_client", "error_description": "bad client"})),
    )
    .await;
    assert!(matches!(err, EndpointError::InvalidClient { .. }), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("--client-secret") && text.contains("bad client"),
        "{text}"
    );
    assert!(!text.contains(CLIENT_SECRET));

    let err =
        exchange_error(ResponseTemplate::new(400).set_body_json(json!({"error": "invalid_grant"})))
            .await;
    assert!(matches!(err, EndpointError::InvalidGrant { .. }), "{err}");
    assert!(!err.to_string().contains(CODE), "{err}");

    let err = exchange_error(
        ResponseTemplate::new(400).set_body_json(json!({"message": "redirect_uri mismatch"})),
    )
    .await;
    let text = err.to_string();
    assert!(
        text.contains("400") && text.contains("redirect_uri mismatch") && text.contains("callback"),
        "{text}"
    );

    let err = exchange_error(ResponseTemplate::new(503).set_body_string("down")).await;
    assert!(err.to_string().contains("try again"), "{err}");

    let err = exchange_error(ResponseTemplate::new(201).set_body_string("not json")).await;
    assert!(matches!(err, EndpointError::Malformed { .. }), "{err}");
    let err =
        exchange_error(ResponseTemplate::new(201).set_body_json(json!({"token_type": "Bearer"})))
            .await;
    assert!(matches!(err, EndpointError::Malformed { .. }), "{err}");
}

#[tokio::test]
async fn an_unreachable_server_is_a_network_error() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let app = OAuthApp::new(
        &format!("http://127.0.0.1:{port}"),
        CLIENT_ID,
        Some(Secret::new(CLIENT_SECRET)),
        ClientAuth::Basic,
    )
    .unwrap();
    let pending = PastedLogin::start(
        Endpoints::new(app, Duration::from_secs(5)).unwrap(),
        "https://app.example.com/cb",
        &AuthorizeOptions::default(),
    )
    .unwrap();
    let err = pending.finish(CODE).await.unwrap_err();
    assert!(
        matches!(err, FlowError::Endpoint(EndpointError::Network { .. })),
        "{err}"
    );
    assert!(err.to_string().contains("could not reach"), "{err}");
}

#[tokio::test]
async fn pasted_redirect_address_completes_the_login() {
    let server = MockServer::start().await;
    mount_token(
        &server,
        ResponseTemplate::new(201).set_body_json(token_body(ACCESS, REFRESH, 3600)),
    )
    .await;
    let redirect_uri = "https://app.example.com/oauth/cb";
    let pending = PastedLogin::start(
        endpoints(&server, ClientAuth::Basic),
        redirect_uri,
        &AuthorizeOptions::default(),
    )
    .unwrap();
    let q = query(pending.authorize_url());
    assert_eq!(q["redirect_uri"], redirect_uri);
    let pasted = format!("{redirect_uri}?code={CODE}&state={}\n", q["state"]);
    let tokens = pending.finish(&pasted).await.unwrap();
    assert_eq!(tokens.access_token.expose(), ACCESS);
    let req = &requests_to(&server, "/v1/oauth/token").await[0];
    check_token_request_basic(req);
    let f = form(req);
    assert_eq!(f["redirect_uri"], redirect_uri);
    assert_eq!(f["code"], CODE);
}

// ---- stored logins, refresh and the Management client ----

fn save_login(dir: &Path, server: &MockServer, expires_in_secs: i64, with_secret: bool) {
    let now = Utc::now();
    let login = Login {
        api_url: server.uri(),
        client_id: CLIENT_ID.into(),
        token_type: "Bearer".into(),
        obtained_at: now,
        expires_at: Some(now + chrono::Duration::seconds(expires_in_secs)),
        access_token: Secret::new(ACCESS),
        refresh_token: Some(Secret::new(REFRESH)),
        client_secret: with_secret.then(|| Secret::new(CLIENT_SECRET)),
    };
    TokenStore::new(dir)
        .save(&login, StoreChoice::File)
        .unwrap();
}

fn options(dir: &Path, server: &MockServer) -> Options {
    Options {
        data_dir: Some(dir.to_owned()),
        api_url: Some(server.uri()),
        ..Options::default()
    }
}

async fn mount_projects(server: &MockServer) {
    Mock::given(method("GET"))
        .and(path("/v1/projects"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([])))
        .mount(server)
        .await;
}

/// Lists projects through the instance's Management client and returns the
/// Authorization header it sent.
async fn bearer_sent(clients: &Clients, config: &Config, server: &MockServer) -> String {
    let api = clients.management(&config.instances[0]).unwrap();
    api.idempotent(|c| c.v1_list_all_projects()).await.unwrap();
    let reqs = requests_to(server, "/v1/projects").await;
    header(reqs.last().unwrap(), "authorization").unwrap()
}

fn stored_file(dir: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("oauth-login.json")).unwrap()).unwrap()
}

#[tokio::test]
async fn the_stored_token_is_what_the_management_client_sends() {
    let server = MockServer::start().await;
    mount_projects(&server).await;
    let dir = tempfile::tempdir().unwrap();
    save_login(dir.path(), &server, 3600, false);
    let config = Config::resolve(&options(dir.path(), &server), None).unwrap();
    let inst = &config.instances[0];
    assert_eq!(inst.mode.name(), "cloud");
    assert!(inst.oauth.is_some());
    assert_eq!(inst.access_token.as_ref().unwrap().expose(), ACCESS);
    // The token is scrubbed like any configured secret.
    assert!(
        !config
            .redactor
            .scrub(&format!("x {ACCESS} y"))
            .contains(ACCESS)
    );
    let clients = Clients::new(ApiConfig::default(), config.redactor.clone());
    assert_eq!(
        bearer_sent(&clients, &config, &server).await,
        format!("Bearer {ACCESS}")
    );
    assert!(requests_to(&server, "/v1/oauth/token").await.is_empty());
}

#[tokio::test]
async fn a_personal_access_token_wins_over_the_stored_login() {
    let server = MockServer::start().await;
    mount_projects(&server).await;
    let dir = tempfile::tempdir().unwrap();
    // Even an expired login is left alone: no refresh is attempted.
    save_login(dir.path(), &server, -60, true);
    let mut opts = options(dir.path(), &server);
    opts.access_token = Some(PAT.into());
    let config = Config::resolve(&opts, None).unwrap();
    assert!(config.instances[0].oauth.is_none());
    let clients = Clients::new(ApiConfig::default(), config.redactor.clone());
    assert_eq!(
        bearer_sent(&clients, &config, &server).await,
        format!("Bearer {PAT}")
    );
    assert!(requests_to(&server, "/v1/oauth/token").await.is_empty());
}

#[tokio::test]
async fn a_self_hosted_instance_does_not_take_the_login() {
    let server = MockServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    save_login(dir.path(), &server, 3600, false);
    let mut opts = options(dir.path(), &server);
    opts.db_url = Some("postgres://postgres@127.0.0.1:5432/postgres".into());
    let config = Config::resolve(&opts, None).unwrap();
    assert_eq!(config.instances[0].mode.name(), "self-hosted");
    assert!(config.instances[0].oauth.is_none());
    assert!(config.instances[0].access_token.is_none());
}

#[tokio::test]
async fn an_expired_token_is_refreshed_at_startup_and_saved() {
    let server = MockServer::start().await;
    mount_projects(&server).await;
    mount_token(
        &server,
        ResponseTemplate::new(201).set_body_json(token_body(ACCESS_2, REFRESH_2, 3600)),
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    save_login(dir.path(), &server, -60, false);
    // The client secret comes from the config file's [oauth] section.
    let config_file = dir.path().join("config.toml");
    std::fs::write(
        &config_file,
        format!("[oauth]\nclient_secret = \"{CLIENT_SECRET}\"\n"),
    )
    .unwrap();
    let mut opts = options(dir.path(), &server);
    opts.config = Some(config_file);
    let config = Config::resolve(&opts, None).unwrap();
    assert_eq!(
        config.instances[0].access_token.as_ref().unwrap().expose(),
        ACCESS_2
    );

    let reqs = requests_to(&server, "/v1/oauth/token").await;
    assert_eq!(reqs.len(), 1);
    check_token_request_basic(&reqs[0]);
    let f = form(&reqs[0]);
    assert_eq!(f["grant_type"], "refresh_token");
    assert_eq!(f["refresh_token"], REFRESH);
    assert!(!f.contains_key("code"));

    // The new tokens (the refresh token rotated) are stored.
    let stored = stored_file(dir.path());
    assert_eq!(stored["access_token"], ACCESS_2);
    assert_eq!(stored["refresh_token"], REFRESH_2);
    let expires: chrono::DateTime<Utc> =
        serde_json::from_value(stored["expires_at"].clone()).unwrap();
    assert!(expires > Utc::now() + chrono::Duration::minutes(50));
    assert!(stored.get("client_secret").is_none());

    let clients = Clients::new(ApiConfig::default(), config.redactor.clone());
    assert_eq!(
        bearer_sent(&clients, &config, &server).await,
        format!("Bearer {ACCESS_2}")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_running_server_refreshes_before_a_management_call() {
    let server = MockServer::start().await;
    mount_projects(&server).await;
    mount_token(
        &server,
        ResponseTemplate::new(201).set_body_json(token_body(ACCESS_2, REFRESH_2, 3600)),
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    // The client secret was stored with the login (--store-client-secret).
    save_login(dir.path(), &server, 3600, true);
    let config = Config::resolve(&options(dir.path(), &server), None).unwrap();
    let clients = Clients::new(ApiConfig::default(), config.redactor.clone());
    assert_eq!(
        bearer_sent(&clients, &config, &server).await,
        format!("Bearer {ACCESS}")
    );
    assert!(requests_to(&server, "/v1/oauth/token").await.is_empty());

    // Time passes: the token is now within the refresh margin.
    config.instances[0]
        .oauth
        .as_ref()
        .unwrap()
        .set_refresh_margin(Duration::from_secs(7200));
    assert_eq!(
        bearer_sent(&clients, &config, &server).await,
        format!("Bearer {ACCESS_2}")
    );
    assert_eq!(requests_to(&server, "/v1/oauth/token").await.len(), 1);
    // A new access token is scrubbed too.
    assert!(!config.redactor.scrub(ACCESS_2).contains(ACCESS_2));
    assert_eq!(stored_file(dir.path())["access_token"], ACCESS_2);
}

#[tokio::test]
async fn a_refused_refresh_keeps_a_valid_token_and_explains_an_expired_one() {
    let server = MockServer::start().await;
    mount_projects(&server).await;
    mount_token(
        &server,
        ResponseTemplate::new(400).set_body_json(json!({"error": "invalid_grant"})),
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    save_login(dir.path(), &server, 3600, true);
    let config = Config::resolve(&options(dir.path(), &server), None).unwrap();
    let clients = Clients::new(ApiConfig::default(), config.redactor.clone());
    // Within the margin but still valid: the refusal is logged and the
    // current token goes on working.
    config.instances[0]
        .oauth
        .as_ref()
        .unwrap()
        .set_refresh_margin(Duration::from_secs(7200));
    assert_eq!(
        bearer_sent(&clients, &config, &server).await,
        format!("Bearer {ACCESS}")
    );
    assert_eq!(requests_to(&server, "/v1/oauth/token").await.len(), 1);

    // Expired: the startup refresh fails, the instance keeps the login, and
    // the Management client's error says what to do.
    save_login(dir.path(), &server, -60, true);
    let config = Config::resolve(&options(dir.path(), &server), None).unwrap();
    let inst = &config.instances[0];
    assert_eq!(inst.mode.name(), "cloud");
    assert!(inst.oauth.is_some());
    let err = clients.management(inst).unwrap_err();
    let text = err.to_text();
    assert!(
        text.contains("supabase-mcp login") && text.contains("refresh token was refused"),
        "{text}"
    );
    assert!(
        !text.contains(REFRESH) && !text.contains(CLIENT_SECRET),
        "{text}"
    );
}

// ---- the commands ----

fn bin() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_supabase-mcp"));
    for var in [
        "SUPABASE_ACCESS_TOKEN",
        "SUPABASE_OAUTH_CLIENT_ID",
        "SUPABASE_OAUTH_CLIENT_SECRET",
        "SUPABASE_MCP_TOKEN_STORE",
        "SUPABASE_MCP_CONFIG",
        "SUPABASE_API_URL",
        "SUPABASE_MCP_DATA_DIR",
    ] {
        cmd.env_remove(var);
    }
    cmd
}

fn assert_no_token(what: &str, text: &str) {
    for secret in [ACCESS, REFRESH, ACCESS_2, REFRESH_2, CLIENT_SECRET, CODE] {
        assert!(!text.contains(secret), "{what} shows a secret:\n{text}");
    }
}

#[cfg(unix)]
fn mode_of(p: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_status_logout_commands_end_to_end() {
    let server = MockServer::start().await;
    mount_token(
        &server,
        ResponseTemplate::new(201).set_body_json(token_body(ACCESS, REFRESH, 86400)),
    )
    .await;
    Mock::given(method("POST"))
        .and(path("/v1/oauth/revoke"))
        .respond_with(ResponseTemplate::new(204))
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");

    let mut child = bin()
        .args([
            "login",
            "--client-id",
            CLIENT_ID,
            "--client-secret",
            CLIENT_SECRET,
        ])
        .args(["--token-store", "file", "--timeout", "30s"])
        .arg("--api-url")
        .arg(server.uri())
        .arg("--data-dir")
        .arg(&data)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let reader = std::thread::spawn(move || {
        let mut all = String::new();
        for line in BufReader::new(stderr).lines() {
            let line = line.unwrap();
            all.push_str(&line);
            all.push('\n');
            let _ = tx.send(line);
        }
        all
    });
    // Read the printed authorization URL, then play the browser.
    let url = tokio::task::spawn_blocking(move || {
        loop {
            let line = rx.recv_timeout(Duration::from_secs(30)).unwrap();
            if let Some(at) = line.find("http") {
                let candidate = line[at..].trim().to_owned();
                if candidate.contains("/v1/oauth/authorize?") {
                    return candidate;
                }
            }
        }
    })
    .await
    .unwrap();
    let url = Url::parse(&url).unwrap();
    let q = query(&url);
    assert_eq!(
        redirect(
            &q["redirect_uri"],
            &[("code", CODE), ("state", &q["state"])]
        )
        .await,
        200
    );
    let output = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    let err_text = reader.join().unwrap();
    let out_text = String::from_utf8(output.stdout).unwrap();
    assert!(output.status.success(), "{err_text}\n{out_text}");
    assert_no_token("login stdout", &out_text);
    assert_no_token("login stderr", &err_text);
    let out: Value = serde_json::from_str(&out_text).unwrap();
    assert_eq!(out["status"], "signed_in");
    assert_eq!(out["store"], "file");
    assert_eq!(out["client_secret_stored"], false);

    let file = data.join("oauth-login.json");
    #[cfg(unix)]
    assert_eq!(mode_of(&file), 0o600);
    let stored = stored_file(&data);
    assert_eq!(stored["access_token"], ACCESS);
    assert_eq!(stored["refresh_token"], REFRESH);
    assert_eq!(stored["client_id"], CLIENT_ID);
    assert_eq!(stored["api_url"], server.uri());
    assert!(stored.get("client_secret").is_none());
    check_token_request_basic(&requests_to(&server, "/v1/oauth/token").await[0]);

    // login --status: where and until when, never the token.
    let status = bin()
        .args(["login", "--status", "--data-dir"])
        .arg(&data)
        .output()
        .unwrap();
    assert!(status.status.success());
    let text = String::from_utf8(status.stdout).unwrap();
    assert_no_token("status", &text);
    assert_no_token("status stderr", &String::from_utf8_lossy(&status.stderr));
    let st: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(st["signed_in"], true);
    assert_eq!(st["store"], "file");
    assert_eq!(st["file_mode"], "0600");
    assert!(st["expires_at"].is_string());
    assert!(st["expires_in_secs"].as_i64().unwrap() > 80000);

    // logout: revokes with the JSON body, then deletes.
    let logout = bin()
        .args(["logout", "--client-secret", CLIENT_SECRET, "--data-dir"])
        .arg(&data)
        .output()
        .unwrap();
    let text = String::from_utf8(logout.stdout).unwrap();
    let err_text = String::from_utf8_lossy(&logout.stderr).to_string();
    assert!(logout.status.success(), "{err_text}");
    assert_no_token("logout", &text);
    assert_no_token("logout stderr", &err_text);
    let out: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(out["revoked"], true);
    assert!(!file.exists());
    let revokes = requests_to(&server, "/v1/oauth/revoke").await;
    assert_eq!(revokes.len(), 1);
    assert_eq!(revokes[0].method.as_str(), "POST");
    assert!(
        header(&revokes[0], "content-type")
            .unwrap()
            .starts_with("application/json")
    );
    let body: Value = serde_json::from_slice(&revokes[0].body).unwrap();
    assert_eq!(
        body,
        json!({"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "refresh_token": REFRESH})
    );

    // Nothing stored any more.
    let status = bin()
        .args(["login", "--status", "--data-dir"])
        .arg(&data)
        .output()
        .unwrap();
    assert!(!status.status.success());
    let st: Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(st["signed_in"], false);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_deletes_even_when_the_revoke_fails() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/oauth/revoke"))
        .respond_with(
            ResponseTemplate::new(500).set_body_json(json!({"message": "revocation is broken"})),
        )
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    save_login(dir.path(), &server, 3600, true);
    let file = dir.path().join("oauth-login.json");
    #[cfg(unix)]
    assert_eq!(mode_of(&file), 0o600);
    let output = tokio::task::spawn_blocking({
        let data = dir.path().to_owned();
        move || {
            bin()
                .args(["logout", "--data-dir"])
                .arg(data)
                .output()
                .unwrap()
        }
    })
    .await
    .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let err_text = String::from_utf8_lossy(&output.stderr).to_string();
    let text = String::from_utf8(output.stdout).unwrap();
    assert_no_token("logout", &text);
    assert_no_token("logout stderr", &err_text);
    assert!(
        err_text.contains("revoking failed") && err_text.contains("500"),
        "{err_text}"
    );
    assert!(err_text.contains("revocation is broken"), "{err_text}");
    assert!(err_text.contains("deleted"), "{err_text}");
    let out: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(out["revoked"], false);
    assert!(out["revoke_error"].as_str().unwrap().contains("500"));
    assert!(!file.exists());
    // The stored client secret was used.
    let body: Value =
        serde_json::from_slice(&requests_to(&server, "/v1/oauth/revoke").await[0].body).unwrap();
    assert_eq!(body["client_secret"], CLIENT_SECRET);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_without_a_client_secret_still_deletes_and_says_why() {
    let server = MockServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    save_login(dir.path(), &server, 3600, false);
    let output = tokio::task::spawn_blocking({
        let data = dir.path().to_owned();
        move || {
            bin()
                .args(["logout", "--data-dir"])
                .arg(data)
                .output()
                .unwrap()
        }
    })
    .await
    .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let err_text = String::from_utf8_lossy(&output.stderr).to_string();
    assert!(
        err_text.contains("SUPABASE_OAUTH_CLIENT_SECRET"),
        "{err_text}"
    );
    assert!(!dir.path().join("oauth-login.json").exists());
    assert!(requests_to(&server, "/v1/oauth/revoke").await.is_empty());
}

#[test]
fn login_needs_a_client_id_and_no_listen_needs_a_redirect_uri() {
    let dir = tempfile::tempdir().unwrap();
    let out = bin()
        .args(["login", "--timeout", "1s", "--data-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(text.contains("--client-id"), "{text}");
    let out = bin()
        .args(["login", "--no-listen", "--client-id", CLIENT_ID])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--redirect-uri"));
}

#[test]
fn the_http_port_setting_does_not_move_the_redirect_listener() {
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = busy.local_addr().unwrap().port().to_string();
    let dir = tempfile::tempdir().unwrap();
    let out = bin()
        .env("SUPABASE_MCP_PORT", &port)
        .args(["login", "--client-id", CLIENT_ID, "--timeout", "1s"])
        .args(["--api-url", "http://127.0.0.1:9", "--data-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        text.contains("no sign-in answer arrived within 1 s"),
        "{text}"
    );
    assert!(
        !text.contains(&format!("127.0.0.1:{port}/callback")),
        "{text}"
    );
    // An explicit --callback-port is used.
    let out = bin()
        .args([
            "login",
            "--client-id",
            CLIENT_ID,
            "--timeout",
            "1s",
            "--callback-port",
            &port,
        ])
        .args(["--api-url", "http://127.0.0.1:9", "--data-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(
        text.contains(&format!("127.0.0.1:{port}")) && text.contains("--callback-port"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_with_a_pasted_code_reads_standard_input() {
    use std::io::Write;
    let server = MockServer::start().await;
    mount_token(
        &server,
        ResponseTemplate::new(201).set_body_json(token_body(ACCESS, REFRESH, 3600)),
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let mut child = bin()
        .args([
            "login",
            "--no-listen",
            "--redirect-uri",
            "https://app.example.com/cb",
        ])
        .args(["--client-id", CLIENT_ID, "--client-secret", CLIENT_SECRET])
        .args(["--token-store", "file", "--api-url"])
        .arg(server.uri())
        .arg("--data-dir")
        .arg(dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let url = tokio::task::spawn_blocking(move || {
        let mut lines = BufReader::new(stderr).lines();
        loop {
            let line = lines.next().unwrap().unwrap();
            if let Some(at) = line.find("http")
                && line.contains("/v1/oauth/authorize?")
            {
                return (line[at..].trim().to_owned(), lines);
            }
        }
    })
    .await
    .unwrap();
    let (url, rest) = url;
    let q = query(&Url::parse(&url).unwrap());
    assert_eq!(q["redirect_uri"], "https://app.example.com/cb");
    writeln!(
        stdin,
        "https://app.example.com/cb?code={CODE}&state={}",
        q["state"]
    )
    .unwrap();
    drop(stdin);
    let output = tokio::task::spawn_blocking(move || {
        let rest: Vec<String> = rest.map_while(Result::ok).collect();
        (child.wait_with_output().unwrap(), rest.join("\n"))
    })
    .await
    .unwrap();
    let (output, err_text) = output;
    assert!(output.status.success(), "{err_text}");
    assert_no_token("login", &String::from_utf8_lossy(&output.stdout));
    assert_no_token("login stderr", &err_text);
    assert_eq!(stored_file(dir.path())["access_token"], ACCESS);
    let f = form(&requests_to(&server, "/v1/oauth/token").await[0]);
    assert_eq!(f["redirect_uri"], "https://app.example.com/cb");
}

#[test]
fn token_store_choice_and_login_shapes() {
    // Store files written by the library are 0600 too, and hold what the
    // server needs to refresh.
    let dir = tempfile::tempdir().unwrap();
    let now = Utc::now();
    let login = Login {
        api_url: "https://api.supabase.com".into(),
        client_id: CLIENT_ID.into(),
        token_type: "Bearer".into(),
        obtained_at: now,
        expires_at: Some(now),
        access_token: Secret::new(ACCESS),
        refresh_token: Some(Secret::new(REFRESH)),
        client_secret: None,
    };
    let store = TokenStore::new(dir.path());
    store.save(&login, StoreChoice::File).unwrap();
    #[cfg(unix)]
    assert_eq!(mode_of(&store.path()), 0o600);
    let st = store.status(Utc::now()).unwrap().unwrap();
    assert!(st.expired);
    assert!(!format!("{login:?}").contains(ACCESS));
}
