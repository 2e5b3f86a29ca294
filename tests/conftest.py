"""Shared fixtures."""

from __future__ import annotations

import os
import signal
from collections.abc import Sequence
from typing import Any

# pytest-xdist's workers (`make test` runs two) start with COLUMNS=80, which phago's rich
# consoles would take as their width for good when phago.cli is imported, wrapping what the
# tests read at 80 columns even where a test asks for a wider terminal (CliRunner's env):
# the suite runs as it does in one process, where COLUMNS is unset.
if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ.pop("COLUMNS", None)

import pytest
from hypothesis import settings

from phago import Colony
from phago.corpus import CorpusDocument, load_sample_corpus
from sample_colony import build_sample_colony

# No per-example deadline for property tests: CI runs on two shared cores, where a first
# example that compiles a kernel, or any example while the machine is busy, can take longer
# than Hypothesis's default 200 ms without anything being wrong. Tests that care about time
# are benchmarks, not tests.
settings.register_profile("phago", deadline=None)
settings.load_profile("phago")

# The Ctrl-C tests send SIGINT to this process and to `phago run` children. A shell starts a
# background job (`make test &` without job control) with SIGINT ignored, which Python then
# leaves ignored and which children inherit: Ctrl-C would not exist for the suite, and every
# such test would run its long run to the end and fail. The suite takes Ctrl-C as a terminal
# gives it (children then start with SIGINT at its default, as any `phago` a user runs).
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


RAY_TESTS = "tests/ray/"
"""Where every test that starts Ray lives (marked ``ray``; checked at collection)."""

RAY_TESTS_ANYWHERE = ("tests/ray/test_ray_bench.py",)
"""Ray test files that ``make test`` may run in either worker: their tests run `phago
bench` on Ray in a child process, which starts a Ray of its own wherever it runs and times
no phase. With the other Ray tests, that worker finished some 45 s after the other (on
2 cores, both busy until then: 20 s of it was this file). (The cluster file,
``test_ray_existing_cluster.py``, drives its own head node from child processes too; let
go to either worker and given out second in the fiftieth session, the suite ran no
faster: 11:48 in a fresh clone against 11:25 and 11:35 before, one run each.)"""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test marked ``ray`` outside :data:`RAY_TESTS` is an error: ``make test`` keeps the
    Ray tests in one worker by their folder (:func:`pytest_xdist_make_scheduler`)."""
    astray = [
        item.nodeid
        for item in items
        if item.get_closest_marker("ray") is not None and not item.nodeid.startswith(RAY_TESTS)
    ]
    if astray:
        raise pytest.UsageError(f"tests marked `ray` belong in {RAY_TESTS}: {astray}")


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """How ``make test`` (pytest-xdist, two workers) shares the tests out: the Ray tests
    (:data:`RAY_TESTS`, but for :data:`RAY_TESTS_ANYWHERE`) as one unit, so that one worker
    runs them all, one local Ray at a time as in one process (two Rays at once on two cores
    would each have them only on paper, and some of these tests time phases), and every
    other test file as a unit (its module fixtures made once). The Ray unit, the longest,
    goes first, to the first worker; the rest follow, the largest (by tests) first, to
    whichever worker is free. (xdist orders every unit by its count of tests: a file of
    many quick parametrized tests and the doctests came before the Ray unit, which the
    first worker began after 73 s of them and ended 46 s after the other; fiftieth
    session.) (xdist's own ``--dist loadgroup`` marks a group in the test's id, which
    pytest 9 no longer lets a plugin change.)"""
    from xdist.scheduler import LoadScopeScheduling  # type: ignore[import-untyped]

    class RayTestsTogether(LoadScopeScheduling):  # type: ignore[misc]
        def _split_scope(self, nodeid: str) -> str:
            file = nodeid.split("::", 1)[0]
            together = file.startswith(RAY_TESTS) and file not in RAY_TESTS_ANYWHERE
            return RAY_TESTS if together else file

        def _assign_work_unit(self, node: Any) -> None:
            if RAY_TESTS in self.workqueue:
                self.workqueue.move_to_end(RAY_TESTS, last=False)
            super()._assign_work_unit(node)

    return RayTestsTogether(config, log)


@pytest.fixture(scope="session")
def sample_docs() -> list[CorpusDocument]:
    """The bundled sample corpus."""
    return load_sample_corpus()


@pytest.fixture
def sample_colony() -> Colony:
    """A fresh sample colony, not yet run."""
    return build_sample_colony()


@pytest.fixture
def counted_texts(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The texts whose terms the document index counts (recorded as it counts them; rows
    taken from saved counts are not counted)."""
    from phago.query.term_counts import TermCounts, Vocabulary

    seen: list[str] = []
    count = Vocabulary._count

    def counted(self: Vocabulary, texts: Sequence[str], kernel: bool | None) -> TermCounts:
        seen.extend(texts)
        return count(self, texts, kernel)

    monkeypatch.setattr(Vocabulary, "_count", counted)
    return seen
