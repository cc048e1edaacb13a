"""Settings for Threadline.

Every setting is read from the environment and has an embedded default, so that
`make run` works with nothing configured (SQLite, a SQLite-backed Celery broker and
a local mail capture) and a production deployment is configured by environment
variables alone (PostgreSQL, Redis, a real SMTP server).

| variable                  | embedded default                                  |
|---------------------------|---------------------------------------------------|
| SECRET_KEY                | random, kept in instance/secret_key               |
| DATABASE_URL              | sqlite:///instance/threadline.sqlite              |
| CELERY_BROKER_URL         | sqla+sqlite:///instance/broker.sqlite             |
| BROKER_VISIBILITY_TIMEOUT | 3600 (Redis only)                                 |
| BROKER_POLLING_INTERVAL   | 0.5 (SQLite broker only)                          |
| MAIL_SERVER               | unset: mail goes to the local capture             |
| MAIL_PORT                 | 1025 (the capture) or 25                          |
| MAIL_USE_TLS, MAIL_USE_SSL| false                                             |
| MAIL_USERNAME, _PASSWORD  | unset                                             |
| MAIL_DEFAULT_SENDER       | Threadline <no-reply@threadline.localhost>        |
| MAIL_TIMEOUT              | 30 seconds                                        |
| MAIL_CAPTURE_DIR          | instance/mail                                     |
| BASE_URL                  | http://127.0.0.1:$PORT                            |
| PORT                      | 5000                                              |
| INSTANCE_PATH             | instance/                                         |
| SITE_NAME                 | Threadline                                        |
| CONFIRMATION_MAX_AGE      | 1209600 (14 days)                                 |
| SIGNATURE_EMAIL_INTERVAL  | 600                                               |
| COUNTER_FLUSH_SECONDS     | 5                                                 |
| EMAIL_CHECK_DELIVERABILITY| false (true: look up the domain's mail servers)   |
| RATELIMIT_ENABLED         | true                                              |
| RATELIMIT_STORAGE_URI     | memory:// (use redis://... in production)         |
| SIGN_RATE_LIMIT           | 20/minute;200/hour                                |
| LOGIN_RATE_LIMIT          | 30/minute;200/hour (per client address)           |
| LOGIN_ACCOUNT_RATE_LIMIT  | 10/minute;50/hour (per account)                   |
| PASSWORD_RESET_MAX_AGE    | 3600                                              |
| TRUSTED_PROXY_HOPS        | 0 (set to the number of proxies in front)         |
| SESSION_COOKIE_SECURE     | true unless BASE_URL is http://                   |
| MAX_CONTENT_LENGTH        | 2097152                                           |
| MAX_IMAGE_BYTES           | 1572864 (1.5 MiB)                                 |
| UPLOAD_DIR                | instance/uploads                                  |
| LANGUAGES                 | en                                                |
"""
from __future__ import annotations

import os
import secrets
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent
INSTANCE_DIR = Path(os.environ.get("INSTANCE_PATH", BASE_DIR / "instance"))


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value not in (None, "") else default


def database_url(url: str) -> str:
    """Accept the URLs hosting platforms hand out and pick the psycopg 3 driver."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://"):]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    return url


def persistent_secret_key(instance_dir: Path) -> str:
    """A random key kept under instance/, for the embedded default only.

    Production sets SECRET_KEY in the environment; this keeps a laptop demo's
    sessions and emailed links valid across restarts without a configured secret.
    """
    key_file = instance_dir / "secret_key"
    if not key_file.exists():
        instance_dir.mkdir(parents=True, exist_ok=True)
        draft = instance_dir / f".secret_key.{os.getpid()}"
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(48))
        try:
            os.link(draft, key_file)  # atomic: of processes starting together, one key wins
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    return key_file.read_text().strip()


class Config:
    """Embedded defaults, overridden by the environment."""

    PORT = env_int("PORT", 5000)
    INSTANCE_DIR = INSTANCE_DIR
    SECRET_KEY = os.environ.get("SECRET_KEY") or None  # filled by create_app when unset

    SQLALCHEMY_DATABASE_URI = database_url(
        os.environ.get("DATABASE_URL", f"sqlite:///{INSTANCE_DIR / 'threadline.sqlite'}")
    )
    SQLALCHEMY_ENGINE_OPTIONS: dict = {"pool_pre_ping": True}

    CELERY_BROKER_URL = os.environ.get(
        "CELERY_BROKER_URL", f"sqla+sqlite:///{INSTANCE_DIR / 'broker.sqlite'}"
    )

    # Mail: with no MAIL_SERVER, mail goes to the local capture (see campaigns/devmail).
    MAIL_CAPTURE = not os.environ.get("MAIL_SERVER")
    MAIL_SERVER = os.environ.get("MAIL_SERVER", "127.0.0.1")
    MAIL_PORT = env_int("MAIL_PORT", 1025 if MAIL_CAPTURE else 25)
    MAIL_USE_TLS = env_bool("MAIL_USE_TLS")
    MAIL_USE_SSL = env_bool("MAIL_USE_SSL")
    MAIL_USERNAME = os.environ.get("MAIL_USERNAME")
    MAIL_PASSWORD = os.environ.get("MAIL_PASSWORD")
    MAIL_DEFAULT_SENDER = os.environ.get(
        "MAIL_DEFAULT_SENDER", "Threadline <no-reply@threadline.localhost>"
    )
    MAIL_TIMEOUT = env_int("MAIL_TIMEOUT", 30)
    #: where the local capture keeps what it receives (a Maildir)
    MAIL_CAPTURE_DIR = os.environ.get("MAIL_CAPTURE_DIR", str(INSTANCE_DIR / "mail"))

    #: look up the domain's mail servers when validating addresses (off: no DNS in tests)
    EMAIL_CHECK_DELIVERABILITY = env_bool("EMAIL_CHECK_DELIVERABILITY")
    BASE_URL = os.environ.get("BASE_URL", f"http://127.0.0.1:{PORT}").rstrip("/")
    SITE_NAME = os.environ.get("SITE_NAME", "Threadline")

    # Signing
    #: how long an emailed confirmation link stays valid
    CONFIRMATION_MAX_AGE = env_int("CONFIRMATION_MAX_AGE", 14 * 24 * 3600)
    #: at most one email about the same signature in this many seconds
    SIGNATURE_EMAIL_INTERVAL = env_int("SIGNATURE_EMAIL_INTERVAL", 600)
    #: how often the background job folds confirmed signatures into the counts
    COUNTER_FLUSH_SECONDS = float(os.environ.get("COUNTER_FLUSH_SECONDS", "5"))

    # Abuse
    RATELIMIT_ENABLED = env_bool("RATELIMIT_ENABLED", True)
    RATELIMIT_STORAGE_URI = os.environ.get("RATELIMIT_STORAGE_URI", "memory://")
    #: say nothing about limits: attackers should learn as little as possible
    RATELIMIT_HEADERS_ENABLED = False
    SIGN_RATE_LIMIT = os.environ.get("SIGN_RATE_LIMIT", "20/minute;200/hour")
    TRUSTED_PROXY_HOPS = env_int("TRUSTED_PROXY_HOPS", 0)
    #: sign-in attempts per client address, and per account
    LOGIN_RATE_LIMIT = os.environ.get("LOGIN_RATE_LIMIT", "30/minute;200/hour")
    LOGIN_ACCOUNT_RATE_LIMIT = os.environ.get("LOGIN_ACCOUNT_RATE_LIMIT", "10/minute;50/hour")
    #: how long an emailed password-reset link stays valid
    PASSWORD_RESET_MAX_AGE = env_int("PASSWORD_RESET_MAX_AGE", 3600)

    # Cookies
    SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not BASE_URL.startswith("http://"))
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    WTF_CSRF_TIME_LIMIT = None  # tied to the session, which expires on its own
    MAX_CONTENT_LENGTH = env_int("MAX_CONTENT_LENGTH", 2 * 1024 * 1024)
    #: the largest campaign image accepted (below MAX_CONTENT_LENGTH, so the form can say so)
    MAX_IMAGE_BYTES = env_int("MAX_IMAGE_BYTES", 1536 * 1024)
    #: where uploaded campaign images are kept (a shared volume when several machines serve)
    UPLOAD_DIR = os.environ.get("UPLOAD_DIR") or None  # None: <instance>/uploads

    # Languages offered; the first is the default.
    LANGUAGES = [code.strip() for code in os.environ.get("LANGUAGES", "en").split(",") if code.strip()]
    BABEL_DEFAULT_LOCALE = LANGUAGES[0]
    BABEL_TRANSLATION_DIRECTORIES = str(BASE_DIR / "campaigns" / "translations")

    # Celery: nothing a supporter submitted may be lost (see ARCHITECTURE.md).
    CELERY = {
        "task_ignore_result": True,
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        "task_serializer": "json",
        "accept_content": ["json"],
        "broker_connection_retry_on_startup": True,
        "broker_connection_timeout": 3,
        # A request that enqueues must not hang when the broker is down: the outbox
        # sweep enqueues again later.
        "task_publish_retry_policy": {
            "max_retries": 1,
            "interval_start": 0,
            "interval_step": 0.2,
            "interval_max": 0.2,
        },
        "beat_schedule_filename": str(INSTANCE_DIR / "celerybeat-schedule"),
    }


    #: Redis only: longer than any task, since Redis re-delivers unacknowledged tasks after it
    BROKER_VISIBILITY_TIMEOUT = env_int("BROKER_VISIBILITY_TIMEOUT", 3600)
    #: SQLite-backed broker only: how often an idle worker looks for new tasks (seconds)
    BROKER_POLLING_INTERVAL = float(os.environ.get("BROKER_POLLING_INTERVAL", "0.5"))


class TestingConfig(Config):
    TESTING = True
    SECRET_KEY = "test-secret-key-not-for-production"
    # Limits stay on (tests lower them where they test them); high enough for the rest.
    SIGN_RATE_LIMIT = "10000/minute"
    LOGIN_RATE_LIMIT = LOGIN_ACCOUNT_RATE_LIMIT = "10000/minute"
    SESSION_COOKIE_SECURE = False
    #: the tests send real SMTP to an aiosmtpd sink (Flask-Mail would suppress it)
    MAIL_SUPPRESS_SEND = False
    BROKER_POLLING_INTERVAL = 0.05
