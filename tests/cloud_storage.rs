//! The cloud `storage` tools (`list_storage_buckets`, `get_storage_config`,
//! `update_storage_config`) against a mock Management API: the exact
//! requests (checked against `specs/supabase-management.yaml`), a settings
//! change confirmed first and sending only the fields given, the checks of
//! the settings object, and every kind of API failure as a tool error.

mod api_common;
mod common;

use common::*;
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const TOKEN: &str = CLOUD_TOKEN;
const PROJECT: &str = CLOUD_PROJECT;
const OTHER: &str = "zyxwvutsrqponmlkjihg";

async fn start(mock: &MockServer, scoped: bool, extra: &[&str]) -> Server {
    start_cloud(&mock.uri(), "storage", scoped, extra).await
}

async fn requests(mock: &MockServer) -> Vec<Request> {
    mock.received_requests().await.unwrap()
}

fn check(req: &Request, op: &str) {
    api_common::Spec::load("supabase-management").check(op, req, "");
    api_common::assert_header(req, "authorization", &format!("Bearer {TOKEN}"));
}

fn ok(r: &Value) -> &Value {
    assert_eq!(status(r), "ok", "{r}");
    data(r)
}

fn config_path(project: &str) -> String {
    format!("/v1/projects/{project}/config/storage")
}

fn storage_config() -> Value {
    json!({
        "fileSizeLimit": 52428800,
        "features": {
            "imageTransformation": {"enabled": true},
            "s3Protocol": {"enabled": false},
            "icebergCatalog": {"enabled": false, "maxNamespaces": 0, "maxTables": 0, "maxCatalogs": 0},
            "vectorBuckets": {"enabled": false, "maxBuckets": 0, "maxIndexes": 0},
        },
        "capabilities": {"list_v2": true, "iceberg_catalog": false},
        "external": {"upstreamTarget": "main"},
        "migrationVersion": "fix-optimized-search-function",
        "databasePoolMode": "recycled",
    })
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

#[tokio::test(flavor = "multi_thread")]
async fn list_storage_buckets_shows_each_bucket() {
    let mock = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("/v1/projects/{PROJECT}/storage/buckets")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([
            {"id": "avatars", "name": "avatars", "owner": "", "public": true,
             "created_at": "2025-01-01T00:00:00Z", "updated_at": "2025-01-02T00:00:00Z"},
            {"id": "invoices", "name": "invoices", "owner": "", "public": false,
             "created_at": "2025-01-01T00:00:00Z", "updated_at": "2025-01-01T00:00:00Z"},
        ])))
        .mount(&mock)
        .await;
    let mut s = start(&mock, true, &[]).await;
    let r = s.call("list_storage_buckets", json!({})).await;
    let d = ok(&r);
    assert!(text(&r).contains("<untrusted-data-"), "{r}");
    assert_eq!(d["project_id"], PROJECT);
    assert_eq!(d["count"], 2);
    assert_eq!(d["public_count"], 1);
    assert_eq!(d["buckets"][0]["name"], "avatars");
    assert_eq!(d["buckets"][0]["public"], true);
    assert_eq!(d["buckets"][1]["public"], false);
    assert_eq!(d["buckets"][1]["updated_at"], "2025-01-01T00:00:00Z");
    let reqs = requests(&mock).await;
    assert_eq!(reqs.len(), 1);
    check(&reqs[0], "v1-list-all-buckets");
    assert_eq!(reqs[0].url.query(), None);
}

#[tokio::test(flavor = "multi_thread")]
async fn get_storage_config_shows_the_limit_and_features() {
    let mock = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(config_path(OTHER)))
        .respond_with(ResponseTemplate::new(200).set_body_json(storage_config()))
        .mount(&mock)
        .await;
    let mut s = start(&mock, false, &[]).await;
    let r = s
        .call("get_storage_config", json!({"project_id": OTHER}))
        .await;
    let d = ok(&r);
    assert_eq!(d["project_id"], OTHER);
    assert_eq!(d["fileSizeLimit"], 52428800);
    assert_eq!(d["fileSizeLimitReadable"], "50 MiB (52428800 bytes)");
    assert_eq!(d["features"]["imageTransformation"]["enabled"], true);
    assert_eq!(d["features"]["s3Protocol"]["enabled"], false);
    assert_eq!(d["external"]["upstreamTarget"], "main");
    let reqs = requests(&mock).await;
    assert_eq!(reqs.len(), 1);
    check(&reqs[0], "v1-get-storage-config");
    assert_eq!(reqs[0].url.path(), config_path(OTHER));
}

/// An answer with only the limit and the two long-standing features (older
/// or newer API versions leave the rest out) still reads.
#[tokio::test(flavor = "multi_thread")]
async fn a_minimal_storage_config_answer_reads() {
    let mock = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(config_path(OTHER)))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "fileSizeLimit": 1048576,
            "features": {"imageTransformation": {"enabled": false}, "s3Protocol": {"enabled": true}}
        })))
        .mount(&mock)
        .await;
    let mut s = start(&mock, false, &[]).await;
    let r = s
        .call("get_storage_config", json!({"project_id": OTHER}))
        .await;
    let d = ok(&r);
    assert_eq!(d["fileSizeLimit"], 1048576, "{d}");
    assert_eq!(d["features"]["s3Protocol"]["enabled"], true, "{d}");
}

#[tokio::test(flavor = "multi_thread")]
async fn update_storage_config_is_confirmed_and_sends_only_the_fields_given() {
    let mock = MockServer::start().await;
    Mock::given(method("PATCH"))
        .and(path(config_path(PROJECT)))
        .respond_with(ResponseTemplate::new(200))
        .mount(&mock)
        .await;
    let mut s = start(&mock, true, &[]).await;
    let cases = [
        (
            json!({"fileSizeLimit": 104857600}),
            json!({"fileSizeLimit": 104857600}),
            "upload size limit → 100 MiB (104857600 bytes)",
        ),
        (
            json!({"features": {"s3Protocol": {"enabled": false}}}),
            json!({"features": {"s3Protocol": {"enabled": false}}}),
            "S3 protocol → off",
        ),
        (
            json!({"fileSizeLimit": 1024, "features": {"imageTransformation": {"enabled": true}, "s3Protocol": {"enabled": true}}}),
            json!({"fileSizeLimit": 1024, "features": {"imageTransformation": {"enabled": true}, "s3Protocol": {"enabled": true}}}),
            "image transformation → on",
        ),
    ];
    for (i, (config, body, change)) in cases.iter().enumerate() {
        let (first, second) =
            confirmed(&mut s, "update_storage_config", json!({"config": config})).await;
        let action = data(&first)["action"].as_str().unwrap();
        assert!(action.contains(change), "{action}");
        assert!(action.contains(PROJECT), "{action}");
        assert_eq!(
            requests(&mock).await.len(),
            i + 1,
            "one request per change: nothing sent for the confirmation"
        );
        let d = ok(&second);
        assert_eq!(d["updated"], *config);
        assert!(
            d["changes"].to_string().contains(change),
            "{}",
            d["changes"]
        );
        let reqs = requests(&mock).await;
        assert_eq!(reqs.len(), i + 1);
        let req = &reqs[i];
        check(req, "v1-update-storage-config");
        let sent: Value = serde_json::from_slice(&req.body).unwrap();
        assert_eq!(sent, *body, "only the fields given");
    }
    let tools = s.tools().await;
    let t = tools
        .iter()
        .find(|t| t["name"] == "update_storage_config")
        .unwrap();
    assert_ne!(t["annotations"]["destructiveHint"], false, "{t}");
    assert!(t["description"].as_str().unwrap().len() < 100);
}

#[tokio::test(flavor = "multi_thread")]
async fn storage_settings_are_checked_before_any_request() {
    let mock = MockServer::start().await;
    let mut s = start(&mock, true, &["--allow-destructive"]).await;
    let cases = [
        (json!({}), "changes nothing"),
        (json!({"features": {}}), "names no feature"),
        (json!({"fileSizeLimit": 0}), "refuse every upload"),
        (
            json!({"fileSizeLimit": 536870912001_u64}),
            "at most 536870912000",
        ),
        (json!({"fileSizeLimit": -5}), "invalid value"),
        (json!({"fileSizeLimit": "50MB"}), "invalid type"),
        (json!({"file_size_limit": 10}), "unknown field"),
        (
            json!({"features": {"imageTransformation": {"enabled": "yes"}}}),
            "invalid type",
        ),
        (
            json!({"features": {"imageTransformation": {}}}),
            "missing field `enabled`",
        ),
        (
            json!({"features": {"icebergCatalog": {"enabled": true}}}),
            "unknown field",
        ),
    ];
    for (config, expect) in &cases {
        let r = s
            .call("update_storage_config", json!({"config": config}))
            .await;
        assert!(is_error(&r), "{config}: {r}");
        assert_eq!(error_code(&r), "invalid_arguments", "{config}: {r}");
        assert!(text(&r).contains(expect), "{config}: {}", text(&r));
        assert!(text(&r).contains("Suggestion:"), "{}", text(&r));
    }
    let r = s.call("update_storage_config", json!({})).await;
    assert_eq!(error_code(&r), "invalid_arguments");
    assert!(text(&r).contains("config"), "{}", text(&r));
    assert!(requests(&mock).await.is_empty());

    // Invalid settings never ask for a confirmation first.
    let mut s = start(&mock, true, &[]).await;
    let r = s.call("update_storage_config", json!({"config": {}})).await;
    assert_eq!(error_code(&r), "invalid_arguments", "{r}");
}

#[tokio::test(flavor = "multi_thread")]
async fn read_only_mode_hides_the_change() {
    let mock = MockServer::start().await;
    let mut s = start(&mock, true, &["--read-only"]).await;
    let names: Vec<String> = s
        .tools()
        .await
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        names.contains(&"list_storage_buckets".to_owned()),
        "{names:?}"
    );
    assert!(
        names.contains(&"get_storage_config".to_owned()),
        "{names:?}"
    );
    assert!(
        !names.contains(&"update_storage_config".to_owned()),
        "{names:?}"
    );
    let r = s
        .call(
            "update_storage_config",
            json!({"config": {"fileSizeLimit": 1024}}),
        )
        .await;
    assert_eq!(error_code(&r), "read_only");
    assert!(requests(&mock).await.is_empty());
}

/// Each tool, answered with `template`, fails with `code` and `needle`.
async fn expect_failure(template: ResponseTemplate, code: &str, needle: &str, update: bool) {
    let mock = MockServer::start().await;
    Mock::given(wiremock::matchers::any())
        .respond_with(template)
        .mount(&mock)
        .await;
    let mut s = start(&mock, true, &["--allow-destructive"]).await;
    let mut calls = vec![
        ("list_storage_buckets", json!({})),
        ("get_storage_config", json!({})),
    ];
    if update {
        calls.push((
            "update_storage_config",
            json!({"config": {"fileSizeLimit": 1024}}),
        ));
    }
    for (tool, args) in calls {
        let r = s.call(tool, args).await;
        assert!(is_error(&r), "{tool}: {r}");
        assert_eq!(error_code(&r), code, "{tool}: {r}");
        let t = text(&r);
        assert!(t.contains(needle), "{tool}: {t}");
        assert!(t.contains("Suggestion:"), "{tool}: {t}");
        assert!(!t.contains(TOKEN), "{tool} leaks the token: {t}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn unauthorized_is_explained() {
    expect_failure(
        ResponseTemplate::new(401)
            .set_body_json(json!({"message": format!("Invalid token {TOKEN}")})),
        "permission_denied",
        "access token",
        true,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn not_found_is_explained() {
    expect_failure(
        ResponseTemplate::new(404).set_body_json(json!({"message": "Project not found"})),
        "not_found",
        "Project not found",
        true,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn server_errors_are_explained() {
    expect_failure(
        ResponseTemplate::new(500).set_body_string("storage backend down"),
        "api_error",
        "HTTP 500",
        true,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_bodies_are_explained() {
    expect_failure(
        ResponseTemplate::new(200).set_body_raw("{\"fileSizeLimit\": \"big\"", "application/json"),
        "api_error",
        "could not be used",
        false,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn project_ids_are_checked() {
    let mock = MockServer::start().await;
    let mut s = start(&mock, false, &["--allow-destructive"]).await;
    for tool in ["list_storage_buckets", "get_storage_config"] {
        let r = s.call(tool, json!({})).await;
        assert_eq!(error_code(&r), "invalid_arguments");
        assert!(text(&r).contains("project_id"), "{}", text(&r));
        let r = s.call(tool, json!({"project_id": "short"})).await;
        assert!(text(&r).contains("not a project ref"), "{}", text(&r));
    }
    assert!(requests(&mock).await.is_empty());
    let mut s = start(&mock, true, &[]).await;
    let r = s
        .call("get_storage_config", json!({"project_id": OTHER}))
        .await;
    assert!(text(&r).contains("scoped"), "{}", text(&r));
    let tools = s.tools().await;
    for name in [
        "list_storage_buckets",
        "get_storage_config",
        "update_storage_config",
    ] {
        let t = tools
            .iter()
            .find(|t| t["name"] == name)
            .unwrap_or_else(|| panic!("{name} listed"));
        assert!(t["description"].as_str().unwrap().len() < 100, "{t}");
        assert!(
            t["inputSchema"]["properties"].get("project_id").is_none(),
            "{t}"
        );
    }
}
