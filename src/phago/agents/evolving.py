"""A digester whose behaviour is set by a :class:`~phago.agents.genome.Genome`.

The reference defines a genome but no agent reads it (REFERENCE.md §5.4, §8 item 16). Here
every one of the eight parameters acts:

* ``sense_radius``, ``max_idle``, ``keyword_boost``: the Digester's arguments of those names.
* ``explore_bias``: when no document is within sense range, the probability of taking a random
  exploration step instead of following the Input gradient or foraging for a farther document.
* ``boundary_bias``: added to the permeability the Digester computes (then clamped to [0, 1]).
* ``tentative_weight`` / ``reinforcement_boost``: weight of the edges it creates and weight it
  adds to edges it reinforces (sent with each presentation).
* ``wiring_selectivity``: fraction of the document's keyword pairs it wires, strongest keywords
  first (pairs are ordered by their weaker keyword's rank, then the stronger's). Every keyword
  still becomes a concept. With a wiring window (``ColonyConfig.wiring_window``) the fraction is
  of the window's pairs.

Its ``agent_type`` is ``"digester"``: it is a digester to the colony, to other agents and to
spawn policies.

Example:
    >>> from phago import Colony, Position
    >>> from phago.agents.evolving import EvolvingDigester
    >>> from phago.agents.genome import Genome
    >>> colony = Colony(seed=1)
    >>> _ = colony.ingest_document("t", "alpha beta gamma delta alpha beta", Position(0, 0))
    >>> genome = Genome(wiring_selectivity=0.5, tentative_weight=0.2)
    >>> agent = EvolvingDigester(Position(0, 0), genome)
    >>> _ = colony.spawn(agent)
    >>> _ = colony.run_until_digested(20)
    >>> colony.graph.edge_count  # 3 of the 6 pairs, strongest keywords first
    3
    >>> round(colony.graph.edge_between("alpha", "beta").weight, 2)
    0.2
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
import numpy.typing as npt

from phago.agents.base import ColonyView
from phago.agents.digester import Digester
from phago.agents.genome import Genome
from phago.config import whole_number
from phago.errors import ConfigError
from phago.types import AgentAction, BoundaryContext, Move, Position, PresentFragments

__all__ = ["EvolvingDigester", "select_pairs"]


def select_pairs(pairs: npt.NDArray[np.int64], fraction: float) -> npt.NDArray[np.int64]:
    """Keep ``ceil(fraction · len(pairs))`` pairs of keyword indices, strongest keywords first.

    Keyword indices are ranks (0 = strongest), so pairs are ordered by their larger index, then
    their smaller one: every pair among the top ``k`` keywords comes before any pair involving
    keyword ``k``.

    Example:
        >>> import numpy as np
        >>> select_pairs(np.array([[0, 1], [0, 2], [1, 2], [0, 3]]), 0.5).tolist()
        [[0, 1], [0, 2]]
    """
    if len(pairs) == 0 or fraction >= 1.0:
        return pairs
    lo = np.minimum(pairs[:, 0], pairs[:, 1])
    hi = np.maximum(pairs[:, 0], pairs[:, 1])
    order = np.lexsort((lo, hi))
    keep = max(1, math.ceil(fraction * len(pairs)))
    return pairs[np.sort(order[:keep])]


class EvolvingDigester(Digester):
    """A :class:`~phago.agents.digester.Digester` driven by a genome.

    Args:
        position: where it starts.
        genome: its parameters, a :class:`~phago.agents.genome.Genome` (None: the reference
            defaults).
        seed: seed of its random generator (a whole number >= 0; None: derived from the
            colony's seed).
        generation: its generation (0 for founders; spawn policies set parent + 1; a whole
            number >= 0).
        speed: the longest move in one tick (not heritable; finite, > 0).
        forage_radius: how far it looks for documents beyond sense range (not heritable;
            finite, >= 0).
        symbiosis: absorb sentinels and synthesizers (off by default, as for the Digester).

    Raises:
        ConfigError: ``genome`` is not a Genome, or a setting is out of its range (the
            message names it and the value).
        InvalidPosition: ``position`` is not a pair of finite numbers.
    """

    def __init__(
        self,
        position: Position | tuple[float, float],
        genome: Genome | None = None,
        *,
        seed: int | None = None,
        generation: int = 0,
        speed: float = 5.0,
        forage_radius: float = 40.0,
        symbiosis: bool = False,
    ) -> None:
        if genome is not None and not isinstance(genome, Genome):
            raise ConfigError(f"genome must be a Genome or None, got {genome!r}")
        g = genome if genome is not None else Genome()
        generation = whole_number(generation, "generation", 0)
        super().__init__(
            position,
            seed=seed,
            max_idle=g.max_idle,
            sense_radius=g.sense_radius,
            keyword_boost=g.keyword_boost,
            speed=speed,
            forage_radius=forage_radius,
            symbiosis=symbiosis,
        )
        self.genome = g
        self.generation = generation

    # ------------------------------------------------------------------ behaviour

    def _seek(self, view: ColonyView) -> AgentAction:
        bias = self.genome.explore_bias
        if (
            bias > 0.0
            and not view.undigested_near(self.position, self.sense_radius, limit=1)
            and float(self.rng.random()) < bias
        ):
            self.idle += 1
            self._heading += float(self.rng.normal(0.0, 0.6))
            step = min(2.0, self.speed)
            x = self.position.x + step * math.cos(self._heading)
            y = self.position.y + step * math.sin(self._heading)
            return Move(Position(x, y))
        return super()._seek(view)

    def _presentation(self, labels: list[str]) -> PresentFragments:
        action = super()._presentation(labels)
        g = self.genome
        pairs = action.pairs
        if g.wiring_selectivity < 1.0:
            if pairs is None:
                i, j = np.triu_indices(len(labels), 1)
                pairs = np.stack([i, j], axis=1).astype(np.int64)
            pairs = select_pairs(np.asarray(pairs, dtype=np.int64), g.wiring_selectivity)
        return dataclasses.replace(
            action, pairs=pairs, tentative=g.tentative_weight, increment=g.reinforcement_boost
        )

    def modulate_boundary(self, context: BoundaryContext) -> None:
        """The Digester's permeability plus ``boundary_bias``, clamped to [0, 1]."""
        super().modulate_boundary(context)
        self._permeability = min(max(self._permeability + self.genome.boundary_bias, 0.0), 1.0)

    # ------------------------------------------------------------------ persistence

    def state_dict(self) -> dict[str, Any]:
        """The Digester's state plus the genome."""
        d = super().state_dict()
        d["genome"] = self.genome.to_dict()
        return d

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned."""
        super().load_state_dict(state)
        self.genome = Genome.from_dict(state["genome"])
