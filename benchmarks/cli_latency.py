"""Per-call latency of the ``phago`` command line on a store of short notes.

An LLM agent drives phago one note at a time: ``phago ingest note.txt --db mem.db``, then
``phago query "..." --db mem.db --json``. Each call is a new process, so what it costs is
the interpreter start, the imports, loading the store, the work, and saving it back.

The store (built once, untimed): ``--notes`` short notes (one or two sentences each, taken
from the phago-corpus texts, every note distinct) written as files to a folder and ingested
with ``phago ingest FOLDER --db STORE`` (``--shards N``: a distributed store of N shards, a
folder). A store given with ``--store`` that exists is reused as it is.

Each command then runs ``--repeat`` times as a fresh process (``python -m phago ...``); a
command that changes the store runs on a fresh copy of it (the copy is not timed). With
``--src DIR`` (repeatable) the commands run with ``PYTHONPATH=DIR``, each copy of phago in
turn for every command and repeat, so that two versions are timed side by side under the
same machine load. Printed: the median (and min) wall time per command and version.

Usage:
    python benchmarks/cli_latency.py --store /tmp/notes3000.db --notes 3000 --repeat 5
    python benchmarks/cli_latency.py --store /tmp/notes3000.db --src /tmp/old-phago/src --src src
    python benchmarks/cli_latency.py --store /tmp/notes3000-2 --shards 2 --notes 3000
    python benchmarks/cli_latency.py --store /tmp/notes3000-large.db --large --notes 3000
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

DEFAULT_CORPUS = Path(__file__).resolve().parents[2] / "shared" / "data" / "phago-corpus"

QUERY = "membrane protein transport"
"""The text of the timed queries."""


def sentences(corpus: Path) -> list[str]:
    """The sentences of the corpus texts (split at ``. ``), in file order, without repeats.

    Args:
        corpus: a folder of ``.txt`` files.

    Returns:
        Each sentence once, ending with its full stop.
    """
    seen: dict[str, None] = {}
    for path in sorted(corpus.glob("*.txt")):
        text = " ".join(path.read_text(encoding="utf-8").split())
        for s in re.split(r"(?<=\.)\s+", text):
            if len(s.split()) >= 4:
                seen.setdefault(s, None)
    return list(seen)


def notes(corpus: Path, count: int, offset: int = 0) -> list[str]:
    """``count`` distinct short notes: the sentences alone first, then pairs of sentences.

    Args:
        corpus: a folder of ``.txt`` files.
        count: how many notes.
        offset: skip this many notes of the sequence (the notes timed ``ingest`` adds are
            taken after those of the store, so that they are new).

    Returns:
        The notes' texts.
    """
    sents = sentences(corpus)
    n = len(sents)
    out: list[str] = []
    i = 0
    while len(out) < offset + count:
        if i < n:
            out.append(sents[i])
        else:  # pair sentence j with one a fixed stride further on
            j, k = divmod(i - n, n)
            out.append(f"{sents[k]} {sents[(k + 7 * j + 1) % n]}")
        i += 1
    return out[offset:]


def phago_command(*args: str) -> list[str]:
    """The command line running ``phago ARGS`` with this interpreter."""
    return [sys.executable, "-m", "phago", *args]


def build_store(
    store: Path, corpus: Path, count: int, shards: int | None = None, large: bool = False
) -> Path:
    """Write ``count`` notes to a folder beside ``store`` and ingest them into ``store`` (a
    distributed store of ``shards`` shards, a folder, where given; with ``large``, made with
    ``phago ingest --large``: the large-corpus settings, which wire within a window).

    Returns:
        The folder of notes.
    """
    folder = store.with_name(store.name + ".notes")
    folder.mkdir(exist_ok=True)
    for i, text in enumerate(notes(corpus, count)):
        (folder / f"note{i:05d}.txt").write_text(text + "\n", encoding="utf-8")
    start = time.perf_counter()
    sharded = ["--shards", str(shards)] if shards else []
    sharded += ["--large"] if large else []
    subprocess.run(phago_command("ingest", str(folder), "--db", str(store), *sharded), check=True)
    print(f"built {store} from {count} notes in {time.perf_counter() - start:.1f} s")
    return folder


def timed(command: list[str], cwd: Path, src: str | None = None) -> float:
    """Seconds ``command`` took (it must succeed), run with ``PYTHONPATH=src`` if given."""
    env = dict(os.environ)
    if src is not None:
        env["PYTHONPATH"] = src
    start = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, capture_output=True, env=env)
    seconds = time.perf_counter() - start
    if done.returncode:
        raise SystemExit(
            f"{' '.join(command)} failed ({done.returncode}):\n{done.stderr.decode()[-2000:]}"
        )
    return seconds


COMMANDS = (
    "--help",
    "ingest one note",
    "query --json",
    "query --documents --json",
    "forget",
    "stats --json",
)
"""The timed commands, in the order they run."""


def run(
    store: Path, corpus: Path, count: int, repeat: int, sources: list[str | None]
) -> dict[str | None, dict[str, list[float]]]:
    """Time each command ``repeat`` times on ``store``, with each of ``sources`` in turn.

    Args:
        store: the store of notes.
        corpus: the folder of texts the notes came from.
        count: how many notes the store holds.
        repeat: runs of each command.
        sources: the ``PYTHONPATH`` of each version of phago to time (None: the installed
            one).

    Returns:
        The seconds of each run, by version and command.
    """
    folder = store.with_name(store.name + ".notes")
    new_notes = notes(corpus, repeat, offset=count)
    work = Path(tempfile.mkdtemp(prefix="cli-latency-"))
    db = work / store.name

    def fresh_copy() -> None:
        """A copy of the store (a file, or a distributed store's folder) at ``db``."""
        if store.is_dir():
            shutil.rmtree(db, ignore_errors=True)
            shutil.copytree(store, db)
        else:
            shutil.copyfile(store, db)

    times: dict[str | None, dict[str, list[float]]] = {src: {} for src in sources}

    def command(name: str, r: int) -> list[str]:
        """The command line of ``name`` in repeat ``r`` (a fresh copy of the store made for
        the commands that change it)."""
        if name == "--help":
            return phago_command("--help")
        if name == "ingest one note":
            fresh_copy()
            note = work / f"new{r}.txt"
            note.write_text(new_notes[r] + "\n", encoding="utf-8")
            return phago_command("ingest", str(note), "--db", str(db))
        if name == "query --json":
            return phago_command("query", QUERY, "--db", str(store), "--json")
        if name == "query --documents --json":
            return phago_command("query", QUERY, "--documents", "--db", str(store), "--json")
        if name == "forget":
            fresh_copy()
            target = folder / f"note{(r * 613) % count:05d}.txt"
            return phago_command("forget", str(target), "--db", str(db))
        return phago_command("stats", "--db", str(store), "--json")

    try:
        for src in sources:  # (warm the file cache)
            timed(phago_command("--help"), work, src)
        for r in range(repeat):
            for name in COMMANDS:
                for src in sources:
                    times[src].setdefault(name, []).append(timed(command(name, r), work, src))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return times


def main(argv: list[str] | None = None) -> None:
    """Parse the arguments, build the store if needed, time the commands, print the table."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--store", type=Path, default=Path(tempfile.gettempdir()) / "notes.db")
    ap.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    ap.add_argument("--notes", type=int, default=3000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument(
        "--shards",
        type=int,
        default=None,
        help="Build the store as a distributed store of this many shards (a folder).",
    )
    ap.add_argument(
        "--large",
        action="store_true",
        help="Build the store with `phago ingest --large` (the large-corpus settings).",
    )
    ap.add_argument(
        "--src",
        action="append",
        default=None,
        help="PYTHONPATH of a version of phago to time (repeatable; default: the installed one).",
    )
    ap.add_argument("--json", action="store_true", help="Also print the times as JSON.")
    args = ap.parse_args(argv)
    sources: list[str | None] = [str(Path(s).resolve()) for s in args.src] if args.src else [None]
    if not args.store.exists():
        build_store(args.store, args.corpus, args.notes, args.shards, args.large)
    times = run(args.store, args.corpus, args.notes, args.repeat, sources)
    names = [src or "installed" for src in sources]
    print(f"{args.notes} notes, median (min) of {args.repeat} runs, in seconds")
    for i, name in enumerate(names):
        print(f"  [{i + 1}] {name}")
    width = 16
    header = "".join(f"{f'[{i + 1}]':>{width}}" for i in range(len(names)))
    print(f"{'command':<26}{header}")
    for command in COMMANDS:
        cells = ""
        for src in sources:
            secs = times[src][command]
            cells += f"{f'{statistics.median(secs):.2f} ({min(secs):.2f})':>{width}}"
        print(f"{command:<26}{cells}")
    if args.json:
        summary: dict[str, Any] = {
            name: {c: {"median_s": statistics.median(s), "runs_s": s} for c, s in t.items()}
            for name, t in zip(names, times.values(), strict=True)
        }
        print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
