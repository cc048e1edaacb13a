"""The workspace pages of an email action: settings, letters per target, progress, controls."""
from __future__ import annotations

from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from campaigns.accounts.policy import Role, require_role
from campaigns.actions import operations
from campaigns.actions.forms import ControlForm, LetterTemplateForm, SettingsForm
from campaigns.actions.models import DASHBOARD_STATES, ActionTarget, DeliveryMode
from campaigns.consultations.operations import EscalationRefused
from campaigns.core.db import db
from campaigns.targets.models import Contact

bp = Blueprint("actions_admin", __name__, url_prefix="/admin/campaigns/<slug>/letters")


@bp.after_request
def never_cache(response):
    response.headers["Cache-Control"] = "no-store"
    return response


def _overview(campaign, action, settings_form=None, status: int = 200):
    return render_template(
        "actions/admin.html", campaign=campaign, action=action,
        form=settings_form or SettingsForm(obj=action), control_form=ControlForm(),
        progress=operations.progress(action), counts=operations.letter_counts(action),
        states=DASHBOARD_STATES, recipients=operations.recipients), status


@bp.get("")
@require_role(Role.CAMPAIGNER, campaign_scoped=True)
def index(campaign):
    action = operations.ensure_action(campaign, current_user)
    return _overview(campaign, action)


@bp.post("")
@require_role(Role.CAMPAIGNER, campaign_scoped=True)
def save_settings(campaign):
    action = operations.ensure_action(campaign, current_user)
    form = SettingsForm()
    if not form.validate():
        return _overview(campaign, action, form, 422)
    try:
        operations.change_settings(action, current_user, **{name: form[name].data
                                                            for name in operations.SETTINGS})
    except EscalationRefused as refused:
        form.active.errors = [str(refused)]
        return _overview(campaign, action, form, 409)
    flash(_("Settings saved."))
    return redirect(url_for("actions_admin.index", slug=campaign.slug), 303)


@bp.route("/targets/<int:action_target_id>", methods=["GET", "POST"])
@require_role(Role.CAMPAIGNER, campaign_scoped=True)
def edit_letter(campaign, action_target_id: int):
    action = operations.ensure_action(campaign, current_user)
    letter = db.session.get(ActionTarget, action_target_id)
    if letter is None or letter.action_id != action.id:
        abort(404)
    contacts = letter.campaign_target.target.contacts
    if request.method == "POST":
        form = LetterTemplateForm()
    else:
        form = LetterTemplateForm(subjects="\n".join(letter.subjects), body=letter.body,
                                  contact_ids=letter.contact_ids, delivery=letter.delivery.value)
    form.contact_ids.choices = [(c.id, f"{c.name}, {c.role}") for c in contacts if c.email]
    if request.method == "POST":
        if not form.validate():
            return render_template("actions/edit_letter.html", campaign=campaign, letter=letter,
                                   form=form), 422
        operations.edit_letter(letter, subjects=form.subjects.data.splitlines(), body=form.body.data,
                               contact_ids=form.contact_ids.data or [],
                               delivery=DeliveryMode(form.delivery.data))
        flash(_("Letter saved."))
        return redirect(url_for("actions_admin.index", slug=campaign.slug), 303)
    return render_template("actions/edit_letter.html", campaign=campaign, letter=letter, form=form)


@bp.post("/<action>")
@require_role(Role.CAMPAIGNER, campaign_scoped=True)
def control(campaign, action: str):
    email_action = operations.action_for(campaign)
    if email_action is None or action not in {"pause", "resume", "cancel"}:
        abort(404)
    if not ControlForm().validate():
        abort(400)
    if action == "pause":
        operations.pause(email_action)
        flash(_("Sending is paused. Queued letters wait until you resume."))
    elif action == "resume":
        try:
            operations.resume(email_action)
        except EscalationRefused as refused:
            flash(str(refused))
            return redirect(url_for("actions_admin.index", slug=campaign.slug), 303)
        flash(_("Sending has resumed."))
    else:
        count = operations.cancel(email_action)
        flash(_("%(count)s letters were cancelled.", count=count))
    return redirect(url_for("actions_admin.index", slug=campaign.slug), 303)


@bp.post("/contacts/<int:contact_id>/requeue")
@require_role(Role.CAMPAIGNER, campaign_scoped=True)
def requeue(campaign, contact_id: int):
    email_action = operations.action_for(campaign)
    contact = db.session.get(Contact, contact_id)
    if email_action is None or contact is None:
        abort(404)
    if not ControlForm().validate():
        abort(400)
    count = operations.requeue_held(contact)
    flash(_("%(count)s held letters are queued again.", count=count))
    return redirect(url_for("actions_admin.index", slug=campaign.slug), 303)


@bp.get("/progress.json")
@require_role(Role.CAMPAIGNER, campaign_scoped=True)
def progress(campaign):
    email_action = operations.action_for(campaign)
    if email_action is None:
        abort(404)
    counts = operations.letter_counts(email_action)
    return jsonify(paused=email_action.paused,
                   counts={state.value: counts.get(state, 0) for state in DASHBOARD_STATES})
