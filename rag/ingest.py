"""The ingest use case: article files -> chunks -> embeddings -> store, idempotent and incremental.

Chunk ids derive from content, and the store records each article's chunk ids, so:
  - an unchanged article is recognised without embedding anything;
  - an edited article gets its new chunks written first and its stale ones deleted after, so at every moment
    the article is fully present (old or new), and a re-run after a crash finishes the job;
  - the store's generation is changed before the first write and after the last, so a keyword index built
    before an interrupted run is never mistaken for current.

Chunks go through in windows of EMBED_WINDOW: one embedding call and one store write per window, and the
write of one window runs on a background thread while the next window is embedded (the Chroma write is
~8% of the work; over six paired 2,000-chunk runs this made ingest ~4% faster than taking turns).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from rag.articles import load_path
from rag.chunking import chunk_article, embed_text
from rag.store import StoredArticle, VectorStore, chunk_metadata
from rag.types import Article, Chunk, IngestReport, Skipped

if TYPE_CHECKING:
    import tiktoken
    from langchain_core.embeddings import Embeddings

ProgressFn = Callable[[int, int, str], None]
EMBED_WINDOW = 256  # chunks embedded and written together; bounds memory and the work a crash can lose


@dataclass
class _Pending:
    """Articles whose new chunks await embedding, written together once the window is full."""

    items: list[tuple[Article, list[Chunk], StoredArticle | None]] = field(default_factory=list)
    chunks: int = 0


class _WriteBehind:
    """One background thread that writes window N to the store while the main thread embeds window N+1.

    Writes run one at a time and in order. `wait` returns when the last submitted write is done and raises
    its error; `shutdown` waits without raising (for a run that is already failing).
    """

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rag-ingest-write")
        self._last: Future[None] | None = None

    def submit(self, write: Callable[[], None]) -> None:
        self.wait()
        self._last = self._pool.submit(write)

    def wait(self) -> None:
        last, self._last = self._last, None
        if last is not None:
            last.result()

    def shutdown(self) -> None:
        self._pool.shutdown(wait=True)


def load_articles(paths: Sequence[Path], max_bytes: int) -> tuple[list[Article], list[Skipped]]:
    """Every article under `paths`; a doc_id seen twice keeps its first file and reports the second."""
    articles: list[Article] = []
    skipped: list[Skipped] = []
    seen: dict[str, str] = {}
    for path in paths:
        found, bad = load_path(Path(path).resolve(), max_bytes=max_bytes)
        skipped.extend(bad)
        for article in found:
            if article.doc_id in seen:
                skipped.append(
                    Skipped(
                        article.path or article.doc_id,
                        f"doc_id {article.doc_id!r} was already read from {seen[article.doc_id]}",
                    )
                )
                continue
            seen[article.doc_id] = article.path or article.doc_id
            articles.append(article)
    return articles, skipped


def stale_articles(stored: dict[str, StoredArticle], seen: set[str], read_files: set[str]) -> list[str]:
    """doc_ids to prune: their file is gone, or their file was read in this run without them."""
    out = []
    for doc_id, record in sorted(stored.items()):
        if doc_id in seen or record.path is None:
            continue
        if record.path in read_files or not Path(record.path).exists():
            out.append(doc_id)
    return out


class Ingestor:
    """Writes articles into a store with the embedder and encoding it is given.

    `embedder` is a factory: a run with nothing to embed never loads the model.
    """

    def __init__(
        self,
        store: VectorStore,
        embedder: Callable[[], Embeddings],
        encoding: tiktoken.Encoding,
        chunk_tokens: int,
        chunk_overlap: int,
        max_file_bytes: int,
        on_changed: Callable[[], None] = lambda: None,
    ) -> None:
        self._store = store
        self._embedder = embedder
        self._encoding = encoding
        self._chunk_tokens = chunk_tokens
        self._chunk_overlap = chunk_overlap
        self._max_file_bytes = max_file_bytes
        self._on_changed = on_changed

    def run(
        self, paths: Sequence[Path], prune: bool = False, progress: ProgressFn | None = None
    ) -> IngestReport:
        t0 = time.perf_counter()
        articles, skipped = load_articles(paths, self._max_file_bytes)
        stored = self._store.articles()
        counts = {"added": 0, "updated": 0, "unchanged": 0, "removed": 0, "chunks": 0}
        pending = _Pending()
        dirty = False
        writer = _WriteBehind()

        def mark_dirty() -> None:
            nonlocal dirty
            if not dirty:
                self._store.bump_generation()
                dirty = True

        try:
            for i, article in enumerate(articles, start=1):
                chunks = chunk_article(article, self._encoding, self._chunk_tokens, self._chunk_overlap)
                record = stored.get(article.doc_id)
                if not chunks:
                    skipped.append(Skipped(article.path or article.doc_id, "no text left after cleaning"))
                elif record is not None and record.chunk_ids == {c.chunk_id for c in chunks}:
                    counts["unchanged"] += 1
                else:
                    pending.items.append((article, chunks, record))
                    pending.chunks += sum(
                        1 for c in chunks if record is None or c.chunk_id not in record.chunk_ids
                    )
                    if pending.chunks >= EMBED_WINDOW:
                        mark_dirty()
                        self._flush(pending, counts, writer)
                        pending = _Pending()
                if progress:
                    progress(i, len(articles), article.doc_id)
            if pending.items:
                mark_dirty()
                self._flush(pending, counts, writer)
            writer.wait()
            if prune:
                seen = {a.doc_id for a in articles}
                read_files = {a.path for a in articles if a.path}
                gone = stale_articles(stored, seen, read_files)
                if gone:
                    mark_dirty()
                    for doc_id in gone:
                        self._store.delete(sorted(stored[doc_id].chunk_ids))
                    counts["removed"] = len(gone)
        finally:
            writer.shutdown()  # a write still running finishes before the generation changes
            if dirty:
                self._store.bump_generation()
                self._on_changed()
        return IngestReport(
            added=counts["added"],
            updated=counts["updated"],
            unchanged=counts["unchanged"],
            removed=counts["removed"],
            skipped=tuple(skipped),
            chunks=counts["chunks"],
            seconds=time.perf_counter() - t0,
        )

    def _flush(self, pending: _Pending, counts: dict[str, int], writer: _WriteBehind) -> None:
        """Embed the window's new chunks in one batch, then hand its write to `writer`.

        The write is one upsert for the whole window (each Chroma write is a transaction), then the stale
        chunks of updated articles: a crash in between leaves old and new side by side, never an article
        missing.
        """
        todo: list[tuple[Article, Chunk]] = [
            (article, c)
            for article, chunks, record in pending.items
            for c in chunks
            if record is None or c.chunk_id not in record.chunk_ids
        ]
        vectors = self._embedder().embed_documents([embed_text(a, c) for a, c in todo]) if todo else []

        def write() -> None:
            self._store.upsert(
                [c.chunk_id for _, c in todo],
                vectors,
                [c.text for _, c in todo],
                [chunk_metadata(a, c) for a, c in todo],
            )
            for _, chunks, record in pending.items:
                if record is not None:
                    self._store.delete(sorted(record.chunk_ids - {c.chunk_id for c in chunks}))
                counts["updated" if record is not None else "added"] += 1
            counts["chunks"] += len(todo)

        writer.submit(write)
