"""Updates to signers: written in the workspace, sent once to each consenting signer."""
from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from sqlalchemy import func, select

from campaigns.core.db import db
from campaigns.core.mail import EmailState, OutgoingEmail
from campaigns.updates import operations
from campaigns.updates.models import CampaignUpdate, CampaignUpdateRecipient, UpdateState
from campaigns.updates.tasks import fan_out_update
from tests.conftest import fresh
from tests.helpers import csrf_token, wait_until
from tests.privacy.conftest import unsubscribe_path

pytestmark = pytest.mark.usefixtures("celery_worker")


def update_mail(mail_sink, address: str) -> list:
    return [m for m in mail_sink.messages(address) if "Pay them now" in m.subject]


def test_write_preview_test_send_and_follow_the_progress(app, client, login, campaign, signer,
                                                         make_campaigner, mail_sink):
    signer(campaign, "upd-yes1@example.org", first_name="Yaw")
    signer(campaign, "upd-yes2@example.org")
    signer(campaign, "upd-no@example.org", consent=False)
    signer(campaign, "upd-pending@example.org", confirm=False)
    left = signer(campaign, "upd-left@example.org")
    assert app.test_client().post(unsubscribe_path(left), data="List-Unsubscribe=One-Click",
                                  content_type="application/x-www-form-urlencoded").status_code == 200

    campaigner = make_campaigner("campaigner", email="writer@network.example")
    assert login(campaigner).status_code == 302
    base = f"/admin/campaigns/{campaign.slug}/updates"
    index = client.get(base)
    assert index.status_code == 200
    assert "2 confirmed signers agreed" in index.get_data(as_text=True)

    page = client.get(f"{base}/new").get_data(as_text=True)
    draft = {"csrf_token": csrf_token(page), "subject": "Pay them now",
             "body": "The brand **answered**. [Read it](https://example.org/answer)"}
    preview = client.post(f"{base}/new", data={**draft, "preview": "Preview"})
    assert preview.status_code == 200
    assert "<strong>answered</strong>" in preview.get_data(as_text=True)
    fresh()
    assert db.session.scalar(select(func.count()).select_from(CampaignUpdate)) == 0  # not saved

    saved = client.post(f"{base}/new", data={**draft, "save": "Save draft"})
    assert saved.status_code == 303
    show_path = urlsplit(saved.headers["Location"]).path
    page = client.get(show_path).get_data(as_text=True)
    assert "Send a test to me only" in page

    # Test mode: the campaigner alone receives it.
    assert client.post(f"{show_path}/test", data={"csrf_token": csrf_token(page)}).status_code == 303
    [test] = mail_sink.wait_for("writer@network.example")
    assert test.subject == "[Test] Pay them now" and "<strong>answered</strong>" in test.html
    assert all(not update_mail(mail_sink, f"upd-{who}@example.org")
               for who in ("yes1", "yes2", "no", "pending", "left"))

    assert client.post(f"{show_path}/send", data={"csrf_token": csrf_token(page)}).status_code == 303
    [first] = mail_sink.wait_for("upd-yes1@example.org", count=2)[:1]
    assert first.subject == "Pay them now" and "Hello Yaw," in first.text
    assert "<strong>answered</strong>" in first.html
    assert first.message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert unsubscribe_path(first).startswith("/u/")
    assert "/preferences/" in first.text
    wait_until(lambda: update_mail(mail_sink, "upd-yes2@example.org"), message="second recipient")

    progress_url = f"{show_path}/progress.json"
    final = wait_until(lambda: (lambda p: p if p["done"] else None)(client.get(progress_url).get_json()),
                       message="progress done")
    assert (final["state"], final["total"], final["delivered"], final["failed"]) == ("sent", 2, 2, 0)
    page = client.get(show_path).get_data(as_text=True)
    assert "<progress" in page and 'value="2"' in page and "update-progress.js" in page
    assert "Reload to see the progress" in page
    for who in ("no", "pending", "left"):
        assert update_mail(mail_sink, f"upd-{who}@example.org") == []

    # Sent is sent: no more edits, no second send.
    assert client.post(f"{show_path}/send", data={"csrf_token": csrf_token(page)}).status_code == 409
    assert client.post(show_path, data={**draft, "save": "Save draft"}).status_code == 409
    assert [len(update_mail(mail_sink, f"upd-yes{n}@example.org")) for n in (1, 2)] == [1, 1]


def test_a_restarted_or_killed_fan_out_mails_each_recipient_exactly_once(
        campaign, signer, make_campaigner, mail_sink, monkeypatch):
    addresses = [f"fan{n}@example.org" for n in range(5)]
    for address in addresses:
        signer(campaign, address)
    author = make_campaigner("campaigner")
    update = operations.create_update(campaign, author, subject="Pay them now", body="News.")
    update.state = UpdateState.SENDING
    db.session.commit()
    update_id = update.id

    # The worker dies after queueing three emails: the first batch (two) was committed.
    real_queue_email = operations.queue_email
    calls = []

    def dying_queue_email(*args, **kwargs):
        calls.append(1)
        if len(calls) > 3:
            raise RuntimeError("worker killed")
        return real_queue_email(*args, **kwargs)

    monkeypatch.setattr(operations, "queue_email", dying_queue_email)
    with pytest.raises(RuntimeError):
        fan_out_update(update_id, batch_size=2)
    monkeypatch.setattr(operations, "queue_email", real_queue_email)
    fresh()
    assert db.session.scalar(select(func.count()).select_from(CampaignUpdateRecipient)) == 2
    progress = operations.progress(db.session.get(CampaignUpdate, update_id))
    assert progress.state == "sending" and progress.queued == 2

    # Run again through the worker, then once more (a duplicate task): nobody twice.
    fan_out_update.delay(update_id, batch_size=2)
    wait_until(lambda: fresh() or db.session.get(CampaignUpdate, update_id).state == UpdateState.SENT,
               message="fan-out finished")
    db.session.get(CampaignUpdate, update_id).state = UpdateState.SENDING
    db.session.commit()
    fan_out_update(update_id, batch_size=2)
    for address in addresses:
        mail_sink.wait_for(address, count=2)  # confirmation + update
    # Every outbox email settled: whatever was going to arrive has arrived.
    wait_until(lambda: fresh() or not db.session.scalars(
        select(OutgoingEmail).filter_by(state=EmailState.QUEUED)).all(),
        message="the outbox to settle")
    assert [len(update_mail(mail_sink, address)) for address in addresses] == [1] * 5
    fresh()
    assert db.session.scalar(select(func.count()).select_from(OutgoingEmail)
                             .filter_by(kind="campaign_update")) == 5
    assert db.session.get(CampaignUpdate, update_id).recipient_total == 5


def test_other_organisations_cannot_see_or_send_updates(client, login, make_campaign, make_campaigner):
    from campaigns.accounts.models import Organisation

    union = Organisation(name="Union A")
    db.session.add(union)
    db.session.commit()
    campaign = make_campaign(organisation_id=union.id)
    assert login(make_campaigner("campaigner", organisation="Union B")).status_code == 302
    assert client.get(f"/admin/campaigns/{campaign.slug}/updates").status_code == 403
    assert client.get(f"/admin/campaigns/{campaign.slug}/updates/new").status_code == 403


def test_a_lost_fan_out_is_resumed_by_the_periodic_sweep(app, campaign, signer, make_campaigner,
                                                         mail_sink):
    from datetime import timedelta

    from campaigns.core.db import utcnow
    from campaigns.updates.tasks import resume_stalled_fan_outs

    signer(campaign, "lost-fan@example.org")
    update = operations.create_update(campaign, make_campaigner("campaigner"),
                                      subject="Pay them now", body="News.")
    # Sending started, but the broker was down: the fan-out task was never queued.
    update.state = UpdateState.SENDING
    update.send_started_at = utcnow() - timedelta(minutes=1)
    db.session.commit()
    assert resume_stalled_fan_outs() == 0  # may still be running: left alone for a while
    update.send_started_at = utcnow() - operations.STALLED_AFTER - timedelta(seconds=1)
    db.session.commit()

    assert app.extensions["celery"].conf.beat_schedule["resume-stalled-update-fan-outs"]
    assert resume_stalled_fan_outs() == 1
    wait_until(lambda: update_mail(mail_sink, "lost-fan@example.org"), message="the update")
    wait_until(lambda: fresh() or db.session.get(CampaignUpdate, update.id).state == UpdateState.SENT,
               message="sent")
    assert resume_stalled_fan_outs() == 0
