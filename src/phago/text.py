"""Tokenisation, the one stopword list, and keyword extraction.

Digestion and queries share one tokeniser and one stopword list (the reference had three),
so a query meets the documents' terms in every script. A term is found like this:

* Web addresses (``https://…``, ``www.…``) are skipped: no concept of a note lives in
  ``https``, ``www`` or ``com``. The text itself keeps them.
* The text is lowercased (after NFC normalisation; full- and half-width forms and the Latin
  ligatures are folded to ordinary letters, zero-width joiners are dropped, and the dot
  that lowercasing Turkish İ leaves is dropped, so ``İSTANBUL`` is ``istanbul``; so is any
  other dot above right after an i).
* It is split on every character that is not a letter, a digit or a combining mark (an
  underscore splits too). Combining marks stay in their word: Devanagari ``दिल्ली``, Tamil
  ``சென்னை`` and Thai ``เมืองหลวง`` are one term each, not shreds.
* Han, Katakana and Hiragana are written without spaces, so each run of Han characters
  and each run of Katakana is cut into overlapping two-character terms (``北京是中国`` →
  ``北京 京是 是中 中国``, the bigrams most search engines use); a run of one character is
  a term by itself. Runs of Hiragana (particles and endings: ``は``, ``です``) are dropped.
* A piece is kept when it has at least three characters (combining marks not counted), or
  two in a script whose characters are syllables (Indic and South-East Asian scripts,
  Hangul, Ethiopic, ...), and is not in :data:`STOPWORDS`.

English and every other ASCII text behave exactly as before these rules: lowercase runs of
``[a-z0-9]`` of three or more letters that are not stopwords. Limits: no stopwords for
languages other than English; Korean particles stay attached to their word (``서울은`` is
not ``서울``); Thai and other scripts written without spaces, other than Chinese and
Japanese, are split only where the text has spaces or punctuation; Japanese written in
Hiragana alone gives no terms; Turkish dotless ı is not folded onto i.

:func:`analyse_keywords` computes the same keywords (plus where they occur) with a Numba
kernel for ASCII text, and the same Python as :func:`tokenize` for the rest.

Example:
    >>> tokenize("The cell membrane, and the CELL wall.")
    ['cell', 'membrane', 'cell', 'wall']
    >>> [k.label for k in extract_keywords("cell wall cell membrane")]
    ['cell', 'wall', 'membrane']
"""

from __future__ import annotations

import operator
import re
import unicodedata
from collections import Counter
from collections.abc import Collection, Iterable
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, fields
from functools import cache
from itertools import repeat
from typing import Any

import numpy as np
import numpy.typing as npt

from phago._text_kernels import (
    TermTable,
    analyse_ascii,
    analyse_ascii_known,
    rank_terms,
    scan_ascii,
    stop_table,
)

__all__ = [
    "STOPWORDS",
    "Keyword",
    "KnownTerms",
    "analyse_keyword_labels",
    "analyse_keywords",
    "extract_keywords",
    "keyword_occurrences",
    "label_terms",
    "tokenize",
    "tokenize_with_positions",
]

# Union of the reference's three lists (digester, graph query, hybrid) plus common function and
# filler words that carry no concept, so digestion and retrieval agree on what a term is.
STOPWORDS: frozenset[str] = frozenset(
    [
        "the",
        "a",
        "an",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "being",
        "have",
        "has",
        "had",
        "do",
        "does",
        "did",
        "will",
        "would",
        "shall",
        "should",
        "may",
        "might",
        "must",
        "can",
        "could",
        "need",
        "dare",
        "ought",
        "used",
        "of",
        "in",
        "to",
        "for",
        "with",
        "on",
        "at",
        "from",
        "by",
        "about",
        "as",
        "into",
        "through",
        "during",
        "before",
        "after",
        "above",
        "below",
        "between",
        "out",
        "off",
        "over",
        "under",
        "again",
        "further",
        "then",
        "once",
        "here",
        "there",
        "when",
        "where",
        "why",
        "how",
        "all",
        "each",
        "every",
        "both",
        "few",
        "more",
        "most",
        "other",
        "some",
        "such",
        "no",
        "nor",
        "not",
        "only",
        "own",
        "same",
        "so",
        "than",
        "too",
        "very",
        "just",
        "because",
        "but",
        "and",
        "or",
        "if",
        "while",
        "that",
        "this",
        "these",
        "those",
        "it",
        "its",
        "they",
        "them",
        "their",
        "we",
        "our",
        "you",
        "your",
        "he",
        "she",
        "his",
        "her",
        "which",
        "what",
        "who",
        "whom",
        "also",
        "thus",
        "however",
        "one",
        "two",
        "three",
        "many",
        "much",
        "called",
        "known",
        "see",
        "seen",
        "like",
        "make",
        "makes",
        "made",
        "use",
        "uses",
        "using",
        "often",
        "well",
        "new",
        "first",
        "yet",
        "still",
        "even",
        "since",
        "within",
        "without",
        "upon",
        "via",
        "per",
        "among",
        "around",
        "any",
        # fillers that topped the concepts of the shared corpus (forty-eighth session)
        "including",
        "include",
        "includes",
        "included",
        "approximately",
        "across",
        "along",
        "toward",
        "towards",
        "enabling",
        "enable",
        "enables",
        "enabled",
        "providing",
        "provide",
        "provides",
        "provided",
        "containing",
        "contains",
        "involving",
        "involves",
        "involved",
        "requires",
        "require",
        "required",
        "requiring",
        "serves",
        "serve",
        "serving",
        "allows",
        "allow",
        "allowing",
        "allowed",
        "becomes",
        "become",
        "becoming",
        "became",
        "several",
        "various",
        "multiple",
        "another",
        "whether",
        "either",
        "neither",
        "rather",
        "although",
        "though",
        "therefore",
        "thereby",
        "whereas",
        "whose",
        "directly",
        "typically",
        "generally",
        "particularly",
        "especially",
        "respectively",
        "non",
        "example",
        "four",
        "five",
        "six",
        "seven",
        "eight",
        "nine",
        "ten",
    ]
)

# ------------------------------------------------------------------------------ tokeniser

TOKENIZER_VERSION = 3
"""Names the terms :func:`tokenize` gives: raised whenever they change for some text, so that
term counts another version saved (a store's, see :mod:`phago.query.term_counts`) are not
used. (2: every dot above an i is dropped, not only the first, so that a term is its own
term: ``İ`` followed by a combining dot above gave ``i̇``, whose own term was ``i``. 3: filler
words such as "including", "approximately", "across" and "enabling" are stopwords.)"""

_DOTS_ON_I = re.compile("i\u0307+")

_ASCII_PIECE = re.compile(r"[a-z0-9]+")

_DATA_PARAMS = r"(?:;[\w.+-]{1,127}(?:=[^\s;,()<>\"']{0,127})?){0,8}"
# (every part bounded, so each "data:" costs at most a few thousand steps: unbounded parts
# made text of many "data:" take time growing with the square of its length)
URL = re.compile(
    r"\b(?:(?:https?|ftp|file)://|www\.)[^\s<>\"'`()\[\]{}]*[^\s<>\"'`()\[\]{}.,;:!?]"
    r"|\bdata:(?:[\w.+-]{1,127}/[\w.+-]{1,127})?" + _DATA_PARAMS + r";base64,[A-Za-z0-9+/=%_-]*"
    r"|\bdata:(?:image|font|audio|video|application|model)/[\w.+-]{1,127}"
    + _DATA_PARAMS
    + r",[^\s\"'()<>]*",
    re.IGNORECASE,
)
"""A web address: ``scheme://…`` (http, https, ftp, file) or ``www.…``, up to a space,
bracket or quote, without trailing punctuation; or a data address holding a whole file
(``data:image/png;base64,…``, or a picture or font written out, such as
``data:image/svg+xml,%3Csvg…``, as Markdown and HTML notes inline their pictures), whose
encoded bytes would otherwise make dozens of meaningless concepts (up to a space, quote or
bracket: base64 wrapped over several lines leaves its later lines)."""


def without_urls(text: str) -> str:
    """``text`` with each web address (:data:`URL`) replaced by a space.

    Example:
        >>> without_urls("see https://example.com/a?b=1, then www.example.org.")
        'see  , then  .'
        >>> without_urls("a cat ![cat](data:image/png;base64,iVBORw0KGgo=) sleeps")
        'a cat ![cat]( ) sleeps'
    """
    # (the search is rarely needed; "ww." in any case: Www., wWw. and WWW. too; "ata:" for
    # data: and Data:, "ATA:" for DATA:)
    if (
        "://" in text
        or "ww." in text
        or "wW." in text
        or "Ww." in text
        or "WW." in text
        or "ata:" in text
        or "ATA:" in text
    ):
        return URL.sub(" ", text)
    return text


# Han (with the iteration and ideographic number marks), Katakana (with the prolonged sound
# mark) and Hiragana: the scripts written without spaces between words. The kana voicing
# marks U+3099/U+309A are combining marks that belong to the kana before them.
_HAN = (
    "\u3005\u3007\u3021-\u3029\u3038-\u303b\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
    "\U00020000-\U0003ffff"
)
_KATAKANA = "\u30a1-\u30fa\u30fc-\u30ff\u31f0-\u31ff\u3099\u309a"
_HIRAGANA = "\u3041-\u3096\u3099-\u309a\u309d-\u309f"
_CJK_RUN = re.compile(f"[{_HAN}]+|[{_KATAKANA}]+|[{_HIRAGANA}]+")
_CJK_START = re.compile(f"[{_HAN}{_KATAKANA}{_HIRAGANA}]")
_HIRAGANA_START = re.compile(f"[{_HIRAGANA}]")

# Scripts whose characters stand for syllables (Brahmic and South-East Asian abugidas,
# Hangul, Ethiopic, Cherokee, Canadian syllabics, Yi): a word of two of them is a word.
_SYLLABIC = re.compile(
    "[\u0900-\u0dff\u0e00-\u0fff\u1000-\u109f\u1100-\u11ff\u1200-\u139f\u13a0-\u13ff"
    "\u1400-\u167f\u1780-\u17ff\u1a00-\u1aaf\u1b00-\u1c4f\u3130-\u318f\ua000-\ua4cf"
    "\ua800-\ua8ff\ua960-\ua97f\ua980-\uaaff\uabc0-\uabff\uac00-\ud7ff\U00011000-\U00011fff]"
)

# Compatibility forms folded to their ordinary letters (NFKC): full- and half-width forms
# (Ａ → a, ｶﾞ → ガ) and the Latin ligatures PDF text is full of (ﬁ → fi).
_COMPAT_CHARS = "\ufb00-\ufb06\uff01-\uffef"
_COMPAT = re.compile(f"[{_COMPAT_CHARS}]+")
# Joiners are invisible and inside words (Persian, Indic): dropped, so "a\u200cb" is "ab".
_JOINERS = str.maketrans("", "", "\u200c\u200d")
_ASTRAL = "\U00010000-\U0010ffff"


@cache
def _marks() -> tuple[str, str]:
    """The combining marks (categories Mn, Mc, Me) as two regex class bodies, those of the
    Basic Multilingual Plane and the others (a class mixing both is searched range by range,
    far slower). Marks belong to the letter before them (Devanagari vowel signs, Thai
    vowels, Tamil virama, ...). Built on first use from :mod:`unicodedata`; planes 0, 1 and
    14 hold every mark."""
    ranges: list[tuple[int, int]] = []
    for lo, hi in ((0x300, 0x20000), (0xE0000, 0xE1000)):
        for c in range(lo, hi):
            if unicodedata.category(chr(c))[0] == "M":
                if ranges and ranges[-1][1] == c - 1:
                    ranges[-1] = (ranges[-1][0], c)
                else:
                    ranges.append((c, c))

    def body(rs: list[tuple[int, int]]) -> str:
        return "".join(chr(a) if a == b else f"{chr(a)}-{chr(b)}" for a, b in rs)

    return body([r for r in ranges if r[1] < 0x10000]), body([r for r in ranges if r[0] > 0xFFFF])


@cache
def _special_re() -> re.Pattern[str]:
    """A character that needs more than splitting NFC text at non-alphanumerics: a mark,
    a joiner, a compatibility form, Turkish İ, Han or kana, or (to keep the class fast)
    anything outside the Basic Multilingual Plane."""
    bmp_marks, _ = _marks()
    cjk = (_HAN + _KATAKANA + _HIRAGANA).replace("\U00020000-\U0003ffff", "")
    return re.compile(f"[{bmp_marks}\u200c\u200d\u0130{_COMPAT_CHARS}{cjk}{_ASTRAL}]")


@cache
def _piece_re() -> re.Pattern[str]:
    # a letter or digit, then letters, digits and combining marks (underscores are spaces);
    # marks outside the BMP are looked for only at characters outside it
    bmp, astral = _marks()
    return re.compile(rf"\w[\w{bmp}]*(?:(?=[{_ASTRAL}])[{astral}]+[\w{bmp}]*)*")


@cache
def _marks_re() -> re.Pattern[str]:
    bmp, astral = _marks()
    return re.compile(f"[{bmp}]|(?=[{_ASTRAL}])[{astral}]")


_PLAIN_PIECE = re.compile(r"[^\W_]+")
_WORD = re.compile(r"\w+")


def _fold(text: str) -> str:
    """NFC ``text`` (with a special character) normalised and lowercased as terms are:
    joiners dropped, compatibility forms folded, NFC, lowercase, and the dot that
    lowercasing Turkish İ leaves on its i (``"İ".lower()`` is ``"i̇"``) dropped, so
    İSTANBUL is istanbul, and with it any more dots above on that i (else the term's own
    term would lose them)."""
    if "\u200c" in text or "\u200d" in text:
        text = text.translate(_JOINERS)
    if _COMPAT.search(text) is not None:
        text = _COMPAT.sub(lambda m: unicodedata.normalize("NFKC", m.group()), text)
    text = unicodedata.normalize("NFC", text).lower()
    if "i\u0307" in text:
        text = unicodedata.normalize("NFC", _DOTS_ON_I.sub("i", text))
    return text


def _unicode_terms(text: str) -> tuple[list[str], list[bool] | None]:
    """The raw pieces of non-ASCII ``text`` (see the module docstring) and, for each,
    whether it is long enough to be a term (None: no piece holds a mark or a Han or kana
    character; :func:`_long_plain` tells).

    Pieces are words of letters, digits and combining marks, with every run of Han or
    Katakana cut into overlapping bigrams (a run of one character is kept as it is); a run
    of Hiragana is a piece that is never a term (particles, endings).
    """
    t = unicodedata.normalize("NFC", text)
    if _special_re().search(t) is None:  # most text in European scripts
        return _PLAIN_PIECE.findall(t.lower()), None
    t = _fold(t).replace("_", " ")
    if _CJK_START.search(t) is None:
        pieces = _piece_re().findall(t)
        # the same words without their marks, to count letters in
        bases = _WORD.findall(_marks_re().sub("", t))
        if len(bases) != len(pieces):  # pragma: no cover - they always pair up
            return pieces, [_long_word(w) for w in pieces]
        return pieces, [
            len(b) >= 3 or (len(b) == 2 and _SYLLABIC.search(b) is not None) for b in bases
        ]
    pieces, long = [], []
    for w in _piece_re().findall(_CJK_RUN.sub(_spaced, t)):
        if _CJK_START.match(w) is None:
            pieces.append(w)
            long.append(len(w) >= 3 if w.isascii() else _long_word(w))
        elif _HIRAGANA_START.match(w) is not None:
            pieces.append(w)
            long.append(False)
        else:
            # characters, or kana with their voicing marks (one unit each)
            units: str | list[str] = w
            if "\u3099" in w or "\u309a" in w:
                units = _KANA_UNIT.findall(w)
            if len(units) == 1:
                pieces.append(w)
                long.append(True)
            else:
                pieces.extend([units[i] + units[i + 1] for i in range(len(units) - 1)])
                long.extend([True] * (len(units) - 1))
    return pieces, long


_KANA_UNIT = re.compile("[^\u3099\u309a][\u3099\u309a]*")


def _spaced(m: re.Match[str]) -> str:
    return f" {m.group()} "  # (a function: faster than the template r" \g<0> ")


def _long_word(w: str) -> bool:
    """Whether the piece ``w`` (not Han or kana) is long enough to be a term: three
    characters (combining marks not counted), or two in a syllabic script."""
    base = _marks_re().sub("", w)
    return len(base) >= 3 or (len(base) == 2 and _SYLLABIC.search(base) is not None)


def _long_plain(w: str) -> bool:
    """:func:`_long_word` for a piece without marks."""
    return len(w) >= 3 or (len(w) == 2 and _SYLLABIC.search(w) is not None)


def _terms(text: str) -> tuple[list[str], list[bool]]:
    """The raw pieces of ``text`` and, for each, whether it is long enough to be a term."""
    if text.isascii():
        pieces = _ASCII_PIECE.findall(text.lower())
        return pieces, [len(w) >= 3 for w in pieces]
    pieces, long = _unicode_terms(text)
    return pieces, [_long_plain(w) for w in pieces] if long is None else long


def tokenize(text: str) -> list[str]:
    """Split ``text`` into lowercase terms, dropping short pieces and stopwords.

    See the module docstring for what a term is in each script.

    Args:
        text: any text.

    Returns:
        The terms in text order, duplicates kept.

    Example:
        >>> tokenize("What is DNA-repair?")
        ['dna', 'repair']
        >>> tokenize("İSTANBUL, दिल्ली; 北京是中国的首都")
        ['istanbul', 'दिल्ली', '北京', '京是', '是中', '中国', '国的', '的首', '首都']
    """
    stop = STOPWORDS
    text = without_urls(text)
    if text.isascii():
        return [w for w in _ASCII_PIECE.findall(text.lower()) if len(w) >= 3 and w not in stop]
    pieces, long = _unicode_terms(text)
    if long is None:
        return [
            w
            for w in pieces
            if (len(w) >= 3 or (len(w) == 2 and not w.isascii() and _long_plain(w)))
            and w not in stop
        ]
    return [w for w, ok in zip(pieces, long, strict=True) if ok and w not in stop]


def tokenize_with_positions(text: str) -> list[tuple[str, int]]:
    """Like :func:`tokenize`, with each term's index among all raw tokens of the text.

    The index counts every raw piece (stopwords and short pieces included; each bigram of
    a Han or Katakana run is one), so the distance between two indices is the distance in
    words in the original text.

    Example:
        >>> tokenize_with_positions("the cell and the wall")
        [('cell', 1), ('wall', 4)]
    """
    stop = STOPWORDS
    text = without_urls(text)
    if text.isascii():
        return [
            (w, i)
            for i, w in enumerate(_ASCII_PIECE.findall(text.lower()))
            if len(w) >= 3 and w not in stop
        ]
    pieces, long = _terms(text)
    return [
        (w, i) for i, (w, ok) in enumerate(zip(pieces, long, strict=True)) if ok and w not in stop
    ]


def label_terms(label: str) -> list[str]:
    """Terms of a node label for label TF-IDF: its pieces long enough to be terms.

    No stopword filtering (a label is already a chosen term).

    Example:
        >>> label_terms("Bridge: 'cell' connects")
        ['bridge', 'cell', 'connects']
    """
    pieces, long = _terms(label)
    return [w for w, ok in zip(pieces, long, strict=True) if ok]


def term_bound(text: str) -> int:
    """An upper bound of the number of distinct terms of ``text``, without tokenising it.

    A term and the separator after it take at least two characters, except in Han or
    Katakana (full or half width), where every character can start a bigram.

    Example:
        >>> term_bound("alpha beta"), term_bound("北京是中国的首都")
        (5, 8)
    """
    if text.isascii() or (_CJK_START.search(text) is None and _COMPAT.search(text) is None):
        return (len(text) + 1) // 2
    return len(text)


@dataclass(frozen=True, slots=True)
class Keyword:
    """A distinct keyword of a text with its score (count plus vocabulary boost) and the
    raw-token index of its first occurrence."""

    label: str
    score: float
    first_position: int
    count: int


def extract_keywords(
    text: str,
    vocabulary: Collection[str] | None = None,
    *,
    boost: float = 3.0,
    max_keywords: int | None = None,
) -> list[Keyword]:
    """Extract the distinct keywords of ``text``, most frequent first.

    Each term's score is its count, plus ``boost`` if it is in ``vocabulary``. Ties keep
    first-occurrence order, so the result is deterministic.

    Args:
        text: the document text.
        vocabulary: terms the agent already knows (boosted), or None.
        boost: score added to known terms.
        max_keywords: keep only this many (None keeps every distinct keyword).

    Returns:
        Keywords sorted by score descending, then by first occurrence.

    Example:
        >>> [k.label for k in extract_keywords("alpha beta beta gamma", {"gamma"})]
        ['gamma', 'beta', 'alpha']
    """
    return keywords_from_tokens(
        tokenize_with_positions(text), vocabulary, boost=boost, max_keywords=max_keywords
    )


def keywords_from_tokens(
    tokens: list[tuple[str, int]],
    vocabulary: Collection[str] | None = None,
    *,
    boost: float = 3.0,
    max_keywords: int | None = None,
) -> list[Keyword]:
    """:func:`extract_keywords` over already tokenised ``(term, position)`` pairs.

    Example:
        >>> [k.label for k in keywords_from_tokens([("beta", 0), ("alpha", 1), ("beta", 2)])]
        ['beta', 'alpha']
    """
    words = [w for w, _ in tokens]
    counts = Counter(words)  # C-accelerated; keys in first-occurrence order
    if vocabulary:
        scores = {w: c + (boost if w in vocabulary else 0.0) for w, c in counts.items()}
    else:
        scores = {w: float(c) for w, c in counts.items()}
    # dict order is first-occurrence order; sorted() is stable, so ties keep it.
    ordered = sorted(scores, key=scores.__getitem__, reverse=True) if scores else []
    if max_keywords is not None:
        ordered = ordered[:max_keywords]
    first: dict[str, int] = {}
    wanted = set(ordered)
    for w, p in tokens:
        if w in wanted and w not in first:
            first[w] = p
            if len(first) == len(wanted):
                break
    return [Keyword(w, scores[w], first[w], counts[w]) for w in ordered]


# --------------------------------------------------------------------- fast keyword analysis

_STOP = stop_table(STOPWORDS)
_LIMIT_CLAMP = 1 << 62


def _keyword_slot_setters() -> tuple[Any, Any, Any, Any] | None:
    """Setters of :class:`Keyword`'s four slots, so :func:`analyse_keywords` can skip the
    frozen dataclass ``__init__`` (one ``object.__setattr__`` per field); None (use the
    constructor) if the class ever gains fields or a ``__post_init__``."""
    names = ("label", "score", "first_position", "count")
    if tuple(f.name for f in fields(Keyword)) != names or hasattr(Keyword, "__post_init__"):
        return None
    members = vars(Keyword)
    return (
        members["label"].__set__,
        members["score"].__set__,
        members["first_position"].__set__,
        members["count"].__set__,
    )


_KEYWORD_SETTERS = _keyword_slot_setters()


def _make_keywords(
    labels: list[str], scores: list[float], firsts: list[int], counts: list[int]
) -> list[Keyword]:
    """``Keyword(label, score, first, count)`` for each ``label, score, first, count``."""
    if _KEYWORD_SETTERS is None:
        return [Keyword(*k) for k in zip(labels, scores, firsts, counts, strict=True)]
    set_label, set_score, set_first, set_count = _KEYWORD_SETTERS
    out: list[Keyword] = list(map(object.__new__, repeat(Keyword, len(labels))))
    # the setters return None, so any() just runs each map to the end (in C)
    any(map(set_label, out, labels))
    any(map(set_score, out, scores))
    any(map(set_first, out, firsts))
    any(map(set_count, out, counts))
    return out


def _analyse_python(
    text: str,
    vocabulary: Collection[str] | None,
    boost: float,
    max_keywords: int | None,
) -> tuple[list[Keyword], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """The reference for :func:`analyse_keywords` (and its path for non-ASCII text)."""
    tokens = tokenize_with_positions(text)
    keywords = keywords_from_tokens(tokens, vocabulary, boost=boost, max_keywords=max_keywords)
    return (keywords, *keyword_occurrences(tokens, keywords))


def keyword_occurrences(
    tokens: list[tuple[str, int]], keywords: list[Keyword]
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """For each token (in text order) that is one of ``keywords``: its index in ``keywords``
    and its raw-token position.

    Example:
        >>> text = "cell wall cell"
        >>> kid, pos = keyword_occurrences(tokenize_with_positions(text), extract_keywords(text))
        >>> kid.tolist(), pos.tolist()
        ([0, 1, 0], [0, 1, 2])
    """
    index = {k.label: i for i, k in enumerate(keywords)}
    sel = [(index[w], p) for w, p in tokens if w in index]
    kid = np.fromiter((t[0] for t in sel), dtype=np.int64, count=len(sel))
    pos = np.fromiter((t[1] for t in sel), dtype=np.int64, count=len(sel))
    return kid, pos


def analyse_keywords(
    text: str,
    vocabulary: Collection[str] | None = None,
    *,
    boost: float = 3.0,
    max_keywords: int | None = None,
) -> tuple[list[Keyword], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Keywords of ``text`` plus where each keyword occurs, in one pass.

    The keywords are exactly
    ``keywords_from_tokens(tokenize_with_positions(text), vocabulary, boost=boost,
    max_keywords=max_keywords)``. ASCII text is tokenised and counted by a Numba kernel (only
    the distinct terms become Python strings); other text takes the pure-Python path, so the
    result is the same either way.

    Args:
        text: the document text.
        vocabulary: terms the agent already knows (boosted), or None.
        boost: score added to known terms.
        max_keywords: keep only this many (None keeps every distinct keyword).

    Returns:
        ``(keywords, kid, pos)``: the keywords as :func:`keywords_from_tokens` returns them,
        and for every token of the text (in text order) whose term is one of them, its index
        in ``keywords`` (``kid``) and its raw-token index (``pos``, as in
        :func:`tokenize_with_positions`).

    Example:
        >>> kws, kid, pos = analyse_keywords("Cell wall, the cell membrane", max_keywords=2)
        >>> [(k.label, k.count, k.first_position) for k in kws]
        [('cell', 2, 0), ('wall', 1, 1)]
        >>> kid.tolist(), pos.tolist()
        ([0, 1, 0], [0, 1, 3])
    """
    text = without_urls(text)
    raw = _analyse_ascii(text, vocabulary, boost, max_keywords)
    if raw is None:
        return _analyse_python(text, vocabulary, boost, max_keywords)
    names, meta, scores, kid, pos = raw
    firsts, counts = meta.tolist()
    keywords = _make_keywords(names.tobytes().decode().split(), scores.tolist(), firsts, counts)
    return keywords, kid, pos


class KnownTerms(set[str]):
    """A vocabulary (a set of terms) that keyword analysis looks tokens up in with a kernel.

    It behaves as a ``set``; it also keeps a :class:`~phago._text_kernels.TermTable` of its
    terms, brought up to date with the terms added since the last analysis, which
    :func:`analyse_keywords` and :func:`analyse_keyword_labels` use for ASCII text instead
    of one set lookup per distinct term (W3 with ~800 known terms: the whole analysis of a
    document 33 → 21 µs). Results are identical. Removing terms, or adding many more than
    it holds before the next analysis, rebuilds the table on next use. It pickles as its
    terms only.

    Example:
        >>> known = KnownTerms(["membrane"])
        >>> known.add("wall")
        >>> analyse_keyword_labels("Cell wall, the cell membrane", known, max_keywords=2)[0]
        ['wall', 'membrane']
    """

    def __init__(self, terms: Iterable[str] = ()) -> None:
        super().__init__(terms)
        self._table: TermTable | None = None
        self._added: list[str] = []

    def add(self, term: str) -> None:
        """Add one term."""
        super().add(term)
        if self._table is not None:  # (without a table, the next one is built from the set)
            self._added.append(term)
            self._bound_added()

    def update(self, *others: Iterable[str]) -> None:
        """Add the terms of every iterable in ``others``."""
        for other in others:
            if self._table is None:
                super().update(other)
                continue
            terms = list(other)
            super().update(terms)
            self._added.extend(terms)
        self._bound_added()

    def _bound_added(self) -> None:
        # terms added while no analysis looks (repeats included) are kept for the table;
        # past twice the set's size, rebuilding it from the set is cheaper
        if len(self._added) > 2 * len(self) + 256:
            self._forget_table()

    def __ior__(self, other: AbstractSet[str]) -> KnownTerms:  # type: ignore[override,misc]
        self.update(other)
        return self

    def _forget_table(self) -> None:
        self._table = None
        self._added = []

    def discard(self, term: object) -> None:
        """Remove ``term`` if present."""
        super().discard(term)
        self._forget_table()

    def remove(self, term: str) -> None:
        """Remove ``term`` (``KeyError`` if absent)."""
        super().remove(term)
        self._forget_table()

    def pop(self) -> str:
        """Remove and return some term."""
        self._forget_table()
        return super().pop()

    def clear(self) -> None:
        """Remove every term."""
        super().clear()
        self._forget_table()

    def difference_update(self, *others: Iterable[Any]) -> None:
        """Remove the terms of ``others``."""
        super().difference_update(*others)
        self._forget_table()

    def intersection_update(self, *others: Iterable[Any]) -> None:
        """Keep only the terms also in every one of ``others``."""
        super().intersection_update(*others)
        self._forget_table()

    def symmetric_difference_update(self, other: Iterable[str]) -> None:
        """Keep the terms in exactly one of this set and ``other``."""
        super().symmetric_difference_update(other)
        self._forget_table()

    def __isub__(self, other: AbstractSet[Any]) -> KnownTerms:  # type: ignore[misc]
        self.difference_update(other)
        return self

    def __iand__(self, other: AbstractSet[Any]) -> KnownTerms:  # type: ignore[misc]
        self.intersection_update(other)
        return self

    def __ixor__(self, other: AbstractSet[str]) -> KnownTerms:  # type: ignore[override,misc]
        self.symmetric_difference_update(other)
        return self

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (sorted(self),))

    def table(self) -> TermTable:
        """The kernel's table of these terms, up to date."""
        if self._table is None:
            self._table = TermTable()
            self._table.add(self)
        elif self._added:
            self._table.add(self._added)
        self._added = []
        return self._table


def analyse_keyword_labels(
    text: str,
    vocabulary: Collection[str] | None = None,
    *,
    boost: float = 3.0,
    max_keywords: int | None = None,
) -> tuple[list[str], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """:func:`analyse_keywords` with only the keywords' labels (no :class:`Keyword` objects).

    Example:
        >>> analyse_keyword_labels("Cell wall, the cell membrane", max_keywords=2)[0]
        ['cell', 'wall']
    """
    text = without_urls(text)
    raw = _analyse_ascii(text, vocabulary, boost, max_keywords)
    if raw is None:
        keywords, kid, pos = _analyse_python(text, vocabulary, boost, max_keywords)
        return [k.label for k in keywords], kid, pos
    names, _, _, kid, pos = raw
    return names.tobytes().decode().split(), kid, pos


_Raw = tuple[
    npt.NDArray[np.uint8],
    npt.NDArray[np.int64],
    npt.NDArray[np.float64],
    npt.NDArray[np.int64],
    npt.NDArray[np.int64],
]


def _analyse_ascii(
    text: str,
    vocabulary: Collection[str] | None,
    boost: float,
    max_keywords: int | None,
) -> _Raw | None:
    """The kernels' ``(names, meta, scores, kid, pos)`` for :func:`analyse_keywords`; None
    when the text (or the boost) needs the pure-Python path."""
    if not text.isascii():
        return None
    if max_keywords is None:
        has_limit, limit = False, 0
    else:
        has_limit = True
        limit = min(max(operator.index(max_keywords), -_LIMIT_CLAMP), _LIMIT_CLAMP)
    stop_raw, stop_off, stop_buckets, stop_longest = _STOP
    buf = np.frombuffer(text.encode("ascii"), dtype=np.uint8)
    if vocabulary:
        if type(boost) is not float or boost != boost:
            # an int / Decimal boost gives non-float scores, NaN sorts oddly: keep Python's
            return None
        if type(vocabulary) is KnownTerms:
            table = vocabulary.table()
            return analyse_ascii_known(
                buf,
                stop_raw,
                stop_off,
                stop_buckets,
                stop_longest,
                table.raw,
                table.off,
                table.buckets,
                boost,
                has_limit,
                limit,
            )
        terms, toks, all_names, nd, nt = scan_ascii(
            buf, stop_raw, stop_off, stop_buckets, stop_longest
        )
        known = map(operator.contains, repeat(vocabulary), all_names.tobytes().decode().split())
        boosted = np.frombuffer(bytes(known), dtype=np.bool_)
        names, meta, scores, kid, pos = rank_terms(
            buf, terms, toks, nd, nt, boosted, boost, has_limit, limit
        )
    else:
        names, meta, scores, kid, pos = analyse_ascii(
            buf, stop_raw, stop_off, stop_buckets, stop_longest, has_limit, limit
        )
    return names, meta, scores, kid, pos
