"""``DistributedColony.settle_degree_cap``: after digesting, the global graph is within the cap.

The degree cap across shards acts four to seven ticks after a node grows, so a run that
stops the tick every document is digested can leave hubs over ``max_edge_degree`` in the
global graph; settling runs the ticks the cap needs (two rounds).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from phago import ColonyConfig
from phago.corpus import grid_positions, load_sample_corpus
from phago.distributed import DistributedColony
from phago.distributed.degree_cap import ROUND_TICKS

DOCS = load_sample_corpus()
ITEMS = [
    (d.title, d.content, (p.x, p.y)) for d, p in zip(DOCS, grid_positions(len(DOCS)), strict=True)
]


def degrees(dc: DistributedColony) -> list[int]:
    """Every node's degree in the merged graph."""
    return [d for _, d in dc.graph.to_networkx().degree()]


def digested(shards: int, config: ColonyConfig | None = None) -> DistributedColony:
    dc = DistributedColony(shards, config=config, seed=0)
    dc.ingest_documents(ITEMS)
    dc.spawn_digesters(max(1, 10 // shards))
    dc.run_until_digested(500)
    assert not dc.has_undigested_work()
    return dc


@pytest.mark.parametrize("shards", [2, 3, 4])
def test_settling_brings_every_node_within_the_cap(shards: int) -> None:
    with digested(shards) as dc:
        cap = dc.config.max_edge_degree
        assert cap is not None
        over = sum(d > cap for d in degrees(dc))
        assert over > 0  # (the sample corpus's hubs outgrow the cap in its last ticks)
        tick = dc.current_tick
        assert dc.settle_degree_cap() == 2 * ROUND_TICKS
        assert dc.current_tick == tick + 2 * ROUND_TICKS
        assert max(degrees(dc)) <= cap


def test_one_shard_or_no_cap_needs_no_settling() -> None:
    with digested(1) as dc:
        tick = dc.current_tick
        assert dc.settle_degree_cap() == 0 and dc.current_tick == tick
        assert max(degrees(dc)) <= 30
    with digested(2, ColonyConfig(max_edge_degree=None)) as dc:
        tick = dc.current_tick
        assert dc.settle_degree_cap() == 0 and dc.current_tick == tick


def test_a_store_ingested_on_shards_is_within_the_cap(tmp_path: Path) -> None:
    """``phago ingest --shards`` settles the cap after digesting, before saving."""
    from importlib import resources

    from click.testing import CliRunner

    from phago.cli import main
    from phago.store import load_distributed

    corpus = Path(str(resources.files("phago") / "data" / "sample_corpus"))
    store = tmp_path / "store"
    r = CliRunner().invoke(main, ["ingest", str(corpus), "--db", str(store), "--shards", "2"])
    assert r.exit_code == 0, r.output
    with load_distributed(store) as dc:
        assert not dc.has_undigested_work()
        assert max(degrees(dc)) <= 30
