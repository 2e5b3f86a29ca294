"""A file phago cannot write (an export, a picture) is an :class:`OutputError`, in Python
and in the command line's JSON errors, and nothing is written in its place."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from store_helpers import make_colony

from phago.cli import main
from phago.errors import OutputError, PhagoError
from phago.export import GraphTable, export_graph
from phago.store import save
from phago.viz import write_html, write_html_and_png, write_png


@pytest.fixture(scope="module")
def table() -> GraphTable:
    c = make_colony(6, digesters=2)
    c.run_until_digested(200)
    return GraphTable.from_colony(c)


def test_an_export_into_a_missing_folder_is_an_output_error(
    tmp_path: Path, table: GraphTable
) -> None:
    for fmt in ("graphml", "gexf", "json", "csv", "triples"):
        with pytest.raises(OutputError, match="cannot write"):
            export_graph(table, fmt, tmp_path / "missing" / f"g.{fmt}")
    assert not (tmp_path / "missing").exists()
    assert issubclass(OutputError, PhagoError) and issubclass(OutputError, OSError)


def test_a_picture_into_a_missing_folder_is_an_output_error(
    tmp_path: Path, table: GraphTable
) -> None:
    out = tmp_path / "missing"
    with pytest.raises(OutputError):
        write_html(table, out / "g.html")
    with pytest.raises(OutputError):
        write_png(table, out / "g.png")
    with pytest.raises(OutputError):
        write_html_and_png(table, out / "g.html", out / "g.png")


def test_the_command_line_names_the_type(tmp_path: Path) -> None:
    c = make_colony(6, digesters=2)
    c.run_until_digested(200)
    db = tmp_path / "c.db"
    save(c, db)
    for args in (
        ["export", "--db", str(db), "--format", "json", "--out", str(tmp_path / "x" / "e.json")],
        ["viz", "--db", str(db), "--out", str(tmp_path / "x" / "v.html")],
    ):
        r = CliRunner().invoke(main, [*args, "--json"])
        assert r.exit_code == 1, r.output
        assert json.loads(r.stdout)["error"]["type"] == "OutputError", args
