"""Signing a petition from its page: double opt-in, dedupe, validation, mail."""
from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from sqlalchemy import func, select

from campaigns.core.db import db, utcnow
from campaigns.core.mail import OutgoingEmail
from campaigns.signatures.models import Signature, SignatureState
from campaigns.signatures.tasks import flush_signature_counts
from campaigns.supporters.models import Consent, Supporter
from campaigns.supporters.operations import canonical_email
from tests.conftest import fresh
from tests.helpers import confirm_link, csrf_token


def count(model) -> int:
    fresh()
    return db.session.scalar(select(func.count()).select_from(model))


def public_count(client, campaign) -> int:
    return client.get(f"/api/v1/campaigns/{campaign.slug}").get_json()["signature_count"]


@pytest.mark.usefixtures("celery_worker")
def test_sign_confirm_by_email_and_count_rises(client, campaign, sign, mail_sink):
    response = sign(campaign, email="amina@example.org", first_name="Amina", public="y")
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/c/{campaign.slug}/thanks")
    thanks = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "check your email" in thanks.lower()

    [message] = mail_sink.wait_for("amina@example.org")
    assert campaign.title in message.subject
    assert "Amina" in message.text
    assert message.html and "Confirm my signature" in message.html
    link = confirm_link(message)
    assert link.startswith("http://threadline.test/sign/confirm/")
    path = urlsplit(link).path

    # Following the link shows a button; a link scanner's GET confirms nothing.
    page = client.get(path)
    assert page.status_code == 200
    assert "Yes, count my signature" in page.get_data(as_text=True)
    fresh()
    assert db.session.scalar(select(Signature.state)) == SignatureState.PENDING

    confirmed = client.post(path, data={"csrf_token": csrf_token(page.get_data(as_text=True))})
    assert confirmed.status_code == 303
    fresh()
    signature = db.session.scalars(select(Signature)).one()
    assert signature.state == SignatureState.CONFIRMED and signature.confirmed_at is not None

    # The count is folded in by the background job, not by the request.
    assert public_count(client, campaign) == 0
    flush_signature_counts()
    assert public_count(client, campaign) == 1
    page = client.get(f"/c/{campaign.slug}").get_data(as_text=True)
    assert "Amina" in page  # public signer, first name only
    assert "amina@example.org" not in page

    # Following the link again changes nothing.
    again = client.get(path)
    assert again.status_code == 303
    flush_signature_counts()
    assert public_count(client, campaign) == 1


def test_pending_signatures_do_not_count_or_show(client, campaign, sign):
    sign(campaign, first_name="Pending", public="y")
    flush_signature_counts()
    assert public_count(client, campaign) == 0
    assert "Pending" not in client.get(f"/c/{campaign.slug}").get_data(as_text=True)


def test_signature_stores_details_and_consent_wording(campaign, sign):
    sign(campaign, email="Kwame.Mensah+petition@Example.org", first_name="Kwame",
         last_name="Mensah", country="GH", postcode="AB1 2CD", comment="Solidarity",
         consent_updates="y")
    fresh()
    supporter = db.session.scalars(select(Supporter)).one()
    assert supporter.canonical_email == "kwame.mensah@example.org"
    assert (supporter.first_name, supporter.last_name, supporter.country, supporter.postcode) == \
        ("Kwame", "Mensah", "GH", "AB1 2CD")
    signature = db.session.scalars(select(Signature)).one()
    assert signature.comment == "Solidarity" and signature.public is False
    [consent] = db.session.scalars(select(Consent)).all()
    assert consent.granted and consent.purpose.value == "campaign_updates"
    assert "keep me informed" in consent.wording
    assert consent.source == f"web:petition:{campaign.slug}"


def test_no_consent_record_when_box_unticked(campaign, sign):
    sign(campaign)
    assert count(Consent) == 0


@pytest.mark.parametrize("first, second", [
    ("Maria.Silva@gmail.com", "mariasilva+news@googlemail.com"),
    ("ravi@example.org", "RAVI+petition@Example.ORG"),
])
@pytest.mark.usefixtures("celery_worker")
def test_signing_again_is_answered_the_same_and_stores_nothing(client, campaign, sign, mail_sink,
                                                               first, second):
    first_response = sign(campaign, email=first)
    [message] = mail_sink.wait_for(first)
    client.post(urlsplit(confirm_link(message)).path,
                data={"csrf_token": csrf_token(client.get(urlsplit(confirm_link(message)).path)
                                               .get_data(as_text=True))})
    db.session.execute(Signature.__table__.update().values(last_emailed_at=None))
    db.session.commit()

    second_response = sign(campaign, email=second, first_name="Impostor")
    assert second_response.status_code == first_response.status_code == 303
    assert second_response.headers["Location"] == first_response.headers["Location"]
    assert count(Signature) == 1 and count(Supporter) == 1
    fresh()
    assert db.session.scalar(select(Supporter.first_name)) == "Rosa"  # nobody renames anyone

    # The mailbox on record hears about it; the second spelling reaches the same mailbox.
    latest = mail_sink.wait_for(first, count=2)[0]
    assert "already signed" in latest.subject.lower()


def test_repeated_signing_does_not_mail_bomb(campaign, sign):
    for _ in range(5):
        assert sign(campaign, email="target@example.org").status_code == 303
    fresh()
    assert db.session.scalar(select(func.count()).select_from(OutgoingEmail)) == 1


@pytest.mark.parametrize("field, value, message", [
    ("first_name", "", "Enter your first name."),
    ("first_name", "x" * 51, "Field cannot be longer than 50 characters."),
    ("first_name", "http://spam.example", "Please enter a name, not a web address."),
    ("last_name", "buy-pills.com", "Please enter a name, not a web address."),
    ("first_name", "=HYPERLINK(1)", "A name cannot start with = + - or @."),
    ("last_name", "@SUM(A1)", "A name cannot start with = + - or @."),
    ("last_name", "-2+3", "A name cannot start with = + - or @."),
    ("email", "not-an-email", "Please enter a valid email address."),
    ("email", "", "Enter your email address."),
    ("country", "XX", "Please choose a country from the list."),
    ("country", "", "Choose your country."),
    ("comment", "y" * 501, "Field cannot be longer than 500 characters."),
])
def test_invalid_input_is_explained_and_nothing_is_stored(campaign, sign, field, value, message):
    response = sign(campaign, **{field: value})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert message in page
    assert 'aria-invalid="true"' in page
    assert count(Signature) == 0 and count(Supporter) == 0 and count(OutgoingEmail) == 0


def test_form_without_csrf_token_is_refused(client, campaign):
    response = client.post(f"/c/{campaign.slug}/sign", data={
        "first_name": "Rosa", "last_name": "Luna", "email": "rosa@example.org", "country": "BD"})
    assert response.status_code == 400
    assert "reload the page" in response.get_data(as_text=True)
    assert count(Signature) == 0


def test_closed_campaign_takes_no_signatures(client, make_campaign, sign):
    from campaigns.petitions.models import CampaignStatus

    closed = make_campaign(status=CampaignStatus.CLOSED)
    page = client.get(f"/c/{closed.slug}").get_data(as_text=True)
    assert "This petition is closed" in page and 'name="email"' not in page
    past_deadline = make_campaign(deadline=(utcnow() - timedelta(days=2)).date())
    token = csrf_token(client.get(f"/c/{make_campaign().slug}").get_data(as_text=True))
    for slug in (closed.slug, past_deadline.slug):
        response = client.post(f"/c/{slug}/sign", data={
            "csrf_token": token, "first_name": "Rosa", "last_name": "Luna",
            "email": "rosa@example.org", "country": "BD"})
        assert response.status_code == 409
    assert count(Signature) == 0


@pytest.mark.usefixtures("celery_worker")
def test_resend_sends_the_link_again_only_for_pending_signatures(client, campaign, sign, mail_sink):
    sign(campaign, email="lea@example.org")
    mail_sink.wait_for("lea@example.org")
    db.session.execute(Signature.__table__.update().values(last_emailed_at=None))
    db.session.commit()
    thanks = client.get(f"/c/{campaign.slug}/thanks").get_data(as_text=True)
    response = client.post(f"/c/{campaign.slug}/resend",
                           data={"csrf_token": csrf_token(thanks), "email": "LEA@example.org"})
    assert response.status_code == 303
    links = [confirm_link(m) for m in mail_sink.wait_for("lea@example.org", count=2)]
    assert len(set(links)) >= 1

    # An address that never signed gets the same answer and no email.
    response = client.post(f"/c/{campaign.slug}/resend",
                           data={"csrf_token": csrf_token(thanks), "email": "nobody@example.org"})
    assert response.status_code == 303
    assert count(OutgoingEmail) == 2


def test_expired_and_damaged_links(app, client, campaign, sign):
    from campaigns.signatures.operations import confirmation_token

    sign(campaign)
    fresh()
    signature = db.session.scalars(select(Signature)).one()
    token = confirmation_token(signature)
    assert client.get(f"/sign/confirm/{token[:-3]}xyz").status_code == 404
    app.config["CONFIRMATION_MAX_AGE"] = -1
    try:
        response = client.get(f"/sign/confirm/{token}")
    finally:
        app.config["CONFIRMATION_MAX_AGE"] = 14 * 24 * 3600
    assert response.status_code == 410
    assert "expired" in response.get_data(as_text=True)


def test_canonical_email():
    assert canonical_email("J.Doe+news@GoogleMail.com") == "jdoe@gmail.com"
    assert canonical_email("j.doe+x@Example.ORG") == "j.doe@example.org"
    assert canonical_email("plain@example.org") == "plain@example.org"
