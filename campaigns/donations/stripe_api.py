"""The Stripe client and webhook verification, configured from the app's settings.

With no STRIPE_SECRET_KEY the same code talks to localstripe, the local emulator that
`flask embedded` starts: only the base URL and the keys differ.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any
from urllib.parse import urlsplit

import stripe
from flask import current_app

#: webhooks older or newer than this many seconds are refused (replays, forged clocks)
WEBHOOK_TOLERANCE = 300
#: the emulator accepts any key of the right shape
# bandit B105: the emulator accepts any key; this one unlocks nothing real
EMULATOR_SECRET_KEY = "sk_test_localstripe"  # nosec B105
#: seconds to connect to Stripe, then to wait for its answer
TIMEOUT = (3, 20)


class InvalidWebhook(Exception):
    """The webhook is not signed by Stripe with our secret, or not recently."""


def secret_key() -> str:
    return current_app.config.get("STRIPE_SECRET_KEY") or EMULATOR_SECRET_KEY


def webhook_secret() -> str:
    """STRIPE_WEBHOOK_SECRET, or for the emulator one derived from SECRET_KEY."""
    configured = current_app.config.get("STRIPE_WEBHOOK_SECRET")
    if configured:
        return configured
    derived = hmac.new(current_app.config["SECRET_KEY"].encode(), b"threadline:localstripe-webhook",
                       hashlib.sha256).hexdigest()
    return f"whsec_{derived[:40]}"


def client() -> stripe.StripeClient:
    """A client for the configured Stripe (or emulator); one per app and settings."""
    config = current_app.config
    settings = (secret_key(), config["STRIPE_API_BASE"])
    cached = current_app.extensions.get("stripe_client")
    if cached is None or cached[0] != settings:
        stripe_client = stripe.StripeClient(
            settings[0],
            base_addresses={"api": settings[1]},
            # one quick retry: Stripe de-duplicates it by the idempotency key
            max_network_retries=1,
            http_client=stripe.RequestsClient(timeout=TIMEOUT),
        )
        cached = (settings, stripe_client)
        current_app.extensions["stripe_client"] = cached
    return cached[1]


def origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def verify_webhook(payload: bytes, header: str | None, now: float | None = None) -> dict[str, Any]:
    """The event in a webhook body, once its Stripe-Signature is checked.

    Stripe's helper checks the HMAC over the raw body and refuses old timestamps; it
    accepts timestamps in the future, which would let a captured body be replayed
    later, so those are refused here too.
    """
    try:
        stripe.WebhookSignature.verify_header(payload, header, webhook_secret(),
                                              tolerance=WEBHOOK_TOLERANCE)
        # the timestamp the signature covers: the first "t=", as Stripe's helper reads it
        timestamp = int(next(item[2:] for item in header.split(",") if item.startswith("t=")))
    except (stripe.SignatureVerificationError, UnicodeDecodeError, ValueError, StopIteration) as exc:
        raise InvalidWebhook(str(exc)) from None
    if abs((now or time.time()) - timestamp) > WEBHOOK_TOLERANCE:
        raise InvalidWebhook("timestamp outside the tolerance zone")
    try:
        event = json.loads(payload)
    except ValueError:
        raise InvalidWebhook("body is not JSON") from None
    if not isinstance(event, dict) or not isinstance(event.get("id"), str) \
            or not isinstance(event.get("data"), dict):
        raise InvalidWebhook("body is not a Stripe event")
    return event


def as_dict(obj: Any) -> dict[str, Any]:
    """A plain dict from a StripeObject, so API answers and webhooks are handled alike."""
    if isinstance(obj, stripe.StripeObject):
        return obj.to_dict()
    return obj
