//! The database tools without a database URL: a cloud project through the
//! Management API (`POST /v1/projects/{ref}/database/query`) and a
//! self-hosted instance through the REST RPC (`/rest/v1/rpc/execute_sql`).
//!
//! The HTTP side is a wiremock server whose responder checks each request
//! against the project's spec and then runs the SQL for real on a fresh
//! Supabase-like database, through the same `public.execute_sql` helper
//! function the RPC path uses (via `psql`). So every tool's catalog SQL,
//! with its parameters inlined, is executed by real PostgreSQL.

mod api_common;
mod common;

use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};

use common::*;
use serde_json::{Value, json};
use supabase_mcp::db::rpc::EXECUTE_SQL_FUNCTION;
use supabase_mcp::pg::testdb::TestDb;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const TOKEN: &str = "sbp_0123456789abcdef0123456789abcdef01234567";
const PROJECT: &str = "abcdefghijklmnopqrst";
// A service role key shaped like a JWT (role claim service_role); never verified here.
const SERVICE_KEY: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJyb2xlIjoic2VydmljZV9yb2xlIiwiaXNzIjoic3VwYWJhc2UifQ.c2lnbmF0dXJlLW5vdC1jaGVja2Vk";

/// Runs each request's SQL on `db_url` with `public.execute_sql` and answers
/// with its rows (or a PostgreSQL-style error), recording the requests.
struct RealSql {
    db_url: String,
    seen: Arc<Mutex<Vec<Value>>>,
}

impl Respond for RealSql {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
        self.seen.lock().unwrap().push(body.clone());
        let q = body["query"].as_str().unwrap_or_default();
        let ro = body["read_only"].as_bool().unwrap_or(false);
        let mut child = Command::new("psql")
            .args([
                "-X",
                "-q",
                "-At",
                "-v",
                "ON_ERROR_STOP=1",
                "-d",
                &self.db_url,
            ])
            .arg("-v")
            .arg(format!("q={q}"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("psql");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(format!("SELECT public.execute_sql(:'q', {ro});\n").as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        if out.status.success() {
            let rows: Value = serde_json::from_slice(&out.stdout).expect("json rows");
            ResponseTemplate::new(201).set_body_json(rows)
        } else {
            let msg = String::from_utf8_lossy(&out.stderr).trim().to_owned();
            ResponseTemplate::new(400).set_body_json(json!({"message": msg}))
        }
    }
}

struct Remote {
    server: Server,
    mock: MockServer,
    seen: Arc<Mutex<Vec<Value>>>,
}

#[derive(Clone, Copy, PartialEq)]
enum Via {
    Management,
    Rest,
}

async fn start(via: Via, extra: &[&str]) -> Remote {
    let db = TestDb::with_sample_data().await.unwrap();
    let client = db.client().await.unwrap();
    client.batch_execute(EXECUTE_SQL_FUNCTION).await.unwrap();
    client
        .batch_execute(
            "CREATE TABLE public.remote_items (id bigint PRIMARY KEY, label text NOT NULL, tags text[]);
             INSERT INTO public.remote_items SELECT g, 'item ' || g, ARRAY['t' || g] FROM generate_series(1, 50) g;
             COMMENT ON TABLE public.remote_items IS 'it''s remote';",
        )
        .await
        .unwrap();
    let mock = MockServer::start().await;
    let seen = Arc::new(Mutex::new(Vec::new()));
    let route = match via {
        Via::Management => format!("/v1/projects/{PROJECT}/database/query"),
        Via::Rest => "/rest/v1/rpc/execute_sql".to_owned(),
    };
    Mock::given(method("POST"))
        .and(path(route))
        .respond_with(RealSql {
            db_url: db.url.clone(),
            seen: seen.clone(),
        })
        .mount(&mock)
        .await;
    let uri = mock.uri();
    let mut args: Vec<&str> = match via {
        Via::Management => vec![
            "--mode",
            "cloud",
            "--access-token",
            TOKEN,
            "--project-ref",
            PROJECT,
            "--api-url",
            &uri,
        ],
        Via::Rest => vec![
            "--mode",
            "self-hosted",
            "--supabase-url",
            &uri,
            "--service-role-key",
            SERVICE_KEY,
        ],
    };
    args.extend_from_slice(extra);
    let server = Server::start_with_env(None, &args, &[]).await;
    // The database stays alive as long as the server: keep it in the server.
    let mut server = server;
    server.db = Some(db);
    Remote { server, mock, seen }
}

fn ok(r: &Value) -> &Value {
    assert_eq!(status(r), "ok", "{r}");
    data(r)
}

fn warnings(r: &Value) -> String {
    r["structuredContent"]["warnings"].to_string()
}

/// Every request must match the spec of its operation and ask for what the
/// tool needs.
async fn check_requests(remote: &Remote, via: Via) {
    let reqs = remote.mock.received_requests().await.unwrap();
    assert!(!reqs.is_empty());
    for req in &reqs {
        match via {
            Via::Management => {
                let spec = api_common::Spec::load("supabase-management");
                spec.check("v1-run-a-query", req, "");
                api_common::assert_header(req, "authorization", &format!("Bearer {TOKEN}"));
            }
            Via::Rest => {
                assert_eq!(req.url.path(), "/rest/v1/rpc/execute_sql");
                api_common::assert_header(req, "apikey", SERVICE_KEY);
                let body: Value = serde_json::from_slice(&req.body).unwrap();
                let keys: Vec<&String> = body.as_object().unwrap().keys().collect();
                assert_eq!(keys, ["query", "read_only"], "{body}");
            }
        }
    }
}

async fn catalog_tools_work(via: Via) {
    let mut r = start(via, &[]).await;
    let s = &mut r.server;
    let note = match via {
        Via::Management => "Management API",
        Via::Rest => "REST API",
    };

    let res = s
        .call(
            "list_tables",
            json!({"schemas": ["public"], "name_pattern": "remote%", "verbose": true}),
        )
        .await;
    let d = ok(&res);
    assert_eq!(d["total"], 1, "{d}");
    let t = &d["tables"][0];
    assert_eq!(t["name"], "remote_items");
    assert_eq!(t["comment"], "it's remote");
    assert_eq!(t["primary_key"], json!(["id"]));
    assert_eq!(t["columns"][1]["name"], "label");
    assert_eq!(t["columns"][1]["nullable"], false);
    assert!(warnings(&res).contains(note), "{res}");

    let d = ok(&s
        .call("describe_table", json!({"table": "remote_items"}))
        .await)
    .clone();
    assert_eq!(d["kind"], "table");
    assert_eq!(d["columns"].as_array().unwrap().len(), 3);
    assert!(
        d["indexes"][0]["definition"]
            .as_str()
            .unwrap()
            .contains("UNIQUE INDEX remote_items_pkey"),
        "{d}"
    );
    let missing = s
        .call("describe_table", json!({"table": "no_such_table"}))
        .await;
    assert_eq!(error_code(&missing), "not_found", "{missing}");

    // Parameters with quotes and backslashes survive inlining.
    let d = ok(&s
        .call(
            "execute_sql",
            json!({"query": "select $1::text as s, $2::int + 1 as n, count(*) as c from public.remote_items where id <= $2",
                   "params": ["it's a \\ test", 7]}),
        )
        .await)
    .clone();
    assert_eq!(d["rows"][0]["s"], "it's a \\ test", "{d}");
    assert_eq!(d["rows"][0]["n"], 8);
    assert_eq!(d["rows"][0]["c"], 7);
    let mut names: Vec<&str> = d["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["c", "n", "s"]);

    for (tool, args, key) in [
        ("list_schemas", json!({}), "schemas"),
        (
            "list_functions",
            json!({"schemas": ["public"]}),
            "functions",
        ),
        ("list_roles", json!({}), "roles"),
        (
            "list_extensions",
            json!({"installed_only": true}),
            "extensions",
        ),
        ("list_policies", json!({}), "policies"),
        ("list_types", json!({}), "types"),
        ("list_views", json!({}), "views"),
        ("list_triggers", json!({}), "triggers"),
        ("schema_access_matrix", json!({}), "schemas"),
    ] {
        let res = s.call(tool, args).await;
        let d = ok(&res);
        assert!(d[key].is_array(), "{tool}: {d}");
        assert!(d["total"].as_i64().unwrap() >= 0, "{tool}: {d}");
    }
    let d = ok(&s.call("list_schemas", json!({})).await).clone();
    assert!(
        d["schemas"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["name"] == "auth" && x["managed"] == true),
        "{d}"
    );
    let d = ok(&s.call("list_roles", json!({})).await).clone();
    assert!(
        d["roles"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["name"] == "service_role"),
        "{d}"
    );
    ok(&s
        .call("check_permissions", json!({"area": "storage"}))
        .await);
    for tool in [
        "database_stats",
        "monitor_connections",
        "health_check",
        "index_advice",
    ] {
        let res = s.call(tool, json!({})).await;
        ok(&res);
    }
    let d = ok(&s
        .call(
            "explain_query",
            json!({"query": "select * from public.remote_items where label = $1", "params": ["item 3"]}),
        )
        .await)
    .clone();
    assert!(d["plan"][0]["Plan"]["Node Type"].is_string(), "{d}");

    if via == Via::Management {
        let d = ok(&s.call("test_connection", json!({})).await).clone();
        assert_eq!(d["management_api"]["ok"], true, "{d}");
        assert!(
            d["management_api"]["server_version"]
                .as_str()
                .unwrap()
                .starts_with("15"),
            "{d}"
        );
    }

    check_requests(&r, via).await;
    // Catalog reads always ask for a read-only transaction.
    let seen = r.seen.lock().unwrap().clone();
    let catalog: Vec<&Value> = seen
        .iter()
        .filter(|b| b["query"].as_str().unwrap_or("").contains("pg_class"))
        .collect();
    assert!(!catalog.is_empty());
    assert!(
        catalog.iter().all(|b| b["read_only"] == true),
        "{catalog:?}"
    );
}

#[tokio::test]
async fn catalog_and_sql_tools_work_through_the_management_api() {
    catalog_tools_work(Via::Management).await;
}

#[tokio::test]
async fn catalog_and_sql_tools_work_through_the_rest_rpc() {
    catalog_tools_work(Via::Rest).await;
}

#[tokio::test]
async fn writes_respect_read_only_and_run_otherwise() {
    for via in [Via::Management, Via::Rest] {
        let mut r = start(via, &[]).await;
        let s = &mut r.server;
        let d = ok(&s
            .call(
                "execute_sql",
                json!({"query": "insert into public.remote_items values (1000, 'new') returning id"}),
            )
            .await)
        .clone();
        assert_eq!(d["rows"][0]["id"], 1000, "{d}");
        assert_eq!(r.seen.lock().unwrap().last().unwrap()["read_only"], false);

        let res = s
            .call(
                "execute_sql",
                json!({"query": "insert into public.remote_items values (1001, 'no') returning id", "read_only": true}),
            )
            .await;
        assert!(is_error(&res), "{res}");
        assert!(text(&res).contains("read-only"), "{res}");
        let db = s.db.as_ref().unwrap().client().await.unwrap();
        let n: i64 = db
            .query_one(
                "select count(*) from public.remote_items where id = 1001",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        assert_eq!(n, 0);

        // Destructive statements still need confirmation; forbidden ones are refused
        // before any request is sent.
        let before = r.mock.received_requests().await.unwrap().len();
        let res = s
            .call(
                "execute_sql",
                json!({"query": "drop table public.remote_items"}),
            )
            .await;
        assert_eq!(status(&res), "confirmation_required", "{res}");
        let res = s
            .call(
                "execute_sql",
                json!({"query": "select pg_read_file('/etc/passwd')"}),
            )
            .await;
        assert!(is_error(&res), "{res}");
        assert_eq!(r.mock.received_requests().await.unwrap().len(), before);
        check_requests(&r, via).await;
    }
}

#[tokio::test]
async fn server_read_only_mode_sends_read_only() {
    let mut r = start(Via::Management, &["--read-only"]).await;
    let res = r
        .server
        .call(
            "execute_sql",
            json!({"query": "update public.remote_items set label = 'x' where id = 1"}),
        )
        .await;
    assert!(is_error(&res), "{res}");
    let seen = r.seen.lock().unwrap().clone();
    assert!(seen.iter().all(|b| b["read_only"] == true), "{seen:?}");
}

#[tokio::test]
async fn large_remote_results_are_refused_and_spill_when_allowed() {
    let mut r = start(Via::Management, &["--max-remote-result-mb", "1"]).await;
    let s = &mut r.server;
    let res = s
        .call(
            "execute_sql",
            json!({"query": "select g, repeat('x', 200) as pad from generate_series(1, 20000) g"}),
        )
        .await;
    assert!(is_error(&res), "{res}");
    assert!(text(&res).contains("larger than 1 MiB"), "{res}");
    assert!(text(&res).contains("LIMIT"), "{res}");

    // Under the cap but over the row limit: the rows spill to a file.
    let d = ok(&s
        .call(
            "execute_sql",
            json!({"query": "select g from generate_series(1, 3000) g"}),
        )
        .await)
    .clone();
    assert_eq!(d["row_count"], 3000, "{d}");
    let spill = &d["spill"];
    let id = spill["result_id"].as_str().unwrap();
    let page = ok(&s
        .call(
            "get_result_page",
            json!({"result_id": id, "offset": 2990, "limit": 100}),
        )
        .await)
    .clone();
    assert_eq!(page["rows"].as_array().unwrap().len(), 10, "{page}");
}

#[tokio::test]
async fn management_api_errors_are_explained() {
    let mut r = start(Via::Management, &[]).await;
    let res = r
        .server
        .call("execute_sql", json!({"query": "select * from public.nope"}))
        .await;
    assert!(is_error(&res), "{res}");
    assert!(text(&res).contains("does not exist"), "{res}");
    assert!(!text(&res).contains(TOKEN));
}

/// The official server's `project_id` on the database tools: unscoped, it
/// picks the project (through the Management API); scoped, another project
/// is refused; on a self-hosted instance it is refused too.
#[tokio::test(flavor = "multi_thread")]
async fn project_id_on_database_tools_picks_the_project() {
    let mock = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(format!("/v1/projects/{PROJECT}/database/query")))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!([{"one": 1}])))
        .expect(1)
        .mount(&mock)
        .await;
    let uri = mock.uri();
    let mut s = Server::start_with_env(
        None,
        &[
            "--mode",
            "cloud",
            "--access-token",
            TOKEN,
            "--api-url",
            &uri,
        ],
        &[],
    )
    .await;
    let tools = s.tools().await;
    let exec = tools.iter().find(|t| t["name"] == "execute_sql").unwrap();
    assert!(
        exec["inputSchema"]["properties"]["project_id"].is_object(),
        "{exec}"
    );
    let r = s
        .call(
            "execute_sql",
            json!({"project_id": PROJECT, "query": "select 1 as one"}),
        )
        .await;
    assert_eq!(ok(&r)["rows"][0]["one"], 1, "{r}");
    let r = s
        .call(
            "execute_sql",
            json!({"project_id": "Not-A-Ref", "query": "select 1"}),
        )
        .await;
    assert_eq!(error_code(&r), "invalid_arguments", "{r}");
    drop(s);

    let remote = start(Via::Management, &[]).await;
    let mut s = remote.server;
    let other = "zyxwvutsrqponmlkjihg";
    let r = s.call("list_tables", json!({"project_id": other})).await;
    assert_eq!(error_code(&r), "invalid_arguments", "{r}");
    assert!(text(&r).contains("scoped"), "{r}");
    let r = s
        .call(
            "list_tables",
            json!({"project_id": PROJECT, "schemas": ["public"]}),
        )
        .await;
    assert_eq!(status(&r), "ok", "{r}");
}
