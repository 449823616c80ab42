"""Failing backends: a hosted model that hangs, throttles, errors, garbles or cuts its stream, and a Chroma
server that goes away mid-session. The user always gets a readable message (and the cited evidence when
the store still answers); retries are bounded; nothing hangs.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import threading
import time
import traceback
import urllib.request
from pathlib import Path

import pytest

from rag import load_settings, open_pipeline
from rag.errors import RagError, StoreError
from tests.conftest import ARTICLES
from tests.fakes.openai_server import Behaviour, FakeOpenAIServer, hang, malformed, status, truncate
from tests.reliability.conftest import SECRET_KEY, names_an_attendee

pytestmark = pytest.mark.integration

QUESTION = "Who attended the Paris talks?"
TIMEOUT_S = 2.0
RETRIES = 1
BOUND_S = 20.0  # one answer, failure included: 2 s model timeout, one retry with backoff, retrieval

FAULTS: dict[str, tuple[Behaviour, ...]] = {
    "timeout": (hang(30),) * 3,
    "429": (status(429),) * 3,
    "500": (status(500),) * 3,
    "malformed-json": (malformed(),) * 3,
    "truncated-stream": (truncate(cut_after=2),) * 3,
}


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_hosted_model_failure_gives_a_notice_and_the_evidence(
    evidence_pipeline,
    monkeypatch,
    fault: str,  # type: ignore[no-untyped-def]
    figures,
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", SECRET_KEY)
    with FakeOpenAIServer() as server:
        server.script(*FAULTS[fault])
        pipeline = evidence_pipeline.with_options(
            llm="openai",
            openai_base_url=server.base_url,
            openai_model="fake-model",
            llm_timeout=TIMEOUT_S,
            llm_retries=RETRIES,
        )
        t0 = time.monotonic()
        answer = pipeline.ask(QUESTION)
        elapsed = time.monotonic() - t0
        requests = server.request_count
    figures.record(fault=fault, faults_injected=1, seconds=round(elapsed, 2), model_requests=requests)
    assert elapsed < BOUND_S
    assert 1 <= requests <= 1 + RETRIES
    assert answer.notice, f"{fault}: no notice for the user"
    assert "evidence" in answer.notice and "Traceback" not in answer.notice
    assert SECRET_KEY not in answer.notice
    assert not answer.abstained and answer.citations
    assert names_an_attendee(answer.text)  # the evidence answer still answers


def test_json_answer_carries_the_notice(evidence_pipeline, monkeypatch, figures) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("OPENAI_API_KEY", SECRET_KEY)
    with FakeOpenAIServer() as server:
        server.script(status(500), status(500))
        answer = evidence_pipeline.with_options(
            llm="openai", openai_base_url=server.base_url, llm_timeout=TIMEOUT_S, llm_retries=RETRIES
        ).ask(QUESTION)
    figures.record(fault="500 (JSON schema check)", faults_injected=1)
    assert answer.notice
    assert answer.to_dict().get("notice") == answer.notice


# --- the Chroma server going away ------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start_chroma(data: Path) -> tuple[subprocess.Popen[bytes], str]:
    binary = Path(sys.executable).parent / "chroma"
    found = str(binary) if binary.exists() else shutil.which("chroma")
    assert found, "the `chroma` command (installed with chromadb) is missing"
    port = _free_port()
    proc = subprocess.Popen(
        [found, "run", "--path", str(data / "db"), "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"chroma run exited with {proc.returncode}"
        try:
            with urllib.request.urlopen(f"{url}/api/v2/heartbeat", timeout=2) as response:
                if response.status == 200:
                    return proc, url
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise AssertionError("chroma run did not answer /api/v2/heartbeat within 60 s")


def _ask_bounded(pipeline, question: str, bound: float) -> tuple[object, float]:  # type: ignore[no-untyped-def]
    """(the answer or the exception raised, seconds); fails the test if the call outlives `bound`."""
    box: list[object] = []

    def run() -> None:
        try:
            box.append(pipeline.ask(question))
        except BaseException as e:  # noqa: BLE001 - the test inspects whatever came out
            box.append(e)

    t0 = time.monotonic()
    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(bound)
    assert not worker.is_alive(), f"ask() still running after {bound:.0f} s with the Chroma server gone"
    return box[0], time.monotonic() - t0


@pytest.fixture(scope="module")
def server_pipeline(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    data = tmp_path_factory.mktemp("chroma-gone")
    proc, url = _start_chroma(data)
    try:
        settings = load_settings(
            overrides={
                "chroma_url": url,
                "store_dir": str(data / "local"),
                "llm": "none",
                "collection": "gone-test",
                "embedding_model": "minilm-onnx-int8",
            },
            env={},
        )
        pipeline = open_pipeline(settings)
        pipeline.ingest([ARTICLES])
        yield pipeline, proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=15)


@pytest.mark.server
def test_chroma_server_going_away_is_a_readable_store_error(server_pipeline, figures) -> None:  # type: ignore[no-untyped-def]
    pipeline, proc = server_pipeline
    first = pipeline.ask(QUESTION)
    assert first.citations
    proc.kill()
    proc.wait(timeout=15)
    outcome, elapsed = _ask_bounded(pipeline, QUESTION, bound=60)
    frames = traceback.extract_tb(outcome.__traceback__) if isinstance(outcome, BaseException) else []
    where = [f"{Path(f.filename).name}:{f.lineno} {f.name}" for f in frames if "/rag/" in f.filename]
    figures.record(
        fault="chroma server killed",
        faults_injected=1,
        seconds=round(elapsed, 2),
        raised=f"{type(outcome).__module__}.{type(outcome).__name__}: {str(outcome)[:200]}",
        raised_from=where[-1] if where else "",
    )
    assert isinstance(outcome, StoreError), (
        f"raw {type(outcome).__module__}.{type(outcome).__name__}: {outcome}"
    )
    assert isinstance(outcome, RagError) and "Chroma" in str(outcome)
