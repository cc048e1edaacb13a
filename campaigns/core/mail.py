"""Outgoing email: render from emails/, keep in the outbox, send after the commit.

Every email is a row in ``outgoing_email`` before it is a Celery task, so nothing is
lost when the broker is down, a worker dies or the SMTP server is away:

- ``queue_email()`` renders the message, adds the row and, once the transaction commits,
  enqueues ``deliver_email(id)``; bulk sends enqueue ``deliver_emails(ids)`` by the batch;
- both claim their rows with a lease in one conditional UPDATE (a duplicate task finds
  them claimed or sent and does nothing; the Message-ID is fixed at the first claim),
  build each message's bytes with the stdlib (``build_message``), send them over one SMTP
  connection (Flask-Mail's configuration, kept open between emails with MAIL_KEEP_ALIVE),
  and record each email as sent (or its failure) in one autocommitted UPDATE right after
  the server answered; a temporary SMTP failure sets the next attempt with exponential
  backoff and jitter, a permanent one (5xx) is recorded and not retried;
- what follows from a final outcome (``on_delivery`` listeners: letters follow their
  email) is told by the batch, in one transaction once the batch is sent; until then the
  worker keeps its claim on the email, so that an outcome a killed worker recorded but
  never told is told by the sweep once the claim runs out;
- ``sweep_outbox`` (Celery beat) enqueues again whatever is due and unclaimed, and tells
  the outcomes left untold.
"""
from __future__ import annotations

import binascii
import enum
import functools
import logging
import os
import random
import secrets
import smtplib
import socket
import threading
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from email import policy
from email.utils import formatdate, parseaddr
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Callable, Iterator

from celery import shared_task
from flask import Flask, current_app
from flask_mail import Connection, sanitize_address, sanitize_subject
from jinja2 import FileSystemLoader
from sqlalchemy import (JSON, Index, String, Text, and_, bindparam, cast, func, literal, literal_column, or_,
                        select, text, update)
from sqlalchemy.engine import Connection as DBConnection
from sqlalchemy.orm import Mapped, mapped_column, orm_insert_sentinel

from campaigns.core.celery import enqueue, warms_up
from campaigns.core.db import (AFTER_COMMIT_GATHERERS, NEVER_REUSE_IDS, after_commit, db, enum_column,
                               execute_autocommitted, quick_lock_waits, utcnow)

log = logging.getLogger(__name__)

EMAILS_DIR = Path(__file__).resolve().parents[2] / "emails"
MAX_ATTEMPTS = 10


class EmailState(enum.StrEnum):
    #: rendered ahead, not to be sent yet: nothing claims, sends or sweeps it until its
    #: owner switches it to queued (a confirmed letter's email, waiting for its release)
    PREPARED = "prepared"
    QUEUED = "queued"
    SENT = "sent"
    FAILED = "failed"


class OutgoingEmail(db.Model):
    """One email on its way out (the outbox)."""

    __tablename__ = "outgoing_email"
    __table_args__ = (
        # the claimed emails only (in flight, or their outcome not told yet): what the
        # sweep looks for once a claim ran out, in an index that stays small
        Index("ix_outgoing_email_claimed_until", "claimed_until",
              sqlite_where=text("claimed_until IS NOT NULL"),
              postgresql_where=text("claimed_until IS NOT NULL")),
        # the queued emails only, by when they are due: what the sweep looks for, without
        # walking through every email ever sent (all of them are due in the past)
        Index("ix_outgoing_email_queued", "next_attempt_at",
              sqlite_where=text("state = 'queued'"), postgresql_where=text("state = 'queued'")),
        NEVER_REUSE_IDS,
    )

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
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: a worker holds the email until then: to send it, or, once its final outcome is
    #: recorded, to tell that outcome to its kind's listeners (see ``on_delivery``)
    claimed_until: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    #: the Message-ID header we sent, to match bounces and replies
    message_id: Mapped[str | None] = mapped_column(String(255))
    last_error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: SQLAlchemy's insert sentinel: a row's place among those added by one INSERT, so that
    #: an INSERT of many emails returns their ids in order in one statement. SQLite cannot
    #: otherwise (SQLAlchemy added them one statement each, holding the database's write
    #: lock meanwhile); PostgreSQL does not need it
    _sentinel: Mapped[int | None] = orm_insert_sentinel()


@dataclass(frozen=True)
class Delivery:
    """The final outcome of one outbox email, as its kind's listeners are told it; what
    else they need (when it was sent, its error) is on the email's row, recorded already."""

    email_id: int
    kind: str
    #: SENT or FAILED
    state: EmailState


#: kind -> callables told the final outcomes (sent, or failed for good) of emails of that
#: kind, a batch at a time, on the connection of the transaction that marks them told
#: (e.g. letters follow their email's state). At least once: a batch whose worker died
#: before telling is told again by the sweep, so a listener must be idempotent (a
#: conditional UPDATE is).
DeliveryListener = Callable[[DBConnection, list[Delivery]], None]
DELIVERY_LISTENERS: dict[str, list[DeliveryListener]] = {}


def on_delivery(*kinds: str) -> Callable:
    """Register a listener for the final outcomes of emails of these kinds."""
    def register(listener: DeliveryListener) -> DeliveryListener:
        for kind in kinds:
            listeners = DELIVERY_LISTENERS.setdefault(kind, [])
            if listener not in listeners:
                listeners.append(listener)
        return listener

    return register


class TemporaryFailure(Exception):
    """The SMTP server is away or said 4xx: try again later."""


class PermanentFailure(Exception):
    """The SMTP server said 5xx for this message: trying again will not help."""


def init_app(app: Flask) -> None:
    html_env = app.jinja_env.overlay(loader=FileSystemLoader(EMAILS_DIR), autoescape=True)
    text_env = app.jinja_env.overlay(loader=FileSystemLoader(EMAILS_DIR), autoescape=False)
    app.extensions["email_environments"] = (html_env, text_env)


def render_text_email(template: str, **context: Any) -> tuple[str, str]:
    """Render the subject and text blocks of ``emails/<template>.html`` (a plain-text email)."""
    _, text_env = current_app.extensions["email_environments"]
    tmpl = text_env.get_template(f"{template}.html")
    rendering = tmpl.new_context(context)  # the two blocks only read it
    subject = "".join(tmpl.blocks["subject"](rendering))
    text = "".join(tmpl.blocks["text"](rendering))
    return " ".join(subject.split()), text.strip()


def render_email(template: str, **context: Any) -> tuple[str, str, str]:
    """Render the subject, text and html blocks of ``emails/<template>.html``."""
    html_env, _ = current_app.extensions["email_environments"]
    subject, text = render_text_email(template, **context)
    return subject, text, html_env.get_template(f"{template}.html").render(context)


def queue_email(kind: str, to: str, template: str, headers: dict[str, str] | None = None,
                **context: Any) -> OutgoingEmail:
    """Render an email into the outbox; it is enqueued for sending after the commit."""
    subject, text, html = render_email(template, **context)
    email = OutgoingEmail(kind=kind, to_address=to, subject=subject, text_body=text,
                          html_body=html, headers=headers or {})
    db.session.add(email)
    db.session.flush()
    after_commit(functools.partial(_due.ids.append, email.id))
    return email


class _Due(threading.local):
    """The emails queued by the transaction that just committed, in this thread; a
    callback per email, so that those of a savepoint rolled back are not among them."""

    def __init__(self) -> None:
        self.ids: list[int] = []


_due = _Due()


def _enqueue_due() -> None:
    """After the commit: one task for a single email, batches for many (the intake
    worker's confirmations, an update's fan-out), not one broker message each."""
    ids, _due.ids = _due.ids, []
    if len(ids) == 1:
        enqueue(deliver_email, ids[0])
    elif ids:
        enqueue_deliveries(ids)


AFTER_COMMIT_GATHERERS.append(_enqueue_due)


#: an envelope address as smtplib quotes it for MAIL FROM and RCPT TO ("<address>"),
#: remembered: smtplib parses both addresses again for every email (~0.1 ms of a letter's
#: delivery, measured), and a bulk send uses the same few addresses again and again
_envelope = functools.lru_cache(maxsize=4096)(smtplib.quoteaddr)


class _EnvelopeQuotedOnce:
    """smtplib's MAIL FROM and RCPT TO commands with the addresses quoted by ``_envelope``;
    otherwise as smtplib sends them (we never ask for SMTPUTF8)."""

    def mail(self, sender: str, options: tuple | list = ()) -> tuple[int, bytes]:
        extra = " " + " ".join(options) if options and self.does_esmtp else ""
        self.putcmd("mail", f"FROM:{_envelope(sender)}{extra}")
        return self.getreply()

    def rcpt(self, recip: str, options: tuple | list = ()) -> tuple[int, bytes]:
        extra = " " + " ".join(options) if options and self.does_esmtp else ""
        self.putcmd("rcpt", f"TO:{_envelope(recip)}{extra}")
        return self.getreply()


class _SMTP(_EnvelopeQuotedOnce, smtplib.SMTP):
    pass


class _SMTP_SSL(_EnvelopeQuotedOnce, smtplib.SMTP_SSL):
    pass


class TimedConnection(Connection):
    """Flask-Mail's SMTP connection with a timeout, so a hung server cannot hold a worker."""

    def configure_host(self):
        timeout = current_app.config["MAIL_TIMEOUT"]
        state = self.mail
        if state.use_ssl:
            host = _SMTP_SSL(state.server, state.port, timeout=timeout)
        else:
            host = _SMTP(state.server, state.port, timeout=timeout)
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


def new_message_domain() -> str:
    """The domain of the sender address, for Message-IDs (the host's name when it has none)."""
    sender = current_app.config["MAIL_DEFAULT_SENDER"]
    address = parseaddr(sender if isinstance(sender, str) else sender[1])[1]
    return address.rpartition("@")[2] or socket.getfqdn()


def check_header(value: str) -> str:
    if "\r" in value or "\n" in value:
        raise ValueError("header value contains a line break")
    return value


#: Flask-Mail's address sanitising (IDNA domains, encoded names), remembered: a bulk send
#: writes to the same few addresses again and again
_sanitized = functools.lru_cache(maxsize=4096)(sanitize_address)


def _header(name: str, value: str) -> bytes:
    # folded as the email package folds it for SMTP: unchanged when short, refolded when
    # long; a value that is not ASCII yet (our own are encoded already) as encoded words
    if value.isascii():
        return policy.SMTP.fold_binary(name, value)
    return policy.SMTP.header_factory(name, value).fold(policy=policy.SMTP).encode("ascii")


def _quoted_printable(text: str) -> bytes:
    lines = text.replace("\r\n", "\n").replace("\r", "\n").encode("utf-8")
    return binascii.b2a_qp(lines, quotetabs=False, istext=True, header=False).replace(b"\n", b"\r\n")


def _text_part(text: str, subtype: str) -> bytes:
    return (f"Content-Type: text/{subtype}; charset=\"utf-8\"\r\n"
            "Content-Transfer-Encoding: quoted-printable\r\n\r\n").encode() + _quoted_printable(text)


def build_message(email: Any, message_id: str) -> tuple[str, str, bytes]:
    """The envelope sender, the recipient and the bytes of one outbox email.

    Built directly with the stdlib (about 0.2 ms, against 1.1 ms for Flask-Mail's MIME
    objects): the headers are those Flask-Mail wrote (From and Reply-To as finished values,
    built with formataddr; the subject and addresses as Flask-Mail sanitises them), the text
    and html parts quoted-printable, as multipart/alternative when there is an html part.
    ``email`` is an outbox row (the model or a Core row). Raises PermanentFailure when a
    header holds a line break, which would let its value add headers.
    """
    try:
        sender = check_header(email.from_address or _sanitized(current_app.config["MAIL_DEFAULT_SENDER"]))
        recipient = _sanitized(check_header(email.to_address))
        headers = [("From", sender), ("To", recipient),
                   ("Subject", sanitize_subject(check_header(email.subject))),
                   ("Date", formatdate(localtime=True)), ("Message-ID", message_id)]
        if email.reply_to:
            headers.append(("Reply-To", check_header(email.reply_to)))
        headers += [(check_header(k), check_header(v)) for k, v in (email.headers or {}).items()]
    except ValueError as exc:
        raise PermanentFailure(str(exc)) from exc
    head = b"".join(_header(name, value) for name, value in headers) + b"MIME-Version: 1.0\r\n"
    if not email.html_body:
        return sender, recipient, head + _text_part(email.text_body, "plain")
    boundary = f"=={secrets.token_hex(16)}=="
    return sender, recipient, b"".join((
        head, f"Content-Type: multipart/alternative; boundary=\"{boundary}\"\r\n\r\n".encode(),
        f"--{boundary}\r\n".encode(), _text_part(email.text_body, "plain"),
        f"\r\n--{boundary}\r\n".encode(), _text_part(email.html_body, "html"),
        f"\r\n--{boundary}--\r\n".encode()))


@dataclass
class _Started:
    """An email whose MAIL command is on its way (``_Sender.start``), or why it is not."""

    sender: str = ""
    recipient: str = ""
    raw: bytes = b""
    failure: TemporaryFailure | PermanentFailure | None = None


class _Sender:
    """Sends a batch of emails over one SMTP connection (this process's kept one with
    MAIL_KEEP_ALIVE): checked once per batch, not once per email; dropped after a failure,
    so the next email of the batch opens a fresh one.

    An email goes in two steps, ``start`` (its MAIL command is written) and ``finish`` (the
    server's answers are read, then RCPT and DATA), so that the caller can do something
    useful while the server reads the MAIL command: record the previous email.
    """

    def __init__(self) -> None:
        self.connection: TimedConnection | None = None
        self.kept = False

    def start(self, email: Any, message_id: str) -> _Started:
        """Build the message and write its MAIL command; never raises for the email's sake:
        a failure is kept for ``finish``."""
        try:
            sender, recipient, raw = build_message(email, message_id)
        except PermanentFailure as exc:
            return _Started(failure=exc)
        try:
            if self.connection is None:
                self.connection, self.kept = smtp_connection()
            host = self.connection.host
            host.ehlo_or_helo_if_needed()
            size = f" size={len(raw)}" if host.does_esmtp and host.has_extn("size") else ""
            host.putcmd("mail", f"FROM:{_envelope(sender)}{size}")
        except (OSError, smtplib.SMTPException) as exc:
            return _Started(failure=self._failure(exc))
        return _Started(sender, recipient, raw)

    def finish(self, started: _Started) -> None:
        """Read the answer to MAIL, then send RCPT and DATA, as smtplib's ``sendmail``;
        raises TemporaryFailure or PermanentFailure."""
        if started.failure is not None:
            raise started.failure
        try:
            host = self.connection.host
            code, answer = host.getreply()
            if code != 250:
                raise smtplib.SMTPSenderRefused(code, answer, started.sender)
            code, answer = host.rcpt(started.recipient)
            if code not in (250, 251):
                raise smtplib.SMTPRecipientsRefused({started.recipient: (code, answer)})
            code, answer = host.data(started.raw)
            if code != 250:
                raise smtplib.SMTPDataError(code, answer)
        except (OSError, smtplib.SMTPException) as exc:
            raise self._failure(exc) from exc

    def _failure(self, exc: OSError | smtplib.SMTPException) -> TemporaryFailure | PermanentFailure:
        """What a failed exchange means for the email; the connection is not used again."""
        self._drop()
        if isinstance(exc, smtplib.SMTPAuthenticationError):  # our configuration, not the message
            return TemporaryFailure(str(exc))
        if isinstance(exc, smtplib.SMTPRecipientsRefused):
            codes = [code for code, _ in exc.recipients.values()]
            if all(code >= 500 for code in codes):
                return PermanentFailure(str(exc.recipients))
            return TemporaryFailure(str(exc.recipients))
        if isinstance(exc, smtplib.SMTPResponseException):
            if exc.smtp_code >= 500:
                return PermanentFailure(f"{exc.smtp_code} {exc.smtp_error!r}")
            return TemporaryFailure(f"{exc.smtp_code} {exc.smtp_error!r}")
        return TemporaryFailure(repr(exc))

    def _drop(self) -> None:
        if self.connection is None:
            return
        if self.kept:
            _drop_kept_connection()
        else:
            self.connection.host.close()
        self.connection = None

    def __enter__(self) -> _Sender:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        if self.connection is not None and not self.kept:
            try:
                self.connection.host.quit()
            except (OSError, smtplib.SMTPException):  # the server closed it already
                self.connection.host.close()
        self.connection = None


def backoff(attempts: int) -> timedelta:
    """Exponential backoff with jitter: about 30 s, 1 min, 2 min ... capped at an hour."""
    seconds = min(30 * 2 ** (attempts - 1), 3600)
    # bandit B311: jitter, not a secret
    return timedelta(seconds=seconds * random.uniform(0.8, 1.2))  # nosec B311


@shared_task(ignore_result=True)
def deliver_email(email_id: int) -> str:
    """Send one outbox email, at most once however often this task runs."""
    return deliver_batch([email_id])[email_id]


@shared_task(ignore_result=True)
def deliver_emails(email_ids: list[int]) -> dict[str, int]:
    """Send several outbox emails in one task (bulk sends): one claim for the batch, one
    SMTP connection, and each email recorded as sent in its own commit right after the
    server took it. A task killed half-way runs again and skips what was recorded."""
    return dict(Counter(deliver_batch(email_ids).values()))


#: emails per delivery task: each task claims its batch in one UPDATE and tells the outcomes
#: in one transaction, so a bigger batch spreads those and the task's own cost over more
#: emails; 100 is the release's chunk, one task per chunk. Measured (L1, bench/RESULTS.md):
#: 0.70-0.76 with 25 and 0.81-0.86 with 50 on SQLite; with 50 a batch's own statements and
#: the task took ~25 ms of a worker process under load (~0.5 ms a letter), and 100 sent
#: letters 12-17 % faster (200: faster again on average, but its rounds varied more, a
#: batch being a fifth of the run)
DELIVERY_BATCH = 100


def enqueue_deliveries(email_ids: list[int], batch: int = DELIVERY_BATCH) -> None:
    """Enqueue the delivery of these emails in batches (call after the commit)."""
    for start in range(0, len(email_ids), batch):
        if not enqueue(deliver_emails, email_ids[start:start + batch]):
            break  # the broker is down: the sweep sends them later


_outbox = OutgoingEmail.__table__


#: what sending an email reads of its row
_TO_SEND = (_outbox.c.id, _outbox.c.kind, _outbox.c.to_address, _outbox.c.from_address, _outbox.c.reply_to,
            _outbox.c.subject, _outbox.c.text_body, _outbox.c.html_body, _outbox.c.headers,
            _outbox.c.attempts, _outbox.c.message_id)
_CLAIMABLE = and_(_outbox.c.id.in_(bindparam("email_ids", expanding=True)), _outbox.c.state == EmailState.QUEUED)
#: the claim, built once (it runs for every batch): queued and free, or our lease ran out.
#: The Message-ID is set here the first time: ``<id.nonce@domain>``
_CLAIM = (
    update(_outbox)
    .where(_CLAIMABLE, or_(_outbox.c.claimed_until.is_(None), _outbox.c.claimed_until < bindparam("now")))
    .values(claimed_until=bindparam("until"),
            message_id=func.coalesce(_outbox.c.message_id, literal("<", String) + cast(_outbox.c.id, String)
                                     + bindparam("message_id_suffix", type_=String)))
    .returning(*_TO_SEND)
)
#: our claim extended: still ours only if nobody claimed the email after our lease ran out
_RENEW = (update(_outbox).where(_CLAIMABLE, _outbox.c.claimed_until == bindparam("held_until"))
          .values(claimed_until=bindparam("until")).returning(_outbox.c.id))


def _claim(email_ids: list[int], until: datetime, now: datetime, held_until: datetime | None = None):
    """Claim (or, with ``held_until``, extend our claim on) the queued emails among these
    ids in one conditional UPDATE; returns the rows claimed (with ``held_until``, their ids).

    The Message-ID is fixed at the first claim, unique per row (its id and a random nonce):
    an email the server took but that was not recorded as sent (the worker died in between)
    goes out again with the same Message-ID, so the receiving side can recognise it.
    """
    if held_until is not None:
        return db.session.execute(_RENEW, {"email_ids": email_ids, "held_until": held_until, "until": until}).all()
    return db.session.execute(_CLAIM, {
        "email_ids": email_ids, "now": now, "until": until,
        "message_id_suffix": f".{secrets.token_hex(8)}@{new_message_domain()}>"}).all()


#: one attempt's outcome (the columns to set are the parameters); built once, as it runs
#: for every email sent
_RECORD = update(_outbox).where(_outbox.c.id == bindparam("email_id"))
#: the emails whose outcome was told: no longer held by anyone
_TOLD = update(_outbox).where(_outbox.c.id.in_(bindparam("email_ids", expanding=True)),
                              _outbox.c.state != EmailState.QUEUED).values(claimed_until=None)


#: PostgreSQL acknowledges a record's commit before its WAL reaches the disk (about 1 ms
#: of 2 per email here). The trade-off: a crash of the PostgreSQL *server* (or its
#: machine) can lose the records of the last ~0.6 s (3 x wal_writer_delay), and those emails
#: go out again, with the same Message-ID, once their lease runs out. A killed worker loses
#: nothing: the server already holds what it acknowledged. Only the records' connection is
#: affected, for one batch (set once: per email it cost a round trip, as much as the
#: record's UPDATE), never the claim nor any other write.
_ASYNCHRONOUS_COMMITS = text("SET synchronous_commit = off")
_USUAL_COMMITS = text("RESET synchronous_commit")


@contextmanager
def _records_connection() -> Iterator[DBConnection]:
    """A Core connection of its own for one batch's records, each UPDATE its own
    transaction (autocommit: on PostgreSQL one round trip per record, not three; and the
    ORM session's bookkeeping cost more than the statement); on PostgreSQL with
    asynchronous commits, reset before the connection goes back to the pool (its isolation
    level is reset there by SQLAlchemy); on SQLite waiting for the write lock in small
    steps (``quick_lock_waits``: the server waits while a record waits)."""
    connection = db.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
    postgresql = connection.dialect.name == "postgresql"
    try:
        if postgresql:
            connection.execute(_ASYNCHRONOUS_COMMITS)
        with quick_lock_waits(connection):
            yield connection
    finally:
        if postgresql:
            try:
                connection.execute(_USUAL_COMMITS)
            except Exception:  # never back in the pool with asynchronous commits
                connection.invalidate()
        connection.close()


def deliver_batch(email_ids: list[int]) -> dict[int, str]:
    """Send these outbox emails; returns each one's outcome (sent, retry, failed, skipped,
    gone).

    Exactly once: the batch is claimed in one UPDATE (rows another worker holds, or already
    sent, are skipped), and each email is recorded as sent in its own autocommitted UPDATE
    once the server took it, at the latest while the server reads the next email's MAIL
    command, so before the next email can be taken: a killed worker can only send again
    the one email whose record it had not committed; the others it had claimed are claimed
    again once the lease runs out. A long batch renews its lease as it goes, so that no
    email is ever sent on an expired claim. The final outcomes are told to their kinds'
    listeners once the batch is done (``tell``).
    """
    outcomes = dict.fromkeys(email_ids, "skipped")
    lease = timedelta(seconds=current_app.config["MAIL_LEASE_SECONDS"])
    now = utcnow()
    until = now + lease
    rows = sorted(_claim(email_ids, until, now), key=lambda row: row.id)
    db.session.commit()
    if not rows:
        return outcomes
    unrecorded: _Attempt | None = None
    untold: list[Delivery] = []
    with _Sender() as sender, _records_connection() as records:
        for index, row in enumerate(rows):
            if utcnow() > until - lease * 3 / 4:  # a quarter of the lease used: renew it
                now = utcnow()
                held = {r.id for r in _claim([r.id for r in rows[index:]], now + lease, now, until)}
                db.session.commit()
                until = now + lease
                rows[index + 1:] = [r for r in rows[index + 1:] if r.id in held]
                if row.id not in held:
                    continue
            started = sender.start(row, row.message_id)
            if unrecorded is not None:  # while the server reads this email's MAIL command
                try:
                    outcomes[unrecorded.email.id] = _record(records, unrecorded, untold)
                except BaseException:
                    sender._drop()  # the answer to MAIL will never be read
                    raise
            unrecorded = _attempt(row, sender, started)
        if unrecorded is not None:
            outcomes[unrecorded.email.id] = _record(records, unrecorded, untold)
    tell(untold)
    return outcomes


@dataclass
class _Attempt:
    """How sending one email went, to be recorded: the new state (None: it stays queued
    for another attempt), the columns to set, and the outcome's name."""

    email: Any
    state: EmailState | None
    values: dict[str, Any]
    outcome: str


def _attempt(email: Any, sender: _Sender, started: _Started) -> _Attempt:
    try:
        sender.finish(started)
    except TemporaryFailure as exc:
        attempts = email.attempts + 1
        log.warning("email %s: temporary failure (%s), attempt %s", email.id, exc, attempts)
        if attempts >= MAX_ATTEMPTS:
            return _Attempt(email, EmailState.FAILED, {"attempts": attempts, "last_error": str(exc)[:500]}, "retry")
        return _Attempt(email, None, {"attempts": attempts, "last_error": str(exc)[:500],
                                      "next_attempt_at": utcnow() + backoff(attempts)}, "retry")
    except PermanentFailure as exc:
        log.warning("email %s: permanent failure: %s", email.id, exc)
        return _Attempt(email, EmailState.FAILED, {"last_error": str(exc)[:500]}, "failed")
    return _Attempt(email, EmailState.SENT, {"sent_at": utcnow()}, "sent")


def _record(connection: DBConnection, attempt: _Attempt, untold: list[Delivery]) -> str:
    """Record an attempt on ``connection`` (autocommit: one UPDATE, its own transaction);
    returns the attempt's outcome, or "gone" when the row is gone.

    A final outcome of a kind with listeners is added to ``untold`` and the email stays
    claimed until it is told; any other record releases the claim.
    """
    email, values = attempt.email, {"email_id": attempt.email.id, **attempt.values}
    if attempt.state is not None:
        values["state"] = attempt.state
    listened = attempt.state is not None and email.kind in DELIVERY_LISTENERS
    if not listened:
        values["claimed_until"] = None
    if not _execute_record(connection, values):
        return "gone"
    if listened:
        untold.append(Delivery(email.id, email.kind, attempt.state))
    return attempt.outcome


def _execute_record(connection: DBConnection, values: dict[str, Any]) -> int:
    """Run ``_RECORD`` with these values on the records connection; returns the rows changed.

    On PostgreSQL, straight through psycopg, as a prepared statement, with the SQL that
    SQLAlchemy compiled for these columns once per process: SQLAlchemy's execution cost
    0.05-0.1 ms of client CPU per email on top of psycopg's (of ~0.45 ms for a whole
    letter), and letters went 5 % faster without it (bench/RESULTS.md, "L1 a seventh
    time"). Such a record is not seen by SQLAlchemy's events or echo."""
    if connection.dialect.name != "postgresql":
        return execute_autocommitted(connection, _RECORD, values).rowcount
    with connection.connection.driver_connection.cursor() as cursor:
        cursor.execute(_record_sql(connection.dialect, frozenset(values)),
                       {name: value.value if isinstance(value, enum.Enum) else value for name, value in values.items()},
                       prepare=True)
        return cursor.rowcount


@functools.lru_cache(maxsize=32)
def _record_sql(dialect: Any, names: frozenset[str]) -> str:
    """``_RECORD`` setting the columns among ``names``, as SQL for the dialect's driver."""
    return str(_RECORD.compile(dialect=dialect, column_keys=sorted(names - {"email_id"})))


def tell(deliveries: list[Delivery]) -> None:
    """Tell each kind's listeners these final outcomes, and release the emails' claims, in
    one transaction of the session (committed here)."""
    if not deliveries:
        return
    _tell(db.session.connection(), deliveries)
    db.session.commit()


def _tell(connection: DBConnection, deliveries: list[Delivery]) -> None:
    for kind in sorted({delivery.kind for delivery in deliveries}):
        told = [delivery for delivery in deliveries if delivery.kind == kind]
        for listener in DELIVERY_LISTENERS.get(kind, ()):
            listener(connection, told)
    connection.execute(_TOLD, {"email_ids": [delivery.email_id for delivery in deliveries]})


@warms_up
def _warm_up_delivery() -> None:
    """A delivery batch's statements, on no email: its claim, an email of each kind recorded
    as sent, and the telling of what was sent."""
    now = utcnow()
    _claim([0], now, now)
    connection = db.session.connection()
    for kind in (*DELIVERY_LISTENERS, ""):  # with listeners, and without
        _record(connection, _Attempt(SimpleNamespace(id=0, kind=kind), EmailState.SENT, {"sent_at": now}, "sent"), [])
    _tell(connection, [Delivery(0, kind, EmailState.SENT) for kind in DELIVERY_LISTENERS])


#: the queued emails, in the very words of the index of queued emails (a literal: given as a
#: bound parameter, SQLite cannot tell that the partial index holds the rows asked for)
_QUEUED = _outbox.c.state == literal_column(f"'{EmailState.QUEUED.value}'")


@shared_task(ignore_result=True)
def sweep_outbox(limit: int = 1000) -> int:
    """Enqueue again the emails that are due and that no worker holds; tell the final
    outcomes that a worker recorded but did not live to tell (its claim ran out)."""
    now = utcnow()
    untold = db.session.execute(
        select(_outbox.c.id, _outbox.c.kind, _outbox.c.state)
        .where(_outbox.c.claimed_until < now, _outbox.c.state != EmailState.QUEUED)
        .order_by(_outbox.c.claimed_until).limit(limit)  # by the index of claims (ordered by id, SQLite scans)
    ).all()
    tell([Delivery(*row) for row in untold])
    grace = timedelta(seconds=current_app.config["OUTBOX_SWEEP_GRACE"])
    due = db.session.scalars(
        select(OutgoingEmail.id)
        .where(
            _QUEUED,
            # younger rows are left to the task queued after their commit
            OutgoingEmail.next_attempt_at <= now - grace,
            or_(OutgoingEmail.claimed_until.is_(None), OutgoingEmail.claimed_until < now),
        )
        .order_by(OutgoingEmail.next_attempt_at)
        .limit(limit)
    ).all()
    db.session.rollback()
    enqueue_deliveries(due)
    return len(due)
