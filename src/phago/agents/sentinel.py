"""The Sentinel: negative selection over the colony's graph, with a model that keeps learning.

The reference's sentinel (REFERENCE.md §5.2) freezes its self-model after ten ticks, embeds
changing numbers in its anomaly labels (a new node every scan) and keeps an arbitrary ten
anomalies per scan (§8 item 3). This one:

* **Learns continuously.** Its self-model is an exponential moving average (rate
  ``learning_rate`` per observation) of every concept's share of all concept accesses and of
  the mean and variance of concept-edge weights; labels that stop appearing fade out. It also
  keeps a sliding window of the ``reference_docs`` most recent normal documents. It observes
  every tick while maturing, then once per scan, *after* scanning, so what it flags is always
  judged against what it knew before.
* **Flags three kinds of non-self**, each with a significance:

  - *novel concept*: the concepts introduced by a document whose vocabulary the colony does not
    know. A new document's *coverage* is the share of its concepts that earlier documents
    already presented. The norm is measured afresh at each scan on the reference window:
    each recent document's leave-one-out coverage (the share of its concepts found in some
    other document), i.e. how familiar that document would look if it arrived now. So the
    norm rises as the colony learns, and a document is unfamiliar when its coverage is more
    than ``coverage_z`` deviations (floor ``coverage_std_floor``) below the norm and below
    ``coverage_threshold``. A new document of a known topic is covered by its topic's words
    and passes; a document from an unrelated topic is flagged, and so is a burst of them.
    The concepts the flagged documents introduced form one anomaly per connected group (of at
    least ``min_group_size``), named after its most accessed concept. Significance: concepts
    introduced × shortfall in deviations. Flagged documents never enter the reference window.
  - *deviating concept*: a known concept whose access count exceeds the expected
    ``share · total`` by more than ``deviation_threshold`` relatively *and* by ``deviation_z``
    Poisson standard deviations. Significance: the z-score.
  - *outlier edge*: a young edge (created within ``edge_horizon`` ticks) between two
    established concepts (known for ``edge_horizon`` ticks before the edge appeared, accessed
    at least ``min_count`` times) whose weight is more than ``edge_z`` learned standard
    deviations (floor ``edge_std_floor``) above the learned mean *and* at least ``edge_margin``
    above the strongest young edge it normally sees (a peak that fades by ``peak_decay`` per
    observation, learned over at least ``min_edge_observations`` observations before any edge
    is judged): a sudden strong association between established concepts. Strong edges that
    grew slowly, and the bursts of a corpus being digested, are normal. Significance: the
    z-score.

* **Stable labels, one node per subject.** ``anomaly: novel concept <label>``,
  ``anomaly: deviating concept <label>``, ``anomaly: edge <a> -- <b>`` (endpoints sorted). A
  subject is reported when it becomes anomalous and not again while it stays so; if it
  returns to normal and later deviates again, the same node is reinforced.
* **Ranked.** Each scan presents at most ``max_per_scan`` new anomalies, most significant
  first; :meth:`Sentinel.top_anomalies` lists every anomaly seen, by significance.
* **Keeps related concepts as edges.** The tick after presenting, it wires each anomaly node
  to its related concepts (a group's concepts, a deviating concept and its strongest
  neighbours, an edge's endpoints) with :class:`~phago.types.WireNodes`; then it emits an
  Anomaly signal (stamped with the substrate tick) and resumes scanning.

Idle time counts ticks in which the graph did not change at all, so a sentinel lives as long
as its colony is active and dies ``max_idle`` ticks after it falls still.

Novelty is judged per document, from the graph's provenance (the documents each concept was
presented from); concepts presented without a document are never called novel.

**Distributed colonies.** Distributions (concept shares, edge-weight moments) are read through a
:class:`~phago.agents.distribution.DistributionProvider`: the local graph by default, or a
:class:`~phago.agents.distribution.AggregatedDistribution` that the distributed runner feeds with
the coordinator's merge of every shard's distribution, so deviations and the edge-weight norm
are judged against the *global* colony. Structure (documents and their concepts, neighbourhoods,
outlier edges) is the shard's own graph, and anomaly nodes are created on the sentinel's shard.

State machine: ``MATURING`` (observe each tick until ``maturation`` observations and
``min_concepts`` concepts) → ``SCANNING`` (every ``scan_interval`` ticks: scan, then learn; new
anomalies → ``PresentFragments``) → ``WIRING`` (``WireNodes``) → ``ALERTING`` (``Emit``) →
``SCANNING``.

Example:
    >>> from phago import Colony, Digester, Position
    >>> from phago.agents.sentinel import Sentinel
    >>> colony = Colony(seed=3)
    >>> sky = ["star planet orbit", "planet orbit moon", "star moon orbit", "star planet moon"]
    >>> for i, text in enumerate(sky):
    ...     _ = colony.ingest_document(f"sky{i}", text + " telescope", Position(i, 0))
    >>> _ = colony.spawn(Digester(Position(0, 0)))
    >>> s = Sentinel(Position(5, 5), maturation=3, min_concepts=3, min_reference_docs=3)
    >>> _ = colony.spawn(s)
    >>> _ = colony.run(30)
    >>> s.state.value, s.top_anomalies()
    ('scanning', [])
    >>> _ = colony.ingest_document("bread", "flour yeast dough oven flour", Position(1, 1))
    >>> _ = colony.run(15)
    >>> [a.label for a in s.top_anomalies()]
    ['anomaly: novel concept flour']
"""

from __future__ import annotations

import json
import math
from collections import deque
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import numpy as np
import numpy.typing as npt

from phago._arrays import unique_sorted
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
    Classification,
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

__all__ = ["Anomaly", "Sentinel", "SentinelState"]

IntArray = npt.NDArray[np.int64]


class SentinelState(StrEnum):
    """States of the sentinel's state machine."""

    MATURING = "maturing"
    SCANNING = "scanning"
    WIRING = "wiring"
    ALERTING = "alerting"


@dataclass(slots=True)
class Anomaly:
    """One anomaly subject.

    Attributes:
        kind: ``"novel"``, ``"deviation"`` or ``"edge"``.
        label: the anomaly node's (stable) label.
        significance: how anomalous it was when last detected (higher: more).
        related: labels of the concepts it concerns (wired to the anomaly node).
        first_tick: tick it was first detected.
        last_tick: tick it was last detected.
        reports: how many times it was presented (1 unless it returned after being normal).
        active: whether it is anomalous at the latest scan.
    """

    kind: str
    label: str
    significance: float
    related: tuple[str, ...]
    first_tick: int
    last_tick: int
    reports: int = 0
    active: bool = True

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form."""
        return {
            "kind": self.kind,
            "label": self.label,
            "significance": self.significance,
            "related": list(self.related),
            "first_tick": self.first_tick,
            "last_tick": self.last_tick,
            "reports": self.reports,
            "active": self.active,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Anomaly:
        """Inverse of :meth:`to_dict`."""
        return cls(
            str(d["kind"]),
            str(d["label"]),
            float(d["significance"]),
            tuple(str(x) for x in d["related"]),
            int(d["first_tick"]),
            int(d["last_tick"]),
            int(d["reports"]),
            bool(d["active"]),
        )


_Candidate = tuple[float, str, str, tuple[str, ...]]  # (significance, kind, label, related)


class _UnionFind:
    """Union-find over arbitrary hashable ints (smallest id is the root)."""

    def __init__(self) -> None:
        self.parent: dict[int, int] = {}

    def find(self, x: int) -> int:
        parent = self.parent
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def union(self, x: int, y: int) -> None:
        rx, ry = self.find(x), self.find(y)
        if rx != ry:
            if rx < ry:
                self.parent[ry] = rx
            else:
                self.parent[rx] = ry


class _Snapshot:
    """One look at the graph: concept edges, and which concepts the model knows since when."""

    __slots__ = ("a", "access", "b", "concept", "created", "known", "labels", "since", "tick", "w")

    def __init__(
        self, graph: HebbianGraph, model: dict[str, float], first_seen: dict[str, int], tick: int
    ) -> None:
        self.tick = tick
        self.access = graph.access_counts()
        self.concept = graph.type_codes() == CONCEPT_CODE
        a, b, w, _co, ct, _lt = graph.edge_arrays()
        if len(a):
            keep = self.concept[a] & self.concept[b]
            a, b, w, ct = a[keep], b[keep], w[keep], ct[keep]
        self.a, self.b, self.w, self.created = a, b, w, ct
        self.labels = graph.labels()
        n = len(self.labels)
        known = np.zeros(n, dtype=np.bool_)
        since = np.full(n, np.iinfo(np.int64).max, dtype=np.int64)
        if model:
            labels = self.labels
            for i in np.flatnonzero(self.concept).tolist():
                label = labels[i]
                if label in model:
                    known[i] = True
                    since[i] = first_seen.get(label, 0)
        self.known = known
        self.since = since

    def young_mask(self, horizon: int, min_count: int) -> npt.NDArray[np.bool_]:
        """Edges created within ``horizon`` ticks between established concepts: known at least
        ``horizon`` ticks before the edge appeared, accessed at least ``min_count`` times."""
        established = self.known & (self.access >= min_count)
        a, b, ct = self.a, self.b, self.created
        old = (self.since[a] <= ct - horizon) & (self.since[b] <= ct - horizon)
        return (ct >= self.tick - horizon) & established[a] & established[b] & old


class Sentinel(Agent):
    """A stationary immune agent that learns the colony's normal graph and flags non-self.

    Args:
        position: where it stands (it never moves; signals are emitted here).
        seed: seed of its random generator (a whole number >= 0; None: derived from the
            colony's seed).
        max_idle: ticks without any graph change before it dies (reference: 200; >= 1).
        maturation: observations before the first scan (reference: 10; >= 0).
        min_concepts: concepts the graph must hold before maturation can end (>= 0).
        scan_interval: ticks between scans (reference: 5; >= 1).
        max_per_scan: anomalies presented per scan at most (reference: 10; >= 1), most
            significant first.
        learning_rate: weight of each new observation in the moving averages, in (0, 1].
        reference_docs: size of the sliding window of recent normal documents (>= 1).
        min_reference_docs: documents the window needs before novelty is judged (>= 1).
        coverage_z: deviations below the norm that make a document unfamiliar (>= 0).
        coverage_std_floor: floor of the norm's deviation (> 0).
        coverage_threshold: documents at least this covered are never unfamiliar, in [0, 1].
        min_group_size: introduced concepts needed to form a novelty anomaly (>= 1).
        deviation_threshold: relative excess over the expected count (reference: 0.5; >= 0).
        deviation_z: Poisson z-score a deviation must also exceed (>= 0).
        min_count: access count below which a concept is never deviating nor established
            (>= 0).
        edge_z: weight z-score of an outlier edge (reference: 3.0; >= 0).
        edge_std_floor: floor of the learned weight standard deviation (reference: 0.05; > 0).
        edge_horizon: only edges created within this many ticks can be outliers (>= 1;
            None: twice the scan interval).
        edge_margin: how far an outlier edge must exceed the usual young-edge peak (>= 0).
        peak_decay: fraction by which the learned young-edge peak fades per observation, in
            [0, 1].
        min_edge_observations: observations with young edges needed before edges are judged
            (>= 0).
        related_limit: related concepts wired to each anomaly node (>= 0).
        anomaly_edge_weight: weight of the anomaly-to-concept edges, in (0, 1].
        protect_weight: concept edges at least this strong are never evicted (by the degree
            cap) to make room for anomaly edges, in [0, 1]; None: no protection.
        provider: where distributions are read (None: the local graph).

    Counts are whole numbers (an int, a NumPy integer or a whole float); the other numbers
    are finite.

    Raises:
        ConfigError: a setting out of its range (the message names it and the value).
        InvalidPosition: ``position`` is not a pair of finite numbers.
    """

    agent_type = "sentinel"

    _PARAMS = (
        "maturation",
        "min_concepts",
        "scan_interval",
        "max_per_scan",
        "learning_rate",
        "reference_docs",
        "min_reference_docs",
        "coverage_z",
        "coverage_std_floor",
        "coverage_threshold",
        "min_group_size",
        "deviation_threshold",
        "deviation_z",
        "min_count",
        "edge_z",
        "edge_std_floor",
        "edge_horizon",
        "edge_margin",
        "peak_decay",
        "min_edge_observations",
        "related_limit",
        "anomaly_edge_weight",
    )

    def __init__(
        self,
        position: Position | tuple[float, float],
        *,
        seed: int | None = None,
        max_idle: int = 200,
        maturation: int = 10,
        min_concepts: int = 20,
        scan_interval: int = 5,
        max_per_scan: int = 10,
        learning_rate: float = 0.2,
        reference_docs: int = 50,
        min_reference_docs: int = 10,
        coverage_z: float = 2.5,
        coverage_std_floor: float = 0.05,
        coverage_threshold: float = 0.7,
        min_group_size: int = 3,
        deviation_threshold: float = 0.5,
        deviation_z: float = 4.0,
        min_count: int = 5,
        edge_z: float = 3.0,
        edge_std_floor: float = 0.05,
        edge_horizon: int | None = None,
        edge_margin: float = 0.1,
        peak_decay: float = 0.02,
        min_edge_observations: int = 5,
        related_limit: int = 5,
        anomaly_edge_weight: float = 0.5,
        protect_weight: float | None = None,
        provider: DistributionProvider | None = None,
    ) -> None:
        super().__init__(
            position,
            seed=seed,
            max_idle=max_idle,
        )
        self.maturation = whole_number(maturation, "maturation", 0)
        self.min_concepts = whole_number(min_concepts, "min_concepts", 0)
        self.scan_interval = whole_number(scan_interval, "scan_interval", 1)
        self.max_per_scan = whole_number(max_per_scan, "max_per_scan", 1)
        self.learning_rate = real_number(learning_rate, "learning_rate", 0.0, 1.0, low_open=True)
        self.reference_docs = whole_number(reference_docs, "reference_docs", 1)
        self.min_reference_docs = whole_number(min_reference_docs, "min_reference_docs", 1)
        self.coverage_z = real_number(coverage_z, "coverage_z", 0.0)
        # (a divisor of the shortfall when the reference window's coverage does not vary)
        self.coverage_std_floor = real_number(
            coverage_std_floor, "coverage_std_floor", 0.0, low_open=True
        )
        self.coverage_threshold = real_number(coverage_threshold, "coverage_threshold", 0.0, 1.0)
        self.min_group_size = whole_number(min_group_size, "min_group_size", 1)
        self.deviation_threshold = real_number(deviation_threshold, "deviation_threshold", 0.0)
        self.deviation_z = real_number(deviation_z, "deviation_z", 0.0)
        self.min_count = whole_number(min_count, "min_count", 0)
        self.edge_z = real_number(edge_z, "edge_z", 0.0)
        # (a divisor of the weight z-score while the learned deviation is 0)
        self.edge_std_floor = real_number(edge_std_floor, "edge_std_floor", 0.0, low_open=True)
        self.edge_horizon = (
            2 * self.scan_interval
            if edge_horizon is None
            else whole_number(edge_horizon, "edge_horizon", 1)
        )
        self.edge_margin = real_number(edge_margin, "edge_margin", 0.0)
        self.peak_decay = real_number(peak_decay, "peak_decay", 0.0, 1.0)
        self.min_edge_observations = whole_number(min_edge_observations, "min_edge_observations", 0)
        self.related_limit = whole_number(related_limit, "related_limit", 0)
        self.anomaly_edge_weight = real_number(
            anomaly_edge_weight, "anomaly_edge_weight", 0.0, 1.0, low_open=True
        )
        self.protect_weight = (
            None
            if protect_weight is None
            else real_number(protect_weight, "protect_weight", 0.0, 1.0)
        )
        self.provider: DistributionProvider = provider or LocalDistribution()
        self.state = SentinelState.MATURING
        # self-model
        self.model: dict[str, float] = {}  # concept label -> expected share (moving average)
        self.first_seen: dict[str, int] = {}  # concept label -> tick it entered the model
        self.edge_mean = 0.0
        self.edge_var = 0.0
        self.young_peak = 0.0
        self.edge_observations = 0  # observations that saw young edges of established concepts
        self.observations = 0
        self.coverage_norm = (0.0, 0.0)  # (mean, std) of the reference window at the last scan
        self._df = np.zeros(0, dtype=np.int64)  # node index -> documents that presented it
        self._prov_seen = 0  # provenance entries already processed
        self._recent: deque[IntArray] = deque(maxlen=self.reference_docs)
        # reports
        self.last_scan_tick = -1
        self.anomalies: dict[str, Anomaly] = {}  # label -> anomaly
        self.anomalies_detected = 0
        self.pending: list[str] = []  # labels presented, awaiting wiring
        self._signature: tuple[int, int, int] = (-1, -1, -1)

    # ------------------------------------------------------------------ decision

    def sense(self, view: ColonyView) -> AgentAction:
        """One step of the state machine (see the module docstring)."""
        self.age += 1
        graph = view.graph
        self._track_activity(graph)
        if self.health() is CellHealth.SENESCENT:
            return Apoptose()
        tick = view.tick
        state = self.state
        if state is SentinelState.MATURING:
            self.observe(self.provider.distribution(graph, tick), graph)
            concepts = int(np.count_nonzero(graph.type_codes() == CONCEPT_CODE))
            if self.observations >= self.maturation and concepts >= self.min_concepts:
                self.state = SentinelState.SCANNING
                self.last_scan_tick = tick
            return Idle()
        if state is SentinelState.WIRING:
            self.state = SentinelState.ALERTING
            pairs = self._wiring_pairs(graph, view.config.max_edge_degree)
            self.pending = []
            if pairs:
                return WireNodes(pairs)
            state = SentinelState.ALERTING
        if state is SentinelState.ALERTING:
            self.state = SentinelState.SCANNING
            return Emit(Signal(SignalType.ANOMALY, 1.0, self.position, self.id, tick))
        # SCANNING
        if tick - self.last_scan_tick < self.scan_interval:
            return Idle()
        self.last_scan_tick = tick
        found = self.scan(graph, self.provider.distribution(graph, tick), tick)
        if not found:
            return Idle()
        self.anomalies_detected += len(found)
        self.useful_outputs += 1
        self.pending = [a.label for a in found]
        self.state = SentinelState.WIRING
        pos = self.position
        return PresentFragments(
            tuple(FragmentPresentation(a.label, None, pos, NodeType.ANOMALY) for a in found)
        )

    def _track_activity(self, graph: HebbianGraph) -> None:
        sig = (graph.node_count, graph.edge_count, int(graph.access_counts().sum()))
        if sig == self._signature:
            self.idle += 1
        else:
            self.idle = 0
            self._signature = sig

    def _wiring_pairs(
        self, graph: HebbianGraph, max_degree: int | None
    ) -> tuple[tuple[NodeId, NodeId, float], ...]:
        """Edges from the new anomaly nodes to their related concepts (never evicting a strong
        concept edge under the degree cap, see :func:`room_to_wire`)."""
        out: list[tuple[NodeId, NodeId, float]] = []
        w = self.anomaly_edge_weight
        crowded: set[NodeId] = set()  # protected concepts at the cap: one new edge per batch
        for label in self.pending:
            anomaly = self.anomalies.get(label)
            aid = node_id(NodeType.ANOMALY.value, label)
            if anomaly is None or aid not in graph:
                continue
            out.extend(
                link_plan(
                    graph, aid, anomaly.related, w, w, max_degree, self.protect_weight, crowded
                )
            )
        return tuple(out)

    # ------------------------------------------------------------------ learning

    def observe(self, dist: GraphDistribution, graph: HebbianGraph | None = None) -> None:
        """Learn one observation: concept shares and edge weights from ``dist``, and (given
        the graph) its new documents and young edges, without judging anything."""
        if graph is None:
            self._learn(dist, None)
            return
        snap = _Snapshot(graph, self.model, self.first_seen, dist.tick)
        self._documents(graph, judge=False)
        self._learn(dist, snap)

    def _learn(self, dist: GraphDistribution, snap: _Snapshot | None) -> None:
        a = self.learning_rate
        if snap is not None:
            young = snap.w[snap.young_mask(self.edge_horizon, self.min_count)]
            peak = float(young.max()) if len(young) else 0.0
            if len(young):
                self.edge_observations += 1
            fading = self.young_peak - self.peak_decay * (self.young_peak - self.edge_mean)
            self.young_peak = max(peak, fading)
        total = dist.total
        if total > 0:
            rate = a if self.model else 1.0
            keep = 1.0 - rate
            model = self.model
            for label in model:
                model[label] *= keep
            first_seen = self.first_seen
            for label, c in dist.counts.items():
                f = c / total
                old = model.get(label)
                if old is None:
                    model[label] = f
                    first_seen[label] = dist.tick
                else:
                    model[label] = old + rate * f
            floor = 1e-6 / total  # an expected count below a millionth: forgotten
            for label in [k for k, v in model.items() if v < floor]:
                del model[label]
                first_seen.pop(label, None)
        if dist.edge_n:
            m, v = dist.edge_mean, dist.edge_std**2
            if self.edge_mean == 0.0 and self.edge_var == 0.0:
                self.edge_mean, self.edge_var = m, v
            else:
                self.edge_mean += a * (m - self.edge_mean)
                self.edge_var += a * (v - self.edge_var)
        self.observations += 1

    def expected_share(self, label: str) -> float:
        """The learned share of ``label`` (0 if unknown)."""
        return self.model.get(label, 0.0)

    @property
    def edge_std(self) -> float:
        """Learned standard deviation of edge weights."""
        return math.sqrt(max(self.edge_var, 0.0))

    def classify(self, observation: list[tuple[str, int]]) -> Classification:
        """Negative-selection verdict on a label/count observation (REFERENCE.md §5.2).

        ``unknown`` while maturing or for an empty observation; otherwise the largest relative
        deviation from the learned shares (1.0 for unknown labels) gives ``non_self`` with
        that degree (capped at 1) above ``deviation_threshold``, else ``self``.
        """
        total = sum(c for _, c in observation)
        if self.state is SentinelState.MATURING or total <= 0:
            return Classification("unknown")
        worst = 0.0
        for label, c in observation:
            e = self.model.get(label, 0.0)
            dev = abs(c / total - e) / e if e > 0 else 1.0
            worst = max(worst, dev)
        if worst > self.deviation_threshold:
            return Classification("non_self", min(worst, 1.0))
        return Classification("self")

    # ------------------------------------------------------------------ scanning

    def scan(self, graph: HebbianGraph, dist: GraphDistribution, tick: int) -> list[Anomaly]:
        """Judge what changed since the last look against the model, then learn from it.

        Updates the registry (:attr:`anomalies`): subjects no longer anomalous become inactive.

        Returns:
            At most ``max_per_scan`` newly anomalous subjects, most significant first.
        """
        snap = _Snapshot(graph, self.model, self.first_seen, tick)
        if self.model:
            candidates = self._documents(graph, judge=True)
            candidates += self._deviations(graph, dist, snap)
            candidates += self._outlier_edges(snap)
        else:
            self._documents(graph, judge=False)
            candidates = []
        self._learn(dist, snap)
        current = {c[2] for c in candidates}
        for label, anomaly in self.anomalies.items():
            if anomaly.active and label not in current:
                anomaly.active = False
        fresh: list[Anomaly] = []
        candidates.sort(key=lambda c: (-c[0], c[2]))
        for sig, kind, label, related in candidates:
            known = self.anomalies.get(label)
            if known is not None and known.active:
                known.significance = sig
                known.last_tick = tick
                continue
            if len(fresh) >= self.max_per_scan:
                continue  # reported at a later scan if it persists
            if known is None:
                known = self.anomalies[label] = Anomaly(kind, label, sig, related, tick, tick)
            known.significance = sig
            known.related = related
            known.last_tick = tick
            known.active = True
            known.reports += 1
            fresh.append(known)
        return fresh

    def _documents(self, graph: HebbianGraph, judge: bool) -> list[_Candidate]:
        """Process documents presented since the last look; flag unfamiliar ones if ``judge``."""
        nodes, docs = graph.provenance_arrays()
        n = graph.node_count
        if len(self._df) < n:
            self._df = np.concatenate([self._df, np.zeros(n - len(self._df), dtype=np.int64)])
        start = self._prov_seen
        if len(nodes) <= start:
            return []
        self._prov_seen = len(nodes)
        nn, dd = nodes[start:], docs[start:]
        keep = graph.type_codes()[nn] == CONCEPT_CODE
        nn, dd = nn[keep], dd[keep]
        if len(nn) == 0:
            return []
        order = np.argsort(dd, kind="stable")
        sd_, sn_ = dd[order], nn[order]
        cuts = np.flatnonzero(np.diff(sd_)) + 1
        starts = np.concatenate([[0], cuts])
        groups = np.split(sn_, cuts)
        # documents in the order they were first presented
        first = order[starts]
        new_docs = [unique_sorted(groups[k]) for k in np.argsort(first, kind="stable")]
        df = self._df
        thr = -math.inf
        mean = sd = 0.0
        if judge and len(self._recent) >= self.min_reference_docs:
            loo = np.array([float(np.mean(df[r] >= 2)) for r in self._recent])
            mean, sd = float(loo.mean()), float(loo.std())
            self.coverage_norm = (mean, sd)
            norm = mean - self.coverage_z * max(sd, self.coverage_std_floor)
            thr = min(self.coverage_threshold, norm)
        flagged: list[tuple[IntArray, float]] = []
        for d in new_docs:
            if len(d) >= self.min_group_size:
                coverage = float(np.mean(df[d] >= 1))
                if coverage < thr:
                    flagged.append((d[df[d] == 0], coverage))
                    continue
            self._recent.append(d)
        for d in new_docs:
            df[d] += 1
        if not flagged:
            return []
        return self._novel_groups(graph, flagged, mean, max(sd, self.coverage_std_floor))

    def _novel_groups(
        self, graph: HebbianGraph, flagged: list[tuple[IntArray, float]], mean: float, sd: float
    ) -> list[_Candidate]:
        uf = _UnionFind()
        for k, (intro, _cov) in enumerate(flagged):
            root = -1 - k  # documents are negative ids, concepts non-negative
            uf.find(root)
            for i in intro.tolist():
                uf.union(root, i)
        members: dict[int, list[int]] = {}
        shortfall: dict[int, list[float]] = {}
        for k, (intro, cov) in enumerate(flagged):
            r = uf.find(-1 - k)
            members.setdefault(r, []).extend(intro.tolist())
            shortfall.setdefault(r, []).append((mean - cov) / sd)
        access = graph.access_counts()
        degree = graph.degrees()
        labels = graph.labels()
        out: list[_Candidate] = []
        for r, nodes in members.items():
            uniq = sorted(set(nodes), key=lambda i: (-int(access[i]), -int(degree[i]), i))
            if len(uniq) < self.min_group_size:
                continue
            sig = len(uniq) * float(np.mean(shortfall[r]))
            related = tuple(labels[i] for i in uniq[: self.related_limit])
            out.append((sig, "novel", f"anomaly: novel concept {labels[uniq[0]]}", related))
        return out

    def _deviations(
        self, graph: HebbianGraph, dist: GraphDistribution, snap: _Snapshot
    ) -> list[_Candidate]:
        total = dist.total
        if total <= 0:
            return []
        model = self.model
        out: list[_Candidate] = []
        ratio_min = 1.0 + self.deviation_threshold
        for label, c in dist.counts.items():
            if c < self.min_count:
                continue
            e = model.get(label)
            if not e:
                continue
            expected = e * total
            if c < ratio_min * expected:
                continue
            z = (c - expected) / math.sqrt(expected + 1.0)
            if z < self.deviation_z:
                continue
            related = (label, *self._top_neighbours(graph, label, snap))
            out.append((float(z), "deviation", f"anomaly: deviating concept {label}", related))
        return out

    def _top_neighbours(self, graph: HebbianGraph, label: str, snap: _Snapshot) -> tuple[str, ...]:
        nid = graph.find_by_label(label, NodeType.CONCEPT)
        if nid is None or self.related_limit <= 1:
            return ()
        nbrs, weights = graph.neighbor_indices(graph.index_of(nid))
        ok = snap.concept[nbrs]
        nbrs, weights = nbrs[ok], weights[ok]
        order = np.lexsort((nbrs, -weights))[: self.related_limit - 1]
        return tuple(snap.labels[int(k)] for k in nbrs[order])

    def _outlier_edges(self, snap: _Snapshot) -> list[_Candidate]:
        w = snap.w
        if len(w) == 0 or self.edge_observations < self.min_edge_observations:
            return []
        sd = max(self.edge_std, self.edge_std_floor)
        z = (w - self.edge_mean) / sd
        bar = self.young_peak + self.edge_margin
        hot = snap.young_mask(self.edge_horizon, self.min_count) & (z > self.edge_z) & (w > bar)
        out: list[_Candidate] = []
        labels, a, b = snap.labels, snap.a, snap.b
        for k in np.flatnonzero(hot).tolist():
            la, lb = sorted((labels[int(a[k])], labels[int(b[k])]))
            out.append((float(z[k]), "edge", f"anomaly: edge {la} -- {lb}", (la, lb)))
        return out

    # ------------------------------------------------------------------ reports

    def top_anomalies(self, k: int | None = None, active_only: bool = False) -> list[Anomaly]:
        """Anomalies seen so far, most significant first (ties: label)."""
        items = [x for x in self.anomalies.values() if x.active or not active_only]
        items.sort(key=lambda x: (-x.significance, x.label))
        return items if k is None else items[:k]

    def export_vocabulary(self) -> bytes | None:
        """The 200 labels it expects most, as a vocabulary capability (None before learning)."""
        if not self.model:
            return None
        top = sorted(self.model.items(), key=lambda kv: (-kv[1], kv[0]))[:200]
        payload = {"terms": [k for k, _ in top], "origin": int(self.id)}
        payload["document_count"] = self.observations
        return json.dumps(payload).encode("utf-8")

    # ------------------------------------------------------------------ persistence

    def state_dict(self) -> dict[str, Any]:
        """Complete state, JSON-compatible except the generator state (a dict).

        The provider is not saved: a restored sentinel reads the local graph until the
        distributed runner installs its provider again.
        """
        d = super().state_dict()
        d.update({p: getattr(self, p) for p in self._PARAMS})
        d.update(
            protect_weight=self.protect_weight,
            state=self.state.value,
            model=list(self.model.items()),
            first_seen=list(self.first_seen.items()),
            edge_mean=self.edge_mean,
            edge_var=self.edge_var,
            young_peak=self.young_peak,
            edge_observations=self.edge_observations,
            observations=self.observations,
            coverage_norm=list(self.coverage_norm),
            df=self._df.tolist(),
            prov_seen=self._prov_seen,
            recent=[r.tolist() for r in self._recent],
            last_scan_tick=self.last_scan_tick,
            anomalies=[x.to_dict() for x in self.anomalies.values()],
            anomalies_detected=self.anomalies_detected,
            pending=list(self.pending),
            signature=list(self._signature),
        )
        return d

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned."""
        super().load_state_dict(state)
        for p in self._PARAMS:
            setattr(self, p, type(getattr(self, p))(state[p]))
        pw = state["protect_weight"]
        self.protect_weight = None if pw is None else float(pw)
        self.state = SentinelState(state["state"])
        self.model = {str(k): float(v) for k, v in state["model"]}
        self.first_seen = {str(k): int(v) for k, v in state["first_seen"]}
        self.edge_mean = float(state["edge_mean"])
        self.edge_var = float(state["edge_var"])
        self.young_peak = float(state["young_peak"])
        self.edge_observations = int(state["edge_observations"])
        self.observations = int(state["observations"])
        m, s = state["coverage_norm"]
        self.coverage_norm = (float(m), float(s))
        self._df = np.asarray(state["df"], dtype=np.int64)
        self._prov_seen = int(state["prov_seen"])
        self._recent = deque(
            (np.asarray(r, dtype=np.int64) for r in state["recent"]), maxlen=self.reference_docs
        )
        self.last_scan_tick = int(state["last_scan_tick"])
        self.anomalies = {x["label"]: Anomaly.from_dict(x) for x in state["anomalies"]}
        self.anomalies_detected = int(state["anomalies_detected"])
        self.pending = [str(x) for x in state["pending"]]
        s2 = state["signature"]
        self._signature = (int(s2[0]), int(s2[1]), int(s2[2]))
