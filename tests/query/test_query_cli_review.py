"""``phago query`` as an agent's memory reads it (review): no zero-score documents unless
asked (``--related``, as ``documents(..., related=True)``), the query's terms in the JSON and
a notice when there are none, one shape of result for every method, ids as strings in
``to_dict`` too, and what ``--documents`` says about documents not digested yet."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from phago import Colony
from phago.cli import main
from phago.errors import ConfigError
from phago.ids import DocumentId, NodeId
from phago.ingest import digest_new_documents
from phago.query import RetrievedDocument, documents, retrieve
from phago.query.base import RetrievedConcept
from phago.query.retrieve import METHODS

TEXTS = [
    ("Stars", "Stars collapse from a nebula under gravity."),
    ("Nebulae", "A nebula is dust and gas held by gravity."),
    ("Dust", "Dust grains gather in the cold."),
]


def _colony() -> Colony:
    colony = Colony(seed=0)
    digest_new_documents(colony, [colony.ingest_document(t, x) for t, x in TEXTS])
    return colony


@pytest.fixture(scope="module")
def colony() -> Colony:
    return _colony()


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from phago.store import save

    path = tmp_path_factory.mktemp("review") / "notes.db"
    save(_colony(), path)
    return path


def run(*args: str) -> tuple[str, str]:
    r = CliRunner().invoke(main, ["query", *args])
    assert r.exit_code == 0, r.output
    return r.stdout, r.stderr


def as_json(*args: str) -> dict[str, object]:
    data: dict[str, object] = json.loads(run(*args, "--json")[0])
    return data


# ------------------------------------------------- 1. no zero-score documents by default


def test_documents_hold_a_query_word_unless_related_is_asked_for(colony: Colony) -> None:
    # "stars" is only in Stars; its top concepts (nebula, gravity, dust) reach the others
    assert [d.title for d in documents(colony, "stars", 5)] == ["Stars"]
    named = documents(colony, "stars", 5, concepts=10)
    assert [d.title for d in named] == ["Stars"] and "gravity" in named[0].concepts
    related = documents(colony, "stars", 5, concepts=10, related=True)
    assert [d.title for d in related] == ["Stars", "Nebulae", "Dust"]
    assert [d.score > 0 for d in related] == [True, False, False]
    assert related[:1] == named


def test_the_cli_lists_what_python_lists_by_default_and_fills_with_related(
    colony: Colony, db: Path
) -> None:
    got = as_json("stars", "--db", str(db), "--documents")["documents"]
    assert isinstance(got, list)
    assert [d["title"] for d in got] == [d.title for d in documents(colony, "stars", 10)]
    assert all(d["score"] > 0 for d in got)
    filled = as_json("stars", "--db", str(db), "--documents", "--related")["documents"]
    assert isinstance(filled, list)
    assert [(d["title"], d["score"] > 0) for d in filled] == [
        ("Stars", True),
        ("Nebulae", False),
        ("Dust", False),
    ]
    table, _ = run("stars", "--db", str(db), "--documents")
    assert "Stars" in table and "Nebulae" not in table


def test_related_is_checked(colony: Colony, db: Path) -> None:
    with pytest.raises(ConfigError, match="concepts"):
        documents(colony, "stars", related=True)
    with pytest.raises(ConfigError, match="related"):
        documents(colony, "stars", concepts=3, related="yes")  # type: ignore[arg-type]
    r = CliRunner().invoke(main, ["query", "stars", "--db", str(db), "--related"])
    assert r.exit_code == 2 and "only with --documents" in r.stderr
    r = CliRunner().invoke(main, ["query", "--help"])
    assert "--related" in r.stdout and "score above 0" in " ".join(r.stdout.split())


# ------------------------------------------------- 2. the query's terms


@pytest.mark.parametrize("mode", [[], ["--documents"]])
def test_json_gives_the_querys_terms_each_once_in_order(db: Path, mode: list[str]) -> None:
    data = as_json("Gravity, STARS and gravity of it", "--db", str(db), *mode)
    assert data["terms"] == ["gravity", "stars"]
    assert data["documents" if mode else "results"]


@pytest.mark.parametrize("text", ["", "the and of", "AI ML"])
@pytest.mark.parametrize("mode", [[], ["--documents"]])
def test_a_query_without_searchable_words_says_so(db: Path, text: str, mode: list[str]) -> None:
    data = as_json(text, "--db", str(db), *mode)
    assert data["terms"] == [] and data["documents" if mode else "results"] == []
    _, said = run(text, "--db", str(db), *mode)
    assert "the query has no searchable words" in said
    _, said = run(text, "--db", str(db), *mode, "--json")
    assert "searchable" not in said  # (the JSON says it: its terms are empty)
    _, said = run("zzxqv", "--db", str(db), *mode)
    assert "searchable" not in said  # (a word nothing holds is a searchable word)


# ------------------------------------------------- 3. one shape for every method


def test_every_method_gives_results_with_the_same_keys(db: Path) -> None:
    shapes = {}
    for method in METHODS:
        results = as_json("stars nebula", "--db", str(db), "-m", method)["results"]
        assert isinstance(results, list) and results, method
        for r in results:
            shapes[method, tuple(r)] = r
            assert isinstance(r["path"], list)
            assert r["path"] == [] or method == "graph"
    assert {keys for _, keys in shapes} == {
        ("label", "score", "node_id", "components", "path", "documents")
    }


def test_to_dict_has_the_same_keys_with_or_without_a_path() -> None:
    plain = RetrievedConcept("cell", 1.0, NodeId(7)).to_dict()
    walked = RetrievedConcept("cell", 1.0, NodeId(7), path=("dna", "cell")).to_dict()
    assert plain["path"] == [] and walked["path"] == ["dna", "cell"]
    assert list(plain) == list(walked)


# ------------------------------------------------- 4. ids as strings


def test_to_dict_gives_ids_as_strings_as_the_cli_does(colony: Colony, db: Path) -> None:
    big = 18_446_744_073_709_551_557  # (20 digits: past a double's exact integers)
    assert RetrievedConcept("x", 1.0, NodeId(big)).to_dict()["node_id"] == str(big)
    assert RetrievedDocument(DocumentId(big), "t", 1.0, "").to_dict()["id"] == str(big)
    want = [{**r.to_dict()} for r in retrieve(colony, "stars nebula", 5)]
    got = as_json("stars nebula", "--db", str(db), "-k", "5")["results"]
    assert isinstance(got, list)
    assert [{k: v for k, v in r.items() if k != "documents"} for r in got] == json.loads(
        json.dumps(want)
    )
    docs = as_json("stars nebula", "--db", str(db), "--documents")["documents"]
    found = documents(colony, "stars nebula", 10, concepts=10)
    # the CLI adds what the store says of each document (nothing, for this store)
    assert docs == json.loads(json.dumps([{**d.to_dict(), "added": "", "tags": []} for d in found]))


# ------------------------------------------------- 5. documents not digested yet


def test_documents_not_digested_yet_are_said_not_to_be_searched() -> None:
    colony = _colony()
    colony.ingest_document("Pending", "Comets orbit the sun.")
    assert documents(colony, "comets") == []  # (stored, not digested: not indexed)
    assert documents.__doc__ is not None and "not digested yet" in documents.__doc__
    r = CliRunner().invoke(main, ["query", "--help"])
    assert "not digested yet is not searched" in " ".join(r.stdout.split())
