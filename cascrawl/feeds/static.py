"""Feeds as static files for a plain web server: every document of each feed's history in a folder.

Layout of the output folder (all sections at its top, each section in its own folder, `djcx/gz` nested):

    atom.xml  atom-1.xml … atom-N.xml        Atom: the current document, then archives (1 = oldest)
    feed.json feed-1.json … feed-N.json      JSON Feed: the same pages
    syky/atom.xml  syky/atom-1.xml …          one section's feed, and so on for each

Links between the documents are relative to the file (`atom-3.xml`), or absolute under `feed_url` when given
(the URL the folder is published at). Archive files a feed no longer has are removed. A file that holds
its document already is left as it is; any other is replaced whole (written beside it, then renamed), so a web
server never serves half of one.
"""

from __future__ import annotations

import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cascrawl.db import Database, reads
from cascrawl.feeds import documents

FILE_NAMES = {"atom": ("atom", ".xml"), "json": ("feed", ".json")}


@dataclass
class Written:
    documents: int = 0
    feeds: int = 0


def file_name(kind: str, number: int | None) -> str:
    stem, suffix = FILE_NAMES[kind]
    return f"{stem}{suffix}" if number is None else f"{stem}-{number}{suffix}"


def folder_of(section: str | None) -> str:
    """The feed's folder under the output folder ("" for all sections)."""
    return section or ""


def links(kind: str, section: str | None, feed_url: str | None):
    """The links of the static documents of one feed: relative to its folder, or absolute under feed_url."""
    prefix = ""
    if feed_url:
        folder = folder_of(section)
        prefix = feed_url.rstrip("/") + "/" + (folder + "/" if folder else "")
    return lambda number: prefix + file_name(kind, number)


def write_feeds(database: Database, output: Path, kinds: list[str], sections: list[str] | None, size: int,
                feed_url: str | None = None) -> Written:
    """Write every document of the feeds of `sections` (None: all sections together and each section that
    holds articles) in each of `kinds` ("atom", "json"). UnknownSection for a section not known; OSError when
    the folder cannot be written."""
    if sections is None:
        feeds: list[str | None] = [None, *reads.article_sections(database)]
    else:
        for section in sections:
            documents.check_section(database, section)
        feeds = list(sections)
    written = Written()
    for section in feeds:
        folder = output / folder_of(section)
        folder.mkdir(parents=True, exist_ok=True)
        for kind in kinds:
            link = links(kind, section, feed_url)
            current = documents.document(database, kind, section, None, size, link)
            _replace(folder / file_name(kind, None), current.body)
            written.documents += 1
            for number in range(1, current.page.archives + 1):
                archive = documents.document(database, kind, section, number, size, link)
                _replace(folder / file_name(kind, number), archive.body)
                written.documents += 1
            _remove_archives_after(folder, kind, current.page.archives)
            written.feeds += 1
    return written


def _remove_archives_after(folder: Path, kind: str, archives: int) -> None:
    """Archive files a previous export left that the feed no longer has (it shrank: fewer articles, or a
    larger page size)."""
    stem, suffix = FILE_NAMES[kind]
    pattern = re.compile(rf"^{stem}-(\d+){re.escape(suffix)}$")
    for path in folder.iterdir():
        match = pattern.match(path.name)
        if match and int(match.group(1)) > archives:
            path.unlink()


def _replace(path: Path, body: bytes) -> None:
    """Write body to path, unless the file holds it already (left alone: its modification time, which a web
    server's Last-Modified and ETag come from, stays)."""
    try:
        if path.stat().st_size == len(body) and path.read_bytes() == body:
            return
    except FileNotFoundError:
        pass
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(body)
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
