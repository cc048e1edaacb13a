"""The rules of comment moderation: nothing a signer wrote is public until approved."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update

from campaigns.audit.operations import record
from campaigns.core.db import db, utcnow
from campaigns.petitions.models import Campaign
from campaigns.signatures.models import (
    COUNTED_STATES,
    SHOWN_COMMENT_STATES,
    CommentState,
    Signature,
)
from campaigns.supporters.models import Supporter


class AlreadyModerated(Exception):
    """Someone else decided on this comment first."""


def _moderatable():
    """Comments that could ever be shown: confirmed signatures whose signer chose to be public."""
    return (Signature.state.in_(COUNTED_STATES), Signature.public.is_(True),
            Signature.comment.is_not(None))


@dataclass(frozen=True)
class QueuedComment:
    signature_id: int
    first_name: str
    country: str
    comment: str
    confirmed_at: datetime | None


def comment_queue(campaign: Campaign, limit: int = 50) -> list[QueuedComment]:
    """The oldest comments waiting for a decision."""
    rows = db.session.execute(
        select(Signature.id, Supporter.first_name, Supporter.country, Signature.comment,
               Signature.confirmed_at)
        .join(Signature.supporter)
        .where(Signature.campaign_id == campaign.id,
               Signature.comment_state == CommentState.PENDING, *_moderatable())
        .order_by(Signature.confirmed_at, Signature.id)
        .limit(limit)
    ).all()
    return [QueuedComment(*row) for row in rows]


def pending_comment_counts() -> dict[int, int]:
    """Campaign id -> comments waiting, for the cross-campaign moderation page."""
    return dict(db.session.execute(
        select(Signature.campaign_id, func.count())
        .where(Signature.comment_state == CommentState.PENDING, *_moderatable())
        .group_by(Signature.campaign_id)
    ).all())


def moderate_comment(campaign: Campaign, signature_id: int, decision: CommentState,
                     reason: str | None) -> bool:
    """Approve or hide one comment; recorded in the audit log with the reason.

    One conditional UPDATE, so two campaigners deciding at once give one decision;
    returns False when the comment was not waiting any more (or is not this campaign's).
    """
    if decision not in (CommentState.APPROVED, CommentState.HIDDEN):
        raise ValueError(decision)
    changed = db.session.execute(
        update(Signature)
        .where(Signature.id == signature_id, Signature.campaign_id == campaign.id,
               Signature.comment_state == CommentState.PENDING, *_moderatable())
        .values(comment_state=decision, comment_moderated_at=utcnow())
        .execution_options(synchronize_session=False)
    ).rowcount
    if changed:
        record(f"comment.{decision.value}", db.session.get(Signature, signature_id),
               campaign_id=campaign.id, reason=reason or "")
        db.session.flush()
    return bool(changed)


@dataclass(frozen=True)
class WallComment:
    first_name: str
    country: str
    comment: str


def approved_comments(campaign: Campaign, limit: int = 10) -> list[WallComment]:
    """The signer wall: approved comments, first name and country; none under a risk flag."""
    if campaign.risk_flag:
        return []
    rows = db.session.execute(
        select(Supporter.first_name, Supporter.country, Signature.comment)
        .join(Signature.supporter)
        .where(Signature.campaign_id == campaign.id,
               Signature.comment_state.in_(SHOWN_COMMENT_STATES), *_moderatable())
        .order_by(Signature.comment_moderated_at.desc(), Signature.id.desc())
        .limit(limit)
    ).all()
    return [WallComment(*row) for row in rows]
