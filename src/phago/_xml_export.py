"""GraphML and GEXF text, produced in chunks straight from a :class:`~phago.export.GraphTable`.

Pure logic: the functions here yield the document as strings, a few thousand elements at a
time, and never hold the whole document (nor an element tree) in memory; the caller writes
the chunks to a file. The output is what :func:`networkx.write_graphml` and
:func:`networkx.write_gexf` (GEXF 1.2draft) write for :func:`phago.export.to_networkx`'s
graph: the same elements, attribute keys, key ids, value types, node order and edge order
(that of ``networkx.Graph.edges``), so that reading either file back with networkx gives an
equal graph. Two things are done better than the ElementTree serializer does: characters
that XML 1.0 cannot carry at all (control characters other than tab, newline and carriage
return, lone surrogates, U+FFFE and U+FFFF) are written as U+FFFD instead of making the
file unreadable, and a carriage return in a GraphML value is written as ``&#13;`` so that it
survives reading back.

Example:
    >>> from phago.export import GraphTable
    >>> from phago.graph import HebbianGraph
    >>> g = HebbianGraph(); _ = g.wire_clique(g.present(["a & b", "c"]), 0)
    >>> text = "".join(graphml_chunks(GraphTable.from_graph(g)))
    >>> '<data key="d0">a &amp; b</data>' in text, text.count("<edge ")
    (True, 1)
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from phago.export import GraphTable

__all__ = ["escape_attribute", "escape_text", "gexf_chunks", "graphml_chunks"]

CHUNK = 4096
"""Nodes or edges per yielded chunk."""

_NOT_XML = "\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff"
_TEXT_SPECIAL = re.compile(f"[&<>\r{_NOT_XML}]")
_ATTR_SPECIAL = re.compile(f'[&<>"\t\n\r{_NOT_XML}]')
_ESCAPES = {
    "&": "&amp;",
    "<": "&lt;",
    ">": "&gt;",
    '"': "&quot;",
    "\t": "&#09;",
    "\n": "&#10;",
    "\r": "&#13;",
}


def _replace(match: re.Match[str]) -> str:
    return _ESCAPES.get(match.group(), "\ufffd")


def escape_text(value: str) -> str:
    """``value`` as XML 1.0 character data: ``&``, ``<``, ``>`` and carriage returns escaped,
    characters XML 1.0 cannot carry replaced by U+FFFD.

    Example:
        >>> escape_text("a<b> & \\x01c\\r")
        'a&lt;b&gt; &amp; \\ufffdc&#13;'
    """
    if _TEXT_SPECIAL.search(value) is None:
        return value
    return _TEXT_SPECIAL.sub(_replace, value)


def escape_attribute(value: str) -> str:
    """``value`` as a double-quoted XML 1.0 attribute value: as :func:`escape_text`, and
    quotes, tabs and newlines escaped too (so that they survive attribute normalisation).

    Example:
        >>> escape_attribute('say "hi"\\n')
        'say &quot;hi&quot;&#10;'
    """
    if _ATTR_SPECIAL.search(value) is None:
        return value
    return _ATTR_SPECIAL.sub(_replace, value)


# ---------------------------------------------------------------------------- layout


@dataclass(frozen=True)
class _Layout:
    """Which table rows are written, in which order, as networkx would have them."""

    node_rows: npt.NDArray[np.int64]
    """For each written node, the table row its attributes come from."""
    ids: list[str]
    """Each written node's id."""
    edge_rows: npt.NDArray[np.int64]
    """For each written edge, the table row its attributes come from."""
    source: npt.NDArray[np.int64]
    """Each written edge's source, as a written node's position."""
    target: npt.NDArray[np.int64]
    """Each written edge's target, as a written node's position."""


def _layout(table: GraphTable) -> _Layout:
    """Nodes and edges in the order ``networkx.Graph`` iterates them after
    :func:`~phago.export.to_networkx`: nodes in table order, a repeated id at its first
    place with its last attributes; edges grouped by their endpoint that comes first, each
    group in table order, a repeated edge (either way round) at its first place with its
    last attributes."""
    n = table.node_count
    ids = table.ids
    rows = np.arange(n, dtype=np.int64)
    uniq, first, inverse = np.unique(ids, return_index=True, return_inverse=True)
    if len(uniq) == n:
        node_rows, canon = rows, rows
    else:
        last = np.zeros(len(uniq), dtype=np.int64)
        np.maximum.at(last, inverse.reshape(-1), rows)
        order = np.argsort(first, kind="stable")
        position = np.empty(len(uniq), dtype=np.int64)
        position[order] = np.arange(len(uniq), dtype=np.int64)
        canon = position[inverse.reshape(-1)]
        node_rows = last[order]
    a = canon[table.edge_a.astype(np.int64)]
    b = canon[table.edge_b.astype(np.int64)]
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    m = len(lo)
    keys = lo * np.int64(max(len(node_rows), 1)) + hi
    ukeys, efirst, einverse = np.unique(keys, return_index=True, return_inverse=True)
    if len(ukeys) == m:
        edge_rows = np.argsort(lo, kind="stable").astype(np.int64)
        source, target = lo[edge_rows], hi[edge_rows]
    else:
        elast = np.zeros(len(ukeys), dtype=np.int64)
        np.maximum.at(elast, einverse.reshape(-1), np.arange(m, dtype=np.int64))
        order = np.lexsort((efirst, lo[efirst]))
        edge_rows = elast[order]
        source, target = lo[efirst[order]], hi[efirst[order]]
    return _Layout(
        node_rows=node_rows,
        ids=[str(v) for v in ids[node_rows].tolist()],
        edge_rows=edge_rows,
        source=source,
        target=target,
    )


def _spans(count: int) -> Iterator[slice]:
    for start in range(0, count, CHUNK):
        yield slice(start, min(start + CHUNK, count))


def _node_columns(
    table: GraphTable, rows: npt.NDArray[np.int64]
) -> tuple[list[str], list[str], list[int], list[int], list[float], list[float], list[int]]:
    """Labels, node types, access counts, created ticks, x, y and shards (empty without
    shards) of the table ``rows``, labels and types not escaped."""
    rs = rows.tolist()
    labels = table.labels
    types = table.node_types
    shard = table.shard
    return (
        [labels[r] for r in rs],
        [types[r] for r in rs],
        table.access[rows].tolist(),
        table.created[rows].tolist(),
        table.x[rows].tolist(),
        table.y[rows].tolist(),
        [] if shard is None else shard[rows].tolist(),
    )


def _edge_columns(
    table: GraphTable, lay: _Layout, span: slice
) -> Iterator[tuple[int, int, float, int, int, int]]:
    """Source and target (node positions), weight, co-activations, created and last
    activated tick of the written edges ``span``, edge by edge."""
    rows = lay.edge_rows[span]
    return zip(
        lay.source[span].tolist(),
        lay.target[span].tolist(),
        table.weight[rows].tolist(),
        table.co_activations[rows].tolist(),
        table.edge_created[rows].tolist(),
        table.edge_last[rows].tolist(),
        strict=True,
    )


# ---------------------------------------------------------------------------- GraphML

_GRAPHML_HEAD = (
    "<?xml version='1.0' encoding='utf-8'?>\n"
    '<graphml xmlns="http://graphml.graphdrawing.org/xmlns" '
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
    'xsi:schemaLocation="http://graphml.graphdrawing.org/xmlns '
    'http://graphml.graphdrawing.org/xmlns/1.0/graphml.xsd">\n'
)
_NODE_KEYS = (
    ("label", "string"),
    ("node_type", "string"),
    ("access_count", "long"),
    ("created_tick", "long"),
    ("x", "double"),
    ("y", "double"),
)
_SHARD_KEY = ("shard", "long")
_EDGE_KEYS = (
    ("weight", "double"),
    ("co_activations", "long"),
    ("created_tick", "long"),
    ("last_activated_tick", "long"),
)


def graphml_chunks(table: GraphTable) -> Iterator[str]:
    """The GraphML document of ``table``, in chunks (see the module's description).

    Args:
        table: the graph.

    Yields:
        Consecutive pieces of the document; joined, they are the whole file's text.

    Example:
        >>> from phago.export import GraphTable
        >>> from phago.graph import HebbianGraph
        >>> g = HebbianGraph(); _ = g.present(["日本"])
        >>> "".join(graphml_chunks(GraphTable.from_graph(g))).count('<data key="d0">日本</data>')
        1
    """
    lay = _layout(table)
    has_nodes = len(lay.node_rows) > 0
    node_keys = [*_NODE_KEYS, _SHARD_KEY] if table.shard is not None else list(_NODE_KEYS)
    keys = [(name, kind, "node") for name, kind in node_keys] if has_nodes else []
    if len(lay.edge_rows):
        keys += [(name, kind, "edge") for name, kind in _EDGE_KEYS]
    yield _GRAPHML_HEAD + "".join(
        f'  <key id="d{i}" for="{scope}" attr.name="{name}" attr.type="{kind}" />\n'
        for i, (name, kind, scope) in reversed(list(enumerate(keys)))
    )
    if not has_nodes and not len(lay.edge_rows):
        yield '  <graph edgedefault="undirected" />\n</graphml>\n'
        return
    yield '  <graph edgedefault="undirected">\n'
    types = {t: escape_text(t) for t in set(table.node_types)}
    with_shard = table.shard is not None
    for span in _spans(len(lay.node_rows)):
        labels, kinds, access, created, xs, ys, shards = _node_columns(table, lay.node_rows[span])
        parts = [
            f'    <node id="{nid}">\n'
            f'      <data key="d0">{escape_text(label)}</data>\n'
            f'      <data key="d1">{types[kind]}</data>\n'
            f'      <data key="d2">{acc}</data>\n'
            f'      <data key="d3">{ct}</data>\n'
            f'      <data key="d4">{x}</data>\n'
            f'      <data key="d5">{y}</data>\n'
            + (f'      <data key="d6">{shards[i]}</data>\n' if with_shard else "")
            + "    </node>\n"
            for i, (nid, label, kind, acc, ct, x, y) in enumerate(
                zip(lay.ids[span], labels, kinds, access, created, xs, ys, strict=True)
            )
        ]
        yield "".join(parts)
    first = len(node_keys)
    dw, dco, dct, dlt = (f"d{first + i}" for i in range(4))
    ids = lay.ids
    for span in _spans(len(lay.edge_rows)):
        yield "".join(
            f'    <edge source="{ids[s]}" target="{ids[t]}">\n'
            f'      <data key="{dw}">{w}</data>\n'
            f'      <data key="{dco}">{co}</data>\n'
            f'      <data key="{dct}">{ct}</data>\n'
            f'      <data key="{dlt}">{lt}</data>\n'
            "    </edge>\n"
            for s, t, w, co, ct, lt in _edge_columns(table, lay, span)
        )
    yield "  </graph>\n</graphml>\n"


# ---------------------------------------------------------------------------- GEXF

_GEXF_HEAD = (
    "<?xml version='1.0' encoding='utf-8'?>\n"
    '<gexf xmlns="http://www.gexf.net/1.2draft" '
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
    'xsi:schemaLocation="http://www.gexf.net/1.2draft http://www.gexf.net/1.2draft/gexf.xsd" '
    'version="1.2">\n'
)
_GEXF_FLOATS = {"inf": "INF", "-inf": "-INF", "nan": "NaN"}


def _gexf_floats(values: list[float]) -> list[str]:
    """Floats as networkx writes GEXF attribute values (``INF``, ``-INF``, ``NaN``)."""
    out = [str(v) for v in values]
    if all(math.isfinite(v) for v in values):
        return out
    return [_GEXF_FLOATS.get(s, s) for s in out]


def gexf_chunks(table: GraphTable, *, date: str, creator: str) -> Iterator[str]:
    """The GEXF 1.2draft document of ``table``, in chunks (see the module's description).

    Node labels are the concept labels; an edge's weight is its ``weight`` attribute and
    its id its place in the file; every other value is an attribute value.

    Args:
        table: the graph.
        date: the ``lastmodifieddate`` of the document's meta data (``YYYY-MM-DD``).
        creator: the document's creator (meta data).

    Yields:
        Consecutive pieces of the document; joined, they are the whole file's text.

    Example:
        >>> from phago.export import GraphTable
        >>> from phago.graph import HebbianGraph
        >>> g = HebbianGraph(); _ = g.present(['say "hi"'])
        >>> text = "".join(gexf_chunks(GraphTable.from_graph(g), date="2024-01-02", creator="me"))
        >>> 'label="say &quot;hi&quot;"' in text
        True
    """
    lay = _layout(table)
    has_nodes = len(lay.node_rows) > 0
    has_edges = len(lay.edge_rows) > 0
    node_attrs = [(name, kind) for name, kind in _NODE_KEYS if name != "label"]
    if table.shard is not None:
        node_attrs.append(_SHARD_KEY)
    edge_attrs = [(name, kind) for name, kind in _EDGE_KEYS if name != "weight"]
    head = [
        _GEXF_HEAD,
        f'  <meta lastmodifieddate="{escape_attribute(date)}">\n'
        f"    <creator>{escape_text(creator)}</creator>\n"
        "  </meta>\n"
        '  <graph defaultedgetype="undirected" mode="static" name="">\n',
    ]
    sections = []
    if has_nodes:
        sections.append(("node", 0, node_attrs))
    if has_edges:
        sections.insert(0, ("edge", len(node_attrs), edge_attrs))  # (edges imply nodes)
    for cls, base, attrs in sections:
        head.append(f'    <attributes mode="static" class="{cls}">\n')
        head += [
            f'      <attribute id="{base + i}" title="{name}" type="{kind}" />\n'
            for i, (name, kind) in enumerate(attrs)
        ]
        head.append("    </attributes>\n")
    head.append("    <nodes>\n" if has_nodes else "    <nodes />\n")
    yield "".join(head)
    types = {t: escape_attribute(t) for t in set(table.node_types)}
    with_shard = table.shard is not None
    for span in _spans(len(lay.node_rows)):
        labels, kinds, access, created, xs, ys, shards = _node_columns(table, lay.node_rows[span])
        xstr, ystr = _gexf_floats(xs), _gexf_floats(ys)
        yield "".join(
            f'      <node id="{nid}" label="{escape_attribute(label)}">\n'
            "        <attvalues>\n"
            f'          <attvalue for="0" value="{types[kind]}" />\n'
            f'          <attvalue for="1" value="{acc}" />\n'
            f'          <attvalue for="2" value="{ct}" />\n'
            f'          <attvalue for="3" value="{x}" />\n'
            f'          <attvalue for="4" value="{y}" />\n'
            + (f'          <attvalue for="5" value="{shards[i]}" />\n' if with_shard else "")
            + "        </attvalues>\n"
            "      </node>\n"
            for i, (nid, label, kind, acc, ct, x, y) in enumerate(
                zip(lay.ids[span], labels, kinds, access, created, xstr, ystr, strict=True)
            )
        )
    if has_nodes:
        yield "    </nodes>\n"
    if not has_edges:
        yield "    <edges />\n  </graph>\n</gexf>\n"
        return
    yield "    <edges>\n"
    a_co, a_ct, a_lt = (str(len(node_attrs) + i) for i in range(3))
    ids = lay.ids
    for span in _spans(len(lay.edge_rows)):
        yield "".join(
            f'      <edge source="{ids[s]}" target="{ids[t]}" id="{k}" weight="{w}">\n'
            "        <attvalues>\n"
            f'          <attvalue for="{a_co}" value="{co}" />\n'
            f'          <attvalue for="{a_ct}" value="{ct}" />\n'
            f'          <attvalue for="{a_lt}" value="{lt}" />\n'
            "        </attvalues>\n"
            "      </edge>\n"
            for k, (s, t, w, co, ct, lt) in enumerate(
                _edge_columns(table, lay, span), start=span.start
            )
        )
    yield "    </edges>\n  </graph>\n</gexf>\n"
