//! Schema fingerprints against the real PostgreSQL: equal after a
//! `pg_dump -Fc` / `pg_restore` round trip (dropped columns and OIDs do not
//! matter), each kind of schema change reported as exactly one difference by
//! object name, the scope (schemas, excluded schemas, extension members,
//! temporary objects), and owners, grants and session settings that do not
//! change the fingerprint.

use std::process::Command;

mod backup_common;

use backup_common::Blank;
use supabase_mcp::backup::fingerprint::{self, Difference, Fingerprint, Scope};
use supabase_mcp::backup::pgtools;
use supabase_mcp::pg::testdb::TestDb;
use tokio_postgres::{Client, NoTls};

/// Objects of every class; `users.gone` is dropped so the restored table
/// has different column numbers.
const SCHEMA: &str = r#"
CREATE SCHEMA app;
CREATE TYPE public.mood AS ENUM ('sad', 'ok', 'happy');
CREATE DOMAIN public.positive AS numeric(10,2) DEFAULT 1 CONSTRAINT positive_check CHECK (VALUE > 0);
CREATE TYPE app.pair AS (l integer, r text COLLATE "C");
CREATE SEQUENCE public.ticket_seq START 1000 INCREMENT 5;
CREATE TABLE public.users (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    gone text,
    email text COLLATE "C" NOT NULL,
    mood public.mood DEFAULT 'ok',
    score numeric(10,2) CONSTRAINT users_score_check CHECK (score >= 0),
    balance public.positive,
    tags text[],
    doc jsonb DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT '2024-01-01 00:00:00+02',
    ticket bigint DEFAULT nextval('public.ticket_seq'),
    email_lower text GENERATED ALWAYS AS (lower(email)) STORED,
    owner_name name DEFAULT current_user
);
ALTER TABLE public.users DROP COLUMN gone;
CREATE UNIQUE INDEX users_email_lower_idx ON public.users (lower(email));
CREATE TABLE app.posts (
    id serial PRIMARY KEY,
    user_id bigint NOT NULL REFERENCES public.users (id) ON DELETE CASCADE,
    body text,
    pair app.pair
);
CREATE INDEX posts_user_idx ON app.posts (user_id);
CREATE FUNCTION public.add(a integer, b integer) RETURNS integer LANGUAGE sql IMMUTABLE AS 'SELECT a + b';
CREATE FUNCTION app.touch() RETURNS trigger LANGUAGE plpgsql
    AS $$ BEGIN NEW.body := coalesce(NEW.body, ''); RETURN NEW; END $$;
CREATE TRIGGER posts_touch BEFORE INSERT OR UPDATE ON app.posts FOR EACH ROW EXECUTE FUNCTION app.touch();
CREATE VIEW public.active_users AS SELECT id, email FROM public.users WHERE mood <> 'sad';
CREATE MATERIALIZED VIEW app.post_counts AS SELECT user_id, count(*) AS n FROM app.posts GROUP BY user_id;
ALTER TABLE public.users ENABLE ROW LEVEL SECURITY;
CREATE POLICY "own rows" ON public.users FOR SELECT TO authenticated, anon
    USING (owner_name = current_user AND email <> extensions.crypt('x', 'ab'));
CREATE FUNCTION extensions.mine() RETURNS integer LANGUAGE sql AS 'SELECT 1';
INSERT INTO public.users (email, score) VALUES ('a@example.com', 1), ('b@example.com', 2);
INSERT INTO app.posts (user_id, body) SELECT id, 'hello' FROM public.users;
REFRESH MATERIALIZED VIEW app.post_counts;
"#;

/// The keys the fingerprint must hold for `public` and `app`, exactly.
const PUBLIC_KEYS: &[&str] = &[
    "constraint public.positive.positive_check",
    "constraint public.users.users_pkey",
    "constraint public.users.users_score_check",
    "function public.add(a integer, b integer)",
    "index public.users_email_lower_idx",
    "index public.users_pkey",
    "policy public.users.\"own rows\"",
    "schema public",
    "sequence public.ticket_seq",
    "sequence public.users_id_seq",
    "table public.users",
    "type public.mood",
    "type public.positive",
    "view public.active_users",
];
const APP_KEYS: &[&str] = &[
    "constraint app.posts.posts_pkey",
    "constraint app.posts.posts_user_id_fkey",
    "function app.touch()",
    "index app.posts_pkey",
    "index app.posts_user_idx",
    "materialized view app.post_counts",
    "schema app",
    "sequence app.posts_id_seq",
    "table app.posts",
    "trigger app.posts.posts_touch",
    "type app.pair",
];

async fn connect(url: &str) -> Client {
    let (client, connection) = tokio_postgres::connect(url, NoTls).await.unwrap();
    tokio::spawn(connection);
    client
}

async fn take(client: &Client) -> Fingerprint {
    fingerprint::take(client, &Scope::default()).await.unwrap()
}

fn keys(fp: &Fingerprint) -> Vec<&str> {
    fp.objects.keys().map(String::as_str).collect()
}

/// A role dropped when this value is dropped; declare it before the
/// databases that use it, so that they are dropped first.
struct Role {
    admin: String,
    name: String,
}

impl Drop for Role {
    fn drop(&mut self) {
        let sql = format!("DROP ROLE IF EXISTS \"{}\"", self.name);
        match Command::new("psql")
            .args([&self.admin, "-qc", &sql])
            .output()
        {
            Ok(out) if out.status.success() => {}
            Ok(out) => eprintln!("warning: {sql}: {}", String::from_utf8_lossy(&out.stderr)),
            Err(error) => eprintln!("warning: {sql}: {error}"),
        }
    }
}

/// A source database with [`SCHEMA`], dumped with `pg_dump -Fc` and restored
/// into a blank database.
async fn source_and_restored() -> (TestDb, Blank) {
    let source = TestDb::new().await.unwrap();
    connect(&source.url)
        .await
        .batch_execute(SCHEMA)
        .await
        .unwrap();
    let tools = pgtools::find(None, 15).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("db.dump");
    let out = Command::new(&tools.pg_dump.path)
        .args(["-Fc", "-f"])
        .arg(&archive)
        .args(["-d", &source.url])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let restored = Blank::new(&source).await;
    let out = Command::new(&tools.pg_restore.path)
        .args(["--exit-on-error", "-d", &restored.url])
        .arg(&archive)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (source, restored)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dump_and_restore_keeps_the_fingerprint() {
    let (source, restored) = source_and_restored().await;
    let expected = take(&connect(&source.url).await).await;
    let actual = take(&connect(&restored.url).await).await;

    assert_eq!(fingerprint::compare(&expected, &actual), vec![]);
    assert_eq!(expected, actual);
    // The dropped column did change the physical layout.
    let attnum = "SELECT attnum FROM pg_attribute WHERE attrelid = 'public.users'::regclass AND attname = 'email'";
    let before: i16 = connect(&source.url)
        .await
        .query_one(attnum, &[])
        .await
        .unwrap()
        .get(0);
    let after: i16 = connect(&restored.url)
        .await
        .query_one(attnum, &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!((before, after), (3, 2));

    assert_eq!(keys(&expected.restrict(&["public".into()])), PUBLIC_KEYS);
    assert_eq!(keys(&expected.restrict(&["app".into()])), APP_KEYS);
    for key in [
        "extension pgcrypto",
        "extension plpgsql",
        "schema auth",
        "function extensions.mine()",
    ] {
        assert!(
            expected.objects.contains_key(key),
            "{key} missing: {:?}",
            keys(&expected)
        );
    }
    for digest in expected.objects.values() {
        assert_eq!(digest.len(), 16);
        assert!(
            digest.chars().all(|c| matches!(c, '0'..='9' | 'a'..='f')),
            "{digest}"
        );
    }
    // The fixture's objects (auth, storage, ...) are there too.
    assert!(expected.objects.len() > PUBLIC_KEYS.len() + APP_KEYS.len() + 20);

    drop(restored);
    source.drop_database().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn each_schema_change_is_reported_by_name() {
    let (source, restored) = source_and_restored().await;
    let client = connect(&restored.url).await;
    let mut before = take(&client).await;
    assert_eq!(before, take(&connect(&source.url).await).await);

    let changes: [(&str, Difference); 7] = [
        (
            "DROP INDEX app.posts_user_idx",
            Difference::Missing("index app.posts_user_idx".into()),
        ),
        (
            "ALTER TABLE public.users ADD COLUMN nick text",
            Difference::Changed("table public.users".into()),
        ),
        (
            "CREATE OR REPLACE FUNCTION public.add(a integer, b integer) RETURNS integer \
             LANGUAGE sql IMMUTABLE AS 'SELECT a + b + 0'",
            Difference::Changed("function public.add(a integer, b integer)".into()),
        ),
        (
            "CREATE TABLE public.extra_t (x integer)",
            Difference::Extra("table public.extra_t".into()),
        ),
        (
            "ALTER POLICY \"own rows\" ON public.users USING (owner_name = current_user)",
            Difference::Changed("policy public.users.\"own rows\"".into()),
        ),
        (
            "ALTER TYPE public.mood ADD VALUE 'ecstatic'",
            Difference::Changed("type public.mood".into()),
        ),
        (
            "ALTER TABLE public.users DISABLE ROW LEVEL SECURITY",
            Difference::Changed("table public.users".into()),
        ),
    ];
    for (sql, expected) in changes {
        client.batch_execute(sql).await.unwrap();
        let after = take(&client).await;
        assert_eq!(
            fingerprint::compare(&before, &after),
            vec![expected],
            "after {sql}"
        );
        before = after;
    }
    let shown: Vec<String> =
        fingerprint::compare(&take(&connect(&source.url).await).await, &before)
            .iter()
            .map(ToString::to_string)
            .collect();
    assert_eq!(
        shown,
        [
            "changed: function public.add(a integer, b integer)",
            "missing: index app.posts_user_idx",
            "changed: policy public.users.\"own rows\"",
            "unexpected: table public.extra_t",
            "changed: table public.users",
            "changed: type public.mood",
        ]
    );

    drop(restored);
    source.drop_database().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn the_scope_selects_schemas_and_leaves_out_extension_and_temporary_objects() {
    let db = TestDb::new().await.unwrap();
    let client = connect(&db.url).await;
    client.batch_execute(SCHEMA).await.unwrap();
    client
        .batch_execute("CREATE TEMPORARY TABLE scratch (x integer PRIMARY KEY)")
        .await
        .unwrap();
    let all = take(&client).await;

    // pgcrypto's functions exist in `extensions` but belong to the extension.
    let crypto: i64 = client
        .query_one(
            "SELECT count(*) FROM pg_proc WHERE pronamespace = 'extensions'::regnamespace AND proname = 'crypt'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(crypto, 1);
    let in_extensions: Vec<&str> = keys(&all)
        .into_iter()
        .filter(|k| k.contains(" extensions."))
        .collect();
    assert_eq!(in_extensions, ["function extensions.mine()"]);
    assert!(all.objects.contains_key("extension pgcrypto"));
    assert!(all.objects.contains_key("extension \"uuid-ossp\""));
    assert!(
        !keys(&all)
            .iter()
            .any(|k| k.contains("pg_temp") || k.contains("scratch")),
        "{:?}",
        keys(&all)
    );
    assert!(
        !keys(&all)
            .iter()
            .any(|k| k.contains("pg_catalog.") || k.contains("information_schema"))
    );

    let app = fingerprint::take(
        &client,
        &Scope {
            schemas: vec!["app".into()],
            exclude_schemas: vec![],
        },
    )
    .await
    .unwrap();
    assert_eq!(keys(&app), APP_KEYS);
    assert_eq!(app, all.restrict(&["app".into()]));
    let two = fingerprint::take(
        &client,
        &Scope {
            schemas: vec!["app".into(), "public".into()],
            exclude_schemas: vec!["public".into()],
        },
    )
    .await
    .unwrap();
    assert_eq!(two, app);

    let excluded = ["app", "auth", "extensions"].map(String::from).to_vec();
    let rest = fingerprint::take(
        &client,
        &Scope {
            schemas: vec![],
            exclude_schemas: excluded,
        },
    )
    .await
    .unwrap();
    let expected: Vec<&str> = keys(&all)
        .into_iter()
        .filter(|k| {
            !k.contains(" app.")
                && !k.contains(" auth.")
                && !k.contains(" extensions.")
                && !["schema app", "schema auth", "schema extensions"].contains(k)
                && !k.starts_with("extension ")
        })
        .collect();
    // plpgsql lives in pg_catalog, not in an excluded schema.
    let mut expected = expected;
    expected.push("extension plpgsql");
    expected.sort();
    assert_eq!(keys(&rest), expected);
    assert!(rest.objects.contains_key("table public.users"));
    assert!(rest.objects.contains_key("schema storage"));
    // Shared digests are equal: the scope does not change definitions.
    for (key, digest) in &rest.objects {
        assert_eq!(all.objects.get(key), Some(digest), "{key}");
    }

    drop(client);
    db.drop_database().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn owners_grants_and_session_settings_do_not_change_the_fingerprint() {
    let role = Role {
        admin: supabase_mcp::pg::testdb::admin_url_from_env(),
        name: format!("smcp_fp_{:08x}", rand::random::<u32>()),
    };
    let db = TestDb::new().await.unwrap();
    let client = connect(&db.url).await;
    client.batch_execute(SCHEMA).await.unwrap();
    let before = take(&client).await;

    let r = &role.name;
    client
        .batch_execute(&format!(
            "CREATE ROLE \"{r}\";
             ALTER TABLE public.users OWNER TO \"{r}\";
             ALTER FUNCTION public.add(integer, integer) OWNER TO \"{r}\";
             ALTER SCHEMA app OWNER TO \"{r}\";
             ALTER TYPE public.mood OWNER TO \"{r}\";
             GRANT SELECT, INSERT ON app.posts TO \"{r}\";
             GRANT USAGE ON SEQUENCE public.ticket_seq TO \"{r}\";
             GRANT EXECUTE ON FUNCTION app.touch() TO \"{r}\";
             REVOKE ALL ON public.active_users FROM PUBLIC;"
        ))
        .await
        .unwrap();
    let owner: String = client
        .query_one(
            "SELECT relowner::regrole::text FROM pg_class WHERE oid = 'public.users'::regclass",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(&owner, r);
    assert_eq!(fingerprint::compare(&before, &take(&client).await), vec![]);

    // Other settings in the session give the same fingerprint and stay as set.
    let settings = "SELECT current_setting('search_path'), current_setting('TimeZone'), current_setting('DateStyle')";
    client
        .batch_execute("SET search_path = app, public, extensions; SET TimeZone = 'Asia/Tokyo'; SET DateStyle = 'SQL, DMY'")
        .await
        .unwrap();
    assert_eq!(take(&client).await, before);
    let row = client.query_one(settings, &[]).await.unwrap();
    let shown: (String, String, String) = (row.get(0), row.get(1), row.get(2));
    assert_eq!(
        shown,
        (
            "app, public, extensions".into(),
            "Asia/Tokyo".into(),
            "SQL, DMY".into()
        )
    );

    // Inside the caller's transaction, transaction-local values stay too.
    client
        .batch_execute("BEGIN; SET LOCAL search_path = public; SET LOCAL TimeZone = 'UTC'")
        .await
        .unwrap();
    assert_eq!(take(&client).await, before);
    let row = client.query_one(settings, &[]).await.unwrap();
    let shown: (String, String, String) = (row.get(0), row.get(1), row.get(2));
    assert_eq!(shown, ("public".into(), "UTC".into(), "SQL, DMY".into()));
    client.batch_execute("COMMIT").await.unwrap();
    let row = client.query_one(settings, &[]).await.unwrap();
    assert_eq!(row.get::<_, String>(0), "app, public, extensions");

    drop(client);
    db.drop_database().await.unwrap();
    drop(role);
}
