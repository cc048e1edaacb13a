"""Absolute links built from BASE_URL, never from the request's Host header."""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import current_app, url_for


def external_url(endpoint: str, **values: object) -> str:
    """An absolute URL for emails, Open Graph tags and share links."""
    base = urlsplit(current_app.config["BASE_URL"])
    adapter = current_app.url_map.bind(
        base.netloc, script_name=base.path or "/", url_scheme=base.scheme or "https"
    )
    return adapter.build(endpoint, values, force_external=True)


def static_url(filename: str) -> str:
    return current_app.config["BASE_URL"] + url_for("static", filename=filename)
