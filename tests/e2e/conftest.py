"""Fixtures any browser test can reuse: `ui_server` (a running `rag ui` over a temporary store with the
planted hostile article, evidence-only answers unless NEWSRAG_E2E_LLM names another backend), `browser`
(headless Debian chromium) and `page` (a fresh browser session on the UI).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.ui_harness import CHROMIUM, CHROMIUM_FLAGS, UiServer, start_ui, stop_ui


@pytest.fixture(scope="session")
def ui_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UiServer]:
    server, proc = start_ui(tmp_path_factory.mktemp("ui"), llm=os.environ.get("NEWSRAG_E2E_LLM", "none"))
    try:
        yield server
    finally:
        stop_ui(proc)


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"{CHROMIUM} is missing: `apt-get install -y chromium` (.ci/run does) or set NEWSRAG_CHROMIUM."
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def page(browser: object, ui_server: UiServer) -> Iterator[object]:
    """A fresh page on the UI (one browser session, so one conversation)."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})  # type: ignore[attr-defined]
    p = context.new_page()
    p.goto(ui_server.url, wait_until="load")
    p.locator("#nr-question textarea").wait_for(state="visible", timeout=60_000)
    try:
        yield p
    finally:
        context.close()
