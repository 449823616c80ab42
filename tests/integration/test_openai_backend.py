"""The hosted backend (llm="openai") against a real local HTTP server that speaks the OpenAI API.

Each test scripts the server's behaviour, drives the chat model that `build_chat_model` returns, and asserts
what the client did (requests made, time taken, text received) and what `classify_model_error` tells the user.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator

import pytest

from rag.models import FAULT_MESSAGES, build_chat_model, classify_model_error, model_fault
from rag.settings import Settings
from tests.fakes.openai_server import (
    FakeOpenAIServer,
    hang,
    malformed,
    reply,
    status,
    stream_pieces,
    truncate,
)
from tests.fakes.openai_server import fake_openai as fake_openai  # noqa: F401  (fixture)

ANSWER = "Rubio, Witkoff and Lammy attended the Paris talks [1]."


@pytest.fixture(autouse=True)
def _no_api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)


def _settings(server: FakeOpenAIServer, **changes: object) -> Settings:
    base = Settings(llm="openai", openai_base_url=server.base_url, openai_model="fake-model", llm_timeout=5.0)
    return base.replace(**changes) if changes else base


def _stream_text(settings: Settings, question: str = "Who attended?") -> Iterator[str]:
    model = build_chat_model(settings)
    assert model is not None
    for chunk in model.stream(question):
        if chunk.content:
            yield str(chunk.content)


def test_streams_the_reply_chunk_by_chunk(fake_openai: FakeOpenAIServer) -> None:
    fake_openai.script(reply(ANSWER))
    pieces = list(_stream_text(_settings(fake_openai, max_answer_tokens=77, temperature=0.0)))

    assert pieces == stream_pieces(ANSWER)
    assert "".join(pieces) == ANSWER
    [request] = fake_openai.completion_requests
    assert request.path == "/v1/chat/completions"
    assert request.headers["authorization"] == "Bearer not-needed"
    body = request.body
    assert body is not None
    assert body["stream"] is True
    assert body["model"] == "fake-model"
    assert body["messages"] == [{"role": "user", "content": "Who attended?"}]
    # Both spellings, so servers that only know the older `max_tokens` also stop in time.
    assert (body["max_tokens"], body["max_completion_tokens"]) == (77, 77)
    assert body["temperature"] == 0.0


def test_invoke_without_streaming(fake_openai: FakeOpenAIServer) -> None:
    fake_openai.script(reply(ANSWER))
    model = build_chat_model(_settings(fake_openai))
    assert model is not None
    assert model.invoke("Who attended?").content == ANSWER
    assert fake_openai.request_count == 1


def test_api_key_comes_from_the_environment(
    fake_openai: FakeOpenAIServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-123")
    assert "".join(_stream_text(_settings(fake_openai))) == fake_openai.default.text
    assert fake_openai.completion_requests[0].headers["authorization"] == "Bearer sk-test-123"


def test_rate_limit_then_success_is_retried(fake_openai: FakeOpenAIServer) -> None:
    fake_openai.script(status(429), reply(ANSWER))
    assert "".join(_stream_text(_settings(fake_openai, llm_retries=2))) == ANSWER
    assert fake_openai.request_count == 2


def test_rate_limit_honours_retry_after(fake_openai: FakeOpenAIServer) -> None:
    fake_openai.script(status(429, retry_after=1.5), reply(ANSWER))
    started = time.monotonic()
    assert "".join(_stream_text(_settings(fake_openai, llm_retries=1))) == ANSWER
    gap = fake_openai.completion_requests[1].at - fake_openai.completion_requests[0].at
    assert 1.4 <= gap < 3.0
    assert time.monotonic() - started < 4.0


def test_rate_limit_that_persists_exhausts_retries(fake_openai: FakeOpenAIServer) -> None:
    fake_openai.script(*[status(429)] * 5)
    with pytest.raises(Exception) as info:
        list(_stream_text(_settings(fake_openai, llm_retries=1)))
    assert fake_openai.request_count == 2
    assert model_fault(info.value) == "rate_limit"
    assert classify_model_error(info.value) == FAULT_MESSAGES["rate_limit"]
    assert "HTTP 429" in classify_model_error(info.value)


def test_server_errors_exhaust_bounded_retries_quickly(fake_openai: FakeOpenAIServer) -> None:
    fake_openai.script(*[status(500)] * 10)
    started = time.monotonic()
    with pytest.raises(Exception) as info:
        list(_stream_text(_settings(fake_openai, llm_retries=2)))
    elapsed = time.monotonic() - started

    assert fake_openai.request_count == 3  # the first try and two retries, no more
    assert elapsed < 4.0  # backoff 0.5 s then 1 s (minus jitter), not minutes
    assert model_fault(info.value) == "server_error"
    assert classify_model_error(info.value) == FAULT_MESSAGES["server_error"]


def test_zero_retries_means_one_request(fake_openai: FakeOpenAIServer) -> None:
    fake_openai.script(status(503), reply(ANSWER))
    with pytest.raises(Exception) as info:
        list(_stream_text(_settings(fake_openai, llm_retries=0)))
    assert fake_openai.request_count == 1
    assert model_fault(info.value) == "server_error"


def test_hanging_server_times_out_within_the_bound(fake_openai: FakeOpenAIServer) -> None:
    fake_openai.script(hang(10), hang(10))
    started = time.monotonic()
    with pytest.raises(Exception) as info:
        list(_stream_text(_settings(fake_openai, llm_timeout=1.0, llm_retries=1)))
    elapsed = time.monotonic() - started

    assert fake_openai.request_count == 2  # a timeout is retried like a 5xx
    # two 1 s timeouts plus one backoff of at most 0.5 s, with some slack for a busy machine
    assert 2.0 <= elapsed < 4.5
    assert model_fault(info.value) == "timeout"
    assert classify_model_error(info.value) == FAULT_MESSAGES["timeout"]


def test_slow_but_steady_stream_is_not_a_timeout(fake_openai: FakeOpenAIServer) -> None:
    # The timeout bounds each read, not the whole answer: 6 chunks 0.4 s apart take longer than 1 s.
    text = "one two three four five six"
    fake_openai.script(reply(text, chunk_delay=0.4))
    assert "".join(_stream_text(_settings(fake_openai, llm_timeout=1.0, llm_retries=0))) == text


@pytest.mark.parametrize("streaming", [True, False])
def test_malformed_json_raises_without_retrying(fake_openai: FakeOpenAIServer, streaming: bool) -> None:
    fake_openai.script(malformed())
    model = build_chat_model(_settings(fake_openai, llm_retries=2))
    assert model is not None
    with pytest.raises(json.JSONDecodeError) as info:
        if streaming:
            list(model.stream("Who attended?"))
        else:
            model.invoke("Who attended?")
    assert fake_openai.request_count == 1
    assert model_fault(info.value) == "malformed"
    assert classify_model_error(info.value) == FAULT_MESSAGES["malformed"]


def test_truncated_stream_yields_the_partial_text_then_raises(fake_openai: FakeOpenAIServer) -> None:
    fake_openai.script(truncate(ANSWER, cut_after=3))
    received: list[str] = []
    with pytest.raises(Exception) as info:
        for piece in _stream_text(_settings(fake_openai, llm_retries=2)):
            received.append(piece)

    assert received == stream_pieces(ANSWER)[:3]
    assert fake_openai.request_count == 1  # a stream that has started is never retried
    assert model_fault(info.value) == "truncated"
    assert classify_model_error(info.value) == FAULT_MESSAGES["truncated"]


def test_truncated_plain_response_is_retried(fake_openai: FakeOpenAIServer) -> None:
    fake_openai.script(truncate(ANSWER), reply(ANSWER))
    model = build_chat_model(_settings(fake_openai, llm_retries=1))
    assert model is not None
    assert model.invoke("Who attended?").content == ANSWER
    assert fake_openai.request_count == 2


def test_wrong_key_is_an_auth_error(fake_openai: FakeOpenAIServer) -> None:
    fake_openai.script(status(401))
    with pytest.raises(Exception) as info:
        list(_stream_text(_settings(fake_openai, llm_retries=2)))
    assert fake_openai.request_count == 1  # 401 is not retried
    assert classify_model_error(info.value) == FAULT_MESSAGES["auth"]


def test_unknown_model_is_a_not_found_error(fake_openai: FakeOpenAIServer) -> None:
    fake_openai.script(status(404))
    with pytest.raises(Exception) as info:
        list(_stream_text(_settings(fake_openai)))
    assert model_fault(info.value) == "not_found"


def test_endpoint_that_is_down_is_a_connection_error() -> None:
    with socket.socket() as sock:  # a port that was free a moment ago and has no listener now
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings = Settings(
        llm="openai", openai_base_url=f"http://127.0.0.1:{port}/v1", llm_retries=1, llm_timeout=2.0
    )
    started = time.monotonic()
    with pytest.raises(Exception) as info:
        list(_stream_text(settings))
    assert time.monotonic() - started < 3.0
    assert model_fault(info.value) == "connection"
    assert classify_model_error(info.value) == FAULT_MESSAGES["connection"]
