//! `api_operations` and `call_api_operation` against a mock Management API:
//! the catalogue search and detail, the exact requests (checked against
//! `specs/supabase-management.yaml`), secrets masked in answers, destructive
//! operations confirmed first, read-only mode limited to GET, a scoped
//! server limited to its project and branches, guarded operations refused,
//! API failures as tool errors, and large answers spilled to a file.

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
    start_cloud(&mock.uri(), "management", scoped, extra).await
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

#[tokio::test(flavor = "multi_thread")]
async fn api_operations_searches_and_describes() {
    let mock = MockServer::start().await;
    let mut s = start(&mock, false, &[]).await;

    let r = s.call("api_operations", json!({"query": "pooler"})).await;
    let d = ok(&r);
    let ops = d["operations"].as_array().unwrap();
    assert!(!ops.is_empty(), "{d}");
    assert!(d["catalog_size"].as_u64().unwrap() > 50);
    for op in ops {
        let text = op.to_string().to_lowercase();
        assert!(text.contains("pooler"), "{op}");
    }
    let ids: Vec<&str> = ops
        .iter()
        .filter_map(|o| o["operation_id"].as_str())
        .collect();
    assert!(ids.contains(&"v1-get-pooler-config"), "{ids:?}");

    let r = s
        .call(
            "api_operations",
            json!({"query": "pooler", "method": "patch"}),
        )
        .await;
    let d = ok(&r);
    for op in d["operations"].as_array().unwrap() {
        assert_eq!(op["method"], "PATCH", "{op}");
        assert_eq!(op["nature"], "write");
    }

    let r = s
        .call(
            "api_operations",
            json!({"operation_id": "v1-delete-a-function"}),
        )
        .await;
    let d = ok(&r);
    assert_eq!(d["method"], "DELETE");
    assert_eq!(d["nature"], "destructive");
    let params: Vec<&str> = d["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    assert!(
        params.contains(&"ref") && params.contains(&"function_slug"),
        "{params:?}"
    );

    let r = s
        .call("api_operations", json!({"operation_id": "v1-run-a-query"}))
        .await;
    assert!(
        ok(&r)["use_instead"]
            .as_str()
            .unwrap()
            .contains("execute_sql")
    );

    let r = s
        .call(
            "api_operations",
            json!({"operation_id": "v1-get-pooler-confg"}),
        )
        .await;
    assert_eq!(error_code(&r), "not_found", "{r}");
    assert!(text(&r).contains("v1-get-pooler-config"), "{r}");

    let r = s.call("api_operations", json!({"method": "FETCH"})).await;
    assert_eq!(error_code(&r), "invalid_arguments", "{r}");
    let r = s.call("api_operations", json!({"limit": 0})).await;
    assert_eq!(error_code(&r), "invalid_arguments", "{r}");
    let r = s
        .call("api_operations", json!({"query": "zzzz-nothing"}))
        .await;
    assert_eq!(ok(&r)["total"], 0);
    assert!(
        requests(&mock).await.is_empty(),
        "the catalogue needs no request"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_get_is_sent_as_the_spec_says_and_answered_as_is() {
    let mock = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!(
            "/v1/projects/{PROJECT}/config/database/pooler"
        )))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([
            {"identifier": PROJECT, "database_type": "PRIMARY", "is_using_scram_auth": true,
             "db_user": "postgres", "db_host": "aws-0-eu.pooler.supabase.com", "db_port": 6543,
             "db_name": "postgres", "pool_mode": "transaction", "default_pool_size": 15,
             "max_client_conn": 200}
        ])))
        .mount(&mock)
        .await;
    let mut s = start(&mock, true, &[]).await;
    let r = s
        .call(
            "call_api_operation",
            json!({"operation_id": "v1-get-pooler-config"}),
        )
        .await;
    let d = ok(&r);
    assert_eq!(d["status"], 200);
    assert_eq!(d["method"], "GET");
    assert_eq!(d["data"][0]["pool_mode"], "transaction");
    let reqs = requests(&mock).await;
    assert_eq!(reqs.len(), 1);
    check(&reqs[0], "v1-get-pooler-config");
}

#[tokio::test(flavor = "multi_thread")]
async fn secret_values_in_answers_are_masked() {
    let mock = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("/v1/projects/{PROJECT}/api-keys")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([
            {"name": "anon", "api_key": "eyJhbGciOiJIUzI1NiJ9.anon.sig", "type": "legacy", "id": "anon"},
            {"name": "service_role", "api_key": "eyJhbGciOiJIUzI1NiJ9.SERVICEROLE.sig", "type": "legacy", "id": "service_role"},
            {"name": "default", "api_key": "sb_secret_SUPERSECRETVALUE", "type": "secret", "id": "k1"},
            {"name": "default", "api_key": "sb_publishable_pubvalue", "type": "publishable", "id": "k2"},
        ])))
        .mount(&mock)
        .await;
    let mut s = start(&mock, true, &[]).await;
    let r = s
        .call(
            "call_api_operation",
            json!({"operation_id": "v1-get-project-api-keys", "query": {"reveal": true}}),
        )
        .await;
    let d = ok(&r);
    let whole = r.to_string();
    for secret in ["SERVICEROLE", "SUPERSECRETVALUE"] {
        assert!(!whole.contains(secret), "{secret} leaked: {whole}");
    }
    assert!(whole.contains("sb_publishable_pubvalue"));
    assert!(whole.contains("eyJhbGciOiJIUzI1NiJ9.anon.sig"));
    assert!(
        d["data"][1]["api_key"]
            .as_str()
            .unwrap()
            .starts_with("[masked")
    );
    let warnings = r["structuredContent"]["warnings"].to_string();
    assert!(warnings.contains("masked"), "{r}");
    let reqs = requests(&mock).await;
    check(&reqs[0], "v1-get-project-api-keys");
    assert_eq!(reqs[0].url.query(), Some("reveal=true"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_write_sends_the_body_without_asking() {
    let mock = MockServer::start().await;
    Mock::given(method("PATCH"))
        .and(path(format!("/v1/projects/{PROJECT}/postgrest")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "db_schema": "public,api", "db_extra_search_path": "public", "max_rows": 500,
            "db_pool": null, "jwt_secret": "super-secret-jwt"
        })))
        .mount(&mock)
        .await;
    let mut s = start(&mock, false, &[]).await;
    let r = s
        .call(
            "call_api_operation",
            json!({"operation_id": "v1-update-postgrest-service-config", "project_id": PROJECT,
                   "body": {"max_rows": 500, "db_schema": "public,api"}}),
        )
        .await;
    let d = ok(&r);
    assert_eq!(d["data"]["max_rows"], 500);
    assert!(!r.to_string().contains("super-secret-jwt"), "{r}");
    let reqs = requests(&mock).await;
    assert_eq!(reqs.len(), 1);
    check(&reqs[0], "v1-update-postgrest-service-config");
    let body: Value = serde_json::from_slice(&reqs[0].body).unwrap();
    assert_eq!(body, json!({"max_rows": 500, "db_schema": "public,api"}));

    // A body with a misspelt field is refused before anything is sent.
    let r = s
        .call(
            "call_api_operation",
            json!({"operation_id": "v1-update-postgrest-service-config", "project_id": PROJECT,
                   "body": {"max_row": 5}}),
        )
        .await;
    assert_eq!(error_code(&r), "invalid_arguments", "{r}");
    assert!(text(&r).contains("max_rows"), "{r}");
    assert_eq!(requests(&mock).await.len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_destructive_operation_is_confirmed_first() {
    let mock = MockServer::start().await;
    Mock::given(method("DELETE"))
        .and(path(format!("/v1/projects/{PROJECT}/functions/hello")))
        .respond_with(ResponseTemplate::new(200))
        .mount(&mock)
        .await;
    let mut s = start(&mock, true, &[]).await;
    let args = json!({"operation_id": "v1-delete-a-function", "path": {"function_slug": "hello"}});
    let first = s.call("call_api_operation", args.clone()).await;
    assert_eq!(status(&first), "confirmation_required", "{first}");
    assert!(text(&first).contains("DELETE"), "{first}");
    assert!(
        requests(&mock).await.is_empty(),
        "nothing is sent before the confirmation"
    );
    let mut args = args;
    args["confirmation_token"] = data(&first)["confirmation_token"].clone();
    let second = s.call("call_api_operation", args).await;
    let d = ok(&second);
    assert_eq!(d["status"], 200);
    assert_eq!(d["data"], Value::Null);
    let reqs = requests(&mock).await;
    assert_eq!(reqs.len(), 1);
    check(&reqs[0], "v1-delete-a-function");
}

#[tokio::test(flavor = "multi_thread")]
async fn read_only_mode_allows_only_get() {
    let mock = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("/v1/projects/{PROJECT}/ssl-enforcement")))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"currentConfig": {"database": true}, "appliedSuccessfully": true}),
        ))
        .mount(&mock)
        .await;
    let mut s = start(&mock, true, &["--read-only"]).await;
    let tools = s.tools().await;
    assert!(tools.iter().any(|t| t["name"] == "call_api_operation"));
    let r = s
        .call(
            "call_api_operation",
            json!({"operation_id": "v1-get-ssl-enforcement-config"}),
        )
        .await;
    assert_eq!(ok(&r)["data"]["currentConfig"]["database"], true);
    let r = s
        .call(
            "call_api_operation",
            json!({"operation_id": "v1-update-ssl-enforcement-config",
                   "body": {"requestedConfig": {"database": false}}}),
        )
        .await;
    assert_eq!(error_code(&r), "read_only", "{r}");
    assert_eq!(requests(&mock).await.len(), 1, "the write was not sent");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_scoped_server_reaches_only_its_project_and_branches() {
    let mock = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("/v1/projects/{PROJECT}/branches")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([
            {"id": "0b7f3a1e-8d2c-4a5b-9c6d-7e8f9a0b1c2d", "name": "dev", "project_ref": "devbranchrefxxxxxxxx",
             "parent_project_ref": PROJECT, "is_default": false, "persistent": false,
             "status": "FUNCTIONS_DEPLOYED", "created_at": "2025-01-01T00:00:00Z", "updated_at": "2025-01-01T00:00:00Z"}
        ])))
        .mount(&mock)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/branches/devbranchrefxxxxxxxx"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"ref": "devbranchrefxxxxxxxx"})),
        )
        .mount(&mock)
        .await;
    let mut s = start(&mock, true, &[]).await;

    let r = s
        .call(
            "call_api_operation",
            json!({"operation_id": "v1-get-pooler-config", "path": {"ref": OTHER}}),
        )
        .await;
    assert_eq!(error_code(&r), "permission_denied", "{r}");
    let r = s
        .call(
            "call_api_operation",
            json!({"operation_id": "v1-list-all-projects"}),
        )
        .await;
    assert_eq!(error_code(&r), "permission_denied", "{r}");
    assert!(requests(&mock).await.is_empty());

    let r = s
        .call(
            "call_api_operation",
            json!({"operation_id": "v1-get-a-branch-config", "path": {"branch_id_or_ref": "devbranchrefxxxxxxxx"}}),
        )
        .await;
    ok(&r);
    let r = s
        .call(
            "call_api_operation",
            json!({"operation_id": "v1-get-a-branch-config", "path": {"branch_id_or_ref": "strangerbranchrefxxx"}}),
        )
        .await;
    assert_eq!(error_code(&r), "permission_denied", "{r}");
    let reqs = requests(&mock).await;
    let to_branch: Vec<&Request> = reqs
        .iter()
        .filter(|r| r.url.path().starts_with("/v1/branches/"))
        .collect();
    assert_eq!(
        to_branch.len(),
        1,
        "only the project's own branch was reached"
    );
    check(to_branch[0], "v1-get-a-branch-config");
}

#[tokio::test(flavor = "multi_thread")]
async fn guarded_operations_and_bad_arguments_send_nothing() {
    let mock = MockServer::start().await;
    let mut s = start(&mock, true, &[]).await;
    for (args, want) in [
        (
            json!({"operation_id": "v1-run-a-query", "body": {"query": "drop table users"}}),
            "execute_sql",
        ),
        (
            json!({"operation_id": "v1-apply-a-migration", "body": {"query": "select 1"}}),
            "apply_migration",
        ),
        (
            json!({"operation_id": "v1-get-project", "query": {"nope": 1}}),
            "no query parameter",
        ),
        (
            json!({"operation_id": "v1-get-project", "body": {}}),
            "no request body",
        ),
        (
            json!({"operation_id": "v1-delete-a-function"}),
            "function_slug",
        ),
        (json!({"operation_id": "nonsense"}), "api_operations"),
    ] {
        let r = s.call("call_api_operation", args.clone()).await;
        assert_eq!(status(&r), "error", "{args}: {r}");
        assert!(text(&r).contains(want), "{args}: {r}");
    }
    assert!(requests(&mock).await.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn api_failures_become_plain_errors_and_odd_bodies_are_kept_as_text() {
    let mock = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("/v1/projects/{PROJECT}/health")))
        .respond_with(
            ResponseTemplate::new(404).set_body_json(json!({"message": "Project not found"})),
        )
        .mount(&mock)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("/v1/projects/{PROJECT}/upgrade/status")))
        .respond_with(ResponseTemplate::new(500).set_body_string("boom"))
        .mount(&mock)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("/v1/projects/{PROJECT}/upgrade/eligibility")))
        .respond_with(ResponseTemplate::new(200).set_body_string("<html>not json</html>"))
        .mount(&mock)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("/v1/projects/{PROJECT}/postgrest")))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({"message": "Unauthorized"})))
        .mount(&mock)
        .await;
    let mut s = start(&mock, true, &[]).await;
    let r = s
        .call(
            "call_api_operation",
            json!({"operation_id": "v1-get-services-health", "query": {"services": ["auth", "db"]}}),
        )
        .await;
    assert_eq!(error_code(&r), "not_found", "{r}");
    let reqs = requests(&mock).await;
    check(&reqs[0], "v1-get-services-health");
    assert_eq!(reqs[0].url.query(), Some("services=auth&services=db"));

    let r = s
        .call(
            "call_api_operation",
            json!({"operation_id": "v1-get-postgres-upgrade-status"}),
        )
        .await;
    assert_eq!(status(&r), "error", "{r}");
    let r = s
        .call(
            "call_api_operation",
            json!({"operation_id": "v1-get-postgrest-service-config"}),
        )
        .await;
    assert_eq!(error_code(&r), "permission_denied", "{r}");
    assert!(!r.to_string().contains(TOKEN));
    let r = s
        .call(
            "call_api_operation",
            json!({"operation_id": "v1-get-postgres-upgrade-eligibility"}),
        )
        .await;
    assert_eq!(ok(&r)["data"]["text"], "<html>not json</html>");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_large_answer_spills_to_a_file() {
    let mock = MockServer::start().await;
    let items: Vec<Value> = (0..4000)
        .map(|i| json!({"name": format!("function-{i}"), "slug": format!("f{i}"), "status": "ACTIVE", "version": i}))
        .collect();
    Mock::given(method("GET"))
        .and(path(format!("/v1/projects/{PROJECT}/functions")))
        .respond_with(ResponseTemplate::new(200).set_body_json(Value::Array(items)))
        .mount(&mock)
        .await;
    let mut s = start(&mock, true, &[]).await;
    let r = s
        .call(
            "call_api_operation",
            json!({"operation_id": "v1-list-all-functions"}),
        )
        .await;
    let d = ok(&r);
    assert_eq!(d["item_count"], 4000);
    let preview = d["preview"].as_array().unwrap();
    assert!(
        !preview.is_empty() && preview.len() <= 20,
        "{}",
        preview.len()
    );
    let file = d["spill"]["path"].as_str().unwrap();
    let content = std::fs::read_to_string(file).unwrap();
    assert_eq!(content.lines().count(), 4000);
    assert!(content.lines().last().unwrap().contains("function-3999"));
    assert!(
        r.to_string().len() < 64 * 1024,
        "the result itself stays small"
    );
}
