"""Threadline: campaign mobilisation and petitions for labour-rights networks."""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from flask import Flask, request
from werkzeug.middleware.proxy_fix import ProxyFix

from config import Config, persistent_secret_key

ROOT = Path(__file__).resolve().parent.parent


def create_app(config_object: type | None = None, **overrides: Any) -> Flask:
    """Build the app: config, extensions, blueprints, CLI, error handlers. Nothing else."""
    app = Flask(__name__, template_folder=str(ROOT / "templates"),
                static_folder=str(ROOT / "static"), instance_relative_config=False)
    app.config.from_object(config_object or Config)
    app.config.update(overrides)
    app.instance_path = str(app.config["INSTANCE_DIR"])
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = persistent_secret_key(Path(app.instance_path))
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # alembic announces each of its autogenerate plugins at INFO whenever it is imported
    # (every app start: worker, web, each flask command); migrations still log their steps
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)

    if app.config["TRUSTED_PROXY_HOPS"]:
        hops = app.config["TRUSTED_PROXY_HOPS"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)

    from campaigns.core import errors, mail, security, signing
    from campaigns.core.celery import celery_init_app
    from campaigns.core.db import init_request_boundary
    from campaigns.core.extensions import babel, csrf, db, limiter, login_manager, migrate
    from campaigns.core.extensions import mail as flask_mail
    from campaigns.core.i18n import init_templates, select_locale

    db.init_app(app)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"), render_as_batch=True)
    flask_mail.init_app(app)
    csrf.init_app(app)
    limiter.init_app(app)
    login_manager.init_app(app)
    babel.init_app(app, locale_selector=select_locale)
    celery_init_app(app)
    mail.init_app(app)
    security.init_app(app)
    signing.init_app(app)
    errors.init_app(app)
    init_request_boundary(app)
    init_templates(app)

    from campaigns import models  # noqa: F401  (every model, for Alembic and relationships)
    from campaigns.abuse.views import bp as abuse_bp
    from campaigns.actions.admin import bp as actions_admin_bp
    from campaigns.actions.views import bp as actions_bp
    from campaigns.accounts.views import bp as accounts_bp
    from campaigns.admin.views import bp as admin_bp
    from campaigns.api.views import bp as api_bp
    from campaigns.consultations.views import bp as consultations_bp
    from campaigns.core.health import bp as health_bp
    from campaigns.donations.admin import bp as donations_admin_bp
    from campaigns.donations.views import bp as donations_bp
    from campaigns.donations.views import webhooks as stripe_webhooks_bp
    from campaigns.petitions.admin_views import bp as campaign_admin_bp
    from campaigns.petitions.views import bp as petitions_bp
    from campaigns.privacy.views import admin_bp as supporters_admin_bp
    from campaigns.privacy.views import bp as privacy_bp
    from campaigns.replies.views import admin as replies_admin_bp
    from campaigns.replies.views import bp as replies_bp
    from campaigns.replies.views import inbound_bp
    from campaigns.signatures.views import bp as signatures_bp
    from campaigns.updates.views import bp as updates_bp
    from campaigns.targets.views import bp as targets_bp

    app.register_blueprint(petitions_bp)
    app.register_blueprint(signatures_bp)
    app.register_blueprint(api_bp)
    app.register_blueprint(health_bp)
    app.register_blueprint(donations_bp)
    app.register_blueprint(stripe_webhooks_bp)
    app.register_blueprint(donations_admin_bp)
    app.register_blueprint(accounts_bp)
    app.register_blueprint(admin_bp)
    app.register_blueprint(abuse_bp)
    app.register_blueprint(privacy_bp)
    app.register_blueprint(supporters_admin_bp)
    app.register_blueprint(updates_bp)
    app.register_blueprint(campaign_admin_bp)
    app.register_blueprint(consultations_bp)
    app.register_blueprint(targets_bp)
    app.register_blueprint(actions_bp)
    app.register_blueprint(actions_admin_bp)
    app.register_blueprint(replies_bp)
    app.register_blueprint(replies_admin_bp)
    app.register_blueprint(inbound_bp)
    register_workspace_blueprints(app)
    if app.config["MAIL_CAPTURE"]:
        from campaigns.devmail.views import bp as devmail_bp

        app.register_blueprint(devmail_bp)
        app.jinja_env.globals["mail_viewer"] = True

    from campaigns.cli import register_commands

    register_commands(app)
    from campaigns.replies.cli import replies_cli

    app.cli.add_command(replies_cli)
    return app


def register_workspace_blueprints(app: Flask) -> None:
    """The campaigner workspace: paper signatures, moderation, dashboards, exports, bundles."""
    from campaigns.bundles.views import bp as bundles_bp
    from campaigns.dashboards.views import bp as dashboards_bp
    from campaigns.exports.views import bp as exports_bp
    from campaigns.moderation.views import bp as moderation_bp
    from campaigns.paper.views import bp as paper_bp

    for blueprint in (paper_bp, moderation_bp, dashboards_bp, exports_bp, bundles_bp):
        app.register_blueprint(blueprint)
