"""Letters on their way: the outbox's answers to SMTP, pacing per contact, headers that
cannot be injected, and bounces."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select, update

from campaigns.actions import operations
from campaigns.actions.models import Letter, LetterState
from campaigns.core.db import db, utcnow
from campaigns.core.mail import EmailState, OutgoingEmail, deliver_email, deliver_emails
from campaigns.devmail.capture import MaildirHandler
from campaigns.supporters.operations import upsert_supporter
from tests.conftest import fresh
from tests.helpers import Mailbox, free_port




def confirmed_letters(action, count: int, *, first_name: str = "Ana", last_name: str = "Silva",
                      target_index: int = 0, contact_index: int = 0, subject: str | None = None) -> list[int]:
    """``count`` supporters' confirmed letters to one contact (as the confirm link leaves them)."""
    letter = action.letters[target_index]
    contact = letter.campaign_target.target.contacts[contact_index]
    ids = []
    for n in range(count):
        supporter = upsert_supporter(email=f"writer{n}-{first_name[:3].strip()}@example.org",
                                     first_name=first_name, last_name=last_name, country="PT",
                                     postcode=None, locale="en")
        row = Letter(campaign_id=action.campaign_id, action_id=action.id, action_target_id=letter.id,
                     supporter_id=supporter.id, contact_id=contact.id, state=LetterState.QUEUED,
                     subject=subject or letter.subjects[0], body=letter.body, confirmed_at=utcnow())
        db.session.add(row)
        db.session.flush()
        ids.append(row.id)
    db.session.commit()
    return ids


#: handed to the outbox (a worker running for other tests may already have sent them)
OUT = {LetterState.RELEASED, LetterState.SENT}


def state_of(letter_id: int) -> LetterState:
    fresh()
    return db.session.get(Letter, letter_id).state


def release(action, now=None) -> int:
    """Release what pacing allows, without enqueueing the deliveries (as with the broker
    down): the tests deliver by hand, and a worker running for other tests cannot race them."""
    from campaigns.core.db import _PENDING

    fresh()
    released = operations.release_due(db.session.get(type(action), action.id), now=now)
    db.session.info.pop(_PENDING, None)
    db.session.commit()
    return released


def email_of(letter_id: int) -> OutgoingEmail:
    fresh()
    return db.session.get(OutgoingEmail, db.session.get(Letter, letter_id).email_id)


# --- SMTP answers ---------------------------------------------------------------------

class BusyThenAccepting(MaildirHandler):
    """451 for the first attempt, then 250."""

    def __init__(self, directory):
        super().__init__(directory)
        self.refused = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.refused == 0:
            self.refused += 1
            return "451 4.3.0 Try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"


class Refusing:
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        return "550 5.1.1 No such mailbox"


def test_451_then_250_delivers_the_letter_once(email_action, smtp_port, tmp_path):
    [letter_id] = confirmed_letters(email_action, 1)
    port = free_port()
    sink = Mailbox(tmp_path / "mail", port)
    handler = BusyThenAccepting(sink.directory)
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    smtp_port(port)
    try:
        assert release(email_action) == 1
        email_id = email_of(letter_id).id
        assert deliver_email(email_id) == "retry"
        assert state_of(letter_id) == LetterState.RELEASED
        fresh()
        db.session.get(OutgoingEmail, email_id).next_attempt_at = utcnow() - timedelta(minutes=5)
        db.session.commit()
        assert deliver_email(email_id) == "sent"
        assert deliver_email(email_id) == "skipped"
    finally:
        controller.stop()
    assert len(sink.messages("ceo@nordwind.example")) == 1
    assert state_of(letter_id) == LetterState.SENT
    assert email_of(letter_id).message_id == sink.messages()[0].message["Message-ID"]


def test_550_fails_the_letter_and_is_not_retried(email_action, smtp_port):
    [letter_id] = confirmed_letters(email_action, 1)
    port = free_port()
    controller = Controller(Refusing(), hostname="127.0.0.1", port=port)
    controller.start()
    smtp_port(port)
    try:
        release(email_action)
        email_id = email_of(letter_id).id
        assert deliver_email(email_id) == "failed"
        assert deliver_email(email_id) == "skipped"
    finally:
        controller.stop()
    assert state_of(letter_id) == LetterState.FAILED
    assert email_of(letter_id).state == EmailState.FAILED
    assert "550" in email_of(letter_id).last_error


# --- pacing ---------------------------------------------------------------------------

def test_pacing_holds_the_hourly_cap_per_contact_and_drops_nothing(email_action):
    email_action.max_per_hour = 3
    db.session.commit()
    ids = confirmed_letters(email_action, 8)
    others = confirmed_letters(email_action, 2, first_name="Bo", contact_index=1)
    noon = datetime(2026, 3, 2, 12, 0, tzinfo=timezone.utc)
    assert release(email_action, now=noon) == 3 + 2  # 3 for the CEO, 2 for the CSR head
    assert release(email_action, now=noon + timedelta(minutes=30)) == 0  # the hour is used up
    assert [state_of(i) in OUT for i in ids].count(True) == 3
    assert all(state_of(i) in OUT for i in others)
    assert release(email_action, now=noon + timedelta(minutes=61)) == 3
    assert release(email_action, now=noon + timedelta(minutes=122)) == 2
    assert all(state_of(i) in OUT for i in ids)


def test_letters_wait_for_the_sending_window_in_the_contacts_time_zone(email_action):
    email_action.window_start_hour, email_action.window_end_hour = 9, 17
    db.session.commit()
    [letter_id] = confirmed_letters(email_action, 1)  # to Greta Holm, Europe/Berlin
    # 07:30 UTC is 08:30 in Berlin in winter: too early; 08:30 UTC is 09:30 there
    assert release(email_action, now=datetime(2026, 1, 15, 7, 30, tzinfo=timezone.utc)) == 0
    assert state_of(letter_id) == LetterState.QUEUED
    assert release(email_action, now=datetime(2026, 1, 15, 8, 30, tzinfo=timezone.utc)) == 1


def test_a_paused_action_releases_nothing_until_resumed(email_action):
    [letter_id] = confirmed_letters(email_action, 1)
    operations.pause(email_action)
    db.session.commit()
    assert release(email_action) == 0
    email_action = db.session.get(type(email_action), email_action.id)
    email_action.paused = False
    db.session.commit()
    assert release(email_action) == 1


def test_a_digest_contact_gets_one_email_a_day_with_the_count(email_action, mail_sink):
    from campaigns.actions.models import DeliveryMode

    email_action.letters[0].delivery = DeliveryMode.DIGEST
    db.session.commit()
    ids = confirmed_letters(email_action, 7)
    noon = datetime(2026, 3, 2, 12, 0, tzinfo=timezone.utc)
    assert release(email_action, now=noon) == 7
    outgoing = email_of(ids[0])
    assert {email_of(i).id for i in ids} == {outgoing.id}
    assert "7 people wrote to you today" in outgoing.text_body
    more = confirmed_letters(email_action, 1, first_name="Cy")
    assert release(email_action, now=noon + timedelta(hours=3)) == 0
    assert release(email_action, now=noon + timedelta(hours=25)) == 1
    mail_sink.clear()
    assert deliver_email(outgoing.id) == "sent"
    assert all(state_of(i) == LetterState.SENT for i in ids)
    assert state_of(more[0]) in OUT


# --- headers --------------------------------------------------------------------------

def test_line_breaks_in_a_name_or_a_subject_add_no_header(email_action, mail_sink):
    mail_sink.clear()
    email_action.letters[0].subjects = ["Reinstate them\r\nBcc: victim@example.org"]
    db.session.commit()
    [letter_id] = confirmed_letters(email_action, 1, first_name="Ana\r\nBcc: spy@example.org",
                                    last_name='"Silva"\nX-Injected: yes',
                                    subject="Reinstate them\r\nBcc: victim@example.org")
    release(email_action)
    assert deliver_email(email_of(letter_id).id) == "sent"
    [message] = mail_sink.messages("ceo@nordwind.example")
    raw = message.message.as_string()
    headers = raw.split("\n\n", 1)[0]
    assert "\nBcc:" not in headers and "\nX-Injected:" not in headers
    assert message.message["Bcc"] is None and message.message["X-Injected"] is None
    assert "via Threadline" in message.sender and "no-reply@threadline.localhost" in message.sender
    assert "Reinstate them" in message.subject
    assert [m for m in mail_sink.messages() if "victim" in m.to or "spy" in m.to] == []


def test_a_name_with_quotes_and_accents_is_encoded_in_from(email_action, mail_sink):
    mail_sink.clear()
    [letter_id] = confirmed_letters(email_action, 1, first_name='Zoë "Z"', last_name="Ñuñez")
    release(email_action)
    assert deliver_email(email_of(letter_id).id) == "sent"
    [message] = mail_sink.messages("ceo@nordwind.example")
    assert message.message["From"].addresses[0].display_name == 'Zoë "Z" Ñuñez via Threadline'
    assert message.message["From"].addresses[0].addr_spec == "no-reply@threadline.localhost"


def test_reply_to_can_be_the_supporter_when_the_campaigner_chooses(email_action, mail_sink):
    mail_sink.clear()
    email_action.reply_to_supporter = True
    db.session.commit()
    [letter_id] = confirmed_letters(email_action, 1)
    release(email_action)
    deliver_email(email_of(letter_id).id)
    [message] = mail_sink.messages("ceo@nordwind.example")
    assert "writer0-Ana@example.org" in str(message.message["Reply-To"])
    assert "writer0-Ana@example.org" not in message.sender


# --- bounces --------------------------------------------------------------------------

def dsn(status: str = "5.1.1", action: str = "failed", letter_header: str | None = None,
        message_id: str | None = None) -> bytes:
    """A delivery status notification as Postfix sends one (RFC 3464)."""
    returned = "".join([f"X-Threadline-Letter: {letter_header}\r\n" if letter_header else "",
                        f"Message-ID: {message_id}\r\n" if message_id else "",
                        "Subject: Reinstate the union leaders\r\n"])
    return (
        "From: MAILER-DAEMON@mx.nordwind.example\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n\r\n'
        "--B\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n"
        "--B\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.nordwind.example\r\n\r\n"
        f"Final-Recipient: rfc822; ceo@nordwind.example\r\nAction: {action}\r\nStatus: {status}\r\n"
        "Diagnostic-Code: smtp; 550 5.1.1 User unknown\r\n\r\n"
        "--B\r\nContent-Type: text/rfc822-headers\r\n\r\n" + returned +
        "--B--\r\n"
    ).encode()


@pytest.fixture
def bounce_secret(app):
    app.config["BOUNCE_WEBHOOK_SECRET"] = "s3cret-for-tests"
    yield "s3cret-for-tests"
    app.config["BOUNCE_WEBHOOK_SECRET"] = None


def sent_letters(action, count: int = 1, **kwargs) -> list[int]:
    ids = confirmed_letters(action, count, **kwargs)
    release(action)
    for letter_id in ids:
        assert deliver_email(email_of(letter_id).id) == "sent"
    return ids


def test_the_bounce_endpoint_refuses_a_wrong_or_missing_secret(client, bounce_secret, email_action):
    body = dsn(letter_header="1")
    assert client.post("/hooks/letters/bounce", data=body).status_code == 403
    assert client.post("/hooks/letters/bounce", data=body,
                       headers={"X-Bounce-Secret": "wrong"}).status_code == 403


def test_the_bounce_endpoint_is_off_without_a_secret(client):
    assert client.post("/hooks/letters/bounce", data=b"x",
                       headers={"X-Bounce-Secret": ""}).status_code == 404


def test_a_hard_bounce_marks_the_address_invalid_and_holds_its_letters(client, bounce_secret,
                                                                        email_action):
    [bounced] = sent_letters(email_action)
    waiting = confirmed_letters(email_action, 2, first_name="Bo")
    message_id = email_of(bounced).message_id
    response = client.post("/hooks/letters/bounce", headers={"X-Bounce-Secret": bounce_secret},
                           data=dsn(letter_header=str(bounced), message_id=message_id))
    assert response.status_code == 200 and response.json == {"outcome": "bounced"}
    assert state_of(bounced) == LetterState.BOUNCED
    fresh()
    contact = db.session.get(Letter, bounced).contact
    assert contact.address_invalid_at is not None
    assert all(state_of(i) == LetterState.HELD for i in waiting)
    assert release(email_action) == 0  # nothing more goes to the dead address
    # The campaigner fixes the address: the held letters are queued again, none lost.
    fresh()
    operations.requeue_held(db.session.get(type(contact), contact.id))
    db.session.commit()
    assert release(email_action) == 2


def test_a_bounce_is_matched_by_message_id_alone(client, bounce_secret, email_action):
    [bounced] = sent_letters(email_action)
    response = client.post("/hooks/letters/bounce", headers={"X-Bounce-Secret": bounce_secret},
                           data=dsn(message_id=email_of(bounced).message_id))
    assert response.json == {"outcome": "bounced"}


def test_soft_bounces_count_up_to_the_limit(client, bounce_secret, email_action, app):
    ids = sent_letters(email_action, 3)
    outcomes = [client.post("/hooks/letters/bounce", headers={"X-Bounce-Secret": bounce_secret},
                            data=dsn(status="4.2.2", action="delayed", letter_header=str(i))).json["outcome"]
                for i in ids]
    assert outcomes == ["soft", "soft", "bounced"]  # LETTER_SOFT_BOUNCE_LIMIT = 3
    fresh()
    assert db.session.get(Letter, ids[0]).contact.address_invalid_at is not None


def test_an_unknown_dsn_changes_nothing(client, bounce_secret, email_action):
    [letter_id] = sent_letters(email_action)
    response = client.post("/hooks/letters/bounce", headers={"X-Bounce-Secret": bounce_secret},
                           data=dsn(letter_header="999999", message_id="<nope@x>"))
    assert response.json == {"outcome": "unmatched"}
    assert state_of(letter_id) == LetterState.SENT


def test_a_letter_written_in_test_mode_stays_a_test_after_going_live(email_action, mail_sink):
    mail_sink.clear()
    [letter_id] = confirmed_letters(email_action, 1)
    fresh()
    db.session.get(Letter, letter_id).test = True
    db.session.commit()
    release(email_action)
    assert deliver_email(email_of(letter_id).id) == "sent"
    assert mail_sink.messages("ceo@nordwind.example") == []
    [message] = mail_sink.messages("team@network.example")
    assert message.message["X-Threadline-Test"] == "yes"


def test_celery_settings_lose_nothing(app):
    """acks_late with reject_on_worker_lost and one task prefetched: a killed worker's task
    runs again; the visibility timeout is longer than any task or lease."""
    celery = app.extensions["celery"].conf
    assert celery.task_acks_late and celery.task_reject_on_worker_lost
    assert celery.worker_prefetch_multiplier == 1
    assert app.config["BROKER_VISIBILITY_TIMEOUT"] > max(app.config["MAIL_LEASE_SECONDS"],
                                                         app.config["MAIL_TIMEOUT"] * 3)


def test_the_act_request_succeeds_with_the_broker_down(other_app, email_action):
    from tests.actions.conftest import letter_form_data

    web = other_app(CELERY_BROKER_URL=f"redis://127.0.0.1:{free_port()}/0")
    client = web.test_client()
    page = client.get("/c/triangle/write")
    data = letter_form_data(page.get_data(as_text=True), email_action, email="offline@example.org")
    response = client.post("/c/triangle/write", data={**data, "send": "Send"})
    assert response.status_code == 303
    fresh()
    pending = db.session.scalars(select(Letter).where(Letter.state == LetterState.PENDING)).all()
    assert len(pending) == 4
    confirmation = db.session.scalars(select(OutgoingEmail).filter_by(to_address="offline@example.org")).one()
    assert confirmation.state == EmailState.QUEUED  # the sweep sends it once the broker is back


# --- bulk delivery --------------------------------------------------------------------

def test_letters_follow_their_email_and_a_soft_bounce_count_is_reset_when_sent(email_action, mail_sink):
    mail_sink.clear()
    ids = confirmed_letters(email_action, 3)
    contact = db.session.get(Letter, ids[0]).contact
    contact.soft_bounces = 2
    db.session.commit()
    release(email_action)
    emails = [email_of(i).id for i in ids]
    assert len(set(emails)) == 3
    assert deliver_emails(emails) == {"sent": 3}
    fresh()
    for letter_id in ids:
        letter = db.session.get(Letter, letter_id)
        assert letter.state == LetterState.SENT
        assert letter.sent_at == db.session.get(OutgoingEmail, letter.email_id).sent_at
    assert db.session.get(type(contact), contact.id).soft_bounces == 0
    sent = mail_sink.messages("ceo@nordwind.example")
    assert sorted(str(m.message["X-Threadline-Letter"]) for m in sent) == sorted(map(str, ids))
    # a letter is plain text, like a letter
    assert all(m.message.get_content_type() == "text/plain" for m in sent)
    assert "I am writing to ask" in sent[0].message.get_content()


def test_outcomes_a_killed_worker_recorded_but_never_told_are_told_by_the_sweep(
        email_action, mail_sink, monkeypatch):
    from campaigns.core import mail

    mail_sink.clear()
    ids = confirmed_letters(email_action, 3)
    release(email_action)
    emails = [email_of(i).id for i in ids]

    def killed(deliveries):  # the worker dies once the batch is sent and recorded
        raise SystemExit("killed before telling")

    monkeypatch.setattr(mail, "tell", killed)
    with pytest.raises(SystemExit):
        deliver_emails(emails)
    monkeypatch.undo()
    fresh()
    assert len(mail_sink.messages("ceo@nordwind.example")) == 3
    # recorded as sent (no one sends them again), still held: their letters have not followed
    assert {db.session.get(OutgoingEmail, e).state for e in emails} == {EmailState.SENT}
    assert all(db.session.get(OutgoingEmail, e).claimed_until is not None for e in emails)
    assert {state_of(i) for i in ids} == {LetterState.RELEASED}

    mail.sweep_outbox()  # the claim has not run out: the worker may still be telling
    assert {state_of(i) for i in ids} == {LetterState.RELEASED}

    db.session.execute(update(OutgoingEmail).where(OutgoingEmail.id.in_(emails))
                       .values(claimed_until=utcnow() - timedelta(seconds=1)))
    db.session.commit()
    mail.sweep_outbox()
    mail.sweep_outbox()  # told twice: nothing changes
    fresh()
    for letter_id in ids:
        letter = db.session.get(Letter, letter_id)
        assert letter.state == LetterState.SENT
        assert letter.sent_at == db.session.get(OutgoingEmail, letter.email_id).sent_at
    assert all(db.session.get(OutgoingEmail, e).claimed_until is None for e in emails)
    assert deliver_emails(emails) == {"skipped": 3}  # and none goes out again
    assert len(mail_sink.messages("ceo@nordwind.example")) == 3


def test_a_letter_cancelled_while_its_chunk_renders_is_not_released_and_leaves_no_email(
        email_action, monkeypatch):
    """A chunk's emails are added before its letters move: one cancelled in between stays
    cancelled, and its email is gone before anyone could send it."""
    ids = confirmed_letters(email_action, 3)
    render = operations._render_letter

    def render_then_cancel(action, contact, action_target, row):
        if row.id == ids[1]:  # the campaigner cancels it, in a transaction of their own
            with db.engine.begin() as other:
                other.execute(update(Letter).where(Letter.id == ids[1]).values(state=LetterState.CANCELLED))
        return render(action, contact, action_target, row)

    monkeypatch.setattr(operations, "_render_letter", render_then_cancel)
    before = set(db.session.scalars(select(OutgoingEmail.id)))
    assert release(email_action) == 2
    assert [state_of(i) in OUT for i in ids] == [True, False, True]
    assert state_of(ids[1]) == LetterState.CANCELLED
    added = db.session.scalars(select(OutgoingEmail).where(OutgoingEmail.id.not_in(before))).all()
    assert sorted(email.headers["X-Threadline-Letter"] for email in added) == [str(ids[0]), str(ids[2])]
    assert [db.session.get(Letter, i).email_id for i in ids] == \
        [next(e.id for e in added if e.headers["X-Threadline-Letter"] == str(ids[0])), None,
         next(e.id for e in added if e.headers["X-Threadline-Letter"] == str(ids[2]))]


def test_a_release_in_chunks_keeps_the_hourly_pace_and_records_one_wave(email_action):
    from campaigns.actions.tasks import RELEASE_CHUNK, release_letters
    from campaigns.replies.models import EventKind, ThreadEvent

    email_action.max_per_hour = 2 * RELEASE_CHUNK + 10
    db.session.commit()
    ids = confirmed_letters(email_action, 2 * RELEASE_CHUNK + 30)
    assert release_letters(email_action.id) == 2 * RELEASE_CHUNK + 10
    states = [state_of(i) for i in ids]
    assert sum(s in OUT for s in states) == 2 * RELEASE_CHUNK + 10
    assert states.count(LetterState.QUEUED) == 20
    fresh()
    assert len({db.session.get(Letter, i).email_id for i in ids[:2 * RELEASE_CHUNK + 10]}) == 2 * RELEASE_CHUNK + 10
    [wave] = db.session.scalars(select(ThreadEvent).filter_by(kind=EventKind.LETTER_WAVE_SENT)).all()
    assert wave.details == {"letters": 2 * RELEASE_CHUNK + 10}
    assert release_letters(email_action.id) == 0  # the hour's allowance is used up


def test_a_release_in_chunks_goes_through_every_contact_once_whatever_the_chunk_boundaries(email_action):
    """One run, chunks of RELEASE_CHUNK letters: a contact's letters run over into the next
    chunk, a chunk ends in the middle of the next contact's, a digest contact goes whole.
    Every letter is released once, in its own email to its own contact (a digest's letters
    share theirs), and the run stops when nothing is left."""
    from collections import Counter

    from campaigns.actions.models import DeliveryMode
    from campaigns.actions.tasks import RELEASE_CHUNK, release_letters
    from campaigns.replies.models import EventKind, ThreadEvent

    email_action.max_per_hour = 10 * RELEASE_CHUNK
    email_action.letters[1].delivery = DeliveryMode.DIGEST  # the factory owner
    db.session.commit()
    greta = confirmed_letters(email_action, RELEASE_CHUNK + 20)
    lena = confirmed_letters(email_action, 40, first_name="Bo", contact_index=1)
    rahim = confirmed_letters(email_action, 15, first_name="Cy", target_index=1)
    assert release_letters(email_action.id) == len(greta) + len(lena) + len(rahim)
    fresh()
    letters = {i: db.session.get(Letter, i) for i in greta + lena + rahim}
    assert all(letter.state in OUT for letter in letters.values())
    emails = Counter(letter.email_id for letter in letters.values())
    assert None not in emails
    assert [emails[letters[i].email_id] for i in greta + lena] == [1] * (len(greta) + len(lena))
    [digest] = {letters[i].email_id for i in rahim}
    assert emails[digest] == len(rahim)
    to = {i: db.session.get(OutgoingEmail, letters[i].email_id).to_address for i in letters}
    assert {to[i] for i in greta} == {email_action.letters[0].campaign_target.target.contacts[0].email}
    assert {to[i] for i in lena} == {"csr@nordwind.example"}
    assert {to[i] for i in rahim} == {email_action.letters[1].campaign_target.target.contacts[0].email}
    waves = db.session.scalars(select(ThreadEvent).filter_by(kind=EventKind.LETTER_WAVE_SENT)).all()
    assert sorted(wave.details["letters"] for wave in waves) == [len(rahim), len(greta) + len(lena)]
    assert release_letters(email_action.id) == 0


def test_a_worker_process_runs_the_hot_statements_at_start_without_error_and_changes_nothing(email_action):
    """What a worker process runs at start so that its first release chunk and delivery
    batch do not compile their statements (campaigns.core.celery.warms_up): it must keep
    working as those tasks change (a failure is only logged), and touch no row."""
    import campaigns.actions.tasks  # noqa: F401  (a worker imports every module of tasks)
    from campaigns.core.celery import WARM_UPS, warm_up_statements

    ids = confirmed_letters(email_action, 3)
    assert release(email_action) == 3

    def rows():
        fresh()
        return (db.session.execute(select(Letter.id, Letter.state, Letter.email_id).order_by(Letter.id)).all(),
                db.session.execute(select(OutgoingEmail.id, OutgoingEmail.state, OutgoingEmail.claimed_until,
                                          OutgoingEmail.message_id).order_by(OutgoingEmail.id)).all())

    before = rows()
    assert {warm_up.__qualname__ for warm_up in WARM_UPS} >= {"_warm_up_delivery", "_warm_up_release"}
    assert warm_up_statements() == []
    assert rows() == before
    assert [state_of(i) for i in ids] == [LetterState.RELEASED] * 3
