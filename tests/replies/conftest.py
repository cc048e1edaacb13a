"""Fixtures of the replies tests: a thread, inbound messages built with the email package."""
from __future__ import annotations

from email.message import EmailMessage
from email.utils import format_datetime

import pytest

from campaigns.core.db import db, utcnow
from campaigns.replies import operations
from campaigns.replies.addresses import reply_address

SECRET = "inbound-test-secret"


@pytest.fixture
def inbound_secret(app):
    app.config["INBOUND_MAIL_SECRET"] = SECRET
    yield SECRET
    app.config["INBOUND_MAIL_SECRET"] = None


@pytest.fixture
def make_thread(make_campaign):
    def make(**fields):
        campaign = make_campaign(**fields)
        thread = operations.ensure_thread(campaign.targets[0])
        db.session.commit()
        return thread

    return make


@pytest.fixture
def thread(make_thread):
    return make_thread()


def address_of(thread) -> str:
    return reply_address(thread.campaign_target.reply_token)


def build_message(to: str, body: str = "We take these concerns seriously.", *,
                  subject: str = "Re: Reinstate the union leaders",
                  sender: str = "CSR Team <csr@acme.example>", html: str | None = None,
                  attachments: list[tuple[str, str, bytes]] = (), charset: str = "utf-8",
                  extra_headers: dict | None = None) -> bytes:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = format_datetime(utcnow())
    message["Message-ID"] = f"<{abs(hash((to, body, subject)))}@acme.example>"
    for name, value in (extra_headers or {}).items():
        message[name] = value
    if body is not None:
        message.set_content(body, charset=charset)
        if html is not None:
            message.add_alternative(html, subtype="html")
    elif html is not None:
        message.set_content(html, subtype="html")
    for filename, mime, data in attachments:
        maintype, subtype = mime.split("/")
        message.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    return message.as_bytes()


@pytest.fixture
def post_mail(client, inbound_secret):
    def post(raw: bytes, **kwargs):
        kwargs.setdefault("headers", {"X-Inbound-Secret": inbound_secret,
                                      "Content-Type": "message/rfc822"})
        return client.post("/inbound/mail", data=raw, **kwargs)

    return post


@pytest.fixture
def launched(make_campaign):
    """A live campaign launched at the given time."""
    def make(launched_at, **fields):
        campaign = make_campaign(**fields)
        campaign.launched_at = launched_at
        db.session.commit()
        return campaign

    return make
