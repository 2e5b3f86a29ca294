"""A distributed colony's global graph as plain data, for tests that compare runs exactly.

(A module of its own, not a conftest: ``tests/query`` has a conftest too, and only one
module named ``conftest`` can be imported.)
"""

from __future__ import annotations

import hashlib
from typing import Any


def graph_signature(dc: Any) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """A distributed colony's global graph as plain data: every edge (its ends, weight,
    co-activations, creation and last activation) and every node (id, label, accesses),
    sorted, for comparing two runs exactly."""
    g = dc.graph
    edges = sorted(
        (min(a, b), max(a, b), e.weight, e.co_activations, e.created_tick, e.last_activated_tick)
        for a, b, e in g.edges()
    )
    return edges, sorted((n.id, n.label, n.access_count) for n in g.nodes())


def signature_digest(dc: Any) -> str:
    """:func:`graph_signature` as a short digest, for a driver process to print."""
    return hashlib.sha256(repr(graph_signature(dc)).encode()).hexdigest()
