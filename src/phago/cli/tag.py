"""``phago tag``: add tags to, or take them from, documents of a store (by id or by file);
``phago tags``: the tags a store's documents carry, with their counts."""

from __future__ import annotations

from pathlib import Path

import click
from rich.table import Table
from rich.text import Text

from phago.cli._store import db_option, fail, parsed_number, writing
from phago.cli.common import collector_paused, echo_json, out, plural
from phago.cli.documents import tag_option_names
from phago.errors import PhagoError


@click.command(name="tag")
@click.argument("targets", nargs=-1, required=True)
@db_option()
@click.option("--add", "added", multiple=True, metavar="TAG", help="Add TAG (repeatable).")
@click.option(
    "--remove", "removed", multiple=True, metavar="TAG", help="Take TAG away (repeatable)."
)
@click.option("--json", "as_json", is_flag=True, help="Print each document's tags as JSON.")
def tag(
    targets: tuple[str, ...],
    db: Path,
    added: tuple[str, ...],
    removed: tuple[str, ...],
    as_json: bool,
) -> None:
    """Add tags to, or take them from, documents of the store DB: each TARGET is a document
    id (decimal or 0x-hex) or the path of an ingested file or folder (every document it
    gave). Nothing else of the store changes; it is written, atomically, only when a tag
    does, and another command writing it meanwhile waits for this one.
    """
    from phago.cli.forget import _not_found
    from phago.store import (
        Catalog,
        distributed_document_ids,
        is_distributed_store,
        read_catalog,
        read_distributed_catalog,
        read_document_ids,
        tag_documents,
    )

    if not added and not removed:
        raise click.UsageError("give --add TAG or --remove TAG")
    plus = tag_option_names(added, "--add")
    minus = tag_option_names(removed, "--remove")
    both = sorted(set(plus) & set(minus))
    if both:
        raise click.UsageError(f"--add and --remove both name {', '.join(both)}")
    try:
        with writing(db), collector_paused():
            distributed = is_distributed_store(db)
            # (the ids from the documents tables: the colony is not read, as the tags are
            # the only part written)
            stored = set(distributed_document_ids(db) if distributed else read_document_ids(db))
            catalog: Catalog | None = None  # (read for a target that is no stored id)
            ids: list[int] = []
            missing = []
            for t in targets:
                v = parsed_number(t)
                found = [v] if v is not None and v in stored else []
                if not found:
                    if catalog is None:
                        catalog = read_distributed_catalog(db) if distributed else read_catalog(db)
                    found = [d for d in catalog.documents_from(t) if d in stored]
                if not found:
                    missing.append(t)
                ids.extend(d for d in found if d not in ids)
            if missing:
                raise _not_found(missing)
            report = tag_documents(db, ids, add=plus, remove=minus)
            info = report.info
    except PhagoError as exc:
        raise fail(exc) from exc
    if as_json:
        echo_json([{"id": str(d), "added": i.added, "tags": list(i.tags)} for d, i in info.items()])
        return
    for d, i in info.items():
        out.print(f"{d}: {', '.join(i.tags) or '(no tags)'}", highlight=False, markup=False)
    said = "Tagged" if report.changed else "No tag changed on"
    out.print(f"{said} {plural(len(info), 'document')} in {db}.", highlight=False, markup=False)


@click.command(name="tags")
@db_option()
@click.option("--json", "as_json", is_flag=True, help="Print JSON (each tag and its count).")
def list_tags(db: Path, as_json: bool) -> None:
    """List the tags the documents of the store DB carry, each with how many documents
    carry it (most first; given with `ingest --tag` or `tag`, or named by a Markdown file's
    front matter). `phago list --tag T` lists a tag's documents."""
    from collections import Counter

    from phago.store import read_document_info

    try:
        info = read_document_info(db)
    except PhagoError as exc:
        raise fail(exc) from exc
    counts = Counter(t for i in info.values() for t in i.tags)
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    if as_json:
        echo_json([{"tag": t, "documents": n} for t, n in ranked])
        return
    if not ranked:
        out.print(
            f"No document of {db} carries a tag.", highlight=False, markup=False, soft_wrap=True
        )
        return
    t = Table(title=Text(f"{plural(len(ranked), 'tag')} in {db}"))
    t.add_column("tag")
    t.add_column("documents", justify="right")
    for name, n in ranked:
        t.add_row(Text(name), str(n))
    out.print(t)
