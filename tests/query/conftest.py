"""Hand-built graph sources for the query tests."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pytest

from phago.graph import HebbianGraph
from phago.ids import document_id
from phago.query.base import StaticSource
from phago.text import tokenize
from phago.types import Document, NodeType, Position

SourceFactory = Callable[..., StaticSource]


def build_source(
    texts: Sequence[tuple[str, str]],
    *,
    wire: bool = True,
    order: Sequence[int] | None = None,
) -> StaticSource:
    """A source holding ``texts`` as digested documents.

    Each document presents its distinct terms (provenance recorded) and, if ``wire``, wires
    them as a clique, at tick = its position in ``order`` (default: given order).
    """
    g = HebbianGraph()
    docs: list[Document] = []
    seq = list(order) if order is not None else list(range(len(texts)))
    for tick, i in enumerate(seq):
        title, text = texts[i]
        did = document_id(title, text)
        pos = Position(5.0 * i, 0.0)
        docs.append(Document(did, title, text, pos, True))
        labels = list(dict.fromkeys(tokenize(text)))
        idx = g.present(labels, NodeType.CONCEPT, pos, tick=tick, document=did)
        if wire:
            g.wire_clique(idx, tick=tick)
    return StaticSource(g, docs, current_tick=len(seq))


BIO_TEXTS: list[tuple[str, str]] = [
    ("Cells", "cell membrane protein ribosome cell membrane"),
    ("Membranes", "membrane lipid cell protein"),
    ("Transport", "membrane transport channel protein"),
    ("Genes", "gene dna protein transcription gene"),
    ("Replication", "dna replication polymerase gene"),
    ("Qubits", "qubit spin entanglement qubit"),
    ("Gates", "qubit gate entanglement circuit"),
]


@pytest.fixture
def make_source() -> SourceFactory:
    """The :func:`build_source` factory."""
    return build_source


@pytest.fixture
def bio_texts() -> list[tuple[str, str]]:
    """The texts of :func:`bio`."""
    return list(BIO_TEXTS)


@pytest.fixture
def bio() -> StaticSource:
    """Seven small documents on cells, genes and qubits, wired as cliques."""
    return build_source(BIO_TEXTS)
