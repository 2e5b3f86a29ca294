"""The ``phago`` command line.

Each command lives in its own module of this package and is registered on :data:`main`.
Every command has ``--help``; commands a script would read have ``--json``.
"""

from __future__ import annotations

import click

from phago import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="phago")
def main() -> None:
    """phago: agents digest documents into a self-organising Hebbian knowledge graph."""


def _register() -> None:
    from phago.cli import demo, run

    main.add_command(demo.demo)
    main.add_command(run.run)

    from phago.cli import cluster as cluster_cli

    main.add_command(cluster_cli.cluster)

    from phago.cli import eval as eval_cli
    from phago.cli import query as query_cli

    main.add_command(eval_cli.eval_command)
    main.add_command(query_cli.query)


_register()

__all__ = ["main"]
