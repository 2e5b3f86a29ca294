"""``phago run --corpus``: skipped files are reported by absolute path, as ``ingest`` does."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from phago.cli import main


def test_a_relative_corpus_reports_skipped_files_by_absolute_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    corpus = tmp_path / "notes"
    corpus.mkdir()
    (corpus / "a.txt").write_text("cells divide and grow in tissue\n", encoding="utf-8")
    (corpus / "b.txt").write_bytes(b"\x00\x01binary")
    monkeypatch.chdir(tmp_path)
    r = CliRunner().invoke(main, ["run", "--corpus", "notes", "--ticks", "2", "--json"])
    assert r.exit_code == 0, r.output
    skipped = json.loads(r.stdout)["skipped"]
    assert len(skipped) == 1
    assert skipped[0].startswith(str(corpus / "b.txt") + ": "), skipped
    assert f"skipped {corpus / 'b.txt'}" in r.stderr


def test_a_corpus_named_through_a_link_is_reported_by_the_links_path(tmp_path: Path) -> None:
    corpus = tmp_path / "notes"
    corpus.mkdir()
    (corpus / "a.txt").write_text("cells divide and grow in tissue\n", encoding="utf-8")
    (corpus / "b.txt").write_bytes(b"\x00\x01binary")
    link = tmp_path / "link"
    link.symlink_to(corpus)
    r = CliRunner().invoke(main, ["run", "--corpus", str(link), "--ticks", "2", "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["skipped"][0].startswith(str(link / "b.txt") + ": ")
