"""The public response tracker's figures, computed from public data only.

Per company (brands, retailers, groups, manufacturers, suppliers; not governments), over the threads of its public, launched campaigns:

- campaigns received: the number of such threads;
- replied: threads with at least one published reply; reply rate = replied / received;
- median days to first reply: over replied threads, the calendar days from the campaign's
  launch to the first published reply (the date the target answered);
- overdue now: threads past their deadline without a published reply (and not closed);
- commitments made and verified: public commitments, and those verified.
"""
from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from campaigns.core.db import db, utcnow
from campaigns.petitions.models import VISIBLE_STATES, Campaign, CampaignTarget
from campaigns.replies.models import ReplyThread, ThreadStatus
from campaigns.targets.models import Target


@dataclass
class TargetRecord:
    target: Target
    received: int = 0
    replied: int = 0
    days_to_first_reply: list[int] = field(default_factory=list)
    overdue: int = 0
    commitments: int = 0
    verified: int = 0

    @property
    def reply_rate(self) -> float | None:
        return self.replied / self.received if self.received else None

    @property
    def median_days(self) -> float | None:
        return statistics.median(self.days_to_first_reply) if self.days_to_first_reply else None


def public_threads() -> list[ReplyThread]:
    return list(db.session.scalars(
        select(ReplyThread)
        .join(CampaignTarget, CampaignTarget.id == ReplyThread.campaign_target_id)
        .join(Campaign, Campaign.id == CampaignTarget.campaign_id)
        .where(Campaign.status.in_(VISIBLE_STATES), Campaign.launched_at.is_not(None))
        .options(selectinload(ReplyThread.replies), selectinload(ReplyThread.commitments),
                 selectinload(ReplyThread.campaign_target).selectinload(CampaignTarget.target),
                 selectinload(ReplyThread.campaign_target).selectinload(CampaignTarget.campaign))
        .order_by(ReplyThread.id)
    ))


def tracker(today: date | None = None, companies_only: bool = True) -> list[TargetRecord]:
    """One record per target (companies only, by default) with at least one public thread."""
    today = today or utcnow().date()
    records: dict[int, TargetRecord] = {}
    for thread in public_threads():
        target = thread.target
        if companies_only and not target.is_company:
            continue
        rec = records.setdefault(target.id, TargetRecord(target=target))
        rec.received += 1
        published = thread.published_replies
        if published:
            rec.replied += 1
            first = min(r.received_at for r in published)
            launched = thread.campaign.launched_at
            rec.days_to_first_reply.append(max((first.date() - launched.date()).days, 0))
        if thread.public_status_on(today) == ThreadStatus.OVERDUE:
            rec.overdue += 1
        for commitment in thread.commitments:
            if commitment.public:
                rec.commitments += 1
                if commitment.verified_on is not None:
                    rec.verified += 1
    return list(records.values())


SORT_KEYS = {
    "name": lambda r: r.target.name.lower(),
    "received": lambda r: r.received,
    "rate": lambda r: -1 if r.reply_rate is None else r.reply_rate,
    "median": lambda r: float("inf") if r.median_days is None else r.median_days,
    "overdue": lambda r: r.overdue,
    "commitments": lambda r: r.commitments,
    "verified": lambda r: r.verified,
}


def sorted_records(records: list[TargetRecord], key: str, descending: bool) -> list[TargetRecord]:
    key = key if key in SORT_KEYS else "name"
    ordered = sorted(records, key=lambda r: r.target.name.lower())
    return sorted(ordered, key=SORT_KEYS[key], reverse=descending)


def totals(records: list[TargetRecord]) -> TargetRecord:
    total = TargetRecord(target=None)  # type: ignore[arg-type]
    for rec in records:
        total.received += rec.received
        total.replied += rec.replied
        total.days_to_first_reply += rec.days_to_first_reply
        total.overdue += rec.overdue
        total.commitments += rec.commitments
        total.verified += rec.verified
    return total
