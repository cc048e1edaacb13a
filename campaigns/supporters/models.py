"""Supporters and their consents. Every personal field of a supporter lives here.

Keeping personal data behind this one module is deliberate: encryption at rest,
retention and erasure are each changed in one place.
"""
from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from campaigns.core.db import TimestampMixin, db, enum_column, utcnow


class Supporter(TimestampMixin, db.Model):
    """A person who acts, identified by canonical email."""

    __tablename__ = "supporter"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: lower-cased, Gmail dots and +tags removed: one person, one supporter
    canonical_email: Mapped[str] = mapped_column(String(320), unique=True)
    #: the address as last typed, where we write to
    email: Mapped[str] = mapped_column(String(320))
    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    #: ISO 3166-1 alpha-2
    country: Mapped[str] = mapped_column(String(2))
    postcode: Mapped[str | None] = mapped_column(String(16))
    #: the language the supporter used, for the emails we send them
    locale: Mapped[str] = mapped_column(String(12), default="en")
    #: when the personal fields were anonymised (on request or by the retention job)
    erased_at: Mapped[datetime | None]

    consents: Mapped[list[Consent]] = relationship(back_populates="supporter",
                                                   order_by="Consent.id")


class ConsentPurpose(enum.StrEnum):
    #: news and calls to action from the network about campaigns
    CAMPAIGN_UPDATES = "campaign_updates"


class Consent(db.Model):
    """An append-only record: what a supporter agreed to (or withdrew), when and where.

    Rows are never updated or deleted: a withdrawal is a new row with ``granted=False``.
    The current consent for a purpose is the supporter's latest row (highest id) for it.
    """

    __tablename__ = "consent"

    id: Mapped[int] = mapped_column(primary_key=True)
    supporter_id: Mapped[int] = mapped_column(ForeignKey("supporter.id", ondelete="CASCADE"),
                                              index=True)
    purpose: Mapped[ConsentPurpose] = enum_column(ConsentPurpose)
    granted: Mapped[bool]
    #: the exact words shown next to the box
    wording: Mapped[str] = mapped_column(Text)
    #: where it was given, e.g. "petition:<slug>" or "api:petition:<slug>"
    source: Mapped[str] = mapped_column(String(200))
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaign.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    supporter: Mapped[Supporter] = relationship(back_populates="consents")
