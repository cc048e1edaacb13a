"""Every state-changing route refuses a request without a CSRF token, except the few
documented exemptions; forged proxy headers and extra form fields change nothing."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from campaigns.core.db import db

#: routes that take no CSRF token, and why (README, "Security")
DOCUMENTED_EXEMPTIONS = {
    "api.create_signature",  # the JSON API: no cookies are read or set, nothing to forge
    "stripe_webhooks.stripe_webhook",  # Stripe signs its requests (Stripe-Signature)
    "privacy.unsubscribe",  # RFC 8058 one-click: mail clients POST without cookies
    "actions.bounce",  # bounce reports from the mail server: a shared secret, no cookies
    "inbound.receive_mail",  # inbound mail: a mail service POSTs it, with INBOUND_MAIL_SECRET
}
from werkzeug.routing import IntegerConverter


def state_changing_rules(app):
    for rule in app.url_map.iter_rules():
        for method in sorted(rule.methods & {"POST", "PUT", "PATCH", "DELETE"}):
            yield rule, method


def build(app, rule) -> str:
    values = {name: 1 if isinstance(rule._converters[name], IntegerConverter) else "x"
              for name in rule.arguments}
    return app.url_map.bind("localhost").build(rule.endpoint, values)


def test_the_exemptions_are_exactly_the_documented_ones(app, client):
    refused, accepted = [], []
    for rule, method in state_changing_rules(app):
        response = client.open(build(app, rule), method=method, data={})
        body = response.get_data(as_text=True)
        if response.status_code == 400 and ("expired or was sent from another site" in body
                                            or "form expired" in body):
            refused.append(rule.endpoint)
        else:
            accepted.append(rule.endpoint)
    assert refused, "no state-changing route found"
    assert set(accepted) == DOCUMENTED_EXEMPTIONS, sorted(accepted)


def test_signed_in_admins_are_held_to_the_token_too(app, client, login, make_campaigner):
    login(make_campaigner("admin"))
    for rule, method in state_changing_rules(app):
        if rule.endpoint in DOCUMENTED_EXEMPTIONS:
            continue
        response = client.open(build(app, rule), method=method, data={})
        assert response.status_code == 400, f"{method} {rule.rule} -> {response.status_code}"


def test_a_forged_forwarded_for_header_does_not_change_the_rate_limit_key(app, client, campaign):
    """With no trusted proxy configured, X-Forwarded-For is ignored: a flood cannot
    spread itself over made-up addresses."""
    from campaigns.signatures.models import Signature, SignatureState
    from tests.helpers import csrf_token, process_intake

    token = csrf_token(client.get(f"/c/{campaign.slug}").get_data(as_text=True))
    app.config["SIGN_RATE_LIMIT"] = "2/minute"
    try:
        for i in range(4):
            response = client.post(
                f"/c/{campaign.slug}/sign",
                data={"csrf_token": token, "first_name": "Flo", "last_name": "Od",
                      "email": f"spoof{i}@example.org", "country": "DE"},
                headers={"X-Forwarded-For": f"198.51.100.{i}"})
            assert response.status_code == 303
    finally:
        app.config["SIGN_RATE_LIMIT"] = "10000/minute"
    process_intake()
    # The test's process and the suite's worker sign the intake side by side, so the
    # signatures' ids need not follow the order of the requests: read them by address.
    states = {s.supporter.email: s.state for s in db.session.scalars(select(Signature))}
    assert states == {"spoof0@example.org": SignatureState.PENDING,
                      "spoof1@example.org": SignatureState.PENDING,
                      "spoof2@example.org": SignatureState.FRAUDULENT,
                      "spoof3@example.org": SignatureState.FRAUDULENT}


def test_extra_form_fields_cannot_set_protected_attributes(client, campaign):
    from campaigns.signatures.models import Signature, SignatureState
    from tests.helpers import csrf_token, process_intake

    page = client.get(f"/c/{campaign.slug}").get_data(as_text=True)
    client.post(f"/c/{campaign.slug}/sign", data={
        "csrf_token": csrf_token(page), "first_name": "Eve", "last_name": "Extra",
        "email": "eve@example.org", "country": "DE",
        "state": "confirmed", "confirmed_at": "2020-01-01", "campaign_id": "999",
        "fraud_reason": "", "signature_count": "1000000", "public": "y"})
    process_intake()
    signature = db.session.scalars(select(Signature)).one()
    assert signature.state == SignatureState.PENDING and signature.confirmed_at is None
    assert signature.campaign_id == campaign.id
    assert signature.campaign.signature_count == 0
