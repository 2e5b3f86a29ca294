"""Forgetting documents withdraws exactly their contribution (rule in phago.state)."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from unittest.mock import patch

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from store_helpers import make_colony

from phago import Colony, ColonyConfig, Position
from phago import _kernels as kernels_module
from phago import state as state_module
from phago.corpus import load_sample_corpus
from phago.distributed import DistributedColony
from phago.export import GraphTable
from phago.state import _document_pairs, capture, forget_documents, restore
from phago.store import forget_in_store, load, load_with_catalog, save
from phago.text import tokenize_with_positions


@pytest.fixture
def digested_colony() -> Colony:
    """A small colony run until its 8 documents are digested."""
    c = make_colony(8, digesters=3)
    c.run_until_digested(200)
    return c


PURE = ColonyConfig(edge_decay_rate=0.0, max_edge_degree=None)
WINDOW = ColonyConfig(edge_decay_rate=0.0, max_edge_degree=None, wiring_window=4)


def edge_map(t: GraphTable) -> dict[tuple[str, str], tuple[int, float]]:
    out = {}
    for a, b, w, co in zip(t.edge_a, t.edge_b, t.weight, t.co_activations, strict=True):
        la, lb = sorted((t.labels[int(a)], t.labels[int(b)]))
        out[(la, lb)] = (int(co), float(w))
    return out


def build(titles_skip: set[int], config: ColonyConfig, n: int = 10) -> Colony:
    docs = [d for i, d in enumerate(load_sample_corpus()[:n]) if i not in titles_skip]
    c = Colony(config, seed=5)
    for d in docs:
        c.ingest_document(d.title, d.content)
    from phago.ingest import digest_new_documents

    digest_new_documents(c, [x.id for x in c.documents()], digesters=3, max_ticks=500)
    return c


@pytest.mark.parametrize("config", [PURE, WINDOW], ids=["clique", "window"])
def test_forget_equals_never_having_seen_it(config: ColonyConfig) -> None:
    """Without decay and degree cap, forgetting documents gives the graph of a colony that never
    had them: the same concepts, edges and co-activations, weights up to rounding."""
    full = build(set(), config)
    never = build({2, 7}, config)
    docs = full.documents()
    st = capture(full)
    report = forget_documents(st, [docs[2].id, docs[7].id])
    assert sorted(report.documents_removed) == sorted([docs[2].id, docs[7].id])
    assert report.nodes_removed > 0 and report.edges_weakened > 0
    got, want = GraphTable.from_state(st), GraphTable.from_colony(never)
    assert sorted(got.labels) == sorted(want.labels)
    eg, ew = edge_map(got), edge_map(want)
    assert eg.keys() == ew.keys()
    for k in eg:
        assert eg[k][0] == ew[k][0], k
        assert eg[k][1] == pytest.approx(ew[k][1], abs=1e-9), k
    # provenance no longer mentions the forgotten documents; the colony restores and runs
    assert not np.isin(st.graph.prov_doc, [int(docs[2].id), int(docs[7].id)]).any()
    c = restore(st)
    c.run(5)
    assert c.stats().documents_total == 8


def test_forget_keeps_untouched_edges_exactly(digested_colony: Colony) -> None:
    before = GraphTable.from_colony(digested_colony)
    st = capture(digested_colony)
    victim = digested_colony.documents()[0]
    forget_documents(st, [victim.id])
    after = GraphTable.from_state(st)
    eb, ea = edge_map(before), edge_map(after)
    touched = {k for k in eb if k not in ea or ea[k] != eb[k]}
    labels = set(st.graph.labels)
    for k in ea:
        if k not in touched:
            assert ea[k] == eb[k]
    # every touched edge joins two concepts the forgotten document presented
    from phago.text import extract_keywords

    vocab = {k.label for k in extract_keywords(victim.content)}
    assert touched and all(a in vocab and b in vocab for a, b in touched)
    assert labels <= set(before.labels)


def test_forget_undigested_document_and_continue(tmp_path: Path) -> None:
    c = make_colony(10, digesters=2)
    c.run(2)
    undigested = [d for d in c.documents() if not d.digested]
    p = save(c, tmp_path / "c.db")
    r = forget_in_store(p, [undigested[-1].id, 12345])
    assert r.documents_removed == [undigested[-1].id] and r.unknown == [12345]
    d = load(p)
    assert d.stats().documents_total == 9
    d.run_until_digested(400)
    assert d.stats().documents_digested == 9


def test_forget_agent_holding_the_document() -> None:
    c = make_colony(6, digesters=3)
    for _ in range(10):
        c.tick()
        st = capture(c)
        held = [a.state["current_document"] for a in st.agents if a.state["engulfed"]]
        if held:
            break
    assert held, "no agent held a document"
    forget_documents(st, held)
    assert all(
        a.state["engulfed"] is None for a in st.agents if a.state["current_document"] in held
    )
    c2 = restore(st)
    c2.run_until_digested(300)
    assert c2.stats().documents_digested == c2.stats().documents_total == 6 - len(held)


def test_forget_updates_the_catalog(tmp_path: Path) -> None:
    from phago.ingest import ingest_paths
    from phago.store import Catalog

    (tmp_path / "a.txt").write_text("Ribosomes translate messenger RNA into protein.")
    (tmp_path / "b.txt").write_text("Mitochondria produce energy for the cell.")
    c = Colony(seed=1)
    _, sources = ingest_paths(c, [tmp_path])
    db = save(c, tmp_path / "c.db", catalog=Catalog(sources))
    _, cat = load_with_catalog(db)
    ids = cat.documents_from(tmp_path / "a.txt")
    assert len(ids) == 1
    forget_in_store(db, ids)
    _, cat = load_with_catalog(db)
    assert [s.path for s in cat.sources] == [str(tmp_path / "b.txt")]


def test_forgetting_only_unknown_ids_leaves_the_store_untouched(tmp_path: Path) -> None:
    c = Colony(seed=0)
    c.ingest_document("t", "cell wall protein", Position(0, 0))
    single = save(c, tmp_path / "c.db")
    with DistributedColony(2, seed=0) as dc:
        dc.ingest_documents([("t", "cell wall protein", (0.0, 0.0))])
        dc.save(tmp_path / "d")
    sharded = tmp_path / "d"
    for store in (single, sharded):
        files = sorted(p for p in [store, *store.glob("*")] if p.is_file())
        before = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in files}
        report = forget_in_store(store, [12345, 678])
        assert report.documents_removed == [] and report.unknown == [12345, 678]
        after = sorted(p for p in [store, *store.glob("*")] if p.is_file())
        assert after == files
        assert {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in files} == before


def test_a_forgotten_text_is_gone_from_the_store_files_bytes(tmp_path: Path) -> None:
    db = tmp_path / "c.db"
    colony = Colony(seed=3)
    texts = [
        ("membranes", "lipid bilayer membrane protein channel transport ion gradient"),
        ("glaciers", "glacier ice valley erosion moraine meltwater sediment"),
        ("ribosomes", "ribosome protein translation messenger codon peptide"),
    ]
    for i, (title, text) in enumerate(texts):
        colony.ingest_document(title, text, Position(3.0 * i, 1.0))
    colony.spawn_digesters(2)
    colony.run(30)
    save(colony, db)
    assert b"moraine meltwater" in db.read_bytes()
    glaciers = [d.id for d in colony.documents() if d.title == "glaciers"]
    assert forget_in_store(db, glaciers).documents_removed == glaciers
    assert b"moraine meltwater" not in db.read_bytes()  # (not only gone from its tables)
    # nor its words from the saved term counts' vocabulary (the digesters still alive
    # keep the words they learned: their vocabulary is theirs)
    con = sqlite3.connect(db)
    try:
        (meta,) = con.execute("SELECT data FROM blobs WHERE name = 'terms.meta'").fetchone()
    finally:
        con.close()
    assert b"ribosome" in meta and b"moraine" not in meta and b"meltwater" not in meta
    assert load(db).stats().documents_total == 2


WORDS = ["cell", "wall", "gene", "the", "and", "Cell", "proteins", "x1", "naïve", "über"]


@settings(max_examples=150, deadline=None)
@given(
    words=st.lists(st.sampled_from([*WORDS, "https://cell.example/wall", "--", "a"]), max_size=40),
    chosen=st.lists(st.sampled_from(["cell", "wall", "gene", "proteins", "naïve", "über", "x1"])),
    window=st.integers(1, 6),
    kernels=st.booleans(),
)
def test_a_documents_pairs_are_the_ones_its_words_within_the_window_give(
    words: list[str], chosen: list[str], window: int, kernels: bool
) -> None:
    """Which concept pairs a document wired, as a forget works it out (with the digester's
    term kernels where Numba is loaded, else with the tokeniser): the pairs its tokens
    within ``window`` words give, for ASCII and other text, links, and a concept named
    twice."""
    text = " ".join(words)
    labels = ["pad", *chosen, *chosen[:1]]
    concept_idx = np.arange(1, len(labels), dtype=np.int64)
    with patch.object(state_module, "numba_loaded", lambda: kernels):
        got = _document_pairs(concept_idx, labels, text, window)
    # the rule, read the slow way: every keyword occurrence, then the pairs within reach
    index = {labels[i]: n for n, i in enumerate(concept_idx.tolist())}
    occ = [(index[w], p) for w, p in tokenize_with_positions(text) if w in index]
    pairs = set()
    for x, (a, pa) in enumerate(occ):
        for b, pb in occ[x + 1 :]:
            if pb - pa <= window and a != b:
                pairs.add((min(a, b), max(a, b)))
    want = {
        (
            min(int(concept_idx[a]), int(concept_idx[b])),
            max(int(concept_idx[a]), int(concept_idx[b])),
        )
        for a, b in pairs
        if concept_idx[a] != concept_idx[b]
    }
    assert {tuple(r) for r in got.tolist()} == want


@settings(max_examples=60, deadline=None)
@given(
    present=st.sets(st.integers(0, 2**40), max_size=60),
    keys=st.lists(st.integers(0, 2**40), max_size=60),
    hashed=st.booleans(),
)
def test_the_membership_a_forget_tests_pairs_with_is_isin_either_way(
    present: set[int], keys: list[int], hashed: bool
) -> None:
    """Which (document, concept) keys a forget's last round finds among those present: by a
    hash table of them (Numba's kernels, for many lookups) or a binary search per key, the
    same answer as ``np.isin``."""
    sorted_present = np.array(sorted(present), dtype=np.int64)
    wanted = np.array(keys, dtype=np.int64)
    lookups = (1 << 30) if hashed else 0
    member = state_module._membership(sorted_present, lookups)
    assert member(wanted).tolist() == np.isin(wanted, sorted_present).tolist()


def test_too_many_keys_for_a_table_are_searched_instead(monkeypatch: pytest.MonkeyPatch) -> None:
    """Above a bound on the keys present the lookups search the sorted keys: the table would
    take too much memory (with the bound lowered, no table is made, the answer unchanged)."""

    def no_table(*_: object) -> None:
        raise AssertionError("a table was made")

    monkeypatch.setattr(state_module, "_MEMBERSHIP_TABLE_MAX_KEYS", 2)
    monkeypatch.setattr(kernels_module, "id_table_insert", no_table)
    member = state_module._membership(np.array([2, 5, 9], dtype=np.int64), 1 << 30)
    assert member(np.array([9, 3, 2], dtype=np.int64)).tolist() == [True, False, True]
