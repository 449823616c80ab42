"""The model chooses, it does not write: options, grammar and parsing for a constrained choice (pure).

A small model reads the question, a few numbered evidence sentences and the candidate answers, and its output
is constrained by a llama.cpp grammar (GBNF) to one of the candidates' own words or NONE. Copying an option
is closer to what a language model does well than naming an option's number, and the answer is then
rendered from the chosen candidate's span with its citation (`rag.short_answer.render_spans`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from rag.candidates import Candidate
from rag.short_answer import clean_span
from rag.types import Evidence

NONE = "NONE"
MAX_PICKS = 3  # options a list question ("which countries ...") may take
MAX_CHOICE_SENTENCES = 3  # evidence sentences the model reads: prompt reading dominates CPU latency


def best_fitting(ranked: Sequence[Candidate], count: int) -> list[Candidate]:
    """The `count` best candidates the model chooses among: those of the most wanted kind (fit 1.0) first,
    in rank order, so a high-ranked span of another kind (an organisation for "who") is offered only when
    too few of the wanted kind are there."""
    wanted = [c for c in ranked if c.features.get("fit", 0.0) >= 1.0]
    others = [c for c in ranked if c.features.get("fit", 0.0) < 1.0]
    return (wanted + others)[:count] if len(wanted) >= 2 else list(ranked[:count])


def options_for(candidates: Sequence[Candidate]) -> list[str]:
    """The distinct, cleaned texts of the candidates, in rank order (one option per candidate)."""
    seen: dict[str, str] = {}
    for c in candidates:
        text = clean_span(c.text)
        seen.setdefault(text.casefold(), text)
    return list(seen.values())


def literal(text: str) -> str:
    """A GBNF string literal for `text` (JSON string escaping is valid GBNF)."""
    return json.dumps(text, ensure_ascii=False)


def grammar(options: Sequence[str], several: bool = False) -> str:
    """GBNF that admits exactly one option (or up to MAX_PICKS separated by "; " when `several`) or NONE."""
    items = " | ".join(literal(o) for o in options)
    lines = [f"item ::= {items}"]
    if several:
        picks = " | ".join(' "; " '.join(["item"] * n) for n in range(1, MAX_PICKS + 1))
        lines.insert(0, f"root ::= {picks} | {literal(NONE)}")
    else:
        lines.insert(0, f"root ::= item | {literal(NONE)}")
    return "\n".join(lines)


def parse_choice(output: str, options: Sequence[str]) -> list[int] | None:
    """The indices of the options the model chose, in order; None when it said NONE. An output that is not
    made of options (a backend that ignored the grammar) gives [] so the caller can fall back."""
    text = output.strip()
    if text.upper() == NONE:
        return None
    index = {o: i for i, o in enumerate(options)}
    picks = [p.strip() for p in text.split(";")]
    if not all(p in index for p in picks):
        return []
    return list(dict.fromkeys(index[p] for p in picks))


def choice_evidence(
    candidates: Sequence[Candidate], evidence: Sequence[Evidence], limit: int = MAX_CHOICE_SENTENCES
) -> list[Evidence]:
    """The evidence the model reads: each candidate's best sentence, in candidate order, at most `limit`."""
    by_n = {e.n: e for e in evidence}
    numbers: list[int] = []
    for c in candidates:
        n = c.evidence[0]
        if n in by_n and n not in numbers:
            numbers.append(n)
    return [by_n[n] for n in numbers[:limit]]
