"""The ``phago`` command line.

Each command lives in its own module of this package and is registered on :data:`main`.
Every command has ``--help``; commands a script would read have ``--json``.
"""

from __future__ import annotations

import click

from phago import __version__


class _Commands(click.Group):
    """The command group; Ctrl-C in any command exits with 130 (128 + SIGINT), as a shell
    expects of an interrupted program, where click says "Aborted!" and exits with 1."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            raise click.exceptions.Exit(130) from None


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

    from phago.cli import export as export_cli
    from phago.cli import forget as forget_cli
    from phago.cli import ingest as ingest_cli
    from phago.cli import stats as stats_cli
    from phago.cli import viz as viz_cli

    main.add_command(ingest_cli.ingest)
    main.add_command(forget_cli.forget)
    main.add_command(export_cli.export)
    main.add_command(viz_cli.viz)
    main.add_command(stats_cli.stats)


_register()

__all__ = ["main"]
