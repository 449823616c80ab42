"""The pipeline object the CLI, UI and eval harness use: ingest, retrieve, ask, stream.

`Pipeline` owns nothing heavy itself: a `_Clients` holder builds the embedder, the Chroma store, the keyword
index and chat models on first use (through the one factory per kind: embeddings.py, store.py, models.py)
and is shared by every `with_options` copy, so switching the answer backend in the UI reloads nothing.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Iterator, Sequence
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rag.errors import EmptyStoreError
from rag.settings import Settings
from rag.types import Answer, ArticleInfo, Filters, IngestReport, Passage, StreamEvent, Turn

if TYPE_CHECKING:
    import tiktoken
    from langchain_core.embeddings import Embeddings
    from langchain_core.language_models import BaseChatModel

    from rag.answer import Answerer
    from rag.keyword import Entry, KeywordIndex
    from rag.language import Language
    from rag.retrieve import Retriever
    from rag.store import VectorStore

ProgressFn = Callable[[int, int, str], None]
"""progress(done, total, label): called as ingest advances."""

# Settings that choose which heavy clients are built; `with_options` may not change them.
_CLIENT_KEYS = (
    "store_dir",
    "chroma_url",
    "collection",
    "embedding_model",
    "query_embedding_model",
    "encoding",
)


MAX_CACHED_VECTORS = 20_000
MAX_CACHED_CHARS = 40


class _Clients:
    """Lazily built, thread-safe holder of the heavy clients for one store + embedder."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._lock = threading.RLock()
        self._embedder: Embeddings | None = None
        self._sentence_embedder: Any = None
        self._store: VectorStore | None = None
        self._keyword: KeywordIndex | None = None
        self._chat: dict[str, BaseChatModel | None] = {}
        self._reranker: Any = None
        self._language: Language | None = None
        self._vectors: dict[str, Any] = {}  # short text -> unit vector, for `similarity`
        self._articles: tuple[str, list[ArticleInfo]] | None = None
        self._filled_generation: str | None = None
        self._written: dict[str, Entry] = {}  # keyword entries of chunks written since the last rebuild

    def embedder(self) -> Embeddings:
        with self._lock:
            if self._embedder is None:
                from rag.embeddings import build_embedder

                self._embedder = build_embedder(self._settings)
            return self._embedder

    def query_embedder(self) -> Embeddings:
        """The embedder for questions and evidence sentences, with a cache for sentences that recur.

        When it names the same model as ingest, the ingest embedder is reused rather than loaded twice.
        """
        from rag.embeddings import CachedEmbeddings, build_embedder, query_model_name

        with self._lock:
            if self._sentence_embedder is None:
                name = query_model_name(self._settings)
                inner = (
                    self.embedder()
                    if name == self._settings.embedding_model
                    else build_embedder(self._settings, name)
                )
                self._sentence_embedder = CachedEmbeddings(inner)
            return self._sentence_embedder

    def store(self) -> VectorStore:
        with self._lock:
            if self._store is None:
                from rag.embeddings import vector_space
                from rag.store import VectorStore, build_chroma_client

                self._store = VectorStore(
                    build_chroma_client(self._settings),
                    self._settings.collection,
                    vector_space(self._settings.embedding_model),
                )
            return self._store

    def articles(self) -> list[ArticleInfo]:
        """The store's articles, read once per store generation (the read scans every chunk's metadata:
        ~10 s at 100k chunks, and the newest article's date and the UI's Articles tab both need it)."""
        store = self.store()
        generation = store.generation()  # read before the scan: a write meanwhile forces a rescan
        with self._lock:
            cached = self._articles
        if cached is not None and cached[0] == generation:
            return cached[1]
        infos = store.article_infos()  # outside the lock: a long scan must not stall other sessions
        with self._lock:
            self._articles = (generation, infos)
        return infos

    def is_empty(self) -> bool:
        """Whether the store holds no chunks. Counting costs ~8 ms at 100k chunks, so a count that found
        chunks is trusted until the store's generation changes (reading the generation costs ~1 ms)."""
        store = self.store()
        generation = store.generation()
        with self._lock:
            if self._filled_generation == generation:
                return False
        if store.count() == 0:
            return True
        with self._lock:
            self._filled_generation = generation
        return False

    def keyword_dir(self) -> Path:
        s = self._settings
        where = s.chroma_url or str(Path(s.store_dir).resolve())
        tag = hashlib.sha256(where.encode()).hexdigest()[:8]
        return Path(s.store_dir) / "keyword" / f"{s.collection}-{tag}"

    def keyword(self) -> KeywordIndex:
        """The keyword index, rebuilt first if the store was written since it was built (by anyone)."""
        from rag.keyword import KeywordIndex

        with self._lock:
            if self._keyword is None:
                self._keyword = KeywordIndex.open(self.keyword_dir(), self.store())
            else:
                self._keyword = self._keyword.refreshed(self.store())
            return self._keyword

    def written(self, ids: Sequence[str], texts: Sequence[str], metadatas: Sequence[dict[str, Any]]) -> None:
        """Chunks an ingest just wrote: their words are taken now, so the rebuild need not read them back."""
        from rag.keyword import entry

        entries = {i: entry(t, m) for i, t, m in zip(ids, texts, metadatas, strict=True)}
        with self._lock:
            self._written.update(entries)

    def rebuild_keyword(self) -> None:
        from rag.keyword import KeywordIndex

        with self._lock:
            written, self._written = self._written, {}
            self._keyword = KeywordIndex.build(
                self.keyword_dir(), self.store(), previous=self._keyword, fresh=written
            )

    def encoding(self) -> tiktoken.Encoding:
        from rag.chunking import get_encoding

        return get_encoding(self._settings.encoding)

    def chat_model(self, settings: Settings) -> BaseChatModel | None:
        from rag.models import build_chat_model, model_label

        key = f"{model_label(settings)}|{settings.effective_threads}|{settings.llm_timeout}|{settings.openai_base_url}"
        with self._lock:
            if key not in self._chat:
                self._chat[key] = build_chat_model(settings)
            return self._chat[key]

    def language(self) -> Language:
        """The spaCy language layer shared by every question (loaded on first use)."""
        with self._lock:
            if self._language is None:
                from rag.language import Language

                self._language = Language(("sentences", "entities", "syntax"))
            return self._language

    def similarity(self, word: str, texts: Sequence[str]) -> list[float]:
        """Cosine similarity of `word` to each text, by the question embedder (short texts are cached: the
        answer-type table's nouns are compared with every question's head noun)."""
        import numpy as np

        wanted = list(dict.fromkeys([word, *texts]))
        known = {t: v for t in wanted if (v := self._vectors.get(t)) is not None}
        missing = [t for t in wanted if t not in known]
        if missing:
            vectors = np.asarray(self.query_embedder().embed_documents(missing), dtype=np.float32)
            vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-9)
            known.update(zip(missing, vectors, strict=True))
            if len(self._vectors) > MAX_CACHED_VECTORS:
                self._vectors = {}
            self._vectors.update((t, known[t]) for t in missing if len(t) <= MAX_CACHED_CHARS)
        return [float(known[t] @ known[word]) for t in texts]

    def reranker(self) -> Any:
        with self._lock:
            if self._reranker is None and self._settings.reranker_path:
                from rag.evidence import CrossEncoderReranker

                self._reranker = CrossEncoderReranker(self._settings.reranker_path)
            return self._reranker


class Pipeline:
    """Runs the use cases with the clients built from one Settings."""

    def __init__(self, settings: Settings, clients: _Clients | None = None) -> None:
        self.settings = settings
        self._clients = clients or _Clients(settings)

    def with_options(self, **changes: Any) -> Pipeline:
        """A pipeline with some settings changed (e.g. llm, top_k) that shares this one's heavy clients."""
        heavy = sorted(k for k in changes if k in _CLIENT_KEYS and changes[k] != getattr(self.settings, k))
        settings = self.settings.replace(**changes)
        if heavy:
            return Pipeline(settings)
        return Pipeline(settings, self._clients)

    # --- ingest --------------------------------------------------------------------------------------------
    def ingest(
        self, paths: Sequence[Path], prune: bool = False, progress: ProgressFn | None = None
    ) -> IngestReport:
        from rag.ingest import Ingestor

        c = self._clients
        s = self.settings
        ingestor = Ingestor(
            store=c.store(),
            embedder=c.embedder,
            encoding=c.encoding(),
            chunk_tokens=s.chunk_tokens,
            chunk_overlap=s.chunk_overlap,
            max_file_bytes=int(s.max_file_mb * 1_000_000),
            on_changed=c.rebuild_keyword,
            on_written=c.written,
        )
        return ingestor.run([Path(p) for p in paths], prune=prune, progress=progress)

    # --- questions -----------------------------------------------------------------------------------------
    def _retriever(self) -> Retriever:
        from rag.retrieve import Retriever

        c = self._clients
        s = self.settings
        if c.is_empty():
            raise EmptyStoreError(
                f"The store at {s.chroma_url or s.store_dir} holds no articles yet. "
                "Run `rag ingest data/articles` (or your own folder) first."
            )
        return Retriever(c.store(), c.keyword, c.query_embedder(), s.retrieval, s.candidates, s.rrf_k)

    def _answerer(self) -> Answerer:
        from rag.answer import Answerer
        from rag.evidence import EvidenceSelector
        from rag.models import model_label

        c = self._clients
        s = self.settings
        encoding = c.encoding()
        return Answerer(
            settings=s,
            retriever=self._retriever(),
            selector=EvidenceSelector(c.query_embedder(), c.reranker()),
            language=c.language(),
            chat_model=lambda: c.chat_model(s),
            model_label=model_label(s),
            count_tokens=lambda text: len(encoding.encode(text, disallowed_special=())),
            newest_date=self.newest_article_date,
            mentioned=lambda name: c.keyword().mentions(name),
            similarity=c.similarity,
        )

    def newest_article_date(self) -> date | None:
        """The publication day of the store's newest dated article (None when no article has a date)."""
        days = [a.published_at[:10] for a in self.articles() if a.published_at]
        return date.fromisoformat(max(days)) if days else None

    def retrieve(self, question: str, filters: Filters | None = None) -> list[Passage]:
        """The ranked distinct passages for a question (no evidence selection, no model)."""
        from rag.question import validate_question

        question = validate_question(question, self.settings.max_question_chars)
        return list(self._retriever().retrieve(question, self.settings.top_k, filters).distinct)

    def ask(
        self,
        question: str,
        history: Sequence[Turn] = (),
        filters: Filters | None = None,
        as_of: date | None = None,
    ) -> Answer:
        """Answer `question`; `as_of` reads it as if asked that day (see rag.dates)."""
        return self._answerer().ask(question, history, filters, as_of)

    def stream(
        self,
        question: str,
        history: Sequence[Turn] = (),
        filters: Filters | None = None,
        as_of: date | None = None,
    ) -> Iterator[StreamEvent]:
        return self._answerer().stream(question, history, filters, as_of)

    # --- the store's contents -----------------------------------------------------------------------------
    def articles(self) -> list[ArticleInfo]:
        return list(self._clients.articles())

    def article_text(self, doc_id: str) -> str | None:
        return self._clients.store().article_text(doc_id)

    def example_questions(self, count: int = 4) -> list[str]:
        """Starter questions about the people and places the stored headlines name (newest first)."""
        from rag.suggest import example_questions

        newest = sorted(self.articles(), key=lambda a: a.published_at or "", reverse=True)
        return example_questions([a.title for a in newest], self._clients.language().analyse, count)

    def close(self) -> None:
        """Nothing to release explicitly today; kept so callers can scope a pipeline's lifetime."""
