"""Evaluation: run a labelled query set over a colony and score every retrieval method.

A query set is the reference's JSON format, ``[{"query": ..., "relevant": [labels...]}]``
(:func:`parse_queries`). :func:`evaluate` runs every method on every query and averages the
metrics of :mod:`phago.query.metrics`; the method with the highest NDCG@10 (then R@10, then
MRR) is reported as the best. :func:`build_retrieval_colony` builds the colony the way the
reference's bio-rag demo does (WORKLOADS.md, Retrieval). Nothing here reads or writes files.

Example:
    >>> from phago.query.base import example_source
    >>> qs = parse_queries([{"query": "gene", "relevant": ["gene", "dna"]}])
    >>> ev = evaluate(example_source(), qs, methods=["tfidf", "fusion"])
    >>> ev.best, ev.methods["fusion"].scores.r_at_10, ev.methods["tfidf"].scores.r_at_10
    ('fusion', 1.0, 0.5)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from phago.config import real_number, whole_number
from phago.errors import ConfigError
from phago.query.base import GraphSource
from phago.query.metrics import AggregateScores, QueryScores, aggregate, score_query
from phago.query.retrieve import METHODS, resolve_method, retrieve

__all__ = [
    "Evaluation",
    "LabelledQuery",
    "MethodResult",
    "best_method",
    "build_retrieval_colony",
    "evaluate",
    "parse_queries",
]


@dataclass(frozen=True, slots=True)
class LabelledQuery:
    """A query and the concept labels that answer it."""

    query: str
    relevant: tuple[str, ...]


def parse_queries(data: object) -> list[LabelledQuery]:
    """Validate a parsed query file: a list of ``{"query": str, "relevant": [str, ...]}``.

    Raises:
        ConfigError: anything else (the message says which entry and why).

    Example:
        >>> parse_queries([{"query": "q", "relevant": ["a", "b"]}])
        [LabelledQuery(query='q', relevant=('a', 'b'))]
        >>> parse_queries({"query": "q"})
        Traceback (most recent call last):
        ...
        phago.errors.ConfigError: a query file must hold a JSON list of ...
    """
    if not isinstance(data, list):
        raise ConfigError('a query file must hold a JSON list of {"query", "relevant"} objects')
    out = []
    for n, item in enumerate(data):
        if not isinstance(item, dict):
            raise ConfigError(f"query {n}: expected an object, got {type(item).__name__}")
        q, rel = item.get("query"), item.get("relevant")
        if not isinstance(q, str) or not q.strip():
            raise ConfigError(f"query {n}: 'query' must be a non-empty string")
        if not isinstance(rel, list) or not all(isinstance(x, str) for x in rel):
            raise ConfigError(f"query {n}: 'relevant' must be a list of strings")
        out.append(LabelledQuery(q, tuple(rel)))
    return out


@dataclass(frozen=True, slots=True)
class MethodResult:
    """One method's mean scores and per-query scores."""

    method: str
    scores: AggregateScores
    per_query: tuple[QueryScores, ...]


@dataclass(frozen=True, slots=True)
class Evaluation:
    """Every method's results over a query set, and the graph they ran on."""

    methods: dict[str, MethodResult]
    best: str
    nodes: int
    edges: int
    documents_digested: int
    k: int = 10
    retrieved: dict[str, list[list[str]]] = field(default_factory=dict)

    def to_report(self) -> dict[str, object]:
        """The ``phago eval --json`` object.

        Example:
            >>> from phago.query.base import example_source
            >>> qs = parse_queries([{"query": "gene", "relevant": ["dna"]}])
            >>> sorted(evaluate(example_source(), qs, methods=["bm25"]).to_report())
            ['best', 'documents_digested', 'edges', 'methods', 'nodes']
        """
        return {
            "methods": {m: r.scores.to_report() for m, r in self.methods.items()},
            "best": self.best,
            "nodes": self.nodes,
            "edges": self.edges,
            "documents_digested": self.documents_digested,
        }


def best_method(results: dict[str, MethodResult]) -> str:
    """The method with the highest NDCG@10, then R@10, then MRR, then name order.

    Example:
        >>> from phago.query.metrics import aggregate
        >>> a = MethodResult("a", aggregate([score_query("q", ["x"], ["x"])]), ())
        >>> b = MethodResult("b", aggregate([score_query("q", ["y"], ["x"])]), ())
        >>> best_method({"a": a, "b": b})
        'a'
    """
    if not results:
        raise ConfigError("no methods evaluated")
    return min(
        results,
        key=lambda m: (
            -round(results[m].scores.ndcg_at_10, 12),
            -round(results[m].scores.r_at_10, 12),
            -round(results[m].scores.mrr, 12),
            m,
        ),
    )


def evaluate(
    source: GraphSource,
    queries: Sequence[LabelledQuery],
    methods: Sequence[str] | None = None,
    k: int = 10,
) -> Evaluation:
    """Run ``queries`` with every method over ``source`` and score them.

    Args:
        source: a colony, distributed colony or any :class:`~phago.query.base.GraphSource`.
        queries: the labelled queries.
        methods: method names (None: all of :data:`~phago.query.retrieve.METHODS`);
            ``"best"`` is accepted and resolved.
        k: results retrieved per query (metrics look at the first 5 and 10).

    Returns:
        Per-method means and per-query scores, the best method and the graph's size.

    Raises:
        ConfigError: an unknown method, or a ``k`` that is not a whole number >= 1.

    Example:
        >>> from phago.query.base import example_source
        >>> qs = parse_queries([{"query": "qubit", "relevant": ["spin"]}])
        >>> evaluate(example_source(), qs, methods=["tfidf"]).methods["tfidf"].scores.mrr
        0.0
    """
    k = whole_number(k, "k", 1)
    if isinstance(methods, str):
        methods = [methods]
    names = list(dict.fromkeys(resolve_method(m) for m in (methods or list(METHODS))))
    results: dict[str, MethodResult] = {}
    retrieved: dict[str, list[list[str]]] = {}
    for m in names:
        per: list[QueryScores] = []
        labels_per: list[list[str]] = []
        for q in queries:
            labels = [r.label for r in retrieve(source, q.query, k, m)]
            labels_per.append(labels)
            per.append(score_query(q.query, labels, q.relevant))
        results[m] = MethodResult(m, aggregate(per), tuple(per))
        retrieved[m] = labels_per
    g = source.graph
    digested = sum(1 for d in source.documents() if d.digested)
    return Evaluation(
        results, best_method(results), g.node_count, g.edge_count, digested, k, retrieved
    )


def build_retrieval_colony(
    documents: Sequence[tuple[str, str]],
    *,
    shards: int = 1,
    digesters: int | None = None,
    ticks: int = 200,
    max_idle: int = 120,
    seed: int = 0,
    columns: int = 5,
    spacing: float = 5.0,
) -> GraphSource:
    """A colony built as the reference's bio-rag demo builds it (WORKLOADS.md, Retrieval).

    Documents lie on a ``columns``-column grid with ``spacing`` (in the given order);
    ``digesters`` digesters with ``max_idle`` start on documents ``seed, seed + s,
    seed + 2s, …`` (modulo ``n``) with ``s = n // digesters`` (default: one per four
    documents, i.e. documents 0, 4, 8, … with seed 0; 25 for the 100-document corpus),
    digester ``j`` with the random seed ``seed * 2**32 + j * s``; then ``ticks`` ticks run.
    So ``seed`` changes where the digesters start and how they walk, and seed 0 is the
    bio-rag demo's layout (digester ``j`` seeded ``j * s``).

    With ``shards > 1`` a :class:`phago.distributed.DistributedColony` (local backend) is
    built instead: the same documents and positions, ``ceil(digesters / shards)`` digesters
    per shard spread over each shard's documents as
    :meth:`~phago.distributed.DistributedColony.spawn_digesters` spreads them (beside the
    shard's documents ``seed, seed + s, …``, digester ``j`` seeded ``seed * 2**32 + j``).
    Close it when done.

    Args:
        documents: ``(title, content)`` pairs.
        shards: 1 for a single :class:`~phago.colony.Colony`, more for a distributed one.
        digesters: digesters in all (None: ``ceil(n / 4)``).
        ticks: ticks to run.
        max_idle: digesters' idle limit.
        seed: the colony seed.
        columns: grid columns.
        spacing: grid spacing.

    Returns:
        The colony (a :class:`~phago.query.base.GraphSource`).

    Raises:
        ConfigError: ``shards``, ``digesters`` (unless None), ``max_idle`` or ``columns``
            not a whole number >= 1, ``ticks`` or ``seed`` not a whole number >= 0, or
            ``spacing`` not a finite number > 0.

    Example:
        >>> docs = [("a", "cell membrane protein"), ("b", "gene dna protein")]
        >>> c = build_retrieval_colony(docs, ticks=20)
        >>> sum(d.digested for d in c.documents()), c.graph.node_count
        (2, 5)
    """
    from phago.agents.digester import Digester
    from phago.colony import Colony
    from phago.corpus import grid_positions
    from phago.types import Position

    shards = whole_number(shards, "shards", 1)
    ticks = whole_number(ticks, "ticks", 0)
    max_idle = whole_number(max_idle, "max_idle", 1)
    seed = whole_number(seed, "seed", 0)
    columns = whole_number(columns, "columns", 1)
    spacing = real_number(spacing, "spacing", 0, low_open=True)
    n = len(documents)
    count = (
        max(1, math.ceil(n / 4)) if digesters is None else whole_number(digesters, "digesters", 1)
    )
    positions = grid_positions(n, columns=columns, spacing=spacing)
    if shards > 1:
        from phago.distributed import DistributedColony

        dc = DistributedColony(num_shards=shards, seed=seed)
        try:
            dc.ingest_documents([(t, c, p) for (t, c), p in zip(documents, positions, strict=True)])
            _spread_digesters(dc, math.ceil(count / shards), seed=seed, max_idle=max_idle)
            dc.run(ticks)
        except BaseException:
            dc.close()
            raise
        return dc
    colony = Colony(seed=seed)
    colony.ingest_documents([(t, c, p) for (t, c), p in zip(documents, positions, strict=True)])
    step = max(1, n // count)
    for j in range(count):
        start = positions[(j * step + seed) % n] if n else Position(0.0, 0.0)
        colony.spawn(Digester(start, seed=(seed << 32) + j * step, max_idle=max_idle))
    colony.run(ticks)
    return colony


def _spread_digesters(dc: Any, per_shard: int, *, seed: int, max_idle: int) -> None:
    """Spawn ``per_shard`` digesters on every shard of ``dc``: digester ``j`` of a shard with
    ``n`` documents beside its document ``(seed + j * max(1, n // per_shard)) % n`` (at
    ``(1, 1)`` on a shard without any), seeded ``seed * 2**32 + j``. With seed 0 this is
    :meth:`~phago.distributed.DistributedColony.spawn_digesters`'s layout."""
    from phago.agents.digester import Digester
    from phago.types import Position

    docs = dc.documents()
    owner = dc.coordinator.route_documents(
        np.fromiter((int(d.id) for d in docs), dtype=np.uint64, count=len(docs))
    ).tolist()
    for shard in range(dc.num_shards):
        mine = [d.position for d, s in zip(docs, owner, strict=True) if s == shard]
        n = len(mine)
        step = max(1, n // per_shard) if per_shard else 1
        for j in range(per_shard):
            p = mine[(seed + j * step) % n] if n else Position(0.0, 0.0)
            at = Position(p.x + 1.0, p.y + 1.0)
            dc.spawn(Digester(at, seed=(seed << 32) + j, max_idle=max_idle), shard=shard)
