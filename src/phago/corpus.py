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
    "leading_title",
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


TITLE_MAX_CHARS = 120
"""The longest first line :func:`leading_title` takes as a title."""

_RST_UNDERLINE = frozenset("=-~^*+#")


def leading_title(text: str) -> str:
    """The title a plain text states in its first line, or "" where it states none.

    A first line (after blank lines and a byte-order mark) is a title when it is at most
    :data:`TITLE_MAX_CHARS` characters, has a letter or digit, does not end as a sentence or
    clause does (``.``, ``,``, ``;``, ``:``),
    and is followed by a blank line or, as reStructuredText underlines a title, by a line
    of one punctuation mark (``=====``), with more text after it. This is how the sample
    corpus and many notes are written; ``phago ingest`` of a ``.txt`` or ``.rst`` file and
    :func:`load_sample_corpus` both title documents this way (Markdown takes its first
    ``#`` heading, HTML its ``<title>``).

    Example:
        >>> leading_title("The Sun as a Star\\n\\nThe Sun is a star.")
        'The Sun as a Star'
        >>> leading_title("Rivers\\n======\\n\\nWater flows.")
        'Rivers'
        >>> leading_title("Dear Ann,\\n\\nThanks."), leading_title("Just one line.")
        ('', '')
        >>> leading_title("\\ufeffRivers\\n\\nWater."), leading_title("-----\\n\\nWater.")
        ('Rivers', '')
    """
    lines = text.lstrip("\ufeff\n\r\t ").split("\n", 3)
    if len(lines) < 3:
        return ""
    first, second = lines[0].strip(), lines[1].strip()
    if not first or len(first) > TITLE_MAX_CHARS or first[-1] in ".,;:":
        return ""
    if not any(ch.isalnum() for ch in first):  # a rule (----) or other marks: no title
        return ""
    underlined = (
        len(second) >= len(first) // 2 and len(set(second)) == 1 and (second[0] in _RST_UNDERLINE)
    )
    rest = "\n".join(lines[2:]).strip()
    if not rest or not (second == "" or underlined):
        return ""
    return first


def load_sample_corpus() -> list[CorpusDocument]:
    """The 40 bundled sample documents (astronomy, cooking, immunology, rivers), by file name.

    Each is read as ``phago ingest`` reads a text file: its first line, set apart by a blank
    line, is its title (:func:`leading_title`), and its content is the whole text.
    """
    root = resources.files("phago") / "data" / "sample_corpus"
    out = []
    for entry in sorted(root.iterdir(), key=lambda p: p.name):
        if entry.name.endswith(".txt"):
            text = entry.read_text(encoding="utf-8")
            title = leading_title(text) or entry.name[:-4]
            out.append(CorpusDocument(title, text.strip(), f"sample:{entry.name}"))
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
    """Every ``.txt`` file directly in ``path``, sorted by name; the title is the one its
    first line states (:func:`leading_title`), else the file stem."""
    p = Path(path)
    if not p.is_dir():
        raise NotADirectoryError(f"not a directory: {p}")
    out = []
    for f in sorted(p.iterdir()):
        if f.suffix == ".txt" and f.is_file():
            text = f.read_text(encoding="utf-8")
            out.append(CorpusDocument(leading_title(text) or f.stem, text, str(f)))
    return out


def grid_positions(n: int, columns: int | None = None, spacing: float = 5.0) -> list[Position]:
    """Positions of ``n`` documents on a grid (``columns`` defaults to ``ceil(sqrt(n))``)."""
    cols = columns or max(1, math.ceil(math.sqrt(n)))
    return [Position((i % cols) * spacing, (i // cols) * spacing) for i in range(n)]
