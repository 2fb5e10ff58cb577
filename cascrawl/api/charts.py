"""The operator page's charts, drawn on the server as SVG documents by pygal, from plain data.

Served as images (`<img src="/ui/charts/….svg">`): no script in them (pygal's tooltips script is left out),
and the HTML page keeps its strict Content-Security-Policy; their own styles are inside the SVG.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pygal
from pygal.style import DefaultStyle
from cascrawl import stats_keys

MONTHS_SHOWN = 36  # the archive chart: the latest months with articles
RUNS_SHOWN = 20  # the run charts: the latest runs

_CONFIG = {
    "js": [],  # pygal's interactive tooltips would load a script from the web
    "width": 860, "height": 320, "explicit_size": True, "style": DefaultStyle,
    "legend_at_bottom": True, "legend_at_bottom_columns": 6, "truncate_legend": 32,
    "print_values": False, "no_data_text": "nothing recorded yet", "disable_xml_declaration": False,
}


def archive_chart(per_month: list[tuple[int, int, str, int]]) -> bytes:
    """Articles per month of publication, stacked by section: how the archive grows and what it holds."""
    months = sorted({(year, month) for year, month, _, _ in per_month})[-MONTHS_SHOWN:]
    chart = pygal.StackedBar(title="Articles per month of publication, by section (the latest months with any)",
                             x_label_rotation=45,
                             show_minor_x_labels=False, **_CONFIG)
    chart.x_labels = [f"{year}-{month:02d}" for year, month in months]
    chart.x_labels_major = chart.x_labels[::max(1, len(months) // 12)]
    counts: dict[str, dict[tuple[int, int], int]] = {}
    for year, month, section, count in per_month:
        counts.setdefault(section, {})[(year, month)] = count
    for section in sorted(counts):
        chart.add(section, [counts[section].get(key) or None for key in months])
    return _svg(chart)


def runs_chart(runs: list[dict[str, Any]]) -> bytes:
    """Per run, oldest of the latest first: new articles, rejects, and the duration in minutes (right-hand axis)."""
    shown = list(reversed(runs[:RUNS_SHOWN]))
    minutes = [_minutes(run) for run in shown]
    longest = max([value for value in minutes if value is not None], default=0)
    chart = pygal.Bar(title=f"The last {len(shown)} runs: new articles, rejects and duration",
                      secondary_range=(0, max(longest * 1.1, 1)), value_formatter=lambda value: f"{value:.3g}",
                      **_CONFIG)
    chart.x_labels = [f"#{run['id']}" for run in shown]
    chart.add("new articles", [_count(run, stats_keys.ARTICLES_INSERTED) for run in shown])
    chart.add("rejects", [int(run.get("rejects") or 0) for run in shown])
    chart.add("duration (minutes, right axis)", minutes, secondary=True)
    return _svg(chart)


def coverage_chart(runs: list[dict[str, Any]]) -> bytes:
    """Per run: the share of article pages with each field, and the share the generic extractor took."""
    from cascrawl.health import COVERED_FIELDS, coverage_record

    shown = list(reversed(runs[:RUNS_SHOWN]))
    records = [run.get("coverage") or coverage_record(run.get("stats") or {}) for run in shown]
    chart = pygal.Line(title="Field coverage per run (% of article pages)", range=(0, 100), dots_size=3,
                       **_CONFIG)
    chart.x_labels = [f"#{run['id']}" for run in shown]
    for name in (*COVERED_FIELDS, "generic_fallback"):
        chart.add(name.replace("_", " "), [round(100 * record[name], 1) if record else None for record in records])
    return _svg(chart)


def _svg(chart) -> bytes:
    """The chart as an SVG document without any <script> (pygal always writes its tooltips' configuration
    as one; an image never runs it, but the page promises no JavaScript at all)."""
    from xml.etree import ElementTree

    root = ElementTree.fromstring(chart.render())
    for parent in root.iter():
        for child in [child for child in parent if str(child.tag).endswith("}script") or child.tag == "script"]:
            parent.remove(child)
    ElementTree.register_namespace("", "http://www.w3.org/2000/svg")
    ElementTree.register_namespace("xlink", "http://www.w3.org/1999/xlink")
    return ElementTree.tostring(root, encoding="utf-8", xml_declaration=True)


def _count(run: dict[str, Any], key: str) -> int:
    try:
        return int((run.get("stats") or {}).get(key) or 0)
    except (TypeError, ValueError):
        return 0


def _minutes(run: dict[str, Any]) -> float | None:
    started, finished = run.get("started_at"), run.get("finished_at")
    if isinstance(started, datetime) and isinstance(finished, datetime):
        return round((finished - started).total_seconds() / 60, 2)
    return None
