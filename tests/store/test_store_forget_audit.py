"""Forgetting documents, as an audit found it going wrong: an edge pruned and made again by a
newer document, reinforced edges keeping a forgotten note alive, a sharded store that could
not forget, untyped errors, and forgetting in a colony in memory."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

import numpy as np
import pytest
from click.testing import CliRunner
from store_helpers import assert_same_state, make_colony

from phago import Colony, ColonyConfig, Digester, Position
from phago.cli import main
from phago.distributed import DistributedColony
from phago.errors import (
    DistributedError,
    DocumentError,
    NodeNotFound,
    PhaseOrderError,
    UnknownAgent,
    UnknownDocument,
)
from phago.graph import HebbianGraph
from phago.ingest import digest_new_documents
from phago.state import (
    ColonyState,
    ForgetReport,
    capture,
    forget_documents,
    plan_forget,
    presentation_pairs,
    restore,
)
from phago.store import (
    forget_in_store,
    load,
    load_distributed,
    load_state,
    read_shard_states,
    save,
    save_distributed,
)
from phago.synthetic import synthetic_corpus

# edges mature and decay fast, so an unused edge is pruned within a few dozen ticks
FAST = ColonyConfig(edge_decay_rate=0.05, maturation_ticks=2)
OLD = ("old", "Zelda studies volcanology")
NEW = ("new", "Zelda studies volcanology in Iceland")
SHOP = ("shop", "Weekly groceries: apples, bread, cheese.")
SECRET = ("secret", "My bank PIN hint is platypus marmalade.")
SECRET_ONLY = {"bank", "pin", "hint", "platypus", "marmalade"}


def labels(g: HebbianGraph) -> set[str]:
    return set(g.labels())


def edge_labels(g: HebbianGraph) -> dict[tuple[str, ...], tuple[int, float]]:
    a, b, w, co, _, _ = g.edge_arrays()
    return {
        tuple(sorted((g.label_at(int(x)), g.label_at(int(y))))): (int(c), round(float(v), 12))
        for x, y, v, c in zip(a, b, w, co, strict=True)
    }


def pruned_then_made_again() -> tuple[Colony, int, int]:
    """The old note's edge zelda–volcanology decays and is pruned; a newer note makes it
    again (one co-activation, the newer note's)."""
    c = Colony(FAST, seed=0)
    old = c.ingest_document(*OLD)
    digest_new_documents(c, [old], digesters=1)
    assert c.graph.edge_between("zelda", "volcanology") is not None
    for _ in range(200):
        if c.graph.edge_between("zelda", "volcanology") is None:
            break
        c.run(1)
    assert c.graph.edge_between("zelda", "volcanology") is None
    new = c.ingest_document(*NEW)
    digest_new_documents(c, [new], digesters=1)
    e = c.graph.edge_between("zelda", "volcanology")
    assert e is not None and e.co_activations == 1
    return c, old, new


# ------------------------------------------------------------------ 1. pruned and made again


def test_forgetting_an_old_note_keeps_the_edge_a_newer_note_made_again(tmp_path: Path) -> None:
    c, old, _ = pruned_then_made_again()
    before = c.graph.edge_between("zelda", "volcanology")
    p = save(c, tmp_path / "c.db")
    report = forget_in_store(p, [old])
    assert report.documents_removed == [old]
    after = load(p).graph.edge_between("zelda", "volcanology")
    assert after == before  # the newer note's edge, untouched
    assert {"zelda", "volcanology", "iceland"} <= labels(load(p).graph)


def test_forgetting_the_newer_note_removes_only_its_edges() -> None:
    c, _, new = pruned_then_made_again()
    st = capture(c)
    forget_documents(st, [new])
    g = restore(st).graph
    # the old note still presents zelda and volcanology; their edge was the new note's
    assert {"zelda", "volcanology"} <= labels(g) and "iceland" not in labels(g)
    assert g.edge_between("zelda", "volcanology") is None


def test_provenance_ticks_are_kept_by_a_store(tmp_path: Path) -> None:
    c, old, new = pruned_then_made_again()
    st = capture(c)
    assert st.graph.prov_tick is not None and (st.graph.prov_tick >= 0).all()
    ticks = dict(zip(st.graph.prov_doc.tolist(), st.graph.prov_tick.tolist(), strict=True))
    edge = c.graph.edge_between("zelda", "volcanology")
    assert edge is not None
    assert ticks[old] < edge.created_tick <= ticks[new]
    p = save(c, tmp_path / "c.db")
    loaded_ticks = load_state(p).graph.prov_tick
    assert loaded_ticks is not None
    assert np.array_equal(loaded_ticks, st.graph.prov_tick)
    assert_same_state(capture(load(p)), st)


def test_a_store_without_provenance_ticks_forgets_as_before(tmp_path: Path) -> None:
    """A store saved before provenance ticks were kept loads without them; a presentation
    whose tick is not known counts for every edge it wired."""
    c, old, _ = pruned_then_made_again()
    p = save(c, tmp_path / "c.db")
    with sqlite3.connect(p) as con:
        con.execute("DELETE FROM blobs WHERE name = 'graph.prov_tick_runs'")
    assert load_state(p).graph.prov_tick is None
    assert np.all(capture(load(p)).graph.prov_tick == -1)
    forget_in_store(p, [old])
    assert load(p).graph.edge_between("zelda", "volcanology") is None


# ------------------------------------------------------------------ 2. reinforcement


def reinforce(c: Colony, label: str) -> None:
    """What a reinforced query does: one co-activation at the current tick, no document."""
    g = c.graph
    node = g.find_by_label(label)
    assert node is not None
    i = g.index_of(node)
    indptr, nbr, _ = g._adjacency()
    others = nbr[indptr[i] : indptr[i + 1]]
    g.wire_pairs(np.full(len(others), i), others, c.current_tick, increment=0.05)


def notes_colony(reinforced: bool) -> tuple[Colony, int, int]:
    c = Colony(seed=0)
    shop = c.ingest_document(*SHOP)
    digest_new_documents(c, [shop], digesters=1)
    secret = c.ingest_document(*SECRET)
    digest_new_documents(c, [secret], digesters=1)
    if reinforced:
        for lab in ("platypus", "marmalade", "bank"):
            reinforce(c, lab)
    return c, shop, secret


@pytest.mark.parametrize("reinforced", [False, True], ids=["plain", "reinforced"])
def test_forgotten_note_is_gone_whatever_reinforcement_it_got(
    tmp_path: Path, reinforced: bool
) -> None:
    c, _, secret = notes_colony(reinforced)
    assert labels(c.graph) >= SECRET_ONLY
    p = save(c, tmp_path / "c.db")
    report = forget_in_store(p, [secret])
    g = load(p).graph
    assert report.nodes_removed == len(SECRET_ONLY)
    assert not SECRET_ONLY & labels(g)
    assert labels(g) == {"weekly", "groceries", "apples", "bread", "cheese"}
    assert g.edge_count == 10  # the shopping note's clique, as before the secret came


def test_reinforcement_alone_keeps_no_edge_of_a_forgotten_note() -> None:
    """Both ends survive (other notes present them), but only the forgotten note ever wired
    their edge: a reinforced query's co-activation does not keep it."""
    c = Colony(seed=0)
    ids = [
        c.ingest_document("a", "Alpha beta"),
        c.ingest_document("b", "Gamma delta"),
        c.ingest_document("c", "Alpha gamma"),
    ]
    digest_new_documents(c, ids, digesters=1)
    reinforce(c, "alpha")
    edge = c.graph.edge_between("alpha", "gamma")
    assert edge is not None
    assert edge.co_activations == 2
    report = c.forget_documents([ids[2]])
    assert report.nodes_removed == 0 and labels(c.graph) == {"alpha", "beta", "gamma", "delta"}
    assert c.graph.edge_between("alpha", "gamma") is None
    # an edge a remaining note wired keeps its reinforcement
    edge = c.graph.edge_between("alpha", "beta")
    assert edge is not None
    assert edge.co_activations == 2


def test_cli_forget_after_a_reinforced_store(tmp_path: Path) -> None:
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "shop.txt").write_text(SHOP[1])
    (notes / "secret.txt").write_text(SECRET[1])
    db = tmp_path / "mem.db"
    run = CliRunner().invoke
    assert run(main, ["ingest", str(notes / "shop.txt"), "--db", str(db)]).exit_code == 0
    assert run(main, ["ingest", str(notes / "secret.txt"), "--db", str(db)]).exit_code == 0
    c = load(db)
    reinforce(c, "platypus")
    save(c, db)
    r = run(main, ["forget", str(notes / "secret.txt"), "--db", str(db), "--json"])
    assert r.exit_code == 0, r.output
    assert '"nodes_removed": 5' in r.output
    assert not SECRET_ONLY & labels(load(db).graph)
    help_text = run(main, ["forget", "--help"]).output
    assert "reinforce" in help_text and "no remaining document" in help_text


# ------------------------------------------------------------------ 3. sharded stores


def sharded(reinforced: bool, shards: int) -> tuple[DistributedColony, int]:
    dc = DistributedColony(num_shards=shards, seed=0)
    dc.ingest_documents([SHOP])
    dc.spawn_digesters(1)
    dc.run_until_digested(200)
    dc.ingest_documents([SECRET])
    dc.spawn_digesters(1)
    dc.run_until_digested(200)
    secret = next(d.id for d in dc.documents() if d.title == "secret")
    if reinforced:
        g = dc.graph
        pairs = []
        for lab in ("platypus", "marmalade", "bank"):
            node = g.find_by_label(lab)
            assert node is not None
            pairs += [(node, other) for other, _ in g.neighbors(node)]
        dc.reinforce_edges(pairs, [p[0] for p in pairs], 0.05, dc.current_tick)
    return dc, secret


@pytest.mark.parametrize("shards", [2, 3])
@pytest.mark.parametrize("reinforced", [False, True], ids=["plain", "reinforced"])
def test_sharded_store_forgets_as_one_colony_does(
    tmp_path: Path, reinforced: bool, shards: int
) -> None:
    dc, secret = sharded(reinforced, shards)
    try:
        assert labels(dc.graph) >= SECRET_ONLY
        d = save_distributed(dc, tmp_path / "dist")
    finally:
        dc.close()
    report = forget_in_store(d, [secret])
    c, _, one_secret = notes_colony(reinforced)
    one = c.forget_documents([one_secret])
    assert report.documents_removed == [secret] and report.nodes_removed == one.nodes_removed
    again = load_distributed(d)
    try:
        g = again.graph
        assert labels(g) == labels(c.graph)
        assert set(edge_labels(g)) == set(edge_labels(c.graph))
        again.run(3)
    finally:
        again.close()
    # no ghost kept in the store names the removed concepts or the forgotten note
    manifest, _, extras = read_shard_states(d)
    ghosts = [x for ex in extras for x in ex.get("ghosts", [])]
    ghosts += [x for v in manifest.get("ghost_answers", {}).values() for x in v]
    for x in ghosts:
        if "cap_order" not in x:
            assert x["label"] not in SECRET_ONLY
            assert secret not in (x["data"] or {}).get("documents", [])


def test_sharded_cli_forget_after_reinforcement(tmp_path: Path) -> None:
    dc, _ = sharded(True, 2)
    try:
        d = save_distributed(dc, tmp_path / "sh.d")
    finally:
        dc.close()
    secret = next(
        int(x)
        for st in read_shard_states(d)[1]
        for x, t in zip(st.substrate.doc_ids, st.substrate.doc_titles, strict=True)
        if t == "secret"
    )
    r = CliRunner().invoke(main, ["forget", str(secret), "--db", str(d), "--json"])
    assert r.exit_code == 0, r.output
    assert '"nodes_removed": 5' in r.output


def test_plan_drops_a_node_only_when_no_state_presents_it_otherwise() -> None:
    c, shop, secret = notes_colony(True)
    st = capture(c)
    plan = plan_forget([st, st], [secret])  # (a state twice: the same decision)
    dropped = {st.graph.labels[int(i)] for i in np.flatnonzero(np.isin(st.graph.ids, plan.drop))}
    assert dropped == SECRET_ONLY
    assert plan_forget([st], [shop, secret]).drop.size == st.graph.node_count


# ------------------------------------------------------------------ 4. typed errors


@pytest.mark.parametrize("bad", ["abc", -1, 2**70, 1.5, True, None])
def test_bad_document_ids_are_document_errors(tmp_path: Path, bad: object) -> None:
    c, _, _ = notes_colony(False)
    p = save(c, tmp_path / "c.db")
    with pytest.raises(DocumentError):
        forget_in_store(p, [bad])  # type: ignore[list-item]
    with pytest.raises(DocumentError):
        forget_documents(capture(c), [bad])
    with pytest.raises(DocumentError):
        c.forget_documents([bad])  # type: ignore[list-item]
    assert load(p).stats().documents_total == 2  # nothing changed


def test_an_id_string_is_not_a_collection_of_ids(tmp_path: Path) -> None:
    p = save(Colony(), tmp_path / "c.db")
    with pytest.raises(DocumentError, match="collection"):
        forget_in_store(p, "123")  # type: ignore[arg-type]


def test_key_errors_print_their_message_without_quotes() -> None:
    for cls in (NodeNotFound, UnknownDocument, UnknownAgent):
        exc = cls("edge endpoint 5 is not a node")
        assert str(exc) == "edge endpoint 5 is not a node"
        assert isinstance(exc, KeyError)


def test_forget_report_repr_gives_counts() -> None:
    r = ForgetReport([1, 2], 3, 4, 5, [], np.arange(10_000))
    assert repr(r) == (
        "ForgetReport(documents_removed=2, unknown=0, nodes_removed=3, edges_removed=4, "
        "edges_weakened=5, kept_nodes=10000)"
    )


# ------------------------------------------------------------------ 5. forgetting in memory


def test_colony_forget_equals_forgetting_in_the_store(tmp_path: Path) -> None:
    c = make_colony(10, digesters=3)
    c.run_until_digested(300)
    reinforce(c, c.graph.label_at(0))
    victims = [d.id for d in c.documents()[2:4]]
    p = save(c, tmp_path / "c.db")
    stored = forget_in_store(p, [*victims, 12345])
    agents = list(c.agents)
    mine = c.forget_documents([*victims, 12345])
    assert (mine.documents_removed, mine.unknown) == (stored.documents_removed, [12345])
    assert (mine.nodes_removed, mine.edges_removed, mine.edges_weakened) == (
        stored.nodes_removed,
        stored.edges_removed,
        stored.edges_weakened,
    )
    twin = load(p)
    assert_same_state(capture(c), capture(twin))
    assert all(a is b for a, b in zip(c.agents, agents, strict=True))  # the same agents
    c.ingest_document("later", "Ribosomes read messenger RNA.", Position(3, 3))
    twin.ingest_document("later", "Ribosomes read messenger RNA.", Position(3, 3))
    c.spawn(Digester(Position(3, 4)))
    twin.spawn(Digester(Position(3, 4)))
    c.run(20)
    twin.run(20)
    assert_same_state(capture(c), capture(twin))


def test_colony_forget_an_agent_holding_the_document() -> None:
    c = make_colony(6, digesters=3)
    held: list[int] = []
    for _ in range(10):
        c.tick()
        held = [
            int(cast(Any, a).current_document) for a in c.agents if getattr(a, "engulfed", None)
        ]
        if held:
            break
    assert held, "no agent held a document"
    c.forget_documents(held)
    assert all(getattr(a, "current_document", None) not in held for a in c.agents)
    c.run_until_digested(300)
    assert c.stats().documents_digested == c.stats().documents_total == 6 - len(held)


def test_colony_forget_only_between_ticks_and_not_on_a_shard() -> None:
    c, _, secret = notes_colony(False)
    c.sense()
    with pytest.raises(PhaseOrderError):
        c.forget_documents([secret])
    c.act()
    c.decay()
    c.advance()
    dc = DistributedColony(num_shards=1, seed=0)
    try:
        shard_colony = dc.runner.shards[0].colony
        with pytest.raises(DistributedError):
            shard_colony.forget_documents([secret])
    finally:
        dc.close()
    assert c.forget_documents([secret]).documents_removed == [secret]
    assert not SECRET_ONLY & labels(c.graph)


# ------------------------------------------------------------------ the rule, checked directly


def expected_after_forget(
    st: ColonyState, gone: Sequence[int]
) -> tuple[set[str], dict[tuple[str, ...], tuple[int, float]]]:
    """The rule of :func:`phago.state.forget_documents`, computed edge by edge."""
    gs = st.graph
    assert gs.prov_tick is not None
    tick = dict(zip(gs.prov_doc.tolist(), gs.prov_tick.tolist(), strict=True))
    wired = {int(d): set(presentation_pairs(st, [int(d)])) for d in st.substrate.doc_ids}
    only_gone = set()
    for i, nid in enumerate(gs.ids.tolist()):
        docs = set(gs.prov_doc[gs.prov_node == i].tolist())
        if docs and docs <= set(gone):
            only_gone.add(nid)
    labels_after = {lab for lab, nid in zip(gs.labels, gs.ids.tolist(), strict=True)}
    labels_after -= {gs.labels[i] for i, nid in enumerate(gs.ids.tolist()) if nid in only_gone}
    edges: dict[tuple[str, ...], tuple[int, float]] = {}
    for a, b, w, co, made in zip(
        gs.edge_a, gs.edge_b, gs.weight, gs.co_activations, gs.edge_created, strict=True
    ):
        ida, idb = int(gs.ids[a]), int(gs.ids[b])
        key = (min(ida, idb), max(ida, idb))
        name = tuple(sorted((gs.labels[a], gs.labels[b])))
        if ida in only_gone or idb in only_gone:
            continue
        counts = [d for d, p in wired.items() if key in p and tick[d] >= made]
        withdrawn = sum(1 for d in counts if d in gone)
        if withdrawn and (co - withdrawn <= 0 or len(counts) == withdrawn):
            continue
        left = int(co) - withdrawn
        edges[name] = (left, round(float(w) * left / int(co), 12))
    return labels_after, edges


@pytest.mark.parametrize("window", [None, 3], ids=["clique", "window"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_forget_follows_the_rule_edge_by_edge(window: int | None, seed: int) -> None:
    """Documents digested one after another with decay pruning edges between them, some
    repeated, some reinforced: forgetting any few leaves exactly what the rule says."""
    rng = np.random.default_rng(seed)
    corpus = synthetic_corpus(12, vocab=40, words_per_doc=10, seed=seed)
    config = ColonyConfig(edge_decay_rate=0.02, maturation_ticks=2, wiring_window=window)
    c = Colony(config, seed=seed)
    ids = []
    for k in rng.choice(len(corpus), size=8, replace=False).tolist():
        title, text = corpus[k]
        ids.append(c.ingest_document(title, text))
        digest_new_documents(c, [ids[-1]], digesters=1)
        if rng.random() < 0.7:  # a reinforced query about a concept that has edges
            g = c.graph
            mine = [g.label_at(i) for i in range(g.node_count) if g.degree(g.id_at(i))]
            reinforce(c, mine[int(rng.integers(len(mine)))])
        c.run(int(rng.integers(0, 15)))
    st = capture(c)
    gone = [ids[int(k)] for k in rng.choice(len(ids), size=3, replace=False)]
    want_labels, want_edges = expected_after_forget(st, gone)
    assert forget_documents(st, gone).documents_removed == sorted(gone, key=ids.index)
    g = restore(st).graph
    assert labels(g) == want_labels
    assert edge_labels(g) == want_edges
