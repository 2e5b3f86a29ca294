"""Every DistributedColony method that takes a shard index checks it the same way: a whole
number from 0 to ``num_shards - 1``, else InvalidShard (a ShardNotFound and a ConfigError)."""

from __future__ import annotations

import math
import pickle
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest

from phago import Digester, Position
from phago.distributed import DistributedColony
from phago.errors import ConfigError, DistributedError, InvalidShard, ShardNotFound

BAD = [-1, -2, 2, 5, True, False, np.bool_(True), 1.5, math.nan, math.inf, "0", b"1", None]


@pytest.fixture(scope="module")
def dc() -> Iterator[DistributedColony]:
    with DistributedColony(2, seed=0) as colony:
        yield colony


CALLS: dict[str, Callable[[DistributedColony, Any], Any]] = {
    "spawn": lambda dc, i: dc.spawn(Digester(Position(0, 0)), shard=i),
    "inject_fault": lambda dc, i: dc.inject_fault(i, "exit", "sense", 3),
    "ray_actor": lambda dc, i: dc.ray_actor(i),
}


@pytest.mark.parametrize("method", sorted(CALLS))
@pytest.mark.parametrize("bad", BAD, ids=repr)
def test_a_shard_index_out_of_range_is_shard_not_found(
    dc: DistributedColony, method: str, bad: object
) -> None:
    with pytest.raises(ShardNotFound, match=r"whole number from 0 to 1: this colony has 2") as e:
        CALLS[method](dc, bad)
    # the same error serves callers that caught ConfigError (spawn's before) or the family
    assert isinstance(e.value, ConfigError) and isinstance(e.value, DistributedError)
    assert isinstance(e.value, InvalidShard)  # (the shards' own ShardNotFound is no ConfigError)
    assert dc.stats().agents_alive == 0  # nothing spawned, no fault armed


@pytest.mark.parametrize("method", ["inject_fault", "ray_actor"])
@pytest.mark.parametrize("good", [0, 1, 1.0, np.int64(1)], ids=repr)
def test_on_local_shards_the_index_is_checked_before_the_backend(
    dc: DistributedColony, method: str, good: object
) -> None:
    with pytest.raises(ShardNotFound):  # (a bad index: the same error on any backend)
        CALLS[method](dc, good + 2)  # type: ignore[operator]
    with pytest.raises(ConfigError, match="needs backend='ray'") as e:
        CALLS[method](dc, good)
    assert not isinstance(e.value, ShardNotFound)


def test_spawn_takes_whole_numbers_of_any_type() -> None:
    with DistributedColony(2, seed=0) as colony:
        colony.spawn(Digester(Position(0, 0)), shard=np.int64(1))  # type: ignore[arg-type]
        colony.spawn(Digester(Position(0, 0)), shard=0.0)  # type: ignore[arg-type]
        with pytest.raises(ShardNotFound):
            colony.spawn(Digester(Position(0, 0)), shard=np.int64(2))  # type: ignore[arg-type]
        assert [s.colony.alive_count for s in colony.runner.shards] == [1, 1]  # type: ignore[attr-defined]


def test_shard_not_found_keeps_its_message_through_pickling() -> None:
    e = ShardNotFound(7, "this colony has shards 0 to 1")
    back = pickle.loads(pickle.dumps(e))
    assert str(back) == str(e) == "shard not found: 7 (this colony has shards 0 to 1)"
    assert back.shard == 7 and str(ShardNotFound("s3")) == "shard not found: s3"
