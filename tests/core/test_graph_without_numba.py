"""The graph's paths without Numba agree with its kernels.

Where Numba is not imported yet, small id lookups (``HebbianGraph.indices_of_ids``) ask
the graph's id dictionary instead of the id table, and a graph built from columns
(``HebbianGraph.from_arrays``) finds duplicate edges by sorting and leaves its edge table
to its first use: a command that loads a distributed store and answers one query would
otherwise pay Numba's start. Both paths must give the same graphs and answers.
"""

from __future__ import annotations

import pickle
import subprocess
import sys
from pathlib import Path
from typing import Any
from unittest.mock import patch

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import phago.graph as graph_mod
from phago.errors import GraphError, NodeNotFound
from phago.graph import HebbianGraph


def _printed_by_a_fresh_python(code: str) -> list[str]:
    """The words ``code`` prints, run by a new interpreter (Numba not imported yet)."""
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    return r.stdout.split()


@pytest.fixture(params=["kernel", "dictionary", "sorted"])
def path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    use_kernel = request.param == "kernel"
    monkeypatch.setattr(graph_mod, "kernel_pays", lambda *a, **k: use_kernel)
    if request.param == "sorted":  # many ids without Numba: the graph's ids sorted, searched
        monkeypatch.setattr(graph_mod, "_DICT_LOOKUP_MAX", 0)
    return str(request.param)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    batches=st.lists(
        st.lists(st.text("abcdefgh", min_size=1, max_size=3), max_size=30), max_size=5
    ),
    strangers=st.lists(st.integers(0, 2**64 - 1), max_size=8),
)
def test_both_paths_find_every_node_and_no_stranger(
    path: str, batches: list[list[str]], strangers: list[int]
) -> None:
    g = HebbianGraph()
    for labels in batches:
        g.present(labels)
        ids = [g.id_at(i) for i in range(g.node_count)]
        unknown = [x for x in strangers if x not in g]
        for query in (ids + unknown, np.array(ids + unknown, dtype=np.uint64)):
            got = g.indices_of_ids(query)
            assert got.dtype == np.int64
            assert got.tolist() == list(range(g.node_count)) + [-1] * len(unknown)
    back = pickle.loads(pickle.dumps(g))
    ids = [g.id_at(i) for i in range(g.node_count)]
    assert back.indices_of_ids(ids[::-1]).tolist() == list(range(g.node_count))[::-1]


def test_ids_that_cannot_name_a_node_are_not_found(path: str) -> None:
    g = HebbianGraph()
    g.present(["a", "b"])
    a = g.id_at(0)
    assert g.indices_of_ids([a, -1, 2**64, g.id_at(1)]).tolist() == [0, -1, -1, 1]
    assert g.indices_of_ids(np.array([-5, 3], dtype=np.int64)).tolist() == [-1, -1]
    assert g.indices_of_ids(np.zeros(0, dtype=np.uint64)).tolist() == []
    with pytest.raises(TypeError):
        g.indices_of_ids(np.array([1.5]))


def test_a_graph_built_from_arrays_is_found_on_both_paths(path: str) -> None:
    g = HebbianGraph()
    g.present([f"t{i}" for i in range(50)])
    ids = np.array([g.id_at(i) for i in range(g.node_count)], dtype=np.uint64)
    n = g.node_count
    none = np.zeros(0, dtype=np.uint64)
    built = HebbianGraph.from_arrays(
        node_ids=ids,
        labels=[g.label_at(i) for i in range(n)],
        node_types=["concept"] * n,
        access=np.zeros(n, dtype=np.int64),
        created=np.zeros(n, dtype=np.int64),
        positions=np.zeros((n, 2)),
        edge_a=none,
        edge_b=none,
        weight=np.zeros(0),
        co_activations=np.zeros(0, dtype=np.int64),
        created_tick=np.zeros(0, dtype=np.int64),
        last_activated_tick=np.zeros(0, dtype=np.int64),
    )
    assert built.indices_of_ids(ids[::-1]).tolist() == list(range(n))[::-1]


def test_small_lookups_do_not_start_numba() -> None:
    """Without Numba imported, a lookup answers from the dictionary and leaves it so."""
    code = (
        "import sys\n"
        "from phago.graph import HebbianGraph\n"
        "g = HebbianGraph(); g.present(['a', 'b', 'c'])\n"
        "assert 'numba' not in sys.modules, 'numba imported before the lookup'\n"
        "got = g.indices_of_ids([g.id_at(2), 7, g.id_at(0)]).tolist()\n"
        "print(got, 'numba' in sys.modules)\n"
    )
    assert _printed_by_a_fresh_python(code) == ["[2,", "-1,", "0]", "False"]


@settings(max_examples=60, deadline=None)
@given(
    keys=st.lists(st.integers(0, 2**64 - 1), unique=True, max_size=40),
    wanted=st.lists(st.integers(0, 2**64 - 1), max_size=40),
    picks=st.lists(st.integers(0, 39), max_size=20),
)
def test_sorted_search_finds_what_a_dictionary_finds(
    keys: list[int], wanted: list[int], picks: list[int]
) -> None:
    wanted = wanted + [keys[i % len(keys)] for i in picks] if keys else wanted
    where = {k: i for i, k in enumerate(keys)}
    got = graph_mod._positions_among(
        np.array(keys, dtype=np.uint64), np.array(wanted, dtype=np.uint64)
    )
    assert got.dtype == np.int64 and got.tolist() == [where.get(w, -1) for w in wanted]


def test_a_merge_of_many_provenance_pairs_does_not_start_numba() -> None:
    """A graph built from columns with more provenance pairs than the dictionary takes
    (a distributed store of 20,000 notes merged for one query: about 500,000) finds them
    by sorting, and leaves Numba unimported."""
    code = (
        "import sys\n"
        "import numpy as np\n"
        "from phago.graph import HebbianGraph\n"
        "n = 5000\n"
        "ids = np.arange(1, n + 1, dtype=np.uint64) * np.uint64(2654435761)\n"
        "rng = np.random.default_rng(0)\n"
        "pairs = rng.integers(0, n, 400_000)\n"
        "a, b = np.arange(n - 1), np.arange(1, n)\n"
        "z = np.zeros(n - 1, dtype=np.int64)\n"
        "g = HebbianGraph.from_arrays(node_ids=ids, labels=[f'n{i}' for i in range(n)],\n"
        "    node_types=['concept'] * n, access=np.zeros(n, dtype=np.int64),\n"
        "    created=np.zeros(n, dtype=np.int64), positions=None, edge_a=ids[a],\n"
        "    edge_b=ids[b], weight=np.full(n - 1, 0.5), co_activations=z + 1,\n"
        "    created_tick=z, last_activated_tick=z, prov_nodes=ids[pairs],\n"
        "    prov_docs=rng.integers(0, 2**63, 400_000).astype(np.uint64))\n"
        "found = g.indices_of_ids(ids[pairs])\n"
        "print(bool((found == pairs).all()), 'numba' in sys.modules)\n"
    )
    assert _printed_by_a_fresh_python(code) == ["True", "False"]


def _from_edges(n: int, a: list[int], b: list[int]) -> HebbianGraph:
    ids = np.arange(1, n + 1, dtype=np.uint64) * np.uint64(7919)
    m = len(a)
    return HebbianGraph.from_arrays(
        node_ids=ids,
        labels=[f"n{i}" for i in range(n)],
        node_types=["concept"] * n,
        access=np.zeros(n, dtype=np.int64),
        created=np.zeros(n, dtype=np.int64),
        positions=np.zeros((n, 2)),
        edge_a=ids[a],
        edge_b=ids[b],
        weight=np.linspace(0.1, 1.0, m) if m else np.zeros(0),
        co_activations=np.arange(1, m + 1, dtype=np.int64),
        created_tick=np.arange(m, dtype=np.int64),
        last_activated_tick=np.arange(m, dtype=np.int64) + 3,
    )


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    n=st.integers(2, 30),
    pairs=st.lists(st.tuples(st.integers(0, 29), st.integers(0, 29)), max_size=60),
)
def test_a_graph_from_columns_is_the_same_on_both_paths(
    path: str, n: int, pairs: list[tuple[int, int]]
) -> None:
    """Columns, answers and later wiring equal the kernel path's, edge for edge."""
    seen: set[tuple[int, int]] = set()
    a: list[int] = []
    b: list[int] = []
    for x, y in pairs:
        x, y = x % n, y % n
        if x != y and (min(x, y), max(x, y)) not in seen:
            seen.add((min(x, y), max(x, y)))
            a.append(x)
            b.append(y)
    g = _from_edges(n, a, b)
    with_kernel = _graph_on_the_kernel_path(n, a, b)
    assert g.edge_count == with_kernel.edge_count == len(a)
    assert list(g.edges()) == list(with_kernel.edges())
    for x, y in zip(a, b, strict=True):
        assert g.get_edge(g.id_at(x), g.id_at(y)) == with_kernel.get_edge(
            with_kernel.id_at(x), with_kernel.id_at(y)
        )
    if n >= 3:  # wiring after the build finds the edges the build made
        for graph in (g, with_kernel):
            graph.wire_pairs([0, 1], [1, 2], tick=5)
        assert list(g.edges()) == list(with_kernel.edges())


def _graph_on_the_kernel_path(n: int, a: list[int], b: list[int]) -> HebbianGraph:
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(graph_mod, "kernel_pays", lambda *args, **kwargs: True)
        return _from_edges(n, a, b)


def test_duplicate_edges_are_refused_on_both_paths(path: str) -> None:
    with pytest.raises(GraphError, match="duplicate edges"):
        _from_edges(4, [0, 1, 2], [1, 2, 0 + 1])
    with pytest.raises(GraphError, match="duplicate edges"):
        _from_edges(4, [0, 3], [3, 0])  # the same pair, either way round


def _digested_on_two_shards(documents: int | None, digesters: int) -> Any:
    """A two-shard local colony of the sample corpus (its first ``documents``; None: all)
    run until digested."""
    from phago.corpus import grid_positions, load_sample_corpus
    from phago.distributed import DistributedColony

    docs = load_sample_corpus()[:documents]
    dc = DistributedColony(num_shards=2, seed=0)
    dc.ingest_documents(
        [
            (d.title, d.content, (p.x, p.y))
            for d, p in zip(docs, grid_positions(len(docs)), strict=True)
        ]
    )
    dc.spawn_digesters(digesters)
    dc.run_until_digested(300)
    return dc


def test_a_distributed_store_answers_a_query_without_numba(tmp_path: Path) -> None:
    """Loading a distributed store and querying its merged graph leaves Numba unloaded,
    and the answer is the one this process (Numba loaded) gives."""
    from phago.query.retrieve import retrieve
    from phago.store import save_distributed

    dc = _digested_on_two_shards(None, digesters=3)
    try:
        save_distributed(dc, tmp_path / "store")
        want = [(r.label, round(r.score, 9)) for r in retrieve(dc, "membrane protein", 5)]
    finally:
        dc.close()
    code = (
        "import sys\n"
        "from phago.query.retrieve import retrieve\n"
        "from phago.store import load_distributed\n"
        f"with load_distributed({str(tmp_path / 'store')!r}, backend='local') as dc:\n"
        "    got = [(r.label, round(r.score, 9)) for r in retrieve(dc, 'membrane protein', 5)]\n"
        "print(repr(got))\n"
        "print('numba' in sys.modules)\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    got, numba_loaded = r.stdout.strip().splitlines()
    assert want and got == repr(want)
    assert numba_loaded == "False"


def test_measuring_edge_memory_leaves_the_edge_table_to_its_first_use() -> None:
    """A sharded colony's stats report each shard's memory: measuring it built every
    shard's edge table (a Numba kernel) on a store just loaded, where nothing else needed
    one yet."""
    g = HebbianGraph()
    idx = g.present(["a", "b", "c"])
    g.wire_pairs(np.array([idx[0], idx[1]]), np.array([idx[1], idx[2]]), tick=0)
    held = g.edge_memory_bytes()
    g._defer_table()  # (as a graph built from columns without Numba leaves it)
    assert g.edge_memory_bytes() == held
    assert g._table_due  # not built to be measured
    assert g.edge_count == 2 and g.get_edge(g.id_at(0), g.id_at(1)) is not None  # built on use
    assert not g._table_due


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(1, 12),
    pairs=st.lists(st.tuples(st.integers(0, 11), st.integers(0, 11)), max_size=30),
    listed=st.lists(st.integers(-2, 13), max_size=6),
)
def test_degrees_and_listed_nodes_are_the_same_without_numba(
    n: int, pairs: list[tuple[int, int]], listed: list[int]
) -> None:
    """A graph's degrees (counted once, by a kernel or with NumPy) and its check of listed
    node indices give the same answers on both paths."""
    kept = sorted({(min(a, b), max(a, b)) for a, b in pairs if a != b and max(a, b) < n})
    answers = []
    for use_kernel in (True, False):
        with patch.object(graph_mod, "kernel_pays", lambda *_, k=use_kernel, **__: k):
            g = _from_edges(n, [a for a, _ in kept], [b for _, b in kept])
            degrees = g.degrees().tolist()
            try:
                incident = g.degrees_and_incident_edges(listed)[1][1].tolist()
            except NodeNotFound:
                incident = None
        answers.append((degrees, incident))
    assert answers[0] == answers[1]
    want = [sum(v in pair for pair in kept) for v in range(n)]
    assert answers[0][0] == want
    assert (answers[0][1] is None) == any(not 0 <= i < n for i in listed)


def test_a_forget_in_a_distributed_store_does_not_start_numba(tmp_path: Path) -> None:
    """`phago forget` in a distributed store (it writes the store's summary, with every
    concept's degree) leaves Numba unloaded, and the store it leaves is the one this process
    (Numba loaded) leaves."""
    from phago.store import forget_in_store, read_summary, save_distributed

    dc = _digested_on_two_shards(12, digesters=2)
    try:
        gone = int(dc.documents()[3].id)
        for name in ("here", "there"):
            save_distributed(dc, tmp_path / name)
    finally:
        dc.close()
    forget_in_store(tmp_path / "here", [gone])
    code = (
        "import sys\n"
        "from phago.cli import main\n"
        "try:\n"
        f"    main(['forget', '{gone}', '--db', {str(tmp_path / 'there')!r}])\n"
        "except SystemExit as exc:\n"
        "    assert not exc.code, exc.code\n"
        "print('numba' in sys.modules)\n"
    )
    assert _printed_by_a_fresh_python(code)[-1] == "False"
    here, there = read_summary(tmp_path / "here"), read_summary(tmp_path / "there")
    assert here.stats == there.stats and here.top_concepts == there.top_concepts
    assert here.stats["documents_total"] == 12 - 1
