"""Reply threads (one per campaign x target), their demands, replies, commitments,
timeline events, and the inbound mail that feeds them."""
from __future__ import annotations

import enum
from datetime import date, datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import JSON, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from campaigns.core.db import NEVER_REUSE_IDS, TimestampMixin, db, enum_column, utcnow
from campaigns.petitions.models import CampaignTarget


class ThreadStatus(enum.StrEnum):
    AWAITING = "awaiting"
    OVERDUE = "overdue"
    REPLY_RECEIVED = "reply_received"
    ACKNOWLEDGED = "acknowledged"
    INADEQUATE = "inadequate"
    COMMITMENT = "commitment"
    VERIFIED = "verified"
    DECLINED = "declined"
    CLOSED = "closed"

    @property
    def label(self) -> str:
        return str(THREAD_STATUS_LABELS[self])


THREAD_STATUS_LABELS = {
    ThreadStatus.AWAITING: _l("Awaiting response"),
    ThreadStatus.OVERDUE: _l("Overdue"),
    ThreadStatus.REPLY_RECEIVED: _l("Reply received"),
    ThreadStatus.ACKNOWLEDGED: _l("Acknowledged"),
    ThreadStatus.INADEQUATE: _l("Inadequate response"),
    ThreadStatus.COMMITMENT: _l("Commitment made"),
    ThreadStatus.VERIFIED: _l("Remedy verified"),
    ThreadStatus.DECLINED: _l("Declined"),
    ThreadStatus.CLOSED: _l("Closed"),
}
#: threads still waiting for the target's first word
WAITING_STATES = frozenset({ThreadStatus.AWAITING, ThreadStatus.OVERDUE})
#: statuses a campaigner sets after reading a reply
GRADED_STATES = frozenset({ThreadStatus.ACKNOWLEDGED, ThreadStatus.INADEQUATE,
                           ThreadStatus.COMMITMENT, ThreadStatus.VERIFIED, ThreadStatus.DECLINED})
#: the allowed moves; the system makes the first two (deadline, inbound mail), campaigners the rest
TRANSITIONS = {
    ThreadStatus.AWAITING: {ThreadStatus.OVERDUE, ThreadStatus.REPLY_RECEIVED, ThreadStatus.CLOSED},
    ThreadStatus.OVERDUE: {ThreadStatus.AWAITING, ThreadStatus.REPLY_RECEIVED, ThreadStatus.CLOSED},
    ThreadStatus.REPLY_RECEIVED: GRADED_STATES | {ThreadStatus.CLOSED},
    ThreadStatus.ACKNOWLEDGED: (GRADED_STATES - {ThreadStatus.ACKNOWLEDGED}) | {ThreadStatus.CLOSED},
    ThreadStatus.INADEQUATE: (GRADED_STATES - {ThreadStatus.INADEQUATE}) | {ThreadStatus.CLOSED},
    ThreadStatus.COMMITMENT: {ThreadStatus.VERIFIED, ThreadStatus.INADEQUATE, ThreadStatus.DECLINED,
                              ThreadStatus.CLOSED},
    ThreadStatus.VERIFIED: {ThreadStatus.CLOSED},
    ThreadStatus.DECLINED: {ThreadStatus.ACKNOWLEDGED, ThreadStatus.INADEQUATE,
                            ThreadStatus.COMMITMENT, ThreadStatus.CLOSED},
    ThreadStatus.CLOSED: set(),
}
#: a reply (published or not) moves a waiting thread to "reply received"
ON_REPLY = ThreadStatus.REPLY_RECEIVED


class DeadlineCalendar(enum.StrEnum):
    CALENDAR_DAYS = "calendar"
    WORKING_DAYS = "working"


class ReplyThread(TimestampMixin, db.Model):
    """The tracked state of one campaign x target thread (1:1 with campaign_target)."""

    __tablename__ = "reply_thread"

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_target_id: Mapped[int] = mapped_column(
        ForeignKey("campaign_target.id", ondelete="CASCADE"), unique=True)
    status: Mapped[ThreadStatus] = enum_column(ThreadStatus, default=ThreadStatus.AWAITING,
                                               index=True)
    #: the last day (inclusive) the target has to answer
    deadline: Mapped[date | None]
    #: when the reminder before the deadline was queued; None: not yet
    reminder_sent_at: Mapped[datetime | None]
    #: when the campaigner was told the thread is overdue; None: not yet
    overdue_notified_at: Mapped[datetime | None]

    campaign_target: Mapped[CampaignTarget] = relationship()
    demands: Mapped[list[Demand]] = relationship(
        back_populates="thread", order_by="Demand.position", cascade="all, delete-orphan")
    replies: Mapped[list[Reply]] = relationship(
        back_populates="thread", order_by="Reply.received_at", cascade="all, delete-orphan")
    events: Mapped[list[ThreadEvent]] = relationship(
        back_populates="thread", order_by="ThreadEvent.id", cascade="all, delete-orphan")
    commitments: Mapped[list[Commitment]] = relationship(
        back_populates="thread", order_by="Commitment.id", cascade="all, delete-orphan")

    @property
    def campaign(self):
        return self.campaign_target.campaign

    @property
    def target(self):
        return self.campaign_target.target

    @property
    def published_replies(self) -> list[Reply]:
        return [reply for reply in self.replies if reply.published_at is not None]

    @property
    def public_status(self) -> ThreadStatus:
        return self.public_status_on(utcnow().date())

    def public_status_on(self, today: date) -> ThreadStatus:
        """What the public sees: an unpublished reply is not yet news, and a thread past its
        deadline is overdue even before the periodic job has marked it."""
        status = self.status
        if status == ThreadStatus.REPLY_RECEIVED and not self.published_replies:
            status = ThreadStatus.AWAITING
        if status == ThreadStatus.AWAITING and self.deadline is not None and today > self.deadline:
            return ThreadStatus.OVERDUE
        return status


class Demand(db.Model):
    """One discrete demand of the ask to a target; replies are graded against each."""

    __tablename__ = "reply_demand"

    id: Mapped[int] = mapped_column(primary_key=True)
    thread_id: Mapped[int] = mapped_column(ForeignKey("reply_thread.id", ondelete="CASCADE"),
                                           index=True)
    position: Mapped[int] = mapped_column(default=0)
    #: the demand in plain text
    text: Mapped[str] = mapped_column(Text)

    thread: Mapped[ReplyThread] = relationship(back_populates="demands")


class ReplyChannel(enum.StrEnum):
    EMAIL = "email"
    LETTER = "letter"
    STATEMENT = "statement"
    MEETING = "meeting"

    @property
    def label(self) -> str:
        return str(CHANNEL_LABELS[self])


CHANNEL_LABELS = {ReplyChannel.EMAIL: _l("Email"), ReplyChannel.LETTER: _l("Letter"),
                  ReplyChannel.STATEMENT: _l("Public statement"),
                  ReplyChannel.MEETING: _l("Meeting")}


class Reply(TimestampMixin, db.Model):
    """What a target answered. Private until a campaigner publishes it."""

    __tablename__ = "reply"

    id: Mapped[int] = mapped_column(primary_key=True)
    thread_id: Mapped[int] = mapped_column(ForeignKey("reply_thread.id", ondelete="CASCADE"),
                                           index=True)
    channel: Mapped[ReplyChannel] = enum_column(ReplyChannel, default=ReplyChannel.EMAIL)
    #: when the target answered (the Date header, or the date the campaigner logged)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: who answered, as given (a From header, a name)
    sender: Mapped[str] = mapped_column(String(320), default="")
    subject: Mapped[str] = mapped_column(String(300), default="")
    #: the full text (HTML turned into text), never rendered as HTML
    body_text: Mapped[str] = mapped_column(Text, default="")
    #: the text without the quoted history, for reading at a glance
    excerpt: Mapped[str] = mapped_column(Text, default="")
    #: the campaigner's public summary, in Markdown
    public_summary: Mapped[str] = mapped_column(Text, default="")
    published_at: Mapped[datetime | None]
    published_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("campaigner.id", ondelete="SET NULL"))
    #: the campaign update that told supporters about it
    update_id: Mapped[int | None] = mapped_column(
        ForeignKey("campaign_update.id", ondelete="SET NULL"))
    #: the inbound message it came from, if it came by mail
    inbound_message_id: Mapped[int | None] = mapped_column(
        ForeignKey("inbound_message.id", ondelete="SET NULL"))

    thread: Mapped[ReplyThread] = relationship(back_populates="replies")
    grades: Mapped[list[DemandGrade]] = relationship(back_populates="reply",
                                                     cascade="all, delete-orphan")
    attachments: Mapped[list[ReplyAttachment]] = relationship(
        back_populates="reply", order_by="ReplyAttachment.id",
        foreign_keys="ReplyAttachment.reply_id")


class Grade(enum.StrEnum):
    MET = "met"
    PARTLY = "partly"
    NOT_MET = "not_met"

    @property
    def label(self) -> str:
        return str(GRADE_LABELS[self])


GRADE_LABELS = {Grade.MET: _l("Met"), Grade.PARTLY: _l("Partly met"), Grade.NOT_MET: _l("Not met")}


class DemandGrade(db.Model):
    """How far one reply meets one demand."""

    __tablename__ = "reply_demand_grade"
    __table_args__ = (UniqueConstraint("reply_id", "demand_id"), NEVER_REUSE_IDS)

    id: Mapped[int] = mapped_column(primary_key=True)
    reply_id: Mapped[int] = mapped_column(ForeignKey("reply.id", ondelete="CASCADE"))
    demand_id: Mapped[int] = mapped_column(ForeignKey("reply_demand.id", ondelete="CASCADE"),
                                           index=True)
    grade: Mapped[Grade] = enum_column(Grade)

    reply: Mapped[Reply] = relationship(back_populates="grades")
    demand: Mapped[Demand] = relationship()


class Commitment(TimestampMixin, db.Model):
    """What a target committed to, when, and whether it was verified (the register)."""

    __tablename__ = "reply_commitment"

    id: Mapped[int] = mapped_column(primary_key=True)
    thread_id: Mapped[int] = mapped_column(ForeignKey("reply_thread.id", ondelete="CASCADE"),
                                           index=True)
    reply_id: Mapped[int | None] = mapped_column(ForeignKey("reply.id", ondelete="SET NULL"))
    #: the commitment in plain words
    text: Mapped[str] = mapped_column(Text)
    committed_on: Mapped[date]
    #: when the campaigners confirmed the remedy happened; None: not verified
    verified_on: Mapped[date | None]
    #: how it was verified (Markdown)
    verification_note: Mapped[str] = mapped_column(Text, default="")
    #: public once its reply is published (or when logged without one)
    public: Mapped[bool] = mapped_column(default=False)

    thread: Mapped[ReplyThread] = relationship(back_populates="commitments")


class EventKind(enum.StrEnum):
    LETTER_WAVE_SENT = "letter_wave_sent"
    REMINDER_SENT = "reminder_sent"
    REPLY_RECEIVED = "reply_received"
    REPLY_PUBLISHED = "reply_published"
    STATUS_CHANGED = "status_changed"
    DEADLINE_EXTENDED = "deadline_extended"
    NOTE = "note"

    @property
    def label(self) -> str:
        return str(EVENT_LABELS[self])


EVENT_LABELS = {
    EventKind.LETTER_WAVE_SENT: _l("Letters sent"),
    EventKind.REMINDER_SENT: _l("Reminder sent"),
    EventKind.REPLY_RECEIVED: _l("Reply received"),
    EventKind.REPLY_PUBLISHED: _l("Reply published"),
    EventKind.STATUS_CHANGED: _l("Status changed"),
    EventKind.DEADLINE_EXTENDED: _l("Deadline changed"),
    EventKind.NOTE: _l("Note"),
}


class ThreadEvent(db.Model):
    """One entry on a thread's timeline."""

    __tablename__ = "reply_thread_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    thread_id: Mapped[int] = mapped_column(ForeignKey("reply_thread.id", ondelete="CASCADE"),
                                           index=True)
    kind: Mapped[EventKind] = enum_column(EventKind)
    #: shown on the public target page
    public: Mapped[bool] = mapped_column(default=False)
    #: e.g. {"from": "awaiting", "to": "overdue"}, {"letters": 120}, {"text": "..."}
    details: Mapped[dict] = mapped_column(JSON, default=dict)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("campaigner.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    thread: Mapped[ReplyThread] = relationship(back_populates="events")


class InboundState(enum.StrEnum):
    #: attached to a thread as a reply
    ATTACHED = "attached"
    #: waiting for a campaigner (unknown token, too large, malformed)
    QUEUED = "queued"
    DISCARDED = "discarded"


class InboundMessage(db.Model):
    """Every message that reached us, stored raw; the queue is the QUEUED ones."""

    __tablename__ = "inbound_message"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: SHA-256 of the raw message: the same message delivered twice is stored once
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    #: "webhook", "imap" or "pipe"
    source: Mapped[str] = mapped_column(String(16))
    size: Mapped[int]
    state: Mapped[InboundState] = enum_column(InboundState, index=True)
    #: why it waits for a campaigner: "unknown_token", "too_large", "malformed"
    reason: Mapped[str | None] = mapped_column(String(32))
    from_header: Mapped[str] = mapped_column(String(320), default="")
    subject: Mapped[str] = mapped_column(String(300), default="")
    message_id_header: Mapped[str] = mapped_column(String(300), default="")
    #: file name of the raw message under the inbound storage directory
    raw_file: Mapped[str] = mapped_column(String(100))
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    handled_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("campaigner.id", ondelete="SET NULL"))


class ReplyAttachment(db.Model):
    """A file that came with a reply; stored outside static/ and only served to campaigners."""

    __tablename__ = "reply_attachment"

    id: Mapped[int] = mapped_column(primary_key=True)
    reply_id: Mapped[int | None] = mapped_column(ForeignKey("reply.id", ondelete="CASCADE"),
                                                 index=True)
    filename: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int]
    #: stored file name (content hash); None when refused (its bytes stay in the raw message)
    stored_as: Mapped[str | None] = mapped_column(String(100))
    #: why it was not stored ("too large", "type not accepted")
    refused: Mapped[str | None] = mapped_column(String(100))

    reply: Mapped[Reply | None] = relationship(back_populates="attachments",
                                               foreign_keys=[reply_id])
