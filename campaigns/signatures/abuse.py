"""Telling bots and floods from people, without telling the bots.

A suspicious signature is accepted like any other (same answer, same page) but stored
as fraudulent: it is never counted and no email goes out. The reasons:

- the honeypot field, invisible to people, was filled in;
- the form came back faster than a person fills it (SIGN_MIN_SECONDS), or without the
  signed timestamp the page put in it;
- the address, the email domain or the country is on a block list;
- the campaign asks for a proof of work (under attack) and none came, or a used one;
- more signatures than SIGN_RATE_LIMIT from one address, SIGN_DOMAIN_RATE_LIMIT from one
  email domain, or SIGN_CAMPAIGN_RATE_LIMIT on one campaign (a circuit breaker).
"""
from __future__ import annotations

import fnmatch
import ipaddress
import time
from functools import lru_cache

from flask import current_app
from flask_limiter.util import get_remote_address
from itsdangerous import BadSignature, URLSafeTimedSerializer
from limits import parse_many

from campaigns.core.extensions import limiter
from campaigns.core.signing import serializer

HONEYPOT = "website"
TIMING_SALT = "threadline:form-started"


def _timing_serializer() -> URLSafeTimedSerializer:
    return serializer(current_app.config["SECRET_KEY"], TIMING_SALT)


#: the last token made, with its second and key: every form handed out in that second
#: carries the same token (it signs nothing but the second), so it is signed once
_last_started: tuple[int, str | bytes, str] = (0, b"", "")


def form_started_token() -> str:
    """Put in the form when the page is drawn; says when, and cannot be forged."""
    global _last_started
    now, key = int(time.time()), current_app.config["SECRET_KEY"]
    second, signed_with, token = _last_started
    if second != now or signed_with != key:
        token = _timing_serializer().dumps(now)
        _last_started = (now, key, token)
    return token


def filled_too_fast(token: str | None) -> bool:
    minimum = current_app.config["SIGN_MIN_SECONDS"]
    if minimum <= 0:
        return False
    try:
        started = _timing_serializer().loads(token or "", max_age=24 * 3600)
    except (BadSignature, TypeError, ValueError):
        return True
    return time.time() - started < minimum


@lru_cache(maxsize=16)
def _networks(spec: str) -> tuple:
    return tuple(ipaddress.ip_network(n.strip(), strict=False) for n in spec.split(",") if n.strip())


def _listed(value: str, spec: str) -> bool:
    return any(fnmatch.fnmatch(value, pattern.strip().lower())
               for pattern in spec.split(",") if pattern.strip())


def blocked(ip: str, email: str, country: str) -> str | None:
    config = current_app.config
    try:
        address = ipaddress.ip_address(ip)
        if any(address in network for network in _networks(config["BLOCKED_NETWORKS"])):
            return "blocked:network"
    except ValueError:
        pass
    domain = email.rpartition("@")[2].lower()
    if _listed(domain, config["BLOCKED_EMAIL_DOMAINS"]):
        return "blocked:domain"
    if _listed(country.lower(), config["BLOCKED_COUNTRIES"]):
        return "blocked:country"
    return None


def _over(limit: str, *key: str) -> bool:
    strategy = limiter.limiter if limiter.enabled else None
    if strategy is None:
        return False
    return not all([strategy.hit(item, "sign-soft", *key) for item in parse_many(limit)])


def over_limits(ip: str, email: str, campaign_slug: str) -> str | None:
    config = current_app.config
    domain = email.rpartition("@")[2].lower()
    if _over(config["SIGN_RATE_LIMIT"], "ip", ip):
        return "rate:address"
    if _over(config["SIGN_DOMAIN_RATE_LIMIT"], "domain", domain):
        return "rate:domain"
    if _over(config["SIGN_CAMPAIGN_RATE_LIMIT"], "campaign", campaign_slug):
        return "rate:campaign"
    return None


def assess(*, email: str, country: str, campaign_slug: str, honeypot: str | None = None,
           started: str | None = None, from_form: bool = True, proof_required: bool = False,
           proof: str | None = None) -> str | None:
    """Why this submission looks like abuse, or None. Forms also get the bot traps."""
    if proof_required:
        from campaigns.signatures.proof_of_work import solved

        if not solved(proof):
            return "proof_of_work"
    if from_form:
        if honeypot:
            return "honeypot"
        if filled_too_fast(started):
            return "too_fast"
    ip = get_remote_address() or ""
    return blocked(ip, email, country) or over_limits(ip, email, campaign_slug)
