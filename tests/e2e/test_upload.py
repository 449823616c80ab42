"""Adding an article through the Articles tab runs the real ingest and makes it answerable.

Runs after test_browser.py (file order): it adds an article to the shared session store.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.e2e

UPLOADED = """title: Lighthouse keepers elect Maren Oyelaran
source: Coastal Courier
date: 2025-05-02

The lighthouse keepers' guild elected Maren Oyelaran as its chair at its spring meeting in Brest.
"""


def test_upload_ingests_and_lists_the_article(page: Any, tmp_path: Path) -> None:
    article = tmp_path / "lighthouse_guild.txt"
    article.write_text(UPLOADED, encoding="utf-8")
    page.get_by_role("tab", name="Articles").click()
    page.locator("#nr-upload input[type=file]").set_input_files(str(article))
    # generous waits: on a loaded 2-core machine the upload round trip alone has taken over 30 s
    page.locator("#nr-upload", has_text="lighthouse_guild.txt").wait_for(timeout=120_000)
    page.locator("#nr-add").click()
    page.locator("#nr-ingest-status", has_text="Added 1, updated 0").wait_for(timeout=180_000)
    table = page.locator("#nr-articles")
    table.locator("td", has_text="Lighthouse keepers elect Maren Oyelaran").wait_for(timeout=60_000)
    assert "Coastal Courier" in table.inner_text()
