"""Numba kernels that import Numba on their first call, not when their module is imported.

Importing Numba takes a fifth of a second, and its first call (even one that loads a kernel
from Numba's on-disk cache) as long again; a ``phago`` command that runs no kernel (``stats``,
``export``) should pay neither. :func:`njit` is :func:`numba.njit` deferred: it records the
function, and the first call of any kernel of a module turns every kernel recorded for that
module into a real Numba dispatcher at once (``numba.njit(**options)(function)``, exactly as
the decorator would have done at import), rebinding the module's names to them, so that
kernels calling one another find dispatchers, and Numba's cache (keyed by the function's
file, name and line) is the same as before.

A name bound elsewhere before that first call (``from phago._kernels import window_pairs``)
keeps the :class:`LazyKernel`, which passes each call on to its dispatcher.

The first call also keeps Numba's array-math registry from importing SciPy's linear algebra
to look for BLAS, which no phago kernel uses (:func:`_import_numba`), and moves the objects
Numba's start leaves into the cyclic collector's oldest generation, which only its rare full
collections walk. (A fresh process's first kernels, as a Ray shard actor's warm-up loads
them: 1.25 -> 0.81-0.87 CPU-seconds; ``benchmarks/first_kernel_cost.py``.) A cached
kernel compiles in one process at a time (:mod:`phago._compile_lock`): processes that
start together on a fresh install compile each kernel once between them, not once each.
"""

from __future__ import annotations

import gc
import sys
import threading
from collections.abc import Callable
from typing import Any

from phago._compile_lock import compile_alone
from phago._gc import cyclic_gc_paused

_lock = threading.RLock()
_pending: dict[str, list[LazyKernel]] = {}
"""Kernels not yet made dispatchers, by module name, in the order they were defined."""


class LazyKernel:
    """A function to be compiled with Numba (``numba.njit(**options)``) on first call.

    Example:
        >>> @njit(cache=False)
        ... def add_one(x):
        ...     return x + 1
        >>> type(add_one).__name__, add_one(1), type(add_one.py_func).__name__
        ('LazyKernel', 2, 'function')
    """

    def __init__(self, function: Callable[..., Any], options: dict[str, Any]) -> None:
        self.py_function = function
        self.options = options
        self.dispatcher: Any = None
        """The Numba dispatcher, once made."""
        self.__name__ = function.__name__
        self.__qualname__ = function.__qualname__
        self.__module__ = function.__module__
        self.__doc__ = function.__doc__

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        dispatcher = self.dispatcher
        if dispatcher is not None:
            return dispatcher(*args, **kwargs)
        # Numba's import and its first call (which sets up its compiler before it loads a
        # kernel from the cache) leave some 10^5 long-lived objects: the cyclic collector's
        # walks over them as they are made find nothing and cost a phago command ~70 ms;
        # and once it is on again (here, or where a caller had paused it, after the
        # caller's work), its next middle-generation collection would walk them all
        # (80-110 ms), so they go straight to the oldest generation
        try:
            with cyclic_gc_paused():
                return _make_dispatchers(self)(*args, **kwargs)
        finally:
            gc.freeze()
            gc.unfreeze()

    def __getattr__(self, name: str) -> Any:
        # the dispatcher's attributes (py_func, signatures, ...); only reached for names
        # this object does not have itself
        if name.startswith("_"):
            raise AttributeError(name)
        dispatcher = self.dispatcher if self.dispatcher is not None else _make_dispatchers(self)
        return getattr(dispatcher, name)

    def __repr__(self) -> str:
        return f"<lazy Numba kernel {self.__module__}.{self.__qualname__}>"


def _make_dispatchers(kernel: LazyKernel) -> Any:
    """Make every pending kernel of ``kernel``'s module a Numba dispatcher (rebinding the
    module's names to them); returns ``kernel``'s dispatcher."""
    with _lock:
        if kernel.dispatcher is None:
            numba = _import_numba()
            module = sys.modules.get(kernel.__module__)
            for k in _pending.pop(kernel.__module__, [kernel]):
                k.dispatcher = numba.njit(**k.options)(k.py_function)
                if k.options.get("cache"):
                    compile_alone(k.dispatcher)
                if module is not None and module.__dict__.get(k.__name__) is k:
                    module.__dict__[k.__name__] = k.dispatcher
        return kernel.dispatcher


BLAS_PROBE = "scipy.linalg.cython_blas"
"""The module Numba's array-math registry imports to learn whether BLAS is there."""


def _import_numba() -> Any:
    """Import Numba, and its array-math registry without importing SciPy's linear algebra.

    The registry (``numba.np.arraymath``, loaded by the first kernel call of a process) asks
    once whether BLAS is there by importing :data:`BLAS_PROBE`, which imports all of
    ``scipy.linalg``: 0.2-0.3 CPU-seconds in every phago process and Ray shard actor that
    runs a kernel, none of which uses BLAS. Where SciPy's BLAS is not imported yet, it is
    hidden for that one import (Numba then takes BLAS to be absent); the only thing it
    changes is that ``np.correlate`` and ``np.convolve`` of floats in Numba kernels of this
    process use Numba's loop instead of BLAS (phago's kernels call neither). Numba's
    linear algebra (``np.dot``, ``np.linalg``) imports SciPy's BLAS itself when typed.
    """
    import numba

    if "numba.np.arraymath" not in sys.modules and BLAS_PROBE not in sys.modules:
        sys.modules[BLAS_PROBE] = None  # type: ignore[assignment]  # import -> ImportError
        try:
            import numba.np.arraymath
        finally:
            if BLAS_PROBE in sys.modules and sys.modules[BLAS_PROBE] is None:
                del sys.modules[BLAS_PROBE]
    return numba


def njit(*args: Any, **options: Any) -> Any:
    """:func:`numba.njit`, deferred to the first call (see the module docstring).

    ``@njit(cache=True, ...)`` and ``@njit`` make a :class:`LazyKernel`; signatures given
    for eager compilation (``@njit("int64(int64)")``) compile now, as Numba would.
    """
    if args and callable(args[0]) and len(args) == 1:
        return njit(**options)(args[0])
    if args:
        import numba

        return numba.njit(*args, **options)

    def decorate(function: Callable[..., Any]) -> LazyKernel:
        kernel = LazyKernel(function, options)
        with _lock:
            _pending.setdefault(function.__module__, []).append(kernel)
        return kernel

    return decorate


def numba_loaded() -> bool:
    """Whether Numba is imported in this process already (its start is paid).

    Example:
        >>> isinstance(numba_loaded(), bool)
        True
    """
    return "numba" in sys.modules


def kernel_pays(items: int, *, loaded_min: int, cold_min: int) -> bool:
    """Whether a kernel is worth calling on ``items`` items instead of a NumPy or Python
    path with the same result: from ``loaded_min`` items where Numba is imported already,
    from ``cold_min`` where it is not (its start, ~0.35 s, would then be part of the cost).

    Example:
        >>> kernel_pays(10, loaded_min=1_000, cold_min=10**9)
        False
    """
    return items >= (loaded_min if numba_loaded() else cold_min)
