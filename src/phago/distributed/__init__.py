"""Distributed layer: shards, routing, tick barriers, ghost nodes and cross-shard edges.

Building blocks (ring, coordinator, registry, barrier, ghost cache, edge manager) are pure
in-process logic; the runtime (``ShardedColony``, ``DistributedRunner``, ``DistributedColony``
and the local and Ray backends) builds on them.

Example:
    >>> from phago.distributed import Coordinator, ShardId
    >>> Coordinator(3).route_document(1234) in [ShardId(0), ShardId(1), ShardId(2)]
    True
"""

from __future__ import annotations

from phago.distributed.barrier import TickBarrier

# --- runtime (added by the runner module) ---
from phago.distributed.colony import DistributedColony, DistributedStats, merge_owned_graphs
from phago.distributed.coordinator import Coordinator
from phago.distributed.edge_manager import CrossShardEdgeManager, CrossShardEdgeStats
from phago.distributed.ghost_cache import GhostCacheStats, GhostNodeCache
from phago.distributed.hashing import ConsistentHashRing, RingKey, hash_key, hash_keys
from phago.distributed.messages import CrossShardEdgeArray, UpdateBatch
from phago.distributed.registry import ShardRegistry
from phago.distributed.runner import (
    DistributedRunner,
    DistributedTickResult,
    RecoveryInfo,
    RunnerConfig,
)
from phago.distributed.shard import ShardedColony
from phago.distributed.types import (
    ClusterStats,
    CrossShardEdge,
    DistributedConfig,
    GhostNode,
    PhaseResult,
    ShardHealth,
    ShardId,
    ShardInfo,
    ShardStatus,
    TickPhase,
    as_shard_id,
)

__all__ = [
    "ClusterStats",
    "ConsistentHashRing",
    "Coordinator",
    "CrossShardEdge",
    "CrossShardEdgeArray",
    "CrossShardEdgeManager",
    "CrossShardEdgeStats",
    "DistributedColony",
    "DistributedConfig",
    "DistributedRunner",
    "DistributedStats",
    "DistributedTickResult",
    "GhostCacheStats",
    "GhostNode",
    "GhostNodeCache",
    "PhaseResult",
    "RecoveryInfo",
    "RingKey",
    "RunnerConfig",
    "ShardHealth",
    "ShardId",
    "ShardInfo",
    "ShardRegistry",
    "ShardStatus",
    "ShardedColony",
    "TickBarrier",
    "TickPhase",
    "UpdateBatch",
    "as_shard_id",
    "hash_key",
    "hash_keys",
    "merge_owned_graphs",
]
