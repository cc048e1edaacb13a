"""What campaigners see: the donations list with filters, the CSV export, totals and chart."""
from __future__ import annotations

import csv
import io
import uuid
from datetime import timedelta

import pytest

from campaigns.core.db import db, utcnow
from campaigns.donations.models import Donation, DonationState, Frequency, GiftState, RecurringGift


@pytest.fixture
def gifts(make_campaign):
    """Two campaigns' worth of donations in several states."""
    first = make_campaign(title="Reinstate the Riverside union", fundraising_target=50_000)
    second = make_campaign(title="Safety at Lakeside")
    gift = RecurringGift(campaign_id=second.id, amount=500, currency="eur", email="monthly@example.org",
                         name="Monthly Donor", state=GiftState.ACTIVE, idempotency_key=uuid.uuid4().hex,
                         stripe_subscription_id="sub_admin_test")
    db.session.add(gift)
    db.session.flush()
    now = utcnow()
    rows = [
        Donation(campaign_id=first.id, amount=1000, state=DonationState.SUCCEEDED, name="Rosa Luna",
                 email="rosa@example.org", created_at=now),
        Donation(campaign_id=first.id, amount=2500, state=DonationState.REFUNDED, amount_refunded=2500,
                 name="Refunded Person", email="refund@example.org", created_at=now),
        Donation(campaign_id=first.id, amount=5000, state=DonationState.FAILED, name="Declined Card",
                 email="declined@example.org", failure_message="Your card was declined.", created_at=now),
        Donation(campaign_id=second.id, gift_id=gift.id, frequency=Frequency.MONTHLY, amount=500,
                 state=DonationState.SUCCEEDED, name="=HYPERLINK(\"http://evil\")",
                 email="monthly@example.org", stripe_invoice_id="in_admin_test",
                 created_at=now - timedelta(days=40)),
    ]
    for row in rows:
        row.currency = "eur"
        row.idempotency_key = None if row.gift_id else uuid.uuid4().hex
    db.session.add_all(rows)
    db.session.commit()
    return first, second


def test_the_donations_pages_need_a_signed_in_campaigner(client):
    response = client.get("/admin/donations/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert client.get("/admin/donations/export.csv").status_code == 302


def test_viewer_sees_payments_totals_per_campaign_and_per_month(client, login, make_campaigner, gifts):
    first, second = gifts
    login(make_campaigner("viewer"))
    html = client.get("/admin/donations/").get_data(as_text=True)

    for name in ("Rosa Luna", "Refunded Person", "Declined Card", "Monthly Donor"):
        assert name in html
    assert "Your card was declined." in html
    assert "€25 refunded" in html
    # per campaign: money received less refunds, with the target as a bar
    assert f'data-campaign="{first.slug}"' in html
    assert "€10" in html and '<progress max="50000" value="1000"' in html
    # per month, as a chart of twelve bars and as a table
    assert html.count('<rect class="bar"') == 12
    assert "Donations" in html  # in the workspace menu


def test_filters_narrow_the_list(client, login, make_campaigner, gifts):
    first, second = gifts
    login(make_campaigner("viewer"))
    html = client.get("/admin/donations/?state=refunded").get_data(as_text=True)
    assert "Refunded Person" in html and "Rosa Luna" not in html
    html = client.get(f"/admin/donations/?campaign={second.id}").get_data(as_text=True)
    assert 'data-state="succeeded"' in html and "Rosa Luna" not in html
    html = client.get("/admin/donations/?frequency=monthly").get_data(as_text=True)
    assert "Rosa Luna" not in html
    html = client.get("/admin/donations/?email=ROSA").get_data(as_text=True)
    assert "Rosa Luna" in html and "Declined Card" not in html
    month = utcnow().strftime("%Y-%m")
    html = client.get(f"/admin/donations/?month={month}").get_data(as_text=True)
    assert "Rosa Luna" in html and 'data-state="succeeded"' in html
    assert client.get("/admin/donations/?month=garbage&state=nonsense").status_code == 200


def test_csv_export_follows_the_filters_and_is_safe_in_spreadsheets(client, login, make_campaigner, gifts):
    login(make_campaigner("viewer"))
    response = client.get("/admin/donations/export.csv?frequency=monthly")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert len(rows) == 1
    [row] = rows
    assert (row["kind"], row["state"], row["amount"], row["currency"], row["stripe_invoice"]) == \
        ("monthly", "succeeded", "5.00", "EUR", "in_admin_test")
    assert row["name"].startswith("'=")  # never a formula
    everything = list(csv.DictReader(io.StringIO(
        client.get("/admin/donations/export.csv").get_data(as_text=True))))
    assert len(everything) == 4
    refunded = next(r for r in everything if r["state"] == "refunded")
    assert refunded["refunded"] == "25.00"
