"""Numba compiles of phago's cached kernels, one process at a time.

Where Numba's on-disk cache does not hold a kernel yet (a fresh install or checkout, a new
Numba), every process that calls it compiles it: a first run with eight Ray shards on one
machine compiled each kernel in all eight actors at once, 30-50 CPU-seconds apiece for the
kernels a shard uses, where one compile would have served all of them. A kernel's compile
(:meth:`numba.core.dispatcher.Dispatcher.compile`, which looks in the cache first and
writes it after) therefore runs under an exclusive lock on a file in the cache's folder,
held by one thread of one process at a time: the others wait (saying so to progress bars,
as a compile does: :data:`WAIT_EVENT`), then find the kernel in the cache and only load
it. Compiles nested in a compile (a kernel typing the kernels it calls) run under the lock
their thread holds already.

Where the lock cannot be had (no ``fcntl``, a folder that cannot be written, a file system
that does not lock), or after :data:`LOCK_WAIT_S` of waiting, a process compiles as it would
without it: the lock only saves work, nothing depends on it.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

try:
    import fcntl
except ImportError:  # (not POSIX: no lock)
    fcntl = None  # type: ignore[assignment]

LOCK_NAME = "phago-numba-compile.lock"
"""The lock file's name, in the folder Numba caches a kernel in."""

LOCK_WAIT_S = 600.0
"""How long a process waits for another's compile before compiling itself."""

_POLL_S = 0.05

_guard = threading.RLock()
"""Held by the thread whose compile holds the file lock (and by its nested compiles)."""

_depth = 0
"""How many compiles the thread holding :data:`_guard` is inside."""


def _try_lock(fd: int) -> bool | None:
    """Take the lock if it is free: True if taken, False if another holds it, None where
    the file system does not lock (an ``OSError`` other than "would block")."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    except OSError:
        return None
    return True


WAIT_EVENT = "phago:compile-wait"
"""The Numba event kind broadcast while a process waits for another's compile (progress bars
note it as they note a compile: :mod:`phago._compile_notice`)."""


def _waiting_for_a_compile() -> contextlib.AbstractContextManager[Any]:
    from numba.core import event

    return event.trigger_event(WAIT_EVENT)


@contextlib.contextmanager
def file_lock(
    path: str,
    wait_s: float = LOCK_WAIT_S,
    waiting: Callable[[], contextlib.AbstractContextManager[Any]] = contextlib.nullcontext,
) -> Iterator[bool]:
    """Hold an exclusive ``flock`` on ``path`` inside the block; yields whether it is held
    (False where it could not be had: see the module docstring). Where another process
    holds it, the wait runs inside ``waiting()``.

    Example:
        >>> import tempfile, os
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     with file_lock(os.path.join(folder, "x.lock")) as held:
        ...         held
        True
    """
    try:
        if fcntl is None:
            raise OSError("no fcntl")
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    except OSError:
        yield False
        return
    try:
        deadline = time.monotonic() + wait_s
        held = _try_lock(fd)
        if held is False:
            with waiting():
                while held is False and time.monotonic() < deadline:
                    time.sleep(_POLL_S)
                    held = _try_lock(fd)
        yield bool(held)
    finally:
        os.close(fd)  # (closing the descriptor releases the lock)


@contextlib.contextmanager
def compiling_alone(folder: str) -> Iterator[None]:
    """Run a compile of a kernel cached in ``folder`` alone among the processes (see the
    module docstring); a compile nested in one of this thread's is already alone.

    Example:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     with compiling_alone(folder):
        ...         with compiling_alone(folder):  # nested: no second lock
        ...             "compiled"
        'compiled'
    """
    global _depth
    with _guard:
        if _depth:
            _depth += 1
            try:
                yield
            finally:
                _depth -= 1
            return
        with file_lock(os.path.join(folder, LOCK_NAME), waiting=_waiting_for_a_compile):
            _depth = 1
            try:
                yield
            finally:
                _depth = 0


def compile_alone(dispatcher: Any) -> Any:
    """Make ``dispatcher`` (a Numba dispatcher with a disk cache) compile alone among the
    processes: its ``compile`` goes through :func:`compiling_alone`. Returns it.

    A dispatcher without a cache folder is returned as it is.
    """
    folder = getattr(getattr(dispatcher, "_cache", None), "_cache_path", None)
    if not isinstance(folder, str):
        return dispatcher
    compile_now: Callable[[Any], Any] = dispatcher.compile

    from numba.core.compiler_lock import global_compiler_lock

    def compile(sig: Any) -> Any:
        # Numba's own lock first, as in every compile, so that threads take the two in one
        # order (a compile Numba runs for other code can type one of these kernels)
        with global_compiler_lock, compiling_alone(folder):
            return compile_now(sig)

    dispatcher.compile = compile
    return dispatcher
