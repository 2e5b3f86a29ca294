"""Counting documents' terms: the Numba kernel and the Python path give the same counts."""

from __future__ import annotations

from collections import Counter
from typing import Any, cast

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from phago.query import term_counts
from phago.query.term_counts import TermCounts, Vocabulary
from phago.text import tokenize

PIECES = [
    "cell", "CELL", "Membrane", "dna", "of", "the", "and", "ab", "x", "42", "2024",
    "snake_case", "e-mail", "https://example.com/a?b=1", "www.cells.org", "über", "naïve",
    "北京是中国", "ｃｅｌｌ", "’quoted’", "co2", "\n", "...", "", "A1B2C3",
]  # fmt: skip


def rows(counts: TermCounts, vocab: Vocabulary) -> list[Counter[str]]:
    """Each text's terms with their counts, by term."""
    names = {i: t for t, i in vocab.ids.items()}
    out = []
    for i in range(len(counts.lens)):
        lo, hi = int(counts.ptr[i]), int(counts.ptr[i + 1])
        cols = counts.cols[lo:hi].tolist()
        assert cols == sorted(set(cols))  # distinct ids, ascending
        out.append(
            Counter(
                {names[c]: int(n) for c, n in zip(cols, counts.cnts[lo:hi].tolist(), strict=True)}
            )
        )
    return out


texts = st.lists(
    st.lists(st.sampled_from(PIECES), max_size=12).map(" ".join)
    | st.text(alphabet=st.characters(max_codepoint=0x7F), max_size=60),
    max_size=8,
)


@settings(max_examples=80, deadline=None)
@given(batches=st.lists(texts, min_size=1, max_size=4))
def test_the_kernel_counts_as_tokenize_does(batches: list[list[str]]) -> None:
    by_kernel, in_python = Vocabulary(), Vocabulary()
    plain = True  # every batch so far ASCII: new terms are numbered in the same order
    for batch in batches:
        plain = plain and all(t.isascii() for t in batch)
        k = by_kernel.count(batch, kernel=True)
        p = in_python.count(batch, kernel=False)
        want = [Counter(tokenize(t)) for t in batch]
        assert rows(k, by_kernel) == rows(p, in_python) == want
        assert k.lens.tolist() == p.lens.tolist() == [len(tokenize(t)) for t in batch]
        assert k.cnts.dtype == p.cnts.dtype == np.int32
        assert len(by_kernel.ids) == len(in_python.ids)
        if plain:
            assert by_kernel.ids == in_python.ids
            for x, y in zip(k, p, strict=True):
                assert np.array_equal(cast(npt.NDArray[Any], x), cast(npt.NDArray[Any], y))


def test_terms_met_in_python_are_known_to_the_kernel_later() -> None:
    v = Vocabulary()
    v.count(["über cell membrane", "plain words here"], kernel=False)
    before = dict(v.ids)
    counts = v.count(["cell membrane cell", "ｃｅｌｌ über stone"], kernel=True)
    assert all(v.ids[t] == i for t, i in before.items())  # ids never change
    assert len(v.ids) == len(before) + 1 and v.ids["stone"] == len(before)  # one new term
    assert rows(counts, v) == [Counter(cell=2, membrane=1), Counter(cell=1, über=1, stone=1)]


def test_the_batch_size_chooses_the_kernel(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    count_ascii = Vocabulary._count_ascii

    def counted(self: Vocabulary, batch: list[str]) -> TermCounts:
        calls.append(len(batch))
        return count_ascii(self, batch)

    monkeypatch.setattr(Vocabulary, "_count_ascii", counted)
    monkeypatch.setattr(term_counts, "KERNEL_MIN_BYTES", 100)
    monkeypatch.setattr(term_counts, "KERNEL_MIN_BYTES_LOADED", 100)
    v = Vocabulary()
    v.count(["short text"])
    assert calls == []
    counts = v.count(["a long text about cells " * 5, "über", "more words"])
    assert calls == [2]  # the ASCII texts only
    assert rows(counts, v) == [Counter(long=5, text=5, cells=5), Counter(über=1), Counter(words=1)]


def test_a_batch_of_many_new_terms_grows_the_kernels_table() -> None:
    # the table starts with room for 32 terms in 256 bytes: thousands of new terms regrow
    # its arrays and rehash it several times within one call
    rng = np.random.default_rng(0)
    words = [f"w{i:05d}term" for i in range(3000)]
    batch = [" ".join(rng.choice(words, size=200).tolist()) for _ in range(40)]
    by_kernel, in_python = Vocabulary(), Vocabulary()
    k = by_kernel.count(batch, kernel=True)
    p = in_python.count(batch, kernel=False)
    assert by_kernel.ids == in_python.ids and len(by_kernel.ids) > 2500
    for x, y in zip(k, p, strict=True):
        assert np.array_equal(cast(npt.NDArray[Any], x), cast(npt.NDArray[Any], y))
    again = by_kernel.count(batch[:3], kernel=True)  # every term known now
    assert len(by_kernel.ids) == len(in_python.ids)
    assert rows(again, by_kernel) == [Counter(tokenize(t)) for t in batch[:3]]
