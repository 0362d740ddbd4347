//! Dokploy client against a mock server: `x-api-key` header, `/api` base
//! path, queries (GET with query parameters) and mutations (POST with a JSON
//! body) matching `specs/dokploy.yaml`, error mapping and scrubbing.

mod api_common;

use api_common::{SECRET, Spec, assert_header, assert_no_header, assert_no_secret, fast_config};
use serde_json::json;
use supabase_mcp::api::generated::dokploy::types;
use supabase_mcp::api::{CallOptions, DokployApi};
use supabase_mcp::result::{ErrorCode, ToolError};
use supabase_mcp::secret::{Redactor, Secret};
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const PREFIX: &str = "/api";

fn api(server: &MockServer) -> DokployApi {
    DokployApi::new(
        &server.uri(),
        &Secret::new(SECRET),
        &fast_config(),
        &Redactor::new(),
    )
    .unwrap()
}

fn check_auth(req: &Request) {
    assert_header(req, "x-api-key", SECRET);
    assert_no_header(req, "authorization");
    assert_no_header(req, "apikey");
}

async fn requests(server: &MockServer) -> Vec<Request> {
    server.received_requests().await.unwrap()
}

#[tokio::test]
async fn project_all_sends_api_key() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/project.all"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([
            {"projectId": "p1", "name": "supabase", "environments": []}
        ])))
        .mount(&server)
        .await;
    let projects = api(&server).idempotent(|c| c.project_all()).await.unwrap();
    assert_eq!(projects[0]["projectId"], "p1");

    let reqs = requests(&server).await;
    assert_eq!(reqs.len(), 1);
    check_auth(&reqs[0]);
    Spec::load("dokploy").check("project-all", &reqs[0], PREFIX);
}

#[tokio::test]
async fn compose_one_sends_the_query_parameter() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/compose.one"))
        .and(query_param("composeId", "cmp_123"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "composeId": "cmp_123", "name": "supabase", "composeStatus": "done"
        })))
        .mount(&server)
        .await;
    let id: types::ComposeOneComposeId = "cmp_123".parse().unwrap();
    let compose = api(&server)
        .idempotent(|c| c.compose_one(&id))
        .await
        .unwrap();
    assert_eq!(compose["composeStatus"], "done");

    let reqs = requests(&server).await;
    check_auth(&reqs[0]);
    Spec::load("dokploy").check("compose_one", &reqs[0], PREFIX);
}

#[tokio::test]
async fn compose_deploy_posts_the_body() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/compose.deploy"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!(true)))
        .mount(&server)
        .await;
    let body = types::ComposeDeployBody {
        compose_id: "cmp_123".parse().unwrap(),
        description: None,
        title: Some("Upgrade to 2025.06".into()),
    };
    let out = api(&server)
        .call_with(CallOptions::once().slow(), |c| c.compose_deploy(&body))
        .await
        .unwrap();
    assert_eq!(out, json!(true));

    let reqs = requests(&server).await;
    check_auth(&reqs[0]);
    Spec::load("dokploy").check("compose-deploy", &reqs[0], PREFIX);
    assert_eq!(
        reqs[0].body_json::<serde_json::Value>().unwrap(),
        json!({"composeId": "cmp_123", "title": "Upgrade to 2025.06"})
    );
}

#[tokio::test]
async fn trpc_error_is_surfaced_and_scrubbed() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(404).set_body_json(json!({
            "message": format!("Compose not found (key {SECRET})"),
            "code": "NOT_FOUND",
            "issues": []
        })))
        .mount(&server)
        .await;
    let id: types::ComposeOneComposeId = "nope".parse().unwrap();
    let err = api(&server)
        .idempotent(|c| c.compose_one(&id))
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(404));
    assert!(err.message().starts_with("Compose not found"));
    assert_no_secret("Display", &err.to_string());
    assert_no_secret("Debug", &format!("{err:?}"));
    let tool = ToolError::from(err);
    assert_eq!(tool.code, ErrorCode::NotFound);
    assert_no_secret("ToolError", &tool.to_text());
}

#[tokio::test]
async fn unauthorized_suggests_the_api_key_setting() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({
            "message": "Unauthorized", "code": "UNAUTHORIZED"
        })))
        .mount(&server)
        .await;
    let err = api(&server)
        .idempotent(|c| c.project_all())
        .await
        .unwrap_err();
    assert!(err.suggestion().contains("DOKPLOY_API_KEY"));
    assert_eq!(ToolError::from(err).code, ErrorCode::PermissionDenied);
}

#[tokio::test]
async fn deploy_is_not_retried_on_503() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(503).set_body_string("Service Unavailable"))
        .mount(&server)
        .await;
    let body = types::ComposeDeployBody {
        compose_id: "cmp_123".parse().unwrap(),
        description: None,
        title: None,
    };
    let err = api(&server)
        .call_with(CallOptions::once().slow(), |c| c.compose_deploy(&body))
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(503));
    assert_eq!(requests(&server).await.len(), 1);
}

#[test]
fn base_url_gets_api_once() {
    let r = Redactor::new();
    let cfg = fast_config();
    let key = Secret::new(SECRET);
    for raw in [
        "https://dokploy.example.com",
        "https://dokploy.example.com/api/",
    ] {
        let api = DokployApi::new(raw, &key, &cfg, &r).unwrap();
        assert_eq!(api.base_url().as_str(), "https://dokploy.example.com/api");
    }
}
