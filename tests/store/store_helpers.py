"""Helpers of the persistence, ingestion, export and viz tests (imported by name; a
``conftest`` module here would shadow ``tests/conftest.py`` for other test folders)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import strategies as st

from phago import Colony, ColonyConfig, Digester, Position
from phago.corpus import grid_positions, load_sample_corpus
from phago.state import ColonyState, capture


def make_colony(
    n_docs: int = 16,
    seed: int = 3,
    digesters: int = 5,
    config: ColonyConfig | None = None,
    max_idle: int = 40,
) -> Colony:
    """A colony with the first ``n_docs`` sample documents on a grid and a few digesters."""
    docs = load_sample_corpus()[:n_docs]
    colony = Colony(config, seed=seed)
    pos = grid_positions(len(docs))
    for d, p in zip(docs, pos, strict=True):
        colony.ingest_document(d.title, d.content, p)
    step = max(1, len(docs) // digesters)
    for j in range(digesters):
        p = pos[(j * step) % len(pos)]
        colony.spawn(Digester(Position(p.x + 1, p.y + 1), max_idle=max_idle))
    return colony


def assert_same_state(a: ColonyState, b: ColonyState) -> None:
    """Every part of two captured states is equal (graph, documents, signals, traces, agents,
    timeline)."""
    assert a.graph.equals(b.graph)
    sa, sb = a.substrate, b.substrate
    assert sa.tick == sb.tick
    assert np.array_equal(sa.doc_ids, sb.doc_ids)
    assert sa.doc_titles == sb.doc_titles and sa.doc_contents == sb.doc_contents
    assert np.array_equal(sa.doc_pos, sb.doc_pos)
    assert np.array_equal(sa.doc_digested, sb.doc_digested)
    for name in sa.signals:
        assert np.array_equal(sa.signals[name], sb.signals[name]), name
        assert np.array_equal(sa.traces[name], sb.traces[name]), name
    assert sa.trace_payloads == sb.trace_payloads
    assert [(x.agent_type, x.state) for x in a.agents] == [
        (x.agent_type, x.state) for x in b.agents
    ]
    assert a.rng == b.rng
    assert (a.total_spawned, a.total_died, a.layout_next) == (
        b.total_spawned,
        b.total_died,
        b.layout_next,
    )
    assert a.fitness == b.fitness and a.death_signals == b.death_signals
    assert (a.total_retired, a.fitness_dead, a.fitness_max_generation) == (
        b.total_retired,
        b.fitness_dead,
        b.fitness_max_generation,
    )
    # the timelines' counts (their milliseconds differ where both colonies ran)
    ta, tb = a.timeline, b.timeline
    assert (ta is None) == (tb is None)
    if ta is not None and tb is not None:
        assert np.array_equal(ta[:, :7], tb[:, :7])


def write(path: Path, data: str | bytes) -> Path:
    """Write text or bytes, creating folders."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, bytes):
        path.write_bytes(data)
    else:
        path.write_text(data, encoding="utf-8")
    return path


def capture_of(colony: Colony) -> ColonyState:
    """Shorthand for :func:`phago.state.capture`."""
    return capture(colony)


def fill_disk_at_eight_pages(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make every store file written from now on full at eight SQLite pages (SQLite's real
    "database or disk is full" error: a page limit stands in for the disk)."""
    import sqlite3

    import phago.store as store_mod

    real = store_mod._connect_write

    def tiny(path: Path) -> sqlite3.Connection:
        con = real(path)
        con.execute("PRAGMA max_page_count = 8")
        return con

    monkeypatch.setattr(store_mod, "_connect_write", tiny)


BYTE_CHANGES = st.lists(
    st.tuples(st.integers(min_value=100), st.integers(0, 255)), min_size=1, max_size=24
)
"""Changes to a store file's bytes past its header: (offset, taken modulo the file's length;
new byte value) pairs, for the property tests of damaged stores."""


def changed_bytes(data: bytes, changes: list[tuple[int, int]]) -> bytes:
    """``data`` with each of :data:`BYTE_CHANGES`' ``changes`` made."""
    out = bytearray(data)
    for at, value in changes:
        out[at % len(out)] = value
    return bytes(out)
