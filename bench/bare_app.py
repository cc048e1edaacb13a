"""The bare comparison app: what Flask alone costs, served with the same gunicorn settings.

- ``POST /insert``: parse the JSON body, one INSERT, commit, 202 (B1, B3's signers);
- ``GET /page``: one Jinja template of about the campaign page's size, no database (B3, B6).

Environment: ``DATABASE_URL`` (SQLAlchemy URL; SQLite gets the app's pragmas: WAL,
busy_timeout, synchronous=NORMAL) and ``BARE_PAGE_BYTES`` (target page size).

    gunicorn --chdir bench bare_app:app --workers 2 --threads 4
"""
from __future__ import annotations

import os
from datetime import datetime, timezone

from flask import Flask, jsonify, render_template, request
from sqlalchemy import (Column, DateTime, Integer, MetaData, String, Table, create_engine, event,
                        insert)

DATABASE_URL = os.environ["DATABASE_URL"].replace("postgresql://", "postgresql+psycopg://", 1)
PAGE_BYTES = int(os.environ.get("BARE_PAGE_BYTES", "12000"))

engine = create_engine(DATABASE_URL, pool_pre_ping=True)
metadata = MetaData()
item = Table(
    "item", metadata,
    Column("id", Integer, primary_key=True),
    Column("email", String(320), nullable=False),
    Column("first_name", String(100), nullable=False),
    Column("last_name", String(100), nullable=False),
    Column("country", String(2), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)


@event.listens_for(engine, "connect")
def _sqlite_pragmas(dbapi_connection, _record):
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        cursor = dbapi_connection.cursor()
        for pragma in ("journal_mode=WAL", "busy_timeout=30000", "foreign_keys=ON",
                       "synchronous=NORMAL"):
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()


def create_schema() -> None:
    """Both workers import this module at once: one creates the table, the other finds it."""
    try:
        metadata.create_all(engine)
    except Exception:
        metadata.create_all(engine)  # raced with the sibling worker; now it exists


create_schema()

app = Flask(__name__)

PARAGRAPH = ("Workers at the factory registered their union in May, after years of unpaid "
             "overtime and wages below the legal minimum. Two weeks later every elected "
             "leader was dismissed. ")
#: filler sized so that /page is about as large as the campaign page
ITEMS = [f"{i}. {PARAGRAPH}" for i in range(max(1, PAGE_BYTES // (len(PARAGRAPH) + 24)))]


@app.get("/page")
def page():
    return render_template("bare.html", title="A bare page", items=ITEMS,
                           now=datetime.now(timezone.utc))


@app.post("/insert")
def insert_one():
    data = request.get_json(silent=True) or {}
    with engine.begin() as connection:
        connection.execute(insert(item).values(
            email=str(data.get("email", ""))[:320], first_name=str(data.get("first_name", ""))[:100],
            last_name=str(data.get("last_name", ""))[:100], country=str(data.get("country", ""))[:2],
            created_at=datetime.now(timezone.utc)))
    return jsonify(status="pending_confirmation"), 202


@app.get("/healthz")
def healthz():
    return jsonify(status="ok")
