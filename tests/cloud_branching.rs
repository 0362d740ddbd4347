//! The `branching` tools in cloud mode against a mock Management API: the
//! exact requests (checked against `specs/supabase-management.yaml`), the
//! cost confirmation of `create_branch`, the confirmation of the destructive
//! branch actions, the refusal of another project's branch when the server
//! is scoped, and API failures turned into clear tool errors.

mod api_common;
mod common;

use common::*;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const TOKEN: &str = CLOUD_TOKEN;
const PROJECT: &str = CLOUD_PROJECT;
const OTHER: &str = "zyxwvutsrqponmlkjihg";
/// The development branch of PROJECT: its id and its own project ref.
const BRANCH_ID: &str = "0b6f8c2e-3d4a-4c2b-9a1e-6f7d8e9a0b1c";
const BRANCH_REF: &str = "bbbbbbbbbbbbbbbbbbbb";
/// A branch of OTHER.
const FOREIGN_ID: &str = "9e8d7c6b-5a49-4838-a726-150f0e0d0c0b";
const FOREIGN_REF: &str = "cccccccccccccccccccc";
const MAIN_ID: &str = "11111111-2222-4333-8444-555555555555";

/// The agreed cost id: sha256("branch:hourly:0.01344"), hex, first 16.
fn cost_id() -> String {
    hex::encode(Sha256::digest(b"branch:hourly:0.01344"))[..16].to_owned()
}

fn branch(id: &str, name: &str, project_ref: &str, parent: &str, is_default: bool) -> Value {
    json!({
        "id": id, "name": name, "project_ref": project_ref, "parent_project_ref": parent,
        "is_default": is_default, "persistent": false, "status": "MIGRATIONS_PASSED",
        "created_at": "2025-01-31T12:00:00Z", "updated_at": "2025-01-31T12:05:00Z",
        "with_data": false, "git_branch": "feature/login",
        "preview_project_status": "ACTIVE_HEALTHY"
    })
}

fn project_branches() -> Value {
    json!([
        branch(MAIN_ID, "main", PROJECT, PROJECT, true),
        branch(BRANCH_ID, "feature-login", BRANCH_REF, PROJECT, false),
    ])
}

async fn start(mock: &MockServer, scoped: bool, extra: &[&str]) -> Server {
    start_cloud(&mock.uri(), "branching", scoped, extra).await
}

async fn requests(mock: &MockServer) -> Vec<Request> {
    mock.received_requests().await.unwrap()
}

/// Checks a request against its spec operation and the bearer token.
fn check(req: &Request, op: &str) {
    api_common::Spec::load("supabase-management").check(op, req, "");
    api_common::assert_header(req, "authorization", &format!("Bearer {TOKEN}"));
}

fn body(req: &Request) -> Value {
    serde_json::from_slice(&req.body).unwrap()
}

fn ok(r: &Value) -> &Value {
    assert_eq!(status(r), "ok", "{r}");
    data(r)
}

async fn mount_list(mock: &MockServer, project: &str, branches: Value) {
    Mock::given(method("GET"))
        .and(path(format!("/v1/projects/{project}/branches")))
        .respond_with(ResponseTemplate::new(200).set_body_json(branches))
        .mount(mock)
        .await;
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
async fn list_branches_shows_ids_refs_and_status() {
    let mock = MockServer::start().await;
    mount_list(&mock, PROJECT, project_branches()).await;
    let mut s = start(&mock, true, &[]).await;
    let r = s.call("list_branches", json!({})).await;
    let d = ok(&r);
    assert!(text(&r).contains("<untrusted-data-"), "{r}");
    assert_eq!(d["project_id"], PROJECT);
    assert_eq!(d["count"], 2);
    let b = &d["branches"][1];
    assert_eq!(b["id"], BRANCH_ID);
    assert_eq!(b["name"], "feature-login");
    assert_eq!(b["project_ref"], BRANCH_REF);
    assert_eq!(b["parent_project_ref"], PROJECT);
    assert_eq!(b["is_default"], false);
    assert_eq!(b["status"], "ACTIVE_HEALTHY");
    assert_eq!(b["git_branch"], "feature/login");
    assert_eq!(d["branches"][0]["is_default"], true);
    let reqs = requests(&mock).await;
    assert_eq!(reqs.len(), 1);
    check(&reqs[0], "v1-list-all-branches");
    assert_eq!(
        reqs[0].url.path(),
        format!("/v1/projects/{PROJECT}/branches")
    );

    // Unscoped: the project comes from project_id.
    mount_list(&mock, OTHER, json!([])).await;
    let mut s = start(&mock, false, &[]).await;
    let r = s.call("list_branches", json!({"project_id": OTHER})).await;
    assert_eq!(ok(&r)["count"], 0);
    assert!(
        r["structuredContent"]["warnings"]
            .to_string()
            .contains("branching"),
        "{r}"
    );
    let r = s.call("list_branches", json!({})).await;
    assert_eq!(error_code(&r), "invalid_arguments");
    assert!(text(&r).contains("project_id"), "{}", text(&r));
}

#[tokio::test(flavor = "multi_thread")]
async fn create_branch_checks_the_cost_and_sends_the_name() {
    let mock = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(format!("/v1/projects/{PROJECT}/branches")))
        .respond_with(ResponseTemplate::new(201).set_body_json(branch(
            BRANCH_ID,
            "feature-login",
            BRANCH_REF,
            PROJECT,
            false,
        )))
        .mount(&mock)
        .await;
    let mut s = start(&mock, true, &[]).await;

    // A wrong or missing cost id never reaches the API.
    for bad in ["0000000000000000", "", "branch:hourly:0.01344"] {
        let r = s
            .call(
                "create_branch",
                json!({"name": "feature-login", "confirm_cost_id": bad}),
            )
            .await;
        assert_eq!(error_code(&r), "invalid_arguments", "{r}");
        assert!(text(&r).contains("confirm_cost"), "{}", text(&r));
    }
    let r = s
        .call("create_branch", json!({"name": "feature-login"}))
        .await;
    assert_eq!(error_code(&r), "invalid_arguments");
    assert!(text(&r).contains("confirm_cost_id"), "{}", text(&r));
    let r = s
        .call(
            "create_branch",
            json!({"name": "  ", "confirm_cost_id": cost_id()}),
        )
        .await;
    assert_eq!(error_code(&r), "invalid_arguments");
    assert!(text(&r).contains("`name` is empty"), "{}", text(&r));
    assert!(requests(&mock).await.is_empty());

    let r = s
        .call(
            "create_branch",
            json!({"name": " feature-login ", "confirm_cost_id": cost_id().to_uppercase()}),
        )
        .await;
    let d = ok(&r);
    assert_eq!(d["branch"]["id"], BRANCH_ID);
    assert_eq!(d["branch"]["project_ref"], BRANCH_REF);
    assert!(d["next_step"].as_str().unwrap().contains("list_branches"));
    let reqs = requests(&mock).await;
    assert_eq!(reqs.len(), 1);
    check(&reqs[0], "v1-create-a-branch");
    assert_eq!(body(&reqs[0]), json!({"branch_name": "feature-login"}));

    // Not destructive: no confirmation, and hidden when read-only.
    let tools = s.tools().await;
    let t = tools.iter().find(|t| t["name"] == "create_branch").unwrap();
    // Hints at the protocol's defaults are left out (read-only: false).
    assert_eq!(t["annotations"]["destructiveHint"], false, "{t}");
    assert_ne!(t["annotations"]["readOnlyHint"], true, "{t}");
    assert!(
        t["inputSchema"]["properties"]
            .get("confirmation_token")
            .is_none()
    );
    assert_eq!(
        t["inputSchema"]["required"],
        json!(["name", "confirm_cost_id"]),
        "{t}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn branch_actions_ask_for_confirmation_then_send_the_exact_request() {
    let mock = MockServer::start().await;
    mount_list(&mock, PROJECT, project_branches()).await;
    Mock::given(method("DELETE"))
        .and(path(format!("/v1/branches/{BRANCH_ID}")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"message": "ok"})))
        .mount(&mock)
        .await;
    for action in ["merge", "reset", "push"] {
        Mock::given(method("POST"))
            .and(path(format!("/v1/branches/{BRANCH_REF}/{action}")))
            .respond_with(ResponseTemplate::new(201).set_body_json(
                json!({"workflow_run_id": format!("run-{action}"), "message": "ok"}),
            ))
            .mount(&mock)
            .await;
    }
    let mut s = start(&mock, true, &[]).await;

    let cases = [
        (
            "delete_branch",
            json!({"branch_id": BRANCH_ID}),
            "DELETE",
            format!("/v1/branches/{BRANCH_ID}"),
            "v1-delete-a-branch",
            None,
        ),
        (
            "merge_branch",
            json!({"branch_id": BRANCH_REF}),
            "POST",
            format!("/v1/branches/{BRANCH_REF}/merge"),
            "v1-merge-a-branch",
            Some(json!({})),
        ),
        (
            "reset_branch",
            json!({"branch_id": BRANCH_REF, "migration_version": "20250131120000"}),
            "POST",
            format!("/v1/branches/{BRANCH_REF}/reset"),
            "v1-reset-a-branch",
            Some(json!({"migration_version": "20250131120000"})),
        ),
        (
            "reset_branch",
            json!({"branch_id": BRANCH_REF}),
            "POST",
            format!("/v1/branches/{BRANCH_REF}/reset"),
            "v1-reset-a-branch",
            Some(json!({})),
        ),
        (
            "rebase_branch",
            json!({"branch_id": BRANCH_REF}),
            "POST",
            format!("/v1/branches/{BRANCH_REF}/push"),
            "v1-push-a-branch",
            Some(json!({})),
        ),
    ];
    for (tool, args, verb, route, op, sent) in cases {
        let before = requests(&mock).await.len();
        let first = s.call(tool, args.clone()).await;
        assert_eq!(status(&first), "confirmation_required", "{tool}: {first}");
        let action = data(&first)["action"].as_str().unwrap().to_owned();
        assert!(
            action.contains(args["branch_id"].as_str().unwrap()),
            "{action}"
        );
        assert_eq!(
            requests(&mock).await.len(),
            before,
            "{tool}: nothing is sent before the confirmation"
        );
        let mut confirmed_args = args.clone();
        confirmed_args["confirmation_token"] = data(&first)["confirmation_token"].clone();
        let r = s.call(tool, confirmed_args).await;
        let d = ok(&r);
        assert_eq!(d["branch_id"], args["branch_id"], "{d}");
        assert_eq!(d["name"], "feature-login", "{d}");
        let reqs = requests(&mock).await;
        let new = &reqs[before..];
        assert_eq!(new.len(), 2, "{tool}: the scope lookup, then the action");
        check(&new[0], "v1-list-all-branches");
        check(&new[1], op);
        assert_eq!(new[1].method.as_str(), verb);
        assert_eq!(new[1].url.path(), route);
        match sent {
            None => {
                assert!(new[1].body.is_empty());
                assert_eq!(new[1].url.query(), None);
                assert_eq!(d["deleted"], true);
            }
            Some(b) => {
                assert_eq!(body(&new[1]), b, "{tool}");
                assert!(
                    d["workflow_run_id"].as_str().unwrap().starts_with("run-"),
                    "{d}"
                );
            }
        }
        // A token is single-use.
        let mut again = args.clone();
        again["confirmation_token"] = data(&first)["confirmation_token"].clone();
        let r = s.call(tool, again).await;
        assert_eq!(error_code(&r), "confirmation_required", "{r}");
    }
    let tools = s.tools().await;
    for name in [
        "delete_branch",
        "merge_branch",
        "reset_branch",
        "rebase_branch",
    ] {
        let t = tools.iter().find(|t| t["name"] == name).unwrap();
        // Destructive is the protocol's default: the hint is left out.
        assert_ne!(t["annotations"]["destructiveHint"], false, "{t}");
        assert_ne!(t["annotations"]["readOnlyHint"], true, "{t}");
        assert!(
            t["inputSchema"]["properties"]["branch_id"].is_object(),
            "{t}"
        );
        assert!(t["description"].as_str().unwrap().len() < 100, "{t}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_branch_of_another_project_is_refused_when_scoped() {
    let mock = MockServer::start().await;
    mount_list(&mock, PROJECT, project_branches()).await;
    // The API would happily act on it: the tool must not get that far.
    Mock::given(method("DELETE"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"message": "ok"})))
        .mount(&mock)
        .await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(201)
                .set_body_json(json!({"workflow_run_id": "r", "message": "ok"})),
        )
        .mount(&mock)
        .await;
    let mut s = start(&mock, true, &[]).await;
    for (tool, id) in [
        ("delete_branch", FOREIGN_ID),
        ("merge_branch", FOREIGN_REF),
        ("reset_branch", FOREIGN_ID),
        ("rebase_branch", FOREIGN_REF),
    ] {
        let (_, r) = confirmed(&mut s, tool, json!({"branch_id": id})).await;
        assert!(is_error(&r), "{tool}: {r}");
        assert_eq!(error_code(&r), "invalid_arguments", "{r}");
        assert!(text(&r).contains("not a branch of project"), "{}", text(&r));
        assert!(text(&r).contains("list_branches"), "{}", text(&r));
    }
    // The production branch is refused too.
    let (_, r) = confirmed(&mut s, "reset_branch", json!({"branch_id": MAIN_ID})).await;
    assert_eq!(error_code(&r), "invalid_arguments");
    assert!(text(&r).contains("production branch"), "{}", text(&r));
    let (_, r) = confirmed(&mut s, "delete_branch", json!({"branch_id": PROJECT})).await;
    assert!(text(&r).contains("production branch"), "{}", text(&r));

    let reqs = requests(&mock).await;
    assert!(!reqs.is_empty());
    for req in &reqs {
        assert_eq!(
            req.method.as_str(),
            "GET",
            "only lookups: {} {}",
            req.method,
            req.url
        );
        assert_eq!(req.url.path(), format!("/v1/projects/{PROJECT}/branches"));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn unscoped_actions_go_straight_to_the_branch() {
    let mock = MockServer::start().await;
    Mock::given(method("DELETE"))
        .and(path(format!("/v1/branches/{FOREIGN_REF}")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"message": "ok"})))
        .mount(&mock)
        .await;
    let mut s = start(&mock, false, &["--allow-destructive"]).await;
    let r = s
        .call("delete_branch", json!({"branch_id": FOREIGN_REF}))
        .await;
    let d = ok(&r);
    assert_eq!(d["deleted"], true);
    assert!(d.get("name").is_none());
    let reqs = requests(&mock).await;
    assert_eq!(reqs.len(), 1, "no lookup without a scope");
    check(&reqs[0], "v1-delete-a-branch");
}

#[tokio::test(flavor = "multi_thread")]
async fn invalid_arguments_are_refused_without_a_confirmation() {
    let mock = MockServer::start().await;
    let mut s = start(&mock, true, &[]).await;
    for (tool, args, needle) in [
        (
            "delete_branch",
            json!({"branch_id": "main"}),
            "not a branch id",
        ),
        ("merge_branch", json!({"branch_id": ""}), "not a branch id"),
        ("rebase_branch", json!({}), "branch_id"),
        (
            "reset_branch",
            json!({"branch_id": BRANCH_REF, "migration_version": "1; drop table x"}),
            "not a migration version",
        ),
        (
            "reset_branch",
            json!({"branch_id": BRANCH_REF, "migration_version": 5}),
            "expected a string",
        ),
        (
            "delete_branch",
            json!({"branch_id": BRANCH_REF, "force": true}),
            "force",
        ),
    ] {
        let r = s.call(tool, args.clone()).await;
        assert!(is_error(&r), "{tool} {args}: {r}");
        assert_eq!(error_code(&r), "invalid_arguments", "{tool} {args}: {r}");
        assert!(text(&r).contains(needle), "{tool}: {}", text(&r));
    }
    assert!(requests(&mock).await.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn read_only_mode_hides_the_write_tools() {
    let mock = MockServer::start().await;
    let mut s = start(&mock, true, &["--read-only"]).await;
    let names: Vec<String> = s
        .tools()
        .await
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_owned())
        .collect();
    assert!(names.contains(&"list_branches".to_owned()), "{names:?}");
    for hidden in [
        "create_branch",
        "delete_branch",
        "merge_branch",
        "reset_branch",
        "rebase_branch",
    ] {
        assert!(!names.contains(&hidden.to_owned()), "{hidden} in {names:?}");
    }
    let r = s
        .call("delete_branch", json!({"branch_id": BRANCH_REF}))
        .await;
    assert_eq!(error_code(&r), "read_only");
}

/// Every branch tool, answered with `template` for every request, fails
/// with `code` and a text containing `needle`, without leaking the token.
async fn expect_failure(template: ResponseTemplate, code: &str, needle: &str) {
    let mock = MockServer::start().await;
    Mock::given(wiremock::matchers::any())
        .respond_with(template)
        .mount(&mock)
        .await;
    // Unscoped and without confirmations: each tool makes exactly its own call.
    let mut s = start(&mock, false, &["--allow-destructive"]).await;
    let calls = [
        (
            "list_branches",
            json!({"project_id": PROJECT}),
            "v1-list-all-branches",
        ),
        (
            "create_branch",
            json!({"project_id": PROJECT, "name": "dev", "confirm_cost_id": cost_id()}),
            "v1-create-a-branch",
        ),
        (
            "delete_branch",
            json!({"branch_id": BRANCH_ID}),
            "v1-delete-a-branch",
        ),
        (
            "merge_branch",
            json!({"branch_id": BRANCH_REF}),
            "v1-merge-a-branch",
        ),
        (
            "reset_branch",
            json!({"branch_id": BRANCH_REF}),
            "v1-reset-a-branch",
        ),
        (
            "rebase_branch",
            json!({"branch_id": BRANCH_REF}),
            "v1-push-a-branch",
        ),
    ];
    for (tool, args, _) in &calls {
        let r = s.call(tool, args.clone()).await;
        assert!(is_error(&r), "{tool}: {r}");
        assert_eq!(error_code(&r), code, "{tool}: {r}");
        let t = text(&r);
        assert!(t.contains(needle), "{tool}: {t}");
        assert!(t.contains("Suggestion:"), "{tool}: {t}");
        assert!(!t.contains(TOKEN), "{tool} leaks the token: {t}");
    }
    // A project tool's 404 also looks the ref up among the token's
    // projects (GET /v1/projects) to name the closest one: not a retry.
    let reqs: Vec<Request> = requests(&mock)
        .await
        .into_iter()
        .filter(|r| r.url.path() != "/v1/projects")
        .collect();
    assert_eq!(
        reqs.len(),
        calls.len(),
        "one request per call, none retried"
    );
    for (req, (_, _, op)) in reqs.iter().zip(&calls) {
        check(req, op);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn unauthorized_is_explained() {
    expect_failure(
        ResponseTemplate::new(401).set_body_json(json!({"message": format!("bad token {TOKEN}")})),
        "permission_denied",
        "access token",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn not_found_is_explained() {
    expect_failure(
        ResponseTemplate::new(404).set_body_json(json!({"message": "Branch not found"})),
        "not_found",
        "Branch not found",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn server_errors_are_explained() {
    expect_failure(
        ResponseTemplate::new(500).set_body_json(json!({"message": "Failed to run workflow"})),
        "api_error",
        "Failed to run workflow",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_bodies_are_explained() {
    // 200 and 201 both: a body that is not the declared shape.
    let mock = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"branches": "nope"})))
        .mount(&mock)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(201).set_body_string("<html>gateway</html>"))
        .mount(&mock)
        .await;
    Mock::given(method("DELETE"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"message": 3})))
        .mount(&mock)
        .await;
    let mut s = start(&mock, false, &["--allow-destructive"]).await;
    for (tool, args) in [
        ("list_branches", json!({"project_id": PROJECT})),
        (
            "create_branch",
            json!({"project_id": PROJECT, "name": "dev", "confirm_cost_id": cost_id()}),
        ),
        ("delete_branch", json!({"branch_id": BRANCH_ID})),
        ("merge_branch", json!({"branch_id": BRANCH_REF})),
        ("reset_branch", json!({"branch_id": BRANCH_REF})),
        ("rebase_branch", json!({"branch_id": BRANCH_REF})),
    ] {
        let r = s.call(tool, args).await;
        assert!(is_error(&r), "{tool}: {r}");
        assert_eq!(error_code(&r), "api_error", "{tool}: {r}");
        assert!(
            text(&r).contains("could not be used"),
            "{tool}: {}",
            text(&r)
        );
    }
}
