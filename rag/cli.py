"""`rag`: the command line. It parses, calls the library, prints. Imports are lazy so `rag --help` is instant.

Errors become one-line messages here, at the edge (exit code 2); nothing below prints for the user.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

EXIT_ERROR = 2
EXIT_INTERRUPTED = 130


def _store_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("store")
    g.add_argument(
        "--config", metavar="FILE", help="TOML config file (default: $RAG_CONFIG, else ./rag.toml if present)"
    )
    g.add_argument(
        "--store-dir", metavar="DIR", help="where the embedded store lives (RAG_STORE_DIR; default .newsrag)"
    )
    g.add_argument(
        "--chroma-url", metavar="URL", help="use a Chroma server instead, e.g. http://127.0.0.1:8000"
    )
    g.add_argument("--collection", metavar="NAME", help="Chroma collection name (default newsrag)")
    g.add_argument(
        "--embedding-model",
        metavar="NAME",
        help="minilm-int8 (default), minilm, minilm-onnx-int8, or a local sentence-transformers folder",
    )


def _answer_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("answering")
    g.add_argument(
        "--llm",
        choices=["local", "openai", "ollama", "none"],
        help="answer backend (RAG_LLM; default local). none = cited evidence sentences only",
    )
    g.add_argument(
        "--local-model",
        metavar="NAME",
        help="bundled model: qwen2.5-coder-0.5b (default), qwen2.5-coder-1.5b, smollm2-135m",
    )
    g.add_argument("--model-path", dest="local_model_path", metavar="GGUF", help="your own GGUF model file")
    g.add_argument("--threads", type=int, help="CPU threads for the local model (0 = automatic)")
    g.add_argument(
        "--timeout",
        dest="llm_timeout",
        type=float,
        metavar="SECONDS",
        help="give up on the model after this long and answer with the evidence",
    )
    g.add_argument("--top-k", type=int, metavar="N", help="passages kept after retrieval (default 6)")
    g.add_argument(
        "--retrieval", choices=["hybrid", "vector", "keyword"], help="retrieval mode (default hybrid)"
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rag",
        description="Ask questions about a collection of news articles; every answer cites its sentences.",
        epilog="Settings come from flags > RAG_* environment variables > rag.toml > defaults "
        "(see rag.example.toml).",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser(
        "ingest",
        help="add or update articles in the store",
        description="Read article files (.txt .md .html .json .jsonl; folders recursively), "
        "clean, chunk and embed them into the store. Re-running on unchanged files does nothing.",
    )
    p.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="article files or folders")
    p.add_argument(
        "--prune",
        action="store_true",
        help="also remove articles whose files are gone (or no longer hold that record)",
    )
    p.add_argument("--json", action="store_true", help="print exactly one JSON object with the counts")
    p.add_argument("--chunk-tokens", type=int, metavar="N", help="chunk size in tokens (default 180)")
    p.add_argument(
        "--chunk-overlap", type=int, metavar="N", help="overlap between chunks in tokens (default 30)"
    )
    _store_options(p)

    p = sub.add_parser(
        "ask",
        help="answer one question with numbered citations",
        description="Answer a question from the ingested articles, citing the supporting sentences, "
        "or say that the articles do not contain the answer.",
    )
    p.add_argument("question", help="the question, in quotes")
    p.add_argument("--json", action="store_true", help="print exactly one JSON object")
    p.add_argument("--source", action="append", metavar="OUTLET", help="only this outlet (repeatable)")
    p.add_argument("--since", metavar="YYYY-MM-DD", help="only articles published on or after this date")
    p.add_argument("--until", metavar="YYYY-MM-DD", help="only articles published on or before this date")
    p.add_argument(
        "--as-of",
        metavar="YYYY-MM-DD",
        help='ask as if today were this date: "this week", "yesterday"... count from it and later articles '
        "are not used (default: today, or the newest article's date for an older archive)",
    )
    _answer_options(p)
    _store_options(p)

    p = sub.add_parser(
        "ui",
        help="open the chat window (Gradio) in your browser",
        description="Serve the chat window. Binds to 127.0.0.1 unless told otherwise.",
    )
    p.add_argument("--host", dest="ui_host", metavar="HOST", help="bind address (default 127.0.0.1)")
    p.add_argument("--port", dest="ui_port", type=int, metavar="PORT", help="port (default 7860)")
    p.add_argument(
        "--ingest",
        type=Path,
        action="append",
        metavar="PATH",
        help="ingest these article files or folders before opening (repeatable)",
    )
    _answer_options(p)
    _store_options(p)

    p = sub.add_parser(
        "eval",
        help="score answers, retrieval and citations against gold questions",
        description="Run the evaluation suite on a gold JSONL file and print/write the metrics.",
    )
    from eval.cli import add_arguments as add_eval_arguments

    add_eval_arguments(p)
    _store_options(p)

    p = sub.add_parser(
        "bench",
        help="measure ingest and query speed, memory and cold start",
        description="Benchmarks that print figures (they assert nothing about time).",
    )
    from bench.cli import add_arguments as add_bench_arguments

    add_bench_arguments(p)
    _store_options(p)
    return parser


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    keys = (
        "store_dir",
        "chroma_url",
        "collection",
        "embedding_model",
        "chunk_tokens",
        "chunk_overlap",
        "llm",
        "local_model",
        "local_model_path",
        "threads",
        "llm_timeout",
        "top_k",
        "retrieval",
        "ui_host",
        "ui_port",
    )
    return {k: getattr(args, k) for k in keys if getattr(args, k, None) is not None}


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from rag.errors import RagError

    try:
        from rag.settings import load_settings

        settings = load_settings(config=args.config, overrides=_overrides(args))
        return int(COMMANDS[args.command](args, settings) or 0)
    except RagError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("interrupted: the store is consistent; run the same command again to finish.", file=sys.stderr)
        return EXIT_INTERRUPTED


def cmd_ingest(args: argparse.Namespace, settings: Any) -> int:
    from rag import open_pipeline
    from rag.progress import progress_bar

    pipeline = open_pipeline(settings)
    bar = progress_bar("article", enabled=not args.json and sys.stderr.isatty())
    report = pipeline.ingest(args.paths, prune=args.prune, progress=bar.update if bar else None)
    if bar:
        bar.close()
    if args.json:
        print(json.dumps(report.to_dict()))
        return 0
    print(
        f"{report.added} added, {report.updated} updated, {report.unchanged} unchanged, {report.removed} removed, "
        f"{len(report.skipped)} skipped; {report.chunks} chunks written in {report.seconds:.1f} s"
    )
    for s in report.skipped:
        print(f"  skipped {s.path}: {s.reason}")
    return 0


def cmd_ask(args: argparse.Namespace, settings: Any) -> int:
    from rag import Filters, open_pipeline
    from rag.dates import parse_as_of
    from rag.errors import InputError

    for name in ("since", "until"):
        value = getattr(args, name)
        if value is not None and not _is_iso_date(value):
            raise InputError(f"--{name} must be a date like 2025-04-17, got {value!r}.")
    as_of = parse_as_of(args.as_of, "--as-of")
    filters = Filters(sources=tuple(args.source or ()), since=args.since, until=args.until)
    answer = open_pipeline(settings).ask(args.question, filters=filters, as_of=as_of)
    if args.json:
        print(json.dumps(answer.to_dict(), ensure_ascii=False))
        return 0
    print(format_answer(answer))
    return 0


def _is_iso_date(value: str) -> bool:
    from datetime import date

    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True


def format_answer(answer: Any) -> str:
    """The plain-text rendering of an Answer for the terminal."""
    lines = [answer.text, ""]
    if answer.notice:
        lines += [f"note: {answer.notice}", ""]
    dates = getattr(answer, "date_context", None)
    if dates is not None and dates.note:
        lines += [dates.note, ""]
    if answer.unsupported_sentences:
        lines.append("Removed as unsupported by the articles:")
        lines += [f"  - {s}" for s in answer.unsupported_sentences]
        lines.append("")
    shown = answer.citations or ()
    if answer.abstained and not shown:
        lines.append("Closest passages:" if answer.evidence else "No passage was found.")
        for e in answer.evidence[:3]:
            span = e.primary
            lines.append(f"  - {span.source}, {span.published_at or 'undated'} ({span.doc_id}): {e.text}")
    else:
        lines.append("Sources:")
        evidence = {e.n: e for e in answer.evidence}
        for c in shown:
            e = evidence.get(c.n)
            extra = f" — reported by {len(e.outlets)} sources" if e and len(e.outlets) > 1 else ""
            lines.append(f"  [{c.n}] {c.title} — {c.source}, {c.published_at or 'undated'}{extra}")
            lines.append(f"      “{c.quote}” ({c.doc_id}, chars {c.start}-{c.end})")
    t = answer.timings_ms
    lines.append("")
    lines.append(
        f"model {answer.model}; retrieve {t.get('retrieve', 0):.0f} ms, evidence {t.get('evidence', 0):.0f} ms, "
        f"generate {t.get('generate', 0):.0f} ms, total {t.get('total', 0):.0f} ms"
    )
    return "\n".join(lines)


def cmd_ui(args: argparse.Namespace, settings: Any) -> int:
    from ui.server import launch

    if args.ingest:
        from rag import open_pipeline

        report = open_pipeline(settings).ingest(args.ingest)
        print(
            f"ingest: {report.added} added, {report.updated} updated, {report.unchanged} unchanged",
            flush=True,
        )
    launch(settings)
    return 0


def cmd_eval(args: argparse.Namespace, settings: Any) -> int:
    from eval.cli import run

    return run(args, settings)


def cmd_bench(args: argparse.Namespace, settings: Any) -> int:
    from bench.cli import run

    return run(args, settings)


COMMANDS = {"ingest": cmd_ingest, "ask": cmd_ask, "ui": cmd_ui, "eval": cmd_eval, "bench": cmd_bench}


if __name__ == "__main__":
    sys.exit(main())
