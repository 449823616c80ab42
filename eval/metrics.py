"""Deterministic evaluation metrics: pure functions over strings, booleans and ranked ids.

Every score is a float in [0, 1] unless its docstring says otherwise, and higher is better unless its
docstring says otherwise. When a score is undefined for its input (no relevant document, no citation, no
unanswerable question...), the function returns `math.nan` rather than raising or inventing a value;
aggregates (`mean`) skip NaN, and the runner reports an all-NaN aggregate as undefined (null in JSON).
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

NAN = math.nan

_ARTICLES = frozenset({"a", "an", "the"})

# Function words ignored when comparing an answer sentence with a cited quote. Kept small on purpose:
# the overlap test only has to tell "this quote is about the same facts" from "this quote is unrelated".
_STOPWORD_TEXT = """
    a an the and or but nor so yet of in on at to for from by with about as into onto over under after before
    between through during without within against among up down out off than then that this these those there
    here is are was were be been being am do does did doing have has had having will would shall should can
    could may might must not no it its it's he him his she her hers they them their theirs we us our ours you
    your yours i me my mine who whom whose which what when where why how all any both each few more most other
    some such only own same too very just also s said says say according
"""
STOPWORDS = frozenset(_STOPWORD_TEXT.split())

_CITATION_MARKER = re.compile(r"\[\s*\d+(?:\s*[,;]\s*\d+)*\s*\]")
_SENTENCE_END = re.compile(r"[.!?][\"'\u201d\u2019)]*(?:\s*\[\s*\d+(?:\s*[,;]\s*\d+)*\s*\])*(?=\s+\S)")
# a period after one of these (or after a single letter, as in "U.S.") does not end a sentence
_ABBREVIATIONS = frozenset(
    ["mr", "mrs", "ms", "dr", "st", "sen", "gen", "gov", "rep", "prof", "jr", "sr", "vs"]
)


# --- normalisation -------------------------------------------------------------------------------


def normalise(text: str, drop_articles: bool = False) -> str:
    """Canonical form for comparing answers: accent-free, casefolded, punctuation-free, single-spaced.

    Accents are stripped through NFKD decomposition ("Sybíha" -> "sybiha"); every Unicode punctuation or
    symbol character (including typographic quotes and apostrophes) becomes a space, so "Zelensky's" ->
    "zelensky s" and "Jean-Noel" -> "jean noel"; runs of whitespace collapse to one space. With
    `drop_articles`, the English articles a/an/the are removed as well (SQuAD's convention for EM and F1).
    """
    decomposed = unicodedata.normalize("NFKD", text)
    no_accents = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    folded = no_accents.casefold()
    spaced = "".join(" " if unicodedata.category(ch)[0] in "PS" else ch for ch in folded)
    tokens = spaced.split()
    if drop_articles:
        tokens = [t for t in tokens if t not in _ARTICLES]
    return " ".join(tokens)


def strip_citation_markers(text: str) -> str:
    """The text without `[n]` / `[n, m]` citation markers (so "[3]" cannot count as the number 3)."""
    return " ".join(_CITATION_MARKER.sub(" ", text).split())


# --- answer correctness --------------------------------------------------------------------------


def fact_present(text: str, spellings: Sequence[str]) -> bool:
    """True when any acceptable spelling of one fact occurs in `text` as whole words, after `normalise`.

    Whole-word matching means "35" is not found in "135" and "Rubio" is found in "Rubio's". A spelling that
    normalises to nothing (e.g. "!!") never matches.
    """
    haystack = f" {normalise(text)} "
    for spelling in spellings:
        needle = normalise(spelling)
        if needle and f" {needle} " in haystack:
            return True
    return False


def fact_recall(text: str, facts: Sequence[Sequence[str]]) -> float:
    """Share of the facts present in `text` (each fact a list of acceptable spellings). Higher is better.

    Undefined (NaN) when there are no facts to look for.
    """
    if not facts:
        return NAN
    return sum(fact_present(text, fact) for fact in facts) / len(facts)


def all_facts_present(text: str, facts: Sequence[Sequence[str]]) -> bool:
    """must_include accuracy for one answer: True when every fact is present. Vacuously True with no facts."""
    return all(fact_present(text, fact) for fact in facts)


def exact_match(prediction: str, reference: str) -> float:
    """SQuAD exact match: 1.0 when both normalise (articles dropped) to the same string, else 0.0."""
    return float(normalise(prediction, drop_articles=True) == normalise(reference, drop_articles=True))


def token_f1(prediction: str, reference: str) -> float:
    """SQuAD token F1 between the normalised (articles dropped) token bags. Higher is better.

    As in SQuAD: 1.0 when both are empty, 0.0 when exactly one is empty.
    """
    pred = normalise(prediction, drop_articles=True).split()
    ref = normalise(reference, drop_articles=True).split()
    if not pred and not ref:
        return 1.0
    if not pred or not ref:
        return 0.0
    common = sum((Counter(pred) & Counter(ref)).values())
    if common == 0:
        return 0.0
    precision = common / len(pred)
    recall = common / len(ref)
    return 2 * precision * recall / (precision + recall)


def word_count(text: str) -> int:
    """Words in an answer as a reader sees them: `[n]` citation markers do not count.

    A word is a whitespace-separated token holding at least one letter or digit, so a stray "-" or "." is
    not a word. Lower is terser; the strict accuracy caps it (see `strict_correct`).
    """
    return sum(1 for token in strip_citation_markers(text).split() if any(ch.isalnum() for ch in token))


def strict_correct(text: str, facts: Sequence[Sequence[str]], max_words: int) -> bool:
    """Strict correctness of an answer: every fact present AND at most `max_words` words.

    The lenient figure (`all_facts_present`) rewards an answer that pastes whole paragraphs; this one does
    not. `max_words` must be at least 1.
    """
    if max_words < 1:
        raise ValueError(f"max_words must be at least 1, got {max_words}.")
    return word_count(text) <= max_words and all_facts_present(text, facts)


@dataclass(frozen=True)
class LengthSummary:
    """Distribution of answer lengths in words (lower is terser); NaN fields when there is no answer."""

    median: float
    p90: float
    max: float


def length_summary(word_counts: Sequence[int]) -> LengthSummary:
    """Median, 90th percentile and maximum of answer word counts."""
    values = [float(n) for n in word_counts]
    return LengthSummary(
        median=percentile(values, 50),
        p90=percentile(values, 90),
        max=max(values) if values else NAN,
    )


# --- abstention ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class AbstentionScores:
    """How well the system abstains exactly when the articles cannot answer.

    precision: of the questions it abstained on, the share that were unanswerable (higher is better;
        NaN when it never abstained).
    recall: of the unanswerable questions, the share it abstained on (higher is better; NaN when there
        is no unanswerable question).
    false_abstention_rate: of the answerable questions, the share it abstained on (LOWER is better; NaN
        when there is no answerable question).
    """

    precision: float
    recall: float
    false_abstention_rate: float


def abstention_scores(abstained: Sequence[bool], answerable: Sequence[bool]) -> AbstentionScores:
    """Abstention precision, recall and false-abstention rate over paired per-question flags."""
    if len(abstained) != len(answerable):
        raise ValueError(f"abstained has {len(abstained)} items but answerable has {len(answerable)}.")
    true_abstain = sum(1 for a, ok in zip(abstained, answerable, strict=True) if a and not ok)
    false_abstain = sum(1 for a, ok in zip(abstained, answerable, strict=True) if a and ok)
    n_abstained = true_abstain + false_abstain
    n_unanswerable = sum(1 for ok in answerable if not ok)
    n_answerable = len(answerable) - n_unanswerable
    return AbstentionScores(
        precision=true_abstain / n_abstained if n_abstained else NAN,
        recall=true_abstain / n_unanswerable if n_unanswerable else NAN,
        false_abstention_rate=false_abstain / n_answerable if n_answerable else NAN,
    )


# --- retrieval -----------------------------------------------------------------------------------


def dedupe_ranked(doc_ids: Iterable[str]) -> list[str]:
    """Ranked doc ids with repeats removed, each kept at its first (best) rank."""
    return list(dict.fromkeys(doc_ids))


def _check_k(k: int) -> None:
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}.")


def hit_at_k(ranked: Sequence[str], relevant: Iterable[str], k: int) -> float:
    """1.0 when any relevant doc is among the first k distinct ranked docs, else 0.0. Higher is better.

    `ranked` may repeat a doc (several chunks of one article); ranks count distinct docs. NaN when there
    is no relevant doc.
    """
    _check_k(k)
    gold = set(relevant)
    if not gold:
        return NAN
    return float(any(d in gold for d in dedupe_ranked(ranked)[:k]))


def recall_at_k(ranked: Sequence[str], relevant: Iterable[str], k: int) -> float:
    """Share of the relevant docs found among the first k distinct ranked docs. Higher is better.

    NaN when there is no relevant doc.
    """
    _check_k(k)
    gold = set(relevant)
    if not gold:
        return NAN
    return len(gold.intersection(dedupe_ranked(ranked)[:k])) / len(gold)


def reciprocal_rank(ranked: Sequence[str], relevant: Iterable[str]) -> float:
    """1 / rank of the first relevant doc among distinct ranked docs; 0.0 if none is retrieved.

    Averaged over questions this is MRR. Higher is better. NaN when there is no relevant doc.
    """
    gold = set(relevant)
    if not gold:
        return NAN
    for rank, doc_id in enumerate(dedupe_ranked(ranked), start=1):
        if doc_id in gold:
            return 1.0 / rank
    return 0.0


# --- citations (containment stand-in, not an entailment model) -----------------------------------


def split_sentences(text: str) -> list[str]:
    """Sentences of an answer, each keeping the `[n]` markers that follow its final punctuation.

    A sentence ends at . ! or ? (plus closing quotes and markers) followed by whitespace, except after a
    common abbreviation ("Mr.") or a single letter ("U.S.").
    """
    sentences: list[str] = []
    start = 0
    for match in _SENTENCE_END.finditer(text):
        words = text[start : match.start()].split()
        last = words[-1].rstrip(".").split(".")[-1].casefold() if words else ""
        if text[match.start()] == "." and (len(last) == 1 or last in _ABBREVIATIONS):
            continue
        sentences.append(text[start : match.end()].strip())
        start = match.end()
    sentences.append(text[start:].strip())
    return [s for s in sentences if s]


def cited_numbers(sentence: str) -> tuple[int, ...]:
    """The citation numbers a sentence carries, in order of appearance, without repeats."""
    numbers: dict[int, None] = {}
    for marker in _CITATION_MARKER.findall(sentence):
        for part in re.findall(r"\d+", marker):
            numbers.setdefault(int(part), None)
    return tuple(numbers)


def content_words(text: str) -> frozenset[str]:
    """Normalised words of `text` that are not stopwords or citation markers."""
    return frozenset(w for w in normalise(strip_citation_markers(text)).split() if w not in STOPWORDS)


def word_overlap(claim: str, quote: str) -> float:
    """Share of the claim's content words that also occur in the quote (0..1); NaN if the claim has none."""
    claim_words = content_words(claim)
    if not claim_words:
        return NAN
    return len(claim_words & content_words(quote)) / len(claim_words)


def quote_supports(
    quote: str, claim: str, facts: Sequence[Sequence[str]] = (), min_overlap: float = 0.5
) -> bool:
    """Containment stand-in for "the quote supports the claim".

    True when a gold fact occurs in both the quote and the claim, or when at least `min_overlap` of the
    claim's content words occur in the quote. It rewards copying, not meaning: a paraphrase can fail it
    and a negated quote can pass it; an NLI model would be the real check.
    """
    if any(fact_present(quote, f) and fact_present(claim, f) for f in facts):
        return True
    overlap = word_overlap(claim, quote)
    return not math.isnan(overlap) and overlap >= min_overlap


def citation_grounding(cited: Sequence[tuple[str, str]], retrieved: Sequence[tuple[str, str]]) -> float:
    """Share of citations, as (doc_id, chunk_id), that point to a retrieved passage. Higher is better.

    NaN when there is no citation.
    """
    if not cited:
        return NAN
    pool = set(retrieved)
    return sum(1 for c in cited if c in pool) / len(cited)


def citation_precision(
    answer_text: str,
    quotes: Mapping[int, str],
    facts: Sequence[Sequence[str]] = (),
    min_overlap: float = 0.5,
) -> float:
    """Containment stand-in: share of citations whose quote is supportive. Higher is better.

    `quotes` maps citation number n to the cited sentence. A citation counts as supportive when its quote
    contains at least one gold fact, or when it `quote_supports` some answer sentence that cites it.
    NaN when there is no citation.
    """
    if not quotes:
        return NAN
    sentences = split_sentences(answer_text)
    good = 0
    for n, quote in quotes.items():
        if any(fact_present(quote, f) for f in facts) or any(
            n in cited_numbers(s) and quote_supports(quote, s, (), min_overlap) for s in sentences
        ):
            good += 1
    return good / len(quotes)


def citation_recall(
    answer_text: str,
    quotes: Mapping[int, str],
    facts: Sequence[Sequence[str]] = (),
    min_overlap: float = 0.5,
) -> float:
    """Containment stand-in: share of answer sentences backed by one of their own citations. Higher is better.

    Only sentences with content words count as claims. A claim is backed when one of the `[n]` it carries
    maps to a quote that `quote_supports` it; an uncited claim is unbacked. NaN when the answer has no claim.
    """
    claims = [s for s in split_sentences(answer_text) if content_words(s)]
    if not claims:
        return NAN
    backed = sum(
        1
        for s in claims
        if any(n in quotes and quote_supports(quotes[n], s, facts, min_overlap) for n in cited_numbers(s))
    )
    return backed / len(claims)


# --- aggregation and latency ---------------------------------------------------------------------


def mean(values: Iterable[float | bool | None]) -> float:
    """Arithmetic mean ignoring None and NaN; NaN when nothing is left."""
    kept = [float(v) for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]
    return sum(kept) / len(kept) if kept else NAN


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) with linear interpolation between closest ranks; NaN for no values.

    For latencies, lower is better.
    """
    if not 0 <= q <= 100:
        raise ValueError(f"q must be between 0 and 100, got {q}.")
    ordered = sorted(values)
    if not ordered:
        return NAN
    position = (len(ordered) - 1) * q / 100
    lower = math.floor(position)
    upper = min(lower + 1, len(ordered) - 1)
    return ordered[lower] + (ordered[upper] - ordered[lower]) * (position - lower)


def latency_summary(timings: Sequence[Mapping[str, float]]) -> dict[str, dict[str, float]]:
    """Per stage (retrieve, generate, total, ...): p50, p95 and mean in milliseconds, and n samples.

    A stage missing from some questions is summarised over the questions that report it.
    """
    stages: dict[str, list[float]] = {}
    for timing in timings:
        for stage, ms in timing.items():
            stages.setdefault(stage, []).append(float(ms))
    return {
        stage: {"p50": percentile(v, 50), "p95": percentile(v, 95), "mean": mean(v), "n": float(len(v))}
        for stage, v in sorted(stages.items())
    }
