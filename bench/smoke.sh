#!/usr/bin/env bash
# Every benchmark, in a smoke mode of a few seconds, so none rots unnoticed (CI runs this after
# the tests, on the debug build they made). Asserts that each completes and its requests
# succeed, not its speed: the figures come from the full runs (see docs/scaling.md).
#
#   bench/smoke.sh        # needs wrk, python3 and PostgreSQL at TRAINYARD_TEST_DATABASE_URL
set -euo pipefail
cd "$(dirname "$0")/.."

PG_URL=${TRAINYARD_TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}
cargo build --quiet
export BIN=$PWD/target/debug/trainyard

step() { echo; echo "== smoke: $*"; }

# The criterion benchmarks (benches/*.rs), each run once as a test, on SQLite and PostgreSQL.
step "criterion benchmarks, once each"
TRAINYARD_TEST_DATABASE_URL=$PG_URL cargo test --quiet --benches

step "webhook intake under load (SQLite, PostgreSQL)"
SMOKE=1 bench/webhook-load.sh
SMOKE=1 DATABASE_URL=$PG_URL bench/webhook-load.sh

step "intake against the Probot peer"
SMOKE=1 PG_URL="$PG_URL?sslmode=disable" bench/webhook-compare.sh

step "hostile clients"
bench/hostile-probe.sh "$BIN" --seconds 3 --slow 60 --huge 3 --senders 2

step "a shared service: replicas, quiet and noisy traffic"
SMOKE=1 DATABASE_URL=$PG_URL bench/scale.sh

echo
echo "smoke: every benchmark ran"
