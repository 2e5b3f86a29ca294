"""Corpora: the bundled sample corpus, plain-text directories, and grid layouts.

Example:
    >>> from phago.corpus import load_sample_corpus, grid_positions
    >>> docs = load_sample_corpus()
    >>> len(docs)
    40
    >>> grid_positions(4)[3]
    Position(x=5.0, y=5.0)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from phago.types import Position

__all__ = [
    "CorpusDocument",
    "grid_positions",
    "load_sample_corpus",
    "load_text_directory",
    "sample_queries",
]


@dataclass(frozen=True, slots=True)
class CorpusDocument:
    """A document read from disk: title, text and where it came from."""

    title: str
    content: str
    source: str


def _split_title(name: str, text: str) -> tuple[str, str]:
    lines = text.strip().splitlines()
    if len(lines) >= 3 and not lines[1].strip():
        return lines[0].strip(), "\n".join(lines[2:]).strip()
    return name, text.strip()


def load_sample_corpus() -> list[CorpusDocument]:
    """The 40 bundled sample documents (astronomy, cooking, immunology, rivers), by file name.

    The first line of each file is its title.
    """
    root = resources.files("phago") / "data" / "sample_corpus"
    out = []
    for entry in sorted(root.iterdir(), key=lambda p: p.name):
        if entry.name.endswith(".txt"):
            title, body = _split_title(entry.name[:-4], entry.read_text(encoding="utf-8"))
            out.append(CorpusDocument(title, body, f"sample:{entry.name}"))
    return out


def sample_queries(heldout: bool = False) -> list[dict[str, object]]:
    """The labelled query set for the sample corpus (tuning set, or the held-out set)."""
    import json

    name = "sample_queries_heldout.json" if heldout else "sample_queries.json"
    data: list[dict[str, object]] = json.loads(
        (resources.files("phago") / "data" / name).read_text(encoding="utf-8")
    )
    return data


def load_text_directory(path: str | Path) -> list[CorpusDocument]:
    """Every ``.txt`` file directly in ``path``, sorted by name; the title is the file stem."""
    p = Path(path)
    if not p.is_dir():
        raise NotADirectoryError(f"not a directory: {p}")
    return [
        CorpusDocument(f.stem, f.read_text(encoding="utf-8"), str(f))
        for f in sorted(p.iterdir())
        if f.suffix == ".txt" and f.is_file()
    ]


def grid_positions(n: int, columns: int | None = None, spacing: float = 5.0) -> list[Position]:
    """Positions of ``n`` documents on a grid (``columns`` defaults to ``ceil(sqrt(n))``)."""
    cols = columns or max(1, math.ceil(math.sqrt(n)))
    return [Position((i % cols) * spacing, (i // cols) * spacing) for i in range(n)]
