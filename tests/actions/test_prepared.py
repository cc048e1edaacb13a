"""Letters' emails rendered when the supporter confirms (prepared emails): nothing sends
them before their release, the release sends them as they were rendered unless what they
were rendered from changed, and cancelled or erased letters leave none behind."""
from __future__ import annotations

import pytest
from sqlalchemy import delete, select

from campaigns.actions import operations
from campaigns.actions.models import Letter, LetterState
from campaigns.core.db import db
from campaigns.core.mail import EmailState, OutgoingEmail, deliver_emails, sweep_outbox
from campaigns.targets.models import Contact
from tests.actions.test_delivery import email_of
from tests.conftest import fresh
from tests.helpers import wait_until

#: what Ana adds to each letter: only these tests' letters carry it (the sink is shared by
#: the run, and a worker may still be delivering an earlier test's letters)
THEIR_WORDS = "My own words, prepared."


def ours(messages):
    return [message for message in messages if THEIR_WORDS in message.text]


@pytest.fixture
def confirmed_while_paused(celery_worker, email_action, write_letters, confirm_letters, mail_sink):
    """Ana writes and confirms her four letters over HTTP while the campaigner has the
    action paused: they wait, queued, with their emails prepared."""
    mail_sink.clear()
    email_action.paused = True
    db.session.commit()
    assert write_letters(email_action, **{f"body_{letter.id}": f"{letter.body} {THEIR_WORDS}"
                                          for letter in email_action.letters}).status_code == 303
    assert confirm_letters().status_code == 303
    fresh()
    letters = db.session.scalars(select(Letter).order_by(Letter.id)).all()
    assert [letter.state for letter in letters] == [LetterState.QUEUED] * 4
    return [letter.id for letter in letters]


def resume_and_wait(action, letter_ids: list[int]) -> list[OutgoingEmail]:
    """The campaigner resumes; the worker releases and sends the letters. Their emails."""
    fresh()
    operations.resume(db.session.get(type(action), action.id))
    db.session.commit()

    def sent() -> bool:
        fresh()
        return {db.session.get(Letter, i).state for i in letter_ids} == {LetterState.SENT}

    wait_until(sent, timeout=60, message="letters sent")
    return [email_of(letter_id) for letter_id in letter_ids]


def outbox_texts() -> list[str]:
    fresh()
    return list(db.session.scalars(select(OutgoingEmail.text_body).where(OutgoingEmail.kind == "letter")))


def test_confirming_prepares_each_letters_email_and_nothing_sends_it_before_its_release(
        email_action, confirmed_while_paused, mail_sink, app, monkeypatch):
    ids = confirmed_while_paused
    prepared = [email_of(letter_id) for letter_id in ids]
    assert [email.state for email in prepared] == [EmailState.PREPARED] * 4
    assert sorted(email.to_address for email in prepared) == [
        "ceo@nordwind.example", "ceo@sunrise-apparel.example", "csr@nordwind.example",
        "north@parliament.example"]
    assert all(THEIR_WORDS in email.text_body and "Ana Silva" in email.text_body for email in prepared)
    assert [email.headers["X-Threadline-Letter"] for email in prepared] == [str(i) for i in ids]

    # a delivery task or the sweep meeting a prepared email sends nothing
    monkeypatch.setitem(app.config, "OUTBOX_SWEEP_GRACE", 0)
    assert sweep_outbox() == 0
    assert deliver_emails([email.id for email in prepared]) == {"skipped": 4}
    assert ours(mail_sink.messages("nordwind.example")) == []
    assert [email_of(letter_id).state for letter_id in ids] == [EmailState.PREPARED] * 4

    sent = resume_and_wait(email_action, ids)
    # the same emails: nothing was rendered again
    assert [email.id for email in sent] == [email.id for email in prepared]
    assert [email.state for email in sent] == [EmailState.SENT] * 4
    [message] = ours(mail_sink.messages("ceo@nordwind.example"))
    assert "Ana Silva via Threadline" in message.sender and "ana.writes@example.org" not in message.sender
    assert message.subject == "Reinstate the union leaders, Nordwind Sportswear"
    brand_target = email_action.letters[0].campaign_target
    assert str(message.message["Reply-To"]) == f"reply+{brand_target.reply_token}@threadline.localhost"
    assert THEIR_WORDS in message.text
    assert len(ours(mail_sink.messages("nordwind.example"))) == 2


def test_a_letter_whose_contacts_address_changed_after_confirmation_goes_to_the_new_address(
        email_action, confirmed_while_paused, mail_sink):
    ids = confirmed_while_paused
    before = {letter_id: (email_of(letter_id).id, email_of(letter_id).to_address) for letter_id in ids}
    ceo = db.session.scalar(select(Contact).filter_by(email="ceo@nordwind.example"))
    ceo.email = "greta.holm@nordwind.example"
    db.session.commit()
    after = dict(zip(ids, resume_and_wait(email_action, ids)))
    changed = [letter_id for letter_id in ids if after[letter_id].id != before[letter_id][0]]
    assert [before[letter_id][1] for letter_id in changed] == ["ceo@nordwind.example"]
    assert after[changed[0]].to_address == "greta.holm@nordwind.example"
    assert db.session.get(OutgoingEmail, before[changed[0]][0]) is None  # the stale one is gone
    assert len(outbox_texts()) == 4
    assert ours(mail_sink.messages("ceo@nordwind.example")) == []
    [message] = ours(mail_sink.messages("greta.holm@nordwind.example"))
    assert THEIR_WORDS in message.text


def test_letters_confirmed_live_go_to_the_campaigner_once_the_action_is_back_in_test_mode(
        email_action, confirmed_while_paused, mail_sink):
    ids = confirmed_while_paused
    fresh()
    db.session.get(type(email_action), email_action.id).test_mode = True
    db.session.commit()
    emails = resume_and_wait(email_action, ids)
    assert {email.to_address for email in emails} == {"team@network.example"}
    assert ours(mail_sink.messages("nordwind.example")) == []
    messages = ours(mail_sink.messages("team@network.example"))  # sent: in the sink already
    assert len(messages) == 4
    assert {message.message["X-Threadline-Test"] for message in messages} == {"yes"}
    assert all(message.subject.startswith("[Test]") for message in messages)
    assert len(outbox_texts()) == 4  # the four prepared for the targets were deleted


def test_cancelled_letters_leave_no_prepared_email(email_action, confirmed_while_paused):
    assert len(outbox_texts()) == 4
    fresh()
    assert operations.cancel(db.session.get(type(email_action), email_action.id)) == 4
    db.session.commit()
    assert outbox_texts() == []
    assert {(letter.state, letter.email_id) for letter in db.session.scalars(select(Letter))} == {
        (LetterState.CANCELLED, None)}


def test_erasure_deletes_the_prepared_emails_of_the_supporters_letters(email_action, confirmed_while_paused):
    from campaigns.privacy.operations import erase

    fresh()
    erase(db.session.get(Letter, confirmed_while_paused[0]).supporter)
    db.session.commit()
    assert [text for text in outbox_texts() if THEIR_WORDS in text] == []
    assert db.session.scalars(select(OutgoingEmail).filter_by(state=EmailState.PREPARED)).all() == []
    fresh()
    assert {letter.state for letter in db.session.scalars(select(Letter))} == {LetterState.CANCELLED}


def test_the_retention_run_deletes_prepared_emails_whose_letter_is_gone(email_action, confirmed_while_paused):
    from campaigns.privacy.operations import purge_old_outbox_copies

    fresh()
    kept = email_of(confirmed_while_paused[1]).id
    db.session.execute(delete(Letter).where(Letter.id == confirmed_while_paused[0]))
    db.session.commit()
    assert len(outbox_texts()) == 4
    assert purge_old_outbox_copies() == 1
    db.session.commit()
    assert len(outbox_texts()) == 3
    assert db.session.get(OutgoingEmail, kept).state == EmailState.PREPARED


def test_a_supporter_who_skips_confirmation_has_their_letters_prepared_at_once(
        celery_worker, app, monkeypatch, email_action, write_letters, confirm_letters, mail_sink):
    monkeypatch.setitem(app.config, "LETTER_SKIP_CONFIRMATION_DAYS", 30)
    mail_sink.clear()
    email_action.paused = True
    db.session.commit()
    assert write_letters(email_action, postcode="S1 2AB").status_code == 303
    assert confirm_letters().status_code == 303
    # she moved: her letter to her new member of parliament needs no confirmation
    assert write_letters(email_action, postcode="N1 4AB").status_code == 303
    fresh()
    [north] = db.session.scalars(select(Letter).join(Contact).filter(
        Contact.email == "north@parliament.example")).all()
    assert north.state == LetterState.QUEUED
    assert email_of(north.id).state == EmailState.PREPARED
    assert email_of(north.id).to_address == "north@parliament.example"
