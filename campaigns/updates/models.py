"""Campaign updates and the people each one goes to."""
from __future__ import annotations

import enum
from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from campaigns.core.db import NEVER_REUSE_IDS, TimestampMixin, db, enum_column, utcnow
from campaigns.petitions.models import Campaign


class UpdateState(enum.StrEnum):
    #: being written; may be edited and sent as a test
    DRAFT = "draft"
    #: the fan-out is picking recipients and queueing their emails
    SENDING = "sending"
    #: every recipient has an email in the outbox
    SENT = "sent"

    @property
    def label(self) -> str:
        return str(STATE_LABELS[self])


STATE_LABELS = {UpdateState.DRAFT: _l("Draft"), UpdateState.SENDING: _l("Sending"),
                UpdateState.SENT: _l("Sent")}
#: updates whose text may still change
EDITABLE_STATES = frozenset({UpdateState.DRAFT})
#: the allowed moves
TRANSITIONS = {UpdateState.DRAFT: {UpdateState.SENDING}, UpdateState.SENDING: {UpdateState.SENT},
               UpdateState.SENT: set()}


class CampaignUpdate(TimestampMixin, db.Model):
    """News a campaigner sends to the signers of a campaign who agreed to hear from us."""

    __tablename__ = "campaign_update"

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id", ondelete="CASCADE"),
                                             index=True)
    #: who wrote it; None once the account is gone
    author_id: Mapped[int | None] = mapped_column(ForeignKey("campaigner.id", ondelete="SET NULL"))
    subject: Mapped[str] = mapped_column(String(200))
    #: the message in Markdown, sanitised when rendered
    body: Mapped[str] = mapped_column(Text, default="")
    state: Mapped[UpdateState] = enum_column(UpdateState, default=UpdateState.DRAFT)
    #: recipients expected when sending started, then the number actually queued
    recipient_total: Mapped[int] = mapped_column(default=0)
    #: when the campaigner pressed send
    send_started_at: Mapped[datetime | None]
    #: when the fan-out had queued every email
    sent_at: Mapped[datetime | None]

    campaign: Mapped[Campaign] = relationship()


class CampaignUpdateRecipient(db.Model):
    """One person an update goes to; the unique pair makes a restarted fan-out harmless."""

    __tablename__ = "campaign_update_recipient"
    __table_args__ = (UniqueConstraint("update_id", "supporter_id"), NEVER_REUSE_IDS)

    id: Mapped[int] = mapped_column(primary_key=True)
    update_id: Mapped[int] = mapped_column(ForeignKey("campaign_update.id", ondelete="CASCADE"))
    supporter_id: Mapped[int] = mapped_column(ForeignKey("supporter.id", ondelete="CASCADE"),
                                              index=True)
    #: the outbox email carrying the update to this person
    email_id: Mapped[int | None] = mapped_column(ForeignKey("outgoing_email.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
