"""The declarative base, the db object and small helpers shared by all models."""
from __future__ import annotations

import sqlite3
import time
from datetime import datetime, timezone
from contextlib import contextmanager
from typing import Any, Callable, Iterator

from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import DateTime, MetaData, bindparam, event, select, text
from sqlalchemy.engine import Connection, CursorResult, Engine
from sqlalchemy.exc import DisconnectionError, OperationalError
from sqlalchemy.pool import Pool
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, declared_attr, mapped_column, registry
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class UTCDateTime(TypeDecorator):
    """A timezone-aware UTC datetime on every database (SQLite forgets the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None:
            if value.tzinfo is None:
                raise ValueError("naive datetime given; use campaigns.core.db.utcnow()")
            value = value.astimezone(timezone.utc)
        return value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value


class Base(DeclarativeBase):
    registry = registry(
        metadata=MetaData(naming_convention=NAMING_CONVENTION),
        type_annotation_map={datetime: UTCDateTime()},
    )

    @declared_attr.directive
    def __table_args__(cls) -> dict:
        return NEVER_REUSE_IDS


#: SQLite reuses the ids of deleted rows unless told not to; ids appear in signed links
#: and task arguments, so an id must name one row forever (PostgreSQL never reuses them).
NEVER_REUSE_IDS = {"sqlite_autoincrement": True}


db = SQLAlchemy(model_class=Base)


class TimestampMixin:
    #: when the row was created (UTC)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: when the row last changed (UTC)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


#: how long a SQLite connection waits for the database's one write lock before it gives
#: up with "database is locked"
SQLITE_BUSY_TIMEOUT_MS = 30000


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection: Any, connection_record: Any) -> None:
    """WAL and a busy timeout let the web process and the worker share one SQLite file."""
    if not isinstance(dbapi_connection, sqlite3.Connection):  # a subclass needs them too
        return
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


#: a pooled connection idle for longer than this is tested before use (see _ping_if_idle)
PING_AFTER_IDLE_SECONDS = 1.0
_CHECKED_IN_AT = "threadline_checked_in_at"


@event.listens_for(Pool, "checkin")
def _note_checkin(dbapi_connection: Any, connection_record: Any) -> None:
    connection_record.info[_CHECKED_IN_AT] = time.monotonic()


@event.listens_for(Pool, "checkout")
def _ping_if_idle(dbapi_connection: Any, connection_record: Any, connection_proxy: Any) -> None:
    """SQLAlchemy's ``pool_pre_ping``, for connections that sat idle.

    A database restarted while the app was quiet leaves dead connections in the pool; the
    ping finds them and the pool replaces them before any request fails. Under load a
    connection comes back within milliseconds and pinging it each time cost 5 % of a
    signing request. A restart in the middle of traffic fails the requests in flight (503)
    and the pool then drops every connection it had (SQLAlchemy's disconnect handling).
    """
    checked_in_at = connection_record.info.get(_CHECKED_IN_AT)
    if checked_in_at is None or time.monotonic() - checked_in_at < PING_AFTER_IDLE_SECONDS:
        return
    try:
        cursor = dbapi_connection.cursor()
        cursor.execute("SELECT 1")
        cursor.close()
        dbapi_connection.rollback()  # leave no transaction open (psycopg began one)
    except Exception as exc:  # the pool reconnects (and retries) on DisconnectionError
        raise DisconnectionError(f"idle connection failed its ping: {exc!r}") from exc


# --- statements that must not wait long for SQLite's write lock --------------------------
# SQLite's own wait for its write lock sleeps between tries, 1, 2, 5, 10, 15 ms ...: a
# statement that met a transaction holding the lock for 1.5 ms slept 8 ms. Fine for a
# request; not for a worker recording each email it sends while the SMTP server waits on
# it (measured: 110 of 1,000 records slept, 370 ms in all, in a 1.8 s send of 1,000 letters).

@contextmanager
def quick_lock_waits(connection: Connection) -> Iterator[Connection]:
    """On SQLite, turn off the connection's own wait for the write lock while in this
    block (back to SQLITE_BUSY_TIMEOUT_MS after it), for ``execute_autocommitted`` to wait
    in steps of 0.1-1 ms instead. Elsewhere, nothing changes."""
    if connection.dialect.name != "sqlite":
        yield connection
        return
    connection.exec_driver_sql("PRAGMA busy_timeout=0")
    try:
        yield connection
    finally:
        try:
            connection.exec_driver_sql(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        except Exception:  # never back in the pool without its wait
            connection.invalidate()
            raise


def _locked(exc: OperationalError) -> bool:
    return getattr(exc.orig, "sqlite_errorcode", 0) & 0xFF == sqlite3.SQLITE_BUSY


def execute_autocommitted(connection: Connection, statement: Any, parameters: dict) -> CursorResult:
    """Execute one statement that is its own transaction (an AUTOCOMMIT connection), in a
    ``quick_lock_waits`` block: on SQLite, a try that found the database locked changed
    nothing, and is made again 0.1 ms later, then 0.2 ms ... (at most 1 ms apart), for up to
    SQLITE_BUSY_TIMEOUT_MS."""
    if connection.dialect.name != "sqlite":
        return connection.execute(statement, parameters)
    tries, deadline = 0, 0.0
    while True:
        try:
            return connection.execute(statement, parameters)
        except OperationalError as exc:
            if not _locked(exc):
                raise
            now = time.monotonic()
            if not tries:
                deadline = now + SQLITE_BUSY_TIMEOUT_MS / 1000
            elif now > deadline:
                raise
            tries += 1
            time.sleep(min(0.0001 * tries, 0.001))


# --- work that must wait for the commit -------------------------------------------------
# Operations flush(); the request (or task) boundary commits once. Emails and Celery tasks
# are queued with after_commit() and only run once the commit succeeded, so a rollback
# never sends mail.

_PENDING = "threadline_after_commit"
#: for each open savepoint, how many callbacks were pending when it began
_SAVEPOINTS = "threadline_savepoint_marks"


#: run after each commit's callbacks, to act once on what they gathered (the outbox
#: enqueues the emails of a transaction in batches, not with one broker message each)
AFTER_COMMIT_GATHERERS: list[Callable[[], Any]] = []


def after_commit(callback: Callable[[], Any]) -> None:
    """Run ``callback`` once the current transaction commits; drop it on rollback.

    Inside a savepoint (``begin_nested()``), releasing the savepoint commits nothing yet:
    the callback waits for the outer commit, and is dropped if the savepoint rolls back.
    """
    db.session.info.setdefault(_PENDING, []).append(callback)


@event.listens_for(Session, "after_transaction_create")
def _mark_savepoint(session: Session, transaction: Any) -> None:
    if transaction.nested:
        session.info.setdefault(_SAVEPOINTS, []).append(len(session.info.get(_PENDING, [])))


@event.listens_for(Session, "after_commit")
def _run_after_commit(session: Session) -> None:
    # SQLAlchemy sends after_commit for a released savepoint too; only the outermost
    # transaction's commit makes the work visible to a worker
    if session.in_nested_transaction():
        session.info[_SAVEPOINTS].pop()
        return
    callbacks = session.info.pop(_PENDING, [])
    for callback in callbacks:
        callback()
    if callbacks:
        for gathered in AFTER_COMMIT_GATHERERS:
            gathered()


@event.listens_for(Session, "after_soft_rollback")
def _drop_after_rollback(session: Session, previous_transaction: Any) -> None:
    if previous_transaction.nested:
        mark = session.info[_SAVEPOINTS].pop()
        del session.info.get(_PENDING, [])[mark:]
        return
    session.info.pop(_PENDING, None)
    session.info.pop(_SAVEPOINTS, None)


def insert_ignoring_conflicts(model: type, values: dict, index_elements: list[str]):
    """INSERT ... ON CONFLICT DO NOTHING RETURNING id, on PostgreSQL and SQLite alike.

    Used where simultaneous identical requests race to create the same row: the unique
    constraint decides, nobody gets an IntegrityError, and no savepoint is needed.
    Returns the new row's id, or None when the row already existed.
    """
    statement, params = _conflict_ignoring_insert(model, values, index_elements, whole_row=False)
    return db.session.execute(statement, params).scalar()


def insert_row_ignoring_conflicts(model: type, values: dict, index_elements: list[str]):
    """The same INSERT, returning the new row as a loaded object (no second SELECT), or None."""
    statement, params = _conflict_ignoring_insert(model, values, index_elements, whole_row=True)
    return db.session.scalars(select(model).from_statement(statement), params).first()


#: (dialect, table, columns, conflict columns, whole row) -> a cacheable textual statement
_CONFLICT_INSERTS: dict[tuple, Any] = {}


def _conflict_ignoring_insert(model: type, values: dict, index_elements: list[str],
                              whole_row: bool) -> tuple[Any, dict]:
    """The statement and its parameters, built once per shape.

    SQLAlchemy never caches the compiled form of the dialects' ``insert().on_conflict_...``
    (their ``inherit_cache = False``), so building it per call cost ~10 % of a signature.
    The compiled SQL is kept as ``text()`` with typed bind parameters instead, which
    SQLAlchemy does cache. ``text()`` knows no Python-side column defaults, so they are
    filled in here.
    """
    table = model.__table__
    values = dict(values)
    for column in table.columns:
        default = column.default
        if column.key in values or default is None:
            continue
        if default.is_scalar:
            values[column.key] = default.arg
        elif default.is_callable:
            values[column.key] = default.arg(None)
    dialect = db.session.get_bind().dialect
    key = (dialect.name, table.name, tuple(sorted(values)), tuple(index_elements), whole_row)
    statement = _CONFLICT_INSERTS.get(key)
    if statement is None:
        statement = _build_conflict_insert(dialect.name, table, key[2], index_elements, whole_row)
        _CONFLICT_INSERTS[key] = statement
    return statement, values


def _build_conflict_insert(dialect_name: str, table: Any, columns: tuple[str, ...],
                           index_elements: list[str], whole_row: bool) -> Any:
    if dialect_name == "postgresql":
        from sqlalchemy.dialects.postgresql import dialect as dialect_cls, insert
    elif dialect_name == "sqlite":
        from sqlalchemy.dialects.sqlite import dialect as dialect_cls, insert
    else:  # pragma: no cover - only the two supported databases
        raise RuntimeError(f"unsupported database: {dialect_name}")
    returned = list(table.columns) if whole_row else [table.c.id]
    insert_statement = (
        insert(table)
        .values({name: bindparam(name, type_=table.c[name].type) for name in columns})
        .on_conflict_do_nothing(index_elements=index_elements)
        .returning(*returned)
    )
    # named parameters (":name"), the style text() reads
    sql = str(insert_statement.compile(dialect=dialect_cls(paramstyle="named")))
    return (text(sql)
            .bindparams(*[bindparam(name, type_=table.c[name].type) for name in columns])
            .columns(*returned))


def enum_column(enum_cls: type, **kwargs: Any):
    """Store an enum by its value as a short string (portable, readable in SQL)."""
    from sqlalchemy import Enum

    return mapped_column(
        Enum(
            enum_cls,
            native_enum=False,
            length=24,
            values_callable=lambda members: [member.value for member in members],
            validate_strings=True,
        ),
        **kwargs,
    )


def init_request_boundary(app: Any) -> None:
    """The request commits once, at its end, when it succeeded; otherwise it rolls back.

    A failing commit raises into Flask's error handling (503 for a database outage).
    A request that never began a transaction (a cached campaign page) has nothing to end.
    """
    from flask import Response

    @app.after_request
    def commit_or_roll_back(response: Response) -> Response:
        if not _began_work():
            return response
        if response.status_code < 400:
            db.session.commit()
        else:
            db.session.rollback()
        return response


def _began_work() -> bool:
    """Whether this request's session has a transaction or work waiting for a commit.

    Committing a session that never began one still begins and commits an empty one,
    with its events (7.7 % of a cached page view). Any statement, Core or ORM, and any
    ``add()`` begins a transaction, so ``in_transaction()`` sees every write; callbacks
    queued with ``after_commit()`` outside a transaction still get their commit.
    """
    if not db.session.registry.has():
        return False
    session = db.session()
    return session.in_transaction() or bool(session.info.get(_PENDING))
