"""The HTML view and the PNG written together: one layout, the same files as apart."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from store_helpers import make_colony

import phago.viz as viz_mod
from phago.cli import main
from phago.errors import ConfigError, PhagoError
from phago.export import GraphTable
from phago.store import save
from phago.viz import ViewData, write_html, write_html_and_png, write_png


@pytest.fixture(scope="module")
def table() -> GraphTable:
    c = make_colony(12, digesters=3)
    c.run_until_digested(200)
    return GraphTable.from_colony(c)


def count_layouts(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Count :func:`phago.viz.view_data` calls (each lays the graph out once)."""
    calls: list[int] = []
    real = viz_mod.view_data

    def counted(*args: Any, **kwargs: Any) -> ViewData:
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(viz_mod, "view_data", counted)
    return calls


@pytest.mark.parametrize(
    "options",
    [{}, {"labels": 3, "max_nodes": 5, "seed": 7, "title": "T", "color_by": "type"}],
)
def test_both_files_equal_the_ones_written_apart(
    table: GraphTable, tmp_path: Path, options: dict[str, Any]
) -> None:
    page, picture = write_html_and_png(table, tmp_path / "a.html", tmp_path / "a.png", **options)
    assert (page, picture) == (tmp_path / "a.html", tmp_path / "a.png")
    write_html(table, tmp_path / "b.html", **options)
    write_png(table, tmp_path / "b.png", **options)
    assert page.read_text() == (tmp_path / "b.html").read_text()
    assert picture.read_bytes() == (tmp_path / "b.png").read_bytes()


def test_both_files_lay_the_graph_out_once(
    table: GraphTable, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = count_layouts(monkeypatch)
    write_html_and_png(table, tmp_path / "a.html", tmp_path / "a.png")
    assert len(calls) == 1


@pytest.mark.parametrize(
    ("options", "error"),
    [
        ({"max_nodes": 0}, ConfigError),
        ({"labels": -1}, ConfigError),
        ({"seed": 1.5}, ConfigError),
        ({"title": 3}, ConfigError),
        ({"color_by": "colour"}, PhagoError),
        ({"color_by": "shard"}, PhagoError),  # not a distributed colony's graph
    ],
)
def test_bad_options_write_nothing(
    table: GraphTable, tmp_path: Path, options: dict[str, Any], error: type[Exception]
) -> None:
    with pytest.raises(error):
        write_html_and_png(table, tmp_path / "a.html", tmp_path / "a.png", **options)
    assert list(tmp_path.iterdir()) == []


def test_the_cli_lays_the_graph_out_once_for_both_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    c = make_colony(12, digesters=3)
    c.run_until_digested(200)
    db = tmp_path / "c.db"
    save(c, db)
    calls = count_layouts(monkeypatch)
    out = tmp_path / "v.html"
    r = CliRunner().invoke(main, ["viz", "--db", str(db), "--out", str(out), "--png", "--json"])
    assert r.exit_code == 0, r.output
    assert [Path(f).name for f in json.loads(r.stdout)["files"]] == ["v.html", "v.png"]
    assert len(calls) == 1
    assert out.with_suffix(".png").read_bytes()[:4] == b"\x89PNG"
