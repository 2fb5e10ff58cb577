"""Chinese full-text search: the index DDL (used by the migrations) and the search query.

Chinese has no spaces between words, so word tokenizers do not work; both backends index character
trigrams instead, which find any substring of three or more characters:

- SQLite: an FTS5 table `articles_fts` with the `trigram` tokenizer (SQLite >= 3.34), external content
  (the text lives once, in `articles`). Since migration 0007_fulltext_deferred a new article is indexed in bulk, not row
  by row: the insert trigger only notes its id in `articles_fts_pending`, and `sync_sqlite_fts` indexes
  every noted article in one statement (a crawl does so when it opens and when it closes). Search
  reads the index for indexed articles and scans the pending ones with LIKE, so it finds every stored
  article at any time, a killed run's included. Changes and deletions of indexed articles are still
  applied by triggers, row by row (a re-crawl changes few texts).
- PostgreSQL: the `pg_trgm` extension and a GIN trigram index, which serves `ILIKE '%…%'`. Since
  migration 0009_pg_search_deferred the index is not on `articles` (kept current by every insert, ~1 ms
  per article of 1,600 characters, 75% of a first insert) but on a table of its own,
  `articles_fts_documents` (id, document: the title, a newline, the text), filled in bulk as in SQLite:
  a statement trigger notes each new article's id in `articles_fts_pending`, `sync_pg_search` moves the
  noted articles into the documents table in one statement, and search reads the index for indexed
  articles and scans the pending ones with ILIKE. An article whose title or text changes leaves the
  documents table and is noted again (a trigger), so the documents table never holds an old text.

A term of one or two characters has no trigram: it is matched with LIKE / ILIKE (a scan).

A migration of a later version that rebuilds `articles` in SQLite batch mode drops its triggers:
such a migration must call `drop_sqlite_fts` before, and `create_sqlite_fts` then `defer_sqlite_fts`
after.
"""

from __future__ import annotations

from sqlalchemy import Connection, text
from sqlalchemy.exc import OperationalError

FTS_TABLE = "articles_fts"
PENDING_TABLE = "articles_fts_pending"  # ids of articles not in the index yet (a name under FTS_TABLE's prefix)
TRIGRAM_INDEXES = ("ix_articles_title_trgm", "ix_articles_text_trgm")  # PostgreSQL before 0009_pg_search_deferred
PG_DOCUMENTS_TABLE = "articles_fts_documents"  # PostgreSQL: what the trigram index covers (id, document)
PG_DOCUMENTS_INDEX = "ix_articles_fts_documents_trgm"
MIN_TRIGRAM_TERM = 3  # characters

_SQLITE_FTS = [
    f"CREATE VIRTUAL TABLE {FTS_TABLE} USING fts5(title, text, content='articles', content_rowid='id', "
    "tokenize='trigram')",
    f"""CREATE TRIGGER {FTS_TABLE}_ai AFTER INSERT ON articles BEGIN
  INSERT INTO {FTS_TABLE}(rowid, title, text) VALUES (new.id, new.title, new.text);
END""",
    f"""CREATE TRIGGER {FTS_TABLE}_ad AFTER DELETE ON articles BEGIN
  INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, title, text) VALUES ('delete', old.id, old.title, old.text);
END""",
    # Only when the indexed text changes: a re-crawl that touches last_seen_at costs no index work.
    f"""CREATE TRIGGER {FTS_TABLE}_au AFTER UPDATE OF title, text ON articles
WHEN old.title IS NOT new.title OR old.text IS NOT new.text BEGIN
  INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, title, text) VALUES ('delete', old.id, old.title, old.text);
  INSERT INTO {FTS_TABLE}(rowid, title, text) VALUES (new.id, new.title, new.text);
END""",
    # Merge index segments in bigger steps (default 4): measured twice the insert rate for articles of
    # 1,600 characters, queries 5% slower (scripts/bench_storage.py).
    f"INSERT INTO {FTS_TABLE}({FTS_TABLE}, rank) VALUES ('automerge', 8)",
    f"INSERT INTO {FTS_TABLE}({FTS_TABLE}) VALUES ('rebuild')",  # index the rows already there
]


# Migration 0007_fulltext_deferred: the insert trigger notes the new id instead of indexing the row (FTS5 indexing ~1,600
# characters of Chinese costs ~0.4 ms per article, 80% of a first insert); the delete and update
# triggers leave alone an article that is not indexed yet (deleting from the index values it never
# held would corrupt it), whose current text the next sync indexes.
_NOT_PENDING = f"NOT EXISTS (SELECT 1 FROM {PENDING_TABLE} WHERE id = old.id)"
_SQLITE_DEFERRED = [
    f"CREATE TABLE {PENDING_TABLE} (id INTEGER PRIMARY KEY)",
    f"DROP TRIGGER {FTS_TABLE}_ai",
    f"DROP TRIGGER {FTS_TABLE}_ad",
    f"DROP TRIGGER {FTS_TABLE}_au",
    f"""CREATE TRIGGER {FTS_TABLE}_ai AFTER INSERT ON articles BEGIN
  INSERT OR IGNORE INTO {PENDING_TABLE}(id) VALUES (new.id);
END""",
    f"""CREATE TRIGGER {FTS_TABLE}_ad AFTER DELETE ON articles BEGIN
  INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, title, text) SELECT 'delete', old.id, old.title, old.text WHERE {_NOT_PENDING};
  DELETE FROM {PENDING_TABLE} WHERE id = old.id;
END""",
    f"""CREATE TRIGGER {FTS_TABLE}_au AFTER UPDATE OF title, text ON articles
WHEN (old.title IS NOT new.title OR old.text IS NOT new.text) AND {_NOT_PENDING} BEGIN
  INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, title, text) VALUES ('delete', old.id, old.title, old.text);
  INSERT INTO {FTS_TABLE}(rowid, title, text) VALUES (new.id, new.title, new.text);
END""",
]


def sqlite_has_trigram(connection: Connection) -> bool:
    """FTS5's trigram tokenizer arrived in SQLite 3.34 (and FTS5 itself may be compiled out)."""
    try:
        connection.exec_driver_sql("CREATE VIRTUAL TABLE temp._cascrawl_trigram_probe USING fts5(x, tokenize='trigram')")
    except Exception:  # sqlite3.OperationalError: no such tokenizer / no such module
        return False
    connection.exec_driver_sql("DROP TABLE temp._cascrawl_trigram_probe")
    return True


def create_sqlite_fts(connection: Connection) -> None:
    for statement in _SQLITE_FTS:
        connection.exec_driver_sql(statement)


def defer_sqlite_fts(connection: Connection) -> None:
    """Index new articles in bulk (sync_sqlite_fts) instead of row by row: migration 0007_fulltext_deferred."""
    for statement in _SQLITE_DEFERRED:
        connection.exec_driver_sql(statement)


def undefer_sqlite_fts(connection: Connection) -> None:
    """Back to indexing row by row (migration 0007_fulltext_deferred's downgrade): the table made again and rebuilt from `articles`."""
    drop_sqlite_fts(connection)
    create_sqlite_fts(connection)


def sync_sqlite_fts(connection: Connection) -> int:
    """Index every article noted as pending, in one statement; returns how many. Run it inside a transaction
    (the index and the pending list change together)."""
    pending = connection.exec_driver_sql(f"SELECT count(*) FROM {PENDING_TABLE}").scalar() or 0
    if pending:
        connection.exec_driver_sql(
            f"INSERT INTO {FTS_TABLE}(rowid, title, text) SELECT a.id, a.title, a.text "
            f"FROM articles AS a JOIN {PENDING_TABLE} AS p ON p.id = a.id")
        connection.exec_driver_sql(f"DELETE FROM {PENDING_TABLE}")
    return pending


def sqlite_fts_deferred(connection: Connection) -> bool:
    found = connection.execute(
        text("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = :name"), {"name": PENDING_TABLE}
    ).first()
    return found is not None


def drop_sqlite_fts(connection: Connection) -> None:
    for trigger in ("ai", "ad", "au"):
        connection.exec_driver_sql(f"DROP TRIGGER IF EXISTS {FTS_TABLE}_{trigger}")
    connection.exec_driver_sql(f"DROP TABLE IF EXISTS {FTS_TABLE}")
    connection.exec_driver_sql(f"DROP TABLE IF EXISTS {PENDING_TABLE}")


def sqlite_fts_present(connection: Connection) -> bool:
    found = connection.execute(
        text("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = :name"), {"name": FTS_TABLE}
    ).first()
    return found is not None


def create_pg_trgm(connection: Connection) -> None:
    available = connection.execute(text("SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm'")).first()
    if available is None:
        raise RuntimeError("PostgreSQL has no pg_trgm extension (Debian/Ubuntu: it comes with the postgresql "
                           "package; elsewhere install postgresql-contrib), needed for full-text search")
    # pg_trgm is a trusted extension (PostgreSQL 13+): the database owner may create it.
    connection.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for index, column in zip(TRIGRAM_INDEXES, ("title", "text")):
        connection.exec_driver_sql(f"CREATE INDEX {index} ON articles USING gin ({column} gin_trgm_ops)")


def pg_trgm_sees_chinese(connection: Connection) -> bool:
    """pg_trgm takes trigrams of "letters" as the database's LC_CTYPE defines them: under a UTF-8 locale
    (C.UTF-8, zh_CN.UTF-8, en_US.UTF-8) Chinese characters are letters; under plain C they are not, the
    indexes hold nothing for Chinese text and every search scans (same results, slower)."""
    return bool(connection.execute(text("SELECT show_trgm('脑机接口')")).scalar())


def drop_pg_trgm(connection: Connection) -> None:
    for index in TRIGRAM_INDEXES:
        connection.exec_driver_sql(f"DROP INDEX IF EXISTS {index}")
    # The extension stays: other tables of the database may use it.


def fts5_query(terms: list[str]) -> str:
    """Each term as an FTS5 string (a substring to find), all of them required."""
    return " ".join('"' + term.replace('"', '""') + '"' for term in terms)


# --- PostgreSQL, since migration 0009_pg_search_deferred: the trigram index on a table of its own, filled in bulk ---

# A search term holds no whitespace (queries are split on it), so it is a substring of this document exactly
# when it is one of the title or of the text: one index serves both columns.
PG_DOCUMENT = "coalesce({0}.title, '') || E'\\n' || coalesce({0}.text, '')"

_PG_DOCUMENTS_INDEX_DDL = f"CREATE INDEX {PG_DOCUMENTS_INDEX} ON {PG_DOCUMENTS_TABLE} USING gin (document gin_trgm_ops)"

_PG_DEFERRED = [
    f"""CREATE TABLE {PG_DOCUMENTS_TABLE} (
  id integer PRIMARY KEY REFERENCES articles (id) ON DELETE CASCADE,
  document text NOT NULL
)""",
    f"CREATE TABLE {PENDING_TABLE} (id integer PRIMARY KEY)",
    # Statement-level with a transition table: one INSERT … SELECT per insert statement, not one per row.
    f"""CREATE FUNCTION {FTS_TABLE}_note_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO {PENDING_TABLE} (id) SELECT id FROM inserted ON CONFLICT DO NOTHING;
  RETURN NULL;
END $$""",
    f"""CREATE TRIGGER {FTS_TABLE}_ai AFTER INSERT ON articles REFERENCING NEW TABLE AS inserted
FOR EACH STATEMENT EXECUTE FUNCTION {FTS_TABLE}_note_inserted()""",
    # A changed title or text: out of the index until the next sync indexes the new one (search scans it meanwhile).
    f"""CREATE FUNCTION {FTS_TABLE}_note_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM {PG_DOCUMENTS_TABLE} WHERE id = NEW.id;
  INSERT INTO {PENDING_TABLE} (id) VALUES (NEW.id) ON CONFLICT DO NOTHING;
  RETURN NULL;
END $$""",
    f"""CREATE TRIGGER {FTS_TABLE}_au AFTER UPDATE OF title, text ON articles FOR EACH ROW
WHEN (OLD.title IS DISTINCT FROM NEW.title OR OLD.text IS DISTINCT FROM NEW.text)
EXECUTE FUNCTION {FTS_TABLE}_note_changed()""",
    # The documents go with their article by the foreign key; a pending id by this trigger.
    f"""CREATE FUNCTION {FTS_TABLE}_forget_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM {PENDING_TABLE} WHERE id IN (SELECT id FROM deleted);
  RETURN NULL;
END $$""",
    f"""CREATE TRIGGER {FTS_TABLE}_ad AFTER DELETE ON articles REFERENCING OLD TABLE AS deleted
FOR EACH STATEMENT EXECUTE FUNCTION {FTS_TABLE}_forget_deleted()""",
]

# Every pending article no other transaction holds, locked (a writer changing one of them waits for this
# sync, whose copy is then current; this sync never waits, so it cannot deadlock with a writer or another
# sync), noted as indexed, and its document copied.
_PG_SYNC = f"""WITH locked AS (
  SELECT a.id, {PG_DOCUMENT.format("a")} AS document FROM articles AS a
  WHERE a.id IN (SELECT id FROM {PENDING_TABLE})
  FOR NO KEY UPDATE OF a SKIP LOCKED
), cleared AS (
  DELETE FROM {PENDING_TABLE} AS p USING locked WHERE p.id = locked.id
), indexed AS (
  INSERT INTO {PG_DOCUMENTS_TABLE} (id, document) SELECT id, document FROM locked
  ON CONFLICT (id) DO UPDATE SET document = EXCLUDED.document
  RETURNING 1
)
SELECT count(*) FROM indexed"""


# Long texts (TOAST) compressed with lz4 instead of the default pglz: measured half the server time of
# inserting articles (0.23 -> 0.11 ms per article of 1,600 characters of text and its HTML) and 5% smaller
# for Chinese text. What is read back is the same; rows stored before keep their pglz values.
_LZ4_COLUMNS = {"articles": ("text", "html"), "article_revisions": ("text", "html"), PG_DOCUMENTS_TABLE: ("document",)}


def pg_has_lz4(connection: Connection) -> bool:
    """PostgreSQL 14+ built with lz4 (Debian's, the official images' are)."""
    return connection.execute(text(
        "SELECT 'lz4' = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'")).scalar() is True


def compress_pg_lz4(connection: Connection) -> None:
    for table, columns in _LZ4_COLUMNS.items():
        changes = ", ".join(f"ALTER COLUMN {name} SET COMPRESSION lz4" for name in columns)
        connection.exec_driver_sql(f"ALTER TABLE {table} {changes}")


def defer_pg_search(connection: Connection) -> None:
    """Migration 0009_pg_search_deferred: the trigram indexes leave `articles`; the articles stored so far are
    copied to the documents table, then indexed in one build (faster than row by row)."""
    for statement in _PG_DEFERRED:
        connection.exec_driver_sql(statement)
    if pg_has_lz4(connection):
        compress_pg_lz4(connection)
    connection.exec_driver_sql(
        f"INSERT INTO {PG_DOCUMENTS_TABLE} (id, document) SELECT a.id, {PG_DOCUMENT.format('a')} FROM articles AS a")
    connection.exec_driver_sql(_PG_DOCUMENTS_INDEX_DDL)
    drop_pg_trgm(connection)


def undefer_pg_search(connection: Connection) -> None:
    """Back to the trigram indexes on `articles`, kept by each insert (0009_pg_search_deferred's downgrade)."""
    connection.exec_driver_sql(f"DROP TABLE IF EXISTS {PG_DOCUMENTS_TABLE}")
    connection.exec_driver_sql(f"DROP TABLE IF EXISTS {PENDING_TABLE}")
    for table, columns in _LZ4_COLUMNS.items():  # back to the server's default (pglz unless configured)
        if table != PG_DOCUMENTS_TABLE:
            changes = ", ".join(f"ALTER COLUMN {name} SET COMPRESSION DEFAULT" for name in columns)
            connection.exec_driver_sql(f"ALTER TABLE {table} {changes}")
    for trigger, function in (("ai", "note_inserted"), ("au", "note_changed"), ("ad", "forget_deleted")):
        connection.exec_driver_sql(f"DROP TRIGGER IF EXISTS {FTS_TABLE}_{trigger} ON articles")
        connection.exec_driver_sql(f"DROP FUNCTION IF EXISTS {FTS_TABLE}_{function}()")
    create_pg_trgm(connection)


def pg_search_deferred(connection: Connection) -> bool:
    return connection.execute(text("SELECT to_regclass(:name)"), {"name": PENDING_TABLE}).scalar() is not None


def sync_pg_search(connection: Connection) -> int:
    """Index every pending article (one statement); returns how many. Pending articles another transaction
    is writing are left for the next sync (search scans them meanwhile).

    When more articles wait than are indexed (a first crawl into an empty database, a large killed run),
    the index is dropped and built again over the whole table, which costs less than adding the new
    rows one by one (measured 0.9 against 1.75 ms per article, 10,000 into an empty table); searches
    wait for that sync to commit. Not when another transaction holds the documents table: then the rows
    are added as usual."""
    pending = connection.exec_driver_sql(f"SELECT count(*) FROM {PENDING_TABLE}").scalar() or 0
    if not pending:
        return 0
    indexed = connection.execute(text(f"SELECT count(*) FROM (SELECT 1 FROM {PG_DOCUMENTS_TABLE} LIMIT :n) AS d"),
                                 {"n": pending}).scalar()
    rebuild = indexed < pending
    if rebuild:
        try:
            with connection.begin_nested():
                connection.exec_driver_sql(f"LOCK TABLE {PG_DOCUMENTS_TABLE} IN ACCESS EXCLUSIVE MODE NOWAIT")
        except OperationalError:  # lock_not_available: a search or a writer is using the table
            rebuild = False
    if rebuild:
        connection.exec_driver_sql(f"DROP INDEX {PG_DOCUMENTS_INDEX}")
    synced = connection.exec_driver_sql(_PG_SYNC).scalar() or 0
    if rebuild:
        connection.exec_driver_sql(_PG_DOCUMENTS_INDEX_DDL)
    else:
        # GIN puts new entries in a pending list (up to gin_pending_list_limit, 4 MB) that every search
        # reads whole and that makes the planner avoid the index (measured: a rare phrase 200 ms, a scan
        # of every document, instead of 5 ms after 500 changed articles): merged into the index now.
        connection.execute(text("SELECT gin_clean_pending_list(CAST(:index AS regclass))"), {"index": PG_DOCUMENTS_INDEX})
    return synced
