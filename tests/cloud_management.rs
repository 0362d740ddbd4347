//! The `management` group against a mock Management API: for every tool
//! the exact request (checked against `specs/supabase-management.yaml`),
//! the result, 401/403/404/5xx answers and malformed bodies turned into
//! plain tool errors; secret values (Auth secrets, the JWT secret, function
//! secrets, secret API keys) never in a result; CIDR checks and lock-out
//! refusals; confirmations of setting changes and deletions; read-only mode.

mod api_common;
mod common;

use common::*;
use serde_json::{Value, json};
use wiremock::matchers::{any, method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const TOKEN: &str = CLOUD_TOKEN;
const PROJECT: &str = CLOUD_PROJECT;
const OTHER: &str = "zyxwvutsrqponmlkjihg";
const KEY_ID: &str = "0b6f8c2e-3d4a-4c2b-9a1e-6f7d8e9a0b1c";
/// Distinctive secret values the mock sends or the tests set.
const SMTP_PASS: &str = "smtp-pass-Q7v9-distinctive";
const GOOGLE_SECRET: &str = "GOCSPX-google-secret-distinctive";
const JWT_SECRET: &str = "jwt-secret-super-long-distinctive-value";
const SECRET_KEY: &str = "sb_secret_Zr8Lq3distinctive0000";
const SERVICE_ROLE: &str = "eyJhbGciOiJIUzI1NiJ9.eyJyb2xlIjoic2VydmljZV9yb2xlIn0.c2lnbmF0dXJl";
const FN_SECRET: &str = "whsec_function-secret-distinctive-42";

const TOOLS: [&str; 19] = [
    "get_project_health",
    "get_upgrade_status",
    "get_custom_hostname",
    "get_auth_config",
    "update_auth_config",
    "get_postgrest_config",
    "update_postgrest_config",
    "get_pooler_config",
    "update_pooler_config",
    "get_network_restrictions",
    "update_network_restrictions",
    "get_ssl_enforcement",
    "update_ssl_enforcement",
    "list_secrets",
    "set_secrets",
    "delete_secrets",
    "list_api_keys",
    "create_api_key",
    "delete_api_key",
];
const READ_TOOLS: [&str; 10] = [
    "get_project_health",
    "get_upgrade_status",
    "get_custom_hostname",
    "get_auth_config",
    "get_postgrest_config",
    "get_pooler_config",
    "get_network_restrictions",
    "get_ssl_enforcement",
    "list_secrets",
    "list_api_keys",
];

async fn start(mock: &MockServer, scoped: bool, extra: &[&str]) -> Server {
    start_cloud(&mock.uri(), "management,auth", scoped, extra).await
}

/// A scoped server with extra environment variables.
async fn start_env(mock: &MockServer, extra: &[&str], env: &[(&str, &str)]) -> Server {
    let uri = mock.uri();
    let mut args = vec![
        "--mode",
        "cloud",
        "--access-token",
        TOKEN,
        "--api-url",
        uri.as_str(),
        "--features",
        "management,auth",
        "--project-ref",
        PROJECT,
    ];
    args.extend_from_slice(extra);
    Server::start_with_env(None, &args, env).await
}

async fn requests(mock: &MockServer) -> Vec<Request> {
    mock.received_requests().await.unwrap()
}

fn check(req: &Request, op: &str) {
    api_common::Spec::load("supabase-management").check(op, req, "");
    api_common::assert_header(req, "authorization", &format!("Bearer {TOKEN}"));
}

fn body(req: &Request) -> Value {
    serde_json::from_slice(&req.body).unwrap()
}

fn query(req: &Request) -> Vec<(String, String)> {
    req.url
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn ok(r: &Value) -> &Value {
    assert_eq!(status(r), "ok", "{r}");
    data(r)
}

fn warnings(r: &Value) -> String {
    r["structuredContent"]["warnings"].to_string()
}

/// The whole result, as text, holds none of `secrets`.
fn assert_absent(r: &Value, secrets: &[&str]) {
    let all = r.to_string();
    for s in secrets {
        assert!(!all.contains(s), "the result shows a secret ({s}): {all}");
    }
}

/// Calls `tool` once for its confirmation token, then again with it.
async fn confirmed(s: &mut Server, tool: &str, args: Value) -> (Value, Value) {
    let first = s.call(tool, args.clone()).await;
    assert_eq!(status(&first), "confirmation_required", "{first}");
    let mut args = args;
    args["confirmation_token"] = data(&first)["confirmation_token"].clone();
    let second = s.call(tool, args).await;
    (first, second)
}

fn p(suffix: &str) -> String {
    format!("/v1/projects/{PROJECT}{suffix}")
}

async fn mount(mock: &MockServer, verb: &str, at: &str, template: ResponseTemplate) {
    Mock::given(method(verb))
        .and(path(at))
        .respond_with(template)
        .mount(mock)
        .await;
}

fn json200(v: Value) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(v)
}

// ---------------------------------------------------------------------------
// The catalogue

#[tokio::test(flavor = "multi_thread")]
async fn every_tool_is_listed_short_and_scoped() {
    let mock = MockServer::start().await;
    let mut s = start(&mock, true, &[]).await;
    let tools = s.tools().await;
    for name in TOOLS {
        let t = tools
            .iter()
            .find(|t| t["name"] == name)
            .unwrap_or_else(|| panic!("{name} listed"));
        let d = t["description"].as_str().unwrap();
        assert!(d.len() < 100 && !d.contains('\n'), "{name}: {d}");
        assert!(
            t["inputSchema"]["properties"].get("project_id").is_none(),
            "{t}"
        );
        let read = READ_TOOLS.contains(&name);
        assert_eq!(t["annotations"]["readOnlyHint"] == true, read, "{t}");
        if !read && name != "set_secrets" && name != "create_api_key" {
            assert_ne!(t["annotations"]["destructiveHint"], false, "{t}");
        }
    }
    let r = s
        .call("get_ssl_enforcement", json!({"project_id": OTHER}))
        .await;
    assert!(text(&r).contains("scoped"), "{}", text(&r));
    // Not a default group.
    let mut d = Server::start(
        None,
        &[
            "--mode",
            "cloud",
            "--access-token",
            TOKEN,
            "--api-url",
            &mock.uri(),
        ],
    )
    .await;
    let names: Vec<String> = d
        .tools()
        .await
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_owned())
        .collect();
    assert!(!names.iter().any(|n| n == "list_api_keys"), "{names:?}");
    // Unscoped: project_id is an argument, checked before any request.
    let mut u = start(&mock, false, &[]).await;
    let r = u.call("get_ssl_enforcement", json!({})).await;
    assert_eq!(error_code(&r), "invalid_arguments", "{r}");
    assert!(text(&r).contains("project_id"), "{}", text(&r));
    let r = u
        .call("get_ssl_enforcement", json!({"project_id": "nope"}))
        .await;
    assert!(text(&r).contains("not a project ref"), "{}", text(&r));
    assert!(requests(&mock).await.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn read_only_mode_hides_and_refuses_every_change() {
    let mock = MockServer::start().await;
    let mut s = start(&mock, true, &["--read-only"]).await;
    let names: Vec<String> = s
        .tools()
        .await
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_owned())
        .collect();
    for t in TOOLS {
        assert_eq!(
            names.iter().any(|n| n == t),
            READ_TOOLS.contains(&t),
            "{t}: {names:?}"
        );
    }
    let calls = [
        (
            "update_auth_config",
            json!({"config": {"disable_signup": true}}),
        ),
        ("update_postgrest_config", json!({"max_rows": 10})),
        ("update_pooler_config", json!({"default_pool_size": 10})),
        (
            "update_network_restrictions",
            json!({"allowed_cidrs": ["0.0.0.0/0", "::/0"]}),
        ),
        ("update_ssl_enforcement", json!({"enforced": true})),
        (
            "set_secrets",
            json!({"secrets": [{"name": "A", "value": "xxxxxx"}]}),
        ),
        ("delete_secrets", json!({"names": ["A"]})),
        (
            "create_api_key",
            json!({"type": "secret", "name": "worker_key"}),
        ),
        ("delete_api_key", json!({"id": KEY_ID})),
    ];
    for (tool, args) in calls {
        let r = s.call(tool, args).await;
        assert_eq!(error_code(&r), "read_only", "{tool}: {r}");
    }
    assert!(requests(&mock).await.is_empty());
}

// ---------------------------------------------------------------------------
// Health, upgrades, custom hostname

#[tokio::test(flavor = "multi_thread")]
async fn health_sends_the_services_and_reports_unhealthy_ones() {
    let mock = MockServer::start().await;
    mount(
        &mock,
        "GET",
        &p("/health"),
        json200(json!([
            {"name": "auth", "healthy": true, "status": "ACTIVE_HEALTHY",
             "info": {"name": "GoTrue", "version": "2.170.0", "description": "GoTrue is a user registration and authentication API"}},
            {"name": "db", "healthy": false, "status": "UNHEALTHY", "error": "connection refused"},
            {"name": "storage", "healthy": true, "status": "A_STATE_ADDED_LATER", "info": {"anything": [1, 2]}},
        ])),
    )
    .await;
    let mut s = start(&mock, true, &[]).await;
    let r = s
        .call(
            "get_project_health",
            json!({"services": ["auth", "db", "storage", "db"], "timeout_ms": 5000}),
        )
        .await;
    let d = ok(&r);
    assert_eq!(d["healthy"], false);
    assert_eq!(d["services"][0]["healthy"], true);
    assert_eq!(d["services"][0]["info"]["version"], "2.170.0");
    assert_eq!(d["services"][1]["error"], "connection refused");
    assert_eq!(d["services"][2]["status"], "A_STATE_ADDED_LATER");
    assert!(warnings(&r).contains("db is UNHEALTHY"), "{r}");
    let reqs = requests(&mock).await;
    assert_eq!(reqs.len(), 1);
    check(&reqs[0], "v1-get-services-health");
    assert_eq!(
        query(&reqs[0]),
        vec![
            ("services".to_owned(), "auth".to_owned()),
            ("services".to_owned(), "db".to_owned()),
            ("services".to_owned(), "storage".to_owned()),
            ("timeout_ms".to_owned(), "5000".to_owned()),
        ]
    );
    // Every current service by default.
    s.call("get_project_health", json!({})).await;
    let reqs = requests(&mock).await;
    let sent: Vec<String> = query(&reqs[1]).into_iter().map(|(_, v)| v).collect();
    assert_eq!(
        sent,
        [
            "auth",
            "db",
            "db_postgres_user",
            "pooler",
            "realtime",
            "rest",
            "storage"
        ]
    );
    for bad in [
        json!({"timeout_ms": 10001}),
        json!({"services": []}),
        json!({"services": ["mail"]}),
    ] {
        let r = s.call("get_project_health", bad.clone()).await;
        assert_eq!(error_code(&r), "invalid_arguments", "{bad}: {r}");
    }
    assert_eq!(requests(&mock).await.len(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn upgrade_status_combines_progress_and_eligibility() {
    let mock = MockServer::start().await;
    mount(
        &mock,
        "GET",
        &p("/upgrade/status"),
        json200(json!({"databaseUpgradeStatus": {
            "initiated_at": "2025-05-01T10:00:00Z", "latest_status_at": "2025-05-01T10:20:00Z",
            "target_version": 17, "status": 1, "progress": "5_initiated_data_upgrade"
        }})),
    )
    .await;
    mount(
        &mock,
        "GET",
        &p("/upgrade/eligibility"),
        json200(json!({
            "eligible": false, "current_app_version": "supabase-postgres-15.8.1.085",
            "current_app_version_release_channel": "ga", "latest_app_version": "supabase-postgres-17.4.1.050",
            "target_upgrade_versions": [{"postgres_version": "18", "release_channel": "a-new-channel", "app_version": "supabase-postgres-18.0.1"}],
            "duration_estimate_hours": 1.5, "legacy_auth_custom_roles": [],
            "objects_to_be_dropped": [], "unsupported_extensions": ["timescaledb"],
            "user_defined_objects_in_internal_schemas": [],
            "validation_errors": [
                {"type": "unsupported_extension", "extension_name": "timescaledb"},
                {"type": "a_blocker_added_later", "detail": {"x": 1}}
            ],
            "warnings": [{"type": "pg_graphql_introspection_change"}]
        })),
    )
    .await;
    let mut s = start(&mock, true, &[]).await;
    let r = s.call("get_upgrade_status", json!({})).await;
    let d = ok(&r);
    assert_eq!(d["upgrade"]["state"], "in_progress");
    assert_eq!(d["upgrade"]["progress"], "5_initiated_data_upgrade");
    let e = &d["eligibility"];
    assert_eq!(e["eligible"], false);
    assert_eq!(e["targets"][0]["postgres_version"], "18");
    assert_eq!(e["blockers"][0]["extension_name"], "timescaledb");
    assert_eq!(e["blockers"][1]["type"], "a_blocker_added_later");
    assert_eq!(e["blockers"][1]["detail"]["x"], 1);
    assert_eq!(e["unsupported_extensions"][0], "timescaledb");
    assert!(warnings(&r).contains("2 blocker"), "{r}");
    let reqs = requests(&mock).await;
    assert_eq!(reqs.len(), 2);
    for req in &reqs {
        let op = if req.url.path().ends_with("status") {
            "v1-get-postgres-upgrade-status"
        } else {
            "v1-get-postgres-upgrade-eligibility"
        };
        check(req, op);
        assert_eq!(req.url.query(), None);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn custom_hostname_lists_the_dns_records_or_says_there_is_none() {
    let mock = MockServer::start().await;
    mount(
        &mock,
        "GET",
        &p("/custom-hostname"),
        json200(json!({
            "status": "2_initiated", "custom_hostname": "api.example.com",
            "data": {"success": true, "errors": [], "messages": [], "result": {
                "id": "c1", "hostname": "api.example.com", "status": "pending",
                "custom_origin_server": "abcdefghijklmnopqrst.supabase.co",
                "ownership_verification": {"type": "txt", "name": "_cf-custom-hostname.api.example.com", "value": "uuid-1"},
                "ssl": {"status": "pending_validation",
                    "validation_records": [{"txt_name": "_acme-challenge.api.example.com", "txt_value": "tok-1"}],
                    "validation_errors": [{"message": "TXT record not found"}]},
                "verification_errors": []
            }}
        })),
    )
    .await;
    let mut s = start(&mock, true, &[]).await;
    let r = s.call("get_custom_hostname", json!({})).await;
    let d = ok(&r);
    assert_eq!(d["configured"], true);
    assert_eq!(d["hostname"], "api.example.com");
    assert_eq!(d["active"], false);
    assert!(d["stage"].as_str().unwrap().contains("DNS"), "{d}");
    assert_eq!(d["dns_records"][0]["type"], "CNAME");
    assert_eq!(
        d["dns_records"][0]["value"],
        "abcdefghijklmnopqrst.supabase.co"
    );
    assert_eq!(d["dns_records"][2]["value"], "tok-1");
    assert_eq!(d["errors"][0], "TXT record not found");
    assert!(warnings(&r).contains("verification error"), "{r}");
    check(&requests(&mock).await[0], "v1-get-hostname-config");

    let none = MockServer::start().await;
    mount(
        &none,
        "GET",
        &p("/custom-hostname"),
        ResponseTemplate::new(404).set_body_json(json!({"message": "Custom hostname not found"})),
    )
    .await;
    let mut s = start(&none, true, &[]).await;
    let r = s.call("get_custom_hostname", json!({})).await;
    let d = ok(&r);
    assert_eq!(d["configured"], false);
    assert!(d["next_step"].as_str().unwrap().contains("dashboard"));
}

// ---------------------------------------------------------------------------
// Auth settings

fn auth_config() -> Value {
    json!({
        "site_url": "https://app.example.com",
        "disable_signup": false,
        "external_google_enabled": true,
        "external_google_client_id": "client-id.apps.googleusercontent.com",
        "external_google_secret": GOOGLE_SECRET,
        "external_github_secret": null,
        "smtp_host": "smtp.example.com",
        "smtp_user": "mailer",
        "smtp_pass": SMTP_PASS,
        "hook_send_email_secrets": "v1,whsec_hook-secret-distinctive",
        "sms_twilio_auth_token": "twilio-token-distinctive",
        "jwt_exp": 3600,
        "a_field_added_later": "shown as is",
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn auth_settings_are_shown_with_every_secret_masked() {
    let mock = MockServer::start().await;
    mount(&mock, "GET", &p("/config/auth"), json200(auth_config())).await;
    let mut s = start(&mock, true, &[]).await;
    let r = s.call("get_auth_config", json!({})).await;
    let d = ok(&r);
    assert_absent(
        &r,
        &[
            SMTP_PASS,
            GOOGLE_SECRET,
            "whsec_hook-secret-distinctive",
            "twilio-token-distinctive",
        ],
    );
    let c = &d["config"];
    assert_eq!(c["smtp_pass"], "(hidden)");
    assert_eq!(c["external_google_secret"], "(hidden)");
    assert_eq!(c["external_github_secret"], Value::Null);
    assert_eq!(c["smtp_user"], "mailer");
    assert_eq!(c["site_url"], "https://app.example.com");
    assert_eq!(c["a_field_added_later"], "shown as is");
    assert_eq!(
        d["secrets_set"],
        json!([
            "external_google_secret",
            "hook_send_email_secrets",
            "sms_twilio_auth_token",
            "smtp_pass"
        ])
    );
    let reqs = requests(&mock).await;
    check(&reqs[0], "v1-get-auth-service-config");

    let r = s.call("get_auth_config", json!({"filter": "SMTP"})).await;
    let d = ok(&r);
    assert_eq!(d["count"], 3, "{d}");
    assert_eq!(d["secrets_set"], json!(["smtp_pass"]));
    let r = s.call("get_auth_config", json!({"filter": "zzz"})).await;
    assert!(warnings(&r).contains("no field name"), "{r}");
}

#[tokio::test(flavor = "multi_thread")]
async fn auth_changes_are_confirmed_and_secrets_come_from_the_server() {
    let mock = MockServer::start().await;
    let mut answer = auth_config();
    answer["site_url"] = json!("https://new.example.com");
    answer["smtp_pass"] = json!("smtp-pass-from-env-distinctive");
    mount(&mock, "PATCH", &p("/config/auth"), json200(answer)).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("google");
    std::fs::write(&file, "google-secret-from-file-distinctive\n").unwrap();
    let mut s = start_env(
        &mock,
        &[],
        &[("SMCP_TEST_SMTP_PASS", "smtp-pass-from-env-distinctive")],
    )
    .await;
    let args = json!({
        "config": {"site_url": "https://new.example.com", "mailer_autoconfirm": true},
        "values_from": {
            "smtp_pass": "env:SMCP_TEST_SMTP_PASS",
            "external_google_secret": format!("file:{}", file.display())
        }
    });
    let (first, second) = confirmed(&mut s, "update_auth_config", args).await;
    let action = data(&first)["action"].as_str().unwrap();
    assert!(
        action.contains("site_url → \"https://new.example.com\""),
        "{action}"
    );
    assert!(
        action.contains("smtp_pass ← environment variable SMCP_TEST_SMTP_PASS"),
        "{action}"
    );
    assert!(action.contains("WARNING"), "{action}");
    let d = ok(&second);
    assert_absent(
        &second,
        &[
            "smtp-pass-from-env-distinctive",
            "google-secret-from-file-distinctive",
            "[redacted]",
        ],
    );
    assert_eq!(d["now"]["site_url"], "https://new.example.com");
    assert_eq!(d["now"]["smtp_pass"], "(hidden)");
    assert!(
        warnings(&second).contains("no longer confirmed"),
        "{second}"
    );
    let reqs = requests(&mock).await;
    assert_eq!(reqs.len(), 1, "nothing sent before the confirmation");
    check(&reqs[0], "v1-update-auth-service-config");
    assert_eq!(
        body(&reqs[0]),
        json!({
            "site_url": "https://new.example.com",
            "mailer_autoconfirm": true,
            "smtp_pass": "smtp-pass-from-env-distinctive",
            "external_google_secret": "google-secret-from-file-distinctive"
        }),
        "only the fields given, the file's trailing newline dropped"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn auth_changes_are_checked_before_any_request() {
    let mock = MockServer::start().await;
    let mut s = start_env(
        &mock,
        &["--allow-destructive"],
        &[("SMCP_TEST_HOLDS_TOKEN", &format!("prefix-{TOKEN}"))],
    )
    .await;
    let cases = [
        (json!({}), "nothing to change"),
        (json!({"config": {"site_ur": "x"}}), "site_url"),
        (
            json!({"config": {"smtp_pass": "plain-secret-value"}}),
            "values_from",
        ),
        (
            json!({"config": {"disable_signup": "yes"}}),
            "disable_signup",
        ),
        (json!({"config": {"jwt_exp": null}}), "null"),
        (json!({"config": {"site_url": "a,b"}}), "pattern"),
        (
            json!({"values_from": {"smtp_pass": "plain"}}),
            "env:VARIABLE",
        ),
        (
            json!({"values_from": {"jwt_exp": "env:X"}}),
            "not a text field",
        ),
        (
            json!({"values_from": {"smtp_pass": "env:SMCP_TEST_UNSET_VARIABLE"}}),
            "not set",
        ),
        (
            json!({"values_from": {"smtp_pass": "file:/nonexistent/file"}}),
            "cannot read",
        ),
        (
            json!({"values_from": {"smtp_pass": "env:SMCP_TEST_HOLDS_TOKEN"}}),
            "own credentials",
        ),
    ];
    for (args, needle) in cases {
        let r = s.call("update_auth_config", args.clone()).await;
        assert_eq!(error_code(&r), "invalid_arguments", "{args}: {r}");
        assert!(text(&r).contains(needle), "{args}: {}", text(&r));
        assert!(text(&r).contains("Suggestion:"), "{}", text(&r));
        assert_absent(&r, &["plain-secret-value", TOKEN]);
    }
    assert!(requests(&mock).await.is_empty());
    let audit = std::fs::read_to_string(s.data_path().join("audit.jsonl")).unwrap();
    assert!(audit.contains("update_auth_config"), "{audit}");
    assert!(
        !audit.contains("plain-secret-value"),
        "the audit log shows a secret: {audit}"
    );
}

// ---------------------------------------------------------------------------
// Data API, pooler, SSL

#[tokio::test(flavor = "multi_thread")]
async fn data_api_settings_hide_the_jwt_secret_and_changes_send_only_what_is_given() {
    let mock = MockServer::start().await;
    mount(
        &mock,
        "GET",
        &p("/postgrest"),
        json200(json!({"db_schema": "public, graphql_public", "max_rows": 1000,
            "db_extra_search_path": "public, extensions", "db_pool": null, "jwt_secret": JWT_SECRET})),
    )
    .await;
    mount(
        &mock,
        "PATCH",
        &p("/postgrest"),
        json200(json!({"db_schema": "public,api", "max_rows": 500,
            "db_extra_search_path": "public, extensions", "db_pool": null})),
    )
    .await;
    let mut s = start(&mock, true, &[]).await;
    let r = s.call("get_postgrest_config", json!({})).await;
    let d = ok(&r);
    assert_absent(&r, &[JWT_SECRET]);
    assert_eq!(d["jwt_secret"], "(hidden)");
    assert_eq!(d["exposed_schemas"], json!(["public", "graphql_public"]));
    assert_eq!(d["db_pool"], Value::Null);
    check(&requests(&mock).await[0], "v1-get-postgrest-service-config");

    let (first, second) = confirmed(
        &mut s,
        "update_postgrest_config",
        json!({"db_schema": "public, api", "max_rows": 500}),
    )
    .await;
    let action = data(&first)["action"].as_str().unwrap();
    assert!(action.contains("exposed schemas → public,api"), "{action}");
    let d = ok(&second);
    assert_eq!(d["now"]["max_rows"], 500);
    let reqs = requests(&mock).await;
    assert_eq!(reqs.len(), 2);
    check(&reqs[1], "v1-update-postgrest-service-config");
    assert_eq!(
        body(&reqs[1]),
        json!({"db_schema": "public,api", "max_rows": 500})
    );

    // Exposing an internal schema is allowed, loudly.
    let (first, second) = confirmed(
        &mut s,
        "update_postgrest_config",
        json!({"db_schema": "public,auth"}),
    )
    .await;
    assert!(data(&first)["action"].as_str().unwrap().contains("WARNING"));
    assert!(warnings(&second).contains("auth"), "{second}");
    for bad in [
        json!({}),
        json!({"max_rows": 1000001}),
        json!({"db_pool": 0}),
        json!({"db_schema": "my schema"}),
        json!({"db_schema": ""}),
    ] {
        let r = s.call("update_postgrest_config", bad.clone()).await;
        assert_eq!(error_code(&r), "invalid_arguments", "{bad}: {r}");
    }
    assert_eq!(requests(&mock).await.len(), 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn pooler_settings_are_read_and_changed() {
    let mock = MockServer::start().await;
    mount(
        &mock,
        "GET",
        &p("/config/database/pooler"),
        json200(json!([{
            "identifier": PROJECT, "database_type": "PRIMARY", "is_using_scram_auth": true,
            "db_user": format!("postgres.{PROJECT}"), "db_host": "aws-0-eu-central-1.pooler.supabase.com",
            "db_port": 6543, "db_name": "postgres",
            "connection_string": format!("postgresql://postgres.{PROJECT}:real-password-distinctive@aws-0-eu-central-1.pooler.supabase.com:6543/postgres"),
            "default_pool_size": 15, "max_client_conn": 200, "pool_mode": "transaction"
        }])),
    )
    .await;
    mount(
        &mock,
        "PATCH",
        &p("/config/database/pooler"),
        json200(json!({"default_pool_size": 30, "pool_mode": "session"})),
    )
    .await;
    let mut s = start(&mock, true, &[]).await;
    let r = s.call("get_pooler_config", json!({})).await;
    let d = ok(&r);
    assert_absent(&r, &["real-password-distinctive"]);
    assert_eq!(d["databases"][0]["pool_mode"], "transaction");
    assert_eq!(d["databases"][0]["default_pool_size"], 15);
    assert!(
        d["databases"][0]["connection_string"]
            .as_str()
            .unwrap()
            .contains("***@"),
        "{d}"
    );
    let (first, second) = confirmed(
        &mut s,
        "update_pooler_config",
        json!({"default_pool_size": 30, "pool_mode": "session"}),
    )
    .await;
    assert!(
        data(&first)["action"]
            .as_str()
            .unwrap()
            .contains("pool mode → session")
    );
    let d = ok(&second);
    assert_eq!(d["now"]["default_pool_size"], 30);
    assert!(warnings(&second).contains("session mode"), "{second}");
    let reqs = requests(&mock).await;
    check(&reqs[0], "v1-get-pooler-config");
    check(&reqs[1], "v1-update-pooler-config");
    assert_eq!(
        body(&reqs[1]),
        json!({"default_pool_size": 30, "pool_mode": "session"})
    );
    for bad in [
        json!({}),
        json!({"default_pool_size": 0}),
        json!({"default_pool_size": 3001}),
        json!({"pool_mode": "statement"}),
    ] {
        let r = s.call("update_pooler_config", bad.clone()).await;
        assert_eq!(error_code(&r), "invalid_arguments", "{bad}: {r}");
    }
    assert_eq!(requests(&mock).await.len(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn ssl_enforcement_is_read_and_set() {
    let mock = MockServer::start().await;
    mount(
        &mock,
        "GET",
        &p("/ssl-enforcement"),
        json200(json!({"currentConfig": {"database": false}, "appliedSuccessfully": true})),
    )
    .await;
    mount(
        &mock,
        "PUT",
        &p("/ssl-enforcement"),
        json200(json!({"currentConfig": {"database": true}, "appliedSuccessfully": false})),
    )
    .await;
    let mut s = start(&mock, true, &[]).await;
    let r = s.call("get_ssl_enforcement", json!({})).await;
    assert_eq!(ok(&r)["enforced"], false);
    assert!(warnings(&r).contains("without SSL"), "{r}");
    let (first, second) =
        confirmed(&mut s, "update_ssl_enforcement", json!({"enforced": true})).await;
    assert!(
        data(&first)["action"]
            .as_str()
            .unwrap()
            .starts_with("require SSL")
    );
    let d = ok(&second);
    assert_eq!(d["enforced"], true);
    assert_eq!(d["applied"], false);
    assert!(warnings(&second).contains("sslmode=disable"), "{second}");
    let reqs = requests(&mock).await;
    check(&reqs[0], "v1-get-ssl-enforcement-config");
    check(&reqs[1], "v1-update-ssl-enforcement-config");
    assert_eq!(
        body(&reqs[1]),
        json!({"requestedConfig": {"database": true}})
    );
    let r = s.call("update_ssl_enforcement", json!({})).await;
    assert_eq!(error_code(&r), "invalid_arguments", "{r}");
}

// ---------------------------------------------------------------------------
// Network restrictions

fn restrictions(v4: Value, v6: Value, status: &str) -> Value {
    json!({"entitlement": "allowed", "status": status,
        "config": {"dbAllowedCidrs": v4, "dbAllowedCidrsV6": v6},
        "updated_at": "2025-05-01T10:00:00Z"})
}

#[tokio::test(flavor = "multi_thread")]
async fn network_restrictions_are_explained() {
    let mock = MockServer::start().await;
    mount(
        &mock,
        "GET",
        &p("/network-restrictions"),
        json200(restrictions(json!([]), json!([]), "stored")),
    )
    .await;
    let mut s = start(&mock, true, &[]).await;
    let r = s.call("get_network_restrictions", json!({})).await;
    let d = ok(&r);
    assert_eq!(d["status"], "stored");
    assert!(
        d["meaning"]
            .as_str()
            .unwrap()
            .contains("every address may connect"),
        "{d}"
    );
    check(&requests(&mock).await[0], "v1-get-network-restrictions");
}

#[tokio::test(flavor = "multi_thread")]
async fn replacing_the_allow_list_sends_both_families_and_warns() {
    let mock = MockServer::start().await;
    mount(
        &mock,
        "POST",
        &p("/network-restrictions/apply"),
        ResponseTemplate::new(201).set_body_json(restrictions(
            json!(["203.0.113.0/24"]),
            json!([]),
            "stored",
        )),
    )
    .await;
    let mut s = start(&mock, true, &[]).await;
    let (first, second) = confirmed(
        &mut s,
        "update_network_restrictions",
        json!({"allowed_cidrs": ["203.0.113.0/24", " 203.0.113.0/24"]}),
    )
    .await;
    let action = data(&first)["action"].as_str().unwrap();
    assert!(
        action.contains("203.0.113.0/24") && action.contains("WARNING"),
        "{action}"
    );
    assert!(action.contains("IPv6"), "{action}");
    let d = ok(&second);
    assert_eq!(d["allowed_cidrs_v4"], json!(["203.0.113.0/24"]));
    assert!(
        warnings(&second).contains("IPv6 range is allowed"),
        "{second}"
    );
    let reqs = requests(&mock).await;
    assert_eq!(reqs.len(), 1);
    check(&reqs[0], "v1-update-network-restrictions");
    assert_eq!(
        body(&reqs[0]),
        json!({"dbAllowedCidrs": ["203.0.113.0/24"], "dbAllowedCidrsV6": []}),
        "an empty family is sent as an empty list"
    );

    // An empty list is refused unless deny_all says so, and then it is loud.
    let r = s
        .call("update_network_restrictions", json!({"allowed_cidrs": []}))
        .await;
    assert_eq!(error_code(&r), "invalid_arguments", "{r}");
    assert!(text(&r).contains("0.0.0.0/0"), "{}", text(&r));
    let r = s
        .call(
            "update_network_restrictions",
            json!({"allowed_cidrs": [], "deny_all": true}),
        )
        .await;
    assert_eq!(status(&r), "confirmation_required", "{r}");
    assert!(
        data(&r)["action"]
            .as_str()
            .unwrap()
            .starts_with("REFUSE EVERY DATABASE CONNECTION"),
        "{r}"
    );
    assert_eq!(requests(&mock).await.len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn adding_and_removing_ranges_reads_the_list_first() {
    let mock = MockServer::start().await;
    mount(
        &mock,
        "GET",
        &p("/network-restrictions"),
        json200(restrictions(
            json!(["203.0.113.0/24"]),
            json!(["2001:db8::/32"]),
            "applied",
        )),
    )
    .await;
    mount(
        &mock,
        "PATCH",
        &p("/network-restrictions"),
        json200(json!({"entitlement": "allowed", "status": "stored",
        "config": {"dbAllowedCidrs": [
            {"address": "198.51.100.7/32", "type": "v4"},
            {"address": "2001:db8::/32", "type": "v6"}
        ]}})),
    )
    .await;
    let mut s = start(&mock, true, &["--allow-destructive"]).await;
    let r = s
        .call(
            "update_network_restrictions",
            json!({"add": ["198.51.100.7/32"], "remove": ["203.0.113.0/24", "192.0.2.0/24"]}),
        )
        .await;
    let d = ok(&r);
    assert_eq!(d["allowed_cidrs_v4"], json!(["198.51.100.7/32"]));
    assert_eq!(d["allowed_cidrs_v6"], json!(["2001:db8::/32"]));
    assert!(warnings(&r).contains("192.0.2.0/24"), "{r}");
    let reqs = requests(&mock).await;
    assert_eq!(reqs.len(), 2);
    check(&reqs[0], "v1-get-network-restrictions");
    check(&reqs[1], "v1-patch-network-restrictions");
    assert_eq!(
        body(&reqs[1]),
        json!({"add": {"dbAllowedCidrs": ["198.51.100.7/32"]},
               "remove": {"dbAllowedCidrs": ["203.0.113.0/24"]}})
    );
    // Removing everything is a lock-out: refused after reading the list.
    let r = s
        .call(
            "update_network_restrictions",
            json!({"remove": ["203.0.113.0/24", "2001:db8::/32"]}),
        )
        .await;
    assert_eq!(error_code(&r), "invalid_arguments", "{r}");
    assert!(text(&r).contains("every connection"), "{}", text(&r));
    assert_eq!(requests(&mock).await.len(), 3, "only the read");
}

#[tokio::test(flavor = "multi_thread")]
async fn cidr_ranges_are_validated_before_any_request() {
    let mock = MockServer::start().await;
    let mut s = start(&mock, true, &["--allow-destructive"]).await;
    let cases = [
        (
            json!({"allowed_cidrs": ["203.0.113.7"]}),
            "no prefix length",
        ),
        (json!({"allowed_cidrs": ["203.0.113.0/33"]}), "above 32"),
        (json!({"allowed_cidrs": ["2001:db8::/129"]}), "above 128"),
        (
            json!({"allowed_cidrs": ["300.0.0.1/8"]}),
            "IPv4 or IPv6 address",
        ),
        (
            json!({"allowed_cidrs": ["example.com/24"]}),
            "IPv4 or IPv6 address",
        ),
        (json!({"add": ["10.0.0.0/x"]}), "not a number"),
        (
            json!({"allowed_cidrs": ["0.0.0.0/0"], "add": ["1.2.3.4/32"]}),
            "cannot be combined",
        ),
        (
            json!({"add": ["1.2.3.4/32"], "remove": ["1.2.3.4/32"]}),
            "both add and remove",
        ),
        (json!({}), "nothing to change"),
        (
            json!({"allowed_cidrs": ["1.2.3.4/32"], "deny_all": true}),
            "deny_all",
        ),
    ];
    for (args, needle) in cases {
        let r = s.call("update_network_restrictions", args.clone()).await;
        assert_eq!(error_code(&r), "invalid_arguments", "{args}: {r}");
        assert!(text(&r).contains(needle), "{args}: {}", text(&r));
    }
    assert!(requests(&mock).await.is_empty());
}

// ---------------------------------------------------------------------------
// Function secrets

#[tokio::test(flavor = "multi_thread")]
async fn secrets_are_listed_by_name_only() {
    let mock = MockServer::start().await;
    mount(
        &mock,
        "GET",
        &p("/secrets"),
        json200(json!([
            {"name": "STRIPE_KEY", "value": "digest-distinctive-0001", "updated_at": "2025-05-01T10:00:00Z"},
            {"name": "OPENAI_KEY", "value": FN_SECRET}
        ])),
    )
    .await;
    let mut s = start(&mock, true, &[]).await;
    let r = s.call("list_secrets", json!({})).await;
    let d = ok(&r);
    assert_absent(&r, &["digest-distinctive-0001", FN_SECRET]);
    assert_eq!(d["count"], 2);
    assert_eq!(
        d["secrets"][0],
        json!({"name": "OPENAI_KEY", "updated_at": null})
    );
    assert_eq!(d["secrets"][1]["name"], "STRIPE_KEY");
    check(&requests(&mock).await[0], "v1-list-all-secrets");
}

#[tokio::test(flavor = "multi_thread")]
async fn set_secrets_reads_values_on_the_server_and_never_echoes_them() {
    let mock = MockServer::start().await;
    mount(
        &mock,
        "GET",
        &p("/secrets"),
        json200(json!([{"name": "FROM_ENV", "value": "digest"}])),
    )
    .await;
    mount(&mock, "POST", &p("/secrets"), ResponseTemplate::new(201)).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("webhook");
    std::fs::write(&file, format!("{FN_SECRET}\n")).unwrap();
    let mut s = start_env(
        &mock,
        &[],
        &[("SMCP_TEST_FN_SECRET", "env-secret-value-distinctive")],
    )
    .await;
    let r = s
        .call(
            "set_secrets",
            json!({"secrets": [
                {"name": "FROM_ENV", "value_env": "SMCP_TEST_FN_SECRET"},
                {"name": "FROM_FILE", "value_file": file.display().to_string()},
                {"name": "GIVEN", "value": "given-value-distinctive"}
            ]}),
        )
        .await;
    let d = ok(&r);
    assert_absent(
        &r,
        &[
            "env-secret-value-distinctive",
            FN_SECRET,
            "given-value-distinctive",
            "[redacted]",
        ],
    );
    assert_eq!(
        d["secrets"],
        json!([
            {"name": "FROM_ENV", "source": "env", "action": "updated"},
            {"name": "FROM_FILE", "source": "file", "action": "created"},
            {"name": "GIVEN", "source": "value", "action": "created"}
        ])
    );
    assert!(warnings(&r).contains("overwritten"), "{r}");
    let reqs = requests(&mock).await;
    assert_eq!(reqs.len(), 2);
    check(&reqs[0], "v1-list-all-secrets");
    check(&reqs[1], "v1-bulk-create-secrets");
    assert_eq!(
        body(&reqs[1]),
        json!([
            {"name": "FROM_ENV", "value": "env-secret-value-distinctive"},
            {"name": "FROM_FILE", "value": FN_SECRET},
            {"name": "GIVEN", "value": "given-value-distinctive"}
        ])
    );
    let audit = std::fs::read_to_string(s.data_path().join("audit.jsonl")).unwrap();
    assert!(audit.contains("set_secrets"), "{audit}");
    for v in ["given-value-distinctive", "env-secret-value-distinctive"] {
        assert!(!audit.contains(v), "the audit log shows a secret: {audit}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn secret_values_are_checked_before_any_request() {
    let mock = MockServer::start().await;
    let mut s = start_env(
        &mock,
        &[],
        &[("SMCP_TEST_HOLDS_TOKEN", &format!("Bearer {TOKEN}"))],
    )
    .await;
    let cases = [
        (json!({"secrets": []}), "empty"),
        (
            json!({"secrets": [{"name": "SUPABASE_URL", "value": "x1234"}]}),
            "reserves",
        ),
        (
            json!({"secrets": [{"name": "A B", "value": "x1234"}]}),
            "spaces",
        ),
        (json!({"secrets": [{"name": "A"}]}), "no value source"),
        (
            json!({"secrets": [{"name": "A", "value": "x1234", "value_env": "B"}]}),
            "more than one",
        ),
        (json!({"secrets": [{"name": "A", "value": ""}]}), "empty"),
        (
            json!({"secrets": [{"name": "A", "value_env": "SMCP_TEST_UNSET_VARIABLE"}]}),
            "not set",
        ),
        (
            json!({"secrets": [{"name": "A", "value_file": "/nonexistent/secret"}]}),
            "cannot read",
        ),
        (
            json!({"secrets": [{"name": "A", "value_env": "SMCP_TEST_HOLDS_TOKEN"}]}),
            "own credentials",
        ),
        (
            json!({"secrets": [{"name": "A", "value": TOKEN}]}),
            "own credentials",
        ),
        (
            json!({"secrets": [{"name": "A", "value": "x".repeat(24_577)}]}),
            "longer than 24576",
        ),
    ];
    for (args, needle) in cases {
        let r = s.call("set_secrets", args.clone()).await;
        assert_eq!(error_code(&r), "invalid_arguments", "{args}: {r}");
        assert!(text(&r).contains(needle), "{needle}: {}", text(&r));
        assert_absent(&r, &[TOKEN]);
    }
    assert!(requests(&mock).await.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn deleting_secrets_is_confirmed_and_skips_unknown_names() {
    let mock = MockServer::start().await;
    mount(
        &mock,
        "GET",
        &p("/secrets"),
        json200(json!([{"name": "OLD_KEY", "value": "d"}, {"name": "KEEP", "value": "d"}])),
    )
    .await;
    mount(&mock, "DELETE", &p("/secrets"), ResponseTemplate::new(200)).await;
    let mut s = start(&mock, true, &[]).await;
    let (first, second) = confirmed(
        &mut s,
        "delete_secrets",
        json!({"names": ["OLD_KEY", "NOPE"]}),
    )
    .await;
    let action = data(&first)["action"].as_str().unwrap();
    assert!(action.contains("OLD_KEY, NOPE"), "{action}");
    let d = ok(&second);
    assert_eq!(d["deleted"], json!(["OLD_KEY"]));
    assert_eq!(d["not_found"], json!(["NOPE"]));
    let reqs = requests(&mock).await;
    assert_eq!(reqs.len(), 2);
    check(&reqs[1], "v1-bulk-delete-secrets");
    assert_eq!(body(&reqs[1]), json!(["OLD_KEY"]));
    // Nothing to delete: not found, and no DELETE sent.
    let (_, r) = confirmed(&mut s, "delete_secrets", json!({"names": ["NOPE"]})).await;
    assert_eq!(error_code(&r), "not_found", "{r}");
    assert_eq!(requests(&mock).await.len(), 3);
    let r = s.call("delete_secrets", json!({"names": []})).await;
    assert_eq!(error_code(&r), "invalid_arguments", "{r}");
}

// ---------------------------------------------------------------------------
// API keys

fn keys() -> Value {
    json!([
        {"id": "anon", "name": "anon", "type": "legacy", "api_key": "eyJhbGciOiJIUzI1NiJ9.eyJyb2xlIjoiYW5vbiJ9.c2ln"},
        {"id": "service_role", "name": "service_role", "type": "legacy", "api_key": SERVICE_ROLE},
        {"id": "9f0e", "name": "default", "type": "publishable", "api_key": "sb_publishable_abc123def456",
         "inserted_at": "2025-05-01T10:00:00Z"},
        {"id": KEY_ID, "name": "worker", "type": "secret", "api_key": SECRET_KEY, "description": "backend"}
    ])
}

#[tokio::test(flavor = "multi_thread")]
async fn api_keys_are_listed_with_secret_keys_masked() {
    let mock = MockServer::start().await;
    mount(&mock, "GET", &p("/api-keys"), json200(keys())).await;
    let mut s = start(&mock, true, &[]).await;
    let r = s.call("list_api_keys", json!({})).await;
    let d = ok(&r);
    assert_absent(&r, &[SERVICE_ROLE, SECRET_KEY]);
    let k = &d["keys"];
    assert_eq!(
        k[0]["api_key"],
        "eyJhbGciOiJIUzI1NiJ9.eyJyb2xlIjoiYW5vbiJ9.c2ln"
    );
    assert_eq!(k[0]["masked"], false);
    assert_eq!(k[1]["api_key"], "eyJhbG…");
    assert_eq!(k[1]["masked"], true);
    assert_eq!(k[2]["api_key"], "sb_publishable_abc123def456");
    assert_eq!(k[3]["api_key"], "sb_sec…");
    assert_eq!(k[3]["description"], "backend");
    assert!(d["note"].as_str().unwrap().contains("/settings/api-keys"));
    let reqs = requests(&mock).await;
    check(&reqs[0], "v1-get-project-api-keys");
    assert_eq!(reqs[0].url.query(), None, "never asks to reveal");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_new_secret_key_is_never_shown() {
    let mock = MockServer::start().await;
    mount(
        &mock,
        "POST",
        &p("/api-keys"),
        ResponseTemplate::new(201).set_body_json(json!({
            "id": KEY_ID, "name": "backend_worker", "type": "secret", "api_key": SECRET_KEY
        })),
    )
    .await;
    let mut s = start(&mock, true, &[]).await;
    let r = s
        .call(
            "create_api_key",
            json!({"type": "secret", "name": "backend_worker", "description": "jobs"}),
        )
        .await;
    let d = ok(&r);
    assert_absent(&r, &[SECRET_KEY]);
    assert_eq!(d["key"]["api_key"], "sb_sec…");
    assert!(
        d["next_step"]
            .as_str()
            .unwrap()
            .contains("dashboard/project")
    );
    let reqs = requests(&mock).await;
    check(&reqs[0], "v1-create-project-api-key");
    assert_eq!(reqs[0].url.query(), None);
    assert_eq!(
        body(&reqs[0]),
        json!({"type": "secret", "name": "backend_worker", "description": "jobs"})
    );
    for bad in [
        json!({"type": "secret", "name": "abc"}),
        json!({"type": "secret", "name": "Backend"}),
        json!({"type": "admin", "name": "backend"}),
    ] {
        let r = s.call("create_api_key", bad.clone()).await;
        assert_eq!(error_code(&r), "invalid_arguments", "{bad}: {r}");
    }
    assert_eq!(requests(&mock).await.len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn deleting_an_api_key_is_confirmed() {
    let mock = MockServer::start().await;
    mount(
        &mock,
        "DELETE",
        &p(&format!("/api-keys/{KEY_ID}")),
        json200(json!({"id": KEY_ID, "name": "worker", "type": "secret", "api_key": SECRET_KEY})),
    )
    .await;
    let mut s = start(&mock, true, &[]).await;
    let r = s
        .call("delete_api_key", json!({"id": "service_role"}))
        .await;
    assert_eq!(error_code(&r), "invalid_arguments", "{r}");
    let (first, second) = confirmed(
        &mut s,
        "delete_api_key",
        json!({"id": KEY_ID, "was_compromised": true, "reason": "leaked in CI logs"}),
    )
    .await;
    assert!(data(&first)["action"].as_str().unwrap().contains(KEY_ID));
    let d = ok(&second);
    assert_absent(&second, &[SECRET_KEY]);
    assert_eq!(d["deleted"]["name"], "worker");
    assert!(warnings(&second).contains("get_logs"), "{second}");
    let reqs = requests(&mock).await;
    assert_eq!(reqs.len(), 1, "nothing sent before the confirmation");
    check(&reqs[0], "v1-delete-project-api-key");
    let mut q = query(&reqs[0]);
    q.sort();
    assert_eq!(
        q,
        vec![
            ("reason".to_owned(), "leaked in CI logs".to_owned()),
            ("was_compromised".to_owned(), "true".to_owned()),
        ]
    );
}

// ---------------------------------------------------------------------------
// Failures

fn every_call() -> Vec<(&'static str, Value)> {
    vec![
        ("get_project_health", json!({})),
        ("get_upgrade_status", json!({})),
        ("get_custom_hostname", json!({})),
        ("get_auth_config", json!({})),
        (
            "update_auth_config",
            json!({"config": {"site_url": "https://app.example.com"}}),
        ),
        ("get_postgrest_config", json!({})),
        ("update_postgrest_config", json!({"max_rows": 500})),
        ("get_pooler_config", json!({})),
        ("update_pooler_config", json!({"default_pool_size": 20})),
        ("get_network_restrictions", json!({})),
        (
            "update_network_restrictions",
            json!({"allowed_cidrs": ["203.0.113.0/24", "::/0"]}),
        ),
        ("get_ssl_enforcement", json!({})),
        ("update_ssl_enforcement", json!({"enforced": true})),
        ("list_secrets", json!({})),
        (
            "set_secrets",
            json!({"secrets": [{"name": "A_KEY", "value": "value-1234"}]}),
        ),
        ("delete_secrets", json!({"names": ["A_KEY"]})),
        ("list_api_keys", json!({})),
        (
            "create_api_key",
            json!({"type": "secret", "name": "backend_worker"}),
        ),
        ("delete_api_key", json!({"id": KEY_ID})),
    ]
}

/// Every tool, answered with `template`, fails with `code` and `needle`.
async fn expect_failure(template: ResponseTemplate, code: &str, needle: &str) {
    let mock = MockServer::start().await;
    Mock::given(any()).respond_with(template).mount(&mock).await;
    let mut s = start(&mock, true, &["--allow-destructive"]).await;
    let calls = every_call();
    assert_eq!(calls.len(), TOOLS.len());
    for (tool, args) in calls {
        let r = s.call(tool, args).await;
        if code == "not_found" && tool == "get_custom_hostname" {
            // A project without a custom hostname answers 404.
            assert_eq!(ok(&r)["configured"], false, "{r}");
            continue;
        }
        assert!(is_error(&r), "{tool}: {r}");
        assert_eq!(error_code(&r), code, "{tool}: {r}");
        let t = text(&r);
        assert!(t.contains(needle), "{tool}: {t}");
        assert!(t.contains("Suggestion:"), "{tool}: {t}");
        assert_absent(&r, &[TOKEN, JWT_SECRET, SMTP_PASS]);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn unauthorized_is_explained() {
    expect_failure(
        ResponseTemplate::new(401)
            .set_body_json(json!({"message": format!("Invalid token {TOKEN}")})),
        "permission_denied",
        "access token",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn forbidden_is_explained() {
    expect_failure(
        ResponseTemplate::new(403)
            .set_body_json(json!({"message": "Your plan does not include this"})),
        "permission_denied",
        "not allowed",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn not_found_is_explained() {
    expect_failure(
        ResponseTemplate::new(404).set_body_json(json!({"message": "Project not found"})),
        "not_found",
        "Project not found",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn server_errors_are_explained() {
    expect_failure(
        ResponseTemplate::new(500).set_body_string("upstream exploded"),
        "api_error",
        "HTTP 500",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_bodies_are_explained_without_quoting_them() {
    expect_failure(
        ResponseTemplate::new(200).set_body_raw(
            format!("{{\"jwt_secret\": \"{JWT_SECRET}\", \"smtp_pass\": \"{SMTP_PASS}\", "),
            "application/json",
        ),
        "api_error",
        "could not be used",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn answers_of_the_wrong_shape_are_not_quoted() {
    let mock = MockServer::start().await;
    mount(
        &mock,
        "GET",
        &p("/postgrest"),
        json200(json!({"jwt_secret": JWT_SECRET, "max_rows": "many"})),
    )
    .await;
    mount(
        &mock,
        "GET",
        &p("/api-keys"),
        json200(json!({"api_key": SECRET_KEY})),
    )
    .await;
    let mut s = start(&mock, true, &[]).await;
    for tool in ["get_postgrest_config", "list_api_keys"] {
        let r = s.call(tool, json!({})).await;
        assert_eq!(error_code(&r), "api_error", "{tool}: {r}");
        assert_absent(&r, &[JWT_SECRET, SECRET_KEY]);
    }
}
