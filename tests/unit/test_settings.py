"""Settings: precedence (overrides > RAG_* > config file > defaults), strict keys, coercion, validation,
masking, and that rag.example.toml documents every field."""

from __future__ import annotations

import dataclasses
import os
import re
import tomllib
from pathlib import Path

import pytest

from rag.errors import ConfigError
from rag.settings import Settings, load_settings

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "rag.example.toml"
FIELDS = [f.name for f in dataclasses.fields(Settings)]


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


# --- precedence -------------------------------------------------------------------------------------------


def test_defaults_when_nothing_is_given(tmp_path: Path) -> None:
    assert load_settings(env={}, cwd=tmp_path) == Settings()


def test_each_source_beats_the_one_below(tmp_path: Path) -> None:
    config = write(tmp_path / "c.toml", "top_k = 3\ncandidates = 10\nrrf_k = 20\n")
    env = {"RAG_CANDIDATES": "11", "RAG_RRF_K": "21"}
    s = load_settings(config=config, overrides={"rrf_k": 22}, env=env, cwd=tmp_path)
    assert (s.top_k, s.candidates, s.rrf_k) == (3, 11, 22)  # file only, env over file, override over env
    assert s.evidence_max == Settings().evidence_max  # untouched fields keep their default


def test_overrides_whose_value_is_none_are_ignored(tmp_path: Path) -> None:
    s = load_settings(overrides={"top_k": None, "llm": "none"}, env={"RAG_TOP_K": "4"}, cwd=tmp_path)
    assert (s.top_k, s.llm) == (4, "none")


def test_rag_toml_in_cwd_is_read_when_no_config_is_named(tmp_path: Path) -> None:
    write(tmp_path / "rag.toml", 'llm = "none"\n')
    assert load_settings(env={}, cwd=tmp_path).llm == "none"


def test_rag_config_env_names_the_file_and_beats_cwd_rag_toml(tmp_path: Path) -> None:
    write(tmp_path / "rag.toml", "top_k = 2\n")
    other = write(tmp_path / "other.toml", "top_k = 5\n")
    assert load_settings(env={"RAG_CONFIG": str(other)}, cwd=tmp_path).top_k == 5


def test_explicit_config_beats_rag_config_env(tmp_path: Path) -> None:
    a = write(tmp_path / "a.toml", "top_k = 7\n")
    b = write(tmp_path / "b.toml", "top_k = 8\n")
    assert load_settings(config=a, env={"RAG_CONFIG": str(b)}, cwd=tmp_path).top_k == 7


def test_load_settings_reads_os_environ_by_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAG_TOP_K", "9")
    assert load_settings(cwd=tmp_path).top_k == 9


# --- unknown keys, from every source -----------------------------------------------------------------------


def test_unknown_key_in_config_file_is_rejected_with_its_name_and_file(tmp_path: Path) -> None:
    config = write(tmp_path / "c.toml", "top_kk = 3\n")
    with pytest.raises(ConfigError, match=r"c\.toml: unknown setting\(s\) top_kk\. Known settings are"):
        load_settings(config=config, env={}, cwd=tmp_path)


def test_unknown_env_keys_are_rejected_and_listed_sorted(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as e:
        load_settings(env={"RAG_ZED": "1", "RAG_NOPE": "2"}, cwd=tmp_path)
    assert str(e.value) == (
        "environment (RAG_*): unknown setting(s) nope, zed. Known settings are listed in rag.example.toml."
    )


def test_unknown_override_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^command line: unknown setting\(s\) colour\."):
        load_settings(overrides={"colour": "red"}, env={}, cwd=tmp_path)


def test_unknown_key_in_replace_is_rejected() -> None:
    with pytest.raises(ConfigError, match=r"^override: unknown setting\(s\) nope\."):
        Settings().replace(nope=1)


def test_env_without_rag_prefix_is_ignored(tmp_path: Path) -> None:
    assert load_settings(env={"TOP_K": "1", "HOME": "/x"}, cwd=tmp_path) == Settings()


def test_config_tables_are_rejected(tmp_path: Path) -> None:
    config = write(tmp_path / "c.toml", "[retrieval]\ntop_k = 3\n")
    with pytest.raises(ConfigError, match=r"tables are not supported \(retrieval\); use top-level keys"):
        load_settings(config=config, env={}, cwd=tmp_path)


def test_missing_and_invalid_config_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"nope\.toml does not exist"):
        load_settings(config=tmp_path / "nope.toml", env={}, cwd=tmp_path)
    bad = write(tmp_path / "bad.toml", "top_k = = 3\n")
    with pytest.raises(ConfigError, match=r"bad\.toml is not valid TOML"):
        load_settings(config=bad, env={}, cwd=tmp_path)


# --- type coercion ----------------------------------------------------------------------------------------


def test_env_strings_are_coerced_to_field_types(tmp_path: Path) -> None:
    env = {"RAG_TOP_K": "3", "RAG_LLM_TIMEOUT": "2.5", "RAG_STORE_DIR": "~/st", "RAG_COLLECTION": "news_2"}
    s = load_settings(env=env, cwd=tmp_path)
    assert s.top_k == 3 and isinstance(s.top_k, int)
    assert s.llm_timeout == 2.5
    assert s.store_dir == Path(os.path.expanduser("~/st"))
    assert s.collection == "news_2"


def test_toml_int_for_a_float_field_and_integral_float_for_an_int_field(tmp_path: Path) -> None:
    config = write(tmp_path / "c.toml", "llm_timeout = 5\ntop_k = 4.0\n")
    s = load_settings(config=config, env={}, cwd=tmp_path)
    assert (s.llm_timeout, type(s.llm_timeout), s.top_k, type(s.top_k)) == (5.0, float, 4, int)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ({"env": {"RAG_TOP_K": "abc"}}, "environment (RAG_*): top_k expects int, got 'abc'."),
        ({"env": {"RAG_TOP_K": "2.5"}}, "environment (RAG_*): top_k expects int, got '2.5'."),
        ({"overrides": {"top_k": 2.5}}, "command line: top_k expects int, got 2.5."),
        ({"overrides": {"top_k": True}}, "command line: top_k expects int, got True."),
        ({"overrides": {"llm_timeout": False}}, "command line: llm_timeout expects float, got False."),
        ({"overrides": {"llm_timeout": "soon"}}, "command line: llm_timeout expects float, got 'soon'."),
        ({"overrides": {"collection": 5}}, "command line: collection expects str, got 5."),
        ({"overrides": {"store_dir": 5}}, "command line: store_dir expects Path, got 5."),
    ],
)
def test_coercion_errors_name_source_field_and_value(tmp_path: Path, source: dict, expected: str) -> None:
    with pytest.raises(ConfigError) as e:
        load_settings(env=source.get("env", {}), overrides=source.get("overrides"), cwd=tmp_path)
    assert str(e.value) == expected


def test_wrong_type_in_config_file_names_the_file(tmp_path: Path) -> None:
    config = write(tmp_path / "c.toml", 'top_k = "many"\n')
    with pytest.raises(ConfigError) as e:
        load_settings(config=config, env={}, cwd=tmp_path)
    assert str(e.value) == f"{config}: top_k expects int, got 'many'."


def test_replace_coerces_like_the_other_sources() -> None:
    s = Settings().replace(top_k="3", store_dir="~/x")
    assert (s.top_k, s.store_dir) == (3, Path(os.path.expanduser("~/x")))


# --- validation in __post_init__ --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"llm": "gpt"}, "llm must be one of local, openai, ollama, none; got 'gpt'."),
        ({"retrieval": "bm25"}, "retrieval must be one of hybrid, vector, keyword; got 'bm25'."),
        ({"chunk_tokens": 15}, "chunk_tokens must be at least 16, got 15."),
        ({"chunk_overlap": 180}, "chunk_overlap must be >= 0 and smaller than chunk_tokens (180), got 180."),
        ({"chunk_overlap": -1}, "chunk_overlap must be >= 0 and smaller than chunk_tokens (180), got -1."),
        ({"top_k": 0}, "top_k must be at least 1, got 0."),
        ({"candidates": 0}, "candidates must be at least 1, got 0."),
        ({"evidence_max": 0}, "evidence_max must be at least 1, got 0."),
        ({"embed_batch": 0}, "embed_batch must be at least 1, got 0."),
        ({"max_answer_tokens": 0}, "max_answer_tokens must be at least 1, got 0."),
        ({"rrf_k": 0}, "rrf_k must be at least 1, got 0."),
        ({"abstain_threshold": 1.01}, "abstain_threshold must be between 0 and 1, got 1.01."),
        ({"abstain_threshold": -0.1}, "abstain_threshold must be between 0 and 1, got -0.1."),
        ({"llm_timeout": 0.0}, "llm_timeout must be positive, got 0.0."),
        ({"ui_auth": "admin"}, "ui_auth must look like 'user:password'."),
    ],
)
def test_invalid_values_are_rejected_with_a_message(changes: dict, message: str) -> None:
    with pytest.raises(ConfigError) as e:
        Settings(**changes)
    assert str(e.value) == message


def test_validation_also_applies_to_loaded_values(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^top_k must be at least 1, got 0\.$"):
        load_settings(env={"RAG_TOP_K": "0"}, cwd=tmp_path)


def test_boundary_values_are_accepted() -> None:
    s = Settings(chunk_tokens=16, chunk_overlap=15, abstain_threshold=1.0, top_k=1, llm="none", ui_auth="u:p")
    assert (s.chunk_tokens, s.chunk_overlap, s.abstain_threshold) == (16, 15, 1.0)
    assert Settings(abstain_threshold=0.0, chunk_overlap=0).chunk_overlap == 0


def test_effective_threads() -> None:
    assert Settings(threads=3).effective_threads == 3
    assert Settings(threads=0).effective_threads == max(1, min(4, (os.cpu_count() or 2) // 2))


# --- public_dict ------------------------------------------------------------------------------------------


def test_public_dict_masks_ui_auth_and_stringifies_paths() -> None:
    d = Settings(ui_auth="alice:s3cret", store_dir=Path("/data/st")).public_dict()
    assert d["ui_auth"] == "***"
    assert "s3cret" not in repr(d)
    assert d["store_dir"] == "/data/st" and d["feedback_file"] == ".newsrag/feedback.jsonl"
    assert list(d) == FIELDS


def test_public_dict_leaves_empty_ui_auth_empty() -> None:
    assert Settings().public_dict()["ui_auth"] == ""


# --- rag.example.toml -------------------------------------------------------------------------------------


def example_lines() -> dict[str, str]:
    """`# name = value` lines of the example config, as {name: value text}."""
    out: dict[str, str] = {}
    for line in EXAMPLE.read_text(encoding="utf-8").splitlines():
        m = re.fullmatch(r"# ([a-z_]+) = (.+)", line)
        if m:
            assert m.group(1) not in out, f"{m.group(1)} appears twice"
            out[m.group(1)] = m.group(2)
    return out


def test_example_config_mentions_every_field_and_nothing_else() -> None:
    assert sorted(example_lines()) == sorted(FIELDS)


def test_example_config_each_option_follows_a_descriptive_comment() -> None:
    """Every option line sits under a plain comment (grouped options such as chunk_overlap share one)."""
    option = re.compile(r"# [a-z_]+ = .+")
    lines = EXAMPLE.read_text(encoding="utf-8").splitlines()
    for i, line in enumerate(lines):
        if option.fullmatch(line):
            j = i - 1
            while j >= 0 and option.fullmatch(lines[j]):
                j -= 1
            assert j >= 0 and lines[j].startswith("# ") and len(lines[j]) > 10, f"no comment above {line!r}"


def test_example_config_uncommented_loads_to_the_defaults(tmp_path: Path) -> None:
    body = "\n".join(f"{k} = {v}" for k, v in example_lines().items())
    config = write(tmp_path / "rag.toml", body)
    assert set(tomllib.loads(body)) == set(FIELDS)
    assert load_settings(config=config, env={}, cwd=tmp_path) == Settings()
