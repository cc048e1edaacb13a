"""Recording paper and offline signatures in the workspace."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user

from campaigns.accounts.policy import Role, require_role
from campaigns.paper import operations
from campaigns.paper.forms import DeleteBatchForm, PaperBatchForm

bp = Blueprint("paper", __name__, url_prefix="/admin/campaigns/<slug>/paper")


def render_batches(campaign, form, status: int = 200):
    return render_template("paper/batches.html", campaign=campaign, form=form,
                           delete_form=DeleteBatchForm(),
                           batches=operations.paper_batches(campaign)), status


@bp.get("")
@require_role(Role.CAMPAIGNER, campaign_scoped=True)
def batches(campaign):
    return render_batches(campaign, PaperBatchForm())


@bp.post("")
@require_role(Role.CAMPAIGNER, campaign_scoped=True)
def record(campaign):
    form = PaperBatchForm()
    if not form.validate():
        return render_batches(campaign, form, status=422)
    operations.record_paper_batch(campaign, count=form.count.data, source=form.source.data,
                                  collected_on=form.collected_on.data,
                                  country=form.country.data or None, recorded_by=current_user)
    flash(_("%(count)s paper signatures added.", count=form.count.data))
    return redirect(url_for("paper.batches", slug=campaign.slug), 303)


@bp.post("/<int:batch_id>/delete")
@require_role(Role.CAMPAIGNER, campaign_scoped=True)
def delete(campaign, batch_id: int):
    batch = operations.batch_of_campaign_or_none(campaign, batch_id)
    if batch is None:
        abort(404)
    if not DeleteBatchForm().validate():
        abort(400)
    operations.delete_paper_batch(campaign, batch)
    flash(_("The batch was removed."))
    return redirect(url_for("paper.batches", slug=campaign.slug), 303)
