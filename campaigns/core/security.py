"""Security headers on every response. No third-party scripts, fonts or frames, ever."""
from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from flask import Flask, Response, g, request

CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "font-src 'self'",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
])


def allow_on_this_page(directive: str, *sources: str) -> None:
    """Widen the policy for the current response only (the donate page loads Stripe.js)."""
    g.setdefault("csp_additions", {}).setdefault(directive, []).extend(sources)


def _policy() -> str:
    additions = dict(g.get("csp_additions") or {})
    if not additions:
        return CONTENT_SECURITY_POLICY
    directives = []
    for directive in CONTENT_SECURITY_POLICY.split("; "):
        name = directive.split(" ", 1)[0]
        directives.append(" ".join([directive, *additions.pop(name, [])]))
    directives += [" ".join([name, *sources]) for name, sources in additions.items()]
    return "; ".join(directives)


#: how long shared caches may keep a public page, and serve it stale while fetching anew
PUBLIC_MAX_AGE = 60
PUBLIC_STALE_WHILE_REVALIDATE = 600


def public_page(view: Callable) -> Callable:
    """A page anyone may cache: the same for every reader, no form, no personal data.

    Answered with ``public, max-age, stale-while-revalidate`` to anonymous readers only;
    a signed-in campaigner's copy (their name in the menu) and any answer that sets a
    cookie is never stored.
    """

    @wraps(view)
    def wrapped(*args: object, **kwargs: object) -> object:
        g.public_page = True
        return view(*args, **kwargs)

    return wrapped


def _publicly_cacheable(response: Response) -> bool:
    return (g.get("public_page", False) and request.method == "GET" and response.status_code == 200
            and "Set-Cookie" not in response.headers and not _signed_in())


#: sent with every response unless the view set its own value
FIXED_HEADERS = (
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "strict-origin-when-cross-origin"),
    ("X-Frame-Options", "DENY"),
    ("Permissions-Policy", "camera=(), microphone=(), geolocation=()"),
)
HSTS = ("Strict-Transport-Security", "max-age=31536000; includeSubDomains")


def init_app(app: Flask) -> None:
    fixed = FIXED_HEADERS + ((HSTS,) if app.config["BASE_URL"].startswith("https://") else ())

    @app.after_request
    def security_headers(response: Response) -> Response:
        headers = response.headers
        # one pass over the headers for all the names (each ``setdefault`` or ``in`` on
        # werkzeug's Headers scans the list again, lowering every name: ~20 µs a page view)
        present = set(headers.keys(lower=True))
        if "content-security-policy" not in present:
            headers.add("Content-Security-Policy", _policy())
        headers.extend((name, value) for name, value in fixed if name.lower() not in present)
        if "cache-control" in present:
            return response
        if _publicly_cacheable(response):
            response.cache_control.public = True
            response.cache_control.max_age = PUBLIC_MAX_AGE
            response.cache_control.stale_while_revalidate = PUBLIC_STALE_WHILE_REVALIDATE
        elif request.method != "GET" or _signed_in():
            # a signed-in campaigner's pages show supporters, consultations, donations
            headers["Cache-Control"] = "no-store"
        return response


def _signed_in() -> bool:
    from flask_login import current_user

    return bool(current_user and current_user.is_authenticated)
