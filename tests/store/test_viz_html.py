"""The HTML view: self-contained, rendered by headless Chromium; the PNG picture."""

from __future__ import annotations

import doctest
import errno
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner
from store_helpers import make_colony

import phago.viz as viz_mod
from phago.cli import main
from phago.errors import ConfigError, PhagoError, StoreError
from phago.export import GraphTable
from phago.store import is_store, save
from phago.viz import render_html, write_html, write_png


@pytest.fixture(scope="module")
def table() -> GraphTable:
    c = make_colony(12, digesters=3)
    c.run_until_digested(200)
    return GraphTable.from_colony(c)


def chromium() -> str:
    """The Chromium binary; absent means a failed test, not a skipped one."""
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    assert exe, "chromium is not installed: run `make setup` (it installs Debian's chromium)"
    return exe


def dump_dom(html: Path, profile: Path) -> str:
    cmd = [
        chromium(),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        "--virtual-time-budget=5000",
        "--dump-dom",
        html.resolve().as_uri(),
    ]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=90)
    assert r.returncode == 0, r.stderr[-2000:]
    return r.stdout


def test_doctests() -> None:
    r = doctest.testmod(viz_mod)
    assert r.attempted > 0 and r.failed == 0


def test_html_is_self_contained(table: GraphTable) -> None:
    page = render_html(table, title="<b>x</b>")
    assert page.startswith("<!DOCTYPE html>")
    without_ns = page.replace("http://www.w3.org/2000/svg", "")
    assert not re.search(r"https?://|//cdn|<link\b|src=", without_ns)
    assert "&lt;b&gt;x&lt;/b&gt;" in page and "<b>x</b>" not in page


def test_chromium_renders_every_node(tmp_path: Path, table: GraphTable) -> None:
    html = write_html(table, tmp_path / "graph.html", max_nodes=300)
    dom = dump_dom(html, tmp_path / "profile")
    n_nodes = int(re.search(r'data-rendered-nodes="(\d+)"', dom).group(1))  # type: ignore[union-attr]
    n_edges = int(re.search(r'data-rendered-edges="(\d+)"', dom).group(1))  # type: ignore[union-attr]
    assert n_nodes == dom.count("<circle") == min(300, int((table.degrees() > 0).sum()))
    assert n_edges == dom.count("<line") > 0
    assert 'data-rendered="true"' in dom
    assert 'fill="#' in dom  # coloured by community
    top = table.labels[int(table.access.argmax())]
    assert f'data-label="{top}"' in dom and f">{top}</text>" in dom  # labels of top concepts
    assert 'id="search"' in dom and 'id="legend"' in dom


def test_colour_by_shard_needs_shards(table: GraphTable, tmp_path: Path) -> None:
    with pytest.raises(PhagoError, match="not from a distributed colony"):
        render_html(table, color_by="shard")
    with pytest.raises(PhagoError, match="unknown colouring"):
        render_html(table, color_by="mood")
    c = make_colony(3, digesters=1)
    c.run_until_digested(100)
    sharded = GraphTable.from_graph(c.graph, shard=1)
    assert '"shard":1' in render_html(sharded, color_by="shard")


def test_png(tmp_path: Path, table: GraphTable) -> None:
    p = write_png(table, tmp_path / "g.png", max_nodes=200)
    data = p.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000


# ---------------------------------------------------------------------------- output files


def _full_disk_after(monkeypatch: pytest.MonkeyPatch, kind: str) -> None:
    """Make the next HTML (``kind="html"``) or PNG write part of its file, then find the
    disk full."""
    if kind == "html":

        def write_text(self: Path, data: str, *args: Any, **kwargs: Any) -> int:
            with open(self, "w", encoding="utf-8") as fh:
                fh.write(data[:100])
            raise OSError(errno.ENOSPC, "No space left on device")

        monkeypatch.setattr(Path, "write_text", write_text)
        return
    from matplotlib.figure import Figure

    def savefig(self: Figure, fname: Any, *args: Any, **kwargs: Any) -> None:
        with open(fname, "wb") as fh:
            fh.write(b"\x89PNG\r\n\x1a\n")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Figure, "savefig", savefig)


@pytest.mark.parametrize("kind", ["html", "png"])
def test_a_full_disk_keeps_the_previous_picture_whole(
    tmp_path: Path, table: GraphTable, kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    write = write_html if kind == "html" else write_png
    out = write(table, tmp_path / f"graph.{kind}", max_nodes=100)
    before = out.read_bytes()
    _full_disk_after(monkeypatch, kind)
    with pytest.raises(PhagoError, match=rf"cannot write .*graph\.{kind}: No space left"):
        write(table, out, max_nodes=100)
    monkeypatch.undo()
    assert out.read_bytes() == before  # the previous file, whole
    assert [p.name for p in tmp_path.iterdir()] == [out.name]  # no temporary left


def test_viz_refuses_to_write_over_a_store(tmp_path: Path, table: GraphTable) -> None:
    c = make_colony(3, digesters=1)
    db = save(c, tmp_path / "c.db")
    before = db.read_bytes()
    for write in (write_html, write_png):
        with pytest.raises(StoreError, match="it is a phago store"):
            write(table, db)
    link = tmp_path / "graph.png"
    link.symlink_to(db)  # the PNG next to the page would replace the store
    for args in (["--out", str(db)], ["--out", str(tmp_path / "graph.html"), "--png"]):
        r = CliRunner().invoke(main, ["viz", "--db", str(db), *args], catch_exceptions=False)
        assert r.exit_code == 1, r.output
        assert "refusing to write" in r.output and "it is the store being read" in r.output
    assert db.read_bytes() == before and is_store(db)
    assert not (tmp_path / "graph.html").exists()  # nothing written when one file is refused


def test_the_view_says_what_it_leaves_out_and_json_counts_what_is_drawn(tmp_path: Path) -> None:
    import json

    from phago.graph import HebbianGraph

    g = HebbianGraph()
    g.wire_clique(g.present(["cell", "membrane", "protein"]), 0)
    g.add_node("lonely")  # no edges: not drawn
    t = GraphTable.from_graph(g)
    page = render_html(t)
    # (it said "showing the 3 most accessed nodes", as if --max-nodes had cut them)
    assert "showing the 3 connected nodes (1 with no edges left out)" in page
    assert "showing the 2 most accessed of 3 connected nodes" in render_html(t, max_nodes=2)
    c = make_colony(6, digesters=2)
    c.run_until_digested(200)
    db = save(c, tmp_path / "c.db")
    r = CliRunner().invoke(
        main,
        ["viz", "--db", str(db), "--out", str(tmp_path / "v.html"), "--max-nodes", "5", "--json"],
    )
    assert r.exit_code == 0, r.output
    got = json.loads(r.output)
    assert got["shown_nodes"] == 5 and got["nodes"] > 5 and 0 < got["shown_edges"] <= 10


def test_the_command_says_how_many_nodes_of_how_many_it_draws(tmp_path: Path) -> None:
    import html
    import json

    from phago.viz import page_note

    c = make_colony(6, digesters=2)
    c.run_until_digested(200)
    db = save(c, tmp_path / "c.db")
    page = tmp_path / "v.html"
    args = ["viz", "--db", str(db), "--out", str(page), "--max-nodes", "5"]
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 0, r.output
    lines = r.output.splitlines()
    # (it printed only "Wrote ..." and the address, though the page said what it left out)
    assert lines[0] == f"Wrote {page}" and lines[-1].startswith("Open it in a browser: ")
    t = GraphTable.from_colony(c)
    connected = int((t.degrees() > 0).sum())
    assert connected > 5
    note = f"showing the 5 most accessed of {connected} connected nodes"
    assert note in lines[1] and lines[1].startswith(f"tick {t.tick} · {t.node_count} nodes · ")
    assert f'<span id="note">{html.escape(lines[1])}</span>' in page.read_text()  # the same
    got = json.loads(CliRunner().invoke(main, [*args, "--json"]).output)
    assert got["note"] == lines[1]
    png = CliRunner().invoke(main, ["viz", "--db", str(db), "--out", str(tmp_path / "v.png")])
    assert png.exit_code == 0 and png.output.splitlines() == [
        f"Wrote {tmp_path / 'v.png'}",
        page_note(t, connected),  # (every connected node: fewer than 800)
    ]


def test_bad_view_options_are_config_errors_and_nothing_is_written(tmp_path: Path) -> None:
    from phago.graph import HebbianGraph
    from phago.viz import force_layout, select_nodes, view_data

    g = HebbianGraph()
    g.wire_clique(g.present(["cell", "membrane", "protein"]), 0)
    t = GraphTable.from_graph(g)
    bad = [
        ("max_nodes", v, "max_nodes must be a whole number >= 1")
        for v in ("x", 2.5, -5, 0, None, True)
    ]
    bad += [("seed", v, "seed must be a whole number >= 0") for v in (-1, "x", 1.5, None)]
    bad += [("labels", v, "labels must be a whole number >= 0") for v in ("x", -1, 2.5)]
    bad += [("title", v, "title must be text") for v in (None, 3)]
    draws: tuple[Callable[..., object], ...] = (render_html, write_html, write_png)
    for name, value, message in bad:
        for draw in draws:
            out = tmp_path / f"g.{'png' if draw is write_png else 'html'}"
            args = (t,) if draw is render_html else (t, out)
            with pytest.raises(ConfigError, match=message):
                draw(*args, **{name: value})
            assert not out.exists()
        if name in ("max_nodes", "seed"):
            with pytest.raises(ConfigError, match=message):
                view_data(t, **{name: value})  # type: ignore[arg-type]
    for value in ("x", 2.5, -5, 0):
        with pytest.raises(ConfigError, match="max_nodes must be a whole number >= 1"):
            select_nodes(t, value)  # type: ignore[arg-type]
    edge = (np.array([0]), np.array([1]), np.array([1.0]))
    for kwargs in ({"seed": -1}, {"seed": "x"}, {"iterations": -2}, {"iterations": 1.5}):
        with pytest.raises(ConfigError, match="must be a whole number >= 0"):
            force_layout(2, *edge, **kwargs)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="n must be a whole number >= 0"):
        force_layout(-1, *edge)
    with pytest.raises(ConfigError, match=r"unknown options \['max_node'\]"):
        write_html(t, tmp_path / "g.html", max_node=5)
    assert not list(tmp_path.iterdir())
    # whole numbers of any kind are taken as they are
    assert render_html(t, max_nodes=np.int64(2), labels=2.0, seed=np.uint8(3)) == render_html(  # type: ignore[arg-type]
        t, max_nodes=2, labels=2, seed=3
    )
