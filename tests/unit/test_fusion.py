"""Retrieval's pure pieces: reciprocal rank fusion, shingles, containment, near-duplicate grouping."""

from __future__ import annotations

import pytest

from rag.retrieve import (
    Retrieved,
    Retriever,
    containment,
    group_near_duplicates,
    reciprocal_rank_fusion,
    shingles,
)
from rag.store import StoredChunk
from rag.types import Passage

# --- reciprocal_rank_fusion -------------------------------------------------------------------------------


def test_rrf_scores_are_sums_of_reciprocal_ranks() -> None:
    fused = reciprocal_rank_fusion([["a", "b", "c"], ["b", "d"]], k=60)
    assert [item for item, _ in fused] == ["b", "a", "d", "c"]
    scores = dict(fused)
    assert scores["b"] == pytest.approx(1 / 62 + 1 / 61, abs=1e-15)
    assert scores["a"] == pytest.approx(1 / 61, abs=1e-15)
    assert scores["d"] == pytest.approx(1 / 62, abs=1e-15)
    assert scores["c"] == pytest.approx(1 / 63, abs=1e-15)


def test_rrf_ties_keep_first_seen_order() -> None:
    # a and b both score 1/61 + 1/62; c and d both 1/63
    fused = reciprocal_rank_fusion([["a", "b", "c"], ["b", "a", "d"]])
    assert [item for item, _ in fused] == ["a", "b", "c", "d"]
    assert fused[0][1] == fused[1][1] == pytest.approx(1 / 61 + 1 / 62, abs=1e-15)
    assert fused[2][1] == fused[3][1] == pytest.approx(1 / 63, abs=1e-15)


def test_rrf_k_changes_the_weighting() -> None:
    fused = reciprocal_rank_fusion([["x", "y"]], k=1)
    assert fused == [("x", 0.5), ("y", pytest.approx(1 / 3, abs=1e-15))]


def test_rrf_single_list_keeps_its_order() -> None:
    ids = ["e", "d", "c", "b", "a"]
    assert [i for i, _ in reciprocal_rank_fusion([ids])] == ids


def test_rrf_item_in_both_lists_beats_a_top_item_in_one() -> None:
    # "mid" is 2nd in both lists: 2/62 = 0.03226 > 1/61 = 0.01639
    fused = reciprocal_rank_fusion([["top", "mid"], ["other", "mid"]])
    assert fused[0][0] == "mid"


@pytest.mark.parametrize("rankings", [[], [[]], [[], []]])
def test_rrf_empty_inputs(rankings: list[list[str]]) -> None:
    assert reciprocal_rank_fusion(rankings) == []


# --- shingles and containment -----------------------------------------------------------------------------


def test_shingles_are_trigrams_of_stemmed_content_words() -> None:
    # "the", "in", "on" are stopwords; "ministers" stems to "minist"
    assert shingles("The ministers met in Riyadh on Tuesday") == frozenset(
        {("minist", "met", "riyadh"), ("met", "riyadh", "tuesday")}
    )


def test_shingles_of_short_and_empty_texts() -> None:
    assert shingles("Riyadh talks") == frozenset({("riyadh", "talk")})
    assert shingles("") == frozenset()
    assert shingles("the of and") == frozenset()  # only stopwords


def test_shingles_n_is_respected() -> None:
    assert shingles("alpha beta gamma", n=2) == frozenset({("alpha", "beta"), ("beta", "gamma")})


def test_containment_is_share_of_the_smaller_set() -> None:
    a = frozenset({("a",), ("b",)})
    b = frozenset({("a",), ("b",), ("c",), ("d",)})
    assert containment(a, b) == 1.0
    assert containment(b, a) == 1.0
    assert containment(frozenset({("a",), ("x",)}), b) == 0.5
    assert containment(frozenset({("x",)}), b) == 0.0


def test_containment_with_an_empty_set_is_zero() -> None:
    assert containment(frozenset(), frozenset({("a",)})) == 0.0
    assert containment(frozenset({("a",)}), frozenset()) == 0.0
    assert containment(frozenset(), frozenset()) == 0.0


# --- group_near_duplicates --------------------------------------------------------------------------------


def test_near_duplicates_are_grouped_behind_the_first() -> None:
    texts = [
        "Marco Rubio met Sergei Lavrov in Riyadh on Tuesday.",
        "Ukraine was not invited to the talks.",
        # shares 4 of its 5 trigrams with text 0: containment 0.8 >= 0.8
        "On Tuesday Marco Rubio met Sergei Lavrov in Riyadh.",
        "Rubio met Lavrov in Riyadh on Tuesday, officials said.",
    ]
    assert group_near_duplicates(texts) == [[0, 2], [1], [3]]


def test_threshold_controls_grouping() -> None:
    a = "Marco Rubio met Sergei Lavrov in Riyadh on Tuesday."
    b = "On Tuesday Marco Rubio met Sergei Lavrov in Riyadh."
    assert containment(shingles(a), shingles(b)) == 0.8
    assert group_near_duplicates([a, b], threshold=0.8) == [[0, 1]]
    assert group_near_duplicates([a, b], threshold=0.81) == [[0], [1]]


def test_a_text_contained_in_a_longer_one_is_its_duplicate() -> None:
    short = "Sergei Lavrov met Marco Rubio in Riyadh."
    long = "In a first meeting since the war began, Sergei Lavrov met Marco Rubio in Riyadh for talks."
    assert group_near_duplicates([long, short]) == [[0, 1]]


def test_group_near_duplicates_edge_cases() -> None:
    assert group_near_duplicates([]) == []
    assert group_near_duplicates(["", ""]) == [[0], [1]]  # empty texts never match anything
    assert group_near_duplicates(["same words here", "same words here"]) == [[0, 1]]


def test_group_near_duplicates_uses_the_given_key() -> None:
    def first_word(text: str) -> frozenset[tuple[str, ...]]:
        return frozenset({(text.split()[0],)})

    assert group_near_duplicates(["x a", "y b", "x c"], key=first_word) == [[0, 2], [1]]


def test_retrieved_distinct_takes_each_group_representative() -> None:
    def passage(cid: str) -> Passage:
        return Passage(cid, "d", "t", "s", None, None, "text", 0, 4, 0.1)

    passages = (passage("a"), passage("b"), passage("c"))
    r = Retrieved(passages=passages, groups=((0, 2), (1,)), query_embedding=())
    assert [p.chunk_id for p in r.distinct] == ["a", "b"]


# --- named outlets ----------------------------------------------------------------------------------------


class _Store:
    """Four chunks of outlet A outrank the one of outlet B unless the query is filtered to B."""

    def __init__(self) -> None:
        self.chunks = [
            StoredChunk(
                f"a{i}",
                f"Outlet A story, part {i}, about the flood toll.",
                {"doc_id": "a", "source": "Alpha News"},
            )
            for i in range(4)
        ] + [StoredChunk("b0", "Outlet B says seven people died.", {"doc_id": "b", "source": "Beta Post"})]

    def query(self, embedding, k, filters=None):  # type: ignore[no-untyped-def]
        found = [
            c
            for c in self.chunks
            if filters is None or not filters.sources or c.metadata["source"] in filters.sources
        ]
        return [(c, 0.9) for c in found[:k]]

    def get_chunks(self, ids):  # type: ignore[no-untyped-def]
        return [c for c in self.chunks if c.chunk_id in ids]


class _Keywords:
    def sources(self) -> list[str]:
        return ["Alpha News", "Beta Post"]

    def search(self, query, k, filters=None):  # type: ignore[no-untyped-def]
        return []


class _Embedder:
    def embed_query(self, text: str) -> list[float]:
        return [1.0, 0.0]


def test_a_named_outlet_missing_from_the_top_passages_replaces_the_last_one() -> None:
    retriever = Retriever(_Store(), _Keywords, _Embedder(), mode="hybrid", candidates=4)  # type: ignore[arg-type]
    plain = retriever.retrieve("How did the toll differ?", top_k=3)
    assert [p.chunk_id for p in plain.distinct] == ["a0", "a1", "a2"]
    named = retriever.retrieve("How did the toll in Alpha News differ from the Beta Post figure?", top_k=3)
    assert [p.chunk_id for p in named.distinct] == ["a0", "a1", "b0"]
