"""The actions of a user's agent class are checked before anything of the tick is applied
(phago.agents.actions): a pair of numbers is a position, anything malformed is an
InvalidAction naming the agent."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from phago import Colony, Position
from phago.agents.base import Agent, ColonyView
from phago.errors import GraphReadOnly, InvalidAction, InvalidAgent, PhagoError
from phago.ids import node_id
from phago.state import register_agent_type
from phago.store import load, save
from phago.types import (
    AgentAction,
    Deposit,
    Emit,
    FragmentPresentation,
    Move,
    NodeType,
    PresentFragments,
    WireNodes,
)

MAKE: dict[str, Callable[[Agent], AgentAction]] = {}


class Scripted(Agent):
    """Returns what ``MAKE[self.script]`` builds (module level: stores and shards need it)."""

    agent_type = "scripted"

    def __init__(self, position: Any, script: str = "idle") -> None:
        super().__init__(position)
        self.script = script

    def sense(self, view: ColonyView) -> AgentAction:
        self.age += 1
        return MAKE[self.script](self)


def frag(label: str) -> FragmentPresentation:
    return FragmentPresentation(label, None, Position(0, 0), NodeType.CONCEPT)


MAKE.update(
    {
        "pair": lambda a: Move((3, 4)),  # type: ignore[arg-type]
        "deposit_pair": lambda a: Deposit((1, 2), "not a trace"),  # type: ignore[arg-type]
        "move_text": lambda a: Move("north"),  # type: ignore[arg-type]
        "move_nan": lambda a: Move((float("nan"), 0.0)),  # type: ignore[arg-type]
        "emit_text": lambda a: Emit("x"),  # type: ignore[arg-type]
        "tuples": lambda a: PresentFragments((("foo", None, Position(0, 0)),)),  # type: ignore[arg-type]
        "labels": lambda a: PresentFragments(["foo", "bar"]),  # type: ignore[list-item]
        "far_pairs": lambda a: PresentFragments(
            (frag("foo"), frag("bar")), pairs=np.array([[0, 5]])
        ),
        "negative": lambda a: PresentFragments((frag("foo"), frag("bar")), tentative=-5.0),
        "wire_nan": lambda a: WireNodes(
            ((node_id("concept", "foo"), node_id("concept", "bar"), float("nan")),)
        ),
        "wire_negative": lambda a: WireNodes(
            ((node_id("concept", "foo"), node_id("concept", "bar"), -3.0),)
        ),
        "good": lambda a: PresentFragments((frag("foo"), frag("bar")), tentative=0.5),
        "idle": lambda a: Move(a.position),
    }
)


@pytest.mark.parametrize(
    ("script", "problem"),
    [
        ("move_text", "Move: position must be a pair of numbers, got 'north'"),
        ("move_nan", "Move: position must be finite"),
        ("deposit_pair", "Deposit: trace must be a Trace"),
        ("emit_text", "Emit: signal must be a Signal, got 'x'"),
        ("tuples", "PresentFragments: a fragment must be a FragmentPresentation"),
        ("labels", "PresentFragments: a fragment must be a FragmentPresentation, got 'foo'"),
        ("far_pairs", r"PresentFragments: pairs name fragments outside -2 to 1"),
        ("negative", r"PresentFragments: tentative must be a number in \(0, 1\], got -5.0"),
        ("wire_nan", r"WireNodes: a weight must be a number in \(0, 1\], got nan"),
        ("wire_negative", r"WireNodes: a weight must be a number in \(0, 1\], got -3.0"),
    ],
)
def test_a_malformed_action_is_refused_before_anything_is_applied(
    script: str, problem: str
) -> None:
    c = Colony(seed=0)
    c.ingest_document("t", "cell wall protein", Position(0, 0))
    c.spawn(Scripted(Position(0, 0), "good"))
    c.run(1)
    edges, nodes = c.graph.edge_count, c.graph.node_count
    aid = c.spawn(Scripted(Position(0, 0), script))
    with pytest.raises(InvalidAction, match=rf"agent {aid} \(Scripted\): {problem}"):
        c.tick()
    assert (c.graph.edge_count, c.graph.node_count) == (edges, nodes)  # nothing applied
    assert issubclass(InvalidAction, InvalidAgent)


def test_a_position_given_as_a_pair_is_a_position(tmp_path: Path) -> None:
    register_agent_type("scripted", Scripted)
    c = Colony(seed=0)
    c.spawn(Scripted(Position(0, 0), "pair"))
    c.run(2)
    assert c.agents[0].position == Position(3.0, 4.0)
    c.snapshot()  # (a tuple there broke the snapshot and the save)
    back = load(save(c, tmp_path / "c.db"))
    assert back.agents[0].position == Position(3.0, 4.0)


def test_phagos_own_agents_are_not_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    from phago import Digester
    from phago.agents import actions

    seen: list[object] = []

    def noted(agent: Agent, action: AgentAction) -> AgentAction:
        seen.append(action)
        return action

    monkeypatch.setattr(actions, "checked_action", noted)
    c = Colony(seed=0)
    c.ingest_document("t", "cell wall protein", Position(0, 0))
    c.spawn(Digester(Position(0, 0)))
    c.run(3)
    assert seen == []
    c.spawn(Scripted(Position(0, 0), "good"))
    c.run(1)
    assert len(seen) == 1  # (the user's agent only)


class GraphWriter(Agent):
    """Changes the graph it was handed to read (module level: shards need it)."""

    agent_type = "graph_writer"

    def sense(self, view: ColonyView) -> AgentAction:
        view.graph.add_node("sneaked in")
        return Move(self.position)


def test_an_agent_changing_the_graph_while_it_senses_is_refused() -> None:
    c = Colony(seed=0)
    c.ingest_document("t", "cell wall protein", Position(0, 0))
    c.spawn(Scripted(Position(0, 0), "good"))
    c.run(1)
    nodes = c.graph.node_count
    c.spawn(GraphWriter(Position(0, 0)))
    with pytest.raises(GraphReadOnly, match=r"read-only: agents decide .* through the actions"):
        c.tick()
    assert c.graph.node_count == nodes and c.graph.find_by_label("sneaked in") is None
    c.graph.add_node("after the tick")  # writable again outside Sense
    assert c.graph.find_by_label("after the tick") is not None
    import copy

    with c.graph.read_only("sensing"):  # a scratch copy made meanwhile is the copy's own
        scratch = copy.deepcopy(c.graph)
    scratch.add_node("planned")
    assert scratch.find_by_label("planned") is not None and c.graph.find_by_label("planned") is None


def test_a_shards_agent_changing_the_graph_is_refused_with_the_cause() -> None:
    from phago.distributed import DistributedColony

    with DistributedColony(1, seed=0) as dc:
        dc.ingest_documents([("t", "cell wall protein", (0.0, 0.0))])
        dc.spawn(GraphWriter(Position(0, 0)))
        with pytest.raises(PhagoError) as caught:
            dc.tick()
    causes = [caught.value, caught.value.__cause__]
    assert any(isinstance(e, GraphReadOnly) for e in causes), causes
