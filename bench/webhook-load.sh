#!/usr/bin/env bash
# Load test of the durable webhook intake: starts `trainyard serve` (release build) on a
# store of its own, drives it with wrk (signed real payload, fresh delivery id per request),
# reports requests/s, p50/p99 latency and errors, the server's idle and peak RSS, and checks
# that the stored deliveries equal the 2xx answers.
#
#   bench/webhook-load.sh                       # SQLite
#   DATABASE_URL=postgres://postgres@127.0.0.1:5432/test bench/webhook-load.sh
#
# Knobs: DURATION (10s), CONNECTIONS (32), THREADS (2), PORT (3099), EVENT, PAYLOAD.
# SMOKE=1: 2 s at 4 connections on the debug build (CI): it completes and loses nothing.
# Needs wrk (Debian: apt-get install wrk). Only talks to 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ "${SMOKE:-}" == 1 ]]; then
  DURATION=${DURATION:-2s}
  CONNECTIONS=${CONNECTIONS:-4}
  if [[ -z "${BIN:-}" ]]; then
    cargo build --quiet
    BIN=target/debug/trainyard
  fi
fi
DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-32}
THREADS=${THREADS:-2}
PORT=${PORT:-3099}
EVENT=${EVENT:-pull_request}
PAYLOAD=${PAYLOAD:-fixtures/github-webhooks/pull_request/labeled.payload.json}
SECRET=load-test-secret

command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 1; }
# BIN=path runs another build (an older commit's, to compare) instead of this tree's.
if [[ -z "${BIN:-}" ]]; then
  cargo build --release --quiet
  BIN=target/release/trainyard
fi

WORK=$(mktemp -d)
trap 'kill "${SERVER:-}" 2>/dev/null || true; rm -rf "$WORK"' EXIT
if [[ -n "${DATABASE_URL:-}" ]]; then
  # A schema of its own, emptied, so counts start at zero.
  SCHEMA=trainyard_load
  PGOPTIONS="--client-min-messages=warning" psql "$DATABASE_URL" -qc "DROP SCHEMA IF EXISTS $SCHEMA CASCADE; CREATE SCHEMA $SCHEMA;" >/dev/null
  SEP='?'; [[ "$DATABASE_URL" == *\?* ]] && SEP='&'
  export DATABASE_URL="${DATABASE_URL}${SEP}options[search_path]=$SCHEMA"
  STORE=postgres
else
  export DATABASE_URL="sqlite://$WORK/trainyard.db"
  STORE=sqlite
fi
export TRAINYARD_LISTEN=127.0.0.1:$PORT
export TRAINYARD_GITHUB_APP_ID=1
export TRAINYARD_GITHUB_PRIVATE_KEY_PATH=fixtures/keys/test-app.pem
export TRAINYARD_GITHUB_WEBHOOK_SECRET=$SECRET
export RUST_LOG=${RUST_LOG:-warn}

"$BIN" serve >"$WORK/server.log" 2>&1 &
SERVER=$!
for _ in $(seq 1 100); do
  curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null && break
  sleep 0.1
done
curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null || { cat "$WORK/server.log"; exit 1; }

rss_kib() { awk -v f="$2" '$1 == f":" {print $2}' "/proc/$1/status"; }
IDLE_RSS=$(rss_kib "$SERVER" VmRSS)

SIGNATURE="sha256=$(openssl dgst -sha256 -hmac "$SECRET" -r "$PAYLOAD" | cut -d' ' -f1)"
RESULT=$(PAYLOAD_FILE="$PAYLOAD" SIGNATURE="$SIGNATURE" EVENT="$EVENT" \
  wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -s bench/webhook-load.lua \
  "http://127.0.0.1:$PORT" | tail -n 1)
PEAK_RSS=$(rss_kib "$SERVER" VmHWM)
CPU_SECS=$(awk '{printf "%.1f", ($14 + $15) / 100}' "/proc/$SERVER/stat")

kill -TERM "$SERVER"
wait "$SERVER" || true
unset SERVER

STORED=$("$BIN" jobs | awk '/deliveries recorded/ {print $3}')
REQUESTS=$(echo "$RESULT" | sed -E 's/.*"requests":([0-9]+).*/\1/')
NON2XX=$(echo "$RESULT" | sed -E 's/.*"non_2xx":([0-9]+).*/\1/')
OK=$((REQUESTS - NON2XX))

echo "store=$STORE connections=$CONNECTIONS duration=$DURATION payload=$PAYLOAD ($(wc -c <"$PAYLOAD") bytes)"
echo "wrk: $RESULT"
echo "rss: idle $((IDLE_RSS / 1024)) MiB, peak under load $((PEAK_RSS / 1024)) MiB; server CPU ${CPU_SECS}s"
echo "2xx answers: $OK, deliveries stored: $STORED"
# wrk stops with up to one request per connection still in flight: the server may have
# stored those without wrk counting their answers. Anything else is a lost or phantom delivery.
if (( STORED < OK || STORED > OK + CONNECTIONS )); then
  echo "MISMATCH: every 2xx must be a stored delivery (and nothing else stored)" >&2
  exit 1
fi
echo "ok: every 2xx answer is a stored delivery ($((STORED - OK)) more stored from requests in flight when wrk stopped)"
