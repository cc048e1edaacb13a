"""A campaigner reviews, grades and publishes a reply; the public pages and supporters follow."""
from __future__ import annotations

from sqlalchemy import select

from campaigns.audit.models import AuditEvent
from campaigns.core.db import db
from campaigns.replies import operations
from campaigns.replies.models import Commitment, DemandGrade, Grade, Reply, ReplyThread, ThreadStatus
from tests.conftest import fresh
from tests.helpers import csrf_token
from tests.privacy.conftest import signer  # noqa: F401
from tests.replies.conftest import address_of, build_message


def test_grade_publish_and_tell_consenting_supporters(client, login, make_campaigner, make_thread,
                                                      post_mail, signer, mail_sink, celery_worker):
    thread = make_thread()
    campaign = thread.campaign
    operations.set_demands(thread, ["Reinstate the 14 leaders", "Pay back wages"])
    db.session.commit()
    signer(campaign, "fan@example.org", consent=True)
    signer(campaign, "quiet@example.org", consent=False)
    assert post_mail(build_message(address_of(thread), "We will reinstate them all by May.")
                     ).json["state"] == "attached"
    fresh()
    reply = db.session.scalars(select(Reply)).one()
    demands = db.session.get(ReplyThread, thread.id).demands

    login(make_campaigner("campaigner"))
    url = f"/admin/campaigns/{campaign.slug}/replies/{thread.id}/replies/{reply.id}"
    page = client.get(url)
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    html = page.get_data(as_text=True)
    assert "We will reinstate them all by May." in html
    original = client.get(f"/admin/replies/inbox/{reply.inbound_message_id}/original.eml")
    assert original.status_code == 200 and b"We will reinstate them all by May." in original.data
    assert "attachment" in original.headers["Content-Disposition"]
    response = client.post(url, data={
        "csrf_token": csrf_token(html), "public_summary": "Acme **commits** to reinstate all 14.",
        "status": "commitment", "commitment": "Reinstate all 14 leaders by May",
        f"grade-{demands[0].id}": "met", f"grade-{demands[1].id}": "not_met", "publish": "y"})
    assert response.status_code == 303, response.get_data(as_text=True)
    fresh()
    reply = db.session.get(Reply, reply.id)
    assert reply.published_at is not None and reply.update_id is not None
    assert db.session.get(ReplyThread, thread.id).status == ThreadStatus.COMMITMENT
    grades = {g.demand_id: g.grade for g in db.session.scalars(select(DemandGrade))}
    assert grades == {demands[0].id: Grade.MET, demands[1].id: Grade.NOT_MET}
    commitment = db.session.scalars(select(Commitment)).one()
    assert commitment.public
    actions = set(db.session.scalars(select(AuditEvent.action)))
    assert {"reply.published", "reply.graded", "reply_thread.status_changed"} <= actions

    target_page = client.get(f"/t/{thread.target.slug}").get_data(as_text=True)
    assert "<strong>commits</strong> to reinstate all 14." in target_page
    assert "Commitment made" in target_page and "Not met" in target_page
    assert "We will reinstate them all by May." not in target_page  # only the summary is public
    assert "Reinstate all 14 leaders by May" in client.get("/commitments").get_data(as_text=True)
    assert "Acme <strong>commits</strong>" in client.get(f"/c/{campaign.slug}").get_data(as_text=True)

    from tests.helpers import wait_until

    news = wait_until(lambda: next((m for m in mail_sink.messages("fan@example.org")
                                    if thread.target.name in m.subject), None),
                      timeout=60, message="the news of the reply")
    assert news.message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert not [m for m in mail_sink.messages("quiet@example.org") if thread.target.name in m.subject]

    # publishing again (a double click) tells nobody twice
    page = client.get(url).get_data(as_text=True)
    client.post(url, data={"csrf_token": csrf_token(page), "public_summary": "Edited summary.",
                           "status": "commitment", "publish": "y"})
    fresh()
    from campaigns.updates.models import CampaignUpdate

    assert len(db.session.scalars(select(CampaignUpdate)).all()) == 1


def test_a_campaigner_logs_a_reply_by_hand_with_an_attachment(client, login, make_campaigner, thread):
    import io

    login(make_campaigner("campaigner"))
    url = f"/admin/campaigns/{thread.campaign.slug}/replies/{thread.id}/log"
    page = client.get(url)
    response = client.post(url, data={
        "csrf_token": csrf_token(page.get_data(as_text=True)), "channel": "meeting",
        "received_on": "2026-03-10", "sender": "Head of CSR", "summary": "They **declined**.",
        "text": "In the meeting they declined to reinstate anyone.",
        "files": [(io.BytesIO(b"%PDF-1.4 minutes"), "minutes.pdf")]},
        content_type="multipart/form-data")
    assert response.status_code == 303
    fresh()
    reply = db.session.scalars(select(Reply)).one()
    assert reply.channel.value == "meeting" and reply.published_at is None
    assert reply.public_summary == "They **declined**."
    assert "declined" not in client.get(f"/t/{thread.target.slug}").get_data(as_text=True).lower()
    assert [a.filename for a in reply.attachments] == ["minutes.pdf"]
    download = client.get(f"/admin/replies/attachments/{reply.attachments[0].id}")
    assert download.status_code == 200 and download.data == b"%PDF-1.4 minutes"
    assert "attachment" in download.headers["Content-Disposition"]
    client.get("/logout")


def test_forms_refuse_requests_without_a_csrf_token(client, login, make_campaigner, thread):
    login(make_campaigner("campaigner"))
    response = client.post(f"/admin/campaigns/{thread.campaign.slug}/replies/{thread.id}/status",
                           data={"status": "closed"})
    assert response.status_code == 400
    fresh()
    assert db.session.get(ReplyThread, thread.id).status == ThreadStatus.AWAITING


def test_a_viewer_reads_but_cannot_publish(client, login, make_campaigner, thread):
    login(make_campaigner("viewer"))
    assert client.get(f"/admin/campaigns/{thread.campaign.slug}/replies/{thread.id}").status_code == 200
    page = client.get("/admin/replies/").get_data(as_text=True)
    response = client.post(f"/admin/campaigns/{thread.campaign.slug}/replies/{thread.id}/status",
                           data={"csrf_token": csrf_token(page), "status": "closed"})
    assert response.status_code == 403


def test_managing_a_thread_in_the_workspace(client, login, make_campaigner, thread):
    from datetime import date

    from campaigns.replies.models import EventKind, ThreadEvent

    login(make_campaigner("campaigner"))
    base = f"/admin/campaigns/{thread.campaign.slug}/replies/{thread.id}"
    page = client.get(base)
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    token = csrf_token(page.get_data(as_text=True))
    assert client.post(f"{base}/demands", data={"csrf_token": token,
                                                "demands": "Reinstate\nPay wages\n"}).status_code == 303
    assert client.post(f"{base}/deadline", data={"csrf_token": token,
                                                 "deadline": "2030-01-31"}).status_code == 303
    assert client.post(f"{base}/note", data={"csrf_token": token, "text": "Called the CSR head.",
                                             "public": ""}).status_code == 303
    assert client.post(f"{base}/note", data={"csrf_token": token, "text": "Met the brand <b>today</b>.",
                                             "public": "y"}).status_code == 303
    reply = operations.log_reply(db.session.get(ReplyThread, thread.id), channel=operations.ReplyChannel.LETTER,
                                 received_on=date(2029, 12, 1), sender="CEO", summary="", text="We commit.",
                                 files=[])
    db.session.commit()
    review = f"{base}/replies/{reply.id}"
    page = client.get(review).get_data(as_text=True)
    assert client.post(review, data={"csrf_token": csrf_token(page), "public_summary": "They commit.",
                                     "status": "commitment", "commitment": "Reinstate all",
                                     "publish": "y"}).status_code == 303
    fresh()
    commitment = db.session.scalars(select(Commitment)).one()
    assert client.post(f"{base}/commitments/{commitment.id}/verify", data={
        "csrf_token": token, "verified_on": "2030-02-15", "note": "Checked with the union."}
    ).status_code == 303
    fresh()
    t = db.session.get(ReplyThread, thread.id)
    assert [d.text for d in t.demands] == ["Reinstate", "Pay wages"]
    assert t.deadline == date(2030, 1, 31)
    assert t.status == ThreadStatus.VERIFIED
    assert db.session.get(Commitment, commitment.id).verified_on == date(2030, 2, 15)
    notes = db.session.scalars(select(ThreadEvent).filter_by(thread_id=t.id, kind=EventKind.NOTE)).all()
    assert [(n.details["text"], n.public) for n in notes] == [
        ("Called the CSR head.", False), ("Met the brand <b>today</b>.", True)]
    public_page = client.get(f"/t/{t.target.slug}").get_data(as_text=True)
    assert "Met the brand &lt;b&gt;today&lt;/b&gt;." in public_page  # escaped
    assert "Called the CSR head." not in public_page  # private note
    assert "Remedy verified" in public_page
    register = client.get("/commitments").get_data(as_text=True)
    assert "Reinstate all" in register and "Checked with the union." in register


def test_the_overview_filters_by_status(client, login, make_campaigner, make_thread):
    first, second = make_thread(), make_thread()
    operations.change_status(db.session.get(ReplyThread, second.id), ThreadStatus.OVERDUE)
    db.session.commit()
    login(make_campaigner("viewer"))
    everything = client.get("/admin/replies/").get_data(as_text=True)
    overdue = client.get("/admin/replies/?status=overdue").get_data(as_text=True)
    assert first.campaign.title in everything and second.campaign.title in everything
    assert first.campaign.title not in overdue and second.campaign.title in overdue
    assert client.get("/admin/replies/?status=<script>").status_code == 200


def test_removing_a_graded_demand_removes_its_grades(thread, make_campaigner):
    campaigner = make_campaigner("campaigner")
    thread = db.session.get(ReplyThread, thread.id)
    operations.set_demands(thread, ["Reinstate", "Pay wages"])
    reply = operations.log_reply(thread, channel=operations.ReplyChannel.LETTER,
                                 received_on=thread.deadline, sender="", summary="", text="No.",
                                 files=[])
    keep, drop = thread.demands
    operations.grade_reply(reply, {keep.id: Grade.NOT_MET, drop.id: Grade.PARTLY}, campaigner)
    db.session.commit()
    operations.set_demands(thread, ["Reinstate"])
    db.session.commit()
    fresh()
    assert [(g.demand_id, g.grade) for g in db.session.scalars(select(DemandGrade))] == [
        (keep.id, Grade.NOT_MET)]
