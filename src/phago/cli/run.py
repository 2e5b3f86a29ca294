"""``phago run``: digest a directory of text files."""

from __future__ import annotations

from pathlib import Path

import click

from phago.cli.common import build_colony, echo_json, out, progress, stats_table
from phago.config import ColonyConfig
from phago.corpus import load_sample_corpus, load_text_directory


@click.command()
@click.option(
    "--corpus",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=None,
    help="Directory of .txt files (default: the bundled sample corpus).",
)
@click.option("--digesters", default=10, show_default=True, help="Digesters to spawn.")
@click.option(
    "--ticks", default=None, type=int, help="Run exactly this many ticks (default: until digested)."
)
@click.option(
    "--max-ticks", default=2000, show_default=True, help="Upper bound when running until digested."
)
@click.option("--seed", default=0, show_default=True, help="Random seed.")
@click.option("--large", is_flag=True, help="Use ColonyConfig.for_large_corpora().")
@click.option("--json", "as_json", is_flag=True, help="Print stats as JSON.")
def run(
    corpus: Path | None,
    digesters: int,
    ticks: int | None,
    max_ticks: int,
    seed: int,
    large: bool,
    as_json: bool,
) -> None:
    """Digest a corpus into a knowledge graph and print the colony's stats."""
    docs = load_text_directory(corpus) if corpus else load_sample_corpus()
    if not docs:
        raise click.ClickException(f"no .txt documents in {corpus}")
    config = ColonyConfig.for_large_corpora() if large else ColonyConfig()
    colony = build_colony(docs, digesters=digesters, seed=seed, config=config)
    with progress() as bar:
        total = ticks if ticks is not None else max_ticks
        task = bar.add_task("ticks", total=total)
        if ticks is not None:
            colony.run(ticks, on_tick=lambda t: bar.update(task, completed=t))
            ran = ticks
        else:
            ran = colony.run_until_digested(
                max_ticks, on_tick=lambda t: bar.update(task, completed=t)
            )
    stats = colony.stats().to_dict()
    if as_json:
        echo_json({"ticks_run": ran, **stats})
    else:
        out.print(stats_table(stats, title=f"Colony after {ran} ticks"))
