"""The agent interface the colony drives (REFERENCE.md §1.10).

An agent decides in :meth:`Agent.sense` from a read-only :class:`ColonyView` and returns one
action; the colony applies actions in the Act phase. Optional hooks (vocabulary transfer,
symbiosis, boundary dissolution) have do-nothing defaults.

Example:
    >>> from phago.agents.base import Agent
    >>> from phago.types import Idle, Position
    >>> class Rock(Agent):
    ...     agent_type = "rock"
    ...     def sense(self, view):
    ...         self.age += 1
    ...         return Idle()
    >>> Rock(Position(0, 0)).agent_type
    'rock'
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from phago.config import whole_number
from phago.ids import AgentId, DocumentId
from phago.types import (
    AgentAction,
    BoundaryContext,
    CellHealth,
    DeathCause,
    DeathSignal,
    Gradient,
    Position,
    Signal,
    SignalType,
    SymbiosisEval,
    Trace,
    TraceType,
)

if TYPE_CHECKING:
    from phago.config import ColonyConfig
    from phago.graph import HebbianGraph

__all__ = ["Agent", "AgentProfile", "ColonyView"]


class ColonyView(Protocol):
    """What an agent may read while it decides (nothing here mutates the colony)."""

    @property
    def tick(self) -> int: ...

    @property
    def graph(self) -> HebbianGraph: ...

    @property
    def config(self) -> ColonyConfig: ...

    def undigested_near(
        self,
        position: Position,
        radius: float,
        claimant: AgentId | None = None,
        limit: int | None = None,
    ) -> list[tuple[float, DocumentId]]: ...

    def prefetch_undigested_near(
        self,
        positions: Sequence[Position],
        radius: float,
        claimants: Sequence[AgentId | None],
        limit: int,
    ) -> list[list[tuple[float, DocumentId]]]: ...

    def prefetch_nearest_undigested_anywhere(
        self,
        positions: Sequence[Position],
        choices: int,
        claimants: Sequence[AgentId | None],
    ) -> None: ...

    def document_position(self, doc: DocumentId) -> Position: ...

    def available_document_position(
        self, doc: DocumentId, claimant: AgentId | None = None
    ) -> Position | None: ...

    def nearest_undigested_anywhere(
        self,
        position: Position,
        choices: int = 1,
        rng: np.random.Generator | None = None,
        claimant: AgentId | None = None,
    ) -> tuple[float, DocumentId] | None: ...

    def gradient(
        self, position: Position, radius: float, signal_type: SignalType
    ) -> Gradient | None: ...

    def signals_near(self, position: Position, radius: float) -> list[Signal]: ...

    def first_signal_near(
        self,
        position: Position,
        radius: float,
        types: tuple[SignalType, ...],
        exclude_emitter: AgentId | None = None,
    ) -> Signal | None: ...

    def traces_near(
        self, position: Position, radius: float, trace_type: TraceType | None = None
    ) -> list[Trace]: ...

    def signal_count_near(self, position: Position, radius: float) -> int: ...


class AgentProfile:
    """What one agent can learn about another before symbiosis."""

    __slots__ = ("agent_type", "capabilities", "health", "id")

    def __init__(
        self, id: AgentId, agent_type: str, capabilities: tuple[str, ...], health: CellHealth
    ) -> None:
        self.id = id
        self.agent_type = agent_type
        self.capabilities = capabilities
        self.health = health


class Agent:
    """Base class of colony agents.

    Subclasses set :attr:`agent_type` and implement :meth:`sense`. The colony assigns
    :attr:`id` and a seeded random generator when the agent is spawned.

    Args:
        position: where the agent starts (a Position or a pair of numbers).
        seed: seed of the agent's random generator (a whole number >= 0); None derives one
            from the colony's seed.
        max_idle: idle ticks after which the agent is senescent and dies (a whole number
            >= 1).

    Raises:
        ConfigError: ``seed`` or ``max_idle`` out of range (or not a whole number).
        InvalidPosition: ``position`` is not a pair of finite numbers.
    """

    agent_type: str = "agent"

    def __init__(
        self,
        position: Position | tuple[float, float],
        *,
        seed: int | None = None,
        max_idle: int = 30,
    ) -> None:
        self.position: Position = Position.of(position)
        self.seed: int | None = None if seed is None else whole_number(seed, "seed", 0)
        self.max_idle = whole_number(max_idle, "max_idle", 1)
        self.id: AgentId = AgentId(0)
        self.age = 0
        self.idle = 0
        self.useful_outputs = 0
        self.generation = 0
        self.seen_nodes = 0  # graph nodes already considered for internalisation
        self.reinforcement_saturated = False  # vocabulary reinforcement reached 100
        self.rng: np.random.Generator = np.random.default_rng(self.seed or 0)

    # -- lifecycle ---------------------------------------------------------------------------

    def bind(self, agent_id: AgentId, seed: int, config: ColonyConfig) -> None:
        """Called by the colony at spawn: sets the id and seeds the generator."""
        self.id = agent_id
        if self.seed is None:
            self.seed = seed
        self.rng = np.random.default_rng(self.seed)

    def sense(self, view: ColonyView) -> AgentAction:
        """Decide this tick's action from a read-only view. Must not mutate the colony.

        Returns:
            One of :data:`phago.types.AgentAction` (``Idle()`` to do nothing); anything
            else stops the tick with :class:`~phago.errors.InvalidAgent`.
        """
        raise NotImplementedError

    @classmethod
    def prepare_sense(cls, agents: list[Agent], view: ColonyView) -> None:
        """Called once per Sense phase, before any agent senses, with every agent of exactly
        this class (in colony order): a place to ask the view for many agents' queries at
        once (:meth:`ColonyView.prefetch_undigested_near`). It must not change the agents'
        decisions; the default does nothing.
        """

    def health(self) -> CellHealth:
        """Self-assessment: senescent at ``max_idle`` idle ticks, stressed from half of it."""
        if self.idle >= self.max_idle:
            return CellHealth.SENESCENT
        if self.idle >= self.max_idle // 2:
            return CellHealth.STRESSED
        return CellHealth.HEALTHY

    @property
    def is_digesting(self) -> bool:
        """True while the agent holds consumed text it has not presented yet."""
        return False

    @property
    def claimed_document(self) -> DocumentId | None:
        """The document this agent is heading for, if any.

        At the start of each tick the colony collects these claims (the first agent in agent
        order keeps a contested one); agents that pass ``claimant`` to the view's document
        queries then look past documents another agent is already heading for.
        """
        return None

    def engulf_document(self, document: DocumentId | None, text: str) -> str:
        """Take in a document's text. Returns ``"engulfed"``, ``"busy"`` or ``"indigestible"``."""
        return "indigestible"

    def final_fragments(self) -> tuple[str, ...]:
        """What the agent leaves in its death signal."""
        return ()

    def prepare_death_signal(self, cause: DeathCause | None = None) -> DeathSignal:
        """The agent's death signal."""
        return DeathSignal(
            agent_id=self.id,
            total_ticks=self.age,
            useful_outputs=self.useful_outputs,
            final_fragments=self.final_fragments(),
            cause=cause or DeathCause("self_assessed", health=self.health()),
        )

    # -- optional hooks ------------------------------------------------------------------------

    def export_vocabulary(self) -> bytes | None:
        """Serialised vocabulary capability, or None."""
        return None

    def integrate_vocabulary(self, payload: bytes) -> int:
        """Integrate a capability payload; returns terms integrated (0: nothing done)."""
        return 0

    def profile(self) -> AgentProfile:
        """What others see of this agent."""
        return AgentProfile(self.id, self.agent_type, (), self.health())

    def evaluate_symbiosis(self, other: AgentProfile) -> SymbiosisEval | None:
        """Verdict on absorbing ``other``; None: no opinion."""
        return None

    def absorb_symbiont(self, other: AgentProfile, payload: bytes) -> bool:
        """Absorb ``other``; True if absorbed."""
        return False

    @property
    def permeability(self) -> float:
        """Boundary permeability in [0, 1]."""
        return 0.0

    def modulate_boundary(self, context: BoundaryContext) -> None:
        """Adjust permeability from the colony's feedback."""

    def adjust_boundary(self, reinforcement_count: int, age: int, trust: float) -> None:
        """What the colony calls each tick: :meth:`modulate_boundary` with a
        :class:`~phago.types.BoundaryContext` of these values (an agent may skip building
        the context when the result is the same).

        Example:
            >>> from phago import Position
            >>> from phago.types import BoundaryContext
            >>> class Listener(Agent):
            ...     def sense(self, view):
            ...         raise NotImplementedError
            ...     def modulate_boundary(self, context):
            ...         print(context)
            >>> Listener(Position(0, 0)).adjust_boundary(12, 40, 0.3)
            BoundaryContext(reinforcement_count=12, age=40, trust=0.3)
        """
        self.modulate_boundary(BoundaryContext(reinforcement_count, age, trust))

    def vocabulary_terms(self) -> list[str]:
        """Distinct terms the agent knows or presented (for dissolution)."""
        return []

    def externalize_vocabulary(self) -> list[str]:
        """Terms not yet externalised (each term is externalised once per agent)."""
        return []

    def internalize_vocabulary(self, terms: list[str]) -> None:
        """Learn ``terms``."""

    def vocabulary_size(self) -> int:
        """Size of the agent's vocabulary."""
        return 0

    def state_dict(self) -> dict[str, Any]:
        """Full state for persistence (overridden by subclasses)."""
        return {
            "position": (self.position.x, self.position.y),
            "seed": self.seed,
            "max_idle": self.max_idle,
            "id": int(self.id),
            "age": self.age,
            "idle": self.idle,
            "useful_outputs": self.useful_outputs,
            "generation": self.generation,
            "seen_nodes": self.seen_nodes,
            "reinforcement_saturated": self.reinforcement_saturated,
            "rng": self.rng.bit_generator.state,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned."""
        self.position = Position(*state["position"])
        self.seed = state["seed"]
        self.max_idle = int(state["max_idle"])
        self.id = AgentId(int(state["id"]))
        self.age = int(state["age"])
        self.idle = int(state["idle"])
        self.useful_outputs = int(state["useful_outputs"])
        self.generation = int(state.get("generation", 0))
        self.seen_nodes = int(state.get("seen_nodes", 0))
        self.reinforcement_saturated = bool(state.get("reinforcement_saturated", False))
        self.rng = np.random.default_rng()
        self.rng.bit_generator.state = state["rng"]
