"""Shared query types: the :class:`GraphSource` protocol, :class:`RetrievedConcept`, ranking.

Every query function takes a *source*: anything with a ``graph`` (a
:class:`~phago.graph.HebbianGraph`) and a ``documents()`` method. A :class:`~phago.colony.Colony`
is one; a distributed colony, whose ``graph`` is the merged global graph, is another; and
:class:`StaticSource` wraps a hand-built graph. Query text is split by the one tokeniser,
:func:`phago.text.tokenize`, which digestion uses too.

Rankings are deterministic and independent of node insertion order: scores are rounded to
10 decimals and ties are broken by label, then by node id, so a query over a merged
distributed graph returns the same list as over a single colony holding the same graph.

Example:
    >>> from phago.query.base import example_source, query_terms
    >>> source = example_source()
    >>> source.graph.node_count, source.graph.edge_count, len(source.documents())
    (9, 12, 4)
    >>> query_terms("How do ribosomes make the PROTEIN?")
    ['ribosomes', 'protein']
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from phago.config import whole_number
from phago.errors import ConfigError, InvalidQuery
from phago.graph import HebbianGraph
from phago.ids import NodeId, document_id
from phago.text import tokenize
from phago.types import Document, NodeType, Position

__all__ = [
    "CONCEPT_CODE",
    "GraphSource",
    "RetrievedConcept",
    "StaticSource",
    "example_source",
    "optional_whole_number",
    "query_terms",
    "rank_top",
    "seed_indices",
    "source_tick",
]

CONCEPT_CODE: int = list(NodeType).index(NodeType.CONCEPT)
"""The type code of concept nodes in :meth:`HebbianGraph.type_codes`."""

_DECIMALS = 10


@runtime_checkable
class GraphSource(Protocol):
    """What query functions read: a knowledge graph and the documents it was digested from.

    :class:`~phago.colony.Colony` and the distributed colony satisfy it unchanged.
    ``current_tick`` is read when present (cache keys, query reinforcement).
    """

    @property
    def graph(self) -> HebbianGraph:
        """The (global) knowledge graph."""
        ...

    def documents(self) -> Sequence[Document]:
        """Every document, digested or not."""
        ...


@dataclass(frozen=True, slots=True)
class RetrievedConcept:
    """One retrieved concept: its label, its score and the components that made the score.

    Attributes:
        label: the concept's label.
        score: the final score (higher is better).
        node_id: the concept's stable node id.
        components: named parts of the score (method specific, e.g. ``tfidf``, ``graph``).
        path: for graph traversal, the labels from a seed to this concept; else empty.

    Example:
        >>> r = RetrievedConcept("cell", 1.5, NodeId(7), {"tfidf": 1.0, "graph": 0.5})
        >>> d = r.to_dict()
        >>> d["components"]["graph"], d["node_id"], d["path"]
        (0.5, '7', [])
    """

    label: str
    score: float
    node_id: NodeId
    components: Mapping[str, float] = field(default_factory=dict)
    path: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, object]:
        """A JSON-friendly dict, the same keys for every method: ``node_id`` as a string
        (a 64-bit id loses digits as a JSON number in JavaScript, as ``phago query --json``
        prints it) and ``path`` a list, empty where the method walks none."""
        return {
            "label": self.label,
            "score": self.score,
            "node_id": str(int(self.node_id)),
            "components": dict(self.components),
            "path": list(self.path),
        }


@dataclass(slots=True)
class StaticSource:
    """A :class:`GraphSource` over a given graph and document list (tests, examples, tools).

    Example:
        >>> src = StaticSource(HebbianGraph(), [])
        >>> src.graph.node_count, src.documents(), src.current_tick
        (0, [], 0)
    """

    graph: HebbianGraph
    docs: list[Document] = field(default_factory=list)
    current_tick: int = 0

    def documents(self) -> list[Document]:
        """The documents."""
        return list(self.docs)


def source_tick(source: GraphSource) -> int:
    """The source's current tick, or 0 if it has none.

    Example:
        >>> source_tick(StaticSource(HebbianGraph(), [], current_tick=5))
        5
    """
    tick = getattr(source, "current_tick", 0)
    return int(tick) if isinstance(tick, int | np.integer) else 0


def query_terms(text: str) -> list[str]:
    """The query's terms: :func:`phago.text.tokenize` (one tokeniser, one stopword list).

    Raises:
        InvalidQuery: ``text`` is not text.

    Example:
        >>> query_terms("the cell's membrane")
        ['cell', 'membrane']
    """
    if not isinstance(text, str):
        raise InvalidQuery(f"a query must be text, got {type(text).__name__}")
    return tokenize(text)


def optional_whole_number(value: object, name: str, minimum: int) -> int | None:
    """None, or ``value`` as a whole number of at least ``minimum``
    (:func:`phago.config.whole_number`).

    Raises:
        ConfigError: anything else (the message names ``name``).

    Example:
        >>> optional_whole_number(None, "fanout", 1), optional_whole_number(8.0, "fanout", 1)
        (None, 8)
        >>> optional_whole_number("8", "fanout", 1)
        Traceback (most recent call last):
        ...
        phago.errors.ConfigError: fanout must be None or a whole number >= 1, got '8'
    """
    if value is None:
        return None
    try:
        return whole_number(value, name, minimum)
    except ConfigError:
        raise ConfigError(
            f"{name} must be None or a whole number >= {minimum}, got {value!r}"
        ) from None


def seed_indices(graph: HebbianGraph, terms: Sequence[str]) -> list[int]:
    """Indices of the concepts whose label is exactly a query term, deduplicated, term order.

    Example:
        >>> g = example_source().graph
        >>> [g.label_at(i) for i in seed_indices(g, ["dna", "unknown", "cell", "dna"])]
        ['dna', 'cell']
    """
    out: list[int] = []
    seen: set[int] = set()
    for t in dict.fromkeys(terms):  # (each term once: a word repeated is looked up once)
        nid = graph.find_by_label(t)
        if nid is None:
            continue
        i = graph.index_of(nid)
        if i not in seen:
            seen.add(i)
            out.append(i)
    return out


def rank_top(
    graph: HebbianGraph,
    indices: npt.NDArray[np.int64] | Sequence[int],
    scores: npt.NDArray[np.float64] | Sequence[float],
    k: int,
    tiebreak: Sequence[npt.ArrayLike] = (),
) -> list[tuple[int, float]]:
    """The ``k`` best ``(index, score)`` pairs, deterministic and insertion-order independent.

    Only positive scores are kept. Scores are compared after rounding to 10 decimals; ties
    are broken by the ``tiebreak`` keys in order (arrays aligned with ``indices``, higher
    first), then by label, then node id.

    Example:
        >>> g = HebbianGraph()
        >>> _ = [g.add_node(w) for w in ("beta", "alpha", "gamma")]
        >>> [g.label_at(i) for i, _ in rank_top(g, [0, 1, 2], [1.0, 1.0, 2.0], 2)]
        ['gamma', 'alpha']
        >>> [g.label_at(i) for i, _ in rank_top(g, [0, 1, 2], [1.0, 1.0, 2.0], 2, [[5, 1, 0]])]
        ['gamma', 'beta']

    Raises:
        ConfigError: ``k`` is not a whole number >= 0.
    """
    k = whole_number(k, "k", 0)
    idx = np.asarray(indices, dtype=np.int64)
    sc = np.round(np.asarray(scores, dtype=np.float64), _DECIMALS)
    keys = [np.asarray(t, dtype=np.float64) for t in tiebreak]
    keep = sc > 0.0
    if not keep.all():
        idx, sc = idx[keep], sc[keep]
        keys = [t[keep] for t in keys]
    if k <= 0 or len(idx) == 0:
        return []
    if len(idx) > k:
        kth = np.partition(sc, len(sc) - k)[len(sc) - k]
        sel = sc >= kth
        idx, sc = idx[sel], sc[sel]
        keys = [t[sel] for t in keys]
    cols = [(-t).tolist() for t in keys]
    items = sorted(
        zip(idx.tolist(), sc.tolist(), *cols, strict=True),
        key=lambda p: (-p[1], *p[2:], graph.label_at(p[0]), graph.id_at(p[0])),
    )
    return [(p[0], p[1]) for p in items[:k]]


def example_source() -> StaticSource:
    """A tiny hand-built source for examples: 4 documents, 9 concepts, 12 edges.

    Documents: two on cells (``cell``, ``membrane``, ``protein``, ``ribosome``), one on
    genes (``gene``, ``dna``, ``protein``) and one on qubits (``qubit``, ``spin``,
    ``entanglement``). Every document's concepts are wired as a clique (the cell pair twice).

    Example:
        >>> g = example_source().graph
        >>> round(g.edge_between("cell", "membrane").weight, 2)
        0.2
    """
    texts = [
        ("Cells", "cell membrane protein ribosome cell"),
        ("Membranes", "membrane cell protein"),
        ("Genes", "gene dna protein gene"),
        ("Qubits", "qubit spin entanglement"),
    ]
    g = HebbianGraph()
    docs: list[Document] = []
    for i, (title, text) in enumerate(texts):
        did = document_id(title, text)
        pos = Position(5.0 * i, 0.0)
        docs.append(Document(did, title, text, pos, True))
        labels = list(dict.fromkeys(tokenize(text)))
        idx = g.present(labels, NodeType.CONCEPT, pos, tick=i, document=did)
        g.wire_clique(idx, tick=i)
    return StaticSource(g, docs, current_tick=len(texts))
