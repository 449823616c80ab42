"""Model calls with a deadline that really stop the model when the deadline passes or the caller stops reading.

A generation that runs out of time must not keep the model busy behind the next question (the local
llama.cpp server has one slot). A thread abandoned in `model.stream(...)` keeps the HTTP stream open and
the server keeps generating, so instead every call runs as an asyncio task (`astream`) on one
event loop thread owned by this module. On the deadline, or when the caller closes the stream, the task is
cancelled: the cancellation unwinds LangChain's and the OpenAI/Ollama clients' `async with` blocks, which
close the HTTP response, and an OpenAI-compatible server (llama.cpp, vLLM, Ollama) stops generating when its
client disconnects.

One loop for all calls (not `asyncio.run` per call) because the async HTTP clients that LangChain caches
belong to the loop that first used them. The thread starts on first use, not at import.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import queue
import threading
import time
from collections.abc import AsyncIterator, Coroutine, Generator, Sequence
from typing import TYPE_CHECKING, Any

from rag.errors import ModelDeadlineError, ModelError

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

# How long a cancelled call may take to unwind (close its HTTP response) before the caller moves on anyway,
# and how long past the deadline the caller waits for a loop that does not answer at all.
CANCEL_GRACE_S = 2.0


class _LoopThread:
    """A daemon thread running one asyncio event loop, started on first use (and again after a fork)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pid = 0

    def loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None or self._pid != os.getpid() or self._loop.is_closed():
                loop = asyncio.new_event_loop()
                ready = threading.Event()

                def run() -> None:
                    asyncio.set_event_loop(loop)
                    loop.call_soon(ready.set)
                    loop.run_forever()

                threading.Thread(target=run, name="rag-model-loop", daemon=True).start()
                ready.wait()
                self._loop, self._pid = loop, os.getpid()
            return self._loop


_LOOP = _LoopThread()


class _Call:
    """One coroutine running as a task on the model loop, cancellable from the calling thread."""

    def __init__(self, coro: Coroutine[Any, Any, Any]) -> None:
        loop = _LOOP.loop()
        self.finished = threading.Event()
        self._loop = loop
        created: concurrent.futures.Future[asyncio.Task[Any]] = concurrent.futures.Future()

        def start() -> None:
            task = loop.create_task(coro)
            task.add_done_callback(self._done)
            created.set_result(task)

        loop.call_soon_threadsafe(start)
        self._task = created.result()

    def _done(self, task: asyncio.Task[Any]) -> None:
        if not task.cancelled():
            task.exception()  # retrieved here too, so a call given up on is not logged as never retrieved
        self.finished.set()

    def cancel(self) -> None:
        """Cancel the task and wait (at most CANCEL_GRACE_S) until it has unwound, so its HTTP stream is closed
        when this returns."""
        if not self.finished.is_set():
            self._loop.call_soon_threadsafe(self._task.cancel)
            self.finished.wait(CANCEL_GRACE_S)

    def outcome(self) -> Any:
        """The task's result, or its exception raised as a ModelError (waiting at most CANCEL_GRACE_S for the
        task to finish: the stream's end is signalled just before it does)."""
        if not self.finished.wait(CANCEL_GRACE_S):
            raise ModelError("The model call did not finish after its reply ended.")
        try:
            return self._task.result()
        except ModelError:
            raise
        except Exception as e:  # any backend failure becomes a message for the user
            from rag.models import classify_model_error

            raise ModelError(classify_model_error(e)) from e


async def _within(deadline_s: float, coro: Coroutine[Any, Any, Any]) -> Any:
    """`coro`'s result, or ModelDeadlineError once `deadline_s` has passed (`coro` is cancelled first)."""
    try:
        async with asyncio.timeout(deadline_s) as budget:
            return await coro
    except TimeoutError as e:
        if budget.expired():  # ours, not a timeout raised by the client library
            raise _timed_out(deadline_s) from e
        raise


def _check(deadline_s: float) -> None:
    if not deadline_s > 0:
        raise ValueError(f"deadline_s must be a positive number of seconds, got {deadline_s!r}.")


def _timed_out(deadline_s: float) -> ModelDeadlineError:
    return ModelDeadlineError(
        f"The model did not finish within {deadline_s:g} s and was stopped. Raise RAG_LLM_TIMEOUT or use a "
        "smaller or faster model."
    )


def _text(chunk: Any) -> str:
    content = getattr(chunk, "content", "")
    return content if isinstance(content, str) else ""


def stream_with_deadline(
    chat_model: BaseChatModel, messages: Sequence[Any], deadline_s: float, **kwargs: Any
) -> Generator[str, None, None]:
    """The text pieces of the model's streamed reply (`astream`, `kwargs` passed on), as they arrive.

    Raises ModelDeadlineError when the whole reply takes longer than `deadline_s` seconds, ModelError when the
    backend fails. Either way, and when the caller closes the generator early, the request is cancelled and its
    HTTP stream closed before this returns or raises.
    """
    _check(deadline_s)
    pieces: queue.SimpleQueue[str | None] = queue.SimpleQueue()  # None: the task has finished

    async def pump() -> None:
        stream: AsyncIterator[Any] = chat_model.astream(list(messages), **kwargs)
        try:
            async for chunk in stream:
                if text := _text(chunk):
                    pieces.put(text)
        finally:
            # a cancellation raised inside the stream has already unwound it; this closes a stream left
            # some other way (one that hands chunks over from a task of its own, say)
            aclose = getattr(stream, "aclose", None)
            if aclose is not None:
                await aclose()
            pieces.put(None)

    call = _Call(_within(deadline_s, pump()))
    ends_at = time.monotonic() + deadline_s + CANCEL_GRACE_S
    try:
        while True:
            try:
                piece = pieces.get(timeout=max(0.0, ends_at - time.monotonic()))
            except queue.Empty:  # the loop itself is stuck: give up on it rather than hang the caller
                raise _timed_out(deadline_s) from None
            if piece is None:
                break
            yield piece
        call.outcome()
    finally:
        call.cancel()  # no-op once finished; otherwise the caller stopped reading or the loop is stuck


def complete_with_deadline(
    chat_model: BaseChatModel, messages: Sequence[Any], deadline_s: float, **kwargs: Any
) -> str:
    """The text of the model's whole reply (`kwargs` passed on), or ModelDeadlineError / ModelError as
    `stream_with_deadline` raises them.

    The reply is streamed and joined, not asked for in one response (`ainvoke`): llama.cpp stops a streamed
    generation as soon as its client disconnects, but finishes a non-streamed one (up to its token limit)
    even after the client has gone, keeping its only slot busy.
    """
    return "".join(stream_with_deadline(chat_model, messages, deadline_s, **kwargs))
