"""During a surge each process reuses what signing reads of a campaign (its status,
deadline and proof-of-work switch) for CAMPAIGN_SIGN_SNAPSHOT_SECONDS: a change made in
the same process counts at once, one made by another process within that interval."""
from __future__ import annotations

import pytest
from sqlalchemy import update

from campaigns.core.db import db
from campaigns.petitions import operations
from campaigns.petitions.models import Campaign, CampaignStatus
from tests.helpers import csrf_token, wait_until

SIGNER = {"first_name": "Ines", "last_name": "Costa", "country": "PT"}


@pytest.fixture
def snapshot(app):
    def turn_on(seconds: float) -> None:
        app.config["CAMPAIGN_SIGN_SNAPSHOT_SECONDS"] = seconds
        operations.forget_campaigns_to_sign()

    yield turn_on
    app.config["CAMPAIGN_SIGN_SNAPSHOT_SECONDS"] = 0.0
    operations.forget_campaigns_to_sign()


def sign(client, slug: str, n: int) -> int:
    return client.post(f"/api/v1/campaigns/{slug}/signatures",
                       json={**SIGNER, "email": f"ines{n}@example.org"}).status_code


def test_closing_a_campaign_here_stops_signatures_at_once(client, campaign, snapshot):
    snapshot(60)
    token = csrf_token(client.get(f"/c/{campaign.slug}").get_data(as_text=True))
    assert sign(client, campaign.slug, 1) == 202
    campaign.status = CampaignStatus.CLOSED
    db.session.commit()
    assert sign(client, campaign.slug, 2) == 409
    page = client.post(f"/c/{campaign.slug}/sign",
                       data={**SIGNER, "email": "ines3@example.org", "csrf_token": token})
    assert page.status_code == 409 and campaign.title in page.get_data(as_text=True)


def test_a_new_campaign_is_signable_at_once_after_a_404(client, make_campaign, snapshot):
    snapshot(60)
    assert sign(client, "launched-later", 1) == 404
    make_campaign(slug="launched-later")
    assert sign(client, "launched-later", 2) == 202


def test_a_campaign_closed_by_another_process_refuses_within_the_interval(app, client, campaign,
                                                                           snapshot):
    snapshot(0.5)
    assert sign(client, campaign.slug, 1) == 202
    # another process: its own connection, nothing this process's session hears of
    with db.engine.begin() as connection:
        connection.execute(update(Campaign).where(Campaign.id == campaign.id)
                           .values(status=CampaignStatus.CLOSED))
    assert sign(client, campaign.slug, 2) == 202  # as this process last saw it
    attempts = iter(range(3, 1000))
    wait_until(lambda: sign(client, campaign.slug, next(attempts)) == 409, timeout=10,
               message="the closed campaign to refuse signatures")
