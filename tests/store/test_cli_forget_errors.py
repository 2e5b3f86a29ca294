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


def test_a_file_stored_as_another_files_text_says_which_to_forget(tmp_path: Path) -> None:
    """The review: a file ingest reported as a duplicate could not be forgotten by its own
    path, and the error did not say why."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    text = "vaccines train the immune system to recognise pathogens\n"
    (tmp_path / "a" / "v.txt").write_text(text, encoding="utf-8")
    (tmp_path / "b" / "v.txt").write_text(text, encoding="utf-8")
    db = tmp_path / "s.db"
    r = CliRunner().invoke(
        main, ["ingest", str(tmp_path / "a"), str(tmp_path / "b"), "--db", str(db)]
    )
    assert r.exit_code == 0, r.output
    code, stdout, _ = forget(str(tmp_path / "b" / "v.txt"), "--db", str(db), "--json")
    said = json.loads(stdout)["error"]
    assert code == 1 and said["type"] == "UnknownDocument"
    assert f"its text is that of {tmp_path / 'a' / 'v.txt'}" in said["message"]
    code, _, _ = forget(str(tmp_path / "a" / "v.txt"), "--db", str(db))
    assert code == 0
