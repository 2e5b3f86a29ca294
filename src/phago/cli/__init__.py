"""The ``phago`` command line.

Each command lives in its own module of this package and is registered on :data:`main`.
Every command has ``--help``; commands a script would read have ``--json``.
"""

from __future__ import annotations

import atexit
import gc
from collections.abc import Sequence
from typing import Any

import click

from phago import __version__
from phago.cli.common import echo_json_error, error_message, wants_json
from phago.errors import PhagoError


class _Commands(click.Group):
    """The command group.

    Ctrl-C in any command exits with 130 (128 + SIGINT), as a shell expects of an
    interrupted program, where click says "Aborted!" and exits with 1.

    Errors, with ``--json`` on the command line: one JSON object on stdout,
    ``{"error": {"type": ..., "message": ..., "exit_code": ...}}``, instead of click's
    ``Error: ...`` text, with the same exit code (1, or 2 for a usage error). Without it,
    a phago error that reaches here is printed as click prints its own (``Error: ...``,
    exit 1), never as a traceback.

    Run as the ``phago`` program (its arguments from the command line, not given by a
    caller in Python), the process's objects are frozen out of the cyclic garbage collector
    as it exits (:func:`gc.freeze`, after every ``atexit`` handler registered later, such
    as logging's and Ray's, has run): the collection that interpreter shutdown makes walked
    the ~10^5 objects Numba, SciPy and a loaded store leave, all alive to the end, and took
    a fifth of a ``query`` or ``ingest`` call. The output is flushed and every store written
    and closed by then; the operating system takes back the memory.
    """

    def main(  # type: ignore[override]  # (click types its main as two overloads)
        self, args: Sequence[str] | None = None, *more: Any, **options: Any
    ) -> Any:
        if args is None:  # the phago program itself
            atexit.register(gc.freeze)
        return super().main(args, *more, **options)

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: click.Context | None = None,
        **extra: Any,
    ) -> click.Context:
        json_errors = wants_json(args)
        try:
            ctx = super().make_context(info_name, args, parent, **extra)
        except click.ClickException as exc:
            if json_errors:
                echo_json_error(exc)
                raise click.exceptions.Exit(exc.exit_code) from None
            raise
        ctx.meta[_JSON_ERRORS] = json_errors
        return ctx

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            raise click.exceptions.Exit(130) from None
        except click.ClickException as exc:
            if not ctx.meta.get(_JSON_ERRORS):
                raise
            echo_json_error(exc)
            raise click.exceptions.Exit(exc.exit_code) from None
        except PhagoError as exc:
            error = click.ClickException(error_message(exc))
            if not ctx.meta.get(_JSON_ERRORS):
                raise error from exc
            error.__cause__ = exc
            echo_json_error(error)
            raise click.exceptions.Exit(error.exit_code) from None


_JSON_ERRORS = "phago.json_errors"
"""``ctx.meta`` key: the command line asked for JSON, errors included."""


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="phago")
def main() -> None:
    """phago: agents digest documents into a self-organising Hebbian knowledge graph."""


def _register() -> None:
    from phago.cli import demo, run

    main.add_command(demo.demo)
    main.add_command(run.run)

    from phago.cli import bench as bench_cli
    from phago.cli import cluster as cluster_cli

    main.add_command(bench_cli.bench)
    main.add_command(cluster_cli.cluster)

    from phago.cli import eval as eval_cli
    from phago.cli import query as query_cli

    main.add_command(eval_cli.eval_command)
    main.add_command(query_cli.query)

    from phago.cli import documents as documents_cli
    from phago.cli import export as export_cli
    from phago.cli import forget as forget_cli
    from phago.cli import ingest as ingest_cli
    from phago.cli import repair as repair_cli
    from phago.cli import stats as stats_cli
    from phago.cli import tag as tag_cli
    from phago.cli import viz as viz_cli

    main.add_command(ingest_cli.ingest)
    main.add_command(forget_cli.forget)
    main.add_command(export_cli.export)
    main.add_command(viz_cli.viz)
    main.add_command(stats_cli.stats)
    main.add_command(documents_cli.list_documents)
    main.add_command(documents_cli.show_documents)
    main.add_command(tag_cli.tag)
    main.add_command(tag_cli.list_tags)
    main.add_command(repair_cli.repair)

    from phago.cli import compare as compare_cli

    main.add_command(compare_cli.compare)


_register()

__all__ = ["main"]
