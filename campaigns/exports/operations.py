"""Exporting a campaign's signatures as CSV, streamed row by row.

The rows come from the driver's cursor (server-side on PostgreSQL), so a million signatures
never sit in memory; every BATCH_ROWS rows are written out as soon as they are made.
"""
from __future__ import annotations

import csv
import io
from typing import Any, Iterator

from sqlalchemy import BigInteger, DateTime, String, case, cast, func, literal, select, type_coerce
from sqlalchemy.sql import Select

from campaigns.audit.operations import record
from campaigns.core.db import db
from campaigns.paper.models import PaperBatch
from campaigns.petitions.models import Campaign
from campaigns.signatures.forms import FORMULA_PREFIXES
from campaigns.signatures.models import Signature
from campaigns.supporters.models import Supporter

#: rows fetched from the database at a time
BATCH_ROWS = 1000

COLUMNS = ["kind", "count", "state", "signed_at", "confirmed_at", "first_name", "last_name",
           "country", "public", "comment", "source", "utm_medium", "utm_campaign",
           "referrer_host"]


def neutralise(value: object) -> str:
    """A cell a spreadsheet will not run: text starting with = + - @ (or tab/CR) gets a quote."""
    if value is None:
        return ""
    text = str(value)
    if text.startswith(FORMULA_PREFIXES):
        return "'" + text
    return text


def _guarded(column: Any) -> Any:
    """neutralise() in SQL, for a text column: '' for NULL, a quote before a formula start."""
    return case((func.substr(column, 1, 1).in_(FORMULA_PREFIXES), literal("'", String) + column),
                else_=func.coalesce(column, ""))


def _iso(column: Any, dialect: str) -> Any:
    """A UTC timestamp column as datetime.isoformat() of the aware value writes it, in SQL:
    "2026-11-25T13:20:57.123456+00:00", without ".000000" when the microseconds are zero.

    Made by the database, the rows can go from the driver to the csv writer untouched
    (see online_rows).
    """
    if dialect == "sqlite":
        # SQLAlchemy keeps "YYYY-MM-DD HH:MM:SS.ffffff" (UTC) as text; anything else (written
        # by hand) is left as it is, with the T
        text = type_coerce(column, String)
        return case(
            (text.is_(None), ""),
            ((func.length(text) == 26) & (func.substr(text, 20) == ".000000"),
             func.substr(text, 1, 10) + "T" + func.substr(text, 12, 8) + "+00:00"),
            (func.length(text).in_((19, 26)),
             func.substr(text, 1, 10) + "T" + func.substr(text, 12) + "+00:00"),
            else_=func.replace(text, " ", "T"))
    utc = type_coerce(column, DateTime(timezone=True)).op("AT TIME ZONE")(literal("UTC"))
    whole = (cast(func.date_part("microseconds", column), BigInteger) % 1_000_000) == 0
    return case(
        (column.is_(None), ""),
        (whole, func.to_char(utc, 'YYYY-MM-DD"T"HH24:MI:SS"+00:00"')),
        else_=func.to_char(utc, 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"'))


def record_export(campaign: Campaign) -> None:
    """Who exported which campaign, in the audit log (committed with the request)."""
    record("export.signatures", campaign, format="csv")


def online_rows(campaign_id: int, dialect: str) -> Select:
    """The export's rows of online signatures, every cell made by the database.

    Core, not the ORM, and the formula guard, the ISO timestamps and yes/no computed in
    SQL, so the rows go to the csv writer as they come: no Python per row or per cell.
    The state as stored (a string); the cells not guarded are ours.
    """
    return (
        select(literal("online", String), literal(1), type_coerce(Signature.state, String),
               _iso(Signature.created_at, dialect), _iso(Signature.confirmed_at, dialect),
               _guarded(Supporter.first_name), _guarded(Supporter.last_name),
               _guarded(Supporter.country), case((Signature.public, "yes"), else_="no"),
               _guarded(Signature.comment), _guarded(Signature.source),
               _guarded(Signature.utm_medium), _guarded(Signature.utm_campaign),
               _guarded(Signature.referrer_host))
        .join(Signature.supporter)
        .where(Signature.campaign_id == campaign_id)
        .order_by(Signature.id)
    )


def _driver_batches(statement: Select) -> Iterator[list[tuple]]:
    """The statement's rows, BATCH_ROWS at a time, as the database driver returns them.

    Run on the session's connection (same transaction) but read from the driver's own cursor:
    SQLAlchemy's Row objects would cost more than writing the CSV. On PostgreSQL a named
    (server-side) cursor, so a million rows never sit in memory.
    """
    connection = db.session.connection()
    compiled = statement.compile(dialect=connection.dialect,
                                 compile_kwargs={"render_postcompile": True})
    params: Any = compiled.construct_params()
    if compiled.positiontup:  # SQLite's qmark style
        params = [params[name] for name in compiled.positiontup]
    driver = connection.connection.driver_connection
    if connection.dialect.name == "postgresql":
        cursor = driver.cursor(name="signature_export")
    else:
        cursor = driver.cursor()
    try:
        cursor.execute(str(compiled), params)
        while rows := cursor.fetchmany(BATCH_ROWS):
            yield rows
    finally:
        cursor.close()


def signature_rows(campaign_id: int) -> Iterator[str]:
    """The CSV text, one piece per BATCH_ROWS rows: online signatures, then each paper
    batch as one row (kind "paper", with its count)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def written() -> str:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate(0)
        return text

    writer.writerow(COLUMNS)
    yield written()
    for rows in _driver_batches(online_rows(campaign_id, db.session.get_bind().dialect.name)):
        writer.writerows(rows)
        yield written()
    for batch in db.session.scalars(
            select(PaperBatch).where(PaperBatch.campaign_id == campaign_id).order_by(PaperBatch.id)):
        writer.writerow([neutralise(value) for value in (
            "paper", batch.count, "confirmed", batch.collected_on.isoformat(), "", "", "",
            batch.country, "no", "", batch.source, "", "", "")])
    paper = written()
    if paper:
        yield paper
