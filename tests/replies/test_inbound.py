"""Inbound mail through the real door: POST /inbound/mail, parsed, attached or queued."""
from __future__ import annotations

import io

from sqlalchemy import func, select

from campaigns.core.db import db
from campaigns.replies.models import (
    InboundMessage,
    InboundState,
    Reply,
    ReplyAttachment,
    ThreadEvent,
    ThreadStatus,
)
from tests.conftest import fresh
from tests.replies.conftest import address_of, build_message

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def replies_of(thread):
    fresh()
    return db.session.scalars(select(Reply).filter_by(thread_id=thread.id).order_by(Reply.id)).all()


def count(model) -> int:
    fresh()
    return db.session.scalar(select(func.count()).select_from(model))


def test_a_plain_reply_is_attached_to_its_thread_and_is_not_public(client, thread, post_mail):
    raw = build_message(address_of(thread), "Dear campaigners,\n\nWe will investigate.\n\n"
                        "On Mon, 2 Nov 2026, Threadline wrote:\n> Reinstate the leaders")
    response = post_mail(raw)
    assert response.status_code == 200
    assert response.json["state"] == "attached"
    [reply] = replies_of(thread)
    assert "We will investigate." in reply.excerpt
    assert "Reinstate the leaders" not in reply.excerpt  # quoted history stripped
    assert "Reinstate the leaders" in reply.body_text
    assert reply.published_at is None
    fresh()
    thread = db.session.merge(thread)
    assert thread.status == ThreadStatus.REPLY_RECEIVED
    # the public sees no change until a campaigner publishes
    assert thread.public_status == ThreadStatus.AWAITING
    page = client.get(f"/t/{thread.target.slug}").get_data(as_text=True)
    assert "We will investigate" not in page
    assert "Awaiting response" in page


def test_the_same_message_delivered_twice_is_stored_once(thread, post_mail):
    raw = build_message(address_of(thread))
    assert post_mail(raw).status_code == 200
    assert post_mail(raw).status_code == 200
    assert len(replies_of(thread)) == 1
    assert count(InboundMessage) == 1


def test_an_html_only_reply_is_read_as_text_never_as_html(client, thread, post_mail):
    html = ("<html><head><style>p{color:red}</style><script>alert('x')</script></head>"
            "<body><p>We <b>commit</b> to reinstate</p><p>all fourteen workers.</p>"
            "<img src=x onerror=alert(1)></body></html>")
    raw = build_message(address_of(thread), None, html=html)
    assert post_mail(raw).json["state"] == "attached"
    [reply] = replies_of(thread)
    assert "We commit to reinstate" in reply.body_text
    assert "all fourteen workers." in reply.body_text
    for dangerous in ("<script", "alert", "onerror", "<b>", "color:red"):
        assert dangerous not in reply.body_text


def test_a_reply_with_attachments_stores_the_accepted_ones_outside_static(app, thread, post_mail):
    raw = build_message(address_of(thread), "Our policy is attached.", attachments=[
        ("policy.pdf", "application/pdf", PDF),
        ("run-me.exe", "application/octet-stream", b"MZ\x90\x00\x03" + b"\x00" * 50),
        ("huge.pdf", "application/pdf", b"%PDF-" + b"0" * (app.config["REPLY_ATTACHMENT_MAX_BYTES"] + 1)),
    ])
    assert post_mail(raw).json["state"] == "attached"
    [reply] = replies_of(thread)
    attachments = {a.filename: a for a in db.session.scalars(
        select(ReplyAttachment).filter_by(reply_id=reply.id))}
    assert attachments["policy.pdf"].stored_as and attachments["policy.pdf"].content_type == "application/pdf"
    assert attachments["run-me.exe"].stored_as is None
    assert attachments["run-me.exe"].refused == "type not accepted"
    assert attachments["huge.pdf"].refused == "too large"
    from campaigns.replies.operations import attachment_path

    path = attachment_path(attachments["policy.pdf"])
    assert path.read_bytes() == PDF
    assert "static" not in path.parts


def test_a_forwarded_reply_reaches_the_thread_through_delivered_to(thread, post_mail):
    raw = build_message("csr-archive@acme.example",
                        "FYI, see below.\n\n---------- Forwarded message ---------\n"
                        "From: CEO <ceo@acme.example>\nWe decline.",
                        subject="Fwd: Reinstate the union leaders",
                        extra_headers={"Delivered-To": address_of(thread)})
    assert post_mail(raw).json["state"] == "attached"
    [reply] = replies_of(thread)
    assert reply.excerpt == "FYI, see below."
    assert "We decline." in reply.body_text


def test_non_utf8_charsets_are_decoded(thread, post_mail):
    for charset, text in (("iso-8859-1", "Nous étudions la réintégration."),
                          ("windows-1252", "Wir prüfen das – ehrlich."),
                          ("shift_jis", "組合員の復職を検討します。")):
        raw = build_message(address_of(thread), text, charset=charset, subject=f"Re: {charset}")
        assert post_mail(raw).json["state"] == "attached"
    texts = [r.body_text for r in replies_of(thread)]
    assert any("réintégration" in t for t in texts)
    assert any("prüfen das – ehrlich" in t for t in texts)
    assert any("組合員の復職を検討します" in t for t in texts)


def test_unknown_tokens_malformed_and_huge_messages_wait_in_the_queue(app, thread, post_mail):
    unknown = build_message("reply+aaaaaaaaaaaaaaaaaaaa@threadline.localhost", "Hello?")
    other_domain = build_message("someone@elsewhere.example", "Hello?", subject="Other")
    malformed = b"\x00\x01\x02 not a mail \xff\xfe"
    broken_headers = (b"From: =?utf-8?q?broken\r\nTo: <<<" + address_of(thread).encode()
                      + b"\r\nSubject: =?x-unknown?b?????=\r\nContent-Type: text/plain; charset=\"no-such-charset\"\r\n"
                      b"\r\nBody in an unknown charset \xe9\xe8.\r\n")
    app.config["INBOUND_MAX_MESSAGE_BYTES"] = 50_000
    try:
        huge = build_message(address_of(thread), "x" * 60_000, subject="Huge")
        states = {}
        for name, raw in (("unknown", unknown), ("other", other_domain), ("malformed", malformed),
                          ("broken", broken_headers), ("huge", huge)):
            response = post_mail(raw)
            assert response.status_code == 200, name
            states[name] = (response.json["state"], response.json["reason"])
    finally:
        app.config["INBOUND_MAX_MESSAGE_BYTES"] = 10 * 1024 * 1024
    assert states["unknown"] == ("queued", "unknown_token")
    assert states["other"] == ("queued", "unknown_token")
    assert states["malformed"][0] == "queued"
    assert states["huge"] == ("queued", "too_large")
    # headers the parser frowns upon still give up the address: the reply is attached
    assert states["broken"][0] in ("attached", "queued")
    fresh()
    from campaigns.replies.operations import raw_path

    for message in db.session.scalars(select(InboundMessage)):
        assert raw_path(message).exists()  # never lost: the raw bytes are kept


def test_a_wrong_or_missing_secret_is_refused_and_changes_nothing(client, thread, inbound_secret):
    raw = build_message(address_of(thread))
    for headers in ({}, {"X-Inbound-Secret": "wrong"}, {"Authorization": "Bearer wrong"}):
        response = client.post("/inbound/mail", data=raw,
                               headers={**headers, "Content-Type": "message/rfc822"})
        assert response.status_code == 401
    assert count(InboundMessage) == 0
    assert count(Reply) == 0


def test_the_endpoint_is_off_without_a_secret(client, thread):
    response = client.post("/inbound/mail", data=build_message(address_of(thread)),
                           headers={"Content-Type": "message/rfc822"})
    assert response.status_code == 404
    assert count(InboundMessage) == 0


def test_multipart_webhook_shapes_are_accepted(client, make_thread, inbound_secret):
    first, second = make_thread(), make_thread()
    response = client.post("/inbound/mail", data={
        "body-mime": build_message(address_of(first), "Mailgun shape").decode()},
        headers={"X-Inbound-Secret": inbound_secret})
    assert response.json["state"] == "attached"
    response = client.post(f"/inbound/mail?secret={inbound_secret}", data={
        "email": (io.BytesIO(build_message(address_of(second), "SendGrid shape")), "message.eml")},
        content_type="multipart/form-data")
    assert response.json["state"] == "attached"
    assert replies_of(first)[0].body_text.strip() == "Mailgun shape"
    assert replies_of(second)[0].body_text.strip() == "SendGrid shape"


def test_a_campaigner_assigns_or_discards_a_queued_message(client, login, make_campaigner, thread,
                                                           post_mail):
    from tests.helpers import csrf_token

    post_mail(build_message("reply+bbbbbbbbbbbbbbbbbbbb@threadline.localhost", "Lost reply"))
    post_mail(build_message("nobody@elsewhere.example", "Spam", subject="Spam"))
    fresh()
    lost, spam = db.session.scalars(select(InboundMessage).order_by(InboundMessage.id)).all()
    login(make_campaigner("campaigner"))
    inbox = client.get("/admin/replies/inbox")
    assert inbox.status_code == 200 and "Lost reply" not in inbox.get_data(as_text=True)
    page = client.get(f"/admin/replies/inbox/{lost.id}")
    assert "Lost reply" in page.get_data(as_text=True)
    token = csrf_token(page.get_data(as_text=True))
    response = client.post(f"/admin/replies/inbox/{lost.id}/assign",
                           data={"csrf_token": token, "thread": str(thread.id)})
    assert response.status_code == 303
    response = client.post(f"/admin/replies/inbox/{spam.id}/discard", data={"csrf_token": token})
    assert response.status_code == 303
    fresh()
    assert db.session.get(InboundMessage, lost.id).state == InboundState.ATTACHED
    assert db.session.get(InboundMessage, spam.id).state == InboundState.DISCARDED
    [reply] = replies_of(thread)
    assert reply.body_text.strip() == "Lost reply"
    kinds = [e.kind.value for e in db.session.scalars(select(ThreadEvent).filter_by(thread_id=thread.id))]
    assert "reply_received" in kinds


def test_campaigners_hear_that_a_reply_arrived_without_its_text(make_campaign, make_campaigner,
                                                                post_mail, mail_sink, celery_worker):
    from campaigns.accounts.models import Organisation
    from campaigns.replies import operations

    organisation = Organisation(name="Union N")
    db.session.add(organisation)
    db.session.commit()
    lead = make_campaigner("campaigner", email="lead@union-n.example", organisation="Union N")
    campaign = make_campaign(organisation_id=organisation.id)
    thread = operations.ensure_thread(campaign.targets[0])
    db.session.commit()
    post_mail(build_message(address_of(thread), "Confidential: we consider it."))
    [notice] = mail_sink.wait_for(lead.email)
    assert thread.target.name in notice.subject
    assert "Confidential" not in notice.message.get_body(("plain",)).get_content()


def test_odd_messages_never_raise(thread, post_mail):
    """Broken MIME, bad encodings, nested messages: kept, attached or queued, never a 500."""
    to = address_of(thread).encode()
    oddities = [
        b"Subject: only headers\r\n",
        b"To: " + to + b"\r\nContent-Type: multipart/mixed; boundary=\"nope\"\r\n\r\n--other\r\nbody\r\n",
        b"To: " + to + b"\r\nContent-Transfer-Encoding: base64\r\n\r\n!!!not base64!!!\r\n",
        b"To: " + to + b"\r\nContent-Type: message/rfc822\r\n\r\nFrom: x@y\r\nSubject: inner\r\n\r\nInner body\r\n",
        b"To: " + to + b"\r\nDate: not a date\r\nFrom: " + b"A" * 2000 + b"\r\n\r\nbody\r\n",
        b"To: " + to + b"\r\nContent-Type: text/plain; charset=utf-7\r\n\r\n+ZeVnLIqe-\r\n",
        b"\r\n\r\n\r\nno headers at all",
    ]
    for raw in oddities:
        response = post_mail(raw)
        assert response.status_code in (200, 400), raw
        if response.status_code == 200:
            assert response.json["state"] in ("attached", "queued")


def test_the_token_is_found_in_cc_and_x_original_to(make_thread, post_mail):
    by_cc, by_original = make_thread(), make_thread()
    raw = build_message("press@acme.example", "Copied to you.",
                        extra_headers={"Cc": f"Someone <x@y.example>, Threadline <{address_of(by_cc)}>"})
    assert post_mail(raw).json["state"] == "attached"
    raw = build_message("list@acme.example", "Via an alias.", extra_headers={
        "X-Original-To": address_of(by_original).upper()})  # some servers change the case
    assert post_mail(raw).json["state"] == "attached"
    assert replies_of(by_cc)[0].body_text.strip() == "Copied to you."
    assert replies_of(by_original)[0].body_text.strip() == "Via an alias."


def test_a_message_larger_than_the_site_wide_request_limit_is_kept(app, thread, post_mail):
    """MAX_CONTENT_LENGTH (2 MiB) guards the forms; the inbound endpoint takes more."""
    app.config["INBOUND_MAX_MESSAGE_BYTES"] = 1024 * 1024
    try:
        raw = build_message(address_of(thread), "Scanned letter attached.", attachments=[
            ("scan.pdf", "application/pdf", b"%PDF-" + b"1" * (3 * 1024 * 1024))])
        assert len(raw) > app.config["MAX_CONTENT_LENGTH"]
        response = post_mail(raw)
    finally:
        app.config["INBOUND_MAX_MESSAGE_BYTES"] = 10 * 1024 * 1024
    assert response.status_code == 200
    assert (response.json["state"], response.json["reason"]) == ("queued", "too_large")
