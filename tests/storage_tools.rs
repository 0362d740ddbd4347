//! The `storage` group's Storage-service tools. Against a mock Storage API
//! (every request checked against `specs/supabase-storage.yaml`): buckets,
//! objects, signed URLs, a streamed upload from a real file and a download
//! to a temporary path, confirmations, and 4xx/5xx/malformed answers.
//! Against a real PostgreSQL with the Supabase-like fixture: the SQL path
//! for listings, info and metrics, and storage policies listed and created.

mod api_common;
mod common;

use api_common::{Spec, assert_header};
use common::*;
use serde_json::{Value, json};
use supabase_mcp::pg::testdb::TestDb;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const KEY: &str = "service-role-key-for-storage-tests-0123456789";
const PREFIX: &str = "/storage/v1";

async fn api_server(mock: &MockServer) -> Server {
    Server::start(
        None,
        &[
            "--supabase-url",
            &mock.uri(),
            "--service-role-key",
            KEY,
            "--features",
            "storage",
        ],
    )
    .await
}

async fn sql_server() -> Server {
    let db = TestDb::with_sample_data().await.unwrap();
    Server::start(Some(db), &["--features", "storage"]).await
}

async fn requests(mock: &MockServer) -> Vec<Request> {
    mock.received_requests().await.unwrap()
}

/// Checks one request against the spec and the credentials it carries.
fn check(req: &Request, op: &str) -> std::collections::BTreeMap<String, String> {
    assert_header(req, "apikey", KEY);
    assert_header(req, "authorization", &format!("Bearer {KEY}"));
    Spec::load("supabase-storage").check(op, req, PREFIX)
}

fn ok(r: &Value) -> &Value {
    assert_eq!(status(r), "ok", "{r}");
    assert!(!r.to_string().contains(KEY), "the key leaked: {r}");
    data(r)
}

fn warnings(r: &Value) -> String {
    r["structuredContent"]["warnings"].to_string()
}

fn body(req: &Request) -> Value {
    serde_json::from_slice(&req.body).unwrap()
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

fn bucket_json(name: &str, public: bool) -> Value {
    json!({"id": name, "name": name, "public": public, "type": "STANDARD",
           "file_size_limit": 1048576, "allowed_mime_types": ["image/png"],
           "created_at": "2024-01-01T00:00:00Z", "updated_at": "2024-01-01T00:00:00Z"})
}

fn object_json(name: &str, size: i64) -> Value {
    json!({"name": name, "id": format!("id-{name}"), "updated_at": "2024-01-02T00:00:00Z",
           "created_at": "2024-01-01T00:00:00Z", "last_accessed_at": null,
           "metadata": {"size": size, "mimetype": "image/png"}})
}

fn folder_json(name: &str) -> Value {
    json!({"name": name, "id": null, "updated_at": null, "created_at": null, "last_accessed_at": null, "metadata": null})
}

// ---------------------------------------------------------------------------
// Buckets through the API
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn list_and_get_buckets_through_the_api() {
    let mock = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/storage/v1/bucket/"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([
            bucket_json("avatars", true),
            bucket_json("invoices", false)
        ])))
        .mount(&mock)
        .await;
    Mock::given(method("GET"))
        .and(path("/storage/v1/bucket/avatars"))
        .respond_with(ResponseTemplate::new(200).set_body_json(bucket_json("avatars", true)))
        .mount(&mock)
        .await;
    Mock::given(method("GET"))
        .and(path("/storage/v1/bucket/missing"))
        .respond_with(ResponseTemplate::new(404).set_body_json(
            json!({"statusCode": "404", "error": "not_found", "message": "Bucket not found"}),
        ))
        .mount(&mock)
        .await;
    let mut s = api_server(&mock).await;
    let r = s.call("list_buckets", json!({"search": "a"})).await;
    let d = ok(&r);
    assert_eq!(d["via"], "api");
    assert_eq!(d["count"], 2);
    assert_eq!(d["public_buckets"], json!(["avatars"]));
    assert_eq!(
        d["buckets"][0]["file_size_limit_readable"],
        "1 MiB (1048576 bytes)"
    );
    assert!(text(&r).contains("<untrusted-data-"), "{r}");

    let r = s.call("get_bucket", json!({"bucket": "avatars"})).await;
    assert_eq!(ok(&r)["bucket"]["public"], true);
    assert_eq!(ok(&r)["via"], "api");
    let r = s.call("get_bucket", json!({"bucket": "missing"})).await;
    assert_eq!(error_code(&r), "not_found", "{r}");
    // Invalid names are refused before any request.
    let r = s.call("get_bucket", json!({"bucket": "a/b"})).await;
    assert_eq!(error_code(&r), "invalid_arguments", "{r}");

    let reqs = requests(&mock).await;
    assert_eq!(reqs.len(), 3);
    check(&reqs[0], "list_buckets");
    let q: Vec<(String, String)> = reqs[0]
        .url
        .query_pairs()
        .map(|(k, v)| (k.into(), v.into()))
        .collect();
    for pair in [
        ("limit", "100"),
        ("offset", "0"),
        ("search", "a"),
        ("sortColumn", "name"),
        ("sortOrder", "asc"),
    ] {
        assert!(q.contains(&(pair.0.into(), pair.1.into())), "{q:?}");
    }
    assert_eq!(check(&reqs[1], "get_bucket")["bucketId"], "avatars");
    assert_eq!(check(&reqs[2], "get_bucket")["bucketId"], "missing");
}

#[tokio::test(flavor = "multi_thread")]
async fn create_bucket_validates_confirms_public_and_reports_failures() {
    let mock = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/storage/v1/bucket/"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"name": "docs"})))
        .up_to_n_times(2)
        .with_priority(1)
        .mount(&mock)
        .await;
    Mock::given(method("POST"))
        .and(path("/storage/v1/bucket/"))
        .respond_with(ResponseTemplate::new(409).set_body_json(
            json!({"statusCode": "409", "error": "Duplicate", "message": "The resource already exists"}),
        ))
        .up_to_n_times(1)
        .with_priority(2)
        .mount(&mock)
        .await;
    Mock::given(method("POST"))
        .and(path("/storage/v1/bucket/"))
        .respond_with(ResponseTemplate::new(500).set_body_string("boom"))
        .up_to_n_times(1)
        .with_priority(3)
        .mount(&mock)
        .await;
    Mock::given(method("POST"))
        .and(path("/storage/v1/bucket/"))
        .respond_with(ResponseTemplate::new(200).set_body_raw("{\"nam", "application/json"))
        .with_priority(4)
        .mount(&mock)
        .await;
    let mut s = api_server(&mock).await;
    for bad in [
        json!({"name": "bad/name"}),
        json!({"name": "ok", "file_size_limit": "50TB"}),
        json!({"name": "ok", "allowed_mime_types": ["png"]}),
        json!({"name": "é"}),
    ] {
        let r = s.call("create_bucket", bad.clone()).await;
        assert_eq!(error_code(&r), "invalid_arguments", "{bad} {r}");
    }
    assert!(requests(&mock).await.is_empty());

    let r = s
        .call(
            "create_bucket",
            json!({"name": "docs", "file_size_limit": "50mb", "allowed_mime_types": ["application/PDF", "image/*"]}),
        )
        .await;
    let d = ok(&r);
    assert_eq!(d["created"], "docs");
    assert_eq!(d["via"], "api");
    let (first, second) = confirmed(
        &mut s,
        "create_bucket",
        json!({"name": "docs", "public": true, "file_size_limit": 1024}),
    )
    .await;
    assert!(data(&first)["action"].as_str().unwrap().contains("PUBLIC"));
    ok(&second);
    let r = s.call("create_bucket", json!({"name": "docs"})).await;
    assert_eq!(error_code(&r), "api_error", "{r}");
    assert!(text(&r).contains("update_bucket"), "{r}");
    let r = s.call("create_bucket", json!({"name": "docs"})).await;
    assert_eq!(error_code(&r), "api_error", "{r}");
    assert!(text(&r).contains("500"), "{r}");
    let r = s.call("create_bucket", json!({"name": "docs"})).await;
    assert_eq!(error_code(&r), "api_error", "{r}");
    assert!(text(&r).contains("could not be used"), "{r}");

    let reqs = requests(&mock).await;
    assert_eq!(reqs.len(), 5);
    for req in &reqs {
        check(req, "create_bucket");
    }
    assert_eq!(
        body(&reqs[0]),
        json!({"name": "docs", "public": false, "file_size_limit": "50MB",
               "allowed_mime_types": ["application/pdf", "image/*"]})
    );
    assert_eq!(
        body(&reqs[1]),
        json!({"name": "docs", "public": true, "file_size_limit": 1024})
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn update_bucket_sends_only_the_changes() {
    let mock = MockServer::start().await;
    Mock::given(method("PUT"))
        .and(path("/storage/v1/bucket/avatars"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"message": "Successfully updated"})),
        )
        .mount(&mock)
        .await;
    let mut s = api_server(&mock).await;
    let r = s.call("update_bucket", json!({"bucket": "avatars"})).await;
    assert_eq!(error_code(&r), "invalid_arguments", "{r}");
    let r = s
        .call(
            "update_bucket",
            json!({"bucket": "avatars", "file_size_limit": 0, "allowed_mime_types": ["image/png"]}),
        )
        .await;
    let d = ok(&r);
    assert_eq!(d["changes"][0], "size limit → no bucket-specific limit");
    // Any type again: Storage wants null.
    ok(&s
        .call(
            "update_bucket",
            json!({"bucket": "avatars", "allowed_mime_types": []}),
        )
        .await);
    let (_, second) = confirmed(
        &mut s,
        "update_bucket",
        json!({"bucket": "avatars", "public": true}),
    )
    .await;
    ok(&second);
    let reqs = requests(&mock).await;
    assert_eq!(reqs.len(), 3);
    for req in &reqs {
        assert_eq!(check(req, "update_bucket")["bucketId"], "avatars");
    }
    assert_eq!(
        body(&reqs[0]),
        json!({"file_size_limit": null, "allowed_mime_types": ["image/png"]})
    );
    assert_eq!(body(&reqs[1]), json!({"allowed_mime_types": null}));
    assert_eq!(body(&reqs[2]), json!({"public": true}));
}

#[tokio::test(flavor = "multi_thread")]
async fn empty_and_delete_bucket_are_confirmed_and_guarded() {
    let mock = MockServer::start().await;
    // The bucket holds an object for the first two listings, then is empty.
    Mock::given(method("POST"))
        .and(path("/storage/v1/object/list/docs"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([object_json("a.png", 1)])))
        .up_to_n_times(2)
        .with_priority(1)
        .mount(&mock)
        .await;
    Mock::given(method("POST"))
        .and(path("/storage/v1/object/list/docs"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([])))
        .with_priority(2)
        .mount(&mock)
        .await;
    Mock::given(method("POST"))
        .and(path("/storage/v1/bucket/docs/empty"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"message": "Empty bucket has been queued"})),
        )
        .mount(&mock)
        .await;
    Mock::given(method("DELETE"))
        .and(path("/storage/v1/bucket/docs"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"message": "Successfully deleted"})),
        )
        .mount(&mock)
        .await;
    let mut s = api_server(&mock).await;

    // Refused while not empty: one listing, no DELETE.
    let (first, second) = confirmed(&mut s, "delete_bucket", json!({"bucket": "docs"})).await;
    assert!(data(&first)["action"].as_str().unwrap().contains("docs"));
    assert_eq!(error_code(&second), "invalid_arguments", "{second}");
    assert!(text(&second).contains("empty_first"), "{second}");
    let reqs = requests(&mock).await;
    assert_eq!(reqs.len(), 1);
    assert_eq!(check(&reqs[0], "list_objects")["bucketName"], "docs");
    assert_eq!(body(&reqs[0]), json!({"prefix": "", "limit": 1}));

    // With empty_first: list (full), empty, list (empty), delete.
    let (first, second) = confirmed(
        &mut s,
        "delete_bucket",
        json!({"bucket": "docs", "empty_first": true}),
    )
    .await;
    assert!(
        data(&first)["action"]
            .as_str()
            .unwrap()
            .contains("EVERY object")
    );
    let d = ok(&second);
    assert_eq!(d["deleted"], "docs");
    assert_eq!(d["emptied_first"], true);
    let reqs = requests(&mock).await;
    let ops: Vec<String> = reqs[1..]
        .iter()
        .map(|r| format!("{} {}", r.method, r.url.path()))
        .collect();
    assert_eq!(
        ops,
        vec![
            "POST /storage/v1/object/list/docs",
            "POST /storage/v1/bucket/docs/empty",
            "POST /storage/v1/object/list/docs",
            "DELETE /storage/v1/bucket/docs",
        ]
    );
    check(&reqs[2], "empty_bucket");
    check(&reqs[4], "delete_bucket");

    let (first, second) = confirmed(&mut s, "empty_bucket", json!({"bucket": "docs"})).await;
    assert!(
        data(&first)["action"]
            .as_str()
            .unwrap()
            .contains("EVERY object")
    );
    assert_eq!(ok(&second)["message"], "Empty bucket has been queued");
}

// ---------------------------------------------------------------------------
// Objects through the API
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn list_objects_and_info_through_the_api() {
    let mock = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/storage/v1/object/list/avatars"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!([folder_json("sub"), object_json("cat.png", 2048)])),
        )
        .mount(&mock)
        .await;
    Mock::given(method("GET"))
        .and(path("/storage/v1/object/info/avatars/folder%2Fcat.png"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": "0d9b", "name": "folder/cat.png", "size": 2048, "content_type": "image/png"
        })))
        .mount(&mock)
        .await;
    Mock::given(method("GET"))
        .and(path("/storage/v1/object/info/avatars/gone.png"))
        .respond_with(ResponseTemplate::new(400).set_body_json(
            json!({"statusCode": "404", "error": "not_found", "message": "Object not found"}),
        ))
        .mount(&mock)
        .await;
    let mut s = api_server(&mock).await;
    let r = s
        .call(
            "list_objects",
            json!({"bucket": "avatars", "prefix": "folder/", "limit": 50, "offset": 5, "sort_by": "updated_at", "order": "desc"}),
        )
        .await;
    let d = ok(&r);
    assert_eq!(d["via"], "api");
    assert_eq!(d["prefix"], "folder");
    assert_eq!(d["folders"], 1);
    assert_eq!(d["objects"], 1);
    assert_eq!(d["entries"][0], json!({"name": "sub", "folder": true}));
    assert_eq!(d["entries"][1]["size_readable"], "2 KiB (2048 bytes)");
    assert_eq!(d["entries"][1]["mimetype"], "image/png");
    let r = s
        .call("list_objects", json!({"bucket": "avatars", "limit": 0}))
        .await;
    assert_eq!(error_code(&r), "invalid_arguments", "{r}");

    let r = s
        .call(
            "get_object_info",
            json!({"bucket": "avatars", "path": "folder/cat.png"}),
        )
        .await;
    let d = ok(&r);
    assert_eq!(d["info"]["size_readable"], "2 KiB (2048 bytes)");
    assert_eq!(d["via"], "api");
    let r = s
        .call(
            "get_object_info",
            json!({"bucket": "avatars", "path": "gone.png"}),
        )
        .await;
    assert_eq!(error_code(&r), "not_found", "{r}");
    let r = s
        .call(
            "get_object_info",
            json!({"bucket": "avatars", "path": "a//b"}),
        )
        .await;
    assert_eq!(error_code(&r), "invalid_arguments", "{r}");

    let reqs = requests(&mock).await;
    assert_eq!(reqs.len(), 3);
    check(&reqs[0], "list_objects");
    assert_eq!(
        body(&reqs[0]),
        json!({"prefix": "folder", "limit": 50, "offset": 5, "sortBy": {"column": "updated_at", "order": "desc"}})
    );
    let p = check(&reqs[1], "get_object_info");
    assert_eq!(p["wildcard"], "folder/cat.png");
    check(&reqs[2], "get_object_info");
}

#[tokio::test(flavor = "multi_thread")]
async fn api_failures_are_tool_errors() {
    let mock = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/storage/v1/object/list/five"))
        .respond_with(ResponseTemplate::new(500).set_body_json(
            json!({"statusCode": "500", "error": "internal", "message": "database down"}),
        ))
        .mount(&mock)
        .await;
    Mock::given(method("POST"))
        .and(path("/storage/v1/object/list/bad"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"not": "a list"})))
        .mount(&mock)
        .await;
    Mock::given(method("POST"))
        .and(path("/storage/v1/object/list/denied"))
        .respond_with(ResponseTemplate::new(403).set_body_json(
            json!({"statusCode": "403", "error": "Unauthorized", "message": "invalid signature"}),
        ))
        .mount(&mock)
        .await;
    let mut s = api_server(&mock).await;
    let r = s.call("list_objects", json!({"bucket": "five"})).await;
    assert_eq!(error_code(&r), "api_error", "{r}");
    assert!(text(&r).contains("database down"), "{r}");
    let r = s.call("list_objects", json!({"bucket": "bad"})).await;
    assert_eq!(error_code(&r), "api_error", "{r}");
    assert!(text(&r).contains("could not be used"), "{r}");
    let r = s.call("list_objects", json!({"bucket": "denied"})).await;
    assert_eq!(error_code(&r), "permission_denied", "{r}");
    assert!(!r.to_string().contains(KEY));
}

#[tokio::test(flavor = "multi_thread")]
async fn move_copy_and_delete_objects() {
    let mock = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/storage/v1/object/move"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"message": "Successfully moved"})),
        )
        .mount(&mock)
        .await;
    Mock::given(method("POST"))
        .and(path("/storage/v1/object/copy"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"Key": "archive/a/b.png"})))
        .mount(&mock)
        .await;
    Mock::given(method("DELETE"))
        .and(path("/storage/v1/object/avatars"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([object_json("a/b.png", 3)])))
        .mount(&mock)
        .await;
    let mut s = api_server(&mock).await;
    let r = s
        .call(
            "move_object",
            json!({"bucket": "avatars", "from": "a/b.png", "to": "c/d.png"}),
        )
        .await;
    assert_eq!(
        ok(&r)["to"],
        json!({"bucket": "avatars", "path": "c/d.png"})
    );
    let r = s
        .call(
            "move_object",
            json!({"bucket": "avatars", "from": "a", "to": "a"}),
        )
        .await;
    assert_eq!(error_code(&r), "invalid_arguments", "{r}");
    let r = s
        .call("copy_object", json!({"bucket": "avatars", "from": "a/b.png", "to": "a/b.png", "destination_bucket": "archive"}))
        .await;
    assert_eq!(ok(&r)["key"], "archive/a/b.png");
    let args = json!({"bucket": "avatars", "paths": ["a/b.png", "missing.png"]});
    let (first, second) = confirmed(&mut s, "delete_objects", args).await;
    assert!(
        data(&first)["action"]
            .as_str()
            .unwrap()
            .contains("2 object(s)")
    );
    let d = ok(&second);
    assert_eq!(d["deleted"], json!(["a/b.png"]));
    assert_eq!(d["not_found"], json!(["missing.png"]));
    assert!(warnings(&second).contains("not deleted"));

    let reqs = requests(&mock).await;
    assert_eq!(reqs.len(), 3);
    check(&reqs[0], "move_object");
    assert_eq!(
        body(&reqs[0]),
        json!({"bucketId": "avatars", "sourceKey": "a/b.png", "destinationKey": "c/d.png"})
    );
    check(&reqs[1], "copy_object");
    assert_eq!(
        body(&reqs[1]),
        json!({"bucketId": "avatars", "sourceKey": "a/b.png", "destinationKey": "a/b.png",
               "destinationBucket": "archive", "copyMetadata": true})
    );
    assert_eq!(check(&reqs[2], "delete_objects")["bucketName"], "avatars");
    assert_eq!(
        body(&reqs[2]),
        json!({"prefixes": ["a/b.png", "missing.png"]})
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn signed_urls_are_absolute_and_capped_at_seven_days() {
    let mock = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/storage/v1/object/sign/avatars"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([
            {"path": "a/cat.png", "signedURL": "/object/sign/avatars/a/cat.png?token=abc", "error": null},
            {"path": "nope.png", "signedURL": null, "error": "Either the object does not exist or you do not have access to it"}
        ])))
        .mount(&mock)
        .await;
    let mut s = api_server(&mock).await;
    let r = s
        .call("create_signed_urls", json!({"bucket": "avatars", "paths": ["a/cat.png", "nope.png"], "expires_in": 9_999_999}))
        .await;
    let d = ok(&r);
    assert_eq!(d["expires_in"], 604800);
    assert_eq!(
        d["urls"][0]["signed_url"],
        format!(
            "{}/storage/v1/object/sign/avatars/a/cat.png?token=abc",
            mock.uri()
        )
    );
    assert!(
        d["urls"][1]["error"]
            .as_str()
            .unwrap()
            .contains("does not exist")
    );
    let w = warnings(&r);
    assert!(w.contains("capped") && w.contains("7 days"), "{w}");
    assert!(w.contains("1 path(s) could not be signed"), "{w}");
    let r = s
        .call(
            "create_signed_urls",
            json!({"bucket": "avatars", "paths": []}),
        )
        .await;
    assert_eq!(error_code(&r), "invalid_arguments", "{r}");
    let r = s
        .call(
            "create_signed_urls",
            json!({"bucket": "avatars", "paths": ["x"], "expires_in": 0}),
        )
        .await;
    assert_eq!(error_code(&r), "invalid_arguments", "{r}");
    let reqs = requests(&mock).await;
    assert_eq!(reqs.len(), 1);
    check(&reqs[0], "create_signed_urls");
    assert_eq!(
        body(&reqs[0]),
        json!({"expiresIn": 604800, "paths": ["a/cat.png", "nope.png"]})
    );
}

// ---------------------------------------------------------------------------
// Upload and download
// ---------------------------------------------------------------------------

/// Bytes that are not UTF-8 and span several upload chunks.
fn payload() -> Vec<u8> {
    (0..150_000u32).map(|i| (i * 13 % 251) as u8).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn upload_streams_a_real_file() {
    let mock = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/storage/v1/object/avatars/users/42/photo.png"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"Key": "avatars/users/42/photo.png", "Id": "9f"})),
        )
        .mount(&mock)
        .await;
    Mock::given(method("POST"))
        .and(path("/storage/v1/object/avatars/taken.png"))
        .respond_with(ResponseTemplate::new(400).set_body_json(
            json!({"statusCode": "409", "error": "Duplicate", "message": "The resource already exists"}),
        ))
        .mount(&mock)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("photo.png");
    std::fs::write(&file, payload()).unwrap();
    let file_s = file.display().to_string();
    let mut s = api_server(&mock).await;

    let r = s
        .call("upload_object", json!({"bucket": "avatars", "path": "users/42/photo.png", "file": file_s, "cache_control": "max-age=60"}))
        .await;
    let d = ok(&r);
    assert_eq!(d["size"], 150_000);
    assert_eq!(d["content_type"], "image/png");
    assert_eq!(d["content_type_guessed"], true);
    assert_eq!(d["key"], "avatars/users/42/photo.png");
    assert_eq!(d["via"], "api");

    // Replacing needs confirmation and sends x-upsert: true with the given type.
    let args = json!({"bucket": "avatars", "path": "users/42/photo.png", "file": file_s, "upsert": true, "content_type": "application/x-custom"});
    let (first, second) = confirmed(&mut s, "upload_object", args).await;
    assert!(
        data(&first)["action"]
            .as_str()
            .unwrap()
            .contains("replaced")
    );
    ok(&second);

    let r = s
        .call(
            "upload_object",
            json!({"bucket": "avatars", "path": "taken.png", "file": file_s}),
        )
        .await;
    assert_eq!(error_code(&r), "api_error", "{r}");
    assert!(text(&r).contains("upsert"), "{r}");
    for bad in [
        json!({"bucket": "avatars", "path": "x.png", "file": "relative/x.png"}),
        json!({"bucket": "avatars", "path": "x.png", "file": dir.path().display().to_string()}),
        json!({"bucket": "avatars", "path": "/x.png", "file": file_s}),
    ] {
        let r = s.call("upload_object", bad.clone()).await;
        assert_eq!(error_code(&r), "invalid_arguments", "{bad} {r}");
    }
    let r = s
        .call(
            "upload_object",
            json!({"bucket": "avatars", "path": "x.png", "file": "/nonexistent/x.png"}),
        )
        .await;
    assert_eq!(error_code(&r), "io", "{r}");

    let reqs = requests(&mock).await;
    assert_eq!(reqs.len(), 3);
    for req in &reqs {
        assert_header(req, "apikey", KEY);
    }
    assert_header(&reqs[0], "content-type", "image/png");
    assert_header(&reqs[0], "x-upsert", "false");
    assert_header(&reqs[0], "cache-control", "max-age=60");
    assert_header(&reqs[0], "content-length", "150000");
    assert!(reqs[0].body == payload(), "uploaded bytes differ");
    assert_header(&reqs[1], "x-upsert", "true");
    assert_header(&reqs[1], "content-type", "application/x-custom");
    assert!(reqs[1].body == payload());
}

#[tokio::test(flavor = "multi_thread")]
async fn download_writes_atomically_and_never_overwrites_unasked() {
    let mock = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/storage/v1/object/docs/reports/q1.pdf"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(payload(), "application/pdf"))
        .mount(&mock)
        .await;
    Mock::given(method("GET"))
        .and(path("/storage/v1/object/docs/missing.pdf"))
        .respond_with(ResponseTemplate::new(404).set_body_json(
            json!({"statusCode": "404", "error": "not_found", "message": "Object not found"}),
        ))
        .mount(&mock)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("q1.pdf");
    let dest_s = dest.display().to_string();
    let mut s = api_server(&mock).await;

    let r = s
        .call(
            "download_object",
            json!({"bucket": "docs", "path": "reports/q1.pdf", "destination": dest_s}),
        )
        .await;
    let d = ok(&r);
    assert_eq!(d["size"], 150_000);
    assert_eq!(d["content_type"], "application/pdf");
    assert!(std::fs::read(&dest).unwrap() == payload());

    // An existing file is refused, then replaced only after confirmation.
    std::fs::write(&dest, b"old").unwrap();
    let r = s
        .call(
            "download_object",
            json!({"bucket": "docs", "path": "reports/q1.pdf", "destination": dest_s}),
        )
        .await;
    assert_eq!(error_code(&r), "invalid_arguments", "{r}");
    assert_eq!(std::fs::read(&dest).unwrap(), b"old");
    let args = json!({"bucket": "docs", "path": "reports/q1.pdf", "destination": dest_s, "overwrite": true});
    let (_, second) = confirmed(&mut s, "download_object", args).await;
    ok(&second);
    assert!(std::fs::read(&dest).unwrap() == payload());

    // A failed download leaves nothing behind.
    let failed = dir.path().join("missing.pdf");
    let r = s
        .call("download_object", json!({"bucket": "docs", "path": "missing.pdf", "destination": failed.display().to_string()}))
        .await;
    assert_eq!(error_code(&r), "not_found", "{r}");
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, vec!["q1.pdf"]);
    let r = s
        .call("download_object", json!({"bucket": "docs", "path": "x", "destination": dir.path().join("no/such/dir/x").display().to_string()}))
        .await;
    assert_eq!(error_code(&r), "invalid_arguments", "{r}");

    let reqs = requests(&mock).await;
    assert_eq!(reqs.len(), 3);
    for req in &reqs {
        assert_header(req, "authorization", &format!("Bearer {KEY}"));
        assert!(req.body.is_empty());
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_walk_the_api_when_there_is_no_database() {
    let mock = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/storage/v1/bucket/"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([
            bucket_json("avatars", true),
            bucket_json("empty", false)
        ])))
        .mount(&mock)
        .await;
    Mock::given(method("POST"))
        .and(path("/storage/v1/object/list/avatars"))
        .and(wiremock::matchers::body_partial_json(json!({"prefix": ""})))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!([folder_json("alice"), object_json("top.png", 100)])),
        )
        .mount(&mock)
        .await;
    Mock::given(method("POST"))
        .and(path("/storage/v1/object/list/avatars"))
        .and(wiremock::matchers::body_partial_json(
            json!({"prefix": "alice"}),
        ))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!([object_json("big.png", 5000)])),
        )
        .mount(&mock)
        .await;
    Mock::given(method("POST"))
        .and(path("/storage/v1/object/list/empty"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([])))
        .mount(&mock)
        .await;
    let mut s = api_server(&mock).await;
    let r = s.call("storage_metrics", json!({"top": 1})).await;
    let d = ok(&r);
    assert_eq!(d["via"], "api");
    assert_eq!(d["totals"]["objects"], 2);
    assert_eq!(d["totals"]["bytes"], 5100);
    assert_eq!(d["buckets"][0]["bucket"], "avatars");
    assert_eq!(d["buckets"][1]["objects"], 0);
    assert_eq!(
        d["largest_objects"],
        json!([{"bucket": "avatars", "path": "alice/big.png", "bytes": 5000,
        "size_readable": "4.9 KiB (5000 bytes)", "mimetype": "image/png", "updated_at": "2024-01-02T00:00:00Z"}])
    );
    assert_eq!(d["complete"], true);
    for req in requests(&mock).await {
        let op = if req.method.as_str() == "GET" {
            "list_buckets"
        } else {
            "list_objects"
        };
        check(&req, op);
    }
}

// ---------------------------------------------------------------------------
// The SQL path (real PostgreSQL, Supabase-like fixture with sample data)
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn listings_and_info_fall_back_to_sql() {
    let mut s = sql_server().await;
    let r = s.call("list_buckets", json!({})).await;
    let d = ok(&r);
    assert_eq!(d["via"], "sql");
    assert_eq!(d["count"], 2);
    assert_eq!(d["public_buckets"], json!(["avatars"]));
    assert_eq!(
        d["buckets"][0]["allowed_mime_types"],
        json!(["image/png", "image/jpeg", "image/webp"])
    );
    assert_eq!(
        d["buckets"][1]["file_size_limit_readable"],
        "10 MiB (10485760 bytes)"
    );

    let r = s.call("get_bucket", json!({"bucket": "documents"})).await;
    assert_eq!(ok(&r)["bucket"]["public"], false);
    let r = s.call("get_bucket", json!({"bucket": "nope"})).await;
    assert_eq!(error_code(&r), "not_found", "{r}");

    let r = s.call("list_objects", json!({"bucket": "avatars"})).await;
    let d = ok(&r);
    assert_eq!(d["via"], "sql");
    assert_eq!(
        d["entries"],
        json!([{"name": "alice", "folder": true}, {"name": "bob", "folder": true}])
    );
    let r = s
        .call(
            "list_objects",
            json!({"bucket": "documents", "prefix": "alice/reports"}),
        )
        .await;
    assert_eq!(ok(&r)["entries"], json!([{"name": "2024", "folder": true}]));
    let r = s
        .call(
            "list_objects",
            json!({"bucket": "avatars", "prefix": "alice"}),
        )
        .await;
    let e = &ok(&r)["entries"][0];
    assert_eq!(e["name"], "avatar.png");
    assert_eq!(e["size"], 20480);
    assert_eq!(e["mimetype"], "image/png");
    let r = s.call("list_objects", json!({"bucket": "nope"})).await;
    assert_eq!(error_code(&r), "not_found", "{r}");

    let r = s
        .call(
            "get_object_info",
            json!({"bucket": "documents", "path": "alice/reports/2024/q1.pdf"}),
        )
        .await;
    let d = ok(&r);
    assert_eq!(d["via"], "sql");
    assert_eq!(d["info"]["size"], 512000);
    assert_eq!(d["info"]["content_type"], "application/pdf");
    assert_eq!(d["info"]["cache_control"], "no-cache");
    let r = s
        .call(
            "get_object_info",
            json!({"bucket": "documents", "path": "Alice/x.pdf"}),
        )
        .await;
    assert_eq!(error_code(&r), "not_found", "{r}");

    // What only the API can do says so.
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("a.txt");
    std::fs::write(&f, b"x").unwrap();
    let r = s
        .call(
            "upload_object",
            json!({"bucket": "avatars", "path": "a.txt", "file": f.display().to_string()}),
        )
        .await;
    assert_eq!(error_code(&r), "not_configured", "{r}");
    assert!(text(&r).contains("--supabase-url"), "{r}");
    let r = s.call("create_bucket", json!({"name": "new"})).await;
    assert_eq!(error_code(&r), "not_configured", "{r}");
    let r = s
        .call(
            "create_signed_urls",
            json!({"bucket": "avatars", "paths": ["alice/avatar.png"]}),
        )
        .await;
    assert_eq!(error_code(&r), "not_configured", "{r}");
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_through_sql() {
    let mut s = sql_server().await;
    let r = s.call("storage_metrics", json!({})).await;
    let d = ok(&r);
    assert_eq!(d["via"], "sql");
    assert_eq!(
        d["totals"],
        json!({"buckets": 2, "objects": 3, "bytes": 568320, "size_readable": "555 KiB (568320 bytes)"})
    );
    assert_eq!(d["buckets"][0]["bucket"], "documents");
    assert_eq!(d["buckets"][0]["bytes"], 512000);
    assert_eq!(
        d["buckets"][1],
        json!({"bucket": "avatars", "public": true, "objects": 2, "bytes": 56320,
        "size_readable": "55 KiB (56320 bytes)"})
    );
    let paths: Vec<&str> = d["largest_objects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["path"].as_str().unwrap())
        .collect();
    assert_eq!(
        paths,
        vec![
            "alice/reports/2024/q1.pdf",
            "bob/avatar.jpg",
            "alice/avatar.png"
        ]
    );

    let r = s
        .call("storage_metrics", json!({"bucket": "avatars", "top": 1}))
        .await;
    let d = ok(&r);
    assert_eq!(d["totals"]["objects"], 2);
    assert_eq!(d["largest_objects"][0]["path"], "bob/avatar.jpg");
    assert_eq!(d["largest_objects"].as_array().unwrap().len(), 1);
    let r = s.call("storage_metrics", json!({"bucket": "nope"})).await;
    assert_eq!(error_code(&r), "not_found", "{r}");
    let r = s.call("storage_metrics", json!({"top": 0})).await;
    assert_eq!(error_code(&r), "invalid_arguments", "{r}");
}

#[tokio::test(flavor = "multi_thread")]
async fn storage_policies_are_listed_and_created() {
    let mut s = sql_server().await;
    let r = s.call("list_storage_policies", json!({})).await;
    let d = ok(&r);
    assert_eq!(d["via"], "sql");
    assert_eq!(d["tables"]["objects"]["rls_enabled"], true);
    assert_eq!(d["count"], 2);
    let meanings: Vec<&str> = d["policies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["meaning"].as_str().unwrap())
        .collect();
    assert!(
        meanings
            .iter()
            .any(|m| m.starts_with("Every role may download and list files in bucket `avatars`")),
        "{meanings:?}"
    );
    assert!(meanings.iter().any(|m| m.starts_with("`authenticated` may upload new files") && m.contains("user id")), "{meanings:?}");

    // The documents bucket has no policy naming it; the upload one names no bucket.
    let r = s
        .call("list_storage_policies", json!({"bucket": "documents"}))
        .await;
    let d = ok(&r);
    assert_eq!(d["count"], 1);
    assert_eq!(d["policies"][0]["buckets"], "all");

    let args = json!({"bucket": "documents", "template": "owner_only"});
    let (first, second) = confirmed(&mut s, "create_storage_policy", args.clone()).await;
    let action = data(&first)["action"].as_str().unwrap().to_owned();
    assert!(action.contains("CREATE POLICY \"Owners manage own files in documents\" ON storage.objects FOR ALL TO authenticated"), "{action}");
    assert!(
        action.contains("owner_id = (select auth.uid()::text)"),
        "{action}"
    );
    let d = ok(&second);
    assert_eq!(d["created"], "Owners manage own files in documents");
    assert_eq!(d["via"], "sql");

    let c = s.db.as_ref().unwrap().client().await.unwrap();
    let row = c
        .query_one(
            "SELECT cmd, roles::text[], qual, with_check FROM pg_policies WHERE schemaname = 'storage' AND policyname = 'Owners manage own files in documents'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "ALL");
    assert_eq!(row.get::<_, Vec<String>>(1), vec!["authenticated"]);
    assert!(row.get::<_, String>(2).contains("'documents'"));
    assert!(row.get::<_, String>(3).contains("auth.uid()"));

    let r = s
        .call("list_storage_policies", json!({"bucket": "documents"}))
        .await;
    let d = ok(&r);
    assert_eq!(d["count"], 2);
    assert!(r.to_string().contains("only for files they own"), "{r}");

    // The same name again fails in the database and says why.
    let (_, second) = confirmed(&mut s, "create_storage_policy", args).await;
    assert_eq!(status(&second), "error", "{second}");
    assert!(
        text(&second).contains("already exists") || text(&second).contains("another `name`"),
        "{second}"
    );

    let r = s
        .call(
            "create_storage_policy",
            json!({"bucket": "nope", "template": "public_read", "confirmation_token": "x"}),
        )
        .await;
    assert_eq!(status(&r), "error", "{r}");
    let (_, second) = confirmed(
        &mut s,
        "create_storage_policy",
        json!({"bucket": "nope", "template": "public_read"}),
    )
    .await;
    assert_eq!(error_code(&second), "not_found", "{second}");
    let r = s
        .call(
            "create_storage_policy",
            json!({"bucket": "documents", "template": "everyone"}),
        )
        .await;
    assert_eq!(error_code(&r), "invalid_arguments", "{r}");
}

#[tokio::test(flavor = "multi_thread")]
async fn nothing_configured_says_what_to_set() {
    let mut s = Server::start(None, &["--features", "storage"]).await;
    let r = s.call("list_buckets", json!({})).await;
    assert_eq!(error_code(&r), "not_configured", "{r}");
    assert!(
        text(&r).contains("--supabase-url") && text(&r).contains("--db-url"),
        "{r}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_fall_back_to_the_api_when_sql_is_refused() {
    let mock = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/storage/v1/bucket/"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!([bucket_json("avatars", true)])),
        )
        .mount(&mock)
        .await;
    Mock::given(method("POST"))
        .and(path("/storage/v1/object/list/avatars"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([object_json("a.png", 7)])))
        .mount(&mock)
        .await;
    // A database without the Storage tables: SQL fails, the API answers.
    let db = TestDb::new().await.unwrap();
    db.client()
        .await
        .unwrap()
        .batch_execute("DROP SCHEMA storage CASCADE")
        .await
        .unwrap();
    let uri = mock.uri();
    let mut s = Server::start(
        Some(db),
        &[
            "--supabase-url",
            &uri,
            "--service-role-key",
            KEY,
            "--features",
            "storage",
        ],
    )
    .await;
    let r = s.call("storage_metrics", json!({})).await;
    let d = ok(&r);
    assert_eq!(d["via"], "api");
    assert_eq!(d["totals"]["objects"], 1);
    assert_eq!(d["totals"]["bytes"], 7);
    assert!(warnings(&r).contains("walking the Storage API"), "{r}");
    // Listings prefer the API when it is configured.
    let r = s.call("list_buckets", json!({})).await;
    assert_eq!(ok(&r)["via"], "api");
    // Policies need SQL, and say plainly that the tables are missing.
    let r = s.call("list_storage_policies", json!({})).await;
    assert_eq!(error_code(&r), "not_found", "{r}");
    assert!(text(&r).contains("no Storage tables"), "{r}");
}
