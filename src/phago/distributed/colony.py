"""DistributedColony: the one-stop facade over a sharded colony (local threads or Ray).

Example:
    >>> from phago.distributed import DistributedColony
    >>> with DistributedColony(num_shards=2, seed=0) as dc:
    ...     _ = dc.ingest_document("Cells", "cell membrane protein transport")
    ...     _ = dc.ingest_document("Genes", "gene expression protein synthesis")
    ...     _ = dc.spawn_digesters(1)
    ...     ticks = dc.run_until_digested(100)
    ...     stats = dc.stats()
    >>> stats.documents_digested, stats.graph_nodes
    (2, 7)
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import signal
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, NoReturn

import numpy as np

from phago._gc import cyclic_gc_paused
from phago.agents.base import Agent
from phago.colony import agent_id_list, check_digester_options, check_keyword_counts, tick_count
from phago.config import ColonyConfig, colony_config, whole_number
from phago.distributed.coordinator import Coordinator
from phago.distributed.degree_cap import ROUND_TICKS
from phago.distributed.forget import plan_from_parts
from phago.distributed.ghost_cache import GhostNodeCache
from phago.distributed.runner import (
    DEFAULT_CHECKPOINT_COST_SHARE,
    DistributedRunner,
    DistributedTickResult,
    LocalShardHandle,
    RunnerConfig,
    ShardHandle,
    UntilIdle,
)
from phago.distributed.shard import OwnedGraph, ShardedColony
from phago.distributed.timeline import WaitSummary, wait_summary
from phago.distributed.types import (
    DEFAULT_VIRTUAL_NODES,
    DistributedConfig,
    ShardId,
    ShardStatus,
    TickPhase,
)
from phago.document_batch import DocumentBatch, DocumentInput, checked_columns
from phago.errors import (
    ColonyBusy,
    ColonyClosed,
    ConfigError,
    InvalidAgent,
    InvalidShard,
    PhagoError,
    PhaseOrderError,
    RpcError,
    ShardLost,
    StoreError,
    UnknownAgent,
)
from phago.graph import HebbianGraph
from phago.ids import AgentId, DocumentId, document_ids
from phago.state import ForgetPlan, ForgetReport, checked_document_ids
from phago.timeline import TIMELINE_TICKS, TickRecord, TimelineBuffer
from phago.types import Document, Position

if TYPE_CHECKING:
    from phago.query.term_counts import SavedTermCounts

__all__ = ["DistributedColony", "DistributedStats", "merge_owned_graphs"]

# documents routed and sent to the shards at a time by ingest_documents
_INGEST_CHUNK = 8192


@dataclass(frozen=True, slots=True)
class DistributedStats:
    """Cluster totals and one entry per shard.

    The totals are :class:`~phago.colony.ColonyStats`'s counts of documents, graph and
    agents (``total_spawned == agents_alive + agents_died + agents_retired``; signals are
    not summed) plus the edges whose ends live on different shards. Each entry of ``shards``
    is a plain dict of one shard's status, counts, memory and last heartbeat
    (``last_heartbeat_ms``, wall-clock time: two runs' stats differ there).
    """

    tick: int
    documents_total: int
    documents_digested: int
    graph_nodes: int
    graph_edges: int
    agents_alive: int
    agents_died: int
    total_spawned: int
    agents_retired: int
    cross_shard_edges: int
    shards: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict, shards included."""
        return {f: getattr(self, f) for f in self.__dataclass_fields__}


def _tick_row(result: DistributedTickResult) -> tuple[float, ...]:
    """The :class:`~phago.timeline.TickRecord` values of a distributed tick, from its
    shards' reports."""
    return (
        result.tick,
        result.total_nodes(),
        result.total_edges(),
        result.agents_alive(),
        result.documents_total(),
        result.documents_digested(),
        result.cross_shard_edge_count,
        result.wall_ms,
        result.barrier_ms,
    )


def _check_progress(progress: object) -> None:
    """Refuse a ``progress`` that is not a truth value: a callback there is most likely
    meant as ``on_tick``, which :meth:`Colony.run <phago.colony.Colony.run>` takes second."""
    if not isinstance(progress, bool | np.bool_):
        raise ConfigError(
            f"progress must be True or False, got {type(progress).__name__}; pass a "
            "callback by name: on_tick=... or on_progress=..."
        )


_FIXED_ON_RESUME = ("num_shards", "config", "seed", "virtual_nodes", "ghost_cache_size")
"""Constructor arguments a saved store or checkpoint fixes: the shard count, colony
configuration, seed, hash ring and ghost caches it was written with."""


def check_resume_options(options: dict[str, Any], source: str) -> None:
    """Refuse, as a :class:`~phago.errors.ConfigError`, options that a colony resumed from
    ``source`` (a store or checkpoint, named in the message) cannot take: those it fixes
    and names :class:`DistributedColony` does not know.

    Example:
        >>> check_resume_options({"checkpoint_every": 5}, "the store s")
        >>> check_resume_options({"seed": 5}, "the store s")
        Traceback (most recent call last):
        ...
        phago.errors.ConfigError: seed is fixed by the store s (its num_shards, config, \
seed, virtual_nodes and ghost_cache_size are those it was written with)
    """
    import inspect

    fixed = [k for k in options if k in _FIXED_ON_RESUME]
    if fixed:
        raise ConfigError(
            f"{', '.join(fixed)} {'is' if len(fixed) == 1 else 'are'} fixed by {source} "
            f"(its {', '.join(_FIXED_ON_RESUME[:-1])} and {_FIXED_ON_RESUME[-1]} are those "
            "it was written with)"
        )
    known = inspect.signature(DistributedColony).parameters
    unknown = sorted(k for k in options if k not in known)
    if unknown:
        raise ConfigError(
            f"unknown option{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}; "
            f"DistributedColony takes {', '.join(k for k in known if k not in _FIXED_ON_RESUME)}"
        )


def merge_owned_graphs(parts: Sequence[OwnedGraph]) -> HebbianGraph:
    """The global graph from every shard's owned nodes and stored edges.

    Nodes are ordered by NodeId and edges by their ends, so the merged graph does not depend
    on how the nodes and edges were spread over the shards: the same nodes and edges give the
    same graph, node for node and edge for edge.
    """
    ids = np.concatenate([p.node_ids for p in parts]) if parts else np.zeros(0, np.uint64)
    order = np.argsort(ids, kind="stable")
    labels = [lab for p in parts for lab in p.labels]
    types = [t for p in parts for t in p.node_types]
    cat = np.concatenate
    access = cat([p.access for p in parts]) if parts else np.zeros(0, np.int64)
    created = cat([p.created for p in parts]) if parts else np.zeros(0, np.int64)
    pos = cat([p.positions for p in parts]) if parts else np.zeros((0, 2))
    ea = cat([p.edge_a for p in parts]) if parts else np.zeros(0, np.uint64)
    eb = cat([p.edge_b for p in parts]) if parts else np.zeros(0, np.uint64)
    lo, hi = np.minimum(ea, eb), np.maximum(ea, eb)
    eorder = np.lexsort((hi, lo))
    pn = cat([p.prov_nodes for p in parts]) if parts else np.zeros(0, np.uint64)
    pd = cat([p.prov_docs for p in parts]) if parts else np.zeros(0, np.uint64)
    porder = np.lexsort((pd, pn))
    return HebbianGraph.from_arrays(
        node_ids=ids[order],
        labels=[labels[i] for i in order],
        node_types=[types[i] for i in order],
        access=access[order],
        created=created[order],
        positions=pos[order],
        edge_a=lo[eorder],
        edge_b=hi[eorder],
        weight=cat([p.weight for p in parts])[eorder] if parts else np.zeros(0),
        co_activations=cat([p.co_activations for p in parts])[eorder]
        if parts
        else np.zeros(0, np.int64),
        created_tick=cat([p.created_tick for p in parts])[eorder]
        if parts
        else np.zeros(0, np.int64),
        last_activated_tick=cat([p.last_activated_tick for p in parts])[eorder]
        if parts
        else np.zeros(0, np.int64),
        prov_nodes=pn[porder],
        prov_docs=pd[porder],
    )


# shard calls that change a colony (refused once it is closed; reads of local shards are not)
_CHANGING_CALLS = frozenset(
    {
        "ingest_batch",
        "spawn",
        "spawn_many",
        "spawn_digesters",
        "apply_reinforcement",
        "ingest_document",
        "retire_agents",
        "forget_documents",
        "forget_renumber",
    }
)


def _local_call(h: LocalShardHandle, method: str, args: tuple[Any, ...]) -> Any:
    """``method(*args)`` on the local shard ``h``: an error it raises that is not a Phago
    error (a defect) is an :class:`~phago.errors.RpcError` naming the shard and the call,
    as a Ray shard's is."""
    try:
        return getattr(h.target, method)(*args)
    except Exception as exc:
        error = RpcError.unless_phago(h.shard_id, method, exc)
        if error is exc:
            raise
        raise error from exc


class DistributedColony:
    """A colony sharded over ``num_shards`` workers that tick in lockstep.

    Args:
        num_shards: number of shards.
        backend: ``"local"`` (threads in this process) or ``"ray"`` (one Ray actor per shard).
        config: colony configuration, the same on every shard.
        seed: cluster seed, a whole number >= 0; None means 0 (each shard's colony gets a
            seed derived from it).
        runner_config: timeouts, ghost resolution, parallelism and rollback cadence.
        address: Ray only: None starts a local Ray; ``"auto"``, the head's ``"host:port"``
            or Ray Client's ``"ray://host:port"`` joins a running cluster (a cluster Ray
            cannot join is a :class:`~phago.errors.DistributedError`).
        checkpoint_every: take a consistent checkpoint of every shard every K ticks (local
            backend default: at least 50 ticks apart, in memory, and further apart while a
            checkpoint costs more than 5% of the ticks' time, as large colonies' do; Ray
            default: none, so a lost shard is an error).
        checkpoint_dir: also write each checkpoint there, as one set that replaces the one
            before only once it is whole on disk (every shard's snapshot, the messages held
            between ticks; :meth:`from_checkpoint` loads it, on either backend).
        ghost_cache_size: ghost cache capacity per shard.
        virtual_nodes: virtual nodes per shard on the hash ring.
        ray_options: Ray only: actor options (``num_cpus`` is 1 by default; not ``name``
            or ``namespace``: see :attr:`ray_actor_names`).
        ray_fan_out: Ray only: how phases reach the actors. ``"compiled"``: through a Ray
            Compiled Graph (lowest latency; its channels busy-wait, so every actor keeps a
            core busy while the graph is up: it is torn down after two seconds unused and
            compiled again on the next run); ``"calls"``: whole ticks submitted as ``.remote()``
            calls, each phase's data passed on as object references (the driver's Python code
            is off the critical path, and a run of ticks costs one task per actor and
            tick); ``"auto"`` (default): calls, at every shard count (faster than compiled
            with one shard and with several, on 2 cores and on 16).
        ray_start_timeout_s: Ray only: how long the shard actors may take to be placed and
            start (on a cluster joined, for an autoscaler to add nodes, say); a local Ray
            started here declares enough CPUs for every shard.

    Raises:
        ConfigError: an unknown backend, fewer than one shard, a seed that is negative or
            not a whole number, a config that is not a
            :class:`~phago.config.ColonyConfig` (nor None), or a bad Ray option.
        ShardNotPlaced: Ray shards that did not start within ``ray_start_timeout_s``.
    """

    def __init__(
        self,
        num_shards: int = 3,
        backend: str = "local",
        config: ColonyConfig | None = None,
        seed: int | None = 0,
        runner_config: RunnerConfig | None = None,
        *,
        address: str | None = None,
        checkpoint_every: int | None = None,
        checkpoint_dir: str | os.PathLike[str] | None = None,
        ghost_cache_size: int = 1000,
        virtual_nodes: int = DEFAULT_VIRTUAL_NODES,
        ray_options: dict[str, Any] | None = None,
        ray_fan_out: str = "auto",
        ray_start_timeout_s: float = 120.0,
    ) -> None:
        num_shards = whole_number(num_shards, "num_shards", 1)
        if backend not in ("local", "ray"):
            raise ConfigError(f"unknown backend {backend!r}; use 'local' or 'ray'")
        GhostNodeCache(ghost_cache_size)  # checks it here, before any Ray actor starts
        self.num_shards = int(num_shards)
        self.backend = backend
        self.config = colony_config(config)
        self.seed = 0 if seed is None else whole_number(seed, "seed", 0)
        if runner_config is not None and not isinstance(runner_config, RunnerConfig):
            raise ConfigError(
                f"runner_config must be a RunnerConfig, got {type(runner_config).__name__}"
            )
        rc = runner_config or RunnerConfig()
        if checkpoint_dir is not None:
            rc = replace(rc, checkpoint_dir=str(checkpoint_dir))
        if checkpoint_every is not None:
            rc = replace(rc, checkpoint_every=checkpoint_every)
        elif backend == "ray" and runner_config is None:
            rc = replace(rc, checkpoint_every=None)
        elif runner_config is None:  # default checkpoints, spaced by what they cost
            rc = replace(rc, checkpoint_cost_share=DEFAULT_CHECKPOINT_COST_SHARE)
        self.coordinator = Coordinator.with_config(
            DistributedConfig(num_shards=self.num_shards, virtual_nodes_per_shard=virtual_nodes),
            phase_timeout_s=rc.phase_timeout_ms / 1000.0,
        )
        self.ring = self.coordinator.ring
        self._loop = asyncio.new_event_loop()
        # what the colony holds outside Python's memory (its loop, threads, Ray actors),
        # released by close(), or by the finalizer when the colony is dropped unclosed or
        # the interpreter exits first; it holds nothing that refers to the colony, so the
        # finalizer does not keep the colony alive
        self._resources = _Resources(self._loop)
        self._finalizer = weakref.finalize(self, self._resources.release)
        # runs the colony's loop for a caller whose own thread runs an event loop (a
        # notebook cell, a coroutine): made on first need
        self._loop_thread: ThreadPoolExecutor | None = None
        self._task: asyncio.Task[Any] | None = None  # what the loop runs now
        self._ticking = False  # the call the loop runs is a run of ticks
        self._in_run = False  # a run() / run_until_digested() is under way (_run_ticks)
        # one call at a time: held by the thread whose call is under way (re-entrant: a
        # run's callbacks may read the colony); another thread's call raises ColonyBusy
        self._calls = threading.RLock()
        self._stop_requested = False  # request_stop(): end the run under way
        self._closed = False
        self._backend_state: Any = None
        shards: list[ShardedColony | ShardHandle]
        if backend == "local":
            shards = [
                ShardedColony(
                    ShardId(i),
                    self.config,
                    self.ring,
                    ghost_cache_size=ghost_cache_size,
                    seed=self.seed,
                )
                for i in range(self.num_shards)
            ]
        else:
            from phago.distributed.backends.ray import start_ray_shards

            try:
                ray_handles, self._backend_state = start_ray_shards(
                    self.num_shards,
                    self.config,
                    self.ring,
                    self.seed,
                    ghost_cache_size,
                    address=address,
                    checkpoint_every=checkpoint_every,
                    options=ray_options or {},
                    fan_out=ray_fan_out,
                    start_timeout_s=ray_start_timeout_s,
                )
            except BaseException:
                self._finalizer()  # (closes the loop)
                raise
            self._resources.backend_state = self._backend_state
            shards = list(ray_handles)
        self._runner = DistributedRunner(self.coordinator, shards, rc)
        self._resources.runner = self._runner
        self._layout_next = 0
        self._graph_cache: tuple[int, int, HebbianGraph] | None = None
        self._version = 0
        # the documents' term counts it was loaded or last saved with (phago.store): a query's
        # document index takes them instead of counting every document again
        self.saved_term_counts: SavedTermCounts | None = None
        self._last_busy = True
        # what a call stopped by Ctrl-C at a tick boundary returned (see _run_ticks)
        self._stopped_result: Any = None
        # (tick, nodes, edges) after each tick run through run() or tick(), the ticks a
        # call completed before it failed or was cancelled (a second Ctrl-C) included:
        # they stand, replayed by the rollback to the same figures
        self.history: list[tuple[int, int, int]] = []
        # the same ticks' TickRecords (the most recent TIMELINE_TICKS): timeline()
        self._timeline = TimelineBuffer(TIMELINE_TICKS)
        # the run call's ticks so far (the runner's list) and their timeline rows, made
        # for its checkpoints (_checkpoint_extra); let go when the call returns
        self._done_rows: (
            tuple[Sequence[DistributedTickResult], TimelineBuffer, list[tuple[int, int, int]]]
            | None
        ) = None
        self._runner.checkpoint_info = {
            "num_shards": self.num_shards,
            "backend": backend,
            "seed": self.seed,
            "virtual_nodes": int(virtual_nodes),
            "ghost_cache_size": int(ghost_cache_size),
            "config": self.config.to_dict(),
        }
        # (weakly: the runner is one of the resources, which must not keep the colony alive)
        self._runner.checkpoint_extra = _weakly(self._checkpoint_extra)

    def _checkpoint_extra(self, done: Sequence[DistributedTickResult]) -> dict[str, Any]:
        """What a checkpoint on disk keeps of this object: where the next spawned agents go,
        and the history of node and edge counts and the timeline (with the ticks of the
        run under way, ``done``, which they take when the run returns).

        The rows of ``done`` are made once each: a run call's later checkpoints take the
        ones made for its earlier checkpoints (made afresh every time, they cost a long
        run time growing with the square of its length)."""
        cached = self._done_rows
        if cached is None or cached[0] is not done or len(cached[2]) > len(done):
            cached = self._done_rows = (done, TimelineBuffer(TIMELINE_TICKS), [])
        _, rows, points = cached
        for r in done[len(points) :]:
            row = _tick_row(r)
            rows.append(*row)
            points.append((int(row[0]), int(row[1]), int(row[2])))
        timeline = self._timeline.rows()
        if len(rows):
            timeline = np.concatenate([timeline, rows.rows()])[-TIMELINE_TICKS:]
        history = [*self.history, *points]
        return {"layout_next": self._layout_next, "history": history, "timeline": timeline}

    @classmethod
    def from_checkpoint(
        cls, directory: str | os.PathLike[str], backend: str | None = None, **options: Any
    ) -> DistributedColony:
        """A colony resumed from the newest checkpoint written to ``directory`` (see
        ``checkpoint_dir``): running it goes on exactly as the run that wrote it would have
        gone on from that tick.

        Args:
            directory: the checkpoint directory.
            backend: ``"local"`` or ``"ray"``; None: the one that wrote it.
            options: more constructor arguments (``runner_config``, ``address``,
                ``checkpoint_every``, ``checkpoint_dir`` to go on writing checkpoints, ...);
                the shard count, seed, ring, ghost caches and colony configuration are the
                checkpoint's.

        Raises:
            StoreError: no complete checkpoint is there, or it is damaged.
            ConfigError: an option the checkpoint fixes (``seed``, ``num_shards``,
                ``config``, ``virtual_nodes``, ``ghost_cache_size``), or an unknown one.

        Example:
            >>> import tempfile
            >>> d = tempfile.mkdtemp()
            >>> with DistributedColony(2, checkpoint_every=2, checkpoint_dir=d) as dc:
            ...     _ = dc.ingest_documents([("t", "cell gene protein", (0.0, 0.0))])
            ...     _ = dc.run(3)
            >>> with DistributedColony.from_checkpoint(d) as back:
            ...     back.current_tick, back.num_shards
            (2, 2)
        """
        from phago.distributed.checkpoint_files import read_checkpoint

        check_resume_options(options, f"the checkpoint in {directory}")
        cp = read_checkpoint(directory)
        info = cp.info
        try:
            config = ColonyConfig.from_dict(dict(info["config"]))
            shards, seed = int(info["num_shards"]), int(info["seed"])
            options["virtual_nodes"] = int(info["virtual_nodes"])
            options["ghost_cache_size"] = int(info["ghost_cache_size"])
            backend = backend or str(info["backend"])
        except (KeyError, TypeError, ValueError, PhagoError) as exc:
            raise StoreError(f"checkpoint in {directory} lacks what a load needs: {exc}") from exc
        if shards != len(cp.snapshots):
            raise StoreError(f"checkpoint in {directory} is damaged: shard count differs")
        dc = cls(shards, backend, config, seed, **options)
        try:
            try:
                dc._run(dc._runner.restore_checkpoint(cp))
            except PhagoError:
                raise
            except Exception as exc:  # a snapshot that does not unpickle (another version)
                raise StoreError(
                    f"cannot resume from the checkpoint in {directory}: {exc!r}"
                ) from exc
            dc._check_restored(directory, cp.tick)
            extra = (cp.runner_state or {}).get("extra") or {}
            dc._layout_next = int(extra.get("layout_next", 0))
            dc.history = [tuple(h) for h in extra.get("history", [])]  # type: ignore[misc]
            if len(extra.get("timeline", ())):
                dc._timeline.extend_rows(np.asarray(extra["timeline"], dtype=np.float64))
            dc._version += 1
        except BaseException:
            dc.close()
            raise
        return dc

    def _check_restored(self, directory: str | os.PathLike[str], tick: int) -> None:
        """Check that the shards restored from a checkpoint's snapshots are what its
        manifest says: shard ``i`` in position ``i``, each at the set's ``tick``.

        Raises:
            StoreError: one is not (swapped or foreign shard files, an edited manifest).
        """
        health, stats = self._call_all("health"), self._call_all("stats")
        for i, (h, st) in enumerate(zip(health, stats, strict=True)):
            if int(h.shard_id) != i:
                raise StoreError(
                    f"checkpoint in {directory} is damaged: the snapshot in shard-{i}.ckpt "
                    f"is of shard {int(h.shard_id)}, not shard {i}"
                )
            if int(st.tick) != tick:
                raise StoreError(
                    f"checkpoint in {directory} is damaged: its manifest says tick {tick}, "
                    f"but the snapshot in shard-{i}.ckpt is of tick {int(st.tick)}"
                )

    # ------------------------------------------------------------------ plumbing

    def __enter__(self) -> DistributedColony:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop worker threads (and the Ray shards, and Ray if this colony started it).

        Called from another thread while a call on the colony is under way, it asks a run
        to stop at the next tick boundary (:meth:`request_stop`) and waits for the call to
        end before it closes anything (it crashed both threads until the thirty-fifth
        session); the run returns the ticks it completed. Idempotent. A colony dropped
        without it (or still open when the interpreter exits) is released all the same, by
        a finalizer: its loop closed, its threads stopped, its Ray shards killed (and a
        local Ray phago started shut down when no other colony runs on it).
        """
        if self._closed:
            return
        if not self._calls.acquire(blocking=False):  # another thread's call is under way
            self.request_stop()
            self._calls.acquire()
        try:
            if not self._closed:
                self._close()
        finally:
            self._calls.release()

    def request_stop(self) -> None:
        """Ask the run under way (in another thread, say) to stop at the next tick boundary:
        the tick in progress completes and :meth:`run` / :meth:`run_until_digested` return
        what they completed. Safe from any thread; no effect when no run is under way.

        Example:
            >>> with DistributedColony(num_shards=2, seed=0) as dc:
            ...     dc.request_stop()  # (nothing runs: nothing to stop)
            ...     len(dc.run(2))
            2
        """
        if not (self._ticking or self._in_run):
            return
        self._stop_requested = True
        with contextlib.suppress(RuntimeError):  # (a loop closed meanwhile: nothing runs)
            self._loop.call_soon_threadsafe(self._runner.request_stop)

    def _close(self) -> None:
        self._closed = True
        registry = self._runner.coordinator.registry
        for shard in registry.all_ids():  # (stats() of a closed colony says so)
            registry.set_status(shard, ShardStatus.OFFLINE)
        if self._finalizer.detach() is not None:  # (None: released already)
            self._resources.release(wait=True)

    def _run(self, coro: Any) -> Any:
        """Run ``coro`` on the colony's own event loop and return its result.

        Where the calling thread already runs an event loop (a Jupyter notebook, a
        coroutine of an asyncio program), the colony's loop cannot run in it: it runs in a
        helper thread of the colony while the caller waits, so the colony's methods block
        the caller as they do anywhere else. (From async code, prefer ``await
        asyncio.to_thread(colony.run, n)``, which leaves the caller's loop free.) An
        interrupt (``KeyboardInterrupt`` in the waiting caller) is handled as Ctrl-C is
        (:meth:`_until_complete`).

        Raises:
            ColonyClosed: the colony was closed.
        """
        if self._closed:
            coro.close()  # (never to run: no "never awaited" warning)
            self._refuse_closed()
        if not self._calls.acquire(blocking=False):
            coro.close()
            self._refuse_busy()
        try:
            if self._runner.recovery_unfinished:
                try:
                    self._finish_recovery()
                except BaseException:
                    coro.close()
                    raise
            return self._run_held(coro)
        finally:
            self._calls.release()

    def _finish_recovery(self) -> None:
        """Finish a recovery an interrupt cut short (see
        :attr:`DistributedRunner.recovery_unfinished
        <phago.distributed.runner.DistributedRunner.recovery_unfinished>`), before a call
        reads or changes the shards; with the colony held. Until the thirty-sixth session
        such a cluster went on with its shards at different ticks."""
        self._run_held(self._runner.finish_recovery())
        self._version += 1  # (the shards moved: the merged graph is read afresh)

    def _refuse_busy(self) -> NoReturn:
        raise ColonyBusy(
            "another call on this colony is under way in another thread (a colony takes one "
            "call at a time): wait for it, or stop a run with request_stop() or close()"
        )

    def _run_held(self, coro: Any) -> Any:
        """:meth:`_run`, with the colony held for this call."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:  # none: the usual case
            return self._until_complete(coro)
        if self._loop_thread is None:
            self._loop_thread = ThreadPoolExecutor(1, thread_name_prefix="phago-colony-loop")
            self._resources.loop_thread = self._loop_thread
        done = self._loop_thread.submit(self._until_complete, coro)
        interrupts = 0
        while True:
            try:
                result = done.result()
            except KeyboardInterrupt:  # (the helper thread is not interrupted: stop it)
                interrupts += 1
                if interrupts > 2:
                    raise
                self._loop.call_soon_threadsafe(self._interrupt, interrupts)
                continue
            except asyncio.CancelledError:
                if interrupts:
                    raise KeyboardInterrupt from None
                raise
            if interrupts:
                self._stopped_result = result
                raise KeyboardInterrupt
            return result

    def _until_complete(self, coro: Any) -> Any:
        """Run ``coro`` to its end on the colony's loop.

        Ctrl-C (SIGINT) while it runs in the main thread, with Python's default handler in
        place, does not stop the code wherever it is. The first asks a run of ticks to
        stop at the next tick boundary (the tick under way completes; on Ray, with those
        submitted ahead) and raises ``KeyboardInterrupt`` there: the colony stands at its
        last completed tick, checkpoints or not. The second (or the first, outside a run)
        cancels the call: a run rolls the cluster back to the last checkpoint and replays
        to its last completed tick (without a checkpoint the cluster is unusable; see
        :meth:`DistributedRunner.run <phago.distributed.runner.DistributedRunner.run>`).
        Interrupted any other way (a third Ctrl-C included), the call is cancelled the same
        way and the interrupt goes on once it has unwound, so nothing of it goes on in a
        later call.
        """
        task = self._loop.create_task(coro)
        self._task = task
        interrupts = 0
        previous: Any = None
        if (
            threading.current_thread() is threading.main_thread()
            and signal.getsignal(signal.SIGINT) is signal.default_int_handler
        ):

            def on_sigint(signum: int, frame: Any) -> None:
                nonlocal interrupts
                interrupts += 1
                if interrupts > 2 or task.done():
                    raise KeyboardInterrupt
                self._loop.call_soon_threadsafe(self._interrupt, interrupts)

            previous = signal.signal(signal.SIGINT, on_sigint)
        try:
            result = self._loop.run_until_complete(task)
        except asyncio.CancelledError:
            if interrupts:
                raise KeyboardInterrupt from None
            raise
        except BaseException:
            if not task.done():
                task.cancel()
                with contextlib.suppress(BaseException):
                    self._loop.run_until_complete(task)
            raise
        finally:
            if previous is not None:
                signal.signal(signal.SIGINT, previous)
            self._task = None
        if interrupts:  # (a run stopped at a tick boundary: what it ran is accounted for)
            self._stopped_result = result
            raise KeyboardInterrupt
        return result

    def _interrupt(self, count: int) -> None:
        """On the loop's thread: the ``count``-th interrupt of the call it runs: the first
        stops a run of ticks at the next tick boundary, else it cancels the call."""
        task = self._task
        if task is None or task.done():
            return
        if count == 1 and self._ticking:
            self._runner.request_stop()
        else:
            task.cancel()

    def _refuse_closed(self) -> NoReturn:
        raise ColonyClosed(
            f"this colony of {self.num_shards} shards was closed; build a new one, or load a "
            "saved store"
        )

    def _call_all(self, method: str, *args: Any) -> list[Any]:
        return self._call_each([(s, method, args) for s in range(len(self._runner.handles))])

    def _call_each(self, calls: Sequence[tuple[int, str, tuple[Any, ...]]]) -> list[Any]:
        """Each ``(shard, method, args)`` call, all at once on Ray (in turn locally); see
        :meth:`_settled` for a shard found lost. A call that would change a closed colony
        raises :class:`~phago.errors.ColonyClosed` (reads of its local shards still work)."""
        if self._closed and any(m in _CHANGING_CALLS for _, m, _ in calls):
            self._refuse_closed()
        hs = self._runner.handles
        if all(isinstance(hs[s], LocalShardHandle) for s, _, _ in calls):
            with self._held():  # (local shards in the middle of another thread's tick)
                if self._runner.recovery_unfinished:
                    self._finish_recovery()
                return [_local_call(hs[s], m, a) for s, m, a in calls]  # type: ignore[arg-type]
        return self._settled(calls, self._run(self._outcomes(calls)))

    @contextlib.contextmanager
    def _held(self) -> Iterator[None]:
        """Hold the colony for a call made here, not through its loop.

        Raises:
            ColonyBusy: another thread's call is under way.
        """
        if not self._calls.acquire(blocking=False):
            self._refuse_busy()
        try:
            yield
        finally:
            self._calls.release()

    async def _outcomes(self, calls: Sequence[tuple[int, str, tuple[Any, ...]]]) -> list[Any]:
        """Each call's result, or the exception it raised, once all have finished."""
        hs = self._runner.handles
        return list(
            await asyncio.gather(*(hs[s].call(m, *a) for s, m, a in calls), return_exceptions=True)
        )

    def _settled(
        self, calls: Sequence[tuple[int, str, tuple[Any, ...]]], outcomes: list[Any]
    ) -> list[Any]:
        """The results of ``calls`` given their ``outcomes``. Calls that found their shard's
        actor dead (:class:`~phago.errors.ShardLost`, between runs) are made again, once,
        after the runner has recovered the shard from the last checkpoint (every shard
        rolled back and the ticks since replayed, with what was sent since; a failed call's
        own data was not logged, so it is applied once). Without a checkpoint, or for any
        other error, the first error is raised.

        Raises:
            PhagoError: the first error of a call that could not be made.
        """
        errors = [o for o in outcomes if isinstance(o, BaseException)]
        if not errors:
            return outcomes
        lost = [e for e in errors if isinstance(e, ShardLost)]
        if len(lost) != len(errors) or not self._runner.can_recover:
            raise errors[0]
        self._run(self._runner.recover_lost(lost[0]))
        self._version += 1
        again = [i for i, o in enumerate(outcomes) if isinstance(o, BaseException)]
        redone = self._run(self._outcomes([calls[i] for i in again]))
        for i, o in zip(again, redone, strict=True):
            if isinstance(o, BaseException):
                raise o
            outcomes[i] = o
        return outcomes

    def _call_stream(self, batches: Iterable[Sequence[tuple[int, str, tuple[Any, ...]]]]) -> None:
        """Make each batch of ``(shard, method, args)`` calls as soon as ``batches`` yields it
        (on Ray without waiting for the earlier ones: a shard runs its calls in the order
        sent, while the next batch is being prepared here); return once all are done (calls
        that found their shard lost are made again after a recovery: :meth:`_settled`).

        Raises:
            PhagoError: the first error a call raised (a :class:`~phago.errors.ShardLost`
                without a checkpoint, an :class:`~phago.errors.RpcError`, ...), once every
                call sent has finished.
        """
        hs = self._runner.handles
        sent: list[tuple[int, str, tuple[Any, ...]]] = []

        async def stream() -> list[Any]:
            pending: list[asyncio.Future[Any]] = []
            try:
                for calls in batches:
                    for s, m, a in calls:
                        h = hs[s]
                        if isinstance(h, LocalShardHandle):
                            _local_call(h, m, a)
                        else:
                            pending.append(asyncio.ensure_future(h.call(m, *a)))
                            sent.append((s, m, a))
                    if pending:
                        await asyncio.sleep(0)  # the new calls go out before the next batch
            finally:  # every call sent is waited for, also when making a batch failed
                done = await asyncio.gather(*pending, return_exceptions=True)
            return list(done)

        self._settled(sent, self._run(stream()))

    def _call(self, shard: int, method: str, *args: Any) -> Any:
        if self._closed and method in _CHANGING_CALLS:
            self._refuse_closed()
        h = self._runner.handles[shard]
        if isinstance(h, LocalShardHandle):
            with self._held():
                return _local_call(h, method, args)
        return self._call_each([(shard, method, args)])[0]

    def _checked_shard(self, shard: object, name: str = "shard") -> int:
        """``shard`` as the index of one of this colony's shards: a whole number (an int, a
        NumPy integer or a whole float; not a bool, not text) from 0 to ``num_shards - 1``.
        Every method that takes a shard index checks it here.

        Raises:
            InvalidShard: anything else (a negative index does not count from the end); a
                :class:`~phago.errors.ShardNotFound` and a :class:`~phago.errors.ConfigError`.

        Example:
            >>> dc = DistributedColony(num_shards=2)
            >>> dc._checked_shard(1), dc._checked_shard(1.0)
            (1, 1)
            >>> dc._checked_shard(-1)
            Traceback (most recent call last):
            ...
            phago.errors.InvalidShard: shard not found: -1 (shard must be a whole number \
from 0 to 1: this colony has 2 shards)
            >>> dc.close()
        """
        try:
            index = -1 if isinstance(shard, np.bool_) else whole_number(shard, name, 0)
        except ConfigError:
            index = -1
        if not 0 <= index < self.num_shards:
            n = self.num_shards
            shown = shard if isinstance(shard, int) else repr(shard)
            raise InvalidShard(
                shown,
                f"{name} must be a whole number from 0 to {n - 1}: this colony has {n} "
                f"shard{'s' if n != 1 else ''}",
            )
        return index

    @property
    def runner(self) -> DistributedRunner:
        """The runner driving the shards."""
        return self._runner

    @property
    def current_tick(self) -> int:
        """The coordinator's tick."""
        return self.coordinator.current_tick

    # ------------------------------------------------------------------ input

    def _next_xy(self) -> tuple[float, float]:
        i = self._layout_next
        self._layout_next += 1
        return 5.0 * (i % 32), 5.0 * (i // 32)

    def ingest_document(
        self,
        title: str,
        content: str,
        position: Position | tuple[float, float] | None = None,
    ) -> DocumentId:
        """Route a document to its shard by the ring and ingest it there.

        Without a position, documents are laid out on a 32-column grid with spacing 5.

        Raises:
            What :meth:`ingest_documents` raises: InvalidPosition for a position that is
            not two finite numbers or lies beyond :data:`~phago.types.POSITION_LIMIT`.
        """
        return self.ingest_documents([(title, content, position)])[0]

    def ingest_documents(self, docs: Iterable[DocumentInput]) -> list[DocumentId]:
        """Ingest many documents (batched per shard); returns their ids in input order.

        Every document is checked first (content and position), so a bad one raises its
        typed error before any shard stores anything; then each shard ingests its batch,
        all shards at once on Ray.

        Raises:
            EmptyDocument: a document with empty or whitespace-only content.
            DocumentError: content that is not text, binary or too long, or with more
                distinct keywords than wiring all their pairs allows
                (:func:`phago.colony.check_keyword_counts`).
            InvalidPosition: a position that is not two finite numbers, or has ``|x|`` or
                ``|y|`` beyond :data:`~phago.types.POSITION_LIMIT`.
        """
        with cyclic_gc_paused():  # lists of strings and arrays: no cycles to find
            titles, contents, xy = checked_columns(
                docs, self.config.max_document_chars, self._next_xy
            )
        check_keyword_counts(titles, contents, self.config.clique_keyword_limit)
        chars, words = self.config.max_document_chars, self.config.clique_keyword_limit
        n = self.num_shards
        ids: list[DocumentId] = []

        def batches() -> Iterator[list[tuple[int, str, tuple[Any, ...]]]]:
            # hashed, routed and sent a chunk at a time: on Ray the shards store one chunk
            # while the next is hashed here; each shard's part travels as one object
            for c0 in range(0, len(titles), _INGEST_CHUNK):
                c1 = c0 + _INGEST_CHUNK
                chunk = DocumentBatch(
                    titles[c0:c1],
                    contents[c0:c1],
                    xy[c0:c1],
                    document_ids(titles[c0:c1], contents[c0:c1]),
                    chars,  # what checked_columns checked above
                    words,  # and check_keyword_counts: not again
                )
                ids.extend(chunk.ids.tolist())
                parts = chunk.by_owner(self.coordinator.route_documents(chunk.ids), n)
                yield [(s, "ingest_batch", (p,)) for s, p in enumerate(parts) if len(p)]

        try:
            self._call_stream(batches())
        finally:  # (a shard that failed may leave the others' chunks stored)
            self._version += 1
        return ids

    def spawn_digesters(
        self, per_shard: int, *, seed: int | None = None, **digester_options: Any
    ) -> int:
        """Spawn ``per_shard`` digesters on every shard, spread over that shard's documents.

        Without ``seed``, digester ``j`` of a shard starts beside the shard's document
        ``j·(n // per_shard)`` and its generator is seeded ``j``, on every shard (so a
        second call spawns the same digesters again, in the same places). With ``seed``
        ``s``, the shards' digesters are numbered across the cluster, shard by shard: the
        ``k``-th is seeded ``s + k`` (a later call with ``s`` past the last number used
        spawns digesters with other generators), and digester ``j`` of a shard starts
        beside its document ``(s + j·(n // per_shard)) mod n`` (the places turned by ``s``
        documents). Returns the number spawned.

        Args:
            per_shard: digesters per shard.
            seed: None (the default, as before ``seed`` was added), or a whole number >= 0.
            digester_options: more :class:`~phago.agents.digester.Digester` arguments.

        Raises:
            ConfigError: ``per_shard`` or ``seed`` is not a whole number >= 0, or
                ``digester_options`` are not :class:`~phago.agents.digester.Digester`'s
                (nothing is spawned).
            ColonyClosed: the colony was closed.

        Example:
            >>> with DistributedColony(num_shards=2, seed=0) as dc:
            ...     _ = dc.ingest_documents([(f"d{i}", f"cell gene {i}") for i in range(8)])
            ...     dc.spawn_digesters(2, seed=10)
            ...     sorted(h.target.colony.agents[0].seed for h in dc.runner.handles)
            4
            [10, 12]
        """
        per_shard = whole_number(per_shard, "per_shard", 0)
        first = None if seed is None else whole_number(seed, "seed", 0)
        if self._closed:
            self._refuse_closed()
        check_digester_options(digester_options)
        shards = range(self.num_shards)
        offset = 0 if first is None else first
        # each shard makes its own digesters (on Ray all at once, none pickled here)
        spawned = self._call_each(
            [
                (
                    s,
                    "spawn_digesters",
                    (
                        per_shard,
                        offset,
                        None if first is None else first + s * per_shard,
                        dict(digester_options),
                    ),
                )
                for s in shards
            ]
        )
        self._version += 1
        return sum(map(len, spawned))

    def spawn(self, agent: Any, shard: int = 0) -> Any:
        """Spawn any agent (a sentinel, a synthesizer, an evolving digester) on ``shard``.

        Sentinels and synthesizers spawned this way judge against the cluster's global
        distributions, merged by the runner every tick (see :mod:`phago.distributed.runner`).

        Raises:
            InvalidShard: ``shard`` is not a whole number from 0 to ``num_shards - 1`` (a
                bool, text, -1 included; a :class:`~phago.errors.ConfigError` too).
            InvalidAgent: the shard's colony refused ``agent`` (:meth:`Colony.spawn`): not
                an agent, or (local backend, where the shards take the object itself) one
                already in the colony, on any shard. On Ray the shard gets a copy, so
                spawning the same object again adds another agent.
            ColonyClosed: the colony was closed.
        """
        shard = self._checked_shard(shard)
        if isinstance(agent, Agent) and agent.id:  # (an unbound agent's id is 0)
            for i, h in enumerate(self._runner.handles):
                if isinstance(h, LocalShardHandle) and any(
                    a is agent
                    for a in h.target.colony.agents  # type: ignore[union-attr]
                ):
                    raise InvalidAgent(
                        f"this {type(agent).__name__} is already in the colony (on shard "
                        f"{i}); spawn a new one"
                    )
        self._version += 1
        return self._call(shard, "spawn", agent)

    def agent_ids(self, *, digesting: bool | None = None) -> list[AgentId]:
        """The ids of the live agents of every shard (shard by shard, each in acting order).

        Args:
            digesting: None: every live agent; True or False: only those that do, or do
                not, hold undigested text.

        Example:
            >>> with DistributedColony(num_shards=2, seed=0) as dc:
            ...     _ = dc.spawn_digesters(2)
            ...     len(dc.agent_ids()), dc.agent_ids(digesting=True)
            (4, [])
        """
        if digesting is not None and not isinstance(digesting, bool | np.bool_):
            raise ConfigError(f"digesting must be None, True or False, got {digesting!r}")
        held = self._call_all("agent_ids", digesting)
        return [AgentId(int(a)) for ids in held for a in ids]

    def retire_agents(self, agent_ids: Iterable[AgentId | int]) -> int:
        """Retire live agents between ticks, on whichever shards hold them; returns how many.

        What :meth:`Colony.retire_agents <phago.colony.Colony.retire_agents>` does, on each
        shard holding some of them (no death signals, no replacements; logged like spawns,
        so a rollback to a checkpoint replays it, on Ray as locally). An id given twice is
        retired once.

        Raises:
            UnknownAgent: an id that is no shard's live agent (nothing is removed).
            ColonyClosed: the colony was closed.

        Example:
            >>> from phago.agents.digester import Digester
            >>> with DistributedColony(num_shards=2, seed=0) as dc:
            ...     aid = dc.spawn(Digester(Position(0, 0)), shard=1)
            ...     _ = dc.spawn_digesters(1)
            ...     dc.retire_agents([aid]), aid in dc.agent_ids(), dc.stats().agents_alive
            (1, False, 2)
        """
        if self._closed:
            self._refuse_closed()
        wanted: dict[int, None] = {}
        for aid in agent_id_list(agent_ids):
            if isinstance(aid, bool) or not isinstance(aid, int | np.integer):
                raise UnknownAgent(f"an agent id must be an integer, got {aid!r}")
            wanted[int(aid)] = None
        if not wanted:
            return 0
        where: dict[int, int] = {}
        for shard, ids in enumerate(self._call_all("agent_ids")):
            for a in ids:
                where[int(a)] = shard
        mine: dict[int, list[int]] = {}
        for aid in wanted:
            if aid not in where:
                raise UnknownAgent(f"no live agent with id {aid} on any shard")
            mine.setdefault(where[aid], []).append(aid)
        calls = [(s, "retire_agents", (ids,)) for s, ids in sorted(mine.items())]
        try:
            done = self._call_each(calls)
        finally:
            self._version += 1
        return int(sum(done))

    def forget_documents(self, doc_ids: Iterable[DocumentId | int]) -> ForgetReport:
        """Forget documents, in place, between runs: remove them and withdraw their
        contribution to the graph on every shard.

        The rule and the result are :meth:`Colony.forget_documents
        <phago.colony.Colony.forget_documents>`'s and those of a forget in the colony's
        saved store (:func:`phago.store.forget_in_store`): one decision for the whole
        cluster (a concept no remaining document presented goes from every shard, with
        every edge any shard stores to it), so the colony ends exactly as saving it,
        forgetting in the store and loading it would leave it, and runs on from there as
        that colony would. The shards keep their agents. The decision is made from small
        answers of each shard (the pairs the documents wired, the edges that need a
        remaining document's support); no shard's state goes to the driver. All or
        nothing: every shard works out its forget and checks it before any shard changes
        (each holds its new graph and substrate until all have), and if one cannot, none
        forgets. Logged like the other changes between ticks, so that a rollback to an
        earlier checkpoint replays it at the same tick. Read :attr:`graph` afresh
        afterwards.

        Args:
            doc_ids: ids of the documents to forget; ids no shard holds are reported as
                ``unknown``.

        Returns:
            A :class:`~phago.state.ForgetReport` marked ``distributed`` (``nodes_removed``
            counts the cluster's concepts, not their copies on each shard; there is no
            ``kept_nodes``, as each shard renumbers its own nodes).

        Raises:
            DocumentError: an id that is not a whole number in [0, 2**64) (nothing changes).
            PhaseOrderError: called during a run (from its ``on_tick`` or ``on_progress``).
            ColonyBusy: another thread's call is under way.
            ColonyClosed: the colony was closed.
            StoreError: a shard's result would not restore (no shard changes).
            Exception: the error a Ray shard raised working out its part, as Ray raises
                it (no shard changes).

        Example:
            >>> with DistributedColony(num_shards=2, seed=0) as dc:
            ...     keep, gone = dc.ingest_documents([("a", "alpha beta gamma", (0, 0)),
            ...                                       ("b", "alpha beta delta", (1, 0))])
            ...     _ = dc.spawn_digesters(1)
            ...     _ = dc.run_until_digested(100)
            ...     report = dc.forget_documents([gone])
            ...     report.documents_removed == [gone], sorted(dc.graph.labels())
            (True, ['alpha', 'beta', 'gamma'])
        """
        ids = checked_document_ids(doc_ids)
        if self._closed:
            self._refuse_closed()
        with self._held():
            if self._in_run or self._ticking:
                raise PhaseOrderError(
                    "documents can only be forgotten between runs, not from a run's callbacks"
                )
            try:
                with cyclic_gc_paused(to_oldest=True):  # (as each shard's rounds: see there)
                    return self._forget(ids)
            finally:
                self._version += 1

    def _forget(self, ids: list[int]) -> ForgetReport:
        """:meth:`forget_documents`, the colony held."""
        shards = range(self.num_shards)
        presented = self._call_all("forget_presented", ids)

        def needs(plan: ForgetPlan, candidates: Any) -> list[Any]:
            return self._call_all("forget_needs", plan, candidates)

        def supported(plan: ForgetPlan, since: Any, needed: Any) -> list[Any]:
            return self._call_all("forget_supported", plan, since, needed)

        plan = plan_from_parts(ids, presented, needs, supported)
        # every shard works its forget out and checks it before any shard changes, so that
        # a shard that cannot forget leaves the cluster as it was
        token = secrets.token_hex(8)
        try:
            self._call_all("forget_prepare", ids, plan, token)
        except BaseException:
            with contextlib.suppress(Exception):
                self._call_all("forget_abort", token)
            raise
        done = self._call_each([(s, "forget_documents", (ids, plan, token)) for s in shards])
        kept = {s: d["kept"] for s, d in enumerate(done) if d["kept"] is not None}
        if kept:
            self._call_all("forget_renumber", kept)
        self._run(self._runner.forget_held(plan.drop, ids, kept))
        held = {int(x) for d in done for x in d["documents_removed"]}
        return ForgetReport(
            documents_removed=[d for d in ids if d in held],
            nodes_removed=sum(int(d["nodes_removed"]) for d in done),
            edges_removed=sum(int(d["edges_removed"]) for d in done),
            edges_weakened=sum(int(d["edges_weakened"]) for d in done),
            unknown=[d for d in ids if d not in held],
            distributed=True,  # (no kept_nodes: each shard renumbered its own)
        )

    # ------------------------------------------------------------------ running

    def tick(self) -> DistributedTickResult:
        """Run one distributed tick (a run of one: Ctrl-C lets it complete, then raises)."""
        chunk, stopped = self._run_call(1, None)
        for result in chunk:
            self._after_tick(result)
        if stopped:
            raise KeyboardInterrupt
        return chunk[0]

    def _after_tick(self, result: DistributedTickResult) -> None:
        self._last_busy = not _idle(result)
        self._version += 1
        row = _tick_row(result)  # (the history's counts are the row's first three)
        self.history.append((int(row[0]), int(row[1]), int(row[2])))
        self._timeline.append(*row)

    def run(
        self,
        ticks: int,
        progress: bool = False,
        on_tick: Callable[[int], None] | None = None,
        *,
        stop_when_idle: bool = False,
        on_progress: Callable[[DistributedTickResult], None] | None = None,
    ) -> list[DistributedTickResult]:
        """Run ``ticks`` distributed ticks (with a progress bar if ``progress``); returns
        each tick's result.

        ``on_tick`` is called with the new tick after every tick (the ticks then run one
        runner call each, so it sees the cluster as of its tick). ``on_progress`` is the
        cheap way to watch a run: it is called with the last tick's result after each
        runner call, and the calls grow to about half a second each (at most 64 ticks), so
        the cluster is then as of that tick. ``stop_when_idle``: stop after the first tick
        that leaves no shard anything to digest, as :meth:`run_until_digested` does,
        keeping the results (one tick runs even when nothing is left, where that method
        runs none). Ray shards go on to each tick of a call without waiting for the driver
        between ticks (docs/distributed.md, "Chained ticks"), so one call of many ticks
        runs faster there than many calls of one: with ``on_tick``, a Ray run of short
        ticks takes about a fifth longer than with ``on_progress``.

        Example:
            >>> with DistributedColony(num_shards=2, seed=0) as dc:
            ...     _ = dc.ingest_document("d", "cell membrane protein", Position(0, 0))
            ...     seen = []
            ...     results = dc.run(5, on_progress=lambda r: seen.append(r.tick))
            ...     (len(results), seen[-1] == dc.current_tick == 5)
            (5, True)
        """
        _check_progress(progress)
        return self._run_ticks(
            tick_count(ticks),
            progress,
            on_tick,
            stop_when_idle=stop_when_idle,
            on_progress=on_progress,
        )

    def settle_degree_cap(self, progress: bool = False) -> int:
        """Run the ticks the degree cap across shards needs to act on the growth so far:
        two of its rounds (:data:`~phago.distributed.degree_cap.ROUND_TICKS` ticks each),
        so that every node that grew over ``max_edge_degree`` in the global graph by now is
        trimmed to it (a node pushed over the cap in the Act of tick ``t`` is trimmed at the
        Decay of tick ``t + 4`` to ``t + 7``). Call it after :meth:`run_until_digested`
        before reading or saving a graph whose degrees must be within the cap; ``phago
        ingest --shards`` and ``phago run --shards`` do. The ticks are ordinary ticks
        (agents act, edges decay); none runs with one shard or with the cap off, where the
        graph is capped at every Decay. Returns the ticks run.

        Example:
            >>> from phago import ColonyConfig
            >>> docs = [(f"d{i}", " ".join(f"w{(i * 7 + j) % 40}" for j in range(12)))
            ...         for i in range(30)]
            >>> with DistributedColony(2, config=ColonyConfig(max_edge_degree=5)) as dc:
            ...     _ = dc.ingest_documents(docs)
            ...     _ = dc.spawn_digesters(2)
            ...     _ = dc.run_until_digested(300)
            ...     ran = dc.settle_degree_cap()
            ...     ran, max(d for _, d in dc.graph.to_networkx().degree()) <= 5
            (8, True)
        """
        if self.num_shards < 2 or self.config.max_edge_degree is None:
            return 0
        ticks = 2 * ROUND_TICKS
        self.run(ticks, progress=progress)
        return ticks

    def undigested_places(
        self, excluding: Iterable[DocumentId | int] = ()
    ) -> list[tuple[DocumentId, Position]]:
        """The documents no digester has taken in yet, every shard's (shard by shard, each in
        insertion order), as ``(id, position)``: where to spawn digesters to finish them.
        ``excluding``: ids to leave out (a caller's new documents, placed already).

        Example:
            >>> with DistributedColony(num_shards=2, seed=0) as dc:
            ...     d = dc.ingest_document("d", "cell membrane protein", Position(3, 4))
            ...     dc.undigested_places() == [(d, Position(3.0, 4.0))]
            True
        """
        out: list[tuple[DocumentId, Position]] = []
        left_out = np.fromiter((int(d) for d in excluding), dtype=np.uint64)
        for ids, xy in self._call_all("undigested_places"):
            if len(left_out):
                keep = ~np.isin(ids, left_out)
                ids, xy = ids[keep], xy[keep]
            out.extend(
                (DocumentId(i), Position(x, y))
                for i, (x, y) in zip(ids.tolist(), xy.tolist(), strict=True)
            )
        return out

    def has_undigested_work(self) -> bool:
        """True while any shard has an unconsumed document or undigested text in an agent."""
        return any(self._call_all("has_undigested_work"))

    def run_until_digested(
        self,
        max_ticks: int,
        progress: bool = False,
        on_tick: Callable[[int], None] | None = None,
        *,
        on_progress: Callable[[DistributedTickResult], None] | None = None,
    ) -> int:
        """Run until every document on every shard is digested, or ``max_ticks`` ticks;
        returns the ticks run. ``progress``, ``on_tick`` and ``on_progress`` as in
        :meth:`run` (:meth:`DistributedTickResult.documents_digested` counts a tick's
        digested documents without asking the shards).

        Example:
            >>> with DistributedColony(num_shards=2, seed=0) as dc:
            ...     _ = dc.ingest_document("d", "cell membrane protein", Position(0, 0))
            ...     _ = dc.spawn_digesters(1)
            ...     done = []
            ...     ran = dc.run_until_digested(100, on_progress=lambda r: done.append(
            ...         r.documents_digested()))
            ...     (ran > 0, done[-1])
            (True, 1)
        """
        max_ticks = tick_count(max_ticks, "max_ticks")
        _check_progress(progress)
        if not self.has_undigested_work():
            return 0
        start = self.current_tick
        self._run_ticks(
            max_ticks,
            progress,
            on_tick,
            stop_when_idle=True,
            digesting=True,
            on_progress=on_progress,
        )
        return self.current_tick - start

    def _run_ticks(
        self,
        ticks: int,
        progress: bool,
        on_tick: Callable[[int], None] | None,
        *,
        stop_when_idle: bool,
        digesting: bool = False,
        on_progress: Callable[[DistributedTickResult], None] | None = None,
    ) -> list[DistributedTickResult]:
        """:meth:`_run_ticks_held`, the colony held for the whole run (its runner calls and
        the callbacks between them), so that another thread's call is refused
        (:class:`~phago.errors.ColonyBusy`) before it changes anything the run keeps."""
        with self._held():
            self._stop_requested = False
            self._in_run = True  # (request_stop() between its runner calls stops it too)
            try:
                return self._run_ticks_held(
                    ticks,
                    progress,
                    on_tick,
                    stop_when_idle=stop_when_idle,
                    digesting=digesting,
                    on_progress=on_progress,
                )
            finally:
                self._in_run = False

    def _run_ticks_held(
        self,
        ticks: int,
        progress: bool,
        on_tick: Callable[[int], None] | None,
        *,
        stop_when_idle: bool,
        digesting: bool = False,
        on_progress: Callable[[DistributedTickResult], None] | None = None,
    ) -> list[DistributedTickResult]:
        """Run up to ``ticks`` ticks through the runner, in as few runner calls as allowed.

        One call runs many ticks (the local backend then runs them in one driver-thread job);
        while a progress bar or ``on_progress`` watches, the calls start at one tick and
        grow to about ``_CALL_TARGET_S`` each (:func:`_next_call_ticks`), and an ``on_tick``
        callback takes calls of one tick, so it sees the cluster as of its tick. Returns
        the ticks' results; with ``digesting`` (:meth:`run_until_digested`) nothing, since a
        long run's results would hold every tick's cross-shard edges until it ends, and the
        bar counts documents digested instead of ticks.
        """
        out: list[DistributedTickResult] = []
        done = 0
        watched = progress or on_progress is not None
        cap = _UNKEPT_STEP if (watched or digesting) else max(ticks, 1)
        step = 1 if (on_tick is not None or watched) else cap
        until = _idle if stop_when_idle else None
        with _progress_bar(progress, "digesting" if digesting else "ticks", ticks) as bar:
            while done < ticks:
                started = time.perf_counter()
                chunk, stopped = self._run_call(min(step, ticks - done), until)
                if watched and on_tick is None:
                    step = _next_call_ticks(step, time.perf_counter() - started, cap=cap)
                for result in chunk:
                    self._after_tick(result)
                    done += 1
                    if not digesting:
                        out.append(result)
                    if on_tick is not None:
                        on_tick(result.tick)
                if chunk:
                    last = chunk[-1]
                    if digesting:  # documents digested, out of the cluster's
                        bar(last.documents_digested(), last.documents_total())
                    else:
                        bar(done, ticks)
                    if on_progress is not None:
                        on_progress(last)
                if stopped:  # Ctrl-C, once the ticks it let complete are accounted for
                    raise KeyboardInterrupt
                if self._stop_requested:  # request_stop(): what completed is the run
                    break
                if not chunk or (stop_when_idle and not self._last_busy):
                    break
        return out

    def _run_call(
        self, ticks: int, until: Callable[[DistributedTickResult], bool] | None
    ) -> tuple[list[DistributedTickResult], bool]:
        """One runner call of up to ``ticks`` ticks: its results, and whether Ctrl-C stopped
        it at a tick boundary (the results are then those of the ticks it completed). A
        call that fails or is cancelled may have moved the cluster on (completed ticks, a
        rollback and replay), so the merged graph is read afresh afterwards.

        Raises:
            ColonyBusy: another thread's call is under way (before anything changes here:
                a refused call reset the flags of the run under way, which request_stop()
                and close() from a third thread then did not stop).
        """
        with self._held():
            self._ticking = True
            self._stopped_result = None
            try:
                return self._run(self._runner.run(ticks, until=until)), False
            except KeyboardInterrupt:
                stopped, self._stopped_result = self._stopped_result, None
                if stopped is None:
                    self._record_unreturned()
                    raise
                return stopped, True
            except BaseException:
                self._record_unreturned()
                raise
            finally:
                self._ticking = False
                self._done_rows = None

    def _record_unreturned(self) -> None:
        """After a runner call that failed or was cancelled: the ticks it completed go into
        :attr:`history` (until the thirty-sixth session they were left out, so a second
        Ctrl-C left a gap of every tick of the call, and ``len(history)`` fell behind the
        tick); the callbacks do not see them (the call is being given up)."""
        for result in self._runner.take_completed():
            self._after_tick(result)
        self._version += 1

    # ------------------------------------------------------------------ reading

    def stats(self) -> DistributedStats:
        """Cluster totals and per-shard figures; also refreshes the registry's heartbeats.

        A shard lost with no checkpoint to recover it from has a row of its own with status
        ``"Lost"`` and no figures, and the totals are the other shards' (they can still be
        read; the merged graph and queries, which need every shard, raise
        :class:`~phago.errors.ShardLost`).
        """
        try:
            rows = self._call_all("report")
        except ShardLost:
            rows = self._reports_of_the_living()
        for r in rows if not self._closed else ():  # (a closed colony's shards are Offline)
            if r.get("status") == "Lost":
                continue
            self.coordinator.shard_heartbeat(
                ShardId(r["shard"]),
                documents=r["documents_total"],
                nodes=r["graph_nodes"],
                edges=r["graph_edges"],
                memory_bytes=r["memory_bytes"],
            )
        for r in rows:
            info = self.coordinator.get_shard(ShardId(r["shard"]))
            if info is not None and "status" not in r:
                r["status"] = str(info.status)
                r["last_heartbeat_ms"] = info.last_heartbeat_ms
        return DistributedStats(
            tick=self.current_tick,
            documents_total=sum(r["documents_total"] for r in rows),
            documents_digested=sum(r["documents_digested"] for r in rows),
            graph_nodes=sum(r["graph_nodes"] for r in rows),
            graph_edges=sum(r["graph_edges"] for r in rows),
            agents_alive=sum(r["agents_alive"] for r in rows),
            agents_died=sum(r["agents_died"] for r in rows),
            total_spawned=sum(r["total_spawned"] for r in rows),
            agents_retired=sum(r["agents_retired"] for r in rows),
            cross_shard_edges=sum(r["cross_shard_edges"] for r in rows),
            shards=rows,
        )

    def _reports_of_the_living(self) -> list[dict[str, Any]]:
        """Each shard's report, a lost shard's as a row of zeros with status ``"Lost"``."""
        calls = [(s, "report", ()) for s in range(self.num_shards)]
        outcomes = self._run(self._outcomes(calls))
        live = [o for o in outcomes if isinstance(o, dict)]
        if not live:
            for o in outcomes:
                if isinstance(o, BaseException):
                    raise o
        rows: list[dict[str, Any]] = []
        for s, o in enumerate(outcomes):
            if isinstance(o, ShardLost):
                rows.append(
                    {
                        **{k: 0 for k, v in live[0].items() if isinstance(v, int | float)},
                        "shard": s,
                        "tick": self.current_tick,
                        "status": "Lost",
                        "last_heartbeat_ms": None,
                    }
                )
            elif isinstance(o, BaseException):
                raise o
            else:
                rows.append(o)
        return rows

    @property
    def graph(self) -> HebbianGraph:
        """The merged global graph (rebuilt when the cluster changed; treat it as read-only)."""
        cached = self.cached_graph()
        if cached is None:
            cached = merge_owned_graphs(self._call_all("owned_graph"))
            self._graph_cache = (self._version, self.current_tick, cached)
        return cached

    def cached_graph(self) -> HebbianGraph | None:
        """The merged global graph if one is built and the cluster has not changed since,
        else None (nothing is merged).

        Example:
            >>> with DistributedColony(num_shards=2, seed=0) as dc:
            ...     before = dc.cached_graph()
            ...     _ = dc.graph
            ...     before is None, dc.cached_graph() is dc.graph
            (True, True)
        """
        cached = self._graph_cache
        return cached[2] if cached is not None and cached[0] == self._version else None

    def global_graph(self) -> Any:
        """The merged global graph as networkx (attributes as ``Colony.to_networkx``)."""
        return self.graph.to_networkx()

    def to_networkx(self) -> Any:
        """The merged global graph as :class:`networkx.Graph`, as :meth:`Colony.to_networkx
        <phago.colony.Colony.to_networkx>` gives a colony's (the same as
        :meth:`global_graph`).

        Example:
            >>> with DistributedColony(num_shards=2, seed=0) as dc:
            ...     _ = dc.ingest_documents([("a", "alpha beta gamma", (0, 0))])
            ...     _ = dc.spawn_digesters(1)
            ...     _ = dc.run_until_digested(100)
            ...     sorted(dc.to_networkx().nodes[n]["label"] for n in dc.to_networkx())
            ['alpha', 'beta', 'gamma']
        """
        return self.graph.to_networkx()

    def documents(self) -> list[Document]:
        """Every document of every shard (shard order, then insertion order)."""
        return [d for docs in self._call_all("documents") for d in docs]

    def query(self, text: str, max_results: int = 10) -> list[Any]:
        """The reference's distributed hybrid query: each shard answers, the answers are
        merged (:class:`~phago.distributed.query.DistributedQueryEngine`). For the retrieval
        methods of :mod:`phago.query` (``fusion`` by default) on the merged graph, call
        ``phago.query.retrieve(dc, text)``."""
        from phago.distributed.query import DistributedHybridConfig, DistributedQueryEngine

        engine = DistributedQueryEngine(self, DistributedHybridConfig(max_results=max_results))
        return engine.query(text)

    def save(self, directory: str | os.PathLike[str]) -> None:
        """Save every shard to a store directory, atomically (see :mod:`phago.store`)."""
        from phago.store import save_distributed

        save_distributed(self, directory)

    @classmethod
    def load(
        cls, directory: str | os.PathLike[str], backend: str | None = None, **options: Any
    ) -> DistributedColony:
        """Load a distributed colony saved with :meth:`save` (on ``backend``, default: saved)."""
        from phago.store import load_distributed

        loaded: DistributedColony = load_distributed(directory, backend, **options)
        return loaded

    def inject_fault(
        self,
        shard_index: int,
        kind: str,
        phase: TickPhase | str,
        tick: int,
        seconds: float = 3600.0,
    ) -> None:
        """Arm a one-shot fault on a Ray shard (``hang``, ``raise`` or ``exit``) for drills,
        in a phase (a :class:`TickPhase` or its name, in any case),
        (``phase="checkpoint"``) in taking its checkpoint or (``phase="forget"``) in working
        out its part of a forget (:meth:`forget_documents`), at ``tick``.

        The arguments are checked first, then the backend.

        Raises:
            InvalidShard: ``shard_index`` is not a whole number from 0 to
                ``num_shards - 1`` (a bool, text, -1 included; a
                :class:`~phago.errors.ConfigError` too).
            ConfigError: an unknown kind or phase (a lowercase phase name was taken and
                never fired, before), or not on Ray.

        Example:
            >>> with DistributedColony(num_shards=2) as dc:
            ...     dc.inject_fault(2, "exit", "sense", 3)
            Traceback (most recent call last):
            ...
            phago.errors.InvalidShard: shard not found: 2 (shard_index must be a whole number \
from 0 to 1: this colony has 2 shards)
        """
        index = self._checked_shard(shard_index, "shard_index")
        if kind not in ("hang", "raise", "exit"):
            raise ConfigError(f"unknown fault {kind!r}; use 'hang', 'raise' or 'exit'")
        names = {str(p).lower(): str(p) for p in TickPhase}
        names |= {"checkpoint": "checkpoint", "forget": "forget"}
        where = names.get(str(phase).lower())
        if where is None:
            raise ConfigError(f"unknown phase {phase!r}; use one of {sorted(names.values())}")
        if self.backend != "ray":
            raise ConfigError("inject_fault() needs backend='ray'")
        handle = self._runner.handles[index]
        self._run(handle.inject_fault(kind, where, tick, seconds))  # type: ignore[attr-defined]

    def reinforce_edges(
        self,
        pairs: Sequence[tuple[int, int]],
        accessed: Sequence[int],
        increment: float,
        tick: int,
    ) -> None:
        """Apply query reinforcement on the shards that own the edges and nodes.

        Each edge goes to the shard that stores it (owner of its smaller node id), each access
        bump to the node's owner; the merged graph is rebuilt on next use.
        """
        edges: dict[int, list[tuple[int, int]]] = {}
        for a, b in pairs:
            lo = min(int(a), int(b))
            edges.setdefault(int(self.ring.get_shard(lo)), []).append((int(a), int(b)))
        bumps: dict[int, list[int]] = {}
        for n in accessed:
            bumps.setdefault(int(self.ring.get_shard(int(n))), []).append(int(n))
        for s in sorted(set(edges) | set(bumps)):
            self._call(
                s, "apply_reinforcement", edges.get(s, []), bumps.get(s, []), increment, tick
            )
        self._version += 1

    def timeline(self) -> list[TickRecord]:
        """The cluster's counts after each tick run through :meth:`run`, :meth:`tick` or
        :meth:`run_until_digested`, oldest first (the most recent
        :data:`~phago.timeline.TIMELINE_TICKS`; a colony resumed from checkpoints, or
        loaded from a store, has its earlier ticks too): nodes
        (each counted by its owner), edges, agents alive, documents held and digested,
        cross-shard edges made, and the tick's and its barrier's milliseconds, all read
        from the shards' tick reports (no call to the shards).
        :func:`phago.timeline.write_timeline` writes it as CSV, JSON or a chart.

        Example:
            >>> with DistributedColony(2, seed=0) as dc:
            ...     _ = dc.ingest_documents([("t", "alpha beta gamma delta", (0.0, 0.0))])
            ...     _ = dc.spawn_digesters(1)
            ...     _ = dc.run(2)
            ...     [(r.tick, r.documents_total) for r in dc.timeline()]
            [(1, 1), (2, 1)]
        """
        return self._timeline.records()

    def waits(self) -> WaitSummary | None:
        """Where the shards waited, on Ray: per shard, the seconds it worked, sat between
        its own calls and waited before each Decay for the other shards' parts, over the
        pipelined calls each actor remembers (see :mod:`phago.distributed.timeline`).

        None for local shards, which run in this process and do not wait for each other
        the same way; a summary of no ticks where the phases went through a compiled graph
        (a machine with a core per shard to spare) rather than whole ticks actor to actor.

        Example:
            >>> dc = DistributedColony(2)
            >>> dc.waits() is None
            True
        """
        if self.backend != "ray":
            return None
        return wait_summary(self._call_all("call_spans"))

    def checkpoint(self) -> int:
        """Take a checkpoint of every shard now, at the current tick (written to
        ``checkpoint_dir`` too, when the colony has one); returns the tick. A run stopped
        early (Ctrl-C, say) then resumes from exactly there (:meth:`from_checkpoint`), and
        a failure later rolls back no further.

        Raises:
            DistributedError: the cluster cannot take one (a lost shard without a checkpoint
                to recover it from, say).
            StoreError: the set could not be written to ``checkpoint_dir`` (a full disk).

        Example:
            >>> import tempfile
            >>> d = tempfile.mkdtemp()
            >>> with DistributedColony(2, checkpoint_dir=d) as dc:
            ...     _ = dc.run(3)
            ...     dc.checkpoint()
            3
            >>> DistributedColony.from_checkpoint(d).current_tick
            3
        """
        return int(self._run(self._runner.checkpoint_now()))

    def ray_actor(self, shard_index: int) -> Any:
        """The Ray actor handle of shard ``shard_index`` (Ray backend only).

        Raises:
            InvalidShard: ``shard_index`` is not a whole number from 0 to
                ``num_shards - 1`` (checked first, on any backend).
            ConfigError: not on Ray.

        Example:
            >>> with DistributedColony(num_shards=2) as dc:
            ...     dc.ray_actor(0)
            Traceback (most recent call last):
            ...
            phago.errors.ConfigError: ray_actor() needs backend='ray'
        """
        index = self._checked_shard(shard_index, "shard_index")
        if self.backend != "ray":
            raise ConfigError("ray_actor() needs backend='ray'")
        return self._runner.handles[index].target

    @property
    def ray_actor_names(self) -> list[str]:
        """The names of the shard actors, by shard (Ray backend only): named actors in the
        ``"phago"`` namespace, ``<colony>.shard-<index>.<generation>``, which any driver
        connected to the cluster finds (``phago cluster status`` lists them; a replaced
        actor's generation is one more)."""
        if self.backend != "ray":
            raise ConfigError("ray_actor_names needs backend='ray'")
        return [h.actor_name for h in self._runner.handles]  # type: ignore[attr-defined]


@contextlib.contextmanager
def _progress_bar(enabled: bool, label: str, total: int) -> Iterator[Callable[[int, int], None]]:
    """A rich progress bar labelled ``label`` while the block runs (nothing unless
    ``enabled``); yields ``show(completed, total)``, and the bar stops however the block
    ends."""
    if not enabled:
        yield lambda completed, total: None
        return
    from phago._compile_notice import CompileNotingProgress

    with CompileNotingProgress() as bar:
        task = bar.add_task(label, total=total)
        yield lambda completed, total: bar.update(task, completed=completed, total=total)


# Ticks per runner call at most when the results are not kept (run_until_digested) or a
# run is watched (a progress bar, on_progress).
_UNKEPT_STEP = 64

# Seconds a watched run's runner calls aim at: a progress bar moves about twice a second,
# and Ray shards chain each call's ticks (one call a tick took a fifth longer at W3 30k).
_CALL_TARGET_S = 0.5


def _next_call_ticks(ticks: int, seconds: float, *, cap: int) -> int:
    """The ticks of a run's next runner call, after a call of ``ticks`` took ``seconds``:
    twice as many while calls take under half of ``_CALL_TARGET_S``, half as many while
    they take over twice it, never more than ``cap`` nor fewer than one.

    Example:
        >>> [_next_call_ticks(8, s, cap=64) for s in (0.01, 0.5, 3.0)]
        [16, 8, 4]
        >>> _next_call_ticks(64, 0.01, cap=64), _next_call_ticks(1, 9.0, cap=64)
        (64, 1)
    """
    if seconds < _CALL_TARGET_S / 2:
        return min(cap, ticks * 2)
    if seconds > _CALL_TARGET_S * 2:
        return max(1, ticks // 2)
    return min(cap, ticks)


# True when a tick left every shard with nothing to digest (the shards can decide it too)
_idle = UntilIdle()


class _Resources:
    """What a :class:`DistributedColony` holds outside Python's memory: its event loop, the
    helper thread that runs the loop for callers in a running loop, the runner's threads
    and, on Ray, the shard actors (and a local Ray phago started, when the colony is the
    last one on it).

    Kept apart from the colony, and holding nothing that refers to it, so that a
    ``weakref.finalize`` of the colony may hold it: a colony dropped without
    :meth:`~DistributedColony.close` (or still open when the interpreter exits) is then
    released all the same, rather than leaving an unclosed loop (a ``ResourceWarning``,
    two file descriptors) and Ray actors behind.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.loop_thread: ThreadPoolExecutor | None = None
        self.runner: DistributedRunner | None = None
        self.backend_state: Any = None  # a Ray backend's RayState

    def release(self, wait: bool = False) -> None:
        """Stop the threads and the Ray shards, and close the loop (once: the finalizer
        that calls it runs at most once, and :meth:`DistributedColony.close` detaches it
        first).

        Args:
            wait: wait for the loop's helper thread to end (``close()``; not from a
                finalizer, which may run in that very thread).
        """
        try:
            if self.runner is not None:
                self.runner.close()
            if self.backend_state is not None:
                from phago.distributed.backends.ray import stop_ray_shards

                stop_ray_shards(self.backend_state)
            if self.loop_thread is not None:
                self.loop_thread.shutdown(wait=wait)
        finally:
            if not self.loop.is_closed() and not self.loop.is_running():
                self.loop.close()


def _weakly(
    method: Callable[[Sequence[DistributedTickResult]], dict[str, Any]],
) -> Callable[[Sequence[DistributedTickResult]], dict[str, Any] | None]:
    """``method`` (a bound method) through a weak reference to its object: a call once the
    object is gone returns None."""
    ref = weakref.WeakMethod(method)

    def call(done: Sequence[DistributedTickResult]) -> dict[str, Any] | None:
        bound = ref()
        return None if bound is None else bound(done)

    return call
