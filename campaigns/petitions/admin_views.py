"""The campaign workspace: create and edit campaigns, move them along their lifecycle."""
from __future__ import annotations

from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from campaigns.accounts.models import Organisation
from campaigns.accounts.policy import Role, can_manage_campaign, require_role
from campaigns.admin.views import never_cache
from campaigns.consultations.operations import current_consultation
from campaigns.core.db import db
from campaigns.core.markdown import render_markdown
from campaigns.core.uploads import InvalidImage, store_image
from campaigns.petitions import operations
from campaigns.petitions.forms import CampaignForm, PreviewForm, StatusForm
from campaigns.petitions.models import EDITABLE_STATES, Campaign, CampaignStatus
from campaigns.targets.models import Target

bp = Blueprint("campaign_admin", __name__, url_prefix="/admin/campaigns")
bp.after_request(never_cache)


def _target_choices() -> list[tuple[int, str]]:
    targets = db.session.scalars(select(Target).order_by(Target.name)).all()
    return [(t.id, f"{t.name} ({t.kind.label})") for t in targets]


def _organisation_choices():
    """Admins choose the campaign's organisation; a campaigner's campaigns are their own."""
    if current_user.role != Role.ADMIN:
        return None
    return [(o.id, o.name) for o in db.session.scalars(select(Organisation).order_by(Organisation.name))]


def _form(campaign: Campaign | None = None, from_request: bool = True) -> CampaignForm:
    """The campaign form, from what was posted, else from the campaign as it is."""
    data = None
    if campaign is not None:
        data = {name: getattr(campaign, name) for name in operations.EDITABLE_FIELDS}
        data["targets"] = [{"target": link.target_id, "ask": link.ask} for link in campaign.targets]
        data["organisation_id"] = campaign.organisation_id or 0
    extra = {} if from_request else {"formdata": None}
    return CampaignForm(data=data, target_choices=_target_choices(),
                        organisation_choices=_organisation_choices(), **extra)


def _fields(form: CampaignForm) -> dict:
    fields = {name: getattr(form, name).data for name in operations.EDITABLE_FIELDS}
    fields["title"], fields["summary"] = fields["title"].strip(), fields["summary"].strip()
    fields["image_alt"] = (fields["image_alt"] or "").strip()
    fields["asks"] = [operations.TargetAsk(target_id, ask) for target_id, ask in form.chosen_targets()]
    return fields


def _store_upload(form: CampaignForm) -> str | None:
    """The stored image's path, None without an upload; adds the error to the form if invalid."""
    upload = form.image.data
    if not upload or not getattr(upload, "filename", ""):
        return None
    try:
        return store_image(upload.read())
    except InvalidImage as problem:
        form.image.errors = [*form.image.errors, str(problem)]
        return None


def _render_form(form: CampaignForm, campaign: Campaign | None, status: int = 200, **context):
    preview = render_markdown(form.story.data or "") if form.preview.data else None
    editable = campaign is None or campaign.status in EDITABLE_STATES
    return render_template("petitions/workspace/form.html", form=form, campaign=campaign,
                           preview=preview, editable=editable, **context), status


@bp.app_template_global()
def may_manage(campaign: Campaign) -> bool:
    """For templates: whether the signed-in campaigner may change this campaign."""
    return current_user.is_authenticated and can_manage_campaign(current_user, campaign)


@bp.route("/new", methods=["GET", "POST"])
@require_role(Role.CAMPAIGNER)
def new():
    form = _form()
    if form.is_submitted() and form.preview.data:
        return _render_form(form, None)
    if form.validate_on_submit():
        if operations.slug_taken(form.slug.data):
            form.slug.errors.append(_("Another campaign already uses this web address."))
        image = _store_upload(form)
        if not form.errors.get("slug") and not form.image.errors:
            fields = _fields(form)
            organisation_id = current_user.organisation_id
            if "organisation_id" in form:
                organisation_id = form.organisation_id.data or None
            campaign = operations.create_campaign(organisation_id=organisation_id, image=image, **fields)
            flash(_("The draft is saved. Record the worker consultation, then submit it for review."))
            return redirect(url_for("campaign_admin.edit", slug=campaign.slug), 303)
    return _render_form(form, None, 422 if form.is_submitted() else 200)


@bp.route("/<slug>/edit", methods=["GET", "POST"])
@require_role(Role.CAMPAIGNER, campaign_scoped=True)
def edit(campaign: Campaign):
    form = _form(campaign)
    if form.is_submitted() and form.preview.data:
        return _render_form(form, campaign, **_lifecycle_context(campaign))
    if form.validate_on_submit():
        if operations.slug_taken(form.slug.data, campaign):
            form.slug.errors.append(_("Another campaign already uses this web address."))
        image = _store_upload(form)
        if not form.errors.get("slug") and not form.image.errors:
            fields = _fields(form)
            if "organisation_id" in form:
                fields["organisation_id"] = form.organisation_id.data or None
            try:
                changed = operations.update_campaign(campaign, image=image, **fields)
            except operations.LifecycleRefused as refused:
                abort(409, str(refused))
            flash(_("Saved.") if changed else _("Nothing changed."))
            return redirect(url_for("campaign_admin.edit", slug=campaign.slug), 303)
    return _render_form(form, campaign, 422 if form.is_submitted() else 200,
                        **_lifecycle_context(campaign))


def _lifecycle_context(campaign: Campaign, problem: str | None = None) -> dict:
    return {
        "status_form": StatusForm(formdata=None),
        "next_states": [s for s in CampaignStatus if s in operations.TRANSITIONS[campaign.status]],
        "allowed": operations.allowed_transitions(campaign, current_user),
        "problems": {s: operations.transition_problem(campaign, s, current_user)
                     for s in operations.TRANSITIONS[campaign.status]},
        "consultation": current_consultation(campaign),
        "status_problem": problem,
    }


@bp.post("/<slug>/status")
@require_role(Role.CAMPAIGNER, campaign_scoped=True)
def status(campaign: Campaign):
    form = StatusForm()
    if not form.validate_on_submit():
        return redirect(url_for("campaign_admin.edit", slug=campaign.slug), 303)
    new_status = CampaignStatus(form.status.data)
    try:
        operations.change_status(campaign, new_status, current_user, note=(form.note.data or "").strip())
    except operations.LifecycleRefused as refused:
        edit_form = _form(campaign, from_request=False)
        return _render_form(edit_form, campaign, 409, **_lifecycle_context(campaign, str(refused)))
    flash(_("The campaign is now: %(state)s.", state=new_status.label))
    return redirect(url_for("campaign_admin.edit", slug=campaign.slug), 303)


@bp.post("/preview")
@require_role(Role.CAMPAIGNER)
def preview():
    """The story's Markdown as the public will see it (sanitised), for the live preview."""
    form = PreviewForm()
    if not form.validate_on_submit():
        return jsonify(error=_("The text could not be previewed.")), 422
    return jsonify(html=str(render_markdown(form.text.data or "")))
