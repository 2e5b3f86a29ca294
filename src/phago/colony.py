"""The colony: agents + substrate + Hebbian graph, advanced in explicit phases.

One tick is exactly :meth:`Colony.sense`, :meth:`Colony.act`, :meth:`Colony.decay`,
:meth:`Colony.advance`, in that order (REFERENCE.md §4.5, with the defects of §8 fixed):

* **sense**: every agent decides from the same pre-tick state (read-only).
* **act**: actions are applied in agent order; then boundary dissolution and capability
  transfer; then deaths.
* **decay**: signals, traces and edges decay; the degree cap is applied; fitness is recorded.
* **advance**: the tick counter moves on and ``TickComplete`` is reported.

Everything random comes from one seeded generator, and every iteration order is an insertion
order, so the same seed and inputs give the same graph in every run and every process.

Example:
    >>> from phago import Colony, Digester, Position
    >>> colony = Colony(seed=7)
    >>> d = colony.ingest_document("Cells", "cell membrane protein", Position(0, 0))
    >>> colony.ingest_document("Cells", "cell membrane protein", Position(0, 0)) == d
    True
    >>> _ = colony.spawn(Digester(Position(0.5, 0)))
    >>> ticks = colony.run_until_digested(20)
    >>> colony.stats().documents_digested, colony.graph.node_count, colony.graph.edge_count
    (1, 3, 3)
"""

from __future__ import annotations

import functools
import json
import os
import time
import weakref
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import numpy as np

from phago._gc import cyclic_gc_paused
from phago._interrupts import TickBoundaryInterrupt
from phago.agents.actions import ACTION_TYPES, check_actions, checked_actions, is_phagos_own
from phago.agents.base import Agent
from phago.agents.fitness import FitnessTracker
from phago.agents.fitness_terms import FitnessRecorder
from phago.config import ColonyConfig, colony_config, real_number, whole_number
from phago.errors import (
    ConfigError,
    DistributedError,
    DocumentError,
    EmptyDocument,
    InvalidAgent,
    PhaseOrderError,
    UnknownAgent,
)
from phago.events import (
    CapabilityExported,
    CapabilityIntegrated,
    ColonyEvent,
    Deposited,
    Died,
    Dissolved,
    Engulfed,
    Moved,
    Presented,
    Spawned,
    Symbiosis,
    TickComplete,
    Wired,
)
from phago.graph import TRIU_CACHED_UP_TO, HebbianGraph, PrunedEdges, _triu
from phago.ids import AgentId, DocumentId, agent_id
from phago.substrate import Substrate
from phago.text import term_bound, tokenize
from phago.timeline import TIMELINE_TICKS, TickRecord, TimelineBuffer
from phago.types import (
    AgentAction,
    Apoptose,
    DeathCause,
    DeathSignal,
    Deposit,
    Document,
    Emit,
    EngulfDocument,
    ExportCapability,
    FragmentPresentation,
    Gradient,
    Idle,
    Move,
    NodeType,
    Position,
    PresentFragments,
    Signal,
    SignalType,
    SymbioseWith,
    SymbiosisEval,
    Trace,
    TraceType,
    WireNodes,
    concept_labels,
    placed_position,
)

if TYPE_CHECKING:
    from phago.document_batch import DocumentBatch, DocumentInput
    from phago.query.term_counts import SavedTermCounts
    from phago.state import ForgetReport

__all__ = [
    "MAX_INPUT_INTENSITY",
    "Colony",
    "ColonySnapshot",
    "ColonyStats",
    "PresentationHook",
    "SpawnPolicy",
    "check_document",
    "tick_count",
]

_CONCEPT = list(NodeType).index(NodeType.CONCEPT)

MAX_INPUT_INTENSITY = 1e6
"""The strongest input signal :meth:`Colony.emit_input_signal` emits (a document's own
signal is 1): an agent's gradient sums intensities divided by distances down to 0.001, so
intensities near the float range would overflow it (a NaN heading)."""

# actions whose application neither reads nor changes the graph: presentations before and
# after them can be applied together (see Colony.act)
_GRAPH_FREE_ACTIONS = frozenset(
    {Move, EngulfDocument, Deposit, Emit, Idle, Apoptose, ExportCapability}
)

_CLIQUES: dict[int, np.ndarray] = {}


def _clique_pairs(k: int) -> np.ndarray:
    """Every pair ``i < j`` of ``k`` positions as a ``(m, 2)`` array (cached, read-only)."""
    got = _CLIQUES.get(k)
    if got is None:
        got = np.stack(_triu(k), axis=1)
        got.flags.writeable = False
        if k <= TRIU_CACHED_UP_TO:  # (bounded: see phago.graph.TRIU_CACHED_UP_TO)
            _CLIQUES[k] = got
    return got


class PresentationHook(Protocol):
    """Intercepts presentations and wiring (the distributed layer routes them to owners).

    ``on_present`` is called after nodes were created or reinforced locally; ``wire`` replaces
    local wiring of a presentation's pairs (``pairs`` None: every pair of ``idx``) and returns
    the number of pairs wired.
    """

    def on_present(
        self,
        idx: np.ndarray,
        node_type: NodeType,
        position: Position,
        tick: int,
        document: DocumentId | None,
    ) -> None: ...

    def wire(
        self,
        idx: np.ndarray,
        pairs: np.ndarray | None,
        tick: int,
        tentative: float | None,
        increment: float | None,
    ) -> int: ...


class SpawnPolicy(Protocol):
    """Decides what (if anything) replaces an agent that died (see :mod:`phago.agents.spawn`)."""

    def on_death(self, colony: Colony, dead: Agent) -> Agent | None:
        """An agent to spawn in place of ``dead``, or None."""
        ...


@dataclass(frozen=True, slots=True)
class ColonyStats:
    """Counts describing a colony (the reference's fields, and ``agents_retired``: agents
    removed with :meth:`Colony.retire_agents`, so that ``total_spawned == agents_alive +
    agents_died + agents_retired``)."""

    tick: int
    agents_alive: int
    agents_died: int
    total_spawned: int
    agents_retired: int
    graph_nodes: int
    graph_edges: int
    total_signals: int
    documents_total: int
    documents_digested: int

    def to_dict(self) -> dict[str, int]:
        """The stats as a plain dict."""
        return {f: getattr(self, f) for f in self.__dataclass_fields__}


@dataclass(frozen=True, slots=True)
class ColonySnapshot:
    """A JSON-friendly picture of the colony at one tick."""

    tick: int
    agents: list[dict[str, Any]] = field(default_factory=list)
    nodes: list[dict[str, Any]] = field(default_factory=list)
    edges: list[dict[str, Any]] = field(default_factory=list)
    stats: ColonyStats | None = None


def tick_count(value: int, name: str = "ticks") -> int:
    """``value`` as a number of ticks to run: a whole number at least 0.

    Raises:
        ConfigError: a negative number, or not a whole number (the message names ``name``).

    Example:
        >>> tick_count(5.0)
        5
        >>> tick_count(-1)
        Traceback (most recent call last):
        ...
        phago.errors.ConfigError: ticks must be a whole number >= 0, got -1
    """
    return whole_number(value, name, 0)


def checked_document_id(doc_id: object) -> DocumentId:
    """``doc_id`` as a :data:`~phago.ids.DocumentId`, if it is a whole number that fits in
    64 unsigned bits (a NumPy integer will do; a bool or a float will not).

    Raises:
        DocumentError: anything else.

    Example:
        >>> checked_document_id(42)
        42
        >>> checked_document_id(-1)
        Traceback (most recent call last):
        ...
        phago.errors.DocumentError: doc_id must be an integer in [0, 2**64), got -1
    """
    if isinstance(doc_id, bool | float) or not isinstance(doc_id, int | np.integer):
        raise DocumentError(f"doc_id must be an integer in [0, 2**64), got {doc_id!r}")
    value = int(doc_id)
    if not 0 <= value < 2**64:
        raise DocumentError(f"doc_id must be an integer in [0, 2**64), got {value}")
    return DocumentId(value)


def check_keyword_counts(titles: Sequence[str], contents: Sequence[str], limit: int | None) -> None:
    """Refuse a document with more than ``limit`` distinct keywords (a config's
    :attr:`~phago.config.ColonyConfig.clique_keyword_limit`; None: no limit): every pair
    of them would be wired, and a few thousand make millions of edges at once.

    Only documents that could hold more (:func:`phago.text.term_bound`: a keyword takes at
    least two characters with the space after it, one in Chinese or Japanese) are tokenised
    to count.

    Raises:
        DocumentError: the first such document, with its count and what to do instead.

    Example:
        >>> check_keyword_counts(["ok"], ["alpha beta gamma"], limit=3)
        >>> check_keyword_counts(["wide"], ["alpha beta gamma delta"], limit=3)
        Traceback (most recent call last):
        ...
        phago.errors.DocumentError: document 'wide' has 4 distinct keywords; ...
    """
    if limit is None:
        return
    for title, content in zip(titles, contents, strict=True):
        if len(content) <= limit or term_bound(content) <= limit:
            continue
        n = len(set(tokenize(content)))
        if n > limit:
            raise DocumentError(
                f"document {title!r} has {n:,} distinct keywords; wiring every pair would "
                f"make about {n * (n - 1) // 2:,} edges at once (max_clique_keywords="
                f"{limit}): split it, or bound the wiring with ColonyConfig.for_large_corpora() "
                "(the command line's --large), max_fragments or wiring_window"
            )


def check_document(title: str, content: object, max_chars: int) -> None:
    """Raise the typed error a colony would raise for this document's content, if any.

    What :meth:`Colony.ingest_document` checks before storing anything; a sharded colony
    checks a whole batch with it before any shard stores a document of it.

    Raises:
        EmptyDocument: empty or whitespace-only content.
        DocumentError: content that is not text, binary (NUL bytes) or longer than
            ``max_chars`` characters, a title that is not text, or either holding lone
            surrogates (not encodable as UTF-8).

    Example:
        >>> check_document("ok", "cells divide", max_chars=100)
        >>> check_document("blank", "  ", max_chars=100)
        Traceback (most recent call last):
        ...
        phago.errors.EmptyDocument: document 'blank' is empty
    """
    if not isinstance(content, str):
        raise DocumentError(
            f"document {title!r}: content must be text, got {type(content).__name__}"
        )
    if not content.strip():
        raise EmptyDocument(f"document {title!r} is empty")
    if "\x00" in content:
        raise DocumentError(f"document {title!r} looks binary (contains NUL bytes)")
    if len(content) > max_chars:
        raise DocumentError(
            f"document {title!r} has {len(content)} characters, more than "
            f"max_document_chars={max_chars}; split it first"
        )
    if not isinstance(title, str):
        raise DocumentError(f"document {title!r}: title must be text, got {type(title).__name__}")
    for what, text in (("content", content), ("title", title)):
        if not text.isascii():  # ids hash the UTF-8 bytes: lone surrogates have none
            try:
                text.encode("utf-8")
            except UnicodeEncodeError as exc:
                raise DocumentError(
                    f"document {title!r}: {what} is not valid Unicode text "
                    f"({exc.reason} at character {exc.start})"
                ) from exc


_R = TypeVar("_R")


def _phase(previous: str, name: str) -> Callable[[Callable[[Colony], _R]], Callable[[Colony], _R]]:
    """A colony phase, run only after ``previous``; one that raises leaves the colony
    part-way through a tick, and every later phase says so (instead of a bare
    out-of-order error)."""

    def wrap(method: Callable[[Colony], _R]) -> Callable[[Colony], _R]:
        @functools.wraps(method)
        def run(self: Colony) -> _R:
            self._expect(previous, name)
            try:
                return method(self)
            except BaseException as exc:
                self._phase_raised = f"{type(exc).__name__}: {exc}"[:300]
                raise

        return run

    return wrap


def check_digester_options(options: dict[str, Any]) -> None:
    """Refuse, as :class:`ConfigError`, keyword arguments a
    :class:`~phago.agents.digester.Digester` does not take (before any is spawned).

    Example:
        >>> check_digester_options({"max_idle": 5})
        >>> check_digester_options({"wings": 2})  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        phago.errors.ConfigError: bad digester options ['wings']: ...
    """
    from phago.agents.digester import Digester

    try:
        Digester(Position(0.0, 0.0), seed=0, **options)
    except TypeError as exc:
        raise ConfigError(f"bad digester options {sorted(options)}: {exc}") from exc


def agent_id_list(agent_ids: object) -> list[Any]:
    """``agent_ids`` as a list, or :class:`UnknownAgent` where it is no collection of ids (a
    single id, text, None).

    Example:
        >>> agent_id_list((3, 4)), agent_id_list(iter([5]))
        ([3, 4], [5])
    """
    if isinstance(agent_ids, str | bytes) or not isinstance(agent_ids, Iterable):
        raise UnknownAgent(f"agent ids must be a collection of ids, got {agent_ids!r}")
    return list(agent_ids)


_SENSING = (
    "agents decide from the colony as it stands during Sense, and change it only through "
    "the actions sense() returns (WireNodes, PresentFragments, ...), which Act applies"
)

_HOMES: weakref.WeakKeyDictionary[Agent, weakref.ref[Colony]] = weakref.WeakKeyDictionary()
"""The colony each agent was last spawned into (neither is kept alive by this), so that
:meth:`Colony.check_spawnable` refuses an agent still living in another colony."""


class Colony:
    """A population of agents digesting documents into a Hebbian knowledge graph.

    Args:
        config: rates and bounds; None uses the reference's defaults.
        seed: seed of every random choice, a whole number >= 0; None means 0 (runs are
            reproducible by default).

    Attributes:
        agents: the live agents, in the order they act.
        total_spawned: agents ever spawned.
        total_died: agents that ever died (exact; their records are bounded, below).
        total_retired: agents removed with :meth:`retire_agents`.
        death_signals: the death signals of the most recent deaths, oldest first: at most
            ``config.death_record_limit`` (the fitness tracker keeps the records of as
            many recently dead agents, besides every live one's).

    Raises:
        ConfigError: a seed that is negative or not a whole number, or a config that is
            not a :class:`~phago.config.ColonyConfig` (nor None).
    """

    def __init__(self, config: ColonyConfig | None = None, seed: int | None = None) -> None:
        self.config = colony_config(config)
        self.seed = 0 if seed is None else whole_number(seed, "seed", 0)
        self.rng = np.random.default_rng(self.seed)
        self.substrate = Substrate()
        self._graph = HebbianGraph(self.config.tentative_weight, self.config.reinforcement)
        self.agents: list[Agent] = []
        self.total_spawned = 0
        self.total_died = 0
        self.total_retired = 0
        self.death_signals: list[DeathSignal] = []
        self.fitness = FitnessTracker()
        self._history: deque[tuple[int, list[ColonyEvent]]] = deque(
            maxlen=max(self.config.event_history_limit, 1)
        )
        self._timeline = TimelineBuffer(TIMELINE_TICKS)
        self._pending: list[AgentAction] | None = None
        self._events: list[ColonyEvent] = []
        self._dying: dict[int, DeathCause] = {}
        # agents spawned after this tick's Sense (by a spawn policy in Act, say): they sense
        # first next tick, so this tick is not one of their ticks alive (see AgentFitness)
        self._unsensed: set[AgentId] = set()
        # the documents' term counts the store this colony was loaded from kept (its query
        # index starts from them; phago.query.term_counts)
        self.saved_term_counts: SavedTermCounts | None = None
        self._moving_to: dict[DocumentId, AgentId] = {}  # this Act phase: document -> mover
        self._phase = "advance"  # the last phase run
        self._phase_raised: str | None = None  # what the last phase raised, if it did
        self._layout_next = 0
        self.presentation_hook: PresentationHook | None = None
        self.spawn_policy: SpawnPolicy | None = None
        self.fitness_recorder: FitnessRecorder | None = FitnessRecorder()
        self.view = _AgentView(self)

    @property
    def current_tick(self) -> int:
        """The substrate tick (ticks completed)."""
        return self.substrate.tick

    @property
    def graph(self) -> HebbianGraph:
        """The Hebbian knowledge graph."""
        return self._graph

    # ------------------------------------------------------------------ input

    def ingest_document(
        self,
        title: str,
        content: str,
        position: Position | tuple[float, float] | None = None,
        *,
        doc_id: DocumentId | None = None,
    ) -> DocumentId:
        """Store a document and emit its Input signal.

        Args:
            title: the document's title.
            content: its text (not empty, no NUL bytes, at most ``max_document_chars``).
            position: where it lies; None places it on the next free spot of a 5-unit grid.
            doc_id: its id (an integer in [0, 2**64)); None derives a stable id from title
                and content.

        Returns:
            The document id. Ingesting the same document again changes nothing and returns
            the same id. A document without any concept (only emoji or stopwords:
            :func:`phago.text.tokenize` finds nothing) is accepted; it is digested and adds
            nothing to the graph (``phago ingest`` warns of such a file).

        Raises:
            EmptyDocument: empty or whitespace-only content.
            DocumentError: binary or oversized content, a ``doc_id`` that is not an integer
                in range, or one already given to a different document.
            InvalidPosition: a position that is not two finite numbers, or has ``|x|`` or
                ``|y|`` beyond :data:`~phago.types.POSITION_LIMIT`.
        """
        check_document(title, content, self.config.max_document_chars)
        check_keyword_counts([title], [content], self.config.clique_keyword_limit)
        if doc_id is not None:
            doc_id = checked_document_id(doc_id)
        position = self._next_layout_position() if position is None else placed_position(position)
        return self.substrate.add_document(title, content, position, doc_id)

    def ingest_documents(self, docs: Iterable[DocumentInput]) -> list[DocumentId]:
        """Ingest many documents in one pass; returns their ids in input order.

        Every document is checked first (content and position), so a bad one raises its
        typed error before anything is stored; documents without a position are placed as
        :meth:`ingest_document` places them. About twice as fast as one call per document
        (``benchmarks/ingest_speed.py``).

        Args:
            docs: ``(title, content)``, ``(title, content, position)`` or corpus documents.

        Raises:
            EmptyDocument: empty or whitespace-only content.
            DocumentError: binary or oversized content.
            InvalidPosition: a position that is not two finite numbers, or beyond
                :data:`~phago.types.POSITION_LIMIT`.

        Example:
            >>> c = Colony()
            >>> ids = c.ingest_documents([("a", "cell membrane"), ("b", "gene", (9, 9))])
            >>> [c.substrate.get_document(i).position.x for i in ids]
            [0.0, 9.0]
        """
        from phago.document_batch import DocumentBatch

        batch = DocumentBatch.of(docs, self.config.max_document_chars, self._next_layout_xy)
        self.ingest_batch(batch)
        return batch.ids.tolist()  # type: ignore[no-any-return]

    def ingest_batch(self, batch: DocumentBatch) -> int:
        """Store a batch of documents (in its order) and emit their Input signals.

        What :meth:`ingest_document` does for each of them, checked first for all of them
        (nothing is stored when one is bad; a batch :meth:`DocumentBatch.of` made was checked
        there) and stored in one pass. A document already
        stored, or twice in the batch, is stored once.

        Args:
            batch: the documents, with their positions and ids.

        Returns:
            How many documents were new.

        Raises:
            EmptyDocument: empty or whitespace-only content.
            DocumentError: binary or oversized content.
            InvalidPosition: a position that is not finite, or beyond
                :data:`~phago.types.POSITION_LIMIT`.

        Example:
            >>> from phago.document_batch import DocumentBatch
            >>> c = Colony()
            >>> c.ingest_batch(DocumentBatch.of([("a", "cell membrane", (0, 0))]))
            1
            >>> c.substrate.document_count
            1
        """
        checked = batch.checked_chars
        if checked is None or checked > self.config.max_document_chars:
            self._check_batch(batch)
        limit = self.config.clique_keyword_limit
        if not batch.keywords_checked_within(limit):  # (a sharded ingest's driver counted)
            check_keyword_counts(batch.titles, batch.contents, limit)
        # documents hold no cycles: moved to the collector's oldest generation as they are
        # (walked again only by a full collection), not walked by the young ones' at once
        # (a third of a shard's time storing W3's 300k documents)
        with cyclic_gc_paused(to_oldest=True):
            return self.substrate.add_documents(batch.titles, batch.contents, batch.xy, batch.ids)

    def _check_batch(self, batch: DocumentBatch) -> None:
        """What :func:`checked_columns` checks, for a batch built without it."""
        from phago.document_batch import check_positions

        limit = self.config.max_document_chars
        for title, content in zip(batch.titles, batch.contents, strict=True):
            check_document(title, content, limit)
        check_positions(batch.titles, batch.xy)

    def _next_layout_position(self) -> Position:
        return Position(*self._next_layout_xy())

    def _next_layout_xy(self) -> tuple[float, float]:
        i = self._layout_next
        self._layout_next += 1
        cols = 32
        return 5.0 * (i % cols), 5.0 * (i // cols)

    def emit_input_signal(
        self, position: Position | tuple[float, float], intensity: float = 1.0
    ) -> None:
        """Emit an Input signal at ``position`` (a Position or a pair; from no agent).

        Args:
            position: where; ``|x|`` and ``|y|`` at most :data:`~phago.types.POSITION_LIMIT`.
            intensity: how strongly it calls agents: a number in (0, 1e6] (a document's own
                signal is 1). It decays each tick; a signal of intensity 0 would be gone
                before any agent sensed it, and the pull of one near the float range would
                overflow agents' gradients.

        Raises:
            InvalidPosition: a position that is not a pair of finite numbers, or beyond
                :data:`~phago.types.POSITION_LIMIT`.
            ConfigError: an intensity that is not a number in (0, 1e6] (NaN, infinite,
                0 or negative, text); nothing is emitted.

        Example:
            >>> c = Colony()
            >>> c.emit_input_signal((5, 5), intensity=2.0)
            >>> c.substrate.signal_count
            1
            >>> c.emit_input_signal((5, 5), intensity=-1)
            Traceback (most recent call last):
            ...
            phago.errors.ConfigError: intensity must be a number in (0, 1000000], got -1
        """
        at = placed_position(position)
        strength = real_number(intensity, "intensity", 0.0, MAX_INPUT_INTENSITY, low_open=True)
        self.substrate.emit_signal(
            Signal(SignalType.INPUT, strength, at, AgentId(0), self.substrate.tick)
        )

    def spawn(self, agent: Agent) -> AgentId:
        """Add an agent; it acts from the next tick. Returns its id.

        Raises:
            InvalidAgent: ``agent`` is not an :class:`~phago.agents.base.Agent`, or is one
                already in this colony (it would act twice a tick); nothing changes.

        Example:
            >>> from phago import Digester, Position
            >>> colony = Colony(seed=0)
            >>> digester = Digester(Position(0, 0))
            >>> colony.spawn(digester) == digester.id
            True
            >>> colony.spawn(digester)
            Traceback (most recent call last):
            ...
            phago.errors.InvalidAgent: this Digester is already in the colony; spawn a new one
        """
        self.check_spawnable(agent)
        aid = agent_id(self.seed, self.total_spawned)
        agent_seed = int(self.rng.integers(0, 2**63 - 1))
        agent.bind(aid, agent_seed, self.config)
        _HOMES[agent] = weakref.ref(self)
        self.agents.append(agent)
        self.total_spawned += 1
        self.fitness.register(aid, agent.generation)
        if self._phase in ("sense", "act"):  # after this tick's Sense: it senses next tick
            self._unsensed.add(aid)
        self._events.append(Spawned(aid, agent.agent_type))
        return aid

    def check_spawnable(self, agent: object) -> None:
        """Raise the error :meth:`spawn` would raise for ``agent``, if any.

        Raises:
            InvalidAgent: ``agent`` is not an Agent, or is one already in this colony.

        Example:
            >>> Colony().check_spawnable("digester")
            Traceback (most recent call last):
            ...
            phago.errors.InvalidAgent: spawn() takes an Agent, got str
        """
        if not isinstance(agent, Agent):
            raise InvalidAgent(f"spawn() takes an Agent, got {type(agent).__name__}")
        if agent.id and any(a is agent for a in self.agents):  # (an unbound agent's id is 0)
            raise InvalidAgent(
                f"this {type(agent).__name__} is already in the colony; spawn a new one"
            )
        home = _HOMES.get(agent)
        other = home() if home is not None else None
        if other is not None and other is not self and any(a is agent for a in other.agents):
            raise InvalidAgent(
                f"this {type(agent).__name__} lives in another colony (one object cannot act "
                "in two: its id and the text it takes in would be shared); spawn a new one"
            )

    def feed_agent(self, index: int, text: str) -> str:
        """Hand ``text`` straight to agent ``index`` (its place in :attr:`agents`; no
        document).

        Raises:
            UnknownAgent: no agent at ``index``.
        """
        if isinstance(index, bool) or not isinstance(index, int | np.integer):
            raise UnknownAgent(f"an agent index must be an integer, got {index!r}")
        if not 0 <= index < len(self.agents):
            raise UnknownAgent(f"no agent at index {index}: the colony has {len(self.agents)}")
        return self.agents[index].engulf_document(None, text)

    def agent_ids(self, *, digesting: bool | None = None) -> list[AgentId]:
        """The ids of the live agents, in the order they act (as
        :meth:`DistributedColony.agent_ids <phago.distributed.DistributedColony.agent_ids>`).

        Args:
            digesting: None: every live agent; True or False: only those that do, or do
                not, hold undigested text.

        Raises:
            ConfigError: ``digesting`` is not None, True or False.

        Example:
            >>> from phago import Digester, Position
            >>> c = Colony(seed=0)
            >>> aid = c.spawn(Digester(Position(0, 0)))
            >>> c.agent_ids() == [aid], c.agent_ids(digesting=True)
            (True, [])
        """
        if digesting is not None and not isinstance(digesting, bool | np.bool_):
            raise ConfigError(f"digesting must be None, True or False, got {digesting!r}")
        if digesting is None:
            return [a.id for a in self.agents]
        want = bool(digesting)  # (a NumPy bool too)
        return [a.id for a in self.agents if bool(a.is_digesting) == want]

    def spread_positions(self, count: int, offset: int = 0) -> list[Position]:
        """Where ``count`` agents start, spread over the documents: the position of document
        ``(offset + j * step) % n`` for ``j < count``, ``step = max(1, n // count)`` (the
        origin each when there is none).

        Example:
            >>> c = Colony()
            >>> _ = c.ingest_documents([(f"d{i}", "cell", (float(i), 0.0)) for i in range(4)])
            >>> [p.x for p in c.spread_positions(2)], [p.x for p in c.spread_positions(2, 1)]
            ([0.0, 2.0], [1.0, 3.0])
        """
        docs = self.substrate._docs
        n = len(docs)
        if count <= 0:
            return []
        if not n:
            return [Position(0.0, 0.0)] * count
        step = max(1, n // count)
        start = int(offset) % n
        return [docs[(start + j * step) % n].position for j in range(count)]

    def spawn_digesters(self, count: int, *, seed: int | None = None, **options: Any) -> int:
        """Spawn ``count`` digesters spread over the documents; returns the number spawned.

        Digester ``j`` starts beside document ``(s + j·(n // count)) mod n`` (one unit up
        and right). With ``seed`` = ``s``, its generator is seeded ``s + j``, as
        :meth:`DistributedColony.spawn_digesters
        <phago.distributed.DistributedColony.spawn_digesters>` seeds a shard's (the same
        places and seeds as a one-shard distributed colony's). Without ``seed``, ``s`` is the
        number of agents spawned so far and each generator is drawn from the colony's, as
        :meth:`spawn` draws it: the colony's seed decides them, and a second call spawns
        other digesters in other places.

        Args:
            count: how many digesters.
            seed: None, or a whole number >= 0 (see above).
            options: more :class:`~phago.agents.digester.Digester` arguments.

        Raises:
            ConfigError: ``count`` or ``seed`` is not a whole number >= 0, or ``options``
                are not :class:`~phago.agents.digester.Digester`'s (nothing is spawned).

        Example:
            >>> c = Colony(seed=0)
            >>> _ = c.ingest_documents([(f"d{i}", "cell gene", (5.0 * i, 0.0)) for i in range(4)])
            >>> c.spawn_digesters(2, seed=7, max_idle=50)
            2
            >>> [(a.position.x, a.seed, a.max_idle) for a in c.agents]
            [(16.0, 7, 50), (6.0, 8, 50)]
            >>> c.spawn_digesters(2) and [a.position.x for a in c.agents[2:]]
            [11.0, 1.0]
        """
        from phago.agents.digester import Digester

        count = whole_number(count, "count", 0)
        first = None if seed is None else whole_number(seed, "seed", 0)
        check_digester_options(options)
        places = self.spread_positions(count, self.total_spawned if first is None else first)
        with cyclic_gc_paused():
            for j, p in enumerate(places):
                agent_seed = None if first is None else first + j  # (None: the colony's draw)
                self.spawn(Digester(Position(p.x + 1.0, p.y + 1.0), seed=agent_seed, **options))
        return len(places)

    def agent(self, aid: AgentId) -> Agent:
        """The live agent with this id; raises :class:`~phago.errors.UnknownAgent`."""
        for a in self.agents:
            if a.id == aid:
                return a
        raise UnknownAgent(f"no live agent with id {aid}")

    def retire_agents(self, agent_ids: Iterable[AgentId | int]) -> int:
        """Remove live agents from the colony between ticks; returns how many were removed.

        Retiring is not dying: no death signal is left, no ``Died`` event is reported, the
        spawn policy is not asked for a replacement and ``total_died`` does not change
        (``total_retired`` counts them). The agents' fitness records are dropped; the other
        agents keep their order. Text an agent had engulfed and not yet presented leaves
        with it (:attr:`Agent.is_digesting <phago.agents.base.Agent.is_digesting>` says
        whether it holds any). An id given twice is retired once.

        Args:
            agent_ids: ids of live agents (what :meth:`spawn` returned).

        Returns:
            The number of agents removed.

        Raises:
            UnknownAgent: an id that is not a live agent's (nothing is removed).
            PhaseOrderError: the colony is in the middle of a tick.

        Example:
            >>> from phago import Digester, Position
            >>> colony = Colony(seed=0)
            >>> first = colony.spawn(Digester(Position(0, 0)))
            >>> second = colony.spawn(Digester(Position(5, 0)))
            >>> colony.retire_agents([first])
            1
            >>> [a.id for a in colony.agents] == [second], colony.stats().agents_died
            (True, 0)
            >>> colony.retire_agents([first])
            Traceback (most recent call last):
            ...
            phago.errors.UnknownAgent: no live agent with id ...
        """
        raised = getattr(self, "_phase_raised", None)
        if self._phase != "advance" or raised is not None:
            raise PhaseOrderError(
                f"agents can only be retired between ticks, but the last phase was "
                f"{self._phase}()" + (f", which raised ({raised})" if raised else "")
            )
        wanted: dict[int, None] = {}
        for aid in agent_id_list(agent_ids):
            if isinstance(aid, bool) or not isinstance(aid, int | np.integer):
                raise UnknownAgent(f"an agent id must be an integer, got {aid!r}")
            wanted[int(aid)] = None
        live = {int(a.id) for a in self.agents}
        for aid in wanted:
            if aid not in live:
                raise UnknownAgent(f"no live agent with id {aid}")
        if not wanted:
            return 0
        self.agents[:] = [a for a in self.agents if int(a.id) not in wanted]
        for aid in wanted:
            self.fitness.forget(AgentId(aid))
        self.total_retired = getattr(self, "total_retired", 0) + len(wanted)
        return len(wanted)

    def forget_documents(self, doc_ids: Iterable[DocumentId | int]) -> ForgetReport:
        """Forget documents: remove them and withdraw their contribution to the graph, in
        place, between ticks.

        The rule is :func:`phago.state.forget_documents`'s, the one ``phago forget`` and
        :func:`phago.store.forget_in_store` follow: the documents leave the substrate; a
        concept that no remaining document presented goes, with all its edges, whatever
        query reinforcement they got; every other edge a forgotten document wired loses
        that document's co-activation and its share of the weight, and goes when nothing
        is left or when no remaining document wired it. The colony ends up exactly as
        saving it, forgetting in the store and loading it again would leave it, and runs on
        from there as that colony would.

        It works in place, as everything else that changes a colony does (ingesting,
        retiring agents): the colony keeps its agents (the same objects), spawn policy,
        fitness records, event history and hooks; only ``colony.graph`` and
        ``colony.substrate`` become new objects, so read them from the colony again rather
        than through a reference taken before. Agents holding a forgotten document's text
        drop it and seek again; their learnt vocabularies, traces, fitness records and the
        event history are not rewound.

        Args:
            doc_ids: ids of the documents to forget; ids the colony does not hold are
                reported as ``unknown``.

        Returns:
            A :class:`~phago.state.ForgetReport`.

        Raises:
            DocumentError: an id that is not a whole number in [0, 2**64) (nothing changes).
            PhaseOrderError: the colony is in the middle of a tick.
            DistributedError: the colony is a shard of a distributed colony (use
                :meth:`DistributedColony.forget_documents
                <phago.distributed.colony.DistributedColony.forget_documents>` instead).

        Example:
            >>> from phago import Digester, Position
            >>> colony = Colony(seed=0)
            >>> keep = colony.ingest_document("a", "alpha beta gamma", Position(0, 0))
            >>> gone = colony.ingest_document("b", "alpha beta delta", Position(1, 0))
            >>> _ = colony.spawn(Digester(Position(0, 0)))
            >>> _ = colony.run_until_digested(50)
            >>> report = colony.forget_documents([gone])
            >>> report.documents_removed == [gone], report.nodes_removed
            (True, 1)
            >>> sorted(colony.graph.labels()), colony.stats().documents_total
            (['alpha', 'beta', 'gamma'], 1)
        """
        from phago.forgetting import forget_state, reload_agents, restored_parts
        from phago.state import checked_document_ids, forget_documents

        ids = checked_document_ids(doc_ids)
        if self.presentation_hook is not None:
            raise DistributedError(
                "a shard's colony cannot forget on its own: use the distributed colony's "
                "forget_documents (or phago.store.forget_in_store on its saved store)"
            )
        raised = getattr(self, "_phase_raised", None)
        if self._phase != "advance" or raised is not None:
            raise PhaseOrderError(
                f"documents can only be forgotten between ticks, but the last phase was "
                f"{self._phase}()" + (f", which raised ({raised})" if raised else "")
            )
        # the copies of the graph, substrate and agents' states are in no cycle: with the
        # collector on, making them started collections of the whole process
        with cyclic_gc_paused(to_oldest=True):
            state, whole = forget_state(self)  # (each agent: the part a forget changes)
            before = [dict(a.state) for a in state.agents]
            report = forget_documents(state, ids)
            graph, substrate = restored_parts(state)  # (checked before anything changes)
            self._graph, self.substrate = graph, substrate
            reload_agents(self, state.agents, before, whole)
            self.view.forget_prefetched()
        return report

    def _trim_death_signals(self) -> None:
        """Keep only the ``death_record_limit`` most recent death signals."""
        excess = len(self.death_signals) - int(self.config.death_record_limit)
        if excess > 0:
            del self.death_signals[:excess]

    @property
    def alive_count(self) -> int:
        """Number of live agents."""
        return len(self.agents)

    # ------------------------------------------------------------------ phases

    def _expect(self, previous: str, phase: str) -> None:
        raised = getattr(self, "_phase_raised", None)
        if raised is not None:
            raise PhaseOrderError(
                f"{phase}() cannot run: {self._phase}() of tick {self.substrate.tick} raised "
                f"({raised}) and left the colony part-way through that tick; load a saved "
                "copy to go on"
            )
        if self._phase != previous:
            raise PhaseOrderError(
                f"{phase}() must follow {previous}(), but the last phase was {self._phase}()"
            )
        self._phase = phase

    @_phase("advance", "sense")
    def sense(self) -> None:
        """Phase 1: every agent decides from the same pre-tick state (the graph is
        read-only meanwhile: an agent changing it raises
        :class:`~phago.errors.GraphReadOnly`)."""
        view = self.view
        claims = []
        by_type: dict[type[Agent], list[Agent]] = {}
        for a in self.agents:
            doc = a.claimed_document
            if doc is not None:
                claims.append((doc, a.id))
            group = by_type.get(type(a))
            if group is None:
                by_type[type(a)] = [a]
            else:
                group.append(a)
        self.substrate.set_claims(claims)
        # a rebuild due happens here, not at the phase's first hunt, so that hunts asked in a
        # batch (prepare_sense) and one by one see the same index
        self.substrate.refresh_far_index()
        try:
            with self._graph.read_only(_SENSING):
                for kind, group in by_type.items():
                    kind.prepare_sense(group, view)
                pending = [a.sense(view) for a in self.agents]
            if not ACTION_TYPES.issuperset(map(type, pending)):
                check_actions(self.agents, pending)
            if not all(map(is_phagos_own, by_type)):  # a user's agent class: check its actions
                checked_actions(self.agents, pending)
            self._pending = pending
        finally:
            view.forget_prefetched()

    @_phase("sense", "act")
    def act(self) -> list[ColonyEvent]:
        """Phase 2: apply actions in agent order, then dissolution/transfer, then deaths."""
        actions = self._pending or []
        self._pending = None
        tick = self.substrate.tick
        events = self._events
        agents = self.agents
        self._moving_to = {}
        if (
            self.presentation_hook is not None  # (which takes the wiring: no fitness terms)
            or self.fitness_recorder is None
            or type(self.fitness_recorder) is FitnessRecorder
        ):
            self._apply_all_grouped(agents, actions, tick, events)
        else:
            for i, (agent, action) in enumerate(zip(agents, actions, strict=False)):
                self._apply(i, agent, action, tick, events)
        positions = [a.position for a in agents]
        deposits = self.substrate.traces_near_many(
            positions, self.config.capability_radius, TraceType.CAPABILITY_DEPOSIT
        )
        # nodes each agent has not looked at yet within the dissolution radius (no node is
        # added while agents dissolve, so these can be found for all of them at once)
        unseen = self._graph.indices_near_many(
            positions, self.config.dissolution_radius, [a.seen_nodes for a in agents]
        )
        n_nodes = self._graph.node_count
        # access counts that dissolving agents add, applied together (they commute); an
        # agent that still sums access counts sees every earlier agent's first
        added: list[int] = []
        for agent, near, new in zip(agents, deposits, unseen, strict=True):
            if added and not agent.reinforcement_saturated:
                self._graph.increment_access(added, 1)
                added = []
            self._dissolve_and_transfer(agent, events, near, new, n_nodes, added)
        if added:
            self._graph.increment_access(added, 1)
        if self._dying:
            dead = []
            limit = int(self.config.death_record_limit)
            for i in sorted(self._dying, reverse=True):
                agent = agents.pop(i)
                sig = agent.prepare_death_signal(self._dying[i])
                events.append(Died(sig))
                self.death_signals.append(sig)
                if agent.id not in self._unsensed:  # the tick it dies in counts (it sensed)
                    self.fitness.tick_all((agent.id,))
                self.fitness.record_death(agent.id, limit)
                self.total_died += 1
                dead.append(agent)
            self._dying = {}
            self._trim_death_signals()
            if self.spawn_policy is not None:
                for agent in reversed(dead):  # in agent order
                    child = self.spawn_policy.on_death(self, agent)
                    if child is not None:
                        self.spawn(child)
        return events

    def _apply_all_grouped(
        self,
        agents: list[Agent],
        actions: list[AgentAction],
        tick: int,
        events: list[ColonyEvent],
    ) -> None:
        """Apply the actions in agent order, presenting runs of concept presentations to the
        graph together (:meth:`HebbianGraph.present_and_wire_groups`): the same graph,
        events and fitness as applying them one by one, in fewer, larger steps.

        A run ends at an action that may read or change the graph; the run's events are put
        where each presentation's would have been (also when an action raises: the events of
        everything applied before it are kept, in order).
        """
        run: list[tuple[Agent, PresentFragments]] = []
        at: list[int] = []  # where each presentation's events belong in ``events``
        placed: list[tuple[int, list[ColonyEvent]]] = []

        def flush() -> None:
            done: list[list[ColonyEvent]] = []
            try:
                self._present_run(run, tick, done)
            finally:
                placed.extend(zip(at, done, strict=False))  # (fewer if one raised)

        try:
            for i, (agent, action) in enumerate(zip(agents, actions, strict=False)):
                if type(action) is PresentFragments:
                    if _groupable(action):
                        run.append((agent, action))
                        at.append(len(events))
                        continue
                elif type(action) in _GRAPH_FREE_ACTIONS:
                    self._apply(i, agent, action, tick, events)
                    continue
                if run:
                    flush()
                    run, at = [], []
                self._apply(i, agent, action, tick, events)
            if run:
                flush()
        finally:
            if placed:
                merged: list[ColonyEvent] = []
                start = 0
                for pos, evs in placed:
                    merged.extend(events[start:pos])
                    merged.extend(evs)
                    start = pos
                merged.extend(events[start:])
                events[:] = merged

    def _present_run(
        self,
        run: list[tuple[Agent, PresentFragments]],
        tick: int,
        out: list[list[ColonyEvent]],
    ) -> None:
        """Apply a run of concept presentations together; each one's events are appended to
        ``out``, in order."""
        if self.presentation_hook is not None:
            self._present_run_hooked(self.presentation_hook, run, tick, out)
            return
        g = self._graph
        labels, ends, _, xs, ys, docs = _run_columns(run)
        parts: list[np.ndarray] = []
        pair_ends: list[int] = []
        weights: list[tuple[float | None, float | None]] = []
        n_pairs = 0
        for _, action in run:
            frags = action.fragments
            pairs = action.pairs
            p = _clique_pairs(len(frags)) if pairs is None else np.asarray(pairs, dtype=np.int64)
            parts.append(p.reshape(-1, 2))
            n_pairs += len(parts[-1])
            pair_ends.append(n_pairs)
            weights.append((action.tentative, action.increment))
        custom = any(t is not None or i is not None for t, i in weights)
        recorder = self.fitness_recorder
        try:
            done = g.present_and_wire_groups(
                labels,
                ends,
                NodeType.CONCEPT,
                xs,
                ys,
                tick,
                docs,
                np.concatenate(parts) if parts else np.zeros((0, 2), dtype=np.int64),
                pair_ends,
                [t for t, _ in weights] if custom else None,
                [i for _, i in weights] if custom else None,
                None if recorder is None else recorder.strong_min_coactivations,
            )
        except IndexError:
            # a pair outside its presentation (nothing was changed): one by one, so that the
            # presentations before it are applied and the error is raised where it belongs
            self._present_each(run, tick, out)
            return
        node_ids = g.ids_at(done.indices)
        created = done.created.tolist()
        wired = done.wired.tolist()
        edges_created = done.edges_created.tolist()
        strong = done.strong.tolist()
        bridges = done.bridges.tolist()
        fitness = self.fitness
        start = 0
        for k, (agent, _) in enumerate(run):
            end = ends[k]
            aid = agent.id
            evs: list[ColonyEvent] = [
                Presented(aid, end - start, tuple(node_ids[start:end]), docs[k], created[k])
            ]
            if wired[k]:
                evs.append(Wired(aid, wired[k], edges_created[k]))
            out.append(evs)
            terms = wired[k] and recorder is not None
            fitness.record_presentation(
                aid,
                end - start,
                created[k],
                wired[k],
                strong[k] if terms else 0,
                bridges[k] if terms else 0,
            )
            start = end

    def _present_run_hooked(
        self,
        hook: PresentationHook,
        run: list[tuple[Agent, PresentFragments]],
        tick: int,
        out: list[list[ColonyEvent]],
    ) -> None:
        """:meth:`_present_run` with a presentation hook: the run's nodes are presented with
        one :meth:`HebbianGraph.present_groups`, then the hook is told of each presentation
        and given its pairs, in order, as one by one (the hook only notes them, so that
        nothing it does reads the nodes presented after)."""
        for _, action in run:
            pairs = action.pairs
            if (
                pairs is not None
                and len(pairs)
                and not (
                    np.issubdtype(pairs.dtype, np.integer)
                    and pairs.min() >= 0
                    and pairs.max() < len(action.fragments)
                )
            ):
                # a pair the hook would read out of place: one by one, so that the error
                # (or numpy's reading of a negative index) is what it would be
                self._present_each(run, tick, out)
                return
        g = self._graph
        labels, ends, at, xs, ys, docs = _run_columns(run)
        indices, made = g._present_groups(labels, ends, NodeType.CONCEPT, xs, ys, tick, docs)
        node_ids = g.ids_at(indices)
        created = [0] * len(run) if made is None else made.tolist()
        fitness = self.fitness
        concept = NodeType.CONCEPT
        start = 0
        for k, (agent, action) in enumerate(run):
            end = ends[k]
            idx = indices[start:end]
            doc = docs[k]
            hook.on_present(idx, concept, at[k], tick, doc)
            aid = agent.id
            evs: list[ColonyEvent] = [
                Presented(aid, end - start, tuple(node_ids[start:end]), doc, created[k])
            ]
            wired = hook.wire(idx, action.pairs, tick, action.tentative, action.increment)
            if wired:  # (the hook wires later: how many edges are new is not known here)
                evs.append(Wired(aid, wired))
            out.append(evs)
            fitness.record_presentation(aid, end - start, created[k], wired)
            start = end

    def _present_each(
        self,
        run: list[tuple[Agent, PresentFragments]],
        tick: int,
        out: list[list[ColonyEvent]],
    ) -> None:
        """The run one presentation at a time (each one's events appended to ``out``)."""
        for agent, action in run:
            evs: list[ColonyEvent] = []
            out.append(evs)
            self._present(agent, action, tick, evs)

    def _apply(
        self, i: int, agent: Agent, action: AgentAction, tick: int, events: list[ColonyEvent]
    ) -> None:
        if isinstance(action, Move):
            doc = agent.claimed_document
            if doc is not None and self._moving_to.setdefault(doc, agent.id) != agent.id:
                return  # an earlier agent is heading for the same document: wait a tick
            agent.position = action.position
            events.append(Moved(agent.id, action.position))
        elif isinstance(action, EngulfDocument):
            content = self.substrate.consume_document(action.document)
            if content is not None:
                agent.engulf_document(action.document, content)
                events.append(Engulfed(agent.id, action.document))
        elif isinstance(action, PresentFragments):
            self._present(agent, action, tick, events)
        elif isinstance(action, Deposit):
            self.substrate.deposit_trace(action.position, action.trace)
            events.append(Deposited(agent.id, action.position))
        elif isinstance(action, Emit):
            self.substrate.emit_signal(action.signal)
        elif isinstance(action, WireNodes):
            g = self._graph
            pairs = [(g.index_of(a), g.index_of(b), w) for a, b, w in action.pairs]
            n = 0
            edges_before = g.edge_count
            one = np.array([[0, 1]], dtype=np.int64)
            for a, b, w in pairs:
                if self.presentation_hook is not None:
                    n += self.presentation_hook.wire(np.array([a, b]), one, tick, w, w)
                else:
                    n += g.wire_pairs([a], [b], tick, tentative=w, increment=w)
            if n:  # (wiring adds edges and removes none; a hook adds none here)
                events.append(Wired(agent.id, n, g.edge_count - edges_before))
        elif isinstance(action, ExportCapability):
            payload = agent.export_vocabulary()
            if payload is not None:
                self.substrate.deposit_trace(
                    agent.position,
                    Trace(agent.id, TraceType.CAPABILITY_DEPOSIT, 1.0, tick, payload),
                )
                self.substrate.emit_signal(
                    Signal(SignalType.CAPABILITY, 0.8, agent.position, agent.id, tick)
                )
                terms = len(json.loads(payload.decode("utf-8")).get("terms", []))
                events.append(CapabilityExported(agent.id, terms))
        elif isinstance(action, SymbioseWith):
            self._symbiose(i, agent, action.target, events)
        elif isinstance(action, Apoptose):
            self._dying.setdefault(i, DeathCause("self_assessed", health=agent.health()))

    def _present(
        self, agent: Agent, action: PresentFragments, tick: int, events: list[ColonyEvent]
    ) -> None:
        frags = action.fragments
        if not frags:
            return
        g = self._graph
        before = g.node_count
        # group by node type, keep order; only concepts are wired
        others: list[FragmentPresentation] = []
        labels = concept_labels(frags)  # the usual case: concepts only
        if labels is None:
            labels = [f.label for f in frags if f.node_type is NodeType.CONCEPT]
            others = [f for f in frags if f.node_type is not NodeType.CONCEPT]
        pos = frags[0].position
        doc = action.document if action.document is not None else frags[0].source_document
        hook = self.presentation_hook
        idx = g.present(labels, NodeType.CONCEPT, pos, tick, doc)
        if hook is not None and len(idx):
            hook.on_present(idx, NodeType.CONCEPT, pos, tick, doc)
        node_ids = g.ids_at(idx)
        for f in others:
            j = g.present([f.label], f.node_type, f.position, tick, f.source_document)
            if hook is not None:
                hook.on_present(j, f.node_type, f.position, tick, f.source_document)
            node_ids.append(g.id_at(int(j[0])))
        created = g.node_count - before
        events.append(Presented(agent.id, len(frags), tuple(node_ids), doc, created))
        pairs = action.pairs
        if len(labels) != len(frags) and pairs is not None:
            pairs = None  # pairs index the concept list only when every fragment is a concept
        tent, inc = action.tentative, action.increment
        wired_pairs: tuple[np.ndarray, np.ndarray] | None = None
        edges_before = g.edge_count
        if hook is not None:
            wired = hook.wire(idx, pairs, tick, tent, inc)
        elif pairs is not None:
            wired = 0
            if len(pairs):
                wired_pairs = g.wire_index_pairs(idx, pairs, tick, tent, inc)
                wired = len(wired_pairs[0])
        elif tent is None and inc is None:
            wired = g.wire_clique(idx, tick)
        else:
            i, j = np.triu_indices(len(idx), 1)
            wired = g.wire_pairs(idx[i], idx[j], tick, tent, inc)
        if wired:  # (wiring adds edges and removes none; a hook adds none here)
            events.append(Wired(agent.id, wired, g.edge_count - edges_before))
        self.fitness.record_concepts(agent.id, len(frags), novel=created)
        self.fitness.record_edges(agent.id, wired)
        if wired and self.fitness_recorder is not None and hook is None:
            self.fitness_recorder.record(
                self.fitness, agent.id, g, idx, pairs, tick, created, wired=wired_pairs
            )

    def _symbiose(self, i: int, host: Agent, target: AgentId, events: list[ColonyEvent]) -> None:
        for j, other in enumerate(self.agents):
            if other.id != target or j == i:
                continue
            if j in self._dying:  # absorbed by an earlier host this tick, or dying anyway
                return
            profile = other.profile()
            if host.evaluate_symbiosis(profile) is SymbiosisEval.INTEGRATE:
                host.absorb_symbiont(profile, other.export_vocabulary() or b"")
                self._dying.setdefault(j, DeathCause("symbiotic_absorption", host=host.id))
                events.append(Symbiosis(host.id, other.id, host.agent_type, other.agent_type))
            return

    def _dissolve_and_transfer(
        self,
        agent: Agent,
        events: list[ColonyEvent],
        deposits: list[Trace],
        unseen: list[int],
        n_nodes: int,
        accessed: list[int],
    ) -> None:
        """One agent's dissolution and vocabulary transfer; the node indices whose access
        count its dissolution raises by one go to ``accessed`` (the caller applies them)."""
        g = self._graph
        # reinforcement only matters up to 100 (trust and permeability saturate there), and
        # access counts never fall, so once an agent reaches 100 it is not summed again
        reinforcement = 100
        if not agent.reinforcement_saturated:
            reinforcement = 0
            access = g.access_counts()
            for t in agent.vocabulary_terms():
                for k in g.indices_with_label(t):
                    reinforcement += int(access[k])
                if reinforcement >= 100:
                    agent.reinforcement_saturated = True
                    break
        age = agent.age
        trust = min(1.0, min(reinforcement, 100) / age) if age > 0 else 0.0
        agent.adjust_boundary(reinforcement, age, trust)
        p = agent.permeability
        if p > 0.5:
            terms = agent.externalize_vocabulary()
            if terms:
                ks = g.indices_with_labels(terms)
                if ks:
                    accessed.extend(ks)
                    events.append(Dissolved(agent.id, p, len(ks)))
        if p > 0.0 and agent.seen_nodes < n_nodes:  # (no node is added while agents dissolve)
            if unseen:  # nodes within dissolution_radius added since it last looked
                codes = g.type_codes()[unseen].tolist()
                labels = [
                    g.label_at(k) for k, c in zip(unseen, codes, strict=True) if c == _CONCEPT
                ]
                if labels:
                    agent.internalize_vocabulary(labels)
            agent.seen_nodes = n_nodes
        for trace in deposits:  # capability deposits within capability_radius
            if trace.agent_id != agent.id and trace.payload:
                n = agent.integrate_vocabulary(trace.payload)
                if n:
                    events.append(CapabilityIntegrated(agent.id, trace.agent_id, n))

    @_phase("act", "decay")
    def decay(self) -> PrunedEdges:
        """Phase 3: decay signals, traces and edges; apply the degree cap; record fitness
        (one more tick alive for each live agent that sensed this tick; see
        :attr:`AgentFitness.ticks_alive <phago.agents.fitness.AgentFitness>`).

        Returns:
            The edges the degree cap removed (a sharded colony ranks them again across
            shards; see :mod:`phago.distributed.degree_cap`).
        """
        self._decay_substrate()
        return self.decay_graph(self.substrate.tick)

    @_phase("act", "decay")
    def decay_substrate(self) -> None:
        """Phase 3 without the graph's part: decay signals and traces and record fitness,
        everything the next Sense reads; :meth:`decay_graph` then does the rest, for the
        same tick, before the next Act (the two touch nothing in common, so the colony
        ends as :meth:`decay` leaves it). A sharded colony on Ray runs its next Sense
        between them, while the other shards' updates for the graph are on their way."""
        self._decay_substrate()

    def _decay_substrate(self) -> None:
        cfg = self.config
        self.substrate.decay_signals(cfg.signal_decay_rate, cfg.signal_removal_threshold)
        self.substrate.decay_traces(cfg.trace_decay_rate, cfg.trace_removal_threshold)
        unsensed = getattr(self, "_unsensed", None)  # (None: a colony pickled before it)
        if unsensed:
            self.fitness.tick_all([a.id for a in self.agents if a.id not in unsensed])
            unsensed.clear()
        else:
            self.fitness.tick_all([a.id for a in self.agents])

    def decay_graph(self, tick: int) -> PrunedEdges:
        """The graph's part of Decay of ``tick`` (see :meth:`decay_substrate`): decay the
        edges as of that tick and apply the degree cap; returns the edges the cap removed.
        Not a phase of its own: it reads and changes the graph alone."""
        cfg = self.config
        if cfg.edge_decay_rate > 0.0:
            self._graph.decay_edges_activity(
                cfg.edge_decay_rate,
                cfg.edge_prune_threshold,
                tick,
                cfg.staleness_factor,
                cfg.maturation_ticks,
            )
        if cfg.max_edge_degree is not None:
            return self._graph.prune_to_max_degree(cfg.max_edge_degree)
        return PrunedEdges.empty()

    @_phase("decay", "advance")
    def advance(self) -> list[ColonyEvent]:
        """Phase 4: advance the tick; returns this tick's events ending with TickComplete."""
        new_tick = self.substrate.advance_tick()
        events = self._events
        dead = sum(1 for e in events if isinstance(e, Died))
        events.append(TickComplete(new_tick, len(self.agents), dead))
        self._events = []
        if self.config.event_history_limit > 0:
            self._history.append((new_tick, events))
        return events

    def tick(self) -> list[ColonyEvent]:
        """Run one tick: exactly sense, act, decay, advance. Returns the tick's events.

        The cyclic garbage collector is paused during the tick (see :mod:`phago._gc`). The
        tick's counts go into :meth:`timeline` (phases run one by one, as a shard runs
        them, are not recorded).

        Raises:
            ConfigError: ``spawn_policy`` is neither None nor has ``on_death`` (before
                anything of the tick is done).
        """
        policy = self.spawn_policy
        if policy is not None and (
            isinstance(policy, type) or not callable(getattr(policy, "on_death", None))
        ):
            raise ConfigError(  # (before the tick: the colony can go on once it is set right)
                "colony.spawn_policy must be None or an object with on_death(colony, dead) "
                f"(such as phago.agents.spawn.FitnessSpawnPolicy()), got {policy!r}"
            )
        began = time.perf_counter()
        with cyclic_gc_paused():
            self.sense()
            self.act()
            self.decay()
            events = self.advance()
        g, s = self._graph, self.substrate
        timeline = getattr(self, "_timeline", None)
        if timeline is None:  # a colony pickled before colonies kept timelines
            timeline = self._timeline = TimelineBuffer(TIMELINE_TICKS)
        timeline.append(
            s.tick,
            g.node_count,
            g.edge_count,
            len(self.agents),
            s.document_count,
            s.document_count - s.undigested_count,
            0,
            (time.perf_counter() - began) * 1000.0,
            0.0,
        )
        return events

    def run(
        self, ticks: int, on_tick: Callable[[int], None] | None = None
    ) -> list[list[ColonyEvent]]:
        """Run ``ticks`` ticks; returns each tick's events.

        Ctrl-C in the main thread ends the run at the end of the tick under way (a second
        Ctrl-C at once, which leaves the colony part-way through that tick): the colony
        stands at its last completed tick, can go on and can be saved.

        Raises:
            ConfigError: ``ticks`` is negative or not a whole number.
            KeyboardInterrupt: Ctrl-C, raised at a tick boundary.
        """
        out = []
        with TickBoundaryInterrupt() as interrupt:  # Ctrl-C: at the end of the tick
            for _ in range(tick_count(ticks)):
                out.append(self.tick())
                if on_tick is not None:
                    on_tick(self.substrate.tick)
                interrupt.check()
        return out

    def run_until_digested(
        self, max_ticks: int, on_tick: Callable[[int], None] | None = None
    ) -> int:
        """Run until every document is digested and wired, or ``max_ticks`` ticks ran.

        A document counts as digested once an agent consumed it and presented its concepts,
        so when this returns early every document's edges are in the graph.

        Returns:
            The number of ticks run.

        Raises:
            ConfigError: ``max_ticks`` is negative or not a whole number.
            KeyboardInterrupt: Ctrl-C, raised at a tick boundary (see :meth:`run`).
        """
        max_ticks = tick_count(max_ticks, "max_ticks")
        ran = 0
        with TickBoundaryInterrupt() as interrupt:  # Ctrl-C: at the end of the tick
            while ran < max_ticks and self.has_undigested_work():
                self.tick()
                ran += 1
                if on_tick is not None:
                    on_tick(self.substrate.tick)
                interrupt.check()
        return ran

    def has_undigested_work(self) -> bool:
        """True while a document is unconsumed or an agent still holds undigested text."""
        return self.substrate.undigested_count > 0 or any(a.is_digesting for a in self.agents)

    # ------------------------------------------------------------------ reports

    def event_history(self) -> list[tuple[int, list[ColonyEvent]]]:
        """Recent ticks' events (bounded by ``event_history_limit``), oldest first."""
        return list(self._history)

    def timeline(self) -> list[TickRecord]:
        """The counts after each tick this colony ran with :meth:`tick`, :meth:`run` or
        :meth:`run_until_digested`, oldest first (the most recent
        :data:`~phago.timeline.TIMELINE_TICKS`): nodes, edges, agents alive, documents
        held and digested, and the tick's milliseconds. A store keeps it: a colony loaded
        from one goes on with the timeline it was saved with (a store saved before
        timelines were kept starts a new one); :func:`phago.timeline.write_timeline`
        writes it as CSV, JSON or a chart.

        Example:
            >>> c = Colony()
            >>> _ = c.ingest_document("t", "alpha beta gamma")
            >>> _ = c.spawn_digesters(1)
            >>> _ = c.run(3)
            >>> [(r.tick, r.documents_total) for r in c.timeline()]
            [(1, 1), (2, 1), (3, 1)]
        """
        timeline = getattr(self, "_timeline", None)
        return [] if timeline is None else timeline.records()

    def documents(self) -> list[Document]:
        """All documents in insertion order."""
        return self.substrate.documents()

    def stats(self) -> ColonyStats:
        """Current counts."""
        s = self.substrate
        return ColonyStats(
            tick=s.tick,
            agents_alive=len(self.agents),
            agents_died=self.total_died,
            total_spawned=self.total_spawned,
            agents_retired=getattr(self, "total_retired", 0),
            graph_nodes=self._graph.node_count,
            graph_edges=self._graph.edge_count,
            total_signals=s.signal_count,
            documents_total=s.document_count,
            documents_digested=s.document_count - s.undigested_count,
        )

    def snapshot(self) -> ColonySnapshot:
        """A JSON-friendly picture of agents, nodes and edges: an edge names its ends by
        node id (``from``, ``to``, the nodes' ``id``) and label, with its weight,
        co-activations and the ticks it was made and last reinforced.

        Example:
            >>> c = Colony()
            >>> _ = c.ingest_document("t", "cell membrane lipid bilayer protein channel")
            >>> _ = c.spawn_digesters(1)
            >>> _ = c.run(5)
            >>> edge = c.snapshot().edges[0]
            >>> sorted(edge)  # doctest: +NORMALIZE_WHITESPACE
            ['co_activations', 'created_tick', 'from', 'from_label', 'last_activated_tick',
             'to', 'to_label', 'weight']
            >>> edge["from"] in {n["id"] for n in c.snapshot().nodes}
            True
        """
        g = self._graph
        agents = [
            {
                "id": int(a.id),
                "agent_type": a.agent_type,
                "position": (a.position.x, a.position.y),
                "age": a.age,
                "permeability": a.permeability,
                "vocabulary_size": a.vocabulary_size(),
            }
            for a in self.agents
        ]
        nodes = [
            {
                "id": int(n.id),
                "label": n.label,
                "node_type": n.node_type.value,
                "position": (n.position.x, n.position.y),
                "access_count": n.access_count,
            }
            for n in g.nodes()
        ]
        edges = [
            {
                "from": int(a),
                "to": int(b),
                "from_label": g.label_at(g.index_of(a)),
                "to_label": g.label_at(g.index_of(b)),
                "weight": e.weight,
                "co_activations": e.co_activations,
                "created_tick": e.created_tick,
                "last_activated_tick": e.last_activated_tick,
            }
            for a, b, e in g.edges()
        ]
        return ColonySnapshot(self.substrate.tick, agents, nodes, edges, self.stats())

    def save(self, path: str | os.PathLike[str]) -> None:
        """Save to a SQLite store, atomically (see :mod:`phago.store`)."""
        from phago.store import save

        save(self, path)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Colony:
        """Load a colony saved with :meth:`save`; running it continues the saved run exactly."""
        from phago.store import load

        return load(path)

    def to_networkx(self) -> Any:
        """The graph as :class:`networkx.Graph` (see :meth:`HebbianGraph.to_networkx`)."""
        return self._graph.to_networkx()


def _run_columns(
    run: list[tuple[Agent, PresentFragments]],
) -> tuple[list[str], list[int], list[Position], list[float], list[float], list[DocumentId | None]]:
    """A run's labels, group ends, and each presentation's position (also as x and y
    columns) and document, as the graph's group calls take them."""
    labels: list[str] = []
    ends: list[int] = []
    at: list[Position] = []
    xs: list[float] = []
    ys: list[float] = []
    docs: list[DocumentId | None] = []
    for _, action in run:
        frags = action.fragments
        labels.extend(concept_labels(frags) or ())  # (a run holds concepts only)
        ends.append(len(labels))
        first = frags[0]
        pos = first.position
        at.append(pos)
        xs.append(pos.x)
        ys.append(pos.y)
        docs.append(action.document if action.document is not None else first.source_document)
    return labels, ends, at, xs, ys, docs


def _groupable(action: PresentFragments) -> bool:
    """Whether a presentation can join a run (:meth:`Colony._apply_all_grouped`): it
    presents concepts only, and its pairs, if given, are an ``(m, 2)`` array."""
    frags = action.fragments
    if not frags or concept_labels(frags) is None:
        return False
    pairs = action.pairs
    return pairs is None or (
        isinstance(pairs, np.ndarray) and pairs.ndim == 2 and pairs.shape[1] == 2
    )


class _AgentView:
    """The read-only view of a colony that agents decide from (:class:`ColonyView`)."""

    __slots__ = ("_anywhere", "_colony", "_near")

    def __init__(self, colony: Colony) -> None:
        self._colony = colony
        # answers of prefetch_undigested_near, by (x, y, radius, claimant, limit), until used
        self._near: dict[tuple[float, float, float, AgentId | None, int], Any] = {}
        # candidates of prefetch_nearest_undigested_anywhere, by (x, y, choices, claimant),
        # with the far index version they hold for
        self._anywhere: dict[
            tuple[float, float, int, AgentId | None],
            tuple[int, Sequence[tuple[float, DocumentId]]],
        ] = {}

    @property
    def tick(self) -> int:
        """The substrate tick."""
        return self._colony.substrate.tick

    @property
    def graph(self) -> HebbianGraph:
        """The colony's graph (read it, do not change it)."""
        return self._colony.graph

    @property
    def config(self) -> ColonyConfig:
        """The colony's configuration."""
        return self._colony.config

    def undigested_near(
        self,
        position: Position,
        radius: float,
        claimant: AgentId | None = None,
        limit: int | None = None,
    ) -> list[tuple[float, DocumentId]]:
        """Undigested documents within ``radius``, nearest first (with ``claimant``, those
        other agents are heading for are left out unless within reach; with ``limit``, only
        the first ``limit``)."""
        if self._near and limit is not None:
            got = self._near.pop((position.x, position.y, radius, claimant, limit), None)
            if got is not None:
                return got  # type: ignore[no-any-return]
        return self._colony.substrate.undigested_near(position, radius, claimant, limit)

    def prefetch_undigested_near(
        self,
        positions: Sequence[Position],
        radius: float,
        claimants: Sequence[AgentId | None],
        limit: int,
    ) -> list[list[tuple[float, DocumentId]]]:
        """Answer these :meth:`undigested_near` queries now, in one pass, and return the
        answers; each is also handed out once, to the first identical query of this Sense
        phase."""
        answers = self._colony.substrate.undigested_near_many(positions, radius, claimants, limit)
        near = self._near
        for p, c, a in zip(positions, claimants, answers, strict=True):
            near[(p.x, p.y, radius, c, limit)] = a
        return answers

    def prefetch_nearest_undigested_anywhere(
        self,
        positions: Sequence[Position],
        choices: int,
        claimants: Sequence[AgentId | None],
    ) -> None:
        """Find the candidates of these :meth:`nearest_undigested_anywhere` queries now, in
        one pass; each query asked later in this Sense phase (with any generator) is answered
        from them once, as long as they still hold."""
        substrate = self._colony.substrate
        answers = substrate.nearest_undigested_anywhere_many(positions, choices, claimants)
        version = substrate.far_index_version
        memo = self._anywhere
        for p, c, a in zip(positions, claimants, answers, strict=True):
            if a is not None:
                memo[(p.x, p.y, choices, c)] = (version, a)

    def forget_prefetched(self) -> None:
        """Drop prefetched answers not asked for (the colony calls this when Sense ends)."""
        self._near.clear()
        self._anywhere.clear()

    def document_position(self, doc: DocumentId) -> Position:
        """Where document ``doc`` lies."""
        return self._colony.substrate.get_document(doc).position

    def available_document_position(
        self, doc: DocumentId, claimant: AgentId | None = None
    ) -> Position | None:
        """Where ``doc`` lies if it is undigested and not claimed by another agent, else None."""
        return self._colony.substrate.available_document_position(doc, claimant)

    def nearest_undigested_anywhere(
        self,
        position: Position,
        choices: int = 1,
        rng: np.random.Generator | None = None,
        claimant: AgentId | None = None,
    ) -> tuple[float, DocumentId] | None:
        """A near undigested document at any distance (for hungry agents), or None."""
        substrate = self._colony.substrate
        if self._anywhere:
            got = self._anywhere.pop((position.x, position.y, choices, claimant), None)
            if got is not None and got[0] == substrate.far_index_version:
                found = got[1]
                if not found:
                    return None
                pick = 0
                if choices > 1 and rng is not None:
                    pick = int(rng.integers(0, len(found)))
                return found[pick]
        return substrate.nearest_undigested_anywhere(position, choices, rng, claimant)

    def gradient(
        self, position: Position, radius: float, signal_type: SignalType
    ) -> Gradient | None:
        """Signal gradient at ``position`` (REFERENCE.md §2.2)."""
        return self._colony.substrate.gradient(position, radius, signal_type)

    def signals_near(self, position: Position, radius: float) -> list[Signal]:
        """Live signals within ``radius``."""
        return self._colony.substrate.signals_near(position, radius)

    def signal_count_near(self, position: Position, radius: float) -> int:
        """How many live signals are within ``radius``."""
        return self._colony.substrate.signal_count_near(position, radius)

    def first_signal_near(
        self,
        position: Position,
        radius: float,
        types: tuple[SignalType, ...],
        exclude_emitter: AgentId | None = None,
    ) -> Signal | None:
        """The oldest signal of one of ``types`` within ``radius`` not from ``exclude_emitter``."""
        return self._colony.substrate.first_signal_near(position, radius, types, exclude_emitter)

    def traces_near(
        self, position: Position, radius: float, trace_type: TraceType | None = None
    ) -> list[Trace]:
        """Traces within ``radius``."""
        return self._colony.substrate.traces_near(position, radius, trace_type)
