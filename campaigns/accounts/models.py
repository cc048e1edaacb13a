"""Campaigners: the staff and partner accounts that run the platform, and their organisations."""
from __future__ import annotations

import enum
from datetime import datetime

from flask_babel import lazy_gettext as _l
from flask_login import UserMixin
from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from campaigns.core.db import TimestampMixin, db, enum_column


class Role(enum.StrEnum):
    #: reads dashboards (e.g. a partner union)
    VIEWER = "viewer"
    #: creates and runs campaigns, perhaps only their organisation's
    CAMPAIGNER = "campaigner"
    #: everything, including accounts
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return ROLE_RANKS[self]

    @property
    def label(self) -> str:
        return str(ROLE_LABELS[self])


ROLE_RANKS = {Role.VIEWER: 1, Role.CAMPAIGNER: 2, Role.ADMIN: 3}
ROLE_LABELS = {Role.VIEWER: _l("Viewer"), Role.CAMPAIGNER: _l("Campaigner"), Role.ADMIN: _l("Admin")}


class Organisation(TimestampMixin, db.Model):
    """A member organisation of the network (a union, an NGO) that runs campaigns."""

    __tablename__ = "organisation"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)


class Campaigner(UserMixin, TimestampMixin, db.Model):
    """A staff or partner account with a role."""

    __tablename__ = "campaigner"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: lower-cased; the login
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    #: argon2id hash
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[Role] = enum_column(Role, default=Role.VIEWER)
    #: when set, a campaigner may manage only this organisation's campaigns
    organisation_id: Mapped[int | None] = mapped_column(
        ForeignKey("organisation.id", ondelete="SET NULL"), index=True
    )
    active: Mapped[bool] = mapped_column(default=True)
    #: base32 TOTP secret; two-factor sign-in is on once totp_enabled_at is set
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    totp_enabled_at: Mapped[datetime | None]
    #: the last TOTP time step accepted, so that a code works once
    totp_last_step: Mapped[int | None]
    #: bumped on password change or sign-out everywhere: older sessions stop working
    session_version: Mapped[int] = mapped_column(default=1)
    last_login_at: Mapped[datetime | None]

    organisation: Mapped[Organisation | None] = relationship()

    def get_id(self) -> str:
        return f"{self.id}:{self.session_version}"

    @property
    def is_active(self) -> bool:  # Flask-Login
        return self.active

    @property
    def two_factor_enabled(self) -> bool:
        return self.totp_enabled_at is not None

    def has_role(self, minimum: Role) -> bool:
        return self.role.rank >= minimum.rank
