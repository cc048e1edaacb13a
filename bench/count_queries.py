"""Count the SQL statements (and broker publishes) one campaign page and one API signature cost.

    python bench/count_queries.py     (run with the app's environment and cwd = the app's root,
                                       on a database seeded by bench/seed.py)
"""
from __future__ import annotations

import os
import sys
import time
import uuid

sys.path.insert(0, os.getcwd())

from sqlalchemy import event  # noqa: E402

from wsgi import app  # noqa: E402
from campaigns.core.db import db  # noqa: E402

statements: list[str] = []


def main() -> None:
    with app.app_context():
        engine = db.engine

    @event.listens_for(engine, "before_cursor_execute")
    def count(conn, cursor, statement, parameters, context, executemany):
        statements.append(" ".join(statement.split())[:110])

    client = app.test_client()
    for label, call in (
        ("GET /c/bench-1", lambda: client.get("/c/bench-1")),
        ("POST /api/v1/campaigns/bench-1/signatures", lambda: client.post(
            "/api/v1/campaigns/bench-1/signatures",
            json={"first_name": "Ana", "last_name": "Silva", "country": "DE",
                  "email": f"q-{uuid.uuid4().hex[:8]}@bench.example", "public": True,
                  "consent_updates": True})),
    ):
        call()  # warm-up (first request compiles templates and statements)
        statements.clear()
        started = time.perf_counter()
        response = call()
        elapsed = (time.perf_counter() - started) * 1000
        print(f"{label}: HTTP {response.status_code}, {len(response.data)} bytes, "
              f"{len(statements)} SQL statements, {elapsed:.1f} ms in-process")
        for statement in statements:
            print(f"    {statement}")


if __name__ == "__main__":
    main()
