"""The spool of earlier runs written first, at the start of a run (before the spider reads what is known):
each file written, then removed. Bad lines are quarantined (cascrawl.spool.Spool.read), a file that cannot be
read or written is moved aside; neither stops the run."""

from __future__ import annotations

import logging
from pathlib import Path

from cascrawl.run.outage import StartRefused, wait_at_start
from cascrawl.run.writes import BatchWriter
from cascrawl.spool import Spool

logger = logging.getLogger(__name__)


async def replay_spool(spool: Spool, writer: BatchWriter, outage_seconds: float, stats) -> None:
    """Every spool of this database, written through `writer` (a database locked or away waited for as at the
    start of the run, StartRefused if it stays so); the counts in `stats`."""
    bad, quarantined, unreadable = 0, [], []
    for path in spool.pending():
        try:
            contents = Spool.read(path)
        except OSError as error:
            unreadable.append(_spool_unreadable(path, error))
            continue
        if contents.bad:
            bad += len(contents.bad)
            where = f"{path}.rejected"
            if contents.quarantine_error:  # the reasons are in the log line below all the same
                where = f"the log (could not write {where}: {contents.quarantine_error})"
            quarantined.append(where)
            logger.warning("spool %s: %d bad lines, kept in %s: %s", path, len(contents.bad), where,
                           "; ".join(f"line {number}: {reason}" for number, reason in contents.bad))
        try:
            result = (await wait_at_start(writer.database, outage_seconds, stats, f"writing the spool {path}",
                                          writer.write, contents.articles, contents.rejects))[0]
        except StartRefused:
            raise
        except Exception as error:  # records of a shape no check foresaw: never a reason to stop the run
            unreadable.append(_spool_unreadable(path, error))
            continue
        try:
            path.unlink()
        except OSError as error:  # written: replaying it again later only stores the same rows again
            logger.warning("could not remove the spool %s after writing it: %s", path, error)
        stats.inc_value("cascrawl/db/spool_replayed_articles", result.stored)
        stats.inc_value("cascrawl/db/spool_replayed_rejects", len(contents.rejects))
        stats.inc_value("cascrawl/db/spool_replayed_inserted", result.inserted)
        logger.warning("replayed the spool %s: %d articles stored (%d new), %d rejects recorded",
                       path, result.stored, result.inserted, len(contents.rejects))
    if bad:
        stats.set_value("cascrawl/db/spool_bad_lines", bad)
        stats.set_value("cascrawl/db/spool_quarantine", quarantined)
    if unreadable:
        stats.set_value("cascrawl/db/spool_unreadable", unreadable)


def _spool_unreadable(path: Path, error: Exception) -> str:
    """One line on a spool that cannot be read (or written): moved aside (or not) so that it never blocks a run."""
    if isinstance(error, OSError):
        problem = f"cannot be read ({error.strerror or error})"
    else:
        problem = f"could not be written ({type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''})"
    try:
        moved = Spool.move_aside(path)
        line = f"{path} {problem}: moved aside to {moved}"
    except OSError as again:
        line = f"{path} {problem} nor moved aside ({again.strerror or again})"
    logger.error("spool %s", line)
    return line
