"""Security headers on every response. No third-party scripts, fonts or frames, ever."""
from __future__ import annotations

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


def init_app(app: Flask) -> None:
    hsts = app.config["BASE_URL"].startswith("https://")

    @app.after_request
    def security_headers(response: Response) -> Response:
        headers = response.headers
        headers.setdefault("Content-Security-Policy", _policy())
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
        if hsts:
            headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
        if "Cache-Control" not in headers and (request.method != "GET" or _signed_in()):
            # a signed-in campaigner's pages show supporters, consultations, donations
            headers["Cache-Control"] = "no-store"
        return response


def _signed_in() -> bool:
    from flask_login import current_user

    return bool(current_user and current_user.is_authenticated)
