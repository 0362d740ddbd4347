//! The migration tools end to end through the MCP server, on a real
//! Supabase-like database and a real migrations directory: create, list,
//! validate, apply (inline and pending files, each or batch), failures that
//! leave the history untouched, statements that cannot run in a
//! transaction, dependencies, the lock between two appliers, dry runs,
//! rollback and repair.

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

fn err(r: &Value) -> Value {
    assert!(is_error(r), "{r}");
    r["structuredContent"]["error"].clone()
}

async fn confirm(s: &mut Server, tool: &str, mut args: Value) -> Value {
    let r = s.call(tool, args.clone()).await;
    assert_eq!(status(&r), "confirmation_required", "{r}");
    args["confirmation_token"] = data(&r)["confirmation_token"].clone();
    s.call(tool, args).await
}

async fn connect(url: &str) -> tokio_postgres::Client {
    let (c, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    c
}

async fn history(url: &str) -> Vec<(String, Option<String>, Vec<String>)> {
    connect(url)
        .await
        .query(
            "SELECT version, name, coalesce(statements, '{}') FROM supabase_migrations.schema_migrations ORDER BY version",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect()
}

async fn exists(url: &str, rel: &str) -> bool {
    connect(url)
        .await
        .query_one("SELECT to_regclass($1) IS NOT NULL", &[&rel])
        .await
        .unwrap()
        .get(0)
}

fn status_of(list: &Value, version: &str) -> String {
    list["migrations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["version"] == version)
        .unwrap_or_else(|| panic!("{version} not in {list}"))["status"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn files_and_history_from_create_to_rollback() {
    let db = TestDb::new().await.unwrap();
    let url = db.url.clone();
    let dir = tempfile::tempdir().unwrap();
    let mdir = dir.path().join("migrations");
    let mut s = server(db, &mdir).await;
    let before = history(&url).await;

    // Create two files: one with a down block, one without.
    let c1 = ok(&s
        .call(
            "create_migration",
            json!({"name": "Add Notes", "version": "20300101000000",
                   "sql": "CREATE TABLE public.notes (id bigint PRIMARY KEY, body text);\nINSERT INTO public.notes VALUES (1, 'a;b');",
                   "down": "DROP TABLE public.notes;"}),
        )
        .await);
    assert_eq!(c1["name"], "add_notes");
    let path = std::path::PathBuf::from(c1["path"].as_str().unwrap());
    assert_eq!(
        path.file_name().unwrap().to_string_lossy(),
        "20300101000000_add_notes.sql"
    );
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains("/* migrate:down"), "{text}");
    ok(&s
        .call(
            "create_migration",
            json!({"name": "notes_index", "version": "20300102000000",
                   "sql": "-- requires: 20300101000000\nCREATE INDEX notes_body ON public.notes (body);"}),
        )
        .await);
    // The same version twice is refused.
    let e = err(&s
        .call(
            "create_migration",
            json!({"name": "again", "version": "20300101000000"}),
        )
        .await);
    assert!(
        e["message"].as_str().unwrap().contains("20300101000000"),
        "{e}"
    );

    let list = ok(&s.call("list_migrations", json!({})).await);
    assert_eq!(status_of(&list, "20300101000000"), "pending");
    assert_eq!(status_of(&list, "20300102000000"), "pending");
    for (v, _, _) in &before {
        assert_eq!(status_of(&list, v), "missing_locally");
    }
    let v = ok(&s.call("validate_migrations", json!({})).await);
    assert_eq!(v["valid"], true, "{v}");

    // Apply the pending files (needs confirmation: their SQL is not known
    // before the call).
    let applied = ok(&confirm(&mut s, "apply_pending_migrations", json!({})).await);
    let steps = applied["applied"].as_array().unwrap();
    assert_eq!(steps.len(), 2, "{applied}");
    assert!(steps.iter().all(|s| s["transactional"] == true));
    assert!(exists(&url, "public.notes_body").await);
    let h = history(&url).await;
    let row = h.iter().find(|(v, _, _)| v == "20300101000000").unwrap();
    assert_eq!(row.1.as_deref(), Some("add_notes"));
    assert_eq!(row.2.len(), 2, "{row:?}");
    assert!(row.2[1].contains("'a;b'"), "{row:?}");
    let list = ok(&s.call("list_migrations", json!({})).await);
    assert_eq!(status_of(&list, "20300101000000"), "applied");
    // Nothing pending any more.
    let again = ok(&confirm(&mut s, "apply_pending_migrations", json!({})).await);
    assert_eq!(again["applied"], json!([]));

    // A file changed after it was applied: modified, and a warning.
    std::fs::write(&path, text.replace("'a;b'", "'changed'")).unwrap();
    let list = ok(&s.call("list_migrations", json!({})).await);
    assert_eq!(status_of(&list, "20300101000000"), "modified");
    let v = ok(&s.call("validate_migrations", json!({})).await);
    assert!(v["problems"].to_string().contains("differs"), "{v}");
    std::fs::write(&path, &text).unwrap();
    let list = ok(&s.call("list_migrations", json!({})).await);
    assert_eq!(
        status_of(&list, "20300101000000"),
        "applied",
        "whitespace-insensitive checksum"
    );

    // Roll back: the newest has no down migration, so nothing happens; the
    // differ's inverse (from the local files on a scratch database) is
    // offered instead, not run.
    let r = ok(&confirm(&mut s, "rollback_migration", json!({})).await);
    assert_eq!(r["reverted"], json!([]), "{r}");
    assert_eq!(r["no_down_migration"], json!(["20300102000000"]), "{r}");
    let proposal = r["proposed_inverse"].as_str().unwrap();
    assert!(
        proposal.contains("DROP INDEX public.notes_body"),
        "{proposal}"
    );
    assert!(!proposal.contains("DROP TABLE"), "{proposal}");
    assert!(exists(&url, "public.notes_body").await);
    // Repair: mark the index migration reverted (runs nothing), then roll
    // back the table with its down migration.
    let r = ok(&confirm(
        &mut s,
        "repair_migration_history",
        json!({"versions": ["20300102000000"], "status": "reverted"}),
    )
    .await);
    assert_eq!(r["changed"], json!(["20300102000000"]));
    assert!(
        exists(&url, "public.notes_body").await,
        "repair runs no SQL"
    );
    let r = ok(&confirm(&mut s, "rollback_migration", json!({"last": 1})).await);
    assert_eq!(r["reverted"][0]["version"], "20300101000000", "{r}");
    assert!(!exists(&url, "public.notes").await);
    assert_eq!(history(&url).await, before);
    // Repair back to applied records the file's statements.
    ok(&confirm(
        &mut s,
        "repair_migration_history",
        json!({"versions": ["20300101000000"], "status": "applied"}),
    )
    .await);
    let h = history(&url).await;
    assert_eq!(
        h.iter()
            .find(|(v, _, _)| v == "20300101000000")
            .unwrap()
            .2
            .len(),
        2
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn inline_migrations_failures_and_statements_outside_transactions() {
    let db = TestDb::new().await.unwrap();
    let url = db.url.clone();
    let dir = tempfile::tempdir().unwrap();
    let mdir = dir.path().join("m");
    let mut s = server(db, &mdir).await;
    let before = history(&url).await;

    // Inline, with a version and the file saved.
    let r = ok(&s
        .call(
            "apply_migration",
            json!({"name": "tags", "version": "20310101000000", "save_file": true,
                   "query": "CREATE TABLE public.tags (id int PRIMARY KEY, label text);"}),
        )
        .await);
    assert!(
        std::path::Path::new(r["file"].as_str().unwrap()).exists(),
        "{r}"
    );
    let list = ok(&s.call("list_migrations", json!({})).await);
    assert_eq!(status_of(&list, "20310101000000"), "applied");
    // The same version again is refused before anything runs.
    let e = err(&s
        .call(
            "apply_migration",
            json!({"name": "tags", "version": "20310101000000", "query": "SELECT 1"}),
        )
        .await);
    assert!(
        e["message"].as_str().unwrap().contains("already applied"),
        "{e}"
    );

    // A failing statement: rolled back, not recorded, line and column given.
    let e = err(&s
        .call(
            "apply_migration",
            json!({"name": "broken", "version": "20310102000000",
                   "query": "CREATE TABLE public.t_ok (id int);\nINSERT INTO public.t_ok VALUES (1);\nINSERT INTO public.t_ok VALUES ('x');"}),
        )
        .await);
    let reason = e["reason"].as_str().unwrap();
    assert!(reason.contains("statement 3"), "{e}");
    assert!(reason.contains("line 3"), "{e}");
    assert!(reason.contains("rolled back"), "{e}");
    assert!(!exists(&url, "public.t_ok").await);
    assert!(
        !history(&url)
            .await
            .iter()
            .any(|(v, _, _)| v == "20310102000000")
    );

    // A syntax error: nothing runs.
    let e = err(&s
        .call(
            "apply_migration",
            json!({"name": "typo", "query": "CREATE TABLE public.x (id int);\nSELEC 1;"}),
        )
        .await);
    assert!(e["message"].as_str().unwrap().contains("line 2"), "{e}");
    assert!(!exists(&url, "public.x").await);

    // CREATE INDEX CONCURRENTLY: applied outside a transaction, and said so.
    let r = ok(&s
        .call(
            "apply_migration",
            json!({"name": "tags_label", "version": "20310103000000",
                   "query": "CREATE INDEX CONCURRENTLY tags_label ON public.tags (label);"}),
        )
        .await);
    assert_eq!(r["applied"][0]["transactional"], false, "{r}");
    assert!(exists(&url, "public.tags_label").await);

    // Pending files in one transaction: the second fails, so neither stays.
    std::fs::create_dir_all(&mdir).unwrap();
    std::fs::write(
        mdir.join("20310104000000_a.sql"),
        "CREATE TABLE public.batch_a (id int);\n",
    )
    .unwrap();
    std::fs::write(
        mdir.join("20310105000000_b.sql"),
        "CREATE TABLE public.batch_b (id int);\nSELECT 1/0;\n",
    )
    .unwrap();
    let e = err(&confirm(&mut s, "apply_pending_migrations", json!({"mode": "batch"})).await);
    assert!(
        e["message"].as_str().unwrap().contains("20310105000000"),
        "{e}"
    );
    assert!(!exists(&url, "public.batch_a").await);
    // Each in its own transaction: the first stays.
    let e = err(&confirm(&mut s, "apply_pending_migrations", json!({})).await);
    assert!(
        e["reason"].as_str().unwrap().contains("20310104000000"),
        "{e}"
    );
    assert!(exists(&url, "public.batch_a").await);
    assert!(!exists(&url, "public.batch_b").await);
    std::fs::remove_file(mdir.join("20310105000000_b.sql")).unwrap();

    // A missing dependency stops the run before anything runs.
    std::fs::write(
        mdir.join("20310106000000_c.sql"),
        "-- requires: 20990101000000\nCREATE TABLE public.needs (id int);\n",
    )
    .unwrap();
    let e = err(&confirm(&mut s, "apply_pending_migrations", json!({})).await);
    assert!(
        e["message"].as_str().unwrap().contains("20990101000000"),
        "{e}"
    );
    assert!(!exists(&url, "public.needs").await);
    let v = ok(&s.call("validate_migrations", json!({})).await);
    assert_eq!(v["valid"], false, "{v}");
    std::fs::remove_file(mdir.join("20310106000000_c.sql")).unwrap();

    // Safety rails: forbidden SQL is refused, destructive SQL needs
    // confirmation.
    let e = err(&s
        .call(
            "apply_migration",
            json!({"name": "evil", "query": "COPY public.tags FROM PROGRAM 'id'"}),
        )
        .await);
    assert_eq!(e["code"], "permission_denied", "{e}");
    let r = s
        .call(
            "apply_migration",
            json!({"name": "drop", "query": "DROP TABLE public.batch_a"}),
        )
        .await;
    assert_eq!(status(&r), "confirmation_required", "{r}");
    assert!(exists(&url, "public.batch_a").await);

    // The history holds exactly what was applied.
    let versions: Vec<String> = history(&url)
        .await
        .into_iter()
        .map(|(v, _, _)| v)
        .filter(|v| !before.iter().any(|(b, _, _)| b == v))
        .collect();
    assert_eq!(
        versions,
        ["20310101000000", "20310103000000", "20310104000000"]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn dry_runs_keep_nothing_and_a_held_lock_makes_an_applier_wait() {
    let db = TestDb::new().await.unwrap();
    let url = db.url.clone();
    let dir = tempfile::tempdir().unwrap();
    let mut s = server(db, dir.path()).await;
    let c = connect(&url).await;
    c.batch_execute(
        "CREATE TABLE public.big (id int, v text);
         INSERT INTO public.big SELECT g, g::text FROM generate_series(1, 5000) g;
         ANALYZE public.big;",
    )
    .await
    .unwrap();

    let r = ok(&s
        .call(
            "dry_run_migration",
            json!({"query": "CREATE TABLE public.fresh (id int);\nCREATE INDEX big_v ON public.big (v);\nALTER TABLE public.big ADD COLUMN at timestamptz DEFAULT now();"}),
        )
        .await);
    assert_eq!(r["ok"], true, "{r}");
    let added = r["added"].to_string();
    assert!(added.contains("public.fresh"), "{r}");
    assert!(added.contains("big_v"), "{r}");
    assert!(r["changed"].to_string().contains("public.big"), "{r}");
    // The schema diff of before and after, as SQL.
    let diff = r["schema_diff"].as_str().unwrap();
    assert!(diff.contains("CREATE TABLE public.fresh ("), "{diff}");
    assert!(
        diff.contains("CREATE INDEX big_v ON public.big USING btree (v)"),
        "{diff}"
    );
    assert!(
        diff.contains(
            "ALTER TABLE public.big ADD COLUMN at timestamp with time zone DEFAULT now()"
        ),
        "{diff}"
    );
    let warnings = r["lock_warnings"].as_array().unwrap();
    assert_eq!(warnings.len(), 2, "{r}");
    assert_eq!(warnings[0]["statement"], 2);
    assert_eq!(warnings[0]["table_rows"], 5000);
    assert!(
        warnings[1]["warning"]
            .as_str()
            .unwrap()
            .contains("volatile default"),
        "{r}"
    );
    assert!(
        !exists(&url, "public.fresh").await,
        "a dry run keeps nothing"
    );
    assert!(!exists(&url, "public.big_v").await);
    // A failing dry run reports where.
    let r = ok(&s
        .call(
            "dry_run_migration",
            json!({"query": "SELECT 1;\nSELECT * FROM public.nope;"}),
        )
        .await);
    assert_eq!(r["ok"], false, "{r}");
    assert_eq!(r["failure"]["statement"], 2, "{r}");
    assert_eq!(r["failure"]["position"]["line"], 2, "{r}");

    // Another session holds the migration lock: the apply waits, and
    // nothing is applied until the lock is released.
    let holder = connect(&url).await;
    holder
        .query_one(
            "SELECT pg_advisory_lock($1)",
            &[&supabase_mcp::migrations::history::LOCK_KEY],
        )
        .await
        .unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel();
    let waiter = tokio::spawn(async move {
        let r = s
            .call(
                "apply_migration",
                json!({"name": "after_lock", "version": "20320101000000",
                       "query": "CREATE TABLE public.after_lock (id int);"}),
            )
            .await;
        let _ = tx.send(());
        (s, r)
    });
    tokio::time::sleep(std::time::Duration::from_millis(700)).await;
    assert!(
        !exists(&url, "public.after_lock").await,
        "applied while the lock was held"
    );
    holder
        .query_one(
            "SELECT pg_advisory_unlock($1)",
            &[&supabase_mcp::migrations::history::LOCK_KEY],
        )
        .await
        .unwrap();
    rx.await.unwrap();
    let (_s, r) = waiter.await.unwrap();
    ok(&r);
    assert!(exists(&url, "public.after_lock").await);
}
