"""Pausing Python's cyclic garbage collector around work that creates no reference cycles.

A colony tick allocates many short-lived objects (actions, events, fragments) but creates no
reference cycles, so reference counting frees all of them. Left on, the cyclic collector
would still run every few hundred allocations and, every so often, walk every tracked object
of a large colony (its documents, agents and graph indexes): measured at W3 with 100,000
documents, that was a fifth of the run. Pausing it for a tick lets it run at most once per
tick instead (it is switched back on afterwards, so cycles made elsewhere are still found).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["GcPause", "cyclic_gc_paused"]


@contextmanager
def cyclic_gc_paused(*, to_oldest: bool = False) -> Iterator[None]:
    """Disable the cyclic garbage collector inside the block (if it was enabled).

    With ``to_oldest``, every object is moved into the collector's oldest generation
    (``gc.freeze()`` then ``gc.unfreeze()``) before the collector is turned back on, so the
    objects the block left (all alive, none in cycles) are walked again only by a full
    collection: for one bounded piece of work, such as a ``phago`` command's load, answer
    and save.

    Example:
        >>> import gc
        >>> with cyclic_gc_paused():
        ...     gc.isenabled()
        False
        >>> gc.isenabled()
        True
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        if to_oldest:
            gc.freeze()
            gc.unfreeze()
        gc.enable()


class GcPause:
    """A pause of the cyclic collector that spans several calls (a tick's phases).

    :meth:`begin` disables the collector if it is enabled; :meth:`end` enables it again if
    this pause disabled it. A begin without an end is ended by the next begin, so a tick
    given up halfway leaves the collector paused until the next tick starts at most.

    Example:
        >>> import gc
        >>> pause = GcPause()
        >>> pause.begin(); gc.isenabled()
        False
        >>> pause.end(); gc.isenabled()
        True
    """

    __slots__ = ("_paused",)

    def __init__(self) -> None:
        self._paused = False

    def begin(self) -> None:
        """Disable the collector (ending a pause left open first)."""
        self.end()
        if gc.isenabled():
            gc.disable()
            self._paused = True

    def end(self) -> None:
        """Enable the collector if :meth:`begin` disabled it."""
        if self._paused:
            self._paused = False
            gc.enable()
