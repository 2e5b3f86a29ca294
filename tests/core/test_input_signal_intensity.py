"""``Colony.emit_input_signal``'s intensity: a number in (0, MAX_INPUT_INTENSITY], else a
ConfigError and nothing emitted."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from phago import Colony, Digester, Position
from phago.colony import MAX_INPUT_INTENSITY
from phago.errors import ConfigError
from phago.types import SignalType


@pytest.mark.parametrize(
    "bad",
    [math.nan, math.inf, -math.inf, -5, -1e-300, 0, 0.0, "x", "1", None, True, [1.0], 1e7],
)
def test_a_bad_intensity_is_a_config_error_and_nothing_is_emitted(bad: object) -> None:
    c = Colony()
    with pytest.raises(ConfigError, match=r"intensity must be a number in \(0, 1000000\]"):
        c.emit_input_signal((0, 0), intensity=bad)  # type: ignore[arg-type]
    assert c.substrate.signal_count == 0 and not c.substrate._sig_pending


@settings(max_examples=40, deadline=None)
@given(st.floats(0.0, MAX_INPUT_INTENSITY, exclude_min=True))
def test_an_intensity_in_range_is_emitted_as_given_and_its_negative_refused(
    intensity: float,
) -> None:
    c = Colony()
    c.emit_input_signal((1, 2), intensity=intensity)
    with pytest.raises(ConfigError, match="intensity"):
        c.emit_input_signal((1, 2), intensity=-intensity)
    [signal] = c.substrate.signals_near(Position(1, 2), 0.5)
    assert signal.signal_type is SignalType.INPUT and signal.intensity == intensity


def test_numbers_of_other_types_are_taken_as_floats_and_checked_alike() -> None:
    c = Colony()
    for value in (3, np.float32(0.5), np.int64(2)):
        c.emit_input_signal((0, 0), intensity=value)  # type: ignore[arg-type]
    for bad in (np.float64("nan"), np.float32(-1), np.int64(0), np.bool_(True)):
        with pytest.raises(ConfigError, match="intensity"):
            c.emit_input_signal((0, 0), intensity=bad)  # type: ignore[arg-type]
    got = sorted(s.intensity for s in c.substrate.signals_near(Position(0, 0), 1.0))
    assert got == [0.5, 2.0, 3.0] and all(type(v) is float for v in got)


def test_the_strongest_signal_leaves_digesters_a_finite_heading() -> None:
    # a signal of 1e308 made a digester's gradient NaN (an InvalidPosition mid-tick)
    c = Colony(seed=0)
    with pytest.raises(ConfigError, match="intensity"):
        c.emit_input_signal((0.5, 0.0), intensity=1e308)
    c.emit_input_signal((0.5, 0.0), intensity=MAX_INPUT_INTENSITY)
    c.emit_input_signal((0.5, 0.5), intensity=MAX_INPUT_INTENSITY)
    grad = c.substrate.gradient(Position(0, 0), 10.0, SignalType.INPUT)
    assert grad is not None and math.isfinite(grad.magnitude)
    c.spawn(Digester(Position(0, 0)))
    c.run(3)
    assert c.current_tick == 3
