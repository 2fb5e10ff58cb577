"""Migrations, the schema-behind policy and Chinese full-text search, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.orm import Session

from cascrawl.db import Article, Database, DatabaseError, fulltext, migrate
from cascrawl.db.migrate import include_name
from cascrawl.db.models import Base

from .db_backends import db_url, postgres_server  # noqa: F401  (fixtures)
from .test_db_store import article

TABLES = {"articles", "article_revisions", "crawl_runs", "rejects"}


def test_the_migrations_build_exactly_the_schema_of_the_models(db_url):  # noqa: F811
    Database(db_url).open().close()
    engine = create_engine(db_url)
    with engine.connect() as connection:
        assert TABLES <= set(inspect(connection).get_table_names())
        context = MigrationContext.configure(connection, opts={"compare_type": True, "include_name": include_name})
        assert context.get_current_revision() == migrate.head_revision()
        assert compare_metadata(context, Base.metadata) == []
        indexes = {index["name"] for index in inspect(connection).get_indexes("articles")}
    engine.dispose()
    assert {"ix_articles_section_published", "ix_articles_updated_id"} <= indexes


def test_downgrade_to_nothing_and_upgrade_again(db_url):  # noqa: F811
    database = Database(db_url).open()
    database.upsert_articles([article(1)])
    migrate.downgrade(database.engine, "base")
    assert not TABLES & set(inspect(database.engine).get_table_names())
    assert database.schema_state().empty
    assert database.upgrade() == (None, migrate.head_revision())
    database.upsert_articles([article(1)])
    assert database.search("脑机接口")[0]["url"] == article(1)["url"]
    database.close()


def test_a_crawl_creates_the_schema_of_an_empty_database_but_stops_at_one_that_is_behind(db_url):  # noqa: F811
    behind = Database(db_url)
    behind.upgrade("0001")
    assert behind.schema_state().behind
    with pytest.raises(DatabaseError) as refused:
        behind.open()
    message = str(refused.value)
    assert "schema revision 0001" in message and "cascrawl db upgrade" in message and "\n" not in message
    assert behind.schema_state().current == "0001"  # untouched

    with pytest.raises(DatabaseError, match="cascrawl db upgrade"):
        behind.open(create=False)  # readers neither

    behind.open(auto_upgrade=True)  # CASCRAWL_DB_AUTO_UPGRADE=True
    assert behind.schema_state().up_to_date
    behind.close()


def test_a_schema_from_a_newer_cascrawl_or_from_before_migrations_is_refused(db_url):  # noqa: F811
    database = Database(db_url).open()
    with database.engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = 'f00dcafe'"))
    with pytest.raises(DatabaseError, match="unknown to this cascrawl.*newer cascrawl"):
        database.open()
    with database.engine.begin() as connection:
        connection.execute(text("DROP TABLE alembic_version"))
    with pytest.raises(DatabaseError, match="no migration revision"):
        database.open()
    with pytest.raises(DatabaseError, match="no migration revision"):
        database.upgrade()
    database.close()


def test_a_reader_refuses_a_database_without_cascrawl_tables(db_url):  # noqa: F811
    database = Database(db_url)
    if database.engine.dialect.name == "sqlite":
        with pytest.raises(DatabaseError, match="no database file"):
            database.open(create=False)
        database.engine.connect().close()  # the file now exists, empty
    with pytest.raises(DatabaseError, match="has no cascrawl tables"):
        database.open(create=False)
    database.close()


# --- full-text search ---

ARTICLES = [
    article(1, title="我国侵入式脑机接口进入临床试验阶段", text="该系统采用高通量柔性电极。"),
    article(2, title="科研人员揭示水稻耐盐新机制", text="研究还表明，这一机制与脑机接口无关，属于CRISPR基因编辑。"),
    article(3, title="中国科学院召开2025年度工作会议", text="会议总结了年度进展，增长100%。"),
    article(4, title="量子计算原型机实现新突破", text="量子纠缠的相干时间延长，脑科学与人工智能交叉。"),
]


@pytest.fixture(params=["indexed", "pending"])
def searchable(request, db_url):  # noqa: F811
    """The ARTICLES stored, then (indexed) the full-text index brought up to date, as a crawl does when it
    ends, or (pending) not yet, as during a crawl or after a killed one: search finds the same either way."""
    database = Database(db_url).open()
    database.upsert_articles(ARTICLES)
    if request.param == "indexed":
        database.sync_search()
    yield database
    database.close()


def urls(hits: list[dict]) -> list[str]:
    return [hit["url"] for hit in hits]


def test_search_finds_chinese_in_title_or_text_title_matches_first(searchable):
    assert urls(searchable.search("脑机接口")) == [ARTICLES[0]["url"], ARTICLES[1]["url"]]
    hit = searchable.search("高通量柔性电极")[0]
    assert hit["title"] == "我国侵入式脑机接口进入临床试验阶段" and "高通量柔性电极" in hit["snippet"]
    assert searchable.search("脑机接口系统") == []


def test_search_of_one_or_two_characters_and_of_several_words(searchable):
    assert set(urls(searchable.search("脑机"))) == {ARTICLES[0]["url"], ARTICLES[1]["url"]}
    assert urls(searchable.search("量子")) == [ARTICLES[3]["url"]]
    assert set(urls(searchable.search("脑"))) == {ARTICLES[0]["url"], ARTICLES[1]["url"], ARTICLES[3]["url"]}
    assert urls(searchable.search("水稻 脑机接口")) == [ARTICLES[1]["url"]]  # every word required
    assert urls(searchable.search("脑 人工智能")) == [ARTICLES[3]["url"]]
    assert searchable.search("   ") == []


def test_search_takes_like_wildcards_literally_and_ignores_ascii_case(searchable):
    assert urls(searchable.search("100%")) == [ARTICLES[2]["url"]]
    assert searchable.search("10_%") == []
    assert urls(searchable.search("crispr")) == [ARTICLES[1]["url"]]
    assert urls(searchable.search('"CRISPR"')) == []  # quotes are characters to find, not FTS syntax


def test_the_search_index_follows_changed_and_deleted_articles(searchable):
    searchable.upsert_articles([article(1, title="我国侵入式脑机接口进入临床试验阶段", text="改为柔性神经电极。")])
    assert searchable.search("高通量柔性电极") == []
    assert urls(searchable.search("柔性神经电极")) == [ARTICLES[0]["url"]]
    searchable.upsert_articles([article(4, title="量子计算原型机实现新突破", text=ARTICLES[3]["text"], editor="某")])
    assert urls(searchable.search("量子纠缠")) == [ARTICLES[3]["url"]]  # refreshed row still indexed once
    with Session(searchable.engine) as session, session.begin():
        session.execute(Article.__table__.delete().where(Article.url == ARTICLES[3]["url"]))
    assert searchable.search("量子纠缠") == []


def _indexed(database: Database, phrase: str) -> list[int]:
    """Article ids the FTS5 index itself finds for `phrase` (not search(), which also scans pending articles)."""
    with database.engine.connect() as connection:
        return sorted(connection.execute(text("SELECT rowid FROM articles_fts WHERE articles_fts MATCH :q"),
                                         {"q": f'"{phrase}"'}).scalars())


def _pending(database: Database) -> int:
    with database.engine.connect() as connection:
        return connection.execute(text("SELECT count(*) FROM articles_fts_pending")).scalar()


def _new_articles_wait_for_the_sync(database: Database, indexed) -> None:
    """ARTICLES[2:] stored: pending and found by search; one edited before the sync; the sync indexes the
    text it has then. `indexed(database, phrase)`: the ids the backend's index holds for `phrase`."""
    database.upsert_articles(ARTICLES[2:])
    assert _pending(database) == 2 and indexed(database, "量子纠缠") == []
    assert urls(database.search("量子纠缠")) == [ARTICLES[3]["url"]]  # found while pending
    # Edited before its sync: the sync indexes the text it has then, and only that.
    database.upsert_articles([article(4, title=ARTICLES[3]["title"], text="超导量子比特的相干时间延长。")])
    assert database.sync_search() == 2 and _pending(database) == 0
    assert indexed(database, "量子纠缠") == [] and indexed(database, "超导量子比特") == [4]
    assert urls(database.search("超导量子比特")) == [ARTICLES[3]["url"]] and database.search("量子纠缠") == []
    assert database.sync_search() == 0


# The revision before bulk indexing (0007_fulltext_deferred): articles were indexed row by row by triggers.
ROW_BY_ROW = "0006_media_archive"


def _store_at_old_revision(database: Database, rows: list[dict]) -> None:
    """New articles inserted into a database at an older revision, with the columns it has (today's store
    also writes columns added since, such as the WARC record's)."""
    from datetime import datetime, timezone

    from sqlalchemy import Column, MetaData, Table

    from cascrawl.db.articles import _article_values

    present = {column["name"] for column in inspect(database.engine).get_columns("articles")}
    table = Table("articles", MetaData(), *(Column(c.name, c.type, primary_key=c.primary_key)
                                            for c in Article.__table__.columns if c.name in present))
    now = datetime.now(timezone.utc)
    values = [{**{key: value for key, value in _article_values(row).items() if key in present},
               "first_seen_at": now, "last_seen_at": now, "updated_at": now, "revision": 1} for row in rows]
    with database.engine.begin() as connection:
        connection.execute(table.insert(), values)


def test_sqlite_indexes_new_articles_in_bulk_and_keeps_the_index_of_an_older_database(tmp_path):
    database = Database(f"sqlite:///{tmp_path / 'bulk.db'}")
    database.upgrade(ROW_BY_ROW)
    _store_at_old_revision(database, ARTICLES[:2])  # indexed row by row, by the triggers of 0002
    database.upgrade()  # 0007: what is indexed stays indexed; new articles wait for a sync
    assert _indexed(database, "脑机接口") == [1, 2] and _pending(database) == 0

    _new_articles_wait_for_the_sync(database, _indexed)
    # Edited after its sync: the update trigger replaces its entry, as before 0007.
    database.upsert_articles([article(3, title=ARTICLES[2]["title"], text="会议部署了来年的重点任务。")])
    assert _indexed(database, "年度进展") == [] and _indexed(database, "来年的重点任务") == [3]

    migrate.downgrade(database.engine, ROW_BY_ROW)  # back to row-by-row indexing: the index rebuilt whole
    with database.engine.connect() as connection:
        assert not fulltext.sqlite_fts_deferred(connection)
    _store_at_old_revision(database, [article(5, title="月球样品研究取得新进展", text="嫦娥六号样品。")])
    assert _indexed(database, "嫦娥六号") == [5] and _indexed(database, "超导量子比特") == [4]
    database.close()


def _pg_indexed(database: Database, phrase: str) -> list[int]:
    """Article ids whose indexed copy (PostgreSQL's articles_fts_documents) holds `phrase`."""
    with database.engine.connect() as connection:
        return sorted(connection.execute(text("SELECT id FROM articles_fts_documents WHERE document ILIKE :p"),
                                         {"p": f"%{phrase}%"}).scalars())


# The revision before PostgreSQL's bulk indexing (0009_pg_search_deferred): GIN indexes on articles.
PG_ROW_BY_ROW = "0008_run_workers"


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_postgresql_indexes_new_articles_in_bulk_and_keeps_what_an_older_database_held(db_url):  # noqa: F811
    database = Database(db_url)
    database.upgrade(PG_ROW_BY_ROW)
    _store_at_old_revision(database, ARTICLES[:2])  # indexed row by row, by the GIN indexes of 0002
    database.upgrade()  # 0009: what was stored is indexed by the migration; new articles wait for a sync
    assert _pg_indexed(database, "脑机接口") == [1, 2] and _pending(database) == 0
    with database.engine.connect() as connection:
        indexes = {index["name"] for index in inspect(connection).get_indexes("articles")}
    assert not indexes & set(fulltext.TRIGRAM_INDEXES)

    _new_articles_wait_for_the_sync(database, _pg_indexed)
    # Edited after its sync: out of the index (never an old text there), pending, found by its new text.
    database.upsert_articles([article(3, title=ARTICLES[2]["title"], text="会议部署了来年的重点任务。")])
    assert _pg_indexed(database, "年度进展") == [] and _pg_indexed(database, "来年的重点任务") == [] and _pending(database) == 1
    assert urls(database.search("来年的重点任务")) == [ARTICLES[2]["url"]] and database.search("年度进展") == []
    # Only metadata changed: the indexed copy stays, nothing pending.
    database.upsert_articles([article(1, title=ARTICLES[0]["title"], text=ARTICLES[0]["text"], editor="某")])
    assert database.sync_search() == 1 and _pg_indexed(database, "来年的重点任务") == [3]
    database.upsert_articles([article(1, title=ARTICLES[0]["title"], text=ARTICLES[0]["text"], editor="另")])
    assert _pending(database) == 0 and _pg_indexed(database, "脑机接口") == [1, 2]
    # A deleted article leaves the index and the pending list.
    _store_at_old_revision(database, [article(5, title="月球样品研究取得新进展", text="嫦娥六号样品。")])
    with Session(database.engine) as session, session.begin():
        session.execute(Article.__table__.delete().where(Article.url.in_([ARTICLES[1]["url"], article(5)["url"]])))
    assert _pending(database) == 0 and _pg_indexed(database, "脑机接口") == [1]

    migrate.downgrade(database.engine, PG_ROW_BY_ROW)  # back to the GIN indexes on articles
    with database.engine.connect() as connection:
        assert not fulltext.pg_search_deferred(connection)
        indexes = {index["name"] for index in inspect(connection).get_indexes("articles")}
    assert set(fulltext.TRIGRAM_INDEXES) <= indexes
    _store_at_old_revision(database, [article(6, title="月球样品研究取得新进展", text="嫦娥六号样品。")])
    assert urls(database.search("嫦娥六号")) == [article(6)["url"]] and urls(database.search("超导量子比特")) == [ARTICLES[3]["url"]]
    database.close()


def test_search_uses_the_trigram_index(searchable):
    with searchable.engine.connect() as connection:
        if connection.dialect.name == "sqlite":
            # The FTS5 table holds trigrams of every synced article; the others wait in articles_fts_pending.
            found = connection.execute(text("SELECT rowid FROM articles_fts WHERE articles_fts MATCH '\"脑机接口\"'"))
            pending = connection.execute(text("SELECT count(*) FROM articles_fts_pending")).scalar()
            assert (len(found.all()), pending) in ((2, 0), (0, len(ARTICLES)))
            plan = " ".join(str(row) for row in connection.execute(
                text("EXPLAIN QUERY PLAN SELECT rowid FROM articles_fts WHERE articles_fts MATCH '\"脑机接口\"'")))
            assert "VIRTUAL TABLE INDEX" in plan
        else:
            from cascrawl.db import fulltext

            assert fulltext.pg_trgm_sees_chinese(connection)  # a UTF-8 locale: Chinese characters make trigrams
            # The documents table holds every synced article; the others wait in articles_fts_pending.
            found = connection.execute(text("SELECT id FROM articles_fts_documents WHERE document ILIKE '%脑机接口%'"))
            pending = connection.execute(text("SELECT count(*) FROM articles_fts_pending")).scalar()
            assert (len(found.all()), pending) in ((2, 0), (0, len(ARTICLES)))
            connection.execute(text("SET enable_seqscan = off"))  # a 4-row table would be scanned anyway
            plan = " ".join(row[0] for row in connection.execute(
                text("EXPLAIN SELECT id FROM articles_fts_documents WHERE document ILIKE '%脑机接口%'")))
            assert "ix_articles_fts_documents_trgm" in plan
            indexes = {index["name"] for index in inspect(connection).get_indexes("articles")}
            assert not indexes & set(fulltext.TRIGRAM_INDEXES)  # no trigram index kept by each insert


def test_search_queries_the_index_for_long_words_and_like_for_short_ones(searchable):
    from sqlalchemy import event

    statements: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    event.listen(searchable.engine, "before_cursor_execute", record)
    try:
        searchable.search("脑机接口")
        long_query = " ".join(s for s in statements if "FROM articles" in s)
        statements.clear()
        searchable.search("脑机")
        short_query = " ".join(s for s in statements if "FROM articles" in s)
    finally:
        event.remove(searchable.engine, "before_cursor_execute", record)
    if searchable.engine.dialect.name == "sqlite":
        # The index, and LIKE only over the articles not indexed yet (title or text: two LIKEs).
        where = long_query.split("ORDER BY")[0]
        assert "articles_fts MATCH" in where and "articles_fts_pending" in where and where.count("LIKE") == 2
        assert "articles_fts" not in short_query and "LIKE" in short_query
    else:
        # The trigram index over the synced copies; ILIKE over the articles not synced yet (title or text),
        # looked up by id in the array of the pending ones; in one statement.
        [statement] = [s for s in long_query.split("SET LOCAL enable_seqscan = off") if "ORDER BY" in s]
        where = statement.split("ORDER BY")[0]
        assert "articles_fts_documents" in where and "array_agg(articles_fts_pending.id)" in where
        assert where.count("ILIKE") == 3 and where.count("ANY") == 1
        assert "articles_fts" not in short_query and "ILIKE" in short_query


@pytest.fixture
def mixed_case(db_url):  # noqa: F811
    """Two articles naming CRISPR in other letter cases: one in its (older) title, one in its (newer) text."""
    from datetime import date

    database = Database(db_url).open()
    in_title = article(11, title="CRISPR基因编辑研究新进展", text="研究团队发表论文。", published_date=date(2025, 1, 2))
    in_text = article(12, title="水稻育种取得突破", text="团队利用Crispr技术改良水稻。", published_date=date(2025, 6, 2))
    database.upsert_articles([in_title, in_text])
    yield database, in_title["url"], in_text["url"]
    database.close()


@pytest.mark.parametrize("query", ["crispr", "CRISPR", "cRiSpR",  # six letters: the trigram path (FTS5 / pg_trgm)
                                   "cr", "CR", "Cr"])  # two letters: the (I)LIKE scan
def test_both_search_paths_ignore_ascii_case_and_rank_title_matches_first(mixed_case, query):
    database, in_title, in_text = mixed_case
    assert urls(database.search(query)) == [in_title, in_text]  # the title match first, though older


@pytest.mark.parametrize("query", ["crispr", "CR"])
def test_the_api_filter_matches_like_search_whatever_the_case(mixed_case, query):
    from cascrawl.db import reads

    database, in_title, in_text = mixed_case
    page = reads.list_articles(database, reads.ArticleFilter(q=query))
    assert sorted(found.url for found in page.articles) == sorted([in_title, in_text])
    assert reads.count_articles(database, reads.ArticleFilter(q=query + " 水稻")) == 1


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_postgresql_sync_rebuilds_the_index_when_most_articles_wait_and_adds_to_it_otherwise(db_url):  # noqa: F811
    from sqlalchemy import event

    database = Database(db_url).open()
    statements: list[str] = []
    event.listen(database.engine, "before_cursor_execute", lambda c, cur, s, p, ctx, many: statements.append(s))
    database.upsert_articles(ARTICLES[:3])
    assert database.sync_search() == 3  # into an empty table: dropped and built again over all rows
    assert any(s.startswith("DROP INDEX") for s in statements) and any(s.startswith("CREATE INDEX") for s in statements)
    statements.clear()
    database.upsert_articles(ARTICLES[3:])
    assert database.sync_search() == 1  # 1 waiting, 3 indexed: added, the GIN pending list merged at once
    assert not any(s.startswith(("DROP INDEX", "CREATE INDEX")) for s in statements)
    assert any("gin_clean_pending_list" in s for s in statements)
    with database.engine.connect() as connection:
        assert connection.execute(text("SELECT indisvalid FROM pg_index WHERE indexrelid = "
                                       "'ix_articles_fts_documents_trgm'::regclass")).scalar() is True
    assert _pg_indexed(database, "脑机接口") == [1, 2] and _pg_indexed(database, "量子纠缠") == [4]
    assert urls(database.search("脑机接口")) == [ARTICLES[0]["url"], ARTICLES[1]["url"]]
    database.close()


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_postgresql_sync_waits_for_no_other_transaction(db_url):  # noqa: F811
    """A search reading the documents table: no rebuild (it would wait for the lock), the rows are added.
    A writer holding a pending article: that one is left for the next sync; search finds it meanwhile."""
    database = Database(db_url).open()
    database.upsert_articles(ARTICLES[:2])
    engine = create_engine(db_url)
    other = engine.connect()
    try:
        other.begin()
        other.execute(text("SELECT count(*) FROM articles_fts_documents"))  # holds its lock until it ends
        other.execute(text("SELECT id FROM articles WHERE id = 2 FOR UPDATE"))  # a writer busy with article 2
        with database.engine.connect() as connection, connection.begin():
            connection.exec_driver_sql("SET LOCAL lock_timeout = '5s'")  # a sync that waited would fail, not hang
            assert fulltext.sync_pg_search(connection) == 1
        assert _pg_indexed(database, "脑机接口") == [1] and _pending(database) == 1
        assert urls(database.search("脑机接口")) == [ARTICLES[0]["url"], ARTICLES[1]["url"]]
        other.rollback()
        assert database.sync_search() == 1 and _pg_indexed(database, "脑机接口") == [1, 2] and _pending(database) == 0
    finally:
        other.close()
        engine.dispose()
    database.close()


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_postgresql_long_texts_are_compressed_with_lz4_and_read_back_unchanged(db_url):  # noqa: F811
    database = Database(db_url).open()
    long_text = "中国科学院" * 4000  # out of line (TOAST), compressed
    database.upsert_articles([article(1, text=long_text, html=f"<p>{long_text}</p>")])
    database.sync_search()
    with database.engine.connect() as connection:
        if not fulltext.pg_has_lz4(connection):
            pytest.skip("this PostgreSQL has no lz4: the server's default compression is kept")
        methods = connection.execute(text(
            "SELECT pg_column_compression(a.text), pg_column_compression(a.html), pg_column_compression(d.document) "
            "FROM articles AS a JOIN articles_fts_documents AS d USING (id)")).one()
    assert tuple(methods) == ("lz4", "lz4", "lz4")
    [stored] = list(database.iter_articles())
    assert stored.text == long_text and stored.html == f"<p>{long_text}</p>"
    database.close()
