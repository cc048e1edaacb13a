"""A real localstripe (the Stripe emulator) for the donation tests.

It is started once per session on a free loopback port, exactly as `flask embedded`
starts it, and sends its signed webhooks to the suite's app served over real HTTP
(``live_server``). Nothing about Stripe is mocked.
"""
from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
import stripe

from campaigns.donations.emulator import register_webhook
from tests.helpers import csrf_token, free_port

WEBHOOK_SECRET = "whsec_threadline_tests"
VISA = "4242424242424242"
#: declined when charged (attaching it works): localstripe's and Stripe's "charge fails"
DECLINED = "4000000000000341"


class LocalStripe:
    """The emulator, and what a browser's Stripe.js would ask of it."""

    def __init__(self, api_base: str, publishable_key: str) -> None:
        self.api_base = api_base
        self.publishable_key = publishable_key

    def get(self, path: str) -> dict:
        response = requests.get(f"{self.api_base}/v1/{path}", auth=("sk_test_localstripe", ""), timeout=5)
        response.raise_for_status()
        return response.json()

    def confirm_card_setup(self, client_secret: str, number: str) -> str:
        """What localstripe's Stripe.js confirmCardSetup does: returns the payment method id."""
        setup_id = client_secret.split("_secret_")[0]
        response = requests.post(
            f"{self.api_base}/v1/setup_intents/{setup_id}/confirm",
            data=json.dumps({"key": self.publishable_key, "use_stripe_sdk": True,
                             "client_secret": client_secret,
                             "payment_method_data": {
                                 "type": "card",
                                 "card": {"number": number, "exp_month": "12", "exp_year": "2034",
                                          "cvc": "123"},
                                 "billing_details": {"name": "Rosa Luna"}}}),
            timeout=5,
        )
        response.raise_for_status()
        return response.json()["payment_method"]


@pytest.fixture(scope="session")
def localstripe(app, live_server, tmp_path_factory):
    log_path = tmp_path_factory.mktemp("localstripe") / "localstripe.log"
    root = Path(__file__).resolve().parents[2]
    for _ in range(3):  # a free port can be taken before the emulator binds it
        port = free_port()
        api_base = f"http://127.0.0.1:{port}"
        with open(log_path, "a") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "campaigns.donations.emulator", "--port", str(port)],
                cwd=root, stdout=log, stderr=subprocess.STDOUT)
        try:
            register_webhook(api_base, f"{live_server}/stripe/webhook", WEBHOOK_SECRET, timeout=15)
            break
        except requests.RequestException:
            process.terminate()
            process.wait(10)
    else:
        pytest.fail(f"localstripe did not start; see {log_path}:\n{log_path.read_text()[-2000:]}")
    saved = {key: app.config.get(key) for key in
             ("STRIPE_API_BASE", "STRIPE_JS_URL", "STRIPE_WEBHOOK_SECRET", "STRIPE_SECRET_KEY")}
    app.config.update(STRIPE_API_BASE=api_base, STRIPE_JS_URL=f"{api_base}/js.stripe.com/v3/",
                      STRIPE_WEBHOOK_SECRET=WEBHOOK_SECRET, STRIPE_SECRET_KEY=None)
    yield LocalStripe(api_base, app.config["STRIPE_PUBLISHABLE_KEY"])
    app.config.update(saved)
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()


@pytest.fixture
def donate(client, localstripe, celery_worker):
    """Give through the donate page as donate.js does; returns (HTTP status, JSON answer)."""

    def do_donate(campaign, amount: str = "1000", frequency: str = "once", card: str = VISA,
                  email: str = "rosa@example.org", **fields):
        page = client.get(f"/c/{campaign.slug}/donate")
        html = page.get_data(as_text=True)
        token = csrf_token(html)
        attempt = html.split('name="attempt" type="hidden" value="', 1)[1].split('"', 1)[0]
        setup = client.post(f"/c/{campaign.slug}/donate/card-setup", data={"csrf_token": token})
        assert setup.status_code == 200, setup.get_data(as_text=True)
        payment_method = localstripe.confirm_card_setup(setup.json["client_secret"], card)
        data = {"csrf_token": token, "attempt": attempt, "amount": amount, "frequency": frequency,
                "name": "Rosa Luna", "email": email, "payment_method": payment_method, **fields}
        response = client.post(f"/c/{campaign.slug}/donate", data=data)
        return response.status_code, response.json

    return do_donate


def signed(payload: dict | str, secret: str = WEBHOOK_SECRET, timestamp: int | None = None) -> tuple[str, dict]:
    """A webhook body and the headers Stripe would send with it."""
    body = payload if isinstance(payload, str) else json.dumps(payload)
    header = stripe.WebhookSignature.generate_signature_header(
        body, secret, timestamp=int(time.time()) if timestamp is None else timestamp)
    return body, {"Stripe-Signature": header, "Content-Type": "application/json"}
