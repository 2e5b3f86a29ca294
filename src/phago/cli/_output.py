"""Where the ``--out`` of ``phago export`` and ``phago viz`` goes, decided once for both.

An output is a regular file (written whole or not at all, and never over a phago store),
``-`` (standard output, no file at all), or a stream written in place: another name of
standard output (``/dev/stdout``: written through it, so that ``>>`` appends), a FIFO, a
terminal or another device. When the output is this process's standard output, what the
command says goes to stderr and ``--json`` (a summary on standard output) is refused. The
library decides how each is written (:func:`phago.export.is_stream_output`); this module
tells the commands which one they were given.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

import click
from rich.console import Console

from phago.cli.common import console, out
from phago.errors import ConfigError


def usage_error(exc: ConfigError) -> click.UsageError:
    """A usage error (exit status 2, ``UsageError`` text) carrying ``exc`` (so that a
    ``--json`` error names its type, ``ConfigError``). Raise it ``from exc``.

    Example:
        >>> err = usage_error(ConfigError("--png needs a file"))
        >>> err.exit_code, err.message, type(err.__cause__).__name__
        (2, '--png needs a file', 'ConfigError')
    """
    err = click.UsageError(str(exc))
    err.__cause__ = exc
    return err


@dataclass(frozen=True)
class OutputSink:
    """Where an ``--out`` path goes and how it is written (made by :func:`output_sink`).

    Attributes:
        path: the path as given.
        is_dash: it is ``-``: standard output by that name, no file at all (nothing is
            checked against stores, and no file named ``-`` is made).
        is_stream: it is written in place, never replaced nor compressed: ``-``,
            ``/dev/stdout`` and its other names, a FIFO, a terminal or another device.
        is_standard_output: writing it writes this process's standard output (``-``, a name
            of it, or the very file, pipe or terminal it is), so what the command says goes
            to stderr and ``--json`` is refused.

    Example:
        >>> sink = output_sink(Path("-"))
        >>> sink.is_dash, sink.is_stream, sink.is_standard_output, sink.name
        (True, True, True, 'standard output')
    """

    path: Path
    is_dash: bool
    is_stream: bool
    is_standard_output: bool

    @property
    def name(self) -> str:
        """How a message names the output: ``standard output`` for ``-``, else the path.

        Example:
            >>> output_sink(Path("/dev/stdout")).name
            '/dev/stdout'
        """
        return "standard output" if self.is_dash else str(self.path)

    @property
    def messages(self) -> Console:
        """The console for what the command says: stderr's when the output is standard
        output (so that it never mixes into the output), else standard output's.

        Example:
            >>> output_sink(Path("-")).messages.stderr
            True
        """
        return console if self.is_standard_output else out

    def refuse_json(self, as_json: bool) -> None:
        """Refuse ``--json`` (a summary on standard output) when the output is standard
        output.

        Raises:
            click.UsageError: both (from a ConfigError naming them).

        Example:
            >>> output_sink(Path("-")).refuse_json(False)
            >>> try:
            ...     output_sink(Path("-")).refuse_json(True)
            ... except click.UsageError as exc:
            ...     print(exc.message.split(":")[0])
            --json prints on standard output, which --out - fills with the output
        """
        if as_json and self.is_standard_output:
            exc = ConfigError(
                f"--json prints on standard output, which --out {self.path} fills with the "
                "output: leave out --json (the summary then goes to stderr) or give --out a file"
            )
            raise usage_error(exc) from exc

    def refuse_stores(self, source: Path, *, beside: Path | None = None) -> None:
        """Refuse to write over ``source`` (the store read) or any other phago store: the
        output path, and the file written ``beside`` it if any (see
        :func:`phago.export.check_output_path`). ``-`` is no file, and is not checked.

        Raises:
            StoreError: one of them is a store (nothing was written).

        Example:
            >>> import tempfile
            >>> from phago import Colony
            >>> from phago.store import save
            >>> d = Path(tempfile.mkdtemp())
            >>> db = save(Colony(), d / "c.db")
            >>> output_sink(d / "g.html").refuse_stores(db, beside=d / "g.png")
            >>> try:
            ...     output_sink(d / "g.html").refuse_stores(db, beside=db)
            ... except Exception as exc:
            ...     print(type(exc).__name__)
            StoreError
        """
        from phago.export import check_output_path

        if self.is_dash:
            return
        for target in (self.path,) if beside is None else (self.path, beside):
            check_output_path(target, source=source)


def output_sink(path: Path) -> OutputSink:
    """What the ``--out`` path ``path`` is: where it goes, and how it is written.

    Example:
        >>> sink = output_sink(Path("/nonexistent/edges.csv"))
        >>> sink.is_dash, sink.is_stream, sink.is_standard_output, sink.messages.stderr
        (False, False, False, False)
        >>> output_sink(Path("/dev/stdout")).is_standard_output
        True
    """
    from phago.export import is_stream_output

    return OutputSink(
        path=path,
        is_dash=os.fspath(path) == "-",
        is_stream=is_stream_output(path),
        is_standard_output=_is_standard_output(path),
    )


def _is_standard_output(path: Path) -> bool:
    """True if writing ``path`` writes this process's standard output: ``-`` or another name
    of it (``/dev/stdout``, ``/dev/fd/1``; see :func:`phago.export.writes_standard_output`),
    or a path that is the file standard output is (the pipe or terminal it is, the file it
    was redirected to).

    Example:
        >>> _is_standard_output(Path("-")), _is_standard_output(Path("/nonexistent/x.csv"))
        (True, False)
    """
    from phago.export import writes_standard_output

    if writes_standard_output(path):
        return True
    try:
        return os.path.samestat(os.stat(path), os.fstat(sys.stdout.fileno()))
    except (OSError, ValueError, AttributeError):
        return False  # (not there, or standard output is no file: a test's capture)
