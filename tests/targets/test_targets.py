"""The target registry in the workspace, and the public page per target."""
from __future__ import annotations

from sqlalchemy import select

from campaigns.audit.models import AuditEvent
from campaigns.core.db import db
from campaigns.petitions.models import CampaignStatus
from campaigns.targets.models import Contact, Target, TargetKind
from tests.conftest import fresh
from tests.workspace_helpers import token


def audit(action: str) -> list[AuditEvent]:
    fresh()
    return list(db.session.scalars(select(AuditEvent).filter_by(action=action)))


def test_campaigner_adds_a_target_and_its_contacts(client, make_campaigner, login):
    login(make_campaigner("campaigner"))
    response = client.post("/admin/targets/new", data={
        "csrf_token": token(client, "/admin/targets/new"), "name": "Ministry of Labour",
        "slug": "ministry-of-labour", "kind": "ministry", "country": "BD", "website": "",
        "description": "Labour inspection."})
    assert response.status_code == 303
    target = db.session.scalars(select(Target).filter_by(slug="ministry-of-labour")).one()
    assert target.kind == TargetKind.MINISTRY and target.country == "BD"
    response = client.post("/admin/targets/ministry-of-labour/contacts", data={
        "csrf_token": token(client), "name": "Office of the Minister", "role": "Minister",
        "email": "Minister@Labour.example", "email_public": "y", "active": "y"})
    assert response.status_code == 303
    fresh()
    [contact] = db.session.scalars(select(Contact).filter_by(target_id=target.id)).all()
    assert contact.email == "minister@labour.example" and contact.email_public and contact.active
    assert [e.details["slug"] for e in audit("target.created")] == ["ministry-of-labour"]
    assert len(audit("contact.created")) == 1


def test_every_edit_of_a_contact_is_audited(client, make_campaigner, login, make_target):
    target = make_target(slug="velora", name="Velora Apparel")
    contact = target.contacts[0]
    login(make_campaigner("campaigner"))
    path = f"/admin/targets/velora/contacts/{contact.id}"
    response = client.post(path, data={"csrf_token": token(client, path), "name": "Chief",
                                       "role": "Chief Executive Officer", "email": "new@velora.example",
                                       "active": ""})
    assert response.status_code == 303
    [event] = audit("contact.edited")
    assert event.subject_id == contact.id
    assert event.details["changes"] == {"email": ["ceo@velora.example", "new@velora.example"],
                                        "active": [True, False]}
    # saving again without a change records nothing
    client.post(path, data={"csrf_token": token(client, path), "name": "Chief",
                            "role": "Chief Executive Officer", "email": "new@velora.example"})
    assert len(audit("contact.edited")) == 1


def test_target_form_errors(client, make_campaigner, login, make_target):
    make_target(slug="taken")
    login(make_campaigner("campaigner"))
    response = client.post("/admin/targets/new", data={
        "csrf_token": token(client, "/admin/targets/new"), "name": "", "slug": "taken",
        "kind": "brand", "website": "not a url"})
    page = response.get_data(as_text=True)
    assert response.status_code == 422 and 'id="error-summary"' in page
    assert "Enter the name." in page and "Enter a full web address" in page
    response = client.post("/admin/targets/new", data={
        "csrf_token": token(client), "name": "X", "slug": "x", "kind": "brand",
        "website": "javascript://example.com/%0aalert(1)"})
    assert response.status_code == 422
    fresh()
    assert db.session.scalars(select(Target).filter_by(slug="x")).first() is None


def test_viewers_read_the_registry_but_cannot_change_it(client, make_campaigner, login, make_target):
    make_target(slug="velora", name="Velora Apparel")
    login(make_campaigner("viewer"))
    assert "Velora Apparel" in client.get("/admin/targets/").get_data(as_text=True)
    page = client.get("/admin/targets/velora")
    assert page.status_code == 200 and "ceo@velora.example" in page.get_data(as_text=True)
    assert client.get("/admin/targets/new").status_code == 403
    assert client.post("/admin/targets/velora", data={"csrf_token": token(client), "name": "X",
                                                      "slug": "velora", "kind": "brand"}).status_code == 403


def test_public_target_page_lists_visible_campaigns_with_the_ask(client, make_target, make_campaign):
    target = make_target(slug="velora", name="Velora Apparel")
    db.session.add(Contact(target_id=target.id, name="Sofia Ruiz", role="Director of Sustainability",
                           email="sustainability@velora.example", email_public=True))
    db.session.commit()
    make_campaign(slug="live-one", title="Reinstate the leaders", targets=[target])
    make_campaign(slug="draft-one", title="A secret draft", targets=[target], status=CampaignStatus.DRAFT)
    make_campaign(slug="review-one", title="Under review", targets=[target], status=CampaignStatus.REVIEW)
    page = client.get("/t/velora").get_data(as_text=True)
    assert "Reinstate the leaders" in page and "Reinstate them, Velora Apparel." in page
    assert "A secret draft" not in page and "Under review" not in page
    assert "sustainability@velora.example" in page  # public address
    assert "ceo@velora.example" not in page  # private address, never shown
    assert client.get("/t/nobody").status_code == 404
    # the campaign page links to each target's page
    assert 'href="/t/velora"' in client.get("/c/live-one").get_data(as_text=True)
