"""``phago forget``: remove documents (by id or by file) from a store."""

from __future__ import annotations

import re
from pathlib import Path

import click

from phago.cli._store import db_option, fail, writing
from phago.cli.common import echo_json, out
from phago.errors import PhagoError
from phago.store import (
    forget_in_store,
    is_distributed_store,
    read_catalog,
    read_distributed_catalog,
    read_shard_states,
    read_state,
)

_ID = re.compile(r"^(0x[0-9a-fA-F]{1,16}|[0-9]{1,20})$")


def _stored_ids(db: Path) -> set[int]:
    if is_distributed_store(db):
        _, states, _ = read_shard_states(db)
        return {int(x) for st in states for x in st.substrate.doc_ids.tolist()}
    state, _ = read_state(db)
    return {int(x) for x in state.substrate.doc_ids.tolist()}


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
    for the whole cluster, as in a single colony. The store is rewritten atomically; another
    command writing it meanwhile waits for this one.
    """
    blank = [t for t in targets if not t.strip()]
    if blank:  # ("" would name the current folder, and with it every file ingested from it)
        raise click.BadParameter("an empty TARGET names nothing", param_hint="TARGETS")
    try:
        with writing(db):  # the ids are looked up in the version that is rewritten
            catalog = read_distributed_catalog(db) if is_distributed_store(db) else read_catalog(db)
            stored = _stored_ids(db)
            ids: list[int] = []
            missing: list[str] = []
            for t in targets:
                found: list[int] = []
                if _ID.match(t):
                    v = int(t, 16) if t.lower().startswith("0x") else int(t)
                    if v in stored:
                        found = [v]
                if not found:
                    found = [d for d in catalog.documents_from(t) if d in stored]
                if not found:
                    missing.append(t)
                ids.extend(d for d in found if d not in ids)
            if missing:
                raise click.ClickException(
                    "no stored document or ingested file matches: " + ", ".join(missing)
                )
            report = forget_in_store(db, ids)
    except PhagoError as exc:
        raise fail(exc) from exc
    if as_json:
        d = report.to_dict()
        d.pop("kept_nodes", None)
        echo_json({**d, "db": str(db)})
        return
    out.print(
        f"Forgot {len(report.documents_removed)} documents: {report.nodes_removed} concepts and "
        f"{report.edges_removed} edges removed, {report.edges_weakened} edges weakened. "
        f"Saved to {db}.",
        highlight=False,
        soft_wrap=True,
    )
