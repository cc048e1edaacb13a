"""Targets: the organisations a campaign puts pressure on, and their contacts."""
from __future__ import annotations

import enum

from flask_babel import lazy_gettext as _l
from datetime import datetime

from sqlalchemy import JSON, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from campaigns.core.db import TimestampMixin, db, enum_column


class TargetKind(enum.StrEnum):
    BRAND = "brand"
    RETAILER = "retailer"
    PARENT_GROUP = "parent_group"
    MANUFACTURER = "manufacturer"
    SUPPLIER = "supplier"
    MINISTRY = "ministry"
    NATIONAL_GOVERNMENT = "national_government"
    INTERNATIONAL_BODY = "international_body"

    @property
    def label(self) -> str:
        return str(TARGET_KIND_LABELS[self])


TARGET_KIND_LABELS = {
    TargetKind.BRAND: _l("Brand"),
    TargetKind.RETAILER: _l("Retailer"),
    TargetKind.PARENT_GROUP: _l("Parent group"),
    TargetKind.MANUFACTURER: _l("Manufacturer"),
    TargetKind.SUPPLIER: _l("Supplier"),
    TargetKind.MINISTRY: _l("Ministry"),
    TargetKind.NATIONAL_GOVERNMENT: _l("National government"),
    TargetKind.INTERNATIONAL_BODY: _l("International body"),
}
COMPANY_KINDS = frozenset({TargetKind.BRAND, TargetKind.RETAILER, TargetKind.PARENT_GROUP,
                           TargetKind.MANUFACTURER, TargetKind.SUPPLIER})
GOVERNMENT_KINDS = frozenset(set(TargetKind) - COMPANY_KINDS)


class Target(TimestampMixin, db.Model):
    """A company or a government body."""

    __tablename__ = "target"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[TargetKind] = enum_column(TargetKind)
    #: ISO 3166-1 alpha-2 code of the headquarters or the government's country
    country: Mapped[str | None] = mapped_column(String(2))
    website: Mapped[str | None] = mapped_column(String(300))
    #: a short public description, plain text
    description: Mapped[str] = mapped_column(Text, default="")

    contacts: Mapped[list[Contact]] = relationship(
        back_populates="target", order_by="Contact.id", cascade="all, delete-orphan"
    )

    @property
    def is_company(self) -> bool:
        return self.kind in COMPANY_KINDS


class Contact(TimestampMixin, db.Model):
    """A person at a target who receives letters (a CEO, a CSR head, a minister)."""

    __tablename__ = "contact"

    id: Mapped[int] = mapped_column(primary_key=True)
    target_id: Mapped[int] = mapped_column(ForeignKey("target.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    #: the position, e.g. "Chief Executive Officer"
    role: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320))
    #: whether the address may be shown to the public (private addresses never are)
    email_public: Mapped[bool] = mapped_column(default=False)
    active: Mapped[bool] = mapped_column(default=True)
    #: the contact's time zone (IANA name), for the hours letters may arrive
    timezone: Mapped[str] = mapped_column(String(64), default="UTC", server_default="UTC")
    #: postcode prefixes this contact answers for (a member of parliament's constituency);
    #: None or empty: every supporter writes to them
    areas: Mapped[list[str] | None] = mapped_column(JSON)
    #: when a letter to the address bounced for good; no letter goes to it until it is fixed
    address_invalid_at: Mapped[datetime | None]
    #: temporary bounces since the last delivered letter
    soft_bounces: Mapped[int] = mapped_column(default=0, server_default="0")

    target: Mapped[Target] = relationship(back_populates="contacts")

    def serves(self, postcode: str | None) -> bool:
        """Whether a supporter with this postcode writes to this contact."""
        if not self.areas:
            return True
        code = "".join((postcode or "").split()).upper()
        return bool(code) and any(code.startswith("".join(a.split()).upper()) for a in self.areas)
