"""Bots and floods get the same answer as people, and count for nothing."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from campaigns.core.db import db
from campaigns.core.mail import OutgoingEmail
from campaigns.signatures.models import Signature, SignatureState
from campaigns.signatures.operations import confirm
from campaigns.signatures.tasks import flush_signature_counts, reconcile_signature_counts
from tests.conftest import fresh
from tests.helpers import process_intake


@pytest.fixture
def settings(app):
    """Change settings for one test."""
    saved = {}

    def change(**values):
        for key, value in values.items():
            saved.setdefault(key, app.config[key])
            app.config[key] = value

    yield change
    app.config.update(saved)


def states() -> dict[str, str | None]:
    fresh()
    return {s.supporter.email: (s.state.value, s.fraud_reason)
            for s in db.session.scalars(select(Signature))}


def emails() -> int:
    fresh()
    return db.session.scalar(select(func.count()).select_from(OutgoingEmail))


def test_a_filled_honeypot_is_answered_normally_and_stored_as_fraud(client, campaign, sign):
    human = sign(campaign, email="human@example.org")
    bot = sign(campaign, email="bot@example.org", website="http://spam.example")
    assert bot.status_code == human.status_code == 303
    assert bot.headers["Location"] == human.headers["Location"]
    assert states() == {"human@example.org": ("pending", None),
                        "bot@example.org": ("fraudulent", "honeypot")}
    assert emails() == 1


def test_the_honeypot_is_hidden_from_people(client, campaign):
    page = client.get(f"/c/{campaign.slug}").get_data(as_text=True)
    assert '<div class="hp" aria-hidden="true">' in page
    assert 'name="website"' in page and 'tabindex="-1"' in page


def test_a_form_sent_back_too_fast_or_without_its_timestamp_is_fraud(client, campaign, sign, settings):
    settings(SIGN_MIN_SECONDS=60)
    sign(campaign, email="quick@example.org")
    sign(campaign, email="forged@example.org", started="made-up")
    assert states() == {"quick@example.org": ("fraudulent", "too_fast"),
                        "forged@example.org": ("fraudulent", "too_fast")}


@pytest.mark.parametrize("setting, value, fields, reason", [
    ("BLOCKED_EMAIL_DOMAINS", "*.spam.example,mailinator.com", {"email": "x@bulk.spam.example"}, "blocked:domain"),
    ("BLOCKED_COUNTRIES", "AQ", {"country": "AQ"}, "blocked:country"),
    ("BLOCKED_NETWORKS", "127.0.0.0/8", {}, "blocked:network"),
])
def test_block_lists(campaign, sign, settings, setting, value, fields, reason):
    settings(**{setting: value})
    assert sign(campaign, **fields).status_code == 303
    [(state, why)] = states().values()
    assert (state, why) == ("fraudulent", reason)
    assert emails() == 0


def test_floods_over_the_soft_limits_are_fraud_and_the_hard_limit_is_429(client, campaign, sign, settings):
    settings(SIGN_RATE_LIMIT="3/minute")
    statuses = [sign(campaign, email=f"flood{i}@example.org").status_code for i in range(5)]
    assert statuses == [303] * 5
    found = states()
    assert [found[f"flood{i}@example.org"][0] for i in range(5)] == \
        ["pending"] * 3 + ["fraudulent"] * 2
    assert found["flood4@example.org"][1] == "rate:address"
    assert emails() == 3

    settings(SIGN_RATE_LIMIT="10000/minute", SIGN_DOMAIN_RATE_LIMIT="1/minute")
    sign(campaign, email="a@one-domain.example")
    sign(campaign, email="b@one-domain.example")
    assert states()["b@one-domain.example"] == ("fraudulent", "rate:domain")

    settings(SIGN_HARD_RATE_LIMIT="2/minute")
    api = [client.post(f"/api/v1/campaigns/{campaign.slug}/signatures",
                       json={"first_name": "A", "last_name": "B", "email": f"api{i}@example.org",
                             "country": "DE"}).status_code for i in range(3)]
    assert api == [202, 202, 429]


def test_fraud_is_never_counted_and_a_person_can_still_sign_after_a_flood(campaign, sign, settings):
    settings(BLOCKED_NETWORKS="127.0.0.0/8")
    sign(campaign, email="victim@example.org")  # a flood used her address first
    settings(BLOCKED_NETWORKS="")
    fresh()
    signature = db.session.scalars(select(Signature)).one()
    assert confirm(signature) is False  # fraud cannot be confirmed
    db.session.commit()
    flush_signature_counts()
    reconcile_signature_counts()
    fresh()
    assert signature.campaign.signature_count == 0

    sign(campaign, email="victim@example.org")  # now she signs herself
    assert states() == {"victim@example.org": ("pending", None)}
    assert emails() == 1


def test_suspicious_signers_leave_no_consent(campaign, sign):
    from campaigns.supporters.models import Consent

    sign(campaign, website="x", consent_updates="y")
    fresh()
    assert db.session.scalars(select(Consent)).all() == []


def solve(client, campaign) -> str:
    """What static/js/proof-of-work.js does in the browser."""
    import base64
    import json

    import altcha

    task = client.get(f"/c/{campaign.slug}/proof-of-work").get_json()
    solution = altcha.solve_challenge_v1(task["challenge"], task["salt"], task["algorithm"],
                                         task["maxnumber"])
    return base64.b64encode(json.dumps({
        "algorithm": task["algorithm"], "challenge": task["challenge"],
        "number": solution.number, "salt": task["salt"], "signature": task["signature"],
    }).encode()).decode()


def test_a_campaign_under_attack_asks_for_a_proof_of_work(client, campaign, sign):
    assert client.get(f"/c/{campaign.slug}/proof-of-work").status_code == 404  # off
    campaign.proof_of_work = True
    db.session.commit()
    page = client.get(f"/c/{campaign.slug}").get_data(as_text=True)
    assert "data-proof-of-work" in page and "js/proof-of-work.js" in page
    assert client.get(f"/c/{campaign.slug}/proof-of-work").headers["Cache-Control"] == "no-store"

    answer = solve(client, campaign)
    sign(campaign, email="person@example.org", altcha=answer)
    sign(campaign, email="replay@example.org", altcha=answer)  # the same answer again
    sign(campaign, email="none@example.org")
    sign(campaign, email="forged@example.org", altcha="eyJub3QiOiAiaXQifQ==")
    api = client.post(f"/api/v1/campaigns/{campaign.slug}/signatures", json={
        "first_name": "A", "last_name": "B", "email": "partner@example.org", "country": "DE",
        "altcha": solve(client, campaign)})
    assert api.status_code == 202
    process_intake()
    assert states() == {
        "person@example.org": ("pending", None),
        "replay@example.org": ("fraudulent", "proof_of_work"),
        "none@example.org": ("fraudulent", "proof_of_work"),
        "forged@example.org": ("fraudulent", "proof_of_work"),
        "partner@example.org": ("pending", None),
    }
