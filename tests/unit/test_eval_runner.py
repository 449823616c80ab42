"""The eval runner, report, gate and CLI on a small deterministic fake pipeline (no model, no store)."""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pytest

from eval import cli, gate, report, runner
from rag.errors import EvalError, ModelError
from rag.settings import Settings
from rag.types import Answer, ArticleInfo, Citation, IngestReport, Passage, Turn

DOC_A, DOC_B, DOC_C = "doc-a", "doc-b", "doc-c"
TEXTS = {
    DOC_A: "Rubio and Witkoff met Macron in Paris.",
    DOC_B: "Three people were killed in Dnipro.",
    DOC_C: "x",
}


def passage(doc_id: str, chunk: int) -> Passage:
    return Passage(f"{doc_id}:{chunk}", doc_id, "t", "s", None, None, TEXTS[doc_id], 0, 1, 1.0 / (chunk + 1))


def citation(n: int, doc_id: str, chunk: int, quote: str) -> Citation:
    return Citation(n, doc_id, "t", "s", None, f"{doc_id}:{chunk}", quote, 0, len(quote))


def answer(
    question: str,
    text: str,
    abstained: bool = False,
    citations: Sequence[Citation] = (),
    retrieved: Sequence[Passage] = (),
    total_ms: float = 100.0,
) -> Answer:
    return Answer(
        question=question,
        standalone_question=question,
        text=text,
        abstained=abstained,
        citations=tuple(citations),
        evidence=(),
        unsupported_sentences=(),
        retrieved=tuple(retrieved),
        model="fake-model",
        timings_ms={"retrieve": total_ms / 10, "total": total_ms},
    )


def gold(
    qid: str, question: str, facts: list[list[str]], evidence: list[str], qtype: str, **extra: str
) -> dict[str, object]:
    record = {"id": qid, "question": question, "answer": "Not reported", "must_include": facts}
    return {**record, "answerable": bool(facts), "evidence": evidence, "type": qtype, **extra}


GOLD = [
    gold("q1", "Who met Macron?", [["Rubio"], ["Witkoff"]], [DOC_A], "who", answer="Rubio and Witkoff"),
    gold(
        "q2", "How many were killed in Dnipro?", [["three", "3"]], [DOC_B, DOC_C], "how_many", answer="Three"
    ),
    gold(
        "q3", "Where did he meet him?", [["Paris"]], [DOC_A], "followup", answer="In Paris", followup_of="q1"
    ),
    gold("q4", "What was agreed in London?", [], [], "unanswerable"),
    gold("q5", "Who won the <b>cup</b>?", [], [], "unanswerable"),
]

# q1: correct, cited, evidence ranked 2nd among distinct docs (first passage is doc-b)
# q2: wrong ("two"), retrieval finds doc-b first (recall 1/2 with k=5), citation pointing outside retrieved
# q3: a follow-up that abstains (false abstention)
# q4: correctly abstains; q5: answers though unanswerable (with hostile HTML in the text)
ANSWERS = {
    "Who met Macron?": answer(
        "Who met Macron?",
        "Rubio and Witkoff met Macron [1].",
        citations=[citation(1, DOC_A, 0, TEXTS[DOC_A])],
        retrieved=[passage(DOC_B, 0), passage(DOC_A, 0), passage(DOC_A, 1)],
        total_ms=100.0,
    ),
    "How many were killed in Dnipro?": answer(
        "How many were killed in Dnipro?",
        "Two people were killed [1]. Nobody knows more.",
        citations=[citation(1, DOC_A, 7, "Rubio and Witkoff met Macron in Paris.")],
        retrieved=[passage(DOC_B, 0), passage(DOC_A, 0)],
        total_ms=200.0,
    ),
    "Where did he meet him?": answer(
        "Where did he meet him?", "The articles do not say.", abstained=True, total_ms=300.0
    ),
    "What was agreed in London?": answer(
        "What was agreed in London?", "The articles do not say.", abstained=True, total_ms=400.0
    ),
    "Who won the <b>cup</b>?": answer(
        "Who won the <b>cup</b>?",
        "<script>alert(1)</script> won [1].",
        citations=[citation(1, DOC_B, 0, "x")],
        retrieved=[passage(DOC_B, 0)],
        total_ms=500.0,
    ),
}  # fmt: skip


@dataclass
class FakePipeline:
    settings: Settings
    answers: dict[str, Answer] = field(default_factory=lambda: dict(ANSWERS))
    articles_: list[str] = field(default_factory=lambda: [DOC_B, DOC_A])
    fail_on: str | None = None
    asked: list[tuple[str, tuple[Turn, ...]]] = field(default_factory=list)
    as_of: list[date | None] = field(default_factory=list)
    ingested: list[list[Path]] = field(default_factory=list)
    closed: bool = False

    def ingest(
        self,
        paths: Sequence[Path],
        prune: bool = False,
        progress: Callable[[int, int, str], None] | None = None,
    ) -> IngestReport:
        self.ingested.append(list(paths))
        if progress is not None:
            progress(1, 1, "doc-a")
        self.articles_ = [DOC_A, DOC_B]
        return IngestReport(added=2, chunks=3)

    def ask(self, question: str, history: Sequence[Turn] = (), as_of: date | None = None) -> Answer:
        self.asked.append((question, tuple(history)))
        self.as_of.append(as_of)
        if question == self.fail_on:
            raise ModelError("the model timed out after 60 s")
        return self.answers[question]

    def articles(self) -> list[ArticleInfo]:
        return [ArticleInfo(d, "t", "s", None, None, None, 1) for d in self.articles_]

    def article_text(self, doc_id: str) -> str | None:
        return TEXTS.get(doc_id)

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def gold_path(tmp_path: Path) -> Path:
    path = tmp_path / "gold.jsonl"
    path.write_text("".join(json.dumps(q) + "\n" for q in GOLD), encoding="utf-8")
    return path


class Factory:
    def __init__(self, **kwargs: object) -> None:
        self.kwargs = kwargs
        self.pipelines: list[FakePipeline] = []

    def __call__(self, settings: Settings) -> FakePipeline:
        pipeline = FakePipeline(settings, **self.kwargs)  # type: ignore[arg-type]
        self.pipelines.append(pipeline)
        return pipeline


def run(
    gold_path: Path,
    *,
    corpus: Path | None = None,
    limit: int | None = None,
    k: int = 5,
    max_words: int = 60,
    fake: dict[str, object] | None = None,
) -> tuple[runner.EvalRun, Factory]:
    factory = Factory(**(fake or {}))
    result = runner.run_eval(
        Settings(llm="none"),
        gold_path,
        corpus=corpus,
        limit=limit,
        k=k,
        max_words=max_words,
        progress=False,
        pipeline_factory=factory,
    )
    return result, factory


def test_per_question_records(gold_path: Path) -> None:
    result, _ = run(gold_path)
    by_id = {r.id: r for r in result.results}
    q1, q2, q3, q4, q5 = (by_id[f"q{i}"] for i in range(1, 6))
    assert (q1.correct, q1.fact_recall, q1.hit_at_k, q1.recall_at_k, q1.reciprocal_rank) == (
        True,
        1.0,
        1.0,
        1.0,
        0.5,
    )
    assert (q1.citation_grounding, q1.citation_precision, q1.citation_recall) == (1.0, 1.0, 1.0)
    assert q1.exact_match == 0.0 and q1.token_f1 == pytest.approx(2 * 0.6 * 1.0 / 1.6)  # 3 of 5 tokens, ref 3
    assert (q2.correct, q2.fact_recall, q2.hit_at_k, q2.recall_at_k, q2.reciprocal_rank) == (
        False,
        0.0,
        1.0,
        0.5,
        1.0,
    )
    assert (q2.citation_grounding, q2.citation_precision, q2.citation_recall) == (0.0, 0.0, 0.0)
    assert (q3.correct, q3.abstained, q3.fact_recall) == (False, True, 0.0)
    assert math.isnan(q3.citation_precision) and math.isnan(q3.citation_grounding)
    assert (q4.correct, math.isnan(q4.fact_recall), math.isnan(q4.hit_at_k)) == (True, True, True)
    assert (q5.correct, q5.abstained) == (False, False)


def test_strict_caps_the_answer_length_and_lenient_does_not(gold_path: Path) -> None:
    result, _ = run(gold_path, max_words=4)
    q1 = result.results[0]  # "Rubio and Witkoff met Macron [1]." holds both facts in 5 words
    assert (q1.correct, q1.correct_lenient, q1.words) == (False, True, 5)
    m = result.summary["metrics"]
    assert (m["strict_accuracy"], m["accuracy"]) == (0.0, round(1 / 3, 4))
    assert (m["strict_overall_accuracy"], m["overall_accuracy"]) == (0.2, 0.4)  # q4 abstained rightly
    assert (result.summary["schema"], result.summary["max_words"]) == (2, 4)
    with pytest.raises(EvalError, match="--max-words must be at least 1, got 0"):
        run(gold_path, max_words=0)


def test_answer_lengths_overall_and_by_type(gold_path: Path) -> None:
    result, _ = run(gold_path)
    m = result.summary["metrics"]
    # answered (not abstained): q1 5 words, q2 7, q5 2; markers and bare punctuation are not words
    assert (m["words_median"], m["words_p90"], m["words_max"]) == (5.0, 6.6, 7.0)
    assert result.summary["by_type"]["how_many"]["words_median"] == 7.0
    assert result.summary["by_type"]["who"]["strict_accuracy"] == 1.0
    assert result.summary["by_type"]["unanswerable"]["words_max"] == 2.0


@dataclass
class DatedPipeline(FakePipeline):
    """A pipeline whose `ask` takes the as-of date, as the as-of-date feature will."""

    as_of: list[date | None] = field(default_factory=list)

    def ask(self, question: str, history: Sequence[Turn] = (), as_of: date | None = None) -> Answer:
        self.as_of.append(as_of)
        return super().ask(question, history)


def test_as_of_is_the_questions_asked_on_day(tmp_path: Path) -> None:
    dated = {**GOLD[0], "asked_on": "2024-03-01"}
    path = tmp_path / "gold.jsonl"
    path.write_text(json.dumps(dated) + "\n" + json.dumps(GOLD[1]) + "\n", encoding="utf-8")
    pipeline = DatedPipeline(Settings())
    runner.run_eval(Settings(), path, progress=False, pipeline_factory=lambda _s: pipeline)
    assert pipeline.as_of.count(date(2024, 3, 1)) == 1  # the dated question
    assert set(pipeline.as_of) == {date(2024, 3, 1), None}  # the undated one is asked as of today


def test_results_record_words_and_both_correctness_flags(gold_path: Path) -> None:
    result, _ = run(gold_path)
    line = result.results[0].to_dict()
    assert (line["words"], line["correct_strict"], line["correct_lenient"], line["correct"]) == (
        5,
        True,
        True,
        True,
    )


def test_follow_up_gets_the_parent_question_and_system_answer_as_history(gold_path: Path) -> None:
    _, factory = run(gold_path)
    asked = dict(factory.pipelines[0].asked)
    assert asked["Where did he meet him?"] == (Turn("Who met Macron?", "Rubio and Witkoff met Macron [1]."),)
    assert asked["Who met Macron?"] == ()
    assert factory.pipelines[0].closed


def test_gold_lines_with_asked_on_are_asked_as_of_that_day(tmp_path: Path) -> None:
    path = tmp_path / "dated.jsonl"
    lines = [dict(GOLD[0], asked_on="2025-04-18"), dict(GOLD[1])]
    path.write_text("".join(json.dumps(q) + "\n" for q in lines), encoding="utf-8")
    assert [q.asked_on for q in runner.load_gold(path)] == [date(2025, 4, 18), None]
    _, factory = run(path)
    assert factory.pipelines[0].as_of == [date(2025, 4, 18), None]


def test_summary_metrics(gold_path: Path) -> None:
    result, _ = run(gold_path)
    m = result.summary["metrics"]
    assert m["n"] == 5 and m["n_answerable"] == 3 and m["n_unanswerable"] == 2
    assert m["overall_accuracy"] == 0.4  # q1, q4
    assert m["accuracy"] == round(1 / 3, 4)
    assert m["fact_recall"] == round(1 / 3, 4)
    assert m["abstention_precision"] == 0.5  # abstained on q3 (answerable) and q4
    assert m["abstention_recall"] == 0.5
    assert m["false_abstention_rate"] == round(1 / 3, 4)
    assert m["hit_at_k"] == 0.6667  # q1, q2 hit; q3 retrieved nothing
    assert m["recall_at_k"] == 0.5  # (1 + 0.5 + 0) / 3
    assert m["mrr"] == 0.5  # (0.5 + 1 + 0) / 3
    assert m["citation_grounding"] == round(2 / 3, 4)  # q1 1.0, q2 0.0, q5 1.0
    assert m["citation_precision"] == round(1 / 3, 4)  # q1 1.0, q2 0.0, q5 0.0 (quote "x" supports nothing)
    assert m["citation_recall"] == round(1 / 3, 4)  # q1 1.0, q2 0/2 sentences, q5 0.0
    assert m["errors"] == 0


def test_summary_by_type_latency_and_provenance(gold_path: Path) -> None:
    result, _ = run(gold_path, k=1)
    s = result.summary
    assert sorted(s["by_type"]) == ["followup", "how_many", "unanswerable", "who"]
    assert s["by_type"]["who"]["hit_at_k"] == 0.0  # k=1: the first distinct doc is doc-b
    assert s["by_type"]["unanswerable"]["abstention_recall"] == 0.5
    assert s["by_type"]["unanswerable"]["accuracy"] is None  # no answerable question: undefined, not a crash
    assert s["latency_ms"]["total"] == {"p50": 300.0, "p95": 480.0, "mean": 300.0, "n": 5.0}
    assert s["k"] == 1 and s["model"] == "fake-model" and s["settings"]["llm"] == "none"
    assert s["gold"]["sha256"] == runner.sha256_file(gold_path) and s["gold"]["questions"] == 5
    assert s["corpus"]["articles"] == 2 and len(s["corpus"]["sha256"]) == 64
    json.dumps(s, allow_nan=False)  # strict JSON: NaN became null


def test_corpus_digest_ignores_listing_order() -> None:
    a = FakePipeline(Settings(), articles_=[DOC_A, DOC_B])
    b = FakePipeline(Settings(), articles_=[DOC_B, DOC_A])
    c = FakePipeline(Settings(), articles_=[DOC_A])
    assert runner.corpus_digest(a) == runner.corpus_digest(b)
    assert runner.corpus_digest(a)[0] != runner.corpus_digest(c)[0]
    assert runner.corpus_digest(c)[1] == 1


def test_corpus_files_digest(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "a.txt").write_text("one", encoding="utf-8")
    (tmp_path / "sub" / "b.txt").write_text("two", encoding="utf-8")
    first = runner.corpus_files_digest(tmp_path)
    (tmp_path / ".hidden").write_text("ignored", encoding="utf-8")
    assert runner.corpus_files_digest(tmp_path) == first
    (tmp_path / "sub" / "b.txt").write_text("changed", encoding="utf-8")
    assert runner.corpus_files_digest(tmp_path) != first
    assert runner.corpus_files_digest(tmp_path / "a.txt") != runner.corpus_files_digest(tmp_path)


def test_limit_and_invalid_options(gold_path: Path) -> None:
    result, _ = run(gold_path, limit=2)
    assert [r.id for r in result.results] == ["q1", "q2"]
    with pytest.raises(EvalError, match="--k must be at least 1, got 0"):
        run(gold_path, k=0)
    with pytest.raises(EvalError, match="--limit must be at least 1"):
        run(gold_path, limit=0)


def test_model_error_is_recorded_not_fatal(gold_path: Path) -> None:
    result, _ = run(gold_path, fake={"fail_on": "Who met Macron?"})
    q1 = result.results[0]
    assert (q1.correct, q1.answer, q1.error) == (False, "", "ModelError: the model timed out after 60 s")
    assert result.summary["metrics"]["errors"] == 1
    assert result.summary["latency_ms"]["total"]["n"] == 4  # failed questions report no timings


def test_empty_store_is_an_actionable_error(gold_path: Path) -> None:
    with pytest.raises(EvalError, match=r"holds no articles\. Run `rag ingest data/articles` first"):
        run(gold_path, fake={"articles_": []})


def test_corpus_is_ingested_into_a_temporary_store(gold_path: Path, tmp_path: Path) -> None:
    corpus = tmp_path / "articles"
    corpus.mkdir()
    result, factory = run(gold_path, corpus=corpus)
    pipeline = factory.pipelines[0]
    assert pipeline.ingested == [[corpus]]
    assert pipeline.settings.store_dir != Settings().store_dir
    assert pipeline.settings.collection.startswith("eval-") and pipeline.settings.chroma_url == ""
    assert not pipeline.settings.store_dir.exists()  # removed after the run
    assert result.summary["corpus"]["path"] == str(corpus)
    assert result.summary["corpus"]["sha256"] == runner.corpus_files_digest(corpus)
    assert result.summary["corpus"]["store_sha256"] == runner.corpus_digest(pipeline)[0]
    assert result.summary["settings"]["store_dir"] == str(
        Settings().store_dir
    )  # the user's, not the temp one
    assert result.summary["ingest"]["added"] == 2
    with pytest.raises(EvalError, match="--corpus .* does not exist"):
        run(gold_path, corpus=tmp_path / "missing")


# --- outputs ---


def test_write_outputs_schema(gold_path: Path, tmp_path: Path) -> None:
    result, _ = run(gold_path)
    paths = runner.write_outputs(result, tmp_path / "out")
    lines = [json.loads(line) for line in paths["results"].read_text(encoding="utf-8").splitlines()]
    assert [line["id"] for line in lines] == ["q1", "q2", "q3", "q4", "q5"]
    required = {
        "id",
        "question",
        "answer",
        "abstained",
        "correct",
        "fact_recall",
        "citations",
        "retrieved",
        "timings_ms",
    }
    assert all(required <= set(line) for line in lines)
    assert lines[0]["citations"] == [{"n": 1, "doc_id": DOC_A, "chunk_id": "doc-a:0", "quote": TEXTS[DOC_A]}]
    assert lines[0]["retrieved"][:2] == [
        {"doc_id": DOC_B, "chunk_id": "doc-b:0"},
        {"doc_id": DOC_A, "chunk_id": "doc-a:0"},
    ]
    assert lines[0]["timings_ms"] == {"retrieve": 10.0, "total": 100.0}
    assert lines[3]["fact_recall"] is None
    summary = json.loads(paths["summary"].read_text(encoding="utf-8"))
    assert summary["metrics"] == result.summary["metrics"]
    assert paths["report"].read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


def test_report_escapes_article_and_answer_text(gold_path: Path) -> None:
    result, _ = run(gold_path)
    page = report.render_report([result])
    assert "<script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "Who won the &lt;b&gt;cup&lt;/b&gt;?" in page
    assert page.count("<svg") == 5  # four per-type charts and the latency histogram
    assert "3 of 5 questions failed (strict)." in page  # q2, q3, q5
    assert "at most 60 words" in page and "<h4>Longest answers</h4>" in page
    assert '<tr><th>how_many</th><td class="num">1</td>' in page  # the by-type table
    assert "containment stand-in" in page


def test_worst_answers_longest_and_slowest(gold_path: Path) -> None:
    result, _ = run(gold_path)
    assert [r.id for r in report.worst_answers(result.results, "words", n=2)] == ["q2", "q1"]
    assert [r.id for r in report.worst_answers(result.results, "latency", n=3)] == ["q5", "q4", "q3"]
    with pytest.raises(ValueError, match="by must be 'words' or 'latency', got 'size'"):
        report.worst_answers(result.results, "size")


def test_report_side_by_side(gold_path: Path, tmp_path: Path) -> None:
    first, _ = run(gold_path)
    second = runner.EvalRun("hybrid", first.results[:2], first.summary)
    page = report.render_report([runner.EvalRun("vector", first.results, first.summary), second])
    assert "<title>newsrag evaluation — vector vs hybrid</title>" in page
    assert "<th>vector</th><th>hybrid</th>" in page
    paths = runner.write_compare_outputs(
        [runner.EvalRun("vector", first.results, first.summary), second], tmp_path
    )
    combined = json.loads(paths["summary"].read_text(encoding="utf-8"))
    assert list(combined["runs"]) == ["vector", "hybrid"]
    assert (tmp_path / "hybrid" / "results.jsonl").read_text(encoding="utf-8").count("\n") == 2


def test_svg_helpers_handle_empty_and_undefined_values() -> None:
    assert "no timings reported" in report.histogram_svg("t", [("a", [])])
    svg = report.bar_chart_svg("t", ["who", "what"], [("a", [None, 0.5])])
    assert svg.count("<rect") == 2  # one bar + one legend swatch


def test_format_table(gold_path: Path) -> None:
    result, _ = run(gold_path)
    table = runner.format_table([result.summary], ["none"])
    lines = table.splitlines()
    assert lines[0].split() == ["metric", "none"]
    assert lines[2].startswith("STRICT accuracy (facts, <= 60 words)") and lines[2].endswith("0.333")
    assert lines[3].startswith("lenient accuracy (facts, any length)") and lines[3].endswith("0.333")
    assert any(line.startswith("answer words median / p90") and line.endswith("5 / 7") for line in lines)
    assert any(line.startswith("hit@5") and line.endswith("0.667") for line in lines)
    assert any(line.startswith("latency total p50 / p95 ms") and line.endswith("300 / 480") for line in lines)
    assert lines[-1].startswith("* containment stand-in")


# --- gate ---


BASE = {
    "k": 5,
    "gold": {"sha256": "g", "questions": 5},
    "corpus": {"sha256": "c"},
    "settings": {"llm": "none"},
    "metrics": {"accuracy": 0.60, "hit_at_k": 0.90, "abstention_recall": 0.80, "false_abstention_rate": 0.10,
                "mrr": None},
}  # fmt: skip


def with_metrics(**changes: float | None) -> dict[str, object]:
    return {**BASE, "metrics": {**BASE["metrics"], **changes}}  # type: ignore[dict-item]


def test_gate_passes_within_tolerance() -> None:
    assert gate.find_regressions(with_metrics(accuracy=0.56, abstention_recall=0.71, mrr=0.1), BASE) == []


def test_gate_lists_each_regression() -> None:
    current = with_metrics(accuracy=0.50, hit_at_k=None, abstention_recall=0.65, false_abstention_rate=0.25)
    assert gate.find_regressions(current, BASE) == [
        "accuracy dropped from 0.600 to 0.500 (tolerance 0.08).",
        "hit_at_k: was 0.900 in the baseline, now undefined.",
        "abstention_recall dropped from 0.800 to 0.650 (tolerance 0.10).",
        "false_abstention_rate rose from 0.100 to 0.250 (tolerance 0.10).",
    ]


STRICT_BASE = {**BASE, "schema": 2, "max_words": 60,
               "metrics": {**BASE["metrics"], "strict_accuracy": 0.40, "words_median": 20.0}}  # fmt: skip


def strict_metrics(**changes: float | None) -> dict[str, object]:
    return {**STRICT_BASE, "metrics": {**STRICT_BASE["metrics"], **changes}}  # type: ignore[dict-item]


def test_gate_strict_lenient_and_length_tolerances() -> None:
    assert (
        gate.find_regressions(
            strict_metrics(strict_accuracy=0.35, accuracy=0.52, words_median=30), STRICT_BASE
        )
        == []
    )
    assert gate.find_regressions(strict_metrics(strict_accuracy=0.34, accuracy=0.51, words_median=31), STRICT_BASE) == [
        "strict_accuracy dropped from 0.400 to 0.340 (tolerance 0.05).",
        "accuracy dropped from 0.600 to 0.510 (tolerance 0.08).",
        "words_median rose from 20.000 to 31.000 (tolerance 10.00).",
    ]  # fmt: skip


def test_gate_compares_an_old_baseline_on_lenient_figures_only() -> None:
    current = strict_metrics(strict_accuracy=0.0, words_median=200.0)
    assert gate.find_regressions(current, BASE) == []
    assert gate.legacy_note(BASE) is not None and "lenient figures only" in str(gate.legacy_note(BASE))
    assert gate.legacy_note(STRICT_BASE) is None


def test_gate_refuses_another_max_words() -> None:
    assert gate.find_regressions({**STRICT_BASE, "max_words": 30}, STRICT_BASE) == [
        "not comparable: max_words is 30 but the baseline has 60; run with the baseline's gold file, corpus "
        "and options, or regenerate the baseline."
    ]


def test_gate_refuses_incomparable_runs() -> None:
    current = {**BASE, "k": 3, "settings": {"llm": "local"}}
    problems = gate.find_regressions(current, BASE)
    advice = "; run with the baseline's gold file, corpus and options, or regenerate the baseline."
    assert problems == [
        "not comparable: k is 3 but the baseline has 5" + advice,
        "not comparable: setting llm is 'local' but the baseline has 'none'" + advice,
    ]


def test_gate_counts_new_errors() -> None:
    assert gate.find_regressions(
        with_metrics(errors=1), {**BASE, "metrics": {**BASE["metrics"], "errors": 0}}
    ) == ["errors rose from 0.000 to 1.000 (tolerance 0.00)."]


def test_tolerances_file_widens_the_gate(tmp_path: Path) -> None:
    assert gate.load_tolerances(tmp_path) == (gate.HIGHER_IS_BETTER, gate.LOWER_IS_BETTER)
    (tmp_path / "tolerances.json").write_text(
        json.dumps({"higher_is_better": {"accuracy": 0.2}}), encoding="utf-8"
    )
    higher, lower = gate.load_tolerances(tmp_path)
    assert higher["accuracy"] == 0.2 and higher["hit_at_k"] == 0.05 and lower == gate.LOWER_IS_BETTER
    assert gate.find_regressions(with_metrics(accuracy=0.45), BASE, higher, lower) == []
    (tmp_path / "tolerances.json").write_text(
        json.dumps({"lower_is_better": {"errors": -1}}), encoding="utf-8"
    )
    with pytest.raises(EvalError, match=r"tolerances\.json is invalid: lower_is_better\.errors must be"):
        gate.load_tolerances(tmp_path)


def test_committed_baselines_are_valid() -> None:
    baselines = Path(__file__).resolve().parents[2] / "eval" / "baselines"
    names = sorted(p.name for p in baselines.iterdir() if p.is_dir())
    assert names == ["fast-none", "fast-none-chip_takeover", "fast-none-flood", "smoke-local"]
    for name in names:
        summary = gate.load_summary(baselines / name)
        gate.load_tolerances(baselines / name)
        assert summary["metrics"]["errors"] == 0 and summary["k"] == 5
        assert gate.find_regressions(summary, summary) == []


def test_load_summary_errors(tmp_path: Path) -> None:
    with pytest.raises(EvalError, match="does not exist"):
        gate.load_summary(tmp_path)
    (tmp_path / "summary.json").write_text("{}", encoding="utf-8")
    with pytest.raises(EvalError, match="has no 'metrics' object"):
        gate.load_summary(tmp_path)
    (tmp_path / "summary.json").write_text(json.dumps(BASE), encoding="utf-8")
    assert gate.load_summary(tmp_path)["k"] == 5


# --- cli ---


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--llm", default="global")  # a main-parser option must not be clobbered
    sub = parser.add_subparsers(dest="command")
    cli.add_arguments(sub.add_parser("eval"))
    return parser.parse_args(["--llm", "main", "eval", *argv])


def test_cli_defaults_do_not_collide() -> None:
    args = parse()
    assert args.llm == "main" and args.eval_llm is None
    assert (args.eval_k, args.eval_gold, args.eval_gate, args.eval_progress) == (5, None, False, True)


def test_cli_run_writes_outputs_and_gates(
    gold_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    factory = Factory()
    monkeypatch.setattr("rag.open_pipeline", factory)
    out = tmp_path / "out"
    assert (
        cli.run(parse("--gold", str(gold_path), "--out", str(out), "--no-progress"), Settings(llm="local"))
        == 0
    )
    printed = capsys.readouterr().out
    assert printed.splitlines()[0].split() == ["metric", "qwen2.5-coder-0.5b"]
    assert (out / "report.html").is_file() and (out / "results.jsonl").is_file()

    baseline = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    baseline["metrics"]["accuracy"] = 0.9
    (tmp_path / "base").mkdir()
    (tmp_path / "base" / "summary.json").write_text(json.dumps(baseline), encoding="utf-8")
    gated = parse("--gold", str(gold_path), "--baseline", str(tmp_path / "base"), "--gate", "--no-progress")
    assert cli.run(gated, Settings(llm="local")) == 1
    assert "accuracy dropped from 0.900 to 0.333" in capsys.readouterr().err
    warned = parse("--gold", str(gold_path), "--baseline", str(tmp_path / "base"), "--no-progress")
    assert cli.run(warned, Settings(llm="local")) == 0
    assert factory.pipelines[-1].settings.llm == "local"


def test_cli_llm_override_and_option_errors(gold_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    factory = Factory()
    monkeypatch.setattr("rag.open_pipeline", factory)
    assert (
        cli.run(parse("--gold", str(gold_path), "--llm", "none", "--no-progress"), Settings(llm="local")) == 0
    )
    assert factory.pipelines[0].settings.llm == "none"
    with pytest.raises(EvalError, match="--gate needs --baseline"):
        cli.run(parse("--gate"), Settings())
    with pytest.raises(EvalError, match="cannot be combined"):
        cli.run(parse("--compare", "a.toml", "--baseline", "b"), Settings())
    with pytest.raises(EvalError, match="config file missing.toml does not exist"):
        cli.run(parse("--gold", str(gold_path), "--compare", "missing.toml"), Settings())


def test_cli_compare_runs_each_config(
    gold_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    factory = Factory()
    monkeypatch.setattr("rag.open_pipeline", factory)
    monkeypatch.delenv("RAG_CONFIG", raising=False)
    (tmp_path / "vector.toml").write_text('retrieval = "vector"\n', encoding="utf-8")
    (tmp_path / "hybrid.toml").write_text('retrieval = "hybrid"\ntop_k = 3\n', encoding="utf-8")
    args = parse("--gold", str(gold_path), "--llm", "none", "--no-progress", "--out", str(tmp_path / "cmp"),
                 "--compare", str(tmp_path / "vector.toml"), str(tmp_path / "hybrid.toml"))  # fmt: skip
    assert cli.run(args, Settings()) == 0
    assert [(p.settings.retrieval, p.settings.top_k, p.settings.llm) for p in factory.pipelines] == [
        ("vector", 6, "none"),
        ("hybrid", 3, "none"),
    ]
    assert capsys.readouterr().out.splitlines()[0].split() == ["metric", "vector", "hybrid"]
    combined = json.loads((tmp_path / "cmp" / "summary.json").read_text(encoding="utf-8"))
    assert list(combined["runs"]) == ["vector", "hybrid"]


def test_cli_reports_skipped_corpus_files(capsys: pytest.CaptureFixture[str]) -> None:
    skipped = [{"path": f"c/{i}.jsonl:{i}", "reason": "no body"} for i in range(3)]
    cli.report_skipped({"skipped": skipped}, limit=2)
    err = capsys.readouterr().err.splitlines()
    assert err == [
        "ingest: 3 file(s) or line(s) skipped, evaluated without them:",
        "  skipped c/0.jsonl:0: no body",
        "  skipped c/1.jsonl:1: no body",
        "  ... and 1 more (see summary.json, ingest.skipped)",
    ]
    cli.report_skipped(None)
    cli.report_skipped({"skipped": []})
    assert capsys.readouterr().err == ""


def test_cli_max_words_reaches_the_summary(
    gold_path: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr("rag.open_pipeline", Factory())
    out = tmp_path / "out"
    args = parse("--gold", str(gold_path), "--max-words", "4", "--out", str(out), "--no-progress")
    assert cli.run(args, Settings(llm="none")) == 0
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert (summary["max_words"], summary["metrics"]["strict_accuracy"]) == (4, 0.0)
