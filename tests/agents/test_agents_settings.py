"""Agent and spawn-policy settings: out-of-range values are refused at construction.

Every numeric setting is checked when the agent or policy is built, with a
:class:`~phago.errors.ConfigError` naming the setting, never later in the middle of a tick.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from phago import Colony, Position
from phago.agents.base import Agent, ColonyView
from phago.agents.digester import Digester
from phago.agents.evolving import EvolvingDigester
from phago.agents.genome import Genome
from phago.agents.sentinel import Sentinel
from phago.agents.spawn import (
    FitnessSpawnPolicy,
    NoSpawnPolicy,
    RandomSpawnPolicy,
)
from phago.agents.synthesizer import Synthesizer
from phago.config import real_number
from phago.errors import ConfigError
from phago.types import AgentAction, Idle

NAN = math.nan
INF = math.inf


# (keyword arguments, the setting the error must name)
Case = tuple[dict[str, Any], str]


class Rock(Agent):
    """The smallest agent: it never does anything."""

    agent_type = "rock"

    def sense(self, view: ColonyView) -> AgentAction:
        self.age += 1
        return Idle()


def _ids(cases: list[Case]) -> list[str]:
    """Readable test ids: ``setting=value``."""
    return [",".join(f"{k}={v!r}" for k, v in kwargs.items()) for kwargs, _setting in cases]


def _refused(make: Callable[[], object], setting: str) -> None:
    with pytest.raises(ConfigError) as info:
        make()
    assert setting in str(info.value)


# settings every agent shares (Agent's)
AGENT_CASES: list[Case] = [
    ({"seed": -1}, "seed"),
    ({"seed": 1.5}, "seed"),
    ({"seed": "1"}, "seed"),
    ({"seed": True}, "seed"),
    ({"max_idle": -1}, "max_idle"),
    ({"max_idle": 0}, "max_idle"),
    ({"max_idle": 2.5}, "max_idle"),
    ({"max_idle": "30"}, "max_idle"),
    ({"max_idle": NAN}, "max_idle"),
]


@pytest.mark.parametrize(("kwargs", "setting"), AGENT_CASES, ids=_ids(AGENT_CASES))
def test_agent_base_settings_refused(kwargs: dict[str, Any], setting: str) -> None:
    _refused(lambda: Rock(Position(0, 0), **kwargs), setting)


DIGESTER_CASES: list[Case] = [
    *AGENT_CASES,
    ({"sense_radius": -1}, "sense_radius"),
    ({"sense_radius": NAN}, "sense_radius"),
    ({"sense_radius": INF}, "sense_radius"),
    ({"sense_radius": "10"}, "sense_radius"),
    ({"keyword_boost": -0.5}, "keyword_boost"),
    ({"keyword_boost": NAN}, "keyword_boost"),
    ({"speed": 0}, "speed"),
    ({"speed": -1}, "speed"),
    ({"speed": INF}, "speed"),
    ({"forage_radius": -1}, "forage_radius"),
    ({"forage_radius": NAN}, "forage_radius"),
    ({"forage_radius": True}, "forage_radius"),
    ({"travel_speed": 0}, "travel_speed"),
    ({"travel_speed": -3}, "travel_speed"),
    ({"travel_speed": NAN}, "travel_speed"),
]


@pytest.mark.parametrize(("kwargs", "setting"), DIGESTER_CASES, ids=_ids(DIGESTER_CASES))
def test_digester_settings_refused(kwargs: dict[str, Any], setting: str) -> None:
    _refused(lambda: Digester(Position(0, 0), **kwargs), setting)


EVOLVING_CASES: list[Case] = [
    ({"genome": "x"}, "genome"),
    ({"genome": {"sense_radius": 5.0}}, "genome"),
    ({"seed": -1}, "seed"),
    ({"seed": 2.5}, "seed"),
    ({"generation": -1}, "generation"),
    ({"generation": 1.5}, "generation"),
    ({"generation": "1"}, "generation"),
    ({"speed": -1}, "speed"),
    ({"speed": 0}, "speed"),
    ({"speed": NAN}, "speed"),
    ({"forage_radius": -1}, "forage_radius"),
    ({"forage_radius": INF}, "forage_radius"),
]


@pytest.mark.parametrize(("kwargs", "setting"), EVOLVING_CASES, ids=_ids(EVOLVING_CASES))
def test_evolving_digester_settings_refused(kwargs: dict[str, Any], setting: str) -> None:
    _refused(lambda: EvolvingDigester(Position(0, 0), **kwargs), setting)


def test_evolving_digester_genome_positional_string_refused() -> None:
    _refused(lambda: EvolvingDigester(Position(0, 0), "x"), "genome")  # type: ignore[arg-type]


SENTINEL_CASES: list[Case] = [
    *AGENT_CASES,
    ({"maturation": -1}, "maturation"),
    ({"maturation": 2.5}, "maturation"),
    ({"min_concepts": -5}, "min_concepts"),
    ({"scan_interval": 0}, "scan_interval"),
    ({"scan_interval": True}, "scan_interval"),
    ({"scan_interval": "5"}, "scan_interval"),
    ({"scan_interval": 2.5}, "scan_interval"),
    ({"max_per_scan": 0}, "max_per_scan"),
    ({"learning_rate": 0}, "learning_rate"),
    ({"learning_rate": 1.5}, "learning_rate"),
    ({"learning_rate": NAN}, "learning_rate"),
    ({"reference_docs": 0}, "reference_docs"),
    ({"reference_docs": 2.5}, "reference_docs"),
    ({"min_reference_docs": 0}, "min_reference_docs"),
    ({"coverage_z": -1}, "coverage_z"),
    ({"coverage_z": INF}, "coverage_z"),
    ({"coverage_std_floor": 0}, "coverage_std_floor"),
    ({"coverage_std_floor": NAN}, "coverage_std_floor"),
    ({"coverage_threshold": -1}, "coverage_threshold"),
    ({"coverage_threshold": 1.5}, "coverage_threshold"),
    ({"min_group_size": 0}, "min_group_size"),
    ({"deviation_threshold": -0.5}, "deviation_threshold"),
    ({"deviation_z": NAN}, "deviation_z"),
    ({"min_count": -1}, "min_count"),
    ({"edge_z": -3}, "edge_z"),
    ({"edge_std_floor": 0}, "edge_std_floor"),
    ({"edge_std_floor": -0.05}, "edge_std_floor"),
    ({"edge_horizon": -3}, "edge_horizon"),
    ({"edge_horizon": 0}, "edge_horizon"),
    ({"edge_horizon": 2.5}, "edge_horizon"),
    ({"edge_margin": -0.1}, "edge_margin"),
    ({"peak_decay": 5}, "peak_decay"),
    ({"peak_decay": -0.1}, "peak_decay"),
    ({"min_edge_observations": -1}, "min_edge_observations"),
    ({"related_limit": -1}, "related_limit"),
    ({"related_limit": 2.5}, "related_limit"),
    ({"anomaly_edge_weight": 0}, "anomaly_edge_weight"),
    ({"anomaly_edge_weight": 1.5}, "anomaly_edge_weight"),
    ({"protect_weight": NAN}, "protect_weight"),
    ({"protect_weight": -0.1}, "protect_weight"),
    ({"protect_weight": 2}, "protect_weight"),
    ({"protect_weight": "0.5"}, "protect_weight"),
]


@pytest.mark.parametrize(("kwargs", "setting"), SENTINEL_CASES, ids=_ids(SENTINEL_CASES))
def test_sentinel_settings_refused(kwargs: dict[str, Any], setting: str) -> None:
    _refused(lambda: Sentinel(Position(0, 0), **kwargs), setting)


SYNTHESIZER_CASES: list[Case] = [
    *AGENT_CASES,
    ({"quorum_threshold": -1}, "quorum_threshold"),
    ({"quorum_threshold": NAN}, "quorum_threshold"),
    ({"signal_weight": -0.3}, "signal_weight"),
    ({"node_weight": INF}, "node_weight"),
    ({"sense_radius": -1}, "sense_radius"),
    ({"cooldown": -1}, "cooldown"),
    ({"cooldown": 1.5}, "cooldown"),
    ({"cluster_min_size": 1}, "cluster_min_size"),
    ({"cluster_min_weight": NAN}, "cluster_min_weight"),
    ({"cluster_min_weight": 1.5}, "cluster_min_weight"),
    ({"bridge_min_access": -1}, "bridge_min_access"),
    ({"bridge_min_links": 0}, "bridge_min_links"),
    ({"bridge_min_share": -0.2}, "bridge_min_share"),
    ({"match_threshold": 2}, "match_threshold"),
    ({"change_threshold": -0.1}, "change_threshold"),
    ({"max_insights": 0}, "max_insights"),
    ({"related_limit": -2}, "related_limit"),
    ({"insight_edge_weight": 0}, "insight_edge_weight"),
    ({"insight_edge_weight": 1.5}, "insight_edge_weight"),
    ({"max_edges": 0}, "max_edges"),
    ({"max_edges": 2.5}, "max_edges"),
    ({"protect_weight": NAN}, "protect_weight"),
    ({"protect_weight": 1.5}, "protect_weight"),
]


@pytest.mark.parametrize(("kwargs", "setting"), SYNTHESIZER_CASES, ids=_ids(SYNTHESIZER_CASES))
def test_synthesizer_settings_refused(kwargs: dict[str, Any], setting: str) -> None:
    _refused(lambda: Synthesizer(Position(0, 0), **kwargs), setting)


POLICY_CASES: list[Case] = [
    ({"max_population": -1}, "max_population"),
    ({"max_population": 2.5}, "max_population"),
    ({"max_population": "3"}, "max_population"),
    ({"max_population": True}, "max_population"),
    ({"seed": -1}, "seed"),
    ({"seed": 0.5}, "seed"),
    ({"mutation_rate": -1}, "mutation_rate"),
    ({"mutation_rate": NAN}, "mutation_rate"),
    ({"mutation_rate": INF}, "mutation_rate"),
    ({"mutation_rate": "0.2"}, "mutation_rate"),
    ({"agent_types": "digester"}, "agent_types"),
    ({"agent_types": b"digester"}, "agent_types"),
    ({"agent_types": 3}, "agent_types"),
    ({"agent_types": ("digester", 3)}, "agent_types"),
    ({"agent_types": ("",)}, "agent_types"),
]


FITNESS_CASES: list[Case] = [*POLICY_CASES, ({"selection": "x"}, "selection")]
RANDOM_CASES: list[Case] = [
    *POLICY_CASES,
    ({"radius": -1}, "radius"),
    ({"radius": NAN}, "radius"),
    ({"radius": "10"}, "radius"),
]


@pytest.mark.parametrize(("kwargs", "setting"), FITNESS_CASES, ids=_ids(FITNESS_CASES))
def test_fitness_spawn_policy_settings_refused(kwargs: dict[str, Any], setting: str) -> None:
    _refused(lambda: FitnessSpawnPolicy(**kwargs), setting)


@pytest.mark.parametrize(("kwargs", "setting"), RANDOM_CASES, ids=_ids(RANDOM_CASES))
def test_random_spawn_policy_settings_refused(kwargs: dict[str, Any], setting: str) -> None:
    _refused(lambda: RandomSpawnPolicy(**kwargs), setting)


@pytest.mark.parametrize(
    ("kwargs", "setting"),
    [({"max_population": -1}, "max_population"), ({"seed": -1}, "seed")],
)
def test_no_spawn_policy_settings_refused(kwargs: dict[str, Any], setting: str) -> None:
    _refused(lambda: NoSpawnPolicy(**kwargs), setting)


def test_positional_max_population_refused() -> None:
    _refused(lambda: FitnessSpawnPolicy(2.5), "max_population")  # type: ignore[arg-type]
    _refused(lambda: FitnessSpawnPolicy("3"), "max_population")  # type: ignore[arg-type]


def test_string_agent_types_error_says_to_pass_a_sequence() -> None:
    with pytest.raises(
        ConfigError, match=r"agent_types must be a sequence such as \('digester',\)"
    ):
        FitnessSpawnPolicy(agent_types="digester")


def test_error_names_setting_and_value() -> None:
    with pytest.raises(ConfigError, match=r"^peak_decay must be a number in \[0, 1\], got 5$"):
        Sentinel(Position(0, 0), peak_decay=5)
    with pytest.raises(ConfigError, match=r"^speed must be a finite number > 0, got -1$"):
        Digester(Position(0, 0), speed=-1)


def test_config_error_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="mutation_rate"):
        RandomSpawnPolicy(mutation_rate=-1)


def test_negative_mutation_rate_refused_before_any_tick() -> None:
    """The bad rate used to pass construction and raise at the first death, mid-tick."""
    colony = Colony(seed=4)
    with pytest.raises(ConfigError, match="mutation_rate"):
        colony.spawn_policy = FitnessSpawnPolicy(3, mutation_rate=-1)
    for i in range(3):
        colony.spawn(EvolvingDigester(Position(i, 0)))
    colony.run(60)  # the colony is untouched by the refused policy


# -- what stays accepted ------------------------------------------------------------------


def test_defaults_construct() -> None:
    Rock(Position(0, 0))
    Digester(Position(0, 0))
    EvolvingDigester(Position(0, 0))
    Sentinel(Position(0, 0))
    Synthesizer(Position(0, 0))
    FitnessSpawnPolicy()
    RandomSpawnPolicy()
    NoSpawnPolicy()


def test_stored_types_unchanged() -> None:
    d = Digester(Position(0, 0), seed=np.int64(3), max_idle=20.0, speed=2, travel_speed=4)  # type: ignore[arg-type]
    assert (d.seed, d.max_idle) == (3, 20)
    assert type(d.seed) is int and type(d.max_idle) is int
    assert type(d.speed) is float and type(d.travel_speed) is float
    s = Sentinel(Position(0, 0), scan_interval=np.int32(4), learning_rate=1, protect_weight=0)  # type: ignore[arg-type]
    assert type(s.scan_interval) is int and s.edge_horizon == 8
    assert type(s.learning_rate) is float and s.protect_weight == 0.0
    syn = Synthesizer(Position(0, 0), quorum_threshold=3, cooldown=10.0, max_edges=np.int64(5))  # type: ignore[arg-type]
    assert type(syn.quorum_threshold) is float
    assert type(syn.cooldown) is int and type(syn.max_edges) is int
    p = FitnessSpawnPolicy(np.int64(4), 0, seed=7.0, agent_types=["digester", "rock"])  # type: ignore[arg-type]
    assert (p.max_population, p.seed, p.mutation_rate) == (4, 7, 0.0)
    assert type(p.max_population) is int and type(p.seed) is int
    assert p.agent_types == ("digester", "rock")
    r = RandomSpawnPolicy(0, radius=0, mutation_rate=np.float32(0.5))  # type: ignore[arg-type]
    assert type(r.radius) is float and r.mutation_rate == 0.5
    e = EvolvingDigester(Position(0, 0), Genome(max_idle=44), generation=2.0)  # type: ignore[arg-type]
    assert e.max_idle == 44 and type(e.generation) is int and e.generation == 2


@pytest.mark.parametrize(
    "make",
    [
        lambda: Sentinel(Position(0, 0), related_limit=0, maturation=0, min_concepts=0),
        lambda: Sentinel(Position(0, 0), peak_decay=0, coverage_threshold=1, edge_z=0),
        lambda: Sentinel(Position(0, 0), edge_horizon=1, min_edge_observations=0),
        lambda: Synthesizer(Position(0, 0), related_limit=0, cooldown=0, quorum_threshold=0),
        lambda: Synthesizer(Position(0, 0), match_threshold=1, change_threshold=0),
        lambda: Synthesizer(Position(0, 0), protect_weight=0.15, sense_radius=0),
        lambda: Digester(Position(0, 0), keyword_boost=0.0, sense_radius=0, forage_radius=0),
        lambda: Digester(Position(0, 0), max_idle=1, seed=0),
        lambda: RandomSpawnPolicy(0, seed=0, mutation_rate=5.0, radius=0.0),
        lambda: FitnessSpawnPolicy(0, agent_types=()),
    ],
)
def test_edge_values_accepted(make: Callable[[], object]) -> None:
    make()


def test_real_number_bounds() -> None:
    assert real_number(0, "x", 0, 1) == 0.0
    assert real_number(1, "x", 0, 1, low_open=True) == 1.0
    with pytest.raises(ConfigError, match=r"^x must be a number in \(0, 1\], got 0$"):
        real_number(0, "x", 0, 1, low_open=True)
    with pytest.raises(ConfigError, match=r"^x must be a number in \[0, 1\), got 1$"):
        real_number(1, "x", 0, 1, high_open=True)
    with pytest.raises(ConfigError, match=r"^x must be a finite number <= 2.5, got 3$"):
        real_number(3, "x", high=2.5)
    with pytest.raises(ConfigError, match=r"^x must be a finite number, got inf$"):
        real_number(INF, "x")
    for bad in (True, np.bool_(False), "1", None, [1.0], complex(1, 0)):
        with pytest.raises(ConfigError, match=r"^x must"):
            real_number(bad, "x")
    assert real_number(np.float32(0.25), "x") == 0.25
    assert type(real_number(np.int64(2), "x")) is float
