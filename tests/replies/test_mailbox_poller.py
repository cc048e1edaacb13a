"""The reply mailbox poller against a real IMAP server (Dovecot, started for the test).

CI installs it with `apt-get install dovecot-imapd` (see .ci/run).
"""
from __future__ import annotations

import imaplib
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from campaigns.core.db import db
from campaigns.replies.models import InboundMessage, InboundState, Reply
from campaigns.replies.tasks import poll_reply_mailbox
from tests.conftest import fresh
from tests.helpers import free_port
from tests.replies.conftest import address_of, build_message

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"
USER, PASSWORD = "replies", "mailbox-password"


@pytest.fixture(scope="module")
def imap_server():
    if not os.access(DOVECOT, os.X_OK):
        pytest.fail("Dovecot not found: install it with `apt-get install dovecot-imapd`.",
                    pytrace=False)
    root = Path(tempfile.mkdtemp(prefix="threadline-imap-"))
    root.chmod(0o755)
    port = free_port()
    if os.geteuid() == 0:
        internal, login = "dovecot", "dovenull"
    else:
        internal = login = pwd.getpwuid(os.geteuid()).pw_name
    account = pwd.getpwnam(internal)
    for name in ("run", "state", "mail", "home"):
        (root / name).mkdir()
    if os.geteuid() == 0:
        for name in ("mail", "home"):
            os.chown(root / name, account.pw_uid, account.pw_gid)
    (root / "users").write_text(f"{USER}:{{PLAIN}}{PASSWORD}\n")
    (root / "dovecot.conf").write_text(f"""
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
default_internal_user = {internal}
default_login_user = {login}
mail_location = maildir:{root}/mail/%u
first_valid_uid = 0
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/users
}}
userdb {{
  driver = static
  args = uid={account.pw_uid} gid={account.pw_gid} home={root}/home/%u
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service anvil {{
  chroot =
}}
""")
    subprocess.run([DOVECOT, "-c", str(root / "dovecot.conf")], check=True, timeout=30)
    deadline = time.monotonic() + 30
    while True:
        try:
            connection = imaplib.IMAP4("127.0.0.1", port, timeout=5)
            connection.login(USER, PASSWORD)
            connection.logout()
            break
        except (OSError, imaplib.IMAP4.error):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    yield port
    subprocess.run([DOVECOT, "-c", str(root / "dovecot.conf"), "stop"], timeout=30)
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def mailbox(app, imap_server):
    app.config.update(IMAP_HOST="127.0.0.1", IMAP_PORT=imap_server, IMAP_SSL=False,
                      IMAP_USER=USER, IMAP_PASSWORD=PASSWORD, IMAP_FOLDER="INBOX")
    connection = imaplib.IMAP4("127.0.0.1", imap_server, timeout=10)
    connection.login(USER, PASSWORD)
    connection.select("INBOX")
    yield connection
    if connection.select("INBOX")[1][0] != b"0":
        connection.store("1:*", "+FLAGS", "(\\Deleted)")
        connection.expunge()
    connection.logout()
    app.config.update(IMAP_HOST=None)


def test_the_poller_takes_in_unseen_mail_once(mailbox, thread):
    mailbox.append("INBOX", None, None, build_message(address_of(thread), "Answer by IMAP."))
    mailbox.append("INBOX", None, None, build_message("stranger@elsewhere.example", "Who?",
                                                      subject="Unrelated"))
    assert poll_reply_mailbox.run() == 2
    assert poll_reply_mailbox.run() == 0  # flagged \Seen: nothing twice
    fresh()
    [reply] = db.session.scalars(select(Reply)).all()
    assert reply.body_text.strip() == "Answer by IMAP."
    states = sorted(m.state for m in db.session.scalars(select(InboundMessage)))
    assert states == sorted([InboundState.ATTACHED, InboundState.QUEUED])
    assert all(m.source == "imap" for m in db.session.scalars(select(InboundMessage)))
    mailbox.select("INBOX")
    assert mailbox.search(None, "UNSEEN")[1][0] == b""


def test_a_message_seen_again_is_stored_once(mailbox, thread):
    raw = build_message(address_of(thread), "Delivered twice.")
    mailbox.append("INBOX", None, None, raw)
    mailbox.append("INBOX", None, None, raw)
    assert poll_reply_mailbox.run() == 2
    fresh()
    assert len(db.session.scalars(select(Reply)).all()) == 1


def test_no_host_no_polling(app):
    app.config.update(IMAP_HOST=None)
    assert poll_reply_mailbox.run() == 0


def test_a_mailbox_that_is_away_or_refuses_the_login_is_tried_again_later(app, imap_server):
    app.config.update(IMAP_HOST="127.0.0.1", IMAP_PORT=free_port(), IMAP_SSL=False,
                      IMAP_USER=USER, IMAP_PASSWORD=PASSWORD)
    try:
        assert poll_reply_mailbox.run() == 0  # nobody listens on that port
        app.config.update(IMAP_PORT=imap_server, IMAP_PASSWORD="wrong")
        assert poll_reply_mailbox.run() == 0
    finally:
        app.config.update(IMAP_HOST=None)


def test_a_mail_server_pipes_a_message_to_the_command(app, thread):
    from campaigns.replies.cli import replies_cli

    runner = app.test_cli_runner()
    result = runner.invoke(replies_cli, ["receive"], input=build_message(address_of(thread), "Piped."))
    assert result.exit_code == 0, result.output
    assert result.output.split()[1] == "attached"
    assert runner.invoke(replies_cli, ["receive"], input=b"").exit_code == 65
    fresh()
    assert db.session.scalars(select(Reply)).one().body_text.strip() == "Piped."
