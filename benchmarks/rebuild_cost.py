"""What ``phago repair --rebuild`` costs against the ``phago ingest`` that made the store.

Usage:
    python benchmarks/rebuild_cost.py [--notes 10000] [--shards N] [--repeat 2] [--json]

Builds a store of ``--notes`` short notes as ``cli_latency.py`` does (``phago ingest
FOLDER``, timed: the cost of making the store in the first place), then, ``--repeat``
times, damages a fresh copy of it (the graph's weights overwritten under their checksum,
so that it no longer loads) and times ``phago repair --rebuild`` on it as a fresh process.
Printed: the seconds of the ingest and of each rebuild, whether the rebuilt store holds
every note and the same graph (nodes, edges) as the store before the damage, and (a store
file) the seconds of storing its documents in a new colony one by one, as a rebuild does,
against one batch.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sqlite3
import tempfile
import time
from pathlib import Path

from cli_latency import DEFAULT_CORPUS, build_store, phago_command, timed


def damage(store: Path) -> None:
    """Overwrite the graph's weights (a store file's, or shard 0's of a distributed store)."""
    target = store if store.is_file() else next(store.glob("gen-*/shard-000.db"))
    with sqlite3.connect(target) as con:
        con.execute("UPDATE blobs SET data = x'00' WHERE name = 'graph.weight'")
    con.close()


def graph_size(store: Path) -> tuple[int, int, int]:
    """Documents, nodes and edges of the store (``phago stats --json``)."""
    import subprocess

    done = subprocess.run(
        phago_command("stats", "--db", str(store), "--json"), capture_output=True, check=True
    )
    stats = json.loads(done.stdout)
    stats = stats.get("stats", stats)
    return int(stats["documents_total"]), int(stats["graph_nodes"]), int(stats["graph_edges"])


def storing_cost(store: Path) -> tuple[float, float]:
    """Seconds to store the store file's documents in a new colony one by one, each checked
    (what a rebuild does, so that a bad row is named rather than failing a batch), and as
    one batch."""
    from phago import Colony
    from phago.document_batch import DocumentBatch
    from phago.ids import DocumentId
    from phago.rebuild import salvage_store

    docs = salvage_store(store).documents
    one = Colony(seed=0)
    t0 = time.perf_counter()
    for d in docs:
        one.ingest_document(d.title, d.content, (d.x, d.y), doc_id=DocumentId(d.doc_id))
    t1 = time.perf_counter()
    batch = DocumentBatch.from_rows([(d.title, d.content, (d.x, d.y), d.doc_id) for d in docs])
    Colony(seed=0).ingest_batch(batch)
    return t1 - t0, time.perf_counter() - t1


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notes", type=int, default=10_000)
    parser.add_argument("--shards", type=int, default=None)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="phago-rebuild-"))
    try:
        store = work / ("notes.d" if args.shards else "notes.db")
        start = time.perf_counter()
        build_store(store, args.corpus, args.notes, args.shards)
        ingest_s = time.perf_counter() - start
        before = graph_size(store)
        one_by_one, as_batch = storing_cost(store) if store.is_file() else (None, None)
        rows = []
        for _ in range(args.repeat):
            copy = work / ("copy.d" if args.shards else "copy.db")
            if store.is_dir():
                shutil.copytree(store, copy)
            else:
                shutil.copyfile(store, copy)
            damage(copy)
            seconds = timed(phago_command("repair", "--db", str(copy), "--rebuild"), work)
            after = graph_size(copy)
            rows.append({"rebuild_s": round(seconds, 2), "same_graph": after == before})
            for leftover in work.glob("copy.*"):
                if leftover.is_dir():
                    shutil.rmtree(leftover)
                else:
                    leftover.unlink()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    result = {
        "notes": args.notes,
        "shards": args.shards or 1,
        "ingest_s": round(ingest_s, 2),
        "documents_nodes_edges": before,
        "rebuilds": rows,
        "storing_one_by_one_s": one_by_one,
        "storing_as_batch_s": as_batch,
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"store: {before[0]:,} documents, {before[1]:,} nodes, {before[2]:,} edges")
    if one_by_one is not None and as_batch is not None:
        print(f"storing its documents: one by one {one_by_one:.2f} s, as a batch {as_batch:.2f} s")
    print("| notes | shards | ingest s | rebuild s | same graph as ingested |")
    print("|---:|---:|---:|---:|---|")
    for row in rows:
        print(
            f"| {args.notes:,} | {args.shards or 1} | {ingest_s:.1f} | {row['rebuild_s']:.1f} "
            f"| {'yes' if row['same_graph'] else 'no'} |"
        )


if __name__ == "__main__":
    main()
