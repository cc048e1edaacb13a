"""The audit log: who changed what, and when. Append-only."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from campaigns.accounts.models import Campaigner
from campaigns.core.db import NEVER_REUSE_IDS, db, utcnow


class AuditEvent(db.Model):
    __tablename__ = "audit_event"
    __table_args__ = (Index("ix_audit_event_subject", "subject_type", "subject_id"), NEVER_REUSE_IDS)

    id: Mapped[int] = mapped_column(primary_key=True)
    #: who did it; None for the system (a task, a command)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("campaigner.id", ondelete="SET NULL"))
    #: a dotted verb, e.g. "campaign.launched", "export.signatures", "campaigner.login"
    action: Mapped[str] = mapped_column(String(64), index=True)
    subject_type: Mapped[str | None] = mapped_column(String(64))
    subject_id: Mapped[int | None]
    #: what changed, for a reader (no personal data of supporters)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)

    actor: Mapped[Campaigner | None] = relationship()
