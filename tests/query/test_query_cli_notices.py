"""``phago query --db``: what it tells about options it does not use and a store it saves."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from phago.cli import main
from phago.corpus import grid_positions, load_sample_corpus
from phago.distributed import DistributedColony
from phago.store import save, save_distributed
from sample_colony import build_sample_colony


@pytest.fixture(scope="module", params=["colony", "shards"])
def store(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("store")
    if request.param == "colony":
        c = build_sample_colony(digesters=4)
        c.run_until_digested(300)
        path = folder / "c.db"
        save(c, path)
        return path
    docs = load_sample_corpus()
    with DistributedColony(2, seed=0) as dc:
        dc.ingest_documents(
            [(d.title, d.content, p) for d, p in zip(docs, grid_positions(len(docs)), strict=True)]
        )
        dc.spawn_digesters(2)
        dc.run_until_digested(300)
        save_distributed(dc, folder / "d")
    return folder / "d"


def query(*args: str) -> tuple[str, str]:
    r = CliRunner().invoke(main, ["query", *args])
    assert r.exit_code == 0, r.output
    return r.stdout, r.stderr


def test_building_options_given_with_a_store_are_said_to_be_ignored(store: Path) -> None:
    _, said = query("cell membrane", "--db", str(store), "--ticks", "5", "--seed", "3")
    assert "--ticks and --seed ignored" in said
    _, said = query("cell membrane", "--db", str(store))
    assert "ignored" not in said


def test_a_reinforced_store_is_said_to_be_saved_and_json_stays_clean(store: Path) -> None:
    stdout, said = query("cell membrane", "--db", str(store), "--reinforce", "--json")
    assert json.loads(stdout)["results"]  # (the notice is on stderr)
    assert f"saved {store}" in said
    _, said = query("cell membrane", "--db", str(store))
    assert "saved" not in said


def test_a_query_nothing_answers_prints_a_notice_not_an_empty_table(store: Path) -> None:
    for extra in ([], ["--documents"]):
        stdout, _ = query("zzxqv", "--db", str(store), *extra)
        assert "matches this query" in stdout and "#" not in stdout, stdout


def test_the_documents_table_names_its_columns(store: Path) -> None:
    stdout, _ = query("cell membrane", "--db", str(store), "--documents")
    header = next(line for line in stdout.splitlines() if "document" in line and "#" in line)
    assert "score" in header and "snippet" in header


def test_reinforcing_a_query_nothing_answers_leaves_the_store_as_it_was(store: Path) -> None:
    def digest() -> list[bytes]:
        files = sorted(store.rglob("*")) if store.is_dir() else [store]
        return [f.read_bytes() for f in files if f.is_file()]

    before = digest()
    _, said = query("zzxqv", "--db", str(store), "--reinforce")
    assert "saved" not in said
    assert digest() == before
