"""The rules of letters to targets: write, confirm, release at each contact's pace, follow
delivery and bounces, pause, resume and cancel.

Every change of a letter's state goes through ``move()`` and ``TRANSITIONS`` (models.py).
"""
from __future__ import annotations

import email.utils
import functools
import hashlib
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import current_app
from flask_babel import force_locale
from sqlalchemy import ColumnElement, and_, bindparam, case, delete, func, insert, or_, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import joinedload
from sqlalchemy.orm.util import identity_key

from campaigns.actions.models import (
    CANCELLABLE_STATES,
    CONFIRMED_STATES,
    TRANSITIONS,
    ActionTarget,
    DeliveryMode,
    EmailAction,
    Letter,
    LetterState,
)
from campaigns.audit.operations import record
from campaigns.core.db import db, insert_ignoring_conflicts, utcnow
from campaigns.core.mail import (
    EMAILS_DIR,
    Delivery,
    EmailState,
    OutgoingEmail,
    on_delivery,
    queue_email,
    render_email,
    render_text_email,
)
from campaigns.core.tokens import BadSignature, SignatureExpired, make_token, read_token
from campaigns.core.urls import external_url
from campaigns.petitions.models import Campaign, CampaignTarget
from campaigns.privacy.operations import mail_links
from campaigns.replies.addresses import reply_address
from campaigns.supporters.models import Supporter
from campaigns.supporters.operations import supporter_acting
from campaigns.targets.models import Contact

# bandit B105: a salt label, not a secret
TOKEN_PURPOSE = "confirm-letters"  # nosec B105
LETTER_KIND = "letter"
DIGEST_KIND = "letter_digest"
#: letters released per contact per run of the releaser, at most
RELEASE_BATCH = 500
CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]")
#: address punctuation, dropped from display names so no reader takes a name for an address
ADDRESS_PUNCTUATION = re.compile(r"[<>@,;:\\\[\]]")


class ActionClosed(Exception):
    """The campaign takes no letters now (not live, or the action is off)."""


class InvalidLink(Exception):
    """The confirmation link is damaged or belongs to no letter."""


class ExpiredLink(Exception):
    """The confirmation link is older than CONFIRMATION_MAX_AGE."""


class IllegalMove(Exception):
    """A letter was asked to move between states that TRANSITIONS does not join."""


# --- states -------------------------------------------------------------------------------

_letter_table = Letter.__table__


#: which letters a move is about: their ids, or a condition on the letter itself (e.g.
#: ``Letter.contact_id == 3``). Not a SELECT of ids: ``id IN (SELECT id FROM letter WHERE
#: ...)`` joined the table with itself, and PostgreSQL then read every letter in the source
#: state to find the few asked for (measured: 2.7 ms for the 50 letters of a delivery batch
#: with 1,000 letters on their way, growing with every letter released)
Letters = list[int] | ColumnElement[bool]


def _moving(letters: Letters, source: set[LetterState] | frozenset[LetterState], target: LetterState,
            **values):
    illegal = [s for s in source if target not in TRANSITIONS[s]]
    if illegal:
        raise IllegalMove(f"{illegal} -> {target}")
    which = letters if isinstance(letters, ColumnElement) else _letter_table.c.id.in_(letters)
    # Core, not the ORM's bulk UPDATE: the session's loaded letters are not synchronised
    # anyway, and a letter's delivery runs this once per email sent
    return (update(_letter_table).where(which, _letter_table.c.state.in_(list(source)))
            .values(state=target, **values))


def move(letters: Letters, source: set[LetterState] | frozenset[LetterState], target: LetterState,
         **values) -> int:
    """Move the ``letters`` (ids, or a condition on the letter) that are in one of
    ``source`` to ``target``, in one conditional UPDATE; returns how many moved."""
    return db.session.execute(_moving(letters, source, target, **values)).rowcount


def move_returning(letters: Letters, source: set[LetterState] | frozenset[LetterState],
                   target: LetterState, columns: tuple, **values) -> list:
    """The same move, returning these columns of the letters that moved (which ones, when
    another transaction may have moved some first)."""
    return db.session.execute(_moving(letters, source, target, **values)
                              .returning(*columns)).all()


# --- the action ---------------------------------------------------------------------------

def action_for(campaign: Campaign) -> EmailAction | None:
    return db.session.scalars(select(EmailAction).filter_by(campaign_id=campaign.id)).first()


def ensure_action(campaign: Campaign, campaigner) -> EmailAction:
    """The campaign's email action, created (in test mode, inactive) with one letter per target."""
    action = action_for(campaign)
    if action is None:
        action = EmailAction(campaign_id=campaign.id, test_address=campaigner.email)
        db.session.add(action)
        db.session.flush()
        record("letters.action_created", subject=action, campaign_id=campaign.id)
    known = {letter.campaign_target_id for letter in action.letters}
    for campaign_target in campaign.targets:
        if campaign_target.id not in known:
            action.letters.append(ActionTarget(
                campaign_target_id=campaign_target.id, subjects=[], body="",
                contact_ids=[c.id for c in campaign_target.target.contacts if c.active and c.email]))
    db.session.flush()
    return action


SETTINGS = ("active", "test_mode", "max_body_length", "allow_links", "reply_to_supporter",
            "max_per_hour", "window_start_hour", "window_end_hour")


def change_settings(action: EmailAction, campaigner, **settings) -> None:
    """Save the action's settings. Going live to the real targets is an escalation."""
    from campaigns.consultations.operations import ensure_can_escalate

    goes_to_targets = settings.get("active") and not settings.get("test_mode")
    if goes_to_targets and not (action.active and not action.test_mode):
        ensure_can_escalate(action.campaign)
    for name in SETTINGS:
        if name in settings:
            setattr(action, name, settings[name])
    if settings.get("test_mode"):
        action.test_address = campaigner.email
    db.session.flush()
    record("letters.settings_changed", subject=action, campaign_id=action.campaign_id,
           **{name: settings[name] for name in SETTINGS if name in settings})


def clean_line(value: str) -> str:
    """One line of header-safe text: control characters (CR, LF ...) become spaces."""
    return " ".join(CONTROL.sub(" ", value or "").split())


def edit_letter(letter: ActionTarget, *, subjects: list[str], body: str, contact_ids: list[int],
                delivery: DeliveryMode) -> None:
    valid = {c.id for c in letter.campaign_target.target.contacts}
    letter.subjects = [clean_line(s)[:200] for s in subjects if clean_line(s)]
    letter.body = body
    letter.contact_ids = [cid for cid in contact_ids if cid in valid]
    letter.delivery = delivery
    db.session.flush()
    record("letters.letter_edited", subject=letter, campaign_target_id=letter.campaign_target_id)


def takes_letters(action: EmailAction | None) -> bool:
    return bool(action and action.active and action.campaign.accepts_signatures()
                and any(letter.subjects and letter.body for letter in action.letters))


def recipients(letter: ActionTarget, postcode: str | None = None,
               for_display: bool = False) -> list[Contact]:
    """The chosen contacts of this letter that a supporter (with this postcode) writes to."""
    contacts = [c for c in letter.campaign_target.target.contacts
                if c.id in (letter.contact_ids or []) and c.active and c.email]
    if for_display and postcode is None:
        return contacts
    return [c for c in contacts if c.serves(postcode)]


def needs_postcode(action: EmailAction) -> bool:
    return any(c.areas for letter in action.letters for c in recipients(letter, for_display=True))


# --- writing ------------------------------------------------------------------------------

@dataclass(frozen=True)
class LetterDraft:
    """One campaign target's letter as the supporter wants to send it."""

    action_target_id: int
    subject: str
    body: str


@dataclass(frozen=True)
class LetterRequest:
    """What a supporter submitted, already validated by the form."""

    first_name: str
    last_name: str
    email: str
    country: str
    postcode: str | None
    drafts: list[LetterDraft] = field(default_factory=list)
    consent_updates: bool = False
    consent_wording: str = ""
    suspicion: str | None = None
    ip_address: str | None = None


def _recently_confirmed(supporter: Supporter) -> bool:
    days = current_app.config["LETTER_SKIP_CONFIRMATION_DAYS"]
    if days <= 0:
        return False
    return db.session.scalar(
        select(func.count()).select_from(Letter)
        .where(Letter.supporter_id == supporter.id, Letter.confirmed_at >= utcnow() - timedelta(days=days))
    ) > 0


def write(action: EmailAction, request: LetterRequest) -> list[Letter]:
    """Record the supporter's letters (pending until the emailed link is followed).

    One letter per supporter, contact and campaign: writing again changes nothing (the
    supporter is sent the link again if letters still wait for it). A suspicious request is
    stored as fraudulent, silently: nothing is sent.
    """
    if not takes_letters(action):
        raise ActionClosed(action.campaign.slug if action else "")
    campaign = action.campaign
    suspicious = request.suspicion is not None
    supporter = supporter_acting(request, campaign_id=campaign.id,
                                 source=f"web:letters:{campaign.slug}")
    skip_confirmation = not suspicious and _recently_confirmed(supporter)
    now = utcnow()
    letters_by_target = {letter.id: letter for letter in action.letters}
    created: list[int] = []
    for draft in request.drafts:
        letter = letters_by_target.get(draft.action_target_id)
        if letter is None:
            continue
        for contact in recipients(letter, request.postcode):
            state = (LetterState.FRAUDULENT if suspicious
                     else LetterState.QUEUED if skip_confirmation else LetterState.PENDING)
            letter_id = insert_ignoring_conflicts(
                Letter,
                dict(campaign_id=campaign.id, action_id=action.id, action_target_id=letter.id,
                     supporter_id=supporter.id, contact_id=contact.id, state=state,
                     subject=clean_line(draft.subject)[:200], body=draft.body,
                     fraud_reason=request.suspicion, ip_address=request.ip_address,
                     test=action.test_mode, created_at=now,
                     confirmed_at=now if state == LetterState.QUEUED else None,
                     last_emailed_at=None if suspicious else now),
                ["campaign_id", "supporter_id", "contact_id"],
            )
            if letter_id is not None:
                created.append(letter_id)
    if suspicious:
        return _letters(created)
    # A flood may have used this person's address first; the person themselves may still write.
    move(and_(Letter.action_id == action.id, Letter.supporter_id == supporter.id),
         {LetterState.FRAUDULENT}, LetterState.PENDING, fraud_reason=None)
    if created and skip_confirmation:
        prepare_emails(action, created)
        _after_queued(action)
    elif created:
        send_confirmation_request(action, supporter)
    elif _may_email(action, supporter):
        send_confirmation_request(action, supporter)
    return _letters(created)


def _letters(ids: list[int]) -> list[Letter]:
    if not ids:
        return []
    return list(db.session.scalars(select(Letter).where(Letter.id.in_(ids)).order_by(Letter.id)))


def _may_email(action: EmailAction, supporter: Supporter) -> bool:
    """Claim the right to email this supporter about their pending letters: at most once
    per SIGNATURE_EMAIL_INTERVAL; False when no letter of theirs waits for confirmation."""
    now = utcnow()
    interval = timedelta(seconds=current_app.config["SIGNATURE_EMAIL_INTERVAL"])
    first = db.session.scalar(
        select(func.min(Letter.id)).where(Letter.action_id == action.id,
                                          Letter.supporter_id == supporter.id,
                                          Letter.state == LetterState.PENDING))
    if first is None:
        return False
    return bool(db.session.execute(
        update(Letter).where(Letter.id == first, or_(Letter.last_emailed_at.is_(None),
                                                      Letter.last_emailed_at < now - interval))
        .values(last_emailed_at=now).execution_options(synchronize_session=False)
    ).rowcount)


def confirmation_token(action: EmailAction, supporter: Supporter) -> str:
    return make_token(TOKEN_PURPOSE, [action.id, supporter.id])


def send_confirmation_request(action: EmailAction, supporter: Supporter) -> None:
    campaign = action.campaign
    links, headers = mail_links(supporter)
    queue_email(
        "letter_confirmation", supporter.email, "actions/confirm_letters", headers=headers,
        **links, first_name=supporter.first_name, campaign=campaign,
        confirm_url=external_url("actions.confirm", token=confirmation_token(action, supporter)),
        campaign_url=external_url("petitions.show", slug=campaign.slug),
    )


def from_token(token: str) -> tuple[EmailAction, Supporter]:
    """The action and supporter a confirmation link is for; raises ExpiredLink or InvalidLink."""
    try:
        action_id, supporter_id = read_token(TOKEN_PURPOSE, token,
                                             max_age=current_app.config["CONFIRMATION_MAX_AGE"])
    except SignatureExpired:
        raise ExpiredLink() from None
    except (BadSignature, ValueError, TypeError):
        raise InvalidLink() from None
    action, supporter = db.session.get(EmailAction, action_id), db.session.get(Supporter, supporter_id)
    if action is None or supporter is None:
        raise InvalidLink()
    return action, supporter


def pending_letters(action: EmailAction, supporter: Supporter) -> list[Letter]:
    return list(db.session.scalars(
        select(Letter).where(Letter.action_id == action.id, Letter.supporter_id == supporter.id,
                             Letter.state == LetterState.PENDING).order_by(Letter.id)))


def confirm(action: EmailAction, supporter: Supporter) -> int:
    """Queue the supporter's pending letters; returns how many (0 when already confirmed)."""
    mine = and_(Letter.action_id == action.id, Letter.supporter_id == supporter.id)
    moved = [row.id for row in move_returning(mine, {LetterState.PENDING}, LetterState.QUEUED,
                                              (Letter.id,), confirmed_at=utcnow())]
    if moved:
        prepare_emails(action, moved)
        _after_queued(action)
    return len(moved)


def _after_queued(action: EmailAction) -> None:
    """Release what pacing allows right after the commit, rather than at the next beat."""
    from campaigns.actions.tasks import release_letters
    from campaigns.core.celery import enqueue
    from campaigns.core.db import after_commit

    action_id = action.id
    after_commit(lambda: enqueue(release_letters, action_id))


# --- sending ------------------------------------------------------------------------------

@functools.lru_cache(maxsize=8)
def _address_of(sender: str) -> str:
    return email.utils.parseaddr(sender)[1]


def sender_for(supporter: Supporter) -> str:
    """``"Ana Silva via Threadline" <our address>``: the supporter's name, never their address
    (DMARC). The name is reduced to one line and encoded by formataddr."""
    address = _address_of(current_app.config["MAIL_DEFAULT_SENDER"])
    name = clean_line(ADDRESS_PUNCTUATION.sub(" ", f"{supporter.first_name} {supporter.last_name}"))
    display = clean_line(f"{name or current_app.config['SITE_NAME']} via {current_app.config['SITE_NAME']}")
    return email.utils.formataddr((display, address), charset="utf-8")


def _zone(contact: Contact) -> ZoneInfo:
    try:
        return ZoneInfo(contact.timezone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def in_window(action: EmailAction, contact: Contact, now: datetime) -> bool:
    """Whether ``now`` falls in the sending hours of the contact's own day."""
    start, end = action.window_start_hour, action.window_end_hour
    if start <= 0 and end >= 24:
        return True
    hour = now.astimezone(_zone(contact)).hour
    if start <= end:
        return start <= hour < end
    return hour >= start or hour < end  # a window over midnight


def _released_last_hour(contact_id: int, now: datetime) -> int:
    """Emails (a digest counts once) that reached the contact in the last hour."""
    return db.session.scalar(
        select(func.count(func.distinct(Letter.email_id)))
        .where(Letter.contact_id == contact_id, Letter.released_at > now - timedelta(hours=1),
               Letter.email_id.is_not(None))
    ) or 0


@dataclass
class ReleaseRun:
    """What one run of the releaser has released so far, across its chunks."""

    #: letters per campaign target: one public "letters sent" wave each, once per run
    waves: Counter[int] = field(default_factory=Counter)
    #: letters per contact: at most RELEASE_BATCH each per run
    per_contact: Counter[int] = field(default_factory=Counter)
    #: the contacts with queued letters this run has still to look at, in order (found by
    #: its first chunk: letters queued to another contact meanwhile wait for the next run)
    contacts: list[int] | None = None


def release_due(action: EmailAction, now: datetime | None = None, *, limit: int | None = None,
                run: ReleaseRun | None = None) -> int:
    """Hand to the outbox the queued letters each contact's pacing allows now.

    Per contact: within the sending window of the contact's time zone, at most
    ``max_per_hour`` an hour; contacts on a digest get at most one email a day. Letters
    beyond stay queued for a later run, none is dropped. Returns the letters released.

    With ``limit``, stops once that many are released (a digest goes whole), so that the
    caller can commit and enqueue their delivery while it releases the next ones; it then
    passes the same ``run`` to each chunk, which goes on from the contact where the last
    one stopped, and records its waves once at the end (``record_waves``) rather than one
    public wave per chunk.
    """
    now = now or utcnow()
    if action.paused or not action.active:
        return 0
    released = 0
    chunked = run is not None
    run = run or ReleaseRun()
    if run.contacts is None:
        run.contacts = list(db.session.scalars(
            select(Letter.contact_id).where(Letter.action_id == action.id, Letter.state == LetterState.QUEUED)
            .group_by(Letter.contact_id).order_by(Letter.contact_id)))
    email_ids: list[int] = []
    while run.contacts and (limit is None or released < limit):
        ids, waves, more = _release_to(action, run.contacts[0], now, run,
                                       None if limit is None else limit - released)
        email_ids += ids
        run.waves.update(waves)
        letters = sum(waves.values())
        run.per_contact[run.contacts[0]] += letters
        released += letters
        if not more or limit is None or released < limit:
            run.contacts.pop(0)  # done with for this run; else the next chunk goes on with it
    if not chunked:
        record_waves(run.waves)
    if email_ids:
        from campaigns.core.db import after_commit
        from campaigns.core.mail import enqueue_deliveries

        after_commit(lambda: enqueue_deliveries(email_ids))
    return released


def _release_to(action: EmailAction, contact_id: int, now: datetime, run: ReleaseRun,
                limit: int | None) -> tuple[list[int], Counter[int], bool]:
    """Release the queued letters to one contact that its pacing allows (at most ``limit``
    unless they go as a digest); returns their emails' ids, the letters per target and
    whether more are queued that the pacing would allow now."""
    nothing: tuple[list[int], Counter[int], bool] = ([], Counter(), False)
    contact = db.session.get(Contact, contact_id)
    if contact.address_invalid_at is not None or not contact.email:
        hold_letters_to(contact)
        return nothing
    if not action.test_mode and not in_window(action, contact, now):
        return nothing
    last_hour = _released_last_hour(contact_id, now)
    # a digest is held back by any email in the last hour, so by whatever stops this
    allowance = min(action.max_per_hour - last_hour, RELEASE_BATCH - run.per_contact[contact_id],
                    RELEASE_BATCH if limit is None else limit)
    if allowance <= 0:
        return nothing
    # one letter more than allowed: whether any is left for the next chunk to come back for
    rows = db.session.execute(_QUEUED_TO_RENDER, {"action_id": action.id, "contact_id": contact_id,
                                                  "rows": allowance + 1}).all()
    if not rows:  # another run released them meanwhile
        return nothing
    targets = _action_targets(row.action_target_id for row in rows)
    if targets[rows[0].action_target_id].delivery == DeliveryMode.DIGEST:
        if last_hour or db.session.scalar(
                select(func.count()).select_from(Letter).where(
                    Letter.contact_id == contact_id, Letter.action_id == action.id,
                    Letter.released_at > now - timedelta(days=1))):
            return nothing
        return *_release_digest(action, contact, db.session.scalars(
            select(Letter).where(Letter.action_id == action.id, Letter.contact_id == contact_id,
                                 Letter.state == LetterState.QUEUED).order_by(Letter.id)).all(), now), False
    return *_release_each(action, contact, rows[:allowance], targets, now), len(rows) > allowance


def record_waves(waves: Counter[int]) -> None:
    """A public "letters sent" event on each target's thread, for the letters just released."""
    from campaigns.replies.timeline import letter_wave_sent

    for campaign_target_id, count in sorted(waves.items()):
        if count:
            letter_wave_sent(campaign_target_id, count)


def _address(action: EmailAction, contact: Contact, test: bool) -> str:
    if test:
        return action.test_address or current_app.config["MAIL_DEFAULT_SENDER"]
    return contact.email


def _reply_to(action: EmailAction, action_target: ActionTarget, supporter) -> str:
    if action.reply_to_supporter:
        name = ADDRESS_PUNCTUATION.sub(" ", f"{supporter.first_name} {supporter.last_name}")
        return email.utils.formataddr((clean_line(name), clean_line(supporter.email)), charset="utf-8")
    return reply_address(action_target.campaign_target.reply_token)


_supporter_table = Supporter.__table__

#: what rendering a chunk of letters reads, as Core rows: the letter and its writer's name,
#: country and address (loading them as ORM objects, supporters and all, cost as much as
#: rendering them)
_TO_RENDER = (
    select(_letter_table.c.id, _letter_table.c.subject, _letter_table.c.body, _letter_table.c.test,
           _letter_table.c.action_target_id, _letter_table.c.contact_id, _letter_table.c.email_id,
           _letter_table.c.prepared_key, _supporter_table.c.first_name,
           _supporter_table.c.last_name, _supporter_table.c.country, _supporter_table.c.email)
    .join_from(_letter_table, _supporter_table, _supporter_table.c.id == _letter_table.c.supporter_id)
    .order_by(_letter_table.c.id))
_LETTERS_TO_RENDER = _TO_RENDER.where(_letter_table.c.id.in_(bindparam("letter_ids", expanding=True)))
#: the first queued letters of an action to one contact
_QUEUED_TO_RENDER = _TO_RENDER.where(
    _letter_table.c.action_id == bindparam("action_id"), _letter_table.c.contact_id == bindparam("contact_id"),
    _letter_table.c.state == LetterState.QUEUED).limit(bindparam("rows"))


def _release_each(action: EmailAction, contact: Contact, rows: list, targets: dict[int, ActionTarget],
                  now: datetime) -> tuple[list[int], Counter[int]]:
    """One email per letter to this contact (``rows`` of ``_TO_RENDER``, queued when
    read; ``targets`` their action targets by id). A letter whose email was prepared at its
    confirmation, from what still holds (its ``prepared_key`` matches), has that email
    switched to queued; the others are rendered now as plain text (a letter has no html
    part), their emails added in one INSERT, and a stale prepared email is deleted. The
    letters among ``letter_ids`` still queued are moved to released and linked to their
    email in one UPDATE; the emails just added for any other (moved by someone else
    meanwhile, e.g. cancelled) are deleted again before the commit, never seen. Returns
    the emails' ids and the letters released per campaign target.

    Rendering comes first because on SQLite the first write takes the database's one
    write lock until the commit: rendered inside it, a chunk kept the delivery workers
    from recording what they sent for the whole chunk (measured: the first delivery batch
    of a 1,000-letter release waited out the whole release, 0.48 s for 25 letters). Each
    letter's row is written once (moved and linked together): written twice, the second
    UPDATE cost 0.15 ms a letter on PostgreSQL. Emails that existed before are changed
    only after the letters, as cancelling does, so that the two never wait on each other
    in a circle (PostgreSQL's row locks).
    """
    keys = _PreparedKeys(action)
    prepared = {row.id: row.email_id for row in rows if row.email_id is not None
                and row.prepared_key == keys.of(contact, targets[row.action_target_id], row)}
    to_render = [row for row in rows if row.id not in prepared]
    email_of = dict(zip((row.id for row in to_render), _add_emails(
        [_render_letter(action, contact, targets[row.action_target_id], row) for row in to_render])))
    links = {"email_id": case(email_of, value=_letter_table.c.id, else_=_letter_table.c.email_id)} \
        if email_of else {}
    moved = {row.id for row in move_returning([row.id for row in rows], {LetterState.QUEUED},
                                              LetterState.RELEASED, (Letter.id,), released_at=now,
                                              **links)}
    unsent = [email_of[row.id] for row in to_render if row.id not in moved] + \
        [row.email_id for row in to_render if row.email_id is not None]  # stale prepared ones
    if unsent:
        db.session.execute(delete(_outbox_table).where(_outbox_table.c.id.in_(unsent),
                                                       _outbox_table.c.state.in_(_NOT_YET_SENT)))
    switched = [prepared[letter_id] for letter_id in prepared if letter_id in moved]
    if switched:
        _switch_to_queued(switched, now)
    for letter_id in moved:  # moved by Core: a letter the session holds is behind the database
        loaded = db.session.identity_map.get(identity_key(Letter, letter_id))
        if loaded is not None:
            db.session.expire(loaded, ("state", "released_at", "email_id"))
    rows = [row for row in rows if row.id in moved]
    return ([email_of.get(row.id) or prepared[row.id] for row in rows],
            Counter(targets[row.action_target_id].campaign_target_id for row in rows))


def _switch_to_queued(email_ids: list[int], now: datetime) -> None:
    """Prepared emails, to be sent now."""
    db.session.execute(update(_outbox_table).where(_outbox_table.c.id.in_(email_ids),
                                                   _outbox_table.c.state == EmailState.PREPARED)
                       .values(state=EmailState.QUEUED, next_attempt_at=now))


def warm_up_release() -> None:
    """What ``_release_to`` runs for letters prepared ahead, on no contact and no letter
    (a worker process compiles it at start: ``campaigns.core.celery.warms_up``)."""
    now = utcnow()
    db.session.get(Contact, 0)
    _released_last_hour(0, now)
    db.session.execute(_QUEUED_TO_RENDER, {"action_id": 0, "contact_id": 0, "rows": 1}).all()
    _action_targets([0])
    move_returning([0], {LetterState.QUEUED}, LetterState.RELEASED, (Letter.id,), released_at=now)
    _switch_to_queued([0], now)


#: the emails an unsent letter may own: those the release itself just added (queued), and
#: those prepared ahead
_NOT_YET_SENT = (EmailState.QUEUED, EmailState.PREPARED)


def _action_targets(target_ids: Iterable[int]) -> dict[int, ActionTarget]:
    """These action targets by id, each with its campaign target and target (what rendering
    a letter reads of them), in one query each."""
    return {target_id: db.session.get(ActionTarget, target_id, options=_WITH_TARGET)
            for target_id in set(target_ids)}


_WITH_TARGET = (joinedload(ActionTarget.campaign_target, innerjoin=True).joinedload(CampaignTarget.target, innerjoin=True),)


def _render_letter(action: EmailAction, contact: Contact, action_target: ActionTarget, row) -> dict:
    """The outbox row of one letter's email (plain text). ``row`` holds the letter's
    subject, body and test flag and its writer's name, country and address."""
    # a letter written in test mode stays a test, even once the action went live
    test = action.test_mode or row.test
    subject, text = render_text_email(
        "actions/letter", letter=row, contact=contact, supporter=row, test=test,
        campaign=action.campaign, target=action_target.campaign_target.target)
    return dict(
        kind=LETTER_KIND, to_address=_address(action, contact, test), subject=subject[:300],
        text_body=text, html_body=None, from_address=sender_for(row),
        reply_to=_reply_to(action, action_target, row),
        headers={"X-Threadline-Letter": str(row.id), **({"X-Threadline-Test": "yes"} if test else {})})


# --- prepared emails -----------------------------------------------------------------------
# A letter's email is rendered when its supporter confirms it, in that request, and kept
# in the outbox as a prepared email, which nothing sends. Its release then only switches
# it to queued: an appeal's burst of letters (thousands at once, when a contact's sending
# window opens) costs no rendering. Whatever the email is made of may change in between
# (test mode, the contact's address, the campaign's title...): the release compares a
# digest of all of it with the one taken at preparation, and renders again on any change.

@functools.lru_cache(maxsize=1)
def _letter_template_digest() -> str:
    """The letter's template as this process has it (a deploy that changes it makes every
    prepared letter render again)."""
    return hashlib.blake2b((EMAILS_DIR / "actions" / "letter.html").read_bytes(), digest_size=8).hexdigest()


class _PreparedKeys:
    """The digest of what a letter's email is rendered from (``Letter.prepared_key``): the
    letter and its writer, and what ``_render_letter`` reads of the action, target,
    contact and configuration (worked out once per contact and target)."""

    def __init__(self, action: EmailAction) -> None:
        self.action = action
        self.contexts: dict[tuple[int, int, bool], str] = {}

    def _context(self, contact: Contact, action_target: ActionTarget, test: bool) -> str:
        found = self.contexts.get((contact.id, action_target.id, test))
        if found is None:
            action, config = self.action, current_app.config
            campaign_target = action_target.campaign_target
            found = self.contexts[(contact.id, action_target.id, test)] = repr((
                _letter_template_digest(), config["BABEL_DEFAULT_LOCALE"], config["SITE_NAME"],
                config["MAIL_DEFAULT_SENDER"], test, _address(action, contact, test),
                action.reply_to_supporter or reply_address(campaign_target.reply_token),
                action.campaign.title, campaign_target.target.name, contact.name, contact.role))
        return found

    def of(self, contact: Contact, action_target: ActionTarget, row) -> str:
        test = self.action.test_mode or row.test
        return hashlib.blake2b(repr((
            self._context(contact, action_target, test), row.id, row.subject, row.body,
            row.first_name, row.last_name, row.country, row.email)).encode(), digest_size=16).hexdigest()


def prepare_emails(action: EmailAction, letter_ids: list[int]) -> int:
    """Render the emails of these just queued letters now, as prepared outbox emails, and
    link each letter to its own; returns how many. Letters to a contact on a digest, or
    without an address, are left to their release. Rendered in the platform's language,
    whatever the confirming supporter reads, as the release would render them."""
    rows = db.session.execute(_LETTERS_TO_RENDER, {"letter_ids": letter_ids}).all()
    targets = _action_targets(row.action_target_id for row in rows)
    contacts = {contact.id: contact for contact in db.session.scalars(
        select(Contact).where(Contact.id.in_({row.contact_id for row in rows})))}
    rows = [row for row in rows if row.email_id is None and contacts[row.contact_id].email
            and targets[row.action_target_id].delivery == DeliveryMode.EACH]
    if not rows:
        return 0
    keys = _PreparedKeys(action)
    with force_locale(current_app.config["BABEL_DEFAULT_LOCALE"]):
        emails = [_render_letter(action, contacts[row.contact_id], targets[row.action_target_id], row)
                  for row in rows]
    email_ids = _add_emails([{**outgoing, "state": EmailState.PREPARED} for outgoing in emails])
    by_letter = _letter_table.c.id
    db.session.execute(
        update(_letter_table).where(by_letter.in_([row.id for row in rows]))
        .values(email_id=case({row.id: email_id for row, email_id in zip(rows, email_ids)}, value=by_letter),
                prepared_key=case({row.id: keys.of(contacts[row.contact_id], targets[row.action_target_id], row)
                                   for row in rows}, value=by_letter)))
    return len(rows)


def _drop_prepared_emails(letters: ColumnElement[bool]) -> None:
    """Delete the prepared emails of these letters (a condition on the letter) that will not
    be released (cancelled, erased): they hold the letter's text and its writer's name."""
    db.session.execute(delete(_outbox_table).where(
        _outbox_table.c.state == EmailState.PREPARED,
        _outbox_table.c.id.in_(select(_letter_table.c.email_id).where(letters))))


def drop_orphaned_prepared_emails() -> int:
    """Delete the prepared emails no letter points at any more (its letter was deleted,
    with its campaign or contact); returns how many."""
    return db.session.execute(delete(_outbox_table).where(
        _outbox_table.c.state == EmailState.PREPARED,
        ~select(_letter_table.c.id).where(_letter_table.c.email_id == _outbox_table.c.id).exists())
    ).rowcount


def _release_digest(action: EmailAction, contact: Contact, letters: list[Letter],
                    now: datetime) -> tuple[list[int], Counter[int]]:
    """One email for all these letters to the contact (those still queued)."""
    moved = {row.id for row in move_returning([letter.id for letter in letters], {LetterState.QUEUED},
                                              LetterState.RELEASED, (Letter.id,), released_at=now)}
    letters = [letter for letter in letters if letter.id in moved]
    if not letters:
        return [], Counter()
    for letter in letters:  # moved and linked by Core: the loaded state is behind the database
        db.session.expire(letter, ("state", "released_at", "email_id"))
    sample = letters[:current_app.config["LETTER_DIGEST_SAMPLE"]]
    campaign_target = letters[0].action_target.campaign_target
    test = action.test_mode or any(letter.test for letter in letters)
    subject, text, html = render_email(
        "actions/digest", letters=sample, count=len(letters), contact=contact,
        test=test, campaign=action.campaign, target=campaign_target.target)
    outgoing = dict(
        kind=DIGEST_KIND, to_address=_address(action, contact, test), subject=subject[:300],
        text_body=text, html_body=html, from_address=None, reply_to=reply_address(campaign_target.reply_token),
        headers={"X-Threadline-Letters": f"{letters[0].id}-{letters[-1].id}",
                 **({"X-Threadline-Test": "yes"} if test else {})})
    [email_id] = _add_emails([outgoing])
    db.session.execute(update(_letter_table).where(_letter_table.c.id.in_([letter.id for letter in letters]))
                       .values(email_id=email_id))
    return [email_id], Counter({campaign_target.id: len(letters)})


def _add_emails(emails: list[dict]) -> list[int]:
    """Add these emails to the outbox in one INSERT; their ids, in the same order."""
    if not emails:
        return []
    return db.session.connection().execute(_ADD_EMAILS, emails).scalars().all()


#: one INSERT for many emails, their ids in order (see OutgoingEmail._sentinel), built once
_ADD_EMAILS = insert(OutgoingEmail.__table__).returning(OutgoingEmail.__table__.c.id,
                                                        sort_by_parameter_order=True)


_outbox_table = OutgoingEmail.__table__
_contact_table = Contact.__table__


def _outbox_column(column):
    """The column of the email carrying each letter, for an UPDATE of letters."""
    return select(column).where(_outbox_table.c.id == _letter_table.c.email_id).scalar_subquery()


@on_delivery(LETTER_KIND, DIGEST_KIND)
def follow_delivery(connection: Connection, deliveries: list[Delivery]) -> None:
    """The outbox sent (or gave up on) the emails carrying these letters: they follow them,
    with each email's own time and error, in one UPDATE per outcome for the whole batch
    (a letter already moved is left alone, so telling twice changes nothing); a contact's
    soft-bounce count is reset once a letter to it was sent."""
    sent = [delivery.email_id for delivery in deliveries if delivery.state == EmailState.SENT]
    failed = [delivery.email_id for delivery in deliveries if delivery.state == EmailState.FAILED]
    if sent:
        moved = connection.execute(
            _moving(_letter_table.c.email_id.in_(sent), {LetterState.RELEASED}, LetterState.SENT,
                    sent_at=_outbox_column(_outbox_table.c.sent_at))
            .returning(_letter_table.c.contact_id)).scalars().all()
        if moved:
            connection.execute(update(_contact_table).where(_contact_table.c.id.in_(set(moved)),
                                                            _contact_table.c.soft_bounces > 0)
                               .values(soft_bounces=0))
    if failed:
        connection.execute(_moving(_letter_table.c.email_id.in_(failed), {LetterState.RELEASED}, LetterState.FAILED,
                                   last_error=_outbox_column(_outbox_table.c.last_error)))


def hold_letters_to(contact: Contact) -> int:
    """Keep back the queued letters to a contact whose address does not work (not lost)."""
    return move(Letter.contact_id == contact.id, {LetterState.QUEUED}, LetterState.HELD)


# --- the campaigner's controls ------------------------------------------------------------

def pause(action: EmailAction) -> None:
    action.paused = True
    db.session.flush()
    record("letters.paused", subject=action, campaign_id=action.campaign_id)


def resume(action: EmailAction) -> None:
    """Release queued letters again (an escalation: it needs a current consultation)."""
    from campaigns.consultations.operations import ensure_can_escalate

    if not action.test_mode:
        ensure_can_escalate(action.campaign)
    action.paused = False
    db.session.flush()
    record("letters.resumed", subject=action, campaign_id=action.campaign_id)
    _after_queued(action)


def cancel(action: EmailAction) -> int:
    """Cancel every letter not yet released; returns how many."""
    of_action = Letter.action_id == action.id
    cancelled = move(of_action, CANCELLABLE_STATES, LetterState.CANCELLED)
    _drop_prepared_emails(and_(of_action, Letter.state == LetterState.CANCELLED))
    record("letters.cancelled", subject=action, campaign_id=action.campaign_id, letters=cancelled)
    return cancelled


def requeue_held(contact: Contact) -> int:
    """After the contact's address was corrected: its held letters queue again."""
    contact.address_invalid_at, contact.soft_bounces = None, 0
    moved = move(Letter.contact_id == contact.id, {LetterState.HELD},
                 LetterState.QUEUED)
    record("letters.requeued", subject=contact, letters=moved)
    return moved


@dataclass(frozen=True)
class ContactProgress:
    contact: Contact
    counts: dict[LetterState, int]

    @property
    def total(self) -> int:
        return sum(n for s, n in self.counts.items() if s in CONFIRMED_STATES)

    @property
    def done(self) -> int:
        return sum(self.counts.get(s, 0) for s in (LetterState.SENT, LetterState.FAILED,
                                                   LetterState.BOUNCED))


def progress(action: EmailAction) -> list[ContactProgress]:
    """Letters per contact and state (confirmed and cancelled ones)."""
    rows = db.session.execute(
        select(Letter.contact_id, Letter.state, func.count())
        .where(Letter.action_id == action.id,
               Letter.state.not_in([LetterState.PENDING, LetterState.FRAUDULENT]))
        .group_by(Letter.contact_id, Letter.state)).all()
    by_contact: dict[int, dict[LetterState, int]] = {}
    for contact_id, state, count in rows:
        by_contact.setdefault(contact_id, {})[state] = count
    return [ContactProgress(db.session.get(Contact, cid), counts)
            for cid, counts in sorted(by_contact.items())]


def letter_counts(action: EmailAction) -> dict[LetterState, int]:
    return dict(db.session.execute(
        select(Letter.state, func.count()).where(Letter.action_id == action.id)
        .group_by(Letter.state)).all())


# --- bounces ------------------------------------------------------------------------------

def record_bounce(letter: Letter, *, permanent: bool, diagnostic: str = "") -> bool:
    """A letter came back. Hard: the letter bounced, the contact's address is marked
    invalid and its queued letters held. Soft: counted; LETTER_SOFT_BOUNCE_LIMIT of them
    in a row count as hard. True when the address is now taken for invalid."""
    contact = letter.contact
    if not permanent:
        contact.soft_bounces = (contact.soft_bounces or 0) + 1
        db.session.flush()
        if contact.soft_bounces < current_app.config["LETTER_SOFT_BOUNCE_LIMIT"]:
            record("letters.soft_bounce", subject=contact, actor=None, letter_id=letter.id)
            return False
    move([letter.id], {LetterState.SENT}, LetterState.BOUNCED, last_error=diagnostic[:500] or None)
    if contact.address_invalid_at is None:
        contact.address_invalid_at = utcnow()
    db.session.flush()
    held = hold_letters_to(contact)
    record("letters.address_invalid", subject=contact, actor=None, letter_id=letter.id,
           held=held, permanent=permanent)
    return True


def supporter_ids_who_wrote(campaign_id: int):
    """SELECT of the supporters who sent a confirmed letter on the campaign."""
    return select(Letter.supporter_id).where(Letter.campaign_id == campaign_id,
                                             Letter.state.in_(list(CONFIRMED_STATES)))


def letters_of(supporter: Supporter) -> list[tuple[Letter, str]]:
    return list(db.session.execute(
        select(Letter, Campaign.slug).join(Campaign, Letter.campaign_id == Campaign.id)
        .where(Letter.supporter_id == supporter.id).order_by(Letter.id)).tuples())


def erase_letters(supporter: Supporter) -> None:
    """Erasure: letters not yet sent are cancelled and emptied; the outbox copies of letters
    sent in the supporter's name lose the name, the text and the reply address; the letters
    kept for the campaign's statistics keep only their state, target and dates."""
    mine = Letter.supporter_id == supporter.id
    move(mine, CANCELLABLE_STATES, LetterState.CANCELLED)
    _drop_prepared_emails(and_(mine, Letter.state == LetterState.CANCELLED))
    unsent_emails = select(Letter.email_id).where(Letter.supporter_id == supporter.id,
                                                  Letter.state == LetterState.RELEASED)
    db.session.execute(
        update(OutgoingEmail).where(OutgoingEmail.id.in_(unsent_emails),
                                    OutgoingEmail.kind == LETTER_KIND,
                                    OutgoingEmail.state == EmailState.QUEUED)
        .values(state=EmailState.FAILED, last_error="supporter erased")
        .execution_options(synchronize_session=False))
    move(mine, {LetterState.RELEASED}, LetterState.FAILED, last_error="supporter erased")
    db.session.execute(
        update(OutgoingEmail).where(OutgoingEmail.id.in_(
            select(Letter.email_id).where(Letter.supporter_id == supporter.id)),
            OutgoingEmail.kind == LETTER_KIND)
        .values(subject="", text_body="", html_body=None, from_address=None, reply_to=None)
        .execution_options(synchronize_session=False))
    db.session.execute(
        update(Letter).where(Letter.supporter_id == supporter.id)
        .values(subject="", body="", ip_address=None).execution_options(synchronize_session=False))
    db.session.flush()


def actions_with_queued_letters() -> list[int]:
    return list(db.session.scalars(
        select(EmailAction.id).where(
            EmailAction.active.is_(True), EmailAction.paused.is_(False),
            select(Letter.id).where(and_(Letter.action_id == EmailAction.id,
                                         Letter.state == LetterState.QUEUED)).exists())
        .order_by(EmailAction.id)))


__all__ = ["CampaignTarget"]
