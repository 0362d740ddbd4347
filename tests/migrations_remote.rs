//! Migrations without a database URL (a cloud project reached through the
//! Management API): the one-text script `apply_migration` sends, run on the
//! real PostgreSQL the way the API runs it (one simple-protocol query, so
//! one implicit transaction): applied with its history row, or on failure
//! nothing kept; and the tools against a mock `database/query` endpoint,
//! each request checked against the spec.

mod api_common;
mod common;

use common::*;
use serde_json::{Value, json};
use supabase_mcp::migrations::apply::{Migration, remote_script};
use supabase_mcp::pg::testdb::TestDb;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

fn migration(version: &str, sql: &str) -> Migration {
    Migration {
        version: version.into(),
        name: "test".into(),
        sql: sql.into(),
        requires: Vec::new(),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_remote_script_applies_and_records_in_one_transaction() {
    let db = TestDb::new().await.unwrap();
    let c = db.client().await.unwrap();
    let m = migration(
        "20250101000000",
        "BEGIN;\ncreate table public.notes (id bigint primary key, body text); -- the table\ninsert into public.notes values (1, 'it''s; fine') -- trailing comment\n;COMMIT;",
    );
    let script = remote_script(&m).unwrap();
    assert_eq!(script.statements.len(), 2, "{:?}", script.statements);
    assert!(!script.notes.is_empty(), "its own BEGIN/COMMIT are noted");
    c.batch_execute(&script.sql).await.unwrap();
    let body: String = c
        .query_one("select body from public.notes where id = 1", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(body, "it's; fine");
    let row = c
        .query_one(
            "select name, statements from supabase_migrations.schema_migrations where version = '20250101000000'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "test");
    assert_eq!(row.get::<_, Vec<String>>(1), script.statements);
    drop(c);
    db.drop_database().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failing_remote_script_keeps_nothing() {
    let db = TestDb::new().await.unwrap();
    let c = db.client().await.unwrap();
    let m = migration(
        "20250101000001",
        "create table public.half (id int);\ninsert into public.half values ('not a number');",
    );
    let script = remote_script(&m).unwrap();
    let err = c.batch_execute(&script.sql).await.unwrap_err();
    assert!(
        err.to_string().contains("invalid input") || format!("{err:?}").contains("invalid input")
    );
    let half: bool = c
        .query_one("select to_regclass('public.half') is not null", &[])
        .await
        .unwrap()
        .get(0);
    assert!(!half, "the table of a failed migration must not stay");
    let recorded: i64 = c
        .query_one(
            "select count(*) from pg_tables where schemaname = 'supabase_migrations'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    // The history table itself may exist (the fixture), but no row for it.
    if recorded > 0 {
        let n: i64 = c
            .query_one(
                "select count(*) from supabase_migrations.schema_migrations where version = '20250101000001'",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        assert_eq!(n, 0);
    }
    drop(c);
    db.drop_database().await.unwrap();
}

#[test]
fn statements_that_cannot_run_in_a_transaction_are_refused() {
    let m = migration(
        "20250101000002",
        "create index concurrently i on public.t (id);",
    );
    let err = remote_script(&m).unwrap_err().to_string();
    assert!(err.contains("CREATE INDEX CONCURRENTLY"), "{err}");
    let m = migration("20250101000003", "select 1; commit; select 2;");
    assert!(
        remote_script(&m)
            .unwrap_err()
            .to_string()
            .contains("transaction control")
    );
}

/// Answers `database/query` like the API: the history table's presence,
/// then its rows, then the migration.
struct QueryEndpoint;

impl Respond for QueryEndpoint {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
        let q = body["query"].as_str().unwrap_or("");
        if q.contains("to_regclass('supabase_migrations.schema_migrations') IS NOT NULL AS present")
        {
            ResponseTemplate::new(201).set_body_json(json!([{"present": true}]))
        } else if q.contains("FROM supabase_migrations.schema_migrations m") {
            ResponseTemplate::new(201).set_body_json(json!([
                {"version": "20240101000000", "name": "init", "statements": ["create table a (id int)"]}
            ]))
        } else if q.contains("pg_advisory_xact_lock") {
            ResponseTemplate::new(201).set_body_json(json!([]))
        } else {
            ResponseTemplate::new(400).set_body_json(json!({"message": "unexpected query"}))
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn list_and_apply_go_through_the_query_endpoint_without_a_database_url() {
    let mock = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(format!("/v1/projects/{CLOUD_PROJECT}/database/query")))
        .respond_with(QueryEndpoint)
        .mount(&mock)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let migrations = dir.path().join("migrations");
    std::fs::create_dir_all(&migrations).unwrap();
    std::fs::write(
        migrations.join("20240101000000_init.sql"),
        "create table a (id int)",
    )
    .unwrap();
    let mdir = migrations.display().to_string();
    let mut s = start_cloud(&mock.uri(), "database", true, &["--migrations-dir", &mdir]).await;

    let r = s.call("list_migrations", json!({})).await;
    assert_eq!(status(&r), "ok", "{r}");
    let rows = data(&r)["migrations"].as_array().unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["version"], "20240101000000");
    assert_eq!(rows[0]["status"], "applied");
    let reqs = mock.received_requests().await.unwrap();
    assert_eq!(reqs.len(), 2);
    for req in &reqs {
        api_common::Spec::load("supabase-management").check("v1-run-a-query", req, "");
        let body: Value = serde_json::from_slice(&req.body).unwrap();
        assert_eq!(body["read_only"], true, "reading the history is read-only");
    }

    // Already applied: refused before anything runs.
    let r = s
        .call(
            "apply_migration",
            json!({"name": "init", "query": "create table a (id int)", "version": "20240101000000"}),
        )
        .await;
    assert_eq!(status(&r), "error", "{r}");
    assert!(text(&r).contains("already applied"), "{r}");

    let r = s
        .call(
            "apply_migration",
            json!({"name": "add_b", "query": "create table b (id int);", "version": "20250202000000"}),
        )
        .await;
    assert_eq!(status(&r), "ok", "{r}");
    assert_eq!(data(&r)["applied"][0]["version"], "20250202000000");
    assert_eq!(data(&r)["via"], "management_api");
    let reqs = mock.received_requests().await.unwrap();
    let last = reqs.last().unwrap();
    api_common::Spec::load("supabase-management").check("v1-run-a-query", last, "");
    let body: Value = serde_json::from_slice(&last.body).unwrap();
    let q = body["query"].as_str().unwrap();
    assert_eq!(body["read_only"], false);
    assert!(q.contains("pg_advisory_xact_lock"), "{q}");
    assert!(q.contains("create table b (id int)"), "{q}");
    assert!(
        q.contains("INSERT INTO supabase_migrations.schema_migrations"),
        "{q}"
    );
    assert!(
        q.contains("E'20250202000000'") && q.contains("E'add_b'"),
        "{q}"
    );
}
