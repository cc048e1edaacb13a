"""The rules of paper signatures: a batch adds its count to the public number at once."""
from __future__ import annotations

from datetime import date

from sqlalchemy import func, select, update

from campaigns.audit.operations import record
from campaigns.core.db import db
from campaigns.paper.models import PaperBatch
from campaigns.petitions.models import Campaign


def record_paper_batch(campaign: Campaign, count: int, source: str, collected_on: date,
                       country: str | None = None, recorded_by=None) -> PaperBatch:
    """Add a batch and its count to the campaign's offline count (one UPDATE, no read)."""
    batch = PaperBatch(campaign_id=campaign.id, count=count, source=source,
                       collected_on=collected_on, country=country or None,
                       recorded_by_id=getattr(recorded_by, "id", None))
    db.session.add(batch)
    _add_to_offline_count(campaign, count)
    db.session.flush()
    record("paper_batch.recorded", batch, campaign_id=campaign.id, count=count, source=source)
    return batch


def delete_paper_batch(campaign: Campaign, batch: PaperBatch) -> None:
    """Remove a batch recorded by mistake, and its count."""
    record("paper_batch.deleted", batch, campaign_id=campaign.id, count=batch.count,
           source=batch.source)
    _add_to_offline_count(campaign, -batch.count)
    db.session.delete(batch)
    db.session.flush()


def _add_to_offline_count(campaign: Campaign, delta: int) -> None:
    # Campaigners record batches rarely, so updating the row is fine here; the arithmetic
    # happens in the database so that two batches recorded at once both count.
    db.session.execute(
        update(Campaign).where(Campaign.id == campaign.id)
        .values(offline_count=Campaign.offline_count + delta)
        .execution_options(synchronize_session=False)
    )
    db.session.expire(campaign, ["offline_count"])


def paper_batches(campaign: Campaign) -> list[PaperBatch]:
    return list(db.session.scalars(
        select(PaperBatch).where(PaperBatch.campaign_id == campaign.id)
        .order_by(PaperBatch.collected_on.desc(), PaperBatch.id.desc())
    ))


def batch_of_campaign_or_none(campaign: Campaign, batch_id: int) -> PaperBatch | None:
    return db.session.scalars(
        select(PaperBatch).filter_by(id=batch_id, campaign_id=campaign.id)).first()


def offline_total(campaign_id: int) -> int:
    return db.session.scalar(
        select(func.coalesce(func.sum(PaperBatch.count), 0))
        .where(PaperBatch.campaign_id == campaign_id)
    )
