"""Signing what a page view hands out: the session cookie, the CSRF token, form timestamps.

Every anonymous view of a campaign page signs three short things for a new reader: their
CSRF token, the sign form's start time and the session cookie holding the token's secret
half. Flask and Flask-WTF build a new serializer for each, and itsdangerous runs zlib
over every payload to see whether it comes out shorter: each attempt sets up ~256 kB of
compressor state (3-30 µs here, as much as the rest of the signing or more), and a random
token or a timestamp never does come out shorter. So serializers are built once per key,
and short payloads are signed as they are, which is what itsdangerous itself does when
compression does not pay: the tokens look the same, and every reader (``loads``, in
Flask-WTF and Flask too) reads both forms. Together: ~85 µs less per new reader's page
view under load (2026-11-25, bench/RESULTS.md).
"""
from __future__ import annotations

import secrets
from functools import lru_cache
from typing import Any

from flask import Flask, current_app, g, session
from flask.sessions import SecureCookieSessionInterface
from itsdangerous import URLSafeTimedSerializer
from itsdangerous.encoding import base64_encode
from itsdangerous.serializer import Serializer

#: payloads up to this many bytes (JSON) are signed without trying zlib on them
COMPRESS_ABOVE = 128


class ShortPayloadSerializer(URLSafeTimedSerializer):
    """itsdangerous' URL-safe timed serializer that compresses long payloads only."""

    def dump_payload(self, obj: Any) -> bytes:
        json = Serializer.dump_payload(self, obj)
        if len(json) > COMPRESS_ABOVE:
            return super().dump_payload(obj)
        return base64_encode(json)


@lru_cache(maxsize=32)
def serializer(secret_key: str | bytes, salt: str) -> URLSafeTimedSerializer:
    """One serializer per key and purpose (they keep no state between calls)."""
    return ShortPayloadSerializer(secret_key, salt=salt)


#: the salt Flask-WTF signs and checks CSRF tokens with (flask_wtf.csrf)
CSRF_SALT = "wtf-csrf-token"


def csrf_token() -> str:
    """This reader's CSRF token, as Flask-WTF's ``generate_csrf()`` makes it.

    The same token for the whole request (Flask-WTF keeps it in ``g`` under the field
    name, so the form and the ``csrf_token()`` template global find it there), bound to
    the random secret kept in the reader's session; Flask-WTF's ``validate_csrf()``
    checks it on the POST. Only the serializer differs: built once, no zlib.
    """
    config = current_app.config
    field_name = config["WTF_CSRF_FIELD_NAME"]
    token = g.get(field_name)
    if token is None:
        if field_name not in session:
            # 160 random bits as 40 hex digits, the shape of Flask-WTF's sha1(urandom(64))
            session[field_name] = secrets.token_hex(20)
        secret_key = config.get("WTF_CSRF_SECRET_KEY") or current_app.secret_key
        token = serializer(secret_key, CSRF_SALT).dumps(session[field_name])
        setattr(g, field_name, token)
    return token


class CookieSessionInterface(SecureCookieSessionInterface):
    """Flask's signed cookie session (same cookie, same keys and fallbacks), with its
    serializer built once per set of keys instead of twice per request."""

    def get_signing_serializer(self, app: Flask) -> URLSafeTimedSerializer | None:
        if not app.secret_key:
            return None
        # itsdangerous expects the current key last
        keys = (*(app.config["SECRET_KEY_FALLBACKS"] or ()), app.secret_key)
        return _session_serializer(keys)


@lru_cache(maxsize=8)
def _session_serializer(keys: tuple[str | bytes, ...]) -> URLSafeTimedSerializer:
    flask_sessions = SecureCookieSessionInterface
    return ShortPayloadSerializer(
        list(keys), salt=flask_sessions.salt, serializer=flask_sessions.serializer,
        signer_kwargs={"key_derivation": flask_sessions.key_derivation,
                       "digest_method": flask_sessions.digest_method},
    )


def init_app(app: Flask) -> None:
    app.session_interface = CookieSessionInterface()
