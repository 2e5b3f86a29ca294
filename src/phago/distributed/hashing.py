"""Consistent hash ring that maps documents and nodes to shards.

The hash
    Everything uses :func:`phago.ids.stable_hash64`: the first 8 bytes of BLAKE2b
    (``digest_size=8``, no key, no salt) read as an unsigned big-endian integer. It is stable
    across runs, processes, machines and Python versions, unlike the reference's SipHash
    ``DefaultHasher`` (REFERENCE.md §8 item 26), so shard assignments differ from the
    reference but never from one run of this library to the next.

    * Virtual node ``k`` of shard ``s`` sits at ``stable_hash64(f"vnode:{s}:{k}")``; a shard
      has :data:`~phago.distributed.types.DEFAULT_VIRTUAL_NODES` (4096) of them by default,
      so that every shard's share of the ring is close to even (the reference's 150 left
      one of two shards 53% of it).
    * An integer key (a NodeId or DocumentId, ``0 <= key < 2**64``; negative values down to
      ``-2**63`` are taken modulo ``2**64`` like an ``int64`` array) hashes as
      ``stable_hash64(key.to_bytes(8, "big"))``; a ``str`` as its UTF-8 bytes; ``bytes`` as is.

Lookup
    A key belongs to the first virtual node clockwise from its hash: the smallest position
    ``>= hash``, wrapping to the smallest position of the ring. Positions are kept sorted in a
    NumPy ``uint64`` array, so one lookup is a binary search (O(log V)) and
    :meth:`ConsistentHashRing.get_shards` routes a whole batch with one compiled BLAKE2b pass
    and one ``searchsorted``.

Fixes of the reference (§8 item 26)
    * **Collisions are deterministic.** If virtual nodes of several shards hash to the same
      position, the position belongs to the smallest shard id among them, whatever the order
      in which shards were added; removing that shard hands the position to the next smallest
      claimant. (The reference lets the last insert overwrite, and its removal then leaves a
      hole.)
    * **Membership changes are idempotent.** ``add_shard`` of a present shard is a no-op,
      ``remove_shard`` of an absent one raises :class:`~phago.errors.ShardNotFound`; the shard
      count is the number of distinct shards present, never a drifting counter.

Example:
    >>> ring = ConsistentHashRing(num_shards=3)
    >>> ring.shard_count, ring.total_virtual_nodes()
    (3, 12288)
    >>> ring.get_shard(12345) == ConsistentHashRing(3).get_shard(12345)
    True
"""

from __future__ import annotations

import hashlib
import operator
import threading
from bisect import bisect_left
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any, TypeAlias

import numpy as np
import numpy.typing as npt

from phago._jit import kernel_pays
from phago.distributed.types import DEFAULT_VIRTUAL_NODES, ShardId, as_shard_id
from phago.errors import ConfigError, RoutingFailed, ShardNotFound
from phago.ids import stable_hash64

if TYPE_CHECKING:
    from numba import njit
else:  # Numba is imported on the kernel's first call (see phago._jit)
    from phago._jit import njit

__all__ = ["ConsistentHashRing", "RingKey", "hash_key", "hash_keys"]

RingKey: TypeAlias = int | str | bytes
"""What can be routed: an integer id, a string or raw bytes."""

_MASK64 = (1 << 64) - 1
_MIN_I64 = -(1 << 63)


def hash_key(key: RingKey) -> int:
    """Ring position of ``key`` (see the module docstring for the exact hash).

    Args:
        key: an integer id in ``[-2**63, 2**64)`` (NumPy integers included), a string or
            bytes.

    Returns:
        An integer in ``[0, 2**64)``.

    Raises:
        TypeError: for other key types.
        ValueError: for integers out of range.

    Example:
        >>> hash_key(5) == hash_key((5).to_bytes(8, "big"))
        True
        >>> hash_key("doc") == stable_hash64("doc")
        True
    """
    if isinstance(key, str | bytes):
        return stable_hash64(key)
    if isinstance(key, bool):
        raise TypeError("cannot route a bool")
    try:
        value = operator.index(key)  # int, NewType ids, NumPy integers
    except TypeError:
        raise TypeError(f"cannot route a key of type {type(key).__name__}") from None
    if not _MIN_I64 <= value <= _MASK64:
        raise ValueError(f"integer key out of the 64-bit range: {value}")
    return stable_hash64((value & _MASK64).to_bytes(8, "big"))


# --- vectorised BLAKE2b-64 of 8-byte keys ---------------------------------------------------

_IV = np.array(
    [
        0x6A09E667F3BCC908,
        0xBB67AE8584CAA73B,
        0x3C6EF372FE94F82B,
        0xA54FF53A5F1D36F1,
        0x510E527FADE682D1,
        0x9B05688C2B3E6C1F,
        0x1F83D9ABFB41BD6B,
        0x5BE0CD19137E2179,
    ],
    dtype=np.uint64,
)
_SIGMA = np.array(
    [
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15],
        [14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3],
        [11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4],
        [7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8],
        [9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13],
        [2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9],
        [12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11],
        [13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10],
        [6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5],
        [10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0],
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15],
        [14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3],
    ],
    dtype=np.int64,
)
# Parameter block word 0 for digest length 8, no key: 0x01010000 ^ (0 << 8) ^ 8.
_H0 = np.uint64(0x6A09E667F3BCC908 ^ 0x01010008)
_ALL_ONES = np.uint64(_MASK64)
_R32, _R24, _R16, _R63 = np.uint64(32), np.uint64(24), np.uint64(16), np.uint64(63)
_L32, _L40, _L48, _L1 = np.uint64(32), np.uint64(40), np.uint64(48), np.uint64(1)


@njit(cache=True, inline="always")
def _mix(v: np.ndarray, a: int, b: int, c: int, d: int, x: np.uint64, y: np.uint64) -> None:
    """The BLAKE2b G function on the working vector ``v``."""
    v[a] = v[a] + v[b] + x
    t = v[d] ^ v[a]
    v[d] = (t >> _R32) | (t << _L32)
    v[c] = v[c] + v[d]
    t = v[b] ^ v[c]
    v[b] = (t >> _R24) | (t << _L40)
    v[a] = v[a] + v[b] + y
    t = v[d] ^ v[a]
    v[d] = (t >> _R16) | (t << _L48)
    v[c] = v[c] + v[d]
    t = v[b] ^ v[c]
    v[b] = (t >> _R63) | (t << _L1)


@njit(cache=True)
def _blake2b64_words(words: np.ndarray, iv: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    """First digest word of BLAKE2b-64 of each 8-byte message ``words[i]`` (little-endian)."""
    n = words.shape[0]
    out = np.empty(n, dtype=np.uint64)
    v = np.empty(16, dtype=np.uint64)
    m = np.zeros(16, dtype=np.uint64)
    for i in range(n):
        m[0] = words[i]
        v[0] = _H0
        for j in range(1, 8):
            v[j] = iv[j]
        for j in range(8):
            v[8 + j] = iv[j]
        v[12] = v[12] ^ np.uint64(8)  # byte counter t = 8
        v[14] = v[14] ^ _ALL_ONES  # final block
        for r in range(12):
            s = sigma[r]
            _mix(v, 0, 4, 8, 12, m[s[0]], m[s[1]])
            _mix(v, 1, 5, 9, 13, m[s[2]], m[s[3]])
            _mix(v, 2, 6, 10, 14, m[s[4]], m[s[5]])
            _mix(v, 3, 7, 11, 15, m[s[6]], m[s[7]])
            _mix(v, 0, 5, 10, 15, m[s[8]], m[s[9]])
            _mix(v, 1, 6, 11, 12, m[s[10]], m[s[11]])
            _mix(v, 2, 7, 8, 13, m[s[12]], m[s[13]])
            _mix(v, 3, 4, 9, 14, m[s[14]], m[s[15]])
        out[i] = _H0 ^ v[0] ^ v[8]
    return out


def _as_uint64(keys: npt.ArrayLike) -> npt.NDArray[np.uint64]:
    arr = np.asarray(keys)
    if arr.dtype.kind not in "iu":
        raise TypeError(f"keys must be an integer array, got dtype {arr.dtype}")
    # Signed values wrap modulo 2**64 (two's complement), matching hash_key on Python ints.
    return np.ascontiguousarray(arr.reshape(-1).astype(np.uint64, copy=False))


def hash_keys(keys: npt.ArrayLike) -> npt.NDArray[np.uint64]:
    """Vectorised :func:`hash_key` for integer keys: ring positions of a 1-D id array.

    Runs a compiled BLAKE2b over the 8-byte big-endian encoding of each key, so
    ``hash_keys(a)[i] == hash_key(int(a[i]))``.

    Args:
        keys: integer array (``uint64`` or ``int64``; any integer dtype is accepted).

    Returns:
        ``uint64`` array of the same shape.

    Example:
        >>> import numpy as np
        >>> int(hash_keys(np.array([5], dtype=np.uint64))[0]) == hash_key(5)
        True
    """
    arr = np.asarray(keys)
    words = _as_uint64(arr)
    if not kernel_pays(len(words), loaded_min=_KERNEL_LOADED_MIN, cold_min=_KERNEL_COLD_MIN):
        # hashlib, key by key: what a shard's load needs without starting Numba (0.45 s)
        blake2b = hashlib.blake2b
        digests = b"".join(
            [blake2b(w.to_bytes(8, "big"), digest_size=8).digest() for w in words.tolist()]
        )
        return np.frombuffer(digests, dtype=">u8").astype(np.uint64).reshape(arr.shape)
    # Message word = the key's big-endian bytes read little-endian; digest = word read big-endian.
    digest = _blake2b64_words(words.byteswap(), _IV, _SIGMA)
    return digest.byteswap().reshape(arr.shape)


_KERNEL_LOADED_MIN = 8
"""Keys from which :func:`hash_keys` uses its kernel where Numba is loaded..."""

_KERNEL_COLD_MIN = 1 << 18
"""... and from which it starts Numba for them (hashlib takes ~0.8 µs a key)."""


# --- the ring --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Snapshot:
    """Immutable lookup tables; swapped whole on membership changes so readers never lock."""

    positions: npt.NDArray[np.uint64]
    owners: npt.NDArray[np.int64]  # owners[i] owns positions[i]; owners[-1] == owners[0] (wrap)
    position_list: list[int]
    owner_list: list[int]


_EMPTY = _Snapshot(np.empty(0, np.uint64), np.empty(0, np.int64), [], [])


@lru_cache(maxsize=64)
def vnode_positions(shard: int, count: int) -> npt.NDArray[np.uint64]:
    """Ring positions of virtual nodes ``0 .. count - 1`` of ``shard``, in that order (a
    read-only ``uint64`` array).

    Cached: every ring of a cluster (the coordinator's, each shard's, a restored one's) places
    the same virtual nodes, 4096 per shard by default.

    Example:
        >>> int(vnode_positions(1, 3)[2]) == stable_hash64("vnode:1:2")
        True
    """
    positions = np.array(
        [stable_hash64(f"vnode:{shard}:{k}") for k in range(count)], dtype=np.uint64
    )
    positions.flags.writeable = False
    return positions


def _ring_tables(
    shards: list[int], positions_of: list[npt.NDArray[np.uint64]]
) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.int64]]:
    """The ring's sorted distinct positions and each one's owner: of the ``shards`` whose
    virtual nodes (``positions_of`` each) sit there (several only on a hash collision), the
    smallest id."""
    if not shards:
        return np.empty(0, np.uint64), np.empty(0, np.int64)
    positions = np.concatenate(positions_of)
    owners = np.repeat(np.asarray(shards, dtype=np.int64), [len(p) for p in positions_of])
    order = np.lexsort((owners, positions))  # by position, then the smallest shard first
    positions, owners = positions[order], owners[order]
    first = np.ones(len(positions), dtype=bool)
    first[1:] = positions[1:] != positions[:-1]
    return positions[first], owners[first]


class ConsistentHashRing:
    """Consistent hash ring with virtual nodes (REFERENCE.md §7.2, defects of §8.26 fixed).

    Lookups read an immutable snapshot and need no lock; ``add_shard`` / ``remove_shard``
    rebuild the snapshot under a lock, so the ring can be shared between threads.

    Args:
        num_shards: shards ``0 .. num_shards - 1`` are added at construction (may be 0).
        virtual_nodes: virtual nodes per shard (default
            :data:`~phago.distributed.types.DEFAULT_VIRTUAL_NODES`, 4096).

    Raises:
        ConfigError: if ``num_shards < 0`` or ``virtual_nodes < 1``.

    Example:
        >>> ring = ConsistentHashRing(num_shards=3)
        >>> ring.get_shard(42) in ring.all_shards()
        True
        >>> replicas = ring.get_replica_shards(42, 1)
        >>> replicas[0] == ring.get_shard(42), len(set(replicas))
        (True, 2)
        >>> ring.add_shard(ShardId(1))  # already present: no-op
        False
        >>> ring.remove_shard(ShardId(2)); ring.shard_count
        2
    """

    def __init__(self, num_shards: int = 1, virtual_nodes: int = DEFAULT_VIRTUAL_NODES) -> None:
        if isinstance(num_shards, bool) or not isinstance(num_shards, int) or num_shards < 0:
            raise ConfigError(f"num_shards must be an integer >= 0, got {num_shards!r}")
        if isinstance(virtual_nodes, bool) or not isinstance(virtual_nodes, int):
            raise ConfigError(f"virtual_nodes must be an integer >= 1, got {virtual_nodes!r}")
        if virtual_nodes < 1:
            raise ConfigError(f"virtual_nodes must be an integer >= 1, got {virtual_nodes!r}")
        self._virtual_nodes = virtual_nodes
        self._lock = threading.Lock()
        self._shards: set[int] = set()
        self._snap = _EMPTY
        self._add_many(range(num_shards))

    # -- membership ---------------------------------------------------------------------------

    def _positions_of(self, shard: int) -> npt.NDArray[np.uint64]:
        """Positions of ``shard``'s virtual nodes."""
        return vnode_positions(shard, self._virtual_nodes)

    def _add_many(self, shards: Iterable[int]) -> int:
        with self._lock:
            new = {s for s in shards if s not in self._shards}
            if new:
                self._shards |= new
                self._rebuild()
        return len(new)

    def _rebuild(self) -> None:
        """The snapshot of the shards present (from their virtual nodes' positions: the
        same whatever the order shards came and went in)."""
        shards = sorted(self._shards)
        positions, owners = _ring_tables(shards, [self._positions_of(s) for s in shards])
        self._snap = _Snapshot(
            positions,
            np.concatenate([owners, owners[:1]]),
            positions.tolist(),
            owners.tolist(),
        )

    def add_shard(self, shard: ShardId | int) -> bool:
        """Add ``shard``'s virtual nodes; a no-op for a shard already present.

        Returns:
            True if the shard was added, False if it was already present.
        """
        return self._add_many([as_shard_id(shard).value]) == 1

    def remove_shard(self, shard: ShardId | int) -> None:
        """Remove ``shard`` and its virtual nodes; its keys move to the next shards clockwise.

        Raises:
            ShardNotFound: if the shard is not in the ring.
        """
        sid = as_shard_id(shard)
        s = sid.value
        with self._lock:
            if s not in self._shards:
                raise ShardNotFound(sid)
            self._shards.remove(s)
            self._rebuild()

    def contains(self, shard: ShardId | int) -> bool:
        """True if ``shard`` is in the ring."""
        return as_shard_id(shard).value in self._shards

    def __contains__(self, shard: object) -> bool:
        if not isinstance(shard, ShardId | int):
            return False
        try:
            return self.contains(shard)
        except ConfigError:
            return False

    def all_shards(self) -> list[ShardId]:
        """The shards in the ring, sorted by id."""
        return [ShardId(s) for s in sorted(self._shards)]

    @property
    def shard_count(self) -> int:
        """Number of distinct shards in the ring."""
        return len(self._shards)

    @property
    def virtual_nodes(self) -> int:
        """Virtual nodes per shard."""
        return self._virtual_nodes

    def total_virtual_nodes(self) -> int:
        """Number of distinct positions on the ring."""
        return len(self._snap.position_list)

    # -- lookups -------------------------------------------------------------------------------

    def get_shard(self, key: RingKey) -> ShardId:
        """The shard owning ``key``: the first virtual node clockwise from its hash.

        Raises:
            RoutingFailed: if the ring is empty.
        """
        snap = self._snap
        if not snap.position_list:
            raise RoutingFailed(f"cannot route {key!r}: the hash ring has no shards")
        i = bisect_left(snap.position_list, hash_key(key))
        if i == len(snap.position_list):
            i = 0
        return ShardId(snap.owner_list[i])

    def get_shards(self, keys: npt.ArrayLike) -> npt.NDArray[np.int64]:
        """Vectorised :meth:`get_shard` for integer ids (NodeIds, DocumentIds).

        Args:
            keys: integer array, ``uint64`` or ``int64`` (negative ``int64`` values are the
                same 64-bit patterns as ``uint64``).

        Returns:
            ``int64`` array of shard ids (``ShardId.value``) of the same shape as ``keys``.

        Raises:
            RoutingFailed: if the ring is empty and ``keys`` is not.
        """
        hashes = hash_keys(keys)
        snap = self._snap
        if hashes.size == 0:
            return np.empty(hashes.shape, dtype=np.int64)
        if snap.positions.size == 0:
            raise RoutingFailed("cannot route keys: the hash ring has no shards")
        # Index == len(positions) means "past the last position": owners[-1] wraps to owners[0].
        return snap.owners[np.searchsorted(snap.positions, hashes, side="left")]

    def get_replica_shards(self, key: RingKey, n: int) -> list[ShardId]:
        """The primary shard of ``key`` followed by up to ``n`` distinct other shards clockwise.

        Returns:
            ``min(n + 1, shard_count)`` distinct shards; the first is :meth:`get_shard`.

        Raises:
            ValueError: if ``n < 0``.
            RoutingFailed: if the ring is empty.
        """
        if n < 0:
            raise ValueError(f"replica count must be >= 0, got {n}")
        snap = self._snap
        size = len(snap.position_list)
        if size == 0:
            raise RoutingFailed(f"cannot route {key!r}: the hash ring has no shards")
        start = bisect_left(snap.position_list, hash_key(key))
        want = min(n + 1, len(set(snap.owner_list)))
        found: list[int] = []
        for step in range(size):
            owner = snap.owner_list[(start + step) % size]
            if owner not in found:
                found.append(owner)
                if len(found) == want:
                    break
        return [ShardId(s) for s in found]

    # -- pickling (the lock is recreated) -------------------------------------------------------

    def __getstate__(self) -> dict[str, Any]:
        # the claims and the snapshot follow from the shards (4096 positions each by default)
        return {"_virtual_nodes": self._virtual_nodes, "_shards": sorted(self._shards)}

    def __setstate__(self, state: dict[str, Any]) -> None:
        # (an earlier version pickled its claims and snapshot too: both follow from these)
        self._lock = threading.Lock()
        self._virtual_nodes = state["_virtual_nodes"]
        self._shards, self._snap = set(), _EMPTY
        self._add_many(state["_shards"])

    def __repr__(self) -> str:
        return (
            f"ConsistentHashRing(shards={[s.value for s in self.all_shards()]}, "
            f"virtual_nodes={self._virtual_nodes})"
        )
