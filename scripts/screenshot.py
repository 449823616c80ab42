"""Regenerate docs/screenshot.png: the chat window after answering one question.

Starts `rag ui` over a fresh temporary store of data/articles (the same way the browser tests do), asks the
question in headless Debian chromium and saves the page once the final answer is in.

    .venv/bin/python scripts/screenshot.py [--llm none|local] [--question "..."] [--out docs/screenshot.png]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.e2e.ui_harness import CHROMIUM, CHROMIUM_FLAGS, start_ui, stop_ui  # noqa: E402

ANSWER_TIMEOUT_MS = 300_000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--llm", default="none", help="answer backend for the shot (default: none, evidence only)"
    )
    parser.add_argument("--question", default="Who attended the Paris talks?")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "screenshot.png")
    args = parser.parse_args(argv)

    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="newsrag-shot-") as tmp:
        server, proc = start_ui(Path(tmp), llm=args.llm, planted=False)
        try:
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
                page = browser.new_page(viewport={"width": 1360, "height": 900}, device_scale_factor=1)
                page.goto(server.url, wait_until="load")
                box = page.locator("#nr-question textarea")
                box.fill(args.question)
                box.press("Enter")
                page.wait_for_function(
                    "() => { const m = document.querySelectorAll('#nr-chat [data-testid=\"bot\"]');"
                    " return m.length > 0 && m[m.length - 1].innerText.includes('Timing:'); }",
                    timeout=ANSWER_TIMEOUT_MS,
                )
                page.locator("#nr-question textarea").blur()
                page.mouse.move(0, 0)
                args.out.parent.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(args.out))
                browser.close()
        finally:
            stop_ui(proc)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
