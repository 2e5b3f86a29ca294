"""BM25 concept ranking among equal scores: the query's own concepts first.

Every concept of a document that is the only match shares its score; the audit found a
note's unique marker word ranked after every other word of the note, alphabetically
(``bm25("zq0x")`` gave ``['protein', 'remember', 'w1014', …]``).
"""

from __future__ import annotations

from collections.abc import Callable

from phago import Colony
from phago.ingest import digest_new_documents
from phago.query import retrieve
from phago.query.base import StaticSource
from phago.query.bm25 import bm25

SourceFactory = Callable[..., StaticSource]


def test_the_queried_word_ranks_first_in_its_only_document(make_source: SourceFactory) -> None:
    src = make_source(
        [
            ("Note 1", "apple banana cherry zebra"),
            ("Note 2", "apple banana cherry mango"),
            ("Note 3", "apple kiwi"),
        ]
    )
    res = bm25(src, "zebra")
    assert res[0].label == "zebra"
    assert len({r.score for r in res}) == 1  # (the tie itself stays: one document's score)


def test_then_the_concepts_that_occur_most_in_the_top_documents(
    make_source: SourceFactory,
) -> None:
    src = make_source([("Note", "apple zebra cherry cherry cherry banana banana")])
    assert [r.label for r in bm25(src, "zebra")] == ["zebra", "cherry", "banana", "apple"]
    # two query words of one document: both first, then by occurrences
    assert [r.label for r in bm25(src, "apple zebra", k=3)] == ["apple", "zebra", "cherry"]


def test_a_digested_note_is_found_by_its_marker_word() -> None:
    colony = Colony(seed=0)
    words = "protein remember waffle quartz"
    for i in range(6):
        doc = colony.ingest_document(f"Note {i}", f"Remember that {words} zq{i}x.")
        digest_new_documents(colony, [doc], digesters=1)
    for i in range(6):
        assert retrieve(colony, f"zq{i}x", k=3, method="bm25")[0].label == f"zq{i}x"
