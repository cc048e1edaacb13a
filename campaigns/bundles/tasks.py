"""Building delivery bundles in the background, with progress the workspace can show."""
from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from flask import render_template
from markupsafe import escape
from sqlalchemy import delete, func, select

from campaigns.bundles.models import UNFINISHED_STATES, BundleState, DeliveryBundle, DeliveryBundlePart
from campaigns.bundles.operations import print_css
from campaigns.core.celery import enqueue
from campaigns.core.countries import country_name
from campaigns.core.db import db, utcnow
from campaigns.dashboards.operations import country_breakdown
from campaigns.signatures.models import COUNTED_STATES, Signature
from campaigns.supporters.models import Supporter

#: signers written per part (and per progress update)
CHUNK = 500
#: bundles younger than this are left to the task queued after their commit
SWEEP_GRACE = timedelta(minutes=1)


@shared_task(ignore_result=True)
def build_delivery_bundle(bundle_id: int) -> str:
    """Write the bundle's document: petition text, the ask, counts by country, the signers.

    Runs again safely: a rerun clears the parts and starts over. Under a risk flag the
    signer list is left out and only the counts remain.
    """
    bundle = db.session.get(DeliveryBundle, bundle_id)
    if bundle is None or bundle.state not in UNFINISHED_STATES:
        return "skipped"
    try:
        return _build(bundle)
    except Exception:
        db.session.rollback()
        db.session.get(DeliveryBundle, bundle_id).state = BundleState.FAILED
        db.session.commit()
        raise


def _build(bundle: DeliveryBundle) -> str:
    bundle_id = bundle.id
    campaign, link = bundle.campaign, bundle.campaign_target
    withheld = campaign.risk_flag
    signed = (Signature.campaign_id == campaign.id, Signature.state.in_(COUNTED_STATES))
    db.session.execute(delete(DeliveryBundlePart).where(DeliveryBundlePart.bundle_id == bundle_id))
    bundle.state = BundleState.RUNNING
    bundle.names_withheld = withheld
    bundle.done = 0
    bundle.total = 0 if withheld else db.session.scalar(
        select(func.count()).select_from(Signature).where(*signed))
    position = 0
    db.session.add(DeliveryBundlePart(bundle_id=bundle_id, position=position, html=render_template(
        "bundles/document_head.html", campaign=campaign, link=link, css=print_css(),
        breakdown=country_breakdown(campaign, public=True), withheld=withheld,
        generated_at=utcnow())))
    db.session.commit()
    last_id = written = 0
    while not withheld:
        rows = db.session.execute(
            select(Signature.id, Supporter.first_name, Supporter.last_name, Supporter.country)
            .join(Signature.supporter).where(*signed, Signature.id > last_id)
            .order_by(Signature.id).limit(CHUNK)
        ).all()
        if not rows:
            break
        position += 1
        html = "".join(
            f"<tr><td>{escape(r.first_name)} {escape(r.last_name)}</td>"
            f"<td>{escape(country_name(r.country))}</td></tr>\n" for r in rows)
        db.session.add(DeliveryBundlePart(bundle_id=bundle_id, position=position, html=html))
        last_id, written = rows[-1].id, written + len(rows)
        # signers confirming meanwhile are included; the bar just stops short of overflowing
        bundle.done = min(written, bundle.total)
        db.session.commit()  # the workspace polls this progress
    db.session.add(DeliveryBundlePart(bundle_id=bundle_id, position=position + 1, html=render_template(
        "bundles/document_tail.html", withheld=withheld)))
    bundle.total = bundle.done = written
    bundle.state = BundleState.DONE
    bundle.finished_at = utcnow()
    db.session.commit()
    return "done"


@shared_task(ignore_result=True)
def sweep_bundles() -> int:
    """Queue again the bundles still waiting (the broker was away when they were asked for)."""
    waiting = db.session.scalars(
        select(DeliveryBundle.id)
        .where(DeliveryBundle.state == BundleState.QUEUED,
               DeliveryBundle.created_at <= utcnow() - SWEEP_GRACE)
        .order_by(DeliveryBundle.id).limit(100)
    ).all()
    db.session.rollback()
    for bundle_id in waiting:
        if not enqueue(build_delivery_bundle, bundle_id):
            break
    return len(waiting)
