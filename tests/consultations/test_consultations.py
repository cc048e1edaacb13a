"""Worker consultation records: recorded through the workspace, gate launch and escalation,
and warn on the dashboard before they expire."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from campaigns.audit.models import AuditEvent
from campaigns.consultations.models import WorkerConsultation
from campaigns.consultations.operations import can_escalate, current_consultation
from campaigns.core.db import db
from campaigns.petitions.models import CampaignStatus
from tests.conftest import fresh
from tests.workspace_helpers import add_consultation, change_status, consultation_form, days, token


@pytest.fixture
def campaigner(make_campaigner, login):
    account = make_campaigner("campaigner")
    assert login(account).status_code == 302
    return account


def post_consultation(client, campaign, **fields):
    path = f"/admin/campaigns/{campaign.slug}/consultations"
    return client.post(path, data={"csrf_token": token(client, path), **consultation_form(**fields)})


def test_recording_a_consultation_lets_the_campaign_go_live(client, campaigner, make_campaign,
                                                            make_campaigner, login):
    campaign = make_campaign(status=CampaignStatus.REVIEW)
    response = post_consultation(client, campaign)
    assert response.status_code == 303
    fresh()
    [record] = db.session.scalars(select(WorkerConsultation)).all()
    assert record.requester_organisation == "Harbor Workers' Union" and record.country == "KH"
    assert record.approved_demands and record.approved_naming_factory and record.approved_timing
    assert record.recorded_by_id == campaigner.id
    assert current_consultation(campaign) == record and can_escalate(campaign)
    [event] = db.session.scalars(select(AuditEvent).filter_by(action="consultation.recorded")).all()
    assert event.subject_id == campaign.id and event.details["valid_until"] == days(60).isoformat()
    page = client.get(f"/admin/campaigns/{campaign.slug}/consultations").get_data(as_text=True)
    assert "Blacklisting by other factories." in page and "Current consultation" in page


def test_the_form_never_asks_for_workers_names(client, campaigner, make_campaign):
    campaign = make_campaign()
    page = client.get(f"/admin/campaigns/{campaign.slug}/consultations").get_data(as_text=True)
    assert "Do not write any worker&#39;s name here" in page or "Do not write any worker's name here" in page
    form = page.split('class="consultation-form"')[1].split("</form>")[0]
    names = set(re.findall(r'name="([^"]+)"', form)) - {"csrf_token"}
    assert names == {"requester_kind", "requester_organisation", "country", "consulted_on",
                     "approved_demands", "approved_naming_factory", "approved_timing",
                     "approval_notes", "retaliation_risks", "valid_until"}


@pytest.mark.parametrize("fields, message", [
    ({"consulted_on": days(1).isoformat()}, "The consultation cannot be in the future."),
    ({"valid_until": days(-10).isoformat(), "consulted_on": days(-2).isoformat()},
     "It cannot end before the consultation took place."),
    ({"approved_demands": None}, "approval of its demands."),
    ({"requester_organisation": ""}, "Name the union or the workers"),
    ({"retaliation_risks": ""}, "Describe the known risks of retaliation"),
    ({"country": "XX"}, "Please choose a country from the list."),
])
def test_invalid_records_are_refused(client, campaigner, make_campaign, fields, message):
    campaign = make_campaign()
    response = post_consultation(client, campaign, **fields)
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    fresh()
    assert db.session.scalar(select(WorkerConsultation.id)) is None


def test_viewers_cannot_read_or_record_consultations(client, make_campaigner, login, make_campaign):
    campaign = make_campaign()
    login(make_campaigner("viewer"))
    assert client.get(f"/admin/campaigns/{campaign.slug}/consultations").status_code == 403


def test_current_consultation_and_can_escalate_follow_the_dates(make_campaign):
    campaign = make_campaign()
    assert current_consultation(campaign) is None and not can_escalate(campaign)
    expired = add_consultation(campaign, valid_days=-1, consulted_days_ago=100)
    assert not can_escalate(campaign)
    assert can_escalate(campaign, today=days(-2))  # it held two days ago
    current = add_consultation(campaign, valid_days=10)
    assert current_consultation(campaign) == current != expired
    assert not can_escalate(campaign, today=days(11))


def test_dashboard_lists_expired_and_soon_expiring_consultations(client, campaigner, make_campaign):
    expired = make_campaign(title="Expired one")
    add_consultation(expired, valid_days=-3, consulted_days_ago=90)
    soon = make_campaign(title="Expiring soon")
    add_consultation(soon, valid_days=10)
    fine = make_campaign(title="Fine for months")
    add_consultation(fine, valid_days=120)
    never = make_campaign(title="Never consulted", status=CampaignStatus.REVIEW)
    draft = make_campaign(title="Just a draft", status=CampaignStatus.DRAFT)
    page = client.get("/admin/").get_data(as_text=True)
    alerts = page.split('id="consultation-alerts-heading"')[1].split("</section>")[0]
    assert "Expired one" in alerts and "expired on" in alerts
    assert "Expiring soon" in alerts and "expires on" in alerts
    assert "Never consulted" in alerts and "no consultation recorded" in alerts
    assert "Fine for months" not in alerts and "Just a draft" not in alerts
    assert alerts.index("Never consulted") < alerts.index("Expired one") < alerts.index("Expiring soon")


def test_an_expired_consultation_blocks_resuming_a_paused_campaign(client, campaigner, make_campaign):
    campaign = make_campaign(status=CampaignStatus.PAUSED)
    add_consultation(campaign, valid_days=-1, consulted_days_ago=30)
    response = change_status(client, campaign.slug, "live")
    assert response.status_code == 409
    post_consultation(client, campaign)
    assert change_status(client, campaign.slug, "live").status_code == 303


def test_escalation_hooks_stop_without_a_current_consultation(make_campaign):
    from campaigns.consultations.operations import EscalationRefused, ensure_can_escalate

    campaign = make_campaign()
    with pytest.raises(EscalationRefused):
        ensure_can_escalate(campaign)
    add_consultation(campaign, valid_days=-1, consulted_days_ago=30)
    with pytest.raises(EscalationRefused):
        ensure_can_escalate(campaign)
    current = add_consultation(campaign, valid_days=5)
    assert ensure_can_escalate(campaign) == current
