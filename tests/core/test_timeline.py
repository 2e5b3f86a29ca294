"""A run's timeline: one record per tick on both colony classes, kept through checkpoints,
and written as CSV, JSON lines, JSON, an SVG chart or an HTML page (also by ``phago run``)."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from dataclasses import astuple
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from phago import Colony
from phago.corpus import grid_positions, load_sample_corpus
from phago.distributed import DistributedColony
from phago.errors import ConfigError, OutputError, StoreError
from phago.store import save
from phago.timeline import (
    TIMELINE_FIELDS,
    TickRecord,
    _decimated,
    _nice_top,
    timeline_csv,
    timeline_html,
    timeline_svg,
    write_timeline,
)
from sample_colony import build_sample_colony

DOCS = load_sample_corpus()[:12]


def _sharded(shards: int, **options: object) -> DistributedColony:
    dc = DistributedColony(shards, seed=3, **options)  # type: ignore[arg-type]
    positions = grid_positions(len(DOCS))
    dc.ingest_documents([(d.title, d.content, p) for d, p in zip(DOCS, positions, strict=True)])
    dc.spawn_digesters(2, max_idle=20)
    return dc


def _counts(records: list[TickRecord]) -> list[tuple[object, ...]]:
    """The records without their milliseconds (which differ from run to run)."""
    return [astuple(r)[:-2] for r in records]


def test_a_colony_records_each_tick_it_runs_with_its_counts() -> None:
    colony = build_sample_colony()
    colony.run(5)
    ran = colony.run_until_digested(300)
    records = colony.timeline()
    assert [r.tick for r in records] == list(range(1, 6 + ran))
    last, st = records[-1], colony.stats()
    assert (last.nodes, last.edges, last.agents_alive) == (
        st.graph_nodes,
        st.graph_edges,
        st.agents_alive,
    )
    assert (last.documents_total, last.documents_digested) == (40, 40)
    assert records[0].documents_digested < 40 and records[-1].nodes > records[0].nodes
    assert all(r.tick_ms > 0 and r.cross_shard_edges == 0 == r.barrier_ms for r in records)
    # the same seed gives the same counts (only the milliseconds differ)
    again = build_sample_colony()
    again.run(5 + ran)
    assert _counts(again.timeline()) == _counts(records)


def test_phases_run_one_by_one_are_not_recorded_and_the_record_is_bounded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    colony = build_sample_colony()
    colony.sense()
    colony.act()
    colony.decay()
    colony.advance()
    assert colony.timeline() == []
    monkeypatch.setattr("phago.colony.TIMELINE_TICKS", 4)
    bounded = build_sample_colony()
    bounded.run(7)
    assert [r.tick for r in bounded.timeline()] == [4, 5, 6, 7]
    colony.run(2)  # the ticks run whole are
    assert [r.tick for r in colony.timeline()] == [2, 3]


def test_a_colony_pickled_before_timelines_records_again(tmp_path: Path) -> None:
    import pickle

    colony = build_sample_colony()
    del colony.__dict__["_timeline"]  # as a colony pickled by an earlier phago
    restored = pickle.loads(pickle.dumps(colony))
    assert restored.timeline() == []
    restored.run(2)
    assert [r.tick for r in restored.timeline()] == [1, 2]


def test_a_loaded_store_goes_on_with_its_timeline(tmp_path: Path) -> None:
    import sqlite3

    from phago.store import load

    colony = build_sample_colony()
    colony.run(3)
    path = save(colony, tmp_path / "c.db")
    loaded = load(path)
    assert loaded.timeline() == colony.timeline()  # (milliseconds and all)
    loaded.run(2)
    colony.run(2)
    assert [r.tick for r in loaded.timeline()] == [1, 2, 3, 4, 5]
    assert _counts(loaded.timeline()) == _counts(colony.timeline())
    save(loaded, path)  # in place: the part grows
    assert [r.tick for r in load(path).timeline()] == [1, 2, 3, 4, 5]
    with sqlite3.connect(path) as con:  # a store from before timelines were kept
        con.execute("DELETE FROM blobs WHERE name = 'timeline'")
    con.close()
    older = load(path)
    assert older.timeline() == []
    older.run(1)
    assert [r.tick for r in older.timeline()] == [6]
    save(older, path)  # and a damaged one is read as none: the colony loads whole
    with sqlite3.connect(path) as con:
        (data,) = con.execute("SELECT data FROM blobs WHERE name = 'timeline'").fetchone()
        con.execute("UPDATE blobs SET data = ? WHERE name = 'timeline'", (bytes(data)[:-8],))
    con.close()
    damaged = load(path)
    assert damaged.timeline() == [] and damaged.stats() == older.stats()


def test_a_loaded_sharded_store_goes_on_with_its_timeline(tmp_path: Path) -> None:
    from phago.store import load_distributed, save_distributed

    with _sharded(2) as whole:
        whole.run(6)
        save_distributed(whole, tmp_path / "d")
        whole.run(4)
        expected = _counts(whole.timeline())
    with load_distributed(tmp_path / "d") as loaded:
        assert [r.tick for r in loaded.timeline()] == list(range(1, 7))
        loaded.run(4)
        assert _counts(loaded.timeline()) == expected


@pytest.mark.parametrize("shards", [1, 3])
def test_a_sharded_colony_records_what_its_shards_report(shards: int) -> None:
    with _sharded(shards) as dc:
        dc.run(6)
        ran = dc.run_until_digested(200)
        records = dc.timeline()
        st = dc.stats()
    assert [r.tick for r in records] == list(range(1, 7 + ran))
    last = records[-1]
    assert (last.nodes, last.edges, last.agents_alive) == (
        st.graph_nodes,
        st.graph_edges,
        st.agents_alive,
    )
    assert (last.documents_total, last.documents_digested) == (12, 12)
    assert [(t, n, e) for t, n, e in dc.history] == [(r.tick, r.nodes, r.edges) for r in records]
    assert all(r.tick_ms > 0 and r.barrier_ms >= 0 for r in records)
    made = sum(r.cross_shard_edges for r in records)
    assert (made > 0) == (shards > 1)


def test_one_shard_records_the_counts_one_colony_records() -> None:
    colony = Colony(seed=3)
    colony.ingest_documents(
        [(d.title, d.content, p) for d, p in zip(DOCS, grid_positions(len(DOCS)), strict=True)]
    )
    colony.spawn_digesters(2, max_idle=20)
    colony.run(15)
    with _sharded(1) as dc:
        dc.run(15)
        sharded = dc.timeline()
    mine = colony.timeline()
    assert [(r.tick, r.edges, r.agents_alive, r.documents_digested) for r in mine] == [
        (r.tick, r.edges, r.agents_alive, r.documents_digested) for r in sharded
    ]


def test_a_run_resumed_from_its_checkpoints_has_the_whole_timeline(tmp_path: Path) -> None:
    with _sharded(2) as whole:
        whole.run(14)
        expected = _counts(whole.timeline())
    with _sharded(2, checkpoint_every=5, checkpoint_dir=tmp_path / "ck") as first:
        first.run(10)
    with DistributedColony.from_checkpoint(tmp_path / "ck") as resumed:
        # the newest checkpoint on disk is tick 5's (tick 10's would be taken before tick 11)
        assert [r.tick for r in resumed.timeline()] == list(range(1, 6))
        resumed.run(9)
        assert _counts(resumed.timeline()) == expected


def test_the_files_hold_every_record_in_each_format(tmp_path: Path) -> None:
    records = [
        TickRecord(t, 3 * t, t * t, 5 - t % 3, 9, min(t, 9), t % 2, 1.5 * t, 0.25)
        for t in range(1, 13)
    ]
    csv_path = write_timeline(records, tmp_path / "run.csv")
    rows = list(csv.DictReader(csv_path.open()))
    assert tuple(rows[0]) == TIMELINE_FIELDS and len(rows) == 12
    assert [int(r["edges"]) for r in rows] == [t * t for t in range(1, 13)]
    assert float(rows[3]["tick_ms"]) == 6.0
    lines = write_timeline(records, tmp_path / "run.jsonl").read_text().splitlines()
    assert [json.loads(line) for line in lines] == [r.to_dict() for r in records]
    listed = json.loads(write_timeline(records, tmp_path / "run.json").read_text())
    assert listed == [r.to_dict() for r in records]
    svg = write_timeline(records, tmp_path / "run.svg", title="a <b>").read_text()
    assert svg.startswith("<svg") and 'data-ticks="12"' in svg and "a &lt;b&gt;" in svg
    fields = {f for f in TIMELINE_FIELDS if f not in ("tick", "cross_shard_edges")}
    assert {f'data-field="{f}"' in svg for f in fields} == {True}
    page = write_timeline(records, tmp_path / "run.HTML").read_text()
    assert page.startswith("<!DOCTYPE html>") and "<script" not in page and "12 (1 to 12)" in page
    assert "http" not in page.replace("http://www.w3.org/2000/svg", "")
    assert timeline_csv([]).count("\n") == 1  # the header alone


def test_bad_timeline_outputs_are_typed_errors_and_leave_nothing(tmp_path: Path) -> None:
    records = [TickRecord(1, 1, 0, 1, 1, 0)]
    with pytest.raises(ConfigError, match=r"ends in \.csv"):
        write_timeline(records, tmp_path / "run.txt")
    with pytest.raises(ConfigError, match="no ticks"):
        write_timeline([], tmp_path / "run.svg")
    with pytest.raises(ConfigError, match="TickRecords"):
        timeline_csv([(1, 2, 3)])  # type: ignore[list-item]
    with pytest.raises(OutputError, match="cannot write"):
        write_timeline(records, tmp_path / "missing" / "run.csv")
    store = save(Colony(), tmp_path / "c.csv")  # a store, whatever its name
    before = store.read_bytes()
    with pytest.raises(StoreError):
        write_timeline(records, store)
    assert store.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.csv"]


def test_the_chart_keeps_a_one_tick_spike_and_scales_past_the_first_compile() -> None:
    ms = [400.0] + [1.0 + t % 3 for t in range(3000)]  # compiling, then 1 to 3 ms
    ms[1700] = 4.5
    records = [TickRecord(t + 1, t, t, 1, 1, 1, 0, m) for t, m in enumerate(ms)]
    svg = timeline_svg(records)
    line = next(p for p in svg.split("<polyline")[1:] if 'data-field="tick_ms"' in p)
    points = line.split('points="')[1].split('"')[0].split()
    assert len(points) <= 1300
    ys = sorted({float(p.split(",")[1]) for p in points})
    # the axis goes to 5 ms: the first tick at the top, the spike below it, then 3 and 1
    # (a stretch's lowest and highest survive thinning; 2 ms is never either)
    assert len(ys) == 4 and ys[0] == 40 + 3 * (130 + 34)
    assert "max 400" in svg
    assert "<title>" in timeline_html(records)


@given(st.lists(st.floats(0, 1e6), min_size=1, max_size=5000))
def test_prop_thinning_keeps_the_extremes_in_order(values: list[float]) -> None:
    y = np.asarray(values)
    x = np.arange(len(y), dtype=float)
    xs, ys = _decimated(x, y)
    assert len(xs) <= max(len(y), 1200) and np.all(np.diff(xs) > 0)
    assert ys.max() == y.max() and ys.min() == y.min()
    assert np.array_equal(ys, y[xs.astype(int)])


@given(st.just(0.0) | st.floats(1e-6, 1e12))
def test_prop_the_axis_top_is_a_round_number_just_above(value: float) -> None:
    top = _nice_top(value)
    assert top >= value and (value == 0 or top <= 2.0 * value + 1e-9 * value)
    mantissa = top / 10 ** np.floor(np.log10(top))
    assert round(mantissa, 9) in (1.0, 2.0, 2.5, 5.0)


def _phago(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "120"}
    return subprocess.run(
        [sys.executable, "-m", "phago", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_phago_run_writes_the_timeline_it_ran(tmp_path: Path) -> None:
    done = _phago("run", "--timeline", "t.csv", "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    rows = list(csv.DictReader((tmp_path / "t.csv").open()))
    assert len(rows) == report["ticks_run"] and report["timeline"] == str(tmp_path / "t.csv")
    assert int(rows[-1]["edges"]) == report["graph_edges"]
    assert f"timeline of {len(rows)} ticks (ticks 1 to {len(rows)}) written to t.csv" in done.stderr
    sharded = _phago("run", "--shards", "2", "--ticks", "9", "--timeline", "t.html", cwd=tmp_path)
    assert sharded.returncode == 0, sharded.stderr
    assert "9 (1 to 9)" in (tmp_path / "t.html").read_text()


def test_phago_run_refuses_a_timeline_it_could_not_write_before_running(tmp_path: Path) -> None:
    for name, said in (("t.txt", "ends in .csv"), ("nowhere/t.csv", "does not exist")):
        done = _phago("run", "--timeline", name, cwd=tmp_path)
        assert done.returncode == 2 and said in done.stderr, done.stderr
        assert "Colony after" not in done.stdout
    save(Colony(), tmp_path / "s.json")
    done = _phago("run", "--timeline", "s.json", cwd=tmp_path)
    assert done.returncode == 1 and "StoreError" in done.stderr


def test_the_buffer_keeps_the_last_rows_and_a_copy_holds_only_them() -> None:
    import pickle

    from phago.timeline import TimelineBuffer

    b = TimelineBuffer(limit=5)
    for t in range(1, 13):
        b.append(t, t, 2 * t, 1, 1, 1, 0, 0.5, 0.0)
    assert [r.tick for r in b.records()] == [8, 9, 10, 11, 12] and len(b) == 5
    back = pickle.loads(pickle.dumps(b))
    assert back.records() == b.records() and back.limit == 5
    back.extend_rows(b.rows()[:2])
    assert [r.tick for r in back.records()] == [10, 11, 12, 8, 9]
    big = TimelineBuffer()
    for t in range(3000):
        big.append(t, 0, 0, 0, 0, 0, 0, 0.0, 0.0)
    assert len(pickle.dumps(big)) < 3000 * 9 * 8 + 1000  # the rows, not the room after them


def test_a_checkpoint_takes_the_timeline_as_one_array() -> None:
    with _sharded(2) as dc:
        dc.run(5)
        extra = dc._checkpoint_extra([])
    assert isinstance(extra["timeline"], np.ndarray) and extra["timeline"].shape == (5, 9)


def test_the_chart_draws_what_a_sharded_run_made_and_the_page_titles_it_once() -> None:
    with _sharded(3) as dc:
        dc.run(12)
        records = dc.timeline()
    svg = timeline_svg(records)
    assert 'data-field="cross_shard_edges"' in svg and 'data-field="barrier_ms"' in svg
    assert 'stroke-dasharray="5 4" data-field="documents_total"' in svg
    one = timeline_svg([TickRecord(1, 1, 1, 1, 1, 1)])
    assert "cross_shard_edges" not in one and "barrier_ms" not in one
    page = timeline_html(records, title="a run")
    assert page.count(">a run<") == 2  # the page's <title> and its heading, not the chart


def test_records_a_user_built_badly_are_refused(tmp_path: Path) -> None:
    for bad in (
        TickRecord(1, 1, 1, 1, 1, 1, 0, float("nan")),
        TickRecord("a", None, 1, 1, 1, 1),  # type: ignore[arg-type]
        TickRecord(1, 1, 1, True, 1, 1),
    ):
        with pytest.raises(ConfigError, match="TickRecord"):
            write_timeline([bad], tmp_path / "t.svg")
    assert not list(tmp_path.iterdir())
