"""The colony: phases, determinism, digestion of the sample corpus, errors and reports."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
from typing import Any, cast

import numpy as np
import pytest

import phago.colony as colony_mod
from phago import Colony, ColonyConfig, Digester, Position
from phago.agents.base import Agent
from phago.agents.fitness_terms import FitnessRecorder
from phago.errors import (
    ConfigError,
    DocumentError,
    EmptyDocument,
    InvalidAgent,
    InvalidPosition,
    PhaseOrderError,
    UnknownAgent,
)
from phago.events import TickComplete, Wired
from phago.graph import HebbianGraph
from phago.ids import DocumentId, NodeId
from phago.types import (
    ConceptFragments,
    FragmentPresentation,
    Idle,
    Move,
    NodeType,
    PresentFragments,
    WireNodes,
)
from sample_colony import build_sample_colony


def graph_signature(colony: Colony) -> tuple[Any, ...]:
    g = colony.graph
    nodes = tuple((n.id, n.label, n.access_count, n.created_tick) for n in g.nodes())
    edges = tuple(
        sorted(
            (
                min(a, b),
                max(a, b),
                e.weight,
                e.co_activations,
                e.created_tick,
                e.last_activated_tick,
            )
            for a, b, e in g.edges()
        )
    )
    return nodes, edges


def test_every_sample_document_is_digested() -> None:
    c = build_sample_colony()
    ticks = c.run_until_digested(400)
    st = c.stats()
    assert st.documents_digested == st.documents_total == 40
    assert ticks < 400
    assert not c.has_undigested_work()
    assert st.graph_nodes > 500 and st.graph_edges > 1000


def test_tick_is_exactly_the_four_phases() -> None:
    a, b = build_sample_colony(), build_sample_colony()
    for _ in range(25):
        a.tick()
        b.sense()
        b.act()
        b.decay()
        b.advance()
    assert graph_signature(a) == graph_signature(b)
    assert a.current_tick == b.current_tick == 25


@pytest.mark.parametrize("config", [ColonyConfig(), ColonyConfig(max_edge_degree=4)])
def test_the_next_sense_may_run_between_decays_two_parts(config: ColonyConfig) -> None:
    # Decay's substrate part, Advance and the next Sense, then Decay's graph part (as of
    # its tick) and the Act: what a pipelined shard does while other shards' parts come;
    # digesters' Sense reads no graph, so the colony ends each tick as in the plain order
    a = build_sample_colony(config=config)
    b = build_sample_colony(config=config)
    b.sense()
    b.act()
    for _ in range(200):  # (past edge decay's staleness: an off-by-one tick shows)
        a.tick()
        tick = b.current_tick
        b.decay_substrate()
        b.advance()
        b.sense()
        b.decay_graph(tick)
        b.act()
        assert b.current_tick == a.current_tick
    b.decay()
    b.advance()
    a.tick()
    assert graph_signature(a) == graph_signature(b)
    assert a.stats() == b.stats() and a.stats().graph_edges > 40
    assert a.fitness.all() == b.fitness.all()
    with pytest.raises(PhaseOrderError, match="must follow act"):
        b.decay_substrate()


def test_phases_out_of_order_raise() -> None:
    c = Colony()
    with pytest.raises(PhaseOrderError):
        c.act()
    c.sense()
    with pytest.raises(PhaseOrderError):
        c.sense()
    c.act()
    with pytest.raises(PhaseOrderError):
        c.advance()


def test_a_phase_that_raised_is_named_by_every_later_phase() -> None:
    class Faulty(Agent):
        agent_type = "faulty"

        def sense(self, view: Any) -> Any:
            raise RuntimeError("sensor broke")

    c = build_sample_colony()
    c.run(2)
    c.spawn(Faulty(Position(0, 0)))
    with pytest.raises(RuntimeError, match="sensor broke"):
        c.tick()
    for phase in (c.sense, c.act, c.tick):
        with pytest.raises(
            PhaseOrderError,
            match=r"sense\(\) of tick 2 raised \(RuntimeError: "
            r"sensor broke\) and left the colony part-way through that tick",
        ):
            phase()
    # an out-of-order call never ran its phase: nothing to report
    fresh = Colony()
    with pytest.raises(PhaseOrderError, match=r"act\(\) must follow sense\(\)"):
        fresh.act()
    fresh.tick()


def test_tick_returns_events_ending_with_tick_complete() -> None:
    c = build_sample_colony()
    events = c.tick()
    assert isinstance(events[-1], TickComplete) and events[-1].tick == 1
    assert events[-1].alive == 8


def test_same_seed_same_graph_twice() -> None:
    a, b = build_sample_colony(seed=3), build_sample_colony(seed=3)
    a.run(60)
    b.run(60)
    assert graph_signature(a) == graph_signature(b)


def test_different_seed_may_differ_but_digests_everything() -> None:
    a = build_sample_colony(seed=11)
    a.run_until_digested(400)
    assert a.stats().documents_digested == 40


_CHILD = """
import json, sys
sys.path.insert(0, {tests!r})
from sample_colony import build_sample_colony
c = build_sample_colony(seed=5)
c.run(50)
g = c.graph
nodes = [[n.id, n.label, n.access_count] for n in g.nodes()]
edges = sorted([min(a, b), max(a, b), e.weight, e.co_activations] for a, b, e in g.edges())
print(json.dumps(nodes + edges))
"""


def test_same_graph_in_two_processes() -> None:
    import pathlib

    code = _CHILD.format(tests=str(pathlib.Path(__file__).resolve().parents[1]))
    outs = [
        subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=True,
            env={"PYTHONHASHSEED": str(seed), "PATH": ""},
        ).stdout
        for seed in (1, 2)
    ]
    assert outs[0] == outs[1]
    assert len(json.loads(outs[0])) > 100


def test_reingest_is_noop() -> None:
    c = Colony()
    a = c.ingest_document("t", "body text", Position(0, 0))
    b = c.ingest_document("t", "body text", Position(5, 5))
    assert a == b and c.stats().documents_total == 1


def test_bad_documents_rejected_with_typed_errors() -> None:
    c = Colony(ColonyConfig(max_document_chars=100))
    with pytest.raises(EmptyDocument):
        c.ingest_document("e", "  \t\n", Position(0, 0))
    with pytest.raises(DocumentError):
        c.ingest_document("b", "abc\x00def", Position(0, 0))
    with pytest.raises(DocumentError):
        c.ingest_document("h", "x" * 101, Position(0, 0))
    with pytest.raises(InvalidPosition):
        c.ingest_document("p", "fine", (float("nan"), 0.0))
    for bad in ["xy", (1.0,), (1.0, 2.0, 3.0), 5.0]:  # not a pair: the typed error too
        with pytest.raises(InvalidPosition, match="position must be a pair of numbers"):
            c.ingest_document("p", "fine", bad)  # type: ignore[arg-type]
    assert c.stats().documents_total == 0


@pytest.mark.parametrize("bad", [-1, 2**64, "7", b"7", 1.5, 2.0, True])
def test_a_doc_id_that_is_not_an_unsigned_64_bit_integer_is_refused(bad: object) -> None:
    c = Colony()
    with pytest.raises(DocumentError, match=r"doc_id must be an integer in \[0, 2\*\*64\)"):
        c.ingest_document("a", "alpha beta gamma", (0, 0), doc_id=bad)  # type: ignore[arg-type]
    assert c.stats().documents_total == 0
    c.spawn(Digester(Position(0, 0)))
    c.run(3)  # (a bad id once broke Act, and every tick after it)


def test_a_doc_id_given_to_another_document_is_refused_and_the_first_kept() -> None:
    c = Colony()
    assert c.ingest_document("a", "alpha beta", (0, 0), doc_id=np.uint64(7)) == 7  # type: ignore[arg-type]
    assert c.ingest_document("a", "alpha beta", (5, 5), doc_id=DocumentId(7)) == 7  # same: a no-op
    with pytest.raises(DocumentError, match="id 7 is already the id of document 'a'"):
        c.ingest_document("b", "gamma delta", (0, 0), doc_id=DocumentId(7))
    assert [(d.id, d.title) for d in c.substrate.documents()] == [(7, "a")]


def test_bad_calls_on_a_colony_raise_typed_errors_and_change_nothing() -> None:
    c = build_sample_colony()
    before = c.stats()
    for bad in (None, 5, "title and content"):
        with pytest.raises(DocumentError, match="documents must be an iterable of"):
            c.ingest_documents(bad)  # type: ignore[arg-type]
    for index in (len(c.agents), -1, "0", True):
        with pytest.raises(UnknownAgent):
            c.feed_agent(index, "cell membrane")  # type: ignore[arg-type]
    with pytest.raises(InvalidPosition):
        c.emit_input_signal((float("inf"), 0))
    assert c.stats() == before
    c.emit_input_signal((1, 2))  # a pair is a position here too
    assert c.feed_agent(0, "cell membrane protein") is not None


@pytest.mark.parametrize("seed", [-1, 1.5, "3"])
def test_a_colony_seed_must_be_a_whole_number_at_least_zero(seed: object) -> None:
    with pytest.raises(ConfigError, match="seed must be a whole number >= 0"):
        Colony(seed=seed)  # type: ignore[arg-type]
    assert Colony(seed=np.int64(3)).seed == 3  # type: ignore[arg-type]


def test_spawning_no_agent_or_one_already_in_the_colony_changes_nothing() -> None:
    c, twin = Colony(seed=3), Colony(seed=3)
    first = Digester(Position(0, 0))
    c.spawn(first)
    twin.spawn(Digester(Position(0, 0)))
    for bad, match in [(first, "already in the colony"), ("digester", "got str"), (None, "got")]:
        with pytest.raises(InvalidAgent, match=match):
            c.spawn(bad)  # type: ignore[arg-type]
    assert c.agents == [first] and c.total_spawned == 1
    # (no id or seed drawn for the refused ones: the next spawn is the twin's)
    assert c.spawn(Digester(Position(1, 1))) == twin.spawn(Digester(Position(1, 1)))


@pytest.mark.parametrize("ticks", [-1, 2.5, "3", None])
def test_a_run_of_no_whole_number_of_ticks_is_a_config_error(ticks: object) -> None:
    c = build_sample_colony()
    with pytest.raises(ConfigError, match="ticks must be a whole number >= 0"):
        c.run(ticks)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="max_ticks must be a whole number >= 0"):
        c.run_until_digested(ticks)  # type: ignore[arg-type]
    assert c.substrate.tick == 0
    assert len(c.run(np.int64(2))) == 2 and c.run(0) == []  # type: ignore[arg-type]  # (a NumPy integer is one)


@pytest.mark.parametrize(
    "where", [(1, 2), [1.0, 2.0], np.array([1.0, 2.0]), (np.int64(1), np.float32(2))]
)
def test_a_position_is_a_position_or_any_pair_of_numbers(where: object) -> None:
    assert Position.of(where) == Position(1.0, 2.0)
    assert Digester(where).position == Position(1.0, 2.0)  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", ["xy", None, (1.0,), np.zeros(3), object()])
def test_an_agent_placed_at_no_pair_of_numbers_is_an_invalid_position(bad: object) -> None:
    with pytest.raises(InvalidPosition, match="position must be a pair of numbers"):
        Digester(bad)  # type: ignore[arg-type]


def test_automatic_layout_when_no_position() -> None:
    c = Colony()
    ids = [c.ingest_document(f"t{i}", f"text {i}") for i in range(3)]
    positions = [c.substrate.get_document(i).position for i in ids]
    assert len(set(positions)) == 3


def test_config_defaults_and_validation() -> None:
    cfg = ColonyConfig()
    assert (cfg.signal_decay_rate, cfg.signal_removal_threshold, cfg.trace_decay_rate) == (
        0.05,
        0.01,
        0.02,
    )
    assert (cfg.edge_decay_rate, cfg.edge_prune_threshold, cfg.staleness_factor) == (
        0.005,
        0.05,
        1.5,
    )
    assert (cfg.maturation_ticks, cfg.max_edge_degree, cfg.max_fragments, cfg.wiring_window) == (
        50,
        30,
        None,
        None,
    )
    big = ColonyConfig.for_large_corpora()
    assert big.max_fragments and big.wiring_window
    with pytest.raises(ConfigError):
        ColonyConfig(signal_decay_rate=1.5)
    with pytest.raises(ConfigError):
        ColonyConfig(max_edge_degree=0)
    with pytest.raises(ConfigError):
        ColonyConfig.from_dict({"nope": 1})
    assert ColonyConfig.from_dict(cfg.to_dict()) == cfg


def test_a_config_option_it_does_not_have_is_named_with_the_one_meant() -> None:
    from dataclasses import replace

    with pytest.raises(
        ConfigError, match=r"no option 'edge_decay' \(did you mean 'edge_decay_rate'"
    ):
        ColonyConfig(edge_decay=0.1)  # type: ignore[call-arg]
    with pytest.raises(
        ConfigError, match=r"no option 'wiring_windo' \(did you mean 'wiring_window'"
    ):
        replace(ColonyConfig(), wiring_windo=3)  # type: ignore[call-arg]
    with pytest.raises(ConfigError, match="no option 'zzz'; its options: signal_decay_rate"):
        ColonyConfig(zzz=1)  # type: ignore[call-arg]
    with pytest.raises(ConfigError, match="given signal_decay_rate twice"):
        ColonyConfig(0.1, signal_decay_rate=0.2)  # type: ignore[misc]
    with pytest.raises(ConfigError, match="at most 19 values, got 20"):
        ColonyConfig(*range(20))  # type: ignore[arg-type]
    assert ColonyConfig(max_edge_degree=4).max_edge_degree == 4
    assert pickle.loads(pickle.dumps(ColonyConfig(wiring_window=3))).wiring_window == 3


def test_a_spawn_policy_without_on_death_is_refused_before_the_tick() -> None:
    colony = build_sample_colony()
    colony.spawn_policy = 5  # type: ignore[assignment]
    with pytest.raises(ConfigError, match="spawn_policy must be None or an object with on_death"):
        colony.tick()
    assert colony.current_tick == 0
    from phago.agents.spawn import FitnessSpawnPolicy

    colony.spawn_policy = FitnessSpawnPolicy  # type: ignore[assignment]  # (the class, no ())
    with pytest.raises(ConfigError, match="an object with on_death"):
        colony.tick()
    colony.spawn_policy = None
    colony.run(2)  # nothing of the refused tick was done: the colony goes on
    assert colony.current_tick == 2


@pytest.mark.parametrize("name", ["tentative_weight", "reinforcement"])
@pytest.mark.parametrize("value", ["x", None, [0.1], float("nan"), True])
def test_edge_weights_that_are_not_numbers_are_config_errors(name: str, value: object) -> None:
    with pytest.raises(ConfigError, match=f"{name} must be a number in"):
        ColonyConfig(**{name: value})  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=f"{name} must be a number in"):
        HebbianGraph(**{name: value})  # type: ignore[arg-type]
    assert getattr(ColonyConfig(**{name: np.float32(0.5)}), name) == 0.5  # type: ignore[arg-type]


def test_no_degree_cap_when_none() -> None:
    c = Colony(ColonyConfig(max_edge_degree=None), seed=0)
    c.ingest_document("t", " ".join(f"w{i}x" for i in range(50)), Position(0, 0))
    c.spawn(Digester(Position(0, 0)))
    c.run_until_digested(10)
    assert c.graph.edge_count == 50 * 49 // 2


def test_stats_snapshot_networkx_and_history() -> None:
    c = build_sample_colony()
    c.run(30)
    st = c.stats()
    assert st.tick == 30 and st.total_spawned == 8
    assert set(st.to_dict()) >= {
        "tick",
        "documents_total",
        "documents_digested",
        "graph_nodes",
        "graph_edges",
        "agents_alive",
    }
    snap = c.snapshot()
    assert (
        snap.tick == 30 and len(snap.nodes) == st.graph_nodes and len(snap.edges) == st.graph_edges
    )
    g = c.to_networkx()
    assert g.number_of_nodes() == st.graph_nodes and g.number_of_edges() == st.graph_edges
    assert len(c.event_history()) == 30


def test_event_history_bounded() -> None:
    c = Colony(ColonyConfig(event_history_limit=5))
    c.run(20)
    assert len(c.event_history()) == 5 and c.event_history()[-1][0] == 20


def test_spawn_policy_hook_replaces_dead_agents() -> None:
    class Replace:
        def __init__(self) -> None:
            self.calls = 0

        def on_death(self, colony: Colony, dead: object) -> Digester | None:
            self.calls += 1
            return Digester(Position(0, 0), max_idle=3) if self.calls < 3 else None

    c = Colony()
    c.spawn_policy = Replace()
    c.spawn(Digester(Position(0, 0), max_idle=3))
    c.run(30)
    assert c.total_spawned == 3 and c.alive_count == 0


# ---------------------------------------------------------------------- grouped presentations


class _Scripted(Agent):
    """Presents what it is told, cycling through a script of actions (one per tick)."""

    agent_type = "scripted"

    def __init__(self, position: Position, script: list[Any]) -> None:
        super().__init__(position, max_idle=10_000)
        self.script = script

    def sense(self, view: Any) -> Any:
        self.age += 1
        return self.script[(self.age - 1) % len(self.script)]


class _OneByOne(FitnessRecorder):
    """The same recorder; a subclass makes the colony apply presentations one by one."""


def _scripted_actions(graph_ids: list[NodeId]) -> list[list[Any]]:
    at = Position(3.0, 4.0)

    def frags(*labels: str, kind: NodeType = NodeType.CONCEPT) -> tuple[Any, ...]:
        return tuple(FragmentPresentation(w, DocumentId(77), at, kind) for w in labels)

    return [
        [PresentFragments(frags("alpha", "beta", "gamma")), Idle()],  # every pair
        [
            PresentFragments(
                frags("beta", "delta"),
                pairs=np.array([[0, 1], [1, -2]]),
                tentative=0.4,
                increment=0.2,
            )
        ],
        [PresentFragments(frags("gamma", "omega") + frags("anomaly", kind=NodeType.ANOMALY))],
        [PresentFragments(()), WireNodes(((graph_ids[0], graph_ids[1], 0.3),))],
        [PresentFragments(frags("alpha", "delta"), pairs=np.zeros((0, 2), dtype=np.int64))],
    ]  # fmt: skip


def _mixed_colony(one_by_one: bool, config: ColonyConfig | None = None) -> Colony:
    """The sample colony's digesters and scripted agents (grouped presentations, empty
    ones, WireNodes), presented grouped or one by one."""
    colony = build_sample_colony(seed=3, digesters=6, config=config)
    if one_by_one:
        _OneByOne().attach(colony)
    seed = Colony(seed=0)
    ids = [seed.graph.add_node(w) for w in ("alpha", "beta")]
    for script in _scripted_actions(ids):
        colony.spawn(_Scripted(Position(5.0, 5.0), script))
    return colony


def _run_mixed(one_by_one: bool, ticks: int) -> tuple[Colony, list[str], int]:
    colony = _mixed_colony(one_by_one)
    grouped = 0
    original = HebbianGraph.present_and_wire_groups

    def counted(self: HebbianGraph, *args: Any, **kwargs: Any) -> Any:
        nonlocal grouped
        grouped += 1
        return original(self, *args, **kwargs)

    events: list[str] = []
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(HebbianGraph, "present_and_wire_groups", counted)
        for _ in range(ticks):
            events.append(repr(colony.tick()))
    return colony, events, grouped


def test_grouped_presentations_equal_one_by_one() -> None:
    """Runs of presentations applied together (the colony's default) leave the same graph,
    events and fitness as applying each presentation on its own (what a recorder subclass
    gets), with digesters and agents presenting every kind of presentation in between."""
    grouped, grouped_events, calls = _run_mixed(False, 40)
    single, single_events, single_calls = _run_mixed(True, 40)
    assert calls > 10 and single_calls == 0  # the two paths really differ
    assert grouped_events == single_events
    assert graph_signature(grouped) == graph_signature(single)
    a, b = grouped.graph, single.graph
    for x, y in zip(
        (*a.edge_arrays(), *a.provenance_arrays()),
        (*b.edge_arrays(), *b.provenance_arrays()),
        strict=True,
    ):
        assert np.array_equal(x, y)
    fa = {aid: repr(grouped.fitness.get(aid)) for aid in (ag.id for ag in grouped.agents)}
    fb = {aid: repr(single.fitness.get(aid)) for aid in (ag.id for ag in single.agents)}
    assert fa == fb
    assert any(f.strong_edges for f in map(grouped.fitness.get, fa) if f is not None)


@pytest.mark.parametrize("hooked", [False, True])
def test_a_bad_pair_in_a_run_fails_where_it_would_one_by_one(hooked: bool) -> None:
    """A presentation with a pair outside it raises IndexError after the presentations
    before it were applied, grouped or not, with the same events so far (and, with a
    presentation hook, the same calls to it). (A user's agent class has its actions checked
    after Sense, which refuses such a pair before Act: the test's agents are let through as
    phago's own are, to reach the Act phase's handling.)"""
    at = Position(0.0, 0.0)
    good = PresentFragments(
        (FragmentPresentation("p", None, at), FragmentPresentation("q", None, at))
    )
    bad = PresentFragments((FragmentPresentation("r", None, at),), pairs=np.array([[0, 5]]))
    states = []
    for one_by_one in (False, True):
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(colony_mod, "is_phagos_own", lambda kind: True)
            colony = Colony(seed=0)
            hook = _NotingHook()
            if hooked:
                colony.presentation_hook = hook
            if one_by_one and hooked:
                mp.setattr(Colony, "_apply_all_grouped", _one_by_one)
            elif one_by_one:
                _OneByOne().attach(colony)
            for script in ([good], [Move(Position(1.0, 1.0))], [good], [bad], [good]):
                colony.spawn(_Scripted(at, script))
            colony.sense()
            with pytest.raises(IndexError):
                colony.act()
        states.append((graph_signature(colony), [repr(e) for e in colony._events], hook.log))
    assert states[0] == states[1]
    (_, edges), events, log = states[0]
    if hooked:  # the hook takes the wiring (this one wires nothing)
        assert not edges and len(log) == 5  # p-q presented and wired twice, r presented
    else:
        assert len(edges) == 1 and not log  # p-q wired (twice), r presented, never wired
    kinds = [e.split("(")[0] for e in events]
    assert kinds == ["Spawned"] * 5 + [
        "Presented",
        "Wired",
        "Moved",
        "Presented",
        "Wired",
        "Presented",
    ]


class _NotingHook:
    """A presentation hook that notes what it is told (as a shard does) and wires nothing."""

    def __init__(self) -> None:
        self.log: list[tuple[Any, ...]] = []

    def on_present(
        self, idx: Any, node_type: NodeType, position: Position, tick: int, document: Any
    ) -> None:
        self.log.append(("present", idx.tolist(), node_type, position, tick, document))

    def wire(self, idx: Any, pairs: Any, tick: int, tentative: Any, increment: Any) -> int:
        i, j = np.triu_indices(len(idx), 1) if pairs is None else (pairs[:, 0], pairs[:, 1])
        a, b = idx[i], idx[j]  # (an out-of-range pair raises here, as on a shard)
        self.log.append(("wire", a.tolist(), b.tolist(), tick, tentative, increment))
        return int((a != b).sum())


def _one_by_one(self: Colony, agents: Any, actions: Any, tick: int, events: Any) -> None:
    for i, (agent, action) in enumerate(zip(agents, actions, strict=False)):
        self._apply(i, agent, action, tick, events)


@pytest.mark.parametrize("negative_pair", [False, True])
def test_grouped_presentations_with_a_hook_equal_one_by_one(negative_pair: bool) -> None:
    """With a presentation hook (a shard), runs of presentations are presented together and
    the hook hears of each in order: the same graph, events, fitness and hook calls as one
    by one (a run with a pair the hook would read out of place, such as a negative index,
    goes one by one)."""
    outcomes = []
    original = HebbianGraph._present_groups
    for one_by_one in (False, True):
        with pytest.MonkeyPatch.context() as mp:
            if one_by_one:
                mp.setattr(Colony, "_apply_all_grouped", _one_by_one)
            grouped = 0

            def counted(self: HebbianGraph, labels: Any, ends: Any, *args: Any) -> Any:
                nonlocal grouped
                grouped += len(ends) > 1
                return original(self, labels, ends, *args)

            mp.setattr(HebbianGraph, "_present_groups", counted)
            colony = build_sample_colony(seed=3, digesters=6)
            hook = _NotingHook()
            colony.presentation_hook = hook
            seed = Colony(seed=0)
            ids = [seed.graph.add_node(w) for w in ("alpha", "beta")]
            scripts = _scripted_actions(ids)
            if not negative_pair:  # (that presentation, every tick, sends every run one by one)
                scripts = [s for s in scripts if not any(_has_negative_pair(a) for a in s)]
            for script in scripts:
                colony.spawn(_Scripted(Position(5.0, 5.0), script))
            events = [repr(colony.tick()) for _ in range(40)]
        fitness = {a.id: repr(colony.fitness.get(a.id)) for a in colony.agents}
        outcomes.append((events, graph_signature(colony), hook.log, fitness))
        if one_by_one or negative_pair:
            assert grouped == 0
        else:
            assert grouped > 10  # runs were presented together
    assert outcomes[0] == outcomes[1]


def _has_negative_pair(action: Any) -> bool:
    pairs = getattr(action, "pairs", None)
    return isinstance(pairs, np.ndarray) and len(pairs) > 0 and int(pairs.min()) < 0


# ---------------------------------------------------------------------- concept fragments


def test_concept_fragments_are_the_tuple_of_their_fragments() -> None:
    at = Position(1.5, -2.0)
    cf = ConceptFragments(["cell", "wall", "gene"], DocumentId(9), at)
    want = tuple(FragmentPresentation(w, DocumentId(9), at) for w in ("cell", "wall", "gene"))
    assert len(cf) == 3 and tuple(cf) == want and list(cf) == list(want)
    assert (
        cf == want
        and want == cf
        and cf == ConceptFragments(["cell", "wall", "gene"], DocumentId(9), at)
    )
    assert cf != want[:2] and cf != ConceptFragments(["cell"], DocumentId(9), at)
    assert cf[0] == want[0] and cf[-1] == want[-1] and cf[1:] == want[1:]
    assert type(cf[0]) is FragmentPresentation and cf[2].node_type is NodeType.CONCEPT
    with pytest.raises(IndexError):
        cf[3]
    assert hash(cf) == hash(want) and cf.index(want[1]) == 1 and want[2] in cf
    assert pickle.loads(pickle.dumps(cf)) == want
    assert "gene" in repr(cf)
    assert PresentFragments(cf, DocumentId(9)) == PresentFragments(want, DocumentId(9))
    assert not ConceptFragments([], None, at) and ConceptFragments([], None, at) == ()


@pytest.mark.parametrize("hooked", [False, True])
def test_digesters_presenting_concept_fragments_equal_presenting_tuples(hooked: bool) -> None:
    """A digester presents :class:`ConceptFragments`, which the colony reads without building
    the fragments; presenting the equal tuple instead gives the same events, graph and
    fitness (grouped, one by one through a recorder subclass, and with a hook)."""
    import phago.agents.digester as digester_module

    outcomes = []
    for as_tuples in (False, True):
        for one_by_one in (False, True):
            with pytest.MonkeyPatch.context() as mp:
                if as_tuples:

                    def tuples(labels: Any, doc: Any, at: Any) -> Any:
                        return tuple(ConceptFragments(labels, doc, at))

                    mp.setattr(digester_module, "ConceptFragments", tuples)
                colony = build_sample_colony(seed=5, digesters=6)
                if one_by_one:
                    _OneByOne().attach(colony)
                if hooked:
                    colony.presentation_hook = _NotingHook()
                kinds: set[type] = set()
                present = digester_module.Digester._presentation

                def seen(self: Any, labels: Any, _kinds: Any = kinds, _run: Any = present) -> Any:
                    action = _run(self, labels)
                    _kinds.add(type(action.fragments))
                    return action

                mp.setattr(digester_module.Digester, "_presentation", seen)
                events = [repr(colony.tick()) for _ in range(40)]
            assert kinds == {tuple if as_tuples else ConceptFragments}
            fitness = {a.id: repr(colony.fitness.get(a.id)) for a in colony.agents}
            log = cast(_NotingHook, colony.presentation_hook).log if hooked else None
            outcomes.append((events, graph_signature(colony), fitness, log))
    assert outcomes[0] == outcomes[2] and outcomes[1] == outcomes[3]
    assert outcomes[0][0] == outcomes[1][0]


def test_sense_rebuilds_a_stale_far_index_before_any_agent_asks() -> None:
    """The hunt's far index is rebuilt at the start of Sense once a sixteenth of its cells
    emptied, whether or not an agent hunts, and not while fewer have."""
    c = Colony(seed=0)
    ids = [c.ingest_document(f"d{i}", "cell membrane", Position(20.0 * i, 0.0)) for i in range(160)]
    s = c.substrate
    s.nearest_undigested_anywhere(Position(0, 0))  # builds it
    built = s.far_index_version
    for d in ids[:10]:  # 10 of 160 cells: a sixteenth
        s.consume_document(d)
    c.tick()  # no agents
    assert s.far_index_version == built
    s.consume_document(ids[10])
    c.tick()
    assert s.far_index_version == built + 1


def _wide_document(keywords: int) -> str:
    """Text with exactly ``keywords`` distinct keywords (letters only, none a stopword)."""
    letters = "bcdfghjklmnpqrstvwxz"

    def word(i: int) -> str:
        out = ""
        for _ in range(4):
            out += letters[i % 20]
            i //= 20
        return "q" + out

    return " ".join(word(i) for i in range(keywords))


def test_a_document_too_wide_to_wire_as_a_clique_is_refused_at_ingest() -> None:
    from phago.distributed import DistributedColony

    cfg = ColonyConfig(max_clique_keywords=300)
    fits, wide = _wide_document(300), _wide_document(301)
    c = Colony(cfg)
    c.ingest_document("fits", fits, (0, 0))
    with pytest.raises(DocumentError, match=r"'wide' has 301 distinct keywords; .* 45,150 edges"):
        c.ingest_document("wide", wide, (0, 0))
    with pytest.raises(DocumentError, match="'wide' has 301 distinct keywords"):
        c.ingest_documents([("a", "alpha beta"), ("wide", wide)])
    assert [d.title for d in c.substrate.documents()] == ["fits"]
    with DistributedColony(2, config=cfg) as dc:  # refused before any shard stores anything
        with pytest.raises(DocumentError, match="'wide' has 301 distinct keywords"):
            dc.ingest_documents([("a", "alpha beta"), ("wide", wide)])
        assert dc.documents() == []
    # bounded wiring, or no limit: taken
    for ok in (
        cfg.replace(max_fragments=32),
        cfg.replace(wiring_window=10),
        cfg.replace(max_clique_keywords=None),
    ):
        assert Colony(ok).ingest_document("wide", wide, (0, 0))


def test_ctrl_c_ends_a_run_at_a_tick_boundary_and_the_colony_goes_on() -> None:
    # (Ctrl-C in the middle of a tick left the colony unable to tick or be saved)
    code = """
import os, signal, tempfile, threading, time
from phago import Colony, Digester, Position
from phago.agents.base import Agent
from phago.corpus import grid_positions, load_sample_corpus
from phago.types import Idle

class Slow(Agent):
    agent_type = "slow"
    def sense(self, view):
        time.sleep(0.03)
        return Idle()

from phago.state import register_agent_type
register_agent_type("slow", Slow)  # (a save of an unregistered agent class is refused)
c = Colony(seed=1)
for d, p in zip(load_sample_corpus(), grid_positions(40)):
    c.ingest_document(d.title, d.content, p)
c.spawn(Digester(Position(0, 0)))
c.spawn(Slow(Position(1, 1)))
threading.Timer(0.5, lambda: os.kill(os.getpid(), signal.SIGINT)).start()
try:
    c.run(1000)
except KeyboardInterrupt:
    stopped = c.substrate.tick
c.run(2)
c.save(tempfile.mkdtemp() + "/c.db")
print(stopped, c.substrate.tick)
"""
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    stopped, now = map(int, r.stdout.split())
    assert 0 < stopped < 1000 and now == stopped + 2


@pytest.mark.parametrize("one_by_one", [False, True])
def test_wired_events_count_the_edges_they_created(one_by_one: bool) -> None:
    """Each Wired event's ``created`` is how many of its pairs were new edges: with nothing
    decayed or pruned, they add up to the graph's edges, grouped or one by one, for
    digesters, scripted presentations and WireNodes alike."""
    config = ColonyConfig(edge_decay_rate=0.0, edge_prune_threshold=0.0, max_edge_degree=None)
    colony = _mixed_colony(one_by_one, config)
    wired = [e for _ in range(30) for e in colony.tick() if isinstance(e, Wired)]
    assert all(0 <= e.created <= e.connection_count for e in wired)
    assert any(e.created < e.connection_count for e in wired)  # some reinforced an edge
    assert sum(e.created for e in wired) == colony.graph.edge_count > 0
