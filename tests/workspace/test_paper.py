"""Paper and offline signatures: recorded in batches, added to the public count at once."""
from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select, update

from campaigns.audit.models import AuditEvent
from campaigns.core.db import db
from campaigns.paper.models import PaperBatch
from campaigns.paper.tasks import reconcile_offline_counts
from campaigns.petitions.models import Campaign
from tests.conftest import fresh


def api_counts(client, campaign) -> tuple[int, int, int]:
    data = client.get(f"/api/v1/campaigns/{campaign.slug}").get_json()
    return data["signature_count"], data["online_count"], data["offline_count"]


def record_batch(submit, campaign, **fields):
    data = {"count": "250", "source": "May Day march, Dhaka",
            "collected_on": (date.today() - timedelta(days=1)).isoformat(), "country": "BD",
            **fields}
    return submit(f"/admin/campaigns/{campaign.slug}/paper",
                  f"/admin/campaigns/{campaign.slug}/paper", data)


def test_a_batch_adds_to_the_public_count_and_the_api(client, login, make_campaigner, org_campaign,
                                                        submit, add_signatures):
    add_signatures(org_campaign, 3)
    assert api_counts(client, org_campaign) == (3, 3, 0)
    login(make_campaigner("campaigner", organisation="Union A"))

    response = record_batch(submit, org_campaign)
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/admin/campaigns/{org_campaign.slug}/paper")
    assert "250 paper signatures added." in client.get(response.headers["Location"]).get_data(as_text=True)

    # No background job needed: the public count includes the batch at once.
    assert api_counts(client, org_campaign) == (253, 3, 250)
    page = client.get(f"/c/{org_campaign.slug}").get_data(as_text=True)
    assert "<strong data-count>253</strong>" in page
    assert '<progress max="400" value="253"' in page  # goal 100, doubled past 253

    # The dashboard shows paper separately.
    dashboard = client.get(f"/admin/campaigns/{org_campaign.slug}/dashboard").get_data(as_text=True)
    assert '<dd data-stat="paper">250</dd>' in dashboard
    assert '<dd data-stat="confirmed">3</dd>' in dashboard
    assert "May Day march, Dhaka" in dashboard

    fresh()
    batch = db.session.scalars(select(PaperBatch)).one()
    assert (batch.count, batch.country, batch.source) == (250, "BD", "May Day march, Dhaka")
    assert db.session.scalars(select(AuditEvent.action).where(
        AuditEvent.action.like("paper_batch.%"))).all() == ["paper_batch.recorded"]

    # A batch recorded by mistake can be removed; the count follows.
    page = client.get(f"/admin/campaigns/{org_campaign.slug}/paper")
    from tests.helpers import csrf_token

    removed = client.post(f"/admin/campaigns/{org_campaign.slug}/paper/{batch.id}/delete",
                          data={"csrf_token": csrf_token(page.get_data(as_text=True))})
    assert removed.status_code == 303
    assert api_counts(client, org_campaign) == (3, 3, 0)
    fresh()
    assert "paper_batch.deleted" in db.session.scalars(select(AuditEvent.action)).all()


@pytest.mark.parametrize("fields, message", [
    ({"count": "0"}, "Enter a number from 1 to 1,000,000."),
    ({"count": "lots"}, "Not a valid integer value."),
    ({"count": ""}, "Enter how many signatures."),
    ({"source": ""}, "Say where they were collected."),
    ({"collected_on": (date.today() + timedelta(days=2)).isoformat()}, "The date cannot be in the future."),
    ({"country": "XX"}, "Please choose a country from the list."),
])
def test_an_invalid_batch_is_refused(client, login, make_campaigner, campaign, submit, fields, message):
    login(make_campaigner("campaigner"))
    response = record_batch(submit, campaign, **fields)
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert api_counts(client, campaign) == (0, 0, 0)


def test_a_batch_without_a_country_counts_as_not_recorded(client, login, make_campaigner, campaign, submit):
    login(make_campaigner("campaigner"))
    assert record_batch(submit, campaign, country="", count="40").status_code == 303
    page = client.get(f"/c/{campaign.slug}/countries").get_data(as_text=True)
    assert "Paper, country not recorded" in page and ">40<" in page


@pytest.mark.parametrize("role, organisation", [("viewer", None), ("campaigner", "Union B")])
def test_only_the_campaigns_own_campaigners_record_batches(client, login, make_campaigner,
                                                           org_campaign, role, organisation):
    login(make_campaigner(role, organisation=organisation))
    assert client.get(f"/admin/campaigns/{org_campaign.slug}/paper").status_code == 403
    from tests.helpers import csrf_token

    token = csrf_token(client.get("/account/two-factor").get_data(as_text=True))
    response = client.post(f"/admin/campaigns/{org_campaign.slug}/paper",
                           data={"csrf_token": token, "count": "5", "source": "x",
                                 "collected_on": date.today().isoformat()})
    assert response.status_code == 403
    assert api_counts(client, org_campaign) == (0, 0, 0)


def test_reconciliation_repairs_the_offline_count(client, login, make_campaigner, campaign, submit):
    login(make_campaigner("campaigner"))
    record_batch(submit, campaign, count="12")
    db.session.execute(update(Campaign).values(offline_count=999))
    db.session.commit()
    assert reconcile_offline_counts() == 1
    assert api_counts(client, campaign) == (12, 0, 12)
    assert reconcile_offline_counts() == 0


def test_reconciliation_runs_from_beat(app):
    entry = app.extensions["celery"].conf.beat_schedule["reconcile-offline-counts"]
    assert entry["task"] == reconcile_offline_counts.name
