"""What the forty-first session's additions cost, each timed on its own (min of ``--repeat``).

- the timeline: a tick's row (``TimelineBuffer.append``), copying and pickling 100,000 rows,
  and making them ``TickRecord``s;
- the read-only graph: the block around Sense (``HebbianGraph.read_only``) and the write
  guard every graph change passes (``_check_writable``);
- the tokeniser's data-address pattern on 250 KB of text made to stall it
  (``phago.text.URL.subn``);
- the documents' information of a store of ``--notes`` notes, a tag on every third:
  written (``_info_json`` and its JSON) and read (``json.loads`` and ``_info_from_json``).

Usage:
    python benchmarks/session_costs.py [--notes 50000] [--repeat 7]

Prints a table of milliseconds (microseconds where it says).
"""

from __future__ import annotations

import argparse
import functools
import json
import pickle
import time
from collections.abc import Callable

from phago.graph import HebbianGraph
from phago.store import Catalog, _info_from_json, _info_json, _json_bytes
from phago.text import URL
from phago.timeline import TimelineBuffer


def best(fn: Callable[[], object], repeat: int, number: int = 1) -> float:
    """The least seconds one call of ``fn`` took, over ``repeat`` rounds of ``number``."""
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        for _ in range(number):
            fn()
        times.append((time.perf_counter() - began) / number)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--notes", type=int, default=50_000)
    ap.add_argument("--repeat", type=int, default=7)
    a = ap.parse_args()
    rows: list[tuple[str, str]] = []

    buffer = TimelineBuffer()
    row = (1, 5000, 40000, 10, 100, 50, 0, 0.5, 0.0)
    rows.append(
        (
            "timeline: append a tick (µs)",
            f"{best(lambda: buffer.append(*row), a.repeat, 100_000) * 1e6:.2f}",
        )
    )
    full = TimelineBuffer()
    for t in range(100_000):
        full.append(t, 5000 + t, 40000 + t, 10, 100, 50, 0, 0.5, 0.0)
    rows.append(("timeline: copy 100,000 rows", f"{best(full.rows, a.repeat) * 1e3:.2f}"))
    rows.append(
        ("timeline: pickle 100,000 rows", f"{best(lambda: pickle.dumps(full), a.repeat) * 1e3:.1f}")
    )
    rows.append(("timeline: 100,000 TickRecords", f"{best(full.records, 3) * 1e3:.0f}"))

    g = HebbianGraph()

    def sensing() -> None:
        with g.read_only("sensing"):
            pass

    rows.append(
        ("read-only block around Sense (µs)", f"{best(sensing, a.repeat, 100_000) * 1e6:.2f}")
    )
    rows.append(
        (
            "write guard per graph change (µs)",
            f"{best(g._check_writable, a.repeat, 100_000) * 1e6:.3f}",
        )
    )

    for name, text in (
        ("data: x 50,000", "data:" * 50_000),
        ("data:a/b; x 50,000", "data:" + "a/b;" * 50_000),
        ("data:a/b;x=y x 50,000", "data:a/b" + ";x=y" * 50_000),
    ):
        seconds = best(functools.partial(URL.subn, " ", text), a.repeat)
        rows.append((f"URL.subn on {name}", f"{seconds * 1e3:.1f}"))

    cat = Catalog()
    for i in range(a.notes):
        cat.note_added([10**18 + i * 7919], [] if i % 3 else ["lab"], when="2026-12-06T18:00:00Z")
    data = _json_bytes(_info_json(cat))
    rows.append(
        (
            f"document info of {a.notes:,} notes: write",
            f"{best(lambda: _json_bytes(_info_json(cat)), a.repeat) * 1e3:.1f}",
        )
    )
    rows.append(
        (
            f"document info of {a.notes:,} notes: json.loads",
            f"{best(lambda: json.loads(data), a.repeat) * 1e3:.1f}",
        )
    )
    parsed = json.loads(data)
    rows.append(
        (
            f"document info of {a.notes:,} notes: read",
            f"{best(lambda: _info_from_json(parsed), a.repeat) * 1e3:.1f}",
        )
    )

    width = max(len(r[0]) for r in rows)
    print(f"{'what':<{width}}  ms (min of {a.repeat})")
    for what, figure in rows:
        print(f"{what:<{width}}  {figure}")


if __name__ == "__main__":
    main()
