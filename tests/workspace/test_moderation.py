"""Signers' comments reach the campaign page only after a campaigner approves them."""
from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from sqlalchemy import select, update

from campaigns.audit.models import AuditEvent
from campaigns.core.db import db
from campaigns.petitions.models import Campaign
from campaigns.signatures.models import CommentState, Signature
from tests.conftest import fresh
from tests.helpers import confirm_link, csrf_token


def decide(client, campaign, signature_id, decision, reason=""):
    page = client.get(f"/admin/campaigns/{campaign.slug}/comments")
    return client.post(f"/admin/campaigns/{campaign.slug}/comments/{signature_id}",
                       data={"csrf_token": csrf_token(page.get_data(as_text=True)),
                             "decision": decision, "reason": reason})


@pytest.mark.usefixtures("celery_worker")
def test_a_confirmed_comment_waits_for_approval_then_shows(client, sign, mail_sink, login,
                                                           make_campaigner, org_campaign):
    comment = "Solidarity from the dockworkers of Rotterdam!"
    signed = sign(org_campaign, email="ana@example.org", first_name="Ana", last_name="Secretname",
         country="NL", public="y", comment=comment)
    assert signed.status_code == 303, signed.get_data(as_text=True)[-3000:]
    # Pending: not even in the queue.
    login(make_campaigner("campaigner", organisation="Union A"))
    assert comment not in client.get(f"/admin/campaigns/{org_campaign.slug}/comments").get_data(as_text=True)

    [message] = mail_sink.wait_for("ana@example.org")
    path = urlsplit(confirm_link(message)).path
    page = client.get(path)
    client.post(path, data={"csrf_token": csrf_token(page.get_data(as_text=True))})

    # Confirmed: in the queue, not on the page.
    assert comment not in client.get(f"/c/{org_campaign.slug}").get_data(as_text=True)
    queue = client.get(f"/admin/campaigns/{org_campaign.slug}/comments").get_data(as_text=True)
    assert comment in queue and "Ana, Netherlands" in queue
    overview = client.get("/admin/moderation").get_data(as_text=True)
    assert org_campaign.title in overview and "1 comment waiting" in overview

    fresh()
    signature_id = db.session.scalar(select(Signature.id))
    response = decide(client, org_campaign, signature_id, "approved", "Kind words")
    assert response.status_code == 303
    assert "Comment approved." in client.get(response.headers["Location"]).get_data(as_text=True)

    page = client.get(f"/c/{org_campaign.slug}").get_data(as_text=True)
    assert comment in page and "Ana, Netherlands" in page
    assert "Secretname" not in page
    assert comment not in client.get(f"/admin/campaigns/{org_campaign.slug}/comments").get_data(as_text=True)

    fresh()
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "comment.approved")).one()
    assert event.details["reason"] == "Kind words" and event.actor_id is not None
    assert (event.subject_type, event.subject_id) == ("Signature", signature_id)

    # A decision is final: deciding again finds nothing waiting.
    assert decide(client, org_campaign, signature_id, "hidden", "changed my mind").status_code == 404


def test_hiding_needs_a_reason_and_keeps_the_comment_off_the_page(client, login, make_campaigner,
                                                                   campaign, add_signatures):
    [signature_id] = add_signatures(campaign, public=True, first_name="Troll", comment="Buy cheap pills")
    login(make_campaigner("campaigner"))
    refused = decide(client, campaign, signature_id, "hidden", "")
    assert refused.status_code == 422
    assert "Say why the comment is hidden." in refused.get_data(as_text=True)

    assert decide(client, campaign, signature_id, "hidden", "Spam").status_code == 303
    fresh()
    assert db.session.get(Signature, signature_id).comment_state == CommentState.HIDDEN
    assert "Buy cheap pills" not in client.get(f"/c/{campaign.slug}").get_data(as_text=True)
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "comment.hidden")).one()
    assert event.details["reason"] == "Spam"


def test_only_confirmed_public_comments_are_moderated(client, login, make_campaigner, campaign,
                                                      add_signatures):
    [pending] = add_signatures(campaign, confirmed=False, public=True, comment="Pending words")
    [private] = add_signatures(campaign, public=False, comment="Private words")
    login(make_campaigner("campaigner"))
    queue = client.get(f"/admin/campaigns/{campaign.slug}/comments").get_data(as_text=True)
    assert "Pending words" not in queue and "Private words" not in queue
    for signature_id in (pending, private):
        assert decide(client, campaign, signature_id, "approved").status_code == 404
    assert "No comments are waiting." in client.get("/admin/moderation").get_data(as_text=True)


def test_the_wall_shows_nothing_under_a_risk_flag(client, login, make_campaigner, campaign,
                                                  add_signatures):
    [signature_id] = add_signatures(campaign, public=True, first_name="Mei", country="KH",
                                    comment="We stand with you")
    login(make_campaigner("campaigner"))
    decide(client, campaign, signature_id, "approved")
    assert "We stand with you" in client.get(f"/c/{campaign.slug}").get_data(as_text=True)

    db.session.execute(update(Campaign).where(Campaign.id == campaign.id).values(risk_flag=True))
    db.session.commit()
    page = client.get(f"/c/{campaign.slug}").get_data(as_text=True)
    assert "We stand with you" not in page and "Mei" not in page


def test_a_comment_of_another_campaign_cannot_be_decided_here(client, login, make_campaigner,
                                                              make_campaign, add_signatures):
    here, there = make_campaign(), make_campaign()
    [signature_id] = add_signatures(there, public=True, comment="Elsewhere")
    login(make_campaigner("campaigner"))
    assert decide(client, here, signature_id, "approved").status_code == 404
    fresh()
    assert db.session.get(Signature, signature_id).comment_state == CommentState.PENDING


@pytest.mark.parametrize("role, organisation", [("viewer", None), ("campaigner", "Union B")])
def test_others_cannot_moderate(client, login, make_campaigner, org_campaign, add_signatures,
                                role, organisation):
    [signature_id] = add_signatures(org_campaign, public=True, comment="Hello")
    login(make_campaigner(role, organisation=organisation))
    assert client.get(f"/admin/campaigns/{org_campaign.slug}/comments").status_code == 403
    token = csrf_token(client.get("/account/two-factor").get_data(as_text=True))
    response = client.post(f"/admin/campaigns/{org_campaign.slug}/comments/{signature_id}",
                           data={"csrf_token": token, "decision": "approved"})
    assert response.status_code == 403
    if role == "campaigner":  # another organisation's queue is not listed either
        assert org_campaign.title not in client.get("/admin/moderation").get_data(as_text=True)
