"""Periodic work of replies: deadlines and reminders, and the reply mailbox poller."""
from __future__ import annotations

import imaplib
import logging

from celery import shared_task
from flask import current_app

from campaigns.core.db import db
from campaigns.replies import operations

log = logging.getLogger(__name__)


@shared_task(ignore_result=True)
def check_reply_deadlines() -> dict:
    """Create missing threads, remind targets before their deadline, mark overdue threads."""
    return operations.run_deadlines()


def _connect() -> imaplib.IMAP4:
    config = current_app.config
    timeout = config.get("MAIL_TIMEOUT", 30)
    if config["IMAP_SSL"]:
        return imaplib.IMAP4_SSL(config["IMAP_HOST"], config["IMAP_PORT"], timeout=timeout)
    return imaplib.IMAP4(config["IMAP_HOST"], config["IMAP_PORT"], timeout=timeout)


@shared_task(ignore_result=True)
def poll_reply_mailbox(limit: int = 200) -> int:
    """Fetch unseen messages from the reply mailbox (IMAP) and take each one in.

    A message is flagged \\Seen only after it is committed; a crash in between fetches it
    again next time, and the stored copy (same bytes, same hash) makes that harmless.
    Returns the number of messages taken in.
    """
    config = current_app.config
    if not config.get("IMAP_HOST"):
        return 0
    taken = 0
    try:
        connection = _connect()
    except (OSError, imaplib.IMAP4.error) as exc:  # the next poll tries again
        log.warning("reply mailbox: cannot connect to %s: %s", config["IMAP_HOST"], exc)
        return 0
    try:
        try:
            connection.login(config["IMAP_USER"] or "", config["IMAP_PASSWORD"] or "")
        except imaplib.IMAP4.error as exc:
            log.warning("reply mailbox: login refused: %s", exc)
            return 0
        status, _ = connection.select(config["IMAP_FOLDER"])
        if status != "OK":
            log.warning("reply mailbox: cannot open folder %s", config["IMAP_FOLDER"])
            return 0
        status, data = connection.uid("SEARCH", None, "UNSEEN")
        if status != "OK":
            return 0
        for uid in (data[0] or b"").split()[:limit]:
            status, parts = connection.uid("FETCH", uid, "(BODY.PEEK[])")
            raw = next((part[1] for part in parts or [] if isinstance(part, tuple)), None)
            if status != "OK" or raw is None:
                continue
            try:
                operations.receive_raw(bytes(raw), "imap")
                db.session.commit()
            except Exception:  # one bad message must not stop the others; it stays unseen
                db.session.rollback()
                log.exception("reply mailbox: message %s could not be stored", uid)
                continue
            connection.uid("STORE", uid, "+FLAGS", "(\\Seen)")
            taken += 1
    finally:
        try:
            connection.logout()
        except (imaplib.IMAP4.error, OSError):
            pass
    return taken
