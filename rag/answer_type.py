"""What kind of answer a question expects, read from its parse (pure).

The wh-phrase and its head noun say what is asked: "who" a person, "which country" a place, "how many
people" a number of people, "what did X say" someone's words. The answer is then looked for among the
spans of that kind in the evidence (`rag.candidates`). Quiz-style questions put the wh-phrase anywhere
("Huge crowds lined the streets of which country ...?"), so it is found by its part-of-speech tag, not by
position.

The only language knowledge here is the table below: general English nouns grouped by the spaCy entity
labels they call for. It is deliberately small and is not extended to fix single questions; a head noun
that is not in it expects a named entity or noun phrase of any kind, and candidate ranking (evidence,
agreement, similarity to the head noun) decides.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from rag.language import Analysis, Word

PEOPLE = ("PERSON", "ORG", "NORP")
PLACES = ("GPE", "LOC", "FAC")
DATES = ("DATE", "TIME")
COUNTS = ("CARDINAL", "QUANTITY", "MONEY", "PERCENT")
AMOUNTS = ("MONEY", "QUANTITY", "PERCENT", "CARDINAL")
MEASURES = ("QUANTITY", "CARDINAL", "PERCENT", "MONEY")
DURATIONS = ("DATE", "TIME", "QUANTITY")

# General English head nouns -> the entity labels that answer "which/what <noun>". Singular forms; plurals
# are matched through the lemma. One table, written once from the label definitions of spaCy's English
# NER scheme (OntoNotes), not from any gold question.
_HEAD_TABLE: dict[tuple[str, ...], str] = {
    (
        "PERSON",
    ): "person people man woman boy girl child someone individual official leader minister president "
    "politician lawmaker senator governor mayor judge lawyer actor actress singer artist author writer player "
    "athlete coach star celebrity executive founder scientist expert doctor journalist candidate "
    "spokesperson spokesman spokeswoman victim suspect husband wife son daughter father mother king queen "
    "prince princess director manager chief head envoy ambassador diplomat commander general",
    ("ORG",): "company firm business corporation team club organization organisation agency group union "
    "network broadcaster airline carrier automaker carmaker bank retailer brand university college school "
    "institution government court ministry department newspaper outlet publisher startup league party "
    "charity manufacturer",
    ("GPE", "LOC"): "country nation state city town village capital county province territory",
    ("LOC", "GPE"): "region area island continent river sea ocean lake mountain",
    ("FAC", "GPE", "ORG"): "building airport stadium bridge venue arena hospital prison museum",
    (
        "WORK_OF_ART",
    ): "film movie book novel song album show series play painting musical documentary episode",
    ("EVENT",): "event storm hurricane cyclone war battle tournament championship festival",
    ("LAW",): "law bill act policy treaty agreement framework regulation",
    ("PRODUCT",): "product vehicle car device phone drug vaccine weapon aircraft plane ship",
    ("NORP",): "nationality religion",
    ("LANGUAGE",): "language",
    DATES: "day date year month week decade century season",
    ("TIME", "DATE"): "time hour",
    ("MONEY", "CARDINAL"): "price cost fine salary budget fee sum value",
    MEASURES: "number population magnitude total count size height distance weight amount score",
    ("PERCENT", "CARDINAL"): "percentage rate share",
    ("DATE", "CARDINAL"): "age",
}
HEAD_LABELS: dict[str, tuple[str, ...]] = {
    noun: labels for labels, nouns in _HEAD_TABLE.items() for noun in nouns.split()
}
# "how <adjective>": how many/much count, how long/old take durations, the rest measure
_HOW_LABELS = {"many": COUNTS, "much": AMOUNTS, "long": DURATIONS, "old": ("DATE", "CARDINAL")}
_WH_LABELS = {"who": PEOPLE, "whom": PEOPLE, "whose": PEOPLE, "where": PLACES, "when": DATES}
# "what did X say / how did X describe ...": the answer is the speaker's own words
SPEECH_VERBS = frozenset(
    "say tell describe call warn claim argue add react respond reply comment announce write post".split()
)
NOUN_TAGS = frozenset({"NN", "NNS", "NNP", "NNPS"})
KINDS = ("entity", "number", "date", "quote", "thing", "description")


@dataclass(frozen=True)
class AnswerType:
    """The kind of answer a question expects.

    `kind`: "entity" (a name of the expected labels), "number", "date", "quote" (someone's words), "thing"
    (a noun phrase: "what do officials believe the objects were?") or "description" (why / how / what
    happened: no span answers it). `labels` are spaCy entity labels, most wanted first (empty: any).
    `head` is the wh-phrase's head noun ("team", "people" in "how many people"), "" when there is none;
    `plural` says whether it may ask for several ("which countries", a bare "who"); "how many" asks for one
    number. `counted`: "how many/much <noun>" asks for a number of that noun, so `head` is what is counted.
    """

    kind: str
    labels: tuple[str, ...] = ()
    head: str = ""
    plural: bool = False
    counted: bool = False

    @property
    def typed(self) -> bool:
        """Whether a span of the evidence (an entity, number or date) can be the answer. A "thing" is asked
        for by a description too loose for one noun phrase to carry it ("what must Russia agree to?"): it is
        answered like a description, with the clause of the evidence that holds it."""
        return self.kind in ("entity", "number", "date")


def expected_answer(question: Analysis) -> AnswerType:
    """The AnswerType of a question, from the first wh-word of its parse (`Language` with "syntax").

    A question without a wh-word ("... has been the most populous nation since:") asks for a span of any
    kind.
    """
    words = question.words
    for i, word in enumerate(words):
        lower = word.text.lower()
        if lower == "whose":
            return AnswerType("entity", PEOPLE)
        if word.tag in ("WDT", "WP") and lower in ("which", "what") and _noun_after(words, i) is not None:
            return _headed(words, _wh_head(words, i))
        if lower == "why" and word.tag == "WRB":
            return AnswerType("description")
        if lower == "how" and i + 1 < len(words):
            return _how(words, i)
        if lower in ("who", "whom") and word.tag == "WP":
            return _who(words, i)
        if lower in _WH_LABELS and word.tag in ("WP", "WRB"):
            labels = _WH_LABELS[lower]
            return AnswerType("date" if labels == DATES else "entity", labels)
        if lower == "what" and word.tag == "WP":
            return _what(words, i)
    return AnswerType("thing")


NEAREST_FLOOR = 0.55  # cosine similarity a head noun needs to borrow the labels of a table noun


def with_nearest_labels(
    expected: AnswerType, similarity: Callable[[str, Sequence[str]], Sequence[float]]
) -> AnswerType:
    """An entity question whose head noun the table lacks ("which dancer") takes the labels of the table noun
    nearest in meaning ("singer": PERSON), when one is near enough; otherwise it is unchanged."""
    if expected.kind != "entity" or not expected.head or expected.labels:
        return expected
    nouns = [n for n, labels in HEAD_LABELS.items() if labels[0] not in DATES + MEASURES]  # names only
    scores = similarity(expected.head, nouns)
    best = max(range(len(nouns)), key=lambda i: scores[i])
    if scores[best] < NEAREST_FLOOR:
        return expected
    return _typed(HEAD_LABELS[nouns[best]], expected.head, expected.plural)


def _wh_head(words: tuple[Word, ...], i: int) -> int:
    """The noun a "which/what" determines: its syntactic head when the parser attached it to a noun
    ("which US special envoy" -> envoy), else the noun found by `_noun_after`."""
    head = words[i].head
    if words[i].dep == "det" and head > i and words[head].tag in NOUN_TAGS:
        return head
    return _noun_after(words, i) or i


def _noun_after(words: tuple[Word, ...], i: int) -> int | None:
    """The head noun of "which/what [adjectives, numbers, compounds] noun": the last noun of the first run of
    nouns within four words."""
    j = i + 1
    while j < len(words) and j <= i + 4 and words[j].tag not in NOUN_TAGS:
        if words[j].tag not in ("JJ", "JJS", "JJR", "CD", "RB", "HYPH", "VBN", "DT", "PRP$"):
            return None
        j += 1
    if j >= len(words) or words[j].tag not in NOUN_TAGS:
        return None
    while j + 1 < len(words) and words[j + 1].tag in NOUN_TAGS:
        j += 1
    return j


def _headed(words: tuple[Word, ...], head: int) -> AnswerType:
    noun = words[head]
    lemma = _lemma(noun)
    if lemma == "name" and head + 2 < len(words) and words[head + 1].text.lower() == "of":
        of = _noun_after(words, head + 1)
        if of is not None:
            return _headed(words, of)
    return _typed(HEAD_LABELS.get(lemma, ()), lemma, noun.tag in ("NNS", "NNPS"))


def _typed(labels: tuple[str, ...], head: str, plural: bool) -> AnswerType:
    kind = "entity"
    if labels and labels[0] in DATES:
        kind = "date"
    elif labels and labels[0] in MEASURES:
        return AnswerType("number", labels, head, plural, counted=True)  # "the population": what is measured
    return AnswerType(kind, labels, head, plural)


def _who(words: tuple[Word, ...], i: int) -> AnswerType:
    """ "Who is/was the X ...?" names the person by X, which then helps find them ("Ukraine's foreign
    minister" -> "Foreign Minister Andriy Sybiga"). A bare "who" may be answered by several people ("who
    attended?"), so it is plural: the ranking decides how many score close enough to be named."""
    after = i + 1
    if after < len(words) and _lemma(words[after]) == "be":
        noun = _noun_after(words, after)
        if noun is not None and words[noun].tag in ("NN", "NNS"):
            return AnswerType("entity", PEOPLE, _lemma(words[noun]), words[noun].tag == "NNS")
    return AnswerType("entity", PEOPLE, plural=True)


def _how(words: tuple[Word, ...], i: int) -> AnswerType:
    adverb = words[i + 1].text.lower()
    if adverb in ("many", "much"):
        counted = _noun_after(words, i + 1)
        head = _lemma(words[counted]) if counted is not None else ""
        return AnswerType("number", _HOW_LABELS[adverb], head, counted=bool(head))
    if words[i + 1].tag in ("JJ", "RB"):
        kind = "date" if adverb in ("long", "old") else "number"
        return AnswerType(kind, _HOW_LABELS.get(adverb, MEASURES), adverb)
    return _speech_or_description(words, i)


def _what(words: tuple[Word, ...], i: int) -> AnswerType:
    """ "What" as a pronoun: "what is the X of Y" asks for X; "what did X say" for words; "what is it
    called" for a name; "what happened" or "what did X do" for a description; otherwise a thing ("what did
    the agency ban?")."""
    after = i + 1
    if after < len(words) and _lemma(words[after]) == "be":
        subject = _noun_after(words, after)
        if subject is not None:
            return _headed(words, subject)
    verb = _governing_verb(words, i)
    lemma = _lemma(verb) if verb is not None else ""
    if lemma in ("call", "name") and verb is not None and verb.tag == "VBN":
        return AnswerType("entity")
    if lemma in SPEECH_VERBS:
        return AnswerType("quote")
    if lemma in ("happen", "do"):
        return AnswerType("description")
    return AnswerType("thing")


def _governing_verb(words: tuple[Word, ...], i: int) -> Word | None:
    """The verb the wh-word depends on (following heads up to the first verb), or None."""
    j, seen = i, set()
    while j not in seen:
        seen.add(j)
        if words[j].pos in ("VERB", "AUX") and j != i:
            return words[j]
        j = words[j].head
    return None


def _speech_or_description(words: tuple[Word, ...], i: int) -> AnswerType:
    verb = _governing_verb(words, i)
    if verb is not None and _lemma(verb) in SPEECH_VERBS:
        return AnswerType("quote")
    return AnswerType("description")


def _lemma(word: Word) -> str:
    """The word's lemma when the analysis has one, else its lower-cased text."""
    return (word.lemma or word.text).lower()
