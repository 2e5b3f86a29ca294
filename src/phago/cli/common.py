"""Helpers shared by CLI commands: consoles, progress bars, JSON output, colony building.

Every command runs in a process of its own (an LLM agent calls ``phago`` once per note), so
the command modules import only click, rich and light parts of phago when they load; what a
command needs beyond that (NumPy, Numba, the colony, the store) it imports when it runs, and
``phago --help`` starts without any of it.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from phago.config import ColonyConfig

if TYPE_CHECKING:
    from rich.progress import Progress

    from phago.colony import Colony
    from phago.corpus import CorpusDocument

console = Console(stderr=True)
out = Console()


class LazyChoice(click.Choice):  # type: ignore[type-arg]
    """A :class:`click.Choice` whose choices are looked up when first needed (to check a
    value, or to show a command's help), so that a command module can offer, say, the
    retrieval methods without importing the modules that define them.

    Example:
        >>> kind = LazyChoice(lambda: ["a", "b"])
        >>> kind.convert("b", None, None), kind.choices
        ('b', ('a', 'b'))
    """

    def __init__(self, choices: Callable[[], Sequence[str]], case_sensitive: bool = True) -> None:
        self._load = choices
        self._loaded: tuple[str, ...] | None = None
        super().__init__((), case_sensitive)

    @property  # type: ignore[override]
    def choices(self) -> tuple[str, ...]:
        """The choices (looked up on first use)."""
        if self._loaded is None:
            self._loaded = tuple(self._load())
        return self._loaded

    @choices.setter
    def choices(self, value: Sequence[str]) -> None:
        if value:  # (click.Choice.__init__ sets the empty choices it was given)
            self._loaded = tuple(value)


class LazyDefault:
    """An option's default looked up when first needed: click calls it for the value when
    the option is not given, and ``--help`` shows it as its text (where a plain function
    would show as "(dynamic)"), so a command module can take a default from a module it
    does not import until it runs.

    Example:
        >>> default = LazyDefault(lambda: 50_000)
        >>> default(), str(default)
        (50000, '50000')
    """

    def __init__(self, make: Callable[[], Any]) -> None:
        self._make = make

    def __call__(self) -> Any:
        """The default value."""
        return self._make()

    def __str__(self) -> str:
        return str(self._make())


def collector_paused() -> contextlib.AbstractContextManager[None]:
    """Python's cyclic garbage collector off for the block, then every object moved into its
    oldest generation (:func:`phago._gc.cyclic_gc_paused` with ``to_oldest``).

    For the bounded work of one store command (load a store, answer, save it back), which
    makes no garbage cycles: the collector's walks over the ~10^5 objects that Numba, SciPy
    and the loaded store leave (all of them alive to the end) found nothing and cost a command
    some 60 ms, and turned back on, it would walk all of them again at its next collection;
    in the oldest generation they are walked only by a full collection.

    Example:
        >>> import gc
        >>> with collector_paused():
        ...     gc.isenabled()
        False
        >>> gc.isenabled()
        True
    """
    from phago._gc import cyclic_gc_paused

    return cyclic_gc_paused(to_oldest=True)


def plural(n: int, noun: str) -> str:
    """``n`` and ``noun``, plural unless ``n`` is one (nouns that take an ``s``).

    Example:
        >>> plural(1, "document"), plural(0, "edge"), plural(3, "concept")
        ('1 document', '0 edges', '3 concepts')
    """
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def supported_suffixes(last: str = "and") -> str:
    """The file suffixes the reader takes (:data:`phago.ingest.SUPPORTED_SUFFIXES`), in
    words.

    Example:
        >>> supported_suffixes("or").startswith(".txt, ") and supported_suffixes().endswith(
        ...     " and .pdf")
        True
    """
    from phago.ingest import SUPPORTED_SUFFIXES

    names = list(SUPPORTED_SUFFIXES)
    return f"{', '.join(names[:-1])} {last} {names[-1]}"


def say_ignored(options: Sequence[str], why: str) -> None:
    """Say on stderr which of ``options`` (parameter names of the running command) were
    given on the command line though the command does not use them here, and ``why``.

    Example:
        >>> @click.command()
        ... @click.option("--seed", default=0)
        ... def cmd(seed: int) -> None:
        ...     say_ignored(["seed"], "the store keeps its own")
        >>> cmd(["--seed", "3"], standalone_mode=False)  # (prints on stderr)
    """
    ctx = click.get_current_context()
    given = [
        f"--{name}"
        for name in options
        if ctx.get_parameter_source(name) is click.core.ParameterSource.COMMANDLINE
    ]
    if given:
        console.print(
            f"[yellow]{' and '.join(given)} ignored: {escape(why)}", highlight=False, soft_wrap=True
        )


def echo_json(data: Any) -> None:
    """Print ``data`` as JSON on stdout (text that is not valid Unicode, such as a file
    name's undecodable bytes, with U+FFFD in their place: strict JSON readers refuse lone
    surrogates)."""
    click.echo(json.dumps(_valid_unicode(data), indent=2, sort_keys=False, default=str))


def wants_json(args: Sequence[str]) -> bool:
    """Whether a command line asks for JSON output: ``--json`` among its options (the
    arguments before a ``--``).

    Example:
        >>> wants_json(["query", "cells", "--json"]), wants_json(["query", "--", "--json"])
        (True, False)
    """
    for arg in args:
        if arg == "--":
            return False
        if arg == "--json":
            return True
    return False


def error_type(exc: BaseException) -> str:
    """The name a JSON error gives ``exc``: the class of the error it was raised from (a
    phago error such as ``DocumentError``, or ``OSError``), else click's (``UsageError``,
    ``BadParameter``, ...; ``Error`` for a plain ``ClickException``).

    Example:
        >>> from phago.errors import StoreError
        >>> try:
        ...     raise click.ClickException("no such store") from StoreError("x")
        ... except click.ClickException as exc:
        ...     error_type(exc), error_type(click.UsageError("bad"))
        ('StoreError', 'UsageError')
    """
    cause = exc.__cause__
    if isinstance(cause, Exception) and not isinstance(cause, click.ClickException):
        return type(cause).__name__
    name = type(exc).__name__
    return "Error" if name == "ClickException" else name


REPAIR_HINT = "to mend it: phago repair --db STORE (it says when --rebuild is needed)"
"""What an error about a damaged store adds (:func:`error_message`)."""


def error_message(exc: BaseException) -> str:
    """What the command line says of ``exc``: its message, and for a damaged store
    (:attr:`phago.errors.StoreError.damaged`) how to repair it.

    Example:
        >>> from phago.errors import StoreError
        >>> error_message(StoreError("cannot load x.db: no such file"))
        'cannot load x.db: no such file'
        >>> damaged = StoreError("cannot load x.db: the store is damaged (...)")
        >>> damaged.damaged = True
        >>> error_message(damaged).endswith("(it says when --rebuild is needed)")
        True
    """
    from phago.errors import StoreError

    if isinstance(exc, StoreError) and exc.damaged:
        return f"{exc}; {REPAIR_HINT}"
    return str(exc)


def echo_json_error(exc: click.ClickException) -> None:
    """Print ``exc`` as the JSON error object of a ``--json`` command, on stdout:
    ``{"error": {"type": ..., "message": ..., "exit_code": ...}}``.

    Example:
        >>> echo_json_error(click.UsageError("give either --db or --corpus, not both"))
        {
          "error": {
            "type": "UsageError",
            "message": "give either --db or --corpus, not both",
            "exit_code": 2
          }
        }
    """
    kind = error_type(exc)
    message = exc.format_message()
    if message.startswith(f"{kind}: "):  # (text output that names the type says it once)
        message = message[len(kind) + 2 :]
    echo_json({"error": {"type": kind, "message": message, "exit_code": exc.exit_code}})


def _valid_unicode(data: Any) -> Any:
    if isinstance(data, str):
        try:
            data.encode("utf-8")
        except UnicodeEncodeError:
            try:
                return data.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
            except UnicodeEncodeError:
                return data.encode("utf-8", "replace").decode("utf-8")
        return data
    if isinstance(data, dict):
        return {_valid_unicode(k): _valid_unicode(v) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [_valid_unicode(v) for v in data]
    return data


def progress() -> Progress:
    """A progress bar on stderr (hidden when stderr is not a terminal and not forced) that
    says when Numba is compiling kernels (a first run's pause)."""
    from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn

    from phago._compile_notice import CompileNotingProgress

    return CompileNotingProgress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=not sys.stderr.isatty(),
        disable=not sys.stderr.isatty(),
    )


def build_colony(
    docs: Sequence[CorpusDocument],
    *,
    digesters: int,
    seed: int,
    config: ColonyConfig | None = None,
    max_idle: int = 30,
) -> Colony:
    """A colony with ``docs`` on a grid and ``digesters`` spread over them (W1 layout)."""
    from phago.agents.digester import Digester
    from phago.colony import Colony
    from phago.corpus import grid_positions
    from phago.types import Position

    colony = Colony(config, seed=seed)
    positions = grid_positions(len(docs))
    colony.ingest_documents([(d.title, d.content, p) for d, p in zip(docs, positions, strict=True)])
    step = max(1, len(docs) // max(digesters, 1))
    for j in range(digesters):
        p = positions[(j * step) % len(positions)] if positions else Position(0, 0)
        colony.spawn(Digester(Position(p.x + 1, p.y + 1), seed=j, max_idle=max_idle))
    return colony


def fitted_table(
    title: str,
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    key_columns: int = 1,
    width: int | None = None,
) -> Table:
    """A table of ``rows`` that fits the output: one column per header where that fits in
    ``width`` (default: stdout's width, 80 when it is not a terminal), else turned on its
    side, with one row per header and one column per row, named by the row's first
    ``key_columns`` cells. Cells are right-aligned, except the names.

    Example:
        >>> t = fitted_table("runs", ["shards", "docs/s"], [["1", "9.5"], ["2", "17.0"]])
        >>> [c.header for c in t.columns]
        ['shards', 'docs/s']
        >>> t = fitted_table("runs", ["shards", "docs/s"], [["1", "9.5"]], width=10)
        >>> [c.header for c in t.columns], list(t.columns[1].cells)
        (['shards', '1'], ['9.5'])
    """
    wide = Table(title=title)
    for h in headers:
        wide.add_column(h, justify="right")
    for r in rows:
        wide.add_row(*r)
    natural = out.measure(wide, options=out.options.update(max_width=1 << 16)).maximum
    if natural <= (out.width if width is None else width):
        return wide
    tall = Table(title=title)
    tall.add_column(" ".join(headers[:key_columns]))
    for r in rows:
        tall.add_column(" ".join(r[:key_columns]), justify="right")
    for i in range(key_columns, len(headers)):
        tall.add_row(headers[i], *(r[i] for r in rows))
    return tall


PLAIN_TABLE_ROWS = 200
"""Listings of more rows than this are printed as :func:`plain_table` (rich takes about
0.7 ms a row to lay a table out: 35 s for 50,000 documents)."""


def plain_table(
    title: str,
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    right: Sequence[int] = (),
    whole: Sequence[int] = (),
    width: int | None = None,
) -> str:
    """``rows`` as plain aligned columns (two spaces apart) under ``title`` and a header
    line; the columns numbered in ``right`` are right-aligned. With ``width`` the widest
    columns not in ``whole`` are cut (ending in "…"), a character at a time, until a line
    fits in it or they are as narrow as their headers; without, every cell is whole (for a
    file or a pipe).

    Example:
        >>> print(plain_table("2 notes", ["id", "title"], [["1", "cells"], ["22", "membranes"]]))
        2 notes
        id  title
        1   cells
        22  membranes
        >>> rows = [["123456", "a long title", "/notes/a.md"]]
        >>> print(plain_table("", ["id", "title", "from"], rows, whole=[0], width=24))
        <BLANKLINE>
        id      title    from
        123456  a long…  /notes…
    """
    from rich.cells import cell_len, set_cell_size

    def size(cell: str) -> int:
        return len(cell) if cell.isascii() else cell_len(cell)

    widths = [size(h) for h in headers]
    for r in rows:
        for i, cell in enumerate(r):
            n = size(cell)
            if n > widths[i]:
                widths[i] = n
    if width is not None:  # the widest columns lose a character at a time until it fits
        excess = sum(widths) + 2 * (len(widths) - 1) - width
        floor = [max(size(h), 4) for h in headers]
        cuttable = [i for i in range(len(widths)) if i not in whole]
        while excess > 0 and cuttable:
            widest = max(cuttable, key=lambda k: widths[k] - floor[k])
            if widths[widest] <= floor[widest]:
                break
            widths[widest] -= 1
            excess -= 1

    def cell_at(i: int, cell: str) -> str:
        n, w = size(cell), widths[i]
        if n > w:
            return set_cell_size(cell, w - 1) + "…"
        pad = " " * (w - n)
        return pad + cell if i in right else cell + pad

    last = len(headers) - 1
    lines = [title]
    for r in (headers, *rows):
        line = "  ".join(cell_at(i, c) for i, c in enumerate(r))
        lines.append(line.rstrip() if last not in right else line)
    return "\n".join(lines)


def stats_table(stats: dict[str, Any], title: str | None = "Colony") -> Table:
    """A two-column table of stats."""
    t = Table(title=title, show_header=False)
    for k, v in stats.items():
        t.add_row(k, str(v))
    return t


def load_checked_directory(
    path: Path, config: ColonyConfig
) -> tuple[list[CorpusDocument], list[str]]:
    """The documents of the files under ``path`` that ``phago ingest`` would take (.txt,
    .md, .rst, .html and .pdf, folders recursively, sorted by path; a file longer than
    ``config.max_document_chars``, or with more distinct keywords than ``config`` wires as
    a clique, as parts), and for each other file why it was skipped (not text in UTF-8,
    empty, binary).

    Example:
        >>> import tempfile
        >>> d = Path(tempfile.mkdtemp())
        >>> _ = (d / "a.txt").write_text("cells divide"); _ = (d / "b.txt").write_text(" ")
        >>> docs, skipped = load_checked_directory(d, ColonyConfig())
        >>> [x.title for x in docs], [s.rsplit(": ", 1)[1] for s in skipped]
        (['a'], ['only whitespace'])
    """
    from phago.corpus import CorpusDocument
    from phago.errors import DocumentError
    from phago.ingest import discover, inspect_file, read_parts

    # (reported paths are absolute, as ingest reports them: links on the way are kept)
    files, missing = discover([Path(os.path.abspath(path))])
    skipped = [s.reason for s in missing]
    docs: list[CorpusDocument] = []
    limit = config.max_document_chars
    for f in files:
        try:
            wide = config.clique_keyword_limit  # (a part wider is split, as ingest does)
            info = inspect_file(f, max_chars=limit, max_keywords=wide, split_keywords=wide)
            parts = list(read_parts(f, max_chars=limit, split_keywords=wide))
        except (DocumentError, OSError) as exc:
            skipped.append(str(exc) if str(f) in str(exc) else f"{f}: {exc}")
            continue
        for k, part in enumerate(parts, 1):
            title = info.title if len(parts) == 1 else f"{info.title} (part {k}/{len(parts)})"
            docs.append(CorpusDocument(title, part, str(f)))
    return docs, skipped


def corpus_argument(command: Callable[..., Any]) -> Callable[..., Any]:
    """Let ``command`` (which has a ``--corpus`` option) take its corpus folder as an
    optional first argument too, as ``phago ingest`` takes its paths: ``phago run notes``
    is ``phago run --corpus notes`` (:func:`given_corpus` merges the two)."""
    return click.argument(
        "corpus_folder",
        required=False,
        metavar="[CORPUS]",
        type=click.Path(exists=True, file_okay=False, path_type=Path),
    )(command)


def given_corpus(option: Path | None, argument: Path | None) -> Path | None:
    """The corpus folder a command was given, as ``--corpus`` or as its argument
    (:func:`corpus_argument`); None: neither (the bundled sample corpus).

    Raises:
        click.UsageError: both were given.

    Example:
        >>> given_corpus(None, Path("notes")).name
        'notes'
    """
    if option is not None and argument is not None:
        raise click.UsageError(
            f"the corpus is given twice ({argument} and --corpus {option}): name it once"
        )
    return option if option is not None else argument


def load_corpus_directory(
    path: Path | None, config: ColonyConfig
) -> tuple[list[CorpusDocument], list[str]]:
    """The bundled sample corpus (``path`` None), or :func:`load_checked_directory` of
    ``path`` with each skipped file reported on stderr. Returns the documents and why each
    skipped file was skipped.

    Raises:
        click.ClickException: nothing usable is left (exit status 1), raised from a
            :class:`~phago.errors.DocumentError`, which a ``--json`` error names as its type
            (as ``phago ingest`` names a folder with nothing to add).

    Example:
        >>> import tempfile
        >>> try:
        ...     load_corpus_directory(Path(tempfile.mkdtemp()), ColonyConfig())
        ... except click.ClickException as exc:
        ...     error_type(exc), exc.exit_code
        ('DocumentError', 1)
    """
    if path is None:
        from phago.corpus import load_sample_corpus

        return load_sample_corpus(), []
    docs, skipped = load_checked_directory(path, config)
    for reason in skipped:
        console.print(f"[yellow]skipped[/yellow] {escape(reason)}", highlight=False, soft_wrap=True)
    if not docs:
        from phago.errors import DocumentError

        message = (
            f"no usable documents ({supported_suffixes('or')}) in {path}: add such files that "
            "hold text, or name another folder"
        )
        raise click.ClickException(message) from DocumentError(message)
    return docs, skipped
