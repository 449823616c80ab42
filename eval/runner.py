"""Run a gold question file through a pipeline and score every answer.

    questions = load_gold(Path("eval/gold/paris_talks.jsonl"))
    run = run_eval(settings, Path("eval/gold/paris_talks.jsonl"), corpus=None, k=5)
    write_outputs(run, Path("out/"))   # results.jsonl, summary.json, report.html
    print(format_table(run.summary))

The pipeline is reached only through `rag`'s public API (`open_pipeline`, `ingest`, `ask`, `articles`,
`article_text`, `close`). Scoring is delegated to the pure functions in `eval.metrics`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from eval import metrics
from rag.errors import EvalError, RagError
from rag.types import Answer, ArticleInfo, IngestReport, Turn

if TYPE_CHECKING:
    from rag.settings import Settings

# 2: strict accuracy (facts and at most max_words words), answer lengths, max_words recorded
SCHEMA_VERSION = 2
DEFAULT_MAX_WORDS = 60
REQUIRED_FIELDS: dict[str, type | tuple[type, ...]] = {
    "id": str,
    "question": str,
    "answer": str,
    "must_include": list,
    "answerable": bool,
    "evidence": list,
}
OPTIONAL_FIELDS = ("type", "followup_of", "asked_on", "choices")
# the optional "type" values the bundled gold files use; any other non-empty string is accepted too
QUESTION_TYPES = (
    *("who", "what", "where", "when", "how_many", "quote"),
    *("multi_doc", "outlet_diff", "followup", "unanswerable"),
)


class PipelineLike(Protocol):
    """The part of `rag.pipeline.Pipeline` the runner uses (a fake can stand in for tests)."""

    def ingest(
        self, paths: Sequence[Path], prune: bool = ..., progress: Callable[[int, int, str], None] | None = ...
    ) -> IngestReport: ...

    def ask(self, question: str, history: Sequence[Turn] = ..., *, as_of: date | None = ...) -> Answer: ...

    def articles(self) -> list[ArticleInfo]: ...

    def article_text(self, doc_id: str) -> str | None: ...

    def close(self) -> None: ...


PipelineFactory = Callable[["Settings"], PipelineLike]


# --- gold file ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GoldQuestion:
    """One line of a gold file. `must_include` holds facts, each a tuple of acceptable spellings.

    `asked_on` is the date the question was asked ("this week" is relative to it); `choices` are the
    options of a multiple-choice variant. Both are optional.
    """

    id: str
    question: str
    answer: str
    must_include: tuple[tuple[str, ...], ...]
    answerable: bool
    evidence: tuple[str, ...]
    type: str
    followup_of: str | None = None
    line: int = 0
    asked_on: date | None = None
    choices: tuple[str, ...] = ()


def _fail(path: Path, line: int, problem: str) -> EvalError:
    return EvalError(f"{path}, line {line}: {problem}")


def _parse_gold_line(path: Path, line_no: int, raw: str) -> GoldQuestion:
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as e:
        raise _fail(path, line_no, f"not valid JSON ({e.msg} at column {e.colno}).") from e
    if not isinstance(data, dict):
        raise _fail(path, line_no, f"expected a JSON object, got {type(data).__name__}.")
    unknown = sorted(set(data) - set(REQUIRED_FIELDS) - set(OPTIONAL_FIELDS))
    if unknown:
        raise _fail(
            path,
            line_no,
            f"unknown field(s) {', '.join(unknown)}; allowed: "
            f"{', '.join([*REQUIRED_FIELDS, *OPTIONAL_FIELDS])} (check the spelling).",
        )
    missing = [name for name in REQUIRED_FIELDS if name not in data]
    if missing:
        raise _fail(
            path,
            line_no,
            f"missing field(s) {', '.join(missing)}; every line needs {', '.join(REQUIRED_FIELDS)}.",
        )
    for name, expected in REQUIRED_FIELDS.items():
        if not isinstance(data[name], expected):
            want = expected.__name__ if isinstance(expected, type) else "/".join(t.__name__ for t in expected)
            raise _fail(
                path,
                line_no,
                f"field {name!r} must be {want}, got {type(data[name]).__name__} {data[name]!r:.60}.",
            )
    qid = data["id"].strip()
    if not qid:
        raise _fail(path, line_no, "field 'id' is empty.")
    if not data["question"].strip():
        raise _fail(path, line_no, f"question {qid!r} has an empty 'question'.")
    facts = data["must_include"]
    for i, fact in enumerate(facts):
        if not isinstance(fact, list) or not fact or not all(isinstance(s, str) and s.strip() for s in fact):
            raise _fail(
                path,
                line_no,
                f"must_include[{i}] must be a non-empty list of non-empty strings "
                f"(acceptable spellings of one fact), got {fact!r:.60}.",
            )
        if not any(metrics.normalise(s) for s in fact):
            raise _fail(path, line_no, f"must_include[{i}] has no letters or digits: {fact!r:.60}.")
    evidence = data["evidence"]
    if not all(isinstance(d, str) and d.strip() for d in evidence):
        raise _fail(path, line_no, f"'evidence' must be a list of doc_id strings, got {evidence!r:.60}.")
    if data["answerable"] and not facts:
        raise _fail(path, line_no, f"answerable question {qid!r} needs at least one must_include fact.")
    if not data["answerable"] and (facts or evidence):
        raise _fail(
            path, line_no, f"unanswerable question {qid!r} must have empty must_include and evidence."
        )
    qtype = data.get("type", "unanswerable" if not data["answerable"] else "other")
    if not isinstance(qtype, str) or not qtype.strip():
        raise _fail(path, line_no, f"optional field 'type' must be a non-empty string, got {qtype!r:.60}.")
    followup_of = data.get("followup_of")
    if followup_of is not None and not isinstance(followup_of, str):
        raise _fail(
            path,
            line_no,
            f"optional field 'followup_of' must be a question id string, got {followup_of!r:.60}.",
        )
    return GoldQuestion(
        asked_on=_asked_on(path, line_no, data.get("asked_on")),
        choices=_choices(path, line_no, data.get("choices")),
        id=qid,
        question=data["question"],
        answer=data["answer"],
        must_include=tuple(tuple(fact) for fact in facts),
        answerable=data["answerable"],
        evidence=tuple(dict.fromkeys(evidence)),
        type=qtype,
        followup_of=followup_of,
        line=line_no,
    )


def _asked_on(path: Path, line_no: int, value: Any) -> date | None:
    """The optional `asked_on` field as a date (YYYY-MM-DD)."""
    if value is None:
        return None
    try:
        if not isinstance(value, str) or len(value) != 10:
            raise ValueError
        return date.fromisoformat(value)
    except ValueError as e:
        raise _fail(
            path, line_no, f"field 'asked_on' must be a date like 2023-01-05 (YYYY-MM-DD), got {value!r:.60}."
        ) from e


def _choices(path: Path, line_no: int, value: Any) -> tuple[str, ...]:
    """The optional `choices` field: a list of non-empty strings (a multiple-choice variant's options)."""
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(c, str) and c.strip() for c in value):
        raise _fail(path, line_no, f"field 'choices' must be a list of non-empty strings, got {value!r:.60}.")
    return tuple(value)


def load_gold(path: Path) -> list[GoldQuestion]:
    """Read and validate a gold JSONL file; blank lines are skipped.

    Raises EvalError naming the file, the line and the problem for unreadable files, malformed lines,
    missing or mistyped fields, duplicate ids, and a `followup_of` that names no earlier question.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as e:
        raise EvalError(f"Gold file {path} does not exist; pass an existing JSONL file with --gold.") from e
    except (OSError, UnicodeDecodeError) as e:
        raise EvalError(f"Gold file {path} cannot be read as UTF-8 text: {e}") from e
    questions: list[GoldQuestion] = []
    first_line: dict[str, int] = {}
    for line_no, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        q = _parse_gold_line(path, line_no, raw)
        if q.id in first_line:
            raise _fail(path, line_no, f"duplicate id {q.id!r} (first used on line {first_line[q.id]}).")
        if q.followup_of is not None and q.followup_of not in first_line:
            raise _fail(
                path,
                line_no,
                f"followup_of {q.followup_of!r} names no earlier question; a follow-up "
                "must come after the question it follows.",
            )
        first_line[q.id] = line_no
        questions.append(q)
    if not questions:
        raise EvalError(f"Gold file {path} holds no questions.")
    return questions


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def corpus_digest(pipeline: PipelineLike) -> tuple[str, int]:
    """sha256 over the sorted doc ids and cleaned texts the store reports, and the number of articles."""
    infos = sorted(pipeline.articles(), key=lambda a: a.doc_id)
    h = hashlib.sha256()
    for info in infos:
        h.update(info.doc_id.encode("utf-8"))
        h.update(b"\x1f")
        h.update((pipeline.article_text(info.doc_id) or "").encode("utf-8"))
        h.update(b"\x1e")
    return h.hexdigest(), len(infos)


def corpus_files_digest(path: Path) -> str:
    """sha256 over the relative paths and bytes of the files under `path` (hidden files skipped), sorted."""
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    h = hashlib.sha256()
    for file in files:
        rel = file.relative_to(path).as_posix() if file != path else file.name
        if any(part.startswith(".") for part in Path(rel).parts):
            continue
        h.update(rel.encode("utf-8"))
        h.update(b"\x1f")
        h.update(file.read_bytes())
        h.update(b"\x1e")
    return h.hexdigest()


# --- one question ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class QuestionResult:
    """The system's answer to one gold question and its scores (NaN where a score is undefined).

    `correct` (strict, the headline): answerable -> it did not abstain, every must_include fact is in the
    (marker-free) answer, and the answer has at most max_words words; unanswerable -> it abstained.
    `correct_lenient` drops the length cap. `words` counts the answer's words without `[n]` markers. `fact_recall`, `exact_match`, `token_f1` and the retrieval scores are
    NaN on unanswerable questions; citation scores are NaN when the answer has no citation or claim.
    """

    id: str
    type: str
    question: str
    gold_answer: str
    answerable: bool
    answer: str
    abstained: bool
    correct: bool
    correct_lenient: bool
    words: int
    fact_recall: float
    exact_match: float
    token_f1: float
    hit_at_k: float
    recall_at_k: float
    reciprocal_rank: float
    citation_grounding: float
    citation_precision: float
    citation_recall: float
    citations: tuple[dict[str, Any], ...]
    retrieved: tuple[dict[str, str], ...]
    timings_ms: dict[str, float]
    model: str
    evidence: tuple[str, ...] = ()
    followup_of: str | None = None
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """One line of results.jsonl; NaN becomes null so the file is strict JSON."""
        return {
            "id": self.id,
            "question": self.question,
            "answer": self.answer,
            "abstained": self.abstained,
            "correct": self.correct,
            "correct_strict": self.correct,
            "correct_lenient": self.correct_lenient,
            "words": self.words,
            "fact_recall": _json_float(self.fact_recall),
            "citations": list(self.citations),
            "retrieved": list(self.retrieved),
            "timings_ms": {k: round(v, 1) for k, v in self.timings_ms.items()},
            "type": self.type,
            "answerable": self.answerable,
            "gold_answer": self.gold_answer,
            "evidence": list(self.evidence),
            "followup_of": self.followup_of,
            "exact_match": _json_float(self.exact_match),
            "token_f1": _json_float(self.token_f1),
            "hit_at_k": _json_float(self.hit_at_k),
            "recall_at_k": _json_float(self.recall_at_k),
            "reciprocal_rank": _json_float(self.reciprocal_rank),
            "citation_grounding": _json_float(self.citation_grounding),
            "citation_precision": _json_float(self.citation_precision),
            "citation_recall": _json_float(self.citation_recall),
            "model": self.model,
            "error": self.error,
        }


def _json_float(value: float) -> float | None:
    return None if math.isnan(value) else round(value, 4)


def score_answer(
    q: GoldQuestion, answer: Answer, k: int, max_words: int = DEFAULT_MAX_WORDS
) -> QuestionResult:
    """Score one Answer against its gold question (pure: no pipeline involved)."""
    text = metrics.strip_citation_markers(answer.text)
    facts = q.must_include
    nan = metrics.NAN
    if q.answerable:
        lenient = not answer.abstained and metrics.all_facts_present(text, facts)
        correct = lenient and metrics.strict_correct(text, facts, max_words)
        recall = metrics.fact_recall(text, facts)
        em = metrics.exact_match(text, q.answer)
        f1 = metrics.token_f1(text, q.answer)
    else:
        correct, recall, em, f1 = answer.abstained, nan, nan, nan
        lenient = correct
    ranked = [p.doc_id for p in answer.retrieved]
    if q.answerable and q.evidence:
        hit = metrics.hit_at_k(ranked, q.evidence, k)
        rec = metrics.recall_at_k(ranked, q.evidence, k)
        rr = metrics.reciprocal_rank(ranked, q.evidence)
    else:
        hit, rec, rr = nan, nan, nan
    quotes = {c.n: c.quote for c in answer.citations}
    grounding = metrics.citation_grounding(
        [(c.doc_id, c.chunk_id) for c in answer.citations], [(p.doc_id, p.chunk_id) for p in answer.retrieved]
    )
    if answer.abstained:
        precision, cite_recall = nan, nan
    else:
        precision = metrics.citation_precision(answer.text, quotes, facts)
        cite_recall = metrics.citation_recall(answer.text, quotes, facts)
    return QuestionResult(
        id=q.id,
        type=q.type,
        question=q.question,
        gold_answer=q.answer,
        answerable=q.answerable,
        answer=answer.text,
        abstained=answer.abstained,
        correct=correct,
        correct_lenient=lenient,
        words=metrics.word_count(answer.text),
        fact_recall=recall,
        exact_match=em,
        token_f1=f1,
        hit_at_k=hit,
        recall_at_k=rec,
        reciprocal_rank=rr,
        citation_grounding=grounding,
        citation_precision=precision,
        citation_recall=cite_recall,
        citations=tuple(
            {"n": c.n, "doc_id": c.doc_id, "chunk_id": c.chunk_id, "quote": c.quote} for c in answer.citations
        ),
        retrieved=tuple({"doc_id": p.doc_id, "chunk_id": p.chunk_id} for p in answer.retrieved),
        timings_ms=dict(answer.timings_ms),
        model=answer.model,
        evidence=q.evidence,
        followup_of=q.followup_of,
    )


def failed_result(q: GoldQuestion, error: str) -> QuestionResult:
    """The record of a question whose `ask` raised: scored as a wrong, non-abstaining empty answer."""
    empty = Answer(
        question=q.question,
        standalone_question=q.question,
        text="",
        abstained=False,
        citations=(),
        evidence=(),
        unsupported_sentences=(),
        retrieved=(),
        model="",
    )
    return dataclasses.replace(score_answer(q, empty, k=1), correct=False, correct_lenient=False, error=error)


# --- summary --------------------------------------------------------------------------------------


def group_metrics(results: Sequence[QuestionResult]) -> dict[str, float]:
    """Aggregate scores of a group of results (means over the questions where each is defined)."""
    answerable = [r for r in results if r.answerable]
    answered = [r for r in results if not r.abstained]
    abst = metrics.abstention_scores([r.abstained for r in results], [r.answerable for r in results])
    lengths = metrics.length_summary([r.words for r in answered if not r.error])
    return {
        "n": float(len(results)),
        "n_answerable": float(len(answerable)),
        "n_unanswerable": float(len(results) - len(answerable)),
        "strict_accuracy": metrics.mean(r.correct for r in answerable),
        "strict_overall_accuracy": metrics.mean(r.correct for r in results),
        "overall_accuracy": metrics.mean(r.correct_lenient for r in results),
        "accuracy": metrics.mean(r.correct_lenient for r in answerable),
        "words_median": lengths.median,
        "words_p90": lengths.p90,
        "words_max": lengths.max,
        "fact_recall": metrics.mean(r.fact_recall for r in answerable),
        "exact_match": metrics.mean(r.exact_match for r in answerable),
        "token_f1": metrics.mean(r.token_f1 for r in answerable),
        "abstention_precision": abst.precision,
        "abstention_recall": abst.recall,
        "false_abstention_rate": abst.false_abstention_rate,
        "hit_at_k": metrics.mean(r.hit_at_k for r in answerable),
        "recall_at_k": metrics.mean(r.recall_at_k for r in answerable),
        "mrr": metrics.mean(r.reciprocal_rank for r in answerable),
        "citation_grounding": metrics.mean(r.citation_grounding for r in answered),
        "citation_precision": metrics.mean(r.citation_precision for r in answered),
        "citation_recall": metrics.mean(r.citation_recall for r in answered),
        "errors": float(sum(1 for r in results if r.error)),
    }


METRIC_NOTES = {
    "strict_accuracy": "HEADLINE: answerable questions whose answer contains every must_include fact and has "
    "at most max_words words, citation markers not counted (higher is better)",
    "strict_overall_accuracy": "all questions: answerable as strict_accuracy, unanswerable when abstained "
    "(higher is better)",
    "overall_accuracy": "lenient: share of all questions handled correctly (answerable: all facts present, "
    "any length; unanswerable: abstained)",
    "accuracy": "lenient: answerable questions whose answer contains every must_include fact, any length "
    "(higher is better)",
    "words_median": "median answer length in words over answers that did not abstain (lower is terser)",
    "words_p90": "90th percentile of answer length in words (lower is terser)",
    "words_max": "longest answer in words (lower is terser)",
    "fact_recall": "share of must_include facts present, answerable questions (higher is better)",
    "exact_match": "SQuAD exact match against the reference answer (higher is better)",
    "token_f1": "SQuAD token F1 against the reference answer (higher is better)",
    "abstention_precision": "abstentions that were on unanswerable questions (higher is better)",
    "abstention_recall": "unanswerable questions the system abstained on (higher is better)",
    "false_abstention_rate": "answerable questions the system abstained on (lower is better)",
    "hit_at_k": "an evidence article among the first k distinct retrieved articles (higher is better)",
    "recall_at_k": "share of evidence articles among the first k distinct retrieved (higher is better)",
    "mrr": "mean reciprocal rank of the first evidence article (higher is better)",
    "citation_grounding": "citations that point to a retrieved passage (higher is better)",
    "citation_precision": "containment stand-in: citations whose quote holds a gold fact or matches the "
    "citing sentence (higher is better)",
    "citation_recall": "containment stand-in: answer sentences backed by one of their citations "
    "(higher is better)",
}


def _clean(obj: Any) -> Any:
    """Replace NaN by None (null) recursively and round floats, so summary.json is strict JSON."""
    if isinstance(obj, float):
        return None if math.isnan(obj) else round(obj, 4)
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_clean(v) for v in obj]
    return obj


def summarise(
    results: Sequence[QuestionResult],
    *,
    k: int,
    max_words: int = DEFAULT_MAX_WORDS,
    settings: dict[str, Any],
    gold_path: Path,
    gold_sha256: str,
    corpus_sha256: str,
    store_sha256: str,
    corpus_articles: int,
    corpus_path: str | None,
    seconds: float,
) -> dict[str, Any]:
    """The summary.json document: metrics overall and per type, latency, provenance. NaN -> null.

    `corpus.sha256` identifies the input: the files under --corpus when given (so a change in article
    cleaning does not make a run incomparable with its baseline), else the store's articles; the store's
    digest of doc ids and cleaned texts is always kept as `corpus.store_sha256`.
    """
    by_type: dict[str, list[QuestionResult]] = {}
    for r in results:
        by_type.setdefault(r.type, []).append(r)
    models = Counter(r.model for r in results if r.model)
    summary = {
        "schema": SCHEMA_VERSION,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "k": k,
        "max_words": max_words,
        "metrics": group_metrics(results),
        "by_type": {t: group_metrics(rs) for t, rs in sorted(by_type.items())},
        "latency_ms": metrics.latency_summary([r.timings_ms for r in results if not r.error]),
        "metric_notes": METRIC_NOTES,
        "model": models.most_common(1)[0][0] if models else None,
        "models": dict(models),
        "settings": settings,
        "gold": {"path": str(gold_path), "sha256": gold_sha256, "questions": len(results)},
        "corpus": {
            "sha256": corpus_sha256,
            "store_sha256": store_sha256,
            "articles": corpus_articles,
            "path": corpus_path,
        },
        "seconds": seconds,
    }
    cleaned: dict[str, Any] = _clean(summary)
    return cleaned


# --- running --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EvalRun:
    """Everything one configuration produced on one gold set."""

    label: str
    results: tuple[QuestionResult, ...]
    summary: dict[str, Any]
    ingest: dict[str, Any] | None = field(default=None)


def history_for(q: GoldQuestion, asked: dict[str, tuple[GoldQuestion, str]]) -> list[Turn]:
    """The conversation before a follow-up: its chain of parents, oldest first, with the system's answers."""
    chain: list[Turn] = []
    parent = q.followup_of
    while parent is not None and parent in asked:
        parent_q, parent_answer = asked[parent]
        chain.append(Turn(parent_q.question, parent_answer))
        parent = parent_q.followup_of
    return chain[::-1]


def ask_one(pipeline: PipelineLike, q: GoldQuestion, history: Sequence[Turn]) -> Answer:
    """`pipeline.ask` as of the question's `asked_on` day (None: as of today or the newest article)."""
    return pipeline.ask(q.question, history=history, as_of=q.asked_on)


def ask_all(
    pipeline: PipelineLike,
    questions: Sequence[GoldQuestion],
    k: int,
    progress: bool = True,
    label: str = "eval",
    max_words: int = DEFAULT_MAX_WORDS,
) -> list[QuestionResult]:
    """Ask every question in order (follow-ups with their history) and score each answer.

    A RagError raised by `ask` (e.g. a model timeout) is recorded on that question, which is then scored
    as wrong; any other exception propagates.
    """
    from rag.progress import progress_bar

    results: list[QuestionResult] = []
    asked: dict[str, tuple[GoldQuestion, str]] = {}
    bar = progress_bar("q", enabled=progress, desc=label)
    for q in questions:
        try:
            answer = ask_one(pipeline, q, history_for(q, asked))
        except RagError as e:
            result = failed_result(q, f"{type(e).__name__}: {e}")
            asked[q.id] = (q, "")
        else:
            result = score_answer(q, answer, k, max_words)
            asked[q.id] = (q, answer.text)
        results.append(result)
        if bar:
            strict = sum(r.correct for r in results)
            bar.update(len(results), len(questions), f"strict {strict}/{len(results)}")
    if bar:
        bar.close()
    return results


@dataclass(frozen=True)
class RunOptions:
    """How one evaluation run asks and scores: hit@k cut-off, strict length cap, progress bar, label."""

    k: int = 5
    max_words: int = DEFAULT_MAX_WORDS
    progress: bool = True
    label: str = "eval"


@contextmanager
def _temporary_store(settings: Settings) -> Iterator[Settings]:
    # An isolated embedded store: never a shared Chroma server, where a temporary collection would linger.
    with tempfile.TemporaryDirectory(prefix="newsrag-eval-") as tmp:
        yield settings.replace(store_dir=tmp, chroma_url="", collection=f"eval-{uuid.uuid4().hex[:12]}")


def _check_options(k: int, limit: int | None, max_words: int) -> None:
    if k < 1:
        raise EvalError(f"--k must be at least 1, got {k}.")
    if limit is not None and limit < 1:
        raise EvalError(f"--limit must be at least 1, got {limit}.")
    if max_words < 1:
        raise EvalError(f"--max-words must be at least 1, got {max_words}.")


def run_eval(
    settings: Settings,
    gold_path: Path,
    *,
    corpus: Path | None = None,
    limit: int | None = None,
    k: int = 5,
    max_words: int = DEFAULT_MAX_WORDS,
    progress: bool = True,
    label: str = "eval",
    pipeline_factory: PipelineFactory | None = None,
) -> EvalRun:
    """Load the gold file, (optionally) ingest `corpus` into a temporary store, ask and score everything."""
    _check_options(k, limit, max_words)
    questions = load_gold(gold_path)[:limit] if limit else load_gold(gold_path)
    options = RunOptions(k=k, max_words=max_words, progress=progress, label=label)
    if pipeline_factory is None:
        from rag import open_pipeline

        pipeline_factory = open_pipeline
    if corpus is not None:
        if not corpus.exists():
            raise EvalError(f"--corpus {corpus} does not exist; pass a folder or file of articles.")
        with _temporary_store(settings) as temp_settings:
            pipeline = pipeline_factory(temp_settings)
            return _run_on(pipeline, settings, questions, gold_path, corpus, options)
    return _run_on(pipeline_factory(settings), settings, questions, gold_path, None, options)


def ingest_corpus(pipeline: PipelineLike, corpus: Path, progress: bool) -> dict[str, Any]:
    """Ingest `corpus`; files or lines that fail to load are listed in the report and the run goes on.

    Raises EvalError only when nothing at all could be ingested.
    """
    from rag.progress import progress_bar

    bar = progress_bar("article", enabled=progress, desc="ingest")
    try:
        report = pipeline.ingest([corpus], progress=bar.update if bar else None)
    finally:
        if bar:
            bar.close()
    if report.added + report.updated + report.unchanged == 0:
        reasons = "; ".join(f"{s.path}: {s.reason}" for s in report.skipped[:3]) or "no article files"
        raise EvalError(f"--corpus {corpus}: nothing was ingested ({reasons}).")
    return report.to_dict()


def _run_on(
    pipeline: PipelineLike,
    settings: Settings,
    questions: Sequence[GoldQuestion],
    gold_path: Path,
    corpus: Path | None,
    options: RunOptions,
) -> EvalRun:
    """Run on an opened pipeline (closed at the end); `settings` are the ones reported in the summary."""
    started = time.perf_counter()
    try:
        ingest = ingest_corpus(pipeline, corpus, options.progress) if corpus is not None else None
        store_sha, n_articles = corpus_digest(pipeline)
        if n_articles == 0:
            raise EvalError(
                f"The store in {settings.store_dir} (collection {settings.collection!r}) holds no articles. "
                "Run `rag ingest data/articles` first, "
                "or pass --corpus PATH to evaluate on a temporary store."
            )
        results = ask_all(
            pipeline, questions, options.k, options.progress, options.label, max_words=options.max_words
        )
    finally:
        pipeline.close()
    summary = summarise(
        results,
        k=options.k,
        max_words=options.max_words,
        settings=settings.public_dict(),
        gold_path=gold_path,
        gold_sha256=sha256_file(gold_path),
        corpus_sha256=corpus_files_digest(corpus) if corpus is not None else store_sha,
        store_sha256=store_sha,
        corpus_articles=n_articles,
        corpus_path=str(corpus) if corpus else None,
        seconds=time.perf_counter() - started,
    )
    if ingest is not None:
        summary["ingest"] = ingest
    return EvalRun(label=options.label, results=tuple(results), summary=summary, ingest=ingest)


# --- output ---------------------------------------------------------------------------------------


def write_outputs(run: EvalRun, out_dir: Path) -> dict[str, Path]:
    """Write results.jsonl, summary.json and report.html into `out_dir` (created if needed)."""
    from eval.report import render_report

    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {
        "results": out_dir / "results.jsonl",
        "summary": out_dir / "summary.json",
        "report": out_dir / "report.html",
    }
    with paths["results"].open("w", encoding="utf-8") as f:
        for r in run.results:
            f.write(json.dumps(r.to_dict(), ensure_ascii=False, allow_nan=False) + "\n")
    paths["summary"].write_text(
        json.dumps(run.summary, ensure_ascii=False, indent=2, allow_nan=False) + "\n", encoding="utf-8"
    )
    paths["report"].write_text(render_report([run]), encoding="utf-8")
    return paths


def write_compare_outputs(runs: Sequence[EvalRun], out_dir: Path) -> dict[str, Path]:
    """Side-by-side outputs: DIR/report.html and DIR/summary.json for all runs, DIR/<label>/ for each."""
    from eval.report import render_report

    out_dir.mkdir(parents=True, exist_ok=True)
    for run in runs:
        write_outputs(run, out_dir / run.label)
    paths = {"summary": out_dir / "summary.json", "report": out_dir / "report.html"}
    combined = {"schema": SCHEMA_VERSION, "runs": {run.label: run.summary for run in runs}}
    paths["summary"].write_text(
        json.dumps(combined, ensure_ascii=False, indent=2, allow_nan=False) + "\n", encoding="utf-8"
    )
    paths["report"].write_text(render_report(runs), encoding="utf-8")
    return paths


TABLE_ROWS = (
    ("strict_accuracy", "STRICT accuracy (facts, <= {max_words} words)"),
    ("accuracy", "lenient accuracy (facts, any length)"),
    ("fact_recall", "fact recall"),
    ("token_f1", "token F1"),
    ("exact_match", "exact match"),
    ("abstention_precision", "abstention precision"),
    ("abstention_recall", "abstention recall"),
    ("false_abstention_rate", "false abstention rate (lower better)"),
    ("hit_at_k", "hit@{k}"),
    ("recall_at_k", "recall@{k}"),
    ("mrr", "MRR"),
    ("citation_grounding", "citations to retrieved"),
    ("citation_precision", "citation precision*"),
    ("citation_recall", "citation recall*"),
)


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{value:.{digits}f}"


def format_table(summaries: Sequence[dict[str, Any]], labels: Sequence[str] | None = None) -> str:
    """A compact plain-text table of the headline metrics, one column per summary."""
    labels = list(labels) if labels else [str(s.get("model") or "run") for s in summaries]
    k = summaries[0].get("k", 5) if summaries else 5
    max_words = summaries[0].get("max_words", DEFAULT_MAX_WORDS) if summaries else DEFAULT_MAX_WORDS
    names = [name.format(k=k, max_words=max_words) for _, name in TABLE_ROWS]
    names += ["answer words median / p90", "latency total p50 / p95 ms", "questions / errors"]
    rows: list[list[str]] = [[n] for n in names]
    for s in summaries:
        m = s["metrics"]
        for i, (key, _) in enumerate(TABLE_ROWS):
            rows[i].append(_fmt(m.get(key)))
        rows[-3].append(f"{_fmt(m.get('words_median'), 0)} / {_fmt(m.get('words_p90'), 0)}")
        total = s.get("latency_ms", {}).get("total", {})
        rows[-2].append(f"{_fmt(total.get('p50'), 0)} / {_fmt(total.get('p95'), 0)}")
        rows[-1].append(f"{int(m['n'])} / {int(m['errors'])}")
    header = ["metric", *labels]
    table = [header, *rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    lines = [
        "  ".join(
            cell.ljust(w) if i == 0 else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        )
        for row in table
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    lines.append("* containment stand-in (word overlap / gold fact in quote), not an entailment model")
    return "\n".join(lines)
