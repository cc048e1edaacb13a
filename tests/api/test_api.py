"""The JSON API v1, through HTTP, as partners and embeds use it."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from campaigns.core.db import db
from campaigns.petitions.models import CampaignStatus
from campaigns.signatures.models import Signature, SignatureState
from campaigns.signatures.tasks import flush_signature_counts
from campaigns.supporters.models import Supporter
from tests.conftest import fresh
from tests.helpers import process_intake, wait_until

VALID = {"first_name": "Ines", "last_name": "Costa", "email": "ines@example.org", "country": "PT"}


def signatures() -> int:
    fresh()
    return db.session.scalar(select(func.count()).select_from(Signature))


def test_lists_live_campaigns_only(client, make_campaign):
    live = make_campaign(slug="live-one", title="Pay the workers", goal=500)
    make_campaign(slug="a-draft", status=CampaignStatus.DRAFT)
    make_campaign(slug="closed-one", status=CampaignStatus.CLOSED)
    response = client.get("/api/v1/campaigns")
    assert response.status_code == 200 and response.is_json
    [item] = response.get_json()["campaigns"]
    assert item["slug"] == "live-one" and item["title"] == "Pay the workers"
    assert item["status"] == "live" and item["goal"] == 500 and item["signature_count"] == 0
    assert item["url"] == "http://threadline.test/c/live-one"
    assert item["summary"] == live.summary
    assert item["targets"] == [{"slug": "brand-live-one", "name": "Brand of live-one", "kind": "brand"}]


def test_campaign_detail_and_json_404(client, make_campaign):
    make_campaign(slug="detail")
    make_campaign(slug="hidden", status=CampaignStatus.DRAFT)
    assert client.get("/api/v1/campaigns/detail").get_json()["slug"] == "detail"
    for slug in ("nope", "hidden"):
        response = client.get(f"/api/v1/campaigns/{slug}")
        assert response.status_code == 404
        assert response.is_json and "error" in response.get_json()


def test_sign_through_the_api_sends_the_same_confirmation(client, campaign, celery_worker, mail_sink):
    response = client.post(f"/api/v1/campaigns/{campaign.slug}/signatures",
                           json={**VALID, "public": True, "consent_updates": False})
    assert response.status_code == 202
    assert response.get_json() == {"status": "pending_confirmation"}
    wait_until(signatures, message="the worker to record the signature")
    signature = db.session.scalars(select(Signature)).one()
    assert signature.state == SignatureState.PENDING and signature.public is True
    assert signature.source == "api"
    [message] = mail_sink.wait_for("ines@example.org")
    assert "/sign/confirm/" in message.text
    flush_signature_counts()
    assert client.get(f"/api/v1/campaigns/{campaign.slug}").get_json()["signature_count"] == 0


def test_signing_twice_answers_the_same(client, campaign):
    url = f"/api/v1/campaigns/{campaign.slug}/signatures"
    first = client.post(url, json=VALID)
    second = client.post(url, json={**VALID, "email": "INES+again@example.org"})
    assert first.status_code == second.status_code == 202
    assert first.get_json() == second.get_json()
    process_intake()
    assert signatures() == 1


@pytest.mark.parametrize("payload, field", [
    ({**VALID, "email": "nope"}, "email"),
    ({**VALID, "first_name": ""}, "first_name"),
    ({k: v for k, v in VALID.items() if k != "last_name"}, "last_name"),
    ({**VALID, "country": "ZZ"}, "country"),
    ({**VALID, "first_name": "www.spam.example"}, "first_name"),
    ({**VALID, "last_name": "=cmd|' /C calc'!A0"}, "last_name"),
    ({**VALID, "first_name": 42}, "first_name"),
    ({**VALID, "public": "yes"}, "public"),
    ({**VALID, "comment": "x" * 501}, "comment"),
    ({**VALID, "status": "confirmed"}, "_unknown"),
])
def test_invalid_signature_is_422_with_field_errors_and_stores_nothing(client, campaign, payload, field):
    response = client.post(f"/api/v1/campaigns/{campaign.slug}/signatures", json=payload)
    assert response.status_code == 422
    body = response.get_json()
    assert field in body["errors"] and all(isinstance(m, str) for m in body["errors"][field])
    assert signatures() == 0
    assert db.session.scalar(select(func.count()).select_from(Supporter)) == 0


@pytest.mark.parametrize("body, content_type", [
    ("not json", "application/json"),
    ("[1, 2]", "application/json"),
    ("first_name=Ines", "application/x-www-form-urlencoded"),
])
def test_a_body_that_is_not_a_json_object_is_422(client, campaign, body, content_type):
    response = client.post(f"/api/v1/campaigns/{campaign.slug}/signatures", data=body,
                           content_type=content_type)
    assert response.status_code == 422
    assert "_body" in response.get_json()["errors"]


def test_closed_and_unknown_campaigns(client, make_campaign):
    closed = make_campaign(status=CampaignStatus.CLOSED)
    response = client.post(f"/api/v1/campaigns/{closed.slug}/signatures", json=VALID)
    assert response.status_code == 409 and "error" in response.get_json()
    response = client.post("/api/v1/campaigns/nope/signatures", json=VALID)
    assert response.status_code == 404 and response.is_json
    assert signatures() == 0


def test_errors_under_api_are_json(app, client, campaign):
    assert client.get("/api/v1/nothing-here").get_json()["error"]
    response = client.delete(f"/api/v1/campaigns/{campaign.slug}")
    assert response.status_code == 405 and response.is_json
    response = client.post(f"/api/v1/campaigns/{campaign.slug}/signatures",
                           data="x" * (app.config["MAX_CONTENT_LENGTH"] + 1),
                           content_type="application/json")
    assert response.status_code == 413 and response.is_json


def test_unexpected_error_is_json_500_without_internals(app, client, campaign, monkeypatch):
    from campaigns.signatures import operations

    def explode(*args, **kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(operations, "take_signature", explode)
    app.config["PROPAGATE_EXCEPTIONS"] = False
    try:
        response = client.post(f"/api/v1/campaigns/{campaign.slug}/signatures", json=VALID)
    finally:
        app.config["PROPAGATE_EXCEPTIONS"] = None
    assert response.status_code == 500 and response.is_json
    assert "secret" not in response.get_data(as_text=True)
    assert signatures() == 0
