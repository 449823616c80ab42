"""eval.diff on hand-made results.jsonl records: flips, counts, ids missing on one side, formatting."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from eval import cli
from eval import diff as d
from rag.errors import EvalError
from rag.settings import Settings


def rec(qid: str, strict: bool, answer: str = "", lenient: bool | None = None) -> dict[str, object]:
    return {"id": qid, "question": f"Question {qid}?", "answer": answer, "correct": strict,
            "correct_strict": strict, "correct_lenient": strict if lenient is None else lenient,
            "words": len(answer.split())}  # fmt: skip


A = [rec("q1", True, "Ada"), rec("q2", False, "long " * 80, lenient=True), rec("q3", False), rec("q4", True)]
B = [rec("q2", True, "Ada Lovelace"), rec("q1", False, "nobody"), rec("q3", False), rec("q5", True)]


def test_diff_lists_fixed_and_broken_with_counts() -> None:
    result = d.diff_results(A, B)
    assert [(f.id, f.answer_a.strip()[:4], f.answer_b, f.words_a, f.words_b) for f in result.fixed] == [
        ("q2", "long", "Ada Lovelace", 80, 2)
    ]
    assert [(f.id, f.answer_a, f.answer_b, f.fixed) for f in result.broken] == [
        ("q1", "Ada", "nobody", False)
    ]
    assert (result.right_in_both, result.wrong_in_both) == (0, 1)
    assert (result.only_in_a, result.only_in_b) == (("q4",), ("q5",))


def test_diff_of_a_run_with_itself_has_no_flips() -> None:
    result = d.diff_results(A, A)
    assert (result.fixed, result.broken, result.right_in_both, result.wrong_in_both) == ((), (), 2, 2)


def test_strict_flag_falls_back_to_correct_for_old_results() -> None:
    assert d.strict_flag({"id": "x", "correct": True}) is True
    assert d.strict_flag({"id": "x", "correct": True, "correct_strict": False}) is False
    assert d.strict_flag({"id": "x"}) is False


def test_format_diff_trims_answers_unless_full() -> None:
    result = d.diff_results(A, B)
    short = d.format_diff(result, label_a="out/a", label_b="out/b")
    lines = short.splitlines()
    assert lines[:6] == [
        "A = out/a",
        "B = out/b",
        "fixed (wrong in A, right in B): 1",
        "broken (right in A, wrong in B): 1",
        "right in both: 0; wrong in both: 1",
        "only in A: 1; only in B: 1 (not compared)",
    ]
    trimmed = next(line for line in lines if line.startswith("    A (80 words)"))
    assert trimmed.endswith("…") and len(trimmed) == len("    A (80 words): ") + d.SHORT_ANSWER_CHARS
    assert "    B (2 words): Ada Lovelace" in lines and "  q1: Question q1?" in lines
    full = d.format_diff(result, full=True)
    assert ("long " * 80).strip() in full


def write(folder: Path, records: list[dict[str, object]]) -> Path:
    folder.mkdir()
    (folder / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return folder


def test_load_results_errors(tmp_path: Path) -> None:
    with pytest.raises(EvalError, match="does not exist; pass two `rag eval --out` folders"):
        d.load_results(tmp_path / "missing")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "q1"}\n\n{oops\n', encoding="utf-8")
    with pytest.raises(EvalError, match=r"bad\.jsonl, line 3: not valid JSON"):
        d.load_results(bad)
    bad.write_text('{"answer": "x"}\n', encoding="utf-8")
    with pytest.raises(EvalError, match="line 1: expected a results.jsonl object with an 'id'"):
        d.load_results(bad)


def test_cli_diff(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    a, b = write(tmp_path / "a", A), write(tmp_path / "b", B)
    assert cli.run(parser.parse_args(["--diff", str(a), str(b)]), Settings()) == 0
    out = capsys.readouterr().out
    assert "fixed (wrong in A, right in B): 1" in out and "…" in out
    assert cli.run(parser.parse_args(["--diff", str(a), str(b), "--full"]), Settings()) == 0
    assert "…" not in capsys.readouterr().out
