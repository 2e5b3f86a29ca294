"""Spawn policies: what replaces a digester that died (REFERENCE.md §5.6, §8 item 16).

The reference defines these policies but its colony never calls them. Here a policy is set as
``colony.spawn_policy``; after each death the colony calls ``on_death(colony, dead)`` and spawns
the agent it returns, so a run can evolve its digesters:

* :class:`FitnessSpawnPolicy`: the offspring of the fittest live
  :class:`~phago.agents.evolving.EvolvingDigester` (the dead agent itself when no evolving
  digester is alive), its genome mutated at ``mutation_rate``, placed at the parent's position
  plus the reference's offset ``(3·sin(2.7·c), 3·cos(1.3·c))`` for the ``c``-th offspring, one
  generation later. Fitness comes from the colony's tracker. With ``selection="balanced"`` (the
  default) the four terms are weighed as in the tracker (0.3, 0.3, 0.2, 0.2) but productivity
  is first divided by the best productivity among the candidates: raw productivity (concepts
  plus edges per tick) runs into the hundreds and would drown novelty, quality and
  connectivity, which are fractions. ``selection="fitness"`` uses the tracker's fitness as is.
* :class:`RandomSpawnPolicy`: a default genome mutated at rate 0.8, at the reference's
  position ``center + (10·sin(3.7·c), 10·cos(2.1·c))``; generation 0.
* :class:`NoSpawnPolicy`: never spawns (a static colony).

Only deaths of ``agent_types`` (default: digesters) are replaced, and never beyond
``max_population`` live agents (all types counted; default 20), so the population stays within
bounds. Every policy can be built without arguments and restored with ``load_state_dict``
(what :mod:`phago.state` does when it reloads a colony).
Each policy draws from its own generator seeded by ``seed``: the same colony seed, policy seed
and inputs give the same run.

Example:
    >>> from phago import Colony, Position
    >>> from phago.agents.evolving import EvolvingDigester
    >>> from phago.agents.spawn import FitnessSpawnPolicy
    >>> colony = Colony(seed=4)
    >>> colony.spawn_policy = FitnessSpawnPolicy(max_population=3, seed=4)
    >>> for i in range(3):
    ...     _ = colony.spawn(EvolvingDigester(Position(i, 0)))
    >>> _ = colony.run(120)  # nothing to digest: they starve and are replaced
    >>> colony.alive_count, colony.total_died > 0, colony.fitness.max_generation() >= 1
    (3, True, True)
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from phago.agents.base import Agent
from phago.agents.evolving import EvolvingDigester
from phago.agents.fitness import AgentFitness
from phago.agents.genome import Genome
from phago.config import real_number, whole_number
from phago.errors import ConfigError
from phago.types import Position

if TYPE_CHECKING:
    from phago.colony import Colony

__all__ = [
    "DEFAULT_MAX_POPULATION",
    "FitnessSpawnPolicy",
    "NoSpawnPolicy",
    "RandomSpawnPolicy",
    "SpawnPolicyBase",
]

#: Population cap of a policy built without one.
DEFAULT_MAX_POPULATION = 20


def _agent_types(value: object) -> tuple[str, ...]:
    """``value`` as a tuple of agent type names: a sequence (not a string) of non-empty strings.

    Raises:
        ConfigError: anything else.

    Example:
        >>> _agent_types(["digester"])
        ('digester',)
        >>> try:
        ...     _agent_types("digester")
        ... except ConfigError as e:
        ...     print(e)
        agent_types must be a sequence such as ('digester',), not a string: 'digester'
    """
    if isinstance(value, str | bytes):
        raise ConfigError(
            f"agent_types must be a sequence such as ('digester',), not a string: {value!r}"
        )
    if not isinstance(value, Iterable):
        raise ConfigError(f"agent_types must be a sequence of agent type names, got {value!r}")
    names: list[str] = []
    for name in value:
        if not isinstance(name, str) or not name:
            raise ConfigError(
                f"agent_types must hold non-empty strings (agent type names), got {name!r}"
            )
        names.append(name)
    return tuple(names)


class SpawnPolicyBase:
    """Shared bounds, counter and generator of the spawn policies.

    Args:
        max_population: never spawn when this many agents are alive (a whole number >= 0).
        seed: seed of the policy's generator (a whole number >= 0).
        agent_types: only deaths of these agent types are replaced (a sequence of names such
            as ``("digester",)``, not a string).

    Raises:
        ConfigError: a setting out of its range (the message names it and the value).
    """

    name = "base"

    def __init__(
        self,
        max_population: int = DEFAULT_MAX_POPULATION,
        *,
        seed: int = 0,
        agent_types: Sequence[str] = ("digester",),
    ) -> None:
        self.max_population = whole_number(max_population, "max_population", 0)
        self.seed = whole_number(seed, "seed", 0)
        self.agent_types = _agent_types(agent_types)
        self.rng = np.random.default_rng(self.seed)
        self.counter = 0
        self.spawned = 0

    def _room(self, colony: Colony, dead: Agent) -> bool:
        return dead.agent_type in self.agent_types and colony.alive_count < self.max_population

    def on_death(self, colony: Colony, dead: Agent) -> Agent | None:
        """The agent to spawn in place of ``dead``, or None."""
        raise NotImplementedError

    def state_dict(self) -> dict[str, Any]:
        """Counter, generator state and settings."""
        return {
            "name": self.name,
            "max_population": self.max_population,
            "seed": self.seed,
            "agent_types": list(self.agent_types),
            "counter": self.counter,
            "spawned": self.spawned,
            "rng": self.rng.bit_generator.state,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned."""
        self.max_population = int(state["max_population"])
        self.seed = int(state["seed"])
        self.agent_types = tuple(state["agent_types"])
        self.counter = int(state["counter"])
        self.spawned = int(state["spawned"])
        self.rng = np.random.default_rng()
        self.rng.bit_generator.state = state["rng"]


class FitnessSpawnPolicy(SpawnPolicyBase):
    """Replace a dead digester with a mutated offspring of the fittest live one.

    Args:
        max_population: never spawn when this many agents are alive (a whole number >= 0).
        mutation_rate: the genome mutation rate (finite, >= 0).
        seed: seed of the policy's generator (mutations; a whole number >= 0).
        selection: ``"balanced"`` (productivity relative to the best candidate) or
            ``"fitness"`` (the tracker's fitness).
        agent_types: only deaths of these agent types are replaced (a sequence of names such
            as ``("digester",)``, not a string).

    Raises:
        ConfigError: a setting out of its range (the message names it and the value).

    Example:
        >>> from phago.agents.fitness import AgentFitness
        >>> from phago.ids import AgentId
        >>> rec = AgentFitness(AgentId(1), concepts_added=10, edges_contributed=40,
        ...                    ticks_alive=10, novel_concepts=5, strong_edges=20, bridge_edges=4)
        >>> round(FitnessSpawnPolicy.balanced_score(rec, best_productivity=10.0), 3)
        0.42
    """

    name = "fitness"

    def __init__(
        self,
        max_population: int = DEFAULT_MAX_POPULATION,
        mutation_rate: float = 0.2,
        *,
        seed: int = 0,
        selection: str = "balanced",
        agent_types: Sequence[str] = ("digester",),
    ) -> None:
        super().__init__(max_population, seed=seed, agent_types=agent_types)
        if selection not in ("balanced", "fitness"):
            raise ConfigError(f"selection must be 'balanced' or 'fitness', got {selection!r}")
        self.mutation_rate = real_number(mutation_rate, "mutation_rate", 0.0)
        self.selection = selection

    @staticmethod
    def productivity(rec: AgentFitness) -> float:
        """Concepts plus edges per tick alive (0 before the first tick)."""
        if rec.ticks_alive <= 0:
            return 0.0
        return (rec.concepts_added + rec.edges_contributed) / rec.ticks_alive

    @staticmethod
    def balanced_score(rec: AgentFitness, best_productivity: float) -> float:
        """``0.3·p/p_best + 0.3·novelty + 0.2·quality + 0.2·connectivity``."""
        p = FitnessSpawnPolicy.productivity(rec)
        rel = p / best_productivity if best_productivity > 0 else 0.0
        novelty = rec.novel_concepts / rec.concepts_added if rec.concepts_added else 0.0
        edges = rec.edges_contributed
        quality = rec.strong_edges / edges if edges else 0.0
        connectivity = rec.bridge_edges / edges if edges else 0.0
        return 0.3 * rel + 0.3 * novelty + 0.2 * quality + 0.2 * connectivity

    def parent(self, colony: Colony, dead: Agent) -> EvolvingDigester | None:
        """The fittest live evolving digester (ties: the first), else ``dead`` if it evolves."""
        alive = [a for a in colony.agents if isinstance(a, EvolvingDigester)]
        recs = [(a, colony.fitness.get(a.id)) for a in alive]
        scored = [(a, r) for a, r in recs if r is not None]
        if scored:
            if self.selection == "fitness":
                scores = [r.fitness for _a, r in scored]
            else:
                best_p = max(self.productivity(r) for _a, r in scored)
                scores = [self.balanced_score(r, best_p) for _a, r in scored]
            k = max(range(len(scores)), key=lambda i: (scores[i], -i))
            return scored[k][0]
        return dead if isinstance(dead, EvolvingDigester) else None

    def on_death(self, colony: Colony, dead: Agent) -> Agent | None:
        """A mutated offspring of the fittest, next to it; None when full or not a digester."""
        if not self._room(colony, dead):
            return None
        parent = self.parent(colony, dead)
        genome = parent.genome if parent is not None else Genome()
        origin = parent.position if parent is not None else Position(0.0, 0.0)
        generation = parent.generation + 1 if parent is not None else 0
        self.counter += 1
        c = self.counter
        child = genome.mutate(self.mutation_rate, rng=self.rng)
        pos = Position(origin.x + 3.0 * math.sin(2.7 * c), origin.y + 3.0 * math.cos(1.3 * c))
        self.spawned += 1
        return EvolvingDigester(pos, child, generation=generation)

    def state_dict(self) -> dict[str, Any]:
        """Base state plus the mutation rate."""
        d = super().state_dict()
        d["mutation_rate"] = self.mutation_rate
        d["selection"] = self.selection
        return d

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned."""
        super().load_state_dict(state)
        self.mutation_rate = float(state["mutation_rate"])
        self.selection = str(state["selection"])


class RandomSpawnPolicy(SpawnPolicyBase):
    """Replace a dead digester with a random one (default genome mutated at rate 0.8).

    Args:
        max_population: never spawn when this many agents are alive (a whole number >= 0).
        seed: seed of the policy's generator (mutations; a whole number >= 0).
        mutation_rate: how far the random genomes stray from the default (reference: 0.8;
            finite, >= 0).
        center: the centre of the reference's spawning pattern.
        radius: its radius (reference: 10; finite, >= 0).
        agent_types: only deaths of these agent types are replaced (a sequence of names such
            as ``("digester",)``, not a string).

    Raises:
        ConfigError: a setting out of its range (the message names it and the value).
        InvalidPosition: ``center`` is not a pair of finite numbers.

    Example:
        >>> RandomSpawnPolicy(5, seed=1).name
        'random'
    """

    name = "random"

    def __init__(
        self,
        max_population: int = DEFAULT_MAX_POPULATION,
        *,
        seed: int = 0,
        mutation_rate: float = 0.8,
        center: Position | tuple[float, float] = (0.0, 0.0),
        radius: float = 10.0,
        agent_types: Sequence[str] = ("digester",),
    ) -> None:
        super().__init__(max_population, seed=seed, agent_types=agent_types)
        self.mutation_rate = real_number(mutation_rate, "mutation_rate", 0.0)
        self.center = Position.of(center)
        self.radius = real_number(radius, "radius", 0.0)

    def on_death(self, colony: Colony, dead: Agent) -> Agent | None:
        """A random digester on the reference's spawning pattern; None when full."""
        if not self._room(colony, dead):
            return None
        self.counter += 1
        c = self.counter
        genome = Genome().mutate(self.mutation_rate, rng=self.rng)
        r = self.radius
        pos = Position(self.center.x + r * math.sin(3.7 * c), self.center.y + r * math.cos(2.1 * c))
        self.spawned += 1
        return EvolvingDigester(pos, genome)

    def state_dict(self) -> dict[str, Any]:
        """Base state plus pattern and rate."""
        d = super().state_dict()
        d.update(mutation_rate=self.mutation_rate, radius=self.radius)
        d["center"] = (self.center.x, self.center.y)
        return d

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned."""
        super().load_state_dict(state)
        self.mutation_rate = float(state["mutation_rate"])
        self.center = Position(*state["center"])
        self.radius = float(state["radius"])


class NoSpawnPolicy(SpawnPolicyBase):
    """Never spawn: the colony only loses agents (the reference's static colony).

    Example:
        >>> NoSpawnPolicy().on_death(None, None) is None  # type: ignore[arg-type]
        True
    """

    name = "none"

    def __init__(self, max_population: int = 0, *, seed: int = 0) -> None:
        super().__init__(max_population, seed=seed)

    def on_death(self, colony: Colony, dead: Agent) -> Agent | None:
        """Always None."""
        return None
