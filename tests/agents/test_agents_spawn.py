"""Spawn policies and evolution: bounded populations, real replacement, determinism."""

from __future__ import annotations

import json
import math

import pytest

from phago import Colony, Digester, Position
from phago.agents.evolving import EvolvingDigester
from phago.agents.fitness import AgentFitness
from phago.agents.fitness_terms import FitnessRecorder
from phago.agents.genome import Genome
from phago.agents.sentinel import Sentinel
from phago.agents.spawn import (
    FitnessSpawnPolicy,
    NoSpawnPolicy,
    RandomSpawnPolicy,
    SpawnPolicyBase,
)
from phago.corpus import load_sample_corpus
from phago.events import Died
from phago.ids import AgentId


def two_wave_run(policy: SpawnPolicyBase, seed: int, agents: int = 4) -> tuple[Colony, list[int]]:
    """The 40 sample documents in two waves (ticks 0 and 120), run to tick 200."""
    docs = load_sample_corpus()
    n = len(docs)
    cols = math.ceil(math.sqrt(n))
    pos = [Position((i % cols) * 8.0, (i // cols) * 8.0) for i in range(n)]
    colony = Colony(seed=seed)
    FitnessRecorder().attach(colony)
    colony.spawn_policy = policy
    for j in range(agents):
        p = pos[j * (n // agents)]
        colony.spawn(EvolvingDigester(Position(p.x + 1, p.y + 1)))
    population = []
    for t in range(200):
        if t in (0, 120):
            for i in range(t // 120, n, 2):
                colony.ingest_document(docs[i].title, docs[i].content, pos[i])
        colony.tick()
        population.append(colony.alive_count)
    return colony, population


def test_evolving_colony_stays_within_bounds_and_beats_a_static_one() -> None:
    evolved, pop = two_wave_run(FitnessSpawnPolicy(4, seed=1), seed=1)
    static, static_pop = two_wave_run(NoSpawnPolicy(), seed=1)
    assert max(pop) <= 4 and min(pop) == 4  # every death replaced, never beyond the cap
    assert static_pop[-1] == 0  # the static colony starved between the waves
    assert evolved.stats().documents_digested == 40
    assert static.stats().documents_digested < evolved.stats().documents_digested
    assert evolved.fitness.max_generation() >= 2
    assert evolved.spawn_policy is not None
    gens = {a.generation for a in evolved.agents}
    assert max(gens) >= 1
    # the genomes actually evolved (mutated copies of the fittest), within the clamps
    genomes = {a.genome for a in evolved.agents if isinstance(a, EvolvingDigester)}
    assert any(g != Genome() for g in genomes)


def test_a_run_is_deterministic_under_its_seeds() -> None:
    c1, p1 = two_wave_run(FitnessSpawnPolicy(4, seed=2), seed=2)
    c2, p2 = two_wave_run(FitnessSpawnPolicy(4, seed=2), seed=2)
    assert p1 == p2
    assert [a.genome for a in c1.agents if isinstance(a, EvolvingDigester)] == [
        a.genome for a in c2.agents if isinstance(a, EvolvingDigester)
    ]
    assert c1.snapshot().edges == c2.snapshot().edges
    c3, _ = two_wave_run(FitnessSpawnPolicy(4, seed=3), seed=2)
    assert [a.genome for a in c3.agents if isinstance(a, EvolvingDigester)] != [
        a.genome for a in c1.agents if isinstance(a, EvolvingDigester)
    ]


def test_random_policy_replaces_with_random_genomes_at_the_reference_pattern() -> None:
    colony, pop = two_wave_run(RandomSpawnPolicy(4, seed=1), seed=1)
    assert max(pop) <= 4 and colony.stats().documents_digested == 40
    policy = RandomSpawnPolicy(3, seed=9, center=(5.0, 5.0))
    c = Colony(seed=0)
    dead = EvolvingDigester(Position(0, 0))
    child = policy.on_death(c, dead)
    assert isinstance(child, EvolvingDigester) and child.generation == 0
    assert child.position == Position(5 + 10 * math.sin(3.7), 5 + 10 * math.cos(2.1))
    assert child.genome != Genome()


def test_fitness_policy_breeds_from_the_fittest_next_to_it() -> None:
    colony = Colony(seed=0)
    weak = EvolvingDigester(Position(0, 0), Genome(sense_radius=5.0), generation=1)
    strong = EvolvingDigester(Position(40, 40), Genome(sense_radius=20.0), generation=2)
    for a in (weak, strong):
        colony.spawn(a)
    colony.fitness.record_concepts(strong.id, 50, novel=30)
    colony.fitness.record_edges(strong.id, 200)
    colony.fitness.record_concepts(weak.id, 5, novel=1)
    colony.fitness.tick_all([weak.id, strong.id])
    policy = FitnessSpawnPolicy(5, 0.1, seed=4)
    child = policy.on_death(colony, EvolvingDigester(Position(0, 0)))
    assert isinstance(child, EvolvingDigester)
    assert child.generation == 3
    assert child.position == Position(40 + 3 * math.sin(2.7), 40 + 3 * math.cos(1.3))
    assert child.genome.distance(strong.genome) < child.genome.distance(weak.genome)
    assert child.genome != strong.genome  # mutated


def test_balanced_selection_weighs_all_four_terms() -> None:
    busy = AgentFitness(AgentId(1), concepts_added=100, edges_contributed=900, ticks_alive=10)
    careful = AgentFitness(
        AgentId(2),
        concepts_added=50,
        edges_contributed=400,
        ticks_alive=10,
        novel_concepts=40,
        strong_edges=300,
        bridge_edges=100,
    )
    best = max(FitnessSpawnPolicy.productivity(r) for r in (busy, careful))
    assert FitnessSpawnPolicy.balanced_score(careful, best) > FitnessSpawnPolicy.balanced_score(
        busy, best
    )
    for r in (busy, careful):
        r.recompute()
    assert busy.fitness > careful.fitness  # raw fitness: productivity drowns the rest
    with pytest.raises(ValueError):
        FitnessSpawnPolicy(3, selection="nonsense")


def test_only_digesters_are_replaced_and_never_beyond_the_cap() -> None:
    colony = Colony(seed=0)
    colony.spawn(EvolvingDigester(Position(0, 0)))
    policy = FitnessSpawnPolicy(2, seed=0)
    assert policy.on_death(colony, Sentinel(Position(0, 0))) is None
    assert policy.on_death(colony, Digester(Position(0, 0))) is not None
    colony.spawn(EvolvingDigester(Position(1, 0)))
    assert policy.on_death(colony, Digester(Position(0, 0))) is None  # 2 alive: full
    assert NoSpawnPolicy().on_death(colony, Digester(Position(0, 0))) is None


def test_starving_colony_keeps_being_replaced() -> None:
    colony = Colony(seed=6)
    colony.spawn_policy = FitnessSpawnPolicy(3, seed=6)
    for i in range(3):
        colony.spawn(EvolvingDigester(Position(i, 0), Genome(max_idle=5)))
    deaths = 0
    for events in colony.run(60):
        deaths += sum(isinstance(e, Died) for e in events)
        assert colony.alive_count == 3
    assert deaths >= 9


def test_ticks_alive_is_the_age_of_every_agent_and_the_ticks_of_every_death() -> None:
    """An agent's fitness record counts the ticks it sensed in: its age while it lives, its
    death signal's total ticks when it dies, whether it was spawned before the run or by
    the policy during Act (the tick it died in was not counted, the Act it was born in
    was)."""
    colony = Colony(seed=6)
    colony.spawn_policy = FitnessSpawnPolicy(3, seed=6)
    for i in range(3):
        colony.spawn(EvolvingDigester(Position(i, 0), Genome(max_idle=5)))
    first = {a.id for a in colony.agents}
    deaths = []
    for _ in range(40):
        deaths += [e.signal for e in colony.tick() if isinstance(e, Died)]
        for a in colony.agents:
            rec = colony.fitness.get(a.id)
            assert rec is not None and rec.ticks_alive == a.age, (a.id, a.age)
    bred = [s for s in deaths if s.agent_id not in first]
    assert len(deaths) - len(bred) == 3 and len(bred) >= 3  # both kinds died
    for sig in deaths:
        rec = colony.fitness.get(sig.agent_id)
        assert rec is not None and rec.ticks_alive == sig.total_ticks > 0, sig.agent_id


@pytest.mark.parametrize(
    "policy",
    [
        FitnessSpawnPolicy(4, 0.3, seed=5, selection="fitness"),
        RandomSpawnPolicy(4, seed=5),
        NoSpawnPolicy(),
    ],
)
def test_policy_state_round_trip(policy: SpawnPolicyBase) -> None:
    colony = Colony(seed=0)
    policy.on_death(colony, Digester(Position(0, 0)))
    state = json.loads(json.dumps(policy.state_dict()))
    clone = type(policy)()  # how phago.state rebuilds a saved policy
    clone.load_state_dict(state)
    assert clone.state_dict() == policy.state_dict()
    a = policy.on_death(colony, Digester(Position(0, 0)))
    b = clone.on_death(colony, Digester(Position(0, 0)))
    assert (a is None) == (b is None)
    if isinstance(a, EvolvingDigester) and isinstance(b, EvolvingDigester):
        assert a.genome == b.genome and a.position == b.position


@pytest.mark.parametrize(
    ("concepts", "novel", "edges", "strong", "bridges"),
    [(32, 3, 140, 2, 1), (5, 0, 0, 0, 0), (0, 0, 7, 7, 0)],
)
def test_record_presentation_is_concepts_then_edges(
    concepts: int, novel: int, edges: int, strong: int, bridges: int
) -> None:
    from phago.agents.fitness import FitnessTracker

    one, steps = FitnessTracker(), FitnessTracker()
    for t in (one, steps):
        t.register(AgentId(1))
        t.tick_all([AgentId(1)])
    one.record_presentation(AgentId(1), concepts, novel, edges, strong, bridges)
    steps.record_concepts(AgentId(1), concepts, novel=novel)
    steps.record_edges(AgentId(1), edges)
    steps.record_edge_terms(AgentId(1), strong, bridges)
    assert one.get(AgentId(1)) == steps.get(AgentId(1))
    one.record_presentation(AgentId(2), concepts, novel, edges)  # unregistered: starts a record
    assert one.get(AgentId(2)) == AgentFitness(AgentId(2), 0, concepts, edges, 0, novel)


def test_agent_settings_out_of_range_are_config_errors() -> None:
    from phago.agents.synthesizer import Synthesizer
    from phago.errors import ConfigError

    for make in (
        lambda: FitnessSpawnPolicy(selection="x"),
        lambda: FitnessSpawnPolicy(max_population=-1),
        lambda: RandomSpawnPolicy(max_population=-1),
        lambda: Synthesizer((0, 0), cluster_min_size=1),
        lambda: Genome().mutate_with([0.0], 0.1),
    ):
        with pytest.raises(ConfigError):
            make()
