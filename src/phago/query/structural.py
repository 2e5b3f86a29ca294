"""Structural queries over the knowledge graph (REFERENCE.md §3.4–3.8, defects fixed).

* :func:`shortest_path`: Dijkstra with edge cost ``1 / max(weight, 0.001)`` (strong edges
  are short), via ``scipy.sparse.csgraph``. Among equally short paths the one returned is
  canonical (built backwards from the target, always stepping to the smallest node id), so
  it does not depend on node insertion order.
* :func:`betweenness_centrality`: the reference's sampled approximation: ``samples`` ordered
  node pairs drawn with the reference's LCG (seeded), each pair's shortest path credits its
  interior nodes; scores are divided by the number of pairs. Nodes are drawn from the list
  sorted by node id, so a merged distributed graph gives the same scores.
* :func:`bridge_nodes`: nodes whose removal splits their component, scored by the extra
  components per edge (``delta / degree``). The reference re-ran a BFS per node
  (O(n·(n+m)), REFERENCE.md §8 item 13); here one depth-first pass finds every articulation
  point and how many pieces its removal leaves (O(n + m)).
* :func:`connected_components`: components (isolated nodes included), largest first.
* :func:`communities`: Louvain (``networkx.community.louvain_communities``, seeded) on the
  weighted graph, with the true modularity (the reference's aggregation double-counted
  internal edges and reported 0.423 instead of 0.357 for two triangles joined by an edge,
  REFERENCE.md §8 item 15).

Every function takes a :class:`~phago.query.base.GraphSource`, so a distributed colony
(whose ``graph`` is the merged global graph) works unchanged. Results name nodes by label
and node id, in a deterministic order.

Example:
    >>> from phago.query.base import example_source
    >>> src = example_source()
    >>> shortest_path(src, "gene", "membrane").labels
    ('gene', 'protein', 'membrane')
    >>> connected_components(src).sizes
    [6, 3]
    >>> [b.label for b in bridge_nodes(src)]
    ['protein']
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
from scipy.sparse import csgraph  # type: ignore[import-untyped]

from phago.config import real_number, whole_number
from phago.errors import InvalidQuery
from phago.ids import NodeId
from phago.query.base import GraphSource
from phago.query.index import Adjacency, query_index

if TYPE_CHECKING:
    from numba import njit
else:  # Numba is imported on the kernel's first call, which compiles alone (see phago._jit)
    from phago._jit import njit

__all__ = [
    "Communities",
    "Components",
    "NodeScore",
    "PathResult",
    "betweenness_centrality",
    "bridge_nodes",
    "communities",
    "connected_components",
    "shortest_path",
]

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]

_MIN_WEIGHT = 0.001
_REL_TOL = 1e-9
_LCG_MUL = 6364136223846793005
_MASK64 = (1 << 64) - 1


@dataclass(frozen=True, slots=True)
class PathResult:
    """A path between two nodes: labels and ids from start to end, and its total cost."""

    labels: tuple[str, ...]
    node_ids: tuple[NodeId, ...]
    cost: float


@dataclass(frozen=True, slots=True)
class NodeScore:
    """A node and a score (centrality, fragility)."""

    label: str
    node_id: NodeId
    score: float


@dataclass(frozen=True, slots=True)
class Components:
    """Connected components: labels per component (sorted), largest component first."""

    count: int
    sizes: list[int]
    components: list[tuple[str, ...]]


@dataclass(frozen=True, slots=True)
class Communities:
    """Louvain communities (labels, sorted; largest first) and their modularity."""

    communities: list[tuple[str, ...]]
    modularity: float
    method: str = "louvain"


def _resolve(source: GraphSource, node: str | int) -> int | None:
    g = source.graph
    if isinstance(node, bool) or not isinstance(node, str | int | np.integer):
        raise InvalidQuery(f"a node is a label (text) or a node id (a whole number), got {node!r}")
    if isinstance(node, np.integer):
        node = int(node)
    if isinstance(node, str):
        nid = g.find_by_label(node)
        if nid is None:
            found = g.find_nodes_by_exact_label(node)
            if not found:
                return None
            nid = found[0]
        return g.index_of(nid)
    return g.index_of(NodeId(node)) if node in g else None


def _cost_matrix(adj: Adjacency) -> object:
    import scipy.sparse as sp  # type: ignore[import-untyped]

    cost = 1.0 / np.maximum(adj.weight, _MIN_WEIGHT)
    return sp.csr_matrix((cost, adj.nbr, adj.indptr), shape=(adj.n, adj.n))


def _walk_back(
    source: GraphSource, adj: Adjacency, dist: FloatArray, start: int, end: int
) -> list[int]:
    """The canonical shortest path start..end given distances from ``start``."""
    g = source.graph
    path = [end]
    v = end
    while v != start:
        nbrs, ws, _ = adj.row(v)
        cost = 1.0 / np.maximum(ws, _MIN_WEIGHT)
        tol = _REL_TOL * max(1.0, float(dist[v]))
        ok = np.abs(dist[nbrs] + cost - dist[v]) <= tol
        cands = nbrs[ok & (dist[nbrs] < dist[v])]
        if len(cands) == 0:  # pragma: no cover - distances come from Dijkstra
            raise RuntimeError("inconsistent shortest-path distances")
        v = min(cands.tolist(), key=g.id_at)
        path.append(v)
    path.reverse()
    return path


def shortest_path(source: GraphSource, a: str | int, b: str | int) -> PathResult | None:
    """The cheapest path between two nodes, edge cost ``1 / max(weight, 0.001)``.

    Args:
        source: the graph source.
        a: start node: a label (concept first, then any type) or a node id.
        b: end node, likewise.

    Returns:
        The path (``a == b`` gives a one-node path of cost 0), or None if either node is
        missing or ``b`` is unreachable.

    Raises:
        InvalidQuery: ``a`` or ``b`` is neither text nor a whole number.

    Example:
        >>> from phago.query.base import example_source
        >>> p = shortest_path(example_source(), "cell", "dna")
        >>> p.labels, round(p.cost, 3)
        (('cell', 'protein', 'dna'), 15.0)
        >>> shortest_path(example_source(), "cell", "qubit") is None
        True
    """
    ia, ib = _resolve(source, a), _resolve(source, b)
    if ia is None or ib is None:
        return None
    g = source.graph
    if ia == ib:
        return PathResult((g.label_at(ia),), (g.id_at(ia),), 0.0)
    adj = query_index(source).adjacency()
    dist = np.asarray(csgraph.dijkstra(_cost_matrix(adj), directed=True, indices=ia))
    if not np.isfinite(dist[ib]):
        return None
    path = _walk_back(source, adj, dist, ia, ib)
    return PathResult(
        tuple(g.label_at(i) for i in path), tuple(g.id_at(i) for i in path), float(dist[ib])
    )


def _sorted_by_id(source: GraphSource) -> IntArray:
    g = source.graph
    n = g.node_count
    ids = np.fromiter((g.id_at(i) for i in range(n)), dtype=np.uint64, count=n)
    return np.argsort(ids, kind="stable").astype(np.int64)


def betweenness_centrality(
    source: GraphSource, samples: int = 100, seed: int = 42, top_k: int | None = None
) -> list[NodeScore]:
    """Approximate betweenness: the share of sampled shortest paths through each node.

    ``min(samples, n(n-1)/2)`` ordered pairs ``(i, j)``, ``i != j``, are drawn with the
    reference's LCG from ``seed`` over the nodes sorted by id; every interior node of each
    reachable pair's canonical shortest path gets +1; scores are divided by the number of
    pairs drawn.

    Args:
        source: the graph source.
        samples: pairs to draw.
        seed: LCG seed (the reference used 42).
        top_k: keep only the best ``top_k`` (None: every node, zeros included).

    Returns:
        Nodes by score descending (then label, then id).

    Raises:
        ConfigError: ``samples``, ``seed`` or ``top_k`` is not a whole number >= 0.

    Example:
        >>> from phago.query.base import example_source
        >>> top = betweenness_centrality(example_source(), samples=50, top_k=1)[0]
        >>> top.label, top.score > 0
        ('protein', True)
    """
    samples = whole_number(samples, "samples", 0)
    seed = whole_number(seed, "seed", 0)
    if top_k is not None:
        top_k = whole_number(top_k, "top_k", 0)
    g = source.graph
    n = g.node_count
    if n < 2:
        return []
    order = _sorted_by_id(source)
    wanted = min(samples, n * (n - 1) // 2)
    s = int(seed) & _MASK64
    pairs: list[tuple[int, int]] = []
    while len(pairs) < wanted:
        s = (s * _LCG_MUL + 1) & _MASK64
        i = (s >> 33) % n
        s = (s * _LCG_MUL + 1) & _MASK64
        j = (s >> 33) % n
        if i != j:
            pairs.append((int(order[i]), int(order[j])))
    counts = np.zeros(n, dtype=np.float64)
    if pairs:
        adj = query_index(source).adjacency()
        cost = _cost_matrix(adj)
        by_src: dict[int, list[int]] = {}
        for a, b in pairs:
            by_src.setdefault(a, []).append(b)
        srcs = sorted(by_src)
        for lo in range(0, len(srcs), 32):
            batch = srcs[lo : lo + 32]
            dists = np.atleast_2d(csgraph.dijkstra(cost, directed=True, indices=batch))
            for row, a in enumerate(batch):
                dist = dists[row]
                for b in by_src[a]:
                    if np.isfinite(dist[b]):
                        for v in _walk_back(source, adj, dist, a, b)[1:-1]:
                            counts[v] += 1.0
        counts /= len(pairs)
    idx = list(range(n)) if top_k is None else np.flatnonzero(counts > 0).tolist()
    ranked = sorted(idx, key=lambda i: (-counts[i], g.label_at(i), g.id_at(i)))
    if top_k is not None:
        ranked = ranked[:top_k]
    return [NodeScore(g.label_at(i), g.id_at(i), float(counts[i])) for i in ranked]


@njit(cache=True)
def _articulation_deltas(  # pragma: no cover - compiled
    indptr: np.ndarray, nbr: np.ndarray, n: int
) -> np.ndarray:
    """Per node: extra connected components left when it is removed (iterative Tarjan)."""
    disc = np.full(n, -1, dtype=np.int64)
    low = np.zeros(n, dtype=np.int64)
    parent = np.full(n, -1, dtype=np.int64)
    nxt = np.zeros(n, dtype=np.int64)
    delta = np.zeros(n, dtype=np.int64)
    stack = np.zeros(n, dtype=np.int64)
    t = 0
    for root in range(n):
        if disc[root] != -1 or indptr[root + 1] == indptr[root]:
            continue
        top = 0
        stack[0] = root
        disc[root] = t
        low[root] = t
        t += 1
        nxt[root] = indptr[root]
        children = 0
        while top >= 0:
            v = stack[top]
            if nxt[v] < indptr[v + 1]:
                u = nbr[nxt[v]]
                nxt[v] += 1
                if disc[u] == -1:
                    parent[u] = v
                    disc[u] = t
                    low[u] = t
                    t += 1
                    nxt[u] = indptr[u]
                    top += 1
                    stack[top] = u
                    if v == root:
                        children += 1
                elif u != parent[v] and disc[u] < low[v]:
                    low[v] = disc[u]
            else:
                top -= 1
                p = parent[v]
                if p != -1:
                    if low[v] < low[p]:
                        low[p] = low[v]
                    if p != root and low[v] >= disc[p]:
                        delta[p] += 1
        delta[root] = children - 1
    return delta


def bridge_nodes(source: GraphSource, k: int = 10) -> list[NodeScore]:
    """Nodes whose removal disconnects their component, by extra components per edge.

    ``score = (components after removing v - components before) / degree(v)``; only
    positive scores are kept (leaves and nodes inside cycles score 0).

    Args:
        source: the graph source.
        k: how many to return.

    Returns:
        The top ``k`` by score, then label, then id.

    Raises:
        ConfigError: ``k`` is not a whole number >= 0.

    Example:
        >>> from phago.query.base import example_source
        >>> b = bridge_nodes(example_source())[0]
        >>> b.label, round(b.score, 3)
        ('protein', 0.2)
    """
    k = whole_number(k, "k", 0)
    g = source.graph
    if k == 0 or g.node_count == 0:
        return []
    adj = query_index(source).adjacency()
    delta = _articulation_deltas(adj.indptr, adj.nbr, adj.n)
    idx = np.flatnonzero(delta > 0)
    score = delta[idx] / adj.degree[idx]
    ranked = sorted(
        zip(idx.tolist(), score.tolist(), strict=True),
        key=lambda p: (-round(p[1], 12), g.label_at(p[0]), g.id_at(p[0])),
    )[:k]
    return [NodeScore(g.label_at(i), g.id_at(i), s) for i, s in ranked]


def _group(
    source: GraphSource, labels_of: IntArray, members: Sequence[int] | None = None
) -> list[tuple[str, ...]]:
    g = source.graph
    groups: dict[int, list[str]] = {}
    nodes = range(len(labels_of)) if members is None else members
    for i in nodes:
        groups.setdefault(int(labels_of[i]), []).append(g.label_at(i))
    comps = [tuple(sorted(v)) for v in groups.values()]
    comps.sort(key=lambda c: (-len(c), c))
    return comps


def connected_components(source: GraphSource) -> Components:
    """The graph's connected components (isolated nodes are components of their own).

    Example:
        >>> from phago.query.base import example_source
        >>> c = connected_components(example_source())
        >>> c.count, c.components[1]
        (2, ('entanglement', 'qubit', 'spin'))
    """
    g = source.graph
    if g.node_count == 0:
        return Components(0, [], [])
    adj = query_index(source).adjacency()
    count, labels = csgraph.connected_components(adj.matrix(), directed=False)
    comps = _group(source, np.asarray(labels, dtype=np.int64))
    return Components(int(count), [len(c) for c in comps], comps)


def communities(
    source: GraphSource,
    *,
    resolution: float = 1.0,
    seed: int = 0,
    include_isolated: bool = False,
) -> Communities:
    """Louvain communities of the weighted graph and their (true) modularity.

    The networkx graph is built in node-id order with edges in id order, so the seeded
    result does not depend on insertion order (local and distributed agree).

    Args:
        source: the graph source.
        resolution: Louvain resolution (1.0 is standard modularity).
        seed: seed of Louvain's node order.
        include_isolated: also list isolated nodes (each its own community; they do not
            change the modularity).

    Returns:
        Communities (sorted labels, largest first) and the modularity of the partition.

    Raises:
        ConfigError: ``resolution`` is not a finite number > 0, or ``seed`` not a whole
            number >= 0.

    Example:
        >>> from phago.query.base import example_source
        >>> c = communities(example_source())
        >>> len(c.communities), round(c.modularity, 3)
        (3, 0.364)
    """
    import networkx as nx

    resolution = real_number(resolution, "resolution", 0, low_open=True)
    seed = whole_number(seed, "seed", 0)
    g = source.graph
    adj = query_index(source).adjacency()
    order = _sorted_by_id(source)
    keep = order if include_isolated else order[adj.degree[order] > 0]
    # nodes named by their rank in id order, not by index: sets of them then iterate in
    # the same order on every backend, and so do the modularity's sums (to the last bit)
    rank = np.empty(g.node_count, dtype=np.int64)
    rank[order] = np.arange(g.node_count)
    G = nx.Graph()
    G.add_nodes_from(rank[keep].tolist())
    src = np.repeat(np.arange(adj.n, dtype=np.int64), adj.degree)
    half = rank[src] < rank[adj.nbr]
    rs, rd, ew = rank[src[half]], rank[adj.nbr[half]], adj.weight[half]
    eorder = np.lexsort((rd, rs))
    G.add_weighted_edges_from(
        zip(rs[eorder].tolist(), rd[eorder].tolist(), ew[eorder].tolist(), strict=True)
    )
    if G.number_of_nodes() == 0:
        return Communities([], 0.0)
    parts = nx.community.louvain_communities(G, weight="weight", resolution=resolution, seed=seed)
    q = 0.0
    if G.number_of_edges():
        q = nx.community.modularity(G, parts, weight="weight", resolution=resolution)
    label_of = np.zeros(g.node_count, dtype=np.int64)
    for c, members in enumerate(parts):
        label_of[order[np.fromiter(members, dtype=np.int64, count=len(members))]] = c
    comps = _group(source, label_of, keep.tolist())
    return Communities(comps, float(q))
