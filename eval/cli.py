"""`rag eval`: the argument parser part and the command body; rag/cli.py calls both (imports stay light).

    rag eval                                    # packaged gold set on the current store
    rag eval --corpus data/articles --llm none --out out/eval
    rag eval --gold my.jsonl --corpus my_articles/ --limit 20 --k 3
    rag eval --corpus data/articles --compare vector.toml hybrid.toml --out out/cmp
    rag eval --corpus data/articles --llm none --baseline eval/baselines/fast-none --gate
    rag eval --diff out/before out/after [--full]

Option destinations are prefixed `eval_` so they cannot collide with the main parser's global options.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rag.errors import EvalError
from rag.settings import LLM_BACKENDS

if TYPE_CHECKING:
    from eval.runner import EvalRun
    from rag.settings import Settings

DEFAULT_GOLD = Path(__file__).resolve().parent / "gold" / "paris_talks.jsonl"
DEFAULT_MAX_WORDS = 60  # the same as eval.runner.DEFAULT_MAX_WORDS; kept here so --help stays light
EXIT_OK = 0
EXIT_REGRESSION = 1


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the `rag eval` options to its subparser."""
    parser.add_argument(
        "--gold",
        dest="eval_gold",
        type=Path,
        default=None,
        metavar="FILE",
        help="gold questions, one JSON object per line (default: the packaged paris_talks.jsonl)",
    )
    parser.add_argument(
        "--corpus",
        dest="eval_corpus",
        type=Path,
        default=None,
        metavar="PATH",
        help="ingest these articles into a fresh temporary store first, instead of using the "
        "configured store",
    )
    parser.add_argument(
        "--out",
        dest="eval_out",
        type=Path,
        default=None,
        metavar="DIR",
        help="write results.jsonl, summary.json and report.html here",
    )
    parser.add_argument(
        "--compare",
        dest="eval_compare",
        nargs="+",
        type=Path,
        default=None,
        metavar="CONFIG",
        help="run each TOML config on the same gold set and report them side by side",
    )
    parser.add_argument(
        "--limit", dest="eval_limit", type=int, default=None, metavar="N", help="only the first N questions"
    )
    parser.add_argument(
        "--k",
        dest="eval_k",
        type=int,
        default=5,
        metavar="K",
        help="cut-off for hit@k and recall@k over distinct retrieved articles (default 5)",
    )
    parser.add_argument(
        "--max-words",
        dest="eval_max_words",
        type=int,
        default=DEFAULT_MAX_WORDS,
        metavar="N",
        help="strict accuracy: a correct answer has at most N words, [n] markers not counted (default 60)",
    )
    parser.add_argument(
        "--llm",
        dest="eval_llm",
        choices=LLM_BACKENDS,
        default=None,
        help="override the answer backend (e.g. none: evidence only, no model)",
    )
    parser.add_argument(
        "--baseline",
        dest="eval_baseline",
        type=Path,
        default=None,
        metavar="DIR",
        help="compare the summary with DIR/summary.json and list regressions",
    )
    parser.add_argument(
        "--gate",
        dest="eval_gate",
        action="store_true",
        help="exit with status 1 when --baseline shows a regression",
    )
    parser.add_argument(
        "--diff",
        dest="eval_diff",
        nargs=2,
        type=Path,
        default=None,
        metavar=("A", "B"),
        help="compare two `--out` folders: questions that flipped right/wrong (strict), with both answers",
    )
    parser.add_argument(
        "--full", dest="eval_full", action="store_true", help="with --diff: print answers untrimmed"
    )
    parser.add_argument(
        "--no-progress", dest="eval_progress", action="store_false", help="no progress bar on stderr"
    )


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Run `rag eval` with parsed `args` and the already loaded `settings`; returns the exit status.

    Invalid options or gold files raise EvalError (a RagError) for the caller to print.
    """
    from eval import runner

    if args.eval_diff:
        return _run_diff(args.eval_diff, args.eval_full)
    if args.eval_gate and args.eval_baseline is None:
        raise EvalError("--gate needs --baseline DIR (a folder holding a committed summary.json).")
    if args.eval_compare and args.eval_baseline is not None:
        raise EvalError("--baseline and --compare cannot be combined; gate one configuration at a time.")
    gold = args.eval_gold or DEFAULT_GOLD
    if args.eval_llm:
        settings = settings.replace(llm=args.eval_llm)

    if args.eval_compare:
        runs = _run_compare(args, gold)
        print(runner.format_table([r.summary for r in runs], [r.label for r in runs]))
        if args.eval_out:
            paths = runner.write_compare_outputs(runs, args.eval_out)
            print(f"\nreport: {paths['report']}")
        return EXIT_OK

    run_ = runner.run_eval(
        settings,
        gold,
        corpus=args.eval_corpus,
        limit=args.eval_limit,
        k=args.eval_k,
        max_words=args.eval_max_words,
        progress=args.eval_progress,
        label=_label(settings),
    )
    report_skipped(run_.ingest)
    print(runner.format_table([run_.summary], [run_.label]))
    if args.eval_out:
        paths = runner.write_outputs(run_, args.eval_out)
        print(f"\nresults: {paths['results']}\nsummary: {paths['summary']}\nreport:  {paths['report']}")
    if args.eval_baseline is None:
        return EXIT_OK
    from eval.gate import find_regressions, legacy_note, load_summary, load_tolerances

    higher, lower = load_tolerances(args.eval_baseline)
    baseline = load_summary(args.eval_baseline)
    note = legacy_note(baseline)
    if note:
        print(f"\ngate: {note}", file=sys.stderr)
    problems = find_regressions(run_.summary, baseline, higher, lower)
    if not problems:
        print(f"\ngate: no regression against {args.eval_baseline}")
        return EXIT_OK
    stream = sys.stdout if not args.eval_gate else sys.stderr
    print(f"\ngate: {len(problems)} problem(s) against {args.eval_baseline}:", file=stream)
    for problem in problems:
        print(f"  - {problem}", file=stream)
    return EXIT_REGRESSION if args.eval_gate else EXIT_OK


def _run_diff(folders: list[Path], full: bool) -> int:
    from eval.diff import diff_results, format_diff, load_results

    a, b = folders
    print(format_diff(diff_results(load_results(a), load_results(b)), full, str(a), str(b)))
    return EXIT_OK


def report_skipped(ingest: dict[str, Any] | None, limit: int = 20) -> None:
    """List on stderr the corpus files or lines that failed to load (the run went on without them)."""
    skipped = (ingest or {}).get("skipped") or []
    if not skipped:
        return
    print(f"ingest: {len(skipped)} file(s) or line(s) skipped, evaluated without them:", file=sys.stderr)
    for s in skipped[:limit]:
        print(f"  skipped {s['path']}: {s['reason']}", file=sys.stderr)
    if len(skipped) > limit:
        print(f"  ... and {len(skipped) - limit} more (see summary.json, ingest.skipped)", file=sys.stderr)


def _label(settings: Settings) -> str:
    if settings.llm == "local":
        return Path(settings.local_model_path).stem if settings.local_model_path else settings.local_model
    return settings.llm


def _run_compare(args: argparse.Namespace, gold: Path) -> list[EvalRun]:
    """One run per config file (each loaded like `--config FILE`, with --llm applied on top)."""
    from eval import runner
    from rag.settings import load_settings

    configs: list[Path] = args.eval_compare
    labels: list[str] = []
    for config in configs:
        if not config.is_file():
            raise EvalError(f"--compare: config file {config} does not exist.")
        label, n = config.stem, 1
        while label in labels:
            n += 1
            label = f"{config.stem}-{n}"
        labels.append(label)
    runs = []
    for config, label in zip(configs, labels, strict=True):
        settings = load_settings(config=config, overrides={"llm": args.eval_llm})
        print(f"== {label}: {config}", file=sys.stderr)
        runs.append(
            runner.run_eval(
                settings,
                gold,
                corpus=args.eval_corpus,
                limit=args.eval_limit,
                k=args.eval_k,
                max_words=args.eval_max_words,
                progress=args.eval_progress,
                label=label,
            )
        )
    return runs
