"""When parts fail: nothing a supporter submitted is lost, and nothing is sent twice."""
from __future__ import annotations

import asyncio
import threading
from collections import Counter

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import func, select

from campaigns.core import db as core_db
from campaigns.core.db import db
from campaigns.core.mail import EmailState, OutgoingEmail
from campaigns.devmail.capture import MaildirHandler
from campaigns.signatures.models import Signature
from tests.conftest import fresh
from tests.core.test_outbox import queue
from tests.helpers import Mailbox, free_port, keep_the_suite_worker_off_the_intake, wait_until

pytestmark = pytest.mark.timeout(600)
FAST_SWEEP = {"OUTBOX_SWEEP_SECONDS": "1", "OUTBOX_SWEEP_GRACE": "1", "MAIL_LEASE_SECONDS": "5"}


def person(i: int, prefix: str) -> dict:
    return {"first_name": "Ana", "last_name": "Lima", "email": f"{prefix}{i}@example.org",
            "country": "BR"}


def sign_via_api(client, slug, people) -> list[int]:
    return [client.post(f"/api/v1/campaigns/{slug}/signatures", json=p).status_code
            for p in people]


def received(sink: Mailbox, prefix: str) -> Counter:
    return Counter(m.to for m in sink.messages() if m.to.startswith(prefix))


@pytest.fixture
def only_worker_processes_sign(monkeypatch):
    """The suite's own worker (a thread here, on the suite's broker) signs nothing: the
    intake is left to the worker processes a test starts, whose mail goes to its sink."""
    keep_the_suite_worker_off_the_intake(monkeypatch)


@pytest.mark.usefixtures("only_worker_processes_sign")
def test_redis_killed_and_restarted_while_signatures_arrive(
        other_app, own_redis, worker_process, campaign, tmp_path):
    sink = Mailbox(tmp_path / "mail", free_port())
    controller = Controller(MaildirHandler(sink.directory), hostname="127.0.0.1", port=sink.port)
    controller.start()
    try:
        web = other_app(CELERY_BROKER_URL=own_redis.url)
        client = web.test_client()
        worker = worker_process(own_redis.url, MAIL_PORT=str(sink.port), **FAST_SWEEP)

        before = [person(i, "before") for i in range(5)]
        assert sign_via_api(client, campaign.slug, before) == [202] * 5

        own_redis.kill()  # the broker is gone
        during = [person(i, "during") for i in range(10)]
        assert sign_via_api(client, campaign.slug, during) == [202] * 10  # still accepted
        assert client.get("/healthz").status_code == 503

        own_redis.start()  # back, empty: whatever it held is lost
        after = [person(i, "after") for i in range(5)]
        assert sign_via_api(client, campaign.slug, after) == [202] * 5

        def all_delivered() -> bool:
            worker.restart_if_exited()
            return sum(len(received(sink, p)) for p in ("before", "during", "after")) == 20

        wait_until(all_delivered, timeout=240, message="every confirmation email")
        for prefix in ("before", "during", "after"):
            assert set(received(sink, prefix).values()) == {1}, received(sink, prefix)
        fresh()
        assert db.session.scalar(select(func.count()).select_from(Signature)) == 20
    finally:
        controller.stop()


class SlowToAccept(MaildirHandler):
    """Takes a moment before accepting each recipient; much longer while ``stalling``.

    An email is sent at least once: one the server stored whose worker was killed before
    recording it as sent goes out again, with the same Message-ID (no SMTP client can
    tell whether the server kept a message it never acknowledged). So the test kills the
    worker while the server stalls on a recipient, once every email the server took is
    recorded as sent: the kill this test is about, mid-batch, with an email in flight.
    """

    stalling = False

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        await asyncio.sleep(3.0 if self.stalling else 0.15)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        # a message whose recipient was accepted just before the stall began is not taken
        # either: once ``stalling`` is set, nothing more is stored, so "every email the
        # server took is recorded" stays true until the kill
        if self.stalling:
            return "451 try again later"
        return await super().handle_DATA(server, session, envelope)


def recorded_as_sent() -> int:
    fresh()
    return db.session.scalar(select(func.count()).select_from(OutgoingEmail)
                             .where(OutgoingEmail.state == EmailState.SENT))


@pytest.mark.usefixtures("only_worker_processes_sign")
def test_a_worker_killed_mid_batch_finishes_after_restart_and_sends_each_email_once(
        app, other_app, worker_process, campaign, tmp_path):
    broker = f"sqla+sqlite:///{tmp_path / 'kill-broker.sqlite'}"
    sink = Mailbox(tmp_path / "slow-mail", free_port())
    handler = SlowToAccept(sink.directory)
    controller = Controller(handler, hostname="127.0.0.1", port=sink.port)
    controller.start()
    try:
        web = other_app(CELERY_BROKER_URL=broker)
        client = web.test_client()
        people = [person(i, "batch") for i in range(40)]
        assert sign_via_api(client, campaign.slug, people) == [202] * 40

        worker = worker_process(broker, MAIL_PORT=str(sink.port), **FAST_SWEEP)
        wait_until(lambda: len(received(sink, "batch")) >= 8, timeout=180, message="a few emails")
        handler.stalling = True
        wait_until(lambda: recorded_as_sent() >= sum(received(sink, "batch").values()), timeout=60,
                   message="the emails the server took recorded as sent")
        worker.kill_hard()
        handler.stalling = False
        sent_before_kill = len(received(sink, "batch"))
        assert sent_before_kill < 40

        worker_process(broker, MAIL_PORT=str(sink.port), **FAST_SWEEP)
        wait_until(lambda: len(received(sink, "batch")) == 40, timeout=240,
                   message="all 40 emails after the restart")
        counts = received(sink, "batch")
        assert set(counts.values()) == {1}, [k for k, v in counts.items() if v > 1]
        fresh()
        states = Counter(db.session.scalars(select(OutgoingEmail.state)))
        assert states == {EmailState.SENT: 40}
    finally:
        controller.stop()


def test_postgresql_restarted_requests_fail_cleanly_and_recover(other_app, own_postgres, monkeypatch):
    from flask_migrate import upgrade

    from campaigns.petitions.models import Campaign, CampaignStatus

    web = other_app(SQLALCHEMY_DATABASE_URI=own_postgres.url,
                    SQLALCHEMY_ENGINE_OPTIONS={"connect_args": {"connect_timeout": 3}})
    web.config["PROPAGATE_EXCEPTIONS"] = False
    with web.app_context():
        upgrade(revision="heads")
        db.session.add(Campaign(slug="pg", title="Pay the workers", summary="S", story="",
                                status=CampaignStatus.LIVE))
        db.session.commit()
    client = web.test_client()
    assert client.get("/c/pg").status_code == 200

    own_postgres.crash()
    import time

    started = time.monotonic()
    page = client.get("/c/pg")
    api = client.get("/api/v1/campaigns/pg")
    signing = client.post("/api/v1/campaigns/pg/signatures", json=person(1, "pg"))
    health = client.get("/healthz")
    assert time.monotonic() - started < 20  # no hang
    assert page.status_code == 503 and "briefly unavailable" in page.get_data(as_text=True)
    assert "psycopg" not in page.get_data(as_text=True)
    assert api.status_code == 503 and api.is_json
    assert signing.status_code == 503 and signing.is_json
    assert health.status_code == 503 and health.get_json()["failing"] == ["database"]

    own_postgres.start()  # the same app, not restarted
    assert wait_until(lambda: client.get("/c/pg").status_code == 200, timeout=30,
                      message="the campaign page to come back")
    assert client.post("/api/v1/campaigns/pg/signatures", json=person(2, "pg")).status_code == 202

    # Restarted while nobody was asking: the pool's idle connections are dead, and the
    # next reader must not be the one who finds out (a connection idle for longer than
    # PING_AFTER_IDLE_SECONDS is pinged first; shortened here, restarting takes less than 1 s)
    monkeypatch.setattr(core_db, "PING_AFTER_IDLE_SECONDS", 0.05)
    own_postgres.crash()
    own_postgres.start()
    assert client.get("/c/pg").status_code == 200
    assert client.post("/api/v1/campaigns/pg/signatures", json=person(3, "pg")).status_code == 202


@pytest.mark.usefixtures("only_worker_processes_sign")
def test_a_worker_killed_mid_intake_batch_leaves_no_duplicate_and_no_loss(
        other_app, worker_process, campaign, tmp_path):
    """A batch's signatures and the deletion of its intake rows commit together."""
    from campaigns.signatures.models import SignatureIntake

    batch, total = 100, 300
    broker = f"sqla+sqlite:///{tmp_path / 'intake-broker.sqlite'}"
    client = other_app(CELERY_BROKER_URL=broker).test_client()
    people = [person(i, "intake") for i in range(total)]
    assert sign_via_api(client, campaign.slug, people) == [202] * total

    def counts() -> tuple[int, int]:
        fresh()
        return (db.session.scalar(select(func.count()).select_from(SignatureIntake)),
                db.session.scalar(select(func.count()).select_from(Signature)))

    # mail goes nowhere (a closed port): the outbox rows are what this test counts
    settings = dict(SIGNATURE_INTAKE_BATCH=str(batch), MAIL_PORT=str(free_port()))
    worker = worker_process(broker, **settings)
    wait_until(lambda: counts()[0] < total, timeout=120, message="a first batch signed")
    worker.kill_hard()  # the next batch is half-way through its transaction
    waiting, signed = counts()
    assert waiting + signed == total and 0 < waiting and signed % batch == 0, (waiting, signed)

    worker_process(broker, **settings)  # beat finds what is left
    wait_until(lambda: counts() == (0, total), timeout=180, message="every submission signed")
    per_person = Counter(db.session.scalars(select(OutgoingEmail.to_address)))
    assert len(per_person) == total and set(per_person.values()) == {1}


def test_a_worker_started_while_the_broker_is_down_comes_up_and_delivers_once_it_is_back(
        other_app, own_redis, worker_process, tmp_path):
    """Each worker process connects to the broker when it starts (so that a bulk send's
    first task does not pay for it); with the broker away that is only logged, the worker
    waits for the broker as usual, then delivers."""
    sink = Mailbox(tmp_path / "late-broker-mail", free_port())
    controller = Controller(MaildirHandler(sink.directory), hostname="127.0.0.1", port=sink.port)
    controller.start()
    own_redis.kill()
    log, done = tmp_path / "worker-0.log", threading.Event()  # the first worker's log

    def broker_back_once_the_processes_found_it_away() -> None:
        try:
            wait_until(lambda: log.exists() and "no connection to the broker yet" in log.read_text(),
                       timeout=120, message="the worker's processes to find the broker away")
        except AssertionError:  # back anyway: the test then fails on the log, not on a hang
            pass
        own_redis.start()
        done.wait()  # redis-server dies with the thread that started it (PR_SET_PDEATHSIG)

    back = threading.Thread(target=broker_back_once_the_processes_found_it_away)
    back.start()
    try:
        worker = worker_process(own_redis.url, MAIL_PORT=str(sink.port))
        assert worker.log == log and "no connection to the broker yet" in log.read_text()
        web = other_app(CELERY_BROKER_URL=own_redis.url)
        with web.app_context():
            queue("late-broker@example.org")
        [message] = sink.wait_for("late-broker@example.org", timeout=60)
        assert message.subject
    finally:
        done.set()
        back.join()
        controller.stop()
