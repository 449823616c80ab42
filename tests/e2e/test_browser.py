"""The chat window in a real headless browser against a real `rag ui` (see conftest.py for the server)."""

from __future__ import annotations

import json
import re
import time
import unicodedata
from typing import Any

import pytest

from tests.e2e.ui_harness import PLANTED_OUTLET, PLANTED_QUESTION, PLANTED_SENTENCE, UiServer

pytestmark = pytest.mark.e2e

ANSWER_TIMEOUT_MS = 240_000
ATTENDEES = ("Rubio", "Witkoff", "Lammy", "Macron", "Yermak")


def ask(page: Any, question: str) -> str:
    """Type a question, wait for the final (timed) answer and return its text."""
    box = page.locator("#nr-question textarea")
    box.fill(question)
    box.press("Enter")
    bot = page.locator('#nr-chat [data-testid="bot"]').last
    page.wait_for_function(
        "() => { const m = document.querySelectorAll('#nr-chat [data-testid=\"bot\"]');"
        " return m.length > 0 && m[m.length - 1].innerText.includes('Timing:'); }",
        timeout=ANSWER_TIMEOUT_MS,
    )
    return str(bot.inner_text())


def normalized(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", text).split())


def test_paris_question_is_answered_with_cited_cards(page: Any, ui_server: UiServer) -> None:
    answer = ask(page, "Who attended the Paris talks?")
    named = [name for name in ATTENDEES if name in answer]
    assert len(named) >= 2, f"answer names too few attendees:\n{answer}"
    short = answer.split("Timing:")[0]
    assert len(re.sub(r"\[\d+\]", " ", short).split()) <= 60, f"answer is not short:\n{answer}"

    cards = page.locator("#nr-sources .nr-card")
    assert cards.count() >= 1
    for i in range(cards.count()):
        card = cards.nth(i)
        assert card.locator(".nr-outlet").inner_text().strip()
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", card.locator(".nr-date").inner_text().strip())
        assert re.fullmatch(r"relevance [01]\.\d\d", card.locator(".nr-score").inner_text().strip())

    # the highlighted supporting sentence is real text from an article file
    articles = {f.name: normalized(f.read_text(encoding="utf-8")) for f in ui_server.articles_dir.iterdir()}
    span = normalized(cards.first.locator(".nr-excerpt mark.nr-span").inner_text())
    assert len(span) > 20
    assert any(span in text for text in articles.values()), (
        f"highlighted span not found in any article: {span!r}"
    )
    # ... and the full article, expanded, highlights the same span
    cards.first.locator("details summary").click()
    assert normalized(cards.first.locator(".nr-full mark.nr-span").inner_text()) == span


def test_citation_links_bring_their_card_into_view(page: Any) -> None:
    ask(page, "Who attended the Paris talks?")
    link = page.locator('#nr-chat a[href^="#cite-"]').first
    target = str(link.get_attribute("href"))[1:]
    url_before = page.url
    link.click()
    card = page.locator(f"#{target}")
    page.wait_for_function(f"() => document.getElementById('{target}').classList.contains('nr-flash')")
    assert page.url == url_before
    assert card.is_visible()
    box = card.bounding_box()
    assert box is not None and 0 <= box["y"] < page.viewport_size["height"]


def test_planted_html_renders_as_text_and_never_runs(page: Any) -> None:
    ask(page, PLANTED_QUESTION)
    outlets = [t.strip() for t in page.locator("#nr-sources .nr-outlet").all_inner_texts()]
    assert PLANTED_OUTLET in outlets, f"the planted article is not among the evidence: {outlets}"
    sources_text = normalized(page.locator("#nr-sources").inner_text())
    assert normalized(PLANTED_SENTENCE) in sources_text
    assert page.locator("#nr-sources img, #nr-sources script, #nr-chat img").count() == 0

    page.get_by_role("tab", name="Articles").click()
    page.locator("#nr-articles table").wait_for(timeout=60_000)
    assert PLANTED_OUTLET in page.locator("#nr-articles").inner_text()
    assert page.locator("#nr-articles img").count() == 0
    time.sleep(0.5)  # give any injected handler the chance to fire before the verdict
    assert page.evaluate("typeof window.__pwned") == "undefined"


def test_votes_are_appended_to_the_feedback_file(page: Any, ui_server: UiServer) -> None:
    before = ui_server.feedback_file.read_text().splitlines() if ui_server.feedback_file.exists() else []
    ask(page, "Who attended the Paris talks?")
    page.locator('#nr-chat [aria-label="Dislike"]').last.click()
    page.locator("#nr-feedback", has_text="feedback saved (down)").wait_for(timeout=60_000)
    lines = ui_server.feedback_file.read_text(encoding="utf-8").splitlines()
    assert len(lines) == len(before) + 1
    vote = json.loads(lines[-1])
    assert (vote["vote"], vote["question"]) == ("down", "Who attended the Paris talks?")
    assert vote["citations"] and all(c["quote"] for c in vote["citations"])


def test_new_conversation_clears_chat_and_sources(page: Any) -> None:
    ask(page, "Who attended the Paris talks?")
    page.locator("#nr-new").click()
    page.wait_for_function("() => document.querySelectorAll('#nr-chat [data-testid=\"bot\"]').length === 0")
    assert page.locator("#nr-sources .nr-card").count() == 0
