"""newsrag's evaluation suite: gold questions, deterministic metrics, reports and a regression gate.

    gold/        gold question files (JSONL; schema in eval/README.md)
    metrics.py   pure scoring functions (answer, abstention, retrieval, citation, latency)
    runner.py    load + validate a gold file, ask every question through `rag`'s public API, summarise
    report.py    the self-contained report.html (inline SVG plots, failures side by side)
    gate.py      compare a summary with a committed baseline (eval/baselines/<name>/summary.json)
    cli.py       `rag eval` options and command body

Nothing is imported here, so `import eval.cli` stays light.
"""
