"""Synthetic corpora for benchmarks (workload W3 of WORKLOADS.md).

A vocabulary of ``vocab`` pseudo-words with Zipf(``zipf``) frequencies; ``topics`` latent
topics, each favouring its own contiguous slice of the vocabulary; every document has one
topic and ``words_per_doc`` words, half drawn from its topic's slice and half from the whole
vocabulary (both Zipf-distributed). Deterministic for a seed.

Example:
    >>> docs = synthetic_corpus(3, vocab=1000, seed=1)
    >>> len(docs), len(docs[0][1].split())
    (3, 150)
    >>> synthetic_corpus(3, vocab=1000, seed=1) == docs
    True
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ["pseudo_word", "synthetic_corpus", "w1_layout"]

_CONSONANTS = "bcdfghjklmnprstvz"
_VOWELS = "aeiou"


def pseudo_word(rank: int) -> str:
    """A pronounceable, unique word for vocabulary rank ``rank`` (never a stopword).

    Example:
        >>> pseudo_word(0), pseudo_word(1), pseudo_word(85)
        ('babx', 'cabx', 'babax')
    """
    syll = []
    r = rank
    while True:
        r, c = divmod(r, len(_CONSONANTS))
        r, v = divmod(r, len(_VOWELS))
        syll.append(_CONSONANTS[c] + _VOWELS[v])
        if r == 0:
            break
        r -= 1
    return "".join(syll) + ("bx" if len(syll) == 1 else "x")


def _zipf_cdf(n: int, s: float) -> npt.NDArray[np.float64]:
    w = 1.0 / np.arange(1, n + 1, dtype=np.float64) ** s
    c: npt.NDArray[np.float64] = np.cumsum(w)
    out: npt.NDArray[np.float64] = c / c[-1]
    return out


def synthetic_corpus(
    n_docs: int,
    *,
    vocab: int = 50_000,
    topics: int = 8,
    words_per_doc: int = 150,
    zipf: float = 1.1,
    topic_share: float = 0.5,
    seed: int = 0,
) -> list[tuple[str, str]]:
    """``n_docs`` synthetic ``(title, content)`` documents (see the module docstring)."""
    rng = np.random.default_rng(seed)
    words = np.array([pseudo_word(i) for i in range(vocab)], dtype=object)
    slice_len = vocab // topics
    global_cdf = _zipf_cdf(vocab, zipf)
    topic_cdf = _zipf_cdf(slice_len, zipf)
    doc_topic = rng.integers(0, topics, size=n_docs)
    from_topic = rng.random((n_docs, words_per_doc)) < topic_share
    g = np.searchsorted(global_cdf, rng.random((n_docs, words_per_doc)))
    t = (
        np.searchsorted(topic_cdf, rng.random((n_docs, words_per_doc)))
        + (doc_topic * slice_len)[:, None]
    )
    ranks = np.where(from_topic, t, g)
    ranks = np.minimum(ranks, vocab - 1)
    out = []
    for i in range(n_docs):
        out.append((f"syn-{seed}-{i}", " ".join(words[ranks[i]].tolist())))
    return out


def w1_layout(n: int, spacing: float = 5.0) -> list[tuple[float, float]]:
    """Positions of ``n`` documents on a ``ceil(sqrt(n))``-column grid (WORKLOADS.md W1)."""
    cols = max(1, int(np.ceil(np.sqrt(n))))
    return [((i % cols) * spacing, (i // cols) * spacing) for i in range(n)]
