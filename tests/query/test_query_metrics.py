"""IR metrics: known values, the reference's precision variant, edge cases."""

from __future__ import annotations

import math

import pytest

from phago.query.metrics import (
    aggregate,
    ndcg_at_k,
    precision_at_k,
    precision_at_k_returned,
    recall_at_k,
    reciprocal_rank,
    score_query,
)

GOT = ["a", "x", "b", "y", "c", "d", "z"]
REL = {"a", "b", "c", "d", "e"}


def test_precision_divides_by_k() -> None:
    assert precision_at_k(GOT, REL, 5) == pytest.approx(3 / 5)
    assert precision_at_k(GOT, REL, 10) == pytest.approx(4 / 10)
    assert precision_at_k(["a"], REL, 5) == pytest.approx(1 / 5)


def test_reference_precision_divides_by_returned() -> None:
    assert precision_at_k_returned(["a"], REL, 5) == 1.0
    assert precision_at_k_returned(GOT, REL, 10) == pytest.approx(4 / 7)
    assert precision_at_k_returned([], REL, 5) == 0.0


def test_recall() -> None:
    assert recall_at_k(GOT, REL, 5) == pytest.approx(3 / 5)
    assert recall_at_k(GOT, REL, 10) == pytest.approx(4 / 5)
    assert recall_at_k(GOT, set(), 10) == 0.0


def test_reciprocal_rank() -> None:
    assert reciprocal_rank(GOT, REL) == 1.0
    assert reciprocal_rank(["x", "y", "c"], REL) == pytest.approx(1 / 3)
    assert reciprocal_rank(["x"], REL) == 0.0


def test_ndcg_known_value() -> None:
    dcg = 1 + 1 / math.log2(4) + 1 / math.log2(6) + 1 / math.log2(7)
    idcg = sum(1 / math.log2(i + 2) for i in range(5))
    assert ndcg_at_k(GOT, REL, 10) == pytest.approx(dcg / idcg)
    assert ndcg_at_k(["a", "b"], {"a", "b"}, 10) == pytest.approx(1.0)
    assert ndcg_at_k(["a"], set(), 10) == 0.0


def test_ndcg_ideal_is_capped_at_k() -> None:
    many = {f"r{i}" for i in range(20)}
    top = [f"r{i}" for i in range(10)]
    assert ndcg_at_k(top, many, 10) == pytest.approx(1.0)


def test_duplicates_count_once_and_labels_are_normalised() -> None:
    assert precision_at_k(["a", "a", "A"], {"a"}, 3) == pytest.approx(1 / 3)
    assert recall_at_k(["Cell "], {"cell"}, 5) == 1.0
    assert ndcg_at_k(["a", "a"], {"a", "b"}, 10) == pytest.approx(1 / (1 + 1 / math.log2(3)))


def test_score_query_and_aggregate() -> None:
    s1 = score_query("q1", ["a", "x"], ["a", "b"])
    s2 = score_query("q2", ["x", "b"], ["a", "b"])
    assert (s1.p_at_5, s1.p_at_5_returned, s1.r_at_10, s1.mrr) == (0.2, 0.5, 0.5, 1.0)
    agg = aggregate([s1, s2])
    assert agg.query_count == 2
    assert agg.mrr == pytest.approx(0.75)
    assert agg.to_report() == {
        "p@5": pytest.approx(0.2),
        "p@10": pytest.approx(0.1),
        "r@5": pytest.approx(0.5),
        "r@10": pytest.approx(0.5),
        "mrr": pytest.approx(0.75),
        "ndcg@10": pytest.approx(agg.ndcg_at_10),
        "p@5_returned": pytest.approx(0.5),
    }
    empty = aggregate([])
    assert empty.query_count == 0 and empty.ndcg_at_10 == 0.0
