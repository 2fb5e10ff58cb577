"""Scrapy settings for cascrawl (`scrapy.cfg` points here). Every cascrawl knob has its default here.

Override with `-s NAME=value` on `scrapy crawl` / `cascrawl crawl`; the database URL also from the
environment variable CASCRAWL_DATABASE_URL, so secrets stay out of command lines and files.
"""

import os

from cascrawl.sections import DEFAULT_SECTIONS

BOT_NAME = "cascrawl"
SPIDER_MODULES = ["spiders"]
NEWSPIDER_MODULE = "spiders"

# --- cascrawl ---
CASCRAWL_DATABASE_URL = os.environ.get("CASCRAWL_DATABASE_URL", "sqlite:///cascrawl.db")
CASCRAWL_BASE_URL = "https://www.cas.cn"  # point at a mirror or the fixture copy with -s / --base-url
CASCRAWL_SECTIONS = list(DEFAULT_SECTIONS)
CASCRAWL_MAX_PAGES = 0  # listing pages per section; 0 = all the pager announces
CASCRAWL_SCRIPT = "simplified"  # "simplified": convert Traditional pages with OpenCC; "keep": leave as published
CASCRAWL_DB_BATCH_SIZE = 100  # articles per upsert transaction
CASCRAWL_DB_FLUSH_SECONDS = 5.0  # a batch waiting longer than this is written anyway; 0 = only by size and at close
CASCRAWL_DB_AUTO_UPGRADE = False  # a database whose schema is behind: False = stop and say so, True = upgrade it

ITEM_PIPELINES = {
    "pipelines.clean.CleanTextPipeline": 100,
    "pipelines.dates.PublishedDatePipeline": 200,
    "pipelines.validate.ValidatePipeline": 800,
    "pipelines.persist.PersistPipeline": 900,
}

# --- politeness for the live site (tests and the demo turn these down) ---
USER_AGENT = "cascrawl/0.1 (+https://github.com/cascrawl/cascrawl; news crawler for www.cas.cn)"
ROBOTSTXT_OBEY = True
CONCURRENT_REQUESTS_PER_DOMAIN = 1
DOWNLOAD_DELAY = 1.0
RETRY_TIMES = 2
DOWNLOAD_TIMEOUT = 30

LOG_LEVEL = "INFO"
TELNETCONSOLE_ENABLED = False  # scheduled runs should not open a console port
FEED_EXPORT_ENCODING = "utf-8"
# Scrapy's remote-control HTTP endpoint: a scheduled crawler should not open ports it does not need.
EXTENSIONS = {"scrapy.extensions.remote_control.RemoteControl": None}
