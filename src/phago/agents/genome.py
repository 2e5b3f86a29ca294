"""The digester genome: eight heritable parameters with clamps and a symmetric mutation.

REFERENCE.md §5.4 defines the parameters, defaults, mutation rules and clamps. The reference's
generator only ever yields draws in ``[-1, 0)``, so every mutation shrinks or lowers a parameter
(§8 item 16). Here each draw ``u`` is uniform on ``[-1, 1]`` from a seeded NumPy generator, so
a parameter is as likely to grow as to shrink, and the rules are exactly the reference's:

* multiplicative parameters: ``x · (1 + u · rate)`` (``max_idle`` is rounded);
* additive parameters: ``x + u · rate · step`` (``step`` 0.5 for explore/boundary bias, 0.3 for
  wiring selectivity);

each result clamped to its range. A draw ``u`` and its mirror ``-u`` move an unclamped
parameter by the same amount in opposite directions (:meth:`Genome.mutate_with` makes that
testable). Draws are taken in the table order, one per parameter.

Example:
    >>> from phago.agents.genome import Genome
    >>> g = Genome()
    >>> g.sense_radius, g.max_idle
    (10.0, 30)
    >>> child = g.mutate(0.2, seed=7)
    >>> child == g.mutate(0.2, seed=7)
    True
    >>> Genome(sense_radius=99.0).sense_radius  # clamped to [2, 30]
    30.0
    >>> up = g.mutate_with([0.5] * 8, 0.2)
    >>> down = g.mutate_with([-0.5] * 8, 0.2)
    >>> gain, loss = up.keyword_boost - g.keyword_boost, g.keyword_boost - down.keyword_boost
    >>> round(gain, 6) == round(loss, 6)
    True
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np

from phago.config import real_number
from phago.errors import ConfigError

__all__ = ["GENOME_CLAMPS", "Genome"]

#: Clamp range of every parameter, in the reference's table order.
GENOME_CLAMPS: dict[str, tuple[float, float]] = {
    "sense_radius": (2.0, 30.0),
    "max_idle": (5.0, 100.0),
    "keyword_boost": (0.5, 10.0),
    "explore_bias": (0.0, 1.0),
    "boundary_bias": (-1.0, 1.0),
    "tentative_weight": (0.05, 0.5),
    "reinforcement_boost": (0.01, 0.3),
    "wiring_selectivity": (0.1, 1.0),
}

# "mul": x·(1 + u·rate); ("add", step): x + u·rate·step
_RULES: dict[str, tuple[str, float]] = {
    "sense_radius": ("mul", 0.0),
    "max_idle": ("mul", 0.0),
    "keyword_boost": ("mul", 0.0),
    "explore_bias": ("add", 0.5),
    "boundary_bias": ("add", 0.5),
    "tentative_weight": ("mul", 0.0),
    "reinforcement_boost": ("mul", 0.0),
    "wiring_selectivity": ("add", 0.3),
}

_NAMES: tuple[str, ...] = tuple(GENOME_CLAMPS)


def _clamp(name: str, value: object) -> float:
    """``value`` clamped to ``name``'s range, if it is a real number (an int, a float or a
    NumPy number, not a bool or a string) other than NaN (infinities are clamped).

    Raises:
        ConfigError: anything else (the message names ``name``).
    """
    lo, hi = GENOME_CLAMPS[name]
    if not isinstance(value, numbers.Real) or isinstance(value, bool):
        raise ConfigError(f"genome parameter {name} must be a number, got {value!r}")
    x = float(value)
    if math.isnan(x):
        raise ConfigError(f"genome parameter {name} is NaN")
    return min(max(x, lo), hi)


@dataclass(frozen=True, slots=True)
class Genome:
    """Heritable parameters of an :class:`~phago.agents.evolving.EvolvingDigester`.

    Every value is clamped to :data:`GENOME_CLAMPS` on construction; a value that is not a
    number (a string, a bool, None) or is NaN is a :class:`~phago.errors.ConfigError`.

    Attributes:
        sense_radius: how far the digester sees documents (Digester ``sense_radius``).
        max_idle: idle ticks before apoptosis (Digester ``max_idle``).
        keyword_boost: score added to known vocabulary (Digester ``keyword_boost``).
        explore_bias: probability of a random exploration step instead of foraging when no
            document is within sense range.
        boundary_bias: offset added to the boundary permeability.
        tentative_weight: weight of the edges it creates.
        reinforcement_boost: weight it adds to edges it reinforces.
        wiring_selectivity: fraction of a document's keyword pairs it wires, strongest
            keywords first.

    Example:
        >>> Genome(max_idle=3).max_idle  # clamped to [5, 100]
        5
    """

    sense_radius: float = 10.0
    max_idle: int = 30
    keyword_boost: float = 3.0
    explore_bias: float = 0.2
    boundary_bias: float = 0.0
    tentative_weight: float = 0.1
    reinforcement_boost: float = 0.1
    wiring_selectivity: float = 1.0

    def __post_init__(self) -> None:
        for name in _NAMES:
            clamped = _clamp(name, getattr(self, name))
            if name == "max_idle":
                object.__setattr__(self, name, round(clamped))
            else:
                object.__setattr__(self, name, clamped)

    # ------------------------------------------------------------------ mutation

    def mutate_with(self, draws: Sequence[float], rate: float) -> Genome:
        """Apply the mutation rules with explicit draws ``u`` (one per parameter, table order).

        Args:
            draws: eight values in ``[-1, 1]``.
            rate: mutation rate (``>= 0``).

        Returns:
            The mutated, clamped genome.

        Raises:
            ConfigError: wrong number of draws, a draw that is not a number in ``[-1, 1]``,
                or a rate that is not a finite number >= 0.
        """
        if len(draws) != len(_NAMES):
            raise ConfigError(f"need {len(_NAMES)} draws, got {len(draws)}")
        rate = real_number(rate, "mutation rate", 0)
        values: dict[str, float] = {}
        for name, draw in zip(_NAMES, draws, strict=True):
            u = real_number(draw, f"draw for {name}", -1, 1)
            x = float(getattr(self, name))
            kind, step = _RULES[name]
            values[name] = x * (1.0 + u * rate) if kind == "mul" else x + u * rate * step
        return Genome(**values)  # type: ignore[arg-type]

    def mutate(
        self, rate: float, seed: int | None = None, rng: np.random.Generator | None = None
    ) -> Genome:
        """A mutated copy: each parameter perturbed with a uniform draw on ``[-1, 1]``.

        Args:
            rate: mutation rate (the reference's ``rate``; 0 returns an equal genome).
            seed: seed of a fresh generator (used when ``rng`` is None).
            rng: generator to draw from (advanced by eight draws).

        Returns:
            The offspring genome (clamped).
        """
        gen = rng if rng is not None else np.random.default_rng(seed)
        draws = gen.uniform(-1.0, 1.0, size=len(_NAMES))
        return self.mutate_with([float(u) for u in draws], rate)

    # ------------------------------------------------------------------ comparison

    def normalised(self) -> tuple[float, ...]:
        """The eight parameters scaled to ``[0, 1]`` by their clamp ranges (REFERENCE.md §5.4).

        ``max_idle`` is scaled by ``x / 100`` as in the reference.
        """
        out = []
        for name in _NAMES:
            x = float(getattr(self, name))
            if name == "max_idle":
                out.append(x / 100.0)
            else:
                lo, hi = GENOME_CLAMPS[name]
                out.append((x - lo) / (hi - lo))
        return tuple(out)

    def distance(self, other: Genome) -> float:
        """Euclidean distance between the normalised parameter vectors."""
        a, b = self.normalised(), other.normalised()
        return math.sqrt(sum((x - y) ** 2 for x, y in zip(a, b, strict=True)))

    # ------------------------------------------------------------------ persistence

    def to_dict(self) -> dict[str, Any]:
        """Plain dict of the eight parameters."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Genome:
        """Build from :meth:`to_dict` output; unknown keys raise ``ValueError``."""
        known = {f.name for f in fields(cls)}
        extra = set(data) - known
        if extra:
            raise ConfigError(f"unknown genome keys: {sorted(extra)}")
        return cls(**data)

    @classmethod
    def parameter_names(cls) -> tuple[str, ...]:
        """The parameter names in the reference's table order."""
        return _NAMES
