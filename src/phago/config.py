"""Colony configuration.

Example:
    >>> from phago.config import ColonyConfig
    >>> ColonyConfig().max_edge_degree
    30
    >>> ColonyConfig.for_large_corpora().wiring_window
    10
"""

from __future__ import annotations

import contextlib
import difflib
import functools
import math
import numbers
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from phago.errors import ConfigError

__all__ = ["ColonyConfig", "colony_config", "real_number", "whole_number"]


def whole_number(value: object, name: str, minimum: int) -> int:
    """``value`` as an int, if it is a whole number (an int, a NumPy integer or a whole
    float, not a bool or a string) of at least ``minimum``.

    Raises:
        ConfigError: anything else (the message names ``name``).

    Example:
        >>> whole_number(2.0, "num_shards", 1)
        2
        >>> whole_number("2", "num_shards", 1)
        Traceback (most recent call last):
        ...
        phago.errors.ConfigError: num_shards must be a whole number >= 1, got '2'
    """
    number = minimum - 1
    if not isinstance(value, bool | str | bytes):
        with contextlib.suppress(TypeError, ValueError, OverflowError):
            number = int(value)  # type: ignore[call-overload]
    if number < minimum or number != value:
        raise ConfigError(f"{name} must be a whole number >= {minimum}, got {value!r}")
    return number


def _bound(x: float) -> str:
    """A bound as it reads best in a message: ``0`` and ``1``, not ``0.0`` and ``1.0``."""
    return str(int(x)) if x.is_integer() else repr(x)


def real_number(
    value: object,
    name: str,
    low: float | None = None,
    high: float | None = None,
    *,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """``value`` as a float, if it is a finite real number (an int, a float or a NumPy number,
    not a bool or a string) within the bounds: at least ``low`` (above it if ``low_open``) and
    at most ``high`` (below it if ``high_open``); a bound left None is not checked.

    Raises:
        ConfigError: anything else, NaN and infinities included (the message names ``name``
            and the range).

    Example:
        >>> real_number(1, "learning_rate", 0, 1, low_open=True)
        1.0
        >>> real_number(0.5, "radius", 0)
        0.5
        >>> real_number(5, "peak_decay", 0, 1)
        Traceback (most recent call last):
        ...
        phago.errors.ConfigError: peak_decay must be a number in [0, 1], got 5
        >>> real_number(float("nan"), "radius", 0)
        Traceback (most recent call last):
        ...
        phago.errors.ConfigError: radius must be a finite number >= 0, got nan
    """
    if low is not None and high is not None:
        left, right = "(" if low_open else "[", ")" if high_open else "]"
        wanted = f"a number in {left}{_bound(float(low))}, {_bound(float(high))}{right}"
    elif low is not None:
        wanted = f"a finite number {'>' if low_open else '>='} {_bound(float(low))}"
    elif high is not None:
        wanted = f"a finite number {'<' if high_open else '<='} {_bound(float(high))}"
    else:
        wanted = "a finite number"
    number = math.nan
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        with contextlib.suppress(TypeError, ValueError, OverflowError):
            number = float(value)
    ok = math.isfinite(number)
    if ok and low is not None:
        ok = number > low if low_open else number >= low
    if ok and high is not None:
        ok = number < high if high_open else number <= high
    if not ok:
        raise ConfigError(f"{name} must be {wanted}, got {value!r}")
    return number


def colony_config(config: object) -> ColonyConfig:
    """``config`` if it is a :class:`ColonyConfig`; the defaults if it is None.

    Raises:
        ConfigError: anything else (a dict: build it with :meth:`ColonyConfig.from_dict`).

    Example:
        >>> colony_config(None) == ColonyConfig()
        True
        >>> colony_config({"max_edge_degree": 5})
        Traceback (most recent call last):
        ...
        phago.errors.ConfigError: config must be a ColonyConfig or None, got a dict (build ...)
    """
    if config is None:
        return ColonyConfig()
    if isinstance(config, ColonyConfig):
        return config
    hint = " (build one with ColonyConfig.from_dict)" if isinstance(config, dict) else ""
    raise ConfigError(f"config must be a ColonyConfig or None, got a {type(config).__name__}{hint}")


@dataclass(frozen=True, slots=True)
class ColonyConfig:
    """Rates, thresholds and bounds of a colony. Defaults are the reference's (REFERENCE.md §4.1).

    Attributes:
        signal_decay_rate: fraction of a signal's intensity lost per tick.
        signal_removal_threshold: signals below this (strict) are removed.
        trace_decay_rate: fraction of a trace's intensity lost per tick.
        trace_removal_threshold: traces below this are removed (traces at it are kept).
        edge_decay_rate: base edge decay per tick; 0 turns edge decay off.
        edge_prune_threshold: mature edges below this weight are pruned.
        staleness_factor: how much faster stale, rarely co-activated edges decay.
        maturation_ticks: edges younger than this decay at the base rate and are never pruned.
        max_edge_degree: each node keeps at most this many strongest edges; None: no cap.
        max_fragments: keep only this many keywords per document; None: every keyword.
        wiring_window: wire only concept pairs occurring within this many words of each other;
            None: every pair of a document's concepts (the reference).
        max_clique_keywords: while every pair of a document's keywords is wired (no
            ``wiring_window``, and ``max_fragments`` None or above this), a document with
            more distinct keywords than this is refused at ingest: its clique would have
            about n²/2 edges (2,000 keywords: 2 million edges and several hundred MB while
            they are wired). None: no limit.
        tentative_weight: weight of a new edge.
        reinforcement: weight added per later co-activation (capped at 1.0).
        dissolution_radius: digesters internalise concept labels within this distance.
        capability_radius: digesters integrate capability deposits within this distance.
        max_document_chars: longer documents are refused (split them first).
        event_history_limit: how many ticks of events the colony keeps.
        death_record_limit: how many dead agents' records the colony keeps: the most
            recent death signals (:attr:`Colony.death_signals <phago.colony.Colony>`) and
            the fitness records of the agents that died most recently; older ones are
            dropped (counts such as ``total_died`` stay exact). 0 keeps none.
    """

    signal_decay_rate: float = 0.05
    signal_removal_threshold: float = 0.01
    trace_decay_rate: float = 0.02
    trace_removal_threshold: float = 0.01
    edge_decay_rate: float = 0.005
    edge_prune_threshold: float = 0.05
    staleness_factor: float = 1.5
    maturation_ticks: int = 50
    max_edge_degree: int | None = 30
    max_fragments: int | None = None
    wiring_window: int | None = None
    max_clique_keywords: int | None = 2_000
    tentative_weight: float = 0.1
    reinforcement: float = 0.1
    dissolution_radius: float = 15.0
    capability_radius: float = 10.0
    max_document_chars: int = 2_000_000
    event_history_limit: int = 1_000
    death_record_limit: int = 1_000

    def __post_init__(self) -> None:
        for name in ("signal_decay_rate", "trace_decay_rate", "edge_decay_rate"):
            v = getattr(self, name)
            if not (isinstance(v, int | float) and math.isfinite(v) and 0.0 <= v < 1.0):
                raise ConfigError(f"{name} must be in [0, 1), got {v!r}")
        for name in (
            "signal_removal_threshold",
            "trace_removal_threshold",
            "edge_prune_threshold",
            "staleness_factor",
            "dissolution_radius",
            "capability_radius",
        ):
            v = getattr(self, name)
            if not (isinstance(v, int | float) and math.isfinite(v) and v >= 0.0):
                raise ConfigError(f"{name} must be a finite number >= 0, got {v!r}")
        real_number(self.tentative_weight, "tentative_weight", 0, 1, low_open=True)
        real_number(self.reinforcement, "reinforcement", 0, 1)
        whole_number(self.maturation_ticks, "maturation_ticks", 0)
        for name in ("max_edge_degree", "max_fragments", "wiring_window", "max_clique_keywords"):
            v = getattr(self, name)
            if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 1):
                raise ConfigError(f"{name} must be None or an integer >= 1, got {v!r}")
        whole_number(self.max_document_chars, "max_document_chars", 1)
        whole_number(self.event_history_limit, "event_history_limit", 0)
        whole_number(self.death_record_limit, "death_record_limit", 0)

    @property
    def clique_keyword_limit(self) -> int | None:
        """The most distinct keywords a document may have (``max_clique_keywords``) while
        every pair of them would be wired; None where wiring is bounded or the limit is off.

        Example:
            >>> large = ColonyConfig.for_large_corpora()
            >>> ColonyConfig().clique_keyword_limit, large.clique_keyword_limit
            (2000, None)
        """
        limit = self.max_clique_keywords
        if limit is None or self.wiring_window is not None:
            return None
        if self.max_fragments is not None and self.max_fragments <= limit:
            return None
        return limit

    @classmethod
    def for_large_corpora(cls) -> ColonyConfig:
        """Bounded settings for big corpora (measured in BENCHMARKS.md).

        At most 32 keywords per document, wired only within a 10-word window, degree cap 30:
        work and edges per document are bounded, so cost grows linearly with the corpus. The
        event history keeps the last 10 ticks (not 1,000: with thousands of agents that is
        millions of event objects for the garbage collector to walk).
        """
        return cls(max_fragments=32, wiring_window=10, max_edge_degree=30, event_history_limit=10)

    def replace(self, **changes: Any) -> ColonyConfig:
        """A copy with ``changes`` applied (validated)."""
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict of every field."""
        return asdict(self)

    def __getstate__(self) -> dict[str, Any]:
        # pickled by name, so that a field added later takes its default when an older
        # pickle (a checkpoint) is read, where a positional state would shift every field
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def __setstate__(self, state: dict[str, Any] | list[Any]) -> None:
        names = [f.name for f in fields(self)]
        if isinstance(state, list):  # positional, as phago pickled it up to December 2026
            if len(state) != len(names):
                raise TypeError(
                    f"a ColonyConfig pickled with {len(state)} fields cannot be read by a "
                    f"phago whose ColonyConfig has {len(names)}"
                )
            state = dict(zip(names, state, strict=True))
        full = {**ColonyConfig().to_dict(), **state}
        for name in names:
            object.__setattr__(self, name, full[name])
        self.__post_init__()

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ColonyConfig:
        """Build from a dict; unknown keys raise :class:`~phago.errors.ConfigError`."""
        known = {f.name for f in fields(cls)}
        extra = set(data) - known
        if extra:
            raise ConfigError(f"unknown colony config keys: {sorted(extra)}")
        return cls(**data)


def _refusing_unknown_options(init: Any) -> Any:
    """``ColonyConfig.__init__`` (the dataclass's), refusing as a :class:`ConfigError` an
    option it does not have (a plain ``TypeError`` said nothing of the right name) and
    more values by position than it has fields."""
    names = tuple(f.name for f in fields(ColonyConfig))

    def __init__(self: ColonyConfig, *args: Any, **options: Any) -> None:
        unknown = [name for name in options if name not in names]
        if unknown:
            close = {n: difflib.get_close_matches(n, names, n=1) for n in unknown}
            said = ", ".join(
                f"{n!r}" + (f" (did you mean {c[0]!r}?)" if c else "") for n, c in close.items()
            )
            raise ConfigError(f"ColonyConfig has no option {said}; its options: {', '.join(names)}")
        if len(args) > len(names):
            raise ConfigError(f"ColonyConfig takes at most {len(names)} values, got {len(args)}")
        taken = [n for n in names[: len(args)] if n in options]
        if taken:  # (the dataclass's TypeError said "got multiple values")
            raise ConfigError(f"ColonyConfig was given {', '.join(taken)} twice")
        init(self, *args, **options)

    return functools.update_wrapper(__init__, init)  # (its signature, for help())


ColonyConfig.__init__ = _refusing_unknown_options(ColonyConfig.__init__)  # type: ignore[method-assign]
