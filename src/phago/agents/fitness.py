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
    """Counters and fitness of one agent."""

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
    """Tracks every agent's fitness counters."""

    def __init__(self) -> None:
        self._by_id: dict[AgentId, AgentFitness] = {}
        self._generation = 0

    def register(self, agent_id: AgentId, generation: int = 0) -> None:
        """Start tracking an agent."""
        self._by_id.setdefault(agent_id, AgentFitness(agent_id, generation))

    def _rec(self, agent_id: AgentId) -> AgentFitness:
        rec = self._by_id.get(agent_id)
        if rec is None:
            rec = self._by_id[agent_id] = AgentFitness(agent_id)
        return rec

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
        """Highest generation registered."""
        return max((r.generation for r in self._by_id.values()), default=0)
