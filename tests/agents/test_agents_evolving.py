"""EvolvingDigester: every genome parameter changes behaviour."""

from __future__ import annotations

import json

import numpy as np
import pytest

from phago import Colony, ColonyConfig, Position
from phago.agents.evolving import EvolvingDigester, select_pairs
from phago.agents.genome import Genome
from phago.types import BoundaryContext, EngulfDocument, Move, PresentFragments

TEXT = "alpha beta gamma delta epsilon alpha beta gamma alpha zeta"


def digest(genome: Genome, config: ColonyConfig | None = None, text: str = TEXT) -> Colony:
    colony = Colony(config, seed=3)
    colony.ingest_document("t", text, Position(0, 0))
    colony.spawn(EvolvingDigester(Position(0, 0), genome))
    colony.run_until_digested(20)
    return colony


def test_genome_sets_the_digester_arguments() -> None:
    g = Genome(sense_radius=17.0, max_idle=44, keyword_boost=6.0)
    d = EvolvingDigester(Position(1, 2), g, generation=3)
    assert (d.sense_radius, d.max_idle, d.keyword_boost) == (17.0, 44, 6.0)
    assert d.agent_type == "digester" and d.generation == 3 and d.genome == g
    assert EvolvingDigester(Position(0, 0)).genome == Genome()


def test_default_genome_wires_like_a_digester() -> None:
    colony = digest(Genome())
    assert colony.graph.node_count == 6 and colony.graph.edge_count == 15
    e = colony.graph.edge_between("alpha", "zeta")
    assert e is not None
    assert e.weight == pytest.approx(0.1, abs=0.005)


def test_wiring_selectivity_keeps_the_strongest_keywords_pairs() -> None:
    colony = digest(Genome(wiring_selectivity=0.2))
    g = colony.graph
    assert g.node_count == 6  # every keyword is still a concept
    assert g.edge_count == 3  # ceil(0.2 · 15)
    # keywords by score: alpha(3) beta(2) gamma(2) delta epsilon zeta
    for x, y in (("alpha", "beta"), ("alpha", "gamma"), ("beta", "gamma")):
        assert g.edge_between(x, y) is not None


def test_selectivity_applies_to_window_pairs() -> None:
    config = ColonyConfig(wiring_window=2)
    full = digest(Genome(), config).graph.edge_count
    half = digest(Genome(wiring_selectivity=0.5), config).graph.edge_count
    assert half == -(-full // 2)


def test_select_pairs_orders_by_weaker_keyword() -> None:
    pairs = np.array([[2, 3], [0, 3], [0, 1], [1, 2], [0, 2], [1, 3]])
    assert select_pairs(pairs, 0.5).tolist() == [[0, 1], [1, 2], [0, 2]]
    assert select_pairs(pairs, 1.0) is pairs
    assert select_pairs(pairs, 0.01).tolist() == [[0, 1]]


def test_tentative_and_reinforcement_weights() -> None:
    g = Genome(tentative_weight=0.3, reinforcement_boost=0.25)
    colony = Colony(seed=1)
    colony.ingest_document("a", "alpha beta", Position(0, 0))
    colony.ingest_document("b", "alpha beta gamma", Position(0.5, 0))
    colony.spawn(EvolvingDigester(Position(0, 0), g))
    colony.run_until_digested(30)
    e = colony.graph.edge_between("alpha", "beta")
    assert e is not None and e.co_activations == 2
    assert e.weight == pytest.approx(0.3 + 0.25, abs=0.01)
    e2 = colony.graph.edge_between("beta", "gamma")
    assert e2 is not None
    assert e2.weight == pytest.approx(0.3, abs=0.01)


def test_presentation_carries_the_genome_weights() -> None:
    d = EvolvingDigester(Position(0, 0), Genome(tentative_weight=0.2, reinforcement_boost=0.05))
    colony = Colony(seed=0)
    colony.spawn(d)
    d.engulf_document(None, TEXT)
    d.state = d.state.__class__("digesting")
    action = d.sense(colony.view)
    assert isinstance(action, PresentFragments)
    assert (action.tentative, action.increment) == (0.2, 0.05)


def test_boundary_bias_offsets_permeability() -> None:
    ctx = BoundaryContext(reinforcement_count=5, age=50, trust=0.1)
    plain = EvolvingDigester(Position(0, 0))
    plain.modulate_boundary(ctx)
    biased = EvolvingDigester(Position(0, 0), Genome(boundary_bias=0.3))
    biased.modulate_boundary(ctx)
    assert biased.permeability == pytest.approx(plain.permeability + 0.3)
    low = EvolvingDigester(Position(0, 0), Genome(boundary_bias=-1.0))
    low.modulate_boundary(ctx)
    assert low.permeability == 0.0


def test_explore_bias_trades_foraging_for_exploration() -> None:
    def first_actions(bias: float, ticks: int) -> list[object]:
        colony = Colony(seed=2)
        colony.ingest_document("far", TEXT, Position(30, 0))  # beyond sense, within forage
        d = EvolvingDigester(Position(0, 0), Genome(explore_bias=bias))
        colony.spawn(d)
        out: list[object] = []
        for _ in range(ticks):
            colony.sense()
            assert colony._pending is not None
            out.append(colony._pending[0])
            colony.act()
            colony.decay()
            colony.advance()
        return out

    def first_moves(bias: float) -> list[Position]:
        actions = first_actions(bias, 5)
        assert all(isinstance(a, Move) for a in actions)
        return [a.position for a in actions]  # type: ignore[attr-defined]

    # foraging: a document beyond the sense radius is reached in one move, then engulfed
    forage = first_actions(0.0, 2)
    assert isinstance(forage[0], Move) and forage[0].position == Position(30, 0)
    assert isinstance(forage[1], EngulfDocument)
    explore = first_moves(1.0)
    assert all(
        abs(b.x - a.x) <= 2.0 + 1e-9
        for a, b in zip([Position(0, 0), *explore], explore, strict=False)
    )


def test_state_dict_round_trip() -> None:
    g = Genome(wiring_selectivity=0.4, boundary_bias=0.2)
    colony = Colony(seed=4)
    colony.ingest_document("t", TEXT, Position(0, 0))
    d = EvolvingDigester(Position(0, 0), g, generation=2)
    colony.spawn(d)
    colony.run(3)
    state = json.loads(json.dumps(d.state_dict()))
    clone = EvolvingDigester(Position(9, 9))
    clone.load_state_dict(state)
    assert clone.genome == g and clone.generation == 2 and clone.state == d.state
    assert clone.state_dict() == d.state_dict()
