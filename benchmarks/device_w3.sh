#!/usr/bin/env bash
# W3 scaling on a 16-core machine with Ray: shard counts in the order given, each result
# appended to OUTDIR/*.jsonl as soon as it is measured, the whole output also in OUTDIR/log.
# Usage (on the machine, from the repo root): bash benchmarks/device_w3.sh DOCS OUTDIR SHARDS
# Expects .whl/ from benchmarks/device_bundle.sh when Ray is not installed (unpacked into
# /tmp/site).
set -uo pipefail
DOCS=${1:-100000}
OUTDIR=${2:-/tmp}
SHARDS=${3:-1,2,4,8}
export PYTHONUNBUFFERED=1 RAY_AUTH_MODE=disabled RAY_USAGE_STATS_ENABLED=0
if ! python3 -c "import ray" 2>/dev/null; then
  mkdir -p /tmp/site
  if compgen -G ".whl/*.whl" >/dev/null; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
      --target /tmp/site .whl/*.whl || exit 1
  fi
  for bundle in .whl/*.tar.xz; do
    [ -e "$bundle" ] && { tar xJf "$bundle" -C /tmp/site || exit 1; }
  done
  export PYTHONPATH=/tmp/site
fi
export PYTHONPATH=$PWD/src:${PYTHONPATH:-}
{
date +%T; nproc; free -g | head -2; python3 --version
python3 -c "import ray, numpy, numba; print('ray', ray.__version__, 'numpy', numpy.__version__, 'numba', numba.__version__)" || exit 1
# a small run first, so that numba's compiled functions are cached before anything is timed
python3 benchmarks/ray_scaling.py --docs 2000 --shards 1 --backends ray --ray-cpus "$(nproc)" \
  >/dev/null
# one to eight Ray shards, each a one-CPU actor, with the machine's cores declared to Ray
python3 benchmarks/ray_scaling.py --docs "$DOCS" --shards "$SHARDS" --backends ray \
  --ray-cpus "$(nproc)" --jsonl "$OUTDIR/w3_ray.jsonl"
date +%T
# the 2-core goal on a quiet machine: everything (driver, Ray, shards) on cores 0 and 1
if command -v taskset >/dev/null; then
  taskset -c 0,1 python3 benchmarks/ray_scaling.py --docs "$DOCS" --shards 1,2 --backends ray \
    --ray-cpus 2 --jsonl "$OUTDIR/w3_ray_2cores.jsonl"
  date +%T
fi
# the machine's own ceiling: 8 processes of independent work against one
python3 benchmarks/machine_parallelism.py --processes 8 --rounds 1
date +%T
# the other fan-out: one shard through a compiled graph (and, with COMPILED=1, several)
python3 benchmarks/ray_scaling.py --docs "$DOCS" --shards 1 --backends ray \
  --ray-cpus "$(nproc)" --ray-fan-out compiled --jsonl "$OUTDIR/w3_ray_compiled_1.jsonl"
MULTI=$(echo "$SHARDS" | tr ',' '\n' | awk '$1 > 1' | paste -sd, -)
if [ -n "$MULTI" ] && [ -n "${COMPILED:-}" ]; then
  python3 benchmarks/ray_scaling.py --docs "$DOCS" --shards "$MULTI" --backends ray \
    --ray-cpus "$(nproc)" --ray-fan-out compiled --jsonl "$OUTDIR/w3_ray_compiled.jsonl"
fi
date +%T
} 2>&1 | tee "$OUTDIR/log"
