"""The public letter page (write, preview, send), the confirmation link and the bounce hook."""
from __future__ import annotations

import hmac

from flask import Blueprint, abort, current_app, redirect, render_template, request, url_for
from flask_limiter.util import get_remote_address

from campaigns.actions import operations
from campaigns.actions.bounces import handle_dsn
from campaigns.actions.forms import ConfirmForm, letter_form_for
from campaigns.actions.operations import LetterDraft, LetterRequest
from campaigns.core.extensions import csrf
from campaigns.petitions.operations import visible_campaign_or_404
from campaigns.signatures import abuse
from campaigns.signatures.forms import CONSENT_WORDING
from campaigns.signatures.views import sign_limit

bp = Blueprint("actions", __name__)


@bp.after_request
def never_cache(response):
    """These pages carry what a supporter typed (their name, address and letter)."""
    response.headers["Cache-Control"] = "no-store"
    return response


def _action_or_404(slug: str):
    campaign = visible_campaign_or_404(slug)
    action = operations.action_for(campaign)
    if action is None or not action.active:
        abort(404)
    return campaign, action


def _writable(action) -> list:
    return [letter for letter in action.letters if letter.subjects and letter.body
            and operations.recipients(letter, for_display=True)]


def _render(campaign, action, form, status: int = 200, template: str = "actions/write.html", **extra):
    letters = _writable(action)
    return render_template(template, campaign=campaign, action=action, form=form,
                           letters=letters, recipients=operations.recipients,
                           open=operations.takes_letters(action), **extra), status


@bp.get("/c/<slug>/write")
def write(slug: str):
    campaign, action = _action_or_404(slug)
    return _render(campaign, action, letter_form_for(action, _writable(action)))[0]


def _drafts(form, letters) -> list[LetterDraft]:
    by_id = {letter.id: letter for letter in letters}
    drafts = []
    for at_id, subject_field, body_field in form.letters():
        letter = by_id[at_id]
        index = int(subject_field.data or 0)
        subject = letter.subjects[index] if 0 <= index < len(letter.subjects) else letter.subjects[0]
        drafts.append(LetterDraft(action_target_id=at_id, subject=subject, body=body_field.data))
    return drafts


@bp.post("/c/<slug>/write")
@sign_limit
def submit(slug: str):
    campaign, action = _action_or_404(slug)
    letters = _writable(action)
    form = letter_form_for(action, letters)
    if not operations.takes_letters(action):
        return _render(campaign, action, form, status=409)
    if not form.validate():
        return _render(campaign, action, form, status=422)
    if form.edit.data:
        return _render(campaign, action, form)
    drafts = _drafts(form, letters)
    if not form.send.data:
        return _render(campaign, action, form, template="actions/preview.html",
                       drafts=drafts, by_id={letter.id: letter for letter in letters})
    suspicion = abuse.assess(email=form.email.data, country=form.country.data,
                             campaign_slug=campaign.slug, honeypot=form.website.data,
                             started=form.started.data)
    ip = (get_remote_address() or "")[:45] or None
    if suspicion is None and abuse._over(current_app.config["LETTER_RATE_LIMIT"], "letters-ip", ip or ""):
        suspicion = "rate:letters"
    try:
        operations.write(action, LetterRequest(
            first_name=form.first_name.data, last_name=form.last_name.data, email=form.email.data,
            country=form.country.data, postcode=form.postcode.data, drafts=drafts,
            consent_updates=form.consent_updates.data, consent_wording=str(CONSENT_WORDING),
            suspicion=suspicion, ip_address=ip))
    except operations.ActionClosed:
        return _render(campaign, action, form, status=409)
    return redirect(url_for("actions.thanks", slug=campaign.slug), 303)


@bp.get("/c/<slug>/write/thanks")
def thanks(slug: str):
    campaign, action = _action_or_404(slug)
    return render_template("actions/thanks.html", campaign=campaign, action=action)


@bp.route("/letters/confirm/<token>", methods=["GET", "POST"])
def confirm(token: str):
    try:
        action, supporter = operations.from_token(token)
    except operations.ExpiredLink:
        return render_template("actions/link_problem.html", expired=True), 410
    except operations.InvalidLink:
        return render_template("actions/link_problem.html", expired=False), 404
    campaign = action.campaign
    if not campaign.is_visible:
        abort(404)
    form = ConfirmForm()
    if request.method == "POST" and form.validate():
        operations.confirm(action, supporter)
        return redirect(url_for("actions.sent", slug=campaign.slug), 303)
    pending = operations.pending_letters(action, supporter)
    if not pending:
        return redirect(url_for("actions.sent", slug=campaign.slug), 303)
    return render_template("actions/confirm.html", campaign=campaign, form=form, letters=pending)


@bp.get("/c/<slug>/write/sent")
def sent(slug: str):
    campaign = visible_campaign_or_404(slug)
    return render_template("actions/sent.html", campaign=campaign)


@bp.post("/hooks/letters/bounce")
@csrf.exempt
def bounce():
    """A delivery status notification (RFC 3464), posted raw by the mail server's pipe or
    a provider, authenticated by the shared BOUNCE_WEBHOOK_SECRET."""
    secret = current_app.config["BOUNCE_WEBHOOK_SECRET"]
    if not secret:
        abort(404)
    given = request.headers.get("X-Bounce-Secret", "")
    if not hmac.compare_digest(given.encode(), secret.encode()):
        abort(403)
    outcome = handle_dsn(request.get_data(cache=False))
    return {"outcome": outcome}, 200
