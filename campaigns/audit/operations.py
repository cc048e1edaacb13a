"""Recording to the audit log."""
from __future__ import annotations

from typing import Any

from flask_login import current_user

from campaigns.audit.models import AuditEvent
from campaigns.core.db import db


def record(action: str, subject: Any = None, actor: Any = None, **details: Any) -> AuditEvent:
    """Append one event; the actor is the signed-in campaigner unless given."""
    if actor is None and current_user and getattr(current_user, "is_authenticated", False):
        actor = current_user
    event = AuditEvent(
        actor_id=getattr(actor, "id", None),
        action=action,
        subject_type=type(subject).__name__ if subject is not None else None,
        subject_id=getattr(subject, "id", None),
        details=details,
    )
    db.session.add(event)
    return event
