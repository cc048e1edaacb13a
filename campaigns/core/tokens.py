"""Signed, expiring tokens for emailed links."""
from __future__ import annotations

from typing import Any

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

__all__ = ["make_token", "read_token", "BadSignature", "SignatureExpired"]


def _serializer(purpose: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=f"threadline:{purpose}")


def make_token(purpose: str, payload: Any) -> str:
    return _serializer(purpose).dumps(payload)


def read_token(purpose: str, token: str, max_age: int) -> Any:
    """The payload; raises SignatureExpired or BadSignature."""
    return _serializer(purpose).loads(token, max_age=max_age)
