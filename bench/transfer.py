#!/usr/bin/env python3
"""Transfer benchmark for supabase-mcp: a whole database into another one.

Builds the same throwaway ~1 GB database as bench/backup.py (`smcp_bench_transfer`),
then measures in one run, by wall time (median and best of --runs runs, alternating):

  ours:     migrate_instance through the MCP server (stdio): compatibility
            check, schema (pg_dump --schema-only | psql --single-transaction),
            every table streamed with COPY into the target, row counts and
            checksums compared on both sides, sequences set
  baseline: pg_dump -d SRC | psql -d DST   (schema + data, no verification)

into a fresh empty database each time, and prints the ratio ours/baseline
(target: at most 1.0, i.e. at least as fast). Exits non-zero only on errors.
The databases are dropped at the end, also on failure or Ctrl-C.

Usage: python3 bench/transfer.py [path/to/supabase-mcp] [--size-mb 1000] [--runs 1]
"""
import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location("backup_bench", os.path.join(HERE, "backup.py"))
bb = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bb)


def call_tool(binary, src_url, tool, args, data_dir):
    """Starts the server, initializes, calls one tool, returns (seconds, result)."""
    p = subprocess.Popen([binary, "serve", "--db-url", src_url, "--data-dir", data_dir,
                          "--features", "database,migrations", "--allow-destructive"],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, env=bb.clean_env())

    def send(msg):
        p.stdin.write(json.dumps(msg) + "\n")
        p.stdin.flush()

    def wait(id_):
        for line in p.stdout:
            m = json.loads(line)
            if m.get("id") == id_:
                return m
        raise RuntimeError("the server closed its output: " + p.stderr.read()[-2000:])

    send({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {},
        "clientInfo": {"name": "bench", "version": "1"}}})
    wait(1)
    send({"jsonrpc": "2.0", "method": "notifications/initialized"})
    t0 = time.perf_counter()
    send({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
          "params": {"name": tool, "arguments": args}})
    r = wait(2)
    took = time.perf_counter() - t0
    p.stdin.close()
    p.wait(timeout=30)
    return took, r


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("binary", nargs="?")
    ap.add_argument("--size-mb", type=int, default=1000)
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--db", default="smcp_bench_transfer")
    a = ap.parse_args()
    root = os.path.dirname(HERE)
    binary = a.binary
    if not binary:
        subprocess.run(["cargo", "build", "--release", "--bin", "supabase-mcp"], cwd=root, check=True)
        binary = os.path.join(root, "target", "release", "supabase-mcp")
    binary = os.path.abspath(binary)
    src, dst = a.db, a.db + "_dst"
    data_dir = f"/tmp/{a.db}_data"
    try:
        for n in (dst, src):
            bb.drop_db(n)
        size, gen_s, rows = bb.generate(src, a.size_mb)
        print(f"database {src}: {size} bytes ({bb.mb(size):.0f} MiB), generated in {gen_s:.1f} s\n  rows: {rows}")
        print("%d CPUs; load average at start: %.2f %.2f %.2f" % ((os.cpu_count(),) + os.getloadavg()))
        ours, base = [], []
        for i in range(a.runs):
            for who in (("ours", "base") if i % 2 == 0 else ("base", "ours")):
                bb.drop_db(dst)
                bb.psql(f'CREATE DATABASE "{dst}" TEMPLATE template0;')
                if who == "ours":
                    took, r = call_tool(binary, bb.url(src), "migrate_instance",
                                        {"target": bb.url(dst), "schemas": ["public"]}, data_dir)
                    sc = r["result"].get("structuredContent", {})
                    if sc.get("status") != "ok":
                        raise RuntimeError(f"migrate_instance failed: {json.dumps(r)[:3000]}")
                    d = sc["data"]
                    if not all(t["verified"] for t in d["tables"]):
                        raise RuntimeError(f"not verified: {d['tables']}")
                    ours.append(took)
                    print(f"  run {i + 1} ours: {took:.2f} s ({d['rows']} rows, {d['bytes']} bytes; "
                          + ", ".join(f"{t['table']} {t['format']} {t['duration_ms']} ms" for t in d["tables"]) + ")")
                else:
                    m = bb.measure(f"pg_dump -d '{bb.url(src)}' | psql -X -q -v ON_ERROR_STOP=1 -d '{bb.url(dst)}' > /dev/null",
                                   "/tmp")
                    base.append(m.wall)
                    print(f"  run {i + 1} baseline: {m.wall:.2f} s")
        mo, mb_ = statistics.median(ours), statistics.median(base)
        print("\ntransfer of the whole database into an empty one")
        print(f"  ours     (migrate_instance, verified):  {mo:.2f} s (best {min(ours):.2f}, of {len(ours)})")
        print(f"  baseline (pg_dump | psql):             {mb_:.2f} s (best {min(base):.2f}, of {len(base)})")
        print(f"  ratio ours/baseline: {mo / mb_:.3f}  (target <= 1.0)")
        return 0
    finally:
        for n in (dst, src):
            try:
                bb.drop_db(n)
            except Exception as e:  # keep cleaning up
                print(f"warning: cannot drop {n}: {e}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
