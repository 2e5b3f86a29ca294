"""``phago repair``: make a store whose documents' information part is damaged usable again."""

from __future__ import annotations

from pathlib import Path

import click

from phago.cli._store import db_option, fail
from phago.cli.common import echo_json, out
from phago.errors import PhagoError


@click.command(name="repair")
@db_option()
@click.option("--json", "as_json", is_flag=True, help="Print what was done as JSON.")
def repair(db: Path, as_json: bool) -> None:
    """Repair the store file DB whose documents' information (their tags, times added and
    the texts' hashes) is damaged, which makes ingest, tag, tags and forget refuse it (list
    and show go on without it).

    The damaged part's bytes are first copied beside the store
    (DB.document_info-TIME.damaged), so nothing is lost; then the part is written back as
    it reads where it still reads as information, else removed (the documents keep no tags
    and no times added). Nothing else of the store changes. A sound store is left as it is;
    a store whose colony is damaged too is refused, unchanged.
    """
    from phago.store import repair_information

    try:
        report = repair_information(db)
    except PhagoError as exc:
        raise fail(exc) from exc
    if as_json:
        echo_json(
            {
                "db": str(db),
                "damaged": report.damaged,
                "set_aside": None if report.set_aside is None else str(report.set_aside),
                "salvaged": report.salvaged,
            }
        )
        return
    if report.damaged is None:
        out.print(f"{db}: nothing to repair.", highlight=False, markup=False)
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
