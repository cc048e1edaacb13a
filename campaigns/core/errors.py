"""Error pages: JSON under /api/, a friendly page elsewhere; never a traceback."""
from __future__ import annotations

import logging

from flask import Flask, Response, jsonify, render_template, request
from flask_babel import lazy_gettext as _
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import DBAPIError, OperationalError
from werkzeug.exceptions import HTTPException, InternalServerError

log = logging.getLogger(__name__)


def wants_json() -> bool:
    return request.path.startswith("/api/") or request.path == "/healthz"


def error_response(status: int, message: object, **extra: object) -> tuple[Response | str, int]:
    message = str(message)
    if wants_json():
        return jsonify(error=message, **extra), status
    return render_template("errors/error.html", status=status, message=message), status


def _is_database_outage(exc: BaseException | None) -> bool:
    return isinstance(exc, OperationalError) or (
        isinstance(exc, DBAPIError) and exc.connection_invalidated
    )


def init_app(app: Flask) -> None:
    messages = {
        400: _("The request could not be understood."),
        403: _("You are not allowed to do that."),
        404: _("We could not find that page."),
        405: _("That method is not allowed here."),
        409: _("That is not possible in the current state."),
        413: _("What you sent is too large."),
        422: _("Some of what you sent is not valid."),
        429: _("Too many requests. Please wait a moment and try again."),
        503: _("The service is briefly unavailable. Please try again in a minute."),
    }

    @app.errorhandler(CSRFError)
    def csrf_error(exc: CSRFError):
        return error_response(
            400, _("Your form expired or was sent from another site. Please reload the page and try again.")
        )

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        status = exc.code or 500
        if status >= 500 and status != 503:
            return server_error(exc)
        response = error_response(status, messages.get(status, exc.description or ""))
        if status == 405 and exc.valid_methods:
            return response[0], status, {"Allow": ", ".join(exc.valid_methods)}
        return response

    @app.errorhandler(OperationalError)
    def database_outage(exc: OperationalError):
        log.error("database unavailable: %s", exc.__class__.__name__)
        body, status = error_response(503, messages[503])
        return body, status, {"Retry-After": "30"}

    @app.errorhandler(InternalServerError)
    def server_error(exc: HTTPException):
        original = getattr(exc, "original_exception", None)
        if _is_database_outage(original):
            return database_outage(original)
        return error_response(500, _("Something went wrong on our side. It has been logged."))
