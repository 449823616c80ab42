"""The regression gate: compare a fresh summary.json with a committed baseline.

    problems = find_regressions(summary, load_summary(Path("eval/baselines/fast-none")))
    if problems: print("\n".join(problems)); exit 1

A metric regresses when it moves the wrong way by more than its tolerance (absolute). Runs that are not
comparable (different gold file, corpus, k, question count or backend) are reported as problems too, since
their numbers say nothing about a regression: regenerate the baseline when the gold data changes on purpose.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from rag.errors import EvalError

# metric -> largest tolerated absolute drop. Strict accuracy is the headline; `accuracy` and
# `overall_accuracy` are the lenient (any length) figures, the only ones a schema-1 baseline holds.
HIGHER_IS_BETTER: dict[str, float] = {
    "strict_accuracy": 0.05,
    "strict_overall_accuracy": 0.05,
    "accuracy": 0.08,
    "overall_accuracy": 0.08,
    "fact_recall": 0.05,
    "hit_at_k": 0.05,
    "recall_at_k": 0.05,
    "mrr": 0.05,
    "abstention_recall": 0.10,
    "citation_grounding": 0.05,
    "citation_precision": 0.10,
}
# metric -> largest tolerated absolute rise
LOWER_IS_BETTER: dict[str, float] = {
    "false_abstention_rate": 0.10,
    "errors": 0.0,  # a count: any new failed question (model crash, timeout error) is a regression
    "words_median": 10.0,  # words: answers growing longer is a regression even when they stay correct
}
TOLERANCES_FILE = "tolerances.json"
# settings that change what the numbers mean: a baseline made with another value is not comparable
COMPARABLE_SETTINGS = ("llm", "local_model", "local_model_path")


def load_summary(path: Path) -> dict[str, Any]:
    """Read a summary.json, given the file or the folder holding it."""
    file = path / "summary.json" if path.is_dir() else path
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError as e:
        raise EvalError(f"Baseline {file} does not exist; pass a folder holding summary.json.") from e
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise EvalError(f"Baseline {file} is not a readable summary.json: {e}") from e
    if not isinstance(data, dict) or not isinstance(data.get("metrics"), dict):
        raise EvalError(f"Baseline {file} has no 'metrics' object; is it a `rag eval --out` summary.json?")
    return data


def load_tolerances(baseline: Path) -> tuple[dict[str, float], dict[str, float]]:
    """The default tolerances, updated from an optional `tolerances.json` beside the baseline's summary.

    Its shape: {"higher_is_better": {"accuracy": 0.2, ...}, "lower_is_better": {...}}. Small gold sets need
    wider tolerances: on 8 questions one answer moves accuracy by 0.125.
    """
    higher, lower = dict(HIGHER_IS_BETTER), dict(LOWER_IS_BETTER)
    file = (baseline if baseline.is_dir() else baseline.parent) / TOLERANCES_FILE
    if not file.is_file():
        return higher, lower
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
        for key, target in (("higher_is_better", higher), ("lower_is_better", lower)):
            for name, value in data.get(key, {}).items():
                if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                    raise ValueError(f"{key}.{name} must be a non-negative number, got {value!r}")
                target[name] = float(value)
    except (OSError, json.JSONDecodeError, ValueError, AttributeError) as e:
        raise EvalError(f"Tolerances file {file} is invalid: {e}") from e
    return higher, lower


def _value(metrics: Mapping[str, Any], name: str) -> float | None:
    value = metrics.get(name)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return float(value)


def comparability_problems(summary: Mapping[str, Any], baseline: Mapping[str, Any]) -> list[str]:
    """Reasons why `summary` cannot be judged against `baseline` (empty when they are comparable)."""
    problems = []
    checks = [
        ("gold file sha256", summary.get("gold", {}).get("sha256"), baseline.get("gold", {}).get("sha256")),
        (
            "number of questions",
            summary.get("gold", {}).get("questions"),
            baseline.get("gold", {}).get("questions"),
        ),
        ("corpus sha256", summary.get("corpus", {}).get("sha256"), baseline.get("corpus", {}).get("sha256")),
        ("k", summary.get("k"), baseline.get("k")),
        ("max_words", summary.get("max_words"), baseline.get("max_words")),
    ]
    for name in COMPARABLE_SETTINGS:
        checks.append(
            (f"setting {name}", summary.get("settings", {}).get(name), baseline.get("settings", {}).get(name))
        )
    for name, now, then in checks:
        if then is not None and now != then:
            problems.append(
                f"not comparable: {name} is {now!r} but the baseline has {then!r}; run with the baseline's "
                "gold file, corpus and options, or regenerate the baseline."
            )
    return problems


def legacy_note(baseline: Mapping[str, Any]) -> str | None:
    """A note when `baseline` predates strict accuracy (schema 1): it is then compared on lenient figures only."""
    if _value(baseline.get("metrics", {}), "strict_accuracy") is not None:
        return None
    return (
        "the baseline has no strict accuracy (an older summary): compared on the lenient figures only; "
        "regenerate it to gate strict accuracy and answer length."
    )


def find_regressions(
    summary: Mapping[str, Any],
    baseline: Mapping[str, Any],
    higher_is_better: Mapping[str, float] = HIGHER_IS_BETTER,
    lower_is_better: Mapping[str, float] = LOWER_IS_BETTER,
) -> list[str]:
    """Human-readable regressions of `summary` against `baseline`; an empty list means the gate passes.

    A metric the baseline does not define (null) is not checked; a metric the baseline defines but the new
    run does not is a regression.
    """
    problems = comparability_problems(summary, baseline)
    now_metrics, then_metrics = summary.get("metrics", {}), baseline.get("metrics", {})
    for name, tolerance, sign in [
        *((n, t, 1.0) for n, t in higher_is_better.items()),
        *((n, t, -1.0) for n, t in lower_is_better.items()),
    ]:
        then = _value(then_metrics, name)
        if then is None:
            continue
        now = _value(now_metrics, name)
        if now is None:
            problems.append(f"{name}: was {then:.3f} in the baseline, now undefined.")
            continue
        change = (now - then) * sign
        if change < -tolerance - 1e-9:
            direction = "dropped" if sign > 0 else "rose"
            problems.append(f"{name} {direction} from {then:.3f} to {now:.3f} (tolerance {tolerance:.2f}).")
    return problems
