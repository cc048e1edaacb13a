"""Giving once and monthly against a real localstripe, receipts through a real SMTP sink.

localstripe sends each webhook about a second after the change, once, to the app served
over HTTP; the tests poll for its effects rather than sleeping.
"""
from __future__ import annotations

import re
import uuid

import pytest
from sqlalchemy import func, select

from campaigns.core.db import db
from campaigns.donations.models import (
    Donation,
    DonationState,
    Frequency,
    GiftState,
    RecurringGift,
    StripeEvent,
)
from tests.conftest import fresh
from tests.donations.conftest import DECLINED
from tests.helpers import csrf_token, wait_until

pytestmark = pytest.mark.timeout(60)
MANAGE_LINK = re.compile(r"https?://\S+/donate/monthly/[A-Za-z0-9_.\-]+")


def unique_email() -> str:
    return f"donor-{uuid.uuid4().hex[:12]}@example.org"


def event_recorded(event_type: str, object_id: str):
    """Late webhooks from earlier tests may arrive meanwhile: look for this object's."""
    def check():
        fresh()
        return db.session.scalar(select(func.count()).select_from(StripeEvent)
                                 .where(StripeEvent.type == event_type,
                                        StripeEvent.object_id == object_id)) == 1
    return check


def donations() -> list[Donation]:
    fresh()
    return list(db.session.scalars(select(Donation).order_by(Donation.id)))


def test_one_off_gift_is_charged_the_server_amount_and_receipted_once(
        campaign, donate, localstripe, mail_sink):
    email = unique_email()
    status, body = donate(campaign, amount="1000", email=email)

    assert status == 200, body
    assert body["status"] == "succeeded"
    assert body["redirect"] == f"/c/{campaign.slug}/donate/thanks?monthly=0"
    [donation] = donations()
    assert (donation.state, donation.amount, donation.currency, donation.frequency) == \
        (DonationState.SUCCEEDED, 1000, "eur", Frequency.ONCE)
    assert donation.campaign_id == campaign.id
    intent = localstripe.get(f"payment_intents/{donation.stripe_payment_intent_id}")
    assert intent["amount"] == 1000 and intent["status"] == "succeeded"
    assert intent["metadata"]["campaign"] == campaign.slug
    assert intent["metadata"]["threadline_attempt"] == donation.idempotency_key

    # Stripe's webhook arrives after the answer to the browser: it changes nothing more.
    wait_until(event_recorded("payment_intent.succeeded", donation.stripe_payment_intent_id),
               message="the webhook")
    [receipt] = mail_sink.wait_for(email)
    assert "€10" in receipt.subject
    assert campaign.title in receipt.text
    assert len(donations()) == 1
    assert len(mail_sink.messages(email)) == 1


def test_amounts_come_from_the_form_choices_never_from_the_browser(campaign, donate):
    status, body = donate(campaign, amount="1")  # not one of the presets
    assert status == 422 and "amount" in body["errors"]
    status, body = donate(campaign, amount="other", other_amount="0.50")  # under the minimum
    assert status == 422 and "other_amount" in body["errors"]
    status, body = donate(campaign, amount="other", other_amount="12.50",
                          campaign_id="999", currency="usd")
    assert status == 200 and body["status"] == "succeeded"
    [donation] = donations()
    assert (donation.amount, donation.currency, donation.campaign_id) == (1250, "eur", campaign.id)


def test_declined_card_fails_without_receipt(campaign, donate, mail_sink):
    email = unique_email()
    status, body = donate(campaign, amount="2500", card=DECLINED, email=email)

    assert status == 200
    assert body["status"] == "failed"
    assert "declined" in body["message"].lower()
    assert body["attempt"]  # a fresh key for the next try
    [donation] = donations()
    assert donation.state == DonationState.FAILED
    # localstripe's decline names only the charge: the webhook links the PaymentIntent
    intent_id = wait_until(lambda: donations()[0].stripe_payment_intent_id,
                           message="the failure webhook")
    assert event_recorded("payment_intent.payment_failed", intent_id)()
    assert donations()[0].state == DonationState.FAILED
    assert mail_sink.messages(email) == []


def test_monthly_gift_starts_a_subscription_and_each_paid_invoice_is_receipted(
        campaign, donate, localstripe, mail_sink):
    email = unique_email()
    status, body = donate(campaign, amount="500", frequency="monthly", email=email)

    assert status == 200, body
    assert body["status"] == "succeeded"
    fresh()
    gift = db.session.scalars(select(RecurringGift)).one()
    assert (gift.state, gift.amount, gift.email) == (GiftState.ACTIVE, 500, email)
    subscription = localstripe.get(f"subscriptions/{gift.stripe_subscription_id}")
    assert subscription["status"] == "active"
    assert subscription["plan"]["amount"] == 500 and subscription["plan"]["interval"] == "month"
    assert subscription["metadata"]["campaign"] == campaign.slug

    wait_until(event_recorded("customer.subscription.created", gift.stripe_subscription_id),
               message="subscription created")
    wait_until(event_recorded("invoice.payment_succeeded", subscription["latest_invoice"]),
               message="invoice paid")
    [donation] = donations()
    assert (donation.state, donation.amount, donation.frequency, donation.gift_id) == \
        (DonationState.SUCCEEDED, 500, Frequency.MONTHLY, gift.id)
    assert donation.stripe_invoice_id == subscription["latest_invoice"]
    [receipt] = mail_sink.wait_for(email)
    assert "€5" in receipt.subject
    assert MANAGE_LINK.search(receipt.text)


def test_declined_monthly_gift_never_starts(campaign, donate, localstripe, mail_sink):
    email = unique_email()
    status, body = donate(campaign, amount="500", frequency="monthly", card=DECLINED, email=email)

    assert status == 200
    assert body["status"] == "failed" and "declined" in body["message"].lower()
    fresh()
    gift = db.session.scalars(select(RecurringGift)).one()
    assert gift.state == GiftState.FAILED
    assert localstripe.get(f"subscriptions/{gift.stripe_subscription_id}")["status"] == "canceled"
    wait_until(event_recorded("customer.subscription.deleted", gift.stripe_subscription_id),
               message="subscription deleted")
    fresh()
    assert db.session.get(RecurringGift, gift.id).state == GiftState.FAILED
    assert [d.state for d in donations()] in ([], [DonationState.FAILED])
    assert mail_sink.messages(email) == []


def manage_path(message) -> str:
    link = MANAGE_LINK.search(message.text).group(0)
    return link.split("threadline.test", 1)[1]


def test_monthly_donor_cancels_from_the_link_in_the_receipt(
        client, campaign, donate, localstripe, mail_sink):
    email = unique_email()
    donate(campaign, amount="500", frequency="monthly", email=email)
    path = manage_path(mail_sink.wait_for(email)[0])

    page = client.get(path)
    assert page.status_code == 200
    assert "€5 a month" in page.get_data(as_text=True)
    response = client.post(path + "/cancel", data={"csrf_token": csrf_token(page.get_data(as_text=True))})
    assert response.status_code == 303

    fresh()
    gift = db.session.scalars(select(RecurringGift)).one()
    assert gift.state == GiftState.CANCELLED and gift.cancelled_at is not None
    assert localstripe.get(f"subscriptions/{gift.stripe_subscription_id}")["status"] == "canceled"
    wait_until(event_recorded("customer.subscription.deleted", gift.stripe_subscription_id),
               message="subscription deleted")
    fresh()
    assert db.session.get(RecurringGift, gift.id).state == GiftState.CANCELLED
    assert "has ended" in client.get(path).get_data(as_text=True)
    # cancelling again changes nothing
    page = client.get(path)
    assert "Cancel my monthly gift" not in page.get_data(as_text=True)


def test_monthly_donor_changes_the_amount(client, campaign, donate, localstripe, mail_sink):
    email = unique_email()
    donate(campaign, amount="500", frequency="monthly", email=email)
    path = manage_path(mail_sink.wait_for(email)[0])
    page = client.get(path)
    response = client.post(path + "/amount", data={
        "csrf_token": csrf_token(page.get_data(as_text=True)), "amount": "other", "other_amount": "7"})
    assert response.status_code == 303
    fresh()
    gift = db.session.scalars(select(RecurringGift)).one()
    assert gift.amount == 700 and gift.state == GiftState.ACTIVE
    subscription = localstripe.get(f"subscriptions/{gift.stripe_subscription_id}")
    assert subscription["plan"]["amount"] == 700
    assert "€7 a month" in client.get(path).get_data(as_text=True)


def test_damaged_manage_link_is_refused(client):
    assert client.get("/donate/monthly/not-a-token").status_code == 404
    assert client.post("/donate/monthly/not-a-token/cancel").status_code in (400, 404)


def test_with_stripe_unreachable_the_donate_page_says_so_and_nothing_else_breaks(
        app, client, campaign, localstripe, sign):
    from tests.helpers import free_port

    base = app.config["STRIPE_API_BASE"]
    app.config["STRIPE_API_BASE"] = f"http://127.0.0.1:{free_port()}"
    try:
        page = client.get(f"/c/{campaign.slug}/donate")
        assert page.status_code == 200
        html = page.get_data(as_text=True)
        # the notice is shown by donate.js when Stripe.js cannot be loaded (a browser test
        # checks that); the calls the page makes say so too
        assert '<div class="notice" id="donate-unavailable" role="alert" hidden>' in html
        setup = client.post(f"/c/{campaign.slug}/donate/card-setup", data={"csrf_token": csrf_token(html)})
        assert setup.status_code == 503
        assert setup.json["status"] == "unavailable"
        assert "not available" in setup.json["message"]
        assert client.get(f"/c/{campaign.slug}").status_code == 200
        assert sign(campaign).status_code == 303
        assert client.get(f"/c/{campaign.slug}/thanks").status_code == 200
    finally:
        app.config["STRIPE_API_BASE"] = base


def test_stripe_js_is_allowed_on_the_donate_page_only(client, campaign, localstripe):
    donate_csp = client.get(f"/c/{campaign.slug}/donate").headers["Content-Security-Policy"]
    campaign_csp = client.get(f"/c/{campaign.slug}").headers["Content-Security-Policy"]
    script_src = next(d for d in donate_csp.split("; ") if d.startswith("script-src"))
    assert script_src == f"script-src 'self' {localstripe.api_base}"
    assert localstripe.api_base not in campaign_csp
    assert "unsafe-inline" not in donate_csp


def test_fundraising_progress_bar_shows_money_received(client, make_campaign, donate):
    campaign = make_campaign(fundraising_target=100_000)
    donate(campaign, amount="2500")
    html = client.get(f"/c/{campaign.slug}").get_data(as_text=True)
    assert '<progress max="100000" value="2500"' in html
    assert "€25" in html
    other = make_campaign()
    assert "raised of" not in client.get(f"/c/{other.slug}").get_data(as_text=True)
