"""One Celery app built from the Flask app (the pattern from Flask's docs)."""
from __future__ import annotations

import logging
from typing import Callable

from celery import Celery, Task
from celery.signals import worker_process_init
from flask import Flask, current_app

log = logging.getLogger(__name__)

#: modules holding tasks; imported by the worker so that it knows every task
TASK_MODULES = [
    "campaigns.core.mail",
    "campaigns.signatures.tasks",
    "campaigns.donations.tasks",
    "campaigns.abuse.tasks",
    "campaigns.privacy.tasks",
    "campaigns.updates.tasks",
    "campaigns.paper.tasks",
    "campaigns.bundles.tasks",
    "campaigns.actions.tasks",
    "campaigns.replies.tasks",
]


#: run by each worker process at start, in one transaction rolled back (see ``warms_up``)
WARM_UPS: list[Callable[[], None]] = []


def warms_up(function: Callable[[], None]) -> Callable[[], None]:
    """Register a function that runs a hot task's statements against no rows (ids 0), so
    that SQLAlchemy compiles them when a worker process starts rather than in the process's
    first task: the first chunk of the first appeal released after a deploy took ~60 ms
    instead of ~15, the first claim of a delivery batch ~17 ms instead of ~4 (measured,
    PostgreSQL). It must change nothing: its transaction is rolled back anyway."""
    WARM_UPS.append(function)
    return function


def warm_up_statements() -> list[str]:
    """Run every registered warm-up, each in a transaction rolled back; returns the names of
    those that failed (logged: the process's first tasks are slower, nothing worse)."""
    from campaigns.core.db import db

    failed = []
    for warm_up in WARM_UPS:
        try:
            warm_up()
        except Exception:
            log.warning("worker process: warming up %s failed", warm_up.__qualname__, exc_info=True)
            failed.append(warm_up.__qualname__)
        finally:
            db.session.rollback()
    db.session.remove()
    return failed


def celery_init_app(app: Flask) -> Celery:
    class FlaskTask(Task):
        def __call__(self, *args: object, **kwargs: object) -> object:
            with app.app_context():
                return self.run(*args, **kwargs)

    celery_app = Celery(app.name, task_cls=FlaskTask)
    celery_app.config_from_object(app.config["CELERY"])
    broker_url = app.config["CELERY_BROKER_URL"]
    celery_app.conf.broker_url = broker_url
    if broker_url.startswith(("redis://", "rediss://")):
        celery_app.conf.broker_transport_options = {
            "visibility_timeout": app.config["BROKER_VISIBILITY_TIMEOUT"],
            "socket_connect_timeout": 3,
            "socket_timeout": 10,
        }
    elif broker_url.startswith("sqla+"):
        # kombu hands this transport's options to create_engine(), so the polling
        # interval is set on the transport itself.
        from kombu.transport import sqlalchemy as sqla_transport

        sqla_transport.Transport.polling_interval = app.config["BROKER_POLLING_INTERVAL"]
    celery_app.conf.imports = TASK_MODULES
    celery_app.conf.beat_schedule = beat_schedule(app)
    celery_app.set_default()

    @worker_process_init.connect(weak=False, dispatch_uid="threadline-fresh-connections")
    def fresh_connections_after_fork(**_: object) -> None:
        """A forked worker must not share the parent's database connections. What every
        process would otherwise do inside its first task is done now, once: configure the
        mappers (~0.3 s), open the two database connections a delivery batch holds (the
        session's and the one its records go through; ~10 ms each on PostgreSQL), compile
        the email templates, compile the statements of the hot tasks (``warms_up``) and
        connect to the broker for the tasks it enqueues (the release's first chunk took
        ~0.1 s instead of ~0.07 s), so that the first letters of a bulk send do not wait
        for them."""
        from sqlalchemy.orm import configure_mappers

        from campaigns.core.db import db

        with app.app_context():
            db.engine.dispose(close=False)
            configure_mappers()
            with db.engine.connect(), db.engine.connect():
                pass  # both go back to the pool, open
            warm_up_statements()
            for environment in app.extensions["email_environments"]:
                for name in environment.list_templates(extensions=["html"]):
                    environment.get_template(name)
            try:  # a connection to the broker in the producer pool, for the tasks it enqueues
                with celery_app.producer_or_acquire() as producer:
                    producer.connection.ensure_connection(max_retries=0, timeout=1)
            except Exception:  # the broker is away: the first enqueue connects (or the sweep)
                log.warning("worker process: no connection to the broker yet", exc_info=True)

    app.extensions["celery"] = celery_app
    return celery_app


def beat_schedule(app: Flask) -> dict:
    """Periodic work. Run by `celery beat` in production, `worker -B` in the embedded default."""
    return {
        "sign-submitted-signatures": {
            "task": "campaigns.signatures.tasks.process_signature_intake",
            "schedule": app.config["SIGNATURE_INTAKE_SECONDS"],
        },
        "fold-confirmed-signatures-into-counts": {
            "task": "campaigns.signatures.tasks.flush_signature_counts",
            "schedule": app.config["COUNTER_FLUSH_SECONDS"],
        },
        "reconcile-signature-counts": {
            "task": "campaigns.signatures.tasks.reconcile_signature_counts",
            "schedule": 3600.0,
        },
        "report-trending-signers": {
            "task": "campaigns.abuse.tasks.report_trending_signers",
            "schedule": 3600.0,
        },
        "anonymise-signers-past-retention": {
            "task": "campaigns.privacy.tasks.anonymise_expired_signers",
            "schedule": 86400.0,
        },
        "resume-stalled-update-fan-outs": {
            "task": "campaigns.updates.tasks.resume_stalled_fan_outs",
            "schedule": 300.0,
        },
        "reconcile-offline-counts": {
            "task": "campaigns.paper.tasks.reconcile_offline_counts",
            "schedule": 3600.0,
        },
        "build-delivery-bundles-left-behind": {
            "task": "campaigns.bundles.tasks.sweep_bundles",
            "schedule": 60.0,
        },
        "release-paced-letters": {
            "task": "campaigns.actions.tasks.release_due_letters",
            "schedule": app.config["LETTER_RELEASE_SECONDS"],
        },
        "send-outbox-mail-left-behind": {
            "task": "campaigns.core.mail.sweep_outbox",
            "schedule": app.config["OUTBOX_SWEEP_SECONDS"],
        },
        "reply-deadlines-reminders-and-overdue": {
            "task": "campaigns.replies.tasks.check_reply_deadlines",
            "schedule": app.config["REPLY_CHECK_SECONDS"],
        },
        "poll-the-reply-mailbox": {
            "task": "campaigns.replies.tasks.poll_reply_mailbox",
            "schedule": app.config["IMAP_POLL_SECONDS"],
        },
        "ask-stripe-about-pending-donations": {
            "task": "campaigns.donations.tasks.reconcile_pending_donations",
            "schedule": 600.0,
        },
    }


def enqueue(task: Task, *args: object, **kwargs: object) -> bool:
    """Queue a task; with the broker down, log and go on (a periodic sweep sends it later)."""
    try:
        # through this Flask app's own Celery app, whatever Celery's "current" app is
        current_app.extensions["celery"].tasks[task.name].apply_async(args=args, kwargs=kwargs)
    except Exception:  # the broker is unreachable: the database row is the source of truth
        log.warning("could not enqueue %s%r; the sweep will retry", task.name, args, exc_info=True)
        return False
    return True
