"""Publication dates of CAS pages, in Beijing time (Asia/Shanghai).

Candidates come in priority order: the page's meta PubDate, the page's time line, the listing's
date, the date in the URL. The first *plausible* one wins. A date is implausible when it lies more
than one day in the future or before 1949; such a candidate is never used, and the resolution says
which candidates were passed over and why, so the caller can record it (see pipelines/dates.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

BEIJING = ZoneInfo("Asia/Shanghai")
EARLIEST = date(1949, 1, 1)  # nothing the Academy (founded November 1949) published is older
FUTURE_TOLERANCE = timedelta(days=1)  # clocks and time zones: tomorrow is still plausible
_HAS_TIME = re.compile(r"\d{1,2}[:：]\d{2}")
_DATEPARSER_SETTINGS = {
    "TIMEZONE": "Asia/Shanghai",
    "TO_TIMEZONE": "Asia/Shanghai",
    "RETURN_AS_TIMEZONE_AWARE": True,
    "DATE_ORDER": "YMD",
    "PREFER_DATES_FROM": "past",
    "REQUIRE_PARTS": ["year", "month", "day"],
}


@dataclass(frozen=True, slots=True)
class Published:
    date: date
    at: datetime | None  # aware, Beijing time; None when the page shows no time of day
    origin: str  # which candidate won: meta, page, listing, url


@dataclass(frozen=True, slots=True)
class PassedOver:
    origin: str
    value: str  # the candidate as given
    why: str  # "unparseable", "in the future", "before 1949"


@dataclass(frozen=True, slots=True)
class Resolution:
    published: Published | None
    passed_over: tuple[PassedOver, ...] = field(default=())

    @property
    def implausible(self) -> tuple[PassedOver, ...]:
        return tuple(p for p in self.passed_over if p.why != "unparseable")


# A date as CAS pages write it: 2020-11-22, 2016/04/20, 2014年09月22日, optionally with a time (17:30, 17:30:05).
# The one definition: the page parsers find dates with it (cascrawl/parsers/base.py), the cleaning knows an
# info line by it (CASCRAWL_BOILERPLATE_PATTERNS in cascrawl/settings.py), and parse_datetime reads it directly.
# No groups, so that a pattern can hold it more than once.
CAS_DATE = (
    r"(?:19|20)\d{2}\s*[-/.年]\s*\d{1,2}\s*[-/.月]\s*\d{1,2}(?:\s*日)?"
    r"(?:\s*\d{1,2}[:：]\d{2}(?:[:：]\d{2})?)?"
)
# Read directly, which gives what dateparser gives (a property test holds them equal) at a hundredth of the cost.
_NUMERIC = re.compile(CAS_DATE)
_NUMBER = re.compile(r"\d+")


def parse_datetime(text: str) -> tuple[datetime, bool] | None:
    """Parse `2020-11-22 17:30`, `2020年11月22日`, `2016/04/20`, `发布时间：…` -> (aware datetime, has_time).

    The numeric forms are read directly; anything else goes to dateparser (Chinese and English,
    Asia/Shanghai).
    """
    text = (text or "").strip()
    if not text:
        return None
    # Labels like 发布时间： / 時間: are not dates; keep only what follows the last label colon.
    text = re.split(r"[:：]\s*(?=\d{4})", text)[-1]
    if _NUMERIC.fullmatch(text) is None:
        return _parse_iso(text) or parse_with_dateparser(text)
    # year, month, day[, hour, minute[, second]]: the only numbers a CAS_DATE holds
    parts = [int(number) for number in _NUMBER.findall(text)]
    try:
        moment = datetime(*parts, tzinfo=BEIJING)
    except ValueError:  # 2020-02-30, 25:00
        return None
    return moment, len(parts) > 3


_ISO = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?")


def _parse_iso(text: str) -> tuple[datetime, bool] | None:
    """ISO 8601 as metadata writes it (`2019-09-07T13:43:45+08:00`): a time zone given is honoured, none
    means Beijing time."""
    if not _ISO.fullmatch(text):
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    moment = moment.replace(tzinfo=BEIJING) if moment.tzinfo is None else moment.astimezone(BEIJING)
    return moment, True


def parse_with_dateparser(text: str) -> tuple[datetime, bool] | None:
    import dateparser  # imported when first needed: loading its language data takes a while

    parsed = dateparser.parse(text, languages=["zh", "en"], settings=_DATEPARSER_SETTINGS)
    if parsed is None:
        return None
    return parsed.astimezone(BEIJING), bool(_HAS_TIME.search(text))


def dated_text(text: str) -> str:
    """A date as a page shows it, in a form `parse_datetime` reads directly: unchanged when it is one,
    else its numbers as `YYYY-MM-DD HH:MM[:SS]` (split spans write `2019 09 / 07 19 : 02`)."""
    if _NUMERIC.fullmatch(text.strip()):
        return text
    numbers = re.findall(r"\d+", text)
    if len(numbers) < 3:
        return text
    day = f"{numbers[0]}-{int(numbers[1]):02d}-{int(numbers[2]):02d}"
    clock = ":".join(f"{int(n):02d}" for n in numbers[3:6])
    return f"{day} {clock}" if len(numbers) >= 5 else day


def timestamp_text(seconds: int) -> str:
    """A Unix timestamp as a Beijing date and time, `YYYY-MM-DD HH:MM:SS`."""
    return datetime.fromtimestamp(seconds, BEIJING).strftime("%Y-%m-%d %H:%M:%S")


_PARTIAL = re.compile(
    r"(?:(?P<year>\d{2})[-/.])?(?P<month>\d{1,2})[-/.](?P<day>\d{1,2})(?:\s*(?P<hour>\d{1,2})[:：](?P<minute>\d{2}))?"
)


def complete_date(partial: str, references: list[str], url_date: date | None = None) -> str | None:
    """A date shown without its year (`10-08 12:00`: this year's) or with two digits (`18-03-08`) made
    whole: a reference date of the page (its metadata, its scripts) with the same month and day gives
    the year; else the latest year that puts the date on or before the newest reference (a page is
    never served before it is published); else the URL's date does. None when nothing tells the year."""
    match = _PARTIAL.fullmatch(partial.strip())
    if match is None:
        return None
    month, day = int(match.group("month")), int(match.group("day"))
    clock = f" {int(match.group('hour')):02d}:{match.group('minute')}" if match.group("hour") else ""
    if match.group("year"):
        year = 2000 + int(match.group("year"))
    else:
        known = [parsed[0].date() for text in references if (parsed := parse_datetime(_first_date(text)))]
        same_day = [d for d in known if (d.month, d.day) == (month, day)]
        newest = max(known, default=url_date)
        if same_day:
            year = same_day[0].year
        elif newest is not None:
            year = newest.year if (month, day) <= (newest.month, newest.day) else newest.year - 1
        else:
            return None
    try:
        return f"{date(year, month, day).isoformat()}{clock}"
    except ValueError:
        return None


def _first_date(text: str) -> str:
    found = re.search(r"(?:19|20)\d{2}-\d{1,2}-\d{1,2}(?:[ T]\d{1,2}:\d{2}(?::\d{2})?)?", text or "")
    return found.group(0).replace("T", " ") if found else ""


def today_in_beijing() -> date:
    return datetime.now(BEIJING).date()


def implausibility(day: date, today: date | None = None) -> str | None:
    """Why `day` cannot be a publication date of the site, or None when it can."""
    today = today or today_in_beijing()
    if day > today + FUTURE_TOLERANCE:
        return "in the future"
    if day < EARLIEST:
        return f"before {EARLIEST.year}"
    return None


def is_plausible(day: date, today: date | None = None) -> bool:
    return implausibility(day, today) is None


def resolve(candidates: list[tuple[str, str | date | None]], today: date | None = None) -> Resolution:
    """First plausible candidate wins; candidates come in priority order (meta, page, listing, url)."""
    today = today or today_in_beijing()
    passed_over: list[PassedOver] = []
    for origin, value in candidates:
        if value is None or value == "":
            continue
        if isinstance(value, date) and not isinstance(value, datetime):
            day, moment = value, None
        else:
            parsed = parse_datetime(value.isoformat() if isinstance(value, datetime) else str(value))
            if parsed is None:
                passed_over.append(PassedOver(origin, str(value), "unparseable"))
                continue
            moment, has_time = parsed
            day, moment = moment.date(), (moment if has_time else None)
        why = implausibility(day, today)
        if why:
            passed_over.append(PassedOver(origin, str(value), why))
            continue
        return Resolution(Published(date=day, at=moment, origin=origin), tuple(passed_over))
    return Resolution(None, tuple(passed_over))


def resolve_published(candidates: list[tuple[str, str | date | None]], today: date | None = None) -> Published | None:
    """The winning date alone (see `resolve` for what was passed over)."""
    return resolve(candidates, today).published
