"""The force-directed layout of the views: its model, its determinism, its shape."""

from __future__ import annotations

import math

import numpy as np
import pytest

import phago.viz as viz_mod
from phago.errors import ConfigError
from phago.viz import force_layout, layout_iterations

Edges = tuple[np.ndarray, np.ndarray, np.ndarray]


def reference_layout(
    n: int, a: np.ndarray, b: np.ndarray, w: np.ndarray, iterations: int
) -> np.ndarray:
    """The layout as NumPy computed it before the Numba kernels (all pairs, dense), seed 0."""
    pos = np.random.default_rng(0).uniform(0.0, 1.0, size=(n, 2))
    k = math.sqrt(1.0 / n)
    t = 0.1
    cool = t / (iterations + 1)
    gravity = 2.0 * math.sqrt(n) * k
    f_w = 0.5 + w
    for _ in range(iterations):
        d = pos[:, None, :] - pos[None, :, :]
        dist2 = np.maximum((d * d).sum(-1), 1e-6)
        disp = (d * (k * k / dist2)[..., None]).sum(1)
        e = pos[a] - pos[b]
        dist = np.maximum(np.sqrt((e * e).sum(-1)), 1e-6)
        f = (dist * dist / k * f_w / dist)[:, None] * e
        np.add.at(disp, a, -f)
        np.add.at(disp, b, f)
        disp += (0.5 - pos) * gravity
        length = np.maximum(np.sqrt((disp * disp).sum(-1)), 1e-9)
        pos += disp / length[:, None] * np.minimum(length, t)[:, None]
        t -= cool
    lo, hi = pos.min(0), pos.max(0)
    out: np.ndarray = (pos - lo) / np.where(hi - lo > 1e-12, hi - lo, 1.0)
    return out


def clusters(groups: int, size: int, seed: int = 0) -> Edges:
    """``groups`` groups of ``size`` nodes, each a ring with chords of weight 1, joined by a
    few weak (weight 0) edges between groups."""
    rng = np.random.default_rng(seed)
    a: list[int] = []
    b: list[int] = []
    w: list[float] = []
    for g in range(groups):
        base = g * size
        for i in range(size):
            for step in (1, 3):
                a.append(base + i)
                b.append(base + (i + step) % size)
                w.append(1.0)
    n = groups * size
    for _ in range(groups * 2):
        i, j = (int(v) for v in rng.integers(0, n, 2))
        if i // size != j // size:
            a.append(i)
            b.append(j)
            w.append(0.0)
    return np.array(a), np.array(b), np.array(w)


def test_the_layout_is_the_model_it_was() -> None:
    # the same forces, seeding, cooling and scaling as the NumPy layout it replaced (the sums
    # run in another order: equal to rounding)
    a, b, w = clusters(4, 10)
    for iterations in (0, 1, 15):
        got = force_layout(40, a, b, w, iterations=iterations)
        np.testing.assert_allclose(got, reference_layout(40, a, b, w, iterations), atol=1e-7)


def test_the_layout_is_deterministic_for_a_seed() -> None:
    a, b, w = clusters(5, 40)
    first = force_layout(200, a, b, w, seed=7)
    assert np.array_equal(first, force_layout(200, a, b, w, seed=7))
    assert not np.allclose(first, force_layout(200, a, b, w, seed=8))


@pytest.mark.parametrize("grid", [False, True])
def test_a_few_hundred_nodes_are_laid_out_with_strong_edges_short(
    grid: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if grid:  # the quadtree big graphs take, on a small one
        monkeypatch.setattr(viz_mod, "EXACT_LAYOUT_NODES", 50)
    groups, size = 8, 40
    n = groups * size
    a, b, w = clusters(groups, size)
    pos = force_layout(n, a, b, w, seed=1)
    assert pos.shape == (n, 2) and np.isfinite(pos).all()
    assert pos.min() == 0.0 and pos.max() == 1.0  # scaled to fill the unit square
    gap = np.linalg.norm(pos[:, None] - pos[None], axis=-1)
    pairs = ~np.eye(n, dtype=np.bool_)
    assert gap[pairs].min() > 1e-4  # no node on top of another
    strong = w > 0.5
    edge_len = np.linalg.norm(pos[a] - pos[b], axis=1)
    same = np.arange(n)[:, None] // size == np.arange(n)[None] // size
    unconnected = gap[~same]  # pairs of different groups (a few joined by weak edges)
    assert edge_len[strong].mean() < 0.25 * unconnected.mean()
    assert gap[same & pairs].mean() < 0.5 * unconnected.mean()  # groups stay together


def test_the_quadtree_repulsion_is_close_to_the_exact_one(monkeypatch: pytest.MonkeyPatch) -> None:
    # one step from the same seeded start: the nodes move alike
    a, b, w = clusters(10, 60)
    exact = force_layout(600, a, b, w, seed=3, iterations=1)
    monkeypatch.setattr(viz_mod, "EXACT_LAYOUT_NODES", 10)
    grid = force_layout(600, a, b, w, seed=3, iterations=1)
    assert not np.array_equal(exact, grid)  # (the other kernel ran)
    assert np.abs(exact - grid).max() < 5e-3


def test_the_iteration_count_falls_smoothly_with_the_node_count() -> None:
    counts = [layout_iterations(n) for n in range(1, 20_001)]
    steps = np.diff(counts)
    assert ((steps == 0) | (steps == -1)).all()  # (it fell from 80 to 40 at 1,001 nodes)
    assert counts[0] == counts[299] == 120 and counts[-1] == 40
    assert layout_iterations(1000) - layout_iterations(1001) <= 1
    a, b, w = clusters(2, 3)
    assert np.array_equal(  # the default is that count
        force_layout(6, a, b, w), force_layout(6, a, b, w, iterations=layout_iterations(6))
    )


def test_small_and_edgeless_graphs() -> None:
    none = np.zeros(0, dtype=np.int64)
    assert force_layout(0, none, none, np.zeros(0)).shape == (0, 2)
    assert force_layout(1, none, none, np.zeros(0)).tolist() == [[0.5, 0.5]]
    pos = force_layout(30, none, none, np.zeros(0), seed=2)
    assert pos.shape == (30, 2) and np.isfinite(pos).all()
    assert len({(round(x, 6), round(y, 6)) for x, y in pos.tolist()}) == 30


def test_bad_edges_are_config_errors() -> None:
    one = np.array([1.0])
    with pytest.raises(ConfigError, match=r"edge_b holds node indices outside 0\.\.2"):
        force_layout(3, np.array([0]), np.array([3]), one)
    with pytest.raises(ConfigError, match="edge_a holds node indices outside"):
        force_layout(3, np.array([-1]), np.array([0]), one)
    with pytest.raises(ConfigError, match="edge_b has 2 entries; edge_a has 1"):
        force_layout(3, np.array([0]), np.array([1, 2]), one)
    with pytest.raises(ConfigError, match=r"weight has shape \(2,\)"):
        force_layout(3, np.array([0]), np.array([1]), np.array([1.0, 2.0]))
    with pytest.raises(ConfigError, match="array of node indices"):
        force_layout(3, np.array([0.5]), np.array([1]), one)
