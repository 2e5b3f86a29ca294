"""The Digester: finds documents, engulfs and digests them, presents their concepts.

State machine (REFERENCE.md §5.1), with the reference's defects fixed (§8 items 1, 2, 5, 6,
7, 8, 9):

* **Seeking**: if a digester with 3+ outputs senses an Anomaly or Insight signal from an agent
  it has not tried before, it tries symbiosis once with that emitter (never a livelock;
  off by default against sentinels and synthesizers, see ``symbiosis``). Otherwise it goes for
  the nearest undigested document within ``sense_radius`` that no other digester has claimed
  (the colony collects every digester's target at the start of a tick, first in agent order
  wins, so neighbours spread over different documents instead of racing for one): it engulfs
  it when closer than 1, else moves toward it at most ``speed`` per tick (by default the
  sense radius: the reference jumps straight onto any document it senses). Two digesters
  heading for the same document in one tick: the first in agent order moves, the other waits
  a tick. It keeps heading for a distant target while that stays free. With none in reach it
  forages for the nearest free document within ``forage_radius``, and beyond that heads for
  one of the nearest free documents anywhere (a k-d tree lookup; a random one of the 64
  nearest, so hungry digesters spread over a remaining region instead of crowding its edge),
  travelling to documents beyond its sense radius at ``travel_speed`` (by default in one
  move, as the reference's agents do toward a point). The Input gradient is followed only
  when no free document is left to hunt (it would lead to claimed ones). Once stressed (idle
  for half its ``max_idle``) moving toward food and losing a race no longer count as idling,
  so no document is left behind while digesters live. Only with nothing left does it explore
  with a persistent, seeded random walk. Only Input signals steer it, so export or quorum
  signals never make it sit still.
* **FoundTarget** → **Digesting** → **Presenting**: one idle tick, then keywords are presented
  (each fragment carries its source document), then it exports its vocabulary once (after two
  outputs) or deposits a Digestion trace stamped with the substrate tick.
* Idle ticks count while it has nothing to digest; at ``max_idle`` it dies (apoptosis).

Example:
    >>> from phago import Colony, Digester, Position
    >>> colony = Colony(seed=1)
    >>> _ = colony.ingest_document("t", "cell membrane protein cell", Position(0, 0))
    >>> _ = colony.spawn(Digester(Position(2, 0)))
    >>> colony.run_until_digested(50) <= 10
    True
    >>> round(colony.graph.edge_between("cell", "protein").weight, 2)
    0.1
"""

from __future__ import annotations

import json
import math
from enum import StrEnum
from typing import Any

import numpy as np
import numpy.typing as npt

from phago._arrays import unique_sorted
from phago._jit import numba_loaded
from phago._kernels import window_pairs as window_pairs_kernel
from phago.agents.base import Agent, AgentProfile, ColonyView
from phago.config import ColonyConfig, real_number
from phago.ids import AgentId, DocumentId
from phago.text import (
    Keyword,
    KnownTerms,
    analyse_keyword_labels,
    analyse_keywords,
    keyword_occurrences,
    tokenize_with_positions,
)
from phago.types import (
    AgentAction,
    Apoptose,
    BoundaryContext,
    CellHealth,
    ConceptFragments,
    Deposit,
    EngulfDocument,
    ExportCapability,
    Idle,
    Move,
    Position,
    PresentFragments,
    SignalType,
    SymbioseWith,
    SymbiosisEval,
    Trace,
    TraceType,
)

__all__ = ["Digester", "DigesterState", "window_pairs"]

# a hungry digester jumps to a random one of this many nearest free documents: spreading the
# hunters over the inside of a remaining region, not just its edge, keeps them all eating
HUNT_CHOICES = 64


class DigesterState(StrEnum):
    """States of the digester's state machine."""

    SEEKING = "seeking"
    FOUND_TARGET = "found_target"
    DIGESTING = "digesting"
    PRESENTING = "presenting"


def _prefetch_near(
    view: ColonyView, digesters: list[Digester], radius_of: str, limit: int
) -> list[Digester]:
    """Prefetch each digester's ``undigested_near(position, <its radius_of>, claimant,
    limit)`` (grouped by radius); returns those whose answer is empty, in order."""
    if not digesters:
        return []
    radii = {getattr(a, radius_of) for a in digesters}
    empty: list[Digester] = []
    for radius in radii:
        group = (
            digesters
            if len(radii) == 1
            else [a for a in digesters if getattr(a, radius_of) == radius]
        )
        answers = view.prefetch_undigested_near(
            [a.position for a in group],
            radius,
            [a.id if a.claims else None for a in group],
            limit,
        )
        empty.extend(a for a, found in zip(group, answers, strict=True) if not found)
    if len(radii) > 1:
        order = {id(a): k for k, a in enumerate(digesters)}
        empty.sort(key=lambda a: order[id(a)])
    return empty


def boundary_permeability(reinforcement_count: int, age: int, trust: float) -> float:
    """A digester's permeability (REFERENCE.md §5.1): ``clamp(0.3·min(r/10, 1) +
    0.3·min(age/100, 1) + 0.4·trust, 0, 1)``.

    Example:
        >>> boundary_permeability(5, 50, 0.5)
        0.5
        >>> boundary_permeability(100, 400, 1.0)
        1.0
    """
    r = reinforcement_count / 10.0
    a = age / 100.0
    # (conditional expressions give min()/max()'s results, without their call overhead)
    p = 0.3 * (1.0 if r > 1.0 else r) + 0.3 * (1.0 if a > 1.0 else a) + 0.4 * trust
    p = 0.0 if p < 0.0 else p
    return 1.0 if p > 1.0 else p


def window_pairs(
    text: str,
    keywords: list[Keyword],
    window: int,
    tokens: list[tuple[str, int]] | None = None,
) -> npt.NDArray[np.int64]:
    """Keyword-index pairs ``(i, j)``, ``i < j``, whose words occur within ``window`` words.

    Any occurrence counts, not only the first. ``tokens`` (from
    :func:`~phago.text.tokenize_with_positions`) saves tokenising ``text`` again.

    Example:
        >>> from phago.text import extract_keywords
        >>> kws = extract_keywords("alpha beta gamma delta")
        >>> window_pairs("alpha beta gamma delta", kws, 1).tolist()
        [[0, 1], [1, 2], [2, 3]]
    """
    toks = tokens if tokens is not None else tokenize_with_positions(text)
    kid, pos = keyword_occurrences(toks, keywords)
    return pairs_within(kid, pos, window, len(keywords))


def pairs_within(
    kid: npt.NDArray[np.int64], pos: npt.NDArray[np.int64], window: int, k: int
) -> npt.NDArray[np.int64]:
    """Pairs ``(i, j)``, ``i < j``, of the ``k`` keyword indices whose occurrences (keyword
    ``kid[n]`` at word ``pos[n]``, in text order) are within ``window`` words.

    Positions increase along the text, each word its own. The pairs come ascending. Where
    Numba is not loaded (a command forgetting in a store), they are found with NumPy, one
    pass per distance of 1 to ``window`` occurrences, rather than starting Numba for them.

    Example:
        >>> kid, pos = np.array([0, 1, 2, 0]), np.array([0, 1, 5, 6])
        >>> pairs_within(kid, pos, 1, 3).tolist()
        [[0, 1], [0, 2]]
    """
    if len(kid) < 2:
        return np.zeros((0, 2), dtype=np.int64)
    if numba_loaded():  # (a text's pairs never pay for Numba's start by themselves)
        return window_pairs_kernel(kid, pos, int(window), k)
    return _pairs_within_numpy(kid, pos, int(window), k)


def _pairs_within_numpy(
    kid: npt.NDArray[np.int64], pos: npt.NDArray[np.int64], window: int, k: int
) -> npt.NDArray[np.int64]:
    """:func:`pairs_within` with NumPy: occurrence ``a`` and ``a + s`` are within reach only
    for ``s <= window`` (positions grow by one word at least)."""
    kid = np.asarray(kid, dtype=np.int64)
    pos = np.asarray(pos, dtype=np.int64)
    codes = []
    for s in range(1, min(window, len(kid) - 1) + 1):
        near = pos[s:] - pos[:-s] <= window
        x, y = kid[:-s][near], kid[s:][near]
        apart = x != y
        codes.append(np.minimum(x, y)[apart] * k + np.maximum(x, y)[apart])
    found = unique_sorted(np.concatenate(codes)) if codes else np.zeros(0, dtype=np.int64)
    return np.stack([found // k, found % k], axis=1).astype(np.int64)


class Digester(Agent):
    """An agent that turns documents into concepts and Hebbian edges.

    Args:
        position: where it starts.
        seed: seed of its random generator (a whole number >= 0; None: derived from the
            colony's seed).
        max_idle: idle ticks before apoptosis (reference: 30; a whole number >= 1).
        sense_radius: how far it sees documents and signals (reference: 10; finite, >= 0).
        keyword_boost: score added to keywords it already knows (finite, >= 0).
        speed: the longest move in one tick (finite, > 0).
        forage_radius: how far it looks for undigested documents when none is in sense range
            (finite, >= 0).
        symbiosis: absorb sentinels and synthesizers whose signals it senses (off by default,
            so the immune and emergence agents survive; the reference always does it).
        hunger_search: with no document within ``forage_radius``, head for a near undigested
            document anywhere instead of wandering (a k-d tree lookup).
        claims: look past documents another digester is already heading for (the colony
            collects each digester's target at the start of a tick), so neighbours spread over
            different documents instead of racing for the same one.
        travel_speed: the longest move toward a document beyond ``sense_radius`` (finite,
            > 0; None: it goes straight there, as the reference's agents do when oriented
            toward a point).

    Raises:
        ConfigError: a setting out of its range (the message names it and the value).
        InvalidPosition: ``position`` is not a pair of finite numbers.
    """

    agent_type = "digester"

    def __init__(
        self,
        position: Position | tuple[float, float],
        *,
        seed: int | None = None,
        max_idle: int = 30,
        sense_radius: float = 10.0,
        keyword_boost: float = 3.0,
        speed: float = 10.0,
        forage_radius: float = 40.0,
        symbiosis: bool = False,
        hunger_search: bool = True,
        claims: bool = True,
        travel_speed: float | None = None,
    ) -> None:
        super().__init__(
            position,
            seed=seed,
            max_idle=max_idle,
        )
        self.sense_radius = real_number(sense_radius, "sense_radius", 0.0)
        self.keyword_boost = real_number(keyword_boost, "keyword_boost", 0.0)
        self.speed = real_number(speed, "speed", 0.0, low_open=True)
        self.forage_radius = real_number(forage_radius, "forage_radius", 0.0)
        self.symbiosis = bool(symbiosis)
        self.hunger_search = bool(hunger_search)
        self.claims = bool(claims)
        self.travel_speed = (
            None
            if travel_speed is None
            else real_number(travel_speed, "travel_speed", 0.0, low_open=True)
        )
        self.state = DigesterState.SEEKING
        self.target: DocumentId | None = None
        self.current_document: DocumentId | None = None
        self.engulfed: str | None = None
        self.known_vocabulary: set[str] = KnownTerms()
        self.presented: dict[str, int] = {}  # distinct presented terms -> times presented
        self._presented_order: list[str] = []
        self._n_externalized = 0
        self.integrated_from: set[AgentId] = set()
        self.symbionts: list[tuple[AgentId, str]] = []
        self.tried_symbiosis: set[AgentId] = set()
        self.has_exported = False
        self._permeability = 0.0
        self._heading = 0.0
        self._max_fragments: int | None = None
        self._window: int | None = None

    def bind(self, agent_id: AgentId, seed: int, config: ColonyConfig) -> None:
        """Set id and generator; take the colony's extraction bounds."""
        super().bind(agent_id, seed, config)
        self._max_fragments = config.max_fragments
        self._window = config.wiring_window
        self._heading = float(self.rng.uniform(0.0, 2.0 * math.pi))

    # ------------------------------------------------------------------ decision

    def sense(self, view: ColonyView) -> AgentAction:
        """One step of the state machine (see the module docstring)."""
        self.age += 1
        if self.health() is CellHealth.SENESCENT:
            return Apoptose()
        state = self.state
        if state is DigesterState.SEEKING:
            return self._seek(view)
        if state is DigesterState.FOUND_TARGET:
            if self.engulfed is not None:
                self.state = DigesterState.DIGESTING
            else:  # lost the race; a stressed (searching) digester does not count it as idle
                self.state = DigesterState.SEEKING
                self.target = None
                if not (self.hunger_search and self.idle >= self.max_idle // 2):
                    self.idle += 1
            return Idle()
        if state is DigesterState.DIGESTING:
            labels = self._lyse_labels()
            if not labels:
                self.state = DigesterState.SEEKING
                self.idle += 1
                return Idle()
            self.state = DigesterState.PRESENTING
            return self._presentation(labels)
        # PRESENTING
        self.state = DigesterState.SEEKING
        self.current_document = None
        if self.useful_outputs >= 2 and not self.has_exported:
            self.has_exported = True
            return ExportCapability(f"vocab-{self.id:016x}")
        return Deposit(self.position, Trace(self.id, TraceType.DIGESTION, 1.0, view.tick))

    @classmethod
    def prepare_sense(cls, agents: list[Agent], view: ColonyView) -> None:
        """Ask the view, in one pass each, for what seeking digesters will look for (see
        :meth:`_seek`): every one's nearest documents; then, for those with none in sense
        range and no target left, the nearest within forage range; then, for hungry ones with
        none there either, the candidates of their hunt."""
        if cls._seek is not Digester._seek or cls.sense is not Digester.sense:  # seeks otherwise
            return
        seeking = [
            a
            for a in agents
            if isinstance(a, Digester)
            and a.state is DigesterState.SEEKING
            and a.idle < a.max_idle  # not senescent (sense() returns Apoptose then)
        ]
        # only the nearest three can be chosen in _seek
        empty = _prefetch_near(view, seeking, "sense_radius", 3)
        foraging = [
            a
            for a in empty
            if a.forage_radius > a.sense_radius
            and not (  # _seek keeps heading for its target while it is free
                a.claims
                and a.target is not None
                and view.available_document_position(a.target, a.id) is not None
            )
        ]
        # (a digester without claims follows the Input gradient before it hunts)
        hunting = [
            a
            for a in _prefetch_near(view, foraging, "forage_radius", 1)
            if a.claims and a.hunger_search
        ]
        if hunting:
            view.prefetch_nearest_undigested_anywhere(
                [a.position for a in hunting], HUNT_CHOICES, [a.id for a in hunting]
            )

    def _seek(self, view: ColonyView) -> AgentAction:
        pos = self.position
        if self.symbiosis and self.useful_outputs >= 3 and not self.symbionts:
            sig = view.first_signal_near(
                pos, self.sense_radius, (SignalType.ANOMALY, SignalType.INSIGHT), self.id
            )
            if sig is not None and sig.emitter not in self.tried_symbiosis:
                self.tried_symbiosis.add(sig.emitter)
                return SymbioseWith(sig.emitter)
        # once stressed, moving toward food is not idling, so no document is left behind
        counts = not (self.hunger_search and self.idle >= self.max_idle // 2)
        claimant = self.id if self.claims else None
        previous, self.target = self.target, None
        # only the nearest three can be chosen below (prepare_sense asks for exactly this)
        near = view.undigested_near(pos, self.sense_radius, claimant, 3)
        if near:
            dist, doc = near[0]
            if dist >= 1.0 and not counts and not self.claims and len(near) > 1:
                # a stressed digester keeps losing races for the nearest document to the herd
                # around it: it picks one of the three nearest instead
                dist, doc = near[int(self.rng.integers(0, min(3, len(near))))]
            self.target = doc
            if dist < 1.0:
                self.state = DigesterState.FOUND_TARGET
                return EngulfDocument(doc)
            self.idle += counts
            return Move(self._step_toward(view.document_position(doc), dist))
        if claimant is not None and previous is not None:
            # keep heading for a distant target while it is still free (no dithering)
            target = view.available_document_position(previous, claimant)
            if target is not None:
                self.idle += counts
                self.target = previous
                dist = math.hypot(target.x - pos.x, target.y - pos.y)
                return Move(self._step_toward(target, dist, dist > self.sense_radius))
        far = (
            view.undigested_near(pos, self.forage_radius, claimant, 1)
            if self.forage_radius > self.sense_radius
            else []
        )
        if far:
            self.idle += counts
            dist, doc = far[0]
            self.target = doc
            return Move(self._step_toward(view.document_position(doc), dist, True))
        if claimant is not None:
            # the Input gradient here can only lead to documents others have claimed
            hunt = self._hunt(view, counts, claimant)
            if hunt is not None:
                return hunt
        grad = view.gradient(pos, self.sense_radius, SignalType.INPUT)
        if grad is not None:
            self.idle += 1
            return Move(Position(pos.x + grad.direction.x, pos.y + grad.direction.y))
        if claimant is None:
            hunt = self._hunt(view, counts, claimant)
            if hunt is not None:
                return hunt
        self.idle += 1
        self._heading += float(self.rng.normal(0.0, 0.6))
        step = min(2.0, self.speed)
        return Move(
            Position(pos.x + step * math.cos(self._heading), pos.y + step * math.sin(self._heading))
        )

    def _hunt(self, view: ColonyView, counts: bool, claimant: AgentId | None) -> Move | None:
        """Nothing within reach: head for one of the nearest free documents anywhere."""
        if not self.hunger_search:
            return None
        found = view.nearest_undigested_anywhere(self.position, HUNT_CHOICES, self.rng, claimant)
        if found is None:
            return None
        self.idle += counts
        dist, doc = found
        self.target = doc
        return Move(self._step_toward(view.document_position(doc), dist, True))

    def _step_toward(self, target: Position, dist: float, travel: bool = False) -> Position:
        speed = self.speed
        if travel:
            if self.travel_speed is None:
                return target
            speed = max(speed, self.travel_speed)
        if dist <= speed:
            return target
        f = speed / dist
        return Position(
            self.position.x + (target.x - self.position.x) * f,
            self.position.y + (target.y - self.position.y) * f,
        )

    def _presentation(self, labels: list[str]) -> PresentFragments:
        doc = self.current_document
        frags = ConceptFragments(labels, doc, self.position)  # fragments built only if read
        pairs = None
        sel, self._occurrences = self._occurrences, None
        if self._window is not None and sel is not None:
            pairs = pairs_within(sel[0], sel[1], self._window, len(labels))
        return PresentFragments(frags, doc, pairs)

    # ------------------------------------------------------------------ digestion

    # (keyword index, raw-token position) of every keyword occurrence of the lysed document,
    # kept from lysis to presentation within one sense() call
    _occurrences: tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]] | None = None

    @property
    def claimed_document(self) -> DocumentId | None:
        """The document it is moving toward (while seeking with ``claims`` on)."""
        if self.claims and self.state is DigesterState.SEEKING:
            return self.target
        return None

    @property
    def is_digesting(self) -> bool:
        """True from engulfing a document until its fragments are presented."""
        return self.engulfed is not None or self.state is DigesterState.DIGESTING

    def engulf_document(self, document: DocumentId | None, text: str) -> str:
        """Take in a document (the colony calls this after a successful EngulfDocument)."""
        if self.engulfed is not None:
            return "busy"
        if not text.strip():
            return "indigestible"
        self.engulfed = text
        self.current_document = document
        return "engulfed"

    def lyse(self) -> list[Keyword]:
        """Break the engulfed text into keywords (boosting known vocabulary)."""
        text, self.engulfed = self.engulfed, None
        if text is None:
            return []
        keywords, kid, pos = analyse_keywords(
            text,
            self.known_vocabulary or None,
            boost=self.keyword_boost,
            max_keywords=self._max_fragments,
        )
        self._digested([k.label for k in keywords], kid, pos)
        return keywords

    def _lyse_labels(self) -> list[str]:
        """:meth:`lyse`, keeping only the keywords' labels (what a presentation needs)."""
        text, self.engulfed = self.engulfed, None
        if text is None:
            return []
        labels, kid, pos = analyse_keyword_labels(
            text,
            self.known_vocabulary or None,
            boost=self.keyword_boost,
            max_keywords=self._max_fragments,
        )
        self._digested(labels, kid, pos)
        return labels

    def _digested(
        self, labels: list[str], kid: npt.NDArray[np.int64], pos: npt.NDArray[np.int64]
    ) -> None:
        """Count a lysis that gave ``labels`` (keywords in order) occurring at ``kid``/``pos``."""
        if not labels:
            return
        self.useful_outputs += 1
        self.idle = 0
        presented = self.presented
        order = self._presented_order
        for label in labels:
            n = presented.get(label)
            if n is None:
                presented[label] = 1
                order.append(label)
            else:
                presented[label] = n + 1
        if self._window is not None:
            self._occurrences = (kid, pos)

    # ------------------------------------------------------------------ transfer

    def export_vocabulary(self) -> bytes | None:
        """JSON capability: distinct presented terms, origin, documents digested."""
        if not self.presented:
            return None
        return json.dumps(
            {
                "terms": list(self.presented),
                "origin": int(self.id),
                "document_count": self.useful_outputs,
            }
        ).encode("utf-8")

    def integrate_vocabulary(self, payload: bytes) -> int:
        """Learn another digester's exported terms, once per origin."""
        try:
            data = json.loads(payload.decode("utf-8"))
            origin = AgentId(int(data["origin"]))
            terms = [str(t) for t in data["terms"]]
        except (ValueError, KeyError, TypeError, UnicodeDecodeError):
            return 0
        if origin in self.integrated_from or origin == self.id:
            return 0
        self.integrated_from.add(origin)
        self.known_vocabulary.update(terms)
        return len(terms)

    # ------------------------------------------------------------------ symbiosis

    def profile(self) -> AgentProfile:
        """Type ``digester`` with its vocabulary capability."""
        return AgentProfile(self.id, self.agent_type, ("vocabulary",), self.health())

    def evaluate_symbiosis(self, other: AgentProfile) -> SymbiosisEval | None:
        """Coexist with digesters and dying agents; integrate anything else."""
        if other.agent_type == "digester" or other.health.should_die:
            return SymbiosisEval.COEXIST
        return SymbiosisEval.INTEGRATE

    def absorb_symbiont(self, other: AgentProfile, payload: bytes) -> bool:
        """Absorb another agent, learning its vocabulary if it exported one."""
        if payload:
            try:
                terms = json.loads(payload.decode("utf-8")).get("terms", [])
                self.known_vocabulary.update(str(t) for t in terms)
            except (ValueError, AttributeError, UnicodeDecodeError):
                pass
        self.symbionts.append((other.id, other.agent_type))
        return True

    # ------------------------------------------------------------------ dissolution

    @property
    def permeability(self) -> float:
        """Boundary permeability set by :meth:`modulate_boundary`."""
        return self._permeability

    def modulate_boundary(self, context: BoundaryContext) -> None:
        """``p = clamp(0.3·min(r/10, 1) + 0.3·min(age/100, 1) + 0.4·trust, 0, 1)``."""
        self._permeability = boundary_permeability(
            context.reinforcement_count, context.age, context.trust
        )

    def adjust_boundary(self, reinforcement_count: int, age: int, trust: float) -> None:
        """:meth:`modulate_boundary` without building its context (unless a subclass
        overrides :meth:`modulate_boundary`).

        Example:
            >>> d = Digester(Position(0, 0))
            >>> d.adjust_boundary(100, 400, 1.0)
            >>> d.permeability
            1.0
        """
        if type(self).modulate_boundary is Digester.modulate_boundary:
            self._permeability = boundary_permeability(reinforcement_count, age, trust)
        else:
            super().adjust_boundary(reinforcement_count, age, trust)

    def vocabulary_terms(self) -> list[str]:
        """Presented terms, then known terms not presented."""
        out = list(self.presented)
        out.extend(t for t in sorted(self.known_vocabulary) if t not in self.presented)
        return out

    def externalize_vocabulary(self) -> list[str]:
        """Presented terms not externalised before (once per term per agent)."""
        order = self._presented_order
        if self._n_externalized >= len(order):
            return []
        new = order[self._n_externalized :]
        self._n_externalized = len(order)
        return new

    @property
    def externalized(self) -> set[str]:
        """The terms it has externalised: the first ones it presented, in the order it first
        presented them, up to its last :meth:`externalize_vocabulary` (a copy)."""
        return set(self._presented_order[: self._n_externalized])

    def internalize_vocabulary(self, terms: list[str]) -> None:
        """Add ``terms`` to the known vocabulary."""
        self.known_vocabulary.update(terms)

    def vocabulary_size(self) -> int:
        """Known plus presented distinct terms."""
        return len(self.known_vocabulary) + len(self.presented)

    def final_fragments(self) -> tuple[str, ...]:
        """Every distinct term it presented."""
        return tuple(self.presented)

    # ------------------------------------------------------------------ persistence

    def state_dict(self) -> dict[str, Any]:
        """Complete state, JSON-compatible except the generator state (a dict)."""
        d = super().state_dict()
        d.update(
            sense_radius=self.sense_radius,
            keyword_boost=self.keyword_boost,
            speed=self.speed,
            forage_radius=self.forage_radius,
            symbiosis=self.symbiosis,
            hunger_search=self.hunger_search,
            claims=self.claims,
            travel_speed=self.travel_speed,
            state=self.state.value,
            target=None if self.target is None else int(self.target),
            current_document=None if self.current_document is None else int(self.current_document),
            engulfed=self.engulfed,
            known_vocabulary=sorted(self.known_vocabulary),
            presented=list(self.presented.items()),
            integrated_from=sorted(int(a) for a in self.integrated_from),
            symbionts=[(int(a), t) for a, t in self.symbionts],
            tried_symbiosis=sorted(int(a) for a in self.tried_symbiosis),
            externalized=sorted(self.externalized),
            n_externalized=self._n_externalized,
            has_exported=self.has_exported,
            permeability=self._permeability,
            heading=self._heading,
            max_fragments=self._max_fragments,
            window=self._window,
        )
        return d

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned."""
        super().load_state_dict(state)
        self.sense_radius = float(state["sense_radius"])
        self.keyword_boost = float(state["keyword_boost"])
        self.speed = float(state["speed"])
        self.forage_radius = float(state["forage_radius"])
        self.symbiosis = bool(state["symbiosis"])
        self.hunger_search = bool(state.get("hunger_search", True))
        self.claims = bool(state.get("claims", True))
        ts = state.get("travel_speed")
        self.travel_speed = None if ts is None else float(ts)
        self.state = DigesterState(state["state"])
        self.target = None if state["target"] is None else DocumentId(int(state["target"]))
        cd = state["current_document"]
        self.current_document = None if cd is None else DocumentId(int(cd))
        self.engulfed = state["engulfed"]
        self.known_vocabulary = KnownTerms(state["known_vocabulary"])
        self.presented = {t: int(n) for t, n in state["presented"]}
        self._presented_order = list(self.presented)
        self._n_externalized = int(state.get("n_externalized", len(state["externalized"])))
        self._occurrences = None
        self.integrated_from = {AgentId(int(a)) for a in state["integrated_from"]}
        self.symbionts = [(AgentId(int(a)), str(t)) for a, t in state["symbionts"]]
        self.tried_symbiosis = {AgentId(int(a)) for a in state["tried_symbiosis"]}
        self.has_exported = bool(state["has_exported"])
        self._permeability = float(state["permeability"])
        self._heading = float(state["heading"])
        self._max_fragments = state["max_fragments"]
        self._window = state["window"]
