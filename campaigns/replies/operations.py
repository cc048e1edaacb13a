"""The rules of replies: threads, deadlines, inbound mail, review, publication."""
from __future__ import annotations

import hashlib
import re
from datetime import date, datetime, timedelta
from pathlib import Path

from flask import current_app
from sqlalchemy import select, update
from sqlalchemy.orm import selectinload

from campaigns.audit.operations import record
from campaigns.core.db import db, insert_ignoring_conflicts, utcnow
from campaigns.core.mail import queue_email
from campaigns.core.urls import external_url
from campaigns.petitions.models import VISIBLE_STATES, Campaign, CampaignTarget
from campaigns.replies import deadlines, inbound
from campaigns.replies.addresses import reply_address
from campaigns.replies.models import (
    ON_REPLY,
    TRANSITIONS,
    WAITING_STATES,
    Commitment,
    Demand,
    DemandGrade,
    EventKind,
    Grade,
    InboundMessage,
    InboundState,
    Reply,
    ReplyAttachment,
    ReplyChannel,
    ReplyThread,
    ThreadEvent,
    ThreadStatus,
)


class NotAllowed(Exception):
    """A status move the rules do not allow."""


# --- storage -------------------------------------------------------------------------------

def inbound_dir() -> Path:
    """Raw inbound mail and reply attachments, under the instance folder (never static/)."""
    configured = current_app.config.get("INBOUND_DIR")
    return Path(configured) if configured else Path(current_app.instance_path) / "inbound"


def _write_once(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        draft = path.with_name(f".{path.name}.part")
        draft.write_bytes(data)
        draft.replace(path)


def raw_path(message: InboundMessage) -> Path:
    return inbound_dir() / "raw" / message.raw_file


def attachment_path(attachment: ReplyAttachment) -> Path | None:
    return inbound_dir() / "files" / attachment.stored_as if attachment.stored_as else None


#: accepted attachment types: what the first bytes must look like, and the stored extension
_FILE_SIGNATURES = (
    (b"%PDF-", "pdf", "application/pdf"),
    (b"\x89PNG\r\n\x1a\n", "png", "image/png"),
    (b"\xff\xd8\xff", "jpg", "image/jpeg"),
    (b"GIF8", "gif", "image/gif"),
    (b"PK\x03\x04", "zip", None),  # docx, xlsx, odt: zip containers, checked by name below
)
_OFFICE_TYPES = {
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "odt": "application/vnd.oasis.opendocument.text",
}


def sniff_attachment(filename: str, data: bytes) -> tuple[str, str] | None:
    """(extension, media type) from the content, or None when the type is not accepted."""
    for magic, ext, media in _FILE_SIGNATURES:
        if data.startswith(magic):
            if ext == "zip":
                name_ext = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
                return (name_ext, _OFFICE_TYPES[name_ext]) if name_ext in _OFFICE_TYPES else None
            return ext, media
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if b"\x00" in data:
        return None
    return "txt", "text/plain"


def store_attachment(filename: str, data: bytes) -> ReplyAttachment:
    """A checked, size-limited attachment row; refused ones keep only their name and reason."""
    safe_name = re.sub(r"[^\w .()-]", "_", filename or "attachment")[:200] or "attachment"
    limit = current_app.config["REPLY_ATTACHMENT_MAX_BYTES"]
    if len(data) > limit:
        return ReplyAttachment(filename=safe_name, content_type="application/octet-stream",
                               size=len(data), refused="too large")
    kind = sniff_attachment(safe_name, data)
    if kind is None:
        return ReplyAttachment(filename=safe_name, content_type="application/octet-stream",
                               size=len(data), refused="type not accepted")
    ext, media = kind
    stored = f"{hashlib.sha256(data).hexdigest()[:40]}.{ext}"
    _write_once(inbound_dir() / "files" / stored, data)
    return ReplyAttachment(filename=safe_name, content_type=media, size=len(data), stored_as=stored)


# --- threads -------------------------------------------------------------------------------

_LIST_ITEM = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+(.+)$")


def demands_from_ask(ask: str) -> list[str]:
    """The discrete demands in an ask: its list items, or else the whole ask as one demand."""
    items = [m.group(1).strip() for m in map(_LIST_ITEM.match, (ask or "").splitlines()) if m]
    if items:
        return items
    text = re.sub(r"[*_`#>]", "", ask or "").strip()
    return [text] if text else []


def ensure_thread(campaign_target: CampaignTarget, today: date | None = None) -> ReplyThread:
    """The thread of a campaign x target, created (with its deadline and demands) if new."""
    thread = db.session.scalars(
        select(ReplyThread).filter_by(campaign_target_id=campaign_target.id)).first()
    if thread is not None:
        return thread
    today = today or utcnow().date()
    thread_id = insert_ignoring_conflicts(
        ReplyThread,
        dict(campaign_target_id=campaign_target.id, status=ThreadStatus.AWAITING,
             deadline=deadlines.default_deadline(campaign_target.campaign.launched_at, today),
             created_at=utcnow(), updated_at=utcnow()),
        ["campaign_target_id"],
    )
    thread = db.session.scalars(
        select(ReplyThread).filter_by(campaign_target_id=campaign_target.id)).one()
    if thread_id is not None:
        for position, text in enumerate(demands_from_ask(campaign_target.ask)):
            db.session.add(Demand(thread_id=thread.id, position=position, text=text))
        db.session.flush()
    return thread


def sync_threads(today: date | None = None) -> int:
    """Create the threads of launched, public campaigns that have none yet."""
    missing = db.session.scalars(
        select(CampaignTarget)
        .join(Campaign, Campaign.id == CampaignTarget.campaign_id)
        .outerjoin(ReplyThread, ReplyThread.campaign_target_id == CampaignTarget.id)
        .where(ReplyThread.id.is_(None), Campaign.status.in_(VISIBLE_STATES),
               Campaign.launched_at.is_not(None))
    ).all()
    for campaign_target in missing:
        ensure_thread(campaign_target, today)
    return len(missing)


# --- what the public sees -----------------------------------------------------------------

def latest_published_reply(campaign) -> Reply | None:
    return db.session.scalars(
        select(Reply).join(ReplyThread, ReplyThread.id == Reply.thread_id)
        .join(CampaignTarget, CampaignTarget.id == ReplyThread.campaign_target_id)
        .where(CampaignTarget.campaign_id == campaign.id, Reply.published_at.is_not(None))
        .order_by(Reply.published_at.desc(), Reply.id.desc()).limit(1)
    ).first()


def public_thread_of(campaign_target) -> ReplyThread | None:
    """The thread of a campaign x target for a public page (never created on a GET)."""
    return db.session.scalars(select(ReplyThread).filter_by(campaign_target_id=campaign_target.id)
                              .options(selectinload(ReplyThread.replies),
                                       selectinload(ReplyThread.events),
                                       selectinload(ReplyThread.commitments),
                                       selectinload(ReplyThread.demands))).first()


def public_commitments() -> list[Commitment]:
    """The commitment register: published commitments of visible campaigns, newest first."""
    return db.session.scalars(
        select(Commitment).join(ReplyThread, ReplyThread.id == Commitment.thread_id)
        .join(CampaignTarget, CampaignTarget.id == ReplyThread.campaign_target_id)
        .join(Campaign, Campaign.id == CampaignTarget.campaign_id)
        .where(Commitment.public.is_(True), Campaign.status.in_(VISIBLE_STATES))
        .order_by(Commitment.committed_on.desc(), Commitment.id.desc())
    ).all()


def threads_of_campaign(campaign: Campaign) -> list[ReplyThread]:
    return [ensure_thread(ct) for ct in campaign.targets]


def add_event(thread: ReplyThread, kind: EventKind, *, public: bool, actor=None,
              **details) -> ThreadEvent:
    event = ThreadEvent(thread_id=thread.id, kind=kind, public=public,
                        actor_id=getattr(actor, "id", None), details=details, created_at=utcnow())
    db.session.add(event)
    db.session.flush()
    return event


def change_status(thread: ReplyThread, new: ThreadStatus, actor=None, *, public: bool = True) -> None:
    """Move the thread to ``new`` if TRANSITIONS allows it; an event and an audit entry."""
    old = thread.status
    if new == old:
        return
    if new not in TRANSITIONS[old]:
        raise NotAllowed(f"{old} -> {new}")
    thread.status = new
    add_event(thread, EventKind.STATUS_CHANGED, public=public, actor=actor,
              **{"from": old.value, "to": new.value})
    record("reply_thread.status_changed", subject=thread, actor=actor,
           **{"from": old.value, "to": new.value})


def set_deadline(thread: ReplyThread, deadline: date, actor=None, today: date | None = None) -> None:
    """A new deadline; an overdue thread given more time is awaiting again, with a new reminder."""
    today = today or utcnow().date()
    old = thread.deadline
    if old == deadline:
        return
    thread.deadline = deadline
    add_event(thread, EventKind.DEADLINE_EXTENDED, public=True, actor=actor,
              **{"from": old.isoformat() if old else None, "to": deadline.isoformat()})
    record("reply_thread.deadline_set", subject=thread, actor=actor, deadline=deadline.isoformat())
    if deadline >= today:
        if thread.status == ThreadStatus.OVERDUE:
            change_status(thread, ThreadStatus.AWAITING, actor)
        if old is not None and deadline > old:
            thread.reminder_sent_at = None
            thread.overdue_notified_at = None
    db.session.flush()


def set_campaign_deadline(campaign: Campaign, deadline: date, actor=None) -> int:
    """The same deadline for every target of the campaign."""
    threads = threads_of_campaign(campaign)
    for thread in threads:
        set_deadline(thread, deadline, actor)
    return len(threads)


def add_note(thread: ReplyThread, text: str, public: bool, actor=None) -> None:
    add_event(thread, EventKind.NOTE, public=public, actor=actor, text=text)


def set_demands(thread: ReplyThread, texts: list[str]) -> None:
    """Replace the demands by ``texts``, keeping the rows (and grades) of unchanged ones."""
    existing = {d.text: d for d in thread.demands}
    keep = []
    for position, text in enumerate(t.strip() for t in texts if t.strip()):
        demand = existing.pop(text, None) or Demand(thread_id=thread.id, text=text)
        demand.position = position
        keep.append(demand)
    for gone in existing.values():
        db.session.delete(gone)
    thread.demands = keep
    db.session.flush()


def record_letter_wave(campaign_target_id: int, letters: int) -> None:
    campaign_target = db.session.get(CampaignTarget, campaign_target_id)
    if campaign_target is None:
        return
    thread = ensure_thread(campaign_target)
    add_event(thread, EventKind.LETTER_WAVE_SENT, public=True, letters=letters)


# --- replies -------------------------------------------------------------------------------

def _on_new_reply(thread: ReplyThread, reply: Reply, actor=None) -> None:
    add_event(thread, EventKind.REPLY_RECEIVED, public=False, actor=actor, reply_id=reply.id,
              channel=reply.channel.value)
    if thread.status in WAITING_STATES:
        change_status(thread, ON_REPLY, actor, public=False)


def log_reply(thread: ReplyThread, *, channel: ReplyChannel, received_on: date, sender: str,
              summary: str, text: str, files: list[tuple[str, bytes]], actor=None) -> Reply:
    """A reply a campaigner logs by hand (a letter, a public statement, a meeting)."""
    reply = Reply(thread_id=thread.id, channel=channel, sender=sender, subject="",
                  received_at=datetime.combine(received_on, datetime.min.time(), tzinfo=utcnow().tzinfo),
                  body_text=text, excerpt=inbound.strip_quoted(text)[:5000], public_summary=summary)
    db.session.add(reply)
    db.session.flush()
    for filename, data in files:
        attachment = store_attachment(filename, data)
        attachment.reply_id = reply.id
        db.session.add(attachment)
    db.session.flush()
    record("reply.logged", subject=reply, actor=actor, thread_id=thread.id, channel=channel.value)
    _on_new_reply(thread, reply, actor)
    return reply


def thread_by_token(token: str) -> ReplyThread | None:
    campaign_target = db.session.scalars(select(CampaignTarget).filter_by(reply_token=token)).first()
    return ensure_thread(campaign_target) if campaign_target else None


def receive_raw(raw: bytes, source: str) -> InboundMessage:
    """Keep an inbound message and attach it to its thread, or queue it for a campaigner.

    The raw bytes are written first, so nothing is lost whatever follows; the same bytes
    delivered twice are stored once (a poller or a webhook retrying is harmless).
    """
    digest = hashlib.sha256(raw).hexdigest()
    existing = db.session.scalars(select(InboundMessage).filter_by(sha256=digest)).first()
    if existing is not None:
        return existing
    raw_file = f"{digest}.eml"
    _write_once(inbound_dir() / "raw" / raw_file, raw)
    message_id = insert_ignoring_conflicts(
        InboundMessage,
        dict(sha256=digest, source=source, size=len(raw), state=InboundState.QUEUED,
             raw_file=raw_file, received_at=utcnow(), from_header="", subject="",
             message_id_header=""),
        ["sha256"],
    )
    message = db.session.scalars(select(InboundMessage).filter_by(sha256=digest)).one()
    if message_id is None:  # a simultaneous delivery of the same bytes won
        return message
    if len(raw) > current_app.config["INBOUND_MAX_MESSAGE_BYTES"]:
        message.reason = "too_large"
        db.session.flush()
        return message
    try:
        parsed = inbound.parse(raw)
    except inbound.Malformed:
        message.reason = "malformed"
        db.session.flush()
        return message
    message.from_header = parsed.from_header
    message.subject = parsed.subject
    message.message_id_header = parsed.message_id
    thread = None
    for token in parsed.tokens:
        thread = thread_by_token(token)
        if thread is not None:
            break
    if thread is None:
        message.reason = "unknown_token"
        db.session.flush()
        return message
    _attach(message, thread, parsed)
    return message


def _attach(message: InboundMessage, thread: ReplyThread, parsed: inbound.ParsedMessage,
            actor=None) -> Reply:
    reply = Reply(thread_id=thread.id, channel=ReplyChannel.EMAIL, sender=parsed.from_header,
                  subject=parsed.subject, received_at=parsed.date or message.received_at,
                  body_text=parsed.text, excerpt=parsed.excerpt, inbound_message_id=message.id)
    if reply.received_at > utcnow() + timedelta(days=1):  # a sender's clock in the future
        reply.received_at = message.received_at
    db.session.add(reply)
    db.session.flush()
    for attachment in parsed.attachments:
        row = store_attachment(attachment.filename, attachment.data)
        row.reply_id = reply.id
        db.session.add(row)
    message.state = InboundState.ATTACHED
    message.reason = None
    db.session.flush()
    _on_new_reply(thread, reply, actor)
    if actor is None:  # arrived by itself: tell the campaigners (the email carries no reply text)
        tell_campaigners_of_reply(thread, reply)
    return reply


def tell_campaigners_of_reply(thread: ReplyThread, reply: Reply) -> None:
    campaign = thread.campaign
    review_url = external_url("replies_admin.review", slug=campaign.slug, thread_id=thread.id,
                              reply_id=reply.id)
    for address in campaigner_addresses(campaign):
        queue_email("reply_received", address, "replies/reply_received", thread=thread,
                    campaign=campaign, target=thread.target, review_url=review_url)


def assign_inbound(message: InboundMessage, thread: ReplyThread, actor) -> Reply:
    """A campaigner attaches a queued message to a thread (raw bytes read back from storage)."""
    if message.state != InboundState.QUEUED:
        raise NotAllowed("not queued")
    raw = raw_path(message).read_bytes()
    try:
        parsed = inbound.parse(raw)  # a campaigner chose it: read it whole, even if large
    except inbound.Malformed:
        parsed = inbound.ParsedMessage(tokens=[], from_header=message.from_header,
                                       subject=message.subject, message_id="", date=None,
                                       text=raw[:20000].decode("utf-8", errors="replace"),
                                       excerpt="")
    message.handled_by_id = getattr(actor, "id", None)
    reply = _attach(message, thread, parsed, actor)
    record("inbound.assigned", subject=message, actor=actor, thread_id=thread.id)
    return reply


def discard_inbound(message: InboundMessage, actor) -> None:
    if message.state != InboundState.QUEUED:
        raise NotAllowed("not queued")
    message.state = InboundState.DISCARDED
    message.handled_by_id = actor.id
    record("inbound.discarded", subject=message, actor=actor)
    db.session.flush()


def grade_reply(reply: Reply, grades: dict[int, Grade | None], actor) -> None:
    """Grade the reply against each demand of its thread (None: not graded)."""
    demand_ids = {d.id for d in reply.thread.demands}
    current = {g.demand_id: g for g in reply.grades}
    for demand_id, grade in grades.items():
        if demand_id not in demand_ids:
            continue
        row = current.get(demand_id)
        if grade is None:
            if row is not None:
                db.session.delete(row)
        elif row is None:
            db.session.add(DemandGrade(reply_id=reply.id, demand_id=demand_id, grade=grade))
        else:
            row.grade = grade
    db.session.flush()
    db.session.expire(reply, ["grades"])
    record("reply.graded", subject=reply, actor=actor,
           grades={str(k): (v.value if v else None) for k, v in grades.items()})


def add_commitment(thread: ReplyThread, text: str, committed_on: date, actor,
                   reply: Reply | None = None) -> Commitment:
    """A commitment, public with its reply; the same text on the same reply is added once."""
    if reply is not None:
        existing = db.session.scalars(select(Commitment).filter_by(reply_id=reply.id, text=text)).first()
        if existing is not None:
            return existing
    commitment = Commitment(thread_id=thread.id, reply_id=reply.id if reply else None, text=text,
                            committed_on=committed_on,
                            public=reply is None or reply.published_at is not None)
    db.session.add(commitment)
    db.session.flush()
    record("commitment.added", subject=commitment, actor=actor, thread_id=thread.id)
    return commitment


def verify_commitment(commitment: Commitment, verified_on: date, note: str, actor) -> None:
    """The remedy happened; a thread whose status is "commitment made" becomes "remedy verified"."""
    commitment.verified_on = verified_on
    commitment.verification_note = note
    thread = commitment.thread
    if thread.status == ThreadStatus.COMMITMENT:
        change_status(thread, ThreadStatus.VERIFIED, actor)
    record("commitment.verified", subject=commitment, actor=actor, verified_on=verified_on.isoformat())
    db.session.flush()


def publish_reply(reply: Reply, summary: str, actor, *, notify: bool = True) -> bool:
    """Make the reply public with the campaigner's summary; supporters hear about it once.

    Returns False when it was already published (the summary is still updated).
    """
    reply.public_summary = summary
    if reply.published_at is not None:
        db.session.flush()
        return False
    reply.published_at = utcnow()
    reply.published_by_id = getattr(actor, "id", None)
    thread = reply.thread
    db.session.execute(update(Commitment).where(Commitment.reply_id == reply.id)
                       .values(public=True).execution_options(synchronize_session="fetch"))
    add_event(thread, EventKind.REPLY_PUBLISHED, public=True, actor=actor, reply_id=reply.id,
              channel=reply.channel.value, received=reply.received_at.date().isoformat())
    record("reply.published", subject=reply, actor=actor, thread_id=thread.id)
    db.session.flush()
    if notify:
        tell_supporters(reply, actor)
    return True


def tell_supporters(reply: Reply, actor) -> None:
    """Send consenting supporters the news through the campaign updates' idempotent fan-out."""
    from flask_babel import gettext as _

    from campaigns.updates.models import CampaignUpdate
    from campaigns.updates.operations import start_sending

    if reply.update_id is not None:
        return
    thread = reply.thread
    campaign, target = thread.campaign, thread.target
    url = external_url("targets.show", target_slug=target.slug)
    body = "\n\n".join([
        _("%(target)s has answered the campaign \u201c%(campaign)s\u201d.",
          target=target.name, campaign=campaign.title),
        reply.public_summary or "",
        _("Status: %(status)s", status=thread.status.label),
        f"[{_('Read the reply and where %(target)s stands', target=target.name)}]({url})",
    ])
    update_row = CampaignUpdate(campaign_id=campaign.id, author_id=getattr(actor, "id", None),
                                subject=_("%(target)s replied", target=target.name)[:200],
                                body=body)
    db.session.add(update_row)
    db.session.flush()
    reply.update_id = update_row.id
    start_sending(update_row)


# --- deadlines, reminders, overdue ---------------------------------------------------------

def campaigner_addresses(campaign: Campaign) -> list[str]:
    """Who hears about the campaign's threads: its organisation's campaigners, or whoever
    submitted it, and REPLY_NOTIFY_ADDRESS."""
    from campaigns.accounts.models import Campaigner, Role

    query = select(Campaigner.email).where(Campaigner.active.is_(True),
                                           Campaigner.role.in_([Role.CAMPAIGNER, Role.ADMIN]))
    if campaign.organisation_id is not None:
        addresses = list(db.session.scalars(query.where(
            Campaigner.organisation_id == campaign.organisation_id)))
    elif campaign.submitted_by_id is not None:
        addresses = list(db.session.scalars(query.where(Campaigner.id == campaign.submitted_by_id)))
    else:
        addresses = []
    extra = current_app.config.get("REPLY_NOTIFY_ADDRESS")
    if extra and extra not in addresses:
        addresses.append(extra)
    return addresses


def _claim(thread_id: int, column, now: datetime) -> bool:
    """Set a once-only timestamp; True for the one caller that set it."""
    return bool(db.session.execute(
        update(ReplyThread).where(ReplyThread.id == thread_id, column.is_(None))
        .values({column.key: now})
    ).rowcount)


def send_reminder(thread: ReplyThread, now: datetime) -> int:
    """Remind the target's contacts of the deadline, once; Reply-To is the thread's address."""
    if not _claim(thread.id, ReplyThread.reminder_sent_at, now):
        return 0
    db.session.refresh(thread)
    campaign_target = thread.campaign_target
    headers = {"Reply-To": reply_address(campaign_target.reply_token)}
    sent = 0
    for contact in campaign_target.target.contacts:
        if not (contact.active and contact.email):
            continue
        queue_email("reply_reminder", contact.email, "replies/reminder", headers=headers,
                    contact=contact, thread=thread, campaign=thread.campaign,
                    target=thread.target, ask=campaign_target.ask,
                    demands=[d.text for d in thread.demands],
                    campaign_url=external_url("petitions.show", slug=thread.campaign.slug))
        sent += 1
    if sent:  # a target without an address gets no reminder, and the timeline says none
        add_event(thread, EventKind.REMINDER_SENT, public=True, contacts=sent)
    return sent


def mark_overdue(thread: ReplyThread, now: datetime) -> bool:
    """Awaiting past the deadline: overdue, and the campaigners are told (once)."""
    if thread.status == ThreadStatus.AWAITING:
        change_status(thread, ThreadStatus.OVERDUE)
    if thread.status != ThreadStatus.OVERDUE:
        return False
    if not _claim(thread.id, ReplyThread.overdue_notified_at, now):
        return False
    db.session.refresh(thread)
    for address in campaigner_addresses(thread.campaign):
        queue_email("reply_overdue", address, "replies/overdue", thread=thread,
                    campaign=thread.campaign, target=thread.target,
                    thread_url=external_url("replies_admin.thread", slug=thread.campaign.slug,
                                            thread_id=thread.id))
    return True


def due_thread_ids(today: date) -> tuple[list[int], list[int]]:
    """(threads past their deadline, threads due a reminder), waiting ones only."""
    waiting = db.session.execute(
        select(ReplyThread.id, ReplyThread.deadline, ReplyThread.reminder_sent_at,
               ReplyThread.overdue_notified_at, ReplyThread.status)
        .join(CampaignTarget, CampaignTarget.id == ReplyThread.campaign_target_id)
        .join(Campaign, Campaign.id == CampaignTarget.campaign_id)
        .where(ReplyThread.status.in_(WAITING_STATES), ReplyThread.deadline.is_not(None),
               Campaign.status.in_(VISIBLE_STATES))
        .order_by(ReplyThread.id)
    ).all()
    overdue, remind = [], []
    for thread_id, deadline, reminded, notified, status in waiting:
        if today > deadline:
            if status == ThreadStatus.AWAITING or notified is None:
                overdue.append(thread_id)
        elif reminded is None and today >= deadlines.reminder_day(deadline):
            remind.append(thread_id)
    return overdue, remind


def run_deadlines(now: datetime | None = None) -> dict[str, int]:
    """The periodic job: create missing threads, send reminders, mark overdue threads.

    Each thread is committed on its own; running it twice sends nothing twice.
    """
    now = now or utcnow()
    today = now.date()
    sync_threads(today)
    db.session.commit()
    overdue, remind = due_thread_ids(today)
    counts = {"reminded": 0, "overdue": 0}
    for thread_id in remind:
        thread = db.session.get(ReplyThread, thread_id)
        if thread is not None and send_reminder(thread, now):
            counts["reminded"] += 1
        db.session.commit()
    for thread_id in overdue:
        thread = db.session.get(ReplyThread, thread_id)
        if thread is not None and mark_overdue(thread, now):
            counts["overdue"] += 1
        db.session.commit()
    return counts
