"""``phago forget``: typed errors for targets that name nothing, and its summary's wording."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from store_helpers import make_colony

from phago.cli import main
from phago.store import read_document_ids, save


@pytest.fixture
def db(tmp_path: Path) -> Path:
    c = make_colony(6, digesters=2)
    c.run_until_digested(200)
    path = tmp_path / "c.db"
    save(c, path)
    return path


def forget(*args: str) -> tuple[int, str, str]:
    r = CliRunner().invoke(main, ["forget", *args])
    return r.exit_code, r.stdout, r.stderr


@pytest.mark.parametrize(
    ("target", "error"),
    [
        ("12345", "UnknownDocument"),  # a number no stored document has
        ("no/such/file.txt", "UnknownDocument"),
        ("18446744073709551616", "DocumentError"),  # 2**64: no document id can be it
        ("0x1ffffffffffffffff", "DocumentError"),
    ],
)
def test_a_target_that_names_nothing_is_a_typed_error_and_changes_nothing(
    db: Path, target: str, error: str
) -> None:
    before = hashlib.sha256(db.read_bytes()).hexdigest()
    code, stdout, _ = forget(target, "--db", str(db), "--json")
    assert code == 1
    said = json.loads(stdout)["error"]
    assert said["type"] == error and target in said["message"]
    assert hashlib.sha256(db.read_bytes()).hexdigest() == before


def test_the_summary_counts_in_words_that_agree(db: Path) -> None:
    one = str(read_document_ids(db)[0])
    code, stdout, _ = forget(one, "--db", str(db))
    assert code == 0
    assert stdout.startswith("Forgot 1 document: "), stdout
    assert "1 documents" not in stdout and "1 concepts" not in stdout


def test_a_file_whose_text_another_file_holds_is_forgotten_by_its_record(
    tmp_path: Path,
) -> None:
    """A file ingest found a duplicate is recorded as another source of the document (since
    the fortieth session; before, it could not be forgotten by its path): forgetting it
    drops its record and keeps the text the other file holds; forgetting that one then
    forgets the document. Either order."""
    from phago.store import read_catalog, read_summary

    text = "vaccines train the immune system to recognise pathogens\n"
    for first, second in (("b", "a"), ("a", "b")):
        root = tmp_path / first
        for name in ("a", "b"):
            (root / name).mkdir(parents=True)
            (root / name / "v.txt").write_text(text, encoding="utf-8")
        db = root / "s.db"
        r = CliRunner().invoke(main, ["ingest", str(root / "a"), str(root / "b"), "--db", str(db)])
        assert r.exit_code == 0, r.output
        code, stdout, _ = forget(str(root / first / "v.txt"), "--db", str(db), "--json")
        said = json.loads(stdout)
        assert code == 0 and said["documents_removed"] == [], said
        assert said["held_by_other_files"] == [str(root / first / "v.txt")]
        assert read_summary(db).stats["documents_total"] == 1
        assert [s.path for s in read_catalog(db).sources] == [str(root / second / "v.txt")]
        code, stdout, _ = forget(str(root / second / "v.txt"), "--db", str(db), "--json")
        said = json.loads(stdout)
        assert code == 0 and len(said["documents_removed"]) == 1, said
        assert read_summary(db).stats["documents_total"] == 0
