"""Reading campaigns as the public sees them."""
from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import date
from typing import Any

from flask import abort, current_app
from flask_babel import gettext as _
from sqlalchemy import bindparam, event, select
from sqlalchemy.orm import Session, selectinload

from campaigns.audit.operations import record
from campaigns.core.db import db, utcnow
from campaigns.petitions.models import (
    EDITABLE_STATES, ESCALATIONS, LISTED_STATES, SECOND_PAIR_OF_EYES, TRANSITIONS, VISIBLE_STATES,
    Campaign, CampaignStatus, CampaignTarget, signable,
)


def _with_targets():
    return selectinload(Campaign.targets).selectinload(CampaignTarget.target)


def listed_campaigns() -> list[Campaign]:
    """Live campaigns, newest launch first."""
    return list(db.session.scalars(
        select(Campaign)
        .where(Campaign.status.in_(LISTED_STATES))
        .options(_with_targets())
        .order_by(Campaign.launched_at.desc().nulls_last(), Campaign.id.desc())
    ))


#: built once: SQLAlchemy memoizes a statement's cache key on the statement object, so a
#: statement built per call costs two thirds of the lookup (0.6 of 0.9 ms) before it runs
_VISIBLE_CAMPAIGN = select(Campaign).where(Campaign.slug == bindparam("slug"),
                                           Campaign.status.in_(VISIBLE_STATES))
_VISIBLE_CAMPAIGN_WITH_TARGETS = _VISIBLE_CAMPAIGN.options(_with_targets())


def find_visible_campaign(slug: str) -> Campaign | None:
    """A campaign the public may see, with its targets (the signing doors read less:
    ``campaign_to_sign``)."""
    return db.session.scalars(_VISIBLE_CAMPAIGN_WITH_TARGETS, {"slug": slug}).first()


@dataclass(frozen=True, slots=True)
class CampaignToSign:
    """What taking a signature reads of a campaign, as this process last saw it."""

    id: int
    slug: str
    status: CampaignStatus
    deadline: date | None
    proof_of_work: bool

    def accepts_signatures(self, today: date | None = None) -> bool:
        return signable(self.status, self.deadline, today)


#: slug -> (monotonic time read, the campaign or None when not visible)
_to_sign: OrderedDict[str, tuple[float, CampaignToSign | None]] = OrderedDict()
_to_sign_lock = threading.Lock()
_TO_SIGN_MAX_ENTRIES = 2000
_TO_SIGN = select(Campaign.id, Campaign.slug, Campaign.status, Campaign.deadline,
                  Campaign.proof_of_work).where(Campaign.slug == bindparam("slug"),
                                                Campaign.status.in_(VISIBLE_STATES))


def campaign_to_sign(slug: str) -> CampaignToSign | None:
    """The visible campaign ``slug`` for the signing doors, or None.

    During a surge every signature asks the same question about the same campaign, so each
    process keeps the answer for CAMPAIGN_SIGN_SNAPSHOT_SECONDS (a fifth of a signing
    request's work). A change made in this process is seen at once (``_forget_on_commit``);
    one made in another process, such as closing the campaign or switching on the proof of
    work, within that interval. A signature taken in between is processed like any other,
    as one submitted just before the change would be.
    """
    max_age = current_app.config["CAMPAIGN_SIGN_SNAPSHOT_SECONDS"]
    now = time.monotonic()
    entry = _to_sign.get(slug) if max_age > 0 else None
    if entry is not None and now - entry[0] <= max_age:
        return entry[1]
    row = db.session.execute(_TO_SIGN, {"slug": slug}).first()
    campaign = CampaignToSign(*row) if row is not None else None
    if max_age > 0:
        with _to_sign_lock:
            _to_sign[slug] = (now, campaign)
            _to_sign.move_to_end(slug)
            while len(_to_sign) > _TO_SIGN_MAX_ENTRIES:
                _to_sign.popitem(last=False)
    return campaign


def forget_campaigns_to_sign() -> None:
    with _to_sign_lock:
        _to_sign.clear()


_CAMPAIGN_CHANGED = "threadline.campaign_changed"


@event.listens_for(Session, "after_flush")
def _note_campaign_changes(session: Session, flush_context: Any) -> None:
    if any(isinstance(obj, Campaign) for obj in (*session.new, *session.dirty, *session.deleted)):
        session.info[_CAMPAIGN_CHANGED] = True
        forget_campaigns_to_sign()


@event.listens_for(Session, "after_commit")
def _forget_on_commit(session: Session) -> None:
    # forgotten at the flush already; again now, in case another thread of this process
    # read the old row between the flush and the commit
    if session.info.pop(_CAMPAIGN_CHANGED, False):
        forget_campaigns_to_sign()


@event.listens_for(Session, "after_soft_rollback")
def _drop_note(session: Session, previous_transaction: Any) -> None:
    if not previous_transaction.nested:
        session.info.pop(_CAMPAIGN_CHANGED, None)


def visible_campaign_or_404(slug: str) -> Campaign:
    campaign = find_visible_campaign(slug)
    if campaign is None:
        abort(404)
    return campaign


# --- The campaign lifecycle, as campaigners run it in the workspace ------------------------

class LifecycleRefused(Exception):
    """A lifecycle change the rules do not allow; the message is for the campaigner."""


@dataclass(frozen=True)
class TargetAsk:
    target_id: int
    ask: str


#: the fields of a campaign that the workspace form edits, besides targets and image
EDITABLE_FIELDS = ("title", "slug", "summary", "story", "goal", "deadline", "image_alt",
                   "languages", "urgent", "risk_flag", "proof_of_work")
#: what update_campaign() may change (only admins choose the organisation)
UPDATABLE_FIELDS = (*EDITABLE_FIELDS, "organisation_id")


def slug_taken(slug: str, campaign: Campaign | None = None) -> bool:
    query = select(Campaign.id).where(Campaign.slug == slug)
    if campaign is not None and campaign.id is not None:
        query = query.where(Campaign.id != campaign.id)
    return db.session.scalar(query) is not None


def _set_targets(campaign: Campaign, asks: list[TargetAsk]) -> None:
    """Replace the campaign's targets, keeping rows (and their ids) of targets that stay."""
    existing = {link.target_id: link for link in campaign.targets}
    links = []
    for position, item in enumerate(asks):
        link = existing.pop(item.target_id, None) or CampaignTarget(target_id=item.target_id)
        link.ask = item.ask
        link.position = position
        links.append(link)
    campaign.targets = links


def create_campaign(*, organisation_id: int | None, asks: list[TargetAsk], image: str | None = None,
                    **fields: Any) -> Campaign:
    """A new draft campaign."""
    campaign = Campaign(status=CampaignStatus.DRAFT, organisation_id=organisation_id, image=image,
                        **{name: fields[name] for name in EDITABLE_FIELDS if name in fields})
    _set_targets(campaign, asks)
    db.session.add(campaign)
    db.session.flush()
    record("campaign.created", campaign, slug=campaign.slug, title=campaign.title,
           targets=[item.target_id for item in asks])
    return campaign


def update_campaign(campaign: Campaign, *, asks: list[TargetAsk], image: str | None = None,
                    **fields: Any) -> list[str]:
    """Change a campaign's content; returns the names of the fields that changed."""
    if campaign.status not in EDITABLE_STATES:
        raise LifecycleRefused(_("A %(state)s campaign can no longer be changed.",
                                 state=campaign.status.label.lower()))
    changed = []
    for name in UPDATABLE_FIELDS:
        if name in fields and getattr(campaign, name) != fields[name]:
            setattr(campaign, name, fields[name])
            changed.append(name)
    if image is not None and image != campaign.image:
        campaign.image = image
        changed.append("image")
    before = [(link.target_id, link.ask) for link in campaign.targets]
    _set_targets(campaign, asks)
    if [(link.target_id, link.ask) for link in campaign.targets] != before:
        changed.append("targets")
    if changed:
        db.session.flush()
        record("campaign.edited", campaign, slug=campaign.slug, fields=changed,
               status=campaign.status.value)
    return changed


def transition_problem(campaign: Campaign, new_status: CampaignStatus, campaigner: Any,
                       today: date | None = None) -> str | None:
    """Why ``campaigner`` may not move the campaign to ``new_status`` now, or None if they may.

    The rules, in one place: the move must be in TRANSITIONS; a move in
    SECOND_PAIR_OF_EYES needs an admin or a campaigner other than the submitter; an
    escalation (ESCALATIONS) needs a current worker consultation; a live campaign needs
    at least one target.
    """
    from campaigns.accounts.models import Role
    from campaigns.consultations.operations import can_escalate

    move = (campaign.status, new_status)
    if new_status not in TRANSITIONS[campaign.status]:
        return _("A campaign cannot go from %(old)s to %(new)s.",
                 old=campaign.status.label.lower(), new=new_status.label.lower())
    if move in SECOND_PAIR_OF_EYES and campaigner.role != Role.ADMIN \
            and campaign.submitted_by_id in (None, campaigner.id):
        return _("Someone else must approve it: an admin, or a campaigner other than the one "
                 "who submitted it for review.")
    if move in ESCALATIONS and not can_escalate(campaign, today):
        return _("The campaign needs a current worker consultation record first: the workers "
                 "or their representatives must have asked for it and approved it.")
    if new_status == CampaignStatus.LIVE and not campaign.targets:
        return _("Choose at least one target before the campaign goes live.")
    return None


def allowed_transitions(campaign: Campaign, campaigner: Any) -> list[CampaignStatus]:
    """The moves ``campaigner`` may make now, in the order of CampaignStatus."""
    return [status for status in CampaignStatus
            if status in TRANSITIONS[campaign.status]
            and transition_problem(campaign, status, campaigner) is None]


def change_status(campaign: Campaign, new_status: CampaignStatus, campaigner: Any,
                  note: str = "") -> None:
    """Move the campaign along its lifecycle, or raise LifecycleRefused; always audited."""
    # lock the row and read its state afresh: two approvers at once move it once
    db.session.refresh(campaign, with_for_update=True)
    problem = transition_problem(campaign, new_status, campaigner)
    old = campaign.status
    if problem:
        raise LifecycleRefused(problem)
    campaign.status = new_status
    if new_status == CampaignStatus.REVIEW:
        campaign.submitted_by_id = campaigner.id
    if new_status == CampaignStatus.LIVE and campaign.launched_at is None:
        campaign.launched_at = utcnow()
    db.session.flush()
    record("campaign.status_changed", campaign, old=old.value, new=new_status.value,
           **({"note": note} if note else {}))
