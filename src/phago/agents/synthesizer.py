"""The Synthesizer: quorum sensing, then topic clusters and bridge concepts as Insight nodes.

The reference's synthesizer (REFERENCE.md §5.3) re-reports every cluster each cycle (its
de-dup compares against a label it never stores), tests bridges by substring, discards the
related concepts it computes, and reaches quorum permanently once the graph has 30 nodes
(§8 item 4). This one:

* **Quorum sensing** with the reference's constants (threshold 3.0, 0.3 per signal, 0.1 per
  node, radius 50, cooldown 10), counting only what is *new since its last analysis*: signals
  emitted since then by other agents within ``sense_radius``, and concept nodes created since
  then within ``sense_radius``. A quiet colony stops triggering analyses; an active one
  triggers them at most once per cooldown.
* **Topic clusters**: communities (Louvain, seeded once from the agent's generator, so they
  move only when the graph does) of the strong concept graph, i.e. concept edges of weight at
  least ``cluster_min_weight`` (0.15, the reference's; at most the ``max_edges`` strongest).
  Each community of at least ``cluster_min_size`` concepts (3) is a cluster, scored
  ``size × mean internal weight`` and labelled ``cluster: <hub>`` after its concept with the
  strongest internal ties. A cluster found again (member overlap, Jaccard, at least
  ``match_threshold``) keeps its label; it is reported again only when its members changed
  (overlap with the last reported members below ``change_threshold``).
* **Bridge concepts**: a concept presented at least ``bridge_min_access`` times (2, the
  reference's; counted globally through the provider) with at least ``bridge_min_links`` strong
  edges into each of two or more clusters, the weaker side holding at least ``bridge_min_share``
  of its cross-cluster weight. Labelled ``bridge: <concept>``, scored by the weight it holds
  outside its main cluster, reported once, and again only when its strong neighbourhood
  changed (overlap with the last reported one below ``change_threshold``).
* **Related concepts kept as edges**: each insight's related concepts (a cluster's strongest
  members; a bridge's strongest neighbours in each cluster it bridges) are wired to the insight
  node with :class:`~phago.types.WireNodes` the tick after it is presented (its id is
  ``node_id("insight", label)``), and re-wired at later analyses when decay has weakened them.
  Under the colony's degree cap a new insight edge to a concept at the cap evicts that
  concept's weakest edge. With ``protect_weight`` set (e.g. the cluster edge weight 0.15) an
  insight edge is only added when that weakest edge is weaker, so insight edges never erase
  the strong structure they describe; a concept whose every edge is strong is then linked at a
  later analysis, once room appears. The default (None) links at once.
* At most ``max_insights`` insights are presented per analysis, most significant first; if
  some were left over, it analyses again after its cooldown without waiting for quorum.

State machine: ``DORMANT`` (quorum reached → ``Emit`` Quorum) → ``ANALYZING`` (new or changed
insights → ``PresentFragments`` → ``WIRING`` (``WireNodes``) → ``SIGNALLING`` (``Emit``
Insight); otherwise ``WireNodes`` for missing or weakened insight edges, or ``Idle``) →
``COOLDOWN`` (``cooldown`` idle ticks, not counted as idleness) → ``DORMANT``. Idle ticks
count while dormant without quorum; at ``max_idle`` (100) it dies.

**Distributed colonies.** Access counts are read through a
:class:`~phago.agents.distribution.DistributionProvider` (the local graph by default; on a
sharded colony an :class:`~phago.agents.distribution.AggregatedDistribution` fed by the
coordinator), so the bridge access test uses global counts. Clusters and bridges are computed
on the shard's own graph, and insight nodes live on the synthesizer's shard.

Example:
    >>> from phago import Colony, Digester, Position
    >>> from phago.agents.synthesizer import Synthesizer
    >>> colony = Colony(seed=2)
    >>> texts = ["star planet orbit moon", "star planet orbit comet", "star planet orbit sun"]
    >>> for i, text in enumerate(texts):
    ...     _ = colony.ingest_document(f"d{i}", text, Position(i, 0))
    >>> _ = colony.spawn(Digester(Position(0, 0)))
    >>> syn = Synthesizer(Position(1, 1), quorum_threshold=0.5)
    >>> _ = colony.spawn(syn)
    >>> _ = colony.run(30)
    >>> [i.label for i in syn.insights.values()]
    ['cluster: star']
    >>> sorted(syn.insights["cluster: star"].related)
    ['orbit', 'planet', 'star']
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import numpy as np

from phago.agents.base import Agent, ColonyView
from phago.agents.distribution import (
    CONCEPT_CODE,
    DistributionProvider,
    GraphDistribution,
    LocalDistribution,
    link_plan,
)
from phago.config import real_number, whole_number
from phago.graph import HebbianGraph
from phago.ids import NodeId, node_id
from phago.types import (
    AgentAction,
    Apoptose,
    CellHealth,
    Emit,
    FragmentPresentation,
    Idle,
    NodeType,
    Position,
    PresentFragments,
    Signal,
    SignalType,
    WireNodes,
)

__all__ = ["Insight", "Synthesizer", "SynthesizerState"]


class SynthesizerState(StrEnum):
    """States of the synthesizer's state machine."""

    DORMANT = "dormant"
    ANALYZING = "analyzing"
    WIRING = "wiring"
    SIGNALLING = "signalling"
    COOLDOWN = "cooldown"


@dataclass(slots=True)
class Insight:
    """One insight subject (a cluster or a bridge).

    Attributes:
        kind: ``"cluster"`` or ``"bridge"``.
        label: the insight node's (stable) label.
        score: significance at the last analysis that found it.
        related: concept labels wired to the insight node.
        members: a cluster's member labels; a bridge's strong neighbours (with itself).
        first_tick: tick it was first found.
        last_tick: tick it was last found.
        reports: how many times it was presented (1, plus one per change).
        active: whether the last analysis found it.
        clusters: for a bridge, the labels of the clusters it bridges, strongest tie first.
    """

    kind: str
    label: str
    score: float
    related: tuple[str, ...]
    members: frozenset[str]
    first_tick: int
    last_tick: int
    reports: int = 0
    active: bool = True
    clusters: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form."""
        return {
            "kind": self.kind,
            "label": self.label,
            "clusters": list(self.clusters),
            "score": self.score,
            "related": list(self.related),
            "members": sorted(self.members),
            "first_tick": self.first_tick,
            "last_tick": self.last_tick,
            "reports": self.reports,
            "active": self.active,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Insight:
        """Inverse of :meth:`to_dict`."""
        return cls(
            str(d["kind"]),
            str(d["label"]),
            float(d["score"]),
            tuple(str(x) for x in d["related"]),
            frozenset(str(x) for x in d["members"]),
            int(d["first_tick"]),
            int(d["last_tick"]),
            int(d["reports"]),
            bool(d["active"]),
            tuple(str(x) for x in d["clusters"]),
        )


def _jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)


# (score, kind, label, related, members, bridged clusters)
_Found = tuple[float, str, str, tuple[str, ...], frozenset[str], tuple[str, ...]]


@dataclass(slots=True)
class _Cluster:
    label: str
    members: list[int]  # node indices, strongest internal ties first
    score: float


class Synthesizer(Agent):
    """A stationary agent that turns the graph's structure into Insight nodes.

    Args:
        position: where it stands (it never moves).
        seed: seed of its random generator (a whole number >= 0; None: derived from the
            colony's seed).
        max_idle: dormant ticks without quorum before it dies (reference: 100; >= 1).
        quorum_threshold: density that triggers an analysis (reference: 3.0; >= 0).
        signal_weight: density per new signal nearby (reference: 0.3; >= 0).
        node_weight: density per new concept nearby (reference: 0.1; >= 0).
        sense_radius: radius of quorum sensing (reference: 50; >= 0).
        cooldown: idle ticks after reporting (reference: 10; >= 0).
        cluster_min_size: smallest reported cluster (reference: 3; >= 2).
        cluster_min_weight: edges at least this strong form clusters (reference: 0.15), in
            [0, 1].
        bridge_min_access: accesses a bridge concept needs (reference: 2; >= 0).
        bridge_min_links: strong edges a bridge needs into each cluster it bridges (>= 1).
        bridge_min_share: the weaker bridged side's least share of cross-cluster weight, in
            [0, 1].
        match_threshold: member overlap (Jaccard) at which a cluster is the same as a reported
            one, in [0, 1].
        change_threshold: member overlap below which a reported cluster has changed, in
            [0, 1].
        max_insights: insights presented per analysis at most (reference: 10; >= 1).
        related_limit: related concepts wired to each insight node (>= 0).
        insight_edge_weight: weight of insight-to-concept edges, in (0, 1].
        max_edges: at most this many of the strongest edges enter the community search, which
            bounds an analysis's cost on large graphs (>= 1).
        protect_weight: concept edges at least this strong are never evicted (by the degree
            cap) to make room for insight edges, in [0, 1]; None: no protection.
        provider: where access counts are read (None: the local graph).

    Counts are whole numbers (an int, a NumPy integer or a whole float); the other numbers
    are finite.

    Raises:
        ConfigError: a setting out of its range (the message names it and the value).
        InvalidPosition: ``position`` is not a pair of finite numbers.
    """

    agent_type = "synthesizer"

    _PARAMS = (
        "quorum_threshold",
        "signal_weight",
        "node_weight",
        "sense_radius",
        "cooldown",
        "cluster_min_size",
        "cluster_min_weight",
        "bridge_min_access",
        "bridge_min_links",
        "bridge_min_share",
        "match_threshold",
        "change_threshold",
        "max_insights",
        "related_limit",
        "insight_edge_weight",
        "max_edges",
    )
    _OPTIONAL = ("protect_weight",)

    def __init__(
        self,
        position: Position | tuple[float, float],
        *,
        seed: int | None = None,
        max_idle: int = 100,
        quorum_threshold: float = 3.0,
        signal_weight: float = 0.3,
        node_weight: float = 0.1,
        sense_radius: float = 50.0,
        cooldown: int = 10,
        cluster_min_size: int = 3,
        cluster_min_weight: float = 0.15,
        bridge_min_access: int = 2,
        bridge_min_links: int = 2,
        bridge_min_share: float = 0.2,
        match_threshold: float = 0.3,
        change_threshold: float = 0.7,
        max_insights: int = 10,
        related_limit: int = 8,
        insight_edge_weight: float = 0.5,
        max_edges: int = 20_000,
        protect_weight: float | None = None,
        provider: DistributionProvider | None = None,
    ) -> None:
        super().__init__(
            position,
            seed=seed,
            max_idle=max_idle,
        )
        self.quorum_threshold = real_number(quorum_threshold, "quorum_threshold", 0.0)
        self.signal_weight = real_number(signal_weight, "signal_weight", 0.0)
        self.node_weight = real_number(node_weight, "node_weight", 0.0)
        self.sense_radius = real_number(sense_radius, "sense_radius", 0.0)
        self.cooldown = whole_number(cooldown, "cooldown", 0)
        self.cluster_min_size = whole_number(cluster_min_size, "cluster_min_size", 2)
        self.cluster_min_weight = real_number(cluster_min_weight, "cluster_min_weight", 0.0, 1.0)
        self.bridge_min_access = whole_number(bridge_min_access, "bridge_min_access", 0)
        self.bridge_min_links = whole_number(bridge_min_links, "bridge_min_links", 1)
        self.bridge_min_share = real_number(bridge_min_share, "bridge_min_share", 0.0, 1.0)
        self.match_threshold = real_number(match_threshold, "match_threshold", 0.0, 1.0)
        self.change_threshold = real_number(change_threshold, "change_threshold", 0.0, 1.0)
        self.max_insights = whole_number(max_insights, "max_insights", 1)
        self.related_limit = whole_number(related_limit, "related_limit", 0)
        self.insight_edge_weight = real_number(
            insight_edge_weight, "insight_edge_weight", 0.0, 1.0, low_open=True
        )
        self.max_edges = whole_number(max_edges, "max_edges", 1)
        self.protect_weight = (
            None
            if protect_weight is None
            else real_number(protect_weight, "protect_weight", 0.0, 1.0)
        )
        self.provider: DistributionProvider = provider or LocalDistribution()
        self.state = SynthesizerState.DORMANT
        self.cooldown_left = 0
        self.last_analysis_tick = -1
        self.nodes_seen = 0
        self.analyses = 0
        self.insights: dict[str, Insight] = {}
        self.insights_produced = 0
        self.pending: list[str] = []  # insight labels awaiting wiring
        self.backlog = False  # insights left unreported by the last analysis
        self.louvain_seed: int | None = None  # drawn once, so communities only move with the graph

    # ------------------------------------------------------------------ decision

    def sense(self, view: ColonyView) -> AgentAction:
        """One step of the state machine (see the module docstring)."""
        self.age += 1
        if self.health() is CellHealth.SENESCENT:
            return Apoptose()
        tick = view.tick
        graph = view.graph
        state = self.state
        if state is SynthesizerState.DORMANT:
            if self.backlog or self.density(view) >= self.quorum_threshold:
                self.idle = 0
                self.state = SynthesizerState.ANALYZING
                return Emit(Signal(SignalType.QUORUM, 1.0, self.position, self.id, tick))
            self.idle += 1
            return Idle()
        if state is SynthesizerState.ANALYZING:
            fresh = self.analyze(graph, self.provider.distribution(graph, tick), tick)
            self.last_analysis_tick = tick
            self.nodes_seen = graph.node_count
            if fresh:
                self.insights_produced += len(fresh)
                self.useful_outputs += 1
                self.pending = [i.label for i in fresh]
                self.state = SynthesizerState.WIRING
                frags = tuple(
                    FragmentPresentation(i.label, None, self.position, NodeType.INSIGHT)
                    for i in fresh
                )
                return PresentFragments(frags)
            pairs = self._wiring_pairs(graph, view.config.max_edge_degree)
            self._enter_cooldown()
            return WireNodes(pairs) if pairs else Idle()
        if state is SynthesizerState.WIRING:
            self.state = SynthesizerState.SIGNALLING
            pairs = self._wiring_pairs(graph, view.config.max_edge_degree)
            self.pending = []
            if pairs:
                return WireNodes(pairs)
            state = SynthesizerState.SIGNALLING
        if state is SynthesizerState.SIGNALLING:
            self._enter_cooldown()
            return Emit(Signal(SignalType.INSIGHT, 1.0, self.position, self.id, tick))
        # COOLDOWN
        if self.cooldown_left <= 0:
            self.state = SynthesizerState.DORMANT
        else:
            self.cooldown_left -= 1
        return Idle()

    def _enter_cooldown(self) -> None:
        self.state = SynthesizerState.COOLDOWN
        self.cooldown_left = self.cooldown

    def density(self, view: ColonyView) -> float:
        """Quorum density: new signals (from others) and new concept nodes within range."""
        pos, radius = self.position, self.sense_radius
        graph = view.graph
        near = graph.indices_near(pos, radius, since=self.nodes_seen)
        codes = graph.type_codes()
        n_nodes = sum(1 for i in near if codes[i] == CONCEPT_CODE)
        since = self.last_analysis_tick
        signals = view.signals_near(pos, radius)
        n_signals = sum(1 for s in signals if s.tick >= since and s.emitter != self.id)
        return self.signal_weight * n_signals + self.node_weight * n_nodes

    def _wiring_pairs(
        self, graph: HebbianGraph, max_degree: int | None
    ) -> tuple[tuple[NodeId, NodeId, float], ...]:
        """Edges from insight nodes to their related concepts that are missing or weakened:
        the pending insights, and every active insight whose edges decayed below half.

        A new edge never evicts a strong concept edge under the degree cap (see
        :func:`~phago.agents.distribution.room_to_wire`): the insight edges must not change
        the structure the insights describe.
        """
        w = self.insight_edge_weight
        out: list[tuple[NodeId, NodeId, float]] = []
        pending = set(self.pending)
        crowded: set[NodeId] = set()  # protected concepts at the cap: one new edge per batch
        for label, ins in self.insights.items():
            if not ins.active and label not in pending:
                continue
            iid = node_id(NodeType.INSIGHT.value, label)
            if iid not in graph:
                continue
            renew = w if label in pending else w / 2
            out.extend(
                link_plan(
                    graph, iid, ins.related, w, renew, max_degree, self.protect_weight, crowded
                )
            )
        return tuple(out)

    # ------------------------------------------------------------------ analysis

    def analyze(self, graph: HebbianGraph, dist: GraphDistribution, tick: int) -> list[Insight]:
        """Find clusters and bridges; update the registry.

        Returns:
            New or changed insights to present, at most ``max_insights``, most significant
            first. Insights not found any more become inactive.
        """
        self.analyses += 1
        self.backlog = False
        codes = graph.type_codes()
        concept = codes == CONCEPT_CODE
        a, b, w, _co, _ct, _lt = graph.edge_arrays()
        if len(a):
            keep = concept[a] & concept[b] & (w >= self.cluster_min_weight)
            a, b, w = a[keep], b[keep], w[keep]
            if len(w) > self.max_edges:  # bound the community search: strongest edges only
                top = np.sort(np.argsort(-w, kind="stable")[: self.max_edges])
                a, b, w = a[top], b[top], w[top]
        labels = graph.labels()
        clusters = self._clusters(a, b, w, labels)
        candidates: list[_Found] = []
        cluster_of: dict[int, str] = {}
        for c in clusters:
            for i in c.members:
                cluster_of[i] = c.label
            related = tuple(labels[i] for i in c.members[: self.related_limit])
            members = frozenset(labels[i] for i in c.members)
            candidates.append((c.score, "cluster", c.label, related, members, ()))
        candidates += self._bridges(graph, dist, a, b, w, labels, cluster_of)
        found = {c[2] for c in candidates}
        for label, old in self.insights.items():
            if label not in found:
                old.active = False
        fresh: list[Insight] = []
        candidates.sort(key=lambda c: (-c[0], c[2]))
        for score, kind, label, related, members, bridged in candidates:
            known = self.insights.get(label)
            if known is not None:
                known.score, known.last_tick, known.active = score, tick, True
                if _jaccard(known.members, members) >= self.change_threshold:
                    continue  # unchanged: nothing to report
            if len(fresh) >= self.max_insights:
                self.backlog = True  # analyse again after the cooldown, quorum or not
                continue
            ins = known or Insight(kind, label, score, related, members, tick, tick)
            self.insights[label] = ins
            ins.related, ins.members, ins.clusters = related, members, bridged
            ins.reports += 1
            fresh.append(ins)
        return fresh

    def _clusters(
        self,
        a: np.ndarray[Any, np.dtype[np.int64]],
        b: np.ndarray[Any, np.dtype[np.int64]],
        w: np.ndarray[Any, np.dtype[np.float64]],
        labels: list[str],
    ) -> list[_Cluster]:
        if len(a) == 0:
            return []
        import networkx as nx

        g = nx.Graph()
        g.add_weighted_edges_from(zip(a.tolist(), b.tolist(), w.tolist(), strict=True))
        if self.louvain_seed is None:
            self.louvain_seed = int(self.rng.integers(0, 2**31 - 1))
        communities = nx.community.louvain_communities(g, weight="weight", seed=self.louvain_seed)
        strength: dict[int, float] = {}
        comm_of: dict[int, int] = {}
        for k, com in enumerate(communities):
            for i in com:
                comm_of[int(i)] = k
        internal_w: dict[int, float] = {}
        internal_n: dict[int, int] = {}
        for x, y, ww in zip(a.tolist(), b.tolist(), w.tolist(), strict=True):
            if comm_of[x] == comm_of[y]:
                strength[x] = strength.get(x, 0.0) + ww
                strength[y] = strength.get(y, 0.0) + ww
                k = comm_of[x]
                internal_w[k] = internal_w.get(k, 0.0) + ww
                internal_n[k] = internal_n.get(k, 0) + 1
        detected: list[tuple[float, list[int]]] = []
        for k, com in enumerate(communities):
            if len(com) < self.cluster_min_size or not internal_n.get(k):
                continue
            members = sorted((int(i) for i in com), key=lambda i: (-strength.get(i, 0.0), i))
            score = len(members) * internal_w[k] / internal_n[k]
            detected.append((score, members))
        detected.sort(key=lambda t: (-t[0], t[1][0]))
        # match against reported clusters so labels stay stable
        reported = {lab: ins for lab, ins in self.insights.items() if ins.kind == "cluster"}
        names = [frozenset(labels[i] for i in members) for _score, members in detected]
        pairs = sorted(
            (
                (-_jaccard(ins.members, nm), k, lab)
                for k, nm in enumerate(names)
                for lab, ins in reported.items()
            ),
        )
        assigned: dict[int, str] = {}
        used: set[str] = set()
        for neg_j, k, lab in pairs:
            if -neg_j < self.match_threshold:
                break
            if k in assigned or lab in used:
                continue
            assigned[k] = lab
            used.add(lab)
        out: list[_Cluster] = []
        taken = used | set(self.insights)
        for k, (score, members) in enumerate(detected):
            label = assigned.get(k)
            if label is None:
                names_free = (f"cluster: {labels[i]}" for i in members)
                label = next((x for x in names_free if x not in taken), None)
                if label is None:
                    continue
                taken.add(label)
            out.append(_Cluster(label, members, float(score)))
        return out

    def _bridges(
        self,
        graph: HebbianGraph,
        dist: GraphDistribution,
        a: np.ndarray[Any, np.dtype[np.int64]],
        b: np.ndarray[Any, np.dtype[np.int64]],
        w: np.ndarray[Any, np.dtype[np.float64]],
        labels: list[str],
        cluster_of: dict[int, str],
    ) -> list[_Found]:
        if not cluster_of:
            return []
        # per concept: cluster -> (weight, links, [(weight, neighbour)])
        ties: dict[int, dict[str, list[Any]]] = {}
        for x, y, ww in zip(a.tolist(), b.tolist(), w.tolist(), strict=True):
            for u, v in ((x, y), (y, x)):
                c = cluster_of.get(v)
                if c is None:
                    continue
                slot = ties.setdefault(u, {}).setdefault(c, [0.0, 0, []])
                slot[0] += ww
                slot[1] += 1
                slot[2].append((ww, v))
        out: list[_Found] = []
        per_side = max(1, self.related_limit // 2)
        for u in sorted(ties):
            sides = [(c, t) for c, t in ties[u].items() if t[1] >= self.bridge_min_links]
            if len(sides) < 2:
                continue
            label = labels[u]
            if dist.count(label) < self.bridge_min_access:
                continue
            sides.sort(key=lambda ct: (-ct[1][0], ct[0]))
            total = sum(t[0] for _, t in sides)
            cross = total - sides[0][1][0]
            if sides[1][1][0] < self.bridge_min_share * total:
                continue
            bridged = tuple(c for c, t in sides if t[0] >= self.bridge_min_share * total)
            related: list[str] = [label]
            for _c, t in sides[: len(bridged)]:
                nbrs = sorted(t[2], key=lambda p: (-p[0], p[1]))[:per_side]
                related.extend(labels[v] for _w, v in nbrs)
            neighbours = frozenset([label] + [labels[v] for _c, t in sides for _w, v in t[2]])
            rel = tuple(related[: self.related_limit + 1])
            out.append((float(cross), "bridge", f"bridge: {label}", rel, neighbours, bridged))
        return out

    # ------------------------------------------------------------------ reports

    def top_insights(self, k: int | None = None, kind: str | None = None) -> list[Insight]:
        """Active insights, most significant first (ties: label)."""
        items = [i for i in self.insights.values() if i.active and (kind is None or i.kind == kind)]
        items.sort(key=lambda i: (-i.score, i.label))
        return items if k is None else items[:k]

    # ------------------------------------------------------------------ persistence

    def state_dict(self) -> dict[str, Any]:
        """Complete state, JSON-compatible except the generator state (a dict).

        The provider is not saved (see :class:`~phago.agents.sentinel.Sentinel`)."""
        d = super().state_dict()
        d.update({p: getattr(self, p) for p in self._PARAMS + self._OPTIONAL})
        d.update(
            state=self.state.value,
            cooldown_left=self.cooldown_left,
            last_analysis_tick=self.last_analysis_tick,
            nodes_seen=self.nodes_seen,
            analyses=self.analyses,
            insights=[i.to_dict() for i in self.insights.values()],
            insights_produced=self.insights_produced,
            pending=list(self.pending),
            backlog=self.backlog,
            louvain_seed=self.louvain_seed,
        )
        return d

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned."""
        super().load_state_dict(state)
        for p in self._PARAMS:
            setattr(self, p, type(getattr(self, p))(state[p]))
        pw = state["protect_weight"]
        self.protect_weight = None if pw is None else float(pw)
        self.state = SynthesizerState(state["state"])
        self.cooldown_left = int(state["cooldown_left"])
        self.last_analysis_tick = int(state["last_analysis_tick"])
        self.nodes_seen = int(state["nodes_seen"])
        self.analyses = int(state["analyses"])
        self.insights = {d["label"]: Insight.from_dict(d) for d in state["insights"]}
        self.insights_produced = int(state["insights_produced"])
        self.pending = [str(x) for x in state["pending"]]
        self.backlog = bool(state["backlog"])
        ls = state["louvain_seed"]
        self.louvain_seed = None if ls is None else int(ls)
