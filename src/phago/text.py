"""Tokenisation, the one stopword list, and keyword extraction.

Digestion and queries share one tokeniser and one stopword list (the reference had three):
text is lowercased, split on every character that is not a Unicode letter or digit, and
pieces shorter than three UTF-8 bytes or in :data:`STOPWORDS` are dropped.

Example:
    >>> tokenize("The cell membrane, and the CELL wall.")
    ['cell', 'membrane', 'cell', 'wall']
    >>> [k.label for k in extract_keywords("cell wall cell membrane")]
    ['cell', 'wall', 'membrane']
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Collection, Iterable
from dataclasses import dataclass

__all__ = [
    "STOPWORDS",
    "Keyword",
    "extract_keywords",
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
