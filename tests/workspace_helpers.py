"""Helpers for the campaign workspace tests: post its forms as a browser would."""
from __future__ import annotations

from datetime import date, timedelta

from campaigns.consultations.models import RequesterKind, WorkerConsultation
from campaigns.core.db import db, utcnow
from tests.helpers import csrf_token


def token(client, path: str = "/admin/") -> str:
    return csrf_token(client.get(path).get_data(as_text=True))


def campaign_form(targets, **fields) -> dict:
    """The campaign form's fields; ``targets`` is a list of (target, ask)."""
    data = {"title": "Reinstate the Harbor union leaders", "slug": "reinstate-harbor",
            "summary": "Fourteen leaders were dismissed.", "story": "The union **asked** us.",
            "goal": "500", "deadline": "", "languages": ["en"], "image_alt": "", "save": "Save"}
    for i, (target, ask) in enumerate(targets):
        data[f"targets-{i}-target"] = str(target.id)
        data[f"targets-{i}-ask"] = ask
    data.update(fields)
    return {k: v for k, v in data.items() if v is not None}


def post_campaign(client, targets, path: str = "/admin/campaigns/new", **fields):
    data = campaign_form(targets, **fields)
    data["csrf_token"] = token(client)  # one token per session: any workspace page has it
    return client.post(path, data=data, content_type="multipart/form-data")


def change_status(client, campaign_slug: str, status: str):
    return client.post(f"/admin/campaigns/{campaign_slug}/status",
                       data={"csrf_token": token(client), "status": status})


def add_consultation(campaign, valid_days: int = 90, consulted_days_ago: int = 3) -> WorkerConsultation:
    today = utcnow().date()
    consultation = WorkerConsultation(
        campaign_id=campaign.id, requester_kind=RequesterKind.UNION,
        requester_organisation="Harbor Workers' Union", country="KH",
        consulted_on=today - timedelta(days=consulted_days_ago), approved_demands=True,
        approved_naming_factory=True, approved_timing=True, retaliation_risks="Dismissals.",
        valid_until=today + timedelta(days=valid_days))
    db.session.add(consultation)
    db.session.commit()
    return consultation


def consultation_form(**fields) -> dict:
    today = utcnow().date()
    data = {"requester_kind": "union", "requester_organisation": "Harbor Workers' Union",
            "country": "KH", "consulted_on": (today - timedelta(days=2)).isoformat(),
            "approved_demands": "y", "approved_naming_factory": "y", "approved_timing": "y",
            "approval_notes": "", "retaliation_risks": "Blacklisting by other factories.",
            "valid_until": (today + timedelta(days=60)).isoformat()}
    data.update(fields)
    return {k: v for k, v in data.items() if v is not None}


def days(n: int) -> date:
    return utcnow().date() + timedelta(days=n)
