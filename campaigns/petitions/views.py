"""Public campaign pages."""
from __future__ import annotations

from flask import Blueprint, render_template

from campaigns.moderation.operations import approved_comments
from campaigns.petitions.operations import listed_campaigns, visible_campaign_or_404
from campaigns.signatures.forms import SignatureForm
from campaigns.signatures.operations import recent_public_signers

bp = Blueprint("petitions", __name__)


@bp.get("/")
def home():
    return render_template("petitions/home.html", campaigns=listed_campaigns())


@bp.get("/c/<slug>")
def show(slug: str):
    campaign = visible_campaign_or_404(slug)
    return render_campaign(campaign, SignatureForm())


def render_campaign(campaign, form, status: int = 200):
    return render_template(
        "petitions/show.html",
        campaign=campaign,
        form=form,
        signers=recent_public_signers(campaign),
        comments=approved_comments(campaign),
    ), status
