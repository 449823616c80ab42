"""Starter questions from headlines: entities in, plain questions out (a fake analyser, no spaCy)."""

from __future__ import annotations

import pytest

from rag.language import Analysis, Span
from rag.suggest import example_questions

ENTITIES = {
    "Mayor Ilse Varga reopens the Tromsø ferry": [("Ilse Varga", "PERSON"), ("Tromsø", "GPE")],
    "Storm closes Tromsø harbour; Varga visits": [("Tromsø", "GPE"), ("Varga", "PERSON")],
    "Brussels weighs new fishing quotas": [("Brussels", "GPE")],
}


def analyse(text: str) -> Analysis:
    return Analysis(
        text,
        entities=tuple(Span(t, text.find(t), text.find(t) + len(t), label) for t, label in ENTITIES[text]),
    )


def test_questions_ask_about_the_most_named_people_and_places_alternately() -> None:
    assert example_questions(list(ENTITIES), analyse) == [
        "What did Ilse Varga say?",  # a surname alone ("Varga") is not asked about
        "What happened in Tromsø?",  # named twice: first among places
        "What happened in Brussels?",
    ]


@pytest.mark.parametrize("count", [0, 1, 2])
def test_at_most_count_questions(count: int) -> None:
    assert len(example_questions(list(ENTITIES), analyse, count)) == count


def test_no_headlines_no_questions() -> None:
    assert example_questions([], analyse) == []
