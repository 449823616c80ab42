"""Questions asked as of a date, end to end over a real store holding two articles a month apart."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from rag import load_settings, open_pipeline
from rag.pipeline import Pipeline
from rag.types import AS_ASKED, NEWEST_ARTICLE

pytestmark = pytest.mark.integration

FEBRUARY = "Ferry engine repaired"
MARCH = "Ferry strike ends"
RECORDS = [
    {
        "id": "feb-ferry",
        "title": FEBRUARY,
        "source": "Coast News",
        "published_at": "2023-02-20",
        "body": "The Lowbridge harbour ferry sailed again on Monday after engineers replaced a cracked engine "
        "part. Passengers had waited three weeks for the repair, the harbour board said.",
    },
    {
        "id": "mar-ferry",
        "title": MARCH,
        "source": "Coast News",
        "published_at": "2023-03-20",
        "body": "Crews of the Lowbridge harbour ferry returned to work after a pay deal ended their strike. "
        "The union said members voted by a wide margin to accept the offer.",
    },
]
QUESTION = "What happened to the Lowbridge harbour ferry"


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pipeline]:
    folder = tmp_path_factory.mktemp("as-of-articles")
    (folder / "ferry.jsonl").write_text("\n".join(json.dumps(r) for r in RECORDS) + "\n", encoding="utf-8")
    store = tmp_path_factory.mktemp("as-of-store")
    pipeline = open_pipeline(load_settings(overrides={"store_dir": str(store), "llm": "none"}, env={}))
    report = pipeline.ingest([Path(folder)])
    assert report.added == 2 and not report.skipped
    yield pipeline
    pipeline.close()


def titles(answer) -> list[str]:  # type: ignore[no-untyped-def]
    return [p.title for p in answer.retrieved]


def test_the_newest_article_date_comes_from_the_store(pipeline: Pipeline) -> None:
    assert pipeline.newest_article_date() == date(2023, 3, 20)


def test_articles_published_after_the_as_of_date_are_not_used(pipeline: Pipeline) -> None:
    answer = pipeline.ask(f"{QUESTION}?", as_of=date(2023, 3, 10))
    assert titles(answer) == [FEBRUARY]
    assert answer.date_context is not None
    assert (answer.date_context.as_of, answer.date_context.basis) == (date(2023, 3, 10), AS_ASKED)
    assert pipeline.ask(f"{QUESTION}?", as_of=date(2023, 3, 25)).retrieved, "both articles are before it"


@pytest.mark.parametrize(("when", "first"), [("this week", MARCH), ("last month", FEBRUARY)])
def test_the_articles_of_the_days_asked_about_come_first(pipeline: Pipeline, when: str, first: str) -> None:
    answer = pipeline.ask(f"{QUESTION} {when}?", as_of=date(2023, 3, 25))
    assert sorted(titles(answer)) == sorted([FEBRUARY, MARCH])
    assert titles(answer)[0] == first


def test_without_a_date_an_old_archive_is_read_as_of_its_newest_article(pipeline: Pipeline) -> None:
    answer = pipeline.ask(f"{QUESTION} this week?")
    assert answer.date_context is not None
    assert (answer.date_context.as_of, answer.date_context.basis) == (date(2023, 3, 20), NEWEST_ARTICLE)
    assert answer.date_context.note is not None
    assert answer.date_context.note.startswith("Dates read as of 2023-03-20 (newest article).")
    assert titles(answer)[0] == MARCH
