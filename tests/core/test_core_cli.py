"""End-to-end tests of the ``phago`` command (run as a real subprocess)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

PHAGO = [sys.executable, "-m", "phago"]


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*PHAGO, *args], capture_output=True, text=True, cwd=cwd, timeout=300)


def test_help_on_every_command() -> None:
    from phago.cli import main

    top = run("--help")
    assert top.returncode == 0 and "phago" in top.stdout
    for name in main.commands:
        r = run(name, "--help")
        assert r.returncode == 0, (name, r.stderr)
        assert "Usage" in r.stdout


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


def test_run_empty_directory_is_a_clear_error(tmp_path: Path) -> None:
    r = run("run", "--corpus", str(tmp_path))
    assert r.returncode != 0
    assert "no .txt documents" in r.stderr


def test_version() -> None:
    r = run("--version")
    assert r.returncode == 0 and "phago" in r.stdout
