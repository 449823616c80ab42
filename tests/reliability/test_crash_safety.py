"""Crash safety: `rag ingest` killed with SIGKILL at random moments loses nothing and duplicates nothing.

A baseline store is ingested once. Each seed then copies it, edits a few articles and adds new ones (so the
killed run is updating: new chunks first, stale chunks after), starts `python -m rag.cli ingest` and kills
it -9 after a seeded random delay, then re-runs ingest to completion. Afterwards every article is present
exactly once with exactly the chunk ids `chunk_article` gives, no chunk belongs to a missing file, and the
keyword index agrees with Chroma (size, and a BM25 hit for each article's unique word).
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rag import load_settings
from rag.articles import load_path
from rag.chunking import chunk_article, get_encoding
from rag.keyword import KeywordIndex
from rag.pipeline import _Clients
from rag.store import VectorStore, build_chroma_client
from tests.reliability.conftest import REPO, cli_env, run_cli, write_synthetic_corpus

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SEEDS = (11, 23, 37, 41, 59)
ARTICLES = 40
EMBEDDER = (
    "minilm-onnx-int8"  # the torch-free embedder: a process starts in seconds, so kills land in the work
)


def _env(store: Path) -> dict[str, str]:
    return cli_env(RAG_STORE_DIR=str(store), RAG_LLM="none", RAG_EMBEDDING_MODEL=EMBEDDER)


@pytest.fixture(scope="module")
def baseline(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path, float]:
    """(pristine corpus, working corpus path the store records, ingested store, seconds an update run takes).

    The store records absolute file paths, so every seed restores the corpus at the same working path.
    """
    root = tmp_path_factory.mktemp("crash-base")
    pristine = root / "pristine"
    write_synthetic_corpus(pristine, ARTICLES, seed=1, paragraphs=5)
    work = root / "corpus"
    shutil.copytree(pristine, work)
    store = root / "store"
    result = run_cli(["ingest", "--json", str(work)], env=_env(store))
    assert result.returncode == 0, result.stderr[-2000:]
    # calibrate: how long an uncrashed update run (same kind of edits as the seeds make) takes
    calib_store = root / "calib-store"
    shutil.copytree(store, calib_store)
    _mutate(work, random.Random(0))
    t0 = time.monotonic()
    result = run_cli(["ingest", "--json", str(work)], env=_env(calib_store))
    assert result.returncode == 0, result.stderr[-2000:]
    update_s = time.monotonic() - t0
    shutil.rmtree(work)
    shutil.copytree(pristine, work)
    return pristine, work, store, update_s


def _mutate(corpus: Path, rng: random.Random) -> None:
    """Edit a few articles (changed chunks) and add a few new ones."""
    files = sorted(corpus.glob("*.txt"))
    for f in rng.sample(files, 15):
        text = f.read_text(encoding="utf-8")
        f.write_text(
            text.replace("Residents asked", f"Residents (edit {rng.randint(0, 9999)}) asked", 1),
            encoding="utf-8",
        )
    for j in range(10):
        src = rng.choice(files).read_text(encoding="utf-8")
        (corpus / f"new_{j}.txt").write_text(
            src.replace("Synthetic Times", f"Synthetic Post {j}"), encoding="utf-8"
        )


def _check_consistent(corpus: Path, store_dir: Path) -> int:
    """Assert the store is exactly the corpus, and the keyword index agrees; returns the chunk count."""
    settings = load_settings(
        overrides={"store_dir": str(store_dir), "llm": "none", "embedding_model": EMBEDDER}, env={}
    )
    store = VectorStore(build_chroma_client(settings), settings.collection)
    articles, skipped = load_path(corpus)
    assert not skipped
    encoding = get_encoding(settings.encoding)
    expected = {
        a.doc_id: {
            c.chunk_id for c in chunk_article(a, encoding, settings.chunk_tokens, settings.chunk_overlap)
        }
        for a in articles
    }
    stored = store.articles()
    assert set(stored) == set(expected), "articles missing or orphaned"
    for doc_id, ids in expected.items():
        assert stored[doc_id].chunk_ids == ids, f"{doc_id}: stale or missing chunks"
    ids_in_store = [c.chunk_id for c in store.iter_chunks(include_text=False)]
    assert len(ids_in_store) == len(set(ids_in_store)) == sum(len(v) for v in expected.values())
    for chunk in store.iter_chunks(include_text=False):  # every chunk's file still exists
        assert Path(chunk.metadata["path"]).is_file(), chunk.metadata
    keyword = KeywordIndex.open(_Clients(settings).keyword_dir(), store)
    assert keyword.size == store.count()
    titles = {a.doc_id: a.title for a in articles}
    for a in articles:
        word = a.title.split()[-2]  # "Report N on the WORD project": an invented word
        hits = {cid for cid, _ in keyword.search(word, 50)}
        holders = set().union(*(expected[d] for d, t in titles.items() if word in t.split()))
        assert hits & expected[a.doc_id], f"BM25 does not find {word!r} of {a.doc_id}"
        assert hits <= holders, f"BM25 hits for {word!r} outside the articles holding it"
    return store.count()


def test_kill_minus_nine_then_rerun_leaves_a_consistent_store(baseline, tmp_path: Path, figures) -> None:  # type: ignore[no-untyped-def]
    pristine, corpus, store0, update_s = baseline
    survived = 0
    kills_during_work = 0
    delays = []
    for seed in SEEDS:
        rng = random.Random(seed)
        store = tmp_path / f"store-{seed}"
        shutil.rmtree(corpus)
        shutil.copytree(pristine, corpus)
        shutil.copytree(store0, store)
        _mutate(corpus, rng)
        delay = rng.uniform(0.3 * update_s, update_s)
        delays.append(round(delay, 2))
        proc = subprocess.Popen(
            [sys.executable, "-m", "rag.cli", "ingest", str(corpus)],
            env=_env(store),
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        time.sleep(delay)
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
            kills_during_work += 1
        assert proc.returncode in (-signal.SIGKILL, 0)
        result = run_cli(["ingest", "--prune", "--json", str(corpus)], env=_env(store))
        assert result.returncode == 0, result.stderr[-2000:]
        _check_consistent(corpus, store)
        survived += 1
    figures.record(
        crash_seeds=len(SEEDS),
        kills_before_finish=kills_during_work,
        crashes_survived=survived,
        kill_delays_s=delays,
        update_run_s=round(update_s, 1),
        articles=ARTICLES + 10,
    )
    assert kills_during_work >= 3, f"most kills should land before the ingest finished: {delays}"
