"""The two readings of section slugs (cascrawl/sections.py, cascrawl/api/records.py): a crawl's sections fall
back to the defaults, a filter of stored articles refuses what is no slug; both split the same way."""

from __future__ import annotations

import pytest

from cascrawl.api.records import parse_section_filter
from cascrawl.sections import DEFAULT_SECTIONS, parse_sections, split_sections


def test_slugs_are_split_stripped_and_kept_once_in_order():
    assert split_sections(" syky/, yw ,,syky, djcx/gz/") == ("syky", "yw", "djcx/gz")
    assert split_sections(["yw", " yw/ ", "kj"]) == ("yw", "kj")
    assert split_sections("/") == ("",)  # only slashes: a slug the filter refuses


@pytest.mark.parametrize("value", [None, "", ",", "/", [], ["", " "]])
def test_a_crawl_with_no_section_named_walks_the_defaults(value):
    assert parse_sections(value) == list(DEFAULT_SECTIONS)


def test_a_crawl_walks_the_sections_named_even_unknown_ones():
    assert parse_sections("yw, newcolumn/") == ["yw", "newcolumn"]


def test_a_section_filter_is_the_same_split_and_none_means_no_filter():
    assert parse_section_filter(" syky/, yw ,,syky") == split_sections(" syky/, yw ,,syky") == ("syky", "yw")
    assert parse_section_filter(None) == ()


@pytest.mark.parametrize("value", ["", ",", "/", "Yw", "yw,../x"])
def test_a_section_filter_refuses_what_is_no_slug(value):
    with pytest.raises(ValueError, match="section slugs"):
        parse_section_filter(value)


def test_the_api_filter_is_strict_about_spaces_and_stray_slashes():
    assert parse_section_filter("yw,djcx/gz", strict=True) == ("yw", "djcx/gz")
    with pytest.raises(ValueError):
        parse_section_filter("yw, syky/", strict=True)
