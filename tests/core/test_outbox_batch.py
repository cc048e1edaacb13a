"""Bulk delivery: one claim for a batch, one record per email, and message bytes built
with the stdlib that read exactly as Flask-Mail's did."""
from __future__ import annotations

import email
import threading
from datetime import timedelta
from email.policy import default as default_policy
from email.utils import formataddr

import pytest
from aiosmtpd.controller import Controller
from flask_mail import Message
from sqlalchemy import func, select, update

from campaigns.core.db import db, utcnow
from campaigns.core.mail import (
    EmailState,
    OutgoingEmail,
    PermanentFailure,
    build_message,
    deliver_email,
    deliver_emails,
)
from campaigns.devmail.capture import MaildirHandler
from tests.conftest import fresh
from tests.helpers import Mailbox, free_port, wait_until


def outbox(email_id: int) -> OutgoingEmail:
    fresh()
    return db.session.get(OutgoingEmail, email_id)


def queued(*recipients: str, **fields) -> list[int]:
    """Outbox rows with no task queued for them (as a broker outage leaves them)."""
    rows = [OutgoingEmail(kind="test", to_address=to, subject=f"Hello {to}", text_body="Hello.", **fields)
            for to in recipients]
    db.session.add_all(rows)
    db.session.commit()
    return [row.id for row in rows]


# --- the message bytes ------------------------------------------------------------------

def flask_mail_bytes(row: OutgoingEmail, message_id: str) -> bytes:
    """What the outbox sent before build_message: Flask-Mail's message, with From and
    Reply-To replaced by their finished values."""
    message = Message(subject=row.subject, recipients=[row.to_address], sender=row.from_address,
                      body=row.text_body, html=row.html_body, extra_headers=row.headers)
    message.msgId = message_id
    mime = message._message()
    for name, value in (("From", row.from_address), ("Reply-To", row.reply_to)):
        if value:
            if name in mime:
                mime.replace_header(name, value)
            else:
                mime[name] = value
    return mime.as_bytes()


LONG_LINE = "A line much longer than any mail reader's window, " * 8
CASES = {
    "ascii text only": dict(subject="Pay the workers", text_body="Dear CEO,\n\nPay them.\n\nAna"),
    "non-ascii names and subject, html": dict(
        subject="Réintégrez les délégués — maintenant", text_body="Chère Mme Ñuñez,\n\nMerci. ✊",
        html_body="<p>Chère Mme Ñuñez,</p><p>Merci. ✊</p>",
        from_address='=?utf-8?q?Zo=C3=AB_=22Z=22_=C3=91u=C3=B1ez_via_Threadline?= <no-reply@threadline.localhost>',
        reply_to=formataddr(("Zoë Ñuñez", "zoe@example.org"), charset="utf-8")),
    "extra headers": dict(subject="News", text_body="News.", html_body="<p>News.</p>",
                          headers={"List-Unsubscribe": "<https://threadline.test/u/abc>",
                                   "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
                                   "X-Threadline-Letter": "42"}),
    "long lines and a long subject": dict(
        subject="Reinstate the fourteen dismissed union leaders " * 5,
        text_body=f"{LONG_LINE}\n\n  indented =equals= and trailing space \n.\nFrom here\n{'é' * 300}"),
}


@pytest.mark.parametrize("fields", CASES.values(), ids=CASES.keys())
def test_the_message_reads_as_flask_mail_wrote_it(fields):
    row = OutgoingEmail(kind="test", to_address="ceo@nordwind.example", **{"headers": {}, **fields})
    message_id = "<42.0123456789abcdef@threadline.localhost>"
    _, _, raw = build_message(row, message_id)
    new = email.message_from_bytes(raw, policy=default_policy)
    old = email.message_from_bytes(flask_mail_bytes(row, message_id), policy=default_policy)
    names = ["From", "To", "Subject", "Message-ID", "Reply-To", "MIME-Version", *row.headers]
    assert {name: str(new[name]) for name in names} == {name: str(old[name]) for name in names}
    assert new["Date"] is not None
    for kind in ("plain", "html"):
        new_part, old_part = new.get_body((kind,)), old.get_body((kind,))
        assert (new_part is None) == (old_part is None)
        if new_part is not None:  # CRLF on the wire, as RFC 2045 wants text
            assert new_part.get_content().replace("\r\n", "\n") == old_part.get_content().replace("\r\n", "\n")
    assert new.get_content_type() == ("multipart/alternative" if row.html_body else "text/plain")
    assert all(len(line) <= 998 for line in raw.split(b"\r\n"))
    assert b"\n" not in raw.replace(b"\r\n", b"")


def test_a_header_not_encoded_yet_goes_out_as_encoded_words():
    row = OutgoingEmail(kind="test", to_address="ceo@nordwind.example", subject="Hi", text_body="Hi.",
                        reply_to='"Zoë Ñuñez" <zoe@example.org>', headers={"X-Campaign": "Réintégrez"})
    _, _, raw = build_message(row, "<1.x@threadline.localhost>")
    parsed = email.message_from_bytes(raw, policy=default_policy)
    assert raw.isascii()
    assert parsed["Reply-To"].addresses[0].display_name == "Zoë Ñuñez"
    assert str(parsed["X-Campaign"]) == "Réintégrez"


@pytest.mark.parametrize("field, value", [
    ("subject", "Hello\r\nBcc: victim@example.org"),
    ("reply_to", "a@example.org\nBcc: victim@example.org"),
    ("to_address", "ceo@nordwind.example\rBcc: victim@example.org"),
    ("headers", {"X-Campaign\r\nBcc": "victim@example.org"}),
])
def test_a_line_break_in_any_header_is_refused(field, value):
    row = OutgoingEmail(kind="test", to_address="ceo@nordwind.example", subject="Hi",
                        text_body="Hi.", headers={})
    setattr(row, field, value)
    with pytest.raises(PermanentFailure, match="line break"):
        build_message(row, "<1.x@threadline.localhost>")


# --- a batch ----------------------------------------------------------------------------

def test_a_batch_skips_what_another_worker_holds_or_already_sent(mail_sink):
    mail_sink.clear()
    free, held, sent, also_free = queued("b1@example.org", "b2@example.org", "b3@example.org",
                                         "b4@example.org")
    db.session.execute(update(OutgoingEmail).where(OutgoingEmail.id == held)
                       .values(claimed_until=utcnow() + timedelta(minutes=5)))
    db.session.execute(update(OutgoingEmail).where(OutgoingEmail.id == sent)
                       .values(state=EmailState.SENT, sent_at=utcnow()))
    db.session.commit()
    assert deliver_emails([free, held, sent, also_free]) == {"sent": 2, "skipped": 2}
    assert sorted(m.to for m in mail_sink.messages()) == ["b1@example.org", "b4@example.org"]
    assert outbox(held).state == EmailState.QUEUED and outbox(held).message_id is None
    assert deliver_emails([free, also_free]) == {"skipped": 2}
    assert len(mail_sink.messages()) == 2


class RefusesSome(MaildirHandler):
    """550 for one recipient, 451 for another, 250 for the rest."""

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith("gone"):
            return "550 5.1.1 No such mailbox"
        if address.startswith("busy"):
            return "451 4.3.0 Try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"


@pytest.fixture
def refusing_sink(tmp_path, smtp_port):
    sink = Mailbox(tmp_path / "mail", free_port())
    controller = Controller(RefusesSome(sink.directory), hostname="127.0.0.1", port=sink.port)
    controller.start()
    smtp_port(sink.port)
    yield sink
    controller.stop()


def test_one_refusal_in_a_batch_touches_only_its_own_email(refusing_sink):
    ids = queued("first@example.org", "gone@example.org", "busy@example.org", "last@example.org")
    first, gone, busy, last = ids
    assert deliver_emails(ids) == {"sent": 2, "failed": 1, "retry": 1}
    assert sorted(m.to for m in refusing_sink.messages()) == ["first@example.org", "last@example.org"]
    assert outbox(first).state == outbox(last).state == EmailState.SENT
    assert outbox(gone).state == EmailState.FAILED and "550" in outbox(gone).last_error
    backing_off = outbox(busy)
    assert backing_off.state == EmailState.QUEUED and backing_off.attempts == 1
    assert backing_off.next_attempt_at > utcnow() and backing_off.claimed_until is None
    assert "451" in backing_off.last_error
    assert outbox(first).attempts == outbox(last).attempts == 0


def test_each_email_has_its_own_message_id_kept_when_sent_again(refusing_sink):
    ids = queued("one@example.org", "two@example.org", "busy@example.org")
    deliver_emails(ids)
    recorded = {outbox(i).to_address: outbox(i).message_id for i in ids}
    assert len(set(recorded.values())) == 3
    for message in refusing_sink.messages():
        assert message.message["Message-ID"] == recorded[message.to]
    busy = ids[2]
    db.session.execute(update(OutgoingEmail).where(OutgoingEmail.id == busy)
                       .values(to_address="now-accepting@example.org"))
    db.session.commit()
    assert deliver_email(busy) == "sent"
    [again] = refusing_sink.messages("now-accepting@example.org")
    assert again.message["Message-ID"] == recorded["busy@example.org"] == outbox(busy).message_id


class Slow(MaildirHandler):
    async def handle_DATA(self, server, session, envelope):
        import asyncio

        await asyncio.sleep(0.7)
        return await super().handle_DATA(server, session, envelope)


def test_a_long_batch_renews_its_lease_so_no_one_else_sends_its_emails(app, tmp_path, smtp_port):
    sink = Mailbox(tmp_path / "mail", free_port())
    controller = Controller(Slow(sink.directory), hostname="127.0.0.1", port=sink.port)
    controller.start()
    smtp_port(sink.port)
    app.config["MAIL_LEASE_SECONDS"] = 2
    try:
        ids = queued(*(f"slow{n}@example.org" for n in range(6)))
        results = []

        def worker():
            with app.app_context():
                results.append(deliver_emails(ids))
                db.session.remove()

        thread = threading.Thread(target=worker)
        thread.start()
        # a second worker comes along once the batch's first lease, as claimed, has run out
        first_lease = wait_until(lambda: fresh() or db.session.scalar(
            select(func.min(OutgoingEmail.claimed_until)).where(OutgoingEmail.id.in_(ids))),
            message="the batch's claim")
        wait_until(lambda: utcnow() > first_lease, message="the first lease to run out")
        second = deliver_emails(ids)
        thread.join()
    finally:
        app.config["MAIL_LEASE_SECONDS"] = 300
        controller.stop()
    assert results == [{"sent": 6}] and second == {"skipped": 6}
    assert sorted(m.to for m in sink.messages()) == sorted(f"slow{n}@example.org" for n in range(6))


class NotesWhatIsRecorded(MaildirHandler):
    """Before taking each message, notes which emails the outbox already records as sent
    (read on a connection of its own, as any other process would see them)."""

    def __init__(self, directory, engine) -> None:
        super().__init__(directory)
        self.engine = engine
        self.recorded_before: dict[str, set[str]] = {}

    async def handle_DATA(self, server, session, envelope):
        with self.engine.connect() as connection:
            self.recorded_before[envelope.rcpt_tos[0]] = set(connection.scalars(
                select(OutgoingEmail.to_address).where(OutgoingEmail.state == EmailState.SENT)))
        return await super().handle_DATA(server, session, envelope)


def test_each_email_is_recorded_as_sent_before_the_server_can_take_the_next(tmp_path, smtp_port):
    """The record of an email overlaps the next one's MAIL command, never its DATA: a worker
    killed at any moment leaves at most one email taken by the server and not recorded."""
    sink = Mailbox(tmp_path / "mail", free_port())
    handler = NotesWhatIsRecorded(sink.directory, db.engine)
    controller = Controller(handler, hostname="127.0.0.1", port=sink.port)
    controller.start()
    smtp_port(sink.port)
    try:
        recipients = [f"in-order{n}@example.org" for n in range(6)]
        assert deliver_emails(queued(*recipients)) == {"sent": 6}
    finally:
        controller.stop()
    assert [handler.recorded_before[to] for to in recipients] == \
        [set(recipients[:n]) for n in range(6)]


#: a database that refuses one email's record (as a dropped connection or a full disk would)
REFUSE_RECORD = {
    "sqlite": ["CREATE TRIGGER refuse_record BEFORE UPDATE OF state ON outgoing_email "
               "WHEN NEW.to_address = 'record-refused@example.org' AND NEW.state = 'sent' "
               "BEGIN SELECT RAISE(ABORT, 'record refused'); END"],
    "postgresql": ["CREATE FUNCTION refuse_record() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                   "IF NEW.to_address = 'record-refused@example.org' AND NEW.state = 'sent' THEN "
                   "RAISE EXCEPTION 'record refused'; END IF; RETURN NEW; END $$",
                   "CREATE TRIGGER refuse_record BEFORE UPDATE ON outgoing_email "
                   "FOR EACH ROW EXECUTE FUNCTION refuse_record()"],
}
ALLOW_RECORDS = {"sqlite": ["DROP TRIGGER refuse_record"],
                 "postgresql": ["DROP TRIGGER refuse_record ON outgoing_email", "DROP FUNCTION refuse_record()"]}


def _run(statements: list[str]) -> None:
    db.session.rollback()  # the session's read of the table would hold up the DDL (PostgreSQL)
    with db.engine.begin() as connection:
        for statement in statements:
            connection.exec_driver_sql(statement)


def test_a_record_that_fails_stops_the_batch_before_the_next_email_is_taken(mail_sink):
    """A record is made while the server reads the next email's MAIL command; when it
    fails, that next email never gets its DATA: the task fails, the rest
    of the batch waits for its claim to run out, and only the email whose record failed
    goes out a second time (with the same Message-ID). The records' connection goes back
    to the pool in working order."""
    mail_sink.clear()
    before, refused, after, last = queued("record-before@example.org", "record-refused@example.org",
                                          "record-after@example.org", "record-last@example.org")
    dialect = db.engine.dialect.name
    _run(REFUSE_RECORD[dialect])
    try:
        with pytest.raises(Exception, match="record refused"):
            deliver_emails([before, refused, after, last])
    finally:
        _run(ALLOW_RECORDS[dialect])
    assert sorted(m.to for m in mail_sink.messages()) == ["record-before@example.org", "record-refused@example.org"]
    assert outbox(before).state == EmailState.SENT
    for email_id in (refused, after, last):  # still claimed: nothing sends them before the lease ends
        assert outbox(email_id).state == EmailState.QUEUED and outbox(email_id).claimed_until > utcnow()
    assert deliver_emails([refused, after, last]) == {"skipped": 3}

    db.session.execute(update(OutgoingEmail).where(OutgoingEmail.id.in_([refused, after, last]))
                       .values(claimed_until=utcnow() - timedelta(seconds=1)))  # the lease ran out
    db.session.commit()
    assert deliver_emails([refused, after, last]) == {"sent": 3}
    assert [len(mail_sink.messages(to)) for to in ("record-before", "record-after", "record-last")] == [1, 1, 1]
    twice = mail_sink.messages("record-refused@example.org")
    assert len(twice) == 2 and twice[0].message["Message-ID"] == twice[1].message["Message-ID"]


def test_the_records_connection_goes_back_to_the_pool_with_synchronous_commits(mail_sink):
    """On PostgreSQL a batch records with asynchronous commits (set once on its own
    connection); any other write that later gets that pooled connection commits as usual."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("asynchronous commits are PostgreSQL's")
    assert deliver_emails(queued("pool-a@example.org", "pool-b@example.org")) == {"sent": 2}
    db.session.remove()
    connections = [db.engine.connect() for _ in range(db.engine.pool.checkedin() + 1)]
    try:
        assert {c.exec_driver_sql("SHOW synchronous_commit").scalar() for c in connections} == {"on"}
    finally:
        for connection in connections:
            connection.close()


def test_the_records_autocommit_does_not_follow_the_connection_back_to_the_pool(mail_sink):
    """Records are autocommitted on a connection of their own; whatever later gets that
    pooled connection still has transactions: a rollback undoes its writes."""
    assert deliver_emails(queued("pool-c@example.org")) == {"sent": 1}
    db.session.remove()
    for _ in range(db.engine.pool.checkedin() + 1):  # every pooled connection, in turn
        with db.engine.connect() as connection:
            connection.execute(update(OutgoingEmail).where(OutgoingEmail.to_address == "pool-c@example.org")
                               .values(subject="changed"))
            connection.rollback()
    fresh()
    assert db.session.scalar(select(OutgoingEmail.subject)
                             .where(OutgoingEmail.to_address == "pool-c@example.org")) == "Hello pool-c@example.org"


# --- enqueueing after the commit ----------------------------------------------------------

def test_a_transactions_emails_go_to_the_broker_in_batches_and_a_rolled_back_savepoints_not_at_all(
        monkeypatch, celery_worker, mail_sink):
    """The intake worker confirms many signatures per transaction: a broker message per
    DELIVERY_BATCH of their emails, not one per email."""
    from campaigns.core import mail

    published = []

    def spy(task, *args):  # the real enqueue, watched
        published.append((task.name.rsplit(".", 1)[-1], args))
        return enqueue(task, *args)

    enqueue = mail.enqueue
    monkeypatch.setattr(mail, "enqueue", spy)
    context = dict(first_name="Sam", campaign=type("C", (), {"title": "Pay the workers"}),
                   campaign_url="http://threadline.test/c/x")
    kept = [mail.queue_email("test", f"batch{n}@example.org", "signatures/already_signed", **context).id
            for n in range(mail.DELIVERY_BATCH + 5)]
    with pytest.raises(RuntimeError):
        with db.session.begin_nested():
            mail.queue_email("test", "undone@example.org", "signatures/already_signed", **context)
            raise RuntimeError("this signature fails")
    db.session.commit()
    batch = mail.DELIVERY_BATCH
    assert published == [("deliver_emails", (kept[:batch],)), ("deliver_emails", (kept[batch:],))]
    for n in range(batch + 5):
        mail_sink.wait_for(f"batch{n}@example.org")

    published.clear()
    alone = mail.queue_email("test", "alone@example.org", "signatures/already_signed", **context).id
    db.session.commit()
    assert published == [("deliver_email", (alone,))]
    mail_sink.wait_for("alone@example.org")
    assert mail_sink.messages("undone@example.org") == []
