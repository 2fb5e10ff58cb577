"""Scrapy commands of the cascrawl project (COMMANDS_MODULE): `scrapy crawl` with cascrawl's one-line failures."""
