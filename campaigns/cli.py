"""flask commands: demo content, the local mail capture, maintenance."""
from __future__ import annotations

import os
import signal
# bandit B404: starts our own fixed commands
import subprocess  # nosec B404
import sys
import threading
import time
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import with_appcontext
from sqlalchemy import func, select

from campaigns.core.db import db


def register_commands(app: Flask) -> None:
    app.cli.add_command(seed_demo)
    app.cli.add_command(devmail)
    app.cli.add_command(counts)
    app.cli.add_command(embedded)
    app.cli.add_command(users)


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


def _die_with_parent() -> None:
    """Linux: the child gets SIGTERM when the supervisor dies, however it dies."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


@click.command("embedded")
@with_appcontext
def embedded() -> None:
    """Run the whole platform on this machine: web server, Celery worker with beat, mail capture.

    This is what `make run` starts. Ctrl-C stops all of them.
    """
    config = current_app.config
    bin_dir = Path(sys.executable).parent
    port = str(config["PORT"])
    commands = {
        "web": [str(bin_dir / "gunicorn"), "wsgi:app", "--bind", f"127.0.0.1:{port}",
                "--workers", "2", "--threads", "4", "--access-logfile", "-"],
        "worker": [str(bin_dir / "celery"), "-A", "wsgi:celery_app", "worker", "--beat",
                   "--pool", "threads", "--concurrency", "4", "--loglevel", "INFO",
                   "--schedule", str(Path(config["INSTANCE_DIR"]) / "celerybeat-schedule")],
    }
    if config["MAIL_CAPTURE"]:
        commands["mail"] = [str(bin_dir / "flask"), "--app", "wsgi", "devmail"]
    env = os.environ.copy()
    if config["STRIPE_EMULATED"]:  # no STRIPE_SECRET_KEY: payments go to localstripe
        from campaigns.donations.emulator import embedded_command

        commands["stripe"], stripe_env = embedded_command(config, sys.executable)
        env.update(stripe_env)
    processes = {name: subprocess.Popen(argv, start_new_session=True, env=env,  # nosec B603
                                        preexec_fn=_die_with_parent)
                 for name, argv in commands.items()}
    if config["STRIPE_EMULATED"]:
        from campaigns.donations.emulator import register_webhook
        from campaigns.donations.stripe_api import webhook_secret

        try:
            register_webhook(env["STRIPE_API_BASE"], f"http://127.0.0.1:{port}/stripe/webhook",
                             webhook_secret())
            click.echo(f"  Payments go to a local Stripe emulator at {env['STRIPE_API_BASE']}; "
                       "test card 4242 4242 4242 4242")
        except OSError as exc:  # donations wait; everything else runs
            click.echo(f"  The Stripe emulator did not start ({exc}); donations are unavailable.",
                       err=True)
    click.echo(f"\n  Threadline is running at {config['BASE_URL']}/")
    if config["MAIL_CAPTURE"]:
        click.echo(f"  Mail is captured locally: read it at {config['BASE_URL']}/dev/mail/")
    logins = Path(config["INSTANCE_DIR"]) / "demo-logins.txt"
    if logins.exists():
        click.echo(f"  Campaign workspace: {config['BASE_URL']}/login  (demo accounts, from {logins}):")
        click.echo(logins.read_text().rstrip())
        click.echo("  The admin account asks you to set up an authenticator app first.")
    click.echo("  Press Ctrl-C to stop.\n")

    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    try:
        while not stopping.is_set():
            # donations never stop the rest: without the emulator only giving is unavailable
            exited = [name for name, p in processes.items()
                      if p.poll() is not None and name != "stripe"]
            if exited:
                click.echo(f"{', '.join(exited)} stopped; stopping the rest.", err=True)
                break
            stopping.wait(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        for process in processes.values():
            if process.poll() is None:
                process.terminate()
        deadline = time.monotonic() + 15
        for process in processes.values():
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()


@click.group("users")
def users() -> None:
    """Campaigner accounts."""


@users.command("create")
@click.option("--email", required=True)
@click.option("--name", default=None, help="Defaults to the part of the email before @.")
@click.option("--role", type=click.Choice(["viewer", "campaigner", "admin"]), default="campaigner",
              show_default=True)
@click.option("--organisation", default=None, help="Limit a campaigner to this organisation's campaigns.")
@with_appcontext
def users_create(email: str, name: str | None, role: str, organisation: str | None) -> None:
    """Create an account. The password is read from a prompt, or from stdin when piped."""
    from campaigns.accounts.models import Organisation, Role
    from campaigns.accounts.operations import WeakPassword, create_campaigner, find_campaigner

    if find_campaigner(email):
        raise click.ClickException(f"{email} already has an account.")
    if sys.stdin.isatty():
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    else:
        password = sys.stdin.readline().rstrip("\n")
    org = None
    if organisation:
        org = db.session.scalars(select(Organisation).filter_by(name=organisation)).first()
        if org is None:
            org = Organisation(name=organisation)
            db.session.add(org)
    try:
        campaigner = create_campaigner(email=email, name=name or email.split("@")[0],
                                       password=password, role=Role(role), organisation=org)
    except WeakPassword as exc:
        raise click.ClickException(f"The password is too weak: use {exc}.") from None
    db.session.commit()
    click.echo(f"Created {campaigner.role.value} {campaigner.email}.")
    if campaigner.role == Role.ADMIN:
        click.echo("Admins turn on two-factor sign-in at their first sign-in.")
