"""Finding and recording supporters, and their consents (append-only; the latest row counts)."""
from __future__ import annotations

from datetime import datetime
from typing import Protocol

from flask_babel import get_locale
from sqlalchemy import Select, func, select

from campaigns.core.db import db, insert_row_ignoring_conflicts, utcnow
from campaigns.supporters.models import Consent, ConsentPurpose, Supporter

#: providers where dots in the local part do not matter
DOT_BLIND_DOMAINS = {"gmail.com", "googlemail.com"}
DOMAIN_ALIASES = {"googlemail.com": "gmail.com"}


def canonical_email(address: str) -> str:
    """One form per mailbox: case folded, +tags dropped, Gmail dots removed."""
    local, _, domain = address.strip().rpartition("@")
    local, domain = local.lower(), domain.lower().rstrip(".")
    try:
        domain = domain.encode("idna").decode("ascii")
    except UnicodeError:
        pass
    local = local.split("+", 1)[0] or local
    if domain in DOT_BLIND_DOMAINS:
        local = local.replace(".", "")
    domain = DOMAIN_ALIASES.get(domain, domain)
    return f"{local}@{domain}"


def upsert_supporter(*, email: str, first_name: str, last_name: str, country: str,
                     postcode: str | None, locale: str) -> Supporter:
    """The supporter with this email, created if new.

    An existing supporter's details are left as they are: anybody can type anybody's
    address, so a form must not be a way to rename someone. Simultaneous requests for
    the same address end with one row: the unique constraint decides, without errors.
    """
    canonical = canonical_email(email)
    details = dict(email=email, first_name=first_name, last_name=last_name,
                   country=country, postcode=postcode or None, locale=locale)
    supporter = insert_row_ignoring_conflicts(
        Supporter, dict(canonical_email=canonical, **details), ["canonical_email"]
    )
    if supporter is not None:
        return supporter
    return db.session.execute(
        select(Supporter).filter_by(canonical_email=canonical)
    ).scalar_one()


def record_consent(supporter: Supporter, *, purpose: ConsentPurpose, granted: bool,
                   wording: str, source: str, campaign_id: int | None = None,
                   given_at: datetime | None = None) -> Consent:
    """Append a consent row; ``given_at`` when the person gave it earlier than now (a
    signature submitted before a worker recorded it)."""
    consent = Consent(supporter_id=supporter.id, purpose=purpose, granted=granted,
                      wording=wording, source=source, campaign_id=campaign_id,
                      created_at=given_at or utcnow())
    db.session.add(consent)
    return consent


# --- current consent ------------------------------------------------------------------
# Consents are append-only: the current one for a purpose is the latest row (highest id).


def current_consents(supporter: Supporter) -> dict[ConsentPurpose, Consent | None]:
    """Each purpose's current consent row, or None if the supporter was never asked."""
    rows = db.session.scalars(
        select(Consent).where(Consent.id.in_(
            select(func.max(Consent.id)).where(Consent.supporter_id == supporter.id)
            .group_by(Consent.purpose)
        ))
    ).all()
    found = {row.purpose: row for row in rows}
    return {purpose: found.get(purpose) for purpose in ConsentPurpose}


def consenting_supporter_ids(purpose: ConsentPurpose) -> Select:
    """SELECT of the ids of supporters whose current consent for ``purpose`` is granted."""
    latest = (
        select(func.max(Consent.id).label("id"))
        .where(Consent.purpose == purpose)
        .group_by(Consent.supporter_id)
        .subquery()
    )
    return (select(Consent.supporter_id)
            .join(latest, Consent.id == latest.c.id)
            .where(Consent.granted.is_(True)))


def withdraw_consents(supporter: Supporter, *, wording: str, source: str) -> list[Consent]:
    """Append a withdrawal for every purpose not already withdrawn; returns the new rows.

    A purpose never granted gets a withdrawal too: it records the wish not to be written to.
    """
    added = []
    for purpose, current in current_consents(supporter).items():
        if current is None or current.granted:
            added.append(record_consent(supporter, purpose=purpose, granted=False,
                                        wording=wording, source=source))
    db.session.flush()
    return added


class SupporterDetails(Protocol):
    """What a sign or write request says about the person (both request types have it)."""

    email: str
    first_name: str
    last_name: str
    country: str
    postcode: str | None
    consent_updates: bool
    consent_wording: str
    suspicion: str | None


def supporter_acting(details: SupporterDetails, *, campaign_id: int, source: str,
                     acted_at: datetime | None = None) -> Supporter:
    """The supporter behind a signature or a letter, created if new, with their consent to
    campaign updates recorded when they gave it (``acted_at``, default now; never for a
    suspicious request)."""
    supporter = upsert_supporter(
        email=details.email, first_name=details.first_name, last_name=details.last_name,
        country=details.country, postcode=details.postcode, locale=str(get_locale() or "en"),
    )
    if details.consent_updates and details.suspicion is None:
        record_consent(supporter, purpose=ConsentPurpose.CAMPAIGN_UPDATES, granted=True,
                       wording=details.consent_wording, campaign_id=campaign_id, source=source,
                       given_at=acted_at)
    return supporter
