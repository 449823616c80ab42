"""Values that cross the pipeline's stage boundaries.

Data flows one way: files -> Article -> Chunk -> (Chroma + keyword index) -> Passage -> Evidence -> Answer.
Every value is frozen; stages build new values instead of mutating old ones.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any


@dataclass(frozen=True)
class Article:
    """One cleaned news article.

    `text` is the cleaned body; every character span elsewhere in the pipeline indexes into it.
    `published_at` is an ISO date (YYYY-MM-DD) or None when no date could be found.
    """

    doc_id: str
    title: str
    source: str
    published_at: str | None
    url: str | None
    text: str
    path: str | None = None

    @property
    def content_hash(self) -> str:
        """A digest of everything that reaches the store; equal hashes mean nothing to re-embed."""
        h = hashlib.sha256()
        for part in (
            self.doc_id,
            self.title,
            self.source,
            self.published_at or "",
            self.url or "",
            self.text,
        ):
            h.update(part.encode("utf-8"))
            h.update(b"\x1f")
        return h.hexdigest()


@dataclass(frozen=True)
class Chunk:
    """A token-bounded, sentence-aligned slice of an article: `article.text[start:end] == text`."""

    chunk_id: str
    doc_id: str
    index: int
    text: str
    start: int
    end: int
    n_tokens: int


@dataclass(frozen=True)
class Passage:
    """A retrieved chunk with the article metadata needed to cite it.

    `score` is the fused retrieval score (higher is better, comparable only within one query).
    """

    chunk_id: str
    doc_id: str
    title: str
    source: str
    published_at: str | None
    url: str | None
    text: str
    start: int
    end: int
    score: float
    vector_rank: int | None = None
    keyword_rank: int | None = None


@dataclass(frozen=True)
class SourceSpan:
    """Where one evidence sentence stands: an article and a character span in its cleaned text."""

    doc_id: str
    title: str
    source: str
    published_at: str | None
    url: str | None
    chunk_id: str
    start: int
    end: int


@dataclass(frozen=True)
class Evidence:
    """A numbered evidence sentence shown to the model and the user.

    `spans` holds every place the (near-)same sentence appears; more than one span means the sentence
    is corroborated by several articles. `score` is the sentence relevance in [0, 1], higher is better.
    `context` is the text of the chunk the first span comes from, for display.
    """

    n: int
    text: str
    score: float
    spans: tuple[SourceSpan, ...]
    context: str = ""

    @property
    def primary(self) -> SourceSpan:
        return self.spans[0]

    @property
    def outlets(self) -> tuple[str, ...]:
        seen: dict[str, None] = {}
        for span in self.spans:
            seen.setdefault(span.source, None)
        return tuple(seen)


@dataclass(frozen=True)
class Citation:
    """A citation `[n]` in an answer, mapped back to an article and the span of its supporting sentence."""

    n: int
    doc_id: str
    title: str
    source: str
    published_at: str | None
    chunk_id: str
    quote: str
    start: int
    end: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class DatePhrase:
    """A date phrase of a question ("this week", "Monday", "in March") and the inclusive days it means."""

    text: str
    start: date
    end: date

    def to_dict(self) -> dict[str, str]:
        return {"text": self.text, "start": self.start.isoformat(), "end": self.end.isoformat()}


AS_ASKED = "as asked"
NEWEST_ARTICLE = "newest article"
TODAY = "today"


@dataclass(frozen=True)
class DateContext:
    """The day a question is read as of, where that day came from, and its date phrases resolved against it.

    `basis` is AS_ASKED (the user or a gold line gave the date: later articles are not used), NEWEST_ARTICLE
    (an archive older than today is read as of its newest article) or TODAY.
    """

    as_of: date
    basis: str
    phrases: tuple[DatePhrase, ...] = ()

    @property
    def explicit(self) -> bool:
        return self.basis == AS_ASKED

    @property
    def note(self) -> str | None:
        """What the user is told about dates: None when the question has no date phrase and no as-of date."""
        if not self.explicit and not self.phrases:
            return None
        text = f"Dates read as of {self.as_of.isoformat()} ({self.basis})."
        if self.explicit:
            text += " Later articles are not used."
        for p in self.phrases:
            days = (
                p.start.isoformat() if p.start == p.end else f"{p.start.isoformat()} to {p.end.isoformat()}"
            )
            text += f' "{p.text}" means {days}.'
        return text

    def to_dict(self) -> dict[str, Any]:
        return {
            "as_of": self.as_of.isoformat(),
            "basis": self.basis,
            "phrases": [p.to_dict() for p in self.phrases],
            "note": self.note,
        }


@dataclass(frozen=True)
class Answer:
    """The result of one question.

    `text` carries `[n]` markers that refer to `evidence` items (and to `citations` with the same `n`).
    `abstained` is True when the articles do not contain the answer; `text` then says so plainly.
    """

    question: str
    standalone_question: str
    text: str
    abstained: bool
    citations: tuple[Citation, ...]
    evidence: tuple[Evidence, ...]
    unsupported_sentences: tuple[str, ...]
    retrieved: tuple[Passage, ...]
    model: str
    timings_ms: dict[str, float] = field(default_factory=dict)
    notice: str | None = None
    # the kind of answer the question expects: entity, number, date, quote, thing or description
    answer_type: str = ""
    # the day the question's dates were read against (None when the answer chain did not read dates)
    date_context: DateContext | None = None

    def to_dict(self) -> dict[str, Any]:
        """The `rag ask --json` schema."""
        return {
            "question": self.question,
            "answer": self.text,
            "abstained": self.abstained,
            "citations": [c.to_dict() for c in self.citations],
            "unsupported_sentences": list(self.unsupported_sentences),
            "retrieved": [
                {"chunk_id": p.chunk_id, "doc_id": p.doc_id, "score": round(p.score, 6)}
                for p in self.retrieved
            ],
            "model": self.model,
            "timings_ms": {k: round(v, 1) for k, v in self.timings_ms.items()},
            "notice": self.notice,
            "answer_type": self.answer_type,
            "date_context": self.date_context.to_dict() if self.date_context else None,
        }


@dataclass(frozen=True)
class Filters:
    """Metadata filters for retrieval. Empty `sources` means every outlet; dates are inclusive ISO dates."""

    sources: tuple[str, ...] = ()
    since: str | None = None
    until: str | None = None

    @property
    def empty(self) -> bool:
        return not self.sources and self.since is None and self.until is None


@dataclass(frozen=True)
class Turn:
    """One earlier exchange of a conversation, passed to `ask` for follow-up questions."""

    question: str
    answer: str


@dataclass(frozen=True)
class Skipped:
    """A file or record that ingest did not take, and why."""

    path: str
    reason: str


@dataclass(frozen=True)
class IngestReport:
    """What one ingest run did. Counts are of articles, except `chunks` (chunks written)."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    skipped: tuple[Skipped, ...] = ()
    chunks: int = 0
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "added": self.added,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "removed": self.removed,
            "skipped": [{"path": s.path, "reason": s.reason} for s in self.skipped],
            "chunks": self.chunks,
            "seconds": round(self.seconds, 3),
        }


@dataclass(frozen=True)
class ArticleInfo:
    """A row of the store's table of contents."""

    doc_id: str
    title: str
    source: str
    published_at: str | None
    url: str | None
    path: str | None
    chunks: int


@dataclass(frozen=True)
class EvidenceReady:
    """Stream event: retrieval and evidence selection are done; shown before any model runs.

    `abstained` is True when nothing relevant enough was found (no model will run).
    """

    standalone_question: str
    evidence: tuple[Evidence, ...]
    retrieved: tuple[Passage, ...]
    abstained: bool
    timings_ms: dict[str, float]


@dataclass(frozen=True)
class Token:
    """Stream event: a piece of the model's draft answer (unverified; the final Answer replaces it)."""

    text: str


@dataclass(frozen=True)
class Done:
    """Stream event: the verified final answer. Always the last event of a stream."""

    answer: Answer


StreamEvent = EvidenceReady | Token | Done
