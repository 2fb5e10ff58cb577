"""The operator page's charts, drawn on the server as SVG documents by pygal, from plain data.

Served as images (`<img src="/ui/charts/….svg">`): no script in them (pygal's tooltips script is left out),
and the HTML page keeps its strict Content-Security-Policy; their own styles are inside the SVG.

Drawn to show what they should: the archive on a continuous month axis (a month without articles is an empty
place, not a missing one), counts on integer ticks, each measure on its own scale (rejects apart from new
articles), durations in the unit that reads best, and colours told apart (a colour-blind-safe palette; the lines
also differ by dash pattern, and the page lists every number beside the charts, so nothing rests on colour alone).
"""

from __future__ import annotations

import math
from typing import Any

import pygal
from pygal.style import Style

from cascrawl import stats_keys
from cascrawl.run.mode import run_seconds

MONTHS_SHOWN = 240  # the archive chart: at most the latest 20 years of months, every month between shown
RUNS_SHOWN = 20  # the run charts: the latest runs

# Okabe & Ito's colour-blind-safe eight, then four of Paul Tol's: twelve colours far apart.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#000000", "#882255",
           "#44AA99", "#999933", "#332288", "#F0E442")  # the yellow, faint on white, last
DASHES = ("", "8,4", "2,3", "10,3,2,3", "4,4")  # line series: solid, dashed, dotted, dash-dot, …

_STYLE = Style(colors=PALETTE, background="#ffffff", plot_background="#ffffff", foreground="#1d2430",
               foreground_strong="#1d2430", foreground_subtle="#5a6472", opacity=".85", opacity_hover=".95",
               font_family="system-ui, sans-serif", title_font_size=15, legend_font_size=12,
               label_font_size=11, major_label_font_size=11)
_CONFIG = {
    "js": [],  # pygal's interactive tooltips would load a script from the web
    "width": 860, "height": 300, "explicit_size": True, "style": _STYLE,
    "legend_at_bottom": True, "legend_at_bottom_columns": 6, "truncate_legend": 32,
    "print_values": False, "no_data_text": "nothing recorded yet", "disable_xml_declaration": False,
}


# --- the data of each chart (pure: what the page's number tables show too) ---

def month_axis(per_month: list[tuple[int, int, str, int]]) -> list[tuple[int, int]]:
    """Every month from the first with articles to the last (at most the latest MONTHS_SHOWN), empty ones too."""
    present = sorted({(year, month) for year, month, _, _ in per_month})
    if not present:
        return []
    (year, month), last = present[0], present[-1]
    months = []
    while (year, month) <= last:
        months.append((year, month))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months[-MONTHS_SHOWN:]


def archive_table(per_month: list[tuple[int, int, str, int]]) -> tuple[list[tuple[int, int]], dict[str, list[int]]]:
    """(the months of the axis, {section: articles in each of those months}), sections sorted."""
    months = month_axis(per_month)
    counts: dict[str, dict[tuple[int, int], int]] = {}
    for year, month, section, count in per_month:
        counts.setdefault(section, {})[(year, month)] = count
    return months, {section: [counts[section].get(key, 0) for key in months] for section in sorted(counts)}


def count_ticks(largest: float, most: int = 6) -> list[int]:
    """Integer ticks from 0 past `largest`, at most about `most` of them, on a step of 1, 2 or 5 × 10^k."""
    largest = max(1, math.ceil(largest))
    step = 1
    while math.ceil(largest / step) > most - 1:
        step = _next_step(step)
    return list(range(0, step * math.ceil(largest / step) + 1, step))


def _next_step(step: int) -> int:
    """1 → 2 → 5 → 10 → 20 → 50 → …"""
    magnitude = 10 ** int(math.log10(step))
    lead = step // magnitude
    return {1: 2, 2: 5}.get(lead, 10) * magnitude


def duration_unit(seconds: list[float | None]) -> tuple[str, float]:
    """(unit: s, min or h; seconds per unit) that reads best for the longest of these durations."""
    longest = max([value for value in seconds if value is not None], default=0)
    if longest < 120:
        return "s", 1.0
    if longest < 2 * 3600:
        return "min", 60.0
    return "h", 3600.0


def nice_ticks(largest: float, most: int = 6) -> list[float]:
    """Ticks from 0 past `largest` on a step of 1, 2 or 5 × 10^k (fractions allowed: a duration in hours)."""
    if largest <= 0:
        return [0, 1]
    step = 10 ** math.floor(math.log10(largest / (most - 1)))
    for factor in (1, 2, 5, 10):
        if largest / (step * factor) <= most - 1:
            step *= factor
            break
    count = math.ceil(largest / step - 1e-9)
    return [round(index * step, 10) for index in range(count + 1)]


def runs_table(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per run shown, oldest of the latest first: id, new, revised, rejects, seconds (None: not ended)."""
    shown = list(reversed(runs[:RUNS_SHOWN]))
    return [{"id": run["id"], "new": _count(run, stats_keys.ARTICLES_INSERTED),
             "revised": _count(run, stats_keys.ARTICLES_REVISED), "rejects": int(run.get("rejects") or 0),
             "seconds": run_seconds(run) if run.get("finished_at") else None, "status": run.get("status")}
            for run in shown]


# --- the charts ---

def archive_chart(per_month: list[tuple[int, int, str, int]]) -> bytes:
    """Articles per month of publication, stacked by section: how the archive grows, and where it has gaps."""
    months, by_section = archive_table(per_month)
    empty = sum(1 for index in range(len(months)) if not any(counts[index] for counts in by_section.values()))
    span = f", {months[0][0]}-{months[0][1]:02d} to {months[-1][0]}-{months[-1][1]:02d}" if months else ""
    title = f"Articles per month of publication, by section{span}"
    if months:
        title += f" (every month shown: {empty} without any)" if empty else " (every month shown)"
    totals = [sum(counts[index] for counts in by_section.values()) for index in range(len(months))]
    ticks = count_ticks(max(totals, default=0))
    chart = pygal.StackedBar(title=title, x_label_rotation=45, show_minor_x_labels=False,
                             y_labels=ticks, range=(0, ticks[-1]), value_formatter=_integer, **_CONFIG)
    chart.x_labels = [f"{year}-{month:02d}" for year, month in months]
    chart.x_labels_major = _major_months(months)
    for section, counts in by_section.items():
        chart.add(section, [count or None for count in counts])
    return _svg(chart)


def runs_chart(runs: list[dict[str, Any]]) -> bytes:
    """Per run: new and revised articles (counts on integer ticks)."""
    rows = runs_table(runs)
    ticks = count_ticks(max([max(row["new"], row["revised"]) for row in rows], default=0))
    chart = pygal.Bar(title=f"The last {len(rows)} runs: new and revised articles", y_labels=ticks,
                      range=(0, ticks[-1]), value_formatter=_integer, **_CONFIG)
    chart.x_labels = [f"#{row['id']}" for row in rows]
    chart.add("new articles", [row["new"] for row in rows])
    chart.add("revised articles", [row["revised"] for row in rows])
    return _svg(chart)


def rejects_chart(runs: list[dict[str, Any]]) -> bytes:
    """Per run: the rejects it recorded, on a scale of their own (a few rejects beside hundreds of new
    articles would not show)."""
    rows = runs_table(runs)
    ticks = count_ticks(max([row["rejects"] for row in rows], default=0))
    chart = pygal.Bar(title=f"The last {len(rows)} runs: rejects (pages not stored)", y_labels=ticks,
                      range=(0, ticks[-1]), value_formatter=_integer, **{**_CONFIG, "height": 240})
    chart.x_labels = [f"#{row['id']}" for row in rows]
    chart.add("rejects", [row["rejects"] for row in rows])
    return _svg(chart)


def durations_chart(runs: list[dict[str, Any]]) -> bytes:
    """Per run: how long it took, in seconds, minutes or hours (whichever suits the longest)."""
    rows = runs_table(runs)
    unit, per_unit = duration_unit([row["seconds"] for row in rows])
    values = [None if row["seconds"] is None else round(row["seconds"] / per_unit, 2) for row in rows]
    ticks = nice_ticks(max([value for value in values if value is not None], default=0))
    chart = pygal.Bar(title=f"The last {len(rows)} runs: duration ({unit})", y_labels=ticks, range=(0, ticks[-1]),
                      value_formatter=lambda value: f"{value:g} {unit}", **{**_CONFIG, "height": 240})
    chart.x_labels = [f"#{row['id']}" for row in rows]
    chart.add(f"duration ({unit})", values)
    return _svg(chart)


def coverage_chart(runs: list[dict[str, Any]]) -> bytes:
    """Per run: the share of article pages with each field, and the share the generic extractor took."""
    from cascrawl.health import COVERED_FIELDS, coverage_record

    shown = list(reversed(runs[:RUNS_SHOWN]))
    records = [run.get("coverage") or coverage_record(run.get("stats") or {}) for run in shown]
    chart = pygal.Line(title="Field coverage per run (% of article pages)", range=(0, 100), dots_size=3,
                       y_labels=[0, 20, 40, 60, 80, 100], **_CONFIG)
    chart.x_labels = [f"#{run['id']}" for run in shown]
    for index, name in enumerate((*COVERED_FIELDS, "generic_fallback")):
        chart.add(name.replace("_", " "), [round(100 * record[name], 1) if record else None for record in records],
                  stroke_style={"width": 2, "dasharray": DASHES[index % len(DASHES)]} if DASHES[index % len(DASHES)]
                  else {"width": 2})
    return _svg(chart)


def _major_months(months: list[tuple[int, int]]) -> list[str]:
    """The labelled months: every January (every few years on a long axis), or every month of a short one."""
    if len(months) <= 24:
        return [f"{year}-{month:02d}" for year, month in months]
    years = sorted({year for year, _ in months})
    every = max(1, math.ceil(len(years) / 12))
    return [f"{year}-{month:02d}" for year, month in months if month == 1 and (year - years[0]) % every == 0] \
        or [f"{months[0][0]}-{months[0][1]:02d}"]


def _integer(value: float) -> str:
    return f"{int(round(value))}"


def _svg(chart) -> bytes:
    """The chart as an SVG document without any <script> (pygal always writes its tooltips' configuration
    as one; an image never runs it, but the page promises no JavaScript at all), without the tooltips' data
    (<desc>: no script shows it) and without the empty bars pygal draws for a month with nothing (a
    continuous axis of 20 years would otherwise weigh half a megabyte)."""
    from xml.etree import ElementTree

    root = ElementTree.fromstring(chart.render())
    for parent in root.iter():
        for child in [child for child in parent if _dropped(child)]:
            parent.remove(child)
    ElementTree.register_namespace("", "http://www.w3.org/2000/svg")
    ElementTree.register_namespace("xlink", "http://www.w3.org/1999/xlink")
    return ElementTree.tostring(root, encoding="utf-8", xml_declaration=True)


def _dropped(element) -> bool:
    tag = str(element.tag).rsplit("}", 1)[-1]
    if tag in ("script", "desc"):
        return True
    if tag == "g" and "bar" in (element.get("class") or "").split():
        return all(float(rect.get("height") or 0) == 0 for rect in element if str(rect.tag).endswith("rect"))
    return False


def _count(run: dict[str, Any], key: str) -> int:
    try:
        return int((run.get("stats") or {}).get(key) or 0)
    except (TypeError, ValueError):
        return 0
