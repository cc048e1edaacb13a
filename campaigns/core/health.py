"""GET /healthz: is the database reachable, is the broker reachable."""
from __future__ import annotations

import logging

from amqp.exceptions import ChannelError
from flask import Blueprint, current_app, jsonify
from sqlalchemy import text

from campaigns.core.db import db

log = logging.getLogger(__name__)
bp = Blueprint("health", __name__)


def database_ok() -> bool:
    try:
        db.session.execute(text("SELECT 1"))
        return True
    except Exception:
        log.warning("health: database check failed", exc_info=True)
        db.session.rollback()
        return False


def broker_ok() -> bool:
    celery = current_app.extensions["celery"]
    try:
        with celery.connection_for_write() as connection:
            connection.ensure_connection(max_retries=1, interval_start=0, timeout=3)
            try:
                # a round trip to the broker; a missing queue still proves it answers
                connection.default_channel.queue_declare(queue="celery", passive=True)
            except ChannelError:
                pass
        return True
    except Exception:
        log.warning("health: broker check failed", exc_info=True)
        return False


@bp.get("/healthz")
def healthz():
    checks = {"database": database_ok(), "broker": broker_ok()}
    failing = [name for name, ok in checks.items() if not ok]
    body = {"status": "ok" if not failing else "unavailable",
            "checks": {name: "ok" if ok else "failing" for name, ok in checks.items()}}
    if failing:
        body["failing"] = failing
    response = jsonify(body)
    response.status_code = 503 if failing else 200
    response.headers["Cache-Control"] = "no-store"
    return response
