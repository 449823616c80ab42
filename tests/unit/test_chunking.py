"""Sentence spans and token-bounded chunks: pure logic, exact assertions, the real cl100k_base encoding."""

from __future__ import annotations

import itertools
import re
import time
from pathlib import Path

import pytest

from rag.chunking import chunk_article, chunk_id, embed_header, embed_text, get_encoding, sentence_spans
from rag.errors import ConfigError
from rag.types import Article

SEEDS = sorted((Path(__file__).parents[2] / "data" / "articles").glob("*.txt"))


@pytest.fixture(scope="module")
def enc():
    return get_encoding("cl100k_base")


def sentences(text: str) -> list[str]:
    return [text[a:b] for a, b in sentence_spans(text)]


def article(text: str, doc_id: str = "doc", title: str = "Title", source: str = "Outlet") -> Article:
    return Article(doc_id=doc_id, title=title, source=source, published_at="2025-04-17", url=None, text=text)


# ------------------------------------------------------------------------------------------- sentences


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("One. Two! Three? Four", ["One.", "Two!", "Three?", "Four"]),
        ("Mr. Lammy met Dr. Brown. They spoke.", ["Mr. Lammy met Dr. Brown.", "They spoke."]),
        (
            "Mrs. Smith and Ms. Jones left. Prof. Lee stayed.",
            ["Mrs. Smith and Ms. Jones left.", "Prof. Lee stayed."],
        ),
        ("He lives on Baker St. in London. It rains.", ["He lives on Baker St. in London.", "It rains."]),
        ("Talks were held in St. Petersburg on Friday.", ["Talks were held in St. Petersburg on Friday."]),
        ("Sen. Warren and Gen. Milley spoke.", ["Sen. Warren and Gen. Milley spoke."]),
        (
            "“S.V. Lavrov confirmed Moscow’s readiness,” the ministry said. Next.",
            ["“S.V. Lavrov confirmed Moscow’s readiness,” the ministry said.", "Next."],
        ),
        ("J. K. Rowling wrote it. She is British.", ["J. K. Rowling wrote it.", "She is British."]),
        ("The U.S. Secretary of State arrived.", ["The U.S. Secretary of State arrived."]),
        ("Troops left the U.S. The war ended.", ["Troops left the U.S.", "The war ended."]),
        ("He met U.K. officials in Paris.", ["He met U.K. officials in Paris."]),
        (
            "It grew 3.5 per cent to $1.2 billion. Shares fell.",
            ["It grew 3.5 per cent to $1.2 billion.", "Shares fell."],
        ),
        (
            "Some cities, e.g. Paris and Rome, agreed. Others did not.",
            ["Some cities, e.g. Paris and Rome, agreed.", "Others did not."],
        ),
        (
            "Big cities, i.e. London, grew. Small ones shrank.",
            ["Big cities, i.e. London, grew.", "Small ones shrank."],
        ),
        (
            "He lives at No. 10 Downing Street. It is old.",
            ["He lives at No. 10 Downing Street.", "It is old."],
        ),
        ("It opened on Jan. 5 2024. Crowds came.", ["It opened on Jan. 5 2024.", "Crowds came."]),
        ("Apple Inc. said so. Sales rose.", ["Apple Inc. said so.", "Sales rose."]),
        (
            "The meeting starts at 9 a.m. The minister will speak.",
            ["The meeting starts at 9 a.m.", "The minister will speak."],
        ),
        (
            "He said: “Unity is our strength.” Then he left.",
            ["He said: “Unity is our strength.”", "Then he left."],
        ),
        ('"Is it over?" he asked. Nobody knew.', ['"Is it over?" he asked.', "Nobody knew."]),
        ("“Stop!” she shouted. They stopped.", ["“Stop!” she shouted.", "They stopped."]),
        (
            "We must press the killers... to end this war. Peace.",
            ["We must press the killers... to end this war.", "Peace."],
        ),
        (
            "The deal was struck (after long talks.) Then it collapsed.",
            ["The deal was struck (after long talks.)", "Then it collapsed."],
        ),
        ("Wait… What happened? Nobody said.", ["Wait…", "What happened?", "Nobody said."]),
        ("In 2024. 35 people died.", ["In 2024.", "35 people died."]),
        ("Visit example.com for details. Thanks.", ["Visit example.com for details.", "Thanks."]),
        ("The U.S.-led coalition met. It agreed.", ["The U.S.-led coalition met.", "It agreed."]),
        ("1. Ceasefire talks resume.\n2. Aid arrives.", ["1. Ceasefire talks resume.", "2. Aid arrives."]),
        ("He won in 2024. 12 people voted.", ["He won in 2024.", "12 people voted."]),
        ('He said, "It is over." "We won," she added.', ['He said, "It is over."', '"We won," she added.']),
        ("Ask Mr.", ["Ask Mr."]),
        ("Troops left the U.S.", ["Troops left the U.S."]),
        ("It ended (finally). Then peace.", ["It ended (finally).", "Then peace."]),
    ],
)
def test_sentence_spans_splits_like_a_reader(text: str, expected: list[str]) -> None:
    assert sentences(text) == expected


def test_paragraph_breaks_always_end_a_sentence() -> None:
    text = "A headline without a full stop\n\nthe body starts in lower case. It goes on\n\n\n  Last line"
    assert sentences(text) == [
        "A headline without a full stop",
        "the body starts in lower case.",
        "It goes on",
        "Last line",
    ]


def test_line_breaks_end_headlines_but_join_wrapped_lines() -> None:
    text = "Ukraine’s leader urges pressure\nPARIS\nThe talks began on Thursday and\ncontinued late. Done."
    assert sentences(text) == [
        "Ukraine’s leader urges pressure",
        "PARIS",
        "The talks began on Thursday and\ncontinued late.",
        "Done.",
    ]


def test_spans_are_exact_trimmed_and_ordered() -> None:
    text = "  First one.   Second one!\n\n   Third  "
    spans = sentence_spans(text)
    assert spans == [(2, 12), (15, 26), (31, 36)]
    assert [text[a:b] for a, b in spans] == ["First one.", "Second one!", "Third"]


@pytest.mark.parametrize("text", ["", "   ", "\n\n\n", " \t \n "])
def test_blank_text_has_no_sentences(text: str) -> None:
    assert sentence_spans(text) == []


@pytest.mark.parametrize("path", SEEDS, ids=lambda p: p.stem)
def test_sentence_spans_cover_every_word_of_the_seeds(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    spans = sentence_spans(text)
    covered = [False] * len(text)
    previous_end = 0
    for a, b in spans:
        assert previous_end <= a < b
        assert not text[a].isspace() and not text[b - 1].isspace()
        covered[a:b] = [True] * (b - a)
        previous_end = b
    assert all(covered[i] for i, ch in enumerate(text) if not ch.isspace())


def test_seed_sentences_keep_abbreviations_and_quotes_whole() -> None:
    text = (SEEDS[3]).read_text(encoding="utf-8")
    got = sentences(text)
    assert (
        "“S.V. Lavrov confirmed Moscow’s readiness to continue joint work with American colleagues with the "
        "aim of eliminating the original causes of the Ukrainian crisis,” the ministry said."
    ) in got
    assert (
        "This was the first time top American, Ukrainian, and European officials convened for direct "
        "discussions on the resolution of the conflicts since U.S. President Donald Trump took office."
    ) in got


def test_sentence_spans_is_fast() -> None:
    text = " ".join(
        f"Mr. Smith said the U.S. figure was {i}.5 per cent on Jan. {i % 28 + 1}." for i in range(2000)
    )
    started = time.perf_counter()
    spans = sentence_spans(text)
    elapsed = time.perf_counter() - started
    assert len(spans) == 2000
    assert elapsed < 1.0  # ~2000 sentences; the query path splits ~50


# ------------------------------------------------------------------------------------------- header and ids


def test_embed_header_and_text() -> None:
    a = Article("d", "Talks in Paris", "The Outlet", "2025-04-17", None, "Body text here.")
    assert embed_header(a) == "Talks in Paris — The Outlet — 2025-04-17"
    no_date = Article("d", "Talks in Paris", "The Outlet", None, None, "Body text here.")
    assert embed_header(no_date) == "Talks in Paris — The Outlet"
    chunk = chunk_article(a, get_encoding(), 50, 0)[0]
    assert embed_text(a, chunk) == "Talks in Paris — The Outlet — 2025-04-17\nBody text here."


def test_chunk_id_format_and_inputs() -> None:
    cid = chunk_id("doc", 3, 10, 20, "H", "some text")
    assert re.fullmatch(r"doc:3:[0-9a-f]{12}", cid)
    assert cid == chunk_id("doc", 3, 10, 20, "H", "some text")
    assert (
        len(
            {
                cid,
                chunk_id("doc", 3, 10, 21, "H", "some text"),
                chunk_id("doc", 3, 10, 20, "H2", "some text"),
                chunk_id("doc", 3, 10, 20, "H", "other text"),
                chunk_id("doc2", 3, 10, 20, "H", "some text"),
            }
        )
        == 5
    )


# ------------------------------------------------------------------------------------------- chunks


def test_empty_article_has_no_chunks(enc) -> None:
    assert chunk_article(article(""), enc, 100, 10) == []
    assert chunk_article(article(" \n\n \t"), enc, 100, 10) == []


@pytest.mark.parametrize(("size", "overlap"), [(0, 0), (10, 10), (10, -1), (10, 11)])
def test_invalid_sizes_are_config_errors(enc, size: int, overlap: int) -> None:
    with pytest.raises(ConfigError):
        chunk_article(article("Some text."), enc, size, overlap)


def test_short_article_is_one_chunk(enc) -> None:
    a = article("Only one sentence here. And a second.")
    (chunk,) = chunk_article(a, enc, 100, 20)
    assert (chunk.text, chunk.start, chunk.end, chunk.index, chunk.doc_id) == (
        a.text,
        0,
        len(a.text),
        0,
        "doc",
    )
    assert chunk.n_tokens == len(enc.encode(a.text))


def test_greedy_packing_and_overlap_exact(enc) -> None:
    # each sentence "Word1 word2 ... wordN." is measured; build sentences of 5 tokens each
    sents = [f"Alpha{i} beta gamma delta." for i in range(6)]
    sizes = {len(enc.encode(s)) for s in sents}
    text = " ".join(sents)
    size = len(enc.encode(" ".join(sents[:3])))  # room for exactly three sentences
    no_overlap = chunk_article(article(text), enc, size, 0)
    assert [c.text for c in no_overlap] == [" ".join(sents[:3]), " ".join(sents[3:])]
    one_back = len(enc.encode(sents[2]))
    with_overlap = chunk_article(article(text), enc, size, one_back)
    assert [c.text for c in with_overlap] == [
        " ".join(sents[0:3]),
        " ".join(sents[2:5]),
        " ".join(sents[4:6]),
    ]
    assert len(sizes) <= 2  # sanity: sentences are alike, so the expectation above is meaningful


def test_overlap_smaller_than_a_sentence_means_no_overlap(enc) -> None:
    text = "The first sentence is here. The second sentence is here. The third sentence is here."
    one = len(enc.encode("The second sentence is here."))
    chunks = chunk_article(article(text), enc, one + 2, one - 1)  # room for one sentence, overlap for none
    assert [c.text for c in chunks] == [
        "The first sentence is here.",
        "The second sentence is here.",
        "The third sentence is here.",
    ]


def test_overlap_never_blocks_progress(enc) -> None:
    # a big sentence after a small one: the overlap must give way instead of exceeding the limit
    small = "Yes."
    big = "Then " + " ".join(["word"] * 18) + "."
    text = f"{small} {big} {small}"
    limit = len(enc.encode(big))
    chunks = chunk_article(article(text), enc, limit, limit - 1)
    assert all(c.n_tokens <= limit for c in chunks)
    assert chunks[0].text == small
    assert big in [c.text for c in chunks]
    assert chunks[-1].text.endswith(small)


def test_very_long_sentence_is_split_between_words(enc) -> None:
    text = "Intro sentence. " + " ".join(f"token{i}" for i in range(600)) + " end. Outro sentence."
    a = article(text)
    chunks = chunk_article(a, enc, 40, 10)
    assert len(chunks) > 10
    for c in chunks:
        assert c.n_tokens <= 40
        assert a.text[c.start : c.end] == c.text
        assert c.start == 0 or a.text[c.start - 1].isspace()  # cut at a word boundary
        assert c.end == len(text) or a.text[c.end].isspace()
    # together the chunks cover every word, in order
    covered = set()
    for c in chunks:
        covered.update(range(c.start, c.end))
    assert all(i in covered for i, ch in enumerate(text) if not ch.isspace())


def test_long_run_without_spaces_splits_at_tokens_and_keeps_characters_whole(enc) -> None:
    text = "ЖЖЖ中文🙂" * 200  # multibyte characters whose bytes straddle tokens
    a = article(text)
    chunks = chunk_article(a, enc, 30, 0)
    assert "".join(c.text for c in chunks) == text
    for c in chunks:
        assert c.n_tokens == len(enc.encode(c.text)) <= 30


def test_determinism_and_id_changes(enc) -> None:
    text = (SEEDS[0]).read_text(encoding="utf-8")
    first = chunk_article(article(text), enc, 120, 20)
    again = chunk_article(article(text), enc, 120, 20)
    assert first == again
    assert len({c.chunk_id for c in first}) == len(first)
    edited = chunk_article(article(text.replace("Paris", "Lyon", 1)), enc, 120, 20)
    assert first[0].chunk_id != edited[0].chunk_id
    retitled = chunk_article(article(text, title="Another title"), enc, 120, 20)
    assert [c.text for c in retitled] == [c.text for c in first]
    assert all(a.chunk_id != b.chunk_id for a, b in zip(first, retitled, strict=True))
    assert [c.chunk_id.split(":")[:2] for c in first] == [["doc", str(i)] for i in range(len(first))]


@pytest.mark.parametrize("path", SEEDS, ids=lambda p: p.stem)
@pytest.mark.parametrize(("size", "overlap"), [(180, 30), (64, 16), (32, 0), (400, 100)])
def test_chunk_invariants_on_seed_articles(enc, path: Path, size: int, overlap: int) -> None:
    text = path.read_text(encoding="utf-8")
    a = article(text, doc_id=path.stem)
    chunks = chunk_article(a, enc, size, overlap)
    spans = sentence_spans(text)
    starts, ends = {s for s, _ in spans}, {e for _, e in spans}
    long_sentences = [(s, e) for s, e in spans if len(enc.encode(text[s:e])) > size]
    assert [c.index for c in chunks] == list(range(len(chunks)))
    for c in chunks:
        assert a.text[c.start : c.end] == c.text
        assert c.n_tokens == len(enc.encode(c.text)) <= size
        inside_long = any(s <= c.start < e or s < c.end <= e for s, e in long_sentences)
        if not inside_long:
            assert c.start in starts and c.end in ends
    for prev, nxt in zip(chunks, chunks[1:], strict=False):
        assert prev.start < nxt.start and prev.end < nxt.end
        if nxt.start < prev.end:  # overlapping text is whole trailing sentences within the budget
            assert len(enc.encode(text[nxt.start : prev.end])) <= overlap
    # every sentence lands in some chunk
    for s, e in spans:
        assert any(c.start <= s and e <= c.end for c in chunks) or (s, e) in long_sentences


def test_overlap_zero_gives_disjoint_chunks(enc) -> None:
    text = (SEEDS[1]).read_text(encoding="utf-8")
    chunks = chunk_article(article(text), enc, 60, 0)
    for prev, nxt in zip(chunks, chunks[1:], strict=False):
        assert prev.end <= nxt.start


def test_header_leaves_out_a_source_that_is_only_the_file_name() -> None:
    a = Article("d", "Talks", "d.txt", "2025-04-17", None, "Body.", path="/data/articles/d.txt")
    assert embed_header(a) == "Talks — 2025-04-17"
    named = Article("d", "Talks", "The Outlet", None, None, "Body.", path="/data/articles/d.txt")
    assert embed_header(named) == "Talks — The Outlet"


@pytest.mark.parametrize(("limit", "overlap"), [(40, 0), (60, 15), (120, 30), (180, 40)])
def test_packing_is_greedy_with_the_widest_overlap_that_fits(enc, limit: int, overlap: int) -> None:
    # sentences of very different lengths, some joined by line breaks, quotes and numbers at the seams
    sentences = [
        "Talks resumed on Thursday.",
        "“We are not there yet,” the envoy told reporters after a session that ran late into the night, "
        "adding that both delegations had agreed to meet again within ten days.",
        "No.",
        "The 2025 agreement covers 1,200 km of border.",
        "Officials from France, Germany, the U.K. and the U.S. attended.",
        "Markets barely moved.",
        "Analysts said the outcome depended on whether the ceasefire held through the weekend and on what "
        "the two sides were prepared to give up.",
    ]
    text = " ".join(sentences * 3) + "\n\n" + "\n".join(sentences[::-1])
    assert max(len(enc.encode(s)) for s in sentences) <= limit
    chunks = chunk_article(article(text), enc, limit, overlap)
    spans = sentence_spans(text)
    starts, ends = [a for a, _ in spans], [b for _, b in spans]

    def tokens(a: int, b: int) -> int:
        return len(enc.encode(text[a:b]))

    assert chunks[0].start == starts[0] and chunks[-1].end == ends[-1]
    for c in chunks:
        assert c.start in starts and c.end in ends  # whole sentences only
        assert c.n_tokens == len(enc.encode(c.text)) <= limit
    for prev, nxt in itertools.pairwise(chunks):
        following = starts[ends.index(prev.end) + 1]  # first sentence the previous chunk left out
        # packed greedily: one more sentence would not have fitted
        assert tokens(prev.start, ends[starts.index(following)]) > limit
        # no gap, and the repeated tail fits in `overlap` tokens
        assert prev.start < nxt.start <= following
        if nxt.start < following:
            assert tokens(nxt.start, prev.end) <= overlap
        # and reaches back as far as it may: one more sentence would break the overlap or the chunk limit
        earlier = starts.index(nxt.start) - 1
        if starts[earlier] > prev.start:
            assert tokens(starts[earlier], prev.end) > overlap or tokens(starts[earlier], nxt.end) > limit
