"""Chinese full-text search: the index DDL (used by the migrations) and the search query.

Chinese has no spaces between words, so word tokenizers do not work; both backends index character
trigrams instead, which find any substring of three or more characters:

- SQLite: an FTS5 table `articles_fts` with the `trigram` tokenizer (SQLite >= 3.34), external content
  (the text lives once, in `articles`), kept in sync by three triggers on `articles`.
- PostgreSQL: the `pg_trgm` extension and GIN trigram indexes on `articles.title` and `articles.text`,
  which serve `ILIKE '%…%'`.

A term of one or two characters has no trigram: it is matched with LIKE / ILIKE (a scan).

A migration of a later version that rebuilds `articles` in SQLite batch mode drops its triggers:
such a migration must call `drop_sqlite_fts` before and `create_sqlite_fts` after.
"""

from __future__ import annotations

from sqlalchemy import Connection, text

FTS_TABLE = "articles_fts"
TRIGRAM_INDEXES = ("ix_articles_title_trgm", "ix_articles_text_trgm")
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


def drop_sqlite_fts(connection: Connection) -> None:
    for trigger in ("ai", "ad", "au"):
        connection.exec_driver_sql(f"DROP TRIGGER IF EXISTS {FTS_TABLE}_{trigger}")
    connection.exec_driver_sql(f"DROP TABLE IF EXISTS {FTS_TABLE}")


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
