"""The tokeniser in scripts other than English: combining marks, Turkish İ, Chinese and
Japanese bigrams, the minimum length in characters; and proof that English is unchanged."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from phago import Colony
from phago.colony import check_keyword_counts
from phago.corpus import load_sample_corpus, sample_queries
from phago.errors import DocumentError
from phago.ingest import digest_new_documents
from phago.query import document_scores, retrieve
from phago.synthetic import synthetic_corpus
from phago.text import (
    STOPWORDS,
    analyse_keywords,
    keyword_occurrences,
    keywords_from_tokens,
    label_terms,
    term_bound,
    tokenize,
    tokenize_with_positions,
)

# ------------------------------------------------------------- the tokeniser before the change

_OLD_RE = re.compile(r"[^\W_]+", re.UNICODE)


def _old_pieces(text: str) -> Iterable[str]:
    return _OLD_RE.findall(unicodedata.normalize("NFC", text).lower())


def _old_long(w: str) -> bool:
    return len(w) >= 3 or (not w.isascii() and len(w.encode("utf-8")) >= 3)


def old_tokenize_with_positions(text: str) -> list[tuple[str, int]]:
    """phago.text.tokenize_with_positions as it was before combining marks and bigrams."""
    return [(w, i) for i, w in enumerate(_old_pieces(text)) if _old_long(w) and w not in STOPWORDS]


def old_label_terms(label: str) -> list[str]:
    return [w for w in _old_pieces(label) if len(w.encode("utf-8")) >= 3]


def _english_texts() -> list[str]:
    texts = [d.title + "\n\n" + d.content for d in load_sample_corpus()]
    texts += [str(q["query"]) for q in sample_queries() + sample_queries(heldout=True)]
    texts += [t for _, t in synthetic_corpus(400, vocab=5000, seed=7)]
    # English as editors write it: curly quotes, dashes, ellipses, accented loanwords
    texts += [
        t.replace("'", "\u2019").replace(". ", "\u2026 ").replace(" - ", " \u2014 ")
        + " \u201cnaïve café façade\u201d"
        for t in texts[:60]
    ]
    return texts


# ----------------------------------------------------------------------------------- English


def test_english_tokens_are_exactly_the_old_ones() -> None:
    texts = _english_texts()
    assert sum(map(len, texts)) > 200_000
    for text in texts:
        old = old_tokenize_with_positions(text)
        assert tokenize_with_positions(text) == old
        assert tokenize(text) == [w for w, _ in old]
        assert label_terms(text) == old_label_terms(text)


_ENGLISH_CHARS = st.characters(min_codepoint=32, max_codepoint=126) | st.sampled_from(
    list("\n\t\u2019\u2018\u201c\u201d\u2014\u2013\u2026\u00a0\u00b0\u2022éèüöçñ")
)


@given(st.text(alphabet=_ENGLISH_CHARS, max_size=300))
def test_english_like_text_keeps_every_old_term(text: str) -> None:
    # the only difference: a two-letter word with an accent ("él") is short now, as "el" was
    old = [(w, i) for w, i in old_tokenize_with_positions(text) if len(w) >= 3]
    assert tokenize_with_positions(text) == old


# ------------------------------------------------------------------------- combining marks


@pytest.mark.parametrize(
    ("text", "terms"),
    [
        ("नमस्ते दुनिया, भारत की राजधानी दिल्ली है", ["नमस्ते", "दुनिया", "भारत", "राजधानी", "दिल्ली"]),
        ("சென்னை நகரம்", ["சென்னை", "நகரம்"]),
        ("กรุงเทพ เป็น เมืองหลวง", ["กรุงเทพ", "เป็น", "เมืองหลวง"]),
        ("Cafe\u0301 in Montre\u0301al", ["café", "montréal"]),  # decomposed accents
        ("x\u0301yz mo\u0327\u0301n", ["x\u0301yz", "m\u00f3\u0327n"]),  # marks NFC keeps
    ],
)
def test_combining_marks_stay_in_their_word(text: str, terms: list[str]) -> None:
    assert tokenize(text) == terms


@pytest.mark.parametrize(
    ("text", "query"),
    [
        ("İSTANBUL ve İzmir", "istanbul"),
        ("istanbul ve izmir", "İSTANBUL"),
        ("I\u0307STANBUL", "İstanbul"),  # a decomposed İ
        ("दिल्ली भारत", "दिल्ली"),
    ],
)
def test_a_query_meets_the_document_term(text: str, query: str) -> None:
    assert tokenize(query)[0] in tokenize(text)


def test_turkish_capital_i_is_a_plain_i() -> None:
    assert tokenize("İSTANBUL İzmir") == ["istanbul", "izmir"]
    assert label_terms("İZMİR") == ["izmir"]
    # a dot above after İ: both dots go (hypothesis found "İ̇ก" gave the term "i̇ก",
    # whose own term was "iก")
    assert tokenize("İ\u0307ก") == tokenize("i\u0307ก") == tokenize("iก") == ["iก"]
    assert tokenize("i\u0307\u0307stanbul") == ["istanbul"]


def test_joiners_and_compatibility_forms_fold() -> None:
    assert tokenize("می\u200cخواهم") == tokenize("میخواهم") == ["میخواهم"]
    assert tokenize("ﬁnance ＡＢＣ１２３") == ["finance", "abc123"]
    assert tokenize("ｶﾞｲﾄﾞ") == tokenize("ガイド") == ["ガイ", "イド"]


# ------------------------------------------------------------------------- Chinese, Japanese


def test_chinese_runs_become_overlapping_bigrams() -> None:
    bigrams = ["北京", "京是", "是中", "中国", "国的", "的首", "首都"]
    assert tokenize("北京是中国的首都。") == bigrams
    assert tokenize("水") == ["水"]  # a run of one character is a term by itself
    assert tokenize("水，火") == ["水", "火"]
    assert tokenize("2024年北京") == ["2024", "年北", "北京"]


def test_japanese_splits_by_script_and_drops_hiragana() -> None:
    terms = tokenize("機械学習はデータから学ぶ方法です")
    assert terms == ["機械", "械学", "学習", "デー", "ータ", "学", "方法"]
    assert tokenize("ひらがなだけ") == []


def test_a_kana_keeps_its_voicing_mark_in_its_bigrams() -> None:
    # half-width ｲﾞ folds to イ and the combining voicing mark U+3099 (no composed form):
    # the pair is one unit, so no bigram starts with the mark
    assert tokenize("ｲﾞタ") == ["イ\u3099タ"]
    assert tokenize("ｲﾞタカ") == ["イ\u3099タ", "タカ"]
    assert tokenize("ｲﾞ") == ["イ\u3099"]
    assert tokenize("ｶﾞｷﾞ") == tokenize("ガギ") == ["ガギ"]  # composed where a form exists


def test_bigram_positions_count_each_bigram() -> None:
    assert tokenize_with_positions("the 北京是 cell") == [("北京", 1), ("京是", 2), ("cell", 3)]
    assert tokenize_with_positions("学ぶ方法") == [("学", 0), ("方法", 2)]


def test_label_terms_of_a_bigram_label_meet_the_query() -> None:
    assert label_terms("北京") == tokenize("北京") == ["北京"]


def test_chinese_and_japanese_documents_are_found_by_their_words() -> None:
    c = Colony(seed=0)
    docs = [
        c.ingest_document("zh", "东京是日本的首都。北京是中国的首都。"),
        c.ingest_document("ja", "機械学習はデータから学ぶ方法です"),
        c.ingest_document("en", "Rivers carve valleys through the mountains."),
    ]
    digest_new_documents(c, docs, digesters=2)
    assert retrieve(c, "北京", k=3)[0].label == "北京"
    assert [d.title for d in document_scores(c, "北京")] == ["zh"]
    assert [d.title for d in document_scores(c, "機械学習")] == ["ja"]
    assert [d.title for d in document_scores(c, "データ")] == ["ja"]


# ---------------------------------------------------------------------------- minimum length


@pytest.mark.parametrize(
    ("text", "terms"),
    [
        ("на реке Москва", ["реке", "москва"]),  # two Cyrillic letters are short, as in English
        ("هي مصر", ["مصر"]),
        ("él fue a café", ["fue", "café"]),
        ("की है दिन घर", ["दिन", "घर"]),  # syllabic: two letters (marks not counted) suffice
        ("물 서울", ["서울"]),  # Hangul: one syllable is short, two are a word
        ("ไป ก", ["ไป"]),  # Thai: two letters are a word, one is not
    ],
)
def test_minimum_length_counts_characters_not_bytes(text: str, terms: list[str]) -> None:
    assert tokenize(text) == terms


# ------------------------------------------------------------------------------ invariants

_LETTERS = "abcXYZ019 _-.,\néüİıßςदिल्लीகைகரம்กรุงเท北京是中国的首都はデータから学ぶ서울은한ｶﾞｲﾄﾞ"
_WORLD = st.sampled_from([*_LETTERS, "\u0301", "\u0307", "\u200c", "\U00011038", "🍕"])


@given(st.text(alphabet=_WORLD, max_size=120))
def test_tokens_are_lowercase_normalised_words(text: str) -> None:
    for t in tokenize(text):
        assert t == t.lower() == unicodedata.normalize("NFC", t)
        assert t not in STOPWORDS
        assert all(c.isalnum() or unicodedata.category(c)[0] == "M" for c in t)
        assert not unicodedata.category(t[0]).startswith("M")
        assert tokenize(t) == [t] or len(t) == 2  # a term is its own term (bigrams too)


@given(st.text(alphabet=_WORLD, max_size=120))
def test_term_bound_bounds_the_distinct_terms(text: str) -> None:
    assert len(set(tokenize(text))) <= term_bound(text)


@given(st.text(alphabet=_WORLD, max_size=120))
def test_analysis_matches_the_tokeniser(text: str) -> None:
    tokens = tokenize_with_positions(text)
    keywords, kid, pos = analyse_keywords(text)
    assert keywords == keywords_from_tokens(tokens)
    want_kid, want_pos = keyword_occurrences(tokens, keywords)
    assert kid.tolist() == want_kid.tolist() and pos.tolist() == want_pos.tolist()


def test_the_keyword_limit_counts_chinese_text_below_twice_the_limit() -> None:
    text = "".join(chr(0x4E00 + i) for i in range(150))  # 149 distinct bigrams in 150 chars
    assert len(set(tokenize(text))) == 149
    with pytest.raises(DocumentError, match="has 149 distinct keywords"):
        check_keyword_counts(["zh"], [text], limit=100)
