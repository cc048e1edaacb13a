"""Signing from the campaign page, the thank-you page and the confirmation link."""
from __future__ import annotations

import re
from urllib.parse import urlsplit

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from flask_limiter.util import get_remote_address

from campaigns.core.extensions import limiter
from campaigns.petitions.operations import campaign_to_sign, visible_campaign_or_404
from campaigns.petitions.views import render_campaign
from campaigns.signatures import abuse, operations
from campaigns.signatures.forms import CONSENT_WORDING, ConfirmForm, ResendForm, SignatureForm
from campaigns.signatures.operations import (
    CampaignClosed,
    ExpiredLink,
    InvalidLink,
    SignatureRequest,
)

bp = Blueprint("signatures", __name__)


def hard_rate_limit() -> str:
    return current_app.config["SIGN_HARD_RATE_LIMIT"]


#: beyond this, a client address gets 429 (it protects the servers); below it, floods
#: are answered as usual and stored as fraudulent (campaigns/signatures/abuse.py)
sign_limit = limiter.shared_limit(hard_rate_limit, scope="sign")


def signature_request_from(form: SignatureForm, source: str, campaign,
                           from_form: bool = True) -> SignatureRequest:
    suspicion = abuse.assess(
        email=form.email.data, country=form.country.data, campaign_slug=campaign.slug,
        honeypot=form.website.data, started=form.started.data, from_form=from_form,
        proof_required=campaign.proof_of_work, proof=form.altcha.data,
    )
    return SignatureRequest(
        first_name=form.first_name.data, last_name=form.last_name.data,
        email=form.email.data, country=form.country.data, postcode=form.postcode.data,
        comment=form.comment.data, public=form.public.data,
        consent_updates=form.consent_updates.data, consent_wording=str(CONSENT_WORDING),
        source=source, suspicion=suspicion, ip_address=(get_remote_address() or "")[:45] or None,
        **tracking_from_request(),
    )


HOST = re.compile(r"^[a-z0-9.-]{1,255}$")


def referrer_host() -> str | None:
    """The host that linked here: ``ref`` carried by our own form, else the Referer header's
    host when it is another site. Only the host is kept, never the path or query."""
    host = request.args.get("ref") or urlsplit(request.referrer or "").hostname or ""
    host = host.lower()
    if not HOST.match(host) or host == (request.host or "").split(":")[0].lower():
        return None
    return host


def utm(key: str) -> str | None:
    return (request.args.get(key) or "")[:100] or None


def tracking_from_request() -> dict[str, str | None]:
    return {"utm_medium": utm("utm_medium"), "utm_campaign": utm("utm_campaign"),
            "referrer_host": referrer_host()}


def signing_query_values() -> dict[str, str]:
    """utm_* and the referring host of the campaign page, carried to the sign form's POST."""
    if not request.query_string and not request.referrer:
        return {}  # typed in or bookmarked: nothing to carry, and no query to parse
    query = {key: value for key in ("utm_source", "utm_medium", "utm_campaign")
             if (value := utm(key))}
    host = referrer_host()
    if host:
        query["ref"] = host
    return query


@bp.app_context_processor
def signing_query_processor():
    return {"signing_query": signing_query_values}


@bp.post("/c/<slug>/sign")
@sign_limit
def sign(slug: str):
    campaign = campaign_to_sign(slug)
    if campaign is None:
        abort(404)
    form = SignatureForm()
    if not campaign.accepts_signatures():
        return render_campaign(visible_campaign_or_404(slug), form, status=409)
    if not form.validate():
        return render_campaign(visible_campaign_or_404(slug), form, status=422)
    source = (request.args.get("utm_source") or "web")[:100]
    try:
        operations.take_signature(campaign, signature_request_from(form, source, campaign))
    except CampaignClosed:
        return render_campaign(visible_campaign_or_404(slug), form, status=409)
    return redirect(url_for("signatures.thanks", slug=campaign.slug), 303)


@bp.get("/c/<slug>/thanks")
def thanks(slug: str):
    campaign = visible_campaign_or_404(slug)
    return render_template("signatures/thanks.html", campaign=campaign, resend_form=ResendForm())


@bp.post("/c/<slug>/resend")
@sign_limit
def resend(slug: str):
    campaign = visible_campaign_or_404(slug)
    form = ResendForm()
    if not form.validate():
        return render_template("signatures/thanks.html", campaign=campaign, resend_form=form), 422
    operations.resend_confirmation(campaign, form.email.data)
    flash(_("If that address has a signature waiting for confirmation, we have sent the link again."))
    return redirect(url_for("signatures.thanks", slug=campaign.slug), 303)


@bp.route("/sign/confirm/<token>", methods=["GET", "POST"])
def confirm(token: str):
    try:
        signature = operations.signature_from_token(token)
    except ExpiredLink:
        return render_template("signatures/link_problem.html", expired=True), 410
    except InvalidLink:
        return render_template("signatures/link_problem.html", expired=False), 404
    campaign = signature.campaign
    if not campaign.is_visible:
        abort(404)
    form = ConfirmForm()
    if request.method == "POST" and form.validate():
        operations.confirm(signature)
        return redirect(url_for("signatures.confirmed", slug=campaign.slug), 303)
    if signature.state != operations.SignatureState.PENDING:
        return redirect(url_for("signatures.confirmed", slug=campaign.slug), 303)
    # a link from someone's mailbox: nothing of it belongs in a shared cache
    return render_template("signatures/confirm.html", campaign=campaign, form=form), 200, \
        {"Cache-Control": "no-store"}


@bp.get("/c/<slug>/confirmed")
def confirmed(slug: str):
    campaign = visible_campaign_or_404(slug)
    return render_template("signatures/confirmed.html", campaign=campaign)


@bp.get("/c/<slug>/proof-of-work")
def proof_of_work_challenge(slug: str):
    """A fresh puzzle for the sign form, while the campaign asks for one."""
    from flask import jsonify

    from campaigns.signatures.proof_of_work import new_challenge

    campaign = visible_campaign_or_404(slug)
    if not campaign.proof_of_work:
        abort(404)
    response = jsonify(new_challenge())
    response.headers["Cache-Control"] = "no-store"
    return response
