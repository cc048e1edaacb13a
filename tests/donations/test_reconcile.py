"""The periodic catch-up with Stripe for payments whose webhook never came."""
from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
import requests
from sqlalchemy import func, select

from campaigns.core.db import db, utcnow
from campaigns.core.mail import OutgoingEmail
from campaigns.donations.models import Donation, DonationState, StripeEvent
from campaigns.donations.tasks import reconcile_pending_donations
from tests.conftest import fresh
from tests.helpers import wait_until

pytestmark = pytest.mark.timeout(60)


def stripe_payment(localstripe, card: str) -> dict:
    """A PaymentIntent made at Stripe whose webhook names no donation of ours."""
    response = requests.post(f"{localstripe.api_base}/v1/payment_intents", auth=("sk_test_localstripe", ""),
                             data={"amount": 1500, "currency": "eur", "payment_method": card,
                                   "confirm": "false"}, timeout=5)
    response.raise_for_status()
    intent = response.json()
    requests.post(f"{localstripe.api_base}/v1/payment_intents/{intent['id']}/confirm",
                  auth=("sk_test_localstripe", ""), timeout=5)
    return intent


def webhook_seen(event_type: str, intent_id: str):
    def check():
        fresh()
        return db.session.scalar(select(func.count()).select_from(StripeEvent)
                                 .where(StripeEvent.type == event_type,
                                        StripeEvent.object_id == intent_id)) > 0
    return check


def test_pending_payment_whose_webhook_was_lost_is_settled_once(campaign, localstripe, celery_worker):
    intent = stripe_payment(localstripe, "pm_card_visa")
    wait_until(webhook_seen("payment_intent.succeeded", intent["id"]), message="the webhook")
    # the webhook came before our row existed, as if lost: only the catch-up can settle it
    donation = Donation(campaign_id=campaign.id, amount=1500, currency="eur", email="late@example.org",
                        name="Late Webhook", idempotency_key=uuid.uuid4().hex,
                        stripe_payment_intent_id=intent["id"],
                        created_at=utcnow() - timedelta(minutes=20))
    db.session.add(donation)
    db.session.commit()

    assert reconcile_pending_donations() == 1
    assert reconcile_pending_donations() == 0
    fresh()
    assert db.session.get(Donation, donation.id).state == DonationState.SUCCEEDED
    assert db.session.scalar(select(func.count()).select_from(OutgoingEmail)
                             .where(OutgoingEmail.to_address == "late@example.org")) == 1


def test_recent_pending_payments_are_left_to_their_webhook(campaign, localstripe):
    donation = Donation(campaign_id=campaign.id, amount=1500, currency="eur", email="new@example.org",
                        name="Just Now", idempotency_key=uuid.uuid4().hex,
                        stripe_payment_intent_id="pi_not_asked_about")
    db.session.add(donation)
    db.session.commit()
    assert reconcile_pending_donations() == 0
