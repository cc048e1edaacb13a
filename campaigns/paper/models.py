"""Paper and offline signatures, recorded by campaigners as counted batches."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from campaigns.accounts.models import Campaigner
from campaigns.core.db import NEVER_REUSE_IDS, db, utcnow
from campaigns.petitions.models import Campaign


class PaperBatch(db.Model):
    """A number of signatures gathered offline (paper forms, a stall, a union meeting).

    Only the count is kept: the names stay on paper, with the people who collected them.
    """

    __tablename__ = "paper_batch"
    __table_args__ = (Index("ix_paper_batch_campaign_collected", "campaign_id", "collected_on"),
                      NEVER_REUSE_IDS)

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id", ondelete="CASCADE"))
    #: signatures in the batch
    count: Mapped[int]
    #: where they were collected, e.g. "May Day march, Dhaka" or a partner's name
    source: Mapped[str] = mapped_column(String(200))
    #: the day they were collected (or the last day, for a longer collection)
    collected_on: Mapped[date]
    #: ISO 3166-1 alpha-2, when the whole batch comes from one country
    country: Mapped[str | None] = mapped_column(String(2))
    #: who recorded it
    recorded_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("campaigner.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    campaign: Mapped[Campaign] = relationship()
    recorded_by: Mapped[Campaigner | None] = relationship()
