"""Background work on letters: releasing them at each contact's pace."""
from __future__ import annotations

from celery import shared_task
from sqlalchemy.orm import joinedload

from campaigns.actions import operations
from campaigns.actions.models import EmailAction
from campaigns.core.celery import warms_up
from campaigns.core.db import db


#: letters released per transaction: each chunk is committed and its delivery enqueued at
#: once (one delivery task: ``DELIVERY_BATCH``), so that another worker process sends one
#: chunk while this one releases the next
RELEASE_CHUNK = 100
#: what each chunk reads of the action's campaign (its title, in each letter), loaded with the
#: action; only the action's row is locked
_WITH_CAMPAIGN = (joinedload(EmailAction.campaign, innerjoin=True),)


@shared_task(ignore_result=True)
def release_letters(action_id: int) -> int:
    """Hand to the outbox the letters of one action that pacing allows now.

    Chunk by chunk (RELEASE_CHUNK letters a transaction, their emails enqueued after its
    commit). The action's row is locked for each chunk (PostgreSQL) and each chunk counts
    the hour's allowance again, so two runs at once cannot both use the same allowance; a
    letter is released by a conditional UPDATE, so a run repeated after a crash releases
    nothing twice. The public "letters sent" wave is recorded once, with the last chunk.
    """
    run = operations.ReleaseRun()
    released = 0
    while True:
        action = _locked_action(action_id)
        if action is None:
            db.session.rollback()
            return released
        chunk = operations.release_due(action, limit=RELEASE_CHUNK, run=run)
        released += chunk
        if chunk < RELEASE_CHUNK:
            operations.record_waves(run.waves)
        db.session.commit()  # this chunk's emails are enqueued now (the sweep catches up)
        if chunk < RELEASE_CHUNK:
            return released


def _locked_action(action_id: int) -> EmailAction | None:
    """The action as it is now, its row locked until the commit (PostgreSQL)."""
    return db.session.get(EmailAction, action_id, with_for_update={"of": EmailAction},
                          populate_existing=True, options=_WITH_CAMPAIGN)


@warms_up
def _warm_up_release() -> None:
    """A release chunk's statements, on no action and no letter."""
    _locked_action(0)
    operations.warm_up_release()


@shared_task(ignore_result=True)
def release_due_letters() -> int:
    """Beat: release the due letters of every active, unpaused action."""
    from campaigns.core.celery import enqueue

    action_ids = operations.actions_with_queued_letters()
    db.session.rollback()
    for action_id in action_ids:
        if not enqueue(release_letters, action_id):
            break
    return len(action_ids)
