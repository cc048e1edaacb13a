"""Who may do what. Every admin route declares its minimum role with @require_role."""
from __future__ import annotations

from functools import wraps
from typing import Any, Callable

from flask import abort, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from campaigns.accounts.models import Campaigner, Role

__all__ = ["Role", "require_role", "can_manage_campaign", "can_manage_accounts"]


def require_role(minimum: Role, campaign_scoped: bool = False) -> Callable:
    """Sign-in required, with at least ``minimum``; admins must have two-factor sign-in on.

    With ``campaign_scoped``, the route's ``slug`` names a campaign (in any state): the view
    receives ``campaign`` instead, and a campaigner who may not manage it gets 403 (viewers
    read every campaign; only changes are limited to one's organisation).

    The view keeps its minimum in ``view.required_role`` (and ``view.campaign_scoped``) so
    that a test walks every admin route and checks the answer for each role.
    """
    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any):
            if not current_user.is_authenticated:
                if request.path.startswith("/api/"):
                    abort(401)
                return redirect(url_for("accounts.login", next=request.full_path))
            if not current_user.has_role(minimum):
                abort(403)
            if current_user.role == Role.ADMIN and not current_user.two_factor_enabled:
                flash(_("Admins must turn on two-factor sign-in before anything else."))
                return redirect(url_for("accounts.two_factor"))
            if campaign_scoped:
                campaign = _campaign_or_404(kwargs.pop("slug"))
                if minimum.rank >= Role.CAMPAIGNER.rank and not can_manage_campaign(current_user, campaign):
                    abort(403)
                kwargs["campaign"] = campaign
            return view(*args, **kwargs)

        wrapped.required_role = minimum
        wrapped.campaign_scoped = campaign_scoped
        return wrapped

    return decorator


def _campaign_or_404(slug: str):
    from sqlalchemy import select

    from campaigns.core.db import db
    from campaigns.petitions.models import Campaign

    campaign = db.session.scalars(select(Campaign).filter_by(slug=slug)).first()
    if campaign is None:
        abort(404)
    return campaign


def can_manage_campaign(campaigner: Campaigner, campaign: Any) -> bool:
    """Admins manage every campaign; campaigners theirs (their organisation's, if they have one)."""
    if campaigner.role == Role.ADMIN:
        return True
    if campaigner.role != Role.CAMPAIGNER:
        return False
    return campaigner.organisation_id is None or campaigner.organisation_id == campaign.organisation_id


def can_manage_accounts(campaigner: Campaigner) -> bool:
    return campaigner.role == Role.ADMIN


def safe_next(target: str | None) -> str:
    """Where to go after sign-in: a local path; the admin home by default; '/' for anything
    pointing elsewhere (another host, //evil.example, a backslash trick)."""
    if not target:
        return url_for("admin.home")
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target
