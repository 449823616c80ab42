"""Starter questions for a corpus, made from its headlines' named entities (pure, given an analyser).

The chat window offers a few questions a newcomer can click. They must be questions a person would ask and
the articles can answer, whatever corpus is loaded, so they are built from what the headlines name: what a
person in the news said, and what happened in a place in the news. The entities come from the language
layer (spaCy); the templates are plain English.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence

from rag.language import Analysis

PERSON_TEMPLATE = "What did {} say?"
PLACE_TEMPLATE = "What happened in {}?"
PLACE_LABELS = frozenset({"GPE", "LOC", "FAC"})


def example_questions(
    headlines: Sequence[str], analyse: Callable[[str], Analysis], count: int = 4
) -> list[str]:
    """Up to `count` questions about the people and places the headlines name most often (ties: the
    earlier headline first, so pass the newest first), alternating people and places."""
    people: Counter[str] = Counter()
    places: Counter[str] = Counter()
    for headline in headlines:
        for entity in analyse(headline).entities:
            if entity.label == "PERSON" and " " in entity.text.strip():
                people[entity.text.strip()] += 1  # a full name: a surname alone reads oddly in a question
            elif entity.label in PLACE_LABELS:
                places[entity.text.strip()] += 1
    asked_people = [PERSON_TEMPLATE.format(name) for name, _ in people.most_common()]
    asked_places = [PLACE_TEMPLATE.format(name) for name, _ in places.most_common()]
    return _alternate(asked_people, asked_places)[:count]


def _alternate(first: list[str], second: list[str]) -> list[str]:
    out: list[str] = []
    for i in range(max(len(first), len(second))):
        out.extend(x[i] for x in (first, second) if i < len(x))
    return out
