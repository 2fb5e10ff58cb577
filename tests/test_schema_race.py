"""Workers opening one new PostgreSQL database at the same moment: one creates the schema, the others
wait for it. tests/test_distributed.py once failed on this: the second worker read "no revision" just
before the first one's migration committed and "tables present" just after, and refused the schema as
one made before migrations. Looking at the schema and creating it now happen under one advisory lock."""

from __future__ import annotations

import threading

from sqlalchemy import text

from cascrawl.db import Database, migrate
from cascrawl.db.schema import SCHEMA_LOCK_KEY

from .db_backends import postgres_server  # noqa: F401  (fixture)


def test_a_database_opened_while_another_worker_creates_the_schema_waits_and_uses_it(postgres_server):  # noqa: F811
    url = postgres_server.create_database()
    first, second = Database(url), Database(url)
    try:
        with first.engine.connect() as creating:  # the first worker, in the middle of creating the schema
            creating.execute(text("SELECT pg_advisory_lock(:key)"), {"key": SCHEMA_LOCK_KEY})
            outcome: list[str] = []

            def open_second():
                try:
                    second.open()
                    outcome.append("opened")
                except Exception as error:  # noqa: BLE001 - the outcome is what is compared
                    outcome.append(f"{type(error).__name__}: {error}")

            opener = threading.Thread(target=open_second)
            opener.start()
            opener.join(timeout=1.5)
            assert opener.is_alive() and outcome == []  # it waits for the first worker ...
            migrate.upgrade(first.engine)
            creating.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": SCHEMA_LOCK_KEY})
            creating.commit()
            opener.join(timeout=30)
        assert outcome == ["opened"]  # ... then finds the schema made, at head
        with second.engine.connect() as connection:
            assert migrate.schema_state(connection).up_to_date
    finally:
        first.close()
        second.close()
        postgres_server.drop_database(url)
