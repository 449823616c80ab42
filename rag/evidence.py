"""Evidence selection: the few sentences inside the retrieved passages that best answer the question.

Small CPU models answer well from a handful of sentences and badly from six whole chunks, and sentences are
what a reader wants highlighted. Steps: split passages into sentences with article spans; merge near-identical
sentences across outlets (keeping every source); score each against the question (embedding similarity plus
keyword overlap plus the passage's retrieval rank, plus, when the caller passes a `fit` function, whether
the sentence holds the kind of fact asked for); pick a diverse few by maximal marginal relevance, with at
least one sentence from each outlet the question names.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import numpy as np

from rag.chunking import sentence_spans
from rag.keyword import tokenize
from rag.question import condense, question_parts
from rag.retrieve import Retrieved, group_near_duplicates, named_outlets
from rag.types import Evidence, Passage, SourceSpan, Turn

if TYPE_CHECKING:
    from langchain_core.embeddings import Embeddings

MIN_SENTENCE_CHARS = 25
SENTENCE_DUPLICATE_THRESHOLD = 0.7
WEIGHT_SEMANTIC = 0.65
WEIGHT_KEYWORD = 0.25
WEIGHT_RANK = 0.10
MMR_LAMBDA = 0.75
WEIGHT_FIT = 0.12
FIT_POOL = 16  # the best sentences by relevance whose fit is computed (the fit may run spaCy on each)

FitFn = Callable[[Sequence[str]], Sequence[float]]
"""fit(sentences) -> for each, whether it holds the kind of fact the question asks for (0..1)."""


class SentenceReranker(Protocol):
    """Hook for a second-stage reranker: relevance of each sentence to the query, higher is better."""

    def scores(self, query: str, sentences: Sequence[str]) -> Sequence[float]: ...


@dataclass(frozen=True)
class PooledSentence:
    """A sentence found in one or more retrieved passages."""

    text: str
    spans: tuple[SourceSpan, ...]
    context: str
    rank_prior: float


def span_for(passage: Passage, start: int, end: int) -> SourceSpan:
    return SourceSpan(
        doc_id=passage.doc_id,
        title=passage.title,
        source=passage.source,
        published_at=passage.published_at,
        url=passage.url,
        chunk_id=passage.chunk_id,
        start=passage.start + start,
        end=passage.start + end,
    )


def candidate_sentences(retrieved: Retrieved) -> list[PooledSentence]:
    """Every sentence of the retrieved passages, near-duplicates merged (all their spans kept), best rank first."""
    raw: list[tuple[str, SourceSpan, str, float]] = []
    n_groups = max(1, len(retrieved.groups))
    for group_rank, group in enumerate(retrieved.groups):
        prior = 1.0 - group_rank / n_groups
        for member in group:
            passage = retrieved.passages[member]
            for start, end in sentence_spans(passage.text):
                text = passage.text[start:end]
                if len(text) >= MIN_SENTENCE_CHARS:
                    raw.append((text, span_for(passage, start, end), passage.text, prior))
    groups = group_near_duplicates([r[0] for r in raw], SENTENCE_DUPLICATE_THRESHOLD)
    candidates: list[PooledSentence] = []
    for members in groups:
        spans: dict[tuple[str, int], SourceSpan] = {}
        for i in members:  # overlapping chunks of one article repeat a sentence at the same place: keep one
            span = raw[i][1]
            spans.setdefault((span.doc_id, span.start), span)
        best = raw[members[0]]
        candidates.append(
            PooledSentence(best[0], tuple(spans.values()), best[2], max(raw[i][3] for i in members))
        )
    return candidates


def keyword_overlap(question_tokens: set[str], sentence: str) -> float:
    """Share of the question's content words present in the sentence (0..1, higher is better; 0 if no words)."""
    if not question_tokens:
        return 0.0
    return len(question_tokens & set(tokenize(sentence))) / len(question_tokens)


def mmr(scores: np.ndarray, similarity: np.ndarray, k: int, lam: float = MMR_LAMBDA) -> list[int]:
    """Maximal marginal relevance: greedily pick k items balancing relevance against redundancy.

    `scores[i]` is relevance, `similarity[i, j]` redundancy between items; returns picked indices in pick order.
    """
    picked: list[int] = []
    remaining = list(range(len(scores)))
    while remaining and len(picked) < k:
        redundancy = similarity[np.ix_(remaining, picked)].max(axis=1) if picked else np.zeros(len(remaining))
        values = lam * scores[remaining] - (1 - lam) * redundancy
        best = remaining[int(np.argmax(values))]
        picked.append(best)
        remaining.remove(best)
    return picked


def cover_outlets(
    picked: list[int], outlets: Sequence[str], candidates: Sequence[PooledSentence], scores: np.ndarray
) -> list[int]:
    """`picked` with the best sentence of each outlet in `outlets` that has none, replacing the lowest-ranked
    picks (a question comparing two outlets needs what each of them said) (pure)."""
    picked = list(picked)
    protected: set[int] = set()
    for outlet in outlets:
        have = [i for i in picked if any(sp.source == outlet for sp in candidates[i].spans)]
        if have:
            protected.update(have[:1])
            continue
        own = [i for i in range(len(candidates)) if any(sp.source == outlet for sp in candidates[i].spans)]
        if not own:
            continue
        best = max(own, key=lambda i: scores[i])
        replaceable = [i for i in picked if i not in protected]
        if replaceable:
            picked.remove(replaceable[-1])
        picked.append(best)
        protected.add(best)
    return picked


def relevance(
    question: str, query_vector: Sequence[float], vectors: np.ndarray, texts: Sequence[str], prior: np.ndarray
) -> np.ndarray:
    """How well each sentence answers `question` (0..1, higher is better): meaning (cosine to the question's
    vector; `vectors` are unit length), shared words and its passage's rank (`prior`)."""
    query = np.asarray(query_vector, dtype=np.float32)
    query /= np.linalg.norm(query) + 1e-12
    semantic = np.clip(vectors @ query, 0.0, 1.0)
    question_tokens = set(tokenize(question))
    lexical = np.array([keyword_overlap(question_tokens, t) for t in texts])
    return np.asarray(
        WEIGHT_SEMANTIC * semantic + WEIGHT_KEYWORD * lexical + WEIGHT_RANK * prior, dtype=np.float64
    )


def with_fit(scores: np.ndarray, texts: Sequence[str], fit: FitFn, pool: int = FIT_POOL) -> np.ndarray:
    """`scores` plus WEIGHT_FIT x fit for the `pool` best sentences (the rest keep their score)."""
    best = np.argsort(-scores, kind="stable")[:pool]
    values = fit([texts[i] for i in best])
    out = scores.copy()
    for i, value in zip(best, values, strict=True):
        out[i] = min(1.0, out[i] + WEIGHT_FIT * float(value))
    return out


class EvidenceSelector:
    """Turns retrieved passages into numbered evidence sentences for one question."""

    def __init__(self, embedder: Embeddings, reranker: SentenceReranker | None = None) -> None:
        self._embedder = embedder
        self._reranker = reranker

    def select(
        self, question: str, retrieved: Retrieved, k: int, fit: FitFn | None = None
    ) -> tuple[Evidence, ...]:
        candidates = candidate_sentences(retrieved)
        if not candidates:
            return ()
        texts = [c.text for c in candidates]
        vectors = np.asarray(self._embedder.embed_documents(texts), dtype=np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True) + 1e-12
        prior = np.array([c.rank_prior for c in candidates])
        scores = relevance(question, retrieved.query_embedding, vectors, texts, prior)
        parts = question_parts(question)
        parts = [parts[0], *(condense(p, [Turn(parts[0], "")]) for p in parts[1:])]  # "how large was it?"
        if len(parts) > 1:  # "what ..., and how ...?": each part's best sentence is as good as the best
            top = float(scores.max())
            for part, part_vector in zip(parts, self._embedder.embed_documents(parts), strict=True):
                part_scores = relevance(part, part_vector, vectors, texts, prior)
                scores = np.maximum(scores, part_scores / max(float(part_scores.max()), 1e-9) * top)
        if fit is not None:
            scores = with_fit(scores, texts, fit)
        if self._reranker is not None:
            reranked = np.asarray(self._reranker.scores(question, texts), dtype=np.float32)
            scores = 0.5 * scores + 0.5 * (1.0 / (1.0 + np.exp(-reranked)))
        picked = mmr(scores, vectors @ vectors.T, k)
        outlets = named_outlets(question, [p.source for p in retrieved.passages])
        if outlets:
            picked = cover_outlets(picked, outlets, candidates, scores)
        return tuple(
            Evidence(
                n=n,
                text=candidates[i].text,
                score=float(scores[i]),
                spans=candidates[i].spans,
                context=candidates[i].context,
            )
            for n, i in enumerate(picked, start=1)
        )


class CrossEncoderReranker:
    """Optional second stage: a sentence-transformers CrossEncoder loaded from a local folder (`reranker_path`)."""

    def __init__(self, path: str) -> None:
        from sentence_transformers import CrossEncoder

        self._model = CrossEncoder(path, device="cpu", local_files_only=True)

    def scores(self, query: str, sentences: Sequence[str]) -> Sequence[float]:
        return [float(s) for s in self._model.predict([(query, s) for s in sentences])]
