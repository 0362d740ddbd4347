//! Data offsets recorded from a real `pg_dump -Fc` written to a pipe: after
//! patching, the archive is byte for byte what `pg_dump` writes to a file
//! (apart from the creation time in the header), for uncompressed and
//! compressed data and with large objects. The table of contents and the
//! data blocks handed out while the archive arrives (what a staged restore
//! runs on) agree with `pg_restore`'s own view of the archive.

use std::process::{Command, Stdio};

use supabase_mcp::backup::custom_archive::{OffsetRecorder, Section, restore_sections};
use supabase_mcp::pg::testdb::TestDb;

async fn source() -> TestDb {
    let db = TestDb::new().await.unwrap();
    let c = db.client().await.unwrap();
    c.batch_execute(
        "CREATE TABLE public.a (id int PRIMARY KEY, t text);
         INSERT INTO public.a SELECT g, repeat('x', g % 50) FROM generate_series(1, 20000) g;
         CREATE TABLE public.b (id int, doc jsonb);
         INSERT INTO public.b SELECT g, jsonb_build_object('g', g) FROM generate_series(1, 5000) g;
         CREATE TABLE public.empty (id int);
         CREATE VIEW public.v AS SELECT id FROM public.a;
         SELECT lo_from_bytea(0, convert_to(repeat('large object ', 1000), 'UTF8'));
         SELECT lo_from_bytea(0, '\\x00ff'::bytea);",
    )
    .await
    .unwrap();
    db
}

fn dump(url: &str, level: &str, to_file: Option<&std::path::Path>) -> Vec<u8> {
    let mut cmd = Command::new("pg_dump");
    cmd.args(["-Fc", "-Z", level, "-d", url]);
    if let Some(f) = to_file {
        cmd.arg("-f").arg(f);
    }
    let out = cmd.stderr(Stdio::inherit()).output().unwrap();
    assert!(out.status.success());
    match to_file {
        Some(f) => std::fs::read(f).unwrap(),
        None => out.stdout,
    }
}

/// Magic, version, sizes, format (11 bytes), compression (an integer of
/// 5 bytes in 1.14), then seven integers of creation time.
fn without_time(a: &[u8]) -> Vec<u8> {
    assert_eq!(&a[5..7], &[1, 14], "archive version 1.14 (PostgreSQL 15)");
    let mut v = a[..16].to_vec();
    v.extend_from_slice(&a[16 + 7 * 5..]);
    v
}

#[tokio::test(flavor = "multi_thread")]
async fn patched_pipe_output_equals_what_pg_dump_writes_to_a_file() {
    let db = source().await;
    let dir = tempfile::tempdir().unwrap();
    for level in ["0", "6"] {
        let from_file = dump(&db.url, level, Some(&dir.path().join("f.dump")));
        let piped = dump(&db.url, level, None);
        assert_eq!(piped.len(), from_file.len());
        assert_ne!(
            without_time(&piped),
            without_time(&from_file),
            "the piped archive lacks the offsets"
        );
        let mut rec = OffsetRecorder::new();
        for chunk in piped.chunks(65_536 + 7) {
            rec.feed(chunk);
        }
        let mut spool = std::io::Cursor::new(piped);
        let patched = rec.patch(&mut spool).unwrap();
        // Every entry with data: table data (also of empty tables) and the
        // large objects, as `pg_restore --list` names them.
        let list = Command::new("pg_restore")
            .arg("--list")
            .arg(dir.path().join("f.dump"))
            .output()
            .unwrap();
        let list = String::from_utf8(list.stdout).unwrap();
        let with_data = list
            .lines()
            .filter(|l| {
                !l.starts_with(';') && (l.contains(" TABLE DATA ") || l.contains(" BLOBS "))
            })
            .count();
        assert!(list.contains("TABLE DATA public empty"), "{list}");
        assert_eq!(patched.entries, with_data, "level {level}");
        assert_eq!(
            without_time(&spool.into_inner()),
            without_time(&from_file),
            "level {level}"
        );
    }
    db.drop_database().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cut_archive_is_not_patched() {
    let db = source().await;
    let piped = dump(&db.url, "0", None);
    let cut = &piped[..piped.len() / 2];
    let mut rec = OffsetRecorder::new();
    rec.feed(cut);
    let mut spool = std::io::Cursor::new(cut.to_vec());
    let e = rec.patch(&mut spool).unwrap_err();
    assert!(e.to_string().contains("ends inside a data block"), "{e}");
    assert_eq!(spool.into_inner(), cut);
    db.drop_database().await.unwrap();
}

/// The dump ids `pg_restore --list` prints, with `extra` arguments.
fn listed(file: &std::path::Path, extra: &[&str]) -> Vec<i64> {
    let out = Command::new("pg_restore")
        .arg("--list")
        .args(extra)
        .arg(file)
        .output()
        .unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with(';') && !l.trim().is_empty())
        .map(|l| l.split(';').next().unwrap().trim().parse().unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn sections_and_blocks_agree_with_pg_restore() {
    let db = source().await;
    // Entries of every section and some without one: comments, grants,
    // constraints, a trigger, a policy, a materialized view, a sequence.
    db.client()
        .await
        .unwrap()
        .batch_execute(
            "COMMENT ON TABLE public.a IS 'a';
             CREATE TABLE public.c (id int REFERENCES public.a, n serial);
             INSERT INTO public.c (id) SELECT g FROM generate_series(1, 100) g;
             CREATE INDEX c_id ON public.c (id);
             COMMENT ON INDEX public.c_id IS 'by id';
             CREATE FUNCTION public.touch() RETURNS trigger LANGUAGE plpgsql AS
               $$ BEGIN RETURN NEW; END $$;
             CREATE TRIGGER c_touch BEFORE INSERT ON public.c
               FOR EACH ROW EXECUTE FUNCTION public.touch();
             ALTER TABLE public.c ENABLE ROW LEVEL SECURITY;
             CREATE POLICY c_read ON public.c FOR SELECT USING (true);
             GRANT SELECT ON public.c TO anon;
             CREATE MATERIALIZED VIEW public.m AS SELECT count(*) FROM public.c;",
        )
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("f.dump");
    dump(&db.url, "0", Some(&file));
    let piped = dump(&db.url, "0", None);

    let mut rec = OffsetRecorder::new();
    let mut blocks = Vec::new();
    for chunk in piped.chunks(4096 + 3) {
        rec.feed(chunk);
        blocks.extend(rec.take_completed());
    }
    let toc = rec.toc().expect("the table of contents is parsed").to_vec();
    let sections = restore_sections(&toc);

    // Each listed entry is in the section `pg_restore --section` puts it in.
    let all = listed(&file, &[]);
    assert!(all.len() > 20, "{all:?}");
    for (name, section) in [
        ("pre-data", Section::PreData),
        ("data", Section::Data),
        ("post-data", Section::PostData),
    ] {
        let theirs = listed(&file, &[&format!("--section={name}")]);
        let ours: Vec<i64> = toc
            .iter()
            .zip(&sections)
            .filter(|(e, s)| **s == section && all.contains(&e.dump_id))
            .map(|(e, _)| e.dump_id)
            .collect();
        assert_eq!(ours, theirs, "{name}");
        assert!(!ours.is_empty(), "{name}");
    }
    let descs: Vec<&str> = toc.iter().map(|e| e.desc.as_str()).collect();
    for d in [
        "TABLE",
        "TABLE DATA",
        "FK CONSTRAINT",
        "TRIGGER",
        "POLICY",
        "ACL",
        "COMMENT",
    ] {
        assert!(descs.contains(&d), "{d} missing in {descs:?}");
    }

    // One block per entry with data, back to back up to the end of the
    // archive, each recorded where `pg_dump` records it in a file.
    let with_data: Vec<i64> = toc
        .iter()
        .filter(|e| e.has_data)
        .map(|e| e.dump_id)
        .collect();
    let mut ids: Vec<i64> = blocks.iter().map(|b| b.dump_id).collect();
    ids.sort();
    let mut expected = with_data.clone();
    expected.sort();
    assert_eq!(ids, expected);
    for w in blocks.windows(2) {
        assert_eq!(w[0].start + w[0].len, w[1].start, "{w:?}");
    }
    let last = blocks.last().unwrap();
    assert_eq!(last.start + last.len, piped.len() as u64);
    let mut patched = piped.clone();
    for b in &blocks {
        let (pos, field) = rec.offset_field(b).unwrap();
        patched[pos as usize..pos as usize + field.len()].copy_from_slice(&field);
    }
    assert_eq!(
        without_time(&patched),
        without_time(&std::fs::read(&file).unwrap())
    );
    db.drop_database().await.unwrap();
}
