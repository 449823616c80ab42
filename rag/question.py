"""Question preparation (pure): validation, follow-up rewriting and relative dates.

A follow-up such as "and what did he say about Russia?" is rewritten into a standalone question before
retrieval, by carrying over the people and places of the previous turn. Relative dates ("yesterday",
"last week") become an explicit date range, anchored on the newest article date (or today).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from rag.errors import InputError
from rag.types import Filters, Turn

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_FOLLOWUP_START = re.compile(
    r"^\s*(?:and|but|also|so|then|what about|how about|and what|why|how come)\b", re.I
)
_PRONOUN = re.compile(
    r"\b(he|him|his|she|her|hers|they|them|their|it|its|that|this|those|these|there)\b", re.I
)
_PERSON_PRONOUN = re.compile(r"\b(he|she|him|her|his)\b", re.I)
_NAME = re.compile(r"\b(?:[A-ZÀ-Þ][\w’'\-]+)(?:\s+(?:[A-ZÀ-Þ][\w’'\-]+))*")
_GENERIC_CAPS = frozenset(
    "What Who When Where Which How Why Did Does Do Is Are Was Were The A An And But In On At According Also "
    "Who's What's Where's When's How's Who’s What’s Where’s When’s How’s "
    "Mr Mrs Ms Dr He She They It I I've I'm I'd I'll I’ve I’m I’d I’ll Can Could Should Would Will Has Have "
    "Had Tell Please Give List Name Describe Explain Summarise Summarize Compare".split()
)
# Names a question may use where articles write something else: acronyms spelled out, and the news habit of
# naming a government by its seat ("Brussels" for the European Commission). A name counts as mentioned in
# the articles when it or one of these forms is (see `name_forms`).
_OTHER_FORMS: dict[str, tuple[str, ...]] = {
    "CEO": ("chief executive",),
    "CFO": ("chief financial officer",),
    "COO": ("chief operating officer",),
    "CTO": ("chief technology officer",),
    "PM": ("prime minister",),
    "MP": ("member of parliament", "lawmaker"),
    "EU": ("European Union", "European Commission", "Brussels"),
    "UN": ("United Nations",),
    "US": ("United States", "American", "America", "Washington"),
    "USA": ("United States", "American", "America"),
    "UK": ("United Kingdom", "Britain", "British"),
    "Brussels": ("European Commission", "European Union", "EU"),
    "Washington": ("United States", "US", "White House", "American"),
    "White House": ("US", "United States", "Washington"),
    "Moscow": ("Russia", "Russian", "Kremlin"),
    "Kremlin": ("Russia", "Russian", "Moscow"),
    "Beijing": ("China", "Chinese"),
    "Kyiv": ("Kiev", "Ukraine", "Ukrainian"),
    "Kiev": ("Kyiv", "Ukraine", "Ukrainian"),
    "London": ("Britain", "British", "UK", "Downing Street"),
    "Downing Street": ("Britain", "British", "UK", "prime minister"),
    "Berlin": ("Germany", "German"),
    "Paris": ("France", "French", "Elysee", "Élysée"),
    "Elysee": ("France", "French", "Paris", "Élysée"),
    "Tokyo": ("Japan", "Japanese"),
    "Tehran": ("Iran", "Iranian"),
    "Wall Street": ("shares", "stock", "investors", "Nasdaq", "NYSE"),
}


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


def names_in(text: str) -> list[str]:
    """Capitalised name phrases in order ("Marco Rubio", "Paris"), question words and openers dropped."""
    names: list[str] = []
    for match in _NAME.finditer(text):
        words = [w for w in match.group(0).split() if w not in _GENERIC_CAPS]
        if words:
            names.append(" ".join(words))
    return names


def name_forms(name: str) -> tuple[str, ...]:
    """`name` and the other forms articles may use for it ("CEO" -> "chief executive"; "Brussels" -> "European
    Commission"); see `_OTHER_FORMS`."""
    return (name, *_OTHER_FORMS.get(name, ()))


ACRONYMS = tuple(key for key in _OTHER_FORMS if key.isupper())


def with_other_forms(text: str, keys: Sequence[str] | None = None) -> str:
    """`text` followed by the other forms of the names in it that `_OTHER_FORMS` knows (all of them, or only
    `keys`): "Who is the CEO of X?" -> "Who is the CEO of X? chief executive", for keyword search."""
    extra = [
        form
        for key, forms in _OTHER_FORMS.items()
        if (keys is None or key in keys) and re.search(rf"(?<!\w){re.escape(key)}(?!\w)", text)
        for form in forms
    ]
    return " ".join([text, *extra])


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


def is_followup(question: str) -> bool:
    """Heuristic: the question leans on an earlier turn (opens with "and"/"what about", or uses a pronoun
    without naming anyone)."""
    if _FOLLOWUP_START.search(question):
        return True
    return bool(_PRONOUN.search(question)) and not names_in(question)


_SPEECH = re.compile(r"\b(?:said|says|say|told|tell|warned|argued|claimed|described|called|added)\b", re.I)
# a speech verb right after a name, or after an appositive ("Lindqvist, an engineer at the university, said")
_SPEECH_AFTER = re.compile(r"(?:,[^,.;\"“”]{1,120},|,)?\s+(?:said|says|told|warned|argued|added)\b")
_TITLES = frozenset(
    "Dr Mr Mrs Ms Prof Professor Mayor Minister President Chancellor Senator Judge Governor Secretary Director "
    "Inspector Commissioner Ambassador Sir Dame Rev Captain Colonel General Chief".split()
)
_TITLE_BEFORE = re.compile(rf"\b(?:{'|'.join(sorted(_TITLES))})\.?\s+$")
_APPOSITIVE = re.compile(r",\s+(?:a|an|the|who|whose)\s")


def answered_name(previous: Turn) -> str | None:
    """The name a "who" turn answered with: in the answer sentence sharing most words with the question (its
    names aside), the first name the question does not hold that reads as a person's (a title before it, a
    speech verb or an appositive after it: "Dr Pavel Lindqvist, a hydraulic engineer, said"), else the first
    name; a run is cut to its last two words ("Mayor Katrin Vossberg" -> "Katrin Vossberg") and a lone
    capitalised word opening a sentence is passed over. When the question asked who *said* something, a name
    with a speech verb after it wins. None when the answer holds no new name."""
    from rag.keyword import tokenize

    known = {w.casefold() for n in names_in(previous.question) for w in n.split()}
    asked = set(tokenize(previous.question)) - set(tokenize(" ".join(known)))
    answer = re.sub(r"\s*\[\d+\]", "", previous.answer)
    sentences = [s for s in re.split(r"(?<=[.!?])\s+", answer) if s]
    ranked = sorted(sentences, key=lambda s: -len(asked & set(tokenize(s))))  # stable: ties keep their order
    found: list[tuple[str, bool, bool]] = []  # (name, whether a speech verb follows it, reads as a person's)
    for sentence in ranked:
        for match in _NAME.finditer(sentence):
            words = [w for w in match.group(0).split() if w not in _GENERIC_CAPS]
            if not words or (match.start() == 0 and len(words) == 1):
                continue
            if not any(w.casefold() in known for w in words):
                speaker = _SPEECH_AFTER.match(sentence, match.end()) is not None
                titled = any(w.rstrip(".") in _TITLES for w in match.group(0).split()[:-1]) or bool(
                    _TITLE_BEFORE.search(sentence, 0, match.start())
                )
                person = speaker or titled or _APPOSITIVE.match(sentence, match.end()) is not None
                found.append((" ".join(words[-2:]), speaker, person))
    asked_speaker = _SPEECH.search(previous.question) is not None
    found.sort(key=lambda f: (asked_speaker and not f[1], not f[2]))  # stable: rank order within each group
    return found[0][0] if found else None


# "Which expert ...", "What analyst ...": questions whose answer is a person though no "who" says so
_ASKS_SOMEONE = re.compile(
    r"^\s*(?:and\s+|so\s+)?(?:which|what)\s+"
    r"(?:(?!(?:did|does|do|is|are|was|were|will|would|has|have|had|can|could|should|may|might)\b)[\w’'\-]+\s+){0,3}?"
    r"(?:experts?|analysts?|economists?|engineers?|scientists?|researchers?|professors?|academics?|lawyers?|"
    r"judges?|executives?|managers?|directors?|officials?|spokes(?:man|woman|person)|ministers?|leaders?|"
    r"politicians?|lawmakers?|senators?|mayors?|chiefs?|residents?|witness(?:es)?|doctors?|investors?|"
    r"bankers?|traders?|workers?|employees?|members?|representatives?|negotiators?|envoys?|diplomats?|"
    r"person|people|man|men|woman|women)\b",
    re.I,
)


def asks_for_someone(question: str) -> bool:
    """Whether the question asks which person ("Which expert said ...?"), for `condense`'s `asks_person`."""
    return _ASKS_SOMEONE.search(question) is not None


def condense(
    question: str, history: Sequence[Turn], asks_person: Callable[[str], bool] = lambda q: False
) -> str:
    """A standalone version of `question` given the earlier turns (unchanged when it is not a follow-up).

    A pronoun stands for the first name of the previous question (or of its answer when the question named
    nobody), or, when that asked "who" (`asks_person`), for the person its answer named (`answered_name`);
    the previous question's other names are added as context.
    """
    if not history or not is_followup(question):
        return question
    previous = history[-1]
    context_names = names_in(previous.question) or names_in(previous.answer)[:3]
    person = None
    if _PERSON_PRONOUN.search(question) and asks_person(previous.question):
        person = answered_name(previous)
    if person is not None:  # the answer's other names (its lede, say) are not what the question is about
        context_names = [person, *(n for n in names_in(previous.question) if n != person)]
    if not context_names:
        return f"{question} ({previous.question})"
    text = question
    if _PERSON_PRONOUN.search(text):
        text = _PERSON_PRONOUN.sub(lambda m: _replacement(m, context_names[0]), text, count=1)
    text = re.sub(r"^\s*(?:and|but|also|so|then)\s+", "", text, flags=re.I)
    missing = [n for n in context_names if n not in text]
    if missing:
        text = f"{text.rstrip('?').rstrip()} ({', '.join(dict.fromkeys(missing))})?"
    return text[0].upper() + text[1:]


_NOT_AFTER_POSSESSIVE = frozenset(
    "about to for with in on at from by of and or but that if when after before again as than".split()
)


def _replacement(match: re.Match[str], name: str) -> str:
    """`name` for the pronoun matched, possessive for "his" and for "her" before a noun ("her company")."""
    pronoun = match.group(1).lower()
    after = re.match(r"\s+([A-Za-z]+)", match.string[match.end() :])
    possessive = pronoun == "his" or (
        pronoun == "her" and after is not None and after.group(1).lower() not in _NOT_AFTER_POSSESSIVE
    )
    return f"{name}'s" if possessive else name


@dataclass(frozen=True)
class DatedQuestion:
    question: str
    since: date | None
    until: date | None


_RELATIVE = {
    "today": (0, 0),
    "yesterday": (1, 1),
    "this week": (6, 0),
    "last week": (13, 7),
    "past week": (7, 0),
    "this month": (30, 0),
    "last month": (60, 30),
}


def resolve_relative_dates(question: str, anchor: date | Callable[[], date]) -> DatedQuestion:
    """Replace a relative date phrase with the dates it means, relative to `anchor`.

    `anchor` may be a function, called only when the question holds a relative date.
    Returns the rewritten question and the inclusive date range it implies (None when it names none).
    """
    for phrase, (back_start, back_end) in _RELATIVE.items():
        pattern = re.compile(rf"\b{phrase}\b", re.I)
        if pattern.search(question):
            if callable(anchor):
                anchor = anchor()
            since = anchor - timedelta(days=back_start)
            until = anchor - timedelta(days=back_end)
            label = since.isoformat() if since == until else f"{since.isoformat()} to {until.isoformat()}"
            return DatedQuestion(
                pattern.sub(f"on {label}" if since == until else f"from {label}", question), since, until
            )
    return DatedQuestion(question, None, None)


def merge_dates(filters: Filters, dated: DatedQuestion) -> Filters:
    """Filters narrowed by the question's own date range (explicit filters win)."""
    if dated.since is None:
        return filters
    return Filters(
        sources=filters.sources,
        since=filters.since or dated.since.isoformat(),
        until=filters.until or (dated.until.isoformat() if dated.until else None),
    )
