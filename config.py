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
| MAIL_LEASE_SECONDS        | 300 (a worker's hold on an email it sends)        |
| MAIL_KEEP_ALIVE           | true (a worker keeps its SMTP connection open)    |
| OUTBOX_SWEEP_SECONDS      | 60 (how often unsent mail is enqueued again)      |
| OUTBOX_SWEEP_GRACE        | 30 (seconds before a row counts as left behind)   |
| MAIL_CAPTURE_DIR          | instance/mail                                     |
| REPLY_DOMAIN              | threadline.localhost (replies: reply+<token>@...) |
| BASE_URL                  | http://127.0.0.1:$PORT                            |
| PORT                      | 5000                                              |
| INSTANCE_PATH             | instance/                                         |
| SITE_NAME                 | Threadline                                        |
| CONFIRMATION_MAX_AGE      | 1209600 (14 days)                                 |
| SIGNATURE_EMAIL_INTERVAL  | 600                                               |
| COUNTER_FLUSH_SECONDS     | 5                                                 |
| SIGNATURE_INTAKE_SECONDS  | 1 (beat: how often submitted signatures are signed) |
| SIGNATURE_INTAKE_NUDGE_SECONDS | 0.5 (per web process: at most one wake-up then) |
| SIGNATURE_INTAKE_BATCH    | 50 (signatures recorded per worker transaction)   |
| CAMPAIGN_PAGE_CACHE_SECONDS | 5 (anonymous campaign pages reused per process) |
| CAMPAIGN_SIGN_SNAPSHOT_SECONDS | 1 (a campaign's status as signing reads it, per process) |
| EMAIL_CHECK_DELIVERABILITY| false (true: look up the domain's mail servers)   |
| RATELIMIT_ENABLED         | true                                              |
| RATELIMIT_STORAGE_URI     | memory:// (use redis://... in production)         |
| SIGN_RATE_LIMIT           | 20/minute;200/hour (more: stored as fraudulent)   |
| SIGN_DOMAIN_RATE_LIMIT    | 300/minute per email domain                       |
| SIGN_CAMPAIGN_RATE_LIMIT  | 20000/minute per campaign                         |
| SIGN_HARD_RATE_LIMIT      | 120/minute per address (more: 429)                |
| SIGN_MIN_SECONDS          | 2 (faster form submissions are bots)              |
| BLOCKED_NETWORKS          | unset; e.g. 203.0.113.0/24,2001:db8::/32          |
| BLOCKED_EMAIL_DOMAINS     | unset; e.g. *.spam.example,mailinator.com         |
| BLOCKED_COUNTRIES         | unset; ISO codes                                  |
| PROOF_OF_WORK_DIFFICULTY  | 100000 (when a campaign switches the puzzle on)   |
| TRENDING_THRESHOLD        | 100 signatures an hour from one address or domain |
| LOGIN_RATE_LIMIT          | 30/minute;200/hour (per client address)           |
| LOGIN_ACCOUNT_RATE_LIMIT  | 10/minute;50/hour (per account)                   |
| PASSWORD_RESET_MAX_AGE    | 3600                                              |
| TRUSTED_PROXY_HOPS        | 0 (set to the number of proxies in front)         |
| SESSION_COOKIE_SECURE     | true unless BASE_URL is http://                   |
| MAX_CONTENT_LENGTH        | 2097152                                           |
| MAX_IMAGE_BYTES           | 1572864 (1.5 MiB)                                 |
| UPLOAD_DIR                | instance/uploads                                  |
| LANGUAGES                 | en                                                |
| STRIPE_SECRET_KEY         | unset: payments go to a local Stripe emulator     |
|                           | (localstripe, started by `make run`)              |
| STRIPE_PUBLISHABLE_KEY    | pk_test_localstripe (set it with the secret key)  |
| STRIPE_WEBHOOK_SECRET     | derived from SECRET_KEY while using localstripe   |
| STRIPE_API_BASE           | https://api.stripe.com, or http://127.0.0.1:8420  |
|                           | (localstripe) while STRIPE_SECRET_KEY is unset    |
| STRIPE_JS_URL             | https://js.stripe.com/v3/, or localstripe's       |
|                           | $STRIPE_API_BASE/js.stripe.com/v3/                |
| DONATION_CURRENCY         | eur                                               |
| DONATION_PRESETS          | 500,1000,2500,5000 (cents; campaigns may set own) |
| DONATION_MIN_AMOUNT       | 100 (cents)                                       |
| DONATION_MAX_AMOUNT       | 1000000 (cents)                                   |
| DONATE_RATE_LIMIT         | 10/minute;60/hour                                 |
| SUPPORTER_RETENTION_DAYS  | 365 (after a campaign closed or was won)          |
| OUTBOX_RETENTION_DAYS     | 30 (then a sent email's copy is emptied)          |
| LIST_UNSUBSCRIBE_MAILTO   | unset (optional mailto: in List-Unsubscribe)      |
| LETTER_RELEASE_SECONDS    | 60 (how often paced letters are released)         |
| LETTER_SKIP_CONFIRMATION_DAYS | 0 (off; N: a supporter who confirmed a letter |
|                           | in the last N days is not asked again)            |
| LETTER_SOFT_BOUNCE_LIMIT  | 3 (temporary bounces before an address is held)   |
| LETTER_DIGEST_SAMPLE      | 5 (letters quoted in a contact's daily digest)    |
| LETTER_RATE_LIMIT         | 20/minute;200/hour (more: stored as fraudulent)   |
| BOUNCE_WEBHOOK_SECRET     | unset: the bounce endpoint answers 404            |
| REPLY_DEADLINE_DAYS       | 14 (a target's time to answer, from the launch)   |
| REPLY_CALENDAR            | calendar (or working: weekends and holidays skip) |
| REPLY_HOLIDAYS            | unset; ISO dates, e.g. 2026-12-25,2026-12-26      |
| REPLY_REMINDER_DAYS       | 3 (the reminder goes out this many days before)   |
| REPLY_CHECK_SECONDS       | 900 (how often deadlines and reminders are run)   |
| REPLY_NOTIFY_ADDRESS      | unset (campaigners of the campaign are told)      |
| INBOUND_MAIL_SECRET       | unset: the inbound mail endpoint is switched off  |
| INBOUND_MAX_MESSAGE_BYTES | 10485760 (larger: kept raw in the review queue)   |
| INBOUND_MAX_REQUEST_BYTES | 26214400 (larger requests are refused, 413)       |
| REPLY_ATTACHMENT_MAX_BYTES| 5242880 (larger attachments stay in the raw mail) |
| INBOUND_DIR               | instance/inbound (raw mail and attachments)       |
| IMAP_HOST                 | unset: no mailbox is polled                       |
| IMAP_PORT, IMAP_SSL       | 993, true                                         |
| IMAP_USER, IMAP_PASSWORD  | unset                                             |
| IMAP_FOLDER               | INBOX                                             |
| IMAP_POLL_SECONDS         | 60                                                |
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
    #: no pool_pre_ping: connections idle for a second are pinged (campaigns/core/db.py)
    SQLALCHEMY_ENGINE_OPTIONS: dict = {}

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
    #: how long a worker holds an email it is sending before another worker may try it
    MAIL_LEASE_SECONDS = env_int("MAIL_LEASE_SECONDS", 300)
    #: a worker keeps one SMTP connection open between emails (NOOP-checked, reopened)
    MAIL_KEEP_ALIVE = env_bool("MAIL_KEEP_ALIVE", True)
    #: how often the outbox sweep enqueues again what is due, and how old a row must be
    OUTBOX_SWEEP_SECONDS = float(os.environ.get("OUTBOX_SWEEP_SECONDS", "60"))
    OUTBOX_SWEEP_GRACE = float(os.environ.get("OUTBOX_SWEEP_GRACE", "30"))
    #: where the local capture keeps what it receives (a Maildir)
    MAIL_CAPTURE_DIR = os.environ.get("MAIL_CAPTURE_DIR", str(INSTANCE_DIR / "mail"))
    #: the domain of the campaign x target reply addresses, reply+<token>@REPLY_DOMAIN;
    #: its mail must reach the inbound endpoint or the polled mailbox
    REPLY_DOMAIN = os.environ.get("REPLY_DOMAIN", "threadline.localhost")

    # Replies (campaigns/replies)
    #: a target's time to answer, counted from the campaign's launch in REPLY_CALENDAR days
    REPLY_DEADLINE_DAYS = env_int("REPLY_DEADLINE_DAYS", 14)
    #: "calendar" or "working" (Monday to Friday, minus REPLY_HOLIDAYS)
    REPLY_CALENDAR = os.environ.get("REPLY_CALENDAR", "calendar")
    REPLY_HOLIDAYS = os.environ.get("REPLY_HOLIDAYS", "")
    REPLY_REMINDER_DAYS = env_int("REPLY_REMINDER_DAYS", 3)
    REPLY_CHECK_SECONDS = float(os.environ.get("REPLY_CHECK_SECONDS", "900"))
    #: who hears about overdue threads besides the campaign's campaigners
    REPLY_NOTIFY_ADDRESS = os.environ.get("REPLY_NOTIFY_ADDRESS") or None
    #: the shared secret of POST /inbound/mail; unset switches the endpoint off
    INBOUND_MAIL_SECRET = os.environ.get("INBOUND_MAIL_SECRET") or None
    INBOUND_MAX_MESSAGE_BYTES = env_int("INBOUND_MAX_MESSAGE_BYTES", 10 * 1024 * 1024)
    INBOUND_MAX_REQUEST_BYTES = env_int("INBOUND_MAX_REQUEST_BYTES", 25 * 1024 * 1024)
    REPLY_ATTACHMENT_MAX_BYTES = env_int("REPLY_ATTACHMENT_MAX_BYTES", 5 * 1024 * 1024)
    #: raw inbound mail and reply attachments (outside static/: never served directly)
    INBOUND_DIR = os.environ.get("INBOUND_DIR") or None
    IMAP_HOST = os.environ.get("IMAP_HOST") or None
    IMAP_PORT = env_int("IMAP_PORT", 993)
    IMAP_SSL = env_bool("IMAP_SSL", True)
    IMAP_USER = os.environ.get("IMAP_USER") or None
    IMAP_PASSWORD = os.environ.get("IMAP_PASSWORD") or None
    IMAP_FOLDER = os.environ.get("IMAP_FOLDER", "INBOX")
    IMAP_POLL_SECONDS = float(os.environ.get("IMAP_POLL_SECONDS", "60"))

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
    #: how often beat has the worker sign what waits in the signature intake
    SIGNATURE_INTAKE_SECONDS = float(os.environ.get("SIGNATURE_INTAKE_SECONDS", "1"))
    #: a web process wakes the worker after a signature at most once in this many seconds
    SIGNATURE_INTAKE_NUDGE_SECONDS = float(os.environ.get("SIGNATURE_INTAKE_NUDGE_SECONDS", "0.5"))
    #: submitted signatures recorded per worker transaction (on SQLite it holds the write lock)
    SIGNATURE_INTAKE_BATCH = env_int("SIGNATURE_INTAKE_BATCH", 50)
    #: how long a campaign page drawn for anonymous readers is reused (0: never)
    CAMPAIGN_PAGE_CACHE_SECONDS = float(os.environ.get("CAMPAIGN_PAGE_CACHE_SECONDS", "5"))
    #: how long a process reuses what signing reads of a campaign (its status, deadline and
    #: proof-of-work switch; 0: read it for every signature). A campaign closed in another
    #: process takes signatures for at most this long (campaigns/petitions/operations.py)
    CAMPAIGN_SIGN_SNAPSHOT_SECONDS = float(os.environ.get("CAMPAIGN_SIGN_SNAPSHOT_SECONDS", "1"))

    # Supporters' data
    #: days after a campaign closed (or was won) before its signers are anonymised
    SUPPORTER_RETENTION_DAYS = env_int("SUPPORTER_RETENTION_DAYS", 365)
    #: days after which the outbox's copy of a sent (or finally failed) email is emptied
    OUTBOX_RETENTION_DAYS = env_int("OUTBOX_RETENTION_DAYS", 30)
    #: an address that unsubscribes whoever writes to it; offered next to the one-click link
    LIST_UNSUBSCRIBE_MAILTO = os.environ.get("LIST_UNSUBSCRIBE_MAILTO") or None

    # Letters to targets (campaigns/actions)
    #: how often the beat task releases the letters each contact's pacing allows
    LETTER_RELEASE_SECONDS = float(os.environ.get("LETTER_RELEASE_SECONDS", "60"))
    #: 0: every letter waits for its emailed link; N: a supporter who confirmed a letter in
    #: the last N days is not asked again
    LETTER_SKIP_CONFIRMATION_DAYS = env_int("LETTER_SKIP_CONFIRMATION_DAYS", 0)
    #: temporary bounces of one contact address before its letters are held
    LETTER_SOFT_BOUNCE_LIMIT = env_int("LETTER_SOFT_BOUNCE_LIMIT", 3)
    #: letters quoted in a contact's daily digest
    LETTER_DIGEST_SAMPLE = env_int("LETTER_DIGEST_SAMPLE", 5)
    #: beyond this, letters from one client address are stored as fraudulent
    LETTER_RATE_LIMIT = os.environ.get("LETTER_RATE_LIMIT", "20/minute;200/hour")
    #: the shared secret of the bounce endpoint (X-Bounce-Secret); unset: endpoint off
    BOUNCE_WEBHOOK_SECRET = os.environ.get("BOUNCE_WEBHOOK_SECRET") or None

    # Abuse
    RATELIMIT_ENABLED = env_bool("RATELIMIT_ENABLED", True)
    RATELIMIT_STORAGE_URI = os.environ.get("RATELIMIT_STORAGE_URI", "memory://")
    #: say nothing about limits: attackers should learn as little as possible
    RATELIMIT_HEADERS_ENABLED = False
    #: beyond these, signatures are accepted silently and stored as fraudulent
    SIGN_RATE_LIMIT = os.environ.get("SIGN_RATE_LIMIT", "20/minute;200/hour")
    SIGN_DOMAIN_RATE_LIMIT = os.environ.get("SIGN_DOMAIN_RATE_LIMIT", "300/minute")
    SIGN_CAMPAIGN_RATE_LIMIT = os.environ.get("SIGN_CAMPAIGN_RATE_LIMIT", "20000/minute")
    #: beyond this, one client address gets 429 Too Many Requests
    SIGN_HARD_RATE_LIMIT = os.environ.get("SIGN_HARD_RATE_LIMIT", "120/minute")
    #: a person takes longer than this to fill in the sign form
    SIGN_MIN_SECONDS = float(os.environ.get("SIGN_MIN_SECONDS", "2"))
    #: block lists, comma-separated: networks (CIDR), email domains (wildcards), countries
    BLOCKED_NETWORKS = os.environ.get("BLOCKED_NETWORKS", "")
    BLOCKED_EMAIL_DOMAINS = os.environ.get("BLOCKED_EMAIL_DOMAINS", "")
    BLOCKED_COUNTRIES = os.environ.get("BLOCKED_COUNTRIES", "")
    #: the largest number the sign form's proof of work may need (about 1 s at 100,000)
    PROOF_OF_WORK_DIFFICULTY = env_int("PROOF_OF_WORK_DIFFICULTY", 100_000)
    #: the hourly report tells admins about an address or domain signing this often
    TRENDING_THRESHOLD = env_int("TRENDING_THRESHOLD", 100)
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

    # Donations (Stripe). With no STRIPE_SECRET_KEY, `make run` starts localstripe, a
    # local Stripe emulator, and points these settings at it.
    STRIPE_SECRET_KEY = os.environ.get("STRIPE_SECRET_KEY") or None
    #: True while payments go to the local emulator started by `flask embedded`
    STRIPE_EMULATED = STRIPE_SECRET_KEY is None
    STRIPE_PUBLISHABLE_KEY = os.environ.get("STRIPE_PUBLISHABLE_KEY", "pk_test_localstripe")
    #: unset: derived from SECRET_KEY (campaigns.donations.stripe_api.webhook_secret)
    STRIPE_WEBHOOK_SECRET = os.environ.get("STRIPE_WEBHOOK_SECRET") or None
    STRIPE_API_BASE = os.environ.get(
        "STRIPE_API_BASE", "http://127.0.0.1:8420" if STRIPE_EMULATED else "https://api.stripe.com"
    ).rstrip("/")
    #: the only third-party script, allowed on the donate page alone
    STRIPE_JS_URL = os.environ.get(
        "STRIPE_JS_URL",
        f"{STRIPE_API_BASE}/js.stripe.com/v3/" if STRIPE_EMULATED else "https://js.stripe.com/v3/",
    )
    #: ISO currency code of every gift on this deployment
    DONATION_CURRENCY = os.environ.get("DONATION_CURRENCY", "eur").lower()
    #: suggested amounts in cents, for campaigns that set none of their own
    DONATION_PRESETS = [int(a) for a in os.environ.get("DONATION_PRESETS", "500,1000,2500,5000").split(",")
                        if a.strip()]
    DONATION_MIN_AMOUNT = env_int("DONATION_MIN_AMOUNT", 100)
    DONATION_MAX_AMOUNT = env_int("DONATION_MAX_AMOUNT", 1_000_000)
    DONATE_RATE_LIMIT = os.environ.get("DONATE_RATE_LIMIT", "10/minute;60/hour")

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
    # bandit B105: only the tests use this class
    SECRET_KEY = "test-secret-key-not-for-production"  # nosec B105
    # Limits stay on (tests lower them where they test them); high enough for the rest.
    SIGN_RATE_LIMIT = SIGN_HARD_RATE_LIMIT = SIGN_DOMAIN_RATE_LIMIT = "10000/minute"
    SIGN_MIN_SECONDS = 0.0
    LETTER_RATE_LIMIT = "10000/minute"
    CAMPAIGN_PAGE_CACHE_SECONDS = 0.0  # tests reuse slugs; test_page_cache turns it on
    CAMPAIGN_SIGN_SNAPSHOT_SECONDS = 0.0  # likewise; test_sign_snapshot turns it on
    LOGIN_RATE_LIMIT = LOGIN_ACCOUNT_RATE_LIMIT = "10000/minute"
    SESSION_COOKIE_SECURE = False
    #: the tests send real SMTP to an aiosmtpd sink (Flask-Mail would suppress it)
    MAIL_SUPPRESS_SEND = False
    BROKER_POLLING_INTERVAL = 0.05
    #: the suite's worker runs no beat: every signature wakes it (the throttle has its own test)
    SIGNATURE_INTAKE_NUDGE_SECONDS = 0.0
