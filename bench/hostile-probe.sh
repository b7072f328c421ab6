#!/usr/bin/env bash
# Issue 12, item 7: signed deliveries keep flowing while 1,100 slow-header connections and 50
# parallel 25 MiB bad-signature bodies hit a server limited to 1,024 open files.
# Usage: bench/hostile-probe.sh [path/to/trainyard]   (default: a fresh release build)
set -euo pipefail
cd "$(dirname "$0")/.."
bin="${1:-}"
if [[ -z "$bin" ]]; then
  cargo build --release --quiet
  bin="$PWD/target/release/trainyard"
fi
dir="$(mktemp -d)"
port=3917
secret=probe-secret
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$dir"' EXIT
(
  cd "$dir"
  ulimit -n 1024
  exec env -u DATABASE_URL \
    TRAINYARD_LISTEN="127.0.0.1:$port" \
    TRAINYARD_GITHUB_APP_ID=42 \
    TRAINYARD_GITHUB_PRIVATE_KEY_PATH="$OLDPWD/fixtures/keys/test-app.pem" \
    TRAINYARD_GITHUB_WEBHOOK_SECRET="$secret" \
    TRAINYARD_GITHUB_API_URL=http://127.0.0.1:9 \
    TRAINYARD_WORKERS=1 \
    RUST_LOG=error \
    "$bin" serve
) >"$dir/server.log" 2>&1 &
pid=$!
for _ in $(seq 100); do curl -fs "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
python3 bench/hostile-probe.py --url "http://127.0.0.1:$port" --secret "$secret" --pid "$pid" "${@:2}"
