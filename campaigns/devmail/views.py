"""/dev/mail: read the captured mail in the browser (embedded default only).

Registered only while mail is captured (no MAIL_SERVER), and answering only requests
from this machine, so a deployment that forgot MAIL_SERVER leaks nothing.
"""
from __future__ import annotations

import ipaddress
import re

from flask import Blueprint, abort, current_app, make_response, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from markupsafe import Markup, escape

from campaigns.devmail.capture import clear_messages, read_message, read_messages

bp = Blueprint("devmail", __name__, url_prefix="/dev/mail")
URL = re.compile(r"https?://[^\s<>\"')\]]+")


@bp.before_request
def only_from_this_machine():
    if current_app.testing:
        return
    if request.headers.get("X-Forwarded-For") or request.headers.get("Forwarded"):
        abort(404)  # came through a proxy, so not from this machine's own browser
    try:
        loopback = ipaddress.ip_address(request.remote_addr or "").is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        abort(404)


def linkify(text: str) -> Markup:
    """Escape the text and make its URLs clickable."""
    out, last = [], 0
    for match in URL.finditer(text):
        out.append(escape(text[last:match.start()]))
        url = match.group(0)
        out.append(Markup('<a href="{0}">{0}</a>').format(url))
        last = match.end()
    out.append(escape(text[last:]))
    return Markup("").join(out)


def directory() -> str:
    return current_app.config["MAIL_CAPTURE_DIR"]


@bp.get("/")
def inbox():
    return render_template("devmail/inbox.html", messages=read_messages(directory()),
                           form=FlaskForm())


@bp.get("/<key>")
def message(key: str):
    captured = read_message(directory(), key) or abort(404)
    return render_template("devmail/message.html", message=captured, text=linkify(captured.text))


@bp.get("/<key>/html")
def message_html(key: str):
    captured = read_message(directory(), key) or abort(404)
    if captured.html is None:
        abort(404)
    response = make_response(captured.html)
    response.headers["Content-Type"] = "text/html; charset=utf-8"
    # shown in a sandboxed frame of the viewer; it can run nothing and load nothing remote
    response.headers["Content-Security-Policy"] = (
        "sandbox allow-popups allow-popups-to-escape-sandbox; default-src 'none'; "
        "style-src 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'self'"
    )
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    return response


@bp.post("/clear")
def clear():
    if not FlaskForm().validate_on_submit():
        abort(400)
    clear_messages(directory())
    return redirect(url_for("devmail.inbox"), 303)
