"""The ingest use case: article files -> chunks -> embeddings -> store, idempotent and incremental.

Chunk ids derive from content, and the store records each article's chunk ids, so:
  - an unchanged article is recognised without embedding anything;
  - an edited article gets its new chunks written first and its stale ones deleted after, so at every moment
    the article is fully present (old or new), and a re-run after a crash finishes the job;
  - the store's generation is changed before the first write and after the last, so a keyword index built
    before an interrupted run is never mistaken for current.

Chunks go through in windows of EMBED_WINDOW: one embedding call and one store write per window. Three
stages run at once: a background thread cleans and chunks the next window, the embedder embeds the current
one, and another background thread writes the one before. The embedder keeps both cores busy, so the other
stages only gain where they would otherwise leave a core idle (e.g. the files are read and split into
records first, which is quick, and the costly cleaning of each article happens in the chunking stage).
An embedder whose calls may overlap (`overlapping_calls`, the ONNX one) gets the next window before the
current one is done, so its workers do not wait at the end of each window for the last batch to finish.
The ends of a run are where the embedder waits: for the first window to be chunked, and (as nothing else is
left to embed) for the last one to be written. So the first windows are smaller (a quarter, then half of
EMBED_WINDOW) and the last one is split in two, the second half embedded while the first is written.
"""

from __future__ import annotations

import contextlib
import time
from collections import deque
from collections.abc import Callable, Generator, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

from rag.articles import Draft, find_drafts, finish_each
from rag.chunking import chunk_article, embed_text
from rag.store import StoredArticle, VectorStore, chunk_metadata
from rag.types import Article, Chunk, IngestReport, Skipped

if TYPE_CHECKING:
    import tiktoken
    from langchain_core.embeddings import Embeddings

ProgressFn = Callable[[int, int, str], None]
WrittenFn = Callable[[Sequence[str], Sequence[str], Sequence[dict[str, Any]]], None]  # ids, texts, metadata
T = TypeVar("T")
EMBED_WINDOW = 256  # chunks embedded and written together; bounds memory and the work a crash can lose


def window_limit(position: int) -> int:
    """New chunks that close window number `position` (0-based): windows ramp up to EMBED_WINDOW (pure)."""
    return max(1, EMBED_WINDOW >> max(0, 2 - position))


@dataclass
class _Window:
    """Up to EMBED_WINDOW new chunks, with what was learned about the articles read to fill it."""

    items: list[tuple[Article, list[Chunk], StoredArticle | None]] = field(default_factory=list)
    new: int = 0  # chunks of `items` the store does not hold yet
    unchanged: int = 0
    skipped: list[Skipped] = field(default_factory=list)
    read: list[tuple[int, str]] = field(default_factory=list)  # (1-based position, label) for progress
    loaded: list[Article] = field(default_factory=list)  # every article read, changed or not

    def split(self) -> tuple[_Window, _Window]:
        """Two windows with about half the new chunks each (whole articles; what was read goes with the
        first). The second is empty when one article holds more than half of the new chunks."""
        first = _Window(skipped=self.skipped, read=self.read, loaded=self.loaded, unchanged=self.unchanged)
        second = _Window()
        for item in self.items:
            article, chunks, record = item
            new = sum(1 for c in chunks if record is None or c.chunk_id not in record.chunk_ids)
            fits = first.new + new <= self.new // 2 or not first.items
            target = first if fits and not second.items else second
            target.items.append(item)
            target.new += new
        return first, second


def prefetched(items: Iterator[T]) -> Generator[T, None, None]:
    """`items`, each produced on one background thread while the caller still works on the one before.

    Errors are raised to the caller where the item would have been. Pure Python work (chunking) gains
    from this because the caller's work (onnxruntime, tokenizers) runs without the GIL.
    """
    end = object()
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="rag-ingest-chunk") as pool:
        ahead = pool.submit(next, items, end)
        while (item := ahead.result()) is not end:
            ahead = pool.submit(next, items, end)
            yield cast(T, item)


class _WriteBehind:
    """One background thread that writes window N to the store while window N+1 is embedded.

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


def find_articles(paths: Sequence[Path], max_bytes: int) -> tuple[list[Draft], list[Skipped]]:
    """The articles under `paths`, read but not yet parsed and cleaned (see `rag.articles.Draft`)."""
    drafts: list[Draft] = []
    skipped: list[Skipped] = []
    for path in paths:
        found, bad = find_drafts(Path(path).resolve(), max_bytes=max_bytes)
        drafts.extend(found)
        skipped.extend(bad)
    return drafts, skipped


def load_articles(paths: Sequence[Path], max_bytes: int) -> tuple[list[Article], list[Skipped]]:
    """Every article under `paths`; a doc_id seen twice keeps its first file and reports the second."""
    drafts, skipped = find_articles(paths, max_bytes)
    articles: list[Article] = []
    for got in finish_each(drafts, seen={}):
        (skipped if isinstance(got, Skipped) else articles).append(got)  # type: ignore[arg-type]
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
        on_written: WrittenFn | None = None,
    ) -> None:
        self._store = store
        self._embedder = embedder
        self._encoding = encoding
        self._chunk_tokens = chunk_tokens
        self._chunk_overlap = chunk_overlap
        self._max_file_bytes = max_file_bytes
        self._on_changed = on_changed
        self._on_written = on_written

    def run(
        self, paths: Sequence[Path], prune: bool = False, progress: ProgressFn | None = None
    ) -> IngestReport:
        t0 = time.perf_counter()
        drafts, skipped = find_articles(paths, self._max_file_bytes)
        # Pruning needs the whole record (which articles the store holds); otherwise each batch of articles
        # looks up its own records, which does not grow with the store (the whole record takes ~10 s at 100k).
        stored = self._store.articles() if prune else None
        articles: list[Article] = []
        counts = {"added": 0, "updated": 0, "unchanged": 0, "removed": 0, "chunks": 0}
        dirty = False
        writer = _WriteBehind()

        def mark_dirty() -> None:
            nonlocal dirty
            if not dirty:
                self._store.bump_generation()
                dirty = True

        try:
            # Three stages at once: a background thread cleans and chunks the next window, the embedder
            # embeds the current one (and the next, when its calls may overlap), and another background
            # thread writes the one before.
            chunked = contextlib.closing(prefetched(self._windows(drafts, stored)))
            ahead = 0  # windows embedded at once, known when the embedder is loaded (not at all if nothing is new)
            embedding = ThreadPoolExecutor(max_workers=2, thread_name_prefix="rag-ingest-embed")
            pending: deque[tuple[_Window, list[tuple[Article, Chunk]], Future[list[list[float]]]]] = deque()
            with chunked as windows, embedding:
                for window in windows:
                    articles.extend(window.loaded)
                    skipped.extend(window.skipped)
                    counts["unchanged"] += window.unchanged
                    if progress:
                        for position, label in window.read:
                            progress(position, len(drafts), label)
                    if window.items:
                        mark_dirty()
                        embedder = self._embedder()
                        ahead = ahead or (2 if getattr(embedder, "overlapping_calls", False) else 1)
                        todo = new_chunks(window)
                        texts = [embed_text(a, c) for a, c in todo]
                        pending.append((window, todo, embedding.submit(embedder.embed_documents, texts)))
                    while pending and len(pending) >= ahead:
                        self._write_behind(*pending.popleft(), counts, writer)
                while pending:
                    self._write_behind(*pending.popleft(), counts, writer)
            writer.wait()
            if prune:
                seen = {a.doc_id for a in articles}
                read_files = {a.path for a in articles if a.path}
                assert stored is not None
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

    def _windows(self, drafts: Sequence[Draft], stored: dict[str, StoredArticle] | None) -> Iterator[_Window]:
        """Clean and chunk the articles, grouping the changed ones into windows of EMBED_WINDOW new chunks.

        Articles are compared with the store's record (`stored`, or else looked up a batch at a time). The
        first windows are smaller (`window_limit`). The last window holds the rest (it may have no changed
        article: it still carries what was read); it comes in two halves when it is large enough for the
        first half's write to overlap the second half's embedding.
        """
        window = _Window()
        yielded = 0
        batch: list[tuple[Article, list[Chunk]]] = []
        for position, got in enumerate(finish_each(drafts, seen={}), start=1):
            window.read.append((position, got.doc_id if isinstance(got, Article) else Path(got.path).name))
            if isinstance(got, Skipped):
                window.skipped.append(got)
                continue
            window.loaded.append(got)
            chunks = chunk_article(got, self._encoding, self._chunk_tokens, self._chunk_overlap)
            if not chunks:
                window.skipped.append(Skipped(got.path or got.doc_id, "no text left after cleaning"))
                continue
            batch.append((got, chunks))
            if sum(len(c) for _, c in batch) >= window_limit(yielded):
                self._compare(batch, stored, window)
                batch = []
                if window.new >= window_limit(yielded):
                    yield window
                    yielded += 1
                    window = _Window()
        self._compare(batch, stored, window)
        if window.new >= window_limit(0):
            first, window = window.split()
            yield first
        if window.read or window.items:
            yield window

    def _compare(
        self,
        batch: list[tuple[Article, list[Chunk]]],
        stored: dict[str, StoredArticle] | None,
        window: _Window,
    ) -> None:
        """Count the batch's unchanged articles and add the new or changed ones to `window`."""
        if not batch:
            return
        records = stored if stored is not None else self._store.articles([a.doc_id for a, _ in batch])
        for article, chunks in batch:
            record = records.get(article.doc_id)
            if record is not None and record.chunk_ids == {c.chunk_id for c in chunks}:
                window.unchanged += 1
            else:
                window.items.append((article, chunks, record))
                window.new += sum(1 for c in chunks if record is None or c.chunk_id not in record.chunk_ids)

    def _write_behind(
        self,
        window: _Window,
        todo: list[tuple[Article, Chunk]],
        vectors: Future[list[list[float]]],
        counts: dict[str, int],
        writer: _WriteBehind,
    ) -> None:
        """Wait for the window's vectors, then hand its write to `writer`.

        The write is one upsert for the whole window (each Chroma write is a transaction), then the stale
        chunks of updated articles: a crash in between leaves old and new side by side, never an article
        missing.
        """
        done = vectors.result()

        def write() -> None:
            ids, texts = [c.chunk_id for _, c in todo], [c.text for _, c in todo]
            metadatas = [chunk_metadata(a, c) for a, c in todo]
            self._store.upsert(ids, done, texts, metadatas)
            if self._on_written is not None:
                self._on_written(ids, texts, metadatas)
            for _, chunks, record in window.items:
                if record is not None:
                    self._store.delete(sorted(record.chunk_ids - {c.chunk_id for c in chunks}))
                counts["updated" if record is not None else "added"] += 1
            counts["chunks"] += len(todo)

        writer.submit(write)


def new_chunks(window: _Window) -> list[tuple[Article, Chunk]]:
    """The window's chunks that the store does not hold yet, with their articles, in order."""
    return [
        (article, c)
        for article, chunks, record in window.items
        for c in chunks
        if record is None or c.chunk_id not in record.chunk_ids
    ]
