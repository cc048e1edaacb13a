"""Striking out floods after the fact, from the abuse desk, with exact counts."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from campaigns.abuse import operations
from campaigns.abuse.models import InvalidationJob, JobState
from campaigns.abuse.tasks import report_trending_signers, run_invalidation_job
from campaigns.core.db import db
from campaigns.petitions.models import Campaign
from campaigns.signatures.models import Signature, SignatureState
from campaigns.signatures.operations import confirm
from campaigns.signatures.tasks import flush_signature_counts
from campaigns.supporters.models import Supporter
from tests.conftest import fresh
from tests.helpers import csrf_token, wait_until


def add(campaign, n, ip, domain="example.org", confirmed=True, start=0):
    for i in range(start, start + n):
        email = f"p{i}@{domain}"
        supporter = Supporter(email=email, canonical_email=email, first_name="P",
                              last_name="Q", country="DE")
        db.session.add(supporter)
        db.session.flush()
        signature = Signature(campaign_id=campaign.id, supporter_id=supporter.id, ip_address=ip)
        db.session.add(signature)
        db.session.flush()
        if confirmed:
            confirm(signature)
    db.session.commit()
    flush_signature_counts()


def count(campaign) -> int:
    fresh()
    return db.session.scalar(select(Campaign.signature_count).filter_by(id=campaign.id))


def confirmed_in_db(campaign) -> int:
    return db.session.scalar(select(func.count()).select_from(Signature).where(
        Signature.campaign_id == campaign.id, Signature.state == SignatureState.CONFIRMED))


@pytest.mark.usefixtures("celery_worker")
def test_admin_strikes_out_a_flood_from_one_network(client, login, make_campaigner, campaign):
    add(campaign, 12, "203.0.113.7")
    add(campaign, 3, "203.0.113.9", confirmed=False, start=100)
    add(campaign, 5, "198.51.100.1", start=200)
    assert count(campaign) == 17
    login(make_campaigner("admin"))
    page = client.get("/admin/abuse/")
    assert page.status_code == 200 and "203.0.113.7" in page.get_data(as_text=True)  # trending
    response = client.post("/admin/abuse/jobs", data={
        "csrf_token": csrf_token(page.get_data(as_text=True)), "reason": "flood on 14 May",
        "network": "203.0.113.0/24", "campaign_id": "0"})
    assert response.status_code == 303

    def done():
        fresh()
        return db.session.scalars(select(InvalidationJob)).one().state == JobState.DONE

    wait_until(done, message="the invalidation job to finish")
    job = db.session.scalars(select(InvalidationJob)).one()
    assert (job.matched, job.uncounted) == (15, 12)
    flush_signature_counts()
    assert count(campaign) == 5 == confirmed_in_db(campaign)
    assert "invalidation.started" in client.get("/admin/audit").get_data(as_text=True)


def test_a_job_needs_criteria_and_a_valid_range(client, login, make_campaigner):
    login(make_campaigner("admin"))
    token = csrf_token(client.get("/admin/abuse/").get_data(as_text=True))
    for data in ({"reason": "x"}, {"reason": "x", "network": "not-a-network"}):
        response = client.post("/admin/abuse/jobs", data={"csrf_token": token, "campaign_id": "0", **data})
        assert response.status_code == 422
    fresh()
    assert db.session.scalars(select(InvalidationJob)).all() == []


def test_a_job_paused_or_killed_midway_resumes_and_counts_stay_exact(campaign, monkeypatch):
    add(campaign, 30, "203.0.113.5", domain="bulk.spam.example")
    add(campaign, 4, "192.0.2.1", start=100)
    monkeypatch.setattr(operations, "BATCH", 7)
    job = InvalidationJob(reason="spam domain", email_domain="*.spam.example",
                          highest_signature_id=10_000)  # run by hand below, not by the worker
    db.session.add(job)
    db.session.commit()
    job_id = job.id

    job = db.session.get(InvalidationJob, job_id)
    operations.run_batch(job)  # one batch, then the worker "dies"
    db.session.commit()
    fresh()
    flush_signature_counts()
    assert count(campaign) == 34 - 7

    job = db.session.get(InvalidationJob, job_id)
    operations.pause_job(job)
    db.session.commit()
    assert run_invalidation_job(job_id) == "stopped"
    job = db.session.get(InvalidationJob, job_id)
    operations.resume_job(job)
    db.session.commit()
    while run_invalidation_job(job_id) == "continues":
        pass

    def done() -> bool:
        # the suite's worker, when running, may take the queued run ("another run has it")
        fresh()
        return db.session.get(InvalidationJob, job_id).state == JobState.DONE

    wait_until(done, timeout=60, message="the job done")
    job = db.session.get(InvalidationJob, job_id)
    assert (job.matched, job.uncounted) == (30, 30)
    flush_signature_counts()
    assert count(campaign) == 4 == confirmed_in_db(campaign)

    # Running it again changes nothing.
    job.state = JobState.QUEUED
    job.last_signature_id = 0
    db.session.commit()
    run_invalidation_job(job_id)
    flush_signature_counts()
    assert count(campaign) == 4


@pytest.mark.usefixtures("celery_worker")
def test_the_hourly_report_tells_admins_about_floods(app, campaign, make_campaigner, mail_sink):
    admin = make_campaigner("admin", email="desk@network.example")
    app.config["TRENDING_THRESHOLD"] = 10
    try:
        add(campaign, 9, "198.51.100.77")
        assert report_trending_signers() == 0
        add(campaign, 2, "198.51.100.77", start=50)
        assert report_trending_signers() == 1
    finally:
        app.config["TRENDING_THRESHOLD"] = 100
    [message] = mail_sink.wait_for(admin.email)
    assert "198.51.100.77: 11" in message.text
