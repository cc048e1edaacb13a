"""The target registry: companies and government bodies, their contacts, what is asked of them."""
from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from campaigns.audit.operations import record
from campaigns.core.db import db
from campaigns.petitions.models import VISIBLE_STATES, Campaign, CampaignTarget
from campaigns.targets.models import Contact, Target

TARGET_FIELDS = ("name", "slug", "kind", "country", "website", "description")
CONTACT_FIELDS = ("name", "role", "email", "email_public", "active")


def all_targets() -> list[Target]:
    return list(db.session.scalars(select(Target).order_by(Target.name)))


def find_target(slug: str) -> Target | None:
    return db.session.scalars(select(Target).filter_by(slug=slug)).first()


def slug_taken(slug: str, target: Target | None = None) -> bool:
    query = select(Target.id).where(Target.slug == slug)
    if target is not None:
        query = query.where(Target.id != target.id)
    return db.session.scalar(query) is not None


def _changes(obj: Any, fields: dict, names: tuple[str, ...]) -> dict:
    """Set the fields that differ; return {name: [old, new]} for the audit log."""
    changed = {}
    for name in names:
        if name in fields and getattr(obj, name) != fields[name]:
            changed[name] = [_plain(getattr(obj, name)), _plain(fields[name])]
            setattr(obj, name, fields[name])
    return changed


def _plain(value: Any) -> Any:
    return value.value if hasattr(value, "value") else value


def create_target(**fields: Any) -> Target:
    target = Target(**{name: fields[name] for name in TARGET_FIELDS if name in fields})
    db.session.add(target)
    db.session.flush()
    record("target.created", target, slug=target.slug, name=target.name, kind=target.kind.value)
    return target


def update_target(target: Target, **fields: Any) -> dict:
    changed = _changes(target, fields, TARGET_FIELDS)
    if changed:
        db.session.flush()
        record("target.edited", target, slug=target.slug, changes=changed)
    return changed


def add_contact(target: Target, **fields: Any) -> Contact:
    contact = Contact(target_id=target.id, **{name: fields[name] for name in CONTACT_FIELDS if name in fields})
    db.session.add(contact)
    db.session.flush()
    record("contact.created", contact, target=target.slug, name=contact.name, role=contact.role,
           email=contact.email, email_public=contact.email_public, active=contact.active)
    return contact


def update_contact(contact: Contact, **fields: Any) -> dict:
    """Change a contact; every change is audited with the old and new values."""
    changed = _changes(contact, fields, CONTACT_FIELDS)
    if changed:
        db.session.flush()
        record("contact.edited", contact, target=contact.target.slug, changes=changed)
    return changed


def visible_campaigns_for(target: Target) -> list[CampaignTarget]:
    """What the public may see of the campaigns aimed at a target, with the ask to it."""
    return list(db.session.scalars(
        select(CampaignTarget).join(CampaignTarget.campaign)
        .where(CampaignTarget.target_id == target.id, Campaign.status.in_(VISIBLE_STATES))
        .options(selectinload(CampaignTarget.campaign))
        .order_by(Campaign.launched_at.desc().nulls_last(), Campaign.id.desc())
    ))
