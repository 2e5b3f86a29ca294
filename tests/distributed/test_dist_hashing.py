"""Tests of phago.distributed.hashing (REFERENCE.md §7.2, fixes of §8 item 26)."""

from __future__ import annotations

import doctest
import pickle
import threading
from bisect import bisect_left

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import phago.distributed.hashing as hashing_mod
from phago.distributed.hashing import ConsistentHashRing, hash_key, hash_keys
from phago.distributed.types import DEFAULT_VIRTUAL_NODES, ShardId
from phago.errors import ConfigError, RoutingFailed, ShardNotFound
from phago.ids import document_id, stable_hash64

PROPS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
keys_st = st.one_of(
    st.integers(min_value=0, max_value=2**64 - 1),
    st.text(max_size=20),
    st.binary(max_size=20),
)

# Rings are immutable in the property tests below, so they can be shared across examples.
_RINGS = {n: ConsistentHashRing(n) for n in range(1, 9)}


def test_doctests() -> None:
    result = doctest.testmod(hashing_mod, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0


# --- the documented hash ---------------------------------------------------------------------


class TestHashKey:
    def test_int_is_blake2b_of_8_big_endian_bytes(self) -> None:
        for k in (0, 1, 255, 2**32, 2**63, 2**64 - 1):
            assert hash_key(k) == stable_hash64(k.to_bytes(8, "big"))

    def test_str_and_bytes(self) -> None:
        assert hash_key("doc") == stable_hash64("doc") == stable_hash64(b"doc")
        assert hash_key(b"\x00\x01") == stable_hash64(b"\x00\x01")

    def test_numpy_and_newtype_integers(self) -> None:
        assert hash_key(np.uint64(2**64 - 1)) == hash_key(2**64 - 1)  # type: ignore[arg-type]
        assert hash_key(np.int64(-1)) == hash_key(2**64 - 1)  # type: ignore[arg-type]
        assert hash_key(document_id("t", "c")) == hash_key(int(document_id("t", "c")))
        ids = np.array([3, 4], dtype=np.uint64)
        ring = ConsistentHashRing(3)
        assert ring.get_shard(ids[0]) == ring.get_shard(3)

    def test_negative_ints_wrap_like_int64(self) -> None:
        assert hash_key(-1) == hash_key(2**64 - 1)
        assert hash_key(-(2**63)) == hash_key(2**63)

    @pytest.mark.parametrize("bad", [2**64, -(2**63) - 1])
    def test_out_of_range_int_raises(self, bad: int) -> None:
        with pytest.raises(ValueError):
            hash_key(bad)

    @pytest.mark.parametrize("bad", [1.5, None, (1, 2), True])
    def test_other_types_raise(self, bad: object) -> None:
        with pytest.raises(TypeError):
            hash_key(bad)  # type: ignore[arg-type]


class TestHashKeys:
    def test_matches_scalar_hash(self) -> None:
        rng = np.random.default_rng(7)
        keys = rng.integers(0, 2**64 - 1, size=500, dtype=np.uint64, endpoint=True)
        edge = np.array([0, 1, 2**63, 2**64 - 1, 2**63 - 1], dtype=np.uint64)
        keys = np.concatenate([keys, edge])
        got = hash_keys(keys)
        assert got.dtype == np.uint64
        assert [int(h) for h in got] == [hash_key(int(k)) for k in keys]

    @pytest.mark.parametrize("path", ["kernel", "hashlib"])
    def test_kernel_and_hashlib_paths_agree(
        self, path: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        import phago.distributed.hashing as hashing

        use_kernel = path == "kernel"
        monkeypatch.setattr(hashing, "kernel_pays", lambda *a, **k: use_kernel)
        rng = np.random.default_rng(11)
        keys = rng.integers(-(2**63), 2**63 - 1, size=300, dtype=np.int64).reshape(3, 100)
        got = hash_keys(keys)
        assert got.shape == (3, 100) and got.dtype == np.uint64
        assert [int(h) for h in got.ravel()] == [hash_key(int(k)) for k in keys.ravel()]
        assert hash_keys(np.empty(0, dtype=np.int64)).shape == (0,)

    def test_int64_input_is_the_same_bit_pattern(self) -> None:
        signed = np.array([-1, -(2**63), 0, 5, 2**62], dtype=np.int64)
        assert np.array_equal(hash_keys(signed), hash_keys(signed.view(np.uint64)))
        assert [int(h) for h in hash_keys(signed)] == [hash_key(int(k)) for k in signed]

    def test_smaller_int_dtypes(self) -> None:
        small = np.array([0, 7, 300], dtype=np.int32)
        assert [int(h) for h in hash_keys(small)] == [hash_key(int(k)) for k in small]

    def test_rejects_float_arrays(self) -> None:
        with pytest.raises(TypeError):
            hash_keys(np.array([1.0, 2.0]))

    def test_empty(self) -> None:
        assert hash_keys(np.empty(0, dtype=np.uint64)).shape == (0,)

    def test_shape_is_kept(self) -> None:
        grid = np.arange(12, dtype=np.uint64).reshape(3, 4)
        assert hash_keys(grid).shape == (3, 4)
        assert np.array_equal(hash_keys(grid).ravel(), hash_keys(grid.ravel()))
        ring = ConsistentHashRing(3)
        assert ring.get_shards(grid).shape == (3, 4)
        assert ring.get_shards(np.uint64(5)).shape == ()
        assert ring.get_shards(np.empty((0, 2), dtype=np.uint64)).shape == (0, 2)


# --- construction and membership --------------------------------------------------------------


class TestRingMembership:
    def test_default_ring_has_one_shard(self) -> None:
        ring = ConsistentHashRing()
        assert ring.shard_count == 1
        assert ring.all_shards() == [ShardId(0)]
        assert ring.total_virtual_nodes() == DEFAULT_VIRTUAL_NODES == 4096
        assert ring.virtual_nodes == DEFAULT_VIRTUAL_NODES

    def test_positions_are_the_documented_vnode_hashes(self) -> None:
        ring = ConsistentHashRing(3, virtual_nodes=20)
        expected = sorted(stable_hash64(f"vnode:{s}:{k}") for s in range(3) for k in range(20))
        assert ring.total_virtual_nodes() == 60
        assert ring._snap.position_list == expected

    def test_lookup_is_first_position_clockwise_with_wrap(self) -> None:
        ring = ConsistentHashRing(3, virtual_nodes=10)
        owner = {stable_hash64(f"vnode:{s}:{k}"): s for s in range(3) for k in range(10)}
        positions = sorted(owner)
        for key in range(300):
            i = bisect_left(positions, hash_key(key)) % len(positions)
            assert ring.get_shard(key) == ShardId(owner[positions[i]])

    def test_all_shards_sorted_and_contains(self) -> None:
        ring = ConsistentHashRing(0)
        for s in (5, 1, 3):
            ring.add_shard(ShardId(s))
        assert ring.all_shards() == [ShardId(1), ShardId(3), ShardId(5)]
        assert ShardId(3) in ring
        assert 3 in ring
        assert ShardId(2) not in ring
        assert "3" not in ring
        assert -1 not in ring

    def test_add_existing_shard_is_a_no_op(self) -> None:
        """Corrected: the reference bumps ``shard_count`` even for a present shard."""
        ring = ConsistentHashRing(3)
        assert ring.add_shard(ShardId(1)) is False
        assert ring.add_shard(2) is False
        assert ring.shard_count == 3
        assert ring.total_virtual_nodes() == 3 * DEFAULT_VIRTUAL_NODES

    def test_remove_unknown_shard_raises(self) -> None:
        """Corrected: the reference decrements ``shard_count`` for an unknown shard."""
        ring = ConsistentHashRing(3)
        with pytest.raises(ShardNotFound):
            ring.remove_shard(ShardId(9))
        ring.remove_shard(ShardId(2))
        with pytest.raises(ShardNotFound):
            ring.remove_shard(ShardId(2))
        assert ring.shard_count == 2
        assert ring.total_virtual_nodes() == 2 * DEFAULT_VIRTUAL_NODES

    def test_add_new_shard(self) -> None:
        ring = ConsistentHashRing(2)
        assert ring.add_shard(ShardId(7)) is True
        assert ring.shard_count == 3
        assert ring.all_shards() == [ShardId(0), ShardId(1), ShardId(7)]

    def test_remove_then_add_restores_routing(self) -> None:
        ring = ConsistentHashRing(4)
        before = [ring.get_shard(k) for k in range(500)]
        ring.remove_shard(ShardId(1))
        ring.add_shard(ShardId(1))
        assert [ring.get_shard(k) for k in range(500)] == before

    @pytest.mark.parametrize(
        ("n", "v"), [(-1, 150), (1, 0), (1, -5), (1.5, 150), (True, 150), (1, True)]
    )
    def test_invalid_construction(self, n: object, v: object) -> None:
        with pytest.raises(ConfigError):
            ConsistentHashRing(n, v)  # type: ignore[arg-type]

    def test_repr(self) -> None:
        assert (
            repr(ConsistentHashRing(2, 5)) == "ConsistentHashRing(shards=[0, 1], virtual_nodes=5)"
        )


class _TinyRing(ConsistentHashRing):
    """A ring whose vnode positions live in a tiny space, so vnodes collide a lot."""

    def _positions_of(self, shard: int) -> npt.NDArray[np.uint64]:
        return np.array(
            [_tiny_position(shard, k) for k in range(self.virtual_nodes)], dtype=np.uint64
        )


def _same_tables(a: ConsistentHashRing, b: ConsistentHashRing) -> bool:
    """Whether two rings place every position alike (the same positions, the same owners)."""
    return (a._snap.position_list, a._snap.owner_list) == (
        b._snap.position_list,
        b._snap.owner_list,
    )


def _tiny_position(shard: int, k: int) -> int:
    return stable_hash64(f"vnode:{shard}:{k}") % 40


class TestCollisions:
    """Corrected: the reference lets colliding vnodes overwrite each other (§8 item 26)."""

    def test_collisions_go_to_the_smallest_shard_whatever_the_order(self) -> None:
        a = _TinyRing(0, virtual_nodes=30)
        for s in (0, 1, 2, 3):
            a.add_shard(s)
        b = _TinyRing(0, virtual_nodes=30)
        for s in (3, 1, 2, 0):
            b.add_shard(s)
        assert a._snap.position_list == b._snap.position_list
        assert a._snap.owner_list == b._snap.owner_list
        claims: dict[int, int] = {}
        for s in (0, 1, 2, 3):
            for k in range(30):
                p = _tiny_position(s, k)
                claims[p] = min(claims.get(p, s), s)
        assert dict(zip(a._snap.position_list, a._snap.owner_list, strict=True)) == claims
        assert a.total_virtual_nodes() == len(claims) < 4 * 30

    def test_removing_the_winner_hands_positions_to_the_next_claimant(self) -> None:
        ring = _TinyRing(3, virtual_nodes=30)
        ring.remove_shard(0)
        fresh = _TinyRing(0, virtual_nodes=30)
        fresh.add_shard(1)
        fresh.add_shard(2)
        assert _same_tables(ring, fresh)
        assert set(ring._snap.owner_list) == {1, 2}

    def test_shard_whose_own_vnodes_collide_can_be_removed(self) -> None:
        ring = _TinyRing(1, virtual_nodes=100)  # 100 vnodes in 40 slots
        assert ring.total_virtual_nodes() <= 40
        ring.remove_shard(0)
        assert ring.total_virtual_nodes() == 0
        assert ring.shard_count == 0


# --- lookups -----------------------------------------------------------------------------------


class TestLookups:
    def test_empty_ring_raises_routing_failed(self) -> None:
        ring = ConsistentHashRing(0)
        with pytest.raises(RoutingFailed):
            ring.get_shard(1)
        with pytest.raises(RoutingFailed):
            ring.get_shards(np.array([1, 2], dtype=np.uint64))
        with pytest.raises(RoutingFailed):
            ring.get_replica_shards(1, 2)
        assert ring.get_shards(np.empty(0, dtype=np.uint64)).shape == (0,)

    def test_ring_emptied_by_removal_raises(self) -> None:
        ring = ConsistentHashRing(1)
        ring.remove_shard(0)
        with pytest.raises(RoutingFailed):
            ring.get_shard("x")

    def test_get_shards_matches_get_shard(self) -> None:
        ring = ConsistentHashRing(5)
        rng = np.random.default_rng(3)
        keys = rng.integers(0, 2**64 - 1, size=3000, dtype=np.uint64, endpoint=True)
        got = ring.get_shards(keys)
        assert got.dtype == np.int64
        assert got.tolist() == [ring.get_shard(int(k)).value for k in keys]

    def test_get_shards_accepts_signed_ids(self) -> None:
        ring = ConsistentHashRing(4)
        signed = np.array([-5, -1, 0, 9], dtype=np.int64)
        assert ring.get_shards(signed).tolist() == [ring.get_shard(int(k)).value for k in signed]

    def test_get_shards_on_a_sparse_ring(self) -> None:
        ring = ConsistentHashRing(0, virtual_nodes=3)
        ring.add_shard(10)
        ring.add_shard(20)
        keys = np.arange(2000, dtype=np.uint64)
        got = ring.get_shards(keys)
        assert set(got.tolist()) == {10, 20}
        assert got.tolist() == [ring.get_shard(int(k)).value for k in keys]

    def test_a_million_keys_route_like_one_at_a_time_and_spread_evenly(self) -> None:
        # (how fast: benchmarks, not a timed test)
        ring = ConsistentHashRing(8)
        keys = np.arange(1_000_000, dtype=np.uint64)
        out = ring.get_shards(keys)
        assert out.shape == (1_000_000,)
        sample = np.random.default_rng(1).choice(len(keys), 500, replace=False)
        assert [ring.get_shard(int(keys[i])).value for i in sample] == out[sample].tolist()
        share = np.bincount(out, minlength=8) / len(keys)
        assert share.min() > 0.08 and share.max() < 0.18, share  # 1/8 each, give or take

    def test_str_bytes_and_int_keys(self) -> None:
        ring = ConsistentHashRing(3)
        assert ring.get_shard("a") == ring.get_shard(b"a")
        assert ring.get_shard(5) == ring.get_shard((5).to_bytes(8, "big"))

    def test_replicas_basic(self) -> None:
        ring = ConsistentHashRing(5)
        for key in range(200):
            primary = ring.get_shard(key)
            assert ring.get_replica_shards(key, 0) == [primary]
            r2 = ring.get_replica_shards(key, 2)
            assert r2[0] == primary
            assert len(set(r2)) == 3
            assert sorted(ring.get_replica_shards(key, 10)) == ring.all_shards()
        with pytest.raises(ValueError):
            ring.get_replica_shards(1, -1)

    def test_replicas_follow_the_ring_clockwise(self) -> None:
        ring = ConsistentHashRing(4, virtual_nodes=8)
        positions, owners = ring._snap.position_list, ring._snap.owner_list
        for key in range(100):
            start = bisect_left(positions, hash_key(key))
            walk: list[int] = []
            for step in range(len(positions)):
                s = owners[(start + step) % len(positions)]
                if s not in walk:
                    walk.append(s)
            assert [s.value for s in ring.get_replica_shards(key, 3)] == walk

    def test_reference_distribution_100_docs_over_3_shards(self) -> None:
        """Reference expectation: 100 documents over 3 shards, each shard gets 20-50."""
        ring = ConsistentHashRing(3)
        ids = np.array(
            [document_id(f"Document {i}", f"content {i}") for i in range(100)], dtype=np.uint64
        )
        counts = np.bincount(ring.get_shards(ids), minlength=3)
        assert counts.sum() == 100
        assert all(20 <= c <= 50 for c in counts)

    def test_pickle_round_trip(self) -> None:
        ring = ConsistentHashRing(3, virtual_nodes=40)
        back = pickle.loads(pickle.dumps(ring))
        assert [back.get_shard(k) for k in range(300)] == [ring.get_shard(k) for k in range(300)]
        back.add_shard(3)  # the lock was recreated
        assert back.shard_count == 4
        assert ring.shard_count == 3

    def test_a_ring_pickled_whole_by_an_earlier_version_loads_the_same(self) -> None:
        # before the forty-ninth session a ring's state held each position's claimants;
        # earlier still, its snapshot too: both follow from the shards, and are rebuilt
        ring = ConsistentHashRing(3, virtual_nodes=40)
        claims = {p: [s] for s in (0, 1, 2) for p in hashing_mod.vnode_positions(s, 40)}
        back = ConsistentHashRing.__new__(ConsistentHashRing)
        back.__setstate__(
            {"_virtual_nodes": 40, "_shards": {0, 1, 2}, "_claims": claims, "_snap": None}
        )
        assert _same_tables(back, ring)
        back.remove_shard(1)
        fresh = ConsistentHashRing(0, virtual_nodes=40)
        fresh.add_shard(2)
        fresh.add_shard(0)
        assert _same_tables(back, fresh)

    def test_concurrent_lookups_during_membership_changes(self) -> None:
        ring = ConsistentHashRing(4, virtual_nodes=50)
        errors: list[BaseException] = []
        stop = threading.Event()

        def reader() -> None:
            try:
                while not stop.is_set():
                    for k in range(50):
                        assert ring.get_shard(k).value in range(6)
                    assert set(ring.get_shards(np.arange(50, dtype=np.uint64))) <= set(range(6))
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        threads = [threading.Thread(target=reader) for _ in range(3)]
        for t in threads:
            t.start()
        for _ in range(20):
            ring.add_shard(5)
            ring.remove_shard(5)
        stop.set()
        for t in threads:
            t.join()
        assert errors == []
        assert ring.all_shards() == [ShardId(i) for i in range(4)]


# --- properties ------------------------------------------------------------------------------


@PROPS
@given(n=st.integers(1, 8), key=keys_st)
def test_prop_stable_across_two_ring_instances(n: int, key: int | str | bytes) -> None:
    assert ConsistentHashRing(n, virtual_nodes=20).get_shard(key) == ConsistentHashRing(
        n, virtual_nodes=20
    ).get_shard(key)
    assert _RINGS[n].get_shard(key) == pickle.loads(pickle.dumps(_RINGS[n])).get_shard(key)


@PROPS
@given(n=st.integers(1, 8), keys=st.lists(keys_st, min_size=1, max_size=30))
def test_prop_every_key_maps_to_an_existing_shard(n: int, keys: list[int | str | bytes]) -> None:
    ring = _RINGS[n]
    shards = set(ring.all_shards())
    assert all(ring.get_shard(k) in shards for k in keys)


@PROPS
@given(
    shards=st.sets(st.integers(0, 30), min_size=2, max_size=6),
    data=st.data(),
    keys=st.lists(st.integers(0, 2**64 - 1), min_size=1, max_size=60),
)
def test_prop_removing_a_shard_only_moves_its_keys(
    shards: set[int], data: st.DataObject, keys: list[int]
) -> None:
    ring = ConsistentHashRing(0, virtual_nodes=30)
    for s in shards:
        ring.add_shard(s)
    victim = ShardId(data.draw(st.sampled_from(sorted(shards))))
    before = [ring.get_shard(k) for k in keys]
    ring.remove_shard(victim)
    after = [ring.get_shard(k) for k in keys]
    for b, a in zip(before, after, strict=True):
        if b != victim:
            assert a == b
        else:
            assert a != victim
    ring.add_shard(victim)
    assert [ring.get_shard(k) for k in keys] == before


def test_100_docs_over_3_shards_get_20_to_50_each_in_all_but_a_tail_of_1000_sets() -> None:
    """Reference expectation (100 docs over 3 shards, 20-50 each), on 1000 fixed document sets.

    The bound is statistical: even with an even ring a shard's count is binomial (mean 33.3,
    sd 4.7), and about 0.4 % of 100-document sets break it, 4 of these 1000. A randomized
    test of it would be flaky, so the sets are fixed and the tail is bounded at 1 %; the
    proportional property is tested below.
    """
    broken = 0
    for seed in range(1000):
        ids = np.array(
            [document_id(f"doc {seed} {i}", f"content {i}") for i in range(100)], dtype=np.uint64
        )
        counts = np.bincount(_RINGS[3].get_shards(ids), minlength=3)
        broken += not all(20 <= c <= 50 for c in counts)
    assert broken <= 10


def test_default_ring_gives_every_shard_close_to_an_even_share() -> None:
    """Corrected: the reference's 150 random virtual nodes per shard gave one of two shards
    53 % of the ring (and of the documents and the work); the default 4096 keep every share
    within 4 % of even for 2 to 16 shards, on the ring's arcs and on routed ids."""
    ids = np.random.default_rng(7).integers(0, 2**64 - 1, 200_000, dtype=np.uint64, endpoint=True)
    for n in range(2, 17):
        ring = ConsistentHashRing(n)
        snap = ring._snap
        pos = snap.positions.astype(np.float64) / 2.0**64
        arcs = np.diff(np.concatenate([[pos[-1] - 1.0], pos]))  # each arc ends at its vnode
        shares = np.bincount(snap.owners[:-1], weights=arcs, minlength=n) * n
        assert shares.max() < 1.04 and shares.min() > 0.96, (n, shares)
        routed = np.bincount(ring.get_shards(ids), minlength=n) * n / ids.size
        assert routed.max() < 1.05 and routed.min() > 0.95, (n, routed)
    assert max(np.bincount(ConsistentHashRing(2, 150).get_shards(ids)) * 2 / ids.size) > 1.05


@PROPS
@given(seed=st.integers(0, 2**32 - 1))
def test_prop_3_shards_each_get_20_to_50_percent_of_random_ids(seed: int) -> None:
    """The 20-50 % bound on 3000 random ids: more than 10 standard deviations of margin."""
    ids = np.random.default_rng(seed).integers(0, 2**64 - 1, 3000, dtype=np.uint64, endpoint=True)
    shares = np.bincount(_RINGS[3].get_shards(ids), minlength=3) / ids.size
    assert all(0.20 <= x <= 0.50 for x in shares), shares


@PROPS
@given(n=st.integers(1, 8), r=st.integers(0, 10), key=keys_st)
def test_prop_replicas_distinct_primary_first(n: int, r: int, key: int | str | bytes) -> None:
    ring = _RINGS[n]
    replicas = ring.get_replica_shards(key, r)
    assert replicas[0] == ring.get_shard(key)
    assert len(replicas) == len(set(replicas)) == min(r + 1, n)
    assert set(replicas) <= set(ring.all_shards())


@PROPS
@given(n=st.integers(1, 8), keys=st.lists(st.integers(0, 2**64 - 1), max_size=50))
def test_prop_batch_equals_scalar(n: int, keys: list[int]) -> None:
    ring = _RINGS[n]
    got = ring.get_shards(np.array(keys, dtype=np.uint64)).tolist()
    assert got == [ring.get_shard(k).value for k in keys]
