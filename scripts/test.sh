#!/usr/bin/env bash
# The project's test command: formatting, lints, generated-code freshness,
# the whole test suite, and the MCP conformance suite over HTTP.
# Needs PostgreSQL on 127.0.0.1:5432 (or DATABASE_URL) with a superuser.
set -euo pipefail
cd "$(dirname "$0")/.."
export DATABASE_URL="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
# Line tables are enough for test backtraces; full debug info makes each of
# the ~60 test binaries several times larger and slower to link.
export CARGO_PROFILE_DEV_DEBUG="${CARGO_PROFILE_DEV_DEBUG:-line-tables-only}"
if ! pg_isready -d "$DATABASE_URL" -q 2>/dev/null; then
  echo "PostgreSQL is not reachable at $DATABASE_URL; start it (or set DATABASE_URL) and retry." >&2
  exit 1
fi
echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "== cargo codegen --check"
cargo codegen --check
echo "== MCP conformance suite (Streamable HTTP)"
cargo build --locked -p supabase-mcp
bash scripts/conformance.sh target/debug/supabase-mcp
echo "== cargo test"
cargo test --workspace --locked
