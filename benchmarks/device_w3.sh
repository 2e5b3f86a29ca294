#!/usr/bin/env bash
# W3 scaling on a 16-core machine: one local shard, then Ray with 1, 2, 4 and 8 shards.
# Usage (on the machine, from the repo root): bash benchmarks/device_w3.sh DOCS OUTDIR
# Expects Ray wheels in .whl/ when Ray is not installed (installed into /tmp/site).
set -uo pipefail
DOCS=${1:-100000}
OUTDIR=${2:-/tmp}
export PYTHONUNBUFFERED=1 RAY_AUTH_MODE=disabled
if ! python3 -c "import ray" 2>/dev/null; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .whl/*.whl || exit 1
  export PYTHONPATH=/tmp/site
fi
export PYTHONPATH=$PWD/src:${PYTHONPATH:-}
nproc; python3 -c "import numpy, numba, ray, scipy; print(numpy.__version__, numba.__version__, ray.__version__)" || exit 1
python3 benchmarks/ray_scaling.py --docs "$DOCS" --shards 1 --backends local --json > "$OUTDIR/w3_local.json"
cat "$OUTDIR/w3_local.json"
python3 benchmarks/ray_scaling.py --docs "$DOCS" --shards 1,2,4,8 --backends ray --ray-cpus "$(nproc)" --json \
  > "$OUTDIR/w3_ray.json"
cat "$OUTDIR/w3_ray.json"
