"""Save, load, continue: a loaded colony continues exactly like the uninterrupted one."""

from __future__ import annotations

import doctest
from pathlib import Path
from typing import Any

import pytest
from store_helpers import assert_same_state, make_colony

import phago.state as state_mod
import phago.store as store_mod
from phago import Colony, ColonyConfig, Digester, Position
from phago.agents.base import Agent
from phago.corpus import grid_positions, load_sample_corpus
from phago.errors import PhaseOrderError, StoreError
from phago.state import capture, register_agent_type, restore
from phago.store import load, load_with_catalog, read_summary, save
from phago.types import Idle, Trace, TraceType


def test_doctests() -> None:
    for mod in (state_mod, store_mod):
        r = doctest.testmod(mod)
        assert r.attempted > 0 and r.failed == 0, mod.__name__


@pytest.mark.parametrize(
    ("config", "save_at"),
    [
        (ColonyConfig(), 0),
        (ColonyConfig(), 4),
        (ColonyConfig(), 11),
        (ColonyConfig.for_large_corpora(), 7),
        (ColonyConfig(maturation_ticks=5, edge_decay_rate=0.05), 30),
    ],
)
def test_load_then_run_equals_uninterrupted_run(
    tmp_path: Path, config: ColonyConfig, save_at: int
) -> None:
    a = make_colony(config=config)
    b = make_colony(config=config)
    a.run(save_at)
    b.run(save_at)
    save(b, tmp_path / "c.db")
    del b
    b2 = load(tmp_path / "c.db")
    assert_same_state(capture(a), capture(b2))
    a.run(80)
    b2.run(80)
    assert_same_state(capture(a), capture(b2))
    assert a.stats() == b2.stats()


def test_mid_digestion_state_survives(tmp_path: Path) -> None:
    """Saved while agents hold engulfed text, signals and traces are live, some documents not
    digested: all of it comes back."""
    a = make_colony(20, digesters=4)
    a.run(3)
    st = capture(a)
    assert any(x.state["engulfed"] or x.state["state"] != "seeking" for x in st.agents)
    assert len(st.substrate.signals["x"]) and not st.substrate.doc_digested.all()
    a.substrate.deposit_trace(
        Position(1, 1), Trace(a.agents[0].id, TraceType.CUSTOM, 1.0, 3, b"\x00\xffbin")
    )
    save(a, tmp_path / "c.db")
    b = load(tmp_path / "c.db")
    assert_same_state(capture(a), capture(b))
    assert a.run_until_digested(300) == b.run_until_digested(300)
    assert_same_state(capture(a), capture(b))


def test_save_twice_and_history(tmp_path: Path) -> None:
    c = make_colony(6, digesters=2)
    p = tmp_path / "c.db"
    save(c, p)
    c.run(5)
    save(c, p)
    _, cat = load_with_catalog(p)
    assert [h.tick for h in cat.history] == [0, 5]
    s = read_summary(p)
    assert s.stats["tick"] == 5 and s.stats == {k: v for k, v in c.stats().to_dict().items()}
    assert (
        s.top_concepts and s.top_concepts[0]["access_count"] >= s.top_concepts[-1]["access_count"]
    )
    for key in (
        "tick",
        "documents_total",
        "documents_digested",
        "graph_nodes",
        "graph_edges",
        "agents_alive",
    ):
        assert key in s.to_dict()


def test_capture_refuses_mid_tick() -> None:
    c = make_colony(2, digesters=1)
    c.sense()
    with pytest.raises(PhaseOrderError):
        capture(c)


class Pebble(Agent):
    """A custom agent type with extra state."""

    agent_type = "pebble"

    def __init__(self, position: Position, weight: int = 1) -> None:
        super().__init__(position)
        self.weight = weight

    def sense(self, view: Any) -> Idle:
        self.age += 1
        self.weight += int(self.rng.integers(0, 3))
        return Idle()

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "weight": self.weight}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.weight = int(state["weight"])


def test_custom_agent_types_need_registration(tmp_path: Path) -> None:
    c = make_colony(2, digesters=1)
    c.spawn(Pebble(Position(0, 0), weight=5))
    c.run(3)
    st = capture(c)
    state_mod._AGENT_TYPES.pop("pebble", None)
    with pytest.raises(StoreError, match="unknown agent type 'pebble'"):
        restore(st)
    register_agent_type("pebble", Pebble)
    try:
        save(c, tmp_path / "c.db")
        d = load(tmp_path / "c.db")
        c.run(4)
        d.run(4)
        assert [a.weight for a in c.agents if isinstance(a, Pebble)] == [
            a.weight for a in d.agents if isinstance(a, Pebble)
        ]
    finally:
        state_mod._AGENT_TYPES.pop("pebble", None)
        state_mod._AGENT_CLASSES.pop(state_mod.class_path(Pebble), None)


class LazyDigester(Digester):
    """A subclass of a built-in agent, with the built-in's ``agent_type``."""

    def sense(self, view: Any) -> Idle:
        self.age += 1
        return Idle()


def test_a_subclass_of_a_built_in_agent_is_never_loaded_as_the_built_in(tmp_path: Path) -> None:
    c = Colony(seed=3)
    for doc, p in zip(load_sample_corpus()[:4], grid_positions(4), strict=True):
        c.ingest_document(doc.title, doc.content, p)
    c.spawn(LazyDigester(Position(0, 0)))
    c.run(2)
    # unregistered: a save is refused at once (since the fortieth session; it used to save
    # a store only a load found it could not rebuild), naming the class
    pattern = r"LazyDigester \(type 'digester'\) is not registered.* before saving"
    with pytest.raises(StoreError, match=pattern):
        save(c, tmp_path / "c.db")
    assert not (tmp_path / "c.db").exists()
    register_agent_type("digester", LazyDigester)
    save(c, tmp_path / "c.db")
    register_agent_type("digester", Digester)  # (a program that did not register it)
    state_mod._AGENT_CLASSES.pop(state_mod.class_path(LazyDigester), None)
    # a load without it refuses, naming the class (until the thirty-fifth session it came
    # back as a plain Digester, which digested what the saved one never would)
    with pytest.raises(StoreError, match=r"LazyDigester \(type 'digester'\) is not registered"):
        load(tmp_path / "c.db")
    register_agent_type("digester", LazyDigester)
    try:
        d = load(tmp_path / "c.db")
        assert [type(a) for a in d.agents] == [LazyDigester]
        c.run(10)
        d.run(10)
        assert d.graph.edge_count == c.graph.edge_count == 0
        plain = make_colony(2, digesters=1)  # a plain Digester still loads as one
        save(plain, tmp_path / "p.db")
        assert [type(a) for a in load(tmp_path / "p.db").agents] == [Digester]
    finally:
        register_agent_type("digester", Digester)
        state_mod._AGENT_CLASSES.pop(state_mod.class_path(LazyDigester), None)


def test_non_finite_positions_are_refused() -> None:
    c = make_colony(2, digesters=1)
    st = capture(c)
    st.substrate.doc_pos[0, 0] = float("nan")
    with pytest.raises(StoreError, match="finite"):
        restore(st)
    st = capture(c)
    st.graph.pos = st.graph.pos.copy()
    c.run_until_digested(50)
    st = capture(c)
    st.graph.pos[0, 1] = float("inf")
    with pytest.raises(StoreError, match="finite"):
        restore(st)


def test_digester_round_trip_keeps_every_field() -> None:
    c = make_colony(4, digesters=2)
    c.run(6)
    d = restore(capture(c))
    for x, y in zip(c.agents, d.agents, strict=True):
        assert isinstance(y, Digester)
        assert x.state_dict() == y.state_dict()


def test_inconsistent_graph_is_refused() -> None:
    c = make_colony(4, digesters=2)
    c.run_until_digested(100)
    st = capture(c)
    st.graph.edge_b[1] = st.graph.edge_b[0]
    st.graph.edge_a[1] = st.graph.edge_a[0]
    with pytest.raises(StoreError, match="duplicate edges"):
        restore(st)
    st = capture(c)
    st.graph.edge_b[0] = st.graph.node_count + 5
    with pytest.raises(StoreError, match="does not exist"):
        restore(st)


def test_every_builtin_agent_type_and_spawn_policy_round_trips(tmp_path: Path) -> None:
    """Sentinels, synthesizers, evolving digesters (which share the ``digester`` type) and a
    fitness spawn policy come back as themselves and continue identically."""
    from phago.agents.evolving import EvolvingDigester
    from phago.agents.sentinel import Sentinel
    from phago.agents.spawn import FitnessSpawnPolicy
    from phago.agents.synthesizer import Synthesizer

    def build() -> Any:
        c = make_colony(12, digesters=2, max_idle=15)
        c.spawn_policy = FitnessSpawnPolicy(max_population=6, seed=2)
        for i in range(3):
            c.spawn(EvolvingDigester(Position(5.0 * i, 2.0)))
        c.spawn(Sentinel(Position(4, 4)))
        c.spawn(Synthesizer(Position(8, 8)))
        return c

    a, b = build(), build()
    a.run(25)
    b.run(25)
    save(b, tmp_path / "c.db")
    c = load(tmp_path / "c.db")
    assert [type(x).__name__ for x in c.agents] == [type(x).__name__ for x in b.agents]
    assert type(c.spawn_policy).__name__ == "FitnessSpawnPolicy"
    assert_same_state(capture(a), capture(c))
    a.run(60)
    c.run(60)
    assert_same_state(capture(a), capture(c))
    assert a.total_died == c.total_died and a.total_died > 0


def test_restoring_pauses_the_cyclic_collector_and_leaves_it_as_it_was(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import gc

    state = capture(make_colony())
    seen: list[bool] = []
    real = state_mod._restored

    def restored(s: Any) -> Any:
        seen.append(gc.isenabled())
        return real(s)

    monkeypatch.setattr(state_mod, "_restored", restored)
    was = gc.isenabled()
    try:
        gc.enable()
        assert_same_state(capture(restore(state)), state)
        assert seen == [False] and gc.isenabled()
        gc.disable()
        restore(state)
        assert seen == [False, False] and not gc.isenabled()
    finally:
        (gc.enable if was else gc.disable)()


def test_a_spawn_policy_of_the_users_loads_once_registered(tmp_path: Path) -> None:
    from phago.agents.spawn import RandomSpawnPolicy

    class Gentle(RandomSpawnPolicy):
        """A policy of the user's."""

    c = make_colony(6, digesters=2)
    c.spawn_policy = Gentle(6, seed=3)
    c.run(5)
    save(c, tmp_path / "c.db")
    with pytest.raises(StoreError, match=r"register_spawn_policy\(.*Gentle\) before loading"):
        load(tmp_path / "c.db")  # (its advice was to set the policy after a load that failed)
    state_mod.register_spawn_policy(Gentle)
    try:
        d = load(tmp_path / "c.db")
        assert type(d.spawn_policy) is Gentle
        assert d.spawn_policy.state_dict() == c.spawn_policy.state_dict()
    finally:
        state_mod._POLICY_CLASSES.pop(state_mod.class_path(Gentle), None)


class Needy(Agent):
    """An agent whose constructor needs more than a position."""

    agent_type = "needy"

    def __init__(self, position: Position, target: str) -> None:
        super().__init__(position)
        self.target = target

    def sense(self, view: Any) -> Idle:
        self.age += len(self.target)
        return Idle()

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "target": self.target}


def test_an_agent_that_needs_more_than_a_position_needs_a_factory(tmp_path: Path) -> None:
    c = make_colony(4, digesters=1)
    c.spawn(Needy(Position(0, 0), "cell"))
    with pytest.raises(StoreError, match=r"unknown agent type 'needy'.* before saving"):
        save(c, tmp_path / "c.db")  # (unregistered: refused before anything is written)
    register_agent_type("needy", Needy)
    save(c, tmp_path / "c.db")
    try:
        # (it came back as a bare instance, which failed at its first tick)
        with pytest.raises(StoreError, match=r"cannot rebuild a Needy from its position alone"):
            load(tmp_path / "c.db")
        register_agent_type(
            "needy", Needy, lambda st: Needy(Position(*st["position"]), st["target"])
        )
        d = load(tmp_path / "c.db")
        d.run(2)
        c.run(2)
        assert [a.age for a in d.agents] == [a.age for a in c.agents]
    finally:
        state_mod._AGENT_TYPES.pop("needy", None)
        state_mod._AGENT_CLASSES.pop(state_mod.class_path(Needy), None)


class Pet:
    """Something of a user's that JSON cannot hold."""


class Keeper(Agent):
    """An agent whose state holds an object JSON cannot hold."""

    agent_type = "keeper"

    def sense(self, view: Any) -> Idle:
        return Idle()

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "pet": Pet()}


def test_an_agent_state_json_cannot_hold_names_the_agent_and_field(tmp_path: Path) -> None:
    register_agent_type("keeper", Keeper)
    try:
        c = make_colony(2, digesters=1)
        aid = c.spawn(Keeper(Position(0, 0)))
        pattern = rf"agent {aid} \(.*Keeper\): its state field 'pet' \(Pet\) cannot be saved"
        with pytest.raises(StoreError, match=pattern):
            save(c, tmp_path / "c.db")  # (a bare TypeError from json before)
        assert not (tmp_path / "c.db").exists()
    finally:
        state_mod._AGENT_TYPES.pop("keeper", None)
        state_mod._AGENT_CLASSES.pop(state_mod.class_path(Keeper), None)
