"""Question preparation (pure): validation, multi-part questions and follow-up rewriting.

A follow-up such as "and what did he say about Russia?" is rewritten into a standalone question before
retrieval: a personal pronoun stands for the person the previous answer named (else the previous question's),
and the previous question's named entities are carried over as context. Entities come from the language
layer (spaCy), passed in as an `analyse` function so this module stays pure.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from rag.errors import InputError
from rag.types import Turn

if TYPE_CHECKING:
    from rag.language import Analysis

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_FOLLOWUP_START = re.compile(r"^\s*(?:and|but|also|so|then|what about|how about)\b", re.I)
_PRONOUN = re.compile(r"\b(he|him|his|she|her|hers|they|them|their|it|its)\b", re.I)
PERSON_PRONOUNS = frozenset({"he", "him", "his", "she", "her", "hers"})
CONTEXT_LABELS = frozenset({"PERSON", "ORG", "GPE", "LOC", "FAC", "NORP", "EVENT", "PRODUCT", "LAW"})


def validate_question(question: object, max_chars: int) -> str:
    """The question, trimmed and cleaned of control characters; InputError when it cannot be asked."""
    if not isinstance(question, str):
        raise InputError(f"The question must be text, got {type(question).__name__}.")
    # lone surrogates (undecodable bytes from argv or JSON) cannot be encoded: show them as U+FFFD
    text = re.sub(r"[\ud800-\udfff]", "\ufffd", question)
    text = unicodedata.normalize("NFC", _CONTROL.sub(" ", text)).strip()
    text = re.sub(r"\s+", " ", text)
    if not text:
        raise InputError("The question is empty. Type a question about the articles.")
    if len(text) > max_chars:
        raise InputError(
            f"The question is {len(text):,} characters long; the limit is {max_chars:,}. Ask something shorter."
        )
    if not re.search(r"\w", text):
        raise InputError("The question has no words in it. Type a question about the articles.")
    return text


_ASKING = r"(?:what|which|who|whom|whose|when|where|why|how|did|does|do|is|was|were|are|has|have|had)\b"
_PART_BREAK = re.compile(rf"(?:,\s*|\s+)(?:and|but)\s+(?={_ASKING})|[?;]\s+(?={_ASKING})", re.I)


def question_parts(question: str) -> list[str]:
    """The questions asked in one: "What did insurers estimate, and how large did the fund become?" -> ["What
    did insurers estimate", "how large did the fund become?"]. A part must open with a question word, so
    "Who met Rubio and Lavrov?" stays whole. A single question gives a list of one."""
    text = question.strip()
    if not re.match(_ASKING, text, re.I):
        return [text]
    parts = [p.strip(" ,") for p in _PART_BREAK.split(text)]
    return [p for p in parts if len(p.split()) >= 3] if len(parts) > 1 else [text]


def is_followup(question: Analysis) -> bool:
    """The question leans on an earlier turn: it opens with "and", "what about"..., or uses a pronoun while
    naming nothing itself."""
    if _FOLLOWUP_START.search(question.text):
        return True
    return bool(_PRONOUN.search(question.text)) and not question.entities


def condense(question: str, history: Sequence[Turn], analyse: Callable[[str], Analysis] | None = None) -> str:
    """A standalone version of `question` given the earlier turns (unchanged when it is not a follow-up).

    Without `analyse` the previous question is appended as context. With it, the first personal pronoun
    becomes the first person the previous answer named that its question did not (else the question's first
    person), and the previous question's other named entities are appended when missing.
    """
    if not history:
        return question
    previous = history[-1]
    if analyse is None:
        leans = _FOLLOWUP_START.search(question) or _PRONOUN.search(question)
        return f"{question} ({previous.question})" if leans else question
    asked = analyse(question)
    if not is_followup(asked):
        return question
    before = analyse(previous.question)
    answered = analyse(re.sub(r"\s*\[[\d,\s]+\]", "", previous.answer))
    context = [e.text for e in before.entities if e.label in CONTEXT_LABELS]
    people = [e.text for e in answered.entities if e.label == "PERSON" and e.text not in context]
    people += [e.text for e in before.entities if e.label == "PERSON"]
    text = _replace_person_pronoun(asked, people[0]) if people else question
    text = re.sub(r"^\s*(?:and|but|also|so|then)\s+", "", text, flags=re.I)
    missing = [n for n in dict.fromkeys(context) if n not in text]
    if missing:
        text = f"{text.rstrip('?').rstrip()} ({', '.join(missing)})?"
    elif not context and text == question:
        text = f"{question} ({previous.question})"
    return text[0].upper() + text[1:]


def _replace_person_pronoun(question: Analysis, name: str) -> str:
    """The question with its first personal pronoun replaced by `name` ("name's" for a possessive: PRP$)."""
    for word in question.words:
        if word.text.casefold() in PERSON_PRONOUNS:
            form = f"{name}'s" if word.tag == "PRP$" else name
            end = word.start + len(word.text)
            return question.text[: word.start] + form + question.text[end:]
    return question.text
