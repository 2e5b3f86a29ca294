"""Query reinforcement (an explicit option, off by default).

The reference reinforced edges on every graph query and left ``last_activated_tick``
untouched, so reinforced edges still decayed as stale (REFERENCE.md §8 item 10). Here
reinforcement happens only when a caller asks for it (``reinforce=True``), and it goes
through :meth:`HebbianGraph.wire_pairs`, so it counts as a co-activation at the current tick.

For each returned concept ``r``, ``c`` = the number of seeds (query-term concepts) that are
``r`` or share an edge with it. If ``c > 0``, ``r``'s access count grows by ``c``, and every
existing edge between ``r`` and a seed gains ``increment`` (capped at 1.0), one co-activation
and ``last_activated_tick = tick``. Each such edge is reinforced once per query, even when
both ends were returned. No edge is created.

Example:
    >>> from phago.query.base import example_source
    >>> from phago.query.tfidf import tfidf
    >>> src = example_source()
    >>> before = src.graph.edge_between("cell", "membrane")
    >>> _ = tfidf(src, "cell membrane", reinforce=True)
    >>> after = src.graph.edge_between("cell", "membrane")
    >>> round(after.weight - before.weight, 2), after.co_activations - before.co_activations
    (0.05, 1)
    >>> after.last_activated_tick == src.current_tick
    True
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from phago.config import real_number
from phago.errors import InvalidQuery
from phago.query.base import GraphSource, RetrievedConcept, seed_indices, source_tick
from phago.query.index import invalidate

__all__ = ["REINFORCE_INCREMENT", "reinforce"]

REINFORCE_INCREMENT = 0.05
"""Weight added to an edge between a seed and a returned concept (the reference's 0.05)."""


def _checked(terms: object, results: object) -> tuple[list[str], list[RetrievedConcept]]:
    """``terms`` and ``results`` as lists, if they are collections of strings and of
    :class:`RetrievedConcept` (a string is not a collection of terms here).

    Raises:
        InvalidQuery: anything else.
    """
    term_list: list[str] = _items(terms, str, "query terms", "a query term", "strings")
    result_list: list[RetrievedConcept] = _items(
        results, RetrievedConcept, "results", "a result", "RetrievedConcept"
    )
    return term_list, result_list


def _items(value: object, kind: type, name: str, one: str, kinds: str) -> list[Any]:
    """``value`` as a list of ``kind`` items (a string or bytes is not a collection here).

    Raises:
        InvalidQuery: ``value`` is no collection, or an item is not a ``kind``.
    """
    if isinstance(value, str | bytes) or not isinstance(value, Iterable):
        raise InvalidQuery(f"{name} must be a collection of {kinds}, got {type(value).__name__}")
    items = list(value)
    for item in items:
        if not isinstance(item, kind):
            what = "text" if kind is str else f"a {kind.__name__}"
            raise InvalidQuery(f"{one} must be {what}, got {item!r}")
    return items


def reinforce(
    source: GraphSource,
    terms: Sequence[str],
    results: Sequence[RetrievedConcept],
    increment: float = REINFORCE_INCREMENT,
) -> int:
    """Reinforce the edges between the query's seeds and the returned concepts.

    Args:
        source: the queried source; its ``graph`` is written to.
        terms: the query terms (seeds are the concepts labelled exactly by a term).
        results: what the query returned.
        increment: weight added per reinforced edge.

    Returns:
        The number of edges reinforced.

    Raises:
        ConfigError: ``increment`` is not a number in [0, 1].
        InvalidQuery: ``terms`` is not a collection of strings (a string alone is not), or
            ``results`` not a collection of :class:`RetrievedConcept`; nothing is changed.

    Example:
        >>> from phago.query.base import example_source, RetrievedConcept
        >>> src = example_source()
        >>> g = src.graph
        >>> res = [RetrievedConcept("dna", 1.0, g.find_by_label("dna"))]
        >>> reinforce(src, ["gene"], res)
        1
    """
    increment = real_number(increment, "increment", 0, 1)
    terms, results = _checked(terms, results)
    g = source.graph
    seeds = seed_indices(g, terms)
    if not seeds or not results:
        return 0
    seed_ids = [g.id_at(s) for s in seeds]
    seed_set = set(seeds)
    pairs: set[tuple[int, int]] = set()
    bump: list[int] = []
    for r in results:
        if r.node_id not in g:
            continue
        ri = g.index_of(r.node_id)
        c = 1 if ri in seed_set else 0
        for s, sid in zip(seeds, seed_ids, strict=True):
            if s != ri and g.get_edge(sid, r.node_id) is not None:
                c += 1
                pairs.add((min(s, ri), max(s, ri)))
        bump.extend([ri] * c)
    ordered = sorted(pairs)
    remote = getattr(source, "reinforce_edges", None)
    if remote is not None:  # a distributed colony: its owners apply it (g is a merged copy)
        remote(
            [(g.id_at(x), g.id_at(y)) for x, y in ordered],
            [g.id_at(i) for i in bump],
            increment,
            source_tick(source),
        )
        return len(ordered)
    if bump:
        g.increment_access(np.asarray(bump, dtype=np.int64), 1)
    if not pairs:
        return 0
    a = np.array([p[0] for p in ordered], dtype=np.int64)
    b = np.array([p[1] for p in ordered], dtype=np.int64)
    g.wire_pairs(a, b, tick=source_tick(source), tentative=g.tentative_weight, increment=increment)
    invalidate(g)
    return len(ordered)
