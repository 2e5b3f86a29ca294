"""End-to-end: ingest, stats, forget, export, viz and demo through the ``phago`` command.

Most calls go through click's runner in this process (fast); the ones marked so run the real
``python -m phago`` as a subprocess.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import networkx as nx
import pytest
from click.testing import CliRunner
from store_helpers import write

from phago.cli import main
from phago.corpus import load_sample_corpus

PHAGO = [sys.executable, "-m", "phago"]


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str


def run(*args: str, ok: bool = True, subprocess_run: bool = False) -> Result:
    if subprocess_run:
        p = subprocess.run([*PHAGO, *args], capture_output=True, text=True, timeout=300)
        r = Result(p.returncode, p.stdout, p.stderr)
    else:
        c = CliRunner().invoke(main, list(args), catch_exceptions=False)
        r = Result(c.exit_code, c.stdout, c.stderr)
    if ok:
        assert r.returncode == 0, r.stderr + r.stdout
    return r


def corpus(root: Path, n: int = 8) -> Path:
    docs = root / "docs"
    for d in load_sample_corpus()[:n]:
        write(docs / "notes" / f"{d.title}.md", f"# {d.title}\n\n{d.content}")
    write(docs / "empty.txt", "")
    write(docs / "blob.txt", b"\x00\x01\x02binary")
    write(
        docs / "nested" / "page.html",
        "<html><title>Page</title><p>Glaciers carve valleys.</p></html>",
    )
    return docs


@pytest.mark.parametrize("cmd", ["ingest", "forget", "export", "viz", "stats"])
def test_help(cmd: str) -> None:
    r = run(cmd, "--help", subprocess_run=cmd == "ingest")
    assert "Usage" in r.stdout and "--db" in r.stdout


def test_ingest_stats_forget_export_viz(tmp_path: Path) -> None:
    docs = corpus(tmp_path)
    db = tmp_path / "kb.db"
    r = json.loads(
        run(
            "ingest", str(docs), "--db", str(db), "--digesters", "4", "--json", subprocess_run=True
        ).stdout
    )
    assert r["files_added"] == 9 and r["skipped"] == 2 and r["duplicates"] == 0
    assert {Path(s["path"]).name for s in r["skipped_files"]} == {"empty.txt", "blob.txt"}
    assert all(s["path"] in s["reason"] for s in r["skipped_files"])
    assert r["stats"]["documents_digested"] == r["stats"]["documents_total"] == 9
    before = db.read_bytes()

    # idempotent: the same paths again add nothing and leave the store as it was
    again = run("ingest", str(docs), "--db", str(db))
    assert "Added 0 documents" in again.stdout and "2 skipped" in again.stdout
    assert "empty.txt" in again.stderr and "binary file" in again.stderr
    assert db.read_bytes() == before

    st = json.loads(run("stats", "--db", str(db), "--json").stdout)
    for key in (
        "tick",
        "documents_total",
        "documents_digested",
        "graph_nodes",
        "graph_edges",
        "agents_alive",
    ):
        assert key in st
    assert st["documents_total"] == 9 and st["sources"] == 9 and len(st["history"]) >= 2
    human = run("stats", "--db", str(db)).stdout
    assert "Top concepts" in human and "nodes " in human and any(c in human for c in "▁▂▃▄▅▆▇█")

    # forget one file by path and one document by id
    page = docs / "nested" / "page.html"
    f1 = json.loads(run("forget", str(page), "--db", str(db), "--json").stdout)
    assert len(f1["documents_removed"]) == 1
    some_id = json.loads(
        run(
            "export",
            "--db",
            str(db),
            "--format",
            "json",
            "--out",
            str(tmp_path / "g.json"),
            "--json",
        ).stdout
    )
    assert some_id["nodes"] > 0
    doc_id = next(a["documents"][0] for a in r["added"] if not a["path"].endswith("page.html"))
    run("forget", doc_id, "--db", str(db))
    st2 = json.loads(run("stats", "--db", str(db), "--json").stdout)
    assert st2["documents_total"] == 7 and st2["sources"] == 7
    bad = run("forget", "12345", "--db", str(db), ok=False)
    assert (
        bad.returncode == 1 and "no stored document or ingested file matches: 12345" in bad.stderr
    )
    # the forgotten file is new content again
    back = json.loads(run("ingest", str(page), "--db", str(db), "--json").stdout)
    assert back["documents_added"] == 1

    # export GraphML and read it back
    out = tmp_path / "g.graphml"
    run("export", "--db", str(db), "--format", "graphml", "--out", str(out))
    g = nx.read_graphml(out)
    st3 = json.loads(run("stats", "--db", str(db), "--json").stdout)
    assert (g.number_of_nodes(), g.number_of_edges()) == (st3["graph_nodes"], st3["graph_edges"])

    # pictures
    v = json.loads(
        run("viz", "--db", str(db), "--out", str(tmp_path / "v.html"), "--png", "--json").stdout
    )
    assert [Path(f).name for f in v["files"]] == ["v.html", "v.png"]
    assert (tmp_path / "v.png").read_bytes()[:4] == b"\x89PNG"


def test_errors_name_the_file(tmp_path: Path) -> None:
    junk = write(tmp_path / "junk.db", b"definitely not sqlite" * 50)
    for args in (
        ("stats", "--db", str(junk)),
        ("export", "--db", str(junk), "--format", "csv", "--out", str(tmp_path / "x.csv")),
        ("ingest", str(write(tmp_path / "a.txt", "alpha beta")), "--db", str(junk)),
    ):
        r = run(*args, ok=False, subprocess_run=args[0] == "stats")
        assert r.returncode == 1 and "junk.db" in r.stderr, args
    assert junk.read_bytes() == b"definitely not sqlite" * 50
    r = run("ingest", str(tmp_path / "nothing-here"), "--db", str(tmp_path / "n.db"), ok=False)
    assert r.returncode == 1 and r.stderr.strip().endswith("no such file or directory")
    assert "nothing-here" in r.stderr and not (tmp_path / "n.db").exists()
    empty = tmp_path / "empty-dir"
    empty.mkdir()
    r = run("ingest", str(empty), "--db", str(tmp_path / "e.db"), ok=False)
    assert (
        "no .txt, .text, .md, .markdown, .rst, .html, .htm, .xhtml or .pdf files found" in r.stderr
    )


def test_damaged_stores_give_clear_errors(tmp_path: Path) -> None:
    """A damaged sources row, or a sharded store missing a shard file: an error naming the
    damage (exit status 1), not a traceback."""
    import sqlite3

    docs = corpus(tmp_path, 3)
    db = tmp_path / "kb.db"
    run("ingest", str(docs), "--db", str(db), "--digesters", "2")
    con = sqlite3.connect(db)
    con.execute("UPDATE sources SET doc_id = 'x' WHERE seq = 0")
    con.commit()
    con.close()
    for args in (("stats",), ("forget", "1"), ("ingest", str(docs))):
        r = run(*args, "--db", str(db), ok=False, subprocess_run=args[0] == "stats")
        assert r.returncode == 1, args
        assert "kb.db" in r.stderr and "damaged" in r.stderr and "doc_id" in r.stderr, args
        assert "Traceback" not in r.stderr
    store = tmp_path / "cluster"
    run("ingest", str(docs), "--db", str(store), "--shards", "2")
    next(store.glob("gen-*/shard-001.db")).unlink()
    r = run("stats", "--db", str(store), ok=False, subprocess_run=True)
    assert r.returncode == 1 and "shard-001.db is missing" in r.stderr
    assert "Traceback" not in r.stderr


def test_a_read_only_store_is_refused_before_any_work(tmp_path: Path) -> None:
    docs = corpus(tmp_path, 3)
    db = tmp_path / "kb.db"
    run("ingest", str(docs), "--db", str(db), "--digesters", "2")
    more = write(tmp_path / "more" / "extra.txt", "Volcanoes erupt lava and ash over the valley.")
    db.chmod(0o444)
    try:
        before = db.read_bytes()
        for args in (("ingest", str(more)), ("forget", str(docs / "nested" / "page.html"))):
            r = run(*args, "--db", str(db), ok=False)
            assert r.returncode == 1 and "kb.db: the store is read-only" in r.stderr, args
            assert "Digested" not in r.stdout
        assert db.read_bytes() == before
    finally:
        db.chmod(0o644)


def test_distributed_store(tmp_path: Path) -> None:
    docs = corpus(tmp_path, 6)
    store = tmp_path / "cluster"
    r = json.loads(run("ingest", str(docs), "--db", str(store), "--shards", "2", "--json").stdout)
    assert r["documents_added"] == 7 and r["stats"]["documents_digested"] == 7
    assert (store / "CURRENT").is_file()
    st = json.loads(run("stats", "--db", str(store), "--json").stdout)
    assert st["documents_total"] == 7 and st["kind"].startswith("distributed")
    more = write(tmp_path / "more" / "extra.txt", "Volcanoes erupt lava and ash over the valley.")
    r2 = json.loads(run("ingest", str(more), "--db", str(store), "--json").stdout)
    assert r2["documents_added"] == 1 and r2["stats"]["documents_digested"] == 8
    out = tmp_path / "c.graphml"
    run("export", "--db", str(store), "--format", "graphml", "--out", str(out))
    g = nx.read_graphml(out)
    assert {d["shard"] for _, d in g.nodes(data=True)} == {0, 1}
    html = tmp_path / "c.html"
    run("viz", "--db", str(store), "--out", str(html))
    assert '"shard":1' in html.read_text() and '<option value="shard" selected>' in html.read_text()
    f = json.loads(run("forget", str(more), "--db", str(store), "--json").stdout)
    assert len(f["documents_removed"]) == 1
    assert json.loads(run("stats", "--db", str(store), "--json").stdout)["documents_total"] == 7
    clash = run("ingest", str(more), "--db", str(store), "--shards", "3", ok=False)
    assert "holds 2 shards" in clash.stderr


def test_sharded_ingest_follows_its_progress_without_asking_the_shards_each_tick(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the bar reads the documents digested from each runner call's last tick, so the ticks
    # go in calls of many (chained on Ray) and the shards' stats are asked only around them
    from phago.distributed import DistributedColony
    from phago.distributed.runner import DistributedRunner

    calls: list[int] = []
    stats: list[int] = []
    ticks_run, stats_of = DistributedRunner.run, DistributedColony.stats

    async def counted_run(self: DistributedRunner, ticks: int, **kwargs: object) -> object:
        calls.append(ticks)
        return await ticks_run(self, ticks, **kwargs)  # type: ignore[arg-type]

    def counted_stats(self: DistributedColony) -> object:
        stats.append(self.current_tick)
        return stats_of(self)

    monkeypatch.setattr(DistributedRunner, "run", counted_run)
    monkeypatch.setattr(DistributedColony, "stats", counted_stats)
    docs = corpus(tmp_path, 12)
    r = json.loads(
        run("ingest", str(docs), "--db", str(tmp_path / "c"), "--shards", "2", "--json").stdout
    )
    ticks = r["ticks"]
    assert r["stats"]["documents_digested"] == r["documents_added"] == 13
    assert ticks > 5 and len(calls) <= ticks // 2 and len(stats) <= 3, (ticks, calls, stats)


def test_demo_saves_and_points_to_the_html_view(tmp_path: Path) -> None:
    r = run("demo", "--digesters", "8", "--out-dir", str(tmp_path / "out"))
    html = tmp_path / "out" / "phago-demo.html"
    assert html.is_file() and (tmp_path / "out" / "phago-demo.db").is_file()
    assert r.stdout.rstrip().splitlines()[-1].endswith(html.resolve().as_uri())
    assert "HTML view" in r.stdout and "Strongest edges" in r.stdout
    st = json.loads(run("stats", "--db", str(tmp_path / "out" / "phago-demo.db"), "--json").stdout)
    assert st["documents_digested"] == 40 and len(st["history"]) > 3


def test_sparkline_doctests() -> None:
    import doctest

    import phago.cli._store as helpers

    r = doctest.testmod(helpers)
    assert r.attempted > 0 and r.failed == 0


@pytest.mark.parametrize("shards", [None, "2"])
def test_a_file_whose_text_changed_replaces_its_old_version(
    tmp_path: Path, shards: str | None
) -> None:
    docs = tmp_path / "notes"
    write(docs / "a.txt", "alpha beta gamma delta")
    write(docs / "b.txt", "cell membrane protein")
    db = tmp_path / ("d" if shards else "s.db")
    extra = ["--shards", shards] if shards else []
    run("ingest", str(docs), "--db", str(db), *extra)
    write(docs / "a.txt", "alpha beta gamma epsilon")
    got = json.loads(run("ingest", str(docs), "--db", str(db), "--json").stdout)
    assert got["replaced_files"] == [str((docs / "a.txt").resolve())]
    assert got["stats"]["documents_total"] == 2  # (3 until the 35th session: both versions)
    hits = json.loads(run("query", "delta", "--db", str(db), "--json").stdout)["results"]
    assert hits == []  # the old version's concepts are withdrawn
    assert json.loads(run("query", "epsilon", "--db", str(db), "--json").stdout)["results"]
    # and the old text, ingested again, counts as a change again, not as a duplicate
    write(docs / "a.txt", "alpha beta gamma delta")
    again = json.loads(run("ingest", str(docs), "--db", str(db), "--json").stdout)
    assert again["replaced_files"] == [str((docs / "a.txt").resolve())]
    assert again["stats"]["documents_total"] == 2


def test_ingest_that_adds_nothing_fails_and_writes_nothing(tmp_path: Path) -> None:
    db = tmp_path / "n.db"
    r = run("ingest", str(tmp_path / "typo"), "--db", str(db), ok=False)
    assert r.returncode == 1 and "nothing was added" in r.stderr and "no such file" in r.stderr
    write(tmp_path / "bad" / "empty.txt", "")
    r = run("ingest", str(tmp_path / "bad"), "--db", str(db), ok=False)
    assert r.returncode == 1 and "nothing was added" in r.stderr
    assert not db.exists()
    r = run("ingest", str(tmp_path), "--db", str(db), "--encoding", "bogus", ok=False)
    assert r.returncode == 2 and "unknown text encoding 'bogus'" in r.stderr


def test_forget_refuses_an_empty_target(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    run("ingest", str(corpus(tmp_path, 3)), "--db", str(db))
    before = db.read_bytes()
    r = run("forget", "", "--db", str(db), ok=False)  # ("" named the current folder: all)
    assert r.returncode == 2 and "an empty TARGET names nothing" in r.stderr
    assert db.read_bytes() == before


def test_ingest_says_which_options_it_ignores_or_cannot_take(tmp_path: Path) -> None:
    docs = corpus(tmp_path, 3)
    db = tmp_path / "s.db"
    r = run("ingest", str(docs), "--db", str(db), "--backend", "ray", ok=False)
    assert r.returncode == 2 and "add --shards N" in r.stderr and not db.exists()
    run("ingest", str(docs), "--db", str(db))
    r = run("ingest", str(docs), "--db", str(db), "--large", "--seed", "3")
    assert "--large and --seed ignored" in r.stderr
    assert "ignored" not in run("ingest", str(docs), "--db", str(db)).stderr


def test_stats_counts_documents_from_files_and_files_apart(tmp_path: Path) -> None:
    """A file too wide in keywords for one document is ingested as parts: ``sources`` counts
    the documents, ``source_files`` the files, with the same names as text and as JSON."""
    import itertools

    letters = ("bcdfghjklmnprstvwz", "aeiou", "bcdfgklmnprst", "aeiou", "nrst")
    words = ["".join(w) for w in itertools.islice(itertools.product(*letters), 6000)]
    docs = tmp_path / "docs"
    write(docs / "wide.txt", "\n\n".join(" ".join(words[i : i + 100]) for i in range(0, 6000, 100)))
    write(docs / "small.txt", "cells divide and grow")
    db = tmp_path / "s.db"
    run("ingest", str(docs), "--db", str(db))
    st = json.loads(run("stats", "--db", str(db), "--json").stdout)
    assert st["source_files"] == 2 and st["sources"] == st["documents_total"] > 2
    rows = {
        line.strip("│ ").split("│")[0].strip(): line.split("│")[2].strip()
        for line in run("stats", "--db", str(db)).stdout.splitlines()
        if line.count("│") == 3
    }
    assert rows["sources"] == str(st["sources"]) and rows["source_files"] == "2"
