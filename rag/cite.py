"""Citations: parse `[n]` markers, attach missing ones, and verify every answer sentence (pure).

The contract: evidence items carry stable numbers into the prompt; a marker that names no evidence item is
dropped; a sentence without a marker gets the evidence that best matches it; a sentence whose names and
numbers appear in none of its cited evidence is unsupported and is removed from the answer (and reported).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rag.chunking import sentence_spans
from rag.keyword import normalize, tokenize
from rag.retrieve import named_outlets
from rag.types import Citation, Evidence

if TYPE_CHECKING:
    from rag.language import Analysis

MARKER = re.compile(r"\[\s*(\d{1,3}(?:\s*[,;]\s*\d{1,3})*)\s*\]")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_SMALL_NUMBERS = {
    w: str(i)
    for i, w in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
        "seventeen eighteen nineteen twenty".split()
    )
}
NUMBER_WORDS = frozenset(
    "one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen "
    "eighteen nineteen twenty thirty forty fifty sixty seventy eighty ninety hundred thousand million billion "
    "dozen dozens hundreds thousands millions".split()
)
ABSTENTION = re.compile(
    r"(?:articles?|evidence|context|sources?|text|passages?)\s+(?:do(?:es)?\s*n[o']t|did\s*n[o']t)\s+"
    r"(?:say|mention|contain|specify|state|include|provide|answer|report)"
    r"|\bno\s+(?:information|mention|evidence)\b|\bnot\s+(?:mentioned|specified|stated|provided|reported)\b"
    r"|\b(?:cannot|can't|unable\s+to)\s+(?:be\s+)?(?:answer|determin|find|tell)",
    re.IGNORECASE,
)


def parse_markers(text: str) -> list[int]:
    """Every cited number in order of appearance, repeats removed: "[2] x [1, 2]" -> [2, 1]."""
    seen: dict[int, None] = {}
    for match in MARKER.finditer(text):
        for part in re.split(r"[,;]", match.group(1)):
            seen.setdefault(int(part), None)
    return list(seen)


def strip_markers(text: str) -> str:
    """The text without `[n]` markers and without the spaces they leave behind."""
    text = re.sub(r"\s*" + MARKER.pattern, "", text)
    return re.sub(r"\s+([.,;:!?])", r"\1", re.sub(r"\s{2,}", " ", text)).strip()


def split_answer(text: str) -> list[str]:
    """Answer text into sentences (lines first, so bullet lists stay one item per sentence)."""
    out: list[str] = []
    for line in text.splitlines():
        line = re.sub(r"^\s*(?:[-*•]|\d+[.)])\s+", "", line).strip()
        if line:
            out.extend(line[a:b] for a, b in _answer_sentences(line))
    return out


def _answer_sentences(line: str) -> list[tuple[int, int]]:
    """Sentence spans of one answer line; a marker right after a sentence's end stays with that sentence."""
    spans = sentence_spans(line)
    merged: list[tuple[int, int]] = []
    leading = re.compile(rf"(?:\s*{MARKER.pattern})+")
    for a, b in spans:
        markers = leading.match(line, a, b)
        if merged and markers:  # "... Riyadh. [2] The talks ...": [2] belongs to the sentence before it
            merged[-1] = (merged[-1][0], markers.end())
            a = markers.end()
            while a < b and line[a].isspace():
                a += 1
            if a == b:
                continue
        merged.append((a, b))
    return merged


NAME_LABELS = frozenset(
    {"PERSON", "ORG", "GPE", "LOC", "FAC", "NORP", "PRODUCT", "EVENT", "WORK_OF_ART", "LAW"}
)


def key_terms(sentence: str, names: Iterable[str] = ()) -> set[str]:
    """The checkable claims of a sentence: the names in it (found by the caller, e.g. spaCy's entities) and
    its numbers, normalised.

    A name counts by its last word ("Marco Rubio" -> "rubio", "Mr Rubio's" -> "rubio"), so a claim and its
    evidence may differ in first names and titles but not in who is meant.
    """
    plain = strip_markers(sentence)
    terms = {_last_word(name) for name in names} - {""}
    terms.update(_NUMBER.findall(plain))
    terms.update(
        _SMALL_NUMBERS.get(w, w) for w in re.findall(r"[a-z]+", normalize(plain)) if w in NUMBER_WORDS
    )
    return terms


def _last_word(name: str) -> str:
    words = normalize(name).replace("’", "'").split()
    return words[-1].removesuffix("'s").strip("'-.,") if words else ""


def names_of(analyse: Callable[[str], Analysis] | None, text: str) -> list[str]:
    """The named entities of `text` by the language layer's `analyse` (none without one)."""
    if analyse is None or not text:
        return []
    return [e.text for e in analyse(text).entities if e.label in NAME_LABELS]


def _numbers_as_digits(text: str) -> str:
    """ "three people" -> "3 people", so a claim and its evidence may write small numbers either way."""
    return re.sub(r"[a-z]+", lambda m: _SMALL_NUMBERS.get(m.group(0), m.group(0)), text)


def covered(terms: set[str], texts: Sequence[str]) -> set[str]:
    """The terms that occur (normalised, as whole words) in at least one of `texts`."""
    haystack = " ".join(_numbers_as_digits(normalize(t).replace("’", "'")) for t in texts)
    return {t for t in terms if re.search(r"(?<!\w)" + re.escape(t) + r"(?!\w)", haystack)}


def overlap(sentence: str, evidence_text: str) -> float:
    """Share of the sentence's content words found in the evidence text (0..1; 0 for a sentence without words)."""
    words = set(tokenize(strip_markers(sentence)))
    if not words:
        return 0.0
    return len(words & set(tokenize(evidence_text))) / len(words)


def is_abstention(text: str) -> bool:
    """True when the model's draft says the evidence does not contain the answer."""
    return bool(ABSTENTION.search(text))


@dataclass(frozen=True)
class Verified:
    """An answer after verification: `text` keeps only supported sentences, each ending in its markers."""

    text: str
    cited: tuple[int, ...]
    unsupported: tuple[str, ...]


MIN_OVERLAP = 0.34
_LEADING_PUNCTUATION = " ,;:.!?-–—"


def verify(
    draft: str,
    evidence: Sequence[Evidence],
    question: str = "",
    analyse: Callable[[str], Analysis] | None = None,
) -> Verified:
    """Check each sentence of `draft` against the evidence it cites, attaching or correcting citations.

    A sentence is supported when all its names (spaCy entities, via `analyse`) and numbers occur in its cited evidence (or the question), it
    shares at least MIN_OVERLAP of its content words with that evidence, and every outlet it names published
    (or is named in) one of the sentences it cites. A sentence with no citation, or with citations that do not
    support it, is matched against every evidence item instead.
    """
    by_n = {e.n: e for e in evidence}
    outlets = list(dict.fromkeys(span.source for e in evidence for span in e.spans))
    question_terms = key_terms(question, names_of(analyse, question)) if question else set()
    kept: list[str] = []
    cited: dict[int, None] = {}
    unsupported: list[str] = []
    seen: set[str] = set()
    for sentence in split_answer(draft):
        claim = strip_markers(sentence).lstrip(_LEADING_PUNCTUATION)  # "[2],,, He said" -> "He said"
        if not re.search(r"\w", claim) or normalize(claim) in seen:
            continue  # small models loop: a repeated sentence is said once
        seen.add(normalize(claim))
        terms = key_terms(claim, names_of(analyse, claim)) - question_terms
        for outlet in _outlets_named(claim, outlets):
            terms -= key_terms(outlet, [outlet])  # an outlet is checked against who published the evidence
        marked = [n for n in parse_markers(sentence) if n in by_n]
        support = _supporting(claim, terms, [by_n[n] for n in marked])
        if not support:
            support = _supporting(claim, terms, _best_matches(claim, evidence))
        if support and not _attributed(claim, [by_n[n] for n in support], outlets):
            support = []  # "The Courier reported 14 [3]" where [3] is another outlet's sentence
        if not support:
            unsupported.append(claim)
            continue
        for n in support:
            cited.setdefault(n, None)
        kept.append(with_markers(claim, support))
    return Verified(
        text="\n".join(kept) if _is_list(draft) else " ".join(kept),
        cited=tuple(cited),
        unsupported=tuple(unsupported),
    )


def _supporting(claim: str, terms: set[str], candidates: Sequence[Evidence]) -> list[int]:
    if not candidates:
        return []
    texts = [e.text for e in candidates]
    if covered(terms, texts) != terms:
        return []
    if max(overlap(claim, t) for t in texts) < MIN_OVERLAP and not terms:
        return []
    # cite only the items that contribute: those holding a term or sharing words with the claim
    useful = [e.n for e in candidates if covered(terms, [e.text]) or overlap(claim, e.text) >= MIN_OVERLAP]
    return useful or [candidates[0].n]


def _outlets_named(claim: str, outlets: Sequence[str]) -> list[str]:
    """The outlets a claim names; its first word is not read as a one-word outlet ("Independent experts
    said" is not The Independent)."""
    return named_outlets(claim[:1].lower() + claim[1:], outlets)


def _attributed(claim: str, support: Sequence[Evidence], outlets: Sequence[str]) -> bool:
    """Whether each outlet the claim names published one of its supporting sentences or is named in one."""
    named = _outlets_named(claim, outlets)
    return all(
        any(span.source == outlet for e in support for span in e.spans)
        or named_outlets(" ".join(e.text for e in support), [outlet])
        for outlet in named
    )


def _best_matches(claim: str, evidence: Sequence[Evidence]) -> list[Evidence]:
    """Evidence items ranked by word overlap with the claim; the ones above the floor, at most three."""
    ranked = sorted(evidence, key=lambda e: -overlap(claim, e.text))
    return [e for e in ranked if overlap(claim, e.text) >= MIN_OVERLAP / 2][:3]


def with_markers(claim: str, ns: Sequence[int]) -> str:
    markers = "".join(f"[{n}]" for n in ns)
    stripped = claim.rstrip()
    if stripped and stripped[-1] in ".!?" and not stripped.endswith("..."):
        return f"{stripped[:-1]} {markers}{stripped[-1]}"
    return f"{stripped} {markers}"


def _is_list(draft: str) -> bool:
    return sum(1 for line in draft.splitlines() if re.match(r"^\s*(?:[-*•]|\d+[.)])\s+", line)) >= 2


def citations_for(ns: Sequence[int], evidence: Sequence[Evidence]) -> tuple[Citation, ...]:
    """One Citation per cited evidence number, pointing at the evidence's first (best-ranked) source span."""
    by_n = {e.n: e for e in evidence}
    out = []
    for n in ns:
        e = by_n.get(n)
        if e is None:
            continue
        span = e.primary
        out.append(
            Citation(
                n=n,
                doc_id=span.doc_id,
                title=span.title,
                source=span.source,
                published_at=span.published_at,
                chunk_id=span.chunk_id,
                quote=e.text,
                start=span.start,
                end=span.end,
            )
        )
    return tuple(sorted(out, key=lambda c: c.n))
