"""The article layouts of www.cas.cn, dated versions side by side (old articles keep old layouts).

Order matters: `ARTICLE_PARSERS` tries the most specific layout first; the generic extractor is
the last resort when no CAS layout matches.
"""

from __future__ import annotations

import re

from cascrawl.parsers.article import ArticleParser
from cascrawl.parsers.base import Page, label
from cascrawl.text import GLOSSED_HAN


class CurrentArticle(ArticleParser):
    """2024– pages: the newer TRS editor (`div.trs_editor_view`), head meta always present."""

    name, version = "cas.article.current", "2025"
    BODY = ("div.trs_editor_view",)
    TITLE = ("div.detail_title h1", "div.xl h1", "h1")
    INFO = ("div.detail_info", "div.xl_title2")


class MidArticle(ArticleParser):
    """2019–22 pages: `h2.xl_title`, info line `div.xl_title2 div.fl_all` (source written by a script),
    body `div.xl_content › div › div.TRS_Editor` (the outermost one when TRS nests them)."""

    name, version = "cas.article.mid", "2019"
    BODY = ("div.xl_content div.TRS_Editor",)
    TITLE = ("h2.xl_title", "div.xl h2")
    INFO = ("div.xl_title2 div.fl_all", "div.xl_title2")


class OldArticle(ArticleParser):
    """≤2018 pages: `div.TRS_Editor` deep in table/font soup, no head meta; dates like 2014年09月22日,
    the source in `span#source` or a 来源 label above the body."""

    name, version = "cas.article.old", "2014"
    BODY = ("div.TRS_Editor",)
    TITLE = ("td[class*=title]", "[class*=newtitle]", ".title")
    INFO = ()


# Traditional-script labels a re-served copy keeps from the page it copied (with or without glosses).
_COPY_MARKS = re.compile(label("當前位置", "來源", "時間", "首頁"))


class ReservedCopy(ArticleParser):
    """A CAS article re-served by another site: the origin's markup (any layout), CAS head meta
    stripped, Traditional script, often with pinyin glosses. The body is the origin's container;
    cleaning (glosses, script) is the pipelines' job."""

    name, version = "cas.article.copy", "2020"
    BODY = CurrentArticle.BODY + MidArticle.BODY + OldArticle.BODY
    TITLE = MidArticle.TITLE + CurrentArticle.TITLE
    INFO = MidArticle.INFO + CurrentArticle.INFO

    def matches(self, page: Page) -> bool:
        if page.meta.get("articletitle") or page.meta.get("pubdate"):
            return False  # the site itself: its own layouts parse it
        body = self.body_element(page)
        if body is None:
            return False
        header = page.text_before(body)
        return bool(_COPY_MARKS.search(header) or GLOSSED_HAN.search(header))
