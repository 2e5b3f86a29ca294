"""A colony's complete state as plain data, and the pure operations on it.

:func:`capture` turns a :class:`~phago.colony.Colony` into a :class:`ColonyState` made only of
NumPy arrays, lists and JSON-able dicts; :func:`restore` turns it back into a colony that
continues exactly where the original was: loading and then running N ticks gives the same
graph, documents, signals, traces and agents as running N ticks without the round trip.
Nothing here does I/O; :mod:`phago.store` writes states to SQLite.

What is captured, at a tick boundary (after ``advance``):

* the configuration, the seed and the colony generator's state;
* the graph: node columns (ids, labels, types, access counts, creation ticks, positions),
  provenance (node, document) pairs with their presentation ticks, the live edges in
  insertion order, degree-cap memo;
* the substrate: tick, every document (digested or not) in insertion order, signal and trace
  columns (pending rows included) and the trace payloads they reference;
* every live agent as ``(agent_type, agent.state_dict())``, rebuilt through the agent
  registry (:func:`register_agent_type`); fitness records, death signals, spawn counters,
  the document layout cursor and the spawn policy (see :func:`capture`). Of dead agents only
  the most recent ``death_record_limit`` death signals and fitness records are kept (a state
  holding more, from an older store, is trimmed when restored).

Not captured: the event history and events not yet reported (reports, not state), and the
``presentation_hook`` (installed by whoever owns the colony, e.g. a shard).

:func:`forget_documents` withdraws documents from a state (see its docstring for the rule);
:func:`plan_forget` decides what goes once for several states (a distributed colony's shards).

Example:
    >>> from phago import Colony, Digester, Position
    >>> c = Colony(seed=3)
    >>> _ = c.ingest_document("t", "cell membrane protein", Position(0, 0))
    >>> _ = c.spawn(Digester(Position(1, 0)))
    >>> _ = c.run(3)
    >>> twin = restore(capture(c))
    >>> _ = c.run(5); _ = twin.run(5)
    >>> capture(twin).graph.equals(capture(c).graph)
    True
"""

from __future__ import annotations

import base64
import importlib
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from phago import _kernels as K
from phago._arrays import unique_sorted
from phago._gc import cyclic_gc_paused
from phago._jit import kernel_pays, numba_loaded
from phago.agents.base import Agent
from phago.agents.digester import Digester, pairs_within
from phago.agents.fitness import AgentFitness, FitnessTracker
from phago.colony import Colony, checked_document_id
from phago.config import ColonyConfig
from phago.errors import (
    ConfigError,
    DocumentError,
    PhagoError,
    PhaseOrderError,
    StoreError,
    UnknownDocument,
)
from phago.graph import HebbianGraph
from phago.ids import AgentId, DocumentId, NodeId
from phago.substrate import MIN_CELL_SIZE, Substrate, _Columns
from phago.text import analyse_keyword_labels, tokenize_with_positions
from phago.types import (
    POSITION_LIMIT,
    CellHealth,
    DeathCause,
    DeathSignal,
    Document,
    NodeType,
    Position,
    SignalType,
    TraceType,
)

__all__ = [
    "STATE_FORMAT",
    "AgentState",
    "ColonyState",
    "ForgetPlan",
    "ForgetReport",
    "GraphState",
    "SubstrateState",
    "agent_types",
    "capture",
    "checked_document_ids",
    "class_path",
    "forget_documents",
    "plan_forget",
    "presentation_pairs",
    "register_agent_type",
    "register_spawn_policy",
    "restore",
]

STATE_FORMAT = 1
"""Version of the :class:`ColonyState` layout (bumped when fields change meaning)."""

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
U64Array = npt.NDArray[np.uint64]

AgentFactory = Callable[[dict[str, Any]], Agent]

_SIGNAL_COLUMNS = ("x", "y", "intensity", "kind", "tick", "owner", "ref")
_COLUMN_DTYPES: dict[str, type] = {
    "x": np.float64,
    "y": np.float64,
    "intensity": np.float64,
    "kind": np.int8,
    "tick": np.int64,
    "owner": np.uint64,
    "ref": np.int64,
}


# ---------------------------------------------------------------------------- agent registry


def class_path(cls: type) -> str:
    """``module:qualname`` of a class.

    Example:
        >>> class_path(Digester)
        'phago.agents.digester:Digester'
    """
    return f"{cls.__module__}:{cls.__qualname__}"


_AGENT_TYPES: dict[str, tuple[type[Agent], AgentFactory | None]] = {}
# every class ever registered, by class path (a type's entry above is its latest class)
_AGENT_CLASSES: dict[str, tuple[type[Agent], AgentFactory | None]] = {}


def register_agent_type(name: str, cls: type[Agent], factory: AgentFactory | None = None) -> None:
    """Make agents whose ``agent_type`` is ``name`` restorable.

    On restore an agent is rebuilt as ``factory(state)`` when a factory is given, else as
    ``cls(Position(*state["position"]))``, and then ``agent.load_state_dict(state)`` is
    called; a class whose constructor needs more than a position needs a factory (loading
    raises :class:`~phago.errors.StoreError` without one).

    Args:
        name: the agent's ``agent_type``.
        cls: its class.
        factory: optional builder taking the saved state dict.

    Example:
        >>> from phago.agents.base import Agent
        >>> class Rock(Agent):
        ...     agent_type = "rock"
        >>> register_agent_type("rock", Rock)
        >>> "rock" in agent_types()
        True
    """
    if not name:
        raise ConfigError("agent type name must not be empty")
    _AGENT_TYPES[name] = (cls, factory)
    _AGENT_CLASSES[class_path(cls)] = (cls, factory)


def agent_types() -> dict[str, type[Agent]]:
    """The registered agent types (name → class).

    Example:
        >>> agent_types()["digester"].__name__
        'Digester'
    """
    return {k: v[0] for k, v in _AGENT_TYPES.items()}


register_agent_type("digester", Digester)


def _is_phagos(path: str) -> bool:
    module = path.partition(":")[0]
    return module == "phago" or module.startswith("phago.")


def _resolve_agent_class(agent_type: str, path: str) -> tuple[type[Agent], AgentFactory | None]:
    """The class to rebuild an agent with: a registered class with this exact class path,
    else phago's own class of that path (imported), else the class the user registered for
    the type (a class that moved, say). A class of the user's that was never registered is
    refused, even when its type is one of phago's (a subclass of Digester would otherwise
    come back as a plain Digester and act differently); so is an unknown type. A saved
    agent without a class path (older stores) is rebuilt as its type's class."""
    if path:
        if path in _AGENT_CLASSES:
            return _AGENT_CLASSES[path]
        if _is_phagos(path):
            module, _, qualname = path.partition(":")
            try:
                obj: Any = importlib.import_module(module)
                for part in qualname.split("."):
                    obj = getattr(obj, part)
            except (ImportError, AttributeError):
                obj = None
            if isinstance(obj, type) and issubclass(obj, Agent):
                return obj, None
    entry = _AGENT_TYPES.get(agent_type)
    if entry is None:
        raise StoreError(
            f"unknown agent type {agent_type!r} ({path or 'class unknown'}): register it with "
            "phago.state.register_agent_type() before loading"
        )
    if path and not _is_phagos(path) and _is_phagos(class_path(entry[0])):
        raise StoreError(
            f"agent class {path} (type {agent_type!r}) is not registered, and loading it as "
            f"{entry[0].__name__} would change what it does: register it with "
            f"phago.state.register_agent_type({agent_type!r}, {path.partition(':')[2]}) "
            "before loading"
        )
    return entry


def _build_agent(agent_type: str, state: dict[str, Any], path: str = "") -> Agent:
    cls, factory = _resolve_agent_class(agent_type, path)
    if factory is not None:
        agent = factory(state)
    else:
        try:
            agent = cls(Position(*state["position"]))
        except TypeError as exc:  # (a bare instance would fail at its first tick instead)
            raise StoreError(
                f"cannot rebuild a {cls.__name__} from its position alone ({exc}): register "
                f"it with a factory, phago.state.register_agent_type({agent_type!r}, "
                f"{cls.__name__}, factory)"
            ) from exc
    agent.load_state_dict(state)
    return agent


# ---------------------------------------------------------------------------- JSON helpers


_PLAIN = frozenset({str, int, float, bool, type(None)})
"""Types :func:`to_jsonable` and :func:`from_jsonable` return as they are (exact types: a
NumPy float is a ``float`` too, and becomes a Python one)."""


def to_jsonable(value: Any) -> Any:
    """Make ``value`` JSON-compatible: NumPy scalars and arrays, tuples, sets, bytes.

    Bytes become ``{"__bytes__": base64}`` (undone by :func:`from_jsonable`); sets become
    sorted lists.

    Example:
        >>> to_jsonable({"a": (1, np.int64(2)), "b": b"x"})
        {'a': [1, 2], 'b': {'__bytes__': 'eA=='}}
    """
    if type(value) in _PLAIN:
        return value
    if isinstance(value, dict):
        plain = _PLAIN
        return {str(k): v if type(v) in plain else to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return _jsonable_items(value)
    if isinstance(value, set | frozenset):
        return _jsonable_items(sorted(value, key=repr))
    if isinstance(value, bytes | bytearray):
        return {"__bytes__": base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, np.ndarray):
        return to_jsonable(value.tolist())
    if isinstance(value, np.generic):
        return value.item()
    return value


def _jsonable_items(items: Any) -> list[Any]:
    """:func:`to_jsonable` of each item, as a list (plain items taken as they are)."""
    plain = _PLAIN
    return [v if type(v) in plain else _jsonable_item(v) for v in items]


def _jsonable_item(v: Any) -> Any:
    """:func:`to_jsonable` of a list's item that is not plain: a pair of plain values
    (such as a counter's item) without the general path."""
    plain = _PLAIN
    if type(v) is tuple and len(v) == 2 and type(v[0]) in plain and type(v[1]) in plain:
        return [v[0], v[1]]
    return to_jsonable(v)


def from_jsonable(value: Any) -> Any:
    """Undo the bytes encoding of :func:`to_jsonable` (everything else is left as is).

    Example:
        >>> from_jsonable({"b": {"__bytes__": "eA=="}})
        {'b': b'x'}
    """
    if type(value) in _PLAIN:
        return value
    plain = _PLAIN
    if isinstance(value, dict):
        if len(value) == 1 and "__bytes__" in value:
            return base64.b64decode(value["__bytes__"])
        return {k: v if type(v) in plain else from_jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [v if type(v) in plain else _from_jsonable_item(v) for v in value]
    return value


def _from_jsonable_item(v: Any) -> Any:
    """:func:`from_jsonable` of a list's item that is not plain (a pair of plain values
    without the general path)."""
    plain = _PLAIN
    if type(v) is list and len(v) == 2 and type(v[0]) in plain and type(v[1]) in plain:
        return [v[0], v[1]]
    return from_jsonable(v)


# ---------------------------------------------------------------------------- dataclasses


def _arrays_equal(a: Any, b: Any) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return bool(np.array_equal(np.asarray(a), np.asarray(b)))
    return bool(a == b)


@dataclass
class GraphState:
    """The Hebbian graph as arrays. Node arrays are by node index; edges in insertion order;
    provenance pairs in presentation order."""

    tentative_weight: float
    reinforcement: float
    cell_size: float
    node_types: list[str]
    ids: U64Array
    labels: list[str]
    types: npt.NDArray[np.int8]
    access: IntArray
    created: IntArray
    pos: FloatArray
    prov_node: IntArray
    prov_doc: U64Array
    edge_a: IntArray
    edge_b: IntArray
    weight: FloatArray
    co_activations: IntArray
    edge_created: IntArray
    edge_last: IntArray
    grew_since_cap: bool = True
    last_cap: int = -1
    prov_tick: IntArray | None = None
    """The tick of each provenance pair's presentation (-1: not known); None: none known
    (a state read from a store saved before they were kept)."""

    @property
    def node_count(self) -> int:
        """Number of nodes."""
        return len(self.labels)

    @property
    def edge_count(self) -> int:
        """Number of edges."""
        return len(self.weight)

    def equals(self, other: GraphState) -> bool:
        """True if both states describe the same graph (every column equal)."""
        return all(
            _arrays_equal(getattr(self, f), getattr(other, f))
            for f in self.__dataclass_fields__
            if f not in ("grew_since_cap", "last_cap")
        )


@dataclass
class SubstrateState:
    """Documents, signals and traces as arrays and lists."""

    tick: int
    cell_size: float
    signal_types: list[str]
    trace_types: list[str]
    doc_ids: U64Array
    doc_titles: list[str]
    doc_contents: list[str]
    doc_pos: FloatArray
    doc_digested: npt.NDArray[np.bool_]
    signals: dict[str, np.ndarray]
    traces: dict[str, np.ndarray]
    trace_payloads: list[bytes]

    @property
    def document_count(self) -> int:
        """Number of documents."""
        return len(self.doc_titles)


@dataclass
class AgentState:
    """One live agent: its type name, its ``state_dict()`` and its class (``module:qualname``;
    subclasses such as evolving digesters share their parent's ``agent_type``)."""

    agent_type: str
    state: dict[str, Any]
    class_path: str = ""


@dataclass
class ColonyState:
    """Everything needed to continue a colony run identically (see the module docstring)."""

    config: dict[str, Any]
    seed: int
    rng: dict[str, Any]
    total_spawned: int
    total_died: int
    layout_next: int
    graph: GraphState
    substrate: SubstrateState
    agents: list[AgentState] = field(default_factory=list)
    death_signals: list[dict[str, Any]] = field(default_factory=list)
    fitness: list[dict[str, Any]] = field(default_factory=list)
    fitness_generation: int = 0
    spawn_policy: dict[str, Any] | None = None
    format: int = STATE_FORMAT
    total_retired: int = 0
    # ids of the dead agents whose fitness records are kept, oldest death first (None, as
    # in stores written before it was kept: the records of agents not alive, in order)
    fitness_dead: list[int] | None = None
    fitness_max_generation: int = 0
    # the colony's timeline (Colony.timeline: one row per tick, phago.timeline's
    # TIMELINE_FIELDS, oldest first); None: none kept (a store saved before timelines were)
    timeline: npt.NDArray[np.float64] | None = None

    @property
    def tick(self) -> int:
        """The substrate tick."""
        return self.substrate.tick

    def scalars(self) -> dict[str, Any]:
        """The JSON-able non-array part (config, seed, counters, agents, ...)."""
        g, s = self.graph, self.substrate
        out: dict[str, Any] = to_jsonable(
            {
                "format": self.format,
                "config": self.config,
                "seed": self.seed,
                "rng": self.rng,
                "total_spawned": self.total_spawned,
                "total_died": self.total_died,
                "layout_next": self.layout_next,
                "death_signals": self.death_signals,
                "fitness": self.fitness,
                "fitness_generation": self.fitness_generation,
                "spawn_policy": self.spawn_policy,
                "total_retired": self.total_retired,
                "fitness_dead": self.fitness_dead,
                "fitness_max_generation": self.fitness_max_generation,
                "graph": {
                    "tentative_weight": g.tentative_weight,
                    "reinforcement": g.reinforcement,
                    "cell_size": g.cell_size,
                    "node_types": g.node_types,
                    "grew_since_cap": g.grew_since_cap,
                    "last_cap": g.last_cap,
                },
                "substrate": {
                    "tick": s.tick,
                    "cell_size": s.cell_size,
                    "signal_types": s.signal_types,
                    "trace_types": s.trace_types,
                },
            }
        )
        return out


# ---------------------------------------------------------------------------- capture


def _columns(
    cols: _Columns, pending: list[tuple[float, float, float, int, int, int, int]]
) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    for k, name in enumerate(_SIGNAL_COLUMNS):
        base = np.asarray(getattr(cols, name))
        dt = _COLUMN_DTYPES[name]
        extra: np.ndarray = np.asarray([row[k] for row in pending], dtype=dt)
        out[name] = (
            np.concatenate([base.astype(dt), extra]) if len(extra) else base.astype(dt).copy()
        )
    return out


def _capture_graph(g: HebbianGraph) -> GraphState:
    n = g.node_count
    prov_node, prov_doc = g.provenance_arrays()
    a, b, w, co, ct, lt = g.edge_arrays()
    return GraphState(
        tentative_weight=g.tentative_weight,
        reinforcement=g.reinforcement,
        cell_size=g._cell,
        node_types=[t.value for t in NodeType],
        ids=g._ids_arr[:n].astype(np.uint64).copy(),
        labels=list(g._labels),
        types=g._type[:n].astype(np.int8).copy(),
        access=g._access[:n].astype(np.int64).copy(),
        created=g._created[:n].astype(np.int64).copy(),
        pos=g._pos[:n].astype(np.float64).copy(),
        prov_node=prov_node.astype(np.int64).copy(),
        prov_doc=prov_doc.astype(np.uint64).copy(),
        prov_tick=g.provenance_ticks(),
        edge_a=a,
        edge_b=b,
        weight=w,
        co_activations=co,
        edge_created=ct,
        edge_last=lt,
        grew_since_cap=bool(g._grew_since_cap),
        last_cap=int(g._last_cap),
    )


def _capture_substrate(s: Substrate) -> SubstrateState:
    docs = s._docs
    traces = _columns(s._tr, s._tr_pending)
    # keep only the payloads still referenced, renumbered in order
    refs = traces["ref"]
    used = unique_sorted(refs[refs >= 0])
    payloads = [s._tr_payloads[int(r)] for r in used]
    if len(used):
        remap = np.full(int(used.max()) + 1, -1, dtype=np.int64)
        remap[used] = np.arange(len(used), dtype=np.int64)
        traces["ref"] = np.where(refs >= 0, remap[np.maximum(refs, 0)], -1).astype(np.int64)
    return SubstrateState(
        tick=int(s.tick),
        cell_size=float(s._cell),
        signal_types=[t.value for t in SignalType],
        trace_types=[t.value for t in TraceType],
        doc_ids=np.array([int(d.id) for d in docs], dtype=np.uint64),
        doc_titles=[d.title for d in docs],
        doc_contents=[d.content for d in docs],
        doc_pos=np.array([(d.position.x, d.position.y) for d in docs], dtype=np.float64).reshape(
            -1, 2
        ),
        doc_digested=np.array([d.digested for d in docs], dtype=np.bool_),
        signals=_columns(s._sig, s._sig_pending),
        traces=traces,
        trace_payloads=payloads,
    )


def _death_signal_dict(sig: DeathSignal) -> dict[str, Any]:
    c = sig.cause
    return {
        "agent_id": int(sig.agent_id),
        "total_ticks": sig.total_ticks,
        "useful_outputs": sig.useful_outputs,
        "final_fragments": list(sig.final_fragments),
        "cause": {
            "kind": c.kind,
            "health": None if c.health is None else c.health.value,
            "host": None if c.host is None else int(c.host),
        },
    }


def _death_signal(d: dict[str, Any]) -> DeathSignal:
    c = d["cause"]
    return DeathSignal(
        agent_id=AgentId(int(d["agent_id"])),
        total_ticks=int(d["total_ticks"]),
        useful_outputs=int(d["useful_outputs"]),
        final_fragments=tuple(str(t) for t in d["final_fragments"]),
        cause=DeathCause(
            str(c["kind"]),
            None if c["health"] is None else CellHealth(c["health"]),
            None if c["host"] is None else AgentId(int(c["host"])),
        ),
    )


def _capture_policy(policy: object | None) -> dict[str, Any] | None:
    if policy is None:
        return None
    cls = type(policy)
    state = policy.state_dict() if hasattr(policy, "state_dict") else None
    return {"class": f"{cls.__module__}:{cls.__qualname__}", "state": to_jsonable(state)}


def capture(colony: Colony) -> ColonyState:
    """The colony's complete state (arrays are copies; the colony is not changed).

    Args:
        colony: a colony between ticks (its last phase was ``advance``).

    Returns:
        A :class:`ColonyState`.

    Raises:
        PhaseOrderError: the colony is in the middle of a tick.

    Example:
        >>> from phago import Colony, Position
        >>> c = Colony(seed=1)
        >>> _ = c.ingest_document("t", "alpha beta", Position(0, 0))
        >>> st = capture(c)
        >>> st.substrate.doc_titles, st.tick, st.seed
        (['t'], 0, 1)
    """
    if colony._phase != "advance":
        raise PhaseOrderError(
            f"a colony can only be captured between ticks, but its last phase was {colony._phase}()"
        )
    fit = colony.fitness
    return ColonyState(
        config=colony.config.to_dict(),
        seed=int(colony.seed),
        rng=to_jsonable(colony.rng.bit_generator.state),
        total_spawned=int(colony.total_spawned),
        total_died=int(colony.total_died),
        layout_next=int(colony._layout_next),
        graph=_capture_graph(colony.graph),
        substrate=_capture_substrate(colony.substrate),
        agents=[
            AgentState(a.agent_type, to_jsonable(a.state_dict()), class_path(type(a)))
            for a in colony.agents
        ],
        death_signals=[_death_signal_dict(s) for s in colony.death_signals],
        fitness=[
            {
                "agent_id": int(r.agent_id),
                "generation": r.generation,
                "concepts_added": r.concepts_added,
                "edges_contributed": r.edges_contributed,
                "ticks_alive": r.ticks_alive,
                "novel_concepts": r.novel_concepts,
                "bridge_edges": r.bridge_edges,
                "strong_edges": r.strong_edges,
                "fitness": r.fitness,
            }
            for r in fit.all()
        ],
        fitness_generation=int(fit._generation),
        spawn_policy=_capture_policy(colony.spawn_policy),
        total_retired=int(getattr(colony, "total_retired", 0)),
        fitness_dead=[int(a) for a in fit.dead_ids()],
        fitness_max_generation=int(fit.max_generation()),
        timeline=_captured_timeline(colony),
    )


def _captured_timeline(colony: Colony) -> npt.NDArray[np.float64] | None:
    """The colony's timeline rows (None where it has none)."""
    timeline = getattr(colony, "_timeline", None)
    return timeline.rows() if timeline is not None and len(timeline) else None


# ---------------------------------------------------------------------------- restore


def tick_runs(ticks: npt.ArrayLike | None) -> tuple[list[int], list[int]]:
    """Provenance ticks as runs: the rows where a run of equal ticks starts, and its tick
    (rows before the first run have no known tick). Undone by expanding each run to the next.

    Example:
        >>> tick_runs([-1, -1, 3, 3, 5])
        ([2, 4], [3, 5])
        >>> tick_runs(None)
        ([], [])
    """
    if ticks is None:
        return [], []
    t = np.asarray(ticks, dtype=np.int64)
    if not len(t):
        return [], []
    starts = np.flatnonzero(np.concatenate(([t[0] != -1], t[1:] != t[:-1])))
    return starts.tolist(), t[starts].tolist()


def _code_map(saved: list[str], current: list[str], what: str) -> npt.NDArray[np.int64]:
    out = np.empty(len(saved), dtype=np.int64)
    for i, v in enumerate(saved):
        if v not in current:
            raise StoreError(f"saved state uses unknown {what} {v!r}")
        out[i] = current.index(v)
    return out


def _remap_codes(
    codes: np.ndarray, saved: list[str], current: list[str], what: str
) -> npt.NDArray[np.int8]:
    if saved == current or len(codes) == 0:
        return codes.astype(np.int8)
    m = _code_map(saved, current, what)
    if codes.min() < 0 or codes.max() >= len(m):
        raise StoreError(f"saved state has an out-of-range {what} code")
    return m[codes.astype(np.int64)].astype(np.int8)


def _check_finite(arr: np.ndarray, what: str) -> None:
    if len(arr) and not bool(np.isfinite(arr).all()):
        raise StoreError(f"saved state has non-finite {what}")


def _restore_graph(gs: GraphState, graph: HebbianGraph) -> None:
    n = len(gs.labels)
    for name, arr in (
        ("ids", gs.ids),
        ("types", gs.types),
        ("access", gs.access),
        ("created", gs.created),
    ):
        if len(arr) != n:
            raise StoreError(f"graph column {name} has {len(arr)} rows, expected {n}")
    if gs.pos.shape != (n, 2):
        raise StoreError(f"graph positions have shape {gs.pos.shape}, expected ({n}, 2)")
    _check_finite(gs.pos, "node positions")
    m = len(gs.weight)
    for name, arr in (
        ("edge_a", gs.edge_a),
        ("edge_b", gs.edge_b),
        ("co_activations", gs.co_activations),
        ("edge_created", gs.edge_created),
        ("edge_last", gs.edge_last),
    ):
        if len(arr) != m:
            raise StoreError(f"edge column {name} has {len(arr)} rows, expected {m}")
    if m and (
        gs.edge_a.min() < 0 or gs.edge_b.min() < 0 or gs.edge_a.max() >= n or gs.edge_b.max() >= n
    ):
        raise StoreError("an edge refers to a node that does not exist")
    if m and not bool((gs.edge_a < gs.edge_b).all()):
        raise StoreError("saved edges must be stored as (lower index, higher index) pairs")
    if m > 1:
        keys = np.sort((gs.edge_a.astype(np.int64) << 32) | gs.edge_b.astype(np.int64))
        if bool((keys[1:] == keys[:-1]).any()):
            raise StoreError("saved graph has duplicate edges")
    _check_finite(gs.weight, "edge weights")
    if len(gs.prov_node) != len(gs.prov_doc):
        raise StoreError("provenance columns differ in length")
    if len(gs.prov_node) and (gs.prov_node.min() < 0 or gs.prov_node.max() >= n):
        raise StoreError("provenance refers to a node that does not exist")
    if gs.prov_tick is not None and len(gs.prov_tick) != len(gs.prov_node):
        raise StoreError("provenance ticks differ in length from the provenance")

    current = [t.value for t in NodeType]
    types = _remap_codes(gs.types, gs.node_types, current, "node type")
    g = graph
    g.tentative_weight = float(gs.tentative_weight)
    g.reinforcement = float(gs.reinforcement)
    g._cell = float(gs.cell_size)
    g._ids = [NodeId(int(x)) for x in gs.ids]
    g._labels = list(gs.labels)
    g._index = {int(nid): i for i, nid in enumerate(g._ids)}
    g._forget_id_table()
    if len(g._index) != n:
        raise StoreError("saved graph has duplicate node ids")
    g._label_index = {}
    g._by_type = [{} for _ in current]
    g._grid = {}
    codes = types.tolist()
    pos = np.ascontiguousarray(gs.pos, dtype=np.float64)
    for i, label in enumerate(g._labels):
        g._label_index.setdefault(label, []).append(i)
        g._by_type[codes[i]][label] = i
        g._grid.setdefault(g._cell_of(float(pos[i, 0]), float(pos[i, 1])), []).append(i)
    g._type = types.copy()
    g._access = gs.access.astype(np.int64).copy()
    g._created = gs.created.astype(np.int64).copy()
    g._pos = pos.copy()
    g._ids_arr = gs.ids.astype(np.uint64).copy()
    g._n = n
    g._prov_node = gs.prov_node.astype(np.int64).copy()
    g._prov_doc = gs.prov_doc.astype(np.uint64).copy()
    g._prov_n = len(g._prov_node)
    g._prov_csr = None
    g._prov_tick_rows, g._prov_tick_vals = tick_runs(gs.prov_tick)
    g._ea = gs.edge_a.astype(np.int32).copy()
    g._eb = gs.edge_b.astype(np.int32).copy()
    g._w = gs.weight.astype(np.float64).copy()
    g._co = gs.co_activations.astype(np.int32)
    g._ct = gs.edge_created.astype(np.int32)
    g._lt = gs.edge_last.astype(np.int32)
    g._alive = np.ones(m, dtype=np.bool_)
    g._m = m
    g._m_alive = m
    g._csr = None
    g._deg = None  # counted again on first use
    g._defer_table()  # built on first use: a query needs no edge table
    g._grew_since_cap = bool(gs.grew_since_cap)
    g._last_cap = int(gs.last_cap)


def _restore_columns(cols: dict[str, np.ndarray], what: str) -> _Columns:
    try:
        arrays: list[Any] = [
            np.asarray(cols[name], dtype=_COLUMN_DTYPES[name]).copy() for name in _SIGNAL_COLUMNS
        ]
    except KeyError as exc:
        raise StoreError(f"saved {what} lack column {exc}") from None
    if len({len(a) for a in arrays}) > 1:
        raise StoreError(f"saved {what} columns differ in length")
    _check_finite(arrays[0], f"{what} positions")
    _check_finite(arrays[1], f"{what} positions")
    return _Columns(*arrays)


def _restore_substrate(ss: SubstrateState, s: Substrate) -> None:
    n = len(ss.doc_titles)
    if not (
        len(ss.doc_ids) == len(ss.doc_contents) == len(ss.doc_digested) == n
    ) or ss.doc_pos.shape != (n, 2):
        raise StoreError("saved document columns differ in length")
    _check_finite(ss.doc_pos, "document positions")
    if len(ss.doc_pos) and float(np.abs(ss.doc_pos).max()) > POSITION_LIMIT:
        raise StoreError(
            f"saved documents lie beyond the position limit ({POSITION_LIMIT:g}, "
            "phago.types.POSITION_LIMIT), where the substrate's grid cannot hold them: the "
            "store was written by an older phago that took them. Ingest the files again "
            "into a new store"
        )
    cell = float(ss.cell_size)
    if not (math.isfinite(cell) and cell >= MIN_CELL_SIZE):
        raise StoreError(
            f"saved substrate cell size {ss.cell_size!r} is not a number >= {MIN_CELL_SIZE:g}"
        )
    s.tick = int(ss.tick)
    s._cell = cell
    s._docs = []
    s._doc_seq = {}
    s._doc_grid = {}
    undigested = 0
    for seq in range(n):
        p = Position(float(ss.doc_pos[seq, 0]), float(ss.doc_pos[seq, 1]))
        did = DocumentId(int(ss.doc_ids[seq]))
        digested = bool(ss.doc_digested[seq])
        s._docs.append(Document(did, ss.doc_titles[seq], ss.doc_contents[seq], p, digested))
        s._doc_seq[did] = seq
        if not digested:
            s._doc_grid.setdefault(s._doc_cell(p), []).append(seq)
            undigested += 1
    if len(s._doc_seq) != n:
        raise StoreError("saved documents have duplicate ids")
    s._undigested = undigested
    size = 64
    while size < n:
        size *= 2
    s._digested_arr = np.zeros(size, dtype=np.bool_)
    s._digested_arr[:n] = ss.doc_digested
    sig = _restore_columns(ss.signals, "signals")
    sig.kind = _remap_codes(sig.kind, ss.signal_types, [t.value for t in SignalType], "signal type")
    if len(sig) and sig.ref.max() >= n:
        raise StoreError("a saved signal refers to a document that does not exist")
    tr = _restore_columns(ss.traces, "traces")
    tr.kind = _remap_codes(tr.kind, ss.trace_types, [t.value for t in TraceType], "trace type")
    if len(tr) and tr.ref.max() >= len(ss.trace_payloads):
        raise StoreError("a saved trace refers to a payload that does not exist")
    s._sig, s._sig_pending, s._sig_dirty = sig, [], True
    s._tr, s._tr_pending, s._tr_dirty = tr, [], True
    s._tr_payloads = [bytes(p) for p in ss.trace_payloads]


# spawn policy classes of the user's that stores may name, by class path
_POLICY_CLASSES: dict[str, type] = {}


def register_spawn_policy(cls: type) -> None:
    """Make colonies whose spawn policy is a ``cls`` restorable (phago's own policies need
    no registration). On restore the policy is rebuilt as ``cls()`` and, if it has one,
    its ``load_state_dict`` is given what its ``state_dict`` returned when it was saved.

    Example:
        >>> from phago.agents.spawn import RandomSpawnPolicy
        >>> class Gentle(RandomSpawnPolicy):
        ...     pass
        >>> register_spawn_policy(Gentle)
    """
    _POLICY_CLASSES[class_path(cls)] = cls


def _restore_policy(spec: dict[str, Any] | None) -> object | None:
    if spec is None:
        return None
    path = str(spec["class"])
    module, _, qualname = path.partition(":")
    try:
        if path in _POLICY_CLASSES:
            obj: Any = _POLICY_CLASSES[path]
        elif _is_phagos(path):
            obj = importlib.import_module(module)
            for part in qualname.split("."):
                obj = getattr(obj, part)
        else:
            raise StoreError(
                f"saved spawn policy {path!r} is not registered: register its class with "
                f"phago.state.register_spawn_policy({qualname}) before loading"
            )
        policy = obj()
    except (ImportError, AttributeError, TypeError) as exc:
        raise StoreError(f"cannot rebuild spawn policy {spec['class']!r}: {exc}") from exc
    state = spec.get("state")
    if state is not None and hasattr(policy, "load_state_dict"):
        policy.load_state_dict(from_jsonable(state))
    return policy  # type: ignore[no-any-return]


def restore(state: ColonyState) -> Colony:
    """A colony that continues exactly where the captured one was.

    Args:
        state: what :func:`capture` returned (or :mod:`phago.store` loaded).

    Returns:
        A new :class:`~phago.colony.Colony`.

    Raises:
        StoreError: the state is inconsistent, uses an unknown agent type or a newer format.

    Example:
        >>> from phago import Colony, Position
        >>> c = Colony(seed=2)
        >>> _ = c.ingest_document("t", "alpha beta", Position(0, 0))
        >>> restore(capture(c)).stats() == c.stats()
        True
    """
    if state.format > STATE_FORMAT or state.format < 1:
        raise StoreError(
            f"state format {state.format} is not supported (this phago reads 1..{STATE_FORMAT})"
        )
    with cyclic_gc_paused():  # every document and agent made at once, none in a cycle
        return _restored(state)


def _restored(state: ColonyState) -> Colony:
    """:func:`restore`'s work (with the cyclic collector paused: its collections, set off by
    that many new objects, took about 40% of restoring 100,000 documents)."""
    try:
        config = ColonyConfig.from_dict(dict(state.config))
    except (PhagoError, TypeError, ValueError) as exc:
        raise StoreError(f"saved colony config is invalid: {exc}") from exc
    colony = Colony(config, seed=state.seed)
    try:
        colony.rng.bit_generator.state = dict(state.rng)
    except (TypeError, ValueError, KeyError) as exc:
        raise StoreError(f"saved random generator state is invalid: {exc}") from exc
    try:
        _restore_graph(state.graph, colony.graph)
        _restore_substrate(state.substrate, colony.substrate)
        colony.agents = [
            _build_agent(a.agent_type, from_jsonable(a.state), a.class_path) for a in state.agents
        ]
    except StoreError:
        raise
    except (PhagoError, TypeError, ValueError, KeyError, IndexError) as exc:
        raise StoreError(f"saved colony state is inconsistent: {exc}") from exc
    colony.total_spawned = int(state.total_spawned)
    colony.total_died = int(state.total_died)
    colony.total_retired = int(state.total_retired)
    colony._layout_next = int(state.layout_next)
    limit = int(config.death_record_limit)
    kept = state.death_signals[max(len(state.death_signals) - limit, 0) :]
    colony.death_signals = [_death_signal(d) for d in kept]
    tracker = FitnessTracker()
    for r in state.fitness:
        aid = AgentId(int(r["agent_id"]))
        tracker._by_id[aid] = AgentFitness(
            aid,
            int(r["generation"]),
            int(r["concepts_added"]),
            int(r["edges_contributed"]),
            int(r["ticks_alive"]),
            int(r["novel_concepts"]),
            int(r["bridge_edges"]),
            int(r["strong_edges"]),
            float(r["fitness"]),
        )
    tracker._generation = int(state.fitness_generation)
    if state.fitness_dead is not None:
        dead = [AgentId(int(a)) for a in state.fitness_dead]
    else:  # an older store: the records of agents not alive, in the order saved
        live = {a.id for a in colony.agents}
        dead = [aid for aid in tracker._by_id if aid not in live]
    tracker._dead = {aid: None for aid in dead if aid in tracker._by_id}
    tracker._max_generation = max(int(state.fitness_max_generation), tracker.max_generation())
    tracker.trim_dead(limit)
    colony.fitness = tracker
    colony.spawn_policy = _restore_policy(state.spawn_policy)  # type: ignore[assignment]
    if state.timeline is not None and len(state.timeline):
        colony._timeline.extend_rows(state.timeline)
    return colony


def state_from_scalars(
    scalars: dict[str, Any],
    graph_arrays: dict[str, np.ndarray],
    labels: list[str],
    docs: tuple[U64Array, list[str], list[str], FloatArray, npt.NDArray[np.bool_]],
    signals: dict[str, np.ndarray],
    traces: dict[str, np.ndarray],
    trace_payloads: list[bytes],
    agents: list[AgentState],
) -> ColonyState:
    """Reassemble a :class:`ColonyState` from its stored parts (used by :mod:`phago.store`).

    Raises:
        StoreError: a part is missing.
    """
    try:
        g = scalars["graph"]
        s = scalars["substrate"]
        graph = GraphState(
            tentative_weight=float(g["tentative_weight"]),
            reinforcement=float(g["reinforcement"]),
            cell_size=float(g["cell_size"]),
            node_types=list(g["node_types"]),
            labels=labels,
            grew_since_cap=bool(g["grew_since_cap"]),
            last_cap=int(g["last_cap"]),
            **{k: graph_arrays[k] for k in _GRAPH_ARRAYS},
        )
        substrate = SubstrateState(
            tick=int(s["tick"]),
            cell_size=float(s["cell_size"]),
            signal_types=list(s["signal_types"]),
            trace_types=list(s["trace_types"]),
            doc_ids=docs[0],
            doc_titles=docs[1],
            doc_contents=docs[2],
            doc_pos=docs[3],
            doc_digested=docs[4],
            signals=signals,
            traces=traces,
            trace_payloads=trace_payloads,
        )
        return ColonyState(
            config=dict(scalars["config"]),
            seed=int(scalars["seed"]),
            rng=dict(scalars["rng"]),
            total_spawned=int(scalars["total_spawned"]),
            total_died=int(scalars["total_died"]),
            layout_next=int(scalars["layout_next"]),
            graph=graph,
            substrate=substrate,
            agents=agents,
            death_signals=list(scalars["death_signals"]),
            fitness=list(scalars["fitness"]),
            fitness_generation=int(scalars["fitness_generation"]),
            spawn_policy=scalars["spawn_policy"],
            format=int(scalars["format"]),
            total_retired=int(scalars.get("total_retired", 0)),
            fitness_dead=None
            if scalars.get("fitness_dead") is None
            else [int(a) for a in scalars["fitness_dead"]],
            fitness_max_generation=int(scalars.get("fitness_max_generation", 0)),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise StoreError(f"saved state is incomplete: missing or invalid {exc}") from exc


_GRAPH_ARRAYS = (
    "ids",
    "types",
    "access",
    "created",
    "pos",
    "prov_node",
    "prov_doc",
    "edge_a",
    "edge_b",
    "weight",
    "co_activations",
    "edge_created",
    "edge_last",
)
GRAPH_ARRAYS = _GRAPH_ARRAYS
"""Names of the :class:`GraphState` array fields (in storage order)."""
SIGNAL_COLUMNS = _SIGNAL_COLUMNS
"""Names of the signal and trace columns."""


# ---------------------------------------------------------------------------- forget

_UNKNOWN_TICK = np.iinfo(np.int64).max
"""The tick a presentation whose tick is not known is compared as: later than every edge's
creation, so it counts as part of every edge it wired (stores saved before provenance ticks
were kept)."""


@dataclass(repr=False)
class ForgetReport:
    """What :func:`forget_documents` did (its repr gives counts only).

    Example:
        >>> ForgetReport([7], nodes_removed=2, edges_removed=3)
        ForgetReport(documents_removed=1, unknown=0, nodes_removed=2, edges_removed=3, \
edges_weakened=0, kept_nodes=0)
        >>> ForgetReport([7], nodes_removed=2, distributed=True)  # no kept_nodes: see below
        ForgetReport(documents_removed=1, unknown=0, nodes_removed=2, edges_removed=0, \
edges_weakened=0, distributed=True)
    """

    documents_removed: list[int] = field(default_factory=list)
    nodes_removed: int = 0
    edges_removed: int = 0
    edges_weakened: int = 0
    unknown: list[int] = field(default_factory=list)
    kept_nodes: IntArray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    """Old indices of the nodes that remain, in their new order, in a report on one graph
    (a colony's, or one shard's state). Empty, and meaningless, in a report on a whole
    distributed colony (``distributed``), where each shard renumbers its own nodes."""
    distributed: bool = False
    """A report on a whole distributed colony (:meth:`DistributedColony.forget_documents
    <phago.distributed.DistributedColony.forget_documents>`, or
    :func:`phago.store.forget_in_store` on a distributed store): ``nodes_removed`` counts
    the cluster's concepts, and ``kept_nodes`` is not given (its repr leaves it out)."""

    def __repr__(self) -> str:
        nodes = "distributed=True" if self.distributed else f"kept_nodes={len(self.kept_nodes)}"
        return (
            f"ForgetReport(documents_removed={len(self.documents_removed)}, "
            f"unknown={len(self.unknown)}, nodes_removed={self.nodes_removed}, "
            f"edges_removed={self.edges_removed}, edges_weakened={self.edges_weakened}, "
            f"{nodes})"
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict."""
        return {
            "documents_removed": [str(d) for d in self.documents_removed],
            "nodes_removed": self.nodes_removed,
            "edges_removed": self.edges_removed,
            "edges_weakened": self.edges_weakened,
            "unknown": [str(d) for d in self.unknown],
        }


def checked_document_ids(doc_ids: Iterable[object]) -> list[int]:
    """Document ids to forget: each a whole number in [0, 2**64), first occurrences in order.

    Raises:
        DocumentError: ``doc_ids`` is not a collection of ids (a string, say), or one of them
            is not a whole number in range.

    Example:
        >>> checked_document_ids([5, 3, 5])
        [5, 3]
        >>> checked_document_ids(["abc"])
        Traceback (most recent call last):
        ...
        phago.errors.DocumentError: doc_id must be an integer in [0, 2**64), got 'abc'
    """
    if isinstance(doc_ids, str | bytes) or not isinstance(doc_ids, Iterable):
        raise DocumentError(f"document ids must be a collection of ids, got {doc_ids!r:.60}")
    out: dict[int, None] = {}
    for d in doc_ids:
        out.setdefault(int(checked_document_id(d)), None)
    return list(out)


def _document_pairs(
    concept_idx: IntArray, labels: list[str], text: str | None, window: int | None
) -> IntArray:
    """The node-index pairs (lo, hi) the colony wired when it presented these concepts."""
    k = len(concept_idx)
    if k < 2:
        return np.zeros((0, 2), dtype=np.int64)
    if window is not None and text is not None:
        # each concept's place among concept_idx (the last place where it is twice), and
        # where the text has it: through the digester's term kernels where Numba is loaded
        # (a live colony's forget), else through the tokeniser (a command forgetting in a
        # store does not start Numba for it); the same words either way
        place = {labels[i]: n for n, i in enumerate(concept_idx.tolist())}
        if numba_loaded():
            names, term_of, word = analyse_keyword_labels(text)
            concept_of = np.fromiter((place.get(t, -1) for t in names), np.int64, len(names))
            at = concept_of[term_of]
        else:
            tokens = tokenize_with_positions(text)
            at = np.fromiter((place.get(t, -1) for t, _ in tokens), np.int64, len(tokens))
            word = np.fromiter((w for _, w in tokens), np.int64, len(tokens))
        among = at >= 0
        local = pairs_within(at[among], word[among], window, k)
        if len(local) == 0:
            return np.zeros((0, 2), dtype=np.int64)
        a, b = concept_idx[local[:, 0]], concept_idx[local[:, 1]]
    else:
        i, j = np.triu_indices(k, 1)
        a, b = concept_idx[i], concept_idx[j]
    keep = a != b
    a, b = a[keep], b[keep]
    return np.stack([np.minimum(a, b), np.maximum(a, b)], axis=1).astype(np.int64)


def _provenance_ticks(gs: GraphState, rows: IntArray) -> IntArray:
    """The presentation tick of these provenance pairs, :data:`_UNKNOWN_TICK` where not
    known."""
    if gs.prov_tick is None:
        return np.full(len(rows), _UNKNOWN_TICK, dtype=np.int64)
    t = np.asarray(gs.prov_tick, dtype=np.int64)[rows]
    return np.where(t < 0, _UNKNOWN_TICK, t)


def _concept_code(gs: GraphState) -> int:
    concept = NodeType.CONCEPT.value
    return gs.node_types.index(concept) if concept in gs.node_types else 0


def _doc_groups(gs: GraphState, rows: IntArray) -> tuple[U64Array, list[IntArray]]:
    """Provenance ``rows`` grouped by document (in presentation order within each)."""
    if not len(rows):
        return np.zeros(0, dtype=np.uint64), []
    order = np.argsort(gs.prov_doc[rows], kind="stable")
    rows = rows[order]
    docs = gs.prov_doc[rows]
    starts = np.flatnonzero(np.concatenate(([True], docs[1:] != docs[:-1])))
    return docs[starts], np.split(rows, starts[1:])


def _pair_rows(state: ColonyState, doc_ids: npt.NDArray[np.uint64]) -> tuple[U64Array, IntArray]:
    """Every pair the presentations of the documents ``state`` holds among ``doc_ids``
    wired: ``(k, 2)`` NodeIds (smaller first, one row per presentation that wired the pair)
    and each one's presentation tick (:data:`_UNKNOWN_TICK` where not known)."""
    ss, gs = state.substrate, state.graph
    held = doc_ids[np.isin(doc_ids, ss.doc_ids)]
    rows = np.flatnonzero(np.isin(gs.prov_doc, held))
    rows = rows[gs.types[gs.prov_node[rows]] == _concept_code(gs)]
    seqs = {int(x): i for i, x in enumerate(ss.doc_ids.tolist())}
    window = state.config.get("wiring_window")
    pairs: list[U64Array] = []
    out_t: list[IntArray] = []
    for doc, group in zip(*_doc_groups(gs, rows), strict=True):
        local = _document_pairs(
            gs.prov_node[group], gs.labels, ss.doc_contents[seqs[int(doc)]], window
        )
        if not len(local):
            continue
        a, b = gs.ids[local[:, 0]], gs.ids[local[:, 1]]
        pairs.append(np.stack([np.minimum(a, b), np.maximum(a, b)], axis=1))
        out_t.append(np.full(len(local), _provenance_ticks(gs, group).max(), dtype=np.int64))
    if not pairs:
        return np.zeros((0, 2), dtype=np.uint64), np.zeros(0, dtype=np.int64)
    return np.concatenate(pairs), np.concatenate(out_t)


_MEMBERSHIP_TABLE_MIN = 1 << 16
"""From this many keys to look up, with Numba loaded, :func:`_membership` hashes the set."""
_MEMBERSHIP_TABLE_COLD_MIN = 1 << 23
"""... and from this many where Numba is not loaded yet (its start, about a second, then
pays; a command forgetting in a store file does not start it below)."""
_MEMBERSHIP_TABLE_MAX_KEYS = 1 << 22
"""Above this many keys present, a binary search per key: the table (16 bytes a bucket,
two to four buckets a key) would take over 128 MiB for the forget's round."""


def _membership(present: IntArray, lookups: int) -> Callable[[IntArray], npt.NDArray[np.bool_]]:
    """A test of which keys are among ``present`` (sorted, distinct, non-negative) for about
    ``lookups`` keys in all: one hash table of ``present`` where the lookups are many and
    the keys present not too many for its memory (a Numba kernel's probe per key, where a
    binary search per key misses the cache at each step: ``benchmarks/key_membership.py``),
    else a binary search per key.

    Example:
        >>> member = _membership(np.array([2, 5, 9]), 3)
        >>> member(np.array([5, 6, 9])).tolist()
        [True, False, True]
    """
    if 0 < len(present) <= _MEMBERSHIP_TABLE_MAX_KEYS and kernel_pays(
        lookups, loaded_min=_MEMBERSHIP_TABLE_MIN, cold_min=_MEMBERSHIP_TABLE_COLD_MIN
    ):
        size = 16
        while size < 2 * len(present):
            size *= 2
        keys = np.zeros(size, dtype=np.uint64)
        vals = np.full(size, -1, dtype=np.int64)
        K.id_table_insert(keys, vals, present.astype(np.uint64), 0, len(present))
        return lambda key: K.id_table_find(keys, vals, key.astype(np.uint64)) >= 0

    def searched(key: IntArray) -> npt.NDArray[np.bool_]:
        if not len(present):
            return np.zeros(len(key), dtype=np.bool_)
        at = np.minimum(np.searchsorted(present, key), len(present) - 1)
        found: npt.NDArray[np.bool_] = present[at] == key
        return found

    return searched


def _supported_pairs(
    state: ColonyState,
    forgotten: npt.NDArray[np.uint64],
    ends: U64Array,
    pairs: IntArray,
    since: IntArray,
    found: npt.NDArray[np.bool_],
) -> None:
    """Mark in ``found`` each pair a document ``state`` holds, not among ``forgotten``,
    wired at or after the tick ``since`` of the pair: ``pairs`` are positions in ``ends``
    (sorted NodeIds). Only pairs not found yet are looked at."""
    ss, gs = state.substrate, state.graph
    todo = np.flatnonzero(~found)
    if not len(todo) or not len(gs.prov_node):
        return
    remaining = ss.doc_ids[~np.isin(ss.doc_ids, forgotten)]
    concept = gs.types == _concept_code(gs)
    is_end = concept & np.isin(gs.ids, ends)
    end_of = np.full(len(gs.ids), -1, dtype=np.int64)  # each node's place in ends, or -1
    end_of[is_end] = np.searchsorted(ends, gs.ids[is_end])
    rows = np.flatnonzero(is_end[gs.prov_node])
    rows = rows[np.isin(gs.prov_doc[rows], remaining)]
    if not len(rows):
        return
    docs, doc_of = np.unique(gs.prov_doc[rows], return_inverse=True)
    doc_tick = np.full(len(docs), np.iinfo(np.int64).min, dtype=np.int64)
    np.maximum.at(doc_tick, doc_of, _provenance_ticks(gs, rows))
    node_of = end_of[gs.prov_node[rows]]
    width = len(ends)
    present = unique_sorted(doc_of.astype(np.int64) * width + node_of)  # (document, node)
    # each node's documents, for the end of each pair that has fewer
    by_node = np.argsort(node_of, kind="stable")
    count = np.bincount(node_of, minlength=width)
    start = np.cumsum(count) - count
    a, b = pairs[todo, 0], pairs[todo, 1]
    swap = count[b] < count[a]
    a, b = np.where(swap, b, a), np.where(swap, a, b)
    sizes = count[a]
    candidates: list[tuple[IntArray, IntArray]] = []  # (pair, document) to check
    chunk = 1 << 20
    lo = 0
    bounds = np.cumsum(sizes)
    is_present = _membership(present, int(bounds[-1]) if len(bounds) else 0)
    while lo < len(todo):  # in chunks of about ``chunk`` (pair, document) candidates
        hi = int(np.searchsorted(bounds, (bounds[lo - 1] if lo else 0) + chunk, "right"))
        hi = max(hi, lo + 1)
        part = np.arange(lo, hi)
        reps = sizes[part]
        which = np.repeat(part, reps)
        first = np.repeat(np.cumsum(reps) - reps, reps)  # where each pair's run starts
        offset = np.arange(int(reps.sum()), dtype=np.int64) - first
        d = doc_of[by_node[np.repeat(start[a[part]], reps) + offset]]
        keep = doc_tick[d] >= since[todo[which]]
        which, d = which[keep], d[keep]
        both = is_present(d.astype(np.int64) * width + b[which])
        candidates.append((todo[which[both]], d[both]))
        lo = hi
    pair_hit = np.concatenate([c[0] for c in candidates])
    doc_hit = np.concatenate([c[1] for c in candidates])
    window = state.config.get("wiring_window")
    if window is None:  # a document wired every pair of its concepts
        found[pair_hit] = True
        return
    # windowed: a document wired the pair only if its text holds the two within the window;
    # documents are read one by one until every pair is found, those that may have wired
    # the most pairs first (fewer read: the pairs found do not depend on the order)
    seqs = {int(x): i for i, x in enumerate(ss.doc_ids.tolist())}
    per_doc = np.bincount(doc_hit, minlength=len(docs))
    order = np.lexsort((doc_hit, -per_doc[doc_hit]))
    pair_hit, doc_hit = pair_hit[order], doc_hit[order]
    cuts = np.flatnonzero(np.diff(doc_hit)) + 1
    full = np.flatnonzero(
        concept[gs.prov_node] & np.isin(gs.prov_doc, docs[unique_sorted(doc_hit)])
    )
    full_docs, full_groups = _doc_groups(gs, full)
    group_of = {int(x): g for x, g in zip(full_docs.tolist(), full_groups, strict=True)}
    for want, d in zip(np.split(pair_hit, cuts), np.split(doc_hit, cuts), strict=True):
        want = want[~found[want]]
        if not len(want):
            continue
        doc = int(docs[d[0]])
        group = group_of[doc]
        local = _document_pairs(gs.prov_node[group], gs.labels, ss.doc_contents[seqs[doc]], window)
        x, y = end_of[local[:, 0]], end_of[local[:, 1]]
        among = (x >= 0) & (y >= 0)  # (pairs of two of the ends only)
        wired = set((np.minimum(x, y)[among] * width + np.maximum(x, y)[among]).tolist())
        keys = (pairs[want, 0] * width + pairs[want, 1]).tolist()
        found[[p for p, key in zip(want.tolist(), keys, strict=True) if key in wired]] = True


@dataclass
class ForgetPlan:
    """What forgetting documents withdraws, decided once for every state they touch (one
    colony's, or every shard's of a distributed colony): see :func:`plan_forget`.

    Pairs are named by slot: pair ``keys[s]`` is ``i * len(ends) + j`` for the NodeIds
    ``ends[i] < ends[j]``.

    Attributes:
        documents: the ids to forget (checked; first occurrences, in order).
        ends: sorted NodeIds of the nodes of the pairs the forgotten documents wired.
        keys: the sorted keys of those pairs.
        slots: the pair of each forgotten presentation of a pair (one row each).
        ticks: the tick of that presentation (the largest tick where it is not known).
        supported: per pair, whether a remaining document's presentation wired its edge
            (at or after the edge's creation); only known for edges that the forgotten
            presentations do not remove anyway (False for the others).
        drop: sorted NodeIds of the nodes presented from a forgotten document and from no
            other document.
    """

    documents: list[int]
    ends: U64Array
    keys: IntArray
    slots: IntArray
    ticks: IntArray
    supported: npt.NDArray[np.bool_]
    drop: U64Array

    def edge_slots(self, ida: U64Array, idb: U64Array) -> IntArray:
        """The pair slot of each edge given by its ends' NodeIds (-1: not a pair of the
        plan)."""
        out = np.full(len(ida), -1, dtype=np.int64)
        n = len(self.ends)
        if not n or not len(ida):
            return out
        lo, hi = np.minimum(ida, idb), np.maximum(ida, idb)
        i = np.minimum(np.searchsorted(self.ends, lo), n - 1)
        j = np.minimum(np.searchsorted(self.ends, hi), n - 1)
        cand = np.flatnonzero((self.ends[i] == lo) & (self.ends[j] == hi))
        if not len(cand) or not len(self.keys):
            return out
        key = i[cand].astype(np.int64) * n + j[cand]
        s = np.minimum(np.searchsorted(self.keys, key), len(self.keys) - 1)
        hit = self.keys[s] == key
        out[cand[hit]] = s[hit]
        return out

    def withdrawn(self, slots: IntArray, created: IntArray) -> IntArray:
        """How many forgotten presentations count for each edge (by slot, with its
        creation tick): those at or after the edge's creation."""
        if not len(slots):
            return np.zeros(0, dtype=np.int64)
        edge_tick = np.full(len(self.keys), _UNKNOWN_TICK, dtype=np.int64)
        edge_tick[slots] = created
        here = np.zeros(len(self.keys), dtype=np.bool_)
        here[slots] = True
        counted = here[self.slots] & (self.ticks >= edge_tick[self.slots])
        out: IntArray = np.bincount(self.slots[counted], minlength=len(self.keys))[slots]
        return out

    def edges_needing_support(self, gs: GraphState) -> tuple[IntArray, IntArray]:
        """The edges of ``gs`` that keep co-activations once the forgotten presentations
        are withdrawn (so they stay only where a remaining document supports them): their
        slots in this plan and their creation ticks."""
        slot = self.edge_slots(gs.ids[gs.edge_a], gs.ids[gs.edge_b])
        matched = np.flatnonzero(slot >= 0)
        s = slot[matched]
        created = gs.edge_created[matched].astype(np.int64)
        withdrawn = self.withdrawn(s, created)
        ask = (withdrawn > 0) & (gs.co_activations[matched] - withdrawn > 0)
        return s[ask], created[ask]


def plan_forget(states: Sequence[ColonyState], doc_ids: Iterable[object]) -> ForgetPlan:
    """Decide what forgetting ``doc_ids`` withdraws from a colony made of ``states`` (one
    colony's state, or every shard's state of a distributed colony, each edge stored on one
    of them).

    Each document's pairs and presentation tick are taken from the state that holds it; a
    node goes when some state records it presented from a forgotten document and no state
    records it presented from another one; an edge the forgotten documents wired is
    supported when a remaining document, on whichever state holds it, wired it at or after
    the edge's creation. Pass the plan to :func:`forget_documents` for each state, so that
    every shard removes the same nodes and edges.

    Raises:
        DocumentError: an id that is not a whole number in [0, 2**64).

    Example:
        >>> from phago import Colony, Digester, Position
        >>> c = Colony(seed=0)
        >>> a = c.ingest_document("a", "alpha beta gamma", Position(0, 0))
        >>> b = c.ingest_document("b", "alpha beta delta", Position(1, 0))
        >>> _ = c.spawn(Digester(Position(0, 0))); _ = c.run_until_digested(50)
        >>> st = capture(c)
        >>> plan = plan_forget([st], [b])
        >>> [st.graph.labels[int(i)] for i in np.flatnonzero(np.isin(st.graph.ids, plan.drop))]
        ['delta']
    """
    wanted = checked_document_ids(doc_ids)
    forgotten = np.array(wanted, dtype=np.uint64)
    found = [_pair_rows(st, forgotten) for st in states]
    pairs = np.concatenate([p for p, _ in found]) if found else np.zeros((0, 2), np.uint64)
    ticks = np.concatenate([t for _, t in found]) if found else np.zeros(0, np.int64)
    ends = unique_sorted(pairs.ravel()).astype(np.uint64)
    n = len(ends)
    fkey = np.searchsorted(ends, pairs[:, 0]).astype(np.int64) * n + np.searchsorted(
        ends, pairs[:, 1]
    )
    keys = unique_sorted(fkey).astype(np.int64)
    slots = np.searchsorted(keys, fkey).astype(np.int64)
    supported = np.zeros(len(keys), dtype=np.bool_)
    plan = ForgetPlan(wanted, ends, keys, slots, ticks, supported, np.zeros(0, dtype=np.uint64))
    # the edges the forgotten presentations leave with co-activations: are they supported?
    since = np.full(len(keys), np.iinfo(np.int64).min, dtype=np.int64)
    needed = np.zeros(len(keys), dtype=np.bool_)
    for st in states:
        s, created = plan.edges_needing_support(st.graph)
        needed[s] = True
        since[s] = np.maximum(since[s], created)
    if needed.any():
        done = ~needed  # (pairs not asked about count as found: nothing to look for)
        pair_ends = np.stack([keys // n, keys % n], axis=1)
        for st in states:
            _supported_pairs(st, forgotten, ends, pair_ends, since, done)
        supported[needed & done] = True
    had: list[U64Array] = []
    still: list[U64Array] = []
    for st in states:
        gs = st.graph
        f = np.isin(gs.prov_doc, forgotten)
        had_here = np.zeros(gs.node_count, dtype=np.bool_)
        had_here[gs.prov_node[f]] = True
        still_here = np.zeros(gs.node_count, dtype=np.bool_)
        still_here[gs.prov_node[~f]] = True
        had.append(gs.ids[had_here])
        still.append(gs.ids[still_here])
    if had:
        plan.drop = np.setdiff1d(np.concatenate(had), np.concatenate(still)).astype(np.uint64)
    return plan


PairCounts = dict[tuple[int, int], int]
"""Co-activations a document set wired: ``(smaller NodeId, larger NodeId) -> count``."""


def presentation_pairs(state: ColonyState, doc_ids: Iterable[int]) -> PairCounts:
    """The concept pairs the presentations of ``doc_ids`` wired, by NodeId, with multiplicity.

    Computed from the provenance of the documents held by ``state`` (every pair of the
    concepts a document presented, or the windowed pairs recomputed from its text when the
    colony's ``wiring_window`` is set). Documents ``state`` does not hold contribute nothing.

    Raises:
        DocumentError: an id that is not a whole number in [0, 2**64).

    Example:
        >>> from phago import Colony, Digester, Position
        >>> c = Colony(seed=0)
        >>> d = c.ingest_document("a", "alpha beta gamma", Position(0, 0))
        >>> _ = c.spawn(Digester(Position(0, 0))); _ = c.run_until_digested(50)
        >>> sorted(presentation_pairs(capture(c), [d]).values())
        [1, 1, 1]
    """
    pairs, _ = _pair_rows(state, np.array(checked_document_ids(doc_ids), dtype=np.uint64))
    out: PairCounts = {}
    for a, b in pairs.tolist():
        out[(a, b)] = out.get((a, b), 0) + 1
    return out


def forget_documents(
    state: ColonyState,
    doc_ids: Iterable[object],
    plan: ForgetPlan | None = None,
    owned: npt.NDArray[np.bool_] | None = None,
) -> ForgetReport:
    """Remove documents from a state and withdraw their contribution to the graph (in place).

    The rule (deterministic; everything else in the graph is left exactly as it was):

    * the document leaves the substrate (with its Input signal); later documents keep their
      order; agents holding its text drop it and go back to seeking;
    * its provenance pairs are removed and each node it presented loses one access count
      per presentation;
    * a node presented from the forgotten documents and from no remaining document is
      removed, with every edge it has, whatever query reinforcement or other wiring those
      edges got; node indices are compacted;
    * every other edge its presentation wired (all pairs of its concepts, or the windowed
      pairs when ``wiring_window`` is set, recomputed from the document's text; see
      :func:`presentation_pairs`) loses one co-activation and keeps the share
      ``(c - 1) / c`` of its current weight, where ``c`` is its co-activation count; it is
      removed when it is left with no co-activation, or when no remaining document's
      presentation wired it (co-activations from query reinforcement alone keep no edge);
    * a presentation counts only for the edge it wired: an edge the decay pruned after the
      presentation and that was created again later (its creation tick is after the
      presentation's tick) keeps everything; likewise a remaining document's presentation
      supports an edge only if it came at or after the edge's creation. Presentations
      whose tick is not known (stores saved by a phago that did not keep it) count for
      every edge.

    Agents' learnt vocabularies, traces and fitness records are not rewound.

    Args:
        state: the colony state to edit.
        doc_ids: ids of the documents to forget; ids this state does not hold are reported
            as unknown (their provenance is still withdrawn: a shard of a distributed colony
            holds edges and provenance of documents stored elsewhere).
        plan: what :func:`plan_forget` decided for every state the documents touch (every
            shard of a distributed colony); None plans for this state alone.
        owned: which of the state's nodes it owns (a shard's); None: all of them. A copy of
            a node owned elsewhere also goes when this state no longer records it presented
            and holds no edge of it.

    Returns:
        A :class:`ForgetReport`.

    Raises:
        DocumentError: an id that is not a whole number in [0, 2**64).

    Example:
        >>> from phago import Colony, Digester, Position
        >>> c = Colony(seed=0)
        >>> a = c.ingest_document("a", "alpha beta gamma", Position(0, 0))
        >>> b = c.ingest_document("b", "alpha beta delta", Position(1, 0))
        >>> _ = c.spawn(Digester(Position(0, 0)))
        >>> _ = c.run_until_digested(50)
        >>> st = capture(c)
        >>> r = forget_documents(st, [b])
        >>> sorted(st.graph.labels), r.nodes_removed
        (['alpha', 'beta', 'gamma'], 1)
    """
    report = ForgetReport()
    ss, gs = state.substrate, state.graph
    wanted = checked_document_ids(doc_ids)
    if plan is None:
        plan = plan_forget([state], wanted)
    known = {int(x): i for i, x in enumerate(ss.doc_ids.tolist())}
    remove_seq = sorted(known[d] for d in wanted if d in known)
    report.unknown = [d for d in wanted if d not in known]
    report.documents_removed = [int(ss.doc_ids[i]) for i in remove_seq]
    forgotten = np.array(wanted, dtype=np.uint64)

    # ---- graph: withdraw presentations and co-activations
    n = gs.node_count
    forgotten_mask = np.isin(gs.prov_doc, forgotten)
    access = gs.access.copy()
    np.subtract.at(access, gs.prov_node[forgotten_mask], 1)
    access = np.maximum(access, 0)
    w = gs.weight.copy()
    co = gs.co_activations.copy()
    edge_keep = np.ones(gs.edge_count, dtype=np.bool_)
    slot = plan.edge_slots(gs.ids[gs.edge_a], gs.ids[gs.edge_b])
    matched = np.flatnonzero(slot >= 0)
    if len(matched):
        s = slot[matched]
        # a presentation counts for the edge it wired: not for one created after it
        withdrawn = plan.withdrawn(s, gs.edge_created[matched].astype(np.int64))
        left = co[matched] - withdrawn
        supported = plan.supported[s]
        touched = withdrawn > 0
        remove = touched & ((left <= 0) | ~supported)
        weaken = touched & ~remove
        edge_keep[matched[remove]] = False
        k = matched[weaken]
        w[k] = w[k] * left[weaken] / co[k]
        co[k] = left[weaken]
        report.edges_removed = int(remove.sum())
        report.edges_weakened = int(weaken.sum())

    # ---- nodes presented only by forgotten documents (decided by the plan)
    kept_prov = ~forgotten_mask
    drop_node = np.isin(gs.ids, plan.drop)
    if gs.edge_count:
        alive_ends = ~drop_node[gs.edge_a] & ~drop_node[gs.edge_b]
        report.edges_removed += int((edge_keep & ~alive_ends).sum())
        edge_keep &= alive_ends
    if owned is not None and not bool(np.all(owned)):
        # copies of nodes owned elsewhere that this state no longer needs
        had_forgotten = np.zeros(n, dtype=np.bool_)
        had_forgotten[gs.prov_node[forgotten_mask]] = True
        still = np.zeros(n, dtype=np.bool_)
        still[gs.prov_node[kept_prov]] = True
        has_edge = np.zeros(n, dtype=np.bool_)
        has_edge[gs.edge_a[edge_keep]] = True
        has_edge[gs.edge_b[edge_keep]] = True
        drop_node |= ~np.asarray(owned, dtype=np.bool_) & had_forgotten & ~still & ~has_edge
    report.nodes_removed = int(drop_node.sum())
    keep_node = ~drop_node
    report.kept_nodes = np.flatnonzero(keep_node).astype(np.int64)
    new_index = np.cumsum(keep_node) - 1
    kept_prov &= keep_node[gs.prov_node]
    gs.ids = gs.ids[keep_node]
    gs.labels = [lab for lab, k in zip(gs.labels, keep_node.tolist(), strict=True) if k]
    gs.types = gs.types[keep_node]
    gs.access = access[keep_node]
    gs.created = gs.created[keep_node]
    gs.pos = gs.pos[keep_node]
    gs.prov_node = new_index[gs.prov_node[kept_prov]].astype(np.int64)
    gs.prov_doc = gs.prov_doc[kept_prov]
    if gs.prov_tick is not None:
        gs.prov_tick = np.asarray(gs.prov_tick, dtype=np.int64)[kept_prov]
    gs.edge_a = new_index[gs.edge_a[edge_keep]].astype(np.int64)
    gs.edge_b = new_index[gs.edge_b[edge_keep]].astype(np.int64)
    gs.weight = w[edge_keep]
    gs.co_activations = co[edge_keep]
    gs.edge_created = gs.edge_created[edge_keep]
    gs.edge_last = gs.edge_last[edge_keep]
    gs.grew_since_cap = True

    # ---- substrate: documents and their signals
    if remove_seq:
        keep_doc = np.ones(ss.document_count, dtype=np.bool_)
        keep_doc[remove_seq] = False
        doc_new = np.cumsum(keep_doc) - 1
        ss.doc_ids = ss.doc_ids[keep_doc]
        ss.doc_titles = [t for t, k in zip(ss.doc_titles, keep_doc.tolist(), strict=True) if k]
        ss.doc_contents = [t for t, k in zip(ss.doc_contents, keep_doc.tolist(), strict=True) if k]
        ss.doc_pos = ss.doc_pos[keep_doc]
        ss.doc_digested = ss.doc_digested[keep_doc]
        ref = ss.signals["ref"]
        tied = ref >= 0
        sig_keep = np.ones(len(ref), dtype=np.bool_)
        sig_keep[tied] = keep_doc[ref[tied]]
        sigs = {k: v[sig_keep] for k, v in ss.signals.items()}
        r = sigs["ref"]
        sigs["ref"] = np.where(r >= 0, doc_new[np.maximum(r, 0)], -1).astype(np.int64)
        ss.signals = sigs

    # ---- agents: drop held text of forgotten documents; keep seen-node cursors consistent
    gone_ids = set(wanted)
    for a in state.agents:
        st = a.state
        held = (st.get("target"), st.get("current_document"))
        if any(h is not None and int(h) in gone_ids for h in held):
            for key in ("target", "current_document", "engulfed", "text_for_pairs"):
                if key in st:
                    st[key] = None
            if "state" in st:
                st["state"] = "seeking"
        seen_nodes = st.get("seen_nodes")
        if isinstance(seen_nodes, int) and seen_nodes > 0 and report.nodes_removed:
            st["seen_nodes"] = int(keep_node[: min(seen_nodes, n)].sum())
    return report


def find_document(state: ColonyState, doc_id: int) -> int:
    """Sequence number of a document in a state; raises :class:`~phago.errors.UnknownDocument`.

    Example:
        >>> from phago import Colony, Position
        >>> c = Colony()
        >>> d = c.ingest_document("t", "alpha", Position(0, 0))
        >>> find_document(capture(c), d)
        0
    """
    hits = np.flatnonzero(state.substrate.doc_ids == np.uint64(int(doc_id)))
    if len(hits) == 0:
        raise UnknownDocument(f"unknown document id {doc_id}")
    return int(hits[0])
