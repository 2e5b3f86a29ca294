"""Stats count retired agents: ``total_spawned == agents_alive + agents_died +
agents_retired``, in a colony, a saved store's summary and a sharded colony."""

from __future__ import annotations

from pathlib import Path

from phago import Colony, Digester, Position
from phago.distributed import DistributedColony
from phago.store import load, read_summary, save, save_distributed


def colony_with_dead_and_retired() -> Colony:
    colony = Colony(seed=3)
    for i in range(3):
        colony.ingest_document(f"d{i}", f"cell membrane protein{i} lipid", Position(4 * i, 0))
    for i in range(6):
        colony.spawn(Digester(Position(4 * i + 1, 1), max_idle=3 + 20 * (i % 2)))
    colony.run(12)  # the restless ones starve
    colony.retire_agents([colony.agents[0].id])
    return colony


def test_a_colony_s_stats_add_up(tmp_path: Path) -> None:
    colony = colony_with_dead_and_retired()
    st = colony.stats()
    assert st.agents_died > 0 and st.agents_retired == colony.total_retired == 1
    assert st.total_spawned == st.agents_alive + st.agents_died + st.agents_retired == 6
    assert st.to_dict()["agents_retired"] == 1
    p = save(colony, tmp_path / "c.db")
    assert read_summary(p).stats == st.to_dict()  # (what `phago stats` prints)
    assert load(p).stats() == st


def test_a_sharded_colony_s_stats_add_up(tmp_path: Path) -> None:
    with DistributedColony(num_shards=2, seed=0) as dc:
        dc.ingest_documents([(f"d{i}", f"cell gene protein{i}", (3.0 * i, 0.0)) for i in range(6)])
        dc.spawn_digesters(3, max_idle=3)
        dc.run(2)
        gone = dc.agent_ids()[:2]
        dc.retire_agents(gone)
        dc.run(20)  # the others starve
        st = dc.stats()
        assert st.agents_died > 0 and st.agents_retired == 2
        assert st.total_spawned == st.agents_alive + st.agents_died + st.agents_retired == 6
        for row in st.shards:
            assert row["total_spawned"] == (
                row["agents_alive"] + row["agents_died"] + row["agents_retired"]
            )
        d = save_distributed(dc, tmp_path / "sh")
    summary = read_summary(d).stats
    assert (summary["agents_retired"], summary["agents_died"]) == (2, st.agents_died)
