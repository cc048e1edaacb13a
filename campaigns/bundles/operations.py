"""The rules of delivery bundles: who may ask for one, and what it may contain."""
from __future__ import annotations

import base64
import hashlib
from functools import lru_cache
from pathlib import Path
from typing import Iterator

from flask import current_app
from sqlalchemy import delete, select

from campaigns.audit.operations import record
from campaigns.bundles.models import (
    UNFINISHED_STATES,
    BundleState,
    DeliveryBundle,
    DeliveryBundlePart,
)
from campaigns.core.celery import enqueue
from campaigns.core.db import after_commit, db
from campaigns.petitions.models import Campaign, CampaignTarget


class BundleBusy(Exception):
    """The bundle is still being built."""


def request_bundle(campaign: Campaign, link: CampaignTarget, requested_by=None) -> DeliveryBundle:
    """Queue a new bundle for one target; the worker starts after the commit."""
    if link.campaign_id != campaign.id:
        raise ValueError("target of another campaign")
    bundle = DeliveryBundle(campaign_id=campaign.id, campaign_target_id=link.id,
                            state=BundleState.QUEUED,
                            requested_by_id=getattr(requested_by, "id", None))
    db.session.add(bundle)
    db.session.flush()
    record("bundle.requested", bundle, campaign_id=campaign.id, target=link.target.slug)
    from campaigns.bundles.tasks import build_delivery_bundle

    bundle_id = bundle.id
    after_commit(lambda: enqueue(build_delivery_bundle, bundle_id))
    return bundle


def bundles_of(campaign: Campaign, limit: int = 20) -> list[DeliveryBundle]:
    return list(db.session.scalars(
        select(DeliveryBundle).where(DeliveryBundle.campaign_id == campaign.id)
        .order_by(DeliveryBundle.id.desc()).limit(limit)))


def bundle_of_campaign_or_none(campaign: Campaign, bundle_id: int) -> DeliveryBundle | None:
    return db.session.scalars(
        select(DeliveryBundle).filter_by(id=bundle_id, campaign_id=campaign.id)).first()


def delete_bundle(bundle: DeliveryBundle) -> None:
    """Delete a bundle and its document (names of signers) once it has been delivered.

    A bundle still being built is left alone: the worker would write into a deleted row.
    """
    if bundle.state in UNFINISHED_STATES:
        raise BundleBusy(bundle.id)
    record("bundle.deleted", bundle, campaign_id=bundle.campaign_id)
    db.session.execute(delete(DeliveryBundlePart).where(DeliveryBundlePart.bundle_id == bundle.id))
    db.session.delete(bundle)
    db.session.flush()


def record_download(bundle: DeliveryBundle) -> None:
    """A bundle holds signers' names: who opened it goes to the audit log, like an export."""
    record("bundle.downloaded", bundle, campaign_id=bundle.campaign_id,
           names_withheld=bundle.names_withheld)


def document_parts(bundle_id: int) -> Iterator[str]:
    """The bundle's HTML, part by part, from a server-side cursor."""
    result = db.session.scalars(
        select(DeliveryBundlePart.html).where(DeliveryBundlePart.bundle_id == bundle_id)
        .order_by(DeliveryBundlePart.position).execution_options(yield_per=20))
    yield from result


@lru_cache(maxsize=1)
def print_css() -> str:
    """The stylesheet embedded in every bundle, so that a saved copy prints the same."""
    return (Path(current_app.static_folder) / "css" / "bundle.css").read_text(encoding="utf-8")


def document_csp() -> str:
    """The bundle carries its own <style>: allow exactly that one, and nothing else."""
    digest = base64.b64encode(hashlib.sha256(print_css().encode("utf-8")).digest()).decode()
    return f"default-src 'none'; style-src 'sha256-{digest}'; img-src 'self' data:; " \
           "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
