"""Value types of the distributed layer: shard ids, phases, cross-shard edges, ghosts, config.

These are small plain dataclasses and enums, mirroring ``phago_distributed::types`` of the
reference (REFERENCE.md §7.1) with two deliberate changes:

* :class:`CrossShardEdge` carries ``from_shard`` as well as ``to_shard``, so a shard can drop the
  incoming edges of a peer that went offline (REFERENCE.md §8 item 27).
* :class:`ShardInfo` has a ``status`` and ``memory_bytes`` and its ``id`` may be left ``None``,
  in which case the registry assigns one; a given id is honoured (§8 item 22).

Everything here pickles, so values can cross process boundaries (e.g. to Ray actors).

Example:
    >>> from phago.distributed.types import ShardId, TickPhase
    >>> str(ShardId(2)), str(TickPhase.ACT)
    ('shard-2', 'Act')
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from enum import Enum
from typing import Any, overload

from phago.errors import ConfigError
from phago.ids import NodeId
from phago.types import NodeData

__all__ = [
    "DEFAULT_VIRTUAL_NODES",
    "ClusterStats",
    "CrossShardEdge",
    "DistributedConfig",
    "GhostNode",
    "PhaseResult",
    "ShardHealth",
    "ShardId",
    "ShardInfo",
    "ShardStatus",
    "TickPhase",
    "as_shard_id",
]

_U32 = 1 << 32

DEFAULT_VIRTUAL_NODES = 4096
"""Virtual nodes per shard on the hash ring, by default.

The reference uses 150. With that few, random positions split the ring unevenly: at 150 one
of two shards owned 53.1% of it (so 53% of the documents and concepts, and as much more work
every tick as the other shard waited for at each barrier), and the largest of 2 to 16
shards owned up to 1.18× an even share. At 4096 the largest share is at most 1.03× an even
one for 2 to 16 shards (1.010× for 2, 1.024× for 8); :mod:`phago.distributed.hashing` caches
the positions, so a ring still builds in milliseconds.
"""


@dataclass(frozen=True, order=True, slots=True, repr=False)
class ShardId:
    """Identifier of a shard: an unsigned 32-bit integer, hashable and ordered.

    Args:
        value: the shard number, ``0 <= value < 2**32``.

    Raises:
        ConfigError: if ``value`` is not an integer in range.

    Example:
        >>> s = ShardId(3)
        >>> int(s), str(s), s.value, s
        (3, 'shard-3', 3, ShardId(3))
        >>> sorted({ShardId(2), ShardId(0), ShardId(2)})
        [ShardId(0), ShardId(2)]
    """

    value: int

    def __post_init__(self) -> None:
        if isinstance(self.value, bool):
            raise ConfigError(f"shard id must be an integer, got {self.value!r}")
        try:
            v = operator.index(self.value)
        except TypeError as exc:
            raise ConfigError(f"shard id must be an integer, got {self.value!r}") from exc
        if not 0 <= v < _U32:
            raise ConfigError(f"shard id must be in [0, 2**32), got {v}")
        object.__setattr__(self, "value", v)

    def __reduce__(self) -> tuple[type[ShardId], tuple[int]]:
        # a constructor call: faster than the frozen slotted dataclass default (see Position)
        return (ShardId, (self.value,))

    def __int__(self) -> int:
        return self.value

    def __index__(self) -> int:
        return self.value

    def __str__(self) -> str:
        return f"shard-{self.value}"

    def __repr__(self) -> str:
        return f"ShardId({self.value})"


def as_shard_id(shard: ShardId | int) -> ShardId:
    """Return ``shard`` as a :class:`ShardId` (ints are wrapped, ShardIds returned as is).

    Example:
        >>> as_shard_id(4) == as_shard_id(ShardId(4))
        True
    """
    return shard if isinstance(shard, ShardId) else ShardId(shard)


class TickPhase(Enum):
    """The phases of one distributed tick, in order. ``str()`` gives the reference's name.

    Example:
        >>> [str(p) for p in TickPhase]
        ['Sense', 'Act', 'Decay', 'Advance']
    """

    SENSE = "Sense"
    ACT = "Act"
    DECAY = "Decay"
    ADVANCE = "Advance"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True, slots=True)
class CrossShardEdge:
    """A Hebbian edge whose endpoints live on different shards. Immutable: replace to update.

    Attributes:
        from_node: the endpoint on ``from_shard``.
        to_node: the endpoint on ``to_shard``.
        from_shard: the shard owning ``from_node`` (missing in the reference, §8 item 27).
        to_shard: the shard owning ``to_node``.
        weight: the edge weight.

    Example:
        >>> from phago.ids import NodeId
        >>> e = CrossShardEdge(NodeId(1), NodeId(2), ShardId(0), ShardId(1), 0.5)
        >>> e.with_weight(0.75).weight, e.weight
        (0.75, 0.5)
    """

    from_node: NodeId
    to_node: NodeId
    from_shard: ShardId
    to_shard: ShardId
    weight: float

    def with_weight(self, weight: float) -> CrossShardEdge:
        """Return a copy of this edge with ``weight``."""
        return replace(self, weight=weight)


@dataclass(slots=True)
class PhaseResult:
    """What one shard reports after running one phase of one tick.

    Example:
        >>> r = PhaseResult(ShardId(0), TickPhase.SENSE, tick=4, node_count=10, edge_count=7)
        >>> r.cross_shard_edges
        []
    """

    shard_id: ShardId
    phase: TickPhase
    tick: int
    cross_shard_edges: list[CrossShardEdge] = field(default_factory=list)
    node_count: int = 0
    edge_count: int = 0


@dataclass(slots=True)
class GhostNode:
    """A local stand-in for a node owned by another shard.

    A ghost starts with its label only; :meth:`resolve` attaches the owner's full node data.

    Example:
        >>> from phago.ids import NodeId
        >>> from phago.types import NodeData, NodeType, Position
        >>> g = GhostNode(NodeId(7), ShardId(1), "ribosome")
        >>> g.is_resolved
        False
        >>> g.resolve(NodeData(NodeId(7), "ribosome", NodeType.CONCEPT, Position(0, 0), 1, 0))
        >>> g.is_resolved
        True
    """

    node_id: NodeId
    shard_id: ShardId
    label: str
    full_data: NodeData | None = None

    def __reduce__(self) -> tuple[type[GhostNode], tuple[Any, ...]]:
        # a constructor call (ghost answers cross between shards every tick)
        return (GhostNode, (self.node_id, self.shard_id, self.label, self.full_data))

    @property
    def is_resolved(self) -> bool:
        """True once the full node data is attached."""
        return self.full_data is not None

    def resolve(self, data: NodeData) -> None:
        """Attach the owner's node data.

        Raises:
            ValueError: if ``data`` describes another node.
        """
        if data.id != self.node_id:
            raise ValueError(f"node data of {data.id} cannot resolve ghost {self.node_id}")
        self.full_data = data


class ShardStatus(Enum):
    """Lifecycle state of a shard as seen by the registry.

    Example:
        >>> str(ShardStatus.RECOVERING)
        'Recovering'
    """

    ONLINE = "Online"
    OFFLINE = "Offline"
    RECOVERING = "Recovering"
    DRAINING = "Draining"

    def __str__(self) -> str:
        return self.value


@dataclass(slots=True)
class ShardInfo:
    """What the registry knows about one shard.

    ``id`` may be ``None`` when registering; the registry then assigns the next free id.

    Example:
        >>> info = ShardInfo(ShardId(1), address="10.0.0.2:7000")
        >>> info.status, info.document_count
        (<ShardStatus.ONLINE: 'Online'>, 0)
    """

    id: ShardId | None = None
    address: str | None = None
    node_count: int = 0
    edge_count: int = 0
    document_count: int = 0
    last_heartbeat_ms: float = 0.0
    memory_bytes: int = 0
    status: ShardStatus = ShardStatus.ONLINE


class _HealthyFlag:
    """``ShardHealth.healthy``: a constructor on the class, the boolean flag on an instance.

    The reference has both a ``healthy`` field and a ``ShardHealth::healthy(id)`` constructor;
    this descriptor lets Python code use both spellings.
    """

    @overload
    def __get__(
        self, obj: None, owner: type[ShardHealth]
    ) -> Callable[[ShardId | int], ShardHealth]: ...

    @overload
    def __get__(self, obj: ShardHealth, owner: type[ShardHealth]) -> bool: ...

    def __get__(self, obj: ShardHealth | None, owner: type[ShardHealth]) -> Any:
        if obj is None:
            return owner._healthy_for
        return obj._healthy

    def __set__(self, obj: ShardHealth, value: bool) -> None:
        obj._healthy = bool(value)


class ShardHealth:
    """Health report of one shard.

    ``ShardHealth.healthy(id)`` and ``ShardHealth.unhealthy(id)`` build reports with zero load;
    on an instance, ``.healthy`` is the boolean flag.

    Args:
        shard_id: the reporting shard.
        healthy: whether the shard can take work.
        load: relative load (0 = idle).
        memory_usage_mb: resident memory of the shard.
        pending_operations: queued work (e.g. unresolved cross-shard edges).

    Example:
        >>> h = ShardHealth.healthy(ShardId(2))
        >>> h.healthy, h.load, ShardHealth.unhealthy(2).healthy
        (True, 0.0, False)
        >>> ShardHealth(ShardId(1), healthy=True, load=0.5).pending_operations
        0
    """

    __slots__ = ("_healthy", "load", "memory_usage_mb", "pending_operations", "shard_id")

    healthy = _HealthyFlag()

    def __init__(
        self,
        shard_id: ShardId | int,
        healthy: bool,
        load: float = 0.0,
        memory_usage_mb: float = 0.0,
        pending_operations: int = 0,
    ) -> None:
        self.shard_id = as_shard_id(shard_id)
        self._healthy = bool(healthy)
        self.load = float(load)
        self.memory_usage_mb = float(memory_usage_mb)
        self.pending_operations = int(pending_operations)

    @classmethod
    def _healthy_for(cls, shard_id: ShardId | int) -> ShardHealth:
        return cls(shard_id, True)

    @classmethod
    def unhealthy(cls, shard_id: ShardId | int) -> ShardHealth:
        """A report saying ``shard_id`` is unhealthy, with zero load."""
        return cls(shard_id, False)

    def _key(self) -> tuple[ShardId, bool, float, float, int]:
        return (
            self.shard_id,
            self._healthy,
            self.load,
            self.memory_usage_mb,
            self.pending_operations,
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ShardHealth):
            return NotImplemented
        return self._key() == other._key()

    __hash__ = None  # type: ignore[assignment]  # mutable, like a dataclass

    def __repr__(self) -> str:
        return (
            f"ShardHealth(shard_id={self.shard_id!r}, healthy={self._healthy}, "
            f"load={self.load}, memory_usage_mb={self.memory_usage_mb}, "
            f"pending_operations={self.pending_operations})"
        )


@dataclass(slots=True)
class DistributedConfig:
    """Cluster-wide settings (REFERENCE.md §7.1 defaults).

    Call :meth:`validate` before use; the coordinator does.

    Example:
        >>> DistributedConfig().num_shards
        3
        >>> DistributedConfig(num_shards=0).validate()
        Traceback (most recent call last):
        ...
        phago.errors.ConfigError: num_shards must be an integer >= 1, got 0
    """

    num_shards: int = 3
    replication_factor: int = 2
    rpc_timeout_ms: int = 5000
    virtual_nodes_per_shard: int = DEFAULT_VIRTUAL_NODES

    def validate(self) -> DistributedConfig:
        """Check every value; return ``self`` for chaining.

        Raises:
            ConfigError: if a value is out of range or not an integer.
        """
        _check_int("num_shards", self.num_shards, 1)
        _check_int("replication_factor", self.replication_factor, 0)
        _check_int("rpc_timeout_ms", self.rpc_timeout_ms, 1)
        _check_int("virtual_nodes_per_shard", self.virtual_nodes_per_shard, 1)
        if self.num_shards > _U32:
            raise ConfigError(f"num_shards must be <= 2**32, got {self.num_shards}")
        return self


def _check_int(name: str, value: object, low: int) -> None:
    ok = isinstance(value, int) and not isinstance(value, bool) and value >= low
    if not ok:
        raise ConfigError(f"{name} must be an integer >= {low}, got {value!r}")


@dataclass(slots=True)
class ClusterStats:
    """Cluster-wide counters reported by the coordinator.

    Example:
        >>> ClusterStats(3, 3, 120, 0, 7).online_shards
        3
    """

    total_shards: int
    online_shards: int
    total_documents: int
    total_memory_bytes: int
    current_tick: int
