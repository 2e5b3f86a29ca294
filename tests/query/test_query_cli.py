"""``phago eval`` and ``phago query``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from phago.cli import main

TEXTS = {
    "a_cells.txt": "Cell membranes hold membrane proteins. The cell membrane is a lipid bilayer.",
    "b_genes.txt": "A gene is DNA. Polymerase copies the gene during DNA replication.",
    "c_qubits.txt": "A qubit holds a superposition. Entanglement links qubit states.",
}


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    d = tmp_path / "corpus"
    d.mkdir()
    for name, text in TEXTS.items():
        (d / name).write_text(text, encoding="utf-8")
    return d


@pytest.fixture
def queries(tmp_path: Path) -> Path:
    p = tmp_path / "queries.json"
    p.write_text(
        json.dumps(
            [
                {"query": "How is DNA copied?", "relevant": ["dna", "polymerase", "replication"]},
                {"query": "qubit states", "relevant": ["qubit", "entanglement", "superposition"]},
            ]
        ),
        encoding="utf-8",
    )
    return p


def test_eval_json(corpus: Path, queries: Path) -> None:
    r = CliRunner().invoke(
        main,
        ["eval", "--corpus", str(corpus), "--queries", str(queries), "--ticks", "40", "--json"],
    )
    assert r.exit_code == 0, r.output
    data = json.loads(r.output)
    assert set(data) == {"methods", "best", "nodes", "edges", "documents_digested"}
    assert data["documents_digested"] == 3
    assert data["best"] in data["methods"]
    assert set(data["methods"]["fusion"]) == {
        "p@5",
        "p@10",
        "r@5",
        "r@10",
        "mrr",
        "ndcg@10",
        "p@5_returned",
    }


def test_eval_table_on_the_sample_corpus() -> None:
    r = CliRunner().invoke(main, ["eval", "--methods", "tfidf,fusion"])
    assert r.exit_code == 0, r.output
    assert "NDCG@10" in r.output and "fusion" in r.output


def test_eval_errors(corpus: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    r = runner.invoke(main, ["eval", "--corpus", str(corpus)])
    assert r.exit_code == 2 and "--queries" in r.output
    bad = tmp_path / "bad.json"
    bad.write_text('{"query": "x"}', encoding="utf-8")
    r = runner.invoke(main, ["eval", "--corpus", str(corpus), "--queries", str(bad)])
    assert r.exit_code == 1 and "JSON list" in r.output
    bad.write_text("not json", encoding="utf-8")
    r = runner.invoke(main, ["eval", "--corpus", str(corpus), "--queries", str(bad)])
    assert r.exit_code == 1 and "cannot read" in r.output
    r = runner.invoke(main, ["eval", "--methods", "tfidf,nope"])
    assert r.exit_code == 2 and "unknown retrieval method" in r.output  # (a usage error)


def test_query_fresh_colony(corpus: Path) -> None:
    r = CliRunner().invoke(
        main, ["query", "How is DNA copied?", "--corpus", str(corpus), "--ticks", "40", "--json"]
    )
    assert r.exit_code == 0, r.output
    data = json.loads(r.output)
    assert data["method"] == "fusion"
    assert data["results"][0]["label"] == "dna"
    assert {"label", "score", "node_id", "components"} <= set(data["results"][0])
    r = CliRunner().invoke(main, ["query", "qubit", "--corpus", str(corpus), "-m", "graph"])
    assert r.exit_code == 0 and "qubit" in r.output
    r = CliRunner().invoke(main, ["query", "qubit", "--method", "pagerank"])
    assert r.exit_code == 2


def test_query_stored_colony_and_reinforcement(tmp_path: Path) -> None:
    from phago import Colony, Digester, Position
    from phago.store import load, save

    c = Colony(seed=1)
    c.ingest_document("t", "cell membrane protein cell membrane", Position(0, 0))
    c.ingest_document("u", "cell membrane lipid", Position(1, 0))
    c.spawn(Digester(Position(0.5, 0)))
    c.run_until_digested(40)
    path = tmp_path / "c.db"
    save(c, path)
    before = load(path).graph.edge_between("cell", "membrane")
    assert before is not None
    r = CliRunner().invoke(main, ["query", "cell membrane", "--store", str(path), "--json"])
    assert r.exit_code == 0, r.output
    assert {x["label"] for x in json.loads(r.output)["results"]} >= {"cell", "membrane"}
    r = CliRunner().invoke(main, ["query", "cell membrane", "--store", str(path), "--reinforce"])
    assert r.exit_code == 0, r.output
    after = load(path).graph.edge_between("cell", "membrane")
    assert after is not None and after.co_activations == before.co_activations + 1


def test_query_a_distributed_store_as_the_other_store_commands_take_it(
    corpus: Path, tmp_path: Path
) -> None:
    # `phago ingest --shards 2 --db X`, then `phago query --db X` (before, query took only
    # --store FILE and refused the store's folder)
    from phago.query.retrieve import retrieve
    from phago.store import load_distributed

    store = tmp_path / "cluster"
    r = CliRunner().invoke(main, ["ingest", str(corpus), "--db", str(store), "--shards", "2"])
    assert r.exit_code == 0, r.output
    with load_distributed(store) as dc:
        want = [
            {**x.to_dict(), "node_id": str(x.node_id)} for x in retrieve(dc, "cell membrane", 5)
        ]
        before = dc.graph.edge_between("cell", "membrane")
    assert before is not None and want
    r = CliRunner().invoke(
        main, ["query", "cell membrane", "--db", str(store), "-k", "5", "--json"]
    )
    assert r.exit_code == 0, r.output
    got = json.loads(r.stdout)["results"]
    assert [{k: v for k, v in x.items() if k != "documents"} for x in got] == json.loads(
        json.dumps(want)
    )
    assert all(x["documents"] and len(x["documents"]) <= 3 for x in got)  # its sources
    r = CliRunner().invoke(main, ["query", "cell membrane", "--db", str(store), "--reinforce"])
    assert r.exit_code == 0 and "membrane" in r.stdout, r.output
    with load_distributed(store) as dc:  # saved back, with what the store knew of its files
        after = dc.graph.edge_between("cell", "membrane")
    assert after is not None and after.co_activations == before.co_activations + 1
    st = json.loads(CliRunner().invoke(main, ["stats", "--db", str(store), "--json"]).stdout)
    assert st["sources"] == len(TEXTS)
    r = CliRunner().invoke(main, ["query", "x", "--db", str(corpus)])  # a folder, not a store
    assert r.exit_code == 1 and "not a distributed store either" in r.stderr
    r = CliRunner().invoke(main, ["query", "x", "--db", str(store), "--corpus", str(corpus)])
    assert r.exit_code == 2 and "either --db or --corpus" in r.stderr


def test_query_and_eval_skip_files_a_colony_cannot_take(corpus: Path, queries: Path) -> None:
    (corpus / "d_blank.txt").write_text("   ", encoding="utf-8")
    (corpus / "e_binary.txt").write_bytes(b"qubit\x00states")
    r = CliRunner().invoke(
        main, ["query", "qubit states", "--corpus", str(corpus), "--ticks", "40", "--json"]
    )
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["results"][0]["label"] in {"qubit", "states", "entanglement"}
    assert "d_blank.txt" in r.stderr and "e_binary.txt" in r.stderr
    r = CliRunner().invoke(
        main, ["eval", "--corpus", str(corpus), "--queries", str(queries), "--ticks", "40"]
    )
    assert r.exit_code == 0, r.output
    assert r.stderr.count("skipped") == 2
