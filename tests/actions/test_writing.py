"""Writing to the targets over HTTP: the page, the preview, validation, confirmation,
duplicates, test mode, and the letters as the targets receive them."""
from __future__ import annotations

import email
from email.policy import default as default_policy

import pytest
from sqlalchemy import func, select

from campaigns.actions.models import Letter, LetterState
from campaigns.core.db import db
from campaigns.supporters.models import Supporter
from tests.actions.conftest import letter_confirm_path
from tests.conftest import fresh
from tests.helpers import csrf_token, wait_until


def letters(state: LetterState | None = None) -> list[Letter]:
    fresh()
    query = select(Letter).order_by(Letter.id)
    if state is not None:
        query = query.where(Letter.state == state)
    return list(db.session.scalars(query))


def test_the_page_shows_who_receives_the_letters_but_no_private_address(client, email_action):
    page = client.get("/c/triangle/write")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert page.headers["Cache-Control"] == "no-store"
    for shown in ("Greta Holm", "Chief Executive Officer", "Lena Ruiz", "Head of CSR",
                  "Rahim Chowdhury", "Member for North", "Reinstate the union leaders, Nordwind Sportswear",
                  "Workers&#39; rights now"):
        assert shown in html
    assert "ceo@nordwind.example" not in html and "csr@nordwind.example" not in html
    assert "<script>" not in html


def test_the_campaign_page_links_to_the_letter_page(client, email_action):
    assert "/c/triangle/write" in client.get("/c/triangle").get_data(as_text=True)


def test_the_preview_shows_the_letters_and_sends_nothing(client, email_action, mail_sink):
    mail_sink.clear()
    page = client.get("/c/triangle/write")
    from tests.actions.conftest import letter_form_data

    data = letter_form_data(page.get_data(as_text=True), email_action,
                            **{f"body_{email_action.letters[0].id}": "My own words to the brand."})
    shown = client.post("/c/triangle/write", data={**data, "preview": "Preview"})
    html = shown.get_data(as_text=True)
    assert shown.status_code == 200
    assert "Check your letters before sending" in html
    assert "My own words to the brand." in html
    assert "Member for North" in html and "Member for South" not in html  # by postcode
    assert letters() == []
    assert mail_sink.messages("ana.writes@example.org") == []


@pytest.mark.parametrize("field,value,message", [
    ("email", "not-an-address", "valid email"),
    ("first_name", "", "first name"),
    ("body", "", "cannot be empty"),
    ("body", "See www.spam.example for more", "web addresses"),
    ("body", "x" * 1001, "under 1000 characters"),
    ("postcode", "", "postcode"),
])
def test_invalid_letters_are_shown_in_the_page_and_change_nothing(client, email_action, write_letters,
                                                                  field, value, message):
    if field == "body":
        field = f"body_{email_action.letters[0].id}"
    response = write_letters(email_action, **{field: value})
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert letters() == []
    assert db.session.scalar(select(func.count()).select_from(Supporter)) == 0


@pytest.mark.usefixtures("celery_worker")
def test_a_supporter_writes_confirms_and_each_contact_receives_one_letter(
        client, email_action, write_letters, confirm_letters, mail_sink, app):
    mail_sink.clear()
    response = write_letters(email_action)
    assert response.status_code == 303 and response.headers["Location"].endswith("/c/triangle/write/thanks")
    pending = letters(LetterState.PENDING)
    # brand CEO and CSR head, the factory owner, and the one MP for postcode N1
    assert sorted(l.contact.email for l in pending) == [
        "ceo@nordwind.example", "ceo@sunrise-apparel.example", "csr@nordwind.example",
        "north@parliament.example"]
    assert all(l.body.endswith("Please act now.") for l in pending)
    assert mail_sink.messages("parliament.example") == []  # nothing before confirmation

    assert confirm_letters().status_code == 303
    for address in ("ceo@nordwind.example", "csr@nordwind.example", "ceo@sunrise-apparel.example",
                    "north@parliament.example"):
        [message] = mail_sink.wait_for(address, timeout=60)
        assert "Ana Silva via Threadline" in message.sender
        assert "no-reply@threadline.localhost" in message.sender
        assert "ana.writes@example.org" not in message.sender
        assert message.message["X-Threadline-Letter"]
        assert "Please act now." in message.text and "Ana Silva" in message.text
    brand_target = email_action.letters[0].campaign_target
    [ceo_letter] = mail_sink.messages("ceo@nordwind.example")
    assert str(ceo_letter.message["Reply-To"]) == f"reply+{brand_target.reply_token}@threadline.localhost"
    assert ceo_letter.subject == "Reinstate the union leaders, Nordwind Sportswear"
    wait_until(lambda: len(letters(LetterState.SENT)) == 4, timeout=60, message="letters sent")
    assert mail_sink.messages("south@parliament.example") == []


@pytest.mark.usefixtures("celery_worker")
def test_writing_again_changes_nothing(client, email_action, write_letters, confirm_letters, mail_sink):
    mail_sink.clear()
    assert write_letters(email_action).status_code == 303
    first = [(l.id, l.body) for l in letters()]
    assert write_letters(email_action, **{f"body_{email_action.letters[0].id}": "Changed."}).status_code == 303
    assert [(l.id, l.body) for l in letters()] == first
    assert confirm_letters().status_code == 303
    wait_until(lambda: len(letters(LetterState.SENT)) == 4, timeout=60, message="letters sent")
    assert write_letters(email_action).status_code == 303
    assert [(l.id, l.body) for l in letters()] == first
    assert len(mail_sink.messages("ceo@nordwind.example")) == 1


def test_following_the_link_twice_queues_once(client, email_action, write_letters, mail_sink):
    mail_sink.clear()
    write_letters(email_action)
    message = mail_sink.wait_for("ana.writes@example.org")[0]
    path = letter_confirm_path(message)
    page = client.get(path)
    token = csrf_token(page.get_data(as_text=True))
    assert client.post(path, data={"csrf_token": token}).status_code == 303
    assert client.post(path, data={"csrf_token": token}).status_code == 303
    assert {l.state for l in letters()} <= {LetterState.QUEUED, LetterState.RELEASED, LetterState.SENT}
    assert client.get(path).status_code == 303  # nothing pending any more


def test_a_damaged_link_sends_nothing(client, email_action):
    assert client.get("/letters/confirm/not-a-token").status_code == 404


def test_the_bot_trap_stores_letters_as_fraudulent_and_sends_nothing(client, email_action,
                                                                      write_letters, mail_sink):
    mail_sink.clear()
    response = write_letters(email_action, website="http://bot.example")
    assert response.status_code == 303  # the same answer as a person gets
    assert {l.state for l in letters()} == {LetterState.FRAUDULENT}
    assert mail_sink.messages("ana.writes@example.org") == []


@pytest.mark.usefixtures("celery_worker")
def test_in_test_mode_letters_go_to_the_campaigner_marked_as_tests(
        client, email_action, write_letters, confirm_letters, mail_sink):
    mail_sink.clear()
    email_action.test_mode = True
    db.session.commit()
    write_letters(email_action)
    confirm_letters()
    received = mail_sink.wait_for("team@network.example", count=4, timeout=60)
    assert all(m.subject.startswith("[Test]") for m in received)
    assert all(m.message["X-Threadline-Test"] == "yes" for m in received)
    assert all("TEST: this letter would go to" in m.text for m in received)
    assert mail_sink.messages("nordwind.example") == []


def test_a_closed_action_takes_no_letters(client, email_action):
    email_action.active = False
    db.session.commit()
    assert client.get("/c/triangle/write").status_code == 404


def raw_message(mail_sink, to: str) -> str:
    [message] = mail_sink.messages(to)
    return message.message.as_string()


def test_the_demo_has_an_email_action_with_a_triangle_of_letters(client, app):
    from campaigns.demo import seed

    seed()
    page = client.get("/c/riverside-severance/write")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    for name in ("Helena Brandt", "A. Rahman", "Office of the Minister", "Regional Labour Office, North (demo)"):
        assert name in html
    assert "ceo@northwind-athletics.example" not in html


def test_a_person_whose_address_a_flood_used_may_still_write(client, email_action, write_letters,
                                                             mail_sink):
    mail_sink.clear()
    write_letters(email_action, website="http://bot.example")
    assert {l.state for l in letters()} == {LetterState.FRAUDULENT}
    assert write_letters(email_action).status_code == 303
    assert {l.state for l in letters()} == {LetterState.PENDING}
    assert mail_sink.wait_for("ana.writes@example.org")


def test_each_supporter_is_assigned_one_of_the_subjects(client, email_action):
    import re

    letter_id = email_action.letters[0].id
    chosen = set()
    for _ in range(30):
        html = client.get("/c/triangle/write").get_data(as_text=True)
        chosen |= set(re.findall(rf'<input checked id="subject_{letter_id}-(\d)"', html)
                      + re.findall(rf'id="subject_{letter_id}-(\d)"[^>]*checked', html))
    assert chosen == {"0", "1"}
