"""``phago repair``: make a damaged store usable again: set aside and rewrite its documents'
information part, or (``--rebuild``) digest its documents into a new colony."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from phago.cli._store import db_option
from phago.cli.common import echo_json, out, plural, progress
from phago.errors import PhagoError

if TYPE_CHECKING:
    from phago.rebuild import RebuildReport


@click.command(name="repair")
@db_option()
@click.option(
    "--rebuild",
    is_flag=True,
    help="Where the colony itself is damaged (the store does not load): copy the file aside "
    "and digest its documents into a new colony in its place.",
)
@click.option(
    "--digesters",
    type=click.IntRange(min=1),
    default=10,
    show_default=True,
    help="With --rebuild: digesters spawned (at least one per 100 documents).",
)
@click.option(
    "--max-ticks",
    type=click.IntRange(min=1),
    default=5000,
    show_default=True,
    help="With --rebuild: stop digesting after this many ticks.",
)
@click.option("--json", "as_json", is_flag=True, help="Print what was done as JSON.")
def repair(db: Path, rebuild: bool, digesters: int, max_ticks: int, as_json: bool) -> None:
    """Repair the damaged store DB (a file, or a distributed store's folder).

    Where its documents' information (their tags, times added and the texts' hashes) is
    damaged, which makes ingest, tag, tags and forget refuse it (list and show go on
    without it), the part's bytes are first copied beside the store
    (DB.document_info-TIME.damaged), so nothing is lost; then the part is written back as
    it reads where it still reads as information, else removed (the documents keep no tags
    and no times added). Nothing else of the store changes.

    Where the colony is damaged (its graph, signals or agents: the store does not load),
    repair refuses unless given --rebuild: then the whole store is kept beside it
    (DB.TIME.damaged), and the documents that still read are digested into a new colony
    with the store's settings, seed and shards, which takes the store's place with the
    sources, tags and times added that still read. The new graph is the documents' own,
    not the lost one's (reinforcements by queries are in the copy only). A distributed
    store's documents' information is in its manifest, checked whole: a damaged manifest
    is rebuilt too. A sound store is left as it is.
    """
    from phago.rebuild import RebuildReport, rebuild_colony
    from phago.store import RepairReport, repair_information

    try:
        rebuilt = RebuildReport()
        if rebuild:
            with progress() as bar:
                task = bar.add_task("digesting", total=None)
                rebuilt = rebuild_colony(
                    db,
                    digesters=digesters,
                    max_ticks=max_ticks,
                    on_tick=lambda done, total: bar.update(task, completed=done, total=total),
                )
        # (a store just rebuilt was written whole, its information with it: nothing to check)
        report = repair_information(db) if rebuilt.damaged is None else RepairReport()
    except PhagoError as exc:
        raise click.ClickException(str(exc)) from exc  # (not "run phago repair": this is it)
    if as_json:
        data: dict[str, Any] = {
            "db": str(db),
            "damaged": report.damaged,
            "set_aside": None if report.set_aside is None else str(report.set_aside),
            "salvaged": report.salvaged,
            "rebuilt": None if rebuilt.damaged is None else _rebuilt_json(rebuilt),
        }
        echo_json(data)
        return
    if rebuilt.damaged is not None:
        _say_rebuilt(db, rebuilt)
    if report.damaged is None:
        if rebuilt.damaged is None:
            out.print(f"{db}: nothing to repair.", highlight=False, markup=False, soft_wrap=True)
        return
    what = (
        "written back as it still reads (check the tags: a byte in them may have changed)"
        if report.salvaged
        else "removed: the documents have no tags and no times added now"
    )
    out.print(
        f"{db}: the documents' information was damaged ({report.damaged}); its bytes are "
        f"kept in {report.set_aside}, and the part is {what}.",
        highlight=False,
        markup=False,
        soft_wrap=True,
    )


_SHOWN = 20
"""The most things a rebuild lost that the text output lists one by one."""


def _rebuilt_json(report: RebuildReport) -> dict[str, Any]:
    """``--json``'s account of a rebuild."""
    return {
        "damaged": report.damaged,
        "set_aside": str(report.set_aside),
        "documents": report.documents,
        "ticks": report.ticks,
        "verified": report.verified,
        "lost": list(report.lost),
    }


def _say_rebuilt(db: Path, report: RebuildReport) -> None:
    """Tell what a rebuild did."""
    lines = [
        f"{db}: the colony was damaged ({report.damaged}).",
        f"The damaged store is kept whole in {report.set_aside}.",
        f"A new colony digested its {plural(report.documents, 'document')} in "
        f"{plural(report.ticks, 'tick')} and took the store's place.",
    ]
    if report.lost:
        lines.append("Not carried over, or carried over unchecked (all of it is in the copy):")
        lines.extend(f"  - {item}" for item in report.lost[:_SHOWN])
        if len(report.lost) > _SHOWN:
            lines.append(f"  ... and {len(report.lost) - _SHOWN} more (--json lists them all)")
    for line in lines:
        out.print(line, highlight=False, markup=False, soft_wrap=True)
