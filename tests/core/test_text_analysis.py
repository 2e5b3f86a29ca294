"""analyse_keywords: the Numba path must match the pure-Python reference exactly."""

from __future__ import annotations

from collections.abc import Collection
from itertools import pairwise

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from phago._text_kernels import TermTable
from phago.text import (
    STOPWORDS,
    Keyword,
    KnownTerms,
    analyse_keyword_labels,
    analyse_keywords,
    keywords_from_tokens,
    tokenize_with_positions,
)


def reference(
    text: str,
    vocabulary: Collection[str] | None = None,
    *,
    boost: float = 3.0,
    max_keywords: int | None = None,
) -> tuple[list[Keyword], list[int], list[int]]:
    """The pre-kernel path: tokenise, rank, then the digester's kid/pos selection."""
    toks = tokenize_with_positions(text)
    kws = keywords_from_tokens(toks, vocabulary, boost=boost, max_keywords=max_keywords)
    index = {k.label: i for i, k in enumerate(kws)}
    sel = [(index[w], p) for w, p in toks if w in index]
    return kws, [k for k, _ in sel], [p for _, p in sel]


def check(
    text: str,
    vocabulary: Collection[str] | None = None,
    *,
    boost: float = 3.0,
    max_keywords: int | None = None,
) -> tuple[list[Keyword], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    kws, kid, pos = analyse_keywords(text, vocabulary, boost=boost, max_keywords=max_keywords)
    ref_kws, ref_kid, ref_pos = reference(text, vocabulary, boost=boost, max_keywords=max_keywords)
    assert kws == ref_kws
    # same types, not only equal values (score is a float, positions and counts are ints)
    assert [tuple(map(type, (k.label, k.score, k.first_position, k.count))) for k in kws] == [
        tuple(map(type, (k.label, k.score, k.first_position, k.count))) for k in ref_kws
    ]
    for arr, ref in ((kid, ref_kid), (pos, ref_pos)):
        assert isinstance(arr, np.ndarray)
        assert arr.dtype == np.int64
        assert arr.ndim == 1
        assert arr.tolist() == ref
    return kws, kid, pos


def labels(kws: list[Keyword]) -> list[str]:
    return [k.label for k in kws]


def test_empty_text() -> None:
    kws, kid, pos = check("")
    assert kws == [] and kid.shape == (0,) and pos.shape == (0,)


def test_whitespace_and_punctuation_only() -> None:
    kws, _, _ = check("  ,.;!? -- ... \n\t")
    assert kws == []


def test_only_stopwords() -> None:
    kws, kid, _ = check("The and THE of however Between without through")
    assert kws == [] and kid.size == 0


def test_short_pieces_count_as_raw_tokens() -> None:
    kws, kid, pos = check("a cell is in the wall")
    assert [(k.label, k.first_position) for k in kws] == [("cell", 1), ("wall", 5)]
    assert kid.tolist() == [0, 1] and pos.tolist() == [1, 5]


def test_exactly_three_letter_words() -> None:
    kws, _, pos = check("dna rna ab xyz the and fox ox dna")
    assert labels(kws) == ["dna", "rna", "xyz", "fox"]
    assert kws[0].count == 2
    assert pos.tolist() == [0, 1, 3, 6, 8]


def test_digits_are_alphanumeric() -> None:
    kws, _, _ = check("p53 2024 12 abc123 007 p53")
    assert labels(kws) == ["p53", "2024", "abc123", "007"]
    assert kws[0].count == 2


def test_underscore_and_punctuation_split() -> None:
    kws, _, pos = check("cell_wall snake_case__word dna-repair (membrane); x_y_zzz")
    assert labels(kws) == [
        "cell",
        "wall",
        "snake",
        "case",
        "word",
        "dna",
        "repair",
        "membrane",
        "zzz",
    ]
    assert pos.tolist()[-1] == 10  # x and y are raw tokens 8 and 9


def test_mixed_case_is_one_term_labelled_lowercase() -> None:
    kws, kid, _ = check("Cell CELL cElL cell Membrane")
    assert [(k.label, k.count) for k in kws] == [("cell", 4), ("membrane", 1)]
    assert kid.tolist() == [0, 0, 0, 0, 1]


def test_repeated_words_and_positions() -> None:
    kws, kid, pos = check("beta alpha beta gamma alpha beta")
    assert [(k.label, k.count, k.first_position) for k in kws] == [
        ("beta", 3, 0),
        ("alpha", 2, 1),
        ("gamma", 1, 3),
    ]
    assert kid.tolist() == [0, 1, 0, 2, 1, 0]
    assert pos.tolist() == [0, 1, 2, 3, 4, 5]


def test_max_keywords_cut_drops_their_tokens() -> None:
    kws, kid, pos = check("one alpha beta gamma delta alpha", max_keywords=2)
    assert labels(kws) == ["alpha", "beta"]
    assert kid.tolist() == [0, 1, 0] and pos.tolist() == [1, 2, 5]


@pytest.mark.parametrize("max_keywords", [None, 0, 1, 3, 100, -1, -2, -100, 2**70])
def test_max_keywords_follows_slice_semantics(max_keywords: int | None) -> None:
    check("alpha beta gamma beta delta alpha beta", {"delta"}, max_keywords=max_keywords)
    check("alpha beta gamma beta delta alpha beta", max_keywords=max_keywords)


def test_vocabulary_boost_changes_order() -> None:
    kws, kid, _ = check("beta alpha beta gamma", {"gamma", "unused"}, boost=3.0)
    assert labels(kws) == ["gamma", "beta", "alpha"]
    assert kws[0].score == 4.0 and kws[1].score == 2.0
    assert kid.tolist() == [1, 2, 1, 0]


@pytest.mark.parametrize("boost", [0.0, -1.0, -0.5, 0.5, 2.0, 1e300, float("inf"), -float("inf")])
def test_boost_values(boost: float) -> None:
    check("beta alpha beta gamma alpha beta delta", {"gamma", "alpha"}, boost=boost)


@pytest.mark.parametrize("boost", [3, float("nan"), np.float64(1.5)])
def test_unusual_boost_types_match_python(boost: float) -> None:
    kws, _, _ = analyse_keywords("beta alpha beta gamma", {"gamma"}, boost=boost)
    ref, _, _ = reference("beta alpha beta gamma", {"gamma"}, boost=boost)
    assert [k.label for k in kws] == [k.label for k in ref]
    assert [type(k.score) for k in kws] == [type(k.score) for k in ref]


@pytest.mark.parametrize(
    "vocabulary",
    [None, set(), frozenset({"beta"}), ["beta"], {"beta": 1}, KnownTerms(["beta", "Gamma"])],
)
def test_vocabulary_collections(vocabulary: Collection[str] | None) -> None:
    check("alpha beta gamma", vocabulary)


def test_ties_keep_first_occurrence_order() -> None:
    kws, _, _ = check("delta charlie bravo alpha bravo delta")
    assert labels(kws) == ["delta", "bravo", "charlie", "alpha"]
    # a boost that lands exactly on another count ties with it, first occurrence first
    kws, _, _ = check("delta charlie bravo alpha bravo bravo", {"alpha"}, boost=2.0)
    assert labels(kws) == ["bravo", "alpha", "delta", "charlie"]


def test_non_ascii_falls_back_to_python() -> None:
    kws, _, _ = check("Zellmembran Übertragung naïve café Zellmembran über")
    assert labels(kws) == ["zellmembran", "übertragung", "naïve", "café", "über"]
    check("Zellmembran Übertragung naïve café", {"café"}, max_keywords=2)
    check("ﬁsh cafe\u0301 ǅemal İstanbul ²³ x²y", max_keywords=3)


def test_many_distinct_terms_and_long_words() -> None:
    words = [f"term{i}" for i in range(3000)] + ["x" * 500, "y" * 70, "term7"] * 2
    text = " ".join(words)
    kws, _, _ = check(text)
    assert kws[0].label == "term7" and kws[0].count == 3
    check(text, {f"term{i}" for i in range(0, 3000, 7)}, max_keywords=50)


def test_control_and_high_ascii_bytes_separate() -> None:
    check("cell\x00wall\x7fmembrane\x1fcell`wall[x]{yyy}@zzz^abc")


WORDS = [*sorted(STOPWORDS), "cell", "wall", "membrane", "dna", "p53", "ab", "x", "cell2"]
PIECES = st.one_of(
    st.sampled_from(WORDS),
    st.sampled_from(WORDS).map(str.upper),
    st.sampled_from(WORDS).map(str.title),
    st.text(alphabet="abcdeXYZ019_", min_size=1, max_size=6),
)
SEPARATORS = st.text(alphabet=" \t\n_.,;:!?-'\"()[]{}#@$%^&*/\\|~`+=<>", min_size=1, max_size=3)


@st.composite
def ascii_documents(draw: st.DrawFn) -> str:
    pieces = draw(st.lists(st.tuples(PIECES, SEPARATORS), max_size=60))
    lead = draw(st.sampled_from(["", " ", "_", "--"]))
    return lead + "".join(p + s for p, s in pieces)


@settings(max_examples=300, deadline=None)
@given(
    text=ascii_documents(),
    vocab=st.lists(st.sampled_from([*WORDS, "abc", "bcd", "xyz", "019"]), max_size=12),
    boost=st.sampled_from([0.0, 1.0, 2.0, 3.0, -1.0, 0.5, 2.5]),
    max_keywords=st.one_of(st.none(), st.integers(min_value=-3, max_value=12)),
    as_none=st.booleans(),
)
def test_matches_python_reference(
    text: str, vocab: list[str], boost: float, max_keywords: int | None, as_none: bool
) -> None:
    vocabulary = None if as_none else {w.lower() for w in vocab}
    check(text, vocabulary, boost=boost, max_keywords=max_keywords)


@settings(max_examples=200, deadline=None)
@given(text=st.text(alphabet=st.characters(max_codepoint=127), max_size=200))
def test_matches_python_reference_any_ascii(text: str) -> None:
    check(text)
    check(text, {"abc", "the"}, max_keywords=3)


@settings(max_examples=300, deadline=None)
@given(
    text=ascii_documents() | st.text(max_size=80),
    vocab=st.lists(st.sampled_from([*WORDS, "abc", "bcd", "xyz", "019"]), max_size=12),
    boost=st.sampled_from([0.0, 3.0, -1.0, 2.5, 2]),
    max_keywords=st.one_of(st.none(), st.integers(min_value=-3, max_value=12)),
)
def test_keyword_labels_match_keywords(
    text: str, vocab: list[str], boost: float, max_keywords: int | None
) -> None:
    vocabulary = {w.lower() for w in vocab} or None
    kws, kid, pos = analyse_keywords(text, vocabulary, boost=boost, max_keywords=max_keywords)
    labels, lkid, lpos = analyse_keyword_labels(
        text, vocabulary, boost=boost, max_keywords=max_keywords
    )
    assert labels == [k.label for k in kws]
    assert lkid.tolist() == kid.tolist() and lpos.tolist() == pos.tolist()


# ---------------------------------------------------------------------- KnownTerms, TermTable

CONTENT = ["cell", "wall", "membrane", "dna", "p53", "cell2", "abc", "bcd", "xyz", "019", "gene"]
CONTENT_TEXTS = st.lists(
    st.tuples(st.sampled_from(CONTENT) | st.sampled_from(CONTENT).map(str.upper), SEPARATORS),
    max_size=40,
).map(lambda pieces: "".join(p + s for p, s in pieces))
VOCAB_TERMS = st.one_of(
    st.sampled_from([*CONTENT, "the", "and"]),
    st.sampled_from(CONTENT).map(str.title),  # stored as given: never matches a lowered token
    st.text(alphabet="abcXYZ019_ -\u00e9", min_size=0, max_size=6),
)


@settings(max_examples=300, deadline=None)
@given(
    texts=st.lists(CONTENT_TEXTS | ascii_documents(), min_size=1, max_size=4),
    learnt=st.lists(st.lists(VOCAB_TERMS, max_size=8), min_size=1, max_size=4),
    forget=st.lists(VOCAB_TERMS, max_size=3),
    boost=st.sampled_from([0.0, 3.0, -1.0, 2.5]),
    max_keywords=st.one_of(st.none(), st.integers(min_value=-3, max_value=12)),
)
def test_known_terms_give_what_a_plain_set_gives(
    texts: list[str],
    learnt: list[list[str]],
    forget: list[str],
    boost: float,
    max_keywords: int | None,
) -> None:
    """Growing the vocabulary between analyses (its table catching up), and removing terms
    (the table rebuilt), a KnownTerms vocabulary ranks exactly as the same plain set."""
    known, plain = KnownTerms(), set()
    for k, terms in enumerate(learnt):
        if k % 2:
            known.update(terms)
        else:
            for t in terms:
                known.add(t)
        plain.update(terms)
        if k == len(learnt) - 1 and forget:
            known -= set(forget)
            plain -= set(forget)
        assert known == plain
        for text in texts:
            want = analyse_keywords(text, plain or None, boost=boost, max_keywords=max_keywords)
            got = analyse_keywords(text, known or None, boost=boost, max_keywords=max_keywords)
            assert got[0] == want[0]
            assert got[1].tolist() == want[1].tolist() and got[2].tolist() == want[2].tolist()
            labels, kid, _ = analyse_keyword_labels(
                text, known or None, boost=boost, max_keywords=max_keywords
            )
            assert labels == [kw.label for kw in want[0]] and kid.tolist() == want[1].tolist()


def test_known_terms_boost_only_exact_lowercase_terms() -> None:
    text = "Gamma gamma beta beta beta alpha alpha"
    known = KnownTerms(["Alpha"])  # not "alpha": no boost
    assert labels(check(text, known, boost=5.0)[0]) == ["beta", "gamma", "alpha"]
    known.add("alpha")
    assert labels(check(text, known, boost=5.0)[0]) == ["alpha", "beta", "gamma"]
    known.discard("alpha")  # the table is rebuilt without it
    assert labels(check(text, known, boost=5.0)[0]) == ["beta", "gamma", "alpha"]


def test_known_terms_pickle_and_copy_as_their_terms() -> None:
    import copy
    import pickle

    known = KnownTerms(["cell", "wall"])
    known.table()
    back = pickle.loads(pickle.dumps(known))
    assert type(back) is KnownTerms and back == known and back._table is None
    assert copy.deepcopy(known) == known
    for other in (back, copy.copy(known)):
        other.add("membrane")
        assert labels(analyse_keywords("membrane cell", other)[0]) == ["membrane", "cell"]
    assert "membrane" not in known


def test_known_terms_in_place_operators_keep_the_table_right() -> None:
    text = "alpha beta beta gamma gamma gamma"
    known = KnownTerms()
    known |= {"alpha"}
    assert labels(check(text, known, boost=5.0)[0])[0] == "alpha"
    known &= {"beta"}
    assert known == set()
    known ^= {"beta"}
    assert labels(check(text, known, boost=5.0)[0])[0] == "beta"
    known.clear()
    known.update(["gamma"], ("alpha",))
    assert known == {"gamma", "alpha"}
    assert labels(check(text, known, boost=5.0)[0]) == ["gamma", "alpha", "beta"]
    assert known.pop() in {"gamma", "alpha"} and len(known) == 1
    known.remove(next(iter(known)))
    known.difference_update({"x"})
    known.intersection_update({"x"})
    known.symmetric_difference_update({"beta"})
    assert labels(check(text, known, boost=5.0)[0])[0] == "beta"


def test_term_table_grows_and_skips_duplicates_and_non_ascii() -> None:
    table = TermTable()
    words = [f"term{i}" for i in range(3000)]
    for start in range(0, 3000, 7):  # many small batches, as a digester learns
        table.add(words[start : start + 7])
    table.add(words[:100])  # again: no change
    table.add(["caf\u00e9", "na\u00efve", "x y", "a\0b", "cell-wall", ""])  # no token is one
    assert table.count == 3000
    small = TermTable()
    small.add(iter(["a\0b", "ok", "ab"]))  # a term holding the separator is dropped alone
    assert small.count == 2 and bytes(small.raw[: small.used]) == b"okab"
    assert table.used == sum(map(len, words))
    stored = bytes(table.raw[: table.used]).decode()
    cuts = table.off[: table.count + 1].tolist()
    assert sorted(stored[a:b] for a, b in pairwise(cuts)) == sorted(words)
    assert (table.buckets >= 0).sum() == 3000 and len(table.buckets) >= 6000


def test_known_terms_added_unseen_for_long_rebuild_the_table() -> None:
    known = KnownTerms(["alpha"])
    known.table()
    for _ in range(400):  # a digester learning the same labels tick after tick, not lysing
        known.update(["beta", "gamma"])
    assert known._table is None and len(known._added) < 300
    assert labels(check("alpha beta gamma gamma", known, boost=5.0)[0]) == [
        "gamma",
        "alpha",
        "beta",
    ]
