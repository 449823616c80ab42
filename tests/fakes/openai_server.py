"""A tiny but real OpenAI-compatible HTTP server for tests, with scriptable failures.

It speaks `POST /v1/chat/completions` (plain JSON, or SSE when the request says `"stream": true`) and
`GET /v1/models`, on 127.0.0.1 and a free port, from a background thread. Each request takes the next
scripted `Behaviour` (or the default reply once the script is used up) and is recorded, so tests can assert
how many requests a client made (bounded retries) and what it sent.

    with FakeOpenAIServer() as server:
        server.script(status(429), reply("Paris."))
        model = build_chat_model(settings.replace(llm="openai", openai_base_url=server.base_url))

or as a pytest fixture: `from tests.fakes.openai_server import fake_openai  # noqa: F401`.

`endless()` plays a model that never finishes: it streams tokens slowly until the client goes away, and the
server records when it noticed the disconnect (`wait_for_disconnect`), as llama.cpp notices and stops.
"""

from __future__ import annotations

import json
import select
import socket
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

DEFAULT_REPLY = "The articles say so [1]."


@dataclass(frozen=True)
class Behaviour:
    """What the server does with one request.

    kind: "reply" (normal answer), "status" (an error status with an OpenAI-style error body), "hang" (wait
    `delay` seconds, then reply), "malformed" (200 with a body that is not JSON; in streaming mode, one
    broken `data:` line), "truncate" (stream the first `cut_after` chunks of `text`, then drop the
    connection without finishing the chunked body; without streaming, send half the announced body),
    "endless" (stream the words of `text` over and over, one per `chunk_delay` seconds, until the client
    disconnects; without streaming, say nothing until then).
    """

    kind: str = "reply"
    text: str = DEFAULT_REPLY
    status: int = 200
    delay: float = 0.0
    chunk_delay: float = 0.0
    cut_after: int = 2
    headers: tuple[tuple[str, str], ...] = ()


def reply(text: str = DEFAULT_REPLY, delay: float = 0.0, chunk_delay: float = 0.0) -> Behaviour:
    """A normal answer, after `delay` seconds, streamed with `chunk_delay` seconds between chunks."""
    return Behaviour(kind="reply", text=text, delay=delay, chunk_delay=chunk_delay)


def status(code: int, retry_after: float | None = None) -> Behaviour:
    """An HTTP error such as 429 or 500, optionally with a Retry-After header (seconds)."""
    headers = (("Retry-After", str(retry_after)),) if retry_after is not None else ()
    return Behaviour(kind="status", status=code, headers=headers)


def hang(seconds: float, text: str = DEFAULT_REPLY) -> Behaviour:
    """Say nothing for `seconds` (longer than the client's timeout, typically), then answer."""
    return Behaviour(kind="hang", delay=seconds, text=text)


def malformed() -> Behaviour:
    """A 200 response whose body is not valid JSON."""
    return Behaviour(kind="malformed")


def truncate(text: str = DEFAULT_REPLY, cut_after: int = 2) -> Behaviour:
    """Stream the first `cut_after` chunks of `text`, then close the connection mid-body."""
    return Behaviour(kind="truncate", text=text, cut_after=cut_after)


def endless(text: str = DEFAULT_REPLY, chunk_delay: float = 0.05) -> Behaviour:
    """Generate forever: stream a word every `chunk_delay` seconds until the client disconnects."""
    return Behaviour(kind="endless", text=text, chunk_delay=chunk_delay)


def stream_pieces(text: str) -> list[str]:
    """How a reply is cut into streamed deltas: one word (with its leading space) per chunk."""
    words = text.split(" ")
    return [w if i == 0 else " " + w for i, w in enumerate(words)]


@dataclass
class RecordedRequest:
    """One request the server received."""

    method: str
    path: str
    headers: dict[str, str]  # names in lower case
    body: dict[str, Any] | None
    at: float = field(default_factory=time.monotonic)


class FakeOpenAIServer:
    """The server; a context manager. `base_url` ends in /v1, as OpenAI clients expect."""

    def __init__(self, default: Behaviour | None = None, model: str = "fake-model") -> None:
        self.default = default or reply()
        self.model = model
        self.requests: list[RecordedRequest] = []
        self.disconnects: list[float] = []  # time.monotonic() when an endless reply saw its client go away
        self.endless_chunks_sent = 0
        self._script: deque[Behaviour] = deque()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------------------

    def start(self) -> FakeOpenAIServer:
        handler = type("Handler", (_Handler,), {"fake": self})
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="fake-openai", daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        self._stopping.set()  # wakes hanging handlers
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> FakeOpenAIServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def port(self) -> int:
        assert self._httpd is not None, "start() the server first"
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    # -- scripting -------------------------------------------------------------------------------------

    def script(self, *behaviours: Behaviour) -> None:
        """Queue behaviours for the next requests, in order; afterwards `default` applies."""
        with self._lock:
            self._script.extend(behaviours)

    @property
    def completion_requests(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path.endswith("/chat/completions")]

    @property
    def request_count(self) -> int:
        """How many chat-completion requests arrived (retries included)."""
        return len(self.completion_requests)

    def wait_for_disconnect(self, timeout: float) -> float | None:
        """When (time.monotonic()) an endless reply first saw its client disconnect; None if not in `timeout` s."""
        ends = time.monotonic() + timeout
        while time.monotonic() < ends:
            with self._lock:
                if self.disconnects:
                    return self.disconnects[0]
            time.sleep(0.01)
        return None

    def _disconnected(self) -> None:
        with self._lock:
            self.disconnects.append(time.monotonic())

    def _next(self, request: RecordedRequest) -> Behaviour:
        with self._lock:
            self.requests.append(request)
            return self._script.popleft() if self._script else self.default

    def _wait(self, seconds: float) -> bool:
        """Sleep unless the server is closing; True when the full time passed."""
        return not self._stopping.wait(seconds) if seconds > 0 else True


class _Handler(BaseHTTPRequestHandler):
    fake: FakeOpenAIServer
    protocol_version = "HTTP/1.1"  # chunked streaming, like real servers

    def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
        pass

    def handle(self) -> None:
        # A client that gave up (timeout) closes its end; writing to it then is expected, not an error.
        try:
            super().handle()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def do_GET(self) -> None:
        self.fake._next(RecordedRequest("GET", self.path, _lower(self.headers), None))
        if self.path.rstrip("/").endswith("/models"):
            self._send_json(200, {"object": "list", "data": [{"id": self.fake.model, "object": "model"}]})
        else:
            self._send_json(404, _error_body(404, f"no route {self.path}"))

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw or b"null")
        except ValueError:
            body = None
        behaviour = self.fake._next(RecordedRequest("POST", self.path, _lower(self.headers), body))
        if not self.path.rstrip("/").endswith("/chat/completions"):
            self._send_json(404, _error_body(404, f"no route {self.path}"))
            return
        if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
            self._send_json(400, _error_body(400, "request body must be JSON with a messages list"))
            return
        if behaviour.delay and not self.fake._wait(behaviour.delay):
            return  # server closing
        if behaviour.kind == "status":
            self._send_json(
                behaviour.status, _error_body(behaviour.status, "scripted failure"), behaviour.headers
            )
        elif behaviour.kind == "malformed":
            if body.get("stream"):
                self._stream([b'data: {"choices": [{"delta": {"content": "Hel', b"data: [DONE]"])
            else:
                self._send_raw(200, b'{"id": "x", "choices": [{"message": ', "application/json")
        elif behaviour.kind == "endless":
            self._endless(behaviour, bool(body.get("stream")))
        elif body.get("stream"):
            events = [json.dumps(e).encode() for e in self._chunk_events(behaviour.text)]
            if behaviour.kind == "truncate":
                self._stream([b"data: " + e for e in events[: behaviour.cut_after]], cut=True)
            else:
                self._stream([b"data: " + e for e in events] + [b"data: [DONE]"], behaviour.chunk_delay)
        elif behaviour.kind == "truncate":
            data = json.dumps(self._completion(behaviour.text)).encode()
            self._send_raw(200, data[: len(data) // 2], "application/json", length=len(data), cut=True)
        else:
            self._send_json(200, self._completion(behaviour.text))

    # -- response bodies -------------------------------------------------------------------------------

    def _completion(self, text: str) -> dict[str, Any]:
        return {
            "id": "chatcmpl-fake",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": self.fake.model,
            "choices": [
                {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
            ],
            "usage": {"prompt_tokens": 10, "completion_tokens": len(text.split()), "total_tokens": 10},
        }

    def _chunk_events(self, text: str) -> Iterator[dict[str, Any]]:
        base = {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": int(time.time())}
        for i, piece in enumerate(stream_pieces(text)):
            delta = {"role": "assistant", "content": piece} if i == 0 else {"content": piece}
            yield {
                **base,
                "model": self.fake.model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": None}],
            }
        yield {
            **base,
            "model": self.fake.model,
            "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
        }

    # -- generating forever ------------------------------------------------------------------------------

    def _endless(self, behaviour: Behaviour, stream: bool) -> None:
        """Stream (or, not streaming, wait) until the client disconnects; record when that was noticed."""
        self.close_connection = True
        events = [json.dumps(e).encode() for e in self._chunk_events(behaviour.text)][:-1]  # never "stop"
        try:
            if stream:
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
            sent = 0
            while not self._client_gone():
                if stream:
                    data = b"data: " + events[sent % len(events)] + b"\n\n"
                    self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                    self.wfile.flush()
                    sent += 1
                    self.fake.endless_chunks_sent += 1
                if not self.fake._wait(behaviour.chunk_delay if stream else 0.01):
                    return  # server closing
        except (BrokenPipeError, ConnectionResetError):
            pass
        self.fake._disconnected()

    def _client_gone(self) -> bool:
        """Whether the client closed its end (the request was read, so a readable socket means EOF)."""
        readable, _, _ = select.select([self.connection], [], [], 0)
        if not readable:
            return False
        try:
            return self.connection.recv(1, socket.MSG_PEEK) == b""
        except OSError:
            return True

    # -- wire ------------------------------------------------------------------------------------------

    def _send_json(self, code: int, payload: Any, headers: tuple[tuple[str, str], ...] = ()) -> None:
        self._send_raw(code, json.dumps(payload).encode(), "application/json", headers)

    def _send_raw(
        self,
        code: int,
        data: bytes,
        content_type: str,
        headers: tuple[tuple[str, str], ...] = (),
        length: int | None = None,
        cut: bool = False,
    ) -> None:
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data) if length is None else length))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)
        self.wfile.flush()
        if cut:
            self._drop_connection()

    def _drop_connection(self) -> None:
        self.close_connection = True
        self.connection.shutdown(socket.SHUT_RDWR)

    def _stream(self, events: list[bytes], chunk_delay: float = 0.0, cut: bool = False) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for event in events:
            data = event + b"\n\n"
            self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            self.wfile.flush()
            if chunk_delay and not self.fake._wait(chunk_delay):
                cut = True
                break
        if cut:  # without the terminating zero-length chunk
            self._drop_connection()
            return
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()


def _error_body(code: int, message: str) -> dict[str, Any]:
    return {"error": {"message": f"{message} (HTTP {code})", "type": "fake_error", "code": code}}


@pytest.fixture
def fake_openai() -> Iterator[FakeOpenAIServer]:
    """A started FakeOpenAIServer, closed after the test. Script it with `fake_openai.script(...)`."""
    with FakeOpenAIServer() as server:
        yield server


def _lower(headers: Any) -> dict[str, str]:
    return {name.lower(): value for name, value in headers.items()}
