"""What campaigners see of the money: the donations list, CSV export, totals and a chart."""
from __future__ import annotations

import csv
import io
from datetime import date

from flask import Blueprint, Response, render_template, request
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from campaigns.accounts.policy import Role, require_role
from campaigns.admin.views import add_menu_item
from campaigns.core.db import db
from campaigns.donations import operations
from campaigns.donations.forms import DonationFilterForm
from campaigns.donations.models import DonationState, Frequency, RecurringGift
from campaigns.donations.operations import DonationFilters
from campaigns.petitions.models import Campaign
from campaigns.signatures.forms import FORMULA_PREFIXES

bp = Blueprint("donations_admin", __name__, url_prefix="/admin/donations")
add_menu_item("donations_admin.index", _l("Donations"), Role.VIEWER)
PER_PAGE = 50


@bp.after_request
def never_cache(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response


def filters_from(form: DonationFilterForm) -> DonationFilters:
    """The filters the form holds; anything invalid is ignored rather than refused."""
    valid = form.validate()
    campaign = form.campaign.data
    return DonationFilters(
        campaign_id=int(campaign) if campaign and campaign.isdigit() else None,
        state=DonationState(form.state.data) if form.state.data in DonationState._value2member_map_ else None,
        frequency=Frequency(form.frequency.data) if form.frequency.data in Frequency._value2member_map_ else None,
        month=form.month.data if valid and form.month.data else None,
        email=form.email.data or None,
    )


def filter_form() -> DonationFilterForm:
    form = DonationFilterForm(request.args)
    campaigns = db.session.execute(select(Campaign.id, Campaign.title).order_by(Campaign.title)).all()
    form.campaign.choices = [("", "—")] + [(str(c.id), c.title) for c in campaigns]
    return form


@bp.get("/")
@require_role(Role.VIEWER)
def index():
    form = filter_form()
    filters = filters_from(form)
    page = db.paginate(operations.filtered_donations(filters), per_page=PER_PAGE, error_out=False)
    months = operations.totals_per_month()
    gifts = db.session.scalars(
        select(RecurringGift).order_by(RecurringGift.created_at.desc()).limit(20)).all()
    return render_template(
        "donations/admin.html", form=form, page=page,
        per_campaign=operations.totals_per_campaign(), months=months,
        chart_max=max([total for _, total in months] + [1]), gifts=gifts,
        export_args={k: v for k, v in request.args.items() if k != "page"},
    )


def spreadsheet_safe(value: object) -> str:
    """A cell a spreadsheet shows as text, never runs as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


@bp.get("/export.csv")
@require_role(Role.VIEWER)
def export():
    filters = filters_from(filter_form())
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["id", "created_at", "campaign", "kind", "state", "amount", "refunded",
                     "currency", "name", "email", "stripe_payment_intent", "stripe_invoice"])
    for donation in db.session.scalars(operations.filtered_donations(filters)):
        writer.writerow([spreadsheet_safe(v) for v in (
            donation.id, donation.created_at.isoformat(timespec="seconds"),
            donation.campaign.slug if donation.campaign else "", donation.frequency.value,
            donation.state.value, f"{donation.amount / 100:.2f}",
            f"{donation.amount_refunded / 100:.2f}", donation.currency.upper(), donation.name,
            donation.email, donation.stripe_payment_intent_id, donation.stripe_invoice_id,
        )])
    filename = f"donations-{date.today().isoformat()}.csv"
    return Response(buffer.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"',
                             "Cache-Control": "no-store"})
