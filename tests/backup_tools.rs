//! The `backups` tools end to end through the MCP server, on a real
//! Supabase-like database: backup, list, get, verify, restore into a new
//! database (row counts compared), restore over the database (confirmation),
//! retention and delete; and what a wrong key or a damaged file does.

mod api_common;
mod backup_common;
mod common;

use backup_common::TinyFs;
use common::*;
use serde_json::{Value, json};
use supabase_mcp::pg::testdb::TestDb;

const PASS: &str = "a long and secret backup passphrase";

async fn server(db: TestDb, dir: &std::path::Path, passphrase: Option<&str>) -> Server {
    let dir = dir.display().to_string();
    let mut env: Vec<(&str, &str)> = Vec::new();
    if let Some(p) = passphrase {
        env.push(("SUPABASE_MCP_BACKUP_PASSPHRASE", p));
    }
    Server::start_with_env(
        Some(db),
        &["--features", "database,backups", "--backup-dir", &dir],
        &env,
    )
    .await
}

fn ok(r: &Value) -> Value {
    assert_eq!(status(r), "ok", "{r}");
    data(r).clone()
}

async fn confirm(s: &mut Server, tool: &str, mut args: Value) -> Value {
    let r = s.call(tool, args.clone()).await;
    assert_eq!(status(&r), "confirmation_required", "{r}");
    args["confirmation_token"] = data(&r)["confirmation_token"].clone();
    s.call(tool, args).await
}

/// A connection to `url`.
async fn connect(url: &str) -> tokio_postgres::Client {
    let (c, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    c
}

async fn drop_db(admin: &str, name: &str) {
    connect(admin)
        .await
        .batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
        .await
        .unwrap();
}

async fn db_exists(url: &str, name: &str) -> bool {
    connect(url)
        .await
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)",
            &[&name],
        )
        .await
        .unwrap()
        .get(0)
}

#[tokio::test(flavor = "multi_thread")]
async fn backup_restore_and_retention_through_the_tools() {
    let db = TestDb::with_sample_data().await.unwrap();
    let admin = db.admin_url().to_owned();
    let base = db.name.clone();
    let dir = tempfile::tempdir().unwrap();
    let mut s = server(db, dir.path(), Some(PASS)).await;

    let d = ok(&s
        .call("backup_database", json!({"tags": ["nightly"]}))
        .await);
    let b = &d["backup"];
    let id = b["id"].as_str().unwrap().to_owned();
    assert_eq!(b["encryption"]["algorithm"], "aes-256-gcm", "{d}");
    assert_eq!(b["compression"], "zstd:3");
    assert!(b["tables"].as_u64().unwrap() > 0, "{d}");
    assert!(std::path::Path::new(d["path"].as_str().unwrap()).is_file());
    let raw = std::fs::read(d["path"].as_str().unwrap()).unwrap();
    assert!(
        !raw.windows(6).any(|w| w == b"CREATE"),
        "the stored file must not be plain text"
    );

    // A schema-only, unencrypted one.
    let r = s
        .call(
            "backup_database",
            json!({"type": "data", "encrypt": false, "compression": "gzip:6", "exclude_supabase_managed": true}),
        )
        .await;
    let schema_only = ok(&r);
    assert_eq!(schema_only["backup"]["kind"]["type"], "data", "{r}");
    assert_eq!(schema_only["backup"]["compression"], "gzip:6");
    let counted = schema_only["backup"]["tables"].as_u64().unwrap();
    assert!(
        counted > 0 && counted < b["tables"].as_u64().unwrap(),
        "auth tables are not counted: {r}"
    );
    assert!(
        r["structuredContent"]["warnings"]
            .to_string()
            .contains("not encrypted"),
        "{r}"
    );

    let list = ok(&s.call("list_backups", json!({"tag": "nightly"})).await);
    assert_eq!(list["total"], 1, "{list}");
    let all = ok(&s.call("list_backups", json!({})).await);
    assert_eq!(all["total"], 2, "{all}");
    // Newest first.
    assert_eq!(all["backups"][0]["id"], schema_only["backup"]["id"]);

    let got = ok(&s
        .call("get_backup", json!({"id": &id[..id.len() - 2]}))
        .await);
    assert_eq!(got["backup"]["id"], id.as_str());
    assert!(!got["backup"]["row_counts"].as_object().unwrap().is_empty());
    let missing = s.call("get_backup", json!({"id": "19990101"})).await;
    assert_eq!(error_code(&missing), "not_found", "{missing}");

    let v = ok(&s.call("verify_backup", json!({"id": id})).await);
    assert_eq!(v["ok"], true);
    assert!(v["toc_entries"].as_u64().unwrap() > 0);

    // Restore into a new database: row counts are compared.
    let target = format!("{base}_restored");
    let r = ok(&s
        .call(
            "restore_backup",
            json!({"id": id, "new_database": target, "jobs": 2}),
        )
        .await);
    assert_eq!(r["created_database"], true, "{r}");
    assert_eq!(r["row_counts_match"], true, "{r}");
    // The same name again is refused.
    let again = s
        .call("restore_backup", json!({"id": id, "new_database": target}))
        .await;
    assert!(is_error(&again), "{again}");
    drop_db(&admin, &target).await;

    // Restoring over the database needs confirmation, then works.
    let over = confirm(&mut s, "restore_backup", json!({"id": id, "clean": true})).await;
    let over = ok(&over);
    assert_eq!(over["created_database"], false);
    assert_eq!(over["row_counts_match"], true, "{over}");

    // Retention: a dry run changes nothing; applying needs confirmation.
    let plan = ok(&s.call("apply_retention", json!({"keep_last": 1})).await);
    assert_eq!(plan["dry_run"], true);
    assert_eq!(plan["delete"].as_array().unwrap().len(), 1, "{plan}");
    assert_eq!(ok(&s.call("list_backups", json!({})).await)["total"], 2);
    let applied = ok(&confirm(
        &mut s,
        "apply_retention",
        json!({"keep_last": 1, "dry_run": false}),
    )
    .await);
    assert_eq!(applied["deleted"], json!([id]), "{applied}");
    assert_eq!(ok(&s.call("list_backups", json!({})).await)["total"], 1);

    // delete_backup needs confirmation and removes the file.
    let sid = schema_only["backup"]["id"].as_str().unwrap();
    let path = schema_only["path"].as_str().unwrap().to_owned();
    ok(&confirm(&mut s, "delete_backup", json!({"id": sid})).await);
    assert!(!std::path::Path::new(&path).exists());
    assert_eq!(ok(&s.call("list_backups", json!({})).await)["total"], 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_key_damage_and_missing_files_are_explained() {
    let db = TestDb::with_sample_data().await.unwrap();
    let url = db.url.clone();
    let dir = tempfile::tempdir().unwrap();
    let mut s = server(db, dir.path(), Some(PASS)).await;
    let d = ok(&s.call("backup_database", json!({})).await);
    let id = d["backup"]["id"].as_str().unwrap().to_owned();
    let path = d["path"].as_str().unwrap().to_owned();

    // Another server with the wrong passphrase on the same directory.
    let other = TestDb::new().await.unwrap();
    let mut wrong = server(other, dir.path(), Some("not the passphrase")).await;
    let r = wrong.call("verify_backup", json!({"id": id})).await;
    assert!(is_error(&r), "{r}");
    assert!(text(&r).contains("wrong passphrase or key"), "{r}");
    assert!(!text(&r).contains("not the passphrase"));
    // No key at all.
    let nokey_db = TestDb::new().await.unwrap();
    let mut nokey = server(nokey_db, dir.path(), None).await;
    let r = nokey.call("verify_backup", json!({"id": id})).await;
    assert!(text(&r).contains("encrypted"), "{r}");
    let r = nokey
        .call("backup_database", json!({"encrypt": true}))
        .await;
    assert!(text(&r).contains("no backup key"), "{r}");

    // A flipped byte.
    let mut bytes = std::fs::read(&path).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 1;
    std::fs::write(&path, &bytes).unwrap();
    let r = s.call("verify_backup", json!({"id": id})).await;
    assert!(is_error(&r), "{r}");
    // A failed restore into a new database leaves no database behind.
    let target = "never_kept_db";
    let r = s
        .call("restore_backup", json!({"id": id, "new_database": target}))
        .await;
    assert!(is_error(&r), "{r}");
    assert!(!db_exists(&url, target).await);

    // The manifest points to a deleted file.
    std::fs::remove_file(&path).unwrap();
    let r = s.call("verify_backup", json!({"id": id})).await;
    assert_eq!(error_code(&r), "not_found", "{r}");
    let l = s.call("list_backups", json!({})).await;
    assert!(
        l["structuredContent"]["warnings"]
            .to_string()
            .contains("has no file"),
        "{l}"
    );
    // The passphrase never appears anywhere in results.
    assert!(!l.to_string().contains(PASS));
}

#[tokio::test(flavor = "multi_thread")]
async fn backup_and_restore_commands() {
    let db = TestDb::with_sample_data().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        let mut cmd = std::process::Command::new(bin());
        cmd.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("SUPABASE_MCP_BACKUP_KEY_FILE", dir.path().join("key"))
            .args(["--db-url", &db.url, "--backup-dir"])
            .arg(dir.path())
            .arg("--data-dir")
            .arg(dir.path().join("data"))
            .args(args);
        let out = cmd.output().unwrap();
        let json: Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|_| panic!("{}", String::from_utf8_lossy(&out.stderr)));
        (out.status.code(), json)
    };
    std::fs::write(dir.path().join("key"), "00".repeat(32)).unwrap();
    let (code, out) = run(&[
        "backup",
        "create",
        "--tag",
        "cli",
        "--compression",
        "gzip:1",
    ]);
    assert_eq!(code, Some(0), "{out}");
    let id = out["data"]["backup"]["id"].as_str().unwrap().to_owned();
    assert_eq!(out["data"]["backup"]["encryption"]["kdf"], "keyfile");
    let (code, out) = run(&["backup", "list"]);
    assert_eq!(code, Some(0));
    assert_eq!(out["data"]["total"], 1);
    let (code, out) = run(&["backup", "verify", &id]);
    assert_eq!(code, Some(0), "{out}");
    // Over the database: refused without --yes.
    let (code, out) = run(&["restore", &id]);
    assert_eq!(code, Some(1));
    assert!(
        out["error"]["message"].as_str().unwrap().contains("--yes"),
        "{out}"
    );
    let (code, out) = run(&["backup", "retention", "--keep-last", "1"]);
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(out["data"]["dry_run"], true);
    let (code, _) = run(&["backup", "delete", &id]);
    assert_eq!(code, Some(1));
    let (code, out) = run(&["backup", "delete", &id, "--yes"]);
    assert_eq!(code, Some(0), "{out}");
}

#[tokio::test]
async fn cloud_backups_and_pitr_through_the_management_api() {
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};
    const TOKEN: &str = "sbp_0123456789abcdef0123456789abcdef01234567";
    const REF: &str = "abcdefghijklmnopqrst";
    let mock = MockServer::start().await;
    let now = chrono::Utc::now().timestamp();
    Mock::given(method("GET"))
        .and(path(format!("/v1/projects/{REF}/database/backups")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "region": "eu-west-1", "walg_enabled": true, "pitr_enabled": true,
            "backups": [{"id": 1, "is_physical_backup": true, "status": "COMPLETED", "inserted_at": "2026-11-24T00:00:00Z"}],
            "physical_backup_data": {"earliest_physical_backup_date_unix": now - 86_400, "latest_physical_backup_date_unix": now}
        })))
        .mount(&mock)
        .await;
    Mock::given(method("POST"))
        .and(path(format!(
            "/v1/projects/{REF}/database/backups/restore-pitr"
        )))
        .respond_with(ResponseTemplate::new(201))
        .mount(&mock)
        .await;
    let uri = mock.uri();
    let mut s = Server::start(
        None,
        &[
            "--features",
            "backups",
            "--access-token",
            TOKEN,
            "--project-ref",
            REF,
            "--api-url",
            &uri,
        ],
    )
    .await;
    let d = ok(&s.call("list_cloud_backups", json!({})).await);
    assert_eq!(d["pitr_enabled"], true, "{d}");
    assert_eq!(d["backups"][0]["status"], "COMPLETED");

    // Outside the window: refused before any restore request.
    let old = chrono::DateTime::from_timestamp(now - 3 * 86_400, 0)
        .unwrap()
        .to_rfc3339();
    let r = confirm(&mut s, "restore_cloud_pitr", json!({"recovery_time": old})).await;
    assert!(text(&r).contains("outside the recovery window"), "{r}");
    let target = chrono::DateTime::from_timestamp(now - 3600, 0).unwrap();
    let r = confirm(
        &mut s,
        "restore_cloud_pitr",
        json!({"recovery_time": target.to_rfc3339()}),
    )
    .await;
    let d = ok(&r);
    assert_eq!(d["recovery_time_target_unix"], now - 3600);

    let reqs = mock.received_requests().await.unwrap();
    let spec = api_common::Spec::load("supabase-management");
    let posts: Vec<_> = reqs
        .iter()
        .filter(|r| r.method.as_str() == "POST")
        .collect();
    assert_eq!(posts.len(), 1, "only the confirmed, valid restore is sent");
    spec.check("v1-restore-pitr-backup", posts[0], "");
    let body: Value = serde_json::from_slice(&posts[0].body).unwrap();
    assert_eq!(body, json!({"recovery_time_target_unix": now - 3600}));
    for r in reqs.iter().filter(|r| r.method.as_str() == "GET") {
        spec.check("v1-list-all-backups", r, "");
        api_common::assert_header(r, "authorization", &format!("Bearer {TOKEN}"));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn serve_runs_scheduled_backups_with_retention() {
    let db = TestDb::with_sample_data().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("config.toml");
    std::fs::write(
        &cfg,
        format!(
            "[backup]\ndir = \"{}\"\n[backup.schedule]\nevery = \"2s\"\ntags = [\"hourly\"]\nkeep_last = 2\n",
            dir.path().join("b").display()
        ),
    )
    .unwrap();
    let s = Server::start(Some(db), &["--config", &cfg.display().to_string()]).await;
    let manifest = dir.path().join("b").join("manifest.json");
    let audit = s.data_dir.path().join("audit.jsonl");
    let mut seen = 0;
    for _ in 0..120 {
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        let log = std::fs::read_to_string(&audit).unwrap_or_default();
        seen = log.matches("\"scheduled_retention\"").count();
        if seen >= 3 {
            break;
        }
    }
    assert!(seen >= 3, "three scheduled runs with retention expected");
    let m: Value = serde_json::from_str(&std::fs::read_to_string(&manifest).unwrap()).unwrap();
    let entries = m["entries"].as_array().unwrap();
    assert!(
        entries.len() <= 3,
        "retention keeps 2 (plus at most one made since): {m}"
    );
    assert!(
        entries.iter().all(|e| e["tags"] == json!(["hourly"])),
        "{m}"
    );
    let log = std::fs::read_to_string(&audit).unwrap();
    assert!(log.contains("\"scheduled_backup\""), "{log}");
    let files = std::fs::read_dir(dir.path().join("b"))
        .unwrap()
        .filter(|e| {
            let n = e
                .as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .into_owned();
            n.ends_with(".dump.zst")
        })
        .count();
    assert!(files <= 3, "deleted backups leave no files ({files})");
}

#[tokio::test(flavor = "multi_thread")]
async fn restore_of_selected_schemas() {
    let db = TestDb::new().await.unwrap();
    let c = db.client().await.unwrap();
    c.batch_execute(
        "CREATE SCHEMA app; CREATE TABLE app.items (id int PRIMARY KEY, v text);
         INSERT INTO app.items SELECT g, 'v' || g FROM generate_series(1, 500) g;",
    )
    .await
    .unwrap();
    let admin = db.admin_url().to_owned();
    let target = format!("{}_app", db.name);
    let dir = tempfile::tempdir().unwrap();
    let mut s = server(db, dir.path(), None).await;
    let id = ok(&s.call("backup_database", json!({})).await)["backup"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = ok(&s
        .call(
            "restore_backup",
            json!({"id": id, "new_database": target, "schemas": ["app"]}),
        )
        .await);
    assert_eq!(r["tables_checked"], 1, "{r}");
    assert_eq!(r["row_counts_match"], true);
    let (c2, conn) = tokio_postgres::connect(
        &s.db
            .as_ref()
            .unwrap()
            .url
            .replace(&s.db.as_ref().unwrap().name, &target),
        tokio_postgres::NoTls,
    )
    .await
    .unwrap();
    tokio::spawn(conn);
    let n: i64 = c2
        .query_one("select count(*) from app.items", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 500);
    let auth: bool = c2
        .query_one(
            "select exists (select 1 from pg_namespace where nspname = 'auth')",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(!auth, "only the app schema is restored");
    drop(c2);
    drop_db(&admin, &target).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn roles_are_saved_without_passwords_and_restored() {
    let db = TestDb::new().await.unwrap();
    let role = format!("smcp_role_{}", db.name.rsplit('_').next().unwrap());
    let c = db.client().await.unwrap();
    c.batch_execute(&format!(
        "CREATE ROLE {role} LOGIN PASSWORD 'role-secret-pw' CONNECTION LIMIT 7;
         CREATE TABLE public.owned (id int); ALTER TABLE public.owned OWNER TO {role};"
    ))
    .await
    .unwrap();
    let admin = db.admin_url().to_owned();
    let target = format!("{}_roles", db.name);
    let dir = tempfile::tempdir().unwrap();
    let mut s = server(db, dir.path(), Some(PASS)).await;
    let d = ok(&s
        .call("backup_database", json!({"include_roles": true}))
        .await);
    assert_eq!(d["backup"]["includes_roles"], true, "{d}");
    let id = d["backup"]["id"].as_str().unwrap().to_owned();
    let roles_file = d["backup"]["roles_file"].as_str().unwrap().to_owned();
    assert!(dir.path().join(&roles_file).is_file());
    // No orphan warning for the companion file.
    let l = s.call("list_backups", json!({})).await;
    assert!(!l.to_string().contains("not in the manifest"), "{l}");

    // The role is gone, then comes back with the restore (no password).
    c.batch_execute(&format!("REASSIGN OWNED BY {role} TO CURRENT_USER"))
        .await
        .unwrap();
    c.batch_execute(&format!("DROP OWNED BY {role}"))
        .await
        .unwrap();
    drop(c);
    let a = connect(&admin).await;
    a.batch_execute(&format!("DROP ROLE {role}")).await.unwrap();
    let r = ok(&s
        .call(
            "restore_backup",
            json!({"id": id, "new_database": target, "restore_roles": true}),
        )
        .await);
    assert_eq!(r["row_counts_match"], true, "{r}");
    let row = a
        .query_one(
            "SELECT rolconnlimit, rolpassword IS NULL FROM pg_authid WHERE rolname = $1",
            &[&role],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, i32>(0), 7);
    assert!(row.get::<_, bool>(1), "the password is not restored");
    a.batch_execute(&format!("DROP DATABASE \"{target}\" WITH (FORCE)"))
        .await
        .unwrap();
    a.batch_execute(&format!("DROP ROLE {role}")).await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn restore_progress_and_the_report_of_an_interrupted_restore() {
    let db = TestDb::new().await.unwrap();
    let admin = db.admin_url().to_owned();
    let base = db.name.clone();
    let c = db.client().await.unwrap();
    c.batch_execute(
        "CREATE TABLE public.a_one (id int PRIMARY KEY, t text);
         INSERT INTO public.a_one SELECT g, md5(g::text) FROM generate_series(1, 3000) g;
         CREATE TABLE public.b_two (id int);
         INSERT INTO public.b_two SELECT generate_series(1, 500);
         CREATE TABLE public.z_last (id int);
         INSERT INTO public.z_last SELECT generate_series(1, 10);",
    )
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut s = server(db, dir.path(), None).await;
    let good = ok(&s.call("backup_database", json!({})).await);
    let good_id = good["backup"]["id"].as_str().unwrap().to_owned();
    // What a restore needs free on the database server's disk.
    assert!(
        good["backup"]["database_bytes"].as_u64().unwrap() > 1_000_000,
        "{good}"
    );

    // Progress: notifications that grow, the last one after the data is in.
    let target = format!("{base}_progress");
    s.client
        .send(
            &json!({"jsonrpc": "2.0", "id": 700, "method": "tools/call", "params": {
            "name": "restore_backup", "arguments": {"id": good_id, "new_database": target},
            "_meta": {"progressToken": "r1"}}}),
        )
        .await
        .unwrap();
    let r = s.client.wait_for(700).await.unwrap();
    assert_eq!(status(&r), "ok", "{r}");
    let progress: Vec<&Value> = s
        .client
        .notifications
        .iter()
        .filter(|n| n["method"] == "notifications/progress" && n["params"]["progressToken"] == "r1")
        .map(|n| &n["params"])
        .collect();
    assert!(!progress.is_empty(), "{:?}", s.client.notifications);
    let values: Vec<f64> = progress
        .iter()
        .map(|p| p["progress"].as_f64().unwrap())
        .collect();
    assert!(values.windows(2).all(|w| w[0] < w[1]), "{values:?}");
    let last = progress.last().unwrap();
    let raw = good["backup"]["raw_bytes"].as_u64().unwrap();
    let message = last["message"].as_str().unwrap();
    assert!(message.contains("tables restored"), "{message}");
    // Every byte of the archive was read by the end.
    assert!(
        last["progress"].as_f64().unwrap() >= raw as f64,
        "{last} vs {raw}"
    );
    // The restore-time setting of the new database is gone afterwards.
    let settings: i64 = connect(&admin)
        .await
        .query_one(
            "SELECT count(*) FROM pg_db_role_setting s JOIN pg_database d ON d.oid = s.setdatabase
             WHERE d.datname = $1",
            &[&target],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(settings, 0, "synchronous_commit is reset on {target}");
    drop_db(&admin, &target).await;

    // A table whose rows only pass their check in the source database: the
    // restore stops at its data, and the report says what got in first.
    connect(&s.db.as_ref().unwrap().url)
        .await
        .batch_execute(&format!(
            "CREATE FUNCTION public.at_home(int) RETURNS bool LANGUAGE sql
           AS $$ SELECT current_database() = '{base}' $$;
         CREATE TABLE public.m_bad (id int CHECK (public.at_home(id)));
         INSERT INTO public.m_bad VALUES (1), (2);"
        ))
        .await
        .unwrap();
    let bad = ok(&s.call("backup_database", json!({})).await);
    let bad_id = bad["backup"]["id"].as_str().unwrap().to_owned();
    let target = format!("{base}_broken");
    let r = s
        .call(
            "restore_backup",
            json!({"id": bad_id, "new_database": target}),
        )
        .await;
    assert!(is_error(&r), "{r}");
    let e = &r["structuredContent"]["error"];
    let reason = e["reason"].as_str().unwrap_or_default();
    assert!(reason.contains("m_bad"), "{e}");
    assert!(reason.contains("tables were restored completely"), "{e}");
    let (complete, rest) = reason
        .split_once("tables were restored completely")
        .unwrap();
    assert!(!complete.trim_start().starts_with("0 of"), "{e}");
    let missing = rest.split_once("empty or missing:").unwrap().1;
    assert!(missing.contains("public.m_bad"), "{e}");
    assert!(missing.contains("public.z_last"), "{e}");
    assert!(!missing.contains("public.a_one"), "{e}");
    assert!(reason.contains("was dropped"), "{e}");
    assert!(
        e["suggestion"]
            .as_str()
            .unwrap_or_default()
            .contains("run the same restore again"),
        "{e}"
    );
    assert!(
        !db_exists(&admin, &target).await,
        "the half-restored database is dropped"
    );

    // The same with parallel jobs, where the data loads while the archive
    // is still being decoded: the failing stage stops the others, the
    // report names the table, and no temporary file is left.
    let r = s
        .call(
            "restore_backup",
            json!({"id": bad_id, "new_database": target, "jobs": 2}),
        )
        .await;
    assert!(is_error(&r), "{r}");
    let e = &r["structuredContent"]["error"];
    let text = e.to_string();
    assert!(text.contains("m_bad"), "{e}");
    assert!(text.contains("was dropped"), "{e}");
    assert!(!db_exists(&admin, &target).await);
    let mut left = Vec::new();
    let mut dirs = vec![dir.path().to_path_buf()];
    while let Some(d) = dirs.pop() {
        for f in std::fs::read_dir(&d).unwrap() {
            let f = f.unwrap();
            if f.file_type().unwrap().is_dir() {
                dirs.push(f.path());
            } else if f.file_name().to_string_lossy().starts_with(".restore-") {
                left.push(f.path());
            }
        }
    }
    assert!(left.is_empty(), "{left:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_restore_that_cannot_fit_is_refused_before_anything_changes() {
    let db = TestDb::with_sample_data().await.unwrap();
    let admin = db.admin_url().to_owned();
    let base = db.name.clone();
    let url = db.url.clone();
    let dir = tempfile::tempdir().unwrap();
    let mut s = server(db, dir.path(), None).await;
    let b = ok(&s.call("backup_database", json!({})).await);
    let id = b["backup"]["id"].as_str().unwrap().to_owned();
    let db = s.db.take().unwrap();
    drop(s);

    // The same backups in a directory too small for a parallel restore's
    // temporary copy of the archive.
    let tiny = TinyFs::new("4m");
    for f in std::fs::read_dir(dir.path()).unwrap() {
        let f = f.unwrap();
        std::fs::copy(f.path(), tiny.0.path().join(f.file_name())).unwrap();
    }
    let mut s = server(db, tiny.0.path(), None).await;
    let target = format!("{base}_nofit");
    let r = s
        .call(
            "restore_backup",
            json!({"id": id, "new_database": target, "jobs": 2}),
        )
        .await;
    assert!(is_error(&r), "{r}");
    let e = &r["structuredContent"]["error"];
    let message = e["message"].as_str().unwrap();
    assert!(message.contains("not enough free space"), "{e}");
    assert!(
        message.contains(&tiny.0.path().display().to_string()),
        "{e}"
    );
    assert!(
        e["suggestion"].as_str().unwrap().contains("jobs = 1"),
        "{e}"
    );
    assert!(!db_exists(&url, &target).await, "nothing was created");
    // Streaming needs no temporary copy: the same restore with one job works.
    let r = ok(&s
        .call("restore_backup", json!({"id": id, "new_database": target}))
        .await);
    assert_eq!(r["row_counts_match"], true, "{r}");
    let left: Vec<_> = std::fs::read_dir(tiny.0.path())
        .unwrap()
        .map(|f| f.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("restore"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
    drop_db(&admin, &target).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_restored_schema_is_compared_with_the_backups_fingerprint() {
    let db = TestDb::with_sample_data().await.unwrap();
    let admin = db.admin_url().to_owned();
    let base = db.name.clone();
    let dir = tempfile::tempdir().unwrap();
    let mut s = server(db, dir.path(), None).await;
    let b = ok(&s.call("backup_database", json!({})).await);
    let id = b["backup"]["id"].as_str().unwrap().to_owned();
    let objects = b["backup"]["schema_objects"].as_u64().unwrap();
    assert!(objects > 50, "{b}");

    // A faithful restore: every object compared, no difference.
    let target = format!("{base}_schema_ok");
    let r = ok(&s
        .call("restore_backup", json!({"id": id, "new_database": target}))
        .await);
    assert_eq!(r["schema_objects_checked"].as_u64(), Some(objects), "{r}");
    drop_db(&admin, &target).await;

    // The manifest's fingerprint says one table was defined otherwise and
    // names an object the archive does not hold: both are reported by name.
    let path = dir.path().join("manifest.json");
    let mut m: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let fp = m["entries"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|e| e["id"] == id.as_str())
        .unwrap()["schema_fingerprint"]
        .as_object_mut()
        .unwrap();
    let table = fp
        .keys()
        .find(|k| k.starts_with("table public."))
        .unwrap()
        .clone();
    fp.insert(table.clone(), json!("0000000000000000"));
    fp.insert("view public.ghost".into(), json!("0123456789abcdef"));
    std::fs::write(&path, serde_json::to_string_pretty(&m).unwrap()).unwrap();
    let target = format!("{base}_schema_bad");
    let r = s
        .call("restore_backup", json!({"id": id, "new_database": target}))
        .await;
    assert!(is_error(&r), "{r}");
    let e = &r["structuredContent"]["error"];
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .contains("restored schema differs from the backup in 2 object(s)"),
        "{e}"
    );
    let reason = e["reason"].as_str().unwrap();
    assert!(reason.contains(&format!("changed: {table}")), "{e}");
    assert!(reason.contains("missing: view public.ghost"), "{e}");
    drop_db(&admin, &target).await;
}
