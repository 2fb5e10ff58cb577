"""The feed builder alone (cascrawl/feeds/build.py): paging arithmetic, what an entry carries, and documents
made of plain rows that a real feed client (feedparser) and lxml read back. No database: the feeds made
from a real crawl are tested in test_feeds.py."""

from __future__ import annotations

import json
from datetime import date, datetime, timezone
from types import SimpleNamespace

import feedparser
import pytest
from lxml import etree

from cascrawl.feeds import build

A = "{http://www.w3.org/2005/Atom}"


def row(number: int, **fields) -> SimpleNamespace:
    """An article as the builder reads it (the attributes of cascrawl.db.Article)."""
    values = dict(
        url=f"https://www.cas.cn/syky/202601/t20260101_{9000 + number}.shtml", section="syky",
        title=f"第{number}篇：量子计算新进展", published_date=date(2026, 1, number), published_at=None,
        updated_at=datetime(2026, 2, 1, 4, number, tzinfo=timezone.utc), source="物理研究所", author=None,
        editor=None, text=f"第{number}篇的正文。\n第二段。", html=f"<p>第{number}篇的正文。</p><p>第二段。</p>",
        images=[], attachments=[], videos=[], media=[])
    values.update(fields)
    return SimpleNamespace(**values)


def links(number):
    return "https://feeds.example/atom" if number is None else f"https://feeds.example/atom?page={number}"


@pytest.mark.parametrize("size", [1, 2, 3, 5, 7])
def test_the_documents_of_a_history_hold_every_position_once(size):
    for total in range(0, 31):
        archives = build.archive_count(total, size)
        covered = []
        for number in [None, *range(1, archives + 1)]:
            skip, limit = build.window(build.Page(number, archives), total, size)
            covered.extend(range(skip, skip + limit))
            if number is not None:
                assert limit == size  # an archive page is always full
        assert sorted(covered) == list(range(total))
        if total:
            current = build.window(build.Page(None, archives), total, size)
            assert 1 <= current[1] <= size and current[0] == 0  # the current feed: the 1 to size newest


def test_archive_pages_do_not_move_when_newer_articles_arrive():
    size = 4
    before = {n: build.window(build.Page(n, build.archive_count(10, size)), 10, size) for n in (1, 2)}
    # Skips count from the newest: two more articles push each archive's window two further down.
    after = {n: build.window(build.Page(n, build.archive_count(12, size)), 12, size) for n in (1, 2)}
    assert {n: (skip + 2, limit) for n, (skip, limit) in before.items()} == after


def test_pages_link_to_their_neighbours():
    assert (build.Page(None, 3).older, build.Page(None, 3).newer) == (3, None)
    assert (build.Page(3, 3).older, build.Page(3, 3).newer) == (2, None)
    assert (build.Page(2, 3).older, build.Page(2, 3).newer) == (1, 3)
    assert (build.Page(1, 3).older, build.Page(1, 3).newer) == (None, 2)
    assert build.Page(None, 0).older is None


def test_dates_are_rfc3339_in_beijing_time():
    article = row(5, published_at=datetime(2026, 1, 5, 8, 30, tzinfo=timezone.utc))
    assert build.rfc3339(article.updated_at) == "2026-02-01T12:05:00+08:00"
    assert build.rfc3339(build.published(article)) == "2026-01-05T16:30:00+08:00"
    assert build.rfc3339(build.published(row(6))) == "2026-01-06T00:00:00+08:00"  # a date alone: Beijing midnight


def test_enclosures_take_type_and_size_from_the_media_archive_else_guess_them():
    stored = SimpleNamespace(url="https://www.cas.cn/a.pdf", status="stored", content_type="application/pdf; x=1",
                             size=1234, kind="attachment")
    failed = SimpleNamespace(url="https://www.cas.cn/b.jpg", status="failed", content_type=None, size=None,
                             kind="image")
    article = row(1, images=[{"url": "https://www.cas.cn/b.jpg", "caption": "图一"},
                             {"url": "https://www.cas.cn/b.jpg", "caption": "again"}],
                  attachments=[{"url": "https://www.cas.cn/a.pdf", "name": "报告.pdf"}],
                  videos=[{"url": "https://v.example/player?id=1", "type": "player", "poster": None},
                          {"url": "https://www.cas.cn/c.mp4", "type": None, "poster": None}],
                  media=[stored, failed])
    assert build.enclosures(article) == [
        build.Enclosure("https://www.cas.cn/b.jpg", "image", "图一", "image/jpeg", None),
        build.Enclosure("https://www.cas.cn/a.pdf", "attachment", "报告.pdf", "application/pdf", 1234),
        build.Enclosure("https://v.example/player?id=1", "video", None, "text/html", None),
        build.Enclosure("https://www.cas.cn/c.mp4", "video", None, "video/mp4", None),
    ]


def test_author_is_the_pages_author_else_the_source_else_the_feeds():
    assert build.authors(row(1, author="张三 李四")) == ["张三 李四"]
    assert build.authors(row(1)) == ["物理研究所"]
    assert build.authors(row(1, source=" ")) == []


def test_an_atom_document_of_plain_rows_reads_back_whole():
    articles = [row(3, text="控制字符\x0b在此\x00。", title="标题\x1f三", editor="王五",
                    images=[{"url": "https://www.cas.cn/x.png", "caption": None}]),
                row(2, html=None), row(1, author="赵六")]
    body = build.atom(build.Feed("syky"), build.Page(2, 2), articles, articles[0].updated_at, links)
    parsed = feedparser.parse(body)
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert [entry.title for entry in parsed.entries] == ["标题三", "第2篇：量子计算新进展", "第1篇：量子计算新进展"]
    first, second, third = parsed.entries
    assert first.content[0].type == "text/html" and "第3篇的正文" in first.content[0].value
    assert second.content[0].type == "text/plain" and second.content[0].value == "第2篇的正文。\n第二段。"
    assert [first.author, second.author, third.author] == ["物理研究所", "物理研究所", "赵六"]
    assert first.contributors[0].name == "王五"
    assert first.enclosures[0].href == "https://www.cas.cn/x.png" and first.enclosures[0].type == "image/png"
    assert first.summary == "控制字符在此。"
    root = etree.fromstring(body)
    assert root.find(f"{{{build.HISTORY}}}archive") is not None
    rels = {link.get("rel"): link.get("href") for link in root.findall(f"{A}link")}
    assert rels == {"self": links(2), "alternate": "https://www.cas.cn/syky/", "current": links(None),
                    "prev-archive": links(1)}


def test_a_feed_with_no_article_is_still_a_valid_document():
    body = build.atom(build.Feed(None), build.Page(None, 0), [], None, links)
    root = etree.fromstring(body)
    assert root.findtext(f"{A}updated") == "1970-01-01T08:00:00+08:00"
    assert root.find(f"{{{build.HISTORY}}}complete") is not None
    assert not feedparser.parse(body).bozo
    document = json.loads(build.json_feed(build.Feed(None), build.Page(None, 0), [], None, links))
    assert document["items"] == [] and "next_url" not in document


def test_a_json_feed_item_carries_the_article():
    article = row(4, author="张三", editor="王五", attachments=[{"url": "https://www.cas.cn/a.pdf", "name": "附件"}],
                  images=[{"url": "https://www.cas.cn/i.jpg", "caption": "图"}])
    document = json.loads(build.json_feed(build.Feed("syky"), build.Page(None, 3), [article], None, links))
    assert document["version"] == "https://jsonfeed.org/version/1.1"
    assert document["feed_url"] == links(None) and document["next_url"] == links(3)
    (item,) = document["items"]
    assert item["id"] == item["url"] == article.url
    assert item["content_html"] == article.html
    assert item["date_published"] == "2026-01-04T00:00:00+08:00"
    assert item["authors"] == [{"name": "张三"}] and item["image"] == "https://www.cas.cn/i.jpg"
    assert item["attachments"] == [{"url": "https://www.cas.cn/i.jpg", "mime_type": "image/jpeg", "title": "图"},
                                   {"url": "https://www.cas.cn/a.pdf", "mime_type": "application/pdf", "title": "附件"}]
    assert item["_cascrawl"] == {"section": "syky", "source": "物理研究所", "author": "张三", "editor": "王五"}
    assert item["tags"] == ["科研进展"]


def test_the_page_size_setting_is_a_whole_number_from_1_to_1000(caplog):
    from cascrawl.api.feeds import PAGE_SIZE_DEFAULT, _size
    from cascrawl.feeds.documents import page_size

    assert [page_size(value) for value in ("1", " 50 ", 1000)] == [1, 50, 1000]
    for bad in ("0", "1001", "ten", "", "2.5"):
        with pytest.raises(ValueError, match="a whole number from 1 to 1000"):
            page_size(bad)
    assert _size("ten") == PAGE_SIZE_DEFAULT
    assert "CASCRAWL_FEED_PAGE_SIZE" in caplog.text and "'ten'" in caplog.text
