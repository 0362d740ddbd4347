//! The `migrate` subcommand end to end: the real binary against a real
//! Supabase-like database and a temporary migrations directory. Every step
//! is checked in the database (tables, `supabase_migrations.schema_migrations`)
//! and on disk, not only by its exit code.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;
use supabase_mcp::pg::testdb::TestDb;

const V1: &str = "20240101000000";
const V2: &str = "20240102000000";

/// The binary, pointed at one database and one migrations directory, with
/// nothing inherited from the environment that could configure it.
struct Migrate {
    url: String,
    dir: tempfile::TempDir,
    data: tempfile::TempDir,
}

impl Migrate {
    fn new(db: &TestDb) -> Migrate {
        Migrate {
            url: db.url.clone(),
            dir: tempfile::tempdir().unwrap(),
            data: tempfile::tempdir().unwrap(),
        }
    }

    fn migrations(&self) -> &Path {
        self.dir.path()
    }

    /// Runs `supabase-mcp migrate <args>` (with `stdin` piped in when
    /// given); returns the exit code and the printed JSON envelope.
    fn run_with(&self, args: &[&str], stdin: Option<&str>) -> (i32, Value) {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_supabase-mcp"));
        cmd.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("RUST_LOG", "warn")
            .args(["--db-url", &self.url, "--data-dir"])
            .arg(self.data.path())
            .arg("--migrations-dir")
            .arg(self.dir.path())
            .arg("migrate")
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            });
        let mut child = cmd.spawn().unwrap();
        if let Some(text) = stdin {
            use std::io::Write;
            let mut pipe = child.stdin.take().unwrap();
            pipe.write_all(text.as_bytes()).unwrap();
        }
        let out = child.wait_with_output().unwrap();
        let json: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "migrate {args:?}: stdout is not JSON ({e}): {}\nstderr: {}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )
        });
        (out.status.code().unwrap_or(-1), json)
    }

    fn run(&self, args: &[&str]) -> (i32, Value) {
        self.run_with(args, None)
    }

    /// Runs and expects success; returns `data`.
    fn ok(&self, args: &[&str]) -> Value {
        let (code, out) = self.run(args);
        assert_eq!(code, 0, "migrate {args:?}: {out:#}");
        assert_eq!(out["status"], "ok", "{out:#}");
        out["data"].clone()
    }
}

/// The history: (version, name, statements), oldest first.
async fn history(db: &TestDb) -> Vec<(String, Option<String>, Vec<String>)> {
    let c = db.client().await.unwrap();
    let exists: bool = c
        .query_one(
            "SELECT to_regclass('supabase_migrations.schema_migrations') IS NOT NULL",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    if !exists {
        return Vec::new();
    }
    c.query(
        "SELECT version, name, coalesce(statements, '{}') FROM supabase_migrations.schema_migrations ORDER BY version",
        &[],
    )
    .await
    .unwrap()
    .iter()
    .map(|r| (r.get(0), r.get(1), r.get(2)))
    .collect()
}

async fn exists(db: &TestDb, rel: &str) -> bool {
    db.client()
        .await
        .unwrap()
        .query_one("SELECT to_regclass($1) IS NOT NULL", &[&rel])
        .await
        .unwrap()
        .get(0)
}

fn versions(h: &[(String, Option<String>, Vec<String>)]) -> Vec<&str> {
    h.iter().map(|(v, _, _)| v.as_str()).collect()
}

fn status_of(list: &Value, version: &str) -> String {
    list["migrations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["version"] == version)
        .map(|m| m["status"].as_str().unwrap().to_owned())
        .unwrap_or_else(|| panic!("{version} not listed: {list:#}"))
}

fn file_of(dir: &Path, version: &str) -> PathBuf {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with(&format!("{version}_"))
        })
        .unwrap_or_else(|| panic!("no file for {version} in {}", dir.display()))
}

#[tokio::test(flavor = "multi_thread")]
async fn migrate_new_list_up_dry_run_and_down() {
    let db = TestDb::new().await.unwrap();
    let m = Migrate::new(&db);

    // new: the file, with its down migration as a trailing block.
    let d = m.ok(&[
        "new",
        "Create Notes",
        "--version",
        V1,
        "--sql",
        "CREATE TABLE public.cli_notes (id bigint PRIMARY KEY, body text);",
        "--down",
        "DROP TABLE public.cli_notes;",
    ]);
    assert_eq!(d["version"], V1);
    assert_eq!(d["name"], "create_notes");
    let path = m.migrations().join(format!("{V1}_create_notes.sql"));
    assert_eq!(Path::new(d["path"].as_str().unwrap()), path);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains("CREATE TABLE public.cli_notes"), "{text}");
    assert!(
        text.contains("migrate:down") && text.contains("DROP TABLE public.cli_notes;"),
        "{text}"
    );
    // The same version again is refused; the file stays as it was.
    let (code, out) = m.run(&["new", "again", "--version", V1]);
    assert_eq!(code, 1, "{out:#}");
    assert_eq!(out["status"], "error");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), text);

    // new from standard input, with the down migration in down/.
    let sql_file = m.data.path().join("down.sql");
    std::fs::write(&sql_file, "DROP TABLE public.cli_tags;\n").unwrap();
    let (code, out) = m.run_with(
        &[
            "new",
            "tags",
            "--version",
            V2,
            "--sql-file",
            "-",
            "--down-file",
            sql_file.to_str().unwrap(),
            "--down-style",
            "file",
        ],
        Some("CREATE TABLE public.cli_tags (id int PRIMARY KEY);\n"),
    );
    assert_eq!(code, 0, "{out:#}");
    let tags = std::fs::read_to_string(file_of(m.migrations(), V2)).unwrap();
    assert!(tags.contains("CREATE TABLE public.cli_tags"), "{tags}");
    assert!(!tags.contains("migrate:down"), "{tags}");
    let down = std::fs::read_to_string(file_of(&m.migrations().join("down"), V2)).unwrap();
    assert!(down.contains("DROP TABLE public.cli_tags"), "{down}");

    // list: both pending, nothing applied yet.
    let list = m.ok(&["list"]);
    assert_eq!(status_of(&list, V1), "pending");
    assert_eq!(status_of(&list, V2), "pending");
    assert_eq!(list["counts"]["pending"], 2, "{list:#}");
    assert!(history(&db).await.is_empty());

    // dry-run by version and by file: what it would add, nothing kept.
    let dry = m.ok(&["dry-run", V1]);
    assert_eq!(dry["ok"], true, "{dry:#}");
    assert!(dry["added"].to_string().contains("cli_notes"), "{dry:#}");
    let dry = m.ok(&["dry-run", path.to_str().unwrap()]);
    assert!(dry["added"].to_string().contains("cli_notes"), "{dry:#}");
    assert!(!exists(&db, "public.cli_notes").await);
    // A failing statement: non-zero exit, with line and column.
    let (code, out) = m.run(&[
        "dry-run",
        "--sql",
        "ALTER TABLE public.no_such_table ADD x int;",
    ]);
    assert_eq!(code, 1, "{out:#}");
    assert_eq!(out["data"]["ok"], false, "{out:#}");
    assert!(out["data"]["failure"].is_object(), "{out:#}");
    let (code, out) = m.run(&["dry-run", "no/such/file.sql"]);
    assert_eq!(code, 1, "{out:#}");
    assert!(
        out["error"]["message"]
            .as_str()
            .unwrap()
            .contains("no/such/file.sql"),
        "{out:#}"
    );

    // up without --yes: refused, shows what it would apply, runs nothing.
    let (code, out) = m.run(&["up", "--to-version", V1]);
    assert_eq!(code, 1, "{out:#}");
    assert_eq!(out["error"]["code"], "confirmation_required", "{out:#}");
    assert!(
        out["error"]["message"].as_str().unwrap().contains("--yes"),
        "{out:#}"
    );
    assert_eq!(out["data"]["would_apply"][0]["version"], V1, "{out:#}");
    assert_eq!(out["data"]["would_apply"].as_array().unwrap().len(), 1);
    assert!(!exists(&db, "public.cli_notes").await);
    assert!(history(&db).await.is_empty());

    // up --to-version: only the first; then the rest.
    let d = m.ok(&["up", "--to-version", V1, "--yes"]);
    assert_eq!(d["applied"].as_array().unwrap().len(), 1, "{d:#}");
    assert!(exists(&db, "public.cli_notes").await);
    assert!(!exists(&db, "public.cli_tags").await);
    let h = history(&db).await;
    assert_eq!(versions(&h), [V1]);
    assert_eq!(h[0].1.as_deref(), Some("create_notes"));
    assert!(h[0].2.iter().any(|s| s.contains("cli_notes")), "{h:?}");
    let d = m.ok(&["up", "--batch", "--yes"]);
    assert_eq!(d["applied"].as_array().unwrap().len(), 1, "{d:#}");
    assert!(exists(&db, "public.cli_tags").await);
    assert_eq!(versions(&history(&db).await), [V1, V2]);
    let list = m.ok(&["list"]);
    assert_eq!(status_of(&list, V1), "applied");
    assert_eq!(status_of(&list, V2), "applied");
    // Nothing pending: `up` has nothing to confirm.
    let d = m.ok(&["up"]);
    assert_eq!(d["applied"].as_array().unwrap().len(), 0, "{d:#}");

    // down without --yes: refused, names what it would revert, changes nothing.
    let (code, out) = m.run(&["down", "--last", "2"]);
    assert_eq!(code, 1, "{out:#}");
    assert_eq!(out["error"]["code"], "confirmation_required", "{out:#}");
    let would: Vec<&str> = out["data"]["would_revert"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["version"].as_str().unwrap())
        .collect();
    assert_eq!(would, [V2, V1], "{out:#}");
    assert!(exists(&db, "public.cli_notes").await);
    assert!(exists(&db, "public.cli_tags").await);
    assert_eq!(versions(&history(&db).await), [V1, V2]);

    // down --yes: the newest one (its down migration in down/).
    let d = m.ok(&["down", "--yes"]);
    assert_eq!(d["reverted"].as_array().unwrap().len(), 1, "{d:#}");
    assert!(!exists(&db, "public.cli_tags").await);
    assert!(exists(&db, "public.cli_notes").await);
    assert_eq!(versions(&history(&db).await), [V1]);
    // --to-version: everything after it (nothing); then --last 1.
    let (code, out) = m.run(&["down", "--to-version", V1]);
    assert_eq!(code, 0, "{out:#}");
    assert_eq!(out["data"]["reverted"].as_array().unwrap().len(), 0);
    m.ok(&["down", "--last", "1", "--yes"]);
    assert!(!exists(&db, "public.cli_notes").await);
    assert!(history(&db).await.is_empty());
    let list = m.ok(&["list"]);
    assert_eq!(status_of(&list, V1), "pending");

    drop(m);
    db.drop_database().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn migrate_validate_repair_and_a_missing_down_migration() {
    let db = TestDb::new().await.unwrap();
    let m = Migrate::new(&db);

    // A clean directory validates.
    m.ok(&[
        "new",
        "audit",
        "--version",
        V1,
        "--sql",
        "CREATE TABLE public.cli_audit (id int);",
    ]);
    let d = m.ok(&["validate"]);
    assert_eq!(d["valid"], true, "{d:#}");

    // A broken pending file: non-zero exit, the version and the position.
    std::fs::write(
        m.migrations().join(format!("{V2}_broken.sql")),
        "CREATE TABLE public.cli_broken (id int;\n",
    )
    .unwrap();
    let (code, out) = m.run(&["validate"]);
    assert_eq!(code, 1, "{out:#}");
    assert_eq!(out["status"], "ok", "{out:#}");
    assert_eq!(out["data"]["valid"], false, "{out:#}");
    let problems = out["data"]["problems"].as_array().unwrap();
    assert!(
        problems.iter().any(|p| p["version"] == V2
            && p["severity"] == "error"
            && p["problem"].as_str().unwrap().contains("line 1")),
        "{out:#}"
    );
    // `up` refuses to run anything while a file does not parse.
    let (code, out) = m.run(&["up", "--yes"]);
    assert_eq!(code, 1, "{out:#}");
    assert!(!exists(&db, "public.cli_audit").await);
    assert!(history(&db).await.is_empty());
    std::fs::remove_file(m.migrations().join(format!("{V2}_broken.sql"))).unwrap();

    // repair without --yes: refused, the history unchanged.
    let (code, out) = m.run(&["repair", V1, "--status", "applied"]);
    assert_eq!(code, 1, "{out:#}");
    assert_eq!(out["error"]["code"], "confirmation_required", "{out:#}");
    assert!(history(&db).await.is_empty());
    // With --yes: recorded from the file, nothing run.
    let d = m.ok(&["repair", V1, "--status", "applied", "--yes"]);
    assert_eq!(d["changed"][0], V1, "{d:#}");
    let h = history(&db).await;
    assert_eq!(versions(&h), [V1]);
    assert_eq!(h[0].1.as_deref(), Some("audit"));
    assert!(!exists(&db, "public.cli_audit").await);
    assert_eq!(status_of(&m.ok(&["list"]), V1), "applied");

    // down for a migration without a down migration: nothing rolled back,
    // an inverse proposed, non-zero exit.
    m.ok(&["up", "--yes"]);
    m.ok(&["repair", V1, "--status", "reverted", "--yes"]);
    m.ok(&["up", "--yes"]);
    assert!(exists(&db, "public.cli_audit").await);
    let (code, out) = m.run(&["down", "--yes"]);
    assert_eq!(code, 1, "{out:#}");
    // Ok with a proposed inverse (a warning), or an error when none could
    // be made: either way it names the version.
    assert!(
        out.to_string()
            .contains(&format!("no down migration for {V1}")),
        "{out:#}"
    );
    assert!(exists(&db, "public.cli_audit").await);
    assert_eq!(versions(&history(&db).await), [V1]);

    // repair reverted: the row goes, the table stays.
    let d = m.ok(&["repair", V1, "--status", "reverted", "--yes"]);
    assert_eq!(d["changed"][0], V1, "{d:#}");
    assert!(history(&db).await.is_empty());
    assert!(exists(&db, "public.cli_audit").await);
    // An unknown version is reported, nothing changed.
    let (code, out) = m.run(&["repair", "19990101000000", "--status", "applied", "--yes"]);
    assert_eq!(code, 1, "{out:#}");
    assert_eq!(out["error"]["code"], "not_found", "{out:#}");
    assert!(history(&db).await.is_empty());

    drop(m);
    db.drop_database().await.unwrap();
}

#[test]
fn migrate_without_a_database_says_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_supabase-mcp"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .arg("--data-dir")
        .arg(dir.path())
        .arg("--migrations-dir")
        .arg(dir.path().join("migrations"))
        .args(["migrate", "list"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["status"], "error", "{v:#}");
    assert!(v["error"]["suggestion"].is_string(), "{v:#}");
    // Offline actions still work: `new` only writes a file.
    let out = Command::new(env!("CARGO_BIN_EXE_supabase-mcp"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .arg("--data-dir")
        .arg(dir.path())
        .arg("--migrations-dir")
        .arg(dir.path().join("migrations"))
        .args(["migrate", "new", "offline", "--sql", "SELECT 1;"])
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(0), "{v:#}");
    assert!(Path::new(v["data"]["path"].as_str().unwrap()).is_file());
}

#[tokio::test(flavor = "multi_thread")]
async fn migrate_diff_shows_and_writes_what_the_files_lack() {
    let db = TestDb::new().await.unwrap();
    let m = Migrate::new(&db);
    std::fs::write(
        m.migrations().join(format!("{V1}_items.sql")),
        "CREATE TABLE public.items (id bigint PRIMARY KEY);\n",
    )
    .unwrap();
    let c = db.client().await.unwrap();
    c.batch_execute("CREATE TABLE public.items (id bigint PRIMARY KEY); ALTER TABLE public.items ADD COLUMN label text;")
        .await
        .unwrap();

    // Default sides: the files (on a scratch database) against the database.
    let d = m.ok(&["diff"]);
    let script = d["script"].as_str().unwrap();
    assert!(
        script.contains("ALTER TABLE public.items ADD COLUMN label text"),
        "{d:#}"
    );
    assert!(!script.contains("CREATE TABLE"), "{d:#}");

    // --write makes it a migration; then nothing is left to diff.
    let w = m.ok(&["diff", "--write", "add label", "--version", V2]);
    assert_eq!(w["written"], true, "{w:#}");
    let file = m.migrations().join(format!("{V2}_add_label.sql"));
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.contains("ADD COLUMN label text"), "{text}");
    let d = m.ok(&["diff"]);
    assert_eq!(d["identical"], true, "{d:#}");
    drop(c);
    db.drop_database().await.unwrap();
}
