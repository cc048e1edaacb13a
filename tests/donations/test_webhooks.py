"""Stripe's webhook: only Stripe, only recently, each event once, in any order.

The bodies are built here and signed the way Stripe signs them (HMAC-SHA256 of
"timestamp.body" with the endpoint's secret), so every refusal rule can be exercised.
"""
from __future__ import annotations

import json
import threading
import time
import uuid

import pytest
import requests
from sqlalchemy import func, select

from campaigns.core.db import db
from campaigns.core.mail import OutgoingEmail
from campaigns.donations.models import Donation, DonationState, StripeEvent
from tests.conftest import fresh
from tests.donations.conftest import WEBHOOK_SECRET, signed

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(autouse=True)
def webhook_secret(app):
    saved = app.config.get("STRIPE_WEBHOOK_SECRET")
    app.config["STRIPE_WEBHOOK_SECRET"] = WEBHOOK_SECRET
    yield
    app.config["STRIPE_WEBHOOK_SECRET"] = saved


@pytest.fixture
def pending_donation(campaign):
    """A one-off gift whose PaymentIntent Stripe has not reported on yet."""
    key = uuid.uuid4().hex
    donation = Donation(campaign_id=campaign.id, amount=1000, currency="eur",
                        email=f"donor-{key[:8]}@example.org", name="Rosa Luna",
                        idempotency_key=key, stripe_payment_intent_id=f"pi_{key[:14]}")
    db.session.add(donation)
    db.session.commit()
    return donation


def intent_event(donation: Donation, event_type: str = "payment_intent.succeeded", **fields) -> dict:
    return {
        "id": f"evt_{uuid.uuid4().hex[:14]}", "object": "event", "type": event_type,
        "created": int(time.time()),
        "data": {"object": {"id": donation.stripe_payment_intent_id, "object": "payment_intent",
                            "amount": donation.amount, "currency": "eur",
                            "status": "succeeded", "invoice": None,
                            "metadata": {"threadline_attempt": donation.idempotency_key,
                                         "campaign": "x"}, **fields}},
    }


def refund_event(donation: Donation, amount_refunded: int) -> dict:
    return {
        "id": f"evt_{uuid.uuid4().hex[:14]}", "object": "event", "type": "charge.refunded",
        "created": int(time.time()),
        "data": {"object": {"id": f"ch_{uuid.uuid4().hex[:14]}", "object": "charge",
                            "amount": donation.amount, "amount_refunded": amount_refunded,
                            "refunded": amount_refunded >= donation.amount,
                            "payment_intent": donation.stripe_payment_intent_id,
                            "metadata": {}}},
    }


def post(client, body: str, headers: dict):
    return client.post("/stripe/webhook", data=body, headers=headers)


def state_of(donation: Donation) -> DonationState:
    fresh()
    return db.session.get(Donation, donation.id).state


def receipts(donation: Donation) -> int:
    fresh()
    return db.session.scalar(select(func.count()).select_from(OutgoingEmail)
                             .where(OutgoingEmail.kind == "donation_receipt",
                                    OutgoingEmail.to_address == donation.email))


def recorded(body: str) -> int:
    """How often the event in this body was recorded (late localstripe events from other
    tests may arrive meanwhile, so only this event is counted)."""
    fresh()
    return db.session.scalar(select(func.count()).select_from(StripeEvent)
                             .where(StripeEvent.event_id == json.loads(body)["id"]))


def assert_refused(response, donation, body):
    assert response.status_code == 400
    assert state_of(donation) == DonationState.PENDING
    assert recorded(body) == 0
    assert receipts(donation) == 0


def test_genuine_event_is_applied(client, pending_donation):
    response = post(client, *signed(intent_event(pending_donation)))
    assert response.status_code == 200
    assert response.json == {"received": True, "duplicate": False}
    assert state_of(pending_donation) == DonationState.SUCCEEDED
    assert receipts(pending_donation) == 1


def test_missing_signature_is_refused(client, pending_donation):
    body, _ = signed(intent_event(pending_donation))
    assert_refused(post(client, body, {"Content-Type": "application/json"}), pending_donation, body)


def test_forged_signature_is_refused(client, pending_donation):
    body, _ = signed(intent_event(pending_donation))
    headers = {"Stripe-Signature": f"t={int(time.time())},v1={'0' * 64}"}
    assert_refused(post(client, body, headers), pending_donation, body)
    assert_refused(post(client, body, {"Stripe-Signature": "garbage"}), pending_donation, body)


def test_wrong_secret_is_refused(client, pending_donation):
    body, headers = signed(intent_event(pending_donation), secret="whsec_wrong")
    assert_refused(post(client, body, headers), pending_donation, body)


def test_tampered_body_is_refused(client, pending_donation):
    body, headers = signed(intent_event(pending_donation))
    tampered = body.replace('"amount": 1000', '"amount": 1')
    assert tampered != body
    assert_refused(post(client, tampered, headers), pending_donation, body)


def test_replay_older_than_five_minutes_is_refused(client, pending_donation):
    old = int(time.time()) - 301
    body, headers = signed(intent_event(pending_donation), timestamp=old)
    assert_refused(post(client, body, headers), pending_donation, body)


def test_timestamp_from_the_future_is_refused(client, pending_donation):
    future = int(time.time()) + 301
    body, headers = signed(intent_event(pending_donation), timestamp=future)
    assert_refused(post(client, body, headers), pending_donation, body)


def test_timestamps_within_five_minutes_are_accepted(client, pending_donation):
    late = int(time.time()) - 200
    assert post(client, *signed(intent_event(pending_donation), timestamp=late)).status_code == 200
    assert state_of(pending_donation) == DonationState.SUCCEEDED


def test_same_event_five_times_in_a_row_counts_once(client, pending_donation, celery_worker, mail_sink):
    body, headers = signed(intent_event(pending_donation))
    answers = [post(client, body, headers) for _ in range(5)]
    assert [a.status_code for a in answers] == [200] * 5
    assert [a.json["duplicate"] for a in answers] == [False, True, True, True, True]
    assert state_of(pending_donation) == DonationState.SUCCEEDED
    assert recorded(body) == 1
    assert receipts(pending_donation) == 1
    assert len(mail_sink.wait_for(pending_donation.email)) == 1


def test_same_event_five_times_at_once_counts_once(live_server, pending_donation, celery_worker,
                                                   mail_sink):
    body, headers = signed(intent_event(pending_donation))
    start = threading.Barrier(5)
    answers: list[int] = []

    def deliver():
        start.wait()
        answers.append(requests.post(f"{live_server}/stripe/webhook", data=body,
                                     headers=headers, timeout=30).status_code)

    threads = [threading.Thread(target=deliver) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert answers == [200] * 5
    assert state_of(pending_donation) == DonationState.SUCCEEDED
    fresh()
    assert db.session.scalar(select(func.count()).select_from(Donation)
                             .where(Donation.campaign_id == pending_donation.campaign_id)) == 1
    assert recorded(body) == 1
    assert receipts(pending_donation) == 1
    assert len(mail_sink.wait_for(pending_donation.email)) == 1


def test_refund_before_success_ends_refunded(client, pending_donation):
    assert post(client, *signed(refund_event(pending_donation, 1000))).status_code == 200
    assert state_of(pending_donation) == DonationState.REFUNDED
    assert post(client, *signed(intent_event(pending_donation))).status_code == 200
    fresh()
    donation = db.session.get(Donation, pending_donation.id)
    assert donation.state == DonationState.REFUNDED
    assert donation.amount_refunded == 1000
    assert donation.net_amount == 0
    assert receipts(pending_donation) == 0


def test_partial_refund_keeps_the_gift_paid_with_the_refund_recorded(client, pending_donation):
    post(client, *signed(intent_event(pending_donation)))
    post(client, *signed(refund_event(pending_donation, 400)))
    fresh()
    donation = db.session.get(Donation, pending_donation.id)
    assert (donation.state, donation.amount_refunded, donation.net_amount) == \
        (DonationState.SUCCEEDED, 400, 600)
    post(client, *signed(refund_event(pending_donation, 1000)))
    assert state_of(pending_donation) == DonationState.REFUNDED


def test_late_failure_never_undoes_success(client, pending_donation):
    post(client, *signed(intent_event(pending_donation)))
    failed = intent_event(pending_donation, "payment_intent.payment_failed", status="requires_payment_method",
                          last_payment_error={"message": "Your card was declined."})
    assert post(client, *signed(failed)).status_code == 200
    assert state_of(pending_donation) == DonationState.SUCCEEDED


def test_event_for_an_attempt_not_committed_yet_is_sent_again(client, pending_donation):
    event = intent_event(pending_donation)
    event["data"]["object"]["id"] = "pi_unknown"
    event["data"]["object"]["metadata"]["threadline_attempt"] = "not-committed-yet"
    body, headers = signed(event)
    assert post(client, body, headers).status_code == 503
    assert recorded(body) == 0  # so Stripe's next delivery is handled


def test_events_that_are_not_ours_are_acknowledged_and_ignored(client, pending_donation):
    event = intent_event(pending_donation)
    event["data"]["object"].update(id="pi_other_system", metadata={})
    assert post(client, *signed(event)).status_code == 200
    other = {"id": "evt_unhandled", "object": "event", "type": "customer.created",
             "created": int(time.time()), "data": {"object": {"id": "cus_1"}}}
    assert post(client, *signed(other)).status_code == 200
    assert state_of(pending_donation) == DonationState.PENDING


def test_body_that_is_not_an_event_is_refused(client):
    assert post(client, *signed("[1, 2, 3]")).status_code == 400
    assert post(client, *signed(json.dumps({"id": "evt_1"}))).status_code == 400
