"""``phago list`` and ``phago show``: the documents a store holds, and their texts.

A program keeping notes in a store finds here what it added: every document's id, title,
source files, length, whether it is digested, when it was added and its tags (``list``,
``--tag`` keeping to the documents carrying them), and a document's whole text by its id
(``show``). Both read the store without rebuilding its colony, its checksums
verified; ids are text in the JSON, as elsewhere in the command line.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from phago.cli._store import db_option, document_id_of, fail
from phago.cli.common import PLAIN_TABLE_ROWS, console, echo_json, out, plain_table, plural
from phago.errors import PhagoError, UnknownDocument


@dataclass(frozen=True)
class StoredDocument:
    """One document of a store, as ``list`` and ``show`` give it."""

    id: int
    title: str
    content: str
    digested: bool
    sources: tuple[str, ...]
    added: str = ""
    tags: tuple[str, ...] = ()

    def to_dict(self, text: bool) -> dict[str, Any]:
        """JSON-able: the id as text, the content only if ``text`` (``added``: "" where the
        store does not say).

        Example:
            >>> StoredDocument(7, "t", "cell", True, ("/n/a.txt",), tags=("lab",)).to_dict(False)
            ... # doctest: +NORMALIZE_WHITESPACE
            {'id': '7', 'title': 't', 'chars': 4, 'digested': True, 'sources': ['/n/a.txt'],
             'added': '', 'tags': ['lab']}
        """
        d: dict[str, Any] = {
            "id": str(self.id),
            "title": self.title,
            "chars": len(self.content),
            "digested": self.digested,
            "sources": list(self.sources),
            "added": self.added,
            "tags": list(self.tags),
        }
        if text:
            d["content"] = self.content
        return d


def stored_documents(
    db: Path,
    tags: tuple[str, ...] = (),
    since: str | None = None,
    ids: Collection[int] | None = None,
    strict: bool = True,
) -> list[StoredDocument]:
    """The documents of the store ``db`` (a file or a distributed folder), in the order they
    were added (shard by shard in a distributed store), with the files each came from, when
    each was added and its tags; with ``tags``, only those carrying every one of them, with
    ``since`` (a time as :func:`phago.tags.utc_stamp` gives it), only those added then or
    later, and with ``ids``, only those. With ``strict=False`` a store whose documents'
    information alone is damaged is read without it (no tags, no times added), and a warning
    on stderr says so.

    Raises:
        StoreError: the store cannot be read or is damaged.

    Example:
        >>> import tempfile
        >>> from phago import Colony, Position
        >>> from phago.store import save
        >>> c = Colony()
        >>> d = c.ingest_document("t", "cell wall", Position(0, 0))
        >>> p = save(c, Path(tempfile.mkdtemp()) / "s.db")
        >>> [(x.id == d, x.title, x.digested) for x in stored_documents(p)]
        [(True, 't', False)]
    """
    from phago.store import added_since, read_documents, tagged_documents

    docs = read_documents(db, strict=strict)  # (the documents and catalog alone, checked)
    if docs.damaged is not None:
        console.print(
            f"[yellow]warning[/yellow] {escape(docs.damaged)}: the documents are shown "
            "without their tags and times added",
            highlight=False,
            soft_wrap=True,
        )
    catalog = docs.catalog
    merged = catalog.document_info()  # (the tags given and the files' front matter's)
    keep = tagged_documents(merged, tags) if tags else None
    if since is not None:
        recent = added_since(merged, since)
        keep = recent if keep is None else keep & recent
    if ids is not None:
        keep = set(ids) if keep is None else keep & set(ids)
    sources: dict[int, list[str]] = {}
    for s in catalog.sources:
        if keep is not None and s.doc_id not in keep:
            continue
        paths = sources.setdefault(int(s.doc_id), [])
        if s.path not in paths:
            paths.append(s.path)
    out_docs: list[StoredDocument] = []
    for did, title, content, done in zip(
        docs.ids, docs.titles, docs.contents, docs.digested, strict=True
    ):
        if keep is not None and did not in keep:
            continue
        info = merged.get(did)
        out_docs.append(
            StoredDocument(
                did,
                title,
                content,
                done,
                tuple(sources.get(did, ())),
                "" if info is None else info.added,
                () if info is None else info.tags,
            )
        )
    return out_docs


@click.command(name="list")
@db_option()
@click.option(
    "--limit",
    type=click.IntRange(min=0),
    default=None,
    help="Show at most this many documents (the newest last; default: all).",
)
@click.option(
    "--tag",
    "tag_options",
    multiple=True,
    metavar="TAG",
    help="Only the documents tagged TAG (repeatable: tagged with every one).",
)
@click.option(
    "--since",
    metavar="TIME",
    default=None,
    help="Only the documents added at TIME or later: a date (2026-12-06) or a date and "
    "time (2026-12-06T18:30, UTC unless it says; Z or +01:00).",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON (a list of documents).")
def list_documents(
    db: Path, limit: int | None, tag_options: tuple[str, ...], since: str | None, as_json: bool
) -> None:
    """List the documents the store DB holds: id, title, length, whether digested, when
    added (UTC), tags, and the files each came from (none for a text added with `ingest -`
    or `--text`).

    In the order they were added (shard by shard in a distributed store); with --limit N,
    the last N. `phago show ID` prints one's text. More than 200 documents are listed as
    plain aligned columns (cut to the terminal's width; whole in a file or a pipe).
    """
    tags = tag_option_names(tag_options)
    stamp = since_option_stamp(since)
    try:
        docs = stored_documents(db, tags, stamp, strict=False)
    except PhagoError as exc:
        raise fail(exc) from exc
    shown = docs if limit is None else docs[len(docs) - limit :] if limit else []
    if as_json:
        echo_json([d.to_dict(text=False) for d in shown])
        return
    tagged = f" tagged {', '.join(tags)}" if tags else ""
    tagged += f" added since {stamp}" if stamp else ""
    if not shown:
        out.print(
            f"{db} holds {plural(len(docs), 'document')}{tagged}.", highlight=False, markup=False
        )
        return
    title = f"{plural(len(docs), 'document')}{tagged} in {db}"
    headers = ("id", "title", "chars", "digested", "added", "tags", "from")
    rows = [
        (
            str(d.id),
            d.title,
            str(len(d.content)),
            "yes" if d.digested else "no",
            d.added.replace("T", " ").removesuffix("Z") or "-",
            ", ".join(d.tags) or "-",
            ", ".join(d.sources) or "-",
        )
        for d in shown
    ]
    if len(rows) > PLAIN_TABLE_ROWS:  # (a rich table of 50,000 rows took 43 s to print)
        width = out.width if out.is_terminal else None
        click.echo(plain_table(title, headers, rows, right=[2], whole=[0, 4], width=width))
        return
    # (every cell plain text: a title, tag or path holding brackets is no markup)
    t = Table(title=Text(title))
    for col in headers:
        t.add_column(col)
    for r in rows:
        t.add_row(*map(Text, r))
    out.print(t)


def since_option_stamp(since: str | None) -> str | None:
    """The ``--since`` option as a store records times (:func:`phago.tags.utc_stamp`).

    Raises:
        click.BadParameter: not a date (names ``--since``).

    Example:
        >>> since_option_stamp("2026-12-06"), since_option_stamp(None)
        ('2026-12-06T00:00:00Z', None)
    """
    from phago.errors import ConfigError
    from phago.tags import utc_stamp

    if since is None:
        return None
    try:
        return utc_stamp(since)
    except ConfigError as exc:
        raise click.BadParameter(str(exc), param_hint="--since") from exc


def tag_option_names(tags: tuple[str, ...], option: str = "--tag") -> tuple[str, ...]:
    """The ``option``'s tags as stored (:func:`phago.tags.tag_names`).

    Raises:
        click.BadParameter: a tag that is not one (names ``option``).

    Example:
        >>> tag_option_names(("#Lab", "cells"))
        ('cells', 'lab')
    """
    from phago.errors import ConfigError
    from phago.tags import tag_names

    try:
        return tag_names(tags)
    except ConfigError as exc:
        raise click.BadParameter(str(exc), param_hint=option) from exc


@click.command(name="show")
@click.argument("ids", nargs=-1, required=True)
@db_option()
@click.option("--json", "as_json", is_flag=True, help="Print JSON (a list of documents).")
def show_documents(ids: tuple[str, ...], db: Path, as_json: bool) -> None:
    """Print the title and whole text of the documents with these IDS (decimal or 0x hex,
    as `list`, `ingest --json` and `query --documents` give them)."""
    try:
        wanted = [document_id_of(i) for i in ids]
        by_id = {d.id: d for d in stored_documents(db, ids=wanted, strict=False)}
    except PhagoError as exc:
        raise fail(exc) from exc
    missing = [i for i, w in zip(ids, wanted, strict=True) if w not in by_id]
    if missing:
        message = f"no stored document has the id {', '.join(missing)}"
        raise click.ClickException(message) from UnknownDocument(message)
    found = [by_id[w] for w in wanted]
    if as_json:
        echo_json([d.to_dict(text=True) for d in found])
        return
    for d in found:
        out.print(Text(d.title, style="bold") + f" ({d.id})", highlight=False)
        said = [f"added {d.added}"] if d.added else []
        said += [f"tags: {', '.join(d.tags)}"] if d.tags else []
        if said:
            out.print("; ".join(said), highlight=False, markup=False)
        out.print(d.content, highlight=False, markup=False)
        out.print()
