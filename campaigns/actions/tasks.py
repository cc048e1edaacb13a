"""Background work on letters: releasing them at each contact's pace."""
from __future__ import annotations

from celery import shared_task

from campaigns.actions import operations
from campaigns.actions.models import EmailAction
from campaigns.core.db import db


@shared_task(ignore_result=True)
def release_letters(action_id: int) -> int:
    """Hand to the outbox the letters of one action that pacing allows now.

    The action's row is locked for the run (PostgreSQL), so two runs at once cannot both
    count the same hour's allowance; a letter is released by a conditional UPDATE, so a
    run repeated after a crash releases nothing twice.
    """
    action = db.session.get(EmailAction, action_id, with_for_update=True)
    if action is None:
        db.session.rollback()
        return 0
    released = operations.release_due(action)
    db.session.commit()  # the emails are enqueued after this commit (the sweep catches up)
    return released


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
