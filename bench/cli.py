"""`rag bench` arguments and entry point. Kept light: argparse only; the benchmark code loads on run."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rag.settings import Settings

DEFAULT_OUT = Path("bench/out")


def _int_list(text: str) -> tuple[int, ...]:
    """ "0,1000,10000" -> (0, 1000, 10000); "seed" counts as 0 (the seed articles alone)."""
    try:
        values = tuple(0 if part.strip() == "seed" else int(part) for part in text.split(",") if part.strip())
    except ValueError as e:
        raise argparse.ArgumentTypeError(f"expected sizes like seed,1000,10000; got {text!r}") from e
    if not values or any(v < 0 for v in values):
        raise argparse.ArgumentTypeError(f"expected sizes >= 0 like seed,1000,10000; got {text!r}")
    return values


def _name_list(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


def add_arguments(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("benchmark")
    g.add_argument(
        "--sizes",
        type=_int_list,
        default=(0, 1000),
        metavar="LIST",
        help="synthetic chunks added to the seed articles, per run (default seed,1000; "
        "e.g. seed,1000,10000,100000 for the full scale run)",
    )
    g.add_argument(
        "--embedders",
        type=_name_list,
        default=("minilm-int8", "minilm"),
        metavar="LIST",
        help="embedding models to measure (default minilm-int8,minilm; the first is the one measured at every size, the others only up to --compare-max)",
    )
    g.add_argument(
        "--models",
        type=_name_list,
        default=("none",),
        metavar="LIST",
        help="answer backends to time: none and/or bundled local models, e.g. "
        "none,qwen2.5-coder-0.5b (default none; a local model takes ~30 s per answer here)",
    )
    g.add_argument(
        "--out",
        type=Path,
        default=DEFAULT_OUT,
        metavar="DIR",
        help="where results.json and results.md go (default bench/out)",
    )
    g.add_argument("--questions", type=int, default=30, metavar="N", help="questions per query benchmark")
    g.add_argument(
        "--answer-questions",
        type=int,
        default=3,
        metavar="N",
        help="questions per answer-model benchmark (default 3)",
    )
    g.add_argument(
        "--compare-max",
        type=int,
        default=2000,
        metavar="CHUNKS",
        help="run the bare-embedder and LangChain comparisons only up to this size (default 2000)",
    )
    g.add_argument(
        "--repeats",
        type=int,
        default=3,
        metavar="N",
        help="for the first embedder, where compared, ingest through the pipeline and the bare embedder N "
        "times each, alternating, and report the fastest of each (default 3; a busy machine only adds time)",
    )
    g.add_argument("--seed", type=int, default=7, help="synthetic corpus seed (default 7)")
    g.add_argument(
        "--gold",
        type=Path,
        default=Path("eval/gold/paris_talks.jsonl"),
        metavar="JSONL",
        help="gold questions for the retrieval-quality check (hit@5)",
    )
    g.add_argument(
        "--no-cold-start",
        dest="cold_start",
        action="store_false",
        help="skip the subprocess cold-start measurements",
    )
    g.add_argument(
        "--work-dir",
        type=Path,
        metavar="DIR",
        help="keep corpora and stores here instead of a temporary directory",
    )


def run(args: argparse.Namespace, settings: Settings) -> int:
    from bench.run import BenchConfig, run_bench

    config = BenchConfig(
        sizes=tuple(args.sizes),
        embedders=tuple(args.embedders),
        models=tuple(args.models),
        out_dir=args.out,
        questions=args.questions,
        answer_questions=args.answer_questions,
        compare_max=args.compare_max,
        repeats=args.repeats,
        seed=args.seed,
        gold=args.gold,
        cold_start=args.cold_start,
        work_dir=args.work_dir,
    )
    result = run_bench(config, settings, log=_log)
    print(result.markdown)
    print(f"\nwritten: {result.json_path} and {result.markdown_path}")
    return 0


def _log(message: str) -> None:
    import sys

    print(message, file=sys.stderr, flush=True)
