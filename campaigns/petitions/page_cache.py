"""The campaign page, drawn once every few seconds rather than on every view.

A viral campaign's page is read thousands of times between two changes of its count
(which moves every COUNTER_FLUSH_SECONDS anyway). For anonymous readers the page is kept,
per process, for CAMPAIGN_PAGE_CACHE_SECONDS, with two placeholders where each reader's
own values go: the CSRF token and the sign form's signed start time. Signed-in
campaigners, readers with a message waiting (flash) and form errors always get a fresh page.

No reader waits for a redraw once the page has been drawn (stale-while-revalidate, in
process): the first reader after the page went stale gets the stale page, and the page is
drawn again in that reader's thread after their response has gone out. Meanwhile other
readers keep getting the stale page. A page older than STALE_LIMIT drawings (the redraw
failed, or nobody came for a while) is drawn again before answering, as at the start.
"""
from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from typing import Callable

from flask import after_this_request, copy_current_request_context, current_app, session
from flask_babel import get_locale
from flask_login import current_user

from campaigns.core.signing import csrf_token

#: stand-ins that HTML escaping leaves as they are
CSRF_PLACEHOLDER = "threadline-csrf-token-placeholder"
STARTED_PLACEHOLDER = "threadline-form-started-placeholder"
MAX_ENTRIES = 2000
#: a page older than this many CAMPAIGN_PAGE_CACHE_SECONDS is drawn before answering
STALE_LIMIT = 6

log = logging.getLogger(__name__)

_pages: OrderedDict[tuple, tuple[float, str]] = OrderedDict()
#: keys being drawn again after a response, and since when (one redraw at a time per key)
_redrawing: dict[tuple, float] = {}
_lock = threading.Lock()


def cacheable() -> bool:
    return (current_app.config["CAMPAIGN_PAGE_CACHE_SECONDS"] > 0
            and not current_user.is_authenticated
            and not session.get("_flashes"))


def personalise(html: str) -> str:
    from campaigns.signatures.abuse import form_started_token

    return html.replace(CSRF_PLACEHOLDER, csrf_token()).replace(
        STARTED_PLACEHOLDER, form_started_token())


def cached_page(key: tuple, draw: Callable[[], str]) -> str:
    """The page for ``key``, drawn by ``draw`` (with the placeholders) when missing or stale."""
    key = (str(get_locale()), *key)
    now = time.monotonic()
    max_age = current_app.config["CAMPAIGN_PAGE_CACHE_SECONDS"]
    entry = _pages.get(key)
    if entry is None or now - entry[0] > STALE_LIMIT * max_age:
        entry = _store(key, now, draw())
    elif now - entry[0] > max_age and _claim_redraw(key, now, max_age):
        _redraw_after_response(key, draw)
    return personalise(entry[1])


def _store(key: tuple, drawn_at: float, html: str) -> tuple[float, str]:
    entry = (drawn_at, html)
    with _lock:
        _pages[key] = entry
        _pages.move_to_end(key)
        while len(_pages) > MAX_ENTRIES:
            _pages.popitem(last=False)
    return entry


def _claim_redraw(key: tuple, now: float, max_age: float) -> bool:
    """True for the one request that redraws ``key`` (a claim left behind expires)."""
    with _lock:
        since = _redrawing.get(key)
        if since is not None and now - since < STALE_LIMIT * max_age:
            return False
        _redrawing[key] = now
        return True


def _redraw_after_response(key: tuple, draw: Callable[[], str]) -> None:
    @copy_current_request_context
    def redraw() -> None:
        try:
            drawn_at = time.monotonic()
            _store(key, drawn_at, draw())
        except Exception as exc:  # e.g. the campaign closed (404): the next reader draws it
            log.info("campaign page %s not redrawn: %r", key, exc)
            with _lock:
                _pages.pop(key, None)
        finally:
            with _lock:
                _redrawing.pop(key, None)

    @after_this_request
    def schedule(response):
        # runs once the server has sent the body and closes the response
        response.call_on_close(redraw)
        return response
