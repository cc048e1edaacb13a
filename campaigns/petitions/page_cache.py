"""The campaign page, drawn once every few seconds rather than on every view.

A viral campaign's page is read thousands of times between two changes of its count
(which moves every COUNTER_FLUSH_SECONDS anyway). For anonymous readers the page is kept,
per process, for CAMPAIGN_PAGE_CACHE_SECONDS, with two placeholders where each reader's
own values go: the CSRF token and the sign form's signed start time. Signed-in
campaigners, readers with a message waiting (flash) and form errors always get a fresh page.
"""
from __future__ import annotations

import time
from collections import OrderedDict
from typing import Callable

from flask import current_app, session
from flask_babel import get_locale
from flask_login import current_user
from flask_wtf.csrf import generate_csrf

#: stand-ins that HTML escaping leaves as they are
CSRF_PLACEHOLDER = "threadline-csrf-token-placeholder"
STARTED_PLACEHOLDER = "threadline-form-started-placeholder"
MAX_ENTRIES = 2000

_pages: OrderedDict[tuple, tuple[float, str]] = OrderedDict()


def cacheable() -> bool:
    return (current_app.config["CAMPAIGN_PAGE_CACHE_SECONDS"] > 0
            and not current_user.is_authenticated
            and not session.get("_flashes"))


def personalise(html: str) -> str:
    from campaigns.signatures.abuse import form_started_token

    return html.replace(CSRF_PLACEHOLDER, generate_csrf()).replace(
        STARTED_PLACEHOLDER, form_started_token())


def cached_page(key: tuple, draw: Callable[[], str]) -> str:
    """The page for ``key``, drawn by ``draw`` (with the placeholders) when stale."""
    key = (str(get_locale()), *key)
    now = time.monotonic()
    entry = _pages.get(key)
    if entry is None or now - entry[0] > current_app.config["CAMPAIGN_PAGE_CACHE_SECONDS"]:
        entry = (now, draw())
        _pages[key] = entry
        _pages.move_to_end(key)
        while len(_pages) > MAX_ENTRIES:
            _pages.popitem(last=False)
    return personalise(entry[1])
