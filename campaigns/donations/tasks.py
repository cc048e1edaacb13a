"""Background work on donations: catching up with Stripe when a webhook went missing."""
from __future__ import annotations

import logging
from datetime import timedelta

import stripe
from celery import shared_task
from sqlalchemy import select

from campaigns.core.db import db, utcnow
from campaigns.donations import operations, stripe_api
from campaigns.donations.models import Donation, DonationState

log = logging.getLogger(__name__)

#: a payment still pending after this long has probably lost its webhook
QUIET_FOR = timedelta(minutes=10)
#: older attempts are abandoned forms, not lost webhooks
LOOK_BACK = timedelta(days=2)


@shared_task(ignore_result=True)
def reconcile_pending_donations(limit: int = 200) -> int:
    """Ask Stripe how pending one-off payments ended; returns how many were settled.

    Webhooks are the normal path; this catches the ones lost to an outage, and payments
    the donor authenticated with their bank after the page had its answer. Applying the
    answer goes through the same one-way state machine, so a webhook arriving afterwards
    changes nothing.
    """
    now = utcnow()
    donation_ids = db.session.scalars(
        select(Donation.id)
        .where(Donation.state == DonationState.PENDING,
               Donation.stripe_payment_intent_id.is_not(None),
               Donation.created_at < now - QUIET_FOR,
               Donation.created_at > now - LOOK_BACK)
        .order_by(Donation.id)
        .limit(limit)
    ).all()
    db.session.rollback()
    settled = 0
    for donation_id in donation_ids:
        donation = db.session.get(Donation, donation_id)
        try:
            intent = stripe_api.client().v1.payment_intents.retrieve(donation.stripe_payment_intent_id)
        except stripe.StripeError as exc:
            log.warning("donation %s: Stripe did not answer (%s); trying later", donation_id, exc)
            db.session.rollback()
            break
        intent = stripe_api.as_dict(intent)
        if intent.get("status") == "succeeded":
            operations.record_payment_succeeded(donation)
            settled += 1
        elif intent.get("status") in ("requires_payment_method", "canceled"):
            operations.record_payment_failed(donation, intent)
            settled += 1
        db.session.commit()
    return settled
