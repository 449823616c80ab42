"""Answer candidates from synthetic evidence sentences, analysed by the real spaCy pipeline: one test per kind
of expected answer, plus merging, the question's own entities and modifiers."""

from __future__ import annotations

import pytest

from rag.answer_type import AnswerType, expected_answer, with_nearest_labels
from rag.candidates import Candidate, Sentence, candidates, head_link, kind_fit
from rag.language import Language

pytestmark = pytest.mark.integration  # loads spaCy's small English pipeline


@pytest.fixture(scope="module")
def language() -> Language:
    return Language(("sentences", "entities", "syntax"))


def ranked(language: Language, question: str, *sentences: str) -> list[Candidate]:
    analysed = language.analyse(question)
    evidence = [Sentence(n, 1.0 - n / 10, language.analyse(t)) for n, t in enumerate(sentences, 1)]
    return candidates(analysed, expected_answer(analysed), evidence)


def best(language: Language, question: str, *sentences: str) -> str:
    found = ranked(language, question, *sentences)
    assert found, question
    return found[0].text


def test_a_person(language: Language) -> None:
    assert (
        best(
            language,
            "Who opened the new library in Halden?",
            "The new library in Halden was opened by Mayor Ingrid Solberg on Monday.",
        )
        == "Ingrid Solberg"
    )


def test_a_country(language: Language) -> None:
    assert (
        best(
            language,
            "Flood waters closed schools across which country on Tuesday?",
            "Flood waters closed schools across Portugal on Tuesday, officials in Lisbon said.",
        )
        == "Portugal"
    )


def test_a_company(language: Language) -> None:
    found = best(
        language,
        "Which carmaker recalled 40,000 vans this week?",
        "Renault recalled 40,000 vans this week over a brake fault, the company said.",
    )
    assert found == "Renault"


def test_a_number_comes_with_what_it_counts(language: Language) -> None:
    assert (
        best(
            language,
            "How many homes lost power after the storm?",
            "After the storm, 12,000 homes lost power in the north.",
        )
        == "12,000 homes"
    )


def test_a_date(language: Language) -> None:
    assert best(language, "When did the ferry service resume?", "The ferry service resumed on 4 March.") in (
        "4 March",
        "March",
    )


def test_a_thing_is_not_answered_by_a_span(language: Language) -> None:
    assert (
        ranked(language, "Researchers found microbes that can digest what?", "Microbes digest polyester.")
        == []
    )


def test_the_same_entity_in_two_sentences_is_one_candidate_with_both_citations(language: Language) -> None:
    found = ranked(
        language,
        "Who chaired the harbour inquiry?",
        "Judge Amara Osei chaired the harbour inquiry.",
        "The inquiry, chaired by Amara Osei, reported in May.",
    )
    osei = [c for c in found if c.text.endswith("Osei")]
    assert len(osei) == 1 and osei[0].evidence == (1, 2)


def test_entities_the_question_names_are_not_candidates(language: Language) -> None:
    found = ranked(
        language,
        "Who did Lena Marsh meet in Oslo?",
        "Lena Marsh met Piet Vos in Oslo.",
    )
    texts = [c.text for c in found]
    assert "Piet Vos" in texts
    assert not any("Marsh" in t or t == "Oslo" for t in texts)


def test_an_adjective_of_nationality_does_not_answer_who(language: Language) -> None:
    found = ranked(
        language,
        "Which officials visited the dam?",
        "Norwegian officials and the engineer Kari Dahl visited the dam.",
    )
    texts = [c.text for c in found]
    assert "Kari Dahl" in texts and "Norwegian" not in texts


def test_the_head_noun_bound_to_a_name_links_it(language: Language) -> None:
    analysis = language.analyse("The city's envoy Marta Ruiz met the mayor.")
    words = [w.text for w in analysis.words]
    ruiz = [words.index("Marta"), words.index("Ruiz")]
    city = [words.index("city")]
    assert head_link(analysis, ruiz, "envoy") == 1.0
    assert head_link(analysis, city, "envoy") == 0.5  # near it, but not bound to it
    assert head_link(analysis, ruiz, "") == 0.0


def test_an_unknown_head_noun_borrows_the_labels_of_the_nearest_table_noun() -> None:
    unknown = AnswerType("entity", (), "dancer")

    def near_singer(word: str, nouns: list[str]) -> list[float]:
        return [0.9 if n == "singer" else 0.1 for n in nouns]

    assert with_nearest_labels(unknown, near_singer).labels == ("PERSON",)
    assert with_nearest_labels(unknown, lambda w, nouns: [0.2] * len(nouns)) == unknown
    typed = AnswerType("entity", ("ORG",), "team")
    assert with_nearest_labels(typed, near_singer) == typed


def test_a_short_form_joins_the_full_name(language: Language) -> None:
    found = ranked(
        language,
        "Which team won the regional cup final?",
        "The Halden Harbour Hawks won the regional cup final on Sunday.",
        "The Hawks had lost the final twice before.",
    )
    hawks = [c for c in found if "Hawks" in c.text]
    assert len(hawks) == 1 and "Halden" in hawks[0].text and set(hawks[0].evidence) == {1, 2}


def test_a_word_the_question_holds_in_another_form_is_not_an_answer(language: Language) -> None:
    found = ranked(
        language,
        "Which film swept the Oscars?",
        "At the Oscar ceremony, Blue Harbour swept the main categories.",
    )
    texts = [c.text for c in found]
    assert "Blue Harbour" in texts and "Oscar" not in texts


def test_a_count_of_something_else_does_not_answer_how_many(language: Language) -> None:
    question = "How many ferries did the council buy?"
    sentences = ("The council bought 4 ferries in May, and 30 people attended the launch.",)
    counted = [c.text for c in ranked(language, question, *sentences)]
    assert "4 ferries" in counted and "30 people" not in counted

    def unrelated(word: str, texts: list[str]) -> list[float]:
        return [0.1] * len(texts)

    analysed = language.analyse("How many tugboats did the council buy?")
    evidence = [Sentence(1, 1.0, language.analyse(sentences[0]))]
    assert candidates(analysed, expected_answer(analysed), evidence, unrelated) == []


def test_when_prefers_a_point_in_time_to_an_amount_of_time(language: Language) -> None:
    found = ranked(
        language,
        "When did the bridge reopen?",
        "After a week of repairs, the bridge reopened on Tuesday, 4 March.",
    )
    texts = [c.text for c in found]
    assert texts[:2] in (["4 March", "Tuesday"], ["Tuesday", "4 March"]) and texts[-1] == "a week"


def test_kind_fit_is_the_best_fitting_span_of_a_sentence(language: Language) -> None:
    question = language.analyse("How many ferries did the council buy?")
    expected = expected_answer(question)
    assert kind_fit(question, expected, language.analyse("The council bought 4 ferries.")) == 1.0
    assert kind_fit(question, expected, language.analyse("30 people attended the launch.")) == 0.0
    describe = expected_answer(language.analyse("Why did the council buy ferries?"))
    assert kind_fit(question, describe, language.analyse("The council bought 4 ferries.")) == 0.0
