"""A proof of work for the sign form, switched on per campaign under attack.

Self-hosted ALTCHA (v1): the server hands out a signed challenge, the browser finds the
number that hashes to it (static/js/proof-of-work.js, a second or two of work), and the
server checks the signature, the expiry and that no solution is used twice. No third
party sees anything, and people need no account and no puzzle to look at.
"""
from __future__ import annotations

import base64
import json
from datetime import datetime, timedelta, timezone

import altcha
from flask import current_app
from limits import parse

from campaigns.core.extensions import limiter

#: how long a challenge stays valid
CHALLENGE_LIFETIME = timedelta(minutes=20)


def _key() -> str:
    return current_app.config["SECRET_KEY"] + ":proof-of-work"


def new_challenge() -> dict:
    challenge = altcha.create_challenge_v1(
        hmac_key=_key(), max_number=current_app.config["PROOF_OF_WORK_DIFFICULTY"],
        expires=datetime.now(timezone.utc) + CHALLENGE_LIFETIME,
    )
    return {"algorithm": challenge.algorithm, "challenge": challenge.challenge,
            "maxnumber": challenge.max_number, "salt": challenge.salt,
            "signature": challenge.signature}


def _first_use(challenge: str) -> bool:
    """True the first time a solved challenge is presented (kept in the limiter's storage)."""
    if not limiter.enabled:
        return True
    return limiter.limiter.hit(parse("1/hour"), "proof-of-work", challenge)


def solved(payload: str | None) -> bool:
    if not payload:
        return False
    try:
        ok, _ = altcha.verify_solution_v1(payload, _key(), check_expires=True)
        challenge = json.loads(base64.b64decode(payload))["challenge"]
    except (ValueError, KeyError, TypeError):
        return False
    return bool(ok) and _first_use(challenge)
