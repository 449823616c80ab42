"""Ingest with the real bundled embedder and a real embedded Chroma store in a temp dir."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from rag import load_settings, open_pipeline
from rag.store import VectorStore, build_chroma_client
from tests.conftest import ARTICLES, ROOT

pytestmark = pytest.mark.integration


def _pipeline(store_dir: Path):  # type: ignore[no-untyped-def]
    return open_pipeline(load_settings(overrides={"store_dir": str(store_dir), "llm": "none"}, env={}))


@pytest.fixture()
def corpus(tmp_path: Path) -> Path:
    folder = tmp_path / "articles"
    shutil.copytree(ARTICLES, folder)
    return folder


def _chunk_ids(store_dir: Path) -> dict[str, frozenset[str]]:
    settings = load_settings(overrides={"store_dir": str(store_dir)}, env={})
    store = VectorStore(build_chroma_client(settings), settings.collection)
    return {d: a.chunk_ids for d, a in store.articles().items()}


def test_ingest_is_idempotent_incremental_and_prunes(tmp_path: Path, corpus: Path) -> None:
    store_dir = tmp_path / "store"
    pipeline = _pipeline(store_dir)

    first = pipeline.ingest([corpus])
    assert (first.added, first.updated, first.unchanged, first.removed) == (5, 0, 0, 0)
    assert first.chunks == sum(len(ids) for ids in _chunk_ids(store_dir).values())
    before = _chunk_ids(store_dir)
    assert sorted(before) == sorted(p.stem for p in ARTICLES.glob("*.txt"))

    again = pipeline.ingest([corpus])
    assert (again.added, again.updated, again.unchanged, again.chunks) == (0, 0, 5, 0)
    assert _chunk_ids(store_dir) == before

    edited = corpus / "004_c841b23a78d9760a.txt"
    edited.write_text(
        edited.read_text(encoding="utf-8") + "\n\nA late paragraph was added to this report.\n",
        encoding="utf-8",
    )
    third = pipeline.ingest([corpus])
    assert (third.added, third.updated, third.unchanged) == (0, 1, 4)
    after = _chunk_ids(store_dir)
    assert {d: ids for d, ids in after.items() if d != edited.stem} == {
        d: ids for d, ids in before.items() if d != edited.stem
    }
    assert after[edited.stem] != before[edited.stem]
    assert third.chunks == len(after[edited.stem] - before[edited.stem])

    (corpus / "002_55f84799564cfb3b.txt").unlink()
    kept = pipeline.ingest([corpus])  # without --prune nothing is removed
    assert kept.removed == 0 and "002_55f84799564cfb3b" in _chunk_ids(store_dir)
    pruned = pipeline.ingest([corpus], prune=True)
    assert pruned.removed == 1
    assert "002_55f84799564cfb3b" not in _chunk_ids(store_dir)
    assert len(pipeline.articles()) == 4


def test_article_list_is_read_once_per_store_generation(
    tmp_path: Path, corpus: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pipeline = _pipeline(tmp_path / "store")
    pipeline.ingest([corpus])
    store = pipeline._clients.store()
    scans: list[int] = []
    real = store.article_infos
    monkeypatch.setattr(store, "article_infos", lambda: scans.append(1) or real())

    first = pipeline.articles()
    assert pipeline.articles() == first and pipeline.with_options(top_k=3).articles() == first
    assert len(scans) == 1  # unchanged store: no second scan of every chunk's metadata

    (corpus / "extra.txt").write_text(
        "Extra report\n\nDelegates met again in Geneva on Friday. They agreed to talk next week.\n",
        encoding="utf-8",
    )
    pipeline.ingest([corpus])
    assert "extra" in {a.doc_id for a in pipeline.articles()}
    assert len(scans) == 2


def test_bad_files_are_reported_and_good_ones_ingested(tmp_path: Path, corpus: Path) -> None:
    (corpus / "empty.txt").write_text("", encoding="utf-8")
    (corpus / "binary.txt").write_bytes(bytes(range(256)) * 8)
    (corpus / "latin1.txt").write_bytes("Caf\xe9 talks in Paris were held on Thursday.".encode("latin-1"))
    (corpus / "records.jsonl").write_text(
        '{"id": "good-1", "title": "Good", "source": "Wire", "published_at": "2025-04-18", '
        '"body": "A good record about the talks in Paris. It has two sentences."}\n'
        "this line is not json\n"
        '{"id": "no-body", "title": "No body"}\n',
        encoding="utf-8",
    )
    report = _pipeline(tmp_path / "store").ingest([corpus, tmp_path / "does-not-exist"])
    assert report.added == 6  # five seeds + the good JSONL record
    reasons = {Path(s.path).name: s.reason for s in report.skipped}
    assert {"empty.txt", "binary.txt", "latin1.txt", "does-not-exist"} <= set(reasons)
    jsonl = [s.reason for s in report.skipped if Path(s.path.split(":")[0]).name.startswith("records.jsonl")]
    assert len(jsonl) == 2, report.skipped
    assert all(r for r in reasons.values())


def test_unwritable_store_directory_is_reported(tmp_path: Path) -> None:
    blocker = tmp_path / "file-not-dir"
    blocker.write_text("x")
    result = subprocess.run(
        [sys.executable, "-m", "rag.cli", "ingest", str(ARTICLES), "--store-dir", str(blocker / "store")],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert result.returncode == 2
    assert "not writable" in result.stderr and str(blocker) in result.stderr
    assert "Traceback" not in result.stderr


def test_cli_json_summary_then_all_unchanged(tmp_path: Path) -> None:
    cmd = [
        sys.executable,
        "-m",
        "rag.cli",
        "ingest",
        str(ARTICLES),
        "--store-dir",
        str(tmp_path / "s"),
        "--json",
    ]
    first = json.loads(subprocess.run(cmd, capture_output=True, text=True, check=True, cwd=ROOT).stdout)
    assert set(first) == {"added", "updated", "unchanged", "removed", "skipped", "chunks", "seconds"}
    assert first["added"] == 5 and first["chunks"] > 5
    second = json.loads(subprocess.run(cmd, capture_output=True, text=True, check=True, cwd=ROOT).stdout)
    assert (second["added"], second["updated"], second["unchanged"], second["chunks"]) == (0, 0, 5, 0)


def test_similarity_search_finds_the_articles_naming_the_attendees(evidence_pipeline) -> None:  # type: ignore[no-untyped-def]
    passages = evidence_pipeline.retrieve("Who attended the Paris talks?")
    top_docs = [p.doc_id for p in passages[:3]]
    # 000, 001 and 002 each name several of the attendees
    assert set(top_docs) & {"000_2d594839e63a1b01", "001_00feb3bc14be4935", "002_55f84799564cfb3b"}
    for p in passages:
        assert p.text and p.end > p.start


def test_keyword_rebuild_reads_back_only_chunks_it_did_not_write_and_matches_a_full_build(
    tmp_path: Path, corpus: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rag.keyword import KeywordIndex

    requested: list[str] = []
    real_chunks = VectorStore.chunks

    def recording_chunks(self: VectorStore, ids):  # type: ignore[no-untyped-def]
        requested.extend(ids)
        return real_chunks(self, ids)

    monkeypatch.setattr(VectorStore, "chunks", recording_chunks)
    pipeline = _pipeline(tmp_path / "store")
    pipeline.ingest([corpus])
    assert requested == []  # the ingest handed over the words of everything it wrote
    store, index = pipeline._clients.store(), pipeline._clients.keyword()

    # the same index as one built from the store's texts alone
    scratch = KeywordIndex.build(tmp_path / "scratch", store)
    assert len(requested) == index.size == scratch.size == store.count()
    for query in ("Rubio Witkoff Paris", "Sybiha ceasefire", "energy infrastructure"):
        assert index.search(query, k=8) == scratch.search(query, k=8)

    # another writer adds a chunk: only that one is read back
    requested.clear()
    other = {**store.chunks([index._rows[0].chunk_id])[0].metadata, "doc_id": "other", "source": "Elsewhere"}
    requested.clear()
    store.upsert(["other:0:x"], [[0.05] * 384], ["Quistgaard lighthouse keepers went on strike."], [other])
    store.bump_generation()
    assert pipeline._clients.keyword().search("Quistgaard lighthouse", k=3)[0][0] == "other:0:x"
    assert requested == ["other:0:x"]

    # a deleted chunk leaves the index and its words with it
    store.delete(["other:0:x"])
    store.bump_generation()
    refreshed = pipeline._clients.keyword()
    assert not refreshed.mentions("Quistgaard") and refreshed.size == scratch.size


def test_chunk_texts_live_in_metadata_and_older_stores_with_documents_read_the_same(tmp_path: Path) -> None:
    settings = load_settings(overrides={"store_dir": str(tmp_path / "store")}, env={})
    client = build_chroma_client(settings)
    store = VectorStore(client, settings.collection)
    meta = {"doc_id": "a", "source": "Wire", "start": 0, "end": 24}
    store.upsert(["a:0"], [[1.0, 0.0]], ["Harbour cranes stood idle"], [meta])
    raw = client.get_collection(settings.collection).get(ids=["a:0"], include=["documents", "metadatas"])
    assert raw["documents"] == [None]  # no Chroma document, so no full-text index to build on write
    assert (raw["metadatas"] or [{}])[0]["text"] == "Harbour cranes stood idle"

    # a chunk as an earlier version wrote it: the text as the Chroma document
    legacy = {"doc_id": "b", "source": "Wire", "start": 0, "end": 21}
    client.get_collection(settings.collection).upsert(
        ids=["b:0"], embeddings=[[0.0, 1.0]], documents=["Ferry crews walked out"], metadatas=[legacy]
    )
    for chunk_id, text, metadata in (
        ("a:0", "Harbour cranes stood idle", meta),
        ("b:0", "Ferry crews walked out", legacy),
    ):
        doc_id = metadata["doc_id"]
        (stored,) = store.chunks([chunk_id])
        assert (stored.text, stored.metadata) == (text, metadata)
        assert store.get_chunks([chunk_id]) == [stored]
        assert store.article_text(doc_id) == text
        assert [c for c in store.iter_chunks() if c.chunk_id == chunk_id] == [stored]
        assert [c.text for c in store.iter_chunks(include_text=False) if c.chunk_id == chunk_id] == [""]
    nearest = store.query([1.0, 0.0], k=2)
    assert [(c.chunk_id, c.text) for c, _ in nearest] == [
        ("a:0", "Harbour cranes stood idle"),
        ("b:0", "Ferry crews walked out"),
    ]
