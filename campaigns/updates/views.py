"""The workspace pages of campaign updates: write, preview, test, send, follow the progress."""
from __future__ import annotations

from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from campaigns.accounts.policy import Role, require_role
from campaigns.core.db import db
from campaigns.core.markdown import render_markdown
from campaigns.updates import operations
from campaigns.updates.forms import SendForm, SendTestForm, UpdateForm
from campaigns.updates.models import EDITABLE_STATES, CampaignUpdate

bp = Blueprint("updates", __name__, url_prefix="/admin/campaigns/<slug>/updates")


@bp.after_request
def never_cache(response):
    response.headers["Cache-Control"] = "no-store"
    return response


def _update_or_404(campaign, update_id: int) -> CampaignUpdate:
    update = db.session.get(CampaignUpdate, update_id)
    if update is None or update.campaign_id != campaign.id:
        abort(404)
    return update


@bp.get("")
@require_role(Role.CAMPAIGNER, campaign_scoped=True)
def index(campaign):
    updates = db.session.scalars(select(CampaignUpdate).filter_by(campaign_id=campaign.id)
                                 .order_by(CampaignUpdate.id.desc())).all()
    return render_template("updates/index.html", campaign=campaign, updates=updates,
                           recipients=operations.count_recipients(campaign))


@bp.route("/new", methods=["GET", "POST"])
@require_role(Role.CAMPAIGNER, campaign_scoped=True)
def new(campaign):
    form = UpdateForm()
    if request.method == "POST":
        if not form.validate():
            return render_template("updates/edit.html", campaign=campaign, form=form, update=None), 422
        if form.preview.data:
            return render_template("updates/edit.html", campaign=campaign, form=form, update=None,
                                   preview=render_markdown(form.body.data))
        update = operations.create_update(campaign, current_user, subject=form.subject.data,
                                          body=form.body.data)
        flash(_("Draft saved. Send yourself a test, then send it to the signers."))
        return redirect(url_for("updates.show", slug=campaign.slug, update_id=update.id), 303)
    return render_template("updates/edit.html", campaign=campaign, form=form, update=None)


@bp.route("/<int:update_id>", methods=["GET", "POST"])
@require_role(Role.CAMPAIGNER, campaign_scoped=True)
def show(campaign, update_id: int):
    update = _update_or_404(campaign, update_id)
    editable = update.state in EDITABLE_STATES
    form = UpdateForm(obj=update) if editable else None
    context = dict(campaign=campaign, update=update, form=form, editable=editable,
                   preview=render_markdown(update.body), test_form=SendTestForm(),
                   send_form=SendForm(), recipients=operations.count_recipients(campaign),
                   progress=operations.progress(update))
    if request.method == "POST":
        if not editable:
            abort(409)
        if not form.validate():
            return render_template("updates/show.html", **context), 422
        if form.preview.data:
            context["preview"] = render_markdown(form.body.data)
            return render_template("updates/show.html", **context)
        operations.edit_update(update, subject=form.subject.data, body=form.body.data)
        flash(_("Draft saved."))
        return redirect(url_for("updates.show", slug=campaign.slug, update_id=update.id), 303)
    return render_template("updates/show.html", **context)


@bp.post("/<int:update_id>/test")
@require_role(Role.CAMPAIGNER, campaign_scoped=True)
def send_test(campaign, update_id: int):
    update = _update_or_404(campaign, update_id)
    if not SendTestForm().validate():
        abort(400)
    operations.send_test(update, current_user)
    flash(_("A test is on its way to %(email)s. Nobody else receives it.", email=current_user.email))
    return redirect(url_for("updates.show", slug=campaign.slug, update_id=update.id), 303)


@bp.post("/<int:update_id>/send")
@require_role(Role.CAMPAIGNER, campaign_scoped=True)
def send(campaign, update_id: int):
    update = _update_or_404(campaign, update_id)
    if not SendForm().validate():
        abort(400)
    try:
        operations.start_sending(update)
    except operations.NotEditable:
        abort(409)
    flash(_("Sending has started."))
    return redirect(url_for("updates.show", slug=campaign.slug, update_id=update.id), 303)


@bp.get("/<int:update_id>/progress.json")
@require_role(Role.CAMPAIGNER, campaign_scoped=True)
def progress(campaign, update_id: int):
    update = _update_or_404(campaign, update_id)
    p = operations.progress(update)
    return jsonify(state=p.state, total=p.total, queued=p.queued, delivered=p.delivered,
                   failed=p.failed, done=p.done, label=p.label)
