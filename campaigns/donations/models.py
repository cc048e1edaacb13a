"""Gifts, monthly gifts and the Stripe events already handled.

Both stateful models name their states in one enum and their allowed moves right here,
so that a reader finds every rule of the donation lifecycle in this file.
"""
from __future__ import annotations

import enum
from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from campaigns.core.db import NEVER_REUSE_IDS, db, enum_column, utcnow
from campaigns.petitions.models import Campaign


class Frequency(enum.StrEnum):
    ONCE = "once"
    MONTHLY = "monthly"

    @property
    def label(self) -> str:
        return str(FREQUENCY_LABELS[self])


FREQUENCY_LABELS = {Frequency.ONCE: _l("One-off"), Frequency.MONTHLY: _l("Monthly")}


class DonationState(enum.StrEnum):
    #: the payment was asked for; Stripe has not said how it went
    PENDING = "pending"
    FAILED = "failed"
    SUCCEEDED = "succeeded"
    #: paid, then refunded in full (partial refunds keep SUCCEEDED with amount_refunded)
    REFUNDED = "refunded"

    @property
    def label(self) -> str:
        return str(DONATION_STATE_LABELS[self])


DONATION_STATE_LABELS = {
    DonationState.PENDING: _l("Pending"),
    DonationState.FAILED: _l("Failed"),
    DonationState.SUCCEEDED: _l("Paid"),
    DonationState.REFUNDED: _l("Refunded"),
}
#: a donation only ever moves forward in this order, whatever order Stripe's events
#: arrive in: a late "failed" never undoes "succeeded", a late "succeeded" never undoes
#: "refunded" (a failed payment may still succeed when the donor tries again)
DONATION_ORDER = [DonationState.PENDING, DonationState.FAILED, DonationState.SUCCEEDED,
                  DonationState.REFUNDED]
#: donations whose money came in (less any refund): totals, progress bars, exports
RECEIVED_STATES = frozenset({DonationState.SUCCEEDED, DonationState.REFUNDED})


def states_before(state: DonationState) -> frozenset[DonationState]:
    """The states a donation may move to ``state`` from."""
    return frozenset(DONATION_ORDER[:DONATION_ORDER.index(state)])


class GiftState(enum.StrEnum):
    #: the subscription exists, its first payment has not gone through yet
    INCOMPLETE = "incomplete"
    ACTIVE = "active"
    #: a monthly payment failed; Stripe tries again
    PAST_DUE = "past_due"
    #: the first payment never went through
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def label(self) -> str:
        return str(GIFT_STATE_LABELS[self])


GIFT_STATE_LABELS = {
    GiftState.INCOMPLETE: _l("Starting"),
    GiftState.ACTIVE: _l("Active"),
    GiftState.PAST_DUE: _l("Payment overdue"),
    GiftState.FAILED: _l("Never started"),
    GiftState.CANCELLED: _l("Cancelled"),
}
#: a monthly gift in one of these states is over for good
ENDED_GIFT_STATES = frozenset({GiftState.FAILED, GiftState.CANCELLED})
#: a monthly gift the donor can still change or cancel
RUNNING_GIFT_STATES = frozenset({GiftState.INCOMPLETE, GiftState.ACTIVE, GiftState.PAST_DUE})
#: Stripe's subscription statuses, in our words
STRIPE_SUBSCRIPTION_STATES = {
    "incomplete": GiftState.INCOMPLETE,
    "trialing": GiftState.ACTIVE,
    "active": GiftState.ACTIVE,
    "past_due": GiftState.PAST_DUE,
    "unpaid": GiftState.PAST_DUE,
    "paused": GiftState.PAST_DUE,
    "incomplete_expired": GiftState.FAILED,
    "canceled": GiftState.CANCELLED,
}


class RecurringGift(db.Model):
    """A monthly gift: one Stripe subscription; each month's payment is a Donation."""

    __tablename__ = "recurring_gift"

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int | None] = mapped_column(
        ForeignKey("campaign.id", ondelete="SET NULL"), index=True)
    #: per month, in the currency's smallest unit (cents)
    amount: Mapped[int]
    #: ISO code, lower case as Stripe writes it ("eur")
    currency: Mapped[str] = mapped_column(String(3))
    email: Mapped[str] = mapped_column(String(320))
    name: Mapped[str] = mapped_column(String(200), default="")
    state: Mapped[GiftState] = enum_column(GiftState, default=GiftState.INCOMPLETE, index=True)
    #: the key sent with the Stripe calls that created it, stored before the first call
    idempotency_key: Mapped[str] = mapped_column(String(80), unique=True)
    stripe_customer_id: Mapped[str | None] = mapped_column(String(255))
    stripe_subscription_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    stripe_plan_id: Mapped[str | None] = mapped_column(String(255))
    #: Stripe's timestamp of the newest subscription event applied (older ones are ignored)
    last_event_at: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    cancelled_at: Mapped[datetime | None]

    campaign: Mapped[Campaign | None] = relationship()


class Donation(db.Model):
    """One payment: a one-off gift, or one month of a monthly gift."""

    __tablename__ = "donation"
    __table_args__ = (
        Index("ix_donation_campaign_state", "campaign_id", "state"),
        NEVER_REUSE_IDS,
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaign.id", ondelete="SET NULL"))
    #: the monthly gift this payment belongs to; None for a one-off gift
    gift_id: Mapped[int | None] = mapped_column(
        ForeignKey("recurring_gift.id", ondelete="SET NULL"), index=True)
    frequency: Mapped[Frequency] = enum_column(Frequency, default=Frequency.ONCE)
    #: in the currency's smallest unit (cents), as computed by the server
    amount: Mapped[int]
    #: ISO code, lower case as Stripe writes it ("eur")
    currency: Mapped[str] = mapped_column(String(3))
    email: Mapped[str] = mapped_column(String(320))
    name: Mapped[str] = mapped_column(String(200), default="")
    state: Mapped[DonationState] = enum_column(DonationState, default=DonationState.PENDING)
    #: refunded so far, in cents (a refund is recorded from Stripe's webhook)
    amount_refunded: Mapped[int] = mapped_column(default=0)
    #: one-off gifts: the key sent with the PaymentIntent call, stored before the call
    idempotency_key: Mapped[str | None] = mapped_column(String(80), unique=True)
    stripe_payment_intent_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    #: monthly gifts: the invoice this payment settled
    stripe_invoice_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    #: Stripe's words for the last failure, shown to campaigners
    failure_message: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    succeeded_at: Mapped[datetime | None]
    refunded_at: Mapped[datetime | None]
    #: when the receipt was queued (at most one per donation)
    receipt_queued_at: Mapped[datetime | None]

    campaign: Mapped[Campaign | None] = relationship()
    gift: Mapped[RecurringGift | None] = relationship()

    @property
    def net_amount(self) -> int:
        return self.amount - self.amount_refunded if self.state in RECEIVED_STATES else 0


class StripeEvent(db.Model):
    """A Stripe webhook event already handled: each event id is acted on once."""

    __tablename__ = "stripe_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Stripe's event id ("evt_...")
    event_id: Mapped[str] = mapped_column(String(255), unique=True)
    type: Mapped[str] = mapped_column(String(100))
    #: the id of the object the event is about ("pi_...", "sub_..."), for tracing
    object_id: Mapped[str | None] = mapped_column(String(255), index=True)
    #: Stripe's timestamp for the event (seconds since the epoch)
    created: Mapped[int]
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
