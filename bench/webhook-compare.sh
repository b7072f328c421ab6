#!/usr/bin/env bash
# trainyard's durable intake side by side with the Probot peer (../shared/bench/probot-peer,
# a minimal Probot 14 app that keeps nothing), in one run, same payload, same wrk settings:
# the peer first, then trainyard on SQLite and on PostgreSQL, at each connection count.
# Prints one line per run and the ratios to the peer; fails if trainyard answered anything
# but 2xx or lost a delivery.
#
#   bench/webhook-compare.sh                     # 32 and 256 connections, 10 s each
#   CONNECTION_COUNTS="32" DURATION=5s bench/webhook-compare.sh
#   SMOKE=1 bench/webhook-compare.sh             # 2 s at 4 connections on the debug build (CI);
#                                                # without the peer or node, trainyard alone
#
# Needs wrk, node >= 20.18 with npm (the peer's `npm install` is run once in a writable copy,
# PEER_DIR, default /tmp/probot-peer), and PostgreSQL at PG_URL. Talks to 127.0.0.1 only.
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ "${SMOKE:-}" == 1 ]]; then
  DURATION=${DURATION:-2s}
  CONNECTION_COUNTS=${CONNECTION_COUNTS:-4}
  if [[ -z "${BIN:-}" ]]; then
    cargo build --quiet
    export BIN=target/debug/trainyard
  fi
fi
DURATION=${DURATION:-10s}
THREADS=${THREADS:-2}
CONNECTION_COUNTS=${CONNECTION_COUNTS:-"32 256"}
PAYLOAD=${PAYLOAD:-fixtures/github-webhooks/pull_request/labeled.payload.json}
PG_URL=${PG_URL:-postgres://postgres@127.0.0.1:5432/test?sslmode=disable}
PEER_DIR=${PEER_DIR:-/tmp/probot-peer}
PEER_PORT=${PEER_PORT:-3100}
PEER_SECRET=bench-secret

command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 1; }
WITH_PEER=1
if [[ ! -d "$PEER_DIR/node_modules/probot" ]]; then
  if [[ -d ../shared/bench/probot-peer ]] && command -v npm >/dev/null; then
    rm -rf "$PEER_DIR" && cp -r ../shared/bench/probot-peer "$PEER_DIR"
    (cd "$PEER_DIR" && npm install --silent >/dev/null)
  elif [[ "${SMOKE:-}" == 1 ]]; then
    echo "smoke: no Probot peer here (../shared/bench/probot-peer or npm missing); trainyard alone"
    WITH_PEER=0
  else
    echo "the Probot peer needs ../shared/bench/probot-peer and npm" >&2
    exit 1
  fi
fi

peer_pgid=""
trap '[[ -n "$peer_pgid" ]] && kill -- "-$peer_pgid" 2>/dev/null || true' EXIT
if (( WITH_PEER )); then
  WEBHOOK_SECRET=$PEER_SECRET PORT=$PEER_PORT setsid bash "$PEER_DIR/run.sh" >/tmp/probot-peer.log 2>&1 &
  peer_pgid=$!
  for _ in $(seq 1 100); do
    curl -s -o /dev/null "http://127.0.0.1:$PEER_PORT/" && break
    sleep 0.2
  done
fi

declare -A RPS P99
run_peer() {
  local connections=$1
  if (( ! WITH_PEER )); then
    RPS[peer-$connections]=0
    P99[peer-$connections]=0
    return
  fi
  local signature
  signature="sha256=$(openssl dgst -sha256 -hmac "$PEER_SECRET" -r "$PAYLOAD" | cut -d' ' -f1)"
  local result
  result=$(PAYLOAD_FILE="$PAYLOAD" SIGNATURE="$signature" EVENT=pull_request \
    WEBHOOK_PATH=/api/github/webhooks \
    wrk -t"$THREADS" -c"$connections" -d"$DURATION" --latency -s bench/webhook-load.lua \
    "http://127.0.0.1:$PEER_PORT" | tail -n 1)
  echo "probot-peer c=$connections: $result"
  RPS[peer-$connections]=$(echo "$result" | sed -E 's/.*"rps":([0-9]+).*/\1/')
  P99[peer-$connections]=$(echo "$result" | sed -E 's/.*"p99_ms":([0-9.]+).*/\1/')
}

run_trainyard() {
  local store=$1 connections=$2
  local out
  if [[ $store == postgres ]]; then
    out=$(DATABASE_URL=$PG_URL CONNECTIONS=$connections DURATION=$DURATION THREADS=$THREADS \
      PAYLOAD=$PAYLOAD bench/webhook-load.sh)
  else
    out=$(CONNECTIONS=$connections DURATION=$DURATION THREADS=$THREADS PAYLOAD=$PAYLOAD \
      bench/webhook-load.sh)
  fi
  local wrk_line
  wrk_line=$(echo "$out" | grep '^wrk:')
  echo "trainyard $store c=$connections: ${wrk_line#wrk: }"
  echo "$out" | grep -E '^(rss|2xx|ok|MISMATCH)' | sed 's/^/    /'
  RPS[$store-$connections]=$(echo "$wrk_line" | sed -E 's/.*"rps":([0-9]+).*/\1/')
  P99[$store-$connections]=$(echo "$wrk_line" | sed -E 's/.*"p99_ms":([0-9.]+).*/\1/')
  local non2xx
  non2xx=$(echo "$wrk_line" | sed -E 's/.*"non_2xx":([0-9]+).*/\1/')
  if (( non2xx != 0 )); then
    echo "FAIL: trainyard on $store answered $non2xx non-2xx" >&2
    FAILED=1
  fi
}

if [[ -z "${BIN:-}" ]]; then
  cargo build --release --quiet
fi
FAILED=0
for c in $CONNECTION_COUNTS; do
  run_peer "$c"
  run_trainyard sqlite "$c"
  run_trainyard postgres "$c"
done
echo
echo "connections  peer rps (p99 ms)  sqlite rps (p99 ms, ratio)  postgres rps (p99 ms, ratio)"
for c in $CONNECTION_COUNTS; do
  peer=${RPS[peer-$c]}
  (( peer > 0 )) || peer=1
  printf '%-12s %-17s %-27s %s\n' "$c" "$peer (${P99[peer-$c]})" \
    "${RPS[sqlite-$c]} (${P99[sqlite-$c]}, $(awk -v a="${RPS[sqlite-$c]}" -v b="$peer" 'BEGIN {printf "%.2fx", a / b}'))" \
    "${RPS[postgres-$c]} (${P99[postgres-$c]}, $(awk -v a="${RPS[postgres-$c]}" -v b="$peer" 'BEGIN {printf "%.2fx", a / b}'))"
done
exit "$FAILED"
