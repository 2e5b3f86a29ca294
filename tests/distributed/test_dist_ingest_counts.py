"""A sharded ingest counts a document's distinct keywords once, on the driver."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

import phago.colony
from phago import Colony, ColonyConfig
from phago.distributed import DistributedColony
from phago.document_batch import DocumentBatch
from phago.errors import DocumentError

# long documents (over 2 × the limit in characters), the only ones that are counted
WIDE = " ".join(f"term{i}x" for i in range(40))  # 40 distinct keywords
NARROW = " ".join(["cell membrane protein transport gene"] * 40)  # 5
LIMITED = ColonyConfig(max_clique_keywords=20)


def _counting(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Count the documents :meth:`Colony.ingest_batch` hands to the keyword count."""
    seen: list[int] = []
    plain = phago.colony.check_keyword_counts

    def counting(titles: Sequence[str], contents: Sequence[str], limit: int | None) -> None:
        seen.append(len(contents))
        plain(titles, contents, limit)

    monkeypatch.setattr(phago.colony, "check_keyword_counts", counting)
    return seen


def test_a_sharded_ingest_counts_keywords_on_the_driver_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # the driver counts every document before any shard stores one; the shards counted
    # them all again (twice the time for a batch of long documents)
    seen = _counting(monkeypatch)
    with DistributedColony(2, config=LIMITED) as dc:
        dc.ingest_documents([(f"d{i}", f"{NARROW} doc{i}", (float(i), 0.0)) for i in range(8)])
        assert dc.stats().documents_total == 8
        assert seen == []  # (the shards' colonies did not count again)
        with pytest.raises(DocumentError, match="40 distinct keywords"):
            dc.ingest_documents([("ok", NARROW), ("wide", WIDE)])
        assert dc.stats().documents_total == 8  # (nothing stored)


def test_a_batch_counted_against_no_limit_or_a_higher_one_is_counted_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen = _counting(monkeypatch)
    plain = DocumentBatch.of([("wide", WIDE, (0, 0))], max_chars=10**6)
    xy, ids = plain.xy, plain.ids
    looser = DocumentBatch(plain.titles, plain.contents, xy, ids, checked_keywords=100)
    for batch in (plain, looser, looser.take(np.array([0])), looser.owned()):
        with pytest.raises(DocumentError, match="40 distinct keywords"):
            Colony(LIMITED).ingest_batch(batch)
    assert seen == [1, 1, 1, 1]
    within = DocumentBatch(plain.titles, plain.contents, xy, ids, checked_keywords=20)
    assert within.take(np.array([0])).checked_keywords == 20
    assert Colony(LIMITED).ingest_batch(within) == 1  # (taken at its word)
    assert Colony(ColonyConfig(max_clique_keywords=None)).ingest_batch(plain) == 1
