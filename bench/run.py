"""The benchmark runs: ingest, query, retrieval quality, answer, cold start. Prints figures; asserts nothing.

Every figure is measured in this process (or in a subprocess for cold starts) on the machine it runs on, and
compared only with figures from the same run: ingest through the pipeline vs the same chunk texts through the
bare embedder vs the plain LangChain recipe. Stores are embedded and live in a temporary directory.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.corpus import synthetic_articles, synthetic_questions, write_jsonl
from bench.report import markdown_report

if TYPE_CHECKING:
    from rag.pipeline import Pipeline
    from rag.settings import Settings
    from rag.types import Article

ROOT = Path(__file__).resolve().parent.parent
SEED_ARTICLES = ROOT / "data" / "articles"
COLD_QUESTION = "Who attended the Paris talks?"
Log = Callable[[str], None]


@dataclass(frozen=True)
class BenchConfig:
    """What to run. `sizes` are synthetic chunks added to the seed articles (0 = the seed articles alone)."""

    sizes: tuple[int, ...] = (0, 1000)
    embedders: tuple[str, ...] = ("minilm-int8", "minilm")
    models: tuple[str, ...] = ("none",)
    out_dir: Path = Path("bench/out")
    questions: int = 30
    answer_questions: int = 3
    compare_max: int = 2000
    repeats: int = 3
    seed: int = 7
    gold: Path = Path("eval/gold/paris_talks.jsonl")
    cold_start: bool = True
    work_dir: Path | None = None


@dataclass
class BenchResult:
    data: dict[str, Any]
    markdown: str
    json_path: Path
    markdown_path: Path


@dataclass
class _Corpus:
    size: int
    directory: Path | None  # synthetic JSONL files (None for the seed articles alone)
    articles: list[Article] = field(default_factory=list)


# --- small measuring helpers ------------------------------------------------------------------------------
def summarize(ms: Sequence[float]) -> dict[str, float]:
    """p50, p95, mean and n of a list of milliseconds (NaN-free: empty lists give n=0 only)."""
    from eval.metrics import percentile

    if not ms:
        return {"n": 0}
    return {
        "p50": round(percentile(ms, 50), 2),
        "p95": round(percentile(ms, 95), 2),
        "mean": round(sum(ms) / len(ms), 2),
        "n": len(ms),
    }


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far (Linux reports ru_maxrss in KiB)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def current_rss_mb() -> float | None:
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return round(pages * os.sysconf("SC_PAGE_SIZE") / 2**20, 1)


def machine_info() -> dict[str, Any]:
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram_gib = None
    with contextlib.suppress(ValueError, OSError):
        ram_gib = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    versions: dict[str, str | None] = {}
    for dist in (
        "newsrag",
        "chromadb",
        "langchain-core",
        "langchain-chroma",
        "sentence-transformers",
        "torch",
        "onnxruntime",
        "tokenizers",
        "bm25s",
        "xllamacpp",
        "gradio",
    ):
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            versions[dist] = None
    return {
        "load_average_1m": round(os.getloadavg()[0], 2),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "ram_gib": ram_gib,
        "os": platform.platform(),
        "python": platform.python_version(),
        "versions": versions,
    }


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- corpora ----------------------------------------------------------------------------------------------
def build_corpus(size: int, seed: int, settings: Settings, directory: Path) -> _Corpus:
    """Synthetic articles adding up to `size` chunks as the real chunker counts them, written as JSONL."""
    if size == 0:
        return _Corpus(0, None)
    from rag.chunking import chunk_article, get_encoding

    encoding = get_encoding(settings.encoding)

    def count(article: Article) -> int:
        return len(chunk_article(article, encoding, settings.chunk_tokens, settings.chunk_overlap))

    articles = synthetic_articles(size, seed=seed, count_chunks=count)
    write_jsonl(articles, directory)
    return _Corpus(size, directory, articles)


def _inputs(corpus: _Corpus) -> list[Path]:
    return [SEED_ARTICLES] + ([corpus.directory] if corpus.directory else [])


def _chunk_texts(paths: Sequence[Path], settings: Settings) -> list[str]:
    """Exactly the texts Pipeline.ingest embeds for these inputs (header line + chunk text)."""
    from rag.chunking import chunk_article, embed_text, get_encoding
    from rag.ingest import load_articles

    encoding = get_encoding(settings.encoding)
    articles, _ = load_articles(paths, int(settings.max_file_mb * 1_000_000))
    return [
        embed_text(a, c)
        for a in articles
        for c in chunk_article(a, encoding, settings.chunk_tokens, settings.chunk_overlap)
    ]


def rate(chunks: int, wall_s: float, cpu_s: float) -> dict[str, Any]:
    """Throughput by wall time and by this process's CPU time.

    CPU time (all threads of this process) hardly moves when other processes load the machine, so ratios of
    CPU-based rates stay comparable while wall-clock rates drift with the load.
    """
    return {
        "chunks": chunks,
        "seconds": round(wall_s, 2),
        "cpu_seconds": round(cpu_s, 2),
        "chunks_per_s": round(chunks / wall_s, 2) if wall_s else None,
        "chunks_per_cpu_s": round(chunks / cpu_s, 2) if cpu_s else None,
    }


# --- ingest -----------------------------------------------------------------------------------------------
def fastest(runs: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The run with the shortest wall time, with every run's seconds beside it (pure)."""
    best = min(runs, key=lambda r: r["seconds"])
    return {**best, "runs": len(runs), "all_seconds": [r["seconds"] for r in runs]}


def ingest_ours(pipeline: Pipeline, corpus: _Corpus, warmup_dir: Path) -> dict[str, Any]:
    """Pipeline.ingest end to end (load, clean, chunk, embed, write, keyword index), model already loaded."""
    t0 = time.perf_counter()
    warm = pipeline.ingest([warmup_dir])  # loads the embedder; not counted
    load_s = time.perf_counter() - t0
    cpu0 = time.process_time()
    report = pipeline.ingest(_inputs(corpus))
    cpu = time.process_time() - cpu0
    return {
        "embedder_load_and_warmup_s": round(load_s, 2),
        "warmup_chunks": warm.chunks,
        "articles": report.added,
        **rate(report.chunks, report.seconds, cpu),
    }


def ingest_bare(texts: Sequence[str], settings: Settings) -> dict[str, Any]:
    """The same chunk texts through one embed_documents call: the embedder at its best (all texts sorted by
    length together, no pause between windows), which the pipeline's windows have to keep up with."""
    from rag.embeddings import build_embedder

    embedder = build_embedder(settings)
    embedder.embed_documents(list(texts[:8]))  # warm-up
    t0, cpu0 = time.perf_counter(), time.process_time()
    embedder.embed_documents(list(texts))
    return rate(len(texts), time.perf_counter() - t0, time.process_time() - cpu0)


def ingest_langchain(
    paths: Sequence[Path], settings: Settings, store_dir: Path, embedder: str
) -> dict[str, Any]:
    """The plain recipe a user would write: RecursiveCharacterTextSplitter, embedder, Chroma.from_documents.

    `embedder` "minilm" uses HuggingFaceEmbeddings with its default options (what the recipe would use);
    any other gives the recipe our embedder, so that row compares the machinery around it.
    Articles are read with our loader (reading is not what is being compared).
    """
    import chromadb
    from chromadb.config import Settings as ChromaSettings
    from langchain_chroma import Chroma
    from langchain_core.documents import Document
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    from rag.chunking import get_encoding
    from rag.embeddings import minilm_path
    from rag.ingest import load_articles

    if embedder == "minilm":
        from langchain_huggingface import HuggingFaceEmbeddings

        embedding: Any = HuggingFaceEmbeddings(model_name=str(minilm_path()), model_kwargs={"device": "cpu"})
    else:
        from rag.embeddings import build_embedder

        embedding = build_embedder(settings)
    embedding.embed_documents(["warm-up"])
    get_encoding(settings.encoding)  # seeds the offline tiktoken cache the splitter needs
    articles, _ = load_articles(paths, int(settings.max_file_mb * 1_000_000))
    client = chromadb.PersistentClient(
        path=str(store_dir), settings=ChromaSettings(anonymized_telemetry=False)
    )
    t0, cpu0 = time.perf_counter(), time.process_time()
    splitter = RecursiveCharacterTextSplitter.from_tiktoken_encoder(
        encoding_name=settings.encoding,
        chunk_size=settings.chunk_tokens,
        chunk_overlap=settings.chunk_overlap,
    )
    docs = splitter.split_documents(
        [
            Document(page_content=a.text, metadata={"doc_id": a.doc_id, "title": a.title, "source": a.source})
            for a in articles
        ]
    )
    Chroma.from_documents(docs, embedding=embedding, client=client, collection_name="langchain")
    return rate(len(docs), time.perf_counter() - t0, time.process_time() - cpu0)


# --- query ------------------------------------------------------------------------------------------------
def query_latency(pipeline: Pipeline, questions: Sequence[str]) -> dict[str, Any]:
    """Retrieval (Pipeline.retrieve) and time to the first EvidenceReady of Pipeline.stream (llm none)."""
    from rag.types import EvidenceReady

    for q in questions[:2]:  # warm-up: keyword index load, first query
        pipeline.retrieve(q)
    retrieve_ms: list[float] = []
    for q in questions:
        t0 = time.perf_counter()
        pipeline.retrieve(q)
        retrieve_ms.append((time.perf_counter() - t0) * 1000)
    evidence_ms: list[float] = []
    stages: dict[str, list[float]] = {}
    for q in questions:
        t0 = time.perf_counter()
        for event in pipeline.stream(q):
            if isinstance(event, EvidenceReady):
                evidence_ms.append((time.perf_counter() - t0) * 1000)
                for stage, ms in event.timings_ms.items():
                    stages.setdefault(stage, []).append(ms)
                break
    # Pipeline.articles() reads every chunk's metadata; the answer path calls it per dated question (newest article)
    scan_ms: list[float] = []
    for _ in range(3):
        t0 = time.perf_counter()
        pipeline.articles()
        scan_ms.append((time.perf_counter() - t0) * 1000)
    return {
        "retrieve_ms": summarize(retrieve_ms),
        "evidence_ms": summarize(evidence_ms),
        "stream_stages_ms": {stage: summarize(ms) for stage, ms in stages.items()},
        "articles_scan_ms": summarize(scan_ms),
    }


def ann_recall(settings: Settings, questions: Sequence[str], k: int = 10) -> dict[str, Any]:
    """Recall@k of Chroma's HNSW search against exact cosine search over every stored vector.

    1.0 means the approximate index returned exactly the true k nearest chunks for every question; this is
    what the HNSW settings in rag/store.py trade against insert time.
    """
    import numpy as np

    from rag.embeddings import build_embedder, query_model_name, vector_space
    from rag.store import VectorStore, build_chroma_client

    store = VectorStore(
        build_chroma_client(settings), settings.collection, vector_space(settings.embedding_model)
    )
    ids: list[str] = []
    pages = []
    for page_ids, vectors in store.iter_vectors():
        ids += page_ids
        pages.append(np.asarray(vectors, dtype=np.float32))
    matrix = np.concatenate(pages)
    matrix /= np.clip(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-12, None)
    embedder = build_embedder(settings, query_model_name(settings))
    hits, ms = [], []
    for question in questions:
        q = np.asarray(embedder.embed_query(question), dtype=np.float32)
        exact = {ids[i] for i in np.argsort(-(matrix @ q))[:k]}
        t0 = time.perf_counter()
        found = {chunk.chunk_id for chunk, _ in store.query(q.tolist(), k)}
        ms.append((time.perf_counter() - t0) * 1000)
        hits.append(len(exact & found) / k)
    return {
        "k": k,
        "n": len(hits),
        "recall": round(sum(hits) / len(hits), 4),
        "vector_query_ms": summarize(ms),
    }


def retrieval_quality(pipeline: Pipeline, gold: Path, k: int = 5) -> dict[str, Any]:
    """hit@k of the gold evidence doc_ids among retrieved passages, per retrieval mode (higher is better).

    Uses the answerable, stand-alone gold questions (follow-ups need their conversation).
    """
    from eval.metrics import hit_at_k, mean
    from eval.runner import load_gold

    questions = [q for q in load_gold(gold) if q.answerable and q.evidence and not q.followup_of]
    out: dict[str, Any] = {"n": len(questions)}
    for mode in ("vector", "hybrid"):
        p = pipeline.with_options(retrieval=mode, top_k=max(10, k))
        hits = [hit_at_k([x.doc_id for x in p.retrieve(q.question)], q.evidence, k) for q in questions]
        out[f"hit@{k}_{mode}"] = round(mean(hits), 3)
    return out


def answer_latency(pipeline: Pipeline, model: str, questions: Sequence[str]) -> dict[str, Any]:
    """Time to first token and total per question for one answer backend ("none" or a bundled local model)."""
    from rag.types import Done, Token

    p = (
        pipeline.with_options(llm="none")
        if model == "none"
        else pipeline.with_options(llm="local", local_model=model)
    )
    first_ms: list[float] = []
    total_ms: list[float] = []
    abstained = 0
    for q in questions:
        t0 = time.perf_counter()
        first = None
        for event in p.stream(q):
            if isinstance(event, Token) and first is None:
                first = (time.perf_counter() - t0) * 1000
            if isinstance(event, Done):
                total_ms.append((time.perf_counter() - t0) * 1000)
                abstained += event.answer.abstained
        if first is not None:
            first_ms.append(first)
    return {"first_token_ms": summarize(first_ms), "total_ms": summarize(total_ms), "abstained": abstained}


# --- cold start -------------------------------------------------------------------------------------------
def _rag_command() -> list[str]:
    exe = Path(sys.executable).parent / "rag"
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "rag.cli"]


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    env.update(
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        GRADIO_ANALYTICS_ENABLED="False",
        ANONYMIZED_TELEMETRY="False",
    )
    return env


def _timed_run(cmd: Sequence[str], timeout: float = 300) -> tuple[float, int, str]:
    """Wall seconds, exit code and the last line of stderr of one fresh process."""
    t0 = time.perf_counter()
    done = subprocess.run(cmd, env=_env(), cwd=ROOT, capture_output=True, timeout=timeout, check=False)
    lines = done.stderr.decode("utf-8", "replace").strip().splitlines()
    return time.perf_counter() - t0, done.returncode, lines[-1] if lines else ""


def cold_start(store_dirs: dict[str, Path], collection: str, log: Log) -> dict[str, Any]:
    """Wall time of fresh processes: `rag --help`, `rag ask` (llm none) per embedder, `rag ui` serving.

    `rag ask` runs twice: `ask_first_s` may include reading libraries from disk, `ask_s` is a fresh process
    with the OS file cache warm (what a user sees from the second question on the command line).
    """
    rag = _rag_command()
    helps = [_timed_run([*rag, "--help"])[0] for _ in range(3)]  # median of three
    out: dict[str, Any] = {"help_s": round(sorted(helps)[1], 3)}
    for embedder, store_dir in store_dirs.items():
        ask = [*rag, "ask", COLD_QUESTION, "--llm", "none", "--store-dir", str(store_dir)]
        ask += ["--embedding-model", embedder, "--collection", collection, "--json"]
        # The first process may read its libraries from disk; the second finds them in the OS file cache.
        for label in ("first", "again"):
            seconds, code, err = _timed_run(ask)
            key = f"ask_s[{embedder}]" if label == "again" else f"ask_first_s[{embedder}]"
            out[key] = round(seconds, 2) if code == 0 else f"failed (exit {code}: {err})"
            log(f"cold start: rag ask ({embedder}, {label}) {seconds:.1f} s")
    embedder, store_dir = next(iter(store_dirs.items()))
    out["ui_embedder"] = embedder
    out["ui_ready_s"] = _ui_ready(rag, store_dir, embedder, collection)
    return out


def _ui_ready(
    rag: Sequence[str], store_dir: Path, embedder: str, collection: str, timeout: float = 180
) -> float | str:
    port = _free_port()
    cmd = [
        *rag,
        "ui",
        "--llm",
        "none",
        "--port",
        str(port),
        "--store-dir",
        str(store_dir),
        "--embedding-model",
        embedder,
        "--collection",
        collection,
    ]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=_env(), cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while time.perf_counter() - t0 < timeout:
            if proc.poll() is not None:
                return f"exited with {proc.returncode} before serving"
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as response:
                    if response.status == 200:
                        return round(time.perf_counter() - t0, 2)
            except OSError:
                time.sleep(0.2)
        return f"not ready after {timeout:.0f} s"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# --- the whole run ----------------------------------------------------------------------------------------
def run_bench(config: BenchConfig, settings: Settings, log: Log = lambda _: None) -> BenchResult:
    """Run every benchmark in `config` and write results.json and results.md to `config.out_dir`."""
    from rag import open_pipeline
    from rag.embeddings import set_offline_env

    set_offline_env()
    base = settings.replace(chroma_url="", collection="bench", llm="none")
    work = config.work_dir or Path(tempfile.mkdtemp(prefix="newsrag-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    questions = _questions(config)
    data: dict[str, Any] = {
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine_info(),
        "config": {k: (str(v) if isinstance(v, Path) else v) for k, v in config.__dict__.items()},
        "settings": {
            k: base.public_dict()[k]
            for k in ("chunk_tokens", "chunk_overlap", "candidates", "top_k", "retrieval", "embed_batch")
        },
        "runs": [],
    }
    warmup_dir = work / "warmup"
    write_jsonl(synthetic_articles(1, seed=config.seed + 1000), warmup_dir)
    smallest_store: dict[str, Path] = {}
    corpora: dict[int, _Corpus] = {}
    try:
        for size in sorted(set(config.sizes)):
            log(f"corpus: seed + {size} synthetic chunks")
            corpora[size] = build_corpus(size, config.seed, base, work / f"corpus-{size}")
            texts: list[str] | None = None
            for embedder in config.embedders:
                if embedder != config.embedders[0] and size > config.compare_max:
                    continue  # comparison embedders stop where the comparisons stop
                s = base.replace(store_dir=work / f"store-{embedder}-{size}", embedding_model=embedder)
                row: dict[str, Any] = {"embedder": embedder, "size": size}
                compare = size <= config.compare_max
                if compare and texts is None:
                    texts = _chunk_texts(_inputs(corpora[size]), base)
                # For the default embedder, pipeline and bare embedder alternate `repeats` times each where
                # they are compared; the fastest run of each is reported, since a busy machine only ever adds
                # time. The last pipeline run's store is the one queried below.
                ours_runs: list[dict[str, Any]] = []
                bare_runs: list[dict[str, Any]] = []
                attempts = max(1, config.repeats) if compare and embedder == config.embedders[0] else 1
                for attempt in range(1, attempts + 1):
                    target = (
                        s if attempt == attempts else s.replace(store_dir=Path(f"{s.store_dir}-try{attempt}"))
                    )
                    pipeline = open_pipeline(target)

                    # Which goes first alternates (ours-bare, bare-ours, ...), so a host that speeds up or
                    # slows down during the run favours neither side of a pair.
                    sides = ["ours", "bare"] if compare and texts is not None else ["ours"]
                    for side in sides if attempt % 2 else sides[::-1]:
                        if side == "ours":
                            log(f"[{embedder} @ {size}] ingest through the pipeline ({attempt}/{attempts})")
                            ours_runs.append(ingest_ours(pipeline, corpora[size], warmup_dir))
                            log(f"  {ours_runs[-1]['chunks_per_s']} chunks/s")
                        else:
                            assert texts is not None
                            log(
                                f"[{embedder} @ {size}] bare embedder, {len(texts)} chunk texts "
                                f"({attempt}/{attempts})"
                            )
                            bare_runs.append(ingest_bare(texts, s))
                            log(f"  {bare_runs[-1]['chunks_per_s']} chunks/s")
                    if attempt < attempts:
                        pipeline.close()
                row["ingest"] = fastest(ours_runs)
                if bare_runs:
                    row["bare"] = fastest(bare_runs)
                log(f"[{embedder} @ {size}] query latency over {len(questions)} questions")
                row["query"] = query_latency(pipeline, questions)
                row["rss_mb_after_query"] = current_rss_mb()
                row["ann"] = ann_recall(s, questions)
                log(f"  HNSW recall@10 vs exact {row['ann']['recall']}")
                if config.gold.is_file():
                    row["quality"] = retrieval_quality(pipeline, config.gold)
                    log(f"  quality {row['quality']}")
                if compare:
                    log(f"[{embedder} @ {size}] plain LangChain recipe")
                    row["langchain"] = ingest_langchain(
                        _inputs(corpora[size]), s, work / f"langchain-{embedder}-{size}", embedder
                    )
                if size == min(config.sizes):
                    smallest_store[embedder] = s.store_dir
                    for model in config.models:
                        log(f"[{embedder} @ {size}] answers with {model}")
                        n = config.answer_questions
                        row.setdefault("answer", {})[model] = answer_latency(pipeline, model, questions[:n])
                row["peak_rss_mb"] = peak_rss_mb()
                data["runs"].append(row)
                pipeline.close()
                del pipeline
        if config.cold_start and smallest_store:
            log("cold start: subprocesses")
            data["cold_start"] = cold_start(smallest_store, base.collection, log)
    finally:
        if config.work_dir is None:
            shutil.rmtree(work, ignore_errors=True)
    data["finished"] = datetime.now(UTC).isoformat(timespec="seconds")
    data["machine"]["load_average_1m_at_end"] = round(os.getloadavg()[0], 2)
    markdown = markdown_report(data)
    config.out_dir.mkdir(parents=True, exist_ok=True)
    json_path = config.out_dir / "results.json"
    markdown_path = config.out_dir / "results.md"
    json_path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    markdown_path.write_text(markdown, encoding="utf-8")
    return BenchResult(data, markdown, json_path, markdown_path)


def _questions(config: BenchConfig) -> list[str]:
    """About a third from the gold file (real news questions), the rest about the synthetic corpus."""
    gold: list[str] = []
    if config.gold.is_file():
        from eval.runner import load_gold

        gold = [q.question for q in load_gold(config.gold) if not q.followup_of][: config.questions // 3]
    return gold + synthetic_questions(config.questions - len(gold), seed=config.seed)
