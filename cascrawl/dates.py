"""Publication dates of CAS pages, in Beijing time (Asia/Shanghai)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import dateparser

BEIJING = ZoneInfo("Asia/Shanghai")
_EARLIEST = date(1949, 10, 1)  # before the Academy existed
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


def parse_datetime(text: str) -> tuple[datetime, bool] | None:
    """Parse `2020-11-22 17:30`, `2020年11月22日`, `2016/04/20`, `发布时间：…` -> (aware datetime, has_time)."""
    text = (text or "").strip()
    if not text:
        return None
    # Labels like 发布时间： / 時間: are not dates; keep only what follows the last label colon.
    text = re.split(r"[:：]\s*(?=\d{4})", text)[-1]
    parsed = dateparser.parse(text, languages=["zh", "en"], settings=_DATEPARSER_SETTINGS)
    if parsed is None:
        return None
    return parsed.astimezone(BEIJING), bool(_HAS_TIME.search(text))


def is_plausible(day: date, today: date | None = None) -> bool:
    today = today or datetime.now(BEIJING).date()
    return _EARLIEST <= day <= today + timedelta(days=1)


def resolve_published(candidates: list[tuple[str, str | date | None]]) -> Published | None:
    """First plausible candidate wins; candidates come in priority order (meta, page, listing, url)."""
    for origin, value in candidates:
        if value is None or value == "":
            continue
        if isinstance(value, date) and not isinstance(value, datetime):
            if is_plausible(value):
                return Published(date=value, at=None, origin=origin)
            continue
        parsed = parse_datetime(str(value))
        if parsed is None:
            continue
        moment, has_time = parsed
        if is_plausible(moment.date()):
            return Published(date=moment.date(), at=moment if has_time else None, origin=origin)
    return None
