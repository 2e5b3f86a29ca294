"""``phago forget``: remove documents (by id or by file) from a store."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from phago.cli._store import db_option, fail, parsed_number, writing
from phago.cli.common import collector_paused, echo_json, out, plural
from phago.errors import DocumentError, PhagoError, UnknownDocument

if TYPE_CHECKING:
    from phago.store import Catalog


def _stored_ids(db: Path) -> set[int]:
    """The ids of the documents stored at ``db``, its checksums verified."""
    from phago.store import is_distributed_store, read_shard_states, read_state

    if is_distributed_store(db):
        _, states, _ = read_shard_states(db)
        return {int(x) for st in states for x in st.substrate.doc_ids.tolist()}
    state, _ = read_state(db)
    return {int(x) for x in state.substrate.doc_ids.tolist()}


def _resolve(
    targets: tuple[str, ...], stored: set[int], catalog: Catalog
) -> tuple[list[int], list[str], list[str]]:
    """The ids of the stored documents ``targets`` name (each once, in order), the targets
    that name ingested files (their records go), and the targets that name nothing.

    A file's documents are forgotten only where no other file, nor a text stored without a
    file, holds them (a file whose text another file also holds loses its record, and the
    document stays, held by the other: :meth:`phago.store.Catalog.release`)."""
    from phago.store import Catalog

    rest = Catalog(list(catalog.sources), [], texts=dict(catalog.texts))
    ids: list[int] = []
    files: list[str] = []
    missing: list[str] = []
    for t in targets:
        v = parsed_number(t)
        found: list[int] = [v] if v is not None and v in stored else []
        if not found and any(d in stored for d in catalog.documents_from(t)):
            files.append(t)
            found = [d for d in rest.release([t]) if d in stored]
        elif not found:
            missing.append(t)
        ids.extend(d for d in found if d not in ids)
    return ids, files, missing


def _stored_as(targets: list[str], catalog: Catalog) -> dict[str, list[str]]:
    """For each of ``targets`` that is a file whose text the store holds from other files
    (``phago ingest`` found it a duplicate and stored nothing of it), those files' paths."""
    from phago.ingest import inspect_file

    out: dict[str, list[str]] = {}
    for t in targets:
        if not Path(t).is_file():
            continue
        try:
            digest = inspect_file(t).content_hash
        except (PhagoError, OSError):  # (unreadable now: nothing to say)
            continue
        paths = sorted({s.path for s in catalog.sources if s.content_hash == digest})
        if paths:
            out[t] = paths
    return out


def _not_found(missing: list[str], stored_as: dict[str, list[str]] | None = None) -> PhagoError:
    """The error for targets that name no stored document: a :class:`DocumentError` where
    one is a number no document id can be (ids are in [0, 2**64)), else
    :class:`UnknownDocument`; ``stored_as`` names, for a file ingest found a duplicate,
    the files its text is stored from.

    Example:
        >>> type(_not_found(["0x1ffffffffffffffff"])).__name__, str(_not_found(["a.txt"]))
        ('DocumentError', 'no stored document or ingested file matches: a.txt')
    """
    message = "no stored document or ingested file matches: " + ", ".join(missing)
    beyond = [t for t in missing if (parsed_number(t) or 0) >> 64]
    if beyond:
        return DocumentError(
            f"{message} ({', '.join(beyond)}: beyond the document ids, which are whole "
            "numbers in [0, 2**64))"
        )
    for t, paths in (stored_as or {}).items():
        message += f" ({t} was not stored: its text is that of {', '.join(paths)}; forget that)"
    return UnknownDocument(message)


@click.command()
@click.argument("targets", nargs=-1, required=True)
@db_option()
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def forget(targets: tuple[str, ...], db: Path, as_json: bool) -> None:
    """Remove documents from the store DB: each TARGET is a document id (decimal or 0x-hex)
    or the path of an ingested file or folder.

    Each forgotten document's contribution is withdrawn from the graph:

    \b
    - a concept that no remaining document presented is removed, with all its
      edges, whatever `query --reinforce` added to them;
    - every other edge the document wired loses its co-activation and the matching
      share of its weight; it is removed when none is left, or when no remaining
      document wired it since it was made (reinforced queries alone keep no edge);
    - an edge that decay pruned after the document and a later document made again
      belongs to that later document and is left as it is;
    - concepts it presented lose the access counts it gave them.

    The rest of the graph is unchanged. In a sharded store every shard follows one decision
    for the whole cluster, as in a single colony. The store is written atomically; another
    command writing it meanwhile waits for this one.
    """
    from phago.store import (
        distributed_document_ids,
        forget_in_store,
        is_distributed_store,
        read_catalog,
        read_distributed_catalog,
        read_document_ids,
    )

    blank = [t for t in targets if not t.strip()]
    if blank:  # ("" would name the current folder, and with it every file ingested from it)
        raise click.BadParameter("an empty TARGET names nothing", param_hint="TARGETS")
    try:
        # (the ids are looked up in the version that is rewritten)
        with writing(db), collector_paused():
            # the ids are read quickly, from the documents tables (forget_in_store verifies
            # the whole store as it loads it); if a target is not found, they are read again
            # with the checksums verified, so that a damaged store says so
            distributed = is_distributed_store(db)
            catalog = read_distributed_catalog(db) if distributed else read_catalog(db)
            quick = distributed_document_ids(db) if distributed else read_document_ids(db)
            ids, files, missing = _resolve(targets, set(quick), catalog)
            if missing:
                ids, files, missing = _resolve(targets, _stored_ids(db), catalog)
            if missing:
                raise _not_found(missing, _stored_as(missing, catalog))
            report = forget_in_store(db, ids, files=files)
            held = [  # files whose documents other files (or texts) still hold
                f for f in files if set(catalog.documents_from(f)) - set(report.documents_removed)
            ]
            texts = {d for ids in catalog.texts.values() for d in ids}
            by_texts = {  # of those, files whose text is also stored as a text (its ids)
                f: sorted(set(catalog.documents_from(f)) & texts) for f in held
            }
            by_texts = {f: ids for f, ids in by_texts.items() if ids}
    except PhagoError as exc:
        raise fail(exc) from exc
    if as_json:
        d = report.to_dict()
        d.pop("kept_nodes", None)
        echo_json(
            {
                **d,
                "files": files,
                "held_by_other_files": held,
                "held_by_texts": list(by_texts),
                "db": str(db.absolute()),
            }
        )
        return
    out.print(
        f"Forgot {plural(len(report.documents_removed), 'document')}: "
        f"{plural(report.nodes_removed, 'concept')} and {plural(report.edges_removed, 'edge')} "
        f"removed, {plural(report.edges_weakened, 'edge')} weakened. "
        f"Saved to {db}.",
        highlight=False,
        soft_wrap=True,
        markup=False,
    )
    by_files = [f for f in held if f not in by_texts]
    if by_files:
        out.print(
            f"Kept the text of {', '.join(by_files)}: another ingested file holds it too (forget "
            "that file as well to forget it).",
            highlight=False,
            soft_wrap=True,
            markup=False,
        )
    for f, ids in by_texts.items():
        out.print(
            f"Kept the text of {f}: it was also added as a text without a file (forget "
            f"{' '.join(map(str, ids))} to forget it).",
            highlight=False,
            soft_wrap=True,
            markup=False,
        )
