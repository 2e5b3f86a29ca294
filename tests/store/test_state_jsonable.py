"""The JSON helpers of agent states (`phago.state.to_jsonable`, `from_jsonable`): what they
make of every kind of value an agent's state holds, and that one undoes the other."""

from __future__ import annotations

import base64
import enum
import json
from typing import Any

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from phago.state import from_jsonable, to_jsonable


class Mood(enum.StrEnum):
    CALM = "calm"


def spec_to_jsonable(value: Any) -> Any:
    """The rule, written out plainly: dicts by item with text keys, lists and tuples as
    lists, sets as lists sorted by repr, bytes as base64 under ``__bytes__``, NumPy arrays
    as lists and NumPy scalars as Python ones; anything else as it is."""
    if isinstance(value, dict):
        return {str(k): spec_to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [spec_to_jsonable(v) for v in value]
    if isinstance(value, set | frozenset):
        return [spec_to_jsonable(v) for v in sorted(value, key=repr)]
    if isinstance(value, bytes | bytearray):
        return {"__bytes__": base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, np.ndarray):
        return spec_to_jsonable(value.tolist())
    if isinstance(value, np.generic):
        return value.item()
    return value


def spec_from_jsonable(value: Any) -> Any:
    """The inverse rule: ``{"__bytes__": ...}`` back to bytes, dicts and lists by item."""
    if isinstance(value, dict):
        if len(value) == 1 and "__bytes__" in value:
            return base64.b64decode(value["__bytes__"])
        return {k: spec_from_jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [spec_from_jsonable(v) for v in value]
    return value


scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    st.text(max_size=8),
    st.binary(max_size=6),
    st.integers(-(2**40), 2**40).map(np.int64),
    st.floats(allow_nan=False, width=32).map(np.float32),
    st.floats(allow_nan=False).map(np.float64),
    st.just(Mood.CALM),
    st.lists(st.integers(-5, 5), max_size=4).map(lambda xs: np.array(xs, dtype=np.int64)),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=5),
        st.lists(inner, max_size=5).map(tuple),
        st.tuples(st.text(max_size=4), st.integers()),  # a counter's items
        st.frozensets(st.one_of(st.integers(), st.text(max_size=4)), max_size=4),
        st.dictionaries(st.one_of(st.text(max_size=4), st.integers()), inner, max_size=4),
    ),
    max_leaves=25,
)


def same(a: Any, b: Any) -> bool:
    """Equal, and of the same types all the way down (1 == 1.0 == True is not enough)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


@given(values)
def test_prop_to_jsonable_follows_the_rule_and_from_jsonable_undoes_the_bytes(value: Any) -> None:
    got = to_jsonable(value)
    assert same(got, spec_to_jsonable(value))
    json.dumps(got)  # JSON can take it
    back = from_jsonable(got)
    assert same(back, spec_from_jsonable(got))
    assert same(to_jsonable(back), got)  # only the bytes changed, and back again


def test_an_agent_state_shape_keeps_its_types() -> None:
    """The shapes an agent's state has: counters as item pairs, NumPy numbers, enums,
    bytes; a NumPy float becomes a Python float, not a float subclass."""
    state = {
        "presented": [("dna", 3), ("cell", np.int64(1))],
        "fitness": np.float64(0.25),
        "state": Mood.CALM,
        "vocab": frozenset({"b", "a"}),
        "blob": b"\x00\x01",
        "seen": np.array([1, 2]),
    }
    got = to_jsonable(state)
    assert got == {
        "presented": [["dna", 3], ["cell", 1]],
        "fitness": 0.25,
        "state": Mood.CALM,
        "vocab": ["a", "b"],
        "blob": {"__bytes__": "AAE="},
        "seen": [1, 2],
    }
    assert type(got["fitness"]) is float and type(got["presented"][1][1]) is int
    assert from_jsonable(got)["blob"] == b"\x00\x01"
