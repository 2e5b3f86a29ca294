"""Saving and loading a DistributedColony: a folder of shard stores behind an atomic pointer."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from store_helpers import fill_disk_at_eight_pages

import phago.store as store_mod
from phago import ColonyConfig
from phago.corpus import load_sample_corpus
from phago.distributed import DistributedColony
from phago.distributed.degree_cap import CapOrder, DegreeReport
from phago.errors import StoreChanged, StoreError
from phago.export import GraphTable
from phago.store import (
    forget_in_store,
    is_distributed_store,
    load_distributed,
    read_manifest,
    read_summary,
    save_distributed,
    store_lock,
)


def make(
    n_docs: int = 12,
    shards: int = 2,
    config: ColonyConfig | None = None,
    skip: tuple[int, ...] = (),
) -> DistributedColony:
    dc = DistributedColony(num_shards=shards, seed=4, config=config)
    dc.ingest_documents([d for i, d in enumerate(load_sample_corpus()[:n_docs]) if i not in skip])
    dc.spawn_digesters(2)
    return dc


@pytest.fixture
def pair() -> Iterator[tuple[DistributedColony, DistributedColony]]:
    a, b = make(), make()
    yield a, b
    a.close()
    b.close()


def graphs_equal(a: DistributedColony, b: DistributedColony) -> None:
    ga, gb = a.graph, b.graph
    assert ga.labels() == gb.labels()
    for x, y in zip(ga.edge_arrays(), gb.edge_arrays(), strict=True):
        assert np.array_equal(x, y)
    assert np.array_equal(ga.access_counts(), gb.access_counts())


def test_a_folder_is_a_distributed_store_by_its_current_file_or_generation_folders(
    tmp_path: Path,
) -> None:
    d = tmp_path / "d"
    d.mkdir()
    for name in ("gen-1x", "gen-", "generations", "other"):
        (d / name).mkdir()
    (d / "gen-000001").write_text("a file of that name is not a generation")
    (d / "gen-000002.tmp").mkdir()  # (a save under way)
    assert not is_distributed_store(d) and not is_distributed_store(d / "other")
    assert not is_distributed_store(tmp_path / "missing")
    (d / "gen-000003").mkdir()  # a whole generation: a store (its CURRENT lost, say)
    assert is_distributed_store(d)
    e = tmp_path / "e"
    e.mkdir()
    (e / "CURRENT").write_text("gen-000001\n")
    assert is_distributed_store(e)


def test_round_trip_continues_identically(
    tmp_path: Path, pair: tuple[DistributedColony, DistributedColony]
) -> None:
    a, b = pair
    a.run(5)
    b.run(5)
    d = save_distributed(b, tmp_path / "dist")
    assert is_distributed_store(d)
    c = load_distributed(d)
    try:
        assert c.current_tick == 5 and c.num_shards == 2
        graphs_equal(a, c)
        a.run(30)
        c.run(30)
        graphs_equal(a, c)
        assert a.stats().documents_digested == c.stats().documents_digested
        # a second save replaces the generation atomically; only the newest is kept
        save_distributed(c, d)
        assert sorted(p.name for p in d.iterdir()) == ["CURRENT", "gen-000002"]
        s = read_summary(d)
        assert s.stats["graph_nodes"] == c.graph.node_count and s.stats["tick"] == 35
        t = GraphTable.from_store(d)
        assert t.node_count == c.graph.node_count and t.shard is not None
        assert set(t.shard.tolist()) == {0, 1}
    finally:
        c.close()


def test_one_shard_with_the_degree_cap_round_trips(tmp_path: Path) -> None:
    """One shard keeps no cap state across shards (nothing to send), yet its store holds
    a row per node: until the thirty-fifth session such a store could not be loaded."""
    cap = ColonyConfig(max_edge_degree=3)
    a, b = make(20, 1, cap), make(20, 1, cap)
    try:
        a.run(8)
        b.run(8)
        assert b.graph.node_count > 0
        c = load_distributed(save_distributed(b, tmp_path / "one"))
        try:
            graphs_equal(a, c)
            a.run(20)
            c.run(20)
            graphs_equal(a, c)
        finally:
            c.close()
    finally:
        a.close()
        b.close()


@pytest.mark.parametrize("at", [6, 7, 9])
def test_round_trip_with_the_degree_cap_in_flight(tmp_path: Path, at: int) -> None:
    """The cap across shards keeps per-node state and orders in flight between ticks: saved
    and loaded, the run goes on exactly as without the save."""
    cap = ColonyConfig(max_edge_degree=3)
    a, b = make(20, 3, cap), make(20, 3, cap)
    try:
        a.run(at)
        b.run(at)
        d = save_distributed(b, tmp_path / f"dist-{at}")
        c = load_distributed(d)
        try:
            graphs_equal(a, c)
            a.run(20)
            c.run(20)
            graphs_equal(a, c)
            assert sum(c._call(i, "cap_dropped") for i in range(3)) > 0
        finally:
            c.close()
    finally:
        a.close()
        b.close()


def test_saved_and_loaded_at_every_tick_the_capped_cluster_goes_on_unchanged(
    tmp_path: Path,
) -> None:
    """Whatever is in flight at a tick boundary (asks, answers, cap state), a save and load
    there changes nothing: a run saved and reloaded after every tick ends like one never
    saved (the owners' ranking reads nothing cached from before the boundary)."""
    cap = ColonyConfig(max_edge_degree=3)
    a, b = make(20, 3, cap), make(20, 3, cap)
    in_flight = capped = 0
    try:
        for t in range(24):
            a.run(1)
            b.run(1)
            d = save_distributed(b, tmp_path / f"dist-{t % 2}")
            b.close()
            b = load_distributed(d)
            graphs_equal(a, b)
            for i in range(3):  # the cap's state too, the drops ordered at the last Decay
                kept, loaded = a._call(i, "degree_cap_state"), b._call(i, "degree_cap_state")
                assert (
                    kept.keys()
                    == loaded.keys()
                    == {
                        "cap_reported",
                        "cap_table",
                        "cap_inflight",
                        "cap_capped_ends",
                        "cap_capped_weight",
                        "cap_capped_ticks",
                    }
                )
                for key, value in kept.items():
                    assert np.array_equal(value, loaded[key]), (t, i, key)
                in_flight += len(kept["cap_inflight"])
                capped += len(kept["cap_capped_weight"])
        assert sum(a._call(i, "cap_dropped") for i in range(3)) > 0  # the cap acted
        assert in_flight > 0  # drops were in flight at some boundary
        assert capped > 0  # and edges the shards' own caps removed, kept for the ranking
    finally:
        a.close()
        b.close()


REPORT_FIELDS = [f.name for f in dataclasses.fields(DegreeReport) if f.name != "source"]


def held_reports(dc: DistributedColony) -> list[tuple[int, int, DegreeReport]]:
    """The degree reports held between ticks: (owner, sending shard, report)."""
    return [
        (owner, req, x)
        for owner, held in sorted(dc.runner._held.asks.items())
        for req, items in sorted(held.items())
        for x in items
        if isinstance(x, DegreeReport)
    ]


def held_orders(dc: DistributedColony) -> list[CapOrder]:
    """The degree-cap orders held between ticks."""
    return [x for v in dc.runner._held.answers.values() for x in v if isinstance(x, CapOrder)]


# what the degree cap holds between ticks, each after its own Decay of a round: reports
# with degrees, orders with asks, reports with the asked edges, orders with drops
DEGREES, ASKS, EDGES, DROPS = "degrees", "asks", "edges", "drops"


def in_flight(dc: DistributedColony) -> set[str]:
    """The kinds of degree-cap message held between ticks now."""
    reports = [r for _, _, r in held_reports(dc)]
    orders = held_orders(dc)
    held = {
        DEGREES: any(len(r.nodes) for r in reports),
        ASKS: any(len(o.ask) for o in orders),
        EDGES: any(len(r.edge_node) for r in reports),
        DROPS: any(len(o.drop) for o in orders),
    }
    return {kind for kind, there in held.items() if there}


def run_until_in_flight(dc: DistributedColony, kind: str, ticks: int = 80) -> None:
    """Run tick by tick until ``kind`` of message is held between ticks."""
    for _ in range(ticks):
        dc.run(1)
        if kind in in_flight(dc):
            return
    pytest.fail(f"no {kind} were ever held between ticks")


@pytest.mark.parametrize("kind", [DEGREES, ASKS, EDGES, DROPS])
def test_the_messages_held_between_ticks_are_saved(tmp_path: Path, kind: str) -> None:
    dc = make(20, 3, ColonyConfig(max_edge_degree=3))
    try:
        run_until_in_flight(dc, kind)
        d = save_distributed(dc, tmp_path / "dist")
        again = load_distributed(d)
        try:

            def held(x: DistributedColony) -> list[Any]:
                reports = [
                    (owner, req, *(np.asarray(getattr(r, f)).tolist() for f in REPORT_FIELDS))
                    for owner, req, r in held_reports(x)
                ]
                answers = [
                    (req, o.drop.tolist(), o.ask.tolist())
                    if isinstance(o, CapOrder)
                    else (req, int(o.node_id), o.label)
                    for req, v in sorted(x.runner._held.answers.items())
                    for o in v
                ]
                requests = sorted(
                    (o, q, x)
                    for o, by in x.runner._held.asks.items()
                    for q, items in by.items()
                    for x in items
                    if not isinstance(x, DegreeReport)
                )
                return [reports, answers, requests]

            assert held(again) == held(dc)
            assert held(dc)[0 if kind in (DEGREES, EDGES) else 1]  # the reports or the orders
            dc.run(10)
            again.run(10)
            graphs_equal(dc, again)
        finally:
            again.close()
    finally:
        dc.close()


def test_refuses_foreign_folder_and_damage(tmp_path: Path) -> None:
    dc = make(4)
    try:
        other = tmp_path / "other"
        other.mkdir()
        (other / "notes.txt").write_text("mine")
        with pytest.raises(StoreError, match="not empty and not a phago store"):
            save_distributed(dc, other)
        d = save_distributed(dc, tmp_path / "dist")
    finally:
        dc.close()
    manifest = next(d.glob("gen-*/manifest.json"))
    manifest.write_text(manifest.read_text().replace('"tick":0', '"tick":7'))
    with pytest.raises(StoreError, match="checksum mismatch in the manifest"):
        load_distributed(d)
    (d / "CURRENT").write_text("gen-999999\n")
    with pytest.raises(StoreError, match="missing"):
        load_distributed(d)


def test_forget_in_distributed_store(tmp_path: Path) -> None:
    """Without decay and cap, forgetting equals a cluster that never had the documents."""
    pure = ColonyConfig(edge_decay_rate=0.0, max_edge_degree=None)
    full, never = make(10, 3, pure), make(10, 3, pure, skip=(3,))
    try:
        full.run_until_digested(300)
        never.run_until_digested(300)
        victim = load_sample_corpus()[3]
        did = next(d.id for d in full.documents() if d.title == victim.title)
        d = save_distributed(full, tmp_path / "dist")
        before = GraphTable.from_store(d).node_count
        r = forget_in_store(d, [did])
        got = GraphTable.from_store(d)
        # the cluster's concepts, not their copies on each shard (counted until the 35th
        # session: 40 "removed" for 21 gone)
        assert r.documents_removed == [did] and r.nodes_removed == before - got.node_count > 0
        want = GraphTable.from_graph(never.graph)
        assert sorted(got.labels) == sorted(want.labels)

        def edges(t: GraphTable) -> dict[tuple[str, str], int]:
            return {
                tuple(sorted((t.labels[int(a)], t.labels[int(b)]))): int(c)  # type: ignore[misc]
                for a, b, c in zip(t.edge_a, t.edge_b, t.co_activations, strict=True)
            }

        assert edges(got) == edges(want)
        c = load_distributed(d)
        try:
            c.run(3)
            assert c.stats().documents_total == 9
        finally:
            c.close()
    finally:
        full.close()
        never.close()


@pytest.mark.parametrize("kind", [EDGES, ASKS, DROPS])
def test_forget_renumbers_the_messages_held_in_the_store(tmp_path: Path, kind: str) -> None:
    """Reports and orders held between ticks name nodes by local index; a forget that
    removes nodes renumbers them, so the loaded cluster's owners rank the right edges and
    its shards drop the right ones."""
    dc = make(20, 3, ColonyConfig(max_edge_degree=3))
    try:
        run_until_in_flight(dc, kind)
        digested = [d.id for d in dc.documents()][:3]
        # the nodes of the capped edges held, as NodeIds on their owners, before the forget
        capped_before = {
            (owner, req): [
                dc.runner.shards[owner].colony.graph.id_at(int(i)) for i in rep.capped_node
            ]
            for owner, req, rep in held_reports(dc)
        }
        d = save_distributed(dc, tmp_path / "dist")
    finally:
        dc.close()
    r = forget_in_store(d, digested)
    assert r.nodes_removed > 0
    again = load_distributed(d)
    try:
        shards = again.runner.shards
        kept = held_reports(again)
        assert kind != EDGES or any(len(rep.edge_node) for _, _, rep in kept)
        for owner, req, rep in kept:
            here, there = shards[req].colony.graph, shards[owner].colony.graph
            assert [here.id_at(int(i)) for i in rep.nodes_here] == rep.nodes.tolist()
            assert np.all(rep.nodes_there == -1)  # learnt owner indices are forgotten
            for node, (a, b) in zip(rep.edge_node, rep.edge_local, strict=True):
                assert there.id_at(int(node)) in (here.id_at(int(a)), here.id_at(int(b)))
            capped_after = [there.id_at(int(i)) for i in rep.capped_node]
            alive = set(there._ids_arr[: there.node_count].tolist())
            assert capped_after == [x for x in capped_before[owner, req] if x in alive]
        assert kind != EDGES or any(capped_before.values())  # some were held
        for req, items in again.runner._held.answers.items():
            for o in items:
                if not isinstance(o, CapOrder):
                    continue
                assert np.all(o.drop < shards[req].colony.graph.node_count)
                owner_graph = shards[o.owner].colony.graph
                assert [owner_graph.id_at(int(i)) for i in o.ask_local] == o.ask.tolist()
        again.run(10)
        assert again.current_tick > 0
    finally:
        again.close()


@pytest.fixture
def stored(tmp_path: Path) -> Iterator[tuple[Path, DistributedColony]]:
    """A 2-shard store at tick 3, and the colony it was saved from (at tick 3)."""
    dc = make(8)
    dc.run(3)
    d = save_distributed(dc, tmp_path / "dist")
    yield d, dc
    dc.close()


def _generations(d: Path) -> list[str]:
    return sorted(p.name for p in d.iterdir() if p.name.startswith("gen-"))


def test_a_generation_left_by_a_killed_save_does_not_block_the_next(
    stored: tuple[Path, DistributedColony],
) -> None:
    """A save killed (or out of disk) between renaming its generation in and switching
    CURRENT leaves a generation CURRENT does not name; later saves must still work."""
    d, dc = stored
    leftover = "gen-000002"  # the name the next save would choose
    shutil.copytree(d / "gen-000001", d / leftover)  # the orphan: CURRENT still says gen 1
    with load_distributed(d) as again:
        assert again.current_tick == 3
    dc.run(2)
    save_distributed(dc, d)
    current = (d / "CURRENT").read_text().strip()
    assert _generations(d) == [current] and current not in ("gen-000001", leftover)
    with load_distributed(d) as again:
        assert again.current_tick == 5
        graphs_equal(again, dc)


def test_failing_to_switch_current_leaves_no_generation_behind(
    stored: tuple[Path, DistributedColony], monkeypatch: pytest.MonkeyPatch
) -> None:
    d, dc = stored
    real = store_mod._write_file_atomic

    def full_disk(path: Path, data: bytes) -> None:
        if path.name == "CURRENT":
            raise OSError(28, "No space left on device")
        real(path, data)

    monkeypatch.setattr(store_mod, "_write_file_atomic", full_disk)
    dc.run(1)
    with pytest.raises(StoreError, match=r"dist: the disk is full"):
        save_distributed(dc, d)
    assert _generations(d) == ["gen-000001"]
    monkeypatch.undo()
    save_distributed(dc, d)
    with load_distributed(d) as again:
        assert again.current_tick == 4


def _without_shard_versions(d: Path) -> None:
    """Make the store ``d``'s manifest one saved before manifests recorded their shard
    files' versions (sealed again with its checksum)."""
    f = d / "gen-000001" / "manifest.json"
    raw = json.loads(f.read_text())
    del raw["body"]["shard_versions"]
    raw["sha256"] = store_mod._sha(store_mod._json_bytes(raw["body"]))
    f.write_text(json.dumps(raw))


def _swap(a: Path, b: Path) -> None:
    tmp = a.with_name("swap")
    a.rename(tmp)
    b.rename(a)
    tmp.rename(b)


def test_swapped_shard_files_are_refused(stored: tuple[Path, DistributedColony]) -> None:
    d, _ = stored
    gen = d / "gen-000001"
    _swap(gen / "shard-000.db", gen / "shard-001.db")
    pattern = r"dist: gen-000001/shard-000\.db holds shard 1 of 2, not shard 0 of 2"
    with pytest.raises(StoreError, match=pattern):
        load_distributed(d)
    with pytest.raises(StoreError, match=pattern):
        read_summary(d)
    with pytest.raises(StoreError, match=pattern):
        forget_in_store(d, [1])


def test_a_shard_file_of_another_store_is_refused(
    stored: tuple[Path, DistributedColony], tmp_path: Path
) -> None:
    d, _ = stored
    with make(4, shards=3) as other:
        o = save_distributed(other, tmp_path / "other")
    shutil.copy(o / "gen-000001" / "shard-001.db", d / "gen-000001" / "shard-001.db")
    with pytest.raises(StoreError, match="holds shard 1 of 3, not shard 1 of 2"):
        load_distributed(d)


def test_shard_files_saved_before_they_recorded_their_index_still_load(
    stored: tuple[Path, DistributedColony],
) -> None:
    d, dc = stored
    for f in sorted((d / "gen-000001").glob("shard-*.db")):
        con = sqlite3.connect(f)
        con.execute("DELETE FROM blobs WHERE name IN ('extra.shard_index', 'extra.shard_count')")
        con.commit()
        con.close()
    _without_shard_versions(d)  # (nor did their manifests record the files' versions)
    assert read_summary(d).stats["documents_total"] == 8
    with load_distributed(d) as again:
        graphs_equal(again, dc)
        again.run(2)
        dc.run(2)
        graphs_equal(again, dc)


def test_a_missing_shard_file_is_refused_by_read_summary(
    stored: tuple[Path, DistributedColony],
) -> None:
    d, _ = stored
    (d / "gen-000001" / "shard-001.db").unlink()
    with pytest.raises(StoreError, match=r"dist: .*shard file gen-000001/shard-001\.db is missing"):
        read_summary(d)
    with pytest.raises(StoreError, match=r"shard-001\.db is missing"):
        load_distributed(d)


def test_sharded_save_errors_name_the_store_folder(
    stored: tuple[Path, DistributedColony], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A full disk while a shard file is written names the store, not its temporary file."""
    d, dc = stored
    fill_disk_at_eight_pages(monkeypatch)
    dc.run(1)
    with pytest.raises(StoreError) as info:
        save_distributed(dc, d)
    assert str(info.value) == f"cannot save distributed colony to {d} (shard 0): the disk is full"
    assert _generations(d) == ["gen-000001"]
    with load_distributed(d) as again:
        assert again.current_tick == 3


def test_a_shard_file_of_another_save_of_the_same_store_is_refused(
    stored: tuple[Path, DistributedColony], tmp_path: Path
) -> None:
    """Same index, same shard count, but another save's file: its manifest's version of it
    differs (it used to load, mixing two saves' shards, and fail later)."""
    d, dc = stored
    old = tmp_path / "old-shard-001.db"
    shutil.copy(d / "gen-000001" / "shard-001.db", old)
    dc.run(4)
    save_distributed(dc, d)
    shutil.copy(old, d / "gen-000002" / "shard-001.db")
    pattern = r"gen-000002/shard-001\.db is not the shard file this store's manifest was saved"
    for call in (load_distributed, read_summary, lambda p: forget_in_store(p, [1])):
        with pytest.raises(StoreError, match=pattern):
            call(d)


def test_a_store_that_lost_its_current_file_is_never_replaced(
    stored: tuple[Path, DistributedColony],
) -> None:
    """Its generations are kept, every reader and writer says what is missing and how to put
    it back (a save used to take the folder for an empty one and delete the generation)."""
    d, dc = stored
    (d / "CURRENT").unlink()
    assert is_distributed_store(d)
    before = sorted(p.name for p in d.rglob("*"))
    pattern = r"CURRENT file, which names the generation in use, is missing .*gen-000001"
    for call in (
        load_distributed,
        read_summary,
        lambda p: forget_in_store(p, [1]),
        lambda p: save_distributed(dc, p),
    ):
        with pytest.raises(StoreError, match=pattern):
            call(d)
    assert sorted(p.name for p in d.rglob("*")) == before
    (d / "CURRENT").write_text("gen-000001\n")  # as the message says
    assert read_summary(d).stats["documents_total"] == 8


def test_a_folder_of_other_gen_folders_is_not_taken_for_an_empty_store(
    stored: tuple[Path, DistributedColony], tmp_path: Path
) -> None:
    _, dc = stored
    mine = tmp_path / "gens"
    (mine / "gen-000007").mkdir(parents=True)
    (mine / "gen-000007" / "mydata").write_text("keep")
    with pytest.raises(StoreError, match="missing"):
        save_distributed(dc, mine)
    assert (mine / "gen-000007" / "mydata").read_text() == "keep"


def test_a_first_save_stopped_before_its_switch_is_finished(
    stored: tuple[Path, DistributedColony], tmp_path: Path
) -> None:
    """Killed after writing ``CURRENT.tmp`` and before renaming it: the whole generation
    is the store (it used to be neither loadable nor writable)."""
    d, dc = stored
    (d / "CURRENT").rename(d / "CURRENT.tmp")
    assert read_summary(d).stats["documents_total"] == 8
    with load_distributed(d) as back:
        graphs_equal(back, dc)
    dc.run(1)
    save_distributed(dc, d)  # finishes the switch, then saves a new generation
    assert (d / "CURRENT").read_text().strip() == "gen-000002"
    assert not (d / "CURRENT.tmp").exists() and not (d / "gen-000001").exists()
    (d / "CURRENT").write_text("gen-00")  # a CURRENT.tmp cut short names nothing whole
    (d / "CURRENT").rename(d / "CURRENT.tmp")
    with pytest.raises(StoreError, match="missing"):
        load_distributed(d)


def test_a_read_only_store_folder_is_not_overwritten(
    stored: tuple[Path, DistributedColony],
) -> None:
    """By the permission bits, also for root (whom the kernel lets write anyway)."""
    d, dc = stored
    for target, mode in ((d / "CURRENT", 0o444), (d, 0o555)):
        target.chmod(mode)
        try:
            with pytest.raises(StoreError, match=r"the store is read-only \(.* has mode 0"):
                save_distributed(dc, d)
            with pytest.raises(StoreError, match="read-only"), store_lock(d):
                pass
        finally:
            target.chmod(0o755 if target.is_dir() else 0o644)
    assert (d / "CURRENT").read_text().strip() == "gen-000001"


def test_a_failed_first_save_leaves_no_folder(
    stored: tuple[Path, DistributedColony], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, dc = stored
    fill_disk_at_eight_pages(monkeypatch)
    with pytest.raises(StoreError):
        save_distributed(dc, tmp_path / "new")
    assert not (tmp_path / "new").exists()
    assert os.listdir(tmp_path) != []  # (the fixture's store is still there)


def test_a_stopped_first_save_in_a_read_only_folder_is_left_as_it_is(
    stored: tuple[Path, DistributedColony],
) -> None:
    d, dc = stored
    (d / "CURRENT").rename(d / "CURRENT.tmp")
    d.chmod(0o555)
    try:
        with pytest.raises(StoreError, match="read-only"):
            save_distributed(dc, d)
        assert sorted(p.name for p in d.iterdir()) == ["CURRENT.tmp", "gen-000001"]
    finally:
        d.chmod(0o755)


def test_finishing_a_stopped_save_that_cannot_rename_is_a_store_error(
    stored: tuple[Path, DistributedColony], monkeypatch: pytest.MonkeyPatch
) -> None:
    d, dc = stored
    (d / "CURRENT").rename(d / "CURRENT.tmp")

    def refused(src: object, dst: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(os, "replace", refused)
    with pytest.raises(StoreError, match=r"cannot finish the save .*gen-000001.*permission"):
        save_distributed(dc, d)


def test_a_saver_waiting_on_a_failed_first_save_locks_the_folder_it_writes(
    stored: tuple[Path, DistributedColony], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first saver fails and removes the folder it made while the second waits for its
    lock: the second then makes and locks a new folder (it used to write into a new folder
    holding only a lock on the removed one, so a third saver could write there too)."""
    import threading

    _, dc = stored
    target = tmp_path / "new"
    first_in, release = threading.Event(), threading.Event()
    real = store_mod._write_distributed_locked
    calls: list[str] = []

    def failing_first(*args: Any, **kwargs: Any) -> Any:
        if not calls:
            calls.append("first")
            first_in.set()
            release.wait(10)
            raise OSError(28, "No space left on device")
        calls.append("second")
        # the lock held here is on the folder now at the path
        locked = store_mod._held_locks()
        st = os.stat(target)
        assert (st.st_dev, st.st_ino) in locked
        return real(*args, **kwargs)

    monkeypatch.setattr(store_mod, "_write_distributed_locked", failing_first)
    errors: list[BaseException] = []

    def first() -> None:
        try:
            save_distributed(dc, target)
        except BaseException as exc:
            errors.append(exc)

    t = threading.Thread(target=first)
    t.start()
    assert first_in.wait(10)
    other = make(8)  # (another colony: one colony saves once at a time)
    try:
        other.run(3)
        second = threading.Thread(target=lambda: save_distributed(other, target))
        second.start()
        release.set()
        t.join(20)
        second.join(20)
    finally:
        other.close()
    assert calls == ["first", "second"] and len(errors) == 1
    assert isinstance(errors[0], OSError)  # (the failure made up above)
    assert read_summary(target).stats["documents_total"] == 8


@pytest.mark.parametrize("shards", [2, 3])
def test_the_saved_summary_is_the_merged_graphs_without_merging(
    tmp_path: Path, shards: int
) -> None:
    """A save with no merged graph at hand finds the summary's concepts from the shard
    states (each concept on its owner, degrees over every shard's stored edges): the same
    counts and top concepts the merged graph gives."""
    dc = make(16, shards)
    try:
        dc.run(25)
        assert dc.cached_graph() is None  # (nothing merged: the summary is found)
        d = save_distributed(dc, tmp_path / f"s{shards}")
        g = dc.graph
        acc, deg = g.access_counts(), g.degrees()
        order = np.lexsort((np.arange(g.node_count), -acc))[:20].tolist()
        want = [
            {"label": g.label_at(i), "access_count": int(acc[i]), "degree": int(deg[i])}
            for i in order
        ]
        s = read_summary(d)
        assert (s.stats["graph_nodes"], s.stats["graph_edges"]) == (g.node_count, g.edge_count)
        assert g.edge_count > 0 and s.top_concepts == want
        assert len({c["degree"] for c in want}) > 1  # (degrees that tell concepts apart)
    finally:
        dc.close()


def test_a_manifest_read_again_is_not_checked_again_until_it_changes(
    stored: tuple[Path, DistributedColony], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A command loads a sharded store and then reads its catalog: the second read of the
    same manifest parses it but does not serialise it again to check it; a manifest
    written since is checked (and a damaged one refused) as ever."""
    d, _ = stored
    read_manifest(d)
    serialised: list[object] = []
    real = store_mod._json_bytes

    def counted(obj: object) -> bytes:
        serialised.append(obj)
        return real(obj)

    monkeypatch.setattr(store_mod, "_json_bytes", counted)
    assert read_manifest(d)["num_shards"] == 2 and serialised == []
    f = next(d.glob("gen-*/manifest.json"))
    f.write_text(f.read_text().replace('"tick":', '"tick": ', 1))  # (the same body)
    read_manifest(d)
    assert len(serialised) == 1  # a file written since: checked
    f.write_text(f.read_text().replace('"layout_next":', '"layout_next":1', 1))
    with pytest.raises(StoreError, match="checksum mismatch in the manifest"):
        read_manifest(d)


def test_a_manifest_file_is_its_body_and_checksum_as_json(
    stored: tuple[Path, DistributedColony],
) -> None:
    """The manifest is written from its body serialised once: the file is exactly the
    JSON of ``{"body": ..., "sha256": ...}``, the checksum that of the body's JSON."""
    d, _ = stored
    data = next(d.glob("gen-*/manifest.json")).read_bytes()
    raw = json.loads(data)
    assert data == store_mod._json_bytes({"body": raw["body"], "sha256": raw["sha256"]})
    assert raw["sha256"] == store_mod._sha(store_mod._json_bytes(raw["body"]))


def _manifest_reads(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """The folders whose manifest is read from now on (``read_manifest`` counted)."""
    reads: list[object] = []
    real = store_mod.read_manifest

    def counted(path: object) -> dict[str, object]:
        reads.append(path)
        return real(path)  # type: ignore[arg-type]

    monkeypatch.setattr(store_mod, "read_manifest", counted)
    return reads


def test_load_distributed_with_catalog_reads_the_manifest_once(
    stored: tuple[Path, DistributedColony], monkeypatch: pytest.MonkeyPatch
) -> None:
    from phago.store import load_distributed_with_catalog, read_distributed_catalog

    d, _ = stored
    expected = read_distributed_catalog(d)
    reads = _manifest_reads(monkeypatch)
    dc, catalog = load_distributed_with_catalog(d)
    try:
        assert catalog == expected and len(reads) == 1
        assert dc.current_tick == 3
    finally:
        dc.close()


def test_saving_a_loaded_store_back_does_not_read_its_manifest_again(
    stored: tuple[Path, DistributedColony], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The manifest the load read and checked, unchanged since, names the version the save
    expects (given the catalog, as ``phago ingest`` gives it); a store another save changed
    in between is read and refused as ever."""
    from phago.store import load_distributed_with_catalog

    d, _ = stored
    dc, catalog = load_distributed_with_catalog(d)
    other = load_distributed(d)
    try:
        reads = _manifest_reads(monkeypatch)
        dc.run(2)
        save_distributed(dc, d, catalog=catalog)
        assert reads == []
        other.run(1)
        with pytest.raises(StoreChanged):
            save_distributed(other, d, catalog=catalog)
        assert len(reads) == 1
    finally:
        dc.close()
        other.close()


def _shard_file_contents(d: Path) -> list[dict[str, object]]:
    """Every shard file's rows and parts (by checksum) in the current generation of ``d``."""
    out: list[dict[str, object]] = []
    for f in sorted(next(d.glob("gen-*")).glob("shard-*.db")):
        con = sqlite3.connect(f)
        try:
            out.append(
                {
                    t: con.execute(f"SELECT * FROM {t} ORDER BY 1").fetchall()
                    for t in ("documents", "agents", "sources", "history")
                }
                | {"blobs": con.execute("SELECT name, sha256 FROM blobs ORDER BY 1").fetchall()}
            )
        finally:
            con.close()
    return out


def test_a_loaded_store_saved_back_changes_copies_of_its_shard_files(
    stored: tuple[Path, DistributedColony], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each shard file of the store's version is copied into the new generation and only
    what changed written into it: the files hold what a new save of the same cluster
    writes; a shard file that is not the version the colony knows is written anew."""
    d, _ = stored
    changed: list[Path] = []
    real = store_mod._write_in_place

    def spy(path: Path, *args: Any, **kwargs: Any) -> str:
        changed.append(path)
        return real(path, *args, **kwargs)

    monkeypatch.setattr(store_mod, "_write_in_place", spy)
    old_shard = (next(d.glob("gen-*")) / "shard-001.db").read_bytes()
    dc = load_distributed(d)
    try:
        dc.ingest_documents([("kelp", "kelp forest holdfast canopy urchin otter", (1.0, 1.0))])
        dc.run(4)
        save_distributed(dc, d)
        assert sorted(p.name for p in changed) == ["shard-000.db", "shard-001.db"]
        fresh = save_distributed(dc, tmp_path / "fresh")
        assert _shard_file_contents(d) == _shard_file_contents(fresh)
        again = load_distributed(d)
        try:
            graphs_equal(dc, again)
        finally:
            again.close()
        # a shard file replaced behind the colony's back (by an older one): written anew
        changed.clear()
        (next(d.glob("gen-*")) / "shard-001.db").write_bytes(old_shard)
        dc.run(2)
        save_distributed(dc, d)
        assert [p.name for p in changed] == ["shard-000.db"]
        assert _shard_file_contents(d) == _shard_file_contents(save_distributed(dc, fresh))
    finally:
        dc.close()
