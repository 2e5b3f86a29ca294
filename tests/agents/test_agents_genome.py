"""Genome: the reference's eight parameters and clamps, with a symmetric mutation."""

from __future__ import annotations

import json

import numpy as np
import pytest

from phago.agents.genome import GENOME_CLAMPS, Genome

NAMES = Genome.parameter_names()
MULTIPLICATIVE = (
    "sense_radius",
    "max_idle",
    "keyword_boost",
    "tentative_weight",
    "reinforcement_boost",
)


def test_reference_defaults_and_order() -> None:
    g = Genome()
    assert NAMES == (
        "sense_radius",
        "max_idle",
        "keyword_boost",
        "explore_bias",
        "boundary_bias",
        "tentative_weight",
        "reinforcement_boost",
        "wiring_selectivity",
    )
    assert g.to_dict() == {
        "sense_radius": 10.0,
        "max_idle": 30,
        "keyword_boost": 3.0,
        "explore_bias": 0.2,
        "boundary_bias": 0.0,
        "tentative_weight": 0.1,
        "reinforcement_boost": 0.1,
        "wiring_selectivity": 1.0,
    }
    assert GENOME_CLAMPS["sense_radius"] == (2.0, 30.0)
    assert GENOME_CLAMPS["wiring_selectivity"] == (0.1, 1.0)


def test_construction_clamps() -> None:
    low = Genome(**{n: -1e9 for n in NAMES})  # type: ignore[arg-type]
    high = Genome(**{n: 1e9 for n in NAMES})  # type: ignore[arg-type]
    for n in NAMES:
        lo, hi = GENOME_CLAMPS[n]
        assert getattr(low, n) == pytest.approx(lo)
        assert getattr(high, n) == pytest.approx(hi)
    assert isinstance(high.max_idle, int)
    with pytest.raises(ValueError):
        Genome(sense_radius=float("nan"))


def test_mirrored_draws_move_parameters_by_equal_and_opposite_amounts() -> None:
    # every parameter away from its bounds; 50·(1 ± 0.2·u) rounds symmetrically here
    g = Genome(max_idle=50, explore_bias=0.5, wiring_selectivity=0.5)
    for u in (0.1, 0.5, 1.0):
        up = g.mutate_with([u] * 8, 0.2)
        down = g.mutate_with([-u] * 8, 0.2)
        for n in NAMES:
            base = float(getattr(g, n))
            gain = float(getattr(up, n)) - base
            loss = base - float(getattr(down, n))
            assert gain > 0 and gain == pytest.approx(loss), n
    assert g.mutate_with([0.0] * 8, 0.9) == g
    assert g.mutate(0.0, seed=3) == g


def test_random_mutations_go_both_ways_without_drift() -> None:
    g = Genome(explore_bias=0.5, wiring_selectivity=0.5, sense_radius=15.0)
    rng = np.random.default_rng(0)
    children = [g.mutate(0.1, rng=rng) for _ in range(3000)]
    for n in NAMES:
        base = float(getattr(g, n))
        vals = np.array([float(getattr(c, n)) for c in children])
        if n == "max_idle":
            continue  # integer rounding: checked by the mirrored test
        up = float(np.mean(vals > base))
        down = float(np.mean(vals < base))
        lo, hi = GENOME_CLAMPS[n]
        if lo < base < hi:
            assert 0.45 < up < 0.55 and 0.45 < down < 0.55, (n, up, down)
            spread = base * 0.1 if n in MULTIPLICATIVE else 0.1 * 0.5
            assert abs(float(vals.mean()) - base) < 0.05 * spread + 1e-12, n
    # the reference's generator only ever shrank parameters: 1000/1000; here about half grow
    grew = sum(c.keyword_boost > g.keyword_boost for c in children[:1000])
    assert 450 < grew < 550


def test_mutation_is_always_clamped() -> None:
    rng = np.random.default_rng(1)
    g = Genome()
    for _ in range(300):
        g = g.mutate(5.0, rng=rng)  # huge rate: every step hits a bound somewhere
        for n in NAMES:
            lo, hi = GENOME_CLAMPS[n]
            assert lo <= float(getattr(g, n)) <= hi


def test_mutation_is_deterministic_under_a_seed() -> None:
    assert Genome().mutate(0.3, seed=11) == Genome().mutate(0.3, seed=11)
    assert Genome().mutate(0.3, seed=11) != Genome().mutate(0.3, seed=12)
    r1, r2 = np.random.default_rng(5), np.random.default_rng(5)
    assert [Genome().mutate(0.2, rng=r1) for _ in range(5)] == [
        Genome().mutate(0.2, rng=r2) for _ in range(5)
    ]


def test_bad_draws_are_rejected() -> None:
    g = Genome()
    with pytest.raises(ValueError):
        g.mutate_with([0.0] * 7, 0.1)
    with pytest.raises(ValueError):
        g.mutate_with([1.5] + [0.0] * 7, 0.1)
    with pytest.raises(ValueError):
        g.mutate_with([0.0] * 8, -0.1)


def test_distance_is_normalised_euclidean() -> None:
    a = Genome()
    assert a.distance(a) == 0.0
    b = Genome(sense_radius=30.0)
    assert a.distance(b) == pytest.approx((30 - 10) / 28)
    lo = Genome(**{n: GENOME_CLAMPS[n][0] for n in NAMES})  # type: ignore[arg-type]
    hi = Genome(**{n: GENOME_CLAMPS[n][1] for n in NAMES})  # type: ignore[arg-type]
    assert lo.distance(hi) == pytest.approx(np.sqrt(7 + (0.95) ** 2))  # max_idle: x / 100


def test_round_trip() -> None:
    g = Genome().mutate(0.5, seed=2)
    assert Genome.from_dict(json.loads(json.dumps(g.to_dict()))) == g
    with pytest.raises(ValueError):
        Genome.from_dict({"nonsense": 1})


@pytest.mark.parametrize("value", ["x", "10", None, True, [1.0]])
def test_a_parameter_that_is_not_a_number_is_a_config_error(value: object) -> None:
    from phago.errors import ConfigError

    for name in NAMES:
        with pytest.raises(ConfigError, match=f"genome parameter {name} must be a number"):
            Genome(**{name: value})  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="draw for sense_radius must be a number"):
        Genome().mutate_with([value] + [0.0] * 7, 0.1)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="mutation rate must be a finite number"):
        Genome().mutate_with([0.0] * 8, value)  # type: ignore[arg-type]
    assert Genome(sense_radius=np.float32(12.5), max_idle=np.int64(40)) == Genome(  # type: ignore[arg-type]
        sense_radius=12.5, max_idle=40
    )
