"""The Ray backend: each shard is a Ray actor; the same runner drives it.

``start_ray_shards`` connects to Ray (starting a local instance when no address is given and
Ray is not running yet; joining an existing cluster with ``address="auto"`` or
``"ray://host:port"``) and creates one :class:`ShardActor` per shard, one CPU each by default.
The runner reaches actors through :class:`RayShardHandle`: every call is one ``.remote()``
whose ObjectRef is awaited, so a phase is one fan-out and results are gathered with the phase
timeout (no ``ray.get`` in a loop over shards).

Fault tolerance: the handle keeps, on the driver, the operations (ingested documents, spawned
agents) sent to its shard since the last checkpoint. A checkpoint is the actor's pickled
state, fetched at a tick boundary (the runner writes the checkpoints to disk, when asked,
as one set: :mod:`phago.distributed.checkpoint_files`). When an actor dies, the runner
recreates it from the checkpoint, rolls every shard back, and replays the lost ticks; without
a checkpoint the lost shard is reported as a :class:`~phago.errors.ShardLost` naming it.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import math
import os
import pickle
import socket
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, NamedTuple, TypeVar, cast

from phago.config import ColonyConfig
from phago.distributed.backends.ray_cluster import (
    ACTOR_NAMESPACE,
    auth_token_available,
    new_colony_name,
    shard_actor_name,
    wants_a_token,
)
from phago.distributed.degree_cap import CapOrder
from phago.distributed.hashing import ConsistentHashRing
from phago.distributed.messages import HeldMessages, TickOutlook
from phago.distributed.shard import ShardedColony, end_tick_gc_pause
from phago.distributed.timeline import DECAY_ADVANCE, SENSE_ACT, CallSpan
from phago.distributed.types import GhostNode, ShardId, TickPhase
from phago.errors import (
    BarrierFailed,
    ConfigError,
    DistributedError,
    RoutingFailed,
    RpcError,
    ShardLost,
    ShardNotPlaced,
)

__all__ = [
    "CALL_SPANS_KEPT",
    "INLINE_OBJECT_BYTES",
    "CompiledPhaseFanOut",
    "PhaseFailure",
    "RayShardHandle",
    "RayTickPipeline",
    "ShardActor",
    "check_reachable",
    "init_ray",
    "local_ray_options",
    "start_ray_shards",
    "stop_ray_shards",
]

log = logging.getLogger("phago.distributed")


class _ShardTaskErrorsHandled(logging.Filter):
    """Drops Ray's "Unhandled error" log records of phago's shard actors' tasks.

    A lost or failed shard fails the calls chained after the one that failed, and the
    runner forgets them without fetching their errors (it has said what happened, with a
    typed error or a recovery): Ray then logged each as an unhandled error, a traceback of
    ten lines or so, after every shard loss, recovered ones too. Other errors are left
    alone."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not (message.startswith("Unhandled error") and "ShardActorImpl." in message)


_SHARD_ERRORS_FILTER = _ShardTaskErrorsHandled()


def _quiet_handled_shard_errors() -> None:
    """Install :class:`_ShardTaskErrorsHandled` on Ray's worker logger (once)."""
    logger = logging.getLogger("ray._private.worker")
    if _SHARD_ERRORS_FILTER not in logger.filters:
        logger.addFilter(_SHARD_ERRORS_FILTER)


# How many pipelined calls an actor remembers (``call_spans``): 4,000 ticks' worth.
CALL_SPANS_KEPT = 8192


_Method = TypeVar("_Method", bound=Callable[..., Any])


def _ends_tick_gc_pause_on_error(method: _Method) -> _Method:
    """An actor's pipelined call (``run_step``: Decay and Advance, then Sense and Act) that
    raises between phases ends the process's pause of the cyclic collector (no Advance
    will), so a failed tick leaves the collector on."""

    @functools.wraps(method)
    def call(*args: Any, **kwargs: Any) -> Any:
        try:
            return method(*args, **kwargs)
        except BaseException:
            end_tick_gc_pause()
            raise

    return cast(_Method, call)


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
            self.shard = ShardedColony.from_snapshot(snapshot, ring)  # (logs nothing)
        else:
            self.shard = ShardedColony(
                ShardId(shard_index), config, ring, ghost_cache_size=ghost_cache_size, seed=seed
            )
        self._fault: tuple[str, str, int, float] | None = None
        self._running: TickPhase | None = None
        self._skipping = False  # a chained tick's Sense and Act skipped: so do Decay, Advance
        # this shard's outlook at its last Act, then every shard's (gathered at that Decay)
        self._outlook: TickOutlook | None = None
        self._outlooks: list[TickOutlook] | None = None
        # the tick of the last Decay whose gathered outlooks were all steady (see _ahead_ok)
        self._steady_at: int | None = None
        # calls that ran their next Sense ahead of the other shards' parts, and the seconds
        # they then waited for those parts
        self._senses_ahead = 0
        self._parts_wait_s = 0.0
        # the pipelined calls run, newest last (see phago.distributed.timeline)
        self._spans: deque[CallSpan] = deque(maxlen=CALL_SPANS_KEPT)
        _load_compiled_code()  # here, not in the first (timed) phase; a replacement too

    def call(self, method: str, *args: Any) -> Any:
        """Call a method of the shard (or ``rss_mib``, ``ping``, ``pid`` or ``call_spans`` of
        the actor)."""
        if method in ("rss_mib", "ping", "pid", "call_spans", "senses_ahead"):
            return getattr(self, method)()
        if method == "run_phase":
            self._maybe_fault(args[0])
        elif method == "forget_prepare":
            self._maybe_fault("forget")
        return getattr(self.shard, method)(*args)

    def run_phase_step(self, step: bytes) -> bytes:
        """One shard's part of a compiled phase fan-out: ``run_phase`` on the pickled
        ``(phase, payload, resolve_ghosts)``; returns the pickled result.

        Both ways the data is a pickle, not objects: a compiled graph hands over NumPy arrays
        as views of its shared-memory buffer, and a view kept alive (a result the runner
        keeps, a batch a shard stores) would block the buffer's next write for good. An
        error is returned as a :class:`PhaseFailure`, not raised, so that the driver knows
        which shard failed and the graph stays usable.
        """
        if not step:  # the warm-up run after compiling
            return b""
        phase, payload, resolve = pickle.loads(step)
        self._running = phase
        try:
            result: Any = self.call("run_phase", phase, payload, resolve)
        except Exception as exc:
            result = PhaseFailure(repr(exc), traceback.format_exc())
        finally:
            self._running = None
        return pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL)

    def run_sense_act(
        self,
        payload: Any,
        act_payload: Any,
        resolve_ghosts: bool,
        shards: int,
        stop_when_idle: bool = False,
        chained: bool = False,
    ) -> Any:
        """Sense then Act of a pipelined tick (:class:`RayTickPipeline`) in one call
        (``payload`` is Sense's, ``act_payload`` Act's): returns Act's update batches as
        one part for each other shard, each with this shard's outlook after Act (see
        :meth:`ShardedColony.tick_outlook`), then the Sense and Act results as one object
        (one reference fewer for the driver to own and await per tick). Neither phase
        takes anything from other shards, so the call starts as soon as the shard's
        previous call is done.

        A *chained* tick, submitted before the runner has seen the previous one's results,
        decides from every shard's outlook of the tick before (gathered by this shard's
        previous Decay from the other shards' update parts) what the runner would have
        decided from their Advance results: it skips (the shard is left as it is, and
        returns :class:`_Skipped` in every place) when a shard wants the global
        distribution for this Sense (the runner must bring it), or, with
        ``stop_when_idle``, when no shard has anything left to digest (the run is over; see
        :func:`~phago.distributed.runner.all_idle`). The shard's Decay and Advance call of
        the same tick then skips too. So a chained tick waits for no other shard's call:
        on each actor it follows the actor's own Decay and Advance, and the shards meet
        once a tick, at Decay, where the update batches are needed anyway.

        Parts and results travel as pickles (bytes): Ray's own serialiser runs
        ``cloudpickle``, whose per-object hook made serialising them about a tenth of an
        actor's main thread on W3 (a third as much as pickles); bytes pass through as they
        are. A shard sends itself nothing (its updates are applied where they arise, and
        its ghosts are nodes other shards own), so no part goes from a shard to itself; with
        one shard the call returns the results alone.

        Raises:
            RoutingFailed: a batch addressed to a shard outside the cluster, or to itself.
            BarrierFailed: a chained tick without the outlooks of the tick before.
        """
        start, tick = time.monotonic(), self.shard.current_tick
        self._skipping = False
        if chained:
            outlooks, self._outlooks = self._outlooks, None
            if outlooks is None:
                raise BarrierFailed(
                    f"{self.shard.shard_id} got a chained tick without the tick before's outlooks"
                )
            if _skips(outlooks, stop_when_idle):
                self._skipping = True
                return (_SKIPPED,) * shards if shards > 1 else _SKIPPED
        sense, _ = self._routed(TickPhase.SENSE, payload, resolve_ghosts, shards)
        act, out = self._routed(TickPhase.ACT, act_payload, resolve_ghosts, shards)
        self._outlook = outlook = self.shard.tick_outlook()
        both = _dump(_PhasePair(sense, act))
        parts = [_dump((outlook, part)) for part in out]
        self._spans.append(CallSpan(tick, SENSE_ACT, start, time.monotonic()))
        return (*parts, both) if parts else both

    def run_decay_advance(
        self, payload: Any, resolve_ghosts: bool, shards: int, held: bool, *parts: Any
    ) -> Any:
        """Decay then Advance of a pipelined tick in one call.

        ``parts`` are each other shard's outlook and update batches from this tick's Act and
        then, when ``held``, each other shard's part from last tick's Decay (its ghost requests and
        degree report for this shard to answer, and its answers to this shard's); ``payload``
        is what the runner held for this shard instead (a checkpoint's, a loaded store's),
        or None. Returns the Decay's part for each other shard (answers, then requests),
        then the Decay and Advance results as one object. Advance takes nothing from other
        shards, so no barrier is needed between the two.

        Raises:
            RoutingFailed: an answer or request addressed to a shard outside the cluster.
        """
        if self._skipping:  # this tick's first call skipped (a chained tick not to run)
            self._skipping = False
            return (_SKIPPED,) * shards if shards > 1 else _SKIPPED
        start, tick = time.monotonic(), self.shard.current_tick
        outlooks, decay_payload = self._gathered(payload, shards, held, parts)
        decay, out = self._routed(TickPhase.DECAY, decay_payload, resolve_ghosts, shards)
        advance, _ = self._routed(TickPhase.ADVANCE, None, resolve_ghosts, shards)
        self._outlooks = outlooks  # for the next tick, if it comes chained
        self._steady_at = tick if all(o.steady for o in outlooks) else None
        both = _dump(_PhasePair(decay, advance))
        sent = [_dump(part) for part in out]
        self._spans.append(CallSpan(tick, DECAY_ADVANCE, start, time.monotonic()))
        return (*sent, both) if sent else both

    def _gathered(
        self, payload: Any, shards: int, held: bool, parts: Sequence[Any]
    ) -> tuple[list[TickOutlook], dict[str, Any]]:
        """Every shard's outlook after this tick's Act (in shard order) and the Decay's
        payload, from the other shards' ``parts`` (see :meth:`run_decay_advance`)."""
        loaded = [pickle.loads(p) for p in parts]
        k = shards - 1
        me = int(self.shard.shard_id)
        outlooks = [outlook for outlook, _ in loaded[:k]]
        if self._outlook is None:
            raise BarrierFailed(f"{self.shard.shard_id} got a Decay without its Act")
        outlooks.insert(me, self._outlook)  # (shard order, for the record)
        self._outlook = None
        asks: dict[int, list[Any]] = {}
        inbound: list[Any] = []
        if payload is not None:
            asks.update(payload.get("asks") or {})
            inbound.extend(payload.get("inbound") or [])
        for j, part in enumerate(loaded[k:] if held else []):  # last tick's, source order
            requests, answers = _split_part(part)
            if requests:
                asks[j if j < me else j + 1] = requests
            inbound.extend(answers)
        for _, batches in loaded[:k]:
            inbound.extend(batches)
        return outlooks, {"asks": asks, "inbound": inbound}

    def _ahead_ok(self, spec: StepSpec) -> bool:
        """Whether this call may run the next tick's Sense before the other shards' parts
        for this tick's Decay are here (:meth:`_step_ahead`): the Sense is chained and the
        usual one, and it would run whatever those parts say. That holds when this shard
        is steady and busy (or the run does not stop when idle), so no rule skips the next
        tick, and every shard was steady at the tick before, so none can come to want the
        distribution at this tick's Act (see :class:`~phago.distributed.messages.
        TickOutlook`); and when nothing this shard's Advance reports reads the graph."""
        own = self._outlook
        return (
            own is not None
            and own.steady
            and (own.busy or not spec.stop_when_idle)
            and self._steady_at is not None
            and self._steady_at == self.shard.current_tick - 1
            and spec.sense_payload is None
            and not getattr(self.shard, "_collect_distribution", False)
        )

    def _step_ahead(self, spec: StepSpec, refs: list[Any]) -> Any:
        """:meth:`run_step` of a Decay, Advance and the next chained Sense and Act, the
        next Sense first: Decay's part that Sense reads (signals, traces, fitness), the
        Advance, the Sense, and only then, once the other shards' parts (``refs``) are
        here, the rest of the Decay (their updates, the graph's decay, the degree cap and
        ghosts, as of the Decay's tick) and the Act. Sense reads only the substrate and
        this Decay's rest only the graph, so the shard ends as in the phases' order, and
        the results are the same but for timings (Advance and Sense report the graph's
        counts after the whole Decay, as they would have). The shard works through what
        would have been its wait for the slowest shard's parts.
        """
        shard = self.shard
        n = spec.shards
        start, tick = time.monotonic(), shard.current_tick
        self._maybe_fault(TickPhase.DECAY)
        self._running = TickPhase.DECAY
        try:
            early_ms, early_cpu_ms = shard.decay_substrate()
        finally:
            self._running = None
        advance, _ = self._routed(TickPhase.ADVANCE, None, spec.resolve, n)
        sense, _ = self._routed(TickPhase.SENSE, None, spec.resolve, n)
        waited = time.monotonic()
        parts = _fetched(refs)
        wait_s = time.monotonic() - waited
        self._parts_wait_s += wait_s
        self._senses_ahead += 1
        outlooks, decay_payload = self._gathered(spec.decay_payload, n, spec.held, parts)
        if _skips(outlooks, spec.stop_when_idle):
            raise BarrierFailed(
                f"{shard.shard_id} ran a Sense ahead of a tick the shards skip ({outlooks})"
            )
        decay, decay_parts = self._routed(TickPhase.DECAY, decay_payload, spec.resolve, n, tick)
        decay.compute_ms += early_ms
        decay.compute_cpu_ms += early_cpu_ms
        nodes, edges = shard.node_count, shard.colony.graph.edge_count
        for result in (advance, sense):  # as read after the whole Decay
            result.node_count, result.edge_count = nodes, edges
        self._steady_at = tick if all(o.steady for o in outlooks) else None
        self._outlooks = None
        ended = time.monotonic()
        # noted as starting once the wait for the parts is over (its length moved before
        # the span), so that a wait summary counts that wait as waiting, not as work
        self._spans.append(CallSpan(tick, DECAY_ADVANCE, start + wait_s, ended))
        act, act_parts = self._routed(TickPhase.ACT, spec.act_payload, spec.resolve, n)
        self._outlook = outlook = shard.tick_outlook()
        self._spans.append(CallSpan(tick + 1, SENSE_ACT, ended, time.monotonic()))
        result = _dump(
            _StepResult(_dump(_PhasePair(decay, advance)), _dump(_PhasePair(sense, act)))
        )
        if n == 1:
            return result
        return (
            *[_dump(part) for part in decay_parts],
            *[_dump((outlook, part)) for part in act_parts],
            result,
        )

    def senses_ahead(self) -> tuple[int, float]:
        """How many pipelined calls ran their next Sense ahead of the other shards' parts
        (:meth:`_step_ahead`), and the seconds they then still waited for those parts."""
        return self._senses_ahead, self._parts_wait_s

    @_ends_tick_gc_pause_on_error
    def run_step(self, step: bytes, *parts: Any) -> Any:
        """One pipelined call of :class:`RayTickPipeline` (``step``: a pickled
        :class:`StepSpec`; Ray's own serialiser would run ``cloudpickle`` on it): the Decay
        and Advance of the tick whose Sense and Act ran last (``spec.decay``), then the
        next tick's Sense and Act (``spec.sense``), so that a run of chained ticks is one
        Ray task per actor and tick.

        ``parts`` are the other shards' Act parts of this tick, in source order, then (with
        ``spec.held``) their parts from the Decay before; without, the runner holds what
        that Decay sent (``spec.decay_payload``). Returns this Decay's part for each other
        shard, then this Act's (each with the shard's outlook), then the results (a pickled
        :class:`_StepResult`); the parts of a half that did not run are empty bytes. Two
        parts for each destination, not one with both: a part over Ray's inline limit
        (100 KiB) goes through the object store, a slower hop. A chained Sense and Act
        that must not run (see :meth:`run_sense_act`) leaves its half of the result
        :data:`_SKIPPED`; the Decay before it has run. The call after such a skip (the
        pipeline submits two ticks ahead) has no Decay to run and skips both halves.

        Raises:
            RoutingFailed: a batch, an answer or a request addressed to a shard outside
                the cluster.
            BarrierFailed: a Decay without its Act, or a chained tick without the outlooks.
        """
        spec: StepSpec = pickle.loads(step)
        n = spec.shards
        k = n - 1
        if spec.decay and self._skipping:  # a chained tick skipped: so are those after it
            result = _dump(_StepResult(_SKIPPED, _SKIPPED))
            return (*[_NO_PART] * (2 * k), result) if k else result
        if spec.nested:  # the other shards' parts, as references: fetched here
            refs = list(parts[0])
            if spec.decay and spec.sense and spec.chained and self._ahead_ok(spec):
                return self._step_ahead(spec, refs)
            parts = tuple(_fetched(refs))
        decay_parts: list[Any] = [_NO_PART] * k
        decay_pair: bytes | None = None
        if spec.decay:
            if len(parts) != (2 * k if spec.held else k) or _NO_PART in parts:
                raise BarrierFailed(f"{self.shard.shard_id} got a Decay without its inputs")
            out = _refs(
                self.run_decay_advance(spec.decay_payload, spec.resolve, n, spec.held, *parts)
            )
            decay_parts, decay_pair = out[:-1], out[-1]
        act_parts: list[Any] = [_NO_PART] * k
        sense_pair: bytes | None = None
        if spec.sense:
            out = _refs(
                self.run_sense_act(
                    spec.sense_payload,
                    spec.act_payload,
                    spec.resolve,
                    n,
                    spec.stop_when_idle,
                    spec.chained,
                )
            )
            if out[-1] == _SKIPPED:
                sense_pair = _SKIPPED
            else:
                act_parts, sense_pair = out[:-1], out[-1]
        if not (spec.decay and spec.chained and sense_pair not in (None, _SKIPPED)):
            # the outlooks gathered at a Decay hold for the next Act only when that Act ran
            # in the same call, after it (between calls, a shard may change: a spawn)
            self._steady_at = None
        result = _dump(_StepResult(decay_pair, sense_pair))
        return (*decay_parts, *act_parts, result) if k else result

    def _routed(
        self,
        phase: TickPhase,
        payload: Any,
        resolve_ghosts: bool,
        shards: int,
        graph_decay_of: int | None = None,
    ) -> tuple[Any, list[Any]]:
        """Run ``phase`` with ``payload``; returns the result and the outbound parts for each
        other shard (Act's batches; Decay's answers, then its requests; none for Sense,
        Advance or with one shard). ``graph_decay_of``: run only the rest of that tick's
        Decay (:meth:`ShardedColony.run_graph_decay`), its first part already run."""
        me = int(self.shard.shard_id)
        if phase is TickPhase.SENSE and payload is None:  # the usual Sense payload, not sent
            payload = {"collect": False, "distribution": None}
        self._running = phase
        try:
            if graph_decay_of is None:
                result: Any = self.call("run_phase", phase, payload, resolve_ghosts)
            else:  # (its fault, if armed, fired at the first part)
                result = self.shard.run_graph_decay(payload, resolve_ghosts, graph_decay_of)
        finally:
            self._running = None
        if phase in (TickPhase.SENSE, TickPhase.ADVANCE) or shards == 1:
            return result, []
        out: list[Any] = [[] for _ in range(shards)]
        if phase is TickPhase.ACT:
            for batch in result.updates:
                _part(out, batch.dest, "updates").append(batch)
            result.updates = []
        else:
            for req, answers in result.ghost_answers.items():
                _part(out, req, "ghost answers").extend(answers)
            for owner, ids in result.ghost_requests.items():
                _part(out, owner, "ghost requests").extend(ids)
            result.ghost_answers, result.ghost_requests = {}, {}
        if out.pop(me):
            raise RoutingFailed(f"shard-{me} addressed its own {phase} output to itself")
        return result, out

    def running_phase(self) -> TickPhase | None:
        """The phase a compiled fan-out is running on this actor now (None between phases);
        answered by the actor's main thread while the graph's thread is busy."""
        return self._running

    def _maybe_fault(self, phase: TickPhase | str) -> None:
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
        """Arm a one-shot fault (``hang``, ``raise`` or ``exit``) in ``phase`` (a tick phase,
        ``"checkpoint"`` or ``"forget"``) at ``tick``."""
        self._fault = (kind, phase, tick, seconds)

    def checkpoint(self) -> bytes:
        """The shard's state at this tick boundary. The shard logs nothing: the driver keeps
        the op log a replacement replays (:class:`RayShardHandle`)."""
        self._maybe_fault("checkpoint")
        return self.shard.snapshot()

    def restore(self, snapshot: bytes, ops: list[Any]) -> None:
        """Replace the state by ``snapshot`` and queue ``ops`` for replay."""
        self.shard = ShardedColony.from_snapshot(snapshot, self.shard.ring)  # (logs nothing)
        self.shard.set_replay(ops)
        self._skipping = False
        self._outlook = self._outlooks = None
        self._steady_at = None

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

    def call_spans(self) -> list[CallSpan]:
        """The pipelined calls this actor ran (the last :data:`CALL_SPANS_KEPT`; skipped
        ones are left out), oldest first: for :func:`~phago.distributed.timeline.wait_summary`."""
        return list(self._spans)


def _part(parts: list[Any], shard: int, what: str) -> Any:
    """``parts[shard]``, or :class:`RoutingFailed` for a shard outside the cluster."""
    if not 0 <= shard < len(parts):
        raise RoutingFailed(f"{what} addressed to unknown shard {shard}")
    return parts[shard]


_FAN_OUTS = {"auto", "compiled", "calls"}


def usable_cores() -> int:
    """The cores this process may run on: its CPU affinity where the OS keeps one (``taskset``
    narrows it), else the machine's count. ``"auto"`` fan-out, the crowding warning and the
    CPUs a local Ray declares all go by it.

    Example:
        >>> usable_cores() >= 1
        True
    """
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS and Windows have no affinity call
        return os.cpu_count() or 1


def _spare_core(actors: int) -> bool:
    """True when this process may use a core beyond one per actor (the driver's)."""
    return usable_cores() > actors


def _crowded(shards: int) -> bool:
    """True when several shards would run on this machine without a core each plus one for
    the driver (on 2 cores, 2 Ray shards of W3 ran about as fast as one)."""
    return shards > 1 and not _spare_core(shards)


_CODE_LOADED = False


def _load_compiled_code() -> None:
    """Digest one tiny document in a throw-away colony, once per process, so that the
    Numba kernels are loaded before the first timed phase (about a second on 2 cores)."""
    global _CODE_LOADED
    if _CODE_LOADED:
        return
    from phago import Colony, Digester, Position

    colony = Colony(ColonyConfig.for_large_corpora(), seed=0)
    colony.ingest_document("warm-up", "alpha beta gamma delta alpha beta", Position(0, 0))
    colony.spawn(Digester(Position(0, 0)))
    colony.run(8)
    _CODE_LOADED = True


DEFAULT_START_TIMEOUT_S = 120.0  # how long shard actors may take to be placed and start

# Ray passes an object of up to this size inline, inside the task messages, and puts larger
# ones in its object store. The default (100 KiB) sends a shard's larger parts (degree reports
# averaged 181 KiB and update batches 104 KiB at W3 D=100k on 2 shards) through the store,
# which costs the raylet and both actors CPU per part; 512 KiB keeps them inline: 8-9 ms of
# CPU per tick less at that size (``benchmarks/ray_cpu.py``; BENCHMARKS.md, Ray scaling,
# fourteenth session). Much larger ones are cheaper through the store (a 1 MB part inline
# took ~1.5 ms more per 2-actor fan-out in ``benchmarks/ray_fanout.py``).
INLINE_OBJECT_BYTES = 1 << 19


def local_ray_options(num_cpus: int) -> dict[str, Any]:
    """The ``ray.init`` arguments phago starts a local Ray with (for scripts and test
    suites that start one themselves before creating Ray shards).

    No dashboard, no worker logs on the driver, and objects up to
    :data:`INLINE_OBJECT_BYTES` passed inline rather than through the object store (a Ray
    system setting, so it only applies to a Ray started with it; on a cluster, give it to
    ``ray start`` as ``--system-config='{"max_direct_call_object_size": 524288}'``).

    Example:
        >>> opts = local_ray_options(2)
        >>> opts["num_cpus"], opts["_system_config"]["max_direct_call_object_size"]
        (2, 524288)
    """
    return {
        "num_cpus": int(num_cpus),
        "include_dashboard": False,
        "log_to_driver": False,
        "_system_config": {"max_direct_call_object_size": INLINE_OBJECT_BYTES},
    }


def _local_cpus(num_shards: int, options: dict[str, Any]) -> int:
    """The CPUs to declare when starting a local Ray for ``num_shards`` shards: this
    machine's cores, or as many as the shards ask for in all if that is more, so that every
    shard is placed (Ray's CPUs are a scheduling count; with fewer cores than shards they
    share the cores, which :func:`_crowded` warns about)."""
    return max(usable_cores(), math.ceil(num_shards * _demand(options).get("CPU", 0.0)))


def _demand(options: dict[str, Any]) -> dict[str, float]:
    """The resources one shard actor asks Ray for, by Ray's resource names."""
    want = {"CPU": float(options.get("num_cpus", 1))}
    if options.get("num_gpus"):
        want["GPU"] = float(options["num_gpus"])
    if options.get("memory"):
        want["memory"] = float(options["memory"])
    for name, amount in (options.get("resources") or {}).items():
        want[str(name)] = float(amount)
    return {k: v for k, v in want.items() if v > 0}


def _capacity(ray: Any, options: dict[str, Any], count: int) -> str:
    """What the cluster offers against what ``count`` shards ask, in words (for errors).

    Example:
        >>> class FakeRay:
        ...     def cluster_resources(self): return {"CPU": 2.0}
        ...     def available_resources(self): return {"CPU": 0.0}
        >>> print(_capacity(FakeRay(), {"num_cpus": 1, "num_gpus": 1}, 3))
        ... # doctest: +NORMALIZE_WHITESPACE
        the cluster has CPU 2 (0 free), GPU 0 (0 free), and 3 shard(s) ask CPU 1, GPU 1 each;
        pass ray_options with less, add nodes, or use fewer shards
    """
    want = _demand(options)
    asks = ", ".join(f"{k} {v:g}" for k, v in want.items())
    try:
        total = ray.cluster_resources()
        free = ray.available_resources()
    except Exception:  # pragma: no cover - only when Ray itself is failing
        return f"{count} shard(s) ask {asks} each"
    has = ", ".join(f"{k} {total.get(k, 0.0):g} ({free.get(k, 0.0):g} free)" for k in want)
    return (
        f"the cluster has {has}, and {count} shard(s) ask {asks} each; "
        "pass ray_options with less, add nodes, or use fewer shards"
    )


def _await_started(
    ray: Any, handles: list[RayShardHandle], options: dict[str, Any], timeout_s: float
) -> None:
    """Wait until every shard actor has started (placed, constructed, answering).

    Raises:
        ShardNotPlaced: some did not start within ``timeout_s`` (named, with the cluster's
            resources against the shards' demand), or one failed in its constructor.
    """
    refs = [h.actor.ping.remote() for h in handles]
    ready, _ = ray.wait(refs, num_returns=len(refs), timeout=timeout_s)
    started = set(ready)
    waiting = [h.shard_id for h, r in zip(handles, refs, strict=True) if r not in started]
    if waiting:
        raise ShardNotPlaced(
            waiting,
            f"not started within {timeout_s:g} s ({_capacity(ray, options, len(handles))})",
        )
    try:
        ray.get(refs)  # all ready: raises only for an actor whose constructor failed
    except ray.exceptions.RayActorError as exc:
        failed = [h.shard_id for h, r in zip(handles, refs, strict=True) if _failed(ray, r)]
        first = str(exc).splitlines()[0] if str(exc) else "its constructor failed"
        raise ShardNotPlaced(failed or [h.shard_id for h in handles], first) from exc


def _raised_in_actor(shard_id: ShardId, method: str, exc: Any) -> BaseException:
    """What a call's caller gets for ``exc``, the ``RayTaskError`` of an error a shard's
    actor raised in ``method`` (a method's name, or ``phase Sense`` for a phase): a Phago
    error as the shard raised it (its own type and message, as local shards give it),
    anything else an :class:`~phago.errors.RpcError` naming the shard, the call and the
    error."""
    cause = getattr(exc, "cause", None)
    if isinstance(cause, BaseException):
        return RpcError.unless_phago(shard_id, method, cause)
    return RpcError(f"{shard_id} failed in {method}: {str(exc).strip().splitlines()[0]}")


def _failed(ray: Any, ref: Any) -> bool:
    """True if the finished ``ref`` holds an actor error."""
    try:
        ray.get(ref, timeout=0)
    except ray.exceptions.RayActorError:
        return True
    return False


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


# calls that change a shard between ticks: the driver logs them for a rollback to replay
_LOGGED = {
    "ingest_batch",
    "spawn",
    "spawn_many",
    "spawn_digesters",
    "apply_reinforcement",
    "retire_agents",
    "forget_documents",
    "forget_renumber",
}


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
        colony: str | None = None,
    ) -> None:
        self.shard_id = ShardId(index)
        self._args = (index, config, ring, seed, ghost_cache_size)
        self._options = options
        # the actors' names: <colony>.shard-<index>.<generation> in the "phago" namespace
        self.colony = colony if colony is not None else new_colony_name()
        # what was sent since the last checkpoint, for a replacement to replay; None before
        # the first (nothing to roll back to: the log would only keep every document sent)
        self._ops: list[tuple[int, str, Any]] | None = None
        self._tick = 0
        self.recreated = 0
        self.actor = ShardActor().options(**self._actor_options()).remote(*self._args)
        self.compiled_fan_out = True  # set by start_ray_shards
        self.start_timeout_s = DEFAULT_START_TIMEOUT_S  # set by start_ray_shards

    @property
    def target(self) -> Any:
        """The actor handle."""
        return self.actor

    @property
    def actor_name(self) -> str:
        """The current actor's name in the :data:`ACTOR_NAMESPACE` namespace."""
        return shard_actor_name(self.colony, int(self.shard_id), self.recreated)

    def _actor_options(self) -> dict[str, Any]:
        """The actor's options: the colony's, then its name (a replacement's generation
        is one more than the actor it replaces)."""
        return {**self._options, "name": self.actor_name, "namespace": ACTOR_NAMESPACE}

    def _unlog(self, logged: list[tuple[int, str, Any]]) -> None:
        """Take a call's own entries (``logged``) off the op log: the call was not done."""
        if logged and self._ops is not None:
            gone = {id(op) for op in logged}
            self._ops[:] = [op for op in self._ops if id(op) not in gone]

    async def call(self, method: str, *args: Any) -> Any:
        """Call ``method`` on the actor; a dead actor raises :class:`ShardLost`."""
        ray = _ray()
        logged: list[tuple[int, str, Any]] = []
        if method in _LOGGED and self._ops is not None:
            logged = _as_ops(self._tick, method, args)
            self._ops.extend(logged)
        try:
            result = await self.actor.call.remote(method, *args)
        except ray.exceptions.RayTaskError as exc:
            # the shard refused the call (an argument it cannot take, say) and changed
            # nothing: a rollback must not replay it either
            self._unlog(logged)
            said = f"phase {args[0]}" if method == "run_phase" and args else method
            raise _raised_in_actor(self.shard_id, said, exc) from exc
        except ray.exceptions.RayActorError as exc:
            self._unlog(logged)  # not done: a rollback must not replay it
            raise ShardLost(
                self.shard_id, str(exc).splitlines()[0] if str(exc) else "actor died"
            ) from exc
        if method == "run_phase" and args and args[0] is TickPhase.ADVANCE:
            self._tick = result.tick
        return result

    async def checkpoint(self) -> Any:
        """Fetch the actor's state (the driver's log of what was sent since the checkpoint
        before is kept until :meth:`checkpoint_taken`)."""
        ray = _ray()
        try:
            return await self.actor.checkpoint.remote()
        except ray.exceptions.RayActorError as exc:
            raise ShardLost(self.shard_id, "actor died during checkpoint") from exc

    def checkpoint_taken(self) -> None:
        """Every shard's checkpoint was taken: log what is sent from here on."""
        self._ops = []

    async def restore(self, snapshot: Any) -> None:
        """Roll the actor back to ``snapshot``; recreate it if it is dead."""
        ray = _ray()
        ops = list(self._ops or ())
        try:
            await self.actor.ping.remote()
            alive = True
        except ray.exceptions.RayActorError:
            alive = False
        if not alive:
            await self._replace(ray, snapshot, ops)
        else:
            await self.actor.restore.remote(snapshot, ops)
        self._tick = await self.actor.ping.remote()

    async def _replace(self, ray: Any, snapshot: Any, ops: list[Any]) -> None:
        """Start a replacement actor from ``snapshot``, to replay ``ops``, within
        ``start_timeout_s``. A replacement lost before it has started, not by its own
        constructor (placed on a node that had died and that the cluster did not know dead
        yet, say: with the ``SPREAD`` strategy the dead node is the emptiest), is replaced
        again (the next generation), until the time is up.

        Raises:
            ShardNotPlaced: no replacement started within ``start_timeout_s``, or one
                failed in its constructor.
        """
        deadline = time.monotonic() + self.start_timeout_s
        while True:
            self.recreated += 1
            self.actor = ShardActor().options(**self._actor_options()).remote(*self._args, snapshot)
            try:
                left = max(deadline - time.monotonic(), 0.001)
                await asyncio.wait_for(self.actor.ping.remote(), left)
                await self.actor.call.remote("set_replay", ops)
                return
            except TimeoutError:
                with contextlib.suppress(Exception):
                    ray.kill(self.actor)
                raise ShardNotPlaced(
                    [self.shard_id],
                    f"its replacement did not start within {self.start_timeout_s:g} s "
                    f"({_capacity(ray, self._options, 1)})",
                ) from None
            except ray.exceptions.RayActorError as exc:
                said = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
                if getattr(exc, "actor_init_failed", False) or time.monotonic() >= deadline:
                    raise ShardNotPlaced(
                        [self.shard_id], f"its replacement was lost before it started: {said}"
                    ) from exc
                log.warning(
                    "%s: replacement %s was lost before it started (%s); starting another",
                    self.shard_id,
                    self.actor_name,
                    said,
                )

    async def abandon(self) -> None:
        """Give up on an unresponsive actor: kill it, so a rollback recreates it."""
        with contextlib.suppress(Exception):
            _ray().kill(self.actor)

    async def inject_fault(self, kind: str, phase: str, tick: int, seconds: float = 3600.0) -> None:
        """Arm a one-shot fault on the actor (drills and tests)."""
        await self.actor.inject_fault.remote(kind, phase, tick, seconds)

    @staticmethod
    def fan_out_group(handles: list[RayShardHandle]) -> CompiledPhaseFanOut:
        """What the runner fans phases out through when every shard is a Ray actor (it
        falls back to ``.remote()`` calls when the handles ask for them)."""
        group = CompiledPhaseFanOut(handles)
        if handles and not handles[0].compiled_fan_out:
            group._unavailable = "plain actor calls were asked for"
        return group


@dataclass(slots=True)
class PhaseFailure:
    """A shard's phase raised (returned by the actor instead of raising)."""

    error: str
    traceback: str


# How long the first run of a freshly compiled graph may take (it sets up the channels; 0.3–
# 1.2 s measured on 2 cores), kept apart from the phase timeout.
_WARM_UP_TIMEOUT_S = 60.0

IDLE_TEARDOWN_S = 2.0
"""How long a compiled graph may go unused before it is torn down (and compiled again, with
its warm-up, on the next fan-out). Its channels busy-wait: while a graph is up, every actor
in it burns a core even between runs (19.9 CPU-seconds in 10 idle seconds for 2 shards on 2
cores, against 0.6 with whole ticks)."""


class CompiledPhaseFanOut:
    """Phase fan-outs to Ray shard actors through a Ray Compiled Graph.

    The graph has one node per shard, ``run_phase_step`` of its actor, fed from the input's
    element for that shard; executing it is one fan-out (every shard's call starts at once)
    and its outputs are gathered with one ``ray.get`` and the phase timeout. Compiled graphs
    pass inputs and outputs through shared-memory channels instead of one task submission per
    call: measured on 2 cores (``benchmarks/ray_fanout.py``), a no-op fan-out to 4 actors takes
    about 1 ms against about 4 ms with ``.remote()`` calls.

    The graph is compiled on first use, and again after the actors change (a recovery
    recreates dead ones) and after it was torn down for going unused :data:`IDLE_TEARDOWN_S`
    (its channels busy-wait, so an idle graph would keep every actor's core busy between
    runs); any failure other than a shard's own error tears it down too. Where it cannot be
    compiled (a Ray Client connection, an old Ray), fan-outs use ``.remote()`` calls. All
    graph calls run in one thread of their own: a compiled graph may only be used by the
    process (here: the thread) that compiled it, and waiting on it must not block the loop.
    """

    def __init__(self, handles: list[RayShardHandle]) -> None:
        self._handles = handles
        self._dag: Any = None
        self._actors: tuple[Any, ...] = ()
        self._unavailable: str | None = None
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="phago-ray-graph")
        self._pipeline = RayTickPipeline(handles)
        self._last_use = 0.0  # (monotonic) the end of the last fan-out, on the graph thread
        self._idle_timer: threading.Timer | None = None
        self._timer_lock = threading.Lock()
        self._closed = False
        self.compilations = 0
        """How many graphs were compiled (one, then one more per recovery or idle spell)."""

    @property
    def tick_pipeline(self) -> RayTickPipeline | None:
        """Where ticks go without a compiled graph: whole ticks, actor to actor (None while
        compiled graphs are in use)."""
        return self._pipeline if self._unavailable is not None else None

    @property
    def compiled(self) -> bool:
        """True while fan-outs go through a compiled graph (one is compiled on the first
        fan-out, and torn down when it goes unused: :attr:`graph_up`)."""
        return self._unavailable is None

    @property
    def graph_up(self) -> bool:
        """True while a compiled graph is up (its actors' channels busy-waiting)."""
        return self._dag is not None

    @property
    def unavailable(self) -> str | None:
        """Why fan-outs use ``.remote()`` calls instead (None while compiled graphs work)."""
        return self._unavailable

    async def fan_out(
        self, phase: TickPhase, payloads: list[Any], resolve_ghosts: bool, timeout_s: float
    ) -> list[tuple[bool, Any]] | None:
        """Run ``phase`` on every shard; ``(finished, result or exception)`` per shard.

        Returns None when compiled graphs are unavailable (the caller then uses
        ``.remote()`` calls). A shard that died raises :class:`ShardLost`.
        """
        if self._unavailable is not None:
            return None
        loop = asyncio.get_running_loop()
        steps = [
            pickle.dumps((phase, p, resolve_ghosts), protocol=pickle.HIGHEST_PROTOCOL)
            for p in payloads
        ]
        job = self._thread.submit(self._fan_out_blocking, phase, steps, timeout_s)
        outcomes = await asyncio.wrap_future(job, loop=loop)
        if outcomes is not None and phase is TickPhase.ADVANCE:
            for h, (finished, value) in zip(self._handles, outcomes, strict=True):
                if finished and not isinstance(value, BaseException):
                    h._tick = value.tick
        return outcomes

    def _fan_out_blocking(
        self, phase: TickPhase, steps: list[bytes], timeout_s: float
    ) -> list[tuple[bool, Any]] | None:
        ray = _ray()
        actors = tuple(h.actor for h in self._handles)
        if self._dag is not None and actors != self._actors:
            self._teardown()
        fresh = self._dag is None
        if fresh and not self._compile(actors):
            return None
        try:
            if fresh:  # a graph's first run sets up its channels: slow, so not timed
                ray.get(self._dag.execute(*[b""] * len(steps)), timeout=_WARM_UP_TIMEOUT_S)
            refs = self._dag.execute(*steps)
            blobs = ray.get(refs, timeout=timeout_s)
        except Exception as exc:  # a timeout, a dead actor, a broken channel
            try:
                return self._diagnose(phase, exc)
            finally:
                self._teardown()
        self._last_use = time.monotonic()
        self._arm_idle_teardown(IDLE_TEARDOWN_S)
        values = [pickle.loads(b) for b in blobs]
        return [
            (True, RpcError(f"{h.shard_id} failed: {v.error}\n{v.traceback}"))
            if isinstance(v, PhaseFailure)
            else (True, v)
            for h, v in zip(self._handles, values, strict=True)
        ]

    def _compile(self, actors: tuple[Any, ...]) -> bool:
        from ray.dag import InputNode, MultiOutputNode

        try:
            with InputNode() as inp:
                dag = MultiOutputNode([a.run_phase_step.bind(inp[k]) for k, a in enumerate(actors)])
            self._dag = dag.experimental_compile()
        except Exception as exc:  # no compiled graphs here: use plain actor calls
            self._unavailable = f"{type(exc).__name__}: {exc}"
            log.warning("Ray compiled graphs unavailable (%s); using actor calls", str(exc))
            return False
        self._actors = actors
        self.compilations += 1
        return True

    def _arm_idle_teardown(self, delay_s: float) -> None:
        """Check for an idle graph in ``delay_s`` (one timer at a time: a graph in use
        re-arms it for the rest of the idle spell when it fires)."""
        with self._timer_lock:
            if self._idle_timer is not None or self._closed:
                return
            timer = threading.Timer(delay_s, self._on_idle_timer)
            timer.daemon = True
            self._idle_timer = timer
            timer.start()

    def _on_idle_timer(self) -> None:
        with self._timer_lock:
            self._idle_timer = None
            if self._closed:
                return
            with contextlib.suppress(RuntimeError):  # (the thread was shut down meanwhile)
                self._thread.submit(self._teardown_if_idle)

    def _teardown_if_idle(self) -> None:
        """On the graph thread (so never during a fan-out): tear the graph down if it went
        unused :data:`IDLE_TEARDOWN_S`, else check again when it would have."""
        if self._dag is None:
            return
        unused = time.monotonic() - self._last_use
        if unused >= IDLE_TEARDOWN_S:
            log.debug("compiled graph unused for %.1f s: torn down until the next run", unused)
            self._teardown()
        else:
            self._arm_idle_teardown(IDLE_TEARDOWN_S - unused)

    def _diagnose(self, phase: TickPhase, exc: Exception) -> list[tuple[bool, Any]]:
        """After a failed fan-out (before the teardown): raise :class:`ShardLost` for a dead
        actor; otherwise the shards still in the phase are unfinished (they are killed, so
        the teardown cannot wait on them) and the rest finished. When none is stuck, the
        failure is reported as every shard's error."""
        ray = _ray()
        probes = [h.actor.running_phase.remote() for h in self._handles]
        ready, _ = ray.wait(probes, num_returns=len(probes), timeout=5.0)
        answered = set(ready)
        stuck: list[bool] = []
        for h, ref in zip(self._handles, probes, strict=True):
            if ref not in answered:  # no answer: treat the actor as stuck in the phase
                stuck.append(True)
                continue
            try:
                running = ray.get(ref, timeout=0)
            except ray.exceptions.RayActorError as dead:
                raise ShardLost(h.shard_id, f"actor died in phase {phase}") from dead
            stuck.append(running is not None)
        if not any(stuck):
            error = RpcError(f"phase {phase} fan-out failed: {exc!r}")
            return [(True, error) for _ in self._handles]
        for h, is_stuck in zip(self._handles, stuck, strict=True):
            if is_stuck:
                with contextlib.suppress(Exception):
                    ray.kill(h.actor)
        # the finished shards' results went down with the graph; the tick fails anyway
        return [(False, None) if is_stuck else (True, None) for is_stuck in stuck]

    def _teardown(self) -> None:
        dag, self._dag, self._actors = self._dag, None, ()
        if dag is not None:
            with contextlib.suppress(Exception):
                dag.teardown()

    def close(self) -> None:
        """Tear the graph down (before the actors are killed) and stop the thread."""
        with self._timer_lock:
            self._closed = True
            timer, self._idle_timer = self._idle_timer, None
        if timer is not None:
            timer.cancel()
        with contextlib.suppress(Exception):
            self._thread.submit(self._teardown).result(timeout=30)
        self._thread.shutdown(wait=False, cancel_futures=True)


@dataclass(eq=False, slots=True)
class _Call:
    """One round of :meth:`ShardActorImpl.run_step` calls, one per actor: what they run,
    and per shard the references they return (a part per other shard, then the result)."""

    refs: list[list[Any]]
    decay: bool
    sense: bool
    loaded: dict[int, _StepResult] = field(default_factory=dict)
    # unpickled halves, by shard and whether Decay's: the runner takes each twice
    pairs: dict[tuple[int, bool], _PhasePair] = field(default_factory=dict)

    def pair(self, index: int, decay: bool) -> _PhasePair | None:
        """Shard ``index``'s Decay-and-Advance (``decay``) or Sense-and-Act results, once
        loaded; None where not loaded yet, not run or skipped."""
        pair = self.pairs.get((index, decay))
        if pair is None:
            step = self.loaded.get(index)
            blob = None if step is None else step.decay if decay else step.sense
            if blob is None or blob == _SKIPPED:
                return None
            pair = self.pairs[(index, decay)] = pickle.loads(blob)
        return pair


@dataclass(eq=False, slots=True)
class _Later:
    """A tick's Decay and Advance, bound to the call that runs them once it is submitted:
    with the next tick's Sense and Act when that tick comes chained, else on its own when
    the runner first waits for them."""

    call: _Call | None = None


@dataclass(frozen=True, slots=True)
class _Half:
    """What the runner waits on for one shard and phase of a pipelined tick."""

    source: _Call | _Later
    phase: TickPhase


class RayTickPipeline:
    """Whole ticks submitted at once, with each phase's data passed actor to actor, in one
    Ray task per actor and tick.

    Each call (:meth:`ShardActorImpl.run_step`) runs the Decay and Advance of the tick
    whose Sense and Act ran last, then the next tick's Sense and Act: the Decay needs the
    other shards' Act batches of its tick, and the next Sense and Act need nothing from
    other shards, so the shards still meet once a tick, at Decay, and a run of chained
    ticks costs one task per actor and tick instead of two (Ray's cost of a task, about a
    millisecond of CPU on 2 cores, was most of the barrier: BENCHMARKS.md, twenty-first
    session). Each call returns one part per other shard (its Decay's asks and answers and
    its Act's batches with the shard's outlook), which that shard's next call takes as
    arguments (Ray's object references; Ray starts a call as soon as its inputs exist, so
    the driver's Python code is off the critical path), and the results as one object.

    A tick's Decay and Advance go in with the next tick when that one is submitted
    chained, before the runner waits for them; otherwise (the span's last tick, a tick the
    runner runs alone) they go in on their own when the runner first waits for them. A
    chained tick the shards skip (see :meth:`ShardActorImpl.run_sense_act`) skips only its
    Sense and Act half; the Decay before it has run. Calls from one caller to one actor run
    in order, so each actor runs the phases in order. The runner waits for a Decay that
    comes with the next Sense and Act four phases long (:meth:`wait_phases`), and counts
    that Sense and Act as the work of the tick it waited for (:meth:`overlap_ms`).
    """

    # a tick may be submitted chained, before the previous one's results are in; two
    # ticks ahead: a tick's Decay goes in with the next tick, so the call after the one
    # the runner waits for must be queued before that one ends, or the shards would wait
    # for the driver between calls
    chains = True
    lookahead = 2

    def __init__(self, handles: list[RayShardHandle]) -> None:
        if [int(h.shard_id) for h in handles] != list(range(len(handles))):
            raise DistributedError("a pipelined tick needs shard ids 0..n-1 in order")
        self._handles = handles
        self._actors: tuple[Any, ...] = ()
        self._step: list[Any] = []
        self._act: _Call | None = None  # the call that ran a Sense and Act whose Decay is due
        self._later: _Later | None = None  # that Decay, for the runner
        self._stash: HeldMessages | None = None  # what the runner held for that Decay
        self._held: _Call | None = None  # the call that ran the last Decay (its parts)
        self._ahead: list[_Call] = []  # chained ticks' calls whose Sense is not awaited yet
        self.chained = 0  # ticks submitted chained
        self.skipped = 0  # of which the shards skipped (and the pipeline took back)

    def submit(
        self,
        sense_payloads: list[Any],
        resolve_ghosts: bool,
        act_payload: Any = None,
        held: HeldMessages | None = None,
        *,
        chained: bool = False,
        stop_when_idle: bool = False,
    ) -> list[list[Any]]:
        """Submit one tick (``act_payload``: every shard's Act payload; ``held``: what the
        runner holds for this tick's Decay, if anything); returns each phase's handles, one
        per shard, for :meth:`result`.

        ``chained``: submit it before the previous tick's results are in (the runner holds
        no messages, and the Sense payloads are the usual ones: no distribution). Its
        Sense and Act go in with the previous tick's Decay and Advance, and each shard
        skips them when the runner would not have run the tick so, deciding from every
        shard's outlook of the tick before, which came with their update batches
        (``stop_when_idle``: the run stops once no shard has anything left to digest); the
        runner then calls :meth:`drop_ahead`.

        Raises:
            DistributedError: a chained tick that does not follow a submitted one, or
                holding messages.
        """
        if chained and (self._act is None or held):
            raise DistributedError("a chained tick follows a pipelined tick, holding nothing")
        call = self._launch(
            sense_payloads=sense_payloads,
            act_payload=act_payload,
            resolve=resolve_ghosts,
            chained=chained,
            stop_when_idle=stop_when_idle,
        )
        self._stash = held
        self._later = later = _Later()
        if chained:
            self._ahead.append(call)
            self.chained += 1
        n = len(self._handles)

        def halves(source: _Call | _Later, phase: TickPhase) -> list[Any]:
            return [_Half(source, phase)] * n  # (read-only: one for every shard)

        return [
            halves(call, TickPhase.SENSE),
            halves(call, TickPhase.ACT),
            halves(later, TickPhase.DECAY),
            halves(later, TickPhase.ADVANCE),
        ]

    def _launch(
        self,
        sense_payloads: list[Any] | None = None,
        act_payload: Any = None,
        resolve: bool = True,
        chained: bool = False,
        stop_when_idle: bool = False,
    ) -> _Call:
        """Submit one call per actor: the due Decay and Advance, if any, then (unless
        ``sense_payloads`` is None) a tick's Sense and Act."""
        n = len(self._handles)
        actors = tuple(h.actor for h in self._handles)
        if actors != self._actors:  # method handles, made once per set of actors
            self._actors = actors
            self._step = [a.run_step.options(num_returns=2 * n - 1) for a in actors]
        decay, sense = self._act is not None, sense_payloads is not None
        # a chained call takes the other shards' parts as references, so that it can start
        # (and run its next Sense) before they are made: ShardActorImpl._step_ahead
        nested = decay and sense and chained
        held_call = self._held if decay else None
        refs = []
        for i, method in enumerate(self._step):
            parts: list[Any] = []
            if self._act is not None:
                parts += _inbound(self._act.refs, i, n - 1)
            if held_call is not None:
                parts += _inbound(held_call.refs, i)
            spec = StepSpec(
                decay=decay,
                held=held_call is not None,
                decay_payload=_held_payload(self._stash, i) if decay else None,
                sense=sense,
                sense_payload=_lean_sense(sense_payloads[i]) if sense_payloads else None,
                act_payload=act_payload,
                chained=chained,
                stop_when_idle=stop_when_idle,
                resolve=resolve,
                shards=n,
                nested=nested,
            )
            remote = (
                method.remote(_dump(spec), parts) if nested else method.remote(_dump(spec), *parts)
            )
            refs.append(_refs(remote))
        call = _Call(refs, decay, sense)
        if decay:
            if self._later is not None:
                self._later.call = call
            self._held, self._stash, self._later = call, None, None
        self._act = call if sense else None
        return call

    def wait_phases(self, phase: TickPhase, handles: list[Any]) -> int:
        """How many phases the call behind ``handles`` runs (the runner waits that many
        phase timeouts): 2 for Sense and Act, 2 for a Decay and Advance on their own, 4
        for one followed by the next tick's Sense and Act, 1 for Act and Advance (their
        results come with the phase before)."""
        if phase in (TickPhase.ACT, TickPhase.ADVANCE) or not handles:
            return 1
        source = handles[0].source
        call = source if isinstance(source, _Call) else source.call
        return 4 if phase is TickPhase.DECAY and call is not None and call.sense else 2

    def overlap_ms(self, handles: list[list[Any]]) -> tuple[float, float]:
        """For a tick the runner has waited for (its :meth:`submit` handles): the slowest
        shard's Sense and Act (their sum, phase by phase) when they ran in the call before,
        with the previous tick's Decay, and those of the next tick when they ran in the
        call of this tick's Decay. The runner counts a call's work in the tick whose
        results it waited for."""
        sense_call = handles[0][0].source if handles and handles[0] else None
        later = handles[2][0].source if len(handles) > 2 and handles[2] else None
        decay_call = later.call if isinstance(later, _Later) else None
        before = (
            self._sense_ms(sense_call)
            if isinstance(sense_call, _Call) and sense_call.decay
            else 0.0
        )
        after = self._sense_ms(decay_call) if decay_call is not None and decay_call.sense else 0.0
        return before, after

    @staticmethod
    def _sense_ms(call: _Call) -> float:
        """The slowest shard's Sense plus the slowest's Act in ``call`` (0 when skipped or
        not all loaded; unpickled halves are kept for :meth:`result`)."""
        pairs = [call.pair(i, False) for i in range(len(call.refs))]
        if not pairs or any(p is None for p in pairs):
            return 0.0
        sense = max(float(p.first.compute_ms) for p in pairs if p is not None)
        return sense + max(float(p.second.compute_ms) for p in pairs if p is not None)

    async def drop_ahead(self, timeout_s: float) -> None:
        """Take back the chained ticks submitted after the one the runner waited for last,
        whose Sense and Act every shard skipped (the runner saw that tick's results ask for
        that): the first one's call ran the awaited tick's Decay, the next ones' nothing.
        The next tick's call then goes in without a Decay.

        Their calls are awaited (within ``timeout_s``) so that a shard that ran one instead
        is caught; a shard lost or stuck meanwhile is left for the next call to find (the
        run these ticks would have continued is over).

        Raises:
            BarrierFailed: a shard ran one of the ticks.
        """
        calls, self._ahead = self._ahead, []
        if not calls:
            return
        if self._act in calls:
            self._act, self._later, self._stash = None, None, None
        if calls[0].decay:  # the last Decay that ran (the later calls skipped theirs)
            self._held = calls[0]
        self.skipped += len(calls)
        ray = _ray()
        n = len(self._handles)
        try:
            steps = await asyncio.wait_for(
                asyncio.gather(*(self._load(i, c) for c in calls for i in range(n))), timeout_s
            )
        except (TimeoutError, ray.exceptions.RayError) as exc:
            log.warning("a skipped tick's calls did not all answer: %s", str(exc))
            return
        ran = {
            str(self._handles[k % n].shard_id) for k, s in enumerate(steps) if s.sense != _SKIPPED
        }
        if ran:
            raise BarrierFailed(f"{', '.join(sorted(ran))} ran a tick the runner stopped")

    async def _load(self, index: int, call: _Call) -> _StepResult:
        """Shard ``index``'s results of ``call`` (awaited once, then kept with the call)."""
        step = call.loaded.get(index)
        if step is None:
            blob = await call.refs[index][-1]
            step = call.loaded[index] = pickle.loads(blob)
        return step

    async def result(self, index: int, half: _Half) -> Any:
        """Await one shard's phase result; a dead actor raises :class:`ShardLost`. A
        Decay not submitted yet goes in now, on its own, for every shard.

        Raises:
            ShardLost: the actor died.
            RpcError: the shard raised an error that is not a Phago error (one that is
                is raised as it is).
            BarrierFailed: the shard skipped a chained tick that the runner, deciding from
                the same results, ran.
        """
        source = half.source
        if isinstance(source, _Later):
            if source.call is None:
                if source is not self._later:
                    raise DistributedError("a tick's Decay was dropped before it ran")
                self._launch()  # binds it
            call = source.call
            assert call is not None
        else:
            call = source
            if call in self._ahead:  # the runner waits for its tick now
                self._ahead.remove(call)
        ray = _ray()
        h = self._handles[index]
        try:
            step = await self._load(index, call)
        except ray.exceptions.RayActorError as exc:
            raise ShardLost(
                h.shard_id, str(exc).splitlines()[0] if str(exc) else "actor died"
            ) from exc
        except ray.exceptions.RayTaskError as exc:  # the shard raised
            raise _raised_in_actor(h.shard_id, f"phase {half.phase}", exc) from exc
        return self._picked(index, call, step, half)

    def result_now(self, index: int, half: _Half) -> Any | None:
        """What :meth:`result` would give, where it is at hand without waiting (the call's
        results from that shard are loaded: a tick's Act after its Sense, Advance after
        Decay, and the Sense of a chained tick, which came with the Decay before); else
        None. The runner then takes a phase's results without a task per shard.

        Raises:
            BarrierFailed: as :meth:`result`.
            DistributedError: as :meth:`result`.
        """
        source = half.source
        call = source.call if isinstance(source, _Later) else source
        step = None if call is None else call.loaded.get(index)
        if call is None or step is None:
            return None
        if not isinstance(source, _Later) and call in self._ahead:
            self._ahead.remove(call)
        return self._picked(index, call, step, half)

    def _picked(self, index: int, call: _Call, step: _StepResult, half: _Half) -> Any:
        """Shard ``index``'s result for ``half`` from its loaded results of ``call``."""
        h = self._handles[index]
        is_decay = half.phase in (TickPhase.DECAY, TickPhase.ADVANCE)
        pair = call.pair(index, is_decay)
        if pair is None:
            if (step.decay if is_decay else step.sense) == _SKIPPED:  # the shard and the
                # runner disagree on the rule
                raise BarrierFailed(f"{h.shard_id} skipped a chained tick the runner ran")
            raise DistributedError(f"{h.shard_id}'s call did not run {half.phase}")
        if half.phase is TickPhase.ADVANCE:
            h._tick = pair.second.tick
        return pair.first if half.phase in (TickPhase.SENSE, TickPhase.DECAY) else pair.second

    async def take_held(self) -> HeldMessages:
        """Fetch what the last Decay sent (asks and answers), so that a checkpoint or the
        store can hold them; the next tick then gets them from the runner.

        Raises:
            DistributedError: a tick's Decay is still due (the runner waits for every tick
                it submits before it checkpoints or saves).
        """
        if self._act is not None:
            raise DistributedError("a tick's Decay is still due")
        call, self._held = self._held, None
        out = HeldMessages()
        if call is None:
            return out
        n = len(self._handles)
        pairs = [(j, i) for j in range(n) for i in range(n) if i != j]  # source, destination
        blobs = await asyncio.gather(*(call.refs[j][_slot(j, i)] for j, i in pairs))
        for (j, i), blob in zip(pairs, blobs, strict=True):
            requests, answers = _split_part(pickle.loads(blob))
            out.add(j, {i: requests} if requests else {}, {i: answers} if answers else {})
        return out

    def reset(self) -> None:
        """Forget a failed tick's outputs, and a chained tick's after it (a rollback
        restores the runner's held ones)."""
        self._act = self._held = None
        self._ahead = []
        self._later = None
        self._stash = None


@dataclass(frozen=True, slots=True)
class _Skipped:
    """What every place of a skipped chained tick's calls holds (pickled)."""


_SKIPPED = pickle.dumps(_Skipped(), protocol=pickle.HIGHEST_PROTOCOL)


def _skips(outlooks: list[TickOutlook], stop_when_idle: bool) -> bool:
    """Whether a chained tick must not run, given every shard's outlook at the end of the
    tick before: a shard wants the merged distribution brought to its Sense, or
    ``stop_when_idle`` and no shard has anything left to digest (what the runner decides
    from their Advance results with :func:`~phago.distributed.runner.all_idle`)."""
    if any(o.wants_distribution for o in outlooks):
        return True
    return stop_when_idle and not any(o.busy for o in outlooks)


# a pipelined call's part for a half that did not run
_NO_PART = b""


class StepSpec(NamedTuple):
    """What one :meth:`ShardActorImpl.run_step` call runs, and where its inputs are."""

    decay: bool  # the Decay and Advance of the tick whose Sense and Act ran last
    held: bool  # the Decay before's parts come after the Act's (else the runner's)
    decay_payload: Any  # what the runner held for that Decay, or None
    sense: bool  # then the next tick's Sense and Act
    sense_payload: Any  # Sense's payload (None: the usual one)
    act_payload: Any
    chained: bool  # the Sense and Act were submitted before the tick before's results
    stop_when_idle: bool
    resolve: bool  # resolve ghosts
    shards: int
    nested: bool = False  # the other shards' parts come as one list of references


@dataclass(frozen=True, slots=True)
class _StepResult:
    """One :meth:`ShardActorImpl.run_step` call's results: the pickled Decay-and-Advance
    pair and Sense-and-Act pair (:class:`_PhasePair`), None where that half did not run, or
    :data:`_SKIPPED` for a chained Sense and Act the shard skipped."""

    decay: bytes | None
    sense: bytes | None


@dataclass(slots=True)
class _PhasePair:
    """Two phases' results of one shard from one pipelined call (Sense and Act, or Decay
    and Advance), sent as one object."""

    first: Any
    second: Any


_ANSWERS = (GhostNode, CapOrder)  # what an owner's Decay part holds besides the requests


def _split_part(part: list[Any]) -> tuple[list[Any], list[Any]]:
    """A Decay part split into the sender's requests (node ids, a degree report) and its
    answers (ghosts, a cap order), each in order."""
    answers = [x for x in part if type(x) in _ANSWERS]
    if len(answers) == len(part):
        return [], answers
    return [x for x in part if type(x) not in _ANSWERS], answers


def _fetched(refs: list[Any]) -> list[Any]:
    """The parts behind ``refs``: Ray's object references, fetched (parts at hand, as bytes,
    are taken as they are: a driver in this process passes them so)."""
    if all(type(r) is bytes for r in refs):
        return list(refs)
    return list(_ray().get(refs))


def _dump(value: Any) -> bytes:
    """``value`` pickled (the standard pickler, newest protocol)."""
    return pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)


def _slot(source: int, dest: int) -> int:
    """Where shard ``source``'s routed phase returns its part for ``dest`` (``!= source``):
    parts for the other shards in shard order, then the result."""
    return dest if dest < source else dest - 1


def _refs(out: Any) -> list[Any]:
    """A routed phase's returns as a list: Ray gives a list of references for several
    returns and one reference for one (one shard: the result alone)."""
    return list(out) if isinstance(out, list | tuple) else [out]


def _inbound(outs: list[list[Any]], dest: int, offset: int = 0) -> list[Any]:
    """The parts every other shard's phase returned for ``dest``, in source order (from
    place ``offset`` on: a pipelined call returns its Decay's parts, then its Act's)."""
    return [refs[offset + _slot(j, dest)] for j, refs in enumerate(outs) if j != dest]


def _lean_sense(payload: Any) -> Any:
    """None for the usual Sense payload (nothing to collect), else the payload."""
    if (
        isinstance(payload, dict)
        and not payload.get("collect")
        and payload.get("distribution") is None
    ):
        return None
    return payload


def _held_payload(held: HeldMessages | None, shard: int) -> dict[str, Any] | None:
    """Shard ``shard``'s Decay payload from what the runner held, or None (nothing)."""
    if not held:
        return None
    asks, answers = held.asks.get(shard, {}), held.answers.get(shard, [])
    return {"asks": asks, "inbound": answers} if asks or answers else None


def _as_ops(tick: int, method: str, args: tuple[Any, ...]) -> list[tuple[int, str, Any]]:
    """The op-log entries of the call ``method(*args)`` (see :data:`_LOGGED`), as
    :meth:`ShardedColony.apply_replay_ops` takes them."""
    if method == "ingest_batch":
        return [(tick, "ingest_batch", args[0])]
    if method == "apply_reinforcement":
        pairs, accessed, increment, at = args
        return [(tick, "reinforce", (list(pairs), list(accessed), increment, at))]
    if method == "retire_agents":  # the agent ids (ShardedColony.retire_agents)
        return [(tick, "retire", [int(a) for a in args[0]])]
    if method == "forget_documents":  # the ids and the cluster's plan
        return [(tick, "forget", ([int(d) for d in args[0]], args[1]))]
    if method == "forget_renumber":  # the kept nodes of the renumbered shards
        return [(tick, "forget_renumber", dict(args[0]))]
    if method == "spawn_digesters":  # made again from the same arguments when it replays
        return [(tick, "spawn_digesters", tuple(args))]
    if method == "spawn":  # one agent; the actor unpickles it when it replays
        return [(tick, "spawn", pickle.dumps(args[0], protocol=pickle.HIGHEST_PROTOCOL))]
    return [(tick, "spawn", pickle.dumps(a, protocol=pickle.HIGHEST_PROTOCOL)) for a in args[0]]


@dataclass
class RayState:
    """What :func:`stop_ray_shards` needs: the handles, and whether the colony runs on a Ray
    that phago started in this process (``started_ray``; shut down when the last colony on
    it stops)."""

    handles: list[RayShardHandle] = field(default_factory=list)
    started_ray: bool = False
    stopped: bool = False


# The Ray phago started in this process, shared by every colony created while it runs: how
# many of them have not stopped yet (Ray is shut down when the last one stops; until the
# thirty-fifth session the colony that started it shut it down under the others).
_OWN_RAY_LOCK = threading.Lock()
_own_ray_users = 0


def _join_own_ray(state: RayState) -> None:
    global _own_ray_users
    with _OWN_RAY_LOCK:
        _own_ray_users += 1
        state.started_ray = True


def _leave_own_ray(ray: Any, state: RayState) -> None:
    global _own_ray_users
    with _OWN_RAY_LOCK:
        if not state.started_ray:
            return
        state.started_ray = False
        _own_ray_users -= 1
        if _own_ray_users <= 0:
            _own_ray_users = 0
            ray.shutdown()


def check_actor_options(options: dict[str, Any]) -> None:
    """Check ``options`` as Ray checks an actor's options, before any Ray is started.

    Raises:
        ConfigError: an option Ray does not know, or a value it refuses.

    Example:
        >>> check_actor_options({"num_cpus": 0.5})
        >>> check_actor_options({"num_cpu": 0.5})
        Traceback (most recent call last):
        ...
        phago.errors.ConfigError: ray_options: Invalid option keyword num_cpu for actors. ...
    """
    try:
        ShardActor().options(**options)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"ray_options: {exc}") from exc


def _check_same_cluster(ray: Any, address: str | None) -> None:
    """With Ray already connected in this process, refuse an ``address`` that names another
    cluster (Ray joins one cluster per process; the address was ignored until the
    thirty-fifth session)."""
    if address is None or address in ("auto", "local"):
        return
    try:
        from ray.util.client import ray as client_ray

        as_client = bool(client_ray.is_connected())  # type: ignore[no-untyped-call]
    except Exception:  # no client support in this Ray
        as_client = False
    current = "a Ray Client connection" if as_client else "this process's Ray"
    wanted_client = address.startswith("ray://")
    other = wanted_client != as_client
    if not other and not wanted_client:
        where = _host_and_port(address)
        try:
            gcs = str(ray.get_runtime_context().gcs_address)
            current = gcs
            port = int(gcs.rpartition(":")[2])
        except Exception:  # (not knowable: let the connection stand)
            return
        other = where is not None and where[1] != port
    if other:
        raise DistributedError(
            f"Ray in this process is already connected ({current}), so it cannot join "
            f"{address!r}: a process joins one Ray cluster; close the colonies on the one it "
            "has (or call ray.shutdown()) first"
        )


def check_reachable(address: str | None, timeout_s: float = 3.0) -> None:
    """Fail fast when the address Ray would join for ``address`` names a host and port
    nothing listens on.

    Ray retries an unreachable cluster address for about a minute (logging as it goes)
    before it gives up; a plain TCP connection says the same within ``timeout_s``.
    ``None`` and ``"auto"`` are probed where ``ray.init`` would go for them: the
    ``RAY_ADDRESS`` environment variable where it is set (``ray.init`` joins it), else, for
    ``"auto"`` (or ``RAY_ADDRESS=auto``), the cluster file the last ``ray start`` on this
    machine wrote (a cluster killed uncleanly leaves it behind, and Ray then retried for
    good). ``None`` with no ``RAY_ADDRESS`` (a new local Ray), ``"local"`` and addresses
    without a port are left to Ray. The error names the address and where it came from.

    Raises:
        DistributedError: nothing accepts a connection at the address.

    Example:
        >>> from unittest import mock
        >>> with mock.patch.dict("os.environ", {"RAY_ADDRESS": ""}):
        ...     check_reachable(None)  # a new local Ray: nothing to probe
        >>> check_reachable("127.0.0.1:1")
        Traceback (most recent call last):
        ...
        phago.errors.DistributedError: no Ray cluster at '127.0.0.1:1': ...
        >>> with mock.patch.dict("os.environ", {"RAY_ADDRESS": "127.0.0.1:1"}):
        ...     check_reachable(None)
        Traceback (most recent call last):
        ...
        phago.errors.DistributedError: no Ray cluster at '127.0.0.1:1' (from the RAY_ADDRESS ...
    """
    target, found, hint = _address_to_probe(address)
    where = _host_and_port(target)
    if target is None or where is None:
        return
    host, port = where
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            pass
    except OSError as exc:
        raise DistributedError(
            f"no Ray cluster at {target!r}{found}: cannot connect to {host}:{port} "
            f"({exc.__class__.__name__}); {hint}"
        ) from exc


_START_OR_CHECK = "start one with `ray start --head`, or check the address"
_STALE_FILE = "; a cluster stopped uncleanly leaves that file behind: `ray stop` removes it"


def _address_to_probe(address: str | None) -> tuple[str | None, str, str]:
    """The address ``ray.init(address=address)`` would join (None: nothing to probe), where
    it came from (``" (...)"`` after the address; ``""`` for ``address`` itself) and what
    to do if nothing answers there.

    ``ray.init`` takes ``RAY_ADDRESS`` (when set and not empty) in place of an address of
    None or ``"auto"``; ``"auto"`` (given, or as ``RAY_ADDRESS``) means the cluster file of
    the last ``ray start`` here, and ``"local"`` a new local Ray.

    Example:
        >>> from unittest import mock
        >>> with mock.patch.dict("os.environ", {"RAY_ADDRESS": "ray://10.0.0.5:10001"}):
        ...     _address_to_probe(None)[:2]
        ('ray://10.0.0.5:10001', ' (from the RAY_ADDRESS environment variable)')
        >>> _address_to_probe("10.0.0.6:6379")[:2]  # an address given wins
        ('10.0.0.6:6379', '')
        >>> with mock.patch.dict("os.environ", {"RAY_ADDRESS": "local"}):
        ...     _address_to_probe("auto")[0] is None  # Ray starts a local one
        True
    """
    env = os.environ.get("RAY_ADDRESS", "")
    if address is not None and address != "auto":
        return address, "", _START_OR_CHECK
    if env == "local" or (address is None and not env):
        return None, "", ""  # a new local Ray
    if env and env != "auto":
        if address is None:
            return (
                env,
                " (from the RAY_ADDRESS environment variable)",
                "unset RAY_ADDRESS to start a local Ray instead, or start the cluster there "
                "(`ray start --head`)",
            )
        return (
            env,
            " (from the RAY_ADDRESS environment variable, which Ray takes for 'auto')",
            "start the cluster there (`ray start --head`), or unset RAY_ADDRESS so that "
            "'auto' finds the cluster `ray start` started on this machine",
        )
    resolved = _cluster_file_address()
    if resolved is None:
        return None, "", ""  # none found: Ray says so itself, at once
    if address is None:  # RAY_ADDRESS=auto
        return (
            resolved,
            f" (the address that RAY_ADDRESS={env} finds in Ray's cluster file)",
            f"{_START_OR_CHECK}, or unset RAY_ADDRESS to start a local Ray{_STALE_FILE}",
        )
    return (
        resolved,
        " (the address that 'auto' finds in Ray's cluster file)",
        f"{_START_OR_CHECK}{_STALE_FILE}",
    )


def resolve_address(address: str | None) -> tuple[str | None, str]:
    """The address ``ray.init(address=address)`` joins, and where it came from.

    ``RAY_ADDRESS`` (set and not empty) stands in for an ``address`` of None or ``"auto"``,
    as in ``ray.init``; ``"auto"`` otherwise means the cluster file of the last
    ``ray start`` on this machine. The address is None where Ray starts a new local one (or
    ``"auto"`` finds none); where it came from is ``""`` for ``address`` itself, else words
    to put in parentheses after it.

    Example:
        >>> from unittest import mock
        >>> with mock.patch.dict("os.environ", {"RAY_ADDRESS": "192.0.2.2:6379"}):
        ...     resolve_address(None), resolve_address("10.0.0.5:6379")
        (('192.0.2.2:6379', 'from the RAY_ADDRESS environment variable'), ('10.0.0.5:6379', ''))
        >>> with mock.patch.dict("os.environ", {"RAY_ADDRESS": ""}):
        ...     resolve_address(None)
        (None, '')
    """
    target, found, _ = _address_to_probe(address)
    return target, found.removeprefix(" (").removesuffix(")")


def _cluster_file_address() -> str | None:
    """The address Ray takes for ``"auto"`` where ``RAY_ADDRESS`` names none (the cluster
    file of the last ``ray start`` here, else a running Ray found), or None where there is
    none or it cannot be read."""
    try:
        from ray._private import services

        found = services.get_ray_address_from_environment("auto", None)
    except Exception:  # none found (Ray then says so itself), or a Ray without this
        return None
    return str(found) if found else None


def _host_and_port(address: str | None) -> tuple[str, int] | None:
    """The host and port an address names (after any ``scheme://``); None for ``None``,
    ``"auto"``, ``"local"`` and an address without a port.

    Example:
        >>> _host_and_port("ray://10.0.0.5:10001"), _host_and_port("[::1]:6379")
        (('10.0.0.5', 10001), ('::1', 6379))
        >>> _host_and_port("auto") is None and _host_and_port("head") is None
        True
    """
    if address is None or address in ("auto", "local"):
        return None
    host, sep, port = address.split("://", 1)[-1].rpartition(":")
    if not (sep and host and port.isdigit()):
        return None
    return host.strip("[]"), int(port)


def start_ray_shards(
    num_shards: int,
    config: ColonyConfig,
    ring: ConsistentHashRing,
    seed: int,
    ghost_cache_size: int,
    *,
    address: str | None = None,
    checkpoint_every: int | None = None,
    options: dict[str, Any] | None = None,
    fan_out: str = "auto",
    start_timeout_s: float = DEFAULT_START_TIMEOUT_S,
) -> tuple[list[RayShardHandle], RayState]:
    """Connect to (or start) Ray, create one shard actor per shard and wait until every one
    has started.

    With no ``address`` (and no ``RAY_ADDRESS`` in the environment, which Ray would join) a
    new local Ray is started; it declares at least as many CPUs as the shards ask for, so
    that every shard is placed on a machine with fewer cores than shards. On a cluster
    joined (or a Ray already running), shards wait up to ``start_timeout_s`` to be placed,
    for an autoscaler to add nodes, say.

    Raises:
        ConfigError: for a ``fan_out`` other than ``"auto"``, ``"compiled"`` or ``"calls"``,
            a ``start_timeout_s`` that is not positive, or ``options`` that name the actors
            (``name``, ``namespace``: phago names them).
        ShardNotPlaced: shards that did not start within ``start_timeout_s`` (the actors
            created are killed, and Ray is shut down if it was started here).
    """
    if fan_out not in _FAN_OUTS:
        raise ConfigError(f"unknown fan_out {fan_out!r}; use one of {sorted(_FAN_OUTS)}")
    if not start_timeout_s > 0:
        raise ConfigError("start_timeout_s must be > 0")
    named = sorted({"name", "namespace"} & set(options or {}))
    if named:
        raise ConfigError(
            f"ray_options may not set {' or '.join(named)}: phago names each shard actor "
            f"'<colony>.shard-<i>.<generation>' in the {ACTOR_NAMESPACE!r} namespace"
        )
    ray = _ray()
    state = RayState()
    opts = {"num_cpus": 1, **(options or {})}
    check_actor_options(opts)
    _quiet_handled_shard_errors()
    if ray.is_initialized():
        _check_same_cluster(ray, address)
        with _OWN_RAY_LOCK:
            shared = _own_ray_users > 0
        if shared:  # phago's own Ray, started for another colony: shared, and counted
            _join_own_ray(state)
    else:
        check_reachable(address)
        kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False}
        if address is not None:
            kwargs["address"] = address
        elif os.environ.get("RAY_ADDRESS", "") in ("", "local"):  # (else Ray joins it)
            kwargs = local_ray_options(_local_cpus(num_shards, opts))
            kwargs["address"] = "local"  # a new instance, never a `ray start` one nearby
        # (the cluster joined: the address given, or RAY_ADDRESS; "local": a new one)
        init_ray(ray, kwargs.get("address", os.environ.get("RAY_ADDRESS")), **kwargs)
        _join_own_ray(state)
    local = address is None and os.environ.get("RAY_ADDRESS", "") in ("", "local")
    if local and _crowded(num_shards):
        log.warning(
            "%d Ray shards on a machine with %d cores: the shards share the cores with the "
            "driver, so more shards run faster here only when each tick has much to do (about "
            "a million documents; BENCHMARKS.md, Ray scaling); Ray pays off with a core per "
            "shard and one to spare, or on a cluster",
            num_shards,
            usable_cores(),
        )
    colony = new_colony_name()
    try:
        for i in range(num_shards):
            handle = RayShardHandle(i, config, ring, seed, ghost_cache_size, opts, colony)
            state.handles.append(handle)
        _await_started(ray, state.handles, opts, start_timeout_s)
    except BaseException:
        stop_ray_shards(state)
        raise
    compiled = fan_out == "compiled"  # "auto": whole ticks, at every shard count
    for h in state.handles:
        h.compiled_fan_out = compiled
        h.start_timeout_s = start_timeout_s
    return list(state.handles), state


def init_ray(ray: Any, joining: str | None, **kwargs: Any) -> None:
    """``ray.init(**kwargs)`` (``joining``: the cluster's address, None or ``"local"`` for a
    new local Ray), with Ray's errors as a :class:`~phago.errors.DistributedError` that
    says where, what and what to check.

    A Ray Client address (``ray://``) whose server fails the connection on its side
    ("Initialization failure from server") is tried once more: Ray 2.60's client server
    now and then loses the process it starts for a client (gRPC's fork handlers crash it:
    ray issue 63202; a head started with ``GRPC_ENABLE_FORK_SUPPORT=false`` does not), and
    the connection fails after about 40 s; the next one is served.

    A cluster address of the form ``host:port`` that turns this driver away for want of an
    authentication token is told within a moment (:func:`token_refusal`), where Ray would
    retry for 20 s before it says so.

    Raises:
        DistributedError: Ray could not start or join the cluster.
    """
    refused = token_refusal(joining)
    if refused is not None:
        raise DistributedError(_init_failed(joining, refused)) from refused
    for attempt in (1, 2):
        try:
            ray.init(**kwargs)
            return
        except Exception as exc:  # Ray's own: ConnectionError, RuntimeError, ValueError...
            retry = (
                attempt == 1
                and str(joining or "").startswith("ray://")
                and "Initialization failure from server" in str(exc)
            )
            if not retry:
                raise DistributedError(_init_failed(joining, exc)) from exc
            log.warning(
                "Ray Client's server at %s failed the connection on its side (%s); trying "
                "once more (%s)",
                joining,
                str(exc),
                CLIENT_SERVER_FIX,
            )


def token_refusal(address: str | None, timeout_s: float = 3.0) -> BaseException | None:
    """Ray's error if the cluster at ``address`` (``host:port`` of its control store, no
    scheme) refuses this driver for want of an authentication token, else None.

    One connection to the control store answers at once (a few milliseconds), where
    ``ray.init`` tries about once a second for 20 s before it gives up. An address in any
    other form, a Ray without the client this uses, or an answer that takes over
    ``timeout_s`` (something else listens there: ``ray.init`` then fails as before) gives
    None.

    Example:
        >>> token_refusal("auto") is None and token_refusal("ray://head:10001") is None
        True
    """
    if address is None or "://" in address or _host_and_port(address) is None:
        return None
    try:
        from ray._raylet import GcsClient  # type: ignore[attr-defined]  # (Ray's own client)
    except ImportError:
        return None
    said: list[BaseException] = []

    def connect() -> None:
        try:
            GcsClient(address=address)
        except Exception as exc:  # Ray's: AuthenticationError, RpcError, ...
            said.append(exc)

    probe = threading.Thread(target=connect, name="phago-ray-token-probe", daemon=True)
    probe.start()
    probe.join(timeout_s)
    if probe.is_alive() or not said or not wants_a_token(said[0]):
        return None
    return said[0]


CLIENT_SERVER_FIX = (
    "Ray Client's server lost the process it started for this driver, which Ray 2.60 does "
    "now and then unless the head node runs with GRPC_ENABLE_FORK_SUPPORT=false in its "
    "environment (`GRPC_ENABLE_FORK_SUPPORT=false ray start --head`)"
)
"""What to do about Ray Client's "Initialization failure from server" (ray issue 63202)."""


def _init_failed(address: str | None, exc: BaseException) -> str:
    """What to say when ``ray.init`` fails: where, Ray's error and its cause (the first line
    of each), and what to check.

    Example:
        >>> _init_failed("10.0.0.5:6379", ConnectionError("Failed to connect"))[:80]
        "could not join the Ray cluster at '10.0.0.5:6379': ConnectionError: Failed to co"
        >>> _init_failed(None, RuntimeError("no room"))
        'could not start a local Ray: RuntimeError: no room'
    """
    said: list[str] = []
    seen: BaseException | None = exc
    while seen is not None and len(said) < 2:
        text = str(seen).strip()
        first = text.splitlines()[0] if text else ""
        # (Ray ends some first lines with the start of a traceback it then quotes)
        first = first.split("Traceback (most recent call last)")[0].rstrip(" :")
        said.append(f"{seen.__class__.__name__}: {first}" if first else seen.__class__.__name__)
        seen = seen.__cause__
    what = "; caused by ".join(said)
    if address in (None, "local"):
        return f"could not start a local Ray: {what}"
    if wants_a_token(exc):
        if auth_token_available(os.environ):
            fix = (
                "this driver has a token but does not send it: set RAY_AUTH_MODE=token in "
                "its environment (before Ray is imported)"
            )
        else:
            fix = (
                "copy the cluster's token (the head node's ~/.ray/auth_token) to "
                "~/.ray/auth_token here, or set RAY_AUTH_TOKEN or RAY_AUTH_TOKEN_PATH, and "
                "set RAY_AUTH_MODE=token"
            )
        return (
            f"could not join the Ray cluster at {address!r}: it wants an authentication "
            f"token: {fix} ({what})"
        )
    if str(address).startswith("ray://") and "Initialization failure from server" in str(exc):
        return f"could not join the Ray cluster at {address!r}: {what} ({CLIENT_SERVER_FIX})"
    token = ""
    if (
        str(address).startswith("ray://")
        and auth_token_available(os.environ)
        and os.environ.get("RAY_AUTH_MODE", "").lower() != "token"
    ):  # (Ray Client says nothing of a token it wanted: the connection just times out)
        token = (
            "; if the cluster uses token authentication, set RAY_AUTH_MODE=token here: this "
            "driver has a token but does not send it"
        )
    return (
        f"could not join the Ray cluster at {address!r}: {what} (check the address, and that "
        f"the cluster runs the same Ray and Python versions as this driver{token})"
    )


def stop_ray_shards(state: RayState) -> None:
    """Kill the shard actors, and shut Ray down if :func:`start_ray_shards` started it and
    no other colony of this process still runs on it."""
    ray = _ray()
    if not state.stopped:
        state.stopped = True
        for h in state.handles:
            with contextlib.suppress(Exception):
                ray.kill(h.actor)
    _leave_own_ray(ray, state)
