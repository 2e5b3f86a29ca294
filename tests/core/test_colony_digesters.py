"""``Colony.spawn_digesters`` and ``Colony.agent_ids``: what the distributed colony has, on
one colony, placed and seeded as a one-shard distributed colony places and seeds them."""

from __future__ import annotations

import numpy as np
import pytest

from phago import Colony, Digester, Position
from phago.distributed import DistributedColony
from phago.errors import ConfigError

DOCS = [(f"d{i}", f"cell gene protein {i}", (5.0 * i, 2.0 * i)) for i in range(7)]


@pytest.mark.parametrize(("count", "seed"), [(1, 0), (3, 0), (3, 4), (10, 2)])
def test_spawned_as_on_one_shard(count: int, seed: int) -> None:
    c = Colony(seed=0)
    c.ingest_documents(DOCS)
    assert c.spawn_digesters(count, seed=seed, max_idle=40) == count
    with DistributedColony(1, seed=0) as dc:
        dc.ingest_documents(DOCS)
        dc.spawn_digesters(count, seed=seed, max_idle=40)
        shard_agents = dc.runner.handles[0].target.colony.agents  # type: ignore[attr-defined]
        expected = [(a.position, a.seed, a.max_idle) for a in shard_agents]
    assert [(a.position, a.seed, a.max_idle) for a in c.agents] == expected
    assert all(isinstance(a, Digester) for a in c.agents)
    c.run_until_digested(300)
    assert c.stats().documents_digested == len(DOCS)


def test_without_a_seed_the_colonys_seed_decides_and_calls_differ() -> None:
    """(The digesters' generators were seeded 0, 1, ... whatever the colony's seed, so runs
    of colonies seeded apart were the same run, and a second call spawned copies.)"""
    seeds = []
    for colony_seed in (0, 1):
        c = Colony(seed=colony_seed)
        c.ingest_documents(DOCS)
        c.spawn_digesters(3)
        seeds.append([a.seed for a in c.agents])
        c.spawn_digesters(3)
        first, second = c.agents[:3], c.agents[3:]
        assert [a.position for a in first] != [a.position for a in second]
        assert {a.seed for a in first}.isdisjoint(a.seed for a in second)
    assert seeds[0] != seeds[1]
    again = Colony(seed=0)
    again.ingest_documents(DOCS)
    again.spawn_digesters(3)
    assert [a.seed for a in again.agents] == seeds[0]  # (reproducible)


def test_spawned_at_the_origin_without_documents_and_none_for_zero() -> None:
    c = Colony(seed=0)
    assert c.spawn_digesters(0) == 0 and c.agents == []
    assert c.spawn_digesters(2) == 2
    assert [a.position for a in c.agents] == [Position(1.0, 1.0)] * 2


@pytest.mark.parametrize(
    ("args", "options"),
    [((-1,), {}), ((1.5,), {}), ((2,), {"seed": -3}), ((2,), {"wings": 2})],
)
def test_bad_arguments_spawn_nothing(args: tuple[object, ...], options: dict[str, object]) -> None:
    c = Colony(seed=0)
    c.ingest_documents(DOCS)
    with pytest.raises(ConfigError):
        c.spawn_digesters(*args, **options)  # type: ignore[arg-type]
    assert c.agents == [] and c.total_spawned == 0


def test_agent_ids_by_whether_they_hold_text() -> None:
    c = Colony(seed=0)
    c.ingest_documents(DOCS)
    c.spawn_digesters(3)
    assert c.agent_ids() == [a.id for a in c.agents]
    assert c.agent_ids(digesting=True) == []
    no, yes = np.False_, np.True_  # (NumPy's bools, as a mask's items are)
    assert c.agent_ids(digesting=no) == c.agent_ids() != []  # type: ignore[arg-type]
    while not c.agent_ids(digesting=True):
        c.tick()
    holding = c.agent_ids(digesting=True)
    assert set(holding) | set(c.agent_ids(digesting=False)) == set(c.agent_ids())
    assert c.agent_ids(digesting=yes) == holding  # type: ignore[arg-type]
    assert c.agent_ids(digesting=no) == c.agent_ids(digesting=False)  # type: ignore[arg-type]
    assert all(c.agent(a).is_digesting for a in holding)
    with pytest.raises(ConfigError, match="digesting must be"):
        c.agent_ids(digesting="yes")  # type: ignore[arg-type]
