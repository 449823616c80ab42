"""Answer candidates: the spans of the evidence that could answer the question, merged and ranked (pure).

A reader in the DrQA sense without a trained reader model: the evidence sentences have been analysed by the
language layer (entities, noun phrases, words); the question's `AnswerType` says what kind of span is
wanted. Every span of a fitting kind that the question does not already name is a candidate; the same
entity named in several sentences (or outlets) is one candidate carrying all their evidence numbers. Each
candidate is scored from evidence signals only:

  fit        how well its kind matches the expected one (a GPE for "which country")
  evidence   the relevance of the best evidence sentence holding it, relative to the best sentence
  coverage   the question's words around it in that sentence, each weighted by how rare it is among the
             evidence sentences and by its distance ("10,000 job cuts" next to "Microsoft", not "Amazon")
  syntax     whether it is the subject or object of a question word (its head or its child in the parse:
             "injured 28" for "how many were injured")
  agreement  how many evidence sentences hold it
  head       whether the wh-phrase's head noun stands next to it ("the automaker Tesla") or, given a
             similarity function, how close its meaning is to that noun

All in [0, 1]; the candidate score is their weighted sum (higher is better).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

from rag.answer_type import AnswerType
from rag.keyword import normalize, tokenize
from rag.language import Analysis, Span

NUMERIC = frozenset({"CARDINAL", "QUANTITY", "MONEY", "PERCENT", "ORDINAL"})
TEMPORAL = frozenset({"DATE", "TIME"})
WEIGHTS = {"fit": 0.25, "evidence": 0.20, "coverage": 0.20, "syntax": 0.10, "agreement": 0.10, "head": 0.15}
COUNTED_FLOOR = 0.3  # head link or similarity a number needs to the counted noun of "how many <noun>"
HEAD_WINDOW = 3  # words between a candidate and the head noun that still link them ("Tesla, the automaker")
DISTANCE_SCALE = 4.0  # words: a question word this far from a candidate counts half
_BOUND = frozenset({"compound", "appos", "amod", "nmod", "attr"})  # parse links that tie a noun to a name
_LEADING = re.compile(r"^(?:the|a|an|this|that|these|those|its|their|his|her|our|my|your)\s+", re.I)
# words that name nothing by themselves: a span made only of these and the question's words is no answer
_FUNCTION_WORDS = frozenset(
    "a an the of and or in on at to for by with from i me we you he him she her it they them who what which "
    "this that these those one his its their our my your".split()
)


@dataclass(frozen=True)
class Sentence:
    """An evidence sentence as the candidate stage sees it: its number, relevance score and analysis."""

    n: int
    score: float
    analysis: Analysis


@dataclass(frozen=True)
class Candidate:
    """A possible answer: `text` as written in the evidence, the evidence numbers holding it (best first),
    its entity label ("" for a plain noun phrase), its score and the features it was computed from."""

    text: str
    label: str
    evidence: tuple[int, ...]
    score: float
    features: dict[str, float] = field(default_factory=dict, compare=False)


@dataclass
class _Found:
    text: str
    label: str
    key: str
    evidence: list[int]
    features: dict[str, float]


Similarity = Callable[[str, Sequence[str]], Sequence[float]]
"""similarity(head noun, candidate texts) -> cosine similarities in [-1, 1]."""


def candidates(
    question: Analysis,
    expected: AnswerType,
    sentences: Sequence[Sentence],
    similarity: Similarity | None = None,
) -> list[Candidate]:
    """The ranked candidates of `sentences` for a question expecting `expected` (best first)."""
    if not expected.typed or not sentences:
        return []
    asked = _Asked.of(question)
    stems = [word_stems(s.analysis) for s in sentences]
    weights = rarity(asked.stems, stems)
    top = max(s.score for s in sentences) or 1.0
    found: dict[str, _Found] = {}
    for sentence, sentence_stems in zip(sentences, stems, strict=True):
        for span, label, fit, inside in _answer_spans(sentence.analysis, expected, asked):
            features = {
                "fit": fit,
                "evidence": max(0.0, sentence.score) / top,
                "coverage": coverage(inside, sentence_stems, weights),
                "syntax": syntax_link(sentence.analysis, inside, sentence_stems, asked.stems),
                "head": head_link(sentence.analysis, inside, expected.head),
            }
            _merge(found, span.text, label, sentence.n, features)
    merged = _merge_short_names(list(found.values()))
    if similarity is not None and expected.head:
        _add_similarity(merged, expected.head, similarity)
    if expected.counted:  # "how many troops": a number of something else ("three people") is no answer
        merged = [f for f in merged if f.features["head"] >= COUNTED_FLOOR]
    return sorted((_scored(f) for f in merged), key=lambda c: -c.score)


def kind_fit(question: Analysis, expected: AnswerType, analysis: Analysis) -> float:
    """How well the best span of one sentence fits the expected kind (the `fit` its best candidate would
    get, without ranking anything): evidence selection's cue that a sentence holds an answer."""
    if not expected.typed:
        return 0.0
    asked = _Asked.of(question)
    fits = [
        fit
        for _, _, fit, inside in _answer_spans(analysis, expected, asked)
        if not expected.counted or head_link(analysis, inside, expected.head) >= COUNTED_FLOOR
    ]
    return max(fits, default=0.0)


@dataclass(frozen=True)
class _Asked:
    """The question's words in the forms candidates are compared with."""

    stems: set[str]  # keyword stems ("lammi")
    words: set[str]  # plain casefolded words ("us" for "U.S.")
    word_stems: set[str]  # stems of those plain words
    people: set[str]  # words of the people the question names

    @classmethod
    def of(cls, question: Analysis) -> _Asked:
        words = set(plain_words(question.text))
        people = {w for e in question.entities if e.label == "PERSON" for w in plain_words(e.text)}
        return cls(set(tokenize(question.text)), words, set(tokenize(" ".join(words))), people)


def _answer_spans(
    analysis: Analysis, expected: AnswerType, asked: _Asked
) -> Iterator[tuple[Span, str, float, list[int]]]:
    """(span, label, fit, word indices) of the sentence's spans of a fitting kind that say something the
    question does not: not its own words, not its own people ("Emmanuel Macron" when it asks about
    "Macron")."""
    for span, label, fit in spans_of_kind(analysis, expected):
        if not _informative(span.text, asked) or (label == "PERSON" and _surname(span.text) in asked.people):
            continue
        yield span, label, fit, _word_indices(analysis, span)


def word_stems(analysis: Analysis) -> list[str]:
    """The keyword stem of each word of the analysis ("" for stopwords and punctuation)."""
    return [next(iter(tokenize(w.text)), "") for w in analysis.words]


def rarity(asked: set[str], stems: Sequence[Sequence[str]]) -> dict[str, float]:
    """Each question word's weight: log((N + 1) / (df + 0.5)) over the N evidence sentences, so a word every
    sentence holds tells candidates apart less than a word only one holds. Words no sentence holds are left
    out: they cannot tell candidates apart at all."""
    n = len(stems)
    present = [set(s) for s in stems]
    counts = {q: sum(q in p for p in present) for q in asked}
    return {q: math.log((n + 1) / (df + 0.5)) for q, df in counts.items() if df > 0}


def coverage(inside: Sequence[int], stems: Sequence[str], weights: dict[str, float]) -> float:
    """Share of the question's (rarity-weighted) words found in the sentence outside the candidate, each
    counted 1 / (1 + d / DISTANCE_SCALE) for its distance d in words from the candidate (0..1)."""
    total = sum(weights.values())
    if not inside or total <= 0:
        return 0.0
    span = set(inside)
    best: dict[str, float] = {}
    for i, stem in enumerate(stems):
        if stem in weights and i not in span:
            d = min(abs(i - j) for j in inside) - 1
            best[stem] = max(best.get(stem, 0.0), 1.0 / (1.0 + max(0, d) / DISTANCE_SCALE))
    return sum(weights[q] * v for q, v in best.items()) / total


def syntax_link(analysis: Analysis, inside: Sequence[int], stems: Sequence[str], asked: set[str]) -> float:
    """1.0 when the candidate's head word in the parse is a question word ("injured 28"), 0.8 when one of
    its own dependents outside it is ("Microsoft announced"), 0.6 when its head's head is; else 0."""
    span = set(inside)
    roots = [i for i in inside if analysis.words[i].head not in span or analysis.words[i].head == i]
    for root in roots:
        head = analysis.words[root].head
        if head != root and stems[head] in asked:
            return 1.0
    for root in roots:
        if any(w.head == root and i not in span and stems[i] in asked for i, w in enumerate(analysis.words)):
            return 0.8
    for root in roots:
        grand = analysis.words[analysis.words[root].head].head
        if stems[grand] in asked:
            return 0.6
    return 0.0


def spans_of_kind(analysis: Analysis, expected: AnswerType) -> list[tuple[Span, str, float]]:
    """(span, label, fit) for every span of the sentence that could be an answer of the expected kind.

    Entities of an expected label fit best (1.0 for the first label, 0.6 for the others); other named
    entities and proper-noun phrases fit a little when the question names labels, more when it does not;
    numbers and dates only answer number and date questions; plain noun phrases only questions whose head
    noun the table does not know.
    """
    out: list[tuple[Span, str, float]] = []
    for entity in analysis.entities:
        fit = label_fit(entity.label, expected)
        if fit <= 0 or (_modifies(analysis, entity) and entity.label not in expected.labels[:1]):
            continue  # "European" in "a European official" describes the official, it does not name one
        if expected.kind == "date" and not _names_a_time(analysis, entity):
            fit *= 0.5  # "a week", "months ago": an amount of time, not when something happened
        out.append((_extended(analysis, entity, expected), entity.label, fit))
    covered = [(e.start, e.end) for e in analysis.entities]
    for chunk in analysis.noun_chunks:
        if any(a < chunk.end and chunk.start < b for a, b in covered):
            continue
        proper = _has_proper_noun(analysis, chunk)
        fit = _phrase_fit(expected, proper)
        if fit > 0:
            out.append((_trimmed(chunk), "", fit))
    return out


def label_fit(label: str, expected: AnswerType) -> float:
    """How well an entity label answers the expected type (0 = not at all)."""
    if label in expected.labels:
        return 1.0 if label == expected.labels[0] else 0.6
    if expected.kind in ("number", "date") or label in NUMERIC or label in TEMPORAL:
        return 0.0
    return 0.15 if expected.labels else 0.7


def _phrase_fit(expected: AnswerType, proper: bool) -> float:
    if expected.kind == "entity":
        if proper:
            return 0.3 if expected.labels else 0.6
        return 0.0 if expected.labels else 0.4
    return 0.0


def _names_a_time(analysis: Analysis, span: Span) -> bool:
    """Whether a date span names a point in time: a number or a proper noun in it ("13 April", "Tuesday",
    "2023") rather than only an amount ("a week", "months ago")."""
    return any(analysis.words[i].tag in ("CD", "NNP") for i in _word_indices(analysis, span))


def _modifies(analysis: Analysis, span: Span) -> bool:
    """Whether the span is an adjectival modifier of a noun outside it ("Ukrainian" in "Ukrainian
    officials"), by the dependency of its root words."""
    inside = set(_word_indices(analysis, span))
    roots = [i for i in inside if analysis.words[i].head not in inside]
    return bool(roots) and all(analysis.words[i].dep == "amod" for i in roots)


def _has_proper_noun(analysis: Analysis, span: Span) -> bool:
    return any(w.pos == "PROPN" for w in analysis.words if span.start <= w.start < span.end)


def _trimmed(span: Span) -> Span:
    """A noun phrase without its leading determiner or possessive ("the objects" -> "objects")."""
    match = _LEADING.match(span.text)
    if match is None:
        return span
    return Span(span.text[match.end() :], span.start + match.end(), span.end, span.label)


def _extended(analysis: Analysis, entity: Span, expected: AnswerType) -> Span:
    """A number with the noun phrase it counts ("35" -> "35 people"), so the answer says what was counted."""
    if expected.kind != "number" or entity.label not in NUMERIC:
        return entity
    for chunk in analysis.noun_chunks:
        if chunk.start <= entity.start and entity.end <= chunk.end and chunk.end > entity.end:
            start = entity.start if chunk.start < entity.start else chunk.start
            text = analysis.text[start : chunk.end]
            return Span(text, start, chunk.end, entity.label)
    return entity


def plain_words(text: str) -> list[str]:
    """Casefolded words with dots inside them dropped ("U.S." -> "us"), accents stripped."""
    return re.findall(r"\w+", normalize(text).replace(".", ""))


def _informative(text: str, asked: _Asked) -> bool:
    """A span says something the question does not: a word of it that is neither the question's (compared by
    stem: "Oscar" for "the Oscars") nor a function word ("the U.S." says nothing new about "the US")."""
    return any(
        w not in asked.words and w not in _FUNCTION_WORDS and not set(tokenize(w)) <= asked.word_stems
        for w in plain_words(text)
    )


def head_link(analysis: Analysis, inside: Sequence[int], head: str) -> float:
    """How closely the head noun of the question's wh-phrase is tied to the candidate: 1.0 when it is part
    of it ("sesame seeds" for "which seed") or bound to it in the parse as a compound, modifier or apposition
    ("envoy Keith Kellogg", "Tesla, the automaker"); 0.5 when it merely stands within HEAD_WINDOW words
    ("Trump's envoy Keith Kellogg" for Trump); else 0."""
    if not head or not inside:
        return 0.0
    words = analysis.words
    span = set(inside)
    near = False
    for i, word in enumerate(words):
        if (word.lemma or word.text).lower() != head:
            continue
        if i in span or (word.head in span and word.dep in _BOUND):
            return 1.0
        if any(words[j].head == i and words[j].dep in _BOUND for j in span):
            return 1.0
        near = near or inside[0] - HEAD_WINDOW <= i <= inside[-1] + HEAD_WINDOW
    return 0.5 if near else 0.0


def _word_indices(analysis: Analysis, span: Span) -> list[int]:
    return [i for i, w in enumerate(analysis.words) if span.start <= w.start < span.end]


def _surname(name: str) -> str:
    words = plain_words(name)
    return words[-1] if words else ""


def candidate_key(text: str) -> str:
    """The form under which mentions of one candidate merge: casefolded words, no leading article or
    possessive ("The Buffalo Bills'" -> "buffalo bills")."""
    text = _LEADING.sub("", text.strip())
    text = re.sub(r"['’]s?$", "", text)
    return " ".join(re.findall(r"\w+", text.casefold()))


def _merge(found: dict[str, _Found], text: str, label: str, n: int, features: dict[str, float]) -> None:
    key = candidate_key(text)
    if not key:
        return
    current = found.get(key)
    if current is None:
        found[key] = _Found(text, label, key, [n], dict(features))
        return
    if n not in current.evidence:
        current.evidence.append(n)
    for name, value in features.items():
        current.features[name] = max(current.features.get(name, 0.0), value)
    if not current.label and label:
        current.label = label


def _merge_short_names(found: list[_Found]) -> list[_Found]:
    """A short form is the same candidate as the longer name ending in it ("Rubio" and "Marco Rubio", "Dodgers"
    and "Los Angeles Dodgers"): it joins the longest such name, which carries both evidence and features."""
    named = [f for f in found if f.label not in NUMERIC | TEMPORAL and " " in f.key]
    kept = []
    for f in found:
        longer = [p for p in named if p is not f and p.key.endswith(" " + f.key)]
        if not longer or f.label in NUMERIC | TEMPORAL:
            kept.append(f)
            continue
        target = max(longer, key=lambda p: len(p.key))
        target.evidence.extend(n for n in f.evidence if n not in target.evidence)
        for name, value in f.features.items():
            target.features[name] = max(target.features.get(name, 0.0), value)
    return kept


def _add_similarity(found: list[_Found], head: str, similarity: Similarity) -> None:
    """The head feature becomes the larger of the link and the meaning similarity to the head noun."""
    if not found:
        return
    scores = similarity(head, [f.text for f in found])
    for f, value in zip(found, scores, strict=True):
        f.features["head"] = max(f.features["head"], max(0.0, float(value)))


def _scored(found: _Found) -> Candidate:
    features = dict(found.features)
    features["agreement"] = min(1.0, (len(found.evidence) - 1) / 2)
    score = sum(WEIGHTS[name] * features.get(name, 0.0) for name in WEIGHTS)
    return Candidate(found.text, found.label, tuple(found.evidence), score, features)
