"""The abuse desk: trending addresses and domains, bulk invalidation jobs."""
from __future__ import annotations

from datetime import timezone

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import select

from campaigns.abuse import operations
from campaigns.abuse.forms import InvalidationForm
from campaigns.abuse.models import InvalidationJob
from campaigns.accounts.policy import Role, require_role
from campaigns.admin.views import add_menu_item
from campaigns.core.db import db
from campaigns.petitions.models import Campaign
from campaigns.signatures import operations as intake

bp = Blueprint("abuse", __name__, url_prefix="/admin/abuse")
add_menu_item("abuse.overview", _l("Abuse"), Role.ADMIN)


@bp.after_request
def never_cache(response):
    response.headers["Cache-Control"] = "no-store"
    return response


def _form() -> InvalidationForm:
    form = InvalidationForm()
    form.campaign_id.choices = [(0, _("All campaigns"))] + [
        (c.id, c.title) for c in db.session.scalars(select(Campaign).order_by(Campaign.title))]
    return form


def _overview(form: InvalidationForm):
    jobs = db.session.scalars(select(InvalidationJob).order_by(InvalidationJob.id.desc()).limit(50)).all()
    return render_template("abuse/overview.html", trending=operations.trending(), jobs=jobs,
                           form=form, actions=FlaskForm(), held=intake.held_intake(),
                           waiting=intake.waiting_intake_count(),
                           max_attempts=intake.INTAKE_MAX_ATTEMPTS)


@bp.get("/")
@require_role(Role.ADMIN)
def overview():
    return _overview(_form())


@bp.post("/jobs")
@require_role(Role.ADMIN)
def start():
    form = _form()
    if not form.validate():
        return _overview(form), 422
    as_utc = lambda value: value.replace(tzinfo=timezone.utc) if value else None  # noqa: E731
    operations.start_job(
        reason=form.reason.data, network=(form.network.data or "").strip() or None,
        email_domain=(form.email_domain.data or "").strip() or None,
        campaign_id=form.campaign_id.data or None, signed_from=as_utc(form.signed_from.data),
        signed_until=as_utc(form.signed_until.data), created_by=current_user,
    )
    flash(_("The invalidation runs in the background; its progress shows below."))
    return redirect(url_for("abuse.overview"), 303)


@bp.post("/jobs/<int:job_id>/<action>")
@require_role(Role.ADMIN)
def control(job_id: int, action: str):
    if not FlaskForm().validate_on_submit():
        abort(400)
    job = db.get_or_404(InvalidationJob, job_id)
    steps = {"pause": operations.pause_job, "resume": operations.resume_job,
             "cancel": operations.cancel_job}
    if action not in steps:
        abort(404)
    steps[action](job)
    return redirect(url_for("abuse.overview"), 303)


@bp.post("/held/<int:intake_id>/<action>")
@require_role(Role.ADMIN)
def held(intake_id: int, action: str):
    """A submission the worker could not record: try it again, or discard it."""
    if not FlaskForm().validate_on_submit():
        abort(400)
    steps = {"retry": (intake.retry_held, _("The signature is back in the queue.")),
             "discard": (intake.discard_held, _("The submission was discarded."))}
    if action not in steps:
        abort(404)
    step, done = steps[action]
    step(intake.held_or_404(intake_id))
    flash(done)
    return redirect(url_for("abuse.overview"), 303)
