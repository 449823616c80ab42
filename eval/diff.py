"""Which questions flipped between two evaluation runs (strict correctness), from their results.jsonl.

    a, b = load_results(Path("out/before")), load_results(Path("out/after"))
    print(format_diff(diff_results(a, b), full=False))

`diff_results` and `format_diff` are pure; only `load_results` reads files.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rag.errors import EvalError

SHORT_ANSWER_CHARS = 160


@dataclass(frozen=True)
class Flip:
    """One question whose strict correctness differs between run A and run B."""

    id: str
    question: str
    answer_a: str
    answer_b: str
    words_a: int | None
    words_b: int | None
    fixed: bool  # wrong in A, right in B (else: right in A, wrong in B)


@dataclass(frozen=True)
class ResultsDiff:
    """Flips and counts over the questions both runs answered (matched by id)."""

    fixed: tuple[Flip, ...]
    broken: tuple[Flip, ...]
    right_in_both: int
    wrong_in_both: int
    only_in_a: tuple[str, ...]
    only_in_b: tuple[str, ...]


def strict_flag(record: Mapping[str, Any]) -> bool:
    """A results.jsonl line's strict correctness; lines written before strict accuracy hold only `correct`."""
    return bool(record.get("correct_strict", record.get("correct", False)))


def _flip(a: Mapping[str, Any], b: Mapping[str, Any]) -> Flip:
    return Flip(
        id=str(a["id"]),
        question=str(a.get("question", "")),
        answer_a=str(a.get("answer", "")),
        answer_b=str(b.get("answer", "")),
        words_a=a.get("words"),
        words_b=b.get("words"),
        fixed=strict_flag(b),
    )


def diff_results(a: Sequence[Mapping[str, Any]], b: Sequence[Mapping[str, Any]]) -> ResultsDiff:
    """Compare two runs' per-question records (in A's order); ids present in one run only are listed apart."""
    b_by_id = {str(r["id"]): r for r in b}
    a_ids = {str(r["id"]) for r in a}
    fixed: list[Flip] = []
    broken: list[Flip] = []
    both_right = both_wrong = 0
    for record in a:
        other = b_by_id.get(str(record["id"]))
        if other is None:
            continue
        was, now = strict_flag(record), strict_flag(other)
        if was == now:
            both_right, both_wrong = both_right + was, both_wrong + (not was)
        else:
            (fixed if now else broken).append(_flip(record, other))
    return ResultsDiff(
        fixed=tuple(fixed),
        broken=tuple(broken),
        right_in_both=both_right,
        wrong_in_both=both_wrong,
        only_in_a=tuple(str(r["id"]) for r in a if str(r["id"]) not in b_by_id),
        only_in_b=tuple(i for i in b_by_id if i not in a_ids),
    )


def _short(text: str, full: bool) -> str:
    flat = " ".join(text.split())
    if full or len(flat) <= SHORT_ANSWER_CHARS:
        return flat
    return flat[: SHORT_ANSWER_CHARS - 1] + "…"


def _flip_lines(flip: Flip, full: bool) -> list[str]:
    return [
        f"  {flip.id}: {_short(flip.question, full)}",
        f"    A ({flip.words_a if flip.words_a is not None else '?'} words): {_short(flip.answer_a, full)}",
        f"    B ({flip.words_b if flip.words_b is not None else '?'} words): {_short(flip.answer_b, full)}",
    ]


def format_diff(diff: ResultsDiff, full: bool = False, label_a: str = "A", label_b: str = "B") -> str:
    """Plain text: counts first, then each flipped question with both answers (trimmed unless `full`)."""
    lines = [
        f"A = {label_a}",
        f"B = {label_b}",
        f"fixed (wrong in A, right in B): {len(diff.fixed)}",
        f"broken (right in A, wrong in B): {len(diff.broken)}",
        f"right in both: {diff.right_in_both}; wrong in both: {diff.wrong_in_both}",
    ]
    if diff.only_in_a or diff.only_in_b:
        lines.append(f"only in A: {len(diff.only_in_a)}; only in B: {len(diff.only_in_b)} (not compared)")
    for title, flips in (("fixed", diff.fixed), ("broken", diff.broken)):
        if flips:
            lines += ["", f"{title}:"]
            for flip in flips:
                lines += _flip_lines(flip, full)
    return "\n".join(lines)


def load_results(folder: Path) -> list[dict[str, Any]]:
    """The records of DIR/results.jsonl (or of the file itself), as `rag eval --out DIR` wrote them."""
    file = folder / "results.jsonl" if folder.is_dir() else folder
    try:
        lines = file.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError as e:
        raise EvalError(f"--diff: {file} does not exist; pass two `rag eval --out` folders.") from e
    except (OSError, UnicodeDecodeError) as e:
        raise EvalError(f"--diff: {file} cannot be read as UTF-8 text: {e}") from e
    records = []
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as e:
            raise EvalError(f"--diff: {file}, line {n}: not valid JSON ({e.msg}).") from e
        if not isinstance(record, dict) or "id" not in record:
            raise EvalError(f"--diff: {file}, line {n}: expected a results.jsonl object with an 'id'.")
        records.append(record)
    return records
