//! The schema diff tools end to end through the MCP server: `diff_schemas`
//! between two real databases and between a database and the migrations
//! directory (applied to a scratch database that is always dropped), and
//! `generate_migration_from_diff` writing a migration whose up and down
//! parts really turn one schema into the other.

mod common;

use common::*;
use serde_json::{Value, json};
use supabase_mcp::pg::testdb::TestDb;

async fn server(db: TestDb, dir: &std::path::Path) -> Server {
    let dir = dir.display().to_string();
    Server::start_with_env(
        Some(db),
        &[
            "--features",
            "database,migrations",
            "--migrations-dir",
            &dir,
        ],
        &[],
    )
    .await
}

fn ok(r: &Value) -> Value {
    assert_eq!(status(r), "ok", "{r}");
    data(r).clone()
}

async fn connect(url: &str) -> tokio_postgres::Client {
    let (c, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    c
}

async fn scratch_databases(url: &str) -> i64 {
    connect(url)
        .await
        .query_one(
            "SELECT count(*) FROM pg_database WHERE datname LIKE 'smcp\\_scratch\\_%'",
            &[],
        )
        .await
        .unwrap()
        .get(0)
}

#[tokio::test(flavor = "multi_thread")]
async fn two_databases_compare_and_the_plan_makes_them_equal() {
    let a = TestDb::new().await.unwrap();
    let b = TestDb::new().await.unwrap();
    let (a_url, b_url) = (a.url.clone(), b.url.clone());
    let dir = tempfile::tempdir().unwrap();
    let mut s = server(a, &dir.path().join("migrations")).await;
    let base = "CREATE TABLE public.items (id bigint PRIMARY KEY, name text NOT NULL, old_col int)";
    connect(&a_url).await.batch_execute(base).await.unwrap();
    connect(&b_url)
        .await
        .batch_execute(&format!(
            "{base}; ALTER TABLE public.items DROP COLUMN old_col;
             ALTER TABLE public.items ADD COLUMN price numeric(10,2) DEFAULT 0 CHECK (price >= 0);
             CREATE VIEW public.cheap AS SELECT id, name FROM public.items WHERE price < 10;
             ALTER TABLE public.items ENABLE ROW LEVEL SECURITY;
             CREATE POLICY read_all ON public.items FOR SELECT TO anon USING (true);"
        ))
        .await
        .unwrap();

    // Neither side named: refused.
    let r = s.call("diff_schemas", json!({})).await;
    assert!(is_error(&r), "{r}");
    assert_eq!(error_code(&r), "invalid_arguments", "{r}");

    let d = ok(&s.call("diff_schemas", json!({"target": b_url})).await);
    assert_eq!(d["identical"], false);
    let script = d["script"].as_str().unwrap();
    for needle in [
        "ALTER TABLE public.items DROP COLUMN old_col",
        "ALTER TABLE public.items ADD COLUMN price numeric(10,2) DEFAULT 0",
        "CREATE VIEW public.cheap AS",
        "ALTER TABLE public.items ENABLE ROW LEVEL SECURITY",
        "CREATE POLICY read_all ON public.items AS PERMISSIVE FOR SELECT TO anon USING (true)",
    ] {
        assert!(script.contains(needle), "missing {needle:?} in\n{script}");
    }
    // Dropping a column is the one destructive step, and it is marked.
    assert_eq!(d["destructive"].as_array().unwrap().len(), 1, "{d}");
    assert_eq!(d["destructive"][0]["object"], "public.items.old_col", "{d}");
    assert!(script.contains("-- destructive: drops column public.items.old_col"));
    // Nothing ran on either side.
    let cols: i64 = connect(&a_url)
        .await
        .query_one(
            "SELECT count(*) FROM information_schema.columns WHERE table_name = 'items' AND column_name = 'old_col'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(cols, 1);

    // Applied, the script makes the two equal.
    connect(&a_url).await.batch_execute(script).await.unwrap();
    let d = ok(&s.call("diff_schemas", json!({"target": b_url})).await);
    assert_eq!(d["identical"], true, "{d}");
    assert_eq!(d["script"], "-- no differences\n");

    // A name that is neither an instance nor a URL.
    let r = s.call("diff_schemas", json!({"target": "nowhere"})).await;
    assert_eq!(error_code(&r), "invalid_arguments", "{r}");
    drop(s);
    b.drop_database().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn the_migrations_directory_is_a_side_and_a_generated_migration_round_trips() {
    let db = TestDb::new().await.unwrap();
    let url = db.url.clone();
    let admin = db.admin_url().to_owned();
    let dir = tempfile::tempdir().unwrap();
    let mdir = dir.path().join("migrations");
    std::fs::create_dir_all(&mdir).unwrap();
    // The local history: one table that references auth.users (the scratch
    // database gets the Supabase schemas first, so this applies there).
    std::fs::write(
        mdir.join("20300101000000_notes.sql"),
        "CREATE TABLE public.notes (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, owner uuid REFERENCES auth.users (id), body text);\n",
    )
    .unwrap();
    let mut s = server(db, &mdir).await;
    let scratch_before = scratch_databases(&admin).await;

    // The database has the migration applied, plus changes made elsewhere.
    let c = connect(&url).await;
    c.batch_execute(
        "CREATE TABLE public.notes (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, owner uuid REFERENCES auth.users (id), body text);
         ALTER TABLE public.notes ADD COLUMN tag text;
         CREATE INDEX notes_tag ON public.notes (tag);
         COMMENT ON TABLE public.notes IS 'user notes';",
    )
    .await
    .unwrap();

    let d = ok(&s
        .call("diff_schemas", json!({"source": "migrations"}))
        .await);
    let script = d["script"].as_str().unwrap();
    assert!(
        script.contains("ALTER TABLE public.notes ADD COLUMN tag text"),
        "{script}"
    );
    assert!(
        script.contains("CREATE INDEX notes_tag ON public.notes USING btree (tag)"),
        "{script}"
    );
    assert!(
        script.contains("COMMENT ON TABLE public.notes IS 'user notes'"),
        "{script}"
    );
    assert!(!script.contains("CREATE TABLE"), "{script}");
    assert_eq!(
        scratch_databases(&admin).await,
        scratch_before,
        "scratch database left behind"
    );

    // Written as a migration: the up part is the diff, the down part its inverse.
    let g = ok(&s
        .call(
            "generate_migration_from_diff",
            json!({"name": "dashboard changes", "version": "20300102000000"}),
        )
        .await);
    assert_eq!(g["written"], true, "{g}");
    let path = g["path"].as_str().unwrap();
    assert!(
        path.ends_with("20300102000000_dashboard_changes.sql"),
        "{path}"
    );
    let text = std::fs::read_to_string(path).unwrap();
    assert!(text.contains("ADD COLUMN tag text"), "{text}");
    assert!(
        text.contains("DROP COLUMN tag"),
        "the down migration: {text}"
    );

    // Now the directory describes the database: no differences.
    let d = ok(&s
        .call("diff_schemas", json!({"source": "migrations"}))
        .await);
    assert_eq!(d["identical"], true, "{d}");
    let g = ok(&s
        .call("generate_migration_from_diff", json!({"name": "again"}))
        .await);
    assert_eq!(g["written"], false, "{g}");

    // Its down part, run on the database, undoes the changes.
    let down = text
        .split("/* migrate:down")
        .nth(1)
        .and_then(|d| d.rsplit_once("*/"))
        .map(|(d, _)| d.to_owned())
        .unwrap_or_else(|| panic!("no down block in {text}"));
    c.batch_execute(&down).await.unwrap();
    let d = ok(&s
        .call(
            "diff_schemas",
            json!({"source": "migrations", "target": url}),
        )
        .await);
    assert!(
        d["script"].as_str().unwrap().contains("DROP COLUMN tag"),
        "after the down part, the database is one migration behind the files: {d}"
    );

    // A migration that fails on a fresh database: a clear error naming it,
    // and the scratch database is still dropped.
    std::fs::write(
        mdir.join("20300103000000_broken.sql"),
        "ALTER TABLE public.nope ADD COLUMN x int;\n",
    )
    .unwrap();
    let r = s
        .call("diff_schemas", json!({"source": "migrations"}))
        .await;
    assert!(is_error(&r), "{r}");
    let message = r["structuredContent"]["error"]["message"].as_str().unwrap();
    assert!(message.contains("20300103000000_broken"), "{r}");
    assert_eq!(
        scratch_databases(&admin).await,
        scratch_before,
        "scratch database left behind"
    );

    // Both sides the directory: refused.
    let r = s
        .call(
            "diff_schemas",
            json!({"source": "migrations", "target": "migrations"}),
        )
        .await;
    assert_eq!(error_code(&r), "invalid_arguments", "{r}");
}

#[tokio::test]
async fn reading_inside_a_transaction_sees_its_changes_and_restores_the_settings() {
    use supabase_mcp::schema::{Scope, introspect};
    let db = TestDb::new().await.unwrap();
    let c = db.client().await.unwrap();
    c.batch_execute("BEGIN; SET LOCAL search_path = public, extensions; SET LOCAL TimeZone = 'Asia/Tokyo'; CREATE TABLE public.pending (id int)")
        .await
        .unwrap();
    let cat = introspect::load_in_transaction(&c, &Scope::user())
        .await
        .unwrap();
    assert!(
        cat.tables.contains_key("public.pending"),
        "uncommitted table seen"
    );
    let row = c
        .query_one(
            "SELECT current_setting('search_path'), current_setting('TimeZone')",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "public, extensions");
    assert_eq!(row.get::<_, String>(1), "Asia/Tokyo");
    c.batch_execute("ROLLBACK").await.unwrap();
    drop(c);
    db.drop_database().await.unwrap();
}
