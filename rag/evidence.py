"""Evidence selection: the few sentences inside the retrieved passages that best answer the question.

Small CPU models answer well from a handful of sentences and badly from six whole chunks, and sentences are
what a reader wants highlighted. Steps: split passages into sentences with article spans; merge near-identical
sentences across outlets (keeping every source); score each against the question (embedding similarity plus
keyword overlap plus the passage's retrieval rank); pick a diverse few by maximal marginal relevance, with
at least one sentence from each outlet the question names.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import numpy as np

from rag.chunking import sentence_spans
from rag.keyword import tokenize
from rag.question import condense, names_in, question_parts
from rag.retrieve import Retrieved, group_near_duplicates, named_outlets
from rag.types import Evidence, Passage, SourceSpan, Turn

if TYPE_CHECKING:
    from langchain_core.embeddings import Embeddings

MIN_SENTENCE_CHARS = 25
SENTENCE_DUPLICATE_THRESHOLD = 0.7
WEIGHT_SEMANTIC = 0.65
WEIGHT_KEYWORD = 0.25
WEIGHT_RANK = 0.10
MMR_LAMBDA = 0.75
WEIGHT_ANSWER_TYPE = 0.12
NAMES_FOR_FULL_FIT = 4

_WH = re.compile(
    r"^\s*(?:and\s+|so\s+)?(?:(?:in|on|at|from|to|for|with|by|of|since|until)\s+)?"
    r"(who|whom|whose|when|where|how many|how much|what (?:date|day|year|time))\b",
    re.I,
)
_NAME_RUN = re.compile(r"\b[A-ZÀ-Þ][\w’'\-]+(?:\s+[A-ZÀ-Þ][\w’'\-]+)+")
_CAPITALISED_RUN = re.compile(r"(?<=\s)[A-ZÀ-Þ][\w’'\-]+(?:\s+[A-ZÀ-Þ][\w’'\-]+)*")
_NUMBER = re.compile(
    r"\b\d[\d,.]*\b|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty|"
    r"thirty|forty|fifty|a dozen|dozens?|scores?|hundreds?|thousands?|millions?|billions?|trillions?|"
    r"half|quarter)\b|[$€£¥]\s?\d|\d\s?%",
    re.I,
)
# "how many troops will ...", "how much new military aid did ...", "how long did the call last"
_HOW_QUANTITY = re.compile(r"\bhow (many|much|long)\b([^?.!;]*)", re.I)
_VERBISH = frozenset(
    "is are was were be been am do does did have has had will would shall should can could may might must "
    "get got remain remained exist existed".split()
)
_UNIT = r"(?:seconds?|minutes?|hours?|days?|nights?|weeks?|months?|years?|decades?)"
# "45 minutes", "two hours", "a few days", "half an hour", "a 30-day ceasefire", "an hour-long call"
_DURATION = re.compile(
    rf"\b(?:\d[\d.,]*|an?|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty|thirty|"
    rf"forty|fifty|few|several|many|couple of|half an?)\s+(?:more\s+|full\s+)?{_UNIT}\b|\b\d+[- ](?:second|minute|"
    rf"hour|day|week|month|year)s?\b|\b(?:hour|day|week|month|year)-long\b",
    re.I,
)
_DATE = re.compile(
    r"\b(?:\d{4}-\d{2}-\d{2}|(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]*\.?\s+\d{1,2}|\d{1,2}\s+"
    r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]*|Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|"
    r"Sunday|yesterday|today|last (?:week|month|year)|next (?:week|month)|\d{4})\b"
)


class SentenceReranker(Protocol):
    """Hook for a second-stage reranker: relevance of each sentence to the query, higher is better."""

    def scores(self, query: str, sentences: Sequence[str]) -> Sequence[float]: ...


@dataclass(frozen=True)
class Candidate:
    """A sentence found in one or more retrieved passages."""

    text: str
    spans: tuple[SourceSpan, ...]
    context: str
    rank_prior: float


def span_for(passage: Passage, start: int, end: int) -> SourceSpan:
    return SourceSpan(
        doc_id=passage.doc_id,
        title=passage.title,
        source=passage.source,
        published_at=passage.published_at,
        url=passage.url,
        chunk_id=passage.chunk_id,
        start=passage.start + start,
        end=passage.start + end,
    )


def candidate_sentences(retrieved: Retrieved) -> list[Candidate]:
    """Every sentence of the retrieved passages, near-duplicates merged (all their spans kept), best rank first."""
    raw: list[tuple[str, SourceSpan, str, float]] = []
    n_groups = max(1, len(retrieved.groups))
    for group_rank, group in enumerate(retrieved.groups):
        prior = 1.0 - group_rank / n_groups
        for member in group:
            passage = retrieved.passages[member]
            for start, end in sentence_spans(passage.text):
                text = passage.text[start:end]
                if len(text) >= MIN_SENTENCE_CHARS:
                    raw.append((text, span_for(passage, start, end), passage.text, prior))
    groups = group_near_duplicates([r[0] for r in raw], SENTENCE_DUPLICATE_THRESHOLD)
    candidates: list[Candidate] = []
    for members in groups:
        spans: dict[tuple[str, int], SourceSpan] = {}
        for i in members:  # overlapping chunks of one article repeat a sentence at the same place: keep one
            span = raw[i][1]
            spans.setdefault((span.doc_id, span.start), span)
        best = raw[members[0]]
        candidates.append(Candidate(best[0], tuple(spans.values()), best[2], max(raw[i][3] for i in members)))
    return candidates


# "Which Russian official ...", "In which country ...", "What city ...": the noun says what kind of fact is asked
_WHICH_NOUN = re.compile(
    r"^\s*(?:and\s+|so\s+)?(?:(?:in|at|from|to|on|for|with|by|of)\s+)?(?:which|what)\s+"
    r"(?:(?!(?:did|does|do|is|are|was|were|will|would|has|have|had|can|could|should|may|might)\b)[\w’'\-]+\s+){0,3}?"
    r"(?:(?P<person>officials?|ministers?|leaders?|presidents?|envoys?|secretary|secretaries|advis[eo]rs?|"
    r"spokes(?:man|woman|person|people)|diplomats?|politicians?|ambassadors?|chancellors?|generals?|commanders?|"
    r"person|people|journalists?|reporters?|premier|prime minister)|(?P<place>countries|country|nations?|"
    r"cit(?:y|ies)|towns?|capitals?|regions?|venues?|places?|locations?|provinces?))\b",
    re.I,
)


# "What did Lammy say about ...", "How did the minister describe ...": answered by someone's own words
_ASKS_QUOTE = re.compile(
    r"^\s*(?:and\s+|so\s+)?(?:what|how)\s+(?:did|does|do|has|have|had)\s+(?:[\w’'.\-]+\s+){1,8}?"
    r"(?:say|tell|write|post|describe|call|warn|claim|argue|add|react|respond|reply|characteri[sz]e)\b",
    re.I,
)
QUOTE_MARKS = re.compile(r"[\"“”«»]")


def answer_type(question: str) -> str:
    """What kind of fact the question asks for: "person", "number", "date", "place", "quote" (what someone
    said) or "other"."""
    match = _WH.search(question)
    if match is None:
        noun = _WHICH_NOUN.search(question)
        if noun is None:
            return "quote" if _ASKS_QUOTE.search(question) else "other"
        return "person" if noun.group("person") else "place"
    word = match.group(1).lower()
    if word in ("who", "whom", "whose"):
        return "person"
    if word.startswith("how"):
        return "number"
    if word == "where":
        return "place"
    return "date"


def answer_type_fit(kind: str, question: str, sentence: str) -> float:
    """How much the sentence holds the kind of fact asked for, beyond what the question already says (0..1).

    A "who" question is answered by names the question does not contain, a "how many" by numbers, and so on.
    """
    if kind == "other":
        return 0.0
    if kind == "quote":
        return 1.0 if QUOTE_MARKS.search(sentence) else 0.0
    if kind in ("person", "place"):
        asked = normalize_words(question)
        # people have two-word names ("Marco Rubio"); places often one ("Sumy"), so for places any run of
        # capitalised words after the sentence's first word counts
        found = _NAME_RUN.findall(sentence) if kind == "person" else _CAPITALISED_RUN.findall(sentence, 1)
        names = [n for n in found if not normalize_words(n) <= asked]
        return min(1.0, len(names) / NAMES_FOR_FULL_FIT)
    pattern = _NUMBER if kind == "number" else _DATE
    return 1.0 if pattern.search(sentence) else 0.0


def asked_quantity(question: str) -> tuple[str, str] | None:
    """For a "how many / how much / how long" question: ("count" or "duration", the counted noun or "").

    The counted noun is the last word before the verb: "troops" in "How many troops will the force include?",
    "aid" in "How much new military aid did the US pledge?", "" in "How many were injured?" (pure).
    """
    match = _HOW_QUANTITY.search(question)
    if match is None:
        return None
    if match.group(1).lower() == "long":
        return ("duration", "")
    words: list[str] = []
    for word in re.findall(r"[\w’'\-]+", match.group(2)):
        if word.lower() in _VERBISH:
            break
        words.append(word)
    else:
        # no auxiliary: the main verb follows the noun ("how many people live ..."), so the noun is the first
        # word; none when nothing follows ("how many?")
        words = words[:1]
    return ("count", words[-1] if words else "")


# Counted things that news writes in several ways: "how many rescue workers" is answered by "1,200 personnel".
_COUNTED_ALIKE = [
    frozenset(group.split())
    for group in (
        "people persons residents civilians inhabitants citizens",
        "workers employees staff personnel rescuers responders volunteers",
        "troops soldiers personnel servicemen",
        "dead deaths fatalities victims killed died",
        "injured wounded injuries casualties",
    )
]


def counted_alike(noun: str) -> set[str]:
    """Stems of `noun` and of the words news uses for the same counted thing (pure)."""
    stems = set(tokenize(noun))
    for group in _COUNTED_ALIKE:
        if noun.lower() in group:
            stems |= {t for word in group for t in tokenize(word)}
    return stems


def quantity_is_missing(question: str, sentences: Sequence[str]) -> bool:
    """Whether a "how many / much / long" question's kind of answer is absent from every sentence (pure).

    A count needs a number (or amount) that the question does not already hold, in a sentence that also
    names the counted thing ("30 countries" answers "how many countries", "killed three people" does not
    answer "how many troops"); a duration needs a unit of time. Other questions are never flagged.
    """
    asked = asked_quantity(question)
    if asked is None or not sentences:
        return False
    kind, noun = asked
    if kind == "duration":
        return not any(_DURATION.search(s) for s in sentences)
    in_question = {m.group(0).lower() for m in _NUMBER.finditer(question)}
    alike = counted_alike(noun) if noun else set()
    for sentence in sentences:
        numbers = {m.group(0).lower() for m in _NUMBER.finditer(sentence)} - in_question
        if numbers and (not alike or alike & set(tokenize(sentence))):
            return False
    return True


# "What was the name of the man found dead ...?": the thing named is the noun before any clause about it
_ASKS_NAME = re.compile(r"\bwhat(?:'s|’s|\s+(?:is|was|are|were))\s+the\s+names?\s+of\s+(?P<what>[^?]+)", re.I)
_CLAUSE_START = re.compile(
    r"\s+(?:who|whom|whose|that|which|where|when|in|at|on|of|from|with|by|after|before|during|for|to|"
    r"found|killed|injured|arrested|named|appointed|hired|elected|chosen|sent|seen|said)\b",
    re.I,
)
_PERSON_NOUNS = frozenset(
    "man men woman women boy boys girl girls child children person people victim victims adviser advisers "
    "advisor advisors official officials officer officers minister ministers spokesman spokeswoman "
    "spokesperson judge analyst expert driver pilot soldier soldiers worker workers resident residents "
    "suspect suspects witness witnesses doctor nurse teacher student mother father son daughter wife "
    "husband chief head leader director executive engineer lawyer envoy ambassador mayor".split()
)


def name_is_missing(question: str, sentences: Sequence[str]) -> bool:
    """Whether a "what is the name of X" question finds no sentence naming X (pure).

    A sentence answers when it holds X's noun and a name the question does not: a two-word name for a
    person ("the man" -> "Hans Becker"), any name for a thing ("the dam" -> "Holmbach Dam"). Other
    questions are never flagged.
    """
    match = _ASKS_NAME.search(question)
    if match is None or not sentences:
        return False
    what = _CLAUSE_START.split(match.group("what").strip(), maxsplit=1)[0]
    words = re.findall(r"[\w’'\-]+", what)
    if not words:
        return False
    noun = words[-1].casefold()
    stem = noun[:-1] if noun.endswith("s") and len(noun) > 3 else noun
    asked = normalize_words(question)
    person = noun in _PERSON_NOUNS
    for sentence in sentences:
        if not re.search(rf"\b{re.escape(stem)}", sentence, re.I):
            continue
        new = [n for n in names_in(sentence) if not normalize_words(n) <= asked]
        if any(len(n.split()) >= 2 for n in new) if person else new:
            return False
    return True


def normalize_words(text: str) -> set[str]:
    return set(re.findall(r"\w+", text.casefold()))


def keyword_overlap(question_tokens: set[str], sentence: str) -> float:
    """Share of the question's content words present in the sentence (0..1, higher is better; 0 if no words)."""
    if not question_tokens:
        return 0.0
    return len(question_tokens & set(tokenize(sentence))) / len(question_tokens)


def mmr(scores: np.ndarray, similarity: np.ndarray, k: int, lam: float = MMR_LAMBDA) -> list[int]:
    """Maximal marginal relevance: greedily pick k items balancing relevance against redundancy.

    `scores[i]` is relevance, `similarity[i, j]` redundancy between items; returns picked indices in pick order.
    """
    picked: list[int] = []
    remaining = list(range(len(scores)))
    while remaining and len(picked) < k:
        redundancy = similarity[np.ix_(remaining, picked)].max(axis=1) if picked else np.zeros(len(remaining))
        values = lam * scores[remaining] - (1 - lam) * redundancy
        best = remaining[int(np.argmax(values))]
        picked.append(best)
        remaining.remove(best)
    return picked


def cover_outlets(
    picked: list[int], outlets: Sequence[str], candidates: Sequence[Candidate], scores: np.ndarray
) -> list[int]:
    """`picked` with the best sentence of each outlet in `outlets` that has none, replacing the lowest-ranked
    picks (a question comparing two outlets needs what each of them said) (pure)."""
    picked = list(picked)
    protected: set[int] = set()
    for outlet in outlets:
        have = [i for i in picked if any(sp.source == outlet for sp in candidates[i].spans)]
        if have:
            protected.update(have[:1])
            continue
        own = [i for i in range(len(candidates)) if any(sp.source == outlet for sp in candidates[i].spans)]
        if not own:
            continue
        best = max(own, key=lambda i: scores[i])
        replaceable = [i for i in picked if i not in protected]
        if replaceable:
            picked.remove(replaceable[-1])
        picked.append(best)
        protected.add(best)
    return picked


def relevance(
    question: str, query_vector: Sequence[float], vectors: np.ndarray, texts: Sequence[str], prior: np.ndarray
) -> np.ndarray:
    """How well each sentence answers `question`: meaning (cosine to the question's vector; `vectors` are
    unit length), shared words, its passage's rank (`prior`) and whether it holds the kind of fact asked."""
    query = np.asarray(query_vector, dtype=np.float32)
    query /= np.linalg.norm(query) + 1e-12
    semantic = np.clip(vectors @ query, 0.0, 1.0)
    question_tokens = set(tokenize(question))
    lexical = np.array([keyword_overlap(question_tokens, t) for t in texts])
    kind = answer_type(question)
    fit = np.array([answer_type_fit(kind, question, t) for t in texts])
    return np.asarray(
        WEIGHT_SEMANTIC * semantic
        + WEIGHT_KEYWORD * lexical
        + WEIGHT_RANK * prior
        + WEIGHT_ANSWER_TYPE * fit,
        dtype=np.float64,
    )


class EvidenceSelector:
    """Turns retrieved passages into numbered evidence sentences for one question."""

    def __init__(self, embedder: Embeddings, reranker: SentenceReranker | None = None) -> None:
        self._embedder = embedder
        self._reranker = reranker

    def select(self, question: str, retrieved: Retrieved, k: int) -> tuple[Evidence, ...]:
        candidates = candidate_sentences(retrieved)
        if not candidates:
            return ()
        texts = [c.text for c in candidates]
        vectors = np.asarray(self._embedder.embed_documents(texts), dtype=np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True) + 1e-12
        prior = np.array([c.rank_prior for c in candidates])
        scores = relevance(question, retrieved.query_embedding, vectors, texts, prior)
        parts = question_parts(question)
        parts = [parts[0], *(condense(p, [Turn(parts[0], "")]) for p in parts[1:])]  # "how large was it?"
        if len(parts) > 1:  # "what ..., and how ...?": each part's best sentence is as good as the best
            top = float(scores.max())
            for part, part_vector in zip(parts, self._embedder.embed_documents(parts), strict=True):
                part_scores = relevance(part, part_vector, vectors, texts, prior)
                scores = np.maximum(scores, part_scores / max(float(part_scores.max()), 1e-9) * top)
        if self._reranker is not None:
            reranked = np.asarray(self._reranker.scores(question, texts), dtype=np.float32)
            scores = 0.5 * scores + 0.5 * (1.0 / (1.0 + np.exp(-reranked)))
        picked = mmr(scores, vectors @ vectors.T, k)
        outlets = named_outlets(question, [p.source for p in retrieved.passages])
        if outlets:
            picked = cover_outlets(picked, outlets, candidates, scores)
        return tuple(
            Evidence(
                n=n,
                text=candidates[i].text,
                score=float(scores[i]),
                spans=candidates[i].spans,
                context=candidates[i].context,
            )
            for n, i in enumerate(picked, start=1)
        )


class CrossEncoderReranker:
    """Optional second stage: a sentence-transformers CrossEncoder loaded from a local folder (`reranker_path`)."""

    def __init__(self, path: str) -> None:
        from sentence_transformers import CrossEncoder

        self._model = CrossEncoder(path, device="cpu", local_files_only=True)

    def scores(self, query: str, sentences: Sequence[str]) -> Sequence[float]:
        return [float(s) for s in self._model.predict([(query, s) for s in sentences])]
