"""A store keeps its documents' term counts, so a query after a load tokenises nothing."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from store_helpers import make_colony

import phago.text
from phago import Colony
from phago.distributed import DistributedColony
from phago.ids import DocumentId
from phago.query import documents, retrieve
from phago.query.base import GraphSource
from phago.query.term_counts import SavedTermCounts, merge_saved_counts, saved_counts_of
from phago.store import (
    _load_with_terms,
    forget_in_store,
    load,
    load_distributed,
    save,
    save_distributed,
)
from phago.text import tokenize

QUERIES = ("cell membrane protein", "star gas cloud", "antibodies pathogens")


def digested(tmp_path: Path) -> tuple[Colony, Path]:
    c = make_colony(n_docs=16, digesters=5)
    c.run_until_digested(600)
    db = save(c, tmp_path / "kb.db")
    return c, db


def answers(colony: GraphSource) -> list[object]:
    return [(retrieve(colony, q, k=8), documents(colony, q, 5, concepts=5)) for q in QUERIES]


def without_saved_counts(colony: Colony) -> Colony:
    colony.saved_term_counts = None
    return colony


def test_a_loaded_colony_queries_as_one_that_counts_afresh_without_tokenising(
    tmp_path: Path, counted_texts: list[str]
) -> None:
    c, db = digested(tmp_path)
    counted_texts.clear()  # (the first save counted every document)
    loaded = load(db)
    saved = loaded.saved_term_counts
    assert isinstance(saved, SavedTermCounts) and saved.is_valid()
    assert sorted(saved.doc_ids.tolist()) == sorted(int(d.id) for d in c.documents())
    # every document's saved counts are its tokens' counts
    names = saved.terms
    for d in c.documents()[:5]:
        row = int(saved.rows_of(np.array([int(d.id)], dtype=np.uint64))[0])
        lo, hi = int(saved.ptr[row]), int(saved.ptr[row + 1])
        got = {names[t]: int(n) for t, n in zip(saved.cols[lo:hi], saved.cnts[lo:hi], strict=True)}
        want: dict[str, int] = {}
        for t in tokenize(f"{d.title}\n{d.content}"):
            want[t] = want.get(t, 0) + 1
        assert got == want and int(saved.lens[row]) == sum(want.values())
    kept = answers(loaded)
    assert counted_texts == []  # every document's counts came from the store
    fresh = answers(without_saved_counts(load(db)))
    assert len(counted_texts) == len(c.documents())
    assert kept == fresh


def test_counts_made_by_another_tokeniser_are_not_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, db = digested(tmp_path)
    monkeypatch.setattr(phago.text, "TOKENIZER_VERSION", phago.text.TOKENIZER_VERSION + 1)
    assert load(db).saved_term_counts is None


def test_a_damaged_or_missing_part_only_costs_the_counting(tmp_path: Path) -> None:
    _, db = digested(tmp_path)
    want = answers(without_saved_counts(load(db)))
    con = sqlite3.connect(db)
    con.execute("UPDATE blobs SET data = ? WHERE name = 'terms.cols'", (b"junk",))
    con.commit()
    con.close()
    damaged = load(db)  # (the colony itself is checked as ever)
    assert damaged.saved_term_counts is None and answers(damaged) == want
    con = sqlite3.connect(db)
    con.execute("DELETE FROM blobs WHERE name LIKE 'terms.%'")  # a store saved before them
    con.commit()
    con.close()
    old = load(db)
    assert old.saved_term_counts is None and answers(old) == want
    save(old, db)  # saving counts them again
    assert load(db).saved_term_counts is not None


def test_forgetting_keeps_the_other_documents_counts(tmp_path: Path) -> None:
    c, db = digested(tmp_path)
    gone = c.documents()[3].id
    forget_in_store(db, [int(gone)])
    after = load(db)
    saved = after.saved_term_counts
    assert saved is not None
    assert sorted(saved.doc_ids.tolist()) == sorted(int(d.id) for d in after.documents())
    assert int(gone) not in saved.doc_ids.tolist()
    assert answers(after) == answers(without_saved_counts(load(db)))


def test_saving_again_counts_only_new_documents(tmp_path: Path, counted_texts: list[str]) -> None:
    _, db = digested(tmp_path)
    colony = load(db)
    colony.ingest_document("new", "a new note on glacier melt and river deltas")
    counted_texts.clear()  # (the first save counted every document)
    save(colony, db)
    assert counted_texts == ["new\na new note on glacier melt and river deltas"]
    saved = load(db).saved_term_counts
    assert saved is not None and len(saved.doc_ids) == 17


def _bm25(colony: Colony, term: str) -> dict[str, float]:
    from phago.query.index import query_index

    di = query_index(colony).documents(colony)
    return {di.title(i): round(float(x), 6) for i, x in enumerate(di.scores([term]))}


def _two_notes() -> Colony:
    from phago import Digester, Position

    c = Colony(seed=0)
    c.ingest_document(
        "a", "alpha beta gamma membrane protein", Position(0, 0), doc_id=DocumentId(5)
    )
    c.ingest_document("b", "alpha beta delta star cloud", Position(1, 0), doc_id=DocumentId(6))
    c.spawn(Digester(Position(0, 0), seed=0))
    c.run_until_digested(200)
    return c


def _reuse_id_5(c: Colony) -> None:
    """Forget document 5 and give its id (by hand) to other text."""
    c.forget_documents([5])
    c.ingest_document("z", "zebra giraffe okapi savanna", doc_id=DocumentId(5))
    c.run_until_digested(200)


def test_an_id_given_by_hand_to_other_text_is_counted_afresh(tmp_path: Path) -> None:
    """Saved counts are keyed by document id, which hashes a document's text unless given by
    hand: such ids never take saved rows (a forgotten document's id can name other text)."""
    c = _two_notes()
    save(c, tmp_path / "kb.db")  # the colony keeps the counts it saved
    _reuse_id_5(c)
    assert _bm25(c, "zebra")["z"] > 0.0 and _bm25(c, "membrane")["z"] == 0.0
    save(c, tmp_path / "kb.db")
    again = load(tmp_path / "kb.db")
    assert _bm25(again, "zebra") == _bm25(without_saved_counts(load(tmp_path / "kb.db")), "zebra")
    assert _bm25(again, "zebra")["z"] > 0.0


def test_an_index_built_before_an_id_was_reused_reads_the_new_text() -> None:
    c = _two_notes()
    assert _bm25(c, "membrane")["a"] > 0.0  # the index is built
    _reuse_id_5(c)
    assert _bm25(c, "zebra")["z"] > 0.0 and _bm25(c, "membrane")["z"] == 0.0


# ---------------------------------------------------------------- distributed stores


def _distributed(tmp_path: Path, shards: int = 3) -> tuple[DistributedColony, Path]:
    from phago.corpus import grid_positions, load_sample_corpus

    docs = load_sample_corpus()[:24]
    pos = grid_positions(len(docs))
    dc = DistributedColony(shards, seed=5)
    dc.ingest_documents([(d.title, d.content, (p.x, p.y)) for d, p in zip(docs, pos, strict=True)])
    dc.spawn_digesters(4)
    dc.run_until_digested(800)
    return dc, save_distributed(dc, tmp_path / "cluster")


def test_a_distributed_store_keeps_its_documents_counts(
    tmp_path: Path, counted_texts: list[str]
) -> None:
    dc, d = _distributed(tmp_path)
    with dc:
        all_docs = sorted(int(x.id) for x in dc.documents())
    counted_texts.clear()
    with load_distributed(d) as loaded:
        saved = loaded.saved_term_counts
        assert isinstance(saved, SavedTermCounts) and saved.is_valid()
        assert saved.doc_ids.tolist() == all_docs
        kept = answers(loaded)
        assert counted_texts == []  # every document's counts came from the shard files
    with load_distributed(d) as fresh:
        fresh.saved_term_counts = None
        want = answers(fresh)
    assert len(counted_texts) == len(all_docs)
    assert kept == want
    # each shard file holds the counts of its own documents, with only the terms they use
    for f in sorted((d / (d / "CURRENT").read_text().strip()).glob("shard-*.db")):
        state, _, _, part = _load_with_terms(f, shard=True)
        assert part is not None and part.is_valid()
        assert sorted(part.doc_ids.tolist()) == sorted(state.substrate.doc_ids.tolist())
        assert sorted(set(part.cols.tolist())) == list(range(len(part.terms)))
    assert len(saved.terms) < sum(
        len(p.terms)
        for p in (
            _load_with_terms(f, shard=True)[3]
            for f in (d / (d / "CURRENT").read_text().strip()).glob("shard-*.db")
        )
        if p is not None
    )  # (the shards share terms, so their vocabularies overlap)


def test_a_distributed_save_counts_only_new_documents_and_forget_keeps_the_rest(
    tmp_path: Path, counted_texts: list[str]
) -> None:
    dc, d = _distributed(tmp_path)
    dc.close()
    with load_distributed(d) as loaded:
        counted_texts.clear()
        loaded.ingest_document("late note", "ribosome translation of messenger rna")
        save_distributed(loaded, d)
        assert counted_texts == ["late note\nribosome translation of messenger rna"]
        gone = int(loaded.documents()[0].id)
    forget_in_store(d, [gone])
    counted_texts.clear()
    with load_distributed(d) as after:
        saved = after.saved_term_counts
        assert saved is not None and gone not in saved.doc_ids.tolist()
        assert saved.doc_ids.tolist() == sorted(int(x.id) for x in after.documents())
        answers(after)
        assert counted_texts == []


def test_merging_parts_with_their_own_vocabularies() -> None:
    ids = np.array([9, 4], dtype=np.uint64)
    a = saved_counts_of(None, ids[:1], ["a"], ["wall cell cell"])
    b = saved_counts_of(None, ids[1:], ["b"], ["zinc ion wall cell"])
    m = merge_saved_counts([a, b])
    assert m is not None and m.is_valid()
    both = saved_counts_of(None, ids, ["a", "b"], ["wall cell cell", "zinc ion wall cell"])
    for doc in (4, 9):
        rows = []
        for x in (m, both):
            r = int(x.rows_of(np.array([doc], dtype=np.uint64))[0])
            lo, hi = int(x.ptr[r]), int(x.ptr[r + 1])
            cols = x.cols[lo:hi].tolist()
            assert cols == sorted(cols)  # ascending within a row, as the index needs
            rows.append({x.terms[c]: int(n) for c, n in zip(cols, x.cnts[lo:hi], strict=True)})
        assert rows[0] == rows[1]
    assert merge_saved_counts([]) is None
    assert merge_saved_counts([a, a._replace(ptr=a.ptr[:1])]) is None  # a part that does not fit


def test_a_distributed_save_after_a_query_takes_the_index_counts(
    tmp_path: Path, counted_texts: list[str]
) -> None:
    dc, _ = _distributed(tmp_path)
    with dc:
        answers(dc)  # (builds the merged graph's document index, counting every document)
        counted_texts.clear()
        save_distributed(dc, tmp_path / "again")
        assert counted_texts == []
        with load_distributed(tmp_path / "again") as loaded:
            got, want = loaded.saved_term_counts, dc.saved_term_counts
            assert got is not None and want is not None
            assert (
                got.doc_ids.tolist()
                == want.doc_ids.tolist()
                == sorted(int(x.id) for x in dc.documents())
            )


def test_rows_out_of_order_are_not_valid_counts() -> None:
    ids = np.array([1, 2], dtype=np.uint64)
    good = saved_counts_of(None, ids, ["a", "b"], ["cell wall pump", "ion gate"])
    assert good.is_valid()
    lo, hi = int(good.ptr[0]), int(good.ptr[1])
    swapped = good.cols.copy()
    swapped[lo:hi] = swapped[lo:hi][::-1]
    assert not good._replace(cols=swapped).is_valid()  # (the index bisects each row)
    compact = good.keep(ids[1:]).compact()
    assert compact.is_valid() and compact.terms == ["ion", "gate"]
    assert compact.cols.tolist() == [0, 1] and good.compact() is good


def _rows_by_id(x: SavedTermCounts) -> dict[int, tuple[dict[str, int], int]]:
    """Each document's terms with their counts, and its number of terms."""
    out = {}
    for r, doc in enumerate(x.doc_ids.tolist()):
        lo, hi = int(x.ptr[r]), int(x.ptr[r + 1])
        cols = x.cols[lo:hi].tolist()
        assert cols == sorted(cols)  # ascending within a row, as the index needs
        counts = {x.terms[c]: int(n) for c, n in zip(cols, x.cnts[lo:hi].tolist(), strict=True)}
        out[int(doc)] = (counts, int(x.lens[r]))
    return out


_WORDS = st.sampled_from(["cell", "wall", "ion", "pump", "zinc", "gate", "lipid", "kelp"])
_TEXTS = st.lists(st.lists(_WORDS, min_size=1, max_size=6).map(" ".join), max_size=8)


@settings(max_examples=60, deadline=None)
@given(old=_TEXTS, new=st.lists(st.lists(_WORDS, max_size=6).map(" ".join), max_size=5))
def test_prop_saved_counts_of_added_documents_are_counted_as_anew(
    old: list[str], new: list[str]
) -> None:
    """A save after an ingest takes the saved rows and puts the new documents' rows among
    them (by id, without gathering every row): the same counts as counting all anew."""
    from phago.ids import document_ids

    titles = [f"t{k}" for k in range(len(old) + len(new))]
    texts = old + new
    ids = document_ids(titles, texts)
    if len(set(ids.tolist())) != len(ids):
        return  # (equal title and text: one document)
    base = saved_counts_of(None, ids[: len(old)], titles[: len(old)], old)
    both = saved_counts_of(base, ids, titles, texts)
    assert both.is_valid() and both.terms[: len(base.terms)] == base.terms
    assert _rows_by_id(both) == _rows_by_id(saved_counts_of(None, ids, titles, texts))
