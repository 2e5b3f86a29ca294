"""Retiring agents (``Colony.retire_agents``) and the bounded records of dead agents."""

from __future__ import annotations

import numpy as np
import pytest

from phago import Colony, ColonyConfig, Digester, Position
from phago.agents.evolving import EvolvingDigester
from phago.agents.fitness import FitnessTracker
from phago.agents.spawn import FitnessSpawnPolicy
from phago.errors import ConfigError, PhaseOrderError, UnknownAgent
from phago.events import Died
from phago.ids import AgentId
from phago.state import capture, restore


def digesting_colony(seed: int = 1) -> Colony:
    colony = Colony(seed=seed)
    for i in range(4):
        colony.ingest_document(f"d{i}", f"cell membrane protein{i} lipid", Position(4 * i, 0))
    for i in range(3):
        colony.spawn(Digester(Position(4 * i + 1, 1), max_idle=30))
    return colony


def test_retired_agents_leave_without_death_signals_or_replacements() -> None:
    colony = digesting_colony()
    colony.spawn_policy = FitnessSpawnPolicy(max_population=10, seed=1)
    colony.run(2)
    first, second, third = (a.id for a in colony.agents)
    assert colony.fitness.get(second) is not None
    assert colony.retire_agents([second, np.uint64(second)]) == 1  # type: ignore[list-item]  # an id twice: once
    assert [a.id for a in colony.agents] == [first, third]
    assert colony.fitness.get(second) is None
    assert colony.death_signals == [] and colony.total_died == 0
    assert colony.total_retired == 1 and colony.total_spawned == 3
    assert colony.stats().agents_alive == 2
    events = colony.tick()
    assert not any(isinstance(e, Died) for e in events)
    assert colony.alive_count == 2  # no replacement was spawned
    assert colony.retire_agents([]) == 0


def test_an_unknown_id_is_refused_and_nothing_is_removed() -> None:
    colony = digesting_colony()
    live = [a.id for a in colony.agents]
    with pytest.raises(UnknownAgent, match="no live agent with id 12345"):
        colony.retire_agents([live[0], AgentId(12345)])
    with pytest.raises(UnknownAgent, match="must be an integer"):
        colony.retire_agents([True])  # type: ignore[list-item]
    with pytest.raises(UnknownAgent, match="must be an integer"):
        colony.retire_agents(["1"])  # type: ignore[list-item]
    assert [a.id for a in colony.agents] == live and colony.total_retired == 0
    colony.retire_agents([live[0]])
    with pytest.raises(UnknownAgent):
        colony.retire_agents([live[0]])  # retired already


def test_retiring_is_refused_in_the_middle_of_a_tick() -> None:
    colony = digesting_colony()
    colony.sense()
    with pytest.raises(PhaseOrderError, match="between ticks"):
        colony.retire_agents([colony.agents[0].id])
    colony.act()
    colony.decay()
    colony.advance()
    assert colony.retire_agents([colony.agents[0].id]) == 1


def test_a_retired_colony_saves_and_continues_like_one_never_saved() -> None:
    colony = digesting_colony()
    colony.run(3)
    colony.retire_agents([colony.agents[1].id])
    twin = restore(capture(colony))
    assert twin.total_retired == 1 and [a.id for a in twin.agents] == [a.id for a in colony.agents]
    colony.run(20)
    twin.run(20)
    a, b = capture(colony), capture(twin)
    assert a.graph.equals(b.graph)
    assert a.fitness == b.fitness and a.total_retired == b.total_retired == 1


def evolving_colony(limit: int | None) -> Colony:
    """Evolving digesters with nothing to eat: they starve and are replaced, again and again."""
    config = ColonyConfig() if limit is None else ColonyConfig(death_record_limit=limit)
    colony = Colony(config, seed=4)
    colony.spawn_policy = FitnessSpawnPolicy(max_population=3, seed=4)
    for i in range(3):
        colony.spawn(EvolvingDigester(Position(i, 0)))
    return colony


def test_dead_agents_records_are_bounded_and_the_totals_stay_exact() -> None:
    bounded, unbounded = evolving_colony(4), evolving_colony(None)
    bounded.run(400)
    unbounded.run(400)
    died = unbounded.total_died
    assert died > 10 and bounded.total_died == died  # the same run
    assert bounded.total_spawned == unbounded.total_spawned == died + 3
    # the most recent 4 deaths' signals and fitness records, and every live agent's record
    assert bounded.death_signals == unbounded.death_signals[-4:]
    live = {a.id for a in bounded.agents}
    kept = {r.agent_id for r in bounded.fitness.all()}
    recent_dead = {s.agent_id for s in unbounded.death_signals[-4:]}
    assert kept == live | recent_dead and len(bounded.fitness.dead_ids()) == 4
    assert len(unbounded.fitness.all()) == died + 3
    for aid in kept:
        assert bounded.fitness.get(aid) == unbounded.fitness.get(aid)
    # the highest generation is kept although the records that had it may be gone
    assert bounded.fitness.max_generation() == unbounded.fitness.max_generation() >= 2
    assert bounded.stats().agents_died == died


def test_no_dead_agent_records_at_all_with_a_limit_of_zero() -> None:
    colony = evolving_colony(0)
    colony.run(60)
    assert colony.total_died > 0 and colony.death_signals == []
    assert {r.agent_id for r in colony.fitness.all()} == {a.id for a in colony.agents}


@pytest.mark.parametrize("bad", [-1, 1.5, "10", True])
def test_the_limit_is_a_whole_number(bad: object) -> None:
    with pytest.raises(ConfigError, match="death_record_limit must be a whole number >= 0"):
        ColonyConfig(death_record_limit=bad)  # type: ignore[arg-type]


def test_bounded_records_round_trip_and_the_run_continues_identically() -> None:
    colony = evolving_colony(5)
    colony.run(80)
    state = capture(colony)
    assert len(state.death_signals) == 5 and state.fitness_dead is not None
    twin = restore(state)
    assert twin.death_signals == colony.death_signals
    assert twin.fitness.dead_ids() == colony.fitness.dead_ids()
    assert twin.fitness.max_generation() == colony.fitness.max_generation()
    colony.run(60)
    twin.run(60)
    a, b = capture(colony), capture(twin)
    assert a.graph.equals(b.graph)
    assert a.fitness == b.fitness and a.death_signals == b.death_signals
    assert a.fitness_dead == b.fitness_dead and a.total_died == b.total_died


def test_a_state_from_before_the_bound_is_trimmed_when_restored() -> None:
    """An older store: no limit in its config, no order of deaths, and more dead agents'
    records than the default limit keeps."""
    colony = evolving_colony(None)
    colony.run(40)
    state = capture(colony)
    default = ColonyConfig().death_record_limit
    n = default + 50
    signals = [dict(state.death_signals[0], agent_id=k + 1) for k in range(n)]
    fitness = [dict(state.fitness[0], agent_id=k + 1, generation=k % 7) for k in range(n)]
    state.death_signals = signals
    state.fitness = fitness + state.fitness
    state.fitness_dead = None
    state.fitness_max_generation = 0
    del state.config["death_record_limit"]
    back = restore(state)
    assert [int(s.agent_id) for s in back.death_signals] == list(range(51, n + 1))
    live = {a.id for a in back.agents}
    kept = [r.agent_id for r in back.fitness.all()]
    assert live <= set(kept) and len(kept) == default + len(live)
    assert back.fitness.max_generation() >= 6
    assert back.total_died == colony.total_died


def test_a_tracker_pickled_before_the_bound_still_records_deaths() -> None:
    import pickle

    t = FitnessTracker()
    t.register(AgentId(1), 2)
    del t.__dict__["_dead"], t.__dict__["_max_generation"]  # as an older pickle has it
    back = pickle.loads(pickle.dumps(t))
    back.record_death(AgentId(1), limit=0)
    assert back.all() == [] and back.max_generation() == 0
