"""The answer chain: question -> evidence -> candidates -> a short, cited Answer (or an honest abstention).

Stages, each yielding to the caller as soon as it is done:
  1. prepare the question (validate, rewrite follow-ups, read its dates as of a day: rag.dates);
  2. retrieve passages, select numbered evidence sentences, analyse them with the language layer and rank
     the answer candidates of the kind the question expects -> `EvidenceReady` (shown before any model runs);
  3. abstain when the evidence is not relevant enough, the question names something no article mentions, or
     no candidate of the expected kind stands in relevant evidence;
  4. answer, by the answer mode:
       choose  typed questions (who, which X, how many, when ...): the model picks among the top candidates
               under a grammar (or NONE), or without a model the top candidate is the answer; quotations
               answer "what did X say"; other questions get one short model sentence (verified) or the best
               sentence's answering clause;
       write   a capable model writes at most two cited sentences; unsupported ones are removed, nothing is
               appended;
  5. `Done(answer)`. Whatever fails in 4 (no model, timeout, HTTP error, unverifiable draft) the user still
     gets an answer built from the evidence, and the evidence itself.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property, lru_cache
from importlib import resources
from typing import TYPE_CHECKING, Any

from rag import choose, cite, short_answer
from rag.answer_type import AnswerType, expected_answer, with_nearest_labels
from rag.candidates import Candidate, Sentence, Similarity, candidates, kind_fit
from rag.dates import date_context, preferred_range, retrieval_filters
from rag.errors import InputError, ModelError
from rag.generation import complete_with_deadline, stream_with_deadline
from rag.question import condense, validate_question
from rag.settings import Settings
from rag.types import Answer, Done, Evidence, EvidenceReady, Filters, Passage, StreamEvent, Token, Turn

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

    from rag.evidence import EvidenceSelector
    from rag.language import Analysis, Language
    from rag.retrieve import Retriever
    from rag.types import DateContext

ABSTAIN_MESSAGE = "The articles do not say."
UNVERIFIED_NOTICE = (
    "The model's answer could not be verified against the articles; answering from the evidence."
)
PROMPT_MARGIN_TOKENS = 64
DESCRIBE_MAX_WORDS = 30  # a model's one-sentence answer to a why / how / what-happened question
WRITE_MAX_SENTENCES = 2
WRITE_MAX_WORDS = 50
PLURAL_SHARE = 0.85  # a list question also names the candidates scoring at least this share of the best
MAX_LISTED = 5
NAMED_LABELS = frozenset(
    {"PERSON", "ORG", "GPE", "LOC", "FAC", "NORP", "PRODUCT", "EVENT", "WORK_OF_ART", "LAW", "LANGUAGE"}
)


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


def answer_mode(settings: Settings) -> str:
    """ "choose" or "write": `answer_mode`, or for "auto" by backend: a hosted model, Ollama or the user's own
    GGUF writes; the small bundled models (and no model) choose."""
    if settings.answer_mode != "auto":
        return settings.answer_mode
    if settings.llm in ("openai", "ollama") or (settings.llm == "local" and settings.local_model_path):
        return "write"
    return "choose"


def unknown_entities(question: Analysis, mentioned: Callable[[str], bool]) -> list[str]:
    """The named entities of the question (spaCy NER) that no article mentions: then no article answers it."""
    return [e.text for e in question.entities if e.label in NAMED_LABELS and not mentioned(e.text)]


def listed(ranked: Sequence[Candidate], expected: AnswerType) -> list[Candidate]:
    """The answer without a model: the best candidate, and for a list question ("which countries") the others
    of its kind that score nearly as well."""
    if not ranked:
        return []
    best = ranked[0]
    if not expected.plural:
        return [best]
    close = [c for c in ranked[1:] if c.score >= PLURAL_SHARE * best.score and c.label == best.label]
    return [best, *close][:MAX_LISTED]


@dataclass
class Found:
    """What retrieval and analysis found for one question (the input of abstention and answering)."""

    standalone: str
    retrieved: tuple[Passage, ...]
    evidence: tuple[Evidence, ...]
    question: Analysis
    expected: AnswerType
    ranked: list[Candidate]
    timings: dict[str, float] = field(default_factory=dict)
    dates: DateContext | None = None

    @cached_property
    def quote(self) -> tuple[str, tuple[int, ...]]:
        """The quotation answer of the evidence ("" when no sentence quotes anyone)."""
        return short_answer.quote_answer(self.evidence)


@dataclass(frozen=True)
class Drafted:
    """An answer body and the evidence numbers it cites; `notice` explains a fallback; `model` says who
    answered ("none" when the evidence alone did); `abstained` when the model said nothing answers."""

    text: str
    cited: tuple[int, ...]
    model: str
    notice: str | None = None
    unsupported: tuple[str, ...] = ()
    abstained: bool = False


class Answerer:
    """Runs the answer chain with the collaborators it is given (nothing is built here)."""

    def __init__(
        self,
        settings: Settings,
        retriever: Retriever,
        selector: EvidenceSelector,
        language: Language,
        chat_model: Callable[[], BaseChatModel | None],
        model_label: str,
        count_tokens: Callable[[str], int],
        newest_date: Callable[[], date | None],
        mentioned: Callable[[str], bool] = lambda name: True,
        similarity: Similarity | None = None,
        today: Callable[[], date] = date.today,
    ) -> None:
        self._settings = settings
        self._retriever = retriever
        self._selector = selector
        self._language = language
        self._chat_model = chat_model
        self._model_label = model_label
        self._count_tokens = count_tokens
        self._newest_date = newest_date
        self._today = today
        self._mentioned = mentioned
        self._similarity = similarity

    def ask(
        self,
        question: str,
        history: Sequence[Turn] = (),
        filters: Filters | None = None,
        as_of: date | None = None,
    ) -> Answer:
        answer: Answer | None = None
        for event in self.stream(question, history, filters, as_of):
            if isinstance(event, Done):
                answer = event.answer
        if answer is None:  # the stream always ends with Done; this guards a broken invariant loudly
            raise ModelError("The answer chain ended without an answer.")
        return answer

    def stream(
        self,
        question: str,
        history: Sequence[Turn] = (),
        filters: Filters | None = None,
        as_of: date | None = None,
    ) -> Iterator[StreamEvent]:
        """`as_of`: read the question as if asked that day (its dates resolve against it, later articles are
        not used); None reads it as of today, or of the newest article when the archive ends before today."""
        t0 = time.perf_counter()
        question = validate_question(question, self._settings.max_question_chars)
        found = self.find(question, history, filters, as_of)
        abstain = self.abstention(found) is not None
        yield EvidenceReady(found.standalone, found.evidence, found.retrieved, abstain, dict(found.timings))
        if abstain:
            drafted = Drafted(ABSTAIN_MESSAGE, (), "none", abstained=True)
        else:
            drafted = yield from self._draft(found, t0)
        found.timings["total"] = (time.perf_counter() - t0) * 1000
        found.timings.setdefault("generate", 0.0)
        yield Done(self._answer(question, found, drafted))

    # --- 1-2: the question, its evidence and candidates ----------------------------------------------------
    def find(
        self, question: str, history: Sequence[Turn], filters: Filters | None, as_of: date | None = None
    ) -> Found:
        """Retrieve, select evidence and rank candidates for a validated question."""
        s = self._settings
        t0 = time.perf_counter()
        standalone = condense(question, history, self._language.analyse)
        analysed = self._language.analyse(standalone)
        dates = date_context(analysed, as_of, self._newest_date, self._today())
        filters = retrieval_filters(dates, filters)
        retrieved = self._retriever.retrieve(standalone, s.top_k, filters, prefer=preferred_range(dates))
        t_retrieve = time.perf_counter()
        expected = expected_answer(analysed)
        if self._similarity is not None:
            expected = with_nearest_labels(expected, self._similarity)
        evidence = self._selector.select(
            standalone, retrieved, s.evidence_max, fit=self._fit(analysed, expected)
        )
        analyses = self._language.analyse_many([e.text for e in evidence])
        sentences = [Sentence(e.n, e.score, a) for e, a in zip(evidence, analyses, strict=True)]
        ranked = candidates(analysed, expected, sentences, self._similarity)
        timings = {
            "retrieve": (t_retrieve - t0) * 1000,
            "evidence": (time.perf_counter() - t_retrieve) * 1000,
        }
        return Found(standalone, retrieved.distinct, evidence, analysed, expected, ranked, timings, dates)

    def _fit(self, question: Analysis, expected: AnswerType) -> Callable[[Sequence[str]], list[float]]:
        """Whether each sentence holds an answer of the expected kind: a fitting candidate for typed questions,
        a quotation for "what did X say", nothing for other questions."""

        def fit(texts: Sequence[str]) -> list[float]:
            if expected.kind == "quote":
                return [1.0 if short_answer.quotations(t) else 0.0 for t in texts]
            if not expected.typed:
                return [0.0] * len(texts)
            return [kind_fit(question, expected, a) for a in self._language.analyse_many(texts)]

        return fit

    # --- 3: abstention ---------------------------------------------------------------------------------------
    def abstention(self, found: Found) -> str | None:
        """Why the articles cannot answer (None when they may): weak evidence, a named entity no article
        mentions, or no candidate of the expected kind that scores at least `min_candidate_score`."""
        s = self._settings
        best = max((e.score for e in found.evidence), default=0.0)
        if best < s.abstain_threshold:
            return f"the best evidence scores {best:.2f} (< {s.abstain_threshold:g})"
        absent = unknown_entities(found.question, self._mentioned)
        if absent:
            return f"no article mentions {', '.join(absent)}"
        if found.expected.typed:
            top = found.ranked[0].score if found.ranked else 0.0
            if top < s.min_candidate_score:
                return f"no {found.expected.kind} of the asked kind in the evidence (best {top:.2f})"
        return None

    # --- 4: answering ------------------------------------------------------------------------------------
    def _draft(self, found: Found, t0: float) -> Generator[StreamEvent, None, Drafted]:
        """Yields Token events; returns the Drafted answer (a generator's return value)."""
        t_gen = time.perf_counter()
        mode = answer_mode(self._settings)
        try:
            model = self._chat_model() if self._uses_model(found, mode) else None
            if model is not None and mode == "write":
                drafted = yield from self._write(model, found, WRITE_MAX_SENTENCES, WRITE_MAX_WORDS, t0)
            elif found.expected.typed:
                drafted = self._choose(model, found)
            elif found.expected.kind == "quote" and found.quote[0]:
                drafted = Drafted(*found.quote, "none")
            elif model is not None:
                drafted = yield from self._write(model, found, 1, DESCRIBE_MAX_WORDS, t0)
            else:
                drafted = self._extracted(found)
        except ModelError as e:
            drafted = self._extracted(found, notice=f"{e} Answering from the evidence.")
        found.timings["generate"] = (time.perf_counter() - t_gen) * 1000
        if drafted.model == "none" and not drafted.abstained:
            yield Token(drafted.text)
        return drafted

    def _uses_model(self, found: Found, mode: str) -> bool:
        """Whether this answer calls the model (so a question the evidence answers alone never waits for a
        model to load): always when writing; when choosing, only to choose among candidates or to describe."""
        if mode == "write":
            return True
        if found.expected.typed:
            return self._settings.choose_options >= 2 and len(found.ranked) >= 2
        return not (found.expected.kind == "quote" and found.quote[0])

    def _extracted(self, found: Found, notice: str | None = None) -> Drafted:
        """The answer from the evidence alone: the top candidate(s), a quotation or an answering clause."""
        if found.expected.typed and found.ranked:
            text, cited = short_answer.render_spans(listed(found.ranked, found.expected))
        elif found.expected.kind == "quote" and found.quote[0]:
            text, cited = found.quote
        else:
            text, cited = short_answer.clause_answer(found.evidence[0], found.standalone)
        return Drafted(text, cited, "none", notice)

    def _choose(self, model: BaseChatModel | None, found: Found) -> Drafted:
        """A typed question: the model picks among the top candidates under a grammar; without a model, or
        when choosing is off (`choose_options` < 2), the ranking's own pick is the answer."""
        options_from = choose.best_fitting(found.ranked, self._settings.choose_options)
        if model is None or len(options_from) < 2:
            return self._extracted(found)
        options = choose.options_for(options_from)
        several = found.expected.plural
        messages = self._choice_messages(found, options_from, options)
        output = complete_with_deadline(
            model,
            messages,
            self._settings.llm_timeout,
            extra_body={"grammar": choose.grammar(options, several)},
            max_completion_tokens=24 * (choose.MAX_PICKS if several else 1),
        )
        picks = choose.parse_choice(output, options)
        if picks is None:
            return Drafted(ABSTAIN_MESSAGE, (), self._model_label, abstained=True)
        if not picks:
            return self._extracted(
                found, notice="The model's choice could not be read; answering from the evidence."
            )
        by_text = {choose.clean_span(c.text).casefold(): c for c in options_from}
        chosen = [by_text[options[i].casefold()] for i in picks]
        text, cited = short_answer.render_spans(chosen)
        return Drafted(text, cited, self._model_label)

    def _choice_messages(
        self, found: Found, ranked: Sequence[Candidate], options: Sequence[str]
    ) -> list[Any]:
        from langchain_core.messages import HumanMessage, SystemMessage

        system, user = load_prompt("choose")
        shown = choose.choice_evidence(ranked, found.evidence)
        rendered = user.format(
            evidence=format_evidence(shown),
            question=found.standalone,
            options="; ".join([*options, choose.NONE]),
        )
        return [SystemMessage(system), HumanMessage(rendered)]

    def _write(
        self, model: BaseChatModel, found: Found, sentences: int, words: int, t0: float
    ) -> Generator[StreamEvent, None, Drafted]:
        """The model writes (streamed as Token events); the draft is verified sentence by sentence and only
        supported sentences are kept. Nothing is appended; an empty result falls back to the evidence."""
        parts: list[str] = []
        messages = self._write_messages(found, sentences, words)
        for piece in stream_with_deadline(model, messages, self._settings.llm_timeout):
            if "first_token" not in found.timings:
                found.timings["first_token"] = (time.perf_counter() - t0) * 1000
            parts.append(piece)
            yield Token(piece)
        draft = "".join(parts).strip()
        verified = cite.verify(draft, found.evidence, found.standalone, self._language.analyse)
        if not verified.cited and cite.is_abstention(draft):
            return Drafted(ABSTAIN_MESSAGE, (), self._model_label, abstained=True)
        if not verified.text:
            return self._extracted(found, notice=UNVERIFIED_NOTICE)
        return Drafted(verified.text, verified.cited, self._model_label, unsupported=verified.unsupported)

    def _write_messages(self, found: Found, sentences: int, words: int) -> list[Any]:
        """The write prompt, with evidence trimmed from the least relevant end to fit the context window."""
        from langchain_core.messages import HumanMessage, SystemMessage

        system, user = load_prompt("write")
        system = system.format(max_sentences=sentences, max_words=words)
        budget = self._settings.context_window - self._settings.max_answer_tokens - PROMPT_MARGIN_TOKENS
        kept = list(found.evidence)
        while True:
            rendered = user.format(question=found.standalone, evidence=format_evidence(kept))
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

    # --- 5: the Answer ------------------------------------------------------------------------------------
    def _answer(self, question: str, found: Found, drafted: Drafted) -> Answer:
        return Answer(
            question=question,
            standalone_question=found.standalone,
            text=drafted.text,
            abstained=drafted.abstained,
            citations=cite.citations_for(drafted.cited, found.evidence),
            evidence=found.evidence,
            unsupported_sentences=drafted.unsupported,
            retrieved=found.retrieved,
            model=drafted.model,
            timings_ms=found.timings,
            notice=drafted.notice,
            answer_type=found.expected.kind,
            date_context=found.dates,
        )
