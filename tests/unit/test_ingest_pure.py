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
