"""Real-page benchmark: cascrawl's extraction and the installed peers on ../shared/realpages (30 real Chinese
news and government pages with hand-made labels), scored by the corpus README's rule.

    .venv/bin/python scripts/bench_realpages.py [--pages DIR] [--pages-detail] [--repeat N] [--cpu] [--only-cascrawl]

Prints one row per extractor: body F1 mean and minimum, pages below 0.5, titles and dates exact, leaks, and
the median ms/page. `cascrawl` is what a crawl would store (cascrawl.single_page: decoding, parsing and the
cleaning pipelines); `cascrawl parse only` is `parse_article` + HTML to text (the generic path's own time). Peers (trafilatura, readability-lxml, GNE) are scored when installed
(`pip install -e '.[bench]'`). `--pages-detail` adds one row per page for cascrawl.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests.support: the repository's, not installed
from cascrawl.dates import parse_datetime  # noqa: E402
from cascrawl.encoding import decode_html  # noqa: E402
from cascrawl.parsers import parse_article  # noqa: E402
from cascrawl.single_page import extract_page  # noqa: E402
from cascrawl.text import html_to_text  # noqa: E402
from tests.support.evaluation import realpage_body_f1, realpage_date_ok, realpage_leaks, realpage_title_ok  # noqa: E402

DEFAULT_PAGES = Path(__file__).resolve().parent.parent.parent / "shared" / "realpages"


def load_corpus(directory: Path) -> list[tuple[dict, str, bytes]]:
    """(truth, decoded html, the saved bytes) per page of the corpus."""
    corpus = []
    for line in (directory / "truth.jsonl").read_text(encoding="utf-8").splitlines():
        if line.strip():
            truth = json.loads(line)
            raw = (directory / "pages" / truth["file"]).read_bytes()
            html, _ = decode_html(raw, None)
            corpus.append((truth, html, raw))
    return corpus


def page_url(truth: dict) -> str:
    return f"http://{truth['site']}.example/{truth['file']}"


def _day(text: str | None) -> str | None:
    parsed = parse_datetime(text) if text else None
    return parsed[0].date().isoformat() if parsed else None


def cascrawl(html: str, url: str, raw: bytes) -> dict:
    """What cascrawl would store: the saved bytes through the crawl's decoding, parsing and cleaning pipelines
    (cascrawl.single_page). The corpus URLs are not www.cas.cn's, so validation files each page as a reject
    (not_an_article_url); its fields are what is scored."""
    record = extract_page(raw, "text/html", url).record()
    return {"title": record["title"], "date": record["published_date"], "text": record["text"],
            "path": record["provenance"].get("body") or record["template"]}


def cascrawl_parse(html: str, url: str, raw: bytes) -> dict:
    """The parser alone (`parse_article` + HTML to text), without the cleaning pipelines: the generic
    path's own time and what it hands to the pipelines."""
    data = parse_article(html, url)
    return {"title": data.title, "date": _day(data.date_text), "text": html_to_text(data.body_html or ""),
            "path": data.parser}


def peers() -> dict:
    found = {}
    try:
        import trafilatura

        def run_trafilatura(html, url, raw):
            doc = trafilatura.bare_extraction(html, url=url, with_metadata=True)
            doc = doc.as_dict() if hasattr(doc, "as_dict") else (doc or {})
            return {"title": doc.get("title"), "date": (doc.get("date") or "")[:10] or None, "text": doc.get("text")}

        found["trafilatura"] = run_trafilatura
    except ImportError:
        pass
    try:
        from readability import Document

        def run_readability(html, url, raw):
            document = Document(html)
            return {"title": document.short_title(), "date": None, "text": html_to_text(document.summary())}

        found["readability-lxml"] = run_readability
    except ImportError:
        pass
    try:
        from gne import GeneralNewsExtractor

        def run_gne(html, url, raw):
            result = GeneralNewsExtractor().extract(html)
            return {"title": result.get("title"), "date": (result.get("publish_time") or "")[:10] or None,
                    "text": result.get("content")}

        found["GNE"] = run_gne
    except ImportError:
        pass
    return found


def score(name: str, extractor, corpus, repeat: int, clock=time.perf_counter) -> dict:
    rows = []
    for truth, html, raw in corpus:
        url = page_url(truth)
        times = []
        for _ in range(repeat):
            start = clock()
            try:
                got = extractor(html, url, raw)
            except Exception as error:  # a peer that breaks on a page scores 0 there
                got = {"title": None, "date": None, "text": "", "error": f"{type(error).__name__}: {error}"}
            times.append((clock() - start) * 1000)
        rows.append({
            "file": truth["file"], "ms": statistics.median(times),
            "f1": realpage_body_f1(got.get("text"), truth["body_paragraphs"]),
            "title": realpage_title_ok(got.get("title"), truth), "date": realpage_date_ok(got.get("date"), truth),
            "leaks": realpage_leaks(got.get("text"), truth["body_paragraphs"]), "got": got,
        })
    return {"name": name, "rows": rows}


def summary(result: dict) -> dict:
    rows = result["rows"]
    return {
        "f1_mean": statistics.mean(r["f1"] for r in rows), "f1_min": min(r["f1"] for r in rows),
        "below_half": sum(r["f1"] < 0.5 for r in rows), "titles": sum(r["title"] for r in rows),
        "dates": sum(r["date"] for r in rows), "leaks": sum(len(r["leaks"]) for r in rows),
        "ms_median": statistics.median(r["ms"] for r in rows), "pages": len(rows),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pages", type=Path, default=DEFAULT_PAGES, help="the corpus folder (default %(default)s)")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per page (median taken)")
    parser.add_argument("--pages-detail", action="store_true", help="one row per page for cascrawl")
    parser.add_argument("--only-cascrawl", action="store_true", help="skip the peers")
    parser.add_argument("--cpu", action="store_true",
                        help="time in CPU seconds of this process (steadier than wall time on a shared machine)")
    args = parser.parse_args()
    if not (args.pages / "truth.jsonl").is_file():
        print(f"no real-page corpus at {args.pages} (truth.jsonl missing)", file=sys.stderr)
        return 1
    corpus = load_corpus(args.pages)
    extractor_list = {"cascrawl": cascrawl, "cascrawl parse only": cascrawl_parse}
    extractors = {**extractor_list, **({} if args.only_cascrawl else peers())}
    clock = time.process_time if args.cpu else time.perf_counter
    results = [score(name, run, corpus, args.repeat, clock) for name, run in extractors.items()]
    n = len(corpus)
    print(f"{'extractor':18} {'F1 mean':>8} {'F1 min':>7} {'<0.5':>5} {'titles':>7} {'dates':>6} {'leaks':>6} {'ms/page':>8}")
    for result in results:
        s = summary(result)
        print(f"{result['name']:18} {s['f1_mean']:8.3f} {s['f1_min']:7.3f} {s['below_half']:5d} {s['titles']:>4}/{n:<2}"
              f" {s['dates']:>3}/{n:<2} {s['leaks']:6d} {s['ms_median']:8.1f}")
    parse_rows = next(r["rows"] for r in results if r["name"] == "cascrawl parse only")
    generic = [row["ms"] for row in parse_rows if (row["got"].get("path") or "").startswith("generic")]
    if generic:
        print(f"\ngeneric path (parse only): {len(generic)} of {n} pages, median {statistics.median(generic):.1f} ms/page,"
              f" max {max(generic):.1f}")
    if args.pages_detail:
        print(f"\n{'page':24} {'F1':>6} {'title':>5} {'date':>5} {'ms':>7}  path / leaks / title got / date got")
        for row in results[0]["rows"]:
            got = row["got"]
            print(f"{row['file']:24} {row['f1']:6.3f} {'ok' if row['title'] else '--':>5} {'ok' if row['date'] else '--':>5}"
                  f" {row['ms']:7.1f}  {got.get('path', '')} {','.join(row['leaks'])} | {(got.get('title') or '')[:40]}"
                  f" | {got.get('date')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
