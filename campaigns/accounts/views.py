"""Sign-in, two-factor codes, sign-out and password reset for campaigners."""
from __future__ import annotations

import time

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_limiter.util import get_remote_address
from flask_login import current_user, login_required, login_user, logout_user
from markupsafe import Markup

from campaigns.accounts import operations
from campaigns.accounts.forms import CodeForm, ForgotPasswordForm, LoginForm, NewPasswordForm
from campaigns.accounts.models import Campaigner
from campaigns.accounts.policy import safe_next
from campaigns.core.db import db
from campaigns.core.extensions import limiter, login_manager

bp = Blueprint("accounts", __name__)
PENDING = "two_factor_pending"
#: how long a correct password waits for its second factor
PENDING_SECONDS = 300


def _ip_limit() -> str:
    return current_app.config["LOGIN_RATE_LIMIT"]


def _account_limit() -> str:
    return current_app.config["LOGIN_ACCOUNT_RATE_LIMIT"]


def _account_key() -> str:
    """The account being tried: the email typed, or the account waiting for its code."""
    pending = session.get(PENDING) or {}
    email = (request.form.get("email") or "").strip().lower()
    return f"account:{email or pending.get('id') or get_remote_address()}"


throttled = [limiter.limit(_ip_limit, methods=["POST"]),
             limiter.limit(_account_limit, key_func=_account_key, methods=["POST"])]


def throttle(view):
    for limit in throttled:
        view = limit(view)
    return view


def complete_login(campaigner: Campaigner) -> None:
    """A new session for the signed-in campaigner (nothing carried over from before)."""
    session.clear()
    login_user(campaigner)
    operations.record_login(campaigner)


@bp.route("/login", methods=["GET", "POST"])
@throttle
def login():
    next_url = request.args.get("next")
    if current_user.is_authenticated:
        return redirect(safe_next(next_url))
    form = LoginForm()
    if form.validate_on_submit():
        campaigner = operations.authenticate(form.email.data, form.password.data)
        if campaigner is None:
            form.password.errors.append(_("That email and password do not match an account."))
            return render_template("accounts/login.html", form=form), 401
        if campaigner.two_factor_enabled:
            session.clear()
            session[PENDING] = {"id": campaigner.id, "version": campaigner.session_version,
                                "next": next_url, "at": time.time()}
            return redirect(url_for("accounts.verify"))
        complete_login(campaigner)
        return redirect(safe_next(next_url))
    return render_template("accounts/login.html", form=form), 422 if form.errors else 200


@bp.route("/login/code", methods=["GET", "POST"])
@throttle
def verify():
    pending = session.get(PENDING)
    if not pending or time.time() - pending.get("at", 0) > PENDING_SECONDS:
        session.pop(PENDING, None)
        flash(_("Please sign in again."))
        return redirect(url_for("accounts.login"))
    campaigner = db.session.get(Campaigner, pending["id"])
    if campaigner is None or not campaigner.active or campaigner.session_version != pending["version"]:
        abort(403)
    form = CodeForm()
    if form.validate_on_submit():
        if operations.verify_code(campaigner, form.code.data):
            complete_login(campaigner)
            return redirect(safe_next(pending.get("next")))
        form.code.errors.append(_("That code is not right. Codes change every 30 seconds."))
        return render_template("accounts/verify.html", form=form), 401
    return render_template("accounts/verify.html", form=form), 422 if form.errors else 200


@bp.post("/logout")
@login_required
def logout():
    from flask_wtf import FlaskForm

    if not FlaskForm().validate_on_submit():
        abort(400)
    logout_user()
    session.clear()
    flash(_("You are signed out."))
    return redirect(url_for("petitions.home"))


@bp.route("/account/two-factor", methods=["GET", "POST"])
@login_required
def two_factor():
    import segno

    if current_user.two_factor_enabled:
        return render_template("accounts/two_factor_on.html")
    uri = operations.start_two_factor_setup(current_user)
    form = CodeForm()
    if form.validate_on_submit():
        if operations.enable_two_factor(current_user, form.code.data):
            flash(_("Two-factor sign-in is on."))
            return redirect(url_for("admin.home"))
        form.code.errors.append(_("That code is not right. Check the time on your phone and try again."))
    # an SVG we generate ourselves from our own data: safe to inline
    qr = Markup(segno.make(uri, error="m").svg_inline(scale=4, title=_("QR code to scan")))  # nosec B704
    return render_template("accounts/two_factor_setup.html", form=form, qr=qr,
                           secret=current_user.totp_secret), 422 if form.errors else 200


@bp.route("/account/forgot-password", methods=["GET", "POST"])
@throttle
def forgot_password():
    form = ForgotPasswordForm()
    if form.validate_on_submit():
        operations.send_password_reset(form.email.data)
        flash(_("If that address has an account, we have sent it a link to choose a new password."))
        return redirect(url_for("accounts.login"), 303)
    return render_template("accounts/forgot_password.html", form=form), 422 if form.errors else 200


@bp.route("/account/reset/<token>", methods=["GET", "POST"])
def reset_password(token: str):
    campaigner = operations.campaigner_from_reset_token(token)
    if campaigner is None:
        return render_template("accounts/reset_invalid.html"), 404
    form = NewPasswordForm()
    if form.validate_on_submit():
        operations.set_password(campaigner, form.password.data)
        flash(_("Your password is changed. Please sign in."))
        return redirect(url_for("accounts.login"), 303)
    return render_template("accounts/reset_password.html", form=form), 422 if form.errors else 200


@login_manager.user_loader
def load_campaigner(session_id: str) -> Campaigner | None:
    """Flask-Login's loader: "<id>:<session_version>"; an old version is signed out."""
    try:
        campaigner_id, version = (int(part) for part in session_id.split(":"))
    except ValueError:
        return None
    campaigner = db.session.get(Campaigner, campaigner_id)
    if campaigner is None or campaigner.session_version != version:
        return None
    return campaigner
