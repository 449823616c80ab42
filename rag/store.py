"""The vector store: Chroma, embedded (PersistentClient) or a server (`chroma run`), plus the ingest record.

Chroma itself is the record of what was ingested: every chunk carries its article's metadata and content
hash, so the store can say which articles it holds and which chunk ids each has without a second database
that could disagree with it. Chunk ids derive from content, so writes are idempotent upserts.

A chunk's text is stored in its metadata (key `text`), not as a Chroma document: Chroma builds a trigram
full-text index over documents on every write, which newsrag never queries (it keeps its own BM25 index), and
that index was two thirds of the write cost (2,000 chunks: 3.5 s of CPU with documents, 1.5 s with the text in
metadata; marking the index disabled in Chroma 1.5.9's collection schema did not save the cost). Stores written
before this keep their documents and read back the same.

A `generation` token in the collection metadata changes after every write; the keyword index remembers the
generation it was built from and rebuilds when they differ (several writers may share one server).
"""

from __future__ import annotations

import functools
import inspect
import os
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast
from urllib.parse import urlparse

from rag.errors import ConfigError, StoreError
from rag.settings import Settings
from rag.types import Article, ArticleInfo, Chunk, Filters

if TYPE_CHECKING:
    from chromadb.api import ClientAPI
    from chromadb.api.models.Collection import Collection

F = TypeVar("F", bound=Callable[..., Any])

TEXT_KEY = "text"  # the metadata key that holds a chunk's text
# Chroma caps a single add at its max batch size; stay well below it.
WRITE_BATCH = 1000
READ_PAGE = 5000
IDS_PAGE = 50_000  # ids alone are small; at 100k chunks, pages of 5,000 took 0.8-1.8 s and of 50,000 ~0.2 s
# ef_search 512: recall@10 against exact search 0.997 at 100k chunks (128 gave 0.92) for ~5 ms a query.
HNSW_CONFIG = {"space": "cosine", "ef_construction": 100, "ef_search": 512, "max_neighbors": 16}


def build_chroma_client(settings: Settings) -> ClientAPI:
    """The one place a Chroma client is constructed: a server when `chroma_url` is set, else embedded."""
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False)
    if settings.chroma_url:
        url = urlparse(settings.chroma_url)
        if url.scheme not in ("http", "https") or not url.hostname:
            raise ConfigError(f"chroma_url must look like http://host:port, got {settings.chroma_url!r}.")
        try:
            return chromadb.HttpClient(
                host=url.hostname,
                port=url.port or (443 if url.scheme == "https" else 8000),
                ssl=url.scheme == "https",
                settings=chroma_settings,
            )
        except Exception as e:  # chromadb raises plain exceptions for connection failures
            raise StoreError(
                f"Cannot reach the Chroma server at {settings.chroma_url}: {e}. Start it with "
                f"`chroma run --path DIR --host 127.0.0.1 --port PORT` or unset RAG_CHROMA_URL."
            ) from e
    path = Path(settings.store_dir) / "chroma"
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / ".write-test"
        probe.write_text("ok")
        probe.unlink()
    except OSError as e:
        raise StoreError(
            f"The store directory {settings.store_dir} is not writable ({e.strerror}). "
            f"Choose another with --store-dir or RAG_STORE_DIR."
        ) from e
    return chromadb.PersistentClient(path=str(path), settings=chroma_settings)


@dataclass(frozen=True)
class StoredArticle:
    """What the store knows about one ingested article."""

    doc_id: str
    content_hash: str
    path: str | None
    chunk_ids: frozenset[str]


@dataclass(frozen=True)
class StoredChunk:
    """One chunk as read back from the store (text plus the metadata written at ingest)."""

    chunk_id: str
    text: str
    metadata: dict[str, Any]


def _stored(
    ids: Sequence[str], documents: Sequence[Any] | None, metadatas: Sequence[Any] | None
) -> list[StoredChunk]:
    """Chunks as read from Chroma: each text from its metadata (or, in older stores, the document)."""
    out = []
    for chunk_id, document, metadata in zip(ids, documents or [""] * len(ids), metadatas or [], strict=True):
        meta = dict(metadata or {})
        text = meta.pop(TEXT_KEY, None)
        out.append(StoredChunk(chunk_id, str(text) if text is not None else document or "", meta))
    return out


def chunk_metadata(article: Article, chunk: Chunk) -> dict[str, Any]:
    """The metadata stored beside each chunk (Chroma metadata values must be scalars)."""
    return {
        "doc_id": article.doc_id,
        "title": article.title,
        "source": article.source,
        "published_at": article.published_at or "",
        "published_day": date_key(article.published_at),
        "url": article.url or "",
        "path": article.path or "",
        "article_hash": article.content_hash,
        "index": chunk.index,
        "start": chunk.start,
        "end": chunk.end,
        "n_tokens": chunk.n_tokens,
    }


def date_key(iso_date: str | None) -> int:
    """20250417 for "2025-04-17"; 0 when there is no date (Chroma compares numbers, not strings)."""
    if not iso_date:
        return 0
    return int(iso_date[:10].replace("-", ""))


def where_clause(filters: Filters | None) -> dict[str, Any] | None:
    """Translate Filters into a Chroma `where` clause (None when nothing is filtered)."""
    if filters is None or filters.empty:
        return None
    parts: list[dict[str, Any]] = []
    if filters.sources:
        parts.append({"source": {"$in": list(filters.sources)}})
    if filters.since:
        parts.append({"published_day": {"$gte": date_key(filters.since)}})
    if filters.until:
        parts.append({"published_day": {"$lte": date_key(filters.until)}})
    return parts[0] if len(parts) == 1 else {"$and": parts}


def _store_errors(method: F) -> F:
    """Turn Chroma/HTTP failures inside a VectorStore method into a StoreError the user can act on."""

    def explain(e: Exception) -> StoreError:
        return StoreError(
            f"The Chroma store failed while running {method.__name__}: {e}. If RAG_CHROMA_URL is set, check that "
            "the server is running and reachable; otherwise check the store directory."
        )

    if inspect.isgeneratorfunction(method):

        @functools.wraps(method)
        def generator(*args: Any, **kwargs: Any) -> Any:
            try:
                yield from method(*args, **kwargs)
            except StoreError:
                raise
            except Exception as e:
                raise explain(e) from e

        return generator  # type: ignore[return-value]

    @functools.wraps(method)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return method(*args, **kwargs)
        except StoreError:
            raise
        except Exception as e:
            raise explain(e) from e

    return wrapper  # type: ignore[return-value]


class VectorStore:
    """A Chroma collection holding chunk texts, their embeddings and article metadata."""

    def __init__(self, client: ClientAPI, collection_name: str, embedder: str = "") -> None:
        """Open (or create) the collection. `embedder` names the vector space the caller writes and queries;
        a collection built with another embedder is refused rather than silently mixed."""
        self._client = client
        self._embedder = embedder
        try:
            self._collection: Collection = client.get_or_create_collection(
                collection_name,
                configuration=cast(Any, {"hnsw": HNSW_CONFIG}),
                embedding_function=None,
                metadata={"generation": "empty", "embedder": embedder},
            )
        except Exception as e:
            raise StoreError(f"Cannot open the Chroma collection {collection_name!r}: {e}") from e
        built_with = str((self._collection.metadata or {}).get("embedder", ""))
        if embedder and built_with and built_with != embedder and self._collection.count() > 0:
            raise StoreError(
                f"The collection {collection_name!r} holds vectors from the embedder {built_with!r}, but this run "
                f"uses {embedder!r}. Use the same embedding_model, or another collection (--collection) and "
                "ingest again."
            )

    # --- reading ---------------------------------------------------------------------------------------------
    @_store_errors
    def count(self) -> int:
        return self._collection.count()

    @_store_errors
    def generation(self) -> str:
        """A token that changes whenever the collection is written to (by any process)."""
        try:
            fresh = self._client.get_collection(self._collection.name, embedding_function=None)
        except Exception as e:
            raise StoreError(f"The Chroma collection {self._collection.name!r} is gone: {e}") from e
        return str((fresh.metadata or {}).get("generation", ""))

    @_store_errors
    def iter_chunks(
        self, include_text: bool = True, where: dict[str, Any] | None = None
    ) -> Iterator[StoredChunk]:
        """Every chunk in the store (or those matching a Chroma `where`), page by page."""
        include: list[Any] = ["metadatas", "documents"] if include_text else ["metadatas"]
        offset = 0
        while True:
            page = self._collection.get(include=include, where=where, limit=READ_PAGE, offset=offset)
            ids = page["ids"]
            if not ids:
                return
            for chunk in _stored(ids, page.get("documents"), page["metadatas"]):
                yield chunk if include_text else StoredChunk(chunk.chunk_id, "", chunk.metadata)
            offset += len(ids)

    @_store_errors
    def ids(self) -> list[str]:
        """Every chunk id in the store (no texts, metadata or vectors are read)."""
        out: list[str] = []
        while page := self._collection.get(include=[], limit=IDS_PAGE, offset=len(out))["ids"]:
            out.extend(page)
        return out

    @_store_errors
    def chunks(self, ids: Sequence[str]) -> list[StoredChunk]:
        """The chunks with these ids that the store holds (texts and metadata), in no particular order."""
        out: list[StoredChunk] = []
        for i in range(0, len(ids), READ_PAGE):
            page = self._collection.get(ids=list(ids[i : i + READ_PAGE]), include=["metadatas", "documents"])
            out.extend(_stored(page["ids"], page["documents"], page["metadatas"]))
        return out

    @_store_errors
    def iter_vectors(self) -> Iterator[tuple[list[str], list[Sequence[float]]]]:
        """Every stored vector, as pages of (ids, embeddings); for exact-search checks of the ANN index."""
        offset = 0
        while True:
            page = self._collection.get(include=["embeddings"], limit=READ_PAGE, offset=offset)
            ids = page["ids"]
            if not ids:
                return
            yield list(ids), list(cast(Any, page["embeddings"]))
            offset += len(ids)

    def articles(self, doc_ids: Sequence[str] | None = None) -> dict[str, StoredArticle]:
        """The ingest record: every article in the store (or those of `doc_ids` it holds) with its content
        hash and chunk ids. Reading every article scans all metadata (~10 s at 100k chunks); a few doc_ids
        are a quick indexed lookup."""
        if doc_ids is not None and not doc_ids:
            return {}
        where = None if doc_ids is None else {"doc_id": {"$in": list(doc_ids)}}
        hashes: dict[str, str] = {}
        paths: dict[str, str | None] = {}
        ids: dict[str, set[str]] = {}
        for chunk in self.iter_chunks(include_text=False, where=where):
            doc_id = str(chunk.metadata.get("doc_id", ""))
            ids.setdefault(doc_id, set()).add(chunk.chunk_id)
            hashes[doc_id] = str(chunk.metadata.get("article_hash", ""))
            paths[doc_id] = str(chunk.metadata.get("path") or "") or None
        return {d: StoredArticle(d, hashes[d], paths[d], frozenset(ids[d])) for d in ids}

    def article_infos(self) -> list[ArticleInfo]:
        infos: dict[str, dict[str, Any]] = {}
        for chunk in self.iter_chunks(include_text=False):
            m = chunk.metadata
            info = infos.setdefault(str(m.get("doc_id")), {"meta": m, "chunks": 0})
            info["chunks"] += 1
        return sorted(
            (
                ArticleInfo(
                    doc_id=doc_id,
                    title=str(v["meta"].get("title", "")),
                    source=str(v["meta"].get("source", "")),
                    published_at=str(v["meta"].get("published_at") or "") or None,
                    url=str(v["meta"].get("url") or "") or None,
                    path=str(v["meta"].get("path") or "") or None,
                    chunks=v["chunks"],
                )
                for doc_id, v in infos.items()
            ),
            key=lambda a: a.doc_id,
        )

    @_store_errors
    def article_text(self, doc_id: str) -> str | None:
        """The cleaned article text, rebuilt from its chunks' spans (chunks overlap; spans place them)."""
        page = self._collection.get(where={"doc_id": doc_id}, include=["metadatas", "documents"])
        chunks = _stored(page["ids"], page["documents"], page["metadatas"])
        pieces = sorted(
            (int(cast(int, c.metadata["start"])), int(cast(int, c.metadata["end"])), c.text) for c in chunks
        )
        if not pieces:
            return None
        length = max(end for _, end, _ in pieces)
        buf = [" "] * length
        for start, _end, text in pieces:
            buf[start : start + len(text)] = text
        return "".join(buf)

    @_store_errors
    def query(
        self, embedding: Sequence[float], k: int, filters: Filters | None = None
    ) -> list[tuple[StoredChunk, float]]:
        """The k nearest chunks with their cosine similarity (1 - cosine distance), best first.

        An empty collection simply returns nothing (no count first: counting takes ~8 ms at 100k chunks).
        """
        if k <= 0:
            return []
        result = self._collection.query(
            query_embeddings=cast(Any, [list(embedding)]),
            n_results=k,
            where=where_clause(filters),
            include=["metadatas", "documents", "distances"],
        )
        documents, metadatas = result["documents"], result["metadatas"]
        chunks = _stored(
            result["ids"][0], documents[0] if documents else None, metadatas[0] if metadatas else None
        )
        distances = (result["distances"] or [[]])[0]
        return [(chunk, 1.0 - float(d)) for chunk, d in zip(chunks, distances, strict=True)]

    @_store_errors
    def get_chunks(self, ids: Sequence[str]) -> list[StoredChunk]:
        if not ids:
            return []
        page = self._collection.get(ids=list(ids), include=["metadatas", "documents"])
        by_id = {
            chunk.chunk_id: chunk for chunk in _stored(page["ids"], page["documents"], page["metadatas"])
        }
        return [by_id[i] for i in ids if i in by_id]

    # --- writing ---------------------------------------------------------------------------------------------
    @_store_errors
    def upsert(
        self,
        ids: Sequence[str],
        embeddings: Sequence[Sequence[float]],
        texts: Sequence[str],
        metadatas: Sequence[dict[str, Any]],
    ) -> None:
        for i in range(0, len(ids), WRITE_BATCH):
            rows = zip(texts[i : i + WRITE_BATCH], metadatas[i : i + WRITE_BATCH], strict=True)
            self._collection.upsert(
                ids=list(ids[i : i + WRITE_BATCH]),
                embeddings=cast(Any, [list(e) for e in embeddings[i : i + WRITE_BATCH]]),
                metadatas=cast(Any, [{**meta, TEXT_KEY: text} for text, meta in rows]),
            )

    @_store_errors
    def delete(self, ids: Sequence[str]) -> None:
        for i in range(0, len(ids), WRITE_BATCH):
            self._collection.delete(ids=list(ids[i : i + WRITE_BATCH]))

    @_store_errors
    def bump_generation(self) -> str:
        token = uuid.uuid4().hex
        self._collection.modify(metadata={"generation": token, "embedder": self._embedder})
        return token
