"""The sample colony the tests share (a module, not the conftest: ``from conftest import``
finds whichever conftest was imported first when several folders are collected)."""

from __future__ import annotations

from phago import Colony, ColonyConfig, Digester, Position
from phago.corpus import grid_positions, load_sample_corpus


def build_sample_colony(
    seed: int = 0, digesters: int = 8, config: ColonyConfig | None = None, max_idle: int = 60
) -> Colony:
    """A colony holding the sample corpus on a grid with digesters spread over it."""
    docs = load_sample_corpus()
    colony = Colony(config, seed=seed)
    pos = grid_positions(len(docs))
    for d, p in zip(docs, pos, strict=True):
        colony.ingest_document(d.title, d.content, p)
    step = len(docs) // digesters
    for j in range(digesters):
        p = pos[j * step]
        colony.spawn(Digester(Position(p.x + 1, p.y + 1), seed=j, max_idle=max_idle))
    return colony
