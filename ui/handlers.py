"""The UI's event handlers as plain functions: no Gradio import, testable without a server.

Each takes the pipeline (or the feedback file) explicitly; `ui.app` binds them with functools.partial.
Chat messages use Gradio's message format: `{"role": "user" | "assistant", "content": markdown}`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Protocol

from rag import (
    Answer,
    ArticleInfo,
    Done,
    EvidenceReady,
    Filters,
    IngestReport,
    RagError,
    Settings,
    Token,
    Turn,
)
from rag.dates import parse_as_of
from rag.errors import InputError
from rag.settings import LLM_BACKENDS
from rag.types import StreamEvent
from ui import render

log = logging.getLogger(__name__)

Message = dict[str, Any]
ChatUpdate = tuple[str, list[Message], str, "Conversation"]
"""What `respond` yields: (question box, chat messages, sources panel HTML, conversation state)."""

BACKEND_LABELS = {
    "local": "Local model (bundled)",
    "openai": "OpenAI-compatible endpoint",
    "ollama": "Ollama",
    "none": "Evidence only (no model)",
}

EXAMPLE_COUNT = 3


class ChatPipeline(Protocol):
    """The part of rag.Pipeline the UI uses (a structural type, so tests can pass a fake)."""

    settings: Settings

    def with_options(self, **changes: Any) -> ChatPipeline: ...

    def stream(
        self,
        question: str,
        history: Sequence[Turn] = (),
        filters: Filters | None = None,
        as_of: date | None = None,
    ) -> Iterator[StreamEvent]: ...

    def ask(
        self,
        question: str,
        history: Sequence[Turn] = (),
        filters: Filters | None = None,
        as_of: date | None = None,
    ) -> Answer: ...

    def articles(self) -> list[ArticleInfo]: ...

    def article_text(self, doc_id: str) -> str | None: ...

    def example_questions(self, count: int = 4) -> list[str]: ...

    def ingest(
        self,
        paths: Sequence[Path],
        prune: bool = False,
        progress: Callable[[int, int, str], None] | None = None,
    ) -> IngestReport: ...


@dataclass(frozen=True)
class AnswerRecord:
    """An answered question, kept so that a vote on its chat message can be logged with it."""

    message_index: int
    question: str
    answer: str
    citations: tuple[dict[str, Any], ...]
    abstained: bool
    model: str


@dataclass(frozen=True)
class Conversation:
    """Per-browser-session state: earlier turns (for follow-ups) and answers by chat message index."""

    turns: tuple[Turn, ...] = ()
    answers: tuple[AnswerRecord, ...] = field(default=())

    def record_at(self, message_index: int) -> AnswerRecord | None:
        return next((r for r in self.answers if r.message_index == message_index), None)


def parse_filters(outlets: Sequence[str] | None, since: str | None, until: str | None) -> Filters:
    """Build Filters from the settings panel; dates must be YYYY-MM-DD (blank means no bound)."""
    since_iso = _iso_date("since", since)
    until_iso = _iso_date("until", until)
    if since_iso and until_iso and since_iso > until_iso:
        raise InputError(
            f"The 'since' date ({since_iso}) is after the 'until' date ({until_iso}); swap them."
        )
    return Filters(sources=tuple(outlets or ()), since=since_iso, until=until_iso)


def _iso_date(name: str, value: str | None) -> str | None:
    if value is None or not str(value).strip():
        return None
    text = str(value).strip()
    try:
        return date.fromisoformat(text).isoformat()
    except ValueError as e:
        raise InputError(f"The '{name}' date must look like 2025-04-17; got {text!r}.") from e


def configure(pipeline: ChatPipeline, backend: str | None, top_k: float | int | None) -> ChatPipeline:
    """The pipeline with the settings panel's backend and passage count applied (same heavy clients)."""
    changes: dict[str, object] = {}
    if backend and backend != pipeline.settings.llm:
        if backend not in LLM_BACKENDS:
            raise InputError(f"Unknown model backend {backend!r}; choose one of {', '.join(LLM_BACKENDS)}.")
        changes["llm"] = backend
    if top_k is not None:
        try:
            passages = int(top_k)
        except (TypeError, ValueError) as e:
            raise InputError(f"The number of passages must be a whole number; got {top_k!r}.") from e
        if passages < 1:
            raise InputError(f"The number of passages must be at least 1; got {top_k}.")
        if passages != pipeline.settings.top_k:
            changes["top_k"] = passages
    return pipeline.with_options(**changes) if changes else pipeline


def respond(
    pipeline: ChatPipeline,
    question: str,
    chat: list[Message] | None,
    conversation: Conversation | None,
    backend: str | None = None,
    top_k: float | int | None = None,
    outlets: Sequence[str] | None = None,
    since: str | None = None,
    until: str | None = None,
    as_of: str | None = None,
) -> Iterator[ChatUpdate]:
    """Answer one chat message, streaming: the evidence cards first, then the draft, then the final answer.

    `as_of` (YYYY-MM-DD, blank for none) asks the question as if today were that date.
    Every failure ends as a readable assistant message; nothing here raises to the browser.
    """
    chat = list(chat or [])
    conversation = conversation or Conversation()
    if not isinstance(question, str) or not question.strip():
        yield "", list(chat), render.placeholder_panel(), conversation
        return
    question = question.strip()
    chat.append({"role": "user", "content": render.md_escape(question)})
    chat.append({"role": "assistant", "content": "*Searching the articles…*"})
    panel = render.placeholder_panel("Searching…")
    yield "", list(chat), panel, conversation

    events = None
    try:
        filters = parse_filters(outlets, since, until)
        asked_on = parse_as_of(as_of, "The 'as of' date")
        configured = configure(pipeline, backend, top_k)
        events = configured.stream(
            question, history=list(conversation.turns), filters=filters, as_of=asked_on
        )
        known: list[int] = []
        draft = ""
        ready: EvidenceReady | None = None
        for event in events:
            if isinstance(event, EvidenceReady):
                ready = event
                known = [e.n for e in event.evidence]
                status = "" if event.abstained else "Writing the answer…"
                panel = render.sources_panel(
                    event.evidence,
                    event.retrieved,
                    configured.article_text,
                    abstained=event.abstained,
                    status=status,
                )
                chat[-1] = {"role": "assistant", "content": "*Reading the evidence…*"}
                yield "", list(chat), panel, conversation
            elif isinstance(event, Token):
                draft += event.text
                chat[-1] = {"role": "assistant", "content": render.draft_markdown(draft, known)}
                yield "", list(chat), panel, conversation
            elif isinstance(event, Done):
                answer = event.answer
                panel = render.sources_panel(
                    answer.evidence,
                    answer.retrieved or (ready.retrieved if ready else ()),
                    configured.article_text,
                    abstained=answer.abstained,
                    cited=[c.n for c in answer.citations],
                )
                chat[-1] = {"role": "assistant", "content": render.answer_markdown(answer)}
                record = AnswerRecord(
                    message_index=len(chat) - 1,
                    question=question,
                    answer=answer.text,
                    citations=tuple(c.to_dict() for c in answer.citations),
                    abstained=answer.abstained,
                    model=answer.model,
                )
                conversation = Conversation(
                    turns=(*conversation.turns, Turn(question, answer.text)),
                    answers=(*conversation.answers, record),
                )
                yield "", list(chat), panel, conversation
    except RagError as e:
        chat[-1] = {"role": "assistant", "content": f"⚠ {render.md_escape(str(e))}"}
        yield "", list(chat), panel, conversation
    except Exception as e:  # the edge: log the trace for the operator, show the user a sentence
        log.exception("answering %r failed", question)
        message = (
            f"Something went wrong while answering ({type(e).__name__}). The details are in the server log."
        )
        chat[-1] = {"role": "assistant", "content": f"⚠ {message}"}
        yield "", list(chat), panel, conversation
    finally:
        close = getattr(events, "close", None)
        if close is not None:
            close()


def mark_stopped(chat: list[Message] | None, conversation: Conversation | None) -> list[Message]:
    """After Stop: label the unfinished last answer so it is not mistaken for a verified one."""
    chat = list(chat or [])
    conversation = conversation or Conversation()
    last = len(chat) - 1
    if last >= 0 and chat[last].get("role") == "assistant" and conversation.record_at(last) is None:
        content = message_text(chat[last]).removesuffix(" ▍")
        chat[last] = {
            "role": "assistant",
            "content": f"{content}\n\n*Stopped: this answer is unfinished and unverified.*",
        }
    return chat


def message_text(message: Message) -> str:
    """A chat message's Markdown, whether Gradio sent it back as a string or as a list of content parts."""
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            str(p.get("text", "")) for p in content if isinstance(p, dict) and p.get("type") == "text"
        )
    return ""


def new_conversation() -> tuple[list[Message], str, Conversation, str]:
    """Clear the chat, the sources panel, the state and the question box."""
    return [], render.placeholder_panel(), Conversation(), ""


def record_vote(
    feedback_file: Path,
    conversation: Conversation | None,
    message_index: int,
    liked: bool | str,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> str:
    """Append one vote as a JSON line (question, answer, citations, vote, time); returns a status line."""
    record = (conversation or Conversation()).record_at(message_index)
    if record is None:
        return "Only finished answers can be rated."
    vote = "up" if liked is True else "down" if liked is False else str(liked)
    line = {
        "timestamp": now().isoformat(timespec="seconds"),
        "vote": vote,
        "question": record.question,
        "answer": record.answer,
        "citations": list(record.citations),
        "abstained": record.abstained,
        "model": record.model,
    }
    try:
        feedback_file.parent.mkdir(parents=True, exist_ok=True)
        with feedback_file.open("a", encoding="utf-8") as f:
            f.write(json.dumps(line, ensure_ascii=False) + "\n")
    except OSError as e:
        log.warning("cannot write feedback to %s: %s", feedback_file, e)
        return f"Could not save the feedback to {feedback_file}: {e.strerror or e}."
    return f"Thanks, feedback saved ({vote})."


def ask_api(pipeline: ChatPipeline, question: object, as_of: object = None) -> dict[str, Any]:
    """The simple non-streaming endpoint: a question (and optionally the YYYY-MM-DD date to ask it as of)
    in, the `rag ask --json` dictionary out."""
    if not isinstance(question, str):
        raise InputError(f"question must be a string; got {type(question).__name__}.")
    if not question.strip():
        raise InputError("question is empty; send the question text.")
    if as_of is not None and not isinstance(as_of, str):
        raise InputError(f"as_of must be a YYYY-MM-DD string; got {type(as_of).__name__}.")
    return pipeline.ask(question.strip(), as_of=parse_as_of(as_of, "as_of")).to_dict()


def outlet_choices(pipeline: ChatPipeline) -> list[str]:
    """Outlets in the store, sorted; an unreadable or empty store gives none."""
    try:
        return sorted({a.source for a in pipeline.articles() if a.source})
    except RagError:
        return []


def articles_html(pipeline: ChatPipeline) -> str:
    try:
        return render.articles_table(pipeline.articles())
    except RagError as e:
        return f"<p class='nr-error'>{render.esc(e)}</p>"


def example_questions(pipeline: ChatPipeline, count: int = EXAMPLE_COUNT) -> list[str]:
    """Starter questions about the people and places in the stored headlines; none for an unreadable store."""
    try:
        return pipeline.example_questions(count)
    except RagError:
        return []


def ingest_files(
    pipeline: ChatPipeline,
    files: Sequence[str | Path] | None,
    progress: Callable[[int, int, str], None] | None = None,
) -> str:
    """Run the CLI's ingest on uploaded files; returns a Markdown summary (errors included, never raised)."""
    paths = [Path(str(f)) for f in files or ()]
    if not paths:
        return "Choose one or more article files first (.txt, .md, .html, .json, .jsonl)."
    try:
        report = pipeline.ingest(paths, progress=progress)
    except RagError as e:
        return f"⚠ {render.md_escape(str(e))}"
    except Exception as e:
        log.exception("ingest of %s failed", paths)
        return f"⚠ Ingest failed ({type(e).__name__}). The details are in the server log."
    summary = (
        f"Added {report.added}, updated {report.updated}, unchanged {report.unchanged} "
        f"({report.chunks} chunks written in {report.seconds:.1f} s)."
    )
    if report.skipped:
        skipped = "\n".join(
            f"- {render.md_escape(Path(s.path).name)}: {render.md_escape(s.reason)}" for s in report.skipped
        )
        summary += f"\n\nSkipped:\n{skipped}"
    return summary
