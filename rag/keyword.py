"""The BM25 keyword index (bm25s), built from the store and kept in step with it.

Names, places and numbers are where vectors alone miss; BM25 catches them. The index is persisted next to
the store and stamped with the store's `generation`; whenever the store has been written since (by this
process or another writer sharing a Chroma server) the index is rebuilt, never patched.

A rebuild reads the store's chunk ids, not its texts: the words of every chunk already indexed are kept
with the index (chunk ids are content hashes, so an id's text never changes), the words of chunks this
process just wrote are handed over by the ingest, and only the remaining ids (written by someone else) are
read and tokenized. BM25 itself is then recomputed over all chunks, as its statistics require.
"""

from __future__ import annotations

import json
import re
import shutil
import sys
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from rag.errors import StoreError
from rag.types import Filters

if TYPE_CHECKING:
    import bm25s

    from rag.store import VectorStore

_WORD = re.compile(r"[a-z0-9]+(?:[.'][a-z0-9]+)*")
STOPWORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before being below between
    both but by can could did do does doing down during each few for from further had has have having he her here
    hers herself him himself his how i if in into is it its itself just me more most my myself no nor not now of
    off on once only or other our ours ourselves out over own same she should so some such than that the their
    theirs them themselves then there these they this those through to too under until up very was we were what
    when where which while who whom why will with would you your yours yourself yourselves said says also""".split()
)


@lru_cache(maxsize=1)
def _stemmer() -> Any:
    import Stemmer

    return Stemmer.Stemmer("english")


# The combining-mark blocks (accents and diacritics) that NFKD splits off letters.
_COMBINING = re.compile("[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]")


def normalize(text: str) -> str:
    """Casefold and strip accents, so "Sybiha" and "Sybihá" meet."""
    folded = text.casefold()
    if folded.isascii():
        return folded
    return _COMBINING.sub("", unicodedata.normalize("NFKD", folded)).replace("’", "'")


def tokenize(text: str) -> list[str]:
    """Stemmed content words of `text` (stopwords dropped, numbers kept). Pure and deterministic."""
    words = [w.replace("'s", "").replace("'", "") if "'" in w else w for w in _WORD.findall(normalize(text))]
    return list(_stemmer().stemWords([w for w in words if w and w not in STOPWORDS]))


@dataclass(frozen=True)
class Entry:
    """What the keyword index keeps of one chunk: its words, its outlet and its day (for filters)."""

    tokens: list[str]
    source: str
    day: int


def entry(text: str, metadata: Mapping[str, Any]) -> Entry:
    """The index entry of a chunk from its text and stored metadata (title and outlet count as words)."""
    header = " ".join(str(metadata.get(k, "")) for k in ("title", "source"))
    return Entry(
        [sys.intern(t) for t in tokenize(header + " " + text)],  # one string object per distinct word
        str(metadata.get("source", "")),
        int(metadata.get("published_day") or 0),
    )


@dataclass(frozen=True)
class _Row:
    chunk_id: str
    source: str
    day: int


@dataclass(frozen=True)
class _Words:
    """Every row's words, packed: row i's word numbers are flat[offsets[i]:offsets[i + 1]] into vocab."""

    vocab: list[str]
    flat: np.ndarray
    offsets: np.ndarray

    @classmethod
    def packed(cls, vocab: list[str], pieces: list[np.ndarray]) -> _Words:
        """Rows of word numbers into `vocab`, packed, with the words no row uses dropped from the vocabulary."""
        flat = np.concatenate(pieces).astype(np.int32) if pieces else np.zeros(0, dtype=np.int32)
        used = np.zeros(len(vocab), dtype=bool)
        used[flat] = True
        renumber = (np.cumsum(used) - 1).astype(np.int32)
        offsets = np.cumsum([0] + [len(p) for p in pieces], dtype=np.int64)
        return cls([vocab[w] for w in np.flatnonzero(used).tolist()], renumber[flat], offsets)

    def docs(self) -> list[list[int]]:
        """Each row's word numbers as a list."""
        every = self.flat.tolist()
        bounds = self.offsets.tolist()
        return [every[a:b] for a, b in zip(bounds, bounds[1:], strict=False)]


class KeywordIndex:
    """BM25 over every chunk in the store. Use `KeywordIndex.open(...)`, then `search`."""

    def __init__(
        self,
        directory: Path,
        retriever: bm25s.BM25 | None,
        rows: list[_Row],
        generation: str,
        words: _Words | None = None,
    ) -> None:
        self._directory = directory
        self._retriever = retriever
        self._rows = rows
        self._words = words
        self._sources = np.array([r.source for r in rows], dtype=object)
        self._days = np.array([r.day for r in rows], dtype=np.int64)
        self.generation = generation

    @property
    def size(self) -> int:
        return len(self._rows)

    def sources(self) -> list[str]:
        """Every outlet in the index, once each (computed once per index)."""
        if not hasattr(self, "_outlets"):
            self._outlets = list(dict.fromkeys(r.source for r in self._rows))
        return self._outlets

    @classmethod
    def open(cls, directory: Path, store: VectorStore) -> KeywordIndex:
        """Load the persisted index if it matches the store's generation, else rebuild and persist it."""
        generation = store.generation()
        loaded = cls._load(directory)
        if loaded is not None and loaded.generation == generation:
            return loaded
        return cls.build(directory, store, generation)

    def refreshed(self, store: VectorStore) -> KeywordIndex:
        """This index if still in step with the store, else a rebuilt one."""
        generation = store.generation()
        if generation == self.generation:
            return self
        return KeywordIndex.build(self._directory, store, generation, previous=self)

    @classmethod
    def build(
        cls,
        directory: Path,
        store: VectorStore,
        generation: str | None = None,
        previous: KeywordIndex | None = None,
        fresh: Mapping[str, Entry] | None = None,
    ) -> KeywordIndex:
        """Index every chunk in the store and persist the index.

        Words come from `fresh` (chunks just written, keyed by id), else from `previous` (by default the
        index persisted in `directory`, current or not), else from the store's text of that chunk.
        """
        import bm25s

        generation = store.generation() if generation is None else generation
        previous = previous if previous is not None else cls._load(directory)
        kept = previous._words if previous is not None else None
        known = previous._positions() if previous is not None else {}
        fresh = fresh or {}
        ids = store.ids()
        # each chunk's words: an Entry (just written, or read back below) or a row of `previous`
        found: list[Entry | int | None] = [fresh.get(i, known.get(i)) for i in ids]
        missing = {
            chunk_id: n for n, (chunk_id, got) in enumerate(zip(ids, found, strict=True)) if got is None
        }
        for chunk in store.chunks(list(missing)):
            found[missing[chunk.chunk_id]] = entry(chunk.text, chunk.metadata)
        number = {w: n for n, w in enumerate(kept.vocab)} if kept is not None else {}
        rows: list[_Row] = []
        pieces: list[np.ndarray] = []
        for chunk_id, got in zip(ids, found, strict=True):
            if isinstance(got, Entry):
                rows.append(_Row(chunk_id, got.source, got.day))
                pieces.append(
                    np.array([number.setdefault(w, len(number)) for w in got.tokens], dtype=np.int32)
                )
            elif got is not None and previous is not None and kept is not None:
                rows.append(previous._rows[got])
                pieces.append(kept.flat[kept.offsets[got] : kept.offsets[got + 1]])
            # None: deleted between listing the ids and reading the chunk
        words = _Words.packed(list(number), pieces)
        retriever = None
        if rows:
            retriever = bm25s.BM25()
            retriever.index((words.docs(), {w: n for n, w in enumerate(words.vocab)}), show_progress=False)
        index = cls(directory, retriever, rows, generation, words)
        index._save()
        return index

    def _positions(self) -> dict[str, int]:
        """Row number of each chunk id whose words this index kept (none for an index saved without them)."""
        if self._words is None:
            return {}
        return {row.chunk_id: n for n, row in enumerate(self._rows)}

    @classmethod
    def _load(cls, directory: Path) -> KeywordIndex | None:
        meta_path = directory / "rows.json"
        if not meta_path.is_file():
            return None
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
            rows = [_Row(*r) for r in meta["rows"]]
            retriever = None
            if rows:
                import bm25s

                retriever = bm25s.BM25.load(str(directory / "bm25"), show_progress=False)
            words = None
            if "vocab" in meta and (directory / "words.npz").is_file():
                with np.load(directory / "words.npz") as packed:
                    words = _Words(list(meta["vocab"]), packed["flat"], packed["offsets"])
                if len(words.offsets) != len(rows) + 1:
                    words = None
            return cls(directory, retriever, rows, str(meta["generation"]), words)
        except (OSError, ValueError, KeyError, TypeError):
            return None  # a damaged index is rebuilt from the store, which is the source of truth

    def _save(self) -> None:
        """Write to a fresh directory, then swap it in, so a crash never leaves a half-written index."""
        parent = self._directory.parent
        tmp = parent / f".{self._directory.name}.tmp"
        old = parent / f".{self._directory.name}.old"
        try:
            parent.mkdir(parents=True, exist_ok=True)
            shutil.rmtree(tmp, ignore_errors=True)
            tmp.mkdir()
            if self._retriever is not None:
                self._retriever.save(str(tmp / "bm25"), show_progress=False)
            rows = [[r.chunk_id, r.source, r.day] for r in self._rows]
            meta: dict[str, Any] = {"generation": self.generation, "rows": rows}
            if self._words is not None:
                np.savez(tmp / "words.npz", flat=self._words.flat, offsets=self._words.offsets)
                meta["vocab"] = self._words.vocab
            (tmp / "rows.json").write_text(json.dumps(meta))
            shutil.rmtree(old, ignore_errors=True)
            if self._directory.exists():
                self._directory.rename(old)
            tmp.rename(self._directory)
            shutil.rmtree(old, ignore_errors=True)
        except OSError as e:
            raise StoreError(f"Cannot write the keyword index under {parent}: {e}") from e

    def mentions(self, phrase: str) -> bool:
        """True when every word of `phrase` occurs somewhere in the indexed chunks (or the phrase has no words):
        a name none of whose articles holds all its words is not in the collection."""
        words = tokenize(phrase)
        if not words:
            return True
        if self._retriever is None:
            return False
        vocab = self._retriever.vocab_dict
        return all(w in vocab for w in words)

    def search(self, query: str, k: int, filters: Filters | None = None) -> list[tuple[str, float]]:
        """Up to k (chunk_id, BM25 score) pairs with a positive score, best first."""
        tokens = tokenize(query)
        if self._retriever is None or not tokens or k <= 0:
            return []
        mask = self._mask(filters)
        if mask is not None and not mask.any():
            return []
        k = min(k, self.size)
        docs, scores = self._retriever.retrieve(
            [tokens], k=k, show_progress=False, weight_mask=mask, n_threads=1
        )
        return [
            (self._rows[int(d)].chunk_id, float(s)) for d, s in zip(docs[0], scores[0], strict=True) if s > 0
        ]

    def _mask(self, filters: Filters | None) -> np.ndarray | None:
        if filters is None or filters.empty:
            return None
        from rag.store import date_key

        mask = np.ones(self.size, dtype=bool)
        if filters.sources:
            mask &= np.isin(self._sources, list(filters.sources))
        if filters.since:
            mask &= self._days >= date_key(filters.since)
        if filters.until:
            mask &= (self._days <= date_key(filters.until)) & (self._days > 0)
        return mask.astype(np.float32)
