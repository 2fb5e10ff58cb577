"""The archived response of an article, for people: found from the article's row, printed as its status
line, headers and body decoded to text (`cascrawl articles show ID --raw`, GET /articles/{id}/raw)."""

from __future__ import annotations

import os
from http import HTTPStatus
from pathlib import Path

from cascrawl.archive.paths import archive_dir
from cascrawl.archive.reader import ArchivedResponse, ArchiveError, read_response
from cascrawl.encoding import decode_html


def reader_archive_dir(database_url: str) -> Path | None:
    """The archive folder of a database for the readers (commands, API): where a crawl with the default
    settings and the same environment writes it (CASCRAWL_WARC_DIR from the environment, else next to a
    SQLite file or in the state directory)."""
    from cascrawl import settings

    return archive_dir({"CASCRAWL_DATABASE_URL": database_url, "CASCRAWL_WARC": settings.CASCRAWL_WARC,
                        "CASCRAWL_WARC_DIR": os.environ.get("CASCRAWL_WARC_DIR", settings.CASCRAWL_WARC_DIR)})


def article_response(article, folder: Path | None) -> ArchivedResponse:
    """The archived response of an article row (or revision); ArchiveError saying why there is none."""
    if not getattr(article, "warc_file", None) or getattr(article, "warc_offset", None) is None:
        raise ArchiveError(f"article {article.id} has no archived response (stored with the WARC archive off, "
                           "before it existed, or its record could not be written)")
    if folder is None:
        raise ArchiveError("the WARC archive is off here (CASCRAWL_WARC_DIR is empty): set CASCRAWL_WARC_DIR to its "
                           "folder")
    return read_response(folder, article.warc_file, article.warc_offset)


def raw_text(response: ArchivedResponse) -> str:
    """The response as text: where its record is, the status line, the headers, a blank line, the body
    (Content-Encoding undone, decoded from its charset)."""
    try:
        phrase = HTTPStatus(response.status).phrase
    except ValueError:
        phrase = ""
    lines = [f"# WARC record {response.record_id} in {response.warc_file} at offset {response.offset}, "
             f"{response.warc_date}", f"# {response.url}"]
    if response.truncated:
        lines.append(f"# the body was cut when it was fetched (WARC-Truncated: {response.truncated})")
    lines.append(f"{response.status} {phrase}".rstrip())
    lines.extend(f"{name}: {value}" for name, value in response.headers)
    text, _ = decode_html(response.content(), response.header("Content-Type"))
    return "\n".join(lines) + "\n\n" + text


def describe_archive(stats: dict | None) -> str:
    """What a run added to the archive, from its stats: `N records, M bytes in K files` (and its gap)."""
    from cascrawl import stats_keys

    stats = stats or {}
    records = int(stats.get(stats_keys.WARC_RECORDS) or 0)
    if not records and not stats.get(stats_keys.WARC_GAPS):
        return "none (the WARC archive was off, or nothing was fetched)" if stats.get(stats_keys.WARC_DIR) is None \
            else "0 records"
    files = int(stats.get(stats_keys.WARC_FILES) or 0)
    line = (f"{records} records, {int(stats.get(stats_keys.WARC_BYTES) or 0)} bytes in "
            f"{files} file{'' if files == 1 else 's'}")
    if stats.get(stats_keys.WARC_DIR):
        line += f" ({stats[stats_keys.WARC_DIR]})"
    if stats.get(stats_keys.WARC_GAPS):
        line += f"; {int(stats[stats_keys.WARC_GAPS])} responses not archived (a gap)"
    return line
