"""Model calls with a deadline: chunks before the deadline come through, and the model's task is cancelled at
the deadline or when the caller stops reading (not left running behind the next question)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from langchain_core.callbacks import AsyncCallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessageChunk, BaseMessage, HumanMessage
from langchain_core.outputs import ChatGenerationChunk

from rag.errors import ModelDeadlineError, ModelError
from rag.generation import complete_with_deadline, stream_with_deadline

MESSAGES = [HumanMessage("Who attended the Paris talks?")]
WAIT_S = 5.0  # generous bound for events that should happen within milliseconds


class Probe:
    """What the fake model's task went through, observable from the test thread."""

    def __init__(self) -> None:
        self.started = threading.Event()
        self.waiting = threading.Event()
        self.cancelled = threading.Event()
        self.finished = threading.Event()
        self.kwargs: dict[str, Any] = {}
        self.cancelled_at = 0.0


class EndlessChatModel(BaseChatModel):
    """Streams `pieces`, then (when `endless`) waits forever as a model still generating would; `fail` raises
    instead. Records on its Probe what its task went through."""

    probe: Any
    pieces: list[str] = ["Rubio", " and", " Witkoff"]
    endless: bool = True
    fail: bool = False

    @property
    def _llm_type(self) -> str:
        return "endless-fake"

    def _generate(
        self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kw: Any
    ) -> Any:
        raise NotImplementedError("sync calls are not used by rag.generation")

    async def _waiting(self, seconds: float) -> None:
        self.probe.waiting.set()
        try:
            await asyncio.sleep(seconds)
        except asyncio.CancelledError:
            self.probe.cancelled_at = time.monotonic()
            self.probe.cancelled.set()
            raise

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        self.probe.kwargs = kwargs
        self.probe.started.set()
        try:
            if self.fail:
                raise ConnectionError("connection refused")
            for piece in self.pieces:
                yield ChatGenerationChunk(message=AIMessageChunk(content=piece))
                await asyncio.sleep(0)
            if self.endless:
                await self._waiting(3600)
        finally:
            self.probe.finished.set()


@pytest.fixture
def probe() -> Probe:
    return Probe()


def test_chunks_before_the_deadline_come_through_and_the_task_is_cancelled_at_it(probe: Probe) -> None:
    model = EndlessChatModel(probe=probe)
    received: list[str] = []
    t0 = time.monotonic()
    with pytest.raises(ModelDeadlineError, match=r"within 0\.3 s"):
        for piece in stream_with_deadline(model, MESSAGES, 0.3):
            received.append(piece)
    raised_after = time.monotonic() - t0

    assert received == ["Rubio", " and", " Witkoff"]
    # the model's task was cancelled, and had unwound by the time the error reached the caller
    assert probe.cancelled.is_set() and probe.finished.is_set()
    assert 0.3 <= probe.cancelled_at - t0 < 1.0
    assert 0.3 <= raised_after < 1.5


def test_closing_the_stream_early_cancels_the_task(probe: Probe) -> None:
    model = EndlessChatModel(probe=probe)
    stream = stream_with_deadline(model, MESSAGES, 60.0)
    assert next(stream) == "Rubio"
    assert probe.waiting.wait(WAIT_S)  # the model has sent everything it will and waits, still "generating"
    t0 = time.monotonic()
    stream.close()

    # close() returns once the task has been cancelled and has unwound, long before the 60 s deadline
    assert probe.cancelled.is_set() and probe.finished.is_set()
    assert time.monotonic() - t0 < 1.0


def test_closing_a_generator_that_relays_the_stream_cancels_the_task(probe: Probe) -> None:
    # the answer chain relays pieces as Token events; when the UI stops reading it, the relay is closed and
    # the stream it was iterating goes with it (CPython closes it as the relay's frame unwinds)
    def relay() -> Iterator[str]:
        for piece in stream_with_deadline(EndlessChatModel(probe=probe), MESSAGES, 60.0):
            yield piece.upper()

    events = relay()
    assert next(events) == "RUBIO"
    assert probe.waiting.wait(WAIT_S)
    events.close()
    assert probe.cancelled.is_set() and probe.finished.is_set()


def test_a_reply_within_the_deadline_is_streamed_whole_and_kwargs_reach_the_model(probe: Probe) -> None:
    model = EndlessChatModel(probe=probe, endless=False)
    pieces = list(stream_with_deadline(model, MESSAGES, 5.0, max_completion_tokens=7))
    assert pieces == ["Rubio", " and", " Witkoff"]
    assert probe.kwargs.get("max_completion_tokens") == 7
    assert not probe.cancelled.is_set()


def test_a_backend_failure_is_a_model_error_with_a_message(probe: Probe) -> None:
    model = EndlessChatModel(probe=probe, fail=True)
    with pytest.raises(ModelError) as raised:
        list(stream_with_deadline(model, MESSAGES, 5.0))
    assert not isinstance(raised.value, ModelDeadlineError)
    assert "Could not reach the model endpoint" in str(raised.value)
    assert isinstance(raised.value.__cause__, ConnectionError)


def test_complete_returns_the_whole_reply_and_passes_kwargs(probe: Probe) -> None:
    model = EndlessChatModel(probe=probe, endless=False)
    extra = {"grammar": 'root ::= "Rubio"'}
    assert complete_with_deadline(model, MESSAGES, 5.0, extra_body=extra) == "Rubio and Witkoff"
    assert probe.kwargs.get("extra_body") == extra


def test_complete_past_the_deadline_is_cancelled_and_raises(probe: Probe) -> None:
    model = EndlessChatModel(probe=probe)
    t0 = time.monotonic()
    with pytest.raises(ModelDeadlineError, match=r"within 0\.2 s"):
        complete_with_deadline(model, MESSAGES, 0.2)
    assert probe.cancelled.is_set() and probe.finished.is_set()
    assert 0.2 <= probe.cancelled_at - t0 < 1.0


def test_complete_failure_is_a_model_error(probe: Probe) -> None:
    with pytest.raises(ModelError, match="Could not reach the model endpoint"):
        complete_with_deadline(EndlessChatModel(probe=probe, fail=True), MESSAGES, 5.0)


@pytest.mark.parametrize("deadline", [0, -1.0])
def test_a_deadline_must_be_positive(deadline: float, probe: Probe) -> None:
    with pytest.raises(ValueError, match="deadline_s must be a positive"):
        list(stream_with_deadline(EndlessChatModel(probe=probe), MESSAGES, deadline))
    with pytest.raises(ValueError, match="deadline_s must be a positive"):
        complete_with_deadline(EndlessChatModel(probe=probe), MESSAGES, deadline)
    assert not probe.started.is_set()


def test_calls_after_a_cancelled_one_still_work() -> None:
    first, second = Probe(), Probe()
    with pytest.raises(ModelDeadlineError):
        list(stream_with_deadline(EndlessChatModel(probe=first), MESSAGES, 0.1))
    pieces = list(stream_with_deadline(EndlessChatModel(probe=second, endless=False), MESSAGES, 5.0))
    assert pieces == ["Rubio", " and", " Witkoff"]
