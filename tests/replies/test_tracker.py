"""The public tracker's figures, on fixed data, against figures computed by hand."""
from __future__ import annotations

from datetime import date, datetime, timezone

from campaigns.core.db import db
from campaigns.petitions.models import CampaignStatus
from campaigns.replies import operations, stats
from campaigns.replies.models import ReplyChannel, ThreadStatus


def at(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 12, tzinfo=timezone.utc)


def test_figures_match_the_hand_computed_ones(client, launched, make_target, make_campaigner):
    acme = make_target(slug="acme", name="Acme")
    zeta = make_target(slug="zeta", name="Zeta")
    campaigner = make_campaigner("campaigner")
    today = date(2026, 6, 1)
    # Acme: four campaigns. Replies published after 4 and 10 days, one unpublished reply,
    # one without a reply past its deadline (overdue).
    a1 = launched(at(date(2026, 3, 1)), targets=[acme])
    a2 = launched(at(date(2026, 4, 1)), targets=[acme])
    a3 = launched(at(date(2026, 5, 1)), targets=[acme])
    a4 = launched(at(date(2026, 5, 2)), targets=[acme])
    # Zeta: one campaign answered after 7 days; one draft campaign that does not count
    z1 = launched(at(date(2026, 5, 10)), targets=[zeta])
    launched(at(date(2026, 5, 10)), targets=[zeta], status=CampaignStatus.DRAFT)

    def reply(campaign, day, publish=True):
        thread = operations.ensure_thread(campaign.targets[0], today)
        row = operations.log_reply(thread, channel=ReplyChannel.LETTER, received_on=day, sender="",
                                   summary="", text="Answer", files=[], actor=campaigner)
        if publish:
            operations.publish_reply(row, "Summary", campaigner, notify=False)
        return thread, row

    t1, r1 = reply(a1, date(2026, 3, 5))
    operations.change_status(t1, ThreadStatus.COMMITMENT, campaigner)
    c1 = operations.add_commitment(t1, "Reinstate", date(2026, 3, 5), campaigner, r1)
    operations.verify_commitment(c1, date(2026, 4, 1), "Seen", campaigner)
    t2, r2 = reply(a2, date(2026, 4, 11))
    operations.add_commitment(t2, "Pay wages", date(2026, 4, 11), campaigner, r2)
    reply(a3, date(2026, 5, 3), publish=False)  # private: counts as no reply
    t4 = operations.ensure_thread(a4.targets[0], today)
    t4.deadline = date(2026, 5, 16)
    t3 = operations.ensure_thread(a3.targets[0], today)
    t3.deadline = date(2026, 5, 15)  # past, with only an unpublished reply: overdue in public
    tz, _ = reply(z1, date(2026, 5, 17))
    db.session.commit()
    operations.run_deadlines(at(today))

    records = {r.target.slug: r for r in stats.tracker(today)}
    assert set(records) == {"acme", "zeta"}
    acme_rec, zeta_rec = records["acme"], records["zeta"]
    assert acme_rec.received == 4
    assert acme_rec.replied == 2
    assert acme_rec.reply_rate == 0.5
    assert acme_rec.median_days == 7  # median of 4 and 10 days
    assert acme_rec.overdue == 2  # a4 (no reply) and a3 (reply not published)
    assert (acme_rec.commitments, acme_rec.verified) == (2, 1)
    assert (zeta_rec.received, zeta_rec.replied, zeta_rec.median_days, zeta_rec.overdue) == (1, 1, 7, 0)
    total = stats.totals(list(records.values()))
    assert (total.received, total.replied, total.median_days, total.overdue) == (5, 3, 7, 2)

    page = client.get("/companies?sort=rate&dir=desc")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert html.index('data-target="zeta"') < html.index('data-target="acme"')
    assert "<svg" in html and "How these figures are computed" in html
    html = client.get("/companies?sort=name").get_data(as_text=True)
    assert html.index('data-target="acme"') < html.index('data-target="zeta"')
    assert client.get("/companies?sort=nonsense").status_code == 200
    assert "Pay wages" in client.get("/commitments").get_data(as_text=True)


def test_the_figures_as_csv(client, launched, make_target):
    import csv
    import io

    evil = make_target(slug="evil", name="=HYPERLINK(\"http://x\")")
    launched(at(date(2026, 3, 1)), targets=[evil])
    from campaigns.core.db import utcnow

    operations.run_deadlines(utcnow())
    response = client.get("/companies.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert len(rows) == 1
    assert not rows[0]["company"].startswith("=")
    assert rows[0]["campaigns_received"] == "1" and rows[0]["reply_rate"] == "0.000"
