"""Scrapy settings for cascrawl (`scrapy.cfg` points here). Every cascrawl knob has its default here.

Override with `-s NAME=value` on `scrapy crawl` / `cascrawl crawl`; the database URL also from the
environment variable CASCRAWL_DATABASE_URL, so secrets stay out of command lines and files.
"""

import os

from cascrawl.dates import CAS_DATE as _CAS_DATE  # lower case: not a setting (Settings.setmodule takes upper case)
from cascrawl.sections import DEFAULT_SECTIONS

BOT_NAME = "cascrawl"
SPIDER_MODULES = ["cascrawl.spiders"]
NEWSPIDER_MODULE = "cascrawl.spiders"

# --- cascrawl ---
CASCRAWL_DATABASE_URL = os.environ.get("CASCRAWL_DATABASE_URL", "sqlite:///cascrawl.db")
CASCRAWL_BASE_URL = "https://www.cas.cn"  # point at a mirror or the fixture copy with -s / --base-url
CASCRAWL_SECTIONS = list(DEFAULT_SECTIONS)
CASCRAWL_MAX_PAGES = 0  # listing pages per section; 0 = all the pager announces
CASCRAWL_INCREMENTAL = True  # skip stored articles; stop paging where the last complete walk began (--full: off)
CASCRAWL_OVERLAP_PAGES = 1  # listing pages walked from the one that holds the last complete walk's first entry
CASCRAWL_DEEP_WALK_DAYS = 7.0  # a section not walked down to its last listing page for this long is, by the next run (late articles); 0 = never
CASCRAWL_REFRESH_DAYS = 0  # re-fetch the last N days' articles with conditional GETs (--refresh-days)
CASCRAWL_SCRIPT = "simplified"  # "simplified": convert Traditional pages with OpenCC; "keep": leave as published
CASCRAWL_DB_BATCH_SIZE = 100  # articles per upsert transaction
CASCRAWL_DB_FLUSH_SECONDS = 5.0  # a batch waiting longer than this is written anyway; 0 = only by size and at close
CASCRAWL_DB_AUTO_UPGRADE = False  # a database whose schema is behind: False = stop and say so, True = upgrade it
CASCRAWL_DB_OUTAGE_SECONDS = 300.0  # a database that stops answering: pause fetching and retry this long, then spool
CASCRAWL_STOP_AT_ONCE_SECONDS = 5.0  # a second SIGTERM / SIGINT: the process ends within this, whatever still runs
CASCRAWL_SPOOL_DIR = ""  # where unwritable items wait for the next run; "" = next to the SQLite file, else ~/.local/state/cascrawl
CASCRAWL_REJECT_RETRY_MAX_DAYS = 32.0  # a permanently rejected page is tried again after 1, 2, 4, … days, at most this
CASCRAWL_EXTRACT_PROCESSES = 1  # worker processes parsing and cleaning article pages beside the crawler's thread; 0 = in that thread
CASCRAWL_EXTRACT_QUEUE = 0  # jobs (a page's parsing, an item's cleaning) waiting at one worker, more done in the crawler's thread; 0 = twice CONCURRENT_REQUESTS

# --- distributed crawling (cascrawl/distributed/, docs/operations.md): several workers, one crawl ---
# A Redis URL switches it on (`cascrawl crawl --redis URL`; also from the environment variable): the
# scheduler queue and duplicate filter are scrapy-redis's, shared by every worker given the same URL and
# prefix; the database must be PostgreSQL, shared too.
CASCRAWL_REDIS_URL = os.environ.get("CASCRAWL_REDIS_URL", "")
CASCRAWL_REDIS_PREFIX = "cascrawl"  # Redis keys: <prefix>:cas_news:requests, …:dupefilter, …:leases:<worker>, …
CASCRAWL_REDIS_WORKER_TIMEOUT = 30.0  # a worker silent this long is taken for dead: its requests go back to the queue
CASCRAWL_REDIS_OUTAGE_SECONDS = 300.0  # Redis away: a worker pauses fetching and retries this long, then stops (run left unfinished)
CASCRAWL_WORKER_NAME = ""  # how a worker is named in the run; "" = <host>:<pid>
ADDONS = {"cascrawl.distributed.Distributed": 0}  # does nothing unless CASCRAWL_REDIS_URL is set

# --- cleaning: boilerplate lines (see cascrawl/boilerplate.py and the README) ---
# Each pattern (a Python regular expression, case-insensitive) matches one stretch of boilerplate. A
# line of the body is removed when it is made only of such stretches, with white space or | between
# them; so is a title (the article is then rejected). Lines are matched as they are and with pinyin
# glosses removed, Traditional converted to Simplified and NFKC applied: write patterns in
# Simplified. None of these matches sentence punctuation (。！？；，), so prose never goes.
# Extend with CASCRAWL_BOILERPLATE_EXTRA_PATTERNS (a list here; on the command line a JSON list:
# -s 'CASCRAWL_BOILERPLATE_EXTRA_PATTERNS=["责任校对[:：]\\S+"]'); replace the defaults by setting
# CASCRAWL_BOILERPLATE_PATTERNS itself. Helpers in lower case are not settings.
_label = r"\s*[:：]\s*"
_value = r"[^\s。！？；，,;!?:：]"  # one character of a short value: no space, no sentence punctuation, no colon
_next_label = r"(?:作者|来源|稿源|发布|时间|日期|责任编辑|浏览|点击|字号|【)"
_field = rf"(?:(?!{_next_label}){_value})*"  # an info-line value, which stops where the next label starts
_date = _CAS_DATE  # 2020-11-22 17:30, 2014年09月22日 (cascrawl.dates)
_time = rf"【?(?:发布时间|发布日期|时间|日期){_label}{_date}】?"
_source = rf"【?(?:文章来源|信息来源|来源|稿源){_label}{_field}"  # a closing 】 is part of the value
_author = rf"【?作者{_label}{_field}"
_hits = r"(?:浏览次数|点击数|阅读数|浏览|点击)\s*[:：]\s*\d*"
_province = "京津沪渝冀晋辽吉黑苏浙皖闽赣鲁豫鄂湘粤琼川贵云陕甘青蒙桂藏宁新港澳台"
_phone = rf"\+?\d[\d\s-]{{4,}}\d(?:\s*[（(]{_value}{{1,8}}[）)])?"
_years = r"\d{4}(?:\s*[-–—~]\s*(?:\d{4})?)?"
_copyright = r"(?:copyright\s*(?:©|\(c\))?|©|Ⓒ|\(c\))"
CASCRAWL_BOILERPLATE_PATTERNS = [
    # breadcrumb: 当前位置：首页 >> 工作动态
    rf"(?:当前位置|您的位置|您现在的位置|现在位置|所在位置)(?:{_label})?首页(?:\s*(?:>>?|»|›|/)\s*{_value}{{1,20}})*",
    # the info line: 来源：… 作者：… 时间：2020-11-22 17:30, or (old pages) 2015年02月02日 来源：… —
    # a 来源 or 时间 label must be there: a lone byline or a lone date stays
    rf"(?:(?:{_author}|{_date})\s*)*(?:{_source}|{_time})(?:\s*(?:{_source}|{_time}|{_author}|{_hits}|{_date}))*",
    # page widgets
    r"【?\s*字号\s*[:：]?\s*大\s*中\s*小\s*】?",
    r"【?\s*(?:打印本页|关闭窗口|收藏本页|返回顶部)\s*】?",
    r"【\s*(?:打印|关闭)\s*】",
    r"语音播报",
    r"扫一扫\s*在手机上?打开当前页",
    r"分享到\s*[:：]?",
    # the site's header and mega-menu labels, should a page's navigation leak into its text (menu
    # items that could head a paragraph of an article, such as 科技奖励, are left out)
    r"首页|English|网站地图|联系我们|加入收藏|更多\s*[+＋]|主要职责|院况简介|院领导集体|中国科学院学部|中国科学院院部",
    # an attachment label on its own (empty block, or names on the following lines)
    r"(?:附件下载|相关附件)\s*[:：]?",
    # the footer: © 1996 - 中国科学院 版权所有 京ICP备05002857号-1 京公网安备110402500047号 网站标识码bm48000017
    rf"{_copyright}\s*{_years}(?:\s*{_value}{{1,30}})?",  # needs a year: "©新华社" is a photo credit
    rf"{_copyright}\s*(?:{_value}{{1,30}}\s*)?版权所有",
    rf"版权所有(?:\s*(?:[:：]|©)\s*{_value}{{1,30}})?",
    r"all\s+rights\s+reserved\.?",
    rf"(?:[{_province}]\s*)?ICP\s*[备证]\s*[:：]?\s*\d+\s*号?(?:\s*-\s*\d+)?",
    rf"(?:[{_province}]\s*)?公网安备\s*[:：]?\s*\d+\s*号?",
    r"网站标识码\s*[:：]?\s*[a-z0-9]+",
    # 地址：北京市三里河路52号 邮编：100864 电话：86 10 68597114（总机） 编辑部邮箱：casweb@cashq.ac.cn
    rf"(?:通讯|联系)?地址{_label}{_value}{{2,40}}",
    r"(?:邮编|邮政编码)\s*[:：]\s*\d{6}",
    rf"(?:电话|总机|联系电话|值班电话|传真){_label}{_phone}(?:[\s、/]*{_phone})*",
    r"(?:编辑部|联系)?(?:邮箱|电子邮箱|电子邮件|e-?mail)\s*[:：]\s*[\w.+-]+@[\w-]+(?:\.[\w-]+)+",
]
CASCRAWL_BOILERPLATE_EXTRA_PATTERNS = []  # an operator's additions, kept apart from the defaults

# Items of one response processed at once. Scrapy starts that many asyncio tasks for every response's
# output, whatever it holds; a CAS page yields one article (or a listing's requests, which need no
# parallelism), so Scrapy's 100 cost about a third of the crawler's CPU time for nothing (README, "Performance").
CONCURRENT_ITEMS = 1
# Fetched pages waiting to be parsed, cleaned and stored, in bytes (Scrapy's default is 5 MB: some 600 small
# pages). Past it, fetching waits. Kept small: work in flight is what a killed crawl fetches again, and
# memory; 500 kB still keeps the extraction workers busy (5–25 CAS pages of 20–100 kB, 60 small ones).
SCRAPER_SLOT_MAX_ACTIVE_SIZE = 500_000

# Cleaning, in this order: text -> boilerplate -> re-served copies -> dates -> fields -> validate -> persist.
# The leading pipelines that declare `runs_in_worker` (text to validate) run in the extraction worker
# processes, beside the parsing (pipelines/processor.py); the others here, in the crawler's thread.
ITEM_PROCESSOR = "cascrawl.pipelines.processor.OffloadingItemProcessor"
ITEM_PIPELINES = {
    "cascrawl.pipelines.text.TextPipeline": 100,
    "cascrawl.pipelines.boilerplate.BoilerplatePipeline": 200,
    "cascrawl.pipelines.copies.ReservedCopyPipeline": 300,
    "cascrawl.pipelines.dates.PublishedDatePipeline": 400,
    "cascrawl.pipelines.fields.FieldsPipeline": 500,
    "cascrawl.pipelines.validate.ValidatePipeline": 800,
    "cascrawl.pipelines.media.MediaArchivePipeline": 850,  # off unless CASCRAWL_MEDIA_STORE is set
    "cascrawl.pipelines.persist.PersistPipeline": 900,
}

# --- politeness for the live site (tests and the demo turn these down) ---
USER_AGENT = "cascrawl/0.1 (+https://github.com/cascrawl/cascrawl; news crawler for www.cas.cn)"
ROBOTSTXT_OBEY = True
CONCURRENT_REQUESTS_PER_DOMAIN = 1
DOWNLOAD_DELAY = 1.0
RETRY_TIMES = 2
CASCRAWL_RETRY_BACKOFF_BASE = 2.0  # seconds before the first retry of a request, doubled for each next one
CASCRAWL_RETRY_BACKOFF_MAX = 60.0
DOWNLOADER_MIDDLEWARES = {
    "cascrawl.middlewares.RetryBackoffMiddleware": 560,  # just after RetryMiddleware (550)
    # The host policy replaces Scrapy's OffsiteMiddleware (same place, before robots.txt is asked):
    # exact hosts and ports, checked for every request, redirects and meta refreshes included.
    "scrapy.downloadermiddlewares.offsite.OffsiteMiddleware": None,
    "cascrawl.middlewares.HostPolicyMiddleware": 50,
    "cascrawl.middlewares.ResponseSizeMiddleware": 60,  # marks a response cut for DOWNLOAD_MAXSIZE (too_large)
    # The WARC archive takes each response as received: above RedirectMiddleware (600) and
    # HttpCompressionMiddleware (590) in the response path, so redirects are archived and bodies still encoded.
    "cascrawl.archive.crawl.WarcMiddleware": 610,
}
# AutoThrottle adapts the delay to the site's latency (never below DOWNLOAD_DELAY).
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_START_DELAY = 1.0
AUTOTHROTTLE_MAX_DELAY = 60.0
AUTOTHROTTLE_TARGET_CONCURRENCY = 1.0

# --- hostile pages and hosts: where cascrawl may go, and how much one response may cost ---
# Requests go only to these hosts (on ports 80/443) and to exactly the host and port of the base URL
# (--base-url); anything else — a redirect, a meta refresh, a listing link elsewhere — is refused and
# the article that pointed there recorded as a reject (offsite_redirect, offsite_refresh, offsite_link).
CASCRAWL_ALLOWED_HOSTS = ["www.cas.cn", "cas.cn"]
# Per response, after decompression (Scrapy applies both to the wire and to the gunzipped body): a page
# over the limit is cut off and its article rejected as too_large; a page over the warning size is logged.
# CAS article pages are 20–100 kB.
DOWNLOAD_MAXSIZE = 10 * 1024 * 1024
DOWNLOAD_WARNSIZE = 2 * 1024 * 1024
DOWNLOAD_TIMEOUT = 20  # seconds for a whole response (a page that trickles is cut), per attempt
# Parsing costs memory by the element (about 600 bytes each through extraction and cleaning): a page with
# more tags than this is not parsed; an article page is rejected as too_large. CAS pages have 200–3,000.
CASCRAWL_MAX_PAGE_TAGS = 100_000

# --- the media archive (opt-in): images, attachments and videos of each article, kept in a file store ---
# A folder, or s3://bucket/prefix, gs://…, ftp://… (Scrapy's FILES_STORE schemes; S3 needs botocore).
# Empty: off — a plain crawl fetches pages only. `cascrawl crawl --media DIR` sets it.
CASCRAWL_MEDIA_STORE = os.environ.get("CASCRAWL_MEDIA_STORE", "")
CASCRAWL_MEDIA_MAX_BYTES = 50 * 1024 * 1024  # per file; a bigger one is recorded as failed (too_large)
CASCRAWL_MEDIA_VIDEO = False  # videos are recorded (articles.videos) but fetched only when True
# Files are fetched only with one of these extensions (or none: then an HTML answer is refused).
CASCRAWL_MEDIA_EXTENSIONS = [
    "jpg", "jpeg", "png", "gif", "bmp", "webp", "svg", "tif", "tiff",
    "pdf", "doc", "docx", "xls", "xlsx", "ppt", "pptx", "wps", "et", "dps", "txt", "rtf", "csv",
    "zip", "rar", "7z", "gz",
    "mp4", "m4v", "webm", "flv", "mov", "avi", "wmv", "mp3", "wav",
]
FILES_EXPIRES = 90  # days before a stored file is fetched again (Scrapy's default, stated)
MEDIA_ALLOW_REDIRECTS = True  # a file link that redirects is followed (the host policy checks the target)

LOG_LEVEL = "INFO"
# `scrapy crawl` of this project: cascrawl's crawl command (cascrawl/commands/crawl.py), with one-line failures.
COMMANDS_MODULE = "cascrawl.commands"
# `cascrawl crawl` writes every run's full log to a file of its own (its path is in the run record) and shows
# the log on the terminal only with --verbose or an explicit -s LOG_LEVEL=…: "" = a logs/ folder next to a
# SQLite file, else $XDG_STATE_HOME/cascrawl/logs (~/.local/state/cascrawl/logs). Plain `scrapy crawl`: LOG_FILE.
CASCRAWL_LOG_DIR = ""
CASCRAWL_LOG_KEEP = 100  # log files kept per database, the oldest removed first; 0 = keep all
# A live progress display on standard error (rich): `cascrawl crawl` turns it on when stderr is a terminal
# and the log is not streamed there.
CASCRAWL_PROGRESS = False
CASCRAWL_PROGRESS_INTERVAL = 0.5  # seconds between two redraws of the live progress display
# Scrapy's check for a `return value` in generator callbacks re-reads and parses the callback's source on every
# response (its cache holds bound methods weakly, so it never hits): 4% of a crawl's samples. Off; a code check,
# not a crawl's.
WARN_ON_GENERATOR_RETURN_VALUE = False
TELNETCONSOLE_ENABLED = False  # scheduled runs should not open a console port
FEED_EXPORT_ENCODING = "utf-8"
# Scrapy's remote-control HTTP endpoint (2.19+): a scheduled crawler should not open ports it does not need.
# Its switch, not its path in EXTENSIONS: a release without the extension ignores the setting.
REMOTE_CONTROL_ENABLED = False
EXTENSIONS = {
    "cascrawl.extraction.ExtractionWorkers": 400,  # the worker processes that parse and clean article pages
    "cascrawl.archive.crawl.ArchiveWriter": 450,  # the WARC archive's writer thread (off with CASCRAWL_WARC=False)
    # The run's record, lock, health check and verdict (cascrawl/run/record.py); the persist pipeline needs it.
    "cascrawl.run.record.RunRecord": 500,
    "cascrawl.extensions.LiveProgress": 510,
    "cascrawl.drift.DriftReport": 520,
    "cascrawl.run.notify.Notify": 530,  # notifications of runs that did not finish cleanly (off without a target)
    "cascrawl.run.heartbeat.Heartbeat": 540,  # the running crawl's heartbeat and live counts (liveness)
}
# The drift report (cascrawl/drift.py): generic-path pages grouped by where their body and heading were found.
CASCRAWL_DRIFT_MAX_GROUPS = 20  # groups kept per run; pages of further templates are counted together as (other)
CASCRAWL_DRIFT_EXAMPLES = 3  # example URLs kept per group

# --- notifications (cascrawl/run/notify.py): a run that ends degraded, failed or interrupted is announced ---
CASCRAWL_NOTIFY_URL = os.environ.get("CASCRAWL_NOTIFY_URL", "")  # a webhook (Slack, Matrix, …): the JSON summary is POSTed to it, its `text` the message
CASCRAWL_NOTIFY_COMMAND = os.environ.get("CASCRAWL_NOTIFY_COMMAND", "")  # a shell command run with the JSON summary on stdin
CASCRAWL_NOTIFY_RECOVERY = False  # also announce the first finished run after one that was not
CASCRAWL_NOTIFY_TIMEOUT = 30.0  # seconds all tries of one target may take together (the end of the crawl waits)
CASCRAWL_NOTIFY_TRIES = 4  # tries per target
CASCRAWL_NOTIFY_BACKOFF = 1.0  # seconds before the 2nd try, doubled before each next one

# --- layout-change alarms (cascrawl/health.py): a run that trips one is "degraded" and exits 2 ---
CASCRAWL_ALARM_MIN_COVERAGE = {"title": 0.95, "date": 0.95, "body": 0.95}  # required fields, share of article pages
CASCRAWL_ALARM_MIN_PAGES = 3  # coverage is judged only on runs that extracted at least this many article pages
CASCRAWL_ALARM_MAX_GENERIC_SHARE = 0.5  # article pages no CAS layout recognised
CASCRAWL_ALARM_SECTION_MIN_ENTRIES = 5  # a section listing nothing alarms when an earlier run listed this many

# --- health for monitors (/healthz, `cascrawl health`; cascrawl/run/health_state.py) ---
# The latest completed run must be `finished` and at most this old: seconds, or a duration (26h, 90m, 1d12h).
# 26 h suits a daily timer: one missed day turns it unhealthy, a run that starts a little late does not.
CASCRAWL_HEALTH_MAX_AGE = os.environ.get("CASCRAWL_HEALTH_MAX_AGE", "26h")

# --- liveness (cascrawl/run/heartbeat.py): a running crawl's heartbeat ---
# Seconds between two heartbeats (its row's heartbeat_at and counts so far); 0 = off. A `running` run silent
# for three intervals while its run lock is free is read as `interrupted` (cascrawl/db/reads.py).
CASCRAWL_HEARTBEAT_SECONDS = 5.0

# --- the WARC archive (cascrawl/archive/, docs/operations.md "The WARC archive") ---
# Every fetched response (article pages, listing pages, robots.txt) with its request, as served (the body
# before decompression), in WARC/1.1 files, one gzip member per record. On by default; CASCRAWL_WARC=False
# turns it off. CASCRAWL_WARC_DIR: None (unset) = a warc/ folder next to a SQLite file, else
# $XDG_STATE_HOME/cascrawl/warc; a path; or "" (-s CASCRAWL_WARC_DIR=) = off too.
CASCRAWL_WARC = True
CASCRAWL_WARC_DIR = os.environ.get("CASCRAWL_WARC_DIR")  # the readers (articles show --raw, the API) read it too
CASCRAWL_WARC_MAX_BYTES = 1_000_000_000  # a file past this size is closed and the next one opened
