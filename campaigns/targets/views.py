"""The target registry: a public page per target; the workspace's list and forms."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from campaigns.accounts.policy import Role, require_role
from campaigns.admin.views import add_menu_item, never_cache
from campaigns.core.db import db
from campaigns.core.security import public_page
from campaigns.targets import operations
from campaigns.targets.forms import ContactForm, TargetForm
from campaigns.targets.models import Contact, TargetKind

bp = Blueprint("targets", __name__)
add_menu_item("targets.admin_index", _l("Targets"), Role.VIEWER)


@bp.after_request
def workspace_never_cached(response):
    from flask import request

    return never_cache(response) if request.path.startswith("/admin/") else response


def _target_or_404(target_slug: str):
    target = operations.find_target(target_slug)
    if target is None:
        abort(404)
    return target


@bp.get("/t/<target_slug>")
@public_page
def show(target_slug: str):
    target = _target_or_404(target_slug)
    return render_template("targets/show.html", target=target,
                           links=operations.visible_campaigns_for(target))


@bp.get("/admin/targets/")
@require_role(Role.VIEWER)
def admin_index():
    from flask_login import current_user

    return render_template("targets/admin_index.html", targets=operations.all_targets(),
                           may_edit=current_user.has_role(Role.CAMPAIGNER))


def _target_fields(form: TargetForm) -> dict:
    return {"name": form.name.data.strip(), "slug": form.slug.data, "kind": TargetKind(form.kind.data),
            "country": form.country.data or None, "website": form.website.data or None,
            "description": form.description.data.strip()}


@bp.route("/admin/targets/new", methods=["GET", "POST"])
@require_role(Role.CAMPAIGNER)
def admin_new():
    form = TargetForm()
    if form.validate_on_submit():
        if operations.slug_taken(form.slug.data):
            form.slug.errors.append(_("Another target already uses this web address."))
        else:
            target = operations.create_target(**_target_fields(form))
            flash(_("The target is added. Add its contacts below."))
            return redirect(url_for("targets.admin_edit", target_slug=target.slug), 303)
    return render_template("targets/admin_form.html", form=form, target=None, may_edit=True), \
        422 if form.is_submitted() else 200


@bp.get("/admin/targets/<target_slug>")
@require_role(Role.VIEWER)
def admin_edit(target_slug: str):
    """Viewers read the target and its contacts; campaigners and admins change them."""
    target = _target_or_404(target_slug)
    form = TargetForm(formdata=None, obj=target,
                      data={"kind": target.kind.value, "country": target.country or ""})
    return _render_target(form, target)


def _render_target(form: TargetForm, target, status: int = 200):
    from flask_login import current_user

    return render_template("targets/admin_form.html", form=form, target=target,
                           may_edit=current_user.has_role(Role.CAMPAIGNER),
                           contact_form=ContactForm(formdata=None)), status


@bp.post("/admin/targets/<target_slug>")
@require_role(Role.CAMPAIGNER)
def admin_update(target_slug: str):
    target = _target_or_404(target_slug)
    form = TargetForm()
    if form.validate_on_submit():
        if operations.slug_taken(form.slug.data, target):
            form.slug.errors.append(_("Another target already uses this web address."))
        else:
            changed = operations.update_target(target, **_target_fields(form))
            flash(_("Saved.") if changed else _("Nothing changed."))
            return redirect(url_for("targets.admin_edit", target_slug=target.slug), 303)
    return _render_target(form, target, 422)


@bp.post("/admin/targets/<target_slug>/contacts")
@require_role(Role.CAMPAIGNER)
def admin_add_contact(target_slug: str):
    target = _target_or_404(target_slug)
    form = ContactForm()
    if form.validate_on_submit():
        operations.add_contact(target, **_contact_fields(form))
        flash(_("The contact is added."))
        return redirect(url_for("targets.admin_edit", target_slug=target.slug), 303)
    return render_template("targets/contact_form.html", form=form, target=target, contact=None), 422


def _contact_fields(form: ContactForm) -> dict:
    return {"name": form.name.data.strip(), "role": form.role.data.strip(),
            "email": (form.email.data or "").strip().lower() or None,
            "email_public": form.email_public.data, "active": form.active.data}


@bp.route("/admin/targets/<target_slug>/contacts/<int:contact_id>", methods=["GET", "POST"])
@require_role(Role.CAMPAIGNER)
def admin_edit_contact(target_slug: str, contact_id: int):
    target = _target_or_404(target_slug)
    contact = db.session.get(Contact, contact_id)
    if contact is None or contact.target_id != target.id:
        abort(404)
    form = ContactForm(obj=contact)
    if form.validate_on_submit():
        changed = operations.update_contact(contact, **_contact_fields(form))
        flash(_("Saved.") if changed else _("Nothing changed."))
        return redirect(url_for("targets.admin_edit", target_slug=target.slug), 303)
    return render_template("targets/contact_form.html", form=form, target=target, contact=contact), \
        422 if form.is_submitted() else 200
