"""Question preparation: validation, names, follow-up detection and rewriting (dates: test_dates.py)."""

from __future__ import annotations

import pytest

from rag.errors import InputError
from rag.question import (
    condense,
    is_followup,
    question_parts,
    validate_question,
)
from rag.types import Turn

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


# --- follow-ups (real spaCy) --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def analyse():  # type: ignore[no-untyped-def]
    from rag.language import Language

    return Language(("sentences", "entities", "syntax")).analyse


HARBOUR_TURN = Turn("Who opened the new harbour in Tromsø?", "Mayor Kristin Dahl opened it on Friday [1].")


@pytest.mark.integration
def test_a_pronoun_becomes_the_person_the_previous_answer_named(analyse) -> None:  # type: ignore[no-untyped-def]
    standalone = condense("What did she promise?", [HARBOUR_TURN], analyse)
    assert standalone.startswith("What did Kristin Dahl promise")
    assert "Tromsø" in standalone  # the earlier question's place is carried over


@pytest.mark.integration
def test_a_possessive_pronoun_becomes_a_possessive_name(analyse) -> None:  # type: ignore[no-untyped-def]
    assert condense("What is her party?", [HARBOUR_TURN], analyse).startswith("What is Kristin Dahl's party")


@pytest.mark.integration
def test_a_question_naming_its_own_subject_is_not_rewritten(analyse) -> None:  # type: ignore[no-untyped-def]
    question = "What did Olaf Berg say about the harbour?"
    assert not is_followup(analyse(question))
    assert condense(question, [HARBOUR_TURN], analyse) == question


@pytest.mark.integration
def test_an_opening_conjunction_marks_a_followup(analyse) -> None:  # type: ignore[no-untyped-def]
    assert is_followup(analyse("And when did it open?"))
    assert condense("And when did it open?", [HARBOUR_TURN], analyse) == "When did it open (Tromsø)?"


def test_without_an_analyser_the_previous_question_is_appended() -> None:
    assert condense("and what did he say?", [HARBOUR_TURN]) == (
        "and what did he say? (Who opened the new harbour in Tromsø?)"
    )
    assert condense("Where is the harbour?", [HARBOUR_TURN]) == "Where is the harbour?"
    assert condense("and what did he say?", []) == "and what did he say?"


@pytest.mark.parametrize(
    ("question", "parts"),
    [
        (
            "What did the bakers charge, and how long did the queue get?",
            ["What did the bakers charge", "how long did the queue get?"],
        ),
        ("Who rang the bell? And what did she hear?", ["Who rang the bell?", "what did she hear?"]),
        ("Who met the mayor and the bishop?", ["Who met the mayor and the bishop?"]),  # "and" joins nouns
        ("The mayor and who else rang the bell?", ["The mayor and who else rang the bell?"]),
    ],
)
def test_question_parts(question: str, parts: list[str]) -> None:
    assert question_parts(question) == parts
