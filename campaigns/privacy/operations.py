"""The rules of supporters' rights: one-click unsubscribe, preferences, export, erasure, retention.

Links in emails carry a signed token naming the supporter and a fingerprint of their
canonical email, so they stop working once the supporter is erased. The links never
expire: an unsubscribe link must work for as long as the email is in someone's inbox.
"""
from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import String, cast, delete, exists, func, literal, select, update

from campaigns.audit.operations import record
from campaigns.core.db import db, utcnow
from campaigns.core.mail import EmailState, OutgoingEmail, queue_email
from campaigns.core.tokens import BadSignature, make_token, read_token
from campaigns.core.urls import external_url
from campaigns.petitions.models import Campaign, CampaignStatus
from campaigns.signatures.models import Signature, SignatureIntake
from campaigns.supporters.models import ConsentPurpose, Supporter
from campaigns.supporters.operations import (
    canonical_email,
    consenting_supporter_ids,
    current_consents,
    record_consent,
    withdraw_consents,
)

UNSUBSCRIBE_PURPOSE = "unsubscribe"
PREFERENCES_PURPOSE = "preferences"
#: campaigns whose signers the retention job anonymises once they ended long enough ago
ENDED_STATES = frozenset({CampaignStatus.CLOSED, CampaignStatus.WON})
RETENTION_BATCH = 500

#: stored with the consent rows written on the supporter's behalf
UNSUBSCRIBE_WORDING = _l("Unsubscribe from all emails about campaigns (one-click link).")
PREFERENCES_WORDING = _l("Send me news and calls to action about campaigns for workers' rights.")
ERASURE_WORDING = _l("My personal data was erased.")


class InvalidLink(Exception):
    """The link is damaged, or its supporter no longer exists or was erased."""


# --- links in emails -------------------------------------------------------------------

def _fingerprint(supporter: Supporter) -> str:
    return hashlib.sha256(supporter.canonical_email.encode()).hexdigest()[:16]


def supporter_token(purpose: str, supporter: Supporter) -> str:
    return make_token(purpose, [supporter.id, _fingerprint(supporter)])


def supporter_from_token(purpose: str, token: str) -> Supporter:
    """The supporter a link is for; raises InvalidLink."""
    try:
        supporter_id, fingerprint = read_token(purpose, token, max_age=None)
    except (BadSignature, ValueError, TypeError):
        raise InvalidLink() from None
    supporter = db.session.get(Supporter, supporter_id) if isinstance(supporter_id, int) else None
    if supporter is None or supporter.erased_at is not None or _fingerprint(supporter) != fingerprint:
        raise InvalidLink()
    return supporter


def mail_links(supporter: Supporter) -> tuple[dict[str, str], dict[str, str]]:
    """The footer links (template context) and the RFC 8058 headers for an email to a supporter."""
    unsubscribe_url = external_url("privacy.unsubscribe",
                                   token=supporter_token(UNSUBSCRIBE_PURPOSE, supporter))
    preferences_url = external_url("privacy.preferences",
                                   token=supporter_token(PREFERENCES_PURPOSE, supporter))
    targets = [f"<{unsubscribe_url}>"]
    if current_app.config.get("LIST_UNSUBSCRIBE_MAILTO"):
        targets.append(f"<mailto:{current_app.config['LIST_UNSUBSCRIBE_MAILTO']}>")
    headers = {"List-Unsubscribe": ", ".join(targets),
               "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}
    return {"unsubscribe_url": unsubscribe_url, "preferences_url": preferences_url}, headers


# --- consents ------------------------------------------------------------------------------

def unsubscribe(supporter: Supporter) -> bool:
    """Withdraw every consent (a new row per purpose). True when something was withdrawn."""
    added = withdraw_consents(supporter, wording=str(UNSUBSCRIBE_WORDING), source="unsubscribe-link")
    if added:
        record("supporter.unsubscribed", subject=supporter, actor=None)
    return bool(added)


def set_campaign_updates(supporter: Supporter, wanted: bool) -> bool:
    """Grant or withdraw the campaign-updates consent from the preferences page, if it changes."""
    current = current_consents(supporter)[ConsentPurpose.CAMPAIGN_UPDATES]
    if (current is not None and current.granted) == wanted:
        return False
    record_consent(supporter, purpose=ConsentPurpose.CAMPAIGN_UPDATES, granted=wanted,
                   wording=str(PREFERENCES_WORDING), source="preferences-page")
    db.session.flush()
    record("supporter.consent_changed", subject=supporter, actor=None,
           purpose=ConsentPurpose.CAMPAIGN_UPDATES.value, granted=wanted)
    return True


# --- export --------------------------------------------------------------------------------

def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def export_data(supporter: Supporter) -> dict[str, Any]:
    """Everything we hold about a supporter, as plain JSON-ready data."""
    from campaigns.updates.models import CampaignUpdate, CampaignUpdateRecipient

    signatures = db.session.execute(
        select(Signature, Campaign.slug, Campaign.title).join(Signature.campaign)
        .where(Signature.supporter_id == supporter.id).order_by(Signature.id)
    ).all()
    updates = db.session.execute(
        select(CampaignUpdate.subject, Campaign.slug, CampaignUpdateRecipient.created_at)
        .join(CampaignUpdate, CampaignUpdateRecipient.update_id == CampaignUpdate.id)
        .join(Campaign, CampaignUpdate.campaign_id == Campaign.id)
        .where(CampaignUpdateRecipient.supporter_id == supporter.id)
        .order_by(CampaignUpdateRecipient.id)
    ).all()
    # submitted moments ago (or while the worker was away): not a signature yet, but ours
    waiting = db.session.execute(
        select(SignatureIntake, Campaign.slug, Campaign.title).join(
            Campaign, SignatureIntake.campaign_id == Campaign.id)
        .where(SignatureIntake.canonical_email == supporter.canonical_email)
        .order_by(SignatureIntake.id)
    ).all()
    return {
        "exported_at": _iso(utcnow()),
        "supporter": {
            "email": supporter.email, "first_name": supporter.first_name,
            "last_name": supporter.last_name, "country": supporter.country,
            "postcode": supporter.postcode, "language": supporter.locale,
            "first_seen": _iso(supporter.created_at),
        },
        "consents": [
            {"purpose": c.purpose.value, "granted": c.granted, "wording": c.wording,
             "source": c.source, "at": _iso(c.created_at)}
            for c in supporter.consents
        ],
        "signatures": [
            {"campaign": slug, "title": title, "state": s.state.value, "public": s.public,
             "comment": s.comment, "source": s.source, "signed_at": _iso(s.created_at),
             "confirmed_at": _iso(s.confirmed_at)}
            for s, slug, title in signatures
        ] + [
            {"campaign": slug, "title": title, "state": "submitted",
             "public": i.request.get("public", False), "comment": i.request.get("comment"),
             "source": i.request.get("source"), "signed_at": _iso(i.created_at),
             "confirmed_at": None}
            for i, slug, title in waiting
        ],
        "letters": _letters_export(supporter),
        "campaign_updates_sent": [
            {"campaign": slug, "subject": subject, "at": _iso(at)} for subject, slug, at in updates
        ],
    }


def _letters_export(supporter: Supporter) -> list[dict[str, Any]]:
    from campaigns.actions.operations import letters_of

    return [{"campaign": slug, "to": f"{letter.contact.name}, {letter.contact.role}",
             "subject": letter.subject, "body": letter.body, "state": letter.state.value,
             "written_at": _iso(letter.created_at), "confirmed_at": _iso(letter.confirmed_at),
             "sent_at": _iso(letter.sent_at)}
            for letter, slug in letters_of(supporter)]


def send_data_export(supporter: Supporter, requested_by: str) -> None:
    """Email the supporter their data (JSON inline), only ever to their own address."""
    links, headers = mail_links(supporter)
    queue_email("supporter_data_export", supporter.email, "privacy/data_export", headers=headers,
                first_name=supporter.first_name,
                export_json=json.dumps(export_data(supporter), indent=2, ensure_ascii=False),
                **links)
    record("supporter.export_sent", subject=supporter, requested_by=requested_by)


# --- erasure and retention ----------------------------------------------------------------

def erase(supporter: Supporter) -> bool:
    """Anonymise a supporter in place; their signatures stay confirmed and counted.

    Names blanked, postcode removed, email replaced by a placeholder that keeps the unique
    constraint, comments removed and public display off, consents withdrawn (new rows),
    the outbox's copies of emails to them emptied, and what they submitted that no worker
    has signed yet deleted. False if already erased.
    """
    if supporter.erased_at is not None:
        return False
    address = supporter.email
    # first, so that on PostgreSQL this waits for a worker signing one of these rows and
    # the signatures' update below then sees the signature it recorded
    db.session.execute(
        delete(SignatureIntake).where(SignatureIntake.canonical_email == supporter.canonical_email)
        .execution_options(synchronize_session=False)
    )
    withdraw_consents(supporter, wording=str(ERASURE_WORDING), source="erasure")
    placeholder = f"erased-{supporter.id}@invalid"
    supporter.canonical_email = placeholder
    supporter.email = placeholder
    supporter.first_name = ""
    supporter.last_name = ""
    supporter.postcode = None
    supporter.erased_at = utcnow()
    db.session.execute(
        update(Signature).where(Signature.supporter_id == supporter.id)
        .values(comment=None, public=False).execution_options(synchronize_session=False)
    )
    from campaigns.actions.operations import erase_letters

    erase_letters(supporter)
    mail_to_them = func.lower(OutgoingEmail.to_address).in_({address.lower(), canonical_email(address)})
    db.session.execute(
        update(OutgoingEmail).where(mail_to_them, OutgoingEmail.state == EmailState.QUEUED)
        .values(state=EmailState.FAILED, last_error="recipient erased")
        .execution_options(synchronize_session=False)
    )
    db.session.execute(
        update(OutgoingEmail).where(mail_to_them)
        .values(to_address=placeholder, subject="", text_body="", html_body=None, headers={})
        .execution_options(synchronize_session=False)
    )
    db.session.flush()
    return True


def erase_on_request(supporter: Supporter, requested_by: str) -> bool:
    """Erase at the supporter's request (from their preferences page or through an admin)."""
    erased = erase(supporter)
    if erased:
        record("supporter.erased", subject=supporter, requested_by=requested_by)
    return erased


def expired_signers(now: datetime | None = None) -> Any:
    """Supporters past retention: every campaign they signed or wrote letters on ended
    (closed or won) more than SUPPORTER_RETENTION_DAYS ago, and they do not currently
    consent to campaign updates.

    A campaign has no closed-at yet: its updated_at stands in (a closed campaign changes
    status no more, and later edits only postpone the erasure, never hasten it).
    """
    from campaigns.actions.models import Letter

    now = now or utcnow()
    cutoff = now - timedelta(days=current_app.config["SUPPORTER_RETENTION_DAYS"])
    ended_long_ago = Campaign.status.in_(ENDED_STATES) & (Campaign.updated_at < cutoff)

    def acted(model: Any) -> Any:
        return exists(select(model.id).where(model.supporter_id == Supporter.id))

    def still_needed(model: Any) -> Any:
        return exists(select(model.id).join(Campaign, Campaign.id == model.campaign_id)
                      .where(model.supporter_id == Supporter.id, ~ended_long_ago))

    return (
        select(Supporter)
        .where(Supporter.erased_at.is_(None),
               acted(Signature) | acted(Letter),
               ~still_needed(Signature), ~still_needed(Letter),
               Supporter.id.not_in(consenting_supporter_ids(ConsentPurpose.CAMPAIGN_UPDATES)))
        .order_by(Supporter.id)
    )


def anonymise_expired_batch(limit: int = RETENTION_BATCH) -> int:
    """Erase up to ``limit`` supporters past retention; returns how many."""
    supporters = db.session.scalars(expired_signers().limit(limit)).all()
    for supporter in supporters:
        erase(supporter)
    return len(supporters)


def purge_old_outbox_copies(now: datetime | None = None) -> int:
    """Empty the outbox's copies of emails that went out (or failed for good) more than
    OUTBOX_RETENTION_DAYS ago; returns how many. They carry names, addresses, letters'
    texts and confirmation links, and nothing needs them once delivery is settled: the
    row keeps its kind, state, dates and Message-ID, for the statistics and for a late
    bounce to be recognised. Letters' emails prepared ahead whose letter is gone are
    deleted (they were never sent).
    """
    from campaigns.actions.operations import drop_orphaned_prepared_emails

    now = now or utcnow()
    cutoff = now - timedelta(days=current_app.config["OUTBOX_RETENTION_DAYS"])
    settled = OutgoingEmail.state.in_([EmailState.SENT, EmailState.FAILED])
    return drop_orphaned_prepared_emails() + db.session.execute(
        update(OutgoingEmail)
        .where(settled, OutgoingEmail.created_at < cutoff, OutgoingEmail.text_body != "")
        .values(to_address=literal("purged-") + cast(OutgoingEmail.id, String) + "@invalid",
                from_address=None, reply_to=None, subject="", text_body="", html_body=None,
                headers={})
        .execution_options(synchronize_session=False)
    ).rowcount


# --- the workspace -------------------------------------------------------------------------

def find_supporter(email: str) -> Supporter | None:
    """The supporter with exactly this address (canonical form); never a partial match."""
    return db.session.scalars(
        select(Supporter).where(Supporter.canonical_email == canonical_email(email),
                                Supporter.erased_at.is_(None))
    ).first()


def signatures_visible_to(campaigner: Any, supporter: Supporter) -> list[Signature]:
    """The supporter's signatures on campaigns this campaigner manages."""
    from campaigns.accounts.policy import can_manage_campaign

    signatures = db.session.scalars(
        select(Signature).where(Signature.supporter_id == supporter.id).order_by(Signature.id)
    ).all()
    return [s for s in signatures if can_manage_campaign(campaigner, s.campaign)]
