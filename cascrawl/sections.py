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


def parse_sections(value: str | list[str] | tuple[str, ...] | None) -> list[str]:
    """Turn `"yw,syky"` or `["yw", "syky"]` into a clean list of slugs (no slashes at the ends).

    Unknown slugs are allowed (the site has more columns than the catalogue knows); an empty
    value gives the defaults.
    """
    if value is None:
        return list(DEFAULT_SECTIONS)
    items = value.split(",") if isinstance(value, str) else list(value)
    slugs = []
    for item in items:
        slug = item.strip().strip("/")
        if slug and slug not in slugs:
            slugs.append(slug)
    return slugs or list(DEFAULT_SECTIONS)
