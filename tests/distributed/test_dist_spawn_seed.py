"""``DistributedColony.spawn_digesters(seed=...)``: by default every shard's digester ``j``
is seeded ``j`` and starts beside document ``j·step``, as always; a seed numbers them
across the cluster and turns where they start."""

from __future__ import annotations

import pytest

from phago.distributed import DistributedColony
from phago.errors import ConfigError

DOCS = [(f"d{i}", f"cell gene protein{i} membrane", (3.0 * i, 2.0 * (i % 5))) for i in range(24)]


def digesters(dc: DistributedColony) -> list[list[tuple[int, float, float]]]:
    """Per shard: each agent's seed and start."""
    return [
        [(a.seed, a.position.x, a.position.y) for a in h.target.colony.agents]
        for h in dc.runner.handles
    ]


def expected(
    dc: DistributedColony, per: int, seed: int | None
) -> list[list[tuple[int, float, float]]]:
    out = []
    for i, h in enumerate(dc.runner.handles):
        docs = h.target.colony.substrate._docs
        n, step = len(docs), max(1, len(docs) // per)
        first = 0 if seed is None else seed
        row = []
        for j in range(per):
            p = docs[(first + j * step) % n].position
            row.append((j if seed is None else seed + i * per + j, p.x + 1.0, p.y + 1.0))
        out.append(row)
    return out


def test_by_default_each_shard_s_digester_j_is_seeded_j() -> None:
    with DistributedColony(3, seed=0) as dc:
        dc.ingest_documents(DOCS)
        assert dc.spawn_digesters(2) == 6
        got = digesters(dc)
        assert got == expected(dc, 2, None)
        assert [[s for s, _, _ in row] for row in got] == [[0, 1]] * 3


def test_a_seed_numbers_the_digesters_and_turns_their_starts() -> None:
    with DistributedColony(3, seed=0) as dc:
        dc.ingest_documents(DOCS)
        dc.spawn_digesters(2, seed=0)
        dc.spawn_digesters(2, seed=6, max_idle=40)
        got = digesters(dc)
        first = expected(dc, 2, 0)
        second = expected(dc, 2, 6)
        assert got == [a + b for a, b in zip(first, second, strict=True)]
        seeds = [s for row in got for s, _, _ in row]
        assert sorted(seeds) == list(range(12))  # no two alike
        assert [[xy for _, *xy in row] for row in first] != [
            [xy for _, *xy in row] for row in second
        ]
        assert all(a.max_idle == 40 for h in dc.runner.handles for a in h.target.colony.agents[2:])


@pytest.mark.parametrize("bad", [-1, 1.5, "3"])
def test_a_bad_seed_spawns_nothing(bad: object) -> None:
    with DistributedColony(2, seed=0) as dc:
        dc.ingest_documents(DOCS)
        with pytest.raises(ConfigError, match="seed"):
            dc.spawn_digesters(2, seed=bad)  # type: ignore[arg-type]
        assert dc.agent_ids() == []
