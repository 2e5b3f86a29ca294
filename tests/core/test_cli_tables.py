"""Wide CLI tables fit the output: turned on their side where a header would be cut."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner
from rich.console import Console

from phago.cli import main
from phago.cli.bench import _COLUMNS
from phago.cli.common import fitted_table

HEADERS = ["shards", "backend", "documents digested", "barrier ms/tick"]
PHAGO = [sys.executable, "-m", "phago"]
BENCH_ARGS = ["--shards", "2", "--docs", "20", "--ticks", "4", "--queries", "1"]
ROWS = [["1", "local", "100", "0.1"], ["8", "ray", "100", "12.5"]]


def _render(table: object, width: int) -> str:
    console = Console(width=width, record=True, file=open("/dev/null", "w"))  # noqa: SIM115
    console.print(table)
    return console.export_text()


def test_a_table_that_fits_keeps_one_column_per_header() -> None:
    t = fitted_table("runs", HEADERS, ROWS, key_columns=2, width=200)
    assert [c.header for c in t.columns] == HEADERS
    assert [list(c.cells) for c in t.columns][3] == ["0.1", "12.5"]


def test_a_table_too_wide_turns_on_its_side_with_every_cell() -> None:
    t = fitted_table("runs", HEADERS, ROWS, key_columns=2, width=30)
    assert [c.header for c in t.columns] == ["shards backend", "1 local", "8 ray"]
    assert list(t.columns[0].cells) == ["documents digested", "barrier ms/tick"]
    assert list(t.columns[2].cells) == ["100", "12.5"]
    text = _render(t, 50)
    assert "barrier ms/tick" in text and "…" not in text


def test_bench_table_is_readable_at_80_columns() -> None:
    # stdout is a pipe here, so rich lays it out for 80 columns: every header and figure
    # must be there in full (before, 13 columns were cut to three characters each)
    r = subprocess.run(
        [*PHAGO, "bench", "custom", *BENCH_ARGS],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr
    assert "…" not in r.stdout
    for _, head in _COLUMNS[2:]:
        assert head in r.stdout
    assert "2 local" in r.stdout


def test_run_shard_table_is_readable_at_80_columns() -> None:
    r = CliRunner().invoke(main, ["run", "--shards", "3", "--ticks", "5"])
    assert r.exit_code == 0, r.output
    assert "…" not in r.output
    assert "documents_digested" in r.output and "cross_shard_edges" in r.output
    assert "nodes_held" in r.output  # its own nodes and replicas of other shards'


def test_a_long_listing_is_plain_columns_with_every_row_and_whole_ids(tmp_path: Path) -> None:
    # a rich table of 50,000 rows took 43 s to print: past PLAIN_TABLE_ROWS rows, plain
    # aligned columns; in a pipe or a file no cell is cut
    import json

    from phago import Colony
    from phago.cli.common import PLAIN_TABLE_ROWS
    from phago.store import save

    colony = Colony()
    n = PLAIN_TABLE_ROWS + 5
    colony.ingest_documents([(f"note {i} [b]", f"cells divide {i}") for i in range(n)])
    db = save(colony, tmp_path / "s.db")
    listed = CliRunner().invoke(main, ["list", "--db", str(db)])
    assert listed.exit_code == 0, listed.output
    lines = listed.output.splitlines()
    assert lines[0] == f"{n} documents in {db}"
    assert lines[1].split() == ["id", "title", "chars", "digested", "added", "tags", "from"]
    ids = [
        d["id"]
        for d in json.loads(CliRunner().invoke(main, ["list", "--db", str(db), "--json"]).stdout)
    ]
    assert [line.split()[0] for line in lines[2:]] == ids
    assert all("note " in line and "[b]" in line for line in lines[2:])  # (brackets as they are)
    few = CliRunner().invoke(main, ["list", "--db", str(db), "--limit", "3"])
    assert "┃" in few.output or "│" in few.output  # (a few still get the boxed table)


def test_a_plain_table_cut_to_a_width_keeps_the_whole_columns() -> None:
    from phago.cli.common import plain_table

    rows = [["18446744073709551615", "a title of many words", "2026-12-07 01:02:03", "/a/b/c.md"]]
    text = plain_table("t", ["id", "title", "added", "from"], rows, whole=[0, 2], width=60)
    assert all(len(line) <= 60 for line in text.splitlines())
    cells = text.splitlines()[2]
    assert cells.startswith("18446744073709551615  ") and "2026-12-07 01:02:03" in cells
    assert "…" in cells
    wide = plain_table("t", ["id", "title", "added", "from"], rows)
    assert rows[0][1] in wide and "…" not in wide
