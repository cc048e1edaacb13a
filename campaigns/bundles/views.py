"""Delivery bundles in the workspace: ask for one, watch it being built, download it."""
from __future__ import annotations

from flask import (Blueprint, Response, abort, flash, jsonify, redirect, render_template,
                   request, stream_with_context, url_for)
from flask_babel import gettext as _
from flask_login import current_user

from campaigns.accounts.policy import Role, require_role
from campaigns.bundles import operations
from campaigns.bundles.forms import BundleForm, DeleteBundleForm
from campaigns.bundles.models import BundleState

bp = Blueprint("bundles", __name__, url_prefix="/admin/campaigns/<slug>/bundles")


def bundle_or_404(campaign, bundle_id: int):
    bundle = operations.bundle_of_campaign_or_none(campaign, bundle_id)
    if bundle is None:
        abort(404)
    return bundle


@bp.get("")
@require_role(Role.CAMPAIGNER, campaign_scoped=True)
def index(campaign):
    return render_template("bundles/index.html", campaign=campaign, form=BundleForm(campaign),
                           bundles=operations.bundles_of(campaign))


@bp.post("")
@require_role(Role.CAMPAIGNER, campaign_scoped=True)
def create(campaign):
    form = BundleForm(campaign)
    if not form.validate():
        return render_template("bundles/index.html", campaign=campaign, form=form,
                               bundles=operations.bundles_of(campaign)), 422
    link = next(link for link in campaign.targets if link.id == form.campaign_target_id.data)
    bundle = operations.request_bundle(campaign, link, requested_by=current_user)
    return redirect(url_for("bundles.show", slug=campaign.slug, bundle_id=bundle.id), 303)


@bp.get("/<int:bundle_id>")
@require_role(Role.CAMPAIGNER, campaign_scoped=True)
def show(campaign, bundle_id: int):
    return render_template("bundles/show.html", campaign=campaign,
                           bundle=bundle_or_404(campaign, bundle_id), done=BundleState.DONE,
                           delete_form=DeleteBundleForm())


@bp.post("/<int:bundle_id>/delete")
@require_role(Role.CAMPAIGNER, campaign_scoped=True)
def delete(campaign, bundle_id: int):
    bundle = bundle_or_404(campaign, bundle_id)
    if not DeleteBundleForm().validate():
        abort(400)
    try:
        operations.delete_bundle(bundle)
    except operations.BundleBusy:
        flash(_("This bundle is still being prepared; delete it once it is ready."))
        return redirect(url_for("bundles.show", slug=campaign.slug, bundle_id=bundle_id), 303)
    flash(_("The bundle was deleted."))
    return redirect(url_for("bundles.index", slug=campaign.slug), 303)


@bp.get("/<int:bundle_id>.json")
@require_role(Role.CAMPAIGNER, campaign_scoped=True)
def progress(campaign, bundle_id: int):
    bundle = bundle_or_404(campaign, bundle_id)
    return jsonify(state=bundle.state.value, done=bundle.done, total=bundle.total,
                   percent=bundle.percent,
                   document_url=url_for("bundles.document", slug=campaign.slug, bundle_id=bundle.id)
                   if bundle.state == BundleState.DONE else None)


@bp.get("/<int:bundle_id>/document")
@require_role(Role.CAMPAIGNER, campaign_scoped=True)
def document(campaign, bundle_id: int):
    bundle = bundle_or_404(campaign, bundle_id)
    if bundle.state != BundleState.DONE:
        abort(404)
    operations.record_download(bundle)
    response = Response(stream_with_context(operations.document_parts(bundle.id)),
                        mimetype="text/html")
    response.headers["Content-Security-Policy"] = operations.document_csp()
    target = bundle.campaign_target.target.slug
    disposition = "attachment" if "download" in request.args else "inline"
    response.headers["Content-Disposition"] = \
        f'{disposition}; filename="{campaign.slug}-{target}-delivery.html"'
    return response
