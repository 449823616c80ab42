"""Load article files into clean `Article` values: loaders, boilerplate removal and metadata.

`load_path` never raises for a bad file: every file or record it cannot use comes back as a `Skipped`
with the reason, and the good ones still load. Supported: .txt, .md, .html/.htm, .json, .jsonl.

Loading has two steps: `find_drafts` reads the files and splits JSON into records (cheap, and it tells how
many articles there are), and `Draft.finish` parses and cleans one article (the costly part), so ingest
can clean articles one window at a time while earlier ones are being embedded.
"""

from __future__ import annotations

import datetime as dt
import functools
import html
import json
import os
import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rag.chunking import sentence_spans
from rag.types import Article, Skipped

PLAIN_SUFFIXES = frozenset({".txt", ".md", ".markdown"})
HTML_SUFFIXES = frozenset({".html", ".htm"})
JSON_SUFFIXES = frozenset({".json", ".jsonl"})
SUPPORTED_SUFFIXES = PLAIN_SUFFIXES | HTML_SUFFIXES | JSON_SUFFIXES
# Inside a directory these are obviously not articles and are passed over without a word.
IGNORED_SUFFIXES = frozenset(
    {
        ".png", ".jpg", ".jpeg", ".gif", ".webp", ".svg", ".ico", ".bmp", ".tif", ".tiff", ".avif",
        ".mp3", ".mp4", ".wav", ".ogg", ".webm", ".mov", ".css", ".js", ".map", ".woff", ".woff2", ".ttf",
        ".pyc", ".sqlite3", ".db", ".lock",
    }
)  # fmt: skip
TITLE_MAX_CHARS = 90


class _Skip(Exception):
    """Internal: this file or record cannot be used; the message is the reason shown to the user."""


@dataclass(frozen=True)
class _Meta:
    """Metadata found in header lines or markup before the body."""

    title: str | None = None
    source: str | None = None
    published_at: str | None = None
    url: str | None = None


# ------------------------------------------------------------------------------------------- loading


@dataclass(frozen=True)
class Draft:
    """One article found in a file, not yet parsed and cleaned; `finish` does that."""

    path: str  # the file it came from
    where: str  # "" for a whole file, else the record ("line 3", "record 2")
    build: Callable[[], Article]

    def finish(self) -> Article | Skipped:
        """The clean Article, or why this file or record cannot be used."""
        try:
            return self.build()
        except _Skip as e:
            return Skipped(self.path, f"{self.where}: {e}" if self.where else str(e))


def load_path(path: Path, max_bytes: int = 20_000_000) -> tuple[list[Article], list[Skipped]]:
    """Load one article file, or every supported file under a directory (recursively, sorted).

    Hidden files and folders are ignored, and so are files that are obviously not articles (images,
    media, fonts) inside a directory. Returns the articles and, for everything else, why it was skipped.
    A doc_id seen twice keeps the first article and skips the later one.
    """
    path = Path(path)
    if not path.exists():
        return [], [Skipped(str(path), "does not exist")]
    articles: list[Article] = []
    skipped: list[Skipped] = []
    seen: dict[str, str] = {}
    for file in _files(path):  # file by file, so the report lists problems in file order
        drafts, bad = _file_drafts(file, max_bytes)
        skipped.extend(bad)
        for got in finish_each(drafts, seen):
            (skipped if isinstance(got, Skipped) else articles).append(got)  # type: ignore[arg-type]
    return articles, skipped


def finish_each(drafts: Iterable[Draft], seen: dict[str, str]) -> Iterator[Article | Skipped]:
    """Each draft finished, in order; an article whose doc_id is already in `seen` comes out as Skipped."""
    for draft in drafts:
        got = draft.finish()
        yield keep_first(got, seen) if isinstance(got, Article) else got


def keep_first(article: Article, seen: dict[str, str]) -> Article | Skipped:
    """`article`, or a Skipped when its doc_id is already in `seen` (doc_id -> file); records it in `seen`."""
    where = article.path or article.doc_id
    if article.doc_id in seen:
        return Skipped(
            where,
            f"duplicate id {article.doc_id!r} (already loaded from {seen[article.doc_id]}); "
            "give each article a unique id or file name",
        )
    seen[article.doc_id] = where
    return article


def find_drafts(path: Path, max_bytes: int = 20_000_000) -> tuple[list[Draft], list[Skipped]]:
    """The articles in one file or under a directory, read but not yet parsed; see `load_path`."""
    path = Path(path)
    if not path.exists():
        return [], [Skipped(str(path), "does not exist")]
    drafts: list[Draft] = []
    skipped: list[Skipped] = []
    for file in _files(path):
        found, bad = _file_drafts(file, max_bytes)
        drafts.extend(found)
        skipped.extend(bad)
    return drafts, skipped


def _files(path: Path) -> Iterator[Path]:
    """`path` itself, or the files under it that could be articles, in sorted order."""
    if not path.is_dir():
        yield path
        return
    for file in _walk(path):
        if file.suffix.lower() not in IGNORED_SUFFIXES:
            yield file


def _walk(root: Path) -> Iterator[Path]:
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if not name.startswith("."):
                yield Path(folder) / name


def load_file(path: Path, max_bytes: int = 20_000_000) -> tuple[list[Article], list[Skipped]]:
    """Load one file of any supported type; see `load_path`."""
    return load_path(path, max_bytes)


def _file_drafts(path: Path, max_bytes: int) -> tuple[list[Draft], list[Skipped]]:
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        supported = ", ".join(sorted(SUPPORTED_SUFFIXES))
        return [], [
            Skipped(str(path), f"unsupported file type {suffix or '(none)'!r}; supported: {supported}")
        ]
    try:
        raw = read_text(path, max_bytes)
        if suffix in JSON_SUFFIXES:
            return _record_drafts(path, raw)
    except _Skip as e:
        return [], [Skipped(str(path), str(e))]
    parse = (
        parse_html if suffix in HTML_SUFFIXES else functools.partial(parse_plain, markdown=suffix != ".txt")
    )
    return [Draft(str(path), "", functools.partial(parse, path.stem, raw, path=str(path)))], []


def read_text(path: Path, max_bytes: int) -> str:
    """The file's text, decoded as UTF-8 (a byte-order mark is allowed); raises _Skip with the reason."""
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise _Skip(f"file is larger than the limit ({size:,} bytes > {max_bytes:,}); raise max_file_mb")
        data = path.read_bytes()
    except OSError as e:
        raise _Skip(f"cannot be read: {e.strerror or e}") from e
    if not data.strip():
        raise _Skip("empty file")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise _Skip("not UTF-8 (UTF-16 text); re-save the file as UTF-8")
    if b"\x00" in data[:8192]:
        raise _Skip("binary file (contains NUL bytes), not text")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise _Skip(
            f"not UTF-8 text (byte 0x{data[e.start]:02x} at offset {e.start} is invalid); re-save it as UTF-8"
        ) from e
    controls = sum(1 for ch in text[:8192] if unicodedata.category(ch) == "Cc" and ch not in "\n\r\t\f")
    if controls > 0.05 * min(len(text), 8192):
        raise _Skip("binary file (mostly control characters), not text")
    return text


# ------------------------------------------------------------------------------------------- formats


_HEADER_LINE = re.compile(
    r"^(title|headline|source|outlet|publisher|site|url|link|date|published|published_at)\s*:\s*(\S.*)$", re.I
)
_LEADING_DATE = re.compile(r"^\s*date\s+(\d{4}-\d{2}-\d{2})\b[ \t]*", re.I)
_MD_HEADING = re.compile(r"^#{1,6}\s+(.*?)\s*#*\s*$")


def _header_fields(lines: list[str]) -> tuple[dict[str, str], int]:
    """`key: value` lines at the very top (or in a --- front matter block); returns fields and lines used."""
    fields: dict[str, str] = {}
    if lines and lines[0].strip() == "---":
        for end in range(1, min(len(lines), 60)):
            if lines[end].strip() == "---":
                for line in lines[1:end]:
                    m = _HEADER_LINE.match(line.strip())
                    if m:
                        fields[m.group(1).lower()] = m.group(2).strip().strip("\"'")
                return fields, end + 1
    used = 0
    for line in lines:
        m = _HEADER_LINE.match(line.strip())
        if not m:
            break
        fields[m.group(1).lower()] = m.group(2).strip()
        used += 1
    return fields, used


def _meta_from_fields(fields: dict[str, str]) -> _Meta:
    date_value = fields.get("published_at") or fields.get("published") or fields.get("date")
    return _Meta(
        title=fields.get("title") or fields.get("headline"),
        source=fields.get("source") or fields.get("outlet") or fields.get("publisher") or fields.get("site"),
        published_at=normalize_date(date_value) if date_value else None,
        url=fields.get("url") or fields.get("link"),
    )


def parse_plain(doc_id: str, raw: str, path: str | None = None, markdown: bool = False) -> Article:
    """An Article from plain text or Markdown (raises _Skip when no text is left)."""
    text = normalize_text(raw).strip("\n")
    lines = text.split("\n")
    fields, used = _header_fields(lines)
    meta = _meta_from_fields(fields)
    lines = lines[used:]
    while lines and not lines[0].strip():
        lines.pop(0)
    published = meta.published_at
    if lines:
        m = _LEADING_DATE.match(lines[0])
        if m:
            published = published or normalize_date(m.group(1))
            lines[0] = lines[0][m.end() :]
    title = meta.title
    if markdown:
        if lines and (m := _MD_HEADING.match(lines[0].strip())):
            title = title or _strip_markdown(m.group(1))
            lines = lines[1:]
        body = _strip_markdown("\n".join(lines))
    else:
        body = "\n".join(lines)
    return _finish(doc_id, body, raw, path, _Meta(title, meta.source, published, meta.url))


def parse_html(doc_id: str, raw: str, path: str | None = None) -> Article:
    """An Article from an HTML page: trafilatura finds the main text, title, site name, date and URL."""
    import trafilatura
    from trafilatura.settings import Document

    doc = trafilatura.bare_extraction(raw, with_metadata=True, include_comments=False, include_images=False)
    found: dict[str, Any] = doc.as_dict() if isinstance(doc, Document) else (doc or {})
    text = found.get("text") or ""
    if not text.strip():
        raise _Skip("no article text found in the HTML page")
    # trafilatura puts one paragraph per line
    body = "\n\n".join(line for line in text.split("\n") if line.strip())
    meta = _Meta(
        title=found.get("title") or None,
        source=found.get("sitename")
        or _title_suffix(raw)
        or sniff_outlet(_visible_text(raw))
        or found.get("hostname"),
        published_at=normalize_date(found["date"]) if found.get("date") else None,
        url=found.get("url") or None,
    )
    if meta.title and body.startswith(meta.title):
        body = body[len(meta.title) :].lstrip()
    if not any(_is_sentence_like(line) for line in body.split("\n")):
        # a page of links or a bare menu: trafilatura found no running text
        raise _Skip("no article text found in the HTML page")
    return _finish(doc_id, body, raw, path, meta)


def _title_suffix(raw: str) -> str | None:
    """The site name after the headline in an HTML <title> ("Headline | The Observer"), else None."""
    m = re.search(r"<title[^>]*>(.*?)</title>", raw, re.I | re.S)
    if not m:
        return None
    parts = re.split(r"\s+[|–—-]\s+", html.unescape(" ".join(m.group(1).split())))
    last = parts[-1].strip() if len(parts) >= 2 else ""
    return last if 1 <= len(last.split()) <= 5 and last[:1].isupper() else None


def _visible_text(raw: str) -> str:
    """An HTML page's text, one element per line (for outlet sniffing; not the article text)."""
    without = re.sub(r"<(script|style)\b.*?</\1>", " ", raw, flags=re.I | re.S)
    return html.unescape(re.sub(r"<[^>]+>", "\n", without))


def _record_drafts(path: Path, raw: str) -> tuple[list[Draft], list[Skipped]]:
    """Records of a .json file (one object or a list of objects) or a .jsonl file (one per line)."""
    records: list[tuple[str, int, Any]] = []  # (where, number, value); number is the line or position
    skipped: list[Skipped] = []
    if path.suffix.lower() == ".jsonl":
        for number, line in enumerate(raw.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                records.append((f"line {number}", number, json.loads(line)))
            except json.JSONDecodeError as e:
                skipped.append(Skipped(str(path), f"line {number} is not valid JSON ({e.msg})"))
    else:
        try:
            data = json.loads(raw)
        except json.JSONDecodeError as e:
            raise _Skip(f"not valid JSON ({e.msg} at line {e.lineno}, column {e.colno})") from e
        if not isinstance(data, list):  # one article: its file stem is its id, as for a .txt or .md file
            return [Draft(str(path), "", functools.partial(parse_record, data, path.stem, str(path)))], []
        records = [(f"record {n}", n, item) for n, item in enumerate(data, start=1)]
    drafts = [
        Draft(str(path), where, functools.partial(parse_record, record, f"{path.stem}-{n}", str(path)))
        for where, n, record in records
    ]
    return drafts, skipped


def parse_record(record: Any, default_id: str, path: str | None = None) -> Article:
    """An Article from a JSON record: its text under `body`, `text` or `content`; `id` (or `doc_id`), and the
    same metadata keys as a text file's header (title/headline, source/outlet/publisher/site,
    published_at/published/date, url/link).

    Without an id the article gets `default_id`: the file stem for a .json file holding one object, else
    "<file stem>-<line or position>".
    """
    if not isinstance(record, dict):
        raise _Skip(f"expected a JSON object, got {type(record).__name__}")
    body = next((record[k] for k in ("body", "text", "content") if record.get(k) is not None), None)
    if not isinstance(body, str) or not body.strip():
        raise _Skip("record has no 'body' (or 'text' or 'content') with article text")
    doc_id = next((record[k] for k in ("id", "doc_id") if record.get(k) is not None), None)
    doc_id = str(doc_id).strip() if isinstance(doc_id, str | int) and str(doc_id).strip() else default_id
    fields = {
        k.lower(): str(v).strip() for k, v in record.items() if isinstance(v, str | int) and str(v).strip()
    }
    return _finish(doc_id, normalize_text(body), body, path, _meta_from_fields(fields))


def _opt_str(value: Any) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


def _finish(doc_id: str, body: str, raw: str, path: str | None, meta: _Meta) -> Article:
    """Clean the body and fill in whatever metadata the file did not state."""
    text = clean_text(body)
    if not text:
        raise _Skip("no article text left after removing boilerplate")
    title = (meta.title or "").strip() or derive_title(text)
    source = meta.source or sniff_outlet(raw) or (Path(path).name if path else doc_id)
    published = meta.published_at or stamped_date(raw) or find_date(text)
    return Article(
        doc_id=doc_id,
        title=" ".join(normalize_text(title).split()),
        source=" ".join(normalize_text(source).split()),
        published_at=published,
        url=meta.url,
        text=text,
        path=path,
    )


_MD_IMAGE = re.compile(r"!\[[^\]]*\]\([^)]*\)")
_MD_LINK = re.compile(r"\[([^\]]+)\]\([^)]*\)")
_MD_EMPHASIS = re.compile(r"(\*\*|__|\*|_)(?=\S)(.+?)(?<=\S)\1")


def _strip_markdown(text: str) -> str:
    """Markdown to plain text, lightly: headings, images, links and emphasis markers."""
    out = []
    for line in text.split("\n"):
        m = _MD_HEADING.match(line.strip())
        line = m.group(1) if m else line
        line = _MD_IMAGE.sub("", line)
        line = _MD_LINK.sub(r"\1", line)
        line = _MD_EMPHASIS.sub(r"\2", line)
        out.append(line)
    return "\n".join(out)


# ------------------------------------------------------------------------------------------- titles


def derive_title(text: str, limit: int = TITLE_MAX_CHARS) -> str:
    """A title for an article that states none: its first line when that is a headline, else its first
    sentence, shortened to at most `limit` characters at a word boundary with "…"."""
    first_line = text.split("\n", 1)[0].strip()
    if _looks_like_headline(first_line):
        return shorten(first_line, limit)
    spans = sentence_spans(text)
    first = text[spans[0][0] : spans[0][1]] if spans else first_line
    if first.endswith(".") and not first.endswith(".."):
        first = first[:-1]  # a title carries no full stop
    return shorten(first, limit)


def _looks_like_headline(line: str) -> bool:
    words = line.split()
    return 3 <= len(words) <= 20 and not line.endswith((".", ":", ",", ";")) and not line.isupper()


def shorten(text: str, limit: int = TITLE_MAX_CHARS) -> str:
    """`text` on one line, cut at a word boundary to at most `limit` characters (ending in "…" if cut)."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    if " " in cut and not text[limit - 1].isspace():
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip(" ,;:–—-") + "…"


# ------------------------------------------------------------------------------------------- dates

_MONTHS = {
    name: number
    for number, names in enumerate(
        [
            ("january", "jan"), ("february", "feb"), ("march", "mar"), ("april", "apr"), ("may",),
            ("june", "jun"), ("july", "jul"), ("august", "aug"), ("september", "sep", "sept"),
            ("october", "oct"), ("november", "nov"), ("december", "dec"),
        ],
        start=1,
    )
    for name in names
}  # fmt: skip
_MONTH = r"(?P<month>" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\.?"
_DAY = r"(?P<day>\d{1,2})(?:st|nd|rd|th)?"
_YEAR = r"(?P<year>(?:19|20)\d{2})"
_DATE_PATTERNS = [
    re.compile(r"(?<!\d)(?P<year>(?:19|20)\d{2})[-/.](?P<month>\d{1,2})[-/.](?P<day>\d{1,2})(?!\d)"),
    re.compile(rf"\b{_MONTH}\s+{_DAY},?\s+{_YEAR}\b", re.I),
    re.compile(rf"\b{_DAY}(?:\s+of)?\s+{_MONTH},?\s+{_YEAR}\b", re.I),
    # numeric day/month/year, only when the order is unambiguous (one part above 12)
    re.compile(r"(?<![\d/.-])(?P<a>\d{1,2})[/.](?P<b>\d{1,2})[/.](?P<year>(?:19|20)\d{2})(?![\d/.-])"),
]


def _to_iso(year: int, month: int, day: int) -> str | None:
    try:
        return dt.date(year, month, day).isoformat()
    except ValueError:
        return None


def _match_to_iso(m: re.Match[str]) -> str | None:
    groups = m.groupdict()
    year = int(groups["year"])
    if "a" in groups:
        a, b = int(groups["a"]), int(groups["b"])
        if a > 12 >= b:
            return _to_iso(year, b, a)
        if b > 12 >= a:
            return _to_iso(year, a, b)
        return None  # 04/05/2025: day and month cannot be told apart
    month = groups["month"]
    number = int(month) if month.isdigit() else _MONTHS[month.lower().rstrip(".")]
    return _to_iso(year, number, int(groups["day"]))


def find_date(text: str) -> str | None:
    """The first full calendar date written in `text`, as "YYYY-MM-DD", or None.

    Understands 2025-04-17, April 17, 2025 / Apr. 17th 2025, 17 April 2025 / 17th of April, 2025 and
    numeric 17/04/2025 when the day is above 12. Dates without a year, and impossible dates, are ignored.
    """
    best: tuple[int, str] | None = None
    for pattern in _DATE_PATTERNS:
        for m in pattern.finditer(text):
            if best is not None and m.start() >= best[0]:
                break
            iso = _match_to_iso(m)
            if iso:
                best = (m.start(), iso)
                break
    return best[1] if best else None


def stamped_date(raw: str) -> str | None:
    """The date of the first "Published: ..." / "Updated on ..." line of `raw`, else of a byline near the
    top ("By Jane Doe, The Gazette — 12 March 2026"), or None."""
    for m in _STAMP_LINE.finditer(raw):
        found = find_date(m.group("rest"))
        if found:
            return found
    for m in _BYLINE.finditer(raw[:3000]):
        start = m.start() + len(m.group(0)) - len(m.group(0).lstrip())  # `^\s*` may start on a blank line
        line_end = raw.find("\n", start)
        found = find_date(raw[start : line_end if line_end >= 0 else len(raw)])
        if found:
            return found
    return None


def normalize_date(value: str) -> str | None:
    """An ISO date from a date or timestamp string ("2025-04-17T10:00:00Z", "April 17, 2025"), or None."""
    value = value.strip()
    try:
        return dt.datetime.fromisoformat(value.replace("Z", "+00:00")).date().isoformat()
    except ValueError:
        pass
    m = re.match(r"^\s*(\d{4})-(\d{2})-(\d{2})", value)
    if m:
        return _to_iso(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    return find_date(value)


# ------------------------------------------------------------------------------------------- outlet

_OUTLET_HEADER = re.compile(r"^\s*(?:source|outlet|publisher|site)\s*:\s*(\S.{0,80}?)\s*$", re.I | re.M)
_COPYRIGHT = re.compile(
    r"^\s*(?:copyright\s*(?:©|\(c\))|copyright(?=\s+(?:19|20)\d{2})|©)\s*"
    r"(?:(?:19|20)\d{2}\s*(?:[-–—]\s*(?:19|20)\d{2})?\s*,?\s*)?"
    r"(?P<name>[^\n]{2,80}?)\s*(?:[.,|]?\s*all rights reserved\.?)?\s*$",
    re.I | re.M,
)
_PROPER_NAME = re.compile(r"\bThe(?: [A-Z][\w&'-]+){1,3}\b")


# "AUSTIN, Texas, Sept 8 (Continental Wire) - ...", "LONDON (Reuters) — ..."
_DATELINE = re.compile(
    r"^[A-Z][A-Z .'’-]+(?:,[^()\n]{0,40})?\s\((?P<name>[A-Z][\w&.'’ -]{1,40}?)\)\s*[-—–]\s", re.M
)
# "By Tobias Renner, Sarn Valley Gazette — Thursday, 12 March 2026"
_BYLINE = re.compile(
    r"^\s*By\s+[A-Z][\w.'’-]+(?:\s+(?:[A-Z][\w.'’-]+|de|van|von|der|da|di|le|la)){0,4}\s*(?:,\s*"
    r"(?P<name>[A-Z][\w&'’ .-]{2,60}?))?\s*(?:[—–|]|\s-\s|$)",
    re.M,
)
_ROLE_WORDS = re.compile(
    r"\b(?:editor|correspondent|reporter|writer|staff|chief|senior|columnist|analyst|contributor|bureau|desk|"
    r"political|business|economics|technology|science|health|affairs|in|at|and)\b",
    re.I,
)


def sniff_outlet(raw: str) -> str | None:
    """The outlet that published `raw`, when the text says so, else None.

    Looks for (in order) a `source:`/`outlet:`/`publisher:` header line, a "Copyright © 2014-2025 NAME"
    line, a wire dateline ("PARIS, April 17 (Reuters) - ..."), a byline naming the outlet ("By Jane Doe,
    The Gazette — ..."; not a job title), and a name repeated inside the outlet's own appeal for support
    ("The Independent is ...").
    """
    m = _OUTLET_HEADER.search(raw)
    if m:
        return m.group(1).strip()
    for m in _COPYRIGHT.finditer(raw):
        name = m.group("name").strip(" .,-–—|")
        if name and not name[0].isdigit() and len(name.split()) <= 10:
            return name
    head = raw[:3000]
    m = _DATELINE.search(head)
    if m:
        return m.group("name").strip()
    for m in _BYLINE.finditer(head):
        name = (m.group("name") or "").strip(" .")
        if name and len(name.split()) <= 6 and not _ROLE_WORDS.search(name):
            return name
    for paragraph in re.split(r"\n\s*\n", raw):
        if _boilerplate_score(paragraph) >= 6:
            names = Counter(_PROPER_NAME.findall(paragraph))
            if names:
                name, count = names.most_common(1)[0]
                if count >= 2:
                    return name
    return None


# ------------------------------------------------------------------------------------------- cleaning


@functools.cache
def _char_table() -> dict[int, str | None]:
    """str.translate table: drop format (zero-width, bidi, soft hyphen) and control characters except
    newline; every other kind of space becomes " "."""
    table: dict[int, str | None] = {}
    # the Basic Multilingual Plane plus the tag characters hold every such character that occurs in text
    for code in (*range(0x10000), *range(0xE0000, 0xE0080)):
        category = unicodedata.category(chr(code))
        if (category == "Zs" and code != 0x20) or code == 0x09:
            table[code] = " "
        elif category in ("Cc", "Cf") and code != 0x0A:
            table[code] = None
    return table


@functools.cache
def _char_pattern() -> re.Pattern[str]:
    """Any character `_char_table` changes, as a class of ~20 ranges: searching non-ASCII text for one is
    ~8x cheaper than translating every character, and most text has none."""
    ranges: list[list[int]] = []
    for code in sorted(_char_table()):
        if ranges and ranges[-1][1] == code - 1:
            ranges[-1][1] = code
        else:
            ranges.append([code, code])
    parts = (re.escape(chr(a)) + (f"-{re.escape(chr(b))}" if b > a else "") for a, b in ranges)
    return re.compile("[" + "".join(parts) + "]")


def normalize_text(raw: str) -> str:
    """NFC, "\n" newlines, no zero-width or control characters, and every space character a plain " "."""
    text = unicodedata.normalize("NFC", raw)
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\u2029", "\n\n").replace("\u2028", "\n")
    return text.translate(_char_table()) if _char_pattern().search(text) else text


# Signals of site furniture rather than reporting. Strong ones are phrases a site says to its reader and
# reporting hardly ever contains; weak ones are words that news can be about too (cookies, subscriptions).
# They are matched against lower-cased text (about twice as fast as a case-insensitive pattern).
_STRONG = re.compile(
    r"(?<!\w)(?:your support|support (?:us|now|our journalism|independent)|read more|click here|tap here|"
    r"follow us|share (?:this|on)|sign[ -]?up (?:for|to|now)|subscribe (?:to|now|today|for)|"
    r"related (?:articles?|stories|posts|content|news)|leave a (?:comment|reply)|no comments|\d+ comments?|"
    r"comments? \(\d+\)|back to top|skip to (?:main )?content|all rights reserved|enter your e-?mail|"
    r"e-?mail address|privacy policy|terms of (?:use|service)|\d+ min(?:ute)?s? read|log ?in|sign ?in|"
    r"download (?:our|the) app|most (?:read|popular)|you may also like|recommended for you|"
    r"readers like you|quality journalism|independent journalism|(?:in|to|into) your inbox)(?!\w)|©"
)
_WEAK = re.compile(
    r"\b(?:subscribe|subscription|subscribers?|newsletters?|donat(?:e|es|ion|ions|ing)|cookies?|paywalls?|"
    r"advertisement|sponsored|copyright|journalism|trusted by|more from|support)\b"
)
# "Published: 10:32 BST, 17 April 2025 | Updated: ..." lines: the page's own date stamp.
_STAMP_LINE = re.compile(
    r"^\s*(?:first\s+)?(?:published|posted|updated|last updated)(?:\s+on)?\s*:?\s+(?P<rest>\S.{3,100})$",
    re.I | re.M,
)
_COPYRIGHT_LINE = re.compile(r"^\s*(?:©|copyright\s*(?:©|\(c\)|(?:19|20)\d{2}))", re.I)


def _boilerplate_score(text: str) -> int:
    """Two points per strong furniture phrase, one per weak word."""
    lowered = text.lower()
    return 2 * len(_STRONG.findall(lowered)) + len(_WEAK.findall(lowered))


# Markers after which a page holds only furniture (related links, comments, footer).
_FOOTER = re.compile(
    r"^(?:related (?:articles?|stories|posts|content|news)|leave a (?:comment|reply)|\d+ comments?|"
    r"comments?(?: \(\d+\))?|back to top|you may also like|more from .{1,40}|recommended(?: for you)?|"
    r"most (?:read|popular|viewed|shared)|trending(?: now)?|read next|more stories|top stories|"
    r"about the author|share this(?: article| story)?|copyright\s*(?:©|\(c\)|(?:19|20)\d{2}).*|©.*|"
    r"all rights reserved\.?)$",
    re.I,
)
_CREDIT = re.compile(
    r"\((?:image|photo|picture|video|graphic)?\s*(?:credit|courtesy|source)s?\s*:[^)]*\)|"
    r"\b(?:image|photo|picture) credit\b|\bphoto(?:graph)?\s*:\s|\bcredit\s*:\s|\bgetty images\b|"
    r"\b(?:afp|ap|reuters|epa|bloomberg) (?:photo|via getty)\b|\(photo by [^)]*\)"
)  # on lower-cased text
_LINKLIKE = re.compile(r"https?://\S+|www\.\S+|\S+@\S+\.\w+|(?<!\w)@\w+|#\w+")
_SENTENCE_END = re.compile(r"[.!?…][\"'”’)\]]*$")
_SECOND_PERSON = re.compile(r"\b(?:you|your|yours|we|us|our)\b")  # on lower-cased text


def _is_sentence_like(line: str) -> bool:
    return len(line.split()) >= 6 and bool(_SENTENCE_END.search(line))


def is_boilerplate(line: str) -> bool:
    """Whether one line (a paragraph without line breaks) is site furniture rather than reporting.

    A short line without sentence punctuation goes with one strong signal ("Related Articles",
    "5 minute read", "Enter your email address:") or two weak ones; a sentence needs more signals and the
    site's voice ("you", "our"), as in donation and newsletter appeals; any line that is mostly links goes.
    """
    words = line.split()
    if not words or _FOOTER.match(line.rstrip(":")) or _COPYRIGHT_LINE.match(line) and len(words) <= 30:
        return True
    links = len(_LINKLIKE.findall(line)) if any(c in line for c in ("@", "#", "http", "www.")) else 0
    if links and links >= 0.3 * len(words):
        return True
    if _STAMP_LINE.match(line) and find_date(line) and not _is_sentence_like(line):
        return True
    if len(words) <= 20 and _BYLINE.match(line) and not _is_sentence_like(line):
        return True  # "By Jane Doe, Political Editor | 12 March 2026"
    if not _is_sentence_like(line) and len(words) <= 25:
        score = _boilerplate_score(line)
        return score >= 2 or (score >= 1 and len(words) <= 2)  # "Advertisement", "Sponsored"
    # a sentence: cheapest test first (most reporting has no furniture phrase at all)
    if len(words) <= 40:
        return bool(_SECOND_PERSON.search(line.lower())) and _boilerplate_score(line) >= 3
    score = _boilerplate_score(line)
    return score >= 6 or (score >= 4 and len(_SECOND_PERSON.findall(line.lower())) >= 3)


def is_caption(line: str) -> bool:
    """Whether a line is an image caption or credit ("... (Image Credit: Reuters)", "Photo: AFP")."""
    return bool(_CREDIT.search(line.lower())) and len(line.split()) <= 80


def _word_set(text: str) -> set[str]:
    return {w.lower().replace("’", "'") for w in re.findall(r"[\w’']+", text)}


def _is_alt_text(line: str, caption: str) -> bool:
    """A short, unpunctuated line whose words all but repeat the caption that follows it."""
    words = _word_set(line)
    if not words or len(line.split()) > 20 or _SENTENCE_END.search(line):
        return False
    return len(words & _word_set(caption)) >= 0.6 * len(words)


def _lines(text: str) -> list[list[str]]:
    """Paragraphs as lists of lines; a line that starts in lower case continues the previous one."""
    paragraphs = []
    for block in re.split(r"\n\s*\n", text):
        lines: list[str] = []
        for line in block.split("\n"):
            line = " ".join(line.split())
            if not line:
                continue
            if lines and line[0].islower() and not _SENTENCE_END.search(lines[-1]):
                lines[-1] = f"{lines[-1]} {line}"
            else:
                lines.append(line)
        if lines:
            paragraphs.append(lines)
    return paragraphs


def _footer_start(flat: list[tuple[int, str]]) -> int | None:
    """Index (into `flat`) of a footer marker in the second half after which little reporting follows."""
    total = sum(len(line) for _, line in flat) or 1
    seen = 0
    for i, (_, line) in enumerate(flat):
        if seen >= total / 2 and _FOOTER.match(line.rstrip(":")):
            before = sum(len(text) for _, text in flat[:i] if _is_sentence_like(text))
            after = sum(len(text) for _, text in flat[i:] if _is_sentence_like(text))
            if after <= before / 2:
                return i
        seen += len(line)
    return None


def clean_text(raw: str) -> str:
    """The reporting in `raw` without site furniture, as paragraphs separated by "\\n\\n".

    Drops donation, subscription and newsletter appeals, navigation and comment prompts, copyright lines,
    image captions with credits (and the alt text repeated before them), a footer after an end marker
    such as "Related Articles", and repeated paragraphs. Normalises Unicode (NFC, no zero-width or control
    characters) and whitespace; lines within a paragraph stay on their own lines.
    """
    paragraphs = _lines(normalize_text(raw))
    flat = [(p, line) for p, lines in enumerate(paragraphs) for line in lines]
    footer = _footer_start(flat)
    if footer is not None:
        flat = flat[:footer]
    drop = set()
    for i, (_, line) in enumerate(flat):
        if is_caption(line):
            drop.add(i)
            if i > 0 and _is_alt_text(flat[i - 1][1], line):
                drop.add(i - 1)
        elif is_boilerplate(line):
            drop.add(i)
    kept: list[list[str]] = []
    last_paragraph = -1
    for i, (p, line) in enumerate(flat):
        if i in drop:
            continue
        if p != last_paragraph:
            kept.append([])
            last_paragraph = p
        kept[-1].append(line)
    out: list[str] = []
    for lines in kept:
        paragraph = "\n".join(lines)
        if not out or out[-1] != paragraph:
            out.append(paragraph)
    return "\n\n".join(out)
