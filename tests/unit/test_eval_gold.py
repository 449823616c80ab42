"""The committed gold files: schema, coverage, and facts that really occur in their evidence articles."""

from __future__ import annotations

import json
from collections import Counter
from datetime import date
from pathlib import Path

import pytest

from eval.metrics import fact_present, normalise
from eval.runner import QUESTION_TYPES, load_gold
from rag.errors import EvalError
from rag.ingest import load_articles

ROOT = Path(__file__).resolve().parents[2]
ARTICLES = ROOT / "data" / "articles"
GOLD_FILES = sorted((ROOT / "eval" / "gold").glob("*.jsonl"))
REQUIRED = {"id", "question", "answer", "must_include", "answerable", "evidence"}
OPTIONAL = {"type", "followup_of", "asked_on", "choices"}


def corpus_of(gold: Path) -> Path:
    """The articles a gold file was written from: eval/corpora/<name>/ if it exists, else data/articles."""
    own = ROOT / "eval" / "corpora" / gold.stem
    return own if own.is_dir() else ARTICLES


def article_texts(corpus: Path) -> dict[str, str]:
    """Each article's clean text by doc_id, as the pipeline reads it."""
    articles, skipped = load_articles([corpus], max_bytes=10_000_000)
    assert skipped == []
    return {a.doc_id: a.text for a in articles}


def test_gold_files_exist() -> None:
    assert [p.name for p in GOLD_FILES] == [
        "chip_takeover.jsonl",
        "flood.jsonl",
        "paris_talks.jsonl",
        "smoke.jsonl",
    ]


@pytest.mark.parametrize("path", GOLD_FILES, ids=lambda p: p.name)
def test_gold_file_schema(path: Path) -> None:
    questions = load_gold(path)  # raises EvalError on any schema problem
    for line in path.read_text(encoding="utf-8").splitlines():
        data = json.loads(line)
        assert REQUIRED <= set(data) <= REQUIRED | OPTIONAL, data["id"]
        assert data.get("type") in QUESTION_TYPES, data["id"]
    assert len({q.id for q in questions}) == len(questions)


@pytest.mark.parametrize("path", GOLD_FILES, ids=lambda p: p.name)
def test_evidence_and_facts_come_from_the_articles(path: Path) -> None:
    texts = article_texts(corpus_of(path))
    problems = []
    for q in load_gold(path):
        unknown = [d for d in q.evidence if d not in texts]
        if unknown:
            problems.append(f"{q.id}: unknown evidence doc_id(s) {unknown}")
            continue
        for fact in q.must_include:
            if not any(fact_present(texts[d], fact) for d in q.evidence):
                problems.append(f"{q.id}: fact {fact} occurs in none of {list(q.evidence)}")
    assert problems == []


@pytest.mark.parametrize("path", GOLD_FILES, ids=lambda p: p.name)
def test_unanswerable_questions_have_no_facts_or_evidence(path: Path) -> None:
    for q in load_gold(path):
        if not q.answerable:
            assert q.must_include == () and q.evidence == (), q.id
        else:
            assert q.must_include and q.evidence, q.id


def test_paris_talks_coverage() -> None:
    questions = load_gold(ROOT / "eval" / "gold" / "paris_talks.jsonl")
    types = Counter(q.type for q in questions)
    assert len(questions) >= 60
    assert sum(not q.answerable for q in questions) >= 12
    for qtype in (
        "who",
        "what",
        "where",
        "when",
        "how_many",
        "quote",
        "multi_doc",
        "outlet_diff",
        "followup",
    ):
        assert types[qtype] >= 3, qtype
    # every follow-up points at the question just before it, so the runner has its answer as history
    ids = [q.id for q in questions]
    for i, q in enumerate(questions):
        if q.followup_of is not None:
            assert ids[i - 1] == q.followup_of, q.id
    # every article is the evidence of some question
    assert {d for q in questions for d in q.evidence} == set(article_texts(ARTICLES))


def test_smoke_set_shape() -> None:
    questions = load_gold(ROOT / "eval" / "gold" / "smoke.jsonl")
    assert len(questions) == 8
    assert sum(not q.answerable for q in questions) == 2


def test_no_question_is_duplicated_in_paris_talks() -> None:
    questions = load_gold(ROOT / "eval" / "gold" / "paris_talks.jsonl")
    seen = Counter(normalise(q.question) for q in questions)
    assert [q for q, n in seen.items() if n > 1] == []


# --- load_gold's error messages on malformed files ---


def write(tmp_path: Path, *lines: str) -> Path:
    path = tmp_path / "gold.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


GOOD_RECORD = {"id": "a", "question": "Who?", "answer": "X", "must_include": [["X"]], "answerable": True,
               "evidence": ["d"]}  # fmt: skip
GOOD = json.dumps(GOOD_RECORD)


def variant(**changes: object) -> str:
    """A second gold line: GOOD with id "b" and the given fields changed (None removes a field)."""
    record = {**GOOD_RECORD, "id": "b", **changes}
    return json.dumps({k: v for k, v in record.items() if v is not None})


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{not json", r"gold\.jsonl, line 2: not valid JSON"),
        ("[1, 2]", r"line 2: expected a JSON object, got list"),
        (
            variant(answer=None, must_include=None, answerable=None, evidence=None),
            r"line 2: missing field\(s\) answer, must_include, answerable, evidence",
        ),
        (variant(answerable="yes"), r"line 2: field 'answerable' must be bool, got str"),
        (variant(evidence="d"), r"line 2: field 'evidence' must be list, got str"),
        (variant(must_include=["X"]), r"line 2: must_include\[0\] must be a non-empty list"),
        (variant(must_include=[["X", ""]]), r"line 2: must_include\[0\] must be a non-empty list"),
        (variant(must_include=[]), r"line 2: answerable question 'b' needs at least one"),
        (
            variant(answerable=False),
            r"line 2: unanswerable question 'b' must have empty must_include and evidence",
        ),
        (GOOD, r"line 2: duplicate id 'a' \(first used on line 1\)"),
        (variant(followup_of="zz"), r"line 2: followup_of 'zz' names no earlier"),
        (variant(type=3), r"line 2: optional field 'type' must be a non-empty"),
        (variant(question=" "), r"line 2: question 'b' has an empty 'question'"),
        (variant(question=None), r"line 2: missing field\(s\) question"),
        (variant(note="free"), r"line 2: unknown field\(s\) note; allowed: id, question"),
        (variant(asked_on="2023-13-01"), r"line 2: field 'asked_on' must be a date like 2023-01-05"),
        (variant(asked_on="5 Jan 2023"), r"line 2: field 'asked_on' must be a date"),
        (variant(asked_on="20230105"), r"line 2: field 'asked_on' must be a date"),
        (variant(choices="X"), r"line 2: field 'choices' must be a list of non-empty strings"),
        (variant(choices=["X", ""]), r"line 2: field 'choices' must be a list of non-empty strings"),
    ],
)
def test_load_gold_names_file_line_and_problem(tmp_path: Path, line: str, message: str) -> None:
    with pytest.raises(EvalError, match=message):
        load_gold(write(tmp_path, GOOD, line))


def test_load_gold_missing_and_empty_files(tmp_path: Path) -> None:
    with pytest.raises(EvalError, match="does not exist"):
        load_gold(tmp_path / "nope.jsonl")
    with pytest.raises(EvalError, match="holds no questions"):
        load_gold(write(tmp_path, "", "  "))


def test_load_gold_accepts_optional_fields_and_blank_lines(tmp_path: Path) -> None:
    extra = variant(followup_of="a", asked_on="2024-02-29", choices=["X", "Y"])
    questions = load_gold(write(tmp_path, GOOD, "", extra))
    assert [(q.id, q.line, q.followup_of, q.type) for q in questions] == [
        ("a", 1, None, "other"),
        ("b", 3, "a", "other"),
    ]
    assert questions[0].must_include == (("X",),)
    assert (questions[0].asked_on, questions[0].choices) == (None, ())
    assert (questions[1].asked_on, questions[1].choices) == (date(2024, 2, 29), ("X", "Y"))
