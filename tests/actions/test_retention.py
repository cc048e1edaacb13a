"""Retention covers everyone who acted, not only signers: letter writers are anonymised
like signers once every campaign they wrote on ended long ago."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from campaigns.core.db import db, utcnow
from campaigns.petitions.models import Campaign, CampaignStatus
from campaigns.privacy.tasks import anonymise_expired_signers
from campaigns.supporters.models import Supporter
from tests.actions.test_delivery import confirmed_letters
from tests.conftest import fresh


def end_long_ago(app, campaign_id: int) -> None:
    days = app.config["SUPPORTER_RETENTION_DAYS"]
    db.session.execute(update(Campaign).where(Campaign.id == campaign_id).values(
        status=CampaignStatus.CLOSED, updated_at=utcnow() - timedelta(days=days + 1)))
    db.session.commit()


def test_letter_writers_are_anonymised_once_the_campaign_ended_long_ago(app, email_action):
    confirmed_letters(email_action, 2, first_name="Marta", last_name="Reyes")
    assert anonymise_expired_signers() == 0  # the campaign is live: they stay
    end_long_ago(app, email_action.campaign_id)
    assert anonymise_expired_signers() == 2
    fresh()
    writers = db.session.scalars(select(Supporter)).all()
    assert {(w.first_name, w.last_name, w.erased_at is not None) for w in writers} == {("", "", True)}
