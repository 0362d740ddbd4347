//! SQL safety: the classifier against a corpus of statements (no database),
//! and read-only mode against bypass attempts run through the real server
//! with `--read-only`, each checked with a separate admin connection to
//! have written nothing.

mod common;

use common::*;
use serde_json::{Value, json};
use supabase_mcp::pg::testdb::TestDb;
use supabase_mcp::sql::classify::{Level, classify};

use Level::{Destructive as D, Forbidden as F, Invalid as I, Read as R, Write as W};

/// (SQL, expected level of the whole string).
const CORPUS: &[(&str, Level)] = &[
    // reads
    ("select 1", R),
    (
        "SELECT id, title FROM public.posts WHERE status = 'published' ORDER BY id LIMIT 5",
        R,
    ),
    ("values (1, 'a'), (2, 'b')", R),
    ("show search_path", R),
    ("explain select * from public.posts", R),
    ("explain delete from public.posts", R),
    ("explain (costs off) update public.posts set title = 'x'", R),
    (
        "select count(*), max(id), string_agg(title, ',') from public.posts group by author_id",
        R,
    ),
    (
        "select now(), current_user, version(), pg_size_pretty(pg_database_size(current_database()))",
        R,
    ),
    (
        "select jsonb_build_object('a', 1) ->> 'a', lower('X'), coalesce(null, 1)",
        R,
    ),
    ("with t as (select 1 as x) select x from t", R),
    (
        "with recursive r(n) as (select 1 union all select n + 1 from r where n < 5) select * from r",
        R,
    ),
    (
        "select * from generate_series(1, 10) g join lateral (select g * 2 as d) x on true",
        R,
    ),
    ("-- a comment\nselect 1 /* block /* nested */ comment */", R),
    ("select 'drop table x; delete from y'", R),
    ("select $$ drop table x $$, $tag$ truncate y $tag$", R),
    ("select E'it\\'s; delete from t'", R),
    ("select \"drop\" from (select 1 as \"drop\") t", R),
    ("SeLeCt 1 FrOm PuBlIc.PoStS", R),
    ("select auth.uid(), auth.role()", R),
    ("select pg_sleep(0)", R),
    ("table public.posts", R),
    ("select 1; select 2; values (3)", R),
    // writes
    ("insert into public.posts (title) values ('x')", W),
    (
        "INSERT INTO t SELECT * FROM u ON CONFLICT (id) DO UPDATE SET v = excluded.v",
        W,
    ),
    ("update public.posts set title = 'y' where id = 1", W),
    ("delete from public.posts where id = 1", W),
    (
        "delete from public.posts where id in (select id from public.posts limit 1)",
        W,
    ),
    (
        "merge into t using u on t.id = u.id when matched then update set v = u.v",
        W,
    ),
    (
        "create table public.t (id int primary key, body text default md5(random()::text))",
        W,
    ),
    ("create temp table tt (a int)", W),
    ("create index on public.posts (title)", W),
    ("create view v as select 1", W),
    ("alter table public.posts add column c int", W),
    (
        "alter table public.posts rename column title to headline",
        W,
    ),
    ("grant select on public.posts to anon", W),
    ("comment on table public.posts is 'hi'", W),
    ("do $$ begin raise notice 'hi'; end $$", W),
    (
        "do $$ begin insert into public.posts(title) values ('x'); end $$",
        W,
    ),
    ("call my_proc()", W),
    ("select my_function()", W),
    ("select public.lower('x')", W),
    ("select nextval('s')", W),
    ("select * from public.posts for update", W),
    ("select * from public.posts for share skip locked", W),
    (
        "with d as (delete from t where id = 1 returning *) select * from d",
        W,
    ),
    ("begin; select 1; commit", W),
    ("set search_path = public", W),
    ("set local statement_timeout = 0", W),
    ("reset all", W),
    ("prepare p as select 1", W),
    ("listen ch", W),
    ("notify ch, 'x'", W),
    ("select set_config('search_path', 'x', true)", W),
    ("create role r login", W),
    ("vacuum public.posts", W),
    (
        "create function f() returns int language sql as $$ select 1 $$",
        W,
    ),
    ("select 1; insert into t values (1)", W),
    // destructive
    ("drop table public.posts", D),
    ("DROP TABLE IF EXISTS a, b CASCADE", D),
    ("truncate public.posts", D),
    ("delete from public.posts", D),
    ("update public.posts set title = 'z'", D),
    ("delete from public.posts where true", D),
    ("update public.posts set title = 'z' where 1 = 1", D),
    ("alter table public.posts drop column title", D),
    (
        "alter table public.posts alter column title drop default",
        D,
    ),
    ("revoke select on public.posts from anon", D),
    ("drop schema s cascade", D),
    ("drop role r", D),
    (
        "with d as (delete from public.posts returning *) select count(*) from d",
        D,
    ),
    ("select 1; /* comment */ DrOp TaBlE x", D),
    ("select pg_terminate_backend(123)", D),
    ("do $$ begin drop table public.posts; end $$", D),
    ("do $$ begin execute 'truncate public.posts'; end $$", D),
    (
        "create function f() returns void language sql as $$ delete from public.posts $$",
        D,
    ),
    ("explain analyze delete from public.posts", D),
    // forbidden
    ("copy public.posts to program 'curl x'", F),
    ("copy public.posts from '/etc/passwd'", F),
    ("copy (select 1) to '/tmp/x'", F),
    ("select pg_read_file('/etc/passwd')", F),
    ("select pg_catalog.pg_read_binary_file('/etc/passwd')", F),
    ("select * from pg_ls_dir('.')", F),
    ("select pg_stat_file('postgresql.conf')", F),
    ("select lo_import('/etc/passwd')", F),
    ("select lo_export(1, '/tmp/x')", F),
    ("select dblink_exec('dbname=x', 'drop table t')", F),
    (
        "select * from extensions.dblink('x', 'select 1') as t(a int)",
        F,
    ),
    ("alter system set work_mem = '1GB'", F),
    ("create role r superuser", F),
    ("alter role postgres with superuser", F),
    ("grant pg_execute_server_program to anon", F),
    ("load 'plpgsql'", F),
    (
        "create function f() returns int language plpython3u as $$ return 1 $$",
        F,
    ),
    ("do language plperlu $$ system('id') $$", F),
    ("do $$ begin perform pg_read_file('/etc/passwd'); end $$", F),
    ("create view v as select pg_read_file('/etc/passwd')", F),
    ("select 1; select pg_ls_dir('/')", F),
    // invalid
    ("SELCT 1", I),
    ("select 'unterminated", I),
    ("select (1", I),
];

#[test]
fn corpus_levels() {
    assert!(CORPUS.len() >= 60, "{} statements", CORPUS.len());
    let mut wrong = Vec::new();
    for (sql, expected) in CORPUS {
        let c = classify(sql);
        if c.level != *expected {
            wrong.push(format!(
                "{sql:?}: expected {expected:?}, got {:?} ({:?})",
                c.level,
                c.statements
                    .iter()
                    .map(|s| format!("{} {:?}: {}", s.kind, s.level, s.reason))
                    .collect::<Vec<_>>()
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn reasons_kinds_and_session_control() {
    let c = classify("select 1;\n-- x\nDELETE FROM public.posts");
    assert_eq!(c.statements.len(), 2);
    assert_eq!(c.statements[1].kind, "DELETE");
    assert_eq!(c.statements[1].line, 3);
    assert!(
        c.statements[1].reason.contains("without WHERE"),
        "{:?}",
        c.statements[1]
    );
    for sql in [
        "commit",
        "begin",
        "rollback",
        "set transaction read write",
        "set session characteristics as transaction read write",
        "select set_config('transaction_read_only', 'off', false)",
        "reset all",
        "set role postgres",
        "set session authorization postgres",
        "discard all",
        "prepare p as select 1",
        "execute p",
        "listen x",
    ] {
        assert!(
            classify(sql).session_control().is_some(),
            "{sql} is session control"
        );
    }
    assert!(classify("select 1").session_control().is_none());
    let c = classify("select my_f()");
    assert!(c.statements[0].functions_only);
    assert!(!classify("select nextval('s')").statements[0].functions_only);
    let e = classify("select 1;\nSELCT 2").error.unwrap();
    assert_eq!((e.line, e.column), (2, 1));
}

/// Everything a write could change, as one comparable value.
async fn snapshot(admin: &tokio_postgres::Client) -> Value {
    let row = admin
        .query_one(
            "select (select count(*) from public.posts), (select count(*) from public.comments), \
                    (select count(*) from public.canary), (select md5(string_agg(id || v, ',' order by id)) from public.canary), \
                    (select last_value from public.canary_seq), \
                    (select string_agg(c.relname, ',' order by c.relname) from pg_class c \
                       join pg_namespace n on n.oid = c.relnamespace where n.nspname = 'public'), \
                    (select string_agg(proname, ',' order by proname) from pg_proc where pronamespace = 'public'::regnamespace), \
                    (select count(*) from pg_roles), \
                    (select count(*) from pg_largeobject_metadata)",
            &[],
        )
        .await
        .unwrap();
    json!({
        "posts": row.get::<_, i64>(0),
        "comments": row.get::<_, i64>(1),
        "canary": row.get::<_, i64>(2),
        "canary_md5": row.get::<_, Option<String>>(3),
        "seq": row.get::<_, i64>(4),
        "relations": row.get::<_, Option<String>>(5),
        "functions": row.get::<_, Option<String>>(6),
        "roles": row.get::<_, i64>(7),
        "large_objects": row.get::<_, i64>(8),
    })
}

const SETUP: &str = "
create table public.canary (id int primary key, v text not null);
insert into public.canary values (1, 'a'), (2, 'b');
create sequence public.canary_seq;
select nextval('public.canary_seq');
create function public.write_canary() returns int language plpgsql as $$
  begin insert into public.canary values (99, 'x'); return 1; end $$;
create function public.bump() returns bigint language sql as $$ select nextval('public.canary_seq') $$;
create function public.definer_write() returns int language plpgsql security definer as $$
  begin delete from public.canary; return 1; end $$;
create procedure public.write_proc() language sql as $$ insert into public.canary values (98, 'y') $$;
";

#[tokio::test(flavor = "multi_thread")]
async fn read_only_bypass_attempts_fail_and_write_nothing() {
    let db = TestDb::with_sample_data().await.unwrap();
    let admin = db.client().await.unwrap();
    admin.batch_execute(SETUP).await.unwrap();
    let marker = std::env::temp_dir().join(format!("smcp_pwned_{}", std::process::id()));
    let _ = std::fs::remove_file(&marker);
    let mut s = Server::start(Some(db), &["--read-only"]).await;
    let before = snapshot(&admin).await;

    let attempts: Vec<String> = vec![
        "COMMIT; DROP TABLE public.canary".into(),
        "commit; insert into public.canary values (3, 'c')".into(),
        "BEGIN; DELETE FROM public.canary WHERE id = 1; COMMIT; DROP TABLE public.canary".into(),
        "SET TRANSACTION READ WRITE; INSERT INTO public.canary VALUES (3, 'c')".into(),
        "SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE; INSERT INTO public.canary VALUES (3, 'c')".into(),
        "select set_config('transaction_read_only', 'off', false); insert into public.canary values (3, 'c')".into(),
        "select pg_catalog.set_config('default_transaction_read_only', 'off', false)".into(),
        "RESET ALL; INSERT INTO public.canary VALUES (3, 'c')".into(),
        "SET ROLE postgres; INSERT INTO public.canary VALUES (3, 'c')".into(),
        "SET SESSION AUTHORIZATION postgres; DELETE FROM public.canary WHERE id = 1".into(),
        "DISCARD ALL; INSERT INTO public.canary VALUES (3, 'c')".into(),
        "select public.write_canary()".into(),
        "select public.bump()".into(),
        "select public.definer_write()".into(),
        "select x from public.write_canary() x, generate_series(1, 2)".into(),
        "CREATE TEMP TABLE t AS SELECT 1".into(),
        "SELECT * FROM public.canary FOR UPDATE".into(),
        format!("COPY public.canary TO PROGRAM 'touch {}'", marker.display()),
        "DO $$ begin insert into public.canary values (3, 'c'); end $$".into(),
        "/* harmless */ InSeRt /* x */ INTO public.canary VALUES (4, 'd') -- comment".into(),
        "WITH x AS (DELETE FROM public.canary WHERE id = 1 RETURNING *) SELECT * FROM x".into(),
        "EXPLAIN ANALYZE DELETE FROM public.canary WHERE id = 1".into(),
        "CALL public.write_proc()".into(),
        "PREPARE p AS DELETE FROM public.canary WHERE id = 1; EXECUTE p".into(),
        "LISTEN ch; NOTIFY ch, 'x'".into(),
        "SELECT nextval('public.canary_seq')".into(),
        "ROLLBACK; INSERT INTO public.canary VALUES (5, 'e')".into(),
        "END; DROP TABLE public.canary".into(),
        "ABORT; INSERT INTO public.canary VALUES (5, 'e')".into(),
        "START TRANSACTION READ WRITE; INSERT INTO public.canary VALUES (5, 'e')".into(),
        "SAVEPOINT a; RELEASE a; INSERT INTO public.canary VALUES (5, 'e')".into(),
        "UPDATE pg_settings SET setting = 'off' WHERE name = 'transaction_read_only'".into(),
        "select * from public.canary; commit; insert into public.canary values (6, 'f')".into(),
        "SeLeCt 1; dElEtE fRoM public.canary wHeRe id = 1".into(),
        "select E'\\\\'; delete from public.canary where id = 1 --'".into(),
        "select $x$ $$ $x$; delete from public.canary where id = 1".into(),
        "select lo_import('/etc/hostname')".into(),
        "select pg_read_file('/etc/hostname')".into(),
        "select * from dblink('dbname=postgres', 'delete from public.canary') as t(x int)".into(),
        "create function public.evil() returns int language sql as $$ delete from public.canary where id = 1 returning 1 $$".into(),
        "TRUNCATE public.canary".into(),
        "DELETE FROM public.canary".into(),
        "GRANT ALL ON public.canary TO anon".into(),
        "select txid_current()".into(),
        "select pg_advisory_lock(42)".into(),
        "alter role authenticated set default_transaction_read_only = off".into(),
    ];
    assert!(attempts.len() >= 25);
    for q in &attempts {
        let r = s.call("execute_sql", json!({ "query": q })).await;
        assert!(
            is_error(&r),
            "the attempt succeeded: {q}\n{}",
            serde_json::to_string_pretty(&r).unwrap()
        );
        assert_eq!(snapshot(&admin).await, before, "state changed after: {q}");
        eprintln!(
            "{:>18} {}",
            error_code(&r),
            r["structuredContent"]["error"]["message"]
                .as_str()
                .unwrap_or("")
        );
    }
    assert!(!marker.exists(), "COPY ... TO PROGRAM ran");
    // The server and its connections still work, read-only, as the read-only role.
    let r = s
        .call(
            "execute_sql",
            json!({"query": "select current_user as who, current_setting('transaction_read_only') as ro, count(*) as n from public.canary"}),
        )
        .await;
    assert_eq!(status(&r), "ok", "{r}");
    assert_eq!(data(&r)["rows"][0]["who"], "supabase_read_only_user");
    assert_eq!(data(&r)["rows"][0]["ro"], "on");
    assert_eq!(data(&r)["rows"][0]["n"], 2);
    assert_eq!(data(&r)["role"], "supabase_read_only_user");
    assert_eq!(snapshot(&admin).await, before);
}

#[tokio::test(flavor = "multi_thread")]
async fn read_only_argument_and_database_enforcement() {
    let db = TestDb::with_sample_data().await.unwrap();
    let admin = db.client().await.unwrap();
    admin.batch_execute(SETUP).await.unwrap();
    let mut s = Server::start(Some(db), &[]).await;
    let before = snapshot(&admin).await;
    // A function the classifier cannot judge reaches the database, which refuses the write.
    let r = s
        .call(
            "execute_sql",
            json!({"query": "select public.write_canary()", "read_only": true}),
        )
        .await;
    assert_eq!(error_code(&r), "read_only", "{r}");
    assert!(text(&r).contains("read-only"), "{}", text(&r));
    // Destructive SQL with read_only: refused, no confirmation asked.
    let r = s
        .call(
            "execute_sql",
            json!({"query": "drop table public.canary", "read_only": true}),
        )
        .await;
    assert_eq!(error_code(&r), "read_only", "{r}");
    assert_eq!(snapshot(&admin).await, before);
    // A successful read-only call leaves nothing behind on its connection.
    let r = s
        .call(
            "execute_sql",
            json!({"query": "select current_user as u", "read_only": true}),
        )
        .await;
    assert_eq!(data(&r)["rows"][0]["u"], "supabase_read_only_user", "{r}");
    let r = s
        .call(
            "execute_sql",
            json!({"query": "select current_user as u, current_setting('default_transaction_read_only') as d, current_setting('transaction_read_only') as t"}),
        )
        .await;
    assert_eq!(
        data(&r)["rows"][0],
        json!({"u": "postgres", "d": "off", "t": "off"}),
        "{r}"
    );
    // Forbidden statements are refused whatever the mode.
    let r = s
        .call(
            "execute_sql",
            json!({"query": "select pg_read_file('/etc/hostname')"}),
        )
        .await;
    assert_eq!(error_code(&r), "permission_denied", "{r}");
    assert!(text(&r).contains("forbidden"), "{}", text(&r));
    // Writes in write mode work; SET ROLE to a non-superuser is allowed and
    // does not leak into the next call.
    let r = s
        .call(
            "execute_sql",
            json!({"query": "insert into public.canary values (10, 'z')"}),
        )
        .await;
    assert_eq!(status(&r), "ok", "{r}");
    assert_eq!(data(&r)["commands"][0]["rows"], 1);
    let r = s
        .call(
            "execute_sql",
            json!({"query": "set role anon; select current_user as u"}),
        )
        .await;
    assert_eq!(status(&r), "ok", "{r}");
    assert_eq!(data(&r)["rows"][0]["u"], "anon");
    for _ in 0..3 {
        let r = s
            .call("execute_sql", json!({"query": "select current_user as u"}))
            .await;
        assert_eq!(data(&r)["rows"][0]["u"], "postgres", "{r}");
    }
}
