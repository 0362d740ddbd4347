//! Auth (GoTrue) admin client against a mock server: `apikey` plus bearer
//! service role key, `/auth/v1` base path, requests matching
//! `specs/supabase-auth.yaml`, error mapping and scrubbing, retries.

mod api_common;

use api_common::{SECRET, Spec, assert_header, assert_no_secret, fast_config};
use serde_json::json;
use supabase_mcp::api::generated::auth::types;
use supabase_mcp::api::{AuthApi, CallOptions};
use supabase_mcp::result::{ErrorCode, ToolError};
use supabase_mcp::secret::{Redactor, Secret};
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const USER_ID: &str = "6a1f7a3e-8f1e-4a8b-9d3c-0b5e2f4a1c77";
const PREFIX: &str = "/auth/v1";
/// A password sent in request bodies; it must never show up in errors.
const PASSWORD: &str = "correct-horse-battery-staple-7f3k";

fn api(server: &MockServer) -> AuthApi {
    AuthApi::new(
        &server.uri(),
        &Secret::new(SECRET),
        &fast_config(),
        &Redactor::new(),
    )
    .unwrap()
}

fn user_json() -> serde_json::Value {
    json!({"id": USER_ID, "aud": "authenticated", "role": "authenticated",
           "email": "ada@example.com", "created_at": "2024-05-01T10:00:00Z",
           "app_metadata": {"provider": "email"}, "user_metadata": {}})
}

/// The user as the generated type (its `id` is the `Uuid` the calls take).
fn user() -> types::User {
    serde_json::from_value(user_json()).unwrap()
}

fn check_auth(req: &Request) {
    assert_header(req, "apikey", SECRET);
    assert_header(req, "authorization", &format!("Bearer {SECRET}"));
}

async fn requests(server: &MockServer) -> Vec<Request> {
    server.received_requests().await.unwrap()
}

fn metadata(value: serde_json::Value) -> serde_json::Map<String, serde_json::Value> {
    value.as_object().unwrap().clone()
}

/// Asserts that no rendering of an error, nor the tool error made from it,
/// contains the test password.
fn assert_no_password(err: supabase_mcp::api::ApiError) {
    let mut texts = vec![
        ("Display", err.to_string()),
        ("Debug", format!("{err:?}")),
        ("message", err.message()),
        ("suggestion", err.suggestion()),
    ];
    let tool = ToolError::from(err);
    texts.push(("ToolError", tool.to_text()));
    texts.push(("ToolError Debug", format!("{tool:?}")));
    for (what, text) in texts {
        assert!(
            !text.contains(PASSWORD),
            "{what} leaks the password: {text}"
        );
    }
}

#[tokio::test]
async fn create_user_posts_admin_params() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/auth/v1/admin/users"))
        .respond_with(ResponseTemplate::new(200).set_body_json(user_json()))
        .mount(&server)
        .await;
    let body = types::AdminUserParams {
        email: Some("ada@example.com".into()),
        password: Some(PASSWORD.into()),
        email_confirm: Some(true),
        user_metadata: metadata(json!({"name": "Ada", "plan": "pro"})),
        ..Default::default()
    };
    let created = api(&server)
        .call(|c| c.admin_create_user(&body))
        .await
        .unwrap();
    assert_eq!(created.id, user().id);
    assert_eq!(created.email.as_deref(), Some("ada@example.com"));

    let reqs = requests(&server).await;
    assert_eq!(reqs.len(), 1);
    check_auth(&reqs[0]);
    assert_header(&reqs[0], "content-type", "application/json");
    Spec::load("supabase-auth").check("admin_create_user", &reqs[0], PREFIX);
    let sent: serde_json::Value = reqs[0].body_json().unwrap();
    assert_eq!(
        sent,
        json!({"email": "ada@example.com", "password": PASSWORD, "email_confirm": true,
               "user_metadata": {"name": "Ada", "plan": "pro"}})
    );
}

#[tokio::test]
async fn create_user_errors_never_show_the_password() {
    let server = MockServer::start().await;
    // Auth's answer to a weak password names the reasons, not the password.
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(422).set_body_json(json!({
            "code": 422, "error_code": "weak_password",
            "msg": "Password should contain at least one character of each kind.",
            "weak_password": {"reasons": ["characters"]}
        })))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    // A proxy that echoes the request body back in its error.
    Mock::given(method("POST"))
        .respond_with(|req: &Request| {
            ResponseTemplate::new(400).set_body_string(format!(
                "bad request: {}",
                String::from_utf8_lossy(&req.body)
            ))
        })
        .with_priority(2)
        .mount(&server)
        .await;
    let api = api(&server);
    let body = types::AdminUserParams {
        email: Some("ada@example.com".into()),
        password: Some(PASSWORD.into()),
        email_confirm: Some(true),
        user_metadata: metadata(json!({"name": "Ada"})),
        ..Default::default()
    };

    let err = api.call(|c| c.admin_create_user(&body)).await.unwrap_err();
    assert_eq!(err.status(), Some(422));
    assert!(
        err.message().starts_with("Password should contain"),
        "{}",
        err.message()
    );
    assert_no_secret("Display", &err.to_string());
    assert_no_password(err);

    // A caller that sends a password registers it with the redactor, so
    // even an echoed body is scrubbed.
    api.redactor().add(&Secret::new(PASSWORD));
    let err = api.call(|c| c.admin_create_user(&body)).await.unwrap_err();
    assert_eq!(err.status(), Some(400));
    assert!(
        err.message().contains("ada@example.com"),
        "{}",
        err.message()
    );
    assert_no_password(err);

    let reqs = requests(&server).await;
    assert_eq!(reqs.len(), 2, "a create is not retried");
    let spec = Spec::load("supabase-auth");
    for req in &reqs {
        check_auth(req);
        spec.check("admin_create_user", req, PREFIX);
    }
}

#[tokio::test]
async fn list_users_sends_paging_and_service_key() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/auth/v1/admin/users"))
        .and(query_param("page", "2"))
        .and(query_param("per_page", "25"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"aud": "authenticated", "users": [user_json()]})),
        )
        .mount(&server)
        .await;
    let page = std::num::NonZeroU64::new(2);
    let per_page = std::num::NonZeroU64::new(25);
    let list = api(&server)
        .idempotent(|c| c.admin_list_users(page, per_page))
        .await
        .unwrap();
    assert_eq!(list.users.len(), 1);
    assert_eq!(list.users[0].email.as_deref(), Some("ada@example.com"));

    let reqs = requests(&server).await;
    assert_eq!(reqs.len(), 1);
    check_auth(&reqs[0]);
    Spec::load("supabase-auth").check("admin_list_users", &reqs[0], PREFIX);
}

#[tokio::test]
async fn get_update_delete_user() {
    let server = MockServer::start().await;
    let user_path = format!("/auth/v1/admin/users/{USER_ID}");
    for verb in ["GET", "PUT", "DELETE"] {
        Mock::given(method(verb))
            .and(path(user_path.as_str()))
            .respond_with(ResponseTemplate::new(200).set_body_json(user_json()))
            .mount(&server)
            .await;
    }
    let api = api(&server);
    let id = user().id.unwrap();
    let got = api.idempotent(|c| c.admin_get_user(&id)).await.unwrap();
    assert_eq!(got.id, Some(id));

    let change = types::AdminUserParams {
        email: Some("ada@new.example.com".into()),
        password: Some(PASSWORD.into()),
        ban_duration: Some("24h".into()),
        user_metadata: metadata(json!({"plan": "pro"})),
        ..Default::default()
    };
    let updated = api
        .idempotent(|c| c.admin_update_user(&id, &change))
        .await
        .unwrap();
    assert_eq!(updated.email.as_deref(), Some("ada@example.com"));

    let soft = types::AdminDeleteUserParams {
        should_soft_delete: Some(true),
    };
    let deleted = api
        .idempotent(|c| c.admin_delete_user(&id, &soft))
        .await
        .unwrap();
    assert_eq!(deleted.id, Some(id));

    let spec = Spec::load("supabase-auth");
    let reqs = requests(&server).await;
    assert_eq!(reqs.len(), 3);
    for (req, op) in reqs
        .iter()
        .zip(["admin_get_user", "admin_update_user", "admin_delete_user"])
    {
        check_auth(req);
        let params = spec.check(op, req, PREFIX);
        assert_eq!(params["userId"], USER_ID);
    }
    let sent: serde_json::Value = reqs[1].body_json().unwrap();
    assert_eq!(
        sent,
        json!({"email": "ada@new.example.com", "password": PASSWORD, "ban_duration": "24h",
               "user_metadata": {"plan": "pro"}})
    );
    let sent: serde_json::Value = reqs[2].body_json().unwrap();
    assert_eq!(sent, json!({"should_soft_delete": true}));
}

#[tokio::test]
async fn lifting_a_ban_and_hard_delete() {
    let server = MockServer::start().await;
    let user_path = format!("/auth/v1/admin/users/{USER_ID}");
    for verb in ["PUT", "DELETE"] {
        Mock::given(method(verb))
            .and(path(user_path.as_str()))
            .respond_with(ResponseTemplate::new(200).set_body_json(user_json()))
            .mount(&server)
            .await;
    }
    let api = api(&server);
    let id = user().id.unwrap();
    let unban = types::AdminUserParams {
        ban_duration: Some("none".into()),
        ..Default::default()
    };
    api.idempotent(|c| c.admin_update_user(&id, &unban))
        .await
        .unwrap();
    let hard = types::AdminDeleteUserParams::default();
    api.idempotent(|c| c.admin_delete_user(&id, &hard))
        .await
        .unwrap();

    let spec = Spec::load("supabase-auth");
    let reqs = requests(&server).await;
    assert_eq!(reqs.len(), 2);
    spec.check("admin_update_user", &reqs[0], PREFIX);
    spec.check("admin_delete_user", &reqs[1], PREFIX);
    let sent: serde_json::Value = reqs[0].body_json().unwrap();
    assert_eq!(sent, json!({"ban_duration": "none"}));
    // No options: an empty object, which the server reads as a hard delete.
    let sent: serde_json::Value = reqs[1].body_json().unwrap();
    assert_eq!(sent, json!({}));
}

#[tokio::test]
async fn generate_link_posts_the_request_body() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/auth/v1/admin/generate_link"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "action_link": "https://example.supabase.co/auth/v1/verify?token=abc&type=magiclink",
            "hashed_token": "abc", "verification_type": "magiclink",
            "redirect_to": "https://app.example.com"
        })))
        .mount(&server)
        .await;
    let body = types::GenerateLinkRequest {
        data: Default::default(),
        email: "ada@example.com".into(),
        new_email: None,
        password: None,
        redirect_to: Some("https://app.example.com".into()),
        type_: types::GenerateLinkRequestType::Magiclink,
    };
    let link = api(&server)
        .call(|c| c.admin_generate_link(&body))
        .await
        .unwrap();
    assert_eq!(link.verification_type.as_deref(), Some("magiclink"));

    let reqs = requests(&server).await;
    check_auth(&reqs[0]);
    Spec::load("supabase-auth").check("admin_generate_link", &reqs[0], PREFIX);
    let sent: serde_json::Value = reqs[0].body_json().unwrap();
    assert_eq!(
        sent,
        json!({"type": "magiclink", "email": "ada@example.com",
               "redirect_to": "https://app.example.com"})
    );
}

#[tokio::test]
async fn gotrue_error_is_surfaced_and_scrubbed() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(404).set_body_json(json!({
            "code": 404, "error_code": "user_not_found",
            "msg": format!("User not found; request signed with {SECRET}")
        })))
        .mount(&server)
        .await;
    let id = user().id.unwrap();
    let err = api(&server)
        .idempotent(|c| c.admin_get_user(&id))
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(404));
    assert!(
        err.message().starts_with("User not found"),
        "{}",
        err.message()
    );
    assert_no_secret("Display", &err.to_string());
    assert_no_secret("Debug", &format!("{err:?}"));
    let tool = ToolError::from(err);
    assert_eq!(tool.code, ErrorCode::NotFound);
    assert_no_secret("ToolError", &tool.to_text());
}

#[tokio::test]
async fn rejected_key_suggests_the_service_role_key() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({
            "message": format!("Invalid API key: {SECRET}"),
            "hint": "Double check your Supabase `anon` or `service_role` API key."
        })))
        .mount(&server)
        .await;
    let err = api(&server)
        .idempotent(|c| c.admin_list_users(None, None))
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(401));
    assert!(err.message().starts_with("Invalid API key"));
    assert!(err.suggestion().contains("SUPABASE_SERVICE_ROLE_KEY"));
    let tool = ToolError::from(err);
    assert_eq!(tool.code, ErrorCode::PermissionDenied);
    assert_no_secret("ToolError", &tool.to_text());
    // No paging parameters when none are given.
    let reqs = requests(&server).await;
    assert!(reqs[0].url.query().is_none());
    Spec::load("supabase-auth").check("admin_list_users", &reqs[0], PREFIX);
}

#[tokio::test]
async fn rate_limited_get_is_retried_but_generate_link_is_not() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "0"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"users": []})))
        .with_priority(2)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "0"))
        .mount(&server)
        .await;
    let api = api(&server);
    let list = api
        .idempotent(|c| c.admin_list_users(None, None))
        .await
        .unwrap();
    assert!(list.users.is_empty());
    assert_eq!(requests(&server).await.len(), 2);

    let body = types::GenerateLinkRequest {
        data: Default::default(),
        email: "ada@example.com".into(),
        new_email: None,
        password: None,
        redirect_to: None,
        type_: types::GenerateLinkRequestType::Recovery,
    };
    let err = api
        .call_with(CallOptions::once(), |c| c.admin_generate_link(&body))
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(429));
    assert_eq!(ToolError::from(err).code, ErrorCode::RateLimited);
    assert_eq!(requests(&server).await.len(), 3);
}

#[test]
fn base_url_gets_auth_v1_once() {
    let r = Redactor::new();
    let cfg = fast_config();
    let key = Secret::new(SECRET);
    for raw in [
        "https://abc.supabase.co",
        "https://abc.supabase.co/",
        "https://abc.supabase.co/auth/v1",
    ] {
        let api = AuthApi::new(raw, &key, &cfg, &r).unwrap();
        assert_eq!(api.base_url().as_str(), "https://abc.supabase.co/auth/v1");
    }
    assert!(r.leaks(SECRET), "the key is registered with the redactor");
}
