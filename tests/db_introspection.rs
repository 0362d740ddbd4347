//! End-to-end tests of the catalog tools (`list_schemas`, `list_views`,
//! `list_functions`, `list_triggers`, `list_policies`, `list_types`,
//! `list_extensions`, `list_roles`, `schema_access_matrix`,
//! `check_permissions`) against a real Supabase-like test database.

mod common;

use std::time::{SystemTime, UNIX_EPOCH};

use common::*;
use serde_json::{Value, json};
use supabase_mcp::pg::testdb::TestDb;

const TOOLS: [&str; 10] = [
    "list_schemas",
    "list_views",
    "list_functions",
    "list_triggers",
    "list_policies",
    "list_types",
    "list_extensions",
    "list_roles",
    "schema_access_matrix",
    "check_permissions",
];

async fn sample_server() -> Server {
    Server::start(Some(TestDb::with_sample_data().await.unwrap()), &[]).await
}

/// Runs SQL on the server's test database as the admin role.
async fn sql(s: &Server, q: &str) {
    let client = s.db.as_ref().unwrap().client().await.unwrap();
    client.batch_execute(q).await.unwrap();
}

/// `data` of a successful call (panics with the whole result otherwise).
fn ok(r: &Value) -> &Value {
    assert_eq!(status(r), "ok", "{r}");
    data(r)
}

fn items<'a>(d: &'a Value, key: &str) -> &'a Vec<Value> {
    d[key]
        .as_array()
        .unwrap_or_else(|| panic!("no `{key}` array in {d}"))
}

/// The item of `d[key]` whose fields match every `(field, value)`.
fn find<'a>(d: &'a Value, key: &str, fields: &[(&str, &str)]) -> &'a Value {
    items(d, key)
        .iter()
        .find(|i| fields.iter().all(|(f, v)| i[*f] == *v))
        .unwrap_or_else(|| panic!("no {key} item with {fields:?} in {d}"))
}

fn has(d: &Value, key: &str, fields: &[(&str, &str)]) -> bool {
    items(d, key)
        .iter()
        .any(|i| fields.iter().all(|(f, v)| i[*f] == *v))
}

fn warnings(r: &Value) -> Vec<String> {
    r["structuredContent"]["warnings"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|w| w.as_str().unwrap_or("").to_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// A NOLOGIN role that exists for one test; dropped (with its privileges in
/// the test database) when the value goes out of scope.
struct TempRole {
    name: String,
    db_url: String,
    admin_url: String,
}

impl TempRole {
    async fn create(db: &TestDb, prefix: &str) -> TempRole {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let name = format!("{prefix}_{}_{nanos}", std::process::id());
        let client = db.client().await.unwrap();
        client
            .batch_execute(&format!("CREATE ROLE {name} NOLOGIN"))
            .await
            .unwrap();
        TempRole {
            name,
            db_url: db.url.clone(),
            admin_url: db.admin_url().to_owned(),
        }
    }
}

impl Drop for TempRole {
    fn drop(&mut self) {
        let (name, db_url, admin_url) = (
            self.name.clone(),
            self.db_url.clone(),
            self.admin_url.clone(),
        );
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                for (url, stmt) in [
                    (db_url, format!("DROP OWNED BY {name}")),
                    (admin_url, format!("DROP ROLE IF EXISTS {name}")),
                ] {
                    if let Ok((c, conn)) =
                        tokio_postgres::connect(&url, tokio_postgres::NoTls).await
                    {
                        tokio::spawn(conn);
                        let _ = c.batch_execute(&stmt).await;
                    }
                }
            });
        })
        .join();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn tools_are_listed_read_only_with_short_descriptions() {
    let mut s = Server::start(None, &[]).await;
    let tools = s.tools().await;
    for name in TOOLS {
        let t = tools
            .iter()
            .find(|t| t["name"] == name)
            .unwrap_or_else(|| panic!("{name} not listed"));
        assert_eq!(t["annotations"]["readOnlyHint"], true, "{name}");
        assert_eq!(t["inputSchema"]["additionalProperties"], false, "{name}");
        let d = t["description"].as_str().unwrap();
        assert!(d.len() <= 250, "{name}: description of {} chars", d.len());
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn list_schemas_counts_objects_and_flags_managed_schemas() {
    let mut s = sample_server().await;
    sql(
        &s,
        "CREATE SCHEMA app; COMMENT ON SCHEMA app IS 'Application data'; \
         CREATE TABLE app.items (id int); CREATE FUNCTION app.one() RETURNS int LANGUAGE sql AS 'select 1';",
    )
    .await;
    let r = s.call("list_schemas", json!({})).await;
    let d = ok(&r);
    let names: Vec<&str> = items(d, "schemas")
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    for hidden in ["pg_catalog", "information_schema", "pg_toast"] {
        assert!(!names.contains(&hidden), "{hidden} listed: {names:?}");
    }
    assert_eq!(d["total"], json!(names.len()));
    assert_eq!(d["next_offset"], Value::Null);
    let public = find(d, "schemas", &[("name", "public")]);
    assert_eq!(public["managed"], false);
    assert_eq!(public["tables"], 3);
    assert_eq!(public["views"], 1);
    assert_eq!(public["functions"], 3);
    assert!(public["size_bytes"].as_i64().unwrap() > 0);
    let auth = find(d, "schemas", &[("name", "auth")]);
    assert_eq!(auth["managed"], true);
    assert_eq!(auth["owner"], "supabase_auth_admin");
    assert!(auth["tables"].as_i64().unwrap() >= 10, "{auth}");
    for managed in [
        "storage",
        "realtime",
        "extensions",
        "vault",
        "supabase_migrations",
    ] {
        assert_eq!(find(d, "schemas", &[("name", managed)])["managed"], true);
    }
    let app = find(d, "schemas", &[("name", "app")]);
    assert_eq!(app["comment"], "Application data");
    assert_eq!(
        (app["tables"].clone(), app["functions"].clone()),
        (json!(1), json!(1))
    );
    // User schemas come first.
    let pos = |n: &str| names.iter().position(|x| *x == n).unwrap();
    assert!(
        pos("app") < pos("auth") && pos("public") < pos("auth"),
        "{names:?}"
    );

    let r = s.call("list_schemas", json!({"user_only": true})).await;
    let d = ok(&r);
    assert!(
        items(d, "schemas").iter().all(|s| s["managed"] == false),
        "{d}"
    );
    assert!(has(d, "schemas", &[("name", "app")]));
    let r = s.call("list_schemas", json!({"name_pattern": "au%"})).await;
    let d = ok(&r);
    assert_eq!(d["total"], 1);
    assert_eq!(d["schemas"][0]["name"], "auth");
}

#[tokio::test(flavor = "multi_thread")]
async fn list_views_reports_kinds_options_and_definer_views() {
    let mut s = sample_server().await;
    sql(
        &s,
        "CREATE VIEW public.open_posts AS SELECT id, title FROM public.posts; \
         CREATE VIEW public.guarded WITH (security_barrier = true, security_invoker = on) AS SELECT 1 AS x; \
         CREATE MATERIALIZED VIEW public.post_counts AS SELECT author_id, count(*) FROM public.posts GROUP BY 1 WITH NO DATA; \
         COMMENT ON MATERIALIZED VIEW public.post_counts IS 'Posts per author';",
    )
    .await;
    let r = s.call("list_views", json!({})).await;
    let d = ok(&r);
    let published = find(d, "views", &[("name", "published_posts")]);
    assert_eq!(published["kind"], "view");
    assert_eq!(published["security_invoker"], true);
    assert_eq!(
        published["comment"],
        "Published posts with their author and comment count."
    );
    assert!(published.get("definition").is_none(), "compact by default");
    let open = find(d, "views", &[("name", "open_posts")]);
    assert_eq!(open["security_invoker"], false);
    let guarded = find(d, "views", &[("name", "guarded")]);
    assert_eq!(guarded["security_barrier"], true);
    assert_eq!(guarded["security_invoker"], true);
    let mv = find(d, "views", &[("name", "post_counts")]);
    assert_eq!(mv["kind"], "materialized view");
    assert_eq!(mv["populated"], false);
    assert_eq!(mv["comment"], "Posts per author");
    // vault is managed: listed, but not flagged as exposed.
    assert!(has(
        d,
        "views",
        &[("schema", "vault"), ("name", "decrypted_secrets")]
    ));
    let w = warnings(&r).join("\n");
    assert!(w.contains("public.open_posts"), "{w}");
    assert!(
        !w.contains("published_posts") && !w.contains("decrypted_secrets"),
        "{w}"
    );

    let r = s
        .call(
            "list_views",
            json!({"schemas": ["public"], "name_pattern": "open%", "definition": true}),
        )
        .await;
    let d = ok(&r);
    assert_eq!(d["total"], 1);
    let def = d["views"][0]["definition"].as_str().unwrap();
    assert!(def.contains("FROM posts"), "{def}");
}

#[tokio::test(flavor = "multi_thread")]
async fn list_functions_reports_language_volatility_and_security_definer() {
    let mut s = sample_server().await;
    sql(
        &s,
        "CREATE FUNCTION public.add_one(i integer) RETURNS integer LANGUAGE sql IMMUTABLE AS 'select i + 1'; \
         CREATE FUNCTION public.whoami() RETURNS text LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = '' \
           AS $$ BEGIN RETURN current_user; END $$; \
         COMMENT ON FUNCTION public.whoami() IS 'The effective role'; \
         CREATE FUNCTION public.int_plus(integer, integer) RETURNS integer LANGUAGE internal IMMUTABLE STRICT AS 'int4pl'; \
         CREATE FUNCTION public.unpinned_definer() RETURNS void LANGUAGE plpgsql SECURITY DEFINER AS $$ BEGIN END $$; \
         CREATE PROCEDURE public.do_nothing() LANGUAGE plpgsql AS $$ BEGIN END $$; \
         CREATE EXTENSION pg_trgm WITH SCHEMA public;",
    )
    .await;
    let r = s.call("list_functions", json!({})).await;
    let d = ok(&r);
    let add = find(d, "functions", &[("name", "add_one")]);
    assert_eq!(add["language"], "sql");
    assert_eq!(add["volatility"], "immutable");
    assert_eq!(add["security_definer"], false);
    assert_eq!(add["arguments"], "i integer");
    assert_eq!(add["returns"], "integer");
    let who = find(d, "functions", &[("name", "whoami")]);
    assert_eq!(who["language"], "plpgsql");
    assert_eq!(who["volatility"], "stable");
    assert_eq!(who["security_definer"], true);
    assert_eq!(who["config"], json!(["search_path=\"\""]));
    assert_eq!(who["comment"], "The effective role");
    let plus = find(d, "functions", &[("name", "int_plus")]);
    assert_eq!(plus["language"], "internal");
    assert_eq!(plus["arguments"], "integer, integer");
    assert_eq!(
        find(d, "functions", &[("name", "do_nothing")])["kind"],
        "procedure"
    );
    assert_eq!(
        find(d, "functions", &[("name", "handle_new_user")])["security_definer"],
        true
    );
    // Managed schemas and extension members are left out by default.
    assert!(!has(d, "functions", &[("name", "uid")]), "auth.uid listed");
    assert!(
        !has(d, "functions", &[("name", "similarity")]),
        "pg_trgm listed"
    );
    let w = warnings(&r).join("\n");
    assert!(w.contains("public.unpinned_definer"), "{w}");
    assert!(
        !w.contains("whoami") && !w.contains("handle_new_user"),
        "{w}"
    );

    let r = s
        .call(
            "list_functions",
            json!({"name_pattern": "similarity", "include_extensions": true}),
        )
        .await;
    assert_eq!(ok(&r)["total"], 1, "{r}");
    let r = s
        .call(
            "list_functions",
            json!({"schemas": ["auth"], "name_pattern": "uid"}),
        )
        .await;
    let d = ok(&r);
    assert_eq!(d["functions"][0]["returns"], "uuid");
    let r = s
        .call(
            "list_functions",
            json!({"schemas": ["public"], "name_pattern": "whoami", "definition": true}),
        )
        .await;
    let def = ok(&r)["functions"][0]["definition"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        def.contains("CREATE OR REPLACE FUNCTION public.whoami()"),
        "{def}"
    );
    assert!(def.contains("SECURITY DEFINER"), "{def}");
}

#[tokio::test(flavor = "multi_thread")]
async fn list_triggers_decodes_timing_events_level_and_state() {
    let mut s = sample_server().await;
    sql(
        &s,
        "CREATE FUNCTION public.audit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$; \
         CREATE TRIGGER comments_audit AFTER INSERT OR DELETE ON public.comments \
           FOR EACH STATEMENT EXECUTE FUNCTION public.audit(); \
         ALTER TABLE public.comments DISABLE TRIGGER comments_audit;",
    )
    .await;
    let r = s.call("list_triggers", json!({})).await;
    let d = ok(&r);
    let created = find(d, "triggers", &[("name", "on_auth_user_created")]);
    assert_eq!(created["schema"], "auth");
    assert_eq!(created["table"], "users");
    assert_eq!(created["timing"], "AFTER");
    assert_eq!(created["events"], json!(["INSERT"]));
    assert_eq!(created["level"], "row");
    assert_eq!(created["function"], "public.handle_new_user");
    assert_eq!(created["enabled"], true);
    let upd = find(d, "triggers", &[("name", "posts_set_updated_at")]);
    assert_eq!(upd["timing"], "BEFORE");
    assert_eq!(upd["events"], json!(["UPDATE"]));
    let audit = find(d, "triggers", &[("name", "comments_audit")]);
    assert_eq!(audit["events"], json!(["INSERT", "DELETE"]));
    assert_eq!(audit["level"], "statement");
    assert_eq!(audit["enabled"], false);
    assert_eq!(audit["function"], "public.audit");
    // Internal foreign key triggers are not listed.
    assert!(
        items(d, "triggers")
            .iter()
            .all(|t| !t["name"].as_str().unwrap().starts_with("RI_")),
        "{d}"
    );

    let r = s
        .call(
            "list_triggers",
            json!({"schemas": ["public"], "table": "posts"}),
        )
        .await;
    let d = ok(&r);
    assert_eq!(d["total"], 1);
    assert_eq!(d["triggers"][0]["name"], "posts_set_updated_at");
    let r = s.call("list_triggers", json!({"table": "nope"})).await;
    assert_eq!(error_code(&r), "not_found", "{r}");
    assert!(text(&r).contains("list_tables"), "{}", text(&r));
}

#[tokio::test(flavor = "multi_thread")]
async fn list_policies_shows_policies_and_rls_gaps() {
    let mut s = sample_server().await;
    sql(
        &s,
        "CREATE TABLE public.open_notes (id int); \
         CREATE TABLE public.locked (id int); ALTER TABLE public.locked ENABLE ROW LEVEL SECURITY;",
    )
    .await;
    let r = s.call("list_policies", json!({})).await;
    let d = ok(&r);
    assert_eq!(d["total"], 9, "7 in public, 2 on storage.objects: {d}");
    let insert = find(
        d,
        "policies",
        &[("name", "Users can insert their own profile")],
    );
    assert_eq!(insert["table"], "profiles");
    assert_eq!(insert["command"], "INSERT");
    assert_eq!(insert["roles"], json!(["authenticated"]));
    assert_eq!(insert["permissive"], true);
    assert!(insert.get("using").is_none());
    assert!(
        insert["with_check"]
            .as_str()
            .unwrap()
            .contains("auth.uid()"),
        "{insert}"
    );
    let view = find(
        d,
        "policies",
        &[("name", "Profiles are viewable by everyone")],
    );
    assert_eq!(view["roles"], json!(["anon", "authenticated"]));
    assert_eq!(view["command"], "SELECT");
    assert_eq!(view["using"], "true");
    let all = find(d, "policies", &[("name", "Authors manage their own posts")]);
    assert_eq!(all["command"], "ALL");
    let avatars = find(
        d,
        "policies",
        &[("name", "Avatar images are publicly accessible")],
    );
    assert_eq!(avatars["schema"], "storage");
    assert_eq!(avatars["roles"], json!(["public"]));

    assert_eq!(
        d["rls_disabled_in_exposed_schemas"],
        json!(["public.open_notes"])
    );
    assert_eq!(d["rls_enabled_without_policies"], json!(["public.locked"]));
    let w = warnings(&r).join("\n");
    assert!(w.contains("RLS is disabled on 1 table"), "{w}");

    // Named managed schemas are checked too.
    let r = s.call("list_policies", json!({"schemas": ["auth"]})).await;
    let d = ok(&r);
    assert_eq!(d["total"], 0);
    let locked = d["rls_enabled_without_policies"].as_array().unwrap();
    assert!(locked.contains(&json!("auth.users")), "{d}");

    let r = s
        .call(
            "list_policies",
            json!({"schemas": ["public"], "table": "profiles"}),
        )
        .await;
    let d = ok(&r);
    assert_eq!(d["total"], 3);
    assert_eq!(d["rls_disabled_in_exposed_schemas"], json!([]));
}

#[tokio::test(flavor = "multi_thread")]
async fn list_types_shows_enums_composites_and_domains() {
    let mut s = sample_server().await;
    sql(
        &s,
        "ALTER TYPE public.post_status ADD VALUE 'review' BEFORE 'published'; \
         CREATE TYPE public.address AS (street text, zip varchar(10)); \
         CREATE DOMAIN public.positive_int AS integer NOT NULL DEFAULT 1 CONSTRAINT positive CHECK (VALUE > 0);",
    )
    .await;
    let r = s.call("list_types", json!({})).await;
    let d = ok(&r);
    assert_eq!(d["total"], 3, "{d}");
    let status_type = find(d, "types", &[("name", "post_status")]);
    assert_eq!(status_type["kind"], "enum");
    assert_eq!(
        status_type["labels"],
        json!(["draft", "review", "published", "archived"])
    );
    assert_eq!(status_type["comment"], "Publication state of a post.");
    let address = find(d, "types", &[("name", "address")]);
    assert_eq!(address["kind"], "composite");
    assert_eq!(
        address["attributes"],
        json!([{"name": "street", "type": "text"}, {"name": "zip", "type": "character varying(10)"}])
    );
    let domain = find(d, "types", &[("name", "positive_int")]);
    assert_eq!(domain["kind"], "domain");
    assert_eq!(domain["base_type"], "integer");
    assert_eq!(domain["not_null"], true);
    assert_eq!(domain["default"], "1");
    assert_eq!(
        domain["constraints"],
        json!([{"name": "positive", "definition": "CHECK ((VALUE > 0))"}])
    );
    // Table row types are not types of their own here.
    assert!(!has(d, "types", &[("name", "profiles")]));

    let r = s.call("list_types", json!({"kind": "enum"})).await;
    assert_eq!(ok(&r)["total"], 1);
    let r = s
        .call("list_types", json!({"schemas": ["auth"], "kind": "enum"}))
        .await;
    let d = ok(&r);
    assert_eq!(
        find(d, "types", &[("name", "aal_level")])["labels"],
        json!(["aal1", "aal2", "aal3"])
    );
    let r = s.call("list_types", json!({"kind": "table"})).await;
    assert_eq!(error_code(&r), "invalid_arguments", "{r}");
}

#[tokio::test(flavor = "multi_thread")]
async fn list_extensions_separates_installed_from_available() {
    let mut s = Server::start(Some(TestDb::new().await.unwrap()), &[]).await;
    let r = s.call("list_extensions", json!({"limit": 1000})).await;
    let d = ok(&r);
    let installed = d["installed_count"].as_u64().unwrap() as usize;
    assert!(installed >= 1);
    let list = items(d, "extensions");
    assert!(
        list[..installed].iter().all(|e| e["installed"] == true),
        "installed first"
    );
    assert!(list[installed..].iter().all(|e| e["installed"] == false));
    let plpgsql = find(d, "extensions", &[("name", "plpgsql")]);
    assert_eq!(plpgsql["schema"], "pg_catalog");
    assert!(plpgsql["version"].is_string());
    let uuid = find(d, "extensions", &[("name", "uuid-ossp")]);
    assert_eq!(uuid["schema"], "extensions");
    let hstore = find(d, "extensions", &[("name", "hstore")]);
    assert!(hstore["default_version"].is_string(), "{hstore}");
    assert!(
        hstore["comment"].as_str().unwrap().contains("key"),
        "{hstore}"
    );
    assert!(hstore.get("schema").is_none());

    let r = s
        .call("list_extensions", json!({"installed_only": true}))
        .await;
    let d = ok(&r);
    assert_eq!(d["total"], json!(installed));
    assert!(
        items(d, "extensions")
            .iter()
            .all(|e| e["installed"] == true)
    );
    let r = s
        .call("list_extensions", json!({"name_pattern": "hst%"}))
        .await;
    assert_eq!(ok(&r)["total"], 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn list_roles_shows_attributes_and_memberships_but_no_passwords() {
    let mut s = Server::start(Some(TestDb::new().await.unwrap()), &[]).await;
    let r = s.call("list_roles", json!({"limit": 1000})).await;
    let d = ok(&r);
    let anon = find(d, "roles", &[("name", "anon")]);
    assert_eq!(anon["attributes"], json!(["noinherit"]));
    assert!(
        anon["config"]
            .as_array()
            .unwrap()
            .contains(&json!("statement_timeout=3s")),
        "{anon}"
    );
    let service = find(d, "roles", &[("name", "service_role")]);
    assert!(
        service["attributes"]
            .as_array()
            .unwrap()
            .contains(&json!("bypassrls"))
    );
    let authenticator = find(d, "roles", &[("name", "authenticator")]);
    assert!(
        authenticator["attributes"]
            .as_array()
            .unwrap()
            .contains(&json!("login"))
    );
    let member_of = authenticator["member_of"].as_array().unwrap();
    for r in ["anon", "authenticated", "service_role"] {
        assert!(member_of.contains(&json!(r)), "{authenticator}");
    }
    let admin = find(d, "roles", &[("name", "supabase_admin")]);
    for a in [
        "login",
        "createrole",
        "createdb",
        "replication",
        "bypassrls",
    ] {
        assert!(
            admin["attributes"].as_array().unwrap().contains(&json!(a)),
            "{admin}"
        );
    }
    assert!(
        items(d, "roles")
            .iter()
            .all(|r| !r["name"].as_str().unwrap().starts_with("pg_")),
        "predefined roles hidden by default"
    );
    let t = text(&r);
    for leak in ["rolpassword", "SCRAM-SHA-256$", "md5"] {
        assert!(!t.contains(leak), "{leak} in output");
    }
    let r = s
        .call(
            "list_roles",
            json!({"include_system": true, "name_pattern": "pg_read_all_data"}),
        )
        .await;
    assert_eq!(ok(&r)["total"], 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn schema_access_matrix_shows_usage_and_table_access() {
    let mut s = sample_server().await;
    let role = TempRole::create(s.db.as_ref().unwrap(), "smcp_matrix").await;
    sql(
        &s,
        &format!(
            "REVOKE USAGE ON SCHEMA auth FROM anon; \
             GRANT USAGE ON SCHEMA public TO {r}; GRANT SELECT ON public.posts TO {r};",
            r = role.name
        ),
    )
    .await;
    let r = s
        .call("schema_access_matrix", json!({"roles": [role.name]}))
        .await;
    let d = ok(&r);
    assert_eq!(
        d["roles"],
        json!([
            "anon",
            "authenticated",
            "service_role",
            "authenticator",
            "postgres",
            role.name
        ])
    );
    let public = find(d, "schemas", &[("schema", "public")]);
    assert_eq!(public["table_count"], 4, "3 tables and a view: {public}");
    let anon = &public["access"]["anon"];
    assert_eq!(anon["usage"], true);
    assert_eq!(anon["create"], false);
    assert_eq!(anon["tables"], "write");
    let mine = &public["access"][role.name.as_str()];
    assert_eq!(mine["usage"], true);
    assert_eq!(mine["tables"], "read (1 of 4)");
    let auth = find(d, "schemas", &[("schema", "auth")]);
    assert_eq!(auth["access"]["anon"]["usage"], false);
    assert_eq!(auth["access"]["anon"]["tables"], "none");
    assert_eq!(auth["access"]["authenticated"]["usage"], true);
    assert_eq!(auth["access"]["postgres"]["usage"], true);
    assert_eq!(auth["access"]["postgres"]["create"], true);
    assert_eq!(auth["access"][role.name.as_str()]["usage"], false);

    let r = s
        .call("schema_access_matrix", json!({"roles": ["no_such_role_x"]}))
        .await;
    assert_eq!(error_code(&r), "not_found", "{r}");
    assert!(text(&r).contains("no_such_role_x"));
}

#[tokio::test(flavor = "multi_thread")]
async fn check_permissions_suggests_grants_but_never_api_roles_on_auth() {
    let mut s = sample_server().await;
    let role = TempRole::create(s.db.as_ref().unwrap(), "smcp_perm").await;
    let r = s
        .call(
            "check_permissions",
            json!({"role": role.name, "area": "all"}),
        )
        .await;
    let d = ok(&r);
    assert_eq!(d["executed"], false);
    let areas = items(d, "areas");
    assert_eq!(areas.len(), 3);
    assert!(areas.iter().all(|a| a["status"] == "missing"), "{d}");
    let fix = d["fix_sql"].as_str().unwrap();
    let lines: Vec<&str> = fix.lines().collect();
    let to = format!(" TO {};", role.name);
    for expected in [
        "GRANT USAGE ON SCHEMA auth",
        "GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE auth.users",
        "GRANT USAGE ON SCHEMA storage",
        "GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE storage.objects",
        "GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE storage.buckets",
        "GRANT USAGE ON SCHEMA realtime",
    ] {
        assert!(
            lines.contains(&format!("{expected}{to}").as_str()),
            "missing `{expected}` in:\n{fix}"
        );
    }
    for line in &lines {
        assert!(line.starts_with("GRANT ") && line.ends_with(&to), "{line}");
        let lower = line.to_lowercase();
        for api in [" to anon", " to authenticated", " to public"] {
            assert!(!lower.contains(api), "{line}");
        }
    }
    let auth = find(d, "areas", &[("area", "auth")]);
    let notes = auth["notes"].to_string();
    assert!(notes.contains("RLS is enabled on auth.users"), "{notes}");

    // API roles: no grant on auth is ever suggested.
    for api in ["anon", "authenticated"] {
        let r = s
            .call("check_permissions", json!({"role": api, "area": "auth"}))
            .await;
        let d = ok(&r);
        assert_eq!(d["areas"][0]["status"], "refused", "{d}");
        assert_eq!(d["fix_sql"], Value::Null);
        assert!(!text(&r).contains("GRANT"), "{}", text(&r));
    }
    let r = s
        .call("check_permissions", json!({"role": "authenticated"}))
        .await;
    let d = ok(&r);
    let fix = d["fix_sql"].as_str().unwrap_or("");
    assert!(!fix.contains("auth."), "{fix}");
    assert!(!fix.contains("SCHEMA auth"), "{fix}");

    // The connected role (a superuser here) has everything.
    let r = s.call("check_permissions", json!({})).await;
    let d = ok(&r);
    assert_eq!(d["role"], "postgres");
    assert!(items(d, "areas").iter().all(|a| a["status"] == "ok"), "{d}");
    assert_eq!(d["fix_sql"], Value::Null);

    let r = s.call("check_permissions", json!({"role": "PUBLIC"})).await;
    assert_eq!(error_code(&r), "invalid_arguments", "{r}");
    let r = s
        .call("check_permissions", json!({"role": "nobody_here"}))
        .await;
    assert_eq!(error_code(&r), "not_found", "{r}");
    let r = s
        .call("check_permissions", json!({"area": "everything"}))
        .await;
    assert_eq!(error_code(&r), "invalid_arguments", "{r}");
}

/// `schema.name`, or whichever of the two an item has.
fn item_name(i: &Value) -> String {
    match (i["schema"].as_str(), i["name"].as_str()) {
        (Some(schema), Some(name)) => format!("{schema}.{name}"),
        (schema, name) => name.or(schema).unwrap().to_owned(),
    }
}

/// Pages through `tool` with `limit`; checks `total`, `next_offset` and that
/// no item repeats. Returns the item names in order.
async fn page_through(
    s: &mut Server,
    tool: &str,
    key: &str,
    args: Value,
    limit: u64,
) -> Vec<String> {
    let mut out = Vec::new();
    let mut offset = 0u64;
    let mut total = None;
    loop {
        let mut a = args.clone();
        a["offset"] = json!(offset);
        a["limit"] = json!(limit);
        let r = s.call(tool, a).await;
        let d = ok(&r).clone();
        let page = items(&d, key);
        let t = d["total"].as_u64().unwrap();
        assert_eq!(*total.get_or_insert(t), t, "{tool}: total changed");
        assert!(page.len() as u64 <= limit);
        out.extend(page.iter().map(item_name));
        let shown = offset + page.len() as u64;
        match d["next_offset"].as_u64() {
            Some(n) => {
                assert_eq!(n, shown, "{tool}");
                assert!(n < t);
                offset = n;
            }
            None => {
                assert_eq!(shown, t, "{tool}: last page ends at total");
                break;
            }
        }
    }
    let mut unique = out.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), out.len(), "{tool}: repeated items");
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn every_list_pages_with_offset_limit_total_and_next_offset() {
    let mut s = Server::start(Some(TestDb::new().await.unwrap()), &[]).await;
    sql(
        &s,
        "CREATE SCHEMA paging; \
         DO $$ BEGIN FOR i IN 1..100 LOOP \
           EXECUTE format('CREATE TABLE paging.t%s (id int PRIMARY KEY)', lpad(i::text, 3, '0')); \
           EXECUTE format('CREATE VIEW paging.v%s AS SELECT id FROM paging.t%s', lpad(i::text, 3, '0'), lpad(i::text, 3, '0')); \
           EXECUTE format('CREATE FUNCTION paging.f%s() RETURNS trigger LANGUAGE plpgsql AS $f$ BEGIN RETURN NEW; END $f$', lpad(i::text, 3, '0')); \
           EXECUTE format('CREATE TRIGGER tr%s BEFORE INSERT ON paging.t%s FOR EACH ROW EXECUTE FUNCTION paging.f%s()', \
                          lpad(i::text, 3, '0'), lpad(i::text, 3, '0'), lpad(i::text, 3, '0')); \
           EXECUTE format('CREATE POLICY p%s ON paging.t%s USING (true)', lpad(i::text, 3, '0'), lpad(i::text, 3, '0')); \
           EXECUTE format('CREATE TYPE paging.e%s AS ENUM (''a'', ''b'')', lpad(i::text, 3, '0')); \
         END LOOP; END $$;",
    )
    .await;
    let scope = json!({"schemas": ["paging"]});
    for (tool, key) in [
        ("list_tables", "tables"),
        ("list_views", "views"),
        ("list_functions", "functions"),
        ("list_triggers", "triggers"),
        ("list_policies", "policies"),
        ("list_types", "types"),
    ] {
        // First page by hand: exact next_offset sequence.
        let r = s
            .call(tool, json!({"schemas": ["paging"], "limit": 30}))
            .await;
        let d = ok(&r);
        assert_eq!(d["total"], 100, "{tool}");
        assert_eq!(d["next_offset"], 30, "{tool}");
        assert_eq!(items(d, key).len(), 30, "{tool}");
        let all = page_through(&mut s, tool, key, scope.clone(), 30).await;
        assert_eq!(all.len(), 100, "{tool}");
        let mut sorted = all.clone();
        sorted.sort();
        assert_eq!(sorted, all, "{tool}: stable order");
        // Past the end: nothing, but the total is still right.
        let r = s
            .call(
                tool,
                json!({"schemas": ["paging"], "offset": 500, "limit": 10}),
            )
            .await;
        let d = ok(&r);
        assert_eq!(items(d, key).len(), 0, "{tool}");
        assert_eq!(d["total"], 100, "{tool}");
        assert_eq!(d["next_offset"], Value::Null, "{tool}");
    }

    let one_call =
        |d: &Value, key: &str| -> Vec<String> { items(d, key).iter().map(item_name).collect() };
    let r = s.call("list_schemas", json!({})).await;
    let all = one_call(ok(&r), "schemas");
    let paged = page_through(&mut s, "list_schemas", "schemas", json!({}), 2).await;
    assert_eq!(paged, all);
    let r = s.call("list_extensions", json!({})).await;
    let all = one_call(ok(&r), "extensions");
    let paged = page_through(&mut s, "list_extensions", "extensions", json!({}), 7).await;
    assert_eq!(paged, all);
    // Roles are cluster-wide: page through a stable subset.
    let paged = page_through(
        &mut s,
        "list_roles",
        "roles",
        json!({"name_pattern": "supabase%"}),
        4,
    )
    .await;
    assert_eq!(paged.len(), 6, "{paged:?}");
    let r = s.call("schema_access_matrix", json!({})).await;
    let all = one_call(ok(&r), "schemas");
    let paged = page_through(&mut s, "schema_access_matrix", "schemas", json!({}), 3).await;
    assert_eq!(paged, all);
    assert!(paged.contains(&"paging".to_owned()));
}

#[tokio::test(flavor = "multi_thread")]
async fn arguments_are_validated() {
    let mut s = Server::start(Some(TestDb::new().await.unwrap()), &[]).await;
    for tool in [
        "list_views",
        "list_functions",
        "list_triggers",
        "list_policies",
        "list_types",
        "schema_access_matrix",
    ] {
        let r = s.call(tool, json!({"schemas": ["nope"]})).await;
        assert_eq!(error_code(&r), "not_found", "{tool}: {r}");
        let t = text(&r);
        assert!(t.contains("schema `nope` does not exist"), "{tool}: {t}");
        assert!(t.contains("list_schemas"), "{tool}: {t}");
    }
    let r = s
        .call("list_functions", json!({"schemas": ["Public"]}))
        .await;
    assert_eq!(error_code(&r), "not_found");
    assert!(text(&r).contains("did you mean `public`"), "{}", text(&r));
    let r = s.call("list_views", json!({"schemas": []})).await;
    assert_eq!(error_code(&r), "invalid_arguments");

    for tool in TOOLS.iter().filter(|t| **t != "check_permissions") {
        let r = s.call(tool, json!({"limit": 1001})).await;
        assert_eq!(error_code(&r), "invalid_arguments", "{tool}: {r}");
        assert!(text(&r).contains("from 1 to 1000"), "{tool}: {}", text(&r));
        let r = s.call(tool, json!({"limit": 0})).await;
        assert_eq!(error_code(&r), "invalid_arguments", "{tool}");
        let r = s.call(tool, json!({"offset": -1})).await;
        assert_eq!(error_code(&r), "invalid_arguments", "{tool}");
    }
    for tool in TOOLS {
        let r = s.call(tool, json!({"bogus": 1})).await;
        assert_eq!(error_code(&r), "invalid_arguments", "{tool}");
        assert!(text(&r).contains("bogus"), "{tool}: {}", text(&r));
    }
    let r = s.call("list_schemas", json!({"name_pattern": ""})).await;
    assert_eq!(error_code(&r), "invalid_arguments");
}
