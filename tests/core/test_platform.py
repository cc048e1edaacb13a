"""The platform's own doors: health, outages, migrations, error pages."""
from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import bindparam, select, update

from campaigns.core.db import SQLITE_BUSY_TIMEOUT_MS, db, execute_autocommitted, quick_lock_waits
from campaigns.petitions.models import Campaign


def test_healthz_ok(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json()["status"] == "ok"
    assert response.get_json()["checks"] == {"database": "ok", "broker": "ok"}
    assert response.headers["Cache-Control"] == "no-store"


def test_healthz_names_an_unreachable_broker(app, client, monkeypatch):
    celery = app.extensions["celery"]
    monkeypatch.setattr(celery.conf, "broker_write_url", "redis://127.0.0.1:1/0")
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["status"] == "unavailable" and body["failing"] == ["broker"]
    assert body["checks"]["database"] == "ok"


@pytest.fixture
def app_without_database(other_app):
    """The same platform configured with a database server that does not answer."""
    broken = other_app(
        SQLALCHEMY_DATABASE_URI="postgresql+psycopg://postgres@127.0.0.1:1/test",
        SQLALCHEMY_ENGINE_OPTIONS={"connect_args": {"connect_timeout": 2}},
    )
    broken.config["PROPAGATE_EXCEPTIONS"] = False
    return broken


def test_database_outage_is_a_clean_503(app_without_database):
    client = app_without_database.test_client()
    health = client.get("/healthz")
    assert health.status_code == 503 and health.get_json()["failing"] == ["database"]

    page = client.get("/")
    assert page.status_code == 503
    text = page.get_data(as_text=True)
    assert "briefly unavailable" in text
    assert "psycopg" not in text and "127.0.0.1" not in text and "Traceback" not in text
    assert page.headers["Retry-After"] == "30"

    api = client.get("/api/v1/campaigns")
    assert api.status_code == 503 and api.is_json and "psycopg" not in api.get_data(as_text=True)


def test_migrations_build_exactly_the_models(app):
    """The schema the migrations built (for this suite) is the one the models describe."""
    with db.engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), db.metadata)
    assert diff == []


def test_unknown_page_is_a_friendly_404(client):
    response = client.get("/no/such/page")
    assert response.status_code == 404
    assert "We could not find that page." in response.get_data(as_text=True)
    assert response.mimetype == "text/html"


def test_work_queued_in_a_savepoint_waits_for_the_outer_commit(app):
    from campaigns.core.db import after_commit, db

    ran = []
    with app.app_context():
        after_commit(lambda: ran.append("outer"))
        with db.session.begin_nested():
            after_commit(lambda: ran.append("kept savepoint"))
        assert ran == []  # releasing a savepoint commits nothing yet
        try:
            with db.session.begin_nested():
                after_commit(lambda: ran.append("rolled-back savepoint"))
                raise RuntimeError
        except RuntimeError:
            pass
        db.session.commit()
    assert ran == ["outer", "kept savepoint"]


def test_work_queued_for_the_commit_runs_even_when_the_request_ran_no_statement(app):
    """The request boundary skips a commit only when there is nothing to commit."""
    from campaigns.core.db import after_commit

    ran = []
    with app.test_request_context("/"):
        after_commit(lambda: ran.append("queued"))
        app.process_response(app.response_class("ok"))
    assert ran == ["queued"]


def test_a_failed_request_drops_what_it_wrote(app, campaign):
    with app.test_request_context("/"):
        db.session.get(Campaign, campaign.id).title = "Never saved"
        db.session.flush()
        app.process_response(app.response_class("failed", status=500))
    db.session.expire_all()
    assert db.session.get(Campaign, campaign.id).title != "Never saved"


def test_sqlite_connections_share_the_file_safely_and_keep_foreign_keys(app):
    """The embedded default: WAL (the web process and the worker read while one writes), a
    busy timeout, and foreign keys enforced, on every connection the pool opens."""
    import sqlite3

    from sqlalchemy.exc import IntegrityError

    if db.engine.dialect.name != "sqlite":
        pytest.skip("SQLite's settings")

    class Subclassed(sqlite3.Connection):
        pass

    for connect_args in ({}, {"factory": Subclassed}):
        engine = db.create_engine(db.engine.url, connect_args=connect_args)
        try:
            with engine.connect() as connection:
                pragma = lambda name: connection.exec_driver_sql(f"PRAGMA {name}").scalar()  # noqa: E731
                assert (pragma("journal_mode"), pragma("foreign_keys"), pragma("busy_timeout")) == \
                    ("wal", 1, 30000)
                with pytest.raises(IntegrityError, match="FOREIGN KEY constraint failed"):
                    connection.exec_driver_sql(
                        "INSERT INTO letter (campaign_id, action_id, action_target_id, supporter_id, contact_id,"
                        " state, subject, body, test, created_at) VALUES (-1, -1, -1, -1, -1, 'pending',"
                        " 's', 'b', 0, '2026-01-01')")
        finally:
            engine.dispose()


@pytest.fixture
def sqlite_write_lock(app):
    """Holds SQLite's one write lock on a connection of its own (as another process's
    transaction would) until the returned ``release`` is called, or the test ends."""
    import sqlite3

    if db.engine.dialect.name != "sqlite":
        pytest.skip("SQLite's write lock")
    holder = sqlite3.connect(db.engine.url.database, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")
    released = []

    def release() -> None:
        if not released:
            released.append(True)
            holder.execute("COMMIT")

    yield release
    release()
    holder.close()


def _campaign_title(campaign_id: int) -> str:
    with db.engine.connect() as connection:
        return connection.scalar(select(Campaign.title).where(Campaign.id == campaign_id))


def test_a_statement_that_must_not_wait_long_waits_for_the_write_lock_and_then_goes_through(
        app, campaign, sqlite_write_lock):
    """On SQLite, an email's record waits for the write lock in steps of at most 1 ms (SQLite's
    own wait sleeps 1, 2, 5, 10 ms ...): in the block SQLite's wait is off, the statement is
    tried again until the lock is free, then it goes through once; after the block the
    connection waits as usual again (it goes back to the pool)."""
    import threading

    from sqlalchemy.exc import OperationalError

    statement = update(Campaign).where(Campaign.id == campaign.id).values(title=bindparam("new_title"))
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        with quick_lock_waits(connection):
            with pytest.raises(OperationalError, match="database is locked"):  # no wait of SQLite's own
                connection.execute(statement, {"new_title": "Not while locked"})
            timer = threading.Timer(0.2, sqlite_write_lock)
            timer.start()
            try:
                assert execute_autocommitted(connection, statement, {"new_title": "Once unlocked"}).rowcount == 1
            finally:
                timer.join()
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == SQLITE_BUSY_TIMEOUT_MS
    assert _campaign_title(campaign.id) == "Once unlocked"


def test_a_statement_that_must_not_wait_long_still_gives_up_after_the_busy_timeout(
        app, campaign, sqlite_write_lock, monkeypatch):
    from sqlalchemy.exc import OperationalError

    monkeypatch.setattr("campaigns.core.db.SQLITE_BUSY_TIMEOUT_MS", 50)
    title = _campaign_title(campaign.id)
    statement = update(Campaign).where(Campaign.id == campaign.id).values(title="Never")
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        with quick_lock_waits(connection):
            with pytest.raises(OperationalError, match="database is locked"):
                execute_autocommitted(connection, statement, {})
    sqlite_write_lock()
    assert _campaign_title(campaign.id) == title
