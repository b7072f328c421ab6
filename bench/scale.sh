#!/usr/bin/env bash
# trainyard as a shared service (benches/scale): a fake GitHub serving INSTALLATIONS x
# REPOS_PER_INSTALLATION repositories with LATENCY_MS a call and GitHub's limits enforced,
# 1-4 `trainyard serve` processes (REPLICAS) on one PostgreSQL, quiet traffic from many
# repositories with and without one noisy repository's NOISY_EVENTS, then a burst. See
# docs/scaling.md for what it reports and the figures.
#
#   bench/scale.sh                                  # REPLICAS="1 2", 100 ms GitHub
#   REPLICAS="1 2 4" LATENCY_MS=100 bench/scale.sh
#   SMOKE=1 bench/scale.sh                          # a few seconds (CI): completes, nothing lost
#
# Needs PostgreSQL at DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test); uses a
# schema of its own (trainyard_scale). BIN=path runs another build.
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ -z "${BIN:-}" ]]; then
  if [[ "${SMOKE:-}" == 1 ]]; then
    cargo build --quiet
    export BIN=target/debug/trainyard
  else
    cargo build --release --quiet
    export BIN=target/release/trainyard
  fi
fi
export SCALE_RUN=1
if [[ "${SMOKE:-}" == 1 ]]; then
  # The test profile's build, already there after `cargo test`.
  cargo test --quiet --bench scale --no-run 2>/dev/null
  exe=$(ls -t target/debug/deps/scale-* | grep -v '\.d$' | head -n 1)
  "$exe"
else
  cargo bench --quiet --bench scale
fi
