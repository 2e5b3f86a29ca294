"""Processes that start together on a fresh install: Numba compiles, with and without the
compile lock (fiftieth session).

Copies ``src/phago`` into a temporary folder (so Numba's cache there is cold, and this
checkout's own cache is left alone), then starts ``--processes`` interpreters at once on
that copy, each doing what a shard does first: the Ray backend's warm-up colony, then a
2-shard local colony over the sample corpus for 30 ticks and a query. Once as phago is
(``phago._compile_lock``: each kernel compiled by one process, loaded by the others), once
with the lock taken out (``phago._jit.compile_alone`` a no-op: every process compiles what
it does not find cached), each on a fresh copy. Prints, per variant, the wall seconds until
the last process ended and the CPU-seconds of all of them.

Usage:
    python benchmarks/cold_compile.py [--processes 3]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import phago

WORK = """
import json, os, sys
sys.path.insert(0, sys.argv[1])
{patch}
from phago.corpus import grid_positions, load_sample_corpus
from phago.distributed import DistributedColony
from phago.distributed.backends import ray as backend
assert backend.__file__.startswith(sys.argv[1]), backend.__file__
backend._load_compiled_code()
docs = load_sample_corpus()
dc = DistributedColony(2, seed=0)
dc.ingest_documents([(d.title, d.content, p) for d, p in zip(docs, grid_positions(len(docs)))])
dc.spawn_digesters(2, max_idle=60)
dc.run(30)
dc.query("cell protein")
t = os.times()
print(json.dumps({{"cpu": t.user + t.system}}))
"""

VARIANTS = {
    "compile lock": "",
    "no lock": "import phago._jit\nphago._jit.compile_alone = lambda dispatcher: dispatcher",
}


def run_variant(patch: str, processes: int) -> tuple[float, float]:
    """(wall seconds, CPU-seconds of all processes) on a fresh copy of phago."""
    with tempfile.TemporaryDirectory() as tmp:
        shutil.copytree(
            Path(phago.__file__).parent,
            Path(tmp) / "phago",
            ignore=shutil.ignore_patterns("__pycache__"),
        )
        began = time.perf_counter()
        children = [
            subprocess.Popen(
                [sys.executable, "-c", WORK.format(patch=patch), tmp],
                stdout=subprocess.PIPE,
                text=True,
            )
            for _ in range(processes)
        ]
        cpu = 0.0
        for child in children:
            out, _ = child.communicate()
            if child.returncode != 0:
                raise SystemExit(f"a process failed ({child.returncode})")
            cpu += json.loads(out.splitlines()[-1])["cpu"]
        return time.perf_counter() - began, cpu


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--processes", type=int, default=3)
    args = ap.parse_args()
    print(f"{'variant':<14} {'processes':>9} {'wall s':>8} {'CPU s, all':>11}")
    for name, patch in VARIANTS.items():
        wall, cpu = run_variant(patch, args.processes)
        print(f"{name:<14} {args.processes:>9} {wall:>8.1f} {cpu:>11.1f}")


if __name__ == "__main__":
    main()
