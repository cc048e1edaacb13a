"""Dashboards in the workspace, and the public breakdown of signatures by country."""
from __future__ import annotations

from flask import Blueprint, Response, render_template
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from campaigns.accounts.policy import Role, can_manage_campaign, require_role
from campaigns.admin.views import add_menu_item
from campaigns.core.countries import country_choices
from campaigns.core.security import public_page
from campaigns.dashboards import charts, operations
from campaigns.paper.operations import paper_batches
from campaigns.petitions.operations import visible_campaign_or_404

bp = Blueprint("dashboards", __name__)
add_menu_item("dashboards.overview", _l("Dashboards"), Role.VIEWER)


@bp.app_context_processor
def workspace_helpers():
    def may_manage_campaign(campaign) -> bool:
        return current_user.is_authenticated and can_manage_campaign(current_user, campaign)

    return {"may_manage_campaign": may_manage_campaign}


@bp.get("/c/<slug>/countries")
@public_page
def countries(slug: str):
    campaign = visible_campaign_or_404(slug)
    response = Response(render_template(
        "dashboards/countries.html", campaign=campaign,
        breakdown=operations.country_breakdown(campaign, public=True),
        threshold=operations.SMALL_COUNTRY_THRESHOLD))
    return response


@bp.get("/c/<slug>/countries.svg")
@public_page
def countries_map(slug: str):
    campaign = visible_campaign_or_404(slug)
    svg = charts.world_map(operations.country_breakdown(campaign, public=True),
                           _("Signatures by country: %(title)s", title=campaign.title),
                           dict(country_choices()))
    response = Response(svg, mimetype="image/svg+xml")
    return response


@bp.get("/admin/campaigns/<slug>/dashboard")
@require_role(Role.VIEWER, campaign_scoped=True)
def campaign_dashboard(campaign):
    days = operations.signatures_per_day(campaign.id)
    return render_template(
        "dashboards/campaign.html", campaign=campaign,
        numbers=operations.campaign_numbers(campaign),
        days=days,
        chart=charts.bar_chart(days, _("Signatures per day, last %(n)s days", n=len(days)),
                               _("Confirmed online signatures and paper signatures per day; "
                                 "the same numbers are in the table below.")),
        breakdown=operations.country_breakdown(campaign, public=False),
        sources=operations.sources(campaign),
        batches=paper_batches(campaign),
        may_manage=can_manage_campaign(current_user, campaign),
    )


@bp.get("/admin/dashboards")
@require_role(Role.VIEWER)
def overview():
    days = operations.signatures_per_day(None)
    totals = operations.totals_across_campaigns()
    return render_template(
        "dashboards/overview.html", totals=totals, days=days,
        sum_confirmed=sum(t.confirmed for t in totals),
        sum_pending=sum(t.pending for t in totals),
        sum_paper=sum(t.paper for t in totals),
        chart=charts.bar_chart(days, _("Signatures per day across all campaigns"),
                               _("Confirmed online signatures and paper signatures per day, "
                                 "all campaigns; the same numbers are in the table below.")),
    )
