"""A generation that runs out of time is stopped, over real HTTP: the OpenAI-compatible client that
`build_chat_model` returns talks to a local server that generates forever, and the server sees the client
disconnect within a second of the deadline (or of the caller closing the stream), as llama.cpp does before it
stops generating."""

from __future__ import annotations

import time

import pytest
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import HumanMessage

from rag.errors import ModelDeadlineError
from rag.generation import complete_with_deadline, stream_with_deadline
from rag.models import build_chat_model
from rag.settings import Settings
from tests.fakes.openai_server import FakeOpenAIServer, endless, reply, stream_pieces
from tests.fakes.openai_server import fake_openai as fake_openai  # noqa: F401  (fixture)

MESSAGES = [HumanMessage("Who attended the Paris talks?")]
WORDS = "Rubio and Witkoff attended"
DEADLINE_S = 1.0
NOTICED_WITHIN_S = 1.0  # from the deadline (or the caller's close) to the server seeing the disconnect


@pytest.fixture(autouse=True)
def _no_api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)


def _model(server: FakeOpenAIServer) -> BaseChatModel:
    # the client's own timeout is far away: only the deadline can end these calls
    settings = Settings(
        llm="openai",
        openai_base_url=server.base_url,
        openai_model="fake-model",
        llm_timeout=30.0,
        llm_retries=0,
    )
    model = build_chat_model(settings)
    assert model is not None
    return model


def test_the_deadline_closes_the_stream_and_the_server_sees_it(fake_openai: FakeOpenAIServer) -> None:
    fake_openai.script(endless(WORDS, chunk_delay=0.05))
    model = _model(fake_openai)
    received: list[str] = []
    t0 = time.monotonic()
    with pytest.raises(ModelDeadlineError):
        for piece in stream_with_deadline(model, MESSAGES, DEADLINE_S):
            received.append(piece)
    deadline_at = t0 + DEADLINE_S

    noticed = fake_openai.wait_for_disconnect(timeout=5.0)
    assert noticed is not None, "the server never saw the client disconnect: it would still be generating"
    assert noticed - deadline_at < NOTICED_WITHIN_S
    # what streamed before the deadline came through, in order
    words = stream_pieces(WORDS)
    assert len(received) >= 4
    assert received[:4] == words
    # and the server stopped sending
    sent = fake_openai.endless_chunks_sent
    time.sleep(0.3)
    assert fake_openai.endless_chunks_sent == sent


def test_closing_the_stream_early_disconnects(fake_openai: FakeOpenAIServer) -> None:
    fake_openai.script(endless(WORDS, chunk_delay=0.05))
    stream = stream_with_deadline(_model(fake_openai), MESSAGES, 60.0)
    first = [next(stream) for _ in range(3)]
    closed_at = time.monotonic()
    stream.close()

    assert first == stream_pieces(WORDS)[:3]
    noticed = fake_openai.wait_for_disconnect(timeout=5.0)
    assert noticed is not None
    assert noticed - closed_at < NOTICED_WITHIN_S


def test_a_complete_call_past_the_deadline_disconnects(fake_openai: FakeOpenAIServer) -> None:
    fake_openai.script(endless(WORDS, chunk_delay=0.05))
    model = _model(fake_openai)
    t0 = time.monotonic()
    with pytest.raises(ModelDeadlineError):
        complete_with_deadline(model, MESSAGES, DEADLINE_S, max_completion_tokens=5)
    noticed = fake_openai.wait_for_disconnect(timeout=5.0)
    assert noticed is not None
    assert noticed - (t0 + DEADLINE_S) < NOTICED_WITHIN_S
    # streamed, so that the server (llama.cpp) stops when the client goes
    [request] = fake_openai.completion_requests
    assert request.body is not None and request.body.get("stream") is True
    assert request.body.get("max_completion_tokens") == 5


def test_the_next_question_is_answered_after_a_stopped_one(fake_openai: FakeOpenAIServer) -> None:
    fake_openai.script(endless(WORDS, chunk_delay=0.05), reply("Lammy attended [1]."))
    model = _model(fake_openai)
    with pytest.raises(ModelDeadlineError):
        list(stream_with_deadline(model, MESSAGES, 0.5))

    assert "".join(stream_with_deadline(model, MESSAGES, 5.0)) == "Lammy attended [1]."
    assert fake_openai.request_count == 2
    assert fake_openai.wait_for_disconnect(timeout=5.0) is not None
    assert len(fake_openai.disconnects) == 1  # the first request's, noticed; the second one finished
