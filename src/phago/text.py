"""Tokenisation, the one stopword list, and keyword extraction.

Digestion and queries share one tokeniser and one stopword list (the reference had three):
text is lowercased, split on every character that is not a Unicode letter or digit, and
pieces shorter than three UTF-8 bytes or in :data:`STOPWORDS` are dropped.
:func:`analyse_keywords` computes the same keywords (plus where they occur) with a Numba kernel
for ASCII text.

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
    ]
)

_TOKEN_RE = re.compile(r"[^\W_]+", re.UNICODE)


def _pieces(text: str) -> Iterable[str]:
    return _TOKEN_RE.findall(unicodedata.normalize("NFC", text).lower())


def tokenize(text: str) -> list[str]:
    """Split ``text`` into lowercase terms, dropping short pieces and stopwords.

    Args:
        text: any text.

    Returns:
        The terms in text order, duplicates kept.

    Example:
        >>> tokenize("What is DNA-repair?")
        ['dna', 'repair']
    """
    stop = STOPWORDS
    return [
        w
        for w in _pieces(text)
        if (len(w) >= 3 or (not w.isascii() and len(w.encode("utf-8")) >= 3)) and w not in stop
    ]


def tokenize_with_positions(text: str) -> list[tuple[str, int]]:
    """Like :func:`tokenize`, with each term's index among all raw tokens of the text.

    The index counts every alphanumeric piece (stopwords and short pieces included), so the
    distance between two indices is the distance in words in the original text.

    Example:
        >>> tokenize_with_positions("the cell and the wall")
        [('cell', 1), ('wall', 4)]
    """
    stop = STOPWORDS
    return [
        (w, i)
        for i, w in enumerate(_pieces(text))
        if (len(w) >= 3 or (not w.isascii() and len(w.encode("utf-8")) >= 3)) and w not in stop
    ]


def label_terms(label: str) -> list[str]:
    """Terms of a node label for label TF-IDF: lowercase alphanumeric pieces of 3+ bytes.

    No stopword filtering (a label is already a chosen term).

    Example:
        >>> label_terms("Bridge: 'cell' connects")
        ['bridge', 'cell', 'connects']
    """
    return [w for w in _pieces(label) if len(w.encode("utf-8")) >= 3]


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
