"""The outbox: mail is never lost and never sent twice, whatever SMTP does."""
from __future__ import annotations

import socket
import threading
from datetime import timedelta

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select, update

from campaigns.core.db import db, utcnow
from campaigns.core.extensions import mail as flask_mail
from campaigns.core.mail import EmailState, OutgoingEmail, deliver_email, queue_email, sweep_outbox
from campaigns.devmail.capture import MaildirHandler
from tests.conftest import fresh
from tests.helpers import Mailbox, free_port, wait_until




def queue(to: str = "worker@example.org") -> int:
    email = queue_email("test", to, "signatures/already_signed",
                        first_name="Sam", campaign=type("C", (), {"title": "Pay the workers"}),
                        campaign_url="http://threadline.test/c/x")
    db.session.commit()
    return email.id


def outbox(email_id: int) -> OutgoingEmail:
    fresh()
    return db.session.get(OutgoingEmail, email_id)


def make_due(email_id: int) -> None:
    """Let the backoff pass, as if the clock had moved on."""
    db.session.execute(update(OutgoingEmail).where(OutgoingEmail.id == email_id)
                       .values(next_attempt_at=utcnow() - timedelta(minutes=5)))
    db.session.commit()


@pytest.mark.usefixtures("celery_worker")
def test_mail_waits_through_an_smtp_outage_and_goes_out_once(tmp_path, smtp_port):
    port = free_port()
    sink = Mailbox(tmp_path / "mail", port)
    smtp_port(port)  # nothing listens there yet: the SMTP server is down

    email_id = queue("outage@example.org")
    wait_until(lambda: outbox(email_id).attempts >= 1, message="a failed attempt")
    email = outbox(email_id)
    assert email.state == EmailState.QUEUED and email.sent_at is None
    assert email.next_attempt_at > utcnow()  # backing off
    assert "Connection refused" in email.last_error or "111" in email.last_error

    assert sweep_outbox() == 0  # not due yet: the sweep leaves it alone
    controller = Controller(MaildirHandler(sink.directory), hostname="127.0.0.1", port=port)
    controller.start()  # the SMTP server is back
    try:
        make_due(email_id)
        assert sweep_outbox() == 1
        [message] = sink.wait_for("outage@example.org")
        wait_until(lambda: outbox(email_id).state == EmailState.SENT, message="sent")
        assert outbox(email_id).message_id == message.message["Message-ID"]
        # Sweeping and delivering again sends nothing more.
        make_due(email_id)
        assert sweep_outbox() == 0
        deliver_email(email_id)
        assert len(sink.messages("outage@example.org")) == 1
    finally:
        controller.stop()


class Refusing:
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        return "550 5.1.1 No such mailbox"


def left_by_an_outage(to: str, **fields) -> int:
    """An outbox row with no task queued for it, as a broker outage leaves it."""
    email = OutgoingEmail(kind="test", to_address=to, subject="Hello", text_body="Hello.",
                          **fields)
    db.session.add(email)
    db.session.commit()
    return email.id


def test_a_permanent_refusal_is_recorded_and_not_retried(smtp_port):
    port = free_port()
    controller = Controller(Refusing(), hostname="127.0.0.1", port=port)
    controller.start()
    smtp_port(port)
    try:
        email_id = left_by_an_outage("gone@example.org")
        assert deliver_email(email_id) == "failed"
    finally:
        controller.stop()
    email = outbox(email_id)
    assert email.state == EmailState.FAILED and email.sent_at is None
    assert "550" in email.last_error
    make_due(email_id)
    assert sweep_outbox() == 0


def test_the_same_email_delivered_by_many_tasks_at_once_arrives_once(mail_sink):
    # Six deliveries at once, as duplicate tasks from the sweep and a re-delivered
    # message would run.
    email_id = left_by_an_outage("once@example.org")
    barrier = threading.Barrier(6)
    results = []

    def run():
        barrier.wait()
        results.append(deliver_email(email_id))

    threads = [threading.Thread(target=run) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results).count("sent") == 1
    assert len(mail_sink.messages("once@example.org")) == 1
    assert deliver_email(email_id) == "skipped"


def test_a_line_break_in_a_header_is_refused(mail_sink):
    email_id = left_by_an_outage("inject@example.org",
                                 headers={"X-Campaign": "x\r\nBcc: victim@example.org"})
    assert deliver_email(email_id) == "failed"
    assert "line break" in outbox(email_id).last_error
    assert mail_sink.messages("victim@example.org") == []
    assert mail_sink.messages("inject@example.org") == []


def test_nothing_is_queued_when_the_transaction_rolls_back():
    queue_email("test", "rollback@example.org", "signatures/already_signed", first_name="Sam",
                campaign=type("C", (), {"title": "T"}), campaign_url="http://x")
    db.session.rollback()
    fresh()
    assert db.session.scalars(select(OutgoingEmail)).all() == []


def test_a_hung_smtp_server_is_a_temporary_failure(app, smtp_port):
    with socket.socket() as silent:  # accepts connections, never says a word
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        smtp_port(silent.getsockname()[1])
        app.config["MAIL_TIMEOUT"] = 1
        try:
            email_id = left_by_an_outage("hung@example.org")
            assert deliver_email(email_id) == "retry"
        finally:
            app.config["MAIL_TIMEOUT"] = 30
    email = outbox(email_id)
    assert email.state == EmailState.QUEUED and email.attempts == 1
    assert "timed out" in email.last_error


class KeepsThenSaysTryLater(MaildirHandler):
    """Stores the first message but answers 451, as a server that timed out after DATA
    does: the client cannot tell it was kept, so it sends again."""

    answered = 0

    async def handle_DATA(self, server, session, envelope):
        await super().handle_DATA(server, session, envelope)
        self.answered += 1
        return "451 4.4.2 Timeout after data" if self.answered == 1 else "250 OK"


def test_an_email_sent_again_carries_the_same_message_id(tmp_path, smtp_port):
    port = free_port()
    sink = Mailbox(tmp_path / "mail", port)
    controller = Controller(KeepsThenSaysTryLater(sink.directory), hostname="127.0.0.1", port=port)
    controller.start()
    smtp_port(port)
    try:
        email_id = left_by_an_outage("twice@example.org")
        assert deliver_email(email_id) == "retry"
        make_due(email_id)
        assert deliver_email(email_id) == "sent"
    finally:
        controller.stop()
    first, second = sink.messages("twice@example.org")
    assert first.message["Message-ID"] == second.message["Message-ID"] == outbox(email_id).message_id
