"""Shared fixtures."""

from __future__ import annotations

import os
import signal
from collections.abc import Sequence

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


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test marked ``ray`` runs in one worker when ``make test`` spreads the suite
    over processes (pytest-xdist, ``--dist loadgroup``): they share that worker's one local
    Ray (2 CPUs), and two Rays at once would each have the machine's cores to themselves
    only on paper (the cluster tests' own heads too: run beside the others, in the other
    worker, the suite took no less time). (Before xdist's own hook, which reads the group.)"""
    for item in items:
        if item.get_closest_marker("ray") is not None:
            item.add_marker(pytest.mark.xdist_group("ray"))


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
