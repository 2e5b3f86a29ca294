"""A/B of two revisions on workload W3, run side by side, at the same moment.

Usage:
    python benchmarks/ab_revisions.py --base REV [--head REV] [--docs 30000] [--shards 1]
                                      [--rounds 6] [--json]

Why side by side: on this shared (virtual) machine the speed drifts by up to 1.5x within the
hour, so two runs one after the other can differ by more than the change being measured. Run
at the same moment, both see the same drift, and the median of the rounds' ratios is the
figure to read. Single rounds still scatter: each virtual core's host thread is slowed on its
own, so in an A/A test (the same code twice, 2 local shards, D = 30k, 6 rounds) the ratio
ranged 0.74-1.25 with a median of 0.988. Read a median within a few percent of 1 as no
change. (Pinning each run to one core made it worse: a slow core then decides a round.)

``--base`` and ``--head`` are git revisions (``--head`` defaults to the working tree); each is
checked out into a temporary worktree (the working tree is used as it is). Both runs use this
checkout's W3 harness (``w3common.py``) and import phago from their own ``src``. The local
backend runs its shards in one process, so it fits one core; Ray does not and is not offered.
Needs at least two cores.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent


def child(docs: int, shards: int) -> None:
    """Run W3 once in this process and print its figures as JSON (the pinned side)."""
    sys.path.insert(0, str(HERE))
    from w3common import run_w3, warm_up

    warm_up()
    run_w3(500, shards=shards)  # compiles (or loads) every kernel the timed run uses
    row = run_w3(docs, shards=shards).row()
    import phago

    row["phago"] = str(Path(phago.__file__).resolve().parent)
    print(json.dumps(row))


def checkout(rev: str, into: Path) -> Path:
    """A detached worktree of ``rev`` under ``into``."""
    path = into / f"{len(list(into.iterdir()))}-{rev.replace('/', '_')}"  # unique per call
    subprocess.run(
        ["git", "-C", str(REPO), "worktree", "add", "--detach", str(path), rev],
        check=True,
        capture_output=True,
    )
    return path


def start(tree: Path, docs: int, shards: int) -> subprocess.Popen[str]:
    """Start the child run for ``tree``."""
    env = {**os.environ, "PYTHONPATH": str(tree / "src")}
    cmd = [sys.executable, str(HERE / "ab_revisions.py"), "--child"]
    cmd += ["--docs", str(docs), "--shards", str(shards)]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, text=True)


def finish(proc: subprocess.Popen[str], tree: Path) -> dict[str, Any]:
    """Wait for a child and check it ran the tree it was meant to."""
    out, _ = proc.communicate()
    if proc.returncode != 0:
        raise SystemExit(f"the run of {tree} failed (exit {proc.returncode})")
    row: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    if not row["phago"].startswith(str(tree.resolve())):
        raise SystemExit(f"{tree} imported phago from {row['phago']}")
    return row


def main() -> None:
    """Parse arguments, run the rounds, print a table (or JSON)."""
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--base", help="git revision to compare against")
    ap.add_argument("--head", default=None, help="git revision (default: the working tree)")
    ap.add_argument("--docs", type=int, default=30_000)
    ap.add_argument("--shards", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        child(a.docs, a.shards)
        return
    if not a.base:
        ap.error("--base is required")
    if len(os.sched_getaffinity(0)) < 2:
        raise SystemExit("side-by-side runs need two cores")
    with tempfile.TemporaryDirectory(prefix="phago-ab-") as tmp:
        trees = [checkout(a.base, Path(tmp))]
        trees.append(checkout(a.head, Path(tmp)) if a.head else REPO)
        rows = []
        try:
            for r in range(a.rounds):
                procs = [start(t, a.docs, a.shards) for t in trees]
                base, head = (finish(p, t) for p, t in zip(procs, trees, strict=True))
                if (base["ticks"], base["edges"]) != (head["ticks"], head["edges"]):
                    print(
                        f"# note: the revisions differ in ticks/edges: {base['ticks']}/"
                        f"{base['edges']} against {head['ticks']}/{head['edges']}",
                        file=sys.stderr,
                    )
                rows.append(
                    {
                        "round": r + 1,
                        "base_s": base["seconds"],
                        "head_s": head["seconds"],
                        "ratio": head["seconds"] / base["seconds"],
                    }
                )
                print(f"# round {r + 1}: {rows[-1]}", file=sys.stderr)
        finally:
            for t in trees:
                if t != REPO:
                    subprocess.run(
                        ["git", "-C", str(REPO), "worktree", "remove", "--force", str(t)],
                        check=False,
                        capture_output=True,
                    )
    ratios = [r["ratio"] for r in rows]
    summary = {"median_ratio": statistics.median(ratios), "min": min(ratios), "max": max(ratios)}
    if a.json:
        print(json.dumps({"rows": rows, **summary}, indent=2))
        return
    print(
        f"W3, D = {a.docs}, {a.shards} local shard(s): {a.base} against {a.head or 'working tree'}"
    )
    print("| round | base s | head s | head / base |")
    print("|---:|---:|---:|---:|")
    for row in rows:
        print(
            f"| {row['round']} | {row['base_s']:.2f} | {row['head_s']:.2f} | {row['ratio']:.3f} |"
        )
    print(
        f"median head / base: {summary['median_ratio']:.3f} "
        f"(range {summary['min']:.3f}-{summary['max']:.3f})"
    )


if __name__ == "__main__":
    main()
