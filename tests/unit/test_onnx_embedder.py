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

    return OnnxMiniLM.bundled(max_length=256, threads=1, batch_size=2)


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
