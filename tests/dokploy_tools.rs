//! The `dokploy` tools against a small stateful fake Dokploy (projects,
//! compose services with their env text, domains, deployments, containers
//! and logs held in a mutex): every request checked against
//! `specs/dokploy.yaml`, env updates merged into the block in place and
//! saved as versions, rollback, restarts that succeed, fail or time out,
//! logs, health and domains, and no secret in any result or the audit log.

mod api_common;
mod common;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use common::*;
use serde_json::{Value, json};
use supabase_mcp::selfhosted::template::{self, Options};
use supabase_mcp::selfhosted::{EnvFile, jwt};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const KEY: &str = "dokploy-test-key-0123456789-distinctive";
const COMPOSE: &str = "cmp-supabase-1";
const APP: &str = "sb-prod-abc123";
const SMTP_VALUE: &str = "smtp-pass-from-env-9f8e7d6c5b4a";
const NEW_JWT: &str = "Zq8vN3xK7pW2mR9tL4yB6cH1jF5dG0sAuE3iO7wQ";

// ---------------------------------------------------------------------------
// The fake Dokploy

#[derive(Default)]
struct World {
    projects: Vec<Value>,
    composes: Vec<Value>,
    domains: Vec<Value>,
    deployments: Vec<Value>,
    containers: Vec<Value>,
    inspect: BTreeMap<String, Value>,
    logs: BTreeMap<String, String>,
    /// Status a new deployment gets: done, error or running.
    outcome: String,
    /// Answers forced for a procedure: status and raw body.
    fail: BTreeMap<String, (u16, String)>,
    seq: u64,
}

#[derive(Clone)]
struct Fake(Arc<Mutex<World>>);

impl Fake {
    fn world(&self) -> std::sync::MutexGuard<'_, World> {
        self.0.lock().unwrap()
    }
    fn env(&self) -> String {
        let w = self.world();
        w.composes
            .iter()
            .find(|c| c["composeId"] == COMPOSE)
            .unwrap()["env"]
            .as_str()
            .unwrap()
            .to_owned()
    }
}

fn ok(v: Value) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(v)
}

fn not_found(what: &str) -> ResponseTemplate {
    ResponseTemplate::new(404)
        .set_body_json(json!({"message": format!("{what} not found"), "code": "NOT_FOUND"}))
}

impl Respond for Fake {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let mut w = self.world();
        let op = req.url.path().trim_start_matches("/api/").to_owned();
        if let Some((code, raw)) = w.fail.get(&op) {
            return ResponseTemplate::new(*code).set_body_raw(raw.clone(), "application/json");
        }
        let q: BTreeMap<String, String> = req
            .url
            .query_pairs()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        let b: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
        let qs = |k: &str| q.get(k).cloned().unwrap_or_default();
        let bs = |k: &str| b[k].as_str().unwrap_or("").to_owned();
        w.seq += 1;
        let seq = w.seq;
        match op.as_str() {
            "project.all" => {
                let projects: Vec<Value> = w
                    .projects
                    .iter()
                    .map(|p| {
                        let mut p = p.clone();
                        let envs: Vec<Value> = p["environments"]
                            .as_array()
                            .cloned()
                            .unwrap_or_default()
                            .into_iter()
                            .map(|mut e| {
                                let composes: Vec<Value> = w
                                    .composes
                                    .iter()
                                    .filter(|c| c["environmentId"] == e["environmentId"])
                                    .cloned()
                                    .collect();
                                e["compose"] = json!(composes);
                                e
                            })
                            .collect();
                        p["environments"] = json!(envs);
                        p
                    })
                    .collect();
                ok(json!(projects))
            }
            "compose.one" => match w
                .composes
                .iter()
                .find(|c| c["composeId"] == qs("composeId"))
            {
                Some(c) => {
                    let mut c = c.clone();
                    let deps: Vec<Value> = w
                        .deployments
                        .iter()
                        .filter(|d| d["composeId"] == c["composeId"])
                        .cloned()
                        .collect();
                    c["deployments"] = json!(deps);
                    ok(c)
                }
                None => not_found("Compose"),
            },
            "compose.update" => {
                let id = bs("composeId");
                match w.composes.iter_mut().find(|c| c["composeId"] == id) {
                    Some(c) => {
                        for (k, v) in b.as_object().unwrap() {
                            c[k] = v.clone();
                        }
                        ok(json!(true))
                    }
                    None => not_found("Compose"),
                }
            }
            "compose.deploy" | "compose.redeploy" => {
                let id = bs("composeId");
                let outcome = w.outcome.clone();
                w.deployments.push(json!({
                    "deploymentId": format!("dep-{seq}"),
                    "composeId": id,
                    "title": b["title"],
                    "status": outcome,
                    "createdAt": format!("2026-01-01T00:{:02}:{:02}Z", seq / 60, seq % 60),
                }));
                if let Some(c) = w.composes.iter_mut().find(|c| c["composeId"] == id) {
                    c["composeStatus"] = json!(outcome);
                }
                ok(json!(true))
            }
            "compose.stop" | "compose.start" => ok(json!(true)),
            "deployment.allByCompose" => {
                let mut deps: Vec<Value> = w
                    .deployments
                    .iter()
                    .filter(|d| d["composeId"] == qs("composeId"))
                    .cloned()
                    .collect();
                deps.reverse();
                ok(json!(deps))
            }
            "docker.getContainersByAppNameMatch" => ok(json!(w.containers)),
            "docker.getConfig" => match w.inspect.get(&qs("containerId")) {
                Some(v) => ok(v.clone()),
                None => not_found("Container"),
            },
            "compose.readLogs" => ok(json!(
                w.logs.get(&qs("containerId")).cloned().unwrap_or_default()
            )),
            "domain.byComposeId" => {
                let list: Vec<Value> = w
                    .domains
                    .iter()
                    .filter(|d| d["composeId"] == qs("composeId"))
                    .cloned()
                    .collect();
                ok(json!(list))
            }
            "domain.create" => {
                let mut d = b.clone();
                d["domainId"] = json!(format!("dom-{seq}"));
                w.domains.push(d.clone());
                ok(d)
            }
            "domain.update" => {
                let id = bs("domainId");
                match w.domains.iter_mut().find(|d| d["domainId"] == id) {
                    Some(d) => {
                        for (k, v) in b.as_object().unwrap() {
                            d[k] = v.clone();
                        }
                        ok(json!(true))
                    }
                    None => not_found("Domain"),
                }
            }
            "domain.delete" => {
                let id = bs("domainId");
                w.domains.retain(|d| d["domainId"] != id);
                ok(json!(true))
            }
            "project.create" => {
                let pid = format!("prj-{seq}");
                let eid = format!("env-{seq}");
                let p = json!({"projectId": pid, "name": b["name"], "environments": [{"environmentId": eid, "name": "production"}]});
                w.projects.push(p.clone());
                ok(
                    json!({"project": {"projectId": pid, "name": b["name"]}, "environment": {"environmentId": eid}}),
                )
            }
            "project.remove" => {
                let id = bs("projectId");
                w.projects.retain(|p| p["projectId"] != id);
                ok(json!(true))
            }
            "environment.one" => {
                let id = qs("environmentId");
                let composes: Vec<Value> = w
                    .composes
                    .iter()
                    .filter(|c| c["environmentId"] == id)
                    .cloned()
                    .collect();
                ok(json!({"environmentId": id, "compose": composes}))
            }
            "compose.deployTemplate" => {
                let cid = format!("cmp-{seq}");
                w.composes.push(json!({
                    "composeId": cid, "name": "supabase", "appName": format!("supabase-{seq}"),
                    "environmentId": b["environmentId"], "composeStatus": "idle", "serverId": b.get("serverId"),
                    "env": "# from the template\nSERVICE_PASSWORD_DB=dokploy-made-password-123\nPOSTGRES_PASSWORD=${SERVICE_PASSWORD_DB}\n",
                    "composeFile": "image: supabase/postgres:15.8",
                }));
                ok(json!(null))
            }
            "compose.delete" => {
                let id = bs("composeId");
                w.composes.retain(|c| c["composeId"] != id);
                ok(json!(true))
            }
            _ => not_found("Procedure"),
        }
    }
}

/// A valid Supabase env from the template, plus a comment and an
/// unrelated variable, with every secret value it holds.
fn supabase_env() -> (String, Vec<String>) {
    let g = template::generate(&Options {
        domain: Some("sb.example.com".into()),
        site_url: Some("https://app.example.com".into()),
        ..Options::default()
    })
    .unwrap();
    let mut text = g.file.render();
    text.push_str("\n# kept by hand\nUNRELATED_FLAG=keep-me # note\nOLD_VAR=remove-me\n");
    let file = EnvFile::parse(&text);
    let secrets: Vec<String> = g
        .generated
        .iter()
        .filter_map(|k| file.value(k).map(str::to_owned))
        .filter(|v| v.len() >= 8)
        .collect();
    (text, secrets)
}

async fn fake() -> (MockServer, Fake, Vec<String>) {
    let (env, secrets) = supabase_env();
    let world = World {
        projects: vec![
            json!({"projectId": "prj-1", "name": "prod", "environments": [{"environmentId": "env-1", "name": "production"}]}),
            json!({"projectId": "prj-2", "name": "blog", "environments": [{"environmentId": "env-2", "name": "production"}]}),
        ],
        composes: vec![
            json!({"composeId": COMPOSE, "name": "supabase", "appName": APP, "environmentId": "env-1",
                   "composeStatus": "done", "serverId": null, "env": env, "composeFile": "services:\n  db:\n    image: supabase/postgres:15.8"}),
            json!({"composeId": "cmp-wp", "name": "wordpress", "appName": "wp-1", "environmentId": "env-2",
                   "composeStatus": "done", "serverId": "srv-9", "env": "WORDPRESS_DB_PASSWORD=x", "composeFile": "image: wordpress"}),
        ],
        containers: vec![
            json!({"containerId": "c-kong", "name": format!("{APP}-kong-1"), "image": "kong:2.8", "state": "running", "status": "Up 2 hours"}),
            json!({"containerId": "c-db", "name": format!("{APP}-db-1"), "image": "supabase/postgres:15.8", "state": "running", "status": "Up 2 hours (unhealthy)"}),
        ],
        outcome: "done".into(),
        ..World::default()
    };
    let f = Fake(Arc::new(Mutex::new(world)));
    let mock = MockServer::start().await;
    Mock::given(wiremock::matchers::any())
        .respond_with(f.clone())
        .mount(&mock)
        .await;
    (mock, f, secrets)
}

async fn start(mock: &MockServer) -> Server {
    Server::start_with_env(
        None,
        &[
            "--features",
            "dokploy",
            "--dokploy-url",
            &mock.uri(),
            "--dokploy-api-key",
            KEY,
        ],
        &[
            ("TEST_SMTP_PASS", SMTP_VALUE),
            ("TEST_NEW_JWT", NEW_JWT),
            ("TEST_SHORT_JWT", "short-secret"),
        ],
    )
    .await
}

/// Every request the fake saw, checked against the spec and the API key.
async fn check_all(mock: &MockServer) -> Vec<String> {
    let spec = api_common::Spec::load("dokploy");
    let reqs = mock.received_requests().await.unwrap();
    for r in &reqs {
        let op = r.url.path().trim_start_matches("/api/").to_owned();
        spec.check(&op, r, "/api");
        api_common::assert_header(r, "x-api-key", KEY);
    }
    reqs.iter()
        .map(|r| r.url.path().trim_start_matches("/api/").to_owned())
        .collect()
}

fn ok_data(r: &Value) -> &Value {
    assert_eq!(status(r), "ok", "{r}");
    data(r)
}

fn assert_clean(what: &str, text: &str, secrets: &[String]) {
    for s in secrets
        .iter()
        .map(String::as_str)
        .chain([SMTP_VALUE, NEW_JWT, KEY])
    {
        assert!(!text.contains(s), "{what} shows a secret value: {text}");
    }
}

async fn confirmed(s: &mut Server, tool: &str, args: Value) -> (Value, Value) {
    let first = s.call(tool, args.clone()).await;
    assert_eq!(status(&first), "confirmation_required", "{first}");
    let mut args = args;
    args["confirmation_token"] = data(&first)["confirmation_token"].clone();
    let second = s.call(tool, args).await;
    (first, second)
}

fn versions_dir(s: &Server) -> std::path::PathBuf {
    s.data_path().join("dokploy").join(COMPOSE)
}

fn saved_versions(s: &Server) -> Vec<std::path::PathBuf> {
    match std::fs::read_dir(versions_dir(s)) {
        Ok(rd) => rd.map(|e| e.unwrap().path()).collect(),
        Err(_) => Vec::new(),
    }
}

// ---------------------------------------------------------------------------
// Tests

#[tokio::test(flavor = "multi_thread")]
async fn list_finds_supabase_and_filters_by_server() {
    let (mock, _f, secrets) = fake().await;
    let mut s = start(&mock).await;
    let r = s.call("dokploy_list_instances", json!({})).await;
    let d = ok_data(&r);
    assert!(text(&r).contains("<untrusted-data-"), "{r}");
    assert_eq!(d["count"], 1, "{d}");
    assert_eq!(d["instances"][0]["compose_id"], COMPOSE);
    assert_eq!(d["instances"][0]["project"], "prod");
    assert_eq!(d["instances"][0]["environment"], "production");
    assert_eq!(d["instances"][0]["status"], "done");
    assert_eq!(d["instances"][0]["detected_by"], "compose_file");
    assert_eq!(d["other_compose_services"], 1);
    assert_clean("list", &r.to_string(), &secrets);
    let r = s
        .call("dokploy_list_instances", json!({"server_id": "srv-9"}))
        .await;
    assert_eq!(ok_data(&r)["count"], 0);
    let r = s
        .call("dokploy_list_instances", json!({"server_id": "../x"}))
        .await;
    assert_eq!(error_code(&r), "invalid_arguments", "{r}");
    let ops = check_all(&mock).await;
    assert_eq!(ops, vec!["project.all", "project.all"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn update_versions_and_rollback_run_end_to_end() {
    let (mock, f, secrets) = fake().await;
    let original = f.env();
    let mut s = start(&mock).await;
    let args = json!({
        "compose_id": COMPOSE,
        "set": {"SITE_URL": "https://new-app.example.com"},
        "values_from": {"SMTP_PASS": "env:TEST_SMTP_PASS"},
        "unset": ["OLD_VAR"],
    });
    let (first, r) = confirmed(&mut s, "dokploy_update_env", args).await;
    assert!(
        text(&first).contains("SITE_URL = https://new-app.example.com"),
        "{first}"
    );
    assert!(
        text(&first).contains("environment variable TEST_SMTP_PASS"),
        "{first}"
    );
    let d = ok_data(&r);
    assert_eq!(d["changed"], true);
    assert_eq!(d["redeployed"], false);
    let names: Vec<&str> = d["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["SITE_URL", "SMTP_PASS", "OLD_VAR"], "{d}");
    assert_eq!(d["changes"][0]["before"], "https://app.example.com");
    assert_eq!(d["changes"][0]["after"], "https://new-app.example.com");
    assert_clean("update_env", &r.to_string(), &secrets);

    // The block in place: merged, every other line kept as written.
    let env = f.env();
    let file = EnvFile::parse(&env);
    assert_eq!(file.value("SITE_URL"), Some("https://new-app.example.com"));
    assert_eq!(file.value("SMTP_PASS"), Some(SMTP_VALUE));
    assert_eq!(file.value("OLD_VAR"), None);
    assert!(
        env.contains("# kept by hand\nUNRELATED_FLAG=keep-me # note\n"),
        "{env}"
    );
    assert_eq!(
        file.value("JWT_SECRET"),
        EnvFile::parse(&original).value("JWT_SECRET")
    );
    let untouched: Vec<&str> = original
        .lines()
        .filter(|l| {
            !l.starts_with("SITE_URL=")
                && !l.starts_with("SMTP_PASS=")
                && !l.starts_with("OLD_VAR=")
        })
        .collect();
    for l in untouched {
        assert!(env.lines().any(|e| e == l), "line lost: {l}");
    }

    // The old block is saved, 0600.
    let saved = saved_versions(&s);
    assert_eq!(saved.len(), 1);
    assert_eq!(std::fs::read_to_string(&saved[0]).unwrap(), original);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&saved[0]).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    let version = d["saved_version"].as_str().unwrap().to_owned();

    let r = s
        .call("dokploy_env_versions", json!({"compose_id": COMPOSE}))
        .await;
    let d = ok_data(&r);
    assert_eq!(d["count"], 1);
    assert_eq!(d["versions"][0]["version"], version.as_str());
    let mut changed: Vec<&str> = d["versions"][0]["changed_since"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    changed.sort();
    assert_eq!(changed, vec!["OLD_VAR", "SITE_URL", "SMTP_PASS"]);
    assert_clean("env_versions", &r.to_string(), &secrets);

    // Rollback: the diff first (no confirmation for a dry run), then restore and redeploy.
    let r = s
        .call(
            "dokploy_rollback",
            json!({"compose_id": COMPOSE, "version": version, "dry_run": true}),
        )
        .await;
    let d = ok_data(&r);
    assert_eq!(d["dry_run"], true);
    assert_eq!(d["changes"].as_array().unwrap().len(), 3, "{d}");
    assert_clean("rollback dry run", &r.to_string(), &secrets);
    assert_eq!(
        EnvFile::parse(&f.env()).value("OLD_VAR"),
        None,
        "a dry run wrote"
    );

    let (first, r) = confirmed(
        &mut s,
        "dokploy_rollback",
        json!({"compose_id": COMPOSE, "version": version}),
    )
    .await;
    assert!(text(&first).contains(&version), "{first}");
    let d = ok_data(&r);
    assert_eq!(d["redeployed"], true);
    assert_eq!(f.env(), original);
    assert_eq!(f.world().deployments.len(), 1);
    assert_eq!(f.world().deployments[0]["title"], "Environment rollback");
    assert_eq!(saved_versions(&s).len(), 2);
    assert_clean("rollback", &r.to_string(), &secrets);

    let r = s
        .call(
            "dokploy_rollback",
            json!({"compose_id": COMPOSE, "version": "20000101T000000000Z", "dry_run": true}),
        )
        .await;
    assert_eq!(error_code(&r), "not_found", "{r}");

    let audit = std::fs::read_to_string(s.data_path().join("audit.jsonl")).unwrap();
    assert!(audit.contains("dokploy_update_env"), "{audit}");
    assert_clean("audit log", &audit, &secrets);
    let ops = check_all(&mock).await;
    assert!(
        ops.contains(&"compose.update".to_owned()) && ops.contains(&"compose.redeploy".to_owned()),
        "{ops:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn new_errors_are_refused_and_dry_runs_write_nothing() {
    let (mock, f, secrets) = fake().await;
    let original = f.env();
    let mut s = start(&mock).await;
    let args = json!({"compose_id": COMPOSE, "values_from": {"JWT_SECRET": "env:TEST_SHORT_JWT"}});
    let (_, r) = confirmed(&mut s, "dokploy_update_env", args).await;
    assert_eq!(error_code(&r), "invalid_arguments", "{r}");
    assert!(text(&r).contains("allow_new_errors"), "{r}");
    assert_eq!(f.env(), original);
    assert!(saved_versions(&s).is_empty());

    let r = s
        .call("dokploy_update_env", json!({"compose_id": COMPOSE, "set": {"API_EXTERNAL_URL": "https://other.example.com"}, "dry_run": true}))
        .await;
    let d = ok_data(&r);
    assert_eq!(d["dry_run"], true);
    assert_eq!(d["changes"][0]["name"], "API_EXTERNAL_URL");
    assert_eq!(f.env(), original);
    assert!(saved_versions(&s).is_empty());

    // The same values again: nothing to write.
    let r = s
        .call("dokploy_update_env", json!({"compose_id": COMPOSE, "set": {"SITE_URL": "https://app.example.com"}, "dry_run": true}))
        .await;
    assert_eq!(ok_data(&r)["changed"], false, "{r}");
    assert_clean("refusal", &r.to_string(), &secrets);

    // A secret passed as a plain argument is refused (values_from is the
    // way), and kept out of the result and the audit log.
    let plain = "plain-smtp-secret-value-123456";
    let first = s
        .call(
            "dokploy_update_env",
            json!({"compose_id": COMPOSE, "set": {"SMTP_PASS": plain}}),
        )
        .await;
    assert_eq!(error_code(&first), "invalid_arguments", "{first}");
    assert!(text(&first).contains("values_from"), "{first}");
    assert!(!first.to_string().contains(plain), "{first}");
    let mut all = secrets.clone();
    all.push(plain.to_owned());
    all.push("short-secret".to_owned());
    let audit = std::fs::read_to_string(s.data_path().join("audit.jsonl")).unwrap_or_default();
    assert_clean("audit log", &audit, &all);
    check_all(&mock).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_new_jwt_secret_resigns_the_keys_and_warns_about_the_password() {
    let (mock, f, secrets) = fake().await;
    let mut s = start(&mock).await;
    let args = json!({
        "compose_id": COMPOSE,
        "values_from": {"JWT_SECRET": "env:TEST_NEW_JWT", "POSTGRES_PASSWORD": "env:TEST_SMTP_PASS"},
        "resign_keys": true,
        "redeploy": true,
    });
    let (_, r) = confirmed(&mut s, "dokploy_update_env", args).await;
    let d = ok_data(&r);
    assert_eq!(d["redeployed"], true);
    let warnings = r["structuredContent"]["warnings"].to_string();
    assert!(warnings.contains("POSTGRES_PASSWORD changes"), "{warnings}");
    assert!(warnings.contains("signed anew"), "{warnings}");
    let file = EnvFile::parse(&f.env());
    assert_eq!(file.value("JWT_SECRET"), Some(NEW_JWT));
    for k in ["ANON_KEY", "SERVICE_ROLE_KEY"] {
        let token = file.value(k).unwrap();
        assert!(
            jwt::verify(token, NEW_JWT.as_bytes()).is_ok(),
            "{k} not signed with the new secret"
        );
    }
    let mut all = secrets.clone();
    all.push(file.value("ANON_KEY").unwrap().to_owned());
    all.push(file.value("SERVICE_ROLE_KEY").unwrap().to_owned());
    assert_clean("resign", &r.to_string(), &all);
    let audit = std::fs::read_to_string(s.data_path().join("audit.jsonl")).unwrap();
    assert_clean("audit log", &audit, &all);
    check_all(&mock).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn api_failures_become_tool_errors() {
    let (mock, f, secrets) = fake().await;
    let mut s = start(&mock).await;
    let r = s
        .call(
            "dokploy_monitor_health",
            json!({"compose_id": "cmp-missing"}),
        )
        .await;
    assert_eq!(error_code(&r), "not_found", "{r}");
    assert!(text(&r).contains("dokploy_list_instances"), "{r}");

    f.world().fail.insert(
        "compose.update".into(),
        (
            500,
            json!({"message": "database is locked", "code": "INTERNAL_SERVER_ERROR"}).to_string(),
        ),
    );
    let args = json!({"compose_id": COMPOSE, "set": {"SITE_URL": "https://x.example.com"}});
    let (_, r) = confirmed(&mut s, "dokploy_update_env", args).await;
    assert!(is_error(&r), "{r}");
    assert_eq!(error_code(&r), "api_error", "{r}");

    let env = f.env();
    f.world().fail.insert(
        "compose.one".into(),
        (200, format!("{{\"env\": {} ", json!(env))),
    );
    let r = s
        .call("dokploy_env_versions", json!({"compose_id": COMPOSE}))
        .await;
    assert!(is_error(&r), "{r}");
    assert_clean("malformed answer", &r.to_string(), &secrets);

    f.world().fail.insert(
        "project.all".into(),
        (
            401,
            json!({"message": "Unauthorized", "code": "UNAUTHORIZED"}).to_string(),
        ),
    );
    let r = s.call("dokploy_list_instances", json!({})).await;
    assert_eq!(error_code(&r), "permission_denied", "{r}");
    assert!(text(&r).contains("DOKPLOY_API_KEY"), "{r}");
    assert_clean("401", &r.to_string(), &secrets);
    check_all(&mock).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn restart_waits_for_the_deployment_and_reports_failure_and_timeout() {
    let (mock, f, _) = fake().await;
    let mut s = start(&mock).await;
    let args = json!({"compose_id": COMPOSE, "wait_secs": 20});
    let (first, r) = confirmed(&mut s, "dokploy_restart_service", args.clone()).await;
    assert!(text(&first).contains("redeploy"), "{first}");
    let d = ok_data(&r);
    assert_eq!(d["deployment"]["status"], "done", "{d}");

    f.world().outcome = "error".into();
    let (_, r) = confirmed(&mut s, "dokploy_restart_service", args).await;
    assert_eq!(error_code(&r), "api_error", "{r}");
    assert!(text(&r).contains("failed"), "{r}");

    f.world().outcome = "running".into();
    let started = std::time::Instant::now();
    let (_, r) = confirmed(
        &mut s,
        "dokploy_restart_service",
        json!({"compose_id": COMPOSE, "wait_secs": 3}),
    )
    .await;
    assert_eq!(error_code(&r), "timeout", "{r}");
    assert!(started.elapsed() < std::time::Duration::from_secs(15));

    let (_, r) = confirmed(
        &mut s,
        "dokploy_restart_service",
        json!({"compose_id": COMPOSE, "mode": "stop_start"}),
    )
    .await;
    assert_eq!(ok_data(&r)["restarted"], true);
    let ops = check_all(&mock).await;
    assert!(ops.contains(&"compose.stop".to_owned()) && ops.contains(&"compose.start".to_owned()));
    assert_eq!(f.world().deployments.len(), 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn logs_are_filtered_bounded_and_fenced() {
    let (mock, f, _) = fake().await;
    {
        let mut w = f.world();
        w.logs.insert("c-db".into(), "LOG: ready\nWARNING: slow checkpoint\nERROR: relation \"x\" does not exist\nLOG: connection received\n".into());
        w.logs.insert(
            "c-kong".into(),
            "GET /rest/v1/ 200\nGET /auth/v1/ 500 error upstream\n".into(),
        );
    }
    let mut s = start(&mock).await;
    let r = s
        .call("dokploy_get_logs", json!({"compose_id": COMPOSE, "service": "db", "level": "warn", "since": "30m", "lines": 50}))
        .await;
    let d = ok_data(&r);
    assert!(text(&r).contains("<untrusted-data-"), "{r}");
    assert_eq!(d["containers"].as_array().unwrap().len(), 1);
    assert_eq!(d["containers"][0]["service"], "db");
    assert_eq!(
        d["containers"][0]["lines"],
        json!([
            "WARNING: slow checkpoint",
            "ERROR: relation \"x\" does not exist"
        ])
    );

    let r = s
        .call(
            "dokploy_get_logs",
            json!({"compose_id": COMPOSE, "search": "auth", "lines": 1}),
        )
        .await;
    let d = ok_data(&r);
    assert_eq!(d["containers"].as_array().unwrap().len(), 2);
    let kong = d["containers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["service"] == "kong")
        .unwrap();
    assert_eq!(kong["lines"], json!(["GET /auth/v1/ 500 error upstream"]));

    let r = s
        .call(
            "dokploy_get_logs",
            json!({"compose_id": COMPOSE, "service": "nope"}),
        )
        .await;
    assert_eq!(error_code(&r), "not_found");
    assert!(text(&r).contains("db, kong"), "{r}");
    let r = s
        .call(
            "dokploy_get_logs",
            json!({"compose_id": COMPOSE, "lines": 5000}),
        )
        .await;
    assert_eq!(error_code(&r), "invalid_arguments");
    let r = s
        .call(
            "dokploy_get_logs",
            json!({"compose_id": COMPOSE, "since": "1w"}),
        )
        .await;
    assert_eq!(error_code(&r), "invalid_arguments");

    let reqs = mock.received_requests().await.unwrap();
    let first_log = reqs
        .iter()
        .find(|r| r.url.path() == "/api/compose.readLogs")
        .unwrap();
    let q: BTreeMap<String, String> = first_log
        .url
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    assert_eq!(q["containerId"], "c-db");
    assert_eq!(q["since"], "30m");
    assert_eq!(q["tail"], "50");
    assert_eq!(q["composeId"], COMPOSE);
    check_all(&mock).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn health_flags_unhealthy_containers_and_restarts() {
    let (mock, f, _) = fake().await;
    {
        let mut w = f.world();
        w.inspect.insert("c-kong".into(), json!({"RestartCount": 2, "State": {"Status": "running", "Health": {"Status": "healthy"}}}));
        w.inspect.insert("c-db".into(), json!({"RestartCount": 0, "State": {"Status": "running", "Health": {"Status": "unhealthy"}}}));
    }
    let mut s = start(&mock).await;
    let r = s
        .call("dokploy_monitor_health", json!({"compose_id": COMPOSE}))
        .await;
    let d = ok_data(&r);
    assert_eq!(d["status"], "unhealthy", "{d}");
    assert_eq!(d["unhealthy_services"], json!(["db"]));
    let kong = d["containers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["service"] == "kong")
        .unwrap();
    assert_eq!(kong["restarts"], 2);
    assert_eq!(kong["unhealthy"], false);
    assert_eq!(d["connections"]["checked"], false);

    f.world().inspect.insert(
        "c-db".into(),
        json!({"RestartCount": 0, "State": {"Status": "running", "Health": {"Status": "healthy"}}}),
    );
    f.world().containers[1]["status"] = json!("Up 2 hours (healthy)");
    let r = s
        .call("dokploy_monitor_health", json!({"compose_id": COMPOSE}))
        .await;
    assert_eq!(ok_data(&r)["status"], "degraded", "{r}");
    check_all(&mock).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn domains_route_to_kong_and_update_the_urls() {
    let (mock, f, secrets) = fake().await;
    let mut s = start(&mock).await;
    let args = json!({"compose_id": COMPOSE, "action": "add", "host": "API.Example.org"});
    let (first, r) = confirmed(&mut s, "dokploy_manage_domain", args).await;
    assert!(text(&first).contains("api.example.org"), "{first}");
    let d = ok_data(&r);
    assert_eq!(d["action"], "added");
    assert_eq!(d["redeployed"], true);
    assert_eq!(d["env"]["changed"], true);
    {
        let w = f.world();
        assert_eq!(w.domains.len(), 1);
        let dom = &w.domains[0];
        assert_eq!(dom["host"], "api.example.org");
        assert_eq!(dom["serviceName"], "kong");
        assert_eq!(dom["port"].as_f64(), Some(8000.0));
        assert_eq!(dom["https"], true);
        assert_eq!(dom["certificateType"], "letsencrypt");
        assert_eq!(dom["composeId"], COMPOSE);
    }
    let file = EnvFile::parse(&f.env());
    for k in ["API_EXTERNAL_URL", "SUPABASE_PUBLIC_URL", "SITE_URL"] {
        assert_eq!(file.value(k), Some("https://api.example.org"), "{k}");
    }
    assert_eq!(saved_versions(&s).len(), 1);
    assert_clean("domain", &r.to_string(), &secrets);

    let args = json!({"compose_id": COMPOSE, "action": "add", "host": "api.example.org"});
    let (_, r) = confirmed(&mut s, "dokploy_manage_domain", args).await;
    assert_eq!(error_code(&r), "invalid_arguments", "{r}");

    let dom_id = f.world().domains[0]["domainId"]
        .as_str()
        .unwrap()
        .to_owned();
    let args =
        json!({"compose_id": COMPOSE, "action": "remove", "domain_id": dom_id, "redeploy": false});
    let (_, r) = confirmed(&mut s, "dokploy_manage_domain", args).await;
    assert_eq!(ok_data(&r)["action"], "removed");
    assert!(f.world().domains.is_empty());

    let args = json!({"compose_id": COMPOSE, "action": "add", "host": "https://x.example.org"});
    let (_, r) = confirmed(&mut s, "dokploy_manage_domain", args).await;
    assert_eq!(error_code(&r), "invalid_arguments", "{r}");
    check_all(&mock).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn deploy_creates_configures_waits_and_keeps_secrets_in_a_file() {
    let (mock, f, _) = fake().await;
    let mut s = start(&mock).await;
    let r = s
        .call(
            "dokploy_deploy_supabase",
            json!({"project_name": "My_Project"}),
        )
        .await;
    assert_eq!(error_code(&r), "invalid_arguments", "{r}");
    assert!(text(&r).contains("my-project"), "{r}");
    let args = json!({"project_name": "acme-prod", "domain": "sb.acme.dev", "wait_secs": 20});
    let (first, r) = confirmed(&mut s, "dokploy_deploy_supabase", args).await;
    assert!(text(&first).contains("acme-prod"), "{first}");
    let d = ok_data(&r).clone();
    assert_eq!(d["status"], "deployed", "{d}");
    assert_eq!(d["api_url"], "https://sb.acme.dev");
    assert_eq!(d["deployment"]["status"], "done");
    let compose_id = d["compose_id"].as_str().unwrap().to_owned();
    let env = {
        let w = f.world();
        let c = w
            .composes
            .iter()
            .find(|c| c["composeId"] == compose_id.as_str())
            .unwrap();
        c["env"].as_str().unwrap().to_owned()
    };
    let file = EnvFile::parse(&env);
    let secret = file.value("JWT_SECRET").unwrap().to_owned();
    assert!(secret.len() >= 32);
    assert!(jwt::verify(file.value("ANON_KEY").unwrap(), secret.as_bytes()).is_ok());
    assert_ne!(
        file.value("POSTGRES_PASSWORD"),
        Some("${SERVICE_PASSWORD_DB}"),
        "Dokploy's generated password kept"
    );
    assert_eq!(file.value("API_EXTERNAL_URL"), Some("https://sb.acme.dev"));
    // The secrets file: 0600, the same env; the result holds no secret.
    let path = std::path::PathBuf::from(d["secrets_file"].as_str().unwrap());
    assert!(path.starts_with(s.data_path()));
    assert_eq!(std::fs::read_to_string(&path).unwrap(), env);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    let secrets: Vec<String> = file
        .assignments()
        .filter(|a| supabase_mcp::selfhosted::mask::is_secret_var(&a.key) && a.value.len() >= 8)
        .map(|a| a.value.clone())
        .collect();
    assert!(secrets.len() >= 5);
    assert_clean("deploy", &r.to_string(), &secrets);
    let audit = std::fs::read_to_string(s.data_path().join("audit.jsonl")).unwrap();
    assert_clean("audit log", &audit, &secrets);
    {
        let w = f.world();
        let dom = w
            .domains
            .iter()
            .find(|x| x["composeId"] == compose_id.as_str())
            .unwrap();
        assert_eq!(dom["serviceName"], "kong");
        assert_eq!(dom["host"], "sb.acme.dev");
    }
    let ops = check_all(&mock).await;
    for op in [
        "project.create",
        "compose.deployTemplate",
        "compose.update",
        "domain.create",
        "compose.deploy",
    ] {
        assert!(ops.contains(&op.to_owned()), "{op} not sent: {ops:?}");
    }

    // The same name again is refused before anything is created.
    let (_, r) = confirmed(
        &mut s,
        "dokploy_deploy_supabase",
        json!({"project_name": "acme-prod"}),
    )
    .await;
    assert_eq!(error_code(&r), "invalid_arguments", "{r}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_deploy_removes_what_it_created_and_a_timeout_keeps_it() {
    let (mock, f, _) = fake().await;
    let mut s = start(&mock).await;
    f.world().outcome = "error".into();
    let (_, r) = confirmed(
        &mut s,
        "dokploy_deploy_supabase",
        json!({"project_name": "acme-fail", "wait_secs": 20}),
    )
    .await;
    assert_eq!(error_code(&r), "api_error", "{r}");
    assert!(text(&r).contains("Everything created was removed"), "{r}");
    {
        let w = f.world();
        assert!(!w.projects.iter().any(|p| p["name"] == "acme-fail"));
        assert_eq!(w.composes.len(), 2, "the new compose service is left");
    }
    let ops = check_all(&mock).await;
    assert!(
        ops.contains(&"compose.delete".to_owned()) && ops.contains(&"project.remove".to_owned())
    );

    f.world().outcome = "running".into();
    let (_, r) = confirmed(
        &mut s,
        "dokploy_deploy_supabase",
        json!({"project_name": "acme-slow", "wait_secs": 2}),
    )
    .await;
    assert_eq!(error_code(&r), "timeout", "{r}");
    assert!(text(&r).contains("Left on Dokploy: project"), "{r}");
    assert!(f.world().projects.iter().any(|p| p["name"] == "acme-slow"));

    // A failure creating the compose service removes the project.
    f.world().outcome = "done".into();
    f.world().fail.insert(
        "compose.deployTemplate".into(),
        (500, json!({"message": "template fetch failed"}).to_string()),
    );
    let (_, r) = confirmed(
        &mut s,
        "dokploy_deploy_supabase",
        json!({"project_name": "acme-broken"}),
    )
    .await;
    assert_eq!(error_code(&r), "api_error", "{r}");
    assert!(
        !f.world()
            .projects
            .iter()
            .any(|p| p["name"] == "acme-broken")
    );
    check_all(&mock).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn health_reports_connection_use_when_a_database_is_configured() {
    let (mock, f, _) = fake().await;
    {
        let mut w = f.world();
        for id in ["c-kong", "c-db"] {
            w.inspect.insert(
                id.into(),
                json!({"RestartCount": 0, "State": {"Status": "running", "Health": {"Status": "healthy"}}}),
            );
        }
        w.containers[1]["status"] = json!("Up 2 hours (healthy)");
    }
    let db = supabase_mcp::pg::testdb::TestDb::new().await.unwrap();
    let mut s = Server::start(
        Some(db),
        &[
            "--features",
            "dokploy",
            "--dokploy-url",
            &mock.uri(),
            "--dokploy-api-key",
            KEY,
        ],
    )
    .await;
    let r = s
        .call("dokploy_monitor_health", json!({"compose_id": COMPOSE}))
        .await;
    let d = ok_data(&r);
    assert_eq!(d["connections"]["checked"], true, "{d}");
    assert!(d["connections"]["used"].as_i64().unwrap() >= 1, "{d}");
    assert!(
        d["connections"]["max_connections"].as_i64().unwrap() >= 10,
        "{d}"
    );
    assert_eq!(d["connections"]["near_limit"], false);
    assert_eq!(d["status"], "healthy", "{d}");
    check_all(&mock).await;
}
