"""W2 benchmark (``phago bench``): real work on every shard, the documented JSON keys."""

from __future__ import annotations

import json
import subprocess
import sys

from phago.bench import PRESETS, BenchConfig, bench_documents, run_benchmark, to_csv

KEYS = {
    "shards",
    "backend",
    "documents",
    "ticks",
    "docs_per_sec",
    "ticks_per_sec",
    "queries_per_sec",
    "nodes",
    "edges",
    "total_time_ms",
    "documents_digested",
    "cross_shard_edges",
    "barrier_ms_per_tick",
}


def test_documents_follow_the_reference_generator() -> None:
    docs = bench_documents(10)
    assert docs[0][0] == "Cell Biology Document 0"
    assert docs[9][1].startswith("DNA RNA transcription") and "variation 9" in docs[9][1]
    assert docs[9][2] == (9.0, 0.0)
    assert bench_documents(101)[100][2] == (0.0, 1.0)


def test_every_configuration_digests_and_builds_a_graph() -> None:
    r = run_benchmark(BenchConfig(shards=3, documents=30, ticks=5, queries=2))
    assert r.documents_digested == 30
    assert r.nodes > 0 and r.edges > 0 and r.cross_shard_edges > 0
    assert r.queries_per_sec > 0 and r.ticks >= 5
    assert set(r.to_dict()) >= KEYS
    assert to_csv([r]).splitlines()[0].startswith("shards,documents,ticks,docs_per_sec")


def test_presets_match_the_reference() -> None:
    assert [c.shards for c in PRESETS["compare"]] == [1, 3, 5]
    assert [c.shards for c in PRESETS["scale"]] == [1, 2, 4, 8]
    assert (PRESETS["quick"][0].documents, PRESETS["quick"][0].ticks) == (50, 10)


def test_cli_bench_json() -> None:
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "phago",
            "bench",
            "custom",
            "--shards",
            "2",
            "--docs",
            "20",
            "--ticks",
            "4",
            "--queries",
            "1",
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr
    rows = json.loads(r.stdout)
    assert len(rows) == 1 and set(rows[0]) >= KEYS and rows[0]["documents_digested"] == 20


def test_bench_options_and_settings_out_of_range_are_refused() -> None:
    import pytest
    from click.testing import CliRunner

    from phago.cli import main
    from phago.errors import ConfigError

    for bad in (
        {"shards": 1.5},
        {"shards": True},
        {"documents": 2.5},
        {"seed": -1},
        {"ticks": "3"},
    ):
        with pytest.raises(ConfigError):
            BenchConfig(**bad)  # type: ignore[arg-type]
    for args, said in (
        (["--shards", "100000"], "is not in the range 1<=x<=256"),
        (["--docs", "1000000000"], "is not in the range 1<=x<=10000000"),
        (["--json", "--csv"], "--json and --csv are two outputs"),
    ):
        r = CliRunner().invoke(main, ["bench", "custom", *args])
        assert r.exit_code == 2 and said in r.output, (args, r.output)


def test_bench_csv_names_the_backend_and_the_table_shows_the_barrier_to_the_hundredth() -> None:
    from phago.cli.bench import _cell

    r = run_benchmark(BenchConfig(shards=2, documents=10, ticks=3, queries=1))
    header, row = to_csv([r]).splitlines()
    assert header.endswith(",backend") and row.endswith(",local")
    assert _cell(0.07, "barrier_ms_per_tick") == "0.07" and _cell(1234.56) == "1,234.6"
