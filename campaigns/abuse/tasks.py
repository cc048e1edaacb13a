"""Background work against abuse: bulk invalidation and the hourly trending report."""
from __future__ import annotations

import time

from celery import shared_task
from flask import current_app
from sqlalchemy import select

from campaigns.abuse import operations
from campaigns.abuse.models import ACTIVE_STATES, InvalidationJob, JobState
from campaigns.accounts.models import Campaigner, Role
from campaigns.core.celery import enqueue
from campaigns.core.db import db
from campaigns.core.mail import queue_email
from campaigns.core.urls import external_url

#: batches per task run; the job then queues itself again (no task runs for long)
BATCHES_PER_RUN = 20
#: while submissions made before the job wait in the intake, look again this often
INTAKE_WAIT_SECONDS = 0.5


@shared_task(ignore_result=True)
def run_invalidation_job(job_id: int) -> str:
    """Work through a job batch by batch, committing each: stop it, kill it, run it again,
    and it goes on where it was; counts stay exact because invalidating is idempotent."""
    for _ in range(BATCHES_PER_RUN):
        job = db.session.get(InvalidationJob, job_id, with_for_update=True)
        if job is None or job.state not in ACTIVE_STATES:
            db.session.rollback()
            return "stopped"
        job.state = JobState.RUNNING
        try:
            batch = operations.run_batch(job)
        except operations.ConcurrentRun:
            db.session.rollback()
            return "another run has it"
        db.session.commit()
        if batch is operations.Batch.DONE:
            return "done"
        if batch is operations.Batch.WAITING:
            time.sleep(INTAKE_WAIT_SECONDS)
    enqueue(run_invalidation_job, job_id)
    return "continues"


@shared_task(ignore_result=True)
def report_trending_signers() -> int:
    """Hourly: tell admins about addresses and domains signing far more than people do."""
    threshold = current_app.config["TRENDING_THRESHOLD"]
    found = operations.trending(hours=1)
    flagged = {kind: [(key, n) for key, n in rows if n >= threshold] for kind, rows in found.items()}
    if not any(flagged.values()):
        return 0
    admins = db.session.scalars(
        select(Campaigner).where(Campaigner.role == Role.ADMIN, Campaigner.active.is_(True))
    ).all()
    for admin in admins:
        queue_email("trending_report", admin.email, "abuse/trending", name=admin.name,
                    flagged=flagged, threshold=threshold, url=external_url("abuse.overview"))
    db.session.commit()
    return len(admins)
