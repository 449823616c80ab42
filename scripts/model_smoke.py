"""Measure the bundled local models on this machine: assembly, server start, first token, tokens per second.

    .venv/bin/python scripts/model_smoke.py                       # qwen2.5-coder-0.5b, 1 and 2 threads
    .venv/bin/python scripts/model_smoke.py --model smollm2-135m --threads 1 2 --runs 3
    .venv/bin/python scripts/model_smoke.py --fresh-cache          # also time assembly + sha256 from scratch

Each run streams one short grounded answer through the same ChatOpenAI client the answer chain uses.
"Tokens" are streamed chunks (llama.cpp sends one token per chunk). Figures are medians over the runs.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from rag.models import BUNDLED_MODELS, LocalModelServer, build_chat_model, locate_gguf  # noqa: E402
from rag.settings import Settings  # noqa: E402

SYSTEM = "Answer the question using only the numbered evidence. Cite evidence as [n]. Be brief."
USER = (
    "Evidence:\n"
    "[1] The harbour commission met in Valmora on Tuesday to discuss the new ferry route.\n"
    "[2] The meeting was chaired by Ilse Marquardt, the commission's president since 2021.\n"
    "[3] Representatives of two shipping firms also attended.\n\n"
    "Question: Who chaired the harbour commission meeting?"
)
EXPECTED = "Marquardt"


def measure(settings: Settings) -> dict[str, float | str]:
    model = build_chat_model(settings)
    assert model is not None
    started = time.perf_counter()
    first: float | None = None
    pieces: list[str] = []
    # cache_prompt=false: every run reads the whole prompt, as a new question with new evidence would.
    for chunk in model.stream([("system", SYSTEM), ("user", USER)], extra_body={"cache_prompt": False}):
        if chunk.content:
            if first is None:
                first = time.perf_counter() - started
            pieces.append(str(chunk.content))
    total = time.perf_counter() - started
    first = total if first is None else first
    rate = (len(pieces) - 1) / (total - first) if len(pieces) > 1 and total > first else 0.0
    return {"first": first, "total": total, "tokens": len(pieces), "rate": rate, "text": "".join(pieces)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", action="append", choices=sorted(BUNDLED_MODELS), help="repeatable")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--max-tokens", type=int, default=48)
    parser.add_argument("--fresh-cache", action="store_true", help="assemble into a temporary cache")
    args = parser.parse_args(argv)

    cache = Path(tempfile.mkdtemp(prefix="newsrag-smoke-")) if args.fresh_cache else Settings().cache_dir
    for name in args.model or ["qwen2.5-coder-0.5b"]:
        base = Settings(llm="local", local_model=name, cache_dir=cache, max_answer_tokens=args.max_tokens)
        began = time.perf_counter()
        path = locate_gguf(base)
        print(f"{name}: locate/assemble/verify {time.perf_counter() - began:.2f} s -> {path}")
        began = time.perf_counter()
        locate_gguf(base)
        print(f"{name}: second locate (sidecar) {1000 * (time.perf_counter() - began):.1f} ms")
        for threads in args.threads:
            settings = base.replace(threads=threads)
            server = LocalModelServer.shared(path, threads, settings.context_window)
            server.start()
            load = os.getloadavg()[0]
            print(f"  threads={threads}: server start {server.start_seconds:.2f} s (load average {load:.1f})")
            results = [measure(settings) for _ in range(args.runs)]
            for i, r in enumerate(results, 1):
                found = EXPECTED in str(r["text"])
                print(
                    f"    run {i}: first token {r['first']:.2f} s, {r['tokens']} tokens, {r['total']:.2f} s "
                    f"({r['rate']:.1f} tok/s after the first), names {EXPECTED}: {found}: {r['text']!r}"
                )
            med = {k: statistics.median(float(r[k]) for r in results) for k in ("first", "total", "rate")}
            print(
                f"  threads={threads}: median first token {med['first']:.2f} s, total {med['total']:.2f} s, "
                f"{med['rate']:.1f} tok/s"
            )
            server.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
