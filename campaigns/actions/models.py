"""Email actions, the letter each campaign target gets, and the letters (target messages)."""
from __future__ import annotations

import enum
from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from campaigns.core.db import NEVER_REUSE_IDS, TimestampMixin, db, enum_column, utcnow
from campaigns.petitions.models import Campaign, CampaignTarget
from campaigns.supporters.models import Supporter
from campaigns.targets.models import Contact


class LetterState(enum.StrEnum):
    #: waiting for the supporter to follow the emailed link
    PENDING = "pending"
    #: confirmed; waits for its contact's pacing (or for the action to be resumed)
    QUEUED = "queued"
    #: kept back: the contact's address bounced hard; not lost, a campaigner may requeue it
    HELD = "held"
    #: handed to the outbox (an OutgoingEmail exists); the SMTP server has not accepted it yet
    RELEASED = "released"
    SENT = "sent"
    #: the SMTP server refused it for good, or it ran out of attempts
    FAILED = "failed"
    #: accepted, then returned by the receiving server (a delivery status notification)
    BOUNCED = "bounced"
    #: stopped by a campaigner before it was released
    CANCELLED = "cancelled"
    #: accepted silently as the answer to a bot or a flood; never sent
    FRAUDULENT = "fraudulent"

    @property
    def label(self) -> str:
        return str(STATE_LABELS[self])


STATE_LABELS = {
    LetterState.PENDING: _l("Waiting for confirmation"), LetterState.QUEUED: _l("Queued"),
    LetterState.HELD: _l("Held"), LetterState.RELEASED: _l("Sending"),
    LetterState.SENT: _l("Sent"), LetterState.FAILED: _l("Failed"),
    LetterState.BOUNCED: _l("Bounced"), LetterState.CANCELLED: _l("Cancelled"),
    LetterState.FRAUDULENT: _l("Fraudulent"),
}
#: the allowed moves; every state change goes through campaigns.actions.operations.move()
TRANSITIONS: dict[LetterState, frozenset[LetterState]] = {
    LetterState.PENDING: frozenset({LetterState.QUEUED, LetterState.CANCELLED}),
    LetterState.QUEUED: frozenset({LetterState.RELEASED, LetterState.HELD, LetterState.CANCELLED}),
    LetterState.HELD: frozenset({LetterState.QUEUED, LetterState.CANCELLED}),
    LetterState.RELEASED: frozenset({LetterState.SENT, LetterState.FAILED}),
    LetterState.SENT: frozenset({LetterState.BOUNCED}),
    LetterState.FAILED: frozenset(),
    LetterState.BOUNCED: frozenset(),
    LetterState.CANCELLED: frozenset(),
    LetterState.FRAUDULENT: frozenset({LetterState.PENDING}),
}
#: letters a campaigner may still stop
CANCELLABLE_STATES = frozenset({LetterState.PENDING, LetterState.QUEUED, LetterState.HELD})
#: letters whose supporter confirmed them (they count as having acted)
CONFIRMED_STATES = frozenset({LetterState.QUEUED, LetterState.HELD, LetterState.RELEASED,
                              LetterState.SENT, LetterState.FAILED, LetterState.BOUNCED})
#: the states the campaigner's progress table shows, in order
DASHBOARD_STATES = (LetterState.QUEUED, LetterState.HELD, LetterState.RELEASED, LetterState.SENT,
                    LetterState.FAILED, LetterState.BOUNCED, LetterState.CANCELLED)


class DeliveryMode(enum.StrEnum):
    #: one email per letter, paced
    EACH = "each"
    #: one email a day with the count and a sample of the letters
    DIGEST = "digest"


class EmailAction(TimestampMixin, db.Model):
    """A campaign's email action: its settings for letters to targets."""

    __tablename__ = "email_action"

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id", ondelete="CASCADE"),
                                             unique=True)
    #: supporters may write now (the page is shown and takes letters)
    active: Mapped[bool] = mapped_column(default=False)
    #: the campaigner stopped releasing letters for a while; queued ones wait
    paused: Mapped[bool] = mapped_column(default=False)
    #: letters go to ``test_address`` instead of the targets, marked as tests
    test_mode: Mapped[bool] = mapped_column(default=True)
    #: the campaigner's address receiving letters in test mode
    test_address: Mapped[str | None] = mapped_column(String(320))
    #: the longest letter body a supporter may send
    max_body_length: Mapped[int] = mapped_column(default=3000)
    #: supporters may put web addresses in their letter
    allow_links: Mapped[bool] = mapped_column(default=False)
    #: replies go to the supporter instead of the campaign x target thread
    reply_to_supporter: Mapped[bool] = mapped_column(default=False)
    #: at most this many letters an hour reach one contact
    max_per_hour: Mapped[int] = mapped_column(default=60)
    #: letters reach a contact between these hours of the contact's day (0-24)
    window_start_hour: Mapped[int] = mapped_column(default=0)
    window_end_hour: Mapped[int] = mapped_column(default=24)

    campaign: Mapped[Campaign] = relationship()
    letters: Mapped[list[ActionTarget]] = relationship(
        back_populates="action", order_by="ActionTarget.id", cascade="all, delete-orphan")


class ActionTarget(db.Model):
    """The letter to one campaign target: its subject variants, body and chosen contacts."""

    __tablename__ = "action_target"
    __table_args__ = (UniqueConstraint("action_id", "campaign_target_id"), NEVER_REUSE_IDS)

    id: Mapped[int] = mapped_column(primary_key=True)
    action_id: Mapped[int] = mapped_column(ForeignKey("email_action.id", ondelete="CASCADE"))
    campaign_target_id: Mapped[int] = mapped_column(
        ForeignKey("campaign_target.id", ondelete="CASCADE"), index=True)
    #: the subjects a supporter chooses from (one line each)
    subjects: Mapped[list[str]] = mapped_column(JSON, default=list)
    #: the letter as the campaigner wrote it; supporters may personalise it
    body: Mapped[str] = mapped_column(Text, default="")
    #: the contacts receiving this letter (ids of the target's contacts)
    contact_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    #: one email per letter, or a daily digest
    delivery: Mapped[DeliveryMode] = enum_column(DeliveryMode, default=DeliveryMode.EACH)

    action: Mapped[EmailAction] = relationship(back_populates="letters")
    campaign_target: Mapped[CampaignTarget] = relationship()


class Letter(db.Model):
    """A target message: one letter from one supporter to one contact, with its delivery state."""

    __tablename__ = "letter"
    __table_args__ = (
        # one letter per supporter per contact per campaign; acting again changes nothing
        UniqueConstraint("campaign_id", "supporter_id", "contact_id"),
        Index("ix_letter_contact_state", "contact_id", "state"),
        Index("ix_letter_action_state", "action_id", "state"),
        NEVER_REUSE_IDS,
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id", ondelete="CASCADE"))
    action_id: Mapped[int] = mapped_column(ForeignKey("email_action.id", ondelete="CASCADE"))
    action_target_id: Mapped[int] = mapped_column(ForeignKey("action_target.id", ondelete="CASCADE"))
    supporter_id: Mapped[int] = mapped_column(ForeignKey("supporter.id", ondelete="CASCADE"),
                                              index=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contact.id", ondelete="CASCADE"))
    state: Mapped[LetterState] = enum_column(LetterState, default=LetterState.PENDING)
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    #: why it was taken for abuse (see campaigns/signatures/abuse.py)
    fraud_reason: Mapped[str | None] = mapped_column(String(40))
    #: the client address, kept for abuse investigations
    ip_address: Mapped[str | None] = mapped_column(String(45))
    #: the outbox email carrying it (shared by the letters of one digest); before the
    #: release, its email rendered ahead at confirmation (a prepared email), if any
    email_id: Mapped[int | None] = mapped_column(
        ForeignKey("outgoing_email.id", ondelete="SET NULL"), index=True)
    #: what its prepared email was rendered from (a digest, see operations._PreparedKeys):
    #: the release sends that email only while this still matches
    prepared_key: Mapped[str | None] = mapped_column(String(32))
    #: written while the action was in test mode: it went to the campaigner
    test: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    confirmed_at: Mapped[datetime | None]
    #: when it was handed to the outbox (pacing counts these per contact and hour)
    released_at: Mapped[datetime | None] = mapped_column(index=True)
    sent_at: Mapped[datetime | None]
    #: when we last emailed the supporter about it (to avoid mail-bombing)
    last_emailed_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(String(500))

    supporter: Mapped[Supporter] = relationship()
    contact: Mapped[Contact] = relationship()
    action_target: Mapped[ActionTarget] = relationship()
    action: Mapped[EmailAction] = relationship()
