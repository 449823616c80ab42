"""Evidence selection's pure pieces: MMR, keyword overlap, candidate sentences, outlets, question parts."""

from __future__ import annotations

import numpy as np
import pytest

from rag.evidence import (
    EvidenceSelector,
    PooledSentence,
    candidate_sentences,
    cover_outlets,
    keyword_overlap,
    mmr,
)
from rag.keyword import tokenize
from rag.retrieve import Retrieved, named_outlets
from rag.types import Passage, SourceSpan


def passage(chunk_id: str, doc_id: str, source: str, text: str, start: int) -> Passage:
    return Passage(
        chunk_id, doc_id, f"T {doc_id}", source, "2025-02-18", None, text, start, start + len(text), 0.5
    )


def source_span(p: Passage, start: int, end: int) -> SourceSpan:
    """The span of p.text[start:end] in its article."""
    return SourceSpan(
        p.doc_id, p.title, p.source, p.published_at, p.url, p.chunk_id, p.start + start, p.start + end
    )


# --- mmr --------------------------------------------------------------------------------------------------

REDUNDANT = np.array([[1.0, 0.99, 0.0], [0.99, 1.0, 0.0], [0.0, 0.0, 1.0]])


def test_mmr_prefers_a_diverse_item_over_a_redundant_better_one() -> None:
    # after 0: item 1 = 0.75*0.85 - 0.25*0.99 = 0.39; item 2 = 0.75*0.7 - 0 = 0.525
    assert mmr(np.array([0.9, 0.85, 0.7]), REDUNDANT, 3) == [0, 2, 1]


def test_mmr_takes_the_redundant_item_when_it_is_much_better() -> None:
    # after 0: item 1 = 0.39; item 2 = 0.75*0.5 = 0.375
    assert mmr(np.array([0.9, 0.85, 0.5]), REDUNDANT, 3) == [0, 1, 2]


def test_mmr_without_redundancy_is_ranking_by_score() -> None:
    assert mmr(np.array([0.2, 0.9, 0.5, 0.7]), np.eye(4), 4) == [1, 3, 2, 0]


def test_mmr_lambda_one_ignores_redundancy() -> None:
    assert mmr(np.array([0.9, 0.85, 0.7]), REDUNDANT, 3, lam=1.0) == [0, 1, 2]


def test_mmr_k_bounds() -> None:
    scores = np.array([0.9, 0.85, 0.7])
    assert mmr(scores, REDUNDANT, 2) == [0, 2]
    assert mmr(scores, REDUNDANT, 0) == []
    assert mmr(scores, REDUNDANT, 10) == [0, 2, 1]
    assert mmr(np.array([]), np.zeros((0, 0)), 3) == []


def test_mmr_ties_take_the_first_index() -> None:
    assert mmr(np.array([0.5, 0.5]), np.eye(2), 2) == [0, 1]


# --- keyword_overlap --------------------------------------------------------------------------------------


def test_keyword_overlap_is_share_of_question_words() -> None:
    question = set(tokenize("What did Lammy say about Russia?"))
    assert question == {"lammi", "say", "russia"}
    assert keyword_overlap(question, "Lammy spoke about Ukraine.") == pytest.approx(1 / 3)
    assert keyword_overlap(question, "Lammy will say Russia lost.") == 1.0
    assert keyword_overlap(question, "") == 0.0
    assert keyword_overlap(set(), "Lammy") == 0.0


# --- candidate_sentences ----------------------------------------------------------------------------------

T1 = "Marco Rubio met Sergei Lavrov in Riyadh on Tuesday. The talks lasted four and a half hours. Short one."
T2 = (
    "Officials said the talks lasted four and a half hours. Ukraine was not invited to the meeting in Riyadh."
)
T3 = "Marco Rubio met Sergei Lavrov in Riyadh on Tuesday, officials confirmed."
P1 = passage("c1", "d1", "BBC", T1, 100)
P2 = passage("c2", "d2", "AP", T2, 0)
P3 = passage("c3", "d3", "Reuters", T3, 40)


def test_candidates_merge_near_duplicates_across_outlets_and_keep_every_span() -> None:
    retrieved = Retrieved((P1, P2, P3), ((0, 2), (1,)), (0.1,))
    assert candidate_sentences(retrieved) == [
        PooledSentence(
            "Marco Rubio met Sergei Lavrov in Riyadh on Tuesday.",
            (source_span(P1, 0, 51), source_span(P3, 0, 72)),
            T1,
            1.0,
        ),
        PooledSentence(
            "The talks lasted four and a half hours.",
            (source_span(P1, 52, 91), source_span(P2, 0, 54)),
            T1,
            1.0,  # the best group rank among its members
        ),
        PooledSentence(
            "Ukraine was not invited to the meeting in Riyadh.",
            (source_span(P2, 55, 104),),
            T2,
            0.5,
        ),
    ]


@pytest.mark.parametrize(
    ("question", "named"),
    [
        (
            "How did the toll reported by The Northern Courier differ from Meridian Wire's?",
            ["Meridian Wire", "The Northern Courier"],
        ),
        ("What does IRIA say about the talks?", ["IRIA - International Relations"]),
        ("What did The Independent report?", ["The Independent"]),
        ("Was the inquiry independent?", []),  # one word counts only when written as a name
        ("What did the courier deliver?", []),
    ],
)
def test_named_outlets(question: str, named: list[str]) -> None:
    outlets = [
        "Meridian Wire",
        "The Northern Courier",
        "IRIA - International Relations",
        "The Independent",
        "d.txt",
    ]
    assert named_outlets(question, outlets) == named


def test_cover_outlets_brings_in_each_named_outlet_once() -> None:
    bbc = passage(
        "a", "da", "BBC", "The first sentence is long enough. The second sentence is long enough.", 0
    )
    ap = passage("b", "db", "AP", "The third sentence comes from another outlet.", 0)
    candidates = candidate_sentences(Retrieved((bbc, ap), ((0,), (1,)), (0.1,)))
    assert [{sp.source for sp in c.spans} for c in candidates] == [{"BBC"}, {"BBC"}, {"AP"}]
    scores = np.array([0.9, 0.8, 0.5])
    picked = cover_outlets([0, 1], ["AP"], candidates, scores)
    assert picked == [0, 2]  # the lowest-ranked pick gives way
    assert cover_outlets(picked, ["AP", "BBC"], candidates, scores) == picked  # both covered already
    assert cover_outlets([0, 1], ["Le Monde"], candidates, scores) == [0, 1]  # nothing of it retrieved


def test_candidate_spans_index_into_the_article() -> None:
    article = " " * 100 + T1
    for c in candidate_sentences(Retrieved((P1,), ((0,),), ())):
        (s,) = c.spans
        assert article[s.start : s.end] == c.text


def test_short_sentences_are_dropped() -> None:
    texts = [c.text for c in candidate_sentences(Retrieved((P1,), ((0,),), ()))]
    assert "Short one." not in texts
    assert len(texts) == 2


def test_overlapping_chunks_of_one_article_give_one_span() -> None:
    text = "Marco Rubio met Sergei Lavrov in Riyadh on Tuesday."
    a = passage("c1", "d1", "BBC", text + " The talks lasted four and a half hours.", 0)
    b = passage("c2", "d1", "BBC", text, 0)  # the next chunk repeats the sentence at the same place
    candidates = candidate_sentences(Retrieved((a, b), ((0,), (1,)), ()))
    assert candidates[0].spans == (source_span(a, 0, 51),)


def test_rank_prior_falls_with_group_rank() -> None:
    retrieved = Retrieved((P2, P1), ((0,), (1,)), ())
    priors = {c.text: c.rank_prior for c in candidate_sentences(retrieved)}
    assert priors["Ukraine was not invited to the meeting in Riyadh."] == 1.0
    assert priors["Marco Rubio met Sergei Lavrov in Riyadh on Tuesday."] == 0.5


def test_no_passages_no_candidates() -> None:
    assert candidate_sentences(Retrieved((), (), ())) == []


# --- questions in several parts ---------------------------------------------------------------------------


class WordsEmbedder:
    """A deterministic stand-in for the embedder: one dimension per word (hashed), counts as weights."""

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [self.embed_query(t) for t in texts]

    def embed_query(self, text: str) -> list[float]:
        vector = [0.0] * 256
        for word in tokenize(text):
            vector[sum(map(ord, word)) % 256] += 1.0
        return vector


def test_each_part_of_a_two_part_question_gets_its_best_sentence_into_the_answer() -> None:
    question = "What did insurers estimate their storm losses at, and how large did the relief fund become?"
    insurers = passage(
        "c1",
        "d1",
        "Ledger",
        "Insurers estimate their storm losses at about 2.4 billion crowns, their highest ever. "
        "Insurers said the storm losses would raise premiums at the renewals. "
        "Insurers estimate that storm losses in the north were lower than feared.",
        0,
    )
    filler = [
        passage(
            f"c{i}",
            f"d{i}",
            "Wire",
            f"Insurers and brokers met in town number {i} to discuss storm claims.",
            0,
        )
        for i in range(2, 5)
    ]
    fund = passage("c5", "d5", "Herald", "The relief fund was later raised to 900 million crowns.", 0)
    passages = (insurers, *filler, fund)
    retrieved = Retrieved(
        passages, tuple((i,) for i in range(len(passages))), tuple(WordsEmbedder().embed_query(question))
    )
    evidence = EvidenceSelector(WordsEmbedder()).select(question, retrieved, k=6)  # type: ignore[arg-type]
    top = " ".join(e.text for e in evidence[:3])
    assert "2.4 billion" in top and "900 million" in top
