"""Fitness of agents: productivity, novelty, quality and connectivity (REFERENCE.md §5.5).

All four terms are recorded by the colony (the reference only recorded productivity):
novelty counts concepts an agent was first to present, quality its strong edges, and
connectivity its edges between previously unconnected parts of the graph.

Example:
    >>> from phago.agents.fitness import FitnessTracker
    >>> from phago.ids import AgentId
    >>> t = FitnessTracker()
    >>> t.register(AgentId(1), 0)
    >>> t.record_concepts(AgentId(1), 10, novel=5)
    >>> t.tick_all([AgentId(1)])
    >>> round(t.get(AgentId(1)).fitness, 3)
    3.15
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from phago.ids import AgentId

__all__ = ["AgentFitness", "FitnessTracker"]


@dataclass(slots=True)
class AgentFitness:
    """Counters and fitness of one agent.

    Attributes:
        agent_id: the agent.
        generation: its generation (0 for an agent no spawn policy bred).
        concepts_added: concepts it presented.
        edges_contributed: pairs it wired (created or reinforced).
        ticks_alive: the ticks it lived through: those whose Sense phase it took part in,
            the tick it died in included. An agent spawned between ticks senses first in the
            next tick; one a spawn policy spawns during Act (or any agent spawned after a
            tick's Sense) senses first in the tick after, so its birth tick is not counted.
            The colony counts the tick at Decay for the agents alive then, and at death for
            an agent dying in Act. So ``ticks_alive`` equals the agent's ``age`` (which
            the built-in agents advance once per Sense) while it lives, and its
            ``DeathSignal.total_ticks`` when it dies.
        novel_concepts: of its concepts, those it was first to present.
        bridge_edges: edges it created between two concepts that existed before its
            presentation (see :mod:`phago.agents.fitness_terms`).
        strong_edges: pairs it wired that had enough co-activations to count as strong.
        fitness: ``0.3·productivity + 0.3·novelty + 0.2·quality + 0.2·connectivity``
            (see :meth:`recompute`).
    """

    agent_id: AgentId
    generation: int = 0
    concepts_added: int = 0
    edges_contributed: int = 0
    ticks_alive: int = 0
    novel_concepts: int = 0
    bridge_edges: int = 0
    strong_edges: int = 0
    fitness: float = 0.0

    def recompute(self) -> None:
        """``0.3·productivity + 0.3·novelty + 0.2·quality + 0.2·connectivity``."""
        if self.ticks_alive <= 0:
            return
        productivity = (self.concepts_added + self.edges_contributed) / self.ticks_alive
        novelty = self.novel_concepts / self.concepts_added if self.concepts_added else 0.0
        quality = self.strong_edges / self.edges_contributed if self.edges_contributed else 0.0
        connectivity = self.bridge_edges / self.edges_contributed if self.edges_contributed else 0.0
        self.fitness = 0.3 * productivity + 0.3 * novelty + 0.2 * quality + 0.2 * connectivity


class FitnessTracker:
    """Tracks the fitness counters of every live agent and of the agents that died most
    recently.

    The colony counts each tick an agent lives through with :meth:`tick_all` (see
    :attr:`AgentFitness.ticks_alive` for which ticks count) and reports each death
    (:meth:`record_death`); only the ``limit`` most recent dead agents' records are kept (the
    colony's ``death_record_limit``), so a long run with many deaths holds a bounded number
    of records. :meth:`max_generation` stays exact all the same.

    Example:
        >>> t = FitnessTracker()
        >>> for i in (1, 2, 3):
        ...     t.register(AgentId(i), generation=i)
        >>> t.record_death(AgentId(1), limit=1)
        >>> t.record_death(AgentId(3), limit=1)  # agent 1's record is dropped
        >>> [int(r.agent_id) for r in t.all()], t.dead_ids(), t.max_generation()
        ([2, 3], [3], 3)
    """

    def __init__(self) -> None:
        self._by_id: dict[AgentId, AgentFitness] = {}
        self._generation = 0
        # the dead agents whose records are kept, oldest death first
        self._dead: dict[AgentId, None] = {}
        self._max_generation = 0

    def __setstate__(self, state: dict[str, object]) -> None:
        # (a tracker pickled before dead records were bounded: every record counts as kept)
        self.__dict__.update(state)
        self.__dict__.setdefault("_dead", {})
        self.__dict__.setdefault("_max_generation", 0)

    def register(self, agent_id: AgentId, generation: int = 0) -> None:
        """Start tracking an agent."""
        rec = self._by_id.setdefault(agent_id, AgentFitness(agent_id, generation))
        if rec.generation > self._max_generation:
            self._max_generation = rec.generation

    def _rec(self, agent_id: AgentId) -> AgentFitness:
        rec = self._by_id.get(agent_id)
        if rec is None:
            rec = self._by_id[agent_id] = AgentFitness(agent_id)
        return rec

    def record_death(self, agent_id: AgentId, limit: int) -> None:
        """Note that ``agent_id`` died; keep only the ``limit`` most recent dead agents'
        records (the oldest deaths' records are dropped)."""
        if agent_id in self._by_id:
            self._dead.pop(agent_id, None)
            self._dead[agent_id] = None
        self.trim_dead(limit)

    def trim_dead(self, limit: int) -> int:
        """Drop the records of all but the ``limit`` most recently dead agents; returns how
        many were dropped."""
        excess = len(self._dead) - max(int(limit), 0)
        if excess <= 0:
            return 0
        dead = self._dead
        by_id = self._by_id
        for _ in range(excess):
            aid = next(iter(dead))
            del dead[aid]
            by_id.pop(aid, None)
        return excess

    def forget(self, agent_id: AgentId) -> None:
        """Drop an agent's record (a retired agent's; nothing if there is none)."""
        self._by_id.pop(agent_id, None)
        self._dead.pop(agent_id, None)

    def dead_ids(self) -> list[AgentId]:
        """The dead agents whose records are kept, oldest death first."""
        return list(self._dead)

    def record_concepts(self, agent_id: AgentId, count: int, novel: int = 0) -> None:
        """Record ``count`` concepts presented, ``novel`` of them new to the graph."""
        rec = self._rec(agent_id)
        rec.concepts_added += count
        rec.novel_concepts += novel
        rec.recompute()

    def record_edges(
        self, agent_id: AgentId, count: int, strong: int = 0, bridges: int = 0
    ) -> None:
        """Record ``count`` edges wired, ``strong`` of them strong, ``bridges`` bridging."""
        rec = self._rec(agent_id)
        rec.edges_contributed += count
        rec.strong_edges += strong
        rec.bridge_edges += bridges
        rec.recompute()

    def record_edge_terms(self, agent_id: AgentId, strong: int = 0, bridges: int = 0) -> None:
        """Add ``strong`` strong edges and ``bridges`` bridge edges to an agent's record
        (edges already counted by :meth:`record_edges`; see :mod:`phago.agents.fitness_terms`)."""
        rec = self._rec(agent_id)
        rec.strong_edges += strong
        rec.bridge_edges += bridges
        rec.recompute()

    def record_presentation(
        self,
        agent_id: AgentId,
        concepts: int,
        novel: int,
        edges: int,
        strong: int = 0,
        bridges: int = 0,
    ) -> None:
        """Record one presentation at once: :meth:`record_concepts` then :meth:`record_edges`
        (the same record, with one look-up and one recomputation).

        Example:
            >>> t = FitnessTracker()
            >>> t.record_presentation(AgentId(1), 10, novel=5, edges=4, strong=1)
            >>> r = t.get(AgentId(1))
            >>> (r.concepts_added, r.novel_concepts, r.edges_contributed, r.strong_edges)
            (10, 5, 4, 1)
        """
        rec = self._rec(agent_id)
        rec.concepts_added += concepts
        rec.novel_concepts += novel
        rec.edges_contributed += edges
        rec.strong_edges += strong
        rec.bridge_edges += bridges
        rec.recompute()

    def tick_all(self, alive: Iterable[AgentId]) -> None:
        """One more tick alive for each id in ``alive``."""
        for aid in alive:
            rec = self._rec(aid)
            rec.ticks_alive += 1
            rec.recompute()

    def get(self, agent_id: AgentId) -> AgentFitness | None:
        """The agent's record, or None."""
        return self._by_id.get(agent_id)

    def all(self) -> list[AgentFitness]:
        """Every record, in registration order."""
        return list(self._by_id.values())

    def fittest(self, alive: Iterable[AgentId]) -> AgentFitness | None:
        """The fittest of ``alive`` (ties: first), or None."""
        best: AgentFitness | None = None
        for aid in alive:
            rec = self._by_id.get(aid)
            if rec is not None and (best is None or rec.fitness > best.fitness):
                best = rec
        return best

    def mean_fitness(self, alive: Iterable[AgentId]) -> float:
        """Mean fitness of ``alive`` (0 if none)."""
        vals = [self._by_id[a].fitness for a in alive if a in self._by_id]
        return sum(vals) / len(vals) if vals else 0.0

    def next_generation(self) -> int:
        """Advance and return the generation counter."""
        self._generation += 1
        return self._generation

    def max_generation(self) -> int:
        """Highest generation registered (also of agents whose records were dropped)."""
        kept = max((r.generation for r in self._by_id.values()), default=0)
        return max(self._max_generation, kept)
