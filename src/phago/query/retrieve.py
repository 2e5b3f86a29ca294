"""One entry point for every retrieval method: :func:`retrieve`.

Methods (each ``(source, text, k, *, reinforce=False) -> list[RetrievedConcept]``):

============== =========================================================================
``tfidf``      label TF-IDF, the reference's baseline (:mod:`phago.query.tfidf`)
``bm25``       BM25 documents mapped to their concepts (:mod:`phago.query.bm25`)
``graph``      best-first walk over Hebbian edges (:mod:`phago.query.graph_walk`)
``hybrid``     the reference's TF-IDF + graph re-ranking (:mod:`phago.query.hybrid`)
``activation`` spreading activation over Hebbian edges (:mod:`phago.query.activation`)
``fusion``     query concepts + document evidence + activation (:mod:`phago.query.fusion`)
============== =========================================================================

``"best"`` names the method measured best (:data:`BEST_METHOD`): on the tuning query set
``fusion`` had the highest NDCG@10 and R@10 and an MRR of 1.0; BENCHMARKS.md reports every
method on held-out sets, where fusion is also best.

Example:
    >>> from phago.query.base import example_source
    >>> [r.label for r in retrieve(example_source(), "dna", k=2)]
    ['dna', 'gene']
    >>> resolve_method("best")
    'fusion'
"""

from __future__ import annotations

from collections.abc import Callable

from phago.config import whole_number
from phago.errors import ConfigError
from phago.query.activation import activation
from phago.query.base import GraphSource, RetrievedConcept
from phago.query.bm25 import bm25
from phago.query.fusion import fusion
from phago.query.graph_walk import graph_walk
from phago.query.hybrid import hybrid
from phago.query.tfidf import tfidf

__all__ = ["BEST_METHOD", "METHODS", "Method", "resolve_method", "retrieve"]


def _hybrid(
    source: GraphSource, text: str, k: int = 10, *, reinforce: bool = False
) -> list[RetrievedConcept]:
    return hybrid(source, text, k, reinforce=reinforce)


Method = Callable[..., list[RetrievedConcept]]

METHODS: dict[str, Method] = {
    "tfidf": tfidf,
    "bm25": bm25,
    "graph": graph_walk,
    "hybrid": _hybrid,
    "activation": activation,
    "fusion": fusion,
}
"""Every retrieval method by name, in report order."""

BEST_METHOD = "fusion"
"""The method ``"best"`` stands for (measured best on the tuning query set)."""


def resolve_method(method: str) -> str:
    """The method name ``method`` stands for (``"best"`` → :data:`BEST_METHOD`).

    Raises:
        ConfigError: an unknown method name, or one that is not text.

    Example:
        >>> resolve_method("tfidf")
        'tfidf'
    """
    if not isinstance(method, str):
        raise ConfigError(f"a retrieval method is a name, got {type(method).__name__}")
    name = BEST_METHOD if method == "best" else method
    if name not in METHODS:
        known = ", ".join(["best", *METHODS])
        raise ConfigError(f"unknown retrieval method {method!r}; choose one of {known}")
    return name


def retrieve(
    source: GraphSource,
    text: str,
    k: int = 10,
    method: str = "best",
    *,
    reinforce: bool = False,
) -> list[RetrievedConcept]:
    """The top ``k`` concepts for ``text`` by ``method``.

    Args:
        source: a colony, a distributed colony (its merged graph) or any
            :class:`~phago.query.base.GraphSource`.
        text: the query.
        k: how many results at most.
        method: a name of :data:`METHODS` or ``"best"``.
        reinforce: reinforce edges between the query's concepts and the results
            (off by default; see :mod:`phago.query.reinforce`).

    Returns:
        The retrieved concepts, best first.

    Raises:
        ConfigError: an unknown method name, or a ``k`` that is not a whole number >= 0.
        InvalidQuery: ``text`` is not text.

    Example:
        >>> from phago.query.base import example_source
        >>> [r.label for r in retrieve(example_source(), "qubit", k=1, method="tfidf")]
        ['qubit']
    """
    k = whole_number(k, "k", 0)
    if not hasattr(source, "graph"):  # (a store's path, None, ...)
        raise ConfigError(
            f"retrieve() takes a colony, a distributed colony or a graph source, got "
            f"{type(source).__name__} (a store: phago.store.load it first)"
        )
    return METHODS[resolve_method(method)](source, text, k, reinforce=reinforce)
