"""Real components for integration tests: one embedded store with the seed articles per test session."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from rag import load_settings, open_pipeline
from rag.pipeline import Pipeline
from tests.conftest import ARTICLES


@pytest.fixture(scope="session")
def seeded_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store directory holding the five seed articles (ingested once per session)."""
    store_dir = tmp_path_factory.mktemp("store")
    pipeline = open_pipeline(load_settings(overrides={"store_dir": str(store_dir), "llm": "none"}, env={}))
    report = pipeline.ingest([ARTICLES])
    assert report.added == 5 and not report.skipped
    return store_dir


@pytest.fixture(scope="session")
def evidence_pipeline(seeded_store: Path) -> Iterator[Pipeline]:
    """A pipeline over the seeded store that answers with evidence only (no model)."""
    pipeline = open_pipeline(load_settings(overrides={"store_dir": str(seeded_store), "llm": "none"}, env={}))
    yield pipeline
    pipeline.close()
