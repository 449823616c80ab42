"""The real news dev set (rtqa-2023, kept outside the repo under ../shared/devsets or $RAG_DEVSETS): a
small slice ingests the whole corpus, asks a few questions with the evidence-only backend and writes the
strict/lenient outputs. Skips when the dev set is absent; never copies or quotes it.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import pytest

from eval import cli
from eval.runner import load_gold
from rag.settings import Settings

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
LIMIT = 5


def devset_dir() -> Path:
    """$RAG_DEVSETS/rtqa-2023 when set, else ../shared/devsets/rtqa-2023 beside the repository."""
    base = os.environ.get("RAG_DEVSETS")
    return (Path(base) if base else ROOT.parent / "shared" / "devsets") / "rtqa-2023"


@pytest.fixture(scope="module")
def devset() -> Path:
    folder = devset_dir()
    if not (folder / "gold.jsonl").is_file() or not (folder / "articles.jsonl").is_file():
        pytest.skip(f"dev set not found at {folder} (set RAG_DEVSETS to the folder holding rtqa-2023)")
    return folder


def test_devset_slice_runs_and_writes_strict_outputs(
    devset: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    out = tmp_path / "out"
    args = parser.parse_args(
        ["--gold", str(devset / "gold.jsonl"), "--corpus", str(devset / "articles.jsonl"), "--llm", "none",
         "--limit", str(LIMIT), "--out", str(out), "--no-progress"]
    )  # fmt: skip
    assert cli.run(args, Settings(llm="none", store_dir=tmp_path / "unused-store")) == 0
    table = capsys.readouterr().out
    assert "STRICT accuracy (facts, <= 60 words)" in table and "answer words median / p90" in table

    expected_ids = [q.id for q in load_gold(devset / "gold.jsonl")[:LIMIT]]
    lines = [json.loads(x) for x in (out / "results.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [line["id"] for line in lines] == expected_ids
    for line in lines:
        assert line["error"] is None, line["id"]
        assert isinstance(line["words"], int) and isinstance(line["correct_strict"], bool)
        assert line["correct_strict"] <= line["correct_lenient"], line["id"]  # strict never beats lenient
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert (summary["schema"], summary["max_words"], summary["metrics"]["n"]) == (2, 60, LIMIT)
    assert summary["corpus"]["articles"] >= 400  # the corpus went in whole (a bad line would be listed)
    assert summary["metrics"]["strict_accuracy"] <= summary["metrics"]["accuracy"]
