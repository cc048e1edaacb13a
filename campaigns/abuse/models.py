"""Bulk invalidation jobs: striking out a flood after the fact."""
from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from campaigns.accounts.models import Campaigner
from campaigns.core.db import db, enum_column, utcnow


class JobState(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    PAUSED = "paused"
    DONE = "done"
    CANCELLED = "cancelled"


#: states in which the worker goes on with a job
ACTIVE_STATES = frozenset({JobState.QUEUED, JobState.RUNNING})


class InvalidationJob(db.Model):
    """Invalidate the signatures matching some criteria, in batches, resumably."""

    __tablename__ = "invalidation_job"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("campaigner.id", ondelete="SET NULL"))
    #: what the signatures must match (all given criteria): an address range (CIDR)
    network: Mapped[str | None] = mapped_column(String(64))
    #: an email domain, * as a wildcard (e.g. *.spam.example)
    email_domain: Mapped[str | None] = mapped_column(String(255))
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaign.id", ondelete="CASCADE"))
    signed_from: Mapped[datetime | None]
    signed_until: Mapped[datetime | None]
    reason: Mapped[str] = mapped_column(String(200))
    state: Mapped[JobState] = enum_column(JobState, default=JobState.QUEUED)
    #: the highest signature id looked at: a stopped job resumes after it
    last_signature_id: Mapped[int] = mapped_column(default=0)
    #: signature ids at the start, for the progress bar
    highest_signature_id: Mapped[int] = mapped_column(default=0)
    matched: Mapped[int] = mapped_column(default=0)
    #: matched signatures that were counted, now subtracted from the counts
    uncounted: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]

    created_by: Mapped[Campaigner | None] = relationship()

    @property
    def progress(self) -> tuple[int, int]:
        """(done, total) in signature ids looked at."""
        total = max(self.highest_signature_id, 1)
        return min(self.last_signature_id, total), total
