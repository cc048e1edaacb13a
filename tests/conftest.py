"""Fixtures shared by every test.

The suite runs on SQLite with a SQLite-backed Celery broker by default, and against
PostgreSQL and Redis when TEST_DATABASE_URL and TEST_REDIS_URL are set. Mail goes to a
real aiosmtpd server; tasks run in a real Celery worker (in a thread of this process).
"""
from __future__ import annotations

import os
import threading
import time
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select, text, update
from sqlalchemy.exc import DBAPIError

from campaigns import create_app
from campaigns.core.db import db, utcnow
from campaigns.core.extensions import limiter
from campaigns.devmail.capture import start_capture
from campaigns.petitions.models import Campaign, CampaignStatus, CampaignTarget
from campaigns.targets.models import Contact, Target, TargetKind
from config import TestingConfig, database_url
from tests.helpers import Mailbox, csrf_token, free_port, process_intake, wait_until

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL")
TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL")


@pytest.fixture(scope="session")
def mail_sink(tmp_path_factory):
    directory = tmp_path_factory.mktemp("mail")
    port = free_port()
    controller = start_capture(directory, port=port)
    yield Mailbox(directory, port)
    controller.stop()


def reset_database(url: str) -> None:
    """An empty database, so that the migrations build the whole schema."""
    if url.startswith("postgresql"):
        from sqlalchemy import create_engine

        engine = create_engine(url, isolation_level="AUTOCOMMIT")
        with engine.connect() as connection:
            connection.execute(text("DROP SCHEMA public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
        engine.dispose()


class RequestIsolatingClient(FlaskClient):
    """Each request gets its own app context (its own g and database session), as in
    production, even though the test itself holds an app context to read the database."""

    def open(self, *args, **kwargs):
        kwargs.setdefault("buffered", True)
        with self.application.app_context():
            return super().open(*args, **kwargs)


@pytest.fixture(scope="session")
def app(tmp_path_factory, mail_sink):
    root = tmp_path_factory.mktemp("threadline")
    db_url = database_url(TEST_DATABASE_URL or f"sqlite:///{root / 'test.sqlite'}")
    broker_url = TEST_REDIS_URL or f"sqla+sqlite:///{root / 'broker.sqlite'}"
    if TEST_REDIS_URL:
        import redis

        redis.Redis.from_url(TEST_REDIS_URL).flushdb()
    reset_database(db_url)
    app = create_app(
        TestingConfig,
        INSTANCE_DIR=root,
        SQLALCHEMY_DATABASE_URI=db_url,
        CELERY_BROKER_URL=broker_url,
        MAIL_SERVER="127.0.0.1",
        MAIL_PORT=mail_sink.port,
        MAIL_CAPTURE=True,
        MAIL_CAPTURE_DIR=str(mail_sink.directory),
        BASE_URL="http://threadline.test",
        RATELIMIT_STORAGE_URI=TEST_REDIS_URL or "memory://",
    )
    app.test_client_class = RequestIsolatingClient
    from flask_migrate import upgrade

    with app.app_context():
        upgrade()
    return app


@pytest.fixture(scope="session")
def celery_worker(app):
    """A real Celery worker consuming from the configured broker."""
    from celery.contrib.testing.worker import start_worker

    with start_worker(app.extensions["celery"], pool="solo", perform_ping_check=False,
                      shutdown_timeout=30, loglevel="WARNING"):
        yield


@pytest.fixture(autouse=True)
def app_context(app):
    """Each test runs in an app context of its own and leaves empty tables behind."""
    with app.app_context():
        yield
        db.session.remove()
    with app.app_context():
        # the suite's worker may still be finishing a task of this test: on PostgreSQL its
        # row locks can make this transaction the victim of a deadlock; then empty again
        def emptied() -> bool:
            try:
                for table in reversed(db.metadata.sorted_tables):
                    db.session.execute(table.delete())
                db.session.commit()
                return True
            except DBAPIError:
                db.session.rollback()
                return False

        wait_until(emptied, timeout=10, interval=0.2, message="the tables to be emptied")
        db.session.remove()
    if limiter.enabled:
        limiter.reset()


@pytest.fixture
def other_app(app, tmp_path):
    """Build a second, differently configured app (e.g. with a database that is down).

    Celery makes the newest app the current one; the suite's app is made current again
    so that tasks keep running against the suite's database.
    """
    def build(**overrides):
        settings = {"INSTANCE_DIR": tmp_path, "CELERY_BROKER_URL": app.config["CELERY_BROKER_URL"],
                    "SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"], **overrides}
        other = create_app(TestingConfig, **settings)
        celery = app.extensions["celery"]
        celery.set_current()
        celery.set_default()
        return other

    return build


@pytest.fixture
def client(app):
    return app.test_client()


def fresh() -> None:
    """Forget what this test's session has loaded, to read what requests committed."""
    db.session.rollback()
    db.session.expire_all()


@pytest.fixture
def make_target():
    def make(slug: str = "acme-sportswear", name: str = "Acme Sportswear",
             kind: TargetKind = TargetKind.BRAND) -> Target:
        target = Target(slug=slug, name=name, kind=kind, country="DE")
        target.contacts = [Contact(name="Chief", role="Chief Executive Officer",
                                   email=f"ceo@{slug}.example", email_public=False)]
        db.session.add(target)
        db.session.commit()
        return target

    return make


@pytest.fixture
def make_campaign(make_target):
    counter = iter(range(1, 10_000))

    def make(slug: str | None = None, status: CampaignStatus = CampaignStatus.LIVE,
             targets: list[Target] | None = None, **fields) -> Campaign:
        n = next(counter)
        slug = slug or f"campaign-{n}"
        if targets is None:
            targets = [make_target(slug=f"brand-{slug}", name=f"Brand of {slug}")]
        campaign = Campaign(
            slug=slug, title=fields.pop("title", f"Reinstate the union leaders ({n})"),
            summary=fields.pop("summary", "Fourteen union leaders were dismissed."),
            story=fields.pop("story", "The workers **asked** us to launch this appeal."),
            goal=fields.pop("goal", 100), status=status,
            launched_at=utcnow() - timedelta(days=1), **fields,
        )
        campaign.targets = [CampaignTarget(target=t, ask=f"Reinstate them, {t.name}.", position=i)
                            for i, t in enumerate(targets)]
        db.session.add(campaign)
        db.session.commit()
        return campaign

    return make


@pytest.fixture
def campaign(make_campaign):
    return make_campaign()


@pytest.fixture
def sign(client):
    """Sign a campaign through its page, as a browser would, then let the worker's intake
    task record it (tests/helpers.py: process_intake)."""

    def do_sign(campaign: Campaign, **fields):
        page = client.get(f"/c/{campaign.slug}")
        data = {"csrf_token": csrf_token(page.get_data(as_text=True)),
                "first_name": "Rosa", "last_name": "Luna", "email": "rosa@example.org",
                "country": "BD", **fields}
        data = {k: v for k, v in data.items() if v is not None}
        response = client.post(f"/c/{campaign.slug}/sign", data=data)
        process_intake()
        return response

    return do_sign


PASSWORD = "correct horse battery staple"


@pytest.fixture
def make_campaigner():
    """Create an account; admins get two-factor sign-in turned on unless told otherwise."""
    from campaigns.accounts.models import Campaigner, Organisation, Role

    def make(role: str = "campaigner", email: str | None = None, organisation: str | None = None,
             two_factor: bool | None = None) -> Campaigner:
        import pyotp

        from campaigns.accounts.operations import hasher

        role = Role(role)
        org = None
        if organisation:
            org = db.session.scalars(select(Organisation).filter_by(name=organisation)).first() \
                or Organisation(name=organisation)
        campaigner = Campaigner(email=email or f"{role.value}-{os.urandom(3).hex()}@network.example",
                                name=role.value.title(), role=role, organisation=org,
                                password_hash=hasher.hash(PASSWORD))
        if two_factor if two_factor is not None else role == Role.ADMIN:
            campaigner.totp_secret = pyotp.random_base32()
            campaigner.totp_enabled_at = utcnow()
        db.session.add(campaigner)
        db.session.commit()
        return campaigner

    return make


def totp_code(campaigner, offset_steps: int = 0) -> str:
    import time

    import pyotp

    return pyotp.TOTP(campaigner.totp_secret).at(int(time.time()) + 30 * offset_steps)


@pytest.fixture
def login(client):
    """Sign in through the real form (and the two-factor step when the account has it)."""

    def do_login(campaigner, password: str = PASSWORD, next_url: str | None = None):
        url = "/login" + (f"?next={next_url}" if next_url else "")
        page = client.get(url)
        response = client.post(url, data={"csrf_token": csrf_token(page.get_data(as_text=True)),
                                          "email": campaigner.email, "password": password})
        if response.status_code == 302 and response.headers["Location"].endswith("/login/code"):
            # the account may have signed in already during this 30 s step, and its code
            # would rightly be refused as replayed: the fixture forgets the step used (the
            # refusal itself is tested in tests/accounts)
            from campaigns.accounts.models import Campaigner

            db.session.execute(update(Campaigner).where(Campaigner.id == campaigner.id).values(totp_last_step=None))
            db.session.commit()
            page = client.get("/login/code")
            response = client.post("/login/code", data={
                "csrf_token": csrf_token(page.get_data(as_text=True)), "code": totp_code(campaigner)})
        return response

    return do_login


@pytest.fixture(scope="session")
def live_server(app):
    """The app served over real HTTP by a threaded server, for concurrency tests."""
    from werkzeug.serving import make_server

    port = free_port()
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}"
    server.shutdown()


@pytest.fixture
def smtp_port(app):
    """Point outgoing mail at another port for one test, then back at the shared sink."""
    state = app.extensions["mail"]
    original = state.port

    def use(port: int) -> None:
        state.port = port

    yield use
    state.port = original
