"""Small helpers for the tests: waiting on a condition, reading forms and mail, running the
signature intake as a worker does."""
from __future__ import annotations

import re
import socket
import time
from pathlib import Path
from typing import Callable, TypeVar

from campaigns.devmail.capture import CapturedMessage, clear_messages, read_messages

T = TypeVar("T")
CSRF = re.compile(r'<input[^>]*name="csrf_token"[^>]*>')
VALUE = re.compile(r'value="([^"]+)"')
CONFIRM_LINK = re.compile(r"https?://\S+/sign/confirm/[A-Za-z0-9_.\-]+")


def wait_until(condition: Callable[[], T], timeout: float = 15.0, interval: float = 0.05,
               message: str = "condition") -> T:
    """Poll ``condition`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {message}")
        time.sleep(interval)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def csrf_token(html: str) -> str:
    match = CSRF.search(html)
    assert match, "no CSRF token in the page"
    return VALUE.search(match.group(0)).group(1)


class Mailbox:
    """What the test SMTP server (a real aiosmtpd) received."""

    def __init__(self, directory: Path, port: int) -> None:
        self.directory = directory
        self.port = port

    def messages(self, to: str | None = None) -> list[CapturedMessage]:
        found = read_messages(self.directory)
        if to is not None:
            found = [m for m in found if to.lower() in m.to.lower()]
        return found

    def wait_for(self, to: str, count: int = 1, timeout: float = 15.0) -> list[CapturedMessage]:
        return wait_until(lambda: (lambda found: found if len(found) >= count else None)(
            self.messages(to)), timeout=timeout, message=f"{count} email(s) to {to}")

    def clear(self) -> None:
        clear_messages(self.directory)


def confirm_link(message: CapturedMessage) -> str:
    match = CONFIRM_LINK.search(message.text)
    assert match, f"no confirmation link in: {message.text!r}"
    return match.group(0)


def process_intake() -> int:
    """Sign what waits in the signature intake, as the worker's task does (the same task,
    run here), then wait for rows the suite's worker may have claimed meanwhile. Returns
    how many this call signed. The test's session then reads what was committed."""
    from flask import current_app
    from sqlalchemy import func, select

    from campaigns.core.db import db
    from campaigns.signatures.models import SignatureIntake
    from campaigns.signatures.operations import INTAKE_MAX_ATTEMPTS
    from campaigns.signatures.tasks import process_signature_intake

    taken = process_signature_intake()

    def drained() -> bool:
        with current_app.app_context():
            return not db.session.scalar(select(func.count()).select_from(SignatureIntake)
                                         .where(SignatureIntake.attempts < INTAKE_MAX_ATTEMPTS))

    wait_until(drained, message="the signature intake to be processed")
    db.session.rollback()
    db.session.expire_all()
    return taken


def keep_the_suite_worker_off_the_intake(monkeypatch) -> None:
    """The suite's worker (a thread of this process) signs nothing from the intake until
    the test undoes the patch. A task it had already started, say a previous test's nudge,
    is waited for: it may be blocked on SQLite's write lock, about to claim rows this test
    submits."""
    from celery.worker import state

    from campaigns.signatures import tasks

    monkeypatch.setattr(tasks, "process_intake", lambda limit: 0)
    wait_until(lambda: not state.active_requests, message="the suite's worker to be idle")
