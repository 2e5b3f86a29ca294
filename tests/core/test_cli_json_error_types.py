"""``--json`` errors of ``run``, ``query`` and ``eval`` name a phago.errors class, the same
one (and exit status) for the same kind of mistake."""

from __future__ import annotations

import doctest
import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner

import phago.errors
from phago.cli import main


def error_of(args: list[str]) -> dict[str, Any]:
    r = CliRunner().invoke(main, [*args, "--json"])
    data = json.loads(r.stdout)
    assert set(data) == {"error"}, (args, r.output)
    error: dict[str, Any] = data["error"]
    assert error["exit_code"] == r.exit_code, (args, error)
    assert isinstance(getattr(phago.errors, error["type"], None), type), (args, error)
    assert "\n" not in error["message"] and "Errno" not in error["message"], (args, error)
    return error


def test_a_corpus_without_usable_documents_is_a_document_error(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    blank = tmp_path / "blank"
    blank.mkdir()
    (blank / "a.txt").write_text("  \n")
    (tmp_path / "q.json").write_text('[{"query": "cells", "relevant": ["cell"]}]')
    for corpus in (empty, blank):
        for args in (
            ["run", "--corpus", str(corpus)],
            ["query", "cells", "--corpus", str(corpus)],
            ["eval", "--corpus", str(corpus), "--queries", str(tmp_path / "q.json")],
        ):
            error = error_of(args)
            assert (error["type"], error["exit_code"]) == ("DocumentError", 1), (args, error)
            assert "no usable documents" in error["message"] and str(corpus) in error["message"]


def test_a_bad_query_file_is_a_config_error(tmp_path: Path) -> None:
    files = {
        "empty.json": b"[]",
        "prose.json": b"query: cells",
        "latin.json": '[{"query": "caf\u00e9", "relevant": ["x"]}]'.encode("latin-1"),
        "object.json": b'{"query": "cells"}',
    }
    said = {
        "empty.json": "no queries in",
        "prose.json": "it is not JSON (line 1, column 1",
        "latin.json": "it is not UTF-8 text",
        "object.json": "a query file must hold a JSON list",
    }
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
        error = error_of(["eval", "--queries", str(tmp_path / name)])
        assert (error["type"], error["exit_code"]) == ("ConfigError", 1), (name, error)
        assert said[name] in error["message"], (name, error)


def test_bad_methods_are_one_kind_of_mistake(tmp_path: Path) -> None:
    for methods, said in (
        ("tfidf,nope", "unknown retrieval method 'nope'"),
        ("", "name at least one method"),
        (" , ", "name at least one method"),
    ):
        error = error_of(["eval", "--methods", methods])
        assert (error["type"], error["exit_code"]) == ("ConfigError", 2), (methods, error)
        assert said in error["message"], (methods, error)


def test_load_query_file_examples_run() -> None:
    from phago.cli import eval as eval_cli

    finder = doctest.DocTestFinder()
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    for test in finder.find(eval_cli.load_query_file, globs=vars(eval_cli).copy()):
        runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.attempted > 0 and result.failed == 0
