"""With ``--json``, a failing command prints its error as JSON (on stdout, one object) and
keeps its exit code; the audit found plain ``Error: ...`` text from every command."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from phago.cli import main


def error_of(r: Result) -> dict[str, object]:
    out = json.loads(r.stdout)
    assert set(out) == {"error"}, out
    error: dict[str, object] = out["error"]
    assert set(error) == {"type", "message", "exit_code"}
    assert error["exit_code"] == r.exit_code
    assert "Error:" not in r.output  # (not click's text as well)
    return error


def test_a_phago_error_keeps_its_type(tmp_path: Path) -> None:
    folder = tmp_path / "not-a-store"
    folder.mkdir()
    for args in (
        ["query", "cells", "--db", str(folder), "--json"],
        ["stats", "--db", str(folder), "--json"],
        ["forget", "x.txt", "--db", str(folder), "--json"],
    ):
        r = CliRunner().invoke(main, args)
        assert r.exit_code == 1, (args, r.output)
        error = error_of(r)
        assert error["type"] == "StoreError" and "not a distributed store" in str(
            error["message"]
        ), args
    r = CliRunner().invoke(main, ["query", "cells", "--db", str(folder)])  # without --json
    assert r.exit_code == 1 and r.stdout == "" and "Error: cannot load" in r.stderr


@pytest.mark.parametrize(
    ("args", "kind", "said"),
    [
        (["query", "x", "-k", "0", "--json"], "BadParameter", "0 is not in the range"),
        (["query", "x", "--db", "/no/such/store", "--json"], "BadParameter", "does not exist"),
        (["query", "x", "--method", "nope", "--json"], "BadParameter", "'nope' is not one of"),
        (["eval", "--corpus", ".", "--json"], "UsageError", "--queries is required"),
        # a usage error raised from a phago error: the phago error's type
        (["eval", "--methods", "nope", "--json"], "ConfigError", "unknown retrieval method"),
        (["query", "--json"], "MissingParameter", "Missing argument 'TEXT'"),
        (["ingest", "--nope", "--json"], "NoSuchOption", "No such option '--nope'"),
    ],
)
def test_usage_errors_exit_2_as_json(args: list[str], kind: str, said: str) -> None:
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 2, r.output
    error = error_of(r)
    assert error["type"] == kind and said in str(error["message"]), error


def test_an_error_in_a_subprocess_is_one_json_object_on_stdout(tmp_path: Path) -> None:
    r = subprocess.run(
        [sys.executable, "-m", "phago", "query", "x", "--db", str(tmp_path), "--json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 1, r.stderr
    assert json.loads(r.stdout)["error"]["type"] == "StoreError"
    assert "Traceback" not in r.stderr


def test_json_after_a_double_dash_is_an_argument() -> None:
    r = CliRunner().invoke(main, ["query", "-k", "0", "--", "--json"])
    assert r.exit_code == 2 and "Error: Invalid value" in r.stderr and r.stdout == ""


def test_a_message_that_names_its_type_gives_it_once_in_json(tmp_path: Path) -> None:
    """``run`` says ``StoreError: ...`` in text; its JSON error has the type as ``type``
    and the message without it."""
    r = CliRunner().invoke(main, ["run", "--resume", str(tmp_path), "--json"])
    assert r.exit_code == 1
    error = error_of(r)
    assert error["type"] == "StoreError"
    assert str(error["message"]).startswith("no complete checkpoint")
    r = CliRunner().invoke(main, ["run", "--resume", str(tmp_path)])
    assert "StoreError: no complete checkpoint" in r.output
