"""ShardedColony: one shard of a distributed colony, wrapping a local :class:`~phago.Colony`.

Ownership (DESIGN.md §2.4): documents are routed to shards by the ring over their
DocumentId; each concept node is owned by the ring's shard for its NodeId; an edge is stored
on the shard that owns its endpoint with the smaller NodeId. When this shard's agents present
a concept it does not own, the presentation is sent to the owner; when they wire a pair whose
edge another shard stores, the co-activation is sent there. Messages are batched per
(source, destination, tick) and delivered by the runner between Act and Decay, so every
co-occurrence is counted exactly once, on exactly one shard (DESIGN.md I3).

A node this shard stores an edge to but does not own is a *ghost*: a local replica keyed by
the same NodeId. The runner resolves ghosts by fetching the owner's data in one batched
request per (requesting, owning) shard pair; resolved ghosts sit in the LRU
:class:`~phago.distributed.GhostNodeCache`.

The global graph is the union over shards of owned nodes and stored edges.

Example:
    >>> from phago import ColonyConfig
    >>> from phago.distributed import ConsistentHashRing, ShardId, TickPhase
    >>> ring = ConsistentHashRing(2)
    >>> shard = ShardedColony(ShardId(0), ColonyConfig(), ring)
    >>> shard.tick_phase(TickPhase.SENSE).phase
    <TickPhase.SENSE: 'Sense'>
"""

from __future__ import annotations

import copy
import dataclasses
import operator
import pickle
import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import chain
from typing import Any

import numpy as np
import numpy.typing as npt

from phago import _kernels as K
from phago._arrays import stable_groups, unique_sorted
from phago._gc import GcPause, cyclic_gc_paused
from phago.agents.base import Agent
from phago.agents.digester import Digester
from phago.agents.evolving import EvolvingDigester
from phago.colony import Colony, ColonyStats
from phago.config import ColonyConfig, colony_config, whole_number
from phago.distributed.degree_cap import CapOrder, CappedEdges, DegreeReport, GlobalDegreeCap
from phago.distributed.edge_manager import CrossShardEdgeManager
from phago.distributed.forget import (
    NeedsPart,
    PresentedPart,
    forget_state,
    forget_view,
    presented_pairs,
    reload_agents,
    restored_parts,
    support_needs,
    supported_pairs,
)
from phago.distributed.ghost_cache import GhostNodeCache
from phago.distributed.hashing import ConsistentHashRing
from phago.distributed.messages import (
    CrossShardEdgeArray,
    PresentationGroups,
    TickOutlook,
    UpdateBatch,
)
from phago.distributed.types import (
    CrossShardEdge,
    GhostNode,
    PhaseResult,
    ShardHealth,
    ShardId,
    ShardInfo,
    TickPhase,
    as_shard_id,
)
from phago.document_batch import DocumentBatch
from phago.errors import InvalidAgent, PhaseOrderError, RoutingFailed
from phago.graph import _TYPE_CODE, _TYPES, HebbianGraph, IntArray, _triu
from phago.ids import AgentId, DocumentId, NodeId, document_id, stable_hash64
from phago.state import AgentState, ForgetPlan, ForgetReport
from phago.substrate import Substrate
from phago.text import label_terms
from phago.types import Document, NodeData, NodeType, Position

__all__ = ["OwnedGraph", "ShardPhaseResult", "ShardedColony", "shard_seed"]

_INT = np.int64
_FREE = np.iinfo(np.int64).max  # an unused entry of ShardedColony's scratch column

# Destinations a shard remembers having sent each node's label to, one bit each (see
# ShardedColony._labels_for): shards with a larger id are always sent every label.
_LABEL_SENT_BITS = 64
_LABEL_SENT_BIT = [np.uint64(1 << d) for d in range(_LABEL_SENT_BITS)]
# what an update batch carries in place of a label its destination holds already
_HELD = ""

# The process's pause of the cyclic collector from a shard's Sense to the end of its
# Advance (ShardedColony.run_phase). One for the process, not one per shard object: a shard
# replaced in the middle of a tick (a rollback restores every shard, mid-tick ones
# included) would otherwise leave its pause open, and the collector off, for the life of
# the process; this way the next Sense, or the restore itself, ends it.
_PHASES_GC_PAUSE = GcPause()

# agent classes whose Sense reads only the substrate, never the graph (exact types: a
# subclass may read more)
_SENSE_READS_SUBSTRATE_ONLY = frozenset({Digester, EvolvingDigester})


def end_tick_gc_pause() -> None:
    """End the process's pause of the cyclic collector for a shard's tick, if one is open:
    for a caller whose multi-phase call failed between phases (a Ray actor's pipelined
    call), where no Advance will end it.

    Example:
        >>> import gc
        >>> end_tick_gc_pause()  # none open: nothing changes
        >>> gc.isenabled()
        True
    """
    _PHASES_GC_PAUSE.end()


# A run of wiring calls' edges to one destination: (a ends, b ends, tentative, increment,
# calls), as local node indices, with the wiring call of each pair (non-decreasing); sealed
# into the destination's UpdateBatch when the outbox is taken.
_EdgePart = tuple[
    npt.NDArray[np.int64],
    npt.NDArray[np.int64],
    float | None,
    float | None,
    npt.NDArray[np.int64],
]
# A presentation during Act: (local node indices, node type code, x, y, document, tick).
_Presented = tuple[npt.NDArray[np.int64], int, float, float, int | None, int]
# A wiring call during Act: (a ends, b ends, tick, tentative, increment), no self-pairs.
_Wiring = tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], int, float | None, float | None]


def _split_asks(
    asks: Mapping[int, Sequence[Any]],
) -> tuple[list[tuple[int, list[int]]], list[DegreeReport]]:
    """Asks by requesting shard split into ghost requests ``(requester, node ids)`` and the
    degree reports, both in requester order."""
    ids: list[tuple[int, list[int]]] = []
    reports: list[DegreeReport] = []
    for req, items in sorted(asks.items()):
        wanted = [x for x in items if type(x) is not DegreeReport]
        if len(wanted) != len(items):
            reports.extend(x for x in items if type(x) is DegreeReport)
        if wanted:
            ids.append((int(req), wanted))
    return ids, reports


def _new_indices(kept: IntArray, old: IntArray) -> IntArray:
    """Old node index to new after a forget that kept the nodes ``kept`` (old indices, in
    their new order), for every index up to those in ``old``; -1 for a removed node.

    Example:
        >>> _new_indices(np.array([0, 2, 3]), np.array([4])).tolist()
        [0, -1, 1, 2, -1]
    """
    size = max(int(kept.max()) + 1 if len(kept) else 0, int(old.max()) + 1 if len(old) else 0)
    out = np.full(size, -1, dtype=_INT)
    out[kept] = np.arange(len(kept), dtype=_INT)
    return out


def shard_seed(seed: int, shard: int) -> int:
    """The seed of shard ``shard``'s colony in a cluster seeded ``seed`` (stable, documented).

    Example:
        >>> shard_seed(0, 1) == shard_seed(0, 1) != shard_seed(0, 2)
        True
    """
    return stable_hash64(f"shard-seed:{seed}:{shard}") & ((1 << 63) - 1)


@dataclass(slots=True)
class ShardPhaseResult(PhaseResult):
    """A :class:`PhaseResult` plus what the runner moves between shards after the phase.

    ``ghost_requests`` (Decay) maps each owner to the node ids whose ghosts this shard lacks,
    followed by a :class:`~phago.distributed.degree_cap.DegreeReport` when there is one,
    and ``ghost_answers`` (Decay) maps each requesting shard to its ghosts, followed by a
    :class:`~phago.distributed.degree_cap.CapOrder` when there is one; both are delivered
    at the next tick's Decay.
    ``cross_shard_count`` (Act) is the number of cross-shard edges produced, also when
    ``cross_shard_edges`` does not list them. ``compute_ms`` is the phase's wall time on the
    shard and ``compute_cpu_ms`` its thread's CPU time (less where the shard waited for a
    core).
    """

    updates: list[UpdateBatch] = field(default_factory=list)
    ghost_requests: dict[int, list[Any]] = field(default_factory=dict)
    ghost_answers: dict[int, list[Any]] = field(default_factory=dict)
    agents_alive: int = 0
    documents_total: int = 0
    documents_digested: int = 0
    busy: bool = False
    compute_ms: float = 0.0
    compute_cpu_ms: float = 0.0
    wants_distribution: bool = False
    distribution: Any = None
    cross_shard_count: int = 0

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        # one constructor call with the fields in order, its phase by index (the
        # dataclass's default state and the enum's lookup by value took a Ray driver
        # about twice as long to load each shard's results every tick)
        return (_phase_result, (int(self.shard_id), _PHASE_INDEX[self.phase], *_rest(self)))


_PHASES_BY_INDEX = tuple(TickPhase)
_PHASE_INDEX = {p: i for i, p in enumerate(_PHASES_BY_INDEX)}
# every field after the shard and the phase, in the constructor's order
_rest = operator.attrgetter(*[f.name for f in dataclasses.fields(ShardPhaseResult)][2:])


def _phase_result(shard: int, phase: int, *fields: Any) -> ShardPhaseResult:
    """A :class:`ShardPhaseResult` from what its ``__reduce__`` gave."""
    return ShardPhaseResult(ShardId(shard), _PHASES_BY_INDEX[phase], *fields)


@dataclass(slots=True)
class _PreparedForget:
    """One shard's forget, worked out and checked, not applied yet
    (:meth:`ShardedColony.forget_prepare`): the new graph, substrate, ghost flags, cached
    ghosts and degree-cap state, and what the agents reload."""

    token: str | None
    ids: list[int]
    plan: ForgetPlan
    tick: int
    owned_before: int
    report: ForgetReport
    kept: IntArray | None
    graph: HebbianGraph
    substrate: Substrate
    agents: list[AgentState]
    before: list[dict[str, Any]]
    whole: list[dict[str, Any]]
    known: npt.NDArray[np.bool_]
    pending: npt.NDArray[np.bool_]
    cap: dict[str, Any]
    ghosts: GhostNodeCache


@dataclass(slots=True)
class OwnedGraph:
    """The part of the global graph a shard holds: its owned nodes and its stored edges."""

    node_ids: npt.NDArray[np.uint64]
    labels: list[str]
    node_types: list[str]
    access: npt.NDArray[np.int64]
    created: npt.NDArray[np.int64]
    positions: npt.NDArray[np.float64]
    prov_nodes: npt.NDArray[np.uint64]
    prov_docs: npt.NDArray[np.uint64]
    edge_a: npt.NDArray[np.uint64]
    edge_b: npt.NDArray[np.uint64]
    weight: npt.NDArray[np.float64]
    co_activations: npt.NDArray[np.int64]
    created_tick: npt.NDArray[np.int64]
    last_activated_tick: npt.NDArray[np.int64]
    ghost_labels: dict[int, tuple[str, str]] = field(default_factory=dict)


# A batch whose reference table has at most this many nodes sends its edge ends as uint16
# (the ends are a batch's bulk, and Ray passes a part over 100 KiB through its object store).
_SMALL_REFS = 1 << 16


def _logged(agent: Agent) -> bytes | Agent:
    """What the op log keeps of a spawned agent: the agent pickled (what a checkpoint stores,
    and several times faster than ``copy.deepcopy`` of a digester), or a deep copy of one
    that does not pickle (possible on the local backend, until its next checkpoint fails)."""
    try:
        return pickle.dumps(agent, protocol=pickle.HIGHEST_PROTOCOL)
    except (pickle.PicklingError, TypeError, AttributeError):
        return copy.deepcopy(agent)


def _replayed(logged: bytes | Agent) -> Agent:
    """A fresh agent from what the op log kept (:func:`_logged`)."""
    if isinstance(logged, bytes):
        agent: Agent = pickle.loads(logged)
        return agent
    return copy.deepcopy(logged)


def _wire_run(
    graph: HebbianGraph,
    run: tuple[list[IntArray], list[IntArray], float | None, float | None],
    tick: int,
) -> int:
    """Wire a run of co-activation groups with the same weights in one call."""
    a, b, tentative, increment = run
    if len(a) == 1:
        return int(graph.wire_pairs(a[0], b[0], tick, tentative, increment))
    return int(graph.wire_pairs(np.concatenate(a), np.concatenate(b), tick, tentative, increment))


class ShardedColony:
    """One shard: a local colony plus routing, ghosts and cross-shard edge exchange.

    Args:
        shard_id: this shard's id.
        config: the colony configuration (the same on every shard).
        hash_ring: the ring shared with the coordinator (documents and nodes are routed by it).
        ghost_cache_size: capacity of the LRU ghost cache.
        seed: the cluster seed, a whole number >= 0; None means 0. This shard's colony is
            seeded ``shard_seed(seed, shard)``.

    Raises:
        ConfigError: a seed that is negative or not a whole number, or a config that is
            not a :class:`~phago.config.ColonyConfig` (nor None).
    """

    def __init__(
        self,
        shard_id: ShardId | int,
        config: ColonyConfig | None,
        hash_ring: ConsistentHashRing,
        *,
        ghost_cache_size: int = 1000,
        seed: int | None = None,
    ) -> None:
        self._id = as_shard_id(shard_id)
        self.config = colony_config(config)
        self.ring = hash_ring
        self.seed = 0 if seed is None else whole_number(seed, "seed", 0)
        self.colony = Colony(self.config, seed=shard_seed(self.seed, int(self._id)))
        self.colony.presentation_hook = self
        self._ghosts = GhostNodeCache(ghost_cache_size)
        self._edge_manager = CrossShardEdgeManager()
        self._edge_manager_tick = -1
        # Per local node index, with spare capacity (grown geometrically): the owner shard, a
        # ghost-requested flag, a ghost-pending flag, and the shards this one has sent the
        # node's label to (a bit per shard id below _LABEL_SENT_BITS); entries [0, _synced) are
        # valid. The sent bits are not kept in snapshots: a restored shard sends every
        # label again once.
        self._owner_buf = np.zeros(0, dtype=_INT)
        self._known_buf = np.zeros(0, dtype=np.bool_)
        self._pending_buf = np.zeros(0, dtype=np.bool_)
        self._label_sent_buf = np.zeros(0, dtype=np.uint64)
        self._scratch_buf = np.zeros(0, dtype=_INT)  # all _FREE between uses (see _seal)
        self._synced = 0
        self._owned_count = 0
        self._postings_cache: tuple[int, dict[str, list[tuple[int, int]]]] | None = None
        self._outbox: dict[int, UpdateBatch] = {}
        self._outbox_groups: dict[int, list[PresentationGroups]] = {}
        self._outbox_edges: dict[int, list[_EdgePart]] = {}
        self._act_cross: list[CrossShardEdgeArray] = []
        self._act_cross_count = 0  # cross-shard edges routed since the last take
        # False while an Act whose payload wants only the cross-shard edges' number runs:
        # routing then counts them without building their list
        self._cross_lists = True
        # this Act's presentations and wiring calls, routed in bulk when Act ends
        self._act_presented: list[_Presented] = []
        self._act_wires: list[_Wiring] = []
        self.peers: dict[ShardId, str] = {}
        # operations since the last checkpoint, for a rollback to replay; None before the
        # first checkpoint, when there is nothing to roll back to (a checkpoint starts it)
        self._oplog: list[tuple[int, str, Any]] | None = None
        self._replay: list[tuple[int, str, Any]] = []
        # set while :meth:`run_graph_decay` runs: the tick whose Decay's graph part it is
        self._decay_graph_at: int | None = None
        self._degree_cap = self._new_degree_cap()
        # a forget worked out and checked, waiting to be applied (forget_prepare)
        self._forget_ready: _PreparedForget | None = None

    # ------------------------------------------------------------------ identity

    @property
    def shard_id(self) -> ShardId:
        """This shard's id."""
        return self._id

    @property
    def current_tick(self) -> int:
        """The local colony's tick."""
        return self.colony.current_tick

    @property
    def ghost_cache(self) -> GhostNodeCache:
        """Ghost nodes (remote nodes this shard stores edges to), LRU."""
        return self._ghosts

    @property
    def edge_manager(self) -> CrossShardEdgeManager:
        """Cross-shard edges stored on this shard, refreshed from the graph on access."""
        if self._edge_manager_tick != self.current_tick:
            self._refresh_edge_manager()
        return self._edge_manager

    def _refresh_edge_manager(self) -> None:
        self._sync_owners()
        g = self.colony.graph
        m = CrossShardEdgeManager()
        a, b, w, _, _, _ = g.edge_arrays()
        oa, ob = self._owner[a], self._owner[b]
        me = int(self._id)
        ids = g._ids_arr
        for k in np.flatnonzero(oa != ob):
            local, remote = (a[k], b[k]) if oa[k] == me else (b[k], a[k])
            m.add_outgoing_edge(
                CrossShardEdge(
                    NodeId(int(ids[local])),
                    NodeId(int(ids[remote])),
                    ShardId(int(self._owner[local])),
                    ShardId(int(self._owner[remote])),
                    float(w[k]),
                )
            )
        m.clear_pending()
        self._edge_manager = m
        self._edge_manager_tick = self.current_tick

    # ------------------------------------------------------------------ ownership

    def _sync_owners(self) -> None:
        """Extend the per-node columns to the graph's node count (amortised growth)."""
        g = self.colony.graph
        n = g.node_count
        have = self._synced
        if have < n:
            self._reserve(n)
            ring = self.ring
            if ring.shard_count == 1:  # one shard owns every key: no hashing needed
                only = int(ring.all_shards()[0])
                self._owner_buf[have:n] = only
                if only == int(self._id):
                    self._owned_count += n - have
            else:
                new = ring.get_shards(g._ids_arr[have:n])
                self._owned_count += int(np.count_nonzero(new == int(self._id)))
                self._owner_buf[have:n] = new
            self._synced = n

    def _reserve(self, n: int) -> None:
        cap = len(self._owner_buf)
        if n <= cap:
            return
        cap = max(n, 2 * cap, 64)
        have = self._synced
        for name in ("_owner_buf", "_known_buf", "_pending_buf", "_label_sent_buf"):
            old = getattr(self, name)
            new = np.zeros(cap, dtype=old.dtype)
            new[:have] = old[:have]
            setattr(self, name, new)
        self._scratch_buf = np.full(cap, _FREE, dtype=_INT)

    @property
    def _owner(self) -> npt.NDArray[np.int64]:
        """Owner shard of each local node index (a view; call :meth:`_sync_owners` first)."""
        return self._owner_buf[: self._synced]

    def ghost_flags(self) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
        """Per local node index: whether a ghost of it was ever requested, and whether one is
        to be requested at the end of this tick (copies; what :mod:`phago.store` saves)."""
        self._sync_owners()
        n = self._synced
        return self._known_buf[:n].copy(), self._pending_buf[:n].copy()

    def set_ghost_flags(self, known: npt.ArrayLike, pending: npt.ArrayLike) -> None:
        """Restore :meth:`ghost_flags` (one flag per local node index).

        Raises:
            ValueError: if either has a length other than the node count.
        """
        self._sync_owners()
        k = np.asarray(known, dtype=np.bool_)
        p = np.asarray(pending, dtype=np.bool_)
        if len(k) != self._synced or len(p) != self._synced:
            raise ValueError(
                f"ghost flags for {len(k)}/{len(p)} nodes, the graph has {self._synced}"
            )
        self._known_buf[: self._synced] = k
        self._pending_buf[: self._synced] = p

    def _mark_ghosts_pending(self, ends: npt.NDArray[np.int64]) -> None:
        """Flag remote-owned nodes ``ends`` (local indices) whose ghost was never requested."""
        if len(ends):
            self._pending_buf[ends[~self._known_buf[ends]]] = True

    def owner_of(self, node: NodeId) -> ShardId:
        """The shard that owns ``node``."""
        return self.ring.get_shard(int(node))

    def owns_document(self, doc_id: DocumentId) -> bool:
        """True if the ring routes ``doc_id`` to this shard."""
        return self.ring.get_shard(int(doc_id)) == self._id

    def ingest_document(
        self,
        title: str,
        content: str,
        position: Position | tuple[float, float] | None = None,
        doc_id: DocumentId | None = None,
    ) -> DocumentId:
        """Ingest a document this shard owns.

        The ownership check uses the id the document will really be stored under.

        Raises:
            RoutingFailed: if the ring routes the document to another shard.
        """
        did = doc_id if doc_id is not None else document_id(title, content)
        if not self.owns_document(did):
            owner = self.ring.get_shard(int(did))
            raise RoutingFailed(f"document {did} ({title!r}) belongs to {owner}, not {self._id}")
        return self.ingest_document_direct(title, content, position, did)

    def ingest_document_direct(
        self,
        title: str,
        content: str,
        position: Position | tuple[float, float] | None = None,
        doc_id: DocumentId | None = None,
    ) -> DocumentId:
        """Ingest a document without the ownership check."""
        did = self.colony.ingest_document(title, content, position, doc_id=doc_id)
        pos = self.colony.substrate.get_document(did).position
        if self._oplog is not None:
            self._oplog.append(
                (self.current_tick, "ingest", (title, content, (pos.x, pos.y), int(did)))
            )
        return did

    def spawn(self, agent: Agent) -> AgentId:
        """Spawn an agent on this shard's colony (logged, so a rollback can replay it).

        Sentinels and synthesizers get a coordinator-fed distribution provider, so they judge
        against the cluster's global concept and edge-weight distributions.
        """
        # the agent as given is what a replay spawns again, logged once the colony took it
        # (a refused one, InvalidAgent, would otherwise come back in a rollback's replay)
        logged = _logged(agent) if self._oplog is not None else None
        from phago.agents.distribution import AggregatedDistribution, LocalDistribution

        if isinstance(getattr(agent, "provider", None), LocalDistribution):
            agent.provider = AggregatedDistribution()  # type: ignore[attr-defined]
        aid = self.colony.spawn(agent)
        if self._oplog is not None:
            self._oplog.append((self.current_tick, "spawn", logged))
        return aid

    def agent_ids(self, digesting: bool | None = None) -> list[AgentId]:
        """The ids of this shard's live agents, in the order they act (``digesting`` True or
        False: only those that do, or do not, hold undigested text)."""
        return self.colony.agent_ids(digesting=digesting)

    def retire_agents(self, agent_ids: Sequence[int]) -> int:
        """Retire live agents of this shard (:meth:`Colony.retire_agents
        <phago.colony.Colony.retire_agents>`; logged, so a rollback can replay it).

        Raises:
            UnknownAgent: an id that is not a live agent's here (nothing is removed).
        """
        ids = [int(a) for a in agent_ids]
        removed = self.colony.retire_agents(ids)
        if self._oplog is not None:
            self._oplog.append((self.current_tick, "retire", ids))
        return removed

    def _aggregated_providers(self) -> list[Any]:
        from phago.agents.distribution import AggregatedDistribution

        return [
            a.provider  # type: ignore[attr-defined]
            for a in self.colony.agents
            if isinstance(getattr(a, "provider", None), AggregatedDistribution)
        ]

    def _has_aggregated_agents(self) -> bool:
        return bool(self._aggregated_providers())

    def tick_outlook(self) -> TickOutlook:
        """What the runner decides the next tick by, as this shard's Advance reports it:
        whether it has anything left to digest, and whether it wants the merged
        distribution brought to its next Sense; and whether it is *steady* (it cannot come
        to want the distribution within its next tick, and its agents' Sense reads no
        graph: :class:`~phago.distributed.messages.TickOutlook`).

        Within a tick only Act changes documents and agents, so from the end of a tick's
        Act this is what its Advance will report; a pipelined backend sends it with Act's
        update batches, so that every shard can decide about the next tick before the
        others' Advance.

        Example:
            >>> from phago import ColonyConfig, Position
            >>> from phago.distributed import ConsistentHashRing, ShardId
            >>> s = ShardedColony(ShardId(0), ColonyConfig(), ConsistentHashRing(1))
            >>> s.tick_outlook()
            TickOutlook(busy=False, wants_distribution=False, steady=True)
            >>> _ = s.ingest_document("d", "alpha beta", Position(0, 0))
            >>> s.tick_outlook().busy
            True
        """
        wants = self._has_aggregated_agents()
        colony = self.colony
        steady = (
            not wants
            and colony.spawn_policy is None
            and not self._replay
            and all(type(a) in _SENSE_READS_SUBSTRATE_ONLY for a in colony.agents)
        )
        return TickOutlook(colony.has_undigested_work(), wants, steady)

    def _install_distribution(self, distribution: Any) -> None:
        for p in self._aggregated_providers():
            p.update(distribution)

    def owned_distribution(self) -> Any:
        """This shard's part of the global distribution: owned concepts' access counts and
        the weights of stored concept-concept edges (merged exactly by the runner)."""
        from phago.agents.distribution import CONCEPT_CODE, GraphDistribution

        g = self.colony.graph
        self._sync_owners()
        n = g.node_count
        codes = g.type_codes()
        owned = (self._owner[:n] == int(self._id)) & (codes == CONCEPT_CODE)
        access = g.access_counts()
        counts = {g.label_at(i): int(access[i]) for i in np.flatnonzero(owned).tolist()}
        a, b, w, _, _, _ = g.edge_arrays()
        if len(a):
            concept = codes == CONCEPT_CODE
            w = w[concept[a] & concept[b]]
        return GraphDistribution(
            counts, len(w), float(w.sum()), float((w * w).sum()), self.current_tick
        )

    def ingest_batch(self, batch: DocumentBatch) -> int:
        """Ingest a batch of documents this shard owns; returns how many were new.

        Ownership is checked for all of them, in one vectorised pass, before any is stored;
        their content and positions too unless the batch was checked when it was made
        (:meth:`Colony.ingest_batch`). The batch is one entry of the op log.

        Raises:
            RoutingFailed: the ring routes one of the documents to another shard.
            EmptyDocument, DocumentError, InvalidPosition: a document the colony refuses.
        """
        if not len(batch):
            return 0
        owners = self.ring.get_shards(batch.ids)
        wrong = np.flatnonzero(owners != int(self._id))
        if len(wrong):
            k = int(wrong[0])
            raise RoutingFailed(
                f"document {int(batch.ids[k])} ({batch.titles[k]!r}) belongs to "
                f"shard-{int(owners[k])}, not {self._id}"
            )
        stored = self.colony.ingest_batch(batch)
        if self._oplog is not None:  # (not views of a received object: they would pin it)
            self._oplog.append((self.current_tick, "ingest_batch", batch.owned()))
        return stored

    def spawn_many(self, agents: Sequence[Agent]) -> list[AgentId]:
        """Spawn several agents (the cyclic collector paused: copying thousands of agents
        for the op log would otherwise run it over the whole colony many times).

        All or none: every agent is checked first (:meth:`Colony.check_spawnable`, and the
        same object twice in ``agents``), so a refused one raises before any is spawned.

        Raises:
            InvalidAgent: an agent the colony would refuse, or one given twice.
        """
        given: set[int] = set()
        for a in agents:
            self.colony.check_spawnable(a)
            if id(a) in given:
                raise InvalidAgent(f"this {type(a).__name__} is given twice; spawn a new one")
            given.add(id(a))
        with cyclic_gc_paused():
            return [self.spawn(a) for a in agents]

    def spawn_digesters(
        self,
        count: int,
        offset: int = 0,
        first_seed: int | None = None,
        options: Mapping[str, Any] | None = None,
    ) -> list[AgentId]:
        """Spawn ``count`` digesters spread over this shard's documents, made here (not sent
        as objects: on Ray each shard makes its own at once, and none is pickled); returns
        their ids.

        Digester ``j`` starts one unit right and up of :meth:`spread_positions` ``(count,
        offset)``'s ``j``-th place and is seeded ``j`` (``first_seed`` None) or ``first_seed
        + j``; ``options`` are more :class:`~phago.agents.digester.Digester` arguments.
        What :meth:`DistributedColony.spawn_digesters
        <phago.distributed.DistributedColony.spawn_digesters>` asks of each shard.

        Raises:
            InvalidAgent: the colony refused a digester (nothing is spawned).
            TypeError: ``options`` a digester does not take (the caller checks them first).

        Example:
            >>> from phago import ColonyConfig
            >>> from phago.distributed import ConsistentHashRing, ShardId
            >>> s = ShardedColony(ShardId(0), ColonyConfig(), ConsistentHashRing(1))
            >>> len(s.spawn_digesters(3, first_seed=10)), s.colony.agents[2].seed
            (3, 12)
        """
        places = self.colony.spread_positions(count, offset)
        with cyclic_gc_paused():  # thousands of new agents: no garbage cycles to find
            agents: list[Agent] = [
                Digester(
                    Position(p.x + 1.0, p.y + 1.0),
                    seed=j if first_seed is None else first_seed + j,
                    **(options or {}),
                )
                for j, p in enumerate(places)
            ]
            return self.spawn_many(agents)

    def document_positions(self) -> list[tuple[float, float]]:
        """Positions of this shard's documents, in insertion order."""
        return [(d.position.x, d.position.y) for d in self.colony.substrate._docs]

    def spread_positions(self, count: int, offset: int = 0) -> list[tuple[float, float]]:
        """Where ``count`` agents start, spread over this shard's documents: the position of
        document ``(offset + j * step) % n`` for ``j < count``, ``step = max(1, n // count)``
        (``(0, 0)`` each when it has none). Only these cross to the caller, not every
        position."""
        return [(p.x, p.y) for p in self.colony.spread_positions(count, offset)]

    def documents(self) -> list[Document]:
        """This shard's documents."""
        return self.colony.documents()

    def has_undigested_work(self) -> bool:
        """True while a document is unconsumed or an agent holds undigested text."""
        return self.colony.has_undigested_work()

    def undigested_places(self) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.float64]]:
        """The ids and positions (``n × 2``) of this shard's documents no digester has taken
        in yet, in insertion order (what a caller needs to spawn digesters beside them,
        without their text)."""
        docs = self.colony.substrate.undigested_documents()
        ids = np.array([int(d.id) for d in docs], dtype=np.uint64)
        xy = np.array([(d.position.x, d.position.y) for d in docs], dtype=np.float64)
        return ids, xy.reshape(-1, 2)

    def report(self) -> dict[str, Any]:
        """Figures for cluster stats (plain data, cheap to send)."""
        st = self.stats()
        self._sync_owners()
        g = self.colony.graph
        a, b, _, _, _, _ = g.edge_arrays()
        cross = int(np.count_nonzero(self._owner[a] != self._owner[b])) if len(a) else 0
        return {
            "shard": int(self._id),
            "tick": st.tick,
            "documents_total": st.documents_total,
            "documents_digested": st.documents_digested,
            "graph_nodes": st.graph_nodes,
            "nodes_held": g.node_count,  # owned ones and replicas of other shards' nodes
            "graph_edges": st.graph_edges,
            "agents_alive": st.agents_alive,
            "agents_died": st.agents_died,
            "total_spawned": st.total_spawned,
            "agents_retired": st.agents_retired,
            "cross_shard_edges": cross,
            "ghosts": len(self._ghosts),
            "memory_bytes": self.memory_bytes(),
            "edge_bytes": g.edge_memory_bytes(),
        }

    # ------------------------------------------------------------------ query support

    def apply_reinforcement(
        self,
        pairs: Sequence[tuple[int, int]],
        accessed: Sequence[int],
        increment: float,
        tick: int,
    ) -> int:
        """Reinforce stored edges (by node ids) and bump owned nodes' access counts (logged,
        so a rollback can replay it)."""
        if self._oplog is not None:
            self._oplog.append(
                (self.current_tick, "reinforce", (list(pairs), list(accessed), increment, tick))
            )
        g = self.colony.graph
        index = g._index
        a = [index[x] for x, y in pairs if x in index and y in index]
        b = [index[y] for x, y in pairs if x in index and y in index]
        wired = g.wire_pairs(a, b, tick, g.tentative_weight, increment) if a else 0
        bump = [index[n] for n in accessed if n in index]
        if bump:
            g.increment_access(np.asarray(bump, dtype=np.int64), 1)
        return wired

    def _concept_postings(self) -> dict[str, list[tuple[int, int]]]:
        g = self.colony.graph
        self._sync_owners()
        cache = self._postings_cache
        if cache is not None and cache[0] == g.node_count:
            return cache[1]
        postings: dict[str, list[tuple[int, int]]] = {}
        me = int(self._id)
        codes = g.type_codes()
        concept = list(NodeType).index(NodeType.CONCEPT)
        for i in np.flatnonzero((self._owner[: g.node_count] == me) & (codes == concept)).tolist():
            for term, tf in Counter(label_terms(g.label_at(i))).items():
                postings.setdefault(term, []).append((i, tf))
        self._postings_cache = (g.node_count, postings)
        return postings

    def query_postings(self, terms: Sequence[str]) -> Any:
        """Owned concept count and, per term, ``(node id, label, tf)`` of owned concepts."""
        from phago.distributed.query import LocalQueryResult

        g = self.colony.graph
        postings = self._concept_postings()
        me = int(self._id)
        concept = list(NodeType).index(NodeType.CONCEPT)
        count = int(
            np.count_nonzero((self._owner[: g.node_count] == me) & (g.type_codes() == concept))
        )
        out = {
            t: [(int(g._ids_arr[i]), g.label_at(i), tf) for i, tf in postings.get(t, [])]
            for t in terms
        }
        return LocalQueryResult(me, count, out)

    def query_graph_stats(self, seeds: Sequence[int], candidates: Sequence[int]) -> dict[str, Any]:
        """Stored seed–candidate edges, stored-edge degree of candidates, and for owned candidates
        their access and presentation (provenance) counts."""
        g = self.colony.graph
        self._sync_owners()
        index = g._index
        cand_local = {index[c]: c for c in candidates if c in index}
        edges: list[tuple[int, int, float, int]] = []
        degree: dict[int, int] = {}
        access: dict[int, int] = {}
        presented: dict[int, int] = {}
        pnodes, _ = g.provenance_arrays()
        if cand_local:
            indptr, nbr, slot = g._adjacency()
            pres = np.bincount(pnodes, minlength=g.node_count) if len(pnodes) else None
            for li, c in cand_local.items():
                degree[c] = int(indptr[li + 1] - indptr[li])
                if self._owner[li] == int(self._id):
                    access[c] = int(g.access_counts()[li])
                    presented[c] = int(pres[li]) if pres is not None else 0
            for s in seeds:
                ls = index.get(s)
                if ls is None:
                    continue
                lo, hi = int(indptr[ls]), int(indptr[ls + 1])
                for n_, sl in zip(nbr[lo:hi].tolist(), slot[lo:hi].tolist(), strict=True):
                    hit = cand_local.get(n_)
                    if hit is not None:
                        edges.append((s, hit, float(g._w[sl]), int(g._co[sl])))
        return {
            "edges": edges,
            "degree": degree,
            "access": access,
            "presented": presented,
            "has_provenance": bool(len(pnodes)),
        }

    # ------------------------------------------------------------------ rollback support

    def __getstate__(self) -> dict[str, Any]:
        """Pickled state: per-node columns trimmed to the synced nodes, no scratch column."""
        state = self.__dict__.copy()
        n = self._synced
        for name in ("_owner_buf", "_known_buf", "_pending_buf"):
            state[name] = state[name][:n]
        del state["_scratch_buf"]
        del state["_label_sent_buf"]  # (a restored shard sends every label again once)
        state["_forget_ready"] = None  # (a prepared forget is not state: it waits for a call)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self.__dict__.setdefault("_act_presented", [])
        self.__dict__.setdefault("_act_wires", [])
        self.__dict__.setdefault("_act_cross_count", 0)
        self.__dict__.setdefault("_cross_lists", True)
        self.__dict__.setdefault("_outbox_groups", {})
        if "_degree_cap" not in self.__dict__:
            self._degree_cap = self._new_degree_cap()
        self._scratch_buf = np.full(len(self._owner_buf), _FREE, dtype=_INT)
        self._label_sent_buf = np.zeros(len(self._owner_buf), dtype=np.uint64)
        self.__dict__.pop("_gc_pause", None)  # (pickled before the pause was the process's)
        self.__dict__.setdefault("_forget_ready", None)

    def snapshot(self) -> bytes:
        """The whole shard state as bytes (pickle protocol 5).

        The shared ring and the colony's event history (a report, not state) are left out,
        and so is the op log: a shard restored from the snapshot logs nothing until told
        to (:meth:`trim_oplog`; a local rollback does, a Ray actor's driver keeps the log
        instead).
        """
        ring, history, oplog = self.ring, self.colony._history, self._oplog
        self.ring = None  # type: ignore[assignment]
        self.colony._history = type(history)(maxlen=history.maxlen)
        self._oplog = None
        try:
            return pickle.dumps(self, protocol=5)
        finally:
            self.ring = ring
            self.colony._history = history
            self._oplog = oplog

    @classmethod
    def from_snapshot(cls, data: bytes, ring: ConsistentHashRing) -> ShardedColony:
        """A new shard object from :meth:`snapshot` bytes, attached to ``ring``.

        The cyclic collector is paused while it loads: unpickling creates every document
        and node object at once, none of them in a cycle, and the collections that many
        new objects set off took two thirds of the time (W3 100k, a shard's 50,000
        documents: 0.29 against 0.09 s).
        """
        _PHASES_GC_PAUSE.end()  # the shard this one replaces may have been mid-tick
        with cyclic_gc_paused():
            shard = pickle.loads(data)
        if not isinstance(shard, cls):
            raise TypeError("not a ShardedColony snapshot")
        shard.ring = ring
        return shard

    def trim_oplog(self) -> None:
        """Forget logged operations and log from here on (called when a checkpoint is taken,
        and when a shard is rolled back to one).

        Before the first checkpoint nothing is logged: with nothing to roll back to there is
        nothing to replay, and a log would keep every document stored (its text, were the
        colony to drop it) for as long as no checkpoint comes.
        """
        self._oplog = []

    def oplog(self) -> list[tuple[int, str, Any]]:
        """Operations (ingest, spawn) since the last checkpoint, with the tick they happened
        at (none before the first checkpoint)."""
        return list(self._oplog or ())

    def set_replay(self, ops: list[tuple[int, str, Any]]) -> None:
        """Operations to re-apply, each before the tick it originally preceded."""
        self._replay = list(ops)

    def apply_replay_ops(self, tick: int) -> int:
        """Re-apply logged operations of ticks ``<= tick``; returns how many."""
        due = [op for op in self._replay if op[0] <= tick]
        self._replay = [op for op in self._replay if op[0] > tick]
        for _, kind, data in due:
            if kind == "ingest":
                title, content, (x, y), did = data
                self.ingest_document_direct(title, content, Position(x, y), DocumentId(did))
            elif kind == "ingest_batch":
                self.ingest_batch(data)
            elif kind == "reinforce":
                self.apply_reinforcement(*data)
            elif kind == "retire":
                self.retire_agents(data)
            elif kind == "forget":
                self.forget_documents(*data)
            elif kind == "forget_renumber":
                self.forget_renumber(data)
            elif kind == "spawn_digesters":
                self.spawn_digesters(*data)
            else:
                self.spawn(_replayed(data))
        return len(due)

    # ------------------------------------------------------------------ forgetting

    def _between_ticks(self) -> None:
        """Raise :class:`~phago.errors.PhaseOrderError` unless the colony stands between
        ticks (its last phase was Advance, and it did not raise)."""
        colony = self.colony
        raised = getattr(colony, "_phase_raised", None)
        if colony._phase != "advance" or raised is not None:
            raise PhaseOrderError(
                f"{self._id}: documents can only be forgotten between ticks, but the last "
                f"phase was {colony._phase}()" + (f", which raised ({raised})" if raised else "")
            )

    def forget_presented(self, doc_ids: Sequence[int]) -> PresentedPart:
        """Planning a forget, round 1 (:func:`phago.distributed.forget.presented_pairs`).

        Raises:
            PhaseOrderError: the shard is in the middle of a tick.
        """
        self._between_ticks()
        # a forget's rounds copy the shard's graph, substrate and agents' states (objects in
        # no cycle): with the collector on, those copies started collections of the whole
        # process; every round runs with it paused, what it leaves in the oldest generation
        with cyclic_gc_paused(to_oldest=True):
            return presented_pairs(forget_view(self.colony), doc_ids)

    def forget_needs(self, plan: ForgetPlan, candidates: npt.NDArray[np.uint64]) -> NeedsPart:
        """Planning a forget, round 2 (:func:`phago.distributed.forget.support_needs`)."""
        with cyclic_gc_paused(to_oldest=True):
            return support_needs(forget_view(self.colony), plan, candidates)

    def forget_supported(
        self, plan: ForgetPlan, since: IntArray, needed: npt.NDArray[np.bool_]
    ) -> IntArray:
        """Planning a forget, round 3 (:func:`phago.distributed.forget.supported_pairs`)."""
        with cyclic_gc_paused(to_oldest=True):
            return supported_pairs(forget_view(self.colony), plan, since, needed)

    def forget_prepare(
        self, doc_ids: Sequence[int], plan: ForgetPlan, token: str | None = None
    ) -> None:
        """The first half of :meth:`forget_documents`: work out this shard's forget and
        check that it restores, changing nothing; the result waits for
        ``forget_documents(doc_ids, plan, token)``. A cluster prepares every shard before
        any of them forgets, so that a shard that cannot forget leaves every shard as it
        was (:meth:`DistributedColony.forget_documents
        <phago.distributed.colony.DistributedColony.forget_documents>`). The prepared forget
        holds the shard's new graph and substrate until it is applied or dropped
        (:meth:`forget_abort`).

        Raises:
            PhaseOrderError: the shard is in the middle of a tick.
            StoreError: the result would not restore.
        """
        from phago.state import checked_document_ids

        self._forget_ready = None  # (an earlier one goes, even if this one fails)
        with cyclic_gc_paused(to_oldest=True):
            ready = self._prepared_forget(checked_document_ids(doc_ids), plan, token)
        self._forget_ready = ready

    def forget_abort(self, token: str | None = None) -> None:
        """Drop the forget :meth:`forget_prepare` prepared (under ``token``; None: any)."""
        ready = self._forget_ready
        if ready is not None and (token is None or ready.token == token):
            self._forget_ready = None

    def forget_documents(
        self, doc_ids: Sequence[int], plan: ForgetPlan, token: str | None = None
    ) -> dict[str, Any]:
        """Forget documents on this shard, in place, following the cluster's ``plan``
        (:func:`phago.state.forget_documents` with the nodes this shard owns), and leave the
        shard as loading a store forgotten in would: its ghost flags and degree-cap rows
        follow the renumbered nodes, its cached ghosts lose the removed concepts and the
        forgotten documents, and it sends every label again once (as a loaded shard does).
        The degree-cap drops in flight, which name other shards' nodes too, are renumbered
        by :meth:`forget_renumber` once every shard has forgotten. Logged, so that a
        rollback replays it.

        With the ``token`` of a :meth:`forget_prepare` of the same documents at this tick,
        it applies what that prepared; otherwise it works the forget out first.

        Returns:
            ``documents_removed`` (held here), ``edges_removed``, ``edges_weakened``,
            ``nodes_removed`` (owned concepts removed) and ``kept`` (the old indices of the
            nodes kept, in their new order; None when none was removed).

        Raises:
            PhaseOrderError: the shard is in the middle of a tick (nothing changes).
            StoreError: the result would not restore (nothing changes).
        """
        from phago.state import checked_document_ids

        ids = checked_document_ids(doc_ids)
        ready, self._forget_ready = self._forget_ready, None
        wanted = (token, ids, self.current_tick)
        with cyclic_gc_paused(to_oldest=True):
            if token is None or ready is None or (ready.token, ready.ids, ready.tick) != wanted:
                ready = self._prepared_forget(ids, plan, token)
            return self._apply_forget(ready)

    def _prepared_forget(
        self, ids: list[int], plan: ForgetPlan, token: str | None
    ) -> _PreparedForget:
        """This shard's forget of ``ids`` by ``plan``, worked out and checked; the shard
        is unchanged."""
        from phago import store
        from phago.state import forget_documents as forget_in_state

        self._between_ticks()
        colony = self.colony
        state, whole = forget_state(colony)
        before = [dict(a.state) for a in state.agents]
        known, pending = self.ghost_flags()
        cap = self.degree_cap_state()
        ghosts = [store._ghost_dict(g) for g in self._ghosts.all_nodes()]
        owned = self.ring.get_shards(state.graph.ids) == int(self._id)
        report = forget_in_state(state, ids, plan, owned)
        kept = report.kept_nodes if report.nodes_removed else None
        if kept is not None:
            known, pending = known[kept], pending[kept]
            for key in ("cap_reported", "cap_table"):
                if key in cap:
                    cap[key] = np.asarray(cap[key])[kept]
            if "cap_inflight" in cap:  # the node here; the edge's ends: forget_renumber
                rows = np.asarray(cap["cap_inflight"], dtype=_INT).reshape(-1, 4)
                new = _new_indices(kept, rows[:, 3])
                rows = rows[new[rows[:, 3]] >= 0]
                rows[:, 3] = new[rows[:, 3]]
                cap["cap_inflight"] = rows
        store._forget_ghosts(ghosts, {int(x) for x in plan.drop.tolist()}, set(ids))
        graph, substrate = restored_parts(state)  # (the check: raises before any change)
        cache = GhostNodeCache(self._ghosts.capacity)
        for g in ghosts:
            cache.insert(store._ghost(g))
        return _PreparedForget(
            token=token,
            ids=ids,
            plan=plan,
            tick=self.current_tick,
            owned_before=self.node_count,
            report=report,
            kept=kept,
            graph=graph,
            substrate=substrate,
            agents=state.agents,  # (not the state: its captured graph is not kept)
            before=before,
            whole=whole,
            known=known,
            pending=pending,
            cap=cap,
            ghosts=cache,
        )

    def _apply_forget(self, ready: _PreparedForget) -> dict[str, Any]:
        """Put a prepared forget in place (nothing here checks or can refuse it)."""
        colony = self.colony
        colony._graph, colony.substrate = ready.graph, ready.substrate
        reload_agents(colony, ready.agents, ready.before, ready.whole)
        colony.view.forget_prefetched()
        self._reset_node_columns()
        self.set_ghost_flags(ready.known, ready.pending)
        self._ghosts = ready.ghosts
        cap = ready.cap
        if "cap_reported" in cap:
            self.set_degree_cap_state(
                cap["cap_reported"], cap["cap_table"], cap.get("cap_inflight"), cap
            )
        if self._oplog is not None:
            self._oplog.append((self.current_tick, "forget", (ready.ids, ready.plan)))
        report = ready.report
        return {
            "documents_removed": report.documents_removed,
            "edges_removed": report.edges_removed,
            "edges_weakened": report.edges_weakened,
            "nodes_removed": ready.owned_before - self.node_count,
            "kept": ready.kept,
        }

    def forget_renumber(self, kept: Mapping[int, IntArray]) -> None:
        """After every shard has forgotten (:meth:`forget_documents`): renumber the ends of
        the degree-cap drops in flight by the storing shards' new node indices (``kept``:
        for each shard whose nodes were renumbered, the old indices of those it kept),
        dropping those naming a removed node. Logged, so that a rollback replays it."""
        if self._oplog is not None:
            self._oplog.append((self.current_tick, "forget_renumber", dict(kept)))
        if self._degree_cap is None or not kept:
            return
        cap = self.degree_cap_state()
        rows = np.asarray(cap["cap_inflight"], dtype=_INT).reshape(-1, 4)
        if not len(rows):
            return
        keep = np.ones(len(rows), dtype=np.bool_)
        for src, old in kept.items():
            at = np.flatnonzero(rows[:, 0] == int(src))
            if not len(at):
                continue
            new = _new_indices(np.asarray(old, dtype=_INT), rows[at, 1:3].ravel())
            a, b = new[rows[at, 1]], new[rows[at, 2]]
            keep[at] = (a >= 0) & (b >= 0)
            rows[at, 1], rows[at, 2] = a, b
        self.set_degree_cap_state(cap["cap_reported"], cap["cap_table"], rows[keep], cap)

    def _reset_node_columns(self) -> None:
        """Drop the per-node columns (a forget renumbered the nodes): they are rebuilt from
        the graph, as for a shard just loaded (every label is sent again once)."""
        self._owner_buf = np.zeros(0, dtype=_INT)
        self._known_buf = np.zeros(0, dtype=np.bool_)
        self._pending_buf = np.zeros(0, dtype=np.bool_)
        self._label_sent_buf = np.zeros(0, dtype=np.uint64)
        self._scratch_buf = np.zeros(0, dtype=_INT)
        self._synced = 0
        self._owned_count = 0
        self._postings_cache = None
        self._edge_manager = CrossShardEdgeManager()
        self._edge_manager_tick = -1

    # ------------------------------------------------------------------ presentation hook

    def on_present(
        self,
        idx: np.ndarray,
        node_type: NodeType,
        position: Position,
        tick: int,
        document: DocumentId | None,
    ) -> None:
        """Note a presentation; those of concepts other shards own are routed to their
        owners when Act ends (:meth:`flush_act`)."""
        if len(idx):  # (routing counts per presentation with reduceat: none may be empty)
            doc = None if document is None else int(document)
            code = _TYPE_CODE[node_type]
            self._act_presented.append((idx, code, position.x, position.y, doc, tick))

    def _batch(self, dest: int, tick: int) -> UpdateBatch:
        b = self._outbox.get(dest)
        if b is None:
            b = self._outbox[dest] = UpdateBatch(int(self._id), dest, tick)
        return b

    def wire(
        self,
        idx: np.ndarray,
        pairs: np.ndarray | None,
        tick: int,
        tentative: float | None,
        increment: float | None,
    ) -> int:
        """Note a presentation's pairs for wiring when Act ends (:meth:`flush_act`): here
        if this shard stores the edge, else sent to the shard that does. Returns the
        number of pairs (self-pairs dropped)."""
        if pairs is None:
            if len(idx) < 2:
                return 0
            i, j = _triu(len(idx))
        else:
            if len(pairs) == 0:
                return 0
            i, j = pairs[:, 0], pairs[:, 1]
        a, b = idx[i], idx[j]
        keep = a != b
        if not keep.all():
            a, b = a[keep], b[keep]
        if len(a):
            self._act_wires.append((a, b, tick, tentative, increment))
        return len(a)

    def flush_act(self) -> None:
        """Route this Act's presentations and wire its pairs, in bulk and in call order.

        Nothing in Act reads an edge, and every presentation's nodes already exist, so
        doing this once when Act ends gives exactly what doing it call by call would: the
        same local edges in the same order, the same presentation groups and edge parts in
        each destination's batch, the same cross-shard edges and ghost flags.
        """
        if self._act_presented or self._act_wires:
            self._sync_owners()
            self._route_presentations()
            self._route_wiring()

    def _route_presentations(self) -> None:
        pres, self._act_presented = self._act_presented, []
        if not pres:
            return
        idx = np.concatenate([p[0] for p in pres]) if len(pres) > 1 else pres[0][0]
        owners = self._owner_buf[idx]
        remote = owners != int(self._id)
        if not remote.any():
            return
        n = len(pres)
        sizes = np.fromiter((len(p[0]) for p in pres), dtype=_INT, count=n)
        starts = np.cumsum(sizes) - sizes
        kinds = np.fromiter((p[1] for p in pres), dtype=np.int8, count=n)
        xs = np.fromiter((p[2] for p in pres), dtype=np.float64, count=n)
        ys = np.fromiter((p[3] for p in pres), dtype=np.float64, count=n)
        has_doc = np.fromiter((p[4] is not None for p in pres), dtype=np.bool_, count=n)
        docs = np.fromiter((p[4] or 0 for p in pres), dtype=np.uint64, count=n)
        ids = self.colony.graph._ids_arr
        for dest in np.flatnonzero(np.bincount(owners[remote])).tolist():
            mine = owners == dest
            counts = np.add.reduceat(mine, starts, dtype=_INT)
            sel = np.flatnonzero(counts)  # the presentations with concepts ``dest`` owns
            self._batch(dest, pres[0][5])
            nodes = idx[mine]
            self._outbox_groups.setdefault(dest, []).append(
                PresentationGroups(
                    self._labels_for(nodes, dest),
                    np.cumsum(counts[sel]),
                    kinds[sel],
                    xs[sel],
                    ys[sel],
                    docs[sel],
                    has_doc[sel],
                    ids[nodes],
                )
            )

    def _route_wiring(self) -> None:
        wires, self._act_wires = self._act_wires, []
        if not wires:
            return
        if len(wires) == 1:
            a, b = wires[0][0], wires[0][1]
        else:
            a = np.concatenate([w[0] for w in wires])
            b = np.concatenate([w[1] for w in wires])
        g = self.colony.graph
        ids = g._ids_arr
        a_is_lo = ids[a] < ids[b]
        lo = np.where(a_is_lo, a, b)  # the end with the smaller NodeId: its owner stores the edge
        hi = np.where(a_is_lo, b, a)
        owner = self._owner_buf
        o_lo, o_hi = owner[lo], owner[hi]
        local = o_lo == int(self._id)
        cross = o_lo != o_hi
        sizes = np.fromiter((len(w[0]) for w in wires), dtype=_INT, count=len(wires))
        ends = np.cumsum(sizes)
        starts = ends - sizes
        # runs of calls with the same tick, tentative and increment: (pair span, call)
        runs: list[tuple[int, int, int]] = []
        run_start = 0
        for k in range(1, len(wires) + 1):
            if k < len(wires) and wires[k][2:] == wires[run_start][2:]:
                continue
            runs.append((int(starts[run_start]), int(ends[k - 1]), run_start))
            run_start = k
        # local edges: one wiring per run
        for s0, s1, k in runs:
            sel = local[s0:s1]
            if sel.any():
                _, _, tick, tentative, increment = wires[k]
                g.wire_pairs(a[s0:s1][sel], b[s0:s1][sel], tick, tentative, increment)
        mine = local & cross  # stored here, the other end owned elsewhere: a ghost
        if mine.any():
            self._mark_ghosts_pending(hi[mine])
        n_cross = int(np.count_nonzero(cross))
        self._act_cross_count += n_cross
        if n_cross and self._cross_lists:
            base = self.config.tentative_weight
            weights = np.array([base if w[3] is None else w[3] for w in wires], dtype=np.float64)
            self._act_cross.append(
                CrossShardEdgeArray(
                    ids[lo[cross]],
                    ids[hi[cross]],
                    o_lo[cross],
                    o_hi[cross],
                    np.repeat(weights, sizes)[cross],
                )
            )
        remote = ~local
        if not remote.any():
            return
        # one part per destination and run, in that order: the receiver wires a run's pairs
        # in one pass, in order, which is what wiring its calls' pairs in turn gives (see
        # _seal). The remote pairs are grouped by (destination, run) with one stable sort.
        calls = np.repeat(np.arange(len(wires), dtype=_INT), sizes)
        at = np.flatnonzero(remote)
        key = o_lo[at]
        if len(runs) > 1:
            run_of = np.repeat(np.arange(len(runs), dtype=_INT), [s1 - s0 for s0, s1, _ in runs])
            key = key * len(runs) + run_of[at]
        order, groups = stable_groups(key)
        at = at[order]
        sa, sb, sc = a[at], b[at], calls[at]
        for k, c0, c1 in groups:
            dest, r = divmod(k, len(runs))
            self._batch(dest, wires[0][2])
            _, _, _, tentative, increment = wires[runs[r][2]]
            self._outbox_edges.setdefault(dest, []).append(
                (sa[c0:c1], sb[c0:c1], tentative, increment, sc[c0:c1])
            )

    # ------------------------------------------------------------------ exchange

    def _labels_for(self, nodes: npt.NDArray[np.int64], dest: int) -> list[str]:
        """The labels to send ``dest`` with the node occurrences ``nodes`` (local indices,
        in the order ``dest`` takes them), and note them sent.

        A node's label goes with its first occurrence unless this shard has sent it to
        ``dest`` before; every other occurrence carries ``""``. ``dest`` never drops a node,
        so it holds each node whose label it was sent; it creates a missing node at its
        first occurrence, which then has the label. A label costs a lookup here, bytes on
        the way and a string there; once a run has warmed up, ``dest`` holds nearly every
        node sent to it (W3: 96% of the labels in update batches).
        """
        labels = self.colony.graph._labels
        if dest >= _LABEL_SENT_BITS:
            return [labels[i] for i in nodes.tolist()]
        fresh = K.first_unsent(nodes, self._label_sent_buf, _LABEL_SENT_BIT[dest])
        out = [_HELD] * len(nodes)
        for at, i in zip(fresh.tolist(), nodes[fresh].tolist(), strict=True):
            out[at] = labels[i]
        return out

    def _seal(self, batch: UpdateBatch, parts: list[_EdgePart]) -> None:
        """Fill ``batch``'s reference table and edge groups from this tick's wiring calls.

        References are numbered in order of first appearance over each wiring call's ``a``
        ends then its ``b`` ends, call after call, and their ids, labels and types are
        gathered in one pass. The numbering uses the per-node scratch column and leaves it
        all ``_FREE`` again.
        """
        g = self.colony.graph
        if len(parts) == 1:
            a, b, _, _, calls = parts[0]
        else:
            a = np.concatenate([p[0] for p in parts])
            b = np.concatenate([p[1] for p in parts])
            calls = np.concatenate([p[4] for p in parts])
        part_ends = np.cumsum([len(p[0]) for p in parts], dtype=_INT)
        nodes, ref_a, ref_b = K.first_appearance_refs(
            a, b, calls, part_ends, self._scratch_buf, _FREE
        )
        batch.ref_ids = g._ids_arr[nodes]
        batch.ref_labels = self._labels_for(nodes, batch.dest)
        batch.ref_types = g.type_codes()[nodes]
        total = 0
        weights: tuple[float | None, float | None] | None = None
        for part in parts:
            tentative, increment = part[2], part[3]
            total += len(part[0])
            if (tentative, increment) == weights:
                # the same weights as the group before: one group (the receiver wires a
                # group in one pass, in order, which is what wiring the parts in turn gives)
                batch.edge_ends[-1] = total
                continue
            weights = (tentative, increment)
            batch.edge_ends.append(total)
            batch.edge_tentative.append(tentative)
            batch.edge_increment.append(increment)
        if len(nodes) <= _SMALL_REFS:  # references as 16-bit integers where they fit
            ref_a, ref_b = ref_a.astype(np.uint16), ref_b.astype(np.uint16)
        batch.edge_a = ref_a
        batch.edge_b = ref_b

    def take_outbox(self) -> list[UpdateBatch]:
        """Updates produced since the last call, one batch per destination (sorted)."""
        self.flush_act()
        out = []
        for dest in sorted(self._outbox):
            batch = self._outbox[dest]
            groups = self._outbox_groups.get(dest)
            if groups:
                batch.groups = PresentationGroups.concat(groups)
            parts = self._outbox_edges.get(dest)
            if parts:
                self._seal(batch, parts)
            out.append(batch)
        self._outbox = {}
        self._outbox_groups = {}
        self._outbox_edges = {}
        return out

    def take_cross_shard_edges(self) -> CrossShardEdgeArray:
        """Cross-shard edges produced since the last call (see also
        :meth:`take_cross_shard_count`)."""
        self.flush_act()
        out = CrossShardEdgeArray.concat(self._act_cross)
        self._act_cross = []
        self._act_cross_count = 0
        return out

    def take_cross_shard_count(self) -> int:
        """The number of cross-shard edges produced since the last call, without their
        list (the list is dropped: what an Act that wants only the number calls)."""
        self.flush_act()
        n, self._act_cross_count = self._act_cross_count, 0
        self._act_cross = []
        return n

    def receive_updates(self, batches: Iterable[UpdateBatch]) -> int:
        """Apply batches from other shards, in source order. Returns edges co-activated.

        A tick's batches (all of one tick, presentations sent with their NodeIds, as
        :meth:`take_outbox` seals them) are taken together: one lookup and one creation of
        the nodes they present and reference, one wiring call per run of co-activations
        with the same weights, whichever batch they came in. The graph ends exactly as
        when they are taken one by one (each batch's presentations, then its references,
        then its edges), which other batches are.
        """
        me = int(self._id)
        ordered = sorted(batches, key=lambda b: (b.tick, b.source))
        for batch in ordered:
            if batch.dest != me:
                raise RoutingFailed(f"batch for shard-{batch.dest} delivered to {self._id}")
        if len(ordered) > 1 and all(
            b.tick == ordered[0].tick and len(b.groups.ids) == len(b.groups.labels) for b in ordered
        ):
            return self._receive_together(ordered)
        return self._receive_each(ordered)

    def _receive_each(self, batches: list[UpdateBatch]) -> int:
        """:meth:`receive_updates` one batch after another (sorted and checked)."""
        g = self.colony.graph
        wired = 0
        referenced = []
        for batch in batches:
            if batch.groups:
                self._present_groups(batch.groups, batch.tick)
            if not len(batch.edge_a):
                continue
            local = self._local_refs(batch)
            la, lb = local[batch.edge_a], local[batch.edge_b]
            for start, end, tentative, increment in batch.edge_groups():
                wired += g.wire_pairs(
                    la[start:end], lb[start:end], batch.tick, tentative, increment
                )
            referenced.append(local)
        self._referenced(referenced)
        return wired

    def _receive_together(self, batches: list[UpdateBatch]) -> int:
        """:meth:`receive_updates` of one tick's batches (sorted and checked) at once.

        The batches' presented labels and references become one run of node occurrences,
        batch by batch (presentations, then references where the batch has edges), for
        :meth:`HebbianGraph._meet_ids`; the presentations' documents are recorded in that
        order, and the co-activation groups wired in order, consecutive groups with the
        same weights in one call.
        """
        g = self.colony.graph
        tick = batches[0].tick
        # the occurrences in order, as segments: a batch's presented labels, then its
        # references where it has edges; each kind's columns are joined, then put in place
        # with one mask (presented or not)
        seg_len: list[int] = []
        seg_shown: list[bool] = []
        labels: list[str] = []
        shown: list[PresentationGroups] = []
        r_ids, r_types = [], []
        refs_at: list[int] = []  # where each wired batch's references start
        at = 0
        for b in batches:
            k = len(b.groups.labels)
            if k:
                shown.append(b.groups)
                labels.extend(b.groups.labels)
                seg_len.append(k)
                seg_shown.append(True)
                at += k
            r = len(b.ref_ids) if len(b.edge_a) else 0
            if r:
                r_ids.append(b.ref_ids)
                r_types.append(b.ref_types)
                labels.extend(b.ref_labels)
                seg_len.append(r)
                seg_shown.append(False)
                refs_at.append(at)
                at += r
        if not at:
            return 0
        presented = np.repeat(np.array(seg_shown), seg_len)
        nids = np.empty(at, dtype=np.uint64)
        codes = np.empty(at, dtype=np.int8)
        xs = np.zeros(at)
        ys = np.zeros(at)
        docs = np.zeros(at, dtype=np.uint64)
        with_doc = np.zeros(at, dtype=np.bool_)
        if shown:
            grp = PresentationGroups.concat(shown)
            sizes = np.diff(grp.ends, prepend=0)
            nids[presented] = grp.ids
            codes[presented] = np.repeat(grp.types, sizes)
            xs[presented] = np.repeat(grp.x, sizes)
            ys[presented] = np.repeat(grp.y, sizes)
            docs[presented] = np.repeat(grp.docs, sizes)
            with_doc[presented] = np.repeat(grp.has_doc, sizes)
        if r_ids:
            referenced_only = ~presented
            nids[referenced_only] = np.concatenate(r_ids)
            codes[referenced_only] = np.concatenate(r_types)
        out, _ = g._meet_ids(nids, labels, codes, xs, ys, tick, presented)
        if with_doc.any():
            g._append_provenance(out[with_doc], docs[with_doc], tick)
        wired = 0
        run: tuple[list[IntArray], list[IntArray], float | None, float | None] | None = None
        referenced = []
        wired_batches = (b for b in batches if len(b.edge_a) and len(b.ref_ids))
        for start, b in zip(refs_at, wired_batches, strict=True):
            local = out[start : start + len(b.ref_ids)]
            la, lb = local[b.edge_a], local[b.edge_b]
            for s0, s1, tentative, increment in b.edge_groups():
                if run is not None and (run[2], run[3]) != (tentative, increment):
                    wired += _wire_run(g, run, tick)
                    run = None
                if run is None:
                    run = ([], [], tentative, increment)
                run[0].append(la[s0:s1])
                run[1].append(lb[s0:s1])
            referenced.append(local)
        if run is not None:
            wired += _wire_run(g, run, tick)
        self._referenced(referenced)
        return wired

    def _referenced(self, referenced: list[IntArray]) -> None:
        """After taking batches: extend the owner columns to the nodes they added, and
        flag every reference owned elsewhere (each is an edge end) for a ghost."""
        self._sync_owners()  # once, for every node the batches added
        me = int(self._id)
        for local in referenced:
            self._mark_ghosts_pending(local[self._owner_buf[local] != me])

    def _present_groups(self, groups: PresentationGroups, tick: int) -> None:
        """Present each group, in order, as the sender's presentation: one graph call per
        run of groups with the same node type."""
        g = self.colony.graph
        ends = groups.ends
        with_ids = len(groups.ids) == len(groups.labels)
        for code, g0, g1 in groups.runs():
            l0 = int(ends[g0 - 1]) if g0 else 0
            l1 = int(ends[g1 - 1])
            g._present_groups(
                groups.labels[l0:l1],
                (ends[g0:g1] - l0).tolist(),
                _TYPES[code],
                groups.x[g0:g1].tolist(),
                groups.y[g0:g1].tolist(),
                tick,
                doc_columns=(groups.docs[g0:g1], groups.has_doc[g0:g1]),
                ids=groups.ids[l0:l1] if with_ids else None,
            )

    def _local_refs(self, batch: UpdateBatch) -> npt.NDArray[np.int64]:
        """Local indices of ``batch``'s referenced nodes, adding missing ones in table order.

        A missing node is added as ``add_node(label, type, (0, 0), tick, access_count=0)``
        would add it; the label is already normalised and the id is the sender's (the same
        function of type and label), so neither is recomputed.
        """
        g = self.colony.graph
        found = g.indices_of_ids(batch.ref_ids)
        missing = np.flatnonzero(found < 0)
        if len(missing):
            labels = batch.ref_labels
            found[missing] = g._new_nodes(
                batch.ref_ids[missing].tolist(),
                [labels[r] for r in missing.tolist()],
                batch.ref_types[missing].tolist(),
                0.0,
                0.0,
                batch.tick,
                0,
            )
        return found

    def ghost_requests(self) -> dict[int, list[int]]:
        """Remote nodes this shard stores edges to and has no ghost for, by owner shard."""
        self._sync_owners()
        pending = np.flatnonzero(self._pending_buf[: self._synced])
        if not len(pending):
            return {}
        self._pending_buf[pending] = False
        self._known_buf[pending] = True
        ids = self.colony.graph._ids_arr[pending]
        owners = self._owner_buf[pending]
        shards, first = np.unique(owners, return_index=True)
        if len(shards) == 1:
            return {int(shards[0]): ids.tolist()}
        # owners in order of their first pending node, each with its nodes in index order
        return {s: ids[owners == s].tolist() for s in shards[np.argsort(first)].tolist()}

    def unresolved_ghosts(self, requests: dict[int, list[int]]) -> list[GhostNode]:
        """Label-only ghosts for requested remote nodes (when ghosts are not resolved)."""
        g = self.colony.graph
        return [
            GhostNode(NodeId(nid), ShardId(owner), g.label_at(g.index_of(NodeId(nid))))
            for owner, ids in sorted(requests.items())
            for nid in ids
        ]

    def resolve_ghost_nodes(self, node_ids: Sequence[int]) -> list[GhostNode]:
        """Full data of owned nodes, as resolved ghosts (unknown or foreign ids are skipped).

        Ghosts carry a node's data, not its provenance (``documents`` is empty).
        """
        return self._resolve_ghost_groups([node_ids])[0]

    def _resolve_ghost_groups(self, groups: Sequence[Sequence[int]]) -> list[list[GhostNode]]:
        """:meth:`resolve_ghost_nodes` of each group, all looked up and read in one pass."""
        g = self.colony.graph
        self._sync_owners()
        flat = list(chain.from_iterable(groups))
        li = g.indices_of_ids(flat)
        ok = li >= 0
        ok[ok] = self._owner_buf[li[ok]] == int(self._id)
        out: list[list[GhostNode]] = [[] for _ in groups]
        if not ok.any():
            return out
        sel = li[ok]
        labels = g._labels
        types = g.type_codes()[sel].tolist()
        xs = g.positions()[sel, 0].tolist()
        ys = g.positions()[sel, 1].tolist()
        access = g.access_counts()[sel].tolist()
        created = g.created_ticks()[sel].tolist()
        me = self._id
        node_types = _TYPES
        ghosts = [
            GhostNode(
                nid,
                me,
                labels[i],
                NodeData(nid, labels[i], node_types[t], Position(x, y), ac, ct),
            )
            for nid, i, t, x, y, ac, ct in zip(
                np.asarray(flat, dtype=np.uint64)[ok].tolist(),
                sel.tolist(),
                types,
                xs,
                ys,
                access,
                created,
                strict=True,
            )
        ]
        # the resolved ghosts of each group: its share of ``ok``, in order
        ends = np.cumsum([len(grp) for grp in groups])
        taken = np.concatenate([[0], np.cumsum(ok)])[ends].tolist()  # resolved before each end
        start = 0
        for k, end in enumerate(taken):
            out[k] = ghosts[start:end]
            start = end
        return out

    def ghost_nodes(self) -> list[GhostNode]:
        """The ghosts in this shard's cache (what a remote caller can read of it)."""
        return list(self._ghosts.all_nodes())

    def receive_answers(self, items: Iterable[GhostNode | CapOrder]) -> None:
        """What owners answered at last tick's Decay (delivered at this one's): ghosts go
        into the cache, degree-cap orders are applied (see
        :mod:`phago.distributed.degree_cap`)."""
        items = list(items)
        orders = [x for x in items if type(x) is CapOrder]
        if orders:
            self.apply_cap_orders(orders)
            self.store_ghosts(x for x in items if type(x) is not CapOrder)  # type: ignore[misc]
        else:
            self.store_ghosts(items)  # type: ignore[arg-type]

    # ------------------------------------------------------------------ degree cap

    def _new_degree_cap(self) -> GlobalDegreeCap | None:
        k = self.config.max_edge_degree
        return None if k is None else GlobalDegreeCap(int(self._id), k)

    def _active_cap(self) -> GlobalDegreeCap | None:
        """The degree cap's state when it has work across shards (on, and shards > 1)."""
        return self._degree_cap if self.ring.shard_count > 1 else None

    def cap_dropped(self) -> int:
        """Edges this shard removed for the degree cap across shards (0 when it is off)."""
        return 0 if self._degree_cap is None else self._degree_cap.dropped

    def apply_cap_orders(self, orders: Iterable[CapOrder]) -> int:
        """Remove the edges owners ordered dropped; keep their asks for the next Decay.

        Returns:
            The number of edges removed.
        """
        if self._degree_cap is None:
            return 0
        self._sync_owners()
        return self._degree_cap.apply_orders(self.colony.graph, self._owner, orders)

    def degree_reports(self, ranking: Sequence[DegreeReport] = ()) -> dict[int, DegreeReport]:
        """Decay: degree changes and asked-for edges of other shards' nodes, by owner
        (``ranking``: the reports :meth:`cap_orders` ranks next, whose nodes' edges here
        are gathered in the same pass)."""
        cap = self._active_cap()
        if cap is None:
            return {}
        self._sync_owners()
        return cap.reports(self.colony.graph, self._owner, ranking, self.colony.substrate.tick)

    def cap_orders(self, reports: Sequence[DegreeReport]) -> dict[int, CapOrder]:
        """Decay, as owner: rank the reported edges of owned nodes (dropping this shard's
        share at once) and ask for the edges of owned nodes over the cap; orders by shard."""
        cap = self._active_cap()
        if cap is None:
            return {}
        self._sync_owners()
        shards = max([self.ring.shard_count, *(int(r.source) + 1 for r in reports)])
        return cap.orders(
            self.colony.graph, self._owner, reports, shards, self.colony.substrate.tick
        )

    def degree_cap_state(self) -> dict[str, npt.NDArray[Any]]:
        """Between ticks: the degree cap's state, ``cap_reported`` and ``cap_table`` (per node,
        trimmed to the node count), ``cap_inflight`` (the drops this shard ordered at its
        last Decay, as rows of storing shard, its local edge ends, node here) and the edges
        its own cap removed that the owners have yet to rank (``cap_capped_ends`` as NodeId
        pairs, the end that keeps each in its rankings first, ``cap_capped_weight``,
        ``cap_capped_ticks`` as creation and removal ticks); empty when the cap is off.
        What :mod:`phago.store` saves."""
        if self._degree_cap is None:
            return {}
        n = self.colony.graph.node_count
        st = self._degree_cap.state()
        capped = self._degree_cap.capped
        # one row per node: the arrays grow only while the cap works across shards, so a
        # single shard's may be shorter than its graph (rows never grown are zeros)
        reported = np.zeros(n, dtype=np.int32)
        table = np.zeros((n, st["table"].shape[1]), dtype=np.int32)
        k = min(n, len(st["reported"]))
        reported[:k] = st["reported"][:k]
        k = min(n, len(st["table"]))
        table[:k] = st["table"][:k]
        return {
            "cap_reported": reported,
            "cap_table": table,
            "cap_inflight": st["inflight"],
            "cap_capped_ends": self.colony.graph._ids_arr[
                np.column_stack([capped.node, capped.other])
            ],
            "cap_capped_weight": capped.weight.copy(),
            "cap_capped_ticks": np.column_stack([capped.created, capped.removed]),
        }

    def set_degree_cap_state(
        self,
        reported: npt.ArrayLike,
        table: npt.ArrayLike,
        inflight: npt.ArrayLike | None = None,
        capped: Mapping[str, npt.ArrayLike] | None = None,
    ) -> None:
        """Restore :meth:`degree_cap_state` (ignored when the cap is off; a state saved
        without drops in flight or capped edges has none). ``capped`` holds the
        ``cap_capped_*`` arrays; an edge naming a node this shard no longer holds (a forget)
        is left out.

        Raises:
            ValueError: the arrays do not have one row per node, a drop in flight names a
                node this shard does not hold, or the capped edges' arrays disagree.
        """
        if self._degree_cap is None:
            return
        graph = self.colony.graph
        n = graph.node_count
        r = np.asarray(reported, dtype=np.int32)
        t = np.asarray(table, dtype=np.int32)
        if t.ndim != 2 or len(r) != n or len(t) != n:
            raise ValueError(f"degree-cap state for {len(r)}/{len(t)} nodes, the graph has {n}")
        edges = None
        if capped is not None and "cap_capped_ends" in capped:
            ids = np.asarray(capped["cap_capped_ends"], dtype=np.uint64).reshape(-1, 2)
            w = np.asarray(capped["cap_capped_weight"], dtype=np.float64)
            ticks = np.asarray(capped["cap_capped_ticks"], dtype=np.int64).reshape(-1, 2)
            if not (len(ids) == len(w) == len(ticks)):
                raise ValueError("the capped edges' ends, weights and ticks differ in length")
            ends = graph.indices_of_ids(ids.ravel()).reshape(-1, 2)
            ok = (ends >= 0).all(axis=1)
            edges = CappedEdges(
                ends[ok, 0].copy(),
                ends[ok, 1].copy(),
                w[ok],
                ticks[ok, 0].copy(),
                ticks[ok, 1].copy(),
            )
        self._degree_cap.set_state(r, t, inflight, edges)

    def store_ghosts(self, ghosts: Iterable[GhostNode]) -> None:
        """Put ghosts into the LRU cache."""
        self._ghosts.insert_many(ghosts)

    # ------------------------------------------------------------------ phases

    def tick_phase(self, phase: TickPhase) -> PhaseResult:
        """Run exactly ``phase`` of the local colony and report counts.

        The runner calls this on every shard for every phase; subclasses may observe or delay
        a phase by overriding it.
        """
        colony = self.colony
        cross: Sequence[CrossShardEdge] = []
        count = 0
        if phase is TickPhase.SENSE:
            colony.sense()
        elif phase is TickPhase.ACT:
            colony.act()
            # routes this Act's updates first
            if self._cross_lists:
                cross = self.take_cross_shard_edges()
                count = len(cross)
            else:
                count = self.take_cross_shard_count()
        elif phase is TickPhase.DECAY:
            graph_at = getattr(self, "_decay_graph_at", None)
            capped = colony.decay() if graph_at is None else colony.decay_graph(graph_at)
            cap = self._active_cap()
            if cap is not None:  # they keep their places in the rankings across shards
                cap.record_capped(colony.graph, capped, colony.current_tick)
        else:
            colony.advance()
        result = ShardPhaseResult(
            self._id,
            phase,
            colony.current_tick,
            cross,  # type: ignore[arg-type]
            self.node_count,
            colony.graph.edge_count,
        )
        if phase is TickPhase.ACT:
            result.cross_shard_count = count
        return result

    def run_phase(
        self, phase: TickPhase, payload: Any = None, resolve_ghosts: bool = True
    ) -> PhaseResult:
        """What the runner calls: deliver the phase's inbound payload, run the phase, attach
        the outbound payload.

        * Sense: ``payload`` (a dict) may ask for the distribution (``"collect"``) and
          bring the merged one (``"distribution"``).
        * Act: the result carries this tick's update batches, and the cross-shard edges
          produced unless ``payload`` is ``{"cross_shard_edge_lists": False}`` (their number
          comes either way).
        * Decay: ``payload`` is a dict: ``"asks"`` maps each requesting shard to what it
          sent at last tick's Decay (node ids whose ghosts it lacks, then a degree report),
          and ``"inbound"`` lists what other shards sent this one, in source order: their
          answers from last tick's Decay (ghosts and cap orders) and this tick's update
          batches (a plain list is taken as ``"inbound"``). The shard takes the answers and
          batches, decays, reports, and last answers the asks as owner (the ranking reads
          the degrees and edges its reports' pass gathered); the result carries its ghost
          requests and degree reports (per owner) and its answers (ghosts, then a cap
          order, per requesting shard), all for the next tick's Decay.
        * Advance: no payload; the result is the end-of-tick report.

        Ghost requests and degree reports are answered at the owner's next Decay and the
        answers delivered at the Decay after that, so the only data a tick moves between
        shards on its critical path is Act's update batches, on their way to Decay: a
        pipelined backend runs Sense with Act and Decay with Advance, and only the second
        waits for other shards (the Ray backend runs a tick's Decay and Advance and the next
        tick's Sense and Act as one call).

        The cyclic garbage collector is paused from Sense to the end of Advance (see
        :mod:`phago._gc`), so it runs at most once per tick, between ticks: a Ray actor runs
        phases in its own process, outside the runner's per-tick pause. A phase that raises
        ends the pause, and so does a restore (:meth:`from_snapshot`): the pause is the
        process's, not the shard object's.
        """
        if phase is TickPhase.SENSE:
            _PHASES_GC_PAUSE.begin()
        try:
            return self._run_phase(phase, payload, resolve_ghosts)
        except BaseException:
            _PHASES_GC_PAUSE.end()
            raise
        finally:
            if phase is TickPhase.ADVANCE:
                _PHASES_GC_PAUSE.end()

    def decay_substrate(self) -> tuple[float, float]:
        """Decay's part that the next Sense reads (signals, traces, fitness:
        :meth:`Colony.decay_substrate <phago.colony.Colony.decay_substrate>`), run
        ahead of the rest so that a pipelined shard can go on to Advance and its next
        Sense while the other shards' parts for this Decay are on their way; returns its
        wall and CPU milliseconds (for the Decay's result). :meth:`run_graph_decay` then
        runs the rest of the Decay.
        """
        started, cpu_started = time.perf_counter(), time.thread_time()
        self.colony.decay_substrate()
        return (
            (time.perf_counter() - started) * 1000.0,
            (time.thread_time() - cpu_started) * 1000.0,
        )

    def run_graph_decay(self, payload: Any, resolve_ghosts: bool, tick: int) -> PhaseResult:
        """The rest of tick ``tick``'s Decay, after :meth:`decay_substrate`, the Advance
        and the next tick's Sense: what :meth:`run_phase` does for Decay with ``payload``
        (taking the other shards' parts, decaying the graph, reporting, answering), as of
        ``tick``. The shard ends as Decay, Advance and Sense in their order leave it: none
        of the three reads what another changes.
        """
        substrate = self.colony.substrate
        now = substrate.tick
        substrate.tick, self._decay_graph_at = tick, tick
        try:
            return self._run_phase(TickPhase.DECAY, payload, resolve_ghosts)
        finally:
            substrate.tick, self._decay_graph_at = now, None

    def _run_phase(self, phase: TickPhase, payload: Any, resolve_ghosts: bool) -> PhaseResult:
        started, cpu_started = time.perf_counter(), time.thread_time()
        asks: Mapping[int, Sequence[Any]] = {}
        if phase is TickPhase.SENSE:
            if self._replay:
                self.apply_replay_ops(self.current_tick)
            if isinstance(payload, dict):
                self._collect_distribution = bool(payload.get("collect", False))
                if payload.get("distribution") is not None:
                    self._install_distribution(payload["distribution"])
        elif phase is TickPhase.DECAY and payload:
            if isinstance(payload, dict):
                asks = payload.get("asks") or {}
                payload = payload.get("inbound") or []
            self.receive_inbound(payload)
        lists = not (
            phase is TickPhase.ACT
            and isinstance(payload, dict)
            and not payload.get("cross_shard_edge_lists", True)
        )
        self._cross_lists = lists  # routing only counts cross-shard edges when False
        try:
            result = self.tick_phase(phase)
        finally:
            self._cross_lists = True
        if not isinstance(result, ShardPhaseResult):
            result = ShardPhaseResult(
                result.shard_id,
                result.phase,
                result.tick,
                result.cross_shard_edges,
                result.node_count,
                result.edge_count,
                cross_shard_count=len(result.cross_shard_edges),
            )
        if phase is TickPhase.ACT:
            if lists:
                result.cross_shard_count = len(result.cross_shard_edges)
            else:  # counted by the Act (see tick_phase)
                result.cross_shard_edges = CrossShardEdgeArray.empty()  # type: ignore[assignment]
            result.updates = self.take_outbox()
        elif phase is TickPhase.DECAY:
            requests = self.ghost_requests()
            if not resolve_ghosts:
                if requests:
                    self.store_ghosts(self.unresolved_ghosts(requests))
                requests = {}
            outbound: dict[int, list[Any]] = dict(requests)
            ids, reports = _split_asks(asks)
            for owner, report in self.degree_reports(reports).items():
                outbound.setdefault(owner, []).append(report)
            result.ghost_requests = outbound
            result.ghost_answers = self._answer(ids, reports)
        elif phase is TickPhase.ADVANCE:  # Advance: the end-of-tick report the runner reads
            outlook = self.tick_outlook()
            result.wants_distribution = outlook.wants_distribution
            if getattr(self, "_collect_distribution", False):
                result.distribution = self.owned_distribution()
            st = self.colony.substrate
            result.agents_alive = self.colony.alive_count
            result.documents_total = st.document_count
            result.documents_digested = st.document_count - st.undigested_count
            result.busy = outlook.busy
        result.compute_ms = (time.perf_counter() - started) * 1000.0
        result.compute_cpu_ms = (time.thread_time() - cpu_started) * 1000.0
        return result

    def _answer(
        self, ids: list[tuple[int, list[int]]], reports: list[DegreeReport]
    ) -> dict[int, list[Any]]:
        """Decay, last, as owner: answer what other shards sent at last tick's Decay (ghost
        requests as ``(requester, node ids)``, degree reports); returns each requesting (or
        reporting) shard's answers: its ghosts, then a cap order when there is one. Every
        requester's ghosts are resolved in one pass; the reported edges are ranked with
        the degrees and edges this Decay's reports gathered."""
        answers: dict[int, list[Any]] = {}
        if ids:  # every requester's ghosts resolved in one pass
            groups = self._resolve_ghost_groups([g for _, g in ids])
            answers = {req: got for (req, _), got in zip(ids, groups, strict=True)}
        for dest, order in self.cap_orders(reports).items():
            answers.setdefault(dest, []).append(order)
        return answers

    def receive_inbound(self, items: Iterable[Any]) -> None:
        """Decay: what other shards sent this one, in source order: their answers from last
        tick's Decay (ghosts and degree-cap orders, applied first) and this tick's update
        batches."""
        items = list(items)
        batches = [x for x in items if type(x) is UpdateBatch]
        if len(batches) != len(items):
            self.receive_answers(x for x in items if type(x) is not UpdateBatch)
        if batches:
            self.receive_updates(batches)

    # ------------------------------------------------------------------ reports

    @property
    def node_count(self) -> int:
        """Nodes this shard owns."""
        self._sync_owners()
        return self._owned_count

    @property
    def document_count(self) -> int:
        """Documents stored on this shard."""
        return self.colony.substrate.document_count

    def get_node(self, node: NodeId) -> NodeData | None:
        """The data of an owned node (a copy), or None."""
        g = self.colony.graph
        li = g._index.get(node)
        if li is None:
            return None
        self._sync_owners()
        return g.node_at(li) if self._owner[li] == int(self._id) else None

    def stats(self) -> ColonyStats:
        """Shard stats: owned nodes, stored edges, local agents and documents."""
        st = self.colony.stats()
        return ColonyStats(
            tick=st.tick,
            agents_alive=st.agents_alive,
            agents_died=st.agents_died,
            total_spawned=st.total_spawned,
            agents_retired=st.agents_retired,
            graph_nodes=self.node_count,
            graph_edges=st.graph_edges,
            total_signals=st.total_signals,
            documents_total=st.documents_total,
            documents_digested=st.documents_digested,
        )

    def memory_bytes(self) -> int:
        """Bytes held by the shard's arrays (graph columns, edge table, substrate columns)."""
        g = self.colony.graph
        total = g.edge_memory_bytes() + g.node_memory_bytes()
        total += sum(len(s) for s in g._labels) + 64 * g.node_count
        total += sum(len(d.content) for d in self.colony.substrate._docs)
        return total

    def health(self) -> ShardHealth:
        """Real figures: load is agents alive per 100, memory the shard's arrays and texts."""
        pending = sum(len(g) for parts in self._outbox_groups.values() for g in parts)
        pending += sum(len(p[0]) for parts in self._outbox_edges.values() for p in parts)
        return ShardHealth(
            self._id,
            healthy=True,
            load=self.colony.alive_count / 100.0,
            memory_usage_mb=self.memory_bytes() / 2**20,
            pending_operations=pending,
        )

    def shard_info(self, address: str | None = None) -> ShardInfo:
        """A :class:`ShardInfo` describing this shard now."""
        return ShardInfo(
            id=self._id,
            address=address,
            node_count=self.node_count,
            edge_count=self.colony.graph.edge_count,
            document_count=self.document_count,
            memory_bytes=self.memory_bytes(),
        )

    def handle_shard_offline(self, shard: ShardId | int) -> tuple[int, int]:
        """Forget ghosts of an offline shard; returns ``(cross edges dropped, ghosts dropped)``."""
        s = as_shard_id(shard)
        edges = self.edge_manager.remove_shard_edges(s)
        ghosts = self._ghosts.invalidate_shard(s)
        self.peers.pop(s, None)
        return edges, ghosts

    def add_peer(self, shard: ShardId | int, address: str) -> None:
        """Record a peer shard's address."""
        self.peers[as_shard_id(shard)] = address

    def remove_peer(self, shard: ShardId | int) -> None:
        """Forget a peer and its ghosts."""
        self.peers.pop(as_shard_id(shard), None)
        self._ghosts.invalidate_shard(as_shard_id(shard))

    def owned_graph(self) -> OwnedGraph:
        """This shard's part of the global graph (owned nodes, stored edges)."""
        self._sync_owners()
        g = self.colony.graph
        n = g.node_count
        owned = np.flatnonzero(self._owner[:n] == int(self._id))
        ids = g._ids_arr[:n]
        pn, pd = g.provenance_arrays()
        pmask = np.isin(pn, owned)
        a, b, w, co, ct, lt = g.edge_arrays()
        ghost_idx = unique_sorted(np.concatenate([a, b]))
        ghost_idx = ghost_idx[self._owner[ghost_idx] != int(self._id)]
        labels = g._labels
        values = [t.value for t in _TYPES]
        codes = g.type_codes()
        owned_list = owned.tolist()
        ghost_list = ghost_idx.tolist()
        return OwnedGraph(
            node_ids=ids[owned].copy(),
            labels=[labels[i] for i in owned_list],
            node_types=[values[c] for c in codes[owned].tolist()],
            access=g.access_counts()[owned].copy(),
            created=g.created_ticks()[owned].copy(),
            positions=g.positions()[owned].copy(),
            prov_nodes=ids[pn[pmask]].copy(),
            prov_docs=pd[pmask].copy(),
            edge_a=ids[a].copy(),
            edge_b=ids[b].copy(),
            weight=w,
            co_activations=co,
            created_tick=ct,
            last_activated_tick=lt,
            ghost_labels={
                nid: (labels[i], values[c])
                for nid, i, c in zip(
                    ids[ghost_idx].tolist(), ghost_list, codes[ghost_idx].tolist(), strict=True
                )
            },
        )

    def __repr__(self) -> str:
        return f"ShardedColony({self._id}, tick={self.current_tick}, nodes={self.node_count})"
