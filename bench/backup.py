#!/usr/bin/env python3
"""Backup and restore benchmark for supabase-mcp.

Creates a throwaway database (`smcp_bench_backup`, about --size-mb MB as
reported by pg_database_size; mixed realistic data: text, jsonb, numeric,
timestamps, uuids, and random hex/bytea columns so zstd gets a realistic
2-4x, not 100x), then measures in the same run, by wall time (median and
best of --runs runs, alternating ours and the baseline):

  backup   ours:     supabase-mcp --db-url ... --backup-dir ... --data-dir ...
                       --backup-key-file KEY backup create --compression zstd:3
           baseline: pg_dump -Fc -Z0 | zstd -3 -T0
                       | openssl enc -aes-256-ctr -pbkdf2 > file   (bash -o pipefail)
           figures:  times and ratio (target <= 1.1), stored bytes vs the
                     baseline's file (target: ours no larger), our peak RSS
                     (VmHWM of the supabase-mcp process itself; target < 50 MB)
  restore  ours:     supabase-mcp ... restore ID --new-database DB_r1 --jobs J
           baseline: pg_restore -j J -d DB_r2 PLAIN   (PLAIN = pg_dump -Fc -Z0,
                     made outside the timing; DB_r2 created outside the timing)
           floor:    the baseline while `backup verify` decrypts, decompresses
                     and hashes the same backup beside it: the best any restore
                     that must decode the backup can do on this machine (the
                     baseline decodes nothing); its ratio to the baseline shows
                     whether the target is reachable here at all
           figures:  times and ratio (target <= 1.1), ours/floor, our peak RSS

Ours does more than the baseline, and the timings include it:
  * backup: opens a REPEATABLE READ snapshot and counts the rows of every
    table exactly (SELECT count(*), one table after another) before pg_dump
    starts; the output is AES-256-GCM (authenticated chunks) plus SHA-256;
    afterwards the whole file is re-read and checked (hash, every chunk
    decrypted, decompressed, piped into pg_restore --list) before it is
    renamed into place and recorded in the manifest.
  * restore: checks versions and extensions, creates the database, decrypts
    and decompresses the archive to a spool file (pg_restore -j cannot read
    stdin) while restoring it in stages (schema, then each table's data once
    its block is in, then the rest with pg_restore -j), and then counts every
    restored table's rows and compares them with the manifest and the schema
    with its fingerprint.

By default it also times the pieces (each the median of --runs runs), to
show where the time goes: pg_dump alone to /dev/null, the snapshot row
counts, `backup verify` alone (the re-read pass), ours without encryption
and without compression, the baseline's zstd | openssl without pg_dump,
zstd alone, writing a file of the archive's size (what the parallel restore
spools), and the row counts of a restored database; --no-phases skips this.

Every figure is printed with its ratio to its target or to the baseline
(below or at 1.0 meets it). Exits non-zero only on errors, not on missed
targets. The databases (DB, DB_r1, DB_r2) and the temporary directory are
removed at the end, also on failure or Ctrl-C.

Usage: python3 bench/backup.py [path/to/supabase-mcp] [--size-mb 1000]
           [--runs N (default 1 from 500 MB up, else 3)] [--jobs 2] [--db smcp_bench_backup] [--no-phases]
Builds the release binary first when no path is given.
"""
import argparse
import json
import os
import secrets
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

TARGET_TIME_RATIO = 1.1
TARGET_RSS_MB = 50.0
HOST, PORT, USER = "127.0.0.1", 5432, "postgres"

# Realistic-ish vocabulary for names, notes and document bodies.
WORDS = """
account active address after agent amount analysis annual answer apple april
area argument article assume august balance bank base basket battery beach
berlin better billing black board book border branch bread bridge budget build
button cable camera campaign canada capital card carbon career carrier case
cash castle catalog center chair change channel charge check cheese choice city
claim class client cloud coffee collect color column comment company contact
content contract control copper corner cotton count country coupon course cover
credit culture current customer cycle daily damage data date debit december
default delivery demand deposit design detail device digital dinner direct
discount display district doctor domain double draft driver dublin early east
edge editor effect email energy engine entry error estate europe event evening
export factory family fashion father feature february field figure filter final
finance first floor flower follow forest format forward frame france fresh
friday front future garden gateway general german global golden green group
growth guest handle harbor health heavy height history holiday house import
income index inside invoice island item january jacket july june kitchen label
labor ladder language large later leader league level library light limit linen
lisbon local london lunch machine madrid manager march margin market master
matter medium member memory merchant message method metric middle minute mobile
model monday money month morning mother motion mountain movie music nation
nature network night noble normal north notice number object office online
orange order origin output owner package paper paris parent partner payment
people period person phone picture pilot place planet plate player pocket point
policy portal pound power premium press price print private process product
profile program project public quality quarter queue radio rapid rate reader
receipt record region remote report request result retail review river rome
route salary sales sample saturday school screen season second secure select
seller senior server service session shadow share shipping silver simple single
sister smart social source south space special spring square staff stage
standard station status stock store street studio style summer sunday supply
support system table target task teacher team theme thursday ticket timber
today token total tower trade travel tuesday update upload urban user valley
value vendor version video village visit voice wallet water weekly welcome west
window winter wireless yellow yesterday zone
""".split()

SCHEMA_SQL = """
CREATE TABLE customers (
    id          bigint PRIMARY KEY,
    email       text NOT NULL,
    full_name   text NOT NULL,
    country     char(2),
    created_at  timestamptz NOT NULL,
    balance     numeric(14,2),
    api_key     text,
    profile     jsonb
);
CREATE TABLE orders (
    id          bigint PRIMARY KEY,
    customer_id bigint NOT NULL,
    status      text NOT NULL,
    total       numeric(12,2) NOT NULL,
    currency    char(3) NOT NULL,
    created_at  timestamptz NOT NULL,
    shipped_at  timestamptz,
    items       jsonb NOT NULL,
    note        text
);
CREATE INDEX orders_customer_idx ON orders (customer_id);
CREATE TABLE events (
    id          bigint PRIMARY KEY,
    occurred_at timestamptz NOT NULL,
    user_id     bigint,
    kind        text NOT NULL,
    session_id  uuid NOT NULL,
    payload     jsonb NOT NULL
);
CREATE INDEX events_user_time_idx ON events (user_id, occurred_at);
CREATE TABLE documents (
    id          bigint PRIMARY KEY,
    title       text NOT NULL,
    body        text NOT NULL,
    digest      bytea NOT NULL,
    version     int NOT NULL,
    updated_at  timestamptz NOT NULL
);
"""


def W():
    """A random word from the vocabulary array `w` (a plpgsql variable)."""
    return "w[1 + floor(random() * nw)::int]"


# One INSERT per table, over generate_series(lo, hi) AS g; share = fraction
# of the target size.
TABLES = [
    ("orders", 0.35, f"""
INSERT INTO orders
SELECT g, 1 + floor(random() * 1000000)::bigint,
       (ARRAY['pending','paid','paid','shipped','delivered','delivered','cancelled','refunded'])[1 + floor(random() * 8)::int],
       round((random() * 2000)::numeric, 2),
       (ARRAY['USD','USD','EUR','GBP'])[1 + floor(random() * 4)::int],
       ts,
       CASE WHEN random() < 0.7 THEN ts + random() * interval '10 days' END,
       jsonb_build_array(
           jsonb_build_object('sku', 'SKU-' || lpad(floor(random() * 100000)::text, 5, '0'),
                              'qty', 1 + floor(random() * 4)::int,
                              'price', round((random() * 500)::numeric, 2),
                              'name', initcap({W()}) || ' ' || {W()}),
           jsonb_build_object('sku', 'SKU-' || lpad(floor(random() * 100000)::text, 5, '0'),
                              'qty', 1 + floor(random() * 4)::int,
                              'price', round((random() * 500)::numeric, 2),
                              'name', initcap({W()}) || ' ' || {W()})),
       CASE WHEN random() < 0.4 THEN initcap({W()}) || ' ' || {W()} || ' ' || {W()} || ' ' || {W()} || ' ' || {W()} || '.' END
FROM (SELECT g, timestamptz '2021-01-01' + random() * interval '3 years' AS ts
      FROM generate_series(lo, hi) g) s
"""),
    ("events", 0.30, f"""
INSERT INTO events
SELECT g, timestamptz '2023-01-01' + (g / 40.0) * interval '1 second' + random() * interval '1 minute',
       CASE WHEN random() < 0.9 THEN 1 + floor(random() * 1000000)::bigint END,
       (ARRAY['page_view','page_view','page_view','click','click','login','logout','search','purchase','error'])[1 + floor(random() * 10)::int],
       md5(random()::text)::uuid,
       jsonb_build_object(
           'path', '/' || {W()} || '/' || {W()},
           'ip', floor(random() * 223 + 1)::int || '.' || floor(random() * 256)::int || '.' || floor(random() * 256)::int || '.' || floor(random() * 256)::int,
           'ua', (ARRAY['Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/120.0',
                        'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_2) Safari/605.1.15',
                        'Mozilla/5.0 (X11; Linux x86_64) Firefox/121.0',
                        'Mozilla/5.0 (iPhone; CPU iPhone OS 17_2) Mobile/15E148'])[1 + floor(random() * 4)::int],
           'duration_ms', floor(random() * 5000)::int,
           'ok', random() < 0.97,
           'ref', CASE WHEN random() < 0.3 THEN 'https://' || {W()} || '.example.com/' || {W()} END)
FROM generate_series(lo, hi) g
"""),
    ("documents", 0.20, f"""
INSERT INTO documents
SELECT g, initcap({W()}) || ' ' || {W()} || ' ' || {W()},
       array_to_string(ARRAY(SELECT {W()} FROM generate_series(1, 15 + g % 40)), ' '),
       decode(md5(random()::text) || md5(random()::text), 'hex'),
       1 + floor(random() * 20)::int,
       timestamptz '2020-01-01' + random() * interval '4 years'
FROM generate_series(lo, hi) g
"""),
    ("customers", 0.15, f"""
INSERT INTO customers
SELECT g, {W()} || '.' || {W()} || g || '@' || (ARRAY['gmail.com','yahoo.com','outlook.com','example.org','proton.me','fastmail.com'])[1 + g % 6],
       initcap({W()}) || ' ' || initcap({W()}),
       (ARRAY['US','DE','FR','GB','BR','IN','JP','CA','AU','NL'])[1 + floor(random() * 10)::int],
       timestamptz '2019-01-01' + random() * interval '5 years',
       round((random() * 100000)::numeric, 2),
       'sk_live_' || md5(random()::text) || md5(random()::text),
       jsonb_build_object('plan', (ARRAY['free','free','pro','team','enterprise'])[1 + floor(random() * 5)::int],
                          'newsletter', random() < 0.3,
                          'age', 18 + floor(random() * 60)::int,
                          'tags', jsonb_build_array({W()}, {W()}),
                          'phone', '+1' || lpad(floor(random() * 1e10)::bigint::text, 10, '0'))
FROM generate_series(lo, hi) g
"""),
]

MAX_CHUNK_ROWS = 20000


# ---------------------------------------------------------------- helpers

def url(db):
    return f"postgres://{USER}@{HOST}:{PORT}/{db}"


def clean_env():
    return {k: v for k, v in os.environ.items()
            if not (k.startswith("SUPABASE_") or k.startswith("PG") or k == "DATABASE_URL"
                    or k == "RUST_LOG")}


def psql(sql, db="postgres", quiet=True):
    """Runs SQL through psql (stops at the first error); returns stdout."""
    cmd = ["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
           "-h", HOST, "-p", str(PORT), "-U", USER, "-d", db]
    r = subprocess.run(cmd, input=sql, capture_output=True, text=True, env=clean_env())
    if r.returncode != 0:
        raise RuntimeError(f"psql failed ({r.returncode}): {r.stderr.strip()[-2000:]}")
    return r.stdout.strip()


def drop_db(name):
    psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE);')


def mb(n):
    return n / (1024.0 * 1024.0)


class Measured:
    """A finished process: wall time, peak RSS of the process itself (VmHWM,
    polled from /proc), max RSS incl. waited-for children and total CPU
    (from wait4), exit code, stdout."""

    def __init__(self, wall, hwm_mb, maxrss_mb, cpu, rc, out, err):
        self.wall, self.hwm_mb, self.maxrss_mb, self.cpu = wall, hwm_mb, maxrss_mb, cpu
        self.rc, self.out, self.err = rc, out, err


def measure(cmd, tmp, env=None, check=True):
    """Runs `cmd` (a list, or a string for bash -o pipefail -c) and measures it."""
    if isinstance(cmd, str):
        cmd = ["bash", "-o", "pipefail", "-c", cmd]
    out_path = os.path.join(tmp, ".stdout")
    err_path = os.path.join(tmp, ".stderr")
    hwm = [0]
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                env=env if env is not None else clean_env())
        done = threading.Event()

        def poll():
            path = f"/proc/{proc.pid}/status"
            while not done.is_set():
                try:
                    with open(path) as f:
                        for line in f:
                            if line.startswith("VmHWM:"):
                                hwm[0] = max(hwm[0], int(line.split()[1]))
                                break
                except OSError:
                    break
                done.wait(0.005)

        poller = threading.Thread(target=poll, daemon=True)
        poller.start()
        _, status, ru = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        done.set()
        poller.join()
        proc.returncode = os.waitstatus_to_exitcode(status)
    with open(out_path, "rb") as f:
        stdout = f.read().decode("utf-8", "replace")
    with open(err_path, "rb") as f:
        stderr = f.read().decode("utf-8", "replace")
    m = Measured(wall, hwm[0] / 1024.0, ru.ru_maxrss / 1024.0, ru.ru_utime + ru.ru_stime,
                 proc.returncode, stdout, stderr)
    if check and m.rc != 0:
        shown = cmd if isinstance(cmd, str) else " ".join(cmd)
        raise RuntimeError(f"command failed ({m.rc}): {shown}\nstdout: {stdout[-3000:]}\n"
                           f"stderr: {stderr[-3000:]}")
    return m


def envelope(m, what):
    try:
        env = json.loads(m.out)
    except json.JSONDecodeError:
        raise RuntimeError(f"{what}: output is not JSON: {m.out[-2000:]} {m.err[-2000:]}")
    if env.get("status") != "ok":
        raise RuntimeError(f"{what} failed: {json.dumps(env)[:3000]}")
    return env["data"]


def timed_sql(sql, db):
    t0 = time.perf_counter()
    psql(sql, db)
    return time.perf_counter() - t0


# ---------------------------------------------------------------- data

def generate(db, size_mb):
    """Creates `db` and fills it to about size_mb MB; returns (bytes, seconds, rows)."""
    t0 = time.perf_counter()
    psql(f'CREATE DATABASE "{db}";')
    psql(SCHEMA_SQL, db)
    base = int(psql("SELECT pg_database_size(current_database());", db))
    budget = max(size_mb * 1024 * 1024 - base, 1024 * 1024)
    words = "{" + ",".join(WORDS) + "}"

    def job(name, share, insert):
        target = int(budget * share)
        # Rows per INSERT: about 1/40 of the table (rows are ~250-400 bytes),
        # so small sizes are not overshot much.
        chunk = max(500, min(MAX_CHUNK_ROWS, target // 300 // 40))
        return f"""
SET synchronous_commit = off;
DO $gen$
DECLARE
    w text[] := '{words}';
    nw int := {len(WORDS)};
    lo bigint := 1;
    hi bigint;
BEGIN
    LOOP
        hi := lo + {chunk} - 1;
        {insert.strip()};
        lo := hi + 1;
        EXIT WHEN pg_total_relation_size('{name}') >= {target};
    END LOOP;
END
$gen$;
"""

    # Two loaders at a time (2 cores), biggest tables first.
    pending = [job(n, s, i) for n, s, i in TABLES]
    cmd = ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", HOST, "-p", str(PORT),
           "-U", USER, "-d", db]
    running = []
    while pending or running:
        while pending and len(running) < 2:
            p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.PIPE, text=True, env=clean_env())
            p.stdin.write(pending.pop(0))
            p.stdin.close()
            running.append(p)
        time.sleep(0.1)
        for p in list(running):
            if p.poll() is not None:
                running.remove(p)
                err = p.stderr.read()
                if p.returncode != 0:
                    for q in running:
                        q.kill()
                    raise RuntimeError(f"data generation failed: {err.strip()[-2000:]}")
    # Settle: hint bits, visibility map and statistics written, dirty pages
    # flushed, so neither side of the comparison pays for them.
    psql("VACUUM (FREEZE, ANALYZE);", db)
    psql("CHECKPOINT;", db)
    size = int(psql("SELECT pg_database_size(current_database());", db))
    rows = psql("SELECT string_agg(relname || '=' || n_live_tup, ' ' ORDER BY relname) "
                "FROM pg_stat_user_tables;", db)
    return size, time.perf_counter() - t0, rows


# ---------------------------------------------------------------- main

def fmt_s(xs):
    med = statistics.median(xs)
    if len(xs) == 1:
        return f"{med:8.2f} s"
    return f"{med:8.2f} s (best {min(xs):.2f}, of {len(xs)})"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("binary", nargs="?", help="supabase-mcp binary (default: build the release one)")
    ap.add_argument("--size-mb", type=int, default=1000, help="database size to generate (default 1000)")
    ap.add_argument("--runs", type=int, default=None,
                    help="runs per measurement (default 1 at >= 500 MB, else 3)")
    ap.add_argument("--jobs", type=int, default=2, help="parallel restore jobs (default 2)")
    ap.add_argument("--db", default="smcp_bench_backup", help="name of the throwaway database")
    ap.add_argument("--no-phases", dest="phases", action="store_false",
                    help="skip the breakdown of where the time goes")
    a = ap.parse_args()
    runs = a.runs if a.runs is not None else (1 if a.size_mb >= 500 else 3)
    if runs < 1:
        ap.error("--runs must be at least 1")

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    if a.binary:
        binary = os.path.abspath(a.binary)
    else:
        subprocess.run(["cargo", "build", "--release", "--bin", "supabase-mcp"], cwd=root, check=True)
        binary = os.path.join(root, "target", "release", "supabase-mcp")
    if not os.access(binary, os.X_OK):
        sys.exit(f"not an executable: {binary}")

    # SIGTERM/SIGHUP clean up like Ctrl-C does.
    def on_signal(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)

    db, r1, r2 = a.db, a.db + "_r1", a.db + "_r2"
    tmp = tempfile.mkdtemp(prefix="smcp_bench_backup_")
    try:
        return run(a, binary, runs, db, r1, r2, tmp)
    finally:
        for name in (r1, r2, db):
            try:
                drop_db(name)
            except Exception as e:  # keep cleaning up
                print(f"warning: cannot drop {name}: {e}", file=sys.stderr)
        shutil.rmtree(tmp, ignore_errors=True)


def run(a, binary, runs, db, r1, r2, tmp):
    print(f"binary: {binary} ({os.path.getsize(binary)} bytes)")
    print(f"{os.cpu_count()} CPUs; {runs} run(s) per measurement; restore jobs {a.jobs}; tmp {tmp}")
    print("load average at start: %.2f %.2f %.2f (other work on the machine skews the figures)"
          % os.getloadavg())
    for name in (r1, r2, db):
        drop_db(name)

    size, gen_s, rows = generate(db, a.size_mb)
    print(f"\ndatabase {db}: {size} bytes ({mb(size):.0f} MiB, pg_database_size), "
          f"generated in {gen_s:.1f} s\n  rows: {rows}")

    key = os.path.join(tmp, "key")
    with open(key, "w") as f:
        f.write(secrets.token_hex(32) + "\n")
    os.chmod(key, 0o600)
    backup_dir = os.path.join(tmp, "backups")
    ours = [binary, "--db-url", url(db), "--backup-dir", backup_dir,
            "--data-dir", os.path.join(tmp, "data"), "--backup-key-file", key]
    plain = os.path.join(tmp, "plain.dump")
    base_file = os.path.join(tmp, "baseline.dump.zst.enc")
    baseline = (f"pg_dump -Fc -Z0 -d '{url(db)}' | zstd -q -3 -T0 "
                f"| openssl enc -aes-256-ctr -pbkdf2 -pass pass:xyz > '{base_file}'")

    # Warm-up and floor: pg_dump alone (also brings the data into the page cache).
    dump_null = measure(f"pg_dump -Fc -Z0 -d '{url(db)}' > /dev/null", tmp)
    print(f"\nwarm-up: pg_dump -Fc -Z0 > /dev/null: {dump_null.wall:.2f} s")

    # ---- backup
    b_ours, b_base = [], []
    for i in range(runs):
        order = ("ours", "base") if i % 2 == 0 else ("base", "ours")
        for who in order:
            if who == "ours":
                m = measure(ours + ["backup", "create", "--compression", "zstd:3"], tmp)
                b_ours.append((m, envelope(m, "backup create")))
            else:
                if os.path.exists(base_file):
                    os.remove(base_file)
                m = measure(baseline, tmp)
                b_base.append((m, os.path.getsize(base_file)))
    last = b_ours[-1][1]
    backup_id = last["backup"]["id"]
    stored = last["backup"]["stored_bytes"]
    raw = last["backup"]["raw_bytes"]
    base_size = b_base[-1][1]
    t_ours = [m.wall for m, _ in b_ours]
    t_base = [m.wall for m, _ in b_base]
    hwm_b = max(m.hwm_mb for m, _ in b_ours)
    r_time_b = statistics.median(t_ours) / statistics.median(t_base)
    print("\nbackup")
    print(f"  ours     (supabase-mcp backup create, zstd:3, AES-256-GCM, verified): {fmt_s(t_ours)}"
          f"  [in-process duration_ms {statistics.median(d['duration_ms'] for _, d in b_ours) / 1000:.2f} s;"
          f" CPU incl. children {statistics.median(m.cpu for m, _ in b_ours):.1f} s]")
    print(f"  baseline (pg_dump -Fc -Z0 | zstd -3 -T0 | openssl aes-256-ctr):       {fmt_s(t_base)}"
          f"  [CPU {statistics.median(m.cpu for m, _ in b_base):.1f} s]")
    print(f"  time ratio ours/baseline: {r_time_b:.3f}  (target <= {TARGET_TIME_RATIO}; "
          f"ratio to target {r_time_b / TARGET_TIME_RATIO:.2f})")
    print(f"  raw pg_dump bytes: {raw} ({mb(raw):.1f} MiB)")
    print(f"  stored: ours {stored} B ({mb(stored):.1f} MiB, {raw / stored:.2f}x), baseline {base_size} B "
          f"({mb(base_size):.1f} MiB, {raw / base_size:.2f}x); ours/baseline {stored / base_size:.4f}  (target <= 1.0)")
    print(f"  peak RSS of supabase-mcp (VmHWM): {hwm_b:.1f} MB  ratio to {TARGET_RSS_MB:.0f} MB target: "
          f"{hwm_b / TARGET_RSS_MB:.2f}  [max RSS incl. children (pg_dump, pg_restore --list): "
          f"{max(m.maxrss_mb for m, _ in b_ours):.1f} MB]")

    # ---- restore
    t0 = time.perf_counter()
    measure(["pg_dump", "-Fc", "-Z0", "-d", url(db), "-f", plain], tmp)
    plain_s = time.perf_counter() - t0
    print(f"\nplain archive for the baseline restore (pg_dump -Fc -Z0 -f, outside the timing): "
          f"{os.path.getsize(plain)} B in {plain_s:.2f} s")
    os.remove(base_file)
    r_ours, r_base, r_floor = [], [], []
    counts_restored = []
    ours_q = " ".join(shlex.quote(x) for x in ours)
    floor_cmd = (f"{ours_q} backup verify {shlex.quote(backup_id)} > /dev/null & v=$!; "
                 f"pg_restore -j {a.jobs} -d {shlex.quote(url(r2))} {shlex.quote(plain)} && wait $v")
    for i in range(runs):
        order = [("ours", "base", "floor"), ("base", "floor", "ours"), ("floor", "ours", "base")][i % 3]
        for who in order:
            if who == "floor":
                drop_db(r2)
                psql(f'CREATE DATABASE "{r2}";')
                r_floor.append(measure(floor_cmd, tmp))
                drop_db(r2)
                continue
            if who == "ours":
                drop_db(r1)
                m = measure(ours + ["restore", backup_id, "--new-database", r1,
                                    "--jobs", str(a.jobs)], tmp)
                r_ours.append((m, envelope(m, "restore")))
                drop_db(r1)
            else:
                drop_db(r2)
                psql(f'CREATE DATABASE "{r2}";')
                m = measure(["pg_restore", "-j", str(a.jobs), "-d", url(r2), plain], tmp)
                r_base.append(m)
                if a.phases:
                    counts_restored.append(timed_sql(count_sql(r2), r2))
                drop_db(r2)
    t_ours_r = [m.wall for m, _ in r_ours]
    t_base_r = [m.wall for m in r_base]
    hwm_r = max(m.hwm_mb for m, _ in r_ours)
    r_time_r = statistics.median(t_ours_r) / statistics.median(t_base_r)
    rep = r_ours[-1][1]
    print("\nrestore")
    print(f"  ours     (supabase-mcp restore --new-database --jobs {a.jobs}, row counts checked): {fmt_s(t_ours_r)}"
          f"  [in-process duration_ms {statistics.median(d['duration_ms'] for _, d in r_ours) / 1000:.2f} s;"
          f" tables checked {rep.get('tables_checked')}; CPU incl. children "
          f"{statistics.median(m.cpu for m, _ in r_ours):.1f} s]")
    timings = rep.get("timings_ms") or {}
    if timings:
        print("  ours, in-process timings of the last run (ms): "
              + ", ".join(f"{k} {v}" for k, v in timings.items()))
    print(f"  baseline (pg_restore -j {a.jobs} from the plain -Fc -Z0 file):              {fmt_s(t_base_r)}"
          f"  [CPU {statistics.median(m.cpu for m in r_base):.1f} s]")
    print(f"  time ratio ours/baseline: {r_time_r:.3f}  (target <= {TARGET_TIME_RATIO}; "
          f"ratio to target {r_time_r / TARGET_TIME_RATIO:.2f})")
    t_floor = [m.wall for m in r_floor]
    r_floor_b = statistics.median(t_floor) / statistics.median(t_base_r)
    print(f"  floor    (the baseline with `backup verify` decoding beside it):             {fmt_s(t_floor)}"
          f"  [CPU {statistics.median(m.cpu for m in r_floor):.1f} s]")
    print(f"  floor/baseline: {r_floor_b:.3f} (what decoding alone costs here); "
          f"ours/floor: {statistics.median(t_ours_r) / statistics.median(t_floor):.3f}")
    print(f"  peak RSS of supabase-mcp (VmHWM): {hwm_r:.1f} MB  ratio to {TARGET_RSS_MB:.0f} MB target: "
          f"{hwm_r / TARGET_RSS_MB:.2f}  [max RSS incl. children: {max(m.maxrss_mb for m, _ in r_ours):.1f} MB]")

    # ---- phases
    if a.phases:
        print(f"\nwhere the time goes (each piece median of {runs} run(s); seconds; "
              f"[peak RSS of supabase-mcp])")
        copy = os.path.join(tmp, "copy.dump")
        plain_mib = mb(os.path.getsize(plain))

        def phase(label, fn):
            vals = [fn() for _ in range(runs)]
            secs = statistics.median(v[0] for v in vals)
            hwm = [v[1] for v in vals if v[1] is not None]
            extra = f"  [{max(hwm):.1f} MB]" if hwm else ""
            print(f"  {label:<80} {secs:7.2f}{extra}")
            return secs

        def cmd(c, what=None):
            def f():
                m = measure(c, tmp)
                if what:
                    envelope(m, what)
                return m.wall, (m.hwm_mb if what else None)
            return f

        def sql(text, dbname):
            return lambda: (timed_sql(text, dbname), None)

        def write_copy():
            if os.path.exists(copy):
                os.remove(copy)
            m = measure(["cp", plain, copy], tmp)
            os.remove(copy)
            return m.wall, None

        p_dump = phase("pg_dump -Fc -Z0 > /dev/null",
                       cmd(f"pg_dump -Fc -Z0 -d '{url(db)}' > /dev/null"))
        p_counts = phase("snapshot row counts (count(*) per table, serial)",
                         sql("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY;\n" + count_sql(db)
                             + "COMMIT;", db))
        p_verify = phase("ours: backup verify alone (re-read, decrypt, decompress, pg_restore --list)",
                         cmd(ours + ["backup", "verify", backup_id], "backup verify"))
        phase("ours: backup create --no-encrypt (still counted + verified)",
              cmd(ours + ["backup", "create", "--compression", "zstd:3", "--no-encrypt"], "backup create"))
        phase("ours: backup create --compression none --no-encrypt",
              cmd(ours + ["backup", "create", "--compression", "none", "--no-encrypt"], "backup create"))
        phase("baseline minus pg_dump: zstd -3 -T0 | openssl, from the plain file",
              cmd(f"zstd -q -3 -T0 -c '{plain}' | openssl enc -aes-256-ctr -pbkdf2 "
                  f"-pass pass:xyz > /dev/null"))
        phase("zstd -3 -T0 alone, from the plain file",
              cmd(["zstd", "-q", "-3", "-T0", "-c", plain, "-o", "/dev/null"]))
        p_write = phase(f"writing a {plain_mib:.0f} MiB file (cp of the plain archive; restore spools this much)",
                        write_copy)
        p_rcount = statistics.median(counts_restored) if counts_restored else 0.0
        print(f"  {'row counts of a restored database (count(*) per table)':<80} {p_rcount:7.2f}")
        d_b = statistics.median(t_ours) - statistics.median(t_base)
        d_r = statistics.median(t_ours_r) - statistics.median(t_base_r)
        stream_b = statistics.median(t_ours) - p_counts - p_verify
        print(f"  backup:  ours - baseline {d_b:+.2f} s; serial extras: row counts {p_counts:.2f} + "
              f"verification {p_verify:.2f} = {p_counts + p_verify:.2f} s; ours without them ~{stream_b:.2f} s "
              f"= {stream_b / statistics.median(t_base):.3f} x baseline; pg_dump alone is "
              f"{p_dump / statistics.median(t_base):.3f} x baseline")
        spool = p_verify + p_write
        print(f"  restore: ours - baseline {d_r:+.2f} s; extra work: spool ~(decode {p_verify:.2f} + "
              f"write {p_write:.2f}, alongside the restore) + row counts {p_rcount:.2f} = ~{spool + p_rcount:.2f} s")

    # ---- summary
    rows_out = [
        ("database size (pg_database_size)", f"{mb(size):.0f} MiB", "", ""),
        ("backup time ours", f"{statistics.median(t_ours):.2f} s", "", ""),
        ("backup time baseline", f"{statistics.median(t_base):.2f} s", "", ""),
        ("backup time ratio", f"{r_time_b:.3f}", f"<= {TARGET_TIME_RATIO}", ok(r_time_b <= TARGET_TIME_RATIO)),
        ("stored size ours / baseline", f"{mb(stored):.1f} / {mb(base_size):.1f} MiB = {stored / base_size:.3f}",
         "<= 1.0", ok(stored <= base_size)),
        ("backup peak RSS", f"{hwm_b:.1f} MB", f"< {TARGET_RSS_MB:.0f} MB", ok(hwm_b < TARGET_RSS_MB)),
        ("restore time ours", f"{statistics.median(t_ours_r):.2f} s", "", ""),
        ("restore time baseline", f"{statistics.median(t_base_r):.2f} s", "", ""),
        ("restore time ratio", f"{r_time_r:.3f}", f"<= {TARGET_TIME_RATIO}", ok(r_time_r <= TARGET_TIME_RATIO)),
        ("restore floor / baseline", f"{r_floor_b:.3f}", "", ""),
        ("restore ours / floor", f"{statistics.median(t_ours_r) / statistics.median(t_floor):.3f}", "", ""),
        ("restore peak RSS", f"{hwm_r:.1f} MB", f"< {TARGET_RSS_MB:.0f} MB", ok(hwm_r < TARGET_RSS_MB)),
    ]
    print("\nload average at the end: %.2f %.2f %.2f" % os.getloadavg())
    print(f"\nsummary ({mb(size):.0f} MiB database, {runs} run(s), medians)")
    w0 = max(len(r[0]) for r in rows_out)
    w1 = max(len(r[1]) for r in rows_out)
    w2 = max(len(r[2]) for r in rows_out)
    print(f"  {'figure':<{w0}}  {'value':<{w1}}  {'target':<{w2}}  met")
    for r in rows_out:
        print(f"  {r[0]:<{w0}}  {r[1]:<{w1}}  {r[2]:<{w2}}  {r[3]}")
    return 0


def ok(b):
    return "yes" if b else "NO"


def count_sql(_db):
    return "".join(f"SELECT count(*) FROM {t};\n" for t, _, _ in TABLES)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt as e:
        print(f"interrupted ({e}); cleaned up", file=sys.stderr)
        sys.exit(130)
    except Exception as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(1)
