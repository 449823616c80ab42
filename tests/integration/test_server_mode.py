"""Server mode: ingest and ask against a real `chroma run` on 127.0.0.1, shared by two writers.

The server is the Chroma binary installed with the wheel (.venv/bin/chroma). Each pipeline has its own
store_dir (where its keyword index lives), as two machines of a team would; only the server is shared.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from rag import load_settings, open_pipeline
from rag.pipeline import Pipeline
from tests.conftest import ARTICLES

pytestmark = [pytest.mark.integration, pytest.mark.server]

SEED_IDS = {p.stem for p in ARTICLES.glob("*.txt")}
EXTRA_ARTICLE = """Lighthouse keepers strike on the Faroe coast

date 2025-05-02

Keepers of the Nólsoy lighthouse walked out on Friday, the first strike in the service's history.
Their union leader, Brynjolfur Quistgaard, said the keepers wanted the automation plan withdrawn.
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _chroma_binary() -> str:
    local = Path(sys.executable).parent / "chroma"
    found = str(local) if local.exists() else shutil.which("chroma")
    if not found:
        pytest.skip("the `chroma` command (installed with chromadb) is not available")
    return found


@pytest.fixture(scope="module")
def chroma_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real Chroma server on a free loopback port, stopped after the module."""
    data = tmp_path_factory.mktemp("chroma-server")
    port = _free_port()
    log = (data / "server.log").open("wb")
    proc = subprocess.Popen(
        [_chroma_binary(), "run", "--path", str(data / "db"), "--host", "127.0.0.1", "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                tail = (data / "server.log").read_text()[-2000:]
                pytest.fail(f"chroma run exited with {proc.returncode}: {tail}")
            try:
                with urllib.request.urlopen(f"{url}/api/v2/heartbeat", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("chroma run did not answer /api/v2/heartbeat within 60 s")
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def _pipeline(url: str, store_dir: Path) -> Pipeline:
    overrides = {
        "chroma_url": url,
        "store_dir": str(store_dir),
        "llm": "none",
        "collection": "server-test",
        "embedding_model": "minilm-onnx-int8",  # the torch-free embedder keeps this test short
    }
    return open_pipeline(load_settings(overrides=overrides, env={}))


@pytest.fixture(scope="module")
def first(chroma_url: str, tmp_path_factory: pytest.TempPathFactory) -> Pipeline:
    return _pipeline(chroma_url, tmp_path_factory.mktemp("writer-a"))


def test_ingest_then_reingest_changes_nothing(first: Pipeline) -> None:
    report = first.ingest([ARTICLES])
    assert (report.added, report.updated, report.unchanged, report.skipped) == (5, 0, 0, ())
    assert report.chunks > 5
    again = first.ingest([ARTICLES])
    assert (again.added, again.updated, again.unchanged, again.chunks) == (0, 0, 5, 0)
    assert {a.doc_id for a in first.articles()} == SEED_IDS


@pytest.fixture(scope="module")
def seeded(first: Pipeline) -> Pipeline:
    """`first` with the seed articles in the server (a no-op when the ingest test already put them there),
    so each test also runs on its own (`-k`)."""
    first.ingest([ARTICLES])
    return first


def test_ask_cites_the_seed_articles(seeded: Pipeline) -> None:
    first = seeded
    answer = first.ask("Who attended the Paris talks?")
    assert not answer.abstained
    assert answer.citations
    assert {c.doc_id for c in answer.citations} <= SEED_IDS
    cited_text = " ".join(c.quote for c in answer.citations)
    assert any(name in cited_text for name in ("Lammy", "Rubio", "Witkoff", "Sybiga", "Sybiha", "Yermak"))
    for c in answer.citations:
        assert (first.article_text(c.doc_id) or "")[c.start : c.end] == c.quote


def test_keyword_index_follows_another_writer(
    seeded: Pipeline, chroma_url: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    first = seeded
    keyword = first.with_options(retrieval="keyword")
    before = keyword.retrieve("Quistgaard lighthouse keepers strike")
    assert all(p.doc_id in SEED_IDS for p in before)  # warm: this pipeline's keyword index is built now

    folder = tmp_path_factory.mktemp("extra")
    (folder / "faroe_strike.txt").write_text(EXTRA_ARTICLE, encoding="utf-8")
    second = _pipeline(chroma_url, tmp_path_factory.mktemp("writer-b"))
    report = second.ingest([folder])
    assert report.added == 1

    after = keyword.retrieve("Quistgaard lighthouse keepers strike")
    assert after and after[0].doc_id == "faroe_strike"
    assert "faroe_strike" in {a.doc_id for a in first.articles()}
