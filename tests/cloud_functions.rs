//! The `functions` tools (`list_edge_functions`, `get_edge_function`,
//! `deploy_edge_function`) in cloud mode, against a mock Management API:
//! the exact requests (checked against `specs/supabase-management.yaml`,
//! the multipart deploy part by part), deployed file names without the
//! deployment directory, source files capped to the result budget, import
//! map detection, file name checks, the confirmation a deploy over an
//! existing function needs, and every kind of API failure as a tool error.

mod api_common;
mod common;

use common::*;
use serde_json::{Value, json};
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const TOKEN: &str = CLOUD_TOKEN;
const PROJECT: &str = CLOUD_PROJECT;
const OTHER: &str = "zyxwvutsrqponmlkjihg";
const FN_ID: &str = "5b1f0c9e-7a41-4a53-9f3e-0d2c6f1e8a77";
const BOUNDARY: &str = "----bundle-7d3f";

async fn start(mock: &MockServer, scoped: bool, extra: &[&str]) -> Server {
    start_cloud(&mock.uri(), "functions", scoped, extra).await
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

fn function(slug: &str, version: i64, import_map: Option<&str>) -> Value {
    let dir = format!("file:///tmp/user_fn_{PROJECT}_{FN_ID}_{version}/source");
    let mut f = json!({
        "id": FN_ID,
        "slug": slug,
        "name": slug,
        "status": "ACTIVE",
        "version": version,
        "created_at": 1735732800000_i64,
        "updated_at": 1735819200000_i64,
        "verify_jwt": true,
        "import_map": import_map.is_some(),
        "entrypoint_path": format!("{dir}/index.ts"),
    });
    if let Some(m) = import_map {
        f["import_map_path"] = json!(format!("{dir}/{m}"));
    }
    f
}

fn fn_path(slug: &str) -> String {
    format!("/v1/projects/{PROJECT}/functions/{slug}")
}

/// A multipart body as the body endpoint sends it: a metadata part, then
/// one part per file.
fn bundle(files: &[(&str, &str)]) -> Vec<u8> {
    let mut b = format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"metadata\"\r\nContent-Type: application/json\r\n\r\n{{\"deno2_entrypoint_path\":null}}\r\n"
    );
    for (name, content) in files {
        b.push_str(&format!(
            "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\nContent-Type: text/plain\r\n\r\n{content}\r\n"
        ));
    }
    b.push_str(&format!("--{BOUNDARY}--\r\n"));
    b.into_bytes()
}

fn bundle_response(files: &[(&str, &str)]) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_raw(
        bundle(files),
        &format!("multipart/form-data; boundary={BOUNDARY}"),
    )
}

async fn mount_function(mock: &MockServer, slug: &str, body: Value) {
    Mock::given(method("GET"))
        .and(path(fn_path(slug)))
        .respond_with(ResponseTemplate::new(200).set_body_json(body))
        .mount(mock)
        .await;
}

async fn mount_missing(mock: &MockServer, slug: &str) {
    Mock::given(method("GET"))
        .and(path(fn_path(slug)))
        .respond_with(
            ResponseTemplate::new(404).set_body_json(json!({"message": "Function not found"})),
        )
        .mount(mock)
        .await;
}

async fn mount_deploy(mock: &MockServer, slug: &str, version: i64) {
    Mock::given(method("POST"))
        .and(path(format!("/v1/projects/{PROJECT}/functions/deploy")))
        .and(query_param("slug", slug))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({
            "id": FN_ID, "slug": slug, "name": slug, "status": "ACTIVE", "version": version,
            "created_at": 1735732800000_i64, "updated_at": 1735819200000_i64,
        })))
        .mount(mock)
        .await;
}

/// One part of a multipart request, parsed independently of the server.
#[derive(Debug)]
struct Part {
    name: String,
    filename: Option<String>,
    content_type: Option<String>,
    body: String,
}

fn multipart(req: &Request) -> Vec<Part> {
    let ct = req.headers.get("content-type").unwrap().to_str().unwrap();
    assert!(ct.starts_with("multipart/form-data"), "{ct}");
    let boundary = ct.split("boundary=").nth(1).unwrap().trim_matches('"');
    let body = String::from_utf8(req.body.clone()).unwrap();
    let delimiter = format!("--{boundary}");
    let mut sections: Vec<&str> = body.split(delimiter.as_str()).collect();
    assert!(
        sections.pop().unwrap().starts_with("--"),
        "closing boundary"
    );
    sections
        .into_iter()
        .skip(1)
        .map(|s| {
            let s = s.strip_prefix("\r\n").unwrap();
            let s = s.strip_suffix("\r\n").unwrap();
            let (head, body) = s.split_once("\r\n\r\n").unwrap();
            let mut name = String::new();
            let mut filename = None;
            let mut content_type = None;
            for line in head.lines() {
                let lower = line.to_ascii_lowercase();
                if lower.starts_with("content-disposition:") {
                    for p in line.split(';').skip(1) {
                        let (k, v) = p.trim().split_once('=').unwrap();
                        let v = v.trim_matches('"').to_owned();
                        match k {
                            "name" => name = v,
                            "filename" => filename = Some(v),
                            _ => {}
                        }
                    }
                } else if lower.starts_with("content-type:") {
                    content_type = Some(line[13..].trim().to_owned());
                }
            }
            Part {
                name,
                filename,
                content_type,
                body: body.to_owned(),
            }
        })
        .collect()
}

/// Checks a deploy request; returns the metadata and the (file name, content) parts.
fn deploy_request(req: &Request, slug: &str) -> (Value, Vec<(String, String)>) {
    api_common::assert_header(req, "authorization", &format!("Bearer {TOKEN}"));
    assert_eq!(req.method.as_str(), "POST");
    assert_eq!(
        req.url.path(),
        format!("/v1/projects/{PROJECT}/functions/deploy")
    );
    let query: Vec<(String, String)> = req.url.query_pairs().into_owned().collect();
    assert_eq!(query, vec![("slug".to_owned(), slug.to_owned())]);
    let parts = multipart(req);
    assert_eq!(parts[0].name, "metadata", "{parts:?}");
    assert_eq!(parts[0].filename, None);
    let metadata: Value = serde_json::from_str(&parts[0].body).unwrap();
    let files = parts[1..]
        .iter()
        .map(|p| {
            assert_eq!(p.name, "file", "{p:?}");
            assert_eq!(p.content_type.as_deref(), Some("application/octet-stream"));
            (p.filename.clone().expect("file name"), p.body.clone())
        })
        .collect();
    (metadata, files)
}

#[tokio::test(flavor = "multi_thread")]
async fn list_edge_functions_shows_each_function_with_relative_paths() {
    let mock = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("/v1/projects/{PROJECT}/functions")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([
            function("hello", 3, Some("deno.json")),
            {"id": "f2", "slug": "plain", "name": "Plain", "status": "THROTTLED", "version": 1,
             "created_at": 0, "updated_at": 0},
        ])))
        .mount(&mock)
        .await;
    let mut s = start(&mock, true, &[]).await;
    let r = s.call("list_edge_functions", json!({})).await;
    let d = ok(&r);
    assert!(text(&r).contains("<untrusted-data-"), "{r}");
    assert_eq!(d["project_id"], PROJECT);
    assert_eq!(d["count"], 2);
    let f = &d["functions"][0];
    assert_eq!(f["slug"], "hello");
    assert_eq!(f["id"], FN_ID);
    assert_eq!(f["status"], "ACTIVE");
    assert_eq!(f["version"], 3);
    assert_eq!(f["verify_jwt"], true);
    assert_eq!(f["entrypoint_path"], "index.ts");
    assert_eq!(f["import_map_path"], "deno.json");
    assert_eq!(f["created_at"], "2025-01-01T12:00:00Z");
    let g = &d["functions"][1];
    assert_eq!(g["name"], "Plain");
    assert_eq!(g["status"], "THROTTLED");
    assert!(g.get("entrypoint_path").is_none(), "{g}");
    let reqs = requests(&mock).await;
    assert_eq!(reqs.len(), 1);
    check(&reqs[0], "v1-list-all-functions");
    assert_eq!(reqs[0].url.query(), None);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_empty_project_says_how_to_create_a_function() {
    let mock = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("/v1/projects/{OTHER}/functions")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([])))
        .mount(&mock)
        .await;
    let mut s = start(&mock, false, &[]).await;
    let r = s
        .call("list_edge_functions", json!({"project_id": OTHER}))
        .await;
    assert_eq!(ok(&r)["count"], 0);
    assert!(warnings(&r).contains("deploy_edge_function"), "{r}");
}

#[tokio::test(flavor = "multi_thread")]
async fn get_edge_function_returns_settings_and_source_files() {
    let mock = MockServer::start().await;
    mount_function(&mock, "hello", function("hello", 3, None)).await;
    let prefix = format!("/tmp/user_fn_{PROJECT}_{FN_ID}_3/");
    let index = format!("{prefix}source/index.ts");
    let shared = "../_shared/cors.ts";
    Mock::given(method("GET"))
        .and(path(format!("{}/body", fn_path("hello"))))
        .respond_with(bundle_response(&[
            (
                index.as_str(),
                "import { cors } from \"../_shared/cors.ts\";\nDeno.serve(() => new Response(\"hi\"));",
            ),
            ("source/lib/util.ts", "export const x = 1;"),
            (shared, "export const cors = {};"),
        ]))
        .mount(&mock)
        .await;
    let mut s = start(&mock, true, &[]).await;
    let r = s
        .call("get_edge_function", json!({"function_slug": "hello"}))
        .await;
    let d = ok(&r);
    assert!(text(&r).contains("<untrusted-data-"), "{r}");
    assert_eq!(d["slug"], "hello");
    assert_eq!(d["version"], 3);
    assert_eq!(d["entrypoint_path"], "index.ts");
    assert_eq!(d["file_count"], 3);
    let files = d["files"].as_array().unwrap();
    let names: Vec<&str> = files.iter().map(|f| f["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["index.ts", "lib/util.ts", "../_shared/cors.ts"]);
    assert!(
        files[0]["content"]
            .as_str()
            .unwrap()
            .starts_with("import { cors }")
    );
    assert!(
        files[0]["content"]
            .as_str()
            .unwrap()
            .ends_with("new Response(\"hi\"));"),
        "no part delimiter left in the content: {}",
        files[0]["content"]
    );
    assert_eq!(files[1]["content"], "export const x = 1;");
    assert_eq!(files[1]["size"], 19);
    assert_eq!(warnings(&r), "null");

    let reqs = requests(&mock).await;
    assert_eq!(reqs.len(), 2);
    check(&reqs[0], "v1-get-a-function");
    check(&reqs[1], "v1-get-a-function-body");
    api_common::assert_header(&reqs[1], "accept", "multipart/form-data");
    assert_eq!(reqs[1].url.query(), None);
}

#[tokio::test(flavor = "multi_thread")]
async fn large_sources_are_cut_with_a_note() {
    let mock = MockServer::start().await;
    mount_function(&mock, "big", function("big", 1, None)).await;
    let big = "// line of code\n".repeat(20_000);
    Mock::given(method("GET"))
        .and(path(format!("{}/body", fn_path("big"))))
        .respond_with(bundle_response(&[
            ("index.ts", "Deno.serve(() => new Response());"),
            ("data.ts", &big),
            ("later.ts", "export {};"),
        ]))
        .mount(&mock)
        .await;
    let mut s = start(&mock, true, &["--output-budget", "65536"]).await;
    let r = s
        .call("get_edge_function", json!({"function_slug": "big"}))
        .await;
    let d = ok(&r);
    assert!(r.to_string().len() < 65536, "within the budget");
    let files = d["files"].as_array().unwrap();
    assert_eq!(files[0]["content"], "Deno.serve(() => new Response());");
    assert_eq!(files[1]["truncated"], true);
    assert_eq!(files[1]["size"], big.len());
    let cut = files[1]["content"].as_str().unwrap();
    assert!(!cut.is_empty() && cut.len() < big.len(), "{}", cut.len());
    assert_eq!(files[2]["content"], Value::Null);
    let w = warnings(&r);
    assert!(w.contains("data.ts is cut after"), "{w}");
    assert!(w.contains("later.ts"), "{w}");
    assert!(w.contains("supabase functions download big"), "{w}");
    assert!(d.get("spill").is_none() && r["structuredContent"]["data"]["files"].is_array());
}

#[tokio::test(flavor = "multi_thread")]
async fn bundles_that_are_not_source_files_are_explained() {
    let mock = MockServer::start().await;
    mount_function(&mock, "old", function("old", 1, None)).await;
    Mock::given(method("GET"))
        .and(path(format!("{}/body", fn_path("old"))))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_raw(b"ESZIP2\x00\x01".to_vec(), "application/octet-stream"),
        )
        .mount(&mock)
        .await;
    mount_function(&mock, "broken", function("broken", 1, None)).await;
    Mock::given(method("GET"))
        .and(path(format!("{}/body", fn_path("broken"))))
        .respond_with(ResponseTemplate::new(200).set_body_raw(
            format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"index.ts\"\r\n\r\ncut off"),
            &format!("multipart/form-data; boundary={BOUNDARY}"),
        ))
        .mount(&mock)
        .await;
    let mut s = start(&mock, true, &[]).await;
    let r = s
        .call("get_edge_function", json!({"function_slug": "old"}))
        .await;
    let d = ok(&r);
    assert_eq!(d["files"], json!([]));
    assert_eq!(d["entrypoint_path"], "index.ts");
    assert!(warnings(&r).contains("application/octet-stream"), "{r}");

    let r = s
        .call("get_edge_function", json!({"function_slug": "broken"}))
        .await;
    assert!(is_error(&r), "{r}");
    assert_eq!(error_code(&r), "api_error");
    assert!(text(&r).contains("could not be used"), "{}", text(&r));
    assert!(text(&r).contains("closing boundary"), "{}", text(&r));
}

#[tokio::test(flavor = "multi_thread")]
async fn deploying_a_new_function_sends_metadata_and_every_file() {
    let mock = MockServer::start().await;
    mount_missing(&mock, "send-email").await;
    mount_deploy(&mock, "send-email", 1).await;
    let mut s = start(&mock, true, &[]).await;
    let args = json!({
        "name": "send-email",
        "entrypoint_path": "./index.ts",
        "verify_jwt": false,
        "files": [
            {"name": "index.ts", "content": "import { cors } from '../_shared/cors.ts';\nDeno.serve(() => new Response('ok'));\n"},
            {"name": "../_shared/cors.ts", "content": "export const cors = {};"},
            {"name": "deno.json", "content": "{\"imports\": {\"zod\": \"npm:zod@3\"}}"},
        ],
    });
    let r = s.call("deploy_edge_function", args).await;
    let d = ok(&r);
    assert_eq!(d["action"], "created");
    assert_eq!(d["version"], 1);
    assert_eq!(d["status"], "ACTIVE");
    assert_eq!(d["slug"], "send-email");
    assert_eq!(d["entrypoint_path"], "index.ts");
    assert_eq!(d["import_map_path"], "deno.json");
    assert_eq!(d["import_map_source"], "detected");
    assert_eq!(
        d["url"],
        format!("https://{PROJECT}.supabase.co/functions/v1/send-email")
    );
    assert!(warnings(&r).contains("verify_jwt is false"), "{r}");

    let reqs = requests(&mock).await;
    assert_eq!(reqs.len(), 2, "existence check, then the deploy");
    check(&reqs[0], "v1-get-a-function");
    let (metadata, files) = deploy_request(&reqs[1], "send-email");
    assert_eq!(
        metadata,
        json!({"entrypoint_path": "index.ts", "import_map_path": "deno.json",
               "verify_jwt": false, "name": "send-email"})
    );
    assert_eq!(
        files,
        vec![
            (
                "index.ts".to_owned(),
                "import { cors } from '../_shared/cors.ts';\nDeno.serve(() => new Response('ok'));\n"
                    .to_owned()
            ),
            (
                "../_shared/cors.ts".to_owned(),
                "export const cors = {};".to_owned()
            ),
            (
                "deno.json".to_owned(),
                "{\"imports\": {\"zod\": \"npm:zod@3\"}}".to_owned()
            ),
        ]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn import_maps_are_given_detected_or_kept_from_the_previous_deploy() {
    let mock = MockServer::start().await;
    mount_missing(&mock, "given").await;
    mount_missing(&mock, "detected").await;
    mount_missing(&mock, "none").await;
    mount_function(
        &mock,
        "kept",
        function("kept", 4, Some("maps/imports.json")),
    )
    .await;
    for slug in ["given", "detected", "none", "kept"] {
        mount_deploy(&mock, slug, 5).await;
    }
    let mut s = start(&mock, true, &["--allow-destructive"]).await;
    let index = json!({"name": "index.ts", "content": "Deno.serve(() => new Response());"});
    let map = |name: &str| json!({"name": name, "content": "{\"imports\": {}}"});
    let cases = [
        (
            "given",
            json!([index, map("import_map.json"), map("deno.json")]),
            Some("import_map.json"),
            Some("import_map.json"),
        ),
        (
            "detected",
            json!([index, map("import_map.json")]),
            None,
            Some("import_map.json"),
        ),
        ("none", json!([index]), None, None),
        (
            "kept",
            json!([index, map("maps/imports.json"), map("deno.json")]),
            None,
            Some("maps/imports.json"),
        ),
    ];
    for (slug, files, given, expected) in &cases {
        let mut args = json!({"name": slug, "entrypoint_path": "index.ts", "verify_jwt": true, "files": files});
        if let Some(g) = given {
            args["import_map_path"] = json!(g);
        }
        let r = s.call("deploy_edge_function", args).await;
        let d = ok(&r);
        assert_eq!(d["import_map_path"].as_str(), *expected, "{slug}: {d}");
    }
    let deploys: Vec<Request> = requests(&mock)
        .await
        .into_iter()
        .filter(|r| r.method.as_str() == "POST")
        .collect();
    assert_eq!(deploys.len(), 4);
    for (req, (slug, _, _, expected)) in deploys.iter().zip(&cases) {
        let (metadata, _) = deploy_request(req, slug);
        assert_eq!(metadata["import_map_path"].as_str(), *expected, "{slug}");
        assert_eq!(metadata["verify_jwt"], true);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn replacing_an_existing_function_needs_a_confirmation() {
    let mock = MockServer::start().await;
    mount_function(&mock, "hello", function("hello", 7, None)).await;
    mount_deploy(&mock, "hello", 8).await;
    Mock::given(method("GET"))
        .and(path(format!("/v1/projects/{PROJECT}/functions")))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!([function("listed", 2, None)])),
        )
        .mount(&mock)
        .await;
    mount_function(&mock, "listed", function("listed", 2, None)).await;
    mount_deploy(&mock, "listed", 3).await;
    let mut s = start(&mock, true, &[]).await;
    let args = json!({"name": "hello", "entrypoint_path": "index.ts", "verify_jwt": true,
        "files": [{"name": "index.ts", "content": "Deno.serve(() => new Response('v8'));"}]});

    // Not seen before: the handler finds it exists and asks, sending nothing.
    let r = s.call("deploy_edge_function", args.clone()).await;
    assert!(is_error(&r), "{r}");
    assert_eq!(error_code(&r), "confirmation_required", "{r}");
    let t = text(&r);
    assert!(
        t.contains("already exists") && t.contains("version 7"),
        "{t}"
    );
    let token = t
        .split("confirmation_token \"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a token in the suggestion")
        .to_owned();
    let posts = |reqs: &[Request]| reqs.iter().filter(|r| r.method.as_str() == "POST").count();
    assert_eq!(posts(&requests(&mock).await), 0, "nothing deployed yet");

    // The token covers only these exact arguments.
    let mut other = args.clone();
    other["files"][0]["content"] = json!("Deno.serve(() => new Response('other'));");
    other["confirmation_token"] = json!(token);
    let r = s.call("deploy_edge_function", other).await;
    assert_eq!(error_code(&r), "confirmation_required", "{r}");
    assert!(text(&r).contains("not valid for this call"), "{}", text(&r));
    assert_eq!(posts(&requests(&mock).await), 0);

    // With it, the same call deploys.
    let mut confirmed = args.clone();
    confirmed["confirmation_token"] = json!(token);
    let r = s.call("deploy_edge_function", confirmed.clone()).await;
    let d = ok(&r);
    assert_eq!(d["action"], "updated");
    assert_eq!(d["version"], 8);
    assert_eq!(posts(&requests(&mock).await), 1);

    // A token works once.
    let r = s.call("deploy_edge_function", confirmed).await;
    assert_eq!(error_code(&r), "confirmation_required", "{r}");
    assert_eq!(posts(&requests(&mock).await), 1);

    // Now known to exist, the next deploy is confirmed by the pipeline first.
    let before = requests(&mock).await.len();
    let r = s.call("deploy_edge_function", args.clone()).await;
    assert_eq!(status(&r), "confirmation_required", "{r}");
    let action = data(&r)["action"].as_str().unwrap().to_owned();
    assert!(
        action.contains("`hello`") && action.contains("already exists"),
        "{action}"
    );
    assert_eq!(
        requests(&mock).await.len(),
        before,
        "nothing sent before confirming"
    );
    let mut confirmed = args.clone();
    confirmed["confirmation_token"] = data(&r)["confirmation_token"].clone();
    assert_eq!(
        ok(&s.call("deploy_edge_function", confirmed).await)["action"],
        "updated"
    );
    assert_eq!(posts(&requests(&mock).await), 2);

    // Invalid arguments are refused without asking first, even for it.
    let mut invalid = args.clone();
    invalid["entrypoint_path"] = json!("main.ts");
    let r = s.call("deploy_edge_function", invalid).await;
    assert_eq!(error_code(&r), "invalid_arguments", "{r}");

    // A function seen in a list asks before anything is sent.
    let before = requests(&mock).await.len();
    ok(&s.call("list_edge_functions", json!({})).await);
    let listed = json!({"name": "listed", "entrypoint_path": "index.ts", "verify_jwt": true,
        "files": [{"name": "index.ts", "content": "x"}]});
    let r = s.call("deploy_edge_function", listed.clone()).await;
    assert_eq!(status(&r), "confirmation_required", "{r}");
    assert_eq!(
        requests(&mock).await.len(),
        before + 1,
        "only the list was sent"
    );
    let mut confirmed = listed;
    confirmed["confirmation_token"] = data(&r)["confirmation_token"].clone();
    assert_eq!(
        ok(&s.call("deploy_edge_function", confirmed).await)["version"],
        3
    );

    // The tool says it may ask, and takes a token.
    let tools = s.tools().await;
    let t = tools
        .iter()
        .find(|t| t["name"] == "deploy_edge_function")
        .unwrap();
    assert_ne!(t["annotations"]["readOnlyHint"], true, "{t}");
    assert_ne!(t["annotations"]["destructiveHint"], false, "{t}");
    assert!(
        t["inputSchema"]["properties"]
            .get("confirmation_token")
            .is_some()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn allow_destructive_replaces_without_asking_and_read_only_hides_deploys() {
    let mock = MockServer::start().await;
    mount_function(&mock, "hello", function("hello", 1, None)).await;
    mount_deploy(&mock, "hello", 2).await;
    let mut s = start(&mock, true, &["--allow-destructive"]).await;
    let r = s
        .call(
            "deploy_edge_function",
            json!({"name": "hello", "entrypoint_path": "index.ts", "verify_jwt": true,
                   "files": [{"name": "index.ts", "content": "x"}]}),
        )
        .await;
    assert_eq!(ok(&r)["action"], "updated");

    let mut s = start(&mock, true, &["--read-only"]).await;
    let names: Vec<String> = s
        .tools()
        .await
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_owned())
        .collect();
    assert!(names.contains(&"list_edge_functions".to_owned()));
    assert!(!names.contains(&"deploy_edge_function".to_owned()));
    let r = s
        .call(
            "deploy_edge_function",
            json!({"name": "hello", "entrypoint_path": "index.ts", "verify_jwt": true,
                   "files": [{"name": "index.ts", "content": "x"}]}),
        )
        .await;
    assert_eq!(error_code(&r), "read_only", "{r}");
}

#[tokio::test(flavor = "multi_thread")]
async fn deploy_arguments_are_checked_before_any_request() {
    let mock = MockServer::start().await;
    let mut s = start(&mock, true, &[]).await;
    let index = json!({"name": "index.ts", "content": "x"});
    let cases = [
        (
            json!({"name": "2fast", "files": [index]}),
            "not a valid function name",
        ),
        (
            json!({"name": "a/b", "files": [index]}),
            "not a valid function name",
        ),
        (json!({"files": []}), "`files` is empty"),
        (
            json!({"files": [index, {"name": "/etc/passwd", "content": "x"}]}),
            "absolute path",
        ),
        (
            json!({"files": [index, {"name": "../other/x.ts", "content": "x"}]}),
            "leaves the function's directory",
        ),
        (
            json!({"files": [index, {"name": "../../_shared/x.ts", "content": "x"}]}),
            "leaves the function's directory",
        ),
        (
            json!({"files": [index, {"name": "lib\\x.ts", "content": "x"}]}),
            "'/'",
        ),
        (
            json!({"files": [index, {"name": "./index.ts", "content": "y"}]}),
            "given twice",
        ),
        (
            json!({"entrypoint_path": "main.ts", "files": [index]}),
            "not one of the files",
        ),
        (
            json!({"entrypoint_path": "../_shared/cors.ts", "files": [index, {"name": "../_shared/cors.ts", "content": "x"}]}),
            "function's own file",
        ),
        (
            json!({"import_map_path": "deno.json", "files": [index]}),
            "`import_map_path` `deno.json` is not one of the files",
        ),
        (
            json!({"files": [index, {"name": "deno.json", "content": "{ nope"}]}),
            "not valid JSON",
        ),
        (
            json!({"files": [{"name": "index.ts", "content": "x", "mode": "0755"}]}),
            "unknown field",
        ),
        (json!({"verify_jwt": "yes"}), "invalid type"),
    ];
    for (patch, expect) in &cases {
        let mut args = json!({"name": "hello", "entrypoint_path": "index.ts", "verify_jwt": true, "files": [index]});
        for (k, v) in patch.as_object().unwrap() {
            args[k] = v.clone();
        }
        let r = s.call("deploy_edge_function", args).await;
        assert!(is_error(&r), "{patch}: {r}");
        assert_eq!(error_code(&r), "invalid_arguments", "{patch}: {r}");
        assert!(text(&r).contains(expect), "{patch}: {}", text(&r));
        assert!(text(&r).contains("Suggestion:"), "{patch}: {}", text(&r));
    }
    let r = s
        .call("get_edge_function", json!({"function_slug": "no/slashes"}))
        .await;
    assert_eq!(error_code(&r), "invalid_arguments");
    assert!(requests(&mock).await.is_empty(), "nothing was sent");
}

#[tokio::test(flavor = "multi_thread")]
async fn deploy_failures_are_tool_errors() {
    for (template, code, needle) in [
        (
            ResponseTemplate::new(400)
                .set_body_json(json!({"message": "Entrypoint could not be bundled: syntax error"})),
            "api_error",
            "syntax error",
        ),
        (
            ResponseTemplate::new(401).set_body_json(json!({"message": "Unauthorized"})),
            "permission_denied",
            "access token",
        ),
        (
            ResponseTemplate::new(500).set_body_string("bundler crashed"),
            "api_error",
            "HTTP 500",
        ),
        (
            ResponseTemplate::new(201).set_body_raw("{\"id\": ", "application/json"),
            "api_error",
            "could not be used",
        ),
    ] {
        let mock = MockServer::start().await;
        mount_missing(&mock, "hello").await;
        Mock::given(method("POST"))
            .respond_with(template)
            .mount(&mock)
            .await;
        let mut s = start(&mock, true, &[]).await;
        let r = s
            .call(
                "deploy_edge_function",
                json!({"name": "hello", "entrypoint_path": "index.ts", "verify_jwt": true,
                       "files": [{"name": "index.ts", "content": "x"}]}),
            )
            .await;
        assert!(is_error(&r), "{r}");
        assert_eq!(error_code(&r), code, "{r}");
        let t = text(&r);
        assert!(t.contains(needle), "{t}");
        assert!(t.contains("Suggestion:"), "{t}");
        assert!(!t.contains(TOKEN));
        let posts = requests(&mock)
            .await
            .iter()
            .filter(|r| r.method.as_str() == "POST")
            .count();
        assert_eq!(posts, 1, "a deploy is never retried");
    }
}

/// Each read tool (and the deploy's existence check), answered with
/// `template`, fails with `code` and a text containing `needle`.
async fn expect_failure(template: ResponseTemplate, code: &str, needle: &str) {
    let mock = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(template)
        .mount(&mock)
        .await;
    let mut s = start(&mock, true, &[]).await;
    for (tool, args) in [
        ("list_edge_functions", json!({})),
        ("get_edge_function", json!({"function_slug": "hello"})),
        (
            "deploy_edge_function",
            json!({"name": "hello", "entrypoint_path": "index.ts", "verify_jwt": true,
                   "files": [{"name": "index.ts", "content": "x"}]}),
        ),
    ] {
        let r = s.call(tool, args).await;
        assert!(is_error(&r), "{tool}: {r}");
        assert_eq!(error_code(&r), code, "{tool}: {r}");
        let t = text(&r);
        assert!(t.contains(needle), "{tool}: {t}");
        assert!(t.contains("Suggestion:"), "{tool}: {t}");
        assert!(!t.contains(TOKEN), "{tool} leaks the token: {t}");
    }
    assert!(
        requests(&mock)
            .await
            .iter()
            .all(|r| r.method.as_str() == "GET"),
        "no deploy after a failed check"
    );
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
        ResponseTemplate::new(200).set_body_raw("[{\"id\": 1", "application/json"),
        "api_error",
        "could not be used",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn missing_functions_and_projects_are_explained() {
    let mock = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(404).set_body_json(json!({"message": "Function not found"})),
        )
        .mount(&mock)
        .await;
    let mut s = start(&mock, true, &[]).await;
    for (tool, args) in [
        ("list_edge_functions", json!({})),
        ("get_edge_function", json!({"function_slug": "nope"})),
    ] {
        let r = s.call(tool, args).await;
        assert_eq!(error_code(&r), "not_found", "{tool}: {r}");
        assert!(text(&r).contains("Function not found"), "{}", text(&r));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn project_ids_are_checked_and_descriptions_are_short() {
    let mock = MockServer::start().await;
    let mut s = start(&mock, false, &[]).await;
    let r = s.call("list_edge_functions", json!({})).await;
    assert_eq!(error_code(&r), "invalid_arguments");
    assert!(text(&r).contains("project_id"), "{}", text(&r));
    let r = s
        .call(
            "get_edge_function",
            json!({"project_id": "Not-A-Ref", "function_slug": "x"}),
        )
        .await;
    assert!(text(&r).contains("not a project ref"), "{}", text(&r));
    assert!(requests(&mock).await.is_empty());

    let mut s = start(&mock, true, &[]).await;
    let r = s
        .call("list_edge_functions", json!({"project_id": OTHER}))
        .await;
    assert!(text(&r).contains("scoped"), "{}", text(&r));
    let tools = s.tools().await;
    for name in [
        "list_edge_functions",
        "get_edge_function",
        "deploy_edge_function",
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
