"""Outgoing email: render from emails/, keep in the outbox, send after the commit.

Every email is a row in ``outgoing_email`` before it is a Celery task, so nothing is
lost when the broker is down, a worker dies or the SMTP server is away:

- ``queue_email()`` renders the message, adds the row and, once the transaction commits,
  enqueues ``deliver_email(id)``;
- ``deliver_email`` claims the row with a lease (a duplicate task finds it claimed or
  sent and does nothing), sends it, and records sent-at and the Message-ID; a temporary
  SMTP failure sets the next attempt with exponential backoff and jitter, a permanent one
  (5xx) is recorded and not retried;
- ``sweep_outbox`` (Celery beat) enqueues again whatever is due and unclaimed.
"""
from __future__ import annotations

import enum
import logging
import os
import random
import smtplib
import socket
import threading
from datetime import datetime, timedelta
from email.utils import make_msgid, parseaddr
from pathlib import Path
from typing import Any, Callable

from celery import shared_task
from flask import Flask, current_app
from flask_mail import Connection, Message
from jinja2 import FileSystemLoader
from sqlalchemy import JSON, String, Text, func, or_, select, update
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.orm.exc import StaleDataError

from campaigns.core.celery import enqueue
from campaigns.core.db import after_commit, db, enum_column, utcnow

log = logging.getLogger(__name__)

EMAILS_DIR = Path(__file__).resolve().parents[2] / "emails"
MAX_ATTEMPTS = 10


class EmailState(enum.StrEnum):
    QUEUED = "queued"
    SENT = "sent"
    FAILED = "failed"


class OutgoingEmail(db.Model):
    """One email on its way out (the outbox)."""

    __tablename__ = "outgoing_email"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: what the email is, e.g. "signature_confirmation"; for statistics and tests
    kind: Mapped[str] = mapped_column(String(64))
    to_address: Mapped[str] = mapped_column(String(320))
    #: the From header when not MAIL_DEFAULT_SENDER (always our own address: never spoofed)
    from_address: Mapped[str | None] = mapped_column(String(400))
    #: the Reply-To header, if any
    reply_to: Mapped[str | None] = mapped_column(String(400))
    subject: Mapped[str] = mapped_column(String(300))
    text_body: Mapped[str] = mapped_column(Text)
    html_body: Mapped[str | None] = mapped_column(Text)
    #: extra headers (name -> value), checked for CR/LF before sending
    headers: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    state: Mapped[EmailState] = enum_column(EmailState, default=EmailState.QUEUED)
    #: failed attempts so far
    attempts: Mapped[int] = mapped_column(default=0)
    #: not to be tried before this time (backoff after a temporary failure)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    #: a worker holds the email until then
    claimed_until: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    #: the Message-ID header we sent, to match bounces and replies
    message_id: Mapped[str | None] = mapped_column(String(255))
    last_error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


#: kind -> callables told when an email of that kind was sent or failed for good, inside
#: the transaction that records it (e.g. letters follow their email's state)
DELIVERY_LISTENERS: dict[str, list[Callable[[OutgoingEmail], None]]] = {}


def on_delivery(*kinds: str) -> Callable:
    """Register a listener for the final outcome of emails of these kinds."""
    def register(listener: Callable[[OutgoingEmail], None]) -> Callable[[OutgoingEmail], None]:
        for kind in kinds:
            listeners = DELIVERY_LISTENERS.setdefault(kind, [])
            if listener not in listeners:
                listeners.append(listener)
        return listener

    return register


def _tell_listeners(email: OutgoingEmail) -> None:
    for listener in DELIVERY_LISTENERS.get(email.kind, ()):
        listener(email)


class TemporaryFailure(Exception):
    """The SMTP server is away or said 4xx: try again later."""


class PermanentFailure(Exception):
    """The SMTP server said 5xx for this message: trying again will not help."""


def init_app(app: Flask) -> None:
    html_env = app.jinja_env.overlay(loader=FileSystemLoader(EMAILS_DIR), autoescape=True)
    text_env = app.jinja_env.overlay(loader=FileSystemLoader(EMAILS_DIR), autoescape=False)
    app.extensions["email_environments"] = (html_env, text_env)


def render_email(template: str, **context: Any) -> tuple[str, str, str]:
    """Render the subject, text and html blocks of ``emails/<template>.html``."""
    html_env, text_env = current_app.extensions["email_environments"]

    def block(env: Any, name: str) -> str:
        tmpl = env.get_template(f"{template}.html")
        return "".join(tmpl.blocks[name](tmpl.new_context(context))).strip()

    subject = " ".join(block(text_env, "subject").split())
    text = block(text_env, "text")
    html = html_env.get_template(f"{template}.html").render(context)
    return subject, text, html


def queue_email(kind: str, to: str, template: str, headers: dict[str, str] | None = None,
                **context: Any) -> OutgoingEmail:
    """Render an email into the outbox; it is enqueued for sending after the commit."""
    subject, text, html = render_email(template, **context)
    email = OutgoingEmail(kind=kind, to_address=to, subject=subject, text_body=text,
                          html_body=html, headers=headers or {})
    db.session.add(email)
    db.session.flush()
    email_id = email.id
    after_commit(lambda: enqueue(deliver_email, email_id))
    return email


class TimedConnection(Connection):
    """Flask-Mail's SMTP connection with a timeout, so a hung server cannot hold a worker."""

    def configure_host(self):
        timeout = current_app.config["MAIL_TIMEOUT"]
        state = self.mail
        if state.use_ssl:
            host = smtplib.SMTP_SSL(state.server, state.port, timeout=timeout)
        else:
            host = smtplib.SMTP(state.server, state.port, timeout=timeout)
        if state.use_tls:
            host.starttls()
        if state.username and state.password:
            host.login(state.username, state.password)
        return host


_kept = threading.local()


def _drop_kept_connection() -> None:
    connection = getattr(_kept, "connection", None)
    _kept.connection = _kept.key = None
    if connection is not None and connection.host is not None:
        # bandit B110: closing a connection that may be dead already
        try:
            connection.host.close()
        except Exception:  # nosec B110
            pass


def smtp_connection() -> tuple[TimedConnection, bool]:
    """An SMTP connection for this worker process and thread, and whether it is a kept one.

    With MAIL_KEEP_ALIVE, one connection is kept open between emails (checked with NOOP
    before use, opened again when the server closed it), which saves a TCP and SMTP
    handshake per email on bulk sends.
    """
    state = current_app.extensions["mail"]
    if not current_app.config.get("MAIL_KEEP_ALIVE"):
        connection = TimedConnection(state)
        connection.host = connection.configure_host()
        return connection, False
    key = (os.getpid(), state.server, state.port, state.username, state.use_ssl, state.use_tls)
    connection = getattr(_kept, "connection", None)
    if connection is not None and getattr(_kept, "key", None) == key:
        try:
            if connection.host.noop()[0] == 250:
                return connection, True
        except (OSError, smtplib.SMTPException):
            pass
    _drop_kept_connection()
    connection = TimedConnection(state)
    connection.host = connection.configure_host()
    # a long-lived connection sends small commands and waits for each answer: without
    # TCP_NODELAY, Nagle and delayed ACKs add ~40 ms to each
    connection.host.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    _kept.connection, _kept.key = connection, key
    return connection, True


def _send_message(message: Message) -> None:
    connection, kept = smtp_connection()
    try:
        connection.send(message)
    except BaseException:
        if kept:
            _drop_kept_connection()
        else:
            connection.host.close()
        raise
    if not kept:
        connection.host.quit()


class OutboxMessage(Message):
    """Flask-Mail's message, with From and Reply-To given as finished header values.

    Flask-Mail re-encodes every display name as RFC 2047 words, which readers then split
    oddly; ours are built once with email.utils.formataddr (quoted, encoded when not ASCII)
    and checked for line breaks.
    """

    from_header: str | None = None
    reply_to_header: str | None = None

    def _message(self):
        message = super()._message()
        for name, value in (("From", self.from_header), ("Reply-To", self.reply_to_header)):
            if value:
                if name in message:
                    message.replace_header(name, value)
                else:
                    message[name] = value
        return message


def new_message_id() -> str:
    """A Message-ID on the domain of the sender address."""
    sender = current_app.config["MAIL_DEFAULT_SENDER"]
    address = parseaddr(sender if isinstance(sender, str) else sender[1])[1]
    return make_msgid(domain=address.rpartition("@")[2] or None)


def check_header(value: str) -> str:
    if "\r" in value or "\n" in value:
        raise ValueError("header value contains a line break")
    return value


def send_now(email: OutgoingEmail) -> str:
    """Hand one email to the SMTP server; returns its Message-ID."""
    try:
        message = OutboxMessage(
            subject=check_header(email.subject),
            recipients=[check_header(email.to_address)],
            sender=check_header(email.from_address) if email.from_address else None,
            body=email.text_body,
            html=email.html_body,
            extra_headers={check_header(k): check_header(v)
                           for k, v in (email.headers or {}).items()},
        )
        message.from_header = email.from_address
        message.reply_to_header = check_header(email.reply_to) if email.reply_to else None
    except ValueError as exc:  # a line break in a header would let it add headers
        raise PermanentFailure(str(exc)) from exc
    if email.message_id:
        message.msgId = email.message_id
    try:
        _send_message(message)
    except smtplib.SMTPAuthenticationError as exc:  # our configuration, not the message
        raise TemporaryFailure(str(exc)) from exc
    except smtplib.SMTPRecipientsRefused as exc:
        codes = [code for code, _ in exc.recipients.values()]
        if all(code >= 500 for code in codes):
            raise PermanentFailure(str(exc.recipients)) from exc
        raise TemporaryFailure(str(exc.recipients)) from exc
    except smtplib.SMTPResponseException as exc:
        if exc.smtp_code >= 500:
            raise PermanentFailure(f"{exc.smtp_code} {exc.smtp_error!r}") from exc
        raise TemporaryFailure(f"{exc.smtp_code} {exc.smtp_error!r}") from exc
    except (OSError, smtplib.SMTPException) as exc:
        raise TemporaryFailure(repr(exc)) from exc
    return message.msgId


def backoff(attempts: int) -> timedelta:
    """Exponential backoff with jitter: about 30 s, 1 min, 2 min ... capped at an hour."""
    seconds = min(30 * 2 ** (attempts - 1), 3600)
    # bandit B311: jitter, not a secret
    return timedelta(seconds=seconds * random.uniform(0.8, 1.2))  # nosec B311


@shared_task(ignore_result=True)
def deliver_email(email_id: int) -> str:
    """Send one outbox email, at most once however often this task runs."""
    return _deliver_one(email_id)


@shared_task(ignore_result=True)
def deliver_emails(email_ids: list[int]) -> dict[str, int]:
    """Send several outbox emails in one task (bulk sends), each exactly as deliver_email
    does: its own claim, its own commit. Over the worker's kept SMTP connection this saves
    a task and a connection per email; a task killed half-way runs again and skips what
    was sent."""
    outcomes: dict[str, int] = {}
    for email_id in email_ids:
        outcome = _deliver_one(email_id)
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    return outcomes


def enqueue_deliveries(email_ids: list[int], batch: int = 25) -> None:
    """Enqueue the delivery of these emails in batches (call after the commit)."""
    for start in range(0, len(email_ids), batch):
        if not enqueue(deliver_emails, email_ids[start:start + batch]):
            break  # the broker is down: the sweep sends them later


def _deliver_one(email_id: int) -> str:
    try:
        return _deliver(email_id)
    except StaleDataError:  # the row was deleted meanwhile (erasure, retention)
        db.session.rollback()
        return "gone"


def _deliver(email_id: int) -> str:
    now = utcnow()
    lease = timedelta(seconds=current_app.config["MAIL_LEASE_SECONDS"])
    claimed = db.session.execute(
        update(OutgoingEmail)
        .where(
            OutgoingEmail.id == email_id,
            OutgoingEmail.state == EmailState.QUEUED,
            or_(OutgoingEmail.claimed_until.is_(None), OutgoingEmail.claimed_until < now),
        )
        # the Message-ID is fixed at the first claim: if a worker dies after the server took
        # the email but before it was recorded as sent, the email goes out again with the
        # same Message-ID, so that the receiving side can recognise the duplicate
        .values(claimed_until=now + lease,
                message_id=func.coalesce(OutgoingEmail.message_id, new_message_id()))
    ).rowcount
    db.session.commit()
    if not claimed:
        return "skipped"
    email = db.session.get(OutgoingEmail, email_id)
    if email is None:
        return "gone"
    try:
        email.message_id = send_now(email)
    except TemporaryFailure as exc:
        email.attempts += 1
        email.last_error = str(exc)[:500]
        email.claimed_until = None
        if email.attempts >= MAX_ATTEMPTS:
            email.state = EmailState.FAILED
            _tell_listeners(email)
        else:
            email.next_attempt_at = utcnow() + backoff(email.attempts)
        db.session.commit()
        log.warning("email %s: temporary failure (%s), attempt %s", email_id, exc, email.attempts)
        return "retry"
    except PermanentFailure as exc:
        email.state = EmailState.FAILED
        email.last_error = str(exc)[:500]
        _tell_listeners(email)
        db.session.commit()
        log.warning("email %s: permanent failure: %s", email_id, exc)
        return "failed"
    email.state = EmailState.SENT
    email.sent_at = utcnow()
    email.claimed_until = None
    _tell_listeners(email)
    db.session.commit()
    return "sent"


@shared_task(ignore_result=True)
def sweep_outbox(limit: int = 1000) -> int:
    """Enqueue again the emails that are due and that no worker holds."""
    now = utcnow()
    grace = timedelta(seconds=current_app.config["OUTBOX_SWEEP_GRACE"])
    due = db.session.scalars(
        select(OutgoingEmail.id)
        .where(
            OutgoingEmail.state == EmailState.QUEUED,
            # younger rows are left to the task queued after their commit
            OutgoingEmail.next_attempt_at <= now - grace,
            or_(OutgoingEmail.claimed_until.is_(None), OutgoingEmail.claimed_until < now),
        )
        .order_by(OutgoingEmail.next_attempt_at)
        .limit(limit)
    ).all()
    db.session.rollback()
    for email_id in due:
        if not enqueue(deliver_email, email_id):
            break
    return len(due)
