"""The database layer: the only package that speaks SQL. Modules of one job each:

- engine.py: URLs (normalised; shown through cascrawl.redact), one engine per database per process,
  SQLite pragmas, read-only connections, what an error means (`error_kind`);
- schema.py (with migrate.py, migrations/, models.py): open, create, upgrade, under the schema lock;
- database.py: `Database`, the one object callers hold; its methods hand each job to the module below;
- articles.py: the article upsert; runs.py: runs, workers, rejects; search.py (with fulltext.py): search;
- frontier.py: walks and the re-fetch schedule; history.py: what earlier runs stored; media.py: the media
  archive's records; lock.py: one crawl at a time; reads.py: queries for the CLI and the API;
- store.py: `ArticleStore`, the seam where another store could go (what a crawl needs; Database has it).

One calling convention: every function of frontier, history, media, reads, runs, articles and search
takes the `Database` as its first argument (the lock: `RunLock(database)`), and opens its own session
for one unit of work. Why the Database, not a URL, an engine or a session: a URL made each call build
an engine of its own (a crawl built four); an engine or a session leaves the caller to say where the
transaction ends and loses what the Database knows (its URL for one-line errors without the password,
whether it is read-only); the Database is what every caller already holds. The one exception is
`search.search_conditions(session, query)`: a piece of someone else's query, it joins that query's
session. The schema: models.py, made by the migrations; the contract for readers: docs/schema.md.
"""

from cascrawl.db.models import Article, ArticleRevision, CrawlRun, Reject
from cascrawl.db.articles import UpsertResult
from cascrawl.db.database import Database
from cascrawl.db.engine import DatabaseError, normalize_url, safe_url
from cascrawl.db.history import CrawlHistory, StoredArticle, crawl_history, previous_run_stats
from cascrawl.db.lock import RunLock, RunLocked
from cascrawl.db.store import ArticleStore

__all__ = ["Article", "ArticleRevision", "ArticleStore", "CrawlHistory", "CrawlRun", "Database", "DatabaseError",
           "Reject", "RunLock", "RunLocked", "StoredArticle", "UpsertResult", "crawl_history", "previous_run_stats",
           "normalize_url", "safe_url"]
