"""The expected answer type, read from spaCy's parse of questions written for these tests."""

from __future__ import annotations

import pytest

from rag.answer_type import AnswerType, expected_answer
from rag.language import Language

pytestmark = pytest.mark.integration  # loads spaCy's small English pipeline


@pytest.fixture(scope="module")
def language() -> Language:
    return Language(("sentences", "entities", "syntax"))


def expect(language: Language, question: str) -> AnswerType:
    return expected_answer(language.analyse(question))


def test_who_asks_for_a_person_or_organisation(language: Language) -> None:
    found = expect(language, "Who opened the new bridge over the Tamsin river?")
    assert (found.kind, found.labels[0], found.plural) == ("entity", "PERSON", True)


def test_who_is_the_x_keeps_the_noun(language: Language) -> None:
    found = expect(language, "Who is the mayor of Lowbridge?")
    assert (found.kind, found.head) == ("entity", "mayor")


def test_which_country_asks_for_a_place_mid_sentence(language: Language) -> None:
    found = expect(language, "Flood waters closed schools across which country on Tuesday?")
    assert found.kind == "entity"
    assert found.labels[0] == "GPE"
    assert found.head == "country"


def test_which_companies_is_plural(language: Language) -> None:
    found = expect(language, "Which companies agreed to pay the fine?")
    assert (found.kind, found.labels[0], found.plural) == ("entity", "ORG", True)


def test_how_many_asks_for_a_count_of_the_noun(language: Language) -> None:
    found = expect(language, "How many homes lost power after the storm?")
    assert (found.kind, found.head, found.plural, found.counted) == ("number", "home", False, True)
    assert "CARDINAL" in found.labels


def test_when_and_what_year_ask_for_dates(language: Language) -> None:
    assert expect(language, "When did the ferry service resume?").kind == "date"
    assert expect(language, "In what year was the dam built?").kind == "date"


def test_where_asks_for_a_place(language: Language) -> None:
    found = expect(language, "Where did the two ministers meet?")
    assert found.kind == "entity" and "GPE" in found.labels


def test_what_did_someone_say_asks_for_a_quote(language: Language) -> None:
    assert expect(language, "What did the harbour master say about the storm?").kind == "quote"


def test_why_and_what_happened_ask_for_a_description(language: Language) -> None:
    assert expect(language, "Why was the vote postponed?").kind == "description"
    assert expect(language, "What happened at the harbour on Sunday?").kind == "description"


def test_what_was_it_called_asks_for_a_name(language: Language) -> None:
    assert expect(language, "What was the new ferry called?").kind == "entity"


def test_a_question_without_a_wh_word_asks_for_any_span(language: Language) -> None:
    assert expect(language, "The storm that hit the coast was named:").kind == "thing"
