"""The catalogue of www.cas.cn news sections (slug -> name), from shared/cas-site.md."""

from __future__ import annotations

SECTIONS: dict[str, str] = {
    "yw": "院内要闻",
    "sygz": "院部工作",
    "yx": "一线动态",
    "syky": "科研进展",
    "cm": "传媒扫描",
    "gzdt": "工作动态",
    "zjs": "访谈·视点",
    "kj": "科技动态",
    "djcx/gz": "党建与创新文化·工作动态",
    "djcx/wm": "党建与创新文化·文明建设",  # the fixture copy has it; the page breadcrumb names it
    "kx/gz": "科学传播·工作动态",
    "cg/zh": "成果转化·工作动态",
}

# Crawled when no section is named: the news columns.
DEFAULT_SECTIONS: tuple[str, ...] = ("yw", "sygz", "yx", "syky", "cm", "gzdt")


def split_sections(value: str | list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """The one reading of a list of section slugs: `"yw, syky/"` or `["yw", "syky"]` -> ("yw", "syky"):
    comma-separated (a string), spaces and slashes at the ends stripped, each slug once, in order. A part
    that is only slashes gives "" (for a caller that refuses it); empty parts are left out."""
    parts = value.split(",") if isinstance(value, str) else list(value)
    return tuple(dict.fromkeys(part.strip().strip("/") for part in parts if part.strip()))


def parse_sections(value: str | list[str] | tuple[str, ...] | None) -> list[str]:
    """The sections a crawl walks: `split_sections(value)`, the defaults when that is empty.

    Unknown slugs are allowed here (a setting); `--section` accepts known ones only (`crawl_sections`). (A filter of stored
    articles by section is read by `cascrawl.api.records.parse_section_filter`, which refuses empty.)
    """
    slugs = [slug for slug in split_sections(value or ()) if slug]
    return slugs or list(DEFAULT_SECTIONS)


def crawl_sections(values: list[str]) -> list[str]:
    """The sections of `--section` (repeatable, comma-separated): known slugs only, `all` for every known
    section. Raises ValueError naming each unknown slug and the closest known ones (difflib)."""
    import difflib

    slugs = [slug for slug in split_sections(",".join(values)) if slug]
    if "all" in slugs:
        return list(SECTIONS)
    unknown = [slug for slug in slugs if slug not in SECTIONS]
    if unknown:
        said = []
        for slug in unknown:
            close = difflib.get_close_matches(slug, list(SECTIONS), n=3, cutoff=0.4)
            said.append(f"{slug!r}" + (f" (did you mean {' or '.join(close)}?)" if close else ""))
        raise ValueError(f"unknown section {', '.join(said)}; known sections: {', '.join(SECTIONS)}, or all")
    return slugs or list(DEFAULT_SECTIONS)
