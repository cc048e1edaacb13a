"""Signers who confirmed by email, and the links in the emails they received."""
from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest

from tests.helpers import confirm_link, csrf_token

PREFERENCES_LINK = re.compile(r"https?://\S+/preferences/[A-Za-z0-9_.\-]+")
UNSUBSCRIBE_HEADER = re.compile(r"<(https?://[^>]+/u/[A-Za-z0-9_.\-]+)>")


def preferences_path(message) -> str:
    match = PREFERENCES_LINK.search(message.text)
    assert match, f"no preferences link in: {message.text!r}"
    return urlsplit(match.group(0)).path


def unsubscribe_path(message) -> str:
    header = " ".join(str(message.message["List-Unsubscribe"] or "").split())
    match = UNSUBSCRIBE_HEADER.search(header)
    assert match, f"no one-click link in List-Unsubscribe: {header!r}"
    return urlsplit(match.group(1)).path


@pytest.fixture
def signer(client, sign, mail_sink):
    """Sign through the campaign page, then confirm from the email (unless confirm=False).

    Returns the confirmation email (it carries the preferences and unsubscribe links).
    """
    def make(campaign, email: str, consent: bool = True, confirm: bool = True, **fields):
        before = len(mail_sink.messages(email))
        response = sign(campaign, email=email, consent_updates="y" if consent else None, **fields)
        assert response.status_code == 303
        message = mail_sink.wait_for(email, count=before + 1)[0]
        if confirm:
            path = urlsplit(confirm_link(message)).path
            page = client.get(path)
            assert client.post(path, data={"csrf_token": csrf_token(page.get_data(as_text=True))}
                               ).status_code == 303
        return message

    return make
