"""The pipeline object the CLI, UI and eval harness use: ingest, retrieve, ask, stream."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from rag.settings import Settings
from rag.types import Answer, ArticleInfo, Filters, IngestReport, Passage, StreamEvent, Turn

ProgressFn = Callable[[int, int, str], None]
"""progress(done, total, label): called as ingest advances."""


class Pipeline:
    """Holds the clients built from one Settings and runs the use cases.

    Heavy clients (embedder, Chroma, model) are built on first use and shared by `with_options` copies.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def with_options(self, **changes: object) -> Pipeline:
        """A pipeline with some settings changed (e.g. llm, top_k) that shares this one's heavy clients."""
        raise NotImplementedError

    def ingest(self, paths: Sequence[Path], prune: bool = False, progress: ProgressFn | None = None) -> IngestReport:
        raise NotImplementedError

    def retrieve(self, question: str, filters: Filters | None = None) -> list[Passage]:
        raise NotImplementedError

    def ask(self, question: str, history: Sequence[Turn] = (), filters: Filters | None = None) -> Answer:
        raise NotImplementedError

    def stream(
        self, question: str, history: Sequence[Turn] = (), filters: Filters | None = None
    ) -> Iterator[StreamEvent]:
        raise NotImplementedError

    def articles(self) -> list[ArticleInfo]:
        raise NotImplementedError

    def article_text(self, doc_id: str) -> str | None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError
