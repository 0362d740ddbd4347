//! Backup pipeline round trips and faults against the real PostgreSQL:
//! a Supabase-like database with 100+ tables of every common column type,
//! functions, triggers, RLS policies, views and sequences is dumped
//! (zstd/gzip × encrypted/plain), verified, restored into a new database and
//! compared table by table (row counts and content checksums) and by its
//! `pg_dump --schema-only` text.

use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

mod backup_common;

use backup_common::{Blank, TinyFs};
use supabase_mcp::backup::compress::Compression;
use supabase_mcp::backup::crypt::{Argon2Params, EncryptOptions, KeySource};
use supabase_mcp::backup::pgtools::{self, PgTools};
use supabase_mcp::backup::pipeline::{
    self, DumpSpec, Format, PipelineError, RestoreSpec, commit, restore_file, verify_file,
    write_backup,
};
use supabase_mcp::db::connstr::ConnParams;
use supabase_mcp::pg::testdb::TestDb;
use tokio_postgres::NoTls;

const TABLES: usize = 105;

async fn build_source(db: &TestDb) {
    let c = db.client().await.unwrap();
    let mut sql = String::from(
        "CREATE TYPE public.mood AS ENUM ('sad', 'ok', 'happy');
         CREATE SEQUENCE public.ticket_seq START 1000;
         CREATE FUNCTION public.touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.updated_at := now(); RETURN NEW; END $$;
         CREATE FUNCTION public.add(a int, b int) RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT a + b';\n",
    );
    for i in 0..TABLES {
        sql.push_str(&format!(
            "CREATE TABLE public.t{i:03} (
               id bigint PRIMARY KEY,
               label text NOT NULL,
               doc jsonb,
               tags text[],
               mood public.mood,
               amount numeric(12,3),
               blob bytea,
               at timestamptz,
               day date,
               ratio double precision,
               flag boolean,
               updated_at timestamptz DEFAULT now(),
               ticket bigint DEFAULT nextval('public.ticket_seq')
             );
             INSERT INTO public.t{i:03} (id, label, doc, tags, mood, amount, blob, at, day, ratio, flag)
               SELECT g, 'row ' || g || ' of t{i:03} ''quoted'' \\ slash', jsonb_build_object('g', g, 'nested', jsonb_build_array(g, 'x')),
                      ARRAY['a' || g, NULL, 'c'], (ARRAY['sad','ok','happy'])[1 + g % 3]::public.mood,
                      g * 1.125, decode(md5(g::text), 'hex'), '2024-01-01 12:00:00+02'::timestamptz + g * interval '1 hour',
                      date '2024-02-29' + g, g / 7.0, g % 2 = 0
               FROM generate_series(1, {rows}) g;\n",
            rows = 20 + i * 3
        ));
        if i % 10 == 0 {
            sql.push_str(&format!(
                "CREATE TRIGGER t{i:03}_touch BEFORE UPDATE ON public.t{i:03} FOR EACH ROW EXECUTE FUNCTION public.touch();
                 ALTER TABLE public.t{i:03} ENABLE ROW LEVEL SECURITY;
                 CREATE POLICY t{i:03}_read ON public.t{i:03} FOR SELECT TO authenticated USING (flag);
                 CREATE VIEW public.v{i:03} AS SELECT id, label FROM public.t{i:03} WHERE flag;\n"
            ));
        }
    }
    c.batch_execute(&sql).await.unwrap();
}

/// Per-table row count and content checksum of every table in `public`.
async fn fingerprint(url: &str) -> Vec<(String, i64, String)> {
    let (c, conn) = tokio_postgres::connect(url, NoTls).await.unwrap();
    tokio::spawn(conn);
    let tables: Vec<String> = c
        .query(
            "SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = 'public' AND c.relkind = 'r' ORDER BY 1",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let mut out = Vec::new();
    for t in tables {
        let row = c
            .query_one(
                &format!(
                    "SELECT count(*), coalesce(md5(string_agg(x::text, '|' ORDER BY x.id)), '') FROM public.{t} x"
                ),
                &[],
            )
            .await
            .unwrap();
        out.push((t, row.get(0), row.get(1)));
    }
    out
}

fn schema_text(tools: &PgTools, url: &str) -> String {
    let out = Command::new(&tools.pg_dump.path)
        .args(["--schema-only", "--no-owner", "--schema=public", "-d", url])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        // Random per-run keys (\restrict) and comments naming the database differ.
        .filter(|l| {
            !l.starts_with("\\restrict") && !l.starts_with("\\unrestrict") && !l.starts_with("--")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn fast(passphrase: &str) -> (KeySource, EncryptOptions) {
    (
        KeySource::passphrase(passphrase).unwrap(),
        EncryptOptions {
            argon2: Argon2Params::INSECURE_FAST,
            ..Default::default()
        },
    )
}

fn dump(
    tools: &PgTools,
    url: &str,
    compression: &str,
    key: Option<&(KeySource, EncryptOptions)>,
    dir: &Path,
    name: &str,
) -> Result<pipeline::Written, PipelineError> {
    let conn = ConnParams::parse(url).unwrap();
    write_backup(
        tools,
        &conn,
        &DumpSpec::default(),
        &compression.parse::<Compression>().unwrap(),
        key.map(|(k, o)| (k, *o)),
        &dir.join(name),
        &AtomicBool::new(false),
        &AtomicU64::new(0),
    )
}

fn dump_verified(
    tools: &PgTools,
    url: &str,
    compression: &str,
    key: Option<&(KeySource, EncryptOptions)>,
    final_path: &Path,
) -> Result<(pipeline::Written, pipeline::Verified), PipelineError> {
    pipeline::write_verified_backup(
        tools,
        &ConnParams::parse(url).unwrap(),
        &DumpSpec::default(),
        &compression.parse::<Compression>().unwrap(),
        key.map(|(k, o)| (k, *o)),
        final_path,
        &AtomicBool::new(false),
        &AtomicU64::new(0),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn round_trips_are_identical_for_each_compression_and_encryption() {
    let source = TestDb::new().await.unwrap();
    build_source(&source).await;
    let tools = pgtools::find(None, 15).await.unwrap();
    let expected = fingerprint(&source.url).await;
    assert!(expected.len() >= TABLES, "{} tables", expected.len());
    let expected_schema = schema_text(&tools, &source.url);
    let dir = tempfile::tempdir().unwrap();
    let key = fast("correct horse battery staple");
    for (compression, encrypted) in [
        ("zstd:3", true),
        ("zstd:3", false),
        ("gzip:6", true),
        ("gzip:6", false),
    ] {
        let name = format!("b-{}-{encrypted}.dump", compression.replace(':', "-"));
        let k = encrypted.then_some(&key);
        let final_path = dir.path().join(&name);
        // zstd: verified while it is written; gzip: written, then verified.
        let (w, v) = if compression.starts_with("zstd") {
            let (w, during) =
                dump_verified(&tools, &source.url, compression, k, &final_path).unwrap();
            let after = verify_file(
                &w.temp,
                k.map(|(k, _)| k),
                Format::Custom,
                Some(&w.sha256),
                &tools,
                &AtomicBool::new(false),
            )
            .unwrap();
            assert_eq!(during, after, "the check while writing saw the stored file");
            (w, during)
        } else {
            let w = dump(&tools, &source.url, compression, k, dir.path(), &name).unwrap();
            let v = verify_file(
                &w.temp,
                k.map(|(k, _)| k),
                Format::Custom,
                Some(&w.sha256),
                &tools,
                &AtomicBool::new(false),
            )
            .unwrap();
            (w, v)
        };
        assert!(w.raw_bytes > 100_000, "{w:?}");
        assert!(w.stored_bytes < w.raw_bytes, "{w:?}");
        assert_eq!(v.sha256, w.sha256);
        assert_eq!(v.raw_bytes, w.raw_bytes);
        assert_eq!(v.encrypted, encrypted);
        assert!(v.toc_entries.unwrap() > TABLES as u64);
        commit(&w.temp, &final_path).unwrap();
        assert!(!w.temp.exists());

        let target = Blank::new(&source).await;
        let r = restore_file(
            &final_path,
            k.map(|(k, _)| k),
            Format::Custom,
            Some(&w.sha256),
            &tools,
            &ConnParams::parse(&target.url).unwrap(),
            &RestoreSpec {
                jobs: if encrypted { 2 } else { 1 },
                ..Default::default()
            },
            &AtomicBool::new(false),
        );
        let r = r.unwrap_or_else(|e| panic!("{compression} encrypted={encrypted}: {e}"));
        if encrypted {
            // Parallel: the data was loaded while the archive was spooled,
            // and the spool and its list files are gone.
            assert!(r.loaders > 0, "{r:?}");
            let left: Vec<_> = std::fs::read_dir(dir.path())
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with(".restore-"))
                .collect();
            assert!(left.is_empty(), "{left:?}");
        }
        assert_eq!(
            fingerprint(&target.url).await,
            expected,
            "{compression} encrypted={encrypted}"
        );
        assert_eq!(
            schema_text(&tools, &target.url),
            expected_schema,
            "{compression} encrypted={encrypted}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn faults_are_detected_and_leave_nothing_behind() {
    let source = TestDb::new().await.unwrap();
    build_source(&source).await;
    let tools = pgtools::find(None, 15).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let key = fast("right");
    let w = dump(
        &tools,
        &source.url,
        "zstd:3",
        Some(&key),
        dir.path(),
        "b.dump",
    )
    .unwrap();
    let path = dir.path().join("b.dump");
    commit(&w.temp, &path).unwrap();
    let never = AtomicBool::new(false);

    // Wrong passphrase.
    let wrong = KeySource::passphrase("wrong").unwrap();
    let e = verify_file(&path, Some(&wrong), Format::Custom, None, &tools, &never).unwrap_err();
    assert!(e.to_string().contains("wrong passphrase or key"), "{e}");
    // No key at all.
    let e = verify_file(&path, None, Format::Custom, None, &tools, &never).unwrap_err();
    assert!(matches!(e, PipelineError::KeyNeeded), "{e}");

    // A flipped byte in the middle.
    let bytes = std::fs::read(&path).unwrap();
    let flipped = dir.path().join("flipped.dump");
    let mut f = bytes.clone();
    let mid = f.len() / 2;
    f[mid] ^= 0x40;
    std::fs::write(&flipped, &f).unwrap();
    let e = verify_file(&flipped, Some(&key.0), Format::Custom, None, &tools, &never).unwrap_err();
    assert!(
        e.to_string().to_lowercase().contains("corrupt") || e.to_string().contains("altered"),
        "{e}"
    );

    // A truncated file.
    let cut = dir.path().join("cut.dump");
    std::fs::write(&cut, &bytes[..bytes.len() * 2 / 3]).unwrap();
    let e = verify_file(&cut, Some(&key.0), Format::Custom, None, &tools, &never).unwrap_err();
    assert!(e.to_string().to_lowercase().contains("truncat"), "{e}");

    // The right file but another hash in the manifest.
    let e = verify_file(
        &path,
        Some(&key.0),
        Format::Custom,
        Some(&"0".repeat(64)),
        &tools,
        &never,
    )
    .unwrap_err();
    assert!(matches!(e, PipelineError::HashMismatch { .. }), "{e}");

    // A missing file.
    let e = verify_file(
        &dir.path().join("gone.dump"),
        None,
        Format::Custom,
        None,
        &tools,
        &never,
    )
    .unwrap_err();
    assert!(e.to_string().contains("gone.dump"), "{e}");

    // A failed restore of a damaged file reports it.
    let target = Blank::new(&source).await;
    let e = restore_file(
        &flipped,
        Some(&key.0),
        Format::Custom,
        None,
        &tools,
        &ConnParams::parse(&target.url).unwrap(),
        &RestoreSpec {
            jobs: 1,
            ..Default::default()
        },
        &never,
    )
    .unwrap_err();
    assert!(!e.to_string().is_empty());

    // pg_dump stopped mid-stream: no final file and no temporary file.
    let cancel = AtomicBool::new(false);
    let progress = AtomicU64::new(0);
    let conn = ConnParams::parse(&source.url).unwrap();
    let final_path = dir.path().join("killed.dump");
    let r = std::thread::scope(|s| {
        s.spawn(|| {
            while progress.load(Ordering::Relaxed) == 0 {
                std::thread::yield_now();
            }
            cancel.store(true, Ordering::Relaxed);
        });
        write_backup(
            &tools,
            &conn,
            &DumpSpec::default(),
            &Compression::None,
            None,
            &final_path,
            &cancel,
            &progress,
        )
    });
    assert!(matches!(r, Err(PipelineError::Cancelled)), "{r:?}");
    // The same while the file is verified as it is written: the reader
    // thread stops too, and nothing is left.
    cancel.store(false, Ordering::Relaxed);
    progress.store(0, Ordering::Relaxed);
    let r = std::thread::scope(|s| {
        s.spawn(|| {
            while progress.load(Ordering::Relaxed) == 0 {
                std::thread::yield_now();
            }
            cancel.store(true, Ordering::Relaxed);
        });
        pipeline::write_verified_backup(
            &tools,
            &conn,
            &DumpSpec::default(),
            &"zstd:1".parse::<Compression>().unwrap(),
            Some((&key.0, key.1)),
            &final_path,
            &cancel,
            &progress,
        )
    });
    assert!(matches!(r, Err(PipelineError::Cancelled)), "{r:?}");
    let left: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("killed"))
        .collect();
    assert!(left.is_empty(), "{left:?}");

    // pg_dump that fails (a database that does not exist) leaves nothing either.
    let mut bad = ConnParams::parse(&source.url).unwrap();
    bad.dbname = Some("no_such_database_here".into());
    let e = write_backup(
        &tools,
        &bad,
        &DumpSpec::default(),
        &Compression::None,
        None,
        &dir.path().join("bad.dump"),
        &never,
        &AtomicU64::new(0),
    )
    .unwrap_err();
    assert!(e.to_string().contains("no_such_database_here"), "{e}");
    assert!(!dir.path().join(".bad.dump.partial").exists());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_full_disk_is_a_clear_error_and_leaves_nothing() {
    let source = TestDb::new().await.unwrap();
    build_source(&source).await;
    let tools = pgtools::find(None, 15).await.unwrap();
    let tiny = TinyFs::new("256k");
    let e = dump(
        &tools,
        &source.url,
        "none",
        None,
        tiny.0.path(),
        "full.dump",
    )
    .unwrap_err();
    let text = e.to_string();
    assert!(matches!(e, PipelineError::Write { .. }), "{text}");
    assert!(text.contains("No space left on device"), "{text}");
    let left: Vec<_> = std::fs::read_dir(tiny.0.path()).unwrap().collect();
    assert!(left.is_empty(), "{left:?}");
    // Verified while written: the same error (not the reader's), nothing left.
    let e = dump_verified(
        &tools,
        &source.url,
        "none",
        None,
        &tiny.0.path().join("full.dump"),
    )
    .unwrap_err();
    let text = e.to_string();
    assert!(matches!(e, PipelineError::Write { .. }), "{text}");
    assert!(text.contains("No space left on device"), "{text}");
    let left: Vec<_> = std::fs::read_dir(tiny.0.path()).unwrap().collect();
    assert!(left.is_empty(), "{left:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn plain_sql_backups_round_trip_through_psql() {
    let source = TestDb::new().await.unwrap();
    build_source(&source).await;
    let tools = pgtools::find(None, 15).await.unwrap();
    let expected = fingerprint(&source.url).await;
    let dir = tempfile::tempdir().unwrap();
    let key = fast("plain and simple");
    let final_path = dir.path().join("plain.sql.gz.enc");
    let w = write_backup(
        &tools,
        &ConnParams::parse(&source.url).unwrap(),
        &DumpSpec {
            format: Format::Plain,
            ..Default::default()
        },
        &"gzip:6".parse::<Compression>().unwrap(),
        Some((&key.0, key.1)),
        &final_path,
        &AtomicBool::new(false),
        &AtomicU64::new(0),
    )
    .unwrap();
    let never = AtomicBool::new(false);
    let v = verify_file(
        &w.temp,
        Some(&key.0),
        Format::Plain,
        Some(&w.sha256),
        &tools,
        &never,
    )
    .unwrap();
    assert!(v.toc_entries.is_none());
    commit(&w.temp, &final_path).unwrap();
    let target = Blank::new(&source).await;
    restore_file(
        &final_path,
        Some(&key.0),
        Format::Plain,
        Some(&w.sha256),
        &tools,
        &ConnParams::parse(&target.url).unwrap(),
        &RestoreSpec::default(),
        &never,
    )
    .unwrap();
    assert_eq!(fingerprint(&target.url).await, expected);
}

/// An archive so small that its table of contents is only complete at its
/// end is restored in one parallel `pg_restore`, without loaders.
#[tokio::test(flavor = "multi_thread")]
async fn a_tiny_archive_restores_in_one_parallel_pass() {
    let anchor = TestDb::new().await.unwrap();
    let source = Blank::new(&anchor).await;
    let (c, conn) = tokio_postgres::connect(&source.url, NoTls).await.unwrap();
    tokio::spawn(conn);
    c.batch_execute(
        "CREATE TABLE public.t (id int PRIMARY KEY); INSERT INTO public.t VALUES (1), (2), (3);",
    )
    .await
    .unwrap();
    let tools = pgtools::find(None, 15).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let w = dump(&tools, &source.url, "zstd:3", None, dir.path(), "tiny.dump").unwrap();
    assert!(w.raw_bytes < 4096, "{w:?}");
    let path = dir.path().join("tiny.dump");
    commit(&w.temp, &path).unwrap();
    let target = Blank::new(&anchor).await;
    let r = restore_file(
        &path,
        None,
        Format::Custom,
        Some(&w.sha256),
        &tools,
        &ConnParams::parse(&target.url).unwrap(),
        &RestoreSpec {
            jobs: 2,
            ..Default::default()
        },
        &AtomicBool::new(false),
    )
    .unwrap();
    assert_eq!(r.loaders, 0, "{r:?}");
    assert_eq!(r.raw_bytes, w.raw_bytes);
    let (t, conn) = tokio_postgres::connect(&target.url, NoTls).await.unwrap();
    tokio::spawn(conn);
    let n: i64 = t
        .query_one("SELECT count(*) FROM public.t", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 3);
    let pk: i64 = t
        .query_one(
            "SELECT count(*) FROM pg_constraint WHERE conname = 't_pkey'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(pk, 1);
    drop(target);
    drop(source);
    anchor.drop_database().await.unwrap();
}
