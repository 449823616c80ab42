"""newsrag: question answering over news articles with verified, sentence-level citations.

The public API is small; the UI, the evaluation harness and the CLI use only this:

    from rag import load_settings, open_pipeline
    pipeline = open_pipeline(load_settings())
    pipeline.ingest([Path("data/articles")])
    answer = pipeline.ask("Who attended the Paris talks?")
    for event in pipeline.stream("Who attended the Paris talks?"):  # EvidenceReady, Token..., Done
        ...

Nothing heavy is imported by `import rag`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rag.errors import RagError
from rag.settings import Settings, load_settings
from rag.types import (
    Answer,
    ArticleInfo,
    Citation,
    Done,
    Evidence,
    EvidenceReady,
    Filters,
    IngestReport,
    Passage,
    Token,
    Turn,
)

if TYPE_CHECKING:
    from rag.pipeline import Pipeline

__all__ = [
    "Answer",
    "ArticleInfo",
    "Citation",
    "Done",
    "Evidence",
    "EvidenceReady",
    "Filters",
    "IngestReport",
    "Passage",
    "Pipeline",
    "RagError",
    "Settings",
    "Token",
    "Turn",
    "load_settings",
    "open_pipeline",
]


def open_pipeline(settings: Settings) -> Pipeline:
    """Open the store and (lazily) the models described by `settings`."""
    from rag.pipeline import Pipeline

    return Pipeline(settings)
