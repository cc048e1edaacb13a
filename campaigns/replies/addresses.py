"""Reply addresses: every letter and reminder to a target carries its thread's address.

A campaign x target thread (``CampaignTarget``) has a random ``reply_token``; mail to
``reply+<token>@REPLY_DOMAIN`` belongs to that thread. Tokens are lowercase letters and
digits only, since some mail servers fold the local part to lowercase.
"""
from __future__ import annotations

import re
import secrets
import string

from flask import current_app

TOKEN_ALPHABET = string.ascii_lowercase + string.digits
TOKEN_LENGTH = 20
_ADDRESS = re.compile(r"^reply\+([a-z0-9]{%d})@(.+)$" % TOKEN_LENGTH, re.IGNORECASE)


def new_reply_token() -> str:
    return "".join(secrets.choice(TOKEN_ALPHABET) for _ in range(TOKEN_LENGTH))


def reply_address(token: str) -> str:
    """The address replies to this thread go to."""
    return f"reply+{token}@{current_app.config['REPLY_DOMAIN']}"


def token_from_address(address: str) -> str | None:
    """The thread token in a reply address on our domain, or None."""
    match = _ADDRESS.match(address.strip().strip("<>"))
    if match is None or match.group(2).lower() != current_app.config["REPLY_DOMAIN"].lower():
        return None
    return match.group(1).lower()
