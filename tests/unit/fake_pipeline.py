"""A deterministic stand-in for rag.pipeline.Pipeline, for UI tests that must not load a model.

Its two articles are real strings; every evidence span indexes into them exactly as the real pipeline's do.
One article is hostile (HTML and script in its title and text) so escaping can be checked.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence
from datetime import date
from pathlib import Path

from rag import (
    Answer,
    ArticleInfo,
    Citation,
    Done,
    Evidence,
    EvidenceReady,
    Filters,
    IngestReport,
    Passage,
    Settings,
    Token,
    Turn,
)
from rag.types import SourceSpan, StreamEvent

HOSTILE = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=1</script>'

ARTICLES = {
    "doc-a": (
        "Talks in Paris",
        "Daily Planet",
        "2025-04-17",
        "Officials met on Thursday. Marco Rubio and Steve Witkoff attended the talks in Paris. "
        "Nothing was signed.",
    ),
    "doc-b": (
        f"Evil {HOSTILE} headline",
        "Bad <b>Outlet</b>",
        "2025-04-18",
        f"Intro line. Rubio was in Paris {HOSTILE} for talks. Tail sentence here.",
    ),
}


def _span(doc_id: str, sentence: str, chunk_id: str) -> SourceSpan:
    title, source, published, text = ARTICLES[doc_id]
    start = text.index(sentence)
    return SourceSpan(doc_id, title, source, published, None, chunk_id, start, start + len(sentence))


def _passage(doc_id: str, chunk_id: str, score: float) -> Passage:
    title, source, published, text = ARTICLES[doc_id]
    return Passage(chunk_id, doc_id, title, source, published, None, text, 0, len(text), score)


def make_evidence() -> tuple[tuple[Evidence, ...], tuple[Passage, ...]]:
    s1 = "Marco Rubio and Steve Witkoff attended the talks in Paris."
    s2 = f"Rubio was in Paris {HOSTILE} for talks."
    e1 = Evidence(1, s1, 0.91, (_span("doc-a", s1, "doc-a:0"),), context=ARTICLES["doc-a"][3])
    e2 = Evidence(2, s2, 0.55, (_span("doc-b", s2, "doc-b:0"),), context=ARTICLES["doc-b"][3])
    corroborated = Evidence(
        3,
        s1,
        0.80,
        (_span("doc-a", s1, "doc-a:0"), dataclasses.replace(_span("doc-a", s1, "doc-a:0"), source="Other")),
    )
    return (e1, e2, corroborated), (_passage("doc-a", "doc-a:0", 0.9), _passage("doc-b", "doc-b:0", 0.5))


class FakePipeline:
    """Scripted pipeline: records calls; `fail_with` makes `stream` raise after the evidence event."""

    def __init__(
        self,
        settings: Settings | None = None,
        tokens: Sequence[str] = ("Rubio and Witkoff ", "attended [1]."),
    ):
        self.settings = settings or Settings(llm="none", top_k=6)
        self.tokens = tuple(tokens)
        self.calls: list[tuple[str, tuple[Turn, ...], Filters | None]] = []
        self.as_of: list[date | None] = []  # the as-of date of each call, in order
        self.options: list[dict[str, object]] = []
        self.fail_with: Exception | None = None
        self.abstain = False
        self.ingested: list[list[Path]] = []
        self.closed = 0

    def with_options(self, **changes: object) -> FakePipeline:
        copy = FakePipeline(self.settings.replace(**changes), self.tokens)
        copy.calls, copy.options, copy.fail_with, copy.abstain, copy.as_of = (
            self.calls,
            self.options,
            self.fail_with,
            self.abstain,
            self.as_of,
        )
        self.options.append(dict(changes))
        return copy

    def answer(self, question: str) -> Answer:
        evidence, passages = make_evidence()
        if self.abstain:
            return Answer(
                question,
                question,
                "The articles do not say who won.",
                True,
                (),
                evidence[:2],
                (),
                passages,
                "none",
                {"retrieve": 12.0},
            )
        e1 = evidence[0]
        citation = Citation(
            1,
            "doc-a",
            e1.primary.title,
            e1.primary.source,
            e1.primary.published_at,
            "doc-a:0",
            e1.text,
            e1.primary.start,
            e1.primary.end,
        )
        return Answer(
            question=question,
            standalone_question=question,
            text="Rubio and Witkoff attended [1]. The pope was there too.",
            abstained=False,
            citations=(citation,),
            evidence=evidence,
            unsupported_sentences=("The pope was there too.",),
            retrieved=passages,
            model=self.settings.llm,
            timings_ms={"retrieve": 120.0, "generate": 3400.0},
        )

    def stream(
        self,
        question: str,
        history: Sequence[Turn] = (),
        filters: Filters | None = None,
        as_of: date | None = None,
    ) -> Iterator[StreamEvent]:
        self.calls.append((question, tuple(history), filters))
        self.as_of.append(as_of)
        evidence, passages = make_evidence()
        yield EvidenceReady(
            question, evidence[:2] if self.abstain else evidence, passages, self.abstain, {"retrieve": 120.0}
        )
        if self.fail_with is not None:
            raise self.fail_with
        if not self.abstain:
            for t in self.tokens:
                yield Token(t)
        yield Done(self.answer(question))

    def ask(
        self,
        question: str,
        history: Sequence[Turn] = (),
        filters: Filters | None = None,
        as_of: date | None = None,
    ) -> Answer:
        self.calls.append((question, tuple(history), filters))
        self.as_of.append(as_of)
        return self.answer(question)

    def articles(self) -> list[ArticleInfo]:
        return [
            ArticleInfo(doc_id, title, source, published, None, None, 2)
            for doc_id, (title, source, published, _text) in ARTICLES.items()
        ]

    def article_text(self, doc_id: str) -> str | None:
        return ARTICLES[doc_id][3] if doc_id in ARTICLES else None

    def example_questions(self, count: int = 4) -> list[str]:
        return [f"What did the author of {title} say?" for title, *_ in ARTICLES.values()][:count]

    def ingest(self, paths: Sequence[Path], prune: bool = False, progress=None) -> IngestReport:  # noqa: ANN001
        self.ingested.append(list(paths))
        for i, _ in enumerate(paths, 1):
            if progress is not None:
                progress(i, len(paths), f"file {i}")
        return IngestReport(added=len(paths), chunks=3 * len(paths), seconds=0.25)

    def close(self) -> None:
        self.closed += 1
