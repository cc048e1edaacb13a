"""Finding floods and striking them out."""
from __future__ import annotations

import enum
import ipaddress
from datetime import timedelta

from sqlalchemy import func, select, update

from campaigns.abuse.models import ACTIVE_STATES, InvalidationJob, JobState
from campaigns.audit.operations import record
from campaigns.core.celery import enqueue
from campaigns.core.db import after_commit, db, utcnow
from campaigns.signatures.models import Signature, SignatureIntake
from campaigns.signatures.operations import IN_THE_WORKERS_HANDS, invalidate
from campaigns.supporters.models import Supporter

BATCH = 500


def start_job(*, reason: str, network: str | None = None, email_domain: str | None = None,
              campaign_id: int | None = None, signed_from=None, signed_until=None,
              created_by=None) -> InvalidationJob:
    if network:
        ipaddress.ip_network(network, strict=False)  # ValueError for the form to show
    job = InvalidationJob(
        reason=reason, network=network or None, email_domain=(email_domain or "").lower() or None,
        campaign_id=campaign_id, signed_from=signed_from, signed_until=signed_until,
        created_by_id=getattr(created_by, "id", None),
        highest_signature_id=db.session.scalar(select(func.max(Signature.id))) or 0,
    )
    db.session.add(job)
    db.session.flush()
    record("invalidation.started", job, reason=reason, network=network, email_domain=email_domain,
           campaign_id=campaign_id)
    _enqueue_after_commit(job.id)
    return job


def _enqueue_after_commit(job_id: int) -> None:
    from campaigns.abuse.tasks import run_invalidation_job

    after_commit(lambda: enqueue(run_invalidation_job, job_id))


def pause_job(job: InvalidationJob) -> None:
    if job.state in ACTIVE_STATES:
        job.state = JobState.PAUSED
        record("invalidation.paused", job)


def resume_job(job: InvalidationJob) -> None:
    if job.state == JobState.PAUSED:
        job.state = JobState.QUEUED
        record("invalidation.resumed", job)
        _enqueue_after_commit(job.id)


def cancel_job(job: InvalidationJob) -> None:
    if job.state in ACTIVE_STATES | {JobState.PAUSED}:
        job.state = JobState.CANCELLED
        job.finished_at = utcnow()
        record("invalidation.cancelled", job)


def _batch(job: InvalidationJob) -> list[tuple[int, str | None]]:
    query = (select(Signature.id, Signature.ip_address)
             .where(Signature.id > job.last_signature_id)
             .order_by(Signature.id).limit(BATCH))
    if job.campaign_id:
        query = query.where(Signature.campaign_id == job.campaign_id)
    if job.signed_from:
        query = query.where(Signature.created_at >= job.signed_from)
    if job.signed_until:
        query = query.where(Signature.created_at <= job.signed_until)
    if job.email_domain:
        pattern = "%@" + job.email_domain.replace("*", "%")
        query = query.join(Supporter, Supporter.id == Signature.supporter_id) \
            .where(Supporter.canonical_email.like(pattern))
    return list(db.session.execute(query).all())


class ConcurrentRun(Exception):
    """Another runner moved the job on while this one worked: this batch is rolled back."""


class Batch(enum.Enum):
    MORE = "more"
    #: every signature is looked at, but submissions made before the job started still
    #: wait in the intake: they become signatures soon and are looked at then
    WAITING = "waiting for the intake"
    DONE = "done"


def _intake_holds_earlier_submissions(job: InvalidationJob) -> bool:
    """During a flood the intake can lag behind; what was submitted before the admin
    started the job is what they meant to strike out. Held rows (the worker gave up on
    them) do not keep a job open: an admin decides on those."""
    query = select(SignatureIntake.id).where(SignatureIntake.created_at <= job.created_at,
                                             IN_THE_WORKERS_HANDS)
    if job.campaign_id:
        query = query.where(SignatureIntake.campaign_id == job.campaign_id)
    return db.session.scalar(query.limit(1)) is not None


def run_batch(job: InvalidationJob) -> Batch:
    """Invalidate one batch, and say whether there is more.

    The cursor moves with a compare-and-set in the same transaction as the
    invalidations, so two runners of one job never both commit the same batch.
    """
    cursor = job.last_signature_id
    rows = _batch(job)
    if not rows and _intake_holds_earlier_submissions(job):
        return Batch.WAITING
    if not rows:
        job.state, job.finished_at = JobState.DONE, utcnow()
        record("invalidation.done", job, matched=job.matched, uncounted=job.uncounted)
        return Batch.DONE
    network = ipaddress.ip_network(job.network, strict=False) if job.network else None
    matched = uncounted = 0
    for signature_id, ip in rows:
        if network is not None:
            try:
                if ip is None or ipaddress.ip_address(ip) not in network:
                    continue
            except ValueError:
                continue
        matched += 1
        uncounted += invalidate(signature_id, f"invalidated:job-{job.id}")
    moved = db.session.execute(
        update(InvalidationJob)
        .where(InvalidationJob.id == job.id, InvalidationJob.last_signature_id == cursor)
        .values(last_signature_id=rows[-1][0], matched=InvalidationJob.matched + matched,
                uncounted=InvalidationJob.uncounted + uncounted)
        .execution_options(synchronize_session=False)
    ).rowcount
    if not moved:
        raise ConcurrentRun(job.id)
    return Batch.MORE


def trending(hours: int = 1, limit: int = 10) -> dict[str, list[tuple[str, int]]]:
    """The addresses and email domains that signed most in the last hours."""
    since = utcnow() - timedelta(hours=hours)
    by_ip = db.session.execute(
        select(Signature.ip_address, func.count()).where(Signature.created_at >= since,
                                                          Signature.ip_address.is_not(None))
        .group_by(Signature.ip_address).order_by(func.count().desc()).limit(limit)
    ).all()
    domain = func.substr(Supporter.canonical_email, func.instr(Supporter.canonical_email, "@") + 1) \
        if db.session.get_bind().dialect.name == "sqlite" else \
        func.split_part(Supporter.canonical_email, "@", 2)
    by_domain = db.session.execute(
        select(domain, func.count()).join(Signature, Signature.supporter_id == Supporter.id)
        .where(Signature.created_at >= since)
        .group_by(domain).order_by(func.count().desc()).limit(limit)
    ).all()
    return {"addresses": [tuple(r) for r in by_ip], "domains": [tuple(r) for r in by_domain]}
