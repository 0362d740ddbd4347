//! The cloud `development` tools (`get_publishable_keys`,
//! `generate_typescript_types`) against a mock Management API: the exact
//! requests (checked against `specs/supabase-management.yaml`), only
//! client-safe keys in the answer (never a secret or service role key, in
//! any field of the result), large type files spilled with a preview, and
//! every kind of API failure as a tool error.

mod api_common;
mod common;

use base64::Engine;
use common::*;
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const TOKEN: &str = CLOUD_TOKEN;
const PROJECT: &str = CLOUD_PROJECT;
const OTHER: &str = "zyxwvutsrqponmlkjihg";
const PUBLISHABLE: &str = "sb_publishable_Qx7rT2mN8vK3pL9wZc4Y1A_d5eF6gH7";
const SECRET: &str = "sb_secret_Vn3kP8qR2tW6yZ9bC4dF7gJ1mL5sX0aE";
/// A secret key whose value does not say so: only its type does.
const OPAQUE_SECRET: &str = "sk_live_opaque_0123456789abcdefghij";
/// A secret key mislabelled as publishable: its value gives it away.
const SECRET_MISLABELLED: &str = "sb_secret_MISLABELLED000000000000000000000";

fn jwt(role: &str) -> String {
    let enc = |v: Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    format!(
        "{}.{}.c2lnbmF0dXJl{role}",
        enc(json!({"alg": "HS256", "typ": "JWT"})),
        enc(
            json!({"iss": "supabase", "ref": PROJECT, "role": role, "iat": 1700000000, "exp": 2000000000})
        )
    )
}

async fn start(mock: &MockServer, scoped: bool, extra: &[&str]) -> Server {
    start_cloud(&mock.uri(), "development", scoped, extra).await
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

fn warnings(r: &Value) -> String {
    r["structuredContent"]["warnings"].to_string()
}

fn all_keys() -> Value {
    json!([
        {"name": "anon", "type": "legacy", "api_key": jwt("anon"), "id": "anon",
         "description": "Legacy anon key"},
        {"name": "service_role", "type": "legacy", "api_key": jwt("service_role"), "id": "service_role"},
        {"name": "default", "type": "publishable", "api_key": PUBLISHABLE, "id": "k1",
         "prefix": "sb_publishable_Qx7rT", "description": "Default publishable key"},
        {"name": "default", "type": "secret", "api_key": SECRET, "id": "k2", "prefix": "sb_secret_Vn3kP"},
        {"name": "backend", "type": "secret", "api_key": null, "id": "k3", "hash": "abc"},
        {"name": "custom", "type": "secret", "api_key": OPAQUE_SECRET, "id": "k7"},
        {"name": "odd", "type": "publishable", "api_key": SECRET_MISLABELLED, "id": "k4"},
        {"name": "anon", "type": "legacy", "api_key": jwt("service_role"), "id": "k5"},
        {"name": "sneaky", "type": null, "api_key": jwt("service_role"), "id": "k6"},
    ])
}

async fn mount_keys(mock: &MockServer, project: &str, keys: Value, legacy_enabled: Option<bool>) {
    Mock::given(method("GET"))
        .and(path(format!("/v1/projects/{project}/api-keys")))
        .respond_with(ResponseTemplate::new(200).set_body_json(keys))
        .mount(mock)
        .await;
    let legacy = match legacy_enabled {
        Some(e) => ResponseTemplate::new(200).set_body_json(json!({"enabled": e})),
        None => ResponseTemplate::new(500),
    };
    Mock::given(method("GET"))
        .and(path(format!("/v1/projects/{project}/api-keys/legacy")))
        .respond_with(legacy)
        .mount(mock)
        .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn publishable_keys_never_include_secret_keys() {
    let mock = MockServer::start().await;
    mount_keys(&mock, PROJECT, all_keys(), Some(true)).await;
    let mut s = start(&mock, true, &[]).await;
    let r = s.call("get_publishable_keys", json!({})).await;
    let d = ok(&r);
    assert!(text(&r).contains("<untrusted-data-"), "{r}");
    assert_eq!(d["project_id"], PROJECT);
    assert_eq!(d["url"], format!("https://{PROJECT}.supabase.co"));
    let keys = d["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 2, "{d}");
    assert_eq!(keys[0]["name"], "anon");
    assert_eq!(keys[0]["type"], "legacy");
    assert_eq!(keys[0]["api_key"], jwt("anon"));
    assert_eq!(keys[0]["disabled"], false);
    assert_eq!(keys[1]["type"], "publishable");
    assert_eq!(keys[1]["api_key"], PUBLISHABLE);
    assert_eq!(keys[1]["description"], "Default publishable key");
    assert!(keys[1].get("disabled").is_none(), "{}", keys[1]);

    // Nowhere in the result: not in the text, not in structured content.
    let whole = r.to_string();
    for secret in [
        SECRET,
        SECRET_MISLABELLED,
        &jwt("service_role"),
        "sb_secret_",
    ] {
        assert!(!whole.contains(secret), "leaked {secret}: {whole}");
    }
    assert!(!whole.contains("service_role"), "{whole}");

    let reqs = requests(&mock).await;
    assert_eq!(reqs.len(), 2);
    check(&reqs[0], "v1-get-project-api-keys");
    assert_eq!(
        reqs[0].url.query(),
        None,
        "never asks to reveal secret keys"
    );
    check(&reqs[1], "v1-get-project-legacy-api-keys");
}

#[tokio::test(flavor = "multi_thread")]
async fn disabled_legacy_keys_are_marked_and_the_status_is_optional() {
    let mock = MockServer::start().await;
    mount_keys(&mock, PROJECT, all_keys(), Some(false)).await;
    mount_keys(&mock, OTHER, all_keys(), None).await;
    let mut s = start(&mock, false, &[]).await;
    let r = s
        .call("get_publishable_keys", json!({"project_id": PROJECT}))
        .await;
    let d = ok(&r);
    assert_eq!(d["keys"][0]["disabled"], true);
    assert!(warnings(&r).contains("disabled"), "{r}");
    // The legacy status failing leaves it out, nothing more.
    let r = s
        .call("get_publishable_keys", json!({"project_id": OTHER}))
        .await;
    let d = ok(&r);
    assert_eq!(d["keys"].as_array().unwrap().len(), 2);
    assert!(d["keys"][0].get("disabled").is_none(), "{d}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_project_without_client_keys_is_explained() {
    let mock = MockServer::start().await;
    mount_keys(
        &mock,
        PROJECT,
        json!([
            {"name": "service_role", "type": "legacy", "api_key": jwt("service_role")},
            {"name": "default", "type": "secret", "api_key": SECRET},
        ]),
        Some(true),
    )
    .await;
    let mut s = start(&mock, true, &[]).await;
    let r = s.call("get_publishable_keys", json!({})).await;
    assert!(is_error(&r), "{r}");
    assert_eq!(error_code(&r), "not_found");
    let t = text(&r);
    assert!(t.contains("no publishable or anon API key"), "{t}");
    assert!(t.contains("API Keys"), "{t}");
    assert!(!r.to_string().contains(SECRET));
}

#[tokio::test(flavor = "multi_thread")]
async fn typescript_types_come_from_the_management_api() {
    let mock = MockServer::start().await;
    let types = "export type Json = string | number\n\nexport type Database = {\n  public: { Tables: { todos: { Row: { id: number; task: string } } } }\n}\n";
    Mock::given(method("GET"))
        .and(path(format!("/v1/projects/{PROJECT}/types/typescript")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"types": types})))
        .mount(&mock)
        .await;
    let mut s = start(&mock, true, &[]).await;
    let r = s.call("generate_typescript_types", json!({})).await;
    let d = ok(&r);
    assert!(text(&r).contains("<untrusted-data-"), "{r}");
    assert_eq!(d["types"], types);
    assert_eq!(d["source"], "management_api");
    assert_eq!(d["schemas"], json!(["public"]));
    assert_eq!(d["lines"], 5);
    assert_eq!(d["bytes"], types.len());
    assert!(d.get("spill").is_none());

    let r = s
        .call(
            "generate_typescript_types",
            json!({"schemas": ["public", " storage ", "public"]}),
        )
        .await;
    assert_eq!(ok(&r)["schemas"], json!(["public", "storage"]));

    let reqs = requests(&mock).await;
    assert_eq!(reqs.len(), 2);
    check(&reqs[0], "v1-generate-typescript-types");
    assert_eq!(reqs[0].url.query(), None, "the API's default: public");
    check(&reqs[1], "v1-generate-typescript-types");
    let q: Vec<(String, String)> = reqs[1].url.query_pairs().into_owned().collect();
    assert_eq!(
        q,
        vec![("included_schemas".to_owned(), "public,storage".to_owned())]
    );

    for bad in [json!(["a,b"]), json!([""]), json!("public")] {
        let r = s
            .call("generate_typescript_types", json!({"schemas": bad}))
            .await;
        assert_eq!(error_code(&r), "invalid_arguments", "{bad}: {r}");
    }
    assert_eq!(requests(&mock).await.len(), 2, "invalid calls send nothing");
}

#[tokio::test(flavor = "multi_thread")]
async fn huge_types_spill_to_a_file_with_a_preview() {
    let mock = MockServer::start().await;
    let mut types = String::from("export type Database = {\n");
    for i in 0..4000 {
        types.push_str(&format!(
            "  table_{i}: {{ Row: {{ id: number; name: string | null; \"quoted\": boolean }} }}\n"
        ));
    }
    types.push_str("}\n");
    Mock::given(method("GET"))
        .and(path(format!("/v1/projects/{PROJECT}/types/typescript")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"types": types})))
        .mount(&mock)
        .await;
    let mut s = start(&mock, true, &["--output-budget", "65536"]).await;
    let r = s.call("generate_typescript_types", json!({})).await;
    let d = ok(&r);
    assert!(r.to_string().len() <= 65536, "{}", r.to_string().len());
    assert_eq!(d["truncated"], true);
    assert_eq!(d["bytes"], types.len());
    assert_eq!(d["lines"], 4002);
    let preview = d["types"].as_str().unwrap();
    assert!(
        types.starts_with(preview) && preview.ends_with('\n'),
        "whole lines"
    );
    assert!(preview.len() > 1000 && preview.len() < types.len());
    let spill = &d["spill"];
    assert_eq!(spill["rows"], 4002);
    let w = warnings(&r);
    assert!(w.contains("get_result_page"), "{w}");

    // The file holds every line, in order.
    let file = std::fs::read_to_string(spill["path"].as_str().unwrap()).unwrap();
    let lines: Vec<String> = file
        .lines()
        .map(|l| serde_json::from_str::<String>(l).unwrap())
        .collect();
    assert_eq!(lines.join("\n") + "\n", types);
    // And pages come back through get_result_page.
    let r = s
        .call(
            "get_result_page",
            json!({"result_id": spill["result_id"], "offset": 4000, "limit": 5}),
        )
        .await;
    let page = ok(&r);
    assert_eq!(
        page["rows"],
        json!([
            "  table_3999: { Row: { id: number; name: string | null; \"quoted\": boolean } }",
            "}"
        ]),
        "{page}"
    );
}

/// Each tool, answered with `template`, fails with `code` and `needle`.
async fn expect_failure(template: ResponseTemplate, code: &str, needle: &str) {
    let mock = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(template)
        .mount(&mock)
        .await;
    let mut s = start(&mock, true, &[]).await;
    for tool in ["get_publishable_keys", "generate_typescript_types"] {
        let r = s.call(tool, json!({})).await;
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
async fn malformed_bodies_are_explained() {
    expect_failure(
        ResponseTemplate::new(200).set_body_raw("{\"types\": 42", "application/json"),
        "api_error",
        "could not be used",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn self_hosted_instances_get_a_clear_error() {
    let mut s = Server::start(
        None,
        &[
            "--supabase-url",
            "http://127.0.0.1:1",
            "--service-role-key",
            "service-role-key-for-tests-0123456789",
            "--features",
            "development",
        ],
    )
    .await;
    for (tool, needle) in [
        ("get_publishable_keys", "ANON_KEY"),
        ("generate_typescript_types", "supabase gen types typescript"),
    ] {
        let r = s.call(tool, json!({})).await;
        assert_eq!(error_code(&r), "not_configured", "{tool}: {r}");
        let t = text(&r);
        assert!(t.contains("Management API"), "{t}");
        assert!(t.contains(needle), "{t}");
    }
    // get_project_url keeps working there.
    let r = s.call("get_project_url", json!({})).await;
    assert_eq!(ok(&r)["url"], "http://127.0.0.1:1");
}

#[tokio::test(flavor = "multi_thread")]
async fn project_ids_are_checked_and_descriptions_are_short() {
    let mock = MockServer::start().await;
    let mut s = start(&mock, false, &[]).await;
    for tool in ["get_publishable_keys", "generate_typescript_types"] {
        let r = s.call(tool, json!({})).await;
        assert_eq!(error_code(&r), "invalid_arguments", "{r}");
        assert!(text(&r).contains("project_id"), "{}", text(&r));
        let r = s.call(tool, json!({"project_id": "nope"})).await;
        assert!(text(&r).contains("not a project ref"), "{}", text(&r));
    }
    assert!(requests(&mock).await.is_empty());
    let mut s = start(&mock, true, &[]).await;
    let r = s
        .call("get_publishable_keys", json!({"project_id": OTHER}))
        .await;
    assert!(text(&r).contains("scoped"), "{}", text(&r));
    let tools = s.tools().await;
    for name in ["get_publishable_keys", "generate_typescript_types"] {
        let t = tools
            .iter()
            .find(|t| t["name"] == name)
            .unwrap_or_else(|| panic!("{name} listed"));
        assert!(t["description"].as_str().unwrap().len() < 100, "{t}");
        assert_eq!(t["annotations"]["readOnlyHint"], true, "{t}");
    }
}
