"""Back to the notes: documents for a query, documents behind a concept, titles searched,
and ``phago query --documents`` / each concept's source documents in ``--json``."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from click.testing import CliRunner

from phago import Colony
from phago.cli import main
from phago.ids import document_id
from phago.ingest import digest_new_documents
from phago.query import (
    RetrievedDocument,
    concept_documents,
    document_scores,
    documents,
    retrieve,
    snippet,
)
from phago.query.base import StaticSource

SourceFactory = Callable[..., StaticSource]


def test_documents_are_the_bm25_documents_with_ids_titles_and_snippets(
    bio: StaticSource,
) -> None:
    got = documents(bio, "dna polymerase", 3)
    want = document_scores(bio, "dna polymerase", 3)
    assert [(d.id, d.title, d.score) for d in got] == [(d.id, d.title, d.score) for d in want]
    replication = document_id("Replication", "dna replication polymerase gene")
    assert got[0].title == "Replication" and got[0].id == replication
    assert got[0].snippet == "dna replication polymerase gene"
    assert all(d.concepts == () for d in got)  # (no concepts asked for)
    assert got[0].to_dict()["id"] == str(got[0].id)  # (as the CLI prints ids)


def test_documents_name_the_top_concepts_they_hold_and_fill_with_their_documents(
    make_source: SourceFactory,
) -> None:
    src = make_source(
        [
            ("Stars", "star nebula gravity"),
            ("Nebulae", "nebula dust gravity"),
            ("Dust", "dust grain"),
        ]
    )
    plain = documents(src, "star", 3)
    assert [d.title for d in plain] == ["Stars"]
    top = [r.label for r in retrieve(src, "star", 4)]
    filled = documents(src, "star", 3, concepts=4, related=True)
    assert filled[0].title == "Stars" and filled[0].score > 0
    assert set(filled[0].concepts) <= set(top) and "star" in filled[0].concepts
    rest = filled[1:]
    assert rest and all(d.score == 0.0 and d.concepts for d in rest)  # found through concepts
    assert all(set(d.concepts) <= set(top) for d in rest)
    assert documents(src, "star", 1, concepts=4, related=True) == filled[:1]  # BM25 first
    assert documents(src, "star", 3, concepts=4) == filled[:1]  # (no filling unless related)


def test_concept_documents_best_match_for_the_query_first(bio: StaticSource) -> None:
    by_count = concept_documents(bio, "membrane", 5)
    assert by_count[0].title == "Cells"  # "membrane" twice there
    assert {d.title for d in by_count} == {"Cells", "Membranes", "Transport"}
    assert all(d.score == 0.0 and d.concepts == ("membrane",) for d in by_count)
    for_query = concept_documents(bio, "membrane", 2, text="transport channel")
    assert for_query[0].title == "Transport" and for_query[0].score > 0
    hit = retrieve(bio, "membrane", 1)[0]
    assert concept_documents(bio, hit, 5) == by_count == concept_documents(bio, hit.node_id, 5)
    assert concept_documents(bio, "no-such-concept") == []
    assert concept_documents(bio, 12345) == []


def test_titles_are_searched() -> None:
    # the audit: a note titled "Kangaroo facts" was not found by "kangaroo"
    colony = Colony(seed=0)
    doc = colony.ingest_document("Kangaroo facts", "Skippy hops across the outback.")
    digest_new_documents(colony, [doc])
    assert [d.title for d in document_scores(colony, "kangaroo")] == ["Kangaroo facts"]
    found = documents(colony, "kangaroo", concepts=5)
    assert [(d.id, d.title) for d in found] == [(doc, "Kangaroo facts")]
    assert found[0].snippet == "Skippy hops across the outback."
    assert {r.label for r in retrieve(colony, "kangaroo", method="bm25")} >= {"skippy"}


def test_snippets() -> None:
    text = "Intro words here. " * 20 + "The ribosome reads messenger RNA. " + "Tail. " * 30
    s = snippet(text, {"ribosome", "rna"}, 80)
    assert "ribosome reads messenger RNA" in s and s.startswith("… ") and s.endswith(" …")
    assert len(s) <= 80 + 4
    assert snippet(text, {"absent"}, 30) == "Intro words here. Intro words …"
    assert snippet("a\n\n  b  c", set(), 50) == "a b c"
    assert snippet(text, {"ribosome"}, 0) == ""
    assert snippet("   ", {"x"}) == ""


def test_documents_of_a_forgotten_or_empty_query(bio: StaticSource) -> None:
    assert documents(bio, "", 3) == []
    assert documents(bio, "telescope", 3) == []
    assert documents(bio, "protein", 0) == []
    assert isinstance(documents(bio, "protein", 1)[0], RetrievedDocument)


# ---------------------------------------------------------------- the command line


def _store(tmp_path: Path) -> Path:
    from phago.store import save

    colony = Colony(seed=0)
    ids = [
        colony.ingest_document("Kangaroo facts", "Skippy hops across the outback at dusk."),
        colony.ingest_document("Cells", "The cell membrane holds protein channels."),
        colony.ingest_document("Genes", "A gene is read into protein by the ribosome."),
    ]
    digest_new_documents(colony, ids)
    path = tmp_path / "notes.db"
    save(colony, path)
    return path


def test_query_documents_json_gives_id_title_score_snippet(tmp_path: Path) -> None:
    db = _store(tmp_path)
    r = CliRunner().invoke(main, ["query", "kangaroo", "--db", str(db), "--documents", "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["query"] == "kangaroo" and out["method"] == "fusion"
    (doc,) = out["documents"]
    assert doc["title"] == "Kangaroo facts" and doc["score"] > 0
    assert isinstance(doc["id"], str) and int(doc["id"]) > 0
    assert doc["snippet"] == "Skippy hops across the outback at dusk."
    r = CliRunner().invoke(main, ["query", "protein", "--db", str(db), "--documents", "-k", "1"])
    assert r.exit_code == 0, r.output
    assert r.stdout.count("Cells") + r.stdout.count("Genes") == 1
    r = CliRunner().invoke(
        main, ["query", "protein", "--db", str(db), "--documents", "--reinforce"]
    )
    assert r.exit_code == 2 and "not with --documents" in r.stderr


def test_query_json_names_each_concepts_source_documents(tmp_path: Path) -> None:
    db = _store(tmp_path)
    r = CliRunner().invoke(main, ["query", "protein ribosome", "--db", str(db), "--json"])
    assert r.exit_code == 0, r.output
    results = {x["label"]: x for x in json.loads(r.stdout)["results"]}
    assert [d["title"] for d in results["ribosome"]["documents"]] == ["Genes"]
    # "protein" came from both: the one that also holds "ribosome" matches the query best
    assert [d["title"] for d in results["protein"]["documents"]] == ["Genes", "Cells"]
    assert all(len(x["documents"]) <= 3 for x in results.values())
