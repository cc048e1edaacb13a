"""Signatures and the change log that keeps campaign counts fast."""
from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, UniqueConstraint
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


class SignatureIntake(db.Model):
    """A signature as its signer submitted it, until a worker records it.

    Adding this row is all a signing request writes: one INSERT, no supporter, consent,
    email or broker message in the request. ``operations.process_intake`` deletes the row
    in the transaction that records the signature, so a signature exists exactly when its
    intake row is gone, whatever fails when; a submission is never lost or taken twice.
    """

    __tablename__ = "signature_intake"

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id", ondelete="CASCADE"))
    #: the validated SignatureRequest (operations.py) with the abuse verdict, as JSON
    request: Mapped[dict[str, Any]] = mapped_column(JSON)
    #: the signer's canonical email, so that erasure finds what is still waiting here
    canonical_email: Mapped[str] = mapped_column(String(320))
    #: the language of the page signed on: the supporter's language and the email's
    locale: Mapped[str] = mapped_column(String(16))
    #: when the signer submitted it; the signature is dated by this, not by processing
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: failed attempts to record it; past INTAKE_MAX_ATTEMPTS it waits for a person
    attempts: Mapped[int] = mapped_column(default=0)
    #: why the last attempt failed
    last_error: Mapped[str | None] = mapped_column(String(500))

    campaign: Mapped[Campaign] = relationship()
