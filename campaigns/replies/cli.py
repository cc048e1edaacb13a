"""`flask replies ...`: take in a message from a mail server's pipe, run the periodic jobs."""
from __future__ import annotations

import sys

import click
from flask.cli import AppGroup

from campaigns.core.db import db

replies_cli = AppGroup("replies", help="Replies from targets: inbound mail and deadlines.")


@replies_cli.command("receive")
@click.argument("source", type=click.File("rb"), default="-")
def receive(source) -> None:
    """Take in one raw message (a file, or standard input: `| flask replies receive`).

    For mail servers that deliver by piping to a command (Postfix, Exim, procmail).
    Exit status 0 once the message is stored, whether attached or queued for review.
    """
    from campaigns.replies.operations import receive_raw

    raw = source.read()
    if not raw.strip():
        click.echo("empty message", err=True)
        sys.exit(65)  # EX_DATAERR: the mail server bounces it
    message = receive_raw(raw, "pipe")
    db.session.commit()
    click.echo(f"{message.id} {message.state.value}{' ' + message.reason if message.reason else ''}")


@replies_cli.command("check-deadlines")
def check_deadlines() -> None:
    """Run the deadline job now: threads, reminders, overdue."""
    from campaigns.replies.operations import run_deadlines

    click.echo(run_deadlines())


@replies_cli.command("poll")
def poll() -> None:
    """Poll the IMAP reply mailbox now (IMAP_HOST ...)."""
    from campaigns.replies.tasks import poll_reply_mailbox

    click.echo(f"{poll_reply_mailbox.run()} message(s) taken in")
