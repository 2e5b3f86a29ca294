"""Progress bars that say when Numba compiles (phago._compile_notice)."""

from __future__ import annotations

from typing import Any

from numba import njit
from rich.progress import Progress, TaskID

from phago._compile_notice import COMPILING_NOTE, CompileNotice, CompileNotingProgress
from phago.cli.common import progress


class RecordingProgress(CompileNotingProgress):
    """Keeps every description it was given."""

    def __init__(self) -> None:
        super().__init__(disable=True)
        self.descriptions: list[str] = []

    def update(self, task_id: TaskID, **kwargs: Any) -> None:
        if "description" in kwargs:
            self.descriptions.append(kwargs["description"])
        super().update(task_id, **kwargs)


def test_the_note_goes_on_unfinished_tasks_at_the_first_start_and_off_at_the_last_end() -> None:
    bar = Progress(disable=True)
    running = bar.add_task("digesting", total=10)
    done = bar.add_task("ingesting", total=1)
    bar.update(done, completed=1)
    notice = CompileNotice(bar, linger=0.0)
    notice.on_start(None)
    notice.on_start(None)  # a kernel compiling the kernels it calls
    assert bar.tasks[running].description == f"digesting {COMPILING_NOTE}"
    assert bar.tasks[done].description == "ingesting"
    notice.on_end(None)
    assert bar.tasks[running].description == f"digesting {COMPILING_NOTE}"
    notice.on_end(None)
    assert bar.tasks[running].description == "digesting"
    notice.on_end(None)  # an end without a start changes nothing
    assert bar.tasks[running].description == "digesting"


def test_a_real_compile_while_the_bar_runs_is_noted_and_none_after_it_stops() -> None:
    @njit(cache=False)
    def first(x: int) -> int:
        return x + 1

    @njit(cache=False)
    def second(x: int) -> int:
        return x * 2

    with RecordingProgress() as bar:
        bar.add_task("digesting", total=1)
        assert first(1) == 2  # compiles now
        assert first(2) == 3  # compiled: no event
    assert bar.descriptions == [f"digesting {COMPILING_NOTE}", "digesting"]
    assert second(2) == 4  # compiles after the bar stopped
    assert bar.descriptions == [f"digesting {COMPILING_NOTE}", "digesting"]


def test_the_cli_bars_note_compiles() -> None:
    assert isinstance(progress(), CompileNotingProgress)


def test_the_note_stays_on_between_compiles_close_together() -> None:
    """A first run compiles kernel after kernel: the note is not taken off and put back in
    each gap (it flickered), only once no compile has started for ``linger`` seconds."""
    import time

    bar = RecordingProgress()
    bar.add_task("digesting", total=10)
    notice = CompileNotice(bar, linger=0.3)
    for _ in range(3):
        notice.on_start(None)
        notice.on_end(None)
    assert bar.descriptions == [f"digesting {COMPILING_NOTE}"]
    deadline = time.monotonic() + 5
    while len(bar.descriptions) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert bar.descriptions == [f"digesting {COMPILING_NOTE}", "digesting"]
    notice.on_start(None)
    notice.on_end(None)
    notice.flush()  # (a bar that stops takes the note off at once)
    assert bar.descriptions[-1] == "digesting" and len(bar.descriptions) == 4
