"""What a ``phago`` call costs before it does anything: its imports, and Numba's cache.

An agent drives the command line one call per note, so each call's start-up counts. These
tests pin down that the command line loads only what a command needs (``--help`` and
``stats`` neither Numba nor SciPy nor Ray), that the lazy packages keep their public API, and
that the store's quicker row digest and id read give what the slower ones gave.
"""

from __future__ import annotations

import hashlib
import json
import random
import sqlite3
import struct
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

HEAVY = ("numba", "scipy", "ray")


def probe_output(code: str, timeout: float = 300) -> str:
    """What a fresh interpreter that runs ``code`` prints (it must exit 0)."""
    r = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout
    )
    assert r.returncode == 0, r.stderr
    return r.stdout


def heavy_imports_after(code: str, heavy: tuple[str, ...] = HEAVY) -> list[str]:
    """The ``heavy`` packages imported by a fresh interpreter that runs ``code``."""
    probe = (
        f"import sys\n{code}\nprint('\\n' + ' '.join(m for m in {heavy!r} if m in sys.modules))\n"
    )
    return probe_output(probe, timeout=120).splitlines()[-1].split()


def run_cli(*args: str) -> str:
    """``main(args)`` as the ``phago`` entry point runs it (the ``SystemExit`` caught)."""
    return (
        "from phago.cli import main\n"
        "try:\n"
        f"    main({list(args)!r})\n"
        "except SystemExit as exc:\n"
        "    assert not exc.code, exc.code\n"
    )


def test_importing_the_command_line_loads_no_numba_scipy_or_ray() -> None:
    assert heavy_imports_after("import phago.cli") == []


def test_help_loads_no_numba_scipy_or_ray() -> None:
    assert heavy_imports_after(run_cli("--help"), (*HEAVY, "numpy")) == []
    assert heavy_imports_after(run_cli("forget", "--help")) == []


def test_stats_loads_no_numpy_numba_scipy_or_ray(tmp_path: Path) -> None:
    from phago import Colony, Position
    from phago.store import save

    c = Colony(seed=1)
    c.ingest_document("t", "cell membrane protein", Position(0, 0))
    db = save(c, tmp_path / "s.db")
    stats = run_cli("stats", "--db", str(db), "--json")
    assert heavy_imports_after(stats, (*HEAVY, "numpy")) == []


def test_the_structural_queries_module_loads_numba_only_when_its_kernel_runs() -> None:
    assert heavy_imports_after("import phago.query.structural", ("numba",)) == []


def test_import_phago_is_lazy_and_keeps_the_public_api() -> None:
    assert heavy_imports_after("import phago, phago.agents, phago.query") == []
    code = (
        "import phago, phago.agents, phago.query\n"
        "from phago import *\n"
        "from phago.query import *\n"
        "for pkg in (phago, phago.agents, phago.query):\n"
        "    assert set(pkg.__all__) <= set(dir(pkg)), pkg\n"
        "    for name in pkg.__all__:\n"
        "        assert getattr(pkg, name) is not None, name\n"
        "from phago import Colony, Digester, Position\n"
        "assert Colony.__module__ == 'phago.colony' and Digester is phago.agents.Digester\n"
    )
    heavy_imports_after(code)  # (it runs; what it loads here does not matter)


def test_a_query_function_named_like_its_module_stays_the_function() -> None:
    code = (
        "import phago.query.tfidf\n"  # the submodule first: it must not shadow the function
        "import phago.query\n"
        "from phago.query import tfidf, bm25\n"
        "import phago.query.bm25 as bm25_module\n"
        "assert callable(tfidf) and tfidf is phago.query.tfidf, phago.query.tfidf\n"
        "assert bm25 is phago.query.bm25 and callable(bm25_module)\n"
        "import sys\n"
        "assert type(sys.modules['phago.query.tfidf']).__name__ == 'module'\n"
    )
    heavy_imports_after(code)


def test_lazy_choices_and_defaults_show_what_the_modules_define() -> None:
    from click.testing import CliRunner

    from phago.cli import main
    from phago.ingest import DEFAULT_MAX_CHARS
    from phago.query.retrieve import METHODS

    query_help = CliRunner().invoke(main, ["query", "--help"]).output
    assert "|".join(["best", *METHODS]) in query_help.replace("\n", "").replace(" ", "")
    ingest_help = CliRunner().invoke(main, ["ingest", "--help"]).output
    assert f"default: {DEFAULT_MAX_CHARS}" in ingest_help
    eval_help = CliRunner().invoke(main, ["eval", "--help"]).output
    assert ",".join(METHODS) in eval_help.replace("\n", "").replace(" ", "")


def _reference_digest(rows: list[tuple[Any, ...]]) -> str:
    """The row digest as stores were first written: each value hashed in turn."""
    h = hashlib.blake2b(digest_size=32)
    for row in rows:
        for v in row:
            if isinstance(v, str):
                b = v.encode("utf-8")
                h.update(b"s" + struct.pack("<Q", len(b)) + b)
            elif isinstance(v, bool | int):
                h.update(b"i" + int(v).to_bytes(16, "little", signed=True))
            elif isinstance(v, float):
                h.update(b"f" + struct.pack("<d", v))
            else:
                raise TypeError(type(v))
    return h.hexdigest()


def test_the_batched_row_digest_is_the_digest_stores_hold() -> None:
    from phago._store_digest import RowDigest

    class Text(str):
        pass

    rng = random.Random(7)
    values: list[Callable[[], object]] = [
        lambda: rng.randint(-(2**100), 2**100),
        lambda: rng.random() * 1e6,
        lambda: "ü" * rng.randint(0, 9),
        lambda: True,
        lambda: Text("x"),
        lambda: float("-inf"),
    ]
    for _ in range(50):
        rows = [
            tuple(rng.choice(values)() for _ in range(rng.randint(0, 7)))
            for _ in range(rng.randint(0, 2500))
        ]
        d = RowDigest()
        for row in rows:
            d.add(*row)
        assert d.hexdigest() == _reference_digest(rows)
    with pytest.raises(TypeError):
        RowDigest().add(b"bytes")


def test_document_ids_read_quickly_are_those_of_the_verified_state(tmp_path: Path) -> None:
    from phago import Colony, Position
    from phago.errors import StoreError
    from phago.store import read_document_ids, read_state, save

    c = Colony(seed=2)
    for i in range(5):
        c.ingest_document(f"t{i}", f"note {i} about cells and membranes", Position(i, 0))
    db = save(c, tmp_path / "s.db")
    state, _ = read_state(db)
    assert read_document_ids(db) == [int(x) for x in state.substrate.doc_ids.tolist()]
    with sqlite3.connect(db) as con:
        con.execute("UPDATE documents SET doc_id = 'x' WHERE seq = 1")
    with pytest.raises(StoreError, match="damaged"):
        read_document_ids(db)


def test_forget_on_a_damaged_store_says_it_is_damaged(tmp_path: Path) -> None:
    from phago import Colony, Position
    from phago.store import save

    c = Colony(seed=2)
    doc = c.ingest_document("t", "note about cells", Position(0, 0))
    db = save(c, tmp_path / "s.db")
    with sqlite3.connect(db) as con:  # a wrong id: the target is not found by the quick read
        con.execute("UPDATE documents SET doc_id = doc_id + 1")
    r = subprocess.run(
        [sys.executable, "-m", "phago", "forget", str(int(doc)), "--db", str(db), "--json"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 1
    assert "damaged" in json.loads(r.stdout)["error"]["message"]


def test_numba_kernels_load_from_the_cache_on_a_second_run(tmp_path: Path) -> None:
    notes = tmp_path / "notes"
    notes.mkdir()
    for i in range(3):
        (notes / f"n{i}.txt").write_text(f"Ribosomes build protein chains {i} in the cytoplasm.")
    db = tmp_path / "s.db"
    counting = (
        "import sys\n"
        "from numba.core import event\n"
        "class Count(event.Listener):\n"
        "    n = 0\n"
        "    def on_start(self, ev): Count.n += 1\n"
        "    def on_end(self, ev): pass\n"
        "event.register('numba:compile', Count())\n"
        "from phago.cli import main\n"
        "try:\n"
        "    main(sys.argv[1:])\n"
        "except SystemExit as exc:\n"
        "    assert not exc.code, exc.code\n"
        "print(Count.n, file=sys.stderr)\n"
    )

    def compiles(*args: str) -> int:
        r = subprocess.run(
            [sys.executable, "-c", counting, *args], capture_output=True, text=True, timeout=600
        )
        assert r.returncode == 0, r.stderr
        return int(r.stderr.strip().splitlines()[-1])

    compiles("ingest", str(notes / "n0.txt"), "--db", str(db))  # (compiles what is not cached)
    assert compiles("ingest", str(notes / "n1.txt"), "--db", str(db)) == 0
    assert compiles("query", "protein", "--db", str(db), "--json") == 0


def kernel_probe(before: str) -> list[str]:
    """What a fresh interpreter that runs ``before`` and then a phago kernel says of Numba's
    BLAS check and of SciPy's linear algebra (and that both still work after)."""
    probe = (
        "import sys\n"
        f"{before}\n"
        "import numpy as np\n"
        "from phago._kernels import all_in_range\n"
        "assert all_in_range(np.arange(3), 0, 3)\n"
        "import numba.np.arraymath as arraymath\n"
        "print(arraymath._HAVE_BLAS, 'scipy.linalg' in sys.modules)\n"
        "import scipy.linalg.cython_blas\n"
        "import numba\n"
        "dot = numba.njit(lambda a, b: np.dot(a, b))\n"
        "print(dot(np.ones(3), np.full(3, 2.0)), np.correlate(np.ones(2), np.ones(2)))\n"
    )
    return probe_output(probe).split()


def test_a_kernel_call_leaves_scipy_linear_algebra_unimported_and_importable() -> None:
    # Numba's array-math registry would import scipy.linalg (0.2-0.3 CPU-s) to look for BLAS
    assert kernel_probe("") == ["False", "False", "6.0", "[2.]"]
    # imported already, it costs nothing, and Numba finds BLAS as it would have
    assert kernel_probe("import scipy.linalg.cython_blas") == ["True", "True", "6.0", "[2.]"]


def test_what_numba_leaves_at_its_first_call_goes_to_the_oldest_generation() -> None:
    # ticks run with the cyclic collector paused; once it was on again, its next collection
    # of the younger generations walked the 10^5 objects Numba's start had left (80-110 ms)
    probe = (
        "import gc\n"
        "import numpy as np\n"
        "from phago._kernels import all_in_range\n"
        "gc.disable()\n"
        "assert all_in_range(np.arange(3), 0, 3)\n"
        "print(len(gc.get_objects(0)) + len(gc.get_objects(1)), len(gc.get_objects(2)))\n"
    )
    young, oldest = map(int, probe_output(probe).split())
    assert young < 1_000 and oldest > 50_000, (young, oldest)


def test_the_phago_program_freezes_its_objects_as_it_exits_and_calls_from_python_do_not() -> None:
    # an exit handler registered before main() runs after the one main() registers
    code = (
        "import atexit, gc, sys\n"
        "atexit.register(lambda: print('frozen', gc.get_freeze_count() > 0, file=sys.stderr))\n"
        "from phago.cli import main\n"
        "main()\n"
    )
    r = subprocess.run(
        [sys.executable, "-c", code, "--version"], capture_output=True, text=True, timeout=120
    )
    assert r.returncode == 0 and "phago" in r.stdout
    assert "frozen True" in r.stderr
    called = (
        "import atexit, gc, sys\n"
        "from phago.cli import main\n"
        "before = atexit._ncallbacks()\n"
        "try:\n"
        "    main(['--version'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "assert atexit._ncallbacks() == before\n"
    )
    r = subprocess.run([sys.executable, "-c", called], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr


@pytest.mark.parametrize("large", [False, True])
def test_query_and_forget_on_a_store_load_no_numba_scipy_or_ray(
    tmp_path: Path, large: bool
) -> None:
    # the restored graph builds its edge table on first use, which neither command makes;
    # a large-corpus store wires within a window, and a forget reads its documents' words
    # again (with the tokeniser, not the digester's kernels, where Numba is not loaded)
    from phago import Colony, ColonyConfig
    from phago.ingest import digest_new_documents
    from phago.store import save

    c = Colony(ColonyConfig.for_large_corpora() if large else ColonyConfig(), seed=1)
    docs = [
        c.ingest_document("a", "cell membrane protein transport"),
        c.ingest_document("b", "membrane protein channel"),
    ]
    digest_new_documents(c, docs, digesters=1)
    assert c.graph.edge_count > 0
    db = save(c, tmp_path / "s.db")
    query = run_cli("query", "membrane", "--db", str(db), "--json")
    assert heavy_imports_after(query) == []
    documents = run_cli("query", "membrane", "--documents", "--db", str(db), "--json")
    assert heavy_imports_after(documents) == []
    forget = run_cli("forget", str(int(docs[1])), "--db", str(db))
    assert heavy_imports_after(forget) == []
