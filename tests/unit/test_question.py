"""Question preparation: validation, names, follow-up detection and rewriting (dates: test_dates.py)."""

from __future__ import annotations

import pytest

from rag.errors import InputError
from rag.question import (
    ACRONYMS,
    answered_name,
    asks_for_someone,
    condense,
    is_followup,
    names_in,
    question_parts,
    validate_question,
    with_other_forms,
)
from rag.types import Turn

LAMMY_TURN = Turn("What did David Lammy say?", "Lammy said Russia must withdraw its troops [1].")

# --- validate_question ------------------------------------------------------------------------------------


def test_question_is_trimmed_and_whitespace_collapsed() -> None:
    assert validate_question("  What   did\tLammy\nsay? ", 2000) == "What did Lammy say?"


def test_control_characters_become_spaces_and_text_is_nfc() -> None:
    assert validate_question("a\x00b\x1fc", 2000) == "a b c"
    assert validate_question("Cafe\u0301?", 2000) == "Caf\u00e9?"


def test_very_long_question_is_rejected_with_its_length_and_the_limit() -> None:
    with pytest.raises(InputError) as e:
        validate_question("x" * 50_000, 2000)
    assert (
        str(e.value) == "The question is 50,000 characters long; the limit is 2,000. Ask something shorter."
    )


def test_length_limit_is_inclusive_and_counted_after_cleaning() -> None:
    assert validate_question("x" * 2000, 2000) == "x" * 2000
    assert validate_question("   " + "x" * 2000 + "   ", 2000) == "x" * 2000
    with pytest.raises(InputError, match=r"2,001 characters long"):
        validate_question("x" * 2001, 2000)


@pytest.mark.parametrize("question", ["", "   ", "\n\t ", "\x00\x01\x1f", "\x7f \x0b"])
def test_empty_whitespace_or_control_only_question_is_rejected(question: str) -> None:
    with pytest.raises(InputError) as e:
        validate_question(question, 2000)
    assert str(e.value) == "The question is empty. Type a question about the articles."


@pytest.mark.parametrize("question", ["???", "...!", "\u200b"])
def test_question_without_words_is_rejected(question: str) -> None:
    with pytest.raises(InputError) as e:
        validate_question(question, 2000)
    assert str(e.value) == "The question has no words in it. Type a question about the articles."


@pytest.mark.parametrize(("value", "kind"), [(5, "int"), (None, "NoneType"), (b"what?", "bytes")])
def test_non_text_question_is_rejected(value: object, kind: str) -> None:
    with pytest.raises(InputError) as e:
        validate_question(value, 2000)
    assert str(e.value) == f"The question must be text, got {kind}."


# --- names_in ---------------------------------------------------------------------------------------------


def test_names_in_finds_multiword_names_in_order() -> None:
    assert names_in("What did Marco Rubio and Sergei Lavrov say in Riyadh?") == [
        "Marco Rubio",
        "Sergei Lavrov",
        "Riyadh",
    ]


def test_names_in_drops_question_words_and_openers() -> None:
    assert names_in("Who said What and Why?") == []
    assert names_in("What did Mr Lammy say?") == ["Lammy"]
    assert names_in("") == []
    assert names_in("all lower case") == []


# --- is_followup ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "question",
    [
        "and what did he say about Russia?",
        "What about his trip to Kyiv?",
        "But why?",
        "How about the talks?",
        "What did they agree?",  # pronoun, no name
        "Why did she leave?",
    ],
)
def test_followups_are_detected(question: str) -> None:
    assert is_followup(question)


@pytest.mark.parametrize(
    "question",
    [
        "What did Marco Rubio say?",
        "What did Lammy say about it?",  # a pronoun, but a name too
        "Where were the talks held?",
        "Android phones sold well",  # "and" only as a word start
    ],
)
def test_standalone_questions_are_not_followups(question: str) -> None:
    assert not is_followup(question)


# --- condense ---------------------------------------------------------------------------------------------


def test_followup_pronoun_is_replaced_by_the_previous_name() -> None:
    assert (
        condense("and what did he say about Russia?", [LAMMY_TURN])
        == "What did David Lammy say about Russia?"
    )


def test_possessive_pronoun_becomes_a_possessive_name() -> None:
    assert condense("What about his trip to Kyiv?", [LAMMY_TURN]) == "What about David Lammy's trip to Kyiv?"


def test_followup_without_person_pronoun_carries_the_names_in_brackets() -> None:
    assert condense("What did they agree?", [LAMMY_TURN]) == "What did they agree (David Lammy)?"


def test_every_previous_name_is_carried_over() -> None:
    history = [Turn("What happened?", "Marco Rubio met Sergei Lavrov in Riyadh.")]
    assert condense("and what did he say?", history) == "What did Marco Rubio say (Sergei Lavrov, Riyadh)?"


def test_only_the_last_turn_counts() -> None:
    history = [Turn("What did Marco Rubio say?", "..."), LAMMY_TURN]
    assert condense("and what did he say?", history) == "What did David Lammy say?"


def test_after_a_who_question_the_pronoun_is_the_person_answered() -> None:
    def asks_person(q: str) -> bool:
        return q.startswith("Who")

    whitcombe = Turn("Who's the CEO of Halvorsen?", "Dana Whitcombe is the chief executive of Halvorsen [2].")
    assert (
        condense("And how did her company's stock react?", [whitcombe], asks_person)
        == "How did Dana Whitcombe's company's stock react (CEO, Halvorsen)?"
    )
    assert condense("What did they tell her about it?", [whitcombe], asks_person).startswith(
        "What did they tell Dana Whitcombe about it"
    )
    # the answer sentence that shares the question's words wins; a title before the name is dropped
    mayor = Turn(
        "Who is the mayor of Dravenburg?",
        "DRAVENBURG, March 13 (Wire) - Eleven people died [1]. For Mayor Katrin Vossberg, the inquiry is not "
        "enough [3]. Prime Minister Annika Feldmann toured the town [6].",
    )
    assert (
        condense("And what does she want?", [mayor], asks_person)
        == "What does Katrin Vossberg want (Dravenburg)?"
    )
    # the person comes from the answer, the context from the question only (not the answer's lede)
    expert = Turn(
        "Which expert said the dam operator waited too long?",
        'Residents of the Old Quarter say the water came at night [1]. "It was avoidable," Lindqvist said [4].',
    )
    assert condense("And where does he work?", [expert], asks_for_someone) == "Where does Lindqvist work?"
    # without `asks_person` (or when the question did not ask who) the question's own name is used
    assert condense("And what does she want?", [mayor]) == "What does Dravenburg want?"


def test_answered_name_prefers_the_speaker_when_the_question_asked_who_said_it() -> None:
    answer = (
        'Residents of the Old Quarter say they had no warning [1]. "It was avoidable," Lindqvist said [3].'
    )
    assert answered_name(Turn("Which expert said the release came too late?", answer)) == "Lindqvist"
    # a name that reads as a person's (speaker, title, appositive) beats a place in a better-matching sentence
    assert answered_name(Turn("Which expert looked at the release?", answer)) == "Lindqvist"
    lede = (
        "Residents of the Old Quarter say the dam operator waited too long before letting water out [1]. "
        "Dr Pavel Lindqvist, a hydraulic engineer at the university, said the operator should have acted [2]."
    )
    for question in (
        "Which expert said the dam operator waited too long?",
        "Which expert blamed the operator?",
    ):
        assert answered_name(Turn(question, lede)) == "Pavel Lindqvist"
    places = "The Old Quarter was flooded first [1]. Lower Town streets stayed dry [2]."
    assert answered_name(Turn("Who was flooded?", places)) == "Old Quarter"


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("Which expert said the dam operator waited too long?", True),
        ("What insurance analyst expected higher prices?", True),
        ("And which union leader spoke first?", True),
        ("Which city flooded first?", False),
        ("What did the expert say?", False),
        ("Who attended?", False),  # "who" is answer_type's to see
    ],
)
def test_asks_for_someone(question: str, expected: bool) -> None:
    assert asks_for_someone(question) is expected


def test_answered_name_needs_a_name_the_question_lacks() -> None:
    assert answered_name(Turn("Who met Rubio?", "Rubio met nobody [1].")) is None
    assert answered_name(Turn("Who met Rubio?", "Rubio met Sergei Lavrov in Riyadh [1].")) == "Sergei Lavrov"


def test_previous_question_is_appended_when_no_names_are_known() -> None:
    history = [Turn("what happened?", "nothing much")]
    assert condense("and what did he say?", history) == "and what did he say? (what happened?)"


def test_standalone_question_or_no_history_is_unchanged() -> None:
    assert condense("What did Marco Rubio say?", [LAMMY_TURN]) == "What did Marco Rubio say?"
    assert condense("and what did he say?", []) == "and what did he say?"


def test_with_other_forms_spells_out_known_names() -> None:
    assert with_other_forms("Who is the CEO of X?", ACRONYMS) == "Who is the CEO of X? chief executive"
    assert (
        with_other_forms("What did Brussels decide?", ACRONYMS) == "What did Brussels decide?"
    )  # not an acronym
    assert with_other_forms("What did Brussels decide?").endswith("European Commission European Union EU")
    assert with_other_forms("Who is the ceo?", ACRONYMS) == "Who is the ceo?"  # written as a name only


@pytest.mark.parametrize(
    ("question", "parts"),
    [
        (
            "What did insurers estimate, and how large did the fund become?",
            ["What did insurers estimate", "how large did the fund become?"],
        ),
        ("When did the talks start and who was there?", ["When did the talks start", "who was there?"]),
        ("Who spoke first? And what did she promise?", ["Who spoke first?", "what did she promise?"]),
        ("Who met Rubio and Lavrov?", ["Who met Rubio and Lavrov?"]),  # "and" without a question after it
        ("Rubio and who else met Lavrov?", ["Rubio and who else met Lavrov?"]),  # not opened by a question
        ("Who attended the Paris talks?", ["Who attended the Paris talks?"]),
    ],
)
def test_question_parts(question: str, parts: list[str]) -> None:
    assert question_parts(question) == parts
