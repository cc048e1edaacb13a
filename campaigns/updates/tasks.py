"""Sending an update: a fan-out that queues one outbox email per recipient."""
from __future__ import annotations

from celery import shared_task

from campaigns.core.db import db
from campaigns.updates import operations
from campaigns.updates.models import CampaignUpdate, UpdateState


@shared_task(ignore_result=True)
def fan_out_update(update_id: int, batch_size: int = operations.FAN_OUT_BATCH) -> int:
    """Queue the update for every recipient, one committed batch at a time.

    Safe to run again, or after a crash mid-way: recipients already queued are skipped.
    Returns the number of batches processed.
    """
    batches = 0
    after = 0
    while True:
        update = db.session.get(CampaignUpdate, update_id)
        if update is None or update.state != UpdateState.SENDING:
            db.session.rollback()
            return batches
        last = operations.queue_batch(update, after, batch_size)
        if last is None:
            operations.finish_sending(update)
            db.session.commit()
            return batches
        db.session.commit()  # the emails of this batch are enqueued after this commit
        after = last
        batches += 1


@shared_task(ignore_result=True)
def resume_stalled_fan_outs() -> int:
    """Queue again the fan-out of updates still sending a while after they started.

    The fan-out may have been lost (broker down when the campaigner pressed send, a worker
    killed for good); running it again is harmless, so when in doubt, run it again.
    """
    from campaigns.core.celery import enqueue

    stalled = operations.stalled_update_ids()
    db.session.rollback()
    for update_id in stalled:
        if not enqueue(fan_out_update, update_id):
            break
    return len(stalled)
