"""Hybrid retrieval: vector search + BM25, fused by reciprocal rank fusion, near-duplicates grouped.

The pure pieces (`reciprocal_rank_fusion`, `shingles`, `group_near_duplicates`) are module-level functions;
`Retriever` wires them to the store, the keyword index and the embedder it is given.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date
from typing import TYPE_CHECKING

from rag.dates import in_range
from rag.keyword import tokenize
from rag.types import Filters, Passage

if TYPE_CHECKING:
    from langchain_core.embeddings import Embeddings

    from rag.keyword import KeywordIndex
    from rag.store import StoredChunk, VectorStore


def reciprocal_rank_fusion(rankings: Sequence[Sequence[str]], k: int = 60) -> list[tuple[str, float]]:
    """Fuse ranked id lists: score(id) = sum over lists of 1 / (k + rank), rank starting at 1.

    Higher is better. Ties keep the order in which ids were first seen, so the result is deterministic.
    """
    scores: dict[str, float] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking, start=1):
            scores[item] = scores.get(item, 0.0) + 1.0 / (k + rank)
    order = {item: i for i, item in enumerate(scores)}
    return sorted(scores.items(), key=lambda kv: (-kv[1], order[kv[0]]))


def shingles(text: str, n: int = 3) -> frozenset[tuple[str, ...]]:
    """Word n-grams of the stemmed content words; the unit of near-duplicate comparison."""
    words = tokenize(text)
    if len(words) < n:
        return frozenset([tuple(words)]) if words else frozenset()
    return frozenset(tuple(words[i : i + n]) for i in range(len(words) - n + 1))


def containment(a: frozenset[tuple[str, ...]], b: frozenset[tuple[str, ...]]) -> float:
    """Share of the smaller set found in the larger one (1.0 = one text repeats the other); 0 if either is empty."""
    if not a or not b:
        return 0.0
    return len(a & b) / min(len(a), len(b))


def group_near_duplicates(
    texts: Sequence[str], threshold: float = 0.8, key: Callable[[str], frozenset[tuple[str, ...]]] = shingles
) -> list[list[int]]:
    """Group indices of texts whose shingle containment is at least `threshold`.

    Each group lists its members in input order; the first member is the representative (the best ranked,
    since inputs come best first). Quadratic in len(texts), which is bounded by the candidate count.
    """
    keys = [key(t) for t in texts]
    groups: list[list[int]] = []
    for i, ki in enumerate(keys):
        for group in groups:
            if containment(keys[group[0]], ki) >= threshold:
                group.append(i)
                break
        else:
            groups.append([i])
    return groups


def named_outlets(question: str, outlets: Sequence[str]) -> list[str]:
    """The outlets among `outlets` that the question names ("... reported by The Northern Courier", "IRIA
    says"): the name without a leading "The", or one part of a "Name - Tagline" name, as whole words (pure)."""
    asked = " " + " ".join(re.findall(r"\w+", question.casefold())) + " "
    found = []
    for outlet in dict.fromkeys(outlets):
        parts = [outlet, *re.split(r"\s+[-–—|:]\s+", outlet)]
        for part in parts:
            words = re.findall(r"\w+", part.casefold())
            if words and words[0] == "the":
                words = words[1:]
            if len(words) == 1:  # one word must be written as a name: "The Independent", not "independent"
                named = re.search(rf"(?<!\w){re.escape(part.split()[-1])}(?!\w)", question) is not None
            else:
                named = f" {' '.join(words)} " in asked
            if named and len(" ".join(words)) > 2:
                found.append(outlet)
                break
    return found


PREFER_BOOST = 1.5


def prefer_dates(
    passages: Sequence[Passage], days: tuple[date, date] | None, boost: float = PREFER_BOOST
) -> list[Passage]:
    """Passages re-ranked with the score of those published within `days` multiplied by `boost` (a soft
    preference for the days a question names; undated passages are never boosted). Ties keep input order."""
    if days is None:
        return list(passages)
    boosted = [replace(p, score=p.score * boost) if in_range(p.published_at, days) else p for p in passages]
    return sorted(boosted, key=lambda p: -p.score)


def to_passage(
    chunk: StoredChunk, score: float, vector_rank: int | None, keyword_rank: int | None
) -> Passage:
    m = chunk.metadata
    return Passage(
        chunk_id=chunk.chunk_id,
        doc_id=str(m.get("doc_id", "")),
        title=str(m.get("title", "")),
        source=str(m.get("source", "")),
        published_at=str(m.get("published_at") or "") or None,
        url=str(m.get("url") or "") or None,
        text=chunk.text,
        start=int(m.get("start", 0)),
        end=int(m.get("end", 0)),
        score=score,
        vector_rank=vector_rank,
        keyword_rank=keyword_rank,
    )


@dataclass(frozen=True)
class Retrieved:
    """Fused passages (best first) grouped by near-duplication; `groups[i][0]` is the representative."""

    passages: tuple[Passage, ...]
    groups: tuple[tuple[int, ...], ...]
    query_embedding: tuple[float, ...]

    @property
    def distinct(self) -> tuple[Passage, ...]:
        """The representative passage of each near-duplicate group, best first."""
        return tuple(self.passages[g[0]] for g in self.groups)


class Retriever:
    """Vector + keyword retrieval over one store. `mode` is "hybrid", "vector" or "keyword"."""

    def __init__(
        self,
        store: VectorStore,
        keyword_index: Callable[[], KeywordIndex],
        embedder: Embeddings,
        mode: str = "hybrid",
        candidates: int = 24,
        rrf_k: int = 60,
        duplicate_threshold: float = 0.8,
    ) -> None:
        self._store = store
        self._keyword_index = keyword_index
        self._embedder = embedder
        self._mode = mode
        self._candidates = candidates
        self._rrf_k = rrf_k
        self._duplicate_threshold = duplicate_threshold

    def retrieve(
        self,
        query: str,
        top_k: int,
        filters: Filters | None = None,
        prefer: tuple[date, date] | None = None,
    ) -> Retrieved:
        """The best `top_k` distinct passages (plus their near-duplicates) for `query`; passages published
        within `prefer` (inclusive days) score PREFER_BOOST times higher."""
        embedding = tuple(self._embedder.embed_query(query))
        chunks: dict[str, StoredChunk] = {}
        rankings: list[list[str]] = []
        vector_ranks: dict[str, int] = {}
        keyword_ranks: dict[str, int] = {}
        if self._mode in ("hybrid", "vector"):
            hits = self._store.query(embedding, self._candidates, filters)
            for rank, (chunk, _similarity) in enumerate(hits, start=1):
                chunks[chunk.chunk_id] = chunk
                vector_ranks[chunk.chunk_id] = rank
            rankings.append([c.chunk_id for c, _ in hits])
        if self._mode in ("hybrid", "keyword"):
            hits_kw = self._keyword_index().search(query, self._candidates, filters)
            keyword_ranks = {cid: rank for rank, (cid, _) in enumerate(hits_kw, start=1)}
            rankings.append([cid for cid, _ in hits_kw])
            missing = [cid for cid, _ in hits_kw if cid not in chunks]
            for chunk in self._store.get_chunks(missing):
                chunks[chunk.chunk_id] = chunk
        fused = [(cid, s) for cid, s in reciprocal_rank_fusion(rankings, self._rrf_k) if cid in chunks]
        passages = prefer_dates(
            [
                to_passage(chunks[cid], score, vector_ranks.get(cid), keyword_ranks.get(cid))
                for cid, score in fused
            ],
            prefer,
        )
        groups = group_near_duplicates([p.text for p in passages], self._duplicate_threshold)[:top_k]
        passages, groups = self._with_named_outlets(query, embedding, filters, passages, groups)
        kept = sorted(i for g in groups for i in g)
        renumber = {old: new for new, old in enumerate(kept)}
        return Retrieved(
            passages=tuple(passages[i] for i in kept),
            groups=tuple(tuple(renumber[i] for i in g) for g in groups),
            query_embedding=embedding,
        )

    def _with_named_outlets(
        self,
        query: str,
        embedding: tuple[float, ...],
        filters: Filters | None,
        passages: list[Passage],
        groups: list[list[int]],
    ) -> tuple[list[Passage], list[list[int]]]:
        """For a question that names outlets ("... reported by The Courier differ from Meridian Wire?"), the
        best passage of each named outlet that has none among `groups`, in place of the lowest-ranked groups."""
        outlets = named_outlets(query, self._keyword_index().sources())
        if not outlets:
            return passages, groups
        groups = [list(g) for g in groups]
        protected: set[int] = set()  # groups kept for an outlet
        for outlet in outlets:
            if filters is not None and filters.sources and outlet not in filters.sources:
                continue
            have = [n for n, g in enumerate(groups) if any(passages[i].source == outlet for i in g)]
            if have:
                protected.add(have[0])
                continue
            own = Filters((outlet,), filters.since if filters else None, filters.until if filters else None)
            vector = {c.chunk_id: c for c, _ in self._store.query(embedding, 3, own)}
            keyword = [cid for cid, _ in self._keyword_index().search(query, 3, own)]
            fused = reciprocal_rank_fusion([list(vector), keyword], self._rrf_k)
            if not fused:
                continue
            best = fused[0][0]
            chunk = vector.get(best) or next(iter(self._store.get_chunks([best])), None)
            if chunk is None:
                continue
            passages.append(to_passage(chunk, 0.0, None, None))
            replaceable = [n for n in range(len(groups)) if n not in protected]
            if replaceable and len(groups) >= 2:
                groups.pop(replaceable[-1])
            groups.append([len(passages) - 1])
            protected.add(len(groups) - 1)
        return passages, groups
