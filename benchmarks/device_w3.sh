#!/usr/bin/env bash
# W3 scaling on a 16-core machine with Ray: shard counts in the order given, each result
# appended to OUTDIR/w3_ray.jsonl as soon as it is measured.
# Usage (on the machine, from the repo root): bash benchmarks/device_w3.sh DOCS OUTDIR SHARDS
# Expects Ray wheels in .whl/ when Ray is not installed (installed into /tmp/site).
set -uo pipefail
DOCS=${1:-100000}
OUTDIR=${2:-/tmp}
SHARDS=${3:-1,2,4,8}
export PYTHONUNBUFFERED=1 RAY_AUTH_MODE=disabled
if ! python3 -c "import ray" 2>/dev/null; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .whl/*.whl || exit 1
  export PYTHONPATH=/tmp/site
fi
export PYTHONPATH=$PWD/src:${PYTHONPATH:-}
date +%T; nproc
# the machine's own ceiling: 8 processes of independent work against one
python3 benchmarks/machine_parallelism.py --processes 8 --rounds 2 | tee "$OUTDIR/parallelism.md"
python3 benchmarks/ray_scaling.py --docs "$DOCS" --shards "$SHARDS" --backends ray \
  --ray-cpus "$(nproc)" --jsonl "$OUTDIR/w3_ray.jsonl"
# with cores to spare "auto" fans each phase out through a compiled graph; the other way,
# whole ticks chained actor to actor, for the shard counts above one
MULTI=$(echo "$SHARDS" | tr ',' '\n' | awk '$1 > 1' | paste -sd, -)
if [ -n "$MULTI" ]; then
  python3 benchmarks/ray_scaling.py --docs "$DOCS" --shards "$MULTI" --backends ray \
    --ray-cpus "$(nproc)" --ray-fan-out calls --jsonl "$OUTDIR/w3_ray_calls.jsonl"
fi
date +%T
