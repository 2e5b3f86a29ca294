"""Pictures of the knowledge graph: one self-contained HTML view, and a static PNG.

:func:`write_html` writes a single HTML file with the data and a small inline script (no
network access is needed to open it): nodes are SVG circles sized by access count, edges are
lines as thick as their weight, colours mark the community (Louvain, networkx, seed 0) or
the shard of each node; a search box highlights matching concepts, hovering shows a node's
details and strongest neighbours, the wheel zooms and dragging pans. After drawing, the
script sets ``data-rendered-nodes`` / ``data-rendered-edges`` on the ``<svg>`` (tests and
tools can check the page rendered).

Big graphs are cut to the ``max_nodes`` most accessed nodes (and the edges among them);
the page says so (and ``phago viz`` prints it). Positions come from a seeded force-directed
layout (:func:`force_layout`, a Numba kernel; deterministic: the same graph gives the same
picture). Options are checked before anything is drawn: ``max_nodes`` is a whole number
>= 1, ``labels`` and ``seed`` whole numbers >= 0, ``title`` text; anything else is a
:class:`~phago.errors.ConfigError`.

:func:`write_png` draws the same picture with matplotlib (Agg, no display needed);
:func:`write_html_and_png` writes both from one layout.

The writers take a file's path, written whole or not at all
(:func:`~phago.export.atomic_output`), ``"-"`` (or ``/dev/stdout``; see
:func:`~phago.export.writes_standard_output`) for standard output, or an existing path that
is no regular file (a FIFO, a terminal, ``/dev/null``), written in place (see
:func:`~phago.export.is_stream_output`). They write what they are named for whatever the
name ends with (``phago viz`` checks names).

Example:
    >>> import tempfile, pathlib
    >>> from phago.graph import HebbianGraph
    >>> from phago.export import GraphTable
    >>> g = HebbianGraph(); _ = g.wire_clique(g.present(["cell", "membrane", "lipid"]), 0)
    >>> p = write_html(GraphTable.from_graph(g), pathlib.Path(tempfile.mkdtemp()) / "g.html")
    >>> "phago-data" in p.read_text() and "http" not in p.read_text().replace(
    ...     "http://www.w3.org/2000/svg", "")
    True
"""

from __future__ import annotations

import html
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from phago.config import whole_number
from phago.errors import ConfigError, OutputError, PhagoError
from phago.export import (
    GraphTable,
    TableSource,
    _stdout_bytes,
    _stdout_text,
    atomic_output,
    writes_standard_output,
)

__all__ = [
    "COLOR_BY",
    "EXACT_LAYOUT_NODES",
    "PALETTE",
    "ViewData",
    "communities",
    "force_layout",
    "layout_iterations",
    "page_note",
    "render_html",
    "select_nodes",
    "shown_note",
    "view_data",
    "write_html",
    "write_html_and_png",
    "write_png",
]

PathLike = str | os.PathLike[str]
COLOR_BY = ("community", "shard", "type")
"""What node colours can show."""

PALETTE = (
    "#4e79a7",
    "#f28e2b",
    "#e15759",
    "#76b7b2",
    "#59a14f",
    "#edc948",
    "#b07aa1",
    "#ff9da7",
    "#9c755f",
    "#bab0ac",
    "#1f77b4",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#17becf",
)
"""Colours of groups 0..15 (later groups reuse them)."""

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


def _title(title: object) -> str:
    """``title`` if it is text.

    Raises:
        ConfigError: anything else.
    """
    if not isinstance(title, str):
        raise ConfigError(f"title must be text, got {type(title).__name__}")
    return title


def select_nodes(table: GraphTable, max_nodes: int) -> IntArray:
    """Indices of the ``max_nodes`` most accessed nodes (ties: higher degree, then earlier).

    Isolated nodes are left out when the graph has edges.

    Raises:
        ConfigError: ``max_nodes`` is not a whole number >= 1.

    Example:
        >>> from phago.graph import HebbianGraph
        >>> g = HebbianGraph(); _ = g.present(["a", "b"]); _ = g.present(["b"])
        >>> select_nodes(GraphTable.from_graph(g), 1).tolist()
        [1]
        >>> _ = g.wire_clique(g.present(["c", "a"]), 0)
        >>> select_nodes(GraphTable.from_graph(g), 5).tolist()
        [0, 2]
    """
    max_nodes = whole_number(max_nodes, "max_nodes", 1)
    n = table.node_count
    deg = table.degrees()
    candidates = np.flatnonzero(deg > 0) if table.edge_count else np.arange(n)
    if len(candidates) <= max_nodes:
        return candidates.astype(np.int64)
    order = np.lexsort((candidates, -deg[candidates], -table.access[candidates]))
    return np.sort(candidates[order[:max_nodes]]).astype(np.int64)


def _subgraph(table: GraphTable, keep: IntArray) -> tuple[IntArray, IntArray, FloatArray, IntArray]:
    n = table.node_count
    new = np.full(n, -1, dtype=np.int64)
    new[keep] = np.arange(len(keep), dtype=np.int64)
    if table.edge_count == 0:
        z = np.zeros(0, dtype=np.int64)
        return z, z, np.zeros(0), z
    a, b = new[table.edge_a], new[table.edge_b]
    ok = (a >= 0) & (b >= 0)
    return a[ok], b[ok], table.weight[ok], table.co_activations[ok]


EXACT_LAYOUT_NODES = 3000
"""Up to this many nodes, :func:`force_layout` adds up the repulsion over all pairs; above,
on a quadtree of grids (Barnes–Hut-like, see :mod:`phago._viz_kernels`)."""


def layout_iterations(n: int) -> int:
    """How many steps :func:`force_layout` takes for ``n`` nodes by default.

    120 up to 300 nodes, then falling smoothly with the logarithm of ``n``,
    ``round(120 - 80 · log10(n / 300))``, down to 40 from about 3,000 nodes on: bigger
    graphs cost more a step, and their layout matters less in detail. Adding a node never
    changes the count by more than one.

    Example:
        >>> [layout_iterations(n) for n in (10, 300, 800, 1000, 1001, 2000, 3000, 10_000)]
        [120, 120, 86, 78, 78, 54, 40, 40]
    """
    if n <= 300:
        return 120
    return max(40, round(120.0 - 80.0 * math.log10(n / 300.0)))


def _edge_index(values: Any, name: str, n: int, m: int | None) -> IntArray:
    """``values`` as node indices of ``n`` nodes (``m`` of them, when given).

    Raises:
        ConfigError: not whole numbers in ``[0, n)``, or not ``m`` of them.
    """
    arr = np.asarray(values)
    if arr.ndim != 1 or (len(arr) and arr.dtype.kind not in "iu"):
        raise ConfigError(f"{name} must be a one-dimensional array of node indices")
    if m is not None and len(arr) != m:
        raise ConfigError(f"{name} has {len(arr)} entries; edge_a has {m}")
    if len(arr) and (int(arr.min()) < 0 or int(arr.max()) >= n):
        raise ConfigError(f"{name} holds node indices outside 0..{n - 1}")
    return np.ascontiguousarray(arr, dtype=np.int64)


def force_layout(
    n: int,
    edge_a: IntArray,
    edge_b: IntArray,
    weight: FloatArray,
    *,
    seed: int = 0,
    iterations: int | None = None,
) -> FloatArray:
    """A Fruchterman–Reingold layout in the unit square (n × 2), deterministic for a seed.

    The nodes start uniformly at random (seeded) in the unit square. Each step, with
    ``k = sqrt(1 / n)``, every pair of nodes repels with force ``k² / d``, the ends of an
    edge attract with ``d² / k · (0.5 + weight)``, a gravity ``2 · (centre − position)``
    keeps components together, and each node moves along its total by at most the
    temperature, which falls linearly from 0.1. The repulsion is added up over all pairs
    up to :data:`EXACT_LAYOUT_NODES` nodes, and above that on a quadtree of grids (nearby
    nodes exactly, far ones cell by cell at their centre of mass: O(n log n) a step). It
    runs as a Numba kernel (:mod:`phago._viz_kernels`). The result is scaled to fill the
    unit square.

    Args:
        n: how many nodes, a whole number >= 0.
        edge_a: one end of each edge (node indices below ``n``).
        edge_b: the other end of each edge.
        weight: each edge's weight.
        seed: seed of the initial positions, a whole number >= 0.
        iterations: how many steps, a whole number >= 0; None: :func:`layout_iterations`
            of ``n`` (fewer for bigger graphs, smoothly).

    Raises:
        ConfigError: ``n``, ``seed`` or ``iterations`` is not a whole number >= 0, an edge
            end is not a node index below ``n``, or the three edge arrays differ in length.

    Example:
        >>> pos = force_layout(3, np.array([0, 1]), np.array([1, 2]), np.array([1.0, 1.0]))
        >>> pos.shape, bool((pos >= 0).all() and (pos <= 1).all())
        ((3, 2), True)
    """
    n = whole_number(n, "n", 0)
    seed = whole_number(seed, "seed", 0)
    if iterations is not None:
        iterations = whole_number(iterations, "iterations", 0)
    a = _edge_index(edge_a, "edge_a", n, None)
    b = _edge_index(edge_b, "edge_b", n, len(a))
    w = np.asarray(weight, dtype=np.float64)
    if w.shape != a.shape:
        raise ConfigError(f"weight has shape {w.shape}; edge_a has {len(a)} entries")
    if n == 0:
        return np.zeros((0, 2))
    if n == 1:
        return np.full((1, 2), 0.5)
    rng = np.random.default_rng(seed)
    pos = rng.uniform(0.0, 1.0, size=(n, 2))
    if iterations is None:
        iterations = layout_iterations(n)
    k = math.sqrt(1.0 / n)
    gravity = 2.0 * math.sqrt(n) * k
    x = np.ascontiguousarray(pos[:, 0])
    y = np.ascontiguousarray(pos[:, 1])
    attraction = np.ascontiguousarray(0.5 + w)
    if iterations > 0:
        from phago import _viz_kernels

        if n <= EXACT_LAYOUT_NODES:
            _viz_kernels.layout_exact(x, y, a, b, attraction, k, gravity, 0.1, iterations)
        else:
            levels = max(2, math.ceil(math.log2(n / 4.0) / 2.0))  # ~4 nodes a finest cell
            _viz_kernels.layout_grid(x, y, a, b, attraction, k, gravity, 0.1, iterations, levels)
    pos = np.stack([x, y], axis=1)
    lo, hi = pos.min(0), pos.max(0)
    span = np.where(hi - lo > 1e-12, hi - lo, 1.0)
    out: FloatArray = (pos - lo) / span
    return out


def communities(n: int, edge_a: IntArray, edge_b: IntArray, weight: FloatArray) -> IntArray:
    """Community of each node (Louvain, networkx, seed 0), numbered by size, largest first.

    Example:
        >>> communities(4, np.array([0, 2]), np.array([1, 3]), np.array([1.0, 1.0])).tolist()
        [0, 0, 1, 1]
    """
    import networkx as nx

    g = nx.Graph()
    g.add_nodes_from(range(n))
    g.add_weighted_edges_from(
        (int(a), int(b), float(w)) for a, b, w in zip(edge_a, edge_b, weight, strict=True)
    )
    comms = nx.community.louvain_communities(g, weight="weight", seed=0)
    comms = sorted((sorted(c) for c in comms), key=lambda c: (-len(c), c[0]))
    out = np.zeros(n, dtype=np.int64)
    for i, c in enumerate(comms):
        out[c] = i
    return out


@dataclass
class ViewData:
    """What a picture shows: the selected nodes, their layout, groups and edges."""

    index: IntArray
    labels: list[str]
    node_types: list[str]
    access: IntArray
    degree: IntArray
    pos: FloatArray
    community: IntArray
    shard: IntArray | None
    edge_a: IntArray
    edge_b: IntArray
    weight: FloatArray
    co_activations: IntArray
    total_nodes: int
    total_edges: int
    tick: int


def shown_note(table: GraphTable, shown: int) -> str:
    """What a view of ``shown`` of ``table``'s nodes leaves out, in words (nodes with no
    edges are never drawn while the graph has edges).

    Example:
        >>> from phago.graph import HebbianGraph
        >>> g = HebbianGraph(); _ = g.wire_clique(g.present(["a", "b"]), 0); _ = g.add_node("c")
        >>> shown_note(GraphTable.from_graph(g), 2)
        'showing the 2 connected nodes (1 with no edges left out)'
    """
    isolated = int(np.count_nonzero(table.degrees() == 0)) if table.edge_count else 0
    connected = table.node_count - isolated
    if shown >= table.node_count:
        return f"showing all {shown} nodes"
    said = (
        f"showing the {shown} most accessed of {connected} connected nodes"
        if shown < connected
        else f"showing the {shown} connected nodes"
    )
    return said + (f" ({isolated} with no edges left out)" if isolated else "")


def page_note(table: GraphTable, shown: int) -> str:
    """The note a view of ``shown`` of ``table``'s nodes carries (the page's header shows
    it, ``phago viz`` prints it): the graph's tick and size, then :func:`shown_note`.

    Example:
        >>> from phago.graph import HebbianGraph
        >>> g = HebbianGraph(); _ = g.wire_clique(g.present(["a", "b", "c"]), 0)
        >>> page_note(GraphTable.from_graph(g), 2)
        'tick 0 · 3 nodes · 3 edges · showing the 2 most accessed of 3 connected nodes'
    """
    return (
        f"tick {table.tick} · {table.node_count} nodes · {table.edge_count} edges · "
        + shown_note(table, shown)
    )


def view_data(table: GraphTable, *, max_nodes: int = 800, seed: int = 0) -> ViewData:
    """Select, lay out and group the nodes to draw.

    Args:
        table: the graph.
        max_nodes: select at most this many nodes (the most accessed), a whole number >= 1.
        seed: layout seed, a whole number >= 0.

    Raises:
        ConfigError: ``max_nodes`` or ``seed`` out of range or not a whole number.

    Example:
        >>> from phago.graph import HebbianGraph
        >>> g = HebbianGraph(); _ = g.wire_clique(g.present(["a", "b", "c"]), 0)
        >>> v = view_data(GraphTable.from_graph(g))
        >>> len(v.labels), len(v.weight), v.community.tolist()
        (3, 3, [0, 0, 0])
    """
    max_nodes = whole_number(max_nodes, "max_nodes", 1)
    seed = whole_number(seed, "seed", 0)
    keep = select_nodes(table, max_nodes)
    a, b, w, co = _subgraph(table, keep)
    n = len(keep)
    deg = (
        np.bincount(a, minlength=n) + np.bincount(b, minlength=n)
        if len(a)
        else np.zeros(n, np.int64)
    )
    return ViewData(
        index=keep,
        labels=[table.labels[int(i)] for i in keep],
        node_types=[table.node_types[int(i)] for i in keep],
        access=table.access[keep],
        degree=deg.astype(np.int64),
        pos=force_layout(n, a, b, w, seed=seed),
        community=communities(n, a, b, w),
        shard=None if table.shard is None else table.shard[keep],
        edge_a=a,
        edge_b=b,
        weight=w,
        co_activations=co,
        total_nodes=table.node_count,
        total_edges=table.edge_count,
        tick=table.tick,
    )


def _radius(access: IntArray) -> FloatArray:
    if len(access) == 0:
        return np.zeros(0)
    top = max(1.0, float(access.max()))
    out: FloatArray = 3.0 + 13.0 * np.sqrt(np.maximum(access, 0) / top)
    return out


_SIZE = 1000.0

_CSS = """
*{box-sizing:border-box}body{margin:0;font:14px system-ui,sans-serif;background:#fbfbfd;color:#222}
header{display:flex;gap:12px;align-items:center;padding:8px 12px;border-bottom:1px solid #ddd;
background:#fff;flex-wrap:wrap}h1{font-size:16px;margin:0 8px 0 0}
#search{padding:4px 8px;width:240px;border:1px solid #bbb;border-radius:4px}
#count{color:#666;font-size:12px}#note{color:#666;font-size:12px;margin-left:auto}
#wrap{position:relative;height:calc(100vh - 50px)}
svg{width:100%;height:100%;display:block;cursor:grab;background:#fff}
line{stroke:#8a8fa3;stroke-opacity:.45}circle{stroke:#fff;stroke-width:1;cursor:pointer}
text{font-size:11px;fill:#222;pointer-events:none;paint-order:stroke;stroke:#fff;stroke-width:3px}
.dim{opacity:.12}circle.hit{stroke:#000;stroke-width:3}circle.focus{stroke:#000;stroke-width:2}
line.focus{stroke:#333;stroke-opacity:.9}
#tip{position:absolute;pointer-events:none;background:rgba(255,255,255,.97);border:1px solid #ccc;
border-radius:6px;padding:8px 10px;font-size:12px;box-shadow:0 2px 8px rgba(0,0,0,.15);
max-width:280px}#tip b{font-size:13px}#tip ul{margin:4px 0 0;padding-left:16px}
#legend{position:absolute;right:10px;bottom:10px;background:rgba(255,255,255,.92);
border:1px solid #ddd;border-radius:6px;padding:6px 10px;font-size:12px;max-height:45%;
overflow:auto}#legend span{display:inline-block;width:10px;height:10px;border-radius:50%;
margin-right:6px}
"""

_JS = r"""
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("phago-data").textContent);
  var NS = "http://www.w3.org/2000/svg";
  var svg = document.getElementById("graph");
  var gE = document.getElementById("edges"), gN = document.getElementById("nodes");
  var gL = document.getElementById("labels");
  var tip = document.getElementById("tip"), legend = document.getElementById("legend");
  var nodes = data.nodes, edges = data.edges, palette = data.palette;
  var nbr = nodes.map(function () { return []; });
  var lines = [], circles = [];
  edges.forEach(function (e, k) {
    nbr[e[0]].push([e[1], e[2], k]); nbr[e[1]].push([e[0], e[2], k]);
    var l = document.createElementNS(NS, "line");
    l.setAttribute("x1", nodes[e[0]].x); l.setAttribute("y1", nodes[e[0]].y);
    l.setAttribute("x2", nodes[e[1]].x); l.setAttribute("y2", nodes[e[1]].y);
    l.setAttribute("stroke-width", (0.4 + 3.6 * e[2]).toFixed(2));
    gE.appendChild(l); lines.push(l);
  });
  nbr.forEach(function (list) { list.sort(function (p, q) { return q[1] - p[1]; }); });
  nodes.forEach(function (n, i) {
    var c = document.createElementNS(NS, "circle");
    c.setAttribute("cx", n.x); c.setAttribute("cy", n.y); c.setAttribute("r", n.r);
    c.setAttribute("data-label", n.label); c.setAttribute("data-index", i);
    gN.appendChild(c); circles.push(c);
  });
  var shown = nodes.map(function (n, i) { return i; })
    .sort(function (p, q) { return nodes[q].access - nodes[p].access; }).slice(0, data.labels);
  shown.forEach(function (i) {
    var t = document.createElementNS(NS, "text");
    t.setAttribute("x", nodes[i].x + nodes[i].r + 2); t.setAttribute("y", nodes[i].y + 4);
    t.textContent = nodes[i].label; gL.appendChild(t);
  });
  function group(n, by) {
    return by === "shard" ? n.shard : (by === "type" ? n.type : n.community);
  }
  function colour(by) {
    var vals = [], rank = {};
    nodes.forEach(function (n) {
      var g = group(n, by);
      if (vals.indexOf(g) < 0) vals.push(g);
    });
    vals.sort(function (p, q) { return p < q ? -1 : (p > q ? 1 : 0); });
    vals.forEach(function (g, k) { rank[g] = k; });
    nodes.forEach(function (n, i) {
      circles[i].setAttribute("fill", palette[rank[group(n, by)] % palette.length]);
    });
    var html = "<b>" + by + "</b><br>";
    vals.slice(0, 12).forEach(function (g, k) {
      var best = -1;
      nodes.forEach(function (n, i) {
        if (group(n, by) === g && (best < 0 || n.access > nodes[best].access)) best = i;
      });
      html += "<div><span style=\"background:" + palette[k % palette.length] + "\"></span>" +
        esc(String(g)) + (by === "type" ? "" : " — " + esc(nodes[best].label)) + "</div>";
    });
    if (vals.length > 12) html += "<div>… " + (vals.length - 12) + " more</div>";
    legend.innerHTML = html;
  }
  function esc(s) {
    return s.replace(/[&<>"]/g, function (ch) {
      return {"&": "&amp;", "<": "&lt;", ">": "&gt;", "\"": "&quot;"}[ch];
    });
  }
  var select = document.getElementById("colorby");
  select.addEventListener("change", function () { colour(select.value); });
  colour(select.value);
  // hover
  function clearFocus() {
    circles.forEach(function (c) { c.classList.remove("focus"); });
    lines.forEach(function (l) { l.classList.remove("focus"); });
  }
  gN.addEventListener("mouseover", function (ev) {
    var i = ev.target.getAttribute && ev.target.getAttribute("data-index");
    if (i === null || i === undefined) return;
    i = +i; var n = nodes[i]; clearFocus(); circles[i].classList.add("focus");
    var items = nbr[i].slice(0, 6).map(function (p) {
      lines[p[2]].classList.add("focus"); circles[p[0]].classList.add("focus");
      return "<li>" + esc(nodes[p[0]].label) + " (" + p[1].toFixed(2) + ")</li>";
    }).join("");
    tip.innerHTML = "<b>" + esc(n.label) + "</b><br>type: " + n.type + "<br>access count: " +
      n.access + "<br>degree: " + n.degree + "<br>community: " + n.community +
      (n.shard === null ? "" : "<br>shard: " + n.shard) +
      (items ? "<br>strongest neighbours:<ul>" + items + "</ul>" : "");
    tip.hidden = false;
  });
  gN.addEventListener("mousemove", function (ev) {
    var box = svg.getBoundingClientRect();
    tip.style.left = (ev.clientX - box.left + 14) + "px";
    tip.style.top = (ev.clientY - box.top + 14) + "px";
  });
  gN.addEventListener("mouseout", function () { tip.hidden = true; clearFocus(); });
  // search
  var search = document.getElementById("search"), count = document.getElementById("count");
  function runSearch() {
    var q = search.value.trim().toLowerCase(), hits = [];
    circles.forEach(function (c, i) {
      var hit = q !== "" && nodes[i].label.indexOf(q) >= 0;
      c.classList.toggle("hit", hit); c.classList.toggle("dim", q !== "" && !hit);
      if (hit) hits.push(i);
    });
    lines.forEach(function (l) { l.classList.toggle("dim", q !== ""); });
    count.textContent = q === "" ? "" : hits.length + " match" + (hits.length === 1 ? "" : "es");
    svg.setAttribute("data-search-hits", hits.length);
    return hits;
  }
  search.addEventListener("input", runSearch);
  search.addEventListener("keydown", function (ev) {
    if (ev.key !== "Enter") return;
    var hits = runSearch();
    if (hits.length) { var n = nodes[hits[0]]; setView(n.x - 150, n.y - 100, 300, 200); }
  });
  // zoom and pan
  var vb = [0, 0, data.size, data.size];
  function setView(x, y, w, h) { vb = [x, y, w, h]; svg.setAttribute("viewBox", vb.join(" ")); }
  svg.addEventListener("wheel", function (ev) {
    ev.preventDefault();
    var box = svg.getBoundingClientRect(), f = ev.deltaY > 0 ? 1.15 : 1 / 1.15;
    var px = vb[0] + (ev.clientX - box.left) / box.width * vb[2];
    var py = vb[1] + (ev.clientY - box.top) / box.height * vb[3];
    setView(px - (px - vb[0]) * f, py - (py - vb[1]) * f, vb[2] * f, vb[3] * f);
  }, {passive: false});
  var drag = null;
  svg.addEventListener("mousedown", function (ev) {
    drag = [ev.clientX, ev.clientY, vb[0], vb[1]];
  });
  window.addEventListener("mouseup", function () { drag = null; });
  window.addEventListener("mousemove", function (ev) {
    if (!drag) return;
    var box = svg.getBoundingClientRect();
    setView(drag[2] - (ev.clientX - drag[0]) / box.width * vb[2],
            drag[3] - (ev.clientY - drag[1]) / box.height * vb[3], vb[2], vb[3]);
  });
  svg.setAttribute("data-rendered-nodes", circles.length);
  svg.setAttribute("data-rendered-edges", lines.length);
  document.body.setAttribute("data-rendered", "true");
})();
"""


def _json_for_script(obj: Any) -> str:
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")


def _check_colour(table: GraphTable, color_by: object) -> str:
    """``color_by`` if ``table`` can be coloured so.

    Raises:
        ConfigError: an unknown colouring, or ``shard`` for a graph without shards.
    """
    if not isinstance(color_by, str) or color_by not in COLOR_BY:
        raise ConfigError(f"unknown colouring {color_by!r}; choose one of {', '.join(COLOR_BY)}")
    if color_by == "shard" and table.shard is None:
        raise ConfigError(
            "cannot colour by shard: this graph is not from a distributed colony; "
            "colour by community or type"
        )
    return color_by


def render_html(
    table: TableSource,
    *,
    title: str = "phago knowledge graph",
    color_by: str = "community",
    max_nodes: int = 800,
    labels: int = 40,
    seed: int = 0,
) -> str:
    """The self-contained HTML page (see the module docstring).

    Args:
        table: the graph.
        title: page title.
        color_by: initial colouring: ``community``, ``shard`` (needs shards) or ``type``.
        max_nodes: draw at most this many nodes (the most accessed), a whole number >= 1.
        labels: write the labels of this many most accessed nodes, a whole number >= 0.
        seed: layout seed, a whole number >= 0.

    Raises:
        ConfigError: ``title`` is not text, ``max_nodes``, ``labels`` or ``seed`` is out
            of range or not a whole number, or ``color_by`` is unknown, or ``shard`` for a
            graph without shards.

    Example:
        >>> from phago.graph import HebbianGraph
        >>> g = HebbianGraph(); _ = g.wire_clique(g.present(["a", "b"]), 0)
        >>> page = render_html(GraphTable.from_graph(g), title="Two concepts")
        >>> "<title>Two concepts</title>" in page and '"label":"a"' in page
        True
        >>> render_html(g, color_by="shard")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        phago.errors.ConfigError: cannot colour by shard: this graph is not from a distributed ...
    """
    table = GraphTable.of(table)
    title = _title(title)
    labels = whole_number(labels, "labels", 0)
    color_by = _check_colour(table, color_by)
    return _page(table, view_data(table, max_nodes=max_nodes, seed=seed), title, color_by, labels)


def _page(table: GraphTable, v: ViewData, title: str, color_by: str, labels: int) -> str:
    """:func:`render_html`'s page for the view ``v`` of ``table`` (options checked)."""
    pad = 40.0
    xy = pad + v.pos * (_SIZE - 2 * pad)
    r = _radius(v.access)
    nodes = [
        {
            "label": v.labels[i],
            "type": v.node_types[i],
            "access": int(v.access[i]),
            "degree": int(v.degree[i]),
            "community": int(v.community[i]),
            "shard": None if v.shard is None else int(v.shard[i]),
            "x": round(float(xy[i, 0]), 2),
            "y": round(float(xy[i, 1]), 2),
            "r": round(float(r[i]), 2),
        }
        for i in range(len(v.labels))
    ]
    edges = [
        [int(a), int(b), round(float(w), 4), int(c)]
        for a, b, w, c in zip(v.edge_a, v.edge_b, v.weight, v.co_activations, strict=True)
    ]
    data = {
        "size": _SIZE,
        "nodes": nodes,
        "edges": edges,
        "palette": list(PALETTE),
        "labels": labels,
    }
    note = page_note(table, len(nodes))
    options = "".join(
        f'<option value="{c}"{" selected" if c == color_by else ""}>{c}</option>'
        for c in COLOR_BY
        if c != "shard" or table.shard is not None
    )
    t = html.escape(title)
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="en"><head><meta charset="utf-8"><title>{t}</title>'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<style>{_CSS}</style></head><body>"
        f'<header><h1>{t}</h1><input id="search" type="search" placeholder="Search concepts…" '
        'autocomplete="off" aria-label="Search concepts"><span id="count"></span>'
        f'<label>colour by <select id="colorby">{options}</select></label>'
        f'<span id="note">{html.escape(note)}</span></header>'
        f'<div id="wrap"><svg id="graph" xmlns="http://www.w3.org/2000/svg" '
        f'viewBox="0 0 {_SIZE:g} {_SIZE:g}" role="img" aria-label="{t}">'
        '<g id="edges"></g><g id="nodes"></g><g id="labels"></g></svg>'
        '<div id="tip" hidden></div><div id="legend"></div></div>'
        f'<script type="application/json" id="phago-data">{_json_for_script(data)}</script>'
        f"<script>{_JS}</script></body></html>\n"
    )


_HTML_OPTIONS = frozenset({"title", "color_by", "max_nodes", "labels", "seed"})
"""The options :func:`render_html` takes (and :func:`write_html` passes on)."""


def write_html(table: TableSource, path: PathLike, **options: Any) -> Path:
    """Write :func:`render_html` to ``path`` (options as for :func:`render_html`), whole or
    not at all (see :func:`~phago.export.atomic_output`): when writing fails, a file
    already at ``path`` is left as it was. ``"-"`` (or ``/dev/stdout``, through its
    descriptor) writes the page to standard output; an existing path that is no regular file
    (a FIFO, a terminal) is written in place.

    Raises:
        ConfigError: an option :func:`render_html` does not take, or a bad value (as
            :func:`render_html`); nothing was written.
        OutputError: the file cannot be written (the message names it).
        StoreError: ``path`` is a phago store (see
            :func:`~phago.export.check_output_path`); nothing was written.
        BrokenPipeError: ``path`` is a pipe whose reader closed it.

    Example:
        >>> import tempfile, pathlib
        >>> from phago.graph import HebbianGraph
        >>> g = HebbianGraph(); _ = g.wire_clique(g.present(["a", "b"]), 0)
        >>> write_html(GraphTable.from_graph(g), pathlib.Path(tempfile.mkdtemp()) / "g.html").name
        'g.html'
    """
    unknown = sorted(set(options) - _HTML_OPTIONS)
    if unknown:
        known = ", ".join(sorted(_HTML_OPTIONS))
        raise ConfigError(f"unknown options {unknown}; write_html takes {known}")
    p = Path(path)
    _write_text(p, render_html(table, **options))
    return p


def _write_text(p: Path, text: str) -> None:
    """Write ``text`` to ``p`` whole or not at all (to standard output for ``"-"`` and its
    other names, in place for a stream)."""
    try:
        if writes_standard_output(p):
            with _stdout_text(p) as out:
                out.write(text)
            return
        with atomic_output(p) as tmp:
            tmp.write_text(text, encoding="utf-8", newline="")
    except (PhagoError, BrokenPipeError):
        raise  # (a StoreError is an OSError too: it keeps its own type and message)
    except OSError as exc:
        raise OutputError(f"cannot write {p}: {exc.strerror or exc}") from exc


def write_png(
    table: TableSource,
    path: PathLike,
    *,
    color_by: str = "community",
    max_nodes: int = 800,
    labels: int = 25,
    seed: int = 0,
    title: str = "phago knowledge graph",
) -> Path:
    """Draw the graph to a PNG with matplotlib (same layout and colours as the HTML view),
    written whole or not at all (see :func:`~phago.export.atomic_output`); ``"-"`` (or
    ``/dev/stdout``) writes the PNG's bytes to standard output, an existing path that is no
    regular file (a FIFO) is written in place.

    Options are as for :func:`render_html`.

    Raises:
        ConfigError: ``title`` is not text, ``max_nodes``, ``labels`` or ``seed`` is out
            of range or not a whole number, or ``color_by`` is unknown (or ``shard`` for a
            graph without shards); nothing was written.
        OutputError: the file cannot be written (the message names it).
        StoreError: ``path`` is a phago store (see
            :func:`~phago.export.check_output_path`); nothing was written.
        BrokenPipeError: ``path`` is a pipe whose reader closed it.

    Example:
        >>> import tempfile, pathlib
        >>> from phago.graph import HebbianGraph
        >>> g = HebbianGraph(); _ = g.wire_clique(g.present(["a", "b", "c"]), 0)
        >>> p = write_png(GraphTable.from_graph(g), pathlib.Path(tempfile.mkdtemp()) / "g.png")
        >>> p.read_bytes()[:4] == b"\\x89PNG"
        True
    """
    table = GraphTable.of(table)
    title = _title(title)
    labels = whole_number(labels, "labels", 0)
    max_nodes = whole_number(max_nodes, "max_nodes", 1)
    seed = whole_number(seed, "seed", 0)
    color_by = _check_colour(table, color_by)
    p = Path(path)
    _draw_png(view_data(table, max_nodes=max_nodes, seed=seed), p, title, color_by, labels)
    return p


def _draw_png(v: ViewData, p: Path, title: str, color_by: str, labels: int) -> None:
    """:func:`write_png`'s picture of the view ``v``, written to ``p`` (options checked)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.collections import LineCollection
    from matplotlib.figure import Figure

    fig = Figure(figsize=(12, 12), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    ax.set_axis_off()
    ax.set_title(f"{title} — tick {v.tick}, {v.total_nodes} nodes, {v.total_edges} edges")
    xy = v.pos.copy()
    xy[:, 1] = 1.0 - xy[:, 1]
    if len(v.edge_a):
        segs = np.stack([xy[v.edge_a], xy[v.edge_b]], axis=1)
        ax.add_collection(
            LineCollection(
                list(segs), linewidths=0.3 + 2.5 * v.weight, colors="#8a8fa3", alpha=0.45
            )
        )
    if color_by == "shard" and v.shard is not None:
        groups = v.shard
    elif color_by == "type":
        names = sorted(set(v.node_types))
        groups = np.array([names.index(t) for t in v.node_types], dtype=np.int64)
    else:
        groups = v.community
    ranks = np.unique(groups, return_inverse=True)[1]
    colours = [PALETTE[int(g) % len(PALETTE)] for g in ranks]
    r = _radius(v.access)
    if len(r):
        ax.scatter(
            xy[:, 0],
            xy[:, 1],
            s=(r * 1.6) ** 2,
            c=colours,
            edgecolors="white",
            linewidths=0.6,
            zorder=2,
        )
        for i in np.argsort(-v.access, kind="stable")[:labels]:
            ax.annotate(
                v.labels[int(i)],
                (xy[int(i), 0], xy[int(i), 1]),
                fontsize=8,
                zorder=3,
                xytext=(4, 4),
                textcoords="offset points",
            )
    ax.set_xlim(-0.03, 1.03)
    ax.set_ylim(-0.03, 1.03)
    try:
        if writes_standard_output(p):
            with _stdout_bytes(p) as raw:
                fig.savefig(raw, format="png")
            return
        with atomic_output(p) as tmp:
            fig.savefig(tmp, format="png")
    except (PhagoError, BrokenPipeError):
        raise  # (a StoreError is an OSError too: it keeps its own type and message)
    except OSError as exc:
        raise OutputError(f"cannot write {p}: {exc.strerror or exc}") from exc


def write_html_and_png(
    table: TableSource,
    html_path: PathLike,
    png_path: PathLike,
    *,
    title: str = "phago knowledge graph",
    color_by: str = "community",
    max_nodes: int = 800,
    labels: int | None = None,
    seed: int = 0,
) -> tuple[Path, Path]:
    """Write the HTML view and the PNG of the same picture, laying the graph out once.

    The files are those of :func:`write_html` and :func:`write_png` with the same options
    (``labels``: None gives each its own default, 40 on the page and 25 in the picture);
    the HTML file is written first, each whole or not at all. Either path may be ``"-"``
    (standard output, or another name of it such as ``/dev/stdout``), not both.

    Raises:
        ConfigError: a bad option value (as :func:`render_html`; ``color_by`` included), or
            both paths are ``"-"``; nothing was written.
        OutputError: a file that cannot be written (the message names it).
        StoreError: a path is a phago store (see :func:`~phago.export.check_output_path`).
        BrokenPipeError: a path is a pipe whose reader closed it.

    Example:
        >>> import tempfile, pathlib
        >>> from phago.graph import HebbianGraph
        >>> g = HebbianGraph(); _ = g.wire_clique(g.present(["a", "b", "c"]), 0)
        >>> d = pathlib.Path(tempfile.mkdtemp())
        >>> files = write_html_and_png(GraphTable.from_graph(g), d / "g.html", d / "g.png")
        >>> [p.name for p in files]
        ['g.html', 'g.png']
    """
    table = GraphTable.of(table)
    title = _title(title)
    page_labels = whole_number(40 if labels is None else labels, "labels", 0)
    png_labels = whole_number(25 if labels is None else labels, "labels", 0)
    max_nodes = whole_number(max_nodes, "max_nodes", 1)
    seed = whole_number(seed, "seed", 0)
    color_by = _check_colour(table, color_by)
    page, picture = Path(html_path), Path(png_path)
    if writes_standard_output(page) and writes_standard_output(picture):
        raise ConfigError("the page and the picture cannot both go to standard output ('-')")
    v = view_data(table, max_nodes=max_nodes, seed=seed)
    _write_text(page, _page(table, v, title, color_by, page_labels))
    _draw_png(v, picture, title, color_by, png_labels)
    return page, picture
