"""Progress bars that say when Numba is compiling.

A process's first run after phago is installed (or its cache cleared) compiles phago's
kernels as it first calls them, ten to twenty seconds in all on two cores, most of it inside
the first ticks. Numba caches what it compiles on disk, so later runs load the kernels in
milliseconds. Without a word, a bar that stands still for those seconds looks hung; a
:class:`CompileNotingProgress` adds a note to its unfinished tasks' descriptions for as long
as a compile lasts, using Numba's documented event API (``numba:compile`` is broadcast only
for a real compile, not for a load from the cache), and while the process waits for another
process's compile of a kernel it needs (``phago:compile-wait``, :mod:`phago._compile_lock`).

Numba itself is imported only when a bar starts (the commands that show one digest, so they
load Numba anyway): importing this module, or a command line that only builds a bar, does
not pay for it.
"""

from __future__ import annotations

import threading
from typing import Any

from rich.progress import Progress, TaskID

from phago._compile_lock import WAIT_EVENT

COMPILING_NOTE = "[dim](compiling kernels: once, then cached)[/dim]"

NOTED = ("numba:compile", WAIT_EVENT)
"""The Numba event kinds noted on a bar: a compile, and a wait for another process's
compile of a kernel this one needs (:mod:`phago._compile_lock`)."""


def _numba_events() -> Any:
    """Numba's event module, with :class:`CompileNotice` registered as one of its listeners
    (a virtual subclass of ``numba.core.event.Listener``, which ``event.register`` asks for)."""
    from numba.core import event

    event.Listener.register(CompileNotice)
    return event


class CompileNotice:
    """Adds :data:`COMPILING_NOTE` to ``bar``'s unfinished tasks while Numba compiles.

    Compiles nest (a kernel compiles the kernels it calls) and may come from any thread;
    the note goes on at the first start and comes off, restoring each description,
    ``linger`` seconds after the matching end, unless another compile starts meanwhile (a
    first run compiles kernel after kernel: the note stays on through the gaps between them
    instead of flickering).

    Example:
        >>> from rich.progress import Progress
        >>> bar = Progress(disable=True)
        >>> task = bar.add_task("digesting", total=3)
        >>> notice = CompileNotice(bar, linger=0.0)
        >>> notice.on_start(None)
        >>> bar.tasks[0].description.endswith(COMPILING_NOTE)
        True
        >>> notice.on_end(None)
        >>> bar.tasks[0].description
        'digesting'
    """

    def __init__(self, bar: Progress, linger: float = 1.0) -> None:
        self._bar = bar
        self._lock = threading.Lock()
        self._depth = 0
        self._saved: dict[TaskID, str] = {}
        self._linger = float(linger)
        self._pending: threading.Timer | None = None  # the note's removal, when scheduled

    def notify(self, event: Any) -> None:
        """Numba's listener entry point: a compile event starts or ends."""
        if event.is_start:
            self.on_start(event)
        elif event.is_end:
            self.on_end(event)

    def on_start(self, event: Any) -> None:
        """A compile began: note it on the bar unless one is under way already."""
        with self._lock:
            self._depth += 1
            if self._depth > 1:
                return
            if self._pending is not None:  # the note is still on: keep it
                self._pending.cancel()
                self._pending = None
                return
            for task in self._bar.tasks:
                if not task.finished:
                    self._saved[task.id] = task.description
                    self._bar.update(task.id, description=f"{task.description} {COMPILING_NOTE}")

    def on_end(self, event: Any) -> None:
        """A compile ended: at the outermost one's end, take the note off."""
        with self._lock:
            self._depth = max(self._depth - 1, 0)
            if self._depth:
                return
            if self._linger <= 0:
                self._restore()
                return
            if self._pending is not None:
                self._pending.cancel()
            self._pending = threading.Timer(self._linger, self._restore_later)
            self._pending.daemon = True
            self._pending.start()

    def flush(self) -> None:
        """Take the note off now if its removal is pending (the bar stops)."""
        with self._lock:
            if self._pending is not None:
                self._pending.cancel()
                self._pending = None
                self._restore()

    def _restore_later(self) -> None:
        with self._lock:
            if self._pending is None or self._depth:
                return  # (cancelled, or a compile started meanwhile)
            self._pending = None
            self._restore()

    def _restore(self) -> None:
        """Put each task's description back (under the lock)."""
        saved, self._saved = self._saved, {}
        for task_id, description in saved.items():
            self._bar.update(task_id, description=description)


class CompileNotingProgress(Progress):
    """A rich :class:`~rich.progress.Progress` that, while started, notes Numba's compiles
    on its unfinished tasks (:class:`CompileNotice`).

    Example:
        >>> with CompileNotingProgress(disable=True) as bar:
        ...     task = bar.add_task("digesting", total=1)
        ...     bar.update(task, advance=1)
        >>> bar.tasks[0].finished
        True
    """

    def __init__(self, *columns: Any, **kwargs: Any) -> None:
        super().__init__(*columns, **kwargs)
        self._notice = CompileNotice(self)
        self._listening = False

    def start(self) -> None:
        """Start the display and listen for compiles."""
        if not self._listening:
            events = _numba_events()
            for kind in NOTED:
                events.register(kind, self._notice)
            self._listening = True
        super().start()

    def stop(self) -> None:
        """Stop listening for compiles and stop the display."""
        if self._listening:
            events = _numba_events()
            for kind in NOTED:
                events.unregister(kind, self._notice)
            self._listening = False
        self._notice.flush()
        super().stop()
