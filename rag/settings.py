"""One settings object, loaded once at the edge and passed explicitly.

Precedence: command-line flags > `RAG_*` environment variables > config file (`rag.toml`, or the file named
by `RAG_CONFIG` / `--config`) > the defaults below. Unknown keys are an error, wherever they come from.
`rag.example.toml` documents every option.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from rag.errors import ConfigError

LLM_BACKENDS = ("local", "openai", "ollama", "none")
ANSWER_MODES = ("auto", "choose", "write")
RETRIEVAL_MODES = ("hybrid", "vector", "keyword")
EMBEDDING_MODELS = ("minilm-int8", "minilm", "minilm-onnx-int8")
ENV_PREFIX = "RAG_"
SPECIAL_ENV = {"RAG_CONFIG"}


@dataclass(frozen=True)
class Settings:
    """Every option newsrag reads. Field comments are the documentation of record."""

    # where the embedded Chroma store, keyword index and ingest record live
    store_dir: Path = Path(".newsrag")
    # URL of a Chroma server (`chroma run`); empty means the embedded store in store_dir
    chroma_url: str = ""
    # Chroma collection name (3-512 characters of letters, digits, '.', '_' and '-')
    collection: str = "newsrag"
    # chunk size and overlap, in tiktoken tokens
    chunk_tokens: int = 180
    chunk_overlap: int = 30
    # tiktoken encoding used to measure chunks and prompt budgets
    encoding: str = "cl100k_base"
    # embedding model for stored chunks: "minilm-int8" (MiniLM quantized here to integer int8, ~3x torch at
    # ingest, built once into cache_dir), "minilm" (sentence-transformers, torch), "minilm-onnx-int8" (the
    # int8 ONNX from PyPI) or a path to a local sentence-transformers folder
    embedding_model: str = "minilm-int8"
    # embedder for questions and evidence sentences; must share embedding_model's vector space. The PyPI int8
    # ONNX MiniLM is the closest to the float model (the eval lost accuracy with minilm-int8 here) and keeps
    # torch out of `rag ask` / `rag ui`; empty means the same as embedding_model
    query_embedding_model: str = "minilm-onnx-int8"
    # texts per embedding batch (small batches pad less and keep the int8 kernels in cache: 8 was fastest here)
    embed_batch: int = 8
    # retrieval: "hybrid" (vector + BM25 fused), "vector" or "keyword"
    retrieval: str = "hybrid"
    # candidates taken from each retriever before fusion
    candidates: int = 24
    # passages kept after fusion and near-duplicate collapse
    top_k: int = 6
    # reciprocal rank fusion constant (larger flattens the rank weighting)
    rrf_k: int = 60
    # numbered evidence sentences given to the model and shown to the user
    evidence_max: int = 6
    # below this relevance of the best evidence sentence, the answer is an abstention (0..1)
    abstain_threshold: float = 0.32
    # a typed question's best answer candidate must score at least this (0..1), else the answer is "the
    # articles do not say"
    min_candidate_score: float = 0.35
    # "choose": the model picks among candidate answers found in the evidence (or NONE) under a grammar;
    # "write": the model writes at most two cited sentences; "auto": write for openai / ollama / your own GGUF,
    # choose for the small bundled models
    answer_mode: str = "auto"
    # candidate answers the model chooses among; below 2 (the default) the evidence ranking's own pick is the
    # answer: measured on the dev set, the bundled 0.5B model chose worse than the ranking (README, Measured)
    choose_options: int = 0
    # optional local sentence-transformers CrossEncoder folder used to rerank evidence sentences
    reranker_path: str = ""
    # answer backend: "local" (bundled GGUF via xllamacpp), "openai", "ollama" or "none" (evidence only)
    llm: str = "local"
    # bundled local model: "qwen2.5-coder-0.5b", "qwen2.5-coder-1.5b" or "smollm2-135m"
    local_model: str = "qwen2.5-coder-0.5b"
    # your own GGUF file; overrides local_model when set
    local_model_path: str = ""
    # CPU threads for the local model; 0 picks one per physical core, at most 4
    threads: int = 0
    # the model's context window in tokens; prompts are budgeted against it
    context_window: int = 4096
    # longest answer, in tokens
    max_answer_tokens: int = 200
    # seconds before a generation is stopped (its request cancelled) and the evidence is returned instead
    llm_timeout: float = 60.0
    # retries of a hosted endpoint after 429/5xx/connection errors (with exponential backoff)
    llm_retries: int = 2
    # sampling temperature (0 = deterministic)
    temperature: float = 0.0
    # OpenAI-compatible endpoint and model; the key comes from OPENAI_API_KEY only
    openai_base_url: str = "https://api.openai.com/v1"
    openai_model: str = "gpt-4o-mini"
    # Ollama server and model
    ollama_url: str = "http://127.0.0.1:11434"
    ollama_model: str = "llama3.2"
    # where assembled and built model files are cached
    cache_dir: Path = field(default_factory=lambda: Path(os.path.expanduser("~/.cache/newsrag")))
    # largest article file ingest accepts, in megabytes
    max_file_mb: float = 20.0
    # longest question accepted, in characters
    max_question_chars: int = 2000
    # UI bind address and port; binding beyond loopback requires ui_auth
    ui_host: str = "127.0.0.1"
    ui_port: int = 7860
    # "user:password" for the UI login; empty means no login (only allowed on loopback)
    ui_auth: str = ""
    # where UI feedback (thumbs up/down) is appended, one JSON object per line
    feedback_file: Path = Path(".newsrag/feedback.jsonl")

    def __post_init__(self) -> None:
        _check_choice("llm", self.llm, LLM_BACKENDS)
        _check_choice("retrieval", self.retrieval, RETRIEVAL_MODES)
        _check_choice("answer_mode", self.answer_mode, ANSWER_MODES)
        if self.chunk_tokens < 16:
            raise ConfigError(f"chunk_tokens must be at least 16, got {self.chunk_tokens}.")
        if not 0 <= self.chunk_overlap < self.chunk_tokens:
            raise ConfigError(
                f"chunk_overlap must be >= 0 and smaller than chunk_tokens ({self.chunk_tokens}), "
                f"got {self.chunk_overlap}."
            )
        for name in ("top_k", "candidates", "evidence_max", "embed_batch", "max_answer_tokens", "rrf_k"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be at least 1, got {getattr(self, name)}.")
        for name in ("abstain_threshold", "min_candidate_score"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ConfigError(f"{name} must be between 0 and 1, got {getattr(self, name)}.")
        if self.llm_timeout <= 0:
            raise ConfigError(f"llm_timeout must be positive, got {self.llm_timeout}.")
        if self.ui_auth and ":" not in self.ui_auth:
            raise ConfigError("ui_auth must look like 'user:password'.")

    @property
    def effective_threads(self) -> int:
        if self.threads > 0:
            return self.threads
        return max(1, min(4, (os.cpu_count() or 2) // 2))

    def public_dict(self) -> dict[str, Any]:
        """The settings as plain values, safe to print or store in a report (no secrets live here)."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            out[f.name] = str(value) if isinstance(value, Path) else value
        if self.ui_auth:
            out["ui_auth"] = "***"
        return out

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **_coerce_all(changes, source="override"))


def _check_choice(name: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ConfigError(f"{name} must be one of {', '.join(choices)}; got {value!r}.")


def _field_types() -> dict[str, Any]:
    hints = typing.get_type_hints(Settings)
    return {f.name: hints[f.name] for f in fields(Settings)}


def _coerce(name: str, raw: Any, target: Any, source: str) -> Any:
    if isinstance(target, types.UnionType):  # e.g. `str | None`
        target = next(t for t in typing.get_args(target) if t is not type(None))
    try:
        if target is bool:
            if isinstance(raw, bool):
                return raw
            text = str(raw).strip().lower()
            if text in ("1", "true", "yes", "on"):
                return True
            if text in ("0", "false", "no", "off"):
                return False
            raise ValueError(raw)
        if target is int:
            if isinstance(raw, bool) or (isinstance(raw, float) and not raw.is_integer()):
                raise ValueError(raw)
            return int(raw)
        if target is float:
            if isinstance(raw, bool):
                raise ValueError(raw)
            return float(raw)
        if target is Path:
            if not isinstance(raw, str | Path):
                raise ValueError(raw)
            return Path(os.path.expanduser(str(raw)))
        if target is str:
            if not isinstance(raw, str):
                raise ValueError(raw)
            return raw
    except (TypeError, ValueError) as e:
        raise ConfigError(f"{source}: {name} expects {target.__name__}, got {raw!r}.") from e
    raise ConfigError(f"{source}: unsupported type for {name}.")


def _coerce_all(values: Mapping[str, Any], source: str) -> dict[str, Any]:
    known = _field_types()
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise ConfigError(
            f"{source}: unknown setting(s) {', '.join(unknown)}. Known settings are listed in rag.example.toml."
        )
    return {k: _coerce(k, v, known[k], source) for k, v in values.items()}


def _read_config_file(path: Path) -> dict[str, Any]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as e:
        raise ConfigError(f"Config file {path} does not exist.") from e
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise ConfigError(f"Config file {path} is not valid TOML: {e}") from e
    except OSError as e:
        raise ConfigError(f"Config file {path} cannot be read: {e}") from e
    nested = [k for k, v in data.items() if isinstance(v, dict)]
    if nested:
        raise ConfigError(
            f"Config file {path}: tables are not supported ({', '.join(nested)}); use top-level keys."
        )
    return data


def _env_values(env: Mapping[str, str]) -> dict[str, Any]:
    return {
        key[len(ENV_PREFIX) :].lower(): value
        for key, value in env.items()
        if key.startswith(ENV_PREFIX) and key not in SPECIAL_ENV
    }


def load_settings(
    config: str | Path | None = None,
    overrides: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> Settings:
    """Build the Settings from defaults, a config file, the environment and explicit overrides.

    `config` names a TOML file; without it `RAG_CONFIG`, then `./rag.toml` if present, are used.
    `overrides` (e.g. CLI flags) win over everything; entries whose value is None are ignored.
    """
    env = os.environ if env is None else env
    cwd = cwd or Path.cwd()
    values: dict[str, Any] = {}
    config_path = Path(config) if config else (Path(env["RAG_CONFIG"]) if env.get("RAG_CONFIG") else None)
    if config_path is None and (cwd / "rag.toml").is_file():
        config_path = cwd / "rag.toml"
    if config_path is not None:
        values.update(_coerce_all(_read_config_file(config_path), source=str(config_path)))
    values.update(_coerce_all(_env_values(env), source="environment (RAG_*)"))
    if overrides:
        values.update(
            _coerce_all({k: v for k, v in overrides.items() if v is not None}, source="command line")
        )
    return Settings(**values)
