"""Typed errors raised by phago.

Every error phago raises on purpose derives from :class:`PhagoError`, so callers can catch
the whole family with one ``except`` clause, or a specific subclass when they care.

Example:
    >>> from phago.errors import PhagoError, InvalidPosition
    >>> issubclass(InvalidPosition, PhagoError)
    True
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = [
    "BarrierFailed",
    "ColonyBusy",
    "ColonyClosed",
    "ConfigError",
    "CoordinatorUnavailable",
    "DistributedError",
    "DocumentError",
    "EdgeResolutionFailed",
    "EmptyDocument",
    "GhostNodeNotFound",
    "GraphError",
    "GraphReadOnly",
    "InvalidAction",
    "InvalidAgent",
    "InvalidPosition",
    "InvalidQuery",
    "InvalidShard",
    "NodeNotFound",
    "OutputError",
    "PhagoError",
    "PhaseOrderError",
    "PhaseTimeout",
    "RoutingFailed",
    "RpcError",
    "ShardLost",
    "ShardNotFound",
    "ShardNotPlaced",
    "StoreChanged",
    "StoreError",
    "UnknownAgent",
    "UnknownDocument",
]


class PhagoError(Exception):
    """Base class of every error phago raises on purpose."""


class _KeyMessage(KeyError):
    """A :class:`KeyError` whose message prints as written (``KeyError`` prints the repr of
    its argument, in quotes, as if it were a missing key).

    Example:
        >>> str(NodeNotFound("no node labelled 'cell'"))
        "no node labelled 'cell'"
    """

    def __str__(self) -> str:
        return BaseException.__str__(self)


class ConfigError(PhagoError, ValueError):
    """A configuration value is out of range or inconsistent."""


class InvalidPosition(PhagoError, ValueError):
    """A position is not a pair of finite numbers."""


class InvalidAgent(PhagoError, ValueError):
    """What was given to spawn is not an agent, or is an agent already in a colony; or an
    agent's ``sense`` returned something that is not an action."""


class InvalidAction(InvalidAgent):
    """An action an agent returned is malformed (a position that is not one, a weight
    outside ``(0, 1]``, fragments that are not fragments, ...): raised after Sense, before
    anything of the tick is applied, naming the agent."""


class DocumentError(PhagoError, ValueError):
    """A document cannot be ingested (empty, binary, undecodable, too large)."""


class EmptyDocument(DocumentError):
    """A document has no content, or only whitespace."""


class UnknownDocument(PhagoError, _KeyMessage):
    """No document with this id is known."""


class UnknownAgent(PhagoError, _KeyMessage):
    """No agent with this id is known."""


class NodeNotFound(PhagoError, _KeyMessage):
    """No graph node with this id or label exists."""


class GraphError(PhagoError, ValueError):
    """A graph was given what it cannot hold or look up: a label that is empty or not text,
    a self-loop, an edge weight outside (0, 1], a duplicate node or edge."""


class GraphReadOnly(GraphError, RuntimeError):
    """A graph was changed while it is read-only: by an agent during Sense, which decides
    from the colony as it stands and changes it only through the actions it returns."""


class InvalidQuery(PhagoError, TypeError):
    """A query is not text."""


class StoreError(PhagoError, OSError):
    """A store could not be written or read (full disk, read-only, damaged or newer schema).

    Example:
        >>> StoreError("cannot load x.db: no such file").damaged
        False
    """

    damaged: bool = False
    """True where the store holds other bytes than phago wrote there (a checksum that does
    not match, a part or row missing or of the wrong type), or is not a phago store at all:
    ``phago repair`` (:func:`phago.store.repair_information`,
    :func:`phago.rebuild.rebuild_colony`) mends a damaged one as far as it can."""


class StoreChanged(StoreError):
    """A save refused because the store changed since the colony was loaded from it (another
    process or colony saved it in between): load it again and redo the change.

    Example:
        >>> issubclass(StoreChanged, StoreError)
        True
    """


class OutputError(PhagoError, OSError):
    """A file phago was asked to write (an export, a picture) could not be written: a missing
    folder, no permission, a full disk. Nothing was written in its place."""


# --- distributed -----------------------------------------------------------------------------


class DistributedError(PhagoError):
    """Base class of errors of the distributed layer."""


class ColonyClosed(DistributedError, RuntimeError):
    """A distributed colony was used after ``close()``: its worker threads, event loop and
    any Ray shards are gone."""


class ColonyBusy(DistributedError, RuntimeError):
    """A distributed colony was called from one thread while another thread's call on it
    (a run, say) was under way: a colony takes one call at a time. From another thread,
    ``request_stop()`` ends a run at a tick boundary and ``close()`` waits for it."""


class ShardNotFound(DistributedError, KeyError):
    """The shard id is not known to the coordinator, runner, ring or barrier.

    Example:
        >>> str(ShardNotFound(5, "this colony has shards 0 to 1"))
        'shard not found: 5 (this colony has shards 0 to 1)'
    """

    def __init__(self, shard: object, detail: str = "") -> None:
        self.shard = shard
        self.detail = detail
        super().__init__(str(self))

    def __str__(self) -> str:
        return f"shard not found: {self.shard}" + (f" ({self.detail})" if self.detail else "")

    def __reduce__(self) -> tuple[type[ShardNotFound], tuple[object, str]]:
        # (rebuilt from its fields: the default would pass the message as the shard)
        return (type(self), (self.shard, self.detail))


class InvalidShard(ShardNotFound, ConfigError):
    """A shard index given to a :class:`~phago.distributed.DistributedColony` method is not
    one of its shards: a bad argument (a :class:`ConfigError`, as which a bad ``shard`` was
    refused before), and a :class:`ShardNotFound`.

    Example:
        >>> isinstance(InvalidShard(-1), ConfigError), isinstance(ShardNotFound(3), ConfigError)
        (True, False)
    """


class ShardLost(DistributedError):
    """A shard's worker died (a killed actor, a crash, a lost node)."""

    def __init__(self, shard: object, detail: str = "") -> None:
        super().__init__(f"{shard} was lost" + (f": {detail}" if detail else ""))
        self.shard = shard


class ShardNotPlaced(DistributedError):
    """Shard actors could not be started: the cluster lacks the resources they ask for (one
    CPU each by default), or they did not start within the time allowed.

    Attributes:
        shards: the shards that did not start.
    """

    def __init__(self, shards: Sequence[object], detail: str = "") -> None:
        names = ", ".join(str(s) for s in shards)
        super().__init__(f"{names} could not be started" + (f": {detail}" if detail else ""))
        self.shards = list(shards)


class CoordinatorUnavailable(DistributedError):
    """The coordinator cannot be reached."""


class RpcError(DistributedError):
    """A call to a shard failed (the shard raised, died or could not be reached)."""

    @classmethod
    def raised_by(cls, shard: object, call: str, error: BaseException) -> RpcError:
        """The error for ``error``, which shard ``shard`` raised in ``call`` and which is
        not a Phago error (a defect, or a fault injected by a drill): it names the shard,
        the call and the error's type and message. Raise it ``from error``, so that the
        traceback shows where the shard raised it.

        Example:
            >>> str(RpcError.raised_by("shard-1", "forget_prepare", RuntimeError("no memory")))
            'shard-1 failed in forget_prepare: RuntimeError: no memory'
        """
        said = str(error).strip()
        kind = type(error).__name__
        return cls(f"{shard} failed in {call}: {kind}" + (f": {said}" if said else ""))

    @classmethod
    def unless_phago(cls, shard: object, call: str, error: BaseException) -> BaseException:
        """What a caller gets for ``error``, which shard ``shard`` raised in ``call``
        between ticks, on either backend: a Phago error as it is, anything else
        :meth:`raised_by`'s error.

        Example:
            >>> RpcError.unless_phago("shard-0", "spawn", InvalidAgent("not an agent"))
            InvalidAgent('not an agent')
        """
        return error if isinstance(error, PhagoError) else cls.raised_by(shard, call, error)


class PhaseTimeout(DistributedError):
    """A phase did not complete on every shard within the phase timeout."""

    def __init__(self, phase: object, detail: str = "") -> None:
        msg = f"phase {phase} timed out" + (f": {detail}" if detail else "")
        super().__init__(msg)
        self.phase = phase


class RoutingFailed(DistributedError):
    """A document was sent to a shard that does not own it."""


class EdgeResolutionFailed(DistributedError):
    """Cross-shard edge updates could not be delivered."""


class GhostNodeNotFound(DistributedError, _KeyMessage):
    """A ghost node was asked for but is not known on its owner shard."""


class BarrierFailed(DistributedError):
    """A tick barrier could not be completed."""


class PhaseOrderError(PhagoError, RuntimeError):
    """A colony phase was called out of order (sense, act, decay, advance)."""
