"""The minilm-int8 embedder: built once from the installed MiniLM weights, verified on every load."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from rag.errors import ModelUnavailableError
from rag.onnx_build import MODEL_FILE, RECIPE, SIDECAR, built_model, ensure_built, model_dir
from rag.settings import Settings

SENTENCES = [
    "Rescue teams searched the collapsed building through the night.",
    "The minister resigned after the audit found missing funds.",
    "Which countries sent envoys to the summit?",
    "Tickets for the final sold out within an hour of going on sale.",
]


def test_no_build_is_found_in_an_empty_or_stale_cache(tmp_path: Path) -> None:
    assert built_model(tmp_path) is None
    folder = model_dir(tmp_path)
    folder.mkdir(parents=True)
    (folder / MODEL_FILE).write_bytes(b"onnx")
    (folder / SIDECAR).write_text("not json", encoding="utf-8")
    assert built_model(tmp_path) is None
    (folder / SIDECAR).write_text(json.dumps({"recipe": RECIPE - 1, "sha256": "ab"}), encoding="utf-8")
    assert built_model(tmp_path) is None  # built by an older recipe: rebuilt, not reused
    (folder / SIDECAR).write_text(json.dumps({"recipe": RECIPE, "sha256": "ab"}), encoding="utf-8")
    assert built_model(tmp_path) == (folder / MODEL_FILE, "ab")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    cache = tmp_path_factory.mktemp("cache")
    ensure_built(cache)
    return cache


@pytest.mark.integration
def test_build_writes_a_model_whose_sidecar_hash_matches(built: Path) -> None:
    from rag.onnx_embedder import file_sha256

    path = ensure_built(built)
    assert path == model_dir(built) / MODEL_FILE
    assert built_model(built) == (path, file_sha256(path))
    assert not [p for p in path.parent.parent.iterdir() if p.name.startswith(".")]  # no scratch left behind
    mtime = path.stat().st_mtime_ns
    assert ensure_built(built) == path
    assert path.stat().st_mtime_ns == mtime  # found, not rebuilt


@pytest.mark.integration
def test_int8_vectors_stay_close_to_the_float_model(built: Path) -> None:
    from rag.embeddings import build_embedder

    settings = Settings(cache_dir=built)
    ours = np.array(build_embedder(settings, "minilm-int8").embed_documents(SENTENCES))
    reference = np.array(build_embedder(settings, "minilm").embed_documents(SENTENCES))
    cosines = (ours * reference).sum(axis=1)
    assert cosines.min() > 0.97, cosines
    # still ranks by meaning: each sentence is nearest to its own float vector
    assert list((ours @ reference.T).argmax(axis=1)) == list(range(len(SENTENCES)))


@pytest.mark.integration
def test_a_damaged_model_file_is_rebuilt_not_run(built: Path, tmp_path: Path) -> None:
    import shutil

    from rag.embeddings import build_embedder
    from rag.onnx_embedder import file_sha256

    cache = tmp_path / "cache"
    shutil.copytree(built, cache)
    path = ensure_built(cache)
    good = file_sha256(path)
    data = bytearray(path.read_bytes())
    data[-100] ^= 0xFF
    path.write_bytes(bytes(data))
    vectors = build_embedder(Settings(cache_dir=cache), "minilm-int8").embed_documents(SENTENCES[:1])
    assert file_sha256(path) == good  # the same recipe rebuilds the same bytes
    assert len(vectors[0]) == 384


def test_a_missing_onnx_package_names_the_fix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from rag.onnx_build import build

    monkeypatch.setitem(sys.modules, "onnx", None)  # makes `import onnx` raise ImportError
    with pytest.raises(ModelUnavailableError, match="pip install"):
        build(tmp_path)
