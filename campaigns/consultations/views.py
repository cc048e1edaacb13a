"""Worker consultations of a campaign, in the workspace."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user

from campaigns.accounts.policy import Role, require_role
from campaigns.admin.views import never_cache
from campaigns.consultations import operations
from campaigns.consultations.forms import NO_NAMES, ConsultationForm
from campaigns.consultations.models import RequesterKind
from campaigns.core.db import utcnow
from campaigns.petitions.models import Campaign

bp = Blueprint("consultations", __name__, url_prefix="/admin/campaigns")
bp.after_request(never_cache)


# Campaigners only: a record names who asked and the retaliation risks, which viewers
# (e.g. partner organisations) do not need to read.
@bp.route("/<slug>/consultations", methods=["GET", "POST"])
@require_role(Role.CAMPAIGNER, campaign_scoped=True)
def index(campaign: Campaign):
    form = ConsultationForm()
    if form.validate_on_submit():
        operations.record_consultation(
            campaign,
            requester_kind=RequesterKind(form.requester_kind.data),
            requester_organisation=form.requester_organisation.data.strip(),
            country=form.country.data, consulted_on=form.consulted_on.data,
            approved_demands=form.approved_demands.data,
            approved_naming_factory=form.approved_naming_factory.data,
            approved_timing=form.approved_timing.data,
            approval_notes=form.approval_notes.data.strip(),
            retaliation_risks=form.retaliation_risks.data.strip(),
            valid_until=form.valid_until.data, recorded_by_id=current_user.id,
        )
        flash(_("The worker consultation is recorded."))
        return redirect(url_for("consultations.index", slug=campaign.slug), 303)
    return render_template(
        "consultations/index.html", campaign=campaign, form=form, no_names=NO_NAMES,
        records=operations.consultations(campaign),
        current=operations.current_consultation(campaign), today=utcnow().date(),
    ), 422 if form.is_submitted() else 200
