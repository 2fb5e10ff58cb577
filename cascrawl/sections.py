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

    Unknown slugs are allowed (the site has more columns than the catalogue knows). (A filter of stored
    articles by section is read by `cascrawl.api.records.parse_section_filter`, which refuses empty.)
    """
    slugs = [slug for slug in split_sections(value or ()) if slug]
    return slugs or list(DEFAULT_SECTIONS)
