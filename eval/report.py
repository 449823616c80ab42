"""A self-contained HTML report of one or more evaluation runs (no scripts, no external files).

Plots are hand-drawn inline SVG: metric bars per question type and a latency histogram. Every piece of
text that comes from articles, questions or answers is HTML-escaped.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from eval.runner import EvalRun, QuestionResult

PALETTE = ("#2b6cb0", "#dd6b20", "#38a169", "#805ad5", "#d53f8c", "#718096")

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;max-width:1200px;
color:#1a202c;padding:0 1rem}
h1{font-size:1.6rem}h2{font-size:1.25rem;margin-top:2rem;border-bottom:1px solid #e2e8f0}
table{border-collapse:collapse;margin:.5rem 0;font-size:.9rem}
th,td{border:1px solid #e2e8f0;padding:.3rem .5rem;vertical-align:top;text-align:left}
td.num{text-align:right;font-variant-numeric:tabular-nums}
th{background:#f7fafc}.muted{color:#718096;font-size:.85rem}
table.fail td{max-width:28rem}table.fail td:first-child{white-space:nowrap}
.quote{color:#2d3748;font-style:italic}
.tag{display:inline-block;padding:0 .35rem;border-radius:.25rem;background:#edf2f7;font-size:.8rem}
code{font-size:.8rem;word-break:break-all}
"""

HEADLINE = (
    ("strict_accuracy", "STRICT accuracy (all facts, at most max_words words)"),
    ("accuracy", "lenient accuracy (all facts, any length)"),
    ("strict_overall_accuracy", "strict overall accuracy (unanswerable: abstained)"),
    ("overall_accuracy", "lenient overall accuracy"),
    ("words_median", "answer words, median"),
    ("words_p90", "answer words, p90"),
    ("words_max", "answer words, max"),
    ("fact_recall", "fact recall"),
    ("token_f1", "token F1"),
    ("exact_match", "exact match"),
    ("abstention_precision", "abstention precision"),
    ("abstention_recall", "abstention recall"),
    ("false_abstention_rate", "false abstention rate (lower is better)"),
    ("hit_at_k", "hit@k"),
    ("recall_at_k", "recall@k"),
    ("mrr", "MRR"),
    ("citation_grounding", "citations pointing to retrieved passages"),
    ("citation_precision", "citation precision (containment stand-in)"),
    ("citation_recall", "citation recall (containment stand-in)"),
    ("errors", "errors"),
)
SETTINGS_SHOWN = (
    "llm",
    "local_model",
    "retrieval",
    "embedding_model",
    "top_k",
    "evidence_max",
    "chunk_tokens",
)


def esc(value: object) -> str:
    """HTML-escape any value (quotes included) for element text and attribute values."""
    return html.escape(str(value), quote=True)


def _num(value: Any, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if isinstance(value, float) and value.is_integer() and digits == 0:
        return str(int(value))
    return f"{value:.{digits}f}"


# --- SVG plots ------------------------------------------------------------------------------------


def bar_chart_svg(
    title: str, categories: Sequence[str], series: Sequence[tuple[str, Sequence[float | None]]]
) -> str:
    """Grouped vertical bars on a 0..1 axis: one group per category, one bar per series. None = no bar."""
    width, height, left, bottom, top = 760, 260, 40, 70, 30
    plot_w, plot_h = width - left - 10, height - bottom - top
    group_w = plot_w / max(1, len(categories))
    bar_w = min(48.0, max(2.0, (group_w - 8) / max(1, len(series))))
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
        f'aria-label="{esc(title)}"><title>{esc(title)}</title>',
        f'<text x="{left}" y="18" font-size="13" font-weight="600">{esc(title)}</text>',
    ]
    for tick in (0.0, 0.25, 0.5, 0.75, 1.0):
        y = top + plot_h * (1 - tick)
        parts.append(f'<line x1="{left}" x2="{width - 10}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e2e8f0"/>')
        parts.append(f'<text x="{left - 4}" y="{y + 4:.1f}" font-size="10" text-anchor="end">{tick:g}</text>')
    for ci, category in enumerate(categories):
        x0 = left + ci * group_w + 4
        for si, (label, values) in enumerate(series):
            value = values[ci]
            if value is None or math.isnan(value):
                continue
            h = plot_h * max(0.0, min(1.0, value))
            x = x0 + si * bar_w
            parts.append(
                f'<rect x="{x:.1f}" y="{top + plot_h - h:.1f}" width="{bar_w - 1:.1f}" height="{h:.1f}" '
                f'fill="{PALETTE[si % len(PALETTE)]}"><title>{esc(label)} / {esc(category)}: '
                f"{value:.3f}</title></rect>"
            )
        cx = x0 + bar_w * len(series) / 2
        parts.append(
            f'<text x="{cx:.1f}" y="{top + plot_h + 14}" font-size="10" text-anchor="end" '
            f'transform="rotate(-30 {cx:.1f} {top + plot_h + 14})">{esc(category)}</text>'
        )
    parts.append(_legend_svg([label for label, _ in series], width - 10, 18))
    parts.append("</svg>")
    return "".join(parts)


def _legend_svg(labels: Sequence[str], right: float, y: float) -> str:
    out = []
    x = right
    for i, label in reversed(list(enumerate(labels))):
        x -= 14 + 7 * len(label)
        out.append(
            f'<rect x="{x:.0f}" y="{y - 9}" width="10" height="10" fill="{PALETTE[i % len(PALETTE)]}"/>'
        )
        out.append(f'<text x="{x + 13:.0f}" y="{y}" font-size="11">{esc(label)}</text>')
    return "".join(out)


def histogram_svg(title: str, series: Sequence[tuple[str, Sequence[float]]], bins: int = 12) -> str:
    """Overlaid histograms (counts) of several value lists on a shared linear axis (e.g. latency in ms)."""
    width, height, left, bottom, top = 760, 240, 40, 40, 30
    plot_w, plot_h = width - left - 10, height - bottom - top
    values = [v for _, vs in series for v in vs]
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
        f'aria-label="{esc(title)}"><title>{esc(title)}</title>',
        f'<text x="{left}" y="18" font-size="13" font-weight="600">{esc(title)}</text>',
    ]
    if not values:
        parts.append(f'<text x="{left}" y="{top + 20}" font-size="12">no timings reported</text></svg>')
        return "".join(parts)
    lo, hi = min(values), max(values)
    span = (hi - lo) or 1.0
    counts = []
    for _, vs in series:
        c = [0] * bins
        for v in vs:
            c[min(bins - 1, int((v - lo) / span * bins))] += 1
        counts.append(c)
    peak = max(max(c) for c in counts) or 1
    bin_w = plot_w / bins
    bar_w = bin_w / max(1, len(series))
    for si, c in enumerate(counts):
        for b, n in enumerate(c):
            if not n:
                continue
            h = plot_h * n / peak
            x = left + b * bin_w + si * bar_w
            lo_b, hi_b = lo + span * b / bins, lo + span * (b + 1) / bins
            parts.append(
                f'<rect x="{x:.1f}" y="{top + plot_h - h:.1f}" width="{bar_w - 1:.1f}" height="{h:.1f}" '
                f'fill="{PALETTE[si % len(PALETTE)]}" fill-opacity="0.85"><title>{esc(series[si][0])}: {n} '
                f"in {lo_b:.0f}-{hi_b:.0f} ms</title></rect>"
            )
    axis_y = top + plot_h
    parts.append(f'<line x1="{left}" x2="{width - 10}" y1="{axis_y}" y2="{axis_y}" stroke="#a0aec0"/>')
    for i in range(5):
        x = left + plot_w * i / 4
        anchor = "end" if i == 4 else "middle"
        parts.append(
            f'<text x="{x:.1f}" y="{axis_y + 14}" font-size="10" text-anchor="{anchor}">'
            f"{lo + span * i / 4:.0f}</text>"
        )
    parts.append(f'<text x="{width - 10}" y="{axis_y + 30}" font-size="10" text-anchor="end">ms</text>')
    parts.append(f'<text x="{left - 4}" y="{top + 4}" font-size="10" text-anchor="end">{peak}</text>')
    parts.append(_legend_svg([label for label, _ in series], width - 10, 18))
    parts.append("</svg>")
    return "".join(parts)


# --- HTML sections --------------------------------------------------------------------------------


def _headline_table(runs: Sequence[EvalRun]) -> str:
    k = runs[0].summary.get("k", 5)
    head = "".join(f"<th>{esc(r.label)}</th>" for r in runs)
    rows = []
    for key, name in HEADLINE:
        digits = 0 if key == "errors" or key.startswith("words_") else 3
        cells = "".join(f'<td class="num">{_num(r.summary["metrics"].get(key), digits)}</td>' for r in runs)
        rows.append(f"<tr><th>{esc(name.replace('@k', f'@{k}'))}</th>{cells}</tr>")
    return f"<table><tr><th>metric</th>{head}</tr>{''.join(rows)}</table>"


def _provenance_table(runs: Sequence[EvalRun]) -> str:
    head = "".join(f"<th>{esc(r.label)}</th>" for r in runs)
    rows = [
        ("model", [r.summary.get("model") for r in runs]),
        *[(name, [r.summary.get("settings", {}).get(name) for r in runs]) for name in SETTINGS_SHOWN],
        ("questions", [r.summary["gold"].get("questions") for r in runs]),
        ("gold sha256", [str(r.summary["gold"].get("sha256", ""))[:16] for r in runs]),
        ("corpus sha256", [str(r.summary["corpus"].get("sha256", ""))[:16] for r in runs]),
        ("articles", [r.summary["corpus"].get("articles") for r in runs]),
        ("seconds", [_num(r.summary.get("seconds"), 1) for r in runs]),
    ]
    body = "".join(
        f"<tr><th>{esc(name)}</th>{''.join(f'<td><code>{esc(v)}</code></td>' for v in values)}</tr>"
        for name, values in rows
    )
    return f"<table><tr><th></th>{head}</tr>{body}</table>"


def _latency_table(runs: Sequence[EvalRun]) -> str:
    stages = sorted({s for r in runs for s in r.summary.get("latency_ms", {})})
    head = "".join(f"<th>{esc(r.label)} p50</th><th>{esc(r.label)} p95</th>" for r in runs)
    rows = []
    for stage in stages:
        cells = ""
        for r in runs:
            stats = r.summary.get("latency_ms", {}).get(stage, {})
            for q in ("p50", "p95"):
                cells += f'<td class="num">{_num(stats.get(q), 0)}</td>'
        rows.append(f"<tr><th>{esc(stage)}</th>{cells}</tr>")
    return f"<table><tr><th>stage (ms)</th>{head}</tr>{''.join(rows)}</table>"


def _type_charts(runs: Sequence[EvalRun]) -> str:
    types = sorted({t for r in runs for t in r.summary.get("by_type", {})})
    charts = []
    for key, title in (
        ("strict_overall_accuracy", "Correct (strict) by question type (unanswerable: abstained)"),
        ("fact_recall", "Fact recall by question type"),
        ("hit_at_k", f"hit@{runs[0].summary.get('k', 5)} by question type"),
        ("citation_precision", "Citation precision (containment stand-in) by question type"),
    ):
        series = [(r.label, [r.summary["by_type"].get(t, {}).get(key) for t in types]) for r in runs]
        charts.append(bar_chart_svg(title, types, series))
    return "".join(f"<div>{c}</div>" for c in charts)


def _citations_html(result: QuestionResult) -> str:
    if not result.citations:
        return '<span class="muted">none</span>'
    items = "".join(
        f'<li><span class="tag">[{esc(c.get("n", "?"))}] {esc(c["doc_id"])}</span> '
        f'<span class="quote">{esc(c["quote"])}</span></li>'
        for c in result.citations
    )
    return f"<ul>{items}</ul>"


BY_TYPE_COLUMNS = (
    ("n", "questions", 0),
    ("strict_accuracy", "strict", 3),
    ("accuracy", "lenient", 3),
    ("exact_match", "EM", 3),
    ("token_f1", "F1", 3),
    ("abstention_recall", "abstention recall", 3),
    ("false_abstention_rate", "false abstention", 3),
    ("hit_at_k", "hit@k", 3),
    ("words_median", "words median", 0),
    ("words_p90", "words p90", 0),
)


def _by_type_table(run: EvalRun) -> str:
    """Every question type's figures in one table (one run)."""
    head = "".join(f"<th>{esc(name)}</th>" for _, name, _ in BY_TYPE_COLUMNS)
    rows = []
    for qtype, m in sorted(run.summary.get("by_type", {}).items()):
        cells = "".join(f'<td class="num">{_num(m.get(key), d)}</td>' for key, _, d in BY_TYPE_COLUMNS)
        rows.append(f"<tr><th>{esc(qtype)}</th>{cells}</tr>")
    return f"<table><tr><th>type</th>{head}</tr>{''.join(rows)}</table>"


def worst_answers(results: Sequence[QuestionResult], by: str, n: int = 10) -> list[QuestionResult]:
    """The `n` longest answers (`by="words"`) or slowest questions (`by="latency"`), worst first."""
    if by == "words":
        return sorted(results, key=lambda r: -r.words)[:n]
    if by == "latency":
        timed = [r for r in results if "total" in r.timings_ms]
        return sorted(timed, key=lambda r: -r.timings_ms["total"])[:n]
    raise ValueError(f"by must be 'words' or 'latency', got {by!r}.")


def _ranked_table(results: Sequence[QuestionResult]) -> str:
    if not results:
        return "<p class='muted'>None.</p>"
    rows = "".join(
        f"<tr><td><code>{esc(r.id)}</code></td><td class='num'>{r.words}</td>"
        f"<td class='num'>{_num(r.timings_ms.get('total'), 0)}</td>"
        f"<td>{'right' if r.correct else 'wrong'}</td><td>{esc(r.question)}</td><td>{esc(r.answer)}</td></tr>"
        for r in results
    )
    return (
        "<table class='fail'><tr><th>id</th><th>words</th><th>ms</th><th>strict</th><th>question</th>"
        f"<th>system answer</th></tr>{rows}</table>"
    )


def _worst_tables(run: EvalRun) -> str:
    return (
        f"<h4>Longest answers</h4>{_ranked_table(worst_answers(run.results, 'words'))}"
        f"<h4>Slowest questions</h4>{_ranked_table(worst_answers(run.results, 'latency'))}"
    )


def _failures_table(run: EvalRun) -> str:
    failures = [r for r in run.results if not r.correct]
    if not failures:
        return "<p>No failures (strict).</p>"
    rows = []
    for r in failures:
        status = "error: " + r.error if r.error else ("abstained" if r.abstained else "answered")
        expected = "(should abstain)" if not r.answerable else r.gold_answer
        rows.append(
            f"<tr><td><code>{esc(r.id)}</code><br><span class='tag'>{esc(r.type)}</span></td>"
            f"<td>{esc(r.question)}</td><td>{esc(expected)}</td>"
            f"<td>{esc(r.answer) or '<span class=muted>(empty)</span>'}<br>"
            f"<span class='muted'>{esc(status)}; {r.words} words; lenient "
            f"{'right' if r.correct_lenient else 'wrong'}; fact recall {_num(r.fact_recall, 2)}</span></td>"
            f"<td>{_citations_html(r)}</td></tr>"
        )
    return (
        f"<p>{len(failures)} of {len(run.results)} questions failed (strict).</p><table class='fail'><tr><th>id</th>"
        "<th>question</th><th>gold answer</th><th>system answer</th><th>citations</th></tr>"
        f"{''.join(rows)}</table>"
    )


def render_report(runs: Sequence[EvalRun]) -> str:
    """The full HTML document for one run, or several runs side by side (same gold set)."""
    if not runs:
        raise ValueError("render_report needs at least one run.")
    title = "newsrag evaluation" + (" — " + " vs ".join(r.label for r in runs) if len(runs) > 1 else "")
    first = runs[0].summary
    latency = histogram_svg(
        "Total latency per question",
        [(r.label, [q.timings_ms["total"] for q in r.results if "total" in q.timings_ms]) for r in runs],
    )
    failures = "".join(f"<h3>{esc(r.label)}</h3>{_failures_table(r)}" for r in runs)
    worst = "".join(f"<h3>{esc(r.label)}</h3>{_worst_tables(r)}" for r in runs)
    by_type = "".join(f"<h3>{esc(r.label)}</h3>{_by_type_table(r)}" for r in runs)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<title>{esc(title)}</title><style>{_CSS}</style></head><body>
<h1>{esc(title)}</h1>
<p class="muted">gold file <code>{esc(first["gold"]["path"])}</code>,
created {esc(first.get("created_at", ""))}. Strict accuracy, the headline, needs every fact in an answer of
at most {esc(first.get("max_words", "?"))} words (citation markers not counted); lenient accuracy drops the cap.
Citation precision and recall use a containment stand-in (a gold fact in the quote, or word overlap with the
citing sentence), not an entailment model.</p>
<h2>Configuration</h2>{_provenance_table(runs)}
<h2>Headline metrics</h2>{_headline_table(runs)}
<h2>By question type</h2>{_type_charts(runs)}{by_type}
<h2>Latency</h2>{latency}{_latency_table(runs)}
<h2>Wrong answers (strict)</h2>{failures}
<h2>Longest and slowest answers</h2>{worst}
</body></html>
"""
