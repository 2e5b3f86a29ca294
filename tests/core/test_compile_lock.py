"""Numba compiles of cached kernels, one process at a time (``phago._compile_lock``)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from phago._compile_lock import LOCK_NAME, compiling_alone, file_lock

HOLD = textwrap.dedent(
    """
    import sys, time
    from phago._compile_lock import file_lock
    with file_lock(sys.argv[1]) as held:
        print(held, flush=True)
        time.sleep(float(sys.argv[2]))
    """
)


def hold_lock(path: Path, seconds: float) -> subprocess.Popen[str]:
    """A child process holding ``path``'s lock for ``seconds`` (once it printed True)."""
    child = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(path), str(seconds)], stdout=subprocess.PIPE, text=True
    )
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "True"
    return child


def test_a_lock_another_process_holds_is_had_once_it_lets_go(tmp_path: Path) -> None:
    child = hold_lock(tmp_path / "x.lock", 1.0)
    began = time.monotonic()
    with file_lock(str(tmp_path / "x.lock")) as held:
        waited = time.monotonic() - began
        assert held
        assert child.poll() is not None or waited > 0.5  # (it had let go)
    assert child.wait(timeout=30) == 0


def test_past_its_wait_a_process_goes_on_without_the_lock(tmp_path: Path) -> None:
    child = hold_lock(tmp_path / "x.lock", 30.0)
    try:
        began = time.monotonic()
        with file_lock(str(tmp_path / "x.lock"), wait_s=0.3) as held:
            assert not held
        assert 0.3 <= time.monotonic() - began < 10.0
    finally:
        child.kill()
        child.wait(timeout=30)


def test_a_folder_that_cannot_hold_the_lock_file_only_skips_the_lock(tmp_path: Path) -> None:
    with file_lock(str(tmp_path / "missing" / "x.lock")) as held:
        assert not held
    with compiling_alone(str(tmp_path / "missing")):  # a compile runs all the same
        pass


def test_the_thread_holding_the_lock_nests_compiles_without_waiting(tmp_path: Path) -> None:
    with compiling_alone(str(tmp_path)), compiling_alone(str(tmp_path)):
        assert (tmp_path / LOCK_NAME).exists()


RACE = textwrap.dedent(
    """
    import json, os, sys, time
    sys.path.insert(0, sys.argv[1])
    from numba.core import event

    compiled = []

    class Count(event.Listener):
        def on_start(self, ev):
            compiled.append(ev.data["dispatcher"].py_func.__name__)

        def on_end(self, ev):
            pass

    event.register("numba:compile", Count())
    import racing
    import numpy as np
    # both processes ready (Numba imported) before either asks for the kernel
    open(os.path.join(sys.argv[1], "ready-" + sys.argv[2]), "w").close()
    while len([n for n in os.listdir(sys.argv[1]) if n.startswith("ready-")]) < 2:
        time.sleep(0.005)
    total = racing.total(np.arange(10.0))
    print(json.dumps({"total": total, "compiled": compiled}))
    """
)

KERNEL = textwrap.dedent(
    """
    import numpy as np
    from phago._jit import njit

    @njit(cache=True)
    def total(values):
        s = 0.0
        for i in range(values.shape[0]):
            s += np.sqrt(values[i]) * np.sin(values[i]) + np.cos(values[i] / (1.0 + i))
        return s
    """
)


def test_two_processes_calling_a_kernel_not_cached_compile_it_once(tmp_path: Path) -> None:
    # (without the lock each of them compiled it: this test failed so)
    (tmp_path / "racing.py").write_text(KERNEL)
    children = [
        subprocess.Popen(
            [sys.executable, "-c", RACE, str(tmp_path), str(i)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(2)
    ]
    results = []
    for child in children:
        out, err = child.communicate(timeout=300)
        assert child.returncode == 0, err
        results.append(json.loads(out.splitlines()[-1]))
    assert results[0]["total"] == pytest.approx(results[1]["total"])
    assert sorted(len(r["compiled"]) for r in results) == [0, 1], results


def test_a_bar_notes_a_wait_for_another_process_compile(tmp_path: Path) -> None:
    from phago._compile_notice import COMPILING_NOTE, CompileNotingProgress

    child = hold_lock(tmp_path / LOCK_NAME, 1.5)
    with CompileNotingProgress(disable=True) as bar:
        task = bar.add_task("digesting", total=2)
        seen: list[str] = []
        notice = bar._notice
        notice._linger = 0.0
        began = time.monotonic()

        def compile_when_let() -> None:
            with compiling_alone(str(tmp_path)):
                pass

        waiter = threading.Thread(target=compile_when_let)
        waiter.start()
        while waiter.is_alive() and time.monotonic() - began < 30:
            seen.append(str(bar.tasks[0].description))
            time.sleep(0.05)
        waiter.join()
        assert any(d.endswith(COMPILING_NOTE) for d in seen), seen[:3]
        assert bar.tasks[task].description == "digesting"  # the note came off
    assert child.wait(timeout=30) == 0


def test_a_file_system_that_does_not_lock_only_skips_the_lock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import fcntl

    def refuse(fd: int, operation: int) -> None:
        raise OSError(37, "No locks available")

    monkeypatch.setattr(fcntl, "flock", refuse)
    began = time.monotonic()
    with file_lock(str(tmp_path / "x.lock")) as held:
        assert not held
    assert time.monotonic() - began < 5.0  # (no waiting for a lock that cannot be had)
