"""Giving: the donate page, the calls donate.js makes, Stripe's webhook, managing a monthly gift."""
from __future__ import annotations

import logging

from flask import Blueprint, current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from campaigns.core.extensions import csrf, limiter
from campaigns.core.security import allow_on_this_page
from campaigns.donations import operations, stripe_api
from campaigns.donations.forms import CancelGiftForm, CardSetupForm, ChangeAmountForm, DonationForm
from campaigns.donations.models import RUNNING_GIFT_STATES, Frequency
from campaigns.donations.operations import (
    AttemptInProgress,
    DonationsUnavailable,
    GiftRequest,
    InvalidLink,
    RetryLater,
)
from campaigns.petitions.operations import visible_campaign_or_404

log = logging.getLogger(__name__)

bp = Blueprint("donations", __name__)
#: Stripe signs its webhooks; there is no session and so no CSRF token
webhooks = Blueprint("stripe_webhooks", __name__)
csrf.exempt(webhooks)


def donate_rate_limit() -> str:
    return current_app.config["DONATE_RATE_LIMIT"]


@bp.app_template_filter("money")
def money_filter(amount: int, code: str | None = None) -> str:
    return operations.format_money(amount, code)


def allow_stripe_js() -> None:
    """Stripe.js is the one third-party script, and only on the page that takes payments."""
    config = current_app.config
    js_origin = stripe_api.origin(config["STRIPE_JS_URL"])
    allow_on_this_page("script-src", js_origin)
    allow_on_this_page("connect-src", stripe_api.origin(config["STRIPE_API_BASE"]), js_origin)
    frames = [js_origin] if config["STRIPE_EMULATED"] else [js_origin, "https://hooks.stripe.com"]
    allow_on_this_page("frame-src", *frames)


def render_donate(campaign, form: DonationForm):
    allow_stripe_js()
    html = render_template(
        "donations/donate.html", campaign=campaign, form=form,
        raised=operations.raised_for(campaign) if campaign.fundraising_target else None,
    )
    # each page carries its own idempotency key: never serve one from a cache
    return html, 200, {"Cache-Control": "no-store"}


@bp.get("/c/<slug>/donate")
def donate(slug: str):
    campaign = visible_campaign_or_404(slug)
    form = DonationForm(operations.presets(campaign))
    form.attempt.data = operations.new_attempt_key()
    if request.args.get("frequency") == Frequency.MONTHLY.value:
        form.frequency.data = Frequency.MONTHLY.value
    return render_donate(campaign, form)


def json_error(status: int, state: str, message: str, **extra: object):
    return jsonify(status=state, message=message, **extra), status


UNAVAILABLE = _l("Online giving is not available right now. Please try again later; nothing was charged.")


@bp.post("/c/<slug>/donate/card-setup")
@limiter.limit(donate_rate_limit)
def card_setup(slug: str):
    """For localstripe's Stripe.js, which turns a card into a payment method this way."""
    visible_campaign_or_404(slug)
    if not CardSetupForm().validate():
        return json_error(400, "invalid", _("Your form expired. Please reload the page."))
    try:
        return jsonify(client_secret=operations.start_card_setup())
    except DonationsUnavailable as exc:
        log.warning("Stripe unavailable: %s", exc)
        return json_error(503, "unavailable", str(UNAVAILABLE))


@bp.post("/c/<slug>/donate")
@limiter.limit(donate_rate_limit)
def give(slug: str):
    campaign = visible_campaign_or_404(slug)
    form = DonationForm(operations.presets(campaign))
    if not form.validate() or not form.payment_method.data:
        errors = {name: [str(e) for e in errs] for name, errs in form.errors.items()}
        if not form.payment_method.data:
            errors.setdefault("payment_method", [_("Please enter your card details.")])
        return json_error(422, "invalid", _("Please check the form."), errors=errors)
    gift = GiftRequest(
        amount=form.chosen_amount(), frequency=Frequency(form.frequency.data),
        email=form.email.data, name=form.name.data,
        payment_method=form.payment_method.data, attempt=form.attempt.data,
    )
    try:
        outcome = operations.give(campaign, gift)
    except AttemptInProgress:
        return json_error(409, "in_progress", _("This gift is already being processed. "
                                                "Please wait, or reload the page to give again."))
    except DonationsUnavailable as exc:
        log.warning("Stripe unavailable: %s", exc)
        return json_error(503, "unavailable", str(UNAVAILABLE), attempt=operations.new_attempt_key())
    # a fresh key for the donor's next try (a declined card, a failed authentication)
    body: dict[str, object] = {"status": outcome.status, "attempt": operations.new_attempt_key()}
    if outcome.status == "failed":
        body.update(message=outcome.message)
    else:
        body.update(client_secret=outcome.client_secret,
                    redirect=url_for("donations.thanks", slug=campaign.slug,
                                     monthly=int(gift.frequency == Frequency.MONTHLY)))
    return jsonify(body)


@bp.get("/c/<slug>/donate/thanks")
def thanks(slug: str):
    campaign = visible_campaign_or_404(slug)
    return render_template("donations/thanks.html", campaign=campaign,
                           monthly=request.args.get("monthly") == "1")


# --- a monthly donor's own page, reached from the link in each receipt --------------------

def _gift_or_problem(token: str):
    try:
        return operations.gift_from_token(token), None
    except InvalidLink:
        return None, (render_template("donations/link_problem.html"), 404)


def render_manage(gift, token: str, change_form: ChangeAmountForm | None = None, status: int = 200):
    presets = operations.presets(gift.campaign) if gift.campaign else current_app.config["DONATION_PRESETS"]
    return render_template(
        "donations/manage.html", gift=gift, token=token,
        running=gift.state in RUNNING_GIFT_STATES,
        cancel_form=CancelGiftForm(),
        change_form=change_form or ChangeAmountForm(presets),
    ), status, {"Cache-Control": "no-store"}  # the giver's name, amount and card


@bp.get("/donate/monthly/<token>")
def manage(token: str):
    gift, problem = _gift_or_problem(token)
    return problem or render_manage(gift, token)


@bp.post("/donate/monthly/<token>/cancel")
@limiter.limit(donate_rate_limit)
def cancel(token: str):
    gift, problem = _gift_or_problem(token)
    if problem:
        return problem
    if not CancelGiftForm().validate():
        return render_manage(gift, token, status=400)
    try:
        operations.cancel_gift(gift)
    except DonationsUnavailable as exc:
        log.warning("Stripe unavailable: %s", exc)
        flash(_("We could not reach our payment provider, so nothing changed. Please try again later."))
        return render_manage(gift, token, status=503)
    flash(_("Your monthly gift is cancelled. Nothing more will be taken. Thank you for your support."))
    return redirect(url_for("donations.manage", token=token), 303)


@bp.post("/donate/monthly/<token>/amount")
@limiter.limit(donate_rate_limit)
def change_amount(token: str):
    gift, problem = _gift_or_problem(token)
    if problem:
        return problem
    presets = operations.presets(gift.campaign) if gift.campaign else current_app.config["DONATION_PRESETS"]
    form = ChangeAmountForm(presets)
    if not form.validate():
        return render_manage(gift, token, change_form=form, status=422)
    try:
        operations.change_gift_amount(gift, form.chosen_amount())
    except DonationsUnavailable as exc:
        log.warning("Stripe unavailable: %s", exc)
        flash(_("We could not reach our payment provider, so nothing changed. Please try again later."))
        return render_manage(gift, token, change_form=form, status=503)
    flash(_("Your monthly gift is now %(amount)s.", amount=operations.format_money(gift.amount, gift.currency)))
    return redirect(url_for("donations.manage", token=token), 303)


# --- Stripe's webhook ---------------------------------------------------------------------

@webhooks.post("/stripe/webhook")
def stripe_webhook():
    """Verify the signature, then act on the event once (a duplicate answers 200 and does nothing)."""
    payload = request.get_data(cache=False)
    try:
        event = stripe_api.verify_webhook(payload, request.headers.get("Stripe-Signature"))
    except stripe_api.InvalidWebhook as exc:
        log.warning("refused a Stripe webhook: %s", exc)
        return jsonify(error="invalid signature"), 400
    try:
        handled = operations.handle_event(event)
    except RetryLater as exc:
        log.info("Stripe webhook %s: %s; asking Stripe to send it again", event["id"], exc)
        return jsonify(error="not ready, send again"), 503
    return jsonify(received=True, duplicate=not handled)


@bp.app_template_global("raised_for")
def raised_for(campaign) -> int:
    """Money received for a campaign (for its fundraising progress bar)."""
    return operations.raised_for(campaign)
