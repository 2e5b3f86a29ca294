"""Edge-table kernels: each must match a plain-Python / NumPy reference exactly."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from phago import _kernels as K
from phago.agents.digester import _pairs_within_numpy

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@st.composite
def edge_columns(draw: st.DrawFn) -> dict[str, np.ndarray]:
    """Edge columns with spare capacity: some dead slots, distinct pairs, varied weights."""
    n_nodes = draw(st.integers(2, 12))
    pairs = draw(
        st.lists(
            st.tuples(st.integers(0, n_nodes - 1), st.integers(0, n_nodes - 1)).filter(
                lambda p: p[0] < p[1]
            ),
            max_size=40,
            unique=True,
        )
    )
    m = len(pairs)
    spare = draw(st.integers(0, 5))
    cap = m + spare
    # a few coarse weights make ties likely (ties keep the earlier slot)
    weights = draw(
        st.lists(
            st.sampled_from([0.05, 0.1, 0.2, 0.30000000000000004, 0.5, 1.0])
            | st.floats(0.001, 1.0),
            min_size=m,
            max_size=m,
        )
    )
    alive = draw(st.lists(st.booleans(), min_size=m, max_size=m)) if m else []
    co = draw(st.lists(st.integers(1, 60), min_size=m, max_size=m))
    ct = draw(st.lists(st.integers(0, 400), min_size=m, max_size=m))
    since = draw(st.lists(st.integers(0, 300), min_size=m, max_size=m))
    lt = [c + d for c, d in zip(ct, since, strict=True)]

    def col(values: list[int] | list[float] | list[bool], dtype: type) -> np.ndarray:
        out: np.ndarray = np.zeros(cap, dtype=dtype)
        out[:m] = values
        return out

    return {
        "n_nodes": np.array(n_nodes),
        "m": np.array(m),
        "ea": col([a for a, _ in pairs], np.int32),
        "eb": col([b for _, b in pairs], np.int32),
        "w": col(weights, np.float64),
        "co": col(co, np.int32),
        "ct": col(ct, np.int32),
        "lt": col(lt, np.int32),
        "alive": col(alive, np.bool_),
    }


def reference_decay(
    c: dict[str, np.ndarray],
    base_rate: float,
    threshold: float,
    now: int,
    staleness_factor: float,
    maturation: int,
) -> tuple[FloatArray, IntArray]:
    """The former vectorised ``decay_edges_activity`` (new weights, pruned slots)."""
    w = c["w"].copy()
    s = np.flatnonzero(c["alive"][: int(c["m"])]).astype(np.int64)
    age = np.maximum(0, now - c["ct"][s])
    mature = age >= maturation
    stale = np.maximum(0, now - c["lt"][s]).astype(np.float64)
    activity = 1.0 / (1.0 + 0.5 * c["co"][s])
    rate = np.where(
        mature, base_rate * (1.0 + staleness_factor * (stale / 100.0) * activity), base_rate
    )
    w[s] *= 1.0 - np.minimum(rate, 0.5)
    return w, s[mature & (w[s] < threshold)]


@settings(max_examples=200, deadline=None)
@given(
    edge_columns(),
    st.floats(0.0, 0.99),
    st.floats(0.0, 0.5),
    st.integers(0, 800),
    st.floats(0.0, 5.0),
    st.integers(0, 100),
)
def test_decay_activity_matches_vectorised(
    c: dict[str, np.ndarray],
    base_rate: float,
    threshold: float,
    now: int,
    staleness_factor: float,
    maturation: int,
) -> None:
    want_w, want_gone = reference_decay(c, base_rate, threshold, now, staleness_factor, maturation)
    w = c["w"].copy()
    gone = K.decay_activity(
        c["alive"],
        int(c["m"]),
        w,
        c["co"],
        c["ct"],
        c["lt"],
        base_rate,
        threshold,
        now,
        staleness_factor,
        maturation,
    )
    assert gone.dtype == np.int64
    assert gone.tolist() == want_gone.tolist()
    assert w.tobytes() == want_w.tobytes()  # bit for bit


def reference_degree_cap(c: dict[str, np.ndarray], k: int) -> dict[int, int]:
    """Plain Python: an edge goes if it is outside either endpoint's ``k`` strongest; each
    gone slot with the ends that ranked it out (bit 1: ``ea``'s, bit 2: ``eb``'s)."""
    m = int(c["m"])
    live = [s for s in range(m) if c["alive"][s]]
    incident: dict[int, list[int]] = {}
    for s in live:
        incident.setdefault(int(c["ea"][s]), []).append(s)
        incident.setdefault(int(c["eb"][s]), []).append(s)
    gone: dict[int, int] = {}
    for v, slots in incident.items():
        if len(slots) > k:
            ranked = sorted(slots, key=lambda s: (-float(c["w"][s]), s))
            for s in ranked[k:]:
                gone[s] = gone.get(s, 0) | (1 if int(c["ea"][s]) == v else 2)
    return dict(sorted(gone.items()))


@settings(max_examples=200, deadline=None)
@given(edge_columns(), st.integers(0, 6))
def test_degree_cap_live_matches_reference(c: dict[str, np.ndarray], k: int) -> None:
    m, n = int(c["m"]), int(c["n_nodes"])
    live = c["alive"][:m]
    deg = np.bincount(np.concatenate([c["ea"][:m][live], c["eb"][:m][live]]), minlength=n)
    got, by = K.degree_cap_live(c["alive"], m, c["ea"], c["eb"], c["w"], deg.astype(np.int64), n, k)
    assert got.dtype == np.int64 and by.dtype == np.uint8
    want = reference_degree_cap(c, k)
    assert got.tolist() == list(want)
    assert by.tolist() == list(want.values())


@settings(max_examples=200, deadline=None)
@given(edge_columns())
def test_compact_live_and_table_fill(c: dict[str, np.ndarray]) -> None:
    m = int(c["m"])
    keep = np.flatnonzero(c["alive"][:m])
    want = {name: c[name][keep].copy() for name in ("ea", "eb", "w", "co", "ct", "lt")}
    cols = {name: c[name].copy() for name in ("ea", "eb", "w", "co", "ct", "lt", "alive")}
    n = K.compact_live(
        cols["alive"], m, cols["ea"], cols["eb"], cols["w"], cols["co"], cols["ct"], cols["lt"]
    )
    assert n == len(keep)
    for name, arr in want.items():
        assert cols[name][:n].tobytes() == arr.tobytes()
    assert cols["alive"][:m].tolist() == [s < n for s in range(m)]
    # the table maps each live pair key to its (new) slot and nothing else
    tkeys = np.full(64, 12345, dtype=np.int64)  # stale content is cleared
    tslots = np.zeros(64, dtype=np.int32)
    assert K.table_fill_live(tkeys, tslots, cols["alive"], m, cols["ea"], cols["eb"]) == n
    keys = (cols["ea"][:n].astype(np.int64) << 32) | cols["eb"][:n].astype(np.int64)
    assert [K.table_find(tkeys, tslots, k) for k in keys] == list(range(n))
    assert int((tkeys >= 0).sum()) == n
    assert K.table_find(tkeys, tslots, np.int64(12345)) == -1


# inserts (True) and deletions (False) of keys drawn from a few node pairs
table_ops = st.lists(
    st.tuples(st.booleans(), st.lists(st.integers(0, 17), min_size=1, max_size=6)), max_size=60
)


@settings(max_examples=300, deadline=None)
@given(table_ops, st.sampled_from([16, 32]))
def test_table_without_tombstones_matches_a_dict(
    ops: list[tuple[bool, list[int]]], buckets: int
) -> None:
    """Inserting (``upsert_pairs``) and deleting (``table_delete_many``, which shifts later
    entries back) in a small, crowded table: every live key is found at its slot, a deleted
    one is not, and exactly the live keys occupy buckets (no tombstones). Keys stay at most
    12 in 16 or 32 buckets, so clusters are long and wrap around the end."""
    tkeys = np.full(buckets, K.EMPTY, dtype=np.int64)
    tslots = np.zeros(buckets, dtype=np.int32)
    size = 4096
    cols = {name: np.zeros(size, dtype=np.int32) for name in ("ea", "eb", "co", "ct", "lt")}
    w = np.zeros(size)
    want: dict[int, int] = {}  # key -> slot
    n = 0
    for insert, codes in ops:
        pairs = sorted({(c // 6, 6 + c % 6) for c in codes})  # lo in 0..2, hi in 6..11
        keys = np.array([(lo << 32) | hi for lo, hi in pairs], dtype=np.int64)
        if insert:
            fresh = [k for k in keys.tolist() if k not in want]
            if len(want) + len(fresh) > 12:
                continue
            lo = np.array([p[0] for p in pairs], dtype=np.int64)
            hi = np.array([p[1] for p in pairs], dtype=np.int64)
            n, created = K.upsert_pairs(
                tkeys, tslots, lo, hi, cols["ea"], cols["eb"], w, cols["co"], cols["ct"],
                cols["lt"], n, 0.1, 0.1, 0, np.zeros(0, dtype=np.int64),
            )  # fmt: skip
            assert created == len(fresh)
            for k in fresh:
                want[k] = n - len(fresh) + fresh.index(k)
        else:
            gone = [k for k in keys.tolist() if k in want]
            assert K.table_delete_many(tkeys, tslots, keys) == len(gone)
            for k in gone:
                del want[k]
        assert int((tkeys != K.EMPTY).sum()) == len(want)
        assert all(K.table_find(tkeys, tslots, np.int64(k)) == s for k, s in want.items())
        for a in range(3):
            for b in range(6, 12):
                key = (a << 32) | b
                if key not in want:
                    assert K.table_find(tkeys, tslots, np.int64(key)) == -1


@st.composite
def occurrences(draw: st.DrawFn) -> tuple[IntArray, IntArray, int, int]:
    """Keyword ids at increasing token positions, a window and the keyword count."""
    k = draw(st.sampled_from([1, 2, 3, 5, 32, 128, 129, 200]))
    n = draw(st.integers(0, 60))
    kid = draw(st.lists(st.integers(0, k - 1), min_size=n, max_size=n))
    gaps = draw(st.lists(st.integers(1, 4), min_size=n, max_size=n))
    window = draw(st.integers(1, 12))
    return (
        np.array(kid, dtype=np.int64),
        np.cumsum(np.array(gaps, dtype=np.int64)),
        window,
        k,
    )


@settings(max_examples=300, deadline=None)
@given(occurrences())
def test_window_pairs_matches_reference(case: tuple[IntArray, IntArray, int, int]) -> None:
    kid, pos, window, k = case
    want = sorted(
        {
            (min(int(kid[a]), int(kid[b])), max(int(kid[a]), int(kid[b])))
            for a in range(len(kid))
            for b in range(a + 1, len(kid))
            if pos[b] - pos[a] <= window and kid[a] != kid[b]
        }
    )
    got = K.window_pairs(kid, pos, window, k)
    assert got.dtype == np.int64 and got.shape == (len(want), 2)
    assert [tuple(r) for r in got.tolist()] == want
    codes = K.window_pair_codes(kid, pos, window, k)
    assert got.tolist() == np.stack([codes // k, codes % k], axis=1).reshape(-1, 2).tolist()
    # without Numba (a command forgetting in a store): NumPy, the same pairs in the same order
    numpy_way = _pairs_within_numpy(kid, pos, window, k)
    assert numpy_way.dtype == np.int64 and numpy_way.shape == got.shape
    assert numpy_way.tolist() == got.tolist()


def check_ordered_pairs(
    a: np.ndarray, b: np.ndarray, n_nodes: int, got: tuple[np.ndarray, np.ndarray, int]
) -> None:
    """``got`` is ``(lo, hi, status)`` for the pairs ``{a[t], b[t]}``, as NumPy says."""
    lo, hi, status = got
    keep = a != b
    a, b = a[keep], b[keep]
    if (a < 0).any() or (b < 0).any() or (a >= n_nodes).any() or (b >= n_nodes).any():
        assert status == 2
        return
    assert status == 0
    assert lo.tolist() == np.minimum(a, b).tolist()
    assert hi.tolist() == np.maximum(a, b).tolist()


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.integers(-2, 9), min_size=0, max_size=12),
    st.lists(st.tuples(st.integers(-14, 13), st.integers(-14, 13)), max_size=20),
    st.integers(0, 9),
)
def test_gather_pairs_matches_numpy(
    idx_list: list[int], pair_list: list[tuple[int, int]], n_nodes: int
) -> None:
    idx = np.array(idx_list, dtype=np.int64)
    pairs = np.array(pair_list, dtype=np.int64).reshape(-1, 2)
    lo, hi, status = K.gather_pairs(idx, pairs, n_nodes)
    try:
        a, b = idx[pairs[:, 0]], idx[pairs[:, 1]]
    except IndexError:
        assert status == 1
        return
    check_ordered_pairs(a, b, n_nodes, (lo, hi, status))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(-2, 9), st.integers(-2, 9)), max_size=20), st.integers(0, 9))
def test_order_pairs_matches_numpy(pair_list: list[tuple[int, int]], n_nodes: int) -> None:
    pairs = np.array(pair_list, dtype=np.int64).reshape(-1, 2)
    a, b = pairs[:, 0].copy(), pairs[:, 1].copy()
    check_ordered_pairs(a, b, n_nodes, K.order_pairs(a, b, n_nodes))


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(0, 7), max_size=30), st.integers(-3, 3))
def test_add_at_matches_numpy(indices: list[int], amount: int) -> None:
    want = np.arange(8, dtype=np.int64)
    got = want.copy()
    np.add.at(want, np.array(indices, dtype=np.int64), amount)
    K.add_at(got, np.array(indices, dtype=np.int64), amount)
    assert got.tolist() == want.tolist()


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(-70, 70), max_size=20), st.integers(-2, 3))
def test_increment_access_matches_add_at(indices: list[int], amount: int) -> None:
    from phago.graph import HebbianGraph

    g = HebbianGraph()
    g.present([f"n{i}" for i in range(5)])
    want = g._access.copy()
    try:
        np.add.at(want, np.array(indices, dtype=np.int64), amount)
    except IndexError:
        with pytest.raises(IndexError):
            g.increment_access(indices, amount)
        return
    g.increment_access(indices, amount)
    assert g._access.tolist() == want.tolist()
    assert g.indices_with_labels(["n3", "zz", "n0", "n3"]) == [3, 0, 3]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.sampled_from([0.5, 0.25, 1.0, 0.1]) | st.floats(0.0, 1.0), min_size=1),
    st.data(),
)
def test_kth_smallest_matches_sorted(values: list[float], data: st.DataObject) -> None:
    k = data.draw(st.integers(0, len(values) - 1))
    buf = np.array([*values, 9.0], dtype=np.float64)  # a spare element past n is left alone
    assert K._kth_smallest(buf, len(values), k) == sorted(values)[k]
    assert sorted(buf[: len(values)].tolist()) == sorted(values) and buf[-1] == 9.0


@st.composite
def node_columns(draw: st.DrawFn) -> tuple[IntArray, IntArray, npt.NDArray[np.int32], int]:
    """Owners (shards 0-2), degrees and a second int32 column for up to 30 nodes, plus a node
    count at most their length (columns can be longer than the graph)."""
    size = draw(st.integers(0, 30))
    col = st.lists(st.integers(0, 6), min_size=size, max_size=size)
    owner = np.array(draw(st.lists(st.integers(0, 2), min_size=size, max_size=size)), np.int64)
    deg = np.array(draw(col), dtype=np.int64)
    other = np.array(draw(col), dtype=np.int32)
    return owner, deg, other, draw(st.integers(0, size))


@settings(max_examples=200, deadline=None)
@given(node_columns(), st.integers(0, 2))
def test_changed_remote_degrees_matches_numpy(
    cols: tuple[IntArray, IntArray, npt.NDArray[np.int32], int], me: int
) -> None:
    owner, deg, reported, n = cols
    extra = np.roll(deg, 1) % 3  # the edges a shard's own cap removed lately
    want = np.flatnonzero((owner[:n] != me) & (deg[:n] + extra[:n] != reported[:n]))
    after = reported.copy()
    after[want] = deg[want] + extra[want]
    got = K.changed_remote_degrees(owner, me, deg, extra, reported, n)
    assert got.tolist() == want.tolist()
    assert reported.tolist() == after.tolist()


@settings(max_examples=200, deadline=None)
@given(node_columns(), st.integers(0, 2), st.integers(0, 8))
def test_over_cap_owned_matches_numpy(
    cols: tuple[IntArray, IntArray, npt.NDArray[np.int32], int], me: int, k: int
) -> None:
    owner, deg, elsewhere, n = cols
    extra = np.roll(deg, 1) % 3
    mine = (owner[:n] == me) & (elsewhere[:n] > 0)
    want = np.flatnonzero(mine & (deg[:n] + extra[:n] + elsewhere[:n] > k))
    assert K.over_cap_owned(owner, me, deg, extra, elsewhere, k, n).tolist() == want.tolist()


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.integers(-2, 12), max_size=40),
    st.lists(st.integers(-1, 3), max_size=10),
)
def test_rows_of_marked_are_the_rows_whose_node_is_marked(
    node: list[int], marked: list[int]
) -> None:
    want = [i for i, v in enumerate(node) if 0 <= v < len(marked) and marked[v] >= 0]
    got = K.rows_of_marked(np.array(node, dtype=np.int64), np.array(marked, dtype=np.int64))
    assert got.tolist() == want


@settings(max_examples=200, deadline=None)
@given(st.lists(st.booleans(), max_size=300), st.data())
def test_live_slots_are_the_flagged_slots_below_m(flags: list[bool], data: st.DataObject) -> None:
    alive = np.array(flags, dtype=np.bool_)
    m = data.draw(st.integers(0, len(flags)))
    got = K.live_slots(alive, m)
    assert got.dtype == np.int64
    assert got.tolist() == np.flatnonzero(alive[:m]).tolist()


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.integers(0, 9), max_size=30),
    st.lists(st.integers(0, 2**64 - 1), min_size=10, max_size=10),
    st.integers(0, 63),
)
def test_first_unsent_lists_each_unsent_nodes_first_occurrence(
    nodes: list[int], sent: list[int], bit_index: int
) -> None:
    bit = 1 << bit_index
    want_sent = list(sent)
    want = []
    for p, i in enumerate(nodes):
        if not want_sent[i] & bit:
            want_sent[i] |= bit
            want.append(p)
    flags = np.array(sent, dtype=np.uint64)
    got = K.first_unsent(np.array(nodes, dtype=np.int64), flags, np.uint64(bit))
    assert got.tolist() == want
    assert flags.tolist() == want_sent


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.lists(
            st.tuples(st.integers(0, 9), st.integers(0, 9), st.integers(0, 3)),
            min_size=0,
            max_size=8,
        ),
        min_size=1,
        max_size=4,
    )
)
def test_first_appearance_refs_number_each_calls_a_ends_then_b_ends(
    parts: list[list[tuple[int, int, int]]],
) -> None:
    # each part: pairs (a, b, call step); calls are non-decreasing within a part
    a, b, calls, ends = [], [], [], []
    for part in parts:
        call = 0
        for x, y, step in part:
            call += step
            a.append(x)
            b.append(y)
            calls.append(call)
        ends.append(len(a))
    free = np.iinfo(np.int64).max
    scratch = np.full(10, free, dtype=np.int64)
    nodes, ra, rb = K.first_appearance_refs(
        np.array(a, dtype=np.int64),
        np.array(b, dtype=np.int64),
        np.array(calls, dtype=np.int64),
        np.array(ends, dtype=np.int64),
        scratch,
        free,
    )
    # the oracle: one node at a time, call by call (a part boundary ends a call)
    numbers: dict[int, int] = {}
    want_a: list[int] = [0] * len(a)
    want_b: list[int] = [0] * len(b)
    start = 0
    for end in ends:
        j = start
        while j < end:
            k = j
            while k < end and calls[k] == calls[j]:
                k += 1
            for side, want in ((a, want_a), (b, want_b)):
                for t in range(j, k):
                    want[t] = numbers.setdefault(side[t], len(numbers))
            j = k
        start = end
    assert nodes.tolist() == list(numbers)
    assert ra.dtype == np.int32 and ra.tolist() == want_a and rb.tolist() == want_b
    assert (scratch == free).all()


_ENDS = st.integers(0, 2**31 - 1)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 9), _ENDS, st.integers(0, 9)), max_size=40),
    st.lists(st.tuples(st.integers(0, 9), _ENDS, st.integers(0, 9)), max_size=40),
    st.booleans(),
)
def test_triples_among_equals_membership_of_the_whole_triple(
    triples: list[tuple[int, int, int]], members: list[tuple[int, int, int]], overlap: bool
) -> None:
    if overlap:  # some asked about are members, some repeated; some differ only in the tag
        members = members + triples[::2] + [(s + 1, a, b) for s, a, b in triples[1::3]]
    cols = [np.array([t[i] for t in triples], dtype=np.int32) for i in range(3)]
    sets = [np.array([t[i] for t in members], dtype=np.int64) for i in range(3)]
    got = K.triples_among(*cols, *sets)
    want = [t in set(members) for t in triples]
    assert got.dtype == np.bool_ and got.tolist() == want


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.integers(0, 2**40), max_size=40),
    st.lists(st.integers(0, 2**40), max_size=40),
    st.booleans(),
)
def test_key_counts_counts_each_query_in_the_set(
    members: list[int], queries: list[int], overlap: bool
) -> None:
    if overlap:
        members = members + queries[::2] + queries[::3]
    got = K.key_counts(np.array(members, dtype=np.int64), np.array(queries, dtype=np.int64))
    assert got.tolist() == [members.count(q) for q in queries]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.integers(-3, 30), max_size=60),
    st.lists(st.integers(0, 3), min_size=25, max_size=25),
)
def test_owned_distinct_is_the_sorted_owned_rows_in_range(
    rows: list[int], owner: list[int]
) -> None:
    n = 25
    own = np.array(owner, dtype=np.int64)
    scratch = np.full(n + 7, -1, dtype=np.int64)
    got = K.owned_distinct(np.array(rows, dtype=np.int64), own, 1, n, scratch)
    want = sorted({r for r in rows if 0 <= r < n and owner[r] == 1})
    assert got.tolist() == want
    assert (scratch == -1).all()  # left as it was found


@settings(max_examples=200, deadline=None)
@given(edge_columns(), st.data())
def test_incident_grouped_is_incident_live_partitioned_then_grouped(
    c: dict[str, np.ndarray], data: st.DataObject
) -> None:
    n = int(c["n_nodes"])
    listed = np.array(data.draw(st.lists(st.booleans(), min_size=n, max_size=n)), dtype=np.bool_)
    key = np.array(data.draw(st.lists(st.integers(0, 3), min_size=n, max_size=n)), dtype=np.int64)
    lead = data.draw(st.integers(0, 3))
    m = int(c["m"])
    bound = 2 * max(m, 1)
    slots, ends = K.incident_live(c["alive"], m, c["ea"], c["eb"], listed, bound)
    # the reference: the lead key's entries first, then each other key's, all stable
    rank = np.where(key[ends] == lead, -1, key[ends])
    order = np.argsort(rank, kind="stable")
    got_slots, got_ends, starts, counts = K.incident_grouped(
        c["alive"], m, c["ea"], c["eb"], listed, key, lead, 4
    )
    assert got_slots.tolist() == slots[order].tolist()
    assert got_ends.tolist() == ends[order].tolist()
    assert counts.tolist() == np.bincount(key[ends], minlength=4).tolist()
    for k in range(4):
        assert (key[got_ends[starts[k] : starts[k] + counts[k]]] == k).all()
    assert starts[lead] == 0


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 9), st.integers(0, 9), st.integers(0, 3)), max_size=30))
def test_wanted_ends_lists_each_end_that_did_not_rank_its_edge_out(
    edges: list[tuple[int, int, int]],
) -> None:
    ea = np.array([a for a, _, _ in edges], dtype=np.int64)
    eb = np.array([b for _, b, _ in edges], dtype=np.int64)
    out = np.array([o for _, _, o in edges], dtype=np.uint8)
    w = np.arange(len(edges), dtype=np.float64) / 10
    ct = np.arange(len(edges), dtype=np.int64) + 100
    want = [(a, b, w[i], ct[i]) for i, (a, b, o) in enumerate(edges) if not o & 1]
    want += [(b, a, w[i], ct[i]) for i, (a, b, o) in enumerate(edges) if not o & 2]
    node, other, weight, created = K.wanted_ends(ea, eb, out, w, ct)
    got = list(zip(node.tolist(), other.tolist(), weight.tolist(), created.tolist(), strict=True))
    assert got == [(a, b, float(x), int(t)) for a, b, x, t in want]
