#!/usr/bin/env python3
"""Startup benchmark for supabase-mcp (stdio).

Measures, for the default and the full (--features all) configuration:
  * time from spawn to the `initialize` response (median of N runs, ms)
  * resident memory (RSS) after `initialize` (idle) and after `tools/list`
  * size of the `tools/list` result in bytes
and prints each figure with its ratio to the target (figure / target; below
1.0 meets it). Targets: initialize < 20 ms, RSS < 15 MB, default tools/list
< 20 KB.

Usage: python3 bench/startup.py [path/to/supabase-mcp] [runs]
Builds the release binary first when no path is given.
"""
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

TARGET_INIT_MS = 20.0
TARGET_RSS_MB = 15.0
TARGET_LIST_KB = 20.0


def rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def read_response(proc, want_id):
    while True:
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError("server closed stdout")
        msg = json.loads(line)
        if msg.get("id") == want_id:
            return msg, len(line)


def one_run(binary, args, data_dir):
    env = {k: v for k, v in os.environ.items()
           if not (k.startswith("SUPABASE_") or k == "DATABASE_URL" or k == "RUST_LOG")}
    t0 = time.perf_counter()
    proc = subprocess.Popen([binary, "serve", "--data-dir", data_dir] + args,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True, env=env)
    init = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
            "params": {"protocolVersion": "2025-11-25", "capabilities": {},
                       "clientInfo": {"name": "bench", "version": "0"}}}
    proc.stdin.write(json.dumps(init) + "\n")
    proc.stdin.flush()
    read_response(proc, 1)
    init_ms = (time.perf_counter() - t0) * 1000.0
    proc.stdin.write(json.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"}) + "\n")
    proc.stdin.flush()
    time.sleep(0.05)
    idle = rss_mb(proc.pid)
    proc.stdin.write(json.dumps({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}) + "\n")
    proc.stdin.flush()
    msg, _ = read_response(proc, 2)
    list_bytes = len(json.dumps(msg["result"], separators=(",", ":")))
    tools = len(msg["result"]["tools"])
    after = rss_mb(proc.pid)
    proc.stdin.close()
    proc.wait(timeout=10)
    return init_ms, idle, after, list_bytes, tools


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    if len(sys.argv) > 1:
        binary = sys.argv[1]
    else:
        subprocess.run(["cargo", "build", "--release", "--quiet", "-p", "supabase-mcp"], cwd=root, check=True)
        binary = os.path.join(root, "target", "release", "supabase-mcp")
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 20
    print(f"binary: {binary} ({os.path.getsize(binary)} bytes), {runs} runs per configuration")
    with tempfile.TemporaryDirectory() as data_dir:
        for label, args in (("default", []), ("full (--features all)", ["--features", "all"])):
            results = [one_run(binary, args, data_dir) for _ in range(runs)]
            init = statistics.median(r[0] for r in results)
            idle = statistics.median(r[1] for r in results)
            after = statistics.median(r[2] for r in results)
            list_bytes = results[0][3]
            tools = results[0][4]
            print(f"\n{label}: {tools} tools")
            print(f"  start -> initialize response: {init:7.2f} ms  (min {min(r[0] for r in results):.2f}, max {max(r[0] for r in results):.2f})"
                  f"  ratio to {TARGET_INIT_MS:.0f} ms target: {init / TARGET_INIT_MS:.2f}")
            print(f"  RSS idle after initialize:    {idle:7.2f} MB  ratio to {TARGET_RSS_MB:.0f} MB target: {idle / TARGET_RSS_MB:.2f}")
            print(f"  RSS after tools/list:         {after:7.2f} MB  ratio to {TARGET_RSS_MB:.0f} MB target: {after / TARGET_RSS_MB:.2f}")
            print(f"  tools/list result:            {list_bytes:7d} B   ratio to {TARGET_LIST_KB:.0f} KB target: {list_bytes / (TARGET_LIST_KB * 1024):.2f}")


if __name__ == "__main__":
    main()
