"""The command line: every subcommand parses, flags map onto Settings, `rag --help` stays light and fast,
errors become one-line messages, and answers render as plain text."""

from __future__ import annotations

import argparse
import dataclasses
import json
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import pytest

from rag.cli import EXIT_ERROR, _overrides, build_parser, format_answer, main
from rag.settings import Settings, load_settings
from rag.types import (
    NEWEST_ARTICLE,
    TODAY,
    Answer,
    Citation,
    DateContext,
    DatePhrase,
    Evidence,
    Passage,
    SourceSpan,
)

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("torch", "chromadb", "gradio", "sentence_transformers", "xllamacpp", "langchain_core", "onnxruntime")


# --- parsing ----------------------------------------------------------------------------------------------


def test_ingest_parses_paths_and_flags() -> None:
    args = build_parser().parse_args(
        ["ingest", "a", "b/c", "--prune", "--json", "--chunk-tokens", "120", "--chunk-overlap", "20"]
    )
    assert (args.command, args.paths, args.prune, args.json) == (
        "ingest",
        [Path("a"), Path("b/c")],
        True,
        True,
    )
    assert (args.chunk_tokens, args.chunk_overlap) == (120, 20)


def test_ask_parses_every_option() -> None:
    args = build_parser().parse_args(
        [
            "ask", "What did Lammy say?", "--json", "--source", "BBC", "--source", "AP",
            "--since", "2025-02-01", "--until", "2025-02-28", "--llm", "none",
            "--local-model", "smollm2-135m",
            "--model-path", "m.gguf", "--threads", "2", "--timeout", "7.5", "--top-k", "3",
            "--retrieval", "keyword", "--config", "c.toml", "--store-dir", "st",
            "--chroma-url", "http://h:8000",
            "--collection", "col", "--embedding-model", "minilm-onnx-int8",
        ]
    )  # fmt: skip
    assert args.question == "What did Lammy say?"
    assert (args.json, args.source, args.since, args.until) == (
        True,
        ["BBC", "AP"],
        "2025-02-01",
        "2025-02-28",
    )
    assert _overrides(args) == {
        "store_dir": "st",
        "chroma_url": "http://h:8000",
        "collection": "col",
        "embedding_model": "minilm-onnx-int8",
        "llm": "none",
        "local_model": "smollm2-135m",
        "local_model_path": "m.gguf",
        "threads": 2,
        "llm_timeout": 7.5,
        "top_k": 3,
        "retrieval": "keyword",
    }
    assert args.config == "c.toml"


def test_flags_become_settings(tmp_path: Path) -> None:
    args = build_parser().parse_args(
        ["ask", "q", "--top-k", "3", "--timeout", "5", "--llm", "none", "--store-dir", "s"]
    )
    s = load_settings(overrides=_overrides(args), env={"RAG_TOP_K": "9"}, cwd=tmp_path)
    assert (s.top_k, s.llm_timeout, s.llm, s.store_dir) == (3, 5.0, "none", Path("s"))


def test_unset_flags_are_not_overrides() -> None:
    assert _overrides(build_parser().parse_args(["ask", "q"])) == {}


def test_ui_flags_become_settings(tmp_path: Path) -> None:
    args = build_parser().parse_args(
        ["ui", "--host", "0.0.0.0", "--port", "8000", "--ingest", "x", "--ingest", "y", "--llm", "none"]
    )
    assert _overrides(args) == {"ui_host": "0.0.0.0", "ui_port": 8000, "llm": "none"}
    assert args.ingest == [Path("x"), Path("y")]
    s = load_settings(overrides=_overrides(args), env={}, cwd=tmp_path)
    assert (s.ui_host, s.ui_port) == ("0.0.0.0", 8000)


def test_every_override_key_is_a_settings_field() -> None:
    class Everything(argparse.Namespace):
        def __getattr__(self, name: str) -> str:
            return "set"

    keys = set(_overrides(Everything()))
    assert len(keys) == 15
    assert keys <= {f.name for f in dataclasses.fields(Settings)}


@pytest.mark.parametrize(
    "argv",
    [["ingest", "data"], ["ask", "q"], ["ui"], ["eval"], ["bench"], ["eval", "--store-dir", "s"]],
)
def test_every_subcommand_parses(argv: list[str]) -> None:
    assert build_parser().parse_args(argv).command == argv[0]


@pytest.mark.parametrize(
    "argv",
    [[], ["ingest"], ["ask"], ["ask", "q", "--llm", "gpt"], ["ask", "q", "--top-k", "three"], ["frobnicate"]],
)
def test_bad_command_lines_exit_with_usage_error(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as e:
        build_parser().parse_args(argv)
    assert e.value.code == 2
    assert "usage: rag" in capsys.readouterr().err


# --- errors at the edge -----------------------------------------------------------------------------------


def test_bad_date_is_a_one_line_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ask", "q", "--since", "17/04/2025"]) == EXIT_ERROR
    assert capsys.readouterr().err == "error: --since must be a date like 2025-04-17, got '17/04/2025'.\n"


def test_ask_parses_as_of() -> None:
    assert build_parser().parse_args(["ask", "q", "--as-of", "2023-03-10"]).as_of == "2023-03-10"
    assert build_parser().parse_args(["ask", "q"]).as_of is None


@pytest.mark.parametrize("value", ["10/03/2023", "last friday", "2023-02-30"])
def test_bad_as_of_date_is_a_one_line_error(value: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ask", "q", "--as-of", value]) == EXIT_ERROR
    assert capsys.readouterr().err == f"error: --as-of must be a date like 2023-03-10; got {value!r}.\n"


def test_missing_config_is_a_one_line_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nope.toml"
    assert main(["ask", "q", "--config", str(missing)]) == EXIT_ERROR
    assert capsys.readouterr().err == f"error: Config file {missing} does not exist.\n"


# --- `rag --help` is light --------------------------------------------------------------------------------


def test_building_the_parser_imports_no_heavy_library() -> None:
    code = (
        "import json, sys\n"
        "from rag.cli import build_parser\n"
        "build_parser().format_help()\n"
        f"print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r})))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == []


def test_rag_help_runs_fast() -> None:
    start = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-m", "rag.cli", "--help"], cwd=ROOT, capture_output=True, text=True, timeout=30
    )
    elapsed = time.perf_counter() - start
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("usage: rag")
    for command in ("ingest", "ask", "ui", "eval", "bench"):
        assert command in out.stdout
    assert elapsed < 2.0, f"rag --help took {elapsed:.2f} s"


# --- format_answer ----------------------------------------------------------------------------------------


def span(doc: str, source: str, published: str | None, start: int, end: int) -> SourceSpan:
    return SourceSpan(doc, f"Title {doc}", source, published, None, f"{doc}-c0", start, end)


RUBIO = "Marco Rubio met Sergei Lavrov in Riyadh."
TALKS = "The talks lasted four hours."
EVIDENCE = (
    Evidence(1, RUBIO, 0.9, (span("d1", "BBC", "2025-02-18", 10, 50), span("d2", "AP", "2025-02-18", 0, 40))),
    Evidence(2, TALKS, 0.7, (span("d3", "Reuters", None, 5, 33),)),
)
CITATIONS = (
    Citation(1, "d1", "Title d1", "BBC", "2025-02-18", "d1-c0", RUBIO, 10, 50),
    Citation(2, "d3", "Title d3", "Reuters", None, "d3-c0", TALKS, 5, 33),
)
RETRIEVED = (Passage("d1-c0", "d1", "Title d1", "BBC", "2025-02-18", None, RUBIO, 10, 50, 0.03),)


def answer(**changes: object) -> Answer:
    values: dict[str, object] = dict(
        question="Who met Lavrov?",
        standalone_question="Who met Lavrov?",
        text="Marco Rubio met Lavrov [1]. The talks lasted four hours [2].",
        abstained=False,
        citations=CITATIONS,
        evidence=EVIDENCE,
        unsupported_sentences=(),
        retrieved=RETRIEVED,
        model="qwen2.5-coder-0.5b",
        timings_ms={"retrieve": 12.4, "evidence": 30.6, "generate": 1500.2, "total": 1543.7},
    )
    values.update(changes)
    return Answer(**values)  # type: ignore[arg-type]


def test_format_answer_lists_sources_with_corroboration() -> None:
    assert format_answer(answer()) == "\n".join(
        [
            "Marco Rubio met Lavrov [1]. The talks lasted four hours [2].",
            "",
            "Sources:",
            "  [1] Title d1 — BBC, 2025-02-18 — reported by 2 sources",
            f"      “{RUBIO}” (d1, chars 10-50)",
            "  [2] Title d3 — Reuters, undated",
            f"      “{TALKS}” (d3, chars 5-33)",
            "",
            "model qwen2.5-coder-0.5b; retrieve 12 ms, evidence 31 ms, generate 1500 ms, total 1544 ms",
        ]
    )


def test_format_answer_shows_notice_and_removed_sentences() -> None:
    text = format_answer(
        answer(
            citations=CITATIONS[:1],
            notice="The model timed out; showing the evidence.",
            unsupported_sentences=("Keir Starmer agreed.",),
            timings_ms={},
        )
    )
    assert text == "\n".join(
        [
            "Marco Rubio met Lavrov [1]. The talks lasted four hours [2].",
            "",
            "note: The model timed out; showing the evidence.",
            "",
            "Removed as unsupported by the articles:",
            "  - Keir Starmer agreed.",
            "",
            "Sources:",
            "  [1] Title d1 — BBC, 2025-02-18 — reported by 2 sources",
            f"      “{RUBIO}” (d1, chars 10-50)",
            "",
            "model qwen2.5-coder-0.5b; retrieve 0 ms, evidence 0 ms, generate 0 ms, total 0 ms",
        ]
    )


def test_format_abstention_shows_the_closest_passages() -> None:
    text = format_answer(
        answer(
            text="The articles do not say.",
            abstained=True,
            citations=(),
            model="none",
            timings_ms={"total": 9},
        )
    )
    assert text == "\n".join(
        [
            "The articles do not say.",
            "",
            "Closest passages:",
            f"  - BBC, 2025-02-18 (d1): {RUBIO}",
            f"  - Reuters, undated (d3): {TALKS}",
            "",
            "model none; retrieve 0 ms, evidence 0 ms, generate 0 ms, total 9 ms",
        ]
    )


def test_format_answer_says_which_day_dates_were_read_as_of() -> None:
    week = DatePhrase("this week", date(2023, 3, 4), date(2023, 3, 10))
    dated = answer(
        citations=(), timings_ms={}, date_context=DateContext(date(2023, 3, 10), NEWEST_ARTICLE, (week,))
    )
    assert format_answer(dated).split("\n")[:4] == [
        "Marco Rubio met Lavrov [1]. The talks lasted four hours [2].",
        "",
        'Dates read as of 2023-03-10 (newest article). "this week" means 2023-03-04 to 2023-03-10.',
        "",
    ]
    undated = answer(date_context=DateContext(date(2026, 1, 5), TODAY))
    assert "Dates read" not in format_answer(undated)
