"""Short cited answers built from evidence (pure): chosen spans, quotations, answering clauses.

Whatever produced the choice (a candidate ranking, a model under a grammar), the answer's words come from the
evidence: a span as the article wrote it, the words inside a quotation, or a clause of one sentence. Every
piece carries the `[n]` of the sentence it was taken from, so every name and number of such an answer occurs
in its cited sentence by construction.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from rag.candidates import Candidate
from rag.cite import with_markers
from rag.keyword import tokenize
from rag.types import Evidence

MAX_CLAUSE_WORDS = 30
MIN_QUOTE_WORDS = 2
_EDGE = " \t\n'\"“”‘’«»()[],;:"
_QUOTED = re.compile(r"[\"“«]([^\"“”«»]{3,}?)[\"”»]|(?<!\w)[‘']([^‘’']{3,}?)[’'](?!\w)")
_CLAUSE_BREAK = re.compile(r"(?<=[,;:–—])\s+|\s+(?=[–—]\s)")


def clean_span(text: str) -> str:
    """A span without stray quotes, brackets or punctuation at its edges ("'How the Grinch" -> "How the
    Grinch"); a trailing possessive ("Jalen Hurts'") goes too."""
    text = text.strip(_EDGE)
    return re.sub(r"(?:['’]s?)$", "", text).strip(_EDGE) or text


def join_names(names: Sequence[str]) -> str:
    """ "A", "A and B", "A, B and C"."""
    if len(names) <= 2:
        return " and ".join(names)
    return f"{', '.join(names[:-1])} and {names[-1]}"


def render_spans(chosen: Sequence[Candidate]) -> tuple[str, tuple[int, ...]]:
    """The answer naming `chosen` in order, grouped by the evidence sentence each is cited to: "Marco Rubio
    and Steve Witkoff [1], David Lammy [2]." Returns (text, cited evidence numbers)."""
    groups: dict[int, list[str]] = {}
    for candidate in chosen:
        name = clean_span(candidate.text)
        if name and name.casefold() not in {n.casefold() for g in groups.values() for n in g}:
            groups.setdefault(candidate.evidence[0], []).append(name)
    parts = [f"{join_names(names)} [{n}]" for n, names in groups.items()]
    if not parts:
        return "", ()
    text = parts[0] if len(parts) == 1 else f"{', '.join(parts[:-1])} and {parts[-1]}"
    return text[0].upper() + text[1:] + ".", tuple(groups)


def quotations(text: str) -> list[str]:
    """The quoted passages of a sentence, in order (straight, curly and angle quotes; single quotes only
    when they are not apostrophes)."""
    found = []
    for match in _QUOTED.finditer(text):
        quoted = (match.group(1) or match.group(2) or "").strip()
        if len(quoted.split()) >= MIN_QUOTE_WORDS:
            found.append(quoted)
    return found


def quote_answer(
    evidence: Sequence[Evidence], max_words: int = MAX_CLAUSE_WORDS
) -> tuple[str, tuple[int, ...]]:
    """Someone's words as the answer: the quotation(s) of the first (most relevant) evidence sentence that
    holds one, cut to `max_words`. ("", ()) when no sentence quotes anyone."""
    for e in evidence:
        quoted = quotations(e.text)
        if quoted:
            words = " … ".join(quoted).split()
            text = " ".join(words[:max_words]) + ("…" if len(words) > max_words else "")
            return f"“{text.strip(_EDGE)}” [{e.n}].", (e.n,)
    return "", ()


def answering_clause(sentence: str, question: str, max_words: int = MAX_CLAUSE_WORDS) -> str:
    """The part of `sentence` that answers `question`: the sentence itself when it is short enough, else the
    run of its clauses (split at commas, semicolons, colons and dashes) of at most `max_words` words that
    holds most of the question's words; a clause that is still too long is cut, with an ellipsis."""
    sentence = sentence.strip()
    if len(sentence.split()) <= max_words:
        return sentence
    clauses = [c for c in _CLAUSE_BREAK.split(sentence) if c.strip()]
    asked = set(tokenize(question))
    best, best_hits = clauses[0], -1
    for i in range(len(clauses)):
        for j in range(i + 1, len(clauses) + 1):
            text = " ".join(clauses[i:j])
            if len(text.split()) > max_words:
                break
            hits = len(asked & set(tokenize(text)))
            if hits > best_hits:
                best, best_hits = text, hits
    words = best.split()
    if len(words) > max_words:
        return " ".join(words[:max_words]).rstrip(_EDGE) + "…"
    return best.strip().rstrip(",;:–—").strip()


def clause_answer(evidence: Evidence, question: str) -> tuple[str, tuple[int, ...]]:
    """One evidence sentence's answering clause, cited to it."""
    clause = answering_clause(evidence.text, question)
    return with_markers(clause, [evidence.n]), (evidence.n,)
