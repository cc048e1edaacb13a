"""Reading delivery status notifications (RFC 3464) for letters that came back.

A DSN is a ``multipart/report; report-type=delivery-status`` message: a human part, a
``message/delivery-status`` part (per recipient: Action, Status, Diagnostic-Code) and the
returned message or its headers (``message/rfc822`` or ``text/rfc822-headers``). The
letter is found by its ``X-Threadline-Letter`` header, else by its Message-ID.
"""
from __future__ import annotations

import email
import re
from dataclasses import dataclass
from email.message import Message
from email.policy import compat32

from sqlalchemy import select

from campaigns.actions.models import Letter
from campaigns.core.db import db
from campaigns.core.mail import OutgoingEmail

STATUS = re.compile(r"^\s*([245])\.\d{1,3}\.\d{1,3}")


@dataclass(frozen=True)
class Bounce:
    #: 5.x.x: the address does not work; 4.x.x: try later (counted as a soft bounce)
    permanent: bool
    status: str
    diagnostic: str
    letter_id: int | None
    message_id: str | None


def _returned_headers(report: Message) -> Message | None:
    for part in report.walk():
        kind = part.get_content_type()
        if kind == "message/rfc822":
            payload = part.get_payload()
            if isinstance(payload, list) and payload:
                return payload[0]
        if kind == "text/rfc822-headers":
            raw = part.get_payload(decode=True) or b""
            return email.message_from_bytes(raw, policy=compat32)
    return None


def _recipient_fields(report: Message) -> list[Message]:
    """The per-recipient field groups of the message/delivery-status part."""
    for part in report.walk():
        if part.get_content_type() != "message/delivery-status":
            continue
        payload = part.get_payload()
        if isinstance(payload, list):
            # the stdlib parses the status part as a list of header blocks: message-wide
            # fields first, then one block per recipient
            return payload[1:] or payload
        text = payload if isinstance(payload, str) else ""
        blocks = [b for b in re.split(r"\r?\n\r?\n", text) if b.strip()]
        return [email.message_from_string(b, policy=compat32) for b in blocks[1:] or blocks]
    return []


def parse_dsn(raw: bytes) -> Bounce | None:
    """The bounce a DSN reports, or None when it is not a failure report we can read."""
    report = email.message_from_bytes(raw, policy=compat32)
    if report.get_content_type() != "multipart/report":
        return None
    fields = _recipient_fields(report)
    failed = [f for f in fields if str(f.get("Action", "")).strip().lower() in {"failed", "delayed"}]
    if not failed:
        return None
    status = str(failed[0].get("Status", "")).strip()
    match = STATUS.match(status)
    if match is None:
        return None
    original = _returned_headers(report)
    letter_id = message_id = None
    if original is not None:
        value = str(original.get("X-Threadline-Letter", "")).strip()
        letter_id = int(value) if value.isdigit() else None
        message_id = str(original.get("Message-ID", "")).strip() or None
    return Bounce(permanent=match.group(1) == "5", status=status,
                  diagnostic=" ".join(str(failed[0].get("Diagnostic-Code", "")).split()),
                  letter_id=letter_id, message_id=message_id)


def letter_for(bounce: Bounce) -> Letter | None:
    """The letter a bounce is about: by its header, checked against the Message-ID we sent."""
    if bounce.letter_id is not None:
        letter = db.session.get(Letter, bounce.letter_id)
        if letter is not None and (bounce.message_id is None or letter.email_id is None or
                                   _message_id(letter.email_id) in (None, bounce.message_id)):
            return letter
    if bounce.message_id:
        return db.session.scalars(
            select(Letter).join(OutgoingEmail, Letter.email_id == OutgoingEmail.id)
            .where(OutgoingEmail.message_id == bounce.message_id).order_by(Letter.id)).first()
    return None


def _message_id(email_id: int) -> str | None:
    return db.session.scalar(select(OutgoingEmail.message_id).where(OutgoingEmail.id == email_id))


def handle_dsn(raw: bytes) -> str:
    """Apply a DSN: 'bounced', 'soft', 'unmatched' or 'ignored'."""
    from campaigns.actions.operations import record_bounce

    bounce = parse_dsn(raw)
    if bounce is None:
        return "ignored"
    letter = letter_for(bounce)
    if letter is None:
        return "unmatched"
    hard = record_bounce(letter, permanent=bounce.permanent,
                         diagnostic=f"{bounce.status} {bounce.diagnostic}")
    return "bounced" if hard else "soft"
