"""Runs side by side: timeline files read back (phago.compare.read_timeline) and drawn in one
chart (comparison_svg, comparison_html, write_comparison), and ``phago compare``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from phago.cli import main
from phago.compare import COMPARED, comparison_html, comparison_svg, read_timeline
from phago.errors import ConfigError, DocumentError
from phago.timeline import TickRecord, write_timeline
from sample_colony import build_sample_colony


def _run(ticks: int) -> list[TickRecord]:
    colony = build_sample_colony()
    colony.run(ticks)
    return colony.timeline()


@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".json"])
def test_a_timeline_file_reads_back_as_it_was_written(tmp_path: Path, suffix: str) -> None:
    records = _run(12)
    back = read_timeline(write_timeline(records, tmp_path / f"t{suffix}"))
    assert [r.tick for r in back] == list(range(1, 13))
    assert [(r.nodes, r.edges, r.agents_alive, r.documents_digested) for r in back] == [
        (r.nodes, r.edges, r.agents_alive, r.documents_digested) for r in records
    ]
    assert all(abs(a.tick_ms - b.tick_ms) < 1e-3 for a, b in zip(back, records, strict=True))


def test_what_is_no_timeline_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is a chart"):
        read_timeline(tmp_path / "t.html")
    bad = tmp_path / "t.csv"
    bad.write_text("tick,nodes\n1,2\n")
    with pytest.raises(DocumentError, match="not a timeline of phago"):
        read_timeline(bad)
    worse = tmp_path / "t.json"
    worse.write_text('{"tick": 1}')
    with pytest.raises(DocumentError, match="not a timeline of phago"):
        read_timeline(worse)


def test_the_chart_draws_a_line_per_run_in_every_panel() -> None:
    runs = {"seed 0": _run(20), "seed <1>": _run(30)}
    svg = comparison_svg(runs, title="two seeds")
    assert svg.count('data-run="seed 0"') == len(COMPARED)
    assert svg.count('data-run="seed &lt;1&gt;"') == len(COMPARED)  # (names escaped)
    assert 'data-runs="2"' in svg and "two seeds" in svg
    page = comparison_html(runs)
    assert page.count("<tr>") == 3 and "<script" not in page
    with pytest.raises(ConfigError, match="at least one run"):
        comparison_svg({"empty": []})
    with pytest.raises(ConfigError, match="at most 8 runs"):
        comparison_svg({str(i): runs["seed 0"] for i in range(9)})


def test_phago_compare_draws_the_runs_it_is_given(tmp_path: Path) -> None:
    a = write_timeline(_run(10), tmp_path / "a.csv")
    b = write_timeline(_run(15), tmp_path / "b.jsonl")
    runner = CliRunner()
    r = runner.invoke(
        main, ["compare", str(a), str(b), "--out", str(tmp_path / "c.html"), "--json"]
    )
    assert r.exit_code == 0, r.output
    said = json.loads(r.stdout)
    assert [(x["run"], x["ticks"]) for x in said["runs"]] == [("a", 10), ("b", 15)]
    assert (tmp_path / "c.html").read_text().count("<tr>") == 3
    r = runner.invoke(main, ["compare", str(a), "--out", str(tmp_path / "c.svg"), "--label", "x"])
    assert r.exit_code == 0 and "Wrote" in r.stdout and (tmp_path / "c.svg").exists()
    r = runner.invoke(main, ["compare", str(a), str(b), "--out", "c.svg", "--label", "x"])
    assert r.exit_code == 2 and "a --label for each" in r.output
    r = runner.invoke(main, ["compare", str(a), str(a), "--out", "c.svg"])
    assert r.exit_code == 2 and "same name" in r.output
    r = runner.invoke(main, ["compare", str(a), "--out", str(tmp_path / "c.csv")])
    assert r.exit_code == 1 and "is a chart" in r.output
