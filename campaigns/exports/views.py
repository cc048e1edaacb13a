"""Downloading a campaign's signatures."""
from __future__ import annotations

from flask import Blueprint, Response, stream_with_context

from campaigns.accounts.policy import Role, require_role
from campaigns.exports import operations

bp = Blueprint("exports", __name__, url_prefix="/admin/campaigns/<slug>")


@bp.get("/export.csv")
@require_role(Role.CAMPAIGNER, campaign_scoped=True)
def signatures_csv(campaign):
    operations.record_export(campaign)
    response = Response(stream_with_context(operations.signature_rows(campaign.id)),
                        mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{campaign.slug}-signatures.csv"'
    response.headers["Cache-Control"] = "no-store"
    return response
