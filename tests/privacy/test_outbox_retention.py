"""The outbox does not keep copies of settled emails for ever: they carry names,
addresses, letters' texts and confirmation links."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from campaigns.audit.models import AuditEvent
from campaigns.core.db import db, utcnow
from campaigns.core.mail import EmailState, OutgoingEmail
from campaigns.privacy.tasks import anonymise_expired_signers
from tests.conftest import fresh


def test_the_outbox_copy_of_an_email_settled_long_ago_is_emptied(app):
    days = app.config["OUTBOX_RETENTION_DAYS"]
    old, recent, waiting = (
        OutgoingEmail(kind="signature_confirmation", to_address=f"{name}@example.org",
                      subject=f"Confirm, {name}", text_body=f"Dear {name}, https://x.test/confirm/abc",
                      state=state, message_id=f"<{name}@threadline.test>",
                      created_at=utcnow() - timedelta(days=age))
        for name, state, age in (("old", EmailState.SENT, days + 1),
                                 ("recent", EmailState.SENT, days - 1),
                                 ("waiting", EmailState.QUEUED, days + 1)))
    db.session.add_all([old, recent, waiting])
    db.session.commit()
    anonymise_expired_signers()
    fresh()
    rows = {row.message_id: row for row in db.session.scalars(select(OutgoingEmail))}
    purged = rows["<old@threadline.test>"]
    assert (purged.to_address, purged.subject, purged.text_body) == (f"purged-{purged.id}@invalid", "", "")
    assert purged.state == EmailState.SENT and purged.kind == "signature_confirmation"
    assert rows["<recent@threadline.test>"].text_body.startswith("Dear recent")
    assert rows["<waiting@threadline.test>"].to_address == "waiting@example.org"  # still to send
    [event] = db.session.scalars(select(AuditEvent).filter_by(action="outbox.retention_purged")).all()
    assert event.details == {"count": 1}
