"""The moderation queue for signers' comments."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select

from campaigns.accounts.policy import Role, can_manage_campaign, require_role
from campaigns.admin.views import add_menu_item
from campaigns.core.db import db
from campaigns.moderation import operations
from campaigns.moderation.forms import ModerationForm
from campaigns.petitions.models import Campaign
from campaigns.signatures.models import CommentState

bp = Blueprint("moderation", __name__, url_prefix="/admin")
add_menu_item("moderation.overview", _l("Comments to moderate"), Role.CAMPAIGNER)


@bp.get("/moderation")
@require_role(Role.CAMPAIGNER)
def overview():
    counts = operations.pending_comment_counts()
    campaigns = db.session.scalars(
        select(Campaign).where(Campaign.id.in_(counts)).order_by(Campaign.title)).all() if counts else []
    campaigns = [c for c in campaigns if can_manage_campaign(current_user, c)]
    return render_template("moderation/overview.html", campaigns=campaigns, counts=counts)


def render_queue(campaign, form=None, failed_id: int | None = None, status: int = 200):
    return render_template("moderation/queue.html", campaign=campaign,
                           comments=operations.comment_queue(campaign),
                           form=form or ModerationForm(), failed_id=failed_id), status


@bp.get("/campaigns/<slug>/comments")
@require_role(Role.CAMPAIGNER, campaign_scoped=True)
def queue(campaign):
    return render_queue(campaign)


@bp.post("/campaigns/<slug>/comments/<int:signature_id>")
@require_role(Role.CAMPAIGNER, campaign_scoped=True)
def decide(campaign, signature_id: int):
    form = ModerationForm()
    if not form.validate():
        return render_queue(campaign, form, failed_id=signature_id, status=422)
    decision = CommentState(form.decision.data)
    if not operations.moderate_comment(campaign, signature_id, decision, form.reason.data):
        abort(404)
    flash(_("Comment approved.") if decision == CommentState.APPROVED else _("Comment hidden."))
    return redirect(url_for("moderation.queue", slug=campaign.slug), 303)
