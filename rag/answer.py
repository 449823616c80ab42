"""The answer chain: question (+history) -> retrieval -> evidence -> model -> verified, cited Answer.

Stages, each yielding to the caller as soon as it is done:
  1. prepare the question (validate, rewrite follow-ups, resolve relative dates);
  2. retrieve passages and select numbered evidence sentences -> `EvidenceReady` (shown before any model runs);
  3. abstain without calling the model when the best evidence is not relevant enough, names someone the articles
     never mention, or lacks the kind of figure asked for (no number of troops for "how many troops");
  4. stream the model's draft (`Token` events) from a LangChain runnable `prompt | model`;
  5. verify the draft against the evidence (`cite.verify`) -> `Done(answer)`.
Whatever fails in 4 or 5 (no model, timeout, HTTP error, unverifiable draft) the user still gets the evidence.
"""

from __future__ import annotations

import queue
import re
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import date
from functools import lru_cache
from importlib import resources
from typing import TYPE_CHECKING, Any

from rag import cite
from rag.errors import InputError, ModelError
from rag.evidence import QUOTE_MARKS, answer_type, answer_type_fit, name_is_missing, quantity_is_missing
from rag.keyword import tokenize
from rag.question import (
    asks_for_someone,
    condense,
    merge_dates,
    name_forms,
    names_in,
    resolve_relative_dates,
    validate_question,
)
from rag.settings import Settings
from rag.types import Answer, Done, Evidence, EvidenceReady, Filters, StreamEvent, Token, Turn

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

    from rag.evidence import EvidenceSelector
    from rag.retrieve import Retriever

ABSTAIN_MESSAGE = "The articles do not say. The closest passages found are listed as sources."
UNVERIFIED_NOTICE = (
    "The model's answer could not be verified against the articles; showing the evidence instead."
)
PROMPT_MARGIN_TOKENS = 64
CARRIED_WORDS = 0.3  # share of a cited sentence's new words an answer must repeat to count as carrying it
MAX_RESTATED_EXTRA = 3  # cited sentences added to a draft that only restates the question


@lru_cache(maxsize=4)
def load_prompt(name: str) -> tuple[str, str]:
    """(system, user) templates from `rag/prompts/<name>.md`, split on the `<!-- system -->`/`<!-- user -->` marks."""
    text = resources.files("rag").joinpath("prompts", f"{name}.md").read_text(encoding="utf-8")
    match = re.search(r"<!-- system -->\s*(.*?)\s*<!-- user -->\s*(.*)", text, re.S)
    if match is None:
        raise ModelError(
            f"Prompt file rag/prompts/{name}.md lacks its <!-- system --> / <!-- user --> parts."
        )
    return match.group(1), match.group(2).rstrip() + "\n"


def fence(text: str) -> str:
    """Evidence text made safe to quote inside the prompt: no fake fences, no fake citation markers."""
    text = re.sub(r"</?\s*evidence\s*>", " ", text, flags=re.I)
    return cite.MARKER.sub(" ", text).replace("\n", " ").strip()


def format_evidence(evidence: Sequence[Evidence]) -> str:
    lines = []
    for e in evidence:
        span = e.primary
        meta = ", ".join(x for x in (span.source, span.published_at or "") if x)
        lines.append(f"[{e.n}] {fence(e.text)} ({fence(meta)})")
    return "\n".join(lines)


def unknown_names(question: str, mentioned: Callable[[str], bool]) -> list[str]:
    """Names the question asks about that the articles never mention (then they cannot answer it).

    A lone capitalised word opening the question is not taken for a name ("Apart from Ukraine, ..."); a name
    counts as mentioned when some word of it is, or every word of one of its other `name_forms` ("CEO" as
    "chief executive").
    """
    opening = re.match(r"\s*([\w’'\-]+)", question)
    first = opening.group(1) if opening else ""
    return [
        name
        for name in names_in(question)
        if name != first
        and not mentioned(name)
        and not any(all(mentioned(word) for word in form.split()) for form in name_forms(name)[1:])
    ]


def answering_evidence(question: str, evidence: Sequence[Evidence]) -> list[Evidence]:
    """The evidence that holds the kind of fact asked for (names for "who", numbers for "how many").

    A sentence without any name cannot answer "who"; when no sentence fits, all the evidence is kept.
    """
    kind = answer_type(question)
    fitting = [e for e in evidence if answer_type_fit(kind, question, e.text) > 0]
    return fitting or list(evidence)


def asked_facts(kind: str, question: str, text: str) -> set[str]:
    """The facts of the asked-for kind in `text`: names (by last word) not in the question, numbers, or
    quoted words."""
    if kind == "quote":  # a quotation, often split over sentences: any quote mark will do
        return {text.casefold()} if QUOTE_MARKS.search(text) else set()
    terms = cite.key_terms(text) - cite.key_terms(question)
    numbers = {t for t in terms if t[0].isdigit()}
    if kind in ("number", "date"):
        return numbers
    if kind in ("person", "place"):
        return terms - numbers
    return set()


def has_asked_fact(question: str, answer_text: str) -> bool:
    """Whether the answer holds a fact of the kind asked for; for questions of no particular kind, whether it
    says anything the question does not ("Jean-Noel Barrot [1]" to "which topics ... with Jean-Noel Barrot?")."""
    if not set(tokenize(cite.strip_markers(answer_text))) - set(tokenize(question)):
        return False
    kind = answer_type(question)
    return kind == "other" or bool(asked_facts(kind, question, answer_text))


def without_restatements(text: str, question: str) -> str:
    """`text` without the sentences made only of the question's words ("Brussels is checking in its review
    [1]." to "What is Brussels checking in its review?"); lines stay lines."""
    asked = set(tokenize(question))
    kept = [s for s in cite.split_answer(text) if set(tokenize(cite.strip_markers(s))) - asked]
    return ("\n" if "\n" in text.strip() else " ").join(kept)


def missing_evidence(
    question: str,
    answer_text: str,
    evidence: Sequence[Evidence],
    relative_floor: float = 0.7,
    limit: int = 3,
    cited: Sequence[int] = (),
) -> list[Evidence]:
    """Top evidence holding asked-for facts (names for "who", numbers for "how many") the answer leaves out.

    A small model often answers "who attended" with one name of five; these sentences complete the answer.
    """
    kind = answer_type(question)
    if kind == "other" or not evidence or (kind == "quote" and asked_facts(kind, question, answer_text)):
        return []  # one quotation answers "what did X say"; more would only lengthen the answer
    limit = 1 if kind == "quote" else limit
    top = max(e.score for e in evidence)
    present = cite.key_terms(answer_text)
    out = []
    for e in evidence:
        facts = asked_facts(kind, question, e.text)
        if e.n not in cited and e.score >= relative_floor * top and facts and not facts <= present:
            out.append(e)
            present |= facts
    return out[:limit]


def evidence_floor(
    question: str,
    body: str,
    body_cited: Sequence[int],
    floor: Sequence[Evidence],
    added: Sequence[Evidence] = (),
) -> list[Evidence]:
    """The sentences of the answer without a model (`floor`) that a model's answer neither carries nor adds.

    The body carries a sentence when it cites it and holds its facts of the asked kind (for a quotation, any
    quote; for a question of no particular kind, CARRIED_WORDS of the sentence's words the question lacks).
    Adding the rest means a model's answer never holds fewer of the evidence's facts than the answer without
    a model would.
    """
    kind = answer_type(question)
    present = cite.key_terms(body)
    asked, said = set(tokenize(question)), set(tokenize(cite.strip_markers(body)))
    have = {e.n for e in added}
    out = []
    for e in floor:
        if e.n in have:
            continue
        if e.n in body_cited:
            if kind == "quote":
                carried = bool(QUOTE_MARKS.search(body))
            elif kind == "other":
                new = set(tokenize(e.text)) - asked
                carried = len(new & said) >= CARRIED_WORDS * len(new)
            else:
                carried = asked_facts(kind, question, e.text) <= present
            if carried:
                continue
        out.append(e)
    return out


STRAY_OPENING = ",.;:!?-–—*• \n\t"  # punctuation a small model sometimes opens its answer with
LOOP_PROBE_CHARS = 24
LOOP_REPEATS = 3


def repetition_start(text: str) -> int | None:
    """Where a generation began repeating itself (its tail seen LOOP_REPEATS times), else None."""
    if len(text) < LOOP_PROBE_CHARS * LOOP_REPEATS:
        return None
    tail = text[-LOOP_PROBE_CHARS:]
    if text.count(tail) < LOOP_REPEATS:
        return None
    first = text.find(tail)
    return first + len(tail)


def trim_loop(text: str) -> str:
    """A looping draft reduced to its distinct items, without the unfinished item it was cut in."""
    items = re.split(r"(?<=[,.;\n])\s*", text)[:-1]
    seen: dict[str, str] = {}
    for item in items:
        seen.setdefault(re.sub(r"\W+", " ", item).strip().casefold(), item)
    return " ".join(seen.values()).rstrip(",; ")


class Answerer:
    """Runs the answer chain with the collaborators it is given (nothing is built here)."""

    def __init__(
        self,
        settings: Settings,
        retriever: Retriever,
        selector: EvidenceSelector,
        chat_model: Callable[[], BaseChatModel | None],
        model_label: str,
        count_tokens: Callable[[str], int],
        anchor_date: Callable[[], date],
        mentioned: Callable[[str], bool] = lambda name: True,
    ) -> None:
        self._settings = settings
        self._retriever = retriever
        self._selector = selector
        self._chat_model = chat_model
        self._model_label = model_label
        self._count_tokens = count_tokens
        self._anchor_date = anchor_date
        self._mentioned = mentioned

    def ask(self, question: str, history: Sequence[Turn] = (), filters: Filters | None = None) -> Answer:
        answer: Answer | None = None
        for event in self.stream(question, history, filters):
            if isinstance(event, Done):
                answer = event.answer
        if answer is None:  # the stream always ends with Done; this guards a broken invariant loudly
            raise ModelError("The answer chain ended without an answer.")
        return answer

    def stream(
        self, question: str, history: Sequence[Turn] = (), filters: Filters | None = None
    ) -> Iterator[StreamEvent]:
        s = self._settings
        t0 = time.perf_counter()
        question = validate_question(question, s.max_question_chars)
        standalone = condense(
            question, history, asks_person=lambda q: answer_type(q) == "person" or asks_for_someone(q)
        )
        dated = resolve_relative_dates(standalone, self._anchor_date)
        filters = merge_dates(filters or Filters(), dated)
        standalone = dated.question

        retrieved = self._retriever.retrieve(standalone, s.top_k, filters)
        t_retrieve = time.perf_counter()
        evidence = self._selector.select(standalone, retrieved, s.evidence_max)
        t_evidence = time.perf_counter()
        timings = {"retrieve": (t_retrieve - t0) * 1000, "evidence": (t_evidence - t_retrieve) * 1000}
        best = max((e.score for e in evidence), default=0.0)
        absent = unknown_names(standalone, self._mentioned)
        texts = [e.text for e in evidence]
        no_fact = quantity_is_missing(standalone, texts) or name_is_missing(standalone, texts)
        abstain = best < s.abstain_threshold or bool(absent) or no_fact
        yield EvidenceReady(standalone, evidence, retrieved.distinct, abstain, dict(timings))

        def done(
            text: str,
            cited: Sequence[int],
            unsupported: Sequence[str] = (),
            *,
            abstained: bool = False,
            notice: str | None = None,
            model: str = self._model_label,
        ) -> Done:
            timings["total"] = (time.perf_counter() - t0) * 1000
            timings.setdefault("generate", 0.0)
            return Done(
                Answer(
                    question=question,
                    standalone_question=standalone,
                    text=text,
                    abstained=abstained,
                    citations=cite.citations_for(cited, evidence),
                    evidence=evidence,
                    unsupported_sentences=tuple(unsupported),
                    retrieved=retrieved.distinct,
                    model=model,
                    timings_ms=timings,
                    notice=notice,
                )
            )

        if abstain:
            yield done(ABSTAIN_MESSAGE, (), abstained=True)
            return
        fallback = cite.evidence_answer(answering_evidence(standalone, evidence))
        model = self._chat_model()
        if model is None:
            yield done(fallback.text, fallback.cited, model="none")
            return

        draft_parts: list[str] = []
        t_gen = time.perf_counter()
        try:
            messages = self._messages(standalone, evidence)
            for piece in stream_with_deadline(model, messages, s.llm_timeout):
                if "first_token" not in timings:
                    timings["first_token"] = (time.perf_counter() - t0) * 1000
                draft_parts.append(piece)
                yield Token(piece)
                if repetition_start("".join(draft_parts)) is not None:
                    # a small model stuck in a loop: keep each item once, drop the cut-off last one, stop reading
                    draft_parts = [trim_loop("".join(draft_parts))]
                    break
        except ModelError as e:
            timings["generate"] = (time.perf_counter() - t_gen) * 1000
            yield done(fallback.text, fallback.cited, notice=f"{e} Showing the evidence instead.")
            return
        timings["generate"] = (time.perf_counter() - t_gen) * 1000
        draft = "".join(draft_parts).strip()
        verified = cite.verify(draft, evidence, standalone)
        if not verified.cited and cite.is_abstention(draft):
            yield done(ABSTAIN_MESSAGE, (), abstained=True)
        elif not verified.text:
            yield done(fallback.text, fallback.cited, notice=UNVERIFIED_NOTICE)
        else:
            candidates = answering_evidence(standalone, evidence)
            # a sentence that only restates the question ("Healey hosted the meeting [1]" to "where did Healey
            # host it?") says nothing, but may have cited the right sentence: it is dropped, and the cited
            # sentences holding the fact are added (or what it cited, for questions of no particular kind)
            body = without_restatements(verified.text.lstrip(STRAY_OPENING), standalone)
            body_cited = [n for n in verified.cited if n in set(cite.parse_markers(body))]
            answered = bool(body) and has_asked_fact(standalone, body)
            extra = missing_evidence(standalone, body, candidates, cited=body_cited if answered else ())
            if not answered and not extra:
                extra = [e for e in candidates if e.n in verified.cited][:MAX_RESTATED_EXTRA]
            most_relevant = max(candidates, key=lambda e: e.score)
            if most_relevant.n not in body_cited and most_relevant not in extra:
                # the model did not use the most relevant sentence: show it too, so a terse or off-target
                # draft never hides the best-supported fact
                extra.insert(0, most_relevant)
            by_n = {e.n: e for e in evidence}
            extra += evidence_floor(standalone, body, body_cited, [by_n[n] for n in fallback.cited], extra)
            text = body
            if text and extra and text.rstrip()[-1:] not in '.!?”"':
                text = text.rstrip() + "."
            text = " ".join([t for t in [text] if t] + [cite.with_markers(e.text, [e.n]) for e in extra])
            yield done(text, list(dict.fromkeys([*body_cited, *(e.n for e in extra)])), verified.unsupported)

    def _messages(self, question: str, evidence: Sequence[Evidence]) -> list[Any]:
        """The prompt, with evidence trimmed from the least relevant end to fit the model's context window."""
        from langchain_core.messages import HumanMessage, SystemMessage

        system, user = load_prompt("answer")
        budget = self._settings.context_window - self._settings.max_answer_tokens - PROMPT_MARGIN_TOKENS
        kept = list(evidence)
        while True:
            rendered = user.format(question=question, evidence=format_evidence(kept))
            used = self._count_tokens(system) + self._count_tokens(rendered)
            if used <= budget or len(kept) <= 1:
                break
            kept.pop()
        if used > budget:
            raise InputError(
                f"The question and the top evidence need {used} tokens but the model's context allows {budget}. "
                "Ask a shorter question or raise context_window."
            )
        return [SystemMessage(system), HumanMessage(rendered)]


def stream_with_deadline(model: BaseChatModel, messages: list[Any], timeout: float) -> Iterator[str]:
    """Text pieces of the model's reply; ModelError if it fails or the whole reply takes longer than `timeout`.

    The model runs in a worker thread so a hung connection cannot hang the caller; when the caller stops
    early (e.g. the user pressed Stop) the worker is told to stop reading.
    """
    from rag.models import classify_model_error

    events: queue.Queue[tuple[str, Any]] = queue.Queue()
    stop = threading.Event()

    def worker() -> None:
        try:
            for chunk in model.stream(messages):
                if stop.is_set():
                    return
                text = chunk.content if isinstance(chunk.content, str) else ""
                if text:
                    events.put(("text", text))
            events.put(("end", None))
        except Exception as e:  # any backend failure becomes a message for the user
            events.put(("error", e))

    threading.Thread(target=worker, name="rag-generate", daemon=True).start()
    deadline = time.monotonic() + timeout
    try:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise ModelError(f"The model did not finish within {timeout:g} s.")
            try:
                kind, value = events.get(timeout=remaining)
            except queue.Empty:
                continue
            if kind == "end":
                return
            if kind == "error":
                raise ModelError(classify_model_error(value)) from value
            yield value
    finally:
        stop.set()
