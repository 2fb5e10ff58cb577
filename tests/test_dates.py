from datetime import date, datetime

import pytest

from cascrawl.dates import BEIJING, parse_datetime, resolve_published


@pytest.mark.parametrize("text, moment, has_time", [
    ("2020-11-22 17:30", datetime(2020, 11, 22, 17, 30, tzinfo=BEIJING), True),
    ("2020年11月22日", datetime(2020, 11, 22, tzinfo=BEIJING), False),
    ("2016/04/20", datetime(2016, 4, 20, tzinfo=BEIJING), False),
    ("发布时间：2021-03-10", datetime(2021, 3, 10, tzinfo=BEIJING), False),
    ("時間:2020-11-22", datetime(2020, 11, 22, tzinfo=BEIJING), False),
])
def test_page_date_formats_parse_in_beijing_time(text, moment, has_time):
    parsed, parsed_has_time = parse_datetime(text)
    assert (parsed, parsed_has_time) == (moment, has_time)
    assert parsed.utcoffset().total_seconds() == 8 * 3600


def test_the_page_date_beats_listing_and_url():
    published = resolve_published([("page", "2020-11-22"), ("listing", date(2020, 11, 23)), ("url", date(2020, 11, 23))])
    assert (published.date, published.at, published.origin) == (date(2020, 11, 22), None, "page")


def test_unparseable_and_implausible_dates_fall_through_to_the_next_candidate():
    published = resolve_published([("meta", "not a date"), ("page", "2099-01-01"), ("page", "1900-01-01"), ("url", date(2021, 3, 10))])
    assert (published.date, published.origin) == (date(2021, 3, 10), "url")
    assert resolve_published([("meta", None), ("url", None)]) is None
