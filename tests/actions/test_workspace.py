"""The campaigner's side: set up the action and the letters, watch progress, pause,
resume and cancel; and what letters mean for updates and supporters' rights."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from campaigns.actions.models import EmailAction, Letter, LetterState
from campaigns.audit.models import AuditEvent
from campaigns.core.db import db
from campaigns.supporters.models import Supporter
from tests.actions.conftest import consult
from tests.actions.test_delivery import confirmed_letters, release
from tests.conftest import fresh
from tests.helpers import csrf_token
from tests.privacy.conftest import signer  # noqa: F401


def letter_states() -> list[LetterState]:
    fresh()
    return [l.state for l in db.session.scalars(select(Letter).order_by(Letter.id))]


def audit_actions() -> list[str]:
    fresh()
    return [e.action for e in db.session.scalars(select(AuditEvent).order_by(AuditEvent.id))]


def test_a_campaigner_sets_up_letters_in_test_mode_and_goes_live_after_consultation(
        client, login, make_campaigner, triangle):
    campaigner = make_campaigner("campaigner")
    login(campaigner)
    page = client.get("/admin/campaigns/triangle/letters")
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    action = db.session.scalars(select(EmailAction)).one()
    assert action.test_mode and not action.active and action.test_address == campaigner.email
    letter = action.letters[0]
    edit = client.get(f"/admin/campaigns/triangle/letters/targets/{letter.id}")
    contact_ids = [c.id for c in letter.campaign_target.target.contacts]
    response = client.post(f"/admin/campaigns/triangle/letters/targets/{letter.id}", data={
        "csrf_token": csrf_token(edit.get_data(as_text=True)),
        "subjects": "Reinstate them now\nRespect freedom of association\n",
        "body": "Dear CEO, please act.", "contact_ids": [str(contact_ids[0])], "delivery": "each"})
    assert response.status_code == 303
    fresh()
    letter = db.session.get(type(letter), letter.id)
    assert letter.subjects == ["Reinstate them now", "Respect freedom of association"]
    assert letter.contact_ids == [contact_ids[0]]

    settings = {"csrf_token": csrf_token(page.get_data(as_text=True)), "active": "y",
                "max_body_length": "2000", "max_per_hour": "30", "window_start_hour": "8",
                "window_end_hour": "18"}
    # To the real targets without a worker consultation: refused, nothing changes.
    refused = client.post("/admin/campaigns/triangle/letters", data=settings)
    assert refused.status_code == 409 and "consultation" in refused.get_data(as_text=True)
    fresh()
    assert db.session.get(EmailAction, action.id).active is False
    # In test mode it may go on without one.
    assert client.post("/admin/campaigns/triangle/letters",
                       data={**settings, "test_mode": "y"}).status_code == 303
    consult(db.session.get(type(triangle), triangle.id))
    assert client.post("/admin/campaigns/triangle/letters", data=settings).status_code == 303
    fresh()
    action = db.session.get(EmailAction, action.id)
    assert action.active and not action.test_mode and action.max_per_hour == 30
    assert "letters.settings_changed" in audit_actions()
    assert client.get("/c/triangle/write").status_code == 200


def test_settings_are_validated_in_the_page(client, login, make_campaigner, email_action):
    login(make_campaigner("campaigner"))
    page = client.get("/admin/campaigns/triangle/letters")
    response = client.post("/admin/campaigns/triangle/letters", data={
        "csrf_token": csrf_token(page.get_data(as_text=True)), "max_body_length": "5",
        "max_per_hour": "0", "window_start_hour": "8", "window_end_hour": "18"})
    assert response.status_code == 422
    assert "Please check the form" in response.get_data(as_text=True)


def test_the_campaigner_sees_counts_per_contact_and_pauses_resumes_and_cancels(
        client, login, make_campaigner, email_action):
    email_action.max_per_hour = 2
    db.session.commit()
    confirmed_letters(email_action, 3)
    release(email_action)  # two released, one left queued (the hourly cap)
    login(make_campaigner("campaigner"))
    page = client.get("/admin/campaigns/triangle/letters")
    html = page.get_data(as_text=True)
    assert "Greta Holm" in html and "<progress" in html
    assert 'data-state="queued">1<' in html and 'data-state="released">2<' in html
    token = csrf_token(html)

    assert client.post("/admin/campaigns/triangle/letters/pause", data={"csrf_token": token}).status_code == 303
    fresh()
    assert db.session.get(EmailAction, email_action.id).paused
    assert client.get("/admin/campaigns/triangle/letters/progress.json").json["paused"] is True
    assert client.post("/admin/campaigns/triangle/letters/resume", data={"csrf_token": token}).status_code == 303
    fresh()
    assert not db.session.get(EmailAction, email_action.id).paused
    assert client.post("/admin/campaigns/triangle/letters/cancel", data={"csrf_token": token}).status_code == 303
    states = letter_states()
    assert states.count(LetterState.CANCELLED) == 1
    assert states.count(LetterState.RELEASED) == 2  # already with the outbox: not recalled
    assert {"letters.paused", "letters.resumed", "letters.cancelled"} <= set(audit_actions())
    assert client.post("/admin/campaigns/triangle/letters/pause").status_code == 400  # no token


def test_other_organisations_and_viewers_cannot_control_the_letters(client, login, make_campaigner,
                                                                    email_action):
    login(make_campaigner("viewer"))
    assert client.get("/admin/campaigns/triangle/letters").status_code == 403


# --- updates and supporters' rights ---------------------------------------------------

@pytest.mark.usefixtures("celery_worker")
def test_writers_who_consent_receive_updates_once_beside_signers(
        client, email_action, write_letters, confirm_letters, signer, mail_sink):
    from campaigns.updates.operations import count_recipients, recipients_query

    mail_sink.clear()
    write_letters(email_action, consent_updates="y")
    confirm_letters()
    write_letters(email_action, email="silent@example.org")  # no consent
    confirm_letters("silent@example.org")
    write_letters(email_action, email="pending@example.org", consent_updates="y")  # never confirmed
    fresh()
    campaign = email_action.campaign
    signer(campaign, "ana.writes@example.org")  # also signed: still one recipient
    signer(campaign, "sam@example.org")
    fresh()
    emails = [db.session.get(Supporter, i).email for i in db.session.scalars(recipients_query(campaign.id))]
    assert sorted(emails) == ["ana.writes@example.org", "sam@example.org"]
    assert count_recipients(campaign) == 2


def test_the_data_export_holds_the_letters_and_erasure_empties_them(email_action):
    from campaigns.privacy.operations import erase, export_data

    sent = confirmed_letters(email_action, 1)
    release(email_action)
    waiting = confirmed_letters(email_action, 1, contact_index=1)
    fresh()
    supporter = db.session.get(Letter, sent[0]).supporter
    exported = export_data(supporter)
    assert [l["to"] for l in exported["letters"]] == ["Greta Holm, Chief Executive Officer", "Lena Ruiz, Head of CSR"]
    assert "reinstate" in exported["letters"][0]["body"]
    json.dumps(exported)
    erase(supporter)
    db.session.commit()
    fresh()
    released, queued = db.session.get(Letter, sent[0]), db.session.get(Letter, waiting[0])
    assert queued.state == LetterState.CANCELLED and queued.body == "" and queued.subject == ""
    assert released.state == LetterState.FAILED and released.body == ""
    from campaigns.core.mail import EmailState, OutgoingEmail

    outgoing = db.session.get(OutgoingEmail, released.email_id)
    assert outgoing.state == EmailState.FAILED and outgoing.text_body == "" and outgoing.from_address is None
