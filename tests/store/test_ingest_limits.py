"""What ``phago ingest`` does with files with a part too wide to wire as a clique (splits
them further), folders it cannot read; and a file name that is not UTF-8."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from phago import Colony, ColonyConfig
from phago.errors import DocumentError
from phago.ingest import discover, ingest_paths, inspect_file
from phago.text import tokenize


def _words(n: int) -> str:
    letters = "bcdfghjklmnpqrstvwxz"
    return " ".join(
        "q" + letters[i % 20] + letters[i // 20 % 20] + letters[i // 400 % 20] for i in range(n)
    )


def test_a_file_with_a_part_too_wide_to_wire_is_split_to_fit(tmp_path: Path) -> None:
    cfg = ColonyConfig(max_clique_keywords=100)
    (tmp_path / "wide.txt").write_text("cell membrane protein\n\n" + _words(150))
    (tmp_path / "ok.txt").write_text("cell membrane protein")
    with pytest.raises(DocumentError, match=r"'wide.txt \(part 1\)' has 153 distinct keywords"):
        inspect_file(tmp_path / "wide.txt", max_chars=1000, max_keywords=100)
    c = Colony(cfg)
    report, _ = ingest_paths(c, [tmp_path], max_chars=1000)
    assert [Path(a.path).name for a in report.added] == ["ok.txt", "wide.txt"]
    assert report.skipped == []
    docs = {d.title: d.content for d in c.substrate.documents()}
    assert list(docs) == [
        "ok",
        "cell membrane protein (part 1/2)",
        "cell membrane protein (part 2/2)",
    ]
    assert all(len(set(tokenize(t))) <= 100 for t in docs.values())
    parts = (
        docs["cell membrane protein (part 1/2)"] + " " + docs["cell membrane protein (part 2/2)"]
    )
    assert parts.split() == (tmp_path / "wide.txt").read_text().split()
    bounded = Colony(ColonyConfig.for_large_corpora())
    report, _ = ingest_paths(bounded, [tmp_path], max_chars=1000)
    assert len(report.added) == 2 and not report.skipped


def test_a_folder_that_fails_to_list_is_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # (a folder of mode 000 makes the listing fail so, but not for root)
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "x.txt").write_text("hidden words")
    (tmp_path / "y.txt").write_text("visible words")
    real = os.scandir

    def scandir(path: str | os.PathLike[str]) -> object:
        if str(path).endswith("sub"):
            raise PermissionError(13, "Permission denied", str(path))
        return real(path)

    monkeypatch.setattr(os, "scandir", scandir)
    files, skipped = discover([tmp_path])
    assert [f.name for f in files] == ["y.txt"]
    assert [Path(s.path).name for s in skipped] == ["sub"]
    assert "cannot read (Permission denied)" in skipped[0].reason


def test_a_file_name_that_is_not_utf8_gives_a_readable_title(tmp_path: Path) -> None:
    name = os.fsdecode(b"bad\xff\xfename.txt")
    (tmp_path / name).write_text("cell membrane protein")
    info = inspect_file(tmp_path / name)
    assert info.title == "bad\ufffd\ufffdname"
    c = Colony()
    report, _ = ingest_paths(c, [tmp_path])
    assert len(report.added) == 1 and not report.skipped
    assert [d.title for d in c.substrate.documents()] == ["bad\ufffd\ufffdname"]


def test_run_and_eval_read_a_too_wide_file_as_parts_as_ingest_does(tmp_path: Path) -> None:
    # `phago run/query/eval --corpus` read folders through load_checked_directory: a file
    # too wide to wire as a clique is split there too (it was skipped, while ingest split it)
    from phago.cli.common import load_checked_directory

    (tmp_path / "wide.txt").write_text("cell membrane protein\n\n" + _words(150))
    docs, skipped = load_checked_directory(tmp_path, ColonyConfig(max_clique_keywords=100))
    assert skipped == []
    assert [d.title for d in docs] == [
        "cell membrane protein (part 1/2)",
        "cell membrane protein (part 2/2)",
    ]
    assert all(len(set(tokenize(d.content))) <= 100 for d in docs)


def test_a_file_whose_parts_would_wire_too_many_pairs_is_refused_with_advice(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # split to fit the keyword limit, a 3 MB file still wired every pair of each part:
    # 64 s and 2.1 GB; past a budget of pairs a file is refused, pointing to --large
    import phago.ingest as ingest_module

    (tmp_path / "wide.txt").write_text("cell membrane protein\n\n" + _words(150))
    k1, k2 = 53, 100  # (the two parts' distinct keywords, as split at 100)
    budget = k1 * (k1 - 1) // 2 + k2 * (k2 - 1) // 2
    monkeypatch.setattr(ingest_module, "MAX_FILE_CLIQUE_PAIRS", budget)
    assert inspect_file(tmp_path / "wide.txt", max_chars=1000, split_keywords=100).parts == 2
    monkeypatch.setattr(ingest_module, "MAX_FILE_CLIQUE_PAIRS", budget - 1)
    with pytest.raises(DocumentError, match="--large"):
        inspect_file(tmp_path / "wide.txt", max_chars=1000, split_keywords=100)
    c = Colony(ColonyConfig(max_clique_keywords=100))
    report, _ = ingest_paths(c, [tmp_path], max_chars=1000)
    assert report.added == [] and len(report.skipped) == 1
    assert "--large" in report.skipped[0].reason
    # bounded wiring (no clique limit) takes it whole
    bounded = Colony(ColonyConfig.for_large_corpora())
    report, _ = ingest_paths(bounded, [tmp_path], max_chars=1000)
    assert len(report.added) == 1
