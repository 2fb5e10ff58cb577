"""The feeds of a real crawl of the fixture copy (SQLite and PostgreSQL), read as news readers read them: by
feedparser, walking the history back from the current feed; each RFC 4287 element checked with lxml, the JSON
Feed against the 1.1 spec's required fields; conditional GET; the static export against what is served; a
real `cascrawl serve` answering feedparser's own conditional requests."""

from __future__ import annotations

import json
import re
import urllib.request
from datetime import date, datetime, timedelta, timezone
from email.utils import format_datetime
from pathlib import Path
from urllib.parse import urljoin

import feedparser
import lxml.html
import pytest
from fastapi.testclient import TestClient
from lxml import etree

from cascrawl import settings
from cascrawl.api.app import create_app
from cascrawl.db import Database
from cascrawl.db.media import record_media
from cascrawl.feeds import documents
from cascrawl.sections import SECTIONS

from .api_support import crawled_db, made_up_article, postgres_crawled_template, serve, upsert  # noqa: F401
from .conftest import expected_articles, run_cascrawl
from .db_backends import postgres_server  # noqa: F401

ARTICLES = {article["url"]: article for article in expected_articles()}
SECTIONS_CRAWLED = sorted({article["section"] for article in ARTICLES.values()})
PAGE = 4  # entries per document: the crawl's 27 articles make 7 documents of the all-sections feed
A = "{http://www.w3.org/2005/Atom}"
FH = "{http://purl.org/syndication/history/1.0}"
RFC3339_BEIJING = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?\+08:00$")


@pytest.fixture
def client(crawled_db, monkeypatch):
    monkeypatch.setattr(settings, "CASCRAWL_FEED_PAGE_SIZE", str(PAGE))
    database = Database(crawled_db).open(create=False)
    with TestClient(create_app(database)) as client:
        client.db_url = crawled_db
        yield client
    database.close()


def feed_path(kind: str, section: str | None) -> str:
    return f"http://testserver/feeds/{section + '/' if section else ''}{kind}"


def walk_atom(fetch, url: str) -> list[tuple[str, bytes]]:
    """(URL, body) of every document from `url` back through prev-archive."""
    found = []
    while url:
        body = fetch(url)
        found.append((url, body))
        older = etree.fromstring(body).find(f"{A}link[@rel='prev-archive']")
        url = urljoin(url, older.get("href")) if older is not None else None
        assert len(found) < 100
    return found


def walk_json(fetch, url: str) -> list[tuple[str, dict]]:
    found = []
    while url:
        document = json.loads(fetch(url))
        found.append((url, document))
        url = urljoin(url, document["next_url"]) if "next_url" in document else None
        assert len(found) < 100
    return found


def served(client):
    def fetch(url: str) -> bytes:
        response = client.get(url)
        assert response.status_code == 200, response.text
        return response.content
    return fetch


def expected_published(article: dict) -> str:
    return article["published_at"] or f"{article['published_date']}T00:00:00+08:00"


def which(section: str | None) -> dict[str, dict]:
    return {url: article for url, article in ARTICLES.items() if section is None or article["section"] == section}


@pytest.mark.parametrize("section", [None, "syky"])
def test_a_feed_reader_walking_the_atom_history_gets_every_article_once(client, section):
    documents = walk_atom(served(client), feed_path("atom", section))
    expected = which(section)
    assert len(documents) == -(-len(expected) // PAGE)  # the current feed and the full archive pages
    entries = []
    for url, body in documents:
        parsed = feedparser.parse(body)
        assert not parsed.bozo, (url, parsed.get("bozo_exception"))
        assert parsed.version == "atom10"
        entries.extend(parsed.entries)
    assert [entry.id for entry in entries if entry.id not in expected] == []
    assert sorted(entry.id for entry in entries) == sorted(expected), "each article exactly once"
    changes = [datetime.fromisoformat(entry.updated) for entry in entries]
    assert changes == sorted(changes, reverse=True), "newest change first, across the pages"
    for entry in entries:
        article = expected[entry.id]
        assert entry.title == article["title"]  # Chinese intact
        assert entry.link == entry.id == article["url"]
        assert entry.published == expected_published(article)
        assert RFC3339_BEIJING.match(entry.updated), entry.updated
        assert entry.tags[0].term == article["section"]
        assert entry.get("dc_source") == article["source"]
        body_text = "".join(lxml.html.fromstring(entry.content[0].value).text_content().split())
        first_paragraph = "".join(article["text"].split("\n")[0].split())
        if article["template"] != "copy":  # a re-served Traditional copy: its HTML is in the page's own script
            assert first_paragraph in body_text
        assert [link.href for link in entry.links if link.rel == "enclosure"] == \
            [image["url"] for image in article["images"]] + [file["url"] for file in article["attachments"]]


def test_every_element_rfc_4287_requires_is_there(client):
    documents = walk_atom(served(client), feed_path("atom", None))
    for number, (url, body) in enumerate(documents):
        root = etree.fromstring(body)
        assert root.tag == f"{A}feed"
        for name in ("id", "title", "updated"):
            assert len(root.findall(f"{A}{name}")) == 1, (url, name)
        assert re.match(r"^[a-z][a-z0-9+.-]*:", root.findtext(f"{A}id")), "atom:id is an absolute IRI"
        assert RFC3339_BEIJING.match(root.findtext(f"{A}updated"))
        assert root.find(f"{A}author/{A}name").text == "中国科学院"  # so every entry has an author
        links = {link.get("rel"): link.get("href") for link in root.findall(f"{A}link")}
        assert links["self"] == url and links["alternate"] == "https://www.cas.cn/"
        if number == 0:  # the current feed
            assert root.find(f"{FH}archive") is None and "current" not in links
        else:
            assert root.find(f"{FH}archive") is not None and links["current"] == feed_path("atom", None)
            assert links.get("next-archive") == (documents[number - 1][0] if number > 1 else None)
        entries = root.findall(f"{A}entry")
        assert 1 <= len(entries) <= PAGE and (number == 0 or len(entries) == PAGE)
        for entry in entries:
            for name in ("id", "title", "updated", "published", "content", "summary"):
                assert len(entry.findall(f"{A}{name}")) == 1, (url, name)
            assert RFC3339_BEIJING.match(entry.findtext(f"{A}updated"))
            assert RFC3339_BEIJING.match(entry.findtext(f"{A}published"))
            alternate = entry.findall(f"{A}link[@rel='alternate']")
            assert len(alternate) == 1 and alternate[0].get("href") == entry.findtext(f"{A}id")
            assert entry.find(f"{A}content").get("type") == "html"
            for enclosure in entry.findall(f"{A}link[@rel='enclosure']"):
                assert enclosure.get("href").startswith("https://") and "/" in enclosure.get("type")


def test_the_json_feed_meets_version_1_1_and_walks_back_through_every_article(client):
    documents = walk_json(served(client), feed_path("json", None))
    items = []
    for url, document in documents:
        assert document["version"] == "https://jsonfeed.org/version/1.1"
        assert isinstance(document["title"], str) and document["title"]
        assert isinstance(document["items"], list)
        assert document["feed_url"] == feed_path("json", None) and document["home_page_url"] == "https://www.cas.cn/"
        assert all(author.get("name") for author in document["authors"])
        for item in document["items"]:
            assert isinstance(item["id"], str)
            assert isinstance(item.get("content_html", item.get("content_text")), str)
            assert RFC3339_BEIJING.match(item["date_published"]) and RFC3339_BEIJING.match(item["date_modified"])
            for attachment in item.get("attachments", []):
                assert attachment["url"].startswith("https://") and "/" in attachment["mime_type"]
        items.extend(document["items"])
    assert sorted(item["id"] for item in items) == sorted(ARTICLES)
    atom_ids = [entry.id for _, body in walk_atom(served(client), feed_path("atom", None))
                for entry in feedparser.parse(body).entries]
    assert [item["id"] for item in items] == atom_ids  # the same pages, the same order
    for item in items:
        article = ARTICLES[item["id"]]
        assert item["title"] == article["title"] and item["date_published"] == expected_published(article)
        assert item["_cascrawl"]["source"] == article["source"]


def test_conditional_get_and_archives_that_stay_put_while_articles_arrive(crawled_copy, monkeypatch):
    monkeypatch.setattr(settings, "CASCRAWL_FEED_PAGE_SIZE", str(PAGE))
    db_url, _ = crawled_copy
    database = Database(db_url).open(create=False)
    with TestClient(create_app(database)) as client:
        first = client.get("/feeds/atom")
        etag, modified = first.headers["ETag"], first.headers["Last-Modified"]
        assert first.headers["Cache-Control"] == "no-cache"
        again = client.get("/feeds/atom", headers={"If-None-Match": etag})
        assert again.status_code == 304 and again.content == b"" and again.headers["ETag"] == etag
        assert client.get("/feeds/atom", headers={"If-Modified-Since": modified}).status_code == 304
        earlier = format_datetime(datetime.now(timezone.utc) - timedelta(days=3650), usegmt=True)
        assert client.get("/feeds/atom", headers={"If-Modified-Since": earlier}).status_code == 200
        assert client.get("/feeds/atom", headers={"If-None-Match": '"other"', "If-Modified-Since": modified}
                          ).status_code == 200  # If-None-Match decides when both are sent
        archives = walk_atom(served(client), "http://testserver/feeds/atom")[1:]

        # A crawl stores a new article (published later than any other) while the reader is away.
        later = [dict(made_up_article(n), published_date=date(2027, 1, n)) for n in (1, 2)]
        assert upsert(db_url, later[:1]).inserted == 1
        changed = client.get("/feeds/atom", headers={"If-None-Match": etag, "If-Modified-Since": modified})
        assert changed.status_code == 200 and changed.headers["ETag"] != etag
        assert changed.headers["Last-Modified"] != modified
        current = [entry.id for entry in feedparser.parse(changed.content).entries]
        assert current[0] == later[0]["url"] and len(current) == PAGE  # 28 articles: 6 archives of 4, 4 newest
        # The archives a reader already has are the same documents, and still answer 304 to their ETags.
        assert walk_atom(served(client), "http://testserver/feeds/atom")[1:] == archives
        for url, body in archives:
            response = client.get(url, headers={"If-None-Match": client.get(url).headers["ETag"]})
            assert response.status_code == 304
        # One more: the current feed's four become archive 7, unchanged otherwise; the new one is alone.
        assert upsert(db_url, later[1:]).inserted == 1
        history = walk_atom(served(client), "http://testserver/feeds/atom")
        assert [entry.id for entry in feedparser.parse(history[0][1]).entries] == [later[1]["url"]]
        assert [entry.id for entry in feedparser.parse(history[1][1]).entries] == current
        assert history[1][0] == "http://testserver/feeds/atom?page=7"
        # Archive 6 gains its next-archive link; its entries, and every older archive, stay as they were.
        assert history[3:] == archives[1:]
        assert feedparser.parse(history[2][1]).entries == feedparser.parse(archives[0][1]).entries
    database.close()


def test_a_reader_of_the_current_feed_sees_every_new_late_and_edited_article_once(crawled_copy, monkeypatch):
    monkeypatch.setattr(settings, "CASCRAWL_FEED_PAGE_SIZE", str(PAGE))
    db_url, _ = crawled_copy
    database = Database(db_url).open(create=False)
    with TestClient(create_app(database)) as client:
        def current() -> list:
            return feedparser.parse(client.get("/feeds/atom").content).entries

        def history_ids() -> list[str]:
            return [entry.id for _, body in walk_atom(served(client), "http://testserver/feeds/atom")
                    for entry in feedparser.parse(body).entries]

        # Found late: published years before everything else stored, it still comes first.
        late = dict(made_up_article(1), published_date=date(2001, 1, 1))
        assert upsert(db_url, [late]).inserted == 1
        assert current()[0].id == late["url"]
        # More news pushes it out of the current feed, into the archive.
        assert upsert(db_url, [made_up_article(n) for n in range(2, 2 + PAGE)]).inserted == PAGE
        assert late["url"] not in [entry.id for entry in current()]
        # Edited there, it comes back to the top with its new text, and stays once in the whole history.
        edited = made_up_article(1, text="第1篇测试文章的正文，已更正。\n第二段。")
        assert upsert(db_url, [dict(edited, published_date=date(2001, 1, 1))]).revised == 1
        top = current()[0]
        assert top.id == late["url"] and "已更正" in top.content[0].value
        assert history_ids().count(late["url"]) == 1
        assert sorted(history_ids()) == sorted(set(history_ids()))
    database.close()


def test_enclosures_carry_type_and_length_of_the_media_archive(crawled_copy, monkeypatch):
    db_url, _ = crawled_copy
    article = next(a for a in ARTICLES.values() if a["attachments"])
    attachment = article["attachments"][0]["url"]
    database = Database(db_url).open(create=False)
    record_media(database, [(article["url"], [{
        "kind": "attachment", "url": attachment, "status": "stored", "path": "full/x.pdf", "checksum": "0" * 32,
        "size": 4321, "content_type": "application/x-pdf", "fetched": True}])])
    with TestClient(create_app(database)) as client:
        section = article["section"]
        entry = next(e for e in feedparser.parse(client.get(f"/feeds/{section}/atom").content).entries
                     if e.id == article["url"])
        (enclosure,) = [link for link in entry.links if link.rel == "enclosure"]
        assert (enclosure.href, enclosure.type, enclosure.length) == (attachment, "application/x-pdf", "4321")
        item = next(i for i in client.get(f"/feeds/{section}/json").json()["items"] if i["id"] == article["url"])
        assert item["attachments"] == [{"url": attachment, "mime_type": "application/x-pdf",
                                        "title": article["attachments"][0]["name"], "size_in_bytes": 4321}]
    database.close()


def test_unknown_sections_and_pages_are_refused_with_what_there_is(client):
    for kind in ("atom", "json"):
        response = client.get(f"/feeds/nosuch/{kind}")
        assert response.status_code == 404
        assert set(SECTIONS_CRAWLED) <= set(response.json()["sections"]) and "no section 'nosuch'" in \
            response.json()["detail"]
        response = client.get(f"/feeds/{kind}", params={"page": 99})
        assert response.status_code == 404 and response.json()["archives"] == (len(ARTICLES) - 1) // PAGE
        assert client.get(f"/feeds/{kind}", params={"page": 0}).status_code == 422
    # a catalogue section with nothing stored is an empty feed, not an error
    empty = next(slug for slug in SECTIONS if slug not in SECTIONS_CRAWLED)
    parsed = feedparser.parse(client.get(f"/feeds/{empty}/atom").content)
    assert not parsed.bozo and parsed.entries == [] and parsed.feed.title.endswith(SECTIONS[empty])
    nested = next(slug for slug in SECTIONS_CRAWLED if "/" in slug)
    assert feedparser.parse(client.get(f"/feeds/{nested}/atom").content).entries


def test_the_openapi_schema_documents_the_feeds(client):
    paths = client.get("/openapi.json").json()["paths"]
    for path, media_type in (("/feeds/atom", "application/atom+xml"), ("/feeds/{section}/json", "application/feed+json")):
        answers = paths[path]["get"]["responses"]
        assert media_type in answers["200"]["content"]
        assert {"ETag", "Last-Modified"} <= set(answers["200"]["headers"])
        assert {"304", "404", "422"} <= set(answers)


@pytest.mark.parametrize("kind, format_", [("atom", "atom"), ("json", "jsonfeed")])
def test_the_static_export_is_what_is_served(crawled, tmp_path, monkeypatch, kind, format_):
    db_url, _ = crawled
    output = tmp_path / "feeds"
    result = run_cascrawl("export", "--db", db_url, "--format", format_, "--output", str(output),
                          "--page-size", str(PAGE))
    assert result.returncode == 0, result.stderr
    assert f"wrote {len(SECTIONS_CRAWLED) + 1} {format_} feeds" in result.stderr
    monkeypatch.setattr(settings, "CASCRAWL_FEED_PAGE_SIZE", str(PAGE))
    database = Database(db_url).open(create=False)
    name = "atom.xml" if kind == "atom" else "feed.json"
    try:
        with TestClient(create_app(database)) as client:
            for section in [None, *SECTIONS_CRAWLED]:
                static = output / (section or "") / name
                files = _walk_files(kind, static)
                online = (walk_atom if kind == "atom" else walk_json)(served(client), feed_path(kind, section))
                assert len(files) == len(online) >= 1
                for (_, on_disk), (_, answer) in zip(files, online):
                    assert _without_links(kind, on_disk) == _without_links(kind, answer)
    finally:
        database.close()
    written = sorted(str(path.relative_to(output)) for path in output.rglob("*") if path.is_file())
    assert len(written) == sum(-(-len(which(s)) // PAGE) for s in [None, *SECTIONS_CRAWLED])


def _walk_files(kind: str, path: Path) -> list:
    """The static documents from `path` back through their relative links."""
    def fetch(url: str) -> bytes:
        return Path(url).read_bytes()
    return (walk_atom if kind == "atom" else walk_json)(fetch, str(path))


def _without_links(kind: str, document):
    """The document less the links between documents (they differ: files here, URLs there)."""
    if kind == "json":
        return {key: value for key, value in document.items() if key not in ("feed_url", "next_url")}
    root = etree.fromstring(document)
    for link in root.findall(f"{A}link"):
        if link.get("rel") != "alternate":
            root.remove(link)
    return etree.tostring(root, method="c14n")


def test_cascrawl_serve_answers_a_feed_readers_conditional_requests(crawled, serve, monkeypatch):
    db_url, _ = crawled
    monkeypatch.setenv("CASCRAWL_FEED_PAGE_SIZE", "10")
    server = serve(db_url)
    url = f"{server.base}/feeds/atom"
    first = feedparser.parse(url)
    assert first.status == 200 and not first.bozo and len(first.entries) == len(ARTICLES) - 20
    assert first.href == url and first.etag and first.modified
    assert feedparser.parse(url, etag=first.etag).status == 304
    assert feedparser.parse(url, modified=first.modified).status == 304
    history = walk_atom(lambda u: urllib.request.urlopen(u, timeout=30).read(), url)
    assert len(history) == 3


def test_a_static_export_again_touches_only_the_documents_that_changed(crawled_copy, tmp_path):
    from cascrawl.feeds import static

    db_url, _ = crawled_copy
    output = tmp_path / "feeds"
    database = Database(db_url).open(create=False)
    try:
        written = static.write_feeds(database, output, ["atom"], None, PAGE)
        assert written.feeds == len(SECTIONS_CRAWLED) + 1
        top = {path.name: path.stat().st_mtime_ns for path in output.glob("*.xml")}
        assert sorted(top) == ["atom-1.xml", "atom-2.xml", "atom-3.xml", "atom-4.xml", "atom-5.xml", "atom-6.xml",
                               "atom.xml"]
        static.write_feeds(database, output, ["atom"], None, PAGE)
        assert {path.name: path.stat().st_mtime_ns for path in output.glob("*.xml")} == top
        assert upsert(db_url, [dict(made_up_article(1), published_date=date(2027, 1, 1))]).inserted == 1
        static.write_feeds(database, output, ["atom"], None, PAGE)
        after = {path.name: path.stat().st_mtime_ns for path in output.glob("*.xml")}
        assert [name for name in top if after[name] != top[name]] == ["atom.xml"]
        # A larger page size: fewer archives, and the files of the others are gone.
        static.write_feeds(database, output, ["atom"], None, 10)
        assert sorted(path.name for path in output.glob("*.xml")) == ["atom-1.xml", "atom-2.xml", "atom.xml"]
        assert not list(output.rglob(".*"))  # no temporary file left
    finally:
        database.close()


def test_the_feed_export_says_what_it_cannot_do_and_links_absolutely_when_told_where(crawled, tmp_path, capsys):
    from cascrawl.cli import main

    db_url, _ = crawled
    output = str(tmp_path / "out")
    refused = {("--format", "atom"): "give it with --output DIR",
               ("--format", "jsonfeed", "--output", output, "--since", "abc"): "--since: not with --format jsonfeed",
               ("--format", "atom", "--output", output, "--page-size", "0"): "a whole number from 1 to 1000",
               ("--format", "atom", "--output", output, "--feed-url", "ftp://x"): "expected an http(s) URL",
               ("--format", "atom", "--output", output, "--section", ","): "expected section slugs"}
    for arguments, message in refused.items():
        with pytest.raises(SystemExit) as stopped:
            main(["export", "--db", db_url, *arguments])
        assert stopped.value.code == 2 and message in capsys.readouterr().err, arguments
    assert main(["export", "--db", db_url, "--format", "atom", "--output", output, "--section", "nosuch"]) == 2
    error = capsys.readouterr().err
    assert "no section 'nosuch': the known sections are" in error and "syky" in error and "Traceback" not in error
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").rglob("*.xml"))

    assert main(["export", "--db", db_url, "--format", "atom", "--output", output, "--section", "syky",
                 "--page-size", str(PAGE), "--feed-url", "https://news.example.org/feeds/"]) == 0
    assert capsys.readouterr().err == f"wrote 1 atom feed (2 documents, {PAGE} entries a page) into {output}\n"
    root = etree.fromstring((tmp_path / "out" / "syky" / "atom.xml").read_bytes())
    links = {link.get("rel"): link.get("href") for link in root.findall(f"{A}link")}
    assert links == {"self": "https://news.example.org/feeds/syky/atom.xml", "alternate": "https://www.cas.cn/syky/",
                     "prev-archive": "https://news.example.org/feeds/syky/atom-1.xml"}


def test_a_feed_is_built_once_while_the_database_is_unchanged_and_sent_gzipped(crawled_copy, monkeypatch):
    monkeypatch.setattr(settings, "CASCRAWL_FEED_PAGE_SIZE", str(PAGE))
    db_url, _ = crawled_copy
    database = Database(db_url).open(create=False)
    with TestClient(create_app(database)) as client:
        built = []
        real = documents.document
        monkeypatch.setattr(documents, "document", lambda *args: built.append(args) or real(*args))
        plain = client.get("/feeds/atom", headers={"Accept-Encoding": "identity"})
        zipped = client.get("/feeds/atom", headers={"Accept-Encoding": "gzip"})
        assert len(built) == 1, "the second poller gets the document kept for the first"
        assert zipped.headers["Content-Encoding"] == "gzip" and "Content-Encoding" not in plain.headers
        assert zipped.content == plain.content  # the client undoes the coding: the same document
        assert zipped.headers["ETag"] == "W/" + plain.headers["ETag"]
        assert client.get("/feeds/atom", headers={"If-None-Match": zipped.headers["ETag"]}).status_code == 304
        assert upsert(db_url, [dict(made_up_article(1), published_date=date(2027, 1, 1))]).inserted == 1
        after = client.get("/feeds/atom")
        assert len(built) == 2 and feedparser.parse(after.content).entries[0].id == made_up_article(1)["url"]
    database.close()
