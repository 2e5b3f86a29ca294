"""Ctrl-C at tick boundaries for a colony run in the main thread.

A ``KeyboardInterrupt`` raised in the middle of a tick leaves a colony part-way through it
for good (some agents have acted, others not; it can no longer tick or be saved). While a
run of ticks is under way in the main thread, with Python's default SIGINT handler in
place, :class:`TickBoundaryInterrupt` takes the first Ctrl-C as a request: the tick under
way completes, and the run then raises ``KeyboardInterrupt`` at the boundary. A second
Ctrl-C interrupts at once, as Python's own handler does. Elsewhere (another thread, a
handler of the application's own) nothing changes.

Example:
    >>> with TickBoundaryInterrupt() as interrupt:
    ...     interrupt.requested
    False
"""

from __future__ import annotations

import signal
import threading
from types import FrameType, TracebackType
from typing import Any

__all__ = ["TickBoundaryInterrupt"]


class TickBoundaryInterrupt:
    """Defers the first Ctrl-C of a run to the next tick boundary (see the module
    docstring); :meth:`check` raises it there."""

    def __init__(self) -> None:
        self.requested = False
        self._previous: Any = None
        self._installed = False

    def __enter__(self) -> TickBoundaryInterrupt:
        if (
            threading.current_thread() is threading.main_thread()
            and signal.getsignal(signal.SIGINT) is signal.default_int_handler
        ):
            self._previous = signal.signal(signal.SIGINT, self._on_sigint)
            self._installed = True
        return self

    def _on_sigint(self, _signum: int, _frame: FrameType | None) -> None:
        self.requested = True
        signal.signal(signal.SIGINT, self._previous)  # a second Ctrl-C: at once

    def check(self) -> None:
        """At a tick boundary: raise the Ctrl-C that came during the tick, if one did.

        Raises:
            KeyboardInterrupt: Ctrl-C was pressed during the tick.
        """
        if self.requested:
            raise KeyboardInterrupt

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._installed:
            signal.signal(signal.SIGINT, self._previous)
            self._installed = False
