"""Reading campaigns as the public sees them."""
from __future__ import annotations

from flask import abort
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from campaigns.core.db import db
from campaigns.petitions.models import LISTED_STATES, VISIBLE_STATES, Campaign, CampaignTarget


def _with_targets():
    return selectinload(Campaign.targets).selectinload(CampaignTarget.target)


def listed_campaigns() -> list[Campaign]:
    """Live campaigns, newest launch first."""
    return list(db.session.scalars(
        select(Campaign)
        .where(Campaign.status.in_(LISTED_STATES))
        .options(_with_targets())
        .order_by(Campaign.launched_at.desc().nulls_last(), Campaign.id.desc())
    ))


def find_visible_campaign(slug: str) -> Campaign | None:
    return db.session.scalars(
        select(Campaign)
        .where(Campaign.slug == slug, Campaign.status.in_(VISIBLE_STATES))
        .options(_with_targets())
    ).first()


def visible_campaign_or_404(slug: str) -> Campaign:
    campaign = find_visible_campaign(slug)
    if campaign is None:
        abort(404)
    return campaign
