"""The local mail capture: an aiosmtpd server that keeps every message in a Maildir.

Used by `make run` (with no MAIL_SERVER configured) and by the tests, which read what
it received. The viewer at /dev/mail reads the same Maildir.
"""
from __future__ import annotations

import email
import mailbox
import time
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import default as default_policy
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller


def open_maildir(directory: str | Path) -> mailbox.Maildir:
    """The Maildir at ``directory``, created with its tmp/new/cur folders if missing."""
    path = Path(directory)
    for sub in ("tmp", "new", "cur"):
        (path / sub).mkdir(parents=True, exist_ok=True)
    return mailbox.Maildir(path, factory=None, create=False)


class MaildirHandler:
    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        open_maildir(self.directory)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        content = envelope.original_content or envelope.content
        if isinstance(content, str):
            content = content.encode("utf-8")
        header = (f"X-Envelope-To: {', '.join(envelope.rcpt_tos)}\r\n"
                  f"X-Captured-At: {time.time_ns()}\r\n")
        open_maildir(self.directory).add(header.encode() + content)
        return "250 Message accepted for delivery"


def start_capture(directory: str | Path, host: str = "127.0.0.1", port: int = 1025) -> Controller:
    controller = Controller(MaildirHandler(directory), hostname=host, port=port)
    controller.start()
    return controller


@dataclass
class CapturedMessage:
    key: str
    message: EmailMessage

    @property
    def subject(self) -> str:
        return str(self.message["Subject"] or "")

    @property
    def to(self) -> str:
        return str(self.message["To"] or "")

    @property
    def sender(self) -> str:
        return str(self.message["From"] or "")

    @property
    def captured_at(self) -> int:
        """When the capture received it, in nanoseconds (orders messages of the same second)."""
        try:
            return int(str(self.message["X-Captured-At"]))
        except (TypeError, ValueError):
            return 0

    @property
    def date(self):
        try:
            return parsedate_to_datetime(str(self.message["Date"]))
        except (TypeError, ValueError):
            return None

    def body(self, subtype: str) -> str | None:
        part = self.message.get_body(preferencelist=(subtype,))
        return part.get_content() if part is not None else None

    @property
    def text(self) -> str:
        return self.body("plain") or ""

    @property
    def html(self) -> str | None:
        return self.body("html")


def read_messages(directory: str | Path) -> list[CapturedMessage]:
    """Every captured message, newest first."""
    box = open_maildir(directory)
    messages = []
    for key in box.keys():
        try:
            raw = box.get_bytes(key)
        except KeyError:
            continue
        parsed = email.message_from_bytes(raw, policy=default_policy)
        messages.append(CapturedMessage(key=key, message=parsed))
    return sorted(messages, key=lambda m: m.captured_at, reverse=True)


def read_message(directory: str | Path, key: str) -> CapturedMessage | None:
    return next((m for m in read_messages(directory) if m.key == key), None)


def clear_messages(directory: str | Path) -> None:
    open_maildir(directory).clear()
