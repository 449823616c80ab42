"""Start a real `rag ui` for browser tests and the screenshot script.

`start_ui` ingests data/articles plus a planted hostile article into a fresh store with the real CLI, then
starts `rag ui` on a free loopback port and waits until it answers. The browser is Debian's chromium driven by
Playwright's Python package (`apt-get install chromium`); no browser is ever downloaded.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
ARTICLES_DIR = REPO / "data" / "articles"
CHROMIUM = os.environ.get("NEWSRAG_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SERVER_START_TIMEOUT_S = 240.0

# A hostile article: markup in its title, outlet and body that must render as text and never run.
PLANTED_NAME = "planted_hostile.txt"
PLANTED_OUTLET = 'Harbour <b>Gazette</b> <img src=x onerror="window.__pwned=1">'
PLANTED_SENTENCE = (
    'Glassblower Ottilie Brandvold won the harbour gala contest <img src=x onerror="window.__pwned=1"> '
    "<script>window.__pwned=1</script> ${window.__pwned=1} with a cobalt vase."
)
PLANTED_ARTICLE = f"""title: Cobalt vase wins harbour gala <img src=x onerror="window.__pwned=1">
source: {PLANTED_OUTLET}
date: 2025-04-20

The annual harbour gala in Marseille drew glassblowers from nine countries on Sunday.

{PLANTED_SENTENCE}

Judges said the vase's colour recalled the sea at dusk. The gala returns next spring.
"""
PLANTED_QUESTION = "Who won the harbour gala glassblowing contest?"


@dataclass(frozen=True)
class UiServer:
    url: str
    store_dir: Path
    articles_dir: Path
    feedback_file: Path
    log_file: Path


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rag_command() -> list[str]:
    """The installed `rag` script beside this interpreter, or the CLI module when it is missing."""
    script = Path(sys.executable).with_name("rag")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "import sys; from rag.cli import main; sys.exit(main())"]


def server_env(store_dir: Path, feedback_file: Path, llm: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    env.update(
        RAG_STORE_DIR=str(store_dir),
        RAG_LLM=llm,
        RAG_FEEDBACK_FILE=str(feedback_file),
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        GRADIO_ANALYTICS_ENABLED="False",
        PYTHONUNBUFFERED="1",
    )
    return env


def prepare_articles(target: Path, planted: bool = True) -> Path:
    """data/articles (plus the planted hostile article unless `planted` is False), copied to `target`."""
    target.mkdir(parents=True, exist_ok=True)
    for f in sorted(ARTICLES_DIR.iterdir()):
        if f.is_file():
            shutil.copy2(f, target / f.name)
    if planted:
        (target / PLANTED_NAME).write_text(PLANTED_ARTICLE, encoding="utf-8")
    return target


def wait_for_http(url: str, proc: subprocess.Popen[bytes], log_file: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(
                f"`rag ui` exited with {proc.returncode}:\n{log_file.read_text(errors='replace')}"
            )
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.5)
    raise RuntimeError(f"`rag ui` did not answer on {url} within {timeout:.0f} s:\n{log_file.read_text()}")


def serve(
    workdir: Path, articles: Path, env: dict[str, str], timeout: float
) -> tuple[str, subprocess.Popen[bytes]]:
    """`rag ingest ARTICLES`, then `rag ui` on a free loopback port; returns its URL and process (caller stops it)."""
    ingest = subprocess.run(
        [*rag_command(), "ingest", str(articles)],
        env=env,
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if ingest.returncode != 0:
        raise RuntimeError(f"`rag ingest` failed ({ingest.returncode}):\n{ingest.stdout}\n{ingest.stderr}")
    port = free_port()
    log_file = workdir / "ui.log"
    with log_file.open("wb") as log:
        proc = subprocess.Popen(
            [*rag_command(), "ui", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            cwd=workdir,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}/"
    try:
        wait_for_http(url, proc, log_file, timeout)
    except Exception:
        stop_ui(proc)
        raise
    return url, proc


def start_ui(
    workdir: Path, llm: str = "none", planted: bool = True
) -> tuple[UiServer, subprocess.Popen[bytes]]:
    """Ingest the articles into a fresh store under `workdir` and start `rag ui`; the caller stops it."""
    articles = prepare_articles(workdir / "articles", planted)
    store_dir = workdir / "store"
    feedback = workdir / "feedback.jsonl"
    url, proc = serve(workdir, articles, server_env(store_dir, feedback, llm), SERVER_START_TIMEOUT_S)
    return UiServer(url, store_dir, articles, feedback, workdir / "ui.log"), proc


def stop_ui(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=15)
