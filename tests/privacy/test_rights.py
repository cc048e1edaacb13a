"""Supporters' rights, through the doors a supporter uses: the links in our emails."""
from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from campaigns.audit.models import AuditEvent
from campaigns.core.db import db, utcnow
from campaigns.core.mail import OutgoingEmail
from campaigns.petitions.models import Campaign, CampaignStatus
from campaigns.signatures.models import Signature, SignatureState
from campaigns.signatures.tasks import flush_signature_counts, reconcile_signature_counts
from campaigns.supporters.models import Consent, Supporter
from tests.conftest import fresh
from tests.helpers import csrf_token, wait_until
from tests.privacy.conftest import preferences_path, unsubscribe_path

pytestmark = pytest.mark.usefixtures("celery_worker")


def consents_of(email: str) -> list[tuple[bool, str]]:
    fresh()
    supporter = db.session.scalars(select(Supporter).filter_by(canonical_email=email)).one()
    return [(c.granted, c.source) for c in supporter.consents]


def test_signature_emails_carry_one_click_unsubscribe_and_a_preferences_link(campaign, signer):
    message = signer(campaign, "headers@example.org")
    assert message.message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert unsubscribe_path(message).startswith("/u/")
    assert preferences_path(message).startswith("/preferences/")
    assert "/preferences/" in message.html and "Unsubscribe" in message.html


def test_one_click_unsubscribe_needs_no_cookie_or_csrf_token_and_get_changes_nothing(
        app, campaign, signer):
    message = signer(campaign, "oneclick@example.org")
    path = unsubscribe_path(message)
    assert consents_of("oneclick@example.org") == [(True, f"web:petition:{campaign.slug}")]

    mail_client = app.test_client()  # a mail provider: no cookies, no CSRF token
    page = mail_client.get(path)
    assert page.status_code == 200 and "Unsubscribe me" in page.get_data(as_text=True)
    assert len(consents_of("oneclick@example.org")) == 1  # a link scanner's GET changes nothing

    response = mail_client.post(path, data="List-Unsubscribe=One-Click",
                                content_type="application/x-www-form-urlencoded")
    assert response.status_code == 200
    assert "Set-Cookie" not in response.headers
    assert consents_of("oneclick@example.org")[-1] == (False, "unsubscribe-link")
    consent = db.session.scalars(select(Consent).order_by(Consent.id.desc())).first()
    assert consent.wording  # the wording of the withdrawal is kept too

    # Again: still 200, no new row; the grant is still on record (append-only).
    assert mail_client.post(path, data="List-Unsubscribe=One-Click",
                            content_type="application/x-www-form-urlencoded").status_code == 200
    assert consents_of("oneclick@example.org") == [
        (True, f"web:petition:{campaign.slug}"), (False, "unsubscribe-link")]


@pytest.mark.parametrize("path", ["/u/not-a-token", "/u/WzEsImFiYyJd.Zz.bad",
                                  "/preferences/not-a-token"])
def test_bad_links_are_404(app, path):
    client = app.test_client()
    assert client.get(path).status_code == 404
    assert client.post(path, data="List-Unsubscribe=One-Click",
                       content_type="application/x-www-form-urlencoded").status_code in (400, 404)


def test_a_link_made_for_one_purpose_does_not_open_another(app, campaign, signer):
    message = signer(campaign, "purpose@example.org")
    token = unsubscribe_path(message).rsplit("/", 1)[1]
    assert app.test_client().get(f"/preferences/{token}").status_code == 404


def test_preferences_page_shows_and_changes_consent(client, campaign, signer):
    message = signer(campaign, "prefs@example.org")
    path = preferences_path(message)
    page = client.get(path)
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert re.search(r'<input[^>]*checked[^>]*name="campaign_updates"|'
                     r'<input[^>]*name="campaign_updates"[^>]*checked', html)
    assert "prefs@example.org" not in html  # the page shows choices, not personal details

    # CSRF applies here: a post without the token changes nothing.
    assert client.post(path, data={}).status_code == 400
    assert client.post(path, data={"csrf_token": csrf_token(html)}).status_code == 303
    assert consents_of("prefs@example.org")[-1] == (False, "preferences-page")
    html = client.get(path).get_data(as_text=True)
    assert "You said no to campaign news" in html
    assert client.post(path, data={"csrf_token": csrf_token(html), "campaign_updates": "y"}
                       ).status_code == 303
    assert [granted for granted, _ in consents_of("prefs@example.org")] == [True, False, True]


def test_export_is_emailed_to_the_supporter_only(client, campaign, signer, mail_sink):
    message = signer(campaign, "export@example.org", first_name="Nadia", last_name="Rahman",
                     postcode="1207", comment="For the workers")
    path = preferences_path(message)
    page = client.get(path).get_data(as_text=True)
    response = client.post(f"{path}/export", data={"csrf_token": csrf_token(page)})
    assert response.status_code == 303

    export = mail_sink.wait_for("export@example.org", count=2)[0]
    assert "Your data on" in export.subject
    data = json.loads(re.search(r"\{.*\}", export.text, re.DOTALL).group(0))
    assert data["supporter"]["email"] == "export@example.org"
    assert (data["supporter"]["first_name"], data["supporter"]["last_name"],
            data["supporter"]["postcode"]) == ("Nadia", "Rahman", "1207")
    [signature] = data["signatures"]
    assert signature["campaign"] == campaign.slug and signature["state"] == "confirmed"
    assert signature["comment"] == "For the workers"
    assert data["consents"][0]["granted"] is True and data["consents"][0]["wording"]
    assert export.message["List-Unsubscribe"]
    fresh()
    event = db.session.scalars(select(AuditEvent).filter_by(action="supporter.export_sent")).one()
    assert "export@" not in json.dumps(event.details) and "Nadia" not in json.dumps(event.details)


def test_erasure_keeps_the_count_but_forgets_the_person(client, campaign, signer, mail_sink):
    message = signer(campaign, "amina-erase@example.org", first_name="Amina", last_name="Diallo",
                     postcode="75001", comment="Solidarity", public="y")
    flush_signature_counts()
    assert "Amina" in client.get(f"/c/{campaign.slug}").get_data(as_text=True)
    path = preferences_path(message)
    page = client.get(path).get_data(as_text=True)

    # Without ticking the box, nothing happens.
    refused = client.post(f"{path}/erase", data={"csrf_token": csrf_token(page)})
    assert refused.status_code == 422 and "Tick the box" in refused.get_data(as_text=True)
    fresh()
    assert db.session.scalars(select(Supporter)).one().erased_at is None

    response = client.post(f"{path}/erase", data={"csrf_token": csrf_token(page), "confirm": "y"})
    assert response.status_code == 200 and "Your data is erased" in response.get_data(as_text=True)

    fresh()
    supporter = db.session.scalars(select(Supporter)).one()
    assert supporter.canonical_email == supporter.email == f"erased-{supporter.id}@invalid"
    assert (supporter.first_name, supporter.last_name, supporter.postcode) == ("", "", None)
    assert supporter.erased_at is not None
    signature = db.session.scalars(select(Signature)).one()
    assert signature.state == SignatureState.CONFIRMED
    assert signature.comment is None and signature.public is False
    assert supporter.consents[-1].granted is False  # no more mail, ever

    reconcile_signature_counts()
    fresh()
    assert db.session.get(Campaign, campaign.id).signature_count == 1
    page = client.get(f"/c/{campaign.slug}").get_data(as_text=True)
    assert "Amina" not in page

    # The outbox no longer holds the address or the name; old links stop working.
    emails = db.session.scalars(select(OutgoingEmail)).all()
    assert emails and all("amina" not in (e.to_address + e.text_body).lower() for e in emails)
    assert client.get(path).status_code == 404
    assert client.get(unsubscribe_path(message)).status_code == 404
    events = db.session.scalars(select(AuditEvent).filter_by(action="supporter.erased")).all()
    assert len(events) == 1 and "amina" not in json.dumps(events[0].details).lower()

    # The same address may sign again later, as a new supporter.
    signer(campaign, "amina-erase@example.org", first_name="Amina")
    fresh()
    assert db.session.scalar(select(func.count()).select_from(Supporter)) == 2


def test_retention_job_anonymises_signers_of_long_closed_campaigns(app, make_campaign, signer):
    old, recent, live = make_campaign(), make_campaign(), make_campaign()
    signer(old, "gone@example.org", consent=False)
    signer(old, "stays-consented@example.org", consent=True)
    signer(old, "stays-active@example.org", consent=False)
    signer(live, "stays-active@example.org", consent=False)
    signer(recent, "stays-recent@example.org", consent=False)
    signer(old, "gone-pending@example.org", consent=False, confirm=False)
    flush_signature_counts()
    days = app.config["SUPPORTER_RETENTION_DAYS"]
    db.session.execute(update(Campaign).where(Campaign.id == old.id).values(
        status=CampaignStatus.CLOSED, updated_at=utcnow() - timedelta(days=days + 1)))
    db.session.execute(update(Campaign).where(Campaign.id == recent.id).values(
        status=CampaignStatus.WON, updated_at=utcnow() - timedelta(days=days - 1)))
    db.session.commit()

    schedule = app.extensions["celery"].conf.beat_schedule
    assert schedule["anonymise-signers-past-retention"]["schedule"] == 86400.0
    from campaigns.privacy.tasks import anonymise_expired_signers

    anonymise_expired_signers.delay()

    def erased() -> set[str]:
        fresh()
        return set(db.session.scalars(select(Supporter.canonical_email)
                                      .where(Supporter.erased_at.is_not(None))).all())

    wait_until(lambda: len(erased()) == 2, message="two supporters erased")
    fresh()
    remaining = set(db.session.scalars(select(Supporter.canonical_email)
                                       .where(Supporter.erased_at.is_(None))).all())
    assert remaining == {"stays-consented@example.org", "stays-active@example.org",
                         "stays-recent@example.org"}
    reconcile_signature_counts()
    fresh()
    assert db.session.get(Campaign, old.id).signature_count == 3  # counts kept
    [event] = db.session.scalars(select(AuditEvent).filter_by(action="supporters.retention_erased")).all()
    assert event.details == {"count": 2} and event.actor_id is None

    # Running again finds nobody new.
    assert anonymise_expired_signers() == 0


def test_workspace_finds_one_supporter_by_exact_email(client, login, make_campaign, make_campaigner,
                                                      signer, mail_sink):
    from campaigns.accounts.models import Organisation

    union_a = Organisation(name="Union A")
    db.session.add(union_a)
    db.session.commit()
    campaign = make_campaign(organisation_id=union_a.id)
    signer(campaign, "lookup@example.org", first_name="Lin")

    def search(email: str):
        page = client.get("/admin/supporters").get_data(as_text=True)
        return client.post("/admin/supporters", data={"csrf_token": csrf_token(page), "email": email})

    # A campaigner of another organisation learns nothing about this signer.
    assert login(make_campaigner("campaigner", organisation="Union B")).status_code == 302
    assert "No supporter found" in search("lookup@example.org").get_data(as_text=True)
    client.post("/logout", data={"csrf_token": csrf_token(client.get("/admin/").get_data(as_text=True))})

    assert login(make_campaigner("campaigner", organisation="Union A")).status_code == 302
    assert search("lookup").status_code == 422  # exact addresses only, never a partial match
    found = search("LOOKUP+x@example.org").get_data(as_text=True)
    assert "No supporter found" not in found and "Email them their data" in found
    assert "Erase their personal data" not in found  # admins only
    fresh()
    supporter = db.session.scalars(select(Supporter)).one()
    token = csrf_token(found)
    assert client.post(f"/admin/supporters/{supporter.id}/export",
                       data={"csrf_token": token}).status_code == 303
    export = mail_sink.wait_for("lookup@example.org", count=2)[0]
    assert "Your data on" in export.subject and '"first_name": "Lin"' in export.text
    assert client.post(f"/admin/supporters/{supporter.id}/erase",
                       data={"csrf_token": token, "confirm": "y"}).status_code == 403
    client.post("/logout", data={"csrf_token": token})

    assert login(make_campaigner("admin")).status_code == 302
    page = search("lookup@example.org").get_data(as_text=True)
    assert "Erase their personal data" in page
    assert client.post(f"/admin/supporters/{supporter.id}/erase",
                       data={"csrf_token": csrf_token(page), "confirm": "y"}).status_code == 303
    fresh()
    assert db.session.get(Supporter, supporter.id).erased_at is not None
    assert "No supporter found" in search("lookup@example.org").get_data(as_text=True)
    actions = db.session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)).all()
    assert "supporter.export_sent" in actions and "supporter.erased" in actions


def test_a_submission_not_yet_signed_is_exported_and_erased(client, make_campaign, signer,
                                                             monkeypatch):
    from campaigns.privacy.operations import erase, export_data
    from campaigns.signatures.models import SignatureIntake
    from tests.helpers import keep_the_suite_worker_off_the_intake

    first, second = make_campaign(), make_campaign()
    signer(first, "waiting@example.org", comment="First")
    # the second one waits in the intake: the worker is away
    keep_the_suite_worker_off_the_intake(monkeypatch)
    assert client.post(f"/api/v1/campaigns/{second.slug}/signatures", json={
        "first_name": "Wa", "last_name": "It", "email": "Waiting+x@example.org", "country": "DE",
        "comment": "Second"}).status_code == 202
    fresh()
    supporter = db.session.scalars(select(Supporter)).one()

    data = export_data(supporter)
    assert [(s["campaign"], s["state"], s["comment"]) for s in data["signatures"]] == \
        [(first.slug, "confirmed", "First"), (second.slug, "submitted", "Second")]

    erase(supporter)
    db.session.commit()
    assert db.session.scalar(select(func.count()).select_from(SignatureIntake)) == 0
