"""The consultation rule: no launch and no escalation without a current consultation."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import func, select

from campaigns.audit.operations import record
from campaigns.consultations.models import WorkerConsultation
from campaigns.core.db import db, utcnow
from campaigns.petitions.models import Campaign, CampaignStatus

#: the workspace warns this many days before a consultation expires
EXPIRY_WARNING_DAYS = 14
#: campaigns whose consultation the dashboard watches
WATCHED_STATES = frozenset({CampaignStatus.REVIEW, CampaignStatus.LIVE, CampaignStatus.PAUSED})


def _today() -> date:
    return utcnow().date()


def consultations(campaign: Campaign) -> list[WorkerConsultation]:
    """Every consultation of a campaign, newest first."""
    return list(db.session.scalars(
        select(WorkerConsultation).filter_by(campaign_id=campaign.id)
        .order_by(WorkerConsultation.consulted_on.desc(), WorkerConsultation.id.desc())
    ))


def current_consultation(campaign: Campaign, today: date | None = None) -> WorkerConsultation | None:
    """The consultation that holds today (the one valid longest), or None."""
    today = today or _today()
    return db.session.scalars(
        select(WorkerConsultation)
        .where(WorkerConsultation.campaign_id == campaign.id,
               WorkerConsultation.consulted_on <= today,
               WorkerConsultation.valid_until >= today)
        .order_by(WorkerConsultation.valid_until.desc(), WorkerConsultation.id.desc())
    ).first()


def can_escalate(campaign: Campaign, today: date | None = None) -> bool:
    """Whether the campaign may go live or add pressure now: only with a current consultation.

    Every escalation (a launch, a resume from pause, and any later hook such as a new
    action or a message to targets) must ask this first.
    """
    return current_consultation(campaign, today) is not None


class EscalationRefused(Exception):
    """An escalation attempted without a current worker consultation."""


def ensure_can_escalate(campaign: Campaign, today: date | None = None) -> WorkerConsultation:
    """The current consultation, for escalation hooks that must stop without one.

    Raises EscalationRefused (with a message for the campaigner) when there is none.
    """
    consultation = current_consultation(campaign, today)
    if consultation is None:
        from flask_babel import gettext as _

        raise EscalationRefused(_("The campaign needs a current worker consultation record first: "
                                  "the workers or their representatives must have asked for it "
                                  "and approved it."))
    return consultation


def record_consultation(campaign: Campaign, **fields: Any) -> WorkerConsultation:
    """Add a consultation record to the campaign (records are never edited, only added)."""
    consultation = WorkerConsultation(campaign_id=campaign.id, **fields)
    db.session.add(consultation)
    db.session.flush()
    record("consultation.recorded", campaign, consultation_id=consultation.id,
           requester_kind=consultation.requester_kind.value,
           requester_organisation=consultation.requester_organisation,
           country=consultation.country, consulted_on=consultation.consulted_on.isoformat(),
           valid_until=consultation.valid_until.isoformat(),
           approved_demands=consultation.approved_demands,
           approved_naming_factory=consultation.approved_naming_factory,
           approved_timing=consultation.approved_timing)
    return consultation


@dataclass(frozen=True)
class ConsultationAlert:
    campaign: Campaign
    #: the last day of the newest consultation; None when there has never been one
    valid_until: date | None

    @property
    def expired(self) -> bool:
        return self.valid_until is None or self.valid_until < _today()


def consultations_needing_attention(today: date | None = None) -> list[ConsultationAlert]:
    """Campaigns in review, live or paused whose consultation has expired (or never existed,
    or ends within EXPIRY_WARNING_DAYS): soonest first."""
    today = today or _today()
    latest = (select(WorkerConsultation.campaign_id,
                     func.max(WorkerConsultation.valid_until).label("valid_until"))
              .group_by(WorkerConsultation.campaign_id).subquery())
    rows = db.session.execute(
        select(Campaign, latest.c.valid_until)
        .outerjoin(latest, latest.c.campaign_id == Campaign.id)
        .where(Campaign.status.in_(WATCHED_STATES))
        .where((latest.c.valid_until.is_(None))
               | (latest.c.valid_until <= today + timedelta(days=EXPIRY_WARNING_DAYS)))
        .order_by(latest.c.valid_until.asc().nulls_first(), Campaign.id)
    ).all()
    return [ConsultationAlert(campaign, valid_until) for campaign, valid_until in rows]
