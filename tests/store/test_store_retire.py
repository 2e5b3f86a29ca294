"""``phago ingest`` retires its digesters; retired agents and bounded records in stores."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from store_helpers import make_colony, write

from phago import Colony, ColonyConfig
from phago.agents.evolving import EvolvingDigester
from phago.agents.spawn import FitnessSpawnPolicy
from phago.cli import main
from phago.corpus import load_sample_corpus
from phago.ingest import digest_new_documents
from phago.state import ColonyState, capture
from phago.store import load, read_summary, save
from phago.types import Position


def ingest(*args: str) -> None:
    r = CliRunner().invoke(main, ["ingest", *args], catch_exceptions=False)
    assert r.exit_code == 0, r.output


def stored_agents(db: Path) -> int:
    """Rows of the agents table: of the store file, or of every shard file of a folder."""
    files = sorted(db.glob("gen-*/shard-*.db")) if db.is_dir() else [db]
    assert files
    total = 0
    for f in files:
        con = sqlite3.connect(f)
        try:
            total += int(con.execute("SELECT COUNT(*) FROM agents").fetchone()[0])
        finally:
            con.close()
    return total


@pytest.mark.parametrize("shards", [None, 2], ids=["file", "sharded"])
def test_ingesting_again_and_again_keeps_no_digesters_in_the_store(
    tmp_path: Path, shards: int | None
) -> None:
    """The audit: every ``phago ingest`` saved its digesters, so a store ingested into 50
    times was two-thirds agents."""
    docs = load_sample_corpus()
    db = tmp_path / ("cluster" if shards else "kb.db")
    extra = ["--shards", str(shards)] if shards else []
    counts = []
    for batch in range(2):
        folder = tmp_path / f"batch{batch}"
        for d in docs[4 * batch : 4 * batch + 4]:
            write(folder / f"{d.title}.md", d.content)
        ingest(str(folder), "--db", str(db), "--digesters", "3", *extra)
        counts.append(stored_agents(db))
        summary = read_summary(db).stats
        assert summary["documents_digested"] == summary["documents_total"] == 4 * (batch + 1)
        assert summary["agents_alive"] == counts[-1]
    assert counts == [0, 0]


def test_digesters_still_holding_text_are_kept_and_earlier_agents_left_alone() -> None:
    colony = make_colony(n_docs=6, digesters=1)
    earlier = [a.id for a in colony.agents]
    docs = load_sample_corpus()[6:10]
    new = [
        colony.ingest_document(d.title, d.content, Position(40 + 3 * i, 40))
        for i, d in enumerate(docs)
    ]
    digest_new_documents(colony, new, digesters=2, max_ticks=2)  # not enough to digest
    holding = [a for a in colony.agents if a.is_digesting]
    assert holding and set(earlier) <= {a.id for a in colony.agents}
    assert {a.id for a in colony.agents} == set(earlier) | {
        a.id for a in holding if a.id not in earlier
    }
    kept = Colony(seed=0)
    d = kept.ingest_document("t", "cell membrane protein")
    digest_new_documents(kept, [d], digesters=1, retire=False)
    assert kept.alive_count == 1 and kept.total_retired == 0


def test_retired_agents_stay_retired_through_a_store(tmp_path: Path) -> None:
    colony = make_colony(n_docs=8, digesters=4)
    colony.run(5)
    gone = [colony.agents[0].id, colony.agents[2].id]
    assert colony.retire_agents(gone) == 2
    save(colony, tmp_path / "c.db")
    back = load(tmp_path / "c.db")
    assert [a.id for a in back.agents] == [a.id for a in colony.agents]
    assert back.total_retired == 2 and all(back.fitness.get(g) is None for g in gone)
    assert read_summary(tmp_path / "c.db").stats["agents_alive"] == 2
    colony.run(30)
    back.run(30)
    assert capture(back).graph.equals(capture(colony).graph)


def test_an_older_store_with_more_death_records_loads_trimmed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A store written before the records were bounded: none of their keys, and more death
    signals and dead agents' fitness records than the limit keeps (a limit of 5 here, as
    if it were the default: the state test trims to the real default)."""
    colony = Colony(ColonyConfig(death_record_limit=1_000_000), seed=4)
    colony.spawn_policy = FitnessSpawnPolicy(max_population=3, seed=4)
    for i in range(3):
        colony.spawn(EvolvingDigester(Position(i, 0)))
    colony.run(300)
    died = colony.total_died
    assert died > 8
    real = ColonyState.scalars

    def old_scalars(self: ColonyState) -> dict[str, Any]:
        out = real(self)
        for key in ("total_retired", "fitness_dead", "fitness_max_generation"):
            del out[key]
        out["config"] = dict(out["config"], death_record_limit=5)
        return out

    monkeypatch.setattr(ColonyState, "scalars", old_scalars)
    save(colony, tmp_path / "old.db")
    monkeypatch.setattr(ColonyState, "scalars", real)
    back = load(tmp_path / "old.db")
    assert back.total_died == died and back.total_retired == 0
    assert back.death_signals == colony.death_signals[-5:]
    live = {a.id for a in back.agents}
    dead_kept = [r.agent_id for r in back.fitness.all() if r.agent_id not in live]
    assert len(dead_kept) == 5 and {a.id for a in colony.agents} == live
    save(back, tmp_path / "new.db")  # and what it saves round-trips as it is
    again = load(tmp_path / "new.db")
    assert again.death_signals == back.death_signals
    assert again.fitness.dead_ids() == back.fitness.dead_ids()


def test_a_part_digested_colony_gets_digesters_for_its_leftovers_too() -> None:
    """An earlier run that ran out of ticks left documents undigested; the next call gets a
    digester per 100 documents to digest, beside the leftovers too, and finishes them all
    (before, it spawned its 10 beside the new note and ran to ``max_ticks`` every time)."""
    from phago.ingest import DOCUMENTS_PER_DIGESTER

    assert DOCUMENTS_PER_DIGESTER == 100
    c = Colony(seed=0)
    words = ["cell", "wall", "ion", "gate", "star", "gas", "river", "stone", "gene", "code"]
    first = [
        c.ingest_document(f"n{i}", f"{words[i % 10]} {words[(i + 3) % 10]} note{i} topic{i % 7}")
        for i in range(250)
    ]
    digest_new_documents(c, first, digesters=1, max_ticks=3)
    left = c.substrate.undigested_count
    assert left > 200  # one digester in three ticks digests a few
    spawned_before = c.total_spawned
    note = c.ingest_document("new", "glacier melt and river deltas")
    ran = digest_new_documents(c, [note], digesters=1, max_ticks=2000)
    assert c.stats().documents_digested == c.stats().documents_total == 251
    assert c.total_spawned - spawned_before == 3  # ceil((left + 1) / 100), not 1
    assert ran < 2000
