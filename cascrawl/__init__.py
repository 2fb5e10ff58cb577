"""cascrawl: crawl, clean and store the news of the Chinese Academy of Sciences (www.cas.cn)."""

__version__ = "0.1.0"
