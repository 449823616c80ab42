"""The evaluation fast tier end to end: the real pipeline (bundled embedder, real Chroma, `none` backend)
ingests the starter corpus into a temporary store, answers the whole gold set, writes the output files, and
passes the regression gate against the committed baseline. A second, slow test runs the smoke set with the
default local model.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import pytest

from eval import cli
from eval.gate import find_regressions, load_summary
from eval.runner import load_gold
from rag.settings import Settings

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
ARTICLES = ROOT / "data" / "articles"
PARIS = ROOT / "eval" / "gold" / "paris_talks.jsonl"
SMOKE = ROOT / "eval" / "gold" / "smoke.jsonl"
BASELINES = ROOT / "eval" / "baselines"

RESULT_FIELDS = {"id", "question", "answer", "abstained", "correct", "fact_recall", "citations", "retrieved"}
RESULT_FIELDS |= {"timings_ms", "words", "correct_strict", "correct_lenient"}
METRICS = {"accuracy", "fact_recall", "exact_match", "token_f1", "overall_accuracy", "errors"}
METRICS |= {"abstention_precision", "abstention_recall", "false_abstention_rate", "n", "n_answerable"}
METRICS |= {"hit_at_k", "recall_at_k", "mrr", "citation_grounding", "citation_precision", "citation_recall"}
METRICS |= {"strict_accuracy", "strict_overall_accuracy", "words_median", "words_p90", "words_max"}


def eval_args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    return parser.parse_args([*argv, "--no-progress"])


@pytest.fixture(scope="module")
def fast_tier(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int, Settings]:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    root = tmp_path_factory.mktemp("eval")
    settings = Settings(llm="none", store_dir=root / "unused-store")
    out = root / "out"
    code = cli.run(eval_args("--gold", str(PARIS), "--corpus", str(ARTICLES), "--out", str(out)), settings)
    return out, code, settings


def test_fast_tier_writes_results_for_every_question(fast_tier: tuple[Path, int, Settings]) -> None:
    out, code, settings = fast_tier
    assert code == 0
    assert not settings.store_dir.exists()  # --corpus used a temporary store, not the configured one
    gold = load_gold(PARIS)
    lines = [json.loads(line) for line in (out / "results.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [line["id"] for line in lines] == [q.id for q in gold]
    for line in lines:
        assert set(line) >= RESULT_FIELDS, line["id"]
        assert isinstance(line["answer"], str) and isinstance(line["abstained"], bool)
        assert isinstance(line["correct"], bool)
        assert line["error"] is None, line["error"]
        assert line["retrieved"], line["id"]
        assert all(set(r) == {"doc_id", "chunk_id"} for r in line["retrieved"])
        assert all({"doc_id", "chunk_id", "quote"} <= set(c) for c in line["citations"])
        assert {"retrieve", "total"} <= set(line["timings_ms"])
    # the evidence-only backend quotes the articles: its citations are grounded in what was retrieved
    for line in lines:
        retrieved = {(r["doc_id"], r["chunk_id"]) for r in line["retrieved"]}
        assert all((c["doc_id"], c["chunk_id"]) in retrieved for c in line["citations"]), line["id"]


def test_fast_tier_summary_schema(fast_tier: tuple[Path, int, Settings]) -> None:
    out, _, _ = fast_tier
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert set(summary["metrics"]) >= METRICS
    assert summary["metrics"]["n"] == len(load_gold(PARIS))
    assert summary["corpus"]["articles"] == 5 and len(summary["corpus"]["sha256"]) == 64
    assert summary["corpus"]["path"] == str(ARTICLES)
    assert summary["settings"]["llm"] == "none" and summary["k"] == 5
    assert (summary["schema"], summary["max_words"]) == (2, 60)
    assert summary["metrics"]["strict_accuracy"] <= summary["metrics"]["accuracy"]
    assert {"retrieve", "total"} <= set(summary["latency_ms"])
    assert summary["ingest"]["added"] == 5
    # retrieval over five short articles should nearly always surface an evidence article in the top 5
    assert summary["metrics"]["hit_at_k"] >= 0.9
    assert summary["metrics"]["citation_grounding"] == 1.0


def test_fast_tier_report_is_self_contained(fast_tier: tuple[Path, int, Settings]) -> None:
    out, _, _ = fast_tier
    page = (out / "report.html").read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    assert "<script" not in page and "src=" not in page and "href=" not in page
    assert page.count("<svg") == 5


def test_fast_tier_passes_the_gate(fast_tier: tuple[Path, int, Settings]) -> None:
    out, _, _ = fast_tier
    baseline = BASELINES / "fast-none" / "summary.json"
    if not baseline.is_file():
        pytest.fail(f"missing committed baseline {baseline}")
    assert find_regressions(load_summary(out), load_summary(baseline)) == []


@pytest.mark.parametrize("name", ["flood", "chip_takeover"])
def test_other_corpora_pass_their_gates(name: str, tmp_path: Path) -> None:
    """Two more corpora in mixed formats (.md, .json, .jsonl, .html, .txt), written for evaluation; each
    gold set holds its own regression baseline."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    settings = Settings(llm="none", store_dir=tmp_path / "unused-store")
    args = eval_args("--gold", str(ROOT / "eval" / "gold" / f"{name}.jsonl"),
                     "--corpus", str(ROOT / "eval" / "corpora" / name), "--out", str(tmp_path / "out"),
                     "--baseline", str(BASELINES / f"fast-none-{name}"), "--gate")  # fmt: skip
    assert cli.run(args, settings) == 0
    summary = json.loads((tmp_path / "out" / "summary.json").read_text(encoding="utf-8"))
    assert summary["metrics"]["errors"] == 0 and summary["metrics"]["hit_at_k"] >= 0.9


@pytest.mark.slow
def test_smoke_set_with_the_default_local_model_choosing(tmp_path: Path) -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    # choose_options=4: the bundled model chooses among candidates, so its own output is what is scored
    settings = Settings(llm="local", choose_options=4, store_dir=tmp_path / "unused-store")
    out = tmp_path / "out"
    args = eval_args("--gold", str(SMOKE), "--corpus", str(ARTICLES), "--out", str(out),
                     "--baseline", str(BASELINES / "smoke-local"), "--gate")  # fmt: skip
    assert cli.run(args, settings) == 0
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["metrics"]["n"] == 8 and summary["metrics"]["errors"] == 0
    assert summary["model"] not in (None, "none")
