"""The public count: batched by a background job, exact after reconciliation."""
from __future__ import annotations

from sqlalchemy import select, update

from campaigns.core.db import db, utcnow
from campaigns.petitions.models import Campaign
from campaigns.signatures.models import Signature, SignatureCountChange, SignatureState
from campaigns.signatures.operations import confirm
from campaigns.signatures.tasks import flush_signature_counts, reconcile_signature_counts
from campaigns.supporters.models import Supporter
from tests.conftest import fresh


def pending_signatures(campaign, n):
    signatures = []
    for i in range(n):
        supporter = Supporter(email=f"c{campaign.id}-{i}@example.org",
                              canonical_email=f"c{campaign.id}-{i}@example.org",
                              first_name="A", last_name="B", country="DE")
        db.session.add(supporter)
        db.session.flush()
        signature = Signature(campaign_id=campaign.id, supporter_id=supporter.id)
        db.session.add(signature)
        signatures.append(signature)
    db.session.commit()
    return signatures


def count_of(campaign) -> int:
    fresh()
    return db.session.scalar(select(Campaign.signature_count).filter_by(id=campaign.id))


def test_confirmations_are_folded_in_per_campaign(make_campaign):
    viral, quiet = make_campaign(), make_campaign()
    for signature in pending_signatures(viral, 30) + pending_signatures(quiet, 3):
        confirm(signature)
    db.session.commit()
    assert count_of(viral) == 0  # nothing touched the campaign rows
    assert flush_signature_counts() == 33
    assert (count_of(viral), count_of(quiet)) == (30, 3)
    assert db.session.scalars(select(SignatureCountChange)).all() == []
    assert flush_signature_counts() == 0
    assert (count_of(viral), count_of(quiet)) == (30, 3)


def test_confirming_twice_counts_once(campaign):
    [signature] = pending_signatures(campaign, 1)
    assert confirm(signature) is True
    assert confirm(signature) is False
    db.session.commit()
    flush_signature_counts()
    assert count_of(campaign) == 1


def test_reconcile_repairs_drift_without_double_counting(make_campaign):
    campaign, other = make_campaign(), make_campaign()
    signatures = pending_signatures(campaign, 5)
    for signature in signatures[:4]:
        confirm(signature)
    db.session.commit()
    flush_signature_counts()
    confirm(signatures[4])  # a change not yet folded in
    db.session.execute(update(Campaign).where(Campaign.id == campaign.id)
                       .values(signature_count=999))  # drift
    db.session.execute(update(Campaign).where(Campaign.id == other.id).values(signature_count=7))
    db.session.commit()
    assert reconcile_signature_counts() == 2
    assert (count_of(campaign), count_of(other)) == (5, 0)
    flush_signature_counts()  # the pending +1 was absorbed by the recount
    assert count_of(campaign) == 5


def test_the_count_is_refreshed_often_enough(app):
    """A confirmed signature must show in the public count within 10 seconds."""
    schedule = app.extensions["celery"].conf.beat_schedule
    entry = schedule["fold-confirmed-signatures-into-counts"]
    assert entry["task"] == flush_signature_counts.name
    assert entry["schedule"] <= 10
