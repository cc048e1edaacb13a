"""Retention, daily: supporters of campaigns that ended long ago are anonymised, and the
outbox's copies of emails settled long ago are emptied."""
from __future__ import annotations

from celery import shared_task

from campaigns.audit.operations import record
from campaigns.core.db import db
from campaigns.privacy import operations


@shared_task(ignore_result=True)
def anonymise_expired_signers(batch_size: int = operations.RETENTION_BATCH) -> int:
    """Erase every supporter past SUPPORTER_RETENTION_DAYS, one committed batch at a time.

    The audit log gets one event per run with the number erased, and no one's details.
    """
    total = 0
    while True:
        erased = operations.anonymise_expired_batch(batch_size)
        total += erased
        if erased < batch_size:
            break
        db.session.commit()
    if total:
        record("supporters.retention_erased", actor=None, count=total)
    purged = operations.purge_old_outbox_copies()
    if purged:
        record("outbox.retention_purged", actor=None, count=purged)
    db.session.commit()
    return total
