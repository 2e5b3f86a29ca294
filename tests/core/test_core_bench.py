"""W2 benchmark (``phago bench``): real work on every shard, the documented JSON keys."""

from __future__ import annotations

import contextlib
import io
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest

from phago.bench import (
    PRESETS,
    BenchConfig,
    BenchResult,
    bench_documents,
    run_benchmark,
    to_csv,
)

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


def test_ingest_is_timed_alone_not_with_the_spawning_of_digesters(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from phago.distributed import DistributedColony

    # once as it is first: a fresh clone compiles the ingest's kernels on their first use
    # (half a second), which under `make test` may be here (each worker runs its own files)
    run_benchmark(BenchConfig(shards=2, documents=10, ticks=2, queries=1))
    call = DistributedColony._call

    def slow_spawn(self: DistributedColony, shard: int, method: str, *args: Any) -> Any:
        if method == "spawn_many":
            time.sleep(0.3)
        return call(self, shard, method, *args)

    monkeypatch.setattr(DistributedColony, "_call", slow_spawn)
    r = run_benchmark(BenchConfig(shards=2, documents=10, ticks=2, queries=1))
    assert r.spawn_ms >= 600 and r.ingest_ms < 300, r
    assert r.docs_per_sec == pytest.approx(10 / (r.ingest_ms / 1000))
    assert r.total_time_ms >= r.setup_ms + r.ingest_ms + r.spawn_ms + r.tick_ms + r.query_ms


def test_a_series_starts_ray_once_warms_up_on_it_and_leaves_it_out_of_the_figures(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # (no Ray here: what is started, and when, is recorded; tests/ray run the real one)
    from click.testing import CliRunner

    import phago.bench as bench_module
    import phago.cli.bench as bench_cli
    from phago.cli import main

    events: list[str] = []

    @contextlib.contextmanager
    def cluster(max_shards: int, ray_options: object) -> Iterator[None]:
        events.append(f"start for {max_shards}")
        time.sleep(0.2)  # (start-up: in startup_ms, in no configuration's figures)
        yield
        events.append("stop")

    def fake_run(cfg: BenchConfig, *_args: object, **_kwargs: object) -> BenchResult:
        events.append(f"{cfg.shards} on {cfg.backend}")
        return BenchResult(
            cfg.shards, cfg.backend, cfg.documents, cfg.ticks, 1.0, 1.0, 1.0, 1, 1, 5.0, 1, 0, 0.0
        )

    monkeypatch.setattr(bench_module, "_ray_cluster", cluster)
    monkeypatch.setattr(bench_module, "run_benchmark", fake_run)
    monkeypatch.setattr(bench_cli, "run_benchmark", fake_run)
    r = CliRunner().invoke(main, ["bench", "compare", "--backend", "ray", "--json"])
    assert r.exit_code == 0, r.output
    assert events == ["start for 5", "1 on ray", "1 on ray", "3 on ray", "5 on ray", "stop"]
    rows = json.loads(r.stdout)
    assert [row["total_time_ms"] for row in rows] == [5.0] * 3  # (start-up not added)
    assert all(row["startup_ms"] >= 200 and set(row) >= KEYS for row in rows)
    events.clear()
    r = CliRunner().invoke(main, ["bench", "custom", "--shards", "2"])  # local: no Ray
    assert r.exit_code == 0 and events == ["1 on local", "2 on local"], r.output
    assert "warmed up in" in r.stderr and "startup_ms" in r.stderr


def test_each_configuration_shows_a_progress_bar_on_a_terminal(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from phago.cli.bench import _run

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    for as_json, csv, shown in ((False, False, True), (True, False, False), (False, True, False)):
        stderr = Terminal()
        monkeypatch.setattr(sys, "stderr", stderr)
        _run([BenchConfig(shards=2, documents=12, ticks=2, queries=3)], as_json, csv)
        monkeypatch.undo()
        text = stderr.getvalue()
        # (the bar ends showing its last phase, its rounds done)
        assert ("2 shard(s): querying" in text and "3/3" in text) is shown, (as_json, csv, text)
