"""Numba kernels of the force-directed layout of :func:`phago.viz.force_layout`.

Both kernels run the whole Fruchterman–Reingold loop in place on the coordinates ``x`` and
``y``: each step adds up, per node, a repulsion ``k² / d`` from every other node (along the
line joining them), an attraction ``d² / k · (0.5 + weight)`` towards each neighbour and a
gravity towards the centre ``(0.5, 0.5)``, then moves each node along its total by at most the
temperature, which falls linearly from ``t0`` to ``t0 / (iterations + 1)``.

:func:`layout_exact` adds up the repulsion over all pairs (O(n²) a step, without temporaries:
it is some fifty times faster than NumPy). :func:`layout_grid` (for big graphs) adds up only
the nodes in the node's own and the eight surrounding cells of a fine grid exactly, and the
rest cell by cell, each cell as its node count at its centre of mass, on a quadtree of grids
(Barnes–Hut-like: O(n log n) a step). A cell is used whole only when it is at least one cell
width away from the node's cell at its level, so the error of the far field is small and
falls with distance. Both loop in a fixed order: a layout is the same for the same input.

These kernels are internal; :func:`phago.viz.force_layout` checks their inputs.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from numba import njit
else:  # Numba is imported on a kernel's first call (see phago._jit)
    from phago._jit import njit

__all__ = ["layout_exact", "layout_grid"]

_MIN_D2 = 1e-6
"""Squared distances below this count as this much (coinciding nodes repel finitely)."""

_FAST = {"nsz", "arcp", "contract", "afn", "reassoc"}
"""Numba's fastmath flags for the sums (reassociation lets LLVM vectorise them); not
``nnan``/``ninf``, so a NaN stays a NaN."""


@njit(cache=True, inline="always")
def _attract_and_move(
    x: np.ndarray,
    y: np.ndarray,
    dx: np.ndarray,
    dy: np.ndarray,
    edge_a: np.ndarray,
    edge_b: np.ndarray,
    w: np.ndarray,
    k: float,
    gravity: float,
    t: float,
) -> None:
    """Add the attraction along the edges and the gravity to ``(dx, dy)``, then move every
    node along its total by at most ``t``."""
    n = x.shape[0]
    for e in range(edge_a.shape[0]):
        a = edge_a[e]
        b = edge_b[e]
        ex = x[a] - x[b]
        ey = y[a] - y[b]
        dist = max(math.sqrt(ex * ex + ey * ey), 1e-6)
        f = dist * w[e] / k  # (d² / k · w, along the unit vector)
        dx[a] -= f * ex
        dy[a] -= f * ey
        dx[b] += f * ex
        dy[b] += f * ey
    for i in range(n):
        gx = dx[i] + (0.5 - x[i]) * gravity
        gy = dy[i] + (0.5 - y[i]) * gravity
        length = max(math.sqrt(gx * gx + gy * gy), 1e-9)
        step = min(length, t) / length
        x[i] += gx * step
        y[i] += gy * step


@njit(cache=True, fastmath=_FAST)
def _repel_exact(x: np.ndarray, y: np.ndarray, k2: float, dx: np.ndarray, dy: np.ndarray) -> None:
    """Set ``(dx, dy)`` to each node's repulsion from all others."""
    n = x.shape[0]
    for i in range(n):
        xi = x[i]
        yi = y[i]
        sx = 0.0
        sy = 0.0
        for j in range(n):  # (j == i adds zero)
            ex = xi - x[j]
            ey = yi - y[j]
            f = k2 / max(ex * ex + ey * ey, _MIN_D2)
            sx += ex * f
            sy += ey * f
        dx[i] = sx
        dy[i] = sy


@njit(cache=True)
def layout_exact(
    x: np.ndarray,
    y: np.ndarray,
    edge_a: np.ndarray,
    edge_b: np.ndarray,
    w: np.ndarray,
    k: float,
    gravity: float,
    t0: float,
    iterations: int,
) -> None:
    """Run ``iterations`` steps on ``(x, y)`` in place, the repulsion over all pairs.

    ``w`` is each edge's attraction factor (``0.5 + weight``).
    """
    n = x.shape[0]
    dx = np.empty(n)
    dy = np.empty(n)
    k2 = k * k
    t = t0
    cool = t0 / (iterations + 1)
    for _ in range(iterations):
        _repel_exact(x, y, k2, dx, dy)
        _attract_and_move(x, y, dx, dy, edge_a, edge_b, w, k, gravity, t)
        t -= cool


@njit(cache=True, fastmath=_FAST)
def _repel_grid(
    x: np.ndarray,
    y: np.ndarray,
    k2: float,
    levels: int,
    dx: np.ndarray,
    dy: np.ndarray,
    cx: np.ndarray,
    cy: np.ndarray,
    count: np.ndarray,
    mx: np.ndarray,
    my: np.ndarray,
    start: np.ndarray,
    order: np.ndarray,
) -> None:
    """Set ``(dx, dy)`` to each node's repulsion, far cells taken whole (see the module
    docstring); the other arrays are work space of the right sizes."""
    n = x.shape[0]
    side = 1 << levels
    x0 = x.min()
    y0 = y.min()
    span = max(x.max() - x0, y.max() - y0, 1e-12) * (1.0 + 1e-9)
    scale = side / span
    count[:] = 0
    mx[:] = 0.0
    my[:] = 0.0
    # counts and centres of mass of the cells of levels 2..levels (level l's cells start at
    # (4^l - 1) / 3, row by row)
    for i in range(n):
        a = min(int((x[i] - x0) * scale), side - 1)
        b = min(int((y[i] - y0) * scale), side - 1)
        cx[i] = a
        cy[i] = b
        for lev in range(levels, 1, -1):
            s = levels - lev
            c = ((1 << (2 * lev)) - 1) // 3 + (b >> s) * (1 << lev) + (a >> s)
            count[c] += 1
            mx[c] += x[i]
            my[c] += y[i]
    for c in range(count.shape[0]):
        if count[c] > 0:
            mx[c] /= count[c]
            my[c] /= count[c]
    # nodes by finest cell (counting sort, stable)
    cells = side * side
    start[:] = 0
    for i in range(n):
        start[cy[i] * side + cx[i] + 1] += 1
    for c in range(cells):
        start[c + 1] += start[c]
    fill = start[:cells].copy()
    for i in range(n):
        c = cy[i] * side + cx[i]
        order[fill[c]] = i
        fill[c] += 1
    for i in range(n):
        xi = x[i]
        yi = y[i]
        sx = 0.0
        sy = 0.0
        for lev in range(2, levels + 1):
            s = levels - lev
            a = cx[i] >> s
            b = cy[i] >> s
            lside = 1 << lev
            base = ((1 << (2 * lev)) - 1) // 3
            # the children of the parent cell's neighbours that are not the cell's neighbours
            pa = (a >> 1) * 2
            pb = (b >> 1) * 2
            for qb in range(max(pb - 2, 0), min(pb + 4, lside)):
                for qa in range(max(pa - 2, 0), min(pa + 4, lside)):
                    if abs(qa - a) <= 1 and abs(qb - b) <= 1:
                        continue
                    c = base + qb * lside + qa
                    m = count[c]
                    if m == 0:
                        continue
                    ex = xi - mx[c]
                    ey = yi - my[c]
                    f = m * k2 / max(ex * ex + ey * ey, _MIN_D2)
                    sx += ex * f
                    sy += ey * f
        a = cx[i]
        b = cy[i]
        for qb in range(max(b - 1, 0), min(b + 2, side)):
            for qa in range(max(a - 1, 0), min(a + 2, side)):
                c = qb * side + qa
                for p in range(start[c], start[c + 1]):  # (j == i adds zero)
                    j = order[p]
                    ex = xi - x[j]
                    ey = yi - y[j]
                    f = k2 / max(ex * ex + ey * ey, _MIN_D2)
                    sx += ex * f
                    sy += ey * f
        dx[i] = sx
        dy[i] = sy


@njit(cache=True)
def layout_grid(
    x: np.ndarray,
    y: np.ndarray,
    edge_a: np.ndarray,
    edge_b: np.ndarray,
    w: np.ndarray,
    k: float,
    gravity: float,
    t0: float,
    iterations: int,
    levels: int,
) -> None:
    """As :func:`layout_exact`, the repulsion on a quadtree of ``levels`` (>= 2) levels of
    grids, the finest ``2^levels`` cells a side."""
    n = x.shape[0]
    dx = np.empty(n)
    dy = np.empty(n)
    cx = np.empty(n, dtype=np.int64)
    cy = np.empty(n, dtype=np.int64)
    total = ((1 << (2 * (levels + 1))) - 1) // 3  # the cells of levels 0..levels
    count = np.zeros(total, dtype=np.int64)
    mx = np.zeros(total)
    my = np.zeros(total)
    start = np.zeros((1 << (2 * levels)) + 1, dtype=np.int64)
    order = np.empty(n, dtype=np.int64)
    k2 = k * k
    t = t0
    cool = t0 / (iterations + 1)
    for _ in range(iterations):
        _repel_grid(x, y, k2, levels, dx, dy, cx, cy, count, mx, my, start, order)
        _attract_and_move(x, y, dx, dy, edge_a, edge_b, w, k, gravity, t)
        t -= cool
