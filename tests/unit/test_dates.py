"""Questions read as of a day: the anchor day, date phrases (real spaCy + dateparser on sentences written for
these tests), the ranges left to rag.dates, the hard cut and the soft preference."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from rag.dates import (
    anchor,
    date_context,
    date_phrases,
    in_range,
    parse_as_of,
    period_range,
    phrase_range,
    preferred_range,
    retrieval_filters,
)
from rag.errors import InputError
from rag.language import Analysis, Language, Span
from rag.retrieve import prefer_dates
from rag.types import AS_ASKED, NEWEST_ARTICLE, TODAY, DateContext, DatePhrase, Filters, Passage

FRIDAY = date(2023, 3, 10)  # the as-of day of most tests: a Friday
LATER = date(2026, 1, 5)  # "today" in tests where the archive is older


def never() -> date | None:
    raise AssertionError("the newest article's date was read although it is not needed")


@pytest.fixture(scope="module")
def language() -> Language:
    return Language(("sentences", "entities", "syntax"))


# --- the ranges rag.dates resolves itself (pure) ------------------------------------------------------------


@pytest.mark.parametrize(
    ("period", "day", "expected"),
    [
        ("day", date(2023, 2, 14), (date(2023, 2, 14), date(2023, 2, 14))),
        ("week", date(2023, 3, 3), (date(2023, 2, 25), date(2023, 3, 3))),
        ("month", date(2024, 2, 10), (date(2024, 2, 1), date(2024, 2, 29))),
        ("year", date(2019, 6, 1), (date(2019, 1, 1), date(2019, 12, 31))),
    ],
)
def test_period_range(period: str, day: date, expected: tuple[date, date]) -> None:
    assert period_range(day, period) == expected


def fake_parse(result: tuple[date, str] | None):  # type: ignore[no-untyped-def]
    return lambda phrase, as_of: result


@pytest.mark.parametrize(
    ("phrase", "expected"),
    [
        ("this week", (date(2023, 3, 4), FRIDAY)),
        ("the past week", (date(2023, 3, 4), FRIDAY)),
        ("this month", (date(2023, 3, 1), FRIDAY)),
        ("This Year", (date(2023, 1, 1), FRIDAY)),
        ("recently", (date(2023, 2, 25), FRIDAY)),
    ],
)
def test_ranges_up_to_the_as_of_day_need_no_parser(phrase: str, expected: tuple[date, date]) -> None:
    assert phrase_range(phrase, FRIDAY, fake_parse(None)) == expected


def test_a_parsed_month_is_cut_at_the_as_of_day() -> None:
    assert phrase_range("in March", FRIDAY, fake_parse((date(2023, 3, 10), "month"))) == (
        date(2023, 3, 1),
        FRIDAY,
    )


def test_future_and_unreadable_phrases_mean_no_days() -> None:
    assert phrase_range("next week", FRIDAY, fake_parse((date(2023, 3, 17), "week"))) is None
    assert phrase_range("annual", FRIDAY, fake_parse(None)) is None


# --- the day a question is read as of -----------------------------------------------------------------------


def test_a_given_day_wins_and_the_store_is_not_read() -> None:
    assert anchor(FRIDAY, never, LATER) == (FRIDAY, AS_ASKED)


def test_an_archive_older_than_today_is_read_as_of_its_newest_article() -> None:
    assert anchor(None, lambda: FRIDAY, LATER) == (FRIDAY, NEWEST_ARTICLE)


def test_a_current_or_undated_archive_is_read_as_of_today() -> None:
    assert anchor(None, lambda: LATER, LATER) == (LATER, TODAY)
    assert anchor(None, lambda: None, LATER) == (LATER, TODAY)


def test_a_question_without_dates_does_not_read_the_store() -> None:
    question = Analysis("Who opened the bridge?")
    assert date_context(question, None, never, LATER) == DateContext(LATER, TODAY)


def test_date_context_from_given_entities_with_a_fake_parser() -> None:
    question = Analysis(
        "Who spoke on Monday?", entities=(Span("Monday", 12, 18, "DATE"), Span("X", 0, 1, "ORG"))
    )
    ctx = date_context(question, None, lambda: FRIDAY, LATER, fake_parse((date(2023, 3, 6), "day")))
    assert ctx == DateContext(
        FRIDAY, NEWEST_ARTICLE, (DatePhrase("Monday", date(2023, 3, 6), date(2023, 3, 6)),)
    )


# --- real spaCy and dateparser ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("question", "phrase", "days"),
    [
        ("What did the harbour board decide this week?", "this week", (date(2023, 3, 4), FRIDAY)),
        ("Which ferry line cut its fares last month?", "last month", (date(2023, 2, 1), date(2023, 2, 28))),
        ("Who resigned from the water council yesterday?", "yesterday", (date(2023, 3, 9), date(2023, 3, 9))),
        (
            "What did the mayor of Lowbridge announce on Monday?",
            "Monday",
            (date(2023, 3, 6), date(2023, 3, 6)),
        ),
        ("How many trains were cancelled in February?", "February", (date(2023, 2, 1), date(2023, 2, 28))),
        ("What did the orchestra play this year?", "this year", (date(2023, 1, 1), FRIDAY)),
        ("Which bakery has recently closed in Tamsin?", "recently", (date(2023, 2, 25), FRIDAY)),
    ],
)
def test_question_phrases_resolve_against_the_as_of_day(
    language: Language, question: str, phrase: str, days: tuple[date, date]
) -> None:
    ctx = date_context(language.analyse(question), FRIDAY, never, LATER)
    assert ctx.phrases == (DatePhrase(phrase, *days),)
    assert (ctx.as_of, ctx.basis) == (FRIDAY, AS_ASKED)


def test_a_question_without_a_date_phrase_has_none(language: Language) -> None:
    assert date_phrases(language.analyse("Who designed the new library in Lowbridge?")) == []


def test_the_note_says_which_day_and_what_each_phrase_meant(language: Language) -> None:
    ctx = date_context(language.analyse("What happened at the port this week?"), None, lambda: FRIDAY, LATER)
    assert (
        ctx.note
        == 'Dates read as of 2023-03-10 (newest article). "this week" means 2023-03-04 to 2023-03-10.'
    )
    given = date_context(language.analyse("Who won the regatta?"), FRIDAY, never, LATER)
    assert given.note == "Dates read as of 2023-03-10 (as asked). Later articles are not used."
    assert DateContext(LATER, TODAY).note is None


# --- what retrieval does with it --------------------------------------------------------------------------------


def test_only_a_given_day_cuts_later_articles() -> None:
    filters = Filters(sources=("Coast News",), since="2023-01-01")
    assert retrieval_filters(DateContext(FRIDAY, AS_ASKED), filters) == Filters(
        ("Coast News",), "2023-01-01", "2023-03-10"
    )
    assert retrieval_filters(DateContext(FRIDAY, AS_ASKED), None) == Filters(until="2023-03-10")
    assert retrieval_filters(DateContext(FRIDAY, AS_ASKED), Filters(until="2023-02-01")).until == "2023-02-01"
    assert retrieval_filters(DateContext(FRIDAY, NEWEST_ARTICLE), filters) is filters


def test_preferred_range_spans_every_phrase() -> None:
    phrases = (
        DatePhrase("Monday", date(2023, 3, 6), date(2023, 3, 6)),
        DatePhrase("last week", date(2023, 2, 25), date(2023, 3, 3)),
    )
    assert preferred_range(DateContext(FRIDAY, AS_ASKED, phrases)) == (date(2023, 2, 25), date(2023, 3, 6))
    assert preferred_range(DateContext(FRIDAY, AS_ASKED)) is None


def passage(doc_id: str, published_at: str | None, score: float) -> Passage:
    return Passage(f"{doc_id}:0", doc_id, doc_id, "Coast News", published_at, None, "text", 0, 4, score)


def test_passages_in_the_preferred_days_score_one_and_a_half_times_higher() -> None:
    ranked = [passage("old", "2023-02-01", 0.030), passage("new", "2023-03-08T09:00:00Z", 0.025),
              passage("undated", None, 0.024)]  # fmt: skip
    boosted = prefer_dates(ranked, (date(2023, 3, 4), FRIDAY))
    assert [(p.doc_id, round(p.score, 4)) for p in boosted] == [
        ("new", 0.0375),
        ("old", 0.03),
        ("undated", 0.024),
    ]
    assert prefer_dates(ranked, None) == ranked


def test_in_range_reads_dates_and_datetimes() -> None:
    days = (date(2023, 3, 4), FRIDAY)
    assert in_range("2023-03-04", days) and in_range("2023-03-10T23:59:00", days)
    assert not in_range("2023-03-11", days) and not in_range(None, days) and not in_range("soon", days)


# --- the user's as-of date --------------------------------------------------------------------------------------


def test_parse_as_of() -> None:
    assert parse_as_of(" 2023-03-10 ") == FRIDAY
    assert parse_as_of(datetime(2023, 3, 10, 12)) == FRIDAY
    assert parse_as_of("") is None and parse_as_of(None) is None
    with pytest.raises(InputError, match=r"^--as-of must be a date like 2023-03-10; got '10 March'\.$"):
        parse_as_of("10 March", "--as-of")
