"""The Ray backend: each shard is a Ray actor; the same runner drives it.

``start_ray_shards`` connects to Ray (starting a local instance when no address is given and
Ray is not running yet; joining an existing cluster with ``address="auto"`` or
``"ray://host:port"``) and creates one :class:`ShardActor` per shard, one CPU each by default.
The runner reaches actors through :class:`RayShardHandle`: every call is one ``.remote()``
whose ObjectRef is awaited, so a phase is one fan-out and results are gathered with the phase
timeout (no ``ray.get`` in a loop over shards).

Fault tolerance: the handle keeps, on the driver, the operations (ingested documents, spawned
agents) sent to its shard since the last checkpoint. A checkpoint is the actor's pickled
state, fetched at a tick boundary and, with a ``checkpoint_dir``, written atomically to
``shard-<i>.ckpt``. When an actor dies, the runner recreates it from the checkpoint, rolls every
shard back, and replays the lost ticks; without a checkpoint the lost shard is reported as a
:class:`~phago.errors.ShardLost` naming it.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from phago.config import ColonyConfig
from phago.distributed.hashing import ConsistentHashRing
from phago.distributed.shard import ShardedColony
from phago.distributed.types import ShardId, TickPhase
from phago.errors import DistributedError, ShardLost

__all__ = ["RayShardHandle", "ShardActor", "start_ray_shards", "stop_ray_shards"]


class ShardActorImpl:
    """The body of a shard actor: a :class:`ShardedColony` plus fault injection for drills."""

    def __init__(
        self,
        shard_index: int,
        config: ColonyConfig,
        ring: ConsistentHashRing,
        seed: int,
        ghost_cache_size: int,
        snapshot: bytes | None = None,
    ) -> None:
        if snapshot is not None:
            self.shard = ShardedColony.from_snapshot(snapshot, ring)
        else:
            self.shard = ShardedColony(
                ShardId(shard_index), config, ring, ghost_cache_size=ghost_cache_size, seed=seed
            )
        self._fault: tuple[str, str, int, float] | None = None

    def call(self, method: str, *args: Any) -> Any:
        """Call a method of the shard (or ``rss_mib`` / ``ping`` of the actor)."""
        if method in ("rss_mib", "ping", "pid"):
            return getattr(self, method)()
        if method == "run_phase":
            self._maybe_fault(args[0])
        return getattr(self.shard, method)(*args)

    def _maybe_fault(self, phase: TickPhase) -> None:
        f = self._fault
        if f is None:
            return
        kind, phase_name, tick, seconds = f
        if str(phase) != phase_name or self.shard.current_tick != tick:
            return
        self._fault = None
        if kind == "hang":
            time.sleep(seconds)
        elif kind == "raise":
            raise RuntimeError(f"injected fault in {phase} at tick {tick}")
        elif kind == "exit":
            os._exit(1)

    def inject_fault(self, kind: str, phase: str, tick: int, seconds: float = 3600.0) -> None:
        """Arm a one-shot fault (``hang``, ``raise`` or ``exit``) in ``phase`` at ``tick``."""
        self._fault = (kind, phase, tick, seconds)

    def checkpoint(self) -> bytes:
        """The shard's state at this tick boundary; the shard's own op log restarts."""
        self.shard.trim_oplog()
        return self.shard.snapshot()

    def restore(self, snapshot: bytes, ops: list[Any]) -> None:
        """Replace the state by ``snapshot`` and queue ``ops`` for replay."""
        self.shard = ShardedColony.from_snapshot(snapshot, self.shard.ring)
        self.shard.set_replay(ops)

    def ping(self) -> int:
        """Liveness check: the shard's tick."""
        return self.shard.current_tick

    def rss_mib(self) -> float:
        """Peak resident memory of the actor's process, MiB."""
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0

    def pid(self) -> int:
        """The actor's process id."""
        return os.getpid()


def _ray() -> Any:
    try:
        import ray
    except ImportError as exc:  # pragma: no cover - ray is a declared extra
        raise DistributedError("the ray backend needs Ray: pip install 'phago[ray]'") from exc
    return ray


_ACTOR_CLASS: Any = None


def ShardActor() -> Any:
    """The Ray actor class for shards (created on first use, so importing is cheap)."""
    global _ACTOR_CLASS
    if _ACTOR_CLASS is None:
        _ACTOR_CLASS = _ray().remote(ShardActorImpl)
    return _ACTOR_CLASS


_LOGGED = {"ingest_many", "spawn_many"}


class RayShardHandle:
    """Reaches one shard actor; keeps the driver-side op log and the checkpoint."""

    def __init__(
        self,
        index: int,
        config: ColonyConfig,
        ring: ConsistentHashRing,
        seed: int,
        ghost_cache_size: int,
        options: dict[str, Any],
        checkpoint_dir: Path | None,
    ) -> None:
        self.shard_id = ShardId(index)
        self._args = (index, config, ring, seed, ghost_cache_size)
        self._options = options
        self._dir = checkpoint_dir
        self._ops: list[tuple[int, str, Any]] = []
        self._tick = 0
        self.actor = ShardActor().options(**options).remote(*self._args)
        self.recreated = 0

    @property
    def target(self) -> Any:
        """The actor handle."""
        return self.actor

    async def call(self, method: str, *args: Any) -> Any:
        """Call ``method`` on the actor; a dead actor raises :class:`ShardLost`."""
        ray = _ray()
        if method in _LOGGED:
            self._ops.extend(_as_ops(self._tick, method, args[0]))
        try:
            result = await self.actor.call.remote(method, *args)
        except ray.exceptions.RayActorError as exc:
            raise ShardLost(
                self.shard_id, str(exc).splitlines()[0] if str(exc) else "actor died"
            ) from exc
        if method == "run_phase" and args and args[0] is TickPhase.ADVANCE:
            self._tick = result.tick
        return result

    async def checkpoint(self) -> Any:
        """Fetch the actor's state; persist it atomically when a checkpoint dir is set."""
        ray = _ray()
        try:
            data = await self.actor.checkpoint.remote()
        except ray.exceptions.RayActorError as exc:
            raise ShardLost(self.shard_id, "actor died during checkpoint") from exc
        self._ops = []
        if self._dir is not None:
            _atomic_write(self._dir / f"shard-{int(self.shard_id)}.ckpt", data)
        return data

    async def restore(self, snapshot: Any) -> None:
        """Roll the actor back to ``snapshot``; recreate it if it is dead."""
        ray = _ray()
        ops = list(self._ops)
        try:
            await self.actor.ping.remote()
            alive = True
        except ray.exceptions.RayActorError:
            alive = False
        if not alive:
            self.actor = ShardActor().options(**self._options).remote(*self._args, snapshot)
            self.recreated += 1
            await self.actor.call.remote("set_replay", ops)
        else:
            await self.actor.restore.remote(snapshot, ops)
        self._tick = await self.actor.ping.remote()

    async def abandon(self) -> None:
        """Give up on an unresponsive actor: kill it, so a rollback recreates it."""
        with contextlib.suppress(Exception):
            _ray().kill(self.actor)

    async def inject_fault(self, kind: str, phase: str, tick: int, seconds: float = 3600.0) -> None:
        """Arm a one-shot fault on the actor (drills and tests)."""
        await self.actor.inject_fault.remote(kind, phase, tick, seconds)


def _as_ops(tick: int, method: str, items: Any) -> list[tuple[int, str, Any]]:
    if method == "ingest_many":
        return [(tick, "ingest", (t, c, xy, d)) for t, c, xy, d in items]
    return [(tick, "spawn", pickle.loads(pickle.dumps(a))) for a in items]


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@dataclass
class RayState:
    """What :func:`stop_ray_shards` needs: the handles and whether we started Ray."""

    handles: list[RayShardHandle] = field(default_factory=list)
    started_ray: bool = False


def start_ray_shards(
    num_shards: int,
    config: ColonyConfig,
    ring: ConsistentHashRing,
    seed: int,
    ghost_cache_size: int,
    *,
    address: str | None = None,
    checkpoint_every: int | None = None,
    checkpoint_dir: str | None = None,
    options: dict[str, Any] | None = None,
) -> tuple[list[RayShardHandle], RayState]:
    """Connect to (or start) Ray and create one shard actor per shard."""
    ray = _ray()
    state = RayState()
    if not ray.is_initialized():
        kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False}
        if address is not None:
            kwargs["address"] = address
        ray.init(**kwargs)
        state.started_ray = True
    opts = {"num_cpus": 1, **(options or {})}
    ckdir = Path(checkpoint_dir) if checkpoint_dir else None
    state.handles = [
        RayShardHandle(i, config, ring, seed, ghost_cache_size, opts, ckdir)
        for i in range(num_shards)
    ]
    return list(state.handles), state


def stop_ray_shards(state: RayState) -> None:
    """Kill the shard actors, and shut Ray down if :func:`start_ray_shards` started it."""
    ray = _ray()
    for h in state.handles:
        with contextlib.suppress(Exception):
            ray.kill(h.actor)
    if state.started_ray:
        ray.shutdown()
