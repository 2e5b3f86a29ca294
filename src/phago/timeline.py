"""A run's timeline: the colony's counts after every tick, as a file or a chart.

Both colony classes keep one :class:`TickRecord` per tick they run (the most recent
:data:`TIMELINE_TICKS`): ``colony.timeline()``. A record holds what is at hand when a tick
ends, so keeping it costs the tick nothing measurable: the graph's nodes and edges, the
agents alive, the documents held and digested, and how long the tick took (on a sharded
colony also the cross-shard edges the tick made and the barrier's share of its time).
That is the growth curve a study of the colony's self-organisation starts from: how fast
the graph grows and when it settles, when the digesters die out, what each tick costs.

:func:`write_timeline` writes the records in the format the file's name asks for: ``.csv``
(one row per tick, a header of :data:`TIMELINE_FIELDS`), ``.jsonl`` (one object per
tick), ``.json`` (a list), ``.svg`` (a chart of the counts against the tick) or ``.html``
(the chart and a summary on a page that needs no network). ``phago run --timeline FILE``
writes the run's.

Example:
    >>> from phago import Colony
    >>> c = Colony(seed=1)
    >>> _ = c.ingest_document("Cells", "cell membrane lipid bilayer protein channel")
    >>> _ = c.spawn_digesters(2)
    >>> _ = c.run(5)
    >>> [(r.tick, r.documents_digested) for r in c.timeline()][-1]
    (5, 1)
    >>> timeline_csv(c.timeline()[:1]).splitlines()[0].split(",")[:4]
    ['tick', 'nodes', 'edges', 'agents_alive']
"""

from __future__ import annotations

import csv
import html
import io
import json
import math
import os
from collections.abc import Iterable
from dataclasses import astuple, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

from phago.errors import ConfigError, OutputError, PhagoError

__all__ = [
    "TIMELINE_FIELDS",
    "TIMELINE_FORMATS",
    "TIMELINE_TICKS",
    "TickRecord",
    "TimelineBuffer",
    "timeline_csv",
    "timeline_format",
    "timeline_html",
    "timeline_svg",
    "write_timeline",
]

TIMELINE_TICKS = 100_000
"""How many ticks' records a colony keeps (the most recent; 72 bytes a tick, about 9 MB at
most with the room kept for the next ones)."""


@dataclass(frozen=True, slots=True)
class TickRecord:
    """The colony's counts when one tick ended.

    Attributes:
        tick: the tick that ended (the colony's tick after it).
        nodes: concepts in the graph (on a sharded colony, each counted once, by its owner).
        edges: edges in the graph (on a sharded colony, as the shards hold them).
        agents_alive: agents alive after the tick.
        documents_total: documents held.
        documents_digested: documents an agent has consumed.
        cross_shard_edges: edges between concepts on different shards the tick made or
            reinforced (0 on one colony).
        tick_ms: the tick's wall time in milliseconds (the only figure that differs
            between two runs of the same seed).
        barrier_ms: of ``tick_ms``, the time the shards waited for the slowest one
            (0 on one colony).
    """

    tick: int
    nodes: int
    edges: int
    agents_alive: int
    documents_total: int
    documents_digested: int
    cross_shard_edges: int = 0
    tick_ms: float = 0.0
    barrier_ms: float = 0.0

    def to_dict(self) -> dict[str, int | float]:
        """The record as a plain dict, keys in :data:`TIMELINE_FIELDS` order.

        Example:
            >>> TickRecord(3, 10, 20, 4, 5, 2).to_dict()["edges"]
            20
        """
        return dict(zip(TIMELINE_FIELDS, astuple(self), strict=True))


TIMELINE_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(TickRecord))
"""The columns of a timeline file, in order."""

_INT_FIELDS = 7  # the first seven fields are counts, the last two milliseconds


class TimelineBuffer:
    """The most recent ``limit`` ticks' counts, as rows of one NumPy array: a colony adds a
    row per tick in about a microsecond, and a checkpoint copies them all at once.

    Example:
        >>> b = TimelineBuffer(limit=2)
        >>> for t in (1, 2, 3):
        ...     b.append(t, 10 * t, 5, 2, 4, 1, 0, 0.5, 0.0)
        >>> [r.tick for r in b.records()], b.rows().shape
        ([2, 3], (2, 9))
    """

    __slots__ = ("_n", "_rows", "_start", "limit")

    def __init__(self, limit: int = TIMELINE_TICKS) -> None:
        self.limit = max(int(limit), 1)
        self._rows = np.empty((min(64, self.limit), len(TIMELINE_FIELDS)), dtype=np.float64)
        self._start = 0
        self._n = 0

    def __len__(self) -> int:
        return self._n

    def append(self, *values: float) -> None:
        """Add one tick's row (the values of a :class:`TickRecord`, in order), dropping the
        oldest once ``limit`` rows are held."""
        end = self._start + self._n
        if end == len(self._rows):
            if self._start:  # (only once full: the oldest rows went)
                self._rows[: self._n] = self._rows[self._start : end]
                self._start, end = 0, self._n
            else:
                grown = np.empty((2 * len(self._rows), self._rows.shape[1]), dtype=np.float64)
                grown[: self._n] = self._rows[: self._n]
                self._rows = grown
        self._rows[end] = values
        if self._n == self.limit:
            self._start += 1
        else:
            self._n += 1

    def extend_rows(self, rows: np.ndarray) -> None:
        """Add rows as :meth:`rows` gives them (a checkpoint's), oldest first."""
        more = np.asarray(rows, dtype=np.float64).reshape(-1, len(TIMELINE_FIELDS))
        held = np.concatenate([self.rows(), more])[-self.limit :]
        self._rows = np.empty((max(64, 2 * len(held)), held.shape[1]), dtype=np.float64)
        self._rows[: len(held)] = held
        self._start, self._n = 0, len(held)

    def rows(self) -> np.ndarray:
        """A copy of the rows held, oldest first (one per tick, :data:`TIMELINE_FIELDS`)."""
        return self._rows[self._start : self._start + self._n].copy()

    def records(self) -> list[TickRecord]:
        """The rows as :class:`TickRecord`, oldest first."""
        rows = self._rows[self._start : self._start + self._n]
        counts = rows[:, :_INT_FIELDS].astype(np.int64).tolist()
        times = rows[:, _INT_FIELDS:].tolist()
        return [TickRecord(*c, *t) for c, t in zip(counts, times, strict=True)]

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        # only the rows held, not the room kept for the next ones
        return (_buffer_of, (self.rows(), self.limit))


def _buffer_of(rows: np.ndarray, limit: int) -> TimelineBuffer:
    """A :class:`TimelineBuffer` holding ``rows`` (what its ``__reduce__`` gave)."""
    buffer = TimelineBuffer(limit)
    buffer.extend_rows(rows)
    return buffer


TIMELINE_FORMATS: dict[str, str] = {
    ".csv": "csv",
    ".jsonl": "jsonl",
    ".json": "json",
    ".svg": "svg",
    ".html": "html",
    ".htm": "html",
}
"""The file name endings :func:`write_timeline` takes, and the format each names."""


def timeline_format(path: str | os.PathLike[str]) -> str:
    """The format a timeline file named ``path`` is written in, from its ending.

    Raises:
        ConfigError: a name ending in none of :data:`TIMELINE_FORMATS`.

    Example:
        >>> timeline_format("run.CSV"), timeline_format("out/run.html")
        ('csv', 'html')
        >>> timeline_format("run.txt")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        phago.errors.ConfigError: a timeline file's name ends in .csv, .jsonl, ...
    """
    suffix = Path(os.fspath(path)).suffix.lower()
    fmt = TIMELINE_FORMATS.get(suffix)
    if fmt is None:
        endings = ", ".join(TIMELINE_FORMATS)
        raise ConfigError(f"a timeline file's name ends in {endings}; got {os.fspath(path)!r}")
    return fmt


def _checked(records: Iterable[TickRecord]) -> list[TickRecord]:
    """``records`` as a list, each a :class:`TickRecord` of whole numbers and finite
    milliseconds (a colony's always are; one a user built may not be).

    Raises:
        ConfigError: naming the first record that is not.
    """
    rows = list(records)
    for r in rows:
        if not isinstance(r, TickRecord):
            raise ConfigError(f"a timeline holds TickRecords, got {type(r).__name__}")
        values = astuple(r)
        counts = values[:_INT_FIELDS]
        if not all(isinstance(v, int | np.integer) and not isinstance(v, bool) for v in counts):
            raise ConfigError(f"a TickRecord's counts are whole numbers, got {r!r}")
        if not all(isinstance(v, int | float) and math.isfinite(v) for v in values[_INT_FIELDS:]):
            raise ConfigError(f"a TickRecord's milliseconds are finite numbers, got {r!r}")
    return rows


def timeline_csv(records: Iterable[TickRecord]) -> str:
    """The records as CSV text: a header of :data:`TIMELINE_FIELDS`, then a row per tick
    (times to the microsecond).

    Example:
        >>> print(timeline_csv([TickRecord(1, 3, 2, 1, 1, 0, 0, 1.23456)]), end="")
        tick,nodes,edges,agents_alive,documents_total,documents_digested,cross_shard_edges,tick_ms,barrier_ms
        1,3,2,1,1,0,0,1.235,0.0
    """
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(TIMELINE_FIELDS)
    for r in _checked(records):
        writer.writerow([*astuple(r)[:-2], round(r.tick_ms, 3), round(r.barrier_ms, 3)])
    return buf.getvalue()


def _json_rows(records: Iterable[TickRecord]) -> list[dict[str, int | float]]:
    rows = []
    for r in _checked(records):
        row = r.to_dict()
        row["tick_ms"], row["barrier_ms"] = round(r.tick_ms, 3), round(r.barrier_ms, 3)
        rows.append(row)
    return rows


# ---------------------------------------------------------------------------- the chart

_PANELS: tuple[tuple[str, tuple[tuple[str, str, str], ...]], ...] = (
    (
        "graph",
        (
            ("nodes", "nodes", "#1f77b4"),
            ("edges", "edges", "#d62728"),
            ("cross_shard_edges", "cross-shard made", "#17becf"),
        ),
    ),
    (
        "documents",
        (
            ("documents_digested", "digested", "#2ca02c"),
            ("documents_total", "held", "#7f7f7f"),
        ),
    ),
    ("agents", (("agents_alive", "alive", "#9467bd"),)),
    ("ms per tick", (("tick_ms", "tick", "#ff7f0e"), ("barrier_ms", "barrier", "#8c564b"))),
)
"""The chart's panels, top to bottom: a title, then (field, legend, colour) per line (drawn
in this order; a line of the sharded colony's alone, all zeros on one colony, is left
out)."""

_SHARDED_ONLY = frozenset({"cross_shard_edges", "barrier_ms"})
_DASHED = frozenset({"documents_total"})  # (drawn over "digested", which it equals at the end)

_WIDTH, _PANEL_HEIGHT, _LEFT, _RIGHT, _GAP = 760, 130, 70, 110, 34
_MAX_POINTS = 1200  # a line keeps at most about this many points (the extremes survive)


def _decimated(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """At most about :data:`_MAX_POINTS` of the points ``(x, y)``: in each of
    ``_MAX_POINTS / 2`` runs of consecutive points, the lowest and highest (in their
    order), so a spike of one tick still shows."""
    n = len(x)
    if n <= _MAX_POINTS:
        return x, y
    buckets = np.array_split(np.arange(n), _MAX_POINTS // 2)
    keep: list[int] = []
    for b in buckets:
        lo, hi = int(b[np.argmin(y[b])]), int(b[np.argmax(y[b])])
        keep.extend(sorted({lo, hi}))
    idx = np.asarray(keep)
    return x[idx], y[idx]


def _nice_top(value: float) -> float:
    """The smallest of 1, 2, 2.5, 5 times a power of ten at least ``value`` (1 for 0)."""
    if value <= 0:
        return 1.0
    power = 10.0 ** np.floor(np.log10(value))
    for step in (1.0, 2.0, 2.5, 5.0, 10.0):
        if step * power >= value:
            return float(step * power)
    return float(10 * power)  # pragma: no cover - the loop ends at 10


def _label(value: float) -> str:
    """``value`` for an axis or a legend: 3 significant digits, large ones as k and M.

    Example:
        >>> [_label(v) for v in (0.04321, 250.4, 1582.0, 12500.0, 3e6)]
        ['0.0432', '250', '1582', '12.5k', '3M']
    """
    if value >= 1e6:
        return f"{value / 1e6:.3g}M"
    if value >= 1e4:
        return f"{value / 1e3:.3g}k"
    if value >= 100:
        return f"{value:.0f}"
    return f"{value:.3g}"


def _panel_frame(
    key: str, title: str, top: float, height: float, left: float, width: float, peak: float
) -> str:
    """The SVG of a chart panel's frame: its group (``data-panel`` ``key``, left open for
    its lines), title, box, and three grid lines labelled 0, half and all of ``peak``."""
    parts = [
        f'<g class="panel" data-panel="{html.escape(key)}">'
        f'<text x="{left}" y="{top - 6}" font-weight="bold">{html.escape(title)}</text>'
        f'<rect x="{left}" y="{top}" width="{width}" height="{height}" fill="none" '
        'stroke="#ccc"/>'
    ]
    for frac in (0.0, 0.5, 1.0):
        y = top + height - frac * height
        parts.append(
            f'<line x1="{left - 4}" y1="{y:.1f}" x2="{left + width}" y2="{y:.1f}" stroke="#eee"/>'
            f'<text x="{left - 7}" y="{y + 4:.1f}" text-anchor="end">{_label(frac * peak)}</text>'
        )
    return "".join(parts)


def _write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` to ``path`` whole or not at all (:func:`phago.export.atomic_output`).

    Raises:
        StoreError: ``path`` is a phago store.
        OutputError: the file cannot be written (the message says why).
    """
    from phago.export import _text_output

    target = Path(os.fspath(path))
    try:
        with _text_output(target) as fh:
            fh.write(text)
    except PhagoError:
        raise
    except OSError as exc:
        raise OutputError(f"cannot write {target}: {exc.strerror or exc}") from exc
    return target


def timeline_svg(records: Iterable[TickRecord], *, title: str = "phago run") -> str:
    """A chart of the records: four panels sharing the tick axis (the graph's nodes and
    edges, and on a sharded colony the cross-shard edges each tick made; documents held and
    digested; agents alive; milliseconds per tick and the
    barrier's share), each scaled from 0 to a round number above its largest value (the
    milliseconds above their 99th percentile, so that the first tick's compiling does not
    flatten the rest: a higher value is drawn at the top, and the legend gives the
    largest). Long runs are thinned to about 1,200 points a line, keeping each stretch's lowest
    and highest value. The SVG needs no fonts or scripts from elsewhere.

    Raises:
        ConfigError: no records, or something in them that is no :class:`TickRecord`.

    Example:
        >>> svg = timeline_svg([TickRecord(t, 2 * t, t * t, 3, 4, min(t, 4)) for t in range(1, 9)])
        >>> svg.startswith("<svg") and svg.count("<polyline") == 6
        True
    """
    rows = _checked(records)
    if not rows:
        raise ConfigError("the timeline has no ticks to draw: run the colony first")
    columns = {
        name: np.array([getattr(r, name) for r in rows], dtype=float) for name in TIMELINE_FIELDS
    }
    ticks = columns["tick"]
    t0, t1 = float(ticks.min()), float(ticks.max())
    span = max(t1 - t0, 1.0)
    plot_w = _WIDTH - _LEFT - _RIGHT
    height = 40 + len(_PANELS) * (_PANEL_HEIGHT + _GAP) + 26
    heading = (
        f'<text x="{_LEFT}" y="22" font-size="15" font-weight="bold">{html.escape(title)}</text>'
        if title
        else ""
    )
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{_WIDTH}" height="{height}" '
        f'viewBox="0 0 {_WIDTH} {height}" font-family="sans-serif" font-size="11" '
        f'data-ticks="{len(rows)}">',
        f'<rect width="{_WIDTH}" height="{height}" fill="white"/>',
        heading,
    ]

    def sx(t: np.ndarray) -> np.ndarray:
        return _LEFT + (t - t0) / span * plot_w

    for i, (panel, lines) in enumerate(_PANELS):
        top = 40 + i * (_PANEL_HEIGHT + _GAP)
        bottom = top + _PANEL_HEIGHT
        highest = max(float(columns[f].max()) for f, _, _ in lines)
        clipped = panel == "ms per tick" and len(rows) >= 20
        peak = _nice_top(
            max(float(np.percentile(columns[f], 99)) for f, _, _ in lines) if clipped else highest
        )
        out.append(_panel_frame(panel, panel, top, _PANEL_HEIGHT, _LEFT, plot_w, peak))
        drawn = [line for line in lines if line[0] not in _SHARDED_ONLY or columns[line[0]].any()]
        for j, (name, legend, colour) in enumerate(drawn):
            xs, ys = _decimated(ticks, columns[name])
            py = bottom - np.minimum(ys / peak, 1.0) * _PANEL_HEIGHT
            points = " ".join(f"{a:.1f},{b:.1f}" for a, b in zip(sx(xs), py, strict=True))
            column = columns[name]
            said = f"last {_label(float(column[-1]))}"
            if clipped:
                said += f", max {_label(float(column.max()))}"
            dash = ' stroke-dasharray="5 4"' if name in _DASHED else ""
            out.append(
                f'<polyline fill="none" stroke="{colour}" stroke-width="1.5"{dash} '
                f'data-field="{name}" points="{points}"/>'
                f'<text x="{_LEFT + plot_w + 8}" y="{top + 14 + 28 * j}" fill="{colour}">'
                f"{html.escape(legend)}</text>"
                f'<text x="{_LEFT + plot_w + 8}" y="{top + 26 + 28 * j}" '
                f'fill="{colour}" font-size="9">{said}</text>'
            )
        out.append("</g>")
    axis_y = 40 + len(_PANELS) * (_PANEL_HEIGHT + _GAP) - _GAP + 14
    for frac in (0.0, 0.25, 0.5, 0.75, 1.0):
        tick = t0 + frac * (t1 - t0)
        out.append(
            f'<text x="{_LEFT + frac * plot_w:.1f}" y="{axis_y}" text-anchor="middle">'
            f"{_label(round(tick))}</text>"
        )
    out.append(
        f'<text x="{_LEFT + plot_w / 2:.1f}" y="{axis_y + 14}" text-anchor="middle">tick</text>'
        "</svg>"
    )
    return "\n".join(out)


def timeline_html(records: Iterable[TickRecord], *, title: str = "phago run") -> str:
    """A page holding :func:`timeline_svg`'s chart and a table of where the run ended
    (no scripts, nothing fetched from the network).

    Raises:
        ConfigError: as :func:`timeline_svg`.

    Example:
        >>> page = timeline_html([TickRecord(1, 2, 1, 3, 4, 1)], title="a <run>")
        >>> "<title>a &lt;run&gt;</title>" in page and "<svg" in page
        True
    """
    rows = _checked(records)
    chart = timeline_svg(rows, title="")  # (the page's heading is the title)
    last = rows[-1]
    total_ms = sum(r.tick_ms for r in rows)
    cells = [
        ("ticks recorded", f"{len(rows):,} ({rows[0].tick:,} to {last.tick:,})"),
        ("nodes", f"{last.nodes:,}"),
        ("edges", f"{last.edges:,}"),
        ("agents alive", f"{last.agents_alive:,}"),
        ("documents digested", f"{last.documents_digested:,} of {last.documents_total:,}"),
        ("time in ticks", f"{total_ms / 1000:.3f} s"),
    ]
    table = "".join(
        f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in cells
    )
    name = html.escape(title)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{name}</title><style>body{{font-family:sans-serif;margin:2em}}"
        "th{text-align:left;padding-right:1.5em}</style></head><body>"
        f"<h1>{name}</h1><table>{table}</table>\n{chart}\n</body></html>\n"
    )


def write_timeline(
    records: Iterable[TickRecord], path: str | os.PathLike[str], *, title: str = "phago run"
) -> Path:
    """Write the records to ``path`` in the format its name asks for
    (:func:`timeline_format`): whole or not at all (a file there is replaced only once the
    new one is complete; :func:`phago.export.atomic_output`).

    Args:
        records: the ticks' records, such as ``colony.timeline()``.
        path: the file to write (``.csv``, ``.jsonl``, ``.json``, ``.svg`` or ``.html``).
        title: the chart's title (``.svg`` and ``.html``).

    Returns:
        ``path`` as a :class:`~pathlib.Path`.

    Raises:
        ConfigError: an unknown ending, records that are no :class:`TickRecord`, or a
            chart of no ticks.
        StoreError: ``path`` is a phago store (it is never overwritten).
        OutputError: the file cannot be written (the message says why).

    Example:
        >>> import tempfile, pathlib
        >>> out = pathlib.Path(tempfile.mkdtemp()) / "run.jsonl"
        >>> _ = write_timeline([TickRecord(1, 2, 1, 3, 4, 1)], out)
        >>> json.loads(out.read_text())["agents_alive"]
        3
    """
    fmt = timeline_format(path)
    rows = _checked(records)
    if fmt == "csv":
        text = timeline_csv(rows)
    elif fmt == "jsonl":
        text = "".join(json.dumps(r) + "\n" for r in _json_rows(rows))
    elif fmt == "json":
        text = json.dumps(_json_rows(rows), separators=(",", ":")) + "\n"
    elif fmt == "svg":
        text = timeline_svg(rows, title=title) + "\n"
    else:
        text = timeline_html(rows, title=title)
    return _write_text(path, text)
