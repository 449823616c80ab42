"""Questions asked as of a date: the day "today" means, the date phrases of a question, and what they do to
retrieval.

A question is read as of a day: the one the user (or a gold line) gave, else today, except that an archive
whose newest article is older than today is read as of that article's day. The language layer finds the
question's date phrases (spaCy DATE entities, plus "recently"); dateparser resolves each against the as-of
day, and the few ranges it leaves open ("this week", "this month", "this year") are resolved here.

Retrieval then uses the context twice: a given as-of date is a hard cut (no article published after it),
and the days the phrases name are a soft preference (`preferred_range`), never a filter, since an article
often reports an event days after it happened.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from rag.types import AS_ASKED, NEWEST_ARTICLE, TODAY, DateContext, DatePhrase, Filters

if TYPE_CHECKING:
    from rag.language import Analysis

WEEK_DAYS = 7
RECENT_DAYS = 14
RECENT_WORDS = frozenset({"recently", "lately", "recent"})
# ranges that run up to the as-of day; dateparser reads them as a single day
_UP_TO_NOW = re.compile(r"^(?:the )?(?:this|past) (week|month|year)$")
_LEADING = re.compile(r"^(?:on|in|during|since|the|of)\s+", re.I)

DayRange = tuple[date, date]
Parse = Callable[[str, date], tuple[date, str] | None]
"""parse(phrase, as_of) -> (a day, its period: "day", "week", "month" or "year"), or None."""


def parse_with_dateparser(phrase: str, as_of: date) -> tuple[date, str] | None:
    """A phrase as dateparser reads it against `as_of`, preferring past dates; None when it reads no date."""
    from dateparser.date import DateDataParser

    settings: dict[str, Any] = {
        "RELATIVE_BASE": datetime(as_of.year, as_of.month, as_of.day),
        "PREFER_DATES_FROM": "past",
    }
    data = DateDataParser(languages=["en"], settings=settings).get_date_data(phrase)
    if data.date_obj is None:
        return None
    return data.date_obj.date(), data.period or "day"


def period_range(day: date, period: str) -> DayRange:
    """The days a parsed date stands for: a month or a year whole, a week as the seven days ending on `day`."""
    if period == "year":
        return date(day.year, 1, 1), date(day.year, 12, 31)
    if period == "month":
        return day.replace(day=1), day.replace(day=calendar.monthrange(day.year, day.month)[1])
    if period == "week":
        return day - timedelta(days=WEEK_DAYS - 1), day
    return day, day


def up_to_now(period: str, as_of: date) -> DayRange:
    """ "this week" -> the 7 days ending on `as_of`; "this month" / "this year" -> from its first day."""
    if period == "year":
        return date(as_of.year, 1, 1), as_of
    if period == "month":
        return as_of.replace(day=1), as_of
    return as_of - timedelta(days=WEEK_DAYS - 1), as_of


def phrase_range(phrase: str, as_of: date, parse: Parse = parse_with_dateparser) -> DayRange | None:
    """The inclusive days a date phrase means as of `as_of`, cut at `as_of`; None for no date or the future."""
    text = _LEADING.sub("", phrase.strip().casefold())
    if text in RECENT_WORDS:
        return as_of - timedelta(days=RECENT_DAYS - 1), as_of
    known = _UP_TO_NOW.match(text)
    if known:
        return up_to_now(known.group(1), as_of)
    parsed = parse(text, as_of)
    if parsed is None:
        return None
    start, end = period_range(*parsed)
    if start > as_of:
        return None
    return start, min(end, as_of)


def date_phrases(question: Analysis) -> list[str]:
    """The question's date phrases: spaCy's DATE entities, then "recently"/"lately" (spaCy leaves them out)."""
    found = [e.text for e in question.entities if e.label == "DATE"]
    words = re.findall(r"\w+", question.text.casefold())
    found += [w for w in dict.fromkeys(words) if w in RECENT_WORDS and w not in found]
    return found


def anchor(as_of: date | None, newest: Callable[[], date | None], today: date) -> tuple[date, str]:
    """The day to read the question as of and its basis: the given day, else today or the newest article's
    day when the archive ends before today."""
    if as_of is not None:
        return as_of, AS_ASKED
    last = newest()
    if last is not None and last < today:
        return last, NEWEST_ARTICLE
    return today, TODAY


def date_context(
    question: Analysis,
    as_of: date | None,
    newest: Callable[[], date | None],
    today: date,
    parse: Parse = parse_with_dateparser,
) -> DateContext:
    """The question's DateContext. `newest` (the newest article's day, a store scan) is called only when the
    question has a date phrase and no as-of date was given."""
    phrases = date_phrases(question)
    if not phrases and as_of is None:
        return DateContext(today, TODAY)
    day, basis = anchor(as_of, newest, today)
    resolved = []
    for text in phrases:
        days = phrase_range(text, day, parse)
        if days is not None:
            resolved.append(DatePhrase(text, *days))
    return DateContext(day, basis, tuple(resolved))


def retrieval_filters(context: DateContext, filters: Filters | None) -> Filters:
    """`filters` with the hard cut of a given as-of date: nothing published after it (an earlier `until`
    stays). Without a given date the filters are unchanged: the phrases only prefer, see `preferred_range`."""
    filters = filters or Filters()
    if not context.explicit:
        return filters
    cut = context.as_of.isoformat()
    until = min(filters.until, cut) if filters.until else cut
    return Filters(sources=filters.sources, since=filters.since, until=until)


def preferred_range(context: DateContext) -> DayRange | None:
    """The days the question's date phrases name (from the earliest start to the latest end), or None."""
    if not context.phrases:
        return None
    return min(p.start for p in context.phrases), max(p.end for p in context.phrases)


def in_range(published_at: str | None, days: DayRange) -> bool:
    """Whether an ISO publication date (or datetime) falls within the inclusive range; undated never does."""
    if not published_at:
        return False
    try:
        day = date.fromisoformat(published_at[:10])
    except ValueError:
        return False
    return days[0] <= day <= days[1]


def parse_as_of(value: object, name: str = "as_of") -> date | None:
    """A user's as-of date: YYYY-MM-DD text (blank means none) or a date. InputError says what was wrong."""
    from rag.errors import InputError

    if isinstance(value, datetime):
        return value.date()
    if value is None or isinstance(value, date):
        return value
    text = str(value).strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError as e:
        raise InputError(f"{name} must be a date like 2023-03-10; got {text!r}.") from e
