"""Background work on paper batches: keeping offline counts exact."""
from __future__ import annotations

from celery import shared_task
from sqlalchemy import func, select, update

from campaigns.core.db import db
from campaigns.paper.models import PaperBatch
from campaigns.petitions.models import Campaign


@shared_task(ignore_result=True)
def reconcile_offline_counts() -> int:
    """Recompute every campaign's offline count from its batches; returns campaigns fixed."""
    totals = (
        select(func.coalesce(func.sum(PaperBatch.count), 0))
        .where(PaperBatch.campaign_id == Campaign.id)
        .scalar_subquery()
    )
    fixed = db.session.execute(
        update(Campaign).where(Campaign.offline_count != totals).values(offline_count=totals)
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.commit()
    return fixed
