"""Loaders, cleaning and metadata of rag.articles: small inputs, exact expectations."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rag.articles import (
    clean_text,
    derive_title,
    find_date,
    is_boilerplate,
    is_caption,
    load_path,
    normalize_date,
    normalize_text,
    shorten,
    sniff_outlet,
    stamped_date,
)
from rag.types import Skipped

FIXTURES = Path(__file__).parents[1] / "fixtures" / "articles"
MIXED = FIXTURES / "mixed"
SEED_DIR = Path(__file__).parents[2] / "data" / "articles"


def write(path: Path, data: bytes | str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        path.write_text(data, encoding="utf-8")
    else:
        path.write_bytes(data)
    return path


def one(path: Path, **kwargs):
    articles, skipped = load_path(path, **kwargs)
    assert skipped == []
    assert len(articles) == 1
    return articles[0]


def reasons(path: Path, **kwargs) -> list[str]:
    articles, skipped = load_path(path, **kwargs)
    assert articles == []
    return [s.reason for s in skipped]


# ------------------------------------------------------------------------------------------- dates


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("talks in Paris on April 17, 2025, to revive", "2025-04-17"),
        ("on April 17 2025", "2025-04-17"),
        ("on Apr. 17th, 2025", "2025-04-17"),
        ("Sept. 3, 2024", "2024-09-03"),
        ("17 April 2025", "2025-04-17"),
        ("the 17th of April, 2025", "2025-04-17"),
        ("3 Sept 2024", "2024-09-03"),
        ("published 2025-04-17 at noon", "2025-04-17"),
        ("2025/4/7", "2025-04-07"),
        ("Updated 2024-02-29T10:00", "2024-02-29"),
        ("17/04/2025", "2025-04-17"),
        ("04/17/2025", "2025-04-17"),
        ("17.04.2025", "2025-04-17"),
        ("on DECEMBER 1, 1999", "1999-12-01"),
        # earliest date wins, whatever its format
        ("On 2 May 2024 ... later, on January 5, 2025", "2024-05-02"),
        ("On January 5, 2025 ... before that, 2 May 2024", "2025-01-05"),
        # not a full date, ambiguous, or impossible
        ("on 17 April, their third meeting", None),
        ("in May 2023, before", None),
        ("04/05/2025", None),
        ("February 30, 2025", None),
        ("Copyright © 2014-2025 Outlet", None),
        ("", None),
    ],
)
def test_find_date(text: str, expected: str | None) -> None:
    assert find_date(text) == expected


def test_find_date_skips_an_impossible_date_for_a_later_valid_one() -> None:
    assert find_date("February 30, 2025 was a typo; the talks were on March 3, 2025.") == "2025-03-03"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2025-04-17", "2025-04-17"),
        ("2025-04-17T10:00:00Z", "2025-04-17"),
        ("2025-04-17T23:30:00+02:00", "2025-04-17"),
        ("2025-04-17 10:00", "2025-04-17"),
        ("April 17, 2025", "2025-04-17"),
        ("17.04.2025", "2025-04-17"),
        ("not a date", None),
        ("2025-13-45", None),
    ],
)
def test_normalize_date(value: str, expected: str | None) -> None:
    assert normalize_date(value) == expected


# ------------------------------------------------------------------------------------------- outlet


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("source: Coast News\n\nBody text.", "Coast News"),
        ("Outlet:   The Herald  \nBody.", "The Herald"),
        ("Body.\n\nCopyright © 2014-2025 IRIA - International Relations\n", "IRIA - International Relations"),
        ("Body.\n\n© 2025 Northern Gazette. All rights reserved.", "Northern Gazette"),
        ("Body.\n\nCopyright (c) 2023 Daily Planet Ltd, all rights reserved", "Daily Planet Ltd"),
        ("Body.\n\nCOPYRIGHT 2025 THE TIMES", "THE TIMES"),
        (
            "Your support helps us. The Gazette is on the ground. Donate now. The Gazette is trusted by "
            "readers like you. Subscribe.\n\nThe mayor spoke on Monday.",
            "The Gazette",
        ),
        ("AUSTIN, Texas, Sept 8 (Continental Wire) - The company said on Tuesday.", "Continental Wire"),
        ("Headline\n\nLONDON (Reuters) — Prices rose.", "Reuters"),
        (
            "Headline\n\nBy Tobias Renner, Sarn Valley Gazette — Thursday, 12 March 2026\n\nBody.",
            "Sarn Valley Gazette",
        ),
        ("By Martin Achterberg, Senior Technology Editor | September 12, 2026\n\nBody.", None),  # a job title
        ("By contrast, The Gazette said on Monday that it would not run the story.", None),
        ("The mayor spoke. The Gazette reported it. The Gazette said more.", None),
        ("Plain reporting without any outlet marker.", None),
        ("Copyright law was debated in parliament on Tuesday, the minister said.", None),
    ],
)
def test_sniff_outlet(raw: str, expected: str | None) -> None:
    assert sniff_outlet(raw) == expected


# ------------------------------------------------------------------------------------------- text helpers


def test_normalize_text_unicode_and_whitespace() -> None:
    raw = "Cafe\u0301\u200b news\u00a0here\r\nnext\tline\x07\u2028end\ufeff"
    assert normalize_text(raw) == "Café news here\nnext line\nend"


def test_normalize_text_leaves_plain_text_alone_and_fixes_every_odd_character() -> None:
    """The fast path (no odd character found: no translation) must see every character the table changes."""
    assert (
        normalize_text("Plain text — “quoted”, café.\nNext line.")
        == "Plain text — “quoted”, café.\nNext line."
    )
    odd = "".join(
        chr(c) for c in (0x00, 0x09, 0x1F, 0x7F, 0xA0, 0xAD, 0x2003, 0x200B, 0x202F, 0x3000, 0xFEFF, 0xE0041)
    )
    assert normalize_text(f"a{odd}b") == "a" + " " * 5 + "b"


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        ("Short title", 90, "Short title"),
        ("  spaced   out\ntitle ", 90, "spaced out title"),
        ("one two three four five", 12, "one two…"),
        ("one two three, four five", 15, "one two three…"),
        ("abcdefghijklmnop", 10, "abcdefghi…"),
    ],
)
def test_shorten(text: str, limit: int, expected: str) -> None:
    result = shorten(text, limit)
    assert result == expected
    assert len(result) <= limit


def test_derive_title_prefers_a_headline_line_then_the_first_sentence() -> None:
    assert (
        derive_title("Bridge reopens after repairs\n\nThe bridge reopened.") == "Bridge reopens after repairs"
    )
    assert derive_title("The bridge reopened on Monday. It was shut.") == "The bridge reopened on Monday"
    long = (
        "The harbour bridge that links the two halves of the city reopened to traffic on Monday after "
        "months of work."
    )
    title = derive_title(long)
    assert title == "The harbour bridge that links the two halves of the city reopened to traffic on Monday…"
    assert len(title) <= 90


# ------------------------------------------------------------------------------------------- cleaning

REPORTING = (
    "The city council voted on Tuesday to expand the tram network by 12 kilometres.\n\n"
    "Mayor Jane Doe said the first new stop would open in 2026, according to a statement."
)


def test_clean_text_keeps_reporting_exactly() -> None:
    assert clean_text(REPORTING) == REPORTING


def test_clean_text_drops_a_donation_appeal_paragraph() -> None:
    appeal = (
        "Your support helps us to tell the story Read more Support Now From climate change to Big Tech, "
        "The Gazette is on the ground when the story is developing. Your donation allows us to keep sending "
        "journalists to speak to both sides of the story. We choose not to lock readers out with paywalls. "
        "Your support makes all the difference. Read more"
    )
    assert clean_text(f"{appeal}\n\n{REPORTING}") == REPORTING


@pytest.mark.parametrize(
    "furniture",
    [
        "Related Articles",
        "Leave a comment",
        "Back to Top",
        "5 minute read",
        "Subscribe to Gazette News\nEnter your email address:",
        "Sign up for our newsletter",
        "Share this article",
        "Skip to main content",
        "Europe, News, US No Comments on Tram network to grow",
        "Copyright © 2025 The Gazette",
        "Follow us on https://social.example/gazette and https://video.example/gazette",
    ],
)
def test_clean_text_drops_navigation_and_prompts(furniture: str) -> None:
    assert clean_text(f"{furniture}\n\n{REPORTING}") == REPORTING
    assert clean_text(f"{REPORTING}\n\n{furniture}") == REPORTING


def test_clean_text_drops_captions_with_credits_and_their_alt_text() -> None:
    raw = (
        f"{REPORTING}\n\n"
        "Mayor Jane Doe at the depot\n"
        "Mayor Jane Doe at the tram depot in the city on Tuesday. (Image Credit: City Hall/Reuters)\n\n"
        "A new tram on a test run. Photo: Getty Images\n\n"
        "The works will start in the spring, officials said."
    )
    assert clean_text(raw) == f"{REPORTING}\n\nThe works will start in the spring, officials said."


def test_clean_text_cuts_the_footer_after_an_end_marker() -> None:
    raw = (
        f"{REPORTING}\n\nMore reporting follows here, the council said in a statement on Tuesday.\n\n"
        "Related Articles\n\nTram fares to rise\n\nBus lanes extended\n\n"
        "The Gazette is a local newspaper covering the city since 1901. Contact us at news@gazette.example."
    )
    assert clean_text(raw) == (
        f"{REPORTING}\n\nMore reporting follows here, the council said in a statement on Tuesday."
    )


def test_clean_text_does_not_cut_an_early_marker_or_a_long_tail() -> None:
    body = "\n\n".join(f"Paragraph {i} reports that the council met and voted on the plan." for i in range(6))
    # an end marker in the first half is only dropped itself; the text after it stays
    assert clean_text(f"Related Articles\n\n{body}") == body
    # a marker followed by as much reporting as came before is not a footer
    assert clean_text(f"{body}\n\nComments\n\n{body}") == f"{body}\n\n{body}"


def test_clean_text_keeps_reporting_about_newsletters_and_donations() -> None:
    text = (
        "The charity said donations rose by 20 per cent last year, helped by a new newsletter.\n\n"
        "Subscribers to the paper's print edition fell to 40,000, the company said in its annual report."
    )
    assert clean_text(text) == text


def test_clean_text_keeps_headlines_datelines_and_quotes() -> None:
    text = (
        "Tram network to grow by 12 kilometres\n\nPARIS\n\n“We are delighted,” she said.\n\n"
        "A new diplomatic frontline\n\nThe works start in May."
    )
    assert clean_text(text) == text


def test_clean_text_normalises_whitespace_and_repeats() -> None:
    raw = "  Headline  of the day \n\n\n\nHeadline of the day\n\n\tThe   council\u00a0met.  \n\n\n"
    assert clean_text(raw) == "Headline of the day\n\nThe council met."


def test_clean_text_joins_wrapped_lines_and_keeps_line_breaks() -> None:
    raw = "The council met on Tuesday and\nvoted for the plan.\nThe mayor was absent."
    assert clean_text(raw) == "The council met on Tuesday and voted for the plan.\nThe mayor was absent."


def test_clean_text_of_a_typical_scraped_page() -> None:
    raw = (
        "Share on Facebook Share on Twitter Share via Email\n\n"
        "By Jane Roe, Political Correspondent\n\n"
        "Published: 10:32 BST, 17 April 2025 | Updated: 11:02 BST, 18 April 2025\n\n"
        "The prime minister announced a review of energy prices on Thursday, saying bills had risen.\n\n"
        "Advertisement\n\n"
        'The review will report by the autumn, officials said. "We will act," she told MPs.\n\n'
        "Protesters outside parliament on Thursday. Photograph: Stefan Rousseau/PA\n\n"
        "Sign up for our daily newsletter to get the biggest stories in your inbox.\n\n"
        "Energy firms said they would cooperate with the review.\n\n"
        "Most Read\n\nMan wins lottery twice\n\nStorm hits coast\n\n"
        "Comments (12)\n\nGreat article! Really enjoyed it."
    )
    assert clean_text(raw) == (  # the byline goes too: it is not reporting (see sniff_outlet for its use)
        "The prime minister announced a review of energy prices on Thursday, saying bills had risen.\n\n"
        'The review will report by the autumn, officials said. "We will act," she told MPs.\n\n'
        "Energy firms said they would cooperate with the review."
    )
    assert stamped_date(raw) == "2025-04-17"


def test_a_date_stamp_line_beats_dates_in_the_story(tmp_path: Path) -> None:
    path = write(
        tmp_path / "s.txt",
        "Posted on March 3, 2025\n\nThe strike that began on 1 February 2025 ended on Monday, they said.",
    )
    article = one(path)
    assert article.published_at == "2025-03-03"
    assert article.text == "The strike that began on 1 February 2025 ended on Monday, they said."


def test_clean_text_of_nothing_is_empty() -> None:
    assert clean_text("") == ""
    assert clean_text("Related Articles\n\nBack to Top\n\n\u200b") == ""


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("Read more", True),
        ("Click here to subscribe to our newsletter", True),
        ("Log in", True),
        ("The president said the talks would continue next week in London.", False),
        ("A new diplomatic frontline", False),
        ("PARIS", False),
        ("Advertisement", True),
        ("Sign up for our newsletter to get the latest news every morning.", True),
        ("Copyright © 2024 The Herald", True),
        ("EU fines Google over cookies consent", False),
        ("Netflix subscription prices rise again", False),
        ("Copyright law was debated in parliament on Tuesday, the minister said.", False),
        ("Read our privacy policy and terms of use", True),
        (
            "Sign up for the Metro Briefing: the week's most important stories, every Friday in your inbox.",
            True,
        ),
        ("Sign up for the course, the union told members, and bring your questions to the meeting.", False),
    ],
)
def test_is_boilerplate(line: str, expected: bool) -> None:
    assert is_boilerplate(line) is expected


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("A missile launch. (Image Credit: Alexander Polegenko/TASS)", True),
        ("Rescuers at the scene. Photo: AFP", True),
        ("The minister arrives (Photo by Jane Roe/Getty Images)", True),
        ("The photographer said the light was poor that day.", False),
    ],
)
def test_is_caption(line: str, expected: bool) -> None:
    assert is_caption(line) is expected


# ------------------------------------------------------------------------------------------- loading


def test_load_directory_of_mixed_files() -> None:
    articles, skipped = load_path(MIXED)
    assert [a.doc_id for a in articles] == [
        "a_plain",
        "b_story",
        "c_page",
        "rec-1",
        "d_records-5",
        "7",
        "e_list-2",
        "f_nested",
    ]
    assert skipped == [
        Skipped(str(MIXED / "d_records.jsonl"), "line 2 is not valid JSON (Expecting value)"),
        Skipped(
            str(MIXED / "d_records.jsonl"),
            "line 3: record has no 'body' (or 'text' or 'content') with article text",
        ),
        Skipped(
            str(MIXED / "h_report.pdf"),
            "unsupported file type '.pdf'; supported: .htm, .html, .json, .jsonl, .markdown, .md, .txt",
        ),
    ]  # the .png and the hidden files are passed over silently
    by_id = {a.doc_id: a for a in articles}

    plain = by_id["a_plain"]
    assert plain.published_at == "2024-11-05"
    assert plain.text.startswith("The city council voted on Tuesday")  # the body continues after the date
    assert plain.title == "The city council voted on Tuesday to expand the tram network by 12 kilometres"
    assert plain.source == "a_plain.txt"
    assert plain.path == str(MIXED / "a_plain.txt")

    md = by_id["b_story"]
    assert md.title == "Harbour bridge reopens after repairs"
    assert md.published_at == "2025-03-03"
    assert md.text == (
        "The harbour bridge reopened to traffic on 3 March 2025 after four months of repairs, the transport "
        "agency said.\n\nEngineers replaced 40 steel cables, according to a statement from the agency."
    )

    html = by_id["c_page"]
    assert (html.title, html.source, html.published_at, html.url) == (
        "Library opens late-night reading room",
        "Northern Gazette",
        "2025-02-14",
        "https://gazette.example/news/library-late-night",
    )
    assert html.text.split("\n\n") == [
        "The central library opened a reading room that stays open until midnight, the head librarian said "
        "on Friday.",
        "Students had asked for longer hours for years, and a survey of 2,000 readers found strong support "
        "for the change.",
        "The room has 80 seats and will be staffed by two librarians each night, the city said in a "
        "statement.",
    ]

    rec = by_id["rec-1"]
    assert (rec.title, rec.source, rec.published_at, rec.url) == (
        "Ferry strike ends",
        "Coast News",
        "2025-01-09",
        "https://coast.example/ferry",
    )
    alias = by_id["d_records-5"]
    assert alias.text == "The text field is accepted as an alias of body, the format notes say."
    assert (alias.published_at, alias.source) == ("2025-03-04", "d_records.jsonl")
    assert by_id["7"].title == "Numeric id"
    assert by_id["e_list-2"].published_at is None  # "not a date" is not guessed at


def test_load_directory_is_deterministic() -> None:
    assert load_path(MIXED) == load_path(MIXED)


def test_missing_path_is_reported(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    assert load_path(missing) == ([], [Skipped(str(missing), "does not exist")])


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("empty.txt", b"", "empty file"),
        ("blank.md", b"  \n\n\t \n", "empty file"),
        ("binary.txt", b"\x00\x01\x02PK\x03\x04" * 20, "binary file (contains NUL bytes), not text"),
        (
            "latin1.txt",
            "Le café a ouvert à Paris le lundi.".encode("latin-1"),
            "not UTF-8 text (byte 0xe9 at offset 6 is invalid); re-save it as UTF-8",
        ),
        (
            "utf16.txt",
            "The council met.".encode("utf-16"),
            "not UTF-8 (UTF-16 text); re-save the file as UTF-8",
        ),
        (
            "only-furniture.txt",
            b"Related Articles\n\nBack to Top\n",
            "no article text left after removing boilerplate",
        ),
        ("broken.json", b'{"id": 1, "body": ', "not valid JSON (Expecting value at line 1, column 19)"),
        (
            "photo.png",
            b"\x89PNG",
            "unsupported file type '.png'; supported: .htm, .html, .json, .jsonl, .markdown, .md, .txt",
        ),
        (
            "empty.html",
            b"<html><head><title>Nothing here</title></head><body><script>var x;</script></body></html>",
            "no article text found in the HTML page",
        ),
    ],
)
def test_bad_files_are_skipped_with_a_reason(tmp_path: Path, name: str, data: bytes, reason: str) -> None:
    path = write(tmp_path / name, data)
    assert reasons(path) == [reason]


def test_html_outlet_from_the_title_or_the_copyright_footer(tmp_path: Path) -> None:
    """An HTML page without a site name names its outlet after the headline in <title> or in its footer."""
    body = "<p>The political fallout from the flood intensified on Friday as the opposition leader spoke.</p>"
    titled = one(
        write(
            tmp_path / "t.html",
            f"<html><head><title>Blame game | The Capital Observer</title></head><body>{body}</body></html>",
        )
    )
    assert titled.source == "The Capital Observer"
    footer = f"<html><head><title>Blame game</title></head><body><article>{body}</article><footer><p>&copy; 2026 The Capital Observer. All rights reserved.</p></footer></body></html>"
    assert one(write(tmp_path / "f.html", footer)).source == "The Capital Observer"


def test_html_page_without_running_text_is_skipped(tmp_path: Path) -> None:
    page = "<html><body><nav><a href='/'>Home</a></nav><ul><li><a href='/a'>Sport</a></li></ul></body></html>"
    assert reasons(write(tmp_path / "menu.html", page)) == ["no article text found in the HTML page"]


def test_file_over_the_size_limit(tmp_path: Path) -> None:
    path = write(tmp_path / "big.txt", "The council met on Tuesday. " * 10)
    assert reasons(path, max_bytes=100) == [
        "file is larger than the limit (280 bytes > 100); raise max_file_mb"
    ]
    assert len(load_path(path, max_bytes=280)[0]) == 1


def test_utf8_with_byte_order_mark_loads(tmp_path: Path) -> None:
    path = write(tmp_path / "bom.txt", "\ufeffdate 2025-04-17 The council met.".encode())
    article = one(path)
    assert (article.text, article.published_at) == ("The council met.", "2025-04-17")


def test_good_files_load_next_to_bad_ones(tmp_path: Path) -> None:
    write(tmp_path / "a.txt", "The council met on Tuesday.")
    write(tmp_path / "b.txt", b"\xff\xfe\x00garbage")
    write(tmp_path / "c.jsonl", '{"id": "x", "body": "The mayor spoke."}\n{not json}\n')
    articles, skipped = load_path(tmp_path)
    assert [a.doc_id for a in articles] == ["a", "x"]
    assert [(Path(s.path).name, s.reason) for s in skipped] == [
        ("b.txt", "not UTF-8 (UTF-16 text); re-save the file as UTF-8"),
        ("c.jsonl", "line 2 is not valid JSON (Expecting property name enclosed in double quotes)"),
    ]


def test_duplicate_ids_keep_the_first(tmp_path: Path) -> None:
    write(tmp_path / "a" / "story.txt", "The first story.")
    write(tmp_path / "b" / "story.txt", "The second story.")
    articles, skipped = load_path(tmp_path)
    assert [a.text for a in articles] == ["The first story."]
    assert skipped == [
        Skipped(
            str(tmp_path / "b" / "story.txt"),
            f"duplicate id 'story' (already loaded from {tmp_path / 'a' / 'story.txt'}); "
            "give each article a unique id or file name",
        )
    ]


def test_json_records_must_be_objects_with_a_body(tmp_path: Path) -> None:
    path = write(
        tmp_path / "r.json",
        json.dumps(
            [{"id": "ok", "body": "Fine text."}, "just a string", {"id": "e", "body": "   "}, {"body": 3}]
        ),
    )
    articles, skipped = load_path(path)
    assert [a.doc_id for a in articles] == ["ok"]
    assert [s.reason for s in skipped] == [
        "record 2: expected a JSON object, got str",
        "record 3: record has no 'body' (or 'text' or 'content') with article text",
        "record 4: record has no 'body' (or 'text' or 'content') with article text",
    ]


def test_single_json_object_and_cleaning_of_its_body(tmp_path: Path) -> None:
    path = write(
        tmp_path / "single.json",
        json.dumps({"id": "s1", "body": "Read more\n\nThe port reopened on 2 June 2024.\n\nBack to Top"}),
    )
    article = one(path)
    assert (article.doc_id, article.text, article.published_at) == (
        "s1",
        "The port reopened on 2 June 2024.",
        "2024-06-02",
    )
    assert article.title == "The port reopened on 2 June 2024"


def test_json_ids_and_metadata_keys(tmp_path: Path) -> None:
    """A lone object is named by its file (as gold files cite file stems); records in a list by position;
    `doc_id` works as `id`, and the header keys of text files work in records too."""
    lone = one(
        write(
            tmp_path / "port_story.json",
            json.dumps(
                {
                    "headline": "Port reopens",
                    "outlet": "Coast News",
                    "date": "2024-06-02",
                    "link": "https://c.example/p",
                    "content": "The port reopened on Sunday.",
                }
            ),
        )
    )
    assert (lone.doc_id, lone.title, lone.source, lone.published_at, lone.url, lone.text) == (
        "port_story",
        "Port reopens",
        "Coast News",
        "2024-06-02",
        "https://c.example/p",
        "The port reopened on Sunday.",
    )
    listed, _ = load_path(
        write(tmp_path / "many.json", json.dumps([{"body": "One."}, {"doc_id": "two", "body": "Two."}]))
    )
    assert [a.doc_id for a in listed] == ["many-1", "two"]


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        (
            "h.txt",
            "Title: Port reopens\nSource: Coast News\nURL: https://coast.example/port\nDate: 2024-06-02\n\n"
            "The port reopened on Sunday.",
            (
                "Port reopens",
                "Coast News",
                "https://coast.example/port",
                "2024-06-02",
                "The port reopened on Sunday.",
            ),
        ),
        (
            "f.md",
            '---\ntitle: "Port reopens"\noutlet: Coast News\npublished: 2024-06-02T09:00:00Z\n---\n'
            "# Ignored headline\n\nThe port reopened on Sunday.",
            ("Port reopens", "Coast News", None, "2024-06-02", "The port reopened on Sunday."),
        ),
        (  # no header: the headline line is the title, a byline gives outlet and date and is not body
            "dam.txt",
            "Anger grows over dam release\n\nBy Tobias Renner, Sarn Valley Gazette — Thursday, 12 March 2026\n\n"
            "Residents say they had forty minutes to escape.",
            (
                "Anger grows over dam release",
                "Sarn Valley Gazette",
                None,
                "2026-03-12",
                "Anger grows over dam release\n\nResidents say they had forty minutes to escape.",
            ),
        ),
    ],
)
def test_header_lines_front_matter_and_byline(
    tmp_path: Path, name: str, content: str, expected: tuple[str, str, str | None, str, str]
) -> None:
    article = one(write(tmp_path / name, content))
    assert (article.title, article.source, article.url, article.published_at, article.text) == expected


# ------------------------------------------------------------------------------------------- seeds


def test_seed_corpus_loads_with_metadata() -> None:
    articles, skipped = load_path(SEED_DIR)
    assert skipped == []
    assert [a.doc_id for a in articles] == sorted(p.stem for p in SEED_DIR.glob("*.txt"))
    assert all(a.published_at == "2025-04-17" for a in articles)
    by_prefix = {a.doc_id[:3]: a for a in articles}
    assert by_prefix["002"].title == "Ukraine’s Zelensky urges pressure on Russia to end war"
    assert (
        by_prefix["003"].title
        == "US, European, and Ukrainian officials meet in Paris to discuss Russia-Ukraine ceasefire"
    )
    assert by_prefix["003"].source == "IRIA - International Relations Insights & Analysis"
    assert by_prefix["001"].source == "The Independent"
    assert by_prefix["000"].source == "000_2d594839e63a1b01.txt"
    for a in articles:
        assert a.text == a.text.strip() and "\n\n\n" not in a.text
        assert not a.text.startswith("date ")
        assert len(a.title) <= 90


def test_seed_boilerplate_is_gone_and_reporting_stays() -> None:
    articles = {a.doc_id[:3]: a for a in load_path(SEED_DIR)[0]}
    appeal_free = articles["001"].text
    assert appeal_free.startswith("David Lammy is expected in Paris")
    assert "donation" not in appeal_free and "Support Now" not in appeal_free
    iria = articles["003"].text
    for furniture in (
        "Image Credit",
        "Related Articles",
        "Leave a comment",
        "Copyright",
        "Subscribe",
        "email",
        "Back to Top",
        "minute read",
        "No Comments",
        "research institute",
    ):
        assert furniture not in iria, furniture
    assert iria.count("US, European, and Ukrainian officials meet in Paris") == 1
    assert "“S.V. Lavrov confirmed Moscow’s readiness" in iria
    assert iria.endswith("remains the critical question.")
    # every sentence-like paragraph of the raw seeds survives, except the appeal, captions and footer
    for path in sorted(SEED_DIR.glob("*.txt")):
        raw = normalize_text(path.read_text(encoding="utf-8"))
        text = articles[path.stem[:3]].text
        for paragraph in raw.split("\n\n"):
            paragraph = paragraph.strip().removeprefix("date 2025-04-17 ")
            if paragraph.endswith((".", "”", '"')) and not any(
                marker in paragraph for marker in ("Your support", "Image Credit", "research institute")
            ):
                assert paragraph in text, paragraph[:80]
