"""An email action on a campaign with a triangle of targets: a brand, the factory owner
and a government body whose members of parliament each answer for some postcodes."""
from __future__ import annotations

import re
from datetime import date, timedelta
from urllib.parse import urlsplit

import pytest

from campaigns.actions.models import ActionTarget, EmailAction
from campaigns.core.db import db
from campaigns.targets.models import Contact, Target, TargetKind
from tests.helpers import csrf_token

LETTER_CONFIRM_LINK = re.compile(r"https?://\S+/letters/confirm/[A-Za-z0-9_.\-]+")


def consult(campaign) -> None:
    from campaigns.consultations.operations import record_consultation

    from campaigns.consultations.models import RequesterKind

    record_consultation(campaign, requester_kind=RequesterKind.UNION,
                        requester_organisation="Garment Workers Union", country="BD",
                        consulted_on=date.today() - timedelta(days=1),
                        valid_until=date.today() + timedelta(days=90),
                        approved_demands=True, approved_naming_factory=True, approved_timing=True)
    db.session.commit()


@pytest.fixture(autouse=True)
def leave_the_mail_sink_empty(mail_sink):
    """The sink is shared by the whole run: other tests count what reaches their addresses."""
    yield
    mail_sink.clear()


@pytest.fixture
def triangle(make_target, make_campaign):
    """A live campaign aimed at a brand, a factory owner and a ministry."""
    brand = make_target(slug="nordwind", name="Nordwind Sportswear")
    brand.contacts[0].name, brand.contacts[0].timezone = "Greta Holm", "Europe/Berlin"
    brand.contacts.append(Contact(name="Lena Ruiz", role="Head of CSR", email="csr@nordwind.example"))
    factory = make_target(slug="sunrise-apparel", name="Sunrise Apparel", kind=TargetKind.MANUFACTURER)
    factory.contacts[0].name = "Rahim Chowdhury"
    ministry = Target(slug="ministry-of-labour", name="Ministry of Labour", kind=TargetKind.MINISTRY,
                      country="BD")
    ministry.contacts = [
        Contact(name="Member for North", role="Member of Parliament", email="north@parliament.example",
                areas=["N1", "N2"]),
        Contact(name="Member for South", role="Member of Parliament", email="south@parliament.example",
                areas=["S"]),
    ]
    db.session.add(ministry)
    db.session.commit()
    return make_campaign(slug="triangle", targets=[brand, factory, ministry])


@pytest.fixture
def email_action(triangle, make_campaigner):
    """The triangle's email action: live to the real targets, with a consultation."""
    campaigner = make_campaigner("campaigner", email="team@network.example")
    consult(triangle)
    action = EmailAction(campaign_id=triangle.id, active=True, test_mode=False,
                         test_address=campaigner.email, max_body_length=1000)
    for campaign_target in triangle.targets:
        target = campaign_target.target
        action.letters.append(ActionTarget(
            campaign_target_id=campaign_target.id,
            subjects=[f"Reinstate the union leaders, {target.name}", "Workers' rights now"],
            body=f"I am writing to ask {target.name} to reinstate the dismissed union leaders.",
            contact_ids=[c.id for c in target.contacts]))
    db.session.add(action)
    db.session.commit()
    action.campaigner = campaigner
    return action


def letter_form_data(page_html: str, action, **fields) -> dict:
    data = {"csrf_token": csrf_token(page_html), "first_name": "Ana", "last_name": "Silva",
            "email": "ana.writes@example.org", "country": "PT", "postcode": "N1 4AB"}
    for letter in action.letters:
        data[f"subject_{letter.id}"] = "0"
        data[f"body_{letter.id}"] = letter.body + " Please act now."
    data.update(fields)
    return {k: v for k, v in data.items() if v is not None}


@pytest.fixture
def write_letters(client):
    """Fill in the letter page, preview, then send, as a browser would."""

    def write(action, preview: bool = True, **fields):
        slug = action.campaign.slug
        page = client.get(f"/c/{slug}/write")
        assert page.status_code == 200
        data = letter_form_data(page.get_data(as_text=True), action, **fields)
        if preview:
            shown = client.post(f"/c/{slug}/write", data={**data, "preview": "Preview"})
            if shown.status_code != 200:
                return shown
            data["csrf_token"] = csrf_token(shown.get_data(as_text=True))
        return client.post(f"/c/{slug}/write", data={**data, "send": "Send"})

    return write


def letter_confirm_path(message) -> str:
    match = LETTER_CONFIRM_LINK.search(message.text)
    assert match, f"no confirmation link in {message.text!r}"
    return urlsplit(match.group(0)).path


@pytest.fixture
def confirm_letters(client, mail_sink):
    def confirm(email: str = "ana.writes@example.org", count: int = 1):
        message = mail_sink.wait_for(email, count=count)[0]
        path = letter_confirm_path(message)
        page = client.get(path)
        assert page.status_code == 200
        return client.post(path, data={"csrf_token": csrf_token(page.get_data(as_text=True))})

    return confirm
