"""Runs side by side: timelines read back from their files and drawn in one chart.

A study of the colony compares runs (seeds, configurations, shard counts): each ``phago
run --timeline FILE`` (or :func:`phago.timeline.write_timeline`) leaves a file of its ticks'
counts; :func:`read_timeline` reads one back (``.csv``, ``.jsonl`` or ``.json``), and
:func:`comparison_svg` / :func:`write_comparison` draw several in one chart: a panel per
count (concepts, edges, documents digested, agents alive, milliseconds per tick), a line
per run, each run its own colour. ``phago compare FILE... --out runs.html`` does both.

Example:
    >>> from phago.timeline import TickRecord
    >>> fast = [TickRecord(t, 10 * t, 20 * t, 4, 9, min(9, 3 * t)) for t in range(1, 5)]
    >>> slow = [TickRecord(t, 5 * t, 8 * t, 4, 9, min(9, t)) for t in range(1, 9)]
    >>> svg = comparison_svg({"seed 0": fast, "seed 1": slow})
    >>> svg.count('data-run="seed 0"'), svg.count('data-run="seed 1"')
    (5, 5)
"""

from __future__ import annotations

import csv
import html
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from phago.errors import ConfigError
from phago.timeline import (
    TIMELINE_FIELDS,
    TickRecord,
    _checked,
    _decimated,
    _label,
    _nice_top,
    _panel_frame,
    _write_text,
    timeline_format,
)

__all__ = ["COMPARED", "comparison_html", "comparison_svg", "read_timeline", "write_comparison"]

COMPARED: tuple[tuple[str, str], ...] = (
    ("nodes", "concepts"),
    ("edges", "edges"),
    ("documents_digested", "documents digested"),
    ("agents_alive", "agents alive"),
    ("tick_ms", "ms per tick"),
)
"""The counts a comparison draws, a panel each: (field of :class:`TickRecord`, title)."""

_COLOURS = (
    "#1f77b4",
    "#d62728",
    "#2ca02c",
    "#9467bd",
    "#ff7f0e",
    "#8c564b",
    "#e377c2",
    "#17becf",
)
_WIDTH, _PANEL_HEIGHT, _LEFT, _RIGHT, _GAP = 760, 110, 70, 30, 34


def read_timeline(path: str | os.PathLike[str]) -> list[TickRecord]:
    """The records of a timeline file (``.csv``, ``.jsonl`` or ``.json``, as
    :func:`phago.timeline.write_timeline` writes them).

    Raises:
        ConfigError: a chart's name (``.svg``, ``.html``: no records to read back) or an
            unknown ending.
        DocumentError: the file is not a timeline (its columns, or a value, are not).
        OSError: it cannot be read.

    Example:
        >>> import tempfile, pathlib
        >>> from phago.timeline import write_timeline
        >>> d = pathlib.Path(tempfile.mkdtemp())
        >>> p = write_timeline([TickRecord(1, 2, 3, 4, 5, 6)], d / "t.csv")
        >>> read_timeline(p)[0].edges
        3
    """
    from phago.errors import DocumentError

    fmt = timeline_format(path)
    if fmt in ("svg", "html"):
        raise ConfigError(f"{os.fspath(path)} is a chart: read the .csv, .jsonl or .json run")
    text = Path(os.fspath(path)).read_text(encoding="utf-8")
    try:
        if fmt == "csv":
            rows: list[dict[str, object]] = list(csv.DictReader(text.splitlines()))
        elif fmt == "jsonl":
            rows = [json.loads(line) for line in text.splitlines() if line.strip()]
        else:
            rows = json.loads(text)
        if not isinstance(rows, list):
            raise TypeError("not a list of ticks")
        records = [
            TickRecord(
                *(int(str(r[f])) for f in TIMELINE_FIELDS[:7]),
                *(float(str(r[f])) for f in TIMELINE_FIELDS[7:]),
            )
            for r in rows
        ]
    except (KeyError, TypeError, ValueError) as exc:
        raise DocumentError(
            f"{os.fspath(path)} is not a timeline of phago (columns {', '.join(TIMELINE_FIELDS)})"
            f": {exc}"
        ) from exc
    return _checked(records)


def _runs(runs: Mapping[str, Sequence[TickRecord]]) -> dict[str, list[TickRecord]]:
    checked = {str(name): _checked(records) for name, records in runs.items()}
    if not checked or not any(checked.values()):
        raise ConfigError("a comparison needs at least one run with ticks")
    if len(checked) > len(_COLOURS):
        raise ConfigError(f"a comparison draws at most {len(_COLOURS)} runs, got {len(checked)}")
    return checked


def comparison_svg(runs: Mapping[str, Sequence[TickRecord]], *, title: str = "") -> str:
    """A chart of several runs (``runs``: each run's name and records): a panel per count of
    :data:`COMPARED`, each scaled from 0 to a round number above the largest value of any
    run (the milliseconds above their 99th percentile), a line per run in its colour, thinned
    as :func:`phago.timeline.timeline_svg` thins lines; the runs are named at the top.

    Raises:
        ConfigError: no run with ticks, more runs than colours (8), or records that are no
            :class:`TickRecord`.

    Example:
        >>> from phago.timeline import TickRecord
        >>> comparison_svg({"a": [TickRecord(1, 1, 1, 1, 1, 1)]}).startswith("<svg")
        True
    """
    checked = _runs(runs)
    ticks = [float(r.tick) for rs in checked.values() for r in rs]
    t0, t1 = min(ticks), max(ticks)
    span = max(t1 - t0, 1.0)
    plot_w = _WIDTH - _LEFT - _RIGHT
    top0 = 46 + (22 if title else 0)
    height = top0 + len(COMPARED) * (_PANEL_HEIGHT + _GAP) + 20
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{_WIDTH}" height="{height}" '
        f'viewBox="0 0 {_WIDTH} {height}" font-family="sans-serif" font-size="11" '
        f'data-runs="{len(checked)}">',
        f'<rect width="{_WIDTH}" height="{height}" fill="white"/>',
    ]
    if title:
        out.append(
            f'<text x="{_LEFT}" y="22" font-size="15" font-weight="bold">{html.escape(title)}'
            "</text>"
        )
    x = float(_LEFT)
    for k, name in enumerate(checked):  # the legend: the runs, in their colours
        colour = _COLOURS[k]
        out.append(
            f'<rect x="{x:.0f}" y="{top0 - 30}" width="14" height="4" fill="{colour}"/>'
            f'<text x="{x + 18:.0f}" y="{top0 - 25}" fill="{colour}">{html.escape(name)}</text>'
        )
        x += 40 + 7 * len(name)
    columns = {
        name: {f: np.array([getattr(r, f) for r in rs], dtype=float) for f in TIMELINE_FIELDS}
        for name, rs in checked.items()
        if rs
    }
    for i, (field, panel) in enumerate(COMPARED):
        top = top0 + i * (_PANEL_HEIGHT + _GAP)
        bottom = top + _PANEL_HEIGHT
        values = np.concatenate([c[field] for c in columns.values()])
        clipped = field == "tick_ms" and len(values) >= 20
        peak = _nice_top(float(np.percentile(values, 99)) if clipped else float(values.max()))
        out.append(_panel_frame(field, panel, top, _PANEL_HEIGHT, _LEFT, plot_w, peak))
        for k, name in enumerate(checked):
            if name not in columns:
                continue
            xs, ys = _decimated(columns[name]["tick"], columns[name][field])
            px = _LEFT + (xs - t0) / span * plot_w
            py = bottom - np.minimum(ys / peak, 1.0) * _PANEL_HEIGHT
            points = " ".join(f"{a:.1f},{b:.1f}" for a, b in zip(px, py, strict=True))
            out.append(
                f'<polyline fill="none" stroke="{_COLOURS[k]}" stroke-width="1.5" '
                f'data-run="{html.escape(name)}" points="{points}"/>'
            )
        out.append("</g>")
    axis_y = top0 + len(COMPARED) * (_PANEL_HEIGHT + _GAP) - _GAP + 14
    for frac in (0.0, 0.5, 1.0):
        out.append(
            f'<text x="{_LEFT + frac * plot_w:.1f}" y="{axis_y}" text-anchor="middle">'
            f"tick {_label(round(t0 + frac * (t1 - t0)))}</text>"
        )
    out.append("</svg>")
    return "\n".join(out)


def comparison_html(runs: Mapping[str, Sequence[TickRecord]], *, title: str = "runs") -> str:
    """A page holding :func:`comparison_svg`'s chart and a table of where each run ended
    (ticks, concepts, edges, documents digested, agents alive, seconds in ticks).

    Raises:
        ConfigError: as :func:`comparison_svg`.

    Example:
        >>> from phago.timeline import TickRecord
        >>> "<td>7</td>" in comparison_html({"a": [TickRecord(1, 7, 1, 1, 1, 1)]})
        True
    """
    checked = _runs(runs)
    chart = comparison_svg(checked)
    head = ("run", "ticks", "concepts", "edges", "digested", "agents alive", "s in ticks")
    rows = []
    for k, (name, rs) in enumerate(checked.items()):
        last = rs[-1] if rs else TickRecord(0, 0, 0, 0, 0, 0)
        cells = (
            f"{last.tick:,}",
            f"{last.nodes:,}",
            f"{last.edges:,}",
            f"{last.documents_digested:,} of {last.documents_total:,}",
            f"{last.agents_alive:,}",
            f"{sum(r.tick_ms for r in rs) / 1000:.3f}",
        )
        rows.append(
            f'<tr><th style="color:{_COLOURS[k]}">{html.escape(name)}</th>'
            + "".join(f"<td>{c}</td>" for c in cells)
            + "</tr>"
        )
    table = "<tr>" + "".join(f"<th>{h}</th>" for h in head) + "</tr>" + "".join(rows)
    name = html.escape(title)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{name}</title><style>body{{font-family:sans-serif;margin:2em}}"
        "th,td{text-align:right;padding:0 1em}th:first-child{text-align:left}</style></head>"
        f"<body><h1>{name}</h1><table>{table}</table>\n{chart}\n</body></html>\n"
    )


def write_comparison(
    runs: Mapping[str, Sequence[TickRecord]],
    path: str | os.PathLike[str],
    *,
    title: str = "runs",
) -> Path:
    """Write the comparison of ``runs`` to ``path``: an ``.svg`` chart or an ``.html`` page,
    whole or not at all (:func:`phago.export.atomic_output`).

    Raises:
        ConfigError: a name that is no chart's (``.svg``, ``.html``), or as
            :func:`comparison_svg`.
        StoreError: ``path`` is a phago store (it is never overwritten).
        OutputError: the file cannot be written.

    Example:
        >>> import tempfile, pathlib
        >>> from phago.timeline import TickRecord
        >>> out = pathlib.Path(tempfile.mkdtemp()) / "runs.svg"
        >>> write_comparison({"a": [TickRecord(1, 1, 1, 1, 1, 1)]}, out).stat().st_size > 0
        True
    """
    fmt = timeline_format(path)
    if fmt not in ("svg", "html"):
        raise ConfigError(
            f"a comparison is a chart: name it .svg or .html, got {os.fspath(path)!r}"
        )
    text = (
        comparison_svg(runs, title=title) + "\n"
        if fmt == "svg"
        else comparison_html(runs, title=title)
    )
    return _write_text(path, text)
