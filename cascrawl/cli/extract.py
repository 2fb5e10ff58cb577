"""`cascrawl extract FILE|URL|RECORD`: what cascrawl would store for one page (cascrawl.single_page), no database.
RECORD is an archived response, FILE.warc.gz#OFFSET (or --record), read from the WARC archive.

Exit codes: 0 the page would be stored as an article; 1 the page could not be read (no such file, not
readable, the URL could not be fetched, the archived record missing or cut) or a pipeline raised on it; 2 bad usage; 4 validation would reject
the page (the reason is printed, the extracted fields too)."""

from __future__ import annotations

import sys
from pathlib import Path
from urllib.parse import unquote, urlsplit

from cascrawl.cli.common import print_json

EXIT_UNREADABLE = 1
EXIT_REJECTED = 4

# A saved article file: .../<section>/<YYYYMM>/t<YYYYMMDD>_<docid>.shtml (copies also .html/.htm)
_MONTH, _DAY_AND_ID = r"\d{6}", r"t\d{8}_\d+\.s?html?"


def add_commands(commands) -> None:
    extract = commands.add_parser(
        "extract", help="what cascrawl would store for one page (a saved file, a URL or an archived record): fields, "
                        "provenance, rejection")
    extract.add_argument("page", metavar="FILE|URL|RECORD", nargs="?",
                         help="a saved HTML file, an http(s) URL to fetch (that page only), or an archived response "
                              "FILE.warc.gz#OFFSET (the WARC archive: articles.warc_file, warc_offset)")
    extract.add_argument("--record", metavar="FILE#OFFSET",
                         help="the archived response at OFFSET of the WARC file FILE (a path, or a file name in the "
                              "archive's folder), as the crawl received it: no fetch")
    extract.add_argument("--url", metavar="URL", dest="page_url",
                         help="the page's own URL, for a FILE (links resolve against it; it decides the article's "
                              "canonical URL). Default: www.cas.cn's URL for a file saved under the site's paths "
                              "(…/syky/202506/t20250614_5073157.shtml), else the file's file:// URL")
    extract.add_argument("--content-type", metavar="TYPE", default=None,
                         help="the Content-Type a server would send with a FILE, e.g. 'text/html; charset=gbk' "
                              "(default: none, the page's own <meta> and the bytes decide)")
    extract.add_argument("--json", action="store_true", help="one JSON object with the export contract's fields")
    extract.add_argument("-s", dest="settings", action="append", default=[], metavar="NAME=VALUE",
                         help="a cascrawl or Scrapy setting, as for a crawl, e.g. -s CASCRAWL_SCRIPT=keep")
    extract.set_defaults(handler=_extract_command)


def _extract_command(args, parser) -> int:
    from cascrawl.cli.common import is_record_reference, setting_overrides
    from cascrawl.single_page import project_settings

    settings = project_settings(setting_overrides(args.settings, parser))
    if args.record and args.page:
        parser.error("give a FILE, URL or RECORD, or --record, not both")
    if not args.record and not args.page:
        parser.error("expected a FILE, an http(s) URL or an archived record (FILE#OFFSET, --record)")
    scheme = "" if args.record else urlsplit(args.page).scheme.lower()
    if args.record or is_record_reference(args.page):
        if args.page_url or args.content_type:
            parser.error("--url and --content-type are for a FILE: an archived record has its own")
        archived = _archived(args.record or args.page, settings, parser)
        if archived is None:
            return EXIT_UNREADABLE
        body, content_type, url, status = archived
    elif scheme in ("http", "https"):
        if args.page_url:
            parser.error("--url is for a FILE: a fetched page's URL is the one it was fetched from")
        fetched = _fetch(args.page, settings)
        if fetched is None:
            return EXIT_UNREADABLE
        body, content_type, url, status = fetched
    elif scheme in ("", "file") or len(scheme) == 1:  # a path (C:\ on Windows reads as scheme "c")
        path = Path(unquote(urlsplit(args.page).path)) if scheme == "file" else Path(args.page)
        try:
            body = path.read_bytes()
        except OSError as error:
            print(f"cascrawl: error: cannot read {args.page}: {error.strerror or error}", file=sys.stderr)
            return EXIT_UNREADABLE
        if args.page_url and urlsplit(args.page_url).scheme.lower() not in ("http", "https", "file"):
            parser.error(f"--url must be an http(s) or file URL, got {args.page_url!r}")
        content_type, url, status = args.content_type, args.page_url or url_of_file(path), 200
    else:
        parser.error(f"expected a FILE or an http(s) URL, got {args.page!r}")

    from cascrawl.single_page import PageExtractor

    try:
        extractor = PageExtractor(settings)
    except ValueError as error:  # a setting the pipelines refuse (CASCRAWL_SCRIPT=…, a bad boilerplate pattern)
        print(f"cascrawl: error: {error}", file=sys.stderr)
        return 2
    try:
        stored = extractor(body, content_type, url, status)
    except Exception as error:  # an operator's pipeline that raises (DropItem too): in a crawl, the item is lost
        print(f"cascrawl: error: the cleaning pipelines failed on this page: {type(error).__name__}: {error}",
              file=sys.stderr)
        return EXIT_UNREADABLE
    if args.json:
        for line in stored.log:
            print(f"cascrawl: {line}", file=sys.stderr)
        print_json(stored.record())
    else:
        _print_summary(stored)
    if stored.rejected:
        if args.json:
            print(f"cascrawl: rejected: {stored.rejected[0]} ({stored.rejected[1]})", file=sys.stderr)
        return EXIT_REJECTED
    return 0


def _archived(reference: str, settings, parser) -> tuple[bytes, str | None, str, int] | None:
    """(body as Scrapy hands it to the spider, Content-Type, URL, status) of an archived response; None
    after a line on stderr when it cannot be read, or its body was cut at the size limit (a crawl
    rejected that page as too_large)."""
    from cascrawl.archive.reader import ArchiveError
    from cascrawl.cli.common import archived_record

    try:
        response = archived_record(reference, settings)
    except ValueError as error:
        parser.error(str(error))
    except ArchiveError as error:
        print(f"cascrawl: error: {error}", file=sys.stderr)
        return None
    if response.truncated:
        print(f"cascrawl: error: the archived body of {response.url} was cut ({response.truncated}): a crawl "
              "recorded it as too_large", file=sys.stderr)
        return None
    return response.content(), response.header("Content-Type"), response.url, response.status


def url_of_file(path: Path) -> str:
    """The URL a saved page had: www.cas.cn's, when the file lies under the site's paths
    (<section>/<YYYYMM>/t<YYYYMMDD>_<docid>.shtml, the section one directory, or two for the catalogue's
    two-level sections: djcx/…, kx/…, cg/…), else its file:// URL (which validation refuses)."""
    import re

    from cascrawl.sections import SECTIONS
    from cascrawl.urls import CANONICAL_BASE

    parts = path.resolve().parts
    if len(parts) >= 3 and re.fullmatch(_DAY_AND_ID, parts[-1]) and re.fullmatch(_MONTH, parts[-2]):
        two_level = {slug.split("/")[0] for slug in SECTIONS if "/" in slug}
        section = parts[-3]
        if len(parts) >= 4 and parts[-4] in two_level:
            section = f"{parts[-4]}/{section}"
        return f"{CANONICAL_BASE}/{section}/{parts[-2]}/{parts[-1]}"
    return path.resolve().as_uri()


def _fetch(url: str, settings) -> tuple[bytes, str | None, str, int] | None:
    """(body, Content-Type, final URL, status) of one GET with the crawl's User-Agent, timeout and size cap;
    None after a line on stderr when there is no answer. An HTTP error status is an answer (the crawl
    records it as a rejection)."""
    import urllib.error
    import urllib.request

    limit = settings.getint("DOWNLOAD_MAXSIZE") or None
    request = urllib.request.Request(url, headers={"User-Agent": settings.get("USER_AGENT")})
    try:
        try:
            response = urllib.request.urlopen(request, timeout=settings.getfloat("DOWNLOAD_TIMEOUT") or None)
        except urllib.error.HTTPError as error:  # 404, 500, …: its page is the answer
            response = error
        with response:
            body = response.read(limit + 1) if limit else response.read()
            status = response.status if hasattr(response, "status") else response.code
            content_type, final_url = response.headers.get("Content-Type"), response.geturl()
    except (urllib.error.URLError, OSError, ValueError) as error:
        reason = getattr(error, "reason", None) or error
        print(f"cascrawl: error: cannot fetch {url}: {reason}", file=sys.stderr)
        return None
    if limit and len(body) > limit:
        print(f"cascrawl: error: {url} is over DOWNLOAD_MAXSIZE ({limit} bytes): a crawl would record it as too_large",
              file=sys.stderr)
        return None
    return body, content_type, final_url, status


def _print_summary(stored) -> None:
    """For people: the verdict, each field with where it came from, the media, the text, the warnings."""
    from cascrawl.cli.common import cut

    sys.stdout.reconfigure(encoding="utf-8")
    record, item = stored.record(), stored.item
    provenance = record["provenance"]
    verdict = (f"REJECTED {stored.rejected[0]}: {stored.rejected[1]}" if stored.rejected
               else "would be stored as an article")
    print(f"{record['url']}: {verdict}")
    if item.get("fetched_url") and item["fetched_url"] != record["url"]:
        print(f"  page URL     {item['fetched_url']}")
    rows = [
        ("template", record["template"], None),
        ("title", record["title"], provenance.get("title")),
        ("published", " ".join(filter(None, [record["published_date"], _time_of(record["published_at"])])),
         provenance.get("published")),
        ("date text", item.get("date_text"), provenance.get("date")),
        ("source", record["source"], provenance.get("source")),
        ("author", record["author"], provenance.get("author")),
        ("editor", record["editor"], provenance.get("editor")),
        ("body", f"{len(record['text'] or '')} characters, {len((record['text'] or '').splitlines())} lines",
         provenance.get("body")),
        ("encoding", provenance.get("encoding"), None),
        ("script", item.get("script"), None),
    ]
    for label, value, origin in rows:
        shown = "—" if value in (None, "") else cut(value, 100)
        print(f"  {label:<12} {shown}" + (f"   [{origin}]" if origin else ""))
    passed_over = provenance.get("published_passed_over")
    if passed_over:
        print(f"  {'passed over':<12} {passed_over}")
    for kind, key, label in (("images", "caption", "image"), ("attachments", "name", "attachment"),
                             ("videos", "type", "video")):
        for entry in record[kind]:
            extra = entry.get(key)
            print(f"  {label:<12} {entry.get('url')}" + (f"   {cut(extra, 60)}" if extra else ""))
    print()
    print(record["text"] or "(no text)")
    if stored.log:
        print()
        print("warnings:")
        for line in stored.log:
            print(f"  {line}")


def _time_of(published_at: str | None) -> str | None:
    """`2025-06-14T16:30:00+08:00` -> `16:30 +08:00`."""
    if not published_at:
        return None
    clock, offset = published_at[11:16], published_at[19:]
    return f"{clock} {offset}".strip()
