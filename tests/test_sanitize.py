"""The allow-list sanitizer (cascrawl/sanitize.py) on hostile markup, and on what an article needs kept."""

from __future__ import annotations

import re

import lxml.html
import pytest

from cascrawl.parsers import parse_article
from cascrawl.sanitize import sanitize_html, url_scheme
from cascrawl.text import html_to_text

from .conftest import SITE

SCRIPT_URL = re.compile(r"^\s*(?:javascript|vbscript|data|livescript):", re.IGNORECASE)

# (what a hostile page holds, what must be left of it)
HOSTILE = [
    ('<p onclick="alert(1)" onmouseover=alert(2)>文</p>', "<p>文</p>"),
    ('<img src="https://www.cas.cn/a.jpg" onerror="alert(1)" alt="图">', '<img src="https://www.cas.cn/a.jpg" alt="图">'),
    ('<a href="javascript:alert(1)">a</a>', '<a rel="noopener">a</a>'),
    ('<a href="JaVaScRiPt:alert(1)">a</a>', '<a rel="noopener">a</a>'),
    ('<a href="  javascript:alert(1)">a</a>', '<a rel="noopener">a</a>'),
    ('<a href="jav&#x09;ascript:alert(1)">a</a>', '<a rel="noopener">a</a>'),
    ('<a href="jav&#10;ascript:alert(1)">a</a>', '<a rel="noopener">a</a>'),
    ('<a href="&#106;&#97;vascript&colon;alert(1)">a</a>', '<a rel="noopener">a</a>'),
    ('<a href="&#x01;javascript:alert(1)">a</a>', '<a rel="noopener">a</a>'),
    ('<a href="vbscript:msgbox(1)">a</a>', '<a rel="noopener">a</a>'),
    ('<a href="VBScript:msgbox(1)">a</a>', '<a rel="noopener">a</a>'),
    ('<a href="JaVa%09ScRiPt:alert(1)">a</a>', '<a rel="noopener">a</a>'),  # how lxml writes a tab in an href
    ('<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">a</a>', '<a rel="noopener">a</a>'),
    ('<img src="data:image/svg+xml,&lt;svg onload=alert(1)&gt;">', "<img>"),
    ('<img src=" DATA:image/png;base64,AAAA">', "<img>"),
    ('<img src="mailto:x@example.com">', "<img>"),
    ('<svg onload="alert(1)"><circle r="1"/>图</svg>后', "后"),
    ('<svg><script>alert(1)</script></svg>', ""),
    ("<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>", ""),
    ('<div style="width: expression(alert(1))">文</div>', "<div>文</div>"),
    ('<p style="background:url(javascript:alert(1))">文</p>', "<p>文</p>"),
    ('<base href="https://evil.example/">文', "文"),
    ('<meta http-equiv="refresh" content="0;url=javascript:alert(1)">文', "文"),
    ('<iframe srcdoc="&lt;script&gt;alert(1)&lt;/script&gt;">框</iframe>文', "文"),
    ('<iframe src="javascript:alert(1)"></iframe>', ""),
    ('<form action="https://evil.example/"><input name="q"><button>发送</button></form>文', "文"),
    ('<object data="https://evil.example/x.swf"><param name="a" value="b">对象</object>', ""),
    ('<embed src="https://evil.example/x.swf">', ""),
    ("<script>alert(1)</script>文", "文"),
    ('<style>body{background:url("javascript:alert(1)")}</style>文', "文"),
    ("<noscript><img src=x onerror=alert(1)></noscript>文", "文"),
    ("<template><img src=x onerror=alert(1)></template>文", "文"),
    ('<link rel="stylesheet" href="https://evil.example/x.css">文', "文"),
    ('<a href="https://www.cas.cn/" target="_blank" rel="opener" id="x" class="y" name="z">a</a>',
     '<a href="https://www.cas.cn/" rel="noopener">a</a>'),
    ('<video src="javascript:alert(1)" poster="javascript:alert(2)" onplay="alert(3)" controls></video>',
     "<video controls=\"\"></video>"),
    ('<video><source src="vbscript:x" type="video/mp4"></video>', '<video><source type="video/mp4"></video>'),
    ('<img src="https://www.cas.cn/a.jpg" width="100px;expression(alert(1))" height="50">',
     '<img src="https://www.cas.cn/a.jpg" height="50">'),
    ('<!-- <script>alert(1)</script> -->文', "文"),
    ("<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>", "<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>"),
]


@pytest.mark.parametrize(("hostile", "left"), HOSTILE)
def test_hostile_markup_is_reduced_to_what_the_allow_list_keeps(hostile, left):
    assert sanitize_html(hostile) == left
    assert_safe(sanitize_html(hostile))


def test_what_an_article_needs_is_kept():
    article = (
        "<h2>标题</h2><p>第一段<strong>重点</strong><em>强调</em><br>下一行</p>"
        "<ul><li>一</li></ul><ol start=\"3\"><li>三</li></ol>"
        '<table><thead><tr><th colspan="2">表头</th></tr></thead><tbody><tr><td rowspan="2">格</td><td>格</td></tr>'
        "</tbody></table>"
        '<figure><img src="https://www.cas.cn/W1.jpg" alt="图一" width="600" height="400"><figcaption>图注</figcaption>'
        "</figure>"
        '<p><a href="https://www.cas.cn/yw/">要闻</a> <a href="http://www.cas.cn/">旧址</a> '
        '<a href="mailto:news@cas.cn">来信</a></p>'
        '<video controls="" poster="https://www.cas.cn/p.jpg"><source src="https://www.cas.cn/v.mp4" type="video/mp4">'
        "</video>"
    )
    assert sanitize_html(article) == article.replace('">要闻', '" rel="noopener">要闻').replace(
        '">旧址', '" rel="noopener">旧址').replace('">来信', '" rel="noopener">来信')


def test_none_stays_none_and_text_stays_text():
    assert sanitize_html(None) is None
    assert sanitize_html("") == ""
    assert sanitize_html("只有文字 & 符号 < >") == "只有文字 &amp; 符号 &lt; &gt;"


def test_characters_no_parser_takes_are_dropped_not_fatal():
    assert sanitize_html("<p>a\x00b\ud800c</p>") == "<p>abc</p>"


@pytest.mark.parametrize("fragment", [
    "\ufeff", "\ufeff\ufeff", "\ufeff\ufeff<p>文</p>", "<p>\ufeff文</p>",
    # a heading opened inside one that an unknown element keeps open: the parser nests them, which once written
    # parses as two headings side by side (the fuzzer's find, reduced)
    "<h3><l><h3>", "<h2>标题<x-y><h2>文</h2></x-y></h2>",
])
def test_what_the_parser_settles_in_one_more_pass_is_sanitized_once_and_for_all(fragment):
    clean = sanitize_html(fragment)
    assert sanitize_html(clean) == clean and html_to_text(clean) == html_to_text(fragment)


@pytest.mark.parametrize(("url", "scheme"), [
    ("https://www.cas.cn/", "https"), (" JavaScript:alert(1)", "javascript"), ("java\tscript:x", "javascript"),
    ("\x01data:,x", "data"), ("/yw/", None), ("./a.jpg", None), ("#top", None), ("a:b", "a"),
])
def test_the_scheme_of_a_url_is_read_as_a_browser_reads_it(url, scheme):
    assert url_scheme(url) == scheme


def test_sanitizing_keeps_the_text_of_a_hostile_fragment():
    fragment = "".join(hostile for hostile, _ in HOSTILE)
    assert html_to_text(sanitize_html(fragment)) == html_to_text(fragment)


def test_a_base_in_the_body_does_not_move_the_links_of_the_fragment():
    page = (SITE / "cm" / "202503" / "t20250311_5052789.shtml").read_text("utf-8")
    hostile = page.replace('trs_paper_default">', 'trs_paper_default"><base href="https://evil.example/">', 1)
    assert hostile != page
    data = parse_article(hostile, "http://127.0.0.1:8000/cm/202503/t20250311_5052789.shtml")
    assert "evil.example" not in data.body_html and "<base" not in data.body_html
    assert '<img src="https://www.cas.cn/cm/202503/W020250311512893746021.jpg"' in data.body_html


def assert_safe(html: str | None) -> None:
    """No event handler, style, or script-capable URL anywhere in `html`; none of the dropped elements."""
    if not html:
        return
    root = lxml.html.fragment_fromstring(html, create_parent="div")
    for element in root.iter():
        if not isinstance(element.tag, str):
            continue
        assert element.tag not in ("script", "style", "iframe", "object", "embed", "form", "base", "meta", "svg",
                                   "math", "link", "input"), html
        for name, value in element.attrib.items():
            assert not name.lower().startswith("on") and name.lower() not in ("style", "srcdoc", "formaction"), html
            if name in ("href", "src", "poster", "action", "data"):
                assert url_scheme(value) in (None, "http", "https", "mailto"), html
                assert not SCRIPT_URL.match(value), html
