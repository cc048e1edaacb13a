"""Tokens signed by campaigns/core/signing.py read back as itsdangerous' own do."""
from __future__ import annotations

import secrets

from itsdangerous import URLSafeTimedSerializer

from campaigns.core.signing import serializer


def test_short_payloads_look_as_itsdangerous_makes_them_and_long_ones_are_still_compressed():
    ours, theirs = serializer("key", "salt"), URLSafeTimedSerializer("key", salt="salt")
    token = secrets.token_hex(20)  # a CSRF secret's shape
    # the payload, before the timestamp and signature, is the same
    assert ours.dumps(token).split(".")[0] == theirs.dumps(token).split(".")[0]
    assert theirs.loads(ours.dumps(token)) == token

    long_value = {"flashes": ["Thank you for signing."] * 20}
    signed = ours.dumps(long_value)
    assert signed.startswith(".")  # zlib, as itsdangerous does when it pays
    assert len(signed) < len(theirs.dumps(long_value).lstrip(".")) + 10
    assert theirs.loads(signed) == long_value and ours.loads(theirs.dumps(long_value)) == long_value


def test_a_signed_in_campaigners_session_survives_the_cookie(client, login, make_campaigner):
    login(make_campaigner())
    assert client.get("/admin/dashboards").status_code == 200
