"""Tests for phago._arrays: the helpers equal the NumPy operations they replace."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from phago._arrays import stable_groups, unique_sorted

_KINDS = st.sampled_from([np.int64, np.int32, np.uint64, np.uint8, np.bool_])


@settings(max_examples=200, deadline=None)
@given(
    _KINDS.flatmap(
        lambda dt: hnp.arrays(dt, hnp.array_shapes(min_dims=1, max_dims=2, min_side=0, max_side=30))
    )
)
def test_unique_sorted_equals_np_unique_for_integers(values: np.ndarray) -> None:
    got = unique_sorted(values)
    want = np.unique(values)
    assert got.dtype == want.dtype
    assert got.tolist() == want.tolist()


@settings(max_examples=100, deadline=None)
@given(hnp.arrays(np.int64, st.integers(0, 40), elements=st.integers(-5, 5)))
def test_unique_sorted_of_sorted_values_is_a_new_array(values: np.ndarray) -> None:
    ordered = np.sort(values)
    got = unique_sorted(ordered)
    assert got.tolist() == np.unique(values).tolist()
    assert not np.shares_memory(got, ordered)  # (the one-pass path copies too)


def test_unique_sorted_leaves_its_input_alone_and_takes_lists() -> None:
    a = np.array([5, 1, 5, 0])
    assert unique_sorted(a).tolist() == [0, 1, 5]
    assert a.tolist() == [5, 1, 5, 0]
    b = np.array([0, 1, 1, 4])
    out = unique_sorted(b)
    out[0] = 9
    assert out.tolist() == [9, 1, 4] and b.tolist() == [0, 1, 1, 4]
    assert unique_sorted([3, 3, 2]).tolist() == [2, 3]


def test_unique_sorted_hands_floats_to_numpy() -> None:
    got = unique_sorted(np.array([1.0, np.nan, 1.0, np.nan, -0.0, 0.0]))
    want = np.unique(np.array([1.0, np.nan, 1.0, np.nan, -0.0, 0.0]))
    np.testing.assert_array_equal(got, want)
    assert unique_sorted(np.array(["b", "a", "b"])).tolist() == ["a", "b"]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(-3, 5), max_size=60))
def test_stable_groups_match_one_selection_per_key(keys: list[int]) -> None:
    k = np.array(keys, dtype=np.int64)
    order, groups = stable_groups(k)
    assert [g[0] for g in groups] == sorted(set(keys))
    for key, start, stop in groups:  # each group: that key's positions, in their order
        assert order[start:stop].tolist() == np.flatnonzero(k == key).tolist()
    assert sum(stop - start for _, start, stop in groups) == len(keys)


def test_the_library_finds_plain_distinct_values_by_sorting() -> None:
    """A plain ``np.unique(x)`` hashes on NumPy 2.3 and later (about 15 times slower than
    :func:`unique_sorted` on a thousand integers); it crept back into the degree cap across
    shards once, so the package's sources are checked for it. Calls asking for an index, an
    inverse or counts sort and are allowed."""
    import ast
    from pathlib import Path

    import phago

    plain = []
    for path in sorted(Path(phago.__file__).parent.rglob("*.py")):
        if path.name == "_arrays.py":  # the helper's own fallback for non-integer kinds
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "unique"
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id in {"np", "numpy"}
                and not any(k.arg and k.arg.startswith("return_") for k in node.keywords)
            ):
                plain.append(f"{path.name}:{node.lineno}")
    assert plain == [], plain
