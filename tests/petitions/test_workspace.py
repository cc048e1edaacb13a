"""The campaign workspace, through HTTP: create, edit, preview, upload and the lifecycle."""
from __future__ import annotations

import io

import pytest
from sqlalchemy import select

from campaigns.audit.models import AuditEvent
from campaigns.core.db import db
from campaigns.petitions.models import Campaign, CampaignStatus
from tests.conftest import fresh
from tests.workspace_helpers import add_consultation, change_status, post_campaign, token

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 64
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 64
WEBP = b"RIFF\x24\x00\x00\x00WEBPVP8 " + b"\x00" * 64


def events(action: str) -> list[AuditEvent]:
    fresh()
    return list(db.session.scalars(select(AuditEvent).filter_by(action=action).order_by(AuditEvent.id)))


def campaign_by_slug(slug: str) -> Campaign:
    fresh()
    return db.session.scalars(select(Campaign).filter_by(slug=slug)).one()


@pytest.fixture
def campaigner(make_campaigner, login):
    account = make_campaigner("campaigner", organisation="Union A")
    assert login(account).status_code == 302
    return account


@pytest.fixture
def targets(make_target):
    return [make_target(slug="velora", name="Velora Apparel"),
            make_target(slug="harbor", name="Harbor Knitwear")]


def test_campaigner_creates_a_draft_with_targets_and_asks(client, campaigner, targets):
    response = post_campaign(client, [(targets[0], "Require reinstatement."),
                                      (targets[1], "Reinstate the 14 leaders.")],
                             languages=["en", "km"], urgent="y")
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/admin/campaigns/reinstate-harbor/edit")
    campaign = campaign_by_slug("reinstate-harbor")
    assert campaign.status == CampaignStatus.DRAFT
    assert [(link.target.slug, link.ask) for link in campaign.targets] == [
        ("velora", "Require reinstatement."), ("harbor", "Reinstate the 14 leaders.")]
    assert campaign.languages == ["en", "km"] and campaign.urgent
    assert campaign.organisation_id == campaigner.organisation_id
    [created] = events("campaign.created")
    assert created.actor_id == campaigner.id and created.subject_id == campaign.id
    # a draft is not public
    assert client.get("/c/reinstate-harbor").status_code == 404


def test_campaign_form_errors_are_listed_and_nothing_is_saved(client, campaigner, targets):
    response = post_campaign(client, [(targets[0], "")], title="", slug="Not A Slug")
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'id="error-summary"' in page
    assert "Give the campaign a title." in page
    assert "Use lower-case letters" in page
    assert "Write what the campaign asks of each target." in page
    fresh()
    assert db.session.scalar(select(Campaign.id)) is None


def test_the_same_target_twice_and_a_taken_slug_are_refused(client, campaigner, targets, make_campaign):
    make_campaign(slug="taken")
    response = post_campaign(client, [(targets[0], "A"), (targets[0], "B")], slug="taken")
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Each target can be chosen once." in page
    response = post_campaign(client, [(targets[0], "A")], slug="taken")
    assert response.status_code == 422
    assert "Another campaign already uses this web address." in response.get_data(as_text=True)


def test_edit_changes_content_and_is_audited(client, campaigner, targets):
    post_campaign(client, [(targets[0], "Old ask.")])
    response = post_campaign(client, [(targets[1], "New ask.")], path="/admin/campaigns/reinstate-harbor/edit",
                             title="A better title", risk_flag="y")
    assert response.status_code == 303
    campaign = campaign_by_slug("reinstate-harbor")
    assert campaign.title == "A better title" and campaign.risk_flag
    assert [(link.target.slug, link.ask) for link in campaign.targets] == [("harbor", "New ask.")]
    [edited] = events("campaign.edited")
    assert set(edited.details["fields"]) == {"title", "risk_flag", "targets"}


def test_live_preview_endpoint_returns_sanitised_html(client, campaigner):
    csrf = token(client, "/admin/campaigns/new")
    response = client.post("/admin/campaigns/preview", data={
        "csrf_token": csrf, "text": "**Bold** <script>alert('x')</script> <img src=x onerror=alert(1)>"})
    assert response.status_code == 200
    html = response.get_json()["html"]
    assert "<strong>Bold</strong>" in html
    assert "<script" not in html and "onerror" not in html and "<img" not in html


def test_preview_endpoint_needs_the_csrf_token_and_a_campaigner(client, make_campaigner, login):
    login(make_campaigner("campaigner"))
    assert client.post("/admin/campaigns/preview", data={"text": "hi"}).status_code == 400
    client.post("/logout", data={"csrf_token": token(client)})
    login(make_campaigner("viewer"))
    assert client.post("/admin/campaigns/preview",
                       data={"csrf_token": token(client), "text": "hi"}).status_code == 403


def test_preview_button_works_without_javascript(client, campaigner, targets):
    response = post_campaign(client, [(targets[0], "Ask.")], story="## Heading\n\n<script>x()</script>",
                             save=None, preview="Preview the story")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<h2>Heading</h2>" in page and "<script>x()" not in page
    fresh()
    assert db.session.scalar(select(Campaign.id)) is None  # a preview saves nothing


def test_the_editor_page_loads_its_script_from_a_static_file(client, campaigner):
    page = client.get("/admin/campaigns/new").get_data(as_text=True)
    assert '<script src="/static/js/campaign-editor.js" defer></script>' in page
    assert "<script>" not in page and "style=" not in page


@pytest.mark.parametrize("data, kind", [(PNG, "png"), (JPEG, "jpg"), (WEBP, "webp")])
def test_image_upload_is_checked_by_content_stored_and_served(client, campaigner, targets, data, kind):
    # the name says .txt: only the content counts
    response = post_campaign(client, [(targets[0], "Ask.")], image=(io.BytesIO(data), "photo.txt"),
                             image_alt="Workers outside the gate")
    assert response.status_code == 303
    campaign = campaign_by_slug("reinstate-harbor")
    assert campaign.image.startswith("media/") and campaign.image.endswith("." + kind)
    served = client.get("/" + campaign.image)
    assert served.status_code == 200 and served.data == data
    assert served.headers["Content-Type"] == {"png": "image/png", "jpg": "image/jpeg", "webp": "image/webp"}[kind]
    assert served.headers["X-Content-Type-Options"] == "nosniff"


def test_upload_that_is_not_an_image_is_refused(client, campaigner, targets):
    response = post_campaign(client, [(targets[0], "Ask.")],
                             image=(io.BytesIO(b"<svg onload=alert(1)></svg>"), "evil.png"), image_alt="x")
    assert response.status_code == 422
    assert "Upload a PNG, JPEG or WebP image." in response.get_data(as_text=True)


def test_upload_that_is_too_large_is_refused(client, campaigner, targets, app):
    big = PNG + b"\x00" * app.config["MAX_IMAGE_BYTES"]
    response = post_campaign(client, [(targets[0], "Ask.")], image=(io.BytesIO(big), "big.png"), image_alt="x")
    assert response.status_code == 422
    assert "The image is too large" in response.get_data(as_text=True)


def test_an_image_needs_a_description(client, campaigner, targets):
    response = post_campaign(client, [(targets[0], "Ask.")], image=(io.BytesIO(PNG), "a.png"))
    assert response.status_code == 422
    assert "Describe the image" in response.get_data(as_text=True)


def test_unknown_media_is_404(client):
    assert client.get("/media/0123.png").status_code == 404
    assert client.get("/media/x.svg").status_code == 404


# --- the lifecycle ----------------------------------------------------------------------------

def test_allowed_and_refused_transitions(client, campaigner, targets):
    post_campaign(client, [(targets[0], "Ask.")])
    assert change_status(client, "reinstate-harbor", "live").status_code == 409  # draft -> live
    assert change_status(client, "reinstate-harbor", "won").status_code == 409
    assert change_status(client, "reinstate-harbor", "review").status_code == 303
    assert campaign_by_slug("reinstate-harbor").status == CampaignStatus.REVIEW
    assert change_status(client, "reinstate-harbor", "draft").status_code == 303
    assert campaign_by_slug("reinstate-harbor").status == CampaignStatus.DRAFT
    response = change_status(client, "reinstate-harbor", "nonsense")
    assert response.status_code == 303 and campaign_by_slug("reinstate-harbor").status == CampaignStatus.DRAFT
    changes = [(e.details["old"], e.details["new"]) for e in events("campaign.status_changed")]
    assert changes == [("draft", "review"), ("review", "draft")]


def test_the_submitter_cannot_approve_their_own_campaign(client, campaigner, targets, make_campaigner, login):
    post_campaign(client, [(targets[0], "Ask.")])
    change_status(client, "reinstate-harbor", "review")
    add_consultation(campaign_by_slug("reinstate-harbor"))
    response = change_status(client, "reinstate-harbor", "live")
    assert response.status_code == 409
    assert "Someone else must approve it" in response.get_data(as_text=True)
    assert campaign_by_slug("reinstate-harbor").status == CampaignStatus.REVIEW

    client.post("/logout", data={"csrf_token": token(client)})
    login(make_campaigner("campaigner", organisation="Union A"))
    assert change_status(client, "reinstate-harbor", "live").status_code == 303
    campaign = campaign_by_slug("reinstate-harbor")
    assert campaign.status == CampaignStatus.LIVE and campaign.launched_at is not None
    assert "Reinstate the Harbor union leaders" in client.get("/").get_data(as_text=True)
    assert client.get("/c/reinstate-harbor").status_code == 200


def test_an_admin_may_approve(client, make_campaign, make_campaigner, login):
    campaign = make_campaign(status=CampaignStatus.REVIEW)
    add_consultation(campaign)
    login(make_campaigner("admin"))
    assert change_status(client, campaign.slug, "live").status_code == 303
    assert campaign_by_slug(campaign.slug).status == CampaignStatus.LIVE


def test_no_launch_without_a_current_consultation(client, make_campaign, make_campaigner, login):
    campaign = make_campaign(status=CampaignStatus.REVIEW)
    login(make_campaigner("admin"))
    response = change_status(client, campaign.slug, "live")
    assert response.status_code == 409
    assert "needs a current worker consultation" in response.get_data(as_text=True)
    add_consultation(campaign, valid_days=-1, consulted_days_ago=60)  # expired yesterday
    assert change_status(client, campaign.slug, "live").status_code == 409
    assert campaign_by_slug(campaign.slug).status == CampaignStatus.REVIEW
    assert events("campaign.status_changed") == []


def test_no_escalation_from_pause_with_an_expired_consultation(client, make_campaign, make_campaigner, login):
    campaign = make_campaign(status=CampaignStatus.LIVE)
    add_consultation(campaign, valid_days=-1, consulted_days_ago=60)
    login(make_campaigner("campaigner"))
    assert change_status(client, campaign.slug, "paused").status_code == 303  # de-escalating is fine
    assert change_status(client, campaign.slug, "live").status_code == 409
    assert campaign_by_slug(campaign.slug).status == CampaignStatus.PAUSED
    add_consultation(campaign, valid_days=30)
    assert change_status(client, campaign.slug, "live").status_code == 303
    assert campaign_by_slug(campaign.slug).status == CampaignStatus.LIVE


def test_ended_campaigns_stay_ended_and_cannot_be_edited(client, make_campaign, make_campaigner, login, targets):
    campaign = make_campaign(status=CampaignStatus.WON)
    add_consultation(campaign)
    login(make_campaigner("admin"))
    assert change_status(client, campaign.slug, "live").status_code == 409
    response = post_campaign(client, [(targets[0], "Ask.")], path=f"/admin/campaigns/{campaign.slug}/edit",
                             slug=campaign.slug)
    assert response.status_code == 409


def test_campaigners_of_another_organisation_cannot_touch_the_campaign(
        client, make_campaign, make_campaigner, login, targets):
    from campaigns.accounts.models import Organisation

    union_a = Organisation(name="Union A")
    db.session.add(union_a)
    db.session.commit()
    campaign = make_campaign(status=CampaignStatus.REVIEW, organisation_id=union_a.id)
    add_consultation(campaign)
    login(make_campaigner("campaigner", organisation="Union B"))
    assert client.get(f"/admin/campaigns/{campaign.slug}/edit").status_code == 403
    assert change_status(client, campaign.slug, "live").status_code == 403
    assert client.get(f"/admin/campaigns/{campaign.slug}/consultations").status_code == 403
    assert campaign_by_slug(campaign.slug).status == CampaignStatus.REVIEW


def test_viewers_cannot_create_campaigns(client, make_campaigner, login):
    login(make_campaigner("viewer"))
    assert client.get("/admin/campaigns/new").status_code == 403


def test_risk_flag_set_in_the_form_hides_signers(client, campaigner, make_campaign, targets):
    from tests.petitions.test_pages import add_signer

    campaign = make_campaign(slug="risky", organisation_id=campaigner.organisation_id)
    add_signer(campaign, "Visiblename")
    assert "Visiblename" in client.get("/c/risky").get_data(as_text=True)
    post_campaign(client, [(targets[0], "Ask.")], path="/admin/campaigns/risky/edit", slug="risky",
                  risk_flag="y")
    assert campaign_by_slug("risky").risk_flag
    assert "Visiblename" not in client.get("/c/risky").get_data(as_text=True)


def test_a_campaign_without_targets_cannot_go_live(client, make_campaign, make_campaigner, login):
    campaign = make_campaign(status=CampaignStatus.REVIEW, targets=[])
    add_consultation(campaign)
    login(make_campaigner("admin"))
    response = change_status(client, campaign.slug, "live")
    assert response.status_code == 409
    assert "Choose at least one target" in response.get_data(as_text=True)


def test_admins_choose_the_organisation_and_it_is_audited(client, make_campaigner, login, targets):
    from campaigns.accounts.models import Organisation

    login(make_campaigner("admin"))
    union_b = Organisation(name="Union B")
    db.session.add(union_b)
    db.session.commit()
    assert post_campaign(client, [(targets[0], "Ask.")], organisation_id=str(union_b.id)).status_code == 303
    assert campaign_by_slug("reinstate-harbor").organisation_id == union_b.id
    post_campaign(client, [(targets[0], "Ask.")], path="/admin/campaigns/reinstate-harbor/edit",
                  organisation_id="0")
    assert campaign_by_slug("reinstate-harbor").organisation_id is None
    assert events("campaign.edited")[-1].details["fields"] == ["organisation_id"]


def test_campaigners_cannot_choose_another_organisation(client, campaigner, targets):
    from campaigns.accounts.models import Organisation

    union_b = Organisation(name="Union B")
    db.session.add(union_b)
    db.session.commit()
    post_campaign(client, [(targets[0], "Ask.")], organisation_id=str(union_b.id))
    assert campaign_by_slug("reinstate-harbor").organisation_id == campaigner.organisation_id


def test_other_organisations_cannot_post_edits(client, make_campaign, make_campaigner, login, targets):
    from campaigns.accounts.models import Organisation

    union_a = Organisation(name="Union A")
    db.session.add(union_a)
    db.session.commit()
    campaign = make_campaign(slug="theirs", organisation_id=union_a.id, title="Their title")
    login(make_campaigner("campaigner", organisation="Union B"))
    response = post_campaign(client, [(targets[0], "Ask.")], path="/admin/campaigns/theirs/edit",
                             slug="theirs", title="Hijacked")
    assert response.status_code == 403
    assert campaign_by_slug("theirs").title == "Their title"
    assert "/admin/campaigns/theirs/edit" not in client.get("/admin/").get_data(as_text=True)


def test_an_ended_campaign_shows_no_content_form(client, make_campaign, make_campaigner, login):
    campaign = make_campaign(status=CampaignStatus.CLOSED)
    login(make_campaigner("campaigner"))
    page = client.get(f"/admin/campaigns/{campaign.slug}/edit").get_data(as_text=True)
    assert "its content can no longer be changed" in page
    assert 'class="campaign-form"' not in page
