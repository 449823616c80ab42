"""Ingest's pure pruning rule: which stored articles are stale."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.ingest import load_articles, stale_articles
from rag.store import StoredArticle
from rag.types import Article


def stored(doc_id: str, path: str | None) -> StoredArticle:
    return StoredArticle(
        doc_id=doc_id, content_hash="h-" + doc_id, path=path, chunk_ids=frozenset({doc_id + "-0"})
    )


def test_article_whose_file_is_gone_is_stale(tmp_path: Path) -> None:
    present = tmp_path / "a.txt"
    present.write_text("x", encoding="utf-8")
    records = {"a": stored("a", str(present)), "b": stored("b", str(tmp_path / "deleted.txt"))}
    assert stale_articles(records, seen=set(), read_files=set()) == ["b"]


def test_article_missing_from_a_file_read_this_run_is_stale(tmp_path: Path) -> None:
    feed = tmp_path / "feed.jsonl"
    feed.write_text("{}", encoding="utf-8")
    records = {"kept": stored("kept", str(feed)), "dropped": stored("dropped", str(feed))}
    assert stale_articles(records, seen={"kept"}, read_files={str(feed)}) == ["dropped"]


def test_seen_articles_are_never_stale_even_if_their_old_file_is_gone(tmp_path: Path) -> None:
    records = {"moved": stored("moved", str(tmp_path / "old-place.txt"))}
    assert stale_articles(records, seen={"moved"}, read_files=set()) == []


def test_articles_without_a_path_are_never_pruned() -> None:
    assert stale_articles({"api": stored("api", None)}, seen=set(), read_files=set()) == []


def test_existing_file_not_read_this_run_is_kept(tmp_path: Path) -> None:
    other = tmp_path / "other.txt"
    other.write_text("x", encoding="utf-8")
    assert (
        stale_articles({"o": stored("o", str(other))}, seen=set(), read_files={str(tmp_path / "x.txt")}) == []
    )


def test_result_is_sorted_by_doc_id(tmp_path: Path) -> None:
    records = {d: stored(d, str(tmp_path / f"{d}.txt")) for d in ("zeta", "alpha", "mu")}
    assert stale_articles(records, seen=set(), read_files=set()) == ["alpha", "mu", "zeta"]


def test_empty_store() -> None:
    assert stale_articles({}, seen={"a"}, read_files={"a.txt"}) == []


def write_article(path: Path, title: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    body = "Marco Rubio met Sergei Lavrov in Riyadh on Tuesday for talks about the war. " * 3
    path.write_text(f"{title}\n\n{body}\n", encoding="utf-8")


def as_stored(articles: list[Article]) -> dict[str, StoredArticle]:
    return {a.doc_id: StoredArticle(a.doc_id, a.content_hash, a.path, frozenset()) for a in articles}


def test_prune_from_another_directory_keeps_articles_whose_files_exist(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_article(tmp_path / "a" / "corpus" / "first.txt", "First story")
    write_article(tmp_path / "b" / "other" / "second.txt", "Second story")
    monkeypatch.chdir(tmp_path / "a")
    first, _ = load_articles([Path("corpus")], max_bytes=1_000_000)
    monkeypatch.chdir(tmp_path / "b")  # a later `rag ingest --prune other` run from elsewhere
    second, _ = load_articles([Path("other")], max_bytes=1_000_000)
    records = as_stored(first + second)
    assert (tmp_path / "a" / "corpus" / "first.txt").exists()
    assert stale_articles(records, seen={a.doc_id for a in second}, read_files={a.path for a in second}) == []


class RecordingStore:
    """Just enough of VectorStore for Ingestor, recording each write in order."""

    def __init__(self, records: dict[str, StoredArticle] | None = None) -> None:
        self.records = records or {}
        self.writes: list[tuple[str, list[str]]] = []

    def articles(self, doc_ids=None) -> dict[str, StoredArticle]:  # type: ignore[no-untyped-def]
        return {d: r for d, r in self.records.items() if doc_ids is None or d in doc_ids}

    def bump_generation(self) -> str:
        self.writes.append(("generation", []))
        return "g"

    def upsert(self, ids, embeddings, documents, metadatas) -> None:  # type: ignore[no-untyped-def]
        assert len(ids) == len(embeddings) == len(documents) == len(metadatas)
        self.writes.append(("upsert", list(ids)))

    def delete(self, ids) -> None:  # type: ignore[no-untyped-def]
        self.writes.append(("delete", list(ids)))


class CountingEmbedder:
    def __init__(self) -> None:
        self.calls = 0

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        self.calls += 1
        return [[float(len(t)), 1.0] for t in texts]


def _ingestor(store: RecordingStore, embedder: CountingEmbedder):  # type: ignore[no-untyped-def]
    from rag.chunking import get_encoding
    from rag.ingest import Ingestor

    return Ingestor(store, lambda: embedder, get_encoding("cl100k_base"), 40, 5, 1_000_000)  # type: ignore[arg-type]


def _write(folder: Path, name: str, sentences: int, fact: str = "a different fact") -> None:
    body = " ".join(f"Sentence number {i} of {name} reports {fact}." for i in range(sentences))
    (folder / f"{name}.txt").write_text(f"{name} headline\n\n{body}\n", encoding="utf-8")


def _small_windows(folder: Path, monkeypatch: pytest.MonkeyPatch, articles: int) -> None:
    """`articles` articles of 12 sentences, and windows of 4 chunks, so that each article fills a window."""
    import rag.ingest

    monkeypatch.setattr(rag.ingest, "EMBED_WINDOW", 4)
    for n in range(articles):
        _write(folder, f"article{n}", 12)


def test_a_window_of_new_articles_is_embedded_once_and_written_in_one_upsert(tmp_path: Path) -> None:
    for name in ("alpha", "beta", "gamma"):
        _write(tmp_path, name, 12)
    store, embedder = RecordingStore(), CountingEmbedder()
    report = _ingestor(store, embedder).run([tmp_path])
    upserts = [ids for kind, ids in store.writes if kind == "upsert"]
    assert report.added == 3 and embedder.calls == 1
    assert len(upserts) == 1 and len(upserts[0]) == report.chunks > 3
    assert [kind for kind, _ in store.writes] == ["generation", "upsert", "generation"]


def test_an_updated_article_gets_its_new_chunks_before_its_stale_ones_go(tmp_path: Path) -> None:
    _write(tmp_path, "alpha", 12)
    first = RecordingStore()
    _ingestor(first, CountingEmbedder()).run([tmp_path])
    old_ids = frozenset(first.writes[1][1])
    _write(tmp_path, "alpha", 12, fact="a corrected fact")  # every chunk's text changes
    doc_id = "alpha"
    store = RecordingStore({doc_id: StoredArticle(doc_id, "old", str(tmp_path / "alpha.txt"), old_ids)})
    report = _ingestor(store, CountingEmbedder()).run([tmp_path])
    kinds = [kind for kind, _ in store.writes]
    assert report.updated == 1 and report.added == 0
    assert kinds == ["generation", "upsert", "delete", "generation"]
    written, deleted = store.writes[1][1], store.writes[2][1]
    assert written and not set(written) & old_ids
    assert deleted and set(deleted) <= old_ids


def test_windows_are_written_in_order_and_a_failed_write_stops_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _small_windows(tmp_path, monkeypatch, 6)
    store, embedder = RecordingStore(), CountingEmbedder()
    report = _ingestor(store, embedder).run([tmp_path])
    upserts = [ids for kind, ids in store.writes if kind == "upsert"]
    assert len(upserts) == embedder.calls > 1
    assert sum(len(ids) for ids in upserts) == report.chunks

    class FailingStore(RecordingStore):
        def upsert(self, ids, embeddings, documents, metadatas) -> None:  # type: ignore[no-untyped-def]
            raise RuntimeError("disk full")

    failing = FailingStore()
    with pytest.raises(RuntimeError, match="disk full"):
        _ingestor(failing, CountingEmbedder()).run([tmp_path])
    # the generation still changes after the failed run, so no keyword index built before it looks current
    assert [kind for kind, _ in failing.writes] == ["generation", "generation"]


def test_a_window_is_written_while_the_next_one_is_embedded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading

    _small_windows(tmp_path, monkeypatch, 4)
    second_embed_started = threading.Event()

    class SlowStore(RecordingStore):
        def upsert(self, ids, embeddings, documents, metadatas) -> None:  # type: ignore[no-untyped-def]
            if not any(kind == "upsert" for kind, _ in self.writes):
                # the first write only finishes once the next window's embedding has begun: this cannot
                # happen if writing and embedding take turns
                assert second_embed_started.wait(timeout=10), "the next window was not embedded meanwhile"
            super().upsert(ids, embeddings, documents, metadatas)

    class SignallingEmbedder(CountingEmbedder):
        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            if self.calls == 1:
                second_embed_started.set()
            return super().embed_documents(texts)

    store, embedder = SlowStore(), SignallingEmbedder()
    report = _ingestor(store, embedder).run([tmp_path])
    kinds = [kind for kind, _ in store.writes]
    # every write (the slow first one included) lands between the two generation changes
    assert kinds[0] == kinds[-1] == "generation" and "generation" not in kinds[1:-1]
    assert sum(len(ids) for kind, ids in store.writes if kind == "upsert") == report.chunks
    assert embedder.calls == kinds.count("upsert") > 1


def test_the_next_window_is_cleaned_and_chunked_while_this_one_is_embedded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading

    import rag.ingest

    _small_windows(tmp_path, monkeypatch, 3)
    chunked: dict[str, threading.Event] = {f"article{n}": threading.Event() for n in range(3)}
    real_chunk = rag.ingest.chunk_article

    def recording_chunk(article, *args):  # type: ignore[no-untyped-def]
        chunked[article.doc_id].set()
        return real_chunk(article, *args)

    monkeypatch.setattr(rag.ingest, "chunk_article", recording_chunk)

    class WaitingEmbedder(CountingEmbedder):
        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            if self.calls == 0:
                # taking turns, the second article would only be read after this call returns
                assert chunked["article1"].wait(timeout=10), "the next window was not prepared meanwhile"
            return super().embed_documents(texts)

    store, embedder = RecordingStore(), WaitingEmbedder()
    report = _ingestor(store, embedder).run([tmp_path])
    assert report.added == 3 and embedder.calls == 3


def test_an_embedder_whose_calls_may_overlap_gets_the_next_window_before_this_one_is_done(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading

    _small_windows(tmp_path, monkeypatch, 5)
    started = [threading.Event() for _ in range(8)]
    lock = threading.Lock()

    class OverlappingEmbedder(CountingEmbedder):
        overlapping_calls = True

        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            with lock:
                call = self.calls
                self.calls += 1
            started[call].set()
            if call == 0:
                # one call at a time, the second window would only be handed over after this call returns
                assert started[1].wait(timeout=10), "the next window did not reach the embedder meanwhile"
            return [[float(len(t)), 1.0] for t in texts]

    store, embedder = RecordingStore(), OverlappingEmbedder()
    report = _ingestor(store, embedder).run([tmp_path])
    upserts = [ids for kind, ids in store.writes if kind == "upsert"]
    assert report.added == 5 and embedder.calls == len(upserts) > 2
    written = [i for ids in upserts for i in ids]
    assert len(written) == len(set(written)) == report.chunks
    # windows are written in reading order: article0's chunks first, article4's last
    assert [i.split(":")[0] for i in written] == sorted(i.split(":")[0] for i in written)
    assert [kind for kind, _ in store.writes][0] == [kind for kind, _ in store.writes][-1] == "generation"


def test_with_overlapping_calls_an_embedding_failure_still_leaves_earlier_windows_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading

    _small_windows(tmp_path, monkeypatch, 5)

    class FailingEmbedder(CountingEmbedder):
        overlapping_calls = True

        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            if texts and "article2" in texts[0]:
                raise RuntimeError("model crashed")
            return [[float(len(t)), 1.0] for t in texts]

    store = RecordingStore()
    before = threading.active_count()
    with pytest.raises(RuntimeError, match="model crashed"):
        _ingestor(store, FailingEmbedder()).run([tmp_path])
    upserts = [ids for kind, ids in store.writes if kind == "upsert"]
    assert {i.split(":")[0] for ids in upserts for i in ids} <= {"article0", "article1"}
    assert upserts and store.writes[-1][0] == "generation"
    assert threading.active_count() == before  # no chunking, embedding or writing thread left behind


def test_prefetched_keeps_order_and_raises_where_the_failing_item_was() -> None:
    from rag.ingest import prefetched

    def items():  # type: ignore[no-untyped-def]
        yield 1
        yield 2
        raise ValueError("bad third item")

    got = []
    with pytest.raises(ValueError, match="bad third item"):
        for item in prefetched(items()):
            got.append(item)
    assert got == [1, 2]
    assert list(prefetched(iter(range(5)))) == [0, 1, 2, 3, 4]


def test_progress_counts_every_article_found_and_a_bad_record_is_reported(tmp_path: Path) -> None:
    feed = tmp_path / "feed.jsonl"
    good = '{"id": "g%d", "title": "T", "body": "Sentence number one is here. Sentence two follows it."}'
    feed.write_text("\n".join([good % 1, '{"id": "empty", "body": ""}', good % 2]) + "\n", encoding="utf-8")
    seen: list[tuple[int, int]] = []
    report = _ingestor(RecordingStore(), CountingEmbedder()).run(
        [tmp_path], progress=lambda done, total, label: seen.append((done, total))
    )
    assert report.added == 2
    assert [s.reason for s in report.skipped] == [
        "line 2: record has no 'body' (or 'text' or 'content') with article text"
    ]
    assert seen == [(1, 3), (2, 3), (3, 3)]


def test_without_prune_only_the_records_of_the_articles_read_are_looked_up(tmp_path: Path) -> None:
    for name in ("alpha", "beta"):
        _write(tmp_path, name, 12)
    first = RecordingStore()
    _ingestor(first, CountingEmbedder()).run([tmp_path])
    alpha_ids = frozenset(i for i in first.writes[1][1] if i.startswith("alpha:"))

    class LookupStore(RecordingStore):
        def __init__(self, records: dict[str, StoredArticle]) -> None:
            super().__init__(records)
            self.lookups: list[list[str] | None] = []

        def articles(self, doc_ids=None) -> dict[str, StoredArticle]:  # type: ignore[no-untyped-def]
            self.lookups.append(None if doc_ids is None else sorted(doc_ids))
            return super().articles(doc_ids)

    big_store = {f"other{n}": StoredArticle(f"other{n}", "h", None, frozenset({f"o{n}"})) for n in range(50)}
    store = LookupStore({**big_store, "alpha": StoredArticle("alpha", "h", None, alpha_ids)})
    report = _ingestor(store, CountingEmbedder()).run([tmp_path])
    assert store.lookups == [["alpha", "beta"]]  # never the whole record
    assert (report.added, report.unchanged) == (1, 1)  # alpha was found in the store as it is

    pruning = LookupStore(dict(big_store))
    _ingestor(pruning, CountingEmbedder()).run([tmp_path], prune=True)
    assert pruning.lookups == [None]  # pruning reads the whole record once


def test_an_embedding_failure_stops_the_run_after_the_earlier_windows_are_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading

    _small_windows(tmp_path, monkeypatch, 4)

    class FailingEmbedder(CountingEmbedder):
        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            if self.calls == 1:
                raise RuntimeError("model crashed")
            return super().embed_documents(texts)

    store = RecordingStore()
    before = threading.active_count()
    with pytest.raises(RuntimeError, match="model crashed"):
        _ingestor(store, FailingEmbedder()).run([tmp_path])
    kinds = [kind for kind, _ in store.writes]
    assert kinds == ["generation", "upsert", "generation"]  # the first window landed, then the run stopped
    assert threading.active_count() == before  # no chunking or writing thread left behind


def test_windows_ramp_up_to_the_full_size() -> None:
    from rag.ingest import EMBED_WINDOW, window_limit

    assert [window_limit(n) for n in range(5)] == [EMBED_WINDOW // 4, EMBED_WINDOW // 2] + [EMBED_WINDOW] * 3


def _pending(doc_id: str, chunks: int, stored: int = 0):  # type: ignore[no-untyped-def]
    """A window item: an article of `chunks` chunks whose first `stored` chunks the store already holds."""
    from types import SimpleNamespace

    ids = [f"{doc_id}:{i}" for i in range(chunks)]
    record = StoredArticle(doc_id, "h", None, frozenset(ids[:stored])) if stored else None
    return (SimpleNamespace(doc_id=doc_id), [SimpleNamespace(chunk_id=i) for i in ids], record)


def test_a_split_window_keeps_whole_articles_in_order_with_half_the_new_chunks_each() -> None:
    from rag.ingest import _Window

    items = [_pending("a", 3), _pending("b", 5, stored=2), _pending("c", 3), _pending("d", 3)]
    window = _Window(items=items, new=12, unchanged=4, read=[(1, "a")])
    first, second = window.split()
    assert [i[0].doc_id for i in first.items] == ["a", "b"] and first.new == 6  # b brings 3 new chunks
    assert [i[0].doc_id for i in second.items] == ["c", "d"] and second.new == 6
    # what was read and counted goes with the first half only, so nothing is reported twice
    assert (first.read, first.unchanged, second.read, second.unchanged) == ([(1, "a")], 4, [], 0)

    one_big = _Window(items=[_pending("big", 10), _pending("small", 1)], new=11)
    first, second = one_big.split()
    assert [i[0].doc_id for i in first.items] == ["big"] and [i[0].doc_id for i in second.items] == ["small"]


def test_the_first_windows_are_smaller_and_the_last_comes_in_two_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import rag.ingest

    monkeypatch.setattr(rag.ingest, "EMBED_WINDOW", 16)
    for n in range(10):  # 10 articles of 4 chunks: windows of 4, 8 and 16 chunks, then 12 left over
        _write(tmp_path, f"article{n:02d}", 12)
    store, embedder = RecordingStore(), CountingEmbedder()
    report = _ingestor(store, embedder).run([tmp_path])
    sizes = [len(ids) for kind, ids in store.writes if kind == "upsert"]
    assert report.added == 10 and sum(sizes) == report.chunks
    chunks_each = report.chunks // 10  # the articles are alike
    assert report.chunks == 10 * chunks_each
    # windows close on whole articles once they reach 4, 8 and then 16 new chunks
    ramp = [-(-limit // chunks_each) * chunks_each for limit in (4, 8, 16)]
    assert sizes[:3] == ramp
    rest = report.chunks - sum(ramp)  # less than a full window: it is split in two, whole articles each
    half = rest // chunks_each // 2 * chunks_each
    assert rest < 16 and sizes[3:] == [half, rest - half]
    assert embedder.calls == len(sizes)
