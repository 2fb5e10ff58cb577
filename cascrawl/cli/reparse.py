"""`cascrawl reparse`: the stored articles re-extracted from the WARC archive with today's code (cascrawl.reparse).

Exit codes: 0 finished; 2 degraded (problems printed: unreadable records, pages today's rules reject) or
bad usage; 1 failed (the database cannot be used or refused the writes, another run holds the lock, a
setting the pipelines refuse); 128 + the signal when stopped by SIGINT / SIGTERM (run it again to go on)."""

from __future__ import annotations

import logging
import sys
from datetime import date

from cascrawl.cli.common import DB_HELP, database_url, positive, setting_overrides


def add_commands(commands) -> None:
    reparse = commands.add_parser(
        "reparse", help="re-extract stored articles from the WARC archive with today's parsers and cleaning rules")
    reparse.add_argument("--db", metavar="URL", help=DB_HELP)
    reparse.add_argument("--section", metavar="S", help="only these sections, comma-separated (yw,syky, djcx/gz)")
    reparse.add_argument("--since", metavar="D", type=_day, help="only articles published on or after D (YYYY-MM-DD)")
    reparse.add_argument("--until", metavar="D", type=_day, help="only articles published on or before D (YYYY-MM-DD)")
    reparse.add_argument("--template", metavar="ID",
                         help="only articles stored with this template: a parser id (cas.article.current@2025) "
                              "or its name without the version (cas.article.current)")
    reparse.add_argument("--dry-run", action="store_true",
                         help="write nothing: print what would change, by field and by template, with a few diffs")
    reparse.add_argument("--processes", type=positive, metavar="N", default=None,
                         help="worker processes parsing and cleaning (default: one per core)")
    reparse.add_argument("--examples", type=int, metavar="N", default=3,
                         help="--dry-run: changed articles shown with a diff (default 3)")
    reparse.add_argument("-s", dest="settings", action="append", default=[], metavar="NAME=VALUE",
                         help="a cascrawl setting, as for a crawl, e.g. "
                              "-s 'CASCRAWL_BOILERPLATE_EXTRA_PATTERNS=[\"责任校对[:：]\\\\S+\"]'")
    reparse.add_argument("--verbose", "-v", action="store_true", help="log each stored batch too")
    reparse.set_defaults(handler=_reparse_command)


def _day(value: str) -> date:
    import argparse

    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date YYYY-MM-DD, got {value!r}") from None


def _reparse_command(args, parser) -> int:
    from cascrawl.api.records import parse_section_filter
    from cascrawl.archive.paths import archive_dir
    from cascrawl.db import DatabaseError, RunLocked
    from cascrawl.db.reparse import Selection
    from cascrawl.redact import safe_url
    from cascrawl.reparse import Options, Reparse
    from cascrawl.single_page import project_settings

    overrides = setting_overrides(args.settings, parser)
    try:
        sections = parse_section_filter(args.section, "--section") if args.section else ()
    except ValueError as error:
        parser.error(str(error))
    if args.since and args.until and args.since > args.until:
        parser.error("--since is after --until")
    url = overrides.pop("CASCRAWL_DATABASE_URL", None) or database_url(args)
    settings = project_settings({**overrides, "CASCRAWL_DATABASE_URL": url})
    options = Options(
        database_url=url, archive=archive_dir(settings),
        selection=Selection(sections=tuple(sections), since=args.since, until=args.until, template=args.template),
        overrides=overrides, processes=args.processes or 0, dry_run=args.dry_run, examples=max(0, args.examples),
        heartbeat_seconds=settings.getfloat("CASCRAWL_HEARTBEAT_SECONDS"))
    _log_to_stderr(logging.INFO if args.verbose else logging.WARNING)
    try:
        report = Reparse(options).run()
    except ValueError as error:  # a setting the pipelines refuse (a bad boilerplate pattern, CASCRAWL_SCRIPT=…)
        print(f"cascrawl: error: {error}", file=sys.stderr)
        return 1
    except DatabaseError as error:
        print(f"cascrawl: error: {error}", file=sys.stderr)
        return 1
    except RunLocked as error:
        print(f"cascrawl: error: {error}", file=sys.stderr)
        return 1
    print_report(report, options, safe_url(url))
    return report.exit_code


def _log_to_stderr(level: int) -> None:
    """cascrawl's log lines on stderr, one line each (no tracebacks for expected faults)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("cascrawl: %(message)s"))
    root = logging.getLogger("cascrawl")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False


def print_report(report, options, where: str) -> None:
    from cascrawl.reparse.compare import text_diff
    from cascrawl import stats_keys

    sys.stdout.reconfigure(encoding="utf-8")
    stats = report.stats
    rate = f", {report.rate:.0f} articles/s" if report.rate else ""
    if report.rate and report.startup_seconds >= 0.05:
        rate += f" after {report.startup_seconds:.1f} s starting the workers"
    if options.dry_run:
        print(f"reparse (dry run, nothing written) of {where}: {report.selected} articles selected, "
              f"{report.examined} examined in {report.seconds:.1f} s{rate}")
    else:
        print(f"reparse run {report.run_id} of {where}: {report.status}"
              + (f" ({report.reason})" if report.status not in ("finished", "degraded") else "")
              + f"; {report.selected} articles selected, {report.examined} examined in {report.seconds:.1f} s{rate}")
    verb = "would change" if options.dry_run else "changed"
    fields = report.by_prefix(stats_keys.reparse_changed(""))
    print(f"  {verb:<12} {stats[stats_keys.REPARSE_CHANGED]}" + (": " + ", ".join(f"{name} {count}" for name, count in fields.items())
                                              if fields else ""))
    templates = report.by_prefix(stats_keys.REPARSE_TEMPLATES)
    if templates:
        print(f"  {'by template':<12} " + ", ".join(f"{name.removesuffix('/changed')} {count}"
                                                   for name, count in templates.items()))
    print(f"  {'unchanged':<12} {stats[stats_keys.REPARSE_UNCHANGED]}")
    skipped = report.by_prefix(stats_keys.reparse_skipped(""))
    print(f"  {'skipped':<12} {stats[stats_keys.REPARSE_SKIPPED]}" + (": " + ", ".join(f"{name} {count}" for name, count in skipped.items())
                                                   if skipped else ""))
    if not options.dry_run and stats[stats_keys.REPARSE_CHANGED]:
        print(f"  {'stored':<12} {stats[stats_keys.ARTICLES_REVISED]} new revisions, "
              f"{stats[stats_keys.ARTICLES_REFRESHED]} refreshed in place")
    for found in report.problems:
        print(f"  problem: {found['text']}")
    if options.dry_run and report.examples:
        print()
        print("examples:")
        for example in report.examples:
            print(f"{example.url} ({example.template}): {', '.join(example.fields)}")
            for name in ("title", "text"):
                if name in example.fields:
                    for line in text_diff(example.stored.get(name), example.row.get(name), name):
                        print(f"  {line}")
            others = [name for name in example.fields if name not in ("title", "text")]
            for name in others:
                if name in ("html", "provenance"):
                    continue
                print(f"  {name}: {example.stored.get(name)!r} -> {example.row.get(name)!r}")
            print()
