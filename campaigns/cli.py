"""flask commands: demo content, the local mail capture, maintenance."""
from __future__ import annotations

import signal
import threading

import click
from flask import Flask, current_app
from flask.cli import with_appcontext
from sqlalchemy import func, select

from campaigns.core.db import db


def register_commands(app: Flask) -> None:
    app.cli.add_command(seed_demo)
    app.cli.add_command(devmail)
    app.cli.add_command(counts)


@click.command("seed-demo")
@click.option("--if-empty", is_flag=True, help="Do nothing when the database has campaigns.")
@with_appcontext
def seed_demo(if_empty: bool) -> None:
    """Fill the database with fictional demo targets, campaigns and signatures."""
    from campaigns.demo import seed
    from campaigns.petitions.models import Campaign

    if if_empty and db.session.scalar(select(func.count()).select_from(Campaign)):
        click.echo("Demo content: the database already has campaigns, leaving it as it is.")
        return
    summary = seed()
    db.session.commit()
    click.echo(f"Demo content: {summary}.")


@click.command("devmail")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=None, help="Defaults to MAIL_PORT.")
@with_appcontext
def devmail(host: str, port: int | None) -> None:
    """Run the local SMTP capture; read what it caught at /dev/mail."""
    from campaigns.devmail.capture import start_capture

    port = port or current_app.config["MAIL_PORT"]
    directory = current_app.config["MAIL_CAPTURE_DIR"]
    controller = start_capture(directory, host=host, port=port)
    click.echo(f"Capturing mail on smtp://{host}:{port} into {directory}")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        controller.stop()


@click.group("counts")
def counts() -> None:
    """Signature counters."""


@counts.command("flush")
@with_appcontext
def counts_flush() -> None:
    """Fold pending count changes into the campaign counts now."""
    from campaigns.signatures.tasks import flush_signature_counts

    click.echo(f"{flush_signature_counts()} changes folded in.")


@counts.command("reconcile")
@with_appcontext
def counts_reconcile() -> None:
    """Recount every campaign from its signatures."""
    from campaigns.signatures.tasks import reconcile_signature_counts

    click.echo(f"{reconcile_signature_counts()} campaigns corrected.")
