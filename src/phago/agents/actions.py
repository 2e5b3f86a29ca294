"""Checking the actions of agents written outside phago.

phago's own agents build their actions correctly, and the colony applies them without a
look (the Act phase is hot). An agent class of a user's is checked after every Sense, before
anything of the tick is applied: each action must be well formed (a :class:`Move` or
:class:`Deposit` at a position, a :class:`PresentFragments` of fragments with edge weights
the colony takes, a :class:`WireNodes` of node pairs with weights in ``(0, 1]``, ...). A
position given as a pair of numbers is taken as a :class:`~phago.types.Position`; anything
else malformed is an :class:`~phago.errors.InvalidAction` naming the agent, raised before
the graph or the substrate changes (it used to surface as an IndexError or AttributeError
deep in the Act phase, or as a negative or NaN edge weight in the graph).

Example:
    >>> from phago.agents.digester import Digester
    >>> from phago.types import Move, Position
    >>> a = Digester(Position(0, 0))
    >>> checked_action(a, Move((3, 4)))
    Move(position=Position(x=3.0, y=4.0))
    >>> checked_action(a, Move("north"))
    Traceback (most recent call last):
    ...
    phago.errors.InvalidAction: agent 0 (Digester): Move: position must be a pair of numbers, \
got 'north'
"""

from __future__ import annotations

import math
import operator
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, get_args

import numpy as np

from phago.errors import InvalidAction, InvalidAgent, InvalidPosition
from phago.types import (
    AgentAction,
    ConceptFragments,
    Deposit,
    Emit,
    EngulfDocument,
    FragmentPresentation,
    Move,
    Position,
    PresentFragments,
    Signal,
    SymbioseWith,
    Trace,
    WireNodes,
)

if TYPE_CHECKING:
    from phago.agents.base import Agent

__all__ = ["ACTION_TYPES", "check_actions", "checked_action", "checked_actions", "is_phagos_own"]


ACTION_TYPES = frozenset(get_args(AgentAction))
"""The classes an agent's ``sense`` may return (:data:`phago.types.AgentAction`)."""


def check_actions(agents: Sequence[Agent], actions: Sequence[object]) -> None:
    """Refuse, as :class:`InvalidAgent`, the first of ``actions`` (what each of ``agents``
    sensed) that is not an action (every agent, phago's own too): an agent's ``sense`` must
    return one of :data:`phago.types.AgentAction` (``Idle()`` to do nothing), not None or
    anything else.

    Example:
        >>> from phago.agents.digester import Digester
        >>> from phago.types import Idle
        >>> a = Digester(Position(0, 0))
        >>> check_actions([a, a], [Idle(), Idle()])
        >>> check_actions([a], [None])
        Traceback (most recent call last):
        ...
        phago.errors.InvalidAgent: agent 0 (Digester): sense() returned NoneType, not an \
action (return Idle() to do nothing)
    """
    kinds = tuple(ACTION_TYPES)
    for agent, action in zip(agents, actions, strict=True):
        if not isinstance(action, kinds):
            raise InvalidAgent(
                f"agent {agent.id} ({type(agent).__name__}): sense() returned "
                f"{type(action).__name__}, not an action (return Idle() to do nothing)"
            )


def is_phagos_own(kind: type) -> bool:
    """Whether the agent class ``kind`` is one of phago's own (whose actions go unchecked).

    Example:
        >>> from phago.agents.digester import Digester
        >>> is_phagos_own(Digester), is_phagos_own(int)
        (True, False)
    """
    return kind.__module__.startswith("phago.")


def checked_actions(agents: Sequence[Agent], actions: list[AgentAction]) -> None:
    """Check, in place, the actions of the agents of classes not phago's own
    (:func:`checked_action`; a position given as a pair becomes a Position).

    Raises:
        InvalidAction: the first malformed action (nothing is applied).
    """
    for i, agent in enumerate(agents):
        if not is_phagos_own(type(agent)):
            actions[i] = checked_action(agent, actions[i])


def _fail(agent: Agent, action: object, problem: str) -> InvalidAction:
    return InvalidAction(
        f"agent {agent.id} ({type(agent).__name__}): {type(action).__name__}: {problem}"
    )


def _position(agent: Agent, action: object, value: object) -> Position:
    if type(value) is Position:
        return value
    try:
        return Position.of(value)
    except InvalidPosition as exc:
        raise _fail(agent, action, str(exc)) from None


def _weight(agent: Agent, action: object, name: str, value: object, low_open: bool) -> None:
    """A weight in ``(0, 1]`` (``low_open``) or ``[0, 1]``."""
    ok = isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool)
    w = float(value) if ok else math.nan  # type: ignore[arg-type]
    if not (0.0 < w <= 1.0 if low_open else 0.0 <= w <= 1.0):
        span = "(0, 1]" if low_open else "[0, 1]"
        raise _fail(agent, action, f"{name} must be a number in {span}, got {value!r}")


def _whole(agent: Agent, action: object, name: str, value: object) -> None:
    try:
        operator.index(value)  # type: ignore[arg-type]
    except TypeError:
        raise _fail(agent, action, f"{name} must be a whole number, got {value!r}") from None


def checked_action(agent: Agent, action: AgentAction) -> AgentAction:
    """``action`` (one of ``agent``'s) if well formed; a :class:`Move` or :class:`Deposit`
    whose position is a pair of numbers, with a :class:`~phago.types.Position` instead.

    Raises:
        InvalidAction: a malformed action (the message names the agent and what is wrong).
    """
    kind = type(action)
    if kind is Move:
        assert isinstance(action, Move)
        p = _position(agent, action, action.position)
        return action if p is action.position else Move(p)
    if kind is Deposit:
        assert isinstance(action, Deposit)
        if not isinstance(action.trace, Trace):
            raise _fail(agent, action, f"trace must be a Trace, got {action.trace!r}")
        p = _position(agent, action, action.position)
        return action if p is action.position else Deposit(p, action.trace)
    if kind is Emit:
        assert isinstance(action, Emit)
        if not isinstance(action.signal, Signal):
            raise _fail(agent, action, f"signal must be a Signal, got {action.signal!r}")
    elif kind is PresentFragments:
        assert isinstance(action, PresentFragments)
        _check_presentation(agent, action)
    elif kind is WireNodes:
        assert isinstance(action, WireNodes)
        _check_wiring(agent, action)
    elif kind is EngulfDocument:
        assert isinstance(action, EngulfDocument)
        _whole(agent, action, "document", action.document)
    elif kind is SymbioseWith:
        assert isinstance(action, SymbioseWith)
        _whole(agent, action, "target", action.target)
    return action


def _check_presentation(agent: Agent, action: PresentFragments) -> None:
    frags = action.fragments
    if not isinstance(frags, Sequence) or isinstance(frags, str | bytes):
        raise _fail(agent, action, f"fragments must be a sequence of fragments, got {frags!r}")
    if not isinstance(frags, ConceptFragments):
        for f in frags:
            if not isinstance(f, FragmentPresentation):
                raise _fail(agent, action, f"a fragment must be a FragmentPresentation, got {f!r}")
            _position(agent, action, f.position)
    if action.pairs is not None:
        try:
            pairs = np.asarray(action.pairs)
        except (TypeError, ValueError):
            pairs = np.zeros(0, dtype=np.float64)
        if pairs.size and (pairs.ndim != 2 or pairs.shape[1] != 2 or pairs.dtype.kind not in "iu"):
            raise _fail(agent, action, "pairs must be an (m, 2) array of fragment indices")
        n = len(frags)  # (a negative index counts from the end, as NumPy's do)
        if pairs.size and (int(pairs.min()) < -n or int(pairs.max()) >= n):
            raise _fail(agent, action, f"pairs name fragments outside {-n} to {n - 1}")
    if action.tentative is not None:
        _weight(agent, action, "tentative", action.tentative, low_open=True)
    if action.increment is not None:
        _weight(agent, action, "increment", action.increment, low_open=False)


def _check_wiring(agent: Agent, action: WireNodes) -> None:
    pairs: Any = action.pairs
    try:
        items = list(pairs)
    except TypeError:
        raise _fail(
            agent, action, f"pairs must be (node, node, weight) triples, got {pairs!r}"
        ) from None
    for item in items:
        if not isinstance(item, tuple | list) or len(item) != 3:
            raise _fail(agent, action, f"a pair must be (node, node, weight), got {item!r}")
        _whole(agent, action, "a node id", item[0])
        _whole(agent, action, "a node id", item[1])
        _weight(agent, action, "a weight", item[2], low_open=True)
