"""Looking inside: runs, articles, search, rejects, stats. Each reads the database of --db and prints a
table for people or, with --json, JSON for scripts (exit codes in cascrawl.cli.common)."""

from __future__ import annotations

import argparse
import sys

from cascrawl.cli.common import (
    DB_HELP, EXIT_NOT_FOUND, cut, open_for_reading, positive, print_json, print_table, run_id_of, when,
)


def common(command: argparse.ArgumentParser, child: bool = False) -> None:
    """--db and --json. A child command (`runs show`) must not reset what its parent's options already set."""
    default = {"default": argparse.SUPPRESS} if child else {}
    command.add_argument("--db", metavar="URL", help=DB_HELP, **default)
    command.add_argument("--json", action="store_true", help="JSON for scripts instead of a table", **default)


def add_search_arguments(search: argparse.ArgumentParser) -> None:
    """`cascrawl search` (and its alias `cascrawl db search`)."""
    search.add_argument("words", nargs="+", metavar="WORD", help="all required, e.g. 脑机接口")
    common(search)
    search.add_argument("--limit", type=positive, default=20, metavar="N", help="at most N articles (default: 20)")
    search.set_defaults(handler=_search_command)


def add_commands(commands) -> None:

    runs = commands.add_parser("runs", help="crawl runs, newest first; `runs show ID` for one run")
    common(runs)
    runs.add_argument("--limit", type=positive, default=20, metavar="N", help="at most N runs (default: 20)")
    runs.set_defaults(handler=_runs_command)
    runs_commands = runs.add_subparsers(title="runs commands", metavar="RUNS_COMMAND")
    show_run = runs_commands.add_parser("show", help="one run: status, counts, problems, rejects, settings, stats")
    show_run.add_argument("run", metavar="ID", help="run id, or `latest`")
    common(show_run, child=True)
    show_run.set_defaults(handler=_runs_show_command)

    articles = commands.add_parser("articles", help="stored articles: `articles list`, `articles show ID|URL`")
    articles_commands = articles.add_subparsers(title="articles commands", metavar="ARTICLES_COMMAND")
    listing = articles_commands.add_parser("list", help="articles, newest change first")
    common(listing)
    listing.add_argument("--section", metavar="S", help="section slug(s), comma-separated (yw,syky)")
    listing.add_argument("--since", metavar="D", help="changed at or after D (2025-06-14 or an ISO 8601 date-time; "
                                                       "Beijing time unless an offset is given)")
    listing.add_argument("--until", metavar="D", help="changed before D (a date includes that whole day)")
    listing.add_argument("--limit", type=positive, default=20, metavar="N", help="at most N articles (default: 20)")
    listing.set_defaults(handler=_articles_list_command)
    show_article = articles_commands.add_parser("show", help="one article: fields, provenance, revisions, text")
    show_article.add_argument("article", metavar="ID|URL", help="article id, or its canonical (or fetched) URL")
    common(show_article)
    show_article.add_argument("--no-text", action="store_true", help="leave the text out")
    show_article.add_argument("--raw", action="store_true", help="the response it came from, as archived (WARC): "
                              "status, headers, body as text (archive folder: CASCRAWL_WARC_DIR, else the default)")
    show_article.set_defaults(handler=_articles_show_command)
    articles.set_defaults(handler=lambda args, parser: (articles.print_help(), 2)[1])

    search = commands.add_parser("search", help="find articles whose title or text contains the words (Chinese too)")
    add_search_arguments(search)

    rejects = commands.add_parser("rejects", help="pages fetched but not stored, and why; newest first")
    common(rejects)
    rejects.add_argument("--run", metavar="ID", help="only those of this run (an id, or `latest`)")
    rejects.add_argument("--reason", metavar="CODE", help="only this reason code (http_404, missing_title, …)")
    rejects.add_argument("--limit", type=positive, default=50, metavar="N", help="at most N rejects (default: 50)")
    rejects.set_defaults(handler=_rejects_command)

    stats = commands.add_parser("stats", help="per section: articles, newest article, latest change, last run")
    common(stats)
    stats.set_defaults(handler=_stats_command)


def _runs_command(args, parser) -> int:
    from cascrawl.api.records import run_json
    from cascrawl.db import reads

    database = open_for_reading(args)
    if database is None:
        return 1
    try:
        runs = [run_json(run) for run in reads.list_runs(database, limit=args.limit)]
    finally:
        database.close()
    if args.json:
        print_json(runs)
        return 0
    if not runs:
        print("no crawl run recorded yet", file=sys.stderr)
        return 0
    print_table(
        ["run", "status", "started (Beijing)", "finished", "pages", "stored", "new", "revised", "rejects", "problems"],
        [[run["id"], run["status"], when(run["started_at"]), when(run["finished_at"])[11:],
          run["counts"]["listing_pages"], run["counts"]["articles_stored"], run["counts"]["inserted"],
          run["counts"]["revised"], run["counts"]["rejects"], "; ".join(run["problems"]) or "-"] for run in runs],
        numeric={0, 4, 5, 6, 7, 8}, caps={9: 60})
    return 0


def _runs_show_command(args, parser) -> int:
    from cascrawl.api.records import reject_json, run_detail_json
    from cascrawl.db import reads
    from cascrawl.api.records import describe_log_file
    from cascrawl.drift import describe_group
    from cascrawl.archive.show import describe_archive
    from cascrawl.health import describe_coverage

    if args.run != "latest" and not args.run.isdigit():
        parser.error(f"runs show: expected a run id or `latest`, got {args.run!r}")
    database = open_for_reading(args)
    if database is None:
        return 1
    try:
        run_id = run_id_of(database, args.run)
        found = reads.get_run(database, run_id) if run_id is not None else None
        rejects = [reject_json(row) for row in reads.list_rejects(database, run_id=run_id, limit=20)] if found else []
        incomplete = reads.incomplete_sections(database, found["sections"] or []) if found else {}
    finally:
        database.close()
    if found is None:
        if run_id is not None:
            print(f"cascrawl: no run with id {run_id}", file=sys.stderr)
        return EXIT_NOT_FOUND
    run = run_detail_json(found)
    run["incomplete_sections"] = incomplete
    if args.json:
        print_json(run)
        return 0
    sys.stdout.reconfigure(encoding="utf-8")
    print(f"run {run['id']}: {run['status']}" + (f" ({run['reason']})" if run["reason"] else ""))
    print(f"  started   {when(run['started_at'], 19)} (Beijing)")
    print(f"  finished  {when(run['finished_at'], 19) or '-'}")
    print(f"  site      {run['base_url'] or '-'}")
    print(f"  sections  {','.join(run['sections'])}")
    print("  counts    " + ", ".join(f"{label.replace('_', ' ')} {value}" for label, value in run["counts"].items()))
    print(f"  coverage  {describe_coverage(run['coverage'])}")
    print(f"  log       {describe_log_file(run['log_file'])}")
    print(f"  archive   {describe_archive(run['stats'])}")
    for section, line in incomplete.items():
        print(f"  listing   {section}: {line}")
    # The verdict's problems as stored with the run (cascrawl/run/verdict.py): the status line above and
    # this list say one thing — a finished run has none, a degraded, failed or stopped one says why.
    print("problems: none" if not run["problems"] else "problems:")
    for problem in run["problems"]:
        print(f"  - {problem}")
    if run["drift"]:
        print("drift: pages that matched no CAS layout, by where their body and heading were found")
        for group in run["drift"]:
            print(f"  - {describe_group(group)}")
    if run["rejects_by_reason"]:
        print("rejects by reason: " + ", ".join(f"{reason} {count}" for reason, count in run["rejects_by_reason"].items()))
        for reject in rejects:
            print(f"  {when(reject['seen_at'], 19)}  {reject['reason']}  {reject['url']}")
        if run["counts"]["rejects"] > len(rejects):
            print(f"  … {run['counts']['rejects'] - len(rejects)} more: cascrawl rejects --run {run['id']}")
    print("settings: " + ", ".join(f"{name}={value}" for name, value in sorted(run["settings"].items())))
    print("stats:")
    for name, value in sorted(run["stats"].items()):
        print(f"  {name}: {value}")
    return 0


def _articles_list_command(args, parser) -> int:
    from cascrawl.api.records import article_json, iso, parse_moment, parse_section_filter
    from cascrawl.db import reads

    try:
        filters = reads.ArticleFilter(
            sections=parse_section_filter(args.section, "--section"),
            since=parse_moment(args.since, "--since") if args.since else None,
            until=parse_moment(args.until, "--until", end_of_day=True) if args.until else None,
        )
    except ValueError as error:
        parser.error(str(error))
    database = open_for_reading(args)
    if database is None:
        return 1
    try:
        page = reads.list_articles(database, filters, limit=args.limit, newest_first=True)
        total = reads.count_articles(database, filters)
    finally:
        database.close()
    if args.json:
        print_json([article_json(article) for article in page.articles])
        return 0
    if page.articles:
        print_table(["id", "published", "section", "rev", "changed (Beijing)", "title"],
                     [[a.id, a.published_date.isoformat(), a.section, a.revision, when(iso(a.updated_at)), a.title]
                      for a in page.articles], numeric={0, 3}, caps={5: 60})
    print(f"{len(page.articles)} of {total} article(s), newest change first", file=sys.stderr)
    return 0


def _articles_show_command(args, parser) -> int:
    from cascrawl.api.records import article_detail_json
    from cascrawl.db import reads
    from cascrawl.sections import SECTIONS

    database = open_for_reading(args)
    if database is None:
        return 1
    try:
        key = args.article.strip()
        article = reads.get_article(database, article_id=int(key)) if key.isdigit() else reads.get_article(database, url=key)
        detail = article_detail_json(article, reads.article_revisions(database, article.id)) if article else None
    finally:
        database.close()
    if detail is None:
        print(f"cascrawl: no article {'with id ' if key.isdigit() else 'at '}{key}", file=sys.stderr)
        return EXIT_NOT_FOUND
    if args.raw:
        return _print_raw(article, database.url)
    if args.no_text:
        detail["text"] = None
        for revision in detail["revisions"]:
            revision["text"] = None
    if args.json:
        print_json(detail)
        return 0
    sys.stdout.reconfigure(encoding="utf-8")
    published = detail["published_date"] + (f" {detail['published_at'][11:16]} (+08:00)" if detail["published_at"] else "")
    fields = [
        ("url", detail["url"]),
        ("fetched from", detail["fetched_url"] if detail["fetched_url"] != detail["url"] else None),
        ("section", f"{detail['section']} {SECTIONS.get(detail['section'], '')}".strip()),
        ("published", published),
        ("source", detail["source"]), ("author", detail["author"]), ("editor", detail["editor"]),
        ("layout", detail["template"]), ("script", detail["script"]),
        ("revision", f"{detail['revision']} (first seen {when(detail['first_seen_at'])}, changed "
                     f"{when(detail['updated_at'])}, last seen {when(detail['last_seen_at'])}, Beijing)"),
        ("content hash", detail["content_hash"]),
        ("images", len(detail["images"])), ("attachments", len(detail["attachments"])),
    ]
    print(f"#{detail['id']}  {detail['title']}")
    for label, value in fields:
        if value is not None:
            print(f"  {label:<13}{value}")
    print("provenance:")
    for name, origin in sorted((detail["provenance"] or {}).items()):
        print(f"  {name:<13}{origin}")
    print("revisions: " + ("none (first version)" if not detail["revisions"] else ""))
    for revision in detail["revisions"]:
        print(f"  r{revision['revision']}  arrived {when(revision['updated_at'])}  replaced {when(revision['replaced_at'])}"
              f"  {revision['content_hash'][:12]}  {cut(revision['title'], 50)}")
    if detail["text"] is not None:
        print("text:")
        for paragraph in detail["text"].splitlines():
            print(f"  {paragraph}")
    return 0


def _print_raw(article, database_url: str) -> int:
    from cascrawl.archive.reader import ArchiveError
    from cascrawl.archive.show import article_response, raw_text, reader_archive_dir

    try:
        response = article_response(article, reader_archive_dir(database_url))
    except ArchiveError as error:
        print(f"cascrawl: {error}", file=sys.stderr)
        return EXIT_NOT_FOUND
    sys.stdout.reconfigure(encoding="utf-8")
    print(raw_text(response))
    return 0


def _search_command(args, parser) -> int:
    database = open_for_reading(args)
    if database is None:
        return 1
    try:
        hits = database.search(" ".join(args.words), limit=args.limit)
    finally:
        database.close()
    if args.json:
        print_json([{**hit, "published_date": hit["published_date"].isoformat()} for hit in hits])
        return 0
    sys.stdout.reconfigure(encoding="utf-8")
    for hit in hits:
        print(f"{hit['published_date']}  {hit['section']}  {hit['title']}\n    {hit['url']}\n    {hit['snippet']}")
    print(f"{len(hits)} article(s) found", file=sys.stderr)
    return 0


def _rejects_command(args, parser) -> int:
    from cascrawl.api.records import reject_json
    from cascrawl.db import reads

    if args.run is not None and args.run != "latest" and not args.run.isdigit():
        parser.error(f"--run: expected a run id or `latest`, got {args.run!r}")
    database = open_for_reading(args)
    if database is None:
        return 1
    try:
        run_id = run_id_of(database, args.run) if args.run is not None else None
        if args.run is not None and run_id is None:
            return EXIT_NOT_FOUND
        if run_id is not None and reads.get_run(database, run_id) is None:
            print(f"cascrawl: no run with id {run_id}", file=sys.stderr)
            return EXIT_NOT_FOUND
        rejects = [reject_json(row) for row in reads.list_rejects(database, run_id=run_id, reason=args.reason,
                                                                   limit=args.limit)]
    finally:
        database.close()
    if args.json:
        print_json(rejects)
        return 0
    if rejects:
        print_table(["id", "run", "seen (Beijing)", "reason", "next try (Beijing)", "url", "detail"],
                     [[r["id"], r["run_id"] or "-", when(r["seen_at"], 19), r["reason"],
                       when(r["next_try_at"]) or "-", r["url"], r["detail"] or ""]
                      for r in rejects], numeric={0, 1}, caps={5: 80, 6: 60})
    print(f"{len(rejects)} reject(s)", file=sys.stderr)
    return 0


def _stats_command(args, parser) -> int:
    from cascrawl.api.records import section_json
    from cascrawl.db import reads
    from cascrawl.sections import SECTIONS

    database = open_for_reading(args)
    if database is None:
        return 1
    try:
        sections = [section_json(stats) for stats in reads.section_stats(database)]
        totals = reads.totals(database)
    finally:
        database.close()
    if args.json:
        print_json({"totals": totals, "sections": sections})
        return 0
    print_table(
        ["section", "name", "articles", "newest article", "last change (Beijing)", "last run"],
        [[s["section"], SECTIONS.get(s["section"], ""), s["articles"], s["newest_published_date"] or "-",
          when(s["last_updated_at"]) or "-",
          f"#{s['last_run']['id']} {s['last_run']['status']} {when(s['last_run']['started_at'])}" if s["last_run"] else "-"]
         for s in sections], numeric={2})
    for s in sections:
        if s["incomplete"]:
            print(f"{s['section']}: {s['incomplete']}")
    print(f"{totals['articles']} articles, {totals['revisions']} earlier revisions, {totals['runs']} runs, "
          f"{totals['rejects']} rejects")
    return 0
