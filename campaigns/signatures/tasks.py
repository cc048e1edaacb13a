"""Background work on signatures: recording what was submitted, keeping the public counts right."""
from __future__ import annotations

from collections import Counter

from celery import shared_task
from flask import current_app
from sqlalchemy import delete, func, select, update

from campaigns.core.db import db
from campaigns.petitions.models import Campaign
from campaigns.signatures.models import COUNTED_STATES, Signature, SignatureCountChange
from campaigns.signatures.operations import process_intake


# expires: while no worker runs, beat and the nudges pile these up; one that waited a
# minute has nothing left to do that a newer one will not do
@shared_task(ignore_result=True, expires=60)
def process_signature_intake() -> int:
    """Sign what waits in the intake, a committed batch at a time, until it is empty.

    Run by beat every SIGNATURE_INTAKE_SECONDS and nudged by signing requests. Several
    at once share the work (each batch claims its own rows); the confirmation emails
    are enqueued after each batch's commit.
    """
    batch = current_app.config["SIGNATURE_INTAKE_BATCH"]
    taken, total = batch, 0
    while taken == batch:
        taken = process_intake(batch)
        db.session.commit()
        total += taken
    return total


@shared_task(ignore_result=True)
def flush_signature_counts() -> int:
    """Fold the pending count changes into each campaign's count, one UPDATE per campaign.

    DELETE ... RETURNING takes exactly the changes this transaction removes, so a change
    committed meanwhile is left for the next run and none is counted twice.
    """
    rows = db.session.execute(
        delete(SignatureCountChange).returning(
            SignatureCountChange.campaign_id, SignatureCountChange.delta
        )
    ).all()
    totals: Counter[int] = Counter()
    for campaign_id, delta in rows:
        totals[campaign_id] += delta
    for campaign_id, delta in sorted(totals.items()):
        if delta:
            db.session.execute(
                update(Campaign)
                .where(Campaign.id == campaign_id)
                .values(signature_count=Campaign.signature_count + delta)
            )
    db.session.commit()
    return len(rows)


@shared_task(ignore_result=True)
def reconcile_signature_counts() -> int:
    """Recount every campaign from its signatures and fix any drift; returns campaigns fixed.

    Each campaign is recounted in one snapshot (REPEATABLE READ on PostgreSQL): the
    changes it drops and the signatures it counts are the same moment's.
    """
    fixed = 0
    campaign_ids = db.session.scalars(select(Campaign.id).order_by(Campaign.id)).all()
    db.session.rollback()
    for campaign_id in campaign_ids:
        if db.session.get_bind().dialect.name == "postgresql":
            db.session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        db.session.execute(
            delete(SignatureCountChange).where(SignatureCountChange.campaign_id == campaign_id)
        )
        actual = db.session.scalar(
            select(func.count())
            .select_from(Signature)
            .where(Signature.campaign_id == campaign_id, Signature.state.in_(COUNTED_STATES))
        )
        changed = db.session.execute(
            update(Campaign)
            .where(Campaign.id == campaign_id, Campaign.signature_count != actual)
            .values(signature_count=actual)
        ).rowcount
        fixed += changed
        db.session.commit()
    return fixed
