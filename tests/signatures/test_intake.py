"""The signature intake: the request stores what was submitted, a worker signs it.

Nothing a signer submitted is lost when the broker or the worker is away, each submission
is signed once, and the signer's answer is the same whatever the worker will find.
"""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from campaigns.core.db import db
from campaigns.core.mail import OutgoingEmail
from campaigns.petitions.models import CampaignStatus
from campaigns.signatures import operations, tasks
from campaigns.signatures.models import Signature, SignatureIntake, SignatureState
from campaigns.signatures.operations import INTAKE_MAX_ATTEMPTS
from campaigns.supporters.models import Consent, Supporter
from tests.conftest import fresh
from tests.helpers import csrf_token, keep_the_suite_worker_off_the_intake, process_intake

PERSON = {"first_name": "Lina", "last_name": "Okafor", "email": "lina@example.org",
          "country": "NG"}
#: nothing listens there: publishing fails at once, as with Redis down
BROKER_DOWN = "redis://127.0.0.1:9/0"


@pytest.fixture
def worker_down(monkeypatch):
    """Every worker away (the suite's may be running): their intake task signs nothing
    until the test calls the returned function, which brings them back and waits."""
    keep_the_suite_worker_off_the_intake(monkeypatch)

    def back() -> None:
        monkeypatch.setattr(tasks, "process_intake", operations.process_intake)
        process_intake()

    return back


def count(model) -> int:
    fresh()
    return db.session.scalar(select(func.count()).select_from(model))


def sign_by_api(client, campaign, **fields):
    return client.post(f"/api/v1/campaigns/{campaign.slug}/signatures", json={**PERSON, **fields})


def sign_by_page(client, campaign, **fields):
    page = client.get(f"/c/{campaign.slug}")
    data = {**PERSON, "csrf_token": csrf_token(page.get_data(as_text=True)), **fields}
    return client.post(f"/c/{campaign.slug}/sign", data=data)


def test_a_submission_is_stored_and_signed_only_by_the_worker(client, campaign, worker_down):
    response = sign_by_api(client, campaign, consent_updates=True, comment="For Ada.")
    assert response.status_code == 202 and response.get_json() == {"status": "pending_confirmation"}
    assert sign_by_page(client, campaign, email="page@example.org").status_code == 303
    assert (count(SignatureIntake), count(Signature), count(Supporter), count(OutgoingEmail)) == \
        (2, 0, 0, 0)

    worker_down()  # the worker comes back
    assert (count(SignatureIntake), count(Signature), count(Supporter), count(OutgoingEmail)) == \
        (0, 2, 2, 2)
    signature = db.session.scalars(select(Signature).join(Supporter)
                                   .where(Supporter.email == "lina@example.org")).one()
    assert signature.state == SignatureState.PENDING and signature.comment == "For Ada."
    assert signature.source == "api" and signature.supporter.locale == "en"
    assert len(signature.supporter.consents) == 1


def test_with_the_broker_down_signers_get_the_usual_answer_and_beat_signs_later(
        other_app, campaign, worker_down):
    client = other_app(CELERY_BROKER_URL=BROKER_DOWN).test_client()
    assert sign_by_api(client, campaign).status_code == 202
    response = sign_by_page(client, campaign, email="page@example.org")
    assert response.status_code == 303
    assert "check your email" in client.get(response.headers["Location"]).get_data(as_text=True).lower()
    assert count(SignatureIntake) == 2

    worker_down()  # beat's run, once the broker is back
    assert (count(SignatureIntake), count(Signature), count(OutgoingEmail)) == (0, 2, 2)


def test_field_errors_store_nothing(client, campaign):
    assert sign_by_api(client, campaign, email="not-an-address").status_code == 422
    assert sign_by_page(client, campaign, country="ZZ").status_code == 422
    assert count(SignatureIntake) == 0


def test_the_same_person_twice_is_one_signature_and_one_email(client, campaign):
    assert sign_by_api(client, campaign).status_code == 202
    assert sign_by_page(client, campaign, email="LINA+again@example.org").status_code == 303
    process_intake()
    assert (count(Signature), count(Supporter), count(OutgoingEmail)) == (1, 1, 1)


def test_a_suspicious_submission_gets_the_same_answer_and_is_stored_as_fraud(client, campaign):
    assert sign_by_page(client, campaign, website="http://spam.example").status_code == 303
    process_intake()
    signature = db.session.scalars(select(Signature)).one()
    assert (signature.state, signature.fraud_reason) == (SignatureState.FRAUDULENT, "honeypot")
    assert count(OutgoingEmail) == 0


def test_a_campaign_closed_after_the_submission_still_gets_the_signature(client, campaign):
    assert sign_by_api(client, campaign).status_code == 202
    campaign.status = CampaignStatus.CLOSED
    db.session.commit()
    process_intake()
    assert db.session.scalar(select(Signature.state)) == SignatureState.PENDING
    assert count(OutgoingEmail) == 1
    # submitted after the closing: refused at the door, as before
    assert sign_by_api(client, campaign, email="late@example.org").status_code == 409
    assert count(SignatureIntake) == 0


def test_a_row_that_fails_is_kept_for_later_without_holding_up_the_others(
        client, campaign, monkeypatch, worker_down, login, make_campaigner):
    sign = operations.sign

    def sign_unless_bob(campaign, request, **kwargs):
        if request.email.startswith("bob"):
            raise RuntimeError("a bug")
        return sign(campaign, request, **kwargs)

    monkeypatch.setattr(operations, "sign", sign_unless_bob)
    for email in ("ann@example.org", "bob@example.org", "cem@example.org"):
        assert sign_by_api(client, campaign, email=email).status_code == 202

    def worker_run() -> None:  # what one run of the worker's task does
        operations.process_intake(50)
        db.session.commit()

    worker_run()
    assert count(Signature) == 2
    for _ in range(INTAKE_MAX_ATTEMPTS):  # tried again on each run, then left alone
        worker_run()
    fresh()
    [left] = db.session.scalars(select(SignatureIntake)).all()
    assert left.request["email"] == "bob@example.org"
    assert left.attempts == INTAKE_MAX_ATTEMPTS and left.last_error == "RuntimeError: a bug"

    # An admin sees it on the abuse desk, with its error but not the signer's address
    login(make_campaigner("admin"))
    desk = client.get("/admin/abuse/").get_data(as_text=True)
    assert "RuntimeError: a bug" in desk and "bob@" not in desk

    monkeypatch.setattr(operations, "sign", sign)  # fixed: the admin puts it back in line
    retried = client.post(f"/admin/abuse/held/{left.id}/retry", data={"csrf_token": csrf_token(desk)})
    assert retried.status_code == 303
    worker_run()
    assert (count(SignatureIntake), count(Signature)) == (0, 3)
    assert "RuntimeError" not in client.get("/admin/abuse/").get_data(as_text=True)


def held_row(campaign, email: str = "bob@example.org", attempts: int = INTAKE_MAX_ATTEMPTS):
    row = SignatureIntake(campaign_id=campaign.id, canonical_email=email, locale="en",
                          attempts=attempts, last_error="RuntimeError: a bug",
                          request={"email": email})
    db.session.add(row)
    db.session.commit()
    return row.id


def test_only_an_admin_discards_a_held_submission_and_the_audit_log_keeps_why(
        client, campaign, login, make_campaigner):
    from campaigns.audit.models import AuditEvent

    held, waiting = held_row(campaign), held_row(campaign, "cem@example.org", attempts=1)
    login(make_campaigner("viewer"))
    token = csrf_token(client.get(f"/c/{campaign.slug}").get_data(as_text=True))
    assert client.post(f"/admin/abuse/held/{held}/discard", data={"csrf_token": token}).status_code == 403
    client.post("/logout", data={"csrf_token": token})

    login(make_campaigner("admin", email="desk@network.example"))
    desk = client.get("/admin/abuse/").get_data(as_text=True)
    assert "1 submission is on its way now" in desk  # the waiting one, not listed
    assert client.post(f"/admin/abuse/held/{held}/discard").status_code == 400  # no CSRF token
    token = csrf_token(desk)
    assert client.post(f"/admin/abuse/held/{waiting}/discard", data={"csrf_token": token}).status_code == 404
    assert client.post(f"/admin/abuse/held/{held}/discard", data={"csrf_token": token}).status_code == 303
    fresh()
    assert db.session.scalars(select(SignatureIntake.id)).all() == [waiting]
    event = db.session.scalars(select(AuditEvent).filter_by(action="signature_intake.discarded")).one()
    assert event.details["last_error"] == "RuntimeError: a bug" and event.subject_id == held


def test_the_signature_and_its_consent_are_dated_by_the_submission(client, campaign, worker_down):
    assert sign_by_api(client, campaign, consent_updates=True).status_code == 202
    submitted_at = db.session.scalar(select(SignatureIntake.created_at))
    worker_down()
    assert db.session.scalar(select(Signature.created_at)) == submitted_at
    assert db.session.scalar(select(Consent.created_at)) == submitted_at


def test_requests_wake_the_worker_at_most_once_per_interval(app, client, campaign, monkeypatch):
    nudges = []
    monkeypatch.setattr(operations, "enqueue", lambda task: nudges.append(task.name))
    monkeypatch.setattr(operations, "_last_nudge", float("-inf"))
    monkeypatch.setitem(app.config, "SIGNATURE_INTAKE_NUDGE_SECONDS", 60.0)
    for i in range(3):
        assert sign_by_api(client, campaign, email=f"n{i}@example.org").status_code == 202
    assert sign_by_api(client, campaign, email="bad").status_code == 422
    assert nudges == ["campaigns.signatures.tasks.process_signature_intake"]


def test_beat_signs_the_intake_every_second(app):
    entries = app.extensions["celery"].conf.beat_schedule.values()
    assert {"task": "campaigns.signatures.tasks.process_signature_intake", "schedule": 1.0} in entries


def test_an_invalidation_started_during_a_backlog_covers_what_still_waits_in_the_intake(
        client, campaign, worker_down):
    """A flood outruns the worker; the admin strikes it out before the intake has caught up."""
    from campaigns.abuse import operations as abuse
    from campaigns.abuse.models import InvalidationJob, JobState

    for n in range(3):
        assert sign_by_api(client, campaign, email=f"bot{n}@flood.example").status_code == 202
    assert sign_by_api(client, campaign, email="ada@example.org").status_code == 202
    job = InvalidationJob(reason="flood", email_domain="flood.example")  # run by hand below
    db.session.add(job)
    db.session.commit()

    assert abuse.run_batch(job) is abuse.Batch.WAITING  # nothing signed yet: not done
    db.session.commit()
    worker_down()  # the intake catches up
    job = db.session.get(InvalidationJob, job.id)
    while (batch := abuse.run_batch(job)) is abuse.Batch.MORE:
        db.session.commit()
    db.session.commit()
    assert batch is abuse.Batch.DONE and job.state == JobState.DONE and job.matched == 3
    fresh()
    states = dict(db.session.execute(select(Supporter.email, Signature.state).join(Signature.supporter)).all())
    assert states == {"bot0@flood.example": SignatureState.INVALIDATED,
                      "bot1@flood.example": SignatureState.INVALIDATED,
                      "bot2@flood.example": SignatureState.INVALIDATED,
                      "ada@example.org": SignatureState.PENDING}
