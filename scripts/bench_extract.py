"""Extraction benchmark: ms per page and body F1 for cascrawl and for trafilatura on the gold pages.

    .venv/bin/python scripts/bench_extract.py [--repeat 5]

cascrawl's time is decoding + layout parsing + HTML-to-text; trafilatura's is `extract()` on the
same decoded HTML. F1 is the character F1 of the body text against the hand-written expectation
(cascrawl's text also passes its gloss and script cleaning, as in a crawl).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import trafilatura

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests.support: the repository's, not installed
from cascrawl.encoding import decode_html  # noqa: E402
from cascrawl.parsers import parse_article  # noqa: E402
from cascrawl.text import detect_script, html_to_text, remove_pinyin_glosses, to_simplified  # noqa: E402
from tests.support.evaluation import char_f1  # noqa: E402

SITE = Path(__file__).resolve().parent.parent / "fixtures" / "site"


def cascrawl_text(html: str, url: str) -> str:
    text = remove_pinyin_glosses(html_to_text(parse_article(html, url).body_html or ""))
    return to_simplified(text) if detect_script(text) == "traditional" else text


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    pages = []
    for expected_path in sorted(SITE.rglob("t*.expected.json")):
        page = expected_path.with_name(expected_path.name.replace(".expected.json", ".shtml"))
        html, _ = decode_html(page.read_bytes(), "text/html")
        url = "http://127.0.0.1/" + page.relative_to(SITE).as_posix()
        pages.append((page, url, html, json.loads(expected_path.read_text("utf-8"))["text"]))
    if not pages:
        print("no gold pages found under", SITE, file=sys.stderr)
        return 1

    def timed(function) -> float:
        function()  # warm-up: imports, caches
        start = time.perf_counter()
        for _ in range(args.repeat):
            function()
        return (time.perf_counter() - start) / args.repeat * 1000

    rows = []
    for page, url, html, expected in pages:
        ours_ms = timed(lambda: parse_article(decode_html(page.read_bytes(), "text/html")[0], url))
        theirs_ms = timed(lambda: trafilatura.extract(html, url=url))
        ours_f1 = char_f1(cascrawl_text(html, url), expected)
        theirs_f1 = char_f1(trafilatura.extract(html, url=url) or "", expected)
        rows.append((page.name, ours_ms, theirs_ms, ours_f1, theirs_f1))

    print(f"{'page':32} {'cascrawl ms':>11} {'trafilatura ms':>14} {'cascrawl F1':>11} {'trafilatura F1':>14}")
    for name, ours_ms, theirs_ms, ours_f1, theirs_f1 in rows:
        print(f"{name:32} {ours_ms:11.2f} {theirs_ms:14.2f} {ours_f1:11.4f} {theirs_f1:14.4f}")
    ours = statistics.mean(r[1] for r in rows)
    theirs = statistics.mean(r[2] for r in rows)
    print(f"\n{len(rows)} gold pages, {args.repeat} runs each")
    print(f"mean ms/page: cascrawl {ours:.2f}, trafilatura {theirs:.2f} (cascrawl takes {ours / theirs:.0%} of trafilatura's time)")
    print(f"body F1: cascrawl mean {statistics.mean(r[3] for r in rows):.4f} min {min(r[3] for r in rows):.4f}; "
          f"trafilatura mean {statistics.mean(r[4] for r in rows):.4f} min {min(r[4] for r in rows):.4f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
