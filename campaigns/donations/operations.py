"""The rules of giving: amounts, one-off and monthly gifts, Stripe's webhooks, receipts.

Stripe is the source of truth for money. A donation moves only forward (see
DONATION_ORDER in models.py), so events may arrive late, twice or out of order and the
result is the same. Each webhook event id is acted on once (``stripe_event``), and a
receipt is queued only by the change that made a donation succeed, so each successful
payment gets exactly one receipt.

Calling Stripe is the one place where an operation commits before the request ends:
the row carrying the idempotency key is committed before the call, so a repeated
request finds it, and no database lock is held while Stripe answers.
"""
from __future__ import annotations

import logging
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any, Callable

import stripe
from flask import current_app
from flask_babel import format_currency
from flask_babel import gettext as _
from sqlalchemy import extract, func, select, update

from campaigns.core.db import db, insert_ignoring_conflicts, utcnow
from campaigns.core.mail import queue_email
from campaigns.core.tokens import BadSignature, SignatureExpired, make_token, read_token
from campaigns.core.urls import external_url
from campaigns.donations import stripe_api
from campaigns.donations.models import (
    ENDED_GIFT_STATES,
    RECEIVED_STATES,
    STRIPE_SUBSCRIPTION_STATES,
    Donation,
    DonationState,
    Frequency,
    GiftState,
    RecurringGift,
    StripeEvent,
    states_before,
)
from campaigns.petitions.models import Campaign

log = logging.getLogger(__name__)

# bandit B105: a salt label, not a secret
MANAGE_TOKEN_PURPOSE = "manage-monthly-gift"  # nosec B105
#: a link to manage a monthly gift stays valid this long; every receipt carries a new one
MANAGE_LINK_MAX_AGE = 400 * 24 * 3600
ATTEMPT_KEY = re.compile(r"^[A-Za-z0-9_-]{16,64}$")


class DonationsUnavailable(Exception):
    """Stripe cannot be reached (or answered with an error of its own): try again later."""


class AttemptInProgress(Exception):
    """This attempt's key was used already (a double click, a resent form): nothing is charged twice."""


class RetryLater(Exception):
    """A webhook names a gift this database does not have yet: Stripe should send it again."""


class InvalidLink(Exception):
    """The link to manage a monthly gift is damaged, expired or belongs to no gift."""


# --- amounts ------------------------------------------------------------------------------

def currency() -> str:
    return current_app.config["DONATION_CURRENCY"]


def amount_limits() -> tuple[int, int]:
    return current_app.config["DONATION_MIN_AMOUNT"], current_app.config["DONATION_MAX_AMOUNT"]


def presets(campaign: Campaign) -> list[int]:
    """Suggested amounts (cents): the campaign's own, or the deployment's."""
    low, high = amount_limits()
    chosen = campaign.donation_presets or current_app.config["DONATION_PRESETS"]
    return [amount for amount in chosen if low <= amount <= high]


def format_money(amount: int, code: str | None = None) -> str:
    """12.50 EUR as the reader's locale writes it ("€12.50"); whole amounts without cents."""
    value = Decimal(amount) / 100
    code = (code or currency()).upper()
    if value == value.to_integral_value():
        return format_currency(value, code, format="¤#,##0", currency_digits=False)
    return format_currency(value, code)


def new_attempt_key() -> str:
    """The idempotency key for one press of "Give": stored before Stripe is called."""
    return secrets.token_urlsafe(24)


# --- giving -------------------------------------------------------------------------------

@dataclass(frozen=True)
class GiftRequest:
    """What a donor chose, validated; the amount is the server's, never the browser's."""

    amount: int
    frequency: Frequency
    email: str
    name: str
    #: the payment method Stripe.js created in the browser ("pm_...")
    payment_method: str
    #: the idempotency key rendered into the form
    attempt: str


@dataclass(frozen=True)
class GiftOutcome:
    #: "succeeded", "processing", "requires_action" or "failed"
    status: str
    #: for "requires_action": the PaymentIntent the browser must authenticate
    client_secret: str | None = None
    message: str | None = None


def start_card_setup() -> str:
    """A SetupIntent's client secret, for a Stripe.js that collects the card this way.

    localstripe's Stripe.js has no Payment Element: it turns the card into a payment
    method by confirming a SetupIntent. The gift is then made as with the real one.
    """
    try:
        intent = stripe_api.client().v1.setup_intents.create(
            params={"usage": "off_session", "payment_method_types": ["card"]})
    except stripe.StripeError as exc:
        raise DonationsUnavailable(str(exc)) from exc
    return intent.client_secret


def give(campaign: Campaign, request: GiftRequest) -> GiftOutcome:
    """Make a one-off or monthly gift with the payment method the browser created."""
    if request.frequency == Frequency.MONTHLY:
        return _give_monthly(campaign, request)
    return _give_once(campaign, request)


def _metadata(campaign: Campaign, key: str, **extra: str) -> dict[str, str]:
    return {"threadline_attempt": key, "campaign_id": str(campaign.id),
            "campaign": campaign.slug, **extra}


def _claim_attempt(model: type, campaign: Campaign, request: GiftRequest, **values: Any):
    """The row for this attempt, inserted and committed before Stripe is called."""
    row_id = insert_ignoring_conflicts(
        model,
        dict(campaign_id=campaign.id, amount=request.amount, currency=currency(),
             email=request.email, name=request.name, idempotency_key=request.attempt,
             created_at=utcnow(), **values),
        ["idempotency_key"],
    )
    if row_id is None:  # pressed twice, or sent again by the browser
        raise AttemptInProgress(request.attempt)
    db.session.commit()
    return db.session.get(model, row_id)


def _give_once(campaign: Campaign, request: GiftRequest) -> GiftOutcome:
    donation = _claim_attempt(Donation, campaign, request, frequency=Frequency.ONCE)
    params = {
        "amount": donation.amount,
        "currency": donation.currency,
        "payment_method": request.payment_method,
        "payment_method_types": ["card"],
        "confirm": True,
        "metadata": _metadata(campaign, donation.idempotency_key, donation_id=str(donation.id)),
    }
    if not current_app.config["STRIPE_EMULATED"]:  # the emulator refuses what it doesn't know
        # where a bank's authentication page sends the donor back to
        params["return_url"] = external_url("donations.thanks", slug=campaign.slug, monthly=0)
    try:
        intent = stripe_api.client().v1.payment_intents.create(
            params=params, options={"idempotency_key": f"{donation.idempotency_key}-payment"})
    except stripe.CardError as exc:
        error = exc.error
        intent_id = getattr(error, "payment_intent", None) if error else None
        if isinstance(intent_id, dict):
            intent_id = intent_id.get("id")
        if intent_id:
            donation.stripe_payment_intent_id = intent_id
        message = exc.user_message or _("Your card was declined.")
        _advance(donation, DonationState.FAILED, failure_message=message[:500])
        return GiftOutcome("failed", message=message)
    except (stripe.APIConnectionError, stripe.APIError, stripe.AuthenticationError,
            stripe.RateLimitError) as exc:
        raise DonationsUnavailable(str(exc)) from exc
    except stripe.InvalidRequestError as exc:
        log.warning("donation %s: Stripe refused the payment: %s", donation.id, exc)
        _advance(donation, DonationState.FAILED, failure_message=str(exc)[:500])
        return GiftOutcome("failed", message=_("The payment could not be made. Please try another card."))
    donation.stripe_payment_intent_id = intent.id
    db.session.flush()
    return _outcome_of_intent(donation, stripe_api.as_dict(intent))


def _outcome_of_intent(donation: Donation, intent: dict[str, Any]) -> GiftOutcome:
    status = intent.get("status")
    if status == "succeeded":
        record_payment_succeeded(donation)
        return GiftOutcome("succeeded")
    if status in ("requires_action", "requires_source_action"):
        return GiftOutcome("requires_action", client_secret=intent.get("client_secret"))
    if status == "processing":
        return GiftOutcome("processing")
    message = (intent.get("last_payment_error") or {}).get("message") or _("Your card was declined.")
    _advance(donation, DonationState.FAILED, failure_message=message[:500])
    return GiftOutcome("failed", message=message)


def monthly_plan(amount: int) -> str:
    """The id of the Stripe Plan for this monthly amount, created the first time."""
    code = currency()
    plan_id = f"threadline-monthly-{code}-{amount}"
    plans = stripe_api.client().v1.plans
    try:
        plans.retrieve(plan_id)
        return plan_id
    except stripe.InvalidRequestError as exc:
        if exc.http_status != 404:
            raise
    try:
        plans.create(params={
            "id": plan_id, "amount": amount, "currency": code, "interval": "month",
            "product": {"name": f"{current_app.config['SITE_NAME']}: "
                                f"{format_money(amount, code)} a month"},
        }, options={"idempotency_key": f"plan-{plan_id}"})
    except stripe.InvalidRequestError as exc:
        if exc.http_status not in (400, 409):  # created meanwhile by another request
            raise
    return plan_id


def _give_monthly(campaign: Campaign, request: GiftRequest) -> GiftOutcome:
    gift = _claim_attempt(RecurringGift, campaign, request)
    key = gift.idempotency_key
    api = stripe_api.client().v1
    try:
        customer = api.customers.create(
            params={"email": gift.email, "name": gift.name or gift.email,
                    "payment_method": request.payment_method,
                    "invoice_settings": {"default_payment_method": request.payment_method},
                    "metadata": _metadata(campaign, key, gift_id=str(gift.id))},
            options={"idempotency_key": f"{key}-customer"},
        )
        gift.stripe_customer_id = customer.id
        gift.stripe_plan_id = monthly_plan(gift.amount)
        subscription = api.subscriptions.create(
            params={"customer": customer.id, "items": [{"plan": gift.stripe_plan_id}],
                    "payment_behavior": "allow_incomplete",
                    "metadata": _metadata(campaign, key, gift_id=str(gift.id)),
                    "expand": ["latest_invoice"]},
            options={"idempotency_key": f"{key}-subscription"},
        )
    except stripe.CardError as exc:
        message = exc.user_message or _("Your card was declined.")
        _set_gift_state(gift, GiftState.FAILED)
        return GiftOutcome("failed", message=message)
    except (stripe.APIConnectionError, stripe.APIError, stripe.AuthenticationError,
            stripe.RateLimitError) as exc:
        raise DonationsUnavailable(str(exc)) from exc
    except stripe.InvalidRequestError as exc:
        log.warning("monthly gift %s: Stripe refused: %s", gift.id, exc)
        _set_gift_state(gift, GiftState.FAILED)
        return GiftOutcome("failed", message=_("The payment could not be made. Please try another card."))
    gift.stripe_subscription_id = subscription.id
    db.session.flush()
    subscription = stripe_api.as_dict(subscription)
    invoice = subscription.get("latest_invoice")
    if isinstance(invoice, dict) and invoice.get("status") == "paid":
        record_invoice_paid(invoice)
    state = STRIPE_SUBSCRIPTION_STATES.get(subscription.get("status"), GiftState.INCOMPLETE)
    if state == GiftState.ACTIVE:
        _set_gift_state(gift, GiftState.ACTIVE)
        return GiftOutcome("succeeded")
    return _first_invoice_outcome(gift, invoice)


def _first_invoice_outcome(gift: RecurringGift, invoice: Any) -> GiftOutcome:
    """A subscription whose first payment did not go through: authenticate, or give up."""
    intent_id = invoice.get("payment_intent") if isinstance(invoice, dict) else None
    intent: dict[str, Any] = {}
    if isinstance(intent_id, str):
        try:
            intent = stripe_api.as_dict(stripe_api.client().v1.payment_intents.retrieve(intent_id))
        except stripe.StripeError as exc:
            log.warning("monthly gift %s: could not read its first payment: %s", gift.id, exc)
    if intent.get("status") == "requires_action":
        return GiftOutcome("requires_action", client_secret=intent.get("client_secret"))
    message = (intent.get("last_payment_error") or {}).get("message") or _("Your card was declined.")
    try:
        stripe_api.client().v1.subscriptions.cancel(gift.stripe_subscription_id)
    except stripe.StripeError as exc:  # it expires on its own at Stripe
        log.info("monthly gift %s: incomplete subscription not cancelled: %s", gift.id, exc)
    _set_gift_state(gift, GiftState.FAILED)
    return GiftOutcome("failed", message=message)


# --- the state machine --------------------------------------------------------------------

def _advance(donation: Donation, state: DonationState, **values: Any) -> bool:
    """Move the donation forward to ``state``; False if it is already there or beyond.

    One conditional UPDATE, so two events racing to make the same change make it once.
    """
    changed = db.session.execute(
        update(Donation)
        .where(Donation.id == donation.id, Donation.state.in_(states_before(state)))
        .values(state=state, **values)
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.refresh(donation)
    return bool(changed)


def record_payment_succeeded(donation: Donation) -> None:
    """The money came in: mark the donation paid and queue its receipt (once)."""
    if _advance(donation, DonationState.SUCCEEDED, succeeded_at=utcnow()):
        send_receipt(donation)
    elif donation.succeeded_at is None:  # refunded before we heard it succeeded
        donation.succeeded_at = utcnow()
        db.session.flush()


def record_refund(donation: Donation, amount_refunded: int) -> None:
    """Stripe refunded some or all of the donation (the total refunded so far)."""
    amount_refunded = min(max(amount_refunded, donation.amount_refunded), donation.amount)
    db.session.execute(
        update(Donation)
        .where(Donation.id == donation.id, Donation.amount_refunded < amount_refunded)
        .values(amount_refunded=amount_refunded)
        .execution_options(synchronize_session=False)
    )
    db.session.refresh(donation)
    if donation.amount_refunded >= donation.amount:
        _advance(donation, DonationState.REFUNDED, refunded_at=utcnow())


def _set_gift_state(gift: RecurringGift, state: GiftState, event_created: int | None = None) -> bool:
    """Change a monthly gift's state; ended gifts stay ended, older events are ignored."""
    conditions = [RecurringGift.id == gift.id, RecurringGift.state.not_in(ENDED_GIFT_STATES)]
    values: dict[str, Any] = {"state": state}
    if event_created is not None:
        conditions.append(RecurringGift.last_event_at <= event_created)
        values["last_event_at"] = event_created
    if state == GiftState.CANCELLED:
        values["cancelled_at"] = utcnow()
    changed = db.session.execute(
        update(RecurringGift).where(*conditions).values(**values)
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.refresh(gift)
    return bool(changed)


# --- receipts and the link to manage a monthly gift ---------------------------------------

def manage_token(gift: RecurringGift) -> str:
    return make_token(MANAGE_TOKEN_PURPOSE, [gift.id, gift.idempotency_key[:8]])


def gift_from_token(token: str) -> RecurringGift:
    try:
        gift_id, check = read_token(MANAGE_TOKEN_PURPOSE, token, max_age=MANAGE_LINK_MAX_AGE)
    except (SignatureExpired, BadSignature, ValueError, TypeError):
        raise InvalidLink() from None
    gift = db.session.get(RecurringGift, gift_id)
    if gift is None or gift.idempotency_key[:8] != check:
        raise InvalidLink()
    return gift


def send_receipt(donation: Donation) -> None:
    """Queue the receipt for a successful payment; at most one per donation."""
    claimed = db.session.execute(
        update(Donation)
        .where(Donation.id == donation.id, Donation.receipt_queued_at.is_(None))
        .values(receipt_queued_at=utcnow())
        .execution_options(synchronize_session=False)
    ).rowcount
    if not claimed:
        return
    db.session.refresh(donation)
    campaign, gift = donation.campaign, donation.gift
    queue_email(
        "donation_receipt", donation.email, "donations/receipt",
        name=donation.name, amount=format_money(donation.amount, donation.currency),
        monthly=gift is not None, campaign=campaign,
        date=(donation.succeeded_at or utcnow()),
        reference=donation.stripe_invoice_id or donation.stripe_payment_intent_id or str(donation.id),
        manage_url=external_url("donations.manage", token=manage_token(gift)) if gift else None,
        campaign_url=external_url("petitions.show", slug=campaign.slug) if campaign else None,
    )


# --- what donors do with their monthly gift -----------------------------------------------

def cancel_gift(gift: RecurringGift) -> bool:
    """Stop a monthly gift at Stripe and here. False if it had already ended."""
    if gift.state in ENDED_GIFT_STATES:
        return False
    if gift.stripe_subscription_id:
        try:
            stripe_api.client().v1.subscriptions.cancel(gift.stripe_subscription_id)
        except stripe.InvalidRequestError as exc:
            if exc.http_status != 404:  # 404: already gone at Stripe
                raise DonationsUnavailable(str(exc)) from exc
        except stripe.StripeError as exc:
            raise DonationsUnavailable(str(exc)) from exc
    return _set_gift_state(gift, GiftState.CANCELLED)


def change_gift_amount(gift: RecurringGift, amount: int) -> None:
    """Give ``amount`` a month from the next payment on."""
    if gift.state in ENDED_GIFT_STATES or amount == gift.amount:
        return
    api = stripe_api.client().v1
    try:
        plan_id = monthly_plan(amount)
        subscription = api.subscriptions.retrieve(gift.stripe_subscription_id)
        item_id = stripe_api.as_dict(subscription)["items"]["data"][0]["id"]
        api.subscriptions.update(gift.stripe_subscription_id,
                                 params={"items": [{"id": item_id, "plan": plan_id}]})
    except stripe.StripeError as exc:
        raise DonationsUnavailable(str(exc)) from exc
    gift.amount = amount
    gift.stripe_plan_id = plan_id
    db.session.flush()


# --- webhooks -----------------------------------------------------------------------------

def handle_event(event: dict[str, Any]) -> bool:
    """Act on a verified Stripe event once. False for an event id already handled.

    The event id is recorded in the same transaction as its effects: a failure (or a
    RetryLater) rolls both back, so Stripe's next delivery is handled afresh.
    """
    obj = event["data"].get("object")
    object_id = obj.get("id") if isinstance(obj, dict) else None
    new = insert_ignoring_conflicts(
        StripeEvent,
        dict(event_id=event["id"], type=str(event.get("type", ""))[:100],
             object_id=str(object_id)[:255] if object_id else None,
             created=int(event.get("created") or 0), received_at=utcnow()),
        ["event_id"],
    )
    if new is None:
        return False
    handler = EVENT_HANDLERS.get(event.get("type", ""))
    if handler is not None and isinstance(obj, dict):
        handler(obj, int(event.get("created") or 0))
    return True


def _donation_for_intent(intent: dict[str, Any]) -> Donation | None:
    """Our one-off donation for a PaymentIntent; None for payments that are not ours."""
    donation = db.session.scalars(
        select(Donation).filter_by(stripe_payment_intent_id=intent["id"])).first()
    if donation is not None:
        return donation
    metadata = intent.get("metadata") or {}
    key = metadata.get("threadline_attempt")
    if not key or metadata.get("gift_id"):
        return None  # not ours, or a monthly gift's (handled through its invoices)
    donation = db.session.scalars(select(Donation).filter_by(idempotency_key=key)).first()
    if donation is None:
        raise RetryLater(f"payment {intent['id']} names an attempt not committed yet")
    if donation.stripe_payment_intent_id is None:
        donation.stripe_payment_intent_id = intent["id"]
        db.session.flush()
    return donation


def _on_payment_succeeded(intent: dict[str, Any], created: int) -> None:
    donation = _donation_for_intent(intent)
    if donation is not None:
        record_payment_succeeded(donation)


def record_payment_failed(donation: Donation, intent: dict[str, Any]) -> None:
    """The payment did not go through (a later attempt may still succeed)."""
    message = (intent.get("last_payment_error") or {}).get("message") or ""
    _advance(donation, DonationState.FAILED, failure_message=message[:500] or None)


def _on_payment_failed(intent: dict[str, Any], created: int) -> None:
    donation = _donation_for_intent(intent)
    if donation is not None:
        record_payment_failed(donation, intent)


def _on_charge_refunded(charge: dict[str, Any], created: int) -> None:
    donation = None
    if charge.get("payment_intent"):
        intent = charge["payment_intent"]
        intent = intent if isinstance(intent, dict) else {"id": intent, "metadata": charge.get("metadata")}
        try:
            donation = _donation_for_intent(intent)
        except RetryLater:
            donation = None
    if donation is None and isinstance(charge.get("invoice"), str):
        donation = db.session.scalars(
            select(Donation).filter_by(stripe_invoice_id=charge["invoice"])).first()
    if donation is None:
        log.info("refund for charge %s: no donation of ours", charge.get("id"))
        return
    record_refund(donation, int(charge.get("amount_refunded") or 0))


def _subscription_id_of(invoice: dict[str, Any]) -> str | None:
    details = ((invoice.get("parent") or {}).get("subscription_details") or {})
    subscription = details.get("subscription") or invoice.get("subscription")
    if isinstance(subscription, dict):
        subscription = subscription.get("id")
    return subscription


def _gift_for_subscription(subscription_id: str | None, metadata: dict | None = None) -> RecurringGift | None:
    if not subscription_id:
        return None
    gift = db.session.scalars(
        select(RecurringGift).filter_by(stripe_subscription_id=subscription_id)).first()
    if gift is None and (metadata or {}).get("threadline_attempt"):
        gift = db.session.scalars(
            select(RecurringGift).filter_by(idempotency_key=metadata["threadline_attempt"])).first()
        if gift is None:
            raise RetryLater(f"subscription {subscription_id} names an attempt not committed yet")
        gift.stripe_subscription_id = subscription_id
        db.session.flush()
    return gift


def _donation_for_invoice(gift: RecurringGift, invoice: dict[str, Any], amount: int) -> Donation:
    """The donation for one month's invoice, created the first time it is heard of."""
    created_at = datetime.fromtimestamp(int(invoice.get("created") or 0) or utcnow().timestamp(),
                                        tz=timezone.utc)
    insert_ignoring_conflicts(
        Donation,
        dict(campaign_id=gift.campaign_id, gift_id=gift.id, frequency=Frequency.MONTHLY,
             amount=amount, currency=(invoice.get("currency") or gift.currency).lower(),
             email=gift.email, name=gift.name, stripe_invoice_id=invoice["id"],
             state=DonationState.PENDING, created_at=created_at),
        ["stripe_invoice_id"],
    )
    return db.session.scalars(select(Donation).filter_by(stripe_invoice_id=invoice["id"])).one()


def record_invoice_paid(invoice: dict[str, Any], created: int | None = None) -> None:
    """A month of a monthly gift was paid: one donation per invoice, one receipt."""
    gift = _gift_for_subscription(_subscription_id_of(invoice), invoice.get("metadata"))
    amount = int(invoice.get("amount_paid") or 0)
    if gift is None or amount <= 0:
        return
    donation = _donation_for_invoice(gift, invoice, amount)
    record_payment_succeeded(donation)
    if gift.state == GiftState.INCOMPLETE or gift.state == GiftState.PAST_DUE:
        _set_gift_state(gift, GiftState.ACTIVE, created)


def _on_invoice_paid(invoice: dict[str, Any], created: int) -> None:
    record_invoice_paid(invoice, created)


def _on_invoice_payment_failed(invoice: dict[str, Any], created: int) -> None:
    gift = _gift_for_subscription(_subscription_id_of(invoice), invoice.get("metadata"))
    amount = int(invoice.get("amount_due") or 0)
    if gift is None or amount <= 0:
        return
    donation = _donation_for_invoice(gift, invoice, amount)
    _advance(donation, DonationState.FAILED)
    if gift.state == GiftState.ACTIVE:
        _set_gift_state(gift, GiftState.PAST_DUE, created)


def _on_subscription_changed(subscription: dict[str, Any], created: int) -> None:
    gift = _gift_for_subscription(subscription.get("id"), subscription.get("metadata"))
    state = STRIPE_SUBSCRIPTION_STATES.get(subscription.get("status"))
    if gift is None or state is None:
        return
    if state == GiftState.INCOMPLETE and gift.state != GiftState.INCOMPLETE:
        return  # never back to the beginning
    if gift.state != state:
        _set_gift_state(gift, state, created)


def _on_subscription_deleted(subscription: dict[str, Any], created: int) -> None:
    gift = _gift_for_subscription(subscription.get("id"), subscription.get("metadata"))
    if gift is not None:
        final = GiftState.CANCELLED if gift.state != GiftState.INCOMPLETE else GiftState.FAILED
        _set_gift_state(gift, final)


EVENT_HANDLERS: dict[str, Callable[[dict[str, Any], int], None]] = {
    "payment_intent.succeeded": _on_payment_succeeded,
    "payment_intent.payment_failed": _on_payment_failed,
    "charge.refunded": _on_charge_refunded,
    "invoice.paid": _on_invoice_paid,
    "invoice.payment_succeeded": _on_invoice_paid,
    "invoice.payment_failed": _on_invoice_payment_failed,
    "customer.subscription.created": _on_subscription_changed,
    "customer.subscription.updated": _on_subscription_changed,
    "customer.subscription.deleted": _on_subscription_deleted,
}


# --- what campaigners see -----------------------------------------------------------------

def _net():
    return func.coalesce(func.sum(Donation.amount - Donation.amount_refunded), 0)


def raised_for(campaign: Campaign) -> int:
    """Money received for the campaign, less refunds (cents)."""
    return db.session.scalar(
        select(_net()).where(Donation.campaign_id == campaign.id,
                             Donation.state.in_(RECEIVED_STATES)))


@dataclass(frozen=True)
class DonationFilters:
    campaign_id: int | None = None
    state: DonationState | None = None
    frequency: Frequency | None = None
    #: "YYYY-MM"
    month: str | None = None
    email: str | None = None


def filtered_donations(filters: DonationFilters):
    """The SELECT for the admin list and the CSV export, newest first."""
    query = select(Donation).order_by(Donation.created_at.desc(), Donation.id.desc())
    if filters.campaign_id:
        query = query.where(Donation.campaign_id == filters.campaign_id)
    if filters.state:
        query = query.where(Donation.state == filters.state)
    if filters.frequency:
        query = query.where(Donation.frequency == filters.frequency)
    if filters.month:
        year, month = (int(part) for part in filters.month.split("-"))
        query = query.where(extract("year", Donation.created_at) == year,
                            extract("month", Donation.created_at) == month)
    if filters.email:
        query = query.where(func.lower(Donation.email).contains(filters.email.lower()))
    return query


def totals_per_campaign() -> list[tuple[Campaign | None, int, int]]:
    """(campaign, number of gifts, net amount) for every campaign that received money."""
    rows = db.session.execute(
        select(Donation.campaign_id, func.count(), _net())
        .where(Donation.state.in_(RECEIVED_STATES))
        .group_by(Donation.campaign_id)
        .order_by(_net().desc())
    ).all()
    campaigns = {c.id: c for c in db.session.scalars(
        select(Campaign).where(Campaign.id.in_([r[0] for r in rows if r[0]])))}
    return [(campaigns.get(campaign_id), count, net) for campaign_id, count, net in rows]


def totals_per_month(months: int = 12) -> list[tuple[str, int]]:
    """("YYYY-MM", net amount) for the last ``months`` months, oldest first, gaps as 0."""
    year = extract("year", Donation.created_at)
    month = extract("month", Donation.created_at)
    rows = db.session.execute(
        select(year, month, _net()).where(Donation.state.in_(RECEIVED_STATES))
        .group_by(year, month)
    ).all()
    found = {(int(y), int(m)): int(net) for y, m, net in rows}
    today = utcnow()
    result = []
    for back in range(months - 1, -1, -1):
        y, m = divmod(today.year * 12 + today.month - 1 - back, 12)
        result.append((f"{y:04d}-{m + 1:02d}", found.get((y, m + 1), 0)))
    return result
