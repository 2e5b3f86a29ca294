"""The Digester's state machine and its fixes of the reference's defects."""

from __future__ import annotations

import json
from typing import Any, cast

import pytest
from hypothesis import given
from hypothesis import strategies as st

from phago import Colony, Digester, Position
from phago.agents.base import Agent
from phago.agents.digester import DigesterState, boundary_permeability, window_pairs
from phago.events import Died, Engulfed
from phago.ids import AgentId
from phago.text import extract_keywords
from phago.types import (
    AgentAction,
    Apoptose,
    BoundaryContext,
    CellHealth,
    ExportCapability,
    Move,
    NodeType,
    PresentFragments,
    Signal,
    SignalType,
)
from phago.types import Idle as IdleAction


def test_timeline_move_engulf_idle_present_deposit() -> None:
    c = Colony(seed=0)
    doc = c.ingest_document("t", "cell membrane protein", Position(4, 0))
    d = Digester(Position(0, 0))
    c.spawn(d)
    kinds = []
    for _ in range(5):
        c.sense()
        kinds.append(type(c._pending[0]).__name__)  # type: ignore[index]
        c.act(), c.decay(), c.advance()
    assert kinds == ["Move", "EngulfDocument", "Idle", "PresentFragments", "Deposit"]
    assert c.substrate.get_document(doc).digested
    node = c.graph.get_node(c.graph.find_by_label("cell"))  # type: ignore[arg-type]
    assert node is not None and node.documents == (doc,)  # provenance kept (§8 item 7)


def test_export_after_second_output_then_integration() -> None:
    c = Colony(seed=0)
    c.ingest_document("a", "alpha beta gamma", Position(0, 0))
    c.ingest_document("b", "delta epsilon zeta", Position(0.5, 0))
    d1 = Digester(Position(0, 0))
    c.spawn(d1)
    saw_export = False
    for _ in range(12):
        c.sense()
        saw_export |= any(isinstance(a, ExportCapability) for a in c._pending or [])
        c.act(), c.decay(), c.advance()
    assert saw_export and d1.has_exported
    payload = d1.export_vocabulary()
    assert payload is not None
    data = json.loads(payload)
    assert data["document_count"] == 2 and "alpha" in data["terms"]
    d2 = Digester(Position(0, 0))
    c.spawn(d2)
    c.run(1)
    assert "alpha" in d2.known_vocabulary
    assert d2.integrate_vocabulary(payload) == 0  # once per origin


def test_apoptosis_after_max_idle() -> None:
    c = Colony(seed=0)
    c.spawn(Digester(Position(0, 0), max_idle=5))
    events = c.run(7)
    assert c.alive_count == 0
    died = [e for tick in events for e in tick if type(e).__name__ == "Died"]
    assert died and cast(Died, died[0]).signal.cause.health is CellHealth.SENESCENT


def test_does_not_idle_beside_export_signals() -> None:
    """§8 item 6: a Capability signal nearby must not make a digester stay put."""
    c = Colony(seed=0)
    c.substrate.emit_signal(Signal(SignalType.CAPABILITY, 0.8, Position(1, 0), AgentId(9), 0))
    d = Digester(Position(0, 0))
    c.spawn(d)
    c.sense()
    assert isinstance(c._pending[0], Move)  # type: ignore[index]


def test_symbiosis_off_by_default_and_tried_once_when_on() -> None:
    """§8 item 5: no livelock; sentinels/synthesizers are not absorbed by default."""
    for enabled in (False, True):
        c = Colony(seed=0)
        d = Digester(Position(0, 0), symbiosis=enabled)
        c.spawn(d)
        d.useful_outputs = 3
        c.substrate.emit_signal(Signal(SignalType.ANOMALY, 1.0, Position(1, 0), AgentId(42), 0))
        actions = []
        for _ in range(3):
            c.sense()
            actions.append(type(c._pending[0]).__name__)  # type: ignore[index]
            c.act(), c.decay(), c.advance()
        assert actions.count("SymbioseWith") == (1 if enabled else 0)


def test_foreign_absorption_integrates_non_digesters() -> None:
    from phago.agents.base import AgentProfile
    from phago.types import SymbiosisEval

    d = Digester(Position(0, 0))
    assert (
        d.evaluate_symbiosis(AgentProfile(AgentId(1), "digester", (), CellHealth.HEALTHY))
        is SymbiosisEval.COEXIST
    )
    assert (
        d.evaluate_symbiosis(AgentProfile(AgentId(1), "sentinel", (), CellHealth.HEALTHY))
        is SymbiosisEval.INTEGRATE
    )
    assert (
        d.evaluate_symbiosis(AgentProfile(AgentId(1), "sentinel", (), CellHealth.SENESCENT))
        is SymbiosisEval.COEXIST
    )


def test_lost_race_returns_to_seeking() -> None:
    c = Colony(seed=0)
    c.ingest_document("t", "alpha beta", Position(0, 0))
    a, b = Digester(Position(0.2, 0)), Digester(Position(0.3, 0))
    c.spawn(a), c.spawn(b)
    events = c.run(2)
    engulfed = [e for e in events[0] if isinstance(e, Engulfed)]
    assert len(engulfed) == 1
    assert b.state is DigesterState.SEEKING and b.idle == 1


def test_permeability_formula_and_no_access_inflation() -> None:
    """§8 item 2: dissolution reinforces each term at most once per agent."""
    c = Colony(seed=0)
    c.ingest_document("t", "alpha beta gamma", Position(0, 0))
    d = Digester(Position(0, 0), max_idle=500)
    c.spawn(d)
    c.run(200)
    node = c.graph.get_node(c.graph.find_by_label("alpha"))  # type: ignore[arg-type]
    assert node is not None and node.access_count <= 2  # presented once + externalised once
    assert 0.0 <= d.permeability <= 1.0


@given(
    st.integers(-50, 500),
    st.integers(0, 1000),
    st.floats(-2.0, 2.0, allow_nan=False) | st.sampled_from([0.0, -0.0, 1.0, 0.5]),
)
def test_boundary_permeability_is_the_min_max_formula(r: int, age: int, trust: float) -> None:
    want = min(max(0.3 * min(r / 10.0, 1.0) + 0.3 * min(age / 100.0, 1.0) + 0.4 * trust, 0.0), 1.0)
    got = boundary_permeability(r, age, trust)
    assert got == want and str(got) == str(want)  # (the same float, sign of zero included)
    d = Digester(Position(0, 0))
    d.adjust_boundary(r, age, trust)
    assert d.permeability == want
    d.modulate_boundary(BoundaryContext(r, age, trust))
    assert d.permeability == want


def test_adjust_boundary_goes_through_an_overridden_modulate_boundary() -> None:
    seen: list[BoundaryContext] = []

    class Cautious(Digester):
        def modulate_boundary(self, context: BoundaryContext) -> None:
            seen.append(context)
            super().modulate_boundary(context)
            self._permeability /= 2

    d = Cautious(Position(0, 0))
    d.adjust_boundary(100, 400, 1.0)
    assert seen == [BoundaryContext(100, 400, 1.0)] and d.permeability == 0.5


class _Dissolver(Agent):
    """Externalises fixed terms once, or (unsaturated) sums access counts of its terms."""

    def __init__(self, terms: list[str], saturated: bool, age: int) -> None:
        super().__init__(Position(0, 0))
        self.terms = terms
        self.reinforcement_saturated = saturated
        self.age = age
        self.contexts: list[BoundaryContext] = []
        self._p = 0.0
        self._out = list(terms)

    def sense(self, view: object) -> AgentAction:
        return IdleAction()

    @property
    def permeability(self) -> float:
        return self._p

    def modulate_boundary(self, context: BoundaryContext) -> None:
        self.contexts.append(context)
        self._p = boundary_permeability(context.reinforcement_count, context.age, context.trust)

    def vocabulary_terms(self) -> list[str]:
        return self.terms

    def externalize_vocabulary(self) -> list[str]:
        out, self._out = self._out, []
        return out


def test_dissolving_agents_see_earlier_agents_access_counts_within_a_tick() -> None:
    """An agent still summing access counts sees what agents before it in the same tick's
    dissolution added, and none of what agents after it add."""
    c = Colony(seed=0)
    c.graph.present(["alpha", "beta"], NodeType.CONCEPT, Position(0, 0), 0)
    alpha = c.graph.index_of(c.graph.find_by_label("alpha"))  # type: ignore[arg-type]
    base = int(c.graph.access_counts()[alpha])
    first = _Dissolver(["alpha"], saturated=True, age=400)  # p = 1: externalises alpha
    reader = _Dissolver(["alpha"], saturated=False, age=1000)
    last = _Dissolver(["alpha"], saturated=True, age=400)  # externalises after the reader
    for a in (first, reader, last):
        c.spawn(a)
    c.sense()
    c.act()
    assert first.contexts[0].reinforcement_count == 100
    assert reader.contexts[0].reinforcement_count == base + 1  # first's, not last's
    assert int(c.graph.access_counts()[alpha]) == base + 2
    assert [type(e).__name__ for e in c._events].count("Dissolved") == 2


def test_keyword_window_pairs() -> None:
    text = "alpha beta gamma delta alpha"
    kws = extract_keywords(text)
    pairs = window_pairs(text, kws, 1).tolist()
    labels = [k.label for k in kws]
    named = {tuple(sorted((labels[i], labels[j]))) for i, j in pairs}
    assert named == {("alpha", "beta"), ("beta", "gamma"), ("delta", "gamma"), ("alpha", "delta")}


def test_windowed_colony_wires_fewer_pairs() -> None:
    from phago import ColonyConfig

    text = " ".join(f"word{i}" for i in range(40))
    full = Colony(ColonyConfig(max_edge_degree=None), seed=0)
    win = Colony(ColonyConfig(wiring_window=2, max_edge_degree=None), seed=0)
    for c in (full, win):
        c.ingest_document("t", text, Position(0, 0))
        c.spawn(Digester(Position(0, 0)))
        c.run_until_digested(10)
    assert full.graph.edge_count == 40 * 39 // 2
    assert win.graph.edge_count == 39 + 38


def test_presented_fragments_are_concepts_with_source() -> None:
    c = Colony(seed=0)
    doc = c.ingest_document("t", "alpha beta", Position(0, 0))
    d = Digester(Position(0, 0))
    c.spawn(d)
    seen: list[PresentFragments] = []
    for _ in range(4):
        c.sense()
        seen += [a for a in c._pending or [] if isinstance(a, PresentFragments)]
        c.act(), c.decay(), c.advance()
    (p,) = seen
    assert all(f.node_type is NodeType.CONCEPT and f.source_document == doc for f in p.fragments)


def test_senescent_agent_apoptoses_immediately() -> None:
    c = Colony(seed=0)
    d = Digester(Position(0, 0), max_idle=1)
    c.spawn(d)
    d.idle = 1
    c.sense()
    assert isinstance(c._pending[0], Apoptose)  # type: ignore[index]


# ---------------------------------------------------------------- claims, moves and the hunt


def _first_actions(c: Colony) -> list[AgentAction]:
    c.sense()
    actions = list(c._pending or [])
    c.act(), c.decay(), c.advance()
    return actions


def test_claims_send_neighbours_to_different_documents() -> None:
    """Two digesters side by side with two documents ahead: with claims they split them; the
    second tick shows the later digester looking past the one the first claimed."""
    for claims, expect_split in ((True, True), (False, False)):
        c = Colony(seed=0)
        near = c.ingest_document("near", "alpha beta gamma", Position(6, 0))
        far = c.ingest_document("far", "delta epsilon zeta", Position(6, 8))
        a = Digester(Position(0, 0), claims=claims)
        b = Digester(Position(0, 0.1), claims=claims)
        c.spawn(a), c.spawn(b)
        first = _first_actions(c)  # same-tick decision: both head for the nearest
        assert all(isinstance(x, Move) for x in first)
        assert a.target == near and (b.target == near or not claims)
        # a moved onto "near"; b waited (claims) or moved too (no claims)
        assert a.position == Position(6, 0)
        assert (b.position == Position(0, 0.1)) is claims
        _first_actions(c)
        assert (b.target == far) is expect_split


def test_claimed_document_is_the_seeking_target_only() -> None:
    c = Colony(seed=0)
    doc = c.ingest_document("t", "cell membrane protein", Position(4, 0))
    d = Digester(Position(0, 0))
    c.spawn(d)
    assert d.claimed_document is None
    _first_actions(c)  # moves toward it
    assert d.claimed_document == doc
    _first_actions(c)  # engulfs: no longer seeking
    assert d.state is DigesterState.FOUND_TARGET and d.claimed_document is None
    assert Digester(Position(0, 0), claims=False).claimed_document is None


def test_substrate_claims_hide_documents_from_other_agents_only() -> None:
    c = Colony(seed=0)
    x = c.ingest_document("x", "alpha beta", Position(5, 0))
    y = c.ingest_document("y", "gamma delta", Position(0, 5))
    s = c.substrate
    s.set_claims([(x, AgentId(7)), (x, AgentId(8)), (y, AgentId(8))])  # first claim wins
    here = Position(0, 0)
    assert [d for _, d in s.undigested_near(here, 10)] == [x, y]  # no claimant: everything
    assert [d for _, d in s.undigested_near(here, 10, AgentId(7))] == [x]
    assert [d for _, d in s.undigested_near(here, 10, AgentId(8))] == [y]
    assert [d for _, d in s.undigested_near(here, 10, AgentId(9))] == []
    assert [d for _, d in s.undigested_near(Position(5, 0.5), 10, AgentId(9))][:1] == [x]
    assert s.available_document_position(x, AgentId(7)) == Position(5, 0)
    assert s.available_document_position(x, AgentId(9)) is None
    assert s.available_document_position(x) == Position(5, 0)
    hit = s.nearest_undigested_anywhere(Position(50, 50), claimant=AgentId(9))
    assert hit is not None and hit[1] in (x, y)  # all claimed: fall back to a claimed one


def test_hungry_digester_travels_straight_to_far_documents() -> None:
    for travel_speed, expect in ((None, Position(200, 0)), (50.0, Position(50, 0))):
        c = Colony(seed=0)
        c.ingest_document("far", "alpha beta gamma", Position(200, 0))
        d = Digester(Position(0, 0), travel_speed=travel_speed)
        c.spawn(d)
        (action,) = _first_actions(c)
        assert isinstance(action, Move) and action.position == expect
    c = Colony(seed=0)
    c.ingest_document("near", "alpha beta gamma", Position(8, 0))
    d = Digester(Position(0, 0), speed=5.0)
    c.spawn(d)
    (action,) = _first_actions(c)  # within the sense radius: at most `speed`
    assert isinstance(action, Move) and action.position == Position(5, 0)


def test_claims_and_travel_speed_survive_state_round_trip() -> None:
    d = Digester(Position(1, 2), claims=False, travel_speed=12.5)
    state = json.loads(json.dumps({k: v for k, v in d.state_dict().items() if k != "rng"}))
    state["rng"] = d.state_dict()["rng"]
    e = Digester(Position(0, 0))
    e.load_state_dict(state)
    assert (e.claims, e.travel_speed) == (False, 12.5)


def test_presented_terms_counted_in_first_presented_order_and_restored() -> None:
    """Counts of presented terms, their first-presented order (what externalisation hands
    out, once per term) and the known vocabulary survive a state round trip."""
    import numpy as np

    from phago.text import KnownTerms

    d = Digester(Position(0, 0))
    none = np.zeros(0, dtype=np.int64)
    d._digested(["cell", "wall"], none, none)
    assert d.externalize_vocabulary() == ["cell", "wall"]
    d._digested(["dna", "cell", "gene"], none, none)
    assert d.externalized == {"cell", "wall"}  # presented since, not yet externalised
    d._digested([], none, none)  # nothing lysed: nothing counted
    assert dict(d.presented) == {"cell": 2, "wall": 1, "dna": 1, "gene": 1}
    assert d._presented_order == ["cell", "wall", "dna", "gene"] == list(d.presented)
    assert d.externalize_vocabulary() == ["dna", "gene"]
    assert d.externalize_vocabulary() == []
    assert d.externalized == {"cell", "wall", "dna", "gene"}
    assert d.useful_outputs == 2
    d.internalize_vocabulary(["membrane"])
    back = Digester(Position(0, 0))
    back.load_state_dict(json.loads(json.dumps(d.state_dict())))
    assert isinstance(back.known_vocabulary, KnownTerms) and back.known_vocabulary == {"membrane"}
    assert list(back.presented.items()) == list(d.presented.items())
    assert back.externalized == d.externalized and back.externalize_vocabulary() == []
    assert back.state_dict()["externalized"] == ["cell", "dna", "gene", "wall"]
    back._digested(["zeta", "cell"], none, none)
    assert back._presented_order == ["cell", "wall", "dna", "gene", "zeta"]
    assert back.presented["cell"] == 3


def _herd(claims: bool, seed: int) -> Colony:
    """Digesters of mixed kinds crowded over the sample corpus (near documents, races,
    claims, different sense radii)."""
    from phago.corpus import load_sample_corpus

    c = Colony(seed=seed)
    for k, d in enumerate(load_sample_corpus()):
        c.ingest_document(d.title, d.content, Position(float(k % 5) * 3, float(k // 5) * 3))
    for j in range(12):
        c.spawn(
            Digester(
                Position(float(j % 4) * 4, float(j // 4) * 4),
                seed=j,
                claims=claims or j % 3 == 0,
                sense_radius=10.0 if j % 2 else 6.0,
            )
        )
    return c


def test_prefetched_seeking_equals_asking_one_by_one(monkeypatch: pytest.MonkeyPatch) -> None:
    """Digester.prepare_sense asks for every seeking digester's nearest documents at once;
    the colony then runs exactly as when each digester asks for itself."""
    from phago.agents.base import Agent
    from phago.colony import _AgentView

    hits = 0
    original = _AgentView.prefetch_undigested_near

    def counted(self: _AgentView, positions: Any, *args: Any) -> Any:
        nonlocal hits
        hits += len(positions)
        return original(self, positions, *args)

    for claims in (True, False):
        runs = []
        for prefetch in (True, False):
            with monkeypatch.context() as mp:
                mp.setattr(_AgentView, "prefetch_undigested_near", counted)
                if not prefetch:
                    mp.setattr(
                        Digester,
                        "prepare_sense",
                        classmethod(cast(Any, Agent.prepare_sense).__func__),
                    )
                c = _herd(claims, seed=5)
                events = [repr(c.tick()) for _ in range(40)]
            runs.append((events, list(c.graph.edges())))
        assert runs[0] == runs[1]
    assert hits > 100


def test_a_prefetched_answer_is_handed_out_once() -> None:
    c = Colony(seed=0)
    doc = c.ingest_document("t", "cell membrane", Position(1.0, 0.0))
    view = c.view
    here = Position(0.0, 0.0)
    view.prefetch_undigested_near([here], 5.0, [None], 3)
    c.substrate.consume_document(doc)  # (never during Sense; shows which answer is used)
    assert view.undigested_near(here, 5.0, None, 3) == [(1.0, doc)]  # the prefetched one
    assert view.undigested_near(here, 5.0, None, 3) == []  # asked again: asked afresh
    view.prefetch_undigested_near([here], 5.0, [None], 3)
    view.forget_prefetched()
    assert view.undigested_near(here, 5.0, None, 3) == []


def test_prefetched_foraging_and_hunting_equal_asking_one_by_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Digesters that find nothing in sense range forage and, with nothing in forage range
    either, hunt: prepare_sense asks for those queries at once too, and the colony runs
    exactly as when each digester asks for itself (far-index rebuilds mid-run included)."""
    from phago.agents.base import Agent
    from phago.substrate import Substrate
    from phago.synthetic import synthetic_corpus

    served = {"batched": 0, "direct": 0}
    many = Substrate.nearest_undigested_anywhere_many
    one = Substrate.nearest_undigested_anywhere

    def count_many(self: Substrate, *args: Any) -> Any:
        out = many(self, *args)
        served["batched"] += sum(a is not None for a in out)
        return out

    def count_one(self: Substrate, *args: Any) -> Any:
        served["direct"] += 1
        return one(self, *args)

    def colony() -> Colony:
        # four 10 x 10 clusters 150 apart: a cluster eaten, its digesters must hunt
        c = Colony(seed=3)
        for k, (title, text) in enumerate(synthetic_corpus(400, seed=1)):
            q, r = divmod(k, 100)
            c.ingest_document(title, text, Position(150.0 * q + 5.0 * (r % 10), 5.0 * (r // 10)))
        for j in range(10):
            c.spawn(
                Digester(
                    Position(float(j % 5) * 10, float(j // 5) * 10),
                    seed=j,
                    claims=j != 9,
                    sense_radius=6.0 if j % 2 else 10.0,
                    forage_radius=25.0 if j % 3 else 40.0,
                )
            )
        return c

    runs = []
    for prefetch in (True, False):
        with monkeypatch.context() as mp:
            mp.setattr(Substrate, "nearest_undigested_anywhere_many", count_many)
            mp.setattr(Substrate, "nearest_undigested_anywhere", count_one)
            if not prefetch:
                mp.setattr(
                    Digester, "prepare_sense", classmethod(cast(Any, Agent.prepare_sense).__func__)
                )
            c = colony()
            events = [repr(c.tick()) for _ in range(260)]
        runs.append((events, list(c.graph.edges()), c.stats().documents_digested))
        if prefetch:
            hunts_batched, hunts_direct = served["batched"], served["direct"]
    assert runs[0] == runs[1]
    assert runs[0][2] > 250  # digesters reached other clusters
    assert hunts_batched > 20 and served["direct"] > hunts_direct  # hunts were answered in batches


def test_prefetched_hunt_candidates_hold_until_the_index_is_rebuilt() -> None:
    c = Colony(seed=0)
    docs = [
        c.ingest_document(f"d{i}", "cell membrane", Position(10.0 * i, 0.0)) for i in range(300)
    ]
    view, s = c.view, c.substrate
    assert view.nearest_undigested_anywhere(Position(-5, 0)) == (5.0, docs[0])  # builds the index
    here = Position(-1, 0)
    view.prefetch_nearest_undigested_anywhere([here, here], 1, [None, AgentId(4)])
    s.consume_document(docs[0])  # (never during Sense; shows which answer is used)
    assert view.nearest_undigested_anywhere(here) == (1.0, docs[0])  # the prefetched one
    assert view.nearest_undigested_anywhere(here) == (11.0, docs[1])  # asked again: afresh
    for doc in docs[1:150]:
        s.consume_document(doc)  # a rebuild is now due ...
    version = s.far_index_version
    assert view.nearest_undigested_anywhere(Position(3000, 0)) == (10.0, docs[299])
    assert s.far_index_version == version + 1  # ... and done by this call
    # the claimant's prefetched candidates were found in the old index: asked afresh
    assert view.nearest_undigested_anywhere(here, 1, None, AgentId(4)) == (1501.0, docs[150])
    view.prefetch_nearest_undigested_anywhere([here], 1, [None])
    view.forget_prefetched()
    s.consume_document(docs[150])
    assert view.nearest_undigested_anywhere(here) == (1511.0, docs[151])


def test_a_digester_far_out_hunts_its_way_back() -> None:
    """Far enough out that the k-d tree's squared distances overflow (a finite position
    around 1e154 or more), a hungry digester still finds the documents, batched or not."""
    from phago.synthetic import synthetic_corpus

    c = Colony(seed=0)
    for k, (title, text) in enumerate(synthetic_corpus(300, seed=1)):
        c.ingest_document(title, text, Position(5.0 * (k % 20), 5.0 * (k // 20)))
    c.spawn(Digester(Position(0.0, 0.0), seed=1))
    far = Digester(Position(1e300, -1e300), seed=2)
    c.spawn(far)
    digested = 0
    for _ in range(60):
        digested += sum(isinstance(e, Engulfed) and e.agent_id == far.id for e in c.tick())
    assert abs(far.position.x) < 1e4 and digested > 0
    s = c.substrate
    here = [Position(1e300, 1e300), Position(-1e308, 5.0), Position(3.0, 4.0)]
    batched = s.nearest_undigested_anywhere_many(here, 1, [None] * 3)
    assert [list(a) if a is not None else None for a in batched] == [
        [s.nearest_undigested_anywhere(p)] for p in here
    ]
