//! `get_advisors` on a directly connected database: the SQL lints. A
//! deliberately bad schema makes every lint fire on the objects it should
//! (and their remediation SQL, run back, makes them go away); a clean
//! schema, and bad objects in Supabase-managed schemas, fire none.

mod common;

use std::time::{Duration, Instant};

use common::*;
use serde_json::{Value, json};
use supabase_mcp::pg::testdb::TestDb;

const BAD: &str = r#"
-- rls_disabled_in_public
CREATE TABLE public.open_notes (id bigint PRIMARY KEY, body text);
-- policy_exists_rls_disabled
CREATE TABLE public.forgotten (id bigint PRIMARY KEY, owner uuid);
CREATE POLICY "owner reads" ON public.forgotten FOR SELECT USING ((SELECT auth.uid()) = owner);
-- rls_enabled_no_policy
CREATE TABLE public.locked (id bigint PRIMARY KEY);
ALTER TABLE public.locked ENABLE ROW LEVEL SECURITY;
-- auth_rls_initplan and multiple_permissive_policies
CREATE TABLE public.todos (id bigint PRIMARY KEY, owner uuid NOT NULL, team uuid, title text);
ALTER TABLE public.todos ENABLE ROW LEVEL SECURITY;
CREATE POLICY "own todos" ON public.todos FOR SELECT TO authenticated USING (auth.uid() = owner);
CREATE POLICY "team todos" ON public.todos FOR SELECT TO authenticated
    USING ((auth.jwt() ->> 'team')::uuid = team);
CREATE POLICY "write own" ON public.todos FOR INSERT TO authenticated WITH CHECK (owner = auth.uid());
-- security_definer_view
CREATE VIEW public.todo_titles AS SELECT id, title FROM public.todos;
-- auth_users_exposed
CREATE VIEW public.user_emails AS SELECT id, email FROM auth.users;
-- anon_/authenticated_security_definer_function_executable (and a mutable search_path)
CREATE FUNCTION public.wipe_todos() RETURNS void LANGUAGE sql SECURITY DEFINER
    AS $$ DELETE FROM public.todos $$;
-- function_search_path_mutable
CREATE FUNCTION public.add_one(i int) RETURNS int LANGUAGE sql IMMUTABLE AS $$ SELECT i + 1 $$;
-- extension_in_public
CREATE EXTENSION citext WITH SCHEMA public;
-- unindexed_foreign_keys, duplicate_index, unused_index
CREATE TABLE public.projects (id bigint PRIMARY KEY);
ALTER TABLE public.projects ENABLE ROW LEVEL SECURITY;
CREATE POLICY "read projects" ON public.projects FOR SELECT USING (true);
CREATE TABLE public.tasks (id bigint PRIMARY KEY, project_id bigint REFERENCES public.projects (id), label text);
ALTER TABLE public.tasks ENABLE ROW LEVEL SECURITY;
CREATE POLICY "read tasks" ON public.tasks FOR SELECT USING (true);
CREATE INDEX tasks_label_idx ON public.tasks (label);
CREATE INDEX tasks_label_copy ON public.tasks (label);
INSERT INTO public.projects VALUES (1);
INSERT INTO public.tasks SELECT g, 1, 'l' || g FROM generate_series(1, 100) g;
-- no_primary_key
CREATE TABLE public.events_log (at timestamptz, payload jsonb);
ALTER TABLE public.events_log ENABLE ROW LEVEL SECURITY;
CREATE POLICY "read log" ON public.events_log FOR SELECT USING (true);
"#;

/// The same features done right, plus bad objects in schemas Supabase
/// manages (which the lints must leave alone).
const CLEAN: &str = r#"
CREATE SCHEMA private;
CREATE TABLE public.projects (id bigint PRIMARY KEY, owner uuid NOT NULL);
ALTER TABLE public.projects ENABLE ROW LEVEL SECURITY;
CREATE POLICY "own projects" ON public.projects FOR ALL TO authenticated
    USING ((SELECT auth.uid()) = owner) WITH CHECK ((SELECT auth.uid()) = owner);
CREATE TABLE public.tasks (id bigint PRIMARY KEY, project_id bigint NOT NULL REFERENCES public.projects (id), label text);
CREATE INDEX tasks_project_id_idx ON public.tasks (project_id);
ALTER TABLE public.tasks ENABLE ROW LEVEL SECURITY;
CREATE POLICY "tasks of own projects" ON public.tasks FOR SELECT TO authenticated
    USING (EXISTS (SELECT 1 FROM public.projects p WHERE p.id = project_id AND p.owner = (SELECT auth.uid())));
CREATE VIEW public.task_labels WITH (security_invoker = true) AS SELECT id, label FROM public.tasks;
CREATE FUNCTION public.add_one(i int) RETURNS int LANGUAGE sql IMMUTABLE SET search_path = '' AS $$ SELECT i + 1 $$;
CREATE FUNCTION public.admin_reset() RETURNS void LANGUAGE sql SECURITY DEFINER SET search_path = ''
    AS $$ DELETE FROM public.tasks $$;
REVOKE EXECUTE ON FUNCTION public.admin_reset() FROM PUBLIC, anon, authenticated;
GRANT EXECUTE ON FUNCTION public.admin_reset() TO service_role;
CREATE TABLE private.audit (id bigint PRIMARY KEY, at timestamptz, what text);
CREATE EXTENSION citext WITH SCHEMA extensions;
INSERT INTO public.projects VALUES (1, '11111111-1111-4111-8111-111111111111');
INSERT INTO public.tasks SELECT g, 1, 'l' || g FROM generate_series(1, 100) g;
-- Supabase-managed schemas: not the user's to fix.
CREATE TABLE storage.scratch (x int);
CREATE FUNCTION auth.helper() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$;
CREATE VIEW realtime.open_view AS SELECT 1 AS one;
"#;

/// Reads that give the tables activity; run on a connection that is then
/// closed, so its statistics reach the server at once.
const READS: &str = "SELECT count(*) FROM public.tasks; SELECT count(*) FROM public.projects;";

async fn prepare(sql: &str) -> TestDb {
    let db = TestDb::new().await.unwrap();
    let c = db.client().await.unwrap();
    c.batch_execute(sql).await.unwrap();
    c.batch_execute(READS).await.unwrap();
    drop(c);
    db
}

fn ok(r: &Value) -> &Value {
    assert_eq!(status(r), "ok", "{r}");
    data(r)
}

async fn advisors(s: &mut Server, kind: &str) -> Value {
    let r = s
        .call("get_advisors", json!({"type": kind, "limit": 100}))
        .await;
    let d = ok(&r).clone();
    assert_eq!(d["source"], "database", "{d}");
    assert_eq!(d["type"], kind);
    assert!(d.get("failed_lints").is_none(), "lints failed: {d}");
    d
}

fn lint<'a>(d: &'a Value, name: &str) -> Option<&'a Value> {
    d["lints"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["name"] == name)
}

/// The object of lint `name` on `schema.object` (and `entity`, when given).
fn finding<'a>(
    d: &'a Value,
    name: &str,
    schema: &str,
    object: &str,
    entity: Option<&str>,
) -> Option<&'a Value> {
    lint(d, name)?.get("objects")?.as_array()?.iter().find(|o| {
        o["schema"] == schema && o["name"] == object && entity.is_none_or(|e| o["entity"] == e)
    })
}

fn expect<'a>(
    d: &'a Value,
    name: &str,
    level: &str,
    schema: &str,
    object: &str,
    entity: Option<&str>,
) -> &'a Value {
    let l = lint(d, name).unwrap_or_else(|| panic!("lint {name} did not fire: {d:#}"));
    assert_eq!(l["level"], level, "{l}");
    for k in ["title", "description", "remediation"] {
        assert!(!l[k].as_str().unwrap_or("").is_empty(), "{name}: no {k}");
    }
    assert!(l["remediation"].as_str().unwrap().contains(name), "{l}");
    assert_eq!(
        l["count"].as_u64().unwrap() as usize,
        l["objects"].as_array().unwrap().len()
    );
    let o = finding(d, name, schema, object, entity)
        .unwrap_or_else(|| panic!("{name} does not name {schema}.{object} {entity:?}: {l:#}"));
    assert!(!o["detail"].as_str().unwrap().is_empty(), "{o}");
    assert!(!o["fix"].as_str().unwrap().is_empty(), "{o}");
    o
}

/// Runs the performance advisor until `unused_index` shows up (statistics
/// reach shared memory shortly after the reading session ends) or 30 s pass.
async fn performance(s: &mut Server) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let d = advisors(s, "performance").await;
        if lint(&d, "unused_index").is_some() || Instant::now() > deadline {
            return d;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_lint_fires_on_a_bad_schema() {
    let db = prepare(BAD).await;
    let mut s = Server::start(Some(db), &[]).await;

    let sec = advisors(&mut s, "security").await;
    let o = expect(
        &sec,
        "rls_disabled_in_public",
        "ERROR",
        "public",
        "open_notes",
        None,
    );
    assert_eq!(
        o["fix"],
        "ALTER TABLE public.open_notes ENABLE ROW LEVEL SECURITY;"
    );
    assert_eq!(o["type"], "table");
    expect(
        &sec,
        "policy_exists_rls_disabled",
        "ERROR",
        "public",
        "forgotten",
        None,
    );
    expect(
        &sec,
        "rls_enabled_no_policy",
        "INFO",
        "public",
        "locked",
        None,
    );
    let o = expect(
        &sec,
        "security_definer_view",
        "ERROR",
        "public",
        "todo_titles",
        None,
    );
    assert_eq!(
        o["fix"],
        "ALTER VIEW public.todo_titles SET (security_invoker = true);"
    );
    expect(
        &sec,
        "auth_users_exposed",
        "ERROR",
        "public",
        "user_emails",
        None,
    );
    let o = expect(
        &sec,
        "anon_security_definer_function_executable",
        "WARN",
        "public",
        "wipe_todos",
        None,
    );
    assert!(
        o["fix"]
            .as_str()
            .unwrap()
            .starts_with("REVOKE EXECUTE ON FUNCTION public.wipe_todos() FROM PUBLIC, anon;"),
        "{o}"
    );
    expect(
        &sec,
        "authenticated_security_definer_function_executable",
        "WARN",
        "public",
        "wipe_todos",
        None,
    );
    let o = expect(
        &sec,
        "function_search_path_mutable",
        "WARN",
        "public",
        "add_one",
        None,
    );
    assert!(
        o["fix"]
            .as_str()
            .unwrap()
            .starts_with("ALTER FUNCTION public.add_one(i integer) SET search_path = '';"),
        "{o}"
    );
    expect(
        &sec,
        "function_search_path_mutable",
        "WARN",
        "public",
        "wipe_todos",
        None,
    );
    let o = expect(
        &sec,
        "extension_in_public",
        "WARN",
        "public",
        "citext",
        None,
    );
    assert!(o["fix"].as_str().unwrap().contains("extensions"), "{o}");
    // Tables with RLS and policies are not reported as RLS-less.
    assert!(finding(&sec, "rls_disabled_in_public", "public", "todos", None).is_none());
    // Most severe first.
    let levels: Vec<&str> = sec["lints"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["level"].as_str().unwrap())
        .collect();
    let rank = |l: &str| {
        ["ERROR", "WARN", "INFO"]
            .iter()
            .position(|x| *x == l)
            .unwrap()
    };
    assert!(
        levels.windows(2).all(|w| rank(w[0]) <= rank(w[1])),
        "{levels:?}"
    );
    assert_eq!(
        sec["total_findings"].as_u64().unwrap(),
        sec["lints"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["count"].as_u64().unwrap())
            .sum::<u64>()
    );
    // Security lints only.
    assert!(lint(&sec, "unindexed_foreign_keys").is_none());

    let perf = performance(&mut s).await;
    let o = expect(
        &perf,
        "auth_rls_initplan",
        "WARN",
        "public",
        "todos",
        Some("own todos"),
    );
    assert_eq!(
        o["fix"],
        "ALTER POLICY \"own todos\" ON public.todos USING (((select auth.uid()) = owner));"
    );
    let o = expect(
        &perf,
        "auth_rls_initplan",
        "WARN",
        "public",
        "todos",
        Some("team todos"),
    );
    assert!(
        o["fix"].as_str().unwrap().contains("(select auth.jwt())"),
        "{o}"
    );
    let o = expect(
        &perf,
        "auth_rls_initplan",
        "WARN",
        "public",
        "todos",
        Some("write own"),
    );
    assert!(
        o["fix"]
            .as_str()
            .unwrap()
            .contains("WITH CHECK ((owner = (select auth.uid())))"),
        "{o}"
    );
    // Wrapped calls are fine.
    assert!(finding(&perf, "auth_rls_initplan", "public", "forgotten", None).is_none());
    let o = expect(
        &perf,
        "multiple_permissive_policies",
        "WARN",
        "public",
        "todos",
        Some("authenticated"),
    );
    assert!(o["detail"].as_str().unwrap().contains("SELECT"), "{o}");
    assert!(
        o["detail"].as_str().unwrap().contains("\"own todos\""),
        "{o}"
    );
    let o = expect(
        &perf,
        "unindexed_foreign_keys",
        "INFO",
        "public",
        "tasks",
        None,
    );
    assert_eq!(o["fkey_name"], "tasks_project_id_fkey");
    assert_eq!(o["fkey_columns"], json!(["project_id"]));
    assert_eq!(o["fix"], "CREATE INDEX ON public.tasks (project_id);");
    let o = expect(&perf, "duplicate_index", "WARN", "public", "tasks", None);
    assert_eq!(o["entity"], "tasks_label_copy, tasks_label_idx");
    assert_eq!(o["fix"], "DROP INDEX public.tasks_label_idx;");
    expect(
        &perf,
        "unused_index",
        "INFO",
        "public",
        "tasks",
        Some("tasks_label_idx"),
    );
    let o = expect(
        &perf,
        "no_primary_key",
        "INFO",
        "public",
        "events_log",
        None,
    );
    assert_eq!(
        o["fix"],
        "ALTER TABLE public.events_log ADD COLUMN id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY;"
    );
    assert!(lint(&perf, "rls_disabled_in_public").is_none());

    // `limit` caps the objects per lint and says how many were left out.
    let r = s
        .call("get_advisors", json!({"type": "security", "limit": 1}))
        .await;
    let d = ok(&r);
    let rls = lint(d, "rls_disabled_in_public").unwrap();
    assert_eq!(rls["objects"].as_array().unwrap().len(), 1);
    assert!(rls["omitted"].as_u64().unwrap() >= 1, "{rls}");
    assert!(
        r["structuredContent"]["warnings"]
            .to_string()
            .contains("limit"),
        "{r}"
    );
    let r = s
        .call("get_advisors", json!({"type": "security", "limit": 0}))
        .await;
    let d = ok(&r);
    assert!(d["lints"][0]["objects"].as_array().unwrap().is_empty());
    assert!(d["lints"][0]["count"].as_u64().unwrap() > 0);
    let r = s
        .call("get_advisors", json!({"type": "security", "limit": 501}))
        .await;
    assert_eq!(error_code(&r), "invalid_arguments", "{r}");

    // The remediation SQL works: run it back and the findings go away.
    let c = s.db.as_ref().unwrap().client().await.unwrap();
    let mut fixes = Vec::new();
    for (d, name, schema, object, entity) in [
        (&sec, "rls_disabled_in_public", "public", "open_notes", None),
        (
            &sec,
            "policy_exists_rls_disabled",
            "public",
            "forgotten",
            None,
        ),
        (&sec, "security_definer_view", "public", "todo_titles", None),
        (
            &sec,
            "function_search_path_mutable",
            "public",
            "add_one",
            None,
        ),
        (&sec, "extension_in_public", "public", "citext", None),
        (
            &sec,
            "anon_security_definer_function_executable",
            "public",
            "wipe_todos",
            None,
        ),
        (
            &perf,
            "auth_rls_initplan",
            "public",
            "todos",
            Some("own todos"),
        ),
        (
            &perf,
            "auth_rls_initplan",
            "public",
            "todos",
            Some("team todos"),
        ),
        (
            &perf,
            "auth_rls_initplan",
            "public",
            "todos",
            Some("write own"),
        ),
        (&perf, "unindexed_foreign_keys", "public", "tasks", None),
        (&perf, "duplicate_index", "public", "tasks", None),
        (&perf, "no_primary_key", "public", "events_log", None),
    ] {
        let fix = finding(d, name, schema, object, entity).unwrap()["fix"]
            .as_str()
            .unwrap()
            .to_owned();
        c.batch_execute(&fix)
            .await
            .unwrap_or_else(|e| panic!("{name}: `{fix}` failed: {e}"));
        fixes.push((name, schema, object, entity));
    }
    let sec = advisors(&mut s, "security").await;
    let perf = advisors(&mut s, "performance").await;
    for (name, schema, object, entity) in fixes {
        assert!(
            finding(&sec, name, schema, object, entity).is_none()
                && finding(&perf, name, schema, object, entity).is_none(),
            "{name} still fires on {schema}.{object} after its fix: {sec:#} {perf:#}"
        );
    }
    // The anon fix keeps signed-in users' access.
    assert!(
        finding(
            &sec,
            "authenticated_security_definer_function_executable",
            "public",
            "wipe_todos",
            None
        )
        .is_some()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_clean_schema_and_managed_schemas_fire_nothing() {
    let db = prepare(CLEAN).await;
    let mut s = Server::start(Some(db), &[]).await;
    for kind in ["security", "performance"] {
        let d = advisors(&mut s, kind).await;
        assert_eq!(d["total_findings"], 0, "{kind}: {d:#}");
        assert_eq!(d["lints"], json!([]), "{kind}");
        assert!(d["instance"].is_string(), "{d}");
    }
    // The private schema is not exposed: its table needs no RLS.
    let d = advisors(&mut s, "security").await;
    assert!(lint(&d, "rls_disabled_in_public").is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn the_sample_application_gets_real_findings_only() {
    let db = TestDb::with_sample_data().await.unwrap();
    let mut s = Server::start(Some(db), &[]).await;
    let sec = advisors(&mut s, "security").await;
    // Its trigger helpers do not pin search_path; everything else is sound.
    let names: Vec<&str> = sec["lints"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["function_search_path_mutable"], "{sec:#}");
    expect(
        &sec,
        "function_search_path_mutable",
        "WARN",
        "public",
        "set_updated_at",
        None,
    );
    // handle_new_user is SECURITY DEFINER but a trigger: not callable through the API.
    assert!(!sec.to_string().contains("handle_new_user"), "{sec:#}");
    let perf = advisors(&mut s, "performance").await;
    expect(
        &perf,
        "unindexed_foreign_keys",
        "INFO",
        "public",
        "comments",
        None,
    );
    assert!(lint(&perf, "auth_rls_initplan").is_none(), "{perf:#}");
    assert!(lint(&perf, "no_primary_key").is_none(), "{perf:#}");
}

/// Which path `get_advisors` takes: the SQL lints for a database without a
/// cloud project, the Management API as soon as a project is known (scoped
/// server or `project_id`), even when a database URL is configured too.
#[tokio::test(flavor = "multi_thread")]
async fn the_cloud_path_is_kept_for_cloud_projects() {
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    let db = prepare(BAD).await;
    let mock = MockServer::start().await;
    for project in [CLOUD_PROJECT, "zyxwvutsrqponmlkjihg"] {
        Mock::given(method("GET"))
            .and(path(format!("/v1/projects/{project}/advisors/security")))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({"lints": []})))
            .mount(&mock)
            .await;
    }

    // Scoped to a project, with a database URL as well: the hosted advisors.
    let mut s = start_cloud(&mock.uri(), "debugging", true, &["--db-url", &db.url]).await;
    let r = s.call("get_advisors", json!({"type": "security"})).await;
    let d = ok(&r);
    assert_eq!(d["project_id"], CLOUD_PROJECT, "{d}");
    assert!(d.get("source").is_none(), "{d}");
    assert_eq!(mock.received_requests().await.unwrap().len(), 1);

    // Unscoped with a database URL: the database is linted, no request sent...
    let mut s = start_cloud(&mock.uri(), "debugging", false, &["--db-url", &db.url]).await;
    let r = s.call("get_advisors", json!({"type": "security"})).await;
    let d = ok(&r);
    assert_eq!(d["source"], "database", "{d}");
    assert!(lint(d, "rls_disabled_in_public").is_some(), "{d}");
    assert_eq!(mock.received_requests().await.unwrap().len(), 1);
    // ...unless the caller names a project.
    let r = s
        .call(
            "get_advisors",
            json!({"type": "security", "project_id": "zyxwvutsrqponmlkjihg"}),
        )
        .await;
    assert_eq!(ok(&r)["project_id"], "zyxwvutsrqponmlkjihg", "{r}");
    assert_eq!(mock.received_requests().await.unwrap().len(), 2);
}
