//! Management API client against a mock server: bearer token, requests
//! matching `specs/supabase-management.yaml`, error mapping and scrubbing,
//! retries, timeouts and the multipart function deploy.

mod api_common;

use std::time::Duration;

use api_common::{SECRET, Spec, assert_header, assert_no_secret, fast_config, multipart_parts};
use serde_json::json;
use supabase_mcp::api::generated::management::types;
use supabase_mcp::api::{
    ApiConfig, ApiError, CallOptions, FunctionDeployMetadata, FunctionFile, ManagementApi,
    RetryPolicy,
};
use supabase_mcp::result::{ErrorCode, ToolError};
use supabase_mcp::secret::{Redactor, Secret};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const REF: &str = "abcdefghijklmnopqrst";

fn api(server: &MockServer) -> ManagementApi {
    api_with(server, fast_config())
}

fn api_with(server: &MockServer, config: ApiConfig) -> ManagementApi {
    ManagementApi::new(
        &server.uri(),
        &Secret::new(SECRET),
        &config,
        &Redactor::new(),
    )
    .unwrap()
}

fn project_json() -> serde_json::Value {
    json!({
        "id": REF, "ref": REF, "organization_id": "org", "organization_slug": "acme",
        "name": "demo", "region": "eu-west-1", "created_at": "2024-01-01T00:00:00Z",
        "status": "ACTIVE_HEALTHY",
        "database": {"host": "db.example.supabase.co", "version": "15.6.1",
                     "postgres_engine": "15", "release_channel": "ga"}
    })
}

async fn requests(server: &MockServer) -> Vec<Request> {
    server.received_requests().await.unwrap()
}

fn check_auth(req: &Request) {
    assert_header(req, "authorization", &format!("Bearer {SECRET}"));
    assert!(req.headers.get("apikey").is_none());
}

fn project_ref() -> types::ProjectRef {
    REF.parse().unwrap()
}

#[tokio::test]
async fn list_projects_sends_bearer_token() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/projects"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([project_json()])))
        .mount(&server)
        .await;
    let api = api(&server);
    let projects = api.idempotent(|c| c.v1_list_all_projects()).await.unwrap();
    assert_eq!(projects.len(), 1);
    assert_eq!(projects[0].name, "demo");

    let reqs = requests(&server).await;
    assert_eq!(reqs.len(), 1);
    check_auth(&reqs[0]);
    Spec::load("supabase-management").check("v1_list_all_projects", &reqs[0], "");
}

#[tokio::test]
async fn get_project_and_list_functions_use_the_ref_path() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("/v1/projects/{REF}")))
        .respond_with(ResponseTemplate::new(200).set_body_json(project_json()))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("/v1/projects/{REF}/functions")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([{
            "id": "f1", "slug": "hello", "name": "hello", "status": "ACTIVE", "version": 3,
            "created_at": 1_700_000_000_000_i64, "updated_at": 1_700_000_000_000_i64
        }])))
        .mount(&server)
        .await;
    let api = api(&server);
    let r = project_ref();
    let project = api.idempotent(|c| c.v1_get_project(&r)).await.unwrap();
    assert_eq!(project.ref_.as_str(), REF);
    let functions = api
        .idempotent(|c| c.v1_list_all_functions(&r))
        .await
        .unwrap();
    assert_eq!(functions[0].slug, "hello");

    let spec = Spec::load("supabase-management");
    let reqs = requests(&server).await;
    assert_eq!(reqs.len(), 2);
    for (req, op) in reqs.iter().zip(["v1_get_project", "v1_list_all_functions"]) {
        check_auth(req);
        let params = spec.check(op, req, "");
        assert_eq!(params["ref"], REF);
    }
}

#[tokio::test]
async fn run_query_sends_read_only_body() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(format!("/v1/projects/{REF}/database/query")))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!([{"n": 1}])))
        .mount(&server)
        .await;
    let api = api(&server);
    let r = project_ref();
    let body = types::V1RunQueryBody {
        parameters: vec![],
        query: "select 1 as n".parse().unwrap(),
        read_only: Some(true),
    };
    let rows = api.call(|c| c.v1_run_a_query(&r, &body)).await.unwrap();
    assert_eq!(rows, json!([{"n": 1}]));

    let reqs = requests(&server).await;
    check_auth(&reqs[0]);
    Spec::load("supabase-management").check("v1-run-a-query", &reqs[0], "");
    let sent: serde_json::Value = reqs[0].body_json().unwrap();
    assert_eq!(sent, json!({"query": "select 1 as n", "read_only": true}));
}

#[tokio::test]
async fn error_body_is_surfaced_and_secret_scrubbed() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(404)
                .set_body_json(json!({"message": format!("Project not found (token {SECRET})")})),
        )
        .mount(&server)
        .await;
    let api = api(&server);
    let r = project_ref();
    let err = api.idempotent(|c| c.v1_get_project(&r)).await.unwrap_err();
    assert_eq!(err.status(), Some(404));
    assert!(
        err.message().starts_with("Project not found"),
        "{}",
        err.message()
    );
    assert!(err.message().contains("[redacted]"));
    assert!(err.suggestion().contains("project ref"));
    assert_no_secret("Display", &err.to_string());
    assert_no_secret("Debug", &format!("{err:?}"));
    let tool = ToolError::from(err);
    assert_eq!(tool.code, ErrorCode::NotFound);
    assert_no_secret("ToolError", &tool.to_text());
    assert_no_secret("ToolError JSON", &serde_json::to_string(&tool).unwrap());
    assert!(tool.to_text().contains("Project not found"));
    // Not retried: 404 is final.
    assert_eq!(requests(&server).await.len(), 1);
}

#[tokio::test]
async fn unauthorized_suggests_where_to_get_a_token() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(401).set_body_string(format!(
            "<html><body>Unauthorized: bad token {SECRET}</body></html>"
        )))
        .mount(&server)
        .await;
    let err = api(&server)
        .idempotent(|c| c.v1_list_all_projects())
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(401));
    assert!(err.suggestion().contains("SUPABASE_ACCESS_TOKEN"));
    assert!(
        err.suggestion()
            .contains("supabase.com/dashboard/account/tokens")
    );
    assert!(err.message().contains("Unauthorized"));
    assert_no_secret("Display", &err.to_string());
    let tool = ToolError::from(err);
    assert_eq!(tool.code, ErrorCode::PermissionDenied);
    assert_no_secret("ToolError", &tool.to_text());
}

#[tokio::test]
async fn get_is_retried_after_503() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(503).set_body_string("busy"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([project_json()])))
        .with_priority(2)
        .mount(&server)
        .await;
    let projects = api(&server)
        .idempotent(|c| c.v1_list_all_projects())
        .await
        .unwrap();
    assert_eq!(projects.len(), 1);
    let reqs = requests(&server).await;
    assert_eq!(reqs.len(), 2);
    for req in &reqs {
        Spec::load("supabase-management").check("v1_list_all_projects", req, "");
    }
}

#[tokio::test]
async fn retry_after_zero_on_429_is_honoured() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("retry-after", "0")
                .set_body_json(json!({"message": "Too many requests"})),
        )
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([])))
        .with_priority(2)
        .mount(&server)
        .await;
    // A long backoff would make the test slow: Retry-After 0 must win.
    let config = fast_config().with_retry(RetryPolicy {
        initial_backoff: Duration::from_secs(20),
        max_backoff: Duration::from_secs(20),
        ..RetryPolicy::default()
    });
    let started = std::time::Instant::now();
    let projects = api_with(&server, config)
        .idempotent(|c| c.v1_list_all_projects())
        .await
        .unwrap();
    assert!(projects.is_empty());
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(requests(&server).await.len(), 2);
}

#[tokio::test]
async fn post_is_not_retried() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(503).set_body_json(json!({"message": "busy"})))
        .mount(&server)
        .await;
    let r = project_ref();
    let body = types::V1RunQueryBody {
        parameters: vec![],
        query: "select 1".parse().unwrap(),
        read_only: None,
    };
    let err = api(&server)
        .call(|c| c.v1_run_a_query(&r, &body))
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(503));
    assert_eq!(err.message(), "busy");
    assert!(err.suggestion().contains("retry later"));
    let reqs = requests(&server).await;
    assert_eq!(reqs.len(), 1);
    Spec::load("supabase-management").check("v1_run_a_query", &reqs[0], "");
}

#[tokio::test]
async fn post_marked_idempotent_is_retried() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!([])))
        .with_priority(2)
        .mount(&server)
        .await;
    let r = project_ref();
    let body = types::V1ReadOnlyQueryBody {
        parameters: vec![],
        query: "select 1".parse().unwrap(),
    };
    let rows = api(&server)
        .call_with(CallOptions::idempotent(), |c| {
            c.v1_read_only_query(&r, &body)
        })
        .await
        .unwrap();
    assert_eq!(rows, json!([]));
    let reqs = requests(&server).await;
    assert_eq!(reqs.len(), 2);
    Spec::load("supabase-management").check("v1-read-only-query", &reqs[1], "");
}

#[tokio::test]
async fn gives_up_after_max_attempts() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(503).set_body_json(json!({"message": "maintenance"})))
        .mount(&server)
        .await;
    let err = api(&server)
        .idempotent(|c| c.v1_list_all_projects())
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(503));
    assert_eq!(err.message(), "maintenance");
    assert_eq!(requests(&server).await.len(), 3);
    assert_eq!(ToolError::from(err).code, ErrorCode::ApiError);
}

#[tokio::test]
async fn slow_answer_times_out() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!([]))
                .set_delay(Duration::from_secs(3)),
        )
        .mount(&server)
        .await;
    let config = fast_config().with_timeout(Duration::from_millis(200));
    let err = api_with(&server, config)
        .idempotent(|c| c.v1_list_all_projects())
        .await
        .unwrap_err();
    assert!(matches!(err, ApiError::Timeout { .. }), "{err:?}");
    assert_eq!(ToolError::from(err).code, ErrorCode::Timeout);
}

#[tokio::test]
async fn unreachable_service_is_a_connection_error() {
    // Bind and drop a listener to get a port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let api = ManagementApi::new(
        &format!("http://127.0.0.1:{port}"),
        &Secret::new(SECRET),
        &fast_config(),
        &Redactor::new(),
    )
    .unwrap();
    let err = api
        .idempotent(|c| c.v1_list_all_projects())
        .await
        .unwrap_err();
    assert!(matches!(err, ApiError::Connection { .. }), "{err:?}");
    assert!(err.suggestion().contains("URL"));
    assert_eq!(ToolError::from(err).code, ErrorCode::ConnectionFailed);
}

#[tokio::test]
async fn deploy_function_sends_multipart_metadata_and_files() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(format!("/v1/projects/{REF}/functions/deploy")))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({
            "id": "f1", "slug": "hello-world", "name": "Hello", "status": "ACTIVE", "version": 1
        })))
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let util_path = dir.path().join("util.ts");
    std::fs::write(&util_path, "export const x = 1;\n").unwrap();
    let files = vec![
        FunctionFile::new("index.ts", "Deno.serve(() => new Response('hi'));\n"),
        FunctionFile::read("lib/util.ts", &util_path).await.unwrap(),
    ];
    let metadata = FunctionDeployMetadata {
        entrypoint_path: "index.ts".into(),
        verify_jwt: Some(true),
        name: Some("Hello".into()),
        ..Default::default()
    };
    let out = api(&server)
        .deploy_function(REF, "hello-world", &metadata, &files)
        .await
        .unwrap();
    assert_eq!(out["version"], 1);

    let reqs = requests(&server).await;
    assert_eq!(reqs.len(), 1);
    let req = &reqs[0];
    check_auth(req);
    assert_eq!(
        req.url.query_pairs().collect::<Vec<_>>(),
        vec![("slug".into(), "hello-world".into())]
    );
    let content_type = req.headers["content-type"].to_str().unwrap();
    assert!(
        content_type.starts_with("multipart/form-data; boundary="),
        "{content_type}"
    );
    let parts = multipart_parts(content_type, &req.body);
    assert_eq!(parts.len(), 3);
    assert!(parts[0].0.contains("name=\"metadata\""), "{}", parts[0].0);
    let meta: serde_json::Value = serde_json::from_slice(&parts[0].1).unwrap();
    assert_eq!(
        meta,
        json!({"entrypoint_path": "index.ts", "verify_jwt": true, "name": "Hello"})
    );
    assert!(
        parts[1].0.contains("name=\"file\"; filename=\"index.ts\""),
        "{}",
        parts[1].0
    );
    assert_eq!(parts[1].1, b"Deno.serve(() => new Response('hi'));\n");
    assert!(
        parts[2].0.contains("filename=\"lib/util.ts\""),
        "{}",
        parts[2].0
    );
    assert_eq!(parts[2].1, b"export const x = 1;\n");
}

#[tokio::test]
async fn deploy_function_validates_before_sending() {
    let server = MockServer::start().await;
    let api = api(&server);
    let meta = FunctionDeployMetadata {
        entrypoint_path: "index.ts".into(),
        ..Default::default()
    };
    let files = [FunctionFile::new("index.ts", "x")];
    let err = api
        .deploy_function("short", "ok", &meta, &files)
        .await
        .unwrap_err();
    assert_eq!(ToolError::from(err).code, ErrorCode::InvalidArguments);
    let err = api
        .deploy_function(REF, "1bad", &meta, &files)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("slug"));
    let err = api
        .deploy_function(REF, "ok", &meta, &[])
        .await
        .unwrap_err();
    assert!(err.to_string().contains("source file"));
    assert!(requests(&server).await.is_empty());
}

#[tokio::test]
async fn deploy_function_error_is_mapped() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(402)
                .set_body_json(json!({"message": "Maximum number of functions reached for Plan"})),
        )
        .mount(&server)
        .await;
    let meta = FunctionDeployMetadata {
        entrypoint_path: "index.ts".into(),
        ..Default::default()
    };
    let err = api(&server)
        .deploy_function(REF, "hello", &meta, &[FunctionFile::new("index.ts", "x")])
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(402));
    assert!(err.message().contains("Maximum number of functions"));
    assert!(err.suggestion().contains("plan"));
}

#[test]
fn bad_configuration_is_reported_without_the_secret() {
    let r = Redactor::new();
    let err = ManagementApi::new("api.supabase.com", &Secret::new(SECRET), &fast_config(), &r)
        .unwrap_err();
    assert!(err.to_string().contains("not valid"), "{err}");
    let err = ManagementApi::new(
        "https://api.supabase.com",
        &Secret::new(format!("{SECRET}\n\"")),
        &fast_config(),
        &r,
    )
    .unwrap_err();
    assert_no_secret("config error", &err.to_string());
    assert_eq!(ToolError::from(err).code, ErrorCode::NotConfigured);
}

fn fake_request(method: &str, url: &str, body: &str) -> Request {
    let mut headers = reqwest::header::HeaderMap::new();
    if !body.is_empty() {
        headers.insert("content-type", "application/json".parse().unwrap());
    }
    Request {
        url: url.parse().unwrap(),
        method: method.parse().unwrap(),
        headers,
        body: body.as_bytes().to_vec(),
    }
}

#[test]
fn spec_checker_rejects_mismatches() {
    let spec = Spec::load("supabase-management");
    let base = "http://127.0.0.1:1";
    let ok = fake_request(
        "POST",
        &format!("{base}/v1/projects/{REF}/database/query"),
        r#"{"query":"select 1"}"#,
    );
    spec.check("v1_run_a_query", &ok, "");
    let bad = [
        // wrong method
        fake_request(
            "GET",
            &format!("{base}/v1/projects/{REF}/database/query"),
            r#"{"query":"x"}"#,
        ),
        // wrong path
        fake_request(
            "POST",
            &format!("{base}/v1/projects/{REF}/database/queries"),
            r#"{"query":"x"}"#,
        ),
        // undeclared query parameter
        fake_request(
            "POST",
            &format!("{base}/v1/projects/{REF}/database/query?x=1"),
            r#"{"query":"x"}"#,
        ),
        // missing required body property
        fake_request(
            "POST",
            &format!("{base}/v1/projects/{REF}/database/query"),
            r#"{"read_only":true}"#,
        ),
        // property not in the schema
        fake_request(
            "POST",
            &format!("{base}/v1/projects/{REF}/database/query"),
            r#"{"query":"x","readOnly":true}"#,
        ),
        // no body
        fake_request(
            "POST",
            &format!("{base}/v1/projects/{REF}/database/query"),
            "",
        ),
    ];
    for req in bad {
        let result = std::panic::catch_unwind(|| spec.check("v1_run_a_query", &req, ""));
        assert!(
            result.is_err(),
            "accepted {} {} {:?}",
            req.method,
            req.url,
            String::from_utf8_lossy(&req.body)
        );
    }
    // A body where the spec has none.
    let req = fake_request("GET", &format!("{base}/v1/projects"), "{}");
    assert!(std::panic::catch_unwind(|| spec.check("v1_list_all_projects", &req, "")).is_err());
}

#[tokio::test]
async fn redirects_are_not_followed() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/projects"))
        .respond_with(
            ResponseTemplate::new(301)
                .insert_header("location", "https://elsewhere.example/v1/projects"),
        )
        .mount(&server)
        .await;
    let err = api(&server)
        .idempotent(|c| c.v1_list_all_projects())
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(301));
    assert!(
        err.message().contains("elsewhere.example"),
        "{}",
        err.message()
    );
    assert!(err.suggestion().contains("configured URL"));
    assert_eq!(requests(&server).await.len(), 1);
}

/// Tool handlers run on a multi-threaded runtime: the call futures must be
/// `Send`.
#[test]
fn call_futures_are_send() {
    fn assert_send<T: Send>(_: &T) {}
    let api = ManagementApi::new(
        "http://127.0.0.1:1",
        &Secret::new(SECRET),
        &fast_config(),
        &Redactor::new(),
    )
    .unwrap();
    let r = project_ref();
    let fut = api.idempotent(|c| c.v1_get_project(&r));
    assert_send(&fut);
    let files = [FunctionFile::new("index.ts", "x")];
    let meta = FunctionDeployMetadata::default();
    let fut = api.deploy_function(REF, "x", &meta, &files);
    assert_send(&fut);
}
