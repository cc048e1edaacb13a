"""The rules of signing: take, sign, confirm, resend, and what the public sees.

A signature arrives in two steps. The request validates it and calls ``take_signature``,
which adds one ``SignatureIntake`` row (committed by the request) and nudges a worker;
the worker's ``process_intake`` then runs ``sign`` for each row: the supporter, their
consent, the signature with its dedupe, the confirmation email.
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from flask import abort, current_app
from flask_babel import force_locale, get_locale
from sqlalchemy import delete, func, insert, or_, select, update

from campaigns.audit.operations import record
from campaigns.core.celery import enqueue
from campaigns.core.db import after_commit, db, insert_row_ignoring_conflicts, utcnow
from campaigns.core.mail import queue_email
from campaigns.core.tokens import BadSignature, SignatureExpired, make_token, read_token
from campaigns.core.urls import external_url
from campaigns.petitions.models import Campaign
from campaigns.privacy.operations import mail_links
from campaigns.signatures.models import (
    COUNTED_STATES,
    Signature,
    SignatureCountChange,
    SignatureIntake,
    SignatureState,
)
from campaigns.supporters.models import Supporter
from campaigns.supporters.operations import canonical_email, supporter_acting

if TYPE_CHECKING:
    from campaigns.petitions.operations import CampaignToSign

log = logging.getLogger(__name__)

# bandit B105: a salt label, not a secret
TOKEN_PURPOSE = "confirm-signature"  # nosec B105


class CampaignClosed(Exception):
    """The campaign does not take signatures (not live, or past its deadline)."""


class InvalidLink(Exception):
    """The confirmation link is damaged or belongs to no signature."""


class ExpiredLink(Exception):
    """The confirmation link is older than CONFIRMATION_MAX_AGE."""


@dataclass(frozen=True)
class SignatureRequest:
    """What a signer submitted, already validated (by the form or the API)."""

    first_name: str
    last_name: str
    email: str
    country: str
    postcode: str | None = None
    comment: str | None = None
    public: bool = False
    consent_updates: bool = False
    #: the consent wording shown to the signer, stored with the consent
    consent_wording: str = ""
    #: where the signature came from: "web", "api", a utm_source ...
    source: str | None = None
    #: why it looks like abuse (campaigns/signatures/abuse.py); None for a person
    suspicion: str | None = None
    #: the client address, for abuse investigations
    ip_address: str | None = None
    utm_medium: str | None = None
    utm_campaign: str | None = None
    #: the host of the page that linked here (never the full address)
    referrer_host: str | None = None


def take_signature(campaign: CampaignToSign, request: SignatureRequest) -> None:
    """Accept a submitted signature: one intake row, which the request's commit makes durable.

    Everything else (supporter, consent, signature, confirmation email) is done by a
    worker in ``process_intake``, woken by a throttled nudge after the commit and by beat.
    The signer's answer does not depend on what the worker will find (new, already
    signed, suspicious), so it is the same now as it was when the request did it all.
    """
    if not campaign.accepts_signatures():
        raise CampaignClosed(campaign.slug)
    db.session.execute(_ADD_TO_INTAKE, dict(
        campaign_id=campaign.id, request=asdict(request),
        canonical_email=canonical_email(request.email), locale=str(get_locale() or "en"),
    ))
    after_commit(nudge_intake_worker)


#: the request's one statement, built once (a Core INSERT; its SQL is compiled once too)
_ADD_TO_INTAKE = insert(SignatureIntake.__table__)


#: monotonic time of this process's last nudge (see nudge_intake_worker)
_last_nudge = float("-inf")
_nudge_lock = threading.Lock()


def nudge_intake_worker() -> None:
    """Enqueue process_signature_intake, at most once per SIGNATURE_INTAKE_NUDGE_SECONDS
    in this process: an idle system signs within a moment, a busy one pays one broker
    publish per interval instead of one per signature. Beat runs the task anyway every
    SIGNATURE_INTAKE_SECONDS, so a nudge skipped or lost (broker down) only delays."""
    global _last_nudge
    now = time.monotonic()
    with _nudge_lock:
        if now - _last_nudge < current_app.config["SIGNATURE_INTAKE_NUDGE_SECONDS"]:
            return
        _last_nudge = now
    from campaigns.signatures.tasks import process_signature_intake

    enqueue(process_signature_intake)


#: failed attempts after which an intake row is left for a person to look at (its error logged)
INTAKE_MAX_ATTEMPTS = 5
#: rows still in the worker's hands; the others are held for a person (``held_intake``)
IN_THE_WORKERS_HANDS = SignatureIntake.attempts < INTAKE_MAX_ATTEMPTS


def process_intake(limit: int) -> int:
    """Sign up to ``limit`` submitted signatures, oldest first; returns how many were taken.

    The rows are claimed by deleting them (``DELETE ... RETURNING``; on PostgreSQL the
    subquery skips rows another worker holds, on SQLite the delete takes the single write
    lock first) and the caller commits the deletions with the signatures: a worker killed
    half-way leaves every row in place and nothing signed. Each row is signed in its own
    savepoint, so one that fails goes back into the intake (attempts + 1) without holding
    up the others.

    A submission is judged by when it was made, as a postmark: the request checked that
    the campaign took signatures, so one closed meanwhile still gets the signature its
    signer was told was on its way.
    """
    waiting = (select(SignatureIntake.id)
               .where(IN_THE_WORKERS_HANDS)
               .order_by(SignatureIntake.id).limit(limit)
               .with_for_update(skip_locked=True))
    rows = db.session.execute(
        delete(SignatureIntake).where(SignatureIntake.id.in_(waiting.scalar_subquery()))
        .returning(*SignatureIntake.__table__.columns)
        .execution_options(synchronize_session=False)
    ).all()
    for row in sorted(rows, key=lambda row: row.id):
        try:
            with db.session.begin_nested(), force_locale(row.locale):
                sign(db.session.get(Campaign, row.campaign_id), SignatureRequest(**row.request),
                     signed_at=row.created_at)
        except Exception as exc:  # a bug or a bad row: keep it, and go on with the others
            log.exception("signature intake %s: could not sign", row.id)
            db.session.execute(insert(SignatureIntake).values(
                **{**row._asdict(), "attempts": row.attempts + 1,
                   "last_error": f"{type(exc).__name__}: {exc}"[:500]}))
    return len(rows)


def held_intake(limit: int = 200) -> list[SignatureIntake]:
    """Submissions the worker gave up on (INTAKE_MAX_ATTEMPTS failures), oldest first."""
    return list(db.session.scalars(
        select(SignatureIntake).where(~IN_THE_WORKERS_HANDS)
        .order_by(SignatureIntake.id).limit(limit)))


def waiting_intake_count() -> int:
    """Submissions the worker has yet to record (held ones not included)."""
    return db.session.scalar(select(func.count()).select_from(SignatureIntake)
                             .where(IN_THE_WORKERS_HANDS)) or 0


def held_or_404(intake_id: int) -> SignatureIntake:
    """A held submission; one still in the worker's hands is not an admin's to touch."""
    intake = db.session.get(SignatureIntake, intake_id)
    if intake is None or intake.attempts < INTAKE_MAX_ATTEMPTS:
        abort(404)
    return intake


def retry_held(intake: SignatureIntake) -> None:
    """Give a held submission back to the worker (after the cause was fixed)."""
    record("signature_intake.retried", intake, campaign_id=intake.campaign_id,
           last_error=intake.last_error)
    intake.attempts = 0
    intake.last_error = None
    db.session.flush()
    after_commit(nudge_intake_worker)


def discard_held(intake: SignatureIntake) -> None:
    """Drop a held submission for good (a signer's data not to be kept without a signature)."""
    record("signature_intake.discarded", intake, campaign_id=intake.campaign_id,
           last_error=intake.last_error)
    db.session.delete(intake)
    db.session.flush()


def sign(campaign: Campaign, request: SignatureRequest,
         signed_at: datetime | None = None) -> Signature:
    """Record a pending signature and email the confirmation link.

    Signing again changes nothing visible: the answer is the same as the first time
    (so nobody learns who signed) and the email says "you already signed" instead.
    A suspicious request is stored as fraudulent, silently: no email, never counted.
    Whether the campaign takes signatures is the caller's check (``take_signature``).
    """
    suspicious = request.suspicion is not None
    supporter = supporter_acting(request, campaign_id=campaign.id,
                                 source=f"{request.source or 'web'}:petition:{campaign.slug}",
                                 acted_at=signed_at)
    now = utcnow()
    signature = insert_row_ignoring_conflicts(
        Signature,
        dict(campaign_id=campaign.id, supporter_id=supporter.id, public=request.public,
             comment=request.comment or None, source=request.source,
             utm_medium=request.utm_medium, utm_campaign=request.utm_campaign,
             referrer_host=request.referrer_host, created_at=signed_at or now,
             last_emailed_at=None if suspicious else now,
             state=SignatureState.FRAUDULENT if suspicious else SignatureState.PENDING,
             fraud_reason=request.suspicion, ip_address=request.ip_address),
        ["campaign_id", "supporter_id"],
    )
    if signature is not None:
        if not suspicious:
            send_confirmation_request(signature)
        return signature
    signature = db.session.execute(
        select(Signature).filter_by(campaign_id=campaign.id, supporter_id=supporter.id)
    ).scalar_one()
    if suspicious:
        return signature
    if signature.state == SignatureState.FRAUDULENT:
        # A flood used this person's address first; the person themselves may still sign.
        signature.state, signature.fraud_reason = SignatureState.PENDING, None
    if _may_email(signature):
        if signature.state == SignatureState.PENDING:
            send_confirmation_request(signature)
        else:
            notify_signer_of_existing_signature(signature)
    return signature


def _may_email(signature: Signature) -> bool:
    """Claim the right to email about this signature: at most once per interval."""
    now = utcnow()
    interval = timedelta(seconds=current_app.config["SIGNATURE_EMAIL_INTERVAL"])
    claimed = db.session.execute(
        update(Signature)
        .where(Signature.id == signature.id,
               or_(Signature.last_emailed_at.is_(None), Signature.last_emailed_at < now - interval))
        .values(last_emailed_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    return bool(claimed)


def confirmation_token(signature: Signature) -> str:
    return make_token(TOKEN_PURPOSE, [signature.id, signature.campaign_id])


def send_confirmation_request(signature: Signature) -> None:
    campaign, supporter = signature.campaign, signature.supporter
    links, headers = mail_links(supporter)
    queue_email(
        "signature_confirmation", supporter.email, "signatures/confirm_signature",
        headers=headers, **links, first_name=supporter.first_name, campaign=campaign,
        confirm_url=external_url("signatures.confirm", token=confirmation_token(signature)),
        campaign_url=external_url("petitions.show", slug=campaign.slug),
    )


def notify_signer_of_existing_signature(signature: Signature) -> None:
    campaign, supporter = signature.campaign, signature.supporter
    links, headers = mail_links(supporter)
    queue_email(
        "signature_already_signed", supporter.email, "signatures/already_signed",
        headers=headers, **links, first_name=supporter.first_name, campaign=campaign,
        campaign_url=external_url("petitions.show", slug=campaign.slug),
    )


def signature_from_token(token: str) -> Signature:
    """The signature a confirmation link is for; raises ExpiredLink or InvalidLink."""
    max_age = current_app.config["CONFIRMATION_MAX_AGE"]
    try:
        signature_id, campaign_id = read_token(TOKEN_PURPOSE, token, max_age=max_age)
    except SignatureExpired:
        raise ExpiredLink() from None
    except (BadSignature, ValueError, TypeError):
        raise InvalidLink() from None
    signature = db.session.get(Signature, signature_id)
    if signature is None or signature.campaign_id != campaign_id:
        raise InvalidLink()
    return signature


def confirm(signature: Signature) -> bool:
    """Count the signature. True when this call confirmed it, False if it already was.

    The state change is one conditional UPDATE, so two clicks at once count once.
    """
    changed = db.session.execute(
        update(Signature)
        .where(Signature.id == signature.id, Signature.state == SignatureState.PENDING)
        .values(state=SignatureState.CONFIRMED, confirmed_at=utcnow())
        .execution_options(synchronize_session=False)
    ).rowcount
    if changed:
        db.session.add(SignatureCountChange(campaign_id=signature.campaign_id, delta=+1))
        db.session.flush()
    db.session.refresh(signature)
    return bool(changed)


def invalidate(signature_id: int, reason: str) -> bool:
    """Strike a signature out; True when it was counted and the count goes down by one.

    Two conditional UPDATEs, so a confirmation racing with it is counted exactly once
    or not at all, and invalidating twice changes nothing.
    """
    values = dict(state=SignatureState.INVALIDATED, fraud_reason=reason[:40])
    was_counted = db.session.execute(
        update(Signature)
        .where(Signature.id == signature_id, Signature.state == SignatureState.CONFIRMED)
        .values(**values).execution_options(synchronize_session=False)
    ).rowcount
    if was_counted:
        campaign_id = db.session.scalar(select(Signature.campaign_id).filter_by(id=signature_id))
        db.session.add(SignatureCountChange(campaign_id=campaign_id, delta=-1))
        db.session.flush()
        return True
    db.session.execute(
        update(Signature)
        .where(Signature.id == signature_id,
               Signature.state.in_([SignatureState.PENDING, SignatureState.FRAUDULENT]))
        .values(**values).execution_options(synchronize_session=False)
    )
    return False


def resend_confirmation(campaign: Campaign, email: str) -> None:
    """Email the link again if this address has a pending signature here; silent otherwise."""
    signature = db.session.execute(
        select(Signature)
        .join(Supporter)
        .where(Signature.campaign_id == campaign.id,
               Supporter.canonical_email == canonical_email(email))
    ).scalar_one_or_none()
    if signature is None or signature.state != SignatureState.PENDING:
        return
    if _may_email(signature):
        send_confirmation_request(signature)


@dataclass(frozen=True)
class PublicSigner:
    first_name: str
    country: str
    comment: str | None
    signed_at: object


def recent_public_signers(campaign: Campaign, limit: int = 10) -> list[PublicSigner]:
    """Confirmed signers who chose to be shown: first name and country only.

    None at all while the campaign carries a risk flag.
    """
    if campaign.risk_flag:
        return []
    rows = db.session.execute(
        select(Supporter.first_name, Supporter.country, Signature.confirmed_at)
        .join(Signature.supporter)
        .where(Signature.campaign_id == campaign.id,
               Signature.state.in_(COUNTED_STATES),
               Signature.public.is_(True))
        .order_by(Signature.confirmed_at.desc())
        .limit(limit)
    ).all()
    # Comments appear only after moderation (the campaigner workspace adds it).
    return [PublicSigner(first_name=r.first_name, country=r.country, comment=None,
                         signed_at=r.confirmed_at) for r in rows]
