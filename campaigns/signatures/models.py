"""Signatures and the change log that keeps campaign counts fast."""
from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from campaigns.core.db import NEVER_REUSE_IDS, db, enum_column, utcnow
from campaigns.petitions.models import Campaign
from campaigns.supporters.models import Supporter


class SignatureState(enum.StrEnum):
    #: waiting for the emailed link to be followed
    PENDING = "pending"
    CONFIRMED = "confirmed"
    #: accepted silently as the answer to a bot or a flood; never counted, never emailed
    FRAUDULENT = "fraudulent"
    #: struck out after the fact (a bulk invalidation); no longer counted
    INVALIDATED = "invalidated"


#: signatures that count towards the public number
COUNTED_STATES = frozenset({SignatureState.CONFIRMED})


class CommentState(enum.StrEnum):
    #: waiting for a campaigner to read it
    PENDING = "pending"
    #: shown on the campaign's signer wall
    APPROVED = "approved"
    #: never shown
    HIDDEN = "hidden"


#: comments the public may read (on a confirmed, public signature, without a risk flag)
SHOWN_COMMENT_STATES = frozenset({CommentState.APPROVED})


class Signature(db.Model):
    """A supporter's signature on a campaign's petition."""

    __tablename__ = "signature"
    __table_args__ = (
        # one signature per person per campaign; the backstop against races
        UniqueConstraint("campaign_id", "supporter_id"),
        Index("ix_signature_campaign_state_confirmed", "campaign_id", "state", "confirmed_at"),
        Index("ix_signature_campaign_comment_state", "campaign_id", "comment_state"),
        NEVER_REUSE_IDS,
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id", ondelete="CASCADE"))
    supporter_id: Mapped[int] = mapped_column(ForeignKey("supporter.id", ondelete="CASCADE"),
                                              index=True)
    state: Mapped[SignatureState] = enum_column(SignatureState, default=SignatureState.PENDING)
    #: the signer agreed to show their first name and country on the campaign page
    public: Mapped[bool] = mapped_column(default=False)
    comment: Mapped[str | None] = mapped_column(String(500))
    #: where the signer came from (utm_source, a partner's embed, the API)
    source: Mapped[str | None] = mapped_column(String(100))
    #: the utm_medium of the link the signer followed
    utm_medium: Mapped[str | None] = mapped_column(String(100))
    #: the utm_campaign of the link the signer followed
    utm_campaign: Mapped[str | None] = mapped_column(String(100))
    #: the host of the page that linked to the campaign (never the full address)
    referrer_host: Mapped[str | None] = mapped_column(String(255))
    #: moderation of the comment; only approved comments are ever shown
    comment_state: Mapped[CommentState] = enum_column(CommentState, default=CommentState.PENDING,
                                                      server_default=CommentState.PENDING.value)
    #: when a campaigner approved or hid the comment
    comment_moderated_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: when the signer followed the emailed link; None while pending
    confirmed_at: Mapped[datetime | None]
    #: why it was taken for abuse or invalidated (see campaigns/signatures/abuse.py)
    fraud_reason: Mapped[str | None] = mapped_column(String(40))
    #: the client address, kept for abuse investigations until the retention job clears it
    ip_address: Mapped[str | None] = mapped_column(String(45))
    #: when we last emailed the signer about this signature (to avoid mail-bombing)
    last_emailed_at: Mapped[datetime | None]

    campaign: Mapped[Campaign] = relationship()
    supporter: Mapped[Supporter] = relationship()


class SignatureCountChange(db.Model):
    """+1 or -1 to a campaign's count, appended when a signature starts or stops counting.

    Inserting here never touches the campaign row, so a viral petition takes thousands
    of confirmations a minute without lock contention; flush_signature_counts folds the
    rows into Campaign.signature_count every few seconds.
    """

    __tablename__ = "signature_count_change"

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id", ondelete="CASCADE"),
                                             index=True)
    delta: Mapped[int]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
