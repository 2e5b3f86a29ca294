"""Python API misuse found by a review: each is a typed error, and nothing changes."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from phago import Colony, Digester, Position
from phago.agents.base import Agent, ColonyView
from phago.distributed import DistributedColony, RunnerConfig
from phago.errors import (
    ColonyBusy,
    ConfigError,
    InvalidAgent,
    InvalidPosition,
    RpcError,
    StoreError,
    UnknownAgent,
)
from phago.query.retrieve import retrieve
from phago.store import load_distributed, read_summary, save_distributed
from phago.types import AgentAction, Move


def test_one_agent_cannot_live_in_two_colonies() -> None:
    first, second = Colony(seed=0), Colony(seed=1)
    d = Digester(Position(0, 0))
    aid = first.spawn(d)
    with pytest.raises(InvalidAgent, match="another colony"):
        second.spawn(d)
    assert second.agents == [] and d.id == aid  # (its id still names it in the first)
    first.retire_agents([aid])
    second.spawn(d)  # retired from the first: it may start again elsewhere
    assert second.agents == [d]


def test_a_callback_in_progress_place_is_refused() -> None:
    seen: list[int] = []
    with DistributedColony(2, seed=0) as dc:
        for call in (
            lambda: dc.run(3, seen.append),  # type: ignore[arg-type]
            lambda: dc.run_until_digested(3, print),  # type: ignore[arg-type]
        ):
            with pytest.raises(ConfigError, match="on_tick"):
                call()
        assert dc.current_tick == 0
        dc.run(2, on_tick=seen.append)
    assert seen == [1, 2]


@pytest.mark.parametrize("bad", [1.5, "2", 0, -1, True])
def test_checkpoint_every_is_a_whole_number(bad: Any) -> None:
    with pytest.raises(ConfigError, match="checkpoint_every"):
        RunnerConfig(checkpoint_every=bad)
    with pytest.raises(ConfigError, match="checkpoint_every"):
        DistributedColony(2, checkpoint_every=bad)
    assert RunnerConfig(checkpoint_every=2.0).checkpoint_every == 2  # type: ignore[arg-type]


def test_a_pointer_file_that_is_not_text_is_a_damaged_store(tmp_path: Path) -> None:
    with DistributedColony(2, seed=0) as dc:
        dc.ingest_document("d", "cell membrane protein", Position(0, 0))
        save_distributed(dc, tmp_path / "s")
    (tmp_path / "s" / "CURRENT").write_bytes(b"\xff\xfe")
    generations = sorted(p.name for p in (tmp_path / "s").iterdir())
    for read in (load_distributed, read_summary):
        with pytest.raises(StoreError, match="CURRENT"):
            read(tmp_path / "s")
    with DistributedColony(2, seed=0) as dc, pytest.raises(StoreError):
        save_distributed(dc, tmp_path / "s")
    assert sorted(p.name for p in (tmp_path / "s").iterdir()) == generations


@pytest.mark.parametrize("pos", [("3", "4"), (b"3", b"4"), (True, False), (10**400, 0)])
def test_positions_are_two_numbers(pos: tuple[Any, Any]) -> None:
    c = Colony(seed=0)
    with pytest.raises(InvalidPosition):
        c.ingest_document("d", "cell membrane protein", pos)  # type: ignore[arg-type]
    with pytest.raises(InvalidPosition):
        c.ingest_documents([("d", "cell membrane protein", pos)])
    with pytest.raises(InvalidPosition):
        Position(*pos)
    assert c.stats().documents_total == 0
    with DistributedColony(2, seed=0) as dc:
        with pytest.raises(InvalidPosition):
            dc.ingest_documents([("d", "cell membrane protein", pos)])
        assert dc.stats().documents_total == 0


def test_other_wrong_types_are_typed_errors() -> None:
    c = Colony(seed=0)
    for bad in (5, None, "ab"):
        with pytest.raises(UnknownAgent, match="collection"):
            c.retire_agents(bad)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="load it first"):
        retrieve("phago-demo.db", "stars")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="RunnerConfig"):
        DistributedColony(2, runner_config="x")  # type: ignore[arg-type]
    with DistributedColony(2, seed=0) as dc:
        with pytest.raises(UnknownAgent, match="collection"):
            dc.retire_agents(7)  # type: ignore[arg-type]
        with pytest.raises(ConfigError, match="digesting"):
            dc.agent_ids(digesting="x")  # type: ignore[arg-type]


def test_writers_take_a_graph_or_a_colony_and_paths_are_paths(tmp_path: Path) -> None:
    from phago.errors import OutputError
    from phago.export import GraphTable, export_graph
    from phago.store import load, save
    from phago.viz import write_html

    c = Colony(seed=0)
    c.ingest_document("d", "cell membrane protein lipid", Position(0, 0))
    c.spawn(Digester(Position(0, 0)))
    c.run_until_digested(50)
    plain = export_graph(GraphTable.from_colony(c), "csv", tmp_path / "a.csv").read_bytes()
    for source in (c, c.graph):
        assert export_graph(source, "csv", tmp_path / "b.csv").read_bytes() == plain
        assert write_html(source, tmp_path / "g.html").is_file()
    with DistributedColony(2, seed=0) as dc:
        dc.ingest_document("d", "cell membrane protein lipid gene", Position(0, 0))
        dc.spawn_digesters(1)
        dc.run_until_digested(50)
        dc.save(tmp_path / "dist")
        live, stored = GraphTable.of(dc), GraphTable.from_store(tmp_path / "dist")
        assert live.node_count == dc.graph.node_count > 0
        assert live.shard is not None and stored.shard is not None  # each node's owner
        assert dict(zip(live.ids.tolist(), live.shard.tolist(), strict=True)) == dict(
            zip(stored.ids.tolist(), stored.shard.tolist(), strict=True)
        )
        assert set(live.shard.tolist()) == {0, 1}
    for bad in ("store.db", None, 5):
        with pytest.raises(ConfigError):
            export_graph(bad, "csv", tmp_path / "c.csv")  # type: ignore[arg-type]
    with pytest.raises(OutputError):
        export_graph(c, "csv", None)  # type: ignore[arg-type]
    for call in (lambda: save(c, None), lambda: load(None)):  # type: ignore[arg-type]
        with pytest.raises(StoreError, match="path"):
            call()


class _BlockingDigester(Digester):
    """A digester whose Sense waits for :data:`_RELEASE` (module level: a checkpoint pickles
    agents)."""

    def sense(self, view: ColonyView) -> AgentAction:
        _ENTERED.set()  # (inside Sense, on the run's thread)
        _RELEASE.wait(30)
        return super().sense(view)


_ENTERED, _RELEASE = threading.Event(), threading.Event()


def test_a_save_from_another_thread_during_a_run_is_refused_as_busy(tmp_path: Path) -> None:
    """The review: a save made while a run was inside a phase failed with PhaseOrderError
    (the shards were read without holding the colony); it is ColonyBusy now."""
    _ENTERED.clear()
    _RELEASE.clear()
    with DistributedColony(2, seed=0, checkpoint_every=None) as dc:
        dc.ingest_document("d", "cell membrane protein lipid", Position(0, 0))
        dc.spawn(_BlockingDigester(Position(0, 0)), shard=0)
        th = threading.Thread(target=lambda: dc.run(1))
        th.start()
        try:
            assert _ENTERED.wait(30)
            with pytest.raises(ColonyBusy):
                save_distributed(dc, tmp_path / "s")
            assert not (tmp_path / "s").exists()
        finally:
            _RELEASE.set()
            th.join(30)
        assert dc.current_tick == 1


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"seed": 5}, "seed is fixed by the store"),
        ({"num_shards": 3, "virtual_nodes": 8}, "num_shards, virtual_nodes are fixed by"),
        ({"ghost_cache_size": 10}, "ghost_cache_size is fixed"),
        ({"chekpoint_every": 5}, "unknown option chekpoint_every; DistributedColony takes"),
    ],
)
def test_options_a_store_fixes_are_refused_on_load(
    tmp_path: Path, options: dict[str, Any], match: str
) -> None:
    with DistributedColony(2, seed=1) as dc:
        dc.ingest_documents([("t", "cell wall protein", (0.0, 0.0))])
        dc.run(2)
        dc.save(tmp_path / "s")
    with pytest.raises(ConfigError, match=match):
        DistributedColony.load(tmp_path / "s", **options)
    with DistributedColony.load(tmp_path / "s", checkpoint_every=3) as back:  # may be given
        assert (back.seed, back.num_shards, back.current_tick) == (1, 2, 2)


@pytest.mark.parametrize("options", [{"seed": 5}, {"config": None}, {"nonsense": 1}])
def test_options_a_checkpoint_fixes_are_refused_on_resume(
    tmp_path: Path, options: dict[str, Any]
) -> None:
    with DistributedColony(2, seed=1, checkpoint_dir=str(tmp_path)) as dc:
        dc.run(2)
        dc.checkpoint()
    with pytest.raises(ConfigError, match=r"fixed by the checkpoint|unknown option"):
        DistributedColony.from_checkpoint(str(tmp_path), **options)
    with DistributedColony.from_checkpoint(str(tmp_path)) as back:
        assert (back.seed, back.current_tick) == (1, 2)


class Mute(Agent):
    """An agent whose ``sense`` forgets to return an action (module level: the shards'
    checkpoints pickle agents)."""

    agent_type = "mute"

    def sense(self, view: ColonyView) -> AgentAction:
        self.age += 1
        return None  # type: ignore[return-value]


class Walk(Move):
    """A Move of a user's own (a subclass of an action is an action)."""


class Walker(Agent):
    agent_type = "walker"

    def sense(self, view: ColonyView) -> AgentAction:
        return Walk(Position(self.position.x + 1.0, self.position.y))


def test_sense_returning_no_action_is_refused() -> None:
    c = Colony(seed=0)
    c.spawn(Mute(Position(0, 0)))
    with pytest.raises(InvalidAgent, match=r"\(Mute\): sense\(\) returned NoneType, not an"):
        c.tick()
    with DistributedColony(2, seed=0) as dc:
        dc.spawn(Mute(Position(0, 0)), 1)
        with pytest.raises(RpcError, match="shard-1 failed in phase Sense") as failed:
            dc.tick()  # (a shard's failure, rolled back to the tick before)
        assert isinstance(failed.value.__cause__, InvalidAgent)
        assert "returned NoneType" in str(failed.value.__cause__)
        assert dc.current_tick == 0
    w = Colony(seed=0)
    w.spawn(Walker(Position(0, 0)))
    w.run(3)
    assert w.agents[0].position == Position(3.0, 0.0)
