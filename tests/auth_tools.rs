//! The `auth` tools. The API path against a mock Auth server (each request
//! checked against `specs/supabase-auth.yaml`; success, 4xx, 5xx and
//! malformed answers), the SQL path against a fresh Supabase-like database
//! (rows as Auth writes them, passwords that verify with `crypt()`, reads
//! back through both tools, deletes, sessions revoked, the audit log), and
//! the self-hosted Auth settings from a `.env`. Passwords, links and tokens
//! never appear in a result or the audit log.

mod api_common;
mod common;

use api_common::{SECRET, Spec, assert_header};
use common::*;
use serde_json::{Value, json};
use supabase_mcp::pg::testdb::TestDb;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const PREFIX: &str = "/auth/v1";
const USER_ID: &str = "6a1f7a3e-8f1e-4a8b-9d3c-0b5e2f4a1c77";
const FACTOR_ID: &str = "0b7c2f1e-5d3a-4c9b-8e6f-1a2b3c4d5e6f";
const ALICE: &str = "11111111-1111-4111-8111-111111111111";
/// A password handed to the server through its environment.
const PASSWORD: &str = "Horse-Battery-Staple-9q7z-distinctive";
/// A link token the mock returns.
const LINK_TOKEN: &str = "pkce_link_token_3f9a8b7c6d5e4f3a2b1c";

async fn start_api(mock: &MockServer, db: Option<TestDb>, env: &[(&str, &str)]) -> Server {
    let uri = mock.uri();
    Server::start_with_env(
        db,
        &[
            "--mode",
            "self-hosted",
            "--supabase-url",
            uri.as_str(),
            "--service-role-key",
            SECRET,
            "--features",
            "auth",
        ],
        env,
    )
    .await
}

async fn start_sql(env: &[(&str, &str)]) -> Server {
    let db = TestDb::with_sample_data().await.unwrap();
    Server::start_with_env(Some(db), &["--features", "auth"], env).await
}

async fn requests(mock: &MockServer) -> Vec<Request> {
    mock.received_requests().await.unwrap()
}

fn check(req: &Request, op: &str) {
    Spec::load("supabase-auth").check(op, req, PREFIX);
    assert_header(req, "apikey", SECRET);
    assert_header(req, "authorization", &format!("Bearer {SECRET}"));
}

fn ok(r: &Value) -> &Value {
    assert_eq!(status(r), "ok", "{r}");
    data(r)
}

/// The whole result and the audit log must not hold any of `secrets`.
fn assert_hidden(s: &Server, r: &Value, secrets: &[&str]) {
    let text = r.to_string();
    let audit = std::fs::read_to_string(s.data_path().join("audit.jsonl")).unwrap_or_default();
    for secret in secrets {
        assert!(!text.contains(secret), "result leaks {secret}: {text}");
        assert!(!audit.contains(secret), "audit log leaks {secret}: {audit}");
    }
    for field in [
        "encrypted_password",
        "password_hash",
        "recovery_token",
        "confirmation_token",
    ] {
        assert!(!text.contains(&format!("\"{field}\"")), "{field} in {text}");
    }
}

/// Calls `tool` once for its confirmation token, then again with it.
async fn confirmed(s: &mut Server, tool: &str, args: Value) -> Value {
    let first = s.call(tool, args.clone()).await;
    assert_eq!(status(&first), "confirmation_required", "{first}");
    let mut args = args;
    args["confirmation_token"] = data(&first)["confirmation_token"].clone();
    s.call(tool, args).await
}

fn user_json(id: &str, email: &str, created: &str) -> Value {
    json!({"id": id, "aud": "authenticated", "role": "authenticated", "email": email,
           "created_at": created, "email_confirmed_at": created,
           "app_metadata": {"provider": "email", "providers": ["email"]},
           "user_metadata": {"name": "Ada"},
           "identities": [{"identity_id": "9d1b6a2e-3c4f-4a5b-8c7d-6e5f4a3b2c1d", "id": id, "user_id": id,
                           "provider": "email", "identity_data": {"sub": id, "email": email}}]})
}

async fn db_client(s: &Server) -> tokio_postgres::Client {
    s.db.as_ref().unwrap().client().await.unwrap()
}

// ---------------------------------------------------------------------------
// API path

#[tokio::test(flavor = "multi_thread")]
async fn api_create_sends_the_password_from_the_environment_and_never_shows_it() {
    let mock = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/auth/v1/admin/users"))
        .respond_with(ResponseTemplate::new(200).set_body_json(user_json(
            USER_ID,
            "ada@example.com",
            "2024-05-01T10:00:00Z",
        )))
        .mount(&mock)
        .await;
    let mut s = start_api(&mock, None, &[("ADA_PW", PASSWORD)]).await;
    let r = s
        .call(
            "create_auth_user",
            json!({"email": "Ada@Example.com", "password_env": "ADA_PW",
                   "user_metadata": {"name": "Ada"}}),
        )
        .await;
    let d = ok(&r);
    assert_eq!(d["via"], "api");
    assert_eq!(d["user"]["id"], USER_ID);
    assert!(d["password"].as_str().unwrap().contains("ADA_PW"), "{d}");
    assert_hidden(&s, &r, &[PASSWORD]);
    let reqs = requests(&mock).await;
    assert_eq!(reqs.len(), 1);
    check(&reqs[0], "admin_create_user");
    let body: Value = reqs[0].body_json().unwrap();
    assert_eq!(
        body,
        json!({"email": "ada@example.com", "password": PASSWORD, "email_confirm": true,
               "user_metadata": {"name": "Ada"}})
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn api_create_generates_a_password_it_does_not_return() {
    let mock = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/auth/v1/admin/users"))
        .respond_with(ResponseTemplate::new(200).set_body_json(user_json(
            USER_ID,
            "ada@example.com",
            "2024-05-01T10:00:00Z",
        )))
        .mount(&mock)
        .await;
    let mut s = start_api(&mock, None, &[]).await;
    let r = s
        .call("create_auth_user", json!({"email": "ada@example.com"}))
        .await;
    ok(&r);
    let reqs = requests(&mock).await;
    check(&reqs[0], "admin_create_user");
    let body: Value = reqs[0].body_json().unwrap();
    let generated = body["password"].as_str().unwrap().to_owned();
    assert_eq!(generated.len(), 32);
    assert_hidden(&s, &r, &[&generated]);
    // Nothing to create with: refused before any request.
    let r = s.call("create_auth_user", json!({})).await;
    assert_eq!(error_code(&r), "invalid_arguments", "{r}");
    let r = s
        .call(
            "create_auth_user",
            json!({"email": "a@b.c", "password_env": "X", "password_file": "/y"}),
        )
        .await;
    assert_eq!(error_code(&r), "invalid_arguments", "{r}");
    assert_eq!(requests(&mock).await.len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn api_invite_posts_to_invite() {
    let mock = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/auth/v1/invite"))
        .respond_with(ResponseTemplate::new(200).set_body_json(user_json(
            USER_ID,
            "new@example.com",
            "2024-05-01T10:00:00Z",
        )))
        .mount(&mock)
        .await;
    let mut s = start_api(&mock, None, &[]).await;
    let r = s
        .call(
            "create_auth_user",
            json!({"email": "new@example.com", "invite": true, "user_metadata": {"team": "x"}}),
        )
        .await;
    assert!(ok(&r)["password"].as_str().unwrap().contains("invitation"));
    let reqs = requests(&mock).await;
    check(&reqs[0], "invite_user");
    assert_eq!(
        reqs[0].body_json::<Value>().unwrap(),
        json!({"email": "new@example.com", "data": {"team": "x"}})
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn api_list_pages_and_filters() {
    let mock = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/auth/v1/admin/users"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "aud": "authenticated",
            "users": [
                user_json(USER_ID, "ada@example.com", "2024-05-01T10:00:00Z"),
                user_json(ALICE, "bob@example.org", "2024-06-01T10:00:00Z"),
            ]
        })))
        .mount(&mock)
        .await;
    let mut s = start_api(&mock, None, &[]).await;
    let r = s
        .call("list_auth_users", json!({"page": 2, "per_page": 10}))
        .await;
    let d = ok(&r);
    assert_eq!(d["via"], "api");
    assert_eq!(d["count"], 2);
    let row = &d["users"][0];
    assert_eq!(row["email"], "ada@example.com");
    assert_eq!(row["providers"], json!(["email"]));
    assert_eq!(row["confirmed"], true);
    assert!(row.get("user_metadata").is_none(), "compact rows: {row}");
    let reqs = requests(&mock).await;
    check(&reqs[0], "admin_list_users");
    assert_eq!(reqs[0].url.query(), Some("page=2&per_page=10"));

    let r = s
        .call(
            "list_auth_users",
            json!({"email": "EXAMPLE.ORG", "created_after": "2024-05-15"}),
        )
        .await;
    let d = ok(&r);
    assert_eq!(d["total"], 1);
    assert_eq!(d["users"][0]["id"], ALICE);
    let reqs = requests(&mock).await;
    check(&reqs[1], "admin_list_users");
    assert_eq!(reqs[1].url.query(), Some("page=1&per_page=500"));

    for bad in [
        json!({"page": 0}),
        json!({"per_page": 5000}),
        json!({"created_after": "last week"}),
        json!({"created_after": "2024-06-01", "created_before": "2024-05-01"}),
        json!({"provider": "go ogle"}),
    ] {
        let r = s.call("list_auth_users", bad.clone()).await;
        assert_eq!(error_code(&r), "invalid_arguments", "{bad}: {r}");
    }
    assert_eq!(requests(&mock).await.len(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn api_errors_are_tool_errors() {
    let mock = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("/auth/v1/admin/users/{USER_ID}")))
        .respond_with(ResponseTemplate::new(404).set_body_json(
            json!({"code": 404, "error_code": "user_not_found", "msg": "User not found"}),
        ))
        .mount(&mock)
        .await;
    Mock::given(method("POST"))
        .and(path("/auth/v1/admin/users"))
        .respond_with(ResponseTemplate::new(422).set_body_json(json!({
            "code": 422, "error_code": "weak_password",
            "msg": "Password should be at least 6 characters.",
            "weak_password": {"reasons": ["length"]}})))
        .mount(&mock)
        .await;
    Mock::given(method("GET"))
        .and(path("/auth/v1/admin/users"))
        .respond_with(ResponseTemplate::new(500).set_body_string("upstream exploded"))
        .mount(&mock)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("/auth/v1/admin/users/{USER_ID}/factors")))
        .respond_with(ResponseTemplate::new(200).set_body_string("<html>not json</html>"))
        .mount(&mock)
        .await;
    let mut s = start_api(&mock, None, &[("ADA_PW", PASSWORD)]).await;

    let r = s.call("get_auth_user", json!({"user_id": USER_ID})).await;
    assert_eq!(error_code(&r), "not_found", "{r}");
    assert!(text(&r).contains("list_auth_users"), "{}", text(&r));

    let r = s
        .call(
            "create_auth_user",
            json!({"email": "ada@example.com", "password_env": "ADA_PW"}),
        )
        .await;
    assert!(is_error(&r), "{r}");
    assert!(text(&r).contains("at least 6 characters"), "{}", text(&r));
    assert_hidden(&s, &r, &[PASSWORD]);

    let r = s.call("list_auth_users", json!({})).await;
    assert!(is_error(&r), "{r}");
    assert!(text(&r).contains("500"), "{}", text(&r));

    let r = s
        .call("list_user_factors", json!({"user_id": USER_ID}))
        .await;
    assert_eq!(error_code(&r), "api_error", "{r}");

    let r = s
        .call("get_auth_user", json!({"user_id": "not-a-uuid"}))
        .await;
    assert_eq!(error_code(&r), "invalid_arguments", "{r}");
    let r = s
        .call(
            "get_auth_user",
            json!({"user_id": USER_ID, "email": "a@b.c"}),
        )
        .await;
    assert_eq!(error_code(&r), "invalid_arguments", "{r}");
}

#[tokio::test(flavor = "multi_thread")]
async fn api_update_and_delete() {
    let mock = MockServer::start().await;
    Mock::given(method("PUT"))
        .and(path(format!("/auth/v1/admin/users/{USER_ID}")))
        .respond_with(ResponseTemplate::new(200).set_body_json(user_json(
            USER_ID,
            "ada@example.com",
            "2024-05-01T10:00:00Z",
        )))
        .mount(&mock)
        .await;
    Mock::given(method("DELETE"))
        .and(path(format!("/auth/v1/admin/users/{USER_ID}")))
        .respond_with(ResponseTemplate::new(200).set_body_json(user_json(
            USER_ID,
            "ada@example.com",
            "2024-05-01T10:00:00Z",
        )))
        .mount(&mock)
        .await;
    let mut s = start_api(&mock, None, &[]).await;
    let r = s
        .call(
            "update_auth_user",
            json!({"user_id": USER_ID, "ban_duration": "24h", "user_metadata": {"plan": "pro"}}),
        )
        .await;
    let d = ok(&r);
    assert_eq!(d["updated"], json!(["user_metadata", "ban_duration"]));
    let reqs = requests(&mock).await;
    check(&reqs[0], "admin_update_user");
    assert_eq!(
        reqs[0].body_json::<Value>().unwrap(),
        json!({"ban_duration": "24h", "user_metadata": {"plan": "pro"}})
    );
    for bad in [
        json!({"user_id": USER_ID}),
        json!({"user_id": USER_ID, "ban_duration": "forever"}),
        json!({"user_id": USER_ID, "role": "bad role"}),
        json!({"user_id": USER_ID, "user_metadata": [1]}),
    ] {
        let r = s.call("update_auth_user", bad.clone()).await;
        assert_eq!(error_code(&r), "invalid_arguments", "{bad}: {r}");
    }
    let r = confirmed(
        &mut s,
        "delete_auth_user",
        json!({"user_id": USER_ID, "soft": true}),
    )
    .await;
    assert_eq!(ok(&r)["mode"], "soft");
    let reqs = requests(&mock).await;
    let del = reqs.iter().find(|r| r.method.as_str() == "DELETE").unwrap();
    check(del, "admin_delete_user");
    assert_eq!(
        del.body_json::<Value>().unwrap(),
        json!({"should_soft_delete": true})
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn api_generate_link_writes_a_private_file() {
    let mock = MockServer::start().await;
    let link = format!("https://abc.supabase.co/auth/v1/verify?token={LINK_TOKEN}&type=recovery");
    Mock::given(method("POST"))
        .and(path("/auth/v1/admin/generate_link"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "action_link": link, "email_otp": "123456", "hashed_token": LINK_TOKEN,
            "redirect_to": "https://app.example.com", "verification_type": "recovery",
            "id": USER_ID, "email": "ada@example.com"})))
        .mount(&mock)
        .await;
    let mut s = start_api(&mock, None, &[]).await;
    let r = s
        .call(
            "generate_link",
            json!({"type": "recovery", "email": "ada@example.com",
                   "redirect_to": "https://app.example.com"}),
        )
        .await;
    let d = ok(&r);
    assert_eq!(d["via"], "api");
    assert_hidden(&s, &r, &[LINK_TOKEN, "123456"]);
    let file = std::path::PathBuf::from(d["file"].as_str().unwrap());
    assert!(file.starts_with(s.data_path()), "{file:?}");
    let saved: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(saved["action_link"], link);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    let reqs = requests(&mock).await;
    check(&reqs[0], "admin_generate_link");
    assert_eq!(
        reqs[0].body_json::<Value>().unwrap(),
        json!({"type": "recovery", "email": "ada@example.com", "redirect_to": "https://app.example.com/"})
    );
    // Checked before sending.
    for bad in [
        json!({"type": "email_change", "email": "ada@example.com"}),
        json!({"type": "invite", "email": "ada@example.com"}),
        json!({"type": "magiclink", "email": "nope"}),
        json!({"type": "magiclink", "email": "a@b.c", "redirect_to": "not a url"}),
    ] {
        let r = s.call("generate_link", bad.clone()).await;
        assert_eq!(error_code(&r), "invalid_arguments", "{bad}: {r}");
    }
    assert_eq!(requests(&mock).await.len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn api_factors_and_audit_log() {
    let mock = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("/auth/v1/admin/users/{USER_ID}/factors")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([
            {"id": FACTOR_ID, "factor_type": "totp", "status": "verified",
             "friendly_name": "phone app", "created_at": "2024-05-01T10:00:00Z"}])))
        .mount(&mock)
        .await;
    Mock::given(method("DELETE"))
        .and(path(format!(
            "/auth/v1/admin/users/{USER_ID}/factors/{FACTOR_ID}"
        )))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": FACTOR_ID})))
        .mount(&mock)
        .await;
    Mock::given(method("GET"))
        .and(path("/auth/v1/admin/audit"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([
            {"id": "2b0b4c1e-0000-4000-8000-000000000001", "created_at": "2024-05-02T10:00:00Z",
             "ip_address": "203.0.113.9",
             "payload": {"action": "login", "actor_id": USER_ID, "log_type": "account",
                         "traits": {"provider": "email", "refresh_token": LINK_TOKEN}}},
            {"id": "2b0b4c1e-0000-4000-8000-000000000002", "created_at": "2024-05-03T10:00:00Z",
             "ip_address": "203.0.113.9",
             "payload": {"action": "logout", "actor_id": USER_ID, "log_type": "account"}}])))
        .mount(&mock)
        .await;
    let mut s = start_api(&mock, None, &[]).await;
    let r = s
        .call("list_user_factors", json!({"user_id": USER_ID}))
        .await;
    let d = ok(&r);
    assert_eq!(d["count"], 1);
    assert_eq!(d["factors"][0]["factor_type"], "totp");
    check(&requests(&mock).await[0], "admin_list_user_factors");
    let r = confirmed(
        &mut s,
        "delete_user_factor",
        json!({"user_id": USER_ID, "factor_id": FACTOR_ID}),
    )
    .await;
    assert_eq!(ok(&r)["deleted_factor"], FACTOR_ID);
    check(&requests(&mock).await[1], "admin_delete_user_factor");

    let r = s.call("auth_audit_log", json!({"user_id": USER_ID})).await;
    let d = ok(&r);
    assert_eq!(d["via"], "api");
    assert_eq!(d["count"], 2);
    assert_eq!(d["entries"][0]["action"], "logout", "newest first: {d}");
    assert_hidden(&s, &r, &[LINK_TOKEN]);
    let reqs = requests(&mock).await;
    check(&reqs[2], "admin_list_audit_log");
    assert_eq!(reqs[2].url.query(), Some("page=1&per_page=100"));
    let r = s.call("auth_audit_log", json!({"action": "login"})).await;
    assert_eq!(ok(&r)["count"], 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn unreachable_api_falls_back_to_sql() {
    let db = TestDb::with_sample_data().await.unwrap();
    let mut s = Server::start(
        Some(db),
        &[
            "--mode",
            "self-hosted",
            "--supabase-url",
            "http://127.0.0.1:9",
            "--service-role-key",
            SECRET,
            "--features",
            "auth",
        ],
    )
    .await;
    let r = s.call("list_auth_users", json!({})).await;
    let d = ok(&r);
    assert_eq!(d["via"], "sql");
    assert_eq!(d["total"], 3);
    assert!(
        r["structuredContent"]["warnings"]
            .to_string()
            .contains("could not be reached")
            || text(&r).contains("could not be reached"),
        "{r}"
    );
}

// ---------------------------------------------------------------------------
// SQL path

#[tokio::test(flavor = "multi_thread")]
async fn sql_create_writes_what_auth_writes() {
    let mut s = start_sql(&[("ADA_PW", PASSWORD)]).await;
    let r = s
        .call(
            "create_auth_user",
            json!({"email": "ada@example.com", "password_env": "ADA_PW",
                   "user_metadata": {"name": "Ada"}, "app_metadata": {"plan": "pro"}}),
        )
        .await;
    let d = ok(&r);
    assert_eq!(d["via"], "sql");
    let id = d["user"]["id"].as_str().unwrap().to_owned();
    assert_eq!(d["user"]["identities"][0]["provider"], "email");
    assert_hidden(&s, &r, &[PASSWORD]);

    let c = db_client(&s).await;
    let row = c
        .query_one(
            "SELECT instance_id::text, aud, role, email, confirmation_token, recovery_token, \
               email_change_token_new, email_change, raw_app_meta_data::text, raw_user_meta_data::text, \
               email_confirmed_at IS NOT NULL AS confirmed, created_at IS NOT NULL AS created, \
               encrypted_password = extensions.crypt($2, encrypted_password) AS verifies, \
               encrypted_password LIKE '$2a$10$%' AS bcrypt10 \
             FROM auth.users WHERE id = $1::text::uuid",
            &[&id, &PASSWORD],
        )
        .await
        .unwrap();
    assert_eq!(
        row.get::<_, String>(0),
        "00000000-0000-0000-0000-000000000000"
    );
    assert_eq!(row.get::<_, String>(1), "authenticated");
    assert_eq!(row.get::<_, String>(2), "authenticated");
    assert_eq!(row.get::<_, String>(3), "ada@example.com");
    for i in 4..8 {
        assert_eq!(row.get::<_, String>(i), "", "column {i}");
    }
    let app: Value = serde_json::from_str(&row.get::<_, String>(8)).unwrap();
    assert_eq!(
        app,
        json!({"provider": "email", "providers": ["email"], "plan": "pro"})
    );
    let meta: Value = serde_json::from_str(&row.get::<_, String>(9)).unwrap();
    assert_eq!(meta, json!({"name": "Ada"}));
    assert!(row.get::<_, bool>(10) && row.get::<_, bool>(11));
    assert!(row.get::<_, bool>(12), "the password verifies with crypt()");
    assert!(row.get::<_, bool>(13), "bcrypt cost 10 as Auth");
    let wrong: bool = c
        .query_one(
            "SELECT encrypted_password = extensions.crypt('wrong', encrypted_password) FROM auth.users WHERE id = $1::text::uuid",
            &[&id],
        )
        .await
        .unwrap()
        .get(0);
    assert!(!wrong);
    // Every column the fixture's Auth-written user has is filled, except
    // the ones only a sign-in sets.
    let missing: Vec<String> = c
        .query(
            "SELECT a.key FROM auth.users o, auth.users n, \
               jsonb_each(to_jsonb(o)) a, jsonb_each(to_jsonb(n)) b \
             WHERE o.id = $1::text::uuid AND n.id = $2::text::uuid AND a.key = b.key \
               AND a.value <> 'null'::jsonb AND b.value = 'null'::jsonb",
            &[&ALICE, &id],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(missing, vec!["last_sign_in_at".to_owned()]);
    let ident = c
        .query_one(
            "SELECT provider_id, provider, identity_data::text, created_at IS NOT NULL \
             FROM auth.identities WHERE user_id = $1::text::uuid",
            &[&id],
        )
        .await
        .unwrap();
    assert_eq!(ident.get::<_, String>(0), id);
    assert_eq!(ident.get::<_, String>(1), "email");
    let data: Value = serde_json::from_str(&ident.get::<_, String>(2)).unwrap();
    assert_eq!(
        data,
        json!({"sub": id, "email": "ada@example.com", "email_verified": true, "phone_verified": false})
    );
    assert!(ident.get::<_, bool>(3));

    // Read back by both tools.
    let r = s.call("list_auth_users", json!({"email": "ADA@"})).await;
    let d = ok(&r);
    assert_eq!(d["via"], "sql");
    assert_eq!(d["total"], 1);
    assert_eq!(d["users"][0]["id"], id.as_str());
    assert_eq!(d["users"][0]["providers"], json!(["email"]));
    assert_eq!(d["users"][0]["confirmed"], true);
    let r = s
        .call("get_auth_user", json!({"email": "ada@example.com"}))
        .await;
    assert_eq!(ok(&r)["user"]["id"], id.as_str());
    let r = s.call("get_auth_user", json!({"user_id": id})).await;
    assert_eq!(ok(&r)["user"]["user_metadata"]["name"], "Ada");
    assert_hidden(&s, &r, &[PASSWORD]);

    // The same address again is refused with a next step.
    let r = s
        .call("create_auth_user", json!({"email": "ada@example.com"}))
        .await;
    assert!(is_error(&r), "{r}");
    assert!(text(&r).contains("already exists"), "{}", text(&r));
    // Invitations need the API.
    let r = s
        .call(
            "create_auth_user",
            json!({"email": "x@example.com", "invite": true}),
        )
        .await;
    assert_eq!(error_code(&r), "not_configured", "{r}");
}

#[tokio::test(flavor = "multi_thread")]
async fn sql_list_filters_and_pages() {
    let mut s = start_sql(&[]).await;
    let r = s.call("list_auth_users", json!({"per_page": 2})).await;
    let d = ok(&r);
    assert_eq!(d["total"], 3);
    assert_eq!(d["count"], 2);
    assert_eq!(d["has_more"], true);
    assert_eq!(d["users"][0]["email"], "carol@example.com", "newest first");
    let r = s
        .call("list_auth_users", json!({"per_page": 2, "page": 2}))
        .await;
    assert_eq!(ok(&r)["users"][0]["email"], "alice@example.com");
    let r = s
        .call(
            "list_auth_users",
            json!({"created_after": "2024-01-03", "created_before": "2024-02-01"}),
        )
        .await;
    let d = ok(&r);
    assert_eq!(d["total"], 1);
    assert_eq!(d["users"][0]["email"], "bob@example.com");
    let r = s
        .call("list_auth_users", json!({"provider": "google"}))
        .await;
    assert_eq!(ok(&r)["total"], 0);
    let r = s
        .call(
            "get_auth_user",
            json!({"user_id": "99999999-9999-4999-8999-999999999999"}),
        )
        .await;
    assert_eq!(error_code(&r), "not_found", "{r}");
}

#[tokio::test(flavor = "multi_thread")]
async fn sql_update_and_delete() {
    let dir = tempfile::tempdir().unwrap();
    let pw_file = dir.path().join("pw");
    std::fs::write(&pw_file, format!("{PASSWORD}\n")).unwrap();
    let mut s = start_sql(&[]).await;
    let r = s
        .call(
            "update_auth_user",
            json!({"user_id": ALICE, "password_file": pw_file.display().to_string(),
                   "ban_duration": "24h", "user_metadata": {"plan": "pro", "username": null},
                   "email": "alice@new.example.com"}),
        )
        .await;
    let d = ok(&r);
    assert_eq!(d["via"], "sql");
    assert_eq!(
        d["user"]["user_metadata"],
        json!({"plan": "pro", "full_name": "Alice Liddell"})
    );
    assert!(d["user"]["banned_until"].is_string(), "{d}");
    assert_hidden(&s, &r, &[PASSWORD]);
    let c = db_client(&s).await;
    let row = c
        .query_one(
            "SELECT encrypted_password = extensions.crypt($1, encrypted_password), \
               banned_until > now() + interval '23 hours', \
               (SELECT identity_data->>'email' FROM auth.identities WHERE user_id = u.id) \
             FROM auth.users u WHERE id = $2::text::uuid",
            &[&PASSWORD, &ALICE],
        )
        .await
        .unwrap();
    assert!(row.get::<_, bool>(0));
    assert!(row.get::<_, bool>(1));
    assert_eq!(row.get::<_, String>(2), "alice@new.example.com");
    let r = s
        .call(
            "update_auth_user",
            json!({"user_id": ALICE, "ban_duration": "none"}),
        )
        .await;
    assert!(ok(&r)["user"]["banned_until"].is_null());

    // Delete: confirmed first; identities go with the user.
    let r = s.call("delete_auth_user", json!({"user_id": ALICE})).await;
    assert_eq!(status(&r), "confirmation_required", "{r}");
    assert!(
        r.to_string()
            .contains(&format!("delete Auth user {ALICE} for good")),
        "{r}"
    );
    let r = confirmed(&mut s, "delete_auth_user", json!({"user_id": ALICE})).await;
    assert_eq!(ok(&r)["via"], "sql");
    let n: i64 = c
        .query_one(
            "SELECT (SELECT count(*) FROM auth.users WHERE id = $1::text::uuid) + \
                    (SELECT count(*) FROM auth.identities WHERE user_id = $1::text::uuid)",
            &[&ALICE],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 0);
    let r = confirmed(&mut s, "delete_auth_user", json!({"user_id": ALICE})).await;
    assert_eq!(error_code(&r), "not_found", "{r}");
    // Soft delete keeps the row, marked.
    let bob = "22222222-2222-4222-8222-222222222222";
    let r = confirmed(
        &mut s,
        "delete_auth_user",
        json!({"user_id": bob, "soft": true}),
    )
    .await;
    assert_eq!(ok(&r)["mode"], "soft");
    let row = c
        .query_one(
            "SELECT deleted_at IS NOT NULL, email IS NULL FROM auth.users WHERE id = $1::text::uuid",
            &[&bob],
        )
        .await
        .unwrap();
    assert!(row.get::<_, bool>(0) && row.get::<_, bool>(1));
}

#[tokio::test(flavor = "multi_thread")]
async fn sql_sessions_are_listed_and_revoked() {
    let mut s = start_sql(&[]).await;
    let c = db_client(&s).await;
    c.batch_execute(&format!(
        "INSERT INTO auth.sessions (id, user_id, created_at, updated_at, aal, user_agent, ip) VALUES \
           ('aaaaaaaa-0000-4000-8000-000000000001', '{ALICE}', now() - interval '2 days', now() - interval '1 day', 'aal1', 'Firefox', '203.0.113.7'), \
           ('aaaaaaaa-0000-4000-8000-000000000002', '{ALICE}', now() - interval '1 hour', now(), 'aal1', 'Safari', '203.0.113.8'), \
           ('aaaaaaaa-0000-4000-8000-000000000003', '22222222-2222-4222-8222-222222222222', now(), now(), 'aal1', 'curl', NULL); \
         INSERT INTO auth.refresh_tokens (instance_id, token, user_id, revoked, created_at, updated_at, session_id) VALUES \
           ('00000000-0000-0000-0000-000000000000', '{LINK_TOKEN}1', '{ALICE}', false, now(), now(), 'aaaaaaaa-0000-4000-8000-000000000001'), \
           ('00000000-0000-0000-0000-000000000000', '{LINK_TOKEN}2', '{ALICE}', false, now(), now(), 'aaaaaaaa-0000-4000-8000-000000000002'), \
           ('00000000-0000-0000-0000-000000000000', '{LINK_TOKEN}3', '{ALICE}', false, now(), now(), NULL);"
    ))
    .await
    .unwrap();
    let r = s.call("list_sessions", json!({"user_id": ALICE})).await;
    let d = ok(&r);
    assert_eq!(d["via"], "sql");
    assert_eq!(d["count"], 2);
    assert_eq!(
        d["sessions"][0]["user_agent"], "Safari",
        "most recent first"
    );
    assert_eq!(d["sessions"][0]["ip"], "203.0.113.8");
    assert_eq!(d["sessions"][0]["active_refresh_tokens"], 1);
    assert_hidden(&s, &r, &[LINK_TOKEN]);
    let r = s.call("list_sessions", json!({"limit": 1})).await;
    assert_eq!(ok(&r)["total"], 3);

    let r = confirmed(&mut s, "revoke_sessions", json!({"user_id": ALICE})).await;
    let d = ok(&r);
    assert_eq!(d["sessions_revoked"], 2);
    assert_eq!(d["loose_refresh_tokens_revoked"], 1);
    assert_hidden(&s, &r, &[LINK_TOKEN]);
    let n: i64 = c
        .query_one(
            &format!(
                "SELECT (SELECT count(*) FROM auth.sessions WHERE user_id = '{ALICE}') + \
                        (SELECT count(*) FROM auth.refresh_tokens WHERE user_id = '{ALICE}')"
            ),
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 0);
    let left: i64 = c
        .query_one("SELECT count(*) FROM auth.sessions", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(left, 1, "other users keep their sessions");
}

#[tokio::test(flavor = "multi_thread")]
async fn sql_factors_and_audit_log() {
    let mut s = start_sql(&[]).await;
    let c = db_client(&s).await;
    c.batch_execute(&format!(
        "INSERT INTO auth.mfa_factors (id, user_id, friendly_name, factor_type, status, created_at, updated_at, secret) \
         VALUES ('{FACTOR_ID}', '{ALICE}', 'phone app', 'totp', 'verified', now(), now(), 'JBSWY3DPEHPK3PXP-distinctive'); \
         INSERT INTO auth.audit_log_entries (instance_id, id, payload, created_at, ip_address) VALUES \
           ('00000000-0000-0000-0000-000000000000', gen_random_uuid(), \
            '{{\"action\": \"login\", \"actor_id\": \"{ALICE}\", \"log_type\": \"account\", \"traits\": {{\"provider\": \"email\"}}}}', '2024-03-01 08:30:00+00', '203.0.113.7'), \
           ('00000000-0000-0000-0000-000000000000', gen_random_uuid(), \
            '{{\"action\": \"token_refreshed\", \"actor_id\": \"{ALICE}\", \"log_type\": \"token\", \"traits\": {{\"refresh_token\": \"{LINK_TOKEN}\"}}}}', '2024-03-02 08:30:00+00', ''), \
           ('00000000-0000-0000-0000-000000000000', gen_random_uuid(), \
            '{{\"action\": \"login\", \"actor_id\": \"22222222-2222-4222-8222-222222222222\", \"log_type\": \"account\"}}', '2024-03-03 08:30:00+00', '');"
    ))
    .await
    .unwrap();
    let r = s.call("list_user_factors", json!({"user_id": ALICE})).await;
    let d = ok(&r);
    assert_eq!(d["via"], "sql");
    assert_eq!(d["factors"][0]["friendly_name"], "phone app");
    assert_hidden(&s, &r, &["JBSWY3DPEHPK3PXP"]);
    let r = confirmed(
        &mut s,
        "delete_user_factor",
        json!({"user_id": ALICE, "factor_id": FACTOR_ID}),
    )
    .await;
    assert_eq!(ok(&r)["deleted_factor"], FACTOR_ID);
    let r = s.call("list_user_factors", json!({"user_id": ALICE})).await;
    assert_eq!(ok(&r)["count"], 0);
    let r = s
        .call(
            "list_user_factors",
            json!({"user_id": "99999999-9999-4999-8999-999999999999"}),
        )
        .await;
    assert_eq!(error_code(&r), "not_found", "{r}");

    let r = s.call("auth_audit_log", json!({"user_id": ALICE})).await;
    let d = ok(&r);
    assert_eq!(d["via"], "sql");
    assert_eq!(d["count"], 2);
    assert_eq!(d["entries"][0]["action"], "token_refreshed", "newest first");
    assert_hidden(&s, &r, &[LINK_TOKEN]);
    let r = s
        .call(
            "auth_audit_log",
            json!({"action": "login", "since": "2024-03-02"}),
        )
        .await;
    let d = ok(&r);
    assert_eq!(d["count"], 1);
    assert_eq!(
        d["entries"][0]["actor_id"],
        "22222222-2222-4222-8222-222222222222"
    );
    let r = s.call("auth_audit_log", json!({"limit": 1})).await;
    assert_eq!(ok(&r)["has_more"], true);
    let r = s.call("auth_audit_log", json!({"limit": 0})).await;
    assert_eq!(error_code(&r), "invalid_arguments", "{r}");
}

// ---------------------------------------------------------------------------
// Settings of a self-hosted instance

#[tokio::test(flavor = "multi_thread")]
async fn selfhosted_auth_config_comes_from_the_env_file() {
    let dir = tempfile::tempdir().unwrap();
    let env = dir.path().join(".env");
    let text = "SITE_URL=http://localhost:3000\n\
                ADDITIONAL_REDIRECT_URLS=\n\
                JWT_EXPIRY=3600\n\
                JWT_SECRET=super-secret-jwt-token-with-at-least-32-characters-long\n\
                DISABLE_SIGNUP=false\n\
                ENABLE_EMAIL_AUTOCONFIRM=false\n\
                SMTP_HOST=supabase-mail\n\
                SMTP_PASS=smtp-pass-distinctive-value\n\
                POSTGRES_PASSWORD=postgres-pass-distinctive\n";
    std::fs::write(&env, text).unwrap();
    let db = TestDb::with_sample_data().await.unwrap();
    let mut s = Server::start(
        Some(db),
        &[
            "--mode",
            "self-hosted",
            "--env-file",
            env.to_str().unwrap(),
            "--features",
            "auth",
        ],
    )
    .await;
    let r = s.call("get_auth_config", json!({})).await;
    let d = ok(&r);
    assert_eq!(d["via"], "env_file");
    assert_eq!(d["config"]["SITE_URL"], "http://localhost:3000");
    assert_eq!(d["config"]["JWT_EXPIRY"], "3600");
    assert_eq!(d["config"]["SMTP_HOST"], "supabase-mail");
    assert!(
        d["config"]["SMTP_PASS"]
            .as_str()
            .unwrap()
            .contains("characters")
    );
    assert!(d["config"].get("POSTGRES_PASSWORD").is_none(), "{d}");
    assert_hidden(
        &s,
        &r,
        &[
            "smtp-pass-distinctive-value",
            "super-secret-jwt-token",
            "postgres-pass-distinctive",
        ],
    );
    let r = s.call("get_auth_config", json!({"filter": "smtp"})).await;
    assert_eq!(ok(&r)["count"], 2);

    let r = confirmed(
        &mut s,
        "update_auth_config",
        json!({"config": {"site_url": "https://app.example.com", "disable_signup": true}}),
    )
    .await;
    let d = ok(&r);
    assert_eq!(d["applied"], false);
    let vars: Vec<&str> = d["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["variable"].as_str().unwrap())
        .collect();
    assert_eq!(vars, vec!["SITE_URL", "DISABLE_SIGNUP"]);
    assert!(
        d["next_steps"]
            .to_string()
            .contains("docker compose up -d auth")
    );
    assert_eq!(
        std::fs::read_to_string(&env).unwrap(),
        text,
        "the file is not edited"
    );
    let r = s
        .call(
            "update_auth_config",
            json!({"config": {"smtp_pass": "plain"}}),
        )
        .await;
    assert_eq!(error_code(&r), "invalid_arguments", "{r}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_group_is_listed_with_confirmations() {
    let mut s = start_sql(&[]).await;
    let tools = s.tools().await;
    let names: Vec<&str> = tools.iter().map(|t| t["name"].as_str().unwrap()).collect();
    for name in [
        "list_auth_users",
        "get_auth_user",
        "create_auth_user",
        "update_auth_user",
        "delete_auth_user",
        "generate_link",
        "list_user_factors",
        "delete_user_factor",
        "list_sessions",
        "revoke_sessions",
        "auth_audit_log",
        "get_auth_config",
        "update_auth_config",
    ] {
        assert!(names.contains(&name), "{name}: {names:?}");
    }
    for name in ["delete_auth_user", "delete_user_factor", "revoke_sessions"] {
        let t = tools.iter().find(|t| t["name"] == name).unwrap();
        assert!(
            t["inputSchema"]["properties"]["confirmation_token"].is_object(),
            "{t}"
        );
    }
    // Not a default group.
    let db = TestDb::with_sample_data().await.unwrap();
    let mut d = Server::start(Some(db), &[]).await;
    let names: Vec<String> = d
        .tools()
        .await
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_owned())
        .collect();
    assert!(!names.iter().any(|n| n == "list_auth_users"), "{names:?}");
}
