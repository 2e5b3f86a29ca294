"""Which of many keys are among a sorted set: a binary search per key, or one hash table.

Usage:
    python benchmarks/key_membership.py [--present 760000] [--lookups 3400000] [--repeat 3]

A forget's last round (``phago.state._supported_pairs``) asks, for every (pair, document)
candidate, whether the document presented the pair's other end: a key ``document * width +
concept`` looked up among the sorted keys present. At W3 D = 30k, forgetting 300 documents
from one colony, that was 3.4 million lookups among about 760,000 keys, in four chunks.
This times both ways :func:`phago.state._membership` can take, on random keys of the same
sizes and range (each lookup chunk against one table built once): ``np.searchsorted`` per
key, and the Numba id table (``id_table_insert`` then ``id_table_find``), after a warm-up
call, and checks that they agree.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from phago import state


def main() -> None:
    """Time both ways and print a table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--present", type=int, default=760_000)
    ap.add_argument("--lookups", type=int, default=3_400_000)
    ap.add_argument("--chunks", type=int, default=4)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    top = 30_000 * 3_063  # documents x concepts, as at W3 D = 30k
    present = np.unique(rng.integers(0, top, args.present))
    chunks = np.array_split(rng.integers(0, top, args.lookups), args.chunks)
    state._membership(present[:10], 1 << 30)(chunks[0][:10])  # (Numba loaded, kernels too)
    print(f"{len(present):,} keys present, {args.lookups:,} lookups in {args.chunks} chunks")
    print("| run | binary search per key s | hash table s |")
    print("|---:|---:|---:|")
    for run in range(1, args.repeat + 1):
        t0 = time.perf_counter()
        searched = state._membership(present, 0)
        slow = [searched(c) for c in chunks]
        t1 = time.perf_counter()
        hashed = state._membership(present, 1 << 30)
        fast = [hashed(c) for c in chunks]
        t2 = time.perf_counter()
        assert all(np.array_equal(a, b) for a, b in zip(slow, fast, strict=True))
        print(f"| {run} | {t1 - t0:.3f} | {t2 - t1:.3f} |")


if __name__ == "__main__":
    main()
