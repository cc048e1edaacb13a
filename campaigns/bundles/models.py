"""Delivery bundles: the printable document handed to a target, built in the background.

The document is kept in the database in parts (a few hundred signers each), not in a
file: every web process on every machine can stream it, and none holds it in memory.
"""
from __future__ import annotations

import enum
from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from campaigns.accounts.models import Campaigner
from campaigns.core.db import NEVER_REUSE_IDS, db, enum_column, utcnow
from campaigns.petitions.models import Campaign, CampaignTarget


class BundleState(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"

    @property
    def label(self) -> str:
        return str(BUNDLE_STATE_LABELS[self])


BUNDLE_STATE_LABELS = {
    BundleState.QUEUED: _l("Waiting to start"),
    BundleState.RUNNING: _l("Being prepared"),
    BundleState.DONE: _l("Ready"),
    BundleState.FAILED: _l("Failed"),
}
#: bundles a worker may still (re)build
UNFINISHED_STATES = frozenset({BundleState.QUEUED, BundleState.RUNNING})


class DeliveryBundle(db.Model):
    """One printable document for one target of a campaign; its file lives under instance/."""

    __tablename__ = "delivery_bundle"

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id", ondelete="CASCADE"),
                                             index=True)
    campaign_target_id: Mapped[int] = mapped_column(
        ForeignKey("campaign_target.id", ondelete="CASCADE"))
    state: Mapped[BundleState] = enum_column(BundleState, default=BundleState.QUEUED)
    #: signers written so far
    done: Mapped[int] = mapped_column(default=0)
    #: signers to write (0 when the risk flag leaves only the counts)
    total: Mapped[int] = mapped_column(default=0)
    #: whether the names were left out because the campaign carries a risk flag
    names_withheld: Mapped[bool] = mapped_column(default=False)
    requested_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("campaigner.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]

    campaign: Mapped[Campaign] = relationship()
    campaign_target: Mapped[CampaignTarget] = relationship()
    requested_by: Mapped[Campaigner | None] = relationship()

    @property
    def percent(self) -> int:
        if self.state == BundleState.DONE:
            return 100
        return int(100 * self.done / self.total) if self.total else 0


class DeliveryBundlePart(db.Model):
    """A slice of a bundle's HTML, in order; the document is the parts joined."""

    __tablename__ = "delivery_bundle_part"
    __table_args__ = (UniqueConstraint("bundle_id", "position"), NEVER_REUSE_IDS)

    id: Mapped[int] = mapped_column(primary_key=True)
    bundle_id: Mapped[int] = mapped_column(ForeignKey("delivery_bundle.id", ondelete="CASCADE"))
    position: Mapped[int]
    html: Mapped[str] = mapped_column(Text)
