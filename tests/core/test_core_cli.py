"""End-to-end tests of the ``phago`` command (run as a real subprocess)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

PHAGO = [sys.executable, "-m", "phago"]


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*PHAGO, *args], capture_output=True, text=True, cwd=cwd, timeout=300)


def test_help_on_every_command() -> None:
    import click
    from click.testing import CliRunner

    from phago.cli import main

    top = run("--help")  # the installed entry point, as a user runs it
    assert top.returncode == 0 and "phago" in top.stdout
    paths = [[name] for name in main.commands]
    for name, command in main.commands.items():  # and the groups' subcommands
        if isinstance(command, click.Group):
            paths += [[name, sub] for sub in command.commands]
    assert ["cluster", "status"] in paths and ["bench", "compare"] in paths
    for path in paths:
        r = CliRunner().invoke(main, [*path, "--help"])
        assert r.exit_code == 0, (path, r.output)
        assert "Usage" in r.output


def test_demo_json(tmp_path: Path) -> None:
    r = run("demo", "--json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert data["stats"]["documents_digested"] == data["stats"]["documents_total"] == 40
    assert data["strongest_edges"] and data["queries"]


def test_run_on_directory_json(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("Ribosomes translate messenger RNA into protein chains.")
    (tmp_path / "b.txt").write_text("Protein folding depends on chaperones and ribosomes.")
    r = run("run", "--corpus", str(tmp_path), "--digesters", "2", "--json")
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert data["documents_digested"] == 2 and data["graph_nodes"] > 5
    assert 0 < data["run_seconds"] < 300  # the ticks' wall time


def test_run_and_eval_take_the_corpus_folder_as_their_argument(tmp_path: Path) -> None:
    # as phago ingest takes its paths: phago run FOLDER is phago run --corpus FOLDER
    from click.testing import CliRunner

    from phago.cli import main

    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "a.txt").write_text("Ribosomes translate messenger RNA into protein chains.")
    (notes / "b.txt").write_text("Protein folding depends on chaperones and ribosomes.")
    by_option = CliRunner().invoke(main, ["run", "--corpus", str(notes), "--json"])
    by_argument = CliRunner().invoke(main, ["run", str(notes), "--json"])
    assert by_option.exit_code == by_argument.exit_code == 0, by_argument.output
    stats = [json.loads(r.stdout) for r in (by_option, by_argument)]
    assert stats[1]["documents_total"] == 2
    for figures in stats:
        figures.pop("run_seconds")
    assert stats[0] == stats[1]
    twice = CliRunner().invoke(main, ["run", str(notes), "--corpus", str(notes)])
    assert twice.exit_code == 2 and "the corpus is given twice" in twice.output
    resumed = CliRunner().invoke(main, ["run", str(notes), "--resume", str(tmp_path)])
    assert resumed.exit_code == 2
    assert "--resume goes on with a run's own CORPUS" in resumed.output
    missing = CliRunner().invoke(main, ["run", str(tmp_path / "nowhere")])
    assert missing.exit_code == 2 and "does not exist" in missing.output
    queries = tmp_path / "q.json"
    queries.write_text(json.dumps([{"query": "protein", "relevant": ["ribosomes"]}]))
    evaluated = CliRunner().invoke(
        main, ["eval", str(notes), "--queries", str(queries), "--methods", "graph", "--json"]
    )
    assert evaluated.exit_code == 0, evaluated.output
    report = json.loads(evaluated.stdout)
    assert list(report["methods"]) == ["graph"] and report["documents_digested"] == 2
    no_queries = CliRunner().invoke(main, ["eval", str(notes)])
    assert no_queries.exit_code == 2 and "--queries is required" in no_queries.output


def test_a_sharded_run_moves_its_bar_per_runner_call_of_many_ticks(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # one runner call a tick (on_tick) would cost Ray shards their chained ticks
    from click.testing import CliRunner

    from phago.cli import main
    from phago.distributed import colony as dist_colony
    from phago.distributed.runner import DistributedRunner

    calls: list[int] = []
    ticks_run = DistributedRunner.run

    async def counted(self: DistributedRunner, ticks: int, **kwargs: object) -> object:
        calls.append(ticks)
        return await ticks_run(self, ticks, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(DistributedRunner, "run", counted)
    monkeypatch.setattr(dist_colony, "_CALL_TARGET_S", 100.0)  # every call counts as quick
    for args, ticks, expected in (
        (["--ticks", "40"], 40, [1, 2, 4, 8, 16, 9]),
        # until digested: the last call ends at the idle tick (22), then one call of the
        # degree cap's 8 ticks across shards
        ([], 30, [1, 2, 4, 8, 16, 8]),
    ):
        r = CliRunner().invoke(main, ["run", "--shards", "2", "--json", *args])
        assert r.exit_code == 0, r.output
        data = json.loads(r.stdout)
        assert data["documents_digested"] == data["documents_total"] == 40
        assert data["ticks_run"] == ticks and calls == expected and data["run_seconds"] > 0
        calls.clear()


def test_run_empty_directory_is_a_clear_error(tmp_path: Path) -> None:
    r = run("run", "--corpus", str(tmp_path))
    assert r.returncode != 0
    assert (
        "no usable documents (.txt, .text, .md, .markdown, .rst, .html, .htm, .xhtml or .pdf)"
        in r.stderr
    )


def test_run_reports_and_skips_files_a_colony_cannot_take(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("Ribosomes translate messenger RNA into protein chains.")
    (tmp_path / "b.txt").write_text("Protein folding depends on chaperones and ribosomes.")
    (tmp_path / "blank.txt").write_text("  \n")
    (tmp_path / "nul.txt").write_bytes(b"protein\x00chains")
    (tmp_path / "latin.txt").write_bytes("caf\u00e9 protein".encode("latin-1"))
    for shards in ("1", "2"):
        r = run("run", "--corpus", str(tmp_path), "--shards", shards, "--digesters", "2", "--json")
        assert r.returncode == 0, r.stderr
        data = json.loads(r.stdout)
        assert data["documents_total"] == data["documents_digested"] == 2
        skipped = data["skipped"]
        assert [Path(s.split(":", 1)[0]).name for s in skipped] == [
            "blank.txt",
            "latin.txt",
            "nul.txt",
        ]
        assert "only whitespace" in skipped[0] and "not valid utf-8" in skipped[1]
        assert "binary" in skipped[2]
        assert r.stderr.count("skipped") == 3
    only_bad = tmp_path / "bad"
    only_bad.mkdir()
    (only_bad / "blank.txt").write_text(" ")
    r = run("run", "--corpus", str(only_bad))
    assert r.returncode != 0 and "skipped" in r.stderr and "no usable documents" in r.stderr


def test_version() -> None:
    r = run("--version")
    assert r.returncode == 0 and "phago" in r.stdout


def test_cli_common_examples() -> None:
    import doctest

    import phago.cli.common as common

    result = doctest.testmod(common)
    assert result.attempted > 0 and result.failed == 0


def test_an_unreachable_cluster_is_a_clear_error() -> None:
    import socket

    with socket.socket() as s:  # a port nothing listens on once closed
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    r = run("cluster", "status", "--address", f"127.0.0.1:{port}")
    assert r.returncode == 1
    assert "no Ray cluster at" in r.stderr and "Traceback" not in r.stderr
    assert r.stderr.count("ray start --head") == 1  # said once


def test_counts_that_make_no_sense_are_usage_errors() -> None:
    from click.testing import CliRunner

    from phago.cli import main

    cases: list[tuple[str, ...]] = [
        ("bench", "custom", option, "0") for option in ("--docs", "--shards")
    ]
    cases += [
        ("run", option, "0")
        for option in ("--ticks", "--max-ticks", "--digesters", "--shards", "--checkpoint-every")
    ]
    cases += [
        ("query", "cells", "-k", "0"),
        ("query", "cells", "--ticks", "0"),
        ("eval", "--ticks", "0"),
        ("eval", "--shards", "0"),
        ("demo", "--max-ticks", "0"),
        ("demo", "--digesters", "0"),
    ]
    args: Sequence[str]
    for args in cases:  # click rejects them before any work starts
        r = CliRunner().invoke(main, list(args))
        assert r.exit_code == 2 and "0 is not in the range" in r.output, args
    for args, said in (
        (["--address", "auto"], "--address joins a Ray cluster: add --backend ray"),
        (["--start-timeout", "nan"], "must be a finite number of seconds"),
    ):  # (both were ignored)
        r = CliRunner().invoke(main, ["run", "--ticks", "1", *args])
        assert r.exit_code == 2 and said in r.output, args
    for command in (["run"], ["demo"], ["eval"]):  # (a traceback until the 35th session)
        r = CliRunner().invoke(main, [*command, "--seed", "-1"])
        assert r.exit_code == 2 and "-1 is not in the range x>=0" in r.output, command


def test_eval_checks_its_methods_and_queries_before_building(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from phago.cli import main

    for methods, said in (("nonsense", "unknown retrieval method 'nonsense'"), (",", "at least")):
        r = CliRunner().invoke(main, ["eval", "--methods", methods])
        assert r.exit_code == 2 and said in r.output, r.output
        assert "building the colony" not in r.output
    (tmp_path / "q.json").write_text("[]")
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "a.txt").write_text("cell membrane protein")
    r = CliRunner().invoke(
        main, ["eval", "--corpus", str(tmp_path / "c"), "--queries", str(tmp_path / "q.json")]
    )
    assert r.exit_code == 1 and "no queries in" in r.output  # (all scores 0.0, exit 0, before)


def test_run_takes_what_ingest_takes_and_splits_a_document_too_wide_to_wire(
    tmp_path: Path,
) -> None:
    letters = "bcdfghjklmnpqrstvwxz"
    words = ["q" + letters[i % 20] + letters[i // 20 % 20] + letters[i // 400] for i in range(2100)]
    (tmp_path / "wide.txt").write_text(" ".join(words))
    (tmp_path / "ok.txt").write_text("cell membrane protein")
    (tmp_path / "sub").mkdir()  # folders and other formats, as phago ingest reads them
    (tmp_path / "sub" / "notes.md").write_text("# Notes\n\nmitochondria make energy")
    r = run("run", "--corpus", str(tmp_path), "--ticks", "2", "--json")
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
    data = json.loads(r.stdout)
    # the file of 2,100 distinct keywords is read as two parts within the default limit of
    # 2,000, as ingest splits it (it was skipped until the thirty-sixth session)
    assert data["documents_total"] == 4 and data["skipped"] == []
    r = run("run", "--corpus", str(tmp_path), "--ticks", "2", "--large", "--json")
    assert r.returncode == 0 and json.loads(r.stdout)["documents_total"] == 3


def test_run_resumes_from_its_checkpoint_directory(tmp_path: Path) -> None:
    ckpt = tmp_path / "ckpt"
    common = ["--shards", "2", "--digesters", "4", "--checkpoint-every", "5", "--json"]
    first = run("run", *common, "--ticks", "12", "--checkpoint-dir", str(ckpt))
    assert first.returncode == 0, first.stderr
    # where the run ended (until the 35th session the last was tick 10's, so --resume
    # went back two ticks)
    assert sorted(p.name for p in ckpt.iterdir()) == ["tick-0000000012"]
    whole = run("run", *common, "--ticks", "18")  # the same run, uninterrupted
    resumed = run("run", "--resume", str(ckpt), "--ticks", "6", "--json")
    assert whole.returncode == 0 and resumed.returncode == 0, resumed.stderr
    a, b = json.loads(whole.stdout), json.loads(resumed.stdout)
    assert b["ticks_run"] == 6 and b["backend"] == "local" and len(b["shards"]) == 2
    for key in ("documents_total", "documents_digested", "graph_nodes", "graph_edges"):
        assert a[key] == b[key], key
    # a resumed run brings its own documents and shards; and the directory must hold a set
    clash = run("run", "--resume", str(ckpt), "--shards", "3")
    assert clash.returncode == 2 and "--resume goes on with a run's own --shards" in clash.stderr
    empty = tmp_path / "empty"
    empty.mkdir()
    none = run("run", "--resume", str(empty))
    assert none.returncode == 1 and "StoreError" in none.stderr
    assert "no complete checkpoint" in none.stderr and "Traceback" not in none.stderr


def test_ctrl_c_stops_a_run_at_a_tick_and_checkpoints_it_for_resume(tmp_path: Path) -> None:
    # Ctrl-C in a long sharded run: the run stops at a tick boundary, writes a checkpoint
    # of that tick to --checkpoint-dir, says how to go on, and exits 130; --resume goes on
    # from exactly that tick
    import signal
    import time

    ckpt = tmp_path / "ckpt"
    timeline = tmp_path / "tl.csv"
    args = ["run", "--shards", "2", "--ticks", "100000", "--checkpoint-every", "50"]
    proc = subprocess.Popen(
        [*PHAGO, *args, "--checkpoint-dir", str(ckpt), "--json", "--timeline", str(timeline)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120.0
        while not (ckpt.exists() and any(ckpt.glob("tick-*"))):  # the run is under way
            assert proc.poll() is None and time.monotonic() < deadline, proc.stderr
            time.sleep(0.1)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130 and out == "", err[-2000:]
    said = " ".join(err.split())
    assert "interrupted: stopped at tick" in said and "Traceback" not in err, err[-2000:]
    tick = int(said.split("stopped at tick ")[1].split(",")[0])
    # the command to go on with keeps the ticks left and the checkpoint spacing (it said
    # only --resume DIR, which ran until digested and took no more checkpoints)
    again = f"phago run --resume {ckpt} --ticks {100000 - tick} --checkpoint-every 50"
    assert f"{again} --timeline {timeline}" in said
    assert sorted(p.name for p in ckpt.iterdir()) == [f"tick-{tick:010d}"]
    # the ticks that completed are written as the run's timeline
    assert [int(line.split(",")[0]) for line in timeline.read_text().splitlines()[1:]] == list(
        range(1, tick + 1)
    )
    resumed = run(
        "run", "--resume", str(ckpt), "--ticks", "2", "--json", "--timeline", str(timeline)
    )
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads(resumed.stdout)["tick"] == tick + 2
    assert len(timeline.read_text().splitlines()) == 1 + tick + 2  # the whole run's
    # and went on checkpointing there: its last tick is the set now
    assert sorted(p.name for p in ckpt.iterdir()) == [f"tick-{tick + 2:010d}"]


def test_a_one_colony_run_asked_for_checkpoints_runs_as_one_shard_and_takes_them(
    tmp_path: Path,
) -> None:
    ckpt = tmp_path / "ckpt"
    r = run(
        "run", "--ticks", "12", "--checkpoint-every", "5", "--checkpoint-dir", str(ckpt), "--json"
    )
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert len(data["shards"]) == 1 and data["ticks_run"] == 12
    assert sorted(p.name for p in ckpt.iterdir()) == ["tick-0000000012"]


def test_ctrl_c_in_a_run_of_one_colony_writes_the_ticks_it_completed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from click.testing import CliRunner

    from phago.cli import main
    from phago.colony import Colony

    tick = Colony.tick

    def tick_until_seven(self: Colony) -> object:
        if self.current_tick == 7:
            raise KeyboardInterrupt  # (as Colony.run raises Ctrl-C, at a tick boundary)
        return tick(self)

    monkeypatch.setattr(Colony, "tick", tick_until_seven)
    out_file = tmp_path / "t.jsonl"
    r = CliRunner().invoke(main, ["run", "--ticks", "50", "--timeline", str(out_file)])
    assert r.exit_code == 130 and "interrupted" in r.output
    assert [json.loads(line)["tick"] for line in out_file.read_text().splitlines()] == list(
        range(1, 8)
    )
    assert "timeline of 7 ticks (ticks 1 to 7) written" in " ".join(r.output.split())


def test_a_timeline_that_cannot_be_written_after_the_run_keeps_the_results(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from click.testing import CliRunner

    import phago.timeline as timeline_mod
    from phago.cli import main
    from phago.errors import OutputError

    def full_disk(*_args: object, **_kwargs: object) -> None:
        raise OutputError("cannot write t.csv: No space left on device")

    monkeypatch.setattr(timeline_mod, "write_timeline", full_disk)
    r = CliRunner().invoke(
        main, ["run", "--ticks", "3", "--json", "--timeline", str(tmp_path / "t.csv")]
    )
    assert r.exit_code == 1, r.output
    report = json.loads(r.stdout)
    assert report["ticks_run"] == 3 and "No space left" in report["timeline_error"]
    assert "the timeline was not written" in r.stderr


def test_ctrl_c_in_any_command_exits_with_130(monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    import phago.cli.demo as demo_cli
    from phago.cli import main

    def interrupted(*_args: object, **_kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(demo_cli, "build_colony", interrupted)
    r = CliRunner().invoke(main, ["demo"])
    assert r.exit_code == 130 and "interrupted" in r.output and "Aborted" not in r.output


def test_json_output_is_valid_unicode_and_ids_are_strings(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from phago.cli.common import echo_json

    echo_json({"path": "bad\udcff\udcfe.txt", "list": ["ok", "\ud800"], "n": 1})
    text = capsys.readouterr().out
    text.encode("utf-8")  # (lone surrogates would not encode)
    assert json.loads(text) == {"path": "bad\ufffd\ufffd.txt", "list": ["ok", "?"], "n": 1}
    r = run("query", "cells", "--json")
    assert r.returncode == 0, r.stderr
    ids = [x["node_id"] for x in json.loads(r.stdout)["results"]]
    assert ids and all(isinstance(i, str) and int(i) >= 0 for i in ids)
