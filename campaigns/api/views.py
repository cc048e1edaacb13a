"""The JSON API (v1): the door partners and embeds use. Same operations as the pages."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, request
from flask_babel import gettext as _
from werkzeug.datastructures import MultiDict

from campaigns.core.extensions import csrf
from campaigns.core.urls import external_url
from campaigns.petitions.models import Campaign
from campaigns.petitions.operations import campaign_to_sign, find_visible_campaign, listed_campaigns
from campaigns.signatures import operations
from campaigns.signatures.forms import SignatureForm
from campaigns.signatures.views import sign_limit, signature_request_from

bp = Blueprint("api", __name__, url_prefix="/api/v1")
# Token-less public API: it sets no cookies and reads none, so there is nothing to forge.
csrf.exempt(bp)

SIGNATURE_FIELDS = ("first_name", "last_name", "email", "country", "postcode", "comment",
                    "public", "consent_updates",
                    # a solved proof of work, needed while a campaign under attack asks for one
                    "altcha")
BOOLEAN_FIELDS = {"public", "consent_updates"}


def campaign_json(campaign: Campaign) -> dict[str, Any]:
    return {
        "slug": campaign.slug,
        "title": campaign.title,
        "summary": campaign.summary,
        "status": campaign.status.value,
        # the public number, as on the page: confirmed online signatures plus paper ones
        "signature_count": campaign.public_count,
        "online_count": campaign.signature_count,
        "offline_count": campaign.offline_count,
        "goal": campaign.goal,
        "deadline": campaign.deadline.isoformat() if campaign.deadline else None,
        "url": external_url("petitions.show", slug=campaign.slug),
        "targets": [
            {"slug": link.target.slug, "name": link.target.name, "kind": link.target.kind.value}
            for link in campaign.targets
        ],
    }


def not_found():
    return jsonify(error=_("No such campaign.")), 404


@bp.get("/campaigns")
def list_campaigns():
    return jsonify(campaigns=[campaign_json(c) for c in listed_campaigns()])


@bp.get("/campaigns/<slug>")
def show_campaign(slug: str):
    campaign = find_visible_campaign(slug)
    if campaign is None:
        return not_found()
    return jsonify(campaign_json(campaign))


def form_data_from_json(payload: Any) -> tuple[MultiDict | None, dict[str, list[str]]]:
    """Turn a JSON object into form data for SignatureForm, or field errors."""
    if not isinstance(payload, dict):
        return None, {"_body": [_("Send a JSON object.")]}
    errors: dict[str, list[str]] = {}
    data = MultiDict()
    for name in SIGNATURE_FIELDS:
        value = payload.get(name)
        if value is None:
            continue
        if name in BOOLEAN_FIELDS:
            if not isinstance(value, bool):
                errors[name] = [_("Must be true or false.")]
            elif value:
                data[name] = "y"
        elif not isinstance(value, str):
            errors[name] = [_("Must be a string.")]
        else:
            data[name] = value
    unknown = sorted(set(payload) - set(SIGNATURE_FIELDS))
    if unknown:
        errors["_unknown"] = [_("Unknown fields: %(names)s", names=", ".join(unknown))]
    return data, errors


@bp.post("/campaigns/<slug>/signatures")
@sign_limit
def create_signature(slug: str):
    campaign = campaign_to_sign(slug)
    if campaign is None:
        return not_found()
    if not campaign.accepts_signatures():
        return jsonify(error=_("This campaign is not taking signatures.")), 409
    data, errors = form_data_from_json(request.get_json(silent=True))
    if data is not None:
        form = SignatureForm(formdata=data, meta={"csrf": False})
        if not form.validate():
            errors = {**{k: [str(m) for m in v] for k, v in form.errors.items()}, **errors}
    if errors:
        return jsonify(error=_("Some fields are not valid."), errors=errors), 422
    source = (request.args.get("utm_source") or "api")[:100]
    try:
        operations.take_signature(campaign, signature_request_from(form, source, campaign,
                                                                 from_form=False))
    except operations.CampaignClosed:
        return jsonify(error=_("This campaign is not taking signatures.")), 409
    return jsonify(status="pending_confirmation"), 202
