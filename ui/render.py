"""Pure rendering: answers, evidence cards and tables as Markdown/HTML strings.

Everything that came from an article or a model passes through `html.escape` (and, for Markdown, a
backslash escape of Markdown syntax) before it reaches the page: an article holding `<img onerror=...>`
must show up as text. Only the markup written here is live HTML.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterable, Mapping, Sequence

from rag import Answer, ArticleInfo, Evidence, Passage

EXCERPT_CONTEXT_CHARS = 160
"""Characters of surrounding text shown on each side of the supporting sentence in a card."""

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~>$])")
_ESCAPED_MARKER = re.compile(r"\\\[(\d+)\\\]")


def esc(text: object) -> str:
    """HTML-escape any value (quotes included, so it is safe inside attributes too)."""
    return html.escape("" if text is None else str(text), quote=True)


def md_escape(text: str) -> str:
    """Make untrusted text render literally in Markdown: no HTML, links, images, emphasis or math."""
    return _MD_SPECIAL.sub(r"\\\1", html.escape(text, quote=False))


def format_ms(ms: float) -> str:
    return f"{ms:.0f} ms" if ms < 1000 else f"{ms / 1000:.1f} s"


def timing_line(timings_ms: Mapping[str, float]) -> str:
    """'retrieve 120 ms · generate 3.4 s', in the pipeline's own step order; empty when there are none."""
    return " · ".join(f"{esc(step)} {format_ms(ms)}" for step, ms in timings_ms.items())


def link_markers(escaped_markdown: str, known: Iterable[int]) -> str:
    """Turn escaped `\\[n\\]` markers into links to card `#cite-n`; unknown numbers stay plain text."""
    numbers = set(known)

    def repl(m: re.Match[str]) -> str:
        n = int(m.group(1))
        if n not in numbers:
            return m.group(0)
        return f"[\\[{n}\\]](#cite-{n})"

    return _ESCAPED_MARKER.sub(repl, escaped_markdown)


def answer_markdown(answer: Answer) -> str:
    """The chat message for a final answer: escaped text, linked markers, unsupported sentences, timings and
    the day its dates were read as of."""
    known = [e.n for e in answer.evidence]
    text = answer.text
    body = _mark_unsupported(text, answer.unsupported_sentences, known)
    parts = []
    if answer.notice:
        parts.append(f"**Note:** {md_escape(answer.notice)}")
    parts.append(body)
    if answer.abstained and answer.evidence:
        parts.append("*The closest passages are shown under Sources.*")
    # only sentences still in the text count: a fallback to the evidence drops the model's draft
    shown = [s for s in answer.unsupported_sentences if s and s in text]
    if shown:
        n = len(shown)
        parts.append(f"⚠ *{n} sentence{'s' if n != 1 else ''} not supported by the cited articles.*")
    timing = timing_line(answer.timings_ms)
    note = answer.date_context.note if answer.date_context else None
    line = " · ".join(x for x in (f"Timing: {timing}" if timing else "", md_escape(note or "")) if x)
    if line:
        parts.append(f"<sub>{line}</sub>")
    return "\n\n".join(parts)


def draft_markdown(draft: str, known: Iterable[int]) -> str:
    """The chat message while the model is still writing."""
    return link_markers(md_escape(draft.rstrip()), known) + " ▍"


def _mark_unsupported(text: str, unsupported: Sequence[str], known: Iterable[int]) -> str:
    """Escape `text` and wrap each unsupported sentence (found verbatim) in a visible marker."""
    pieces: list[tuple[str, bool]] = []
    rest = text
    for sentence in unsupported:
        i = rest.find(sentence) if sentence else -1
        if i < 0:
            continue
        pieces.append((rest[:i], False))
        pieces.append((sentence, True))
        rest = rest[i + len(sentence) :]
    pieces.append((rest, False))
    known = list(known)
    out = []
    for piece, bad in pieces:
        rendered = link_markers(md_escape(piece), known)
        out.append(f"~~{rendered}~~ *(unsupported)*" if bad and piece.strip() else rendered)
    return "".join(out)


def highlight(text: str, start: int, end: int) -> str:
    """Escaped `text` with `text[start:end]` inside <mark>; out-of-range spans leave it unmarked."""
    if not 0 <= start < end <= len(text):
        return esc(text)
    return f"{esc(text[:start])}<mark class='nr-span'>{esc(text[start:end])}</mark>{esc(text[end:])}"


def excerpt(evidence: Evidence, passages: Sequence[Passage]) -> str:
    """A short escaped excerpt around the evidence sentence, the sentence itself highlighted."""
    span = evidence.primary
    context, start = "", -1
    passage = next((p for p in passages if p.chunk_id == span.chunk_id), None)
    if passage is not None:
        offset = span.start - passage.start
        if offset >= 0 and passage.text[offset : offset + (span.end - span.start)] == evidence.text:
            context, start = passage.text, offset
    if start < 0 and evidence.context:
        context, start = evidence.context, evidence.context.find(evidence.text)
    if start < 0:
        return f"<mark class='nr-span'>{esc(evidence.text)}</mark>"
    end = start + len(evidence.text)
    lo = _word_boundary(context, max(0, start - EXCERPT_CONTEXT_CHARS), forward=True)
    hi = _word_boundary(context, min(len(context), end + EXCERPT_CONTEXT_CHARS), forward=False)
    lo, hi = min(lo, start), max(hi, end)
    before = ("… " if lo > 0 else "") + esc(context[lo:start])
    after = esc(context[end:hi]) + (" …" if hi < len(context) else "")
    return f"{before}<mark class='nr-span'>{esc(context[start:end])}</mark>{after}"


def _word_boundary(text: str, i: int, forward: bool) -> int:
    if i <= 0 or i >= len(text):
        return i
    j = text.find(" ", i) if forward else text.rfind(" ", 0, i)
    return i if j < 0 else (j + 1 if forward else j)


def evidence_card(
    evidence: Evidence,
    passages: Sequence[Passage],
    article_text: Callable[[str], str | None],
    cited: bool,
) -> str:
    """One source card; its element id `cite-n` is the target of the answer's `[n]` links."""
    span = evidence.primary
    outlets = evidence.outlets
    meta = [f"<span class='nr-outlet'>{esc(span.source)}</span>"]
    meta.append(f"<span class='nr-date'>{esc(span.published_at or 'undated')}</span>")
    meta.append(
        f"<span class='nr-score' title='sentence relevance, 0-1, higher is better'>"
        f"relevance {evidence.score:.2f}</span>"
    )
    if len(outlets) > 1:
        meta.append(f"<span class='nr-corroborated'>reported by {len(outlets)} sources</span>")
    if cited:
        meta.append("<span class='nr-cited'>cited</span>")
    also = ""
    if len(evidence.spans) > 1:
        others = "; ".join(
            f"{esc(s.source)} ({esc(s.published_at or 'undated')}): {esc(s.title)}"
            for s in evidence.spans[1:]
        )
        also = f"<div class='nr-also'>Also in: {others}</div>"
    full = article_text(span.doc_id)
    if full is None:
        body = "<p class='nr-missing'>The full article is no longer in the store.</p>"
    else:
        body = f"<div class='nr-full'>{highlight(full, span.start, span.end)}</div>"
    title = span.title or span.doc_id
    link = (
        f" <a class='nr-url' href='{esc(span.url)}' target='_blank' rel='noopener noreferrer'>↗</a>"
        if _safe_url(span.url)
        else ""
    )
    return (
        f"<div class='nr-card{' nr-card-cited' if cited else ''}' id='cite-{evidence.n}' "
        f"data-n='{evidence.n}'>"
        f"<div class='nr-card-head'><span class='nr-num'>[{evidence.n}]</span> "
        f"<span class='nr-title'>{esc(title)}</span>{link}</div>"
        f"<div class='nr-meta'>{' · '.join(meta)}</div>"
        f"<blockquote class='nr-excerpt'>{excerpt(evidence, passages)}</blockquote>"
        f"{also}"
        f"<details class='nr-details'><summary>Full article</summary>{body}</details>"
        f"</div>"
    )


def _safe_url(url: str | None) -> bool:
    return bool(url) and str(url).lower().startswith(("http://", "https://"))


def sources_panel(
    evidence: Sequence[Evidence],
    passages: Sequence[Passage],
    article_text: Callable[[str], str | None],
    *,
    abstained: bool = False,
    cited: Iterable[int] = (),
    status: str = "",
) -> str:
    """The sources column: a heading, an optional status line and one card per evidence sentence."""
    cited_set = set(cited)
    texts: dict[str, str | None] = {}

    def cached_text(doc_id: str) -> str | None:
        if doc_id not in texts:
            texts[doc_id] = article_text(doc_id)
        return texts[doc_id]

    heading = "Closest passages — the articles do not answer this" if abstained else "Sources"
    parts = [f"<div class='nr-sources'><h3 class='nr-heading'>{heading}</h3>"]
    if status:
        parts.append(f"<p class='nr-status'>{esc(status)}</p>")
    if not evidence:
        parts.append("<p class='nr-empty'>No passages found.</p>")
    for e in evidence:
        parts.append(evidence_card(e, passages, cached_text, cited=e.n in cited_set))
    parts.append("</div>")
    return "".join(parts)


def placeholder_panel(message: str = "Ask a question: the passages it rests on appear here.") -> str:
    return (
        "<div class='nr-sources'><h3 class='nr-heading'>Sources</h3>"
        f"<p class='nr-empty'>{esc(message)}</p></div>"
    )


def articles_table(articles: Sequence[ArticleInfo]) -> str:
    """The Articles tab: every stored article, newest first, all fields escaped."""
    if not articles:
        return "<p class='nr-empty'>The store is empty. Add article files below.</p>"
    rows = sorted(articles, key=lambda a: (a.published_at or "", a.title), reverse=True)
    body = "".join(
        f"<tr><td>{esc(a.title)}</td><td>{esc(a.source)}</td><td>{esc(a.published_at or '')}</td>"
        f"<td class='nr-num-cell'>{a.chunks}</td></tr>"
        for a in rows
    )
    total = sum(a.chunks for a in articles)
    return (
        f"<p>{len(articles)} article{'s' if len(articles) != 1 else ''}, {total} chunks.</p>"
        "<table class='nr-articles'><thead><tr><th>Title</th><th>Outlet</th><th>Date</th><th>Chunks</th>"
        f"</tr></thead><tbody>{body}</tbody></table>"
    )
