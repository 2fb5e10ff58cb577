"""`cascrawl fixture URL|RECORD`: an archived page into the gold fixtures (fixtures/site/, fixtures/README.md),
with an expected-JSON skeleton from today's parse, marked to be checked by hand: the gold test skips a page
so marked, until a person has compared every field with the page and removed the mark.

Exit codes: 0 written; 1 the page could not be found or read, or a file is already there; 2 bad usage;
3 no stored article has that URL."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from cascrawl.cli.common import DB_HELP, EXIT_NOT_FOUND, database_url, is_record_reference, setting_overrides

# The key that marks an expected JSON as a skeleton not yet checked (tests/test_gold.py skips such a page).
TO_CHECK = "to_check"
# Where the gold pages are, from the repository's top folder.
GOLD_DIR = "fixtures/site"


def add_commands(commands) -> None:
    fixture = commands.add_parser(
        "fixture", help="write an archived page into the gold fixtures, with an expected-JSON skeleton to check by hand")
    fixture.add_argument("page", metavar="URL|RECORD",
                         help="a stored article's URL (its archived response is used), or an archived record "
                              "FILE.warc.gz#OFFSET")
    fixture.add_argument("--db", metavar="URL", help=DB_HELP)
    fixture.add_argument("--name", metavar="NAME",
                         help="the page's path under the gold folder, without .shtml (default: the article URL's "
                              "path, syky/202506/t20250614_5073157; the gold test serves the page at that path)")
    fixture.add_argument("--into", metavar="DIR", default=GOLD_DIR,
                         help=f"the gold folder (default: {GOLD_DIR}, run from the repository's top folder)")
    fixture.add_argument("-s", dest="settings", action="append", default=[], metavar="NAME=VALUE",
                         help="a cascrawl setting for today's parse, as for a crawl")
    fixture.set_defaults(handler=_fixture_command)


def _fixture_command(args, parser) -> int:
    from cascrawl.archive.reader import ArchiveError
    from cascrawl.cli.common import archived_record
    from cascrawl.single_page import PageExtractor, project_settings
    from cascrawl.urls import parse_article_url

    overrides = setting_overrides(args.settings, parser)
    url = overrides.pop("CASCRAWL_DATABASE_URL", None) or database_url(args)
    settings = project_settings({**overrides, "CASCRAWL_DATABASE_URL": url})
    reference = args.page
    if not is_record_reference(reference):
        if not reference.lower().startswith(("http://", "https://")):
            parser.error(f"expected a stored article's http(s) URL or an archived record FILE#OFFSET, got {reference!r}")
        found = _stored_record(url, reference)
        if not isinstance(found, str):
            return found
        reference = found
    try:
        response = archived_record(reference, settings)
    except ValueError as error:
        parser.error(str(error))
    except ArchiveError as error:
        print(f"cascrawl: error: {error}", file=sys.stderr)
        return 1
    if response.truncated:
        print(f"cascrawl: error: the archived body of {response.url} was cut ({response.truncated}): not a whole page",
              file=sys.stderr)
        return 1
    article = parse_article_url(response.url)
    name = args.name or (article.canonical_url.split("://", 1)[1].split("/", 1)[1].rsplit(".", 1)[0] if article else None)
    if not name:
        parser.error(f"{response.url} is not an article URL of the site: give the page's path with --name")
    name = name.strip("/").removesuffix(".shtml")
    if ".." in Path(name).parts:
        parser.error("--name is a path inside the gold folder")
    page_path = Path(args.into) / f"{name}.shtml"
    expected_path = page_path.with_name(page_path.name.removesuffix(".shtml") + ".expected.json")
    for path in (page_path, expected_path):
        if path.exists():
            print(f"cascrawl: error: {path} is there already: choose another --name (or remove it)", file=sys.stderr)
            return 1
    body = response.content()
    try:
        stored = PageExtractor(settings)(body, response.header("Content-Type"), response.url, response.status)
    except ValueError as error:  # a setting the pipelines refuse
        print(f"cascrawl: error: {error}", file=sys.stderr)
        return 1
    skeleton = expected_skeleton(stored, response)
    page_path.parent.mkdir(parents=True, exist_ok=True)
    page_path.write_bytes(body)
    expected_path.write_text(json.dumps(skeleton, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {page_path} ({len(body)} bytes, as served{_encoding_note(response)})")
    print(f"wrote {expected_path}: today's parse ({skeleton['parser']}), to be checked by hand field by field; then "
          f"remove its {TO_CHECK!r} key so that tests/test_gold.py holds the page to it")
    if stored.rejected:
        print(f"note: today's rules reject this page ({stored.rejected[0]}: {stored.rejected[1]})")
    return 0


def _stored_record(database_url_: str, url: str) -> str | int:
    """The record reference FILE#OFFSET of the stored article of `url`, else an exit code (after a line)."""
    from cascrawl.db import Database, DatabaseError
    from cascrawl.db.reparse import archived_record_of
    from cascrawl.urls import parse_article_url

    try:
        database = Database(database_url_).open(create=False)
    except DatabaseError as error:
        print(f"cascrawl: error: {error}", file=sys.stderr)
        return 1
    try:
        article = parse_article_url(url)
        found = archived_record_of(database, article.canonical_url if article else url)
        if found is None and article is not None:
            found = archived_record_of(database, url)
    finally:
        database.close()
    if found is None:
        print(f"cascrawl: no stored article has the URL {url}", file=sys.stderr)
        return EXIT_NOT_FOUND
    if not found.get("warc_file") or found.get("warc_offset") is None:
        print(f"cascrawl: error: article {found['id']} ({found['url']}) has no archived response (stored before the "
              "archive, or with it off)", file=sys.stderr)
        return 1
    return f"{found['warc_file']}#{found['warc_offset']}"


def expected_skeleton(stored, response) -> dict:
    """The expected JSON of fixtures/README.md ("Expected JSON") from today's parse, marked to be checked."""
    record = stored.record()
    parser_id = (stored.item.get("provenance") or {}).get("parser") or record.get("template") or ""
    return {
        TO_CHECK: (f"to be checked by hand: written by `cascrawl fixture` from today's parse of the archived response "
                   f"{response.warc_file}#{response.offset}; compare every field with the page, correct it, then "
                   f"remove this key"),
        "url": record["url"],
        "section": record["section"],
        "docid": stored.item.get("docid"),
        "template": template_name(parser_id),
        "parser": parser_id,
        "listed": False,
        "title": record["title"],
        "published_date": record["published_date"],
        "published_at": record["published_at"],
        "source": record["source"],
        "author": record["author"],
        "editor": record["editor"],
        "text": record["text"],
        "attachments": [{"url": entry.get("url"), "name": entry.get("name")} for entry in record["attachments"]],
        "images": [{"url": entry.get("url"), "caption": entry.get("caption")} for entry in record["images"]],
        "archived": {"record_id": response.record_id, "warc_date": response.warc_date, "status": response.status,
                     "content_type": response.header("Content-Type")},
    }


def template_name(parser_id: str) -> str:
    """`cas.article.current@2025` -> `current`, `generic.density@2` -> `generic` (the expected JSON's template)."""
    name = parser_id.split("@", 1)[0]
    if name.startswith("cas.article."):
        return name[len("cas.article."):]
    return name.split(".", 1)[0] or name


def _encoding_note(response) -> str:
    content_type = response.header("Content-Type") or ""
    if "charset=" in content_type.lower():
        return f"; the server said {content_type!r}, which the gold test does not send: check the page's <meta>"
    return ""
