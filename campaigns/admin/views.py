"""The campaigner workspace's home and the audit log."""
from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from campaigns.accounts.policy import Role, require_role
from campaigns.audit.models import AuditEvent
from campaigns.core.db import db
from campaigns.petitions.models import Campaign

bp = Blueprint("admin", __name__, url_prefix="/admin")


@dataclass(frozen=True)
class MenuItem:
    endpoint: str
    label: object
    minimum: Role


#: the workspace navigation; each feature adds its pages with add_menu_item()
MENU: list[MenuItem] = []


def add_menu_item(endpoint: str, label: object, minimum: Role = Role.VIEWER) -> None:
    if all(item.endpoint != endpoint for item in MENU):
        MENU.append(MenuItem(endpoint, label, minimum))


@bp.app_context_processor
def workspace_menu():
    def admin_menu():
        if not current_user.is_authenticated:
            return []
        return [{"url": url_for(item.endpoint), "label": item.label}
                for item in MENU if current_user.has_role(item.minimum)]

    return {"admin_menu": admin_menu}


@bp.after_request
def never_cache(response):
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/")
@require_role(Role.VIEWER)
def home():
    from campaigns.consultations.operations import consultations_needing_attention

    campaigns = db.session.scalars(select(Campaign).order_by(Campaign.updated_at.desc())).all()
    return render_template("admin/home.html", campaigns=campaigns,
                           consultation_alerts=consultations_needing_attention())


@bp.get("/audit")
@require_role(Role.ADMIN)
def audit_log():
    page = max(request.args.get("page", 1, type=int), 1)
    events = db.session.scalars(
        select(AuditEvent).options(selectinload(AuditEvent.actor))
        .order_by(AuditEvent.id.desc()).limit(100).offset((page - 1) * 100)
    ).all()
    return render_template("admin/audit.html", events=events, page=page)
