"""``phago demo``: digest the bundled sample corpus and show what the colony learnt.

The demo also saves the colony to ``phago-demo.db`` (a store the ``stats``, ``export``,
``viz``, ``ingest`` and ``forget`` commands work on) and writes the HTML view
``phago-demo.html``, in the current directory or ``--out-dir``, and ends by saying where the
HTML view is.

A ``phago-demo.db`` already there is replaced only if it holds what a demo writes: the
sample corpus's documents, no more and no fewer, no file ingested and no tag given. One that
``ingest``, ``forget`` or ``tag`` changed is the user's work, and is refused (``--force``
replaces it anyway). (What ``query --reinforce`` changed is not told apart from a demo's
own graph, which differs from one phago to the next: such a store is replaced.)
The store is held for writing (:func:`phago.store.store_lock`) while it is checked and saved,
so a demo never overwrites an ingest that is under way.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from phago.cli.common import (
    build_colony,
    echo_json,
    error_message,
    out,
    plural,
    progress,
    stats_table,
)
from phago.errors import OutputError, PhagoError, StoreError

if TYPE_CHECKING:
    from phago.colony import Colony
    from phago.corpus import CorpusDocument

DEMO_QUERIES = ("how do stars form in a nebula", "how do antibodies recognise pathogens")

DEMO_STORE = "phago-demo.db"
"""The store the demo writes in its output folder."""
DEMO_HTML = "phago-demo.html"
"""The HTML view the demo writes in its output folder."""


def prepare_out_dir(out_dir: Path) -> None:
    """Make the folder ``out_dir`` (and its parents) if needed, and check that a file can
    be written in it.

    Raises:
        OutputError: the folder cannot be made, or nothing can be written in it.

    Example:
        >>> import tempfile, pathlib
        >>> d = pathlib.Path(tempfile.mkdtemp())
        >>> prepare_out_dir(d / "a" / "b"); (d / "a" / "b").is_dir()
        True
        >>> _ = (d / "f").write_text("a file")
        >>> prepare_out_dir(d / "f" / "out")
        Traceback (most recent call last):
        ...
        phago.errors.OutputError: cannot make the output folder .../f/out: ...; choose ...
    """
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(
            f"cannot make the output folder {out_dir}: {_reason(exc)}; choose another --out-dir"
        ) from exc
    try:  # (by writing: permission bits say nothing to root, nor of a read-only mount)
        with tempfile.NamedTemporaryFile(dir=out_dir, prefix=".phago-demo-", suffix=".tmp"):
            pass
    except OSError as exc:
        raise OutputError(
            f"cannot write in the output folder {out_dir}: {_reason(exc)}; choose another --out-dir"
        ) from exc


def _reason(exc: OSError) -> str:
    """An OS error's reason in words, without its errno and file name."""
    return exc.strerror or str(exc)


def earlier_sample_ids(docs: Sequence[CorpusDocument]) -> list[int]:
    """The ids the sample corpus's documents had before the fortieth session, when its
    title line was cut from each text (so a demo store an earlier phago wrote is still the
    demo's own).

    Example:
        >>> from phago.corpus import load_sample_corpus
        >>> from phago.ids import document_id
        >>> d = load_sample_corpus()[0]
        >>> earlier_sample_ids([d]) == [document_id(d.title, d.content[len(d.title):].strip())]
        True
    """
    from phago.ids import document_id

    out = []
    for d in docs:
        body = d.content[len(d.title) :] if d.content.startswith(d.title) else d.content
        out.append(int(document_id(d.title, body.strip())))
    return out


def check_demo_store(
    db: Path, doc_ids: Sequence[int], earlier: Sequence[Sequence[int]] = ()
) -> None:
    """Refuse to replace the store ``db`` unless it is missing or holds only what a demo
    writes: the documents ``doc_ids`` (the sample corpus's, in order; a document's id is a
    hash of its title and content), or those of an earlier phago's demo (``earlier``: each
    a list of ids), no file ingested and no tag given.

    Raises:
        StoreError: ``db`` holds other documents (files ingested into it, documents
            forgotten) or tags (``phago tag``), or is a folder, or is not a readable phago
            store.

    Example:
        >>> import tempfile, pathlib
        >>> from phago import Colony, Position
        >>> from phago.store import save
        >>> db = pathlib.Path(tempfile.mkdtemp()) / DEMO_STORE
        >>> check_demo_store(db, [])  # (nothing there)
        >>> c = Colony()
        >>> ids = [c.ingest_document("a", "cell membrane", Position(0, 0))]
        >>> _ = save(c, db)
        >>> check_demo_store(db, ids)
        >>> _ = c.ingest_document("note", "my own note", Position(5, 0))
        >>> _ = save(c, db)
        >>> check_demo_store(db, ids)
        Traceback (most recent call last):
        ...
        phago.errors.StoreError: refusing to overwrite ...: it holds 2 documents, not the 1 ...
    """
    from phago.store import read_document_ids, read_document_info, read_summary

    if not db.exists():
        return
    if db.is_dir():
        raise StoreError(
            f"cannot write {db}: it is a folder; move it away or choose another --out-dir"
        )
    try:
        summary = read_summary(db)
        stored = read_document_ids(db)
        tagged = sum(1 for info in read_document_info(db).values() if info.tags)
    except StoreError as exc:
        raise StoreError(
            f"refusing to overwrite {db}: it is not a readable phago store; move it away or "
            "choose another --out-dir"
        ) from exc
    if summary.sources:
        n = summary.source_files
        what = f"{plural(n, 'file')} {'was' if n == 1 else 'were'} ingested into it"
    elif tagged:
        what = f"{plural(tagged, 'document')} of it {'carries' if tagged == 1 else 'carry'} tags"
    elif stored != [int(d) for d in doc_ids] and all(
        stored != [int(d) for d in ids] for ids in earlier
    ):
        held = plural(len(stored), "document")
        what = (
            f"its {held} are not the sample corpus's"
            if len(stored) == len(doc_ids)
            else f"it holds {held}, not the {len(doc_ids)} of the sample corpus"
        )
    else:
        return
    raise StoreError(
        f"refusing to overwrite {db}: {what}; pass --force to overwrite it anyway, or choose "
        "another --out-dir"
    )


def strongest_edges(colony: Colony, k: int) -> list[tuple[str, str, float, int]]:
    """The ``k`` strongest edges as ``(label, label, weight, co_activations)``."""
    g = colony.graph
    a, b, w, co, _, _ = g.edge_arrays()
    order = sorted(range(len(w)), key=lambda i: (-w[i], -co[i], i))[:k]
    return [(g.label_at(int(a[i])), g.label_at(int(b[i])), float(w[i]), int(co[i])) for i in order]


def neighbours_of(colony: Colony, label: str, k: int) -> list[tuple[str, float]]:
    """The ``k`` strongest neighbours of the concept ``label`` (exact label lookup)."""
    g = colony.graph
    nid = g.find_by_label(label)
    if nid is None:
        return []
    nbrs = sorted(g.neighbors(nid), key=lambda ne: (-ne[1].weight, -ne[1].co_activations))
    return [(g.label_at(g.index_of(n)), e.weight) for n, e in nbrs[:k]]


@click.command()
@click.option(
    "--digesters",
    type=click.IntRange(min=1),
    default=10,
    show_default=True,
    help="Digesters to spawn.",
)
@click.option(
    "--max-ticks",
    type=click.IntRange(min=1),
    default=500,
    show_default=True,
    help="Stop after this many ticks.",
)
@click.option(
    "--seed", type=click.IntRange(min=0), default=0, show_default=True, help="Random seed."
)
@click.option(
    "--out-dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("."),
    show_default=True,
    help="Where to write phago-demo.db and phago-demo.html.",
)
@click.option(
    "--force",
    is_flag=True,
    help="Overwrite phago-demo.db even if files were ingested into it or documents forgotten.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
def demo(
    digesters: int, max_ticks: int, seed: int, out_dir: Path, force: bool, as_json: bool
) -> None:
    """Digest the bundled 40-document sample corpus and show the knowledge graph.

    Saves the colony to phago-demo.db and writes the HTML view phago-demo.html. A
    phago-demo.db that ingest, forget or tag changed is refused, not overwritten (--force
    overwrites it).
    """
    from phago.cli._store import writing
    from phago.corpus import load_sample_corpus
    from phago.export import GraphTable
    from phago.query import retrieve
    from phago.store import Catalog, HistoryPoint, save
    from phago.viz import write_html

    db_path = out_dir / DEMO_STORE
    prepare_out_dir(out_dir)  # (before the run: a folder that cannot be written fails fast)
    docs = load_sample_corpus()
    colony = build_colony(docs, digesters=digesters, seed=seed, max_idle=60)
    doc_ids = [int(d.id) for d in colony.documents()]
    earlier = [earlier_sample_ids(docs)]
    if not force:
        check_demo_store(db_path, doc_ids, earlier)
    catalog = Catalog()
    with progress() as bar:
        task = bar.add_task("digesting", total=len(docs))

        def on_tick(tick: int) -> None:
            st = colony.stats()
            bar.update(task, completed=st.documents_digested)
            catalog.add_point(
                HistoryPoint(
                    tick, st.graph_nodes, st.graph_edges, st.documents_total, st.documents_digested
                )
            )

        ticks = colony.run_until_digested(max_ticks, on_tick=on_tick)
    stats = colony.stats().to_dict()
    edges = strongest_edges(colony, 10)
    answers = {q: [(r.label, r.score) for r in retrieve(colony, q, k=6)] for q in DEMO_QUERIES}
    try:
        with writing(db_path):  # (an ingest under way finishes first, then is checked for)
            if not force:
                check_demo_store(db_path, doc_ids, earlier)
            db = Path(os.path.abspath(save(colony, db_path, catalog=catalog)))
        html = Path(
            os.path.abspath(
                write_html(
                    GraphTable.from_colony(colony),
                    out_dir / DEMO_HTML,
                    title="phago demo: sample corpus",
                )
            )
        )
    except PhagoError as exc:
        raise click.ClickException(error_message(exc)) from exc
    except OSError as exc:  # (write_html names the file in its own errors)
        error = OutputError(f"cannot write in {out_dir}: {_reason(exc)}; choose another --out-dir")
        raise click.ClickException(str(error)) from error
    if as_json:
        echo_json(
            {
                "ticks": ticks,
                "stats": stats,
                "strongest_edges": edges,
                "queries": answers,
                "db": str(db),
                "html": str(html),
            }
        )
        return
    out.print(
        f"[bold green]Digested {stats['documents_digested']}/{stats['documents_total']} "
        f"documents in {ticks} ticks."
    )
    out.print(stats_table(stats))
    t = Table(title="Strongest edges")
    for col in ("concept", "concept", "weight", "co-activations"):
        t.add_column(col)
    for a, b, w, co in edges:
        t.add_row(Text(a), Text(b), f"{w:.2f}", str(co))
    out.print(t)
    for q, ans in answers.items():
        out.print(
            f"[bold]{escape(q)}[/bold] → "
            + (", ".join(f"{escape(lab)} ({w:.2f})" for lab, w in ans) or "(nothing found)"),
            soft_wrap=True,
        )
    out.print(
        f"Saved the colony to {db} (try: phago stats --db {db}).",
        highlight=False,
        soft_wrap=True,
        markup=False,
    )
    page = escape(html.resolve().as_uri())
    out.print(f"[bold]HTML view:[/bold] {page}", highlight=False, soft_wrap=True)
