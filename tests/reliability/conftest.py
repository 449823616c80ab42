"""Shared pieces of the reliability suite: figure recording, CLI runs, a running `rag ui`, synthetic corpora.

Every test that measures something calls `figures.record(...)`; when RELIABILITY_OUT names a file, each
record is appended to it as one JSON line (scripts/reliability_report.py turns them into docs/reliability.md).
The heavy fixtures are session-scoped so one process pays the embedder load once.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.ui_harness import prepare_articles, serve, stop_ui
from tests.integration.conftest import evidence_pipeline, seeded_store  # noqa: F401 - re-exported fixtures

REPO = Path(__file__).resolve().parents[2]
# A value that must never be shown anywhere: set as OPENAI_API_KEY for every process the suite starts.
SECRET_KEY = "sk-reliability-SENTINEL-7f3a9c1e5b"
UI_USER, UI_PASSWORD = "editor", "r3liable-pass"


class Figures:
    """Records named figures for one test (appended as JSON lines to $RELIABILITY_OUT when set)."""

    def __init__(self, test_id: str) -> None:
        self.test_id = test_id
        self.values: dict[str, Any] = {}

    def record(self, **values: Any) -> None:
        self.values.update(values)
        out = os.environ.get("RELIABILITY_OUT")
        if out:
            with open(out, "a", encoding="utf-8") as f:
                f.write(json.dumps({"test": self.test_id, **values}, ensure_ascii=False, default=str) + "\n")


@pytest.fixture
def figures(request: pytest.FixtureRequest) -> Figures:
    return Figures(request.node.nodeid)


def cli_env(**extra: str) -> dict[str, str]:
    """The environment for a `rag` subprocess: offline, no developer RAG_* settings, the sentinel key."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    env.update(
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        GRADIO_ANALYTICS_ENABLED="False",
        ANONYMIZED_TELEMETRY="False",
        PYTHONUNBUFFERED="1",
        OPENAI_API_KEY=SECRET_KEY,
    )
    env.update(extra)
    return env


def run_cli(
    args: list[str | bytes], env: dict[str, str] | None = None, cwd: Path | None = None, timeout: float = 180
) -> subprocess.CompletedProcess[str]:
    """`python -m rag.cli ARGS` in a fresh process; stdout/stderr decoded with replacement."""
    proc = subprocess.run(
        [sys.executable, "-m", "rag.cli", *args],
        env=env or cli_env(),
        cwd=cwd or REPO,
        capture_output=True,
        timeout=timeout,
    )
    return subprocess.CompletedProcess(
        proc.args,
        proc.returncode,
        proc.stdout.decode("utf-8", "replace"),
        proc.stderr.decode("utf-8", "replace"),
    )


def assert_clean_error(result: subprocess.CompletedProcess[str]) -> str:
    """Exit code 2 and exactly one stderr line, starting with `error:`, no traceback; returns that line."""
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 2, (result.returncode, result.stdout[-2000:], result.stderr[-2000:])
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr[-2000:]
    return lines[0]


# --- a running `rag ui` with a login, shared by the API, concurrency and exposure tests ---------------------


@dataclass(frozen=True)
class RunningUi:
    url: str
    store_dir: Path
    log_file: Path
    auth: tuple[str, str]
    startup_s: float


@pytest.fixture(scope="session")
def auth_ui(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningUi]:
    """`rag ui` (llm none) on 127.0.0.1 with ui_auth, over data/articles plus the planted hostile article."""
    workdir = tmp_path_factory.mktemp("rel-ui")
    articles = prepare_articles(workdir / "articles", planted=True)
    store = workdir / "store"
    env = cli_env(
        RAG_STORE_DIR=str(store),
        RAG_LLM="none",
        RAG_FEEDBACK_FILE=str(workdir / "fb.jsonl"),
        RAG_UI_AUTH=f"{UI_USER}:{UI_PASSWORD}",
        RAG_EMBEDDING_MODEL="minilm-onnx-int8",
    )
    t0 = time.monotonic()
    url, proc = serve(workdir, articles, env, 240)
    try:
        yield RunningUi(url, store, workdir / "ui.log", (UI_USER, UI_PASSWORD), time.monotonic() - t0)
    finally:
        stop_ui(proc)


def gradio_client(ui: RunningUi) -> Any:
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
    from gradio_client import Client

    return Client(ui.url, auth=ui.auth, verbose=False)


# --- synthetic articles -------------------------------------------------------------------------------------

_SYLLABLES = ["ka", "lo", "mi", "ren", "tu", "vos", "zel", "pra", "dun", "hes", "qui", "bor", "nax", "fel"]
_FILLER = (
    "The committee met on Tuesday to review the figures. Residents asked questions about the schedule. "
    "Officials said a decision would follow after the consultation closes. The budget was discussed "
    "at length."
)


def unique_word(rng: random.Random, used: set[str]) -> str:
    """An invented word (letters only, no stopword, no stem collisions with English) not used before."""
    while True:
        word = "".join(rng.choice(_SYLLABLES) for _ in range(4)) + "ix"
        if word not in used:
            used.add(word)
            return word


def write_synthetic_corpus(folder: Path, count: int, seed: int, paragraphs: int = 3) -> dict[str, str]:
    """`count` small plain-text articles; returns {doc_id (file stem): its unique word}."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    used: set[str] = set()
    words: dict[str, str] = {}
    for i in range(count):
        word = unique_word(rng, used)
        stem = f"syn_{i:03d}"
        body = "\n\n".join(
            f"{_FILLER} Paragraph {p} of report {i} mentions the {word} project in district "
            f"{rng.randint(1, 99)}."
            for p in range(paragraphs)
        )
        (folder / f"{stem}.txt").write_text(
            f"title: Report {i} on the {word} project\nsource: Synthetic Times\ndate: "
            f"2025-03-{1 + i % 28:02d}\n\n"
            f"{body}\n",
            encoding="utf-8",
        )
        words[stem] = word
    return words


def raw_api_call(
    ui: RunningUi, api_name: str, body_json: str, login: bool = True, timeout: float = 60
) -> tuple[int, str]:
    """POST a hand-written JSON body to /gradio_api/call/<api_name> (so it may hold escapes a client would
    refuse, like a lone \\ud800) and read the result stream; returns (HTTP status, event text or body)."""
    import httpx

    with httpx.Client(base_url=ui.url, timeout=timeout) as http:
        if login:
            r = http.post("login", data={"username": ui.auth[0], "password": ui.auth[1]})
            assert r.status_code in (200, 302, 303), r.text[:300]
        r = http.post(
            f"gradio_api/call/{api_name}",
            content=body_json.encode(),
            headers={"Content-Type": "application/json"},
        )
        if r.status_code != 200:
            return r.status_code, r.text
        event_id = r.json()["event_id"]
        r = http.get(f"gradio_api/call/{api_name}/{event_id}")
        return r.status_code, r.text


ATTENDEES = ("Rubio", "Witkoff", "Lammy", "Macron", "Yermak", "Sybiga", "Umerov", "Barrot", "Kellogg")


def names_an_attendee(answer: str) -> bool:
    """A short answer to "who attended the Paris talks?" names at least one person who was there."""
    return any(name in answer for name in ATTENDEES)
