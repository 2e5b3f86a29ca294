"""``phago list`` and ``phago show``: what a store holds, read back as a program reads it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from phago.cli import main
from phago.cli.documents import stored_documents


def cli(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def json_of(r: Result) -> Any:
    return json.loads(r.stdout)


@pytest.fixture(params=[None, 2], ids=["colony", "2 shards"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "a.txt").write_text("Ribosomes\n\nRibosomes translate messenger RNA.")
    (notes / "b.txt").write_text("Mitochondria make ATP from sugar and oxygen.")
    (notes / "copy.txt").write_text("Mitochondria make ATP from sugar and oxygen.")
    db = tmp_path / ("s.db" if request.param is None else "s.d")
    shards = [] if request.param is None else ["--shards", str(request.param)]
    r = cli("ingest", str(notes), "--db", str(db), *shards)
    assert r.exit_code == 0, r.output
    r = cli("ingest", "--text", "Glaciers carve valleys.", "--title", "Ice", "--db", str(db))
    assert r.exit_code == 0, r.output
    return db


def test_list_gives_every_document_with_its_files(store: Path) -> None:
    r = cli("list", "--db", str(store), "--json")
    assert r.exit_code == 0, r.output
    docs = json_of(r)
    assert sorted(d["title"] for d in docs) == ["Ice", "Ribosomes", "b"]
    assert all(isinstance(d["id"], str) and d["digested"] for d in docs)
    by_title = {d["title"]: d for d in docs}
    notes = store.parent / "notes"
    assert by_title["b"]["sources"] == [str(notes / "b.txt"), str(notes / "copy.txt")]
    assert by_title["Ice"]["sources"] == [] and by_title["Ice"]["chars"] == 23
    assert json_of(cli("list", "--db", str(store), "--json", "--limit", "1")) == docs[-1:]
    assert json_of(cli("list", "--db", str(store), "--json", "--limit", "0")) == []
    text = cli("list", "--db", str(store)).stdout
    assert "3 documents in" in text and "Ribosomes" in text


def test_show_prints_the_whole_text_by_id(store: Path) -> None:
    docs = {d.title: d for d in stored_documents(store)}
    wanted = docs["Ribosomes"]
    r = cli("show", str(wanted.id), hex(docs["Ice"].id), "--db", str(store), "--json")
    assert r.exit_code == 0, r.output
    shown = json_of(r)
    assert [d["content"] for d in shown] == [wanted.content, "Glaciers carve valleys."]
    assert shown[0]["id"] == str(wanted.id)
    text = cli("show", str(wanted.id), "--db", str(store)).stdout
    assert "Ribosomes translate messenger RNA." in text


@pytest.mark.parametrize(
    ("target", "kind"),
    [
        ("12345", "UnknownDocument"),
        ("abc", "DocumentError"),
        ("0x1ffffffffffffffff", "DocumentError"),
    ],
)
def test_show_of_no_stored_document_is_a_typed_error(store: Path, target: str, kind: str) -> None:
    r = cli("show", target, "--db", str(store), "--json")
    assert r.exit_code == 1
    assert json_of(r)["error"]["type"] == kind


def test_examples_run() -> None:
    import doctest

    import phago.cli._store as store_helpers
    import phago.cli.documents as documents_module

    for module in (documents_module, store_helpers):
        result = doctest.testmod(module)
        assert result.attempted >= 4 and result.failed == 0
