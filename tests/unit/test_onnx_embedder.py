"""OnnxMiniLM: pure pooling maths; the tests that load the ONNX model (and torch) are marked integration."""

from __future__ import annotations

import numpy as np
import pytest

from rag.onnx_embedder import DIMENSIONS, mean_pool

SENTENCES = [
    "The British Foreign Secretary flew to Paris for talks on Ukraine.",
    "Heavy rain flooded the harbour district overnight.",
    "Shares in the carmaker fell 4% after the profit warning.",
    "Who led the US delegation at the talks?",
    "ceasefire " * 300,  # longer than max_length: must be truncated, not fail
]


def test_mean_pool_ignores_padding_and_normalises() -> None:
    hidden = np.array([[[3.0, 0.0], [0.0, 4.0], [100.0, 100.0]]], dtype=np.float32)
    mask = np.array([[1, 1, 0]])
    pooled = mean_pool(hidden, mask)
    # mean of the two real tokens is (1.5, 2.0); unit length -> (0.6, 0.8); the padded token is ignored
    np.testing.assert_allclose(pooled, [[0.6, 0.8]], rtol=1e-6)


def test_mean_pool_rows_are_independent_and_empty_row_is_zero() -> None:
    hidden = np.array([[[1.0, 0.0], [1.0, 0.0]], [[5.0, 5.0], [5.0, 5.0]]], dtype=np.float32)
    mask = np.array([[1, 1], [0, 0]])
    pooled = mean_pool(hidden, mask)
    np.testing.assert_allclose(pooled, [[1.0, 0.0], [0.0, 0.0]], atol=1e-6)


@pytest.fixture(scope="module")
def onnx_embedder():  # type: ignore[no-untyped-def]
    from rag.onnx_embedder import OnnxMiniLM

    return OnnxMiniLM.bundled(max_length=256, workers=2, batch_size=2)


@pytest.mark.integration
def test_shape_unit_length_and_deterministic(onnx_embedder) -> None:  # type: ignore[no-untyped-def]
    first = np.array(onnx_embedder.embed_documents(SENTENCES))
    second = np.array(onnx_embedder.embed_documents(list(reversed(SENTENCES))))[::-1]
    assert first.shape == (len(SENTENCES), DIMENSIONS)
    np.testing.assert_allclose(np.linalg.norm(first, axis=1), 1.0, rtol=1e-5)
    # batch composition and order must not change a text's vector
    np.testing.assert_allclose(first, second, atol=1e-5)
    query = np.array(onnx_embedder.embed_query(SENTENCES[0]))
    np.testing.assert_allclose(query, first[0], atol=1e-5)


@pytest.mark.integration
def test_truncates_at_the_explicit_max_length(onnx_embedder) -> None:  # type: ignore[no-untyped-def]
    long_text = "ceasefire talks " * 400
    # past max_length the extra words are cut, so a longer text embeds exactly like the truncated one
    a = np.array(onnx_embedder.embed_query(long_text))
    b = np.array(onnx_embedder.embed_query(long_text + " harbour flooding shares profit warning" * 20))
    np.testing.assert_allclose(a, b, atol=1e-6)
    assert onnx_embedder.max_length == 256


@pytest.mark.integration
def test_matches_sentence_transformers(onnx_embedder) -> None:  # type: ignore[no-untyped-def]
    from sentence_transformers import SentenceTransformer

    from rag.embeddings import minilm_path

    model = SentenceTransformer(str(minilm_path()), device="cpu")
    reference = model.encode(SENTENCES, normalize_embeddings=True)
    ours = np.array(onnx_embedder.embed_documents(SENTENCES))
    cosines = (ours * reference).sum(axis=1)
    assert cosines.min() >= 0.98, cosines
    # and the ranking of unrelated sentences is the same: each sentence is nearest to its own reference
    assert list((ours @ reference.T).argmax(axis=1)) == list(range(len(SENTENCES)))


class _FakeTokenizer:
    """Each text becomes its words' lengths as token ids; no padding beyond the batch's longest text."""

    def enable_truncation(self, max_length: int) -> None:
        self.max_length = max_length

    def enable_padding(self, pad_id: int, pad_token: str) -> None:
        pass

    def encode_batch(self, texts: list[str]) -> list[object]:
        from types import SimpleNamespace

        rows = [[len(w) for w in t.split()][: self.max_length] for t in texts]
        width = max(len(r) for r in rows)
        return [
            SimpleNamespace(
                ids=r + [0] * (width - len(r)), attention_mask=[1] * len(r) + [0] * (width - len(r))
            )
            for r in rows
        ]


class _MeetingSession:
    """A session whose `run` waits until `parties` runs are inside it at once (fails if they never are)."""

    def __init__(self, parties: int) -> None:
        import threading

        self._barrier = threading.Barrier(parties, timeout=10)

    def get_inputs(self) -> list[object]:
        from types import SimpleNamespace

        return [SimpleNamespace(name="input_ids"), SimpleNamespace(name="attention_mask")]

    def run(self, outputs: list[str], feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        self._barrier.wait()
        ids = feeds["input_ids"].astype(np.float32)
        hidden = np.zeros((*ids.shape, DIMENSIONS), dtype=np.float32)
        hidden[:, :, 0] = ids  # pooled vector points along axis 0 or 1 depending on the words' lengths
        hidden[:, :, 1] = 1.0
        return [hidden]


def test_workers_embed_batches_at_the_same_time_and_keep_input_order() -> None:
    from rag.onnx_embedder import OnnxMiniLM

    # four batches of one text, two at a time: each run waits for a second one, so serial runs would time out
    embedder = OnnxMiniLM(_MeetingSession(2), _FakeTokenizer(), max_length=64, batch_size=1, workers=2)  # type: ignore[arg-type]
    texts = ["aaaa bbbb", "a", "ccc dd", "eeeeeeee f"]
    vectors = embedder.embed_array(texts)
    for text, vector in zip(texts, vectors, strict=True):
        mean_len = np.mean([len(w) for w in text.split()])
        expected = np.array([mean_len, 1.0]) / np.hypot(mean_len, 1.0)
        np.testing.assert_allclose(vector[:2], expected, rtol=1e-6)


def test_workers_must_be_positive() -> None:
    from rag.onnx_embedder import OnnxMiniLM

    with pytest.raises(ValueError, match="workers must be at least 1, got 0"):
        OnnxMiniLM(_MeetingSession(1), _FakeTokenizer(), max_length=64, workers=0)  # type: ignore[arg-type]


@pytest.mark.integration
def test_parallel_batches_match_one_at_a_time(onnx_embedder) -> None:  # type: ignore[no-untyped-def]
    from rag.onnx_embedder import OnnxMiniLM

    serial = OnnxMiniLM.bundled(max_length=256, workers=1, batch_size=2)
    texts = SENTENCES * 3
    np.testing.assert_allclose(onnx_embedder.embed_array(texts), serial.embed_array(texts), atol=1e-6)


@pytest.mark.integration
def test_calls_from_two_threads_at_once_get_what_each_would_get_alone(onnx_embedder) -> None:  # type: ignore[no-untyped-def]
    """`overlapping_calls`: the ingest embeds the next window while this one finishes."""
    from concurrent.futures import ThreadPoolExecutor

    assert onnx_embedder.overlapping_calls
    first, second = SENTENCES * 4, list(reversed(SENTENCES)) * 3
    alone = [onnx_embedder.embed_array(first), onnx_embedder.embed_array(second)]
    with ThreadPoolExecutor(2) as pool:
        together = list(pool.map(onnx_embedder.embed_array, [first, second]))
    for a, b in zip(alone, together, strict=True):
        np.testing.assert_allclose(a, b, atol=1e-6)
