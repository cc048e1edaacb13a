"""Worker consultation: the record that workers or their representatives asked for a
campaign and approved it. No campaign goes live, or escalates, without a current one.

Workers' names are never collected here: a record names organisations, not people.
"""
from __future__ import annotations

import enum
from datetime import date, datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from campaigns.accounts.models import Campaigner
from campaigns.core.db import db, enum_column, utcnow


class RequesterKind(enum.StrEnum):
    UNION = "union"
    WORKERS_REPRESENTATIVE = "workers_representative"

    @property
    def label(self) -> str:
        return str(REQUESTER_KIND_LABELS[self])


REQUESTER_KIND_LABELS = {
    RequesterKind.UNION: _l("Union"),
    RequesterKind.WORKERS_REPRESENTATIVE: _l("Workers' representative"),
}


class WorkerConsultation(db.Model):
    """One consultation of the workers concerned; append-only (a new one replaces it)."""

    __tablename__ = "worker_consultation"

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id", ondelete="CASCADE"), index=True)
    #: who asked for the campaign: a union or a workers' representative
    requester_kind: Mapped[RequesterKind] = enum_column(RequesterKind)
    #: the union or representative body (an organisation, never a worker's name)
    requester_organisation: Mapped[str] = mapped_column(String(200))
    #: ISO 3166-1 alpha-2 code of the country where the workers are
    country: Mapped[str] = mapped_column(String(2))
    #: when the workers or their representatives were consulted
    consulted_on: Mapped[date]
    #: they approved the demands made to the targets
    approved_demands: Mapped[bool] = mapped_column(default=False)
    #: they approved naming the factory in public
    approved_naming_factory: Mapped[bool] = mapped_column(default=False)
    #: they approved the timing of the launch
    approved_timing: Mapped[bool] = mapped_column(default=False)
    #: anything more about what was approved, or its limits
    approval_notes: Mapped[str] = mapped_column(Text, default="")
    #: known risks of retaliation against workers (dismissals, blacklisting, violence)
    retaliation_risks: Mapped[str] = mapped_column(Text, default="")
    #: last day (inclusive) on which the approval holds; then it must be renewed
    valid_until: Mapped[date]
    #: the campaigner who recorded it
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("campaigner.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    recorded_by: Mapped[Campaigner | None] = relationship()

    def is_current(self, today: date) -> bool:
        return self.consulted_on <= today <= self.valid_until
