"""Value types of the colony: positions, documents, graph data, signals, traces, actions.

These are plain frozen dataclasses and enums. Hot state (edge weights, signal intensities)
lives in NumPy columns inside :mod:`phago.graph` and :mod:`phago.substrate`; the dataclasses
here are what the public API hands out.

Example:
    >>> from phago.types import Position
    >>> Position(0, 0).distance(Position(3, 4))
    5.0
"""

from __future__ import annotations

import math
import operator
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, NamedTuple, TypeAlias, cast, overload

from phago.errors import InvalidPosition
from phago.ids import AgentId, DocumentId, NodeId

__all__ = [
    "POSITION_LIMIT",
    "Apoptose",
    "BoundaryContext",
    "CellHealth",
    "Classification",
    "ConceptFragments",
    "ContributeToCollective",
    "DeathCause",
    "DeathSignal",
    "Deposit",
    "Document",
    "EdgeData",
    "Emit",
    "EngulfDocument",
    "ExportCapability",
    "FragmentPresentation",
    "Gradient",
    "Idle",
    "Move",
    "NodeData",
    "NodeType",
    "Orientation",
    "Position",
    "PresentFragments",
    "Signal",
    "SignalType",
    "SymbioseWith",
    "SymbiosisEval",
    "Trace",
    "TraceType",
    "WireNodes",
    "concept_labels",
    "placed_position",
    "placed_xy",
    "trusted_position",
]


def coordinate(value: object) -> float | None:
    """``value`` as a coordinate (a float), or None where it is no number: text and bytes
    (``"3"``), truth values, and integers beyond a float's range are not coordinates.

    Example:
        >>> coordinate(2), coordinate(1.5), coordinate("3"), coordinate(True), coordinate(10**400)
        (2.0, 1.5, None, None, None)
    """
    if type(value) is float:  # (the usual case, first)
        return value
    # (NumPy's truth values too, named without importing NumPy here)
    if isinstance(value, str | bytes | bytearray) or type(value).__name__ in ("bool", "bool_"):
        return None
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):
        return None


POSITION_LIMIT = 1e15
"""The farthest from the origin (on either axis) that phago places anything it is given:
a document (ingested alone or in a batch, on a :class:`~phago.colony.Colony` or a
:class:`~phago.distributed.DistributedColony`) and an input signal
(:meth:`~phago.colony.Colony.emit_input_signal`) must have ``|x|`` and ``|y|`` at most
this, or they are refused as :class:`~phago.errors.InvalidPosition`. Within it every grid
cell of the substrate (a coordinate divided by the cell size, at least
:data:`phago.substrate.MIN_CELL_SIZE`) fits a 64-bit integer, and coordinates keep a
resolution of 0.125 or better. Agents, which move, may stand anywhere finite."""


_LARGEST = sys.float_info.max  # (a Position's bound: finite)


def _checked_xy(x: object, y: object, limit: float) -> tuple[float, float]:
    """``(x, y)`` as coordinates: two numbers (see :func:`coordinate`), finite, and with
    ``|x|`` and ``|y|`` at most ``limit``; else :class:`~phago.errors.InvalidPosition`
    saying which of those it is not. Every check of a position goes through here."""
    fx, fy = coordinate(x), coordinate(y)
    if fx is None or fy is None:
        raise InvalidPosition(f"position must be two numbers, got {x!r}, {y!r}")
    # (one chained comparison per coordinate: NaN fails it too)
    if -limit <= fx <= limit and -limit <= fy <= limit:
        return fx, fy
    if not (math.isfinite(fx) and math.isfinite(fy)):
        raise InvalidPosition(f"position must be finite, got ({x!r}, {y!r})")
    raise InvalidPosition(
        f"position ({x!r}, {y!r}) is too far out: |x| and |y| must be at most {limit:g} "
        "(phago.types.POSITION_LIMIT); place it nearer the origin"
    )


def placed_xy(x: object, y: object) -> tuple[float, float]:
    """``(x, y)`` as the coordinates of something placed on the substrate (a document, an
    input signal): two finite numbers within :data:`POSITION_LIMIT`.

    Raises:
        InvalidPosition: not two numbers, not finite, or beyond :data:`POSITION_LIMIT`.

    Example:
        >>> placed_xy(1, -2.5)
        (1.0, -2.5)
        >>> placed_xy(1e20, 0)
        Traceback (most recent call last):
        ...
        phago.errors.InvalidPosition: position (1e+20, 0) is too far out: |x| and |y| must \
be at most 1e+15 (phago.types.POSITION_LIMIT); place it nearer the origin
    """
    return _checked_xy(x, y, POSITION_LIMIT)


def placed_position(value: Position | Sequence[float] | Any) -> Position:
    """``value`` (a Position or a pair of numbers, as :meth:`Position.of` takes it) as the
    position of something placed on the substrate: within :data:`POSITION_LIMIT`.

    Raises:
        InvalidPosition: not a pair of finite numbers, or beyond :data:`POSITION_LIMIT`.

    Example:
        >>> placed_position((3, 4))
        Position(x=3.0, y=4.0)
        >>> placed_position(Position(0, -2e15))
        Traceback (most recent call last):
        ...
        phago.errors.InvalidPosition: position (0.0, -2000000000000000.0) is too far out: \
|x| and |y| must be at most 1e+15 (phago.types.POSITION_LIMIT); place it nearer the origin
    """
    if isinstance(value, Position):
        _checked_xy(value.x, value.y, POSITION_LIMIT)
        return value
    return trusted_position(*_checked_xy(*_pair(value), POSITION_LIMIT))


def _pair(value: object) -> tuple[Any, Any]:
    """``value``'s two items (a tuple, a list, a NumPy array of two; not text), or
    :class:`~phago.errors.InvalidPosition`."""
    try:
        if isinstance(value, str | bytes):
            raise TypeError
        x, y = cast(Sequence[Any], value)
    except (TypeError, ValueError):
        raise InvalidPosition(f"position must be a pair of numbers, got {value!r}") from None
    return x, y


@dataclass(frozen=True, slots=True)
class Position:
    """A point on the unbounded 2-D substrate plane. Both coordinates must be finite
    (agents may stand anywhere); documents and input signals are placed within
    :data:`POSITION_LIMIT` (see :func:`placed_position`).

    Example:
        >>> Position(1.5, -2).x
        1.5
    """

    x: float
    y: float

    def __post_init__(self) -> None:
        fx, fy = _checked_xy(self.x, self.y, _LARGEST)
        object.__setattr__(self, "x", fx)
        object.__setattr__(self, "y", fy)

    @classmethod
    def of(cls, value: Position | Sequence[float] | Any) -> Position:
        """``value`` as a Position: a Position as it is, or a pair of numbers (a tuple, a
        list, a NumPy array of two).

        Raises:
            InvalidPosition: anything else (not a pair, not numbers, not finite).

        Example:
            >>> Position.of((1, 2))
            Position(x=1.0, y=2.0)
            >>> Position.of("xy")
            Traceback (most recent call last):
            ...
            phago.errors.InvalidPosition: position must be a pair of numbers, got 'xy'
        """
        if isinstance(value, Position):
            return value
        return cls(*_pair(value))

    def __reduce__(self) -> tuple[type[Position], tuple[float, float]]:
        # pickled as a constructor call: the default of a frozen slotted dataclass walks
        # dataclasses.fields() for every object, several times slower, and positions
        # travel in every ghost answer between shards
        return (Position, (self.x, self.y))

    def distance(self, other: Position) -> float:
        """Euclidean distance to ``other``."""
        return math.hypot(self.x - other.x, self.y - other.y)


class NodeType(StrEnum):
    """Kind of a knowledge-graph node. Only concepts are wired by co-occurrence."""

    CONCEPT = "concept"
    DOCUMENT = "document"
    INSIGHT = "insight"
    ANOMALY = "anomaly"


class SignalType(StrEnum):
    """Kind of a diffusible signal on the substrate."""

    INPUT = "input"
    PRESENCE = "presence"
    QUORUM = "quorum"
    ANOMALY = "anomaly"
    INSIGHT = "insight"
    CAPABILITY = "capability"
    CUSTOM = "custom"


class TraceType(StrEnum):
    """Kind of a stigmergic trace left on the substrate."""

    VISIT = "visit"
    DIGESTION = "digestion"
    IMPORTANCE = "importance"
    CAPABILITY_DEPOSIT = "capability_deposit"
    CUSTOM = "custom"


class CellHealth(StrEnum):
    """Self-assessed health of an agent."""

    HEALTHY = "healthy"
    STRESSED = "stressed"
    COMPROMISED = "compromised"
    REDUNDANT = "redundant"
    SENESCENT = "senescent"

    @property
    def should_die(self) -> bool:
        """True for compromised, redundant and senescent cells."""
        return self in (CellHealth.COMPROMISED, CellHealth.REDUNDANT, CellHealth.SENESCENT)


class SymbiosisEval(StrEnum):
    """An agent's verdict on another agent it might absorb."""

    DIGEST = "digest"
    INTEGRATE = "integrate"
    COEXIST = "coexist"


class Orientation(StrEnum):
    """Where an agent wants to go: toward a gradient, stay, or explore."""

    TOWARD = "toward"
    STAY = "stay"
    EXPLORE = "explore"


@dataclass(slots=True)
class Document:
    """A document on the substrate. ``digested`` turns true once an agent consumed it."""

    id: DocumentId
    title: str
    content: str
    position: Position
    digested: bool = False

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        # one constructor call with flat fields: every stored document is pickled in each
        # checkpoint of its shard, and the slotted dataclass default (with the position's
        # own reduce and re-validation) took about three times as long each way
        p = self.position
        return (_document, (self.id, self.title, self.content, p.x, p.y, self.digested))


def trusted_position(x: float, y: float) -> Position:
    """A :class:`Position` of coordinates already checked to be finite floats (taken from
    another position, or from columns of checked ones), built without checking them again.

    Example:
        >>> trusted_position(1.0, 2.0) == Position(1, 2)
        True
    """
    p = object.__new__(Position)
    object.__setattr__(p, "x", x)
    object.__setattr__(p, "y", y)
    return p


def _document(
    did: DocumentId, title: str, content: str, x: float, y: float, digested: bool
) -> Document:
    """:class:`Document` from its pickled fields (the coordinates came from a checked
    :class:`Position`, so they are not checked again)."""
    return Document(did, title, content, trusted_position(x, y), digested)


@dataclass(slots=True)
class NodeData:
    """A knowledge-graph node as handed out by the graph (a copy, not live state)."""

    id: NodeId
    label: str
    node_type: NodeType
    position: Position
    access_count: int
    created_tick: int
    documents: tuple[DocumentId, ...] = ()
    embedding: tuple[float, ...] | None = None

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        # a constructor call with the type's value: node data travels in every ghost answer
        # between shards, and the slotted dataclass and enum defaults cost several times more
        return (
            _node_data,
            (
                self.id,
                self.label,
                NodeType(self.node_type).value,
                self.position,
                self.access_count,
                self.created_tick,
                self.documents,
                self.embedding,
            ),
        )


def _node_data(
    nid: NodeId,
    label: str,
    node_type: str,
    position: Position,
    access_count: int,
    created_tick: int,
    documents: tuple[DocumentId, ...],
    embedding: tuple[float, ...] | None,
) -> NodeData:
    """:class:`NodeData` from its pickled fields."""
    return NodeData(
        nid,
        label,
        NodeType(node_type),
        position,
        access_count,
        created_tick,
        documents,
        embedding,
    )


@dataclass(slots=True)
class EdgeData:
    """An undirected Hebbian edge as handed out by the graph (a copy)."""

    weight: float
    co_activations: int
    created_tick: int
    last_activated_tick: int


@dataclass(frozen=True, slots=True)
class Signal:
    """A signal emitted on the substrate; intensity decays each tick."""

    signal_type: SignalType
    intensity: float
    position: Position
    emitter: AgentId
    tick: int


@dataclass(frozen=True, slots=True)
class Trace:
    """A stigmergic mark left by an agent; intensity decays each tick."""

    agent_id: AgentId
    trace_type: TraceType
    intensity: float
    tick: int
    payload: bytes = b""


@dataclass(frozen=True, slots=True)
class Gradient:
    """Intensity-weighted direction toward a group of signals of one type."""

    signal_type: SignalType
    direction: Position
    magnitude: float


class FragmentPresentation(NamedTuple):
    """A concept an agent presents to the graph, with the document it came from."""

    label: str
    source_document: DocumentId | None
    position: Position
    node_type: NodeType = NodeType.CONCEPT


class ConceptFragments(Sequence[FragmentPresentation]):
    """The fragments of one presentation of concepts from one document at one position.

    A sequence of :class:`FragmentPresentation` (equal to the tuple of them) that keeps the
    labels and builds a fragment only when one is read. A digester presents its keywords
    this way, and the colony reads the labels without building the fragments (at W3 with
    100,000 documents, 3.2 million fragment tuples otherwise built and taken apart again).

    Args:
        labels: the concepts' labels, in order (kept as given, not copied).
        document: the document they came from (None: none).
        position: where they are presented.

    Example:
        >>> frags = ConceptFragments(["cell", "wall"], None, Position(1, 2))
        >>> len(frags), frags[1].label, frags[1].node_type
        (2, 'wall', <NodeType.CONCEPT: 'concept'>)
        >>> frags == tuple(frags)
        True
    """

    __slots__ = ("document", "labels", "position")

    def __init__(
        self, labels: Sequence[str], document: DocumentId | None, position: Position
    ) -> None:
        self.labels = labels
        self.document = document
        self.position = position

    def __len__(self) -> int:
        return len(self.labels)

    @overload
    def __getitem__(self, index: int) -> FragmentPresentation: ...

    @overload
    def __getitem__(self, index: slice) -> tuple[FragmentPresentation, ...]: ...

    def __getitem__(
        self, index: int | slice
    ) -> FragmentPresentation | tuple[FragmentPresentation, ...]:
        if isinstance(index, slice):
            return tuple(self)[index]
        return FragmentPresentation(
            self.labels[index], self.document, self.position, NodeType.CONCEPT
        )

    def __iter__(self) -> Iterator[FragmentPresentation]:
        doc, at, concept, new = self.document, self.position, NodeType.CONCEPT, tuple.__new__
        for label in self.labels:
            yield new(FragmentPresentation, (label, doc, at, concept))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, ConceptFragments | tuple):
            return tuple(self) == tuple(other)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(tuple(self))

    def __repr__(self) -> str:
        return f"ConceptFragments({list(self.labels)!r}, {self.document!r}, {self.position!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (list(self.labels), self.document, self.position))


# FragmentPresentation fields by position (C-level getters)
_label_of = operator.itemgetter(0)
_node_type_of = operator.itemgetter(3)


def concept_labels(fragments: Sequence[FragmentPresentation]) -> Sequence[str] | None:
    """The labels of ``fragments`` when every one is a concept, else None; a
    :class:`ConceptFragments` gives its labels as they are (no fragment is built).

    Example:
        >>> at = Position(0, 0)
        >>> list(concept_labels((FragmentPresentation("cell", None, at),)))
        ['cell']
        >>> concept_labels((FragmentPresentation("odd", None, at, NodeType.ANOMALY),)) is None
        True
    """
    if type(fragments) is ConceptFragments:
        return fragments.labels
    if list(map(_node_type_of, fragments)).count(NodeType.CONCEPT) != len(fragments):
        return None
    return list(map(_label_of, fragments))


@dataclass(frozen=True, slots=True)
class BoundaryContext:
    """What the colony tells an agent before it adjusts its permeability."""

    reinforcement_count: int
    age: int
    trust: float


@dataclass(frozen=True, slots=True)
class Classification:
    """Negative-selection verdict: self, non-self with a degree in [0, 1], or unknown."""

    kind: str  # "self" | "non_self" | "unknown"
    degree: float = 0.0


@dataclass(frozen=True, slots=True)
class DeathCause:
    """Why an agent died: ``self_assessed`` (with health), ``external``, ``runtime`` or
    ``symbiotic_absorption`` (with the host's id)."""

    kind: str
    health: CellHealth | None = None
    host: AgentId | None = None

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return (DeathCause, (self.kind, self.health, self.host))


@dataclass(frozen=True, slots=True)
class DeathSignal:
    """What an agent leaves behind when it dies."""

    agent_id: AgentId
    total_ticks: int
    useful_outputs: int
    final_fragments: tuple[str, ...]
    cause: DeathCause

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        # a colony keeps recent dead agents' signals and each checkpoint pickles them all: a
        # digester's last fragments number about a thousand, pickled five times faster as
        # one joined string (kept as a tuple when a fragment holds the separator)
        fragments: tuple[str, ...] | str = self.final_fragments
        if fragments:
            joined = _FRAGMENT_SEP.join(fragments)
            if joined.count(_FRAGMENT_SEP) == len(fragments) - 1:
                fragments = joined
        return (
            _death_signal,
            (self.agent_id, self.total_ticks, self.useful_outputs, fragments, self.cause),
        )


_FRAGMENT_SEP = "\x1f"  # (ASCII unit separator)


def _death_signal(
    agent_id: AgentId,
    total_ticks: int,
    useful_outputs: int,
    fragments: tuple[str, ...] | str,
    cause: DeathCause,
) -> DeathSignal:
    """:class:`DeathSignal` from its pickled fields (``fragments`` joined, or a tuple)."""
    if isinstance(fragments, str):
        fragments = tuple(fragments.split(_FRAGMENT_SEP))
    return DeathSignal(agent_id, total_ticks, useful_outputs, fragments, cause)


# --- actions: what an agent returns from its sense step -------------------------------------


@dataclass(frozen=True, slots=True)
class Idle:
    """Do nothing this tick."""


@dataclass(frozen=True, slots=True)
class Move:
    """Move to ``position``."""

    position: Position


@dataclass(frozen=True, slots=True)
class EngulfDocument:
    """Consume the document ``document`` (only the first consumer succeeds)."""

    document: DocumentId


@dataclass(frozen=True, slots=True)
class PresentFragments:
    """Present concepts to the graph; concepts of one presentation are wired pairwise."""

    fragments: Sequence[FragmentPresentation]  # a tuple, or ConceptFragments
    document: DocumentId | None = None
    pairs: Any = None  # optional (m, 2) int array of fragment-index pairs to wire; None: all
    tentative: float | None = None  # weight of new edges; None: the colony's
    increment: float | None = None  # reinforcement of existing edges; None: the colony's


@dataclass(frozen=True, slots=True)
class Deposit:
    """Leave ``trace`` at ``position``."""

    position: Position
    trace: Trace


@dataclass(frozen=True, slots=True)
class Emit:
    """Emit ``signal`` on the substrate."""

    signal: Signal


@dataclass(frozen=True, slots=True)
class WireNodes:
    """Wire explicit node pairs with a base weight each."""

    pairs: tuple[tuple[NodeId, NodeId, float], ...]


@dataclass(frozen=True, slots=True)
class Apoptose:
    """Die now (programmed cell death)."""


@dataclass(frozen=True, slots=True)
class SymbioseWith:
    """Try to absorb the agent ``target``."""

    target: AgentId


@dataclass(frozen=True, slots=True)
class ExportCapability:
    """Publish this agent's vocabulary as a capability deposit."""

    capability_id: str


@dataclass(frozen=True, slots=True)
class ContributeToCollective:
    """Reserved for collective behaviour; the colony does nothing with it."""


AgentAction: TypeAlias = (
    Idle
    | Move
    | EngulfDocument
    | PresentFragments
    | Deposit
    | Emit
    | WireNodes
    | Apoptose
    | SymbioseWith
    | ExportCapability
    | ContributeToCollective
)
