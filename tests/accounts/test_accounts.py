"""Campaigner sign-in, two-factor codes, throttling, password reset and the account CLI."""
from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from campaigns.accounts.models import Campaigner
from campaigns.audit.models import AuditEvent
from campaigns.core.db import db
from tests.conftest import PASSWORD, fresh, totp_code
from tests.helpers import csrf_token


def test_campaigner_signs_in_and_reaches_the_workspace(client, make_campaigner, login):
    campaigner = make_campaigner("campaigner")
    assert client.get("/admin/").status_code == 302
    client.get("/login")
    before = client.get_cookie("session").value
    response = login(campaigner)
    assert response.status_code == 302 and response.headers["Location"] == "/admin/"
    assert client.get_cookie("session").value != before  # a new session
    page = client.get("/admin/")
    assert page.status_code == 200 and "Sign out" in page.get_data(as_text=True)
    assert page.headers["Cache-Control"] == "no-store"
    fresh()
    assert db.session.scalars(select(AuditEvent.action)).all() == ["campaigner.login"]


@pytest.mark.parametrize("email, password", [
    ("known", "wrong password here"), ("nobody@network.example", PASSWORD)])
def test_wrong_credentials_get_one_answer(client, make_campaigner, email, password):
    known = make_campaigner()
    page = client.get("/login").get_data(as_text=True)
    response = client.post("/login", data={"csrf_token": csrf_token(page), "password": password,
                                           "email": known.email if email == "known" else email})
    assert response.status_code == 401
    assert "That email and password do not match an account." in response.get_data(as_text=True)
    assert client.get("/admin/").status_code == 302


def test_inactive_accounts_cannot_sign_in(client, make_campaigner, login):
    campaigner = make_campaigner()
    campaigner.active = False
    db.session.commit()
    assert login(campaigner).status_code == 401


def test_admin_must_turn_on_two_factor_then_always_gives_a_code(client, make_campaigner, login):
    admin = make_campaigner("admin", two_factor=False)
    assert login(admin).status_code == 302
    response = client.get("/admin/")
    assert response.status_code == 302 and response.headers["Location"] == "/account/two-factor"
    setup = client.get("/account/two-factor")
    text = setup.get_data(as_text=True)
    assert "<svg" in text
    fresh()
    admin = db.session.get(Campaigner, admin.id)
    assert admin.totp_secret in text
    bad = client.post("/account/two-factor", data={"csrf_token": csrf_token(text), "code": "000000"})
    assert bad.status_code == 422 and "not right" in bad.get_data(as_text=True)
    used = totp_code(admin)
    good = client.post("/account/two-factor", data={"csrf_token": csrf_token(text), "code": used})
    assert good.status_code == 302
    assert client.get("/admin/").status_code == 200
    assert client.get("/admin/audit").status_code == 200

    # Next time: password, then a code.
    client.post("/logout", data={"csrf_token": csrf_token(client.get("/admin/").get_data(as_text=True))})
    page = client.get("/login").get_data(as_text=True)
    step = client.post("/login", data={"csrf_token": csrf_token(page), "email": admin.email,
                                       "password": PASSWORD})
    assert step.headers["Location"].endswith("/login/code")
    assert client.get("/admin/").status_code == 302  # not signed in yet
    code_page = client.get("/login/code").get_data(as_text=True)
    # the code accepted at setup, replayed (the very code: computed again, it would be the
    # next one whenever the 30 s step turned in between, and rightly accepted)
    replay = client.post("/login/code", data={"csrf_token": csrf_token(code_page), "code": used})
    assert replay.status_code == 401
    fresh()
    admin = db.session.get(Campaigner, admin.id)
    fresh_code = client.post("/login/code", data={"csrf_token": csrf_token(code_page),
                                                  "code": totp_code(admin, offset_steps=1)})
    assert fresh_code.status_code == 302
    assert client.get("/admin/audit").status_code == 200


@pytest.mark.parametrize("next_url, lands", [
    ("/admin/audit", "/admin/audit"),
    ("//evil.example/phish", "/"),
    ("https://evil.example/", "/"),
    ("/\\evil.example", "/"),
])
def test_next_never_leaves_the_site(client, make_campaigner, login, next_url, lands):
    response = login(make_campaigner("viewer"), next_url=next_url)
    assert response.status_code == 302 and response.headers["Location"] == lands


def test_sign_in_is_throttled_per_account_and_per_address(app, client, make_campaigner):
    campaigner = make_campaigner()
    token = csrf_token(client.get("/login").get_data(as_text=True))
    app.config["LOGIN_ACCOUNT_RATE_LIMIT"] = "3/minute"
    try:
        statuses = [client.post("/login", data={"csrf_token": token, "email": campaigner.email,
                                                "password": "guess number %d" % i},
                                environ_base={"REMOTE_ADDR": f"198.51.100.{i}"}).status_code
                    for i in range(5)]
    finally:
        app.config["LOGIN_ACCOUNT_RATE_LIMIT"] = "10000/minute"
    assert statuses == [401, 401, 401, 429, 429]

    app.config["LOGIN_RATE_LIMIT"] = "2/minute"
    try:
        statuses = [client.post("/login", data={"csrf_token": token, "password": "x",
                                                "email": f"someone{i}@network.example"},
                                environ_base={"REMOTE_ADDR": "203.0.113.7"}).status_code
                    for i in range(3)]
    finally:
        app.config["LOGIN_RATE_LIMIT"] = "10000/minute"
    assert statuses == [401, 401, 429]


@pytest.mark.usefixtures("celery_worker")
def test_password_reset_by_emailed_link(client, make_campaigner, login, mail_sink):
    campaigner = make_campaigner(email="reset-me@network.example")
    other_session = client.application.test_client()
    login(campaigner)

    page = client.get("/account/forgot-password").get_data(as_text=True)
    for email in (campaigner.email, "nobody@network.example"):
        response = client.post("/account/forgot-password",
                               data={"csrf_token": csrf_token(page), "email": email})
        assert response.status_code == 303
    [message] = mail_sink.wait_for("reset-me@network.example")
    link = next(word for word in message.text.split() if "/account/reset/" in word)
    path = urlsplit(link).path
    form = client.get(path).get_data(as_text=True)
    short = client.post(path, data={"csrf_token": csrf_token(form), "password": "short",
                                    "confirm": "short"})
    assert short.status_code == 422
    new = "a much longer new passphrase"
    done = client.post(path, data={"csrf_token": csrf_token(form), "password": new, "confirm": new})
    assert done.status_code == 303
    assert client.get(path).status_code == 404  # works once
    assert client.get("/admin/").status_code == 302  # the old session ended with the change
    assert mail_sink.messages("nobody@network.example") == []

    from tests.conftest import fresh as _fresh
    _fresh()
    page = other_session.get("/login").get_data(as_text=True)
    old = other_session.post("/login", data={"csrf_token": csrf_token(page),
                                             "email": campaigner.email, "password": PASSWORD})
    assert old.status_code == 401
    ok = other_session.post("/login", data={"csrf_token": csrf_token(page),
                                            "email": campaigner.email, "password": new})
    assert ok.status_code == 302


def test_sign_out_needs_a_post_with_a_token(client, make_campaigner, login):
    login(make_campaigner())
    assert client.get("/logout").status_code == 405
    assert client.post("/logout").status_code == 400
    assert client.get("/admin/").status_code == 200
    token = csrf_token(client.get("/admin/").get_data(as_text=True))
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    assert client.get("/admin/").status_code == 302


def test_users_create_command(app):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["users", "create", "--email", "Ada@Network.example",
                                 "--role", "admin"], input="a long enough password\n")
    assert result.exit_code == 0, result.output
    assert "two-factor" in result.output
    fresh()
    ada = db.session.scalars(select(Campaigner)).one()
    assert ada.email == "ada@network.example" and ada.role.value == "admin"
    assert ada.password_hash.startswith("$argon2id$")
    again = runner.invoke(args=["users", "create", "--email", "ada@network.example"],
                          input="a long enough password\n")
    assert again.exit_code != 0 and "already has an account" in again.output
    weak = runner.invoke(args=["users", "create", "--email", "bob@network.example"], input="short\n")
    assert weak.exit_code != 0 and "too weak" in weak.output
