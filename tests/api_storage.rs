//! Storage client against a mock server: `apikey` plus bearer service role
//! key, `/storage/v1` base path, bucket and object calls matching
//! `specs/supabase-storage.yaml`, and the hand-written streamed upload and
//! download (slashes in keys kept, no partial file left behind on failure).

mod api_common;

use std::time::Duration;

use api_common::{SECRET, Spec, assert_header, assert_no_secret, fast_config};
use serde_json::json;
use supabase_mcp::api::generated::storage::types;
use supabase_mcp::api::{ApiError, ObjectRoute, StorageApi, UploadOptions};
use supabase_mcp::result::{ErrorCode, ToolError};
use supabase_mcp::secret::{Redactor, Secret};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const PREFIX: &str = "/storage/v1";

fn api_at(uri: &str) -> StorageApi {
    StorageApi::new(uri, &Secret::new(SECRET), &fast_config(), &Redactor::new()).unwrap()
}

fn api(server: &MockServer) -> StorageApi {
    api_at(&server.uri())
}

fn check_auth(req: &Request) {
    assert_header(req, "apikey", SECRET);
    assert_header(req, "authorization", &format!("Bearer {SECRET}"));
}

async fn requests(server: &MockServer) -> Vec<Request> {
    server.received_requests().await.unwrap()
}

fn bucket_json(name: &str) -> serde_json::Value {
    json!({"id": name, "name": name, "public": false, "type": "STANDARD",
           "created_at": "2024-01-01T00:00:00Z", "updated_at": "2024-01-01T00:00:00Z",
           "file_size_limit": null, "allowed_mime_types": null})
}

#[tokio::test]
async fn list_create_delete_buckets() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/storage/v1/bucket/"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([bucket_json("avatars")])))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/storage/v1/bucket/"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"name": "docs"})))
        .mount(&server)
        .await;
    Mock::given(method("DELETE"))
        .and(path("/storage/v1/bucket/docs"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"message": "Successfully deleted"})),
        )
        .mount(&server)
        .await;
    let api = api(&server);
    let buckets = api
        .idempotent(|c| c.list_buckets(None, None, None, None, None))
        .await
        .unwrap();
    assert_eq!(buckets[0].name, "avatars");
    let body = types::CreateBucketRequest {
        allowed_mime_types: Some(vec!["image/png".into()]),
        file_size_limit: None,
        id: None,
        name: "docs".into(),
        public: Some(false),
        type_: None,
    };
    let created = api.call(|c| c.create_bucket(&body)).await.unwrap();
    assert_eq!(created.name, "docs");
    let deleted = api.idempotent(|c| c.delete_bucket("docs")).await.unwrap();
    assert_eq!(deleted.message.as_deref(), Some("Successfully deleted"));

    let spec = Spec::load("supabase-storage");
    let reqs = requests(&server).await;
    assert_eq!(reqs.len(), 3);
    for req in &reqs {
        check_auth(req);
    }
    spec.check("list_buckets", &reqs[0], PREFIX);
    spec.check("create_bucket", &reqs[1], PREFIX);
    let params = spec.check("delete_bucket", &reqs[2], PREFIX);
    assert_eq!(params["bucketId"], "docs");
    assert_eq!(
        reqs[1].body_json::<serde_json::Value>().unwrap(),
        json!({"name": "docs", "public": false, "allowed_mime_types": ["image/png"]})
    );
}

#[tokio::test]
async fn list_objects_and_sign_url() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/storage/v1/object/list/avatars"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([
            {"name": "folder", "id": null, "metadata": null},
            {"name": "cat.png", "id": "0d9b", "metadata": {"size": 12, "mimetype": "image/png"}}
        ])))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "signedURL": "/object/sign/avatars/folder/cat.png?token=t"
        })))
        .mount(&server)
        .await;
    let api = api(&server);
    let list_body = types::ListObjectsRequest {
        limit: std::num::NonZeroU64::new(100),
        offset: None,
        prefix: "".into(),
        search: None,
        sort_by: None,
    };
    let objects = api
        .call_with(supabase_mcp::api::CallOptions::idempotent(), |c| {
            c.list_objects("avatars", &list_body)
        })
        .await
        .unwrap();
    assert_eq!(objects.len(), 2);
    assert_eq!(objects[1].name, "cat.png");

    let sign = types::SignObjectRequest {
        expires_in: std::num::NonZeroU64::new(60).unwrap(),
        transform: None,
    };
    let signed = api
        .call(|c| c.create_signed_url("avatars", "folder/cat.png", &sign))
        .await
        .unwrap();
    assert!(signed.signed_url.contains("token="));

    let spec = Spec::load("supabase-storage");
    let reqs = requests(&server).await;
    check_auth(&reqs[0]);
    check_auth(&reqs[1]);
    assert_eq!(
        spec.check("list_objects", &reqs[0], PREFIX)["bucketName"],
        "avatars"
    );
    assert_eq!(
        reqs[0].body_json::<serde_json::Value>().unwrap(),
        json!({"prefix": "", "limit": 100})
    );
    let params = spec.check("create_signed_url", &reqs[1], PREFIX);
    assert_eq!(params["wildcard"], "folder/cat.png");
    // The generated client percent-encodes the key as one path segment.
    assert_eq!(
        reqs[1].url.path(),
        "/storage/v1/object/sign/avatars/folder%2Fcat.png"
    );
    assert_eq!(
        reqs[1].body_json::<serde_json::Value>().unwrap(),
        json!({"expiresIn": 60})
    );
}

#[tokio::test]
async fn storage_error_is_surfaced_and_scrubbed() {
    let server = MockServer::start().await;
    Mock::given(method("DELETE"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "statusCode": "404", "error": "Bucket not found",
            "message": format!("Bucket not found (jwt {SECRET})")
        })))
        .mount(&server)
        .await;
    let err = api(&server)
        .idempotent(|c| c.delete_bucket("missing"))
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(400));
    assert!(err.message().starts_with("Bucket not found"));
    assert_no_secret("Display", &err.to_string());
    assert_no_secret("Debug", &format!("{err:?}"));
    let tool = ToolError::from(err);
    assert_eq!(tool.code, ErrorCode::ApiError);
    assert_no_secret("ToolError", &tool.to_text());
}

/// Bytes that are not valid UTF-8 and span several upload chunks.
fn payload() -> Vec<u8> {
    (0..200_000u32).map(|i| (i * 7 % 256) as u8).collect()
}

#[tokio::test]
async fn upload_streams_the_file_and_keeps_slashes() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/storage/v1/object/avatars/folder/sub%20dir/cat.png"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "Key": "avatars/folder/sub dir/cat.png", "Id": "0d9b"
        })))
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("cat.png");
    std::fs::write(&source, payload()).unwrap();
    let options = UploadOptions {
        content_type: "image/png".into(),
        upsert: true,
        cache_control: Some("max-age=3600".into()),
    };
    let out = api(&server)
        .upload_object("avatars", "folder/sub dir/cat.png", &source, &options)
        .await
        .unwrap();
    assert_eq!(out["Key"], "avatars/folder/sub dir/cat.png");

    let reqs = requests(&server).await;
    assert_eq!(reqs.len(), 1);
    let req = &reqs[0];
    check_auth(req);
    assert_eq!(
        req.url.path(),
        "/storage/v1/object/avatars/folder/sub%20dir/cat.png"
    );
    assert_header(req, "content-type", "image/png");
    assert_header(req, "x-upsert", "true");
    assert_header(req, "cache-control", "max-age=3600");
    assert_header(req, "content-length", "200000");
    assert!(req.body == payload(), "uploaded bytes differ");
}

#[tokio::test]
async fn plain_upload_is_not_retried_but_upsert_is() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(503).set_body_string("try later"))
        .up_to_n_times(2)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"Key": "b/k", "Id": "1"})))
        .with_priority(2)
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("k");
    std::fs::write(&source, b"hello").unwrap();
    let api = api(&server);
    let err = api
        .upload_object("b", "k", &source, &UploadOptions::default())
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(503));
    assert_eq!(requests(&server).await.len(), 1);

    let upsert = UploadOptions {
        upsert: true,
        ..UploadOptions::default()
    };
    api.upload_object("b", "k", &source, &upsert).await.unwrap();
    let reqs = requests(&server).await;
    assert_eq!(reqs.len(), 3);
    // Each retry sends the whole file again.
    assert_eq!(reqs[2].body, b"hello");
    assert_header(&reqs[0], "x-upsert", "false");
    assert_header(&reqs[0], "content-type", "application/octet-stream");
}

#[tokio::test]
async fn upload_of_missing_file_is_an_io_error() {
    let server = MockServer::start().await;
    let err = api(&server)
        .upload_object(
            "b",
            "k",
            std::path::Path::new("/nonexistent/x"),
            &UploadOptions::default(),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, ApiError::Io { .. }), "{err:?}");
    assert!(err.to_string().contains("/nonexistent/x"));
    assert_eq!(ToolError::from(err).code, ErrorCode::Io);
    assert!(requests(&server).await.is_empty());
}

#[tokio::test]
async fn download_writes_the_file_atomically() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/storage/v1/object/avatars/folder/cat.png"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(payload(), "image/png"))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(
            "/storage/v1/object/authenticated/avatars/folder/cat.png",
        ))
        .respond_with(ResponseTemplate::new(200).set_body_raw(b"auth".to_vec(), "text/plain"))
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("cat.png");
    let api = api(&server);
    let got = api
        .download_object("avatars", "folder/cat.png", &dest, ObjectRoute::Direct)
        .await
        .unwrap();
    assert_eq!(got.bytes, 200_000);
    assert_eq!(got.content_type.as_deref(), Some("image/png"));
    assert!(std::fs::read(&dest).unwrap() == payload());
    assert!(!dir.path().join("cat.png.partial").exists());

    let dest2 = dir.path().join("auth.txt");
    api.download_object(
        "avatars",
        "folder/cat.png",
        &dest2,
        ObjectRoute::Authenticated,
    )
    .await
    .unwrap();
    assert_eq!(std::fs::read(&dest2).unwrap(), b"auth");

    let reqs = requests(&server).await;
    for req in &reqs {
        check_auth(req);
        assert!(req.body.is_empty());
    }
    assert_eq!(
        reqs[1].url.path(),
        "/storage/v1/object/authenticated/avatars/folder/cat.png"
    );
}

#[tokio::test]
async fn failed_download_leaves_no_file() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(404).set_body_json(json!({
            "statusCode": "404", "error": "not_found", "message": "Object not found"
        })))
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("cat.png");
    let err = api(&server)
        .download_object("avatars", "folder/cat.png", &dest, ObjectRoute::Direct)
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(404));
    assert_eq!(err.message(), "Object not found");
    assert_eq!(ToolError::from(err).code, ErrorCode::NotFound);
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);

    // An existing file is left as it was.
    std::fs::write(&dest, b"old").unwrap();
    api(&server)
        .download_object("avatars", "folder/cat.png", &dest, ObjectRoute::Direct)
        .await
        .unwrap_err();
    assert_eq!(std::fs::read(&dest).unwrap(), b"old");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[tokio::test]
async fn download_retries_503() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(b"data".to_vec()))
        .with_priority(2)
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("d");
    api(&server)
        .download_object("b", "k", &dest, ObjectRoute::Direct)
        .await
        .unwrap();
    assert_eq!(std::fs::read(&dest).unwrap(), b"data");
    assert_eq!(requests(&server).await.len(), 2);
}

/// A one-shot HTTP server that announces `declared` body bytes, sends
/// `sent` of them, then either closes the connection or stalls.
async fn broken_server(declared: usize, sent: usize, stall: bool) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (mut sock, _) = listener.accept().await.unwrap();
        let mut buf = vec![0u8; 8192];
        let _ = sock.read(&mut buf).await;
        let head = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/octet-stream\r\ncontent-length: {declared}\r\n\r\n"
        );
        sock.write_all(head.as_bytes()).await.unwrap();
        sock.write_all(&vec![b'x'; sent]).await.unwrap();
        sock.flush().await.unwrap();
        if stall {
            tokio::time::sleep(Duration::from_secs(30)).await;
        }
    });
    format!("http://{addr}")
}

#[tokio::test]
async fn download_cut_short_leaves_no_partial_file() {
    let uri = broken_server(100_000, 10_000, false).await;
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("big.bin");
    let err = api_at(&uri)
        .download_object("b", "big.bin", &dest, ObjectRoute::Direct)
        .await
        .unwrap_err();
    assert!(!matches!(err, ApiError::Status { .. }), "{err:?}");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[tokio::test]
async fn download_timing_out_mid_body_leaves_no_partial_file() {
    let uri = broken_server(100_000, 10_000, true).await;
    let config = fast_config().with_transfer_timeout(Duration::from_millis(500));
    let api = StorageApi::new(&uri, &Secret::new(SECRET), &config, &Redactor::new()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("big.bin");
    let err = api
        .download_object("b", "big.bin", &dest, ObjectRoute::Direct)
        .await
        .unwrap_err();
    assert!(matches!(err, ApiError::Timeout { .. }), "{err:?}");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[tokio::test]
async fn invalid_object_keys_are_rejected_locally() {
    let server = MockServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let api = api(&server);
    for key in ["/lead", "trail/", "a//b", "a/../b"] {
        let err = api
            .download_object("b", key, &dir.path().join("x"), ObjectRoute::Direct)
            .await
            .unwrap_err();
        assert_eq!(
            ToolError::from(err).code,
            ErrorCode::InvalidArguments,
            "{key}"
        );
    }
    assert!(requests(&server).await.is_empty());
}
