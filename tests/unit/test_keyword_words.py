"""The keyword index's packed word store: what a rebuild reuses instead of re-reading chunk texts."""

from __future__ import annotations

import numpy as np

from rag.keyword import _Words, entry


def test_packing_keeps_each_rows_words_and_drops_words_no_row_uses() -> None:
    vocab = ["ceasefire", "paris", "deleted", "talks"]
    rows = [
        np.array([1, 3], dtype=np.int32),
        np.array([], dtype=np.int32),
        np.array([0, 1, 1], dtype=np.int32),
    ]
    words = _Words.packed(vocab, rows)
    assert words.vocab == ["ceasefire", "paris", "talks"]  # "deleted" is in no row any more
    assert [[words.vocab[w] for w in doc] for doc in words.docs()] == [
        ["paris", "talks"],
        [],
        ["ceasefire", "paris", "paris"],
    ]


def test_packing_nothing_gives_an_empty_store() -> None:
    words = _Words.packed(["unused"], [])
    assert words.vocab == [] and words.docs() == []


def test_an_entry_takes_title_and_outlet_as_words_and_keeps_the_filter_fields() -> None:
    e = entry(
        "Envoys met in Paris.", {"title": "Ceasefire talks", "source": "Reuters", "published_day": 20250417}
    )
    assert {"ceasefir", "talk", "reuter", "envoy", "met", "pari"} <= set(e.tokens)
    assert (e.source, e.day) == ("Reuters", 20250417)
