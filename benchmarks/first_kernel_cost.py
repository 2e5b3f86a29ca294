"""What a fresh phago process pays for its first Numba kernels (fiftieth session).

Every ``phago`` command that runs a kernel, and every Ray shard actor (its warm-up,
``_load_compiled_code``), starts Numba once. This runs, in fresh interpreters, alternating:

- ``now``: phago as it is (Numba's array-math registry loaded with SciPy's BLAS hidden,
  ``phago._jit._import_numba``);
- ``blas probe``: the same with the BLAS probe put back (``phago._jit._import_numba`` a
  plain ``import numba``, as before the fiftieth session, so that Numba's registry imports
  ``scipy.linalg.cython_blas`` to look for BLAS; the collector's change stays);

each doing what a shard actor does before its first tick (importing the Ray backend and
running its warm-up colony), and prints the CPU-seconds of each (user + system, median of
``--rounds``) and how much of it the warm-up took.

Usage:
    python benchmarks/first_kernel_cost.py [--rounds 5]
    PYTHONPATH=/tmp/old/src python benchmarks/first_kernel_cost.py   # an older version's

Also printed: the CPU-seconds of the cyclic collector's runs in the process (the median).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys

PROBE = """
import gc, os, json, sys, time
{before}
collecting = []
def timed(phase, info):
    collecting.append(time.process_time() * (1 if phase == "stop" else -1))
gc.callbacks.append(timed)
t0 = os.times()
from phago.distributed.backends import ray as backend
t1 = os.times()
backend._load_compiled_code()
t2 = os.times()
cpu = lambda t: t.user + t.system
print(json.dumps({{"total": cpu(t2), "warm_up": cpu(t2) - cpu(t1), "gc": sum(collecting),
                   "scipy_linalg": "scipy.linalg" in sys.modules}}))
"""

VARIANTS = {
    "now": "",
    "blas probe": "import importlib, phago._jit as jit\n"
    "jit._import_numba = lambda: importlib.import_module('numba')",
}


def measure(before: str) -> dict[str, float]:
    """One fresh interpreter's figures (see the module docstring)."""
    out = subprocess.run(
        [sys.executable, "-c", PROBE.format(before=before)],
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, float] = json.loads(out.stdout.splitlines()[-1])
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in VARIANTS}
    measure("")  # (Numba's cache written, if this checkout has never run a kernel)
    for _ in range(args.rounds):
        for name, before in VARIANTS.items():
            runs[name].append(measure(before))
    print(
        f"{'variant':<12} {'process CPU s':>14} {'warm-up CPU s':>14} {'cyclic GC s':>12}"
        f" {'scipy.linalg':>13}"
    )
    for name, rows in runs.items():
        total, warm, collect = (
            statistics.median(r[key] for r in rows) for key in ("total", "warm_up", "gc")
        )
        print(
            f"{name:<12} {total:>14.2f} {warm:>14.2f} {collect:>12.3f}"
            f" {rows[-1]['scipy_linalg']!s:>13}"
        )


if __name__ == "__main__":
    main()
