//! The `account` tools in cloud mode against a mock Management API: the
//! exact requests (checked against `specs/supabase-management.yaml`, with the
//! bearer token), the results, the cost confirmation of `create_project`
//! (the generated database password is sent but never shown or logged), the
//! confirmation of `pause_project`, and every kind of API failure (401, 404,
//! 5xx, a malformed body) turned into a clear tool error.

mod api_common;
mod common;

use std::process::Stdio;

use common::*;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::io::AsyncReadExt;
use wiremock::matchers::{any, method, path, path_regex};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const TOKEN: &str = CLOUD_TOKEN;
const PROJECT: &str = CLOUD_PROJECT;
const OTHER: &str = "zyxwvutsrqponmlkjihg";
const ORG: &str = "acme-corp";
const OTHER_ORG: &str = "other_org";

/// The official server's regions, in its order.
const REGIONS: [&str; 16] = [
    "us-west-1",
    "us-east-1",
    "us-east-2",
    "ca-central-1",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "eu-central-1",
    "eu-central-2",
    "eu-north-1",
    "ap-south-1",
    "ap-southeast-1",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-southeast-2",
    "sa-east-1",
];

/// The agreed cost id: SHA-256 of "type:recurrence:amount", hex, first 16.
fn hash_id(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))[..16].to_owned()
}

fn project(r: &str, org: &str, status: &str) -> Value {
    json!({
        "id": r, "ref": r, "organization_id": org, "organization_slug": org,
        "name": format!("app-{}", &r[..3]), "region": "eu-central-1",
        "created_at": "2025-01-31T12:00:00.000Z", "status": status,
        "database": {
            "host": format!("db.{r}.supabase.co"), "version": "15.8.1.085",
            "postgres_engine": "15", "release_channel": "ga"
        }
    })
}

fn organization(plan: Option<&str>) -> Value {
    let mut o = json!({
        "id": ORG, "name": "Acme Corp", "opt_in_tags": [],
        "allowed_release_channels": ["ga"]
    });
    if let Some(p) = plan {
        o["plan"] = json!(p);
    }
    o
}

async fn start(mock: &MockServer, extra: &[&str]) -> Server {
    start_cloud(&mock.uri(), "account", false, extra).await
}

async fn requests(mock: &MockServer) -> Vec<Request> {
    mock.received_requests().await.unwrap()
}

/// Checks a request against its spec operation and the bearer token.
fn check(req: &Request, op: &str) {
    api_common::Spec::load("supabase-management").check(op, req, "");
    api_common::assert_header(req, "authorization", &format!("Bearer {TOKEN}"));
}

fn ok(r: &Value) -> &Value {
    assert_eq!(status(r), "ok", "{r}");
    data(r)
}

async fn mount(mock: &MockServer, m: &str, p: &str, status: u16, body: Value) {
    Mock::given(method(m))
        .and(path(p))
        .respond_with(ResponseTemplate::new(status).set_body_json(body))
        .mount(mock)
        .await;
}

/// Calls `tool` while every request gets `response`; returns the result.
async fn with_answer(
    s: &mut Server,
    mock: &MockServer,
    tool: &str,
    args: Value,
    response: ResponseTemplate,
) -> Value {
    mock.reset().await;
    Mock::given(any()).respond_with(response).mount(mock).await;
    let r = s.call(tool, args).await;
    assert!(is_error(&r), "{tool} should fail: {r}");
    r
}

/// The failures every tool must explain: 5xx and a malformed success body.
async fn check_server_errors(s: &mut Server, mock: &MockServer, tool: &str, args: Value) {
    let r = with_answer(
        s,
        mock,
        tool,
        args.clone(),
        ResponseTemplate::new(500).set_body_json(json!({"message": "internal trouble"})),
    )
    .await;
    assert_eq!(error_code(&r), "api_error", "{r}");
    let t = text(&r);
    assert!(t.contains("HTTP 500"), "{tool}: {t}");
    assert!(t.contains("internal trouble"), "{tool}: {t}");
    assert!(t.contains("retry later"), "{tool}: {t}");

    let r = with_answer(
        s,
        mock,
        tool,
        args.clone(),
        ResponseTemplate::new(200).set_body_json(json!({"unexpected": [1, 2]})),
    )
    .await;
    assert_eq!(error_code(&r), "api_error", "{r}");
    assert!(
        text(&r).contains("could not be used"),
        "{tool}: {}",
        text(&r)
    );

    let r = with_answer(
        s,
        mock,
        tool,
        args,
        ResponseTemplate::new(200)
            .insert_header("content-type", "application/json")
            .set_body_string("{not json"),
    )
    .await;
    assert_eq!(error_code(&r), "api_error", "{r}");
    assert!(
        text(&r).contains("could not be used"),
        "{tool}: {}",
        text(&r)
    );
    mock.reset().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn tool_interfaces_match_the_official_server() {
    let mock = MockServer::start().await;
    let mut s = start(&mock, &[]).await;
    let tools = s.tools().await;
    let want: [(&str, &[&str]); 9] = [
        ("list_organizations", &[]),
        ("get_organization", &["id"]),
        ("list_projects", &[]),
        ("get_project", &["id"]),
        ("get_cost", &["organization_id", "type"]),
        ("confirm_cost", &["amount", "recurrence", "type"]),
        (
            "create_project",
            &["confirm_cost_id", "name", "organization_id", "region"],
        ),
        ("pause_project", &["project_id"]),
        ("restore_project", &["project_id"]),
    ];
    let account: Vec<&str> = want.iter().map(|(n, _)| *n).collect();
    assert_eq!(
        tools
            .iter()
            .filter(|t| account.contains(&t["name"].as_str().unwrap()))
            .count(),
        want.len(),
        "{tools:?}"
    );
    for (name, params) in want {
        let t = tools
            .iter()
            .find(|t| t["name"] == name)
            .unwrap_or_else(|| panic!("{name} missing"));
        let d = t["description"].as_str().unwrap();
        assert!(!d.is_empty() && d.len() < 100, "{name}: {d}");
        let schema = &t["inputSchema"];
        let mut props: Vec<&str> = schema["properties"]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .filter(|k| *k != "confirmation_token")
            .collect();
        props.sort();
        assert_eq!(props, params, "{name}");
        let mut required: Vec<&str> = schema["required"]
            .as_array()
            .map(|a| a.iter().map(|v| v.as_str().unwrap()).collect())
            .unwrap_or_default();
        required.sort();
        assert_eq!(required, params, "{name}");
        let read_only = t["annotations"]["readOnlyHint"] == json!(true);
        let reads = !matches!(name, "create_project" | "pause_project" | "restore_project");
        assert_eq!(read_only, reads, "{name}");
    }
    let by_name = |n: &str| tools.iter().find(|t| t["name"] == n).unwrap().clone();
    let create = by_name("create_project");
    let regions: Vec<&str> = create["inputSchema"]["properties"]["region"]["enum"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(regions, REGIONS);
    let cost = by_name("confirm_cost");
    assert_eq!(
        cost["inputSchema"]["properties"]["type"]["enum"],
        json!(["project", "branch"])
    );
    assert_eq!(
        cost["inputSchema"]["properties"]["recurrence"]["enum"],
        json!(["hourly", "monthly"])
    );
    // Pausing needs a confirmation; restoring does not.
    assert!(
        by_name("pause_project")["inputSchema"]["properties"]["confirmation_token"].is_object()
    );
    assert!(
        by_name("restore_project")["inputSchema"]["properties"]["confirmation_token"].is_null()
    );
    assert!(requests(&mock).await.is_empty(), "tools/list sends nothing");

    // Read-only: the cost tools stay, the writes go.
    let mut s = start(&mock, &["--read-only"]).await;
    let names: Vec<String> = s
        .tools()
        .await
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_owned())
        .collect();
    assert!(names.contains(&"get_cost".to_owned()), "{names:?}");
    assert!(names.contains(&"confirm_cost".to_owned()), "{names:?}");
    assert!(!names.contains(&"create_project".to_owned()), "{names:?}");
    assert!(!names.contains(&"pause_project".to_owned()), "{names:?}");

    // Scoped to one project: the account tools are hidden and say why.
    let mut s = start(&mock, &["--project-ref", PROJECT]).await;
    for t in s.tools().await {
        assert!(!account.contains(&t["name"].as_str().unwrap()), "{t}");
    }
    let r = s.call("list_projects", json!({})).await;
    assert_eq!(error_code(&r), "not_configured", "{r}");
    assert!(text(&r).contains("--project-ref"), "{}", text(&r));
    assert!(requests(&mock).await.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn list_organizations_shows_ids_and_names() {
    let mock = MockServer::start().await;
    mount(
        &mock,
        "GET",
        "/v1/organizations",
        200,
        json!([
            {"id": ORG, "slug": ORG, "name": "Acme Corp"},
            {"id": "legacy-id", "slug": OTHER_ORG, "name": "Other"}
        ]),
    )
    .await;
    let mut s = start(&mock, &[]).await;
    let r = s.call("list_organizations", json!({})).await;
    let d = ok(&r);
    assert!(text(&r).contains("<untrusted-data-"), "{r}");
    assert_eq!(d["count"], 2);
    assert_eq!(
        d["organizations"][0],
        json!({"id": ORG, "name": "Acme Corp"})
    );
    // The id to pass on is the slug.
    assert_eq!(d["organizations"][1]["id"], OTHER_ORG);
    let reqs = requests(&mock).await;
    assert_eq!(reqs.len(), 1);
    check(&reqs[0], "v1-list-all-organizations");
    assert_eq!(reqs[0].url.path(), "/v1/organizations");
    assert_eq!(reqs[0].url.query(), None);

    // 401: the token is the problem, and the error says so.
    let r = with_answer(
        &mut s,
        &mock,
        "list_organizations",
        json!({}),
        ResponseTemplate::new(401).set_body_json(json!({"message": "Unauthorized"})),
    )
    .await;
    assert_eq!(error_code(&r), "permission_denied", "{r}");
    let t = text(&r);
    assert!(t.contains("HTTP 401"), "{t}");
    assert!(t.contains("SUPABASE_ACCESS_TOKEN"), "{t}");
    assert!(!t.contains(TOKEN), "{t}");
    check_server_errors(&mut s, &mock, "list_organizations", json!({})).await;

    let r = s.call("list_organizations", json!({"extra": 1})).await;
    assert_eq!(error_code(&r), "invalid_arguments", "{r}");
    assert!(requests(&mock).await.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn get_organization_returns_the_plan() {
    let mock = MockServer::start().await;
    mount(
        &mock,
        "GET",
        &format!("/v1/organizations/{ORG}"),
        200,
        organization(Some("pro")),
    )
    .await;
    let mut s = start(&mock, &[]).await;
    let r = s.call("get_organization", json!({"id": ORG})).await;
    assert_eq!(
        *ok(&r),
        json!({"id": ORG, "name": "Acme Corp", "plan": "pro"})
    );
    let reqs = requests(&mock).await;
    assert_eq!(reqs.len(), 1);
    let params =
        api_common::Spec::load("supabase-management").check("v1-get-an-organization", &reqs[0], "");
    assert_eq!(params["slug"], ORG);
    api_common::assert_header(&reqs[0], "authorization", &format!("Bearer {TOKEN}"));

    // Invalid ids never reach the API.
    for bad in ["", "  ", "acme/../x", "a b"] {
        let r = s.call("get_organization", json!({"id": bad})).await;
        assert_eq!(error_code(&r), "invalid_arguments", "{bad}: {r}");
        assert!(text(&r).contains("list_organizations"), "{}", text(&r));
    }
    let r = s.call("get_organization", json!({})).await;
    assert_eq!(error_code(&r), "invalid_arguments", "{r}");
    assert!(text(&r).contains("`id`"), "{}", text(&r));
    assert_eq!(requests(&mock).await.len(), 1);

    // 404 (the generated client knows no 404 here: it still reads the body).
    let r = with_answer(
        &mut s,
        &mock,
        "get_organization",
        json!({"id": "nobody"}),
        ResponseTemplate::new(404).set_body_json(json!({"message": "Organization not found"})),
    )
    .await;
    assert_eq!(error_code(&r), "not_found", "{r}");
    assert!(text(&r).contains("Organization not found"), "{}", text(&r));
    check_server_errors(&mut s, &mock, "get_organization", json!({"id": ORG})).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn list_and_get_projects_show_refs_status_and_no_secrets() {
    let mock = MockServer::start().await;
    mount(
        &mock,
        "GET",
        "/v1/projects",
        200,
        json!([
            project(PROJECT, ORG, "ACTIVE_HEALTHY"),
            project(OTHER, OTHER_ORG, "INACTIVE")
        ]),
    )
    .await;
    mount(
        &mock,
        "GET",
        &format!("/v1/projects/{PROJECT}"),
        200,
        project(PROJECT, ORG, "ACTIVE_HEALTHY"),
    )
    .await;
    let mut s = start(&mock, &[]).await;
    let r = s.call("list_projects", json!({})).await;
    let d = ok(&r);
    assert_eq!(d["count"], 2);
    assert_eq!(
        d["projects"][0],
        json!({
            "id": PROJECT, "name": "app-abc", "organization_id": ORG,
            "region": "eu-central-1", "status": "ACTIVE_HEALTHY",
            "created_at": "2025-01-31T12:00:00.000Z", "postgres_version": "15.8.1.085"
        })
    );
    assert_eq!(d["projects"][1]["status"], "INACTIVE");
    let reqs = requests(&mock).await;
    assert_eq!(reqs.len(), 1);
    check(&reqs[0], "v1-list-all-projects");
    assert_eq!(reqs[0].url.path(), "/v1/projects");

    let r = s
        .call("get_project", json!({"id": format!(" {PROJECT} ")}))
        .await;
    let d = ok(&r);
    assert_eq!(d["id"], PROJECT);
    assert_eq!(d["organization_id"], ORG);
    assert_eq!(d["status"], "ACTIVE_HEALTHY");
    assert_eq!(d["database_host"], format!("db.{PROJECT}.supabase.co"));
    assert_eq!(d["postgres_version"], "15.8.1.085");
    let reqs = requests(&mock).await;
    assert_eq!(reqs.len(), 2);
    let params =
        api_common::Spec::load("supabase-management").check("v1-get-project", &reqs[1], "");
    assert_eq!(params["ref"], PROJECT);
    api_common::assert_header(&reqs[1], "authorization", &format!("Bearer {TOKEN}"));

    for bad in ["abc", "ABCDEFGHIJKLMNOPQRST", "abcdefghijklmnopqrs1", ""] {
        let r = s.call("get_project", json!({"id": bad})).await;
        assert_eq!(error_code(&r), "invalid_arguments", "{bad}: {r}");
        assert!(text(&r).contains("20 lowercase letters"), "{}", text(&r));
    }
    assert_eq!(requests(&mock).await.len(), 2);

    let r = with_answer(
        &mut s,
        &mock,
        "get_project",
        json!({"id": OTHER}),
        ResponseTemplate::new(404).set_body_json(json!({"message": "Project not found"})),
    )
    .await;
    assert_eq!(error_code(&r), "not_found", "{r}");
    assert!(text(&r).contains("Project not found"), "{}", text(&r));
    let r = with_answer(
        &mut s,
        &mock,
        "list_projects",
        json!({}),
        ResponseTemplate::new(403).set_body_json(json!({"message": "Forbidden resource"})),
    )
    .await;
    assert_eq!(error_code(&r), "permission_denied", "{r}");
    check_server_errors(&mut s, &mock, "list_projects", json!({})).await;
    check_server_errors(&mut s, &mock, "get_project", json!({"id": PROJECT})).await;
}

async fn mount_cost(mock: &MockServer, plan: Option<&str>, projects: Value) {
    mount(
        mock,
        "GET",
        &format!("/v1/organizations/{ORG}"),
        200,
        organization(plan),
    )
    .await;
    mount(mock, "GET", "/v1/projects", 200, projects).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn get_cost_prices_from_the_plan_and_active_projects() {
    let mock = MockServer::start().await;
    let mut s = start(&mock, &[]).await;
    let cost = |plan: &str| json!({"type": "project", "organization_id": plan});

    // Paid plan with an active project: $10 a month.
    mount_cost(
        &mock,
        Some("pro"),
        json!([
            project(PROJECT, ORG, "ACTIVE_HEALTHY"),
            project(OTHER, OTHER_ORG, "ACTIVE_HEALTHY")
        ]),
    )
    .await;
    let r = s.call("get_cost", cost(ORG)).await;
    let d = ok(&r);
    assert_eq!(d["type"], "project");
    assert_eq!(d["recurrence"], "monthly");
    assert_eq!(d["amount"], 10.0);
    assert_eq!(d["currency"], "USD");
    assert_eq!(d["plan"], "pro");
    assert_eq!(d["active_projects"], 1);
    assert!(d["basis"].as_str().unwrap().contains("0.01344"), "{d}");
    assert!(d["next_step"].as_str().unwrap().contains("confirm_cost"));
    // The two lookups run side by side, in either order.
    let mut reqs = requests(&mock).await;
    assert_eq!(reqs.len(), 2);
    reqs.sort_by_key(|q| q.url.path().to_owned());
    check(&reqs[0], "v1-get-an-organization");
    assert_eq!(reqs[0].url.path(), format!("/v1/organizations/{ORG}"));
    check(&reqs[1], "v1-list-all-projects");

    // Paid plan, only paused projects: the credits cover the first.
    mock.reset().await;
    mount_cost(
        &mock,
        Some("team"),
        json!([project(PROJECT, ORG, "INACTIVE")]),
    )
    .await;
    let r = s.call("get_cost", cost(ORG)).await;
    assert_eq!(ok(&r)["amount"], 0.0);
    assert_eq!(ok(&r)["active_projects"], 0);

    // Free plan: nothing, with a warning once two projects are active.
    mock.reset().await;
    mount_cost(
        &mock,
        Some("free"),
        json!([project(PROJECT, ORG, "ACTIVE_HEALTHY")]),
    )
    .await;
    let r = s.call("get_cost", cost(ORG)).await;
    assert_eq!(ok(&r)["amount"], 0.0);
    assert!(r["structuredContent"]["warnings"].is_null(), "{r}");
    mock.reset().await;
    mount_cost(
        &mock,
        Some("free"),
        json!([
            project(PROJECT, ORG, "ACTIVE_HEALTHY"),
            project(OTHER, ORG, "COMING_UP")
        ]),
    )
    .await;
    let r = s.call("get_cost", cost(ORG)).await;
    assert_eq!(ok(&r)["amount"], 0.0);
    assert!(
        r["structuredContent"]["warnings"][0]
            .as_str()
            .unwrap()
            .contains("pause_project"),
        "{r}"
    );

    // No plan reported: priced as paid, and the result says so.
    mock.reset().await;
    mount_cost(
        &mock,
        None,
        json!([project(PROJECT, ORG, "ACTIVE_HEALTHY")]),
    )
    .await;
    let r = s.call("get_cost", cost(ORG)).await;
    assert_eq!(ok(&r)["amount"], 10.0);
    assert!(ok(&r)["basis"].as_str().unwrap().contains("priced as paid"));

    // A branch: hourly, the same on every plan, no request.
    mock.reset().await;
    let r = s
        .call(
            "get_cost",
            json!({"type": "branch", "organization_id": ORG}),
        )
        .await;
    let d = ok(&r);
    assert_eq!(d["type"], "branch");
    assert_eq!(d["recurrence"], "hourly");
    assert_eq!(d["amount"], 0.01344);
    assert!(requests(&mock).await.is_empty());

    for bad in [
        json!({"type": "database", "organization_id": ORG}),
        json!({"type": "project", "organization_id": ""}),
        json!({"type": "project"}),
    ] {
        let r = s.call("get_cost", bad.clone()).await;
        assert_eq!(error_code(&r), "invalid_arguments", "{bad}: {r}");
    }
    assert!(requests(&mock).await.is_empty());

    let r = with_answer(
        &mut s,
        &mock,
        "get_cost",
        cost("nobody"),
        ResponseTemplate::new(404).set_body_json(json!({"message": "Organization not found"})),
    )
    .await;
    assert_eq!(error_code(&r), "not_found", "{r}");
    check_server_errors(&mut s, &mock, "get_cost", cost(ORG)).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn confirm_cost_hashes_type_recurrence_and_amount() {
    let mock = MockServer::start().await;
    let mut s = start(&mock, &[]).await;
    let confirm =
        |t: &str, rec: &str, amount: Value| json!({"type": t, "recurrence": rec, "amount": amount});
    let r = s
        .call("confirm_cost", confirm("project", "monthly", json!(10)))
        .await;
    let d = ok(&r);
    assert_eq!(d["confirm_cost_id"], hash_id("project:monthly:10"));
    assert!(d["next_step"].as_str().unwrap().contains("create_project"));
    assert!(r["structuredContent"]["warnings"].is_null(), "{r}");
    // Deterministic: 10 and 10.0 are the same cost.
    let again = s
        .call("confirm_cost", confirm("project", "monthly", json!(10.0)))
        .await;
    assert_eq!(ok(&again)["confirm_cost_id"], d["confirm_cost_id"]);
    let r = s
        .call("confirm_cost", confirm("project", "monthly", json!(0)))
        .await;
    assert_eq!(ok(&r)["confirm_cost_id"], hash_id("project:monthly:0"));
    let r = s
        .call("confirm_cost", confirm("branch", "hourly", json!(0.01344)))
        .await;
    assert_eq!(ok(&r)["confirm_cost_id"], hash_id("branch:hourly:0.01344"));
    assert!(
        ok(&r)["next_step"]
            .as_str()
            .unwrap()
            .contains("create_branch")
    );

    // A cost get_cost never reports still hashes, with a warning.
    let r = s
        .call("confirm_cost", confirm("project", "hourly", json!(0.01344)))
        .await;
    assert_eq!(ok(&r)["confirm_cost_id"], hash_id("project:hourly:0.01344"));
    assert!(
        r["structuredContent"]["warnings"][0]
            .as_str()
            .unwrap()
            .contains("get_cost"),
        "{r}"
    );

    for bad in [
        confirm("project", "monthly", json!(-1)),
        confirm("project", "weekly", json!(10)),
        confirm("project", "monthly", json!("10")),
        json!({"type": "project", "recurrence": "monthly"}),
    ] {
        let r = s.call("confirm_cost", bad.clone()).await;
        assert_eq!(error_code(&r), "invalid_arguments", "{bad}: {r}");
    }
    assert!(
        requests(&mock).await.is_empty(),
        "confirm_cost sends nothing"
    );
}

/// A server on piped stderr with trace logging, as in `tests/redaction.rs`.
async fn start_logged(
    mock: &MockServer,
) -> (
    supabase_mcp::mcp_client::StdioClient,
    tokio::task::JoinHandle<String>,
    tempfile::TempDir,
) {
    let dir = tempfile::tempdir().unwrap();
    let uri = mock.uri();
    let mut cmd = tokio::process::Command::new(bin());
    cmd.args([
        "serve",
        "--data-dir",
        dir.path().to_str().unwrap(),
        "--mode",
        "cloud",
        "--access-token",
        TOKEN,
        "--api-url",
        &uri,
        "--features",
        "account",
        "--log-level",
        "trace",
    ])
    .stdin(Stdio::piped())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .env_remove("RUST_LOG")
    .kill_on_drop(true);
    for (k, _) in std::env::vars() {
        if k.starts_with("SUPABASE_") || k == "DATABASE_URL" || k.starts_with("DOKPLOY_") {
            cmd.env_remove(k);
        }
    }
    let mut child = cmd.spawn().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let logs = tokio::spawn(async move {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s).await;
        s
    });
    let mut client = supabase_mcp::mcp_client::StdioClient::from_child(child).unwrap();
    client.initialize().await.unwrap();
    (client, logs, dir)
}

fn created(name: &str) -> Value {
    json!({
        "id": OTHER, "ref": OTHER, "organization_id": ORG, "organization_slug": ORG,
        "name": name, "region": "eu-west-2", "created_at": "2025-02-01T08:00:00Z",
        "status": "COMING_UP"
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn create_project_after_get_cost_and_confirm_cost() {
    let mock = MockServer::start().await;
    mount_cost(
        &mock,
        Some("pro"),
        json!([project(PROJECT, ORG, "ACTIVE_HEALTHY")]),
    )
    .await;
    mount(&mock, "POST", "/v1/projects", 201, created("shop")).await;
    let (mut client, logs, dir) = start_logged(&mock).await;
    let mut results = Vec::new();

    let cost = client
        .call(
            "get_cost",
            json!({"type": "project", "organization_id": ORG}),
        )
        .await
        .unwrap();
    let c = ok(&cost).clone();
    results.push(cost);
    let confirmed = client
        .call(
            "confirm_cost",
            json!({"type": c["type"], "recurrence": c["recurrence"], "amount": c["amount"]}),
        )
        .await
        .unwrap();
    let id = ok(&confirmed)["confirm_cost_id"]
        .as_str()
        .unwrap()
        .to_owned();
    results.push(confirmed);
    assert_eq!(id, hash_id("project:monthly:10"));
    mock.reset().await;
    mount_cost(
        &mock,
        Some("pro"),
        json!([project(PROJECT, ORG, "ACTIVE_HEALTHY")]),
    )
    .await;
    mount(&mock, "POST", "/v1/projects", 201, created("shop")).await;

    // Wrong, empty or missing ids: refused before any request.
    for bad in [
        json!({"name": "shop", "region": "eu-west-2", "organization_id": ORG, "confirm_cost_id": "0000000000000000"}),
        json!({"name": "shop", "region": "eu-west-2", "organization_id": ORG, "confirm_cost_id": ""}),
        json!({"name": "shop", "region": "eu-west-2", "organization_id": ORG, "confirm_cost_id": hash_id("branch:hourly:0.01344")}),
    ] {
        let r = client.call("create_project", bad.clone()).await.unwrap();
        assert_eq!(error_code(&r), "invalid_arguments", "{bad}: {r}");
        let t = text(&r);
        assert!(t.contains("get_cost") && t.contains("confirm_cost"), "{t}");
        results.push(r);
    }
    let r = client
        .call(
            "create_project",
            json!({"name": "shop", "region": "eu-west-2", "organization_id": ORG}),
        )
        .await
        .unwrap();
    assert_eq!(error_code(&r), "invalid_arguments", "{r}");
    assert!(text(&r).contains("confirm_cost_id"), "{}", text(&r));
    // Bad name, region or organization: refused before any request.
    for (bad, needle) in [
        (
            json!({"name": " ", "region": "eu-west-2", "organization_id": ORG, "confirm_cost_id": id}),
            "`name` is empty",
        ),
        (
            json!({"name": "shop", "region": "mars-1", "organization_id": ORG, "confirm_cost_id": id}),
            "eu-central-1",
        ),
        (
            json!({"name": "shop", "region": "eu-west-2", "organization_id": "a/b", "confirm_cost_id": id}),
            "list_organizations",
        ),
        (
            json!({"name": "x".repeat(300), "region": "eu-west-2", "organization_id": ORG, "confirm_cost_id": id}),
            "256",
        ),
    ] {
        let r = client.call("create_project", bad.clone()).await.unwrap();
        assert_eq!(error_code(&r), "invalid_arguments", "{bad}: {r}");
        assert!(text(&r).contains(needle), "{needle}: {}", text(&r));
    }
    assert!(
        requests(&mock).await.is_empty(),
        "nothing sent for a refused call"
    );

    // A real cost id, but not this organization's current cost ($0 vs $10):
    // the cost is looked up, nothing is created.
    let stale = hash_id("project:monthly:0");
    let r = client
        .call(
            "create_project",
            json!({"name": "shop", "region": "eu-west-2", "organization_id": ORG, "confirm_cost_id": stale}),
        )
        .await
        .unwrap();
    assert_eq!(error_code(&r), "invalid_arguments", "{r}");
    assert!(text(&r).contains("$10/month"), "{}", text(&r));
    assert!(
        requests(&mock)
            .await
            .iter()
            .all(|q| q.method.as_str() == "GET"),
        "no project created with a stale cost id"
    );
    results.push(r);

    mock.reset().await;
    mount_cost(
        &mock,
        Some("pro"),
        json!([project(PROJECT, ORG, "ACTIVE_HEALTHY")]),
    )
    .await;
    mount(&mock, "POST", "/v1/projects", 201, created("shop")).await;
    let r = client
        .call(
            "create_project",
            json!({"name": " shop ", "region": "eu-west-2", "organization_id": ORG, "confirm_cost_id": id.to_uppercase()}),
        )
        .await
        .unwrap();
    let d = ok(&r).clone();
    assert_eq!(d["project"]["id"], OTHER);
    assert_eq!(d["project"]["name"], "shop");
    assert_eq!(d["project"]["region"], "eu-west-2");
    assert_eq!(d["project"]["status"], "COMING_UP");
    assert_eq!(d["project"]["organization_id"], ORG);
    assert_eq!(d["cost"]["amount"], 10.0);
    assert!(d["next_step"].as_str().unwrap().contains("get_project"));
    results.push(r);

    let reqs = requests(&mock).await;
    let posts: Vec<&Request> = reqs
        .iter()
        .filter(|q| q.method.as_str() == "POST")
        .collect();
    assert_eq!(posts.len(), 1);
    check(posts[0], "v1-create-a-project");
    assert_eq!(posts[0].url.path(), "/v1/projects");
    let body: Value = serde_json::from_slice(&posts[0].body).unwrap();
    let mut keys: Vec<&str> = body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "db_pass",
            "name",
            "organization_id",
            "organization_slug",
            "region"
        ],
        "{body}"
    );
    assert_eq!(body["name"], "shop");
    assert_eq!(body["region"], "eu-west-2");
    assert_eq!(body["organization_slug"], ORG);
    assert_eq!(body["organization_id"], ORG);
    let password = body["db_pass"].as_str().unwrap().to_owned();
    assert_eq!(password.len(), 32, "a strong password");
    assert!(password.chars().all(|c| c.is_ascii_alphanumeric()));
    assert!(password.chars().any(|c| c.is_ascii_digit()));
    assert!(password.chars().any(|c| c.is_ascii_uppercase()));

    // A second project gets another password.
    let again = client
        .call(
            "create_project",
            json!({"name": "shop", "region": "eu-west-2", "organization_id": ORG, "confirm_cost_id": id}),
        )
        .await
        .unwrap();
    ok(&again);
    results.push(again);
    let reqs = requests(&mock).await;
    let second: Value = serde_json::from_slice(&reqs.last().unwrap().body).unwrap();
    assert_ne!(second["db_pass"], json!(password));

    client.shutdown().await.unwrap();
    let logs = logs.await.unwrap();
    let all = results
        .iter()
        .map(Value::to_string)
        .collect::<Vec<_>>()
        .join("\n");
    let audit = std::fs::read_to_string(dir.path().join("audit.jsonl")).unwrap();
    assert!(audit.contains("create_project"), "{audit}");
    for pw in [password.as_str(), second["db_pass"].as_str().unwrap()] {
        assert!(!all.contains(pw), "the password is in a tool result");
        assert!(!logs.contains(pw), "the password is in the logs");
        assert!(!audit.contains(pw), "the password is in the audit log");
    }
    assert!(!logs.contains(TOKEN), "the token is in the logs");
    assert!(!logs.is_empty(), "trace logging should write something");
}

/// A free organization with no project, and `post` for the create call.
async fn mount_free(mock: &MockServer, post: ResponseTemplate) {
    mock.reset().await;
    mount_cost(mock, Some("free"), json!([])).await;
    Mock::given(method("POST"))
        .and(path("/v1/projects"))
        .respond_with(post)
        .mount(mock)
        .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn create_project_explains_api_failures() {
    let mock = MockServer::start().await;
    let mut s = start(&mock, &[]).await;
    let id = hash_id("project:monthly:0");
    let args = json!({"name": "shop", "region": "us-east-1", "organization_id": ORG, "confirm_cost_id": id});
    let post_count =
        |reqs: Vec<Request>| reqs.iter().filter(|q| q.method.as_str() == "POST").count();

    mount_free(
        &mock,
        ResponseTemplate::new(401).set_body_json(json!({"message": "Invalid token"})),
    )
    .await;
    let r = s.call("create_project", args.clone()).await;
    assert_eq!(error_code(&r), "permission_denied", "{r}");
    assert!(text(&r).contains("access token"), "{}", text(&r));
    assert_eq!(post_count(requests(&mock).await), 1, "not retried");

    mount_free(
        &mock,
        ResponseTemplate::new(402)
            .set_body_json(json!({"message": "The free plan allows 2 active projects"})),
    )
    .await;
    let r = s.call("create_project", args.clone()).await;
    assert_eq!(error_code(&r), "api_error", "{r}");
    assert!(text(&r).contains("2 active projects"), "{}", text(&r));
    assert!(text(&r).contains("plan"), "{}", text(&r));

    mount_free(&mock, ResponseTemplate::new(503).set_body_string("boom")).await;
    let r = s.call("create_project", args.clone()).await;
    assert_eq!(error_code(&r), "api_error", "{r}");
    assert!(text(&r).contains("HTTP 503"), "{}", text(&r));
    assert_eq!(
        post_count(requests(&mock).await),
        1,
        "a create is never retried"
    );

    mount_free(
        &mock,
        ResponseTemplate::new(201).set_body_json(json!({"ref": 12})),
    )
    .await;
    let r = s.call("create_project", args.clone()).await;
    assert_eq!(error_code(&r), "api_error", "{r}");
    assert!(text(&r).contains("could not be used"), "{}", text(&r));

    // The cost lookup failing stops the call too.
    check_server_errors(&mut s, &mock, "create_project", args).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn pause_project_asks_first_then_pauses() {
    let mock = MockServer::start().await;
    let p = format!("/v1/projects/{PROJECT}");
    mount(
        &mock,
        "GET",
        &p,
        200,
        project(PROJECT, ORG, "ACTIVE_HEALTHY"),
    )
    .await;
    Mock::given(method("POST"))
        .and(path(format!("{p}/pause")))
        .respond_with(ResponseTemplate::new(200))
        .mount(&mock)
        .await;
    let mut s = start(&mock, &[]).await;
    let args = json!({"project_id": PROJECT});
    let first = s.call("pause_project", args.clone()).await;
    assert_eq!(status(&first), "confirmation_required", "{first}");
    assert!(
        data(&first)["action"]
            .as_str()
            .unwrap()
            .contains("restore_project"),
        "{first}"
    );
    assert!(
        requests(&mock).await.is_empty(),
        "nothing before the confirmation"
    );
    let mut confirmed = args.clone();
    confirmed["confirmation_token"] = data(&first)["confirmation_token"].clone();
    let r = s.call("pause_project", confirmed).await;
    let d = ok(&r);
    assert_eq!(d["id"], PROJECT);
    assert_eq!(d["changed"], true);
    assert_eq!(d["previous_status"], "ACTIVE_HEALTHY");
    assert!(d["next_step"].as_str().unwrap().contains("restore_project"));
    let reqs = requests(&mock).await;
    assert_eq!(reqs.len(), 2);
    check(&reqs[0], "v1-get-project");
    check(&reqs[1], "v1-pause-a-project");
    assert_eq!(reqs[1].url.path(), format!("{p}/pause"));
    assert!(reqs[1].body.is_empty());

    // An invalid ref is refused without a confirmation or a request.
    let r = s.call("pause_project", json!({"project_id": "nope"})).await;
    assert_eq!(error_code(&r), "invalid_arguments", "{r}");
    assert!(text(&r).contains("list_projects"), "{}", text(&r));
    assert_eq!(requests(&mock).await.len(), 2);

    // Already paused: nothing to do, nothing sent.
    let mut s = start(&mock, &["--allow-destructive"]).await;
    mock.reset().await;
    mount(&mock, "GET", &p, 200, project(PROJECT, ORG, "INACTIVE")).await;
    let r = s.call("pause_project", args.clone()).await;
    assert_eq!(ok(&r)["changed"], false);
    assert!(
        requests(&mock)
            .await
            .iter()
            .all(|q| q.method.as_str() == "GET")
    );

    // The API refuses the pause: its message comes through.
    mock.reset().await;
    mount(
        &mock,
        "GET",
        &p,
        200,
        project(PROJECT, ORG, "ACTIVE_HEALTHY"),
    )
    .await;
    mount(
        &mock,
        "POST",
        &format!("{p}/pause"),
        400,
        json!({"message": "Only free-plan projects can be paused"}),
    )
    .await;
    let r = s.call("pause_project", args.clone()).await;
    assert_eq!(error_code(&r), "api_error", "{r}");
    assert!(text(&r).contains("free-plan projects"), "{}", text(&r));

    let r = with_answer(
        &mut s,
        &mock,
        "pause_project",
        json!({"project_id": OTHER}),
        ResponseTemplate::new(404).set_body_json(json!({"message": "Project not found"})),
    )
    .await;
    assert_eq!(error_code(&r), "not_found", "{r}");
    check_server_errors(&mut s, &mock, "pause_project", args).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn restore_project_restores_a_paused_project() {
    let mock = MockServer::start().await;
    let p = format!("/v1/projects/{PROJECT}");
    mount(&mock, "GET", &p, 200, project(PROJECT, ORG, "INACTIVE")).await;
    Mock::given(method("POST"))
        .and(path(format!("{p}/restore")))
        .respond_with(ResponseTemplate::new(200))
        .mount(&mock)
        .await;
    let mut s = start(&mock, &[]).await;
    let args = json!({"project_id": PROJECT});
    let r = s.call("restore_project", args.clone()).await;
    let d = ok(&r);
    assert_eq!(d["changed"], true);
    assert_eq!(d["previous_status"], "INACTIVE");
    assert!(d["next_step"].as_str().unwrap().contains("ACTIVE_HEALTHY"));
    let reqs = requests(&mock).await;
    assert_eq!(reqs.len(), 2);
    check(&reqs[0], "v1-get-project");
    check(&reqs[1], "v1-restore-a-project");
    assert_eq!(reqs[1].url.path(), format!("{p}/restore"));

    // Running already: nothing sent.
    mock.reset().await;
    mount(
        &mock,
        "GET",
        &p,
        200,
        project(PROJECT, ORG, "ACTIVE_HEALTHY"),
    )
    .await;
    let r = s.call("restore_project", args.clone()).await;
    assert_eq!(ok(&r)["changed"], false);
    // Still pausing: wait first.
    mock.reset().await;
    mount(&mock, "GET", &p, 200, project(PROJECT, ORG, "PAUSING")).await;
    let r = s.call("restore_project", args.clone()).await;
    assert_eq!(error_code(&r), "invalid_arguments", "{r}");
    assert!(text(&r).contains("INACTIVE"), "{}", text(&r));
    assert!(
        requests(&mock)
            .await
            .iter()
            .all(|q| q.method.as_str() == "GET")
    );

    let r = s.call("restore_project", json!({"project_id": ""})).await;
    assert_eq!(error_code(&r), "invalid_arguments", "{r}");
    assert!(text(&r).contains("`project_id` is empty"), "{}", text(&r));

    // The restore itself fails.
    mock.reset().await;
    mount(&mock, "GET", &p, 200, project(PROJECT, ORG, "INACTIVE")).await;
    mount(
        &mock,
        "POST",
        &format!("{p}/restore"),
        401,
        json!({"message": "Unauthorized"}),
    )
    .await;
    let r = s.call("restore_project", args.clone()).await;
    assert_eq!(error_code(&r), "permission_denied", "{r}");
    let r = with_answer(
        &mut s,
        &mock,
        "restore_project",
        json!({"project_id": OTHER}),
        ResponseTemplate::new(404).set_body_json(json!({"message": "Project not found"})),
    )
    .await;
    assert_eq!(error_code(&r), "not_found", "{r}");
    check_server_errors(&mut s, &mock, "restore_project", args).await;
}

/// A project tool's 404 for a ref the token cannot see names the closest
/// ref, or the ref of a project with that name; a 404 for something inside
/// an existing project is left as it is.
#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_project_ref_gets_the_closest_one() {
    let mock = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/projects"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([
            project(PROJECT, ORG, "ACTIVE_HEALTHY"),
            project(OTHER, ORG, "ACTIVE_HEALTHY"),
        ])))
        .mount(&mock)
        .await;
    Mock::given(method("GET"))
        .and(path_regex("^/v1/projects/[a-z]+/config/storage$"))
        .respond_with(ResponseTemplate::new(404).set_body_json(json!({"message": "not found"})))
        .mount(&mock)
        .await;
    let mut s = start_cloud(&mock.uri(), "storage", false, &[]).await;
    let typo = format!("{}x", &PROJECT[..19]);
    let r = s
        .call("get_storage_config", json!({"project_id": typo}))
        .await;
    assert_eq!(error_code(&r), "not_found", "{r}");
    assert!(
        text(&r).contains(&format!("did you mean `{PROJECT}`")),
        "{r}"
    );

    // The project exists: the message is the API's, no guess.
    let r = s
        .call("get_storage_config", json!({"project_id": PROJECT}))
        .await;
    assert_eq!(error_code(&r), "not_found", "{r}");
    assert!(!text(&r).contains("did you mean"), "{r}");
}
