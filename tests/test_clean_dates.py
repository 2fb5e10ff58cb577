"""Dates: the first plausible candidate wins; implausible ones are passed over and said so."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from cascrawl.dates import BEIJING, implausibility, parse_datetime, resolve

TODAY = date(2025, 6, 10)


@pytest.mark.parametrize("day, why", [
    (TODAY, None),
    (TODAY + timedelta(days=1), None),  # tomorrow: clocks and time zones
    (TODAY + timedelta(days=2), "in the future"),
    (date(1949, 1, 1), None),
    (date(1948, 12, 31), "before 1949"),
])
def test_plausible_means_from_1949_to_tomorrow(day, why):
    assert implausibility(day, TODAY) == why


def test_the_page_beats_the_listing_and_the_url_and_keeps_its_time():
    resolution = resolve([("meta", "2025-06-09 21:40"), ("listing", date(2025, 6, 10)), ("url", date(2025, 6, 10))], TODAY)
    published = resolution.published
    assert (published.date, published.at, published.origin) == (
        date(2025, 6, 9), datetime(2025, 6, 9, 21, 40, tzinfo=BEIJING), "meta")
    assert resolution.passed_over == ()


def test_an_implausible_page_date_is_passed_over_for_the_url_date_and_reported():
    resolution = resolve([("meta", "2099-01-01 08:00"), ("url", date(2025, 6, 10))], TODAY)
    assert (resolution.published.date, resolution.published.origin, resolution.published.at) == (date(2025, 6, 10), "url", None)
    assert [(p.origin, p.value, p.why) for p in resolution.implausible] == [("meta", "2099-01-01 08:00", "in the future")]


def test_no_plausible_candidate_leaves_no_date_but_every_reason():
    resolution = resolve([("page", "1900-01-01"), ("listing", "not a date"), ("url", date(2099, 1, 1))], TODAY)
    assert resolution.published is None
    assert [(p.origin, p.why) for p in resolution.passed_over] == [
        ("page", "before 1949"), ("listing", "unparseable"), ("url", "in the future")]
    assert [p.origin for p in resolution.implausible] == ["page", "url"]


def test_nothing_at_all_is_no_date_and_nothing_passed_over():
    assert resolve([("page", None), ("listing", ""), ("url", None)], TODAY) == resolve([], TODAY)
    assert resolve([], TODAY).published is None


@pytest.mark.parametrize("text, expected", [
    ("2020年11月22日 17:30", (datetime(2020, 11, 22, 17, 30, tzinfo=BEIJING), True)),
    ("發布時間：2020-11-22", (datetime(2020, 11, 22, tzinfo=BEIJING), False)),
    ("2019/07/15", (datetime(2019, 7, 15, tzinfo=BEIJING), False)),
])
def test_more_page_date_forms(text, expected):
    assert parse_datetime(text) == expected

