"""Campaigns (petitions) and what they ask of each target."""
from __future__ import annotations

import enum
from datetime import date, datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import JSON, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from campaigns.core.db import NEVER_REUSE_IDS, TimestampMixin, db, enum_column, utcnow
from campaigns.replies.addresses import new_reply_token
from campaigns.targets.models import Target


class CampaignStatus(enum.StrEnum):
    DRAFT = "draft"
    REVIEW = "review"
    LIVE = "live"
    PAUSED = "paused"
    CLOSED = "closed"
    WON = "won"

    @property
    def label(self) -> str:
        return str(STATUS_LABELS[self])


STATUS_LABELS = {
    CampaignStatus.DRAFT: _l("Draft"),
    CampaignStatus.REVIEW: _l("In review"),
    CampaignStatus.LIVE: _l("Live"),
    CampaignStatus.PAUSED: _l("Paused"),
    CampaignStatus.CLOSED: _l("Closed"),
    CampaignStatus.WON: _l("Won"),
}
#: campaigns the public can open
VISIBLE_STATES = frozenset({CampaignStatus.LIVE, CampaignStatus.PAUSED,
                            CampaignStatus.CLOSED, CampaignStatus.WON})
#: campaigns listed on the home page and in the API
LISTED_STATES = frozenset({CampaignStatus.LIVE})
#: campaigns that take signatures (until their deadline)
SIGNABLE_STATES = frozenset({CampaignStatus.LIVE})


def signable(status: CampaignStatus, deadline: date | None, today: date | None = None) -> bool:
    """A campaign takes signatures while live and until the end of its deadline day."""
    today = today or utcnow().date()
    return status in SIGNABLE_STATES and (deadline is None or today <= deadline)
#: the allowed lifecycle moves; the campaigner workspace enforces them
TRANSITIONS = {
    CampaignStatus.DRAFT: {CampaignStatus.REVIEW},
    CampaignStatus.REVIEW: {CampaignStatus.DRAFT, CampaignStatus.LIVE},
    CampaignStatus.LIVE: {CampaignStatus.PAUSED, CampaignStatus.CLOSED, CampaignStatus.WON},
    CampaignStatus.PAUSED: {CampaignStatus.LIVE, CampaignStatus.CLOSED, CampaignStatus.WON},
    CampaignStatus.CLOSED: set(),
    CampaignStatus.WON: set(),
}
#: moves that need someone other than the campaigner who asked for them: an admin, or a
#: second campaigner (never the one who submitted the campaign for review)
SECOND_PAIR_OF_EYES = frozenset({(CampaignStatus.REVIEW, CampaignStatus.LIVE)})
#: escalations: moves that add pressure and so need a current worker consultation
#: (other escalation hooks call campaigns.consultations.operations.can_escalate)
ESCALATIONS = frozenset({(CampaignStatus.REVIEW, CampaignStatus.LIVE),
                         (CampaignStatus.PAUSED, CampaignStatus.LIVE)})
#: campaigns whose content may still be changed in the workspace
EDITABLE_STATES = frozenset({CampaignStatus.DRAFT, CampaignStatus.REVIEW,
                             CampaignStatus.LIVE, CampaignStatus.PAUSED})
#: languages a campaign can be offered in (ISO 639-1)
CAMPAIGN_LANGUAGES = ("en", "fr", "de", "es", "nl", "it", "pt", "bn", "km", "my", "si",
                      "ta", "hi", "ur", "id", "vi", "tr", "ar", "zh")


class Campaign(TimestampMixin, db.Model):
    """A public cause aimed at one or more targets; here, with a petition."""

    __tablename__ = "campaign"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    #: one or two sentences shown in lists and previews
    summary: Mapped[str] = mapped_column(String(500))
    #: the story in Markdown, sanitised when rendered
    story: Mapped[str] = mapped_column(Text, default="")
    #: signatures wanted
    goal: Mapped[int] = mapped_column(default=1000)
    #: last day to sign (inclusive), if any
    deadline: Mapped[date | None]
    status: Mapped[CampaignStatus] = enum_column(CampaignStatus, default=CampaignStatus.DRAFT,
                                                 index=True)
    #: the campaign's image, if any: a path under static/ (demo images), or
    #: "media/<file>" for an uploaded one (stored under the instance folder, see core/uploads.py)
    image: Mapped[str | None] = mapped_column(String(300))
    #: text describing the image for people who cannot see it
    image_alt: Mapped[str] = mapped_column(String(300), default="")
    #: confirmed signatures, folded in by a background job (never +1 per request)
    signature_count: Mapped[int] = mapped_column(default=0)
    #: signatures collected on paper or offline, kept by campaigns.paper.operations
    offline_count: Mapped[int] = mapped_column(default=0, server_default="0")
    launched_at: Mapped[datetime | None]
    #: money wanted for this campaign, in cents; None: no fundraising progress bar
    fundraising_target: Mapped[int | None]
    #: suggested gift amounts in cents; None: the deployment's DONATION_PRESETS
    donation_presets: Mapped[list[int] | None] = mapped_column(JSON)
    #: workers could face retaliation: every public list of names is hidden
    risk_flag: Mapped[bool] = mapped_column(default=False)
    #: under attack: the sign form asks the browser for a proof of work (self-hosted ALTCHA)
    proof_of_work: Mapped[bool] = mapped_column(default=False)
    #: an urgent appeal (shown as such; e.g. dismissed union leaders, a factory fire)
    urgent: Mapped[bool] = mapped_column(default=False)
    #: the languages the campaign is offered in (ISO 639-1 codes)
    languages: Mapped[list[str]] = mapped_column(JSON, default=lambda: ["en"])
    #: who last submitted the campaign for review; they may not approve it themselves
    submitted_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("campaigner.id", ondelete="SET NULL")
    )
    #: the member organisation running the campaign; its campaigners may manage it
    organisation_id: Mapped[int | None] = mapped_column(
        ForeignKey("organisation.id", ondelete="SET NULL"), index=True
    )

    targets: Mapped[list[CampaignTarget]] = relationship(
        back_populates="campaign", order_by="CampaignTarget.position",
        cascade="all, delete-orphan",
    )

    @property
    def is_visible(self) -> bool:
        return self.status in VISIBLE_STATES

    def accepts_signatures(self, today: date | None = None) -> bool:
        return signable(self.status, self.deadline, today)

    @property
    def public_count(self) -> int:
        """The number the public sees: confirmed online signatures plus paper batches."""
        return (self.signature_count or 0) + (self.offline_count or 0)

    @property
    def progress_goal(self) -> int:
        """The goal, raised in steps once passed, so the bar always has room to grow."""
        goal = max(self.goal, 1)
        while self.public_count >= goal:
            goal *= 2
        return goal


class CampaignTarget(db.Model):
    """A target of a campaign and the ask to it (the workers' demands for this target)."""

    __tablename__ = "campaign_target"
    __table_args__ = (UniqueConstraint("campaign_id", "target_id"), NEVER_REUSE_IDS)

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id", ondelete="CASCADE"))
    target_id: Mapped[int] = mapped_column(ForeignKey("target.id", ondelete="RESTRICT"), index=True)
    #: what the campaign asks of this target, in Markdown
    ask: Mapped[str] = mapped_column(Text, default="")
    position: Mapped[int] = mapped_column(default=0)
    #: names this campaign x target thread in its reply address (reply+<token>@REPLY_DOMAIN)
    reply_token: Mapped[str] = mapped_column(String(32), unique=True, default=new_reply_token)

    campaign: Mapped[Campaign] = relationship(back_populates="targets")
    target: Mapped[Target] = relationship()
