"""A thousand letters through a real Celery worker that is killed mid-batch (kill -9):
after a restart every letter arrives exactly once."""
from __future__ import annotations

import asyncio
from collections import Counter

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import func, insert, select

from campaigns.actions.models import ActionTarget, EmailAction, Letter, LetterState
from campaigns.core.db import db, utcnow
from campaigns.core.mail import EmailState, OutgoingEmail
from campaigns.devmail.capture import MaildirHandler
from campaigns.supporters.models import Supporter
from campaigns.targets.models import Contact, Target, TargetKind
from tests.conftest import fresh
from tests.helpers import Mailbox, free_port, wait_until
from tests.resilience.conftest import worker_process  # noqa: F401

pytestmark = pytest.mark.timeout(900)
LETTERS = 1000
CONTACTS = 20
FAST = {"OUTBOX_SWEEP_SECONDS": "1", "OUTBOX_SWEEP_GRACE": "2", "MAIL_LEASE_SECONDS": "20",
        "LETTER_RELEASE_SECONDS": "1"}


class SlowToAccept(MaildirHandler):
    """Takes a moment before accepting each recipient; none at all while ``stalling``.

    A letter is sent at least once: one the server stored but whose worker was killed
    before recording it as sent goes out again (no SMTP client can tell). The test kills
    the worker while the server holds back recipients, after the letters already past
    that point were recorded: that is the kill this test is about, mid-batch, with
    letters in flight at the server and in the queue. (A stall of a fixed two seconds
    could end between the test's look at the records and the kill, and let one more
    letter through unrecorded.)
    """

    stalling = False

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        await asyncio.sleep(0.02)
        while self.stalling:
            await asyncio.sleep(0.05)
        envelope.rcpt_tos.append(address)
        return "250 OK"


def thousand_confirmed_letters(make_campaign) -> int:
    target = Target(slug="loom-group", name="Loom Group", kind=TargetKind.PARENT_GROUP, country="FR")
    target.contacts = [Contact(name=f"Director {n}", role="Director", email=f"director{n}@loom.example")
                       for n in range(CONTACTS)]
    db.session.add(target)
    db.session.commit()
    campaign = make_campaign(slug="thousand", targets=[target])
    action = EmailAction(campaign_id=campaign.id, active=True, test_mode=False, max_per_hour=10_000)
    action.letters.append(ActionTarget(campaign_target_id=campaign.targets[0].id, subjects=["Pay up"],
                                       body="Please pay the workers.",
                                       contact_ids=[c.id for c in target.contacts]))
    db.session.add(action)
    db.session.commit()
    writers = LETTERS // CONTACTS
    db.session.execute(insert(Supporter), [
        dict(canonical_email=f"w{n}@example.org", email=f"w{n}@example.org", first_name="Writer",
             last_name=str(n), country="FR", locale="en", created_at=utcnow(), updated_at=utcnow())
        for n in range(writers)])
    supporter_ids = db.session.scalars(select(Supporter.id).order_by(Supporter.id)).all()
    now = utcnow()
    db.session.execute(insert(Letter), [
        dict(campaign_id=campaign.id, action_id=action.id, action_target_id=action.letters[0].id,
             supporter_id=s, contact_id=c.id, state=LetterState.QUEUED, subject="Pay up",
             body="Please pay the workers.", test=False, created_at=now, confirmed_at=now)
        for s in supporter_ids for c in target.contacts])
    db.session.commit()
    return action.id


def letters_received(sink: Mailbox) -> Counter:
    return Counter(str(m.message["X-Threadline-Letter"]) for m in sink.messages())


def test_a_thousand_letters_survive_a_worker_killed_mid_batch_each_arriving_once(
        app, make_campaign, worker_process, tmp_path):  # noqa: F811
    # a broker of its own: the suite's in-process worker must not take these tasks
    broker = f"sqla+sqlite:///{tmp_path / 'letters-broker.sqlite'}"
    sink = Mailbox(tmp_path / "letters-mail", free_port())
    handler = SlowToAccept(sink.directory)
    controller = Controller(handler, hostname="127.0.0.1", port=sink.port)
    controller.start()
    try:
        thousand_confirmed_letters(make_campaign)
        worker = worker_process(broker, MAIL_PORT=str(sink.port), **FAST)
        wait_until(lambda: len(letters_received(sink)) >= 100, timeout=300, interval=0.5,
                   message="the first hundred letters")
        handler.stalling = True

        def server_took_only_recorded_letters():
            fresh()
            recorded = db.session.scalar(select(func.count()).select_from(OutgoingEmail)
                                         .where(OutgoingEmail.state == EmailState.SENT))
            return recorded >= sum(letters_received(sink).values())

        wait_until(server_took_only_recorded_letters, timeout=60, interval=0.2,
                   message="the letters the server took recorded as sent")
        worker.kill_hard()
        handler.stalling = False
        before_kill = len(letters_received(sink))
        assert before_kill < LETTERS

        worker_process(broker, MAIL_PORT=str(sink.port), **FAST)
        wait_until(lambda: len(letters_received(sink)) == LETTERS, timeout=600, interval=1,
                   message=f"all {LETTERS} letters after the restart")
        counts = letters_received(sink)
        assert set(counts.values()) == {1}, [k for k, v in counts.items() if v > 1]

        def all_recorded_sent():
            fresh()
            return db.session.scalar(select(func.count()).select_from(Letter)
                                     .where(Letter.state == LetterState.SENT)) == LETTERS

        wait_until(all_recorded_sent, timeout=120, interval=1, message="every letter recorded as sent")
        # each contact got its fifty, each from its own writer
        per_contact = Counter(m.to for m in sink.messages())
        assert set(per_contact.values()) == {LETTERS // CONTACTS}
    finally:
        controller.stop()
