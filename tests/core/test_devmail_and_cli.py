"""The local mail viewer and the flask commands a newcomer uses."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from campaigns.core.db import db
from campaigns.petitions.models import Campaign, CampaignStatus
from campaigns.signatures.models import Signature
from campaigns.targets.models import Target
from tests.conftest import fresh
from tests.helpers import csrf_token


@pytest.mark.usefixtures("celery_worker")
def test_mail_viewer_shows_captured_mail_with_clickable_links(client, campaign, sign, mail_sink):
    sign(campaign, email="viewer@example.org", first_name="Vera")
    [message] = mail_sink.wait_for("viewer@example.org")
    inbox = client.get("/dev/mail/").get_data(as_text=True)
    assert "viewer@example.org" in inbox and message.subject in inbox
    page = client.get(f"/dev/mail/{message.key}").get_data(as_text=True)
    assert 'href="http://threadline.test/sign/confirm/' in page
    html = client.get(f"/dev/mail/{message.key}/html")
    assert "Confirm my signature" in html.get_data(as_text=True)
    assert "sandbox" in html.headers["Content-Security-Policy"]


def test_mail_viewer_answers_only_this_machine(app, client):
    app.testing = False
    try:
        remote = client.get("/dev/mail/", environ_base={"REMOTE_ADDR": "203.0.113.9"})
        local = client.get("/dev/mail/", environ_base={"REMOTE_ADDR": "127.0.0.1"})
    finally:
        app.testing = True
    assert remote.status_code == 404 and local.status_code == 200


def test_mail_viewer_is_absent_when_a_mail_server_is_configured(other_app):
    real_smtp = other_app(MAIL_CAPTURE=False)
    assert "devmail" not in real_smtp.blueprints
    assert real_smtp.test_client().get("/dev/mail/").status_code == 404


def test_seed_demo_fills_an_empty_database_once(app):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["seed-demo", "--if-empty"])
    assert result.exit_code == 0, result.output
    fresh()
    campaigns = db.session.scalars(select(Campaign)).all()
    assert len(campaigns) >= 3 and all(c.status == CampaignStatus.LIVE for c in campaigns)
    assert all(c.signature_count > 0 for c in campaigns)
    kinds = {t.kind.value for t in db.session.scalars(select(Target))}
    assert {"brand", "retailer", "manufacturer", "ministry"} <= kinds
    signatures = db.session.scalar(select(func.count()).select_from(Signature))

    again = runner.invoke(args=["seed-demo", "--if-empty"])
    assert again.exit_code == 0 and "leaving it as it is" in again.output
    fresh()
    assert db.session.scalar(select(func.count()).select_from(Signature)) == signatures


def test_counts_commands(app, campaign):
    runner = app.test_cli_runner()
    assert "0 changes folded in" in runner.invoke(args=["counts", "flush"]).output
    assert "campaigns corrected" in runner.invoke(args=["counts", "reconcile"]).output
