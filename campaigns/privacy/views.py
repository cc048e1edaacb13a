"""One-click unsubscribe, the preferences page, and the supporters workspace."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from campaigns.accounts.policy import Role, require_role
from campaigns.admin.views import add_menu_item
from campaigns.core.db import db
from campaigns.core.extensions import csrf, limiter
from campaigns.privacy import operations
from campaigns.privacy.forms import (
    AdminErasureForm,
    AdminExportForm,
    ErasureForm,
    ExportRequestForm,
    PreferencesForm,
    SupporterSearchForm,
)
from campaigns.privacy.operations import InvalidLink
from campaigns.supporters.models import ConsentPurpose, Supporter

bp = Blueprint("privacy", __name__)
admin_bp = Blueprint("supporters_admin", __name__, url_prefix="/admin/supporters")


def _supporter_or_404(purpose: str, token: str) -> Supporter:
    try:
        return operations.supporter_from_token(purpose, token)
    except InvalidLink:
        abort(404)


@bp.after_request
def private(response):
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"  # the token is in the URL
    return response


@bp.route("/u/<token>", methods=["GET", "POST"])
@csrf.exempt
def unsubscribe(token: str):
    """RFC 8058 one-click unsubscribe.

    Exempt from CSRF on purpose: mail providers POST ``List-Unsubscribe=One-Click`` here
    without cookies or a form token. The signed link is the credential, and the only
    thing it can do is withdraw consent (harmless to trigger, so a forged POST gains
    nothing). GET only shows a button: link scanners change nothing.
    """
    supporter = _supporter_or_404(operations.UNSUBSCRIBE_PURPOSE, token)
    if request.method == "POST":
        operations.unsubscribe(supporter)
        return render_template("privacy/unsubscribed.html"), 200
    return render_template("privacy/unsubscribe.html"), 200


@bp.route("/preferences/<token>", methods=["GET", "POST"])
def preferences(token: str):
    supporter = _supporter_or_404(operations.PREFERENCES_PURPOSE, token)
    current = operations.current_consents(supporter)[ConsentPurpose.CAMPAIGN_UPDATES]
    form = PreferencesForm(data={"campaign_updates": bool(current and current.granted)})
    if request.method == "POST":
        if not form.validate():
            return _render_preferences(supporter, token, form, status=400)
        operations.set_campaign_updates(supporter, form.campaign_updates.data)
        flash(_("Your choices are saved."))
        return redirect(url_for("privacy.preferences", token=token), 303)
    return _render_preferences(supporter, token, form)


def _render_preferences(supporter: Supporter, token: str, form: PreferencesForm,
                        erasure_form: ErasureForm | None = None, status: int = 200):
    return render_template(
        "privacy/preferences.html", token=token, form=form,
        consents=operations.current_consents(supporter),
        export_form=ExportRequestForm(), erasure_form=erasure_form or ErasureForm(),
    ), status


@bp.post("/preferences/<token>/export")
@limiter.limit("5/hour")
def export(token: str):
    supporter = _supporter_or_404(operations.PREFERENCES_PURPOSE, token)
    if not ExportRequestForm().validate():
        abort(400)
    operations.send_data_export(supporter, requested_by="supporter")
    flash(_("We are emailing you a copy of your data. It should arrive within a few minutes."))
    return redirect(url_for("privacy.preferences", token=token), 303)


@bp.post("/preferences/<token>/erase")
def erase(token: str):
    supporter = _supporter_or_404(operations.PREFERENCES_PURPOSE, token)
    form = ErasureForm()
    if not form.validate():
        current = operations.current_consents(supporter)[ConsentPurpose.CAMPAIGN_UPDATES]
        preferences_form = PreferencesForm(
            formdata=None, data={"campaign_updates": bool(current and current.granted)})
        return _render_preferences(supporter, token, preferences_form, erasure_form=form, status=422)
    operations.erase_on_request(supporter, requested_by="supporter")
    return render_template("privacy/erased.html"), 200


# --- the workspace: one supporter at a time, found by exact email ------------------------

add_menu_item("supporters_admin.search", _l("Supporters"), Role.CAMPAIGNER)


@admin_bp.route("", methods=["GET", "POST"])
@require_role(Role.CAMPAIGNER)
def search():
    """Search by exact email only (POST, so addresses stay out of URLs and logs)."""
    form = SupporterSearchForm()
    supporter = signatures = None
    searched = False
    if request.method == "POST":
        if not form.validate():
            return render_template("privacy/admin_search.html", form=form), 422
        searched = True
        supporter = operations.find_supporter(form.email.data)
        if supporter is not None:
            signatures = operations.signatures_visible_to(current_user, supporter)
            if not signatures and current_user.role != Role.ADMIN:
                supporter = None  # not one of this campaigner's signers: say nothing about them
    return render_template(
        "privacy/admin_search.html", form=form, searched=searched, supporter=supporter,
        signatures=signatures or [], consents=operations.current_consents(supporter) if supporter else {},
        export_form=AdminExportForm(), erasure_form=AdminErasureForm(),
    )


def _managed_supporter_or_404(supporter_id: int) -> Supporter:
    supporter = db.session.get(Supporter, supporter_id)
    if supporter is None or supporter.erased_at is not None:
        abort(404)
    if current_user.role != Role.ADMIN and not operations.signatures_visible_to(current_user, supporter):
        abort(404)
    return supporter


@admin_bp.post("/<int:supporter_id>/export")
@require_role(Role.CAMPAIGNER)
def export_for(supporter_id: int):
    """Email a supporter their data, to their own address only (the campaigner never sees it)."""
    supporter = _managed_supporter_or_404(supporter_id)
    if not AdminExportForm().validate():
        abort(400)
    operations.send_data_export(supporter, requested_by="campaigner")
    flash(_("The supporter's data is on its way to their own email address."))
    return redirect(url_for("supporters_admin.search"), 303)


@admin_bp.post("/<int:supporter_id>/erase")
@require_role(Role.ADMIN)
def erase_for(supporter_id: int):
    """Erasure is for admins only: it cannot be undone and reaches every organisation's campaigns."""
    supporter = _managed_supporter_or_404(supporter_id)
    form = AdminErasureForm()
    if not form.validate():
        flash(_("Tick the box to confirm the erasure."))
        return redirect(url_for("supporters_admin.search"), 303)
    operations.erase_on_request(supporter, requested_by="admin")
    flash(_("The supporter's personal data is erased. Their signatures still count."))
    return redirect(url_for("supporters_admin.search"), 303)
