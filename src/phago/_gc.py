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

__all__ = ["cyclic_gc_paused"]


@contextmanager
def cyclic_gc_paused() -> Iterator[None]:
    """Disable the cyclic garbage collector inside the block (if it was enabled).

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
        gc.enable()
