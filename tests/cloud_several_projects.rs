//! A server limited to several projects (`--project-ref a,b`): account
//! tools are hidden, project tools list the allowed refs and need one, a
//! ref outside the list is refused before any request, the database tools'
//! `project_id` picks one of them, and branch actions find the branch among
//! the listed projects' branches.

mod api_common;
mod common;

use common::*;
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const A: &str = CLOUD_PROJECT;
const B: &str = "bcdefghijklmnopqrstu";
const C: &str = "zyxwvutsrqponmlkjihg";

async fn start(mock: &MockServer, features: &str) -> Server {
    let refs = format!("{A},{B}");
    start_cloud(&mock.uri(), features, false, &["--project-ref", &refs]).await
}

fn tool<'a>(tools: &'a [Value], name: &str) -> Option<&'a Value> {
    tools.iter().find(|t| t["name"] == name)
}

#[tokio::test(flavor = "multi_thread")]
async fn project_tools_need_one_of_the_listed_projects() {
    let mock = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("/v1/projects/{B}/storage/buckets")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([])))
        .mount(&mock)
        .await;
    let mut s = start(&mock, "storage,account").await;
    let tools = s.tools().await;
    assert!(
        tool(&tools, "list_projects").is_none(),
        "account tools are hidden"
    );
    let t = tool(&tools, "list_storage_buckets").unwrap();
    assert_eq!(
        t["inputSchema"]["properties"]["project_id"]["enum"],
        json!([A, B])
    );

    let r = s
        .call("list_storage_buckets", json!({"project_id": B}))
        .await;
    assert_eq!(status(&r), "ok", "{r}");
    let r = s
        .call("list_storage_buckets", json!({"project_id": C}))
        .await;
    assert_eq!(error_code(&r), "invalid_arguments", "{r}");
    assert!(text(&r).contains(A) && text(&r).contains(B), "{r}");
    let r = s.call("list_storage_buckets", json!({})).await;
    assert_eq!(error_code(&r), "invalid_arguments", "{r}");
    assert!(text(&r).contains("project_id"), "{r}");
    let reqs = mock.received_requests().await.unwrap();
    assert_eq!(reqs.len(), 1, "only the allowed call was sent");
    api_common::Spec::load("supabase-management").check("v1-list-all-buckets", &reqs[0], "");
}

#[tokio::test(flavor = "multi_thread")]
async fn database_tools_pick_a_listed_project() {
    let mock = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(format!("/v1/projects/{A}/database/query/read-only")))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!([{"one": 1}])))
        .mount(&mock)
        .await;
    Mock::given(method("POST"))
        .and(path(format!("/v1/projects/{A}/database/query")))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!([{"one": 1}])))
        .mount(&mock)
        .await;
    let mut s = start(&mock, "database").await;
    let tools = s.tools().await;
    let t = tool(&tools, "execute_sql").unwrap();
    assert_eq!(
        t["inputSchema"]["properties"]["project_id"]["enum"],
        json!([A, B])
    );
    let r = s
        .call(
            "execute_sql",
            json!({"query": "select 1 as one", "project_id": A}),
        )
        .await;
    assert_eq!(status(&r), "ok", "{r}");
    let r = s
        .call(
            "execute_sql",
            json!({"query": "select 1 as one", "project_id": C}),
        )
        .await;
    assert_eq!(error_code(&r), "invalid_arguments", "{r}");
    let r = s
        .call("execute_sql", json!({"query": "select 1 as one"}))
        .await;
    assert_eq!(status(&r), "error", "{r}");
    assert!(text(&r).contains("project_id"), "{r}");
    let reqs = mock.received_requests().await.unwrap();
    assert_eq!(reqs.len(), 1, "{reqs:?}");
    assert!(
        reqs[0]
            .url
            .path()
            .starts_with(&format!("/v1/projects/{A}/"))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn branch_actions_find_the_branch_among_the_listed_projects() {
    let mock = MockServer::start().await;
    let branch = |id: &str, r: &str, parent: &str| {
        json!({"id": id, "name": "dev", "project_ref": r, "parent_project_ref": parent,
               "is_default": false, "persistent": false, "with_data": false, "status": "FUNCTIONS_DEPLOYED",
               "created_at": "2025-01-01T00:00:00Z", "updated_at": "2025-01-01T00:00:00Z"})
    };
    Mock::given(method("GET"))
        .and(path(format!("/v1/projects/{A}/branches")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([])))
        .mount(&mock)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("/v1/projects/{B}/branches")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([branch(
            "0b7f3a1e-8d2c-4a5b-9c6d-7e8f9a0b1c2d",
            "branchofbxxxxxxxxxxx",
            B
        )])))
        .mount(&mock)
        .await;
    Mock::given(method("DELETE"))
        .and(path("/v1/branches/branchofbxxxxxxxxxxx"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"message": "ok"})))
        .mount(&mock)
        .await;
    let mut s = start(&mock, "branching").await;
    for (id, ok) in [
        ("branchofbxxxxxxxxxxx", true),
        ("strangerbranchxxxxxx", false),
    ] {
        let args = json!({"branch_id": id});
        let first = s.call("delete_branch", args.clone()).await;
        assert_eq!(status(&first), "confirmation_required", "{first}");
        let mut args = args;
        args["confirmation_token"] = data(&first)["confirmation_token"].clone();
        let r = s.call("delete_branch", args).await;
        if ok {
            assert_eq!(status(&r), "ok", "{r}");
        } else {
            assert_eq!(status(&r), "error", "{r}");
            assert!(text(&r).contains("not a branch of"), "{r}");
        }
    }
    let deletes = mock
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.method.as_str() == "DELETE")
        .count();
    assert_eq!(deletes, 1, "only the listed project's branch was deleted");
}
